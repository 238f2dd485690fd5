/* SPDX-License-Identifier: GPL-2.0 */
/*
 * AllowedIPs: the table that maps IP prefixes to peers, for routing
 * (destination lookup on transmit) and filtering (source lookup on receive).
 *
 * Readers run under rcu_read_lock_bh() and take no lock.  Every writer holds
 * the device's configuration lock, passed as @lock so that lockdep can check
 * it.  Each peer keeps the nodes it owns on peer->allowedips_list, so that
 * everything belonging to one peer can be walked or removed in time
 * proportional to that peer's prefixes.
 */
#ifndef _WG_ALLOWEDIPS_H
#define _WG_ALLOWEDIPS_H

#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/skbuff.h>
#include <linux/in.h>
#include <linux/in6.h>

struct wg_peer;
struct allowedips_node;

struct allowedips {
	struct allowedips_node __rcu *root4;
	struct allowedips_node __rcu *root6;
};

void wg_allowedips_init(struct allowedips *table);
/* Drop every prefix; readers may still be running (nodes go after RCU). */
void wg_allowedips_free(struct allowedips *table, struct mutex *lock);

/*
 * Make @peer the owner of ip/cidr.  A prefix owned by another peer moves to
 * @peer.  Host bits beyond @cidr are ignored.  -ENOMEM is the only failure.
 */
int wg_allowedips_insert_v4(struct allowedips *table, const struct in_addr *ip,
			    u8 cidr, struct wg_peer *peer, struct mutex *lock);
int wg_allowedips_insert_v6(struct allowedips *table, const struct in6_addr *ip,
			    u8 cidr, struct wg_peer *peer, struct mutex *lock);

/*
 * Remove exactly ip/cidr if @peer owns it.  Absent, or owned by another
 * peer: nothing changes, and that is not an error.  Returns true when a
 * prefix was removed.
 */
bool wg_allowedips_remove_v4(struct allowedips *table, const struct in_addr *ip,
			     u8 cidr, struct wg_peer *peer, struct mutex *lock);
bool wg_allowedips_remove_v6(struct allowedips *table, const struct in6_addr *ip,
			     u8 cidr, struct wg_peer *peer, struct mutex *lock);

/* Remove every prefix of @peer, in time proportional to their number. */
void wg_allowedips_remove_by_peer(struct allowedips *table,
				  struct wg_peer *peer, struct mutex *lock);

/*
 * Replacing a peer's whole set without a moment in which a prefix that stays
 * is unroutable:
 *
 *	LIST_HEAD(stale);
 *	wg_allowedips_replace_begin(peer, &stale, lock);
 *	... insert the new set (and apply removals) ...
 *	wg_allowedips_replace_end(table, &stale, lock);   (or _abort)
 *
 * begin moves the peer's nodes onto @stale, where they stay in the trie and
 * keep routing to the peer; inserting a prefix that is on @stale moves it
 * back to the peer.  end removes from the trie whatever is still on @stale;
 * abort gives it back to the peer unchanged, for a replace that failed
 * half-way.
 */
void wg_allowedips_replace_begin(struct wg_peer *peer,
				 struct list_head *stale, struct mutex *lock);
void wg_allowedips_replace_end(struct allowedips *table,
			       struct list_head *stale, struct mutex *lock);
void wg_allowedips_replace_abort(struct wg_peer *peer,
				 struct list_head *stale, struct mutex *lock);

/*
 * Walking a peer's prefixes, under @lock: @pos NULL gives the first, NULL is
 * returned after the last.  A node pointer must not be kept across a release
 * of the lock; to resume a walk later, remember its prefix and find it again
 * with wg_allowedips_find_exact(), which returns NULL if the prefix is gone
 * or no longer @peer's.
 */
struct allowedips_node *wg_allowedips_next(struct wg_peer *peer,
					   struct allowedips_node *pos, struct mutex *lock);
/* Copies the prefix of @node into @ip (4 or 16 bytes); returns its family. */
int wg_allowedips_read_node(struct allowedips_node *node, u8 ip[16], u8 *cidr);
struct allowedips_node *wg_allowedips_find_exact(struct allowedips *table,
						 int family, const u8 *ip, u8 cidr,
						 struct wg_peer *peer, struct mutex *lock);

/*
 * Packet path, under rcu_read_lock_bh(): the peer owning the longest prefix
 * that holds the packet's destination (or source) address, with a reference
 * taken, or NULL.
 */
struct wg_peer *wg_allowedips_lookup_dst(struct allowedips *table,
					 struct sk_buff *skb);
struct wg_peer *wg_allowedips_lookup_src(struct allowedips *table,
					 struct sk_buff *skb);
/*
 * The same for a bare address (family AF_INET or AF_INET6): the endpoint
 * code asks who owns a route's next hop, and the self-tests use it.
 */
struct wg_peer *wg_allowedips_lookup_addr(struct allowedips *table, int family,
					  const void *addr);

int wg_allowedips_slab_init(void);
void wg_allowedips_slab_uninit(void);

#ifdef CONFIG_WIREGUARD_DEBUG
bool wg_allowedips_selftest(void);
#endif

#endif /* _WG_ALLOWEDIPS_H */
