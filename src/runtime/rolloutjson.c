/* rolloutjson.c: rollout outcomes and status rendered as JSON (see
 * rolloutjson.h). */
#include "runtime/rolloutjson.h"

#include <cjson/cJSON.h>

static void add_rollback(cJSON *o, const struct rollout_rollback *rb)
{
	if (!rb->done)
		return;
	cJSON *j = cJSON_AddObjectToObject(o, "rollback");
	cJSON_AddNumberToObject(j, "functions", (double)rb->functions);
	cJSON_AddNumberToObject(j, "rolled_back", (double)rb->rolled_back);
	cJSON_AddNumberToObject(j, "failed", (double)rb->failed);
	cJSON_AddNumberToObject(j, "lambda_calls", (double)rb->lambda_calls);
	cJSON_AddNumberToObject(j, "updates", (double)rb->updates);
	cJSON_AddStringToObject(j, "to_version", rb->to_version);
}

static void add_failure(cJSON *o, const char *name, const struct rollout_failure *f)
{
	cJSON *j = cJSON_AddObjectToObject(o, name);
	cJSON_AddStringToObject(j, "function", f->function);
	if (f->pipeline)
		cJSON_AddStringToObject(j, "pipeline", f->pipeline);
	cJSON_AddStringToObject(j, "code", f->err.code);
	cJSON_AddStringToObject(j, "message", f->err.message);
}

cJSON *rolloutjson_result(const struct rollout_result *r)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "rollout", r->uri ? r->uri : "");
	cJSON_AddStringToObject(o, "status", rollout_outcome_name(r->status));
	cJSON_AddStringToObject(o, "sha256", r->sha256);
	cJSON_AddNumberToObject(o, "gen", (double)r->gen);
	cJSON_AddStringToObject(o, "mode", "code");
	cJSON_AddNumberToObject(o, "object_bytes", (double)r->object_bytes);
	cJSON_AddNumberToObject(o, "targets", (double)r->targets);
	cJSON_AddNumberToObject(o, "waves", r->waves);
	cJSON_AddNumberToObject(o, "next_wave", r->next_wave);
	cJSON_AddNumberToObject(o, "updated", (double)r->updated);
	cJSON_AddNumberToObject(o, "already_current", (double)r->already_current);
	cJSON_AddNumberToObject(o, "failed", (double)r->failed);
	cJSON_AddNumberToObject(o, "gone", (double)r->gone);
	if (r->has_failure)
		add_failure(o, "failure", &r->failure);
	if (r->nfailures) {
		cJSON *fl = cJSON_AddArrayToObject(o, "failures");
		for (size_t i = 0; i < r->nfailures; i++) {
			cJSON *f = cJSON_CreateObject();
			cJSON_AddStringToObject(f, "function", r->failures[i].function);
			cJSON_AddStringToObject(f, "pipeline", r->failures[i].pipeline ? r->failures[i].pipeline : "");
			cJSON_AddStringToObject(f, "code", r->failures[i].err.code);
			cJSON_AddStringToObject(f, "message", r->failures[i].err.message);
			cJSON_AddItemToArray(fl, f);
		}
	}
	if (r->nskipped) {
		cJSON *sl = cJSON_AddArrayToObject(o, "skipped");
		for (size_t i = 0; i < r->nskipped; i++) {
			cJSON *s = cJSON_CreateObject();
			cJSON_AddStringToObject(s, "pipeline", r->skipped[i].pipeline);
			cJSON_AddStringToObject(s, "function", r->skipped[i].function);
			cJSON_AddStringToObject(s, "reason", r->skipped[i].reason);
			cJSON_AddItemToArray(sl, s);
		}
	}
	cJSON *calls = cJSON_AddObjectToObject(o, "calls");
	cJSON_AddNumberToObject(calls, "lambda", (double)r->calls.lambda);
	cJSON_AddNumberToObject(calls, "updates", (double)r->calls.updates);
	cJSON_AddNumberToObject(calls, "list_functions", (double)r->calls.list_functions);
	cJSON_AddNumberToObject(calls, "get_function", (double)r->calls.get_function);
	cJSON_AddNumberToObject(calls, "cloudwatch", (double)r->calls.cloudwatch);
	if (r->health_note)
		cJSON_AddStringToObject(o, "health_note", r->health_note);
	add_rollback(o, &r->rollback);
	return o;
}

