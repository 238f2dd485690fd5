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
#   BENCH_AREAS    areas to run (default "allowedips-scale throughput blip")
#   BENCH_SIZES    passed to the guest (allowedips-scale: prefix counts)
#   BENCH_REPS     passed to the guest (repetitions of cheap measurements)
#   BENCH_QUICK=1  passed to the guest: throughput 1 repetition of 2 s,
#                  blip K = 1 100 (make bench-quick should set it)
#   BENCH_TP_REPS, BENCH_TP_SECONDS, BENCH_TP_UDP_RATE       throughput.sh
#   BENCH_BLIP_K, BENCH_BLIP_SECONDS, BENCH_BLIP_RATE        blip.sh
#   BENCH_MEM      guest memory (default 8G: a million prefixes need it)
#   BENCH_CPUS     guest CPUs (default 2)
#   BENCH_TIMEOUT  VM wall-clock limit in seconds (default 2400)
#   WG_BUILD       tree with the builds to test (default: this tree); its
#                  build/<kver>/wireguard/wireguard.ko, tools/wg/wg and
#                  build/selftests/wgnl are used
#   BENCH_NO_BUILD=1  do not run make in WG_BUILD, take what is there
#   WG_MODULE, OUR_WG, WGNL  explicit paths (WG_MODULE only with one kernel)
set -u

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
# shellcheck source=selftests/wireguard/qemu/kver.sh
. "$top/selftests/wireguard/qemu/kver.sh"

kernels=${BENCH_KERNELS:-6.12}
areas=${BENCH_AREAS:-"allowedips-scale throughput blip"}
mem=${BENCH_MEM:-8G}
cpus=${BENCH_CPUS:-2}
limit=${BENCH_TIMEOUT:-2400}
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
	guest_env=(env "BENCH_AREAS=$areas" "WG_MODULE=$module" "OUR_WG=$OUR_WG" "WGNL=$WGNL")
	[ -n "${BENCH_SIZES:-}" ] && guest_env+=("BENCH_SIZES=$BENCH_SIZES")
	for v in BENCH_REPS BENCH_QUICK BENCH_TP_REPS BENCH_TP_SECONDS BENCH_TP_UDP_RATE \
		BENCH_BLIP_K BENCH_BLIP_SECONDS BENCH_BLIP_RATE; do
		[ -n "${!v:-}" ] && guest_env+=("$v=${!v}")
	done
	# One boot runs every area; an area that fails does not stop the others.
	guest_cmd='rc=0; for a in $BENCH_AREAS; do echo "# bench: area $a"; '
	guest_cmd+='bash '$(printf '%q' "$here")'/$a.sh >/dev/null || { echo "# bench: area $a FAILED"; rc=1; }; done; exit $rc'
	vm=("$top/selftests/wireguard/qemu/run-vm.sh" -q -k "$kver" -m "$mem" -c "$cpus" -t "$limit" -o "$out"
		-- "${guest_env[@]}" bash -c "$guest_cmd")
	echo "# bench: $kver: areas '$areas', VM ${cpus} cpus ${mem}, limit ${limit}s"
	t0=$(date +%s)
	"${vm[@]}"
	rc=$?
	t1=$(date +%s)
	echo "# bench: $kver: VM finished with status $rc after $((t1 - t0))s"
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
