// SPDX-License-Identifier: GPL-2.0
/*
 * AllowedIPs: one path-compressed binary trie per address family.
 *
 * Every node stands for a prefix (key, cidr).  Its two children hold longer
 * prefixes of it and are chosen by the address bit at index cidr, counted
 * from the most significant bit.  Runs of bits that no prefix branches on are
 * skipped, so a child's cidr may be any value above its parent's, and a
 * lookup must check the whole prefix of each node it visits.  A node whose
 * peer is NULL only joins two subtries; it never matches.  The trie keeps
 * three invariants, which the self-tests check:
 *
 *  - a node without a peer has exactly two children,
 *  - host bits of a key beyond its cidr are zero,
 *  - a child extends its parent's prefix with the bit its slot stands for.
 *
 * Node layout on 64-bit machines:
 *
 *	offset	size	field
 *	 0	 8	peer		owner, or NULL for a branching node
 *	 8	16	child[2]	subtries for bit @cidr being 0 and 1
 *	24	16	peer_list/rcu	in the owner's list; rcu_head once unlinked
 *	40	 1	cidr
 *	41	 1	is_v6
 *	44	4/16	key[]		the prefix, as CPU-order 32-bit words
 *
 * An IPv4 node takes 48 bytes and an IPv6 node 60 (64 in its cache), each
 * family having a kmem_cache of its own so that IPv4 does not pay for IPv6
 * keys.  The list entry and the rcu_head share memory: a node leaves its
 * peer's list before it is handed to call_rcu(), and readers never follow
 * the list.  There is no parent pointer: removal walks down from the root
 * (at most 33 or 129 nodes) and remembers the two slots it needs.
 *
 * Memory per prefix: N prefixes that are all leaves, like N random IPv4 /32,
 * need N - 1 branching nodes, so about 2 * 48 = 96 bytes of slab per prefix
 * (85 objects per 4 KiB slab adds about 0.4%).  Prefixes that contain others
 * need fewer branching nodes.
 *
 * Concurrency: lookups run under rcu_read_lock_bh() and take no lock.
 * Writers hold the lock passed in and publish a node only once it is fully
 * built.  The key and cidr of a node never change after that; only its peer
 * and child pointers do, and unlinked nodes are freed after a grace period.
 */

#include "allowedips.h"
#include "peer.h"

#include <linux/bitops.h>
#include <linux/errno.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/lockdep.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/slab.h>

#define V4_BITS 32
#define V6_BITS 128
#define MAX_KEY_WORDS (V6_BITS / 32)

struct allowedips_node {
	struct wg_peer __rcu *peer;
	struct allowedips_node __rcu *child[2];
	union {
		struct list_head peer_list;
		struct rcu_head rcu;
	};
	u8 cidr;
	u8 is_v6;
	u32 key[];
};

/* Indexed by is_v6. */
static struct kmem_cache *node_cache[2];

#define deref_locked(p, lock) rcu_dereference_protected(p, lockdep_is_held(lock))

#ifdef CONFIG_WIREGUARD_DEBUG
/* Nodes alive in all tables, for the self-tests' leak check. */
static atomic_long_t live_nodes = ATOMIC_LONG_INIT(0);

static inline void count_node(long delta)
{
	atomic_long_add(delta, &live_nodes);
}
#else
static inline void count_node(long delta)
{
}
#endif

static inline unsigned int family_bits(bool is_v6)
{
	return is_v6 ? V6_BITS : V4_BITS;
}

static inline unsigned int family_words(bool is_v6)
{
	return family_bits(is_v6) / 32;
}

static inline unsigned int bit_at(const u32 *key, unsigned int index)
{
	return (key[index / 32] >> (31 - index % 32)) & 1;
}

/* Network order bytes, possibly unaligned, to the CPU-order words we key on. */
static void key_from_bytes(u32 *key, const void *ip, bool is_v6)
{
	unsigned int i;
	__be32 word;

	for (i = 0; i < family_words(is_v6); i++) {
		memcpy(&word, (const u8 *)ip + 4 * i, sizeof(word));
		key[i] = be32_to_cpu(word);
	}
}

static void key_mask(u32 *key, unsigned int cidr, bool is_v6)
{
	unsigned int i, keep;

	for (i = 0; i < family_words(is_v6); i++) {
		keep = min(cidr, 32U);
		key[i] &= keep ? ~0U << (32 - keep) : 0;
		cidr -= keep;
	}
}

