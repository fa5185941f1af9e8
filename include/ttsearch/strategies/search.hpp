#pragma once
/// Resumable searches (DESIGN.md section 3, "one search, many searches").
///
/// A strategy is a C++20 coroutine returning SearchTask. It never calls a backend: it
/// `co_await`s `ctx.generate(...)` ("extend these nodes") and `ctx.score(...)` ("score these
/// paths"). A driver (driver.hpp) runs one search or thousands, merges every pending request of
/// a round into ONE Generator call and ONE Verifier call, enforces each search's Budget, charges
/// its ledger, emits observer events, and resumes each search with its results. Strategies
/// therefore read like their paper's pseudo-code, and budgets, traces and cross-problem batching
/// live in one place.
///
/// When a budget limit would be passed, the awaited result comes back with `stopped` set and
/// nothing generated or scored; every later await returns stopped at once. The strategy then
/// returns the best it has.
#include <coroutine>
#include <exception>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ttsearch/core/aggregate.hpp"
#include "ttsearch/core/ledger.hpp"
#include "ttsearch/core/result.hpp"
#include "ttsearch/core/rng.hpp"
#include "ttsearch/core/tree.hpp"
#include "ttsearch/core/types.hpp"

namespace ttsearch {

/// "Extend node `parent` by one step, `num_samples` times, with `params`."
struct GenerateOp {
  NodeId parent = SearchTree::root();
  std::int32_t num_samples = 1;
  SamplingParams params;
};

/// The result of awaiting ctx.generate(ops): children[i] are the new nodes of ops[i].
struct Expansion {
  std::vector<std::vector<NodeId>> children;
  std::optional<StopReason> stopped;  ///< set when the budget refused the call
  [[nodiscard]] bool ok() const noexcept { return !stopped; }
};

/// The result of awaiting ctx.score(leaves): scores are written to each leaf's Node::scores.
struct ScoreOutcome {
  std::optional<StopReason> stopped;
  [[nodiscard]] bool ok() const noexcept { return !stopped; }
};

class SearchContext;

/// The coroutine type of a strategy. Move-only; owns the coroutine frame.
class SearchTask {
 public:
  struct promise_type {
    std::optional<SearchResult> result;
    std::exception_ptr error;
    SearchTask get_return_object() { return SearchTask(std::coroutine_handle<promise_type>::from_promise(*this)); }
    std::suspend_always initial_suspend() noexcept { return {}; }
    std::suspend_always final_suspend() noexcept { return {}; }
    void return_value(SearchResult r) { result = std::move(r); }
    void unhandled_exception() noexcept { error = std::current_exception(); }
  };

  SearchTask() = default;
  SearchTask(SearchTask&& o) noexcept : h_(std::exchange(o.h_, {})) {}
  SearchTask& operator=(SearchTask&& o) noexcept {
    if (this != &o) {
      destroy();
      h_ = std::exchange(o.h_, {});
    }
    return *this;
  }
  SearchTask(const SearchTask&) = delete;
  SearchTask& operator=(const SearchTask&) = delete;
  ~SearchTask() { destroy(); }

  [[nodiscard]] bool valid() const noexcept { return static_cast<bool>(h_); }
  [[nodiscard]] bool done() const noexcept { return !h_ || h_.done(); }
  void resume() {
    if (h_ && !h_.done()) h_.resume();
  }
  /// The exception the strategy threw, if any (after done()).
  [[nodiscard]] std::exception_ptr error() const noexcept { return h_ ? h_.promise().error : nullptr; }
  /// The strategy's result (after done()); rethrows what the strategy threw.
  SearchResult take_result() {
    if (!h_ || !h_.done()) throw InternalError("SearchTask::take_result on an unfinished search");
    auto& p = h_.promise();
    if (p.error) std::rethrow_exception(p.error);
    if (!p.result) throw InternalError("strategy finished without co_return");
    return std::move(*p.result);
  }

 private:
  explicit SearchTask(std::coroutine_handle<promise_type> h) : h_(h) {}
  void destroy() noexcept {
    if (h_) h_.destroy();
    h_ = {};
  }
  std::coroutine_handle<promise_type> h_;
};

/// A search's state: its problem, tree, seed and the request it is waiting on. Owned by the
/// driver; a strategy receives it by reference.
class SearchContext {
 public:
  enum class Pending : std::uint8_t { kNone, kGenerate, kScore };

  SearchContext(const Problem& problem, std::uint64_t seed) : problem_(&problem), rng_(seed), seed_(seed) {}
  SearchContext(const SearchContext&) = delete;
  SearchContext& operator=(const SearchContext&) = delete;

  [[nodiscard]] const Problem& problem() const noexcept { return *problem_; }
  [[nodiscard]] SearchTree& tree() noexcept { return tree_; }
  [[nodiscard]] const SearchTree& tree() const noexcept { return tree_; }
  [[nodiscard]] std::uint64_t seed() const noexcept { return seed_; }
  /// The strategy's own randomness (e.g. tie-breaking by sampling); independent of backends.
  [[nodiscard]] Rng& rng() noexcept { return rng_; }
  /// Set once a budget limit has been reached.
  [[nodiscard]] std::optional<StopReason> stopped() const noexcept { return stopped_; }

