/* ddbval.h: DynamoDB AttributeValues as JSON ({"S":"x"}, {"N":"1.5"}, ...):
 * the value rules DynamoDB applies that are cheap to check before sending,
 * and the number and base64 text forms. No Lua: the bridge between these
 * values and Lua is script/ddblua.h, which shares the helpers below.
 */
#ifndef TP_DDBVAL_H
#define TP_DDBVAL_H

#include "base/base.h"

struct cJSON;

/* DynamoDB nests at most 32 levels; deeper input is refused (also stops
 * cycles in a Lua table being converted). */
#define DDBVAL_MAX_DEPTH 64

/* 1 when JSON text holds a \u0000 escape in a string (cJSON would cut the
 * string there silently), else 0. */
int ddbval_json_has_nul(const char *json);

/* 1 when s is number text DynamoDB accepts: -?digits[.digits][(e|E)[+-]digits]
 * (no leading +, no bare leading or trailing dot), else 0. */
int ddbval_number_ok(const char *s);

/* 1 when s is decimal text in the looser form N values are read in: an
 * optional sign (+ too), digits with an optional dot anywhere (a leading
 * or trailing dot too), an optional exponent; else 0. */
int ddbval_number_loose_ok(const char *s);

/* 0 when s is a number DynamoDB stores: valid text, at most 38 significant
 * digits, magnitude 1E-130 to 9.99...E+125 (or zero); else -1 and why. */
int ddbval_number_check(const char *s, char *why, size_t len);

/* 0 when an item (map of name -> AttributeValue) passes DynamoDB's value
 * rules that are cheap to check before sending: numbers (above), sets not
 * empty and without duplicates (NS by value). Else -1 and why, starting
 * with the field's path ("env.BIG: ..."). */
int ddbval_check_item(const struct cJSON *item, char *why, size_t len);

/* Normal form of valid decimal text (new string): sign, significant digits
 * without leading or trailing zeros, and the decimal exponent of 0.DIGITS;
 * "0" for zero. Two texts have the same value exactly when their forms are
 * equal. */
char *ddbval_number_normal(const char *s);
/* Shortest "%.*g" text that reads back as d. */
void ddbval_number_shortest(double d, char *out, size_t len);

/* The path of the value being checked or converted ("item.env.KEY[2]"),
 * named in errors. It grows and shrinks at every value: plain appends, no
 * printf (which was a seventh of a policy call's instructions); inline for
 * the same reason. Each returns the length to pop back to. */
static inline size_t ddbval_path_key(buf *b, const char *key)
{
	size_t old = b->len;
	buf_addc(b, '.');
	buf_adds(b, key);
	return old;
}

static inline size_t ddbval_path_index(buf *b, long long i)
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

static inline void ddbval_path_pop(buf *b, size_t old)
{
	b->len = old;
	if (b->data)
		b->data[old] = 0;
}

#endif
