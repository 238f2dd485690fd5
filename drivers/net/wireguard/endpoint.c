// SPDX-License-Identifier: GPL-2.0
/*
 * A peer's endpoint set, and every decision about the outer path: which
 * entry we send to, which local address we send from, which route we take
 * and whether that route may end in our own device.
 *
 * Each entry remembers the path the peer's packets took to reach us: their
 * source (the peer's address), their destination (our local address) and
 * the interface they arrived on.  We answer from that local address as long
 * as the route to the peer leaves through that same interface, so that a
 * peer which configured one of our addresses keeps it.  When routing sends
 * us another way, the route's own source goes with it.  The decision is
 * made on a route cache miss and stored with the route; the cache misses
 * again whenever the routing table changes, and so the decision is made
 * again against the new table.
 *
 * Sends take the set's lock for reading, only to pick the entry and
 * resolve its route; the packet leaves after the lock is dropped, so that
 * a send inside one of our own tunnels never nests two sets' locks.
 */
#include <linux/inetdevice.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/netdevice.h>
#include <linux/udp.h>
#include <net/addrconf.h>
#include <net/inet_sock.h>
#include <net/ip.h>
#include <net/ipv6.h>
#include <net/route.h>

#include "allowedips.h"
#include "compat.h"
#include "device.h"
#include "endpoint.h"
#include "peer.h"

int wg_endpoints_init(struct wg_endpoints *set)
{
	unsigned int i;

	rwlock_init(&set->lock);
	for (i = 0; i < WG_ENDPOINTS_MAX; ++i) {
		if (dst_cache_init(&set->entry[i].route, GFP_KERNEL))
			goto err;
	}
	return 0;

err:
	while (i--)
		dst_cache_destroy(&set->entry[i].route);
	return -ENOMEM;
}

void wg_endpoints_destroy(struct wg_endpoints *set)
{
	unsigned int i;

	for (i = 0; i < WG_ENDPOINTS_MAX; ++i)
		dst_cache_destroy(&set->entry[i].route);
}

static bool same_remote(const union wg_sockaddr *a, const union wg_sockaddr *b)
{
	if (a->sa.sa_family != b->sa.sa_family)
		return false;
	if (a->sa.sa_family == AF_INET)
		return a->sin.sin_port == b->sin.sin_port &&
		       a->sin.sin_addr.s_addr == b->sin.sin_addr.s_addr;
	if (a->sa.sa_family == AF_INET6)
		return a->sin6.sin6_port == b->sin6.sin6_port &&
		       a->sin6.sin6_scope_id == b->sin6.sin6_scope_id &&
		       ipv6_addr_equal(&a->sin6.sin6_addr, &b->sin6.sin6_addr);
	return true;
}

static bool same_path(const struct wg_path *a, const struct wg_path *b)
{
	if (!same_remote(&a->remote, &b->remote) ||
	    a->arrival_ifindex != b->arrival_ifindex)
		return false;
	if (a->remote.sa.sa_family == AF_INET)
		return a->local.ip4 == b->local.ip4;
	return ipv6_addr_equal(&a->local.ip6, &b->local.ip6);
}

static void forget_path_local(struct wg_path *path)
{
	memset(&path->local, 0, sizeof(path->local));
	path->arrival_ifindex = 0;
}

int wg_path_from_skb(struct wg_path *path, const struct sk_buff *skb)
{
	memset(path, 0, sizeof(*path));
	path->arrival_ifindex = skb->skb_iif;
	if (ip_hdr(skb)->version == 4) {
		struct sockaddr_in *sin = &path->remote.sin;

		sin->sin_family = AF_INET;
		sin->sin_port = udp_hdr(skb)->source;
		sin->sin_addr.s_addr = ip_hdr(skb)->saddr;
		path->local.ip4 = ip_hdr(skb)->daddr;
		return 0;
	}
	if (IS_ENABLED(CONFIG_IPV6) && ip_hdr(skb)->version == 6) {
		const struct ipv6hdr *ip6h = ipv6_hdr(skb);
		struct sockaddr_in6 *sin6 = &path->remote.sin6;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = udp_hdr(skb)->source;
		sin6->sin6_addr = ip6h->saddr;
		/* A link-local peer is only reachable through that link. */
		sin6->sin6_scope_id = ipv6_iface_scope_id(&ip6h->saddr,
							  skb->skb_iif);
		path->local.ip6 = ip6h->daddr;
		return 0;
	}
	return -EINVAL;
}

