// SPDX-License-Identifier: GPL-2.0
/*
 * The device's directory of peers and indices (see peerlookup.h).
 *
 * Public keys are chosen by the administrator and indices by us, at
 * random, so neither table sees keys aimed at one bucket; rhashtable
 * reseeds itself anyway when a chain grows long.  Writers of the peer
 * table hold the device's configuration lock; index writers hold the
 * owning handshake's lock, or race only to release, which the "listed"
 * flag settles.
 */
#include <linux/random.h>
#include <linux/rhashtable.h>
#include <linux/slab.h>

#include "peer.h"
#include "peerlookup.h"

static const struct rhashtable_params peers_params = {
	.key_len = CURVE25519_KEY_SIZE,
	.key_offset = offsetof(struct wg_peer, public_key),
	.head_offset = offsetof(struct wg_peer, directory_node),
	.automatic_shrinking = true,
};

static const struct rhashtable_params indices_params = {
	.key_len = sizeof(__le32),
	.key_offset = offsetof(struct wg_index, id),
	.head_offset = offsetof(struct wg_index, node),
	.automatic_shrinking = true,
};

struct wg_directory *wg_directory_create(void)
{
	struct wg_directory *dir = kzalloc(sizeof(*dir), GFP_KERNEL);

	if (!dir)
		return NULL;
	if (rhashtable_init(&dir->peers, &peers_params))
		goto free_dir;
	if (rhashtable_init(&dir->indices, &indices_params))
		goto free_peers;
	return dir;

free_peers:
	rhashtable_destroy(&dir->peers);
free_dir:
	kfree(dir);
	return NULL;
}

void wg_directory_destroy(struct wg_directory *dir)
{
	if (!dir)
		return;
	WARN_ON(atomic_read(&dir->peers.nelems));
	WARN_ON(atomic_read(&dir->indices.nelems));
	rhashtable_destroy(&dir->indices);
	rhashtable_destroy(&dir->peers);
	kfree(dir);
}

int wg_directory_add_peer(struct wg_directory *dir, struct wg_peer *peer)
{
	return rhashtable_lookup_insert_fast(&dir->peers, &peer->directory_node,
					     peers_params);
}

void wg_directory_remove_peer(struct wg_directory *dir, struct wg_peer *peer)
{
	rhashtable_remove_fast(&dir->peers, &peer->directory_node,
			       peers_params);
}

struct wg_peer *wg_directory_find_peer(struct wg_directory *dir,
				       const u8 public_key[CURVE25519_KEY_SIZE])
{
	struct wg_peer *peer;

	rcu_read_lock();
	peer = rhashtable_lookup(&dir->peers, public_key, peers_params);
	/* A peer being freed is as good as gone. */
	peer = wg_peer_get_maybe_zero(peer);
	rcu_read_unlock();
	return peer;
}

/*
 * Ids are random so that they say nothing about how many sessions we
 * have had; a clash with a listed one (rare even at a million) draws again.
 */
int wg_index_assign(struct wg_directory *dir, struct wg_index *index)
{
	int ret;

	wg_index_release(dir, index);
	do {
		WRITE_ONCE(index->id, (__force __le32)get_random_u32());
		ret = rhashtable_lookup_insert_fast(&dir->indices, &index->node,
						    indices_params);
	} while (ret == -EEXIST);
	if (!ret)
		WRITE_ONCE(index->listed, true);
	return ret;
}

bool wg_index_transfer(struct wg_directory *dir, struct wg_index *from,
		       struct wg_index *to)
{
	if (!READ_ONCE(from->listed))
		return false;
	to->id = from->id;
	if (rhashtable_replace_fast(&dir->indices, &from->node, &to->node,
				    indices_params))
		return false;
	WRITE_ONCE(from->listed, false);
	WRITE_ONCE(to->listed, true);
	return true;
}

void wg_index_release(struct wg_directory *dir, struct wg_index *index)
{
	if (xchg(&index->listed, false))
		rhashtable_remove_fast(&dir->indices, &index->node,
				       indices_params);
}

struct wg_index *wg_index_find(struct wg_directory *dir, __le32 id,
			       unsigned int kinds, struct wg_peer **peer)
{
	struct wg_index *index;

	*peer = NULL;
	rcu_read_lock();
	index = rhashtable_lookup(&dir->indices, &id, indices_params);
	if (index && (index->kind & kinds))
		/* A peer on its way out no longer answers to its indices. */
		*peer = wg_peer_get_maybe_zero(index->peer);
	rcu_read_unlock();
	return *peer ? index : NULL;
}
