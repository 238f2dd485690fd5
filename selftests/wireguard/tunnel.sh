#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The tunnel between two of our devices.  Both are created in $netns0, where
# their UDP sockets stay, and then moved: wg1 to $netns1 and wg2 to $netns2.
# The outer packets go over $netns0's loopback; the inner ones between
# $netns1 and $netns2, which have no other way to reach each other.
#
#   $netns1 wg1 192.168.241.1 fd00::1  <-- 127.0.0.1:1/2 in $netns0 -->  wg2 192.168.241.2 fd00::2 $netns2

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

wg1() { n1 "$WG_REF" "$@"; }
wg2() { n2 "$WG_REF" "$@"; }
# Not through check: in its subshell the keys tunnel_pair sets would be lost.
if tunnel_pair wg1 wg2; then ok "the tunnel is set up"; else not_ok "the tunnel is set up"; fi

ping1() { n1 ping -c "${2:-1}" -W 2 "$1" >/dev/null 2>&1; }
ping2() { n2 ping -c "${2:-1}" -W 2 "$1" >/dev/null 2>&1; }
endpoint_of() { "$@" | cut -f2; }

# --- connectivity ------------------------------------------------------------
check "the sockets stay in the namespace the devices were created in" \
	sh -c "ip netns exec $netns0 ss -uln | grep -q ':10001 ' &&
	       ! ip netns exec $netns1 ss -uln | grep -q ':10001 '"
check "ping IPv4 1 -> 2 (first packet waits for the handshake)" ping1 192.168.241.2 3
check "ping IPv4 2 -> 1" ping2 192.168.241.1
check "ping IPv6 1 -> 2" ping1 fd00::2
check "ping IPv6 2 -> 1" ping2 fd00::1
check "a handshake is reported" sh -c "test \$(ip netns exec $netns1 $WG_REF show wg1 latest-handshakes | cut -f2) -gt 0"
check "transfer is counted both ways" \
	sh -c "ip netns exec $netns1 $WG_REF show wg1 transfer | awk '{ exit !(\$2 > 0 && \$3 > 0) }'"
check "large packets, fragmented inside the tunnel" n1 ping -c 1 -W 2 -s 3000 192.168.241.2
check "packets of every small size (padding)" \
	sh -c "for s in 0 1 15 16 17 100 1371 1372 1392; do ip netns exec $netns1 ping -c 1 -W 2 -s \$s 192.168.241.2 >/dev/null || exit 1; done"

out=$(n1 ping -c 1 -W 1 192.168.241.99 2>&1)
check "no peer for a destination: the sender gets ENOKEY" grep -q "Required key not available" <<<"$out"

n2 iperf3 -s -D -p 5201 >/dev/null 2>&1
wait_tcp_listen "$netns2" 5201
for dir in "" "-R"; do
	for dst in 192.168.241.2 fd00::2; do
		out=$(n1 iperf3 -c "$dst" -p 5201 -t 3 -f m $dir 2>&1)
		rate=$(awk '/receiver/ { print $7, $8 }' <<<"$out")
		if [ -n "$rate" ]; then
			ok "iperf3 TCP to $dst ${dir:-(1 -> 2)}${dir:+(2 -> 1)}: $rate"
		else
			not_ok "iperf3 TCP to $dst $dir"
			diag "$out"
		fi
	done
done

# --- roaming -------------------------------------------------------------------
check "wg2 moves to a new port" wg2 set wg2 listen-port 10003
check "and still reaches wg1" ping2 192.168.241.1
check "wg1 learnt wg2's new endpoint from its packets" \
	test "$(endpoint_of wg1 show wg1 endpoints)" = "127.0.0.1:10003"
check "wg1 reaches wg2 there" ping1 192.168.241.2

# --- source filtering -------------------------------------------------------------
ip2 addr add 192.168.241.50/32 dev wg2
errors_before=$(ip -n "$netns1" -s -j link show wg1 | $PY -c 'import json,sys; print(json.load(sys.stdin)[0]["stats64"]["rx"]["errors"])')
check_fails "a packet whose inner source the peer may not use is dropped" \
	n2 ping -c 1 -W 1 -I 192.168.241.50 192.168.241.1