cJSON *rolloutjson_results(const struct rollout_result *r, size_t n)
{
	cJSON *a = cJSON_CreateArray();
	for (size_t i = 0; i < n; i++)
		cJSON_AddItemToArray(a, rolloutjson_result(&r[i]));
	return a;
}

static cJSON *fn_json(const struct rollout_fn_status *f)
{
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "pipeline", f->pipeline);
	cJSON_AddStringToObject(j, "function", f->function);
	if (f->recorded)
		cJSON_AddNumberToObject(j, "attempts", (double)f->attempts);
	if (f->error_code) {
		cJSON_AddStringToObject(j, "error_code", f->error_code);
		cJSON_AddStringToObject(j, "error_message", f->error_message ? f->error_message : "");
	}
	cJSON_AddStringToObject(j, "status", rollout_fn_state_name(f->status));
	return j;
}

static cJSON *wave_json(const struct rollout_wave_status *w)
{
	cJSON *j = cJSON_CreateObject();
	cJSON_AddNumberToObject(j, "index", w->index);
	cJSON_AddStringToObject(j, "state", rollout_wave_state_name(w->state));
	if (w->pause_seconds >= 0)
		cJSON_AddNumberToObject(j, "pause_seconds", w->pause_seconds);
	if (w->halt_on_failure >= 0)
		cJSON_AddBoolToObject(j, "halt_on_failure", w->halt_on_failure);
	cJSON *c = cJSON_AddObjectToObject(j, "counts");
	for (int s = 0; s < RFN_STATES; s++)
		cJSON_AddNumberToObject(c, rollout_fn_state_name((enum rollout_fn_state)s), (double)w->counts[s]);
	cJSON *fns = cJSON_AddArrayToObject(j, "functions");
	for (size_t i = 0; i < w->nfns; i++)
		cJSON_AddItemToArray(fns, fn_json(&w->fns[i]));
	return j;
}

cJSON *rolloutjson_status(const struct rollout_status *s, size_t n)
{
	cJSON *a = cJSON_CreateArray();
	for (size_t i = 0; i < n; i++) {
		const struct rollout_status *r = &s[i];
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "rollout", r->uri);
		cJSON_AddStringToObject(o, "status", rollout_state_name(r->status));
		cJSON_AddStringToObject(o, "sha256", r->sha256);
		cJSON_AddNumberToObject(o, "gen", (double)r->gen);
		cJSON_AddStringToObject(o, "mode", r->mode);
		cJSON_AddNumberToObject(o, "next_wave", (double)r->next_wave);
		cJSON_AddNumberToObject(o, "started_at", (double)r->started_at);
		cJSON_AddNumberToObject(o, "updated_at", (double)r->updated_at);
		if (r->holder)
			cJSON_AddStringToObject(o, "holder", r->holder);
		if (r->has_failure)
			add_failure(o, "failure", &r->failure);
		if (r->health_note)
			cJSON_AddStringToObject(o, "health_note", r->health_note);
		add_rollback(o, &r->rollback);
		if (r->has_plan_error) {
			cJSON *f = cJSON_AddObjectToObject(o, "plan_error");
			cJSON_AddStringToObject(f, "code", r->plan_error.code);
			cJSON_AddStringToObject(f, "message", r->plan_error.message);
		}
		cJSON *waves = cJSON_AddArrayToObject(o, "waves");
		for (size_t w = 0; w < r->nwaves; w++)
			cJSON_AddItemToArray(waves, wave_json(&r->waves[w]));
		cJSON_AddItemToArray(a, o);
	}
	return a;
}
