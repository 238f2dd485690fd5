// SPDX-License-Identifier: GPL-2.0
/*
 * The transmit pipeline, after device.c picked the peer, segmented the
 * packet and staged the segments on the peer:
 *
 *   bind      wg_packet_send_staged_packets: the staged packets take the
 *             next nonces of the current session, in order, and go on the
 *             peer's serial queue and to the encryption lanes
 *   seal      wg_tx_encrypt_work: any CPU pads and encrypts, in any order
 *   send      wg_tx_serial_work: the peer's one serial stage sends from the
 *             head of its queue, in nonce order, once the head is sealed
 *
 * Handshake messages skip the pipeline: they are built and sent at once
 * (an initiation from a work item, so that a timer or the packet path never
 * waits for the Curve25519 it costs).
 */
#include <net/ip_tunnels.h>

#include "cookie.h"
#include "device.h"
#include "messages.h"
#include "noise.h"
#include "peer.h"
#include "queueing.h"
#include "socket.h"
#include "timers.h"

/*
 * Every message that reached the socket counts, in the peer's transfer
 * counters and in the device's statistics alike: its length as a UDP
 * payload, handshakes and keepalives included, as the stock module counts.
 */
static void count_sent(struct wg_peer *peer, unsigned int len)
{
	wg_add_transfer(&peer->tx_bytes, len);
	local_bh_disable();
	dev_sw_netstats_tx_add(peer->device->dev, 1, len);
	local_bh_enable();
}

/* --- handshake messages --------------------------------------------------- */

/* At most one initiation per REKEY_TIMEOUT, whoever asks. */
static bool initiation_allowed(struct wg_peer *peer)
{
	return wg_birthdate_has_expired(atomic64_read(&peer->last_sent_handshake),
					REKEY_TIMEOUT);
}

/* What every handshake message we send a peer gets: MACs, timers, socket. */
static void send_handshake_message(struct wg_peer *peer, void *msg, size_t len)
{
	wg_cookie_stamp(&peer->cookie, msg, len);
	wg_timers_note(peer, WG_TIMER_AUTH_SENT);
	atomic64_set(&peer->last_sent_handshake, ktime_get_coarse_boottime_ns());
	if (!wg_socket_send_copy(peer, msg, len, HANDSHAKE_DSCP))
		count_sent(peer, len);
}

void wg_tx_initiation_work(struct work_struct *work)
{
	struct wg_peer *peer = container_of(work, struct wg_peer,
					    transmit_handshake_work);
	struct message_handshake_initiation msg;

	if (initiation_allowed(peer)) {
		/* Claim the slot before the slow part, against a second caller. */
		atomic64_set(&peer->last_sent_handshake,
			     ktime_get_coarse_boottime_ns());
		net_dbg_ratelimited("%s: sending handshake initiation to peer %llu\n",
				    peer->device->dev->name, peer->internal_id);
		if (wg_noise_handshake_create_initiation(&msg, &peer->handshake)) {
			/*
			 * The retransmission timer before the socket: the
			 * response may be in before the send returns, and its
			 * cancel must find the timer armed.
			 */
			wg_timers_note(peer, WG_TIMER_INITIATION_SENT);
			send_handshake_message(peer, &msg, sizeof(msg));
		}
	}
	/* The reference its queuer took. */
	wg_peer_put(peer);
}

void wg_packet_send_queued_handshake_initiation(struct wg_peer *peer,
						bool is_retry)
{
	if (!is_retry)
		wg_timers_note(peer, WG_TIMER_HANDSHAKE_WANTED);
	if (!initiation_allowed(peer))
		return;

	/* Under RCU, so that removal (which waits for it) sees the work. */
	rcu_read_lock_bh();
	if (likely(!READ_ONCE(peer->is_dead))) {
		wg_peer_get(peer);
		if (!queue_work(peer->device->handshake_wq,
				&peer->transmit_handshake_work))
			wg_peer_put(peer);	/* already pending */
	}
	rcu_read_unlock_bh();
}

