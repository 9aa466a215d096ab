/* test_budget.c: token bucket refill, take and wait math with injected time. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "budget.h"

static void test_burst_then_empty(void **state)
{
	(void)state;
	struct budget b;
	budget_init(&b, 15, 15, 1000);
	for (int i = 0; i < 15; i++)
		assert_int_equal(budget_take(&b, 1000), 1);
	assert_int_equal(budget_take(&b, 1000), 0);
	/* 15/s: one token every 66.67 ms, so 67 ms */
	assert_int_equal(budget_wait_ms(&b, 1000), 67);
	assert_int_equal(budget_take(&b, 1066), 0);
	assert_int_equal(budget_wait_ms(&b, 1066), 1);
	assert_int_equal(budget_take(&b, 1067), 1);
	assert_int_equal(budget_take(&b, 1067), 0);
}

static void test_refill_capped(void **state)
{
	(void)state;
	struct budget b;
	budget_init(&b, 10, 5, 0);
	for (int i = 0; i < 5; i++)
		assert_int_equal(budget_take(&b, 0), 1);
	assert_int_equal(budget_take(&b, 0), 0);
	/* 250 ms at 10/s = 2.5 tokens */
	assert_int_equal(budget_take(&b, 250), 1);
	assert_int_equal(budget_take(&b, 250), 1);
	assert_int_equal(budget_take(&b, 250), 0);
	assert_int_equal(budget_wait_ms(&b, 250), 50);
	/* an hour idle refills only up to the burst */
	int n = 0;
	while (budget_take(&b, 3600000))
		n++;
	assert_int_equal(n, 5);
}

static void test_wait_rounds_up(void **state)
{
	(void)state;
	struct budget b;
	/* rates whose period is not a whole number of ms: waiting the reported
	 * time must always make a token available, one ms less must not */
	double rates[] = { 15, 3, 7, 0.3, 100, 1000, 2500, 33.3 };
	for (size_t r = 0; r < sizeof rates / sizeof rates[0]; r++) {
		int64_t now = 5000;
		budget_init(&b, rates[r], 1, now);
		for (int i = 0; i < 50; i++) {
			assert_int_equal(budget_take(&b, now), 1);
			int64_t w = budget_wait_ms(&b, now);
			assert_true(w >= 1);
			struct budget early = b;
			assert_int_equal(budget_take(&early, now + w - 1), 0);
			now += w;
			assert_int_equal(budget_wait_ms(&b, now), 0);
		}
	}
}

/* A level where ceil() alone comes out 1 ms short because of rounding:
 * (1 - t) * 1000 / 79.9 is a hair under 8, yet t + 8 * 79.9 / 1000 < 1. */
static void test_wait_rounding_edge(void **state)
{
	(void)state;
	struct budget b;
	budget_init(&b, 79.9, 1, 0);
	b.tokens = 0.3607999999999999;
	assert_int_equal(budget_wait_ms(&b, 0), 9);
	struct budget early = b;
	assert_int_equal(budget_take(&early, 8), 0);
	assert_int_equal(budget_take(&b, 9), 1);
}

static void test_unlimited(void **state)
{
	(void)state;
	struct budget b;
	budget_init(&b, 0, 1, 0);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(budget_take(&b, 0), 1);
	assert_int_equal(budget_wait_ms(&b, 0), 0);
	budget_throttled(&b, 0);
	assert_int_equal(budget_take(&b, 0), 1);
	budget_init(&b, -1, 1, 0);
	assert_int_equal(budget_take(&b, 0), 1);
	assert_int_equal(budget_wait_ms(&b, 0), 0);
}

static void test_throttled_empties(void **state)
{
	(void)state;
	struct budget b;
	budget_init(&b, 100, 100, 0);
	assert_int_equal(budget_take(&b, 0), 1);
	budget_throttled(&b, 10);
	assert_int_equal(budget_take(&b, 10), 0);
	assert_int_equal(budget_wait_ms(&b, 10), 10);
	assert_int_equal(budget_take(&b, 20), 1);
}

static void test_odd_inputs(void **state)
{
	(void)state;
	struct budget b;
	/* a burst below one token still lets calls through at the rate */
	budget_init(&b, 1, 0, 0);
	assert_int_equal(budget_take(&b, 0), 1);
	assert_int_equal(budget_wait_ms(&b, 0), 1000);
	assert_int_equal(budget_take(&b, 1000), 1);
	/* time going backwards refills nothing and never gives a negative wait */
	budget_init(&b, 10, 1, 1000);
	assert_int_equal(budget_take(&b, 1000), 1);
	assert_int_equal(budget_take(&b, 500), 0);
	assert_int_equal(budget_wait_ms(&b, 500), 600);
	assert_int_equal(budget_take(&b, 1100), 1);
	/* a tiny rate: the wait is capped at a day, not overflowed */
	budget_init(&b, 1e-12, 1, 0);
	assert_int_equal(budget_take(&b, 0), 1);
	assert_int_equal(budget_wait_ms(&b, 0), 86400000);
	/* extreme clocks do not overflow */
	budget_init(&b, 1, 1, INT64_MIN);
	assert_int_equal(budget_take(&b, INT64_MIN), 1);
	assert_int_equal(budget_take(&b, INT64_MAX), 1);
	assert_int_equal(budget_wait_ms(&b, INT64_MIN), 86400000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_burst_then_empty),
		cmocka_unit_test(test_refill_capped),
		cmocka_unit_test(test_wait_rounds_up),
		cmocka_unit_test(test_wait_rounding_edge),
		cmocka_unit_test(test_unlimited),
		cmocka_unit_test(test_throttled_empties),
		cmocka_unit_test(test_odd_inputs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
