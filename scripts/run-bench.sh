#!/usr/bin/env bash
# Runs every benchmark under build/bench/ (each prints its own table with ratios from one run),
# then one summary: every figure against its goal (bench/summary/goals.h), also written to
# build/bench/summary.json so that runs on different commits can be compared.
# Exits non-zero when a benchmark failed or a goal's figure could not be measured.
set -uo pipefail
BUILD=${1:-build}
status=0
found=0
export KS_BENCH_FIGURES="$BUILD/bench/figures.jsonl"
: > "$KS_BENCH_FIGURES"
for b in "$BUILD"/bench/*; do
  [ -x "$b" ] && [ -f "$b" ] || continue
  found=1
  echo "== $(basename "$b")"
  "$b"; rc=$?  # read before the message's own command substitution resets $?
  [ $rc = 0 ] || { echo "[bench] $(basename "$b") failed (exit $rc)"; status=1; }
  echo
done
[ $found = 1 ] || { echo "[bench] no benchmarks built in $BUILD/bench"; exit 1; }
commit=$(git -C "$(dirname "$0")/.." rev-parse --short HEAD 2>/dev/null || echo unknown)
"$BUILD/bench-tools/bench_summary" "$KS_BENCH_FIGURES" "$BUILD/bench/summary.json" "$commit" || status=1
exit $status
