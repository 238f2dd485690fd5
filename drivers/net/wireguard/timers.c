// SPDX-License-Identifier: GPL-2.0
/*
 * The protocol's deadlines (whitepaper section 6), one machine per peer.
 *
 * A peer has up to five deadlines (enum wg_deadline) and one kernel timer,
 * set to the earliest of them.  Events move deadlines; the timer is only
 * ever moved earlier from an event, never later: a deadline that moved
 * later or went away just makes the timer fire for nothing, and the
 * callback then sets it to what is really next.  The data path, which
 * postpones the persistent keepalive and cancels the keepalive and the new
 * handshake with nearly every packet, therefore never touches the timer.
 *
 * Deciding what an event does to the deadlines, and which actions are due
 * at a given time, is done by pure functions of struct wg_timer_state, the
 * time and a few inputs (timer_state_note(), timer_state_expire(),
 * timer_state_reprogram()); selftest/timers.c drives them with a simulated
 * clock.  The rest only applies their verdicts to a real peer.
 *
 * Nothing is armed for a dead peer or a device that is down.  The check and
 * the arming happen in one RCU-bh read section, so that once the peer is
 * marked dead (or the device stopped) and a grace period has passed,
 * wg_timers_halt() leaves no deadline and no timer that can come back.
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

/* What a deadline that is reached asks the peer's code to do. */
enum wg_timer_action {
	WG_DO_RETRY_INITIATION = BIT(0),	/* the same handshake again */
	WG_DO_GIVE_UP = BIT(1),		/* drop what waits for a session */
	WG_DO_KEEPALIVE = BIT(2),
	WG_DO_NEW_HANDSHAKE = BIT(3),
	WG_DO_ZERO_KEYS = BIT(4),
};

/* What the pure functions know of the world besides the state. */
struct wg_timer_input {
	unsigned long now;		/* jiffies */
	unsigned long jitter;		/* jiffies, below REKEY_TIMEOUT_JITTER_MAX_JIFFIES */
	unsigned long persistent;	/* persistent keepalive, jiffies, 0 = off */
	bool may_arm;			/* the device is up and the peer alive */
};

static bool deadline_pending(const struct wg_timer_state *st,
			     enum wg_deadline d)
{
	return st->pending & BIT(d);
}

static void deadline_set(struct wg_timer_state *st, enum wg_deadline d,
			 unsigned long when)
{
	st->due[d] = when;
	WRITE_ONCE(st->pending, st->pending | BIT(d));
}

static void deadline_clear(struct wg_timer_state *st, enum wg_deadline d)
{
	WRITE_ONCE(st->pending, st->pending & ~BIT(d));
}

/* Sets @d to @when unless it is already counting. */
static void deadline_set_once(struct wg_timer_state *st, enum wg_deadline d,
			      unsigned long when)
{
	if (!deadline_pending(st, d))
		deadline_set(st, d, when);
}

/* The persistent keepalive starts over with any authenticated packet. */
static void note_traversal(struct wg_timer_state *st,
			   const struct wg_timer_input *in)
{
	if (in->persistent && in->may_arm)
		deadline_set(st, WG_DEADLINE_PERSISTENT,
			     in->now + in->persistent);
}

