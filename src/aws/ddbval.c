/* ddbval.c: DynamoDB AttributeValues and plain JSON <-> Lua values (see ddbval.h).
 *
 * Marked objects carry registry metatables named "tp.list", "tp.set",
 * "tp.binary", "tp.number" and "tp.null"; each metatable's __metatable field
 * is its name, so getmetatable(x) answers "tp.list" and a policy can neither
 * change nor replace it. ddbval_open also stores registry["tp.lib"], a table
 * of constructors (null, list, set, binary, number, type) that the policy
 * host copies into the `tp` global.
 */
#include "aws/ddbval.h"
#include "base/base64.h"

#include <cjson/cJSON.h>
#include <lauxlib.h>
#include <lua.h>
#include <luaconf.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 64 /* DynamoDB nests at most 32 levels; also stops cycles */
#define NUM_EXP_CLAMP 1000000000L /* |exponent| kept below; digits are far fewer */

static const char NULL_KEY[] = "tp.null.value";

/* ---------- numbers ---------- */

/* An optional exponent, e[+-]digits: 1 when s ends right after it. */
static int exponent_ends(const char *s)
{
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '-' || *s == '+')
			s++;
		if (!(*s >= '0' && *s <= '9'))
			return 0;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	return *s == 0;
}

/* A decimal number as DynamoDB writes it: -?digits[.digits][e[+-]digits]
 * (a leading or trailing dot is accepted too). */
static int num_syntax_ok(const char *s)
{
	int digits = 0;
	if (*s == '-' || *s == '+')
		s++;
	while (*s >= '0' && *s <= '9')
		s++, digits++;
	if (*s == '.')
		for (s++; *s >= '0' && *s <= '9'; s++)
			digits++;
	return digits && exponent_ends(s);
}

int ddbval_number_ok(const char *s)
{
	if (*s == '-')
		s++;
	if (!(*s >= '0' && *s <= '9'))
		return 0;
	while (*s >= '0' && *s <= '9')
		s++;
	if (*s == '.') {
		s++;
		if (!(*s >= '0' && *s <= '9'))
			return 0;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	return exponent_ends(s);
}

int ddbval_json_has_nul(const char *json)
{
	/* backslashes occur only inside strings in valid JSON; invalid text
	 * is the parser's to refuse */
	for (const char *s = json; *s; s++) {
		if (*s != '\\')
			continue;
		if (s[1] == 'u' && strncmp(s + 2, "0000", 4) == 0)
			return 1;
		if (s[1])
			s++; /* skip the escaped character, a backslash too */
	}
	return 0;
}

/* Normal form of a valid decimal: sign, significant digits without
 * leading or trailing zeros, and the decimal exponent of 0.DIGITS; "0" for
 * zero. Two texts have the same value exactly when their forms are equal. */
static char *num_normal(const char *s)
{
	char *dig = tp_xmalloc(strlen(s) + 1);
	size_t nd = 0;
	long intdigits = 0, exp10 = 0;
	int neg = 0, in_frac = 0;
	if (*s == '-' || *s == '+')
		neg = *s++ == '-';
	for (; *s && *s != 'e' && *s != 'E'; s++) {
		if (*s == '.') {
			in_frac = 1;
		} else if (*s == '0' && nd == 0) {
			if (in_frac)
				intdigits--; /* 0.00x: the first digit moves right */
		} else {
			dig[nd++] = *s;
			if (!in_frac)
				intdigits++;
		}
	}
	if (*s) {
		/* clamp: a huge exponent would overflow intdigits + exp10 (the
		 * value is then zero or infinite as a double, never equal) */
		errno = 0;
		exp10 = strtol(s + 1, NULL, 10);
		if (exp10 > NUM_EXP_CLAMP)
			exp10 = NUM_EXP_CLAMP;
		else if (exp10 < -NUM_EXP_CLAMP)
			exp10 = -NUM_EXP_CLAMP;
	}
	while (nd && dig[nd - 1] == '0')
		nd--;
	dig[nd] = 0;
	char *out = nd ? tp_xasprintf("%s%se%ld", neg ? "-" : "", dig, intdigits + exp10) : tp_xstrdup("0");
	free(dig);
	return out;
}

/* Shortest "%.*g" text that reads back as d. */
static void num_shortest(double d, char *out, size_t len)
{
	if (d == floor(d) && fabs(d) < 1e15) {
		snprintf(out, len, "%.0f", d == 0 ? 0.0 : d);
		return;
	}
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(out, len, "%.*g", prec, d);
		if (strtod(out, NULL) == d)
			return;
	}
}

static void push_number_object(lua_State *L, const char *text)
{
	lua_createtable(L, 0, 1);
	lua_pushstring(L, text);
	lua_setfield(L, -2, "text");
	luaL_setmetatable(L, "tp.number");
}

