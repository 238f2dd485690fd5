// SPDX-License-Identifier: GPL-2.0
/*
 * Receiving: handshake messages on a workqueue, data packets decrypted in
 * parallel and delivered in order through the peer's NAPI.
 *
 * Nothing in a packet is trusted before it is authenticated: a message is
 * checked for its exact size, a handshake for its MACs, and a data packet is
 * decrypted before its counter, its inner headers and its source address
 * (against the peer's allowed IPs) are looked at.
 */
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/scatterlist.h>
#include <linux/udp.h>
#include <net/inet_ecn.h>
#include <net/ip_tunnels.h>

#include "allowedips.h"
#include "cookie.h"
#include "device.h"
#include "messages.h"
#include "noise.h"
#include "peer.h"
#include "queueing.h"
#include "socket.h"
#include "timers.h"

/* The message type at skb->data, once its exact size has been checked. */
static enum message_type message_type_of(struct sk_buff *skb)
{
	unsigned int len = skb->len;
	__le32 type;

	if (unlikely(len < sizeof(struct message_header) ||
		     skb_copy_bits(skb, 0, &type, sizeof(type))))
		return MESSAGE_INVALID;
	switch (le32_to_cpu(type)) {
	case MESSAGE_HANDSHAKE_INITIATION:
		if (len == sizeof(struct message_handshake_initiation))
			return MESSAGE_HANDSHAKE_INITIATION;
		break;
	case MESSAGE_HANDSHAKE_RESPONSE:
		if (len == sizeof(struct message_handshake_response))
			return MESSAGE_HANDSHAKE_RESPONSE;
		break;
	case MESSAGE_HANDSHAKE_COOKIE:
		if (len == sizeof(struct message_handshake_cookie))
			return MESSAGE_HANDSHAKE_COOKIE;
		break;
	case MESSAGE_DATA:
		if (len >= MESSAGE_MINIMUM_LENGTH)
			return MESSAGE_DATA;
		break;
	}
	return MESSAGE_INVALID;
}

/* Whether the device is busy enough with handshakes to ask for cookies. */
static bool handshakes_under_load(struct wg_device *wg)
{
	bool under_load;

	under_load = atomic_read(&wg->handshake_queue_len) >=
		     MAX_QUEUED_INCOMING_HANDSHAKES / 8;
	if (under_load) {
		WRITE_ONCE(wg->last_under_load, jiffies);
		return true;
	}
	/* Stay in that mode for a second, so that it does not flap. */
	return time_is_after_jiffies(READ_ONCE(wg->last_under_load) + HZ);
}

