/* gstatus_json.c: group status as JSON (see gstatus_json.h). */
#include "runtime/gstatus_json.h"

#include <cjson/cJSON.h>

static void num_or_null(cJSON *o, const char *k, double v)
{
	if (v < 0)
		cJSON_AddNullToObject(o, k);
	else
		cJSON_AddNumberToObject(o, k, v);
}

static void str_or_null(cJSON *o, const char *k, const char *v)
{
	if (!v || !*v)
		cJSON_AddNullToObject(o, k);
	else
		cJSON_AddStringToObject(o, k, v);
}

cJSON *gs_row_json(const struct gs_row *r)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "group", r->group);
	cJSON_AddStringToObject(o, "state", r->state);
	if (r->message)
		cJSON_AddStringToObject(o, "message", r->message);
	if (r->enabled < 0)
		cJSON_AddNullToObject(o, "enabled");
	else
		cJSON_AddBoolToObject(o, "enabled", r->enabled);
	if (r->item_enabled < 0)
		cJSON_AddNullToObject(o, "item_enabled");
	else
		cJSON_AddBoolToObject(o, "item_enabled", r->item_enabled);
	cJSON_AddBoolToObject(o, "operator_paused", r->operator_paused);
	str_or_null(o, "rate", r->rate);
	str_or_null(o, "burst", r->burst);
	num_or_null(o, "concurrency", (double)r->concurrency);
	cJSON *st = cJSON_AddObjectToObject(o, "starts_per_s");
	num_or_null(st, "1m", r->starts_1m);
	num_or_null(st, "5m", r->starts_5m);
	num_or_null(o, "visible", (double)r->visible);
	num_or_null(o, "in_flight", (double)r->in_flight);
	num_or_null(o, "delayed", (double)r->delayed);
	num_or_null(o, "oldest_age_s", r->age_s);
	num_or_null(o, "dlq", (double)r->dlq);
	num_or_null(o, "errors_5m", r->errors_5m);
	num_or_null(o, "throttles_5m", r->throttles_5m);
	num_or_null(o, "sent_5m", r->sent_5m);
	if (r->last_activity > 0)
		cJSON_AddNumberToObject(o, "last_activity", (double)r->last_activity);
	else
		cJSON_AddNullToObject(o, "last_activity");
	str_or_null(o, "queue", r->nm.queue);
	str_or_null(o, "function", r->nm.function);
	if (r->problem)
		cJSON_AddStringToObject(o, "problem", r->problem);
	return o;
}

cJSON *gs_report_json(const struct gs_report *r)
{
	cJSON *doc = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(doc, "groups");
	for (size_t i = 0; i < r->n; i++)
		cJSON_AddItemToArray(arr, gs_row_json(&r->v[i]));
	cJSON *c = cJSON_AddObjectToObject(doc, "calls");
	cJSON_AddNumberToObject(c, "dynamodb", (double)r->ddb_calls);
	cJSON_AddNumberToObject(c, "sqs", (double)r->sqs_calls);
	cJSON_AddNumberToObject(c, "cloudwatch", (double)r->cw_calls);
	cJSON_AddNumberToObject(c, "total", (double)(r->ddb_calls + r->sqs_calls + r->cw_calls));
	cJSON_AddNumberToObject(doc, "elapsed_ms", (double)r->elapsed_ms);
	if (r->cw_problem)
		cJSON_AddStringToObject(doc, "cloudwatch_problem", r->cw_problem);
	return doc;
}
