#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The in-kernel self-tests of a CONFIG_WIREGUARD_DEBUG build run when the
# module loads, and the load fails if one of them does.  This loads it and
# reports each self-test's verdict from the kernel log.
set -u
. "$(dirname "$0")/lib.sh"

dmesg -C
check "debug module loads (its self-tests pass)" load_wireguard
for t in allowedips counter ratelimiter noise timers; do
	check "self-test $t reports pass" sh -c "dmesg | grep -q '$t self-tests: pass'"
done
dmesg | grep -iE 'self-test|selftest' | sed 's/^/# /'
check "module unloads" unload_wireguard
tap_plan_end
