// SPDX-License-Identifier: GPL-2.0
/*
 * Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s (see noise.h for the locks).
 *
 * Laid out like the whitepaper: its primitives (HASH, HMAC, KDF_n, DH,
 * AEAD), Noise's symmetric-state operations on top of them, then each
 * handshake message as the sequence of its tokens (e, es, s, ss, ee, se,
 * psk, payload), and last the sessions and their replay window.
 */
#include <linux/bitops.h>
#include <linux/ktime.h>
#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/timekeeping.h>
#include <crypto/algapi.h>

#include "device.h"
#include "noise.h"
#include "peer.h"
#include "peerlookup.h"

/* Primitives. */

/* HMAC (RFC 2104) over BLAKE2s, keyed with one of our 32-byte keys. */
static void hmac(u8 out[NOISE_HASH_LEN], const u8 key[NOISE_HASH_LEN],
		 const u8 *a, size_t a_len, const u8 *b, size_t b_len)
{
	u8 padded[BLAKE2S_BLOCK_SIZE], inner[NOISE_HASH_LEN];
	struct blake2s_ctx hash;
	int i;

	for (i = 0; i < BLAKE2S_BLOCK_SIZE; ++i)
		padded[i] = (i < NOISE_HASH_LEN ? key[i] : 0) ^ 0x36;
	blake2s_init(&hash, NOISE_HASH_LEN);
	blake2s_update(&hash, padded, sizeof(padded));
	blake2s_update(&hash, a, a_len);
	blake2s_update(&hash, b, b_len);
	blake2s_final(&hash, inner);

	for (i = 0; i < BLAKE2S_BLOCK_SIZE; ++i)
		padded[i] ^= 0x36 ^ 0x5c;
	blake2s_init(&hash, NOISE_HASH_LEN);
	blake2s_update(&hash, padded, sizeof(padded));
	blake2s_update(&hash, inner, sizeof(inner));
	blake2s_final(&hash, out);

	memzero_explicit(padded, sizeof(padded));
	memzero_explicit(inner, sizeof(inner));
}

/*
 * KDF_n(key, input) of the whitepaper, which is HKDF (RFC 5869) without
 * salt or info: PRK = HMAC(key, input), T_i = HMAC(PRK, T_(i-1) || i).
 * out[0] may be @key itself.
 */
static void kdf(u8 *out[], int n, const u8 key[NOISE_HASH_LEN],
		const u8 *input, size_t input_len)
{
	u8 prk[NOISE_HASH_LEN], t[NOISE_HASH_LEN];
	u8 i;

	hmac(prk, key, input, input_len, NULL, 0);
	for (i = 1; i <= n; ++i) {
		hmac(t, prk, t, i == 1 ? 0 : NOISE_HASH_LEN, &i, 1);
		memcpy(out[i - 1], t, NOISE_HASH_LEN);
	}
	memzero_explicit(prk, sizeof(prk));
	memzero_explicit(t, sizeof(t));
}

/* The symmetric state (Noise section 5.2). */

static const u8 construction[] = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
static const u8 identifier[] = "WireGuard v1 zx2c4 Jason@zx2c4.com";

/* C_i = HASH(construction) and H_i = HASH(C_i || identifier). */
static struct noise_symmetric_state protocol_start __ro_after_init;

static void mix_hash(struct noise_symmetric_state *s, const u8 *data,
		     size_t len)
{
	struct blake2s_ctx hash;

	blake2s_init(&hash, NOISE_HASH_LEN);
	blake2s_update(&hash, s->hash, NOISE_HASH_LEN);
	blake2s_update(&hash, data, len);
	blake2s_final(&hash, s->hash);
}

void __init wg_noise_init(void)
{
	struct noise_symmetric_state *s = &protocol_start;

	/* The strings go in without their NULs. */
	blake2s(NULL, 0, construction, sizeof(construction) - 1,
		s->chaining_key, NOISE_HASH_LEN);
	memcpy(s->hash, s->chaining_key, NOISE_HASH_LEN);
	mix_hash(s, identifier, sizeof(identifier) - 1);
}

/* Every handshake starts from there, bound to the responder's key. */
static void initialize_symmetric(struct noise_symmetric_state *s,
				 const u8 responder_static[NOISE_PUBLIC_KEY_LEN])
{
	*s = protocol_start;
	mix_hash(s, responder_static, NOISE_PUBLIC_KEY_LEN);
}

/* (ck, k) = KDF2(ck, input) */
static void mix_key(struct noise_symmetric_state *s, const u8 *input,
		    size_t len)
{
	u8 *out[] = { s->chaining_key, s->key };

	kdf(out, ARRAY_SIZE(out), s->chaining_key, input, len);
}

