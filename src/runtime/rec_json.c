/* rec_json.c: reconcile results as JSON (see rec_json.h). */
#include "runtime/rec_json.h"

#include <cjson/cJSON.h>
#include <stdio.h>

cJSON *rec_change_json(const struct diff_change *c)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "resource", diff_res_name(c->res));
	char note[400];
	switch (c->act) {
	case DIFF_CREATE:
		cJSON_AddStringToObject(o, "action", "create");
		return o;
	case DIFF_DELETE:
		cJSON_AddStringToObject(o, "action", "delete");
		return o;
	case DIFF_KEEP:
		cJSON_AddStringToObject(o, "action", c->note ? c->note : "kept");
		return o;
	case DIFF_RECREATE:
		snprintf(note, sizeof note, "recreate (State Failed: %s)", c->note ? c->note : "no reason given");
		cJSON_AddStringToObject(o, "action", note);
		return o;
	default:
		break;
	}
	cJSON_AddStringToObject(o, "field", c->field ? c->field : "");
	cJSON_AddStringToObject(o, "from", c->from ? c->from : "(none)");
	cJSON_AddStringToObject(o, "to", c->to ? c->to : "(none)");
	return o;
}

cJSON *rec_changes_json(const struct diff_list *l)
{
	cJSON *a = cJSON_CreateArray();
	for (size_t i = 0; l && i < l->n; i++)
		cJSON_AddItemToArray(a, rec_change_json(&l->v[i]));
	return a;
}

cJSON *rec_result_json(const struct rec_result *r)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "pipeline", r->name);
	cJSON_AddStringToObject(o, "status", r->rc == TP_OK ? "ok" : "error");
	cJSON_AddStringToObject(o, "action", reconcile_action_name(r->action));
	cJSON_AddItemToObject(o, "changes", rec_changes_json(&r->diff));
	if (r->rc != TP_OK) {
		cJSON *e = cJSON_AddObjectToObject(o, "error");
		cJSON_AddStringToObject(e, "code", r->err.code);
		cJSON_AddStringToObject(e, "message", r->err.message);
		cJSON_AddBoolToObject(e, "retryable", r->retryable);
	}
	if (r->hash[0])
		cJSON_AddStringToObject(o, "spec_hash", r->hash);
	if (r->state)
		cJSON_AddStringToObject(o, "state", r->state);
	if (r->dropped)
		cJSON_AddNumberToObject(o, "dropped", (double)r->dropped);
	/* true: unchanged since the last apply by hash; the resources were not observed */
	cJSON_AddBoolToObject(o, "confirmed_by_hash", r->confirmed);
	if (r->paused)
		cJSON_AddTrueToObject(o, "paused");
	cJSON *calls = cJSON_AddObjectToObject(o, "requests");
	cJSON_AddNumberToObject(calls, "total", (double)r->requests);
	cJSON_AddNumberToObject(calls, "lambda", (double)r->lambda_requests);
	cJSON_AddNumberToObject(calls, "mutating", (double)r->mutating_requests);
	if (r->lease_renewals)
		cJSON_AddNumberToObject(o, "lease_renewals", r->lease_renewals);
	if (r->note)
		cJSON_AddStringToObject(o, "note", r->note);
	return o;
}
