// SPDX-License-Identifier: GPL-2.0
/*
 * The network device: rtnl link kind "wireguard", transmit, bringing the
 * sockets up and down, and the namespace it was created in.
 */
#include <linux/icmp.h>
#include <linux/icmpv6.h>
#include <linux/if_arp.h>
#include <linux/ipv6.h>
#include <linux/rtnetlink.h>
#include <linux/slab.h>
#include <linux/udp.h>
#include <net/dst_metadata.h>
#include <net/icmp.h>
#include <net/ip.h>
#include <net/rtnetlink.h>

#include "compat.h"
#include "cookie.h"
#include "device.h"
#include "messages.h"
#include "peer.h"
#include "peerlookup.h"
#include "queueing.h"
#include "ratelimiter.h"
#include "socket.h"
#include "timers.h"

/*
 * Room a WireGuard data message takes around the inner packet: the outer
 * IPv6 header (the larger of the two), UDP, and our header and tag.  1500
 * minus this is the familiar 1420.
 */
#define WG_OUTER_OVERHEAD \
	(sizeof(struct ipv6hdr) + sizeof(struct udphdr) + MESSAGE_MINIMUM_LENGTH)

#define WG_NETDEV_FEATURES (NETIF_F_HW_CSUM | NETIF_F_RXCSUM | NETIF_F_SG | \
			    NETIF_F_GSO | NETIF_F_GSO_SOFTWARE | NETIF_F_HIGHDMA)

static LIST_HEAD(device_list);	/* under rtnl */

/* --- transmit: pick the peer, segment, stage; send.c does the rest --------- */

/* ICMP unreachable back to the sender of a packet we cannot send. */
static void send_unreachable(struct sk_buff *skb)
{
	if (skb->protocol == htons(ETH_P_IP))
		icmp_ndo_send(skb, ICMP_DEST_UNREACH, ICMP_HOST_UNREACH, 0);
	else if (skb->protocol == htons(ETH_P_IPV6))
		icmpv6_ndo_send(skb, ICMPV6_DEST_UNREACH, ICMPV6_ADDR_UNREACH, 0);
}

/* The peer whose allowed IPs hold the destination, referenced; or why none. */
static struct wg_peer *select_peer(struct wg_device *wg, struct sk_buff *skb,
				   int *err)
{
	struct wg_peer *peer;

	skb->protocol = wg_inner_protocol(skb);
	if (unlikely(!skb->protocol)) {
		*err = -EPROTONOSUPPORT;
		return NULL;
	}
	peer = wg_allowedips_lookup_dst(&wg->peer_allowedips, skb);
	if (unlikely(!peer)) {
		net_dbg_ratelimited("%s: no peer for this destination\n",
				    wg->dev->name);
		*err = -ENOKEY;
		send_unreachable(skb);
		return NULL;
	}
	if (unlikely(wg_endpoints_empty(&peer->endpoints))) {
		net_dbg_ratelimited("%s: no endpoint for peer %llu\n",
				    wg->dev->name, peer->internal_id);
		*err = -EDESTADDRREQ;
		send_unreachable(skb);
		wg_peer_put(peer);
		return NULL;
	}
	return peer;
}

/* One packet onto @out: unshared, without our route, told its MTU. */
static void queue_segment(struct sk_buff *skb, unsigned int mtu,
			  struct sk_buff_head *out)
{
	skb = skb_share_check(skb, GFP_ATOMIC);
	if (unlikely(!skb))
		return;
	/* Our route; outside the tunnel it means nothing. */
	skb_dst_drop(skb);
	PACKET_CB(skb)->mtu = mtu;
	__skb_queue_tail(out, skb);
}

/*
 * The packets one skb becomes (its GSO segments, or itself) onto @out,
 * each told the MTU its padding may grow it to.  Consumes @skb.
 */
static int segment(struct sk_buff *skb, unsigned int mtu,
		   struct sk_buff_head *out)
{
	struct sk_buff *segs, *next;

