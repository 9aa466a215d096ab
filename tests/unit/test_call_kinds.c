/* test_call_kinds.c: the policy host's call table (script/policy.c's
 * call_kinds, described in script/policy_int.h) is whole and consistent,
 * so a new call's row cannot name an argument slot that is not sent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "script/policy_int.h"

static void test_every_kind_has_a_row(void **state)
{
	(void)state;
	for (int k = 0; k < CALL_COUNT; k++) {
		const struct call_kind_info *i = &call_kinds[k];
		assert_non_null(i->fn);
		assert_true(i->nargs >= 0 && i->nargs <= CALL_MAX_ARGS);
		assert_true(i->ctx_arg >= -1 && i->ctx_arg < i->nargs);
		assert_true(i->item_arg >= -1 && i->item_arg < i->nargs);
		if (i->item_arg >= 0)
			assert_int_not_equal(i->item_arg, i->ctx_arg);
		/* a table answer is named in conversion errors ("spec[2]...") */
		if (i->answer == ANSWER_TABLE)
			assert_non_null(i->result);
		/* only the load's trial run calls no function */
		assert_int_equal(i->answer == ANSWER_NONE, k == CALL_LOAD);
	}
}

static void test_the_known_calls(void **state)
{
	(void)state;
	assert_string_equal(call_kinds[CALL_PIPELINE].fn, "pipeline");
	assert_int_equal(call_kinds[CALL_PIPELINE].item_arg, 0);
	assert_int_equal(call_kinds[CALL_PIPELINE].ctx_arg, 1);
	assert_string_equal(call_kinds[CALL_ROLLOUT].fn, "rollout");
	assert_string_equal(call_kinds[CALL_ROLLOUT].result, "waves");
	assert_int_equal(call_kinds[CALL_ROLLOUT].ctx_arg, 2);
	assert_string_equal(call_kinds[CALL_HEALTH].fn, "rollout_health");
	assert_int_equal(call_kinds[CALL_HEALTH].answer, ANSWER_VERDICT);
	for (int a = 0; a < CALL_COUNT; a++)
		for (int b = a + 1; b < CALL_COUNT; b++)
			assert_true(strcmp(call_kinds[a].fn, call_kinds[b].fn) != 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_kind_has_a_row),
		cmocka_unit_test(test_the_known_calls),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