/* (ck, tau, k) = KDF3(ck, psk); h = HASH(h || tau) */
static void mix_key_and_hash(struct noise_symmetric_state *s,
			     const u8 psk[NOISE_SYMMETRIC_KEY_LEN])
{
	u8 tau[NOISE_HASH_LEN];
	u8 *out[] = { s->chaining_key, tau, s->key };

	kdf(out, ARRAY_SIZE(out), s->chaining_key, psk,
	    NOISE_SYMMETRIC_KEY_LEN);
	mix_hash(s, tau, sizeof(tau));
	memzero_explicit(tau, sizeof(tau));
}

/* Each k encrypts one message only: the nonce is always 0. */
static void encrypt_and_hash(struct noise_symmetric_state *s, u8 *dst,
			     const u8 *plain, size_t plain_len)
{
	chacha20poly1305_encrypt(dst, plain, plain_len, s->hash,
				 NOISE_HASH_LEN, 0, s->key);
	mix_hash(s, dst, noise_encrypted_len(plain_len));
}

static bool __must_check decrypt_and_hash(struct noise_symmetric_state *s,
					  u8 *dst, const u8 *src,
					  size_t src_len)
{
	if (!chacha20poly1305_decrypt(dst, src, src_len, s->hash,
				      NOISE_HASH_LEN, 0, s->key))
		return false;
	mix_hash(s, src, src_len);
	return true;
}

/* (T_initiator->responder, T_responder->initiator) = KDF2(ck, empty) */
static void split(const struct noise_symmetric_state *s,
		  u8 initiator_to_responder[NOISE_SYMMETRIC_KEY_LEN],
		  u8 responder_to_initiator[NOISE_SYMMETRIC_KEY_LEN])
{
	u8 *out[] = { initiator_to_responder, responder_to_initiator };

	kdf(out, ARRAY_SIZE(out), s->chaining_key, NULL, 0);
}

/* The tokens. */

/* e, received: in a psk handshake it feeds the chaining key too. */
static void read_e(struct noise_symmetric_state *s,
		   const u8 ephemeral[NOISE_PUBLIC_KEY_LEN])
{
	mix_hash(s, ephemeral, NOISE_PUBLIC_KEY_LEN);
	mix_key(s, ephemeral, NOISE_PUBLIC_KEY_LEN);
}

/* e, sent: a fresh key pair; the public half goes on the wire. */
static bool __must_check write_e(struct noise_symmetric_state *s,
				 u8 private[NOISE_PUBLIC_KEY_LEN],
				 u8 wire[NOISE_PUBLIC_KEY_LEN])
{
	curve25519_generate_secret(private);
	if (!curve25519_generate_public(wire, private))
		return false;
	read_e(s, wire);
	return true;
}

/* es, ee, se: MixKey(DH(private, public)); a low-order point fails. */
static bool __must_check mix_dh(struct noise_symmetric_state *s,
				const u8 private[NOISE_PUBLIC_KEY_LEN],
				const u8 public[NOISE_PUBLIC_KEY_LEN])
{
	u8 shared[NOISE_PUBLIC_KEY_LEN];
	bool ok;

	ok = curve25519(shared, private, public);
	if (ok)
		mix_key(s, shared, sizeof(shared));
	memzero_explicit(shared, sizeof(shared));
	return ok;
}

/* ss, with DH(static, static) computed when the keys were set. */
static bool __must_check mix_static_static(struct noise_symmetric_state *s,
					   const u8 shared[NOISE_PUBLIC_KEY_LEN])
{
	static const u8 unusable[NOISE_PUBLIC_KEY_LEN];

	if (!crypto_memneq(shared, unusable, NOISE_PUBLIC_KEY_LEN))
		return false;
	mix_key(s, shared, NOISE_PUBLIC_KEY_LEN);
	return true;
}

/*
 * TAI64N: big-endian seconds since 1970 + 2^62 + 10 (the TAI offset of
 * the format), then big-endian nanoseconds.  The nanoseconds are rounded
 * down to a power of two under 1 s / INITIATIONS_PER_SECOND: initiations
 * far enough apart to be accepted still get greater timestamps, but the
 * message does not reveal our clock to the nanosecond.
 */
#define TAI64_EPOCH_OFFSET (BIT_ULL(62) + 10)
#define TIMESTAMP_GRANULE_NS \
	rounddown_pow_of_two(NSEC_PER_SEC / INITIATIONS_PER_SECOND)

static void tai64n_now(u8 out[NOISE_TIMESTAMP_LEN])
{
	struct timespec64 now;
	__be64 seconds;
	__be32 nanoseconds;

	ktime_get_real_ts64(&now);
	seconds = cpu_to_be64(TAI64_EPOCH_OFFSET + now.tv_sec);
	nanoseconds = cpu_to_be32(ALIGN_DOWN(now.tv_nsec,
					     TIMESTAMP_GRANULE_NS));
	memcpy(out, &seconds, sizeof(seconds));
	memcpy(out + sizeof(seconds), &nanoseconds, sizeof(nanoseconds));
}

/* The static identity. */

void wg_noise_static_identity_init(struct noise_static_identity *identity)
{
	memset(identity, 0, sizeof(*identity));
	init_rwsem(&identity->lock);
}

