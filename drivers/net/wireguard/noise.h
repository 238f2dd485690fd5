/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s as the WireGuard whitepaper
 * (section 5.4) instantiates it: the device's static identity, a peer's
 * handshake, and the sessions ("keypairs") handshakes yield.
 *
 * Ownership and locks, outermost first:
 *  1. noise_static_identity.lock (rwsem): written only by a key change,
 *     which is computed beforehand and published in one step under it
 *     (wg_noise_change_identity()).  Every handshake operation holds it for
 *     reading from start to end, so no message mixes two keys.
 *  2. noise_handshake.lock (rwsem): everything in the handshake but the
 *     peer's public key, which never changes.  The slow parts (the DHs) of
 *     consuming a message run on a private copy of the symmetric state and
 *     commit under the lock only if the handshake has not moved meanwhile.
 *  3. noise_keypairs.lock (spinlock, BH): the three session slots.  The
 *     data path reads them under RCU.
 */
#ifndef _WG_NOISE_H
#define _WG_NOISE_H

#include <linux/atomic.h>
#include <linux/kref.h>
#include <linux/rwsem.h>
#include <linux/spinlock.h>
#include <linux/types.h>

#include "cookie.h"
#include "messages.h"
#include "peerlookup.h"

struct wg_peer;
struct wg_device;

/* The device's long-term key pair, and the cookie keys of its public key. */
struct noise_static_identity {
	struct rw_semaphore lock;
	bool has_identity;
	u8 static_private[NOISE_PUBLIC_KEY_LEN];
	u8 static_public[NOISE_PUBLIC_KEY_LEN];
	struct wg_cookie_keys cookie_keys;
};

/* Noise's SymmetricState: ck, h and the current k. */
struct noise_symmetric_state {
	u8 chaining_key[NOISE_HASH_LEN];
	u8 hash[NOISE_HASH_LEN];
	u8 key[NOISE_SYMMETRIC_KEY_LEN];
};

/* Where a peer's handshake stands, from our side. */
enum noise_handshake_stage {
	NOISE_IDLE,
	NOISE_INITIATION_SENT,		/* waiting for the response */
	NOISE_INITIATION_RECEIVED,	/* about to respond */
	NOISE_RESPONSE_SENT,		/* the session can begin (as responder) */
	NOISE_RESPONSE_RECEIVED,	/* the session can begin (as initiator) */
};

struct noise_handshake {
	struct rw_semaphore lock;
	enum noise_handshake_stage stage;
	struct noise_symmetric_state symmetric;
	u8 ephemeral_private[NOISE_PUBLIC_KEY_LEN];
	u8 remote_ephemeral[NOISE_PUBLIC_KEY_LEN];
	__le32 remote_index;
	/* Names the handshake to the peer while it is in flight. */
	struct wg_index index;

	/* What the configuration sets: */
	u8 remote_static[NOISE_PUBLIC_KEY_LEN];		/* fixed */
	u8 preshared_key[NOISE_SYMMETRIC_KEY_LEN];
	/* DH(our static, their static); all zero if unusable. */
	u8 static_static[NOISE_PUBLIC_KEY_LEN];

	/* Replay and flood protection of the initiations we accept. */
	u8 newest_timestamp[NOISE_TIMESTAMP_LEN];	/* TAI64N, big endian */
	u64 last_initiation_at;				/* boottime ns; 0: none */

	struct noise_static_identity *identity;
};

/* A sliding window over the receive counters of one session. */
struct noise_replay_counter {
	spinlock_t lock;	/* counter and backtrack */
	u64 counter;		/* the highest counter accepted so far + 1 */
	unsigned long backtrack[COUNTER_BITS_TOTAL / BITS_PER_LONG];
};

/* One direction of a session. */
struct noise_symmetric_key {
	u8 key[NOISE_SYMMETRIC_KEY_LEN];
	u64 birthdate;		/* boottime ns */
	bool is_valid;
};

/* A session: grouped by which side of the data path reads what. */
struct noise_keypair {
	/* Sending. */
	struct noise_symmetric_key sending;
	atomic64_t sending_counter;
	__le32 remote_index;
	bool i_am_the_initiator;

	/* Receiving. */
	struct noise_symmetric_key receiving;
	struct noise_replay_counter receiving_counter;

