// libFuzzer: the math parser (answer/math.hpp), its identity test and the structural rules on
// arbitrary text (the input is "a\0b"). Properties: no crash, no hang (the limits bound parse
// and evaluation), an expression is never found different from itself, the deciding rule is
// symmetric, and describe() works on anything.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <ttsearch/answer/equivalence.hpp>
#include <ttsearch/answer/math.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace ttsearch::answer;
  const std::string_view all(reinterpret_cast<const char*>(data), size);
  const auto cut = all.find('\0');
  const std::string_view a = all.substr(0, cut);
  const std::string_view b = cut == std::string_view::npos ? std::string_view{} : all.substr(cut + 1);
  if (const auto e = math::parse(a)) {
    (void)math::to_string(*e);
    if (math::same_value(*e, *e, 1e-9) == false) __builtin_trap();  // NaN points are skipped, never "different"
    // a wrong number of values is refused, not read out of bounds
    (void)math::evaluate(*e, std::vector<std::complex<double>>(e->symbols.size() + 1));
  }
  const std::string na = normalize_answer(a), nb = normalize_answer(b);
  (void)describe(na);
  const auto ab = decide_equivalence(na, nb), ba = decide_equivalence(nb, na);
  if (ab.equal != ba.equal) __builtin_trap();
  return 0;
}
