/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The machinery both directions of the packet path share: a pool of
 * per-CPU crypto lanes, a peer's in-order queue, the per-packet state that
 * travels in skb->cb, and what send.c and receive.c offer the rest of the
 * driver.  Documentation/wireguard.rst, "The data path", has the picture.
 */
#ifndef _WG_QUEUEING_H
#define _WG_QUEUEING_H

#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/netdevice.h>
#include <linux/ptr_ring.h>
#include <linux/scatterlist.h>
#include <linux/skbuff.h>
#include <linux/workqueue.h>

struct wg_device;
struct wg_peer;
struct noise_keypair;

/*
 * Parallel work without shared consumers: each CPU has a lane of its own,
 * a bounded ring and the one work item that empties it.  A producer picks
 * the next online CPU in turn and only ever contends with producers on that
 * lane's ring; no two CPUs consume from the same ring.
 */
struct crypt_lane {
	struct ptr_ring jobs;
	struct work_struct work;
	struct crypt_pool *pool;	/* NULL until the lane is set up */
	/*
	 * Scratch for the job at hand: the lane's work never runs twice at
	 * once, so this need not live on a worker's stack.
	 */
	struct scatterlist sg[MAX_SKB_FRAGS + 8];
};

struct crypt_pool {
	struct crypt_lane __percpu *lanes;
	struct workqueue_struct *wq;
	int last_cpu;		/* the lane that got the previous job */
	/*
	 * Jobs in all lanes, kept only where a load decision needs it (the
	 * handshake pool): the data pools spare the shared cache line.
	 */
	bool counts_backlog;
	atomic_t backlog;
};

int wg_crypt_pool_init(struct crypt_pool *pool, struct workqueue_struct *wq,
		       work_func_t drain, unsigned int capacity,
		       bool counts_backlog);
/* The workers must be idle; frees whatever jobs are left. */
void wg_crypt_pool_free(struct crypt_pool *pool);
/* Hands @skb to the next lane; false (and @skb still ours) when it is full. */
bool wg_crypt_pool_submit(struct crypt_pool *pool, struct sk_buff *skb);
/* The next job of the lane @work drains, or NULL. */
struct sk_buff *wg_crypt_lane_next(struct work_struct *work);

static inline struct crypt_pool *wg_crypt_pool_of(struct work_struct *work)
{
	return container_of(work, struct crypt_lane, work)->pool;
}

static inline struct scatterlist *wg_crypt_lane_sg(struct work_struct *work)
{
	return container_of(work, struct crypt_lane, work)->sg;
}

/*
 * A peer's packets in the order they must leave (or be delivered).  The
 * lanes finish them in any order and record a verdict; the peer's serial
 * stage (transmit work, or NAPI on receive) pops from the head only once
 * the head has one.  Its own lock guards the list.
 */
struct serial_queue {
	struct sk_buff_head packets;
};

void wg_serial_init(struct serial_queue *queue);
/* Appends @skb unless the queue already holds its limit. */
bool wg_serial_append(struct serial_queue *queue, struct sk_buff *skb);
/* Unlinks and returns the head once it has a verdict; NULL otherwise. */
struct sk_buff *wg_serial_pop_done(struct serial_queue *queue);
/* Unlinks everything and hands each packet to @release. */
void wg_serial_drain(struct serial_queue *queue,
		     void (*release)(struct sk_buff *skb));

/* What a lane decided about a packet: none yet, or whether it is good. */
enum crypt_verdict {
	VERDICT_PENDING,
	VERDICT_GOOD,
	VERDICT_BAD,
};

/* A packet's state on the data path, in skb->cb. */
struct packet_cb {
	struct noise_keypair *keypair;	/* referenced while it is queued */
	u64 nonce;
	u32 mtu;	/* transmit: what padding may grow it to */
	u8 dsfield;	/* the outer DS field: sent with, or received in */
	u8 verdict;	/* enum crypt_verdict; written with release */
};

#define PACKET_CB(skb) ((struct packet_cb *)((skb)->cb))
#define PACKET_PEER(skb) (PACKET_CB(skb)->keypair->entry.peer)

static inline void wg_set_verdict(struct sk_buff *skb, bool good)
{
	/* From here the serial stage may take, send and free it. */
	smp_store_release(&PACKET_CB(skb)->verdict,
			  good ? VERDICT_GOOD : VERDICT_BAD);
}

static inline bool wg_verdict_good(struct sk_buff *skb)
{
	return READ_ONCE(PACKET_CB(skb)->verdict) == VERDICT_GOOD;
}

/* ETH_P_IP or ETH_P_IPV6 after the version nibble of a sane header, else 0. */
__be16 wg_inner_protocol(struct sk_buff *skb);

/* A plaintext packet about to become a message's payload. */
void wg_scrub_for_encap(struct sk_buff *skb);
/* A decrypted packet about to enter our device's stack. */
void wg_scrub_for_delivery(struct sk_buff *skb);

/*
 * A peer's byte counter: the handshake workers and the peer's serial stage
 * may add at once, so no add may be lost; the dump reads it with READ_ONCE.
 */
static inline void wg_add_transfer(u64 *counter, unsigned int len)
{
	u64 old = READ_ONCE(*counter);

	while (!try_cmpxchg64(counter, &old, old + len))
		;
}

/* send.c: the transmit pipeline. */
void wg_packet_send_staged_packets(struct wg_peer *peer);
void wg_packet_send_keepalive(struct wg_peer *peer);
void wg_packet_send_queued_handshake_initiation(struct wg_peer *peer,
						bool is_retry);
void wg_packet_purge_staged_packets(struct wg_peer *peer);
void wg_tx_handshake_response(struct wg_peer *peer);
void wg_tx_cookie_reply(struct wg_device *wg, struct sk_buff *initiation,
			__le32 sender_index);
void wg_tx_initiation_work(struct work_struct *work);
void wg_tx_encrypt_work(struct work_struct *work);
void wg_tx_serial_work(struct work_struct *work);
void wg_tx_drop_pending(struct wg_peer *peer);

/* receive.c: the receive pipeline. */
void wg_packet_receive(struct wg_device *wg, struct sk_buff *skb);
void wg_rx_handshake_work(struct work_struct *work);
void wg_rx_decrypt_work(struct work_struct *work);
int wg_rx_napi_poll(struct napi_struct *napi, int budget);
void wg_rx_drop_pending(struct wg_peer *peer);

#endif /* _WG_QUEUEING_H */