void wg_noise_static_identity_clear(struct noise_static_identity *identity)
{
	down_write(&identity->lock);
	identity->has_identity = false;
	memzero_explicit(identity->static_private, NOISE_PUBLIC_KEY_LEN);
	memset(identity->static_public, 0, NOISE_PUBLIC_KEY_LEN);
	memset(&identity->cookie_keys, 0, sizeof(identity->cookie_keys));
	up_write(&identity->lock);
}

/* A key change, computed before anything is published. */
struct identity_change {
	struct noise_static_identity next;	/* lock unused */
	unsigned int num_peers;
	u8 (*static_static)[NOISE_PUBLIC_KEY_LEN];	/* in peer_list order */
};

/*
 * DH(our static, their static), or all zero when there is none.  A peer
 * with our own public key gets none: it could only be us talking to
 * ourselves, and the configuration removes it.
 */
static void static_static_of(u8 out[NOISE_PUBLIC_KEY_LEN],
			     const struct noise_static_identity *identity,
			     const u8 remote_static[NOISE_PUBLIC_KEY_LEN])
{
	if (!identity->has_identity ||
	    !crypto_memneq(remote_static, identity->static_public,
			   NOISE_PUBLIC_KEY_LEN) ||
	    !curve25519(out, identity->static_private, remote_static))
		memzero_explicit(out, NOISE_PUBLIC_KEY_LEN);
}

static int identity_change_prepare(struct identity_change *change,
				   struct wg_device *wg,
				   const u8 private_key[NOISE_PUBLIC_KEY_LEN])
{
	struct noise_static_identity *next = &change->next;
	struct wg_peer *peer;
	unsigned int i = 0;

	/*
	 * Decided on the key as given: clamping would turn an all-zero key,
	 * which means "none", into a valid one.
	 */
	next->has_identity = curve25519_generate_public(next->static_public,
							private_key);
	if (next->has_identity) {
		memcpy(next->static_private, private_key, NOISE_PUBLIC_KEY_LEN);
		curve25519_clamp_secret(next->static_private);
		wg_cookie_keys_derive(&next->cookie_keys, next->static_public);
	} else {
		memset(next->static_public, 0, NOISE_PUBLIC_KEY_LEN);
	}

	change->num_peers = wg->num_peers;
	change->static_static = kvcalloc(max(change->num_peers, 1U),
					 NOISE_PUBLIC_KEY_LEN, GFP_KERNEL);
	if (!change->static_static)
		return -ENOMEM;
	list_for_each_entry(peer, &wg->peer_list, peer_list) {
		if (WARN_ON(i >= change->num_peers))
			break;
		static_static_of(change->static_static[i++], next,
				 peer->handshake.remote_static);
		cond_resched();
	}
	return 0;
}

static void handshake_reset(struct noise_handshake *handshake);

static void identity_change_publish(struct identity_change *change,
				    struct wg_device *wg)
{
	struct noise_static_identity *identity = &wg->static_identity;
	struct wg_peer *peer;
	unsigned int i = 0;

	down_write(&identity->lock);
	identity->has_identity = change->next.has_identity;
	memcpy(identity->static_private, change->next.static_private,
	       NOISE_PUBLIC_KEY_LEN);
	memcpy(identity->static_public, change->next.static_public,
	       NOISE_PUBLIC_KEY_LEN);
	identity->cookie_keys = change->next.cookie_keys;
	list_for_each_entry(peer, &wg->peer_list, peer_list) {
		struct noise_handshake *handshake = &peer->handshake;

		if (i >= change->num_peers)
			break;
		down_write(&handshake->lock);
		memcpy(handshake->static_static, change->static_static[i++],
		       NOISE_PUBLIC_KEY_LEN);
		/* Begun under the old key: its answer could never match. */
		handshake_reset(handshake);
		up_write(&handshake->lock);
	}
	up_write(&identity->lock);
}

int wg_noise_change_identity(struct wg_device *wg,
			     const u8 private_key[NOISE_PUBLIC_KEY_LEN])
{
	struct identity_change *change;
	int ret;

	lockdep_assert_held(&wg->device_update_lock);

	change = kzalloc(sizeof(*change), GFP_KERNEL);
	if (!change)
		return -ENOMEM;
	ret = identity_change_prepare(change, wg, private_key);
	if (!ret)
		identity_change_publish(change, wg);
	if (change->static_static)
		kvfree_sensitive(change->static_static,
				 max(change->num_peers, 1U) * NOISE_PUBLIC_KEY_LEN);
	kfree_sensitive(change);
	return ret;
}

/* A peer's handshake. */

static struct wg_directory *handshake_directory(struct noise_handshake *handshake)
{
	return handshake->index.peer->device->directory;
}