/*
 * The entry an address from the network goes to: the one that already
 * holds it, else the roaming slot.  The set never grows from the network
 * side beyond that slot, the last one (with one entry, the only one).
 */
static unsigned int entry_for(const struct wg_endpoints *set,
			      const union wg_sockaddr *remote)
{
	unsigned int i;

	for (i = 0; i < set->count; ++i) {
		if (same_remote(&set->entry[i].path.remote, remote))
			return i;
	}
	return min_t(unsigned int, set->count, WG_ENDPOINTS_MAX - 1);
}

/* Under the write lock: @path is now entry @i's, and the active one. */
static void install_path(struct wg_endpoints *set, unsigned int i,
			 const struct wg_path *path)
{
	set->entry[i].path = *path;
	dst_cache_reset(&set->entry[i].route);
	set->active = i;
	if (set->count <= i)
		WRITE_ONCE(set->count, i + 1);
}

void wg_endpoints_learn(struct wg_peer *peer, const struct wg_path *path)
{
	struct wg_endpoints *set = &peer->endpoints;
	bool known;

	if (path->remote.sa.sa_family != AF_INET &&
	    path->remote.sa.sa_family != AF_INET6)
		return;

	/* Nearly every packet comes along the path the last one took. */
	read_lock_bh(&set->lock);
	known = set->count && same_path(&set->entry[set->active].path, path);
	read_unlock_bh(&set->lock);
	if (likely(known))
		return;

	write_lock_bh(&set->lock);
	install_path(set, entry_for(set, &path->remote), path);
	write_unlock_bh(&set->lock);
}

void wg_endpoints_learn_from_skb(struct wg_peer *peer,
				 const struct sk_buff *skb)
{
	struct wg_path path;

	if (!wg_path_from_skb(&path, skb))
		wg_endpoints_learn(peer, &path);
}

void wg_endpoints_configure(struct wg_peer *peer, const struct sockaddr *addr)
{
	struct wg_endpoints *set = &peer->endpoints;
	struct wg_path path = { };

	if (addr->sa_family == AF_INET)
		path.remote.sin = *(const struct sockaddr_in *)addr;
	else if (addr->sa_family == AF_INET6)
		path.remote.sin6 = *(const struct sockaddr_in6 *)addr;
	else
		return;

	write_lock_bh(&set->lock);
	/* The same address again still forgets what we learnt about it. */
	if (!set->count || !same_path(&set->entry[set->active].path, &path))
		install_path(set, 0, &path);
	write_unlock_bh(&set->lock);
}

bool wg_endpoints_active(struct wg_peer *peer, union wg_sockaddr *addr)
{
	struct wg_endpoints *set = &peer->endpoints;
	bool found;

	read_lock_bh(&set->lock);
	found = set->count;
	if (found)
		*addr = set->entry[set->active].path.remote;
	read_unlock_bh(&set->lock);
	return found;
}

void wg_endpoints_forget_local(struct wg_peer *peer)
{
	struct wg_endpoints *set = &peer->endpoints;
	unsigned int i;

	write_lock_bh(&set->lock);
	for (i = 0; i < set->count; ++i) {
		forget_path_local(&set->entry[i].path);
		dst_cache_reset(&set->entry[i].route);
	}
	write_unlock_bh(&set->lock);
}

