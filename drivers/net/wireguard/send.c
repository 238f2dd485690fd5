// SPDX-License-Identifier: GPL-2.0
/*
 * Sending: handshake messages, and data packets encrypted in parallel and
 * sent in order.
 *
 * A packet for a peer waits in the peer's staged queue until the peer has a
 * session.  Then each packet gets the next nonce of that session and goes
 * both on the peer's serial tx queue and on the device's encryption ring;
 * whichever CPU encrypts it marks it done, and the peer's transmit work
 * sends packets from the head of its queue once they are.
 */
#include <linux/scatterlist.h>
#include <net/dsfield.h>
#include <net/inet_ecn.h>
#include <net/ip_tunnels.h>

#include "cookie.h"
#include "device.h"
#include "messages.h"
#include "noise.h"
#include "peer.h"
#include "queueing.h"
#include "socket.h"
#include "timers.h"

static void send_handshake_initiation(struct wg_peer *peer)
{
	struct message_handshake_initiation packet;

	/* Another initiation went out less than REKEY_TIMEOUT ago. */
	if (!wg_birthdate_has_expired(atomic64_read(&peer->last_sent_handshake),
				      REKEY_TIMEOUT))
		return;
	atomic64_set(&peer->last_sent_handshake, ktime_get_coarse_boottime_ns());
	net_dbg_ratelimited("%s: sending handshake initiation to peer %llu\n",
			    peer->device->dev->name, peer->internal_id);

	if (!wg_noise_handshake_create_initiation(&packet, &peer->handshake))
		return;
	wg_cookie_add_mac_to_packet(&packet, sizeof(packet), peer);
	wg_timers_any_authenticated_packet_traversal(peer);
	wg_timers_any_authenticated_packet_sent(peer);
	atomic64_set(&peer->last_sent_handshake, ktime_get_coarse_boottime_ns());
	wg_socket_send_copy(peer, &packet, sizeof(packet), HANDSHAKE_DSCP);
	wg_timers_handshake_initiated(peer);
}

void wg_packet_handshake_send_worker(struct work_struct *work)
{
	struct wg_peer *peer = container_of(work, struct wg_peer,
					    transmit_handshake_work);

	send_handshake_initiation(peer);
	wg_peer_put(peer);
}

void wg_packet_send_queued_handshake_initiation(struct wg_peer *peer,
						bool is_retry)
{
	if (!is_retry)
		peer->timer_handshake_attempts = 0;

	rcu_read_lock_bh();
	/* Not again within REKEY_TIMEOUT, and never for a removed peer. */
	if (!wg_birthdate_has_expired(atomic64_read(&peer->last_sent_handshake),
				      REKEY_TIMEOUT) ||
	    unlikely(READ_ONCE(peer->is_dead)))
		goto out;

	wg_peer_get(peer);
	if (!queue_work(peer->device->handshake_send_wq,
			&peer->transmit_handshake_work))
		wg_peer_put(peer);	/* already queued */
out:
	rcu_read_unlock_bh();
}

void wg_packet_send_handshake_response(struct wg_peer *peer)
{
	struct message_handshake_response packet;

	atomic64_set(&peer->last_sent_handshake, ktime_get_coarse_boottime_ns());
	net_dbg_ratelimited("%s: sending handshake response to peer %llu\n",
			    peer->device->dev->name, peer->internal_id);

	if (!wg_noise_handshake_create_response(&packet, &peer->handshake))
		return;
	wg_cookie_add_mac_to_packet(&packet, sizeof(packet), peer);
	if (!wg_noise_handshake_begin_session(&peer->handshake, &peer->keypairs))
		return;
	wg_timers_session_derived(peer);
	wg_timers_any_authenticated_packet_traversal(peer);
	wg_timers_any_authenticated_packet_sent(peer);
	atomic64_set(&peer->last_sent_handshake, ktime_get_coarse_boottime_ns());
	wg_socket_send_copy(peer, &packet, sizeof(packet), HANDSHAKE_DSCP);
}

