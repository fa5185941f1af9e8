#pragma once
/// AnyGenerator / AnyVerifier: type erasure (concept/model idiom) to pick a backend at run time.
/// One virtual call per batch; construct from a value (owned, moved in) or from
/// std::ref(backend) (borrowed: the backend must outlive the wrapper).
#include <functional>
#include <memory>
#include <type_traits>
#include <utility>

#include "ttsearch/core/concepts.hpp"

namespace ttsearch {

namespace detail {
template <class T>
struct Unwrap {
  using type = T;
  static T& get(T& t) { return t; }
};
template <class T>
struct Unwrap<std::reference_wrapper<T>> {
  using type = T;
  static T& get(std::reference_wrapper<T>& t) { return t.get(); }
};
}  // namespace detail

class AnyGenerator {
 public:
  template <class G>
    requires(!std::same_as<std::decay_t<G>, AnyGenerator> &&
             Generator<typename detail::Unwrap<std::decay_t<G>>::type>)
  AnyGenerator(G&& g)  // NOLINT(google-explicit-constructor): implicit on purpose, like std::function
      : self_(std::make_unique<Model<std::decay_t<G>>>(std::forward<G>(g))) {}

  Generation generate(std::span<const GenerateRequest> requests) { return self_->generate(requests); }

 private:
  struct Concept {
    virtual ~Concept() = default;
    virtual Generation generate(std::span<const GenerateRequest>) = 0;
  };
  template <class T>
  struct Model final : Concept {
    explicit Model(T t) : value(std::move(t)) {}
    Generation generate(std::span<const GenerateRequest> r) override {
      return detail::Unwrap<T>::get(value).generate(r);
    }
    T value;
  };
  std::unique_ptr<Concept> self_;
};

class AnyVerifier {
 public:
  template <class V>
    requires(!std::same_as<std::decay_t<V>, AnyVerifier> &&
             Verifier<typename detail::Unwrap<std::decay_t<V>>::type>)
  AnyVerifier(V&& v)  // NOLINT(google-explicit-constructor)
      : self_(std::make_unique<Model<std::decay_t<V>>>(std::forward<V>(v))) {}

  Scoring score(std::span<const ScoreRequest> requests) { return self_->score(requests); }
  /// The wrapped verifier's stated cost (VerifierWithCost), else the paths' generated tokens
  /// (the driver's estimate for a verifier that states none).
  std::int64_t estimate_tokens(std::span<const ScoreRequest> requests) { return self_->estimate_tokens(requests); }
  /// Whether the wrapped verifier states its cost (then the driver holds it to it).
  [[nodiscard]] bool states_cost() const noexcept { return self_->states_cost(); }
  /// The wrapped verifier's description (DescribedVerifier), else null.
  [[nodiscard]] Json describe() const { return self_->describe(); }

 private:
  struct Concept {
    virtual ~Concept() = default;
    virtual Scoring score(std::span<const ScoreRequest>) = 0;
    virtual std::int64_t estimate_tokens(std::span<const ScoreRequest>) = 0;
    virtual bool states_cost() const noexcept = 0;
    virtual Json describe() const = 0;
  };
  template <class T>
  struct Model final : Concept {
    explicit Model(T t) : value(std::move(t)) {}
    Scoring score(std::span<const ScoreRequest> r) override { return detail::Unwrap<T>::get(value).score(r); }
    std::int64_t estimate_tokens(std::span<const ScoreRequest> r) override {
      if constexpr (VerifierWithCost<typename detail::Unwrap<T>::type>) {
        return detail::Unwrap<T>::get(value).estimate_tokens(r);
      } else {
        std::int64_t total = 0;
        for (const auto& q : r) total += q.path.num_tokens();
        return total;
      }
    }
    bool states_cost() const noexcept override { return VerifierWithCost<typename detail::Unwrap<T>::type>; }
    Json describe() const override {
      if constexpr (DescribedVerifier<typename detail::Unwrap<T>::type>) {
        return detail::Unwrap<T>::get(const_cast<T&>(value)).describe();
      } else {
        return nullptr;
      }
    }
    T value;
  };
  std::unique_ptr<Concept> self_;
};

static_assert(Generator<AnyGenerator>);
static_assert(VerifierWithCost<AnyVerifier>);

}  // namespace ttsearch
