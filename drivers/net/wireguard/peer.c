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
#include "compat.h"
#include "device.h"
#include "peer.h"
#include "peerlookup.h"
#include "queueing.h"
#include "timers.h"

static struct kmem_cache *peer_cache;

struct wg_peer *wg_peer_create(struct wg_device *wg,
			       const u8 public_key[NOISE_PUBLIC_KEY_LEN],
			       const u8 preshared_key[NOISE_SYMMETRIC_KEY_LEN])
{
	struct wg_peer *peer;
	int ret;

	lockdep_assert_held(&wg->device_update_lock);

	if (wg->num_peers >= wg->peer_limit)
		return ERR_PTR(-E2BIG);

	peer = kmem_cache_zalloc(peer_cache, GFP_KERNEL);
	if (!peer)
		return ERR_PTR(-ENOMEM);
	if (wg_endpoints_init(&peer->endpoints)) {
		kmem_cache_free(peer_cache, peer);
		return ERR_PTR(-ENOMEM);
	}

	peer->device = wg;
	memcpy(peer->public_key, public_key, NOISE_PUBLIC_KEY_LEN);
	wg_noise_handshake_init(&peer->handshake, &wg->static_identity,
				public_key, preshared_key, peer);
	wg_noise_keypairs_init(&peer->keypairs);
	wg_peer_cookie_init(&peer->cookie, public_key);
	INIT_LIST_HEAD(&peer->allowedips_list);
	skb_queue_head_init(&peer->staged_packet_queue);
	wg_serial_init(&peer->tx_queue);
	wg_serial_init(&peer->rx_queue);
	INIT_WORK(&peer->transmit_handshake_work, wg_tx_initiation_work);
	INIT_WORK(&peer->transmit_packet_work, wg_tx_serial_work);
	wg_timers_setup(peer);
	kref_init(&peer->refcount);
	peer->internal_id = ++wg->peer_id_counter;

	netif_napi_add(wg->dev, &peer->napi, wg_rx_napi_poll);
	napi_enable(&peer->napi);

	/* Last: once listed, handshakes can find the peer. */
	ret = wg_directory_add_peer(wg->directory, peer);
	if (ret) {
		napi_disable(&peer->napi);
		netif_napi_del(&peer->napi);
		wg_endpoints_destroy(&peer->endpoints);
		kmem_cache_free(peer_cache, peer);
		return ERR_PTR(ret);
	}
	list_add_tail(&peer->peer_list, &wg->peer_list);
	++wg->num_peers;
	return peer;
}

/*
 * Unlink @peer from everything that can find it by configuration: the trie,
 * the key table and the device's list.  The packet path may still hold it
 * until an RCU grace period has passed.
 */
static void peer_unlink(struct wg_peer *peer)
{
	struct wg_device *wg = peer->device;

	lockdep_assert_held(&wg->device_update_lock);

	WRITE_ONCE(peer->is_dead, true);
	wg_allowedips_remove_by_peer(&wg->peer_allowedips, peer,
				     &wg->device_update_lock);
	wg_directory_remove_peer(wg->directory, peer);
	list_del_init(&peer->peer_list);
	--wg->num_peers;
	/* Its sessions go too, so that no data packet finds it any more. */
	wg_noise_keypairs_clear(&peer->keypairs);
	wg_noise_handshake_clear(&peer->handshake);
}

/*
 * After a grace period since peer_unlink(), in two halves so that a batch
 * flushes the shared crypto workqueue once for all its peers: first stop
 * what can still queue crypto work for the peer...
 */
static void peer_stop_sources(struct wg_peer *peer)
{
	wg_timers_halt(peer);
	flush_work(&peer->transmit_handshake_work);
}

/*
 * ...then, once data_wq is flushed, the transmit work and NAPI that
 * the crypto workers kick, the queues, and the list's reference.
 */
static void peer_finish(struct wg_peer *peer)
{
	flush_work(&peer->transmit_packet_work);
	napi_disable(&peer->napi);
	wg_rx_drop_pending(peer);
	wg_tx_drop_pending(peer);
	wg_packet_purge_staged_packets(peer);
	netif_napi_del(&peer->napi);
	/* Timers may have been re-armed by the work flushed above. */
	wg_timers_halt(peer);
	wg_peer_put(peer);
}

void wg_peer_remove(struct wg_peer *peer)
{
	if (unlikely(!peer))
		return;
	peer_unlink(peer);
	synchronize_net();
	peer_stop_sources(peer);
	flush_workqueue(peer->device->data_wq);
	peer_finish(peer);
}

/* Unlinks @peer and parks it on @dead for remove_parked(). */
static void peer_unlink_onto(struct wg_peer *peer, struct list_head *dead)
{
	peer_unlink(peer);
	list_add_tail(&peer->peer_list, dead);
}

/*
 * Shuts down the peers peer_unlink_onto() parked on @dead, after one grace
 * period and one crypto flush for all of them: under rtnl each
 * synchronize_net() is an expedited grace period, and each flush waits on
 * every CPU, too dear to pay once per peer of a large replace.
 */
static void remove_parked(struct list_head *dead)
{
	struct wg_peer *peer, *tmp;

	if (list_empty(dead))
		return;
	synchronize_net();
	list_for_each_entry(peer, dead, peer_list)
		peer_stop_sources(peer);
	peer = list_first_entry(dead, struct wg_peer, peer_list);
	flush_workqueue(peer->device->data_wq);
	list_for_each_entry_safe(peer, tmp, dead, peer_list) {
		list_del_init(&peer->peer_list);
		peer_finish(peer);
	}
}

void wg_peer_remove_all(struct wg_device *wg)
{
	struct wg_peer *peer, *tmp;
	LIST_HEAD(dead);

	lockdep_assert_held(&wg->device_update_lock);
	/*
	 * Every prefix goes: free the tries in one walk rather than each
	 * prefix on its own from the root, which a million prefixes feel.
	 * It leaves the peers' prefix lists empty for peer_unlink().
	 */
	wg_allowedips_free(&wg->peer_allowedips, &wg->device_update_lock);
	list_for_each_entry_safe(peer, tmp, &wg->peer_list, peer_list)
		peer_unlink_onto(peer, &dead);
	remove_parked(&dead);
}

void wg_peer_remove_unmarked(struct wg_device *wg, u64 mark)
{
	struct wg_peer *peer, *tmp;
	LIST_HEAD(dead);

	lockdep_assert_held(&wg->device_update_lock);
	list_for_each_entry_safe(peer, tmp, &wg->peer_list, peer_list) {
		if (peer->config_mark != mark)
			peer_unlink_onto(peer, &dead);
	}
	remove_parked(&dead);
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

	wg_endpoints_destroy(&peer->endpoints);
	/* Keys are secrets: do not leave them in freed memory. */
	memzero_explicit(&peer->handshake, sizeof(peer->handshake));
	memzero_explicit(&peer->cookie, sizeof(peer->cookie));
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
