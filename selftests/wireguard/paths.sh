#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The outer path: which local address our packets leave from, tunnels
# carried inside tunnels, and a tunnel whose endpoint routes into itself.
# Each part builds its own namespaces, joined by veth pairs, with the
# devices created where their sockets live.
#
#   reply to sender:  $netns1 veth 10.0.0.1  <->  veth 10.0.0.2 $netns2, dummy 10.0.9.2
#   better route:     $netns1 vetha 10.0.1.1 <->  10.0.1.2, dummy 10.0.5.2 $netns2
#                     $netns1 vethb 10.0.2.1 <->  10.0.2.2
#   onion:            $netns1 wgo1 over veth, wgi1 over wgo1  <->  the same in $netns2
#   onion, one device: $netns1 wg1 -> peer A over veth, peer B inside A  <->  wga, wgb $netns2

set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

WG_REF=${WG_REF:-/usr/bin/wg}
PY=/usr/bin/python3
export WG_COLOR_MODE=never WG_HIDE_KEYS=never
tmp=$(mktemp -d)
umask 077

check "our module loads" load_wireguard

# A part's namespaces start empty, with reverse path filtering off: the
# replies in these tests may come back on another interface by design.
fresh_namespaces()
{
	local ns

	netns_cleanup
	netns_setup || return 1
	for ns in "$netns1" "$netns2"; do
		ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.rp_filter=0 \
			net.ipv4.conf.default.rp_filter=0 || return 1
	done
}

# veth_pair NAME1 ADDR1 NAME2 ADDR2: NAME1 in $netns1, NAME2 in $netns2, up.
veth_pair()
{
	ip1 link add "$1" type veth peer name "$3" netns "$netns2" &&
		ip1 addr add "$2" dev "$1" && ip2 addr add "$4" dev "$3" &&
		ip1 link set "$1" up && ip2 link set "$3" up
}

# endpoint_of NS DEV KEY: the endpoint DEV in NS has for the peer KEY.
endpoint_of()
{
	ip netns exec "$1" "$WG_REF" show "$2" endpoints | awk -v k="$3" '$1 == k { print $2 }'
}

# expect_endpoint "what" NS DEV KEY ENDPOINT
expect_endpoint()
{
	local got

	got=$(endpoint_of "$2" "$3" "$4")
	if [ "$got" = "$5" ]; then
		ok "$1"
	else
		not_ok "$1"
		diag "expected endpoint $5, got '$got'"
	fi
}

# wg_device NS DEV KEYN PORT ADDR: a device of ours in NS, up, with key N.
wg_device()
{
	ip netns exec "$1" ip link add "$2" type wireguard &&
		ip netns exec "$1" "$WG_REF" set "$2" private-key "$tmp/k$3" listen-port "$4" &&
		ip netns exec "$1" ip addr add "$5" dev "$2" &&
		ip netns exec "$1" ip link set "$2" up
}

tx_packets()
{
	ip -n "$1" -s -j link show "$2" |
		$PY -c 'import json,sys; print(json.load(sys.stdin)[0]["stats64"]["tx"]["packets"])'
}

tx_errors()
{
	ip -n "$1" -s -j link show "$2" |
		$PY -c 'import json,sys; print(json.load(sys.stdin)[0]["stats64"]["tx"]["errors"])'
}

make_keys 1 2 3 4 5

# --- source address: reply to sender ------------------------------------------
# $netns1 reaches $netns2 at an address of a dummy device; the route back to
# $netns1 leaves through the veth, whose own address is another.  $netns2
# must answer from the address the packets came to, or $netns1 would roam
# away from the endpoint it was configured with.
setup_reply_to_sender()
{
	fresh_namespaces &&
	veth_pair veth1 10.0.0.1/24 veth2 10.0.0.2/24 &&
	ip2 link add dummy0 type dummy && ip2 addr add 10.0.9.2/32 dev dummy0 &&
	ip2 link set dummy0 up &&
	ip1 route add 10.0.9.2/32 via 10.0.0.2 &&
	wg_device "$netns1" wg1 1 20001 192.168.10.1/24 &&
	wg_device "$netns2" wg2 2 20002 192.168.10.2/24 &&
	n1 "$WG_REF" set wg1 peer "$p2" allowed-ips 192.168.10.2/32 endpoint 10.0.9.2:20002 &&
	n2 "$WG_REF" set wg2 peer "$p1" allowed-ips 192.168.10.1/32
}
if setup_reply_to_sender; then ok "reply to sender: set up"; else not_ok "reply to sender: set up"; fi
check "reply to sender: ping 1 -> 2" n1 ping -c 1 -W 5 192.168.10.2
expect_endpoint "reply to sender: the answers came from the dummy's address" \
	"$netns1" wg1 "$p2" 10.0.9.2:20002
check "reply to sender: ping 2 -> 1" n2 ping -c 1 -W 5 192.168.10.1
expect_endpoint "reply to sender: and so did packets $netns2 started" \
	"$netns1" wg1 "$p2" 10.0.9.2:20002