	/* Lifetime: listed under our index until retired, freed after RCU. */
	struct wg_index entry;
	struct kref refcount;
	struct rcu_head rcu;
	u64 internal_id;
};

/*
 * A peer's sessions, in three slots.  The rules (noise.c, "Sessions"):
 *  - a handshake we initiated completes: its session becomes current at
 *    once (the response proves the responder has it); the old current (or
 *    an unconfirmed next, which is newer) is kept as previous.
 *  - a handshake we answered completes: its session waits in next, for
 *    receiving only, until the initiator proves it has it too;
 *  - the first data packet under next promotes it: next -> current ->
 *    previous, and the old previous goes.
 * Whatever a rule leaves out of the slots is retired: unlisted at once,
 * freed when the last packet using it is done.
 */
struct noise_keypairs {
	struct noise_keypair __rcu *next_keypair;
	struct noise_keypair __rcu *current_keypair;
	struct noise_keypair __rcu *previous_keypair;
	spinlock_t lock;	/* writers of the slots */
};

void wg_noise_init(void);

/* The static identity. */
void wg_noise_static_identity_init(struct noise_static_identity *identity);
void wg_noise_static_identity_clear(struct noise_static_identity *identity);
/*
 * Makes @private_key (all zero: none) the device's key, atomically for
 * every peer: their DH(static, static) and handshakes in progress change
 * with it.  Under the device's configuration lock; -ENOMEM changes nothing.
 */
int wg_noise_change_identity(struct wg_device *wg,
			     const u8 private_key[NOISE_PUBLIC_KEY_LEN]);

/* A peer's handshake. */
void wg_noise_handshake_init(struct noise_handshake *handshake,
			     struct noise_static_identity *identity,
			     const u8 peer_public_key[NOISE_PUBLIC_KEY_LEN],
			     const u8 preshared_key[NOISE_SYMMETRIC_KEY_LEN],
			     struct wg_peer *peer);
/* Forgets any handshake in progress (and its index). */
void wg_noise_handshake_clear(struct noise_handshake *handshake);
void wg_noise_set_preshared_key(struct noise_handshake *handshake,
				const u8 preshared_key[NOISE_SYMMETRIC_KEY_LEN]);

/*
 * The handshake messages.  create_* fill @dst but its MACs (cookie.c adds
 * those) and return false when no message can be made; consume_* return
 * the peer a valid message is from, with a reference, or NULL.
 */
bool wg_noise_handshake_create_initiation(struct message_handshake_initiation *dst,
					  struct noise_handshake *handshake);
struct wg_peer *wg_noise_handshake_consume_initiation(struct message_handshake_initiation *src,
						      struct wg_device *wg);
bool wg_noise_handshake_create_response(struct message_handshake_response *dst,
					struct noise_handshake *handshake);
struct wg_peer *wg_noise_handshake_consume_response(struct message_handshake_response *src,
						    struct wg_device *wg);
/* Turns a completed handshake into a session; false if it is not one. */
bool wg_noise_handshake_begin_session(struct noise_handshake *handshake,
				      struct noise_keypairs *keypairs);

/* Sessions. */
void wg_noise_keypairs_init(struct noise_keypairs *keypairs);
void wg_noise_keypairs_clear(struct noise_keypairs *keypairs);
struct noise_keypair *wg_noise_keypair_get(struct noise_keypair *keypair);
/* @retire: also unlist it now, not when its last packet is done. */
void wg_noise_keypair_put(struct noise_keypair *keypair, bool retire);
/* A data packet came under @keypair: true if that promoted it from next. */
bool wg_noise_received_with_keypair(struct noise_keypairs *keypairs,
				    struct noise_keypair *keypair);
/* Stops sending with current and next (they predate a key change). */
void wg_noise_expire_current_peer_keypairs(struct wg_peer *peer);

/*
 * Whether an authenticated data packet with @their_counter is new and
 * inside the window, recording it if so.
 */
bool wg_noise_counter_validate(struct noise_replay_counter *counter,
			       u64 their_counter);

#ifdef CONFIG_WIREGUARD_DEBUG
bool wg_noise_counter_selftest(void);
bool wg_noise_handshake_selftest(void);
#endif

#endif /* _WG_NOISE_H */
