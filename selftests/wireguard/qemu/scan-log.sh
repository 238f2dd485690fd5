#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# scan-log.sh LOG: print the kernel's bug reports found in a console log
# (nothing when it is clean).  Only kernel lines count: they carry a printk
# timestamp, so a test that prints these words itself does not trip it.  The
# timestamp may come mid-line, where the kernel's output cut into a test's
# on the shared console.
#
# Caught, among others: Oops/BUG/WARNING (WARN_ON, lockdep's "possible
# circular locking dependency detected" and "possible recursive locking
# detected", "suspicious RCU usage", "sleeping function called from invalid
# context"), KASAN, UBSAN, KFENCE, SLUB debug's "BUG kmalloc-64 (Not
# tainted): Poison overwritten", kmemleak's "unreferenced object" (printed when
# its verbose parameter is on) and kmemleak disabling itself, hung tasks, RCU
# stalls, list corruption, ODEBUG, workqueue lockups.
grep -E '\[ *[0-9]+\.[0-9]{6}\] .*(Oops|BUG:|WARNING:|kernel BUG|BUG [^ ]+ \((Not t|T)ainted|general protection fault|KASAN|UBSAN|KFENCE|possible circular locking|possible recursive locking|inconsistent lock state|suspicious RCU usage|lockdep is turned off|INFO: task .* blocked|rcu_sched self-detected stall|rcu: INFO|unreferenced object|kmemleak: .*disabled|Kernel panic|refcount_t:|list_(add|del) corruption|ODEBUG|workqueue lockup)' "$1" |
	grep -v 'Lockdep is' | sort -u
exit 0
