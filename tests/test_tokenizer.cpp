// The native tokenizer against Hugging Face's tokenizers library: golden ids for ~1000 strings
// per tokenizer (tests/tokenizer/golden.js), exact splits, byte round trips, malformed files.
#include <catch2/catch.hpp>

#include <fstream>

#include <nlohmann/json.hpp>
#include <ttsearch/core/error.hpp>
#include <ttsearch/core/rng.hpp>
#include <ttsearch/torch/tokenizer.hpp>

using namespace ttsearch::torch;
using nlohmann::json;

namespace {
const std::string kDir = std::string(TTSEARCH_TEST_DATA_DIR) + "/tokenizer/";

std::vector<json> golden(const std::string& name) {
  std::ifstream in(kDir + name + ".golden.jsonl");
  std::vector<json> out;
  std::string line;
  while (std::getline(in, line)) if (!line.empty()) out.push_back(json::parse(line));
  return out;
}

std::vector<std::string> pieces(const Tokenizer& t, const std::vector<std::int32_t>& ids) {
  std::vector<std::string> out;
  for (auto id : ids) out.push_back(t.decode(std::vector<std::int32_t>{id}));
  return out;
}
}  // namespace

TEST_CASE("tokenizer: ids equal Hugging Face tokenizers on the golden strings (Qwen2 and Llama-3 formats)", "[torch][tokenizer]") {
  for (const std::string name : {"qwen2", "llama3"}) {
    INFO("tokenizer " << name);
    const Tokenizer t = Tokenizer::from_file(kDir + name + ".tokenizer.json");
    const auto rows = golden(name);
    REQUIRE(rows.size() > 1000);
    std::size_t mismatches = 0;
    for (const auto& row : rows) {
      const std::string text = row["text"];
      const auto ids = t.encode(text);
      const auto expect = row["ids"].get<std::vector<std::int32_t>>();
      if (ids != expect && ++mismatches <= 5) {
        FAIL_CHECK("text " << json(text).dump() << "\n  ours " << json(ids).dump() << "\n  HF   " << json(expect).dump());
      }
      CHECK(t.encode(text, true) == row["ids_special"].get<std::vector<std::int32_t>>());
      CHECK(t.decode(expect) == row["decoded"].get<std::string>());
    }
    CHECK(mismatches == 0);
  }
}

