/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Noise_IKpsk2: the handshake, and the session keys it yields.
 *
 * Protocol: Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s, with the construction,
 * identifier and labels of the WireGuard whitepaper, section 5.4.
 */
#ifndef _WG_NOISE_H
#define _WG_NOISE_H

#include <linux/atomic.h>
#include <linux/kref.h>
#include <linux/mutex.h>
#include <linux/rwsem.h>
#include <linux/spinlock.h>
#include <linux/types.h>

#include "cookie.h"
#include "messages.h"
#include "peerlookup.h"

struct wg_peer;
struct wg_device;

/* The device's own long-term key pair. */
struct noise_static_identity {
	u8 static_public[NOISE_PUBLIC_KEY_LEN];
	u8 static_private[NOISE_PUBLIC_KEY_LEN];
	struct rw_semaphore lock;
	bool has_identity;
	struct wg_cookie_keys cookie_keys;	/* of static_public */
};

/* A sliding window over the receive counters of one session. */
struct noise_replay_counter {
	u64 counter;		/* the highest counter accepted so far + 1 */
	spinlock_t lock;
	unsigned long backtrack[COUNTER_BITS_TOTAL / BITS_PER_LONG];
};

struct noise_symmetric_key {
	u8 key[NOISE_SYMMETRIC_KEY_LEN];
	u64 birthdate;		/* ktime_get_coarse_boottime_ns() */
	bool is_valid;
};

/* One session: the keys of both directions and their counters. */
struct noise_keypair {
	struct wg_index entry;	/* our index, for receivers */
	struct noise_symmetric_key sending;
	atomic64_t sending_counter;
	struct noise_symmetric_key receiving;
	struct noise_replay_counter receiving_counter;
	__le32 remote_index;
	bool i_am_the_initiator;
	struct kref refcount;
	struct rcu_head rcu;
	u64 internal_id;
};

/*
 * The sessions of a peer.  Readers use RCU; writers hold
 * keypair_update_lock.  "next" is a session we answered but the initiator
 * has not used yet; it becomes "current" on the first data packet.
 */
struct noise_keypairs {
	struct noise_keypair __rcu *current_keypair;
	struct noise_keypair __rcu *previous_keypair;
	struct noise_keypair __rcu *next_keypair;
	/* Serializes writers of the three pointers. */
	spinlock_t keypair_update_lock;
};

enum noise_handshake_state {
	HANDSHAKE_ZEROED,
	HANDSHAKE_CREATED_INITIATION,
	HANDSHAKE_CONSUMED_INITIATION,
	HANDSHAKE_CREATED_RESPONSE,
	HANDSHAKE_CONSUMED_RESPONSE
};

/* The handshake state of one peer, under its lock. */
struct noise_handshake {
	struct wg_index entry;	/* our sender index */
	enum noise_handshake_state state;
	u64 last_initiation_consumption;	/* ktime_get_coarse_boottime_ns */

	struct noise_static_identity *static_identity;

	u8 ephemeral_private[NOISE_PUBLIC_KEY_LEN];
	u8 remote_static[NOISE_PUBLIC_KEY_LEN];
	u8 remote_ephemeral[NOISE_PUBLIC_KEY_LEN];
	/* DH(our static, their static), computed once per key change. */
	u8 precomputed_static_static[NOISE_PUBLIC_KEY_LEN];
	u8 preshared_key[NOISE_SYMMETRIC_KEY_LEN];

	u8 hash[NOISE_HASH_LEN];
	u8 chaining_key[NOISE_HASH_LEN];

	/* The greatest TAI64N timestamp accepted from this peer. */
	u8 latest_timestamp[NOISE_TIMESTAMP_LEN];
	__le32 remote_index;

	struct rw_semaphore lock;
};

void wg_noise_init(void);

/* The static identity (the device's key pair). */
void wg_noise_static_identity_init(struct noise_static_identity *identity);
void wg_noise_set_static_identity_private_key(struct noise_static_identity *identity,
					      const u8 private_key[NOISE_PUBLIC_KEY_LEN]);
void wg_noise_static_identity_clear(struct noise_static_identity *identity);

/* A peer's handshake state. */
void wg_noise_handshake_init(struct noise_handshake *handshake,
			     struct noise_static_identity *static_identity,
			     const u8 peer_public_key[NOISE_PUBLIC_KEY_LEN],
			     const u8 peer_preshared_key[NOISE_SYMMETRIC_KEY_LEN],
			     struct wg_peer *peer);
/* Forget any handshake in progress (and its index). */
void wg_noise_handshake_clear(struct noise_handshake *handshake);
/* Recompute DH(static, static) after our private key changed. */
void wg_noise_precompute_static_static(struct wg_peer *peer);
void wg_noise_set_preshared_key(struct noise_handshake *handshake,
				const u8 preshared_key[NOISE_SYMMETRIC_KEY_LEN]);

/* Sessions. */
void wg_noise_keypairs_init(struct noise_keypairs *keypairs);
/* Drop every session (their indices too); used on key changes and expiry. */
void wg_noise_keypairs_clear(struct noise_keypairs *keypairs);
struct noise_keypair *wg_noise_keypair_get(struct noise_keypair *keypair);
void wg_noise_keypair_put(struct noise_keypair *keypair, bool unreference_now);
/*
 * The first data packet under "next" proves the initiator has the keys:
 * promote it.  Returns true when @received_keypair was "next".
 */
bool wg_noise_received_with_keypair(struct noise_keypairs *keypairs,
				    struct noise_keypair *received_keypair);
/* Marks the current session as unusable for sending (e.g. it is too old). */
void wg_noise_expire_current_peer_keypairs(struct wg_peer *peer);

/*
 * The handshake messages.  Each create_* fills @dst (without MACs: the
 * cookie layer adds those) and returns true on success.  consume_* verify
 * and return the peer the message is from (referenced) or NULL.
 */
bool wg_noise_handshake_create_initiation(struct message_handshake_initiation *dst,
					  struct noise_handshake *handshake);
struct wg_peer *wg_noise_handshake_consume_initiation(struct message_handshake_initiation *src,
						      struct wg_device *wg);
bool wg_noise_handshake_create_response(struct message_handshake_response *dst,
					struct noise_handshake *handshake);
struct wg_peer *wg_noise_handshake_consume_response(struct message_handshake_response *src,
						    struct wg_device *wg);
/*
 * Turns a completed handshake into a session of the peer.  Returns false
 * when the handshake was not in a state that allows it.
 */
bool wg_noise_handshake_begin_session(struct noise_handshake *handshake,
				      struct noise_keypairs *keypairs);

/*
 * The replay window: whether a data packet with @their_counter may be
 * accepted (it is new and within the window), recording it if so.  The
 * caller has authenticated the packet.
 */
bool wg_noise_counter_validate(struct noise_replay_counter *counter,
			       u64 their_counter);

#ifdef CONFIG_WIREGUARD_DEBUG
bool wg_noise_counter_selftest(void);
bool wg_noise_handshake_selftest(void);
#endif

#endif /* _WG_NOISE_H */
