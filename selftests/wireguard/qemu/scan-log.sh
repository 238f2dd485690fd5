#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# scan-log.sh LOG: print the kernel's bug reports found in a console log
# (nothing when it is clean), each after the name of the test script that
# was running when the kernel printed it (run-tests.sh's "# run-tests: NAME"
# line; "boot" before the first).  Only kernel lines count: they carry a
# printk timestamp, so a test that prints these words itself does not trip
# it.  The timestamp may come mid-line, where the kernel's output cut into a
# test's on the shared console.
#
# Caught, among others: Oops/BUG/WARNING (WARN_ON, lockdep's "possible
# circular locking dependency detected" and "possible recursive locking
# detected", "suspicious RCU usage", "sleeping function called from invalid
# context", the soft-lockup watchdog's "BUG: soft lockup"), KASAN, UBSAN,
# KFENCE, SLUB debug's "BUG kmalloc-64 (Not tainted): Poison overwritten",
# kmemleak's "unreferenced object" (printed when its verbose parameter is on)
# and kmemleak disabling itself, hung tasks, hard lockups, RCU stalls, list
# corruption, ODEBUG, workqueue lockups, a device whose references never
# drop ("unregister_netdevice: waiting for wg0 to become free") and failed
# page allocations.  kmemleak saying it is disabled is no report when the
# kernel command line asked for that (kmemleak=off, the debug lane's lean
# pass).
awk '
/Command line:.*kmemleak=off/ { kmemleak_off = 1 }
kmemleak_off && /kmemleak: Kernel memory leak detector disabled/ { next }
/# run-tests: [^ ]+\.sh$/ { script = $NF }
/\[ *[0-9]+\.[0-9][0-9][0-9][0-9][0-9][0-9]\] / && /(Oops|BUG:|WARNING:|kernel BUG|BUG [^ ]+ \((Not t|T)ainted|general protection fault|KASAN|UBSAN|KFENCE|possible circular locking|possible recursive locking|inconsistent lock state|suspicious RCU usage|lockdep is turned off|INFO: task .* blocked|blocked for more than [0-9]+ seconds|rcu_sched self-detected stall|rcu: INFO|unreferenced object|kmemleak: .*disabled|Kernel panic|refcount_t:|list_(add|del) corruption|ODEBUG|workqueue lockup|Watchdog detected hard LOCKUP|waiting for .* to become free|page allocation failure)/ && !/Lockdep is/ {
	line = (script == "" ? "boot" : script) ": " $0
	if (!seen[line]++)
		print line
}' "$1"
exit 0