static void receive_handshake(struct wg_device *wg, struct sk_buff *skb)
{
	enum message_type type = message_type_of(skb);
	enum cookie_mac_state mac_state;
	struct wg_peer *peer = NULL;
	bool needs_cookie, under_load;

	if (type == MESSAGE_HANDSHAKE_COOKIE) {
		net_dbg_ratelimited("%s: receiving cookie response\n",
				    wg->dev->name);
		wg_cookie_message_consume((struct message_handshake_cookie *)skb->data,
					  wg);
		return;
	}

	under_load = handshakes_under_load(wg);
	mac_state = wg_cookie_validate_packet(&wg->cookie_checker, skb,
					      under_load);
	if ((under_load && mac_state == VALID_MAC_WITH_COOKIE) ||
	    (!under_load && mac_state == VALID_MAC_BUT_NO_COOKIE)) {
		needs_cookie = false;
	} else if (under_load && mac_state == VALID_MAC_BUT_NO_COOKIE) {
		needs_cookie = true;
	} else {
		net_dbg_ratelimited("%s: invalid MAC on handshake message\n",
				    wg->dev->name);
		DEV_STATS_INC(wg->dev, rx_errors);
		return;
	}

	if (type == MESSAGE_HANDSHAKE_INITIATION) {
		struct message_handshake_initiation *msg = (void *)skb->data;

		if (needs_cookie) {
			wg_packet_send_handshake_cookie(wg, skb, msg->sender_index);
			return;
		}
		peer = wg_noise_handshake_consume_initiation(msg, wg);
		if (unlikely(!peer)) {
			net_dbg_ratelimited("%s: invalid handshake initiation\n",
					    wg->dev->name);
			DEV_STATS_INC(wg->dev, rx_errors);
			return;
		}
		wg_endpoints_learn_from_skb(peer, skb);
		wg_packet_send_handshake_response(peer);
	} else {
		struct message_handshake_response *msg = (void *)skb->data;

		if (needs_cookie) {
			wg_packet_send_handshake_cookie(wg, skb, msg->sender_index);
			return;
		}
		peer = wg_noise_handshake_consume_response(msg, wg);
		if (unlikely(!peer)) {
			net_dbg_ratelimited("%s: invalid handshake response\n",
					    wg->dev->name);
			DEV_STATS_INC(wg->dev, rx_errors);
			return;
		}
		wg_endpoints_learn_from_skb(peer, skb);
		if (wg_noise_handshake_begin_session(&peer->handshake,
						     &peer->keypairs)) {
			wg_timers_session_derived(peer);
			wg_timers_handshake_complete(peer);
			/*
			 * The responder may only use the session once we did:
			 * confirm it now rather than with the next data.
			 */
			wg_packet_send_keepalive(peer);
		}
	}

	WRITE_ONCE(peer->rx_bytes, READ_ONCE(peer->rx_bytes) + skb->len);
	wg_timers_any_authenticated_packet_received(peer);
	wg_timers_any_authenticated_packet_traversal(peer);
	wg_peer_put(peer);
}

void wg_packet_handshake_receive_worker(struct work_struct *work)
{
	struct crypt_queue *queue = container_of(work, struct multicore_worker,
						 work)->ptr;
	struct wg_device *wg = container_of(queue, struct wg_device,
					    handshake_queue);
	struct sk_buff *skb;

	while ((skb = ptr_ring_consume_bh(&queue->ring)) != NULL) {
		receive_handshake(wg, skb);
		dev_kfree_skb(skb);
		atomic_dec(&wg->handshake_queue_len);
		cond_resched();
	}
}

static bool decrypt_packet(struct sk_buff *skb, struct noise_keypair *keypair)
{
	struct scatterlist sg[MAX_SKB_FRAGS + 8];
	struct sk_buff *trailer;
	unsigned int offset;
	int num_frags;

	if (unlikely(!keypair))
		return false;
	if (unlikely(!READ_ONCE(keypair->receiving.is_valid) ||
		     wg_birthdate_has_expired(keypair->receiving.birthdate,
					      REJECT_AFTER_TIME) ||
		     READ_ONCE(keypair->receiving_counter.counter) >=
			     REJECT_AFTER_MESSAGES)) {
		WRITE_ONCE(keypair->receiving.is_valid, false);
		return false;
	}

	PACKET_CB(skb)->nonce =
		le64_to_cpu(((struct message_data *)skb->data)->counter);

	/* The outer headers stay in front, for the endpoint. */
	offset = skb->data - skb_network_header(skb);
	skb_push(skb, offset);
	num_frags = skb_cow_data(skb, 0, &trailer);
	offset += sizeof(struct message_data);
	skb_pull(skb, offset);
	if (unlikely(num_frags < 0 || num_frags > ARRAY_SIZE(sg)))
		return false;

	sg_init_table(sg, num_frags);
	if (skb_to_sgvec(skb, sg, 0, skb->len) <= 0)
		return false;
	if (!chacha20poly1305_decrypt_sg_inplace(sg, skb->len, NULL, 0,
						 PACKET_CB(skb)->nonce,
						 keypair->receiving.key))
		return false;

	/* Another packet's headers may share the data: be sure ours is ours. */
	skb_push(skb, offset);
	if (pskb_trim(skb, skb->len - noise_encrypted_len(0)))
		return false;
	skb_pull(skb, offset);
	return true;
}

