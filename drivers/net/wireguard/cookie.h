/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The handshake's denial-of-service defence (whitepaper 5.3 and 5.4.4-5.4.7).
 *
 * Every handshake message ends in mac1, keyed by its receiver's public key,
 * and mac2, keyed by a cookie the receiver gave the sender.  A device under
 * load accepts only messages whose mac2 proves the sender owns its source
 * address; to the others it answers with a cookie reply.
 *
 * Three pieces, each with its own lock and lifetime:
 *  - struct wg_cookie_keys: the two keys a public key implies.  The
 *    device's live in its static identity (noise.h) and change with it
 *    under the identity's lock; a peer's never change.
 *  - struct wg_cookie_mint: the device's secret, from which it mints a
 *    cookie per source address; redrawn every COOKIE_SECRET_MAX_AGE.
 *  - struct wg_peer_cookie: what a peer needs to stamp our messages to it
 *    and to open its cookie replies.
 */
#ifndef _WG_COOKIE_H
#define _WG_COOKIE_H

#include <linux/spinlock.h>

#include "messages.h"

struct wg_device;

/* HASH("mac1----" || public key) and HASH("cookie--" || public key). */
struct wg_cookie_keys {
	u8 mac1[NOISE_SYMMETRIC_KEY_LEN];
	u8 cookie[NOISE_SYMMETRIC_KEY_LEN];
};

void wg_cookie_keys_derive(struct wg_cookie_keys *keys,
			   const u8 public_key[NOISE_PUBLIC_KEY_LEN]);

struct wg_cookie_mint {
	spinlock_t lock;		/* drawn_at and secret */
	u64 drawn_at;			/* boottime ns; 0 before the first */
	u8 secret[NOISE_HASH_LEN];
};

void wg_cookie_mint_init(struct wg_cookie_mint *mint);

struct wg_peer_cookie {
	struct wg_cookie_keys keys;	/* the peer's; fixed */

	spinlock_t lock;		/* for the rest */
	/* A reply is bound to the mac1 it answers: only the last one counts. */
	u8 last_mac1[COOKIE_LEN];
	bool reply_expected;
	/* The cookie the peer gave us, and when: mac2's key until it ages. */
	u8 value[COOKIE_LEN];
	u64 received_at;		/* boottime ns; 0: none */
};

void wg_peer_cookie_init(struct wg_peer_cookie *cookie,
			 const u8 peer_public_key[NOISE_PUBLIC_KEY_LEN]);

/* What to do with an incoming handshake message, by its MACs. */
enum wg_mac_verdict {
	WG_MACS_REJECT,		/* drop it (bad mac1, or rate limited) */
	WG_MACS_ACCEPT,		/* process it */
	WG_MACS_NEED_COOKIE,	/* under load without a good mac2: answer */
};

/*
 * Checks the MACs of the handshake message at skb->data (the outer IP and
 * UDP headers still in front of it name the source).  Under load, mac2
 * must be good and the source within the rate limit too.
 */
enum wg_mac_verdict wg_cookie_check(struct wg_device *wg, struct sk_buff *skb,
				    bool under_load);
/* Fills mac1 and mac2 of our handshake message of @len bytes to a peer. */
void wg_cookie_stamp(struct wg_peer_cookie *cookie, void *message, size_t len);
/* The cookie reply to the message in @skb, whose sender calls it @index. */
void wg_cookie_reply_build(struct wg_device *wg,
			   struct message_handshake_cookie *reply,
			   struct sk_buff *skb, __le32 index);
/* A cookie reply came in: its peer keys mac2 with it from now on. */
void wg_cookie_reply_take(struct wg_device *wg,
			  const struct message_handshake_cookie *reply);

#endif /* _WG_COOKIE_H */
