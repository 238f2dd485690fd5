// SPDX-License-Identifier: GPL-2.0
/*
 * The protocol's timers, after section 6 of the whitepaper.
 *
 * Each peer has five: handshake retransmission, the passive keepalive that
 * answers data we received, the new handshake started when data we sent got
 * no answer, key expiry, and the optional persistent keepalive.  The rest of
 * the driver only reports events; which timer each event arms or stops is
 * decided here.
 *
 * Timers are never armed for a dead peer or a device that is down.  The check
 * and the arming happen in one RCU-bh read section, so that once the peer is
 * marked dead (or the device stopped) and a grace period has passed, deleting
 * the timers synchronously leaves none that can come back.
 */
#include <linux/jiffies.h>
#include <linux/netdevice.h>
#include <linux/random.h>
#include <linux/rcupdate.h>
#include <linux/timekeeping.h>
#include <linux/timer.h>
#include <linux/workqueue.h>

#include "device.h"
#include "messages.h"
#include "noise.h"
#include "peer.h"
#include "queueing.h"
#include "socket.h"
#include "timers.h"

/* Keys are wiped once even the last session would have been refused. */
#define ZERO_KEYS_AFTER (REJECT_AFTER_TIME * 3)

static void mod_peer_timer(struct wg_peer *peer, struct timer_list *timer,
			   unsigned long expires)
{
	rcu_read_lock_bh();
	if (likely(netif_running(peer->device->dev) &&
		   !READ_ONCE(peer->is_dead)))
		mod_timer(timer, expires);
	rcu_read_unlock_bh();
}

/*
 * Spreads handshakes out so that peers that started together, or both ends
 * of one tunnel, do not keep colliding.
 */
static unsigned long rekey_jitter(void)
{
	return get_random_u32_below(REKEY_TIMEOUT_JITTER_MAX_JIFFIES);
}

static void expired_retransmit_handshake(struct timer_list *timer)
{
	struct wg_peer *peer = timer_container_of(peer, timer,
					  timer_retransmit_handshake);

	if (peer->timer_handshake_attempts > MAX_TIMER_HANDSHAKES) {
		netdev_dbg(peer->device->dev,
			   "peer %llu: no handshake after %d attempts, giving up\n",
			   peer->internal_id, MAX_TIMER_HANDSHAKES + 2);
		/* Nothing will carry a keepalive, nor the queued packets. */
		timer_delete(&peer->timer_send_keepalive);
		wg_packet_purge_staged_packets(peer);
		/*
		 * No session is coming: unless expiry is already counting,
		 * start it, so that whatever keys remain do not stay forever.
		 */
		if (!timer_pending(&peer->timer_zero_key_material))
			mod_peer_timer(peer, &peer->timer_zero_key_material,
				       jiffies + ZERO_KEYS_AFTER * HZ);
		return;
	}

	++peer->timer_handshake_attempts;
	netdev_dbg(peer->device->dev,
		   "peer %llu: no handshake response after %d seconds, retry %u\n",
		   peer->internal_id, REKEY_TIMEOUT,
		   peer->timer_handshake_attempts);
	/* The answer may have gone to an address we no longer have. */
	wg_socket_clear_peer_endpoint_src(peer);
	wg_packet_send_queued_handshake_initiation(peer, true);
}

static void expired_send_keepalive(struct timer_list *timer)
{
	struct wg_peer *peer = timer_container_of(peer, timer, timer_send_keepalive);

	wg_packet_send_keepalive(peer);
	/* More data came in while this timer was pending: answer it too. */
	if (peer->timer_need_another_keepalive) {
		peer->timer_need_another_keepalive = false;
		mod_peer_timer(peer, &peer->timer_send_keepalive,
			       jiffies + KEEPALIVE_TIMEOUT * HZ);
	}
}

static void expired_new_handshake(struct timer_list *timer)
{
	struct wg_peer *peer = timer_container_of(peer, timer, timer_new_handshake);

	netdev_dbg(peer->device->dev,
		   "peer %llu: sent data %d seconds ago without an answer, new handshake\n",
		   peer->internal_id, KEEPALIVE_TIMEOUT + REKEY_TIMEOUT);
	/* Perhaps the peer answers to an address we no longer have. */
	wg_socket_clear_peer_endpoint_src(peer);
	wg_packet_send_queued_handshake_initiation(peer, false);
}

static void expired_zero_key_material(struct timer_list *timer)
{
	struct wg_peer *peer = timer_container_of(peer, timer, timer_zero_key_material);

	/*
	 * Clearing takes locks that may sleep, so it goes to a worker, which
	 * holds a reference until it is done.  A peer already on its way out
	 * has its keys cleared by the removal anyway.
	 */
	rcu_read_lock_bh();
	peer = wg_peer_get_maybe_zero(peer);
	rcu_read_unlock_bh();
	if (!peer)
		return;
	if (!queue_work(system_wq, &peer->clear_peer_work))
		wg_peer_put(peer);
}

