// SPDX-License-Identifier: GPL-2.0
/*
 * The network device: rtnl link kind "wireguard", its lifetime and the
 * namespace it was created in.
 */
#include <linux/if_arp.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <linux/rtnetlink.h>
#include <linux/slab.h>
#include <net/rtnetlink.h>
#include <net/ip.h>

#include "compat.h"
#include "device.h"
#include "peer.h"
#include "peerlookup.h"

/*
 * Room a WireGuard data message takes around the inner packet: the outer
 * IPv6 header (the larger of the two), UDP, and our 32 bytes of header and
 * authentication tag.  1500 minus this is the familiar 1420.
 */
#define WG_OUTER_OVERHEAD (sizeof(struct ipv6hdr) + sizeof(struct udphdr) + 32)

static LIST_HEAD(device_list);	/* under rtnl */

static netdev_tx_t wg_xmit(struct sk_buff *skb, struct net_device *dev)
{
	/* Nothing can be sent before the tunnel exists. */
	DEV_STATS_INC(dev, tx_dropped);
	kfree_skb(skb);
	return NETDEV_TX_OK;
}

/*
 * Everything a device owns is set up in ndo_init and torn down in ndo_uninit:
 * register_netdevice() pairs them on every path, including its own errors,
 * and both run under rtnl.
 */
static int wg_init(struct net_device *dev)
{
	struct wg_device *wg = netdev_priv(dev);

	wg->peer_hashtable = wg_pubkey_hashtable_alloc();
	if (!wg->peer_hashtable)
		return -ENOMEM;
	list_add(&wg->device_list, &device_list);
	return 0;
}

static void wg_uninit(struct net_device *dev)
{
	struct wg_device *wg = netdev_priv(dev);

	list_del(&wg->device_list);

	mutex_lock(&wg->device_update_lock);
	wg_peer_remove_all(wg);
	wg_allowedips_free(&wg->peer_allowedips, &wg->device_update_lock);
	wg_noise_static_identity_clear(&wg->static_identity);
	++wg->device_update_gen;
	mutex_unlock(&wg->device_update_lock);

	/* Lookups that started before the peers went are done by now. */
	synchronize_net();
	wg_pubkey_hashtable_free(wg->peer_hashtable);
	wg->peer_hashtable = NULL;
}

static const struct net_device_ops netdev_ops = {
	.ndo_init		= wg_init,
	.ndo_uninit		= wg_uninit,
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
	dev->type = ARPHRD_NONE;
	dev->flags = IFF_POINTOPOINT | IFF_NOARP;
	dev->priv_flags |= IFF_NO_QUEUE;
	wg_compat_set_lltx(dev);
	dev->mtu = ETH_DATA_LEN - WG_OUTER_OVERHEAD;
	dev->min_mtu = 0;
	dev->max_mtu = IP_MAX_MTU - WG_OUTER_OVERHEAD;
	dev->needs_free_netdev = true;
	SET_NETDEV_DEVTYPE(dev, &device_type);
	netif_keep_dst(dev);

	memset(wg, 0, sizeof(*wg));
	wg->dev = dev;
	mutex_init(&wg->device_update_lock);
	INIT_LIST_HEAD(&wg->peer_list);
	INIT_LIST_HEAD(&wg->device_list);
	wg_noise_static_identity_init(&wg->static_identity);
	wg_allowedips_init(&wg->peer_allowedips);
}

static int wg_newlink(struct net *src_net, struct net_device *dev,
		      struct nlattr *tb[], struct nlattr *data[],
		      struct netlink_ext_ack *extack)
{
	struct wg_device *wg = netdev_priv(dev);

	wg->creating_net = src_net;
	return register_netdevice(dev);
}

static struct rtnl_link_ops link_ops __read_mostly = {
	.kind		= KBUILD_MODNAME,
	.priv_size	= sizeof(struct wg_device),
	.setup		= wg_setup,
	.newlink	= wg_newlink,
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