	if (!skb_is_gso(skb)) {
		queue_segment(skb, mtu, out);
		return 0;
	}
	segs = skb_gso_segment(skb, 0);
	if (IS_ERR_OR_NULL(segs)) {
		kfree_skb(skb);
		return segs ? PTR_ERR(segs) : -EINVAL;
	}
	consume_skb(skb);
	skb_list_walk_safe(segs, skb, next) {
		skb_mark_not_on_list(skb);
		queue_segment(skb, mtu, out);
	}
	return 0;
}

/*
 * Until the peer has a session its packets wait on it, the newest
 * MAX_STAGED_PACKETS of them: those are the ones still worth sending.
 */
static void stage(struct wg_peer *peer, struct sk_buff_head *packets)
{
	struct sk_buff_head *staged = &peer->staged_packet_queue;
	unsigned int dropped = 0;

	spin_lock_bh(&staged->lock);
	skb_queue_splice_tail(packets, staged);
	while (skb_queue_len(staged) > MAX_STAGED_PACKETS) {
		dev_kfree_skb(__skb_dequeue(staged));
		++dropped;
	}
	spin_unlock_bh(&staged->lock);
	if (dropped)
		DEV_STATS_ADD(peer->device->dev, tx_dropped, dropped);
}

static netdev_tx_t wg_xmit(struct sk_buff *skb, struct net_device *dev)
{
	struct wg_device *wg = netdev_priv(dev);
	struct sk_buff_head packets;
	struct wg_peer *peer;
	int err;

	peer = select_peer(wg, skb, &err);
	if (unlikely(!peer)) {
		kfree_skb(skb);
		goto failed;
	}
	__skb_queue_head_init(&packets);
	err = segment(skb, skb_valid_dst(skb) ? dst_mtu(skb_dst(skb)) : dev->mtu,
		      &packets);
	if (likely(!err)) {
		stage(peer, &packets);
		wg_packet_send_staged_packets(peer);
	}
	wg_peer_put(peer);
	if (likely(!err))
		return NETDEV_TX_OK;
failed:
	DEV_STATS_INC(dev, tx_errors);
	/* The sender's socket learns why, e.g. ENOKEY for no peer. */
	return err;
}

/* --- up and down ---------------------------------------------------------------- */

static int wg_open(struct net_device *dev)
{
	struct wg_device *wg = netdev_priv(dev);
	struct wg_peer *peer;
	int ret;

	ret = wg_socket_open(wg, wg->incoming_port);
	if (ret < 0)
		return ret;
	/* What waited while we were down goes out now, and keepalives resume. */
	mutex_lock(&wg->device_update_lock);
	list_for_each_entry(peer, &wg->peer_list, peer_list) {
		if (peer->persistent_keepalive_interval)
			wg_packet_send_keepalive(peer);
		else
			wg_packet_send_staged_packets(peer);
	}
	mutex_unlock(&wg->device_update_lock);
	return 0;
}

/* A device that goes down forgets its sessions; the next up starts afresh. */
static void forget_sessions(struct wg_peer *peer)
{
	wg_packet_purge_staged_packets(peer);
	wg_timers_halt(peer);
	wg_noise_handshake_clear(&peer->handshake);
	wg_noise_keypairs_clear(&peer->keypairs);
	wg_timers_unthrottle_initiation(peer);
}

static int wg_stop(struct net_device *dev)
{
	struct wg_device *wg = netdev_priv(dev);
	struct wg_peer *peer;

	mutex_lock(&wg->device_update_lock);
	list_for_each_entry(peer, &wg->peer_list, peer_list)
		forget_sessions(peer);
	mutex_unlock(&wg->device_update_lock);
	wg_socket_swap(wg, NULL, NULL);
	return 0;
}

/* --- what a device owns: set up in ndo_init, torn down in ndo_uninit ------ */

/*
 * The workqueues first: destroying one runs what is still queued on it,
 * and a lane's work must not outlive its lane.  Handshakes before data, as
 * a handshake may queue a keepalive.
 */
