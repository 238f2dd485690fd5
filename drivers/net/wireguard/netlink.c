// SPDX-License-Identifier: GPL-2.0
/*
 * The "wireguard" generic netlink family: reading a device (a dump that may
 * span many messages) and changing it.
 *
 * A SET_DEVICE request is checked whole before anything is applied, so that
 * a malformed request changes nothing; only a failed allocation can stop it
 * half-way.  Replacing a peer's allowed IPs, or a device's peers, installs
 * the new state before dropping what is no longer wanted, so that traffic to
 * anything present before and after never finds a hole.
 */
#include <linux/if.h>
#include <linux/netdevice.h>
#include <linux/rtnetlink.h>
#include <net/genetlink.h>
#include <net/sock.h>
#include <crypto/algapi.h>

#include <uapi/linux/wireguard.h>

#include "allowedips.h"
#include "compat.h"
#include "device.h"
#include "netlink.h"
#include "peer.h"
#include "peerlookup.h"
#include "queueing.h"
#include "socket.h"
#include "timers.h"

static struct genl_family genl_family;

static const struct nla_policy allowedip_policy[WGALLOWEDIP_A_MAX + 1] = {
	[WGALLOWEDIP_A_FAMILY]		= { .type = NLA_U16 },
	[WGALLOWEDIP_A_IPADDR]		= NLA_POLICY_MIN_LEN(sizeof(struct in_addr)),
	[WGALLOWEDIP_A_CIDR_MASK]	= { .type = NLA_U8 },
	[WGALLOWEDIP_A_FLAGS]		= NLA_POLICY_MASK(NLA_U32, __WGALLOWEDIP_F_ALL),
};

static const struct nla_policy peer_policy[WGPEER_A_MAX + 1] = {
	[WGPEER_A_PUBLIC_KEY]		= NLA_POLICY_EXACT_LEN(NOISE_PUBLIC_KEY_LEN),
	[WGPEER_A_PRESHARED_KEY]	= NLA_POLICY_EXACT_LEN(NOISE_SYMMETRIC_KEY_LEN),
	[WGPEER_A_FLAGS]		= NLA_POLICY_MASK(NLA_U32, __WGPEER_F_ALL),
	[WGPEER_A_ENDPOINT]		= NLA_POLICY_MIN_LEN(sizeof(struct sockaddr)),
	[WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL] = { .type = NLA_U16 },
	[WGPEER_A_LAST_HANDSHAKE_TIME]	= NLA_POLICY_EXACT_LEN(sizeof(struct __kernel_timespec)),
	[WGPEER_A_RX_BYTES]		= { .type = NLA_U64 },
	[WGPEER_A_TX_BYTES]		= { .type = NLA_U64 },
	[WGPEER_A_ALLOWEDIPS]		= NLA_POLICY_NESTED_ARRAY(allowedip_policy),
	[WGPEER_A_PROTOCOL_VERSION]	= { .type = NLA_U32 },
};

/* Not const: 6.1's struct nla_policy points to it without const. */
static struct netlink_range_validation peer_limit_range = {
	.min = 1,
	.max = WG_MAX_PEERS_PER_DEVICE,
};

static const struct nla_policy device_policy[WGDEVICE_A_MAX + 1] = {
	[WGDEVICE_A_IFINDEX]		= { .type = NLA_U32 },
	[WGDEVICE_A_IFNAME]		= { .type = NLA_NUL_STRING, .len = IFNAMSIZ - 1 },
	[WGDEVICE_A_PRIVATE_KEY]	= NLA_POLICY_EXACT_LEN(NOISE_PUBLIC_KEY_LEN),
	[WGDEVICE_A_PUBLIC_KEY]		= NLA_POLICY_EXACT_LEN(NOISE_PUBLIC_KEY_LEN),
	[WGDEVICE_A_FLAGS]		= NLA_POLICY_MASK(NLA_U32, __WGDEVICE_F_ALL),
	[WGDEVICE_A_LISTEN_PORT]	= { .type = NLA_U16 },
	[WGDEVICE_A_FWMARK]		= { .type = NLA_U32 },
	[WGDEVICE_A_PEERS]		= NLA_POLICY_NESTED_ARRAY(peer_policy),
	[WGDEVICE_A_PEER_LIMIT]		= NLA_POLICY_FULL_RANGE(NLA_U32, &peer_limit_range),
};

/* The device a request names, with a reference held, or an ERR_PTR. */
static struct wg_device *lookup_interface(struct nlattr **attrs,
					  struct sk_buff *skb,
					  struct netlink_ext_ack *extack)
{
	struct net *net = sock_net(skb->sk);
	struct net_device *dev = NULL;

