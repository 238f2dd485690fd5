/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A peer's endpoint set: the addresses the peer is reached at, what we
 * learnt about the path to each (the local address its packets come to and
 * the interface they arrive on), the route we send along, and which entry
 * is the active one.  Documentation/wireguard.rst says why it is a set.
 */
#ifndef _WG_ENDPOINT_H
#define _WG_ENDPOINT_H

#include <linux/in.h>
#include <linux/in6.h>
#include <linux/socket.h>
#include <linux/spinlock.h>
#include <net/dst_cache.h>
#include <net/flow.h>

struct sk_buff;
struct sock;
struct wg_device;
struct wg_peer;

/* Entries in a set.  One today: the configured or last roamed-to address. */
#define WG_ENDPOINTS_MAX 1

union wg_sockaddr {
	struct sockaddr sa;
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
};

/* One path to the peer, as its packets show it to us. */
struct wg_path {
	/* The peer's address and port; family AF_UNSPEC when unknown. */
	union wg_sockaddr remote;
	/* Our address its packets came to, zero when none was learnt... */
	union {
		__be32 ip4;
		struct in6_addr ip6;
	} local;
	/* ...and the interface they came in on, 0 when not to be checked. */
	int arrival_ifindex;
};

struct wg_endpoint {
	struct wg_path path;
	/* The route, with the source chosen for it, until routing changes. */
	struct dst_cache route;
};

struct wg_endpoints {
	/* Taken for reading by every send, for writing by every change. */
	rwlock_t lock;
	/* Entries holding an address; read without the lock by the xmit path. */
	unsigned int count;
	/* The entry we send to, when count > 0. */
	unsigned int active;
	/*
	 * The active route ends in our own device: the peer is reached inside
	 * the tunnel of another of its peers.  Read locklessly by the others.
	 */
	bool nested;
	struct wg_endpoint entry[WG_ENDPOINTS_MAX];
};

/* What one send needs, resolved: the argument list of udp_tunnel_xmit. */
struct wg_route {
	struct sock *sock;
	struct dst_entry *dst;	/* a reference the send consumes */
	sa_family_t family;
	struct flowi fl;	/* fl.u.ip4 or fl.u.ip6: addresses, ports, mark */
};

int wg_endpoints_init(struct wg_endpoints *set);
/* From the peer's RCU callback: nothing can send any more. */
void wg_endpoints_destroy(struct wg_endpoints *set);

/* Whether the peer has anywhere to send to; a lockless hint. */
static inline bool wg_endpoints_empty(const struct wg_endpoints *set)
{
	return !READ_ONCE(set->count);
}

/* The path a received message came along (outer headers still there). */
int wg_path_from_skb(struct wg_path *path, const struct sk_buff *skb);
/* Roaming: an authenticated message came along @path. */
void wg_endpoints_learn(struct wg_peer *peer, const struct wg_path *path);
void wg_endpoints_learn_from_skb(struct wg_peer *peer,
				 const struct sk_buff *skb);
/* Configuration: the peer is at @addr (AF_INET or AF_INET6, checked). */
void wg_endpoints_configure(struct wg_peer *peer, const struct sockaddr *addr);
/* The active entry's address, for GET; false when there is none. */
bool wg_endpoints_active(struct wg_peer *peer, union wg_sockaddr *addr);
/* Forget the learnt local addresses: the next sends use the routes' own. */
void wg_endpoints_forget_local(struct wg_peer *peer);
/* The same for every peer of @wg (under its device_update_lock). */
void wg_device_forget_local_addresses(struct wg_device *wg);

/*
 * Under rcu_read_lock_bh(), which must last until the send: the route to
 * the peer's active endpoint, or to @path for a one-off answer without a
 * peer.  0 or a negative errno; on success @route holds a dst reference.
 */
int wg_endpoints_route(struct wg_peer *peer, struct wg_route *route);
int wg_path_route(struct wg_device *wg, const struct wg_path *path,
		  struct wg_route *route);

#endif /* _WG_ENDPOINT_H */
