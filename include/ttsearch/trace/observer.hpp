#pragma once
/// Search observers: hooks the driver calls as a search runs (DESIGN.md section 4).
///
/// The driver is a template over the observer type: with NullObserver (the default) every hook is
/// an empty inline function and compiles away. `Observer` is a virtual base for observers chosen
/// at run time (the JSONL audit writer, progress bars, a fan-out list).
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ttsearch/budget/budget.hpp"
#include "ttsearch/core/result.hpp"
#include "ttsearch/core/tree.hpp"
#include "ttsearch/core/types.hpp"

namespace ttsearch {

/// Everything needed to reproduce a search's setup.
struct SearchInfo {
  std::size_t search = 0;  ///< index of the search within its driver run
  std::string strategy;
  Json options;
  std::uint64_t seed = 0;
  const Problem* problem = nullptr;
  Budget budget;
  Json verifier = nullptr;  ///< the verifier's description when it gives one (DescribedVerifier), for replay
};

/// One batched backend call.
struct CallRecord {
  enum class Kind : std::uint8_t { kGenerate, kVerify };
  Kind kind = Kind::kGenerate;
  std::vector<std::size_t> searches;  ///< the searches whose requests were merged into this call
  std::int64_t requests = 0;
  std::int64_t samples = 0;           ///< continuations asked for (generate) / paths (verify)
  std::int64_t tokens = 0;            ///< generated (generate) or processed (verify) tokens
  std::int64_t max_tokens_cap = 0;    ///< the lowest per-request max_tokens after budget capping
  double seconds = 0.0;
};

constexpr std::string_view to_string(CallRecord::Kind k) noexcept {
  return k == CallRecord::Kind::kGenerate ? "generate" : "verify";
}

constexpr std::string_view flag_name(NodeFlag f) noexcept {
  switch (f) {
    case kFlagScored: return "scored";
    case kFlagPruned: return "pruned";
    case kFlagKept: return "kept";
    case kFlagTerminal: return "terminal";
    case kFlagChosen: return "chosen";
  }
  return "?";
}

template <class O>
concept SearchObserver = requires(O& o, const SearchInfo& info, const SearchTree& tree,
                                  std::span<const NodeId> ids, const CallRecord& call,
                                  const SearchResult& result, std::size_t s, std::string_view msg) {
  o.on_search_begin(info);
  o.on_nodes_added(s, tree, ids);
  o.on_nodes_scored(s, tree, ids);
  o.on_node_marked(s, tree, NodeId{}, kFlagPruned, msg);
  o.on_nodes_updated(s, tree, ids);
  o.on_call(call);
  o.on_budget_stop(s, StopReason::kCalls);
  o.on_search_end(s, result);
  o.on_error(s, msg);
};

/// The default: does nothing, costs nothing.
struct NullObserver {
  void on_search_begin(const SearchInfo&) noexcept {}
  void on_nodes_added(std::size_t, const SearchTree&, std::span<const NodeId>) noexcept {}
  void on_nodes_scored(std::size_t, const SearchTree&, std::span<const NodeId>) noexcept {}
  void on_node_marked(std::size_t, const SearchTree&, NodeId, NodeFlag, std::string_view) noexcept {}
  void on_nodes_updated(std::size_t, const SearchTree&, std::span<const NodeId>) noexcept {}
  void on_call(const CallRecord&) noexcept {}
  void on_budget_stop(std::size_t, StopReason) noexcept {}
  void on_search_end(std::size_t, const SearchResult&) noexcept {}
  void on_error(std::size_t, std::string_view) noexcept {}
};

/// Virtual base for run-time observers; override what you need.
class Observer {
 public:
  virtual ~Observer() = default;
  virtual void on_search_begin(const SearchInfo&) {}
  virtual void on_nodes_added(std::size_t, const SearchTree&, std::span<const NodeId>) {}
  virtual void on_nodes_scored(std::size_t, const SearchTree&, std::span<const NodeId>) {}
  virtual void on_node_marked(std::size_t, const SearchTree&, NodeId, NodeFlag, std::string_view) {}
  /// Visit counts / value sums of these nodes changed (tree search statistics).
  virtual void on_nodes_updated(std::size_t, const SearchTree&, std::span<const NodeId>) {}
  virtual void on_call(const CallRecord&) {}
  virtual void on_budget_stop(std::size_t, StopReason) {}
  virtual void on_search_end(std::size_t, const SearchResult&) {}
  virtual void on_error(std::size_t, std::string_view) {}
};

/// Forwards every event to several observers (not owned), in order.
class ObserverList final : public Observer {
 public:
  ObserverList() = default;
  explicit ObserverList(std::vector<Observer*> list) : list_(std::move(list)) {}
  void add(Observer& o) { list_.push_back(&o); }
  void on_search_begin(const SearchInfo& i) override { for (auto* o : list_) o->on_search_begin(i); }
  void on_nodes_added(std::size_t s, const SearchTree& t, std::span<const NodeId> ids) override {
    for (auto* o : list_) o->on_nodes_added(s, t, ids);
  }
  void on_nodes_scored(std::size_t s, const SearchTree& t, std::span<const NodeId> ids) override {
    for (auto* o : list_) o->on_nodes_scored(s, t, ids);
  }
  void on_node_marked(std::size_t s, const SearchTree& t, NodeId id, NodeFlag f, std::string_view r) override {
    for (auto* o : list_) o->on_node_marked(s, t, id, f, r);
  }
  void on_nodes_updated(std::size_t s, const SearchTree& t, std::span<const NodeId> ids) override {
    for (auto* o : list_) o->on_nodes_updated(s, t, ids);
  }
  void on_call(const CallRecord& c) override { for (auto* o : list_) o->on_call(c); }
  void on_budget_stop(std::size_t s, StopReason r) override { for (auto* o : list_) o->on_budget_stop(s, r); }
  void on_search_end(std::size_t s, const SearchResult& r) override { for (auto* o : list_) o->on_search_end(s, r); }
  void on_error(std::size_t s, std::string_view m) override { for (auto* o : list_) o->on_error(s, m); }

 private:
  std::vector<Observer*> list_;
};

static_assert(SearchObserver<NullObserver>);
static_assert(SearchObserver<Observer>);

}  // namespace ttsearch
