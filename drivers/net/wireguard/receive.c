// SPDX-License-Identifier: GPL-2.0
/*
 * The receive pipeline, from the UDP socket's encap_rcv (socket.c):
 *
 *   sort      wg_packet_receive: by message type and exact size; handshakes
 *             to the handshake lanes, data to the session its index names,
 *             onto that peer's serial queue and to the decryption lanes
 *   admit     wg_rx_handshake_work: MACs and cookies decide whether a
 *             handshake is worth its Curve25519; then the noise state
 *   open      wg_rx_decrypt_work: any CPU decrypts, in any order
 *   deliver   wg_rx_napi_poll: the peer's NAPI takes packets from the head
 *             of its queue in arrival order, checks the nonce against
 *             replay, and only then lets the packet change anything: the
 *             session, the timers, the endpoint, the stack
 *
 * Nothing in a packet is trusted before it is authenticated; the inner
 * source address must be one the peer is allowed.
 */
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <net/inet_ecn.h>

#include "allowedips.h"
#include "cookie.h"
#include "device.h"
#include "messages.h"
#include "noise.h"
#include "peer.h"
#include "queueing.h"
#include "socket.h"
#include "timers.h"

/*
 * An authenticated message from the peer, handshake or data (keepalives
 * too): its length as a UDP payload counts in the peer's transfer counters
 * and in the device's statistics alike, as the stock module counts.
 */
static void count_received(struct wg_peer *peer, unsigned int len)
{
	wg_add_transfer(&peer->rx_bytes, len);
	local_bh_disable();
	dev_sw_netstats_rx_add(peer->device->dev, len);
	local_bh_enable();
}

/* --- sort --------------------------------------------------------------- */

/* Each message type has one exact size; data has a minimum. */
static enum message_type message_type_of(struct sk_buff *skb)
{
	static const unsigned int exact_len[] = {
		[MESSAGE_HANDSHAKE_INITIATION] = sizeof(struct message_handshake_initiation),
		[MESSAGE_HANDSHAKE_RESPONSE] = sizeof(struct message_handshake_response),
		[MESSAGE_HANDSHAKE_COOKIE] = sizeof(struct message_handshake_cookie),
	};
	__le32 word;
	u32 type;

	if (unlikely(skb->len < sizeof(struct message_header) ||
		     skb_copy_bits(skb, 0, &word, sizeof(word))))
		return MESSAGE_INVALID;
	type = le32_to_cpu(word);
	if (type == MESSAGE_DATA)
		return skb->len >= MESSAGE_MINIMUM_LENGTH ? MESSAGE_DATA : MESSAGE_INVALID;
	if (type < ARRAY_SIZE(exact_len) && exact_len[type] &&
	    skb->len == exact_len[type])
		return type;
	return MESSAGE_INVALID;
}

static void queue_handshake(struct wg_device *wg, struct sk_buff *skb)
{
	if (likely(atomic_read(&wg->handshake_pool.backlog) <
		   MAX_QUEUED_INCOMING_HANDSHAKES &&
		   wg_crypt_pool_submit(&wg->handshake_pool, skb)))
		return;
	net_dbg_ratelimited("%s: dropping handshake packet, queue full\n",
			    wg->dev->name);
	DEV_STATS_INC(wg->dev, rx_dropped);
	dev_kfree_skb(skb);
}

/* Drops what a queued data packet holds: its session and peer references. */
static void release_rx_packet(struct sk_buff *skb)
{
	struct noise_keypair *keypair = PACKET_CB(skb)->keypair;
	struct wg_peer *peer = PACKET_PEER(skb);

	dev_kfree_skb(skb);
	wg_noise_keypair_put(keypair, false);
	wg_peer_put(peer);
}

/* The session the message's receiver index names, and its peer, referenced. */
static struct noise_keypair *session_for_index(struct wg_device *wg,
					       struct sk_buff *skb,
					       struct wg_peer **peer)
{
	__le32 index = ((struct message_data *)skb->data)->key_idx;
	struct noise_keypair *keypair = NULL;
	struct wg_index *entry;

