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

static int wg_open(struct net_device *dev)
{
	struct wg_device *wg = netdev_priv(dev);
	struct wg_peer *peer;
	int ret;

	ret = wg_socket_init(wg, wg->incoming_port);
	if (ret < 0)
		return ret;
	mutex_lock(&wg->device_update_lock);
	list_for_each_entry(peer, &wg->peer_list, peer_list) {
		wg_packet_send_staged_packets(peer);
		if (peer->persistent_keepalive_interval)
			wg_packet_send_keepalive(peer);
	}
	mutex_unlock(&wg->device_update_lock);
	return 0;
}

static int wg_stop(struct net_device *dev)
{
	struct wg_device *wg = netdev_priv(dev);
	struct wg_peer *peer;

	mutex_lock(&wg->device_update_lock);
	list_for_each_entry(peer, &wg->peer_list, peer_list) {
		wg_packet_purge_staged_packets(peer);
		wg_timers_stop(peer);
		wg_noise_handshake_clear(&peer->handshake);
		wg_noise_keypairs_clear(&peer->keypairs);
		wg_timers_allow_handshake_now(peer);
	}
	mutex_unlock(&wg->device_update_lock);
	wg_socket_reinit(wg, NULL, NULL);
	return 0;
}

/* ICMP unreachable back to the sender of a packet we cannot send. */
static void send_unreachable(struct sk_buff *skb)
{
	if (skb->protocol == htons(ETH_P_IP))
		icmp_ndo_send(skb, ICMP_DEST_UNREACH, ICMP_HOST_UNREACH, 0);
	else if (skb->protocol == htons(ETH_P_IPV6))
		icmpv6_ndo_send(skb, ICMPV6_DEST_UNREACH, ICMPV6_ADDR_UNREACH, 0);
}

/* Splits a GSO packet into its segments on @list; consumes @skb. */
static int segment_into(struct sk_buff *skb, struct sk_buff_head *list,
			unsigned int mtu)
{
	struct sk_buff *segs, *next;

	if (!skb_is_gso(skb)) {
		skb_mark_not_on_list(skb);
		segs = skb;
	} else {
		segs = skb_gso_segment(skb, 0);
		if (IS_ERR_OR_NULL(segs)) {
			kfree_skb(skb);
			return segs ? PTR_ERR(segs) : -EINVAL;
		}
		dev_kfree_skb(skb);
	}
	skb_list_walk_safe(segs, skb, next) {
		skb_mark_not_on_list(skb);
		skb = skb_share_check(skb, GFP_ATOMIC);
		if (unlikely(!skb))
			continue;
		/* The route was ours; outside the tunnel it means nothing. */
		skb_dst_drop(skb);
		PACKET_CB(skb)->mtu = mtu;
		__skb_queue_tail(list, skb);
	}
	return 0;
}

