// SPDX-License-Identifier: GPL-2.0
/*
 * The device's UDP sockets and the outer layer of every packet.
 *
 * Sockets are kernel UDP sockets turned into encapsulation sockets, so that
 * the UDP layer hands us each datagram from softirq without any socket
 * queueing.  They always live in the namespace the device was created in,
 * wherever the device itself has been moved since.
 *
 * Sending goes straight to udp_tunnel_xmit_skb() with a route we look up
 * ourselves and keep in the peer's dst_cache.  The peer's endpoint lock is
 * held for reading across the lookup and the cache update: whoever changes
 * the endpoint takes it for writing and resets the cache, so a route for an
 * old endpoint can never be stored after the reset.
 */
#include <linux/if_ether.h>
#include <linux/inetdevice.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/net.h>
#include <linux/netdevice.h>
#include <linux/rcupdate.h>
#include <linux/skbuff.h>
#include <linux/udp.h>
#include <net/addrconf.h>
#include <net/dst_cache.h>
#include <net/inet_sock.h>
#include <net/ip.h>
#include <net/ipv6.h>
#include <net/route.h>
#include <net/udp_tunnel.h>

#include "compat.h"
#include "device.h"
#include "messages.h"
#include "peer.h"
#include "queueing.h"
#include "socket.h"

/*
 * Any nonzero encap type makes the UDP layer call our encap_rcv; the value
 * itself only matters to the protocols that parse it (ESP, L2TP), not to us.
 */
#define WG_UDP_ENCAP_TYPE 1

/* How often a random port may turn out to be taken for IPv6 before we fail. */
#define WG_RANDOM_PORT_TRIES 100

static bool endpoint_equal(const struct endpoint *a, const struct endpoint *b)
{
	if (a->addr.sa_family != b->addr.sa_family)
		return false;
	switch (a->addr.sa_family) {
	case AF_INET:
		return a->addr4.sin_port == b->addr4.sin_port &&
		       a->addr4.sin_addr.s_addr == b->addr4.sin_addr.s_addr &&
		       a->src4.s_addr == b->src4.s_addr &&
		       a->src_if4 == b->src_if4;
	case AF_INET6:
		return a->addr6.sin6_port == b->addr6.sin6_port &&
		       ipv6_addr_equal(&a->addr6.sin6_addr, &b->addr6.sin6_addr) &&
		       a->addr6.sin6_scope_id == b->addr6.sin6_scope_id &&
		       ipv6_addr_equal(&a->src6, &b->src6);
	default:
		return true;
	}
}

/* Covers src4 and src_if4 as well: src6 is the larger member of the union. */
static void endpoint_clear_src(struct endpoint *endpoint)
{
	BUILD_BUG_ON(sizeof(endpoint->src6) <
		     sizeof(endpoint->src4) + sizeof(endpoint->src_if4));
	memset(&endpoint->src6, 0, sizeof(endpoint->src6));
}

/*
 * A send found that the local address we used to answer from is gone, and
 * routed without it.  It could not clear it under the read lock, so it does
 * so now, unless the endpoint was changed meanwhile (then the new one is
 * fresher than our finding).  The cache needs no reset: what it holds was
 * looked up without the old source.
 */
static void forget_stale_src(struct wg_peer *peer, const struct endpoint *seen)
{
	write_lock_bh(&peer->endpoint_lock);
	if (endpoint_equal(&peer->endpoint, seen))
		endpoint_clear_src(&peer->endpoint);
	write_unlock_bh(&peer->endpoint_lock);
}

static void send_failed(struct wg_device *wg, struct sk_buff *skb)
{
	DEV_STATS_INC(wg->dev, tx_errors);
	kfree_skb(skb);
}

static void flow4_init(struct flowi4 *fl, const struct endpoint *endpoint,
		       __be32 saddr, __be16 sport, u32 mark)
{
	*fl = (struct flowi4) {
		.saddr = saddr,
		.daddr = endpoint->addr4.sin_addr.s_addr,
		.fl4_dport = endpoint->addr4.sin_port,
		.fl4_sport = sport,
		.flowi4_mark = mark,
		.flowi4_proto = IPPROTO_UDP,
	};
}

/*
 * Whether src4 is still an address of the interface it was reached on.
 * Removing an address flushes the routing cache, so this only runs when our
 * dst_cache has already missed.
 */
