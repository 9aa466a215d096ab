/* config_item.c: one config item by name (see config_item.h). */
#include "core/config_item.h"

#include "aws/awsjson.h"
#include "aws/ddb.h"
#include "core/store.h"

#include <cjson/cJSON.h>

int config_item_read(struct aws *a, const char *table, const char *name, cJSON **item, tp_err *e)
{
	*item = NULL;
	cJSON *in = cJSON_CreateObject(), *out = NULL;
	cJSON_AddStringToObject(in, "TableName", table);
	cJSON_AddItemToObject(in, "Key", ddb_key("pipeline", name));
	cJSON_AddBoolToObject(in, "ConsistentRead", 1);
	int rc = awsj_call(a, SVC_DYNAMODB, "GetItem", in, &out, e);
	if (rc == TP_OK)
		*item = cJSON_DetachItemFromObject(out, "Item");
	cJSON_Delete(in);
	cJSON_Delete(out);
	return rc;
}

int config_item_get(struct app *app, const char *name, cJSON **item, tp_err *e)
{
	return config_item_read(app->aws, app->set.config_table, name, item, e);
}

int config_item_exists(struct app *app, const char *name, int *exists, tp_err *e)
{
	cJSON *item = NULL;
	int rc = config_item_get(app, name, &item, e);
	*exists = item != NULL;
	cJSON_Delete(item);
	return rc;
}

int config_item_put(struct app *app, const cJSON *item, tp_err *e)
{
	cJSON *in = cJSON_CreateObject(), *out = NULL;
	cJSON_AddStringToObject(in, "TableName", app->set.config_table);
	cJSON_AddItemReferenceToObject(in, "Item", (cJSON *)item);
	int rc = awsj_call(app->aws, SVC_DYNAMODB, "PutItem", in, &out, e);
	cJSON_Delete(in);
	cJSON_Delete(out);
	return rc;
}

int config_item_delete(struct app *app, const char *name, int must_exist, tp_err *e)
{
	cJSON *in = cJSON_CreateObject(), *out = NULL;
	cJSON_AddStringToObject(in, "TableName", app->set.config_table);
	cJSON_AddItemToObject(in, "Key", ddb_key("pipeline", name));
	if (must_exist)
		cJSON_AddStringToObject(in, "ConditionExpression", "attribute_exists(pipeline)");
	int rc = awsj_call(app->aws, SVC_DYNAMODB, "DeleteItem", in, &out, e);
	if (rc < 0 && must_exist && store_condition_failed(e)) {
		tp_err_clear(e);
		rc = tp_errf(e, TP_ENOTFOUND, "NotFound", "no such config item in %s", app->set.config_table);
	}
	cJSON_Delete(in);
	cJSON_Delete(out);
	return rc;
}
