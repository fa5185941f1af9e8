#!/usr/bin/env bash
# Installs the Debian 12 packages ttsearch needs, only those that are missing, and says which.
# Idempotent: when everything is present it prints one line and changes nothing.
# Usage: bash cmake/setup-debian.sh [--no-torch]
set -euo pipefail

packages=(
  cmake ninja-build g++ pkg-config
  libfmt-dev libeigen3-dev nlohmann-json3-dev libcli11-dev libpcre2-dev libutf8proc-dev
  catch2 libbenchmark-dev
  clang libclang-rt-14-dev  # the sanitize preset: ASan + UBSan, and libFuzzer
)
if [[ "${1:-}" != "--no-torch" ]]; then
  # libopenblas0-pthread: without it libtorch's float matmul falls back to reference BLAS (~30x slower).
  packages+=(libtorch-dev libopenblas0-pthread)
fi

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "installed" ]] || missing+=("$p")
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "setup: all ${#packages[@]} Debian packages already installed"
  exit 0
fi

echo "setup: installing ${missing[*]}"
sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "setup: need root (or sudo) to install ${missing[*]}" >&2; exit 1; }
  sudo_cmd=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: installed ${#missing[@]} package(s)"
