#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Benchmark area "throughput" (runs as root inside the QEMU guest).
#
# The tunnel of selftests/wireguard/tunnel.sh (tunnel-lib.sh), once with the
# stock Debian module and once with ours, interleaved BENCH_TP_REPS times
# (stock, ours, stock, ours, ...) so that load from elsewhere on the host hits
# both alike.  Each time, from $netns1 (192.168.241.1) to $netns2
# (192.168.241.2), with iperf3 -J:
#   tcp1_fwd / tcp1_rev   one TCP stream, 1 -> 2 and 2 -> 1 (-R)
#   tcp4_fwd / tcp4_rev   four TCP streams (-P 4), both directions
#   udp_rate / udp_loss   UDP at a fixed offered rate (-u -b BENCH_TP_UDP_RATE)
#   ping_idle / ping_load average ping RTT, 20 pings -i 0.05, idle and while
#                         a one-stream TCP iperf3 runs
# Then once, as the ceiling, the same over a plain veth pair between the two
# namespaces (module "veth").
#
# Output: kernel,module,N,metric,value,unit with N = the repetition (1..R);
# render.py reports min/median/max over them.
#
# Environment (besides tunnel-lib.sh's):
#   BENCH_TP_REPS      repetitions per module (default 2)
#   BENCH_TP_SECONDS   iperf3 seconds per test (default 5)
#   BENCH_TP_UDP_RATE  offered UDP rate (default 50M)
#   BENCH_QUICK=1      1 repetition of 2 s
set -u

area=throughput
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
# shellcheck source=tools/bench/tunnel-lib.sh
. "$here/tunnel-lib.sh"

reps=${BENCH_TP_REPS:-2}
secs=${BENCH_TP_SECONDS:-5}
if [ "${BENCH_QUICK:-0}" = 1 ]; then
	reps=${BENCH_TP_REPS:-1}
	secs=${BENCH_TP_SECONDS:-2}
fi
udp_rate=${BENCH_TP_UDP_RATE:-50M}
dst=192.168.241.2
port=5201

# iperf3_json OUT ARGS...: a client run from $netns1 to $dst, JSON to OUT.
iperf3_json()
{
	local out=$1
	shift
	n1 timeout $((secs + 30)) iperf3 -c "$dst" -p "$port" -t "$secs" -J "$@" >"$out" 2>/dev/null
}

# json_get FILE WHAT: Mbit/s received, or UDP loss in %.
json_get()
{
	$PY - "$1" "$2" <<'EOF'
import json, sys
try:
    j = json.load(open(sys.argv[1]))
    e = j["end"]
    if sys.argv[2] == "tcp":
        print("%.2f" % (e["sum_received"]["bits_per_second"] / 1e6))
    elif sys.argv[2] in ("udp_rate", "udp_loss"):
        # iperf3 >= 3.10 has the receiver's side in sum_received; older
        # ones only the sender's in sum, with the receiver's loss.
        r = e.get("sum_received") or e["sum"]
        loss = r.get("lost_percent", e["sum"].get("lost_percent", 0.0))
        if sys.argv[2] == "udp_loss":
            print("%.3f" % loss)
        elif "sum_received" in e:
            print("%.2f" % (r["bits_per_second"] / 1e6))
        else:
            print("%.2f" % (r["bits_per_second"] / 1e6 * (1 - loss / 100.0)))
except Exception:
    pass
EOF
}

# ping_avg: average RTT in ms of 20 pings, 50 ms apart.
ping_avg()
{
	n1 ping -q -c 20 -i 0.05 -W 2 "$dst" 2>/dev/null |
		awk -F'[/ ]+' '/^rtt|^round-trip/ { for (i = 1; i <= NF; i++) if ($i == "=") { print $(i + 2); exit } }'
}

# measure MODULE REP: every test over the link that is up.
measure()
{
	local mod=$1 rep=$2 f=$work/iperf.json v name args bg server
	# ip netns exec execs iperf3: $! is the server's own pid.
	n2 iperf3 -s -p "$port" >/dev/null 2>&1 &
	server=$!
	sleep 0.5
	v=$(ping_avg)
	[ -n "$v" ] && emit "$mod" "$rep" ping_idle "$v" ms
	for name in tcp1_fwd tcp1_rev tcp4_fwd tcp4_rev; do
		case $name in
		tcp1_fwd) args=() ;;
		tcp1_rev) args=(-R) ;;
		tcp4_fwd) args=(-P 4) ;;
		tcp4_rev) args=(-P 4 -R) ;;
		esac
		iperf3_json "$f" "${args[@]}"
		v=$(json_get "$f" tcp)
		if [ -n "$v" ]; then
			emit "$mod" "$rep" "$name" "$v" Mbit/s
		else
			log "$mod rep $rep: $name failed"
		fi
	done
	local d0 d1
	read -ra d0 <<<"$(drops "$dev1" "$dev2")"
	iperf3_json "$f" -u -b "$udp_rate" -l 1300
	read -ra d1 <<<"$(drops "$dev1" "$dev2")"
	emit "$mod" "$rep" udp_tx_dropped $((d1[0] - d0[0])) packets
	emit "$mod" "$rep" udp_rx_dropped $((d1[1] - d0[1])) packets
	emit "$mod" "$rep" udp_rcvbuf_errors $((d1[2] - d0[2])) packets
	emit "$mod" "$rep" udp_rcvbuf_errors_ns0 $((d1[3] - d0[3])) packets
	v=$(json_get "$f" udp_rate)
	[ -n "$v" ] && emit "$mod" "$rep" udp_rate "$v" Mbit/s
	v=$(json_get "$f" udp_loss)
	[ -n "$v" ] && emit "$mod" "$rep" udp_loss "$v" %
	[ -z "$v" ] && log "$mod rep $rep: udp failed"

	# Latency under load: the pings start a second into a TCP stream that
	# lasts long enough to cover them.
	n1 timeout $((secs + 30)) iperf3 -c "$dst" -p "$port" -t $((secs > 3 ? secs : 3)) >/dev/null 2>&1 &
	bg=$!
	sleep 1
	v=$(ping_avg)
	wait "$bg"
	[ -n "$v" ] && emit "$mod" "$rep" ping_load "$v" ms
	kill "$server" 2>/dev/null
	wait "$server" 2>/dev/null
	return 0
}

bench_init
log "reps $reps, $secs s per test, UDP at $udp_rate"
for rep in $(seq 1 "$reps"); do
	for mod in stock ours; do
		load_module "$mod" || die "cannot load $mod"
		dev1=wg1 dev2=wg2
		if tunnel_up; then
			log "$mod rep $rep: tunnel up"
			measure "$mod" "$rep"
		else
			log "$mod rep $rep: the tunnel does not come up"
		fi
		tunnel_down
		unload_module
	done
done
dev1=veth1 dev2=veth2
if veth_up; then
	measure veth 1
else
	log "veth: no connectivity"
fi
veth_down
log "finished"