	*peer = NULL;
	rcu_read_lock_bh();
	entry = wg_index_find(wg->directory, index, WG_INDEX_SESSION, peer);
	if (entry)
		keypair = wg_noise_keypair_get(container_of(entry, struct noise_keypair,
							    entry));
	rcu_read_unlock_bh();
	return keypair;
}

static void queue_data(struct wg_device *wg, struct sk_buff *skb)
{
	struct noise_keypair *keypair;
	struct wg_peer *peer;

	keypair = session_for_index(wg, skb, &peer);
	if (unlikely(!keypair)) {
		wg_peer_put(peer);
		DEV_STATS_INC(wg->dev, rx_dropped);
		dev_kfree_skb(skb);
		return;
	}
	/* Both references now travel with the packet. */
	PACKET_CB(skb)->keypair = keypair;
	if (unlikely(READ_ONCE(peer->is_dead) ||
		     !wg_serial_append(&peer->rx_queue, skb))) {
		DEV_STATS_INC(wg->dev, rx_dropped);
		release_rx_packet(skb);
		return;
	}
	if (likely(wg_crypt_pool_submit(&wg->decrypt_pool, skb)))
		return;
	/* No lane has room: NAPI drops it in its turn. */
	wg_set_verdict(skb, false);
	napi_schedule(&peer->napi);
}

static u8 outer_dsfield(struct sk_buff *skb)
{
	if (ip_hdr(skb)->version == 4)
		return ipv4_get_dsfield(ip_hdr(skb));
	return ipv6_get_dsfield(ipv6_hdr(skb));
}

void wg_packet_receive(struct wg_device *wg, struct sk_buff *skb)
{
	unsigned int head = min_t(unsigned int, skb->len,
				  sizeof(struct message_handshake_initiation));

	/* Enough in the linear part for any handshake; data may stay paged. */
	if (unlikely(!pskb_may_pull(skb, head)))
		goto invalid;
	switch (message_type_of(skb)) {
	case MESSAGE_HANDSHAKE_INITIATION:
	case MESSAGE_HANDSHAKE_RESPONSE:
	case MESSAGE_HANDSHAKE_COOKIE:
		if (unlikely(skb_linearize(skb)))
			goto invalid;
		queue_handshake(wg, skb);
		return;
	case MESSAGE_DATA:
		PACKET_CB(skb)->dsfield = outer_dsfield(skb);
		queue_data(wg, skb);
		return;
	default:
		goto invalid;
	}

invalid:
	net_dbg_ratelimited("%s: dropping invalid packet\n", wg->dev->name);
	DEV_STATS_INC(wg->dev, rx_errors);
	dev_kfree_skb(skb);
}

/* --- admit: handshake messages ---------------------------------------------- */

enum admission { ADMIT, ASK_FOR_COOKIE, REFUSE };

/*
 * Whether the device has so many handshakes waiting that senders must
 * prove their address with a cookie first; once so, for a second at least,
 * so that the mode does not flap.
 */
static bool handshakes_under_load(struct wg_device *wg)
{
	if (atomic_read(&wg->handshake_pool.backlog) >=
	    MAX_QUEUED_INCOMING_HANDSHAKES / 8) {
		WRITE_ONCE(wg->last_under_load, jiffies);
		return true;
	}
	return time_is_after_jiffies(READ_ONCE(wg->last_under_load) + HZ);
}

/* A valid MAC1 always; under load also a valid MAC2, within the rate limit. */
static enum admission admit_handshake(struct wg_device *wg, struct sk_buff *skb)
{
	bool busy = handshakes_under_load(wg);

	switch (wg_cookie_check(wg, skb, busy)) {
	case WG_MACS_ACCEPT:
		return ADMIT;
	case WG_MACS_NEED_COOKIE:
		return ASK_FOR_COOKIE;
	default:
		return REFUSE;
	}
}