/* How many leading bits, at most @limit, @a and @b have in common. */
static unsigned int common_bits(const u32 *a, const u32 *b, unsigned int limit)
{
	unsigned int i;
	u32 diff;

	for (i = 0; i * 32 < limit; i++) {
		diff = a[i] ^ b[i];
		if (diff)
			return min(limit, i * 32 + 31 - __fls(diff));
	}
	return limit;
}

/* Does the prefix of @node hold the address @addr? */
static __always_inline bool prefix_holds(const struct allowedips_node *node,
					 const u32 *addr)
{
	unsigned int full = node->cidr / 32, rest = node->cidr % 32, i;

	for (i = 0; i < full; i++) {
		if (node->key[i] != addr[i])
			return false;
	}
	return !rest || !((node->key[full] ^ addr[full]) >> (32 - rest));
}

static inline struct allowedips_node __rcu **root_slot(struct allowedips *table,
						       bool is_v6)
{
	return is_v6 ? &table->root6 : &table->root4;
}

static struct allowedips_node *node_new(const u32 *key, u8 cidr, bool is_v6,
					struct wg_peer *peer)
{
	struct allowedips_node *node;

	node = kmem_cache_alloc(node_cache[is_v6], GFP_KERNEL);
	if (unlikely(!node))
		return NULL;
	count_node(1);
	RCU_INIT_POINTER(node->peer, peer);
	RCU_INIT_POINTER(node->child[0], NULL);
	RCU_INIT_POINTER(node->child[1], NULL);
	node->cidr = cidr;
	node->is_v6 = is_v6;
	memcpy(node->key, key, family_words(is_v6) * sizeof(u32));
	key_mask(node->key, cidr, is_v6);
	return node;
}

static void node_free_rcu(struct rcu_head *rcu)
{
	struct allowedips_node *node = container_of(rcu, struct allowedips_node, rcu);

	kmem_cache_free(node_cache[node->is_v6], node);
	count_node(-1);
}

/* For a node that no reader has ever seen. */
static void node_free_unpublished(struct allowedips_node *node)
{
	kmem_cache_free(node_cache[node->is_v6], node);
	count_node(-1);
}

/* Longest match, under rcu_read_lock_bh(); no reference is taken. */
static struct wg_peer *trie_lookup(struct allowedips *table, bool is_v6,
				   const u32 *addr)
{
	unsigned int bits = family_bits(is_v6);
	struct allowedips_node *node;
	struct wg_peer *best = NULL, *peer;

	node = rcu_dereference_bh(*root_slot(table, is_v6));
	while (node && prefix_holds(node, addr)) {
		peer = rcu_dereference_bh(node->peer);
		if (peer)
			best = peer;
		if (node->cidr == bits)
			break;
		node = rcu_dereference_bh(node->child[bit_at(addr, node->cidr)]);
	}
	return best;
}

static struct wg_peer *lookup_bytes(struct allowedips *table, bool is_v6,
				    const void *ip)
{
	struct wg_peer *peer;
	u32 addr[MAX_KEY_WORDS];

	key_from_bytes(addr, ip, is_v6);
	peer = trie_lookup(table, is_v6, addr);
	return peer ? wg_peer_get_maybe_zero(peer) : NULL;
}

/* Give @node to @peer, at the tail of the peer's list. */
static void node_set_peer(struct allowedips_node *node, struct wg_peer *peer,
			  struct mutex *lock)
{
	/* A branching node has no list entry to take off a list. */
	if (deref_locked(node->peer, lock))
		list_move_tail(&node->peer_list, &peer->allowedips_list);
	else
		list_add_tail(&node->peer_list, &peer->allowedips_list);
	rcu_assign_pointer(node->peer, peer);
}