void wg_packet_decrypt_worker(struct work_struct *work)
{
	struct crypt_queue *queue = container_of(work, struct multicore_worker,
						 work)->ptr;
	struct sk_buff *skb;

	while ((skb = ptr_ring_consume_bh(&queue->ring)) != NULL) {
		struct wg_peer *peer = wg_peer_get(PACKET_PEER(skb));
		enum packet_state state = PACKET_STATE_CRYPTED;

		if (unlikely(!decrypt_packet(skb, PACKET_CB(skb)->keypair)))
			state = PACKET_STATE_DEAD;
		/* From here NAPI may take (and free) it. */
		atomic_set_release(&PACKET_CB(skb)->state, state);
		local_bh_disable();
		napi_schedule(&peer->napi);
		local_bh_enable();
		wg_peer_put(peer);
		cond_resched();
	}
}

/* Drops what a received packet holds: its session and peer references. */
static void release_rx_packet(struct sk_buff *skb)
{
	struct noise_keypair *keypair = PACKET_CB(skb)->keypair;
	struct wg_peer *peer = PACKET_PEER(skb);

	dev_kfree_skb(skb);
	wg_noise_keypair_put(keypair, false);
	wg_peer_put(peer);
}

static void consume_data(struct wg_device *wg, struct sk_buff *skb)
{
	__le32 idx = ((struct message_data *)skb->data)->key_idx;
	struct index_hashtable_entry *entry;
	struct noise_keypair *keypair;
	struct wg_peer *peer = NULL;
	int cpu;

	rcu_read_lock_bh();
	entry = wg_index_hashtable_lookup(wg->index_hashtable,
					  INDEX_HASHTABLE_KEYPAIR, idx, &peer);
	keypair = entry ? wg_noise_keypair_get(container_of(entry,
							    struct noise_keypair,
							    entry)) : NULL;
	rcu_read_unlock_bh();
	if (unlikely(!keypair)) {
		wg_peer_put(peer);
		DEV_STATS_INC(wg->dev, rx_dropped);
		dev_kfree_skb(skb);
		return;
	}

	/* The peer reference from the lookup goes with the packet. */
	PACKET_CB(skb)->keypair = keypair;
	atomic_set(&PACKET_CB(skb)->state, PACKET_STATE_UNCRYPTED);
	if (unlikely(READ_ONCE(peer->is_dead) ||
		     !wg_serial_queue_enqueue(&peer->rx_queue, skb))) {
		DEV_STATS_INC(wg->dev, rx_dropped);
		release_rx_packet(skb);
		return;
	}
	if (unlikely(ptr_ring_produce_bh(&wg->decrypt_queue.ring, skb))) {
		/* NAPI frees it, in its turn. */
		atomic_set_release(&PACKET_CB(skb)->state, PACKET_STATE_DEAD);
		napi_schedule(&peer->napi);
		return;
	}
	cpu = wg_cpumask_next_online(&wg->decrypt_queue.last_cpu);
	queue_work_on(cpu, wg->packet_crypt_wq,
		      &per_cpu_ptr(wg->decrypt_queue.worker, cpu)->work);
}

static void queue_handshake(struct wg_device *wg, struct sk_buff *skb)
{
	int cpu;

	if (atomic_read(&wg->handshake_queue_len) >= MAX_QUEUED_INCOMING_HANDSHAKES ||
	    ptr_ring_produce_bh(&wg->handshake_queue.ring, skb)) {
		net_dbg_ratelimited("%s: dropping handshake packet, queue full\n",
				    wg->dev->name);
		DEV_STATS_INC(wg->dev, rx_dropped);
		dev_kfree_skb(skb);
		return;
	}
	atomic_inc(&wg->handshake_queue_len);
	cpu = wg_cpumask_next_online(&wg->handshake_queue.last_cpu);
	queue_work_on(cpu, wg->handshake_receive_wq,
		      &per_cpu_ptr(wg->handshake_queue.worker, cpu)->work);
}

