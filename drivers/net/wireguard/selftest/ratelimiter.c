// SPDX-License-Identifier: GPL-2.0
/*
 * Self-tests of the rate limiter.  Included at the end of ratelimiter.c.
 *
 * Time is given to ratelimiter_allow_at() rather than read from the
 * clock, so that the results do not depend on how fast the machine (or
 * QEMU without KVM) runs.  The GC worker is stopped meanwhile, since the
 * entries carry those made-up times.
 */

#include <linux/skbuff.h>

/* Another namespace: the rate limiter only compares the pointers. */
static u8 st_other_net_storage;
#define ST_OTHER_NET ((const struct net *)&st_other_net_storage)

struct st_sources {
	struct sk_buff *v4_a, *v4_b, *v4_smoke, *v4_cap1, *v4_cap2;
	struct sk_buff *v6_c, *v6_c_neighbour, *v6_d, *not_ip;
};

/* A packet that only has the outer IP header the rate limiter reads. */
static struct sk_buff * __init st_skb(__be16 protocol, const void *saddr)
{
	struct sk_buff *skb = alloc_skb(sizeof(struct ipv6hdr), GFP_KERNEL);

	if (!skb)
		return NULL;
	skb->protocol = protocol;
	skb_reset_network_header(skb);
	if (protocol == htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = skb_put_zero(skb, sizeof(*ip6));

		ip6->version = 6;
		memcpy(&ip6->saddr, saddr, sizeof(ip6->saddr));
	} else {
		struct iphdr *ip = skb_put_zero(skb, sizeof(*ip));

		ip->version = 4;
		ip->ihl = 5;
		memcpy(&ip->saddr, saddr, sizeof(ip->saddr));
	}
	return skb;
}

static struct sk_buff * __init st_skb_v4(u32 host_order_addr)
{
	__be32 addr = htonl(host_order_addr);

	return st_skb(htons(ETH_P_IP), &addr);
}

static struct sk_buff * __init st_skb_v6(u32 word0, u32 word1, u32 word2,
					 u32 word3)
{
	struct in6_addr addr = { .s6_addr32 = {
		htonl(word0), htonl(word1), htonl(word2), htonl(word3) } };

	return st_skb(htons(ETH_P_IPV6), &addr);
}

static bool __init st_sources_alloc(struct st_sources *s)
{
	/* Documentation ranges: 192.0.2.0/24, 198.51.100.0/24, 2001:db8::/32. */
	s->v4_a = st_skb_v4(0xc0000201);
	s->v4_b = st_skb_v4(0xc0000202);
	s->v4_smoke = st_skb_v4(0xc6336401);
	s->v4_cap1 = st_skb_v4(0xc6336402);
	s->v4_cap2 = st_skb_v4(0xc6336403);
	s->v6_c = st_skb_v6(0x20010db8, 0x00010002, 0, 1);
	s->v6_c_neighbour = st_skb_v6(0x20010db8, 0x00010002, 0xffffffff,
				      0xffffffff);
	s->v6_d = st_skb_v6(0x20010db8, 0x00010003, 0, 1);
	s->not_ip = st_skb_v4(0xc0000203);
	if (s->not_ip)
		s->not_ip->protocol = htons(ETH_P_ARP);
	return s->v4_a && s->v4_b && s->v4_smoke && s->v4_cap1 &&
	       s->v4_cap2 && s->v6_c && s->v6_c_neighbour && s->v6_d &&
	       s->not_ip;
}

static void __init st_sources_free(struct st_sources *s)
{
	kfree_skb(s->v4_a);
	kfree_skb(s->v4_b);
	kfree_skb(s->v4_smoke);
	kfree_skb(s->v4_cap1);
	kfree_skb(s->v4_cap2);
	kfree_skb(s->v6_c);
	kfree_skb(s->v6_c_neighbour);
	kfree_skb(s->v6_d);
	kfree_skb(s->not_ip);
}

/* @cond, and says which check failed when it is false. */
static bool __init st_expect(bool cond, int line, const char *what)
{
	if (!cond)
		pr_err("ratelimiter self-test: line %d: %s\n", line, what);
	return cond;
}

#define ST_OK(cond) st_expect(cond, __LINE__, #cond)

/* A fresh or full bucket: exactly the burst passes, at one instant. */
static bool __init st_burst(struct sk_buff *skb, const struct net *net,
			    u64 now)
{
	int i;

	for (i = 0; i < PACKETS_BURSTABLE; ++i) {
		if (!ST_OK(ratelimiter_allow_at(skb, net, now)))
			return false;
	}
	return ST_OK(!ratelimiter_allow_at(skb, net, now));
}

static bool __init st_has_entry(struct sk_buff *skb, const struct net *net)
{
	struct ratelimiter_entry *entry;
	u8 family;
	u64 addr;

	if (!source_of(skb, &addr, &family))
		return false;
	rcu_read_lock();
	entry = find_entry(bucket_of(net, addr, family), net, addr, family);
	rcu_read_unlock();
	return entry;
}