errors_after=$(ip -n "$netns1" -s -j link show wg1 | $PY -c 'import json,sys; print(json.load(sys.stdin)[0]["stats64"]["rx"]["errors"])')
check "and counted as a receive error" test "$errors_after" -gt "$errors_before"
ip2 addr del 192.168.241.50/32 dev wg2

# --- preshared keys -------------------------------------------------------------
restart() { ip1 link set wg1 down; ip2 link set wg2 down; ip1 link set wg1 up; ip2 link set wg2 up; }
head -c 32 /dev/urandom | base64 >"$tmp/psk"
head -c 32 /dev/urandom | base64 >"$tmp/psk2"
wg1 set wg1 peer "$p2" preshared-key "$tmp/psk"
wg2 set wg2 peer "$p1" preshared-key "$tmp/psk" endpoint 127.0.0.1:10001
restart
check "matching preshared keys" ping1 192.168.241.2 2
wg2 set wg2 peer "$p1" preshared-key "$tmp/psk2"
restart
check_fails "mismatched preshared keys: no handshake" ping1 192.168.241.2 2
wg2 set wg2 peer "$p1" preshared-key "$tmp/psk"
restart
check "matching again" ping1 192.168.241.2 3

# --- a device-wide replace updates peers in place ----------------------------------
# Upstream destroys and re-creates every peer on REPLACE_PEERS, losing their
# sessions; ours keeps the peers it lists, so no new handshake is needed.
handshake_before=$(wg1 show wg1 latest-handshakes | cut -f2)
wg1 showconf wg1 >"$tmp/wg1.conf"
sleep 1.5
check "Debian's wg setconf of the running configuration (REPLACE_PEERS)" wg1 setconf wg1 "$tmp/wg1.conf"
check "traffic flows right after it" ping1 192.168.241.2
check "on the same session: no new handshake was needed" \
	test "$(wg1 show wg1 latest-handshakes | cut -f2)" = "$handshake_before"

# --- persistent keepalive ----------------------------------------------------------
rx_of_peer() { wg2 show wg2 transfer | cut -f2; }
wg1 set wg1 peer "$p2" persistent-keepalive 1
before=$(rx_of_peer)
sleep 3.5
after=$(rx_of_peer)
diag "wg2 received $before then $after bytes"
check "persistent keepalive: wg2 receives keepalives without traffic" \
	test "$((after - before))" -ge 64
wg1 set wg1 peer "$p2" persistent-keepalive 0

# --- another private key, then the old one back ------------------------------------
# The initiation sent under the other key is never answered; it must not hold
# the next one back for REKEY_TIMEOUT (5 s) once the old key is back.  For the
# initiation under k9 to go out at all, wg1's last must be over 5 s old.
since=$(($(date +%s) - $(wg1 show wg1 latest-handshakes | cut -f2)))
[ "$since" -lt 6 ] && sleep $((6 - since))
make_keys 9
wg1 set wg1 private-key "$tmp/k9"
check_fails "under another key wg2 does not answer" n1 ping -c 1 -W 1 192.168.241.2
wg1 set wg1 private-key "$tmp/k1"
check "the old key back: traffic at once, not after a handshake retry" \
	n1 ping -c 1 -W 3 192.168.241.2
# A packet sent under k9 waits for a session.  When k1 comes back it must not
# wait for the retry of k9's initiation (5 s later) but go out within its 4 s.
wg1 set wg1 private-key "$tmp/k9"
n1 ping -c 1 -W 4 192.168.241.2 >/dev/null 2>&1 &
waiting=$!
sleep 1
wg1 set wg1 private-key "$tmp/k1"
if wait $waiting; then
	ok "a packet waiting across the key change goes out when k1 is back"
else
	not_ok "a packet waiting across the key change goes out when k1 is back"
fi

