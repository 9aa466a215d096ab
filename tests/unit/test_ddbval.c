/* test_ddbval.c: AttributeValue and plain JSON <-> Lua round trips
 * (script/ddblua.c) and DynamoDB's value checks (aws/ddbval.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdlib.h>
#include <string.h>

#include "aws/ddbval.h"
#include "script/ddblua.h"

static lua_State *new_state(void)
{
	lua_State *L = luaL_newstate();
	luaL_openlibs(L);
	ddblua_open(L);
	lua_getfield(L, LUA_REGISTRYINDEX, "tp.lib");
	lua_setglobal(L, "tp");
	return L;
}

/* item JSON -> Lua -> item JSON, compared as parsed JSON. */
static char *av_roundtrip(lua_State *L, const char *json)
{
	cJSON *in = cJSON_Parse(json);
	assert_non_null(in);
	tp_err e = {0};
	assert_int_equal(ddblua_push_item(L, in, &e), 0);
	cJSON *out = NULL;
	assert_int_equal(ddblua_to_av(L, -1, "item", &out, &e), 0);
	lua_pop(L, 1);
	/* a table comes back wrapped in M */
	cJSON *m = cJSON_DetachItemFromObject(out, "M");
	assert_non_null(m);
	char *s = cJSON_PrintUnformatted(m);
	cJSON_Delete(in);
	cJSON_Delete(out);
	cJSON_Delete(m);
	return s;
}

static void check_same(lua_State *L, const char *json)
{
	char *s = av_roundtrip(L, json);
	cJSON *a = cJSON_Parse(json), *b = cJSON_Parse(s);
	if (!cJSON_Compare(a, b, 1))
		fail_msg("round trip changed\n in:  %s\n out: %s", json, s);
	cJSON_Delete(a);
	cJSON_Delete(b);
	free(s);
}

static void every_type_round_trips(void **state)
{
	lua_State *L = new_state();
	check_same(L, "{\"s\":{\"S\":\"hello\"},\"e\":{\"S\":\"\"},\"n\":{\"N\":\"42\"},\"neg\":{\"N\":\"-7\"},"
		      "\"f\":{\"N\":\"2.5\"},\"t\":{\"BOOL\":true},\"fa\":{\"BOOL\":false},\"nul\":{\"NULL\":true},"
		      "\"m\":{\"M\":{\"a\":{\"S\":\"x\"},\"b\":{\"L\":[{\"N\":\"1\"},{\"S\":\"two\"}]}}},"
		      "\"l\":{\"L\":[{\"M\":{}},{\"L\":[]},{\"NULL\":true}]},"
		      "\"b\":{\"B\":\"AAEC/w==\"},\"ss\":{\"SS\":[\"a\",\"b\"]},\"ns\":{\"NS\":[\"1\",\"2.5\",\"12345678901234567890123\"]},"
		      "\"bs\":{\"BS\":[\"AA==\",\"aGk=\"]}}");
	lua_close(L);
}

static void big_numbers_keep_every_digit(void **state)
{
	lua_State *L = new_state();
	check_same(L, "{\"a\":{\"N\":\"12345678901234567890123\"},\"b\":{\"N\":\"0.1\"},\"c\":{\"N\":\"1e400\"},"
		      "\"d\":{\"N\":\"9223372036854775807\"},\"e\":{\"N\":\"-9223372036854775808\"},"
		      "\"f\":{\"N\":\"9223372036854775808\"},\"g\":{\"N\":\"0.30000000000000004\"},"
		      "\"h\":{\"N\":\"3.14159265358979323846264338327950288\"},\"i\":{\"N\":\"1e-130\"}}");
	/* and the Lua side sees the right kinds */
	cJSON *in = cJSON_Parse("{\"i\":{\"N\":\"12\"},\"f\":{\"N\":\"0.1\"},\"big\":{\"N\":\"1e400\"}}");
	tp_err e = {0};
	assert_int_equal(ddblua_push_item(L, in, &e), 0);
	lua_setglobal(L, "it");
	assert_int_equal(luaL_dostring(L, "return math.type(it.i), math.type(it.f), tp.type(it.big), tostring(it.big), it.big.text"), 0);
	assert_string_equal(lua_tostring(L, -5), "integer");
	assert_string_equal(lua_tostring(L, -4), "float");
	assert_string_equal(lua_tostring(L, -3), "bignumber");
	assert_string_equal(lua_tostring(L, -2), "1e400");
	assert_string_equal(lua_tostring(L, -1), "1e400");
	lua_settop(L, 0);
	cJSON_Delete(in);
	lua_close(L);
}

