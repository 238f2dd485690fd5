// SPDX-License-Identifier: GPL-2.0
/*
 * Self-tests of the allowedips trie.  This file is included at the end of
 * allowedips.c, so it sees the node layout and checks the trie's invariants
 * directly, besides comparing the trie with a reference table that any
 * reader can convince themselves of.
 */

#include <linux/delay.h>
#include <linux/kthread.h>
#include <linux/ktime.h>
#include <linux/prandom.h>
#include <linux/random.h>
#include <linux/sched.h>
#include <linux/sort.h>
#include <linux/vmalloc.h>

#define ST_PEERS 2048
#define ST_MAX_REF 4096		/* reference entries per family */
#define ST_ROUNDS 32
#define ST_OPS_PER_ROUND 384
#define ST_LOOKUPS_PER_ROUND 16384	/* per family */
#define ST_SKB_LOOKUPS 256
#define ST_REPLACES 300
#define ST_RETAINED 48		/* per family, in the concurrency test */
#define ST_PROBES_PER_PREFIX 4

/* One prefix as the reference table knows it. */
struct st_prefix {
	struct wg_peer *peer;
	u32 key[MAX_KEY_WORDS];	/* masked to cidr, unused words zero */
	u8 cidr;
	bool is_v6;
};

/* The reference: a plain array per family, searched linearly to change it. */
struct st_family {
	struct st_prefix *entries;
	unsigned int count;
	bool is_v6;
	/* For lookups: entries sorted by cidr, longest first, then by key. */
	u8 group_cidr[V6_BITS + 1];
	unsigned int group_start[V6_BITS + 2];
	unsigned int groups;
};

struct st_ctx {
	struct allowedips table;
	struct mutex lock;	/* plays the device's configuration lock */
	struct rnd_state rnd;
	struct wg_peer **peers;
	struct st_family ref[2];
	struct sk_buff *skb;
	u64 lookups;
	bool ok;
};

#define st_fail(ctx, fmt, ...) do {					\
	pr_err("allowedips self-test %s:%d: " fmt "\n", __func__,	\
	       __LINE__, ##__VA_ARGS__);				\
	(ctx)->ok = false;						\
} while (0)

static u32 st_rand(struct st_ctx *ctx, u32 below)
{
	return below ? prandom_u32_state(&ctx->rnd) % below : 0;
}

static struct wg_peer *st_peer_new(void)
{
	struct wg_peer *peer = kzalloc(sizeof(*peer), GFP_KERNEL);

	if (peer) {
		kref_init(&peer->refcount);
		INIT_LIST_HEAD(&peer->allowedips_list);
	}
	return peer;
}

static void st_keys_to_bytes(const u32 *key, u8 *ip, bool is_v6)
{
	unsigned int i;
	__be32 word;

	for (i = 0; i < family_words(is_v6); i++) {
		word = cpu_to_be32(key[i]);
		memcpy(ip + 4 * i, &word, sizeof(word));
	}
}

static int st_insert(struct st_ctx *ctx, const u32 *key, u8 cidr, bool is_v6,
		     struct wg_peer *peer)
{
	u8 ip[16];

	st_keys_to_bytes(key, ip, is_v6);
	if (is_v6)
		return wg_allowedips_insert_v6(&ctx->table, (struct in6_addr *)ip,
					       cidr, peer, &ctx->lock);
	return wg_allowedips_insert_v4(&ctx->table, (struct in_addr *)ip, cidr,
				       peer, &ctx->lock);
}

static bool st_remove(struct st_ctx *ctx, const u32 *key, u8 cidr, bool is_v6,
		      struct wg_peer *peer)
{
	u8 ip[16];

	st_keys_to_bytes(key, ip, is_v6);
	if (is_v6)
		return wg_allowedips_remove_v6(&ctx->table, (struct in6_addr *)ip,
					       cidr, peer, &ctx->lock);
	return wg_allowedips_remove_v4(&ctx->table, (struct in_addr *)ip, cidr,
				       peer, &ctx->lock);
}

/* The trie's answer for a bare address, without keeping the reference. */
static struct wg_peer *st_lookup(struct st_ctx *ctx, const u32 *addr,
				 bool is_v6)
{
	struct wg_peer *peer;
	u8 ip[16];

	st_keys_to_bytes(addr, ip, is_v6);
	peer = wg_allowedips_lookup_addr(&ctx->table, is_v6 ? AF_INET6 : AF_INET,
					 ip);
	wg_peer_put(peer);
	ctx->lookups++;
	return peer;
}

/* Reference table. */

static int st_ref_find(struct st_family *fam, const u32 *key, u8 cidr)
{
	unsigned int i;

	for (i = 0; i < fam->count; i++) {
		if (fam->entries[i].cidr == cidr &&
		    !memcmp(fam->entries[i].key, key, sizeof(fam->entries[i].key)))
			return i;
	}
	return -1;
}

static void st_ref_insert(struct st_family *fam, const u32 *key, u8 cidr,
			  struct wg_peer *peer)
{
	int i = st_ref_find(fam, key, cidr);

	if (i < 0) {
		i = fam->count++;
		memcpy(fam->entries[i].key, key, sizeof(fam->entries[i].key));
		fam->entries[i].cidr = cidr;
		fam->entries[i].is_v6 = fam->is_v6;
	}
	fam->entries[i].peer = peer;
}

static void st_ref_delete(struct st_family *fam, unsigned int i)
{
	fam->entries[i] = fam->entries[--fam->count];
}

static bool st_ref_remove(struct st_family *fam, const u32 *key, u8 cidr,
			  struct wg_peer *peer)
{
	int i = st_ref_find(fam, key, cidr);

	if (i < 0 || fam->entries[i].peer != peer)
		return false;
	st_ref_delete(fam, i);
	return true;
}

