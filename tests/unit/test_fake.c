/* test_fake.c: the fake AWS's own machinery (tests/fake/fake.c): requests
 * reach it signed through the transport hook, take simulated time, a sleep
 * only moves the simulated clock, quotas throttle with Retry-After and the
 * client's retries come through, and an operation the fake lacks is an
 * error, never a success. Services have their own tests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/aws.h"
#include "aws/http.h"
#include "fake/fake.h"
#include "fake/fake_int.h"

static struct aws *client(struct fake *f)
{
	struct aws_options o = { .region = "eu-west-1", .seed = 1, .lambda_rps = -1, .lambda_get_rps = -1 };
	return fake_client(f, "AKIDFAKE", &o);
}

/* A hook standing in for a service: answers Lambda's GetAccountSettings
 * under a quota of 2/s, burst 2. */
static int quota_hook(void *ctx, const struct fake_req *r, struct http_response *out)
{
	struct fake *f = ctx;
	int64_t after;
	struct fake_req *w = (struct fake_req *)r;
	snprintf(w->op, sizeof w->op, "GetAccountSettings");
	if (fake_quota(f, "test", 2.0, 2.0, &after)) {
		fake_reply_throttled(f, w, out, "TooManyRequestsException", after);
		return 1;
	}
	cJSON *b = cJSON_CreateObject();
	cJSON_AddStringToObject(b, "region", r->service);
	fake_reply_json(out, 200, b);
	return 1;
}

static void test_clock_is_simulated(void **state)
{
	(void)state;
	struct fake_options o = { .latency_ms = 25 };
	struct fake *f = fake_new(&o);
	fake_use_clock(f);
	int64_t t0 = tp_now_ms();
	assert_int_equal(t0, fake_now_ms(f));
	tp_sleep_ms(3600 * 1000);              /* an hour, at once */
	assert_int_equal(tp_now_ms() - t0, 3600 * 1000);
	assert_int_equal(fake_elapsed_ms(f), 3600 * 1000);
	fake_free(f);                          /* the system's clock again */
	assert_true(tp_now_ms() < t0 || tp_now_ms() > t0 + 3600 * 1000);
}

static void test_unknown_operation_is_an_error(void **state)
{
	(void)state;
	struct fake *f = fake_new(NULL);
	fake_use_clock(f);
	struct aws *a = client(f);
	struct aws_call c = { .service = SVC_LAMBDA, .op = "Nothing", .method = "GET",
			      .path = "/2099-01-01/nothing" };
	int rc = aws_call_one(a, &c);
	assert_true(rc < 0);
	assert_string_equal(c.err.code, "UnknownOperationException");
	assert_int_equal(fake_count(f, "lambda", NULL), 1);
	assert_int_equal(fake_elapsed_ms(f), 20);  /* the default latency */
	aws_call_free(&c);
	aws_free(a);
	fake_free(f);
}

static void test_quota_throttles_and_the_client_retries(void **state)
{
	(void)state;
	struct fake_options o = { .latency_ms = 10, .quotas = 1 };
	struct fake *f = fake_new(&o);
	fake_use_clock(f);
	fake_set_hook(f, quota_hook, f);
	struct aws *a = client(f);
	struct aws_call c[6];
	for (int i = 0; i < 6; i++)
		c[i] = (struct aws_call){ .service = SVC_LAMBDA, .op = "GetAccountSettings",
					  .method = "GET", .path = "/2016-08-19/account-settings" };
	assert_int_equal(aws_call_many(a, c, 6), TP_OK);
	for (int i = 0; i < 6; i++) {
		assert_int_equal(c[i].status, 200);
		assert_non_null(strstr(c[i].resp.data, "\"lambda\""));
		aws_call_free(&c[i]);
	}
	/* 2 at once, then 2/s: the last of 6 no sooner than 2 s in */
	assert_true(fake_throttled(f, "lambda", "GetAccountSettings") > 0);
	assert_true(fake_elapsed_ms(f) >= 2000);
	assert_int_equal(fake_count(f, "lambda", "GetAccountSettings"),
			 6 + fake_throttled(f, "lambda", "GetAccountSettings"));
	aws_free(a);
	fake_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clock_is_simulated),
		cmocka_unit_test(test_unknown_operation_is_an_error),
		cmocka_unit_test(test_quota_throttles_and_the_client_retries),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