/* Push the Lua form of N text (see ddbval.h); 0 or -1 on bad syntax. */
static int push_n(lua_State *L, const char *text)
{
	if (!num_syntax_ok(text))
		return -1;
	const char *p = text[0] == '-' ? text + 1 : text;
	if (strspn(p, "0123456789") == strlen(p)) {
		errno = 0;
		char *end;
		long long v = strtoll(text, &end, 10);
		if (errno == 0 && *end == 0) {
			lua_pushinteger(L, (lua_Integer)v);
			return 0;
		}
	}
	double d = strtod(text, NULL);
	if (isfinite(d)) {
		/* A float only when Lua's own tostring (LUA_NUMBER_FMT, "%.14g")
		 * gives the same value back: policies turn env numbers into text
		 * with tostring, so 0.30000000000000004 must not become "0.3". */
		char s[40];
		snprintf(s, sizeof s, LUA_NUMBER_FMT, d);
		char *a = num_normal(text), *b = num_normal(s);
		int same = strcmp(a, b) == 0;
		free(a);
		free(b);
		if (same) {
			lua_pushnumber(L, d);
			return 0;
		}
	}
	push_number_object(L, text);
	return 0;
}

/* ---------- path helpers ---------- */

/* The path grows and shrinks at every value converted: plain appends, no
 * printf (which was a seventh of a policy call's instructions). */
static size_t path_key(buf *b, const char *key)
{
	size_t old = b->len;
	buf_addc(b, '.');
	buf_adds(b, key);
	return old;
}

static size_t path_index(buf *b, long long i)
{
	size_t old = b->len;
	char d[24], *p = d + sizeof d;
	unsigned long long u = i < 0 ? 0 - (unsigned long long)i : (unsigned long long)i;
	*--p = ']';
	do
		*--p = (char)('0' + u % 10);
	while (u /= 10);
	if (i < 0)
		*--p = '-';
	*--p = '[';
	buf_add(b, p, (size_t)(d + sizeof d - p));
	return old;
}

static void path_pop(buf *b, size_t old)
{
	b->len = old;
	if (b->data)
		b->data[old] = 0;
}

/* ---------- DynamoDB's limits ---------- */

/* "Numbers can have up to 38 digits of precision ... Positive range: 1E-130
 * to 9.9999999999999999999999999999999999999E+125" (Amazon DynamoDB
 * Developer Guide, "Supported data types and naming rules", Number). */
#define DDB_MAX_DIGITS 38
#define DDB_MIN_EXP (-129) /* 0.D x 10^e >= 1E-130 */
#define DDB_MAX_EXP 126    /* 0.D x 10^e <  1E+126 */

