#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `make check-debug`: the debug-kernel lane.  Builds (once, cached) a Linux
# 6.12 from Debian's linux-source-6.12 with KASAN, UBSAN, kmemleak, lockdep,
# PROVE_RCU, DEBUG_OBJECTS and friends, builds our module (DEBUG=1) against
# it, boots it in run-vm.sh twice and runs the suite in two passes, then shows
# that planted bugs are caught.  Any kernel bug report fails the run.  Ends
# with "N passed, N failed[, N skipped]"; exit status non-zero on failure.
#
# The passes.  With every debug option on, the guest runs about ten times
# slower than under the stock kernel; with kmemleak, DEBUG_OBJECTS and SLUB
# debugging switched off at boot (KASAN, UBSAN, lockdep and PROVE_RCU stay),
# about 3.5 times (../shared/notes/debug-kernel-lane.md).  So:
#   lean   the whole suite (run-tests.sh's TESTS), those three off at boot;
#   full   everything on, the tests that reach every part of the driver
#          (WG_DEBUG_FULL_TESTS, default netns tunnel counters and the
#          in-kernel self-tests), then a kmemleak scan.
#
#   debug-kernel.sh [all]      build if needed, then run (default)
#   debug-kernel.sh build      only build (or reuse) the kernel and our module
#   debug-kernel.sh run        only run (the kernel must already be built)
#   debug-kernel.sh plant      only show that a use-after-free and a lock-order
#                              inversion planted in scratch copies are caught
#
# Environment:
#   WG_DEBUG_TESTS="a.sh b.sh"  run only these scripts, in one pass: full, or
#                               lean with WG_DEBUG_PASS=lean
#   WG_DEBUG_FULL_TESTS="..."   the full pass's scripts (selftest.sh = the
#                               in-kernel self-tests)
#   WG_DEBUG_LIMIT=SECONDS      wall-clock limit of each VM (default 7200)
#   WG_DEBUG_MODULE=PATH        test this wireguard.ko instead of ours (e.g. a
#                               scratch copy built against build/debug-kernel/obj)
#   WG_DEBUG_ARGS="..."         extra kernel arguments
#   WG_DEBUG_OUT=DIR            results: TAP files, console log (default
#                               build/debug-kernel/results)
#   WG_DEBUG_FULL=1             full sizes for the slow tests (default: reduced,
#                               BLIP_SECONDS=4, WG_BIG=2000, CONFIG_PAIRS=8192)
#
# The kernel tree: build/debug-kernel/obj (O= of /usr/src/linux-source-6.12
# when that tree is clean, else of our own extract in build/debug-kernel/src).
# It is rebuilt only when qemu/debug-kernel.config or the kernel source
# version changes (their hash is kept in build/debug-kernel/config.hash).  Its
# modules are installed in /lib/modules/RELEASE (RELEASE ends in -wgdebug,
# which kver.sh never picks as a default kernel), where the guest's modprobe
# finds them.
set -u

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
cd "$top" || exit 1

dk=$top/build/debug-kernel
obj=$dk/obj
frag=$here/qemu/debug-kernel.config
tarball=/usr/src/linux-source-6.12.tar.xz
results=${WG_DEBUG_OUT:-$dk/results}
jobs=${WG_DEBUG_JOBS:-$(nproc)}

log() { echo "# debug-kernel: $*"; }
die() { echo "debug-kernel: $*" >&2; exit 1; }

# The kernel source tree to build from, printed.  Debian's extracted tree is
# used read-only (O=) when it was never configured in place; otherwise we
# extract our own copy once.
kernel_src()
{
	local d=/usr/src/linux-source-6.12
	if [ -e "$d/Makefile" ] && [ ! -e "$d/.config" ] && [ ! -e "$d/include/config" ] &&
		make -s -C "$d" kernelversion >/dev/null 2>&1; then
		echo "$d"
		return
	fi
	if [ ! -e "$dk/src/Makefile" ]; then
		[ -r "$tarball" ] || die "no $tarball: apt-get install linux-source-6.12"
		log "extracting $tarball into $dk/src" >&2
		rm -rf "$dk/src" "$dk/src.tmp"
		mkdir -p "$dk/src.tmp"
		tar -C "$dk/src.tmp" --strip-components=1 -xJf "$tarball" || die "extract failed"
		mv "$dk/src.tmp" "$dk/src"
	fi
	echo "$dk/src"
}

