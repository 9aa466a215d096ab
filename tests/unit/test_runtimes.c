/* test_runtimes.c: the runtime lifecycle table (core/runtimes.h): phases by
 * date, the rows the issue found missing, TASKPIPE_TODAY, ctx.runtimes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/runtimes.h"

static void test_phases_by_date(void **state)
{
	(void)state;
	const struct runtime_life *al2 = runtimes_find("provided.al2");
	assert_non_null(al2);
	assert_int_equal(runtimes_phase(al2, "2026-07-30"), RUNTIME_SUPPORTED);
	assert_int_equal(runtimes_phase(al2, "2026-07-31"), RUNTIME_DEPRECATED);
	assert_int_equal(runtimes_phase(al2, "2027-02-01"), RUNTIME_CREATE_BLOCKED);
	assert_int_equal(runtimes_phase(al2, "2027-03-03"), RUNTIME_UPDATE_BLOCKED);
	assert_int_equal(runtimes_phase(runtimes_find("provided.al2023"), "2030-01-01"), RUNTIME_SUPPORTED);
	assert_null(runtimes_find("provided.al"));
	assert_null(runtimes_find(NULL));
}

static void test_rows_once_missing(void **state)
{
	(void)state;
	const struct runtime_life *py = runtimes_find("python3.9"), *node = runtimes_find("nodejs18.x");
	assert_non_null(py);
	assert_non_null(node);
	assert_string_equal(py->deprecated, "2025-12-15");
	/* no published block date: flagged, never refused on a guess */
	assert_int_equal(runtimes_phase(py, "2099-01-01"), RUNTIME_DEPRECATED);
	assert_int_equal(runtimes_phase(node, "2025-10-01"), RUNTIME_CREATE_BLOCKED);
	assert_non_null(node->source);
}

static void test_today_and_ctx(void **state)
{
	(void)state;
	char today[11];
	unsetenv("TASKPIPE_TODAY");
	runtimes_today(0, today);
	assert_string_equal(today, "1970-01-01");
	runtimes_today(1796601600000LL, today);   /* 2026-12-07 00:00 UTC */
	assert_string_equal(today, "2026-12-07");
	setenv("TASKPIPE_TODAY", "2027-02-01", 1);
	runtimes_today(0, today);
	assert_string_equal(today, "2027-02-01");
	setenv("TASKPIPE_TODAY", "tomorrow", 1);   /* not a date: the clock */
	runtimes_today(0, today);
	assert_string_equal(today, "1970-01-01");
	unsetenv("TASKPIPE_TODAY");
	cJSON *ctx = runtimes_ctx("2026-12-07");
	cJSON *al2 = cJSON_GetObjectItem(ctx, "provided.al2");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(al2, "phase")), "deprecated");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(al2, "block_create")), "2027-02-01");
	cJSON *py = cJSON_GetObjectItem(ctx, "python3.9");
	assert_null(cJSON_GetObjectItem(py, "block_create"));
	cJSON_Delete(ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_phases_by_date),
		cmocka_unit_test(test_rows_once_missing),
		cmocka_unit_test(test_today_and_ctx),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