static void clear_peer_keys(struct work_struct *work)
{
	struct wg_peer *peer = container_of(work, struct wg_peer,
					    clear_peer_work);

	netdev_dbg(peer->device->dev,
		   "peer %llu: no new session in %d seconds, zeroing keys\n",
		   peer->internal_id, ZERO_KEYS_AFTER);
	wg_noise_handshake_clear(&peer->handshake);
	wg_noise_keypairs_clear(&peer->keypairs);
	wg_peer_put(peer);
}

static void expired_persistent_keepalive(struct timer_list *timer)
{
	struct wg_peer *peer = timer_container_of(peer, timer,
					  timer_persistent_keepalive);

	/* The interval may have been turned off since the timer was armed. */
	if (likely(READ_ONCE(peer->persistent_keepalive_interval)))
		wg_packet_send_keepalive(peer);
}

/* We sent data: expect something back before long. */
void wg_timers_data_sent(struct wg_peer *peer)
{
	if (!timer_pending(&peer->timer_new_handshake))
		mod_peer_timer(peer, &peer->timer_new_handshake,
			       jiffies + (KEEPALIVE_TIMEOUT + REKEY_TIMEOUT) * HZ +
			       rekey_jitter());
}

/* We received data: answer with a keepalive unless we send data first. */
void wg_timers_data_received(struct wg_peer *peer)
{
	if (likely(netif_running(peer->device->dev))) {
		if (!timer_pending(&peer->timer_send_keepalive))
			mod_peer_timer(peer, &peer->timer_send_keepalive,
				       jiffies + KEEPALIVE_TIMEOUT * HZ);
		else
			peer->timer_need_another_keepalive = true;
	}
}

/* Anything authenticated we send tells the peer we are alive. */
void wg_timers_any_authenticated_packet_sent(struct wg_peer *peer)
{
	timer_delete(&peer->timer_send_keepalive);
}

/* Anything authenticated from the peer answers the data we sent. */
void wg_timers_any_authenticated_packet_received(struct wg_peer *peer)
{
	timer_delete(&peer->timer_new_handshake);
}

void wg_timers_handshake_initiated(struct wg_peer *peer)
{
	mod_peer_timer(peer, &peer->timer_retransmit_handshake,
		       jiffies + REKEY_TIMEOUT * HZ + rekey_jitter());
}

void wg_timers_handshake_complete(struct wg_peer *peer)
{
	timer_delete(&peer->timer_retransmit_handshake);
	peer->timer_handshake_attempts = 0;
	peer->sent_lastminute_handshake = false;
	/* What "latest handshake" shows, so wall-clock time. */
	ktime_get_real_ts64(&peer->last_handshake);
}

/* A new session: push the wiping of all keys back by a full period. */
void wg_timers_session_derived(struct wg_peer *peer)
{
	mod_peer_timer(peer, &peer->timer_zero_key_material,
		       jiffies + ZERO_KEYS_AFTER * HZ);
}

/* Any authenticated packet, either way, restarts the persistent keepalive. */
void wg_timers_any_authenticated_packet_traversal(struct wg_peer *peer)
{
	u16 interval = READ_ONCE(peer->persistent_keepalive_interval);

	if (interval)
		mod_peer_timer(peer, &peer->timer_persistent_keepalive,
			       jiffies + interval * HZ);
}

void wg_timers_init(struct wg_peer *peer)
{
	timer_setup(&peer->timer_retransmit_handshake,
		    expired_retransmit_handshake, 0);
	timer_setup(&peer->timer_send_keepalive, expired_send_keepalive, 0);
	timer_setup(&peer->timer_new_handshake, expired_new_handshake, 0);
	timer_setup(&peer->timer_zero_key_material,
		    expired_zero_key_material, 0);
	timer_setup(&peer->timer_persistent_keepalive,
		    expired_persistent_keepalive, 0);
	INIT_WORK(&peer->clear_peer_work, clear_peer_keys);
	peer->timer_handshake_attempts = 0;
	peer->timer_need_another_keepalive = false;
	peer->sent_lastminute_handshake = false;
	wg_timers_allow_handshake_now(peer);
}

/*
 * Lifts the REKEY_TIMEOUT limit on initiations, for when the last one
 * cannot be answered any more (the device went down, or changed its key).
 */
void wg_timers_allow_handshake_now(struct wg_peer *peer)
{
	atomic64_set(&peer->last_sent_handshake,
		     ktime_get_coarse_boottime_ns() -
		     (u64)(REKEY_TIMEOUT + 1) * NSEC_PER_SEC);
}

/*
 * Not a shutdown: a device that goes down and up again re-arms the same
 * timers.  The caller has made sure none can be re-armed (see the top).
 */
void wg_timers_stop(struct wg_peer *peer)
{
	timer_delete_sync(&peer->timer_retransmit_handshake);
	timer_delete_sync(&peer->timer_send_keepalive);
	timer_delete_sync(&peer->timer_new_handshake);
	timer_delete_sync(&peer->timer_zero_key_material);
	timer_delete_sync(&peer->timer_persistent_keepalive);
	/* Deleting the expiry timer first means no new work gets queued. */
	flush_work(&peer->clear_peer_work);
}
