#include "ttsearch/torch/chat.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "json_file.hpp"
#include "ttsearch/core/error.hpp"

namespace ttsearch::torch {

namespace {

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\n\r");
  if (b == std::string::npos) return {};
  const auto e = s.find_last_not_of(" \t\n\r");
  return s.substr(b, e - b + 1);
}

void check_role(const std::string& role) {
  if (role != "system" && role != "user" && role != "assistant") {
    throw InvalidArgument(fmt::format("chat: unknown role \"{}\" (expected system, user or assistant)", role));
  }
}

}  // namespace

std::string render_chat(const ChatTemplate& t, std::span<const ChatMessage> messages, const ChatOptions& opt) {
  if (opt.continue_final_message) {
    if (messages.empty() || messages.back().role != "assistant") {
      throw InvalidArgument("chat: continue_final_message needs a final assistant message");
    }
    if (opt.add_generation_prompt) {
      throw InvalidArgument("chat: continue_final_message and add_generation_prompt cannot both be set");
    }
  }
  for (const auto& m : messages) check_role(m.role);
  std::string out;
  std::size_t first = 0;
  if (t.format == ChatFormat::kQwen2) {
    if (!messages.empty() && messages[0].role == "system") {
      out += "<|im_start|>system\n" + messages[0].content + "<|im_end|>\n";
      first = 1;
    } else if (t.default_system) {
      out += "<|im_start|>system\n" + *t.default_system + "<|im_end|>\n";
    }
    for (std::size_t i = first; i < messages.size(); ++i) {
      out += "<|im_start|>" + messages[i].role + "\n" + messages[i].content;
      if (!(opt.continue_final_message && i + 1 == messages.size())) out += "<|im_end|>\n";
    }
    if (opt.add_generation_prompt) out += "<|im_start|>assistant\n";
    return out;
  }
  out += "<|begin_of_text|>";
  auto block = [&](const std::string& role, const std::string& content, bool close) {
    out += "<|start_header_id|>" + role + "<|end_header_id|>\n\n" + content;
    if (close) out += "<|eot_id|>";
  };
  if (t.llama31_header) {
    std::string system;
    if (!messages.empty() && messages[0].role == "system") {
      system = trim(messages[0].content);
      first = 1;
    }
    block("system", "Cutting Knowledge Date: December 2023\nToday Date: " + t.date + "\n\n" + system, true);
  }
  for (std::size_t i = first; i < messages.size(); ++i) {
    const bool last_open = opt.continue_final_message && i + 1 == messages.size();
    // the template trims every message; an open final message keeps its trailing text as given
    block(messages[i].role, last_open ? messages[i].content : trim(messages[i].content), !last_open);
  }
  if (opt.add_generation_prompt) out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
  return out;
}

ChatTemplate detect_chat_template(const std::string& jinja) {
  ChatTemplate t;
  if (jinja.find("<|im_start|>") != std::string::npos) {
    t.format = ChatFormat::kQwen2;
    // the default system prompt: the literal after "<|im_start|>system\n" that is not a variable
    const std::string marker = "<|im_start|>system\\n";
    for (std::size_t p = jinja.find(marker); p != std::string::npos; p = jinja.find(marker, p + 1)) {
      const std::size_t start = p + marker.size();
      const std::size_t end = jinja.find("<|im_end|>", start);
      if (end == std::string::npos) break;
      const std::string text = jinja.substr(start, end - start);
      if (text.find('\'') != std::string::npos || text.find('{') != std::string::npos || text.find('+') != std::string::npos) continue;
      std::string unescaped;
      for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '\\' && i + 1 < text.size() && text[i + 1] == 'n') {
          unescaped += '\n';
          ++i;
        } else {
          unescaped += text[i];
        }
      }
      t.default_system = unescaped;
      break;
    }
    return t;
  }
  if (jinja.find("<|start_header_id|>") != std::string::npos) {
    t.format = ChatFormat::kLlama3;
    t.llama31_header = jinja.find("Cutting Knowledge Date") != std::string::npos;
    return t;
  }
  throw InvalidArgument("unrecognised chat template (supported: Qwen2 <|im_start|> and Llama-3 <|start_header_id|>); pass a raw prompt");
}

ChatTemplate load_chat_template(const std::string& dir) {
  namespace fs = std::filesystem;
  const fs::path cfg = fs::path(dir) / "tokenizer_config.json";
  std::string jinja;
  if (fs::exists(cfg)) {
    const nlohmann::json j = detail::read_json_file(cfg);
    if (j.contains("chat_template")) {
      const auto& c = j["chat_template"];
      if (c.is_string()) {
        jinja = c.get<std::string>();
      } else if (c.is_array()) {
        for (const auto& e : c) {
          if (e.value("name", std::string{}) == "default") jinja = e.value("template", std::string{});
        }
      }
    }
  }
  const fs::path file = fs::path(dir) / "chat_template.jinja";
  if (jinja.empty() && fs::exists(file)) {
    std::ifstream in(file);
    std::stringstream ss;
    ss << in.rdbuf();
    jinja = ss.str();
  }
  if (jinja.empty()) throw InvalidArgument(fmt::format("'{}' has no chat template (tokenizer_config.json or chat_template.jinja)", dir));
  return detect_chat_template(jinja);
}

}  // namespace ttsearch::torch