int ddbval_number_check(const char *s, char *why, size_t len)
{
	if (!ddbval_number_ok(s)) {
		snprintf(why, len, "\"%.60s\" is not a number (-?digits[.digits][e[+-]digits])", s);
		return -1;
	}
	char *n = num_normal(s);
	if (strcmp(n, "0") == 0) {
		free(n);
		return 0;
	}
	const char *d = n[0] == '-' ? n + 1 : n, *e = strchr(d, 'e');
	size_t digits = (size_t)(e - d);
	long exp10 = strtol(e + 1, NULL, 10);
	free(n);
	if (digits > DDB_MAX_DIGITS) {
		snprintf(why, len, "number has %zu significant digits; DynamoDB allows %d", digits, DDB_MAX_DIGITS);
		return -1;
	}
	if (exp10 < DDB_MIN_EXP || exp10 > DDB_MAX_EXP) {
		snprintf(why, len, "number %.60s is out of DynamoDB's range (magnitude 1E-130 to "
			 "9.9999999999999999999999999999999999999E+125)", s);
		return -1;
	}
	return 0;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Base64 text re-encoded from its bytes: "Aa==" and "AQ==" both hold the
 * byte 1 (decoders ignore the padding bits), so BS compares these. Text
 * that does not decode stays as it is. */
static char *bin_normal(const char *s)
{
	char *bytes;
	size_t n;
	if (base64_decode(s, &bytes, &n) < 0)
		return tp_xstrdup(s);
	char *out = base64_encode_dup(bytes, n);
	free(bytes);
	return out;
}

/* A set: not empty, elements valid, no two equal (NS by value: 1 and 1.0 are
 * the same number; BS by bytes). */
static int check_set(const char *t, const cJSON *arr, const char *path, char *why, size_t len)
{
	int n = cJSON_GetArraySize(arr);
	if (!cJSON_IsArray(arr) || n == 0) {
		snprintf(why, len, "%s: %s must be a non-empty array (DynamoDB sets cannot be empty)", path, t);
		return -1;
	}
	char **keys = tp_xcalloc((size_t)n, sizeof *keys);
	int i = 0, rc = 0;
	char sub[128];
	for (const cJSON *el = arr->child; el; el = el->next, i++) {
		if (!cJSON_IsString(el)) {
			snprintf(why, len, "%s[%d]: %s elements must be strings", path, i, t);
			rc = -1;
			break;
		}
		if (t[0] == 'N' && ddbval_number_check(el->valuestring, sub, sizeof sub) < 0) {
			snprintf(why, len, "%s[%d]: %s", path, i, sub);
			rc = -1;
			break;
		}
		keys[i] = t[0] == 'N' ? num_normal(el->valuestring) : t[0] == 'B' ? bin_normal(el->valuestring)
										     : tp_xstrdup(el->valuestring);
	}
	if (rc == 0) {
		qsort(keys, (size_t)n, sizeof *keys, str_cmp);
		for (i = 1; i < n; i++)
			if (strcmp(keys[i - 1], keys[i]) == 0) {
				snprintf(why, len, "%s: %s holds a duplicate value (DynamoDB sets hold distinct values)",
					 path, t);
				rc = -1;
				break;
			}
	}
	for (i = 0; i < n; i++)
		free(keys[i]);
	free(keys);
	return rc;
}

static int check_av(const cJSON *av, buf *pth, int depth, char *why, size_t len)
{
	if (depth > MAX_DEPTH) {
		snprintf(why, len, "%s: nested deeper than %d levels", buf_str(pth), MAX_DEPTH);
		return -1;
	}
	if (!cJSON_IsObject(av) || !av->child || av->child->next) {
		snprintf(why, len, "%s: an AttributeValue must be an object with exactly one type key", buf_str(pth));
		return -1;
	}
	const cJSON *v = av->child;
	const char *t = v->string;
	char sub[200];
	if (strcmp(t, "N") == 0) {
		if (!cJSON_IsString(v)) {
			snprintf(why, len, "%s: N must be a string", buf_str(pth));
			return -1;
		}
		if (ddbval_number_check(v->valuestring, sub, sizeof sub) < 0) {
			snprintf(why, len, "%s: %s", buf_str(pth), sub);
			return -1;
		}
	} else if (strcmp(t, "SS") == 0 || strcmp(t, "NS") == 0 || strcmp(t, "BS") == 0) {
		return check_set(t, v, buf_str(pth), why, len);
	} else if (strcmp(t, "M") == 0 && cJSON_IsObject(v)) {
		for (const cJSON *el = v->child; el; el = el->next) {
			size_t old = path_key(pth, el->string);
			if (check_av(el, pth, depth + 1, why, len) < 0)
				return -1;
			path_pop(pth, old);
		}
	} else if (strcmp(t, "L") == 0 && cJSON_IsArray(v)) {
		long long i = 0;
		for (const cJSON *el = v->child; el; el = el->next, i++) {
			size_t old = path_index(pth, i);
			if (check_av(el, pth, depth + 1, why, len) < 0)
				return -1;
			path_pop(pth, old);
		}
	}
	return 0;
}

int ddbval_check_item(const cJSON *item, char *why, size_t len)
{
	int rc = 0;
	for (const cJSON *el = item ? item->child : NULL; el && rc == 0; el = el->next) {
		buf pth = {0};
		buf_adds(&pth, el->string);
		rc = check_av(el, &pth, 0, why, len);
		buf_free(&pth);
	}
	return rc;
}

/* ---------- AttributeValue -> Lua ---------- */

static int push_av(lua_State *L, const cJSON *av, buf *pth, int depth, tp_err *e);

static int push_set(lua_State *L, const char *type, const cJSON *arr, buf *pth, tp_err *e)
{
	if (!cJSON_IsArray(arr))
		return tp_errf(e, TP_EINVAL, "BadAttributeValue", "%s: %s must be an array", buf_str(pth), type);
	lua_createtable(L, cJSON_GetArraySize(arr), 1);
	lua_pushstring(L, type);
	lua_setfield(L, -2, "type");
	lua_Integer i = 0;
	for (const cJSON *el = arr->child; el; el = el->next) {
		size_t old = path_index(pth, i + 1);
		if (!cJSON_IsString(el)) {
			tp_errf(e, TP_EINVAL, "BadAttributeValue", "%s: %s elements must be strings", buf_str(pth), type);
			goto fail;
		}
		if (type[0] == 'S') {
			lua_pushstring(L, el->valuestring);
		} else if (type[0] == 'N') {
			if (push_n(L, el->valuestring) < 0) {
				tp_errf(e, TP_EINVAL, "BadAttributeValue", "%s: \"%s\" is not a number", buf_str(pth), el->valuestring);
				goto fail;
			}
		} else {
			char *raw;
			size_t rawlen;
			if (base64_decode(el->valuestring, &raw, &rawlen) < 0) {
				tp_errf(e, TP_EINVAL, "BadAttributeValue", "%s: not base64", buf_str(pth));
				goto fail;
			}
			lua_pushlstring(L, raw, rawlen);
			free(raw);
		}
		path_pop(pth, old);
		lua_rawseti(L, -2, ++i);
		continue;
fail:
		lua_pop(L, 1);
		return e ? e->rc : TP_EINVAL;
	}
	luaL_setmetatable(L, "tp.set");
	return 0;
}

static int push_map(lua_State *L, const cJSON *obj, buf *pth, int depth, tp_err *e)
{
	lua_createtable(L, 0, cJSON_GetArraySize(obj));
	for (const cJSON *el = obj->child; el; el = el->next) {
		size_t old = path_key(pth, el->string);
		int rc = push_av(L, el, pth, depth + 1, e);
		if (rc < 0) {
			lua_pop(L, 1);
			return rc;
		}
		path_pop(pth, old);
		lua_setfield(L, -2, el->string);
	}
	return 0;
}

static int push_av(lua_State *L, const cJSON *av, buf *pth, int depth, tp_err *e)
{
	if (depth > MAX_DEPTH)
		return tp_errf(e, TP_EINVAL, "BadAttributeValue", "%s: nested deeper than %d levels", buf_str(pth), MAX_DEPTH);
	if (!cJSON_IsObject(av) || !av->child || av->child->next)
		return tp_errf(e, TP_EINVAL, "BadAttributeValue",
			       "%s: an AttributeValue must be an object with exactly one type key", buf_str(pth));
	luaL_checkstack(L, 4, "ddbval");
	const cJSON *v = av->child;
	const char *t = v->string;
	if (strcmp(t, "S") == 0 && cJSON_IsString(v)) {
		lua_pushstring(L, v->valuestring);
	} else if (strcmp(t, "N") == 0 && cJSON_IsString(v)) {
		if (push_n(L, v->valuestring) < 0)
			return tp_errf(e, TP_EINVAL, "BadAttributeValue", "%s: \"%s\" is not a number", buf_str(pth), v->valuestring);
	} else if (strcmp(t, "BOOL") == 0 && cJSON_IsBool(v)) {
		lua_pushboolean(L, cJSON_IsTrue(v));
	} else if (strcmp(t, "NULL") == 0 && cJSON_IsBool(v)) {
		lua_getfield(L, LUA_REGISTRYINDEX, NULL_KEY);
	} else if (strcmp(t, "M") == 0 && cJSON_IsObject(v)) {
		return push_map(L, v, pth, depth, e);
	} else if (strcmp(t, "L") == 0 && cJSON_IsArray(v)) {
		lua_createtable(L, cJSON_GetArraySize(v), 0);
		lua_Integer i = 0;
		for (const cJSON *el = v->child; el; el = el->next) {
			size_t old = path_index(pth, i + 1);
			int rc = push_av(L, el, pth, depth + 1, e);
			if (rc < 0) {
				lua_pop(L, 1);
				return rc;
			}
			path_pop(pth, old);
			lua_rawseti(L, -2, ++i);
		}
		luaL_setmetatable(L, "tp.list");
	} else if (strcmp(t, "B") == 0 && cJSON_IsString(v)) {
		char *raw;
		size_t rawlen;
		if (base64_decode(v->valuestring, &raw, &rawlen) < 0)
			return tp_errf(e, TP_EINVAL, "BadAttributeValue", "%s: B is not base64", buf_str(pth));
		lua_createtable(L, 0, 1);
		lua_pushlstring(L, raw, rawlen);
		free(raw);
		lua_setfield(L, -2, "data");
		luaL_setmetatable(L, "tp.binary");
	} else if (strcmp(t, "SS") == 0 || strcmp(t, "NS") == 0 || strcmp(t, "BS") == 0) {
		return push_set(L, t, v, pth, e);
	} else {
		return tp_errf(e, TP_EINVAL, "BadAttributeValue", "%s: unknown or mistyped AttributeValue \"%s\"",
			       buf_str(pth), t);
	}
	return 0;
}

int ddbval_push(lua_State *L, const cJSON *av, tp_err *e)
{
	buf pth = {0};
	buf_adds(&pth, "value");
	int rc = push_av(L, av, &pth, 0, e);
	buf_free(&pth);
	return rc;
}

int ddbval_push_item(lua_State *L, const cJSON *item, tp_err *e)
{
	if (!cJSON_IsObject(item))
		return tp_errf(e, TP_EINVAL, "BadItem", "item: must be a JSON object of AttributeValues");
	buf pth = {0};
	buf_adds(&pth, "item");
	int rc = push_map(L, item, &pth, 0, e);
	buf_free(&pth);
	return rc;
}

/* ---------- plain JSON -> Lua ---------- */

static int push_json(lua_State *L, const cJSON *j, buf *pth, int depth, tp_err *e)
{
	if (depth > MAX_DEPTH)
		return tp_errf(e, TP_EINVAL, "BadJson", "%s: nested deeper than %d levels", buf_str(pth), MAX_DEPTH);
	luaL_checkstack(L, 4, "ddbval");
	if (cJSON_IsString(j)) {
		lua_pushstring(L, j->valuestring);
	} else if (cJSON_IsNumber(j)) {
		double d = j->valuedouble;
		/* cJSON keeps only a double: integers are exact up to 2^53 */
		if (d == floor(d) && fabs(d) <= 9007199254740992.0)
			lua_pushinteger(L, (lua_Integer)d);
		else
			lua_pushnumber(L, d);
	} else if (cJSON_IsRaw(j)) {
		/* a number kept as its text (jsonnum.h): every digit, as an N */
		if (push_n(L, j->valuestring) < 0)
			return tp_errf(e, TP_EINVAL, "BadJson", "%s: not a number: %.40s", buf_str(pth), j->valuestring);
	} else if (cJSON_IsBool(j)) {
		lua_pushboolean(L, cJSON_IsTrue(j));
	} else if (cJSON_IsNull(j)) {
		lua_getfield(L, LUA_REGISTRYINDEX, NULL_KEY);
	} else if (cJSON_IsArray(j) || cJSON_IsObject(j)) {
		int arr = cJSON_IsArray(j);
		lua_createtable(L, arr ? cJSON_GetArraySize(j) : 0, arr ? 0 : cJSON_GetArraySize(j));
		lua_Integer i = 0;
		for (const cJSON *el = j->child; el; el = el->next) {
			size_t old = arr ? path_index(pth, i + 1) : path_key(pth, el->string);
			int rc = push_json(L, el, pth, depth + 1, e);
			if (rc < 0) {
				lua_pop(L, 1);
				return rc;
			}
			path_pop(pth, old);
			if (arr)
				lua_rawseti(L, -2, ++i);
			else
				lua_setfield(L, -2, el->string);
		}
		if (arr)
			luaL_setmetatable(L, "tp.list");
	} else {
		return tp_errf(e, TP_EINVAL, "BadJson", "%s: unsupported JSON value", buf_str(pth));
	}
	return 0;
}

int ddbval_push_json(lua_State *L, const cJSON *json, tp_err *e)
{
	buf pth = {0};
	buf_adds(&pth, "json");
	int rc = push_json(L, json, &pth, 0, e);
	buf_free(&pth);
	return rc;
}

/* ---------- Lua -> AttributeValue / JSON ---------- */

static const char *const MARKS[] = { NULL, "tp.list", "tp.set", "tp.binary", "tp.number", "tp.null" };
static const char MARK_KEY = 0; /* address keys mt[MARK_KEY] = index into MARKS */

/* The tp.* name of a marked value, or NULL. One raw lookup: this runs for
 * every table converted and every tp.type call. */
static const char *marker(lua_State *L, int idx)
{
	if (!lua_getmetatable(L, idx))
		return NULL;
	lua_rawgetp(L, -1, &MARK_KEY);
	lua_Integer i = lua_tointeger(L, -1);
	lua_pop(L, 2);
	return i > 0 && i < (lua_Integer)(sizeof MARKS / sizeof MARKS[0]) ? MARKS[i] : NULL;
}

/* 1 when the table at idx is a non-empty sequence 1..n, 0 otherwise;
 * *n receives the number of keys. */
static int is_sequence(lua_State *L, int idx, lua_Integer *n)
{
	lua_Integer count = 0, max = 0;
	int seq = 1;
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		count++;
		if (lua_isinteger(L, -2)) {
			lua_Integer k = lua_tointeger(L, -2);
			if (k < 1)
				seq = 0;
			else if (k > max)
				max = k;
		} else {
			seq = 0;
		}
		lua_pop(L, 1);
	}
	*n = count;
	return seq && count > 0 && max == count;
}