static void st_ref_remove_peer(struct st_ctx *ctx, struct wg_peer *peer)
{
	struct st_family *fam;
	unsigned int i, f;

	for (f = 0; f < 2; f++) {
		fam = &ctx->ref[f];
		for (i = fam->count; i-- > 0;) {
			if (fam->entries[i].peer == peer)
				st_ref_delete(fam, i);
		}
	}
}

static int st_key_cmp(const u32 *a, const u32 *b)
{
	unsigned int i;

	for (i = 0; i < MAX_KEY_WORDS; i++) {
		if (a[i] != b[i])
			return a[i] < b[i] ? -1 : 1;
	}
	return 0;
}

static int st_prefix_cmp(const void *a, const void *b)
{
	const struct st_prefix *x = a, *y = b;

	if (x->cidr != y->cidr)
		return x->cidr > y->cidr ? -1 : 1;
	return st_key_cmp(x->key, y->key);
}

/*
 * Sort the reference so that a lookup can try each prefix length present,
 * longest first, with a binary search among the prefixes of that length.
 */
static void st_ref_prepare(struct st_family *fam)
{
	unsigned int i;

	sort(fam->entries, fam->count, sizeof(*fam->entries), st_prefix_cmp,
	     NULL);
	fam->groups = 0;
	for (i = 0; i < fam->count; i++) {
		if (i && fam->entries[i].cidr == fam->entries[i - 1].cidr)
			continue;
		fam->group_cidr[fam->groups] = fam->entries[i].cidr;
		fam->group_start[fam->groups++] = i;
	}
	fam->group_start[fam->groups] = fam->count;
}

static struct wg_peer *st_ref_lookup(struct st_family *fam, const u32 *addr,
				     bool is_v6)
{
	unsigned int g, lo, hi, mid;
	u32 key[MAX_KEY_WORDS];
	int cmp;

	for (g = 0; g < fam->groups; g++) {
		memcpy(key, addr, sizeof(key));
		key_mask(key, fam->group_cidr[g], is_v6);
		lo = fam->group_start[g];
		hi = fam->group_start[g + 1];
		while (lo < hi) {
			mid = lo + (hi - lo) / 2;
			cmp = st_key_cmp(key, fam->entries[mid].key);
			if (!cmp)
				return fam->entries[mid].peer;
			if (cmp < 0)
				hi = mid;
			else
				lo = mid + 1;
		}
	}
	return NULL;
}

/* Checking the trie against the reference. */

/* Walk one trie, checking its invariants; returns the number of nodes. */
static unsigned long st_check_trie(struct st_ctx *ctx, bool is_v6)
{
	struct allowedips_node **stack, *node, *child;
	unsigned int depth = 0, owned = 0, i;
	struct st_family *fam = &ctx->ref[is_v6];
	unsigned long nodes = 0;
	u32 key[MAX_KEY_WORDS];
	struct wg_peer *peer;
	int found;

	/* Each pop pushes at most two: the stack stays below 2 * depth. */
	stack = kcalloc(2 * (V6_BITS + 2), sizeof(*stack), GFP_KERNEL);
	if (!stack) {
		st_fail(ctx, "out of memory");
		return 0;
	}
	node = deref_locked(*root_slot(&ctx->table, is_v6), &ctx->lock);
	if (node)
		stack[depth++] = node;
	while (depth && ctx->ok) {
		node = stack[--depth];
		nodes++;
		memcpy(key, node->key, sizeof(u32) * family_words(is_v6));
		key_mask(key, node->cidr, is_v6);
		if (node->is_v6 != is_v6 || node->cidr > family_bits(is_v6) ||
		    memcmp(key, node->key, sizeof(u32) * family_words(is_v6)))
			st_fail(ctx, "v6 %d: bad node /%u", is_v6, node->cidr);
		peer = deref_locked(node->peer, &ctx->lock);
		if (!peer && (!node->child[0] || !node->child[1]))
			st_fail(ctx, "v6 %d: useless branching node /%u", is_v6,
				node->cidr);
		if (peer) {
			owned++;
			memset(key, 0, sizeof(key));
			memcpy(key, node->key, sizeof(u32) * family_words(is_v6));
			found = st_ref_find(fam, key, node->cidr);
			if (found < 0 || fam->entries[found].peer != peer)
				st_fail(ctx, "v6 %d: trie has /%u the reference has not",
					is_v6, node->cidr);
		}
		for (i = 0; i < 2; i++) {
			child = deref_locked(node->child[i], &ctx->lock);
			if (!child)
				continue;
			if (child->cidr <= node->cidr ||
			    !prefix_holds(node, child->key) ||
			    bit_at(child->key, node->cidr) != i)
				st_fail(ctx, "v6 %d: misplaced child /%u under /%u",
					is_v6, child->cidr, node->cidr);
			stack[depth++] = child;
		}
	}
	kfree(stack);
	if (owned != fam->count)
		st_fail(ctx, "v6 %d: trie has %u prefixes, reference %u", is_v6,
			owned, fam->count);
	return nodes;
}

/* Every peer's list holds exactly its prefixes, and find_exact finds them. */
static void st_check_lists(struct st_ctx *ctx)
{
	unsigned int listed = 0, i, f;
	struct allowedips_node *node;
	struct st_prefix *entry;
	u8 want[16], got[16], cidr;
	int family;

	for (i = 0; i < ST_PEERS && ctx->ok; i++) {
		node = NULL;
		while ((node = wg_allowedips_next(ctx->peers[i], node, &ctx->lock))) {
			listed++;
			if (rcu_access_pointer(node->peer) != ctx->peers[i])
				st_fail(ctx, "peer %u lists a node it does not own", i);
		}
	}
	for (f = 0; f < 2; f++) {
		for (i = 0; i < ctx->ref[f].count && ctx->ok; i++) {
			entry = &ctx->ref[f].entries[i];
			st_keys_to_bytes(entry->key, want, f);
			node = wg_allowedips_find_exact(&ctx->table,
							f ? AF_INET6 : AF_INET,
							want, entry->cidr,
							entry->peer, &ctx->lock);
			if (!node) {
				st_fail(ctx, "find_exact missed a prefix");
				break;
			}
			memset(got, 0xa5, sizeof(got));
			family = wg_allowedips_read_node(node, got, &cidr);
			if (family != (f ? AF_INET6 : AF_INET) ||
			    cidr != entry->cidr ||
			    memcmp(got, want, 4 * family_words(f)))
				st_fail(ctx, "read_node gave another prefix");
		}
	}
	if (listed != ctx->ref[0].count + ctx->ref[1].count)
		st_fail(ctx, "peers list %u prefixes, reference has %u", listed,
			ctx->ref[0].count + ctx->ref[1].count);
}

