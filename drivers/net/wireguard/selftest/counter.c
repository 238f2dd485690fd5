// SPDX-License-Identifier: GPL-2.0
/*
 * Self-tests of the replay window.  Included at the end of noise.c.
 */

static void counter_reset(struct noise_replay_counter *counter)
{
	memset(counter, 0, sizeof(*counter));
	spin_lock_init(&counter->lock);
}

/* Counts a failure, naming the test by its line, when @counter disagrees. */
static void counter_expect(struct noise_replay_counter *counter, u64 value,
			   bool expected, int line, unsigned int *failures)
{
	if (wg_noise_counter_validate(counter, value) == expected)
		return;
	pr_err("counter self-test (line %d): %llu should be %s\n", line,
	       value, expected ? "accepted" : "rejected");
	++*failures;
}

/* Expects every counter in [first, last] to get @expected. */
static void counter_expect_range(struct noise_replay_counter *counter,
				 u64 first, u64 last, bool expected, int line,
				 unsigned int *failures)
{
	unsigned int before = *failures;
	u64 i;

	for (i = first; i <= last && *failures - before < 4; ++i)
		counter_expect(counter, i, expected, line, failures);
}

#define EXPECT(value, expected) \
	counter_expect(&counter, value, expected, __LINE__, &failures)
#define EXPECT_RANGE(first, last, expected) \
	counter_expect_range(&counter, first, last, expected, __LINE__, \
			     &failures)

static void counter_test_basic(unsigned int *failures_out)
{
	struct noise_replay_counter counter;
	unsigned int failures = 0;

	/* In order, and duplicates. */
	counter_reset(&counter);
	EXPECT(0, true);
	EXPECT(0, false);
	EXPECT(1, true);
	EXPECT(1, false);
	EXPECT(0, false);

	/* Out of order inside the window. */
	EXPECT(9, true);
	EXPECT_RANGE(2, 8, true);
	EXPECT_RANGE(0, 9, false);
	EXPECT(10, true);

	/* Backwards over the whole window, then all of it again. */
	counter_reset(&counter);
	EXPECT(COUNTER_WINDOW_SIZE - 1, true);
	EXPECT_RANGE(0, COUNTER_WINDOW_SIZE - 2, true);
	EXPECT_RANGE(0, COUNTER_WINDOW_SIZE - 1, false);

	*failures_out += failures;
}

static void counter_test_edges(unsigned int *failures_out)
{
	const u64 top = COUNTER_WINDOW_SIZE + 100;
	struct noise_replay_counter counter;
	unsigned int failures = 0;

	/* The oldest still accepted is top - (WINDOW - 1). */
	counter_reset(&counter);
	EXPECT(top, true);
	EXPECT(top - COUNTER_WINDOW_SIZE, false);
	EXPECT(top - COUNTER_WINDOW_SIZE + 1, true);
	EXPECT(top - COUNTER_WINDOW_SIZE + 1, false);
	EXPECT(top - 1, true);
	EXPECT(0, false);
	/* The window moves with the top. */
	EXPECT(top + 1, true);
	EXPECT(top - COUNTER_WINDOW_SIZE + 1, false);
	EXPECT(top - COUNTER_WINDOW_SIZE + 2, true);

	/* The limit of a session. */
	counter_reset(&counter);
	EXPECT(REJECT_AFTER_MESSAGES - 1, true);
	EXPECT(REJECT_AFTER_MESSAGES - 1, false);
	EXPECT(REJECT_AFTER_MESSAGES, false);
	EXPECT(U64_MAX, false);
	EXPECT(REJECT_AFTER_MESSAGES - 2, true);
	counter_reset(&counter);
	EXPECT(REJECT_AFTER_MESSAGES, false);
	EXPECT(U64_MAX, false);
	EXPECT(0, true);

	*failures_out += failures;
}

static void counter_test_wrap(unsigned int *failures_out)
{
	const u64 far = 2 * COUNTER_BITS_TOTAL + 5;
	struct noise_replay_counter counter;
	unsigned int failures = 0;

	/* Several turns of the ring, in order, then replays of the window. */
	counter_reset(&counter);
	EXPECT_RANGE(0, 3 * COUNTER_BITS_TOTAL, true);
	EXPECT_RANGE(2 * COUNTER_BITS_TOTAL + COUNTER_REDUNDANT_BITS + 1,
		     3 * COUNTER_BITS_TOTAL, false);
	/* Just past a full ring: no stale bit may reject it. */
	counter_reset(&counter);
	EXPECT_RANGE(0, COUNTER_BITS_TOTAL - 1, true);
	EXPECT(COUNTER_BITS_TOTAL, true);
	EXPECT(COUNTER_BITS_TOTAL + BITS_PER_LONG, true);

	/* A jump over more than the ring leaves nothing of the old turns. */
	counter_reset(&counter);
	EXPECT_RANGE(0, COUNTER_BITS_TOTAL - 1, true);
	EXPECT(far, true);
	EXPECT(far - COUNTER_WINDOW_SIZE, false);
	EXPECT_RANGE(far - COUNTER_WINDOW_SIZE + 1, far - 1, true);
	EXPECT_RANGE(far - COUNTER_WINDOW_SIZE + 1, far, false);

	/* A jump of less than the ring clears just what it passes. */
	counter_reset(&counter);
	EXPECT_RANGE(0, COUNTER_BITS_TOTAL - 1, true);
	EXPECT(COUNTER_BITS_TOTAL + 3 * BITS_PER_LONG + 7, true);
	EXPECT_RANGE(COUNTER_BITS_TOTAL, COUNTER_BITS_TOTAL + 3 * BITS_PER_LONG + 6,
		     true);
	EXPECT_RANGE(3 * BITS_PER_LONG + 8, COUNTER_BITS_TOTAL - 1, false);

	*failures_out += failures;
}

#undef EXPECT
#undef EXPECT_RANGE

bool __init wg_noise_counter_selftest(void)
{
	unsigned int failures = 0;

	counter_test_basic(&failures);
	counter_test_edges(&failures);
	counter_test_wrap(&failures);
	if (failures) {
		pr_err("counter self-tests: FAIL (%u)\n", failures);
		return false;
	}
	pr_info("counter self-tests: pass\n");
	return true;
}
