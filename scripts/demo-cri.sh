#!/usr/bin/env bash
# The CRI step of `make demo`: a pod started the way kubelet starts it, through containerd's CRI
# plugin with the RuntimeClass handler kata-sentry (what the README's CRI section does, by hand):
# its CNI address, a page served by busybox httpd inside the VM and fetched from the host, an
# escape attempt alerted with the pod's k8s.pod.name / k8s.ns.name / k8s.pod.uid, then teardown
# and a check that nothing is left (QEMU, virtiofsd, shim, containerd, kata-sentryd, tap and tc
# filters with the pod's netns, cgroups, mounts, the bridge).
#
# Everything is private to this run (its own kata-sentryd, containerd, bridge and subnet, all
# named after this process), so it runs beside other containerds and tests, and twice in a row.
# When a capability the step needs is missing it says which and exits 0 (the rest of the demo
# runs); once the pod is underway, any failure exits 1.
# usage: demo-cri.sh [BUILD]
set -uo pipefail
BUILD=${1:-build}
cd "$(dirname "$0")/.."
BIN=$(cd "$BUILD/bin" 2>/dev/null && pwd) || { echo "[cri] no $BUILD/bin (make build first)" >&2; exit 1; }
IMAGES=$(cd "$BUILD/images" 2>/dev/null && pwd) || IMAGES=$BUILD/images
IMAGE=docker.io/kata-sentry/busybox:latest
exec 3>&1  # progress lines go to the terminal even from inside $(...)
say() { printf '[cri] %s\n' "$*" >&3; }

# ---- capabilities ----
missing=""
need() { [ -n "$missing" ] || missing=$1; }
[ "$(id -u)" = 0 ] || need "root (containerd, CNI, network namespaces)"
command -v containerd >/dev/null || need "containerd (scripts/setup.sh installs it)"
command -v ctr >/dev/null || need "ctr (comes with containerd)"
command -v ip >/dev/null || need "ip (iproute2)"
for p in bridge host-local loopback; do
  [ -x /usr/lib/cni/$p ] || need "the CNI plugin /usr/lib/cni/$p (containernetworking-plugins; scripts/setup.sh)"
done
for i in busybox pause; do [ -f "$IMAGES/$i-oci.tar" ] || need "$IMAGES/$i-oci.tar (make build)"; done
[ -f deploy/containerd/kata-sentry.toml ] || need "deploy/containerd/kata-sentry.toml"
if [ -n "$missing" ]; then
  say "skipped: a CRI pod needs $missing"
  exit 0
fi

fetch() {  # GET $1 from the host (curl if there is one; busybox wget has no usable timeout here)
  if command -v curl >/dev/null; then curl -s -f --noproxy '*' -m 5 "$1"; else timeout 10 busybox wget -q -O - "$1"; fi
}

# step WHAT CMD...: runs CMD, saying every 5 s that it still runs (TCG boots take a while).
step() {
  local what=$1 start=$SECONDS next=5 pid rc
  shift
  "$@" &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    sleep 0.5
    if (( SECONDS - start >= next )); then say "  ... $what ($next s)"; next=$((next + 5)); fi
  done
  wait "$pid"; rc=$?
  return $rc
}

# ---- private parts, all named after this process ----
D=$(mktemp -d /tmp/ks-demo-cri-XXXXXX)
BR=ksdemo$(( $$ % 100000 ))
n=$(( $$ % 250 + 1 ))
for _ in $(seq 250); do  # a /24 no interface of this machine uses
  ip -4 -o addr show | grep -q " 10\.214\.$n\." || break
  n=$(( n % 250 + 1 ))
done
NET=10.214.$n
CD="" SD="" POD="" NETNS=""
SHIM_SOCKETS_BEFORE=$(ls /run/containerd/s 2>/dev/null | sort)
cri() { "$BIN/kata-sentry" cri "$1" --address "$D/c.sock" "${@:2}"; }

stop_pid() {  # SIGTERM, then SIGKILL after 10 s
  local pid=$1
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
}