void wg_noise_handshake_init(struct noise_handshake *handshake,
			     struct noise_static_identity *identity,
			     const u8 peer_public_key[NOISE_PUBLIC_KEY_LEN],
			     const u8 preshared_key[NOISE_SYMMETRIC_KEY_LEN],
			     struct wg_peer *peer)
{
	memset(handshake, 0, sizeof(*handshake));
	init_rwsem(&handshake->lock);
	handshake->stage = NOISE_IDLE;
	handshake->index.kind = WG_INDEX_HANDSHAKE;
	handshake->index.peer = peer;
	handshake->identity = identity;
	memcpy(handshake->remote_static, peer_public_key, NOISE_PUBLIC_KEY_LEN);
	if (preshared_key)
		memcpy(handshake->preshared_key, preshared_key,
		       NOISE_SYMMETRIC_KEY_LEN);
	down_read(&identity->lock);
	static_static_of(handshake->static_static, identity, peer_public_key);
	up_read(&identity->lock);
}

/* Back to idle: the secrets of the exchange go, the configuration stays. */
static void handshake_reset(struct noise_handshake *handshake)
{
	wg_index_release(handshake_directory(handshake), &handshake->index);
	memzero_explicit(&handshake->symmetric, sizeof(handshake->symmetric));
	memzero_explicit(handshake->ephemeral_private, NOISE_PUBLIC_KEY_LEN);
	memset(handshake->remote_ephemeral, 0, NOISE_PUBLIC_KEY_LEN);
	handshake->remote_index = 0;
	handshake->stage = NOISE_IDLE;
}

void wg_noise_handshake_clear(struct noise_handshake *handshake)
{
	down_write(&handshake->lock);
	handshake_reset(handshake);
	up_write(&handshake->lock);
}

void wg_noise_set_preshared_key(struct noise_handshake *handshake,
				const u8 preshared_key[NOISE_SYMMETRIC_KEY_LEN])
{
	down_write(&handshake->lock);
	if (preshared_key)
		memcpy(handshake->preshared_key, preshared_key,
		       NOISE_SYMMETRIC_KEY_LEN);
	else
		memzero_explicit(handshake->preshared_key,
				 NOISE_SYMMETRIC_KEY_LEN);
	up_write(&handshake->lock);
}

/*
 * A removed peer must not be given a new index: its removal sets is_dead,
 * then clears the handshake under the handshake's lock, so looking under
 * that lock closes the race.
 */
static bool handshake_owner_is_dead(struct noise_handshake *handshake)
{
	return READ_ONCE(handshake->index.peer->is_dead);
}

/* Gives the handshake a new index, named in the message it sends. */
static bool __must_check handshake_announce(struct noise_handshake *handshake,
					    __le32 *sender_index,
					    enum noise_handshake_stage stage)
{
	if (wg_index_assign(handshake_directory(handshake), &handshake->index))
		return false;
	*sender_index = handshake->index.id;
	handshake->stage = stage;
	return true;
}

/* Message 1, the initiation (whitepaper 5.4.2). */

bool wg_noise_handshake_create_initiation(struct message_handshake_initiation *dst,
					  struct noise_handshake *handshake)
{
	struct noise_static_identity *identity = handshake->identity;
	struct noise_symmetric_state *s = &handshake->symmetric;
	u8 timestamp[NOISE_TIMESTAMP_LEN];
	bool ok = false;

	down_read(&identity->lock);
	down_write(&handshake->lock);
	if (!identity->has_identity || handshake_owner_is_dead(handshake))
		goto out;

	dst->header.type = cpu_to_le32(MESSAGE_HANDSHAKE_INITIATION);
	initialize_symmetric(s, handshake->remote_static);
	/* -> e, es, s, ss, then the timestamp as payload */
	if (!write_e(s, handshake->ephemeral_private,
		     dst->unencrypted_ephemeral) ||
	    !mix_dh(s, handshake->ephemeral_private, handshake->remote_static))
		goto out;
	encrypt_and_hash(s, dst->encrypted_static, identity->static_public,
			 NOISE_PUBLIC_KEY_LEN);
	if (!mix_static_static(s, handshake->static_static))
		goto out;
	tai64n_now(timestamp);
	encrypt_and_hash(s, dst->encrypted_timestamp, timestamp,
			 NOISE_TIMESTAMP_LEN);

	/* A new index: answers to an earlier initiation no longer match. */
	ok = handshake_announce(handshake, &dst->sender_index,
				NOISE_INITIATION_SENT);
out:
	if (!ok)
		handshake_reset(handshake);
	up_write(&handshake->lock);
	up_read(&identity->lock);
	return ok;
}

/* What the responder learns from an initiation before it commits. */
struct initiation_read {
	struct noise_symmetric_state s;
	u8 ephemeral[NOISE_PUBLIC_KEY_LEN];
	u8 initiator_static[NOISE_PUBLIC_KEY_LEN];
	u8 static_static[NOISE_PUBLIC_KEY_LEN];
	u8 timestamp[NOISE_TIMESTAMP_LEN];
};