void wg_device_forget_local_addresses(struct wg_device *wg)
{
	struct wg_peer *peer;

	lockdep_assert_held(&wg->device_update_lock);
	list_for_each_entry(peer, &wg->peer_list, peer_list)
		wg_endpoints_forget_local(peer);
}

/*
 * Whether a route found with the learnt local address may keep it: only
 * when it leaves through the interface the peer's packets arrive on.
 */
static bool leaves_by_arrival(const struct wg_path *path,
			      const struct net_device *dev)
{
	return !path->arrival_ifindex || dev->ifindex == path->arrival_ifindex;
}

static void flow4_init(struct flowi4 *fl, const struct wg_path *path,
		       __be32 saddr, const struct sock *sock, u32 mark)
{
	*fl = (struct flowi4) {
		.saddr = saddr,
		.daddr = path->remote.sin.sin_addr.s_addr,
		.fl4_dport = path->remote.sin.sin_port,
		.fl4_sport = inet_sk(sock)->inet_sport,
		.flowi4_mark = mark,
		.flowi4_proto = IPPROTO_UDP,
	};
}

static int route4(struct wg_device *wg, const struct wg_path *path,
		  struct dst_cache *cache, struct wg_route *route)
{
	struct flowi4 *fl = &route->fl.u.ip4;
	struct net *net = sock_net(route->sock);
	u32 mark = READ_ONCE(wg->fwmark);
	struct rtable *rt;

	flow4_init(fl, path, 0, route->sock, mark);
	rt = cache ? dst_cache_get_ip4(cache, &fl->saddr) : NULL;
	if (rt)
		goto found;

	fl->saddr = path->local.ip4;
	rt = ip_route_output_flow(net, fl, route->sock);
	/* A local address that went away gets -EINVAL. */
	if (path->local.ip4 &&
	    (IS_ERR(rt) || !leaves_by_arrival(path, rt->dst.dev))) {
		if (!IS_ERR(rt))
			ip_rt_put(rt);
		flow4_init(fl, path, 0, route->sock, mark);
		rt = ip_route_output_flow(net, fl, route->sock);
	}
	if (IS_ERR(rt))
		return PTR_ERR(rt);
	if (cache)
		dst_cache_set_ip4(cache, &rt->dst, fl->saddr);
found:
	route->dst = &rt->dst;
	return 0;
}

#if IS_ENABLED(CONFIG_IPV6)
static void flow6_init(struct flowi6 *fl, const struct wg_path *path,
		       const struct in6_addr *saddr, const struct sock *sock,
		       u32 mark)
{
	*fl = (struct flowi6) {
		.saddr = *saddr,
		.daddr = path->remote.sin6.sin6_addr,
		.fl6_dport = path->remote.sin6.sin6_port,
		.fl6_sport = inet_sk(sock)->inet_sport,
		.flowi6_mark = mark,
		.flowi6_oif = path->remote.sin6.sin6_scope_id,
		.flowi6_proto = IPPROTO_UDP,
	};
}

static int route6(struct wg_device *wg, const struct wg_path *path,
		  struct dst_cache *cache, struct wg_route *route)
{
	struct flowi6 *fl = &route->fl.u.ip6;
	struct net *net = sock_net(route->sock);
	u32 mark = READ_ONCE(wg->fwmark);
	struct dst_entry *dst;
	bool with_local;

	flow6_init(fl, path, &in6addr_any, route->sock, mark);
	dst = cache ? dst_cache_get_ip6(cache, &fl->saddr) : NULL;
	if (dst)
		goto found;

