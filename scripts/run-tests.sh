#!/usr/bin/env bash
# Runs every test tier in order: unit (parallel), then bpf, vm and e2e one at a time
# (each VM uses most of a core under TCG). Fails if any test failed or was skipped:
# on this machine kind every tier can run, so a skip is a failure to chase.
set -uo pipefail
BUILD=${1:-build}
cd "$(dirname "$0")/.."
log=$BUILD/test-results
mkdir -p "$log"
status=0
for tier in unit bpf vm e2e; do
  n=$(ctest --test-dir "$BUILD" -N -L "^$tier\$" 2>/dev/null | awk '/Total Tests:/{print $3}')
  if [ "${n:-0}" = 0 ]; then echo "[test] tier $tier: no tests yet"; continue; fi
  jobs=1; [ "$tier" = unit ] && jobs=$(nproc)
  echo "[test] tier $tier: $n tests"
  ctest --test-dir "$BUILD" -L "^$tier\$" -j "$jobs" --output-on-failure --output-junit "$PWD/$log/$tier.xml" \
    | tee "$log/$tier.log" | grep -vE '^\s*[0-9]+/[0-9]+ Test +#[0-9]+: .* Passed'
  [ "${PIPESTATUS[0]}" = 0 ] || status=1
  if grep -q "\*\*\*Skipped" "$log/$tier.log"; then
    echo "[test] tier $tier: tests were SKIPPED — every tier must run on this machine kind" >&2
    status=1
  fi
done
exit $status
