/* test_gstatus.c: status rows from metric series (which minutes count for
 * which column) and the worst-first order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "aws/cloudwatch.h"
#include "core/gstatus.h"

static void series(struct cw_series *s, const int64_t *ts, const double *v, size_t n)
{
	memset(s, 0, sizeof *s);
	s->n = n;
	s->ts = malloc((n + 1) * sizeof *s->ts);
	s->v = malloc((n + 1) * sizeof *s->v);
	if (n) {
		memcpy(s->ts, ts, n * sizeof *ts);
		memcpy(s->v, v, n * sizeof *v);
	}
}

static void test_metrics_windows(void **state)
{
	const int64_t now = 1800000030, m = now / 60 * 60;
	/* cw_series_free frees the array too, as cw_get_metric_data allocates it */
	struct cw_series *s = calloc(GS_METRICS_PER_GROUP, sizeof *s);
	/* age: an old point and a recent one; the latest within 5 min wins */
	series(&s[0], (int64_t[]){ m - 600, m - 240, m - 120 }, (double[]){ 999, 40, 55 }, 3);
	/* sent: one minute, 10 min ago */
	series(&s[1], (int64_t[]){ m - 600 }, (double[]){ 4 }, 1);
	/* invocations: 60 in the last complete minute, 240 over the 4 before,
	   30 in the current (partial) minute, which rates leave out */
	series(&s[2], (int64_t[]){ m - 300, m - 240, m - 180, m - 120, m - 60, m },
	       (double[]){ 60, 60, 60, 60, 60, 30 }, 6);
	/* errors: the current minute counts, 6 min ago does not */
	series(&s[3], (int64_t[]){ m - 360, m - 60, m }, (double[]){ 100, 2, 1 }, 3);
	series(&s[4], NULL, NULL, 0);
	struct gs_row r = { 0 };
	gs_apply_metrics(&r, s, now);
	assert_true(r.starts_1m == 1.0);
	assert_true(r.starts_5m == 1.0);
	assert_true(r.errors_5m == 3.0);
	assert_true(r.throttles_5m == 0.0);
	assert_true(r.sent_5m == 0.0);
	assert_true(r.age_s == 55.0);
	assert_int_equal(r.last_activity, m); /* the partial minute had starts */
	cw_series_free(s, GS_METRICS_PER_GROUP);

	/* nothing recent: age unknown, no activity */
	s = calloc(GS_METRICS_PER_GROUP, sizeof *s);
	for (int k = 1; k < GS_METRICS_PER_GROUP; k++)
		series(&s[k], NULL, NULL, 0);
	series(&s[0], (int64_t[]){ m - 900 }, (double[]){ 5000 }, 1);
	gs_apply_metrics(&r, s, now);
	assert_true(r.age_s < 0);
	assert_int_equal(r.last_activity, 0);
	cw_series_free(s, GS_METRICS_PER_GROUP);
}

static void test_sort_worst_first(void **state)
{
	struct gs_row v[4] = {
		{ .group = "b", .age_s = -1, .visible = 0, .state = "ok" },
		{ .group = "a", .age_s = 30, .visible = 1, .state = "error" },
		{ .group = "c", .age_s = 900, .visible = 2, .state = "ok" },
		{ .group = "d", .age_s = 30, .visible = 50, .state = "ok" },
	};
	struct gs_report r = { .v = v, .n = 4 };
	assert_int_equal(gs_sort(&r, "age"), 0);
	assert_string_equal(r.v[0].group, "c");
	assert_string_equal(r.v[1].group, "d"); /* same age: the longer backlog first */
	assert_string_equal(r.v[2].group, "a");
	assert_string_equal(r.v[3].group, "b"); /* unknown age last */
	assert_int_equal(gs_sort(&r, "name"), 0);
	assert_string_equal(r.v[0].group, "a");
	assert_int_equal(gs_sort(&r, "state"), 0);
	assert_string_equal(r.v[0].group, "a");
	assert_int_equal(gs_sort(&r, "bogus"), -1);
}

/* The one row filter status's flags and top's keys share: each field set
 * must hold; "problems" is failing or a state other than ok. */
static void test_row_filter(void **state)
{
	(void)state;
	struct gs_row calm = { .group = "orders", .state = "ok", .enabled = 1, .visible = 0, .delayed = 0,
			       .age_s = 5 };
	struct gs_row dlq = { .group = "billing", .state = "ok", .enabled = 0, .visible = 3, .dlq = 2, .age_s = 90 };
	struct gs_row pend = { .group = "order-sync", .state = "pending", .enabled = -1, .operator_paused = 1 };
	const struct gs_filter all = { 0 };
	assert_true(gs_row_shown(&calm, &all) && gs_row_shown(&dlq, &all) && gs_row_shown(&pend, &all));

	const struct gs_filter name = { .name = "order" };
	assert_true(gs_row_shown(&calm, &name) && gs_row_shown(&pend, &name));
	assert_false(gs_row_shown(&dlq, &name));
	const struct gs_filter problems = { .problems = 1 };
	assert_false(gs_row_shown(&calm, &problems));
	assert_true(gs_row_shown(&dlq, &problems) && gs_row_shown(&pend, &problems));
	const struct gs_filter failing = { .failing = 1 };
	assert_false(gs_row_shown(&pend, &failing));   /* not ok, but nothing failing */
	assert_true(gs_row_shown(&dlq, &failing));
	const struct gs_filter paused = { .paused = 1 }, enabled = { .enabled = 1 };
	assert_true(gs_row_shown(&dlq, &paused) && gs_row_shown(&pend, &paused));
	assert_false(gs_row_shown(&calm, &paused));
	assert_true(gs_row_shown(&calm, &enabled));
	assert_false(gs_row_shown(&dlq, &enabled));
	const struct gs_filter backlog_old = { .backlog = 1, .min_age = 60, .state = "ok" };
	assert_true(gs_row_shown(&dlq, &backlog_old));
	assert_false(gs_row_shown(&calm, &backlog_old));
	assert_false(gs_row_shown(&pend, &backlog_old));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_metrics_windows),
		cmocka_unit_test(test_sort_worst_first),
		cmocka_unit_test(test_row_filter),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