void wg_packet_receive(struct wg_device *wg, struct sk_buff *skb)
{
	enum message_type type;

	/* Handshakes are read in place; only data may stay non-linear. */
	if (unlikely(!pskb_may_pull(skb, min_t(unsigned int, skb->len,
					       sizeof(struct message_handshake_initiation)))))
		goto drop;
	type = message_type_of(skb);
	switch (type) {
	case MESSAGE_HANDSHAKE_INITIATION:
	case MESSAGE_HANDSHAKE_RESPONSE:
	case MESSAGE_HANDSHAKE_COOKIE:
		if (unlikely(skb_linearize(skb)))
			goto drop;
		queue_handshake(wg, skb);
		return;
	case MESSAGE_DATA:
		PACKET_CB(skb)->ds = ip_hdr(skb)->version == 4 ?
				     ipv4_get_dsfield(ip_hdr(skb)) :
				     ipv6_get_dsfield(ipv6_hdr(skb));
		consume_data(wg, skb);
		return;
	default:
		break;
	}
drop:
	net_dbg_ratelimited("%s: dropping invalid packet\n", wg->dev->name);
	DEV_STATS_INC(wg->dev, rx_errors);
	dev_kfree_skb(skb);
}

/* The inner packet's own length, or 0 when its header is not sane. */
static unsigned int inner_packet_len(struct sk_buff *skb)
{
	if (skb->protocol == htons(ETH_P_IP)) {
		unsigned int len;

		if (unlikely(!pskb_may_pull(skb, sizeof(struct iphdr)) ||
			     ip_hdr(skb)->ihl < 5))
			return 0;
		/* A packet shorter than its own header is not one. */
		len = ntohs(ip_hdr(skb)->tot_len);
		return len >= ip_hdr(skb)->ihl * 4 ? len : 0;
	}
	if (unlikely(!pskb_may_pull(skb, sizeof(struct ipv6hdr))))
		return 0;
	return ntohs(ipv6_hdr(skb)->payload_len) + sizeof(struct ipv6hdr);
}

/* A decrypted data packet in order: account for it and hand it up. */
static void deliver_data(struct wg_peer *peer, struct sk_buff *skb)
{
	struct net_device *dev = peer->device->dev;
	unsigned int len, len_before_trim;
	struct wg_peer *routed_peer;

	len_before_trim = skb->len;
	WRITE_ONCE(peer->rx_bytes, READ_ONCE(peer->rx_bytes) +
		   message_data_len(len_before_trim));

	if (!skb->len) {	/* a keepalive */
		net_dbg_ratelimited("%s: received keepalive from peer %llu\n",
				    dev->name, peer->internal_id);
		dev_kfree_skb(skb);
		return;
	}
	wg_timers_data_received(peer);

	skb_reset_network_header(skb);
	skb->protocol = wg_examine_packet_protocol(skb);
	if (unlikely(!skb->protocol))
		goto frame_error;
	len = inner_packet_len(skb);
	if (unlikely(!len || len > skb->len || pskb_trim(skb, len)))
		goto frame_error;
	skb_reset_transport_header(skb);

	/* The peer may only speak for the addresses it is allowed. */
	routed_peer = wg_allowedips_lookup_src(&peer->device->peer_allowedips, skb);
	wg_peer_put(routed_peer);
	if (unlikely(routed_peer != peer)) {
		net_dbg_ratelimited("%s: packet from peer %llu with a source it is not allowed\n",
				    dev->name, peer->internal_id);
		DEV_STATS_INC(dev, rx_errors);
		DEV_STATS_INC(dev, rx_frame_errors);
		dev_kfree_skb(skb);
		return;
	}

	skb->dev = dev;
	/* Authenticated: no checksum can have been damaged in transit. */
	skb->ip_summed = CHECKSUM_UNNECESSARY;
	skb->csum_level = ~0;
	skb->pkt_type = PACKET_HOST;
	if (skb->protocol == htons(ETH_P_IP))
		INET_ECN_decapsulate(skb, PACKET_CB(skb)->ds, ip_hdr(skb)->tos);
	else
		INET_ECN_decapsulate(skb, PACKET_CB(skb)->ds,
				     ipv6_get_dsfield(ipv6_hdr(skb)));
	DEV_STATS_INC(dev, rx_packets);
	DEV_STATS_ADD(dev, rx_bytes, len);
	napi_gro_receive(&peer->napi, skb);
	return;

frame_error:
	DEV_STATS_INC(dev, rx_errors);
	DEV_STATS_INC(dev, rx_length_errors);
	dev_kfree_skb(skb);
}