TEST_CASE("tokenizer: exact splits / special tokens / BOS and byte round trips", "[torch][tokenizer]") {
  const Tokenizer q = Tokenizer::from_file(kDir + "qwen2.tokenizer.json");
  const Tokenizer l = Tokenizer::from_file(kDir + "llama3.tokenizer.json");
  // Qwen2 splits digits one by one; Llama-3 in groups of three, so no token crosses 123|456|7
  CHECK(pieces(q, q.encode("1234567")) == std::vector<std::string>{"1", "2", "3", "4", "5", "6", "7"});
  std::string joined;
  std::vector<std::size_t> cuts;
  for (const auto& p : pieces(l, l.encode("1234567"))) cuts.push_back(joined.append(p).size());
  CHECK(std::find(cuts.begin(), cuts.end(), 3u) != cuts.end());
  CHECK(std::find(cuts.begin(), cuts.end(), 6u) != cuts.end());
  // a whitespace run before a word leaves its last space to the word: "   x" -> "  " + " x"
  const auto ws = pieces(q, q.encode("a   x"));
  CHECK(ws.back().back() == 'x');
  CHECK(std::string(ws[ws.size() - 2]).find_first_not_of(' ') == std::string::npos);
  // special tokens are single ids wherever they appear, also inside words
  const auto im_start = *q.token_to_id("<|im_start|>");
  const auto extra = *q.token_to_id("<extra_0>");
  const auto ids = q.encode("<|im_start|>user\nstep<extra_0>next<extra_0>");
  CHECK(ids.front() == im_start);
  CHECK(std::count(ids.begin(), ids.end(), extra) == 2);
  CHECK(q.is_special(im_start));
  CHECK_FALSE(q.is_special(extra));
  CHECK(q.decode(ids, true).find("<|im_start|>") == std::string::npos);
  CHECK(q.decode(ids, true).find("<extra_0>") != std::string::npos);  // not special: kept
  // BOS: Llama-3 adds it when asked, Qwen2 never
  CHECK(l.bos_id() == l.token_to_id("<|begin_of_text|>"));
  CHECK(l.encode("hi", true).front() == *l.bos_id());
  CHECK_FALSE(q.bos_id());
  CHECK(q.encode("hi", true) == q.encode("hi"));
  // NFC: composed and decomposed forms encode the same in Qwen2, differently in Llama-3
  CHECK(q.encode("cafe\u0301") == q.encode("caf\u00e9"));
  CHECK(l.encode("cafe\u0301") != l.encode("caf\u00e9"));
  // arbitrary bytes, invalid UTF-8 included, round-trip exactly (Llama-3 format: no normaliser)
  ttsearch::Rng rng(3);
  for (int trial = 0; trial < 500; ++trial) {
    std::string bytes(rng.below(60), '\0');
    for (auto& c : bytes) c = static_cast<char>(rng.below(256));
    const auto enc = l.encode(bytes);
    REQUIRE(l.decode(enc) == bytes);
    REQUIRE(sanitize_utf8(l.decode(enc)) == l.decode_text(enc));
  }
  CHECK(l.decode(l.encode("\xff\xfe ok \xc3")) == "\xff\xfe ok \xc3");
  // a NUL byte is text: the NFC normaliser used to stop at it and drop the rest (fuzz_tokenizer_encode)
  const std::string with_nul("He0eo\0\\bacoxe, caf\xc3\xa9", 20);
  CHECK(q.decode(q.encode(with_nul)) == with_nul);
  CHECK(q.decode(q.encode(std::string("a\0b", 3))) == std::string("a\0b", 3));
  CHECK(sanitize_utf8("a\xff" "b") == "a\xEF\xBF\xBD" "b");
  CHECK_THROWS_WITH(q.id_to_token(1'000'000), Catch::Contains("token id 1000000 is outside the vocabulary"));
}

TEST_CASE("tokenizer: unsupported or broken tokenizer.json files are named", "[torch][tokenizer]") {
  json base;
  std::ifstream(kDir + "qwen2.tokenizer.json") >> base;
  auto error_of = [](const json& j) {
    try {
      Tokenizer::from_json(j, "t.json");
    } catch (const ttsearch::Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(error_of(base) == "no error");
  json j = base;
  j["model"]["type"] = "WordPiece";
  CHECK_THAT(error_of(j), Catch::Contains("t.json: unsupported model type \"WordPiece\""));
  j = base;
  j["model"]["byte_fallback"] = true;
  CHECK_THAT(error_of(j), Catch::Contains("byte_fallback BPE (SentencePiece style) is not supported"));
  j = base;
  j["model"]["merges"].push_back(json::array({"Ġ", "zzzz"}));
  CHECK_THAT(error_of(j), Catch::Contains("right token \"zzzz\" is not in the vocabulary"));
  j = base;
  j["model"]["merges"] = json::array({"abc"});
  CHECK_THAT(error_of(j), Catch::Contains("merge 0 \"abc\" is not two tokens separated by one space"));
  j = base;
  j["normalizer"] = {{"type", "Lowercase"}};
  CHECK_THAT(error_of(j), Catch::Contains("unsupported normalizer \"Lowercase\""));
  j = base;
  j["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "(unclosed";
  CHECK_THAT(error_of(j), Catch::Contains("cannot compile the split regex"));
  j = base;
  j["pre_tokenizer"] = {{"type", "Metaspace"}};
  CHECK_THAT(error_of(j), Catch::Contains("unsupported pre-tokenizer \"Metaspace\""));
  j = base;
  j["added_tokens"][0]["id"] = 5;
  CHECK_THAT(error_of(j), Catch::Contains("added token \"<|endoftext|>\" has id 5, which the vocabulary gives to"));
  j = base;
  j.erase("model");
  CHECK_THAT(error_of(j), Catch::Contains("no \"model\" object"));
  CHECK_THROWS_WITH(Tokenizer::from_file("/nonexistent/tokenizer.json"), Catch::Contains("cannot open tokenizer file"));
}