void wg_tx_handshake_response(struct wg_peer *peer)
{
	struct message_handshake_response msg;

	net_dbg_ratelimited("%s: sending handshake response to peer %llu\n",
			    peer->device->dev->name, peer->internal_id);
	if (!wg_noise_handshake_create_response(&msg, &peer->handshake) ||
	    !wg_noise_handshake_begin_session(&peer->handshake, &peer->keypairs))
		return;
	wg_timers_note(peer, WG_TIMER_SESSION_DERIVED);
	send_handshake_message(peer, &msg, sizeof(msg));
}

/* Not to a peer: to whoever sent @initiation, from where it arrived. */
void wg_tx_cookie_reply(struct wg_device *wg, struct sk_buff *initiation,
			__le32 sender_index)
{
	struct message_handshake_cookie msg;

	net_dbg_ratelimited("%s: sending cookie reply\n", wg->dev->name);
	wg_cookie_reply_build(wg, &msg, initiation, sender_index);
	wg_socket_reply(wg, initiation, &msg, sizeof(msg));
}

/* --- bind: staged packets take nonces of a session ------------------------ */

/* The current session, referenced, if it may still send. */
static struct noise_keypair *session_for_sending(struct wg_peer *peer)
{
	struct noise_keypair *keypair;

	rcu_read_lock_bh();
	keypair = rcu_dereference_bh(peer->keypairs.current_keypair);
	keypair = wg_noise_keypair_get(keypair);
	rcu_read_unlock_bh();
	if (!keypair)
		return NULL;
	if (likely(READ_ONCE(keypair->sending.is_valid) &&
		   !wg_birthdate_has_expired(keypair->sending.birthdate,
					     REJECT_AFTER_TIME)))
		return keypair;
	WRITE_ONCE(keypair->sending.is_valid, false);
	wg_noise_keypair_put(keypair, false);
	return NULL;
}

/*
 * Every packet of @batch gets its nonce and outer DS field, before any
 * leaves: a session that runs out of nonces midway sends none of them.
 */
static bool bind_to_session(struct sk_buff_head *batch,
			    struct noise_keypair *keypair)
{
	struct sk_buff *skb;
	u64 nonce;

	skb_queue_walk(batch, skb) {
		nonce = atomic64_inc_return(&keypair->sending_counter) - 1;
		if (unlikely(nonce >= REJECT_AFTER_MESSAGES)) {
			WRITE_ONCE(keypair->sending.is_valid, false);
			return false;
		}
		PACKET_CB(skb)->nonce = nonce;
		PACKET_CB(skb)->dsfield = ip_tunnel_ecn_encap(0, ip_hdr(skb), skb);
	}
	return true;
}

/* One bound packet onto the serial queue and to a lane; consumes @skb. */
static void launch(struct wg_peer *peer, struct sk_buff *skb,
		   struct noise_keypair *keypair)
{
	struct wg_device *wg = peer->device;

	wg_scrub_for_encap(skb);
	/* The caller's reference keeps the count above zero. */
	kref_get(&keypair->refcount);
	PACKET_CB(skb)->keypair = keypair;
	if (unlikely(!wg_serial_append(&peer->tx_queue, skb))) {
		DEV_STATS_INC(wg->dev, tx_dropped);
		wg_noise_keypair_put(keypair, false);
		kfree_skb(skb);
		return;
	}
	/* The lane holds the peer until it has kicked the serial stage. */
	wg_peer_get(peer);
	if (likely(wg_crypt_pool_submit(&wg->encrypt_pool, skb)))
		return;
	/* No lane has room: the serial stage drops it in its turn. */
	wg_set_verdict(skb, false);
	queue_work(wg->data_wq, &peer->transmit_packet_work);
	wg_peer_put(peer);
}

static void take_staged(struct wg_peer *peer, struct sk_buff_head *batch)
{
	__skb_queue_head_init(batch);
	spin_lock_bh(&peer->staged_packet_queue.lock);
	skb_queue_splice_init(&peer->staged_packet_queue, batch);
	spin_unlock_bh(&peer->staged_packet_queue.lock);
}