	/* Unlike IPv4's, the IPv6 lookup does not check a given source. */
	with_local = !ipv6_addr_any(&path->local.ip6) &&
		     ipv6_chk_addr(net, &path->local.ip6, NULL, 0);
	if (with_local)
		fl->saddr = path->local.ip6;
	dst = ip6_dst_lookup_flow(net, route->sock, fl, NULL);
	if (with_local && (IS_ERR(dst) || !leaves_by_arrival(path, dst->dev))) {
		if (!IS_ERR(dst))
			dst_release(dst);
		flow6_init(fl, path, &in6addr_any, route->sock, mark);
		dst = ip6_dst_lookup_flow(net, route->sock, fl, NULL);
	}
	if (IS_ERR(dst))
		return PTR_ERR(dst);
	if (cache)
		dst_cache_set_ip6(cache, dst, &fl->saddr);
found:
	route->dst = dst;
	return 0;
}
#else
static int route6(struct wg_device *wg, const struct wg_path *path,
		  struct dst_cache *cache, struct wg_route *route)
{
	return -EAFNOSUPPORT;
}
#endif

/* Under rcu_read_lock_bh(), and the set's lock when @cache is an entry's. */
static int route_path(struct wg_device *wg, const struct wg_path *path,
		      struct dst_cache *cache, struct wg_route *route)
{
	int ret;

	route->family = path->remote.sa.sa_family;
	if (route->family == AF_INET)
		route->sock = rcu_dereference_bh(wg->sock4);
	else if (route->family == AF_INET6)
		route->sock = rcu_dereference_bh(wg->sock6);
	else
		return -EDESTADDRREQ;
	if (unlikely(!route->sock))
		return -ENONET;

	if (route->family == AF_INET)
		ret = route4(wg, path, cache, route);
	else
		ret = route6(wg, path, cache, route);
	if (ret)
		net_dbg_ratelimited("%s: no route to %pISpfsc, error %d\n",
				    wg->dev->name, &path->remote, ret);
	return ret;
}

static const void *route_daddr(const struct wg_route *route)
{
	if (route->family == AF_INET)
		return &route->fl.u.ip4.daddr;
	return &route->fl.u.ip6.daddr;
}

static void set_nested(struct wg_peer *peer, bool nested)
{
	if (peer && READ_ONCE(peer->endpoints.nested) != nested)
		WRITE_ONCE(peer->endpoints.nested, nested);
}

/*
 * A route that ends in our own device puts the packet inside the tunnel of
 * the peer whose allowed IPs hold the endpoint: a tunnel inside a tunnel.
 * That peer must be another one, reached directly; a route leading back to
 * @peer, to no peer or to a peer that is itself reached through us would
 * have each packet go round and grow for ever.  The check is repeated on
 * cached routes: allowed IPs change without the routing table.
 */
static int check_nesting(struct wg_device *wg, struct wg_peer *peer,
			 struct wg_route *route)
{
	struct wg_peer *carrier;
	bool loops;

	if (likely(route->dst->dev != wg->dev)) {
		set_nested(peer, false);
		return 0;
	}
	set_nested(peer, true);
	carrier = wg_allowedips_lookup_addr(&wg->peer_allowedips, route->family,
					    route_daddr(route));
	loops = !carrier || carrier == peer ||
		READ_ONCE(carrier->endpoints.nested);
	wg_peer_put(carrier);
	if (likely(!loops))
		return 0;

	dst_release(route->dst);
	route->dst = NULL;
	net_dbg_ratelimited("%s: the route to peer %llu's endpoint loops inside the device\n",
			    wg->dev->name, peer ? peer->internal_id : 0);
	return -ELOOP;
}

int wg_endpoints_route(struct wg_peer *peer, struct wg_route *route)
{
	struct wg_endpoints *set = &peer->endpoints;
	struct wg_endpoint *entry;
	int ret = -EDESTADDRREQ;

	read_lock_bh(&set->lock);
	if (likely(set->count)) {
		entry = &set->entry[set->active];
		ret = route_path(peer->device, &entry->path, &entry->route,
				 route);
	}
	read_unlock_bh(&set->lock);
	if (likely(!ret))
		ret = check_nesting(peer->device, peer, route);
	return ret;
}

int wg_path_route(struct wg_device *wg, const struct wg_path *path,
		  struct wg_route *route)
{
	int ret = route_path(wg, path, NULL, route);

	return ret ? ret : check_nesting(wg, NULL, route);
}
