#!/usr/bin/env bash
# The main job of `make demo`. Grows with each capability; today: host capability check
# and a few seconds of live host tracing of a triggered exec and open.
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