/* Back in front of whatever was staged meanwhile, in order. */
static void restage(struct wg_peer *peer, struct sk_buff_head *batch)
{
	spin_lock_bh(&peer->staged_packet_queue.lock);
	skb_queue_splice(batch, &peer->staged_packet_queue);
	spin_unlock_bh(&peer->staged_packet_queue.lock);
}

void wg_packet_send_staged_packets(struct wg_peer *peer)
{
	struct noise_keypair *keypair;
	struct sk_buff_head batch;
	struct sk_buff *skb;

	take_staged(peer, &batch);
	if (skb_queue_empty(&batch))
		return;

	keypair = session_for_sending(peer);
	if (unlikely(!keypair || !bind_to_session(&batch, keypair))) {
		/* They wait for the session a handshake brings. */
		restage(peer, &batch);
		wg_packet_send_queued_handshake_initiation(peer, false);
	} else {
		while ((skb = __skb_dequeue(&batch)))
			launch(peer, skb, keypair);
	}
	if (keypair)
		wg_noise_keypair_put(keypair, false);
}

void wg_packet_send_keepalive(struct wg_peer *peer)
{
	struct net_device *dev = peer->device->dev;
	struct sk_buff *skb;

	/* A staged packet tells the peer the same: that we are alive. */
	if (!skb_queue_empty_lockless(&peer->staged_packet_queue))
		goto flush;
	skb = alloc_skb(DATA_PACKET_HEAD_ROOM + MESSAGE_MINIMUM_LENGTH, GFP_ATOMIC);
	if (unlikely(!skb))
		return;
	skb_reserve(skb, DATA_PACKET_HEAD_ROOM);
	skb->dev = dev;
	skb->protocol = 0;	/* no inner packet: an empty payload */
	PACKET_CB(skb)->mtu = dev->mtu;
	skb_queue_tail(&peer->staged_packet_queue, skb);
	net_dbg_ratelimited("%s: sending keepalive to peer %llu\n",
			    dev->name, peer->internal_id);
flush:
	wg_packet_send_staged_packets(peer);
}

void wg_packet_purge_staged_packets(struct wg_peer *peer)
{
	struct sk_buff_head batch;

	take_staged(peer, &batch);
	DEV_STATS_ADD(peer->device->dev, tx_dropped, skb_queue_len(&batch));
	__skb_queue_purge(&batch);
}

/* --- seal: pad and encrypt, on any CPU ------------------------------------ */

/*
 * The plaintext is padded with zeros to a multiple of 16 bytes, which hides
 * its exact length, but never beyond the MTU, which would fragment it.
 */
static unsigned int padding_for(const struct sk_buff *skb)
{
	unsigned int mtu = PACKET_CB(skb)->mtu;
	unsigned int len = skb->len;
	unsigned int padded = ALIGN(len, MESSAGE_PADDING_MULTIPLE);

	if (!mtu)
		return padded - len;
	if (len >= mtu)
		return 0;
	return min(padded, mtu) - len;
}

static void push_data_header(struct sk_buff *skb,
			     const struct noise_keypair *keypair)
{
	struct message_data *hdr = skb_push(skb, sizeof(*hdr));

	hdr->header.type = cpu_to_le32(MESSAGE_DATA);
	hdr->key_idx = keypair->remote_index;
	hdr->counter = cpu_to_le64(PACKET_CB(skb)->nonce);
}

/* Turns the plaintext in @skb into a data message, in place. */
static bool seal(struct sk_buff *skb, struct scatterlist *sg)
{
	struct noise_keypair *keypair = PACKET_CB(skb)->keypair;
	unsigned int padding, sealed_len, tail;
	struct sk_buff *last;
	int nents;

	/* The tag covers the checksum: it must be final first. */
	if (skb->ip_summed == CHECKSUM_PARTIAL && skb_checksum_help(skb))
		return false;

	padding = padding_for(skb);
	sealed_len = skb->len + padding;
	tail = padding + noise_encrypted_len(0);
	nents = skb_cow_data(skb, tail, &last);
	if (unlikely(nents < 0 || nents > MAX_SKB_FRAGS + 8 ||
		     skb_cow_head(skb, DATA_PACKET_HEAD_ROOM)))
		return false;
	/* The zeros of the padding; the tag is written by encryption. */
	memset(skb_put(last, tail), 0, padding);
	push_data_header(skb, keypair);

	sg_init_table(sg, nents);
	if (skb_to_sgvec(skb, sg, sizeof(struct message_data),
			 noise_encrypted_len(sealed_len)) <= 0)
		return false;
	return chacha20poly1305_encrypt_sg_inplace(sg, sealed_len, NULL, 0,
						   PACKET_CB(skb)->nonce,
						   keypair->sending.key);
}

