#!/usr/bin/env bash
# catch_discover_tests turns each Catch2 test name into a ctest filter; a name with ',' ';' or '\'
# becomes a filter that matches nothing, and that ctest entry passes without running anything.
# Fails when any test binary given has such a name.
set -euo pipefail
bad=0
for bin in "$@"; do
  while IFS= read -r name; do
    if [[ "$name" == *[,\;\\]* ]]; then
      echo "undiscoverable test name in $(basename "$bin"): $name"
      bad=1
    fi
  done < <("$bin" --list-test-names-only)
done
[[ $bad == 0 ]] && echo "test names: all discoverable"
exit $bad