static int trie_insert(struct allowedips *table, const u32 *key, u8 cidr,
		       bool is_v6, struct wg_peer *peer, struct mutex *lock)
{
	struct allowedips_node __rcu **slot = root_slot(table, is_v6);
	struct allowedips_node *node, *fresh, *top;
	unsigned int common = 0;

	/* Go down while the node's prefix contains the new one. */
	for (;;) {
		node = deref_locked(*slot, lock);
		if (!node)
			break;
		common = common_bits(node->key, key, min(node->cidr, cidr));
		if (common < node->cidr)
			break;
		if (node->cidr == cidr) {
			node_set_peer(node, peer, lock);
			return 0;
		}
		slot = &node->child[bit_at(key, node->cidr)];
	}

	fresh = node_new(key, cidr, is_v6, peer);
	if (unlikely(!fresh))
		return -ENOMEM;
	top = fresh;
	if (node && common == cidr) {
		/* The new prefix contains @node: it goes in between. */
		RCU_INIT_POINTER(fresh->child[bit_at(node->key, cidr)], node);
	} else if (node) {
		/* They part at bit @common: both hang off a branching node. */
		top = node_new(key, common, is_v6, NULL);
		if (unlikely(!top)) {
			node_free_unpublished(fresh);
			return -ENOMEM;
		}
		RCU_INIT_POINTER(top->child[bit_at(key, common)], fresh);
		RCU_INIT_POINTER(top->child[bit_at(node->key, common)], node);
	}
	rcu_assign_pointer(*slot, top);
	list_add_tail(&fresh->peer_list, &peer->allowedips_list);
	return 0;
}

/* Where a node hangs: the slot pointing at it, and the one at its parent. */
struct trie_path {
	struct allowedips_node __rcu **slot;
	struct allowedips_node __rcu **parent_slot;
};

static struct allowedips_node *trie_find(struct allowedips *table,
					 const u32 *key, u8 cidr, bool is_v6,
					 struct trie_path *path,
					 struct mutex *lock)
{
	struct allowedips_node __rcu **slot = root_slot(table, is_v6);
	struct allowedips_node *node;

	path->parent_slot = NULL;
	for (;;) {
		node = deref_locked(*slot, lock);
		if (!node || node->cidr > cidr || !prefix_holds(node, key))
			return NULL;
		if (node->cidr == cidr) {
			path->slot = slot;
			return node;
		}
		path->parent_slot = slot;
		slot = &node->child[bit_at(key, node->cidr)];
	}
}

/*
 * Take the prefix of @node out of the trie.  The node itself goes unless it
 * still branches, and so does its parent if that was only branching and is
 * left with one child.
 */
static void trie_unlink(struct allowedips_node *node, struct trie_path *path,
			struct mutex *lock)
{
	struct allowedips_node *child0 = deref_locked(node->child[0], lock);
	struct allowedips_node *child1 = deref_locked(node->child[1], lock);
	struct allowedips_node *parent, *sibling;

	list_del(&node->peer_list);
	if (child0 && child1) {
		RCU_INIT_POINTER(node->peer, NULL);
		return;
	}
	/* The child is already visible to readers: no barrier needed. */
	RCU_INIT_POINTER(*path->slot, child0 ?: child1);
	call_rcu(&node->rcu, node_free_rcu);
	if (child0 || child1 || !path->parent_slot)
		return;

	parent = deref_locked(*path->parent_slot, lock);
	if (deref_locked(parent->peer, lock))
		return;
	sibling = deref_locked(parent->child[0], lock) ?:
		  deref_locked(parent->child[1], lock);
	RCU_INIT_POINTER(*path->parent_slot, sibling);
	call_rcu(&parent->rcu, node_free_rcu);
}

static bool trie_remove(struct allowedips *table, u32 *key, u8 cidr,
			bool is_v6, struct wg_peer *peer, struct mutex *lock)
{
	struct allowedips_node *node;
	struct trie_path path;

	key_mask(key, cidr, is_v6);
	node = trie_find(table, key, cidr, is_v6, &path, lock);
	if (!node || deref_locked(node->peer, lock) != peer)
		return false;
	trie_unlink(node, &path, lock);
	return true;
}

/* Remove a node known to be in @table and owned, e.g. from a peer's list. */
static void node_remove(struct allowedips *table, struct allowedips_node *node,
			struct mutex *lock)
{
	struct trie_path path;

	if (WARN_ON(trie_find(table, node->key, node->cidr, node->is_v6,
			      &path, lock) != node))
		return;
	trie_unlink(node, &path, lock);
}

/* Queue @node on @todo through its list entry, which it owns no more. */
static void free_queue(struct allowedips_node *node, struct list_head *todo,
		       struct mutex *lock)
{
	if (deref_locked(node->peer, lock))
		list_del(&node->peer_list);
	list_add_tail(&node->peer_list, todo);
}