static void empty_list_and_map_stay_apart(void **state)
{
	lua_State *L = new_state();
	check_same(L, "{\"l\":{\"L\":[]},\"m\":{\"M\":{}}}");
	/* plain JSON too */
	cJSON *in = cJSON_Parse("{\"l\":[],\"m\":{},\"n\":null,\"x\":[1,\"a\",true]}");
	tp_err e = {0};
	assert_int_equal(ddblua_push_json(L, in, &e), 0);
	cJSON *out = NULL;
	assert_int_equal(ddblua_to_json(L, -1, "v", &out, &e), 0);
	char *s = cJSON_PrintUnformatted(out);
	cJSON *back = cJSON_Parse(s);
	assert_true(cJSON_Compare(in, back, 1));
	free(s);
	cJSON_Delete(back);
	cJSON_Delete(out);
	cJSON_Delete(in);
	lua_close(L);
}

static char *lua_to_json(lua_State *L, const char *expr, int av, int *rc, tp_err *e)
{
	char code[512];
	snprintf(code, sizeof code, "return %s", expr);
	assert_int_equal(luaL_dostring(L, code), 0);
	cJSON *out = NULL;
	*rc = av ? ddblua_to_av(L, -1, "item", &out, e) : ddblua_to_json(L, -1, "spec", &out, e);
	lua_settop(L, 0);
	char *s = out ? cJSON_PrintUnformatted(out) : NULL;
	cJSON_Delete(out);
	return s;
}

static void lua_values_convert(void **state)
{
	lua_State *L = new_state();
	tp_err e = {0};
	int rc;
	char *s = lua_to_json(L, "{a = 1, b = 0.1, c = 'x', d = {1, 2}, e = {}, f = tp.list(), g = tp.null,"
				 " h = tp.set('SS', {'q'}), i = tp.binary('\\0\\1'), j = tp.number('1e400'), k = 2^63, l = true}",
			      1, &rc, &e);
	assert_int_equal(rc, 0);
	cJSON *got = cJSON_Parse(s);
	cJSON *want = cJSON_Parse("{\"M\":{\"a\":{\"N\":\"1\"},\"b\":{\"N\":\"0.1\"},\"c\":{\"S\":\"x\"},"
				  "\"d\":{\"L\":[{\"N\":\"1\"},{\"N\":\"2\"}]},\"e\":{\"M\":{}},\"f\":{\"L\":[]},"
				  "\"g\":{\"NULL\":true},\"h\":{\"SS\":[\"q\"]},\"i\":{\"B\":\"AAE=\"},\"j\":{\"N\":\"1e400\"},"
				  "\"k\":{\"N\":\"9.223372036854776e+18\"},\"l\":{\"BOOL\":true}}}");
	if (!cJSON_Compare(got, want, 1))
		fail_msg("got %s", s);
	cJSON_Delete(got);
	cJSON_Delete(want);
	free(s);

	/* JSON output keeps big numbers as raw digits */
	s = lua_to_json(L, "{n = tp.number('12345678901234567890123'), i = 9007199254740993, f = 0.1}", 0, &rc, &e);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(s, "\"n\":12345678901234567890123"));
	assert_non_null(strstr(s, "\"i\":9007199254740993"));
	assert_non_null(strstr(s, "\"f\":0.1"));
	free(s);
	lua_close(L);
}

