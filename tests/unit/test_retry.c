/* test_retry.c: classification, delay math with injected randomness,
 * retry-after, and the retry quota of standard retry mode. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/retry.h"

static void test_classify_throttle(void **state)
{
	(void)state;
	const char *codes[] = {
		"Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
		"TooManyRequestsException", "ProvisionedThroughputExceededException",
		"TransactionInProgressException", "RequestLimitExceeded", "BandwidthLimitExceeded",
		"LimitExceededException", "RequestThrottled", "SlowDown", "PriorRequestNotComplete",
		"EC2ThrottledException",
	};
	for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
		assert_int_equal(retry_classify(400, codes[i], 0), RETRY_THROTTLE);
	assert_int_equal(retry_classify(429, NULL, 0), RETRY_THROTTLE);
	assert_int_equal(retry_classify(429, "Http429", 0), RETRY_THROTTLE);
	/* S3 SlowDown comes as a 503: still a throttle, not a transient error */
	assert_int_equal(retry_classify(503, "SlowDown", 0), RETRY_THROTTLE);
}

static void test_classify_transient(void **state)
{
	(void)state;
	const char *codes[] = {
		"RequestTimeout", "RequestTimeoutException", "InternalError", "InternalFailure",
		"ServiceUnavailable", "IDPCommunicationError",
	};
	for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
		assert_int_equal(retry_classify(400, codes[i], 0), RETRY_TRANSIENT);
	long st[] = { 500, 502, 503, 504 };
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(retry_classify(st[i], NULL, 0), RETRY_TRANSIENT);
		assert_int_equal(retry_classify(st[i], "Http500", 0), RETRY_TRANSIENT);
	}
	/* transport failure: no status, no code */
	assert_int_equal(retry_classify(0, NULL, 1), RETRY_TRANSIENT);
	assert_int_equal(retry_classify(200, NULL, 1), RETRY_TRANSIENT);
}

static void test_classify_no(void **state)
{
	(void)state;
	assert_int_equal(retry_classify(200, NULL, 0), RETRY_NO);
	assert_int_equal(retry_classify(0, NULL, 0), RETRY_NO);
	assert_int_equal(retry_classify(400, "ValidationException", 0), RETRY_NO);
	assert_int_equal(retry_classify(400, "ConditionalCheckFailedException", 0), RETRY_NO);
	assert_int_equal(retry_classify(404, "ResourceNotFoundException", 0), RETRY_NO);
	/* the caller waits for the function update instead */
	assert_int_equal(retry_classify(409, "ResourceConflictException", 0), RETRY_NO);
	assert_int_equal(retry_classify(403, "AccessDeniedException", 0), RETRY_NO);
	assert_int_equal(retry_classify(501, NULL, 0), RETRY_NO);
	assert_int_equal(retry_classify(400, "", 0), RETRY_NO);
	/* codes are case-sensitive, exact */
	assert_int_equal(retry_classify(400, "throttling", 0), RETRY_NO);
	assert_int_equal(retry_classify(400, "ThrottlingExceptionX", 0), RETRY_NO);
}

static void test_policies(void **state)
{
	(void)state;
	struct retry_policy p;
	retry_policy_default(&p);
	assert_int_equal(p.max_attempts, 3);
	assert_int_equal(p.base_transient_ms, 50);
	assert_int_equal(p.base_throttle_ms, 1000);
	assert_int_equal(p.max_backoff_ms, 20000);
	retry_policy_dynamodb(&p);
	assert_int_equal(p.max_attempts, 4);
	assert_int_equal(p.base_transient_ms, 25);
	assert_int_equal(p.base_throttle_ms, 1000);
	assert_int_equal(p.max_backoff_ms, 20000);
}

