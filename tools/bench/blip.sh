#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Benchmark area "blip" (runs as root inside the QEMU guest).
#
# The test of selftests/wireguard/blip.sh, measured for both modules: a
# steady UDP stream from $netns1 through the tunnel (tunnel-lib.sh) to
# 192.168.241.2/32, a prefix that stays configured, while wg1's peer has its
# AllowedIPs rewritten in a loop between two configurations a and b.  Both
# have K prefixes: 192.168.241.2/32 first, then K-1 others of which the
# first half is the same in a and b and the second half differs.
#
# Methods (each loop step applies a, then b, counting 2 reconfigurations):
#   deb-set      Debian's wg, REPLACE_ALLOWEDIPS on the peer:
#                `/usr/bin/wg set wg1 peer P allowed-ips <the K prefixes>`;
#                when the list does not fit in one argument (K = 10000:
#                MAX_ARG_STRLEN is 128 KiB), `/usr/bin/wg addconf wg1 FILE`
#                of a [Peer] section with the same list, which sends the
#                same request (Debian's wg sets WGPEER_F_REPLACE_ALLOWEDIPS
#                for every peer of a config file, addconf too; without
#                WGDEVICE_F_REPLACE_PEERS).  Stock and ours.
#   deb-setconf  `/usr/bin/wg setconf wg1 a.conf` (REPLACE_PEERS and
#                REPLACE_ALLOWEDIPS).  Stock and ours.
#   our-pm       our wg with the difference only: `tools/wg/wg set wg1 peer P
#                allowed-ips -x,... allowed-ips +y,...` (WGALLOWEDIP_F_REMOVE_ME
#                and plain adds; with K <= 2 there is no difference and it
#                re-adds +192.168.241.2/32).  Ours only.
#   our-sync     `tools/wg/wg syncconf wg1 a.conf` (ours computes the
#                difference and sends it incrementally).  Ours only.
#
# The sender counts successful sendto() calls and every error by errno; the
# receiver counts arrivals.  lost = sent - received.
#
# Output: kernel,module,K,METHOD/FIELD,value,count.
#
# Environment (besides tunnel-lib.sh's):
#   BENCH_BLIP_K        prefix counts (default "1 100 10000"; quick "1 100")
#   BENCH_BLIP_SECONDS  stream duration per run (default 8; quick 4)
#   BENCH_BLIP_RATE     datagrams per second (default 2000)
set -u

area=blip
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
# shellcheck source=tools/bench/tunnel-lib.sh
. "$here/tunnel-lib.sh"

ks=${BENCH_BLIP_K:-"1 100 10000"}
secs=${BENCH_BLIP_SECONDS:-8}
if [ "${BENCH_QUICK:-0}" = 1 ]; then
	ks=${BENCH_BLIP_K:-"1 100"}
	secs=${BENCH_BLIP_SECONDS:-4}
fi
rate=${BENCH_BLIP_RATE:-2000}
max_loops=100000

bench_init

# Configurations per K: a-K.conf / b-K.conf (whole device, for setconf and
# syncconf), peer-a-K.conf / peer-b-K.conf ([Peer] only, for addconf),
# list-a-K / list-b-K (the comma-separated list for wg set, one line),
# pm-ab-K / pm-ba-K (our wg set arguments from a to b and back, one per line).
$PY - "$work" "$(cat "$work/k1")" "$p2" $ks <<'EOF' || die "generator failed"
import sys
work, key, peer = sys.argv[1], sys.argv[2], sys.argv[3]
def net(i):
    return "10.%d.%d.0/24" % (i >> 8 & 255, i & 255)
def chunks(lst, n=500):
    return [lst[i:i + n] for i in range(0, len(lst), n)]
