/* test_pace.c: the consumer proxy's token bucket, AIMD and event helpers. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/base.h"
#include "runtime/consume.h"
#include "runtime/pace.h"
#include "runtime/subbatch.h"
#include "aws/budget.h"

#define S 1000000LL   /* one second in us */

static void test_parse(void **state)
{
	double share = 0;
	char why[200];
	assert_int_equal(pace_parse("2", "2", &share, why, sizeof why), TP_OK);
	assert_true(share == 1.0);
	assert_int_equal(pace_parse("0.5", NULL, &share, why, sizeof why), TP_OK);
	assert_true(share == 0.5);
	assert_int_equal(pace_parse("3", "4", &share, why, sizeof why), TP_OK);
	assert_true(share == 0.75);
	const char *bad_rate[] = { "0", "-1", "x", "", "2/s", "nan", "inf" };
	for (size_t i = 0; i < sizeof bad_rate / sizeof *bad_rate; i++) {
		assert_int_equal(pace_parse(bad_rate[i], "1", &share, why, sizeof why), TP_EINVAL);
		assert_non_null(strstr(why, "TASKPIPE_RATE"));
	}
	assert_int_equal(pace_parse(NULL, "1", &share, why, sizeof why), TP_EINVAL);
	const char *bad_conc[] = { "0", "-2", "1.5", "two" };
	for (size_t i = 0; i < sizeof bad_conc / sizeof *bad_conc; i++) {
		assert_int_equal(pace_parse("1", bad_conc[i], &share, why, sizeof why), TP_EINVAL);
		assert_non_null(strstr(why, "TASKPIPE_CONCURRENCY"));
	}
}

/* A new instance starts one batch at once; then k records every k/share s. */
static void test_bucket(void **state)
{
	struct pace p;
	pace_init(&p, 1.0);
	int64_t t = 100 * S;
	assert_int_equal(pace_wait_us(&p, 2, t), 0);
	pace_take(&p, 2, t);
	assert_int_equal(pace_wait_us(&p, 2, t), 2 * S);
	assert_int_equal(pace_wait_us(&p, 2, t + S), S);
	t += 2 * S;
	assert_int_equal(pace_wait_us(&p, 2, t), 0);
	pace_take(&p, 2, t);
	/* idle for long: the bucket holds one batch, no more */
	t += 100 * S;
	assert_int_equal(pace_wait_us(&p, 2, t), 0);
	pace_take(&p, 2, t);
	assert_true(pace_wait_us(&p, 1, t) > 0);
	/* a bigger batch grows the bucket to it */
	assert_int_equal(pace_wait_us(&p, 5, t), 5 * S);
}

/* Over a long run the records started never exceed share * T + one batch. */
static void test_long_run_bound(void **state)
{
	struct pace p;
	pace_init(&p, 0.75);
	int64_t t = S, start = t;
	long started = 0;
	for (int i = 0; i < 1000; i++) {
		int k = 1 + i % 4;
		t += pace_wait_us(&p, k, t);
		pace_take(&p, k, t);
		started += k;
		double allowed = 0.75 * (double)(t - start) / S + 4;
		assert_true((double)started <= allowed + 1e-6);
	}
	/* and the pace is sustained: at least 99% of the share */
	assert_true((double)(started - 4) / ((double)(t - start) / S) >= 0.99 * 0.75);
}

static void test_aimd(void **state)
{
	struct pace p;
	pace_init(&p, 2.0);
	pace_feedback(&p, 1, S);
	assert_true(p.share > 1.6999 && p.share < 1.7001);   /* x0.85 */
	pace_feedback(&p, 1, S);
	assert_true(p.share > 1.4449 && p.share < 1.4451);
	for (int i = 0; i < 20; i++)
		pace_feedback(&p, 1, S);
	assert_true(p.share == 2.0 / 8);   /* floor */
	/* time without pushback brings it back too: 5% of the configured share a second */
	struct pace q = p;
	pace_idle(&q, S + 10 * S);
	assert_true(q.share > 1.249 && q.share < 1.251);
	pace_feedback(&p, 0, S);
	assert_true(p.share > 0.349 && p.share < 0.351);   /* +5% of 2 */
	int n = 0;
	while (p.share < 2.0 && n < 100) {
		pace_feedback(&p, 0, S);   /* +20% once that is more */
		n++;
	}
	assert_true(n > 5 && n <= 12);
	for (int i = 0; i < 100; i++)
		pace_feedback(&p, 0, S);
	assert_true(p.share == 2.0);       /* never above the configured share */
	/* a lower share means longer waits */
	pace_init(&p, 1.0);
	pace_feedback(&p, 1, S);
	assert_int_equal(pace_wait_us(&p, 1, 2 * S), 0);
	pace_take(&p, 1, 2 * S);
	assert_int_equal(pace_wait_us(&p, 1, 2 * S), 1176471);
}