void wg_tx_encrypt_work(struct work_struct *work)
{
	struct scatterlist *sg = wg_crypt_lane_sg(work);
	struct sk_buff *skb;

	while ((skb = wg_crypt_lane_next(work))) {
		struct wg_peer *peer = PACKET_PEER(skb);

		/* After the verdict the packet is the serial stage's. */
		wg_set_verdict(skb, seal(skb, sg));
		queue_work(peer->device->data_wq, &peer->transmit_packet_work);
		wg_peer_put(peer);	/* the lane's, from launch() */
		cond_resched();
	}
}

/* --- send: in nonce order, from the peer's serial stage ------------------- */

static void transmit(struct wg_peer *peer, struct sk_buff *skb)
{
	unsigned int len = skb->len;

	wg_timers_note(peer, WG_TIMER_AUTH_SENT);
	/*
	 * Before the socket, not after: the send may run softirqs in which the
	 * answer already arrives, and "data sent" after "data received" would
	 * leave the new-handshake timer armed with nothing to cancel it.
	 */
	if (likely(len != message_data_len(0)))
		wg_timers_note(peer, WG_TIMER_DATA_SENT);
	/*
	 * The inner packet fit our MTU; the outer one may still not fit the
	 * path, and is fragmented then (IPv6 has no DF bit to clear, and
	 * skb_scrub_packet() cleared what the inner packet had).
	 */
	skb->ignore_df = 1;
	if (likely(!wg_socket_send(peer, skb, PACKET_CB(skb)->dsfield)))
		count_sent(peer, len);
}

/*
 * Sessions are renewed by use: after REKEY_AFTER_MESSAGES, and after
 * REKEY_AFTER_TIME by the initiator only (both at once would cross).
 */
static bool session_due_for_renewal(struct wg_peer *peer)
{
	struct noise_keypair *keypair;
	bool due = false;

	rcu_read_lock_bh();
	keypair = rcu_dereference_bh(peer->keypairs.current_keypair);
	if (likely(keypair && READ_ONCE(keypair->sending.is_valid)))
		due = atomic64_read(&keypair->sending_counter) > REKEY_AFTER_MESSAGES ||
		      (keypair->i_am_the_initiator &&
		       wg_birthdate_has_expired(keypair->sending.birthdate,
						REKEY_AFTER_TIME));
	rcu_read_unlock_bh();
	return due;
}

void wg_tx_serial_work(struct work_struct *work)
{
	struct wg_peer *peer = container_of(work, struct wg_peer,
					    transmit_packet_work);
	struct noise_keypair *keypair;
	struct sk_buff *skb;

	while ((skb = wg_serial_pop_done(&peer->tx_queue))) {
		keypair = PACKET_CB(skb)->keypair;
		if (likely(wg_verdict_good(skb))) {
			transmit(peer, skb);
		} else {
			DEV_STATS_INC(peer->device->dev, tx_errors);
			kfree_skb(skb);
		}
		wg_noise_keypair_put(keypair, false);
		cond_resched();
	}
	if (unlikely(session_due_for_renewal(peer)))
		wg_packet_send_queued_handshake_initiation(peer, false);
}

static void release_tx_packet(struct sk_buff *skb)
{
	struct noise_keypair *keypair = PACKET_CB(skb)->keypair;

	kfree_skb(skb);
	wg_noise_keypair_put(keypair, false);
}

void wg_tx_drop_pending(struct wg_peer *peer)
{
	wg_serial_drain(&peer->tx_queue, release_tx_packet);
}
