#!/usr/bin/env bash
# Builds a one-layer OCI image-layout tarball from busybox-static, for importing into containerd
# offline (`ctr images import`). The output is reproducible: fixed owners, names sorted, mtime 0,
# gzip without a timestamp.
# Usage: scripts/mkimage-busybox.sh OUT.tar [IMAGE_REF [CMD ARG...]]
#   IMAGE_REF default docker.io/kata-sentry/busybox:latest; CMD ARG... (the image's Cmd, plain words)
#   default /bin/sh. The CRI tests' pod sandbox ("pause") image is the same busybox with Cmd
#   `sleep 2147483647`.
set -euo pipefail
out=${1:?usage: mkimage-busybox.sh OUT.tar [IMAGE_REF [CMD ARG...]]}
ref=${2:-docker.io/kata-sentry/busybox:latest}
shift $(( $# < 2 ? $# : 2 ))
[ $# -gt 0 ] || set -- /bin/sh
cmd=$(printf '"%s",' "$@"); cmd="[${cmd%,}]"   # plain words only: no quotes or backslashes to escape
busybox=${BUSYBOX:-/bin/busybox}
[ -x "$busybox" ] || { echo "mkimage-busybox: $busybox not found (apt-get install busybox-static)" >&2; exit 1; }
if ldd "$busybox" >/dev/null 2>&1; then
  echo "mkimage-busybox: $busybox is dynamically linked; the image needs busybox-static" >&2; exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/rootfs
blobs=$work/layout/blobs/sha256
mkdir -p "$root"/{bin,etc,tmp,proc,sys,dev,root} "$blobs"
chmod 1777 "$root/tmp"
cp "$busybox" "$root/bin/busybox"
for applet in $("$busybox" --list); do
  [ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$root/etc/passwd"
printf 'root:x:0:\nnobody:x:65534:\n' > "$root/etc/group"

# Moves a file into blobs/ under its digest; prints "DIGEST SIZE".
add_blob() {
  local digest size
  digest=$(sha256sum "$1" | cut -d' ' -f1)
  size=$(stat -c %s "$1")
  mv "$1" "$blobs/$digest"
  echo "$digest $size"
}

tar --numeric-owner --owner=0 --group=0 --sort=name --mtime=@0 -C "$root" -cf "$work/layer.tar" .
diff_id=$(sha256sum "$work/layer.tar" | cut -d' ' -f1)   # the uncompressed digest, for the config
gzip -n -9 "$work/layer.tar"
read -r layer layer_size < <(add_blob "$work/layer.tar.gz")

printf '{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":%s,"WorkingDir":"/"},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
  "$cmd" "$diff_id" > "$work/config.json"
read -r config config_size < <(add_blob "$work/config.json")

printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%s}]}' \
  "$config" "$config_size" "$layer" "$layer_size" > "$work/manifest.json"
read -r manifest manifest_size < <(add_blob "$work/manifest.json")

# io.containerd.image.name is what `ctr images import` names the image after.
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"platform":{"architecture":"amd64","os":"linux"},"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}]}' \
  "$manifest" "$manifest_size" "$ref" "${ref##*:}" > "$work/layout/index.json"
printf '{"imageLayoutVersion":"1.0.0"}' > "$work/layout/oci-layout"

mkdir -p "$(dirname "$out")"
tar --numeric-owner --owner=0 --group=0 --sort=name --mtime=@0 -C "$work/layout" -cf "$out.tmp" oci-layout index.json blobs
mv "$out.tmp" "$out"
echo "mkimage-busybox: $out ($ref, layer sha256:${layer:0:12}, $(stat -c %s "$out") bytes)"