/*
 * Random prefixes crowd into few regions and few values of each byte, so
 * that they often nest, collide and part at every depth.
 */
static void st_random_key(struct st_ctx *ctx, u32 *key, bool is_v6)
{
	memset(key, 0, sizeof(u32) * MAX_KEY_WORDS);
	key[0] = (0x0a + st_rand(ctx, 4)) << 24 | st_rand(ctx, 4) << 16 |
		 st_rand(ctx, 8) << 8 | st_rand(ctx, 256);
	if (!st_rand(ctx, 8))
		key[0] = prandom_u32_state(&ctx->rnd);
	if (is_v6) {
		key[1] = st_rand(ctx, 4) << 28 | st_rand(ctx, 2);
		key[2] = st_rand(ctx, 2) << 31;
		key[3] = st_rand(ctx, 4) ? st_rand(ctx, 256) :
			 prandom_u32_state(&ctx->rnd);
	}
}

static u8 st_random_cidr(struct st_ctx *ctx, bool is_v6)
{
	unsigned int bits = family_bits(is_v6);

	switch (st_rand(ctx, 4)) {
	case 0:
		return st_rand(ctx, bits + 1);
	case 1:
		return bits - st_rand(ctx, 9);
	default:
		/* Where st_random_key() puts most of its entropy. */
		return is_v6 && st_rand(ctx, 2) ? 32 + st_rand(ctx, 33) :
						    8 + st_rand(ctx, 25);
	}
}

/* @key keeps its host bits: the trie must ignore them. */
static void st_random_prefix(struct st_ctx *ctx, struct st_prefix *prefix,
			     bool is_v6)
{
	st_random_key(ctx, prefix->key, is_v6);
	prefix->cidr = st_random_cidr(ctx, is_v6);
	prefix->is_v6 = is_v6;
	prefix->peer = NULL;
}

static void st_masked(const struct st_prefix *prefix, u32 *key)
{
	memcpy(key, prefix->key, sizeof(prefix->key));
	key_mask(key, prefix->cidr, prefix->is_v6);
}

/* @addr: inside @prefix, with the host bits of @noise. */
static void st_addr_in(const struct st_prefix *prefix, const u32 *noise,
		       u32 *addr)
{
	u32 net[MAX_KEY_WORDS];
	unsigned int i;

	memcpy(net, noise, sizeof(net));
	key_mask(net, prefix->cidr, prefix->is_v6);
	st_masked(prefix, addr);
	for (i = 0; i < MAX_KEY_WORDS; i++)
		addr[i] |= noise[i] ^ net[i];
}

/* An address in a random reference prefix, or anywhere near them. */
static void st_random_addr(struct st_ctx *ctx, u32 *addr, bool is_v6)
{
	struct st_family *fam = &ctx->ref[is_v6];
	u32 noise[MAX_KEY_WORDS];
	struct st_prefix *entry;

	st_random_key(ctx, addr, is_v6);
	if (!fam->count || st_rand(ctx, 2))
		return;
	entry = &fam->entries[st_rand(ctx, fam->count)];
	memcpy(noise, addr, sizeof(noise));
	st_addr_in(entry, noise, addr);
}

static struct wg_peer *st_random_peer(struct st_ctx *ctx)
{
	/* A few busy peers own many prefixes; the rest own one or two. */
	return ctx->peers[st_rand(ctx, 2) ? st_rand(ctx, 8) :
					    st_rand(ctx, ST_PEERS)];
}

static void st_expect(struct st_ctx *ctx, const u32 *addr, bool is_v6,
		      struct wg_peer *got, struct wg_peer *want)
{
	if (got != want)
		st_fail(ctx, "lookup of %s %08x:%08x:%08x:%08x gave peer %p, not %p",
			is_v6 ? "v6" : "v4", addr[0], addr[1], addr[2], addr[3],
			got, want);
}

/* Lookups through an skb, as the packet path does them. */
static void st_check_skb_lookups(struct st_ctx *ctx, bool is_v6)
{
	u32 src[MAX_KEY_WORDS], dst[MAX_KEY_WORDS];
	struct st_family *fam = &ctx->ref[is_v6];
	struct sk_buff *skb = ctx->skb;
	struct wg_peer *peer;
	unsigned int i;

	skb->protocol = is_v6 ? htons(ETH_P_IPV6) : htons(ETH_P_IP);
	for (i = 0; i < ST_SKB_LOOKUPS && ctx->ok; i++) {
		st_random_addr(ctx, src, is_v6);
		st_random_addr(ctx, dst, is_v6);
		if (is_v6) {
			st_keys_to_bytes(src, ipv6_hdr(skb)->saddr.s6_addr, true);
			st_keys_to_bytes(dst, ipv6_hdr(skb)->daddr.s6_addr, true);
		} else {
			st_keys_to_bytes(src, (u8 *)&ip_hdr(skb)->saddr, false);
			st_keys_to_bytes(dst, (u8 *)&ip_hdr(skb)->daddr, false);
		}
		rcu_read_lock_bh();
		peer = wg_allowedips_lookup_src(&ctx->table, skb);
		if (peer)
			wg_peer_put(peer);
		st_expect(ctx, src, is_v6, peer, st_ref_lookup(fam, src, is_v6));
		peer = wg_allowedips_lookup_dst(&ctx->table, skb);
		if (peer)
			wg_peer_put(peer);
		st_expect(ctx, dst, is_v6, peer, st_ref_lookup(fam, dst, is_v6));
		rcu_read_unlock_bh();
		ctx->lookups += 2;
	}
	/* Neither IPv4 nor IPv6: nothing to route. */
	skb->protocol = htons(ETH_P_ARP);
	rcu_read_lock_bh();
	if (wg_allowedips_lookup_dst(&ctx->table, skb) ||
	    wg_allowedips_lookup_src(&ctx->table, skb))
		st_fail(ctx, "lookup of a non-IP packet found a peer");
	rcu_read_unlock_bh();
}