void wg_packet_send_handshake_cookie(struct wg_device *wg,
				     struct sk_buff *initiating_skb,
				     __le32 sender_index)
{
	struct message_handshake_cookie packet;

	net_dbg_ratelimited("%s: sending cookie reply\n", wg->dev->name);
	wg_cookie_message_create(&packet, initiating_skb, sender_index,
				 &wg->cookie_checker);
	wg_socket_reply(wg, initiating_skb, &packet, sizeof(packet));
}

/*
 * The initiator of a session renews it before it gets old; the responder
 * must not, or both would initiate at once.
 */
static void keep_key_fresh(struct wg_peer *peer)
{
	struct noise_keypair *keypair;
	bool send = false;

	rcu_read_lock_bh();
	keypair = rcu_dereference_bh(peer->keypairs.current_keypair);
	if (likely(keypair && READ_ONCE(keypair->sending.is_valid)) &&
	    (atomic64_read(&keypair->sending_counter) > REKEY_AFTER_MESSAGES ||
	     (keypair->i_am_the_initiator &&
	      wg_birthdate_has_expired(keypair->sending.birthdate,
				       REKEY_AFTER_TIME))))
		send = true;
	rcu_read_unlock_bh();

	if (unlikely(send))
		wg_packet_send_queued_handshake_initiation(peer, false);
}

/* Bytes of zero padding: up to a multiple of 16, but never beyond the MTU. */
static unsigned int padding_len(struct sk_buff *skb)
{
	unsigned int mtu = PACKET_CB(skb)->mtu;
	unsigned int last_unit = skb->len;
	unsigned int padded;

	if (unlikely(!mtu))
		return ALIGN(last_unit, MESSAGE_PADDING_MULTIPLE) - last_unit;
	/* A GSO segment's last piece is what gets padded. */
	if (unlikely(last_unit > mtu))
		last_unit %= mtu;
	padded = min(mtu, ALIGN(last_unit, MESSAGE_PADDING_MULTIPLE));
	return padded - last_unit;
}

static bool encrypt_packet(struct sk_buff *skb, struct noise_keypair *keypair)
{
	struct scatterlist sg[MAX_SKB_FRAGS + 8];
	unsigned int padding, plaintext_len, trailer_len;
	struct message_data *header;
	struct sk_buff *trailer;
	int num_frags;

	/* The checksum must be final before the payload is sealed. */
	if (skb->ip_summed == CHECKSUM_PARTIAL && skb_checksum_help(skb))
		return false;

	padding = padding_len(skb);
	trailer_len = padding + noise_encrypted_len(0);
	plaintext_len = skb->len + padding;

	num_frags = skb_cow_data(skb, trailer_len, &trailer);
	if (unlikely(num_frags < 0 || num_frags > ARRAY_SIZE(sg)))
		return false;
	if (unlikely(skb_cow_head(skb, DATA_PACKET_HEAD_ROOM)))
		return false;

	/* Zero padding, and room for the authentication tag after it. */
	memset(skb_put(trailer, trailer_len), 0, padding);

	header = skb_push(skb, sizeof(*header));
	header->header.type = cpu_to_le32(MESSAGE_DATA);
	header->key_idx = keypair->remote_index;
	header->counter = cpu_to_le64(PACKET_CB(skb)->nonce);

	sg_init_table(sg, num_frags);
	if (skb_to_sgvec(skb, sg, sizeof(*header),
			 noise_encrypted_len(plaintext_len)) <= 0)
		return false;
	return chacha20poly1305_encrypt_sg_inplace(sg, plaintext_len, NULL, 0,
						   PACKET_CB(skb)->nonce,
						   keypair->sending.key);
}