static void errors_name_the_path(void **state)
{
	lua_State *L = new_state();
	tp_err e = {0};
	int rc;
	char *s = lua_to_json(L, "{env = {KEY = function() end}}", 0, &rc, &e);
	assert_int_equal(rc, TP_EINVAL);
	assert_null(s);
	assert_non_null(strstr(e.message, "spec.env.KEY"));
	assert_non_null(strstr(e.message, "function"));

	s = lua_to_json(L, "{a = {1, 2, {[true] = 1}}}", 1, &rc, &e);
	assert_int_equal(rc, TP_EINVAL);
	assert_non_null(strstr(e.message, "item.a[3]"));

	s = lua_to_json(L, "{x = 0/0}", 1, &rc, &e);
	assert_int_equal(rc, TP_EINVAL);
	assert_non_null(strstr(e.message, "item.x"));
	assert_non_null(strstr(e.message, "NaN"));

	s = lua_to_json(L, "{s = tp.set('NS', {})}", 1, &rc, &e);
	assert_int_equal(rc, TP_EINVAL);
	assert_non_null(strstr(e.message, "item.s: empty NS"));

	assert_int_equal(luaL_dostring(L, "local t = {} t.self = t return t"), 0);
	cJSON *out = NULL;
	assert_int_equal(ddblua_to_json(L, -1, "spec", &out, &e), TP_EINVAL);
	assert_non_null(strstr(e.message, "nested deeper"));
	lua_settop(L, 0);

	cJSON *bad = cJSON_Parse("{\"env\":{\"M\":{\"K\":{\"N\":\"12abc\"}}}}");
	assert_int_equal(ddblua_push_item(L, bad, &e), TP_EINVAL);
	assert_non_null(strstr(e.message, "item.env.K"));
	cJSON_Delete(bad);
	bad = cJSON_Parse("{\"a\":{\"L\":[{\"S\":\"x\"},{\"Q\":1}]}}");
	assert_int_equal(ddblua_push_item(L, bad, &e), TP_EINVAL);
	assert_non_null(strstr(e.message, "item.a[2]"));
	cJSON_Delete(bad);
	bad = cJSON_Parse("{\"b\":{\"B\":\"@@@\"}}");
	assert_int_equal(ddblua_push_item(L, bad, &e), TP_EINVAL);
	assert_non_null(strstr(e.message, "item.b"));
	cJSON_Delete(bad);
	lua_close(L);
}

static void binary_is_raw_in_lua(void **state)
{
	lua_State *L = new_state();
	cJSON *in = cJSON_Parse("{\"b\":{\"B\":\"AAEC/w==\"},\"bs\":{\"BS\":[\"aGk=\"]}}");
	tp_err e = {0};
	assert_int_equal(ddblua_push_item(L, in, &e), 0);
	lua_setglobal(L, "it");
	assert_int_equal(luaL_dostring(L, "return it.b.data == '\\0\\1\\2\\255', it.bs[1], it.bs.type, getmetatable(it.b)"), 0);
	assert_true(lua_toboolean(L, -4));
	assert_string_equal(lua_tostring(L, -3), "hi");
	assert_string_equal(lua_tostring(L, -2), "BS");
	assert_string_equal(lua_tostring(L, -1), "tp.binary");
	cJSON_Delete(in);
	lua_close(L);
}

/* UBSan (this build aborts on it) caught intdigits + exp10 overflowing on
 * a huge negative exponent; the value is a number object, not an error. */
