/* SPDX-License-Identifier: GPL-2.0 */
/*
 * MAC1, MAC2 and cookie replies (whitepaper section 5.4.4 and 5.4.7): every
 * handshake message carries mac1, keyed by the receiver's public key; under
 * load the receiver answers with a cookie, encrypted to the sender, that the
 * sender must use as the key of mac2 from then on.
 */
#ifndef _WG_COOKIE_H
#define _WG_COOKIE_H

#include <linux/rwsem.h>

#include "messages.h"

struct wg_peer;
struct wg_device;

/* The device's side: verifying what comes in, making cookies. */
struct cookie_checker {
	u8 secret[NOISE_HASH_LEN];		/* rotated every 2 minutes */
	u8 cookie_encryption_key[NOISE_SYMMETRIC_KEY_LEN];
	u8 message_mac1_key[NOISE_SYMMETRIC_KEY_LEN];
	u64 secret_birthdate;
	struct rw_semaphore secret_lock;
	struct wg_device *device;
};

/* A peer's side: the cookie it last gave us, and the keys to talk to it. */
struct cookie {
	u64 birthdate;
	bool is_valid;
	u8 cookie[COOKIE_LEN];
	bool have_sent_mac1;
	u8 last_mac1_sent[COOKIE_LEN];
	u8 cookie_decryption_key[NOISE_SYMMETRIC_KEY_LEN];
	u8 message_mac1_key[NOISE_SYMMETRIC_KEY_LEN];
	struct rw_semaphore lock;
};

enum cookie_mac_state {
	INVALID_MAC,
	VALID_MAC_BUT_NO_COOKIE,
	VALID_MAC_WITH_COOKIE_BUT_RATELIMITED,
	VALID_MAC_WITH_COOKIE
};

void wg_cookie_checker_init(struct cookie_checker *checker,
			    struct wg_device *wg);
/* After the device's key changed. */
void wg_cookie_checker_precompute_device_keys(struct cookie_checker *checker);
/* After a peer was created (its keys derive from its public key). */
void wg_cookie_checker_precompute_peer_keys(struct wg_peer *peer);
void wg_cookie_init(struct cookie *cookie);

/*
 * Checks the MACs of the handshake message at skb->data (the outer IP and
 * UDP headers are still there for the source address).  With
 * @check_cookie (the device is under load) mac2 must be valid too, and
 * the source must pass the rate limiter.
 */
enum cookie_mac_state wg_cookie_validate_packet(struct cookie_checker *checker,
						struct sk_buff *skb,
						bool check_cookie);
/* Fills the macs of an outgoing handshake message of @len bytes. */
void wg_cookie_add_mac_to_packet(void *message, size_t len,
				 struct wg_peer *peer);
/* A cookie reply to the handshake message in @skb, naming @index. */
void wg_cookie_message_create(struct message_handshake_cookie *dst,
			      struct sk_buff *skb, __le32 index,
			      struct cookie_checker *checker);
/* Takes a cookie reply in: the peer it is for will use it for mac2. */
void wg_cookie_message_consume(struct message_handshake_cookie *src,
			       struct wg_device *wg);

#endif /* _WG_COOKIE_H */
