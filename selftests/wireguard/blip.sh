#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# No blip: a steady UDP stream through the tunnel to a prefix that stays
# configured, while the sending peer's configuration is rewritten in a loop
# with 10,000 prefixes, by every means there is.  Not one sendto() may fail
# and not one datagram may be lost.
#
# Same topology as tunnel.sh: wg1 in $netns1 and wg2 in $netns2, their
# sockets in $netns0.  The stream goes from $netns1 to 192.168.241.2.

set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

WG_REF=${WG_REF:-/usr/bin/wg}
WG=${WG:-$here/../../tools/wg/wg}
PY=/usr/bin/python3
BLIP_PREFIXES=${BLIP_PREFIXES:-10000}
BLIP_SECONDS=${BLIP_SECONDS:-8}
BLIP_RATE=${BLIP_RATE:-400}
export WG_COLOR_MODE=never
tmp=$(mktemp -d)
umask 077

check "our module loads" load_wireguard
netns_setup
make_keys 1 2
tunnel_devices wg1 wg2
n2 "$WG_REF" set wg2 private-key "$tmp/k2" listen-port 10002 \
	peer "$p1" allowed-ips 192.168.241.1/32 endpoint 127.0.0.1:10001
ip1 addr add 192.168.241.1/24 dev wg1
ip2 addr add 192.168.241.2/24 dev wg2

# Two configurations for wg1 that both keep 192.168.241.2/32 (listed first,
# so that even a replace split over several messages has it in the first)
# and differ in the other prefixes: half of them change every time.
$PY - "$tmp" "$k1" "$p2" "$BLIP_PREFIXES" <<'EOF'
import sys
tmp, key, peer, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
def conf(name, offset):
    ips = ["192.168.241.2/32"]
    ips += ["10.%d.%d.0/24" % (i >> 8 & 255, i & 255) for i in range(n // 2)]
    ips += ["10.%d.%d.0/24" % ((i + offset) >> 8 & 255, (i + offset) & 255) for i in range(n // 2, n - 1)]
    with open("%s/%s.conf" % (tmp, name), "w") as f:
        f.write("[Interface]\nPrivateKey = %s\nListenPort = 10001\n\n" % key)
        f.write("[Peer]\nPublicKey = %s\nEndpoint = 127.0.0.1:10002\n" % peer)
        for i in range(0, len(ips), 500):
            f.write("AllowedIPs = %s\n" % ", ".join(ips[i:i + 500]))
conf("a", 0)
conf("b", 20000)
EOF
n1 "$WG_REF" setconf wg1 "$tmp/a.conf"
ip1 link set wg1 up
ip2 link set wg2 up
check "the tunnel is up" n1 ping -c 2 -W 2 192.168.241.2

cat >"$tmp/stream.py" <<'EOF'
import errno, os, socket, sys, time, collections
mode = sys.argv[1]
if mode == "recv":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    # A deep buffer, so that a slow (debug) kernel scheduling us late does
    # not drop what the tunnel delivered; SO_RCVBUFFORCE ignores rmem_max.
    s.setsockopt(socket.SOL_SOCKET, 33, 8 << 20)
    s.bind(("0.0.0.0", 9999))
    s.settimeout(1)
    ready, stop = sys.argv[2], sys.argv[3]
    open(ready, "w").write("ready\n")
    got = 0
    # Count until the sender is done and the tunnel has been quiet a second.
    while True:
        try:
            s.recv(2048)
            got += 1
        except socket.timeout:
            if os.path.exists(stop):
                break
    print(got)
else:
    rate, secs = float(sys.argv[2]), float(sys.argv[3])
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sent, errors = 0, collections.Counter()
    start = time.monotonic()
    n = 0
    while time.monotonic() - start < secs:
        try:
            s.sendto(b"x" * 100, ("192.168.241.2", 9999))
            sent += 1
        except OSError as e:
            errors[errno.errorcode.get(e.errno, str(e.errno))] += 1
        n += 1
        delay = start + n / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    print(sent, sum(errors.values()), " ".join("%s=%d" % kv for kv in errors.items()))
EOF

# blip NAME COMMAND...: the stream runs while COMMAND runs in a loop.
blip()
{
	local name=$1 sent errors detail got loops=0 receiver
	shift
	rm -f "$tmp/ready" "$tmp/stop"
	n2 $PY "$tmp/stream.py" recv "$tmp/ready" "$tmp/stop" >"$tmp/got" &
	receiver=$!
	while [ ! -e "$tmp/ready" ]; do sleep 0.1; done
	n1 $PY "$tmp/stream.py" send "$BLIP_RATE" "$BLIP_SECONDS" >"$tmp/sent" &
	local sender=$!
	while kill -0 "$sender" 2>/dev/null; do
		"$@" a >/dev/null 2>"$tmp/err" || { cat "$tmp/err"; break; }
		"$@" b >/dev/null 2>"$tmp/err" || { cat "$tmp/err"; break; }
		loops=$((loops + 2))
	done
	wait "$sender"
	touch "$tmp/stop"
	wait "$receiver"
	read -r sent errors detail <"$tmp/sent"
	got=$(cat "$tmp/got")
	diag "$name: $loops reconfigurations, $sent sent, $errors send errors ${detail:+($detail) }, $got received"
	if [ "$errors" = 0 ] && [ "$got" = "$sent" ] && [ "$loops" -ge 2 ]; then
		ok "no blip: $name"
	else
		not_ok "no blip: $name"
	fi
	n1 "$WG_REF" setconf wg1 "$tmp/a.conf"
}

debian_setconf() { n1 "$WG_REF" setconf wg1 "$tmp/$1.conf"; }
our_setconf() { n1 "$WG" setconf wg1 "$tmp/$1.conf"; }
our_syncconf() { n1 "$WG" syncconf wg1 "$tmp/$1.conf"; }
plus_minus()
{
	if [ "$1" = a ]; then
		n1 "$WG" set wg1 peer "$p2" allowed-ips +172.16.0.0/16,+172.17.0.0/16,-172.18.0.0/16
	else
		n1 "$WG" set wg1 peer "$p2" allowed-ips -172.16.0.0/16,-172.17.0.0/16,+172.18.0.0/16
	fi
}

blip "Debian's wg setconf (REPLACE_PEERS and REPLACE_ALLOWEDIPS)" debian_setconf
blip "our wg setconf" our_setconf
blip "our wg syncconf" our_syncconf
blip "our wg set with +/- prefixes" plus_minus
check "the configuration is intact afterwards" \
	test "$(n1 "$WG_REF" show wg1 allowed-ips | tr ' ' '\n' | grep -c /)" = "$BLIP_PREFIXES"

netns_cleanup
check "module unloads" unload_wireguard
rm -rf "$tmp"
tap_plan_end
