#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot a Debian kernel under QEMU (TCG) and run one command inside it.
#
# The guest sees the host's / read-only over virtio-9p with a tmpfs overlay on
# top, so every host program and this source tree are there at the same
# paths.  A tiny busybox initramfs mounts that and switches into it.
#
#   run-vm.sh [options] -- command [args...]
#     -k KVER      kernel release to boot (default: newest Debian 6.12)
#     -t SECONDS   wall-clock limit for the whole VM (default 600)
#     -m MEM       guest memory (default 3G)
#     -c CPUS      guest CPUs (default 2)
#     -l LOGFILE   console log (default: build/vm/console-KVER.*.log, kept
#                  only on failure)
#     -o OUTDIR    host directory mounted read-write at /mnt/out in the guest
#     -K KERNEL    boot this bzImage instead of /boot/vmlinuz-KVER (or,
#                  without that, /lib/modules/KVER/vmlinuz: where the newest
#                  kernels that trixie-root.sh unpacks have theirs)
#     -a ARGS      extra kernel command line arguments
#     -q           do not stream the console, only print it on failure
#
# Exit status: the command's own, or 124 on timeout, or 125 when the VM did
# not report a status (crash), or 126 when the kernel logged a bug report
# or guest-init could not pin the static keys.
set -u

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../../.." && pwd)
# shellcheck source=selftests/wireguard/qemu/kver.sh
. "$here/kver.sh"

kver=""
limit=600
mem=3G
cpus=2
log=""
outdir=""
kernel=""
extra=""
quiet=0
while getopts "k:t:m:c:l:o:K:a:q" opt; do
	case $opt in
	k) kver=$OPTARG ;;
	t) limit=$OPTARG ;;
	m) mem=$OPTARG ;;
	c) cpus=$OPTARG ;;
	l) log=$OPTARG ;;
	o) outdir=$OPTARG ;;
	K) kernel=$OPTARG ;;
	a) extra=$OPTARG ;;
	q) quiet=1 ;;
	*) sed -n '4,24p' "$0" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ "${1:-}" = "--" ] && shift
if [ $# -eq 0 ]; then
	echo "run-vm.sh: no command given" >&2
	exit 2
fi
[ -n "$kver" ] || kver=$(wg_default_kver)
if [ -z "$kernel" ]; then
	kernel=/boot/vmlinuz-$kver
	[ -r "$kernel" ] || [ ! -r "/lib/modules/$kver/vmlinuz" ] || kernel=/lib/modules/$kver/vmlinuz
fi
if [ ! -r "$kernel" ]; then
	echo "run-vm.sh: no kernel image $kernel (install linux-image-$kver, or run install-deps.sh for the newest?)" >&2
	exit 2
fi

vmdir=$top/build/vm
mkdir -p "$vmdir"
# Several VMs may run at once: each default log has its own name, and is
# removed again when the run passed.
keep_log=1
if [ -z "$log" ]; then
	log=$(mktemp "$vmdir/console-$kver.XXXXXX.log")
	keep_log=0
fi
initrd=$("$here/mkinitramfs.sh" "$kver" "$vmdir") || exit 2

# The command travels as a script in a host directory the guest can read.
rundir=$(mktemp -d "$vmdir/run.XXXXXX")
trap 'rm -rf "$rundir"' EXIT
{
	echo "cd $(printf '%q' "$PWD") || exit 1"
	printf '%q ' "$@"
	echo
} >"$rundir/cmd.sh"

virtfs_out=()
if [ -n "$outdir" ]; then
	mkdir -p "$outdir"
	virtfs_out=(-virtfs "local,path=$(cd "$outdir" && pwd),mount_tag=wgout,security_model=none,id=wgout")
	extra+=" wgvm.out=1"
fi

cmdline="console=ttyS0 panic=-1 loglevel=5 printk.time=1 nokaslr"
cmdline+=" tsc=reliable no_timer_check rcupdate.rcu_expedited=1"
# Our kmem_caches stay our own, so that tests can count what is left in them.
cmdline+=" slab_nomerge"
cmdline+=" wgvm.run=$rundir/cmd.sh wgvm.init=$here/guest-init.sh $extra"

[ "$quiet" = 1 ] || echo "# vm: booting $kver ($cpus cpus, $mem), limit ${limit}s"
qemu=(qemu-system-x86_64 -accel tcg,thread=multi -cpu max -smp "$cpus" -m "$mem"
	-nographic -no-reboot -nodefaults -serial stdio
	-kernel "$kernel" -initrd "$initrd" -append "$cmdline"
	-device virtio-rng-pci
	-virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap,id=hostroot"
	"${virtfs_out[@]}")

boot()
{
	if [ "$quiet" = 1 ]; then
		timeout -k 10 "$limit" "${qemu[@]}" </dev/null >"$log" 2>&1
	else
		timeout -k 10 "$limit" "${qemu[@]}" </dev/null 2>&1 | tee "$log"
	fi
	qemu_rc=${PIPESTATUS[0]}
	# The serial console turns \n into \r\n.
	sed -i 's/\r$//' "$log"
}

# A kernel that dies before guest-init runs has run nothing of ours.  Under
# TCG that happens now and then: a vCPU executes code that another is
# patching (a static key flipped by a late initcall) and takes the int3 as
# an Oops.  Such a boot is tried again, at most twice, and said so.
for attempt in 1 2 3; do
	boot
	[ "$qemu_rc" = 124 ] || [ "$qemu_rc" = 137 ] && break
	grep -q '^# vm: .* up after ' "$log" && break
	grep -q '^WG-VM-EXIT: ' "$log" && break
	[ "$attempt" = 3 ] && break
	cp "$log" "$log.boot$attempt"
	echo "# vm: the kernel died while booting, before any test ran; booting again" \
		"(console in $log.boot$attempt): $(grep -m1 -E 'Oops|BUG|panic' "$log")" >&2
done

rc=$(sed -n 's/^WG-VM-EXIT: \([0-9]*\)$/\1/p' "$log" | tail -n 1)
if [ "$qemu_rc" = 124 ] || [ "$qemu_rc" = 137 ]; then
	echo "# vm: FAIL: time limit of ${limit}s reached; console log kept in $log" >&2
	rc=124
elif [ -z "$rc" ]; then
	echo "# vm: FAIL: the guest did not report an exit status (crash?); console log kept in $log" >&2
	rc=125
fi

# Any kernel bug report fails the run, whatever the command said.
bugs=$("$here/scan-log.sh" "$log")
if [ -n "$bugs" ]; then
	echo "# vm: FAIL: the kernel reported a problem; console log kept in $log:" >&2
	echo "$bugs" | head -n 60 >&2
	[ "$rc" = 0 ] && rc=126
fi
# Without them the tests flip static keys all the time, and under TCG that
# sooner or later ends in an int3 Oops (see guest-init.sh): fail at once.
if grep -q '^guest-init: the static keys are not pinned' "$log"; then
	echo "# vm: FAIL: guest-init could not pin the static keys; console log kept in $log" >&2
	[ "$rc" = 0 ] && rc=126
fi
if [ "$rc" != 0 ] && [ "$quiet" = 1 ]; then
	echo "# vm: console of the failed run ($log):" >&2
	tail -n 200 "$log" >&2
fi
[ "$rc" = 0 ] && [ "$keep_log" = 0 ] && rm -f "$log"
exit "$rc"