  struct GenerateAwaiter {
    SearchContext* ctx;
    [[nodiscard]] bool await_ready() const noexcept { return ctx->stopped_.has_value() || ctx->pending_ == Pending::kNone; }
    void await_suspend(std::coroutine_handle<>) const noexcept {}
    Expansion await_resume() const {
      ctx->pending_ = Pending::kNone;
      if (ctx->stopped_ && ctx->expansion_.children.empty()) return Expansion{{}, ctx->stopped_};
      return std::exchange(ctx->expansion_, {});
    }
  };
  struct ScoreAwaiter {
    SearchContext* ctx;
    [[nodiscard]] bool await_ready() const noexcept { return ctx->stopped_.has_value() || ctx->pending_ == Pending::kNone; }
    void await_suspend(std::coroutine_handle<>) const noexcept {}
    ScoreOutcome await_resume() const {
      ctx->pending_ = Pending::kNone;
      return ScoreOutcome{ctx->stopped_};
    }
  };

  /// Awaitable: extend nodes. Each op's params are validated here (InvalidArgument names the op).
  [[nodiscard]] GenerateAwaiter generate(std::vector<GenerateOp> ops) {
    for (const auto& op : ops) {
      op.params.validate();
      TTSEARCH_REQUIRE(op.num_samples > 0, "generate: num_samples must be > 0 (got {})", op.num_samples);
      (void)tree_.node(op.parent);  // throws on a bad id
    }
    gen_ops_ = std::move(ops);
    expansion_ = {};
    pending_ = gen_ops_.empty() ? Pending::kNone : Pending::kGenerate;
    return GenerateAwaiter{this};
  }

  /// Awaitable: score the paths ending at `leaves`.
  [[nodiscard]] ScoreAwaiter score(std::vector<NodeId> leaves) {
    for (NodeId id : leaves) (void)tree_.node(id);
    score_ops_ = std::move(leaves);
    pending_ = score_ops_.empty() ? Pending::kNone : Pending::kScore;
    return ScoreAwaiter{this};
  }

  /// Records a flag with a reason (pruned, kept, terminal, ...); the driver emits it as an event.
  void mark(NodeId id, NodeFlag flag, std::string reason = {}) {
    Node& n = tree_.node(id);
    n.flags |= flag;
    if (!reason.empty()) n.reason = std::move(reason);
    marks_.push_back({id, flag});
  }

  /// Records that a node's visits / value_sum changed; the driver emits it as an event.
  void touch(NodeId id) { touched_.push_back(id); }

  /// Mean backup along the path to `leaf`: every node from `leaf` to the root gets one more
  /// visit and `value` added to its value sum (MCTS).
  void backup(NodeId leaf, double value) {
    TTSEARCH_REQUIRE(tree_.node(SearchTree::root()).visits < visit_limit_,
                     "backup: the root would pass {} visits (the most the replayed trace records)", visit_limit_);
    for (NodeId id = leaf; id != kNoNode; id = tree_.node(id).parent) {
      Node& n = tree_.node(id);
      n.visits += 1;
      n.value_sum += value;
      touched_.push_back(id);
    }
  }

  /// Replay only: backups past `n` root visits throw, so a forged trace cannot make a
  /// re-executed MCTS run simulations it never recorded.
  void set_visit_limit(std::int32_t n) noexcept { visit_limit_ = n; }

  // ---- driver side -------------------------------------------------------------------------
  struct Mark {
    NodeId id;
    NodeFlag flag;  ///< the reason is the node's `reason`
  };
  [[nodiscard]] Pending pending() const noexcept { return pending_; }
  [[nodiscard]] const std::vector<GenerateOp>& generate_ops() const noexcept { return gen_ops_; }
  [[nodiscard]] const std::vector<NodeId>& score_ops() const noexcept { return score_ops_; }
  void set_expansion(Expansion e) { expansion_ = std::move(e); }
  void set_stopped(StopReason r) {
    if (!stopped_) stopped_ = r;
  }
  /// A call went through but the budget shaped it (a step was cut at the lowered max_tokens).
  void note_limit(StopReason r) {
    if (!limited_) limited_ = r;
  }
  /// The stop reason of the finished search: a refused call, else a budget-shaped call, else completed.
  [[nodiscard]] StopReason final_stop_reason() const noexcept {
    return stopped_.value_or(limited_.value_or(StopReason::kCompleted));
  }
  std::vector<Mark> take_marks() { return std::exchange(marks_, {}); }
  std::vector<NodeId> take_touched() { return std::exchange(touched_, {}); }
  /// Per-search counter of generate calls made, for deterministic request seeds.
  std::uint64_t next_generate_index() noexcept { return generate_calls_++; }
  SearchTree take_tree() { return std::exchange(tree_, SearchTree{}); }

 private:
  const Problem* problem_;
  SearchTree tree_;
  Rng rng_;
  std::uint64_t seed_;
  std::optional<StopReason> stopped_;
  std::optional<StopReason> limited_;
  Pending pending_ = Pending::kNone;
  std::vector<GenerateOp> gen_ops_;
  std::vector<NodeId> score_ops_;
  Expansion expansion_;
  std::vector<Mark> marks_;
  std::vector<NodeId> touched_;
  std::uint64_t generate_calls_ = 0;
  std::int32_t visit_limit_ = std::numeric_limits<std::int32_t>::max();
};

}  // namespace ttsearch
