#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The configuration plane through real clients: Debian's wg (wireguard-tools),
# pyroute2, and wgnl, our raw netlink client for what wg never sends.
# Runs inside the VM (see run-tests.sh); WG_MODULE names our module.
#
#   CONFIG_PAIRS=N   the large set holds N IPv4 and N IPv6 prefixes (65280;
#                    debug-kernel.sh makes it smaller for its slower kernel)

set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

WG_REF=${WG_REF:-/usr/bin/wg}
WGNL=${WGNL:-$here/../../build/selftests/wgnl}
PY=/usr/bin/python3
export WG_COLOR_MODE=never WG_HIDE_KEYS=never
tmp=$(mktemp -d)
CONFIG_PAIRS=${CONFIG_PAIRS:-65280}
big=$((2 * CONFIG_PAIRS))

check "our module loads" load_wireguard
netns_setup
ip0 link add wg0 type wireguard
wg0() { n0 "$WG_REF" "$@"; }

k_dev=$($WG_REF genkey)
peer_a=$($WG_REF genkey | $WG_REF pubkey)
peer_b=$($WG_REF genkey | $WG_REF pubkey)
peer_c=$($WG_REF genkey | $WG_REF pubkey)

allowed() { wg0 show wg0 allowed-ips | awk -v p="$1" '$1 == p { $1 = ""; print substr($0, 2) }' | tr ' ' '\n' | sort | tr '\n' ' '; }
has_prefix() { allowed "$1" | grep -qw -- "$2"; }

# --- a large set through setconf/showconf --------------------------------------
# By default 130,560 prefixes: 65,280 IPv4 /32 and 65,280 IPv6 /128, far
# more than one netlink message holds in either direction.
$PY - "$tmp" "$k_dev" "$peer_a" "$CONFIG_PAIRS" <<'EOF'
import ipaddress, sys
tmp, key, peer, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
v4 = ["10.%d.%d.%d/32" % (i >> 16 & 255, i >> 8 & 255, i & 255) for i in range(n)]
v6 = ["%s/128" % ipaddress.IPv6Address((0xfd00 << 112) + i) for i in range(n)]
with open(tmp + "/big.conf", "w") as f:
    f.write("[Interface]\nPrivateKey = %s\nListenPort = 51000\n\n[Peer]\nPublicKey = %s\n" % (key, peer))
    for i in range(0, len(v4), 1000):
        f.write("AllowedIPs = %s\n" % ", ".join(v4[i:i + 1000] + v6[i:i + 1000]))
with open(tmp + "/big.sorted", "w") as f:
    f.write("\n".join(sorted(v4 + v6)) + "\n")
EOF
t0=$(date +%s.%N)
check "wg setconf of one peer with $big allowed IPs" wg0 setconf wg0 "$tmp/big.conf"
diag "setconf took $(awk "BEGIN { print $(date +%s.%N) - $t0 }") s"
wg0 showconf wg0 >"$tmp/big.shown"
sed -n 's/^AllowedIPs = //p' "$tmp/big.shown" | tr ',' '\n' | tr -d ' ' | sort >"$tmp/big.back"
check "wg showconf gives back exactly the same $big prefixes" cmp "$tmp/big.sorted" "$tmp/big.back"
check "wg showconf names the one peer once" test "$(grep -c '^PublicKey' "$tmp/big.shown")" = 1
if [ -x "$WGNL" ]; then
	n0 "$WGNL" dump wg0 >"$tmp/dump.out"
	read -r _ messages _ intr _ peers _ ips <"$tmp/dump.out"
	diag "dump: $(cat "$tmp/dump.out")"
	check "the dump spans many messages" test "$messages" -gt 10
	check "each message continues the same peer" test "$peers" = "$messages"
	check "the dump holds every prefix once" test "$ips" = "$big"
	check "a quiet dump is not flagged as interrupted" test "$intr" = 0
else
	not_ok "wgnl test client is built ($WGNL)"
fi
cat >"$tmp/pyroute2-count.py" <<'EOF'
import sys
from pyroute2 import WireGuard
msgs = WireGuard().info(sys.argv[1])
keys, ips = set(), 0
for m in msgs:
    for p in m.get_attr('WGDEVICE_A_PEERS') or []:
        key = p.get_attr('WGPEER_A_PUBLIC_KEY')
        keys.add(key['value'] if isinstance(key, dict) else key)
        ips += len(p.get_attr('WGPEER_A_ALLOWEDIPS') or [])