	if (attrs[WGDEVICE_A_IFINDEX] && attrs[WGDEVICE_A_IFNAME]) {
		NL_SET_ERR_MSG(extack, "give either an interface index or a name, not both");
		return ERR_PTR(-EINVAL);
	}
	if (!attrs[WGDEVICE_A_IFINDEX] && !attrs[WGDEVICE_A_IFNAME]) {
		NL_SET_ERR_MSG(extack, "no interface given, by index or by name");
		return ERR_PTR(-EINVAL);
	}
	if (attrs[WGDEVICE_A_IFINDEX])
		dev = dev_get_by_index(net, nla_get_u32(attrs[WGDEVICE_A_IFINDEX]));
	else
		dev = dev_get_by_name(net, nla_data(attrs[WGDEVICE_A_IFNAME]));
	if (!dev) {
		NL_SET_ERR_MSG(extack, "no such interface");
		return ERR_PTR(-ENODEV);
	}
	if (!wg_is_device(dev)) {
		NL_SET_ERR_MSG(extack, "not a WireGuard interface");
		dev_put(dev);
		return ERR_PTR(-EOPNOTSUPP);
	}
	return netdev_priv(dev);
}

/* --- GET_DEVICE --------------------------------------------------------- */

/*
 * Where a dump stands between two messages.  The peer is held by reference;
 * the allowed IP is remembered by value, and found again in the next
 * message, since the trie may change while the lock is not held.
 */
struct dump_ctx {
	struct wg_device *wg;
	struct wg_peer *next_peer;
	u8 next_ip[16];
	u8 next_cidr;
	u8 next_family;
	bool device_done;
	bool peers_done;
};

static struct dump_ctx *dump_ctx(struct netlink_callback *cb)
{
	BUILD_BUG_ON(sizeof(struct dump_ctx) > sizeof(cb->ctx));
	return (struct dump_ctx *)cb->ctx;
}

static int get_device_start(struct netlink_callback *cb)
{
	struct wg_device *wg;

	wg = lookup_interface(wg_compat_dump_attrs(cb), cb->skb, cb->extack);
	if (IS_ERR(wg))
		return PTR_ERR(wg);
	memset(dump_ctx(cb), 0, sizeof(struct dump_ctx));
	dump_ctx(cb)->wg = wg;
	return 0;
}

static int get_device_done(struct netlink_callback *cb)
{
	struct dump_ctx *ctx = dump_ctx(cb);

	wg_peer_put(ctx->next_peer);
	if (ctx->wg)
		dev_put(ctx->wg->dev);
	return 0;
}

static int put_device_attrs(struct sk_buff *skb, struct wg_device *wg)
{
	struct noise_static_identity *identity = &wg->static_identity;
	int ret;

	if (nla_put_u32(skb, WGDEVICE_A_IFINDEX, wg->dev->ifindex) ||
	    nla_put_string(skb, WGDEVICE_A_IFNAME, wg->dev->name) ||
	    nla_put_u16(skb, WGDEVICE_A_LISTEN_PORT, wg->incoming_port) ||
	    nla_put_u32(skb, WGDEVICE_A_FWMARK, wg->fwmark) ||
	    nla_put_u32(skb, WGDEVICE_A_PEER_LIMIT, wg->peer_limit))
		return -EMSGSIZE;

	down_read(&identity->lock);
	ret = 0;
	if (identity->has_identity &&
	    (nla_put(skb, WGDEVICE_A_PRIVATE_KEY, NOISE_PUBLIC_KEY_LEN,
		     identity->static_private) ||
	     nla_put(skb, WGDEVICE_A_PUBLIC_KEY, NOISE_PUBLIC_KEY_LEN,
		     identity->static_public)))
		ret = -EMSGSIZE;
	up_read(&identity->lock);
	return ret;
}

static int put_endpoint(struct sk_buff *skb, struct wg_peer *peer)
{
	union wg_sockaddr addr;

	if (!wg_endpoints_active(peer, &addr))
		return 0;
	if (addr.sa.sa_family == AF_INET)
		return nla_put(skb, WGPEER_A_ENDPOINT, sizeof(addr.sin), &addr.sin);
	return nla_put(skb, WGPEER_A_ENDPOINT, sizeof(addr.sin6), &addr.sin6);
}

