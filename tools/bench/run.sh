#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Benchmark suite, host side: our module against the stock Debian module of
# the same kernel, in one QEMU boot per kernel.
#
# The suite is made of "areas": each area is one guest script
# tools/bench/AREA.sh that runs as root in the VM, loads the modules itself
# and writes CSV lines kernel,module,N,metric,value,unit to
# /mnt/out/AREA.csv.  This script builds what the areas need, boots the VM,
# runs the areas in order, collects their CSV into
# tools/bench/results/<kver>-<date>.csv and renders
# tools/bench/results/<kver>-<date>.md (tools/bench/render.py).
#
# To add an area: write tools/bench/AREA.sh, add AREA to the default
# BENCH_AREAS below, and describe its metrics in render.py (optional).
#
# Environment:
#   BENCH_KERNELS  kernel series or releases (default "6.12"; e.g. "6.12 6.1")
#   BENCH_AREAS    areas to run (default "allowedips-scale wg-tool
#                  handshakes throughput blip")
#   BENCH_SIZES    passed to the guest (allowedips-scale and wg-tool: prefix
#                  counts; defaults "1000 10000 100000 1000000" and
#                  "10000 100000 1000000")
#   BENCH_REPS     passed to the guest (repetitions of cheap measurements)
#   BENCH_QUICK=1  passed to the guest: every area small (throughput 1
#                  repetition of 2 s, blip K = 1 100, handshakes 16
#                  initiators, short floods); make bench-quick sets it
#   BENCH_TP_REPS, BENCH_TP_SECONDS, BENCH_TP_UDP_RATE       throughput.sh
#   BENCH_BLIP_K, BENCH_BLIP_SECONDS, BENCH_BLIP_RATE        blip.sh
#   BENCH_SPREAD_PEERS, BENCH_LOOKUP_SECONDS         allowedips-scale.sh
#   BENCH_HS_PEERS, BENCH_HS_ROUNDS, BENCH_HS_REPS, BENCH_HS_SECONDS,
#   BENCH_HS_FLOOD_RATE                                      handshakes.sh
#   BENCH_WGTOOL_REPS                                        wg-tool.sh
#   BENCH_MEM      guest memory (default 8G: a million prefixes need it)
#   BENCH_CPUS     guest CPUs (default 2)
#   BENCH_TIMEOUT  VM wall-clock limit in seconds (default 3600)
#   WG_BUILD       tree with the builds to test (default: this tree); its
#                  build/<kver>/wireguard/wireguard.ko, tools/wg/wg and
#                  build/selftests/wgnl are used
#   BENCH_NO_BUILD=1  do not run make in WG_BUILD, take what is there
#   WG_MODULE, OUR_WG, WGNL  explicit paths (WG_MODULE only with one kernel)
#
# PNG plots (tools/bench/plot.py, python3-matplotlib) are written beside the
# report, which links them; without matplotlib the report says so.
set -u

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
# shellcheck source=selftests/wireguard/qemu/kver.sh
. "$top/selftests/wireguard/qemu/kver.sh"

kernels=${BENCH_KERNELS:-6.12}
areas=${BENCH_AREAS:-"allowedips-scale wg-tool handshakes throughput blip"}
mem=${BENCH_MEM:-8G}
cpus=${BENCH_CPUS:-2}
limit=${BENCH_TIMEOUT:-3600}
build=${WG_BUILD:-$top}
build=$(cd "$build" && pwd) || exit 2
results=$here/results
stamp=$(date +%Y%m%d-%H%M%S)

die() { echo "bench: $*" >&2; exit 1; }

resolve_kver()
{
	case $1 in
	*-*) echo "$1" ;;		# a full release
	*) wg_newest_kver "$1" ;;	# a series
	esac
}

# The tests' packages, and matplotlib for the plots.
"$top/selftests/wireguard/install-deps.sh" || die "installing the Debian packages failed"
if ! dpkg-query -W -f='${Status}\n' python3-matplotlib 2>/dev/null | grep -q '^install ok installed$'; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends python3-matplotlib >/dev/null ||
		echo "bench: python3-matplotlib could not be installed: no plots" >&2
fi

nk=0
for k in $kernels; do nk=$((nk + 1)); done
[ -n "${WG_MODULE:-}" ] && [ "$nk" -gt 1 ] && die "WG_MODULE names one module, but BENCH_KERNELS has $nk kernels"

OUR_WG=${OUR_WG:-$build/tools/wg/wg}
WGNL=${WGNL:-$build/build/selftests/wgnl}
if [ "${BENCH_NO_BUILD:-0}" != 1 ]; then
	make -s -C "$build" wg selftests || die "building wg and wgnl in $build failed"
fi
for x in "$OUR_WG" "$WGNL"; do
	[ -x "$x" ] || die "$x missing (build it, or set OUR_WG / WGNL)"
