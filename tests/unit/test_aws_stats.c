/* test_aws_stats.c: the per-operation counters keep every operation under
 * its own key, however many there are (aws_stats). No network: each call's
 * URL is too long, so it fails in preparation and counts a failure. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/aws.h"

#define N_OPS 300

static void many_operations_keep_their_keys(void **state)
{
	struct aws_options o = { .region = "us-east-1", .max_attempts = 1, .seed = 1 };
	struct aws *a;
	tp_err e = { 0 };
	assert_int_equal(aws_new(&o, &a, &e), TP_OK);
	char *path = malloc(4096);
	path[0] = '/';
	memset(path + 1, 'p', 4094);
	path[4095] = '\0';
	char ops[N_OPS][32];
	for (int round = 0; round < 2; round++)
		for (int i = 0; i < N_OPS; i++) {
			snprintf(ops[i], sizeof ops[i], "Op%03d", i);
			struct aws_call c = { .service = SVC_SQS, .op = ops[i], .path = path };
			assert_true(aws_call_one(a, &c) < 0);
			assert_string_equal(c.err.code, "RequestTooLong");
			aws_call_free(&c);
		}
	const struct aws_stat *st;
	size_t n = aws_stats(a, &st);
	assert_int_equal(n, N_OPS);
	for (int i = 0; i < N_OPS; i++) {
		char key[40];
		snprintf(key, sizeof key, "sqs:Op%03d", i);
		assert_string_equal(st[i].key, key);
		assert_int_equal(st[i].failures, 2);
		assert_int_equal(st[i].requests, 0);
	}
	aws_stats_reset(a);
	assert_int_equal(aws_stats(a, &st), 0);
	free(path);
	aws_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(many_operations_keep_their_keys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
