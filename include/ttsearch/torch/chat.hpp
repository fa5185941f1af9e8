#pragma once
/// Chat prompt rendering for the Qwen2 and Llama-3 families, natively (no Jinja engine is
/// packaged; formats.md sections 3 and 5). Other families: pass a raw prompt instead.
///
/// Qwen2 (Qwen2.5 templates): "<|im_start|>{role}\n{content}<|im_end|>\n" per message; when the
///   first message is not a system message the template's default system prompt is inserted
///   (Qwen2.5-Instruct: "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.");
///   the generation prompt is "<|im_start|>assistant\n".
/// Llama-3: "<|begin_of_text|>" then "<|start_header_id|>{role}<|end_header_id|>\n\n{content
///   trimmed}<|eot_id|>" per message; the generation prompt is
///   "<|start_header_id|>assistant<|end_header_id|>\n\n". Llama-3.1+ templates open with a system
///   block "Cutting Knowledge Date: December 2023\nToday Date: {date}\n\n{system}"; the date is
///   pinned (default "26 Jul 2024", the 3.1 template's own) so prompts are reproducible.
/// continue_final_message leaves the last (assistant) message open: no end-of-turn after it, so
///   generation continues the partial solution (search-and-learn's later iterations).
#include <optional>
#include <span>
#include <string>

#include <nlohmann/json.hpp>

namespace ttsearch::torch {

enum class ChatFormat : unsigned char { kQwen2, kLlama3 };

struct ChatMessage {
  std::string role;  ///< system, user or assistant
  std::string content;
};

/// What a model's chat template needs: its family and its defaults.
struct ChatTemplate {
  ChatFormat format = ChatFormat::kQwen2;
  std::optional<std::string> default_system;  ///< Qwen2: inserted when no system message is given
  bool llama31_header = false;                ///< Llama-3.1+: the knowledge-date system block
  std::string date = "26 Jul 2024";           ///< Llama-3.1+: "Today Date"
};

struct ChatOptions {
  bool add_generation_prompt = true;
  bool continue_final_message = false;
};

/// Renders `messages`; throws InvalidArgument on an unknown role or an impossible option mix
/// (continue_final_message needs a final assistant message and no generation prompt).
std::string render_chat(const ChatTemplate& t, std::span<const ChatMessage> messages, const ChatOptions& opt = {});

/// Recognises a Jinja chat template by its markers (<|im_start|> -> Qwen2; <|start_header_id|> ->
/// Llama-3, "Cutting Knowledge Date" -> 3.1+ header) and reads the Qwen2 default system prompt
/// from it. Throws InvalidArgument for any other template (use a raw prompt then).
ChatTemplate detect_chat_template(const std::string& jinja);

/// Reads the chat template of a model folder: tokenizer_config.json's "chat_template" (a string,
/// or a list of {"name", "template"} where "default" is used) or chat_template.jinja.
ChatTemplate load_chat_template(const std::string& dir);

}  // namespace ttsearch::torch
