/* drift_report.c: what a drift check found, as entries and as the drift
 * report (see drift.h; its JSON is runtime/drift_json.c). */
#include "core/drift/drift_int.h"

#include "base/log.h"
#include "core/codestore.h"
#include "core/runtimes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const status_names[DRIFT_STATUS_N] = { "in_sync", "drifted", "missing", "collision",
							  "error" };

const char *drift_status_name(enum drift_status s)
{
	return (unsigned)s < DRIFT_STATUS_N ? status_names[s] : "error";
}

void drift_add(struct dp *p, enum drift_status status, const char *res, const char *field,
	       const char *exp, const char *act)
{
	if (p->n_drift == p->cap_drift) {
		p->cap_drift = p->cap_drift ? p->cap_drift * 2 : 8;
		p->drift = tp_xrealloc(p->drift, p->cap_drift * sizeof *p->drift);
	}
	p->drift[p->n_drift++] = (struct drift_entry){ .resource = tp_xstrdup(res),
						       .field = tp_xstrdup(field),
						       .expected = tp_xstrdup(exp),
						       .actual = tp_xstrdup(act) };
	if (status > p->status)
		p->status = status;
}

/* The last drift entry gets a note (why it matters). */
static void note_last(struct dp *p, const char *note)
{
	if (!p->n_drift || !note)
		return;
	struct drift_entry *d = &p->drift[p->n_drift - 1];
	free(d->note);
	d->note = tp_xstrdup(note);
}

void drift_add_resource(struct dp *p, const char *what, const char *name)
{
	if (p->n_res == p->cap_res) {
		p->cap_res = p->cap_res ? p->cap_res * 2 : 4;
		p->res = tp_xrealloc(p->res, p->cap_res * sizeof *p->res);
	}
	p->res[p->n_res++] = (struct drift_resource){ .resource = tp_xstrdup(what), .name = tp_xstrdup(name) };
}

void drift_entries_free(struct drift_entry *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].resource);
		free(v[i].field);
		free(v[i].expected);
		free(v[i].actual);
		free(v[i].note);
	}
	free(v);
}

void drift_resources_free(struct drift_resource *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].resource);
		free(v[i].name);
	}
	free(v);
}

/* One change of the diff as drift reports it: expected (the spec's side)
 * and actual (what AWS has). */
void drift_report_change(struct dp *p, const struct diff_change *c)
{
	const char *res = diff_res_name(c->res);
	if (c->act == DIFF_CREATE) {
		drift_add(p, DRIFT_MISSING, res, "(resource)", "present", "missing");
		return;
	}
	if (c->act != DIFF_SET && c->act != DIFF_TAG && c->act != DIFF_UNTAG)
		return;   /* deletes: not drift's (the item exists) */
	switch (c->kind) {
	case DK_ENV:   /* keys only: values may be secrets */
		for (size_t i = 0; i < c->n_parts; i++)
			drift_add(p, DRIFT_DRIFTED, res, c->parts[i].field, c->parts[i].to, c->parts[i].from);
		return;
	case DK_CODE:
		drift_add(p, DRIFT_DRIFTED, res, c->field, c->to, *c->from ? c->from : "(none)");
		p->code_behind = 1;
		return;
	case DK_STATE:
		drift_add(p, DRIFT_DRIFTED, res, c->field, "Active", "Inactive");
		note_last(p, c->note);
		return;
	case DK_STORAGE:
		drift_add(p, DRIFT_DRIFTED, res, c->field, c->to, c->from);
		if (strcmp(c->to, "REFERENCE") == 0)
			note_last(p, "fell back to COPY: the code counts against Lambda-managed storage again");
		return;
	case DK_MAP_FRT:
		drift_add(p, DRIFT_DRIFTED, res, c->field, c->to, strcmp(c->from, "(none)") ? c->from : "[]");
		return;
	default:
		drift_add(p, DRIFT_DRIFTED, res, c->field, c->act == DIFF_UNTAG ? "(absent)" : c->to, c->from);
	}
}