static void test_event_helpers(void **state)
{
	cJSON *ev = cJSON_Parse("{\"Records\":[{\"messageId\":\"a\"},{\"messageId\":\"b\"},{\"messageId\":\"c\"}]}");
	assert_int_equal(consume_count_records(ev), 3);
	cJSON_Delete(ev);
	ev = cJSON_Parse("{\"taskpipe\":\"plan\"}");
	assert_int_equal(consume_count_records(ev), 1);
	cJSON_Delete(ev);
	assert_int_equal(consume_count_records(NULL), 1);

	char url[300], region[32];
	assert_int_equal(consume_queue_url("arn:aws:sqs:eu-west-1:123456789012:tp-a", url, sizeof url, region,
					   sizeof region), TP_OK);
	assert_string_equal(url, "https://sqs.eu-west-1.amazonaws.com/123456789012/tp-a");
	assert_string_equal(region, "eu-west-1");
	assert_int_equal(consume_queue_url("arn:aws-cn:sqs:cn-north-1:123456789012:q", url, sizeof url, region,
					   sizeof region), TP_OK);
	assert_string_equal(url, "https://sqs.cn-north-1.amazonaws.com.cn/123456789012/q");
	const char *bad[] = { "", "arn:aws:sqs:us-east-1:123", "arn:aws:sns:us-east-1:1:t", "arn:aws:sqs::1:q",
			      "nope:aws:sqs:us-east-1:1:q" };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		assert_int_equal(consume_queue_url(bad[i], url, sizeof url, region, sizeof region), TP_EINVAL);
}

/* Lanes: slot m of the grid belongs to lane m % lanes; the first slot of a
 * lane at or after both its tat and now. */
static void test_lane_first_and_fit(void **state)
{
	int64_t step = 500000;   /* 2 slots/s */
	assert_int_equal(budget_lane_first(-1, 10 * S, 0, 3, step), 10500000);   /* 21 * 0.5 s, 21 % 3 == 0 */
	assert_int_equal(budget_lane_first(-1, 10 * S, 1, 3, step), 11 * S);     /* slot 22 */
	assert_int_equal(budget_lane_first(-1, 10 * S, 2, 3, step), 10 * S);     /* slot 20, on time */
	assert_int_equal(budget_lane_first(12 * S, 10 * S, 2, 3, step), 13 * S); /* booked to 12 s: slot 26 */
	assert_int_equal(budget_lane_first(-1, 0, 1, 3, step), step);
	assert_int_equal(budget_lane_fit(10 * S, 10 * S, 5, 3, step), 1);
	assert_int_equal(budget_lane_fit(10 * S, 13 * S, 5, 3, step), 3);   /* 10, 11.5, 13 */
	assert_int_equal(budget_lane_fit(10 * S, 100 * S, 5, 3, step), 5);
	assert_int_equal(budget_lane_fit(10 * S, 9 * S, 5, 3, step), 0);
}

/* Instances booking batches of random sizes in random lanes at random
 * moments: every slot is booked once at most, so any W seconds see at most
 * rate x W + burst records start (each slot holds burst records). */