/* e, es, s: up to the initiator's static key, which names the peer. */
static bool initiation_read_sender(struct initiation_read *r,
				   const struct message_handshake_initiation *src,
				   const struct noise_static_identity *identity)
{
	initialize_symmetric(&r->s, identity->static_public);
	memcpy(r->ephemeral, src->unencrypted_ephemeral, NOISE_PUBLIC_KEY_LEN);
	read_e(&r->s, r->ephemeral);
	return mix_dh(&r->s, identity->static_private, r->ephemeral) &&
	       decrypt_and_hash(&r->s, r->initiator_static,
				src->encrypted_static,
				sizeof(src->encrypted_static));
}

/* ss, then the timestamp. */
static bool initiation_read_rest(struct initiation_read *r,
				 const struct message_handshake_initiation *src,
				 struct noise_handshake *handshake)
{
	down_read(&handshake->lock);
	memcpy(r->static_static, handshake->static_static,
	       NOISE_PUBLIC_KEY_LEN);
	up_read(&handshake->lock);
	return mix_static_static(&r->s, r->static_static) &&
	       decrypt_and_hash(&r->s, r->timestamp, src->encrypted_timestamp,
				sizeof(src->encrypted_timestamp));
}

/*
 * Refuses a replay (a timestamp not newer than the newest accepted; TAI64N
 * is big endian, so byte order is time order) and initiations closer
 * together than INITIATIONS_PER_SECOND allows.
 */
static bool initiation_is_fresh(const struct noise_handshake *handshake,
				const u8 timestamp[NOISE_TIMESTAMP_LEN],
				u64 now)
{
	u64 last = handshake->last_initiation_at;

	if (memcmp(timestamp, handshake->newest_timestamp,
		   NOISE_TIMESTAMP_LEN) <= 0)
		return false;
	return !last || now >= last + NSEC_PER_SEC / INITIATIONS_PER_SECOND;
}

static bool initiation_commit(struct noise_handshake *handshake,
			      const struct initiation_read *r,
			      __le32 sender_index)
{
	u64 now = ktime_get_coarse_boottime_ns();
	bool fresh;

	down_write(&handshake->lock);
	fresh = initiation_is_fresh(handshake, r->timestamp, now);
	if (fresh) {
		memcpy(handshake->newest_timestamp, r->timestamp,
		       NOISE_TIMESTAMP_LEN);
		handshake->last_initiation_at = now;
		handshake->symmetric = r->s;
		memcpy(handshake->remote_ephemeral, r->ephemeral,
		       NOISE_PUBLIC_KEY_LEN);
		handshake->remote_index = sender_index;
		handshake->stage = NOISE_INITIATION_RECEIVED;
	}
	up_write(&handshake->lock);
	return fresh;
}

struct wg_peer *wg_noise_handshake_consume_initiation(struct message_handshake_initiation *src,
						      struct wg_device *wg)
{
	struct noise_static_identity *identity = &wg->static_identity;
	struct wg_peer *peer = NULL;
	struct initiation_read *r;

	/* Too big for the stack of a worker deep in crypto. */
	r = kmalloc(sizeof(*r), GFP_KERNEL);
	if (!r)
		return NULL;

	down_read(&identity->lock);
	if (!identity->has_identity ||
	    !initiation_read_sender(r, src, identity))
		goto out;
	peer = wg_directory_find_peer(wg->directory, r->initiator_static);
	if (peer && !(initiation_read_rest(r, src, &peer->handshake) &&
		      initiation_commit(&peer->handshake, r,
					src->sender_index))) {
		wg_peer_put(peer);
		peer = NULL;
	}
out:
	up_read(&identity->lock);
	kfree_sensitive(r);
	return peer;
}

/* Message 2, the response (whitepaper 5.4.3). */

bool wg_noise_handshake_create_response(struct message_handshake_response *dst,
					struct noise_handshake *handshake)
{
	struct noise_static_identity *identity = handshake->identity;
	struct noise_symmetric_state *s = &handshake->symmetric;
	bool ok = false;

	down_read(&identity->lock);
	down_write(&handshake->lock);
	if (!identity->has_identity || handshake_owner_is_dead(handshake) ||
	    handshake->stage != NOISE_INITIATION_RECEIVED)
		goto out;

	dst->header.type = cpu_to_le32(MESSAGE_HANDSHAKE_RESPONSE);
	dst->receiver_index = handshake->remote_index;
	/* <- e, ee, se, psk, then an empty payload */
	if (!write_e(s, handshake->ephemeral_private,
		     dst->unencrypted_ephemeral) ||
	    !mix_dh(s, handshake->ephemeral_private,
		    handshake->remote_ephemeral) ||
	    !mix_dh(s, handshake->ephemeral_private, handshake->remote_static))
		goto out;
	mix_key_and_hash(s, handshake->preshared_key);
	encrypt_and_hash(s, dst->encrypted_nothing, NULL, 0);

