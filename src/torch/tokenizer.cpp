#include "ttsearch/torch/tokenizer.hpp"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <utf8proc.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <functional>
#include <map>
#include <queue>
#include <tuple>
#include <unordered_map>

#include "json_file.hpp"
#include "ttsearch/core/error.hpp"

namespace ttsearch::torch {

using Json = nlohmann::json;

namespace {

// ------------------------------------------------------------------------------------------ UTF-8

/// Length of the valid UTF-8 sequence at s[i], or 0 when the bytes there are not valid UTF-8.
std::size_t utf8_len(std::string_view s, std::size_t i) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  const std::size_t left = s.size() - i;
  auto cont = [&](std::size_t k) { return k < s.size() && (b(k) & 0xC0) == 0x80; };
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return left >= 2 && cont(i + 1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (left < 3 || !cont(i + 1) || !cont(i + 2)) return 0;
    if (c == 0xE0 && b(i + 1) < 0xA0) return 0;  // overlong
    if (c == 0xED && b(i + 1) > 0x9F) return 0;  // surrogates
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (left < 4 || !cont(i + 1) || !cont(i + 2) || !cont(i + 3)) return 0;
    if (c == 0xF0 && b(i + 1) < 0x90) return 0;
    if (c == 0xF4 && b(i + 1) > 0x8F) return 0;
    return 4;
  }
  return 0;
}

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

std::uint32_t decode_cp(std::string_view s, std::size_t i, std::size_t len) {
  const auto b = [&](std::size_t k) { return static_cast<std::uint32_t>(static_cast<unsigned char>(s[k])); };
  switch (len) {
    case 1: return b(i);
    case 2: return ((b(i) & 0x1F) << 6) | (b(i + 1) & 0x3F);
    case 3: return ((b(i) & 0x0F) << 12) | ((b(i + 1) & 0x3F) << 6) | (b(i + 2) & 0x3F);
    default: return ((b(i) & 0x07) << 18) | ((b(i + 1) & 0x3F) << 12) | ((b(i + 2) & 0x3F) << 6) | (b(i + 3) & 0x3F);
  }
}

/// GPT-2's bytes_to_unicode: printable bytes map to themselves, the other 68 to U+0100 + n.
struct ByteMap {
  std::string to_char[256];
  std::unordered_map<std::uint32_t, unsigned char> to_byte;
  ByteMap() {
    int n = 0;
    for (int b = 0; b < 256; ++b) {
      const bool keep = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      const std::uint32_t cp = keep ? static_cast<std::uint32_t>(b) : static_cast<std::uint32_t>(256 + n++);
      append_utf8(to_char[b], cp);
      to_byte[cp] = static_cast<unsigned char>(b);
    }
  }
};
const ByteMap& byte_map() {
  static const ByteMap m;
  return m;
}

// ------------------------------------------------------------------------------------------ regex

/// Oniguruma's \s is Unicode White_Space; PCRE2's \s with UCP lacks U+0085 (NEL). Add it.
std::string onig_to_pcre2(std::string_view p) {
  std::string out;
  bool in_class = false;
  for (std::size_t i = 0; i < p.size(); ++i) {
    const char c = p[i];
    if (c == '\\' && i + 1 < p.size()) {
      const char n = p[i + 1];
      if (n == 's') out += in_class ? "\\s\\x{85}" : "[\\s\\x{85}]";
      else if (n == 'S' && !in_class) out += "[^\\s\\x{85}]";
      else out.append(p.substr(i, 2));
      ++i;
      continue;
    }
    if (c == '[' && !in_class) in_class = true;
    else if (c == ']' && in_class) in_class = false;
    out += c;
  }
  return out;
}

struct Regex {
  pcre2_code* code = nullptr;
  pcre2_match_data* md = nullptr;
  bool jit = false;
  Regex(const std::string& pattern, const std::string& where) {
    int err = 0;
    PCRE2_SIZE off = 0;
    code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), PCRE2_UTF | PCRE2_UCP, &err, &off, nullptr);
    if (!code) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(err, msg, sizeof msg);
      throw ParseError(fmt::format("{}: cannot compile the split regex at offset {}: {}", where, off, reinterpret_cast<char*>(msg)));
    }
    jit = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
    md = pcre2_match_data_create_from_pattern(code, nullptr);
  }
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;
  ~Regex() {
    if (md) pcre2_match_data_free(md);
    if (code) pcre2_code_free(code);
  }
  /// Calls fn(begin, end) for each match in s (valid UTF-8).
  template <class Fn>
  void for_each_match(std::string_view s, Fn fn) const {
    std::size_t pos = 0;
    while (pos <= s.size()) {
      const int rc = jit ? pcre2_jit_match(code, reinterpret_cast<PCRE2_SPTR>(s.data()), s.size(), pos, PCRE2_NO_UTF_CHECK, md, nullptr)
                         : pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(s.data()), s.size(), pos, PCRE2_NO_UTF_CHECK, md, nullptr);
      if (rc == PCRE2_ERROR_NOMATCH) break;
      if (rc < 0) throw Error(fmt::format("tokenizer regex failed with PCRE2 error {}", rc));
      const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
      const std::size_t b = ov[0], e = ov[1];
      if (e > b) fn(b, e);
      if (e == b) {  // empty match: step one character
        if (b >= s.size()) break;
        pos = b + std::max<std::size_t>(1, utf8_len(s, b));
      } else {
        pos = e;
      }
    }
  }
};

