#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# What the data path counts, and outer packets a narrow path must carry.
#
# Counters: the same topology as tunnel.sh (wg1 in $netns1, wg2 in $netns2,
# their sockets in $netns0), IPv4 inside only, so that nothing but our pings
# crosses.  Every WireGuard message sent to or received from the peer counts
# with its length as a UDP payload, handshakes and keepalives included, in
# the peer's transfer counters and in the device's statistics alike: the
# figures the stock module shows, which monitoring reads.
#
# Fragmentation: wg3 in $netns1 and wg4 in $netns2 over a veth whose MTU is
# IPv6's minimum, 1280, with IPv6 endpoints.  A full-size inner packet makes
# an outer one larger than that path, which must leave in fragments.
#
#   $netns1 wg3 10.9.0.1 [fc00::1]:20001 --veth mtu 1280-- [fc00::2]:20002 wg4 10.9.0.2 $netns2

set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

WG_REF=${WG_REF:-/usr/bin/wg}
PY=/usr/bin/python3
export WG_COLOR_MODE=never WG_HIDE_KEYS=never
tmp=$(mktemp -d)
umask 077

check "our module loads" load_wireguard
netns_setup

# The sizes of the protocol's messages (whitepaper, section 5.4).
INITIATION=148
RESPONSE=92
KEEPALIVE=32
# A ping's echo of 56 bytes is an 84-byte IPv4 packet, padded to 96: with
# the 16-byte data header and the 16-byte tag, 128 bytes on the wire.
PING=128

# --- counters ------------------------------------------------------------------
wg1() { n1 "$WG_REF" "$@"; }
wg2() { n2 "$WG_REF" "$@"; }
setup_counted_pair()
{
	make_keys 1 2 && tunnel_devices wg1 wg2 &&
	wg1 set wg1 private-key "$tmp/k1" listen-port 10001 \
		peer "$p2" allowed-ips 192.168.241.2/32 endpoint 127.0.0.1:10002 &&
	wg2 set wg2 private-key "$tmp/k2" listen-port 10002 \
		peer "$p1" allowed-ips 192.168.241.1/32 endpoint 127.0.0.1:10001 &&
	ip1 addr add 192.168.241.1/24 dev wg1 && ip2 addr add 192.168.241.2/24 dev wg2 &&
	ip1 link set wg1 up && ip2 link set wg2 up
}
# Not through check: in its subshell the keys would be lost.
if setup_counted_pair; then ok "a fresh tunnel, IPv4 only"; else not_ok "a fresh tunnel, IPv4 only"; fi

check "ten pings 1 -> 2 (the first waits for the handshake)" \
	n1 ping -c 10 -i 0.5 -W 5 192.168.241.2

# peer_transfer NETNS DEV: "rx tx" of the device's only peer.
peer_transfer() { ip netns exec "$1" "$WG_REF" show "$2" transfer | cut -f2,3 | tr '\t' ' '; }
# device_bytes NETNS DEV: "rx tx" bytes of the device's statistics (rtnl stats64).
device_bytes()
{
	ip -n "$1" -s -j link show "$2" |
		$PY -c 'import json,sys; s=json.load(sys.stdin)[0]["stats64"]; print(s["rx"]["bytes"], s["tx"]["bytes"])'
}

# Once the last echo reply is in, wg1 has nothing more to say: if it stays
# quiet for KEEPALIVE_TIMEOUT (10 s) after receiving data, the protocol has
# it send one keepalive.  So wg1's tx and wg2's rx are either the pings
# alone or the pings and that one keepalive, depending only on when they
# are read.  wg2 answered every packet at once and never owes one.
handshake_and_pings_1=$((INITIATION + 10 * PING))
handshake_and_pings_2=$((RESPONSE + 10 * PING))
one_of() { local v=$1; shift; for w in "$@"; do [ "$v" = "$w" ] && return 0; done; return 1; }
check_pair()
{
	local what=$1 got=$2 rx_ok=$3 tx_ok=$4 rx tx
	read -r rx tx <<<"$got"
	if one_of "$rx" $rx_ok && one_of "$tx" $tx_ok; then
		ok "$what: rx $rx tx $tx"
	else
		not_ok "$what: rx $rx tx $tx"
		diag "want rx in { $rx_ok }, tx in { $tx_ok }"
	fi
}
tx1_ok="$handshake_and_pings_1 $((handshake_and_pings_1 + KEEPALIVE))"
check_pair "wg1's peer counts initiation + 10 pings out, response + 10 replies in" \
	"$(peer_transfer "$netns1" wg1)" "$handshake_and_pings_2" "$tx1_ok"
check_pair "wg1's device statistics count the same" \
	"$(device_bytes "$netns1" wg1)" "$handshake_and_pings_2" "$tx1_ok"
check_pair "wg2's peer counts the mirror image" \
	"$(peer_transfer "$netns2" wg2)" "$tx1_ok" "$handshake_and_pings_2"
check_pair "wg2's device statistics count the same" \
	"$(device_bytes "$netns2" wg2)" "$tx1_ok" "$handshake_and_pings_2"

ip1 link del wg1
ip2 link del wg2

# --- IPv6 outer packets over a 1280-byte path ----------------------------------
make_keys 3 4
setup_narrow_path()
{
	ip1 link add veth1 type veth peer name veth2 netns "$netns2" &&
	ip1 link set veth1 mtu 1280 up && ip2 link set veth2 mtu 1280 up &&
	ip1 addr add fc00::1/64 dev veth1 nodad && ip2 addr add fc00::2/64 dev veth2 nodad &&
	ip1 link add wg3 type wireguard && ip2 link add wg4 type wireguard &&
	n1 "$WG_REF" set wg3 private-key "$tmp/k3" listen-port 20001 \
		peer "$p4" allowed-ips 10.9.0.2/32 endpoint "[fc00::2]:20002" &&
	n2 "$WG_REF" set wg4 private-key "$tmp/k4" listen-port 20002 \
		peer "$p3" allowed-ips 10.9.0.1/32 endpoint "[fc00::1]:20001" &&
	ip1 addr add 10.9.0.1/24 dev wg3 && ip2 addr add 10.9.0.2/24 dev wg4 &&
	ip1 link set wg3 up && ip2 link set wg4 up
}
if setup_narrow_path; then ok "a tunnel over IPv6 with a 1280-byte path"; else not_ok "a tunnel over IPv6 with a 1280-byte path"; fi
check "the tunnel keeps its MTU of 1420" \
	test "$(ip1 -j link show wg3 | $PY -c 'import json,sys; print(json.load(sys.stdin)[0]["mtu"])')" = 1420
check "a small ping crosses (and brings the session up)" n1 ping -c 3 -W 5 10.9.0.2
check "a 1328-byte packet that may not be fragmented inside crosses in outer fragments" \
	n1 ping -c 1 -W 5 -s 1300 -M do 10.9.0.2
check "and back" n2 ping -c 1 -W 5 -s 1300 -M do 10.9.0.1

netns_cleanup
check "module unloads with nothing left behind" unload_wireguard
rm -rf "$tmp"
tap_plan_end
