/* ddb.c: AttributeValue JSON helpers (see ddb.h). */
#include "aws/ddb.h"

#include "aws/aws.h"
#include "aws/awsjson.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cJSON *ddb_key(const char *name, const char *value)
{
	cJSON *k = cJSON_CreateObject();
	ddb_put_str(k, name, value);
	return k;
}

void ddb_put_str(cJSON *item, const char *name, const char *value)
{
	cJSON *av = cJSON_AddObjectToObject(item, name);
	cJSON_AddStringToObject(av, "S", value);
}

void ddb_put_long(cJSON *item, const char *name, long value)
{
	char n[32];
	snprintf(n, sizeof n, "%ld", value);
	cJSON *av = cJSON_AddObjectToObject(item, name);
	cJSON_AddStringToObject(av, "N", n);
}

void ddb_put_bool(cJSON *item, const char *name, int value)
{
	cJSON *av = cJSON_AddObjectToObject(item, name);
	cJSON_AddBoolToObject(av, "BOOL", value);
}

const char *ddb_get_str(const cJSON *item, const char *name, const char *fallback)
{
	cJSON *s = cJSON_GetObjectItem(cJSON_GetObjectItem(item, name), "S");
	return cJSON_IsString(s) ? s->valuestring : fallback;
}

long ddb_get_long(const cJSON *item, const char *name, long fallback)
{
	cJSON *n = cJSON_GetObjectItem(cJSON_GetObjectItem(item, name), "N");
	return cJSON_IsString(n) ? strtol(n->valuestring, NULL, 10) : fallback;
}

static int is_av(const cJSON *v)
{
	static const char *types[] = { "S", "N", "B", "BOOL", "NULL", "M", "L", "SS", "NS", "BS", NULL };
	if (!cJSON_IsObject(v) || !v->child || v->child->next)
		return 0;
	for (int i = 0; types[i]; i++)
		if (strcmp(v->child->string, types[i]) == 0)
			return 1;
	return 0;
}

static cJSON *to_av(const cJSON *v)
{
	cJSON *av = cJSON_CreateObject();
	if (cJSON_IsString(v)) {
		cJSON_AddStringToObject(av, "S", v->valuestring);
	} else if (cJSON_IsRaw(v)) {
		/* a number's text as written (jsonnum_parse): DynamoDB numbers are
		 * decimal, 38 digits; a double would change 0.1 and 2^63 */
		cJSON_AddStringToObject(av, "N", v->valuestring);
	} else if (cJSON_IsNumber(v)) {
		char n[64];
		double d = v->valuedouble;
		if (fabs(d) < 9007199254740992.0 && d == floor(d)) /* exact; the cast is defined */
			snprintf(n, sizeof n, "%lld", (long long)d);
		else
			snprintf(n, sizeof n, "%.17g", d);
		cJSON_AddStringToObject(av, "N", n);
	} else if (cJSON_IsBool(v)) {
		cJSON_AddBoolToObject(av, "BOOL", cJSON_IsTrue(v));
	} else if (cJSON_IsArray(v)) {
		cJSON *l = cJSON_AddArrayToObject(av, "L");
		for (cJSON *it = v->child; it; it = it->next)
			cJSON_AddItemToArray(l, to_av(it));
	} else if (cJSON_IsObject(v)) {
		cJSON *m = cJSON_AddObjectToObject(av, "M");
		for (cJSON *it = v->child; it; it = it->next)
			cJSON_AddItemToObject(m, it->string, to_av(it));
	} else {
		cJSON_AddBoolToObject(av, "NULL", 1);
	}
	return av;
}

cJSON *ddb_item_from_json(const cJSON *json, char *err, size_t err_len)
{
	if (!cJSON_IsObject(json)) {
		snprintf(err, err_len, "an item must be a JSON object");
		return NULL;
	}
	int all_av = json->child != NULL;
	for (cJSON *it = json->child; it; it = it->next)
		if (!is_av(it))
			all_av = 0;
	if (all_av)
		return cJSON_Duplicate(json, 1);
	cJSON *item = cJSON_CreateObject();
	for (cJSON *it = json->child; it; it = it->next)
		cJSON_AddItemToObject(item, it->string, to_av(it));
	return item;
}

int ddb_scan_all(struct aws *a, const char *table, const char *pk_prefix, cJSON *out, tp_err *e)
{
	if (!pk_prefix)
		return ddb_scan_where(a, table, NULL, NULL, out, e);
	cJSON *values = cJSON_CreateObject();
	ddb_put_str(values, ":p", pk_prefix);
	int rc = ddb_scan_where(a, table, "begins_with(pk, :p)", values, out, e);
	cJSON_Delete(values);
	return rc;
}

int ddb_scan_where(struct aws *a, const char *table, const char *filter, const cJSON *values, cJSON *out,
		   tp_err *e)
{
	cJSON *start = NULL;
	int rc;
	do {
		cJSON *in = cJSON_CreateObject(), *res = NULL;
		cJSON_AddStringToObject(in, "TableName", table);
		cJSON_AddBoolToObject(in, "ConsistentRead", 1);
		if (filter) {
			cJSON_AddStringToObject(in, "FilterExpression", filter);
			cJSON_AddItemToObject(in, "ExpressionAttributeValues", cJSON_Duplicate(values, 1));
		}
		if (start)
			cJSON_AddItemToObject(in, "ExclusiveStartKey", start);
		rc = awsj_call(a, SVC_DYNAMODB, "Scan", in, &res, e);
		cJSON_Delete(in);
		if (rc < 0)
			break;
		cJSON *items = cJSON_GetObjectItem(res, "Items"), *it;
		while ((it = cJSON_DetachItemFromArray(items, 0)))
			cJSON_AddItemToArray(out, it);
		start = cJSON_DetachItemFromObject(res, "LastEvaluatedKey");
		cJSON_Delete(res);
	} while (start);
	return rc;
}

int ddb_cond_update(struct aws *a, cJSON *in, cJSON **item, tp_err *e)
{
	*item = NULL;
	cJSON_AddStringToObject(in, "ReturnValues", "ALL_NEW");
	cJSON_AddStringToObject(in, "ReturnValuesOnConditionCheckFailure", "ALL_OLD");
	struct aws_call c;
	memset(&c, 0, sizeof c);
	awsj_prepare(&c, SVC_DYNAMODB, "UpdateItem", in);
	aws_call_one(a, &c);
	int rc;
	cJSON *res = NULL;
	if (c.rc == TP_OK) {
		rc = awsj_parse("UpdateItem", c.resp.data, c.resp.len, &res, e);
		if (rc == TP_OK) {
			*item = cJSON_DetachItemFromObject(res, "Attributes");
			rc = 1;
		}
	} else if (strcmp(c.err.code, "ConditionalCheckFailedException") == 0) {
		res = c.resp.len ? cJSON_ParseWithLength(c.resp.data, c.resp.len) : NULL;
		*item = cJSON_DetachItemFromObject(res, "Item");
		rc = 0;
	} else {
		if (e)
			*e = c.err;
		rc = c.rc;
	}
	cJSON_Delete(res);
	aws_call_free(&c);
	return rc;
}