static bool src4_still_ours(struct net *net, const struct endpoint *endpoint)
{
	struct in_device *in_dev;
	struct net_device *dev;
	bool ours = false;

	if (!endpoint->src_if4)
		return true;
	rcu_read_lock();
	dev = dev_get_by_index_rcu(net, endpoint->src_if4);
	in_dev = dev ? __in_dev_get_rcu(dev) : NULL;
	if (in_dev)
		ours = inet_confirm_addr(net, in_dev, 0, endpoint->src4.s_addr,
					 RT_SCOPE_HOST);
	rcu_read_unlock();
	return ours;
}

/*
 * Routes to an IPv4 endpoint, preferring the local address the peer last
 * reached us at.  If that address is no longer usable the lookup is redone
 * without it and *@src_stale tells the caller to forget it.
 */
static struct rtable *route4(struct wg_device *wg, struct sock *sock,
			     struct flowi4 *fl, const struct endpoint *endpoint,
			     bool *src_stale)
{
	struct net *net = sock_net(sock);
	u32 mark = fl->flowi4_mark;
	__be16 sport = fl->fl4_sport;
	struct rtable *rt;

	if (fl->saddr && !src4_still_ours(net, endpoint)) {
		flow4_init(fl, endpoint, 0, sport, mark);
		*src_stale = true;
	}
	rt = ip_route_output_flow(net, fl, sock);
	/* -EINVAL is what a source address that is not local gets. */
	if (IS_ERR(rt) && PTR_ERR(rt) == -EINVAL && fl->saddr) {
		flow4_init(fl, endpoint, 0, sport, mark);
		*src_stale = true;
		rt = ip_route_output_flow(net, fl, sock);
	}
	if (IS_ERR(rt)) {
		net_dbg_ratelimited("%s: no route to %pISpfsc, error %ld\n",
				    wg->dev->name, &endpoint->addr, PTR_ERR(rt));
		return rt;
	}
	/* Our own packets routed into ourselves would recurse forever. */
	if (unlikely(rt->dst.dev == wg->dev)) {
		ip_rt_put(rt);
		net_dbg_ratelimited("%s: route to %pISpfsc loops back into the device\n",
				    wg->dev->name, &endpoint->addr);
		return ERR_PTR(-ELOOP);
	}
	return rt;
}

static int send4(struct wg_device *wg, struct sk_buff *skb,
		 const struct endpoint *endpoint, u8 ds,
		 struct dst_cache *cache, bool *src_stale)
{
	struct rtable *rt = NULL;
	struct flowi4 fl;
	struct sock *sock;
	int ret = 0;

	rcu_read_lock_bh();
	sock = rcu_dereference_bh(wg->sock4);
	if (unlikely(!sock)) {
		ret = -ENONET;
		goto err;
	}
	flow4_init(&fl, endpoint, endpoint->src4.s_addr,
		   inet_sk(sock)->inet_sport, READ_ONCE(wg->fwmark));
	if (cache)
		rt = dst_cache_get_ip4(cache, &fl.saddr);
	if (!rt) {
		rt = route4(wg, sock, &fl, endpoint, src_stale);
		if (IS_ERR(rt)) {
			ret = PTR_ERR(rt);
			goto err;
		}
		if (cache)
			dst_cache_set_ip4(cache, &rt->dst, fl.saddr);
	}
	/*
	 * The mark makes a netfilter reroute agree with our lookup.  skb->dev
	 * is cleared because the tunnel core counts into that device's
	 * per-CPU stats, and the data path does its own accounting.
	 */
	skb->mark = fl.flowi4_mark;
	skb->dev = NULL;
	udp_tunnel_xmit_skb(rt, sock, skb, fl.saddr, fl.daddr, ds,
			    ip4_dst_hoplimit(&rt->dst), 0, fl.fl4_sport,
			    fl.fl4_dport, false, false, 0);
	rcu_read_unlock_bh();
	return 0;

err:
	rcu_read_unlock_bh();
	send_failed(wg, skb);
	return ret;
}

#if IS_ENABLED(CONFIG_IPV6)
static struct dst_entry *route6(struct wg_device *wg, struct sock *sock,
				struct flowi6 *fl,
				const struct endpoint *endpoint,
				bool *src_stale)
{
	struct net *net = sock_net(sock);
	struct dst_entry *dst;

	/* Unlike IPv4, the IPv6 lookup does not check a given source. */
	if (!ipv6_addr_any(&fl->saddr) &&
	    !ipv6_chk_addr(net, &fl->saddr, NULL, 0)) {
		fl->saddr = in6addr_any;
		*src_stale = true;
	}
	dst = ip6_dst_lookup_flow(net, sock, fl, NULL);
	if (IS_ERR(dst)) {
		net_dbg_ratelimited("%s: no route to %pISpfsc, error %ld\n",
				    wg->dev->name, &endpoint->addr, PTR_ERR(dst));
		return dst;
	}
	if (unlikely(dst->dev == wg->dev)) {
		dst_release(dst);
		net_dbg_ratelimited("%s: route to %pISpfsc loops back into the device\n",
				    wg->dev->name, &endpoint->addr);
		return ERR_PTR(-ELOOP);
	}
	return dst;
}