/* Applies @event at @in->now to the deadlines. */
static void timer_state_note(struct wg_timer_state *st,
			     enum wg_timer_event event,
			     const struct wg_timer_input *in)
{
	unsigned long now = in->now;

	switch (event) {
	case WG_TIMER_AUTH_SENT:
		/* Whatever we send tells the peer we are alive. */
		deadline_clear(st, WG_DEADLINE_KEEPALIVE);
		note_traversal(st, in);
		break;
	case WG_TIMER_AUTH_RECEIVED:
		/* Whatever the peer sends answers the data we sent. */
		deadline_clear(st, WG_DEADLINE_REHANDSHAKE);
		note_traversal(st, in);
		break;
	case WG_TIMER_DATA_SENT:
		/* The first unanswered packet counts, not the latest. */
		if (in->may_arm)
			deadline_set_once(st, WG_DEADLINE_REHANDSHAKE, now +
					  (KEEPALIVE_TIMEOUT + REKEY_TIMEOUT) * HZ +
					  in->jitter);
		break;
	case WG_TIMER_DATA_RECEIVED:
		if (!in->may_arm)
			break;
		if (deadline_pending(st, WG_DEADLINE_KEEPALIVE))
			WRITE_ONCE(st->keepalive_again, true);
		else
			deadline_set(st, WG_DEADLINE_KEEPALIVE,
				     now + KEEPALIVE_TIMEOUT * HZ);
		break;
	case WG_TIMER_INITIATION_SENT:
		if (in->may_arm)
			deadline_set(st, WG_DEADLINE_RETRANSMIT,
				     now + REKEY_TIMEOUT * HZ + in->jitter);
		break;
	case WG_TIMER_HANDSHAKE_DONE:
		deadline_clear(st, WG_DEADLINE_RETRANSMIT);
		WRITE_ONCE(st->retries, 0);
		break;
	case WG_TIMER_SESSION_DERIVED:
		/* A fresh session: the wiping moves back by a full period. */
		if (in->may_arm)
			deadline_set(st, WG_DEADLINE_ZERO_KEYS,
				     now + ZERO_KEYS_AFTER * HZ);
		break;
	case WG_TIMER_HANDSHAKE_WANTED:
		WRITE_ONCE(st->retries, 0);
		break;
	}
}

/* Takes @d off the state if it is due at @now. */
static bool deadline_reached(struct wg_timer_state *st, enum wg_deadline d,
			     unsigned long now)
{
	if (!deadline_pending(st, d) || time_before(now, st->due[d]))
		return false;
	deadline_clear(st, d);
	return true;
}

/*
 * The initiation went unanswered: retry, unless we tried long enough.  Then
 * nothing will carry a keepalive nor the staged packets, and the keys that
 * remain must not stay forever: start their wiping unless it counts already.
 */
static unsigned int retransmit_reached(struct wg_timer_state *st,
				       const struct wg_timer_input *in)
{
	if (st->retries > MAX_TIMER_HANDSHAKES) {
		deadline_clear(st, WG_DEADLINE_KEEPALIVE);
		if (in->may_arm)
			deadline_set_once(st, WG_DEADLINE_ZERO_KEYS,
					  in->now + ZERO_KEYS_AFTER * HZ);
		return WG_DO_GIVE_UP;
	}
	WRITE_ONCE(st->retries, st->retries + 1);
	return WG_DO_RETRY_INITIATION;
}

/* The keepalive we owed; one more if more data came meanwhile. */
static unsigned int keepalive_reached(struct wg_timer_state *st,
				      const struct wg_timer_input *in)
{
	if (st->keepalive_again) {
		WRITE_ONCE(st->keepalive_again, false);
		if (in->may_arm)
			deadline_set(st, WG_DEADLINE_KEEPALIVE,
				     in->now + KEEPALIVE_TIMEOUT * HZ);
	}
	return WG_DO_KEEPALIVE;
}

/* Takes the deadlines due at @in->now off the state; returns the actions. */
static unsigned int timer_state_expire(struct wg_timer_state *st,
				       const struct wg_timer_input *in)
{
	unsigned int actions = 0;

	if (deadline_reached(st, WG_DEADLINE_RETRANSMIT, in->now))
		actions |= retransmit_reached(st, in);
	if (deadline_reached(st, WG_DEADLINE_KEEPALIVE, in->now))
		actions |= keepalive_reached(st, in);
	if (deadline_reached(st, WG_DEADLINE_REHANDSHAKE, in->now))
		actions |= WG_DO_NEW_HANDSHAKE;
	if (deadline_reached(st, WG_DEADLINE_ZERO_KEYS, in->now))
		actions |= WG_DO_ZERO_KEYS;
	/* The interval may have been turned off since. */
	if (deadline_reached(st, WG_DEADLINE_PERSISTENT, in->now) &&
	    in->persistent)
		actions |= WG_DO_KEEPALIVE;
	return actions;
}

/*
 * Whether the kernel timer must be moved to st->timer_at: only when the
 * earliest deadline is before where it is set, or it is not set at all.
 */
