// SPDX-License-Identifier: GPL-2.0
/*
 * MACs and cookies of handshake messages (see cookie.h).
 *
 *   mac1   = MAC(HASH("mac1----" || receiver's public key), msg up to mac1)
 *   mac2   = MAC(cookie, msg up to mac2)
 *   cookie = MAC(secret, source IP address || source UDP port)
 *   reply  = XAEAD(HASH("cookie--" || replier's public key), random nonce,
 *                  cookie, mac1 of the message answered)
 *
 * MAC is keyed BLAKE2s with a 16-byte output.  Everything here runs in the
 * handshake workers; the locks are spinlocks because nothing under them is
 * longer than one BLAKE2s or one 16-byte AEAD.
 */
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/random.h>
#include <linux/timekeeping.h>
#include <linux/udp.h>
#include <crypto/algapi.h>

#include "cookie.h"
#include "device.h"
#include "peer.h"
#include "peerlookup.h"
#include "ratelimiter.h"

static bool older_than(u64 then_ns, unsigned int seconds)
{
	return ktime_get_coarse_boottime_ns() - then_ns >
	       (u64)seconds * NSEC_PER_SEC;
}

/* HASH(label || public key), the label without its NUL. */
static void hash_label_key(u8 out[NOISE_SYMMETRIC_KEY_LEN], const char *label,
			   const u8 public_key[NOISE_PUBLIC_KEY_LEN])
{
	struct blake2s_ctx hash;

	blake2s_init(&hash, NOISE_SYMMETRIC_KEY_LEN);
	blake2s_update(&hash, label, strlen(label));
	blake2s_update(&hash, public_key, NOISE_PUBLIC_KEY_LEN);
	blake2s_final(&hash, out);
}

void wg_cookie_keys_derive(struct wg_cookie_keys *keys,
			   const u8 public_key[NOISE_PUBLIC_KEY_LEN])
{
	hash_label_key(keys->mac1, "mac1----", public_key);
	hash_label_key(keys->cookie, "cookie--", public_key);
}

/*
 * Where a message's MACs start, and how much of it each covers: mac1 all
 * before it, mac2 all before it, mac1 included.
 */
static struct message_macs *macs_of(const void *message, size_t len)
{
	return (struct message_macs *)(message + len - sizeof(struct message_macs));
}

static void mac_over(u8 mac[COOKIE_LEN], const void *message, size_t covered,
		     const u8 *key, size_t key_len)
{
	blake2s(key, key_len, message, covered, mac, COOKIE_LEN);
}

static void mac1_of(u8 mac1[COOKIE_LEN], const void *message, size_t len,
		    const struct wg_cookie_keys *receiver)
{
	mac_over(mac1, message, len - sizeof(struct message_macs),
		 receiver->mac1, NOISE_SYMMETRIC_KEY_LEN);
}

static void mac2_of(u8 mac2[COOKIE_LEN], const void *message, size_t len,
		    const u8 cookie[COOKIE_LEN])
{
	mac_over(mac2, message, len - COOKIE_LEN, cookie, COOKIE_LEN);
}

/* The device's side. */

void wg_cookie_mint_init(struct wg_cookie_mint *mint)
{
	spin_lock_init(&mint->lock);
	mint->drawn_at = 0;
	memset(mint->secret, 0, sizeof(mint->secret));
}

/* The cookie of the source address of @skb, under a secret young enough. */
static void mint_cookie(struct wg_cookie_mint *mint, struct sk_buff *skb,
			u8 cookie[COOKIE_LEN])
{
	__be16 port = udp_hdr(skb)->source;
	struct blake2s_ctx mac;

	spin_lock_bh(&mint->lock);
	if (!mint->drawn_at || older_than(mint->drawn_at, COOKIE_SECRET_MAX_AGE)) {
		get_random_bytes(mint->secret, sizeof(mint->secret));
		mint->drawn_at = ktime_get_coarse_boottime_ns();
	}
	blake2s_init_key(&mac, COOKIE_LEN, mint->secret, sizeof(mint->secret));
	spin_unlock_bh(&mint->lock);

	if (skb->protocol == htons(ETH_P_IP))
		blake2s_update(&mac, (u8 *)&ip_hdr(skb)->saddr,
			       sizeof(struct in_addr));
	else
		blake2s_update(&mac, (u8 *)&ipv6_hdr(skb)->saddr,
			       sizeof(struct in6_addr));
	blake2s_update(&mac, (u8 *)&port, sizeof(port));
	blake2s_final(&mac, cookie);
}

/* mac1 against the device's key, under the identity's lock. */
static bool mac1_is_ours(struct wg_device *wg, struct sk_buff *skb)
{
	struct noise_static_identity *identity = &wg->static_identity;
	u8 expected[COOKIE_LEN];
	bool ok;

	down_read(&identity->lock);
	ok = identity->has_identity;
	if (ok)
		mac1_of(expected, skb->data, skb->len, &identity->cookie_keys);
	up_read(&identity->lock);
	return ok && !crypto_memneq(expected, macs_of(skb->data, skb->len)->mac1,
				    COOKIE_LEN);
}