static int send6(struct wg_device *wg, struct sk_buff *skb,
		 const struct endpoint *endpoint, u8 ds,
		 struct dst_cache *cache, bool *src_stale)
{
	struct dst_entry *dst = NULL;
	struct flowi6 fl;
	struct sock *sock;
	int ret = 0;

	rcu_read_lock_bh();
	sock = rcu_dereference_bh(wg->sock6);
	if (unlikely(!sock)) {
		ret = -ENONET;
		goto err;
	}
	fl = (struct flowi6) {
		.saddr = endpoint->src6,
		.daddr = endpoint->addr6.sin6_addr,
		.fl6_dport = endpoint->addr6.sin6_port,
		.fl6_sport = inet_sk(sock)->inet_sport,
		.flowi6_mark = READ_ONCE(wg->fwmark),
		.flowi6_oif = endpoint->addr6.sin6_scope_id,
		.flowi6_proto = IPPROTO_UDP,
	};
	if (cache)
		dst = dst_cache_get_ip6(cache, &fl.saddr);
	if (!dst) {
		dst = route6(wg, sock, &fl, endpoint, src_stale);
		if (IS_ERR(dst)) {
			ret = PTR_ERR(dst);
			goto err;
		}
		if (cache)
			dst_cache_set_ip6(cache, dst, &fl.saddr);
	}
	skb->mark = fl.flowi6_mark;
	/* No device: the data path counts its own statistics. */
	udp_tunnel6_xmit_skb(dst, sock, skb, NULL, &fl.saddr, &fl.daddr, ds,
			     ip6_dst_hoplimit(dst), 0, fl.fl6_sport,
			     fl.fl6_dport, false, 0);
	rcu_read_unlock_bh();
	return 0;

err:
	rcu_read_unlock_bh();
	send_failed(wg, skb);
	return ret;
}
#else
static int send6(struct wg_device *wg, struct sk_buff *skb,
		 const struct endpoint *endpoint, u8 ds,
		 struct dst_cache *cache, bool *src_stale)
{
	send_failed(wg, skb);
	return -EAFNOSUPPORT;
}
#endif

/* Sends to @endpoint; the caller keeps it stable while we run. */
static int send_to_endpoint(struct wg_device *wg, struct sk_buff *skb,
			    const struct endpoint *endpoint, u8 ds,
			    struct dst_cache *cache, bool *src_stale)
{
	switch (endpoint->addr.sa_family) {
	case AF_INET:
		return send4(wg, skb, endpoint, ds, cache, src_stale);
	case AF_INET6:
		return send6(wg, skb, endpoint, ds, cache, src_stale);
	default:
		/* The peer has never been configured with or seen at an address. */
		send_failed(wg, skb);
		return -EDESTADDRREQ;
	}
}

int wg_socket_send_skb_to_peer(struct wg_peer *peer, struct sk_buff *skb,
			       u8 ds)
{
	struct endpoint seen;
	bool src_stale = false;
	int ret;

	read_lock_bh(&peer->endpoint_lock);
	ret = send_to_endpoint(peer->device, skb, &peer->endpoint, ds,
			       &peer->endpoint_cache, &src_stale);
	if (unlikely(src_stale))
		seen = peer->endpoint;
	read_unlock_bh(&peer->endpoint_lock);

	if (unlikely(src_stale))
		forget_stale_src(peer, &seen);
	return ret;
}

/* An skb holding a copy of @data, with room for the outer headers. */
static struct sk_buff *skb_from_buffer(const void *data, size_t len)
{
	struct sk_buff *skb = alloc_skb(len + SKB_HEADER_LEN, GFP_ATOMIC);

	if (unlikely(!skb))
		return NULL;
	skb_reserve(skb, SKB_HEADER_LEN);
	skb_put_data(skb, data, len);
	return skb;
}

