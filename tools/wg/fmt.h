/* SPDX-License-Identifier: GPL-2.0 */
#ifndef WG_FMT_H
#define WG_FMT_H

#include <stddef.h>
#include <stdint.h>
#include "containers.h"

/* Text helpers shared by show and showconf; all write into buf (size n)
 * and return it.  Colour escapes are included; terminal_printf drops
 * them when colour is off. */
char *fmt_ago(char *buf, size_t n, int64_t then, int64_t now);
char *fmt_bytes(char *buf, size_t n, uint64_t bytes);
char *fmt_every(char *buf, size_t n, uint16_t seconds);
char *fmt_endpoint(char *buf, size_t n, const union wg_endpoint *ep);
/* "10.0.0.0/24"; with colour, the slash is cyan. */
char *fmt_allowedip(char *buf, size_t n, const struct wg_allowedip *ip, int colour);

#endif
