#!/usr/bin/env bash
# Builds the kata-sentry guest image from the guest kernel that scripts/setup.sh unpacked:
#   OUT/vmlinuz        the Debian cloud kernel
#   OUT/initrd.img     lz4 (legacy frame) newc cpio: kata-sentry-agent as /init, its shared libraries, busybox,
#                      the virtio/virtiofs/overlay modules with a modules.dep for exactly those
#   OUT/rootfs-busybox the default container root filesystem (busybox-static + applet links)
#   OUT/release        the guest kernel release
# Reproducible: sorted cpio with fixed mtimes/owners and no timestamps in the compressed stream.
# Compression (KS_INITRD_COMPRESSION=lz4|gzip|zstd|none): lz4 by default, measured fastest to
# agent-ready under TCG (4.5-5.9 s vs gzip 6.9-8.5 s, zstd 7.4-9.8 s; the image is ~13 MB).
# Usage: build-guest-image.sh KERNEL_DIR AGENT_BINARY OUT_DIR   (KERNEL_DIR = BUILD/guest-kernel)
set -euo pipefail
KDIR=$1; AGENT=$2; OUT=$3
# Every module of guest-modules.list (the guest init loads them; those marked "net", e.g. virtio_net
# with net_failover and failover, only for a CRI pod with a network).
MODULE_LIST=$(dirname "$0")/guest-modules.list
mapfile -t MODULES < <(awk '!/^[[:space:]]*(#|$)/ {print $1}' "$MODULE_LIST")
[ "${#MODULES[@]}" -gt 0 ] || { echo "guest image: no modules in $MODULE_LIST" >&2; exit 1; }
BUSYBOX=${BUSYBOX:-/bin/busybox}
EPOCH=${SOURCE_DATE_EPOCH:-1700000000}

[ -f "$KDIR/.release" ] || { echo "guest image: $KDIR/.release missing; run scripts/setup.sh $(dirname "$KDIR")" >&2; exit 1; }
KV=$(cat "$KDIR/.release"); KROOT=$KDIR/root; MODDIR=$KROOT/lib/modules/$KV
[ -f "$MODDIR/modules.dep" ] || { echo "guest image: $MODDIR/modules.dep missing; run scripts/setup.sh" >&2; exit 1; }
[ -x "$BUSYBOX" ] || { echo "guest image: $BUSYBOX missing (apt-get install busybox-static)" >&2; exit 1; }

STAGE=$(mktemp -d "$OUT.stage.XXXXXX"); trap 'rm -rf "$STAGE"' EXIT
IR=$STAGE/initrd
mkdir -p "$IR"/{bin,dev,proc,sys,run,tmp,etc,lib/modules/$KV} "$OUT"

# The agent is /init; stripped, because RelWithDebInfo debug info would triple the image.
strip --strip-unneeded -o "$IR/init" "$AGENT"
# Its shared libraries at their host paths (ldd: "name => /path (addr)" or "/lib64/ld... (addr)").
for lib in $(ldd "$AGENT" | awk '$2 == "=>" && $3 ~ /^\//{print $3} $1 ~ /^\//{print $1}' | sort -u); do
  mkdir -p "$IR$(dirname "$lib")"
  strip --strip-unneeded -o "$IR$lib" "$(readlink -f "$lib")"
done
cp "$BUSYBOX" "$IR/bin/busybox"
ln -s busybox "$IR/bin/sh"
# The kernel opens /dev/console as PID 1's stdio before /dev is mounted: the agent's own log
# lines then reach the captured serial console.
mknod -m 0600 "$IR/dev/console" c 5 1

# Modules and their dependencies; modules.dep lists only what is shipped.
: > "$IR/lib/modules/$KV/modules.dep"
declare -A shipped=()
for m in "${MODULES[@]}"; do
  line=$(grep -E "/${m}\.ko:" "$MODDIR/modules.dep") || { echo "guest image: module $m not in $MODDIR/modules.dep" >&2; exit 1; }
  for ko in $(echo "$line" | tr -d ':'); do
    [ -n "${shipped[$ko]:-}" ] && continue
    shipped[$ko]=1
    install -D -m 0644 "$MODDIR/$ko" "$IR/lib/modules/$KV/$ko"
    grep -E "^${ko}:" "$MODDIR/modules.dep" >> "$IR/lib/modules/$KV/modules.dep"
  done
done
sort -o "$IR/lib/modules/$KV/modules.dep" "$IR/lib/modules/$KV/modules.dep"

find "$IR" -exec touch -h -d "@$EPOCH" {} +
case "${KS_INITRD_COMPRESSION:-lz4}" in
  gzip) compress=(gzip -n -6) ;;
  lz4)  compress=(lz4 -l -9 -q) ;;   # the kernel reads only lz4's legacy frame format
  zstd) compress=(zstd -q -19) ;;
  none) compress=(cat) ;;
  *) echo "guest image: KS_INITRD_COMPRESSION must be gzip, lz4, zstd or none" >&2; exit 1 ;;
esac
(cd "$IR" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet --reproducible -R 0:0) \
  | "${compress[@]}" > "$STAGE/initrd.img"

# Default container rootfs: busybox-static with one link per applet.
RF=$STAGE/rootfs-busybox
mkdir -p "$RF"/{bin,dev,proc,sys,tmp,etc,root,run,var}
cp "$BUSYBOX" "$RF/bin/busybox"
for applet in $("$BUSYBOX" --list); do
  [ "$applet" = busybox ] || ln -sf busybox "$RF/bin/$applet"
done
chmod 1777 "$RF/tmp"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$RF/etc/passwd"
printf 'root:x:0:\nnobody:x:65534:\n' > "$RF/etc/group"
find "$RF" -exec touch -h -d "@$EPOCH" {} +

cp "$KROOT/boot/vmlinuz-$KV" "$STAGE/vmlinuz"
echo "$KV" > "$STAGE/release"
rm -rf "$OUT/rootfs-busybox"
mv "$STAGE/vmlinuz" "$STAGE/initrd.img" "$STAGE/release" "$OUT/"
mv "$RF" "$OUT/rootfs-busybox"
echo "guest image: $OUT/initrd.img $(stat -c %s "$OUT/initrd.img") bytes (kernel $KV, ${#shipped[@]} modules)"