# --- replayed handshake -------------------------------------------------------------
# Capture wg1's next initiation on $netns0's loopback, let it complete, then
# send it again from elsewhere: its timestamp is not newer, so wg2 must refuse
# it and keep its endpoint.
cat >"$tmp/sniff.py" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0800))
s.bind(("lo", 0))
s.settimeout(20)
open(sys.argv[3], "w").close()
while True:
    pkt = s.recv(65535)
    ihl = (pkt[0] & 15) * 4
    if pkt[9] != 17:
        continue
    dport = int.from_bytes(pkt[ihl + 2:ihl + 4], "big")
    payload = pkt[ihl + 8:]
    if dport == int(sys.argv[2]) and len(payload) == 148 and payload[0] == 1:
        open(sys.argv[1], "wb").write(payload)
        break
EOF
n0 $PY "$tmp/sniff.py" "$tmp/initiation" 10003 "$tmp/sniff.ready" &
sniffer=$!
# Python takes a while to start on an emulated CPU: a fixed half second
# was once not enough, and the initiation went by before the socket was.
for _ in $(seq 1 100); do [ -e "$tmp/sniff.ready" ] && break; sleep 0.1; done
ip1 link set wg1 down
ip1 link set wg1 up
ping1 192.168.241.2 2
wait $sniffer
if [ -s "$tmp/initiation" ]; then
	ok "captured a handshake initiation"
	errors_before=$(ip -n "$netns2" -s -j link show wg2 | $PY -c 'import json,sys; print(json.load(sys.stdin)[0]["stats64"]["rx"]["errors"])')
	n0 $PY -c "import socket,sys; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('127.0.0.1', 45678)); s.sendto(open(sys.argv[1],'rb').read(), ('127.0.0.1', 10003))" "$tmp/initiation"
	sleep 1
	errors_after=$(ip -n "$netns2" -s -j link show wg2 | $PY -c 'import json,sys; print(json.load(sys.stdin)[0]["stats64"]["rx"]["errors"])')
	check "the replayed initiation is refused (counted as an error)" test "$errors_after" -gt "$errors_before"
	check "and did not move wg2's endpoint for wg1" test "$(endpoint_of wg2 show wg2 endpoints)" = "127.0.0.1:10001"
	check "the tunnel still works" ping1 192.168.241.2
else
	not_ok "captured a handshake initiation"
fi

# --- many peers -----------------------------------------------------------------------
cat >"$tmp/many.py" <<'EOF'
import base64, os, sys
for i in range(int(sys.argv[1])):
    key = base64.b64encode(os.urandom(32)).decode()
    print("peer %s allowed-ips 10.%d.%d.0/24 endpoint 127.0.0.1:%d" % (key, i >> 8, i & 255, 20000 + i))
EOF
$PY "$tmp/many.py" 500 | tr '\n' ' ' >"$tmp/many.args"
check "500 more peers on wg1" sh -c "ip netns exec $netns1 $WG_REF set wg1 \$(cat $tmp/many.args)"
check "the tunnel works among them" ping1 192.168.241.2 2
check "traffic to peers that never answer is only queued" \
	sh -c "for i in 1 2 3; do ip netns exec $netns1 ping -c 1 -W 1 10.0.\$i.1 >/dev/null 2>&1; done; true"

# --- removing things under load -------------------------------------------------------
n1 timeout 20 iperf3 -c 192.168.241.2 -p 5201 -t 8 >/dev/null 2>&1 &
client=$!
sleep 2
check "remove the peer during iperf3" wg1 set wg1 peer "$p2" remove
wait $client
check "add it back" wg1 set wg1 peer "$p2" preshared-key "$tmp/psk" allowed-ips 192.168.241.2/32,fd00::2/128 endpoint 127.0.0.1:10003
check "and the tunnel works again" ping1 192.168.241.2 3
n1 timeout 20 iperf3 -c 192.168.241.2 -p 5201 -t 8 >/dev/null 2>&1 &
client=$!
sleep 2
check "delete the device during iperf3" ip1 link del wg1
wait $client
check "delete the other one" ip2 link del wg2

netns_cleanup
check "module unloads with nothing left behind" unload_wireguard
rm -rf "$tmp"
tap_plan_end
