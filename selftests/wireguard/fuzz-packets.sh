#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Hostile input on the wire: while a steady UDP stream crosses a tunnel, a
# fuzzer throws datagrams at the receiving device's listen port, and not one
# of them may be accepted, while each is counted where the driver says it
# counts it and the tunnel keeps flowing.
#
# Same topology as tunnel.sh: wg1 in $netns1 and wg2 in $netns2, both sockets
# in $netns0, where the outer packets cross the loopback.  The fuzzer lives in
# $netns0 too (sending from 127.0.0.2-4 and ::1); it reads wg2's counters
# through sysfs files it opened in $netns2.  The stream goes from $netns1 to
# 192.168.241.2:9999.
#
#   $netns1 wg1 192.168.241.1 :10001 ==(127.0.0.1)==> :10002 wg2 192.168.241.2 $netns2
#                                           ^
#                       fuzzer in $netns0 --+  (and K3, a configured peer it plays)
#
# The fuzzer (fuzz-packets.py, on python3-cryptography) does its own
# Noise handshakes and transport packets.  Junk classes, each counted
# exactly: short and random datagrams, every message type with reserved bits
# set or the wrong length, bad and valid mac1 over garbage, well-formed
# initiations from unknown keys and ones claiming wg1's key, unsolicited
# cookie replies, transport data to unknown indices, forged data on the live
# session, replayed and bit-flipped/truncated/extended copies of real
# transport packets captured on the loopback, large and GSO-batched datagrams.
# Then, as peer K3 (configured on wg2), it authenticates and misbehaves:
# bit-flipped fresh packets, replays, inner packets with foreign sources or
# broken IP headers, the replay window's edges and its end.  Last, a flood of
# initiations puts wg2 under load: it must answer with cookie replies, and K3
# must get through with its cookie.
#
# Environment: PKTFUZZ_COUNT datagrams per junk class (default 200; the flood
# sends at least 10 times that, in bursts of 1024), PKTFUZZ_SEED the seed of
# every random choice of the fuzzer (keys and ephemerals come from the
# system).

set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

WG_REF=${WG_REF:-/usr/bin/wg}
PY=/usr/bin/python3
FUZZ="$here/fuzz-packets.py"
PKTFUZZ_COUNT=${PKTFUZZ_COUNT:-200}
PKTFUZZ_SEED=${PKTFUZZ_SEED:-1}
# The longest the stream may go silent while the fuzzer runs, in seconds: a
# bound for the stock kernels, which make check-debug's ten times slower
# kernel raises.
PKTFUZZ_SILENCE=${PKTFUZZ_SILENCE:-2}
STREAM_RATE=200
# The stream's datagrams on the wire: 64 bytes + UDP + IPv4, padded to 96,
# plus the 16-byte header and the 16-byte tag.
STREAM_WIRE=128
export WG_COLOR_MODE=never WG_HIDE_KEYS=never
tmp=$(mktemp -d)
umask 077

diag "PKTFUZZ_SEED=$PKTFUZZ_SEED PKTFUZZ_COUNT=$PKTFUZZ_COUNT"
check "our module loads" load_wireguard
netns_setup

wg1() { n1 "$WG_REF" "$@"; }
wg2() { n2 "$WG_REF" "$@"; }
make_keys 1 2 3
tunnel_devices wg1 wg2
wg1 set wg1 private-key "$tmp/k1" listen-port 10001 \
	peer "$p2" allowed-ips 192.168.241.2/32 endpoint 127.0.0.1:10002
wg2 set wg2 private-key "$tmp/k2" listen-port 10002 \
	peer "$p1" allowed-ips 192.168.241.1/32 endpoint 127.0.0.1:10001 \
	peer "$p3" allowed-ips 192.168.241.3/32,fd00::3/128
ip1 addr add 192.168.241.1/24 dev wg1
ip2 addr add 192.168.241.2/24 dev wg2
# Everything wg1 sends to wg2, counted from before its first packet.
n0 "$PY" "$FUZZ" sniff 10001 10002 "$tmp/sniff.ready" "$tmp/sniff.stop" "$tmp/sniff.json" &
sniffer=$!
for _ in $(seq 1 100); do [ -e "$tmp/sniff.ready" ] && break; sleep 0.1; done
ip1 link set wg1 up
ip2 link set wg2 up

check "the tunnel comes up" n1 ping -c 3 -W 2 192.168.241.2
# wg1 initiated.  From now on wg2's keepalives keep wg1 from starting a
# handshake because its data went unanswered: until the session is two
# minutes old, a new handshake for p1 could only come from the fuzzer.
wg2 set wg2 peer "$p1" persistent-keepalive 2

key=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
n2 "$PY" "$FUZZ" stream-recv "$key" wg2 "$tmp/ready" "$tmp/recv.stop" "$tmp/got.json" &
receiver=$!
for _ in $(seq 1 100); do [ -e "$tmp/ready" ] && break; sleep 0.1; done
n1 "$PY" "$FUZZ" stream-send 192.168.241.2 "$STREAM_RATE" "$key" "$tmp/send.stop" "$tmp/sent.json" &
sender=$!
sleep 2

handshake_of_p1() { wg2 show wg2 latest-handshakes | awk -v p="$p1" '$1 == p { print $2 }'; }
handshake_of_p2() { wg1 show wg1 latest-handshakes | awk -v p="$p2" '$1 == p { print $2 }'; }
handshake_before=$(handshake_of_p1)
wg1_handshake_before=$(handshake_of_p2)

