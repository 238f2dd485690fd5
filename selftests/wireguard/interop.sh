#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Interoperability: our module in $netns1 and wireguard-go (Debian's, a
# userspace implementation) in $netns2, over a veth pair carrying both IPv4
# and IPv6.  Each side initiates in turn; ping and iperf3 cross the tunnel
# with both address families inside and outside.
#
#   $netns1: wg1 (ours)     veth 10.0.0.1 fd10::1  <->  veth 10.0.0.2 fd10::2 $netns2: wgi (wireguard-go)

set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

WG_REF=${WG_REF:-/usr/bin/wg}
WGGO=${WGGO:-/usr/bin/wireguard-go}
export WG_COLOR_MODE=never WG_HIDE_KEYS=never
tmp=$(mktemp -d)
umask 077

if [ ! -x "$WGGO" ]; then
	skip "interop with wireguard-go" "wireguard-go is not installed"
	tap_plan_end
	exit 0
fi

check "our module loads" load_wireguard
modprobe tun
netns_setup
ip1 link add veth1 type veth peer name veth2 netns "$netns2"
ip1 addr add 10.0.0.1/24 dev veth1
ip1 addr add fd10::1/64 dev veth1 nodad
ip2 addr add 10.0.0.2/24 dev veth2
ip2 addr add fd10::2/64 dev veth2 nodad
ip1 link set veth1 up
ip2 link set veth2 up

make_keys 1 2

ip1 link add wg1 type wireguard
# Its IPv6 address must survive the down/up that resets sessions.
n1 sysctl -qw net.ipv6.conf.wg1.keep_addr_on_down=1
start_wireguard_go "$netns2" wgi "$tmp/wggo.log" 2>"$tmp/wggo.err"
check "wireguard-go is up in $netns2" ip2 link show wgi

configure()
{
	local endpoint1=$1 endpoint2=$2
	n1 "$WG_REF" set wg1 private-key "$tmp/k1" listen-port 20001 \
		peer "$p2" allowed-ips 192.168.242.2/32,fd01::2/128 endpoint "$endpoint2" &&
	n2 "$WG_REF" set wgi private-key "$tmp/k2" listen-port 20002 \
		peer "$p1" allowed-ips 192.168.242.1/32,fd01::1/128 endpoint "$endpoint1"
}

# Forget every session on both sides, so that the next packet handshakes.
reset_sessions()
{
	ip1 link set wg1 down
	n2 "$WG_REF" set wgi peer "$p1" remove
	ip1 link set wg1 up
	configure "$@"
}

check "configure both ends (outer IPv4)" configure 10.0.0.1:20001 10.0.0.2:20002
ip1 addr add 192.168.242.1/24 dev wg1
ip1 addr add fd01::1/64 dev wg1 nodad
ip1 link set wg1 up
ip2 addr add 192.168.242.2/24 dev wgi
ip2 addr add fd01::2/64 dev wgi nodad
ip2 link set wgi up

check "ours initiates: ping IPv4" n1 ping -c 3 -W 2 192.168.242.2
check "ping IPv6 across" n1 ping -c 2 -W 2 fd01::2
check "wireguard-go answers back" n2 ping -c 2 -W 2 192.168.242.1

n2 iperf3 -s -D -p 5202 >/dev/null 2>&1
n1 iperf3 -s -D -p 5201 >/dev/null 2>&1
wait_tcp_listen "$netns2" 5202
wait_tcp_listen "$netns1" 5201
iperf()
{
	local what=$1 out rate
	shift
	out=$("$@" -t 3 -f m 2>&1)
	rate=$(awk '/receiver/ { print $7, $8 }' <<<"$out")
	if [ -n "$rate" ]; then
		ok "$what: $rate"
	else
		not_ok "$what"
		diag "$out"
	fi
}
iperf "iperf3 TCP ours -> wireguard-go (IPv4)" n1 iperf3 -c 192.168.242.2 -p 5202
iperf "iperf3 TCP wireguard-go -> ours (IPv6)" n2 iperf3 -c fd01::1 -p 5201

check "reset sessions, outer IPv6" reset_sessions "[fd10::1]:20001" "[fd10::2]:20002"
check "wireguard-go initiates: ping IPv4" n2 ping -c 3 -W 2 192.168.242.1
check "ours answers back over IPv6 outside" n1 ping -c 2 -W 2 fd01::2
check "the session is on the IPv6 endpoint" \
	test "$(n1 "$WG_REF" show wg1 endpoints | cut -f2)" = "[fd10::2]:20002"
iperf "iperf3 TCP ours -> wireguard-go over outer IPv6" n1 iperf3 -c fd01::2 -p 5202
iperf "iperf3 TCP wireguard-go -> ours over outer IPv6" n2 iperf3 -c 192.168.242.1 -p 5201

stop_wireguard_go
netns_cleanup
check "module unloads" unload_wireguard
rm -rf "$tmp"
tap_plan_end