/* A deprecated runtime (Lambda blocks creates, then updates; core/runtimes.h):
 * the Runtime entry says so, or one is added when the spec names the same
 * runtime (the policy allows a deprecated runtime until its create block).
 * --fix repairs it through reconcile when the spec names another. */
void drift_note_runtime(struct dp *p, const cJSON *have)
{
	const char *rt = cJSON_GetStringValue(cJSON_GetObjectItem(have, "Runtime"));
	const struct runtime_life *life = runtimes_find(rt);
	char today[11];
	runtimes_today(tp_now_ms(), today);
	if (runtimes_phase(life, today) == RUNTIME_SUPPORTED)
		return;
	char note[300];
	snprintf(note, sizeof note, "runtime %s is deprecated since %s (Lambda blocks creates %s%s, updates %s%s)",
		 rt, life->deprecated, *life->block_create ? "from " : "", *life->block_create ? life->block_create : "on a date not published",
		 *life->block_update ? "from " : "", *life->block_update ? life->block_update : "on a date not published");
	for (size_t i = 0; i < p->n_drift; i++) {
		struct drift_entry *d = &p->drift[i];
		if (strcmp(d->field, "Runtime") == 0 && strcmp(d->resource, "function") == 0) {
			free(d->note);
			d->note = tp_xstrdup(note);
			return;
		}
	}
	drift_add(p, DRIFT_DRIFTED, "function", "Runtime", "(a supported runtime)", rt);
	note_last(p, note);
}

/* The repair's outcome moves into the report. */
static void take_fix(struct drift_fix *dst, struct dp *p, long *fixed, long *failed)
{
	*dst = p->fix;
	memset(&p->fix, 0, sizeof p->fix);
	*fixed += dst->status == DRIFT_FIX_FIXED;
	*failed += dst->status == DRIFT_FIX_FAILED;
}

/* Requests per operation since the run started, in aws_stats order. */
static void stats_delta(const struct aws *a, const struct aws_stat *before, size_t nb, struct drift_report *r)
{
	const struct aws_stat *st;
	size_t n = aws_stats(a, &st);
	r->calls = tp_xcalloc(n + 1, sizeof *r->calls);
	for (size_t i = 0; i < n; i++) {
		long prev = 0;
		for (size_t j = 0; j < nb; j++)
			if (strcmp(before[j].key, st[i].key) == 0)
				prev = before[j].requests;
		if (st[i].requests > prev)
			r->calls[r->n_calls++] = (struct drift_calls){ .op = tp_xstrdup(st[i].key),
								       .n = st[i].requests - prev };
	}
}

static enum drift_exit exit_of(const struct drift_summary *s, int fix)
{
	if (s->count[DRIFT_ERROR] || s->fix_failed)
		return DRIFT_EXIT_ERROR;
	if (s->count[DRIFT_COLLISION] ||
	    (!fix && (s->count[DRIFT_DRIFTED] || s->count[DRIFT_MISSING] || s->orphans)))
		return DRIFT_EXIT_DRIFT;
	return DRIFT_EXIT_OK;
}

static long attr_long(const cJSON *attrs, const char *name)
{
	const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(attrs, name));
	return v ? strtol(v, NULL, 10) : 0;
}

/* Totals over the attributes drift_fetch_attrs read for the selection. */
static void queue_totals(const struct fleet *f, struct dp **sel, size_t ns, struct drift_queues *q)
{
	for (size_t i = 0; i < ns; i++) {
		const cJSON *qa = smap_get(&f->qattr, sel[i]->nm.queue);
		const cJSON *da = smap_get(&f->qattr, sel[i]->nm.dlq);
		if (qa) {
			q->queues++;
			q->backlog += attr_long(qa, "ApproximateNumberOfMessages");
			q->in_flight += attr_long(qa, "ApproximateNumberOfMessagesNotVisible");
		}
		if (da) {
			long n = attr_long(da, "ApproximateNumberOfMessages");
			q->queues++;
			q->dlq_tasks += n;
			q->dlqs_with_tasks += n > 0;
		}
	}
}

