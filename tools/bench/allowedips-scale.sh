#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Benchmark area "allowedips-scale" (runs as root inside the QEMU guest).
#
# For the stock Debian module and for ours, one after the other in the same
# boot: install one peer with N distinct IPv4 /32 prefixes and measure what
# that costs and what single-prefix changes cost at that scale; then the same
# N prefixes spread over 1000 peers (metrics spread_*); and how many
# AllowedIPs lookups per second the transmit path does with N prefixes
# installed (lookups_per_s: udpblast.c sends to random installed prefixes of
# a peer without endpoint, so each datagram is one lookup and an error).
#
# Environment:
#   WG_MODULE     our wireguard.ko (required)
#   STOCK_MODULE  the stock module (default: /lib/modules/$(uname -r)/kernel/
#                 drivers/net/wireguard/wireguard.ko[.xz], decompressed to /tmp)
#   OUR_WG        our wg(8) (default: tools/wg/wg next to this script's tree)
#   DEB_WG        Debian's wg(8) (default /usr/bin/wg), used for both modules
#   WGNL          the raw netlink test client (default build/selftests/wgnl)
#   BENCH_SIZES   prefix counts (default "1000 10000 100000 1000000")
#   BENCH_MODULES which modules, in order (default "stock ours")
#   BENCH_REPS    repetitions of the cheap measurements when N <= 100000 (3)
#   BENCH_SPREAD_PEERS  peers of the spread variant (default 1000; 0: skip it)
#   BENCH_LOOKUP_SECONDS  duration of the lookup loop (default 3, quick 1;
#                 0: skip it)
#   BENCH_UDPBLAST  the sender (default build/bench/udpblast, built by run.sh)
#
# Output: CSV lines kernel,module,N,metric,value,unit on stdout, and the same
# in /mnt/out/allowedips-scale.csv when /mnt/out exists.  Times are medians
# of BENCH_REPS runs for N <= 100000, single runs above that.
set -u

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
sizes=${BENCH_SIZES:-"1000 10000 100000 1000000"}
modules=${BENCH_MODULES:-"stock ours"}
reps_small=${BENCH_REPS:-3}
OUR_WG=${OUR_WG:-$top/tools/wg/wg}
DEB_WG=${DEB_WG:-/usr/bin/wg}
WGNL=${WGNL:-$top/build/selftests/wgnl}
spread_peers=${BENCH_SPREAD_PEERS:-1000}
lookup_secs=${BENCH_LOOKUP_SECONDS:-3}
[ "${BENCH_QUICK:-0}" = 1 ] && lookup_secs=${BENCH_LOOKUP_SECONDS:-1}
UDPBLAST=${BENCH_UDPBLAST:-$top/build/bench/udpblast}
ns=wgbench
work=/tmp/wgbench
kernel=$(uname -r)
csv=""
[ -d /mnt/out ] && csv=/mnt/out/allowedips-scale.csv

die() { echo "allowedips-scale: $*" >&2; exit 1; }
log() { echo "# allowedips-scale: $*" >&2; }

# ---------------------------------------------------------------- helpers

now() { date +%s.%N; }
# ms START END
ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b - a) * 1000 }'; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# emit MODULE N METRIC VALUE UNIT
emit()
{
	local line="$kernel,$1,$2,$3,$4,$5"
	echo "$line"
	[ -n "$csv" ] && echo "$line" >>"$csv"
}

# Total slab memory in bytes: sum of num_objs * objsize over all caches.
slab_bytes() { awk 'NR > 2 { s += $3 * $4 } END { printf "%.0f", s }' /proc/slabinfo; }
meminfo_slab_bytes() { awk '$1 == "Slab:" { print $2 * 1024 }' /proc/meminfo; }

# timed CMD...: run it (stdout to /dev/null), print the elapsed ms; fail loudly.
timed()
{
	local t0 t1
	t0=$(now)
	"$@" >/dev/null || { echo "allowedips-scale: FAILED: $*" >&2; return 1; }
	t1=$(now)
	ms "$t0" "$t1"
}

in_ns() { ip netns exec "$ns" "$@"; }

load_module()
{
	local ko=$1 dep
	for dep in $(modinfo -F depends "$ko" | tr , ' '); do
		modprobe "$dep" || return 1
	done
	insmod "$ko"
}

