/* drift_report.c: what a drift check found, as entries and as the drift
 * document (see drift.h). */
#include "core/drift/drift_int.h"

#include "base/log.h"
#include "core/codestore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const drift_status_names[] = { "in_sync", "drifted", "missing", "collision", "error" };

void drift_add(struct dp *p, int status, const char *res, const char *field, const char *exp,
	       const char *act)
{
	cJSON *d = cJSON_CreateObject();
	cJSON_AddStringToObject(d, "resource", res);
	cJSON_AddStringToObject(d, "field", field);
	cJSON_AddStringToObject(d, "expected", exp);
	cJSON_AddStringToObject(d, "actual", act);
	cJSON_AddItemToArray(p->drift, d);
	if (status > p->status)
		p->status = status;
}

/* The last drift entry gets a note (why it matters). */
static void note_last(struct dp *p, const char *note)
{
	cJSON *d = cJSON_GetArrayItem(p->drift, cJSON_GetArraySize(p->drift) - 1);
	if (d)
		cJSON_AddStringToObject(d, "note", note);
}

/* One change of the diff as drift reports it: expected (the spec's side)
 * and actual (what AWS has). */
void drift_report_change(struct dp *p, const struct diff_change *c)
{
	const char *res = diff_res_name(c->res);
	if (c->act == DIFF_CREATE) {
		drift_add(p, ST_MISSING, res, "(resource)", "present", "missing");
		return;
	}
	if (c->act != DIFF_SET && c->act != DIFF_TAG && c->act != DIFF_UNTAG)
		return;   /* deletes: not drift's (the item exists) */
	switch (c->kind) {
	case DK_ENV:   /* keys only: values may be secrets */
		for (size_t i = 0; i < c->n_parts; i++)
			drift_add(p, ST_DRIFTED, res, c->parts[i].field, c->parts[i].to, c->parts[i].from);
		return;
	case DK_CODE:
		drift_add(p, ST_DRIFTED, res, c->field, c->to, *c->from ? c->from : "(none)");
		p->code_behind = 1;
		return;
	case DK_STATE:
		drift_add(p, ST_DRIFTED, res, c->field, "Active", "Inactive");
		note_last(p, c->note);
		return;
	case DK_STORAGE:
		drift_add(p, ST_DRIFTED, res, c->field, c->to, c->from);
		if (strcmp(c->to, "REFERENCE") == 0)
			note_last(p, "fell back to COPY: the code counts against Lambda-managed storage again");
		return;
	case DK_MAP_FRT:
		drift_add(p, ST_DRIFTED, res, c->field, c->to, strcmp(c->from, "(none)") ? c->from : "[]");
		return;
	default:
		drift_add(p, ST_DRIFTED, res, c->field, c->act == DIFF_UNTAG ? "(absent)" : c->to, c->from);
	}
}

/* A deprecated runtime (Lambda blocks creates, then updates): the Runtime
 * entry says so, or one is added when the spec names the same runtime (a
 * custom policy). --fix repairs it through reconcile when the spec names
 * another. */
void drift_note_runtime(struct dp *p, const cJSON *have)
{
	const char *rt = cJSON_GetStringValue(cJSON_GetObjectItem(have, "Runtime"));
	const char *date = codestore_runtime_deprecated(rt);
	if (!date)
		return;
	char note[200];
	snprintf(note, sizeof note, "runtime %s is deprecated since %s (Lambda blocks creates, then updates)",
		 rt, date);
	cJSON *d;
	cJSON_ArrayForEach(d, p->drift) {
		const char *f = cJSON_GetStringValue(cJSON_GetObjectItem(d, "field"));
		const char *r = cJSON_GetStringValue(cJSON_GetObjectItem(d, "resource"));
		if (f && r && strcmp(f, "Runtime") == 0 && strcmp(r, "function") == 0) {
			cJSON_AddStringToObject(d, "note", note);
			return;
		}
	}
	drift_add(p, ST_DRIFTED, "function", "Runtime", "(a supported runtime)", rt);
	note_last(p, note);
}

static cJSON *err_json(const tp_err *e)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "code", e->code);
	cJSON_AddStringToObject(o, "message", e->message);
	return o;
}

static void add_fix(cJSON *o, const struct dp *p, const struct drift_opts *opt)
{
	if (!p->fix_tried)
		return;
	cJSON *fx = cJSON_AddObjectToObject(o, "fix");
	cJSON_AddStringToObject(fx, "status", p->fix_ok ? "fixed" : "failed");
	cJSON_AddItemToObject(fx, "changes", opt->render_changes ? opt->render_changes(&p->fix_changes) :
					      cJSON_CreateArray());
	if (!p->fix_ok)
		cJSON_AddItemToObject(fx, "error", err_json(&p->fix_err));
}

