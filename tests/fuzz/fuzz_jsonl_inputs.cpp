// libFuzzer: the JSONL inputs of `grade`, `vote` and `solve --data` (the first byte picks the
// reader, the rest is the file). Every input is read or refused with a ttsearch::Error
// ("FILE:LINE: ..."); --keep-going readers never throw.
#include <cstddef>
#include <cstdint>
#include <iostream>
#include <sstream>
#include <string>

#include "../../examples/cli/grade.hpp"
#include "../../examples/cli/solve.hpp"
#include "../../examples/cli/vote.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::istringstream in(std::string(reinterpret_cast<const char*>(data) + 1, size - 1));
  std::ostringstream sink;
  auto* cin_buf = std::cin.rdbuf(in.rdbuf());
  auto* cout_buf = std::cout.rdbuf(sink.rdbuf());
  auto* cerr_buf = std::cerr.rdbuf(sink.rdbuf());
  try {
    switch (data[0] % 4) {
      case 0: (void)ttsearch::cli::run_grade({.input = "-", .output = "-", .keep_going = (data[0] & 4) != 0}); break;
      case 1: {
        ttsearch::cli::VoteArgs v;
        v.keep_going = (data[0] & 4) != 0;
        v.json = (data[0] & 8) != 0;
        (void)ttsearch::cli::run_vote(v);
        break;
      }
      default: {
        ttsearch::cli::SolveArgs a;
        a.data = "-";
        (void)ttsearch::cli::read_problem_file(a);
      }
    }
  } catch (const ttsearch::Error&) {
  }
  std::cin.rdbuf(cin_buf);
  std::cout.rdbuf(cout_buf);
  std::cerr.rdbuf(cerr_buf);
  return 0;
}
