/* SPDX-License-Identifier: GPL-2.0 */
#ifndef WG_APPLY_H
#define WG_APPLY_H

#include "containers.h"
#include "sync.h"

extern const char removal_unsupported_msg[];
/* Reads the running state of want->name, computes the incremental change
 * with the sync engine (probing removal support when it is needed) and
 * applies it.  Returns the process exit status, having reported errors. */
int apply_incremental(const struct wg_device *want, enum sync_mode mode);
/* Makes sure single-prefix removal works; 0 if so, else exit status. */
int require_removal_support(const char *name);

#endif