	ok = handshake_announce(handshake, &dst->sender_index,
				NOISE_RESPONSE_SENT);
out:
	if (!ok)
		handshake_reset(handshake);
	up_write(&handshake->lock);
	up_read(&identity->lock);
	return ok;
}

/* The initiator's state, copied so that the DHs run without its lock. */
struct response_read {
	struct noise_symmetric_state s;
	u8 ephemeral_private[NOISE_PUBLIC_KEY_LEN];
	u8 preshared_key[NOISE_SYMMETRIC_KEY_LEN];
	u8 remote_ephemeral[NOISE_PUBLIC_KEY_LEN];
};

static bool response_read_start(struct response_read *r,
				struct noise_handshake *handshake)
{
	bool waiting;

	down_read(&handshake->lock);
	waiting = handshake->stage == NOISE_INITIATION_SENT;
	if (waiting) {
		r->s = handshake->symmetric;
		memcpy(r->ephemeral_private, handshake->ephemeral_private,
		       NOISE_PUBLIC_KEY_LEN);
		memcpy(r->preshared_key, handshake->preshared_key,
		       NOISE_SYMMETRIC_KEY_LEN);
	}
	up_read(&handshake->lock);
	return waiting;
}

/* e, ee, se, psk, then the empty payload that authenticates it all. */
static bool response_read_tokens(struct response_read *r,
				 const struct message_handshake_response *src,
				 const struct noise_static_identity *identity)
{
	memcpy(r->remote_ephemeral, src->unencrypted_ephemeral,
	       NOISE_PUBLIC_KEY_LEN);
	read_e(&r->s, r->remote_ephemeral);
	if (!mix_dh(&r->s, r->ephemeral_private, r->remote_ephemeral) ||
	    !mix_dh(&r->s, identity->static_private, r->remote_ephemeral))
		return false;
	mix_key_and_hash(&r->s, r->preshared_key);
	return decrypt_and_hash(&r->s, NULL, src->encrypted_nothing,
				sizeof(src->encrypted_nothing));
}

/* Unless the handshake moved on meanwhile (a new initiation, say). */
static bool response_commit(struct noise_handshake *handshake,
			    const struct response_read *r,
			    const struct message_handshake_response *src)
{
	bool still_waiting;

	down_write(&handshake->lock);
	still_waiting = handshake->stage == NOISE_INITIATION_SENT &&
		  handshake->index.id == src->receiver_index &&
		  !crypto_memneq(handshake->ephemeral_private,
				 r->ephemeral_private, NOISE_PUBLIC_KEY_LEN);
	if (still_waiting) {
		handshake->symmetric = r->s;
		memcpy(handshake->remote_ephemeral, r->remote_ephemeral,
		       NOISE_PUBLIC_KEY_LEN);
		handshake->remote_index = src->sender_index;
		handshake->stage = NOISE_RESPONSE_RECEIVED;
	}
	up_write(&handshake->lock);
	return still_waiting;
}

struct wg_peer *wg_noise_handshake_consume_response(struct message_handshake_response *src,
						    struct wg_device *wg)
{
	struct noise_static_identity *identity = &wg->static_identity;
	struct noise_handshake *handshake;
	struct wg_peer *peer = NULL;
	struct response_read *r;
	struct wg_index *index;

	r = kmalloc(sizeof(*r), GFP_KERNEL);
	if (!r)
		return NULL;

	down_read(&identity->lock);
	if (!identity->has_identity)
		goto out;
	index = wg_index_find(wg->directory, src->receiver_index,
			      WG_INDEX_HANDSHAKE, &peer);
	if (!index)
		goto out;
	handshake = container_of(index, struct noise_handshake, index);
	if (!(response_read_start(r, handshake) &&
	      response_read_tokens(r, src, identity) &&
	      response_commit(handshake, r, src))) {
		wg_peer_put(peer);
		peer = NULL;
	}
out:
	up_read(&identity->lock);
	kfree_sensitive(r);
	return peer;
}

/* Sessions. */

/* Gives every keypair a distinct id, for debug messages. */
static atomic64_t keypair_ids = ATOMIC64_INIT(0);

static struct noise_keypair *keypair_create(struct wg_peer *peer,
					    const struct noise_symmetric_state *s,
					    bool initiator)
{
	struct noise_keypair *keypair = kzalloc(sizeof(*keypair), GFP_KERNEL);
	u64 now = ktime_get_coarse_boottime_ns();

	if (!keypair)
		return NULL;
	if (initiator)
		split(s, keypair->sending.key, keypair->receiving.key);
	else
		split(s, keypair->receiving.key, keypair->sending.key);
	keypair->sending.birthdate = now;
	keypair->receiving.birthdate = now;
	keypair->sending.is_valid = true;
	keypair->receiving.is_valid = true;
	keypair->i_am_the_initiator = initiator;
	spin_lock_init(&keypair->receiving_counter.lock);
	keypair->entry.kind = WG_INDEX_SESSION;
	keypair->entry.peer = peer;
	kref_init(&keypair->refcount);
	keypair->internal_id = atomic64_inc_return(&keypair_ids);
	return keypair;
}

