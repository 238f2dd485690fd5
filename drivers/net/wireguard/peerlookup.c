// SPDX-License-Identifier: GPL-2.0
/*
 * Finding a device's peers by public key.  Readers use RCU; writers hold the
 * table's own mutex (they already hold the device's config lock, but the
 * table does not need to know about devices).
 */
#include <linux/random.h>
#include <linux/slab.h>
#include <crypto/algapi.h>

#include "peer.h"
#include "peerlookup.h"

static u32 pubkey_bucket(struct pubkey_hashtable *table,
			 const u8 pubkey[NOISE_PUBLIC_KEY_LEN])
{
	/* The key is secret so that nobody can aim peers at one bucket. */
	return siphash(pubkey, NOISE_PUBLIC_KEY_LEN, &table->key);
}

struct pubkey_hashtable *wg_pubkey_hashtable_alloc(void)
{
	struct pubkey_hashtable *table = kvmalloc(sizeof(*table), GFP_KERNEL);

	if (!table)
		return NULL;
	get_random_bytes(&table->key, sizeof(table->key));
	hash_init(table->hashtable);
	mutex_init(&table->lock);
	return table;
}

void wg_pubkey_hashtable_free(struct pubkey_hashtable *table)
{
	kvfree(table);
}

void wg_pubkey_hashtable_add(struct pubkey_hashtable *table,
			     struct wg_peer *peer)
{
	mutex_lock(&table->lock);
	hash_add_rcu(table->hashtable, &peer->pubkey_hash,
		     pubkey_bucket(table, peer->public_key));
	mutex_unlock(&table->lock);
}

void wg_pubkey_hashtable_remove(struct pubkey_hashtable *table,
				struct wg_peer *peer)
{
	mutex_lock(&table->lock);
	hash_del_rcu(&peer->pubkey_hash);
	mutex_unlock(&table->lock);
}

struct wg_peer *wg_pubkey_hashtable_lookup(struct pubkey_hashtable *table,
					   const u8 pubkey[NOISE_PUBLIC_KEY_LEN])
{
	struct wg_peer *iter, *found = NULL;

	rcu_read_lock_bh();
	hash_for_each_possible_rcu(table->hashtable, iter, pubkey_hash,
				   pubkey_bucket(table, pubkey)) {
		if (!crypto_memneq(pubkey, iter->public_key,
				   NOISE_PUBLIC_KEY_LEN)) {
			found = wg_peer_get_maybe_zero(iter);
			break;
		}
	}
	rcu_read_unlock_bh();
	return found;
}

/*
 * Session indices.  The indices are random, so their low bits already
 * spread them over the buckets.  Writers hold the table's spinlock (with
 * bottom halves off: keypairs are released from the data path); readers
 * use RCU.
 */
struct index_hashtable *wg_index_hashtable_alloc(void)
{
	struct index_hashtable *table = kvmalloc(sizeof(*table), GFP_KERNEL);

	if (!table)
		return NULL;
	hash_init(table->hashtable);
	spin_lock_init(&table->lock);
	return table;
}

void wg_index_hashtable_free(struct index_hashtable *table)
{
	kvfree(table);
}

#define index_bucket_key(index) ((__force u32)(index))

/* Under table->lock. */
static bool index_is_taken(struct index_hashtable *table, __le32 index)
{
	struct index_hashtable_entry *iter;

	hash_for_each_possible(table->hashtable, iter, index_hash,
			       index_bucket_key(index)) {
		if (iter->index == index)
			return true;
	}
	return false;
}

__le32 wg_index_hashtable_insert(struct index_hashtable *table,
				 struct index_hashtable_entry *entry)
{
	__le32 index;

	spin_lock_bh(&table->lock);
	/*
	 * Its old index named a handshake that is over.  A reader standing on
	 * the entry may wander into its new bucket and miss the rest of the
	 * old one: a lost packet at worst, never a loop.
	 */
	hash_del_rcu(&entry->index_hash);
	/* Even a million peers use a tiny part of 2^32: this ends quickly. */
	do {
		index = (__force __le32)get_random_u32();
	} while (index_is_taken(table, index));
	entry->index = index;
	hash_add_rcu(table->hashtable, &entry->index_hash,
		     index_bucket_key(index));
	spin_unlock_bh(&table->lock);
	return index;
}

bool wg_index_hashtable_replace(struct index_hashtable *table,
				struct index_hashtable_entry *old,
				struct index_hashtable_entry *new)
{
	bool replaced = false;

	spin_lock_bh(&table->lock);
	if (hlist_unhashed(&old->index_hash))
		goto out;
	new->index = old->index;
	hlist_replace_rcu(&old->index_hash, &new->index_hash);
	/*
	 * Mark @old unhashed, but leave its next pointer: a reader standing
	 * on it must still reach the rest of the bucket.
	 */
	WRITE_ONCE(old->index_hash.pprev, NULL);
	replaced = true;
out:
	spin_unlock_bh(&table->lock);
	return replaced;
}

void wg_index_hashtable_remove(struct index_hashtable *table,
			       struct index_hashtable_entry *entry)
{
	spin_lock_bh(&table->lock);
	hash_del_rcu(&entry->index_hash);
	spin_unlock_bh(&table->lock);
}

struct index_hashtable_entry *
wg_index_hashtable_lookup(struct index_hashtable *table,
			  const enum index_hashtable_type type_mask,
			  const __le32 index, struct wg_peer **peer)
{
	struct index_hashtable_entry *iter, *found = NULL;

	*peer = NULL;
	rcu_read_lock_bh();
	hash_for_each_possible_rcu(table->hashtable, iter, index_hash,
				   index_bucket_key(index)) {
		if (iter->index == index && (iter->type & type_mask)) {
			found = iter;
			break;
		}
	}
	if (found) {
		/* A peer on its way out no longer answers to its indices. */
		*peer = wg_peer_get_maybe_zero(found->peer);
		if (!*peer)
			found = NULL;
	}
	rcu_read_unlock_bh();
	return found;
}
