#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The device and its life cycle, in network namespaces: module load and
# unload, links created, moved and deleted, and a GET_DEVICE round trip.
# Runs inside the VM (see run-tests.sh); WG_MODULE names our module.
#
# Namespaces: $netns0 is where devices are created, $netns1 and $netns2
# are where some of them move to.

set -u
. "$(dirname "$0")/lib.sh"

# Debian's wg (wireguard-tools), the reference client.
WG_REF=${WG_REF:-/usr/bin/wg}
export WG_COLOR_MODE=never WG_HIDE_KEYS=never

is_wireguard_link()
{
	ip -n "$1" -d link show "$2" | grep -q '^ *wireguard '
}

link_has()
{
	ip -n "$1" link show "$2" | head -n 1 | grep -q -- "$3"
}

check "our module loads" load_wireguard
check "it is ours, not the stock one" \
	sh -c '[ "$(cat /sys/module/wireguard/version)" = "$(modinfo -F version "$WG_MODULE")" ] &&
	       [ "$(cat /sys/module/wireguard/srcversion)" = "$(modinfo -F srcversion "$WG_MODULE")" ]'
netns_setup

# --- links in several namespaces ---------------------------------------------
check "ip link add type wireguard in $netns0" ip0 link add wg0 type wireguard
check "ip link add type wireguard in $netns1" ip1 link add wg0 type wireguard
check "a second link in the same namespace" ip0 link add wg1 type wireguard
check "link kind is wireguard" is_wireguard_link "$netns0" wg0
check "flags POINTOPOINT,NOARP" link_has "$netns0" wg0 "<POINTOPOINT,NOARP>"
check "default MTU 1420" link_has "$netns0" wg0 "mtu 1420"
check "link comes up" ip0 link set wg0 up
check "dropped traffic is counted, nothing crashes" \
	sh -c "ip -n $netns0 addr add 10.9.0.1/24 dev wg0 &&
	       ! ip netns exec $netns0 ping -c 1 -W 1 10.9.0.2 >/dev/null 2>&1"
check "MTU can be changed" ip0 link set wg0 mtu 1280
check_fails "a duplicate name is refused" ip0 link add wg0 type wireguard

# --- GET_DEVICE round trip through a real client ---------------------------
key=$($WG_REF genkey)
pub=$(printf '%s\n' "$key" | $WG_REF pubkey)
peer_key=$($WG_REF genkey | $WG_REF pubkey)
printf '%s\n' "$key" >/tmp/wg-netns-key
check "SET_DEVICE: key, port, fwmark, one peer" \
	n0 "$WG_REF" set wg0 private-key /tmp/wg-netns-key listen-port 51820 fwmark 0x2a \
	peer "$peer_key" endpoint 192.0.2.1:51820 persistent-keepalive 25 allowed-ips 10.10.0.0/16,fd00::/64
check "GET_DEVICE: public key derived from the private key" \
	test "$(n0 "$WG_REF" show wg0 public-key)" = "$pub"
check "GET_DEVICE: private key" test "$(n0 "$WG_REF" show wg0 private-key)" = "$key"
check "GET_DEVICE: listen port" test "$(n0 "$WG_REF" show wg0 listen-port)" = 51820
check "GET_DEVICE: fwmark" test "$(n0 "$WG_REF" show wg0 fwmark)" = 0x2a
check "GET_DEVICE: the peer" test "$(n0 "$WG_REF" show wg0 peers)" = "$peer_key"
check "GET_DEVICE: endpoint" \
	test "$(n0 "$WG_REF" show wg0 endpoints)" = "$peer_key	192.0.2.1:51820"
check "GET_DEVICE: allowed IPs" \
	test "$(n0 "$WG_REF" show wg0 allowed-ips)" = "$peer_key	10.10.0.0/16 fd00::/64"
check "GET_DEVICE by a device of another kind fails" \
	sh -c "! ip netns exec $netns0 $WG_REF show lo 2>/dev/null"
check "the device in $netns1 is untouched" \
	test "$(n1 "$WG_REF" show wg0 peers)" = ""

# --- moving links between namespaces ----------------------------------------
check "move a link to $netns2" ip0 link set wg0 netns "$netns2"
check "it is gone from $netns0" sh -c "! ip -n $netns0 link show wg0 2>/dev/null"
check "it is in $netns2, still wireguard" is_wireguard_link "$netns2" wg0
check "its configuration moved with it" \
	test "$(n2 "$WG_REF" show wg0 peers)" = "$peer_key"
check "move it back" ip2 link set wg0 netns "$netns0"
check "and it is configured the same" \
	test "$(n0 "$WG_REF" show wg0 private-key)" = "$key"

# A device lives as long as the namespace it was created in: deleting that
# namespace takes the device along even after it moved elsewhere.
check "create in $netns1, move to $netns2" \
	sh -c "ip -n $netns1 link add wgmove type wireguard && ip -n $netns1 link set wgmove netns $netns2"
ip netns del "$netns1"
check "deleting $netns1 deletes its device in $netns2" \
	sh -c "for i in 1 2 3 4 5 6 7 8 9 10; do ip -n $netns2 link show wgmove >/dev/null 2>&1 || exit 0; sleep 0.5; done; exit 1"

# --- deleting links and unloading ---------------------------------------------
check "ip link del" ip0 link del wg1
check "deleting a configured link" ip0 link del wg0
netns_cleanup
check "module unloads" unload_wireguard
check "nothing of it is left" sh -c '! test -d /sys/module/wireguard'
check_fails "without the module no link can be made" ip link add wg9 type wireguard
check "it loads again" load_wireguard
check "and works again" sh -c "ip link add wg0 type wireguard && ip link del wg0"
check "and unloads again" unload_wireguard

tap_plan_end
