#!/usr/bin/env bash
# The ISA-specific GEMM objects must not define a weak symbol outside their own Eigen namespace:
# the linker keeps one copy of each weak (COMDAT) symbol, so an AVX-512 instantiation shared with
# other code could run on a CPU without AVX-512. Usage: check_gemm_symbols.sh OBJECT...
set -euo pipefail
status=0
for obj in "$@"; do
  if [[ $obj =~ ttsearch_gemm_([a-z0-9]+)\.dir/ ]]; then isa=${BASH_REMATCH[1]}; else   # CMakeFiles/ttsearch_gemm_ISA.dir/...
    echo "check_gemm_symbols: $obj does not define a kernel (not in a ttsearch_gemm_ISA.dir folder)"; status=1; continue
  fi
  if ! nm --defined-only "$obj" | grep -qE " T ttsearch_gemm_${isa}$"; then
    echo "check_gemm_symbols: $obj does not define ttsearch_gemm_${isa}"; status=1
  fi
  leaked=$(nm -C --defined-only "$obj" | awk '$2 ~ /^[WVuw]$/' | grep -v "ttsearch_eigen_${isa}::" | grep -v "DW.ref.__gxx_personality_v0" || true)
  if [[ -n "$leaked" ]]; then
    echo "check_gemm_symbols: $obj defines weak symbols outside ttsearch_eigen_${isa}:"; echo "$leaked" | cut -c1-200; status=1
  else
    echo "check_gemm_symbols: $obj: isolated ($(nm --defined-only "$obj" | wc -l) symbols)"
  fi
done
exit $status