static void huge_exponents_do_not_overflow(void **state)
{
	lua_State *L = new_state();
	tp_err e = {0};
	const char *texts[] = { "0.01e-9223372036854775808", "0.01e9223372036854775807", "1e-99999999999999999999",
				"-0.000e-9223372036854775808", "10e9223372036854775807" };
	for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
		cJSON *av = cJSON_CreateObject();
		cJSON_AddStringToObject(av, "N", texts[i]);
		assert_int_equal(ddblua_push(L, av, &e), 0);
		cJSON *out = NULL;
		assert_int_equal(ddblua_to_av(L, -1, "n", &out, &e), 0);
		if (strcmp(cJSON_GetObjectItem(out, "N")->valuestring, texts[i]) != 0 && !lua_isnumber(L, -1))
			fail_msg("%s came back as %s", texts[i], cJSON_GetObjectItem(out, "N")->valuestring);
		lua_pop(L, 1);
		cJSON_Delete(out);
		cJSON_Delete(av);
	}
	lua_close(L);
}

/* tp.number takes only text DynamoDB accepts; a number object whose text
 * was changed afterwards cannot inject raw JSON, in a set or alone. */
static void number_text_is_validated(void **state)
{
	lua_State *L = new_state();
	const char *bad[] = { "+5", ".5", "5.", "", "-", "1e", "0x10", "5 ", "1,\"x\":1", "inf", "nan", NULL };
	for (const char **b = bad; *b; b++) {
		char *code = tp_xasprintf("return tp.number('%s')", *b);
		if (luaL_dostring(L, code) == LUA_OK)
			fail_msg("tp.number(\"%s\") was accepted", *b);
		if (!strstr(lua_tostring(L, -1), "not a DynamoDB number"))
			fail_msg("tp.number('%s'): %s", *b, lua_tostring(L, -1));
		lua_settop(L, 0);
		free(code);
	}
	const char *good[] = { "5", "-5", "0.5", "1e400", "-1.25E-7", "12345678901234567890123", NULL };
	for (const char **g = good; *g; g++) {
		char *code = tp_xasprintf("return tp.number(\"%s\")", *g);
		if (luaL_dostring(L, code) != LUA_OK)
			fail_msg("tp.number(\"%s\"): %s", *g, lua_tostring(L, -1));
		lua_settop(L, 0);
		free(code);
	}
	tp_err e = {0};
	int rc;
	char *s = lua_to_json(L, "(function() local n = tp.number('5') n.text = '5,\"evil\":1' "
				 "return {s = tp.set('NS', {n})} end)()", 0, &rc, &e);
	assert_int_equal(rc, TP_EINVAL);
	assert_null(s);
	assert_non_null(strstr(e.message, "spec.s[1]: number object without valid `text`"));
	s = lua_to_json(L, "(function() local n = tp.number('5') n.text = '5}' return {n = n} end)()", 0, &rc, &e);
	assert_int_equal(rc, TP_EINVAL);
	assert_non_null(strstr(e.message, "spec.n: number object without valid `text`"));
	s = lua_to_json(L, "(function() local n = tp.number('5') n.text = '5\\0' return {n = n} end)()", 1, &rc, &e);
	assert_int_equal(rc, TP_EINVAL);
	lua_close(L);
}

/* Keys with a NUL would be cut by cJSON; keys whose __tostring errors are
 * named by type, never by calling policy code mid-conversion. */
static void keys_are_checked(void **state)
{
	lua_State *L = new_state();
	tp_err e = {0};
	int rc;
	char *s = lua_to_json(L, "{env = {['A\\0B'] = 'x'}}", 0, &rc, &e);
	assert_int_equal(rc, TP_EINVAL);
	assert_non_null(strstr(e.message, "spec.env: a key holds a NUL byte"));
	s = lua_to_json(L, "{[setmetatable({}, {__tostring = function() error('boom') end})] = 1}", 0, &rc, &e);
	assert_int_equal(rc, TP_EINVAL);
	assert_non_null(strstr(e.message, "a table key is not a string"));
	s = lua_to_json(L, "{ss = tp.set('SS', {'a\\0b'})}", 1, &rc, &e);
	assert_int_equal(rc, TP_EINVAL);
	assert_non_null(strstr(e.message, "NUL"));
	(void)s;
	assert_int_equal(ddbval_json_has_nul("{\"a\":\"x\\u0000y\"}"), 1);
	assert_int_equal(ddbval_json_has_nul("{\"a\\u0000\":1}"), 1);
	assert_int_equal(ddbval_json_has_nul("{\"a\":\"x\\\\u0000y\"}"), 0); /* an escaped backslash, then text */
	assert_int_equal(ddbval_json_has_nul("{\"a\":\"\\u00001\"}"), 1);
	assert_int_equal(ddbval_json_has_nul("{\"a\":\"\\u0001\"}"), 0);
	lua_close(L);
}