print(len(keys), ips, msgs[0].get_attr('WGDEVICE_A_LISTEN_PORT'))
EOF
check "pyroute2 reads it: one peer, $big prefixes, port 51000" \
	test "$(n0 $PY "$tmp/pyroute2-count.py" wg0)" = "1 $big 51000"

# A change made while a dump is read flags the dump: wgnl runs the change
# once it has read the first part, so the parts after it are built on the
# changed device (the quiet dump above is the case without a change).
if [ -x "$WGNL" ]; then
	n0 "$WGNL" dump wg0 --then "$WG_REF set wg0 peer $peer_b allowed-ips 192.168.1.0/24" \
		>"$tmp/dump-intr.out"
	read -r _ _ _ intr _ _ _ ips <"$tmp/dump-intr.out"
	diag "dump during a change: $(cat "$tmp/dump-intr.out")"
	check "a dump that raced a change is flagged NLM_F_DUMP_INTR" test "$intr" -gt 0
	wg0 set wg0 peer "$peer_b" remove
fi
check "replacing the large set by a small one" \
	wg0 set wg0 peer "$peer_a" allowed-ips 10.0.0.1/32,fd00::1/128
check "and only the small one is left" test "$(allowed "$peer_a")" = "10.0.0.1/32 fd00::1/128 "

# --- WGALLOWEDIP_F_REMOVE_ME ---------------------------------------------------
wg0 set wg0 peer "$peer_a" allowed-ips 10.1.0.0/16,10.2.0.1/32,fd01::/48 \
	peer "$peer_b" allowed-ips 10.3.0.0/16
check "remove a present prefix" n0 "$WGNL" set wg0 "$peer_a" -10.2.0.1/32
check "it is gone" sh -c "! ip netns exec $netns0 $WG_REF show wg0 allowed-ips | grep -q 10.2.0.1/32"
check "the others stay" test "$(allowed "$peer_a")" = "10.1.0.0/16 fd01::/48 "
check "remove an IPv6 prefix" n0 "$WGNL" set wg0 "$peer_a" -fd01::/48
check "it is gone too" test "$(allowed "$peer_a")" = "10.1.0.0/16 "
check "remove an absent prefix: success" n0 "$WGNL" set wg0 "$peer_a" -10.99.0.0/16
check "remove another peer's prefix: success" n0 "$WGNL" set wg0 "$peer_a" -10.3.0.0/16
check "and the other peer keeps it" test "$(allowed "$peer_b")" = "10.3.0.0/16 "
check "remove a shorter prefix than configured: success" n0 "$WGNL" set wg0 "$peer_a" -10.1.0.0/8
check "remove a longer prefix than configured: success" n0 "$WGNL" set wg0 "$peer_a" -10.1.0.0/24
check "and the configured one stays" has_prefix "$peer_a" 10.1.0.0/16
check "add and remove in one message, in order" \
	n0 "$WGNL" set wg0 "$peer_a" +10.5.0.0/16 -10.5.0.0/16 +10.6.0.0/16 +10.0.0.1/32 -10.0.0.1/32
check "the result follows message order" test "$(allowed "$peer_a")" = "10.1.0.0/16 10.6.0.0/16 "
check "removing under REPLACE_ALLOWEDIPS" \
	n0 "$WGNL" set wg0 "$peer_a" --replace +10.7.0.0/16 +10.6.0.0/16 -10.6.0.0/16
check "replace left only what the message kept" test "$(allowed "$peer_a")" = "10.7.0.0/16 "

