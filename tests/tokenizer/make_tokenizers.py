#!/usr/bin/env python3
"""Trains a small byte-level BPE vocabulary and writes it as two Hugging Face tokenizer.json
files in the exact formats of the target families:
  qwen2.tokenizer.json   NFC normalizer, Qwen2 split regex (single digits), no BOS, merges as
                         ["a", "b"] pairs, added tokens <|endoftext|> <|im_start|> <|im_end|> <extra_0>
  llama3.tokenizer.json  no normalizer, Llama-3 regex (digits in groups of 3), ignore_merges,
                         BOS by TemplateProcessing, merges as "a b" strings
The training corpus is generated here (arithmetic solutions, English and a few scripts), so the
files are reproducible: python3 tests/tokenizer/make_tokenizers.py tests/data/tokenizer
"""
import collections
import json
import random
import re
import sys
from pathlib import Path

QWEN2 = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
LLAMA3 = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
# Python's re has no \p{..}: an approximation is enough to find training pieces.
TRAIN_SPLIT = re.compile(r"'s|'t|'re|'ve|'m|'ll|'d|[^\r\n\w]?[^\W\d_]+|\d| ?[^\s\w]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")


def bytes_to_unicode():
    bs = list(range(0x21, 0x7F)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


def corpus(rng):
    words = ("the answer is we have so then step first next add subtract multiply divide result total each "
             "number sum product difference problem solve check value equals therefore because which there "
             "they are were it's don't we'll I'm you've can't").split()
    lines = []
    for _ in range(3000):
        a, b = rng.randint(0, 999), rng.randint(1, 99)
        op = rng.choice(["+", "-", "*"])
        val = eval(f"{a}{op}{b}")
        lines.append(f"Step {rng.randint(1, 9)}: {a} {op} {b} = {val}\n\n")
        lines.append(" ".join(rng.choice(words) for _ in range(rng.randint(3, 12))).capitalize() + ".\n")
        lines.append(f"The answer is \\boxed{{{val}}}.\n")
    lines += ["日本語のテキストです。", "中文文本，数学问题。", "Ünïcödé àccénts café naïve", "emoji 🙂🚀 ok",
              "tabs\tand  double  spaces", "Ελληνικά και русский текст"] * 50
    return "".join(lines)


def train(text, num_merges):
    b2u = bytes_to_unicode()
    counts = collections.Counter(TRAIN_SPLIT.findall(text))
    words = {tuple(b2u[b] for b in w.encode("utf-8")): c for w, c in counts.items()}
    vocab = [b2u[b] for b in range(256)]
    merges = []
    for _ in range(num_merges):
        pairs = collections.Counter()
        for w, c in words.items():
            for a, b in zip(w, w[1:]):
                pairs[(a, b)] += c
        if not pairs:
            break
        (a, b), freq = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))
        if freq < 2:
            break
        merges.append((a, b))
        vocab.append(a + b)
        new_words = {}
        for w, c in words.items():
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and w[i] == a and w[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            new_words[tuple(out)] = new_words.get(tuple(out), 0) + c
        words = new_words
    return vocab, merges


def added(content, i, special=True):
    return {"id": i, "content": content, "single_word": False, "lstrip": False, "rstrip": False,
            "normalized": False, "special": special}


def main(out_dir):
    rng = random.Random(1234)
    vocab, merges = train(corpus(rng), 1500)
    ids = {t: i for i, t in enumerate(vocab)}
    n = len(vocab)
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}
    qwen_added = [added(t, n + k) for k, t in enumerate(["<|endoftext|>", "<|im_start|>", "<|im_end|>"])]
    qwen_added.append(added("<extra_0>", n + 3, special=False))
    qwen = {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": qwen_added,
        "normalizer": {"type": "NFC"},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": QWEN2}, "behavior": "Isolated", "invert": False}, byte_level]},
        "post_processor": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
        "decoder": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
                  "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": ids, "merges": [[a, b] for a, b in merges]},
    }
    bos = "<|begin_of_text|>"
    llama_added = [added(t, n + k) for k, t in enumerate([bos, "<|end_of_text|>", "<|start_header_id|>",
                                                          "<|end_header_id|>", "<|eot_id|>"])]
    llama = {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": llama_added, "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": LLAMA3}, "behavior": "Isolated", "invert": False}, byte_level]},
        "post_processor": {"type": "Sequence", "processors": [
            {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
            {"type": "TemplateProcessing",
             "single": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
             "pair": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                      {"SpecialToken": {"id": bos, "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
             "special_tokens": {bos: {"id": bos, "ids": [n], "tokens": [bos]}}}]},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": True,
                  "vocab": ids, "merges": [f"{a} {b}" for a, b in merges]},
    }
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "qwen2.tokenizer.json").write_text(json.dumps(qwen, ensure_ascii=False))
    (out / "llama3.tokenizer.json").write_text(json.dumps(llama, ensure_ascii=False))
    print(f"vocab {len(vocab)} + added tokens, {len(merges)} merges -> {out}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/data/tokenizer")
