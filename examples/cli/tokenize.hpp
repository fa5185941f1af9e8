#pragma once
// `ttsearch tokenize`: encode JSON lines {"text": ...} with a tokenizer.json and write them back
// with "ids" added; --decode reads {"ids": [...]} and adds "text" (invalid UTF-8 shown as U+FFFD).
// For checking the tokenizer against other implementations (tests/tokenizer/parity.sh).
#include <iostream>

#include <ttsearch/torch/tokenizer.hpp>

#include "jsonl_input.hpp"

namespace ttsearch::cli {

struct TokenizeArgs {
  std::string tokenizer;
  std::string input = "-";
  std::string output = "-";
  std::string text_field = "text";
  std::string ids_field = "ids";
  bool decode = false;
  bool add_special_tokens = false;
  bool skip_special_tokens = false;
  bool keep_going = false;
};

inline int run_tokenize(const TokenizeArgs& a) {
  const auto tok = torch::Tokenizer::from_file(a.tokenizer);
  InputFile in(a.input);
  OutputFile output(a.output);
  std::ostream* out = &output.stream();
  std::size_t lines = 0, errors = 0;
  in.for_each(
      [&](const Json& j, std::size_t line) {
        Json o = j;
        if (a.decode) {
          if (!j.contains(a.ids_field) || !j[a.ids_field].is_array()) {
            throw in.error(line, fmt::format("field \"{}\" must be an array of token ids", a.ids_field));
          }
          std::vector<std::int32_t> ids;
          for (const auto& v : j[a.ids_field]) {
            if (!v.is_number_integer()) throw in.error(line, fmt::format("field \"{}\" holds a non-integer", a.ids_field));
            // never wrapped: 2^32 is not id 0
            if (v.is_number_unsigned() ? v.get<std::uint64_t>() >= tok.vocab_size()
                                       : (v.get<std::int64_t>() < 0 || static_cast<std::uint64_t>(v.get<std::int64_t>()) >= tok.vocab_size())) {
              throw in.error(line, fmt::format("field \"{}\": token id {} is not in the vocabulary (0..{})", a.ids_field, v.dump(),
                                               tok.vocab_size() - 1));
            }
            ids.push_back(static_cast<std::int32_t>(v.get<std::int64_t>()));
          }
          try {
            o[a.text_field] = tok.decode_text(ids, a.skip_special_tokens);
          } catch (const InvalidArgument& e) {
            throw in.error(line, e.what());
          }
        } else {
          if (!j.contains(a.text_field) || !j[a.text_field].is_string()) {
            throw in.error(line, fmt::format("field \"{}\" must be a string", a.text_field));
          }
          o[a.ids_field] = tok.encode(j[a.text_field].get<std::string>(), a.add_special_tokens);
        }
        *out << o.dump(-1, ' ', false, Json::error_handler_t::replace) << '\n';
        ++lines;
      },
      [&](const ParseError& e) {
        if (!a.keep_going) throw e;
        ++errors;
        std::cerr << "ttsearch tokenize: " << e.what() << '\n';
      });
  std::cerr << fmt::format("tokenized {} lines, {} malformed\n", lines, errors);
  return errors ? 2 : 0;
}

}  // namespace ttsearch::cli