static void free_workers(struct wg_device *wg)
{
	if (wg->handshake_wq)
		destroy_workqueue(wg->handshake_wq);
	if (wg->data_wq)
		destroy_workqueue(wg->data_wq);
	wg_crypt_pool_free(&wg->handshake_pool);
	wg_crypt_pool_free(&wg->decrypt_pool);
	wg_crypt_pool_free(&wg->encrypt_pool);
}

/*
 * Two workqueues, not one per kind of job: crypto and the serial transmit
 * stage may run while memory is short (a swap device behind the tunnel),
 * handshakes never need to and stop for suspend.
 */
static int alloc_workers(struct wg_device *wg)
{
	const char *name = wg->dev->name;

	wg->data_wq = alloc_workqueue("wg-data-%s", WQ_PERCPU |
				      WQ_CPU_INTENSIVE | WQ_MEM_RECLAIM, 0, name);
	wg->handshake_wq = alloc_workqueue("wg-hs-%s", WQ_PERCPU |
					   WQ_CPU_INTENSIVE | WQ_FREEZABLE, 0, name);
	if (!wg->data_wq || !wg->handshake_wq)
		return -ENOMEM;
	if (wg_crypt_pool_init(&wg->encrypt_pool, wg->data_wq,
			       wg_tx_encrypt_work, MAX_QUEUED_PACKETS, false) ||
	    wg_crypt_pool_init(&wg->decrypt_pool, wg->data_wq,
			       wg_rx_decrypt_work, MAX_QUEUED_PACKETS, false) ||
	    wg_crypt_pool_init(&wg->handshake_pool, wg->handshake_wq,
			       wg_rx_handshake_work, MAX_QUEUED_INCOMING_HANDSHAKES,
			       true))
		return -ENOMEM;
	return 0;
}

static void free_owned(struct wg_device *wg)
{
	free_workers(wg);
	wg_directory_destroy(wg->directory);
	wg->directory = NULL;
	free_percpu(wg->dev->tstats);
	wg->dev->tstats = NULL;
}

/* register_netdevice() pairs these on every path, and both run under rtnl. */
static int wg_init(struct net_device *dev)
{
	struct wg_device *wg = netdev_priv(dev);
	int ret;

	ret = wg_ratelimiter_init();
	if (ret)
		return ret;
	dev->tstats = netdev_alloc_pcpu_stats(struct pcpu_sw_netstats);
	wg->directory = wg_directory_create();
	if (!dev->tstats || !wg->directory || alloc_workers(wg)) {
		free_owned(wg);
		wg_ratelimiter_uninit();
		return -ENOMEM;
	}
	wg_cookie_mint_init(&wg->cookie_mint);
	list_add(&wg->device_list, &device_list);
	return 0;
}

static void wg_uninit(struct net_device *dev)
{
	struct wg_device *wg = netdev_priv(dev);

	list_del(&wg->device_list);
	wg_socket_swap(wg, NULL, NULL);

	mutex_lock(&wg->device_update_lock);
	wg_peer_remove_all(wg);
	wg_noise_static_identity_clear(&wg->static_identity);
	++wg->device_update_gen;
	mutex_unlock(&wg->device_update_lock);

	/* Lookups that started before the peers went are done by now. */
	synchronize_net();
	free_owned(wg);
	memzero_explicit(&wg->cookie_mint, sizeof(wg->cookie_mint));
	wg_ratelimiter_uninit();
}

static const struct net_device_ops netdev_ops = {
	.ndo_init		= wg_init,
	.ndo_uninit		= wg_uninit,
	.ndo_open		= wg_open,
	.ndo_stop		= wg_stop,
	.ndo_start_xmit		= wg_xmit,
	.ndo_get_stats64	= dev_get_tstats64,
};

static const struct device_type device_type = { .name = KBUILD_MODNAME };