static void keypair_unlist(struct noise_keypair *keypair)
{
	wg_index_release(keypair->entry.peer->device->directory,
			 &keypair->entry);
}

static void keypair_free_rcu(struct rcu_head *rcu)
{
	/* The keys must not linger in freed memory. */
	kfree_sensitive(container_of(rcu, struct noise_keypair, rcu));
}

static void keypair_release(struct kref *kref)
{
	struct noise_keypair *keypair =
		container_of(kref, struct noise_keypair, refcount);

	/*
	 * Retired keypairs were unlisted while their peer was alive; only an
	 * unlisted one may outlive its peer.
	 */
	if (READ_ONCE(keypair->entry.listed))
		keypair_unlist(keypair);
	call_rcu(&keypair->rcu, keypair_free_rcu);
}

struct noise_keypair *wg_noise_keypair_get(struct noise_keypair *keypair)
{
	RCU_LOCKDEP_WARN(!rcu_read_lock_bh_held() && !rcu_read_lock_held(),
			 "keypair reference taken outside RCU");
	if (unlikely(!keypair || !kref_get_unless_zero(&keypair->refcount)))
		return NULL;
	return keypair;
}

void wg_noise_keypair_put(struct noise_keypair *keypair, bool retire)
{
	if (unlikely(!keypair))
		return;
	if (retire)
		keypair_unlist(keypair);
	kref_put(&keypair->refcount, keypair_release);
}

void wg_noise_keypairs_init(struct noise_keypairs *keypairs)
{
	RCU_INIT_POINTER(keypairs->next_keypair, NULL);
	RCU_INIT_POINTER(keypairs->current_keypair, NULL);
	RCU_INIT_POINTER(keypairs->previous_keypair, NULL);
	spin_lock_init(&keypairs->lock);
}

/* The three slots as one value, for the rules to compute the next one. */
struct session_slots {
	struct noise_keypair *next, *current_kp, *previous;
};

static struct noise_keypair *slot_of(struct noise_keypairs *keypairs,
				     struct noise_keypair __rcu **slot)
{
	return rcu_dereference_protected(*slot,
					 lockdep_is_held(&keypairs->lock));
}

static struct session_slots slots_read(struct noise_keypairs *keypairs)
{
	return (struct session_slots) {
		.next = slot_of(keypairs, &keypairs->next_keypair),
		.current_kp = slot_of(keypairs, &keypairs->current_keypair),
		.previous = slot_of(keypairs, &keypairs->previous_keypair),
	};
}

static bool slots_hold(const struct session_slots *slots,
		       const struct noise_keypair *keypair)
{
	return keypair == slots->next || keypair == slots->current_kp ||
	       keypair == slots->previous;
}

/* Publishes @now, and retires whatever @was held that @now does not. */
static void slots_write(struct noise_keypairs *keypairs,
			const struct session_slots *was,
			const struct session_slots *now)
{
	struct noise_keypair *dropped[] = {
		was->next, was->current_kp, was->previous
	};
	int i;

	lockdep_assert_held(&keypairs->lock);
	rcu_assign_pointer(keypairs->next_keypair, now->next);
	rcu_assign_pointer(keypairs->current_keypair, now->current_kp);
	rcu_assign_pointer(keypairs->previous_keypair, now->previous);
	for (i = 0; i < ARRAY_SIZE(dropped); ++i)
		if (dropped[i] && !slots_hold(now, dropped[i]))
			wg_noise_keypair_put(dropped[i], true);
}

/* Rule 1: our initiation was answered; send with it at once. */
static struct session_slots initiated(const struct session_slots *was,
				      struct noise_keypair *new)
{
	/* An unconfirmed next is newer than current: keep it instead. */
	return (struct session_slots) {
		.current_kp = new,
		.previous = was->next ?: was->current_kp,
	};
}

/* Rule 2: we answered; receive with it, send only once confirmed. */
static struct session_slots answered(const struct session_slots *was,
				     struct noise_keypair *new)
{
	return (struct session_slots) {
		.next = new,
		.current_kp = was->current_kp,
		.previous = was->previous,
	};
}

/* Rule 3: the initiator sent under next, so it has the keys. */
static struct session_slots confirmed(const struct session_slots *was)
{
	return (struct session_slots) {
		.current_kp = was->next,
		.previous = was->current_kp,
	};
}

/*
 * Files a new session by rule 1 or 2.  Refused once the peer is dead: its
 * removal sets is_dead, then clears the slots under this lock, so a
 * session filed after that would never be retired.
 */
static bool keypairs_file(struct noise_keypairs *keypairs,
			  struct noise_keypair *new)
{
	struct session_slots was, now;

