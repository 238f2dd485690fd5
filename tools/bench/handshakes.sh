#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Benchmark area "handshakes" (runs as root inside the QEMU guest).
#
# For the stock Debian module and for ours, in the same boot:
#
# 1. Handshakes per second with many initiators.  N initiator devices hs1..hsN
#    in $netns1 and one responder hsr with N peers in $netns2, all with their
#    UDP sockets on $netns0's loopback (the topology of tunnel-lib.sh).
#    Device i has 10.200.i/32 with peer 10.201.i/32; the responder delivers
#    all of 10.201/16 locally.  Each round (handshakes.py drive) takes every
#    initiator down and up again in one `ip -batch` (down clears the
#    sessions), then sends one datagram through each: every device does a
#    complete handshake (initiation, response, and the datagram itself,
#    which confirms the session to the responder) before its datagram
#    arrives.  A round lasts from the first sendto() to the last arrival;
#    both sides' crypto is in the module under test.
#      hs_round_ms  median [min, max] over BENCH_HS_ROUNDS rounds
#      hs_per_s     N / median round
#
# 2. A flood of bogus handshake initiations against a working tunnel
#    (tunnel-lib.sh: wg1 in $netns1 -> wg2 in $netns2).  handshakes.py flood
#    sends 148-byte type-1 messages from $netns0 to wg2's port at
#    BENCH_HS_FLOOD_RATE per second, while iperf3 (one TCP stream,
#    192.168.241.1 -> .2) measures the legitimate peer's throughput:
#      tcp_noflood        Mbit/s without a flood
#      tcp_flood_bogus    random bytes: MAC1 is wrong, dropped early
#      tcp_flood_mac1     valid MAC1 for wg2's public key (an attacker who
#                         knows it): a Diffie-Hellman each, until the
#                         handshake queue fills and wg2 is "under load", then
#                         cookie replies instead
#      flood_*_pps        datagrams per second the flooder sent
#      flood_mac1_cookie_pct  cookie replies the flooder received, % of what
#                         it sent
#    and how long the legitimate peer takes to handshake again (wg1 down and
#    up, then `ping -c 1 -i 0.2 -w 30` until the first reply):
#      hs_noflood_ms, hs_mac1flood_ms (under load the first initiation gets
#      a cookie reply; the retry with MAC2 comes REKEY_TIMEOUT = 5 s later)
#    Repeated BENCH_HS_REPS times, modules interleaved; N = the repetition.
#
# Output: kernel,module,N,metric,value,unit lines.
#
# Environment (besides tunnel-lib.sh's):
#   BENCH_HS_PEERS       initiator counts (default "1 16 128"; quick "16")
#   BENCH_HS_ROUNDS      rounds per count (default 7; quick 3)
#   BENCH_HS_REPS        flood repetitions per module (default 2; quick 1)
#   BENCH_HS_SECONDS     iperf3 seconds per flood test (default 5; quick 2)
#   BENCH_HS_FLOOD_RATE  datagrams per second (default 20000; 0: flat out)
set -u

area=handshakes
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
# shellcheck source=tools/bench/tunnel-lib.sh
. "$here/tunnel-lib.sh"

peers=${BENCH_HS_PEERS:-"1 16 128"}
rounds=${BENCH_HS_ROUNDS:-7}
reps=${BENCH_HS_REPS:-2}
secs=${BENCH_HS_SECONDS:-5}
if [ "${BENCH_QUICK:-0}" = 1 ]; then
	peers=${BENCH_HS_PEERS:-16}
	rounds=${BENCH_HS_ROUNDS:-3}
	reps=${BENCH_HS_REPS:-1}
	secs=${BENCH_HS_SECONDS:-2}
fi
flood_rate=${BENCH_HS_FLOOD_RATE:-20000}
HS=$here/handshakes.py
dst=192.168.241.2
port=5201

stats() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[1], v[int((NR + 1) / 2)], v[NR] }'; }
ip4() { echo "10.$1.$(($2 >> 8 & 255)).$(($2 & 255))"; }

# ------------------------------------------------- 1. many initiators

