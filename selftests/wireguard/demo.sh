#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `make demo`: builds the module, boots Debian's 6.12 in a VM and shows two
# namespaces, each with a WireGuard link configured as the other's peer,
# including an incremental AllowedIPs update.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
. selftests/wireguard/qemu/kver.sh

selftests/wireguard/install-deps.sh
kver=${KVER:-$(wg_default_kver)}
echo "== building wireguard.ko for $kver"
make -s module KVER="$kver"
[ -e tools/wg/Makefile ] && make -s -C tools/wg >/dev/null
echo "== booting $kver in QEMU"
exec selftests/wireguard/qemu/run-vm.sh -k "$kver" -t 600 -- \
	bash selftests/wireguard/demo-guest.sh "$top/build/$kver/wireguard/wireguard.ko"
