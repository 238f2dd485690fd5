// SPDX-License-Identifier: GPL-2.0
/*
 * Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s as the WireGuard whitepaper
 * (section 5.4) instantiates it: the static identity of a device, the two
 * handshake messages, the sessions they yield and the replay window of
 * each session.
 *
 * Locking: the static identity's rwsem is taken before a handshake's, and
 * a peer's keypair_update_lock (a spinlock) only inside those.  Handshakes
 * are created and consumed in process context; keypairs are read by the
 * data path under rcu_read_lock_bh().
 */
#include <linux/atomic.h>
#include <linux/bitops.h>
#include <linux/ktime.h>
#include <linux/log2.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/timekeeping.h>
#include <crypto/algapi.h>

#include "device.h"
#include "noise.h"
#include "peer.h"
#include "peerlookup.h"

static const u8 handshake_construction[] =
	"Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
static const u8 handshake_identifier[] = "WireGuard v1 zx2c4 Jason@zx2c4.com";

/* C_i and H_i before anything is mixed in: the same for every handshake. */
static u8 initial_chaining_key[NOISE_HASH_LEN] __ro_after_init;
static u8 initial_hash[NOISE_HASH_LEN] __ro_after_init;

/* Gives every keypair a distinct id, for debug messages. */
static atomic64_t keypair_id_counter = ATOMIC64_INIT(0);

void __init wg_noise_init(void)
{
	struct blake2s_ctx state;

	/* The strings go in without their terminating NUL. */
	blake2s(NULL, 0, handshake_construction,
		sizeof(handshake_construction) - 1,
		initial_chaining_key, NOISE_HASH_LEN);
	blake2s_init(&state, NOISE_HASH_LEN);
	blake2s_update(&state, initial_chaining_key, NOISE_HASH_LEN);
	blake2s_update(&state, handshake_identifier,
		       sizeof(handshake_identifier) - 1);
	blake2s_final(&state, initial_hash);
}

/* The primitives of the whitepaper (section 5.4), on top of lib/crypto. */

/* HMAC (RFC 2104) over BLAKE2s, whose block is 64 bytes. */
static void hmac_blake2s(u8 out[BLAKE2S_HASH_SIZE], const u8 *in,
			 size_t in_len, const u8 *key, size_t key_len)
{
	struct blake2s_ctx state;
	u8 block_key[BLAKE2S_BLOCK_SIZE] = { 0 };
	u8 inner[BLAKE2S_HASH_SIZE];
	int i;

	if (key_len > BLAKE2S_BLOCK_SIZE) {
		blake2s_init(&state, BLAKE2S_HASH_SIZE);
		blake2s_update(&state, key, key_len);
		blake2s_final(&state, block_key);
	} else {
		memcpy(block_key, key, key_len);
	}

	for (i = 0; i < BLAKE2S_BLOCK_SIZE; ++i)
		block_key[i] ^= 0x36;
	blake2s_init(&state, BLAKE2S_HASH_SIZE);
	blake2s_update(&state, block_key, BLAKE2S_BLOCK_SIZE);
	blake2s_update(&state, in, in_len);
	blake2s_final(&state, inner);

	/* Turn the inner pad into the outer one. */
	for (i = 0; i < BLAKE2S_BLOCK_SIZE; ++i)
		block_key[i] ^= 0x36 ^ 0x5c;
	blake2s_init(&state, BLAKE2S_HASH_SIZE);
	blake2s_update(&state, block_key, BLAKE2S_BLOCK_SIZE);
	blake2s_update(&state, inner, BLAKE2S_HASH_SIZE);
	blake2s_final(&state, out);

	memzero_explicit(block_key, sizeof(block_key));
	memzero_explicit(inner, sizeof(inner));
	memzero_explicit(&state, sizeof(state));
}

/*
 * KDF1/2/3 of the whitepaper (HKDF with HMAC-BLAKE2s): up to three 32-byte
 * outputs from @chaining_key and @data.  Outputs are filled in order and
 * the first NULL one ends them.  An output may alias @chaining_key.
 */
static void kdf(u8 *first, u8 *second, u8 *third, const u8 *data,
		size_t data_len, const u8 chaining_key[NOISE_HASH_LEN])
{
	u8 *outputs[] = { first, second, third };
	u8 prk[NOISE_HASH_LEN];
	/* T(i - 1) || i, the input of T(i). */
	u8 block[NOISE_HASH_LEN + 1];
	size_t block_len = 0;
	int i;

	hmac_blake2s(prk, data, data_len, chaining_key, NOISE_HASH_LEN);
	for (i = 0; i < ARRAY_SIZE(outputs) && outputs[i]; ++i) {
		block[block_len] = i + 1;
		hmac_blake2s(block, block, block_len + 1, prk, NOISE_HASH_LEN);
		block_len = NOISE_HASH_LEN;
		memcpy(outputs[i], block, NOISE_HASH_LEN);
	}

	memzero_explicit(prk, sizeof(prk));
	memzero_explicit(block, sizeof(block));
}

