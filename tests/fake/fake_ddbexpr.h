/* fake_ddbexpr.h: DynamoDB's expression language for the fake
 * (fake_ddb.c): condition, filter and key-condition expressions, update
 * expressions, projections, with ExpressionAttributeNames / Values; and the
 * AttributeValue rules they rest on (numbers are decimal text, sets have no
 * duplicates, ...).
 *
 * Every error is a ValidationException whose message (env->err) is AWS's
 * wording where it is known; an expression is never taken as true because
 * it could not be read. */
#ifndef TP_FAKE_DDBEXPR_H
#define TP_FAKE_DDBEXPR_H

#include <stddef.h>

#include <cjson/cJSON.h>

/* One request's ExpressionAttributeNames / Values (borrowed), which of them
 * its expressions used, and the last error. */
struct ddbx_env {
	const cJSON *names, *values;
	unsigned char *used_names, *used_values; /* a flag per member, in order */
	char err[512];
};

enum ddbx_kind { DDBX_COND, DDBX_UPDATE, DDBX_PROJECTION };

struct ddbx;

/* env over the request's maps (either may be NULL); free with ddbx_env_free. */
void ddbx_env_init(struct ddbx_env *env, const cJSON *names, const cJSON *values);
void ddbx_env_free(struct ddbx_env *env);
/* After every expression is parsed: -1 (env->err) when a name or value
 * was given but not used, as AWS refuses it. */
int ddbx_check_unused(struct ddbx_env *env);

/* Parse text, the request's parameter what ("ConditionExpression"). 0 and
 * *out, or -1 and env->err. */
int ddbx_parse(struct ddbx_env *env, enum ddbx_kind kind, const char *what, const char *text,
	       struct ddbx **out);
void ddbx_free(struct ddbx *x);

/* A condition on item (an AttributeValue map; NULL: no item): *result 0/1.
 * -1 and env->err on an error that AWS reports at run time. */
int ddbx_eval(struct ddbx_env *env, const struct ddbx *x, const cJSON *item, int *result);

/* Apply an update expression to item (modified in place; the right-hand
 * sides are read from the item as it was). keys: the table's key attribute
 * names (NULL-terminated), which no action may touch. touched (may be
 * NULL): receives the top-level names the actions write, as strings. */
int ddbx_update(struct ddbx_env *env, const struct ddbx *x, cJSON *item, const char *const *keys,
		cJSON *touched);

/* The item reduced to a projection's paths (a new object). */
cJSON *ddbx_project(const struct ddbx *x, const cJSON *item);

/* A key condition (hash = :v [AND range-condition]) taken apart: 0, or -1
 * and env->err when it is not one. *hash_val: the partition key's value;
 * range (NULL when none): a condition on range_name alone, to ddbx_eval. */
int ddbx_keycond(struct ddbx_env *env, const struct ddbx *x, const char *hash_name, const char *range_name,
		 const cJSON **hash_val, int *has_range);

/* ---- AttributeValues ---- */

/* Check an AttributeValue (what names it in the message); numbers are
 * rewritten in DynamoDB's normal form ("01.50" -> "1.5"). 0 or -1 and err. */
int ddbav_check(cJSON *av, const char *what, char *err, size_t len);
/* Both the same type and value (numbers by value, sets as sets). */
int ddbav_equal(const cJSON *a, const cJSON *b);
/* Order of two scalars of one type (S, N, B): -1/0/1 in *c; -1 when they
 * cannot be ordered (other or different types). */
int ddbav_order(const cJSON *a, const cJSON *b, int *c);
/* "S", "N", ... of av; NULL when av is not one. */
const char *ddbav_type(const cJSON *av);
/* DynamoDB's item size, approximately (names and values, bytes). */
size_t ddbav_item_size(const cJSON *item);
/* A number's normal form into out; -1 when text is not a number. */
int ddbnum_normal(const char *text, char *out, size_t len);
/* Numeric order of two numbers' texts (-1/0/1). */
int ddbnum_cmp(const char *a, const char *b);

#endif