static void keep_key_fresh_on_receive(struct wg_peer *peer,
				      struct noise_keypair *keypair)
{
	/*
	 * The initiator renews a session that is about to become unusable,
	 * once, even when it has nothing to send: it may be the only one
	 * that can.
	 */
	if (keypair->i_am_the_initiator && !READ_ONCE(peer->sent_lastminute_handshake) &&
	    wg_birthdate_has_expired(keypair->receiving.birthdate,
				     REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT - REKEY_TIMEOUT)) {
		WRITE_ONCE(peer->sent_lastminute_handshake, true);
		wg_packet_send_queued_handshake_initiation(peer, false);
	}
}

/* One packet from the head of the peer's queue; consumes it. */
static void receive_in_order(struct wg_peer *peer, struct sk_buff *skb)
{
	struct noise_keypair *keypair = PACKET_CB(skb)->keypair;
	struct wg_path path;

	if (unlikely(atomic_read(&PACKET_CB(skb)->state) != PACKET_STATE_CRYPTED))
		goto drop;
	if (unlikely(!wg_noise_counter_validate(&keypair->receiving_counter,
						PACKET_CB(skb)->nonce))) {
		net_dbg_ratelimited("%s: replayed or too old packet from peer %llu\n",
				    peer->device->dev->name, peer->internal_id);
		goto drop;
	}
	if (unlikely(wg_path_from_skb(&path, skb)))
		goto drop;

	/* Authenticated and new: only now may it change anything. */
	if (wg_noise_received_with_keypair(&peer->keypairs, keypair)) {
		wg_timers_handshake_complete(peer);
		wg_packet_send_staged_packets(peer);
	}
	keep_key_fresh_on_receive(peer, keypair);
	wg_timers_any_authenticated_packet_received(peer);
	wg_timers_any_authenticated_packet_traversal(peer);
	wg_endpoints_learn(peer, &path);

	wg_reset_packet(skb, false);
	deliver_data(peer, skb);
	wg_noise_keypair_put(keypair, false);
	wg_peer_put(peer);
	return;

drop:
	DEV_STATS_INC(peer->device->dev, rx_dropped);
	release_rx_packet(skb);
}

int wg_packet_rx_poll(struct napi_struct *napi, int budget)
{
	struct wg_peer *peer = container_of(napi, struct wg_peer, napi);
	struct sk_buff *skb;
	int work_done = 0;

	if (unlikely(budget <= 0))
		return 0;
	while (work_done < budget &&
	       (skb = wg_serial_queue_dequeue_ready(&peer->rx_queue)) != NULL) {
		/* The packet's own peer reference: take ours before it goes. */
		wg_peer_get(peer);
		receive_in_order(peer, skb);
		wg_peer_put(peer);
		++work_done;
	}
	if (work_done < budget)
		napi_complete_done(napi, work_done);
	return work_done;
}

void wg_packet_purge_rx_queue(struct wg_peer *peer)
{
	wg_serial_queue_purge(&peer->rx_queue, release_rx_packet);
}