enum { MODE_AV, MODE_JSON };

typedef struct ddbval_budget budget;

static int to_val(lua_State *L, int idx, buf *pth, int depth, int mode, budget *bud, cJSON **out, tp_err *e);

/* Charge values and n bytes of text against the budget (NULL: none). */
static int spend(budget *bud, size_t values, size_t n, buf *pth, tp_err *e)
{
	if (!bud)
		return 0;
	bud->nodes += values;
	if (bud->nodes > bud->max_nodes)
		return tp_errf(e, TP_ELIMIT, "PolicyOutputLimit", "%s: more than %zu values (the limit for a result)",
			       buf_str(pth), bud->max_nodes);
	if (n > bud->max_bytes - bud->bytes)
		return tp_errf(e, TP_ELIMIT, "PolicyOutputLimit",
			       "%s: more than %zu bytes of text (the limit for a result)", buf_str(pth), bud->max_bytes);
	bud->bytes += n;
	return 0;
}

/* The text of a tp.number object at idx, when DynamoDB would accept it. */
static const char *number_text(lua_State *L, int idx)
{
	lua_getfield(L, idx, "text");
	const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
	size_t len = 0;
	if (s)
		lua_tolstring(L, -1, &len);
	return s && strlen(s) == len && ddbval_number_ok(s) ? s : NULL; /* leaves the value pushed */
}