/* Everything about a peer but its allowed IPs. */
static int put_peer_attrs(struct sk_buff *skb, struct wg_peer *peer)
{
	struct __kernel_timespec last_handshake = {
		.tv_sec = peer->last_handshake.tv_sec,
		.tv_nsec = peer->last_handshake.tv_nsec,
	};

	int ret;

	down_read(&peer->handshake.lock);
	ret = nla_put(skb, WGPEER_A_PRESHARED_KEY, NOISE_SYMMETRIC_KEY_LEN,
		      peer->handshake.preshared_key);
	up_read(&peer->handshake.lock);
	if (ret ||
	    nla_put(skb, WGPEER_A_LAST_HANDSHAKE_TIME, sizeof(last_handshake),
		    &last_handshake) ||
	    nla_put_u16(skb, WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL,
			peer->persistent_keepalive_interval) ||
	    nla_put_u64_64bit(skb, WGPEER_A_TX_BYTES, READ_ONCE(peer->tx_bytes),
			      WGPEER_A_UNSPEC) ||
	    nla_put_u64_64bit(skb, WGPEER_A_RX_BYTES, READ_ONCE(peer->rx_bytes),
			      WGPEER_A_UNSPEC) ||
	    nla_put_u32(skb, WGPEER_A_PROTOCOL_VERSION, 1))
		return -EMSGSIZE;
	return put_endpoint(skb, peer);
}

static int put_allowedip(struct sk_buff *skb, struct allowedips_node *node)
{
	struct nlattr *nest;
	u8 ip[16], cidr;
	int family;

	family = wg_allowedips_read_node(node, ip, &cidr);
	nest = nla_nest_start(skb, 0);
	if (!nest)
		return -EMSGSIZE;
	if (nla_put_u16(skb, WGALLOWEDIP_A_FAMILY, family) ||
	    nla_put(skb, WGALLOWEDIP_A_IPADDR,
		    family == AF_INET6 ? sizeof(struct in6_addr) :
					 sizeof(struct in_addr), ip) ||
	    nla_put_u8(skb, WGALLOWEDIP_A_CIDR_MASK, cidr)) {
		nla_nest_cancel(skb, nest);
		return -EMSGSIZE;
	}
	nla_nest_end(skb, nest);
	return 0;
}

/*
 * Puts as many of the peer's allowed IPs as fit, starting where the last
 * message stopped.  Returns 0 when the list is complete, -EMSGSIZE with the
 * resume point recorded when it is not.
 */
static int put_peer_allowedips(struct sk_buff *skb, struct dump_ctx *ctx,
			       struct wg_peer *peer)
{
	struct wg_device *wg = peer->device;
	struct allowedips_node *node = NULL;
	struct nlattr *nest;
	u8 cidr;

	nest = nla_nest_start(skb, WGPEER_A_ALLOWEDIPS);
	if (!nest)
		return -EMSGSIZE;

	if (ctx->next_family)
		node = wg_allowedips_find_exact(&wg->peer_allowedips,
						ctx->next_family, ctx->next_ip,
						ctx->next_cidr, peer,
						&wg->device_update_lock);
	/*
	 * Without a resume point, or when it went away meanwhile (the dump
	 * is then flagged as interrupted), start the peer's list again.
	 */
	if (!node)
		node = wg_allowedips_next(peer, NULL, &wg->device_update_lock);
	ctx->next_family = 0;

	for (; node; node = wg_allowedips_next(peer, node, &wg->device_update_lock)) {
		if (put_allowedip(skb, node)) {
			ctx->next_family = wg_allowedips_read_node(node, ctx->next_ip,
								   &cidr);
			ctx->next_cidr = cidr;
			nla_nest_end(skb, nest);
			return -EMSGSIZE;
		}
	}
	nla_nest_end(skb, nest);
	return 0;
}

/*
 * One peer: 0 when complete, -EMSGSIZE when it must be continued (or, with
 * nothing of it written, started) in the next message.
 */
static int put_peer(struct sk_buff *skb, struct dump_ctx *ctx,
		    struct wg_peer *peer)
{
	bool continuing = ctx->next_family != 0;
	struct nlattr *nest;
	int ret;

	nest = nla_nest_start(skb, 0);
	if (!nest)
		return -EMSGSIZE;
	if (nla_put(skb, WGPEER_A_PUBLIC_KEY, NOISE_PUBLIC_KEY_LEN,
		    peer->public_key) ||
	    (!continuing && put_peer_attrs(skb, peer))) {
		nla_nest_cancel(skb, nest);
		return -EMSGSIZE;
	}
	ret = put_peer_allowedips(skb, ctx, peer);
	nla_nest_end(skb, nest);
	return ret;
}

