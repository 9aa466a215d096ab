/* test_budget.c: token bucket refill, take and wait math with injected time. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "aws/budget.h"

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

static void test_step_and_claim_size(void **state)
{
	(void)state;
	assert_int_equal(budget_step_us(15), 66667);
	assert_int_equal(budget_step_us(12), 83334);
	assert_int_equal(budget_step_us(100), 10000);
	assert_int_equal(budget_step_us(0), 1);
	assert_int_equal(budget_step_us(1e9), 1);
	/* up to half a second's worth, at least one */
	assert_int_equal(budget_claim_size(0, 0, 15), 1);
	assert_int_equal(budget_claim_size(3, 1, 15), 3);
	assert_int_equal(budget_claim_size(1, 5, 15), 5);
	assert_int_equal(budget_claim_size(40, 0, 15), 7);
	assert_int_equal(budget_claim_size(400, 0, 100), 50);
	assert_int_equal(budget_claim_size(5, 0, 1), 1);
	assert_int_equal(budget_claim_size(-3, -1, 15), 1);
}

static void test_book(void **state)
{
	(void)state;
	struct budget_booking b;
	/* nothing recorded, or the schedule idle: start now */
	budget_book(-1, 1000000, 5, 66667, 2000000, &b);
	assert_int_equal(b.ok, 1);
	assert_int_equal(b.start_us, 1000000);
	assert_int_equal(b.new_tat_us, 1000000 + 5 * 66667);
	budget_book(400000, 1000000, 2, 100, 2000000, &b);
	assert_int_equal(b.start_us, 1000000);
	assert_int_equal(b.new_tat_us, 1000200);
	/* busy: after the last booked slot */
	budget_book(1500000, 1000000, 3, 100000, 2000000, &b);
	assert_int_equal(b.ok, 1);
	assert_int_equal(b.start_us, 1500000);
	assert_int_equal(b.new_tat_us, 1800000);
	/* exactly at the horizon still books */
	budget_book(3000000, 1000000, 1, 100000, 2000000, &b);
	assert_int_equal(b.ok, 1);
	/* beyond it: wait until the horizon reaches it */
	budget_book(3500000, 1000000, 1, 100000, 2000000, &b);
	assert_int_equal(b.ok, 0);
	assert_int_equal(b.wait_us, 500000);
	assert_int_equal(b.new_tat_us, 3500000);
}

static void test_grant(void **state)
{
	(void)state;
	struct budget_grant g = { .start_us = 1000000, .step_us = 100000, .count = 3, .used = 0 };
	/* never before the slot */
	assert_int_equal(budget_grant_wait_us(&g, 900000), 100000);
	assert_int_equal(budget_grant_take(&g, 999999), 0);
	assert_int_equal(budget_grant_take(&g, 1000000), 1);
	assert_int_equal(budget_grant_take(&g, 1000000), 0);
	assert_int_equal(budget_grant_wait_us(&g, 1000000), 100000);
	/* a little late is fine */
	assert_int_equal(budget_grant_take(&g, 1100000 + BUDGET_LATE_US), 1);
	/* a slot long past is dropped, not burst */
	assert_int_equal(budget_grant_wait_us(&g, 1200000 + BUDGET_LATE_US + 1), -1);
	assert_int_equal(budget_grant_take(&g, 5000000), 0);
	assert_int_equal(g.used, 3);
	/* throttled: the rest is given up */
	struct budget_grant h = { .start_us = 0, .step_us = 10, .count = 5, .used = 1 };
	budget_grant_drop(&h);
	assert_int_equal(budget_grant_wait_us(&h, 10), -1);
}

/* Four processes share one tat (as through the state table): two claim for
 * the whole account rate (operators, 15/s), two as controllers at 12/s
 * (their slots weigh 1/12 s). Each claims when its grant runs out and sends
 * at every slot. In every 1 s window the account sends at most 15 (+1 for
 * the window edges) and the controllers together at most 12 (+1). */
static void test_shared_schedule_stays_under_rate(void **state)
{
	(void)state;
	enum { P = 4, HORIZON = 2000000 };
	struct budget_grant g[P] = { { 0 } };
	int64_t step[P] = { budget_step_us(15), budget_step_us(15), budget_step_us(12), budget_step_us(12) };
	int ksz[P] = { 7, 3, 6, 1 };
	int64_t tat = -1;
	static int64_t sent_at[20000];
	static int who[20000];
	int n = 0, claims = 0;
	for (int64_t now = 0; now < 20000000 && n < 20000; now += 1000) {
		for (int p = 0; p < P; p++) {
			if (budget_grant_wait_us(&g[p], now) < 0) {
				struct budget_booking b;
				budget_book(tat, now, ksz[p], step[p], HORIZON, &b);
				if (!b.ok)
					continue;
				tat = b.new_tat_us;
				g[p] = (struct budget_grant){ b.start_us, step[p], ksz[p], 0 };
				claims++;
			}
			if (budget_grant_take(&g[p], now)) {
				sent_at[n] = now;
				who[n++] = p;
			}
		}
	}
	assert_true(n > 250); /* ~14/s over 20 s */
	int max_all = 0, max_ctl = 0;
	for (int i = 0; i < n; i++) {
		int all = 0, ctl = 0;
		for (int j = i; j < n && sent_at[j] < sent_at[i] + 1000000; j++) {
			all++;
			ctl += who[j] >= 2;
		}
		if (all > max_all)
			max_all = all;
		if (ctl > max_ctl)
			max_ctl = ctl;
	}
	assert_true(max_all <= 16);
	assert_true(max_ctl <= 13);
	/* claims of several tokens: far fewer writes than requests */
	assert_true(claims * 2 < n);
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
		cmocka_unit_test(test_step_and_claim_size),
		cmocka_unit_test(test_book),
		cmocka_unit_test(test_grant),
		cmocka_unit_test(test_shared_schedule_stays_under_rate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