start=$(date +%s)
n2 "$PY" "$FUZZ" fuzz dev=wg2 outer_netns="$netns0" port=10002 legit_port=10001 \
	public="$p2" legit_public="$p1" k3_private="$tmp/k3" seed="$PKTFUZZ_SEED" \
	count="$PKTFUZZ_COUNT" flood=$((PKTFUZZ_COUNT * 10)) marks="$tmp/marks.json" \
	>"$tmp/fuzz.out" 2>"$tmp/fuzz.err"
fuzz_rc=$?
diag "fuzzer ran $(($(date +%s) - start))s"
# Its verdicts, as TAP.
while IFS=$'\t' read -r verdict what; do
	case $verdict in
	ok) ok "$what" ;;
	"not ok") not_ok "$what" ;;
	\#*) diag "${verdict#\# }" ;;
	esac
done <"$tmp/fuzz.out"
check "the fuzzer ran to its end" sh -c "[ $fuzz_rc = 0 ] || { cat $tmp/fuzz.err; exit 1; }"

sleep 2
touch "$tmp/send.stop"
wait "$sender"
touch "$tmp/recv.stop"
wait "$receiver"
# The stream: per phase, loss and the longest time nothing arrived.  No loss
# at all is asked of the quiet phases before and after; while the fuzzer
# runs, on a slow emulated CPU that it keeps busy, at most 1% and no
# silence of PKTFUZZ_SILENCE.
[ -e "$tmp/marks.json" ] || echo "[]" >"$tmp/marks.json"
"$PY" "$FUZZ" analyze "$tmp/sent.json" "$tmp/got.json" "$tmp/marks.json" "$PKTFUZZ_SILENCE" 0.01 \
	"$tmp/lost" >"$tmp/analyze.out" 2>&1
while IFS=$'\t' read -r verdict what; do
	case $verdict in
	ok) ok "$what" ;;
	"not ok") not_ok "$what" ;;
	\#*) diag "${verdict#\# }" ;;
	*) diag "$verdict $what" ;;
	esac
done <"$tmp/analyze.out"

# What the devices think of it all.
check "wg2 knows exactly its two peers, no other appeared" \
	test "$(wg2 show wg2 peers | sort)" = "$(printf '%s\n' "$p1" "$p3" | sort)"
check "wg1 knows exactly its peer" test "$(wg1 show wg1 peers)" = "$p2"
check "wg2's endpoint for wg1 did not move" \
	test "$(wg2 show wg2 endpoints | awk -v p="$p1" '$1 == p { print $2 }')" = "127.0.0.1:10001"
# wg1 itself renews the session after two minutes, which a slow kernel
# (the debug lane's) reaches while the fuzzer runs: a new handshake at wg2
# is wg1's when wg1 has it too, at the same second or so.  One that only
# wg2 has came from the fuzzer, claiming wg1's key.
handshake_by_wg1_only() {
	local at2 at1
	at2=$(handshake_of_p1) at1=$(handshake_of_p2)
	[ "$at2" = "$handshake_before" ] && return 0
	diag "wg2's latest handshake with wg1: $handshake_before -> $at2; wg1's: $wg1_handshake_before -> $at1"
	[ "$at1" != "$wg1_handshake_before" ] && [ $((at2 - at1)) -le 2 ] && [ $((at1 - at2)) -le 2 ]
}
check "no handshake with wg1's key happened during the fuzzing but wg1's own" handshake_by_wg1_only

touch "$tmp/sniff.stop"
wait "$sniffer"
rx_p1=$(wg2 show wg2 transfer | awk -v p="$p1" '$1 == p { print $2 }')
lost=$(cat "$tmp/lost" 2>/dev/null || echo 0)
if read -r sniffed sniff_drops initiations < <("$PY" -c 'import json,sys
d = json.load(open(sys.argv[1]))
print(sum(d["bytes"].values()), d["drops"], d["count"].get("1", 0))' "$tmp/sniff.json"); then
	diag "wg2 credits wg1 with $rx_p1 bytes received; wg1 sent $sniffed in all," \
		"$initiations handshake initiations ($lost stream datagrams lost)"
	check "wg2 credits wg1 with nothing the fuzzer sent" test "$rx_p1" -le "$sniffed"
	# Under load, wg2 may answer an initiation of wg1's (when it renews
	# the session) with a cookie instead, or drop it with its queue
	# full: those it does not credit.
	uncredited=$((sniffed - rx_p1 - lost * STREAM_WIRE))
	if [ "$sniff_drops" = 0 ]; then
		check "and with every message wg1 sent that arrived (but initiations refused under load)" \
			test "$uncredited" -ge 0 -a $((uncredited % 148)) = 0 \
			-a $((uncredited / 148)) -lt "$initiations"
	else
		skip "and with every message wg1 sent that arrived" "the sniffer dropped $sniff_drops packets"
	fi
else
	not_ok "the sniffer counted what wg1 sent"
fi

check "the tunnel still works" n1 ping -c 2 -W 2 192.168.241.2
# A fresh session: wg1 forgets its own, and must handshake again.
ip1 link set wg1 down
ip1 link set wg1 up
check "a new handshake completes after the flood" n1 ping -c 1 -w 15 192.168.241.2
check "delete the devices" sh -c "ip -n $netns1 link del wg1 && ip -n $netns2 link del wg2"
netns_cleanup
check "module unloads with nothing left behind" unload_wireguard
rm -rf "$tmp"
tap_plan_end