/* A Lua number as N text or a JSON number. */
static int number_out(lua_State *L, int idx, buf *pth, int mode, cJSON **out, tp_err *e)
{
	char text[64];
	if (lua_isinteger(L, idx)) {
		lua_Integer v = lua_tointeger(L, idx);
		int exact = v <= 9007199254740992LL && v >= -9007199254740992LL; /* as a double */
		if (mode == MODE_JSON && exact) {
			*out = cJSON_CreateNumber((double)v);
			return 0;
		}
		snprintf(text, sizeof text, "%lld", (long long)v);
		if (mode == MODE_JSON)
			*out = cJSON_CreateRaw(text); /* keep every digit */
	} else {
		double d = lua_tonumber(L, idx);
		if (!isfinite(d))
			return tp_errf(e, TP_EINVAL, "BadValue", "%s: %s is not a finite number", buf_str(pth),
				       isnan(d) ? "NaN" : "infinity");
		num_shortest(d, text, sizeof text);
		if (mode == MODE_JSON)
			*out = cJSON_CreateRaw(text);
	}
	if (mode == MODE_AV) {
		*out = cJSON_CreateObject();
		cJSON_AddStringToObject(*out, "N", text);
	}
	return 0;
}

static cJSON *wrap(int mode, const char *type, cJSON *v)
{
	if (mode == MODE_JSON)
		return v;
	cJSON *o = cJSON_CreateObject();
	cJSON_AddItemToObject(o, type, v);
	return o;
}

