#include "prefix_cache.hpp"

namespace ttsearch::torch::detail {

PrefixCache::Match PrefixCache::match(std::span<const std::int32_t> ids, std::int64_t limit) {
  Match m;
  const auto n = std::min<std::int64_t>(limit, static_cast<std::int64_t>(ids.size()));
  std::vector<std::pair<Node*, std::int64_t>> parts;  // node, tokens used from it
  Node* cur = &root_;
  std::int64_t pos = 0;
  ++clock_;
  while (pos < n) {
    const auto it = cur->children.find(ids[static_cast<std::size_t>(pos)]);
    if (it == cur->children.end()) break;
    Node* child = it->second.get();
    std::int64_t used = 0;
    while (used < static_cast<std::int64_t>(child->tokens.size()) && pos + used < n &&
           child->tokens[static_cast<std::size_t>(used)] == ids[static_cast<std::size_t>(pos + used)]) {
      ++used;
    }
    child->last_use = clock_;
    parts.emplace_back(child, used);
    pos += used;
    if (used < static_cast<std::int64_t>(child->tokens.size())) break;
    cur = child;
  }
  m.length = pos;
  if (pos == 0) return m;
  const std::size_t layers = parts.front().first->k.size();
  m.k.resize(layers);
  m.v.resize(layers);
  for (std::size_t l = 0; l < layers; ++l) {
    std::vector<at::Tensor> ks, vs;
    for (const auto& [node, used] : parts) {
      ks.push_back(node->k[l].narrow(1, 0, used));
      vs.push_back(node->v[l].narrow(1, 0, used));
    }
    m.k[l] = at::cat(ks, 1);
    m.v[l] = at::cat(vs, 1);
  }
  for (Node* p = parts.back().first; p; p = p->parent) p->last_use = clock_;
  return m;
}

void PrefixCache::split(Node* n, std::size_t at) {
  auto tail = std::make_unique<Node>();
  tail->tokens.assign(n->tokens.begin() + static_cast<std::ptrdiff_t>(at), n->tokens.end());
  const auto len = static_cast<std::int64_t>(n->tokens.size() - at);
  for (std::size_t l = 0; l < n->k.size(); ++l) {
    tail->k.push_back(n->k[l].narrow(1, static_cast<std::int64_t>(at), len).clone());
    tail->v.push_back(n->v[l].narrow(1, static_cast<std::int64_t>(at), len).clone());
    n->k[l] = n->k[l].narrow(1, 0, static_cast<std::int64_t>(at)).clone();
    n->v[l] = n->v[l].narrow(1, 0, static_cast<std::int64_t>(at)).clone();
  }
  tail->children = std::move(n->children);
  for (auto& [_, c] : tail->children) c->parent = tail.get();
  tail->parent = n;
  tail->last_use = n->last_use;
  n->tokens.resize(at);
  n->children.clear();
  const std::int32_t first = tail->tokens.front();
  n->children.emplace(first, std::move(tail));
}

void PrefixCache::insert(std::span<const std::int32_t> ids, const std::vector<at::Tensor>& k, const std::vector<at::Tensor>& v) {
  if (capacity_ <= 0 || ids.empty()) return;
  ++clock_;
  Node* cur = &root_;
  std::size_t pos = 0;
  while (pos < ids.size()) {
    const auto it = cur->children.find(ids[pos]);
    if (it == cur->children.end()) {
      auto node = std::make_unique<Node>();
      node->tokens.assign(ids.begin() + static_cast<std::ptrdiff_t>(pos), ids.end());
      const auto len = static_cast<std::int64_t>(ids.size() - pos);
      for (std::size_t l = 0; l < k.size(); ++l) {
        node->k.push_back(k[l].narrow(1, static_cast<std::int64_t>(pos), len).clone());
        node->v.push_back(v[l].narrow(1, static_cast<std::int64_t>(pos), len).clone());
      }
      node->parent = cur;
      node->last_use = clock_;
      tokens_ += len;
      cur->children.emplace(ids[pos], std::move(node));
      break;
    }
    Node* child = it->second.get();
    std::size_t used = 0;
    while (used < child->tokens.size() && pos + used < ids.size() && child->tokens[used] == ids[pos + used]) ++used;
    if (used < child->tokens.size()) split(child, used);
    child->last_use = clock_;
    pos += used;
    cur = child;
  }
  evict();
}

void PrefixCache::evict() {
  while (tokens_ > capacity_) {
    // the least recently used leaf
    Node* victim = nullptr;
    std::vector<Node*> stack{&root_};
    while (!stack.empty()) {
      Node* n = stack.back();
      stack.pop_back();
      if (n != &root_ && n->children.empty() && (!victim || n->last_use < victim->last_use)) victim = n;
      for (auto& [_, c] : n->children) stack.push_back(c.get());
    }
    if (!victim) return;
    tokens_ -= static_cast<std::int64_t>(victim->tokens.size());
    victim->parent->children.erase(victim->tokens.front());
  }
}

}  // namespace ttsearch::torch::detail
