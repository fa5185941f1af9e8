#pragma once
// `ttsearch grade`: extract, normalise and grade responses against references.
#include <iostream>

#include <ttsearch/answer/equivalence.hpp>

#include "jsonl_input.hpp"

namespace ttsearch::cli {

struct GradeArgs {
  std::string input = "-";
  std::string output = "-";
  std::string response_field = "response";
  std::string reference_field = "reference";
  bool keep_going = false;
  bool explain = false;  ///< add reference_normalized, parsed_response, parsed_reference, decided_by
};

/// Returns the process exit code: 0 ok, 2 when any line was malformed.
inline int run_grade(const GradeArgs& a) {
  InputFile in(a.input);
  OutputFile output(a.output);
  std::ostream* out = &output.stream();
  std::size_t graded = 0, correct = 0, errors = 0;
  in.for_each(
      [&](const Json& j, std::size_t line) {
        const std::string response = string_field(in, j, line, a.response_field);
        const std::string reference = string_field(in, j, line, a.reference_field);
        const auto g = answer::grade(response, reference);
        Json o = j;
        o["extracted"] = g.extracted;
        o["normalized"] = g.normalized;
        o["rule"] = g.rule;
        o["correct"] = g.correct;
        if (a.explain) {
          o["reference_normalized"] = g.reference_normalized;
          o["parsed_response"] = answer::describe(g.normalized);
          o["parsed_reference"] = answer::describe(g.reference_normalized);
          o["decided_by"] = g.decided_by;
        }
        *out << o.dump(-1, ' ', false, Json::error_handler_t::replace) << '\n';
        ++graded;
        correct += g.correct ? 1 : 0;
      },
      [&](const ParseError& e) {
        if (!a.keep_going) throw e;  // main prints it
        ++errors;
        std::cerr << "ttsearch grade: " << e.what() << '\n';
      });
  out->flush();
  std::cerr << fmt::format("graded {} lines: {} correct ({:.1f}%), {} malformed\n", graded, correct,
                           graded ? 100.0 * static_cast<double>(correct) / static_cast<double>(graded) : 0.0, errors);
  return errors ? 2 : 0;
}

}  // namespace ttsearch::cli