int wg_socket_send_buffer_to_peer(struct wg_peer *peer, void *data,
				  size_t len, u8 ds)
{
	struct sk_buff *skb = skb_from_buffer(data, len);

	if (unlikely(!skb)) {
		DEV_STATS_INC(peer->device->dev, tx_errors);
		return -ENOMEM;
	}
	return wg_socket_send_skb_to_peer(peer, skb, ds);
}

int wg_socket_send_buffer_as_reply_to_skb(struct wg_device *wg,
					  struct sk_buff *in_skb,
					  void *out_buffer, size_t len)
{
	struct endpoint endpoint;
	bool src_stale = false;
	struct sk_buff *skb;
	int ret;

	ret = wg_socket_endpoint_from_skb(&endpoint, in_skb);
	if (unlikely(ret < 0))
		return ret;
	/*
	 * The address we answer from has just received this very packet, so
	 * it is ours: do not insist that it be on the arrival interface.
	 */
	if (endpoint.addr.sa_family == AF_INET)
		endpoint.src_if4 = 0;

	skb = skb_from_buffer(out_buffer, len);
	if (unlikely(!skb)) {
		DEV_STATS_INC(wg->dev, tx_errors);
		return -ENOMEM;
	}
	/* No peer to cache a route for: a reply is a one-off. */
	return send_to_endpoint(wg, skb, &endpoint, 0, NULL, &src_stale);
}

int wg_socket_endpoint_from_skb(struct endpoint *endpoint,
				const struct sk_buff *skb)
{
	memset(endpoint, 0, sizeof(*endpoint));
	if (ip_hdr(skb)->version == 4) {
		const struct iphdr *iph = ip_hdr(skb);

		endpoint->addr4.sin_family = AF_INET;
		endpoint->addr4.sin_port = udp_hdr(skb)->source;
		endpoint->addr4.sin_addr.s_addr = iph->saddr;
		endpoint->src4.s_addr = iph->daddr;
		endpoint->src_if4 = skb->skb_iif;
		return 0;
	}
	if (IS_ENABLED(CONFIG_IPV6) && ip_hdr(skb)->version == 6) {
		const struct ipv6hdr *ip6h = ipv6_hdr(skb);

		endpoint->addr6.sin6_family = AF_INET6;
		endpoint->addr6.sin6_port = udp_hdr(skb)->source;
		endpoint->addr6.sin6_addr = ip6h->saddr;
		/* A link-local peer is only reachable through that link. */
		endpoint->addr6.sin6_scope_id =
			ipv6_iface_scope_id(&ip6h->saddr, skb->skb_iif);
		endpoint->src6 = ip6h->daddr;
		return 0;
	}
	return -EINVAL;
}

void wg_socket_set_peer_endpoint(struct wg_peer *peer,
				 const struct endpoint *endpoint)
{
	bool unchanged;

	if (endpoint->addr.sa_family != AF_INET &&
	    endpoint->addr.sa_family != AF_INET6)
		return;

	/* Nearly every packet comes from where the last one did. */
	read_lock_bh(&peer->endpoint_lock);
	unchanged = endpoint_equal(&peer->endpoint, endpoint);
	read_unlock_bh(&peer->endpoint_lock);
	if (likely(unchanged))
		return;

	write_lock_bh(&peer->endpoint_lock);
	peer->endpoint = *endpoint;
	dst_cache_reset(&peer->endpoint_cache);
	write_unlock_bh(&peer->endpoint_lock);
}

void wg_socket_set_peer_endpoint_from_skb(struct wg_peer *peer,
					  const struct sk_buff *skb)
{
	struct endpoint endpoint;

	if (!wg_socket_endpoint_from_skb(&endpoint, skb))
		wg_socket_set_peer_endpoint(peer, &endpoint);
}

void wg_socket_clear_peer_endpoint_src(struct wg_peer *peer)
{
	write_lock_bh(&peer->endpoint_lock);
	endpoint_clear_src(&peer->endpoint);
	dst_cache_reset(&peer->endpoint_cache);
	write_unlock_bh(&peer->endpoint_lock);
}

/*
 * encap_rcv of both sockets, from softirq under RCU, with the UDP checksum
 * verified and skb->data at the UDP header.  Returning 0 tells the UDP layer
 * that the skb is ours now, whether we keep it or free it.
 */
