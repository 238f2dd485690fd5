// SPDX-License-Identifier: GPL-2.0
/*
 * MAC1, MAC2 and cookie replies (whitepaper section 5.4.4 and 5.4.7).
 *
 * MAC(key, data) is keyed BLAKE2s with a 16-byte output.  mac1 is keyed by
 * HASH("mac1----" || receiver's public key), so that only messages meant
 * for us cost us a handshake.  Under load we answer with a cookie (a MAC
 * of the sender's address under a secret that changes every two minutes),
 * encrypted under HASH("cookie--" || our public key) and bound to the mac1
 * it answers; the sender keys mac2 with it from then on, which proves it
 * owns its address.
 *
 * Everything here runs in process context (handshake workers).
 */
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/random.h>
#include <linux/udp.h>
#include <crypto/algapi.h>

#include "cookie.h"
#include "device.h"
#include "messages.h"
#include "peer.h"
#include "peerlookup.h"
#include "ratelimiter.h"
#include "timers.h"

/* Both labels are 8 bytes; their NULs are not part of them. */
#define LABEL_LEN 8
static const u8 label_mac1[LABEL_LEN + 1] = "mac1----";
static const u8 label_cookie[LABEL_LEN + 1] = "cookie--";

/* key = HASH(label || public key) */
static void derive_key(u8 key[NOISE_SYMMETRIC_KEY_LEN], const u8 *label,
		       const u8 public_key[NOISE_PUBLIC_KEY_LEN])
{
	struct blake2s_ctx state;

	blake2s_init(&state, NOISE_SYMMETRIC_KEY_LEN);
	blake2s_update(&state, label, LABEL_LEN);
	blake2s_update(&state, public_key, NOISE_PUBLIC_KEY_LEN);
	blake2s_final(&state, key);
}

void wg_cookie_checker_init(struct cookie_checker *checker,
			    struct wg_device *wg)
{
	init_rwsem(&checker->secret_lock);
	checker->secret_birthdate = ktime_get_coarse_boottime_ns();
	get_random_bytes(checker->secret, NOISE_HASH_LEN);
	memset(checker->cookie_encryption_key, 0, NOISE_SYMMETRIC_KEY_LEN);
	memset(checker->message_mac1_key, 0, NOISE_SYMMETRIC_KEY_LEN);
	checker->device = wg;
}

void wg_cookie_checker_precompute_device_keys(struct cookie_checker *checker)
{
	struct noise_static_identity *identity =
		&checker->device->static_identity;

	down_read(&identity->lock);
	if (identity->has_identity) {
		derive_key(checker->cookie_encryption_key, label_cookie,
			   identity->static_public);
		derive_key(checker->message_mac1_key, label_mac1,
			   identity->static_public);
	} else {
		/* Without a key nothing can be for us; nothing will match. */
		memset(checker->cookie_encryption_key, 0,
		       NOISE_SYMMETRIC_KEY_LEN);
		memset(checker->message_mac1_key, 0, NOISE_SYMMETRIC_KEY_LEN);
	}
	up_read(&identity->lock);
}

void wg_cookie_checker_precompute_peer_keys(struct wg_peer *peer)
{
	struct cookie *cookie = &peer->latest_cookie;

	down_write(&cookie->lock);
	derive_key(cookie->cookie_decryption_key, label_cookie,
		   peer->handshake.remote_static);
	derive_key(cookie->message_mac1_key, label_mac1,
		   peer->handshake.remote_static);
	up_write(&cookie->lock);
}

void wg_cookie_init(struct cookie *cookie)
{
	memset(cookie, 0, sizeof(*cookie));
	init_rwsem(&cookie->lock);
}

/* mac1 covers the message up to itself ... */
static void compute_mac1(u8 mac1[COOKIE_LEN], const void *message, size_t len,
			 const u8 key[NOISE_SYMMETRIC_KEY_LEN])
{
	len -= sizeof(struct message_macs);
	blake2s(key, NOISE_SYMMETRIC_KEY_LEN, message, len, mac1, COOKIE_LEN);
}

/* ... and mac2 up to itself, mac1 included. */
static void compute_mac2(u8 mac2[COOKIE_LEN], const void *message, size_t len,
			 const u8 cookie[COOKIE_LEN])
{
	len -= sizeof_field(struct message_macs, mac2);
	blake2s(cookie, COOKIE_LEN, message, len, mac2, COOKIE_LEN);
}

static struct message_macs *macs_of(void *message, size_t len)
{
	return message + len - sizeof(struct message_macs);
}

/* The checker's secret, replaced once it is too old. */
static void refresh_secret(struct cookie_checker *checker)
{
	if (!wg_birthdate_has_expired(READ_ONCE(checker->secret_birthdate),
				      COOKIE_SECRET_MAX_AGE))
		return;
	down_write(&checker->secret_lock);
	/* Another worker may have done it while we waited. */
	if (wg_birthdate_has_expired(checker->secret_birthdate,
				     COOKIE_SECRET_MAX_AGE)) {
		get_random_bytes(checker->secret, NOISE_HASH_LEN);
		WRITE_ONCE(checker->secret_birthdate,
			   ktime_get_coarse_boottime_ns());
	}
	up_write(&checker->secret_lock);
}

/* cookie = MAC(secret, source address || source port) */
static void make_cookie(u8 cookie[COOKIE_LEN], struct sk_buff *skb,
			struct cookie_checker *checker)
{
	struct blake2s_ctx state;

	refresh_secret(checker);

