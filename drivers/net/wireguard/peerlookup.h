/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Finding a device's peers: by public key (configuration, handshakes) and by
 * the 32-bit session index a message names (the data path).
 */
#ifndef _WG_PEERLOOKUP_H
#define _WG_PEERLOOKUP_H

#include <linux/hashtable.h>
#include <linux/mutex.h>
#include <linux/siphash.h>
#include <crypto/curve25519.h>

struct wg_peer;

struct pubkey_hashtable {
	/* Sized for ten thousands of peers at a few per bucket. */
	DECLARE_HASHTABLE(hashtable, 13);
	siphash_key_t key;
	/* Serializes writers; readers use RCU. */
	struct mutex lock;
};

struct pubkey_hashtable *wg_pubkey_hashtable_alloc(void);
void wg_pubkey_hashtable_free(struct pubkey_hashtable *table);
void wg_pubkey_hashtable_add(struct pubkey_hashtable *table,
			     struct wg_peer *peer);
void wg_pubkey_hashtable_remove(struct pubkey_hashtable *table,
				struct wg_peer *peer);
/* The peer with that key, referenced, or NULL. */
struct wg_peer *wg_pubkey_hashtable_lookup(struct pubkey_hashtable *table,
					   const u8 pubkey[CURVE25519_KEY_SIZE]);

/*
 * Session indices.  Each handshake in progress and each session holds one
 * random index, unique on the device, that the other side puts in its
 * messages to name it.
 */
enum index_hashtable_type {
	INDEX_HASHTABLE_HANDSHAKE = 1U << 0,
	INDEX_HASHTABLE_KEYPAIR = 1U << 1
};

struct index_hashtable_entry {
	struct wg_peer *peer;
	struct hlist_node index_hash;
	enum index_hashtable_type type;
	__le32 index;
};

struct index_hashtable {
	DECLARE_HASHTABLE(hashtable, 13);
	/* Serializes writers; readers use RCU. */
	spinlock_t lock;
};

struct index_hashtable *wg_index_hashtable_alloc(void);
void wg_index_hashtable_free(struct index_hashtable *table);
/* Gives @entry a fresh random index and publishes it; returns the index. */
__le32 wg_index_hashtable_insert(struct index_hashtable *table,
				 struct index_hashtable_entry *entry);
/* Makes @new take over the index of @old (handshake -> session). */
bool wg_index_hashtable_replace(struct index_hashtable *table,
				struct index_hashtable_entry *old,
				struct index_hashtable_entry *new);
void wg_index_hashtable_remove(struct index_hashtable *table,
			       struct index_hashtable_entry *entry);
/*
 * The entry of that index if its type is in @type_mask, with a reference on
 * its peer in *@peer; NULL otherwise.  Under rcu_read_lock_bh().
 */
struct index_hashtable_entry *
wg_index_hashtable_lookup(struct index_hashtable *table,
			  const enum index_hashtable_type type_mask,
			  const __le32 index, struct wg_peer **peer);

#endif /* _WG_PEERLOOKUP_H */
