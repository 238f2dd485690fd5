#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Routing around and through the tunnel: route MTU, IPv6 outer transport,
# roaming across addresses and families, crypto-routing with nested
# AllowedIPs, a new private key, routing loops, NAT, fwmark and wg-quick's
# policy routing, ICMP errors, low-order peer keys, and devices outliving
# the namespaces their sockets or their links live in.
#
# Each section starts from fresh namespaces (fresh below), so the sections
# do not depend on each other.  A check that finds a known defect of the
# module is reported through check_known: "ok" once the defect is fixed, a
# SKIP naming the defect until then (check.sh counts "not ok ... # TODO" as a
# failure, so TODO is not used).

set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

WG_REF=${WG_REF:-/usr/bin/wg}
PY=/usr/bin/python3
export WG_COLOR_MODE=never WG_HIDE_KEYS=never
tmp=$(mktemp -d)
umask 077

netns3="wg-test-$$-3"
n3() { ip netns exec "$netns3" "$@"; }
ip3() { ip -n "$netns3" "$@"; }
wg0() { n0 "$WG_REF" "$@"; }
wg1() { n1 "$WG_REF" "$@"; }
wg2() { n2 "$WG_REF" "$@"; }
wg3() { n3 "$WG_REF" "$@"; }

cleanup()
{
	netns_cleanup
	ip netns del "$netns3" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

# fresh: new, empty $netns0..$netns3, each with its loopback up.
fresh()
{
	netns_cleanup
	ip netns del "$netns3" 2>/dev/null
	netns_setup && ip netns add "$netns3" && ip3 link set lo up
}

# check_known "what" "defect" command...: like check, but a failure is a
# known defect of the module, reported as a SKIP that names it.
check_known()
{
	local what=$1 defect=$2 out
	shift 2
	if out=$("$@" 2>&1); then
		ok "$what"
	else
		skip "$what" "known bug: $defect"
		diag "$out"
	fi
}

# counter NETNS DEV NAME: a counter of /sys/class/net/DEV/statistics.
counter() { ip netns exec "$1" cat "/sys/class/net/$2/statistics/$3"; }
# (The UDP MIB counts no datagram a kernel tunnel sends: the outer packets
# are counted on the links they leave by.)
endpoint_of() { "$@" | cut -f2; }
# wait_for SECONDS command...: until the command succeeds, at most SECONDS.
wait_for()
{
	local limit=$(($1 * 10))
	shift
	for _ in $(seq 1 "$limit"); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}
dmesg_mark() { dmesg | wc -l; }
# dmesg_clean MARK: nothing alarming logged since dmesg_mark gave MARK.
dmesg_clean()
{
	! dmesg | tail -n +"$(($1 + 1))" |
		grep -E 'BUG|WARNING|Oops|Dead loop|recursion|stack|waiting for .* to become free'
}

check "our module loads" load_wireguard
dmesg_start=$(dmesg_mark)

# --- route MTU ---------------------------------------------------------------------
# ping -M do: the payload plus 28 (IPv4) or 48 (IPv6) bytes of headers must
# fit the device's MTU exactly; one byte more is refused locally.  The
# padding to 16 bytes must never push the outer packet past what the MTU
# promises, at any MTU, hence an odd one as well.
fresh
tunnel_pair wg1 wg2
# fits MTU OVERHEAD DST: a ping of exactly MTU bytes with DF passes.
fits() { n1 ping -c 1 -W 3 -M "do" -s $(($1 - $2)) "$3"; }
# too_big MTU OVERHEAD DST: one byte more is refused with "message too long".
too_big()
{
	local out
	out=$(n1 ping -c 1 -W 2 -M "do" -s $(($1 - $2 + 1)) "$3" 2>&1)
	! grep -q ' 0% packet loss' <<<"$out" && grep -qi 'message too long\|mtu' <<<"$out" ||
		{ echo "$out"; return 1; }
}
n1 ping -c 2 -W 3 192.168.241.2 >/dev/null 2>&1
for mtu in 1420 1333; do
	ip1 link set wg1 mtu $mtu
	ip2 link set wg2 mtu $mtu
	check "MTU $mtu: an IPv4 packet of exactly $mtu bytes with DF passes" fits $mtu 28 192.168.241.2
	check "MTU $mtu: an IPv4 packet of $((mtu + 1)) bytes with DF is refused" too_big $mtu 28 192.168.241.2
	check "MTU $mtu: an IPv6 packet of exactly $mtu bytes passes" fits $mtu 48 fd00::2
	check "MTU $mtu: an IPv6 packet of $((mtu + 1)) bytes is refused" too_big $mtu 48 fd00::2
done

# --- IPv6 outer transport ------------------------------------------------------------
wg1 set wg1 peer "$p2" endpoint "[::1]:10002"
wg2 set wg2 peer "$p1" endpoint "[::1]:10001"
check "IPv6 outer: ping 1 -> 2 over [::1]" n1 ping -c 2 -W 3 192.168.241.2
check "IPv6 outer: ping 2 -> 1 over [::1]" n2 ping -c 1 -W 3 192.168.241.1
check "IPv6 outer: IPv6 inner 1 -> 2" n1 ping -c 1 -W 3 fd00::2
check "IPv6 outer: the endpoints stay [::1] on both sides" \
	test "$(endpoint_of wg2 show wg2 endpoints) $(endpoint_of wg1 show wg1 endpoints)" = "[::1]:10001 [::1]:10002"

# --- roaming: a new address, then across families ---------------------------------------
# wg2 learns wg1's endpoint from wg1's authenticated packets.  A datagram
# that does not authenticate moves nothing.
fresh
tunnel_pair wg1 wg2
ip0 addr add 10.9.9.1/32 dev lo
ip0 addr add 10.9.9.2/32 dev lo
n1 ping -c 2 -W 3 192.168.241.2 >/dev/null 2>&1
check "roaming: wg2 starts with wg1 at 127.0.0.1:10001" \
	test "$(endpoint_of wg2 show wg2 endpoints)" = "127.0.0.1:10001"
wg1 set wg1 peer "$p2" endpoint 10.9.9.2:10002
check "roaming: wg1 sends to wg2 at a new address" n1 ping -c 1 -W 3 192.168.241.2
check "roaming: wg2 now sees wg1 at the new address 10.9.9.2" \
	test "$(endpoint_of wg2 show wg2 endpoints)" = "10.9.9.2:10001"
n0 $PY -c "import socket; s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); s.bind(('::1', 0)); s.sendto(b'\x04' + bytes(31), ('::1', 10002))"
check "roaming: an unauthenticated datagram from [::1] moves nothing" \
	test "$(endpoint_of wg2 show wg2 endpoints)" = "10.9.9.2:10001"
wg1 set wg1 peer "$p2" endpoint "[::1]:10002"
check "roaming: wg2 keeps the IPv4 endpoint until a packet from IPv6 arrives" \
	test "$(endpoint_of wg2 show wg2 endpoints)" = "10.9.9.2:10001"
check "roaming: wg1 sends from IPv6" n1 ping -c 1 -W 3 192.168.241.2
check "roaming: wg2 moved wg1's endpoint from IPv4 to IPv6" \
	test "$(endpoint_of wg2 show wg2 endpoints)" = "[::1]:10001"
check "roaming: and answers there (wg2 -> wg1)" n2 ping -c 1 -W 3 192.168.241.1
wg1 set wg1 peer "$p2" endpoint 127.0.0.1:10002
check "roaming: wg1 back to IPv4" n1 ping -c 1 -W 3 192.168.241.2
check "roaming: wg2 moved wg1's endpoint from IPv6 back to IPv4" \
	test "$(endpoint_of wg2 show wg2 endpoints)" = "127.0.0.1:10001"

# --- crypto-routing: a more specific peer owns its prefix ---------------------------------
# wg1 has peer A (wg2, 10.0.0.0/8) and peer B (wg3, 10.1.0.0/16).  An inner
# source is accepted only from the peer whose AllowedIPs hold it most
# specifically.
fresh
make_keys 1 2 3
ip0 link add wg1 type wireguard; ip0 link set wg1 netns "$netns1"
ip0 link add wg2 type wireguard; ip0 link set wg2 netns "$netns2"
ip0 link add wg3 type wireguard; ip0 link set wg3 netns "$netns3"
wg1 set wg1 private-key "$tmp/k1" listen-port 10001 \
	peer "$p2" allowed-ips 10.0.0.0/8 endpoint 127.0.0.1:10002 \
	peer "$p3" allowed-ips 10.1.0.0/16 endpoint 127.0.0.1:10003
wg2 set wg2 private-key "$tmp/k2" listen-port 10002 peer "$p1" allowed-ips 192.168.241.1/32 endpoint 127.0.0.1:10001
wg3 set wg3 private-key "$tmp/k3" listen-port 10003 peer "$p1" allowed-ips 192.168.241.1/32 endpoint 127.0.0.1:10001
ip1 addr add 192.168.241.1/32 dev wg1
for n in 2 3; do
	ip -n "wg-test-$$-$n" addr add 10.1.0.1/32 dev wg$n
	ip -n "wg-test-$$-$n" addr add 10.2.0.1/32 dev wg$n
	ip -n "wg-test-$$-$n" link set wg$n up
	ip -n "wg-test-$$-$n" route add 192.168.241.1/32 dev wg$n
done
ip1 link set wg1 up
ip1 route add 10.0.0.0/8 dev wg1
# from NETNS SRC: pings wg1 from SRC; succeeds when wg1 accepted the packet
# (its rx_errors did not grow), fails when wg1 dropped it.
from()
{
	local before after
	before=$(counter "$netns1" wg1 rx_errors)
	ip netns exec "$1" ping -c 1 -W 2 -I "$2" 192.168.241.1 >/dev/null 2>&1
	after=$(counter "$netns1" wg1 rx_errors)
	echo "wg1 rx_errors $before -> $after"
	[ "$after" = "$before" ]
}
# Sessions first, from sources each peer may use.
n2 ping -c 1 -W 3 -I 10.2.0.1 192.168.241.1 >/dev/null 2>&1
n3 ping -c 1 -W 3 -I 10.1.0.1 192.168.241.1 >/dev/null 2>&1
check "nested AllowedIPs: B (10.1.0.0/16) may send from 10.1.0.1" from "$netns3" 10.1.0.1
check "nested AllowedIPs: and gets the reply" n3 ping -c 1 -W 2 -I 10.1.0.1 192.168.241.1
check_fails "nested AllowedIPs: B may not send from 10.2.0.1 (A's)" from "$netns3" 10.2.0.1
check "nested AllowedIPs: A (10.0.0.0/8) may send from 10.2.0.1" from "$netns2" 10.2.0.1
check "nested AllowedIPs: and gets the reply" n2 ping -c 1 -W 2 -I 10.2.0.1 192.168.241.1
check_fails "nested AllowedIPs: A may not send from 10.1.0.1 (B's, more specific)" from "$netns2" 10.1.0.1

# --- a handshake right after a private key change ---------------------------------------
# The peer learns the new public key; the very next packet must get through
# on a new handshake, not wait on a session made under the old key.
fresh
tunnel_pair wg1 wg2
n1 ping -c 2 -W 3 192.168.241.2 >/dev/null 2>&1
make_keys 3 4
wg1 set wg1 private-key "$tmp/k3"
wg2 set wg2 peer "$p1" remove peer "$p3" allowed-ips 192.168.241.1/32,fd00::1/128 endpoint 127.0.0.1:10001
check_known "new key on wg1: its first ping after the change gets through within 6 s" \
	"wg1 keeps sending on the session made under its old key" \
	n1 ping -c 1 -w 6 192.168.241.2
check "new key on wg1: a handshake under the new key is reported by wg2" \
	test "$(wg2 show wg2 latest-handshakes | cut -f2)" -gt 0
wg2 set wg2 private-key "$tmp/k4"
wg1 set wg1 peer "$p2" remove peer "$p4" allowed-ips 192.168.241.2/32,fd00::2/128 endpoint 127.0.0.1:10002
check_known "new key on wg2: wg2's first ping after the change gets through within 6 s" \
	"wg2 keeps sending on the session made under its old key" \
	n2 ping -c 1 -w 6 192.168.241.1

# --- routing loops must not flood ---------------------------------------------------------
# A device whose peer's endpoint is routed into the device itself, and two
# devices each of whose endpoint is routed into the other: one ping, and
# the counters must stay small.
fresh
mark=$(dmesg_mark)
make_keys 1 2 3 4
ip1 link add wgself type wireguard
wg1 set wgself private-key "$tmp/k1" peer "$p2" allowed-ips 10.99.0.0/24 endpoint 10.99.0.2:10002
ip1 addr add 10.99.0.1/24 dev wgself
ip1 link set wgself up
n1 ping -c 1 -W 1 10.99.0.5 >/dev/null 2>&1
sleep 2
tx=$(counter "$netns1" wgself tx_packets)
diag "wgself sent $tx packets"
check "loop through itself: tx_packets stays under 10" test "$tx" -lt 10

ip2 link add wga type wireguard
ip2 link add wgb type wireguard
wg2 set wga private-key "$tmp/k3" peer "$p1" allowed-ips 10.97.0.0/24 endpoint 10.98.0.2:10002
wg2 set wgb private-key "$tmp/k4" peer "$p2" allowed-ips 10.98.0.0/24 endpoint 10.97.0.2:10002
ip2 addr add 10.97.0.1/24 dev wga
ip2 addr add 10.98.0.1/24 dev wgb
ip2 link set wga up
ip2 link set wgb up
n2 ping -c 1 -W 1 10.97.0.5 >/dev/null 2>&1
sleep 2
txa=$(counter "$netns2" wga tx_packets) txb=$(counter "$netns2" wgb tx_packets)
diag "wga sent $txa, wgb $txb packets"
check "loop through each other: tx_packets stay under 10 each" test "$txa" -lt 10 -a "$txb" -lt 10

# Between namespaces, over established sessions: wg1 in $netns1 and wg2 in
# $netns2 over a veth, each with AllowedIPs 0.0.0.0/0, and then each side's
# route to the other's endpoint pointed into its own tunnel.
fresh
make_keys 1 2
ip1 link add veth1 type veth peer name veth2 netns "$netns2"
ip1 addr add 10.50.0.1/24 dev veth1; ip1 link set veth1 up
ip2 addr add 10.50.0.2/24 dev veth2; ip2 link set veth2 up
ip1 link add wg1 type wireguard
ip2 link add wg2 type wireguard
wg1 set wg1 private-key "$tmp/k1" listen-port 10001 peer "$p2" allowed-ips 0.0.0.0/0 endpoint 10.50.0.2:10002
wg2 set wg2 private-key "$tmp/k2" listen-port 10002 peer "$p1" allowed-ips 0.0.0.0/0 endpoint 10.50.0.1:10001
ip1 addr add 192.168.241.1/24 dev wg1; ip1 link set wg1 up
ip2 addr add 192.168.241.2/24 dev wg2; ip2 link set wg2 up
check "loop between namespaces: the tunnel works before the loop" n1 ping -c 2 -w 8 192.168.241.2
ip1 route add 10.50.0.2/32 dev wg1
ip2 route add 10.50.0.1/32 dev wg2
before1=$(counter "$netns1" wg1 tx_packets) before2=$(counter "$netns2" wg2 tx_packets)
n1 ping -c 1 -W 1 192.168.241.2 >/dev/null 2>&1
sleep 2
d1=$(($(counter "$netns1" wg1 tx_packets) - before1)) d2=$(($(counter "$netns2" wg2 tx_packets) - before2))
diag "after one ping: wg1 sent $d1, wg2 $d2 more packets"
check "loop between namespaces: one ping, fewer than 10 packets each way" test "$d1" -lt 10 -a "$d2" -lt 10
check "routing loops: the kernel logged nothing alarming" dmesg_clean "$mark"

# --- NAT with persistent keepalive ----------------------------------------------------------
# wg1 (inside, $netns1) reaches wg2 (outside, $netns2) through $netns0,
# which masquerades.  wg2 knows no endpoint for wg1; it learns the NATed one
# from wg1's keepalives and can then reach wg1 without wg1 sending data.
fresh
if n0 sh -c 'command -v nft || command -v iptables' >/dev/null 2>&1; then
	make_keys 1 2
	ip1 link add veth1 type veth peer name veth0i netns "$netns0"
	ip2 link add veth2 type veth peer name veth0o netns "$netns0"
	ip1 addr add 10.10.0.2/24 dev veth1; ip1 link set veth1 up
	ip1 route add default via 10.10.0.1
	ip0 addr add 10.10.0.1/24 dev veth0i; ip0 link set veth0i up
	ip0 addr add 10.20.0.1/24 dev veth0o; ip0 link set veth0o up
	ip2 addr add 10.20.0.2/24 dev veth2; ip2 link set veth2 up
	n0 sysctl -qw net.ipv4.ip_forward=1
	if n0 sh -c 'command -v nft' >/dev/null 2>&1; then
		n0 nft -f - <<-EOF
		table ip nat {
			chain post { type nat hook postrouting priority srcnat; oifname "veth0o" masquerade; }
		}
		EOF
	else
		n0 iptables -t nat -A POSTROUTING -o veth0o -j MASQUERADE
	fi
	nat_ok=$?
	ip1 link add wg1 type wireguard
	ip2 link add wg2 type wireguard
	wg1 set wg1 private-key "$tmp/k1" listen-port 10001 \
		peer "$p2" allowed-ips 192.168.241.2/32 endpoint 10.20.0.2:10002 persistent-keepalive 1
	wg2 set wg2 private-key "$tmp/k2" listen-port 10002 peer "$p1" allowed-ips 192.168.241.1/32
	ip1 addr add 192.168.241.1/24 dev wg1
	ip2 addr add 192.168.241.2/24 dev wg2
	ip2 link set wg2 up
	ip1 link set wg1 up
	check "NAT: masquerading set up in $netns0" test "$nat_ok" = 0
	check "NAT: wg2 learns wg1's endpoint, the NATed address 10.20.0.1" \
		wait_for 10 sh -c "ip netns exec $netns2 $WG_REF show wg2 endpoints | grep -q '10.20.0.1:'"
	check "NAT: wg2 reaches wg1 behind the NAT" n2 ping -c 1 -W 3 192.168.241.1
else
	skip "NAT with persistent keepalive" "neither nft nor iptables is installed"
fi

# --- fwmark -----------------------------------------------------------------------------------
# The only route to wg2's endpoint is in table 100.  With fwmark 0x51 and a
# rule sending that mark to table 100, the handshake gets there; without
# the rule, or without the mark, it cannot.
fresh
make_keys 1 2
ip1 link add veth1 type veth peer name veth2 netns "$netns2"
ip1 addr add 10.50.0.1/32 dev veth1; ip1 link set veth1 up
ip1 route add 10.50.0.2/32 dev veth1 table 100
ip2 addr add 10.50.0.2/24 dev veth2; ip2 link set veth2 up
ip1 link add wg1 type wireguard
ip2 link add wg2 type wireguard
wg1 set wg1 private-key "$tmp/k1" listen-port 10001 fwmark 0x51 \
	peer "$p2" allowed-ips 192.168.241.2/32 endpoint 10.50.0.2:10002
wg2 set wg2 private-key "$tmp/k2" listen-port 10002 peer "$p1" allowed-ips 192.168.241.1/32
ip1 addr add 192.168.241.1/24 dev wg1; ip1 link set wg1 up
ip2 addr add 192.168.241.2/24 dev wg2; ip2 link set wg2 up
check_fails "fwmark: without the rule the peer is unreachable" n1 ping -c 1 -W 2 192.168.241.2
ip1 rule add fwmark 0x51 lookup 100
ip1 link set wg1 down; ip1 link set wg1 up
check "fwmark: with 'ip rule fwmark 0x51 lookup 100' the peer is reached" n1 ping -c 1 -w 8 192.168.241.2
check "fwmark: the outer packets went through veth1 (table 100)" \
	test "$(counter "$netns1" veth1 tx_packets)" -gt 0
wg1 set wg1 fwmark 0
ip2 link set wg2 down; ip2 link set wg2 up
ip1 link set wg1 down; ip1 link set wg1 up
check_fails "fwmark: with the rule but without the mark the peer is unreachable" \
	n1 ping -c 1 -W 2 192.168.241.2

# --- wg-quick-style policy routing --------------------------------------------------------
# Everything through wg1 (default route in table 51820), except wg1's own
# outer packets, marked 51820, which the main table routes (its default
# route, via veth1: wg2's endpoint 10.70.0.2 is not on the link).
fresh
make_keys 1 2
ip1 link add veth1 type veth peer name veth2 netns "$netns2"
ip1 addr add 10.50.0.1/24 dev veth1; ip1 link set veth1 up
ip1 route add default via 10.50.0.2
ip2 addr add 10.50.0.2/24 dev veth2; ip2 link set veth2 up
ip2 addr add 10.70.0.2/32 dev lo
ip2 addr add 10.60.0.1/32 dev lo
ip1 link add wg1 type wireguard
ip2 link add wg2 type wireguard
wg1 set wg1 private-key "$tmp/k1" fwmark 51820 \
	peer "$p2" allowed-ips 0.0.0.0/0 endpoint 10.70.0.2:10002
wg2 set wg2 private-key "$tmp/k2" listen-port 10002 peer "$p1" allowed-ips 192.168.241.1/32
ip1 addr add 192.168.241.1/24 dev wg1; ip1 link set wg1 up
ip2 addr add 192.168.241.2/24 dev wg2; ip2 link set wg2 up
ip1 route add default dev wg1 table 51820
ip1 rule add not fwmark 51820 table 51820
ip1 rule add table main suppress_prefixlength 0
check "policy routing: ping wg2's tunnel address" n1 ping -c 1 -w 8 192.168.241.2
check "policy routing: ping an address behind wg2 (default route through wg1)" n1 ping -c 1 -W 3 10.60.0.1
n1 ping -c 3 -i 0.3 -W 3 10.60.0.1 >/dev/null 2>&1
tx=$(counter "$netns1" wg1 tx_packets) vtx=$(counter "$netns1" veth1 tx_packets)
diag "wg1 sent $tx packets, veth1 $vtx"
check "policy routing: the outer packets left on veth1, none looped into wg1" \
	test "$tx" -lt 12 -a "$vtx" -ge "$tx"

# --- ICMP errors ---------------------------------------------------------------------------------
# A destination in wg2's AllowedIPs that wg2 cannot route: wg2 answers
# "unreachable" through the tunnel.  A destination no peer owns: the local
# stack answers.
fresh
tunnel_pair wg1 wg2
wg1 set wg1 peer "$p2" allowed-ips 192.168.241.2/32,fd00::2/128,10.40.0.0/24,fd40::/64
ip1 route add 10.40.0.0/24 dev wg1
ip1 route add fd40::/64 dev wg1
n2 sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
n1 ping -c 2 -W 3 192.168.241.2 >/dev/null 2>&1
out=$(n1 ping -c 1 -W 3 10.40.0.5 2>&1)
check "ICMP: unreachable IPv4 behind the peer comes back from 192.168.241.2" \
	grep -q "From 192.168.241.2 .*Unreachable" <<<"$out"
diag "$out"
out=$(n1 ping -c 1 -W 3 fd40::5 2>&1)
check "ICMP: unreachable IPv6 behind the peer comes back from fd00::2" \
	grep -qi "From fd00::2 .*unreachable" <<<"$out"
diag "$out"
out=$(n1 ping -c 1 -W 2 192.168.241.99 2>&1)
check_known "ICMP: no peer for an IPv4 destination: the local stack answers unreachable" \
	"no ICMP unreachable is sent for a destination no peer owns" \
	grep -qi "unreachable" <<<"$out"
diag "$out"
out=$(n1 ping -c 1 -W 2 fd00::99 2>&1)
check_known "ICMP: no peer for an IPv6 destination: the local stack answers unreachable" \
	"no ICMPv6 unreachable is sent for a destination no peer owns" \
	grep -qi "unreachable" <<<"$out"
diag "$out"

# --- low-order public keys -----------------------------------------------------------------
# With a peer whose public key is a point of small order, the shared secret
# is all zeros: no handshake may ever be sent to it.
fresh
make_keys 1
low_order="0000000000000000000000000000000000000000000000000000000000000000
0100000000000000000000000000000000000000000000000000000000000000
e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800
5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157
ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"
ip1 link add wg1 type wireguard
wg1 set wg1 private-key "$tmp/k1" listen-port 10001
ip1 addr add 10.30.0.1/24 dev wg1
ip1 link set wg1 up
i=0
for hex in $low_order; do
	i=$((i + 1))
	key=$($PY -c "import base64, sys; print(base64.b64encode(bytes.fromhex(sys.argv[1])).decode())" "$hex")
	if ! wg1 set wg1 peer "$key" allowed-ips 10.30.0.$((i + 1))/32 endpoint 127.0.0.1:$((10010 + i)) 2>/dev/null; then
		ok "low-order key ${hex:0:8}...: refused as a peer"
		continue
	fi
	before=$(counter "$netns1" lo tx_packets)
	n1 ping -c 2 -i 0.5 -W 1 10.30.0.$((i + 1)) >/dev/null 2>&1
	sleep 1
	after=$(counter "$netns1" lo tx_packets)
	tx=$(wg1 show wg1 transfer | awk -v k="$key" '$1 == k { print $3 }')
	hs=$(wg1 show wg1 latest-handshakes | awk -v k="$key" '$1 == k { print $2 }')
	diag "${hex:0:8}: lo tx_packets $before -> $after, peer tx ${tx:-?}, handshake ${hs:-?}"
	check "low-order key ${hex:0:8}...: nothing is ever sent to it" \
		test "$after" = "$before" -a "${tx:-x}" = 0 -a "${hs:-x}" = 0
done

# --- devices and namespaces: no reference outlives its namespace ----------------------------
# A device created in one namespace (its socket's) and moved to another,
# with an endpoint and traffic (dst caches filled), the namespaces deleted
# in several orders, and two devices each living in the other's socket
# namespace.  All must go, and the module must unload.
mark=$(dmesg_mark)
gone() { ! ip -n "$1" link show "$2" >/dev/null 2>&1; }
for order in socket-first link-first crossed-a crossed-b; do
	fresh
	make_keys 1 2
	case $order in
	socket-first | link-first)
		tunnel_devices wg1 wg2
		wg1 set wg1 private-key "$tmp/k1" listen-port 10001 \
			peer "$p2" allowed-ips 192.168.241.2/32 endpoint 127.0.0.1:10002
		wg2 set wg2 private-key "$tmp/k2" listen-port 10002 \
			peer "$p1" allowed-ips 192.168.241.1/32 endpoint 127.0.0.1:10001
		ip1 addr add 192.168.241.1/24 dev wg1; ip1 link set wg1 up
		ip2 addr add 192.168.241.2/24 dev wg2; ip2 link set wg2 up
		n1 ping -c 2 -W 3 192.168.241.2 >/dev/null 2>&1
		if [ $order = socket-first ]; then
			ip netns del "$netns0"
			check "netns, $order: deleting the sockets' namespace deletes the devices" \
				wait_for 10 sh -c "! ip -n $netns1 link show wg1 && ! ip -n $netns2 link show wg2"
			ip netns del "$netns1"; ip netns del "$netns2"
		else
			ip netns del "$netns1"; ip netns del "$netns2"
			ip netns del "$netns0"
			ok "netns, $order: the devices' namespaces, then the sockets'"
		fi
		;;
	crossed-*)
		# wg1 lives in $netns1 with its socket in $netns2, wg2 the other
		# way round; each endpoint is reached over a veth in the socket's
		# namespace.
		ip1 link add veth1 type veth peer name veth2 netns "$netns2"
		ip1 addr add 10.50.0.1/24 dev veth1; ip1 link set veth1 up
		ip2 addr add 10.50.0.2/24 dev veth2; ip2 link set veth2 up
		ip2 link add wg1 type wireguard; ip2 link set wg1 netns "$netns1"
		ip1 link add wg2 type wireguard; ip1 link set wg2 netns "$netns2"
		wg1 set wg1 private-key "$tmp/k1" listen-port 10001 \
			peer "$p2" allowed-ips 192.168.241.2/32 endpoint 10.50.0.1:10002
		wg2 set wg2 private-key "$tmp/k2" listen-port 10002 \
			peer "$p1" allowed-ips 192.168.241.1/32 endpoint 10.50.0.2:10001
		ip1 addr add 192.168.241.1/24 dev wg1; ip1 link set wg1 up
		ip2 addr add 192.168.241.2/24 dev wg2; ip2 link set wg2 up
		check "netns, $order: traffic between the crossed devices" n1 ping -c 2 -w 8 192.168.241.2
		if [ $order = crossed-a ]; then
			ip netns del "$netns1"
			check "netns, $order: deleting $netns1 deletes wg2 (its socket was there)" \
				wait_for 10 gone "$netns2" wg2
			ip netns del "$netns2"
		else
			ip netns del "$netns2"
			check "netns, $order: deleting $netns2 deletes wg1 (its socket was there)" \
				wait_for 10 gone "$netns1" wg1
			ip netns del "$netns1"
		fi
		;;
	esac
done
netns_cleanup
ip netns del "$netns3" 2>/dev/null
# rmmod in the background: with a leaked reference it could block for good.
rmmod wireguard 2>/dev/null &
check "netns: the module unloads within 30 s after all that" wait_for 30 sh -c '! test -d /sys/module/wireguard'
check "netns: no 'waiting for ... to become free' nor other alarm in dmesg" dmesg_clean "$mark"
check "nothing alarming in dmesg over the whole script" dmesg_clean "$dmesg_start"

tap_plan_end