/* The budget stops a result that repeats a big string or a table reached
 * 2^40 ways, by values and by bytes, naming the path. */
static void conversion_budget(void **state)
{
	lua_State *L = new_state();
	tp_err e = {0};
	cJSON *out = NULL;
	struct ddblua_budget b = { .max_nodes = 10000, .max_bytes = 1u << 20 };
	assert_int_equal(luaL_dostring(L, "local s = string.rep('x', 1 << 20) local t = {} "
					  "for i = 1, 1000 do t[i] = s end return {v = t}"), 0);
	assert_int_equal(ddblua_to_json_budget(L, -1, "spec", &b, &out, &e), TP_ELIMIT);
	assert_string_equal(e.code, "PolicyOutputLimit");
	assert_non_null(strstr(e.message, "spec.v[1]: more than 1048576 bytes of text"));
	assert_null(out);
	lua_settop(L, 0);
	struct ddblua_budget b2 = { .max_nodes = 10000, .max_bytes = 1u << 20 };
	assert_int_equal(luaL_dostring(L, "local t = {'leaf'} for i = 1, 40 do t = {t, t} end return {v = t}"), 0);
	assert_int_equal(ddblua_to_json_budget(L, -1, "spec", &b2, &out, &e), TP_ELIMIT);
	assert_non_null(strstr(e.message, "more than 10000 values"));
	lua_settop(L, 0);
	struct ddblua_budget b3 = { .max_nodes = 10000, .max_bytes = 1u << 20 };
	assert_int_equal(luaL_dostring(L, "return {a = {1, 2, 3}, b = 'text'}"), 0);
	assert_int_equal(ddblua_to_json_budget(L, -1, "spec", &b3, &out, &e), 0);
	assert_int_equal(b3.nodes, 6);
	cJSON_Delete(out);
	lua_close(L);
}

/* A float only when Lua's tostring gives its value back (policies make env
 * text with tostring); else a number object with the text. */
static void floats_print_back_in_lua(void **state)
{
	lua_State *L = new_state();
	cJSON *in = cJSON_Parse("{\"a\":{\"N\":\"0.1\"},\"b\":{\"N\":\"0.30000000000000004\"},"
				"\"c\":{\"N\":\"2.50\"},\"d\":{\"N\":\"123456789012345678\"}}");
	tp_err e = {0};
	assert_int_equal(ddblua_push_item(L, in, &e), 0);
	lua_setglobal(L, "it");
	assert_int_equal(luaL_dostring(L, "return tostring(it.a), tp.type(it.b), tostring(it.b), tostring(it.c), "
				       "math.type(it.d), string.format('%d', it.d)"), 0);
	assert_string_equal(lua_tostring(L, -6), "0.1");
	assert_string_equal(lua_tostring(L, -5), "bignumber");
	assert_string_equal(lua_tostring(L, -4), "0.30000000000000004");
	assert_string_equal(lua_tostring(L, -3), "2.5");
	assert_string_equal(lua_tostring(L, -2), "integer");
	assert_string_equal(lua_tostring(L, -1), "123456789012345678");
	cJSON_Delete(in);
	lua_close(L);
}