static int set_out(lua_State *L, int idx, buf *pth, int mode, budget *bud, cJSON **out, tp_err *e)
{
	lua_getfield(L, idx, "type");
	const char *type = lua_tostring(L, -1);
	char t[3] = "";
	if (type && (strcmp(type, "SS") == 0 || strcmp(type, "NS") == 0 || strcmp(type, "BS") == 0))
		memcpy(t, type, 3);
	lua_pop(L, 1);
	if (!t[0])
		return tp_errf(e, TP_EINVAL, "BadValue", "%s: set type must be \"SS\", \"NS\" or \"BS\"", buf_str(pth));
	lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
	if (n == 0 && mode == MODE_AV)
		return tp_errf(e, TP_EINVAL, "BadValue", "%s: empty %s (DynamoDB sets cannot be empty)", buf_str(pth), t);
	cJSON *arr = cJSON_CreateArray();
	for (lua_Integer i = 1; i <= n; i++) {
		size_t old = path_index(pth, i);
		lua_rawgeti(L, idx, i);
		int top = lua_gettop(L);
		cJSON *el = NULL;
		size_t len = 0;
		if (lua_type(L, top) == LUA_TSTRING)
			lua_tolstring(L, top, &len);
		int rc = spend(bud, 1, len, pth, e);
		if (rc < 0) {
			lua_settop(L, top - 1);
			cJSON_Delete(arr);
			return rc;
		}
		if (t[0] == 'S' && lua_type(L, top) == LUA_TSTRING) {
			if (strlen(lua_tostring(L, top)) != len)
				rc = tp_errf(e, TP_EINVAL, "BadValue", "%s: string holds a NUL byte", buf_str(pth));
			else
				el = cJSON_CreateString(lua_tostring(L, top));
		} else if (t[0] == 'N' && lua_type(L, top) == LUA_TNUMBER) {
			cJSON *num = NULL;
			rc = number_out(L, top, pth, MODE_AV, &num, e);
			if (rc == 0) {
				cJSON *n_item = cJSON_GetObjectItem(num, "N");
				el = mode == MODE_AV ? cJSON_CreateString(n_item->valuestring) : cJSON_CreateRaw(n_item->valuestring);
				cJSON_Delete(num);
			}
		} else if (t[0] == 'N' && lua_type(L, top) == LUA_TTABLE && marker(L, top) && strcmp(marker(L, top), "tp.number") == 0) {
			/* validated: raw text goes into the JSON as it is */
			const char *nt = number_text(L, top);
			if (!nt)
				rc = tp_errf(e, TP_EINVAL, "BadValue", "%s: number object without valid `text`", buf_str(pth));
			else if ((rc = spend(bud, 0, strlen(nt), pth, e)) == 0)
				el = mode == MODE_AV ? cJSON_CreateString(nt) : cJSON_CreateRaw(nt);
			lua_pop(L, 1);
		} else if (t[0] == 'B' && (lua_type(L, top) == LUA_TSTRING ||
					   (lua_type(L, top) == LUA_TTABLE && marker(L, top) &&
					    strcmp(marker(L, top), "tp.binary") == 0))) {
			if (lua_type(L, top) == LUA_TTABLE) {
				lua_getfield(L, top, "data");
				lua_replace(L, top);
			}
			size_t blen = 0;
			const char *s = lua_tolstring(L, top, &blen);
			if ((rc = spend(bud, 0, blen / 3 * 4 + 4, pth, e)) == 0) {
				char *enc = base64_encode_dup(s ? s : "", s ? blen : 0);
				el = cJSON_CreateString(enc);
				free(enc);
			}
		} else {
			rc = tp_errf(e, TP_EINVAL, "BadValue", "%s: a %s element cannot be a %s", buf_str(pth), t,
				     luaL_typename(L, top));
		}
		lua_settop(L, top - 1);
		if (rc < 0) {
			cJSON_Delete(arr);
			return rc;
		}
		path_pop(pth, old);
		cJSON_AddItemToArray(arr, el);
	}
	*out = wrap(mode, t, arr);
	return 0;
}

static int key_cmp(const void *a, const void *b)
{
	return strcmp((*(cJSON *const *)a)->string, (*(cJSON *const *)b)->string);
}

/* Order an object's members by key, so a spec prints the same every time
 * (Lua's table order varies with its hash seed) and hashes stably. */
static void sort_members(cJSON *o)
{
	int n = cJSON_GetArraySize(o);
	if (n < 2)
		return;
	cJSON **v = tp_xmalloc(sizeof *v * (size_t)n);
	int i = 0;
	for (cJSON *c = o->child; c; c = c->next)
		v[i++] = c;
	qsort(v, (size_t)n, sizeof *v, key_cmp);
	for (i = 0; i < n; i++) {
		v[i]->next = i + 1 < n ? v[i + 1] : NULL;
		v[i]->prev = i > 0 ? v[i - 1] : v[n - 1]; /* cJSON: head's prev is the tail */
	}
	o->child = v[0];
	free(v);
}