constexpr std::string_view kGpt2Pattern = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

struct AddedToken {
  std::int32_t id;
  std::string content;
  bool special, lstrip, rstrip, single_word;
};

struct PreStep {
  enum Kind { kSplit, kByteLevelRegex } kind;
  std::shared_ptr<Regex> regex;
};

bool is_ws(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
bool is_word_byte(unsigned char c) { return std::isalnum(c) || c == '_' || c >= 0x80; }

}  // namespace

struct Tokenizer::Impl {
  std::string name;
  std::unordered_map<std::string, std::int32_t> vocab;
  std::vector<std::string> id_to_token;
  std::vector<bool> special;
  std::vector<bool> added;
  struct Merge {
    std::int32_t rank, merged;
  };
  std::unordered_map<std::uint64_t, Merge> merges;
  bool ignore_merges = false;
  bool nfc = false;
  bool add_prefix_space = false;
  std::vector<PreStep> pre;
  std::vector<AddedToken> added_tokens;  // sorted by content length, longest first
  std::vector<std::int32_t> prefix_ids, suffix_ids;
  std::int32_t byte_id[256];

  [[noreturn]] void bad(const std::string& what) const { throw ParseError(fmt::format("{}: {}", name, what)); }

  std::int32_t lookup(const std::string& token, const std::string& why) const {
    const auto it = vocab.find(token);
    if (it == vocab.end()) bad(fmt::format("{} \"{}\" is not in the vocabulary", why, token));
    return it->second;
  }