unload_module()
{
	local _
	for _ in $(seq 1 120); do
		[ -d /sys/module/wireguard ] || return 0
		rmmod wireguard 2>/dev/null && return 0
		sleep 0.5
	done
	die "cannot unload wireguard"
}

# ------------------------------------------------- the inner run (in netns)

# fresh_device: wg0 with our private key and nothing else.
fresh_device()
{
	ip link del wg0 2>/dev/null
	ip link add wg0 type wireguard || return 1
	"$DEB_WG" set wg0 private-key "$work/private" || return 1
}

# Peers without prefixes show "(none)".
prefix_count() { "$DEB_WG" show wg0 allowed-ips | awk '{ for (i = 2; i <= NF; i++) if ($i != "(none)") n++ } END { print n + 0 }'; }

# inner MODULE: all sizes for the module currently loaded; runs inside $ns.
inner()
{
	local mod=$1 n reps r v t b0 b1 m0 m1 expect
	local pub a_set a_slab a_mslab a_ours a_dump a_repl a_rm a_rmnl a_add a_addours
	pub=$(cat "$work/peer.pub")
	for n in $sizes; do
		reps=1
		[ "$n" -le 100000 ] && reps=$reps_small
		conf=$work/conf-$n
		mapfile -t rm_list <"$work/remove-$n"
		mapfile -t add_list <"$work/add-$n"

		# (a)+(b) install N prefixes into an empty device with Debian's wg,
		# and the slab memory that took.
		a_set=() a_slab=() a_mslab=()
		for r in $(seq 1 "$reps"); do
			fresh_device || return 1
			sleep 1
			b0=$(slab_bytes) m0=$(meminfo_slab_bytes)
			t=$(timed "$DEB_WG" setconf wg0 "$conf") || return 1
			sleep 1
			b1=$(slab_bytes) m1=$(meminfo_slab_bytes)
			a_set+=("$t")
			a_slab+=("$(awk -v a="$b0" -v b="$b1" -v n="$n" 'BEGIN { printf "%.1f", (b - a) / n }')")
			a_mslab+=("$(awk -v a="$m0" -v b="$m1" -v n="$n" 'BEGIN { printf "%.1f", (b - a) / n }')")
		done
		emit "$mod" "$n" setconf_debwg "$(median "${a_set[@]}")" ms
		log "$mod N=$n: private key after Debian's setconf of a file without one: '$("$DEB_WG" show wg0 private-key)'"
		emit "$mod" "$n" slab_bytes_per_prefix "$(median "${a_slab[@]}")" bytes
		emit "$mod" "$n" meminfo_slab_bytes_per_prefix "$(median "${a_mslab[@]}")" bytes

		# (a') the same install with our wg, for our module only.
		if [ "$mod" = ours ]; then
			a_ours=()
			for r in $(seq 1 "$reps"); do
				fresh_device || return 1
				a_ours+=("$(timed "$OUR_WG" setconf wg0 "$conf")") || return 1
			done
			emit "$mod" "$n" setconf_ourwg "$(median "${a_ours[@]}")" ms
		fi
		v=$(prefix_count)
		[ "$v" = "$n" ] || log "WARNING: $mod N=$n: $v prefixes after setconf"

		# (e) dump with Debian's wg.
		a_dump=()
		for r in $(seq 1 "$reps"); do
			t0=$(now)
			"$DEB_WG" show wg0 dump >/dev/null || return 1
			t1=$(now)
			a_dump+=("$(ms "$t0" "$t1")")
		done
		emit "$mod" "$n" dump_debwg "$(median "${a_dump[@]}")" ms

		# (f) lookups per second in the transmit path.
		lookups "$mod" "$n" || return 1

		# (c) remove one prefix.  Full replace with N-1 prefixes (setconf
		# of the same peer without prefix 0): the only way with the stock
		# module; measured for both.  Repeats replace with the same list.
		a_repl=()
		for r in $(seq 1 "$reps"); do
			a_repl+=("$(timed "$DEB_WG" setconf wg0 "$conf-minus1")") || return 1
		done
		emit "$mod" "$n" remove_one_full_replace_debwg "$(median "${a_repl[@]}")" ms
		expect=$((n - 1))

		# Ours: incremental removal, with our wg (probes support first)
		# and with the raw client (one netlink request).
		if [ "$mod" = ours ]; then
			a_rm=() a_rmnl=()
			for r in $(seq 1 "$reps"); do
				a_rm+=("$(timed "$OUR_WG" set wg0 peer "$pub" allowed-ips "-${rm_list[$((r - 1))]}")") || return 1
			done
			for r in $(seq 1 "$reps"); do
				a_rmnl+=("$(timed "$WGNL" set wg0 "$pub" "-${rm_list[$((reps + r - 1))]}")") || return 1
			done
			emit "$mod" "$n" remove_one_ourwg "$(median "${a_rm[@]}")" ms
			emit "$mod" "$n" remove_one_wgnl "$(median "${a_rmnl[@]}")" ms
			expect=$((expect - 2 * reps))
		fi

		# (d) add one prefix without replacing.  Debian's wg cannot: every
		# [Peer] of a config file (addconf too) and every "allowed-ips" of
		# wg set carries WGPEER_F_REPLACE_ALLOWEDIPS.  So: the raw client
		# with no flags (a plain add, the same request for both modules),
		# and for ours also our wg's "+prefix".
		a_add=()
		for r in $(seq 1 "$reps"); do
			a_add+=("$(timed "$WGNL" set wg0 "$pub" "+${add_list[$((r - 1))]}")") || return 1
		done
		emit "$mod" "$n" add_one_wgnl "$(median "${a_add[@]}")" ms
		expect=$((expect + reps))
		if [ "$mod" = ours ]; then
			a_addours=()
			for r in $(seq 1 "$reps"); do
				a_addours+=("$(timed "$OUR_WG" set wg0 peer "$pub" allowed-ips "+${add_list[$((reps + r - 1))]}")") || return 1
			done
			emit "$mod" "$n" add_one_ourwg "$(median "${a_addours[@]}")" ms
			expect=$((expect + reps))
		fi

		v=$(prefix_count)
		emit "$mod" "$n" final_prefixes "$v" count
		[ "$v" = "$expect" ] || log "WARNING: $mod N=$n: $v prefixes at the end, expected $expect"

		t=$(timed ip link del wg0) || return 1
		emit "$mod" "$n" device_delete "$t" ms
		log "$mod N=$n done"

		if [ "$spread_peers" -gt 0 ]; then
			spread "$mod" "$n" "$reps" || return 1
			log "$mod N=$n spread over $(spread_count "$n") peers done"
		fi
	done
}