# Keys for the largest N, made once: k-i (private), p-i (public); kr, pr.
make_keys()
{
	local max=0 n i
	for n in $peers; do [ "$n" -gt "$max" ] && max=$n; done
	[ "$max" -le 1000 ] || die "BENCH_HS_PEERS: at most 1000"
	for i in $(seq 1 "$max"); do
		"$DEB_WG" genkey >"$work/k-$i"
		"$DEB_WG" pubkey <"$work/k-$i" >"$work/p-$i"
	done
	"$DEB_WG" genkey >"$work/kr"
	pr=$("$DEB_WG" pubkey <"$work/kr")
}

# many MODULE N: one run of rounds with N initiators.
many()
{
	local mod=$1 n=$2 i b0 b1 b2 receiver line ms=() timeouts=0 s
	netns_setup || return 1
	# The responder: N peers, no endpoints (they are learnt).
	{
		printf '[Interface]\nPrivateKey = %s\nListenPort = 20000\n' "$(cat "$work/kr")"
		for i in $(seq 1 "$n"); do
			printf '[Peer]\nPublicKey = %s\nAllowedIPs = %s/32\n' "$(cat "$work/p-$i")" "$(ip4 200 "$i")"
		done
	} >"$work/hsr.conf"
	b0='' b1='' b2=''
	for i in $(seq 1 "$n"); do
		b0+="link add hs$i type wireguard"$'\n'
		b1+="link set hs$i netns $netns1"$'\n'
		b2+="address add $(ip4 200 "$i")/32 peer $(ip4 201 "$i")/32 dev hs$i"$'\n'"link set hs$i up"$'\n'
	done
	ip0 -batch - <<<"${b0}link add hsr type wireguard" || return 1
	n0 "$DEB_WG" setconf hsr "$work/hsr.conf" || return 1
	for i in $(seq 1 "$n"); do
		printf '[Interface]\nPrivateKey = %s\nListenPort = %d\n[Peer]\nPublicKey = %s\nEndpoint = 127.0.0.1:20000\nAllowedIPs = %s/32\n' \
			"$(cat "$work/k-$i")" $((20000 + i)) "$pr" "$(ip4 201 "$i")" >"$work/hs.conf"
		n0 "$DEB_WG" setconf "hs$i" "$work/hs.conf" || return 1
	done
	ip0 -batch - <<<"${b1}link set hsr netns $netns2" || return 1
	ip1 -batch - <<<"$b2" || return 1
	ip2 link set hsr up || return 1
	ip2 route add local 10.201.0.0/16 dev lo table local || return 1
	ip2 route add 10.200.0.0/16 dev hsr || return 1

	rm -f "$work/ready" "$work/ctl"
	# Started directly (not through n2): $! is then python's own pid.
	ip netns exec "$netns2" $PY "$HS" recv "$work/ctl" "$n" "$work/ready" &
	receiver=$!
	for i in $(seq 1 100); do
		[ -e "$work/ready" ] && break
		sleep 0.1
	done
	n1 timeout $((rounds * 40 + 60)) $PY "$HS" drive "$work/ctl" "$n" "$rounds" hs >"$work/rounds"
	kill "$receiver" 2>/dev/null
	wait "$receiver" 2>/dev/null
	while read -r -a line; do
		[ "${line[0]}" = round ] || continue
		[ "${line[1]}" = 0 ] && continue	# the first handshake after setup
		if [ "${line[2]}" = timeout ]; then
			timeouts=$((timeouts + 1))
		else
			ms+=("${line[2]}")
		fi
	done <"$work/rounds"
	log "$mod N=$n: rounds (ms): $(tr '\n' ' ' <"$work/rounds")"
	if [ ${#ms[@]} -gt 0 ]; then
		read -r -a s <<<"$(stats "${ms[@]}")"
		emit "$mod" "$n" hs_round_ms "${s[1]}" ms
		emit "$mod" "$n" hs_round_ms_min "${s[0]}" ms
		emit "$mod" "$n" hs_round_ms_max "${s[2]}" ms
		emit "$mod" "$n" hs_per_s "$(awk -v n="$n" -v m="${s[1]}" 'BEGIN { printf "%.1f", n * 1000 / m }')" handshakes/s
	fi
	emit "$mod" "$n" hs_round_timeouts "$timeouts" count
	netns_cleanup
}

# ------------------------------------------------- 2. the flood

# iperf MODULE REP METRIC: one TCP stream 1 -> 2 for $secs seconds.
iperf()
{
	local v
	v=$(n1 timeout $((secs + 30)) iperf3 -c "$dst" -p "$port" -t "$secs" -J 2>/dev/null |
		$PY -c 'import json, sys
try:
    print("%.2f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e6))
except Exception:
    pass')
	if [ -n "$v" ]; then
		emit "$1" "$2" "$3" "$v" Mbit/s
	else
		log "$1 rep $2: $3: iperf3 failed"
	fi
}

# flood_start MODE SECONDS: the flooder in $netns0 against wg2's port.
flood_start()
{
	ip netns exec "$netns0" $PY "$HS" flood "$1" "$flood_rate" "$2" 10002 "$p2" >"$work/flood-$1" &
	flooder=$!
	sleep 1
}

# flood_stop MODULE REP MODE
flood_stop()
{
	local key val sent=0
	kill "$flooder" 2>/dev/null
	wait "$flooder" 2>/dev/null
	while read -r key val; do
		case $key in
		sent) sent=$val ;;
		pps) emit "$1" "$2" "flood_$3_pps" "$val" datagrams/s ;;
		cookies) [ "$3" = mac1 ] && [ "$sent" -gt 0 ] && emit "$1" "$2" "flood_$3_cookie_pct" \
			"$(awk -v c="$val" -v s="$sent" 'BEGIN { printf "%.2f", 100 * c / s }')" % ;;
		esac
	done <"$work/flood-$3"
	log "$1 rep $2 flood $3: $(tr '\n' ' ' <"$work/flood-$3")"
}

# rehandshake MODULE REP METRIC: wg1 loses its session (down/up); time until
# the first ping through the tunnel comes back.
rehandshake()
{
	local t0 t1
	ip1 link set wg1 down
	ip1 link set wg1 up
	t0=$(date +%s.%N)
	if n1 ping -q -c 1 -i 0.2 -w 30 "$dst" >/dev/null 2>&1; then
		t1=$(date +%s.%N)
		emit "$1" "$2" "$3" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) * 1000 }')" ms
	else
		log "$1 rep $2: $3: no reply within 30 s"
	fi
}

