// Encodes test strings with Hugging Face's own tokenizers library (npm "tokenizers") and writes
// golden ids: one JSON line {"text", "ids", "ids_special", "decoded"} per string.
// Usage: node tests/tokenizer/golden.js TOKENIZER_JSON OUT_JSONL [COUNT] [SEED]
// (needs `npm install tokenizers@0.23.2` in a folder on NODE_PATH or above this one)
const { Tokenizer } = require("tokenizers");
const fs = require("fs");

const hand = [
  "", " ", "  ", "hello", " hello", "  hello", "hello  world", "hello world  ", "a\n\nb", "a\r\nb", "\n\n\n",
  "tabs\tand\t\ttabs", "12345", "1234567", "3.14159", "x = 42 + 7", "-12,345.67", "1/2 + 3/4",
  "I'm here, you're there, it's fine, we'll see, they'd go", "I'M LOUD, DON'T SHOUT", "don't'", "'s",
  "The answer is \\boxed{42}.", "Step 1: 7 + 5 = 12\n\nStep 2: 12 * 3 = 36\n\n", "$\\frac{1}{2}$",
  "日本語のテキスト", "中文，数学问题。", "한국어 텍스트", "Ελληνικά", "русский текст", "עברית", "العربية",
  "🙂", "🚀🚀 rockets", "👩‍👩‍👧 family", "café", "cafe\u0301", "Ångström", "A\u030angstro\u0308m",
  "nbsp\u00a0here", "ideographic\u3000space", "nel\u0085line", "zero\u200bwidth", "line\u2028sep",
  "<|im_start|>user\nhi<|im_end|>", "a<|endoftext|>b", "<extra_0><extra_0>", "step one<extra_0>step two<extra_0>",
  "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>", "<|im_start", "<extra_0",
  "    indented code\n        more", "!!!???...", "a,b;c:d", "(1, 2]", "\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}",
];

function mulberry32(a) {
  return function () {
    a |= 0; a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomStrings(count, seed) {
  const rnd = mulberry32(seed);
  const pools = [
    "abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "0123456789", "      ", "\n\n\r\t",
    ".,;:!?'\"()[]{}+-*/=<>\\$%^&_|~`@#", "éèêëàâäôöûüçñÅ", "日本語中文한국어", "ελληνικάрусский",
    "\u00a0\u3000\u0085\u2009\u200b", "🙂🚀👍🏽", "'s 're 've 'll 'd 'm 't",
  ];
  const specials = ["<|im_start|>", "<|im_end|>", "<|endoftext|>", "<extra_0>", "<|begin_of_text|>", "<|eot_id|>"];
  const out = [];
  for (let i = 0; i < count; i++) {
    const len = 1 + Math.floor(rnd() * 40);
    let s = "";
    for (let k = 0; k < len; k++) {
      if (rnd() < 0.03) { s += specials[Math.floor(rnd() * specials.length)]; continue; }
      const pool = Array.from(pools[Math.floor(rnd() * pools.length)]);
      s += pool[Math.floor(rnd() * pool.length)];
    }
    out.push(s);
  }
  return out;
}

async function main() {
  const [file, outPath, countArg, seedArg] = process.argv.slice(2);
  const tok = Tokenizer.fromFile(file);
  const strings = hand.concat(randomStrings(Number(countArg || 2000), Number(seedArg || 7)));
  const lines = [];
  for (const text of strings) {
    const plain = await tok.encode(text, null, { addSpecialTokens: false });
    const special = await tok.encode(text, null, { addSpecialTokens: true });
    const decoded = await tok.decode(plain.getIds(), false);
    lines.push(JSON.stringify({ text, ids: plain.getIds(), ids_special: special.getIds(), decoded }));
  }
  fs.writeFileSync(outPath, lines.join("\n") + "\n");
  console.log(`${strings.length} strings -> ${outPath}`);
}
main().catch((e) => { console.error(e); process.exit(1); });
