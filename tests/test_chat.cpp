// Chat prompt rendering (Qwen2, Llama-3, Llama-3.1+), template detection and loading.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>
#include <ttsearch/core/error.hpp>
#include <ttsearch/torch/chat.hpp>
#include <ttsearch/torch/tokenizer.hpp>

using namespace ttsearch::torch;

namespace {
// The part of Qwen2.5-Instruct's chat template that decides the system prompt (as stored in JSON).
const std::string kQwenJinja =
    "{%- if messages[0]['role'] == 'system' %}{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}"
    "{%- else %}{{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}"
    "{%- endif %}{%- for message in messages %}...{%- endfor %}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}";
const std::string kLlama31Jinja =
    "{{- bos_token }}{%- set date_string = \"26 Jul 2024\" %}{{- \"<|start_header_id|>system<|end_header_id|>\\n\\n\" }}"
    "{{- \"Cutting Knowledge Date: December 2023\\n\" }}...{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}";
}  // namespace

TEST_CASE("chat: Qwen2 rendering / default system prompt / continuation", "[torch][chat]") {
  const ChatTemplate t = detect_chat_template(kQwenJinja);
  REQUIRE(t.format == ChatFormat::kQwen2);
  REQUIRE(t.default_system == std::string("You are Qwen, created by Alibaba Cloud. You are a helpful assistant."));
  const std::vector<ChatMessage> user{{"user", "What is 2+2?"}};
  CHECK(render_chat(t, user) ==
        "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
        "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n");
  const std::vector<ChatMessage> prm{{"system", "Please reason step by step, and put your final answer within \\boxed{}."},
                                     {"user", "Q"},
                                     {"assistant", "step 1<extra_0>step 2<extra_0>"}};
  CHECK(render_chat(t, prm, {.add_generation_prompt = false}) ==
        "<|im_start|>system\nPlease reason step by step, and put your final answer within \\boxed{}.<|im_end|>\n"
        "<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\nstep 1<extra_0>step 2<extra_0><|im_end|>\n");
  const std::vector<ChatMessage> partial{{"user", "Q"}, {"assistant", "Step 1: x\n\n"}};
  const std::string open = render_chat(t, partial, {.add_generation_prompt = false, .continue_final_message = true});
  CHECK(open.ends_with("<|im_start|>assistant\nStep 1: x\n\n"));  // trailing "\n\n" kept, turn left open
  // the rendered prompt tokenizes with the special tokens as single ids
  const Tokenizer tok = Tokenizer::from_file(std::string(TTSEARCH_TEST_DATA_DIR) + "/tokenizer/qwen2.tokenizer.json");
  const auto ids = tok.encode(render_chat(t, prm, {.add_generation_prompt = false}));
  CHECK(ids.front() == *tok.token_to_id("<|im_start|>"));
  CHECK(std::count(ids.begin(), ids.end(), *tok.token_to_id("<extra_0>")) == 2);
  CHECK_THROWS_WITH(render_chat(t, user, {.add_generation_prompt = true, .continue_final_message = true}),
                    Catch::Contains("continue_final_message needs a final assistant message"));
  CHECK_THROWS_WITH(render_chat(t, partial, {.add_generation_prompt = true, .continue_final_message = true}),
                    Catch::Contains("cannot both be set"));
  const std::vector<ChatMessage> bad{{"tool", "x"}};
  CHECK_THROWS_WITH(render_chat(t, bad), Catch::Contains("unknown role \"tool\""));
}

TEST_CASE("chat: Llama-3 and Llama-3.1+ rendering - templates from a model folder", "[torch][chat]") {
  const ChatTemplate l31 = detect_chat_template(kLlama31Jinja);
  REQUIRE(l31.format == ChatFormat::kLlama3);
  REQUIRE(l31.llama31_header);
  const std::vector<ChatMessage> msgs{{"system", "  Solve it. "}, {"user", "Q  "}};
  CHECK(render_chat(l31, msgs) ==
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\n"
        "Today Date: 26 Jul 2024\n\nSolve it.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nQ<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n");
  ChatTemplate l3 = l31;
  l3.llama31_header = false;
  const std::vector<ChatMessage> cont{{"user", "Q"}, {"assistant", "## Step 1: a\n\n"}};
  CHECK(render_chat(l3, cont, {.add_generation_prompt = false, .continue_final_message = true}) ==
        "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nQ<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n## Step 1: a\n\n");
  CHECK_THROWS_WITH(detect_chat_template("{{ messages }}"), Catch::Contains("unrecognised chat template"));

  namespace fs = std::filesystem;
  const auto dir = fs::temp_directory_path() / ("ttsearch_chat_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "tokenizer_config.json")
      << nlohmann::json{{"chat_template", nlohmann::json::array({{{"name", "tool_use"}, {"template", "x"}},
                                                                 {{"name", "default"}, {"template", kQwenJinja}}})}}.dump();
  CHECK(load_chat_template(dir.string()).format == ChatFormat::kQwen2);
  std::ofstream(dir / "tokenizer_config.json") << "{}";
  std::ofstream(dir / "chat_template.jinja") << kLlama31Jinja;
  CHECK(load_chat_template(dir.string()).llama31_header);
  fs::remove(dir / "chat_template.jinja");
  CHECK_THROWS_WITH(load_chat_template(dir.string()), Catch::Contains("has no chat template"));
  fs::remove_all(dir);
}
