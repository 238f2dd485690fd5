#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# scan-log.sh LOG: print the kernel's bug reports found in a console log
# (nothing when it is clean).  Only kernel lines count: they carry a printk
# timestamp, so a test that prints these words itself does not trip it.
grep -E '^\[ *[0-9]+\.[0-9]+\] .*(Oops|BUG:|WARNING:|kernel BUG|general protection fault|KASAN|UBSAN|KFENCE|possible circular locking|possible recursive locking|inconsistent lock state|suspicious RCU usage|lockdep|INFO: task .* blocked|rcu_sched self-detected stall|rcu: INFO|unreferenced object|Kernel panic|refcount_t:|list_(add|del) corruption|ODEBUG|workqueue lockup)' "$1" |
	grep -v 'Lockdep is' | sort -u
exit 0
