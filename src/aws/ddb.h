/* ddb.h: small helpers for DynamoDB AttributeValue JSON (cJSON): build keys
 * and items, read typed attributes. Requests themselves go through awsjson. */
#ifndef TP_DDB_H
#define TP_DDB_H

#include <stddef.h>

#include "base/base.h"

struct cJSON;

/* {"<name>": {"S": "<value>"}} */
struct cJSON *ddb_key(const char *name, const char *value);
void ddb_put_str(struct cJSON *item, const char *name, const char *value);
void ddb_put_long(struct cJSON *item, const char *name, long value);
void ddb_put_bool(struct cJSON *item, const char *name, int value);
/* Read attribute name of type S / N; fallback when absent or of another type. */
const char *ddb_get_str(const struct cJSON *item, const char *name, const char *fallback);
long ddb_get_long(const struct cJSON *item, const char *name, long fallback);



/* An item given as plain JSON ({"pipeline":"a","concurrency":2}) or already
 * as AttributeValues ({"pipeline":{"S":"a"}}) -> AttributeValues (new object).
 * Plain: strings S, numbers N, booleans BOOL, null NULL, objects M, arrays L.
 * NULL with e filled when json is not an object. */
struct cJSON *ddb_item_from_json(const struct cJSON *json, char *err, size_t err_len);
struct aws;

/* Every page of a consistent Scan of table, the items appended to out (a
 * cJSON array). pk_prefix, when given, keeps items whose "pk" begins with it
 * (the state table's record kinds: "pipeline#", "rollout", ...). */
int ddb_scan_all(struct aws *a, const char *table, const char *pk_prefix, struct cJSON *out,
		 tp_err *e);
/* The same with a FilterExpression (NULL: none) and its
 * ExpressionAttributeValues (copied). */
int ddb_scan_where(struct aws *a, const char *table, const char *filter, const struct cJSON *values,
		   struct cJSON *out, tp_err *e);

/* A conditional UpdateItem (in: TableName, Key, the expressions; taken,
 * freed) that learns the item without a read: ReturnValues ALL_NEW on
 * success, ReturnValuesOnConditionCheckFailure ALL_OLD on a failed
 * condition. 1 written, 0 condition failed; *item (the item after resp.
 * as it was; NULL when there is none) is the caller's to free. < 0 on any
 * other error (e filled, *item NULL). */
int ddb_cond_update(struct aws *a, struct cJSON *in, struct cJSON **item, tp_err *e);

#endif
