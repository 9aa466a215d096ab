/* ls_json.c: a row of `ls` as JSON (see ls_json.h). */
#include "runtime/ls_json.h"

#include <cjson/cJSON.h>

cJSON *ls_row_json(const struct ops_ls_row *r)
{
	cJSON *o = cJSON_CreateObject();
	if (r->kind == OPS_LS_LIMIT_GROUP) {
		cJSON_AddStringToObject(o, "kind", "limit_group");
		cJSON_AddStringToObject(o, "limit_group", r->name);
		cJSON_AddStringToObject(o, "rate", r->rate);
		cJSON_AddStringToObject(o, "burst", r->burst);
		cJSON *m = cJSON_AddArrayToObject(o, "members");
		for (size_t i = 0; i < r->n_members; i++)
			cJSON_AddItemToArray(m, cJSON_CreateString(r->members[i]));
		return o;
	}
	cJSON_AddStringToObject(o, "kind", "pipeline");
	cJSON_AddStringToObject(o, "pipeline", r->name);
	if (r->limit_group)
		cJSON_AddStringToObject(o, "limit_group", r->limit_group);
	cJSON_AddBoolToObject(o, "item", r->item != NULL);
	cJSON_AddBoolToObject(o, "enabled", r->enabled);
	cJSON_AddBoolToObject(o, "paused", r->pause != NULL);
	if (r->pause) {
		cJSON_AddStringToObject(o, "paused_by", r->pause->by);
		cJSON_AddNumberToObject(o, "paused_at", (double)r->pause->at);
		if (r->pause->reason)
			cJSON_AddStringToObject(o, "pause_reason", r->pause->reason);
	}
	cJSON_AddStringToObject(o, "rate", r->rate);
	cJSON_AddStringToObject(o, "concurrency", r->concurrency);
	cJSON_AddStringToObject(o, "status", r->status);
	cJSON_AddNumberToObject(o, "updated_at", (double)r->updated_at);
	if (r->expires_at)
		cJSON_AddNumberToObject(o, "expires_at", (double)r->expires_at);
	if (r->drain_started_at) {
		cJSON_AddNumberToObject(o, "drain_started_at", (double)r->drain_started_at);
		cJSON_AddNumberToObject(o, "drain_timeout", (double)r->drain_timeout);
	}
	if (r->n_kept) {
		cJSON *k = cJSON_AddArrayToObject(o, "kept");
		for (int i = 0; i < r->n_kept; i++) {
			cJSON *e = cJSON_CreateObject();
			cJSON_AddStringToObject(e, "resource", r->kept[i].resource);
			cJSON_AddStringToObject(e, "queue", r->kept[i].queue);
			cJSON_AddNumberToObject(e, "messages", (double)r->kept[i].messages);
			cJSON_AddItemToArray(k, e);
		}
	}
	if (r->message)
		cJSON_AddStringToObject(o, "message", r->message);
	if (r->queue_url)
		cJSON_AddStringToObject(o, "queue_url", r->queue_url);
	if (r->queue_arn)
		cJSON_AddStringToObject(o, "queue_arn", r->queue_arn);
	return o;
}