static struct wg_peer *accept_initiation(struct wg_device *wg,
					 struct sk_buff *skb)
{
	struct wg_peer *peer;

	peer = wg_noise_handshake_consume_initiation((void *)skb->data, wg);
	if (unlikely(!peer))
		return NULL;
	wg_endpoints_learn_from_skb(peer, skb);
	wg_tx_handshake_response(peer);
	return peer;
}

static struct wg_peer *accept_response(struct wg_device *wg,
				       struct sk_buff *skb)
{
	struct wg_peer *peer;

	peer = wg_noise_handshake_consume_response((void *)skb->data, wg);
	if (unlikely(!peer))
		return NULL;
	wg_endpoints_learn_from_skb(peer, skb);
	if (wg_noise_handshake_begin_session(&peer->handshake, &peer->keypairs)) {
		wg_timers_note(peer, WG_TIMER_SESSION_DERIVED);
		wg_timers_note(peer, WG_TIMER_HANDSHAKE_DONE);
		/*
		 * The responder may use the session only once it has heard
		 * from us on it: tell it now, not with the next data.
		 */
		wg_packet_send_keepalive(peer);
	}
	return peer;
}

static void receive_handshake(struct wg_device *wg, struct sk_buff *skb)
{
	enum message_type type = message_type_of(skb);
	struct wg_peer *peer;
	__le32 sender;

	if (type == MESSAGE_HANDSHAKE_COOKIE) {
		net_dbg_ratelimited("%s: receiving cookie response\n", wg->dev->name);
		wg_cookie_reply_take(wg, (void *)skb->data);
		return;
	}

	switch (admit_handshake(wg, skb)) {
	case ADMIT:
		break;
	case ASK_FOR_COOKIE:
		sender = type == MESSAGE_HANDSHAKE_INITIATION ?
			 ((struct message_handshake_initiation *)skb->data)->sender_index :
			 ((struct message_handshake_response *)skb->data)->sender_index;
		wg_tx_cookie_reply(wg, skb, sender);
		return;
	case REFUSE:
		net_dbg_ratelimited("%s: invalid MAC on handshake message\n",
				    wg->dev->name);
		DEV_STATS_INC(wg->dev, rx_errors);
		return;
	}

	peer = type == MESSAGE_HANDSHAKE_INITIATION ? accept_initiation(wg, skb) :
						      accept_response(wg, skb);
	if (unlikely(!peer)) {
		net_dbg_ratelimited("%s: invalid handshake %s\n", wg->dev->name,
				    type == MESSAGE_HANDSHAKE_INITIATION ?
				    "initiation" : "response");
		DEV_STATS_INC(wg->dev, rx_errors);
		return;
	}
	count_received(peer, skb->len);
	wg_timers_note(peer, WG_TIMER_AUTH_RECEIVED);
	wg_peer_put(peer);
}

void wg_rx_handshake_work(struct work_struct *work)
{
	struct crypt_pool *pool = wg_crypt_pool_of(work);
	struct wg_device *wg = container_of(pool, struct wg_device, handshake_pool);
	struct sk_buff *skb;

	while ((skb = wg_crypt_lane_next(work))) {
		receive_handshake(wg, skb);
		dev_kfree_skb(skb);
		cond_resched();
	}
}

/* --- open: decrypt, on any CPU ------------------------------------------------- */

static bool session_may_receive(struct noise_keypair *keypair)
{
	if (likely(READ_ONCE(keypair->receiving.is_valid) &&
		   !wg_birthdate_has_expired(keypair->receiving.birthdate,
					     REJECT_AFTER_TIME) &&
		   READ_ONCE(keypair->receiving_counter.counter) <
			   REJECT_AFTER_MESSAGES))
		return true;
	WRITE_ONCE(keypair->receiving.is_valid, false);
	return false;
}