void wg_packet_encrypt_worker(struct work_struct *work)
{
	struct crypt_queue *queue = container_of(work, struct multicore_worker,
						 work)->ptr;
	struct sk_buff *skb;

	while ((skb = ptr_ring_consume_bh(&queue->ring)) != NULL) {
		struct wg_peer *peer = PACKET_PEER(skb);
		enum packet_state state = PACKET_STATE_CRYPTED;

		if (unlikely(!encrypt_packet(skb, PACKET_CB(skb)->keypair)))
			state = PACKET_STATE_DEAD;
		/* From here the peer's transmit work may take (and free) it. */
		atomic_set_release(&PACKET_CB(skb)->state, state);
		queue_work(peer->device->packet_crypt_wq,
			   &peer->transmit_packet_work);
		/* The reference taken when it was queued for us. */
		wg_peer_put(peer);
		cond_resched();
	}
}

static void send_encrypted(struct wg_peer *peer, struct sk_buff *skb)
{
	unsigned int len = skb->len;
	bool is_keepalive = len == message_data_len(0);

	wg_timers_any_authenticated_packet_traversal(peer);
	wg_timers_any_authenticated_packet_sent(peer);
	if (unlikely(wg_socket_send(peer, skb, PACKET_CB(skb)->ds)))
		return;
	WRITE_ONCE(peer->tx_bytes, READ_ONCE(peer->tx_bytes) + len);
	if (likely(!is_keepalive)) {
		DEV_STATS_INC(peer->device->dev, tx_packets);
		DEV_STATS_ADD(peer->device->dev, tx_bytes, len);
		wg_timers_data_sent(peer);
	}
}

void wg_packet_tx_worker(struct work_struct *work)
{
	struct wg_peer *peer = container_of(work, struct wg_peer,
					    transmit_packet_work);
	struct noise_keypair *keypair;
	struct sk_buff *skb;

	while ((skb = wg_serial_queue_dequeue_ready(&peer->tx_queue)) != NULL) {
		keypair = PACKET_CB(skb)->keypair;
		if (likely(atomic_read(&PACKET_CB(skb)->state) == PACKET_STATE_CRYPTED)) {
			send_encrypted(peer, skb);
		} else {
			DEV_STATS_INC(peer->device->dev, tx_errors);
			kfree_skb(skb);
		}
		wg_noise_keypair_put(keypair, false);
		cond_resched();
	}
	keep_key_fresh(peer);
}

/* Hands one packet with its nonce to the crypto workers, in order. */
static void queue_for_encryption(struct wg_peer *peer, struct sk_buff *skb,
				 struct noise_keypair *keypair)
{
	struct wg_device *wg = peer->device;
	int cpu;

	/* Our caller holds a reference, so one more cannot race the last put. */
	kref_get(&keypair->refcount);
	PACKET_CB(skb)->keypair = keypair;
	atomic_set(&PACKET_CB(skb)->state, PACKET_STATE_UNCRYPTED);
	if (unlikely(!wg_serial_queue_enqueue(&peer->tx_queue, skb))) {
		wg_noise_keypair_put(keypair, false);
		DEV_STATS_INC(wg->dev, tx_dropped);
		kfree_skb(skb);
		return;
	}
	/* Dropped by the encryption worker once it is done with it. */
	wg_peer_get(peer);
	if (unlikely(ptr_ring_produce_bh(&wg->encrypt_queue.ring, skb))) {
		/* The transmit work frees it, in its turn. */
		atomic_set_release(&PACKET_CB(skb)->state, PACKET_STATE_DEAD);
		queue_work(wg->packet_crypt_wq, &peer->transmit_packet_work);
		wg_peer_put(peer);
		return;
	}
	cpu = wg_cpumask_next_online(&wg->encrypt_queue.last_cpu);
	queue_work_on(cpu, wg->packet_crypt_wq,
		      &per_cpu_ptr(wg->encrypt_queue.worker, cpu)->work);
}

/* The current session if it may still send, referenced. */
static struct noise_keypair *sending_keypair(struct wg_peer *peer)
{
	struct noise_keypair *keypair;

