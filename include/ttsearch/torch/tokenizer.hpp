#pragma once
/// A native byte-level BPE tokenizer that loads Hugging Face's tokenizer.json unchanged
/// (GPT-2 / Qwen2 / Llama-3 family; formats.md section 3). Torch-free.
///
/// Encoding: (1) added tokens are matched first, leftmost-longest (lstrip / rstrip / single_word
/// honoured); (2) each remaining segment is normalised (NFC, or none); (3) pre-tokenised by the
/// Split regex (PCRE2 with UTF + UCP, so \p{L}, \p{N} and the (?!\S) look-ahead work) and/or the
/// ByteLevel pre-tokenizer; (4) each piece's UTF-8 bytes go through bytes_to_unicode and BPE
/// (lowest merge rank first, leftmost on ties; `ignore_merges` emits a piece found whole in the
/// vocabulary); (5) the TemplateProcessing post-processor adds BOS when asked.
/// Both merges forms are read ("a b" strings and ["a", "b"] pairs).
/// Arbitrary bytes round-trip: an invalid UTF-8 byte becomes its own piece (its byte token), and
/// decode() returns the exact bytes (use decode_text() for display, with U+FFFD for bad bytes).
/// Not supported (clear error at load): non-BPE models, SentencePiece-style (Metaspace, byte
/// fallback) tokenizers, and normalizers / pre-tokenizers other than those above.
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace ttsearch::torch {

class Tokenizer {
 public:
  /// Loads tokenizer.json; throws ParseError / InvalidArgument naming the file and the problem.
  static Tokenizer from_file(const std::string& path);
  static Tokenizer from_json(const nlohmann::json& j, std::string name = "tokenizer.json");

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  [[nodiscard]] std::vector<std::int32_t> encode(std::string_view text, bool add_special_tokens = false) const;
  /// The exact bytes of the tokens (added tokens as their content; special ones dropped when asked).
  [[nodiscard]] std::string decode(std::span<const std::int32_t> ids, bool skip_special_tokens = false) const;
  /// decode() with invalid UTF-8 replaced by U+FFFD (HF's lossy decoding).
  [[nodiscard]] std::string decode_text(std::span<const std::int32_t> ids, bool skip_special_tokens = false) const;

  [[nodiscard]] std::optional<std::int32_t> token_to_id(std::string_view token) const;
  /// The token string (byte-level form) of `id`; throws InvalidArgument when out of range.
  [[nodiscard]] const std::string& id_to_token(std::int32_t id) const;
  [[nodiscard]] bool is_special(std::int32_t id) const;
  [[nodiscard]] std::size_t vocab_size() const;  ///< largest id + 1
  [[nodiscard]] std::optional<std::int32_t> bos_id() const;  ///< the post-processor's BOS, if any

  struct Impl;  ///< opaque

 private:
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// Options of train_byte_level_bpe.
struct BpeTrainerOptions {
  /// The Split pre-tokenizer's regex (behaviour "Isolated": matches and the text between them are
  /// pieces); merges never cross pieces. The default is Qwen2's pattern.
  std::string split_pattern =
      R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
  std::int32_t max_merges = 256;     ///< at most this many merges
  std::int64_t min_frequency = 2;    ///< a pair seen fewer times in the corpus is never merged
  std::vector<std::string> special_tokens;  ///< added tokens (special), ids after the vocabulary, in order
};

/// Trains a byte-level BPE tokenizer on `corpus` and returns its tokenizer.json (Hugging Face's
/// layout: Split + ByteLevel pre-tokenizer, ByteLevel decoder, BPE model with the 256 byte tokens,
/// then one token per merge, then the special tokens). The rule is Hugging Face BpeTrainer's:
/// repeatedly merge the most frequent adjacent pair of symbols within pieces (frequency counted
/// over the corpus); ties go to the lexicographically smallest pair, so the result depends only on
/// the corpus and the options.
nlohmann::json train_byte_level_bpe(std::span<const std::string> corpus, const BpeTrainerOptions& opt = {});

/// Replaces invalid UTF-8 sequences by U+FFFD.
std::string sanitize_utf8(std::string_view bytes);

}  // namespace ttsearch::torch