/*
 * Decrypts the message in @skb in place and leaves skb->data at the
 * plaintext.  The outer headers in front stay valid: the endpoint is read
 * from them once the packet proved authentic and new.
 */
static bool open_message(struct sk_buff *skb, struct scatterlist *sg)
{
	struct noise_keypair *keypair = PACKET_CB(skb)->keypair;
	unsigned int outer = skb->data - skb_network_header(skb);
	struct sk_buff *last;
	int nents;

	if (unlikely(!session_may_receive(keypair)))
		return false;
	PACKET_CB(skb)->nonce = le64_to_cpu(((struct message_data *)skb->data)->counter);

	/* skb_cow_data() may copy the buffer: the outer headers go along. */
	skb_push(skb, outer);
	nents = skb_cow_data(skb, 0, &last);
	skb_pull(skb, outer + sizeof(struct message_data));
	if (unlikely(nents < 0 || nents > MAX_SKB_FRAGS + 8))
		return false;

	sg_init_table(sg, nents);
	if (skb_to_sgvec(skb, sg, 0, skb->len) <= 0 ||
	    !chacha20poly1305_decrypt_sg_inplace(sg, skb->len, NULL, 0,
						 PACKET_CB(skb)->nonce,
						 keypair->receiving.key))
		return false;
	/* The tag is spent. */
	return !pskb_trim(skb, skb->len - noise_encrypted_len(0));
}

void wg_rx_decrypt_work(struct work_struct *work)
{
	struct scatterlist *sg = wg_crypt_lane_sg(work);
	struct sk_buff *skb;

	while ((skb = wg_crypt_lane_next(work))) {
		/* Ours: after the verdict NAPI may free the packet's. */
		struct wg_peer *peer = wg_peer_get(PACKET_PEER(skb));

		wg_set_verdict(skb, open_message(skb, sg));
		local_bh_disable();
		napi_schedule(&peer->napi);
		local_bh_enable();
		wg_peer_put(peer);
		cond_resched();
	}
}

/* --- deliver: in order, through the peer's NAPI ---------------------------------- */

/* The inner packet's length by its own header, or 0 when that is not sane. */
static unsigned int inner_length(struct sk_buff *skb)
{
	unsigned int hdr_len, len;

	if (skb->protocol == htons(ETH_P_IPV6)) {
		if (unlikely(!pskb_may_pull(skb, sizeof(struct ipv6hdr))))
			return 0;
		return sizeof(struct ipv6hdr) + ntohs(ipv6_hdr(skb)->payload_len);
	}
	if (unlikely(!pskb_may_pull(skb, sizeof(struct iphdr))))
		return 0;
	hdr_len = ip_hdr(skb)->ihl * 4;
	len = ntohs(ip_hdr(skb)->tot_len);
	return hdr_len >= sizeof(struct iphdr) && len >= hdr_len ? len : 0;
}

/* The inner packet, authentic and new: into our device's stack. */
static void deliver(struct wg_peer *peer, struct sk_buff *skb)
{
	struct net_device *dev = peer->device->dev;
	struct wg_peer *allowed;
	unsigned int len;

	skb->protocol = wg_inner_protocol(skb);
	len = skb->protocol ? inner_length(skb) : 0;
	/* Padding follows the packet; its header must not claim more. */
	if (unlikely(!len || len > skb->len || pskb_trim(skb, len))) {
		DEV_STATS_INC(dev, rx_errors);
		DEV_STATS_INC(dev, rx_length_errors);
		goto drop;
	}
	skb_reset_transport_header(skb);

	/* The peer may only speak for the addresses it is allowed. */
	allowed = wg_allowedips_lookup_src(&peer->device->peer_allowedips, skb);
	wg_peer_put(allowed);
	if (unlikely(allowed != peer)) {
		net_dbg_ratelimited("%s: packet from peer %llu with a source it is not allowed\n",
				    dev->name, peer->internal_id);
		DEV_STATS_INC(dev, rx_errors);
		DEV_STATS_INC(dev, rx_frame_errors);
		goto drop;
	}

	skb->dev = dev;
	/* Authenticated end to end: no checksum inside can be damaged. */
	skb->ip_summed = CHECKSUM_UNNECESSARY;
	skb->csum_level = ~0;
	INET_ECN_decapsulate(skb, PACKET_CB(skb)->dsfield,
			     skb->protocol == htons(ETH_P_IP) ?
			     ip_hdr(skb)->tos : ipv6_get_dsfield(ipv6_hdr(skb)));
	napi_gro_receive(&peer->napi, skb);
	return;

drop:
	dev_kfree_skb(skb);
}

