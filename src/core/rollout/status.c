/* status.c: `rollout status`: every rollout head with its waves and each
 * function's record, read from one scan of the rollout items; and the
 * names the rollout enums have in records and output (the lowest file of
 * core/rollout/: it calls none of the others). */
#include "core/rollout/ro.h"

#include "aws/ddb.h"
#include "core/rollout/rolloutrec.h"
#include "core/store.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int kind_is(const cJSON *it, const char *kind)
{
	return strcmp(ddb_get_str(it, "kind", ""), kind) == 0;
}

/* rollout-fn records ordered by (rollout, function). */
static int cmp_fn_record(const void *a, const void *b)
{
	const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
	int c = strcmp(ddb_get_str(x, "rollout", ""), ddb_get_str(y, "rollout", ""));
	return c ? c : strcmp(ddb_get_str(x, "function", ""), ddb_get_str(y, "function", ""));
}

void ro_fn_index_build(struct ro_fn_index *x, const cJSON *items)
{
	memset(x, 0, sizeof *x);
	x->v = tp_xcalloc((size_t)cJSON_GetArraySize(items) + 1, sizeof *x->v);
	const cJSON *it;
	cJSON_ArrayForEach(it, items)
		if (kind_is(it, "rollout-fn"))
			x->v[x->n++] = it;
	qsort(x->v, x->n, sizeof *x->v, cmp_fn_record);
}