  void bpe(std::string_view piece, std::vector<std::int32_t>& out) const {
    if (piece.empty()) return;
    const ByteMap& bm = byte_map();
    if (ignore_merges) {
      std::string mapped;
      for (unsigned char c : piece) mapped += bm.to_char[c];
      if (auto it = vocab.find(mapped); it != vocab.end()) {
        out.push_back(it->second);
        return;
      }
    }
    struct Sym {
      std::int32_t id;
      std::int32_t prev, next;
    };
    std::vector<Sym> sym(piece.size());
    for (std::size_t i = 0; i < piece.size(); ++i) {
      const std::int32_t id = byte_id[static_cast<unsigned char>(piece[i])];
      if (id < 0) {
        throw InvalidArgument(fmt::format("{}: byte 0x{:02X} has no token in this vocabulary", name,
                                          static_cast<unsigned>(static_cast<unsigned char>(piece[i]))));
      }
      sym[i] = {id, static_cast<std::int32_t>(i) - 1,
                i + 1 < piece.size() ? static_cast<std::int32_t>(i + 1) : -1};
    }
    struct Cand {
      std::int32_t rank, pos, left, right;
      bool operator>(const Cand& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
    };
    std::priority_queue<Cand, std::vector<Cand>, std::greater<>> heap;
    auto push = [&](std::int32_t pos) {
      if (pos < 0 || sym[static_cast<std::size_t>(pos)].next < 0) return;
      const Sym& a = sym[static_cast<std::size_t>(pos)];
      const Sym& b = sym[static_cast<std::size_t>(a.next)];
      const auto key = (static_cast<std::uint64_t>(static_cast<std::uint32_t>(a.id)) << 32) | static_cast<std::uint32_t>(b.id);
      if (auto it = merges.find(key); it != merges.end()) heap.push({it->second.rank, pos, a.id, b.id});
    };
    for (std::size_t i = 0; i + 1 < sym.size(); ++i) push(static_cast<std::int32_t>(i));
    while (!heap.empty()) {
      const Cand c = heap.top();
      heap.pop();
      Sym& a = sym[static_cast<std::size_t>(c.pos)];
      if (a.id != c.left || a.next < 0 || sym[static_cast<std::size_t>(a.next)].id != c.right) continue;  // stale
      const auto key = (static_cast<std::uint64_t>(static_cast<std::uint32_t>(c.left)) << 32) | static_cast<std::uint32_t>(c.right);
      a.id = merges.at(key).merged;
      const std::int32_t gone = a.next;
      Sym& b = sym[static_cast<std::size_t>(gone)];
      a.next = b.next;
      if (b.next >= 0) sym[static_cast<std::size_t>(b.next)].prev = c.pos;
      b.id = -1;
      push(a.prev);
      push(c.pos);
    }
    for (std::int32_t i = 0; i >= 0; i = sym[static_cast<std::size_t>(i)].next) out.push_back(sym[static_cast<std::size_t>(i)].id);
  }

  /// Pre-tokenises valid UTF-8 text and runs BPE on every piece.
  void encode_valid(std::string_view text, std::vector<std::int32_t>& out) const {
    std::string normalized;
    if (nfc) {
      // by length, not as a C string: a NUL byte is text too (utf8proc_NFC stopped at the first one
      // and dropped the rest of the input; found by fuzz_tokenizer_encode)
      utf8proc_uint8_t* r = nullptr;
      const utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()), static_cast<utf8proc_ssize_t>(text.size()),
                                              &r, static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
      if (n < 0) throw Error(fmt::format("NFC normalisation failed: {}", utf8proc_errmsg(n)));
      normalized.assign(reinterpret_cast<const char*>(r), static_cast<std::size_t>(n));
      std::free(r);
      text = normalized;
    }
    std::vector<std::pair<std::size_t, std::size_t>> pieces{{0, text.size()}};
    for (const PreStep& step : pre) {
      std::vector<std::pair<std::size_t, std::size_t>> next;
      for (const auto& piece : pieces) {
        const std::size_t b = piece.first, e = piece.second;  // plain names: lambdas cannot capture bindings before clang 16
        const std::string_view s = text.substr(b, e - b);
        std::size_t last = 0;
        step.regex->for_each_match(s, [&](std::size_t mb, std::size_t me) {
          if (mb > last) next.emplace_back(b + last, b + mb);  // unmatched text is a piece too
          next.emplace_back(b + mb, b + me);
          last = me;
        });
        if (last < s.size()) next.emplace_back(b + last, e);
      }
      pieces = std::move(next);
    }
    for (const auto& [b, e] : pieces) bpe(text.substr(b, e - b), out);
  }