/*
 * The initiator renews a session about to become unusable, once, even with
 * nothing to send: the responder may not, so only it can.
 */
static void renew_if_expiring(struct wg_peer *peer, struct noise_keypair *keypair)
{
	if (!keypair->i_am_the_initiator || READ_ONCE(peer->sent_lastminute_handshake) ||
	    !wg_birthdate_has_expired(keypair->receiving.birthdate,
				      REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT - REKEY_TIMEOUT))
		return;
	WRITE_ONCE(peer->sent_lastminute_handshake, true);
	wg_packet_send_queued_handshake_initiation(peer, false);
}

/* What an authentic, new message from the peer changes. */
static void learn_from(struct wg_peer *peer, struct noise_keypair *keypair,
		       const struct wg_path *path)
{
	/* The first message on a new session confirms it for us. */
	if (wg_noise_received_with_keypair(&peer->keypairs, keypair)) {
		wg_timers_note(peer, WG_TIMER_HANDSHAKE_DONE);
		wg_packet_send_staged_packets(peer);
	}
	renew_if_expiring(peer, keypair);
	wg_timers_note(peer, WG_TIMER_AUTH_RECEIVED);
	wg_endpoints_learn(peer, path);
}

/* The packet at the head of the peer's queue; consumes it and its references. */
static void receive_in_order(struct wg_peer *peer, struct sk_buff *skb)
{
	struct noise_keypair *keypair = PACKET_CB(skb)->keypair;
	struct wg_path path;

	if (unlikely(!wg_verdict_good(skb)))
		goto drop;
	if (unlikely(!wg_noise_counter_validate(&keypair->receiving_counter,
						PACKET_CB(skb)->nonce))) {
		net_dbg_ratelimited("%s: replayed or too old packet from peer %llu\n",
				    peer->device->dev->name, peer->internal_id);
		goto drop;
	}
	if (unlikely(wg_path_from_skb(&path, skb)))
		goto drop;

	learn_from(peer, keypair, &path);
	count_received(peer, message_data_len(skb->len));
	if (!skb->len) {
		net_dbg_ratelimited("%s: received keepalive from peer %llu\n",
				    peer->device->dev->name, peer->internal_id);
		dev_kfree_skb(skb);
	} else {
		wg_timers_note(peer, WG_TIMER_DATA_RECEIVED);
		wg_scrub_for_delivery(skb);
		deliver(peer, skb);
	}
	wg_noise_keypair_put(keypair, false);
	/* The packet's; the peer's own list reference outlives NAPI. */
	wg_peer_put(peer);
	return;

drop:
	DEV_STATS_INC(peer->device->dev, rx_dropped);
	release_rx_packet(skb);
}

int wg_rx_napi_poll(struct napi_struct *napi, int budget)
{
	struct wg_peer *peer = container_of(napi, struct wg_peer, napi);
	struct sk_buff *skb;
	int done = 0;

	while (done < budget && (skb = wg_serial_pop_done(&peer->rx_queue))) {
		receive_in_order(peer, skb);
		++done;
	}
	if (done < budget)
		napi_complete_done(napi, done);
	return done;
}

void wg_rx_drop_pending(struct wg_peer *peer)
{
	wg_serial_drain(&peer->rx_queue, release_rx_packet);
}
