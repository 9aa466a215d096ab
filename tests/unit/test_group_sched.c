/* test_group_sched.c: the limit group's GCRA arithmetic (aws/group_sched.h)
 * and the member's environment (runtime/group_gate.h), without DynamoDB. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "aws/group_sched.h"
#include "runtime/group_gate.h"

#define T 250000   /* 4/s */

static void test_empty_bucket_takes_a_whole_burst(void **state)
{
	(void)state;
	/* no booking yet (-1) or a TAT long past: k = b conforms at once */
	assert_true(gcra_conforms(-1, 1000000, 3, 3, T));
	assert_true(gcra_conforms(5, 1000000, 3, 3, T));
	assert_int_equal(gcra_after(-1, 1000000, 3, T), 1000000 + 3 * T);
	assert_int_equal(gcra_after(5, 1000000, 3, T), 1000000 + 3 * T);
	/* then the bucket is empty: one more only one interval later */
	int64_t tat = 1000000 + 3 * T;
	assert_false(gcra_conforms(tat, 1000000, 1, 3, T));
	assert_false(gcra_conforms(tat, 1000000 + T - 1, 1, 3, T));
	assert_true(gcra_conforms(tat, 1000000 + T, 1, 3, T));
	assert_int_equal(gcra_not_before(tat, 1000000, 1, 3, T), 1000000 + T);
	/* two need two intervals */
	assert_int_equal(gcra_not_before(tat, 1000000, 2, 3, T), 1000000 + 2 * T);
	/* more than the burst never conforms */
	assert_false(gcra_conforms(-1, 0, 4, 3, T));
}

static void test_tat_in_the_past_restarts_at_s(void **state)
{
	(void)state;
	/* a TAT behind s counts from s, not from the TAT (no credit saved up
	 * beyond the burst) */
	assert_int_equal(gcra_after(100, 10 * T, 1, T), 11 * T);
	assert_int_equal(gcra_not_before(100, 10 * T, 2, 2, T), 10 * T);
	/* TAT ahead of s by less than (b - k)T: conforms, appends to the TAT */
	assert_true(gcra_conforms(10 * T + T, 10 * T, 1, 2, T));
	assert_int_equal(gcra_after(10 * T + T, 10 * T, 1, T), 12 * T);
}

static void test_out_of_order_booking(void **state)
{
	(void)state;
	/* a booking for an earlier start after a later one: judged against the
	 * same TAT, so it may be refused though its own moment was free */
	int64_t tat = gcra_after(-1, 10 * T, 2, T);   /* b = 2 at 10T: TAT 12T */
	assert_false(gcra_conforms(tat, 9 * T, 1, 2, T));
	assert_int_equal(gcra_not_before(tat, 9 * T, 1, 2, T), 11 * T);
	assert_true(gcra_conforms(tat, 11 * T, 1, 2, T));
}

static void test_fit_is_the_room_left(void **state)
{
	(void)state;
	assert_int_equal(gcra_fit(-1, 0, 3, T), 3);
	assert_int_equal(gcra_fit(0, 10 * T, 3, T), 3);            /* TAT long past: a whole burst */
	assert_int_equal(gcra_fit(10 * T, 10 * T, 3, T), 3);
	assert_int_equal(gcra_fit(10 * T + 1, 10 * T, 3, T), 2);   /* a us short of three */
	assert_int_equal(gcra_fit(12 * T, 10 * T, 3, T), 1);
	assert_int_equal(gcra_fit(12 * T + 1, 10 * T, 3, T), 0);
	assert_int_equal(gcra_fit(20 * T, 10 * T, 3, T), 0);
	/* fit agrees with conforms */
	for (int64_t tat = 9 * T; tat < 14 * T; tat += T / 7)
		for (int k = 1; k <= 3; k++)
			assert_int_equal(gcra_conforms(tat, 10 * T, k, 3, T), k <= gcra_fit(tat, 10 * T, 3, T));
}

static uint64_t rng = 88172645463325252ULL;
static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

struct booking {
	int64_t s;
	int k;
};

static int by_start(const void *a, const void *b)
{
	const struct booking *x = a, *y = b;
	return x->s < y->s ? -1 : x->s > y->s;
}

/* Bookings in random order (starts jumping back and forth, refused ones
 * moved to their not-before as a member does): in every window [a, a + W]
 * from any start a, at most rate x W + b records. */
static void test_random_orders_hold_the_bound(void **state)
{
	(void)state;
	static const double windows[] = { 0.1, 0.5, 1, 2, 5, 10, 30 };
	for (int round = 0; round < 40; round++) {
		int burst = 1 + (int)(next() % 5);
		double rate = 0.5 + (double)(next() % 200) / 10.0;
		int64_t t = (int64_t)(1e6 / rate + 0.999999);
		enum { N = 600 };
		struct booking b[N];
		int64_t tat = -1, clock = 1000000;
		int n = 0;
		for (int i = 0; i < N; i++) {
			clock += (int64_t)(next() % (uint64_t)(2 * t / burst + 1));
			/* asked for up to 3 s before or after the clock */
			int64_t s = clock + (int64_t)(next() % 6000000) - 3000000;
			if (s < 0)
				s = 0;
			int k = 1 + (int)(next() % (uint64_t)burst);
			int fit = gcra_fit(tat, s, burst, t);
			if (fit >= 1 && fit < k && next() % 2)   /* as a member does: fewer records at the slot */
				k = fit;
			if (!gcra_conforms(tat, s, k, burst, t)) {
				int64_t nb = gcra_not_before(tat, s, k, burst, t);
				assert_true(nb > s);
				assert_true(gcra_conforms(tat, nb, k, burst, t));
				assert_false(gcra_conforms(tat, nb - 1, k, burst, t));
				s = nb;
			}
			tat = gcra_after(tat, s, k, t);
			b[n++] = (struct booking){ s, k };
		}
		qsort(b, (size_t)n, sizeof b[0], by_start);
		for (size_t w = 0; w < sizeof windows / sizeof windows[0]; w++) {
			double bound = rate * windows[w] + burst;
			for (int i = 0, j = 0, sum = 0; i < n; i++) {
				if (j < i) {
					j = i;
					sum = 0;
				}
				while (j < n && b[j].s <= b[i].s + (int64_t)(windows[w] * 1e6)) {
					sum += b[j].k;
					j++;
				}
				if (sum > bound + 1e-9)
					fail_msg("rate %g burst %d: %d records in %g s from %lld (bound %g)", rate, burst, sum,
						 windows[w], (long long)b[i].s, bound);
				sum -= b[i].k;
			}
		}
	}
}

