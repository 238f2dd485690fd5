#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The guest half of `make demo`.  Prints each command before running it.
set -eu
. "$(dirname "$0")/lib.sh"
export WG_MODULE=$1 WG_COLOR_MODE=never
here=$(cd "$(dirname "$0")" && pwd)
# Our wg when it is built, else Debian's.
WG=/usr/bin/wg
[ -x "$here/../../tools/wg/wg" ] && WG=$here/../../tools/wg/wg

run() { echo "\$ $*"; "$@"; }

load_wireguard
echo "# loaded $(modinfo -F description "$WG_MODULE") $(cat /sys/module/wireguard/version) from $WG_MODULE"
netns_setup
k0=$($WG genkey) k1=$($WG genkey)
p0=$(echo "$k0" | $WG pubkey) p1=$(echo "$k1" | $WG pubkey)
echo "$k0" >/tmp/k0
echo "$k1" >/tmp/k1

run ip -n "$netns0" link add wg0 type wireguard
run ip -n "$netns1" link add wg0 type wireguard
run ip netns exec "$netns0" "$WG" set wg0 private-key /tmp/k0 listen-port 10000 \
	peer "$p1" endpoint 127.0.0.1:20000 allowed-ips 192.168.241.2/32,fd00::2/128
run ip netns exec "$netns1" "$WG" set wg0 private-key /tmp/k1 listen-port 20000 \
	peer "$p0" endpoint 127.0.0.1:10000 allowed-ips 192.168.241.1/32,fd00::1/128
run ip -n "$netns0" addr add 192.168.241.1/24 dev wg0
run ip -n "$netns1" addr add 192.168.241.2/24 dev wg0
run ip -n "$netns0" link set wg0 up
run ip -n "$netns1" link set wg0 up
run ip -n "$netns0" -d link show wg0
run ip -n "$netns1" -d link show wg0
run ip netns exec "$netns0" "$WG" show
run ip netns exec "$netns1" "$WG" show

echo "# incremental AllowedIPs: add 10.1.0.0/16 and remove fd00::2/128 without replacing"
if run ip netns exec "$netns0" "$WG" set wg0 peer "$p1" allowed-ips +10.1.0.0/16,-fd00::2/128; then
	run ip netns exec "$netns0" "$WG" show wg0 allowed-ips
else
	echo "# (this wg does not speak incremental updates yet)"
fi
netns_cleanup
unload_wireguard
echo "# demo done"