static int wg_receive(struct sock *sk, struct sk_buff *skb)
{
	struct wg_device *wg = rcu_dereference_sk_user_data(sk);

	/* Cleared when the socket is being released. */
	if (unlikely(!wg))
		goto drop;
	/* Nothing shorter than a keepalive can be one of our messages. */
	if (unlikely(skb->len < sizeof(struct udphdr) + MESSAGE_MINIMUM_LENGTH))
		goto drop;
	/*
	 * Only skb->data moves: the network and transport header offsets stay
	 * valid, and the cookie and roaming code read the outer addresses
	 * through them.
	 */
	skb_pull_rcsum(skb, sizeof(struct udphdr));
	wg_packet_receive(wg, skb);
	return 0;

drop:
	kfree_skb(skb);
	return 0;
}

static int create_socket(struct net *net, int family, u16 port,
			 struct socket **sockp)
{
	struct udp_port_cfg cfg = {
		.family = family,
		.local_udp_port = htons(port),
		.use_udp_checksums = true,
	};

	if (family == AF_INET6) {
		/* IPv4 has its own socket: no mapped addresses here. */
		cfg.ipv6_v6only = true;
		cfg.use_udp6_tx_checksums = true;
		cfg.use_udp6_rx_checksums = true;
	}
	return udp_sock_create(net, &cfg, sockp);
}

static u16 bound_port(const struct socket *sock)
{
	return ntohs(inet_sk(sock->sk)->inet_sport);
}

static void make_tunnel_socket(struct net *net, struct socket *sock,
			       struct wg_device *wg)
{
	struct udp_tunnel_sock_cfg cfg = {
		.sk_user_data = wg,
		.encap_type = WG_UDP_ENCAP_TYPE,
		.encap_rcv = wg_receive,
	};

	setup_udp_tunnel_sock(net, sock->sk, &cfg);
}

/*
 * Opens the IPv4 socket and, when the kernel does IPv6, an IPv6 one on the
 * same port.  With @port 0 the IPv4 socket draws a random port that may be
 * taken for IPv6 by someone else; we then draw again.
 */
static int create_sockets(struct net *net, u16 port, struct socket **sock4,
			  struct socket **sock6)
{
	unsigned int tries = port ? 1 : WG_RANDOM_PORT_TRIES;
	int ret;

	for (;;) {
		*sock6 = NULL;
		ret = create_socket(net, AF_INET, port, sock4);
		if (ret < 0)
			return ret;
		if (!ipv6_mod_enabled())
			return 0;
		ret = create_socket(net, AF_INET6, bound_port(*sock4), sock6);
		if (!ret)
			return 0;
		/* IPv6 is there but refuses sockets: do without it. */
		if (ret == -EAFNOSUPPORT) {
			*sock6 = NULL;
			return 0;
		}
		/* Neither socket has become a tunnel yet: a plain release. */
		sock_release(*sock4);
		*sock4 = NULL;
		if (ret != -EADDRINUSE || !--tries)
			return ret;
	}
}

int wg_socket_init(struct wg_device *wg, u16 port)
{
	struct net *net = wg->creating_net;
	struct socket *sock4, *sock6;
	int ret;

	ret = create_sockets(net, port, &sock4, &sock6);
	if (ret < 0) {
		netdev_err(wg->dev, "could not open UDP socket on port %u: %d\n",
			   port, ret);
		return ret;
	}
	make_tunnel_socket(net, sock4, wg);
	if (sock6)
		make_tunnel_socket(net, sock6, wg);
	wg_socket_reinit(wg, sock4->sk, sock6 ? sock6->sk : NULL);
	return 0;
}

static void release_socket(struct sock *sk)
{
	if (sk)
		udp_tunnel_sock_release(sk);
}

void wg_socket_reinit(struct wg_device *wg, struct sock *new4,
		      struct sock *new6)
{
	struct mutex *lock = &wg->socket_update_lock;
	struct sock *old4, *old6;

	mutex_lock(lock);
	old4 = rcu_dereference_protected(wg->sock4, lockdep_is_held(lock));
	old6 = rcu_dereference_protected(wg->sock6, lockdep_is_held(lock));
	rcu_assign_pointer(wg->sock4, new4);
	rcu_assign_pointer(wg->sock6, new6);
	/* Closing keeps the port, to be shown and reused when reopened. */
	if (new4)
		WRITE_ONCE(wg->incoming_port, ntohs(inet_sk(new4)->inet_sport));
	else if (new6)
		WRITE_ONCE(wg->incoming_port, ntohs(inet_sk(new6)->inet_sport));
	mutex_unlock(lock);

	/* Senders found the old sockets under RCU; let them finish. */
	synchronize_net();
	release_socket(old4);
	release_socket(old6);
}