/* The peer this message starts with, or NULL when there are none left. */
static struct wg_peer *first_peer_of_message(struct dump_ctx *ctx)
{
	struct wg_device *wg = ctx->wg;
	struct wg_peer *peer = ctx->next_peer;

	ctx->next_peer = NULL;
	if (peer) {
		/* It left the device meanwhile: the dump is flagged, restart. */
		bool dead = peer->is_dead;

		wg_peer_put(peer);
		if (!dead)
			return peer;
		ctx->next_family = 0;
	}
	return list_first_entry_or_null(&wg->peer_list, struct wg_peer,
					peer_list);
}

static int put_peers(struct sk_buff *skb, struct dump_ctx *ctx)
{
	struct wg_device *wg = ctx->wg;
	struct wg_peer *peer;
	struct nlattr *nest;
	int ret = 0;

	peer = first_peer_of_message(ctx);
	if (!peer) {
		ctx->peers_done = true;
		return 0;
	}
	nest = nla_nest_start(skb, WGDEVICE_A_PEERS);
	if (!nest)
		return -EMSGSIZE;
	list_for_each_entry_from(peer, &wg->peer_list, peer_list) {
		ret = put_peer(skb, ctx, peer);
		if (ret) {
			ctx->next_peer = wg_peer_get(peer);
			break;
		}
	}
	if (!ret)
		ctx->peers_done = true;
	nla_nest_end(skb, nest);
	return ret;
}

static int get_device_dump(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct dump_ctx *ctx = dump_ctx(cb);
	struct wg_device *wg = ctx->wg;
	int ret = 0;
	void *hdr;

	if (ctx->peers_done)
		return 0;

	hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid, cb->nlh->nlmsg_seq,
			  &genl_family, NLM_F_MULTI, WG_CMD_GET_DEVICE);
	if (!hdr)
		return -EMSGSIZE;

	mutex_lock(&wg->device_update_lock);
	/* Flags this message NLM_F_DUMP_INTR if anything changed since. */
	cb->seq = wg->device_update_gen;
	genl_dump_check_consistent(cb, hdr);

	if (!ctx->device_done) {
		ret = put_device_attrs(skb, wg);
		if (ret)
			goto out;
		ctx->device_done = true;
	}
	ret = put_peers(skb, ctx);
out:
	mutex_unlock(&wg->device_update_lock);
	if (ret && ret != -EMSGSIZE) {
		genlmsg_cancel(skb, hdr);
		return ret;
	}
	genlmsg_end(skb, hdr);
	return skb->len;
}

/* --- SET_DEVICE: checking ------------------------------------------------ */

static int check_allowedip(struct nlattr *attr, struct netlink_ext_ack *extack)
{
	struct nlattr *attrs[WGALLOWEDIP_A_MAX + 1];
	u16 family;
	u8 cidr;
	int ret;

	ret = nla_parse_nested_deprecated(attrs, WGALLOWEDIP_A_MAX, attr,
					  allowedip_policy, extack);
	if (ret)
		return ret;
	if (!attrs[WGALLOWEDIP_A_FAMILY] || !attrs[WGALLOWEDIP_A_IPADDR] ||
	    !attrs[WGALLOWEDIP_A_CIDR_MASK]) {
		NL_SET_ERR_MSG_ATTR(extack, attr,
				    "allowed IP needs a family, an address and a prefix length");
		return -EINVAL;
	}
	family = nla_get_u16(attrs[WGALLOWEDIP_A_FAMILY]);
	cidr = nla_get_u8(attrs[WGALLOWEDIP_A_CIDR_MASK]);
	if (family == AF_INET) {
		if (nla_len(attrs[WGALLOWEDIP_A_IPADDR]) != sizeof(struct in_addr)) {
			NL_SET_ERR_MSG_ATTR(extack, attrs[WGALLOWEDIP_A_IPADDR],
					    "IPv4 allowed IP must be 4 bytes");
			return -EINVAL;
		}
		if (cidr > 32) {
			NL_SET_ERR_MSG_ATTR(extack, attrs[WGALLOWEDIP_A_CIDR_MASK],
					    "IPv4 prefix length above 32");
			return -EINVAL;
		}
	} else if (family == AF_INET6) {
		if (nla_len(attrs[WGALLOWEDIP_A_IPADDR]) != sizeof(struct in6_addr)) {
			NL_SET_ERR_MSG_ATTR(extack, attrs[WGALLOWEDIP_A_IPADDR],
					    "IPv6 allowed IP must be 16 bytes");
			return -EINVAL;
		}
		if (cidr > 128) {
			NL_SET_ERR_MSG_ATTR(extack, attrs[WGALLOWEDIP_A_CIDR_MASK],
					    "IPv6 prefix length above 128");
			return -EINVAL;
		}
	} else {
		NL_SET_ERR_MSG_ATTR(extack, attrs[WGALLOWEDIP_A_FAMILY],
				    "allowed IP family is neither AF_INET nor AF_INET6");
		return -EINVAL;
	}
	return 0;
}

