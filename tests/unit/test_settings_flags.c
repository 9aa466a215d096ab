/* test_settings_flags.c: numeric settings flags (every command's, `put`'s
 * included) are range-checked before their double becomes an int: the
 * debug build's -fsanitize=float-cast-overflow stops on the cast otherwise. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parallel_in_range),
		cmocka_unit_test(parallel_out_of_range_is_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
