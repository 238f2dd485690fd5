#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# mkinitramfs.sh KVER OUTDIR: build (or reuse) a tiny busybox initramfs that
# mounts the host's / over virtio-9p with a tmpfs overlay and switches into
# it.  Prints the path of the image.  Kernels whose virtio and 9p are modules
# get those modules copied in, decompressed, in dependency order.
set -eu

kver=$1
outdir=$2
here=$(cd "$(dirname "$0")" && pwd)
image=$outdir/initramfs-$kver.cpio.gz

busybox=/bin/busybox
[ -x "$busybox" ] || { echo "mkinitramfs: $busybox missing (apt-get install busybox-static)" >&2; exit 1; }
if [ -e "$image" ] && [ "$image" -nt "$here/initramfs-init" ] && [ "$image" -nt "$0" ]; then
	echo "$image"
	exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work"/{bin,dev,proc,sys,mods,lower,upper,newroot}
cp "$busybox" "$work/bin/busybox"
cp "$here/initramfs-init" "$work/init"
chmod 755 "$work/init"

# Modules needed before the root exists, as "insmod PATH" lines in order.
: >"$work/mods/order"
for m in virtio_pci 9pnet_virtio 9p overlay; do
	modprobe -S "$kver" --show-depends "$m" 2>/dev/null || true
done | awk '$1 == "insmod" && !seen[$2]++ { print $2 }' | while read -r ko; do
	name=$(basename "$ko")
	case $name in
	*.ko.xz) xz -dc "$ko" >"$work/mods/${name%.xz}"; name=${name%.xz} ;;
	*.ko.zst) zstd -qdc "$ko" >"$work/mods/${name%.zst}"; name=${name%.zst} ;;
	*.ko.gz) gzip -dc "$ko" >"$work/mods/${name%.gz}"; name=${name%.gz} ;;
	*) cp "$ko" "$work/mods/$name" ;;
	esac
	echo "$name" >>"$work/mods/order"
done

(cd "$work" && find . | cpio -o -H newc --quiet | gzip -1) >"$image.tmp"
mv "$image.tmp" "$image"
echo "$image"
