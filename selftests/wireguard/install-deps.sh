#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Installs the Debian packages that building and testing need, when missing:
# both kernels (image and headers), QEMU, busybox for the initramfs, libmnl
# and libcrypto for wg, and the real third-party programs the tests drive.
# Then the trixie build root and the newest kernels (trixie-root.sh; in a
# machine-wide cache, kept across clones), unless WG_NEED_TRIXIE=0.
set -eu
here=$(cd "$(dirname "$0")" && pwd)

packages=(
	build-essential bc kmod cpio xz-utils zstd gzip
	linux-image-6.12-amd64 linux-headers-6.12-amd64
	linux-image-amd64 linux-headers-amd64
	qemu-system-x86 busybox-static
	libmnl-dev libssl-dev pkg-config clang
	iproute2 iputils-ping iperf3 netcat-openbsd
	wireguard-go wireguard-tools
	python3 python3-pyroute2 python3-cryptography strace
	sparse
)
# The kernel source is only for checkpatch and the debug-kernel lane.
[ "${WG_NEED_SOURCE:-1}" = 1 ] && packages+=(linux-source-6.12)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
		missing+=("$p")
done
trixie()
{
	[ "${WG_NEED_TRIXIE:-1}" = 1 ] || return 0
	"$here/trixie-root.sh" setup
}
[ ${#missing[@]} -eq 0 ] && { trixie; exit; }

if [ "$(id -u)" != 0 ]; then
	echo "install-deps: missing packages, and not root to install them: ${missing[*]}" >&2
	exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
trixie
