#pragma once
// Locates ../shared/data (or $TTSEARCH_DATA_DIR). Tests that need it skip visibly when it is absent
// (a WARN with "SKIPPED:", which ctest reports as skipped), and fail instead when
// TTSEARCH_REQUIRE_DATA=1 is set (CI sets it where ../shared exists).
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

inline std::string shared_data_file(const std::string& name) {
  const char* env = std::getenv("TTSEARCH_DATA_DIR");
  const std::filesystem::path dir = env ? env : TTSEARCH_DEFAULT_DATA_DIR;
  const auto p = dir / name;
  return std::filesystem::exists(p) ? p.string() : std::string{};
}

inline bool shared_data_required() {
  const char* env = std::getenv("TTSEARCH_REQUIRE_DATA");
  return env && std::string(env) == "1";
}

/// Declares `var` = the path of data file `name`, or skips the test case (fails it when the data
/// is required) when the file is absent.
#define TTSEARCH_DATA_FILE_OR_SKIP(var, name)                                                                       \
  const std::string var = shared_data_file(name);                                                                   \
  if (var.empty()) {                                                                                                \
    if (shared_data_required()) FAIL(name " not found and TTSEARCH_REQUIRE_DATA=1 (set TTSEARCH_DATA_DIR)");       \
    WARN("SKIPPED: " name " not found (set TTSEARCH_DATA_DIR to the folder that holds it)");                       \
    return;                                                                                                         \
  }

inline std::vector<nlohmann::json> read_jsonl(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  }
  return out;
}