/* hash = HASH(hash || data) */
static void mix_hash(u8 hash[NOISE_HASH_LEN], const u8 *data, size_t len)
{
	struct blake2s_ctx state;

	blake2s_init(&state, NOISE_HASH_LEN);
	blake2s_update(&state, hash, NOISE_HASH_LEN);
	blake2s_update(&state, data, len);
	blake2s_final(&state, hash);
}

/* (ck, key) = KDF2(ck, DH(private, public)); key may be NULL (KDF1). */
static bool __must_check mix_dh(u8 chaining_key[NOISE_HASH_LEN],
				u8 key[NOISE_SYMMETRIC_KEY_LEN],
				const u8 private[NOISE_PUBLIC_KEY_LEN],
				const u8 public[NOISE_PUBLIC_KEY_LEN])
{
	u8 shared[NOISE_PUBLIC_KEY_LEN];

	/* An all-zero result means a low-order point: refuse it. */
	if (unlikely(!curve25519(shared, private, public)))
		return false;
	kdf(chaining_key, key, NULL, shared, NOISE_PUBLIC_KEY_LEN,
	    chaining_key);
	memzero_explicit(shared, sizeof(shared));
	return true;
}

/* The same with DH(static, static), computed beforehand. */
static bool __must_check
mix_precomputed_dh(u8 chaining_key[NOISE_HASH_LEN],
		   u8 key[NOISE_SYMMETRIC_KEY_LEN],
		   const u8 precomputed[NOISE_PUBLIC_KEY_LEN])
{
	static const u8 zero[NOISE_PUBLIC_KEY_LEN];

	/* All zero: no identity, or the peer's key is a low-order point. */
	if (unlikely(!crypto_memneq(precomputed, zero, NOISE_PUBLIC_KEY_LEN)))
		return false;
	kdf(chaining_key, key, NULL, precomputed, NOISE_PUBLIC_KEY_LEN,
	    chaining_key);
	return true;
}

/* (ck, tau, key) = KDF3(ck, psk); hash = HASH(hash || tau) */
static void mix_psk(u8 chaining_key[NOISE_HASH_LEN], u8 hash[NOISE_HASH_LEN],
		    u8 key[NOISE_SYMMETRIC_KEY_LEN],
		    const u8 psk[NOISE_SYMMETRIC_KEY_LEN])
{
	u8 tau[NOISE_HASH_LEN];

	kdf(chaining_key, tau, key, psk, NOISE_SYMMETRIC_KEY_LEN,
	    chaining_key);
	mix_hash(hash, tau, NOISE_HASH_LEN);
	memzero_explicit(tau, sizeof(tau));
}

/* An ephemeral public key goes into both the chaining key and the hash. */
static void mix_ephemeral(u8 chaining_key[NOISE_HASH_LEN],
			  u8 hash[NOISE_HASH_LEN],
			  const u8 ephemeral[NOISE_PUBLIC_KEY_LEN])
{
	kdf(chaining_key, NULL, NULL, ephemeral, NOISE_PUBLIC_KEY_LEN,
	    chaining_key);
	mix_hash(hash, ephemeral, NOISE_PUBLIC_KEY_LEN);
}

/* AEAD(key, 0, plain, hash), then hash = HASH(hash || ciphertext). */
static void encrypt_and_hash(u8 *dst, const u8 *plain, size_t plain_len,
			     const u8 key[NOISE_SYMMETRIC_KEY_LEN],
			     u8 hash[NOISE_HASH_LEN])
{
	/* Every key encrypts one message only, so the nonce is always 0. */
	chacha20poly1305_encrypt(dst, plain, plain_len, hash, NOISE_HASH_LEN,
				 0, key);
	mix_hash(hash, dst, noise_encrypted_len(plain_len));
}

static bool __must_check decrypt_and_hash(u8 *dst, const u8 *src,
					  size_t src_len,
					  const u8 key[NOISE_SYMMETRIC_KEY_LEN],
					  u8 hash[NOISE_HASH_LEN])
{
	if (!chacha20poly1305_decrypt(dst, src, src_len, hash, NOISE_HASH_LEN,
				      0, key))
		return false;
	mix_hash(hash, src, src_len);
	return true;
}