static void test_lanes_hold_the_bound(void **state)
{
	enum { LANES = 4, BURST = 2, N = 4000 };
	double rate = 3.0;
	int64_t step = budget_step_us(rate / BURST), tat[LANES];
	for (int i = 0; i < LANES; i++)
		tat[i] = -1;
	int64_t *starts = calloc(N * 10, sizeof *starts);
	long n = 0;
	int64_t now = 1000 * S;
	srand(7);
	while (n < N) {
		now += rand() % (int)(2 * S);
		int lane = rand() % LANES, subs = 1 + rand() % 5;
		int64_t first = budget_lane_first(tat[lane], now, lane, LANES, step);
		int fit = budget_lane_fit(first, now + 20 * S, subs, LANES, step);
		for (int j = 0; j < fit; j++)
			for (int r = 0; r < BURST; r++)
				starts[n++] = first + (int64_t)j * LANES * step;
		if (fit)
			tat[lane] = first + (int64_t)fit * LANES * step;
	}
	/* sort (insertion: nearly sorted already) */
	for (long i = 1; i < n; i++)
		for (long j = i; j > 0 && starts[j - 1] > starts[j]; j--) {
			int64_t x = starts[j];
			starts[j] = starts[j - 1];
			starts[j - 1] = x;
		}
	const double windows[] = { 0.5, 1, 2, 5, 10, 30, 60 };
	for (size_t w = 0; w < sizeof windows / sizeof *windows; w++) {
		long j = 0;
		for (long i = 0; i < n; i++) {
			if (j < i)
				j = i;
			while (j < n && starts[j] <= starts[i] + (int64_t)(windows[w] * S))
				j++;
			assert_true((double)(j - i) <= rate * windows[w] + BURST + 1e-9);
		}
	}
	free(starts);
}

static void test_subbatches(void **state)
{
	cJSON *ev = cJSON_Parse("{\"Records\":[{\"messageId\":\"a\"},{\"messageId\":\"b\"},"
				"{\"messageId\":\"c\"},{\"messageId\":\"d\"}]}");
	cJSON *sub = subbatch_event(ev, 1, 2);
	char *s = cJSON_PrintUnformatted(sub);
	assert_string_equal(s, "{\"Records\":[{\"messageId\":\"b\"},{\"messageId\":\"c\"}]}");
	free(s);
	cJSON_Delete(sub);
	cJSON *fails = cJSON_CreateArray();
	/* success forms: no answer, not an object, no / null / empty list */
	const char *ok[] = { NULL, "3", "{}", "{\"batchItemFailures\":null}", "{\"batchItemFailures\":[]}" };
	for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
		cJSON *a = ok[i] ? cJSON_Parse(ok[i]) : NULL;
		assert_int_equal(subbatch_merge(fails, a, ev, 0, 2), 0);
		cJSON_Delete(a);
	}
	/* one listed: that one */
	cJSON *a = cJSON_Parse("{\"batchItemFailures\":[{\"itemIdentifier\":\"b\"}]}");
	assert_int_equal(subbatch_merge(fails, a, ev, 0, 2), 1);
	assert_int_equal(subbatch_merge(fails, a, ev, 0, 2), 0);   /* never twice */
	cJSON_Delete(a);
	/* an id of another sub-batch, an empty id, not a list: the whole sub-batch */
	const char *bad[] = { "{\"batchItemFailures\":[{\"itemIdentifier\":\"a\"}]}",
			      "{\"batchItemFailures\":[{\"itemIdentifier\":\"\"}]}", "{\"batchItemFailures\":7}" };
	cJSON *other = cJSON_Parse(bad[0]);
	assert_int_equal(subbatch_merge(fails, other, ev, 2, 2), 2);   /* c, d */
	cJSON_Delete(other);
	cJSON *f2 = cJSON_CreateArray();
	for (int i = 1; i < 3; i++) {
		cJSON *b = cJSON_Parse(bad[i]);
		/* both fail record a; the second finds it listed already */
		assert_int_equal(subbatch_merge(f2, b, ev, 0, 1), i == 1 ? 1 : 0);
		cJSON_Delete(b);
	}
	s = cJSON_PrintUnformatted(fails);
	assert_string_equal(s, "[{\"itemIdentifier\":\"b\"},{\"itemIdentifier\":\"c\"},{\"itemIdentifier\":\"d\"}]");
	free(s);
	subbatch_fail(fails, ev, 0, 4);
	assert_int_equal(cJSON_GetArraySize(fails), 4);
	cJSON_Delete(fails);
	cJSON_Delete(f2);
	cJSON_Delete(ev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_bucket),
		cmocka_unit_test(test_long_run_bound),
		cmocka_unit_test(test_aimd),
		cmocka_unit_test(test_event_helpers),
		cmocka_unit_test(test_lane_first_and_fit),
		cmocka_unit_test(test_lanes_hold_the_bound),
		cmocka_unit_test(test_subbatches),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