# --- bad requests are refused and change nothing -------------------------------
before=$(wg0 showconf wg0)
refused()
{
	local what=$1 want=$2 out
	shift 2
	out=$(n0 "$WGNL" set wg0 "$@" 2>&1)
	if [ $? = 1 ] && grep -q "$want" <<<"$out"; then
		ok "$what ($out)"
	else
		not_ok "$what"
		diag "wanted an error matching '$want', got: $out"
	fi
}
refused "unknown allowed IP flag bit: EINVAL" "Invalid argument: .*bit" "$peer_a" --flags 2 +10.8.0.0/16
refused "IPv4 prefix length 33: EINVAL" "Invalid argument: IPv4 prefix length" "$peer_a" +10.8.0.0/33
refused "IPv6 prefix length 129: EINVAL" "Invalid argument: IPv6 prefix length" "$peer_a" +fd02::/129
refused "IPv4 address of 5 bytes: EINVAL" "Invalid argument: IPv4 allowed IP must be 4" "$peer_a" --addrlen 5 +10.8.0.0/16
refused "IPv6 address of 4 bytes: EINVAL" "Invalid argument: IPv6 allowed IP must be 16" "$peer_a" --addrlen 4 +fd02::/64
refused "unknown family: EINVAL" "Invalid argument: .*family" "$peer_a" --family 7 +10.8.0.0/16
refused "protocol version 0: EPROTONOSUPPORT" "Protocol not supported" "$peer_c" --protocol 0 +10.8.0.0/16
refused "protocol version 2: EPROTONOSUPPORT" "Protocol not supported" "$peer_c" --protocol 2 +10.8.0.0/16
refused "a bad removal is refused too" "Invalid argument" "$peer_a" --flags 3 -10.7.0.0/16
refused "a valid change before a bad one" "Invalid argument" "$peer_c" +10.9.0.0/16 +10.9.0.0/40
check "none of the refused requests changed anything" test "$(wg0 showconf wg0)" = "$before"
check "no peer was created by a refused request" sh -c "! ip netns exec $netns0 $WG_REF show wg0 peers | grep -q '$peer_c'"

# --- peers -------------------------------------------------------------------
printf '%s\n' "$k_dev" >"$tmp/key"
check "a peer with the device's own key is ignored" \
	sh -c "ip netns exec $netns0 $WG_REF set wg0 peer \$(printf '%s\n' '$k_dev' | $WG_REF pubkey) allowed-ips 10.10.0.0/16 &&
	       ! ip netns exec $netns0 $WG_REF show wg0 allowed-ips | grep -q 10.10.0.0"
wg0 set wg0 peer "$peer_a" endpoint 192.0.2.7:1234 preshared-key "$tmp/key" persistent-keepalive 5
cat >"$tmp/replace.conf" <<EOF
[Interface]
PrivateKey = $k_dev

[Peer]
PublicKey = $peer_a
AllowedIPs = 10.7.0.0/16, 10.11.0.0/16

[Peer]
PublicKey = $peer_c
AllowedIPs = 10.12.0.0/16
EOF
check "setconf (REPLACE_PEERS) with a changed peer list" wg0 setconf wg0 "$tmp/replace.conf"
check "peers not listed are gone" test "$(wg0 show wg0 peers | sort | tr '\n' ' ')" = "$(printf '%s\n' "$peer_a" "$peer_c" | sort | tr '\n' ' ')"
check "a listed peer has exactly the listed prefixes" test "$(allowed "$peer_a")" = "10.11.0.0/16 10.7.0.0/16 "
check "its preshared key and keepalive are reset as for a new peer" \
	test "$(wg0 show wg0 preshared-keys | grep "$peer_a" | cut -f2)/$(wg0 show wg0 persistent-keepalive | grep "$peer_a" | cut -f2)" = "(none)/off"
check "but it was updated in place: its endpoint is kept" \
	test "$(wg0 show wg0 endpoints | grep "$peer_a" | cut -f2)" = "192.0.2.7:1234"
check "UPDATE_ONLY does not create a peer" \
	sh -c "ip netns exec $netns0 $WGNL set wg0 $peer_b --update-only +10.13.0.0/16 &&
	       ! ip netns exec $netns0 $WG_REF show wg0 peers | grep -q '$peer_b'"
check "UPDATE_ONLY changes a peer that exists" \
	sh -c "ip netns exec $netns0 $WGNL set wg0 $peer_c --update-only +10.13.0.0/16 &&
	       ip netns exec $netns0 $WG_REF show wg0 allowed-ips | grep -q '10.13.0.0/16'"