/*
 * Detach a whole trie and free it after readers are done.  Readers already
 * in it must still find it intact, so no child or peer pointer is touched;
 * the walk uses the list entries instead, which readers never follow.
 */
static void trie_free(struct allowedips_node __rcu **root, struct mutex *lock)
{
	struct allowedips_node *node = deref_locked(*root, lock), *child;
	LIST_HEAD(todo);
	int i;

	RCU_INIT_POINTER(*root, NULL);
	if (!node)
		return;
	free_queue(node, &todo, lock);
	while (!list_empty(&todo)) {
		node = list_first_entry(&todo, struct allowedips_node, peer_list);
		list_del(&node->peer_list);
		for (i = 0; i < 2; i++) {
			child = deref_locked(node->child[i], lock);
			if (child)
				free_queue(child, &todo, lock);
		}
		call_rcu(&node->rcu, node_free_rcu);
		/*
		 * Every caller holds only the config mutex and may sleep; on a
		 * kernel without preemption, a million nodes would otherwise
		 * hold this CPU for seconds.
		 */
		cond_resched();
	}
}

void wg_allowedips_init(struct allowedips *table)
{
	RCU_INIT_POINTER(table->root4, NULL);
	RCU_INIT_POINTER(table->root6, NULL);
}

void wg_allowedips_free(struct allowedips *table, struct mutex *lock)
{
	lockdep_assert_held(lock);
	trie_free(&table->root4, lock);
	trie_free(&table->root6, lock);
}

int wg_allowedips_insert_v4(struct allowedips *table, const struct in_addr *ip,
			    u8 cidr, struct wg_peer *peer, struct mutex *lock)
{
	u32 key[MAX_KEY_WORDS];

	lockdep_assert_held(lock);
	if (WARN_ON(cidr > V4_BITS))
		return -EINVAL;
	key_from_bytes(key, ip, false);
	key_mask(key, cidr, false);
	return trie_insert(table, key, cidr, false, peer, lock);
}

int wg_allowedips_insert_v6(struct allowedips *table, const struct in6_addr *ip,
			    u8 cidr, struct wg_peer *peer, struct mutex *lock)
{
	u32 key[MAX_KEY_WORDS];

	lockdep_assert_held(lock);
	if (WARN_ON(cidr > V6_BITS))
		return -EINVAL;
	key_from_bytes(key, ip, true);
	key_mask(key, cidr, true);
	return trie_insert(table, key, cidr, true, peer, lock);
}

bool wg_allowedips_remove_v4(struct allowedips *table, const struct in_addr *ip,
			     u8 cidr, struct wg_peer *peer, struct mutex *lock)
{
	u32 key[MAX_KEY_WORDS];

	lockdep_assert_held(lock);
	if (cidr > V4_BITS)
		return false;
	key_from_bytes(key, ip, false);
	return trie_remove(table, key, cidr, false, peer, lock);
}

bool wg_allowedips_remove_v6(struct allowedips *table, const struct in6_addr *ip,
			     u8 cidr, struct wg_peer *peer, struct mutex *lock)
{
	u32 key[MAX_KEY_WORDS];

	lockdep_assert_held(lock);
	if (cidr > V6_BITS)
		return false;
	key_from_bytes(key, ip, true);
	return trie_remove(table, key, cidr, true, peer, lock);
}

void wg_allowedips_remove_by_peer(struct allowedips *table,
				  struct wg_peer *peer, struct mutex *lock)
{
	struct allowedips_node *node, *tmp;

	lockdep_assert_held(lock);
	/* Only @node and branching parents, which are on no list, are freed. */
	list_for_each_entry_safe(node, tmp, &peer->allowedips_list, peer_list) {
		node_remove(table, node, lock);
		/* A peer may own a million prefixes; see trie_free(). */
		cond_resched();
	}
}

void wg_allowedips_replace_begin(struct wg_peer *peer, struct list_head *stale,
				 struct mutex *lock)
{
	lockdep_assert_held(lock);
	list_splice_tail_init(&peer->allowedips_list, stale);
}

void wg_allowedips_replace_end(struct allowedips *table,
			       struct list_head *stale, struct mutex *lock)
{
	struct allowedips_node *node, *tmp;

