/* test_codemark.c: the code-object marker fits Lambda's 256-character
 * Description, and every reader recognises what the writer made. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/codemark.h"

static void test_short(void **state)
{
	(void)state;
	char m[CODEMARK_MAX + 1];
	codemark_make("b", "k/x.zip", NULL, m);
	assert_string_equal(m, "taskpipe code s3://b/k/x.zip");
	codemark_make("b", "k/x.zip", "v1", m);
	assert_string_equal(m, "taskpipe code s3://b/k/x.zip#v1");
	assert_true(codemark_is_object("taskpipe code s3://b/k/x.zip", "b", "k/x.zip"));
	assert_true(codemark_is_object("taskpipe code s3://b/k/x.zip#v9", "b", "k/x.zip"));
	assert_false(codemark_is_object("taskpipe code s3://b/k/x.zipx", "b", "k/x.zip"));
	assert_false(codemark_is_object("taskpipe code s3://b/k/y.zip#v1", "b", "k/x.zip"));
	assert_false(codemark_is_object(NULL, "b", "k"));
	/* a key holding '#' */
	codemark_make("b", "a#b.zip", NULL, m);
	assert_true(codemark_is_object(m, "b", "a#b.zip"));
	codemark_make("b", "a#b.zip", "v2", m);
	assert_true(codemark_is_object(m, "b", "a#b.zip"));
	assert_false(codemark_is_object(m, "b", "a"));
}

static void test_long_keys(void **state)
{
	(void)state;
	char k1[600], k2[600], m1[CODEMARK_MAX + 1], m2[CODEMARK_MAX + 1];
	memset(k1, 'k', sizeof k1 - 1);
	k1[sizeof k1 - 1] = 0;
	memcpy(k2, k1, sizeof k2);
	k2[500] = 'z';                      /* same first 500 characters */
	codemark_make("bucket", k1, "3HL4kqtJlcpXroDTDmJ-rmSpXd3dIbrHY", m1);
	codemark_make("bucket", k2, "3HL4kqtJlcpXroDTDmJ-rmSpXd3dIbrHY", m2);
	assert_int_equal(strlen(m1), CODEMARK_MAX);
	assert_int_equal(strlen(m2), CODEMARK_MAX);
	assert_string_not_equal(m1, m2);
	assert_true(codemark_is_object(m1, "bucket", k1));
	assert_false(codemark_is_object(m1, "bucket", k2));
	assert_true(strstr(m1, "#3HL4kqtJlcpXroDTDmJ-rmSpXd3dIbrHY") != NULL);
	/* without a version, and with one too long to keep */
	char longv[200];
	memset(longv, 'v', sizeof longv - 1);
	longv[sizeof longv - 1] = 0;
	codemark_make("bucket", k1, NULL, m1);
	assert_int_equal(strlen(m1), CODEMARK_MAX);
	assert_true(codemark_is_object(m1, "bucket", k1));
	codemark_make("bucket", k1, longv, m1);
	assert_true(strlen(m1) <= CODEMARK_MAX);
	assert_true(codemark_is_object(m1, "bucket", k1));
	codemark_make("b", "k", longv, m1);
	assert_true(strlen(m1) <= CODEMARK_MAX);
	assert_true(codemark_is_object(m1, "b", "k"));
	/* exactly at the limit: kept whole */
	char k3[300];
	size_t room = CODEMARK_MAX - strlen("taskpipe code s3://b/");
	memset(k3, 'q', room);
	k3[room] = 0;
	codemark_make("b", k3, NULL, m1);
	assert_int_equal(strlen(m1), CODEMARK_MAX);
	assert_true(strchr(m1, '~') == NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_short),
		cmocka_unit_test(test_long_keys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