static void test_delay_math(void **state)
{
	(void)state;
	struct retry_policy p;
	retry_policy_default(&p);
	/* transient: 50 * 2^(attempt-1) */
	assert_int_equal(retry_delay_ms(&p, RETRY_TRANSIENT, 1, 0.0, -1), 0);
	assert_int_equal(retry_delay_ms(&p, RETRY_TRANSIENT, 1, 0.5, -1), 25);
	assert_int_equal(retry_delay_ms(&p, RETRY_TRANSIENT, 1, 1.0, -1), 50);
	assert_int_equal(retry_delay_ms(&p, RETRY_TRANSIENT, 2, 1.0, -1), 100);
	assert_int_equal(retry_delay_ms(&p, RETRY_TRANSIENT, 3, 0.5, -1), 100);
	/* throttle: 1000 * 2^(attempt-1), capped at 20 s */
	assert_int_equal(retry_delay_ms(&p, RETRY_THROTTLE, 1, 0.0, -1), 0);
	assert_int_equal(retry_delay_ms(&p, RETRY_THROTTLE, 1, 0.5, -1), 500);
	assert_int_equal(retry_delay_ms(&p, RETRY_THROTTLE, 1, 1.0, -1), 1000);
	assert_int_equal(retry_delay_ms(&p, RETRY_THROTTLE, 5, 1.0, -1), 16000);
	assert_int_equal(retry_delay_ms(&p, RETRY_THROTTLE, 6, 1.0, -1), 20000);
	assert_int_equal(retry_delay_ms(&p, RETRY_THROTTLE, 6, 0.5, -1), 10000);
	/* huge attempt counts neither overflow nor pass the cap */
	assert_int_equal(retry_delay_ms(&p, RETRY_THROTTLE, 1000000, 1.0, -1), 20000);
	assert_int_equal(retry_delay_ms(&p, RETRY_TRANSIENT, 64, 1.0, -1), 20000);
	/* transient reaches the cap too: 50 * 2^9 = 25600 > 20000 */
	assert_int_equal(retry_delay_ms(&p, RETRY_TRANSIENT, 9, 1.0, -1), 12800);
	assert_int_equal(retry_delay_ms(&p, RETRY_TRANSIENT, 10, 1.0, -1), 20000);
	/* attempt below 1 counts as the first; rand01 out of range is clamped */
	assert_int_equal(retry_delay_ms(&p, RETRY_TRANSIENT, 0, 1.0, -1), 50);
	assert_int_equal(retry_delay_ms(&p, RETRY_TRANSIENT, 1, 7.0, -1), 50);
	assert_int_equal(retry_delay_ms(&p, RETRY_TRANSIENT, 1, -3.0, -1), 0);
	/* not retryable: no delay */
	assert_int_equal(retry_delay_ms(&p, RETRY_NO, 3, 1.0, -1), 0);

	retry_policy_dynamodb(&p);
	assert_int_equal(retry_delay_ms(&p, RETRY_TRANSIENT, 1, 1.0, -1), 25);
	assert_int_equal(retry_delay_ms(&p, RETRY_TRANSIENT, 3, 1.0, -1), 100);
}

static void test_retry_after(void **state)
{
	(void)state;
	struct retry_policy p;
	retry_policy_default(&p);
	/* the hint replaces the computed delay, whatever rand01 says */
	assert_int_equal(retry_delay_ms(&p, RETRY_THROTTLE, 1, 0.0, 1500), 1500);
	assert_int_equal(retry_delay_ms(&p, RETRY_TRANSIENT, 3, 1.0, 7), 7);
	assert_int_equal(retry_delay_ms(&p, RETRY_THROTTLE, 1, 1.0, 0), 0);
	/* and is capped at max_backoff */
	assert_int_equal(retry_delay_ms(&p, RETRY_THROTTLE, 1, 1.0, 60000), 20000);
	assert_int_equal(retry_delay_ms(&p, RETRY_THROTTLE, 1, 1.0, INT64_MAX), 20000);
}

static void test_quota(void **state)
{
	(void)state;
	struct retry_quota q;
	retry_quota_init(&q, 500);
	assert_int_equal(q.tokens, 500);
	assert_int_equal(q.max, 500);
	/* 500 / 5 = exactly 100 retries, then none */
	int n = 0;
	while (retry_quota_take(&q, 0) == 5)
		n++;
	assert_int_equal(n, 100);
	assert_int_equal(q.tokens, 0);
	assert_int_equal(retry_quota_take(&q, 0), 0);
	assert_int_equal(retry_quota_take(&q, 1), 0);

	/* io errors cost 10: 50 of them */
	retry_quota_init(&q, 500);
	n = 0;
	while (retry_quota_take(&q, 1) == 10)
		n++;
	assert_int_equal(n, 50);

	/* 7 tokens left: one 5-cost retry fits, a 10-cost one does not */
	retry_quota_init(&q, 500);
	q.tokens = 7;
	assert_int_equal(retry_quota_take(&q, 1), 0);
	assert_int_equal(q.tokens, 7);
	assert_int_equal(retry_quota_take(&q, 0), 5);
	assert_int_equal(q.tokens, 2);

	/* a retried call that succeeds gives its cost back */
	retry_quota_success(&q, 5);
	assert_int_equal(q.tokens, 7);
	/* a first-try success adds 1 */
	retry_quota_success(&q, 0);
	assert_int_equal(q.tokens, 8);
	/* never above capacity */
	retry_quota_init(&q, 500);
	retry_quota_success(&q, 0);
	assert_int_equal(q.tokens, 500);
	q.tokens = 495;
	retry_quota_success(&q, 15);
	assert_int_equal(q.tokens, 500);
	/* a bad capacity falls back to the standard 500 */
	retry_quota_init(&q, 0);
	assert_int_equal(q.max, 500);
	assert_int_equal(q.tokens, 500);
}

/* One simulated call of the standard loop against an always-failing
 * service: returns the number of tries made. */