static int table_out(lua_State *L, int idx, buf *pth, int depth, int mode, budget *bud, cJSON **out, tp_err *e)
{
	const char *mk = marker(L, idx);
	if (mk && strcmp(mk, "tp.set") == 0)
		return set_out(L, idx, pth, mode, bud, out, e);
	if (mk && strcmp(mk, "tp.binary") == 0) {
		lua_getfield(L, idx, "data");
		size_t len = 0;
		const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &len) : NULL;
		if (!s) {
			lua_pop(L, 1);
			return tp_errf(e, TP_EINVAL, "BadValue", "%s: binary object without a string `data`", buf_str(pth));
		}
		int rc = spend(bud, 0, len / 3 * 4 + 4, pth, e);
		if (rc < 0) {
			lua_pop(L, 1);
			return rc;
		}
		char *enc = base64_encode_dup(s, len);
		lua_pop(L, 1);
		*out = wrap(mode, "B", cJSON_CreateString(enc));
		free(enc);
		return 0;
	}
	if (mk && strcmp(mk, "tp.number") == 0) {
		const char *s = number_text(L, idx);
		char *text = s ? tp_xstrdup(s) : NULL;
		lua_pop(L, 1);
		if (!text)
			return tp_errf(e, TP_EINVAL, "BadValue", "%s: number object without valid `text`", buf_str(pth));
		int rc = spend(bud, 0, strlen(text), pth, e);
		if (rc < 0) {
			free(text);
			return rc;
		}
		if (mode == MODE_AV) {
			*out = cJSON_CreateObject();
			cJSON_AddStringToObject(*out, "N", text);
		} else {
			*out = cJSON_CreateRaw(text);
		}
		free(text);
		return 0;
	}
	lua_Integer n;
	int list = is_sequence(L, idx, &n) || (mk && strcmp(mk, "tp.list") == 0 && n == 0);
	if (mk && strcmp(mk, "tp.list") == 0 && !list)
		return tp_errf(e, TP_EINVAL, "BadValue", "%s: a list must have keys 1..n only", buf_str(pth));
	cJSON *agg = list ? cJSON_CreateArray() : cJSON_CreateObject();
	if (list) {
		for (lua_Integer i = 1; i <= n; i++) {
			size_t old = path_index(pth, i);
			lua_rawgeti(L, idx, i);
			cJSON *el = NULL;
			int rc = to_val(L, lua_gettop(L), pth, depth + 1, mode, bud, &el, e);
			lua_pop(L, 1);
			if (rc < 0) {
				cJSON_Delete(agg);
				return rc;
			}
			path_pop(pth, old);
			cJSON_AddItemToArray(agg, el);
		}
	} else {
		lua_pushnil(L);
		while (lua_next(L, idx)) {
			if (lua_type(L, -2) != LUA_TSTRING) {
				/* named by type and value without calling __tostring:
				 * policy code here could error and leak agg */
				if (lua_type(L, -2) == LUA_TNUMBER)
					tp_errf(e, TP_EINVAL, "BadValue", "%s: key %s is not a string (a map needs string keys)",
						buf_str(pth), lua_isinteger(L, -2) ? "an integer" : "a number");
				else
					tp_errf(e, TP_EINVAL, "BadValue", "%s: a %s key is not a string (a map needs string keys)",
						buf_str(pth), luaL_typename(L, -2));
				lua_pop(L, 2);
				cJSON_Delete(agg);
				return TP_EINVAL;
			}
			size_t klen;
			const char *key = lua_tolstring(L, -2, &klen);
			if (strlen(key) != klen) {
				tp_errf(e, TP_EINVAL, "BadValue", "%s: a key holds a NUL byte (\"%.100s\\0...\")", buf_str(pth),
					key);
				lua_pop(L, 2);
				cJSON_Delete(agg);
				return TP_EINVAL;
			}
			size_t old = path_key(pth, key);
			cJSON *el = NULL;
			int rc = spend(bud, 0, klen, pth, e);
			if (rc == 0)
				rc = to_val(L, lua_gettop(L), pth, depth + 1, mode, bud, &el, e);
			if (rc < 0) {
				lua_pop(L, 2);
				cJSON_Delete(agg);
				return rc;
			}
			path_pop(pth, old);
			cJSON_AddItemToObject(agg, lua_tostring(L, -2), el);
			lua_pop(L, 1);
		}
	}
	if (!list)
		sort_members(agg);
	*out = wrap(mode, list ? "L" : "M", agg);
	return 0;
}

static int to_val(lua_State *L, int idx, buf *pth, int depth, int mode, budget *bud, cJSON **out, tp_err *e)
{
	if (depth > MAX_DEPTH)
		return tp_errf(e, TP_EINVAL, "BadValue", "%s: nested deeper than %d levels (a cycle?)", buf_str(pth),
			       MAX_DEPTH);
	luaL_checkstack(L, 8, "ddbval");
	size_t len = 0;
	if (lua_type(L, idx) == LUA_TSTRING)
		lua_tolstring(L, idx, &len);
	int rc = spend(bud, 1, lua_type(L, idx) == LUA_TNUMBER ? 24 : len, pth, e);
	if (rc < 0)
		return rc;
	switch (lua_type(L, idx)) {
	case LUA_TSTRING: {
		const char *s = lua_tolstring(L, idx, &len);
		if (strlen(s) != len)
			return tp_errf(e, TP_EINVAL, "BadValue", "%s: string holds a NUL byte (use tp.binary)", buf_str(pth));
		*out = wrap(mode, "S", cJSON_CreateString(s));
		return 0;
	}
	case LUA_TNUMBER:
		return number_out(L, idx, pth, mode, out, e);
	case LUA_TBOOLEAN:
		*out = wrap(mode, "BOOL", cJSON_CreateBool(lua_toboolean(L, idx)));
		return 0;
	case LUA_TTABLE:
		return table_out(L, idx, pth, depth, mode, bud, out, e);
	case LUA_TUSERDATA: {
		const char *mk = marker(L, idx);
		if (mk && strcmp(mk, "tp.null") == 0) {
			*out = mode == MODE_AV ? wrap(mode, "NULL", cJSON_CreateTrue()) : cJSON_CreateNull();
			return 0;
		}
		break;
	}
	default:
		break;
	}
	return tp_errf(e, TP_EINVAL, "BadValue", "%s: a %s cannot be converted", buf_str(pth), luaL_typename(L, idx));
}

