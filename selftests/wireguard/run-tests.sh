#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# run-tests.sh MODULE [TEST...]: runs selftest scripts inside the VM, one after
# the other, each with the module named in WG_MODULE and unloaded before it
# starts.  Output of TEST goes to the console and, when the host gave an
# output directory, its standard output to /mnt/out/TEST.tap: only what a
# script prints on stdout is TAP, so a line on stderr that happens to start
# with "ok " is not a result.  Default: every test in TESTS.
#
# WG_TEST_TIMEOUT: the seconds a script may take before it is killed (1500).
#
# Exit status: 0 when every script passed.

here=$(cd "$(dirname "$0")" && pwd)
export WG_MODULE=$1
shift

# The suite, in order.  Each is a TAP script that sources lib.sh.
# (One line: debug-kernel.sh reads it.)  The hostile-input and stress tests
# size themselves from NLFUZZ_*, PKTFUZZ_* and STRESS_* (check.sh shortens them).
TESTS=(netns.sh config.sh wg-tool.sh wg-compat.sh tunnel.sh routing.sh counters.sh interop.sh paths.sh blip.sh fuzz-netlink.sh fuzz-packets.sh stress.sh)
[ $# -gt 0 ] && TESTS=("$@")

status=0
for t in "${TESTS[@]}"; do
	if [ ! -e "$here/$t" ]; then
		echo "# run-tests: $t does not exist"
		status=1
		continue
	fi
	rmmod wireguard 2>/dev/null
	echo "# run-tests: $t"
	out=/dev/null
	[ -d /mnt/out ] && out=/mnt/out/${t%.sh}.tap
	start=$(date +%s)
	timeout "${WG_TEST_TIMEOUT:-1500}" bash "$here/$t" | tee "$out"
	rc=${PIPESTATUS[0]}
	echo "# run-tests: $t exit $rc after $(($(date +%s) - start))s"
	[ "$rc" = 0 ] || status=1
	# A script that died half-way must not look like a pass.
	[ "$rc" = 0 ] || [ ! -d /mnt/out ] || echo "not ok - $t exited with status $rc" >>"$out"
	# Nothing a script left behind may reach into the next one.
	pkill -x wireguard-go 2>/dev/null
	rm -f /var/run/wireguard/*.sock
	ip -all netns del 2>/dev/null
done
rmmod wireguard 2>/dev/null
exit $status
