#!/usr/bin/env bash
# expect.sh RC REGEX... -- COMMAND ARGS...: runs COMMAND; passes when its exit code is RC and every
# extended regular expression REGEX matches some line of its output (stdout and stderr together).
# CTest's PASS_REGULAR_EXPRESSION alone ignores the exit code.
set -u
rc_expected=$1; shift
regexes=()
while [[ $# -gt 0 && $1 != -- ]]; do regexes+=("$1"); shift; done
[[ $# -gt 0 ]] && shift
out=$("$@" 2>&1); rc=$?
printf '%s\n' "$out"
if [[ $rc -ne $rc_expected ]]; then echo "expect.sh: exit code $rc, expected $rc_expected"; exit 1; fi
for re in "${regexes[@]}"; do
  if ! grep -Eq -- "$re" <<<"$out"; then echo "expect.sh: no output line matches: $re"; exit 1; fi
done
echo "expect.sh: ok"