static void st_check_lookups(struct st_ctx *ctx, bool is_v6, unsigned int n)
{
	struct st_family *fam = &ctx->ref[is_v6];
	u32 addr[MAX_KEY_WORDS];
	unsigned int done, i;
	struct wg_peer *peer;

	st_ref_prepare(fam);
	for (done = 0; done < n && ctx->ok; done += 256) {
		rcu_read_lock_bh();
		for (i = 0; i < 256; i++) {
			st_random_addr(ctx, addr, is_v6);
			peer = st_lookup(ctx, addr, is_v6);
			st_expect(ctx, addr, is_v6, peer,
				  st_ref_lookup(fam, addr, is_v6));
		}
		rcu_read_unlock_bh();
		cond_resched();
	}
	st_check_skb_lookups(ctx, is_v6);
}

/* The trie, the peers' lists and lookups all agree with the reference. */
static void st_check_all(struct st_ctx *ctx, unsigned int lookups)
{
	unsigned long nodes;

	nodes = st_check_trie(ctx, false) + st_check_trie(ctx, true);
	st_check_lists(ctx);
	/* Unlinked nodes are freed after a grace period; none may be lost. */
	rcu_barrier();
	if (ctx->ok && atomic_long_read(&live_nodes) != nodes)
		st_fail(ctx, "%ld nodes allocated, %lu in the trie",
			atomic_long_read(&live_nodes), nodes);
	if (!lookups)
		return;
	st_check_lookups(ctx, false, lookups);
	st_check_lookups(ctx, true, lookups);
}

static void st_op_insert(struct st_ctx *ctx, bool is_v6)
{
	struct wg_peer *peer = st_random_peer(ctx);
	struct st_prefix prefix;
	u32 key[MAX_KEY_WORDS];

	st_random_prefix(ctx, &prefix, is_v6);
	if (st_insert(ctx, prefix.key, prefix.cidr, is_v6, peer)) {
		st_fail(ctx, "insert failed");
		return;
	}
	st_masked(&prefix, key);
	st_ref_insert(&ctx->ref[is_v6], key, prefix.cidr, peer);
}

/* Exact removes, and removes that must change nothing. */
static void st_op_remove(struct st_ctx *ctx, bool is_v6, unsigned int kind)
{
	struct st_family *fam = &ctx->ref[is_v6];
	struct st_prefix *entry, prefix;
	u32 key[MAX_KEY_WORDS];
	struct wg_peer *other;
	u8 cidr;

	if (kind == 0 || !fam->count) {
		/* Absent prefix. */
		st_random_prefix(ctx, &prefix, is_v6);
		st_masked(&prefix, key);
		if (st_ref_find(fam, key, prefix.cidr) < 0 &&
		    st_remove(ctx, prefix.key, prefix.cidr, is_v6,
			      st_random_peer(ctx)))
			st_fail(ctx, "removed an absent prefix");
		return;
	}
	entry = &fam->entries[st_rand(ctx, fam->count)];
	if (kind == 1) {
		/* Foreign peer. */
		other = st_random_peer(ctx);
		if (other != entry->peer &&
		    st_remove(ctx, entry->key, entry->cidr, is_v6, other))
			st_fail(ctx, "removed another peer's prefix");
		return;
	}
	if (kind == 2) {
		/* Same address, one bit more or less: not the same prefix. */
		cidr = entry->cidr + (st_rand(ctx, 2) ? 1 : -1);
		memcpy(key, entry->key, sizeof(key));
		key_mask(key, cidr, is_v6);
		if (cidr <= family_bits(is_v6) && st_ref_find(fam, key, cidr) < 0 &&
		    st_remove(ctx, entry->key, cidr, is_v6, entry->peer))
			st_fail(ctx, "remove was not exact");
		return;
	}
	/* Exact, with host bits set that the trie must ignore. */
	st_random_key(ctx, key, is_v6);
	st_addr_in(entry, key, prefix.key);
	if (!st_remove(ctx, prefix.key, entry->cidr, is_v6, entry->peer))
		st_fail(ctx, "exact remove failed");
	st_ref_delete(fam, entry - fam->entries);
}

/*
 * Replace @peer's set: some old prefixes are removed, some taken by another
 * peer, some kept, and new ones are added; or the replace is aborted.
 */
