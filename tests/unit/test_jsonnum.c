/* test_jsonnum.c: JSON numbers keep their text (jsonnum_parse). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "base/jsonnum.h"

static void numbers_become_raw_text(void **state)
{
	cJSON *j = jsonnum_parse("{\"RATE\":0.1,\"BIG\":123456789012345678,\"x\":[1e-7,-0,2.50,"
				 "18446744073709551617],\"s\":\"12 \\\" 34\",\"n\":{\"k-1\":-9.5E+3}}");
	assert_non_null(j);
	assert_true(cJSON_IsRaw(cJSON_GetObjectItem(j, "RATE")));
	assert_string_equal(cJSON_GetObjectItem(j, "RATE")->valuestring, "0.1");
	assert_string_equal(cJSON_GetObjectItem(j, "BIG")->valuestring, "123456789012345678");
	cJSON *x = cJSON_GetObjectItem(j, "x");
	assert_string_equal(cJSON_GetArrayItem(x, 0)->valuestring, "1e-7");
	assert_string_equal(cJSON_GetArrayItem(x, 1)->valuestring, "-0");
	assert_string_equal(cJSON_GetArrayItem(x, 2)->valuestring, "2.50");
	assert_string_equal(cJSON_GetArrayItem(x, 3)->valuestring, "18446744073709551617");
	/* digits inside strings (and an escaped quote) are not numbers */
	assert_string_equal(cJSON_GetObjectItem(j, "s")->valuestring, "12 \" 34");
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "n"), "k-1")->valuestring, "-9.5E+3");
	char *out = cJSON_PrintUnformatted(j);
	assert_non_null(strstr(out, "\"BIG\":123456789012345678"));
	free(out);
	cJSON_Delete(j);
}

static void top_level_number_and_bad_json(void **state)
{
	cJSON *j = jsonnum_parse(" 12345678901234567890123 ");
	assert_non_null(j);
	assert_string_equal(j->valuestring, "12345678901234567890123");
	cJSON_Delete(j);
	assert_null(jsonnum_parse("{\"a\":}"));
	assert_null(jsonnum_parse(""));
}

/* Values one after another (JSON lines): each parsed, *end past it; a bad
 * one leaves *end at the error. */
static void several_values_one_after_another(void **state)
{
	(void)state;
	const char *text = "{\"a\":1}\n[2, 3.50]\n{\"b\": x}\n";
	const char *end = NULL;
	cJSON *v = jsonnum_parse_next(text, &end);
	assert_non_null(v);
	assert_string_equal(cJSON_GetObjectItem(v, "a")->valuestring, "1");
	assert_int_equal(end - text, 7);
	cJSON_Delete(v);
	v = jsonnum_parse_next(end, &end);
	assert_true(cJSON_IsArray(v));
	assert_string_equal(cJSON_GetArrayItem(v, 1)->valuestring, "3.50");
	cJSON_Delete(v);
	const char *bad = end;
	v = jsonnum_parse_next(bad, &end);
	assert_null(v);
	assert_ptr_equal(end, strchr(bad, 'x')); /* where cJSON stopped */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(numbers_become_raw_text),
		cmocka_unit_test(top_level_number_and_bad_json),
		cmocka_unit_test(several_values_one_after_another),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