# --- source address: a better route ----------------------------------------------
# The endpoint is first reached through vetha (src 10.0.1.1, metric 2), and
# the peer's packets come back to that address.  A route of metric 1 through
# vethb (src 10.0.2.1) must take the next packets, with its own source.
setup_better_route()
{
	fresh_namespaces &&
	veth_pair vetha1 10.0.1.1/24 vetha2 10.0.1.2/24 &&
	veth_pair vethb1 10.0.2.1/24 vethb2 10.0.2.2/24 &&
	ip2 link add dummy0 type dummy && ip2 addr add 10.0.5.2/32 dev dummy0 &&
	ip2 link set dummy0 up &&
	ip1 route add 10.0.5.0/24 via 10.0.1.2 dev vetha1 src 10.0.1.1 metric 2 &&
	wg_device "$netns1" wg1 1 20001 192.168.10.1/24 &&
	wg_device "$netns2" wg2 2 20002 192.168.10.2/24 &&
	n1 "$WG_REF" set wg1 peer "$p2" allowed-ips 192.168.10.2/32 endpoint 10.0.5.2:20002 &&
	n2 "$WG_REF" set wg2 peer "$p1" allowed-ips 192.168.10.1/32
}
if setup_better_route; then ok "better route: set up"; else not_ok "better route: set up"; fi
check "better route: ping 1 -> 2" n1 ping -c 1 -W 5 192.168.10.2
check "better route: ping 2 -> 1" n2 ping -c 1 -W 5 192.168.10.1
expect_endpoint "better route: the peer sees us at route A's source" \
	"$netns2" wg2 "$p1" 10.0.1.1:20001
check "better route: route B added" \
	ip1 route add 10.0.5.0/24 via 10.0.2.2 dev vethb1 src 10.0.2.1 metric 1
check "better route: ping 1 -> 2 after the change" n1 ping -c 1 -W 5 192.168.10.2
expect_endpoint "better route: the peer sees us at route B's source" \
	"$netns2" wg2 "$p1" 10.0.2.1:20001
check "better route: route B removed" \
	ip1 route del 10.0.5.0/24 via 10.0.2.2 dev vethb1 src 10.0.2.1 metric 1
check "better route: ping 1 -> 2 after the removal" n1 ping -c 1 -W 5 192.168.10.2
expect_endpoint "better route: back at route A's source" \
	"$netns2" wg2 "$p1" 10.0.1.1:20001

# --- source address: a listen port change ------------------------------------------
# $netns2 reaches $netns1 at a dummy address, and $netns1 answers from it.
# A new listen port is a new socket: the source learnt on the old one is
# forgotten, and the next packet leaves from the route's own source.
setup_port_change()
{
	fresh_namespaces &&
	veth_pair veth1 10.0.0.1/24 veth2 10.0.0.2/24 &&
	ip1 link add dummy0 type dummy && ip1 addr add 10.0.9.1/32 dev dummy0 &&
	ip1 link set dummy0 up &&
	ip2 route add 10.0.9.1/32 via 10.0.0.1 &&
	wg_device "$netns1" wg1 1 20001 192.168.10.1/24 &&
	wg_device "$netns2" wg2 2 20002 192.168.10.2/24 &&
	n1 "$WG_REF" set wg1 peer "$p2" allowed-ips 192.168.10.2/32 endpoint 10.0.0.2:20002 &&
	n2 "$WG_REF" set wg2 peer "$p1" allowed-ips 192.168.10.1/32 endpoint 10.0.9.1:20001
}
if setup_port_change; then ok "port change: set up"; else not_ok "port change: set up"; fi
check "port change: ping 2 -> 1" n2 ping -c 1 -W 5 192.168.10.1
expect_endpoint "port change: answered from the dummy's address" \
	"$netns2" wg2 "$p1" 10.0.9.1:20001
check "port change: wg1 moves to a new port" n1 "$WG_REF" set wg1 listen-port 20003
check "port change: ping 1 -> 2" n1 ping -c 1 -W 5 192.168.10.2
expect_endpoint "port change: the learnt source is forgotten with the old port" \
	"$netns2" wg2 "$p1" 10.0.0.1:20003