for k in map(int, sys.argv[4:]):
    assert 1 <= k <= 40000
    same = [net(i) for i in range(k // 2)]
    diff = {"a": [net(i) for i in range(k // 2, k - 1)],
            "b": [net(i + 20000) for i in range(k // 2, k - 1)]}
    for c in "ab":
        ips = ["192.168.241.2/32"] + same + diff[c]
        peersec = "[Peer]\nPublicKey = %s\nEndpoint = 127.0.0.1:10002\n" % peer
        peersec += "".join("AllowedIPs = %s\n" % ", ".join(ch) for ch in chunks(ips))
        with open("%s/%s-%d.conf" % (work, c, k), "w") as f:
            f.write("[Interface]\nPrivateKey = %s\nListenPort = 10001\n\n" % key + peersec)
        with open("%s/peer-%s-%d.conf" % (work, c, k), "w") as f:
            f.write(peersec)
        with open("%s/list-%s-%d" % (work, c, k), "w") as f:
            f.write(",".join(ips) + "\n")
    for name, frm, to in (("ab", "a", "b"), ("ba", "b", "a")):
        args = ["peer", peer]
        for ch in chunks(["-" + p for p in diff[frm]]):
            args += ["allowed-ips", ",".join(ch)]
        for ch in chunks(["+" + p for p in diff[to]]):
            args += ["allowed-ips", ",".join(ch)]
        if len(args) == 2:
            args += ["allowed-ips", "+192.168.241.2/32"]
        with open("%s/pm-%s-%d" % (work, name, k), "w") as f:
            f.write("".join(a + "\n" for a in args))
EOF

cat >"$work/stream.py" <<'EOF'
import collections, errno, os, socket, sys, time
mode = sys.argv[1]
if mode == "recv":
    ready, done, deadline = sys.argv[2], sys.argv[3], time.monotonic() + float(sys.argv[4])
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind(("0.0.0.0", 9999))
    s.settimeout(0.5)
    open(ready, "w").write("ready\n")
    got, last = 0, time.monotonic()
    while time.monotonic() < deadline:
        try:
            s.recv(2048)
            got += 1
            last = time.monotonic()
        except socket.timeout:
            if os.path.exists(done) and time.monotonic() - last > 1.5:
                break
    print(got)
else:
    rate, secs, done = float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sent, errors = 0, collections.Counter()
    payload = b"x" * 100
    start = time.monotonic()
    n = 0
    while time.monotonic() - start < secs:
        try:
            s.sendto(payload, ("192.168.241.2", 9999))
            sent += 1
        except OSError as e:
            errors[errno.errorcode.get(e.errno, str(e.errno))] += 1
        n += 1
        delay = start + n / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    print("sent", sent)
    print("attempts", n)
    for k, v in sorted(errors.items()):
        print("err_" + k, v)
    open(done, "w").write("done\n")
EOF

# reconf METHOD K a|b: one reconfiguration of wg1.
reconf()
{
	local m=$1 k=$2 c=$3 list
	case $m in
	deb-set)
		list=$(cat "$work/list-$c-$k")
		if [ "${#list}" -lt 120000 ]; then
			n1 "$DEB_WG" set wg1 peer "$p2" allowed-ips "$list"
		else
			n1 "$DEB_WG" addconf wg1 "$work/peer-$c-$k.conf"
		fi ;;
	deb-setconf) n1 "$DEB_WG" setconf wg1 "$work/$c-$k.conf" ;;
	our-sync) n1 "$OUR_WG" syncconf wg1 "$work/$c-$k.conf" ;;
	our-pm)
		local args
		if [ "$c" = b ]; then mapfile -t args <"$work/pm-ab-$k"; else mapfile -t args <"$work/pm-ba-$k"; fi
		n1 "$OUR_WG" set wg1 "${args[@]}" ;;
	esac
}

prefix_count() { n1 "$DEB_WG" show wg1 allowed-ips | awk '{ n += NF - 1 } END { print n + 0 }'; }

# blip MODULE METHOD K: one stream with the rewrite loop, emit its numbers.
blip()
{
	local mod=$1 m=$2 k=$3 loops=0 failed=0 receiver sender got key val sent=0 errs=0
	rm -f "$work/ready" "$work/done" "$work/sent" "$work/got"
	n2 $PY "$work/stream.py" recv "$work/ready" "$work/done" $((secs + 30)) >"$work/got" &
	receiver=$!
	local i
	for i in $(seq 1 100); do
		[ -e "$work/ready" ] && break
		sleep 0.1
	done
	local d0 d1
	read -ra d0 <<<"$(drops wg1 wg2)"
	n1 $PY "$work/stream.py" send "$rate" "$secs" "$work/done" >"$work/sent" &
	sender=$!
	while kill -0 "$sender" 2>/dev/null && [ "$loops" -lt "$max_loops" ]; do
		reconf "$m" "$k" b >/dev/null 2>>"$work/reconf.err" || failed=$((failed + 1))
		reconf "$m" "$k" a >/dev/null 2>>"$work/reconf.err" || failed=$((failed + 1))
		loops=$((loops + 2))
	done
	wait "$sender"
	wait "$receiver"
	got=$(cat "$work/got")
	read -ra d1 <<<"$(drops wg1 wg2)"
	# Where lost datagrams went: wg1's tx_dropped, wg2's rx_dropped, the
	# receiver's socket (UdpRcvbufErrors in $netns2).
	emit "$mod" "$k" "$m/tx_dropped" $((d1[0] - d0[0])) count
	emit "$mod" "$k" "$m/rx_dropped" $((d1[1] - d0[1])) count
	emit "$mod" "$k" "$m/rcvbuf_errors" $((d1[2] - d0[2])) count
	while read -r key val; do
		case $key in
		sent) sent=$val; emit "$mod" "$k" "$m/sent" "$val" count ;;
		attempts) emit "$mod" "$k" "$m/attempts" "$val" count ;;
		err_*) errs=$((errs + val)); emit "$mod" "$k" "$m/$key" "$val" count ;;
		esac
	done <"$work/sent"
	emit "$mod" "$k" "$m/errors" "$errs" count
	emit "$mod" "$k" "$m/received" "${got:-0}" count
	emit "$mod" "$k" "$m/lost" $((sent - ${got:-0})) count
	emit "$mod" "$k" "$m/reconfigs" "$loops" count
	emit "$mod" "$k" "$m/reconf_failed" "$failed" count
	emit "$mod" "$k" "$m/prefixes_after" "$(prefix_count)" count
	log "$mod $m K=$k: $loops reconfigurations ($failed failed), $sent sent, $errs errors, ${got:-0} received"
}

log "K in $ks, $secs s at $rate datagrams/s per run"
for k in $ks; do
	for mod in stock ours; do
		case $mod in
		stock) methods="deb-set deb-setconf" ;;
		ours) methods="deb-set deb-setconf our-pm our-sync" ;;
		esac
		load_module "$mod" || die "cannot load $mod"
		for m in $methods; do
			if tunnel_up "$work/a-$k.conf"; then
				blip "$mod" "$m" "$k"
			else
				log "$mod $m K=$k: the tunnel does not come up"
			fi
			tunnel_down
		done
		unload_module
	done
done
[ -s "$work/reconf.err" ] && { log "reconfiguration errors:"; sort "$work/reconf.err" | uniq -c | head -20 >&2; }
log "finished"