kmake() { make -C "$src" O="$obj" "$@"; }

# What the cached kernel depends on: the fragment and the source version.
config_hash()
{
	{ cat "$frag"; make -s -C "$src" kernelversion; } | sha256sum | cut -d' ' -f1
}

build_kernel()
{
	local hash t0 missing line
	src=$(kernel_src) || exit 1
	hash=$(config_hash)
	if [ -e "$obj/arch/x86/boot/bzImage" ] && [ -e "$dk/release" ] &&
		[ "$(cat "$dk/config.hash" 2>/dev/null)" = "$hash" ] &&
		[ -e "/lib/modules/$(cat "$dk/release")/modules.dep" ]; then
		release=$(cat "$dk/release")
		log "kernel $release is up to date ($obj)"
		return 0
	fi
	log "building the debug kernel from $src in $obj (about 11 minutes on 2 cores)"
	t0=$SECONDS
	rm -rf "$obj" "$dk/config.hash" "$dk/release"
	mkdir -p "$obj"
	{
		kmake tinyconfig &&
			"$src/scripts/kconfig/merge_config.sh" -m -O "$obj" "$obj/.config" "$frag" &&
			kmake olddefconfig
	} >"$dk/config.log" 2>&1 || { tail -n 30 "$dk/config.log"; die "configuring failed"; }
	# Every option the fragment asks for must have survived olddefconfig.
	missing=0
	while IFS= read -r line; do
		case $line in
		CONFIG_*=*) grep -qxF "$line" "$obj/.config" || { log "warning: $line did not stick"; missing=1; } ;;
		"# CONFIG_"*" is not set")
			line=${line#\# }; line=${line%% *}
			grep -q "^$line=[ym]" "$obj/.config" && { log "warning: $line is set"; missing=1; } ;;
		esac
	done <"$frag"
	[ "$missing" = 0 ] || log "warning: some fragment options are not in the final .config"
	kmake -j"$jobs" bzImage modules >"$dk/build.log" 2>&1 ||
		{ tail -n 40 "$dk/build.log"; die "kernel build failed, log: $dk/build.log"; }
	release=$(kmake -s kernelrelease)
	case $release in *-wgdebug) ;; *) die "release $release does not end in -wgdebug" ;; esac
	rm -rf "/lib/modules/$release"
	kmake INSTALL_MOD_PATH=/ modules_install >"$dk/install.log" 2>&1 ||
		{ tail -n 20 "$dk/install.log"; die "modules_install failed"; }
	depmod -a "$release" || die "depmod failed"
	echo "$release" >"$dk/release"
	echo "$hash" >"$dk/config.hash"
	log "built $release in $((SECONDS - t0))s"
	echo "$((SECONDS - t0))" >"$dk/build-seconds"
}

build_module()
{
	local t0=$SECONDS
	{ make -s module KVER="$release" KDIR="$obj" && make -s module KVER="$release" KDIR="$obj" DEBUG=1; } \
		>"$dk/module.log" 2>&1 || { cat "$dk/module.log"; die "our module does not build against $release"; }
	log "our module built against $release in $((SECONDS - t0))s"
	# What the tests run besides the module: our wg and the netlink helper.
	make -s selftests wg >>"$dk/module.log" 2>&1 ||
		{ tail -n 20 "$dk/module.log"; die "make selftests wg failed"; }
}

# --- in the guest ------------------------------------------------------------

kl=/sys/kernel/debug/kmemleak