static void st_op_replace(struct st_ctx *ctx, struct wg_peer *peer, bool abort)
{
	struct st_prefix *old, *kept, *stolen, *fresh, *prefix;
	unsigned int nold = 0, nkept = 0, nstolen = 0, nfresh, i, f;
	struct wg_peer *thief = st_random_peer(ctx);
	u32 key[MAX_KEY_WORDS];
	LIST_HEAD(stale);

	if (thief == peer)
		thief = ctx->peers[ST_PEERS - 1 - st_rand(ctx, 8)];
	old = kcalloc(2 * ST_MAX_REF + 32, sizeof(*old), GFP_KERNEL);
	if (!old) {
		st_fail(ctx, "out of memory");
		return;
	}
	kept = old + ST_MAX_REF;
	stolen = kept + ST_MAX_REF / 2;
	fresh = stolen + ST_MAX_REF / 2;
	for (f = 0; f < 2; f++) {
		for (i = 0; i < ctx->ref[f].count; i++) {
			if (ctx->ref[f].entries[i].peer == peer)
				old[nold++] = ctx->ref[f].entries[i];
		}
	}

	wg_allowedips_replace_begin(peer, &stale, &ctx->lock);
	if (!list_empty(&peer->allowedips_list))
		st_fail(ctx, "replace_begin left prefixes on the peer");
	for (i = 0; i < nold; i++) {
		prefix = &old[i];
		switch (st_rand(ctx, 4)) {
		case 0:
			if (!st_remove(ctx, prefix->key, prefix->cidr,
				       prefix->is_v6, peer))
				st_fail(ctx, "could not remove a stale prefix");
			st_ref_remove(&ctx->ref[prefix->is_v6], prefix->key,
				      prefix->cidr, peer);
			break;
		case 1:
			if (nstolen < ST_MAX_REF / 2 && !st_rand(ctx, 4)) {
				stolen[nstolen++] = *prefix;
				st_insert(ctx, prefix->key, prefix->cidr,
					  prefix->is_v6, thief);
			}
			break;
		default:
			if (nkept < ST_MAX_REF / 2) {
				kept[nkept++] = *prefix;
				st_insert(ctx, prefix->key, prefix->cidr,
					  prefix->is_v6, peer);
			}
		}
	}
	nfresh = st_rand(ctx, 17);
	for (i = 0; i < nfresh; i++) {
		st_random_prefix(ctx, &fresh[i], st_rand(ctx, 2));
		if (st_insert(ctx, fresh[i].key, fresh[i].cidr, fresh[i].is_v6,
			      peer))
			st_fail(ctx, "insert failed");
	}
	if (abort)
		wg_allowedips_replace_abort(peer, &stale, &ctx->lock);
	else
		wg_allowedips_replace_end(&ctx->table, &stale, &ctx->lock);
	if (!list_empty(&stale))
		st_fail(ctx, "stale list not empty after the replace");

	/* The same story, told to the reference. */
	if (!abort)
		st_ref_remove_peer(ctx, peer);
	for (i = 0; i < nstolen; i++)
		st_ref_insert(&ctx->ref[stolen[i].is_v6], stolen[i].key,
			      stolen[i].cidr, thief);
	for (i = 0; i < nkept; i++)
		st_ref_insert(&ctx->ref[kept[i].is_v6], kept[i].key,
			      kept[i].cidr, peer);
	for (i = 0; i < nfresh; i++) {
		st_masked(&fresh[i], key);
		st_ref_insert(&ctx->ref[fresh[i].is_v6], key, fresh[i].cidr,
			      peer);
	}
	kfree(old);
}

static void st_random_op(struct st_ctx *ctx)
{
	bool is_v6 = st_rand(ctx, 2);
	unsigned int op = st_rand(ctx, 32);
	struct wg_peer *peer;

	/* Keep room for a replace's fresh prefixes. */
	if (ctx->ref[is_v6].count > ST_MAX_REF - 64 && op < 16)
		op += 16;
	if (op < 16) {
		st_op_insert(ctx, is_v6);
	} else if (op < 26) {
		st_op_remove(ctx, is_v6, op % 4);
	} else if (op < 27) {
		peer = st_random_peer(ctx);
		wg_allowedips_remove_by_peer(&ctx->table, peer, &ctx->lock);
		if (!list_empty(&peer->allowedips_list))
			st_fail(ctx, "remove_by_peer left prefixes");
		st_ref_remove_peer(ctx, peer);
	} else {
		st_op_replace(ctx, st_random_peer(ctx), op == 31);
	}
}

/* Remove everything, half of it prefix by prefix, the rest peer by peer. */
static void st_remove_all(struct st_ctx *ctx)
{
	struct st_family *fam;
	unsigned int i, f;

	for (f = 0; f < 2; f++) {
		fam = &ctx->ref[f];
		for (i = fam->count / 2; i-- > 0;) {
			if (!st_remove(ctx, fam->entries[i].key,
				       fam->entries[i].cidr, f,
				       fam->entries[i].peer))
				st_fail(ctx, "exact remove failed");
			st_ref_delete(fam, i);
		}
	}
	st_check_all(ctx, 0);
	for (i = 0; i < ST_PEERS; i++) {
		wg_allowedips_remove_by_peer(&ctx->table, ctx->peers[i],
					     &ctx->lock);
		st_ref_remove_peer(ctx, ctx->peers[i]);
	}
	if (rcu_access_pointer(ctx->table.root4) ||
	    rcu_access_pointer(ctx->table.root6))
		st_fail(ctx, "trie not empty after removing everything");
	st_check_all(ctx, 0);
}

static void st_randomized(struct st_ctx *ctx)
{
	unsigned int round, op;

	for (round = 0; round < ST_ROUNDS && ctx->ok; round++) {
		for (op = 0; op < ST_OPS_PER_ROUND && ctx->ok; op++)
			st_random_op(ctx);
		st_check_all(ctx, ST_LOOKUPS_PER_ROUND);
		cond_resched();
	}
	if (ctx->ok)
		st_remove_all(ctx);

	/* wg_allowedips_free() drops everything and empties the lists. */
	for (op = 0; op < ST_OPS_PER_ROUND && ctx->ok; op++)
		st_op_insert(ctx, st_rand(ctx, 2));
	wg_allowedips_free(&ctx->table, &ctx->lock);
	ctx->ref[0].count = 0;
	ctx->ref[1].count = 0;
	if (rcu_access_pointer(ctx->table.root4) ||
	    rcu_access_pointer(ctx->table.root6))
		st_fail(ctx, "trie not empty after wg_allowedips_free()");
	st_check_all(ctx, 0);
}

/* Hand-written cases. */

#define IP4(a, b, c, d) ((u32)(a) << 24 | (b) << 16 | (c) << 8 | (d))

struct st_case {
	u32 key[MAX_KEY_WORDS];
	u8 cidr;
	bool is_v6;
	s8 peer;	/* index in ctx->peers, -1 for none */
};

