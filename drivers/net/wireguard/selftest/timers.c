// SPDX-License-Identifier: GPL-2.0
/*
 * Self-tests of the deadline machine.  Included at the end of timers.c.
 *
 * A simulated peer: the pure functions of timers.c, a clock that only
 * moves when told, and a kernel timer that fires exactly where the state
 * set it.  Every scenario runs twice, once from jiffies 0 and once across
 * the wrap of jiffies.
 */

struct timers_sim {
	struct wg_timer_state st;
	struct wg_timer_input in;
	unsigned long base;
	unsigned int timer_moves;	/* mod_timer() calls */
	unsigned int firings;
	unsigned int failures;
};

#define SEC(s) ((unsigned long)(s) * HZ)

static void sim_init(struct timers_sim *sim, unsigned long base,
		     unsigned long persistent)
{
	unsigned int failures = sim->failures;

	memset(sim, 0, sizeof(*sim));
	sim->failures = failures;
	sim->base = base;
	sim->in.now = base;
	sim->in.persistent = persistent;
	sim->in.may_arm = true;
}

static void sim_fail(struct timers_sim *sim, int line, const char *what,
		     unsigned long a, unsigned long b)
{
	pr_err("timers self-test (line %d, base %lu): %s: %lu, expected %lu\n",
	       line, sim->base, what, a, b);
	++sim->failures;
}

/*
 * Fires the timer, at each time it is set to up to @limit, until a firing
 * has something to do.  Returns those actions (0 if none up to @limit)
 * and leaves the clock at that firing, or at @limit.
 */
static unsigned int sim_next_actions(struct timers_sim *sim,
				     unsigned long limit)
{
	struct wg_timer_state *st = &sim->st;
	unsigned int actions;

	while (st->timer_set && !time_after(st->timer_at, limit)) {
		sim->in.now = st->timer_at;
		st->timer_set = false;
		++sim->firings;
		actions = timer_state_expire(st, &sim->in);
		if (sim->in.may_arm && timer_state_reprogram(st))
			++sim->timer_moves;
		if (actions)
			return actions;
	}
	sim->in.now = limit;
	return 0;
}

/* Runs the clock to @at, where @event then happens. */
static void sim_note(struct timers_sim *sim, enum wg_timer_event event,
		     unsigned long at, unsigned long jitter, int line)
{
	unsigned int actions = sim_next_actions(sim, at);

	if (actions)
		sim_fail(sim, line, "unexpected actions before event", actions,
			 0);
	sim->in.now = at;
	sim->in.jitter = jitter;
	timer_state_note(&sim->st, event, &sim->in);
	sim->in.jitter = 0;
	if (sim->in.may_arm && timer_state_reprogram(&sim->st))
		++sim->timer_moves;
}

/* The next actions must be @actions, exactly at @at. */
static void sim_expect(struct timers_sim *sim, unsigned int actions,
		       unsigned long at, int line)
{
	unsigned int got = sim_next_actions(sim, at + SEC(10000));

	if (got != actions)
		sim_fail(sim, line, "actions", got, actions);
	else if (sim->in.now != at)
		sim_fail(sim, line, "at jiffies past base", sim->in.now -
			 sim->base, at - sim->base);
}

/* Nothing may happen up to @until. */
static void sim_expect_quiet(struct timers_sim *sim, unsigned long until,
			     int line)
{
	unsigned int got = sim_next_actions(sim, until);

	if (got)
		sim_fail(sim, line, "actions, none expected at jiffies past base",
			 got, sim->in.now - sim->base);
}

static void sim_expect_eq(struct timers_sim *sim, unsigned long got,
			  unsigned long expected, const char *what, int line)
{
	if (got != expected)
		sim_fail(sim, line, what, got, expected);
}

