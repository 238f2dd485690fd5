// SPDX-License-Identifier: GPL-2.0
/*
 * Crypto lanes, in-order queues, and the scrubbing a packet gets as it goes
 * into or comes out of the tunnel.
 */
#include <linux/slab.h>
#include <net/dst.h>

#include "messages.h"
#include "queueing.h"

/* The online CPU after @cpu, wrapping around. */
static int online_cpu_after(int cpu)
{
	cpu = cpumask_next(cpu, cpu_online_mask);
	return cpu < nr_cpu_ids ? cpu : cpumask_first(cpu_online_mask);
}

static void free_job(void *skb)
{
	kfree_skb(skb);
}

/*
 * @capacity is the pool's, shared among the lanes: round-robin keeps them
 * evenly filled, so each gets its part (and never fewer than a GSO
 * super-packet's worth of segments).
 */
int wg_crypt_pool_init(struct crypt_pool *pool, struct workqueue_struct *wq,
		       work_func_t drain, unsigned int capacity,
		       bool counts_backlog)
{
	unsigned int lane_size = max(capacity / num_possible_cpus(), 128U);
	int cpu, ret;

	pool->wq = wq;
	pool->last_cpu = -1;
	pool->counts_backlog = counts_backlog;
	atomic_set(&pool->backlog, 0);
	pool->lanes = alloc_percpu(struct crypt_lane);
	if (!pool->lanes)
		return -ENOMEM;
	for_each_possible_cpu(cpu) {
		struct crypt_lane *lane = per_cpu_ptr(pool->lanes, cpu);

		ret = ptr_ring_init(&lane->jobs, lane_size, GFP_KERNEL);
		if (ret) {
			wg_crypt_pool_free(pool);
			return ret;
		}
		INIT_WORK(&lane->work, drain);
		lane->pool = pool;
	}
	return 0;
}

void wg_crypt_pool_free(struct crypt_pool *pool)
{
	int cpu;

	if (!pool->lanes)
		return;
	for_each_possible_cpu(cpu) {
		struct crypt_lane *lane = per_cpu_ptr(pool->lanes, cpu);

		/* alloc_percpu() zeroed the lanes that were never set up. */
		if (lane->pool)
			ptr_ring_cleanup(&lane->jobs, free_job);
	}
	free_percpu(pool->lanes);
	pool->lanes = NULL;
}

bool wg_crypt_pool_submit(struct crypt_pool *pool, struct sk_buff *skb)
{
	int cpu = online_cpu_after(READ_ONCE(pool->last_cpu));
	struct crypt_lane *lane = per_cpu_ptr(pool->lanes, cpu);

	WRITE_ONCE(pool->last_cpu, cpu);
	if (unlikely(ptr_ring_produce_bh(&lane->jobs, skb)))
		return false;
	if (pool->counts_backlog)
		atomic_inc(&pool->backlog);
	queue_work_on(cpu, pool->wq, &lane->work);
	return true;
}

struct sk_buff *wg_crypt_lane_next(struct work_struct *work)
{
	struct crypt_lane *lane = container_of(work, struct crypt_lane, work);
	struct sk_buff *skb = ptr_ring_consume_bh(&lane->jobs);

	if (skb && lane->pool->counts_backlog)
		atomic_dec(&lane->pool->backlog);
	return skb;
}

void wg_serial_init(struct serial_queue *queue)
{
	skb_queue_head_init(&queue->packets);
}

bool wg_serial_append(struct serial_queue *queue, struct sk_buff *skb)
{
	bool room;

	PACKET_CB(skb)->verdict = VERDICT_PENDING;
	spin_lock_bh(&queue->packets.lock);
	room = skb_queue_len(&queue->packets) < MAX_QUEUED_PACKETS;
	if (room)
		__skb_queue_tail(&queue->packets, skb);
	spin_unlock_bh(&queue->packets.lock);
	return room;
}

struct sk_buff *wg_serial_pop_done(struct serial_queue *queue)
{
	struct sk_buff *head;

	spin_lock_bh(&queue->packets.lock);
	head = skb_peek(&queue->packets);
	/* Pairs with wg_set_verdict(): the lane's writes come with it. */
	if (head && smp_load_acquire(&PACKET_CB(head)->verdict) != VERDICT_PENDING)
		__skb_unlink(head, &queue->packets);
	else
		head = NULL;
	spin_unlock_bh(&queue->packets.lock);
	return head;
}

void wg_serial_drain(struct serial_queue *queue,
		     void (*release)(struct sk_buff *skb))
{
	struct sk_buff_head taken;
	struct sk_buff *skb;

	__skb_queue_head_init(&taken);
	spin_lock_bh(&queue->packets.lock);
	skb_queue_splice_init(&queue->packets, &taken);
	spin_unlock_bh(&queue->packets.lock);
	while ((skb = __skb_dequeue(&taken)))
		release(skb);
}

__be16 wg_inner_protocol(struct sk_buff *skb)
{
	unsigned int room = skb_tail_pointer(skb) - skb_network_header(skb);

	/* A header pushed before the buffer or past its end is no header. */
	if (skb_network_header(skb) < skb->head)
		return 0;
	if (room >= sizeof(struct iphdr) && ip_hdr(skb)->version == 4)
		return htons(ETH_P_IP);
	if (room >= sizeof(struct ipv6hdr) && ipv6_hdr(skb)->version == 6)
		return htons(ETH_P_IPV6);
	return 0;
}

/*
 * What the inner packet picked up on its way through our host (route,
 * conntrack, marks, timestamps, redirect and queue choices) means nothing
 * to the outer one.  Its flow hash stays: the outer packets of one inner
 * flow should keep to one queue below us.  The headers are whatever
 * encryption and the UDP tunnel push next.
 */
void wg_scrub_for_encap(struct sk_buff *skb)
{
	skb_scrub_packet(skb, true);
	skb_reset_redirect(skb);
	skb->priority = 0;
	skb->queue_mapping = 0;
	skb->dev = NULL;
	skb_reset_inner_headers(skb);
}

/*
 * The mirror image: the outer packet's route, marks and flow hash belong to
 * the UDP flow between the endpoints, not to the packet inside, and its
 * header offsets are about to point at the inner packet.
 */
void wg_scrub_for_delivery(struct sk_buff *skb)
{
	skb_scrub_packet(skb, true);
	skb_reset_redirect(skb);
	skb_clear_hash(skb);
	skb->priority = 0;
	skb->queue_mapping = 0;
	skb->mac_len = 0;
	skb_reset_mac_header(skb);
	skb_reset_network_header(skb);
	skb_reset_transport_header(skb);
}