/* A binary search by key: lookups for 50,000 targets stay n log n. */
const cJSON *ro_fn_index_find(struct ro_fn_index *x, const char *rollout, const char *function)
{
	size_t lo = 0, hi = x->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(ddb_get_str(x->v[mid], "rollout", ""), rollout);
		if (!c)
			c = strcmp(ddb_get_str(x->v[mid], "function", ""), function);
		x->probes++;
		if (!c)
			return x->v[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

void ro_fn_index_free(struct ro_fn_index *x)
{
	free(x->v);
	memset(x, 0, sizeof *x);
}

enum rollout_state ro_stored_state(const char *stored)
{
	static const enum rollout_state kept[] = { RST_RUNNING, RST_DONE, RST_HALTED };
	for (size_t i = 0; i < sizeof kept / sizeof *kept; i++)
		if (strcmp(stored, rollout_state_name(kept[i])) == 0)
			return kept[i];
	return RST_UNKNOWN;
}

static enum rollout_fn_state fn_state(const char *st)
{
	for (int s = 0; s < RFN_STATES; s++)
		if (strcmp(st, rollout_fn_state_name((enum rollout_fn_state)s)) == 0)
			return (enum rollout_fn_state)s;
	return RFN_PENDING;
}

/* One wave of a plan: its functions and their records of generation gen. */
static void wave_status(struct ro_fn_index *x, const char *prefix, const char *id, long gen,
			const cJSON *w, struct rollout_wave_status *ow)
{
	const cJSON *n, *p = cJSON_GetObjectItem(w, "pause_seconds"), *h = cJSON_GetObjectItem(w, "halt_on_failure");
	ow->pause_seconds = cJSON_IsNumber(p) ? p->valuedouble : -1;
	ow->halt_on_failure = cJSON_IsBool(h) ? cJSON_IsTrue(h) : -1;
	ow->fns = tp_xcalloc((size_t)cJSON_GetArraySize(cJSON_GetObjectItem(w, "targets")) + 1, sizeof *ow->fns);
	cJSON_ArrayForEach(n, cJSON_GetObjectItem(w, "targets")) {
		struct names nm;
		if (!cJSON_IsString(n) || names_for(prefix, n->valuestring, &nm, NULL) < 0)
			continue;
		struct rollout_fn_status *f = &ow->fns[ow->nfns++];
		f->pipeline = tp_xstrdup(n->valuestring);
		snprintf(f->function, sizeof f->function, "%s", nm.function);
		f->status = RFN_PENDING;
		const cJSON *it = ro_fn_index_find(x, id, nm.function);
		if (it && ddb_get_long(it, "gen", 0) == gen) {
			f->recorded = 1;
			f->status = fn_state(ddb_get_str(it, "status", "pending"));
			f->attempts = ddb_get_long(it, "attempts", 0);
			if (ddb_get_str(it, "error_code", NULL)) {
				f->error_code = tp_xstrdup(ddb_get_str(it, "error_code", ""));
				f->error_message = tp_xstrdup(ddb_get_str(it, "error_message", ""));
			}
		}
		ow->counts[f->status]++;
	}
}

static void head_status(struct ro_fn_index *x, const cJSON *h, const char *prefix, int64_t now_s,
			struct aws *a, const char *table, struct rollout_status *o)
{
	const char *b = ddb_get_str(h, "bucket", ""), *k = ddb_get_str(h, "key", "");
	const char *v = ddb_get_str(h, "version", "");
	enum rollout_state st = ro_stored_state(ddb_get_str(h, "status", ""));
	char *id = tp_xasprintf("%s/%s", b, k);
	o->uri = tp_xasprintf("s3://%s%s%s", id, v[0] ? "#" : "", v);
	o->gen = ddb_get_long(h, "gen", 0);
	o->next_wave = ddb_get_long(h, "wave", 0);
	int live = st == RST_RUNNING && ddb_get_long(h, "lease_until", 0) >= now_s;
	o->status = st == RST_RUNNING && !live ? RST_PAUSED : st;
	snprintf(o->sha256, sizeof o->sha256, "%s", ddb_get_str(h, "sha256", ""));
	snprintf(o->mode, sizeof o->mode, "%s", ddb_get_str(h, "mode", "code"));
	o->started_at = ddb_get_long(h, "started_at", 0);
	o->updated_at = ddb_get_long(h, "updated_at", 0);
	if (live)
		o->holder = tp_xstrdup(ddb_get_str(h, "holder", ""));
	if (ddb_get_str(h, "error_code", NULL)) {
		o->has_failure = 1;
		snprintf(o->failure.function, sizeof o->failure.function, "%s", ddb_get_str(h, "error_function", ""));
		tp_errf(&o->failure.err, TP_EAWS, ddb_get_str(h, "error_code", ""), "%s",
			ddb_get_str(h, "error_message", ""));
	}
	const char *note = ddb_get_str(h, "health_note", "");
	o->health_note = note[0] ? tp_xstrdup(note) : NULL;
	if (ddb_get_str(h, "rollback_to", NULL)) {
		o->rollback.done = 1;
		o->rollback.functions = ddb_get_long(h, "rollback_functions", 0);
		o->rollback.rolled_back = ddb_get_long(h, "rolled_back", 0);
		o->rollback.failed = ddb_get_long(h, "rollback_failed", 0);
		o->rollback.lambda_calls = ddb_get_long(h, "rollback_lambda_calls", 0);
		o->rollback.updates = ddb_get_long(h, "rollback_updates", 0);
		snprintf(o->rollback.to_version, sizeof o->rollback.to_version, "%s", ddb_get_str(h, "rollback_to", ""));
	}
	char *pj = NULL;
	if (rolloutrec_read_plan(a, table, id, h, &pj, &o->plan_error) < 0)
		o->has_plan_error = 1;
	cJSON *plan = cJSON_Parse(pj ? pj : "[]"), *w;
	free(pj);
	o->waves = tp_xcalloc((size_t)cJSON_GetArraySize(plan) + 1, sizeof *o->waves);
	cJSON_ArrayForEach(w, plan) {
		struct rollout_wave_status *ow = &o->waves[o->nwaves];
		int wi = (int)o->nwaves++;
		ow->index = wi + 1;
		ow->state = wi < o->next_wave ? RWAVE_DONE :
			    wi == o->next_wave && st == RST_RUNNING ? RWAVE_RUNNING :
			    wi == o->next_wave && st == RST_HALTED ? RWAVE_HALTED : RWAVE_PENDING;
		wave_status(x, prefix, id, o->gen, w, ow);
	}
	cJSON_Delete(plan);
	free(id);
}

int ro_status_build(const cJSON *items, const char *prefix, int64_t now_s, struct aws *a, const char *table,
		    struct rollout_status **out, size_t *n)
{
	struct ro_fn_index x;
	ro_fn_index_build(&x, items);
	*out = tp_xcalloc((size_t)cJSON_GetArraySize(items) + 1, sizeof **out);
	*n = 0;
	const cJSON *h;
	cJSON_ArrayForEach(h, items)
		if (kind_is(h, "rollout"))
			head_status(&x, h, prefix, now_s, a, table, &(*out)[(*n)++]);
	ro_fn_index_free(&x);
	return TP_OK;
}

int rollout_status(struct app *app, struct rollout_status **out, size_t *n, tp_err *e)
{
	*out = NULL;
	*n = 0;
	cJSON *items = cJSON_CreateArray();
	int rc = ddb_scan_all(app->aws, app->set.state_table, STORE_PREFIX_ROLLOUT_ALL, items, e);
	if (rc == TP_OK)
		rc = ro_status_build(items, app->set.prefix, tp_now_ms() / 1000, app->aws, app->set.state_table,
				     out, n);
	cJSON_Delete(items);
	return rc;
}

void rollout_status_free(struct rollout_status *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		for (size_t w = 0; w < s[i].nwaves; w++) {
			struct rollout_wave_status *ow = &s[i].waves[w];
			for (size_t f = 0; f < ow->nfns; f++) {
				free(ow->fns[f].pipeline);
				free(ow->fns[f].error_code);
				free(ow->fns[f].error_message);
			}
			free(ow->fns);
		}
		free(s[i].waves);
		free(s[i].uri);
		free(s[i].health_note);
		free(s[i].holder);
		free(s[i].failure.pipeline);
	}
	free(s);
}

const char *rollout_outcome_name(enum rollout_outcome s)
{
	static const char *const names[] = { "error", "done", "halted", "superseded", "paused", "busy",
					     "stale", "no-targets" };
	return (unsigned)s < sizeof names / sizeof *names ? names[s] : "error";
}

const char *rollout_fn_state_name(enum rollout_fn_state s)
{
	static const char *const names[] = { "pending", "updating", "done", "failed", "gone", "rolled-back" };
	return (unsigned)s < RFN_STATES ? names[s] : "pending";
}

const char *rollout_state_name(enum rollout_state s)
{
	static const char *const names[] = { "running", "paused", "done", "halted", "unknown" };
	return (unsigned)s < sizeof names / sizeof *names ? names[s] : "unknown";
}

const char *rollout_wave_state_name(enum rollout_wave_state s)
{
	static const char *const names[] = { "done", "running", "halted", "pending" };
	return (unsigned)s < sizeof names / sizeof *names ? names[s] : "pending";
}
