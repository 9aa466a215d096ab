/* test_lease.c: the pure parts of leases: the length for a run, the
 * takeover rule with its clock-skew margin, and when to renew. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "core/lease.h"

static void test_ttl_sized_to_the_run(void **state)
{
	(void)state;
	int64_t now = 1700000000000LL;
	/* no deadline: the cap */
	assert_int_equal(lease_ttl_for(now, 0, 120), 120);
	/* 60 s left: 60 + margin, not the cap */
	assert_int_equal(lease_ttl_for(now, now + 60000, 900), 60 + LEASE_MARGIN_S);
	/* 15 minutes left: the cap */
	assert_int_equal(lease_ttl_for(now, now + 900000, 120), 120);
	/* past the deadline: the margin only */
	assert_int_equal(lease_ttl_for(now, now - 5000, 120), LEASE_MARGIN_S);
	/* never below 1 */
	assert_int_equal(lease_ttl_for(now, now - 5000, 0), 1);
}

static void test_takeover_waits_out_the_skew(void **state)
{
	(void)state;
	int64_t exp = 1000;
	assert_false(lease_takeover_ok(exp, 999, 30));   /* not expired */
	assert_false(lease_takeover_ok(exp, 1000, 30));
	assert_false(lease_takeover_ok(exp, 1030, 30));  /* expired, within the margin */
	assert_true(lease_takeover_ok(exp, 1031, 30));
	assert_true(lease_takeover_ok(exp, 1001, 0));
	assert_true(lease_takeover_ok(0, 1000, 30));     /* released */
}

static void test_renew_at_half(void **state)
{
	(void)state;
	assert_false(lease_should_renew(1000, 1120, 1000));
	assert_false(lease_should_renew(1000, 1120, 1059));
	assert_true(lease_should_renew(1000, 1120, 1060));
	assert_true(lease_should_renew(1000, 1120, 1200));  /* late: still try */
	assert_true(lease_should_renew(1000, 1001, 1000));  /* 1 s lease: every step */
}

static void test_settings(void **state)
{
	(void)state;
	unsetenv("TASKPIPE_LEASE_SKEW_S");
	unsetenv("TASKPIPE_LEASE_TTL_S");
	assert_int_equal(lease_skew_s(), LEASE_SKEW_DEFAULT_S);
	assert_int_equal(lease_ttl_cap_s(), LEASE_TTL_DEFAULT_S);
	setenv("TASKPIPE_LEASE_SKEW_S", "2", 1);
	setenv("TASKPIPE_LEASE_TTL_S", "7", 1);
	assert_int_equal(lease_skew_s(), 2);
	assert_int_equal(lease_ttl_cap_s(), 7);
	setenv("TASKPIPE_LEASE_SKEW_S", "-3", 1);   /* bad: the default, with a warning */
	setenv("TASKPIPE_LEASE_TTL_S", "0", 1);
	assert_int_equal(lease_skew_s(), LEASE_SKEW_DEFAULT_S);
	assert_int_equal(lease_ttl_cap_s(), LEASE_TTL_DEFAULT_S);
	unsetenv("TASKPIPE_LEASE_SKEW_S");
	unsetenv("TASKPIPE_LEASE_TTL_S");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ttl_sized_to_the_run),
		cmocka_unit_test(test_takeover_waits_out_the_skew),
		cmocka_unit_test(test_renew_at_half),
		cmocka_unit_test(test_settings),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
