/* test_log.c: every JSON log line parses, whatever its fields and message hold. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"

/* Runs one log_msg with stderr sent to a temporary file; returns the line. */
static char *capture(const char *const *fields, const char *msg)
{
	fflush(stderr);
	int saved = dup(2);
	FILE *f = tmpfile();
	assert_non_null(f);
	dup2(fileno(f), 2);
	log_set_json(1);
	log_set_level(LOG_INFO);
	log_msg(LOG_INFO, fields, "%s", msg);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	long n = ftell(f);
	rewind(f);
	char *line = calloc(1, (size_t)n + 1);
	assert_int_equal(fread(line, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	assert_true(n > 0 && line[n - 1] == '\n');
	assert_null(memchr(line, '\n', (size_t)n - 1)); /* one line */
	return line;
}

static cJSON *parse_line(const char *const *fields, const char *msg)
{
	char *line = capture(fields, msg);
	cJSON *j = cJSON_Parse(line);
	if (!j)
		fail_msg("not JSON: %s", line);
	free(line);
	return j;
}

static const char *str(const cJSON *j, const char *k)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, k));
}

static void hostile_keys_stay_json(void **state)
{
	static const char *const keys[] = {
		"a\"b", "back\\slash", "new\nline", "tab\there", "bell\a\x01\x1f", "\"},\"x\":\"y",
		"caf\xc3\xa9", "\xe2\x82\xac euro",
	};
	for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
		const char *fields[] = { "pipeline", keys[i], "action", "create", NULL };
		cJSON *j = parse_line(fields, keys[i]);
		assert_string_equal(str(j, "pipeline"), keys[i]);
		assert_string_equal(str(j, "message"), keys[i]);
		assert_string_equal(str(j, "action"), "create");
		assert_null(cJSON_GetObjectItemCaseSensitive(j, "x")); /* no injected member */
		cJSON_Delete(j);
	}
}

/* Bytes that are not UTF-8 become U+FFFD, so strict readers accept the line too. */
static void invalid_utf8_is_replaced(void **state)
{
	static const struct { const char *in, *out; } cases[] = {
		{ "a\xff" "b", "a\xef\xbf\xbd" "b" },
		{ "\xc3", "\xef\xbf\xbd" },                       /* truncated sequence */
		{ "\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd" },       /* overlong '/' */
		{ "\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" }, /* surrogate */
		{ "\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80" },        /* valid 4-byte */
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		const char *fields[] = { "pipeline", cases[i].in, NULL };
		char *line = capture(fields, cases[i].in);
		cJSON *j = cJSON_Parse(line);
		assert_non_null(j);
		assert_string_equal(str(j, "pipeline"), cases[i].out);
		assert_string_equal(str(j, "message"), cases[i].out);
		cJSON_Delete(j);
		free(line);
	}
}

static void null_values_and_no_fields(void **state)
{
	const char *fields[] = { "pipeline", NULL, NULL };
	cJSON *j = parse_line(fields, "m");
	assert_null(cJSON_GetObjectItemCaseSensitive(j, "pipeline"));
	assert_string_equal(str(j, "level"), "INFO");
	cJSON_Delete(j);
	j = parse_line(NULL, "plain");
	assert_string_equal(str(j, "message"), "plain");
	cJSON_Delete(j);
	const char *hostile_name[] = { "k\"ey", "v", NULL };
	j = parse_line(hostile_name, "m");
	assert_string_equal(str(j, "k\"ey"), "v");
	cJSON_Delete(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hostile_keys_stay_json),
		cmocka_unit_test(invalid_utf8_is_replaced),
		cmocka_unit_test(null_values_and_no_fields),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