static int check_endpoint(struct nlattr *attr, struct netlink_ext_ack *extack)
{
	const struct sockaddr *addr = nla_data(attr);
	int len = nla_len(attr);

	if ((addr->sa_family == AF_INET && len == sizeof(struct sockaddr_in)) ||
	    (addr->sa_family == AF_INET6 && len == sizeof(struct sockaddr_in6)))
		return 0;
	NL_SET_ERR_MSG_ATTR(extack, attr, "endpoint must be a struct sockaddr_in or sockaddr_in6");
	return -EINVAL;
}

/* Counts in @new_peers the peers this one may create. */
static int check_peer(struct wg_device *wg, struct nlattr *attr,
		      unsigned int *new_peers, struct netlink_ext_ack *extack)
{
	struct nlattr *attrs[WGPEER_A_MAX + 1], *ip;
	struct wg_peer *peer;
	u32 flags = 0;
	int ret, rem;

	ret = nla_parse_nested_deprecated(attrs, WGPEER_A_MAX, attr,
					  peer_policy, extack);
	if (ret)
		return ret;
	if (!attrs[WGPEER_A_PUBLIC_KEY]) {
		NL_SET_ERR_MSG_ATTR(extack, attr, "peer without a public key");
		return -EINVAL;
	}
	if (attrs[WGPEER_A_FLAGS])
		flags = nla_get_u32(attrs[WGPEER_A_FLAGS]);
	if (attrs[WGPEER_A_PROTOCOL_VERSION] &&
	    nla_get_u32(attrs[WGPEER_A_PROTOCOL_VERSION]) != 1) {
		NL_SET_ERR_MSG_ATTR(extack, attrs[WGPEER_A_PROTOCOL_VERSION],
				    "only protocol version 1 exists");
		return -EPROTONOSUPPORT;
	}
	if (attrs[WGPEER_A_ENDPOINT]) {
		ret = check_endpoint(attrs[WGPEER_A_ENDPOINT], extack);
		if (ret)
			return ret;
	}
	if (attrs[WGPEER_A_ALLOWEDIPS]) {
		nla_for_each_nested(ip, attrs[WGPEER_A_ALLOWEDIPS], rem) {
			ret = check_allowedip(ip, extack);
			if (ret)
				return ret;
		}
	}
	if (!(flags & (WGPEER_F_REMOVE_ME | WGPEER_F_UPDATE_ONLY))) {
		peer = wg_directory_find_peer(wg->directory,
					      nla_data(attrs[WGPEER_A_PUBLIC_KEY]));
		if (!peer)
			++*new_peers;
		wg_peer_put(peer);
	}
	return 0;
}

/* The whole request is checked before any of it is applied. */
/* The limit this request leaves the device with, checked before anything. */
static int check_peer_limit(struct wg_device *wg, struct genl_info *info,
			    unsigned int *limit)
{
	struct nlattr *attr = info->attrs[WGDEVICE_A_PEER_LIMIT];

	*limit = wg->peer_limit;
	if (!attr)
		return 0;
	*limit = nla_get_u32(attr);
	if (*limit < wg->num_peers) {
		NL_SET_ERR_MSG_ATTR(info->extack, attr,
				    "the device has more peers than that");
		return -ERANGE;
	}
	return 0;
}

static int check_request(struct wg_device *wg, struct genl_info *info)
{
	struct netlink_ext_ack *extack = info->extack;
	unsigned int new_peers = 0, limit;
	struct nlattr *attr;
	int ret, rem;

	ret = check_peer_limit(wg, info, &limit);
	if (ret || !info->attrs[WGDEVICE_A_PEERS])
		return ret;
	nla_for_each_nested(attr, info->attrs[WGDEVICE_A_PEERS], rem) {
		ret = check_peer(wg, attr, &new_peers, extack);
		if (ret)
			return ret;
	}
	if (wg->num_peers + new_peers > limit) {
		NL_SET_ERR_MSG_ATTR(extack, info->attrs[WGDEVICE_A_PEERS],
				    "too many peers for one device");
		return -E2BIG;
	}
	return 0;
}

/* --- SET_DEVICE: applying ------------------------------------------------ */