flood_run()
{
	local mod=$1 rep=$2 server
	ip netns exec "$netns2" iperf3 -s -p "$port" >/dev/null 2>&1 &
	server=$!
	sleep 0.5
	iperf "$mod" "$rep" tcp_noflood
	rehandshake "$mod" "$rep" hs_noflood_ms
	flood_start bogus $((secs + 30))
	iperf "$mod" "$rep" tcp_flood_bogus
	flood_stop "$mod" "$rep" bogus
	flood_start mac1 $((secs + 60))
	iperf "$mod" "$rep" tcp_flood_mac1
	rehandshake "$mod" "$rep" hs_mac1flood_ms
	flood_stop "$mod" "$rep" mac1
	kill "$server" 2>/dev/null
	wait "$server" 2>/dev/null
	return 0
}

# ---------------------------------------------------------------- main

bench_init
log "initiators $peers, $rounds rounds; flood: $reps reps, $secs s, $flood_rate/s"
make_keys
for n in $peers; do
	for mod in stock ours; do
		load_module "$mod" || die "cannot load $mod"
		many "$mod" "$n" || log "$mod N=$n: setup failed"
		netns_cleanup
		unload_module
	done
done
for rep in $(seq 1 "$reps"); do
	for mod in stock ours; do
		load_module "$mod" || die "cannot load $mod"
		if tunnel_up; then
			flood_run "$mod" "$rep"
		else
			log "$mod rep $rep: the tunnel does not come up"
		fi
		tunnel_down
		unload_module
	done
done
log "finished"