	lockdep_assert_held(lock);
	list_for_each_entry_safe(node, tmp, stale, peer_list) {
		node_remove(table, node, lock);
		cond_resched();
	}
}

void wg_allowedips_replace_abort(struct wg_peer *peer, struct list_head *stale,
				 struct mutex *lock)
{
	lockdep_assert_held(lock);
	list_splice_init(stale, &peer->allowedips_list);
}

struct allowedips_node *wg_allowedips_next(struct wg_peer *peer,
					   struct allowedips_node *pos,
					   struct mutex *lock)
{
	struct list_head *next;

	lockdep_assert_held(lock);
	next = pos ? pos->peer_list.next : peer->allowedips_list.next;
	if (next == &peer->allowedips_list)
		return NULL;
	return list_entry(next, struct allowedips_node, peer_list);
}

int wg_allowedips_read_node(struct allowedips_node *node, u8 ip[16], u8 *cidr)
{
	unsigned int i;
	__be32 word;

	for (i = 0; i < family_words(node->is_v6); i++) {
		word = cpu_to_be32(node->key[i]);
		memcpy(ip + 4 * i, &word, sizeof(word));
	}
	*cidr = node->cidr;
	return node->is_v6 ? AF_INET6 : AF_INET;
}

struct allowedips_node *wg_allowedips_find_exact(struct allowedips *table,
						 int family, const u8 *ip,
						 u8 cidr, struct wg_peer *peer,
						 struct mutex *lock)
{
	bool is_v6 = family == AF_INET6;
	struct allowedips_node *node;
	u32 key[MAX_KEY_WORDS];
	struct trie_path path;

	lockdep_assert_held(lock);
	if ((family != AF_INET && !is_v6) || cidr > family_bits(is_v6))
		return NULL;
	key_from_bytes(key, ip, is_v6);
	key_mask(key, cidr, is_v6);
	node = trie_find(table, key, cidr, is_v6, &path, lock);
	if (!node || deref_locked(node->peer, lock) != peer)
		return NULL;
	return node;
}

static struct wg_peer *lookup_skb(struct allowedips *table,
				  struct sk_buff *skb, bool source)
{
	if (skb->protocol == htons(ETH_P_IP))
		return lookup_bytes(table, false, source ? &ip_hdr(skb)->saddr :
							   &ip_hdr(skb)->daddr);
	if (skb->protocol == htons(ETH_P_IPV6))
		return lookup_bytes(table, true, source ? &ipv6_hdr(skb)->saddr :
							  &ipv6_hdr(skb)->daddr);
	return NULL;
}

struct wg_peer *wg_allowedips_lookup_dst(struct allowedips *table,
					 struct sk_buff *skb)
{
	return lookup_skb(table, skb, false);
}

struct wg_peer *wg_allowedips_lookup_src(struct allowedips *table,
					 struct sk_buff *skb)
{
	return lookup_skb(table, skb, true);
}

/* For endpoint.c's loop check and for the self-tests. */
struct wg_peer *wg_allowedips_lookup_addr(struct allowedips *table, int family,
					  const void *addr)
{
	if (family == AF_INET)
		return lookup_bytes(table, false, addr);
	if (family == AF_INET6)
		return lookup_bytes(table, true, addr);
	return NULL;
}

int wg_allowedips_slab_init(void)
{
	size_t head = offsetof(struct allowedips_node, key);
	size_t align = __alignof__(struct allowedips_node);

	node_cache[0] = kmem_cache_create("wg_allowedips_node4",
					  head + V4_BITS / 8, align, 0, NULL);
	if (!node_cache[0])
		return -ENOMEM;
	node_cache[1] = kmem_cache_create("wg_allowedips_node6",
					  head + V6_BITS / 8, align, 0, NULL);
	if (!node_cache[1]) {
		kmem_cache_destroy(node_cache[0]);
		return -ENOMEM;
	}
	return 0;
}

void wg_allowedips_slab_uninit(void)
{
	/* Nodes may still be waiting in call_rcu(). */
	rcu_barrier();
	kmem_cache_destroy(node_cache[1]);
	kmem_cache_destroy(node_cache[0]);
}

#ifdef CONFIG_WIREGUARD_DEBUG
#include "selftest/allowedips.c"
#endif