static bool timer_state_reprogram(struct wg_timer_state *st)
{
	unsigned long earliest = 0;
	bool any = false;
	int d;

	for (d = 0; d < WG_DEADLINE_COUNT; ++d) {
		if (!deadline_pending(st, d))
			continue;
		if (!any || time_before(st->due[d], earliest))
			earliest = st->due[d];
		any = true;
	}
	if (!any || (st->timer_set && !time_before(earliest, st->timer_at)))
		return false;
	st->timer_at = earliest;
	st->timer_set = true;
	return true;
}

/*
 * Whether @event at this moment would change nothing, judged without the
 * lock.  Keeps the lock off the data path for the common cases; a race
 * with another event is no worse than the two happening in the other
 * order.
 */
static bool timer_state_note_is_noop(const struct wg_timer_state *st,
				     enum wg_timer_event event, bool persistent)
{
	unsigned long pending = READ_ONCE(st->pending);

	switch (event) {
	case WG_TIMER_AUTH_SENT:
		return !persistent && !(pending & BIT(WG_DEADLINE_KEEPALIVE));
	case WG_TIMER_AUTH_RECEIVED:
		return !persistent && !(pending & BIT(WG_DEADLINE_REHANDSHAKE));
	case WG_TIMER_DATA_SENT:
		return pending & BIT(WG_DEADLINE_REHANDSHAKE);
	case WG_TIMER_DATA_RECEIVED:
		return (pending & BIT(WG_DEADLINE_KEEPALIVE)) &&
		       READ_ONCE(st->keepalive_again);
	case WG_TIMER_HANDSHAKE_DONE:
		return !(pending & BIT(WG_DEADLINE_RETRANSMIT)) &&
		       !READ_ONCE(st->retries);
	case WG_TIMER_HANDSHAKE_WANTED:
		return !READ_ONCE(st->retries);
	default:
		return false;
	}
}

/*
 * Spreads handshakes out so that peers that started together, or both ends
 * of one tunnel, do not keep colliding.
 */
static unsigned long rekey_jitter(enum wg_timer_event event)
{
	if (event != WG_TIMER_INITIATION_SENT && event != WG_TIMER_DATA_SENT)
		return 0;
	return get_random_u32_below(REKEY_TIMEOUT_JITTER_MAX_JIFFIES);
}

/* Must run inside rcu_read_lock_bh(), which the halting waits out. */
static bool peer_may_arm(const struct wg_peer *peer)
{
	return likely(netif_running(peer->device->dev) &&
		      !READ_ONCE(peer->is_dead));
}

static void fill_input(struct wg_timer_input *in, const struct wg_peer *peer,
		       unsigned long jitter)
{
	in->now = jiffies;
	in->jitter = jitter;
	in->persistent = READ_ONCE(peer->persistent_keepalive_interval) * HZ;
	in->may_arm = peer_may_arm(peer);
}

/* Under the lock: moves the kernel timer if the state asks for it. */
static void apply_reprogram(struct wg_peer_timers *t,
			    const struct wg_timer_input *in)
{
	if (in->may_arm && timer_state_reprogram(&t->state))
		mod_timer(&t->timer, t->state.timer_at);
}

void wg_timers_note(struct wg_peer *peer, enum wg_timer_event event)
{
	struct wg_peer_timers *t = &peer->timers;
	struct wg_timer_input in;

	if (event == WG_TIMER_HANDSHAKE_DONE) {
		WRITE_ONCE(peer->sent_lastminute_handshake, false);
		/* What "latest handshake" shows, so wall-clock time. */
		ktime_get_real_ts64(&peer->last_handshake);
	}
	if (timer_state_note_is_noop(&t->state, event,
				     READ_ONCE(peer->persistent_keepalive_interval)))
		return;

	rcu_read_lock_bh();
	fill_input(&in, peer, rekey_jitter(event));
	spin_lock(&t->lock);
	timer_state_note(&t->state, event, &in);
	apply_reprogram(t, &in);
	spin_unlock(&t->lock);
	rcu_read_unlock_bh();
}

/*
 * Wiping takes locks that may sleep, so it goes to a worker, which holds a
 * reference until it is done.  A peer already on its way out has its keys
 * wiped by the removal anyway.
 */
static void queue_zero_keys(struct wg_peer *peer)
{
	rcu_read_lock_bh();
	peer = wg_peer_get_maybe_zero(peer);
	rcu_read_unlock_bh();
	if (!peer)
		return;
	if (!queue_work(system_wq, &peer->timers.zero_keys_work))
		wg_peer_put(peer);
}

