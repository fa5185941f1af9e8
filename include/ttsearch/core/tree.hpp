#pragma once
/// SearchTree: an arena of nodes, each holding one generated Step.
///
/// Node 0 is the root (the problem prompt, with an empty step). A path is identified by its leaf;
/// PathView iterates the steps root-to-leaf by reference (no step is copied). Children are kept as
/// intrusive first-child / next-sibling links so a node costs no per-node allocation besides its
/// step text and scores.
#include <cstdint>
#include <array>
#include <iterator>
#include <span>
#include <string>
#include <vector>

#include "ttsearch/core/error.hpp"
#include "ttsearch/core/types.hpp"

namespace ttsearch {

using NodeId = std::int32_t;
inline constexpr NodeId kNoNode = -1;

/// Bit flags on a node.
enum NodeFlag : std::uint32_t {
  kFlagScored = 1u << 0,    ///< the verifier scored the path ending here
  kFlagPruned = 1u << 1,    ///< the strategy dropped this node (see Node::reason)
  kFlagKept = 1u << 2,      ///< the strategy kept this node for the next round
  kFlagTerminal = 1u << 3,  ///< the path ending here is a complete solution
  kFlagChosen = 1u << 4,    ///< on the path of the final answer
};

struct Node {
  NodeId id = kNoNode;
  NodeId parent = kNoNode;
  std::int32_t depth = 0;  ///< root = 0
  Step step;
  /// The verifier's scores for the whole path ending at this node (one per step the verifier
  /// sees, or one for an outcome model). Empty until scored.
  std::vector<double> scores;
  std::uint32_t flags = 0;
  std::int32_t visits = 0;   ///< tree-search statistics (MCTS)
  double value_sum = 0.0;
  std::string reason;        ///< why the node was pruned or kept, when the strategy said
  NodeId first_child = kNoNode;
  NodeId last_child = kNoNode;
  NodeId next_sibling = kNoNode;

  [[nodiscard]] bool has(NodeFlag f) const noexcept { return (flags & f) != 0; }
};

class SearchTree;

/// A root-to-leaf path through a SearchTree, by reference. Valid while the tree lives and is not
/// moved. Iterates the steps (excluding the root's empty step) from the root down.
class PathView {
 public:
  PathView() = default;
  PathView(const SearchTree* tree, NodeId leaf);

  class iterator {
   public:
    using iterator_category = std::random_access_iterator_tag;
    using value_type = Step;
    using difference_type = std::ptrdiff_t;
    using pointer = const Step*;
    using reference = const Step&;
    iterator() = default;
    iterator(const PathView* view, std::size_t i) : view_(view), i_(i) {}
    reference operator*() const;
    pointer operator->() const { return &**this; }
    iterator& operator++() { ++i_; return *this; }
    iterator operator++(int) { auto t = *this; ++i_; return t; }
    iterator& operator--() { --i_; return *this; }
    difference_type operator-(const iterator& o) const {
      return static_cast<difference_type>(i_) - static_cast<difference_type>(o.i_);
    }
    bool operator==(const iterator& o) const { return i_ == o.i_; }
   private:
    const PathView* view_ = nullptr;
    std::size_t i_ = 0;
  };

  [[nodiscard]] iterator begin() const { return {this, 0}; }
  [[nodiscard]] iterator end() const { return {this, size_}; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
  [[nodiscard]] const Step& operator[](std::size_t i) const;
  [[nodiscard]] const Step& back() const { return (*this)[size_ - 1]; }
  /// Node ids root-child first, leaf last (the root itself is not included).
  [[nodiscard]] std::span<const NodeId> node_ids() const noexcept { return {ids(), size_}; }
  [[nodiscard]] NodeId leaf() const noexcept { return leaf_; }
  [[nodiscard]] const SearchTree* tree() const noexcept { return tree_; }
  /// The concatenated text of every step.
  [[nodiscard]] std::string text() const;
  /// Total tokens of every step.
  [[nodiscard]] std::int64_t num_tokens() const;
  /// True when the last step ended the solution (EOS or length).
  [[nodiscard]] bool is_complete() const { return !empty() && back().is_final(); }

 private:
  /// Paths up to kInline steps keep their ids inline (no allocation); deeper ones on the heap.
  static constexpr std::size_t kInline = 24;
  [[nodiscard]] const NodeId* ids() const noexcept { return size_ <= kInline ? inline_.data() : heap_.data(); }
  const SearchTree* tree_ = nullptr;
  NodeId leaf_ = kNoNode;
  std::size_t size_ = 0;
  std::array<NodeId, kInline> inline_{};
  std::vector<NodeId> heap_;
};

class SearchTree {
 public:
  SearchTree() { clear(); }

