/* ddbval.c: DynamoDB AttributeValues as JSON: the checks DynamoDB would
 * make (numbers, sets, nesting) and the number and base64 text forms that
 * script/ddblua.c, the bridge to Lua, shares (see ddbval.h). No Lua here:
 * aws/ is below script/.
 */
#include "aws/ddbval.h"

#include "base/base64.h"

#include <cjson/cJSON.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NUM_EXP_CLAMP 1000000000L /* |exponent| kept below; digits are far fewer */

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

int ddbval_number_loose_ok(const char *s)
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

char *ddbval_number_normal(const char *s)
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

void ddbval_number_shortest(double d, char *out, size_t len)
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
	char *n = ddbval_number_normal(s);
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
		keys[i] = t[0] == 'N' ? ddbval_number_normal(el->valuestring) : t[0] == 'B' ? bin_normal(el->valuestring)
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
	if (depth > DDBVAL_MAX_DEPTH) {
		snprintf(why, len, "%s: nested deeper than %d levels", buf_str(pth), DDBVAL_MAX_DEPTH);
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
			size_t old = ddbval_path_key(pth, el->string);
			if (check_av(el, pth, depth + 1, why, len) < 0)
				return -1;
			ddbval_path_pop(pth, old);
		}
	} else if (strcmp(t, "L") == 0 && cJSON_IsArray(v)) {
		long long i = 0;
		for (const cJSON *el = v->child; el; el = el->next, i++) {
			size_t old = ddbval_path_index(pth, i);
			if (check_av(el, pth, depth + 1, why, len) < 0)
				return -1;
			ddbval_path_pop(pth, old);
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
