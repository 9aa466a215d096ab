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
	assert_true(p.share == 1.0);
	pace_feedback(&p, 1, S);
	assert_true(p.share == 0.5);
	for (int i = 0; i < 20; i++)
		pace_feedback(&p, 1, S);
	assert_true(p.share == 2.0 / 64);   /* floor */
	pace_feedback(&p, 0, S);
	assert_true(p.share > 2.0 / 64 + 0.099 && p.share < 2.0 / 64 + 0.101);
	for (int i = 0; i < 100; i++)
		pace_feedback(&p, 0, S);
	assert_true(p.share == 2.0);       /* never above the configured share */
	/* a lower share means longer waits */
	pace_feedback(&p, 1, S);
	assert_int_equal(pace_wait_us(&p, 1, 2 * S), 0);
	pace_take(&p, 1, 2 * S);
	assert_int_equal(pace_wait_us(&p, 1, 2 * S), S);
}

static void test_event_helpers(void **state)
{
	cJSON *ev = cJSON_Parse("{\"Records\":[{\"messageId\":\"a\"},{\"messageId\":\"b\"},{\"messageId\":\"c\"}]}");
	assert_int_equal(consume_count_records(ev), 3);
	char *f = consume_all_failures(ev);
	assert_string_equal(f, "{\"batchItemFailures\":[{\"itemIdentifier\":\"a\"},{\"itemIdentifier\":\"b\"},"
			       "{\"itemIdentifier\":\"c\"}]}");
	free(f);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_bucket),
		cmocka_unit_test(test_long_run_bound),
		cmocka_unit_test(test_aimd),
		cmocka_unit_test(test_event_helpers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
