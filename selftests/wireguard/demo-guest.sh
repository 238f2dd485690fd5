#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The guest half of `make demo`: two namespaces joined by a tunnel, traffic
# across it, and an incremental AllowedIPs update made while a ping runs,
# without losing a reply.  Prints each command before running it.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
export WG_MODULE=$1 WG_COLOR_MODE=never
WG=/usr/bin/wg
[ -x "$here/../../tools/wg/wg" ] && WG=$(cd "$here/../../tools/wg" && pwd)/wg

run() { echo "\$ $*"; "$@"; }

load_wireguard
echo "# loaded our $(modinfo -F description "$WG_MODULE") $(cat /sys/module/wireguard/version) from $WG_MODULE"
echo "# wg is $WG"
netns_setup
k1=$($WG genkey) k2=$($WG genkey)
p1=$(echo "$k1" | $WG pubkey) p2=$(echo "$k2" | $WG pubkey)
echo "$k1" >/tmp/k1
echo "$k2" >/tmp/k2

echo "# two devices, created in $netns0 (their UDP sockets stay there), moved to $netns1 and $netns2"
run ip -n "$netns0" link add wg1 type wireguard
run ip -n "$netns0" link add wg2 type wireguard
run ip -n "$netns0" link set wg1 netns "$netns1"
run ip -n "$netns0" link set wg2 netns "$netns2"
run ip netns exec "$netns1" "$WG" set wg1 private-key /tmp/k1 listen-port 10001 \
	peer "$p2" endpoint 127.0.0.1:10002 allowed-ips 192.168.241.2/32,fd00::2/128
run ip netns exec "$netns2" "$WG" set wg2 private-key /tmp/k2 listen-port 10002 \
	peer "$p1" endpoint 127.0.0.1:10001 allowed-ips 192.168.241.1/32,fd00::1/128
run ip -n "$netns1" addr add 192.168.241.1/24 dev wg1
run ip -n "$netns1" addr add fd00::1/112 dev wg1
run ip -n "$netns2" addr add 192.168.241.2/24 dev wg2
run ip -n "$netns2" addr add fd00::2/112 dev wg2
run ip -n "$netns1" link set wg1 up
run ip -n "$netns2" link set wg2 up
run ip -n "$netns1" -d link show wg1

echo "# traffic across the tunnel"
run ip netns exec "$netns1" ping -c 3 192.168.241.2
run ip netns exec "$netns2" ping -c 2 fd00::1
run ip netns exec "$netns1" "$WG" show

echo "# incremental AllowedIPs while a ping runs: add 10.1.0.0/16 and 10.2.0.0/16, then remove"
echo "# one of them and fd00::2/128's neighbour, without replacing the set"
ip netns exec "$netns1" ping -c 20 -i 0.2 192.168.241.2 >/tmp/ping.out 2>&1 &
pinger=$!
sleep 1
run ip netns exec "$netns1" "$WG" set wg1 peer "$p2" allowed-ips +10.1.0.0/16,+10.2.0.0/16,+fd00::3/128
run ip netns exec "$netns1" "$WG" show wg1 allowed-ips
run ip netns exec "$netns1" "$WG" set wg1 peer "$p2" allowed-ips -10.2.0.0/16,-fd00::3/128
run ip netns exec "$netns1" "$WG" show wg1 allowed-ips
wait $pinger || true
echo "\$ (the ping that ran meanwhile)"
tail -n 3 /tmp/ping.out
if grep -q ' 0% packet loss' /tmp/ping.out; then
	echo "# no reply was lost during the update"
else
	echo "# REPLIES WERE LOST during the update"
	exit 1
fi

netns_cleanup
unload_wireguard
echo "# demo done"
