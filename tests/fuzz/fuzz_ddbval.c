/* fuzz_ddbval.c: libFuzzer target for DynamoDB/JSON <-> Lua value
 * conversion (src/script/ddblua.c) and item value checks
 * (src/aws/ddbval.c). Input: byte 0 picks the reading (0: numbers keep
 * their text, jsonnum_parse; 1: plain cJSON), the rest is JSON text.
 * Properties: an item that passes ddbval_check_item goes to Lua and back
 * to AttributeValues that pass it too; plain JSON goes to Lua and back to
 * JSON that cJSON prints and parses again; number text accepted by
 * ddbval_number_check is accepted by ddbval_number_ok. */
#include <cjson/cJSON.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>

#include "aws/ddbval.h"
#include "script/ddblua.h"
#include "base/jsonnum.h"
#include "fuzz_fields.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static lua_State *state(void)
{
	static lua_State *L;
	if (!L) {
		L = luaL_newstate();
		CHECK(L);
		luaL_openlibs(L);
		ddblua_open(L);
	}
	lua_settop(L, 0);
	return L;
}

static void item_round_trip(lua_State *L, const cJSON *item)
{
	char why[256];
	if (!cJSON_IsObject(item) || ddbval_check_item(item, why, sizeof why) < 0)
		return;
	tp_err e = { 0 };
	if (ddblua_push_item(L, item, &e) < 0) {
		CHECK(e.message[0]);
		return;
	}
	cJSON *av = NULL;
	if (ddblua_to_av(L, -1, "item", &av, &e) == 0) {
		CHECK(av);
		const cJSON *m = cJSON_GetObjectItem(av, "M");
		/* an item of no attributes comes back as the empty map */
		CHECK(m || !item->child);
		if (m)
			CHECK(ddbval_check_item(m, why, sizeof why) == 0);
	}
	cJSON_Delete(av);
	lua_settop(L, 0);
}

static void json_round_trip(lua_State *L, const cJSON *j)
{
	tp_err e = { 0 };
	if (ddblua_push_json(L, j, &e) < 0)
		return;
	cJSON *out = NULL;
	struct ddblua_budget b = { .max_nodes = 10000, .max_bytes = 1 << 20 };
	if (ddblua_to_json_budget(L, -1, "v", &b, &out, &e) == 0) {
		char *text = cJSON_PrintUnformatted(out);
		CHECK(text);
		cJSON *again = cJSON_Parse(text);
		CHECK(again);
		cJSON_Delete(again);
		free(text);
	}
	cJSON_Delete(out);
	lua_settop(L, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	char *text = malloc(size);
	CHECK(text);
	memcpy(text, data + 1, size - 1);
	text[size - 1] = 0;
	char why[128];
	if (ddbval_number_check(text, why, sizeof why) == 0)
		CHECK(ddbval_number_ok(text));
	ddbval_json_has_nul(text);
	cJSON *j = (data[0] & 1) ? cJSON_Parse(text) : jsonnum_parse(text);
	if (j) {
		lua_State *L = state();
		item_round_trip(L, j);
		json_round_trip(L, j);
		cJSON_Delete(j);
	}
	free(text);
	return 0;
}
