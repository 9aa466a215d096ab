/* test_isotime.c: ISO 8601 date-times (put's expires_at, credentials' Expiration). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/isotime.h"

static void test_zones(void **state)
{
	(void)state;
	int64_t ms;
	assert_int_equal(tp_iso8601_ms("1970-01-01T00:00:00Z", &ms), 0);
	assert_int_equal(ms, 0);
	assert_int_equal(tp_iso8601_ms("2026-12-07T18:00:00Z", &ms), 0);
	assert_int_equal(ms, 1796666400000LL);   /* date -u -d 2026-12-07T18:00:00Z +%s */
	assert_int_equal(tp_iso8601_ms("2026-12-07T19:30:00+01:30", &ms), 0);
	assert_int_equal(ms, 1796666400000LL);
	assert_int_equal(tp_iso8601_ms("2026-12-07 18:00:00.250z", &ms), 0);
	assert_int_equal(ms, 1796666400250LL);
	assert_int_equal(tp_iso8601_ms("2024-02-29T12:00:00-00:00", &ms), 0);  /* leap day */
	assert_int_equal(ms, 1709208000000LL);
}

static void test_refused(void **state)
{
	(void)state;
	int64_t ms;
	const char *bad[] = { "tomorrow", "2026-12-07", "2026-12-07T18:00:00", "2026-13-01T00:00:00Z",
			      "2026-12-07T24:00:00Z", "2026-12-07T18:00:00Zx", "2026-12-07T18:00:00+0100",
			      "2026-12-07T18:00:00.Z", "" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(tp_iso8601_ms(bad[i], &ms), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_zones),
		cmocka_unit_test(test_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
