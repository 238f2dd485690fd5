#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Our wg(8) where other programs expect upstream's: Debian's wg-quick with
# our wg first on PATH, wireguard-go driven through its UAPI socket, and a
# syncconf between two large configurations that sends only the difference.

set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

WG=${WG:-$(cd "$here/../../tools/wg" && pwd)/wg}
WG_REF=${WG_REF:-/usr/bin/wg}
WGGO=${WGGO:-/usr/bin/wireguard-go}
PY=/usr/bin/python3
export WG_COLOR_MODE=never WG_HIDE_KEYS=never
tmp=$(mktemp -d)
umask 077

check "our module loads" load_wireguard
modprobe tun
netns_setup

# --- wg-quick with our wg ----------------------------------------------------------
mkdir -p "$tmp/bin" "$tmp/quick"
ln -s "$WG" "$tmp/bin/wg"
peer=$($WG_REF genkey | $WG_REF pubkey)
cat >"$tmp/quick/wgq0.conf" <<EOF
[Interface]
PrivateKey = $($WG_REF genkey)
Address = 10.77.0.1/24, fd77::1/64
ListenPort = 51999

[Peer]
PublicKey = $peer
AllowedIPs = 10.77.0.2/32, 10.78.0.0/16
Endpoint = 192.0.2.77:51820
EOF
quick() { n0 env PATH="$tmp/bin:$PATH" wg-quick "$@"; }
check "wg-quick up with our wg first on PATH" quick up "$tmp/quick/wgq0.conf"
check "it used ours" sh -c "ip netns exec $netns0 env PATH=$tmp/bin:\$PATH sh -c 'command -v wg' | grep -q '^$tmp/bin/wg$'"
check "the device is configured (as Debian's wg sees it)" \
	test "$(n0 "$WG_REF" show wgq0 allowed-ips)" = "$peer	10.77.0.2/32 10.78.0.0/16"
check "wg-quick added the routes for the allowed IPs" \
	sh -c "ip -n $netns0 route show dev wgq0 | grep -q '^10.78.0.0/16'"
check "wg-quick strip and save work with ours" \
	sh -c "ip netns exec $netns0 env PATH=$tmp/bin:\$PATH wg-quick strip $tmp/quick/wgq0.conf | grep -q '^PublicKey = $peer'"
check "wg-quick down" quick down "$tmp/quick/wgq0.conf"
check "the device is gone" sh -c "! ip -n $netns0 link show wgq0 2>/dev/null"

# --- wireguard-go through its UAPI socket -----------------------------------------------
if [ -x "$WGGO" ]; then
	start_wireguard_go "$netns1" wgo "$tmp/wggo.log"
	check "wireguard-go is up" ip1 link show wgo
	$WG_REF genkey >"$tmp/gokey"
	check "our wg configures wireguard-go" \
		n1 "$WG" set wgo private-key "$tmp/gokey" listen-port 41414 \
		peer "$peer" allowed-ips 10.79.0.0/16,10.80.0.0/16 endpoint 192.0.2.1:1
	check "our wg show equals Debian's on wireguard-go" \
		test "$(n1 "$WG" show wgo dump)" = "$(n1 "$WG_REF" show wgo dump)"
	check "our wg adds with + on wireguard-go" n1 "$WG" set wgo peer "$peer" allowed-ips +10.81.0.0/16
	check "the set grew" test "$(n1 "$WG_REF" show wgo allowed-ips | cut -f2)" = "10.79.0.0/16 10.80.0.0/16 10.81.0.0/16"
	out=$(n1 "$WG" set wgo peer "$peer" allowed-ips -10.80.0.0/16 2>&1)
	rc=$?
	if [ $rc = 0 ]; then
		check "a removal reached wireguard-go" sh -c "! ip netns exec $netns1 $WG_REF show wgo allowed-ips | grep -q 10.80.0.0/16"
	else
		check "a removal wireguard-go cannot do is refused clearly" grep -qi "remov" <<<"$out"
		diag "$out"
		check "and changed nothing" test "$(n1 "$WG_REF" show wgo allowed-ips | cut -f2)" = "10.79.0.0/16 10.80.0.0/16 10.81.0.0/16"
	fi
	stop_wireguard_go
else
	skip "our wg on wireguard-go" "wireguard-go is not installed"
fi

# --- syncconf between two large configurations sends only the difference -------------
ip2 link add wg0 type wireguard
$PY - "$tmp" "$($WG_REF genkey)" "$peer" <<'EOF'
import sys
tmp, key, peer = sys.argv[1:4]
ips = ["10.%d.%d.0/24" % (i >> 8, i & 255) for i in range(20000)]
def conf(name, ips):
    with open("%s/%s.conf" % (tmp, name), "w") as f:
        f.write("[Interface]\nPrivateKey = %s\n\n[Peer]\nPublicKey = %s\n" % (key, peer))
        for i in range(0, len(ips), 1000):
            f.write("AllowedIPs = %s\n" % ", ".join(ips[i:i + 1000]))
conf("big-a", ips)
conf("big-b", ips[3:] + ["172.20.0.0/16", "172.21.0.0/16"])
EOF
check "setconf of 20,000 prefixes" n2 "$WG" setconf wg0 "$tmp/big-a.conf"
check "syncconf to a configuration 3 prefixes shorter and 2 longer" \
	n2 strace -f -e trace=sendto,sendmsg -o "$tmp/trace" "$WG" syncconf wg0 "$tmp/big-b.conf"
requests=$(grep -c 'sendto\|sendmsg' "$tmp/trace")
diag "syncconf made $requests netlink requests"
check "it took a handful of requests, not a re-send of 20,000 prefixes" test "$requests" -le 6
check "every request was small" sh -c "! grep -E '(sendto|sendmsg).* = ([0-9]{5,})$' $tmp/trace"
check "and the device has exactly the new configuration" \
	test "$(n2 "$WG_REF" show wg0 allowed-ips | cut -f2 | tr ' ' '\n' | sort | tr '\n' ' ')" = \
	     "$(sed -n 's/^AllowedIPs = //p' "$tmp/big-b.conf" | tr ',' '\n' | tr -d ' ' | sort | tr '\n' ' ')"

netns_cleanup
check "module unloads" unload_wireguard
rm -rf "$tmp"
tap_plan_end