spread_count() { if [ "$1" -lt "$spread_peers" ]; then echo "$1"; else echo "$spread_peers"; fi; }

# lookups MODULE N: wg0 (down, its one peer holding N prefixes and no
# endpoint) goes up with a route for 10/8; udpblast sends to random installed
# prefixes for $lookup_secs seconds.  Each sendto() is one lookup that finds
# the peer, then fails with EDESTADDRREQ (no endpoint); ENOKEY would mean no
# peer was found.  The device goes down again after.
lookups()
{
	local mod=$1 n=$2 key val calls=0 edest=0
	[ "$lookup_secs" = 0 ] && return 0
	ip addr add 192.168.77.1/32 dev wg0 || return 1
	ip link set wg0 up || return 1
	ip route add 10.0.0.0/8 dev wg0 || return 1
	"$UDPBLAST" "$n" "$lookup_secs" >"$work/blast" || { ip link set wg0 down; return 1; }
	ip link set wg0 down
	ip addr flush dev wg0
	while read -r key val; do
		case $key in
		calls) calls=$val ;;
		err_89) edest=$val ;;	# EDESTADDRREQ
		per_s) emit "$mod" "$n" lookups_per_s "$val" calls/s ;;
		esac
	done <"$work/blast"
	[ "$calls" -gt 0 ] && emit "$mod" "$n" lookups_found_pct \
		"$(awk -v a="$edest" -v b="$calls" 'BEGIN { printf "%.1f", 100 * a / b }')" %
	[ "$edest" = "$calls" ] || log "WARNING: $mod N=$n: $edest of $calls sends found the peer: $(tr '\n' ' ' <"$work/blast")"
	return 0
}

