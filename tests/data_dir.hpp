#pragma once
// Locates ../shared/data (or $TTSEARCH_DATA_DIR). Tests that need it skip with a message when absent.
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

inline std::vector<nlohmann::json> read_jsonl(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  }
  return out;
}
