#pragma once
// Reading JSONL input for the CLI: every malformed line becomes a ParseError naming the file,
// the line number and what is wrong.
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <string>

#include <ttsearch/core/error.hpp>
#include <ttsearch/core/types.hpp>

namespace ttsearch::cli {

/// Opens `path` ("-" = stdin) for reading; throws InvalidArgument when it cannot.
class InputFile {
 public:
  explicit InputFile(const std::string& path) : name_(path == "-" ? "<stdin>" : path) {
    if (path == "-") {
      in_ = &std::cin;
    } else {
      file_ = std::make_unique<std::ifstream>(path);
      if (!*file_) throw InvalidArgument(fmt::format("cannot open input file '{}'", path));
      in_ = file_.get();
    }
  }
  [[nodiscard]] const std::string& name() const { return name_; }

  /// Calls fn(json_object, line_number) for each non-blank line. A line that is not a JSON
  /// object raises ParseError("FILE:N: ...") through `on_error`, which either rethrows or records.
  void for_each(const std::function<void(const Json&, std::size_t)>& fn,
                const std::function<void(const ParseError&)>& on_error) {
    std::string line;
    std::size_t n = 0;
    while (std::getline(*in_, line)) {
      ++n;
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      try {
        Json j;
        try {
          j = Json::parse(line);
        } catch (const Json::exception& e) {  // parse_error, or out_of_range on number overflow
          throw ParseError(fmt::format("{}:{}: not valid JSON: {}", name_, n, e.what()));
        }
        if (!j.is_object()) throw ParseError(fmt::format("{}:{}: expected a JSON object, got {}", name_, n, j.type_name()));
        fn(j, n);
      } catch (const ParseError& e) {
        on_error(e);
      }
    }
  }

  /// "FILE:N: message" as a ParseError.
  [[nodiscard]] ParseError error(std::size_t line, const std::string& what) const {
    return ParseError(fmt::format("{}:{}: {}", name_, line, what));
  }

 private:
  std::string name_;
  std::unique_ptr<std::ifstream> file_;
  std::istream* in_ = nullptr;
};

/// Opens `path` ("-" = stdout) for writing; throws InvalidArgument when it cannot.
class OutputFile {
 public:
  explicit OutputFile(const std::string& path) {
    if (path == "-") return;
    file_ = std::make_unique<std::ofstream>(path);
    if (!*file_) throw InvalidArgument(fmt::format("cannot open output file '{}'", path));
  }
  std::ostream& stream() { return file_ ? *file_ : std::cout; }

 private:
  std::unique_ptr<std::ofstream> file_;
};

/// A string field (numbers are accepted and printed as JSON numbers).
inline std::string string_field(const InputFile& f, const Json& j, std::size_t line, const std::string& key) {
  if (!j.contains(key)) throw f.error(line, fmt::format("missing field \"{}\"", key));
  const Json& v = j[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number()) return v.dump();
  throw f.error(line, fmt::format("field \"{}\" must be a string or a number, got {}", key, v.type_name()));
}

}  // namespace ttsearch::cli
