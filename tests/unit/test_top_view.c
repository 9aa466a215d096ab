/* test_top_view.c: the screens of `taskpipe top` as text (top_view.c):
 * the fleet line's sums, keys, filters, and a screen that fits the
 * terminal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/top_view.h"

static struct gs_row row(const char *name, const char *state, long visible, long dlq, double errors, double age)
{
	struct gs_row r = { 0 };
	r.group = (char *)name;
	snprintf(r.state, sizeof r.state, "%s", state);
	r.enabled = 1;
	r.concurrency = 2;
	r.visible = visible;
	r.in_flight = 1;
	r.delayed = -1;          /* unknown: counts as nothing in the sums */
	r.dlq = dlq;
	r.starts_1m = 0.5;
	r.starts_5m = 0.5;
	r.errors_5m = errors;
	r.throttles_5m = 0;
	r.age_s = age;
	return r;
}

static int count(const char *s, const char *needle)
{
	int n = 0;
	for (const char *p = s; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

static void fleet_keys_and_screens(void **state)
{
	struct gs_row v[3] = { row("alpha", "ok", 5, 0, 0, 30), row("bravo", "error", 0, 2, 0, -1),
			       row("charlie", "ok", 7, 0, 3, 900) };
	struct gs_report r = { .v = v, .n = 3 };
	struct top_fleet f = { .conc_in_use = 7, .conc_limit = 1000 };
	top_fleet_of(&r, &f);
	assert_int_equal(f.groups, 3);
	assert_int_equal(f.visible, 12);
	assert_int_equal(f.in_flight, 3);
	assert_int_equal(f.delayed, 0);
	assert_int_equal(f.dlq, 2);
	assert_true(f.starts_1m == 1.5 && f.errors_5m == 3);
	assert_true(f.conc_in_use == 7 && f.conc_limit == 1000);   /* kept */

	struct top_view tv;
	top_view_init(&tv, "age", 60);
	gs_sort(&r, tv.sort);
	buf out = { 0 };
	top_render(&tv, &r, &f, 24, 200, 1765000000, NULL, &out);
	const char *s = buf_str(&out);
	assert_non_null(strstr(s, "fleet: 3 groups  backlog 12 (in flight 3, delayed 0)  DLQ 2  starts 1.50/s  "
				  "errors 3 (5m)  concurrency in use 7 of 1000"));
	assert_true(strstr(s, "charlie") < strstr(s, "alpha"));   /* worst first */
	assert_non_null(strstr(s, "3 of 3 groups"));
	buf_free(&out);

	/* problems only: an error state, errors; not alpha */
	assert_int_equal(top_key(&tv, 'p', &r), TOP_REDRAW);
	assert_false(top_shows(&tv, &v[0]) && strcmp(v[0].group, "alpha") == 0);
	size_t shown = 0;
	for (size_t i = 0; i < r.n; i++)
		shown += top_shows(&tv, &r.v[i]);
	assert_int_equal(shown, 2);
	top_key(&tv, 'p', &r);

	/* sort by name; a filter typed, kept, cleared */
	assert_int_equal(top_key(&tv, 'n', &r), TOP_REDRAW);
	assert_string_equal(r.v[0].group, "alpha");
	assert_string_equal(tv.sort, "name");
	top_key(&tv, '/', &r);
	assert_int_equal(top_key(&tv, 'q', &r), TOP_REDRAW);   /* typed, not quit */
	top_key(&tv, 'x', &r);
	top_key(&tv, 127, &r);
	top_key(&tv, 'h', &r);
	assert_string_equal(tv.filter, "qh");
	top_key(&tv, 127, &r);
	top_key(&tv, 127, &r);
	top_key(&tv, 'r', &r);
	top_key(&tv, 'l', &r);
	top_key(&tv, '\r', &r);
	assert_string_equal(tv.filter, "rl");
	assert_false(tv.editing);
	assert_true(top_shows(&tv, &r.v[2]) && strcmp(r.v[2].group, "charlie") == 0);
	assert_false(top_shows(&tv, &r.v[0]));
	assert_int_equal(top_key(&tv, 27, &r), TOP_REDRAW);
	assert_string_equal(tv.filter, "");
	assert_int_equal(top_key(&tv, ' ', &r), TOP_REFRESH);
	assert_int_equal(top_key(&tv, 'z', &r), TOP_NONE);
	assert_int_equal(top_key(&tv, 'q', &r), TOP_QUIT);

	/* a small terminal: 6 lines of 40 columns, the key line kept */
	top_render(&tv, &r, &f, 6, 40, 1765000000, "refresh failed: boom", &out);
	s = buf_str(&out);
	assert_int_equal(count(s, "\n"), 6);
	for (const char *p = s; *p;) {
		const char *nl = strchr(p, '\n');
		assert_true(nl - p <= 40);
		p = nl + 1;
	}
	assert_non_null(strstr(s, "! refresh failed: boom"));
	assert_non_null(strstr(s, "sort: a age"));
	assert_non_null(strstr(s, "alpha"));
	assert_null(strstr(s, "charlie"));   /* no room left */
	buf_free(&out);

	/* unknown concurrency */
	struct top_fleet g = { .conc_in_use = -1, .conc_limit = -1 };
	top_fleet_of(&r, &g);
	top_render(&tv, &r, &g, 24, 200, 1765000000, NULL, &out);
	assert_non_null(strstr(buf_str(&out), "concurrency in use -"));
	buf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(fleet_keys_and_screens),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