/* Back to back at not-before, the group gets its whole rate: b at once,
 * then one interval per record. */
static void test_back_to_back_reaches_the_rate(void **state)
{
	(void)state;
	int64_t tat = -1, s = 0;
	int n = 0;
	while (s <= 10 * 1000000) {
		if (!gcra_conforms(tat, s, 1, 2, T))
			s = gcra_not_before(tat, s, 1, 2, T);
		if (s > 10 * 1000000)
			break;
		tat = gcra_after(tat, s, 1, T);
		n++;
	}
	assert_int_equal(n, 4 * 10 + 2);   /* rate x W + b, exactly */
}

static void test_parse_env(void **state)
{
	(void)state;
	struct ggate_conf c;
	char why[400];
	assert_int_equal(ggate_parse(NULL, NULL, NULL, "2", "tbl", &c, why, sizeof why), 0);
	assert_int_equal(ggate_parse("", "", "", NULL, NULL, &c, why, sizeof why), 0);
	assert_int_equal(ggate_parse("acme-api", "6", "2", "4", "tbl", &c, why, sizeof why), 1);
	assert_string_equal(c.name, "acme-api");
	assert_true(c.rate == 6.0 && c.burst == 2);
	assert_int_equal(ggate_parse("acme_API-2", "0.5", "10000", "4", "tbl", &c, why, sizeof why), 1);

	/* one without the others names the missing one and the one set */
	assert_true(ggate_parse("acme", NULL, "2", "4", "tbl", &c, why, sizeof why) < 0);
	assert_non_null(strstr(why, "TASKPIPE_LIMIT_GROUP_RATE is not set"));
	assert_non_null(strstr(why, "'acme'"));
	assert_true(ggate_parse(NULL, "6", NULL, "4", "tbl", &c, why, sizeof why) < 0);
	assert_non_null(strstr(why, "TASKPIPE_LIMIT_GROUP is not set"));
	assert_non_null(strstr(why, "TASKPIPE_LIMIT_GROUP_RATE is ('6')"));
	assert_true(ggate_parse("acme", "6", "", "4", "tbl", &c, why, sizeof why) < 0);
	assert_non_null(strstr(why, "TASKPIPE_LIMIT_GROUP_BURST is not set"));

	/* bad values name the variable and the value */
	assert_true(ggate_parse("acme api", "6", "2", "4", "tbl", &c, why, sizeof why) < 0);
	assert_non_null(strstr(why, "TASKPIPE_LIMIT_GROUP must be"));
	assert_non_null(strstr(why, "'acme api'"));
	assert_true(ggate_parse("limit#x", "6", "2", "4", "tbl", &c, why, sizeof why) < 0);
	char long_name[202];
	memset(long_name, 'a', 201);
	long_name[201] = 0;
	assert_true(ggate_parse(long_name, "6", "2", "4", "tbl", &c, why, sizeof why) < 0);
	long_name[200] = 0;
	assert_int_equal(ggate_parse(long_name, "6", "2", "4", "tbl", &c, why, sizeof why), 1);
	const char *bad_rates[] = { "fast", "0", "-1", "6/s", "nan", "inf" };
	for (size_t i = 0; i < sizeof bad_rates / sizeof bad_rates[0]; i++) {
		assert_true(ggate_parse("acme", bad_rates[i], "2", "4", "tbl", &c, why, sizeof why) < 0);
		assert_non_null(strstr(why, "TASKPIPE_LIMIT_GROUP_RATE must be"));
		assert_non_null(strstr(why, bad_rates[i]));
	}
	const char *bad_bursts[] = { "two", "0", "10001", "1.5", "-2" };
	for (size_t i = 0; i < sizeof bad_bursts / sizeof bad_bursts[0]; i++) {
		assert_true(ggate_parse("acme", "6", bad_bursts[i], "4", "tbl", &c, why, sizeof why) < 0);
		assert_non_null(strstr(why, "TASKPIPE_LIMIT_GROUP_BURST must be"));
		assert_non_null(strstr(why, bad_bursts[i]));
	}
	/* the group's item is in the state table; a member is paced */
	assert_true(ggate_parse("acme", "6", "2", "4", NULL, &c, why, sizeof why) < 0);
	assert_non_null(strstr(why, "TASKPIPE_RATE_TABLE is not"));
	assert_true(ggate_parse("acme", "6", "2", "", "tbl", &c, why, sizeof why) < 0);
	assert_non_null(strstr(why, "TASKPIPE_RATE is not"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_bucket_takes_a_whole_burst),
		cmocka_unit_test(test_tat_in_the_past_restarts_at_s),
		cmocka_unit_test(test_out_of_order_booking),
		cmocka_unit_test(test_fit_is_the_room_left),
		cmocka_unit_test(test_random_orders_hold_the_bound),
		cmocka_unit_test(test_back_to_back_reaches_the_rate),
		cmocka_unit_test(test_parse_env),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