#define V4(a, b, c, d, cidr, peer) { { IP4(a, b, c, d) }, cidr, false, peer }
#define V6(w0, w1, w2, w3, cidr, peer) { { w0, w1, w2, w3 }, cidr, true, peer }

static void st_case_insert(struct st_ctx *ctx, const struct st_case *c)
{
	if (st_insert(ctx, c->key, c->cidr, c->is_v6, ctx->peers[c->peer]))
		st_fail(ctx, "insert failed");
}

/* The cidr field is unused: an address and who owns it. */
static void st_case_lookup(struct st_ctx *ctx, const struct st_case *c)
{
	struct wg_peer *want = c->peer < 0 ? NULL : ctx->peers[c->peer];

	rcu_read_lock_bh();
	st_expect(ctx, c->key, c->is_v6, st_lookup(ctx, c->key, c->is_v6), want);
	rcu_read_unlock_bh();
}

static void st_case_remove(struct st_ctx *ctx, const struct st_case *c,
			   bool want)
{
	if (st_remove(ctx, c->key, c->cidr, c->is_v6, ctx->peers[c->peer]) != want)
		st_fail(ctx, "remove of %08x:%08x:%08x:%08x/%u by %d gave %d",
			c->key[0], c->key[1], c->key[2], c->key[3], c->cidr,
			c->peer, !want);
}

static bool st_owns(struct st_ctx *ctx, const struct st_case *c, int peer)
{
	u8 ip[16];

	st_keys_to_bytes(c->key, ip, c->is_v6);
	return wg_allowedips_find_exact(&ctx->table, c->is_v6 ? AF_INET6 : AF_INET,
					ip, c->cidr, ctx->peers[peer],
					&ctx->lock);
}

static const struct st_case st_inserts[] = {
	V4(0, 0, 0, 0, 0, 0),
	V4(10, 0, 0, 0, 8, 1),
	V4(10, 1, 0, 0, 16, 2),
	V4(10, 1, 2, 0, 24, 3),
	V4(10, 1, 2, 3, 32, 4),
	V4(192, 168, 1, 77, 24, 5),	/* host bits set */
	V4(255, 255, 255, 255, 32, 4),
	V4(0, 0, 0, 0, 32, 3),
	V4(10, 1, 2, 128, 25, 5),
	V6(0x20010db8, 0, 0, 0, 32, 1),
	V6(0x20010db8, 0, 0, 1, 128, 2),
	V6(0x20010db8, 0x00010000, 0, 0, 48, 3),
	V6(0x20010db8, 0, 0x80000000, 0, 65, 4),
	V6(~0U, ~0U, ~0U, ~0U, 128, 5),
	V6(0x20010db8, 0, 0, 0xff, 120, 0),	/* host bits set */
};

static const struct st_case st_lookups[] = {
	V4(10, 1, 2, 3, 0, 4),
	V4(10, 1, 2, 4, 0, 3),
	V4(10, 1, 2, 200, 0, 5),
	V4(10, 1, 3, 1, 0, 2),
	V4(10, 2, 0, 0, 0, 1),
	V4(11, 0, 0, 0, 0, 0),
	V4(192, 168, 1, 1, 0, 5),
	V4(192, 168, 2, 1, 0, 0),
	V4(255, 255, 255, 255, 0, 4),
	V4(255, 255, 255, 254, 0, 0),
	V4(0, 0, 0, 0, 0, 3),
	V4(0, 0, 0, 1, 0, 0),
	V6(0x20010db8, 0, 0, 1, 0, 2),
	V6(0x20010db8, 0, 0, 2, 0, 0),
	V6(0x20010db8, 0, 0, 0x100, 0, 1),
	V6(0x20010db8, 0, 0x80000000, 1, 0, 4),
	V6(0x20010db8, 0, 0x7fffffff, 1, 0, 1),
	V6(0x20010db8, 0x00010002, 0, 3, 0, 3),
	V6(0x20010db9, 0, 0, 0, 0, -1),	/* the IPv4 /0 does not count */
	V6(~0U, ~0U, ~0U, ~0U, 0, 5),
	V6(~0U, ~0U, ~0U, ~0U - 1, 0, -1),
};