# guest MODULE DEBUG_MODULE [TEST...]: runs in the VM.  The tests run with
# MODULE, selftest.sh with DEBUG_MODULE (its self-tests run at every load,
# minutes under this kernel).  Results go to /mnt/out/*.tap.
guest()
{
	local mod=$1 dmod=$2 status=0 n=0 out=/dev/null t tests=() self=0 tap
	shift 2
	if [ "${WG_DEBUG_FULL:-0}" != 1 ]; then
		export BLIP_SECONDS=${BLIP_SECONDS:-4} WG_BIG=${WG_BIG:-2000}
		export CONFIG_PAIRS=${CONFIG_PAIRS:-8192}
	fi
	# config.sh took 1181 s here once, and once over run-tests.sh's 1500.
	# The times before each result show where such a run spends them.
	export WG_TEST_TIMEOUT=${WG_TEST_TIMEOUT:-3600} WG_TAP_TIMES=1
	# This kernel is about ten times slower: so is a silence in the stream
	# under fuzz-packets' flood (4 s measured, every datagram delivered).
	export PKTFUZZ_SILENCE=${PKTFUZZ_SILENCE:-10}
	[ -d /mnt/out ] && out=/mnt/out/kmemleak.tap
	tap=$(mktemp)
	# Leak suspects from before the tests (boot) are not ours: forget them,
	# and let only our scans run, not the periodic one.
	if [ -w "$kl" ]; then
		echo scan=off >"$kl"
		echo scan >"$kl"
		echo "# debug-kernel: boot-time kmemleak suspects, ignored: $(grep -c '^unreferenced object' "$kl")"
		echo clear >"$kl"
	fi
	# shellcheck disable=SC2046 # the list is words
	[ $# -gt 0 ] || set -- $(sed -n 's/^TESTS=(\(.*\))$/\1/p' "$here/run-tests.sh") selftest.sh
	for t in "$@"; do
		if [ "$t" = selftest.sh ]; then self=1; else tests+=("$t"); fi
	done
	if [ ${#tests[@]} -gt 0 ]; then
		bash "$here/run-tests.sh" "$mod" "${tests[@]}" || status=1
	fi
	if [ "$self" = 1 ]; then
		bash "$here/run-tests.sh" "$dmod" selftest.sh || status=1
	fi
	rmmod wireguard 2>/dev/null
	# kmemleak: objects must be a few seconds old and unreferenced in a scan
	# to be reported.  verbose=1 also prints them to the console, where
	# scan-log.sh sees them.
	{
		echo "1..1"
		if [ ! -r "$kl" ] || grep -qw 'kmemleak=off' /proc/cmdline; then
			echo "ok 1 - no kmemleak reports # SKIP kmemleak not on in this pass"
		else
			echo 1 >/sys/module/kmemleak/parameters/verbose 2>/dev/null
			sleep 6
			echo scan >"$kl"
			sleep 6
			echo scan >"$kl"
			n=$(grep -c '^unreferenced object' "$kl")
			if [ "$n" = 0 ]; then
				echo "ok 1 - no kmemleak reports after the tests"
			else
				echo "not ok 1 - kmemleak reports $n unreferenced objects after the tests"
				sed 's/^/# /' "$kl"
			fi
		fi
	} >"$tap"
	cat "$tap"
	cp "$tap" "$out"
	grep -q '^not ok' "$tap" && status=1
	return $status
}

# --- on the host -------------------------------------------------------------

passed=0 failed=0 skipped=0
pass() { passed=$((passed + 1)); echo "PASS: $*"; }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }

# The TAP results of one file, counted as check.sh does.
count_tap()
{
	local line
	while IFS= read -r line; do
		case $line in
		"not ok"*) fail "${line#not ok }" ;;
		"ok "*"# SKIP"*) skipped=$((skipped + 1)); echo "SKIP: ${line#ok }" ;;
		"ok "*) passed=$((passed + 1)) ;;
		esac
	done <"$1"
}

summary()
{
	local s="$passed passed, $failed failed"
	[ "$skipped" -gt 0 ] && s+=", $skipped skipped"
	echo "$s"
	[ "$failed" = 0 ]
}