static int set_allowedip(struct wg_peer *peer, struct nlattr **attrs)
{
	struct wg_device *wg = peer->device;
	u8 cidr = nla_get_u8(attrs[WGALLOWEDIP_A_CIDR_MASK]);
	void *ip = nla_data(attrs[WGALLOWEDIP_A_IPADDR]);
	u32 flags = 0;

	if (attrs[WGALLOWEDIP_A_FLAGS])
		flags = nla_get_u32(attrs[WGALLOWEDIP_A_FLAGS]);

	if (nla_get_u16(attrs[WGALLOWEDIP_A_FAMILY]) == AF_INET) {
		if (flags & WGALLOWEDIP_F_REMOVE_ME) {
			wg_allowedips_remove_v4(&wg->peer_allowedips, ip, cidr,
						peer, &wg->device_update_lock);
			return 0;
		}
		return wg_allowedips_insert_v4(&wg->peer_allowedips, ip, cidr,
					       peer, &wg->device_update_lock);
	}
	if (flags & WGALLOWEDIP_F_REMOVE_ME) {
		wg_allowedips_remove_v6(&wg->peer_allowedips, ip, cidr, peer,
					&wg->device_update_lock);
		return 0;
	}
	return wg_allowedips_insert_v6(&wg->peer_allowedips, ip, cidr, peer,
				       &wg->device_update_lock);
}

/* Applies the allowed IPs in message order, as a replacement if asked. */
static int set_peer_allowedips(struct wg_peer *peer, struct nlattr *list,
			       bool replace)
{
	struct mutex *lock = &peer->device->device_update_lock;
	struct nlattr *attrs[WGALLOWEDIP_A_MAX + 1], *attr;
	LIST_HEAD(stale);
	int ret = 0, rem;

	if (replace)
		wg_allowedips_replace_begin(peer, &stale, lock);
	if (list) {
		nla_for_each_nested(attr, list, rem) {
			/* Checked by check_allowedip() already. */
			ret = nla_parse_nested_deprecated(attrs, WGALLOWEDIP_A_MAX,
							  attr, allowedip_policy,
							  NULL);
			if (!ret)
				ret = set_allowedip(peer, attrs);
			if (ret)
				break;
			/* A request may carry hundreds of thousands. */
			cond_resched();
		}
	}
	if (replace) {
		if (ret)
			wg_allowedips_replace_abort(peer, &stale, lock);
		else
			wg_allowedips_replace_end(&peer->device->peer_allowedips,
						  &stale, lock);
	}
	return ret;
}

static void set_peer_endpoint(struct wg_peer *peer, struct nlattr *attr)
{
	wg_endpoints_configure(peer, nla_data(attr));
}

/* @attr NULL resets it to off, as for a new peer. */
static void set_peer_keepalive(struct wg_peer *peer, struct nlattr *attr)
{
	u16 interval = attr ? nla_get_u16(attr) : 0;
	bool turned_on = interval && !peer->persistent_keepalive_interval;

	WRITE_ONCE(peer->persistent_keepalive_interval, interval);
	/* The timer only runs after traffic: start it off with one. */
	if (turned_on && netif_running(peer->device->dev))
		wg_packet_send_keepalive(peer);
}

/*
 * The peer a request names: found, created, or NULL when the request says
 * to leave it alone.  Returned with a reference held.
 */
static struct wg_peer *find_or_create_peer(struct wg_device *wg,
					   struct nlattr **attrs, u32 flags,
					   bool *created)
{
	const u8 *public_key = nla_data(attrs[WGPEER_A_PUBLIC_KEY]);
	struct noise_static_identity *identity = &wg->static_identity;
	struct wg_peer *peer;
	bool is_self;

	*created = false;
	peer = wg_directory_find_peer(wg->directory, public_key);
	if (peer || (flags & (WGPEER_F_REMOVE_ME | WGPEER_F_UPDATE_ONLY)))
		return peer;

	/* A peer with our own key could never talk to us: ignore it. */
	down_read(&identity->lock);
	is_self = identity->has_identity &&
		  !crypto_memneq(public_key, identity->static_public,
				 NOISE_PUBLIC_KEY_LEN);
	up_read(&identity->lock);
	if (is_self)
		return NULL;

	peer = wg_peer_create(wg, public_key, NULL);
	if (IS_ERR(peer))
		return peer;
	*created = true;
	return wg_peer_get(peer);
}

static int set_peer(struct wg_device *wg, struct nlattr *attr, bool replacing,
		    struct netlink_ext_ack *extack)
{
	struct nlattr *attrs[WGPEER_A_MAX + 1];
	bool created, reset;
	struct wg_peer *peer;
	u32 flags = 0;
	int ret;

