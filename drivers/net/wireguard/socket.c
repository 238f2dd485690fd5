// SPDX-License-Identifier: GPL-2.0
/*
 * The device's UDP sockets and the outer layer of every packet.
 *
 * Sockets are kernel UDP sockets turned into encapsulation sockets, so that
 * the UDP layer hands us each datagram from softirq without any socket
 * queueing.  They always live in the namespace the device was created in,
 * wherever the device itself has been moved since.
 *
 * Sending goes straight to udp_tunnel_xmit_skb() along the route that
 * endpoint.c resolves for the peer's active endpoint: this file knows the
 * sockets and the outer headers, endpoint.c where they go and from where.
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
#include "endpoint.h"
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

static void send_failed(struct wg_device *wg, struct sk_buff *skb)
{
	DEV_STATS_INC(wg->dev, tx_errors);
	kfree_skb(skb);
}

/*
 * Under rcu_read_lock_bh(), which keeps @route->sock; consumes the dst.
 * (Not const: 6.1's udp_tunnel6_xmit_skb() takes its addresses writable.)
 */
static void xmit(struct wg_route *route, struct sk_buff *skb, u8 ds)
{
	if (route->family == AF_INET) {
		const struct flowi4 *fl = &route->fl.u.ip4;

		/*
		 * The mark makes a netfilter reroute agree with our lookup.
		 * skb->dev is cleared because the tunnel core counts into
		 * that device's per-CPU stats, and the data path does its
		 * own accounting.
		 */
		skb->mark = fl->flowi4_mark;
		skb->dev = NULL;
		udp_tunnel_xmit_skb(container_of(route->dst, struct rtable, dst),
				    route->sock, skb,
				    fl->saddr, fl->daddr, ds,
				    ip4_dst_hoplimit(route->dst), 0,
				    fl->fl4_sport, fl->fl4_dport, false, false, 0);
		return;
	}
#if IS_ENABLED(CONFIG_IPV6)
	{
		struct flowi6 *fl = &route->fl.u.ip6;

		skb->mark = fl->flowi6_mark;
		/* No device: the data path counts its own statistics. */
		udp_tunnel6_xmit_skb(route->dst, route->sock, skb, NULL,
				     &fl->saddr, &fl->daddr, ds,
				     ip6_dst_hoplimit(route->dst), 0,
				     fl->fl6_sport, fl->fl6_dport, false, 0);
	}
#endif
}

int wg_socket_send(struct wg_peer *peer, struct sk_buff *skb, u8 ds)
{
	struct wg_route route;
	int ret;

	rcu_read_lock_bh();
	ret = wg_endpoints_route(peer, &route);
	if (likely(!ret))
		xmit(&route, skb, ds);
	rcu_read_unlock_bh();
	if (unlikely(ret))
		send_failed(peer->device, skb);
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

int wg_socket_send_copy(struct wg_peer *peer, const void *data, size_t len,
			u8 ds)
{
	struct sk_buff *skb = skb_from_buffer(data, len);

	if (unlikely(!skb)) {
		DEV_STATS_INC(peer->device->dev, tx_errors);
		return -ENOMEM;
	}
	return wg_socket_send(peer, skb, ds);
}

int wg_socket_reply(struct wg_device *wg, const struct sk_buff *in_skb,
		    const void *data, size_t len)
{
	struct wg_route route;
	struct wg_path path;
	struct sk_buff *skb;
	int ret;

	ret = wg_path_from_skb(&path, in_skb);
	if (unlikely(ret < 0))
		return ret;
	/*
	 * The address we answer from has just received this very packet:
	 * whatever interface the route takes, it is the one to answer from.
	 */
	path.arrival_ifindex = 0;

	skb = skb_from_buffer(data, len);
	if (unlikely(!skb)) {
		DEV_STATS_INC(wg->dev, tx_errors);
		return -ENOMEM;
	}
	/* No peer to cache a route for: a reply is a one-off. */
	rcu_read_lock_bh();
	ret = wg_path_route(wg, &path, &route);
	if (likely(!ret))
		xmit(&route, skb, 0);
	rcu_read_unlock_bh();
	if (unlikely(ret))
		send_failed(wg, skb);
	return ret;
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

int wg_socket_open(struct wg_device *wg, u16 port)
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
	wg_socket_swap(wg, sock4->sk, sock6 ? sock6->sk : NULL);
	return 0;
}

static void release_socket(struct sock *sk)
{
	if (sk)
		udp_tunnel_sock_release(sk);
}

void wg_socket_swap(struct wg_device *wg, struct sock *new4,
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
