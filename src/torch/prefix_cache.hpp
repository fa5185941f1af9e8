#pragma once
// Internal: a radix tree of cached keys and values keyed by token ids (the prefix cache).
// Each node holds a run of tokens and, per layer, their keys and values [kv_heads, len, head_dim].
// match() finds the longest cached prefix of a sequence; insert() adds a sequence's keys and
// values, splitting nodes where sequences diverge; evict() drops least-recently-used leaves
// until the cache holds at most `capacity` tokens.
#include <ATen/ATen.h>

#include <map>
#include <memory>
#include <span>
#include <vector>

namespace ttsearch::torch::detail {

class PrefixCache {
 public:
  explicit PrefixCache(std::int64_t capacity_tokens) : capacity_(capacity_tokens) {}

  struct Match {
    std::int64_t length = 0;                  ///< tokens matched
    std::vector<at::Tensor> k, v;             ///< per layer [kv_heads, length, head_dim] (undefined when length == 0)
  };

  /// The longest cached prefix of `ids` (at most `limit` tokens), its keys and values gathered.
  Match match(std::span<const std::int32_t> ids, std::int64_t limit);

  /// Caches `ids` with keys / values per layer, each [kv_heads, ids.size(), head_dim].
  void insert(std::span<const std::int32_t> ids, const std::vector<at::Tensor>& k, const std::vector<at::Tensor>& v);

  [[nodiscard]] std::int64_t tokens() const noexcept { return tokens_; }
  [[nodiscard]] std::int64_t capacity() const noexcept { return capacity_; }

 private:
  struct Node {
    std::vector<std::int32_t> tokens;
    std::vector<at::Tensor> k, v;
    std::map<std::int32_t, std::unique_ptr<Node>> children;
    Node* parent = nullptr;
    std::uint64_t last_use = 0;
  };
  void split(Node* n, std::size_t at);
  void evict();
  Node root_;
  std::int64_t capacity_;
  std::int64_t tokens_ = 0;
  std::uint64_t clock_ = 0;
};

}  // namespace ttsearch::torch::detail