# --- onion routing ---------------------------------------------------------------
# wgi1's endpoint is wgi2's address inside the wgo1-wgo2 tunnel, so each of
# wgi's packets is sent through wgo: a tunnel inside a tunnel, both of our
# devices in each namespace.
setup_onion()
{
	fresh_namespaces &&
	veth_pair veth1 10.0.0.1/24 veth2 10.0.0.2/24 &&
	wg_device "$netns1" wgo1 1 30001 192.168.20.1/24 &&
	wg_device "$netns2" wgo2 2 30002 192.168.20.2/24 &&
	n1 "$WG_REF" set wgo1 peer "$p2" allowed-ips 192.168.20.2/32 endpoint 10.0.0.2:30002 &&
	n2 "$WG_REF" set wgo2 peer "$p1" allowed-ips 192.168.20.1/32 endpoint 10.0.0.1:30001 &&
	wg_device "$netns1" wgi1 3 30011 192.168.21.1/24 &&
	wg_device "$netns2" wgi2 4 30012 192.168.21.2/24 &&
	ip1 link set wgi1 mtu 1340 && ip2 link set wgi2 mtu 1340 &&
	n1 "$WG_REF" set wgi1 peer "$p4" allowed-ips 192.168.21.2/32 endpoint 192.168.20.2:30012 &&
	n2 "$WG_REF" set wgi2 peer "$p3" allowed-ips 192.168.21.1/32
}
if setup_onion; then ok "onion: set up"; else not_ok "onion: set up"; fi
check "onion: the first ping through the inner tunnel is answered" \
	n1 ping -c 1 -W 5 192.168.21.2
check "onion: ping back 2 -> 1" n2 ping -c 1 -W 5 192.168.21.1
check "onion: the inner peer is seen inside the outer tunnel" \
	test "$(endpoint_of "$netns2" wgi2 "$p3")" = 192.168.20.1:30011
check "onion: large packets through both tunnels" n1 ping -c 1 -W 5 -s 2000 192.168.21.2

# The same on one device: wg1's peer B is reached at an address that wg1
# routes to its peer A, so B's packets go out inside A's tunnel.  In
# $netns2, wga is A and wgb is B, reached through wga.
setup_onion_one_device()
{
	fresh_namespaces &&
	veth_pair veth1 10.0.0.1/24 veth2 10.0.0.2/24 &&
	wg_device "$netns1" wg1 1 30001 192.168.30.1/24 &&
	ip1 addr add 192.168.31.1/24 dev wg1 &&
	wg_device "$netns2" wga 2 30002 192.168.30.2/24 &&
	wg_device "$netns2" wgb 3 30003 192.168.31.2/24 &&
	n1 "$WG_REF" set wg1 peer "$p2" allowed-ips 192.168.30.2/32 endpoint 10.0.0.2:30002 \
		peer "$p3" allowed-ips 192.168.31.2/32 endpoint 192.168.30.2:30003 &&
	n2 "$WG_REF" set wga peer "$p1" allowed-ips 192.168.30.1/32 endpoint 10.0.0.1:30001 &&
	n2 "$WG_REF" set wgb peer "$p1" allowed-ips 192.168.31.1/32
}
if setup_onion_one_device; then ok "onion, one device: set up"; else not_ok "onion, one device: set up"; fi
check "onion, one device: the first ping to B, inside A's tunnel, is answered" \
	n1 ping -c 1 -W 5 192.168.31.2
check "onion, one device: ping back from B" n2 ping -c 1 -W 5 192.168.31.1
check "onion, one device: B sees us inside A's tunnel" \
	test "$(endpoint_of "$netns2" wgb "$p1")" = 192.168.30.1:30001
check "onion, one device: A still carries its own traffic" n1 ping -c 1 -W 5 192.168.30.2

# A device whose endpoint is routed into itself: every send must fail at
# once (the route loops), not be encrypted again and again.
setup_loop()
{
	wg_device "$netns1" wgl 5 30021 192.168.22.1/24 &&
	n1 "$WG_REF" set wgl peer "$p2" allowed-ips 192.168.22.0/24 endpoint 192.168.22.2:30022
}
if setup_loop; then ok "loop: set up"; else not_ok "loop: set up"; fi
check_fails "loop: a ping into the loop is not answered" n1 ping -c 3 -i 0.2 -W 1 192.168.22.2
check "loop: the sends failed as errors" test "$(tx_errors "$netns1" wgl)" -gt 0
sent=$(tx_packets "$netns1" wgl)
check "loop: nothing went round ($sent packets sent)" test "$sent" -lt 20
check "loop: the other peers still work" n1 ping -c 1 -W 5 192.168.31.2

# Two peers of one device, each reached inside the other's tunnel: a loop
# that each packet would go round for ever.
setup_loop_of_two()
{
	n1 "$WG_REF" set wgl peer "$p3" allowed-ips 192.168.23.3/32 endpoint 192.168.23.4:30023 \
		peer "$p4" allowed-ips 192.168.23.4/32 endpoint 192.168.23.3:30024 &&
	ip1 addr add 192.168.23.1/24 dev wgl
}
if setup_loop_of_two; then ok "loop of two peers: set up"; else not_ok "loop of two peers: set up"; fi
before=$(tx_packets "$netns1" wgl)
check_fails "loop of two peers: a ping into the loop is not answered" \
	n1 ping -c 3 -i 0.2 -W 1 192.168.23.3
sent=$(($(tx_packets "$netns1" wgl) - before))
check "loop of two peers: nothing went round ($sent packets sent)" test "$sent" -lt 20
check "loop of two peers: the other peers still work" n1 ping -c 1 -W 5 192.168.31.2

netns_cleanup
rm -rf "$tmp"
unload_wireguard
tap_plan_end