static int simulate(const struct retry_policy *p, struct retry_quota *q, int io_error)
{
	int tries = 1;
	while (tries < p->max_attempts) {
		int cls = retry_classify(io_error ? 0 : 503, NULL, io_error);
		if (cls == RETRY_NO || !retry_quota_take(q, io_error))
			break;
		tries++;
	}
	return tries;
}

static void test_quota_stops_storm(void **state)
{
	(void)state;
	struct retry_policy p;
	struct retry_quota q;
	retry_policy_default(&p);
	retry_quota_init(&q, 500);
	/* each failing call retries twice (10 tokens): 50 calls drain the quota */
	for (int i = 0; i < 50; i++)
		assert_int_equal(simulate(&p, &q, 0), 3);
	assert_int_equal(q.tokens, 0);
	/* from then on every call is tried once only */
	assert_int_equal(simulate(&p, &q, 0), 1);
	assert_int_equal(simulate(&p, &q, 1), 1);
	/* 5 first-try successes buy exactly one more retry */
	for (int i = 0; i < 5; i++)
		retry_quota_success(&q, 0);
	assert_int_equal(simulate(&p, &q, 0), 2);
	assert_int_equal(q.tokens, 0);
}

static void test_retry_after_headers(void **state)
{
	(void)state;
	assert_int_equal(retry_after_ms(NULL, NULL), -1);
	/* Retry-After: integer seconds */
	assert_int_equal(retry_after_ms(NULL, "1"), 1000);
	assert_int_equal(retry_after_ms(NULL, " 3 "), 3000);
	assert_int_equal(retry_after_ms(NULL, "0"), 0);
	/* x-amz-retry-after (ms) wins over Retry-After */
	assert_int_equal(retry_after_ms("250", "5"), 250);
	/* a malformed x-amz-retry-after falls back to Retry-After */
	assert_int_equal(retry_after_ms("soon", "2"), 2000);
	/* HTTP-date, negative, fractions, empty, trailing junk: absent */
	assert_int_equal(retry_after_ms(NULL, "Wed, 21 Oct 2015 07:28:00 GMT"), -1);
	assert_int_equal(retry_after_ms(NULL, "-1"), -1);
	assert_int_equal(retry_after_ms(NULL, "1.5"), -1);
	assert_int_equal(retry_after_ms(NULL, ""), -1);
	assert_int_equal(retry_after_ms("", "x"), -1);
	assert_int_equal(retry_after_ms(NULL, "2s"), -1);
	/* huge values saturate instead of overflowing; the delay caps them */
	int64_t big = retry_after_ms(NULL, "99999999999999999999999");
	assert_true(big > 1000000);
	struct retry_policy p;
	retry_policy_default(&p);
	assert_int_equal(retry_delay_ms(&p, RETRY_THROTTLE, 1, 0.5, big), p.max_backoff_ms);
	assert_int_equal(retry_delay_ms(&p, RETRY_THROTTLE, 1, 0.5, retry_after_ms(NULL, "1")), 1000);
	assert_int_equal(retry_delay_ms(&p, RETRY_THROTTLE, 1, 0.0, retry_after_ms(NULL, "2")), 2000);
	/* x-amz-retry-after alone, and its own saturation */
	assert_int_equal(retry_after_ms("1500", NULL), 1500);
	assert_int_equal(retry_after_ms("250", "9"), 250);
	assert_int_equal(retry_after_ms("soon", "4"), 4000);
	assert_true(retry_after_ms("99999999999999999999999", NULL) > 0);
}

static void test_quota_paced_throttles(void **state)
{
	(void)state;
	assert_int_equal(retry_quota_cost(RETRY_THROTTLE, 0, 1), 0);
	assert_int_equal(retry_quota_cost(RETRY_THROTTLE, 0, 0), 5);
	assert_int_equal(retry_quota_cost(RETRY_TRANSIENT, 0, 1), 5);
	assert_int_equal(retry_quota_cost(RETRY_TRANSIENT, 1, 1), 10);
	/* A burst of 1000 paced throttles leaves the quota whole; 100 unpaced
	 * throttles (5 each) would empty a 500-token quota. */
	struct retry_quota q;
	retry_quota_init(&q, 500);
	int unpaced = 0;
	while (retry_quota_take(&q, 0) > 0)
		unpaced++;
	assert_int_equal(unpaced, 100);
	retry_quota_init(&q, 500);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(retry_quota_cost(RETRY_THROTTLE, 0, 1), 0);
	assert_int_equal(q.tokens, 500);
	assert_true(RETRY_THROTTLE_PACED_ATTEMPTS > 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classify_throttle),
		cmocka_unit_test(test_classify_transient),
		cmocka_unit_test(test_classify_no),
		cmocka_unit_test(test_policies),
		cmocka_unit_test(test_delay_math),
		cmocka_unit_test(test_retry_after),
		cmocka_unit_test(test_quota),
		cmocka_unit_test(test_quota_stops_storm),
		cmocka_unit_test(test_retry_after_headers),
		cmocka_unit_test(test_quota_paced_throttles),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