static void stats_delta(const struct aws *a, const struct aws_stat *before, size_t nb, cJSON *calls)
{
	const struct aws_stat *st;
	size_t n = aws_stats(a, &st);
	for (size_t i = 0; i < n; i++) {
		long prev = 0;
		for (size_t j = 0; j < nb; j++)
			if (strcmp(before[j].key, st[i].key) == 0)
				prev = before[j].requests;
		if (st[i].requests > prev)
			cJSON_AddNumberToObject(calls, st[i].key, (double)(st[i].requests - prev));
	}
}

char *drift_document(struct app *app, const struct drift_opts *o, struct dp **sel, size_t ns,
		     const struct drift_run_info *ri)
{
	cJSON *doc = cJSON_CreateObject();
	cJSON *pipes = cJSON_AddArrayToObject(doc, "pipelines");
	cJSON *orphans = cJSON_AddArrayToObject(doc, "orphans");
	long count[5] = { 0 }, fixed = 0, fix_failed = 0, n_orphans = 0;
	for (size_t i = 0; i < ns; i++) {
		struct dp *p = sel[i];
		fixed += p->fix_tried && p->fix_ok;
		fix_failed += p->fix_tried && !p->fix_ok;
		cJSON *po = cJSON_CreateObject();
		cJSON_AddStringToObject(po, "pipeline", p->name);
		if (!p->item) {
			n_orphans++;
			cJSON_AddItemToObject(po, "resources", p->orphan_res);
			p->orphan_res = NULL;
			add_fix(po, p, o);
			cJSON_AddItemToArray(orphans, po);
			continue;
		}
		count[p->status]++;
		cJSON_AddStringToObject(po, "status", drift_status_names[p->status]);
		cJSON_AddItemToObject(po, "drift", p->drift);
		p->drift = NULL;
		cJSON_AddBoolToObject(po, "code_behind", p->code_behind);
		if (p->status == ST_ERROR)
			cJSON_AddItemToObject(po, "error", err_json(&p->err));
		add_fix(po, p, o);
		cJSON_AddItemToArray(pipes, po);
	}
	cJSON *sum = cJSON_AddObjectToObject(doc, "summary");
	cJSON_AddNumberToObject(sum, "checked", (double)(count[0] + count[1] + count[2] + count[3] + count[4]));
	for (int s = 0; s < 5; s++)
		cJSON_AddNumberToObject(sum, drift_status_names[s], (double)count[s]);
	cJSON_AddNumberToObject(sum, "orphans", (double)n_orphans);
	cJSON_AddNumberToObject(sum, "fixed", (double)fixed);
	cJSON_AddNumberToObject(sum, "fix_failed", (double)fix_failed);
	cJSON_AddBoolToObject(sum, "reserved_concurrency_checked", 0);
	if (o->max_pipelines > 0) {
		cJSON *cur = cJSON_AddObjectToObject(doc, "cursor");
		cJSON_AddStringToObject(cur, "after", ri->after ? ri->after : "");
		cJSON_AddStringToObject(cur, "next", ri->complete ? "" : sel[ns - 1]->name);
		cJSON_AddBoolToObject(cur, "complete", ri->complete);
		cJSON_AddNumberToObject(cur, "total", (double)ri->total);
	} else {
		cJSON_AddNullToObject(doc, "cursor");
	}
	cJSON *calls = cJSON_AddObjectToObject(doc, "calls");
	stats_delta(app->aws, ri->before, ri->n_before, calls);
	cJSON_AddNumberToObject(doc, "lambda_calls", (double)(aws_stats_lambda(app->aws) - ri->lambda0));
	cJSON_AddNumberToObject(doc, "lambda_calls_observe", (double)ri->lambda_list);
	cJSON *tf = cJSON_AddObjectToObject(doc, "tag_fallback");
	cJSON_AddNumberToObject(tf, "queues", (double)ri->f->tags_direct_q);
	cJSON_AddNumberToObject(tf, "functions", (double)ri->f->tags_direct_fn);
	cJSON_AddNumberToObject(tf, "queue_urls", (double)ri->f->qurl_direct);
	cJSON_AddNumberToObject(doc, "elapsed_ms", (double)(tp_mono_ms() - ri->t0));
	int code = DRIFT_EXIT_OK;
	if (count[ST_ERROR] || fix_failed)
		code = DRIFT_EXIT_ERROR;
	else if (count[ST_COLLISION] ||
		 (!o->fix && (count[ST_DRIFTED] || count[ST_MISSING] || n_orphans)))
		code = DRIFT_EXIT_DRIFT;
	cJSON_AddNumberToObject(doc, "exit_code", code);
	char *out = cJSON_PrintUnformatted(doc);
	cJSON_Delete(doc);
	log_msg(LOG_INFO, NULL, "drift: %zu checked, %ld drifted, %ld missing, %ld collisions, %ld errors, %ld orphans, %ld fixed; %ld Lambda calls",
		ns, count[ST_DRIFTED], count[ST_MISSING], count[ST_COLLISION], count[ST_ERROR], n_orphans, fixed,
		aws_stats_lambda(app->aws) - ri->lambda0);
	return out;
}