static int convert(lua_State *L, int idx, const char *path0, int mode, budget *bud, cJSON **out, tp_err *e)
{
	buf pth = {0};
	buf_adds(&pth, path0 ? path0 : "value");
	*out = NULL;
	int rc = to_val(L, lua_absindex(L, idx), &pth, 0, mode, bud, out, e);
	buf_free(&pth);
	return rc;
}

int ddbval_to_av(lua_State *L, int idx, const char *path, cJSON **out, tp_err *e)
{
	return convert(L, idx, path, MODE_AV, NULL, out, e);
}

int ddbval_to_json(lua_State *L, int idx, const char *path, cJSON **out, tp_err *e)
{
	return convert(L, idx, path, MODE_JSON, NULL, out, e);
}

int ddbval_to_json_budget(lua_State *L, int idx, const char *path, struct ddbval_budget *b, cJSON **out, tp_err *e)
{
	return convert(L, idx, path, MODE_JSON, b, out, e);
}

/* ---------- constructors and metatables ---------- */

static int l_list(lua_State *L)
{
	if (lua_isnoneornil(L, 1)) {
		lua_settop(L, 0);
		lua_newtable(L);
	}
	luaL_checktype(L, 1, LUA_TTABLE);
	lua_settop(L, 1);
	if (lua_getmetatable(L, 1))
		luaL_error(L, "tp.list: the table already has a metatable");
	luaL_setmetatable(L, "tp.list");
	return 1;
}

static int l_set(lua_State *L)
{
	const char *type = luaL_checkstring(L, 1);
	if (strcmp(type, "SS") && strcmp(type, "NS") && strcmp(type, "BS"))
		return luaL_error(L, "tp.set: type must be \"SS\", \"NS\" or \"BS\", not \"%s\"", type);
	luaL_checktype(L, 2, LUA_TTABLE);
	lua_Integer n = (lua_Integer)lua_rawlen(L, 2);
	lua_createtable(L, (int)n, 1);
	for (lua_Integer i = 1; i <= n; i++) {
		lua_rawgeti(L, 2, i);
		lua_rawseti(L, -2, i);
	}
	lua_pushvalue(L, 1);
	lua_setfield(L, -2, "type");
	luaL_setmetatable(L, "tp.set");
	return 1;
}

static int l_binary(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TSTRING);
	lua_createtable(L, 0, 1);
	lua_pushvalue(L, 1);
	lua_setfield(L, -2, "data");
	luaL_setmetatable(L, "tp.binary");
	return 1;
}

static int l_number(lua_State *L)
{
	size_t len;
	const char *s = luaL_checklstring(L, 1, &len);
	if (strlen(s) != len || !ddbval_number_ok(s))
		return luaL_error(L, "tp.number: \"%s\" is not a DynamoDB number (-?digits[.digits][e[+-]digits])", s);
	push_number_object(L, s);
	return 1;
}

/* tp.type(v): "null", "list", "set", "binary", "number" (a number object
 * too large for a Lua number), or type(v). */
static int l_type(lua_State *L)
{
	luaL_checkany(L, 1);
	const char *mk = marker(L, 1);
	if (mk && strcmp(mk, "tp.number") == 0)
		lua_pushstring(L, "bignumber");
	else
		lua_pushstring(L, mk ? mk + 3 : luaL_typename(L, 1));
	return 1;
}

static int mt_tostring(lua_State *L)
{
	const char *mk = marker(L, 1);
	if (mk && strcmp(mk, "tp.number") == 0) {
		lua_getfield(L, 1, "text");
		return 1;
	}
	if (mk && strcmp(mk, "tp.null") == 0) {
		lua_pushliteral(L, "null");
		return 1;
	}
	if (mk && strcmp(mk, "tp.binary") == 0) {
		lua_getfield(L, 1, "data");
		lua_pushfstring(L, "binary(%d bytes)", (int)luaL_len(L, -1));
		return 1;
	}
	lua_pushfstring(L, "%s: %p", mk ? mk : "table", lua_topointer(L, 1));
	return 1;
}

void ddbval_open(lua_State *L)
{
	for (size_t i = 1; i < sizeof MARKS / sizeof MARKS[0]; i++) {
		luaL_newmetatable(L, MARKS[i]); /* sets __name */
		lua_pushstring(L, MARKS[i]);
		lua_setfield(L, -2, "__metatable");
		lua_pushinteger(L, (lua_Integer)i);
		lua_rawsetp(L, -2, &MARK_KEY);
		lua_pushcfunction(L, mt_tostring);
		lua_setfield(L, -2, "__tostring");
		lua_pop(L, 1);
	}
	lua_newuserdatauv(L, 0, 0);
	luaL_setmetatable(L, "tp.null");
	lua_setfield(L, LUA_REGISTRYINDEX, NULL_KEY);

	static const luaL_Reg lib[] = {
		{ "list", l_list }, { "set", l_set }, { "binary", l_binary },
		{ "number", l_number }, { "type", l_type }, { NULL, NULL },
	};
	luaL_newlib(L, lib);
	lua_getfield(L, LUA_REGISTRYINDEX, NULL_KEY);
	lua_setfield(L, -2, "null");
	lua_setfield(L, LUA_REGISTRYINDEX, "tp.lib");
}