/* A layer-3 point-to-point link, no queue, no header of its own. */
static void setup_link(struct net_device *dev)
{
	dev->type = ARPHRD_NONE;
	dev->flags = IFF_POINTOPOINT | IFF_NOARP;
	dev->priv_flags |= IFF_NO_QUEUE;
	dev->header_ops = NULL;
	dev->hard_header_len = 0;
	dev->addr_len = 0;
	wg_compat_set_lltx(dev);
	netif_keep_dst(dev);
	SET_NETDEV_DEVTYPE(dev, &device_type);
	dev->netdev_ops = &netdev_ops;
	dev->needs_free_netdev = true;
}

/* Room for what encryption adds, and the MTUs that leave room for it. */
static void setup_sizes(struct net_device *dev)
{
	dev->needed_headroom = DATA_PACKET_HEAD_ROOM;
	dev->needed_tailroom = noise_encrypted_len(MESSAGE_PADDING_MULTIPLE);
	dev->mtu = ETH_DATA_LEN - WG_OUTER_OVERHEAD;
	dev->min_mtu = 0;
	dev->max_mtu = IP_MAX_MTU - WG_OUTER_OVERHEAD;
}

static void wg_setup(struct net_device *dev)
{
	struct wg_device *wg = netdev_priv(dev);

	setup_link(dev);
	setup_sizes(dev);
	/* We checksum and segment in software, just before encrypting. */
	dev->features |= WG_NETDEV_FEATURES;
	dev->hw_features |= WG_NETDEV_FEATURES;
	dev->hw_enc_features |= WG_NETDEV_FEATURES;

	memset(wg, 0, sizeof(*wg));
	wg->dev = dev;
	wg->peer_limit = WG_MAX_PEERS_PER_DEVICE;
	/* Dumps use it as their sequence, where 0 would mean "untracked". */
	wg->device_update_gen = 1;
	mutex_init(&wg->device_update_lock);
	mutex_init(&wg->socket_update_lock);
	INIT_LIST_HEAD(&wg->peer_list);
	INIT_LIST_HEAD(&wg->device_list);
	wg_noise_static_identity_init(&wg->static_identity);
	wg_allowedips_init(&wg->peer_allowedips);
}

static int wg_newlink(struct net_device *dev,
		      struct rtnl_newlink_params *params,
		      struct netlink_ext_ack *extack)
{
	struct wg_device *wg = netdev_priv(dev);

	wg->creating_net = params->src_net;
	return register_netdevice(dev);
}

WG_COMPAT_NEWLINK(wg_newlink);

static struct rtnl_link_ops link_ops __read_mostly = {
	.kind		= KBUILD_MODNAME,
	.priv_size	= sizeof(struct wg_device),
	.setup		= wg_setup,
	.newlink	= wg_compat_newlink(wg_newlink),
};

/*
 * A device may have moved to another namespace, but its sockets stay in the
 * one it was created in: when that one goes away, so does the device.
 */
static void wg_netns_pre_exit(struct net *net)
{
	struct wg_device *wg, *next;
	LIST_HEAD(doomed);

	rtnl_lock();
	list_for_each_entry_safe(wg, next, &device_list, device_list)
		if (wg->creating_net == net)
			unregister_netdevice_queue(wg->dev, &doomed);
	unregister_netdevice_many(&doomed);
	rtnl_unlock();
}

static struct pernet_operations pernet_ops = {
	.pre_exit = wg_netns_pre_exit,
};

bool wg_is_device(const struct net_device *dev)
{
	return dev->rtnl_link_ops == &link_ops;
}

/*
 * The namespace hook goes in before the link kind and out after it: no
 * device ever exists without the hook that deletes it with its namespace.
 */
int __init wg_device_init(void)
{
	int ret = register_pernet_device(&pernet_ops);

	if (!ret) {
		ret = rtnl_link_register(&link_ops);
		if (ret)
			unregister_pernet_device(&pernet_ops);
	}
	return ret;
}

void wg_device_uninit(void)
{
	rtnl_link_unregister(&link_ops);
	unregister_pernet_device(&pernet_ops);
}
