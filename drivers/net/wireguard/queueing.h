/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The packet path: what send.c and receive.c offer the rest of the driver,
 * and the queues that spread encryption and decryption over every CPU while
 * keeping each peer's packets in order.
 */
#ifndef _WG_QUEUEING_H
#define _WG_QUEUEING_H

#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/ptr_ring.h>
#include <linux/skbuff.h>
#include <linux/workqueue.h>
#include <net/ip_tunnels.h>

struct wg_device;
struct wg_peer;
struct noise_keypair;
struct multicore_worker;
struct crypt_queue;
struct serial_queue;
struct sk_buff;

/* queueing.c */
void wg_serial_queue_init(struct serial_queue *queue);
/* Appends unless the queue is full; false when full. */
bool wg_serial_queue_enqueue(struct serial_queue *queue, struct sk_buff *skb);
/* The head if crypto is done with it, unlinked; NULL otherwise. */
struct sk_buff *wg_serial_queue_dequeue_ready(struct serial_queue *queue);
/* Unlinks every packet and hands each to @release. */
void wg_serial_queue_purge(struct serial_queue *queue,
			   void (*release)(struct sk_buff *skb));
int wg_packet_queue_init(struct crypt_queue *queue, work_func_t function,
			 unsigned int len);
void wg_packet_queue_free(struct crypt_queue *queue, bool purge);
struct multicore_worker __percpu *
wg_packet_percpu_multicore_worker_alloc(work_func_t function, void *ptr);

/* receive.c */
void wg_packet_receive(struct wg_device *wg, struct sk_buff *skb);
void wg_packet_handshake_receive_worker(struct work_struct *work);
int wg_packet_rx_poll(struct napi_struct *napi, int budget);
void wg_packet_decrypt_worker(struct work_struct *work);
/* Drops the packets waiting in a peer's queues; crypto must be idle. */
void wg_packet_purge_rx_queue(struct wg_peer *peer);
void wg_packet_purge_tx_queue(struct wg_peer *peer);

/* send.c */
void wg_packet_send_queued_handshake_initiation(struct wg_peer *peer,
						bool is_retry);
void wg_packet_send_handshake_response(struct wg_peer *peer);
void wg_packet_send_handshake_cookie(struct wg_device *wg,
				     struct sk_buff *initiating_skb,
				     __le32 sender_index);
void wg_packet_send_keepalive(struct wg_peer *peer);
void wg_packet_purge_staged_packets(struct wg_peer *peer);
void wg_packet_send_staged_packets(struct wg_peer *peer);
void wg_packet_handshake_send_worker(struct work_struct *work);
void wg_packet_tx_worker(struct work_struct *work);
void wg_packet_encrypt_worker(struct work_struct *work);

enum packet_state {
	PACKET_STATE_UNCRYPTED,
	PACKET_STATE_CRYPTED,
	PACKET_STATE_DEAD
};

/* What a packet carries through the queues, in skb->cb. */
struct packet_cb {
	u64 nonce;
	struct noise_keypair *keypair;
	atomic_t state;
	u32 mtu;
	u8 ds;
};

#define PACKET_CB(skb) ((struct packet_cb *)((skb)->cb))
#define PACKET_PEER(skb) (PACKET_CB(skb)->keypair->entry.peer)

/* A worker per CPU, for the parallel part of a queue. */
struct multicore_worker {
	void *ptr;
	struct work_struct work;
};

/* The packets waiting for (parallel) encryption or decryption. */
struct crypt_queue {
	struct ptr_ring ring;
	struct multicore_worker __percpu *worker;
	int last_cpu;
};

/*
 * A peer's packets in the order they must leave (or be delivered): the
 * crypto workers mark them done in any order, and the peer's serial worker
 * takes them from the head once they are.
 */
struct serial_queue {
	struct sk_buff_head packets;	/* its lock guards it */
};

/* The IP version of an inner packet, or 0 when it is neither. */
static inline __be16 wg_examine_packet_protocol(struct sk_buff *skb)
{
	if (skb_network_header(skb) >= skb->head &&
	    (skb_network_header(skb) + sizeof(struct iphdr)) <= skb_tail_pointer(skb) &&
	    ip_hdr(skb)->version == 4)
		return htons(ETH_P_IP);
	if (skb_network_header(skb) >= skb->head &&
	    (skb_network_header(skb) + sizeof(struct ipv6hdr)) <= skb_tail_pointer(skb) &&
	    ipv6_hdr(skb)->version == 6)
		return htons(ETH_P_IPV6);
	return 0;
}

/*
 * Forget a packet's life before it entered (or after it left) the tunnel:
 * its route, marks, conntrack and header offsets.  An encapsulated packet
 * keeps its flow hash, so that its flow stays on one path outside.
 */
void wg_reset_packet(struct sk_buff *skb, bool encapsulating);

/*
 * A peer's byte counter: the handshake workers and the peer's serial worker
 * may add at once, so the add must not lose one; the dump reads it with
 * READ_ONCE.
 */
static inline void wg_add_transfer(u64 *counter, unsigned int len)
{
	u64 old = READ_ONCE(*counter);

	while (!try_cmpxchg64(counter, &old, old + len))
		;
}

/* Round-robin over the online CPUs, for the next parallel job. */
static inline int wg_cpumask_next_online(int *last_cpu)
{
	int cpu = cpumask_next(READ_ONCE(*last_cpu), cpu_online_mask);

	if (cpu >= nr_cpu_ids)
		cpu = cpumask_first(cpu_online_mask);
	WRITE_ONCE(*last_cpu, cpu);
	return cpu;
}

#endif /* _WG_QUEUEING_H */
