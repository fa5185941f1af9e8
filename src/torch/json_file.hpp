#pragma once
// Internal: reads a JSON file of a model folder (config.json, tokenizer.json, tokenizer_config.json,
// model.safetensors.index.json) with the runtime's two errors.
#include <filesystem>
#include <fstream>
#include <string_view>

#include <nlohmann/json.hpp>

#include "ttsearch/core/error.hpp"

namespace ttsearch::torch::detail {

/// The parsed file; InvalidArgument "cannot open {what}'PATH'" when it cannot be opened,
/// ParseError "PATH: not valid JSON (...)" when it does not parse.
inline nlohmann::json read_json_file(const std::filesystem::path& path, std::string_view what = "") {
  std::ifstream in(path);
  if (!in) throw InvalidArgument(fmt::format("cannot open {}'{}'", what, path.string()));
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw ParseError(fmt::format("{}: not valid JSON ({})", path.string(), e.what()));
  }
}

}  // namespace ttsearch::torch::detail