	ret = nla_parse_nested_deprecated(attrs, WGPEER_A_MAX, attr,
					  peer_policy, extack);
	if (ret)
		return ret;
	if (attrs[WGPEER_A_FLAGS])
		flags = nla_get_u32(attrs[WGPEER_A_FLAGS]);

	peer = find_or_create_peer(wg, attrs, flags, &created);
	if (IS_ERR(peer)) {
		if (PTR_ERR(peer) == -E2BIG)
			NL_SET_ERR_MSG_ATTR(extack, attr, "too many peers for one device");
		else
			NL_SET_ERR_MSG_ATTR(extack, attr, "cannot allocate peer");
		return PTR_ERR(peer);
	}
	if (!peer)
		return 0;

	if (flags & WGPEER_F_REMOVE_ME) {
		if (!peer->is_dead)
			wg_peer_remove(peer);
		goto out;
	}

	/*
	 * A device-wide replace keeps the peers it lists, sessions and all,
	 * but ends in the state a freshly created peer would have: what the
	 * message does not give is reset.  The endpoint is kept, since it is
	 * learnt from the peer as much as configured.
	 */
	reset = replacing && !created;
	if (replacing)
		peer->config_mark = wg->device_update_gen;

	if (attrs[WGPEER_A_PRESHARED_KEY]) {
		wg_noise_set_preshared_key(&peer->handshake,
					   nla_data(attrs[WGPEER_A_PRESHARED_KEY]));
	} else if (reset) {
		static const u8 no_key[NOISE_SYMMETRIC_KEY_LEN];

		wg_noise_set_preshared_key(&peer->handshake, no_key);
	}

	if (attrs[WGPEER_A_ENDPOINT])
		set_peer_endpoint(peer, attrs[WGPEER_A_ENDPOINT]);

	if (attrs[WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL] || reset)
		set_peer_keepalive(peer, attrs[WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL]);

	ret = set_peer_allowedips(peer, attrs[WGPEER_A_ALLOWEDIPS],
				  reset || (flags & WGPEER_F_REPLACE_ALLOWEDIPS));
	if (ret)
		NL_SET_ERR_MSG_ATTR(extack, attr, "cannot allocate allowed IPs");

	/* Packets may have waited for an endpoint or for this peer. */
	if (!ret && netif_running(wg->dev))
		wg_packet_send_staged_packets(peer);
out:
	wg_peer_put(peer);
	return ret;
}

static int set_listen_port(struct wg_device *wg, u16 port)
{
	int ret;

	if (!netif_running(wg->dev)) {
		wg->incoming_port = port;
		return 0;
	}
	/* Rebinding the port in use would only fail. */
	if (port && port == wg->incoming_port)
		return 0;
	ret = wg_socket_open(wg, port);
	if (!ret)
		wg_device_forget_local_addresses(wg);
	return ret;
}

static void set_fwmark(struct wg_device *wg, u32 fwmark)
{
	if (wg->fwmark == fwmark)
		return;
	WRITE_ONCE(wg->fwmark, fwmark);
	/* Routes cached under the old mark may be wrong now. */
	wg_device_forget_local_addresses(wg);
}

/*
 * The new key, its cookie keys and every peer's DH(static, static) are
 * computed first and published together under the identity's lock
 * (noise.c), so no handshake sees half a change.  A peer that has our new
 * public key gets no usable DH in that step; it is removed after.
 */
static int set_private_key(struct wg_device *wg, const u8 *private_key)
{
	struct noise_static_identity *identity = &wg->static_identity;
	struct wg_peer *peer;
	bool unchanged;
	int ret;

	down_read(&identity->lock);
	unchanged = identity->has_identity &&
		    !crypto_memneq(identity->static_private, private_key,
				   NOISE_PUBLIC_KEY_LEN);
	up_read(&identity->lock);
	if (unchanged)
		return 0;

	ret = wg_noise_change_identity(wg, private_key);
	if (ret)
		return ret;

	down_read(&identity->lock);
	peer = identity->has_identity ?
	       wg_directory_find_peer(wg->directory, identity->static_public) :
	       NULL;
	up_read(&identity->lock);
	if (peer) {
		wg_peer_remove(peer);
		wg_peer_put(peer);
	}

	/*
	 * Sessions made with the old key cannot be trusted to the new one:
	 * let the next packet start a handshake at once, not after a retry.
	 */
	list_for_each_entry(peer, &wg->peer_list, peer_list) {
		wg_noise_expire_current_peer_keypairs(peer);
		wg_timers_unthrottle_initiation(peer);
		if (!skb_queue_empty_lockless(&peer->staged_packet_queue))
			wg_packet_send_queued_handshake_initiation(peer, false);
	}
	return 0;
}

