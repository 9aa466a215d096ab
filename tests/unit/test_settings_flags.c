/* test_settings_flags.c: numeric settings flags (every command's, `put`'s
 * included) are range-checked before their double becomes an int: the
 * debug build's -fsanitize=float-cast-overflow stops on the cast otherwise. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "core/settings.h"

static int parse2(struct settings *s, const char *flag, const char *value, tp_err *e)
{
	char f[32], v[64];
	strcpy(f, flag);
	strcpy(v, value);
	char *argv[] = { "put", f, v, "item.json" };
	int argc = 4;
	int rc = settings_parse_flags(s, &argc, argv, e);
	if (rc == TP_OK) {
		assert_int_equal(argc, 2);
		assert_string_equal(argv[1], "item.json");
	}
	return rc;
}

static void parallel_in_range(void **state)
{
	struct settings s = { 0 };
	tp_err e = { 0 };
	assert_int_equal(parse2(&s, "--parallel", "8", &e), TP_OK);
	assert_int_equal(s.parallel, 8);
	assert_int_equal(parse2(&s, "--parallel", "2147483647", &e), TP_OK);
	assert_int_equal(s.parallel, 2147483647);
	assert_int_equal(parse2(&s, "--lambda-rps", "2.5", &e), TP_OK);
	assert_true(s.lambda_rps == 2.5);
}

static void parallel_out_of_range_is_refused(void **state)
{
	static const char *const bad[] = { "2147483648", "1e19", "9.3e18", "1e300", "inf", "nan", "-1", "0", "x" };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		struct settings s = { 0 };
		tp_err e = { 0 };
		assert_int_equal(parse2(&s, "--parallel", bad[i], &e), TP_EINVAL);
		assert_string_equal(e.code, "BadFlag");
		assert_non_null(strstr(e.message, "--parallel"));
		assert_non_null(strstr(e.message, bad[i]));
	}
	struct settings s = { 0 };
	tp_err e = { 0 };
	assert_int_equal(parse2(&s, "--lambda-rps", "nan", &e), TP_EINVAL);
}

/* Which shared settings a process gives (flag or environment) is known,
 * so the stored set fills only the others (settings_store.h). */
static void given_marks_flags_and_environment(void **state)
{
	unsetenv("TASKPIPE_CODE_KEY");
	unsetenv("TASKPIPE_SETTINGS_FROM_ENV");
	setenv("TASKPIPE_CONSUMER_LAYER", "arn:layer:1", 1);
	setenv("TASKPIPE_PREFIX", "", 1);   /* empty: not given */
	struct settings s;
	settings_init(&s);
	tp_err e = { 0 };
	size_t layer = settings_shared_n, key = settings_shared_n, prefix = settings_shared_n;
	for (size_t i = 0; i < settings_shared_n; i++) {
		if (strcmp(settings_table[settings_shared[i].id].env, "TASKPIPE_CONSUMER_LAYER") == 0)
			layer = i;
		if (strcmp(settings_table[settings_shared[i].id].env, "TASKPIPE_CODE_KEY") == 0)
			key = i;
		if (strcmp(settings_table[settings_shared[i].id].env, "TASKPIPE_PREFIX") == 0)
			prefix = i;
	}
	assert_true(layer < settings_shared_n && key < settings_shared_n && prefix < settings_shared_n);
	assert_true(s.given & (1u << layer));
	assert_false(s.given & (1u << key));
	assert_false(s.given & (1u << prefix));
	assert_string_equal(*settings_field(&s, layer), "arn:layer:1");
	assert_string_equal(*settings_field(&s, prefix), "tp-");
	assert_false(s.from_env);
	char f[] = "--code-key", v[] = "k.zip", fe[] = "--settings-from-env";
	char *argv[] = { "apply", f, v, fe, "a" };
	int argc = 5;
	assert_int_equal(settings_parse_flags(&s, &argc, argv, &e), TP_OK);
	assert_int_equal(argc, 2);
	assert_true(s.given & (1u << key));
	assert_string_equal(s.code_key, "k.zip");
	assert_true(s.from_env);
	unsetenv("TASKPIPE_CONSUMER_LAYER");
	unsetenv("TASKPIPE_PREFIX");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(given_marks_flags_and_environment),
		cmocka_unit_test(parallel_in_range),
		cmocka_unit_test(parallel_out_of_range_is_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
