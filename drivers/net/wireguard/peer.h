/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A peer of a WireGuard device: its identity, its configuration, its
 * sessions, timers and queues.
 */
#ifndef _WG_PEER_H
#define _WG_PEER_H

#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/netdevice.h>
#include <linux/rcupdate.h>
#include <linux/rhashtable-types.h>
#include <linux/spinlock.h>
#include <linux/time64.h>

#include "cookie.h"
#include "endpoint.h"
#include "noise.h"
#include "queueing.h"
#include "timers.h"

struct wg_device;

struct wg_peer {
	struct wg_device *device;

	/* In device->peer_list; written under device->device_update_lock. */
	struct list_head peer_list;
	/* Our prefixes in the device's allowedips; under the same lock. */
	struct list_head allowedips_list;
	/* In the device's directory, by public key (peerlookup.c). */
	struct rhash_head directory_node;

	u8 public_key[NOISE_PUBLIC_KEY_LEN];

	struct noise_handshake handshake;
	struct noise_keypairs keypairs;
	struct wg_peer_cookie cookie;

	/* Where we send: configured, or learnt from authenticated packets. */
	struct wg_endpoints endpoints;

	/* Packets waiting for a session, and the serial queues. */
	struct sk_buff_head staged_packet_queue;
	struct serial_queue tx_queue;
	struct serial_queue rx_queue;
	struct work_struct transmit_handshake_work;
	struct work_struct transmit_packet_work;
	struct napi_struct napi;

	/* timers.c: every protocol deadline, on one kernel timer */
	struct wg_peer_timers timers;
	/* Read and set lockless by the packet path, beside the deadlines. */
	bool sent_lastminute_handshake;
	atomic64_t last_sent_handshake;		/* ktime_get_coarse_boottime_ns */

	u16 persistent_keepalive_interval;	/* seconds, 0 = off */

	/* Counted by the data path; read without locks for the dump. */
	u64 rx_bytes;
	u64 tx_bytes;
	struct timespec64 last_handshake;	/* wall clock, 0 = never */

	/* Creation order, so that dumps list peers in a stable order. */
	u64 internal_id;
	/* device_update_gen of the last device-wide replace that listed us. */
	u64 config_mark;
	/* Set once the peer left the device; it only waits for RCU. */
	bool is_dead;

	struct kref refcount;
	struct rcu_head rcu;
};

struct wg_peer *wg_peer_create(struct wg_device *wg,
			       const u8 public_key[NOISE_PUBLIC_KEY_LEN],
			       const u8 preshared_key[NOISE_SYMMETRIC_KEY_LEN]);
void wg_peer_remove(struct wg_peer *peer);
void wg_peer_remove_all(struct wg_device *wg);
/* Removes the peers whose config_mark is not @mark, in one grace period. */
void wg_peer_remove_unmarked(struct wg_device *wg, u64 mark);

struct wg_peer *wg_peer_get_maybe_zero(struct wg_peer *peer);
static inline struct wg_peer *wg_peer_get(struct wg_peer *peer)
{
	kref_get(&peer->refcount);
	return peer;
}

void wg_peer_put(struct wg_peer *peer);

int wg_peer_init(void);
void wg_peer_uninit(void);

#endif /* _WG_PEER_H */