  /// Drops every node but a fresh root.
  void clear() {
    nodes_.clear();
    nodes_.emplace_back();
    nodes_[0].id = 0;
  }

  [[nodiscard]] static constexpr NodeId root() noexcept { return 0; }
  [[nodiscard]] std::size_t size() const noexcept { return nodes_.size(); }
  void reserve(std::size_t n) { nodes_.reserve(n); }

  /// Appends a child of `parent` holding `step`; returns its id.
  NodeId add_child(NodeId parent, Step step) {
    check(parent);
    const auto id = static_cast<NodeId>(nodes_.size());
    Node& n = nodes_.emplace_back();
    n.id = id;
    n.parent = parent;
    n.step = std::move(step);
    Node& p = nodes_[static_cast<std::size_t>(parent)];
    n.depth = p.depth + 1;
    if (p.last_child == kNoNode) {
      p.first_child = id;
    } else {
      nodes_[static_cast<std::size_t>(p.last_child)].next_sibling = id;
    }
    p.last_child = id;
    return id;
  }

  [[nodiscard]] const Node& node(NodeId id) const { check(id); return nodes_[static_cast<std::size_t>(id)]; }
  [[nodiscard]] Node& node(NodeId id) { check(id); return nodes_[static_cast<std::size_t>(id)]; }
  [[nodiscard]] const Node& operator[](NodeId id) const { return node(id); }
  [[nodiscard]] Node& operator[](NodeId id) { return node(id); }

  /// The path from the root to `leaf`.
  [[nodiscard]] PathView path(NodeId leaf) const { return PathView(this, leaf); }

  /// Generated tokens on the path from the root to `leaf` (walks the parents; no allocation).
  [[nodiscard]] std::int64_t path_tokens(NodeId leaf) const {
    std::int64_t n = 0;
    for (NodeId id = leaf; id > 0; id = node(id).parent) n += node(id).step.num_tokens;
    return n;
  }

  /// The children of `id`, in insertion order.
  [[nodiscard]] std::vector<NodeId> children(NodeId id) const {
    std::vector<NodeId> out;
    for (NodeId c = node(id).first_child; c != kNoNode; c = nodes_[static_cast<std::size_t>(c)].next_sibling) {
      out.push_back(c);
    }
    return out;
  }

  [[nodiscard]] bool contains(NodeId id) const noexcept {
    return id >= 0 && static_cast<std::size_t>(id) < nodes_.size();
  }

  [[nodiscard]] const std::vector<Node>& nodes() const noexcept { return nodes_; }

 private:
  void check(NodeId id) const {
    if (!contains(id)) {
      throw InvalidArgument(fmt::format("node id {} is not in the search tree (size {})", id, nodes_.size()));
    }
  }
  std::vector<Node> nodes_;
};

inline PathView::PathView(const SearchTree* tree, NodeId leaf) : tree_(tree), leaf_(leaf) {
  TTSEARCH_CHECK(tree != nullptr, "PathView needs a tree");
  const Node& n = tree->node(leaf);
  size_ = static_cast<std::size_t>(n.depth);
  if (size_ > kInline) heap_.resize(size_);
  NodeId* out = size_ <= kInline ? inline_.data() : heap_.data();
  NodeId cur = leaf;
  for (std::size_t i = size_; i-- > 0;) {
    out[i] = cur;
    cur = tree->node(cur).parent;
  }
}

inline const Step& PathView::operator[](std::size_t i) const {
  return tree_->node(ids()[i]).step;
}
inline PathView::iterator::reference PathView::iterator::operator*() const { return (*view_)[i_]; }

inline std::string PathView::text() const {
  std::size_t n = 0;
  for (const Step& s : *this) n += s.text.size();
  std::string out;
  out.reserve(n);
  for (const Step& s : *this) out += s.text;
  return out;
}

inline std::int64_t PathView::num_tokens() const {
  std::int64_t n = 0;
  for (const Step& s : *this) n += s.num_tokens;
  return n;
}

}  // namespace ttsearch
