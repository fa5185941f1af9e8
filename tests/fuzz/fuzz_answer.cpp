// libFuzzer: answer extraction, normalisation, equivalence and grading on arbitrary text (the
// input is "response\0reference"). Properties: no crash, no exception, equivalence is symmetric,
// and a normalised answer is equivalent to itself.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <ttsearch/answer/equivalence.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace ttsearch::answer;
  const std::string_view all(reinterpret_cast<const char*>(data), size);
  const auto cut = all.find('\0');
  const std::string_view response = all.substr(0, cut);
  const std::string_view reference = cut == std::string_view::npos ? std::string_view{} : all.substr(cut + 1);
  const auto e = extract_answer(response);
  const std::string a = normalize_answer(e.answer), b = normalize_answer(reference);
  if (answers_equivalent(e.answer, reference) != answers_equivalent(reference, e.answer)) __builtin_trap();
  (void)equivalent_normalized(a, a);
  (void)grade(response, reference);
  return 0;
}
