#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Benchmark area "wg-tool" (runs as root inside the QEMU guest).
#
# Our wg(8) (tools/wg/wg) against Debian's (/usr/bin/wg), both driving OUR
# module, on the same large configurations: N IPv4 /32 prefixes on one peer
# ("1peer") and the same N spread over 1000 peers ("1kpeers", prefix i on
# peer i mod 1000).  Per tool, N and layout, on a fresh device wg0:
#   setconf        `wg setconf wg0 conf`: install everything
#   dump           `wg show wg0 dump > /dev/null`
#   syncconf_same  `wg syncconf wg0 conf` of the configuration already there
#                  (Debian's wg replaces every peer's AllowedIPs; ours sends
#                  only the difference, here none)
# Each as wall-clock ms and the tool's peak RSS (KiB), measured by
# build/bench/runtime (tools/bench/runtime.c, built by run.sh) around one
# process.
# The tools alternate (Debian's, ours, Debian's, ...).
#
# Output: kernel,TOOL,N,METRIC_LAYOUT,value,unit with TOOL "stock" for
# Debian's wg and "ours" for ours (so that render.py's stock/ours columns and
# ratios apply), METRIC_LAYOUT e.g. setconf_1peer, setconf_1peer_rss; medians
# over the repetitions.
#
# Environment (besides tunnel-lib.sh's):
#   BENCH_SIZES        prefix counts (default "10000 100000 1000000")
#   BENCH_WGTOOL_REPS  repetitions for N <= 100000 (default 3, quick 1;
#                      larger N: 1)
set -u

area=wg-tool
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
# shellcheck source=tools/bench/tunnel-lib.sh
. "$here/tunnel-lib.sh"

sizes=${BENCH_SIZES:-"10000 100000 1000000"}
reps_small=${BENCH_WGTOOL_REPS:-3}
[ "${BENCH_QUICK:-0}" = 1 ] && reps_small=${BENCH_WGTOOL_REPS:-1}
RT=${BENCH_RUNTIME:-$top/build/bench/runtime}

bench_init
[ -x "$RT" ] || die "$RT missing (run.sh builds it)"
log "sizes $sizes"
/usr/bin/python3 - "$work" "$(cat "$work/k1")" $sizes <<'EOF' || die "generator failed"
import base64, random, sys
work, key = sys.argv[1], sys.argv[2]
rnd = random.Random(11)
keys = [base64.b64encode(bytes(rnd.getrandbits(8) for _ in range(32))).decode() for _ in range(1000)]
def p(i):
    x = (i * 2654435761 + 12345) & 0xffffff
    return "10.%d.%d.%d/32" % (x >> 16, (x >> 8) & 255, x & 255)
def peer(k, lst):
    out = "[Peer]\nPublicKey = %s\n" % k
    for j in range(0, len(lst), 64):
        out += "AllowedIPs = %s\n" % ", ".join(lst[j:j + 64])
    return out
head = "[Interface]\nPrivateKey = %s\nListenPort = 51820\n" % key
for n in map(int, sys.argv[3:]):
    allp = [p(i) for i in range(n)]
    with open("%s/1peer-%d.conf" % (work, n), "w") as f:
        f.write(head + peer(keys[0], allp))
    np_ = min(n, 1000)
    with open("%s/1kpeers-%d.conf" % (work, n), "w") as f:
        f.write(head + "".join(peer(keys[j], allp[j::np_]) for j in range(np_)))
EOF

# measure TOOL NAME CMD...: run it in $netns0, add its ms and peak RSS to
# vals["TOOL NAME"] and vals["TOOL NAME_rss"].
declare -A vals
measure()
{
	local mod=$1 name=$2 out
	shift 2
	out=$(n0 "$RT" "$@") || { log "FAILED: $*"; return 1; }
	# shellcheck disable=SC2086
	set -- $out
	vals["$mod $name"]+=" $1"
	vals["$mod ${name}_rss"]+=" $2"
}

prefix_count() { n0 "$DEB_WG" show wg0 allowed-ips | awk '{ for (i = 2; i <= NF; i++) if ($i != "(none)") n++ } END { print n + 0 }'; }

load_module ours || die "cannot load our module"
netns_setup || die "cannot set up namespaces"
for n in $sizes; do
	reps=1
	[ "$n" -le 100000 ] && reps=$reps_small
	for layout in 1peer 1kpeers; do
		conf=$work/$layout-$n.conf
		vals=()
		for _ in $(seq 1 "$reps"); do
			for mod in stock ours; do
				case $mod in
				stock) tool=$DEB_WG ;;
				ours) tool=$OUR_WG ;;
				esac
				ip0 link del wg0 2>/dev/null
				ip0 link add wg0 type wireguard || die "cannot add wg0"
				measure "$mod" "setconf_$layout" "$tool" setconf wg0 "$conf" || continue
				c=$(prefix_count)
				[ "$c" = "$n" ] || log "WARNING: $mod $layout N=$n: $c prefixes after setconf"
				measure "$mod" "dump_$layout" "$tool" show wg0 dump
				measure "$mod" "syncconf_same_$layout" "$tool" syncconf wg0 "$conf"
				c=$(prefix_count)
				[ "$c" = "$n" ] || log "WARNING: $mod $layout N=$n: $c prefixes after syncconf"
			done
		done
		for m in setconf dump syncconf_same; do
			for mod in stock ours; do
				k="$mod ${m}_$layout"
				# shellcheck disable=SC2086
				[ -n "${vals[$k]:-}" ] && emit "$mod" "$n" "${m}_$layout" "$(median ${vals[$k]})" ms
				# shellcheck disable=SC2086
				[ -n "${vals[$k]:-}" ] && emit "$mod" "$n" "${m}_${layout}_rss" "$(median ${vals[${k}_rss]})" KiB
			done
		done
		log "$layout N=$n done"
	done
done
ip0 link del wg0 2>/dev/null
netns_cleanup
unload_module
log "finished"