static void zero_keys_worker(struct work_struct *work)
{
	struct wg_peer *peer = container_of(work, struct wg_peer,
					    timers.zero_keys_work);

	netdev_dbg(peer->device->dev,
		   "peer %llu: no new session in %d seconds, zeroing keys\n",
		   peer->internal_id, ZERO_KEYS_AFTER);
	wg_noise_handshake_clear(&peer->handshake);
	wg_noise_keypairs_clear(&peer->keypairs);
	wg_peer_put(peer);
}

/* Carries out what timer_state_expire() decided, outside the lock. */
static void perform_actions(struct wg_peer *peer, unsigned int actions)
{
	struct net_device *dev = peer->device->dev;

	if (actions & WG_DO_GIVE_UP) {
		netdev_dbg(dev, "peer %llu: no handshake after %d attempts, giving up\n",
			   peer->internal_id, MAX_TIMER_HANDSHAKES + 2);
		wg_packet_purge_staged_packets(peer);
	}
	if (actions & WG_DO_RETRY_INITIATION) {
		netdev_dbg(dev, "peer %llu: no handshake response after %d seconds, retry %u\n",
			   peer->internal_id, REKEY_TIMEOUT,
			   READ_ONCE(peer->timers.state.retries));
		/* The answer may have gone to an address we no longer have. */
		wg_endpoints_forget_local(peer);
		wg_packet_send_queued_handshake_initiation(peer, true);
	}
	if (actions & WG_DO_KEEPALIVE)
		wg_packet_send_keepalive(peer);
	if (actions & WG_DO_NEW_HANDSHAKE) {
		netdev_dbg(dev, "peer %llu: sent data %d seconds ago without an answer, new handshake\n",
			   peer->internal_id, KEEPALIVE_TIMEOUT + REKEY_TIMEOUT);
		wg_endpoints_forget_local(peer);
		wg_packet_send_queued_handshake_initiation(peer, false);
	}
	if (actions & WG_DO_ZERO_KEYS)
		queue_zero_keys(peer);
}

static void timer_fired(struct timer_list *timer)
{
	struct wg_peer *peer = container_of(timer, struct wg_peer,
					    timers.timer);
	struct wg_peer_timers *t = &peer->timers;
	struct wg_timer_input in;
	unsigned int actions;

	rcu_read_lock_bh();
	fill_input(&in, peer, 0);
	spin_lock(&t->lock);
	t->state.timer_set = false;
	actions = timer_state_expire(&t->state, &in);
	apply_reprogram(t, &in);
	spin_unlock(&t->lock);
	rcu_read_unlock_bh();

	perform_actions(peer, actions);
}

void wg_timers_setup(struct wg_peer *peer)
{
	struct wg_peer_timers *t = &peer->timers;

	spin_lock_init(&t->lock);
	memset(&t->state, 0, sizeof(t->state));
	timer_setup(&t->timer, timer_fired, 0);
	INIT_WORK(&t->zero_keys_work, zero_keys_worker);
	peer->sent_lastminute_handshake = false;
	wg_timers_unthrottle_initiation(peer);
}

/*
 * Lifts the REKEY_TIMEOUT limit on initiations, for when the last one
 * cannot be answered any more (the device went down, or changed its key).
 */
void wg_timers_unthrottle_initiation(struct wg_peer *peer)
{
	atomic64_set(&peer->last_sent_handshake,
		     ktime_get_coarse_boottime_ns() -
		     (u64)(REKEY_TIMEOUT + 1) * NSEC_PER_SEC);
}

/*
 * Not a shutdown: a device that goes down and up again arms the same timer
 * anew.  The counters of the handshake in progress survive, as its
 * initiation throttle does.
 */
void wg_timers_halt(struct wg_peer *peer)
{
	struct wg_peer_timers *t = &peer->timers;

	timer_delete_sync(&t->timer);
	spin_lock_bh(&t->lock);
	WRITE_ONCE(t->state.pending, 0);
	t->state.timer_set = false;
	spin_unlock_bh(&t->lock);
	/* With no deadline left, no new wiping gets queued. */
	flush_work(&t->zero_keys_work);
}

#ifdef CONFIG_WIREGUARD_DEBUG
#include "selftest/timers.c"
#endif