#define T(s) (sim->base + SEC(s))
#define NOTE(event, at) sim_note(sim, WG_TIMER_##event, at, 0, __LINE__)
#define NOTE_JITTER(event, at, jitter) \
	sim_note(sim, WG_TIMER_##event, at, jitter, __LINE__)
#define EXPECT(actions, at) sim_expect(sim, actions, at, __LINE__)
#define EXPECT_QUIET(until) sim_expect_quiet(sim, until, __LINE__)
#define EXPECT_EQ(a, b) sim_expect_eq(sim, a, b, #a, __LINE__)

/*
 * An initiation that is never answered: retried every REKEY_TIMEOUT plus
 * its jitter, MAX_TIMER_HANDSHAKES + 1 times, then given up, which drops the
 * keepalive owed and starts the wiping of keys.
 */
static unsigned long sim_unanswered_initiations(struct timers_sim *sim,
						unsigned long start)
{
	unsigned long sent = start, jitter = 3;
	unsigned int retry;

	NOTE(AUTH_SENT, sent);
	NOTE_JITTER(INITIATION_SENT, sent, jitter);
	for (retry = 1; retry <= MAX_TIMER_HANDSHAKES + 1; ++retry) {
		sim_expect(sim, WG_DO_RETRY_INITIATION,
			   sent + SEC(REKEY_TIMEOUT) + jitter, __LINE__);
		EXPECT_EQ(sim->st.retries, retry);
		sent = sim->in.now;
		jitter = (retry * 37) % REKEY_TIMEOUT_JITTER_MAX_JIFFIES;
		NOTE(AUTH_SENT, sent);
		NOTE_JITTER(INITIATION_SENT, sent, jitter);
	}
	/* Data that came after the last try is owed a keepalive no more. */
	NOTE(DATA_RECEIVED, sent + 1);
	sim_expect(sim, WG_DO_GIVE_UP, sent + SEC(REKEY_TIMEOUT) + jitter,
		   __LINE__);
	return sim->in.now;
}

static void test_retransmit(struct timers_sim *sim)
{
	unsigned long gave_up;

	gave_up = sim_unanswered_initiations(sim, T(1));
	EXPECT(WG_DO_ZERO_KEYS, gave_up + SEC(ZERO_KEYS_AFTER));
	EXPECT_QUIET(gave_up + SEC(3 * ZERO_KEYS_AFTER));

	/* Wiping already counting from a session is not pushed back. */
	sim_init(sim, sim->base, 0);
	NOTE(SESSION_DERIVED, T(0));
	sim_unanswered_initiations(sim, T(1));
	EXPECT(WG_DO_ZERO_KEYS, T(ZERO_KEYS_AFTER));

	/* An answer stops the retries and resets their count. */
	sim_init(sim, sim->base, 0);
	NOTE(INITIATION_SENT, T(0));
	EXPECT(WG_DO_RETRY_INITIATION, T(REKEY_TIMEOUT));
	NOTE(INITIATION_SENT, T(REKEY_TIMEOUT));
	NOTE(HANDSHAKE_DONE, T(REKEY_TIMEOUT + 1));
	EXPECT_EQ(sim->st.retries, 0);
	EXPECT_QUIET(T(1000));

	/* A fresh handshake counts its retries from zero. */
	sim_init(sim, sim->base, 0);
	NOTE(INITIATION_SENT, T(0));
	EXPECT(WG_DO_RETRY_INITIATION, T(REKEY_TIMEOUT));
	NOTE(HANDSHAKE_WANTED, T(REKEY_TIMEOUT));
	EXPECT_EQ(sim->st.retries, 0);
}

static void test_passive_keepalive(struct timers_sim *sim)
{
	/* Data in, nothing out: a keepalive after KEEPALIVE_TIMEOUT. */
	NOTE(DATA_RECEIVED, T(0));
	EXPECT(WG_DO_KEEPALIVE, T(KEEPALIVE_TIMEOUT));
	EXPECT_QUIET(T(1000));

	/* Anything authenticated we send meanwhile makes it needless. */
	sim_init(sim, sim->base, 0);
	NOTE(DATA_RECEIVED, T(0));
	NOTE(AUTH_SENT, T(3));
	EXPECT_QUIET(T(1000));

	/* More data while one was owed: another one after the first. */
	sim_init(sim, sim->base, 0);
	NOTE(DATA_RECEIVED, T(0));
	NOTE(DATA_RECEIVED, T(2));
	EXPECT(WG_DO_KEEPALIVE, T(KEEPALIVE_TIMEOUT));
	EXPECT(WG_DO_KEEPALIVE, T(2 * KEEPALIVE_TIMEOUT));
	EXPECT_QUIET(T(1000));

	/* A device that is down or a dead peer arms nothing. */
	sim_init(sim, sim->base, 0);
	sim->in.may_arm = false;
	NOTE(DATA_RECEIVED, T(0));
	NOTE(DATA_SENT, T(0));
	NOTE(INITIATION_SENT, T(0));
	NOTE(SESSION_DERIVED, T(0));
	EXPECT_EQ(sim->st.pending, 0);
	EXPECT_QUIET(T(1000));
}

static void test_rehandshake(struct timers_sim *sim)
{
	unsigned long jitter = REKEY_TIMEOUT_JITTER_MAX_JIFFIES - 1;

	/* The first unanswered data counts; later data does not postpone. */
	NOTE_JITTER(DATA_SENT, T(0), jitter);
	NOTE_JITTER(DATA_SENT, T(1), 0);
	EXPECT(WG_DO_NEW_HANDSHAKE,
	       T(KEEPALIVE_TIMEOUT + REKEY_TIMEOUT) + jitter);
	EXPECT_QUIET(T(1000));

	/* Any authenticated answer, even just before, cancels it. */
	sim_init(sim, sim->base, 0);
	NOTE(DATA_SENT, T(0));
	NOTE(AUTH_RECEIVED, T(KEEPALIVE_TIMEOUT + REKEY_TIMEOUT) - 1);
	EXPECT_QUIET(T(100));
	NOTE(DATA_SENT, T(100));
	EXPECT(WG_DO_NEW_HANDSHAKE, T(100 + KEEPALIVE_TIMEOUT + REKEY_TIMEOUT));
}

static void test_zero_keys(struct timers_sim *sim)
{
	NOTE(SESSION_DERIVED, T(0));
	EXPECT(WG_DO_ZERO_KEYS, T(REJECT_AFTER_TIME * 3));
	EXPECT_QUIET(T(10000));

	/* Each new session pushes it back by the full period. */
	sim_init(sim, sim->base, 0);
	NOTE(SESSION_DERIVED, T(0));
	NOTE(SESSION_DERIVED, T(100));
	EXPECT(WG_DO_ZERO_KEYS, T(100 + REJECT_AFTER_TIME * 3));
}

static void test_persistent_keepalive(struct timers_sim *sim)
{
	unsigned int firings;

	/* Either direction restarts the interval. */
	sim_init(sim, sim->base, SEC(25));
	NOTE(AUTH_SENT, T(0));
	NOTE(AUTH_RECEIVED, T(10));
	firings = sim->firings;
	EXPECT(WG_DO_KEEPALIVE, T(35));
	/* The timer fired at 25 for nothing and was set again: lazily. */
	EXPECT_EQ(sim->firings - firings, 2);
	NOTE(AUTH_SENT, T(35));
	EXPECT(WG_DO_KEEPALIVE, T(60));

	/* Off: nothing. */
	sim_init(sim, sim->base, 0);
	NOTE(AUTH_SENT, T(0));
	NOTE(AUTH_RECEIVED, T(1));
	EXPECT_QUIET(T(10000));

	/* Turned off while counting: nothing either. */
	sim_init(sim, sim->base, SEC(25));
	NOTE(AUTH_SENT, T(0));
	sim->in.persistent = 0;
	EXPECT_QUIET(T(10000));
}

/* The kernel timer moves only to an earlier deadline. */
static void test_timer_moves(struct timers_sim *sim)
{
	NOTE(SESSION_DERIVED, T(0));
	EXPECT_EQ(sim->timer_moves, 1);
	NOTE(DATA_RECEIVED, T(0));
	EXPECT_EQ(sim->timer_moves, 2);
	EXPECT_EQ(sim->st.timer_at, T(KEEPALIVE_TIMEOUT));
	NOTE(DATA_SENT, T(1));
	NOTE(AUTH_SENT, T(2));
	EXPECT_EQ(sim->timer_moves, 2);
	/* The keepalive is gone; its firing goes on to the new handshake. */
	EXPECT(WG_DO_NEW_HANDSHAKE, T(1 + KEEPALIVE_TIMEOUT + REKEY_TIMEOUT));
	EXPECT_EQ(sim->st.timer_at, T(ZERO_KEYS_AFTER));
}

#undef T
#undef NOTE
#undef NOTE_JITTER
#undef EXPECT
#undef EXPECT_QUIET
#undef EXPECT_EQ

bool __init wg_timers_selftest(void)
{
	static void (*const tests[])(struct timers_sim *) = {
		test_retransmit, test_passive_keepalive, test_rehandshake,
		test_zero_keys, test_persistent_keepalive, test_timer_moves,
	};
	/* From zero, and from a minute before jiffies wraps. */
	const unsigned long bases[] = { 0, -SEC(60) };
	unsigned int failures = 0, i, j;
	struct timers_sim sim_on_stack = {}, *sim = &sim_on_stack;

	for (i = 0; i < ARRAY_SIZE(bases); ++i) {
		for (j = 0; j < ARRAY_SIZE(tests); ++j) {
			sim->failures = 0;
			sim_init(sim, bases[i], 0);
			tests[j](sim);
			failures += sim->failures;
		}
	}
	if (failures) {
		pr_err("timers self-tests: FAIL (%u)\n", failures);
		return false;
	}
	pr_info("timers self-tests: pass\n");
	return true;
}
