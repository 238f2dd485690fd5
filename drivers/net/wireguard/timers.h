/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The protocol's deadlines (whitepaper section 6) as one state machine per
 * peer with a single kernel timer.  The data path and the handshake code
 * report what happened with wg_timers_note(); timers.c turns that into
 * deadlines and, when one is reached, into handshakes, keepalives and the
 * wiping of keys.
 */
#ifndef _WG_TIMERS_H
#define _WG_TIMERS_H

#include <linux/ktime.h>
#include <linux/spinlock.h>
#include <linux/timekeeping.h>
#include <linux/timer.h>
#include <linux/types.h>
#include <linux/workqueue.h>

struct wg_peer;

/* What the rest of the driver reports. */
enum wg_timer_event {
	/* Any authenticated message went out: handshake, data or keepalive. */
	WG_TIMER_AUTH_SENT,
	/* Any authenticated message came in from the peer. */
	WG_TIMER_AUTH_RECEIVED,
	/* A data message with a payload went out (not a keepalive). */
	WG_TIMER_DATA_SENT,
	/* A data message with a payload came in (not a keepalive). */
	WG_TIMER_DATA_RECEIVED,
	/* We sent a handshake initiation. */
	WG_TIMER_INITIATION_SENT,
	/* A handshake we were part of completed. */
	WG_TIMER_HANDSHAKE_DONE,
	/* New session keys were derived, either side. */
	WG_TIMER_SESSION_DERIVED,
	/* A handshake was asked for afresh: its retries count from zero. */
	WG_TIMER_HANDSHAKE_WANTED,
};

/* Every deadline a peer can have; at most one of each. */
enum wg_deadline {
	WG_DEADLINE_RETRANSMIT,	/* initiation unanswered: send it again */
	WG_DEADLINE_KEEPALIVE,	/* we owe the peer a keepalive for its data */
	WG_DEADLINE_REHANDSHAKE, /* our data went unanswered: new handshake */
	WG_DEADLINE_ZERO_KEYS,	/* no new session for long: wipe the keys */
	WG_DEADLINE_PERSISTENT,	/* the configured persistent keepalive */
	WG_DEADLINE_COUNT
};

/*
 * The machine's whole state.  Only pure functions in timers.c look at it,
 * under wg_peer_timers.lock; they take the time as an argument, which lets
 * the self-test drive them with a simulated clock.
 */
struct wg_timer_state {
	unsigned long due[WG_DEADLINE_COUNT];	/* jiffies, where pending */
	unsigned long pending;			/* bit per enum wg_deadline */
	/* Where the kernel timer is set, when timer_set. */
	unsigned long timer_at;
	bool timer_set;
	/* Initiations retried since the last fresh one. */
	unsigned int retries;
	/* More data came in while a keepalive was already owed. */
	bool keepalive_again;
};

struct wg_peer_timers {
	spinlock_t lock;		/* guards state */
	struct wg_timer_state state;
	struct timer_list timer;	/* at state.timer_at */
	struct work_struct zero_keys_work;	/* wiping sleeps */
};

void wg_timers_setup(struct wg_peer *peer);
/*
 * Cancels every deadline and waits for the timer and the key wiping.  The
 * caller has first made sure nothing can arm them again (see timers.c).
 */
void wg_timers_halt(struct wg_peer *peer);

void wg_timers_note(struct wg_peer *peer, enum wg_timer_event event);

/* Lets the next initiation go out now, whenever the last one went. */
void wg_timers_unthrottle_initiation(struct wg_peer *peer);

/* True once @seconds have passed since @birth (coarse boottime, in ns). */
static inline bool wg_birthdate_has_expired(u64 birth, u64 seconds)
{
	s64 age = ktime_get_coarse_boottime_ns() - birth;

	return age >= (s64)(seconds * NSEC_PER_SEC);
}

#ifdef CONFIG_WIREGUARD_DEBUG
bool wg_timers_selftest(void);
#endif

#endif /* _WG_TIMERS_H */
