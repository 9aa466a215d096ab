/* drift_json.c: the drift document (see drift_json.h). Key order is part of
 * the output: tests and scripts compare it. */
#include "runtime/drift_json.h"
#include "runtime/pool_json.h"
#include "runtime/rec_json.h"

#include <cjson/cJSON.h>

static cJSON *err_json(const tp_err *e)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "code", e->code);
	cJSON_AddStringToObject(o, "message", e->message);
	return o;
}

static void add_fix(cJSON *o, const struct drift_fix *f)
{
	if (f->status == DRIFT_FIX_NONE)
		return;
	cJSON *fx = cJSON_AddObjectToObject(o, "fix");
	cJSON_AddStringToObject(fx, "status", f->status == DRIFT_FIX_FIXED ? "fixed" : "failed");
	cJSON_AddItemToObject(fx, "changes", rec_changes_json(&f->changes));
	if (f->status == DRIFT_FIX_FAILED)
		cJSON_AddItemToObject(fx, "error", err_json(&f->err));
}

static cJSON *entry_json(const struct drift_entry *d)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "resource", d->resource);
	cJSON_AddStringToObject(o, "field", d->field);
	cJSON_AddStringToObject(o, "expected", d->expected);
	cJSON_AddStringToObject(o, "actual", d->actual);
	if (d->note)
		cJSON_AddStringToObject(o, "note", d->note);
	return o;
}

static cJSON *pipeline_json(const struct drift_pipeline *p)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "pipeline", p->name);
	cJSON_AddStringToObject(o, "status", drift_status_name(p->status));
	cJSON *d = cJSON_AddArrayToObject(o, "drift");
	for (size_t i = 0; i < p->n_drift; i++)
		cJSON_AddItemToArray(d, entry_json(&p->drift[i]));
	cJSON_AddBoolToObject(o, "code_behind", p->code_behind);
	if (p->status == DRIFT_ERROR)
		cJSON_AddItemToObject(o, "error", err_json(&p->err));
	add_fix(o, &p->fix);
	return o;
}

static cJSON *orphan_json(const struct drift_orphan *p)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "pipeline", p->name);
	if (p->state)
		cJSON_AddStringToObject(o, "state", p->state);
	cJSON *res = cJSON_AddArrayToObject(o, "resources");
	for (size_t i = 0; i < p->n_res; i++) {
		cJSON *r = cJSON_CreateObject();
		cJSON_AddStringToObject(r, "resource", p->res[i].resource);
		cJSON_AddStringToObject(r, "name", p->res[i].name);
		cJSON_AddItemToArray(res, r);
	}
	add_fix(o, &p->fix);
	return o;
}

static void add_summary(cJSON *doc, const struct drift_summary *s)
{
	cJSON *o = cJSON_AddObjectToObject(doc, "summary");
	cJSON_AddNumberToObject(o, "checked", (double)s->checked);
	for (int i = 0; i < DRIFT_STATUS_N; i++)
		cJSON_AddNumberToObject(o, drift_status_name(i), (double)s->count[i]);
	cJSON_AddNumberToObject(o, "orphans", (double)s->orphans);
	cJSON_AddNumberToObject(o, "draining", (double)s->draining);
	cJSON_AddNumberToObject(o, "kept", (double)s->kept);
	cJSON_AddNumberToObject(o, "fixed", (double)s->fixed);
	cJSON_AddNumberToObject(o, "fix_failed", (double)s->fix_failed);
	/* not visible to list calls (drift.h) */
	cJSON_AddBoolToObject(o, "reserved_concurrency_checked", 0);
}

cJSON *drift_json(const struct drift_report *r)
{
	cJSON *doc = cJSON_CreateObject();
	cJSON *pipes = cJSON_AddArrayToObject(doc, "pipelines");
	for (size_t i = 0; i < r->n_pipelines; i++)
		cJSON_AddItemToArray(pipes, pipeline_json(&r->pipelines[i]));
	cJSON *orphans = cJSON_AddArrayToObject(doc, "orphans");
	for (size_t i = 0; i < r->n_orphans; i++)
		cJSON_AddItemToArray(orphans, orphan_json(&r->orphans[i]));
	add_summary(doc, &r->summary);
	if (r->has_cursor) {
		cJSON *cur = cJSON_AddObjectToObject(doc, "cursor");
		cJSON_AddStringToObject(cur, "after", r->cursor.after ? r->cursor.after : "");
		cJSON_AddStringToObject(cur, "next", r->cursor.next ? r->cursor.next : "");
		cJSON_AddBoolToObject(cur, "complete", r->cursor.complete);
		cJSON_AddNumberToObject(cur, "total", (double)r->cursor.total);
	} else {
		cJSON_AddNullToObject(doc, "cursor");
	}
	cJSON *calls = cJSON_AddObjectToObject(doc, "calls");
	for (size_t i = 0; i < r->n_calls; i++)
		cJSON_AddNumberToObject(calls, r->calls[i].op, (double)r->calls[i].n);
	cJSON_AddNumberToObject(doc, "lambda_calls", (double)r->lambda_calls);
	cJSON_AddNumberToObject(doc, "lambda_calls_observe", (double)r->lambda_calls_observe);
	cJSON *tf = cJSON_AddObjectToObject(doc, "tag_fallback");
	cJSON_AddNumberToObject(tf, "queues", (double)r->tag_fallback.queues);
	cJSON_AddNumberToObject(tf, "functions", (double)r->tag_fallback.functions);
	cJSON_AddNumberToObject(tf, "queue_urls", (double)r->tag_fallback.queue_urls);
	cJSON_AddNumberToObject(doc, "elapsed_ms", (double)r->elapsed_ms);
	cJSON_AddNumberToObject(doc, "exit_code", r->exit_code);
	cJSON_AddItemToObject(doc, "pool", pool_json(r->pool_known ? &r->pool : NULL, &r->pool_err, &r->demand));
	return doc;
}