static void st_handwritten(struct st_ctx *ctx)
{
	static const struct st_case everything6 = V6(0, 0, 0, 0, 0, 0);
	static const struct st_case net16 = V4(10, 1, 0, 0, 16, 0);
	static const struct st_case net17 = V4(10, 1, 0, 0, 17, 0);
	static const struct st_case net15 = V4(10, 1, 0, 0, 15, 0);
	static const struct st_case host = V4(10, 1, 2, 3, 32, 4);
	static const struct st_case net24 = V4(10, 1, 2, 99, 24, 3);
	static const struct st_case host6 = V6(0x20010db8, 0, 0, 1, 128, 2);
	static const struct st_case absent = V4(172, 16, 0, 0, 12, 0);
	static const struct st_case in16 = V4(10, 1, 3, 1, 0, 1);
	static const struct st_case in24 = V4(10, 1, 2, 4, 0, 1);
	static const struct st_case at_host = V4(10, 1, 2, 3, 0, 3);
	static const struct st_case at_host6 = V6(0x20010db8, 0, 0, 1, 0, 0);
	static const struct st_case after_f4 = V4(192, 168, 1, 1, 0, 0);
	static const struct st_case after_f6 = V6(~0U, ~0U, ~0U, ~0U, 0, 0);
	static const struct st_case rest6 = V6(0x20010db9, 0, 0, 0, 0, 0);
	struct st_case c;
	unsigned int i;
	u8 ip[16] = { };

	/* An empty table has no answer. */
	for (i = 0; i < ARRAY_SIZE(st_lookups); i++) {
		c = st_lookups[i];
		c.peer = -1;
		st_case_lookup(ctx, &c);
	}
	for (i = 0; i < ARRAY_SIZE(st_inserts); i++)
		st_case_insert(ctx, &st_inserts[i]);
	for (i = 0; i < ARRAY_SIZE(st_lookups); i++)
		st_case_lookup(ctx, &st_lookups[i]);
	st_case_insert(ctx, &everything6);
	st_case_lookup(ctx, &rest6);

	/* Host bits are gone from the stored prefix. */
	c = st_inserts[5];
	c.key[0] = IP4(192, 168, 1, 0);
	if (!st_owns(ctx, &c, 5))
		st_fail(ctx, "masked prefix not found");

	/* 10.1.0.0/16 moves from peer 2 to peer 0. */
	st_case_insert(ctx, &net16);
	if (!st_owns(ctx, &net16, 0) || st_owns(ctx, &net16, 2))
		st_fail(ctx, "prefix did not move");
	c = in16;
	c.peer = 0;
	st_case_lookup(ctx, &c);

	st_case_remove(ctx, &net17, false);
	st_case_remove(ctx, &net15, false);
	c = net16;
	c.peer = 2;
	st_case_remove(ctx, &c, false);		/* no longer peer 2's */
	st_case_remove(ctx, &net16, true);
	st_case_remove(ctx, &net16, false);	/* already gone */
	st_case_remove(ctx, &absent, false);
	st_case_lookup(ctx, &in16);
	st_case_remove(ctx, &host, true);
	st_case_lookup(ctx, &at_host);
	st_case_remove(ctx, &net24, true);
	st_case_lookup(ctx, &in24);
	st_case_remove(ctx, &host6, true);
	st_case_lookup(ctx, &at_host6);

	wg_allowedips_remove_by_peer(&ctx->table, ctx->peers[5], &ctx->lock);
	st_case_lookup(ctx, &after_f4);
	st_case_lookup(ctx, &after_f6);

	rcu_read_lock_bh();
	if (wg_allowedips_lookup_addr(&ctx->table, AF_UNSPEC, ip))
		st_fail(ctx, "lookup of another family found a peer");
	rcu_read_unlock_bh();

	for (i = 0; i < 6; i++)
		wg_allowedips_remove_by_peer(&ctx->table, ctx->peers[i],
					     &ctx->lock);
	if (rcu_access_pointer(ctx->table.root4) ||
	    rcu_access_pointer(ctx->table.root6))
		st_fail(ctx, "trie not empty after the hand-written cases");
	st_check_all(ctx, 0);
}

/* Lookups racing with replaces of the same peer's set. */

struct st_race {
	struct allowedips *table;
	struct wg_peer *owner;
	struct st_prefix *probes;
	unsigned int nprobes;
	u64 lookups;
	u64 misses;
	u64 wrong;
};

static int st_race_reader(void *arg)
{
	struct st_race *race = arg;
	struct st_prefix *probe;
	struct wg_peer *peer;
	unsigned int i;
	u8 ip[16];

	while (!kthread_should_stop()) {
		rcu_read_lock_bh();
		for (i = 0; i < race->nprobes; i++) {
			probe = &race->probes[i];
			st_keys_to_bytes(probe->key, ip, probe->is_v6);
			peer = wg_allowedips_lookup_addr(race->table,
							 probe->is_v6 ? AF_INET6 : AF_INET,
							 ip);
			if (!peer)
				race->misses++;
			else if (peer != race->owner)
				race->wrong++;
			if (peer)
				wg_peer_put(peer);
		}
		rcu_read_unlock_bh();
		WRITE_ONCE(race->lookups, race->lookups + race->nprobes);
		cond_resched();
	}
	return 0;
}

static bool st_holds_probe(struct st_race *race, const struct st_prefix *prefix)
{
	u32 probe[MAX_KEY_WORDS], want[MAX_KEY_WORDS];
	unsigned int i;

	st_masked(prefix, want);
	for (i = 0; i < race->nprobes; i++) {
		if (race->probes[i].is_v6 != prefix->is_v6)
			continue;
		memcpy(probe, race->probes[i].key, sizeof(probe));
		key_mask(probe, prefix->cidr, prefix->is_v6);
		if (!st_key_cmp(probe, want))
			return true;
	}
	return false;
}

/* A prefix for @peer in the race: never one that holds a probe. */
static void st_race_prefix(struct st_ctx *ctx, struct st_race *race,
			   struct st_prefix *prefix, bool avoid_probes)
{
	do {
		st_random_prefix(ctx, prefix, st_rand(ctx, 2));
	} while (avoid_probes && st_holds_probe(race, prefix));
}

static void st_race_replace(struct st_ctx *ctx, struct st_race *race,
			    const struct st_prefix *retained,
			    unsigned int nretained, struct wg_peer *peer,
			    bool abort)
{
	struct st_prefix prefix;
	LIST_HEAD(stale);
	unsigned int i;

	mutex_lock(&ctx->lock);
	wg_allowedips_replace_begin(peer, &stale, &ctx->lock);
	for (i = 0; i < nretained; i++) {
		if (st_insert(ctx, retained[i].key, retained[i].cidr,
			      retained[i].is_v6, peer))
			st_fail(ctx, "insert failed");
	}
	/* Others' prefixes must not cover a probe, or they would win. */
	for (i = 0; i < 32; i++) {
		st_race_prefix(ctx, race, &prefix, peer != race->owner);
		if (st_insert(ctx, prefix.key, prefix.cidr, prefix.is_v6, peer))
			st_fail(ctx, "insert failed");
	}
	if (abort)
		wg_allowedips_replace_abort(peer, &stale, &ctx->lock);
	else
		wg_allowedips_replace_end(&ctx->table, &stale, &ctx->lock);
	mutex_unlock(&ctx->lock);
}