# Packages the lane needs: the suite's, and those only a kernel build needs.
build_deps()
{
	local p missing=()
	# The VM runner's own packages (QEMU, the stock kernels, the tools, bc
	# and libssl-dev), then what only a kernel build needs.
	"$here/install-deps.sh" || return 1
	for p in flex bison libelf-dev; do
		dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
	done
	[ -r "$tarball" ] || [ -e /usr/src/linux-source-6.12/Makefile ] || missing+=(linux-source-6.12)
	[ ${#missing[@]} = 0 ] && return 0
	log "installing ${missing[*]}"
	apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || {
		apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
	}
}

lean_args="slub_debug=- kmemleak=off no_debug_objects"
full_tests=${WG_DEBUG_FULL_TESTS:-"netns.sh tunnel.sh counters.sh selftest.sh"}

# run_vm PASS "KERNEL ARGS" [TEST...]: one boot running TESTS (default: the
# whole suite and the self-tests); results in $results/PASS.
run_vm()
{
	local pass=$1 args=$2
	shift 2
	local mod=${WG_DEBUG_MODULE:-$top/build/$release/wireguard/wireguard.ko} t0=$SECONDS rc tap
	local dmod=${WG_DEBUG_MODULE:-$top/build/$release-debug/wireguard/wireguard.ko}
	local limit=${WG_DEBUG_LIMIT:-7200} envs=() dir=$results/$pass
	# The guest does not inherit our environment: pass the knobs on.
	for v in WG_DEBUG_FULL WG_TEST_TIMEOUT BLIP_SECONDS BLIP_RATE BLIP_PREFIXES WG_BIG CONFIG_PAIRS \
		NLFUZZ_SEED NLFUZZ_COUNT NLFUZZ_SECONDS PKTFUZZ_SEED PKTFUZZ_COUNT PKTFUZZ_SILENCE \
		STRESS_SECONDS STRESS_SPOKES STRESS_FAKES STRESS_RATE STRESS_MOVES; do
		[ -n "${!v:-}" ] && envs+=("$v=${!v}")
	done
	if [ ! -r "$mod" ] || [ ! -r "$dmod" ]; then
		fail "no module $mod or $dmod"
		return 1
	fi
	rm -rf "$dir"
	mkdir -p "$dir/out"
	log "$pass pass: booting $release with $mod and $dmod (limit ${limit}s): ${*:-the whole suite}"
	# acpi=noirq: ACPI's PCI routing otherwise times out under KASAN+TCG and
	# the workqueue watchdog reports false lockups.  The hung-task limit is
	# raised for the same slowness.
	"$here/qemu/run-vm.sh" -q -k "$release" -K "$obj/arch/x86/boot/bzImage" -m 4G -t "$limit" \
		-a "acpi=noirq sysctl.kernel.hung_task_timeout_secs=600 $args ${WG_DEBUG_ARGS:-}" \
		-o "$dir/out" -l "$dir/console.log" -- \
		env "${envs[@]}" bash "$here/debug-kernel.sh" guest "$mod" "$dmod" "$@"
	rc=$?
	echo "$((SECONDS - t0))" >"$dir/run-seconds"
	for tap in "$dir"/out/*.tap; do
		[ -e "$tap" ] || continue
		echo "   $pass: $(basename "$tap")"
		count_tap "$tap"
	done
	if [ "$rc" = 0 ]; then
		pass "debug-kernel $pass pass on $release ($((SECONDS - t0))s)"
	else
		fail "debug-kernel $pass pass on $release exited $rc ($((SECONDS - t0))s), console: $dir/console.log"
		# The kernel's own reports, in full, for whoever reads the log.
		"$here/qemu/scan-log.sh" "$dir/console.log" >"$dir/bugs.txt"
		[ -s "$dir/bugs.txt" ] && log "kernel reports: $dir/bugs.txt"
	fi
}

# The lane's passes, or one full pass over WG_DEBUG_TESTS.
run_passes()
{
	local tests=()
	if [ -n "${WG_DEBUG_TESTS:-}" ]; then
		read -r -a tests <<<"$WG_DEBUG_TESTS"
		if [ "${WG_DEBUG_PASS:-full}" = lean ]; then
			run_vm lean "$lean_args" "${tests[@]}"
		else
			run_vm full "" "${tests[@]}"
		fi
		return
	fi
	# shellcheck disable=SC2046 # the list is words
	run_vm lean "$lean_args" $(sed -n 's/^TESTS=(\(.*\))$/\1/p' "$here/run-tests.sh")
	# shellcheck disable=SC2086 # the list is words
	run_vm full "" $full_tests
}

# --- planted bugs: the lane must catch them ------------------------------------

# plant_source NAME DIR: a scratch copy of the driver in DIR with bug NAME
# planted in wg_newlink(), which every test reaches with its first
# "ip link add type wireguard".
plant_source()
{
	local name=$1 dir=$2 code
	case $name in
	use-after-free)
		code='	{
		/* Planted: a write to memory already freed. */
		u8 *planted = kmalloc(64, GFP_KERNEL);

		if (planted) {
			kfree(planted);
			WRITE_ONCE(planted[8], 1);
		}
	}'
		;;
	lock-inversion)
		code='	/* Planted: the two config locks taken in both orders. */
	mutex_lock(&wg->device_update_lock);
	mutex_lock(&wg->socket_update_lock);
	mutex_unlock(&wg->socket_update_lock);
	mutex_unlock(&wg->device_update_lock);
	mutex_lock(&wg->socket_update_lock);
	mutex_lock(&wg->device_update_lock);
	mutex_unlock(&wg->device_update_lock);
	mutex_unlock(&wg->socket_update_lock);'
		;;
	*) die "no planted bug $name" ;;
	esac
	rm -rf "$dir"
	mkdir -p "$dir"
	cp -r "$top/drivers/net/wireguard/." "$dir/"
	PLANT="$code" python3 - "$dir/device.c" <<'PY' || return 1
