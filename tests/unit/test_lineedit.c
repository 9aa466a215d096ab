/* test_lineedit.c: the line editor's UTF-8 cursor arithmetic (the key
 * handling is typed through tmux in tests/integration/test_steer.py). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <unistd.h>

#include "cmd/lineedit.h"

static void test_columns_count_code_points(void **state)
{
	(void)state;
	assert_int_equal(lineedit_columns("abc", 3), 3);
	assert_int_equal(lineedit_columns("", 0), 0);
	const char *s = "a\xc3\xa9z\xe2\x82\xac"; /* a é z € */
	assert_int_equal(lineedit_columns(s, strlen(s)), 4);
	assert_int_equal(lineedit_columns(s, 3), 2); /* "a" and "é" */
}

static void test_prev_next_step_over_a_whole_character(void **state)
{
	(void)state;
	const char *s = "a\xc3\xa9z\xe2\x82\xac";
	size_t len = strlen(s);
	assert_int_equal(lineedit_next(s, len, 0), 1);
	assert_int_equal(lineedit_next(s, len, 1), 3);
	assert_int_equal(lineedit_next(s, len, 3), 4);
	assert_int_equal(lineedit_next(s, len, 4), 7);
	assert_int_equal(lineedit_next(s, len, 7), 7); /* at the end stays */
	assert_int_equal(lineedit_prev(s, 7), 4);
	assert_int_equal(lineedit_prev(s, 4), 3);
	assert_int_equal(lineedit_prev(s, 3), 1);
	assert_int_equal(lineedit_prev(s, 1), 0);
	assert_int_equal(lineedit_prev(s, 0), 0); /* at the start stays */
}

static void test_not_a_terminal_gives_no_editor(void **state)
{
	(void)state;
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	assert_null(lineedit_new(fds[0], fds[1], NULL));
	lineedit_free(NULL);
	close(fds[0]);
	close(fds[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_columns_count_code_points),
		cmocka_unit_test(test_prev_next_step_over_a_whole_character),
		cmocka_unit_test(test_not_a_terminal_gives_no_editor),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
