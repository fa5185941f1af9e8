#!/usr/bin/env bash
# Live parity: encodes fresh random strings with Hugging Face's tokenizers (npm) and with
# `ttsearch tokenize`, and compares every id. Skips (prints SKIPPED:) when npm cannot install it.
# Usage: parity.sh TTSEARCH_BINARY TOKENIZER_JSON WORK_DIR [COUNT] [SEED (default 11)]
set -euo pipefail
bin=$1 tokenizer=$2 work=$3 count=${4:-3000} seed=${5:-11}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$work"
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "SKIPPED: node/npm not available"; exit 0
fi
if [[ ! -d "$work/node_modules/tokenizers" ]]; then
  if ! (cd "$work" && npm install --no-audit --no-fund --silent tokenizers@0.23.2 >/dev/null 2>&1); then
    echo "SKIPPED: npm could not install tokenizers"; exit 0
  fi
fi
NODE_PATH="$work/node_modules" node "$here/golden.js" "$tokenizer" "$work/hf.jsonl" "$count" "$seed" >/dev/null
"$bin" tokenize --tokenizer "$tokenizer" -i "$work/hf.jsonl" --ids-field ours -o "$work/ours.jsonl" 2>/dev/null
node -e '
const fs = require("fs");
const lines = fs.readFileSync(process.argv[1], "utf8").trim().split("\n").map(JSON.parse);
let bad = 0;
for (const l of lines) {
  if (JSON.stringify(l.ids) !== JSON.stringify(l.ours)) {
    if (++bad <= 5) console.log("MISMATCH", JSON.stringify(l.text), JSON.stringify(l.ids), JSON.stringify(l.ours));
  }
}
console.log(`parity: ${lines.length} strings (seed ${process.argv[2]}), ${bad} mismatches`);
process.exit(bad ? 1 : 0);
' "$work/ours.jsonl" "$seed"