import os, sys
path = sys.argv[1]
src = open(path).read()
anchor = "\twg->creating_net = src_net;\n"
if src.count(anchor) != 1:
    sys.exit("debug-kernel: cannot find where to plant the bug in device.c")
open(path, "w").write(src.replace(anchor, os.environ["PLANT"] + "\n" + anchor))
PY
}

# plant: for each planted bug, a scratch module built against the debug
# kernel runs netns.sh; the run must fail with the matching report.
plant()
{
	local name dir want
	for name in use-after-free lock-inversion; do
		case $name in
		use-after-free) want='KASAN: (slab-)?use-after-free' ;;
		lock-inversion) want='possible circular locking dependency' ;;
		esac
		dir=$dk/plant-$name
		if ! plant_source "$name" "$dir/src" ||
			! make -C "$obj" M="$dir/src" WG_UAPI_INCLUDE="$top/include" CONFIG_WIREGUARD=m \
				modules >"$dir/build.log" 2>&1; then
			fail "planted $name: the scratch module builds (log: $dir/build.log)"
			continue
		fi
		(
			# KASAN and lockdep are what catch these: the lean boot.
			results=$dir/results
			WG_DEBUG_MODULE=$dir/src/wireguard.ko WG_DEBUG_LIMIT=1800 \
				run_vm lean "$lean_args" netns.sh
		) >"$dir/run.log" 2>&1
		"$here/qemu/scan-log.sh" "$dir/results/lean/console.log" >"$dir/bugs.txt"
		if grep -Eq "$want" "$dir/bugs.txt"; then
			pass "planted $name is caught: $(grep -Em1 "$want" "$dir/bugs.txt" | sed 's/^.*\] //')"
		else
			fail "planted $name went unnoticed (log: $dir/run.log)"
		fi
	done
}

mode=${1:-all}
case $mode in
build)
	build_deps || die "cannot install the build dependencies"
	build_kernel
	build_module
	exit 0
	;;
guest)
	shift
	guest "$@"
	exit
	;;
run | all | plant) ;;
*) sed -n '4,34p' "$0" >&2; exit 2 ;;
esac

start_all=$SECONDS
mkdir -p "$dk"
if [ "$mode" = all ]; then
	t0=$SECONDS
	if (build_deps && build_kernel) >"$dk/lane-build.log" 2>&1; then
		pass "debug kernel built or up to date ($((SECONDS - t0))s)"
		cat "$dk/lane-build.log"
	else
		cat "$dk/lane-build.log"
		fail "debug kernel build"
		summary
		exit 1
	fi
fi
if [ ! -e "$dk/release" ] || [ ! -e "$obj/arch/x86/boot/bzImage" ]; then
	fail "no debug kernel built (run: $0 build)"
	summary
	exit 1
fi
release=$(cat "$dk/release")
src=$(kernel_src)
t0=$SECONDS
if [ "$mode" = plant ]; then
	plant
elif [ -n "${WG_DEBUG_MODULE:-}" ] || (build_module); then
	[ -n "${WG_DEBUG_MODULE:-}" ] || pass "our module builds against $release, plain and DEBUG=1 ($((SECONDS - t0))s)"
	run_passes
	# The lane is only worth its time if it catches what it is for.
	[ "$mode" = all ] && [ -z "${WG_DEBUG_MODULE:-}" ] && plant
else
	fail "our module builds against $release"
fi
echo "== done in $((SECONDS - start_all))s"
summary
