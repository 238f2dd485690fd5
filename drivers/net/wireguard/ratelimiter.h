/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Limits how many handshake messages one source may make us process: a token
 * bucket per source IPv4 address, or per IPv6 /64, per network namespace.
 */
#ifndef _WG_RATELIMITER_H
#define _WG_RATELIMITER_H

#include <linux/skbuff.h>

/* Reference counted: every device takes one while it exists. */
int wg_ratelimiter_init(void);
void wg_ratelimiter_uninit(void);
/* Whether the handshake in @skb (outer headers present) may be processed. */
bool wg_ratelimiter_allow(struct sk_buff *skb, struct net *net);

#ifdef CONFIG_WIREGUARD_DEBUG
bool wg_ratelimiter_selftest(void);
#endif

#endif /* _WG_RATELIMITER_H */
