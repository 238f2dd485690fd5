// SPDX-License-Identifier: GPL-2.0
/*
 * The queues of the packet path.
 *
 * Encryption and decryption run on every CPU: a device-wide ring feeds a
 * worker per CPU, in any order.  Each packet is also on its peer's serial
 * queue, in the order it must leave or be delivered; the crypto workers only
 * mark it done, and the peer's serial worker (transmit work, or NAPI on
 * receive) takes packets from the head once they are.
 */
#include <linux/slab.h>
#include <net/dst.h>
#include <net/ip.h>

#include "messages.h"
#include "queueing.h"

struct multicore_worker __percpu *
wg_packet_percpu_multicore_worker_alloc(work_func_t function, void *ptr)
{
	struct multicore_worker __percpu *worker;
	int cpu;

	worker = alloc_percpu(struct multicore_worker);
	if (!worker)
		return NULL;
	for_each_possible_cpu(cpu) {
		per_cpu_ptr(worker, cpu)->ptr = ptr;
		INIT_WORK(&per_cpu_ptr(worker, cpu)->work, function);
	}
	return worker;
}

int wg_packet_queue_init(struct crypt_queue *queue, work_func_t function,
			 unsigned int len)
{
	int ret;

	memset(queue, 0, sizeof(*queue));
	queue->last_cpu = -1;
	ret = ptr_ring_init(&queue->ring, len, GFP_KERNEL);
	if (ret)
		return ret;
	queue->worker = wg_packet_percpu_multicore_worker_alloc(function, queue);
	if (!queue->worker) {
		ptr_ring_cleanup(&queue->ring, NULL);
		return -ENOMEM;
	}
	return 0;
}

static void free_queued_skb(void *ptr)
{
	kfree_skb(ptr);
}

void wg_packet_queue_free(struct crypt_queue *queue, bool purge)
{
	free_percpu(queue->worker);
	WARN_ON(!purge && !__ptr_ring_empty(&queue->ring));
	ptr_ring_cleanup(&queue->ring, purge ? free_queued_skb : NULL);
}

void wg_serial_queue_init(struct serial_queue *queue)
{
	skb_queue_head_init(&queue->packets);
}

bool wg_serial_queue_enqueue(struct serial_queue *queue, struct sk_buff *skb)
{
	bool queued = false;

	spin_lock_bh(&queue->packets.lock);
	if (skb_queue_len(&queue->packets) < MAX_QUEUED_PACKETS) {
		__skb_queue_tail(&queue->packets, skb);
		queued = true;
	}
	spin_unlock_bh(&queue->packets.lock);
	return queued;
}

struct sk_buff *wg_serial_queue_dequeue_ready(struct serial_queue *queue)
{
	struct sk_buff *skb;

	spin_lock_bh(&queue->packets.lock);
	skb = skb_peek(&queue->packets);
	if (skb && atomic_read_acquire(&PACKET_CB(skb)->state) != PACKET_STATE_UNCRYPTED)
		__skb_unlink(skb, &queue->packets);
	else
		skb = NULL;
	spin_unlock_bh(&queue->packets.lock);
	return skb;
}

void wg_serial_queue_purge(struct serial_queue *queue,
			   void (*release)(struct sk_buff *skb))
{
	struct sk_buff_head packets;
	struct sk_buff *skb;

	__skb_queue_head_init(&packets);
	spin_lock_bh(&queue->packets.lock);
	skb_queue_splice_init(&queue->packets, &packets);
	spin_unlock_bh(&queue->packets.lock);
	while ((skb = __skb_dequeue(&packets)))
		release(skb);
}

void wg_reset_packet(struct sk_buff *skb, bool encapsulating)
{
	bool l4_hash = skb->l4_hash;
	bool sw_hash = skb->sw_hash;
	u32 hash = skb->hash;

	skb_scrub_packet(skb, true);
	if (encapsulating) {
		skb->l4_hash = l4_hash;
		skb->sw_hash = sw_hash;
		skb->hash = hash;
	}
	skb->queue_mapping = 0;
	skb->nohdr = 0;
	skb->peeked = 0;
	skb->mac_len = 0;
	skb->dev = NULL;
	skb->priority = 0;
	skb_reset_redirect(skb);
	skb->hdr_len = skb_headroom(skb);
	skb_reset_mac_header(skb);
	skb_reset_network_header(skb);
	skb_reset_transport_header(skb);
	skb_probe_transport_header(skb);
	skb_reset_inner_headers(skb);
}
