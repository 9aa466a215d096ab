/* test_send.c: what send refuses before calling SQS (send_check_body), and
 * the progress line's text (done/total, rate, ETA, countdown). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "base/progress.h"
#include "core/send.h"

static int ok(const char *s, size_t n)
{
	char why[200];
	return send_check_body(s, n, why, sizeof why) == 0;
}

static void test_check_body(void **state)
{
	assert_true(ok("hello", 5));
	assert_true(ok("tab\there\nnew\rline", 17));
	assert_true(ok("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14)); /* é € 😀 */
	assert_false(ok("", 0));
	assert_false(ok("a\x01" "b", 3));          /* control character */
	assert_false(ok("a\0b", 3));               /* NUL */
	assert_false(ok("\xc3", 1));               /* cut short */
	assert_false(ok("\xc0\xaf", 2));           /* overlong */
	assert_false(ok("\xed\xa0\x80", 3));       /* surrogate */
	assert_false(ok("\xef\xbf\xbe", 3));       /* U+FFFE */
	char why[200];
	assert_int_equal(send_check_body("ab\x02", 3, why, sizeof why), -1);
	assert_non_null(strstr(why, "U+0002"));
	assert_non_null(strstr(why, "byte 3"));
	size_t big = SEND_MESSAGE_MAX + 1;
	char *b = malloc(big);
	memset(b, 'x', big);
	assert_false(ok(b, big));
	assert_true(ok(b, big - 1));
	free(b);
}

static void test_progress_render(void **state)
{
	char line[256];
	/* before the phase and count start their clock: the render below is then
	 * at most 10 s after them however slow this machine is (after would
	 * make it 10.00x s, 1.99x/s and an ETA of 41 s) */
	int64_t t0 = tp_mono_ms();
	progress_start("apply", 1);
	progress_phase("step %s", "config");
	progress_count(0, 100, "calls");
	progress_render(line, sizeof line, 0, 0);
	assert_non_null(strstr(line, "apply | step config | 0/100 calls"));
	progress_count(20, 100, "calls");
	/* render at the phase's start + 10 s: 2/s, 80 left: 40 s */
	progress_render(line, sizeof line, t0 + 10000, 0);
	assert_non_null(strstr(line, "20/100 calls | 2.0/s | ETA 40s"));
	progress_count(7, -1, "tasks");   /* a new batch, total unknown: no ETA */
	progress_render(line, sizeof line, tp_mono_ms() + 1000, 0);
	assert_non_null(strstr(line, "7 tasks"));
	assert_null(strstr(line, "ETA"));
	progress_countdown("canary pause", 1000000 + 29500);
	progress_render(line, sizeof line, 0, 1000000);
	assert_non_null(strstr(line, "canary pause: 30s left"));
	progress_start("x", 0);  /* off: nothing is kept */
	progress_phase("ignored");
	progress_render(line, sizeof line, 0, 0);
	assert_string_equal(line, "x");
	progress_stop();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check_body),
		cmocka_unit_test(test_progress_render),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