# What this run may have left anywhere on the machine; prints one line per leftover.
leftovers() {
  local p
  for p in $(pgrep -f -- "$D/" ; [ -n "$POD" ] && pgrep -f -- "/run/kata-sentry/sandboxes/$POD"); do
    [ "$p" = $$ ] || echo "process $p: $(tr '\0' ' ' < /proc/$p/cmdline 2>/dev/null | cut -c1-120)"
  done | sort -u
  [ -z "$POD" ] || [ ! -e "/run/kata-sentry/sandboxes/$POD" ] || echo "sandbox dir /run/kata-sentry/sandboxes/$POD"
  [ -z "$POD" ] || [ ! -e "/sys/fs/cgroup/unified/kata-sentry/$POD" ] || echo "VMM cgroup /sys/fs/cgroup/unified/kata-sentry/$POD"
  [ -z "$POD" ] || find /sys/fs/cgroup -maxdepth 4 -type d -name "*$POD*" 2>/dev/null | sed 's/^/cgroup /'
  [ -z "$NETNS" ] || [ ! -e "$NETNS" ] || echo "network namespace $NETNS (with the pod's tap and tc filters)"
  ip link show "$BR" >/dev/null 2>&1 && echo "bridge $BR"
  grep -F -e "$D" ${POD:+-e "/run/kata-sentry/sandboxes/$POD"} /proc/self/mountinfo | awk '{print "mount " $5}'
  comm -13 <(echo "$SHIM_SOCKETS_BEFORE") <(ls /run/containerd/s 2>/dev/null | sort) | sed 's|^|shim socket /run/containerd/s/|'
}

teardown() {
  trap - EXIT INT TERM
  if [ -n "$POD" ] && [ -S "$D/c.sock" ]; then cri rmp "$POD" >/dev/null 2>&1; fi
  [ -z "$CD" ] || stop_pid "$CD"
  [ -z "$SD" ] || stop_pid "$SD"
  ip link del "$BR" 2>/dev/null
  local left
  left=$(leftovers)
  if [ -z "$(grep -F "$D" /proc/self/mountinfo)" ]; then rm -rf "$D"; fi
  if [ -n "$left" ]; then
    say "LEFT BEHIND:"
    sed 's/^/[cri]   /' <<<"$left" >&3
    return 1
  fi
  say "nothing left: no QEMU, virtiofsd, shim, containerd or kata-sentryd; the pod's netns (tap, tc filters) gone; no cgroup, mount or bridge"
}
on_exit() {
  local rc=$?
  teardown || rc=1
  exit $rc
}
trap on_exit EXIT
trap 'exit 130' INT TERM

die() {
  say "FAILED: $*"
  for f in containerd.log sentryd.log; do
    [ -f "$D/$f" ] && { say "--- $f (tail)"; tail -15 "$D/$f" | sed 's/^/[cri]   /' >&3; }
  done
  exit 1
}

# ---- kata-sentryd, the pod network, containerd with its CRI plugin ----
say "kata-sentryd (monitor mode), shims fail-closed"
printf 'socket: %s/sentryd.sock\nalerts_file: %s/alerts.jsonl\nmode: monitor\n' "$D" "$D" > "$D/sentryd.yaml"
"$BIN/kata-sentryd" --config "$D/sentryd.yaml" 2> "$D/sentryd.log" &
SD=$!
for _ in $(seq 150); do grep -q 'serving on' "$D/sentryd.log" && break; kill -0 $SD 2>/dev/null || break; sleep 0.2; done
grep -q 'serving on' "$D/sentryd.log" || die "kata-sentryd did not start"
printf 'daemon_socket: %s/sentryd.sock\ndaemon_policy: fail-closed\n' "$D" > "$D/shim.yaml"

if ! ip link add "$BR" type bridge 2>"$D/ip.err"; then
  say "skipped: a CRI pod needs a bridge of its own: ip link add $BR type bridge: $(cat "$D/ip.err")"
  exit 0
fi
ip addr add "$NET.1/24" dev "$BR" && ip link set "$BR" up || die "bridge $BR"
mkdir "$D/net.d"
printf '{"cniVersion": "0.4.0", "name": "%s", "plugins": [{"type": "bridge", "bridge": "%s", "ipam": {"type": "host-local", "ranges": [[{"subnet": "%s.0/24", "gateway": "%s.1"}]], "routes": [{"dst": "0.0.0.0/0"}], "dataDir": "%s/ipam"}}, {"type": "loopback"}]}\n' \
  "$BR" "$BR" "$NET" "$NET" "$D" > "$D/net.d/10-$BR.conflist"
say "containerd with its CRI plugin: handler kata-sentry from deploy/containerd/kata-sentry.toml, CNI bridge $BR ($NET.0/24)"
{ printf 'version = 2\nroot = "%s/root"\nstate = "%s/state"\n[grpc]\n  address = "%s/c.sock"\n' "$D" "$D" "$D"
  printf '[plugins."io.containerd.grpc.v1.cri"]\n  sandbox_image = "docker.io/kata-sentry/pause:latest"\n  restrict_oom_score_adj = true\n'
  printf '[plugins."io.containerd.grpc.v1.cri".cni]\n  bin_dir = "/usr/lib/cni"\n  conf_dir = "%s/net.d"\n' "$D"
  cat deploy/containerd/kata-sentry.toml; } > "$D/config.toml"