done
# The benchmark's own helper programs, built here for the guest (which sees
# this tree read-only).
mkdir -p "$top/build/bench"
for x in udpblast runtime; do
	if [ ! -x "$top/build/bench/$x" ] || [ "$here/$x.c" -nt "$top/build/bench/$x" ]; then
		cc -O2 -Wall -o "$top/build/bench/$x" "$here/$x.c" || die "building build/bench/$x failed"
	fi
done
for a in $areas; do
	[ -r "$here/$a.sh" ] || die "no area script $here/$a.sh"
done
mkdir -p "$results"

status=0
for k in $kernels; do
	kver=$(resolve_kver "$k")
	[ -n "$kver" ] || die "no installed kernel for '$k'"
	module=${WG_MODULE:-$build/build/$kver/wireguard/wireguard.ko}
	if [ -z "${WG_MODULE:-}" ] && [ "${BENCH_NO_BUILD:-0}" != 1 ]; then
		make -s -C "$build" module KVER="$kver" || die "building the module for $kver failed"
	fi
	[ -r "$module" ] || die "no module $module"

	# The guest's /mnt/out: a scratch directory, removed after collecting.
	out=$(mktemp -d "${TMPDIR:-/tmp}/wg-bench-$kver.XXXXXX")
	guest_env=(env "BENCH_AREAS=$areas" "WG_MODULE=$module" "OUR_WG=$OUR_WG" "WGNL=$WGNL"
		"BENCH_UDPBLAST=$top/build/bench/udpblast" "BENCH_RUNTIME=$top/build/bench/runtime")
	[ -n "${BENCH_SIZES:-}" ] && guest_env+=("BENCH_SIZES=$BENCH_SIZES")
	for v in BENCH_REPS BENCH_QUICK BENCH_TP_REPS BENCH_TP_SECONDS BENCH_TP_UDP_RATE \
		BENCH_BLIP_K BENCH_BLIP_SECONDS BENCH_BLIP_RATE BENCH_SPREAD_PEERS BENCH_LOOKUP_SECONDS \
		BENCH_HS_PEERS BENCH_HS_ROUNDS BENCH_HS_REPS BENCH_HS_SECONDS BENCH_HS_FLOOD_RATE \
		BENCH_WGTOOL_REPS; do
		[ -n "${!v:-}" ] && guest_env+=("$v=${!v}")
	done
	# One boot runs every area; an area that fails does not stop the others.
	# (The VM's init keeps the static keys that ping and UDP tunnels flip
	# pinned on: see pin_static_keys in qemu/guest-init.sh.)
	guest_cmd='rc=0; for a in $BENCH_AREAS; do echo "# bench: area $a"; '
	guest_cmd+='bash '$(printf '%q' "$here")'/$a.sh >/dev/null || { echo "# bench: area $a FAILED"; rc=1; }; done; exit $rc'
	# The console (the areas' progress and warnings on stderr) is kept.
	console=$top/build/bench/console-$kver-$stamp.log
	vm=("$top/selftests/wireguard/qemu/run-vm.sh" -q -k "$kver" -m "$mem" -c "$cpus" -t "$limit" -o "$out" -l "$console"
		-- "${guest_env[@]}" bash -c "$guest_cmd")
	echo "# bench: $kver: areas '$areas', VM ${cpus} cpus ${mem}, limit ${limit}s"
	t0=$(date +%s)
	"${vm[@]}"
	rc=$?
	t1=$(date +%s)
	echo "# bench: $kver: VM finished with status $rc after $((t1 - t0))s; console: $console"
	[ "$rc" = 0 ] || status=1

	csv=$results/$kver-$stamp.csv
	md=$results/$kver-$stamp.md
	echo "kernel,module,N,metric,value,unit" >"$csv"
	for a in $areas; do
		[ -r "$out/$a.csv" ] && sed "s/^/$a,/" "$out/$a.csv"
	done | sed 's/^\([^,]*\),\(.*\)$/\2,\1/' >>"$csv.body"
	# Keep the documented six columns; the area goes into a seventh.
	sed -i '1s/$/,area/' "$csv"
	cat "$csv.body" >>"$csv"
	rm -f "$csv.body"
	rm -rf "$out"

	BENCH_META_KVER=$kver BENCH_META_VM="${vm[*]}" BENCH_META_RC=$rc \
	BENCH_META_DURATION=$((t1 - t0)) BENCH_META_BUILD=$build \
	BENCH_META_MODULE=$module BENCH_META_OUR_WG=$OUR_WG BENCH_META_WGNL=$WGNL \
	BENCH_META_MEM=$mem BENCH_META_CPUS=$cpus BENCH_META_SIZES="${BENCH_SIZES:-default}" \
	BENCH_META_QUICK="${BENCH_QUICK:-0}" BENCH_META_AREAS="$areas" \
		/usr/bin/python3 "$here/render.py" "$csv" >"$md" || status=1
	echo "# bench: $kver: $csv"
	echo "# bench: $kver: $md"
done
exit $status
