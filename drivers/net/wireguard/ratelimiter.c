// SPDX-License-Identifier: GPL-2.0
/*
 * A token bucket per source of handshake messages: an IPv4 address, or an
 * IPv6 /64 (what one host usually gets), in one network namespace.  Tokens
 * are nanoseconds: each message costs 1 s / PACKETS_PER_SECOND and a
 * bucket holds a few of them, so a source may burst a little but not go
 * faster than that on average.  The rate is upstream's, 20 a second, which
 * is not the per-peer INITIATIONS_PER_SECOND limit of noise.c: a source
 * may speak for many peers, a peer only once per 20 ms.
 *
 * The buckets are shared by every device and live in one hashtable that
 * readers search under RCU.  Each bucket has its own lock; the table's lock
 * only serializes adding and removing buckets.  Idle buckets are collected
 * every second.
 */
#include <linux/hashtable.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/ktime.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/random.h>
#include <linux/siphash.h>
#include <linux/slab.h>
#include <linux/sizes.h>
#include <linux/workqueue.h>
#include <net/net_namespace.h>

#include "messages.h"
#include "ratelimiter.h"

enum {
	PACKETS_PER_SECOND = 20,
	PACKETS_BURSTABLE = 5,
	PACKET_COST = NSEC_PER_SEC / PACKETS_PER_SECOND,
	TOKEN_MAX = PACKET_COST * PACKETS_BURSTABLE
};

/* A bucket untouched for this long is full again: it can go. */
#define ENTRY_IDLE_NS NSEC_PER_SEC
#define GC_INTERVAL HZ

struct ratelimiter_entry {
	/* What the bucket is for; never changes. */
	const struct net *net;
	u64 addr;		/* IPv4 address, or the top 64 bits of IPv6 */
	u8 family;		/* AF_INET or AF_INET6 */

	spinlock_t lock;	/* guards the two below */
	u64 last_time_ns;	/* also read without the lock, by the GC */
	u64 tokens;

	struct hlist_node hash;
	struct rcu_head rcu;
};

static DEFINE_MUTEX(init_lock);
static unsigned int init_refcount;

static struct kmem_cache *entry_cache;
static struct hlist_head *table;
static unsigned int table_size;		/* a power of two */
static unsigned int max_entries;
static atomic_t total_entries = ATOMIC_INIT(0);
static siphash_key_t key;
/* Serializes adding and removing entries. */
static DEFINE_SPINLOCK(table_lock);
static struct delayed_work gc_work;

static struct hlist_head *bucket_of(const struct net *net, u64 addr,
				    u8 family)
{
	u64 hash = siphash_3u64((u64)(uintptr_t)net, addr, family, &key);

	return &table[hash & (table_size - 1)];
}

/* Under RCU or table_lock. */
static struct ratelimiter_entry *find_entry(struct hlist_head *bucket,
					    const struct net *net, u64 addr,
					    u8 family)
{
	struct ratelimiter_entry *entry;

	hlist_for_each_entry_rcu(entry, bucket, hash,
				 lockdep_is_held(&table_lock)) {
		if (entry->net == net && entry->addr == addr &&
		    entry->family == family)
			return entry;
	}
	return NULL;
}

/* Refills by the time elapsed, then takes one packet's worth if there. */
static bool entry_take(struct ratelimiter_entry *entry, u64 now)
{
	u64 tokens;
	bool allowed;

	spin_lock_bh(&entry->lock);
	tokens = entry->tokens;
	/* The clock is monotonic, but tests may go back in time. */
	if (now > entry->last_time_ns)
		tokens = min_t(u64, TOKEN_MAX,
			       tokens + (now - entry->last_time_ns));
	WRITE_ONCE(entry->last_time_ns, now);
	allowed = tokens >= PACKET_COST;
	entry->tokens = allowed ? tokens - PACKET_COST : tokens;
	spin_unlock_bh(&entry->lock);
	return allowed;
}

static void entry_free_rcu(struct rcu_head *rcu)
{
	kmem_cache_free(entry_cache,
			container_of(rcu, struct ratelimiter_entry, rcu));
}

/*
 * A full bucket minus the packet that creates it.  Refuses when the table
 * is full: under a flood from many sources, new ones wait for the GC.
 * Under RCU, which keeps an entry another CPU created alive.
 */
static bool entry_create(struct hlist_head *bucket, const struct net *net,
			 u64 addr, u8 family, u64 now)
{
	struct ratelimiter_entry *entry, *existing;

	if (atomic_inc_return(&total_entries) > max_entries)
		goto err_count;
	entry = kmem_cache_alloc(entry_cache, GFP_ATOMIC);
	if (unlikely(!entry))
		goto err_count;
	entry->net = net;
	entry->addr = addr;
	entry->family = family;
	spin_lock_init(&entry->lock);
	entry->last_time_ns = now;
	entry->tokens = TOKEN_MAX - PACKET_COST;

	spin_lock_bh(&table_lock);
	/* Another CPU may have created it since we looked. */
	existing = find_entry(bucket, net, addr, family);
	if (!existing)
		hlist_add_head_rcu(&entry->hash, bucket);
	spin_unlock_bh(&table_lock);
	if (!existing)
		return true;
	kmem_cache_free(entry_cache, entry);
	atomic_dec(&total_entries);
	return entry_take(existing, now);

err_count:
	atomic_dec(&total_entries);
	return false;
}