  /// A segment without added tokens: valid runs through the pipeline, invalid bytes one by one.
  void encode_segment(std::string_view seg, std::vector<std::int32_t>& out) const {
    std::string prefixed;
    if (add_prefix_space && !seg.empty() && seg.front() != ' ') {
      prefixed = " " + std::string(seg);
      seg = prefixed;
    }
    std::size_t i = 0, run = 0;
    while (i < seg.size()) {
      const std::size_t len = utf8_len(seg, i);
      if (len == 0) {
        if (i > run) encode_valid(seg.substr(run, i - run), out);
        bpe(seg.substr(i, 1), out);
        ++i;
        run = i;
      } else {
        i += len;
      }
    }
    if (seg.size() > run) encode_valid(seg.substr(run), out);
  }
};

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Tokenizer Tokenizer::from_file(const std::string& path) {
  return from_json(detail::read_json_file(path, "tokenizer file "), path);
}

Tokenizer Tokenizer::from_json(const Json& j, std::string name) {
  auto impl = std::make_unique<Impl>();
  Impl& t = *impl;
  t.name = std::move(name);
  try {
    if (!j.is_object() || !j.contains("model") || !j["model"].is_object()) t.bad("no \"model\" object");
    const Json& m = j["model"];
    const std::string type = m.value("type", std::string("BPE"));
    if (type != "BPE") t.bad(fmt::format("unsupported model type \"{}\" (only byte-level BPE)", type));
    if (m.value("byte_fallback", false)) t.bad("byte_fallback BPE (SentencePiece style) is not supported");
    for (const char* k : {"continuing_subword_prefix", "end_of_word_suffix"}) {
      if (m.contains(k) && m[k].is_string() && !m[k].get<std::string>().empty()) t.bad(fmt::format("\"{}\" is not supported", k));
    }
    t.ignore_merges = m.value("ignore_merges", false);
    if (!m.contains("vocab") || !m["vocab"].is_object()) t.bad("model has no \"vocab\" object");
    std::int32_t max_id = -1;
    for (const auto& [tok, id] : m["vocab"].items()) {
      if (!id.is_number_integer() || id.get<std::int64_t>() < 0 || id.get<std::int64_t>() > 100'000'000) {
        t.bad(fmt::format("vocab id of \"{}\" is not a valid id", tok));
      }
      t.vocab[tok] = id.get<std::int32_t>();
      max_id = std::max(max_id, id.get<std::int32_t>());
    }
    // added tokens (the library assigns ids in file order; assert the ids agree with the vocab)
    if (j.contains("added_tokens") && j["added_tokens"].is_array()) {
      for (const auto& a : j["added_tokens"]) {
        AddedToken at{a.at("id").get<std::int32_t>(), a.at("content").get<std::string>(), a.value("special", false),
                      a.value("lstrip", false), a.value("rstrip", false), a.value("single_word", false)};
        if (at.content.empty()) t.bad(fmt::format("added token {} has empty content", at.id));
        if (auto it = t.vocab.find(at.content); it != t.vocab.end() && it->second != at.id) {
          t.bad(fmt::format("added token \"{}\" has id {} but the vocabulary says {}", at.content, at.id, it->second));
        }
        for (const auto& [tok, id] : t.vocab) {
          if (id == at.id && tok != at.content) {
            t.bad(fmt::format("added token \"{}\" has id {}, which the vocabulary gives to \"{}\"", at.content, at.id, tok));
          }
        }
        t.vocab[at.content] = at.id;
        max_id = std::max(max_id, at.id);
        t.added_tokens.push_back(std::move(at));
      }
    }
    t.id_to_token.assign(static_cast<std::size_t>(max_id + 1), std::string{});
    t.special.assign(t.id_to_token.size(), false);
    t.added.assign(t.id_to_token.size(), false);
    for (const auto& [tok, id] : t.vocab) t.id_to_token[static_cast<std::size_t>(id)] = tok;
    for (const auto& a : t.added_tokens) {
      t.special[static_cast<std::size_t>(a.id)] = a.special;
      t.added[static_cast<std::size_t>(a.id)] = true;
    }
    std::stable_sort(t.added_tokens.begin(), t.added_tokens.end(),
                     [](const AddedToken& a, const AddedToken& b) { return a.content.size() > b.content.size(); });
    const ByteMap& bm = byte_map();
    for (int b = 0; b < 256; ++b) {  // a vocabulary may lack bytes that never occur in valid UTF-8
      const auto it = t.vocab.find(bm.to_char[b]);
      t.byte_id[b] = it == t.vocab.end() ? -1 : it->second;
    }
    // merges: "a b" strings or ["a", "b"] pairs; rank = index
    if (!m.contains("merges") || !m["merges"].is_array()) t.bad("model has no \"merges\" array");
    std::int32_t rank = 0;
    for (const auto& mg : m["merges"]) {
      std::string a, b;
      if (mg.is_string()) {
        const std::string s = mg.get<std::string>();
        const auto sp = s.find(' ');
        if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos) {
          t.bad(fmt::format("merge {} \"{}\" is not two tokens separated by one space", rank, s));
        }
        a = s.substr(0, sp);
        b = s.substr(sp + 1);
      } else if (mg.is_array() && mg.size() == 2 && mg[0].is_string() && mg[1].is_string()) {
        a = mg[0].get<std::string>();
        b = mg[1].get<std::string>();
      } else {
        t.bad(fmt::format("merge {} is neither \"a b\" nor [\"a\", \"b\"]", rank));
      }
      const std::int32_t ia = t.lookup(a, fmt::format("merge {}: left token", rank));
      const std::int32_t ib = t.lookup(b, fmt::format("merge {}: right token", rank));
      const std::int32_t im = t.lookup(a + b, fmt::format("merge {}: merged token", rank));
      const auto key = (static_cast<std::uint64_t>(static_cast<std::uint32_t>(ia)) << 32) | static_cast<std::uint32_t>(ib);
      t.merges.emplace(key, Impl::Merge{rank, im});  // keep the first (lowest rank) on duplicates
      ++rank;
    }
    // normalizer
    std::function<void(const Json&)> normalizer = [&](const Json& n) {
      if (n.is_null()) return;
      const std::string nt = n.value("type", std::string{});
      if (nt == "NFC") t.nfc = true;
      else if (nt == "Sequence") for (const auto& x : n.at("normalizers")) normalizer(x);
      else t.bad(fmt::format("unsupported normalizer \"{}\" (supported: NFC, Sequence)", nt));
    };
    if (j.contains("normalizer")) normalizer(j["normalizer"]);
    // pre-tokenizer
    bool byte_level = false;
    std::function<void(const Json&)> pretok = [&](const Json& p) {
      if (p.is_null()) return;
      const std::string pt = p.value("type", std::string{});
      if (pt == "Sequence") {
        for (const auto& x : p.at("pretokenizers")) pretok(x);
      } else if (pt == "Split") {
        if (p.value("behavior", std::string("Isolated")) != "Isolated" || p.value("invert", false)) {
          t.bad("only Split pre-tokenizers with behavior \"Isolated\" and invert false are supported");
        }
        const Json& pat = p.at("pattern");
        std::string regex;
        if (pat.contains("Regex")) {
          regex = onig_to_pcre2(pat["Regex"].get<std::string>());
        } else if (pat.contains("String")) {
          for (char c : pat["String"].get<std::string>()) {
            if (std::string_view("\\^$.|?*+()[]{}").find(c) != std::string_view::npos) regex += '\\';
            regex += c;
          }
        } else {
          t.bad("Split pattern needs \"Regex\" or \"String\"");
        }
        t.pre.push_back({PreStep::kSplit, std::make_shared<Regex>(regex, t.name)});
      } else if (pt == "ByteLevel") {
        byte_level = true;
        t.add_prefix_space = p.value("add_prefix_space", false);
        if (p.value("use_regex", true)) t.pre.push_back({PreStep::kByteLevelRegex, std::make_shared<Regex>(onig_to_pcre2(kGpt2Pattern), t.name)});
      } else {
        t.bad(fmt::format("unsupported pre-tokenizer \"{}\" (supported: Split, ByteLevel, Sequence)", pt));
      }
    };
    if (j.contains("pre_tokenizer")) pretok(j["pre_tokenizer"]);
    if (!byte_level) t.bad("not a byte-level tokenizer (no ByteLevel pre-tokenizer)");
    // post-processor: BOS / EOS from TemplateProcessing
    std::function<void(const Json&)> post = [&](const Json& p) {
      if (p.is_null()) return;
      const std::string pt = p.value("type", std::string{});
      if (pt == "ByteLevel") return;
      if (pt == "Sequence") {
        for (const auto& x : p.at("processors")) post(x);
        return;
      }
      if (pt != "TemplateProcessing") t.bad(fmt::format("unsupported post-processor \"{}\"", pt));
      bool after = false;
      for (const auto& item : p.at("single")) {
        if (item.contains("Sequence")) {
          after = true;
        } else if (item.contains("SpecialToken")) {
          const std::string sid = item["SpecialToken"].at("id").get<std::string>();
          const Json& st = p.at("special_tokens").at(sid);
          for (const auto& id : st.at("ids")) (after ? t.suffix_ids : t.prefix_ids).push_back(id.get<std::int32_t>());
        }
      }
    };
    if (j.contains("post_processor")) post(j["post_processor"]);
    // decoder
    std::function<void(const Json&)> decoder = [&](const Json& d) {
      if (d.is_null()) return;
      const std::string dt = d.value("type", std::string{});
      if (dt == "ByteLevel") return;
      if (dt == "Sequence") {
        for (const auto& x : d.at("decoders")) decoder(x);
        return;
      }
      t.bad(fmt::format("unsupported decoder \"{}\" (supported: ByteLevel)", dt));
    };
    if (j.contains("decoder")) decoder(j["decoder"]);
  } catch (const Json::exception& e) {
    t.bad(fmt::format("malformed tokenizer JSON: {}", e.what()));
  }
  return Tokenizer(std::move(impl));
}

