#!/usr/bin/env bash
# Runs every benchmark under build/bench/ (each prints its own table with ratios from one run).
set -uo pipefail
BUILD=${1:-build}
status=0
found=0
for b in "$BUILD"/bench/*; do
  [ -x "$b" ] && [ -f "$b" ] || continue
  found=1
  echo "== $(basename "$b")"
  "$b" || status=1
  echo
done
[ $found = 1 ] || echo "[bench] no benchmarks built yet"
exit $status