/* The source a bucket is for; false when it is neither IPv4 nor IPv6. */
static bool source_of(struct sk_buff *skb, u64 *addr, u8 *family)
{
	if (skb->protocol == htons(ETH_P_IP)) {
		*addr = (__force u32)ip_hdr(skb)->saddr;
		*family = AF_INET;
		return true;
	}
	if (skb->protocol == htons(ETH_P_IPV6)) {
		/* The /64: one host usually has all of it. */
		memcpy(addr, &ipv6_hdr(skb)->saddr, sizeof(*addr));
		*family = AF_INET6;
		return true;
	}
	return false;
}

/* wg_ratelimiter_allow() at a given time, so that tests control time. */
static bool ratelimiter_allow_at(struct sk_buff *skb, const struct net *net,
				 u64 now)
{
	struct ratelimiter_entry *entry;
	struct hlist_head *bucket;
	bool allowed;
	u8 family;
	u64 addr;

	if (!source_of(skb, &addr, &family))
		return false;
	bucket = bucket_of(net, addr, family);

	rcu_read_lock();
	entry = find_entry(bucket, net, addr, family);
	if (entry)
		allowed = entry_take(entry, now);
	else
		allowed = entry_create(bucket, net, addr, family, now);
	rcu_read_unlock();
	return allowed;
}

bool wg_ratelimiter_allow(struct sk_buff *skb, struct net *net)
{
	return ratelimiter_allow_at(skb, net, ktime_get_coarse_boottime_ns());
}

/* Drops the entries idle at @now, or all of them. */
static void ratelimiter_collect(u64 now, bool everything)
{
	struct ratelimiter_entry *entry;
	struct hlist_node *tmp;
	unsigned int i;

	for (i = 0; i < table_size; ++i) {
		spin_lock_bh(&table_lock);
		hlist_for_each_entry_safe(entry, tmp, &table[i], hash) {
			if (!everything &&
			    now - READ_ONCE(entry->last_time_ns) <= ENTRY_IDLE_NS)
				continue;
			hlist_del_rcu(&entry->hash);
			atomic_dec(&total_entries);
			call_rcu(&entry->rcu, entry_free_rcu);
		}
		spin_unlock_bh(&table_lock);
		/* A big table: let others run between buckets. */
		cond_resched();
	}
}

static void gc_worker(struct work_struct *work)
{
	ratelimiter_collect(ktime_get_coarse_boottime_ns(), false);
	queue_delayed_work(system_power_efficient_wq, &gc_work, GC_INTERVAL);
}

/*
 * One bucket per MiB of RAM (between 256 and 8192 buckets) and up to eight
 * entries per bucket: at most 64 Ki entries, a few MiB.
 */
static void choose_sizes(void)
{
	unsigned long buckets = totalram_pages() / (SZ_1M / PAGE_SIZE);

	table_size = roundup_pow_of_two(clamp_t(unsigned long, buckets,
						256, 8192));
	max_entries = table_size * 8;
}

int wg_ratelimiter_init(void)
{
	int ret = 0;

	mutex_lock(&init_lock);
	if (init_refcount++)
		goto out;

	entry_cache = KMEM_CACHE(ratelimiter_entry, 0);
	if (!entry_cache)
		goto err;
	choose_sizes();
	table = kvcalloc(table_size, sizeof(*table), GFP_KERNEL);
	if (!table)
		goto err_cache;
	get_random_bytes(&key, sizeof(key));
	INIT_DELAYED_WORK(&gc_work, gc_worker);
	queue_delayed_work(system_power_efficient_wq, &gc_work, GC_INTERVAL);
	goto out;

err_cache:
	kmem_cache_destroy(entry_cache);
err:
	--init_refcount;
	ret = -ENOMEM;
out:
	mutex_unlock(&init_lock);
	return ret;
}

void wg_ratelimiter_uninit(void)
{
	mutex_lock(&init_lock);
	if (WARN_ON(!init_refcount) || --init_refcount)
		goto out;

	cancel_delayed_work_sync(&gc_work);
	ratelimiter_collect(0, true);
	/* The entries go back to the cache before it is destroyed. */
	rcu_barrier();
	kvfree(table);
	table = NULL;
	kmem_cache_destroy(entry_cache);
out:
	mutex_unlock(&init_lock);
}

#ifdef CONFIG_WIREGUARD_DEBUG
#include "selftest/ratelimiter.c"
#endif
