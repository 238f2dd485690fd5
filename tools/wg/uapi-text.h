/* SPDX-License-Identifier: GPL-2.0 */
#ifndef WG_UAPI_TEXT_H
#define WG_UAPI_TEXT_H

#include <stddef.h>
#include "containers.h"

/* Parses a `get=1' reply (key=value lines ending with an empty line).
 * Returns 0, the negated errno=N of the reply, or -EPROTO on nonsense. */
int uapi_parse_get(struct wg_device *dev, const char *text, size_t len);
/* Parses a `set=1' reply: 0 or the negated errno. */
int uapi_parse_errno(const char *text, size_t len);
/* Builds the `set=1' request for dev (malloc'd, NUL-terminated). */
char *uapi_build_set(const struct wg_device *dev, size_t *len);

#endif
