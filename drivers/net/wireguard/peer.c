// SPDX-License-Identifier: GPL-2.0
/*
 * Peers: creation, removal and reference counting.
 *
 * A peer is owned by its device's peer list.  The packet path finds peers
 * under RCU (through allowedips or the key table) and takes a reference
 * with wg_peer_get_maybe_zero(); removal unlinks the peer from everything
 * that can find it, then drops the list's reference, and the memory goes
 * after an RCU grace period once the last reference is gone.
 */
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "allowedips.h"
#include "device.h"
#include "peer.h"
#include "peerlookup.h"

static struct kmem_cache *peer_cache;

/* The ceiling on peers per device; a parameter so that tests can reach it. */
static unsigned int max_peers = WG_MAX_PEERS_PER_DEVICE;
module_param(max_peers, uint, 0444);
MODULE_PARM_DESC(max_peers, "most peers one device may have (default 1048576)");

unsigned int wg_peer_limit(void)
{
	return max_peers;
}

struct wg_peer *wg_peer_create(struct wg_device *wg,
			       const u8 public_key[NOISE_PUBLIC_KEY_LEN],
			       const u8 preshared_key[NOISE_SYMMETRIC_KEY_LEN])
{
	struct wg_peer *peer;

	lockdep_assert_held(&wg->device_update_lock);

	if (wg->num_peers >= wg_peer_limit())
		return ERR_PTR(-E2BIG);

	peer = kmem_cache_zalloc(peer_cache, GFP_KERNEL);
	if (!peer)
		return ERR_PTR(-ENOMEM);

	peer->device = wg;
	memcpy(peer->public_key, public_key, NOISE_PUBLIC_KEY_LEN);
	if (preshared_key)
		memcpy(peer->preshared_key, preshared_key,
		       NOISE_SYMMETRIC_KEY_LEN);
	rwlock_init(&peer->endpoint_lock);
	INIT_LIST_HEAD(&peer->allowedips_list);
	kref_init(&peer->refcount);
	peer->internal_id = ++wg->peer_id_counter;

	list_add_tail(&peer->peer_list, &wg->peer_list);
	wg_pubkey_hashtable_add(wg->peer_hashtable, peer);
	++wg->num_peers;
	return peer;
}

/*
 * Unlink @peer from everything that can find it.  The caller holds the
 * config lock and still owns the list's reference.
 */
static void peer_unlink(struct wg_peer *peer)
{
	struct wg_device *wg = peer->device;

	lockdep_assert_held(&wg->device_update_lock);

	WRITE_ONCE(peer->is_dead, true);
	wg_allowedips_remove_by_peer(&wg->peer_allowedips, peer,
				     &wg->device_update_lock);
	wg_pubkey_hashtable_remove(wg->peer_hashtable, peer);
	list_del_init(&peer->peer_list);
	--wg->num_peers;
}

void wg_peer_remove(struct wg_peer *peer)
{
	if (unlikely(!peer))
		return;
	peer_unlink(peer);
	wg_peer_put(peer);
}

void wg_peer_remove_all(struct wg_device *wg)
{
	struct wg_peer *peer, *tmp;

	lockdep_assert_held(&wg->device_update_lock);
	list_for_each_entry_safe(peer, tmp, &wg->peer_list, peer_list)
		wg_peer_remove(peer);
}

struct wg_peer *wg_peer_get_maybe_zero(struct wg_peer *peer)
{
	RCU_LOCKDEP_WARN(!rcu_read_lock_bh_held() && !rcu_read_lock_held(),
			 "taking a peer reference without RCU read lock");
	if (unlikely(!peer || !kref_get_unless_zero(&peer->refcount)))
		return NULL;
	return peer;
}

static void peer_free_rcu(struct rcu_head *rcu)
{
	struct wg_peer *peer = container_of(rcu, struct wg_peer, rcu);

	/* The preshared key is a secret: do not leave it in freed memory. */
	memzero_explicit(peer->preshared_key, NOISE_SYMMETRIC_KEY_LEN);
	kmem_cache_free(peer_cache, peer);
}

static void peer_release(struct kref *refcount)
{
	struct wg_peer *peer = container_of(refcount, struct wg_peer, refcount);

	/* Lookups under RCU may still be looking at it. */
	call_rcu(&peer->rcu, peer_free_rcu);
}

void wg_peer_put(struct wg_peer *peer)
{
	if (unlikely(!peer))
		return;
	kref_put(&peer->refcount, peer_release);
}

int wg_peer_init(void)
{
	peer_cache = KMEM_CACHE(wg_peer, 0);
	return peer_cache ? 0 : -ENOMEM;
}

void wg_peer_uninit(void)
{
	/* Wait for the frees queued by peer_release(). */
	rcu_barrier();
	kmem_cache_destroy(peer_cache);
}
