/* test_put_numbers.c: every double -> integer cast on `put`'s way (plain
 * JSON item -> AttributeValues, JSON -> Lua values) is range-checked first;
 * the debug build's -fsanitize=float-cast-overflow would stop on one that
 * is not. Numbers past 2^53 keep a double's text instead. */
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

#include "aws/ddb.h"
#include "script/ddblua.h"

static const double huge[] = { 9223372036854775808.0, -9223372036854775808.0 * 2, 1e19, 1e300, -1e300,
			       18446744073709551616.0 };

static void item_numbers_beyond_long_long(void **state)
{
	for (size_t i = 0; i < sizeof huge / sizeof *huge; i++) {
		cJSON *j = cJSON_CreateObject();
		cJSON_AddStringToObject(j, "pipeline", "p");
		cJSON_AddNumberToObject(j, "memory", huge[i]);
		char why[128] = "";
		cJSON *item = ddb_item_from_json(j, why, sizeof why);
		assert_non_null(item);
		const char *n = cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(item, "memory"), "N"));
		assert_non_null(n);
		assert_true(strtod(n, NULL) == huge[i]); /* the value, not a wrapped integer */
		cJSON_Delete(item);
		cJSON_Delete(j);
	}
	cJSON *j = cJSON_Parse("{\"pipeline\":\"p\",\"memory\":9007199254740991}");
	char why[128] = "";
	cJSON *item = ddb_item_from_json(j, why, sizeof why);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(item, "memory"), "N")),
			    "9007199254740991");
	cJSON_Delete(item);
	cJSON_Delete(j);
}

static void json_numbers_to_lua_beyond_long_long(void **state)
{
	lua_State *L = luaL_newstate();
	luaL_openlibs(L);
	ddblua_open(L);
	for (size_t i = 0; i < sizeof huge / sizeof *huge; i++) {
		cJSON *n = cJSON_CreateNumber(huge[i]);
		tp_err e = { 0 };
		assert_int_equal(ddblua_push_json(L, n, &e), 0);
		assert_false(lua_isinteger(L, -1));
		assert_true(lua_tonumber(L, -1) == huge[i]);
		lua_pop(L, 1);
		cJSON_Delete(n);
	}
	cJSON *n = cJSON_CreateNumber(-9007199254740992.0);
	tp_err e = { 0 };
	assert_int_equal(ddblua_push_json(L, n, &e), 0);
	assert_true(lua_isinteger(L, -1));
	assert_true(lua_tointeger(L, -1) == -9007199254740992LL);
	cJSON_Delete(n);
	lua_close(L);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(item_numbers_beyond_long_long),
		cmocka_unit_test(json_numbers_to_lua_beyond_long_long),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
