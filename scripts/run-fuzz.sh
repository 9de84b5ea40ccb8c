#!/usr/bin/env bash
# make fuzz: runs each libFuzzer target (the list is $BUILD/fuzz/fuzzers.tsv, written by
# tests/unit/fuzz.cmake) for FUZZ_RUNS inputs, one after the other, on a fresh copy of its seed
# corpus, and prints per fuzzer the inputs run, the wall time and the result. Exits non-zero if
# any fuzzer crashed (a sanitizer report, a broken invariant, a leak, a timeout or out of memory);
# the crashing input is kept in $BUILD/fuzz/runs/<fuzzer>/.
#
#   scripts/run-fuzz.sh [BUILD] [FUZZER...]     default: build, every fuzzer
#   FUZZ_RUNS=N        inputs per fuzzer (default 10000000)
#   FUZZ_MAX_TIME=S    also stop each fuzzer after S seconds (default: no limit); the result
#                      then says how far it got
set -uo pipefail
BUILD=${1:-build}
shift || true
RUNS=${FUZZ_RUNS:-10000000}
MAX_TIME=${FUZZ_MAX_TIME:-0}
LIST=$BUILD/fuzz/fuzzers.tsv
OUT=$BUILD/fuzz/runs

die() { echo "[fuzz] $*" >&2; exit 2; }
[[ $RUNS =~ ^[0-9]+$ && $RUNS -gt 0 ]] || die "FUZZ_RUNS=$RUNS: must be a positive number of inputs"
[[ $MAX_TIME =~ ^[0-9]+$ ]] || die "FUZZ_MAX_TIME=$MAX_TIME: must be a number of seconds"
[ -f "$LIST" ] || die "$LIST not found: configure and build first (make build); without clang's libFuzzer no fuzzer is built"

mapfile -t entries < "$LIST"
names=()
for e in "${entries[@]}"; do [ -n "$e" ] && names+=("${e%%$'\t'*}"); done
wanted=("$@")
[ ${#wanted[@]} -gt 0 ] || wanted=("${names[@]}")
for w in "${wanted[@]}"; do
  [[ " ${names[*]} " == *" $w "* ]] || die "no fuzzer named $w (built: ${names[*]})"
done

echo "[fuzz] building ${wanted[*]}"
cmake --build "$BUILD" -j "${JOBS:-2}" --target "${wanted[@]}" > "$BUILD/fuzz/build.log" 2>&1 \
  || { tail -40 "$BUILD/fuzz/build.log"; die "build failed (log: $BUILD/fuzz/build.log)"; }

summary=()
status=0
for e in "${entries[@]}"; do
  [ -n "$e" ] || continue
  IFS=$'\t' read -r name bin seeds max_len <<< "$e"
  [[ " ${wanted[*]} " == *" $name "* ]] || continue
  dir=$OUT/$name
  rm -rf "$dir" && mkdir -p "$dir/corpus"
  [ -d "$seeds" ] && cp -r "$seeds/." "$dir/corpus/"
  limit=()
  [ "$MAX_TIME" -gt 0 ] && limit=(-max_total_time="$MAX_TIME")
  echo "[fuzz] $name: $RUNS inputs from $(ls "$dir/corpus" | wc -l) seeds (log: $dir/fuzz.log)"
  start=$(date +%s.%N)
  # Protobuf logs each string field it refuses (not UTF-8): millions of lines (gigabytes) from a
  # fuzzer that does not silence it, and nothing a reader of the log needs.
  "$bin" -runs="$RUNS" "${limit[@]}" -rss_limit_mb=2048 -timeout=60 -max_len="$max_len" \
    -print_final_stats=1 -artifact_prefix="$dir/" "$dir/corpus" 2>&1 \
    | grep -av '^\[libprotobuf ERROR .*invalid UTF-8 data' > "$dir/fuzz.log"
  rc=${PIPESTATUS[0]}
  secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  done_runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/fuzz.log" | tail -1)
  artifact=$(ls "$dir"/crash-* "$dir"/leak-* "$dir"/timeout-* "$dir"/oom-* 2>/dev/null | head -1)
  if [ $rc -eq 0 ] && [ -z "$artifact" ]; then
    if [ "${done_runs:-0}" -ge "$RUNS" ]; then result=ok; else result="ok, stopped at FUZZ_MAX_TIME=${MAX_TIME}s"; fi
  else
    status=1
    result="CRASH (exit $rc${artifact:+, input $artifact}; see $dir/fuzz.log)"
    # A crash ends the run before the final stats; the last status line says how far it got.
    [ -n "$done_runs" ] || done_runs=$(grep -oE '^#[0-9]+' "$dir/fuzz.log" | tail -1 | tr -d '#')
  fi
  rate=$(awk -v n="${done_runs:-0}" -v s="$secs" 'BEGIN { printf "%d", n / (s + 0.001) }')
  line=$(printf '%-28s %12s inputs %9.1f s %8s/s  %s' "$name" "${done_runs:-?}" "$secs" "$rate" "$result")
  echo "[fuzz] $line"
  summary+=("$line")
done

echo "[fuzz] summary (FUZZ_RUNS=$RUNS):"
printf '[fuzz]   %s\n' "${summary[@]}"
exit $status
