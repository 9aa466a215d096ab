/* test_tagging.c: the Resource Groups Tagging API's GetResources builder
 * (aws/tagging.c): the body byte for byte as drift sent it before, the
 * first page without a PaginationToken, a value that needs escaping. No I/O. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "aws/tagging.h"

static void call_is(struct aws_call *c, const char *want)
{
	assert_int_equal(c->service, SVC_TAGGING);
	assert_string_equal(c->op, "GetResources");
	assert_null(c->method);   /* POST / with X-Amz-Target */
	assert_non_null(c->body);
	assert_int_equal(c->body_len, strlen(c->body));
	if (strcmp(c->body, want) != 0)
		fail_msg("body\n  got  %s\n  want %s", c->body, want);
	aws_call_free(c);
}

static void test_get_resources(void **state)
{
	(void)state;
	struct aws_call c;
	tagging_get_resources(&c, "taskpipe:owner", "team-a", "sqs", 100, NULL);
	call_is(&c, "{\"TagFilters\":[{\"Key\":\"taskpipe:owner\",\"Values\":[\"team-a\"]}],"
		    "\"ResourceTypeFilters\":[\"sqs\"],\"ResourcesPerPage\":100}");
	tagging_get_resources(&c, "taskpipe:owner", "o\"x", "lambda:function", 100, "tok/+=");
	call_is(&c, "{\"TagFilters\":[{\"Key\":\"taskpipe:owner\",\"Values\":[\"o\\\"x\"]}],"
		    "\"ResourceTypeFilters\":[\"lambda:function\"],\"ResourcesPerPage\":100,"
		    "\"PaginationToken\":\"tok/+=\"}");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get_resources),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
