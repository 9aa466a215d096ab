/* test_wire.c: cJSON trees as tagged binary (script/wire.c), the form values
 * take on the policy worker's pipes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "base/jsonnum.h"
#include "script/wire.h"

static cJSON *decode(const buf *b, size_t max_nodes, int *over)
{
	struct wire_in in = { (const unsigned char *)b->data, (const unsigned char *)b->data + b->len, 0, max_nodes, 0 };
	cJSON *j = wire_get(&in);
	if (over)
		*over = in.over;
	if (j && in.p != in.end)
		fail_msg("decoded value ends %ld bytes early", (long)(in.end - in.p));
	return j;
}

/* Every kind of node comes back as it went, Raw number text to the digit
 * and doubles bit for bit, members in order. */
static void trees_round_trip_exactly(void **state)
{
	const char *text = "{\"f\":0.1,\"i\":123456789012345678,\"big\":123456789012345678901234567890,"
			   "\"neg\":-0,\"e\":-9.5E+3,\"s\":\"q\\\"u\\u00e9\",\"t\":true,\"n\":null,\"b\":false,"
			   "\"l\":[1,[],{},[{\"k\":\"\"}]],\"\":{\"z\":2,\"a\":1}}";
	cJSON *raw = jsonnum_parse(text), *dbl = cJSON_Parse(text);
	assert_non_null(raw);
	assert_non_null(dbl);
	for (int k = 0; k < 2; k++) {
		cJSON *j = k ? dbl : raw;
		buf b = { 0 };
		wire_put(&b, j);
		cJSON *back = decode(&b, 0, NULL);
		assert_non_null(back);
		char *want = cJSON_PrintUnformatted(j), *got = cJSON_PrintUnformatted(back);
		assert_string_equal(got, want);
		assert_true(cJSON_Compare(j, back, 1));
		free(want);
		free(got);
		cJSON_Delete(back);
		buf_free(&b);
	}
	/* the double 0.1 is the same bits, not a reprint */
	buf b = { 0 };
	wire_put(&b, cJSON_GetObjectItem(dbl, "f"));
	cJSON *f = decode(&b, 0, NULL);
	assert_memory_equal(&f->valuedouble, &cJSON_GetObjectItem(dbl, "f")->valuedouble, sizeof(double));
	cJSON_Delete(f);
	buf_free(&b);
	/* Raw nodes read as cJSON_Parse reads their text */
	jsonnum_raw_to_numbers(raw);
	assert_true(cJSON_IsNumber(cJSON_GetObjectItem(raw, "i")));
	assert_true(cJSON_Compare(raw, dbl, 1));
	cJSON_Delete(raw);
	cJSON_Delete(dbl);
	/* NULL is a null */
	wire_put(&b, NULL);
	cJSON *n = decode(&b, 0, NULL);
	assert_true(cJSON_IsNull(n));
	cJSON_Delete(n);
	buf_free(&b);
}

/* Every cut of a valid encoding, a lying count, a NUL in a string or key,
 * an unknown tag and too deep a nesting are refused, never read past. */
static void malformed_bytes_are_refused(void **state)
{
	cJSON *j = jsonnum_parse("{\"a\":[1,\"xy\",{\"k\":null}],\"b\":2.5,\"c\":true}");
	buf b = { 0 };
	wire_put(&b, j);
	for (size_t cut = 0; cut < b.len; cut++) {
		buf c = { 0 };
		buf_add(&c, b.data, cut);
		struct wire_in in = { (const unsigned char *)c.data, (const unsigned char *)c.data + cut, 0, 0, 0 };
		cJSON *got = wire_get(&in);
		if (got)
			fail_msg("a cut at %zu of %zu bytes decoded", cut, b.len);
		buf_free(&c);
	}
	buf_free(&b);
	cJSON_Delete(j);

	static const struct { const char *bytes; size_t len; } bad[] = {
		{ "a\xff\xff\xff\x7f", 5 },          /* array of 2^31 members in 0 bytes */
		{ "s\x03\0\0\0a\0b", 8 },            /* NUL inside a string */
		{ "o\x01\0\0\0\x02\0\0\0k\0n", 12 }, /* NUL inside a key */
		{ "x", 1 },                          /* unknown tag */
		{ "d\0\0\0", 4 },                    /* short double */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct wire_in in = { (const unsigned char *)bad[i].bytes,
				      (const unsigned char *)bad[i].bytes + bad[i].len, 0, 0, 0 };
		assert_null(wire_get(&in));
	}
	buf deep = { 0 };
	for (int i = 0; i <= WIRE_MAX_DEPTH + 1; i++) {
		buf_addc(&deep, 'a');
		wire_put_u32(&deep, 1);
	}
	buf_addc(&deep, 'n');
	assert_null(decode(&deep, 0, NULL));
	buf_free(&deep);
}

/* The node cap stops a decode part way and says so. */
static void node_cap_stops_the_decode(void **state)
{
	cJSON *j = cJSON_CreateArray();
	for (int i = 0; i < 100; i++)
		cJSON_AddItemToArray(j, cJSON_CreateNumber(i));
	buf b = { 0 };
	wire_put(&b, j);
	int over = 0;
	cJSON *got = decode(&b, 101, &over);
	assert_non_null(got);
	assert_int_equal(over, 0);
	assert_int_equal(cJSON_GetArraySize(got), 100);
	cJSON_Delete(got);
	assert_null(decode(&b, 100, &over));
	assert_int_equal(over, 1);
	buf_free(&b);
	cJSON_Delete(j);
}

/* Envelope pieces: u32 and strings. */
static void envelope_fields(void **state)
{
	buf b = { 0 };
	wire_put_u32(&b, 0xfffffffeu);
	wire_put_str(&b, "PolicyError");
	wire_put_str(&b, NULL);
	struct wire_in in = { (const unsigned char *)b.data, (const unsigned char *)b.data + b.len, 0, 0, 0 };
	uint32_t v;
	char *s = NULL, *empty = NULL;
	assert_int_equal(wire_get_u32(&in, &v), 0);
	assert_int_equal((int32_t)v, -2);
	assert_int_equal(wire_get_str(&in, &s), 0);
	assert_string_equal(s, "PolicyError");
	assert_int_equal(wire_get_str(&in, &empty), 0);
	assert_string_equal(empty, "");
	assert_int_equal(wire_get_u32(&in, &v), -1);
	cJSON_free(s);
	cJSON_free(empty);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(trees_round_trip_exactly),
		cmocka_unit_test(malformed_bytes_are_refused),
		cmocka_unit_test(node_cap_stops_the_decode),
		cmocka_unit_test(envelope_fields),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
