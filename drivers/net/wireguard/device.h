/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The WireGuard network device: one per "ip link add ... type wireguard".
 */
#ifndef _WG_DEVICE_H
#define _WG_DEVICE_H

#include <linux/bits.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/netdevice.h>
#include <linux/workqueue.h>
#include <net/net_namespace.h>

#include "allowedips.h"
#include "cookie.h"
#include "noise.h"
#include "peerlookup.h"
#include "queueing.h"

/* Upper bound on peers per device, so that a config cannot eat the host. */
#define WG_MAX_PEERS_PER_DEVICE BIT(20)

struct wg_device {
	struct net_device *dev;

	/*
	 * The data path's workers (queueing.h): per-CPU lanes that encrypt
	 * and decrypt on data_wq, which also runs each peer's serial
	 * transmit stage, and lanes for incoming handshakes on handshake_wq,
	 * which also sends each peer's initiations.
	 */
	struct crypt_pool encrypt_pool;
	struct crypt_pool decrypt_pool;
	struct crypt_pool handshake_pool;
	struct workqueue_struct *data_wq;
	struct workqueue_struct *handshake_wq;
	unsigned long last_under_load;	/* jiffies; see receive.c */

	/* Written under socket_update_lock, read under RCU. */
	struct sock __rcu *sock4;
	struct sock __rcu *sock6;
	/* Serializes replacing the sockets. */
	struct mutex socket_update_lock;

	struct wg_cookie_mint cookie_mint;

	/*
	 * The one lock for configuration writers: peers, keys, ports and the
	 * allowedips trie change only under it.  The packet path reads under
	 * RCU and never takes it.
	 */
	struct mutex device_update_lock;

	/* Every change under device_update_lock bumps this; dumps compare. */
	u64 device_update_gen;

	struct noise_static_identity static_identity;
	struct list_head peer_list;
	unsigned int num_peers;
	/* WGDEVICE_A_PEER_LIMIT: at most WG_MAX_PEERS_PER_DEVICE. */
	unsigned int peer_limit;
	u64 peer_id_counter;
	/* Peers by public key, sessions and handshakes by index. */
	struct wg_directory *directory;
	struct allowedips peer_allowedips;

	/* The namespace the device was created in; its sockets live there. */
	struct net *creating_net;

	u32 fwmark;
	u16 incoming_port;

	/* In the global list of devices, for namespace teardown. */
	struct list_head device_list;
};

bool wg_is_device(const struct net_device *dev);
int wg_device_init(void);
void wg_device_uninit(void);

#endif /* _WG_DEVICE_H */