std::vector<std::int32_t> Tokenizer::encode(std::string_view text, bool add_special_tokens) const {
  const Impl& t = *impl_;
  std::vector<std::int32_t> out;
  if (add_special_tokens) out = t.prefix_ids;
  // added tokens first: leftmost, longest
  std::size_t start = 0, i = 0;
  while (i < text.size()) {
    const AddedToken* hit = nullptr;
    for (const auto& a : t.added_tokens) {
      if (text.compare(i, a.content.size(), a.content) != 0) continue;
      if (a.single_word) {
        const bool left = i == 0 || !is_word_byte(static_cast<unsigned char>(text[i - 1]));
        const std::size_t e = i + a.content.size();
        const bool right = e >= text.size() || !is_word_byte(static_cast<unsigned char>(text[e]));
        if (!left || !right) continue;
      }
      hit = &a;
      break;
    }
    if (!hit) {
      ++i;
      continue;
    }
    std::size_t seg_end = i, next = i + hit->content.size();
    if (hit->lstrip) while (seg_end > start && is_ws(static_cast<unsigned char>(text[seg_end - 1]))) --seg_end;
    if (hit->rstrip) while (next < text.size() && is_ws(static_cast<unsigned char>(text[next]))) ++next;
    t.encode_segment(text.substr(start, seg_end - start), out);
    out.push_back(hit->id);
    start = i = next;
  }
  t.encode_segment(text.substr(start), out);
  if (add_special_tokens) out.insert(out.end(), t.suffix_ids.begin(), t.suffix_ids.end());
  return out;
}