static netdev_tx_t wg_xmit(struct sk_buff *skb, struct net_device *dev)
{
	struct wg_device *wg = netdev_priv(dev);
	struct sk_buff_head packets;
	struct wg_peer *peer;
	unsigned int mtu;
	int ret;

	skb->protocol = wg_examine_packet_protocol(skb);
	if (unlikely(!skb->protocol)) {
		ret = -EPROTONOSUPPORT;
		goto err;
	}

	peer = wg_allowedips_lookup_dst(&wg->peer_allowedips, skb);
	if (unlikely(!peer)) {
		ret = -ENOKEY;
		net_dbg_ratelimited("%s: no peer for this destination\n",
				    dev->name);
		goto err_icmp;
	}
	if (unlikely(READ_ONCE(peer->endpoint.addr.sa_family) != AF_INET &&
		     READ_ONCE(peer->endpoint.addr.sa_family) != AF_INET6)) {
		ret = -EDESTADDRREQ;
		net_dbg_ratelimited("%s: no endpoint for peer %llu\n",
				    dev->name, peer->internal_id);
		goto err_peer;
	}

	mtu = skb_valid_dst(skb) ? dst_mtu(skb_dst(skb)) : dev->mtu;
	__skb_queue_head_init(&packets);
	ret = segment_into(skb, &packets, mtu);
	if (unlikely(ret)) {
		skb = NULL;
		goto err_peer;
	}

	spin_lock_bh(&peer->staged_packet_queue.lock);
	skb_queue_splice_tail(&packets, &peer->staged_packet_queue);
	/* A peer without a session holds only so many packets for it. */
	while (skb_queue_len(&peer->staged_packet_queue) > MAX_STAGED_PACKETS) {
		dev_kfree_skb(__skb_dequeue(&peer->staged_packet_queue));
		DEV_STATS_INC(dev, tx_dropped);
	}
	spin_unlock_bh(&peer->staged_packet_queue.lock);

	wg_packet_send_staged_packets(peer);
	wg_peer_put(peer);
	return NETDEV_TX_OK;

err_peer:
	wg_peer_put(peer);
err_icmp:
	if (skb)
		send_unreachable(skb);
err:
	DEV_STATS_INC(dev, tx_errors);
	kfree_skb(skb);
	/* The sender's socket sees why, e.g. ENOKEY for no peer. */
	return ret;
}

static int wg_alloc_queues(struct wg_device *wg)
{
	struct net_device *dev = wg->dev;
	int ret;

	wg->handshake_receive_wq = alloc_workqueue("wg-kex-%s",
						   WQ_PERCPU | WQ_CPU_INTENSIVE |
						   WQ_FREEZABLE, 0, dev->name);
	wg->handshake_send_wq = alloc_workqueue("wg-kex-%s",
						WQ_UNBOUND | WQ_FREEZABLE, 0,
						dev->name);
	wg->packet_crypt_wq = alloc_workqueue("wg-crypt-%s",
					      WQ_PERCPU | WQ_CPU_INTENSIVE |
					      WQ_MEM_RECLAIM, 0, dev->name);
	if (!wg->handshake_receive_wq || !wg->handshake_send_wq ||
	    !wg->packet_crypt_wq)
		return -ENOMEM;

	ret = wg_packet_queue_init(&wg->encrypt_queue, wg_packet_encrypt_worker,
				   MAX_QUEUED_PACKETS);
	if (ret)
		return ret;
	ret = wg_packet_queue_init(&wg->decrypt_queue, wg_packet_decrypt_worker,
				   MAX_QUEUED_PACKETS);
	if (ret)
		return ret;
	return wg_packet_queue_init(&wg->handshake_queue,
				    wg_packet_handshake_receive_worker,
				    MAX_QUEUED_INCOMING_HANDSHAKES);
}

static void wg_free_queues(struct wg_device *wg)
{
	if (wg->handshake_queue.worker)
		wg_packet_queue_free(&wg->handshake_queue, true);
	if (wg->decrypt_queue.worker)
		wg_packet_queue_free(&wg->decrypt_queue, true);
	if (wg->encrypt_queue.worker)
		wg_packet_queue_free(&wg->encrypt_queue, true);
	if (wg->packet_crypt_wq)
		destroy_workqueue(wg->packet_crypt_wq);
	if (wg->handshake_send_wq)
		destroy_workqueue(wg->handshake_send_wq);
	if (wg->handshake_receive_wq)
		destroy_workqueue(wg->handshake_receive_wq);
}

/*
 * Everything a device owns is set up in ndo_init and torn down in ndo_uninit:
 * register_netdevice() pairs them on every path, including its own errors,
 * and both run under rtnl.
 */
static int wg_init(struct net_device *dev)
{
	struct wg_device *wg = netdev_priv(dev);
	int ret;

	ret = wg_ratelimiter_init();
	if (ret)
		return ret;
	wg->peer_hashtable = wg_pubkey_hashtable_alloc();
	wg->index_hashtable = wg_index_hashtable_alloc();
	ret = -ENOMEM;
	if (!wg->peer_hashtable || !wg->index_hashtable)
		goto err;
	ret = wg_alloc_queues(wg);
	if (ret)
		goto err;
	wg_cookie_checker_init(&wg->cookie_checker, wg);
	list_add(&wg->device_list, &device_list);
	return 0;

err:
	wg_free_queues(wg);
	wg_index_hashtable_free(wg->index_hashtable);
	wg_pubkey_hashtable_free(wg->peer_hashtable);
	wg_ratelimiter_uninit();
	return ret;
}

