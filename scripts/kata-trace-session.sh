#!/bin/bash
# The kata-trace session shown in the README, on a live pod (as root, after `make build`): a
# private kata-sentryd (metrics on 127.0.0.1:19464) and containerd, one pod, kata-trace
# sandboxes / events -f with a filter / alerts -f while the pod runs cat and writes core_pattern,
# the pod's processes on both sides (tree, ps), a scrape of the metrics, and the listing after
# the pod is gone. Cleans up what it started.
set -u
cd "$(dirname "$0")/.."
D=$(mktemp -d /tmp/ks-watch-XXXXXX)
printf 'socket: %s/sentryd.sock\nalerts_file: %s/alerts.jsonl\nmode: monitor\nmetrics_address: 127.0.0.1:19464\n' $D $D > $D/sentryd.yaml
build/bin/kata-sentryd --config $D/sentryd.yaml 2> $D/sentryd.log &
SD=$!; until grep -q 'serving on' $D/sentryd.log; do sleep 0.2; done
printf 'daemon_socket: %s/sentryd.sock\ndaemon_policy: fail-closed\n' $D > $D/shim.yaml
printf 'version = 2\nroot = "%s/root"\nstate = "%s/state"\ndisabled_plugins = ["io.containerd.grpc.v1.cri"]\n[grpc]\n  address = "%s/c.sock"\n' $D $D $D > $D/config.toml
PATH=$PWD/build/bin:$PATH KATA_SENTRY_SHIM_CONFIG=$D/shim.yaml containerd --config $D/config.toml > $D/containerd.log 2>&1 &
CD=$!; while [ ! -S $D/c.sock ]; do sleep 0.1; done
CTR="ctr --address $D/c.sock --namespace watch"
$CTR images import build/images/busybox-oci.tar >/dev/null
export KATA_SENTRYD_SOCKET=$D/sentryd.sock
$CTR run -d --privileged --runtime io.containerd.kata-sentry.v2 docker.io/kata-sentry/busybox:latest web1 sh -c 'sleep 300; exit 0'
until grep -q 'sandbox web1: monitoring' $D/sentryd.log; do sleep 0.5; done
sleep 2
echo '$ kata-trace sandboxes'
build/bin/kata-trace sandboxes
build/bin/kata-trace events -f --filter 'proc.name = cat' --color never > $D/events.out 2> $D/events.err &
TR=$!
until grep -q following $D/events.err; do sleep 0.2; done
build/bin/kata-trace alerts -f --color never > $D/alerts.out 2> $D/alerts.err &
AL=$!
until grep -q following $D/alerts.err; do sleep 0.2; done
$CTR task exec --exec-id x1 web1 cat /proc/version
$CTR task exec --exec-id x2 web1 sh -c 'echo "|/x" > /proc/sys/kernel/core_pattern; cat /proc/sys/kernel/core_pattern'
sleep 3
kill -INT $TR $AL; wait $TR $AL
echo "\$ kata-trace events -f --filter 'proc.name = cat'"
cat $D/events.err | head -1; cat $D/events.out; cat $D/events.err | tail -1
echo '$ kata-trace alerts -f'
cat $D/alerts.err | head -1; cat $D/alerts.out; cat $D/alerts.err | tail -1
echo '$ kata-trace tree web1'
build/bin/kata-trace tree web1 --color never
echo '$ kata-trace ps web1'
build/bin/kata-trace ps web1
echo '$ kata-trace sandboxes -o wide --no-rate'
build/bin/kata-trace sandboxes -o wide --no-rate
echo '$ curl -s 127.0.0.1:19464/metrics | grep -E ...   # rules that matched, sandboxes, heartbeat, guard drops, RSS'
curl -s 127.0.0.1:19464/metrics | grep -E '^kata_sentry_(rule_matches_total\{.*\} [1-9]|sandboxes|guest_heartbeat_age_seconds|drops_total\{side="guest",stage="guard"|process_resident)'
$CTR task kill -s SIGKILL web1 >/dev/null; sleep 2; $CTR task rm web1 >/dev/null; $CTR container rm web1
sleep 2
echo '$ kata-trace sandboxes   # after the pod is gone'
build/bin/kata-trace sandboxes
kill $CD; wait $CD; kill $SD; wait $SD; rm -rf $D