std::string Tokenizer::decode(std::span<const std::int32_t> ids, bool skip_special_tokens) const {
  const Impl& t = *impl_;
  const ByteMap& bm = byte_map();
  std::string out;
  for (std::int32_t id : ids) {
    const std::string& tok = id_to_token(id);
    const auto u = static_cast<std::size_t>(id);
    if (t.added[u]) {
      if (!(skip_special_tokens && t.special[u])) out += tok;
      continue;
    }
    for (std::size_t i = 0; i < tok.size();) {
      const std::size_t len = std::max<std::size_t>(1, utf8_len(tok, i));
      const std::uint32_t cp = decode_cp(tok, i, len);
      if (auto it = bm.to_byte.find(cp); it != bm.to_byte.end()) out += static_cast<char>(it->second);
      else out.append(tok, i, len);  // not a byte-level character: keep as is
      i += len;
    }
  }
  return out;
}

std::string Tokenizer::decode_text(std::span<const std::int32_t> ids, bool skip_special_tokens) const {
  return sanitize_utf8(decode(ids, skip_special_tokens));
}

std::optional<std::int32_t> Tokenizer::token_to_id(std::string_view token) const {
  const auto it = impl_->vocab.find(std::string(token));
  if (it == impl_->vocab.end()) return std::nullopt;
  return it->second;
}

