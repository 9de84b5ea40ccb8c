#!/usr/bin/env bash
# Runs test tiers in order: unit (parallel), then bpf, vm and e2e one at a time (each VM uses
# most of a core under TCG).
# usage: run-tests.sh [BUILD [TIER...]]     (default: build, and the tiers unit bpf vm e2e)
#
# Fails if any test failed, was skipped or was not run, and fails a tier whose listing
# (ctest -N) fails or that has no test at all: on this machine kind every tier can run, so a
# tier that tests nothing is a failure to chase, not a pass.
set -uo pipefail
BUILD=${1:-build}
[ $# -gt 0 ] && shift
tiers=("$@")
[ ${#tiers[@]} -gt 0 ] || tiers=(unit bpf vm e2e)
cd "$(dirname "$0")/.."
if [ ! -d "$BUILD" ]; then
  echo "[test] FAILED: no build directory $BUILD (run make build first)" >&2
  exit 1
fi
log=$(cd "$BUILD" && pwd)/test-results  # absolute: ctest takes a relative --output-junit inside the build tree
mkdir -p "$log" || exit 1
status=0
for tier in "${tiers[@]}"; do
  if ! listing=$(ctest --test-dir "$BUILD" -N -L "^$tier\$" 2>&1); then
    echo "[test] tier $tier: FAILED: listing its tests failed (ctest --test-dir $BUILD -N):" >&2
    echo "$listing" | tail -20 >&2
    status=1
    continue
  fi
  n=$(awk '/^Total Tests:/{print $3}' <<<"$listing")
  if [ -z "$n" ]; then
    echo "[test] tier $tier: FAILED: ctest -N printed no 'Total Tests:' line:" >&2
    echo "$listing" | tail -20 >&2
    status=1
    continue
  fi
  if [ "$n" = 0 ]; then
    echo "[test] tier $tier: FAILED: no tests (is $BUILD configured and built? is the label right?)" >&2
    status=1
    continue
  fi
  jobs=1; [ "$tier" = unit ] && jobs=$(nproc)
  echo "[test] tier $tier: $n tests"
  ctest --test-dir "$BUILD" -L "^$tier\$" -j "$jobs" --output-on-failure --output-junit "$log/$tier.xml" \
    | tee "$log/$tier.log" | grep -vE '^\s*[0-9]+/[0-9]+ Test +#[0-9]+: .* Passed'
  [ "${PIPESTATUS[0]}" = 0 ] || status=1
  # ctest exits 0 when a test is skipped or disabled; here both fail the run.
  if grep -qE '\*\*\*(Skipped|Not Run)' "$log/$tier.log"; then
    echo "[test] tier $tier: FAILED: tests were SKIPPED or NOT RUN — every tier must run on this machine kind:" >&2
    grep -E '\*\*\*(Skipped|Not Run)' "$log/$tier.log" >&2
    status=1
  fi
done
exit $status