# spread MODULE N REPS: the same N prefixes spread over P = min(N, 1000)
# peers (prefix i on peer i mod P): install, dump, remove one, memory.
spread()
{
	local mod=$1 n=$2 reps=$3 r t b0 b1 v expect line
	local s_set=() s_slab=() s_ours=() s_dump=() s_repl=() s_rm=() s_rmnl=()
	local conf=$work/spread-$n
	mapfile -t rm_list <"$work/spread-remove-$n"

	for r in $(seq 1 "$reps"); do
		fresh_device || return 1
		sleep 1
		b0=$(slab_bytes)
		t=$(timed "$DEB_WG" setconf wg0 "$conf") || return 1
		sleep 1
		b1=$(slab_bytes)
		s_set+=("$t")
		s_slab+=("$(awk -v a="$b0" -v b="$b1" -v n="$n" 'BEGIN { printf "%.1f", (b - a) / n }')")
	done
	emit "$mod" "$n" spread_setconf_debwg "$(median "${s_set[@]}")" ms
	emit "$mod" "$n" spread_slab_bytes_per_prefix "$(median "${s_slab[@]}")" bytes
	if [ "$mod" = ours ]; then
		for r in $(seq 1 "$reps"); do
			fresh_device || return 1
			s_ours+=("$(timed "$OUR_WG" setconf wg0 "$conf")") || return 1
		done
		emit "$mod" "$n" spread_setconf_ourwg "$(median "${s_ours[@]}")" ms
	fi
	v=$(prefix_count)
	[ "$v" = "$n" ] || log "WARNING: $mod N=$n spread: $v prefixes after setconf"

	for r in $(seq 1 "$reps"); do
		s_dump+=("$(timed "$DEB_WG" show wg0 dump)") || return 1
	done
	emit "$mod" "$n" spread_dump_debwg "$(median "${s_dump[@]}")" ms

	# Stock's way to remove one prefix: replace the list of the one peer
	# that holds it (addconf of that [Peer] with its other prefixes).
	for r in $(seq 1 "$reps"); do
		s_repl+=("$(timed "$DEB_WG" addconf wg0 "$conf-peer0-minus1")") || return 1
	done
	emit "$mod" "$n" spread_remove_one_replace_peer_debwg "$(median "${s_repl[@]}")" ms
	expect=$((n - 1))
	if [ "$mod" = ours ]; then
		for r in $(seq 1 "$reps"); do
			read -ra line <<<"${rm_list[$((r - 1))]}"
			s_rm+=("$(timed "$OUR_WG" set wg0 peer "${line[0]}" allowed-ips "-${line[1]}")") || return 1
		done
		for r in $(seq 1 "$reps"); do
			read -ra line <<<"${rm_list[$((reps + r - 1))]}"
			s_rmnl+=("$(timed "$WGNL" set wg0 "${line[0]}" "-${line[1]}")") || return 1
		done
		emit "$mod" "$n" spread_remove_one_ourwg "$(median "${s_rm[@]}")" ms
		emit "$mod" "$n" spread_remove_one_wgnl "$(median "${s_rmnl[@]}")" ms
		expect=$((expect - 2 * reps))
	fi
	v=$(prefix_count)
	emit "$mod" "$n" spread_final_prefixes "$v" count
	[ "$v" = "$expect" ] || log "WARNING: $mod N=$n spread: $v prefixes at the end, expected $expect"
	t=$(timed ip link del wg0) || return 1
	emit "$mod" "$n" spread_device_delete "$t" ms
}

if [ "${1:-}" = --inner ]; then
	inner "$2"
	exit
fi

# ------------------------------------------------------------- the outer run

[ "$(id -u)" = 0 ] || die "must run as root (in the VM)"
[ -n "${WG_MODULE:-}" ] && [ -r "$WG_MODULE" ] || die "WG_MODULE='${WG_MODULE:-}' is not readable"
[ "$lookup_secs" = 0 ] || [ -x "$UDPBLAST" ] || die "$UDPBLAST missing (run.sh builds it; or BENCH_LOOKUP_SECONDS=0)"
for x in "$OUR_WG" "$DEB_WG" "$WGNL"; do
	[ -x "$x" ] || die "$x is not executable"
done
rm -rf "$work"
mkdir -p "$work"
if [ -z "${STOCK_MODULE:-}" ]; then
	d=/lib/modules/$kernel/kernel/drivers/net/wireguard
	if [ -r "$d/wireguard.ko.xz" ]; then
		xz -dc "$d/wireguard.ko.xz" >"$work/stock-wireguard.ko" || die "cannot decompress the stock module"
		STOCK_MODULE=$work/stock-wireguard.ko
	else
		STOCK_MODULE=$d/wireguard.ko
	fi