static void st_concurrent(struct st_ctx *ctx)
{
	struct st_prefix *retained, *probe;
	u32 noise[MAX_KEY_WORDS];
	struct st_race race = { };
	struct task_struct *reader;
	unsigned int i, j, waited;

	retained = kcalloc(2 * ST_RETAINED * (1 + ST_PROBES_PER_PREFIX),
			   sizeof(*retained), GFP_KERNEL);
	if (!retained) {
		st_fail(ctx, "out of memory");
		return;
	}
	race.table = &ctx->table;
	race.owner = ctx->peers[0];
	race.probes = retained + 2 * ST_RETAINED;
	for (i = 0; i < 2 * ST_RETAINED; i++) {
		st_random_prefix(ctx, &retained[i], i % 2);
		for (j = 0; j < ST_PROBES_PER_PREFIX; j++) {
			probe = &race.probes[race.nprobes++];
			probe->is_v6 = i % 2;
			probe->cidr = family_bits(i % 2);
			st_random_key(ctx, noise, i % 2);
			st_addr_in(&retained[i], noise, probe->key);
		}
	}
	st_race_replace(ctx, &race, retained, 2 * ST_RETAINED, race.owner,
			false);

	reader = kthread_run(st_race_reader, &race, "wg-allowedips-st");
	if (IS_ERR(reader)) {
		st_fail(ctx, "no reader thread");
		goto out;
	}
	for (waited = 0; !READ_ONCE(race.lookups) && waited < 1000; waited++)
		usleep_range(1000, 2000);
	for (i = 0; i < ST_REPLACES && ctx->ok; i++) {
		st_race_replace(ctx, &race, retained, 2 * ST_RETAINED,
				race.owner, i % 16 == 15);
		st_race_replace(ctx, &race, NULL, 0, ctx->peers[1], i % 4 == 3);
		if (i % 32 == 31) {
			mutex_lock(&ctx->lock);
			wg_allowedips_remove_by_peer(&ctx->table, ctx->peers[1],
						     &ctx->lock);
			mutex_unlock(&ctx->lock);
		}
		cond_resched();
	}
	kthread_stop(reader);
	if (race.misses || race.wrong || !race.lookups)
		st_fail(ctx, "%llu concurrent lookups: %llu missed, %llu went to another peer",
			race.lookups, race.misses, race.wrong);
	pr_info("allowedips self-tests: %llu lookups raced %u replaces\n",
		race.lookups, ST_REPLACES);
out:
	mutex_lock(&ctx->lock);
	wg_allowedips_remove_by_peer(&ctx->table, ctx->peers[0], &ctx->lock);
	wg_allowedips_remove_by_peer(&ctx->table, ctx->peers[1], &ctx->lock);
	if (rcu_access_pointer(ctx->table.root4) ||
	    rcu_access_pointer(ctx->table.root6))
		st_fail(ctx, "trie not empty after the concurrency test");
	st_check_all(ctx, 0);
	mutex_unlock(&ctx->lock);
	kfree(retained);
}

static struct st_ctx *st_ctx_new(void)
{
	struct st_ctx *ctx = kzalloc(sizeof(*ctx), GFP_KERNEL);
	unsigned int i;
	u64 seed;

	if (!ctx)
		return NULL;
	ctx->ok = true;
	wg_allowedips_init(&ctx->table);
	mutex_init(&ctx->lock);
	seed = get_random_u64();
	prandom_seed_state(&ctx->rnd, seed);
	pr_debug("allowedips self-tests: seed %llu\n", seed);
	ctx->peers = kcalloc(ST_PEERS, sizeof(*ctx->peers), GFP_KERNEL);
	ctx->ref[0].entries = vcalloc(ST_MAX_REF, sizeof(struct st_prefix));
	ctx->ref[1].entries = vcalloc(ST_MAX_REF, sizeof(struct st_prefix));
	ctx->ref[1].is_v6 = true;
	ctx->skb = alloc_skb(sizeof(struct ipv6hdr), GFP_KERNEL);
	if (!ctx->peers || !ctx->ref[0].entries || !ctx->ref[1].entries ||
	    !ctx->skb)
		return ctx;
	skb_reset_network_header(ctx->skb);
	skb_put_zero(ctx->skb, sizeof(struct ipv6hdr));
	for (i = 0; i < ST_PEERS; i++) {
		ctx->peers[i] = st_peer_new();
		if (!ctx->peers[i])
			break;
	}
	return ctx;
}

static void st_ctx_free(struct st_ctx *ctx)
{
	unsigned int i;

	/* Readers that still hold a peer pointer are gone after this. */
	synchronize_rcu();
	for (i = 0; ctx->peers && i < ST_PEERS; i++)
		kfree(ctx->peers[i]);
	kfree(ctx->peers);
	vfree(ctx->ref[0].entries);
	vfree(ctx->ref[1].entries);
	kfree_skb(ctx->skb);
	kfree(ctx);
}

bool wg_allowedips_selftest(void)
{
	u64 start = ktime_get_ns();
	struct st_ctx *ctx;
	bool ok;

	ctx = st_ctx_new();
	if (!ctx || !ctx->skb || !ctx->peers[ST_PEERS - 1]) {
		pr_err("allowedips self-tests: out of memory\n");
		if (ctx)
			st_ctx_free(ctx);
		return false;
	}
	/* The leak check counts all nodes: there must be no other table. */
	rcu_barrier();
	if (atomic_long_read(&live_nodes)) {
		pr_err("allowedips self-tests: must run before any device exists\n");
		st_ctx_free(ctx);
		return false;
	}

	mutex_lock(&ctx->lock);
	st_handwritten(ctx);
	if (ctx->ok)
		st_randomized(ctx);
	mutex_unlock(&ctx->lock);
	if (ctx->ok)
		st_concurrent(ctx);

	ok = ctx->ok;
	if (ok)
		pr_info("allowedips self-tests: %llu checked lookups, %llu ms\n",
			ctx->lookups, (ktime_get_ns() - start) / NSEC_PER_MSEC);
	st_ctx_free(ctx);
	if (ok)
		pr_info("allowedips self-tests: pass\n");
	else
		pr_err("allowedips self-tests: FAIL\n");
	return ok;
}