static bool __init st_refill(struct st_sources *s, u64 t0)
{
	if (!ST_OK(st_burst(s->v4_a, &init_net, t0)))
		return false;
	/* One token comes back after exactly one packet's cost. */
	if (!ST_OK(!ratelimiter_allow_at(s->v4_a, &init_net, t0 + PACKET_COST - 1)))
		return false;
	if (!ST_OK(ratelimiter_allow_at(s->v4_a, &init_net, t0 + PACKET_COST)))
		return false;
	if (!ST_OK(!ratelimiter_allow_at(s->v4_a, &init_net, t0 + PACKET_COST)))
		return false;
	/* A long silence refills to the burst, not beyond. */
	if (!ST_OK(st_burst(s->v4_a, &init_net, t0 + 10 * NSEC_PER_SEC)))
		return false;
	return true;
}

static bool __init st_separation(struct st_sources *s, u64 now)
{
	/* Other addresses and other namespaces have their own buckets. */
	if (!ST_OK(st_burst(s->v4_b, &init_net, now)))
		return false;
	if (!ST_OK(st_burst(s->v4_a, ST_OTHER_NET, now)))
		return false;
	if (!ST_OK(!ratelimiter_allow_at(s->v4_a, &init_net, now)))
		return false;

	/* A /64 is one bucket; the next /64 is another. */
	if (!ST_OK(st_burst(s->v6_c, &init_net, now)))
		return false;
	if (!ST_OK(!ratelimiter_allow_at(s->v6_c_neighbour, &init_net, now)))
		return false;
	if (!ST_OK(st_burst(s->v6_d, &init_net, now)))
		return false;

	if (!ST_OK(!ratelimiter_allow_at(s->not_ip, &init_net, now)))
		return false;
	return true;
}

static bool __init st_capacity(struct st_sources *s, u64 now)
{
	unsigned int saved = max_entries;
	bool first, second;

	/* Room for one more source only. */
	max_entries = atomic_read(&total_entries) + 1;
	first = ratelimiter_allow_at(s->v4_cap1, &init_net, now);
	second = ratelimiter_allow_at(s->v4_cap2, &init_net, now);
	max_entries = saved;
	if (!ST_OK(first && !second))
		return false;
	if (!ST_OK(!st_has_entry(s->v4_cap2, &init_net)))
		return false;
	return true;
}

static bool __init st_gc(struct st_sources *s, u64 last_use)
{
	/* Idle for exactly the limit: kept. */
	ratelimiter_collect(last_use + ENTRY_IDLE_NS, false);
	if (!ST_OK(st_has_entry(s->v4_a, &init_net)))
		return false;
	if (!ST_OK(st_has_entry(s->v6_d, &init_net)))
		return false;
	ratelimiter_collect(last_use + ENTRY_IDLE_NS + 1, false);
	if (!ST_OK(!st_has_entry(s->v4_a, &init_net)))
		return false;
	if (!ST_OK(!st_has_entry(s->v4_a, ST_OTHER_NET)))
		return false;
	if (!ST_OK(!st_has_entry(s->v4_b, &init_net)))
		return false;
	if (!ST_OK(!st_has_entry(s->v4_cap1, &init_net)))
		return false;
	if (!ST_OK(!st_has_entry(s->v6_c, &init_net)))
		return false;
	if (!ST_OK(!st_has_entry(s->v6_d, &init_net)))
		return false;

	/* The real clock, once, and the GC on it. */
	if (!ST_OK(wg_ratelimiter_allow(s->v4_smoke, &init_net)))
		return false;
	if (!ST_OK(st_has_entry(s->v4_smoke, &init_net)))
		return false;
	ratelimiter_collect(ktime_get_coarse_boottime_ns() + 2 * ENTRY_IDLE_NS,
			    false);
	if (!ST_OK(!st_has_entry(s->v4_smoke, &init_net)))
		return false;
	return true;
}

/*
 * The sustained rate: a source that tries every millisecond for ten
 * seconds gets its burst and then exactly 20 messages a second, the limit
 * upstream's module has always applied to handshakes under load.
 */
static bool __init st_rate(struct st_sources *s, u64 start)
{
	unsigned int allowed = 0;
	u64 t;

	for (t = start; t <= start + 10 * NSEC_PER_SEC; t += NSEC_PER_MSEC)
		allowed += ratelimiter_allow_at(s->v4_b, &init_net, t);
	return ST_OK(allowed == 5 + 10 * 20);
}

bool __init wg_ratelimiter_selftest(void)
{
	struct st_sources sources = { };
	bool ok = false;
	u64 t0;

	if (wg_ratelimiter_init())
		goto out;
	cancel_delayed_work_sync(&gc_work);

	if (!st_sources_alloc(&sources)) {
		pr_err("ratelimiter self-test: out of memory\n");
		goto out_restart;
	}
	t0 = ktime_get_coarse_boottime_ns();
	ok = st_refill(&sources, t0) &&
	     st_separation(&sources, t0 + 10 * NSEC_PER_SEC) &&
	     st_capacity(&sources, t0 + 10 * NSEC_PER_SEC) &&
	     st_gc(&sources, t0 + 10 * NSEC_PER_SEC) &&
	     st_rate(&sources, t0 + 100 * NSEC_PER_SEC);
	/* Whatever a failure left behind must not look recent forever. */
	ratelimiter_collect(U64_MAX, false);

out_restart:
	queue_delayed_work(system_power_efficient_wq, &gc_work, GC_INTERVAL);
	wg_ratelimiter_uninit();
out:
	st_sources_free(&sources);
	if (ok)
		pr_info("ratelimiter self-tests: pass\n");
	else
		pr_err("ratelimiter self-tests: FAIL\n");
	return ok;
}
