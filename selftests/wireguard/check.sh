#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `make check`: installs what is missing, builds for every kernel, runs the
# userspace tests and the VM selftests on Debian's 6.12 and 6.1, a part of
# them on the newest kernel (trixie-backports, built in the trixie root),
# and ends with "N passed, N failed[, N skipped]".  Exit status non-zero on
# failure.
#
#   WG_CHECK_KERNELS="6.12 6.1"   the kernel series of the main lanes: the
#                                 whole suite on the first, WG_CHECK_OLD_TESTS
#                                 on the others
#   WG_CHECK_OLD_TESTS="..."      the part of the suite run on the older
#                                 kernels: all but wg-tool.sh, wg-compat.sh and
#                                 blip.sh, which test userspace programs and
#                                 the allowedips code, the same on every
#                                 kernel; "all" for the whole suite
#   WG_CHECK_NEWEST="7"           the series of the newest-kernel lane ("" for
#                                 none): W=1 build and WG_CHECK_NEWEST_TESTS
#   WG_CHECK_NEWEST_TESTS="netns.sh config.sh tunnel.sh interop.sh"
#                                 the part of the suite run there: the scripts
#                                 that go through every interface compat.h
#                                 maps (rtnl newlink and netns, genetlink,
#                                 the UDP tunnel and IPv6 route helpers,
#                                 timers, BLAKE2s against wireguard-go)
#   WG_CHECK_QUICK=1              skip the slow static checks
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
. selftests/wireguard/qemu/kver.sh

results=$top/build/check
rm -rf "$results"
mkdir -p "$results"
passed=0 failed=0 skipped=0
start_all=$(date +%s)

pass() { passed=$((passed + 1)); echo "PASS: $*"; }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }

# step NAME LOG command...: one check, its output kept in LOG and shown
# (the end of it) when it fails.
step()
{
	local name=$1 log=$results/$2 t0=$SECONDS
	shift 2
	if "$@" >"$log" 2>&1; then
		pass "$name ($((SECONDS - t0))s)"
	else
		fail "$name ($((SECONDS - t0))s), log: $log"
		tail -n 40 "$log" | sed 's/^/    /'
		return 1
	fi
}

# count_tap FILE NAME: counts the TAP results of one script (NAME, for the
# messages).  Each result counts on its own; besides, the file must hold a
# plan ("1..N") that matches its results, so that a script cut short or one
# that lost results fails under its name instead of passing with fewer.
# run-tests.sh's own "not ok - SCRIPT exited with status N" is not a result
# of the script and is not in its plan.
count_tap()
{
	local file=$1 name=$2 line n=0 plan=
	while IFS= read -r line; do
		case $line in
		"not ok - "*" exited with status "*) fail "${line#not ok - }" ;;
		"not ok"*) n=$((n + 1)); fail "${line#not ok }" ;;
		"ok "*"# SKIP"*) n=$((n + 1)); skipped=$((skipped + 1)); echo "SKIP: ${line#ok }" ;;
		"ok "*) n=$((n + 1)); passed=$((passed + 1)) ;;
		1..*) [[ $line =~ ^1\.\.[0-9]+$ ]] && plan=${line#1..} ;;
		esac
	done <"$file"
	if [ -z "$plan" ]; then
		fail "$name: no TAP plan: the script was cut short ($n results)"
	elif [ "$plan" != "$n" ]; then
		fail "$name: its plan says $plan results, it gave $n"
	fi
}

# count_lane DIR WHERE SCRIPT...: the results of each scheduled script, from
# DIR/SCRIPT.tap; a script without one (never ran, or the VM died before it)
# fails by name.
count_lane()
{
	local dir=$1 where=$2 t tap
	shift 2
	for t in "$@"; do
		tap=$dir/${t%.sh}.tap
		if [ ! -s "$tap" ]; then
			fail "$t on $where: no results (it never ran, or the VM died first)"
			continue
		fi
		echo "   $t on $where"
		count_tap "$tap" "$t on $where"
	done
}

# The whole suite, as run-tests.sh lists it.
suite_tests() { sed -n 's/^TESTS=(\(.*\))$/\1/p' selftests/wireguard/run-tests.sh; }

# Adds a "N passed, N failed[, N skipped]" summary printed by a sub-suite.
count_summary()
{
	local line p f s
	line=$(grep -E '^([A-Za-z-]+: )?[0-9]+ passed, [0-9]+ failed' "$1" | tail -n 1)
	[ -n "$line" ] || return 1
	p=$(sed -E 's/.*\b([0-9]+) passed.*/\1/' <<<"$line")
	f=$(sed -E 's/.*\b([0-9]+) failed.*/\1/' <<<"$line")
	s=$(sed -nE 's/.*\b([0-9]+) skipped.*/\1/p' <<<"$line")
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + ${s:-0}))
	echo "     ($line)"
}

# The time each VM script took, from run-tests.sh's lines in the console.
script_times()
{
	[ -r "$1" ] || return 0
	sed -n 's/.*# run-tests: \([^ ]*\) exit \([0-9]*\) after \([0-9]*\)s.*/\1 \3s/p' "$1" |
		tr '\n' ' ' | sed 's/^/     times: /; s/ $/\n/'
}

no_warnings()
{
	local log=$1
	shift
	"$@" >"$log.raw" 2>&1 || { cat "$log.raw"; return 1; }
	cat "$log.raw"
	! grep -E 'warning:|error:' "$log.raw"
}

echo "== setup"
step "Debian packages present" deps.log selftests/wireguard/install-deps.sh || {
	echo "$passed passed, $failed failed"
	exit 1
}