void drift_fill_report(struct app *app, const struct drift_opts *o, struct dp **sel, size_t ns,
		       const struct drift_run_info *ri, struct drift_report *r)
{
	memset(r, 0, sizeof *r);
	struct drift_summary *sum = &r->summary;
	r->pipelines = tp_xcalloc(ns + 1, sizeof *r->pipelines);
	r->orphans = tp_xcalloc(ns + 1, sizeof *r->orphans);
	for (size_t i = 0; i < ns; i++) {
		struct dp *p = sel[i];
		if (!p->item) {
			struct drift_orphan *orph = &r->orphans[r->n_orphans++];
			orph->name = tp_xstrdup(p->name);
			orph->state = p->drain;
			orph->res = p->res;
			orph->n_res = p->n_res;
			p->res = NULL;
			p->n_res = p->cap_res = 0;
			take_fix(&orph->fix, p, &sum->fixed, &sum->fix_failed);
			continue;
		}
		struct drift_pipeline *dp = &r->pipelines[r->n_pipelines++];
		dp->name = tp_xstrdup(p->name);
		dp->status = p->status;
		dp->drift = p->drift;
		dp->n_drift = p->n_drift;
		p->drift = NULL;
		p->n_drift = p->cap_drift = 0;
		dp->code_behind = p->code_behind;
		if (p->status == DRIFT_ERROR)
			dp->err = p->err;
		take_fix(&dp->fix, p, &sum->fixed, &sum->fix_failed);
		sum->count[p->status]++;
		sum->checked++;
	}
	for (size_t i = 0; i < r->n_orphans; i++) {
		const char *st = r->orphans[i].state;
		if (!st)
			sum->orphans++;
		else if (strcmp(st, "kept") == 0)
			sum->kept++;
		else
			sum->draining++;
	}
	if (o->max_pipelines > 0) {
		r->has_cursor = 1;
		r->cursor.after = tp_xstrdup(ri->after ? ri->after : "");
		r->cursor.next = tp_xstrdup(ri->complete ? "" : sel[ns - 1]->name);
		r->cursor.complete = ri->complete;
		r->cursor.total = ri->total;
	}
	for (size_t i = 0; i < ns; i++)
		if (sel[i]->item && sel[i]->spec)
			pool_demand_add_spec(&r->demand, &sel[i]->want.spec);
	r->pool_known = pool_read(app, &r->pool, &r->pool_err) == TP_OK;
	stats_delta(app->aws, ri->before, ri->n_before, r);
	r->lambda_calls = aws_stats_lambda(app->aws) - ri->lambda0;
	r->lambda_calls_observe = ri->lambda_list;
	r->tag_fallback.queues = ri->f->tags_direct_q;
	r->tag_fallback.functions = ri->f->tags_direct_fn;
	r->tag_fallback.queue_urls = ri->f->qurl_direct;
	queue_totals(ri->f, sel, ns, &r->queues);
	r->elapsed_ms = tp_mono_ms() - ri->t0;
	r->exit_code = exit_of(sum, o->fix);
	log_msg(LOG_INFO, NULL, "drift: %zu checked, %ld drifted, %ld missing, %ld collisions, %ld errors, %ld orphans, %ld fixed; %ld Lambda calls",
		ns, sum->count[DRIFT_DRIFTED], sum->count[DRIFT_MISSING], sum->count[DRIFT_COLLISION],
		sum->count[DRIFT_ERROR], sum->orphans, sum->fixed, r->lambda_calls);
}

void drift_report_free(struct drift_report *r)
{
	for (size_t i = 0; i < r->n_pipelines; i++) {
		struct drift_pipeline *p = &r->pipelines[i];
		free(p->name);
		drift_entries_free(p->drift, p->n_drift);
		diff_list_free(&p->fix.changes);
	}
	free(r->pipelines);
	for (size_t i = 0; i < r->n_orphans; i++) {
		struct drift_orphan *orph = &r->orphans[i];
		free(orph->name);
		drift_resources_free(orph->res, orph->n_res);
		diff_list_free(&orph->fix.changes);
	}
	free(r->orphans);
	free(r->cursor.after);
	free(r->cursor.next);
	for (size_t i = 0; i < r->n_calls; i++)
		free(r->calls[i].op);
	free(r->calls);
	memset(r, 0, sizeof *r);
}