static void dynamodb_number_limits(void **state)
{
	char why[200];
	const char *ok[] = { "0", "-0.0", "12345678901234567890123456789012345678", "1e-130", "-1E-130",
			     "9.9999999999999999999999999999999999999E+125", "100000000000000000000000000000000000000000",
			     "0.000000000000000000000000000000000000000000001", NULL };
	for (int i = 0; ok[i]; i++)
		assert_int_equal(ddbval_number_check(ok[i], why, sizeof why), 0);
	assert_int_equal(ddbval_number_check("123456789012345678901234567890123456789", why, sizeof why), -1);
	assert_string_equal(why, "number has 39 significant digits; DynamoDB allows 38");
	assert_int_equal(ddbval_number_check("1e126", why, sizeof why), -1);
	assert_non_null(strstr(why, "out of DynamoDB's range"));
	assert_int_equal(ddbval_number_check("0.9e-130", why, sizeof why), -1);
	assert_int_equal(ddbval_number_check("1e-99999999999999999999", why, sizeof why), -1);
	assert_int_equal(ddbval_number_check("1.", why, sizeof why), -1);
	assert_non_null(strstr(why, "is not a number"));
}

static void item_check_names_the_field(void **state)
{
	char why[300];
	cJSON *it = cJSON_Parse("{\"pipeline\":{\"S\":\"a\"},\"env\":{\"M\":{\"BIG\":{\"N\":"
				"\"1234567890123456789012345678901234567891\"}}}}");
	assert_int_equal(ddbval_check_item(it, why, sizeof why), -1);
	assert_string_equal(why, "env.BIG: number has 40 significant digits; DynamoDB allows 38");
	cJSON_Delete(it);
	it = cJSON_Parse("{\"l\":{\"L\":[{\"N\":\"1\"},{\"NS\":[\"1\",\"2\",\"1.0e0\"]}]}}");
	assert_int_equal(ddbval_check_item(it, why, sizeof why), -1);
	assert_string_equal(why, "l[1]: NS holds a duplicate value (DynamoDB sets hold distinct values)");
	cJSON_Delete(it);
	it = cJSON_Parse("{\"s\":{\"SS\":[\"a\",\"A\"]},\"n\":{\"NS\":[\"1\",\"10\",\"0.1\"]},"
			 "\"b\":{\"BS\":[\"AA==\"]}}");
	assert_int_equal(ddbval_check_item(it, why, sizeof why), 0);
	cJSON_Delete(it);
	it = cJSON_Parse("{\"s\":{\"BS\":[]}}");
	assert_int_equal(ddbval_check_item(it, why, sizeof why), -1);
	assert_non_null(strstr(why, "s: BS must be a non-empty array"));
	cJSON_Delete(it);
	/* found by fuzz_ddbval: "Aa==" and "AQ==" are both the byte 1 */
	it = cJSON_Parse("{\"bs\":{\"BS\":[\"Aa==\",\"AQ==\"]}}");
	assert_int_equal(ddbval_check_item(it, why, sizeof why), -1);
	assert_string_equal(why, "bs: BS holds a duplicate value (DynamoDB sets hold distinct values)");
	cJSON_Delete(it);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_type_round_trips),
		cmocka_unit_test(big_numbers_keep_every_digit),
		cmocka_unit_test(empty_list_and_map_stay_apart),
		cmocka_unit_test(lua_values_convert),
		cmocka_unit_test(errors_name_the_path),
		cmocka_unit_test(binary_is_raw_in_lua),
		cmocka_unit_test(huge_exponents_do_not_overflow),
		cmocka_unit_test(number_text_is_validated),
		cmocka_unit_test(keys_are_checked),
		cmocka_unit_test(conversion_budget),
		cmocka_unit_test(floats_print_back_in_lua),
		cmocka_unit_test(dynamodb_number_limits),
		cmocka_unit_test(item_check_names_the_field),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