static int set_device(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr **attrs = info->attrs;
	bool replacing = false;
	struct wg_device *wg;
	struct nlattr *attr;
	int ret, rem;

	wg = lookup_interface(attrs, skb, info->extack);
	if (IS_ERR(wg))
		return PTR_ERR(wg);

	rtnl_lock();
	mutex_lock(&wg->device_update_lock);

	/*
	 * The reference taken by lookup_interface() keeps the memory, not the
	 * device: an "ip link del" that got rtnl first has run wg_uninit(),
	 * and the peer and index tables are gone.  Under rtnl the registration
	 * state cannot change, so this check holds until we unlock.
	 */
	if (wg->dev->reg_state != NETREG_REGISTERED) {
		NL_SET_ERR_MSG(info->extack, "the interface is being deleted");
		ret = -ENODEV;
		goto out;
	}

	ret = check_request(wg, info);
	if (ret)
		goto out;

	++wg->device_update_gen;

	if (attrs[WGDEVICE_A_FLAGS])
		replacing = nla_get_u32(attrs[WGDEVICE_A_FLAGS]) &
			    WGDEVICE_F_REPLACE_PEERS;
	/* First what can fail for reasons of its own, so that it is alone. */
	if (attrs[WGDEVICE_A_LISTEN_PORT]) {
		ret = set_listen_port(wg, nla_get_u16(attrs[WGDEVICE_A_LISTEN_PORT]));
		if (ret) {
			NL_SET_ERR_MSG_ATTR(info->extack, attrs[WGDEVICE_A_LISTEN_PORT],
					    "cannot listen on that port");
			goto out;
		}
	}
	if (attrs[WGDEVICE_A_FWMARK])
		set_fwmark(wg, nla_get_u32(attrs[WGDEVICE_A_FWMARK]));
	if (attrs[WGDEVICE_A_PEER_LIMIT])
		wg->peer_limit = nla_get_u32(attrs[WGDEVICE_A_PEER_LIMIT]);
	if (attrs[WGDEVICE_A_PRIVATE_KEY]) {
		ret = set_private_key(wg, nla_data(attrs[WGDEVICE_A_PRIVATE_KEY]));
		if (ret)
			goto out;
	}

	if (attrs[WGDEVICE_A_PEERS]) {
		nla_for_each_nested(attr, attrs[WGDEVICE_A_PEERS], rem) {
			ret = set_peer(wg, attr, replacing, info->extack);
			if (ret)
				goto out;
		}
	}
	/* Only once every listed peer is in place, so nothing blips. */
	if (replacing)
		wg_peer_remove_unmarked(wg, wg->device_update_gen);
out:
	mutex_unlock(&wg->device_update_lock);
	rtnl_unlock();
	dev_put(wg->dev);
	return ret;
}

/*
 * Both commands of v1 need CAP_NET_ADMIN in the user namespace owning the
 * socket's network namespace, and keep v1's liberal parsing: attributes of
 * unknown types are ignored (see Documentation/wireguard-netlink.rst).
 */
#define WG_V1_COMMAND(command)						\
	.cmd = (command),						\
	.flags = GENL_UNS_ADMIN_PERM,					\
	.validate = GENL_DONT_VALIDATE_STRICT | GENL_DONT_VALIDATE_DUMP_STRICT

static const struct genl_ops wg_commands[] = {
	{ WG_V1_COMMAND(WG_CMD_SET_DEVICE), .doit = set_device },
	{ WG_V1_COMMAND(WG_CMD_GET_DEVICE), .start = get_device_start,
	  .dumpit = get_device_dump, .done = get_device_done },
};

static struct genl_family genl_family __ro_after_init = {
	.name = WG_GENL_NAME, .version = WG_GENL_VERSION,
	.module = THIS_MODULE, .netnsok = true,
	/* One policy for both commands, at the top level of each. */
	.policy = device_policy, .maxattr = WGDEVICE_A_MAX,
	.ops = wg_commands, .n_ops = ARRAY_SIZE(wg_commands),
	/* New commands, should there be any, get strict validation. */
	.resv_start_op = WG_CMD_SET_DEVICE + 1,
};

int __init wg_genetlink_init(void)
{
	return genl_register_family(&genl_family);
}

void __exit wg_genetlink_uninit(void)
{
	genl_unregister_family(&genl_family);
}