static void wg_uninit(struct net_device *dev)
{
	struct wg_device *wg = netdev_priv(dev);

	list_del(&wg->device_list);
	wg_socket_reinit(wg, NULL, NULL);

	mutex_lock(&wg->device_update_lock);
	wg_peer_remove_all(wg);
	wg_noise_static_identity_clear(&wg->static_identity);
	++wg->device_update_gen;
	mutex_unlock(&wg->device_update_lock);

	/* Lookups that started before the peers went are done by now. */
	synchronize_net();
	wg_free_queues(wg);
	wg_index_hashtable_free(wg->index_hashtable);
	wg_pubkey_hashtable_free(wg->peer_hashtable);
	wg->index_hashtable = NULL;
	wg->peer_hashtable = NULL;
	memzero_explicit(&wg->cookie_checker, sizeof(wg->cookie_checker));
	wg_ratelimiter_uninit();
}

static const struct net_device_ops netdev_ops = {
	.ndo_init		= wg_init,
	.ndo_uninit		= wg_uninit,
	.ndo_open		= wg_open,
	.ndo_stop		= wg_stop,
	.ndo_start_xmit		= wg_xmit,
};

static const struct device_type device_type = { .name = KBUILD_MODNAME };

static void wg_setup(struct net_device *dev)
{
	struct wg_device *wg = netdev_priv(dev);

	dev->netdev_ops = &netdev_ops;
	dev->header_ops = NULL;
	dev->hard_header_len = 0;
	dev->addr_len = 0;
	dev->needed_headroom = DATA_PACKET_HEAD_ROOM;
	dev->needed_tailroom = noise_encrypted_len(MESSAGE_PADDING_MULTIPLE);
	dev->type = ARPHRD_NONE;
	dev->flags = IFF_POINTOPOINT | IFF_NOARP;
	dev->priv_flags |= IFF_NO_QUEUE;
	wg_compat_set_lltx(dev);
	dev->features |= WG_NETDEV_FEATURES;
	dev->hw_features |= WG_NETDEV_FEATURES;
	dev->hw_enc_features |= WG_NETDEV_FEATURES;
	dev->mtu = ETH_DATA_LEN - WG_OUTER_OVERHEAD;
	dev->min_mtu = 0;
	dev->max_mtu = IP_MAX_MTU - WG_OUTER_OVERHEAD;
	dev->needs_free_netdev = true;
	SET_NETDEV_DEVTYPE(dev, &device_type);
	netif_keep_dst(dev);

	memset(wg, 0, sizeof(*wg));
	wg->dev = dev;
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
	struct wg_device *wg, *tmp;
	LIST_HEAD(kill);

	rtnl_lock();
	list_for_each_entry_safe(wg, tmp, &device_list, device_list) {
		if (wg->creating_net == net)
			unregister_netdevice_queue(wg->dev, &kill);
	}
	unregister_netdevice_many(&kill);
	rtnl_unlock();
}

static struct pernet_operations pernet_ops = {
	.pre_exit = wg_netns_pre_exit,
};

bool wg_is_device(const struct net_device *dev)
{
	return dev->rtnl_link_ops == &link_ops;
}

int __init wg_device_init(void)
{
	int ret;

	ret = register_pernet_device(&pernet_ops);
	if (ret)
		return ret;
	ret = rtnl_link_register(&link_ops);
	if (ret)
		unregister_pernet_device(&pernet_ops);
	return ret;
}

void wg_device_uninit(void)
{
	rtnl_link_unregister(&link_ops);
	unregister_pernet_device(&pernet_ops);
}
