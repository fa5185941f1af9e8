#!/usr/bin/env bash
# CPU decode speed side by side: ttsearch's runtime (bench_decode BM_Decode) and llama.cpp
# (llama-batched-bench) on the same random Qwen2.5-0.5B-shaped weights (bench_decode's safetensors
# folder, written as an F32 GGUF by bench/st2gguf.py), the same work (one shared prompt of the
# length bench_decode reports, 16 new tokens per sequence, batch 1 / 16 / 64) and the same threads.
# Prints tokens/s of both and the ratio ttsearch / llama.cpp, and keeps both raw outputs in WORK.
#
# usage: bench/compare_llamacpp.sh BUILD_DIR [WORK_DIR]      (BUILD_DIR: e.g. build/release)
#   LLAMA_CPP_SRC=DIR  a llama.cpp source tree; without it the source bundled in the npm package
#                      node-llama-cpp@3.22.1 (llama.cpp v0.5.0 tag of that package) is fetched with npm.
#   THREADS=N          llama.cpp's threads (default: the number of cores, which libtorch uses too).
#   OPENBLAS_CORETYPE=Prescott reproduces a CPU that OpenBLAS 0.3.21 does not recognise (ttsearch side).
# Needs: cmake, a C++ compiler, python3 with numpy (Debian: python3-numpy), npm without LLAMA_CPP_SRC.
# Not part of CI: it builds llama.cpp (~10 min on 2 cores) and runs both benchmarks (~5 min).
set -euo pipefail
build=$(cd "${1:?usage: compare_llamacpp.sh BUILD_DIR [WORK_DIR]}" && pwd)
work=${2:-/tmp/ttsearch_llamacpp}
threads=${THREADS:-$(nproc)}
mkdir -p "$work"
py=/usr/bin/python3; [[ -x $py ]] || py=python3
"$py" -c 'import numpy' 2>/dev/null || { echo "compare_llamacpp: python3 needs numpy (apt-get install python3-numpy)"; exit 2; }

src=${LLAMA_CPP_SRC:-}
if [[ -z $src ]]; then
  src=$work/llama.cpp
  if [[ ! -d $src ]]; then
    (cd "$work" && npm init -y >/dev/null && npm install --no-audit --no-fund --ignore-scripts node-llama-cpp@3.22.1 >/dev/null)
    git clone -q "$work/node_modules/node-llama-cpp/llama/gitRelease.bundle" "$src"
  fi
fi
echo "llama.cpp: $src ($(git -C "$src" describe --tags --always 2>/dev/null || echo unknown))"
if [[ ! -x $work/llama-build/bin/llama-batched-bench ]]; then
  cmake -S "$src" -B "$work/llama-build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DLLAMA_CURL=OFF \
        -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF >/dev/null
  cmake --build "$work/llama-build" -j"$(nproc)" --target llama-batched-bench >/dev/null
fi

# ttsearch first: it writes the model folder on first use and reports the prompt length
"$build/bench/bench_decode" --benchmark_filter=BM_Decode --benchmark_format=json > "$work/ttsearch.json"
model=$(ls -d "${TMPDIR:-/tmp}"/ttsearch_bench_qwen05_24 2>/dev/null || true)
[[ -n $model ]] || { echo "compare_llamacpp: bench_decode's model folder not found"; exit 2; }
[[ -f $work/model-f32.gguf ]] || "$py" "$(dirname "$0")/st2gguf.py" "$model" "$work/model-f32.gguf" "$src/gguf-py"
pp=$("$py" -c 'import json,sys; b=json.load(open(sys.argv[1]))["benchmarks"]; print(int(b[0]["prompt_tokens"]))' "$work/ttsearch.json")
"$work/llama-build/bin/llama-batched-bench" -m "$work/model-f32.gguf" -c 4096 -b 2048 -ub 512 -npp "$pp" -ntg 16 -npl 1,16,64 -pps -kvu \
  -t "$threads" -tb "$threads" --output-format jsonl > "$work/llama.jsonl" 2> "$work/llama.log"

"$py" - "$work/ttsearch.json" "$work/llama.jsonl" "$pp" "$threads" <<'PY'
import json, sys
t = {int(b["name"].split("/")[1]): b for b in json.load(open(sys.argv[1]))["benchmarks"]}
ctx = json.load(open(sys.argv[1]))["context"]
l = {}
for line in open(sys.argv[2]):
    line = line.strip()
    if line.startswith("{") and '"pl"' in line:
        j = json.loads(line)
        l[j["pl"]] = j["pl"] * j["tg"] / j["t"]  # generated tokens / (shared prefill + decode) seconds
print(f"same work: one shared {sys.argv[3]}-token prompt, 16 new tokens per sequence, {sys.argv[4]} threads")
print(f"ttsearch: {ctx.get('blas', '?')}; cpu gemm {ctx.get('cpu_gemm', '?')}")
print(f"{'batch':>5} {'ttsearch':>10} {'(kernel)':>10} {'(blas)':>10} {'llama.cpp':>10} {'ratio':>7}")
for b in sorted(t):
    r = t[b]["tokens_per_s"] / l[b] if b in l else float("nan")
    print(f"{b:>5} {t[b]['tokens_per_s']:>10.2f} {t[b]['tokens_per_s_kernel']:>10.2f} {t[b]['tokens_per_s_blas']:>10.2f} {l.get(b, float('nan')):>10.2f} {r:>6.2f}x")
PY
