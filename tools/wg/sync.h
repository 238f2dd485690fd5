/* SPDX-License-Identifier: GPL-2.0 */
#ifndef WG_SYNC_H
#define WG_SYNC_H

#include <stdbool.h>
#include "containers.h"

enum sync_mode {
	SYNC_SETCONF,	/* end state = file; unmentioned PSK/keepalive reset */
	SYNC_SYNCCONF,	/* like upstream syncconf: missing key/fwmark = none */
	SYNC_ADDCONF,	/* peers not in the file stay */
	SYNC_SET,	/* `wg set' too large for one message */
};

/*
 * The incremental engine.  Given the running state cur and the wanted
 * change want (as parsed from a file or from `wg set'), writes into out a
 * change that reaches the same end state as applying want with upstream's
 * REPLACE semantics, using only additions and removals: whatever is both
 * before and after is never removed in between.  With can_remove false,
 * a peer that must lose prefixes gets REPLACE_ALLOWEDIPS instead (the
 * upstream behaviour).  Returns how many single-prefix removals out has.
 */
size_t sync_compute(struct wg_device *out, const struct wg_device *cur, const struct wg_device *want,
		    enum sync_mode mode, bool can_remove);

/* Canonical order of prefixes (family, masked address, length). */
int allowedip_cmp(const struct wg_allowedip *a, const struct wg_allowedip *b);
/* Clears host bits beyond cidr, as the kernel stores prefixes. */
void allowedip_mask(struct wg_allowedip *ip);

#endif