fi
[ -r "$STOCK_MODULE" ] || die "no stock module at $STOCK_MODULE"
[ -d /sys/module/wireguard ] && unload_module

"$DEB_WG" genkey >"$work/private"
"$DEB_WG" genkey | "$DEB_WG" pubkey >"$work/peer.pub"
pub=$(cat "$work/peer.pub")
maxreps=$reps_small

# Prefix i is 10.x.y.z with x.y.z = (i * 2654435761 + 12345) mod 2^24: an odd
# multiplier makes that a bijection, so prefixes 0 .. 2^24-1 are distinct and
# spread over the whole /8.  Files per N: conf-N (prefixes 0..N-1, 64 to a
# line), conf-N-minus1 (without prefix 0), remove-N (prefixes 1..2*reps, all
# installed), add-N (prefixes N..N+2*reps-1, not installed).  Spread over
# P = min(N, BENCH_SPREAD_PEERS) peers with made-up keys, prefix i on peer
# i mod P: spread-N (all), spread-N-peer0-minus1 (peer 0's [Peer] without
# prefix 0), spread-remove-N ("KEY PREFIX" of prefixes 1..2*reps).
log "generating configurations for N in $sizes"
t0=$(now)
/usr/bin/python3 - "$work" "$pub" "$maxreps" "$spread_peers" "$(cat "$work/private")" $sizes <<'EOF' || die "generator failed"
import base64, random, sys
work, pub, reps, speers, priv = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
def p(i):
    x = (i * 2654435761 + 12345) & 0xffffff
    return "10.%d.%d.%d/32" % (x >> 16, (x >> 8) & 255, x & 255)
rnd = random.Random(7)
keys = [base64.b64encode(bytes(rnd.getrandbits(8) for _ in range(32))).decode() for _ in range(max(speers, 1))]
def peer_section(key, lst):
    out = "[Peer]\nPublicKey = %s\n" % key
    for k in range(0, len(lst), 64):
        out += "AllowedIPs = %s\n" % ", ".join(lst[k:k + 64])
    return out
for n in map(int, sys.argv[6:]):
    assert n + 2 * reps <= 1 << 24 and n > 2 * reps
    allp = [p(i) for i in range(n)]
    if speers > 0:
        np_ = min(n, speers)
        with open("%s/spread-%d" % (work, n), "w") as f:
            # With the device's private key: Debian's setconf clears a key
            # the file does not name, ours keeps it; with the key in the
            # file both end with it, and the kernel precomputes one static
            # Diffie-Hellman per peer either way.
            f.write("[Interface]\nPrivateKey = %s\n" % priv)
            for j in range(np_):
                f.write(peer_section(keys[j], allp[j::np_]))
        with open("%s/spread-%d-peer0-minus1" % (work, n), "w") as f:
            f.write(peer_section(keys[0], allp[np_::np_]))
        with open("%s/spread-remove-%d" % (work, n), "w") as f:
            f.write("".join("%s %s\n" % (keys[i % np_], allp[i]) for i in range(1, 1 + 2 * reps)))
    for name, lst in (("conf-%d" % n, allp), ("conf-%d-minus1" % n, allp[1:])):
        with open("%s/%s" % (work, name), "w") as f:
            f.write("[Peer]\nPublicKey = %s\n" % pub)
            for k in range(0, len(lst), 64):
                f.write("AllowedIPs = %s\n" % ", ".join(lst[k:k + 64]))
    with open("%s/remove-%d" % (work, n), "w") as f:
        f.write("".join(q + "\n" for q in allp[1:1 + 2 * reps]))
    with open("%s/add-%d" % (work, n), "w") as f:
        f.write("".join(p(i) + "\n" for i in range(n, n + 2 * reps)))
EOF
log "generated in $(ms "$t0" "$(now)") ms"

[ -n "$csv" ] && : >"$csv"
for mod in $modules; do
	case $mod in
	stock) ko=$STOCK_MODULE ;;
	ours) ko=$WG_MODULE ;;
	*) die "unknown module $mod" ;;
	esac
	log "loading $mod: $ko"
	load_module "$ko" || die "cannot load $ko"
	ip netns add "$ns" || die "cannot add netns"
	ip -n "$ns" link set lo up
	ip netns exec "$ns" "$0" --inner "$mod"
	rc=$?
	ip netns del "$ns"
	unload_module
	[ "$rc" = 0 ] || die "$mod run failed"
done
