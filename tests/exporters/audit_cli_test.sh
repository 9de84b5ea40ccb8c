#!/bin/sh
# The audit log's acceptance checks on the real binaries: `kata-sentry audit verify` names a
# flipped byte in a sealed segment (file, offset, seq) and a truncated tail, and kata-sentryd
# recovers the truncated log on start (the torn bytes moved aside, an audit record saying so),
# after which verify passes and `audit show|tail` print the records.
# usage: audit_cli_test.sh KATA_SENTRY KATA_SENTRYD AUDIT_BURST
set -u
ks=$1 sentryd=$2 burst=$3
fail() { echo "FAIL: $*"; exit 1; }
T=$(mktemp -d /tmp/ks-audit-cli-XXXXXX) || fail "mktemp"
SD=
cleanup() {
  [ -n "$SD" ] && kill "$SD" 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT

# A log of 2000 records {"rule":"burst",...,"n":i} (seq = i + 1: no checkpoint before the end)
# in 64 KiB segments, written by the same pipeline kata-sentryd runs.
cat > "$T/export.yaml" <<EOF
audit:
  dir: $T/log
  key_file: $T/node.key
  segment_bytes: 65536
  checkpoint_records: 100000
  min_free_bytes: 0
exporters: []
EOF
"$burst" "$T/export.yaml" 2000 > "$T/burst.out" || fail "audit_burst exited $?: $(cat "$T/burst.out")"
grep -q '^done$' "$T/burst.out" || fail "audit_burst did not finish"
out=$("$ks" audit verify "$T/log") || fail "verify of the intact log exited $?: $out"
echo "$out"
echo "$out" | grep -q '^OK: 2000 record(s), seq 1..2000, ' || fail "verify of the intact log: $out"
first=$T/log/seg-00000000000000000001.ksa
[ -f "$first" ] && [ "$(ls "$T"/log/seg-*.ksa | wc -l)" -ge 2 ] || fail "expected a sealed first segment: $(ls "$T/log")"

# Frame sizes: 8 (length, CRC) + 68 (body header) + the payload; records n = 0..9 have equal ones.
payload_len() { printf '{"rule":"burst","priority":"Warning","n":%s}' "$1" | wc -c; }
frame=$((8 + 68 + $(payload_len 0)))
# Record seq 4 (n = 3) starts after the 80-byte segment header and three frames; flip one bit
# of its payload.
off=$((80 + 3 * frame))
at=$((off + 8 + 68 + 5))
flip() {
  b=$(dd if="$first" bs=1 skip="$at" count=1 2>/dev/null | od -An -tu1 | tr -d ' ')
  printf "$(printf '\\%03o' $((b ^ 32)))" | dd of="$first" bs=1 seek="$at" count=1 conv=notrunc 2>/dev/null
}
flip
out=$("$ks" audit verify "$T/log"); rc=$?
echo "$out"
[ "$rc" = 1 ] || fail "verify of a flipped byte exited $rc, want 1"
echo "$out" | grep -q "^FAILED: $first offset $off seq 4: " || fail "verify did not name $first offset $off seq 4: $out"
out=$("$ks" audit verify --json "$T/log"); rc=$?
[ "$rc" = 1 ] || fail "verify --json exited $rc"
echo "$out" | grep -q "\"offset\":$off,\"seq\":4" || fail "verify --json: $out"
flip  # back as it was
"$ks" audit verify "$T/log" > /dev/null || fail "verify after flipping the byte back"

# Truncate the tail inside the last record (seq 2000, n = 1999).
last=$(ls "$T"/log/seg-*.ksa | tail -1)
size=$(stat -c %s "$last")
last_off=$((size - (8 + 68 + $(payload_len 1999))))
truncate -s $((size - 10)) "$last"
out=$("$ks" audit verify "$T/log"); rc=$?
echo "$out"
[ "$rc" = 1 ] || fail "verify of a truncated tail exited $rc, want 1"
echo "$out" | grep -q "^FAILED: $last offset $last_off seq 2000: truncated" || fail "verify did not report the truncation at $last_off: $out"

# kata-sentryd recovers the log on start; SIGTERM closes it with a signed checkpoint.
cat > "$T/sentryd.yaml" <<EOF
socket: $T/sentryd.sock
alerts_file: ""
host_probes: false
audit:
  dir: $T/log
  key_file: $T/node.key
  segment_bytes: 65536
  min_free_bytes: 0
EOF
"$sentryd" --config "$T/sentryd.yaml" 2> "$T/sentryd.log" &
SD=$!
i=0
until grep -q 'serving on' "$T/sentryd.log"; do
  kill -0 "$SD" 2>/dev/null || fail "kata-sentryd exited: $(cat "$T/sentryd.log")"
  i=$((i + 1)); [ $i -lt 300 ] || fail "kata-sentryd did not start: $(cat "$T/sentryd.log")"
  sleep 0.1
done
kill "$SD"; wait "$SD" || fail "kata-sentryd exited $? on SIGTERM: $(cat "$T/sentryd.log")"
SD=
grep -q "truncated $(basename "$last") at offset $last_off after seq 1999" "$T/sentryd.log" || fail "no recovery message: $(cat "$T/sentryd.log")"
ls "$T"/log/torn/ | grep -q . || fail "the torn tail was not kept in torn/"
out=$("$ks" audit verify "$T/log") || fail "verify after recovery exited $?: $out"
echo "$out"
echo "$out" | grep -q '^OK: 2001 record(s), seq 1..2001, ' || fail "after recovery: 1999 records + the recovery record + the final checkpoint: $out"
"$ks" audit show --kind audit "$T/log" | grep -q '"detail":"audit log recovered: truncated ' || fail "no audit record of the recovery"
"$ks" audit show --from 2 --count 1 "$T/log" | grep -q '^{"seq":2,.*"kind":"alert",.*"record":{"rule":"burst","priority":"Warning","n":1}}$' ||
  fail "audit show: $("$ks" audit show --from 2 --count 1 "$T/log")"
[ "$("$ks" audit tail -n 3 "$T/log" | wc -l)" = 3 ] || fail "audit tail -n 3"
"$ks" audit tail -n 1 "$T/log" | grep -q '"kind":"checkpoint"' || fail "the last record is not the closing checkpoint"
echo "PASS"