	spin_lock_bh(&keypairs->lock);
	if (unlikely(READ_ONCE(new->entry.peer->is_dead))) {
		spin_unlock_bh(&keypairs->lock);
		return false;
	}
	was = slots_read(keypairs);
	now = new->i_am_the_initiator ? initiated(&was, new) :
					answered(&was, new);
	slots_write(keypairs, &was, &now);
	spin_unlock_bh(&keypairs->lock);
	return true;
}

void wg_noise_keypairs_clear(struct noise_keypairs *keypairs)
{
	struct session_slots was, none = {};

	spin_lock_bh(&keypairs->lock);
	was = slots_read(keypairs);
	slots_write(keypairs, &was, &none);
	spin_unlock_bh(&keypairs->lock);
}

bool wg_noise_received_with_keypair(struct noise_keypairs *keypairs,
				    struct noise_keypair *keypair)
{
	struct session_slots was, now;
	bool promoted;

	/* Nearly always not next: decided without the lock. */
	if (likely(rcu_access_pointer(keypairs->next_keypair) != keypair))
		return false;

	spin_lock_bh(&keypairs->lock);
	was = slots_read(keypairs);
	promoted = was.next == keypair;
	if (promoted) {
		now = confirmed(&was);
		slots_write(keypairs, &was, &now);
	}
	spin_unlock_bh(&keypairs->lock);
	return promoted;
}

/*
 * Next too: promoted later, it would otherwise send with a session that
 * predates whatever made us stop sending with current (a key change).
 */
void wg_noise_expire_current_peer_keypairs(struct wg_peer *peer)
{
	struct noise_keypairs *keypairs = &peer->keypairs;
	struct session_slots slots;

	spin_lock_bh(&keypairs->lock);
	slots = slots_read(keypairs);
	if (slots.next)
		WRITE_ONCE(slots.next->sending.is_valid, false);
	if (slots.current_kp)
		WRITE_ONCE(slots.current_kp->sending.is_valid, false);
	spin_unlock_bh(&keypairs->lock);
}

bool wg_noise_handshake_begin_session(struct noise_handshake *handshake,
				      struct noise_keypairs *keypairs)
{
	struct noise_keypair *keypair = NULL;
	bool initiator;

	down_write(&handshake->lock);
	if (handshake->stage != NOISE_RESPONSE_SENT &&
	    handshake->stage != NOISE_RESPONSE_RECEIVED)
		goto fail;
	initiator = handshake->stage == NOISE_RESPONSE_RECEIVED;
	keypair = keypair_create(handshake->index.peer, &handshake->symmetric,
				 initiator);
	if (!keypair)
		goto fail;
	keypair->remote_index = handshake->remote_index;
	/* The session answers to the index the handshake announced. */
	if (!wg_index_transfer(handshake_directory(handshake),
			       &handshake->index, &keypair->entry))
		goto fail;
	handshake_reset(handshake);
	/* Still under the handshake's lock, so sessions file in order. */
	if (!keypairs_file(keypairs, keypair)) {
		up_write(&handshake->lock);
		/* Listed already: unlist it, and free it after RCU. */
		wg_noise_keypair_put(keypair, true);
		return false;
	}
	up_write(&handshake->lock);
	return true;

fail:
	up_write(&handshake->lock);
	kfree_sensitive(keypair);
	return false;
}

/* The replay window. */

#define COUNTER_RING_WORDS (COUNTER_BITS_TOTAL / BITS_PER_LONG)

/* The word of the ring the greatest accepted counter is in (0 before). */
static u64 counter_top_word(u64 next_counter)
{
	return next_counter ? (next_counter - 1) / BITS_PER_LONG : 0;
}

/*
 * Slides the window up to @their_counter: the words between the old top
 * and the new one start empty, whatever earlier turns of the ring left.
 */
static void counter_slide(struct noise_replay_counter *counter,
			  u64 their_counter)
{
	u64 old_top = counter_top_word(counter->counter);
	u64 new_top = their_counter / BITS_PER_LONG;
	u64 i, to_clear = min_t(u64, new_top - old_top, COUNTER_RING_WORDS);

	for (i = 1; i <= to_clear; ++i)
		counter->backtrack[(old_top + i) % COUNTER_RING_WORDS] = 0;
	counter->counter = their_counter + 1;
}

bool wg_noise_counter_validate(struct noise_replay_counter *counter,
			       u64 their_counter)
{
	bool accepted = false;

	spin_lock_bh(&counter->lock);
	if (unlikely(their_counter >= REJECT_AFTER_MESSAGES))
		goto out;
	/* Older than the window: we cannot tell whether we saw it. */
	if (unlikely(their_counter + COUNTER_WINDOW_SIZE < counter->counter))
		goto out;
	if (their_counter >= counter->counter)
		counter_slide(counter, their_counter);
	accepted = !__test_and_set_bit(their_counter % COUNTER_BITS_TOTAL,
				       counter->backtrack);
out:
	spin_unlock_bh(&counter->lock);
	return accepted;
}

#ifdef CONFIG_WIREGUARD_DEBUG
#include "selftest/counter.c"
#include "selftest/noise.c"
#endif