PATH=$BIN:$PATH KATA_SENTRY_SHIM_CONFIG=$D/shim.yaml containerd --config "$D/config.toml" > "$D/containerd.log" 2>&1 &
CD=$!
for _ in $(seq 100); do [ -S "$D/c.sock" ] && break; kill -0 $CD 2>/dev/null || break; sleep 0.1; done
[ -S "$D/c.sock" ] || die "containerd did not start"
cri_state=$(ctr --address "$D/c.sock" plugins ls 2>/dev/null | awk '$1 == "io.containerd.grpc.v1" && $2 == "cri" {print $NF}')
if [ "$cri_state" != ok ]; then
  say "skipped: containerd's CRI plugin is not usable here (plugin state: ${cri_state:-absent}; $D/containerd.log says: $(grep -m1 -i 'cri' "$D/containerd.log" | grep -i -m1 'error\|fail' | cut -c1-160))"
  exit 0
fi
for i in busybox pause; do
  ctr --address "$D/c.sock" -n k8s.io images import "$IMAGES/$i-oci.tar" >/dev/null || die "import $i-oci.tar"
done
for _ in $(seq 100); do cri info >/dev/null 2>&1 && break; sleep 0.2; done
cri info >/dev/null 2>&1 || die "the CRI plugin's conditions stay false: $(cri info 2>&1 | tr '\n' ' ')"
cri version | sed 's/^/[cri]   /' >&3

# ---- the pod ----
UID_=$(cat /proc/sys/kernel/random/uuid)
say "RunPodSandbox + CreateContainer + StartContainer: pod shop/web (uid $UID_), runtime handler kata-sentry, busybox httpd in its VM (TCG: 15-40 s)"
start=$SECONDS
step "booting the pod's VM" cri run --runtime kata-sentry --name web --namespace shop --uid "$UID_" --image "$IMAGE" \
  --privileged-pod --privileged -- sh -c 'mkdir /www; echo "hello from $(hostname), kernel $(uname -r)" > /www/index.html; exec httpd -f -p 80 -h /www' \
  > "$D/ids" 2> "$D/run.err" || die "kata-sentry cri run: $(cat "$D/run.err")"
POD=$(head -1 "$D/ids"); CID=$(tail -1 "$D/ids")
say "pod ${POD:0:13} running in $((SECONDS - start)) s, container ${CID:0:13}"
NETNS=$(ctr --address "$D/c.sock" -n k8s.io containers info "$POD" 2>/dev/null | grep -o '"path": "[^"]*netns[^"]*"' | head -1 | cut -d'"' -f4)
IP=$(cri inspectp --ip "$POD") || die "PodSandboxStatus has no IP"
say "PodSandboxStatus: pod IP $IP (CNI bridge $BR; the VM's eth0 is wired to the veth by a tap and tc in netns ${NETNS:-?})"

say "GET http://$IP/ from the host (served by busybox httpd inside the VM)"
page=""
for _ in $(seq 30); do page=$(fetch "http://$IP/") && break; sleep 0.5; done
[ -n "$page" ] || die "no answer from http://$IP/"
say "  $page"
[ "$(uname -r)" != "$(sed 's/.*kernel //' <<<"$page")" ] || die "the page names the host's kernel"

say "ExecSync in the privileged container: echo '|/x' > /proc/sys/kernel/core_pattern (an escape attempt)"
step "running the exec" cri exec "$CID" -- sh -c 'echo "|/x" > /proc/sys/kernel/core_pattern' || die "exec failed"
start=$SECONDS next=5 alert=""
while (( SECONDS - start < 90 )); do
  alert=$(grep -m1 '"Guest core_pattern write"' "$D/alerts.jsonl" 2>/dev/null) && break
  sleep 0.2
  if (( SECONDS - start >= next )); then say "  ... waiting for kata-sentryd's alert ($next s)"; next=$((next + 5)); fi
done
[ -n "$alert" ] || die "no alert in $D/alerts.jsonl"
say "kata-sentryd's alert (one line of $D/alerts.jsonl, the pod's fields):"
grep -oE '"(rule|priority|view)":"[^"]*"|"output":"([^"\\]|\\.)*"|"(k8s\.[a-z.]*|container\.id)":"[^"]*"' <<<"$alert" |
  cut -c1-220 | sed 's/^/[cri]   /' >&3
grep -q "\"k8s.pod.uid\":\"$UID_\"" <<<"$alert" || die "the alert does not carry the pod's uid $UID_"

say "StopPodSandbox + RemovePodSandbox, then containerd and kata-sentryd stop"
step "stopping the pod" cri rmp "$POD" > /dev/null || die "kata-sentry cri rmp $POD"
# teardown (the EXIT trap) checks that nothing is left
