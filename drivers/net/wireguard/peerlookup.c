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
