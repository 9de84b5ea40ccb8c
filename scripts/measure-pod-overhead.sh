#!/usr/bin/env bash
# What one kata-sentry pod costs the node beyond its containers: memory (RSS and PSS) and CPU of
# its QEMU, virtiofsd and shim, for deploy/kubernetes/runtimeclass.yaml's overhead.podFixed.
#
# Runs a private containerd (recipe R7b, MACHINE.md) with build/bin first on its PATH, starts one
# detached busybox pod with `ctr run -d --runtime io.containerd.kata-sentry.v2`, lets it settle,
# samples, then makes the guest touch memory and samples again; cleans everything up on exit.
# PSS is the honest sum: QEMU and virtiofsd both map the guest's shared memfd, so their RSS
# counts the same guest pages twice. Boots one VM: on a shared machine, run it under the VM lock.
# Usage: scripts/measure-pod-overhead.sh [BUILD_DIR] [SETTLE_SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
SETTLE=${2:-20}
BIN=$(realpath "$BUILD/bin")
IMAGE_TAR=$(realpath "$BUILD/images/busybox-oci.tar")
[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }

D=$(mktemp -d /tmp/ks-overhead-XXXXXX)
NS=ks-overhead-$$
ID=ovh$$
printf 'version = 2\nroot = "%s/root"\nstate = "%s/state"\ndisabled_plugins = ["io.containerd.grpc.v1.cri"]\n[grpc]\n  address = "%s/c.sock"\n' \
  "$D" "$D" "$D" >"$D/config.toml"
printf 'daemon_policy: fail-open\n' >"$D/shim.yaml"
PATH="$BIN:$PATH" KATA_SENTRY_SHIM_CONFIG="$D/shim.yaml" containerd --config "$D/config.toml" >"$D/containerd.log" 2>&1 &
CD_PID=$!
CTR=(ctr --address "$D/c.sock" --namespace "$NS")

cleanup() {
  "${CTR[@]}" task kill -s SIGKILL "$ID" >/dev/null 2>&1 || true
  for _ in $(seq 50); do "${CTR[@]}" task ls -q 2>/dev/null | grep -q . || break; "${CTR[@]}" task rm "$ID" >/dev/null 2>&1 || true; sleep 0.2; done
  "${CTR[@]}" container rm "$ID" >/dev/null 2>&1 || true
  kill "$CD_PID" 2>/dev/null || true
  wait "$CD_PID" 2>/dev/null || true
  for h in /sys/fs/cgroup/*/"$NS"; do [ -d "$h" ] && { rmdir "$h"/* "$h" 2>/dev/null || true; }; done
  grep -F " $D/" /proc/self/mountinfo | awk '{print $5}' | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$D"
}
trap cleanup EXIT

for _ in $(seq 100); do [ -S "$D/c.sock" ] && break; sleep 0.1; done
"${CTR[@]}" images import "$IMAGE_TAR" >/dev/null
"${CTR[@]}" run -d --runtime io.containerd.kata-sentry.v2 docker.io/kata-sentry/busybox:latest "$ID" sleep 100000

# The pod's host processes: QEMU and virtiofsd name the sandbox directory; the shim names the namespace.
pids() {
  local p
  for p in $(pgrep -f "/run/kata-sentry/sandboxes/$ID/"); do echo "$p"; done
  pgrep -f "containerd-shim-kata-sentry-v2 .*-namespace $NS " || true
}
kib() { awk -v k="$2" '$1 == k":" {print $2}' "$1" 2>/dev/null || echo 0; }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

sample() {
  local label=$1 total_rss=0 total_pss=0 p name rss pss
  printf '%s\n' "$label"
  for p in $(pids); do
    name=$(tr '\0' ' ' <"/proc/$p/cmdline" | awk '{n=$1; sub(".*/", "", n); print n}')
    rss=$(kib "/proc/$p/status" VmRSS)
    pss=$(kib "/proc/$p/smaps_rollup" Pss)
    printf '  %-34s pid %-7s RSS %6d KiB  PSS %6d KiB  (anon %d, shmem %d, file %d KiB)\n' "$name" "$p" "$rss" "$pss" \
      "$(kib "/proc/$p/status" RssAnon)" "$(kib "/proc/$p/status" RssShmem)" "$(kib "/proc/$p/status" RssFile)"
    total_rss=$((total_rss + rss)); total_pss=$((total_pss + pss))
  done
  printf '  %-46s RSS %6d KiB  PSS %6d KiB  (%d MiB PSS)\n' "total" "$total_rss" "$total_pss" $((total_pss / 1024))
}

cpu() {  # CPU used by the pod's processes over $1 seconds, in millicores
  local secs=$1 before=0 after=0 p hz
  hz=$(getconf CLK_TCK)
  for p in $(pids); do before=$((before + $(ticks "$p"))); done
  sleep "$secs"
  for p in $(pids); do after=$((after + $(ticks "$p"))); done
  echo "  CPU over ${secs}s idle: $(( (after - before) * 1000 / hz / secs )) millicores"
}

sleep "$SETTLE"
sample "idle pod (${SETTLE}s after start):"
cpu 10
# A workload that reads its image and writes 64 MiB into the guest's tmpfs: guest pages get touched.
"${CTR[@]}" task exec --exec-id touch "$ID" sh -c 'ls -R / >/dev/null 2>&1; dd if=/dev/zero of=/tmp/fill bs=1M count=64 2>/dev/null; sync' || true
sleep 3
sample "after 64 MiB written in the guest and a filesystem walk:"
QEMU_PID=$(pgrep -f "/run/kata-sentry/sandboxes/$ID/" | while read -r p; do if grep -q qemu "/proc/$p/comm" 2>/dev/null; then echo "$p"; fi; done | head -1 || true)
QEMU_ARGS=$(tr '\0' ' ' <"/proc/$QEMU_PID/cmdline")
echo "  VM: $(grep -oE -- '-smp [0-9]+' <<<"$QEMU_ARGS") $(grep -oE -- '-m [0-9]+M' <<<"$QEMU_ARGS") $(grep -oE -- '-accel [a-z]+' <<<"$QEMU_ARGS")"