check "REMOVE_ME of an absent peer succeeds" wg0 set wg0 peer "$peer_b" remove
check "clearing the private key" sh -c "printf '%s\n' AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= >$tmp/zero &&
	ip netns exec $netns0 $WG_REF set wg0 private-key $tmp/zero &&
	test \"\$(ip netns exec $netns0 $WG_REF show wg0 private-key)\" = '(none)'"
cat >"$tmp/pyroute2-set.py" <<'EOF'
import sys
from pyroute2 import WireGuard
wg = WireGuard()
wg.set(sys.argv[1], listen_port=41000, fwmark=7, private_key=sys.argv[2],
       peer={'public_key': sys.argv[3], 'endpoint_addr': '192.0.2.9', 'endpoint_port': 4000,
             'persistent_keepalive': 15, 'allowed_ips': ['10.20.0.0/16', 'fd20::/64']})
m = wg.info(sys.argv[1])[0]
p = m.get_attr('WGDEVICE_A_PEERS')[0]
print(m.get_attr('WGDEVICE_A_LISTEN_PORT'), m.get_attr('WGDEVICE_A_FWMARK'),
      p.get_attr('WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL'),
      ','.join(a['addr'] for a in p.get_attr('WGPEER_A_ALLOWEDIPS')))
EOF
ip0 link add wgpy type wireguard
check "pyroute2 configures a device and reads it back" \
	test "$(n0 $PY "$tmp/pyroute2-set.py" wgpy "$k_dev" "$peer_b")" = "41000 7 15 10.20.0.0/16,fd20::/64"
check "and Debian's wg agrees" test "$(wg0 show wgpy endpoints)" = "$peer_b	192.0.2.9:4000"

# --- permissions ---------------------------------------------------------------
check_fails "an unprivileged user cannot read a device" \
	ip netns exec "$netns0" setpriv --reuid=65534 --regid=65534 --clear-groups "$WG_REF" show wg0
check_fails "an unprivileged user namespace cannot change a device it does not own" \
	ip netns exec "$netns0" unshare -U -r "$WG_REF" set wg0 listen-port 1
check "root of a user namespace owns the devices of its network namespace" \
	unshare -U -r -n sh -c "ip link add wgu type wireguard && $WG_REF set wgu listen-port 4242 && test \"\$($WG_REF show wgu listen-port)\" = 4242"

# --- the peer limit ------------------------------------------------------------
# WGDEVICE_A_PEER_LIMIT, our extension: per device, read and set by netlink.
ip0 link add wgl type wireguard
check "a new device reports the default peer limit, 2^20" test "$(n0 "$WGNL" limit wgl)" = 1048576
check "the limit is set to 3" n0 "$WGNL" limit wgl 3
check "and reads back" test "$(n0 "$WGNL" limit wgl)" = 3
check "three peers fit" wg0 set wgl peer "$peer_a" peer "$peer_b" peer "$peer_c"
out=$(wg0 set wgl peer "$($WG_REF genkey | $WG_REF pubkey)" 2>&1)
rc=$?
check "a fourth is refused" test "$rc" != 0
diag "$out"
check "the device still has three" test "$(wg0 show wgl peers | wc -l)" = 3
limit_below_peers()
{
	local out
	out=$(n0 "$WGNL" limit wgl 2) && return 1
	echo "$out"
	test "$out" = "error: Numerical result out of range: the device has more peers than that"
}
check "a limit below the peers it has is refused with ERANGE" limit_below_peers
check "and changes nothing" test "$(n0 "$WGNL" limit wgl)" = 3
check_fails "a limit of 0 is refused" n0 "$WGNL" limit wgl 0
check_fails "a limit over 2^20 is refused" n0 "$WGNL" limit wgl 1048577
check "the limit is raised again" n0 "$WGNL" limit wgl 1048576
check "and a fourth peer fits" wg0 set wgl peer "$($WG_REF genkey | $WG_REF pubkey)"
check "Debian's wg still reads the device" test "$(wg0 show wgl peers | wc -l)" = 4
check "other devices keep the default" test "$(n0 "$WGNL" limit wg0)" = 1048576
check "the module has no parameters (netdev takes no new ones)" test ! -e /sys/module/wireguard/parameters

netns_cleanup
check "module unloads" unload_wireguard
rm -rf "$tmp"
tap_plan_end