static bool mac2_is_good(struct wg_device *wg, struct sk_buff *skb)
{
	u8 cookie[COOKIE_LEN], expected[COOKIE_LEN];
	bool ok;

	mint_cookie(&wg->cookie_mint, skb, cookie);
	mac2_of(expected, skb->data, skb->len, cookie);
	ok = !crypto_memneq(expected, macs_of(skb->data, skb->len)->mac2,
			    COOKIE_LEN);
	memzero_explicit(cookie, sizeof(cookie));
	return ok;
}

enum wg_mac_verdict wg_cookie_check(struct wg_device *wg, struct sk_buff *skb,
				    bool under_load)
{
	if (unlikely(skb->len < sizeof(struct message_header) +
				sizeof(struct message_macs)))
		return WG_MACS_REJECT;
	if (!mac1_is_ours(wg, skb))
		return WG_MACS_REJECT;
	if (!under_load)
		return WG_MACS_ACCEPT;
	if (!mac2_is_good(wg, skb))
		return WG_MACS_NEED_COOKIE;
	/* The source is proven; it still gets only its share of our time. */
	if (!wg_ratelimiter_allow(skb, dev_net(wg->dev)))
		return WG_MACS_REJECT;
	return WG_MACS_ACCEPT;
}

void wg_cookie_reply_build(struct wg_device *wg,
			   struct message_handshake_cookie *reply,
			   struct sk_buff *skb, __le32 index)
{
	struct noise_static_identity *identity = &wg->static_identity;
	const u8 *mac1 = macs_of(skb->data, skb->len)->mac1;
	u8 cookie[COOKIE_LEN];

	reply->header.type = cpu_to_le32(MESSAGE_HANDSHAKE_COOKIE);
	reply->receiver_index = index;
	get_random_bytes(reply->nonce, sizeof(reply->nonce));
	mint_cookie(&wg->cookie_mint, skb, cookie);

	down_read(&identity->lock);
	xchacha20poly1305_encrypt(reply->encrypted_cookie, cookie, COOKIE_LEN,
				  mac1, COOKIE_LEN, reply->nonce,
				  identity->cookie_keys.cookie);
	up_read(&identity->lock);
	memzero_explicit(cookie, sizeof(cookie));
}

/* A peer's side. */

void wg_peer_cookie_init(struct wg_peer_cookie *cookie,
			 const u8 peer_public_key[NOISE_PUBLIC_KEY_LEN])
{
	memset(cookie, 0, sizeof(*cookie));
	spin_lock_init(&cookie->lock);
	wg_cookie_keys_derive(&cookie->keys, peer_public_key);
}

/* The peer redraws its secret every COOKIE_SECRET_MAX_AGE: stop early. */
static bool cookie_is_fresh(const struct wg_peer_cookie *cookie)
{
	return cookie->received_at &&
	       !older_than(cookie->received_at,
			   COOKIE_SECRET_MAX_AGE - COOKIE_SECRET_LATENCY);
}

void wg_cookie_stamp(struct wg_peer_cookie *cookie, void *message, size_t len)
{
	struct message_macs *macs = macs_of(message, len);

	mac1_of(macs->mac1, message, len, &cookie->keys);

	spin_lock_bh(&cookie->lock);
	memcpy(cookie->last_mac1, macs->mac1, COOKIE_LEN);
	cookie->reply_expected = true;
	if (cookie_is_fresh(cookie))
		mac2_of(macs->mac2, message, len, cookie->value);
	else
		memset(macs->mac2, 0, COOKIE_LEN);
	spin_unlock_bh(&cookie->lock);
}

/* Opens @reply if it answers the last message we stamped; under the lock. */
static bool reply_open(struct wg_peer_cookie *cookie,
		       const struct message_handshake_cookie *reply,
		       u8 value[COOKIE_LEN])
{
	return cookie->reply_expected &&
	       xchacha20poly1305_decrypt(value, reply->encrypted_cookie,
					 sizeof(reply->encrypted_cookie),
					 cookie->last_mac1, COOKIE_LEN,
					 reply->nonce, cookie->keys.cookie);
}

void wg_cookie_reply_take(struct wg_device *wg,
			  const struct message_handshake_cookie *reply)
{
	struct wg_peer_cookie *cookie;
	u8 value[COOKIE_LEN];
	struct wg_peer *peer;
	bool taken;

	if (!wg_index_find(wg->directory, reply->receiver_index,
			   WG_INDEX_HANDSHAKE | WG_INDEX_SESSION, &peer))
		return;
	cookie = &peer->cookie;

	spin_lock_bh(&cookie->lock);
	taken = reply_open(cookie, reply, value);
	if (taken) {
		memcpy(cookie->value, value, COOKIE_LEN);
		cookie->received_at = ktime_get_coarse_boottime_ns();
		/* One reply per message: another one is a replay. */
		cookie->reply_expected = false;
	}
	spin_unlock_bh(&cookie->lock);

	if (!taken)
		net_dbg_ratelimited("%s: invalid cookie reply for peer %llu\n",
				    wg->dev->name, peer->internal_id);
	memzero_explicit(value, sizeof(value));
	wg_peer_put(peer);
}
