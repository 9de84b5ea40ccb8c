#!/usr/bin/env bash
# Idempotent set-up for kata-sentry on Debian 12 (run as root):
#   1. installs every Debian package the project needs (nothing happens when all are present);
#   2. fetches the guest kernel package with `apt-get download` and unpacks it under build/guest-kernel
#      (it is never installed on the host).
# Usage: scripts/setup.sh [BUILD_DIR]     (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}

PACKAGES=(
  # toolchain
  cmake make g++ clang llvm pkg-config
  # BPF
  libbpf-dev bpftool libelf-dev zlib1g-dev
  # C++ libraries
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libyaml-cpp-dev libre2-dev libspdlog-dev libfmt-dev nlohmann-json3-dev
  libseccomp-dev libcap-dev
  # kata-trace flags; kata-sentryd metrics
  libcli11-dev prometheus-cpp-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev libclang-rt-14-dev
  runsc  # the baseline `make bench` times `kata-sentry run -- true` against (gVisor, ptrace platform)
  # a real Prometheus server scrapes kata-sentryd in the metrics test
  prometheus
  # guest image and VM
  busybox-static qemu-system-x86 qemu-system-common cpio lz4 kmod
  # containers
  containerd runc iproute2
  # pod networking for the CRI tier: bridge, host-local and loopback CNI plugins in /usr/lib/cni
  containernetworking-plugins
  # containerd shim v2 protos (compiled in place by runtime/shim)
  golang-github-containerd-containerd-dev golang-github-gogo-protobuf-dev
  # audit log and exporters: Ed25519/SHA-256, the NATS and Kafka clients, HTTP, and the real
  # servers the exporter tests start on private ports (the packages' own services stay off)
  libsodium-dev libnats-dev librdkafka-dev libcurl4-openssl-dev libssl-dev
  rsyslog rsyslog-openssl nats-server openssl
)

say() { printf '[setup] %s\n' "$*"; }

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    say "missing packages: ${missing[*]} — run this script as root to install them" >&2; exit 1
  fi
  say "installing ${#missing[@]} package(s): ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  say "packages installed"
else
  say "all ${#PACKAGES[@]} packages present"
fi

# Guest kernel: Debian's cloud kernel, unpacked into the build tree only.
KROOT="$BUILD/guest-kernel"
if [ -f "$KROOT/.release" ] && [ -f "$KROOT/root/boot/vmlinuz-$(cat "$KROOT/.release")" ]; then
  say "guest kernel $(cat "$KROOT/.release") present in $KROOT"
else
  pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
  if [ -z "$pkg" ]; then
    apt-get update -qq
    pkg=$(apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
  fi
  [ -n "$pkg" ] || { say "cannot resolve linux-image-cloud-amd64 to a kernel package" >&2; exit 1; }
  say "fetching guest kernel package $pkg (apt-get download; not installed on the host)"
  rm -rf "$KROOT" && mkdir -p "$KROOT/dl"
  (cd "$KROOT/dl" && apt-get download -qq "$pkg")
  dpkg-deb -x "$KROOT"/dl/"${pkg}"_*.deb "$KROOT/root"
  release=${pkg#linux-image-}
  [ -f "$KROOT/root/boot/vmlinuz-$release" ] || { say "unpacked $pkg but boot/vmlinuz-$release is missing" >&2; exit 1; }
  busybox depmod -b "$KROOT/root" "$release" 2>/dev/null || depmod -b "$KROOT/root" "$release"
  rm -rf "$KROOT/dl"
  echo "$release" > "$KROOT/.release"
  say "guest kernel $release unpacked into $KROOT/root"
fi
