#!/usr/bin/env bash
# The main job of `make demo`. Grows with each capability; today: host capability check, a few
# seconds of live host tracing of a triggered exec and open, a detection and a block in a
# sandbox, and a pod started through containerd's CRI plugin (scripts/demo-cri.sh).
set -euo pipefail
BUILD=${1:-build}
BIN=$BUILD/bin
echo "== kata-sentry check"
"$BIN/kata-sentry" check
echo
echo "== kata-sentry trace (3 s) while running: /bin/true alpha beta; cat /etc/hostname"
sh -c 'sleep 1; /bin/true alpha beta; cat /etc/hostname >/dev/null' &
"$BIN/kata-sentry" trace --format text --duration 3 --comm true
wait
echo
# The joined view: a privileged container writes the guest's core_pattern (a stage-1 escape).
# Monitor mode reports it; enforce mode pushes the deny rules into the guest's BPF LSM, so the
# write fails with EPERM inside the container and the alert says "enforced":true.
ALERTS=$(mktemp /tmp/kata-sentry-demo-alerts.XXXXXX)
trap 'rm -f "$ALERTS"' EXIT
for mode in monitor enforce; do
  : > "$ALERTS"
  echo "== kata-sentry run --privileged --mode $mode -- sh -c 'echo \"|/x\" > /proc/sys/kernel/core_pattern'"
  set +e
  "$BIN/kata-sentry" run --privileged --mode "$mode" --alerts "$ALERTS" -- sh -c 'echo "|/x" > /proc/sys/kernel/core_pattern'
  echo "exit status: $?"
  set -e
  echo "-- alerts and audit records ($mode):"
  cat "$ALERTS"
  echo
done
# A pod as kubelet starts it: containerd's CRI plugin, the kata-sentry RuntimeClass handler, CNI.
echo "== a pod through containerd's CRI plugin (kata-sentry cri), watched by kata-sentryd"
scripts/demo-cri.sh "$BUILD"