const std::string& Tokenizer::id_to_token(std::int32_t id) const {
  if (id < 0 || static_cast<std::size_t>(id) >= impl_->id_to_token.size()) {
    throw InvalidArgument(fmt::format("token id {} is outside the vocabulary (size {})", id, impl_->id_to_token.size()));
  }
  return impl_->id_to_token[static_cast<std::size_t>(id)];
}

bool Tokenizer::is_special(std::int32_t id) const {
  return id >= 0 && static_cast<std::size_t>(id) < impl_->special.size() && impl_->special[static_cast<std::size_t>(id)];
}

std::size_t Tokenizer::vocab_size() const { return impl_->id_to_token.size(); }

std::optional<std::int32_t> Tokenizer::bos_id() const {
  if (impl_->prefix_ids.empty()) return std::nullopt;
  return impl_->prefix_ids.front();
}

Json train_byte_level_bpe(std::span<const std::string> corpus, const BpeTrainerOptions& opt) {
  TTSEARCH_REQUIRE(opt.max_merges >= 0, "bpe trainer: max_merges must be >= 0 (got {})", opt.max_merges);
  TTSEARCH_REQUIRE(opt.min_frequency >= 1, "bpe trainer: min_frequency must be >= 1 (got {})", opt.min_frequency);
  const Regex split(onig_to_pcre2(opt.split_pattern), "bpe trainer split_pattern");
  // pieces with their corpus frequency; invalid UTF-8 bytes are pieces of their own (as in encode)
  std::map<std::string, std::int64_t> freq;
  for (const std::string& text : corpus) {
    std::size_t i = 0, run = 0;
    const auto pieces = [&](std::string_view s) {
      std::size_t last = 0;
      split.for_each_match(s, [&](std::size_t b, std::size_t e) {
        if (b > last) ++freq[std::string(s.substr(last, b - last))];
        ++freq[std::string(s.substr(b, e - b))];
        last = e;
      });
      if (last < s.size()) ++freq[std::string(s.substr(last))];
    };
    while (i < text.size()) {
      const std::size_t len = utf8_len(text, i);
      if (len == 0) {
        if (i > run) pieces(std::string_view(text).substr(run, i - run));
        ++freq[text.substr(i, 1)];
        run = ++i;
      } else {
        i += len;
      }
    }
    if (text.size() > run) pieces(std::string_view(text).substr(run));
  }
  const ByteMap& bm = byte_map();
  std::vector<std::string> tokens;  // id -> byte-level string
  for (int b = 0; b < 256; ++b) tokens.push_back(bm.to_char[b]);
  struct Word {
    std::vector<std::int32_t> sym;
    std::int64_t count;
  };
  std::vector<Word> words;
  for (const auto& [piece, count] : freq) {
    Word w{{}, count};
    for (unsigned char c : piece) w.sym.push_back(c);
    words.push_back(std::move(w));
  }
  Json merges = Json::array();
  for (std::int32_t m = 0; m < opt.max_merges; ++m) {
    std::map<std::pair<std::int32_t, std::int32_t>, std::int64_t> pairs;
    for (const Word& w : words) {
      for (std::size_t k = 0; k + 1 < w.sym.size(); ++k) pairs[{w.sym[k], w.sym[k + 1]}] += w.count;
    }
    const std::pair<std::int32_t, std::int32_t>* best = nullptr;
    std::int64_t best_count = 0;
    for (const auto& [pair, count] : pairs) {
      const bool better = count > best_count ||
                          (count == best_count && best &&
                           std::tie(tokens[static_cast<std::size_t>(pair.first)], tokens[static_cast<std::size_t>(pair.second)]) <
                               std::tie(tokens[static_cast<std::size_t>(best->first)], tokens[static_cast<std::size_t>(best->second)]));
      if (better) {
        best = &pair;
        best_count = count;
      }
    }
    if (!best || best_count < opt.min_frequency) break;
    const auto [a, b] = *best;
    const auto merged = static_cast<std::int32_t>(tokens.size());
    tokens.push_back(tokens[static_cast<std::size_t>(a)] + tokens[static_cast<std::size_t>(b)]);
    merges.push_back(Json::array({tokens[static_cast<std::size_t>(a)], tokens[static_cast<std::size_t>(b)]}));
    for (Word& w : words) {
      std::vector<std::int32_t> out;
      out.reserve(w.sym.size());
      for (std::size_t k = 0; k < w.sym.size(); ++k) {
        if (k + 1 < w.sym.size() && w.sym[k] == a && w.sym[k + 1] == b) {
          out.push_back(merged);
          ++k;
        } else {
          out.push_back(w.sym[k]);
        }
      }
      w.sym = std::move(out);
    }
  }
  Json vocab = Json::object();
  for (std::size_t id = 0; id < tokens.size(); ++id) vocab[tokens[id]] = id;
  Json added = Json::array();
  for (const std::string& sp : opt.special_tokens) {
    TTSEARCH_REQUIRE(!sp.empty() && !vocab.contains(sp), "bpe trainer: special token \"{}\" is empty or already a token", sp);
    const auto id = tokens.size() + added.size();
    added.push_back({{"id", id}, {"content", sp}, {"single_word", false}, {"lstrip", false}, {"rstrip", false},
                     {"normalized", false}, {"special", true}});
  }
  return Json{
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens", added},
      {"normalizer", nullptr},
      {"pre_tokenizer",
       {{"type", "Sequence"},
        {"pretokenizers",
         {{{"type", "Split"}, {"pattern", {{"Regex", opt.split_pattern}}}, {"behavior", "Isolated"}, {"invert", false}},
          {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false}, {"use_regex", false}}}}}},
      {"post_processor", nullptr},
      {"decoder", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}}},
      {"model",
       {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr}, {"continuing_subword_prefix", ""},
        {"end_of_word_suffix", ""}, {"fuse_unk", false}, {"byte_fallback", false}, {"ignore_merges", false},
        {"vocab", vocab}, {"merges", merges}}}};
}

std::string sanitize_utf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (std::size_t i = 0; i < bytes.size();) {
    const std::size_t len = utf8_len(bytes, i);
    if (len == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(bytes.substr(i, len));
      i += len;
    }
  }
  return out;
}

}  // namespace ttsearch::torch