	down_read(&checker->secret_lock);
	blake2s_init_key(&state, COOKIE_LEN, checker->secret, NOISE_HASH_LEN);
	if (skb->protocol == htons(ETH_P_IP))
		blake2s_update(&state, (const u8 *)&ip_hdr(skb)->saddr,
			       sizeof(struct in_addr));
	else if (skb->protocol == htons(ETH_P_IPV6))
		blake2s_update(&state, (const u8 *)&ipv6_hdr(skb)->saddr,
			       sizeof(struct in6_addr));
	blake2s_update(&state, (const u8 *)&udp_hdr(skb)->source,
		       sizeof(udp_hdr(skb)->source));
	blake2s_final(&state, cookie);
	up_read(&checker->secret_lock);
}

enum cookie_mac_state wg_cookie_validate_packet(struct cookie_checker *checker,
						struct sk_buff *skb,
						bool check_cookie)
{
	struct message_macs *macs;
	u8 computed[COOKIE_LEN];
	u8 cookie[COOKIE_LEN];
	enum cookie_mac_state state = INVALID_MAC;

	if (unlikely(skb->len < sizeof(struct message_header) + sizeof(*macs)))
		return INVALID_MAC;
	macs = macs_of(skb->data, skb->len);

	compute_mac1(computed, skb->data, skb->len, checker->message_mac1_key);
	if (crypto_memneq(computed, macs->mac1, COOKIE_LEN))
		goto out;
	state = VALID_MAC_BUT_NO_COOKIE;
	if (!check_cookie)
		goto out;

	make_cookie(cookie, skb, checker);
	compute_mac2(computed, skb->data, skb->len, cookie);
	if (crypto_memneq(computed, macs->mac2, COOKIE_LEN))
		goto out;

	state = VALID_MAC_WITH_COOKIE_BUT_RATELIMITED;
	if (wg_ratelimiter_allow(skb, dev_net(checker->device->dev)))
		state = VALID_MAC_WITH_COOKIE;
out:
	memzero_explicit(cookie, sizeof(cookie));
	return state;
}

void wg_cookie_add_mac_to_packet(void *message, size_t len,
				 struct wg_peer *peer)
{
	struct message_macs *macs = macs_of(message, len);
	struct cookie *cookie = &peer->latest_cookie;

	down_write(&cookie->lock);
	compute_mac1(macs->mac1, message, len, cookie->message_mac1_key);
	/* A cookie reply to this message will be bound to this mac1. */
	memcpy(cookie->last_mac1_sent, macs->mac1, COOKIE_LEN);
	cookie->have_sent_mac1 = true;

	/* The receiver may rotate its secret soon: stop a little before. */
	if (cookie->is_valid &&
	    !wg_birthdate_has_expired(cookie->birthdate,
				      COOKIE_SECRET_MAX_AGE -
				      COOKIE_SECRET_LATENCY))
		compute_mac2(macs->mac2, message, len, cookie->cookie);
	else
		memset(macs->mac2, 0, COOKIE_LEN);
	up_write(&cookie->lock);
}

void wg_cookie_message_create(struct message_handshake_cookie *dst,
			      struct sk_buff *skb, __le32 index,
			      struct cookie_checker *checker)
{
	struct message_macs *macs = macs_of(skb->data, skb->len);
	u8 cookie[COOKIE_LEN];

	dst->header.type = cpu_to_le32(MESSAGE_HANDSHAKE_COOKIE);
	dst->receiver_index = index;
	get_random_bytes(dst->nonce, COOKIE_NONCE_LEN);

	make_cookie(cookie, skb, checker);
	xchacha20poly1305_encrypt(dst->encrypted_cookie, cookie, COOKIE_LEN,
				  macs->mac1, COOKIE_LEN, dst->nonce,
				  checker->cookie_encryption_key);
	memzero_explicit(cookie, sizeof(cookie));
}

/* Decrypts a reply if it answers the last message we sent the peer. */
static bool cookie_open(struct message_handshake_cookie *src,
			struct cookie *cookie, u8 plain[COOKIE_LEN])
{
	bool ok;

	down_read(&cookie->lock);
	ok = cookie->have_sent_mac1 &&
	     xchacha20poly1305_decrypt(plain, src->encrypted_cookie,
				       sizeof(src->encrypted_cookie),
				       cookie->last_mac1_sent, COOKIE_LEN,
				       src->nonce,
				       cookie->cookie_decryption_key);
	up_read(&cookie->lock);
	return ok;
}

void wg_cookie_message_consume(struct message_handshake_cookie *src,
			       struct wg_device *wg)
{
	struct cookie *cookie;
	struct wg_peer *peer;
	u8 plain[COOKIE_LEN];

	if (!wg_index_hashtable_lookup(wg->index_hashtable,
				       INDEX_HASHTABLE_HANDSHAKE |
				       INDEX_HASHTABLE_KEYPAIR,
				       src->receiver_index, &peer))
		return;
	cookie = &peer->latest_cookie;

	if (cookie_open(src, cookie, plain)) {
		down_write(&cookie->lock);
		memcpy(cookie->cookie, plain, COOKIE_LEN);
		cookie->birthdate = ktime_get_coarse_boottime_ns();
		cookie->is_valid = true;
		/* One reply per message: a second one is a replay. */
		cookie->have_sent_mac1 = false;
		up_write(&cookie->lock);
	} else {
		net_dbg_ratelimited("%s: invalid cookie reply for peer %llu\n",
				    wg->dev->name, peer->internal_id);
	}
	memzero_explicit(plain, sizeof(plain));
	wg_peer_put(peer);
}