kvers=()
for series in ${WG_CHECK_KERNELS:-6.12 6.1}; do
	k=$(wg_newest_kver "$series")
	if [ -z "$k" ]; then
		fail "no Debian $series kernel with headers installed"
		continue
	fi
	kvers+=("$k")
done

newest=()
for series in ${WG_CHECK_NEWEST-7}; do
	k=$(wg_newest_kver "$series")
	if [ -z "$k" ]; then
		fail "no $series kernel with headers in the trixie root (selftests/wireguard/trixie-root.sh)"
		continue
	fi
	newest+=("$k")
done

echo "== build"
for k in "${kvers[@]}" "${newest[@]}"; do
	step "module builds for $k with W=1 and no warnings" build-$k.log \
		no_warnings "$results/build-$k.log" make -s module KVER="$k" W=1
done
main=${kvers[0]:-}
if [ -n "$main" ]; then
	step "module builds for $main with CONFIG_WIREGUARD_DEBUG" build-debug.log \
		no_warnings "$results/build-debug.log" make -s module KVER="$main" DEBUG=1 W=1
fi
if [ "${WG_CHECK_QUICK:-0}" != 1 ] && [ -n "$main" ]; then
	step "sparse (C=2) finds nothing in our code" sparse.log \
		no_warnings "$results/sparse.log" make -s module KVER="$main" C=2
	step "checkpatch --strict is clean on our files" checkpatch.log \
		selftests/wireguard/checkpatch.sh
fi
step "selftest programs build" selftests-build.log make -s selftests
if [ -e tools/wg/Makefile ]; then
	step "wg builds" wg-build.log make -C tools/wg
	if step "wg unit tests" wg-test.log make -C tools/wg test; then
		count_summary "$results/wg-test.log"
	fi
	if [ "${WG_CHECK_QUICK:-0}" != 1 ] && grep -q '^fuzz:' tools/wg/Makefile; then
		step "wg fuzz targets, short run" wg-fuzz.log make -C tools/wg fuzz
	fi
fi

echo "== selftests in the VM"
# The hostile-input and stress tests in their short form; their defaults (the
# full form) are for make check-debug and for running them by hand.
short=(env NLFUZZ_SECONDS=20 NLFUZZ_COUNT=8000 PKTFUZZ_COUNT=60 STRESS_SECONDS=20 STRESS_SPOKES=16 STRESS_FAKES=32)
# vm_lane KVER LIMIT WHAT ENV... -- [TEST...]: the VM selftests on one
# kernel (the whole suite without TESTs), their TAP counted, and the lane
# itself passing when the VM run did.
vm_lane()
{
	local k=$1 limit=$2 what=$3 mod out rc t0=$SECONDS
	shift 3
	local env=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do env+=("$1"); shift; done
	shift
	mod=$top/build/$k/wireguard/wireguard.ko
	if [ ! -e "$mod" ]; then
		fail "VM selftests on $k: no module was built"
		return
	fi
	out=$results/vm-$k
	selftests/wireguard/qemu/run-vm.sh -q -k "$k" -t "$limit" -m 4G -o "$out" \
		-l "$results/console-$k.log" -- "${short[@]}" "${env[@]}" \
		bash selftests/wireguard/run-tests.sh "$mod" "$@"
	rc=$?
	script_times "$results/console-$k.log"
	# shellcheck disable=SC2046 # the suite is a list of words
	[ $# -gt 0 ] || set -- $(suite_tests)
	count_lane "$out" "$k" "$@"
	if [ "$rc" = 0 ]; then
		pass "VM run on $k, $what ($((SECONDS - t0))s)"
	else
		fail "VM run on $k exited $rc ($((SECONDS - t0))s), console: $results/console-$k.log"
	fi
}

old_tests="netns.sh config.sh tunnel.sh counters.sh interop.sh paths.sh routing.sh fuzz-netlink.sh fuzz-packets.sh stress.sh"
for k in "${kvers[@]}"; do
	if [ "$k" = "$main" ] || [ "${WG_CHECK_OLD_TESTS:-}" = all ]; then
		vm_lane "$k" 1800 "the whole suite" --
	else
		# shellcheck disable=SC2086 # a list of script names
		vm_lane "$k" 1800 "the kernel-facing part" -- ${WG_CHECK_OLD_TESTS:-$old_tests}
	fi
done

# The newest kernels: the part of the suite that crosses compat.h, with
# config.sh's large set at 16,384 prefixes (the netlink paths are the same
# as at 130,560; the whole-size run is the 6.12 lane's).
for k in "${newest[@]}"; do
	# shellcheck disable=SC2086 # a list of script names
	vm_lane "$k" 1200 "part of the suite" CONFIG_PAIRS=8192 -- \
		${WG_CHECK_NEWEST_TESTS:-netns.sh config.sh tunnel.sh interop.sh}
done

if [ -n "$main" ]; then
	mod=$top/build/$main-debug/wireguard/wireguard.ko
	out=$results/vm-$main-debug
	t0=$SECONDS
	if selftests/wireguard/qemu/run-vm.sh -q -k "$main" -t 900 -o "$out" \
		-l "$results/console-debug.log" -- bash selftests/wireguard/run-tests.sh "$mod" selftest.sh; then
		pass "debug build: in-kernel self-tests on $main ($((SECONDS - t0))s)"
	else
		fail "debug build: in-kernel self-tests on $main, console: $results/console-debug.log"
	fi
	count_lane "$out" "$main, debug build" selftest.sh
fi

echo "== done in $(($(date +%s) - start_all))s"
summary="$passed passed, $failed failed"
[ "$skipped" -gt 0 ] && summary+=", $skipped skipped"
echo "$summary"
[ "$failed" = 0 ]