/* ck = C_i; hash = HASH(H_i || responder's static public key) */
static void handshake_start(u8 chaining_key[NOISE_HASH_LEN],
			    u8 hash[NOISE_HASH_LEN],
			    const u8 responder_static[NOISE_PUBLIC_KEY_LEN])
{
	memcpy(chaining_key, initial_chaining_key, NOISE_HASH_LEN);
	memcpy(hash, initial_hash, NOISE_HASH_LEN);
	mix_hash(hash, responder_static, NOISE_PUBLIC_KEY_LEN);
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

/*
 * An all-zero key clears the identity: curve25519_generate_public() refuses
 * it, and a device without identity neither answers nor starts handshakes.
 */
void wg_noise_set_static_identity_private_key(struct noise_static_identity *identity,
					      const u8 private_key[NOISE_PUBLIC_KEY_LEN])
{
	down_write(&identity->lock);
	memcpy(identity->static_private, private_key, NOISE_PUBLIC_KEY_LEN);
	curve25519_clamp_secret(identity->static_private);
	/* From the key as given: clamping would make an all-zero key valid. */
	identity->has_identity =
		curve25519_generate_public(identity->static_public, private_key);
	if (!identity->has_identity) {
		memzero_explicit(identity->static_private, NOISE_PUBLIC_KEY_LEN);
		memset(identity->static_public, 0, NOISE_PUBLIC_KEY_LEN);
	}
	up_write(&identity->lock);
}

void wg_noise_static_identity_clear(struct noise_static_identity *identity)
{
	down_write(&identity->lock);
	memzero_explicit(identity->static_private, NOISE_PUBLIC_KEY_LEN);
	memset(identity->static_public, 0, NOISE_PUBLIC_KEY_LEN);
	identity->has_identity = false;
	up_write(&identity->lock);
}

/* A peer's handshake state. */

static struct index_hashtable *handshake_index_table(struct noise_handshake *handshake)
{
	return handshake->entry.peer->device->index_hashtable;
}

/* Under the handshake's write lock and the identity's lock. */
static void compute_static_static(struct noise_handshake *handshake)
{
	struct noise_static_identity *identity = handshake->static_identity;

	if (identity->has_identity &&
	    curve25519(handshake->precomputed_static_static,
		       identity->static_private, handshake->remote_static))
		return;
	/* All zero marks it unusable; see mix_precomputed_dh(). */
	memzero_explicit(handshake->precomputed_static_static,
			 NOISE_PUBLIC_KEY_LEN);
}

void wg_noise_handshake_init(struct noise_handshake *handshake,
			     struct noise_static_identity *static_identity,
			     const u8 peer_public_key[NOISE_PUBLIC_KEY_LEN],
			     const u8 peer_preshared_key[NOISE_SYMMETRIC_KEY_LEN],
			     struct wg_peer *peer)
{
	memset(handshake, 0, sizeof(*handshake));
	init_rwsem(&handshake->lock);
	INIT_HLIST_NODE(&handshake->entry.index_hash);
	handshake->entry.type = INDEX_HASHTABLE_HANDSHAKE;
	handshake->entry.peer = peer;
	handshake->static_identity = static_identity;
	handshake->state = HANDSHAKE_ZEROED;
	memcpy(handshake->remote_static, peer_public_key, NOISE_PUBLIC_KEY_LEN);
	if (peer_preshared_key)
		memcpy(handshake->preshared_key, peer_preshared_key,
		       NOISE_SYMMETRIC_KEY_LEN);

	down_read(&static_identity->lock);
	down_write(&handshake->lock);
	compute_static_static(handshake);
	up_write(&handshake->lock);
	up_read(&static_identity->lock);
}

/*
 * Forgets the handshake in progress but not what outlives it: the peer's
 * keys and what protects against replays and floods.  Under the write lock.
 */
static void handshake_zero(struct noise_handshake *handshake)
{
	memzero_explicit(handshake->ephemeral_private, NOISE_PUBLIC_KEY_LEN);
	memset(handshake->remote_ephemeral, 0, NOISE_PUBLIC_KEY_LEN);
	memzero_explicit(handshake->hash, NOISE_HASH_LEN);
	memzero_explicit(handshake->chaining_key, NOISE_HASH_LEN);
	handshake->remote_index = 0;
	handshake->state = HANDSHAKE_ZEROED;
}

void wg_noise_handshake_clear(struct noise_handshake *handshake)
{
	down_write(&handshake->lock);
	wg_index_hashtable_remove(handshake_index_table(handshake),
				  &handshake->entry);
	handshake_zero(handshake);
	up_write(&handshake->lock);
}

void wg_noise_precompute_static_static(struct wg_peer *peer)
{
	struct noise_handshake *handshake = &peer->handshake;

	down_read(&handshake->static_identity->lock);
	down_write(&handshake->lock);
	compute_static_static(handshake);
	up_write(&handshake->lock);
	up_read(&handshake->static_identity->lock);
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

/* Keypairs. */

void wg_noise_keypairs_init(struct noise_keypairs *keypairs)
{
	RCU_INIT_POINTER(keypairs->current_keypair, NULL);
	RCU_INIT_POINTER(keypairs->previous_keypair, NULL);
	RCU_INIT_POINTER(keypairs->next_keypair, NULL);
	spin_lock_init(&keypairs->keypair_update_lock);
}

static void keypair_unhash(struct noise_keypair *keypair)
{
	wg_index_hashtable_remove(keypair->entry.peer->device->index_hashtable,
				  &keypair->entry);
}

static void keypair_free_rcu(struct rcu_head *rcu)
{
	/* kfree_sensitive: the keys must not linger in freed memory. */
	kfree_sensitive(container_of(rcu, struct noise_keypair, rcu));
}

static void keypair_release(struct kref *kref)
{
	struct noise_keypair *keypair =
		container_of(kref, struct noise_keypair, refcount);

	/*
	 * Normally wg_noise_keypairs_clear() or a replacement unhashed it
	 * already (with the peer alive); only then may the peer be gone.
	 */
	if (!hlist_unhashed_lockless(&keypair->entry.index_hash))
		keypair_unhash(keypair);
	call_rcu(&keypair->rcu, keypair_free_rcu);
}

struct noise_keypair *wg_noise_keypair_get(struct noise_keypair *keypair)
{
	RCU_LOCKDEP_WARN(!rcu_read_lock_bh_held() && !rcu_read_lock_held(),
			 "taking a keypair reference without RCU read lock");
	if (unlikely(!keypair || !kref_get_unless_zero(&keypair->refcount)))
		return NULL;
	return keypair;
}

/*
 * @unreference_now: the session is being retired, so its index must stop
 * finding it now rather than when the last packet using it is done.
 */
void wg_noise_keypair_put(struct noise_keypair *keypair, bool unreference_now)
{
	if (unlikely(!keypair))
		return;
	if (unreference_now)
		keypair_unhash(keypair);
	kref_put(&keypair->refcount, keypair_release);
}

/* What a slot holds, under keypair_update_lock. */
static struct noise_keypair *keypair_slot(struct noise_keypairs *keypairs,
					  struct noise_keypair __rcu **slot)
{
	return rcu_dereference_protected(*slot,
		lockdep_is_held(&keypairs->keypair_update_lock));
}

/* Empties a slot and retires what it held. */
static void keypair_slot_drop(struct noise_keypairs *keypairs,
			      struct noise_keypair __rcu **slot)
{
	struct noise_keypair *old = keypair_slot(keypairs, slot);

	RCU_INIT_POINTER(*slot, NULL);
	wg_noise_keypair_put(old, true);
}

void wg_noise_keypairs_clear(struct noise_keypairs *keypairs)
{
	spin_lock_bh(&keypairs->keypair_update_lock);
	keypair_slot_drop(keypairs, &keypairs->next_keypair);
	keypair_slot_drop(keypairs, &keypairs->previous_keypair);
	keypair_slot_drop(keypairs, &keypairs->current_keypair);
	spin_unlock_bh(&keypairs->keypair_update_lock);
}

/*
 * Files a fresh session.  The initiator has seen the responder's answer, so
 * its session is usable at once.  The responder cannot send with its own
 * until the initiator proves (with a data packet) that it has it too: it
 * waits in "next".
 *
 * Refuses once the peer is dead: its removal sets is_dead before it clears
 * the keypairs under this lock, so a session filed after that clearing
 * would never be unhashed.
 */
static bool keypairs_add(struct noise_keypairs *keypairs,
			 struct noise_keypair *new)
{
	struct noise_keypair *previous, *current_kp, *next;

	spin_lock_bh(&keypairs->keypair_update_lock);
	if (unlikely(READ_ONCE(new->entry.peer->is_dead))) {
		spin_unlock_bh(&keypairs->keypair_update_lock);
		return false;
	}
	previous = keypair_slot(keypairs, &keypairs->previous_keypair);
	current_kp = keypair_slot(keypairs, &keypairs->current_keypair);
	next = keypair_slot(keypairs, &keypairs->next_keypair);

	if (new->i_am_the_initiator) {
		if (next) {
			/*
			 * The peer may already send with the session we
			 * answered: keep it for receiving.  It is newer than
			 * current, which goes.
			 */
			RCU_INIT_POINTER(keypairs->next_keypair, NULL);
			rcu_assign_pointer(keypairs->previous_keypair, next);
			wg_noise_keypair_put(current_kp, true);
		} else {
			rcu_assign_pointer(keypairs->previous_keypair,
					   current_kp);
		}
		wg_noise_keypair_put(previous, true);
		rcu_assign_pointer(keypairs->current_keypair, new);
	} else {
		rcu_assign_pointer(keypairs->next_keypair, new);
		wg_noise_keypair_put(next, true);
	}
	spin_unlock_bh(&keypairs->keypair_update_lock);
	return true;
}

bool wg_noise_received_with_keypair(struct noise_keypairs *keypairs,
				    struct noise_keypair *received_keypair)
{
	struct noise_keypair *next, *previous;

	/* The common case, without the lock: it was not "next". */
	if (likely(rcu_access_pointer(keypairs->next_keypair) !=
		   received_keypair))
		return false;

	spin_lock_bh(&keypairs->keypair_update_lock);
	next = keypair_slot(keypairs, &keypairs->next_keypair);
	if (unlikely(next != received_keypair)) {
		spin_unlock_bh(&keypairs->keypair_update_lock);
		return false;
	}
	previous = keypair_slot(keypairs, &keypairs->previous_keypair);
	rcu_assign_pointer(keypairs->previous_keypair,
			   keypair_slot(keypairs, &keypairs->current_keypair));
	wg_noise_keypair_put(previous, true);
	rcu_assign_pointer(keypairs->current_keypair, next);
	RCU_INIT_POINTER(keypairs->next_keypair, NULL);
	spin_unlock_bh(&keypairs->keypair_update_lock);
	return true;
}

/*
 * "next" is invalidated too: once promoted it would otherwise send with a
 * session made before whatever made us expire current (e.g. a key change).
 */
void wg_noise_expire_current_peer_keypairs(struct wg_peer *peer)
{
	struct noise_keypairs *keypairs = &peer->keypairs;
	struct noise_keypair *keypair;

	spin_lock_bh(&keypairs->keypair_update_lock);
	keypair = keypair_slot(keypairs, &keypairs->next_keypair);
	if (keypair)
		WRITE_ONCE(keypair->sending.is_valid, false);
	keypair = keypair_slot(keypairs, &keypairs->current_keypair);
	if (keypair)
		WRITE_ONCE(keypair->sending.is_valid, false);
	spin_unlock_bh(&keypairs->keypair_update_lock);
}

/* The handshake messages. */

/*
 * A removed peer must not get a new index: its removal clears the
 * handshake under the handshake's lock after setting is_dead, so checking
 * under that lock closes the race.
 */
static bool handshake_peer_is_dead(struct noise_handshake *handshake)
{
	return READ_ONCE(handshake->entry.peer->is_dead);
}

bool wg_noise_handshake_create_initiation(struct message_handshake_initiation *dst,
					  struct noise_handshake *handshake)
{
	struct noise_static_identity *identity = handshake->static_identity;
	u8 timestamp[NOISE_TIMESTAMP_LEN];
	u8 key[NOISE_SYMMETRIC_KEY_LEN];
	bool ok = false;

	down_read(&identity->lock);
	down_write(&handshake->lock);
	if (!identity->has_identity || handshake_peer_is_dead(handshake))
		goto out;

	dst->header.type = cpu_to_le32(MESSAGE_HANDSHAKE_INITIATION);
	handshake_start(handshake->chaining_key, handshake->hash,
			handshake->remote_static);

	/* e */
	curve25519_generate_secret(handshake->ephemeral_private);
	if (!curve25519_generate_public(dst->unencrypted_ephemeral,
					handshake->ephemeral_private))
		goto out;
	mix_ephemeral(handshake->chaining_key, handshake->hash,
		      dst->unencrypted_ephemeral);

	/* es, then our static key under it */
	if (!mix_dh(handshake->chaining_key, key, handshake->ephemeral_private,
		    handshake->remote_static))
		goto out;
	encrypt_and_hash(dst->encrypted_static, identity->static_public,
			 NOISE_PUBLIC_KEY_LEN, key, handshake->hash);

	/* ss, then the timestamp under it */
	if (!mix_precomputed_dh(handshake->chaining_key, key,
				handshake->precomputed_static_static))
		goto out;
	tai64n_now(timestamp);
	encrypt_and_hash(dst->encrypted_timestamp, timestamp,
			 NOISE_TIMESTAMP_LEN, key, handshake->hash);

	/* A new index: answers to an earlier initiation no longer match. */
	dst->sender_index = wg_index_hashtable_insert(handshake_index_table(handshake),
						      &handshake->entry);
	handshake->state = HANDSHAKE_CREATED_INITIATION;
	ok = true;

out:
	if (!ok)
		handshake_zero(handshake);
	up_write(&handshake->lock);
	up_read(&identity->lock);
	memzero_explicit(key, sizeof(key));
	return ok;
}

/* Whether this initiation comes too soon after the last one we took. */
static bool initiation_is_flood(const struct noise_handshake *handshake,
				u64 now)
{
	u64 last = handshake->last_initiation_consumption;

	return last && now < last + NSEC_PER_SEC / INITIATIONS_PER_SECOND;
}

/* What an initiation tells the responder, once decrypted. */
struct initiation_secrets {
	u8 chaining_key[NOISE_HASH_LEN];
	u8 hash[NOISE_HASH_LEN];
	u8 key[NOISE_SYMMETRIC_KEY_LEN];
	u8 ephemeral[NOISE_PUBLIC_KEY_LEN];
	u8 initiator_static[NOISE_PUBLIC_KEY_LEN];
	u8 timestamp[NOISE_TIMESTAMP_LEN];
};

/* Up to the initiator's static key, which names the peer.  Identity held. */
static bool initiation_open_static(struct message_handshake_initiation *src,
				   struct noise_static_identity *identity,
				   struct initiation_secrets *s)
{
	handshake_start(s->chaining_key, s->hash, identity->static_public);
	memcpy(s->ephemeral, src->unencrypted_ephemeral, NOISE_PUBLIC_KEY_LEN);
	mix_ephemeral(s->chaining_key, s->hash, s->ephemeral);
	if (!mix_dh(s->chaining_key, s->key, identity->static_private,
		    s->ephemeral))
		return false;
	return decrypt_and_hash(s->initiator_static, src->encrypted_static,
				sizeof(src->encrypted_static), s->key, s->hash);
}

/* The rest, with the peer's precomputed DH(static, static). */
static bool initiation_open_timestamp(struct message_handshake_initiation *src,
				      struct noise_handshake *handshake,
				      struct initiation_secrets *s)
{
	bool ok;

	down_read(&handshake->lock);
	ok = mix_precomputed_dh(s->chaining_key, s->key,
				handshake->precomputed_static_static);
	up_read(&handshake->lock);
	return ok && decrypt_and_hash(s->timestamp, src->encrypted_timestamp,
				      sizeof(src->encrypted_timestamp), s->key,
				      s->hash);
}

/* Replay and flood checks, then the handshake moves on.  Atomically. */
static bool initiation_accept(struct message_handshake_initiation *src,
			      struct noise_handshake *handshake,
			      struct initiation_secrets *s)
{
	u64 now = ktime_get_coarse_boottime_ns();
	bool ok = false;

	down_write(&handshake->lock);
	/* Big endian, so byte order is time order. */
	if (memcmp(s->timestamp, handshake->latest_timestamp,
		   NOISE_TIMESTAMP_LEN) <= 0)
		goto out;
	if (initiation_is_flood(handshake, now))
		goto out;

	memcpy(handshake->latest_timestamp, s->timestamp, NOISE_TIMESTAMP_LEN);
	handshake->last_initiation_consumption = now;
	memcpy(handshake->remote_ephemeral, s->ephemeral, NOISE_PUBLIC_KEY_LEN);
	memcpy(handshake->chaining_key, s->chaining_key, NOISE_HASH_LEN);
	memcpy(handshake->hash, s->hash, NOISE_HASH_LEN);
	handshake->remote_index = src->sender_index;
	handshake->state = HANDSHAKE_CONSUMED_INITIATION;
	ok = true;
out:
	up_write(&handshake->lock);
	return ok;
}

struct wg_peer *wg_noise_handshake_consume_initiation(struct message_handshake_initiation *src,
						      struct wg_device *wg)
{
	struct noise_static_identity *identity = &wg->static_identity;
	struct initiation_secrets *s;
	struct wg_peer *peer = NULL;

	/* Too much for the stack of a worker that also does crypto. */
	s = kmalloc(sizeof(*s), GFP_KERNEL);
	if (!s)
		return NULL;

	down_read(&identity->lock);
	if (!identity->has_identity ||
	    !initiation_open_static(src, identity, s))
		goto out;

	peer = wg_pubkey_hashtable_lookup(wg->peer_hashtable,
					  s->initiator_static);
	if (!peer)
		goto out;
	if (!initiation_open_timestamp(src, &peer->handshake, s) ||
	    !initiation_accept(src, &peer->handshake, s)) {
		wg_peer_put(peer);
		peer = NULL;
	}
out:
	up_read(&identity->lock);
	kfree_sensitive(s);
	return peer;
}

bool wg_noise_handshake_create_response(struct message_handshake_response *dst,
					struct noise_handshake *handshake)
{
	struct noise_static_identity *identity = handshake->static_identity;
	u8 key[NOISE_SYMMETRIC_KEY_LEN];
	bool ok = false;

	down_read(&identity->lock);
	down_write(&handshake->lock);
	if (!identity->has_identity || handshake_peer_is_dead(handshake) ||
	    handshake->state != HANDSHAKE_CONSUMED_INITIATION)
		goto out;

	dst->header.type = cpu_to_le32(MESSAGE_HANDSHAKE_RESPONSE);
	dst->receiver_index = handshake->remote_index;

	/* e */
	curve25519_generate_secret(handshake->ephemeral_private);
	if (!curve25519_generate_public(dst->unencrypted_ephemeral,
					handshake->ephemeral_private))
		goto out;
	mix_ephemeral(handshake->chaining_key, handshake->hash,
		      dst->unencrypted_ephemeral);

	/* ee, se */
	if (!mix_dh(handshake->chaining_key, NULL, handshake->ephemeral_private,
		    handshake->remote_ephemeral) ||
	    !mix_dh(handshake->chaining_key, NULL, handshake->ephemeral_private,
		    handshake->remote_static))
		goto out;

	/* psk, then the empty payload that authenticates all of it */
	mix_psk(handshake->chaining_key, handshake->hash, key,
		handshake->preshared_key);
	encrypt_and_hash(dst->encrypted_nothing, NULL, 0, key, handshake->hash);

	dst->sender_index = wg_index_hashtable_insert(handshake_index_table(handshake),
						      &handshake->entry);
	handshake->state = HANDSHAKE_CREATED_RESPONSE;
	ok = true;
out:
	if (!ok)
		handshake_zero(handshake);
	up_write(&handshake->lock);
	up_read(&identity->lock);
	memzero_explicit(key, sizeof(key));
	return ok;
}

/* What the initiator needs of its handshake to read a response. */
struct response_secrets {
	u8 chaining_key[NOISE_HASH_LEN];
	u8 hash[NOISE_HASH_LEN];
	u8 key[NOISE_SYMMETRIC_KEY_LEN];
	u8 ephemeral_private[NOISE_PUBLIC_KEY_LEN];
	u8 preshared_key[NOISE_SYMMETRIC_KEY_LEN];
	u8 remote_ephemeral[NOISE_PUBLIC_KEY_LEN];
};

/* Copies the state so that the DHs run without the handshake's lock. */
static bool response_snapshot(struct noise_handshake *handshake,
			      struct response_secrets *s)
{
	bool ok;

	down_read(&handshake->lock);
	ok = handshake->state == HANDSHAKE_CREATED_INITIATION;
	memcpy(s->chaining_key, handshake->chaining_key, NOISE_HASH_LEN);
	memcpy(s->hash, handshake->hash, NOISE_HASH_LEN);
	memcpy(s->ephemeral_private, handshake->ephemeral_private,
	       NOISE_PUBLIC_KEY_LEN);
	memcpy(s->preshared_key, handshake->preshared_key,
	       NOISE_SYMMETRIC_KEY_LEN);
	up_read(&handshake->lock);
	return ok;
}

static bool response_open(struct message_handshake_response *src,
			  struct noise_static_identity *identity,
			  struct response_secrets *s)
{
	memcpy(s->remote_ephemeral, src->unencrypted_ephemeral,
	       NOISE_PUBLIC_KEY_LEN);
	mix_ephemeral(s->chaining_key, s->hash, s->remote_ephemeral);
	/* ee, se */
	if (!mix_dh(s->chaining_key, NULL, s->ephemeral_private,
		    s->remote_ephemeral) ||
	    !mix_dh(s->chaining_key, NULL, identity->static_private,
		    s->remote_ephemeral))
		return false;
	mix_psk(s->chaining_key, s->hash, s->key, s->preshared_key);
	return decrypt_and_hash(NULL, src->encrypted_nothing,
				sizeof(src->encrypted_nothing), s->key,
				s->hash);
}

/*
 * Commits, unless the handshake moved on meanwhile (another response, or a
 * new initiation with a new index).
 */
static bool response_accept(struct message_handshake_response *src,
			    struct noise_handshake *handshake,
			    struct response_secrets *s)
{
	bool ok = false;

	down_write(&handshake->lock);
	if (handshake->state != HANDSHAKE_CREATED_INITIATION ||
	    handshake->entry.index != src->receiver_index ||
	    crypto_memneq(handshake->ephemeral_private, s->ephemeral_private,
			  NOISE_PUBLIC_KEY_LEN))
		goto out;
	memcpy(handshake->remote_ephemeral, s->remote_ephemeral,
	       NOISE_PUBLIC_KEY_LEN);
	memcpy(handshake->chaining_key, s->chaining_key, NOISE_HASH_LEN);
	memcpy(handshake->hash, s->hash, NOISE_HASH_LEN);
	handshake->remote_index = src->sender_index;
	handshake->state = HANDSHAKE_CONSUMED_RESPONSE;
	ok = true;
out:
	up_write(&handshake->lock);
	return ok;
}

struct wg_peer *wg_noise_handshake_consume_response(struct message_handshake_response *src,
						    struct wg_device *wg)
{
	struct noise_static_identity *identity = &wg->static_identity;
	struct index_hashtable_entry *entry;
	struct noise_handshake *handshake;
	struct response_secrets *s;
	struct wg_peer *peer = NULL;

	s = kmalloc(sizeof(*s), GFP_KERNEL);
	if (!s)
		return NULL;

	down_read(&identity->lock);
	if (!identity->has_identity)
		goto out;
	entry = wg_index_hashtable_lookup(wg->index_hashtable,
					  INDEX_HASHTABLE_HANDSHAKE,
					  src->receiver_index, &peer);
	if (!entry)
		goto out;
	handshake = container_of(entry, struct noise_handshake, entry);

	if (!response_snapshot(handshake, s) ||
	    !response_open(src, identity, s) ||
	    !response_accept(src, handshake, s)) {
		wg_peer_put(peer);
		peer = NULL;
	}
out:
	up_read(&identity->lock);
	kfree_sensitive(s);
	return peer;
}

static void derive_session_keys(struct noise_keypair *keypair,
				const u8 chaining_key[NOISE_HASH_LEN])
{
	struct noise_symmetric_key *first, *second;
	u64 now = ktime_get_coarse_boottime_ns();

	/* (T_send, T_recv) for the initiator, the other way round for us. */
	if (keypair->i_am_the_initiator) {
		first = &keypair->sending;
		second = &keypair->receiving;
	} else {
		first = &keypair->receiving;
		second = &keypair->sending;
	}
	kdf(first->key, second->key, NULL, NULL, 0, chaining_key);
	first->birthdate = now;
	second->birthdate = now;
	first->is_valid = true;
	second->is_valid = true;
}

static struct noise_keypair *keypair_alloc(struct wg_peer *peer)
{
	struct noise_keypair *keypair = kzalloc(sizeof(*keypair), GFP_KERNEL);

	if (!keypair)
		return NULL;
	INIT_HLIST_NODE(&keypair->entry.index_hash);
	keypair->entry.type = INDEX_HASHTABLE_KEYPAIR;
	keypair->entry.peer = peer;
	spin_lock_init(&keypair->receiving_counter.lock);
	kref_init(&keypair->refcount);
	keypair->internal_id = atomic64_inc_return(&keypair_id_counter);
	return keypair;
}

bool wg_noise_handshake_begin_session(struct noise_handshake *handshake,
				      struct noise_keypairs *keypairs)
{
	struct noise_keypair *keypair;
	bool ok = false;

	keypair = keypair_alloc(handshake->entry.peer);
	if (!keypair)
		return false;

	down_write(&handshake->lock);
	if (handshake->state != HANDSHAKE_CREATED_RESPONSE &&
	    handshake->state != HANDSHAKE_CONSUMED_RESPONSE)
		goto out;

	keypair->i_am_the_initiator =
		handshake->state == HANDSHAKE_CONSUMED_RESPONSE;
	keypair->remote_index = handshake->remote_index;
	derive_session_keys(keypair, handshake->chaining_key);

	/* The session answers to the index the handshake announced. */
	if (!wg_index_hashtable_replace(handshake_index_table(handshake),
					&handshake->entry, &keypair->entry))
		goto out;
	handshake_zero(handshake);
	if (!keypairs_add(keypairs, keypair)) {
		up_write(&handshake->lock);
		/* Hashed already: unhash it, and free it after RCU. */
		wg_noise_keypair_put(keypair, true);
		return false;
	}
	ok = true;
out:
	up_write(&handshake->lock);
	if (!ok)
		kfree_sensitive(keypair);
	return ok;
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