	rcu_read_lock_bh();
	keypair = wg_noise_keypair_get(rcu_dereference_bh(peer->keypairs.current_keypair));
	rcu_read_unlock_bh();
	if (!keypair)
		return NULL;
	if (unlikely(!READ_ONCE(keypair->sending.is_valid) ||
		     wg_birthdate_has_expired(keypair->sending.birthdate,
					      REJECT_AFTER_TIME))) {
		WRITE_ONCE(keypair->sending.is_valid, false);
		wg_noise_keypair_put(keypair, false);
		return NULL;
	}
	return keypair;
}

void wg_packet_send_staged_packets(struct wg_peer *peer)
{
	struct noise_keypair *keypair;
	struct sk_buff_head packets;
	struct sk_buff *skb;

	__skb_queue_head_init(&packets);
	spin_lock_bh(&peer->staged_packet_queue.lock);
	skb_queue_splice_init(&peer->staged_packet_queue, &packets);
	spin_unlock_bh(&peer->staged_packet_queue.lock);
	if (skb_queue_empty(&packets))
		return;

	keypair = sending_keypair(peer);
	if (!keypair)
		goto no_session;

	/* Nonces first, so that running out of them leaves nothing half-sent. */
	skb_queue_walk(&packets, skb) {
		PACKET_CB(skb)->ds = ip_tunnel_ecn_encap(0, ip_hdr(skb), skb);
		PACKET_CB(skb)->nonce = atomic64_inc_return(&keypair->sending_counter) - 1;
		if (unlikely(PACKET_CB(skb)->nonce >= REJECT_AFTER_MESSAGES)) {
			WRITE_ONCE(keypair->sending.is_valid, false);
			wg_noise_keypair_put(keypair, false);
			goto no_session;
		}
	}
	while ((skb = __skb_dequeue(&packets)) != NULL) {
		wg_reset_packet(skb, true);
		queue_for_encryption(peer, skb, keypair);
	}
	wg_noise_keypair_put(keypair, false);
	return;

no_session:
	/* Back in front of anything staged meanwhile, and get a session. */
	spin_lock_bh(&peer->staged_packet_queue.lock);
	skb_queue_splice(&packets, &peer->staged_packet_queue);
	spin_unlock_bh(&peer->staged_packet_queue.lock);
	wg_packet_send_queued_handshake_initiation(peer, false);
}

void wg_packet_send_keepalive(struct wg_peer *peer)
{
	struct sk_buff *skb;

	/* Anything staged will carry the same news. */
	if (skb_queue_empty_lockless(&peer->staged_packet_queue)) {
		skb = alloc_skb(DATA_PACKET_HEAD_ROOM + MESSAGE_MINIMUM_LENGTH,
				GFP_ATOMIC);
		if (unlikely(!skb))
			return;
		skb_reserve(skb, DATA_PACKET_HEAD_ROOM);
		skb->dev = peer->device->dev;
		skb->protocol = 0;
		PACKET_CB(skb)->mtu = skb->dev->mtu;
		skb_queue_tail(&peer->staged_packet_queue, skb);
		net_dbg_ratelimited("%s: sending keepalive to peer %llu\n",
				    peer->device->dev->name, peer->internal_id);
	}
	wg_packet_send_staged_packets(peer);
}

void wg_packet_purge_staged_packets(struct wg_peer *peer)
{
	spin_lock_bh(&peer->staged_packet_queue.lock);
	DEV_STATS_ADD(peer->device->dev, tx_dropped,
		      skb_queue_len(&peer->staged_packet_queue));
	__skb_queue_purge(&peer->staged_packet_queue);
	spin_unlock_bh(&peer->staged_packet_queue.lock);
}

static void release_tx_packet(struct sk_buff *skb)
{
	struct noise_keypair *keypair = PACKET_CB(skb)->keypair;

	kfree_skb(skb);
	wg_noise_keypair_put(keypair, false);
}

void wg_packet_purge_tx_queue(struct wg_peer *peer)
{
	wg_serial_queue_purge(&peer->tx_queue, release_tx_packet);
}
