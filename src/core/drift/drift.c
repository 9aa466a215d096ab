/* drift.c: the drift check (see drift.h).
 *
 * Three phases: list the fleet (drift_fleet.c), run the policy and diff
 * each selected pipeline against the listings with the one diff apply uses
 * (core/diff.h), then optionally repair through reconcile_run
 * (drift_fix.c); drift_report.c fills the report. This file holds the
 * run: the selection (items, orphans, the cursor), the desired states and
 * the diff of each pipeline. */
#include "core/drift/drift_int.h"
#include "base/progress.h"

#include "aws/awsjson.h"
#include "aws/ddb.h"
#include "core/limit_group.h"
#include "core/pause.h"
#include "core/store.h"
#include "script/policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/* ---- one pipeline ---- */

/* A resource exists under our name: ours only with our owner tag and this
 * pipeline's tag (the tagging listing holds only our owner's resources). */
static int check_owned(struct app *app, struct fleet *f, struct dp *p, char kind, const char *what,
		       const char *name)
{
	char key[140];
	snprintf(key, sizeof key, "%c:%s", kind, name);
	const cJSON *tags = smap_get(&f->tags, key);
	const char *found;
	char exp[300], act[300];
	switch (diff_owner(app->set.owner, p->name, tags, &found)) {
	case DIFF_OWNED:
		return 1;
	case DIFF_NO_OWNER:
	case DIFF_OTHER_OWNER:
		snprintf(exp, sizeof exp, "taskpipe:owner=%s", app->set.owner);
		drift_add(p, DRIFT_COLLISION, what, "owner", exp, "(no taskpipe:owner tag of this instance)");
		return 0;
	case DIFF_OTHER_PIPELINE:
		snprintf(act, sizeof act, "taskpipe:pipeline=%s", found ? found : "(none)");
		snprintf(exp, sizeof exp, "taskpipe:pipeline=%s", p->name);
		drift_add(p, DRIFT_COLLISION, what, "owner", exp, act);
		return 0;
	}
	return 0;
}

/* What the listings show of one pipeline, as the diff takes it. */
static void observed_of(const struct fleet *f, const struct dp *p, struct observed *o)
{
	char key[512];
	memset(o, 0, sizeof *o);
	o->q_exists = smap_get(&f->qurl, p->nm.queue) != NULL;
	o->dlq_exists = smap_get(&f->qurl, p->nm.dlq) != NULL;
	o->q_attrs = smap_get(&f->qattr, p->nm.queue);
	o->dlq_attrs = smap_get(&f->qattr, p->nm.dlq);
	snprintf(key, sizeof key, "q:%s", p->nm.queue);
	o->q_tags = smap_get(&f->tags, key);
	snprintf(key, sizeof key, "q:%s", p->nm.dlq);
	o->dlq_tags = smap_get(&f->tags, key);
	o->fn = smap_get(&f->fn, p->nm.function);
	snprintf(key, sizeof key, "f:%s", p->nm.function);
	o->fn_tags = smap_get(&f->tags, key);
	o->fn_inactive = p->inactive;   /* fetch_states; State is not listed */
	o->fn_storage = p->storage;     /* fetch_states; nor is the storage mode */
	const char *qarn = cJSON_GetStringValue(cJSON_GetObjectItem(o->q_attrs, "QueueArn"));
	snprintf(key, sizeof key, "%s\n%s", p->nm.function, qarn ? qarn : "");
	o->esm = qarn ? smap_get(&f->esm, key) : NULL;
}

static void diff_one(struct app *app, struct fleet *f, struct dp *p)
{
	/* Collisions first: nothing else about a foreign resource matters. */
	int ok = 1;
	if (smap_get(&f->qurl, p->nm.queue))
		ok &= check_owned(app, f, p, 'q', "queue", p->nm.queue);
	if (smap_get(&f->qurl, p->nm.dlq))
		ok &= check_owned(app, f, p, 'q', "dead-letter queue", p->nm.dlq);
	if (smap_get(&f->fn, p->nm.function))
		ok &= check_owned(app, f, p, 'f', "function", p->nm.function);
	if (!ok)
		return;
	struct observed o;
	observed_of(f, p, &o);
	struct diff_list l = { 0 };
	struct spec_record old;
	spec_record_read(p->old_spec, &old);
	diff_pipeline(&p->want, p->old_spec ? &old : NULL, &o, &l);
	spec_record_free(&old);
	for (size_t i = 0; i < l.n; i++)
		drift_report_change(p, &l.v[i]);
	diff_list_free(&l);
	if (o.fn)
		drift_note_runtime(p, o.fn);
}

/* ---- selection, cursor ---- */

static int name_cmp(const void *a, const void *b)
{
	return strcmp((*(struct dp *const *)a)->name, (*(struct dp *const *)b)->name);
}

static int cursor_read(struct app *app, char **after, tp_err *e)
{
	return store_drift_cursor_get(app->aws, app->set.state_table, after, e);
}

static int cursor_write(struct app *app, const char *after, int complete, tp_err *e)
{
	return store_drift_cursor_put(app->aws, app->set.state_table, after, complete, e);
}

/* The spec of each selected pipeline's last apply, for stale tags. */
static void read_old_specs(struct store_pipelines *states, struct dp **sel, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct store_pipeline *st = sel[i]->spec ? store_pipelines_find(states, sel[i]->name) : NULL;
		if (st && st->spec && !sel[i]->old_spec)
			sel[i]->old_spec = cJSON_Parse(st->spec);
	}
}

/* ---- the run ---- */

static void dp_free(struct dp *p)
{
	free(p->name);
	pipeline_free(&p->want);
	cJSON_Delete(p->old_spec);
	drift_entries_free(p->drift, p->n_drift);
	drift_resources_free(p->res, p->n_res);
	diff_list_free(&p->fix.changes);
	free(p->inactive);
}

static struct dp *dp_new(const char *name)
{
	struct dp *p = tp_xcalloc(1, sizeof *p);
	p->name = tp_xstrdup(name);
	return p;
}

/* Orphans: resources with our owner tag and the name taskpipe would give
 * them, whose pipeline has no config item. Keyed by pipeline name. */
static void find_orphans(struct app *app, struct fleet *f, struct smap *items, struct smap *orph,
			 struct dp ***all, size_t *n, size_t *cap)
{
	for (int k = PG_TAGS_FN; k <= PG_TAGS_SQS; k++) {
		size_t i = 0;
		for (; i < f->tags.cap; i++) {
			const char *key = f->tags.k[i];
			if (!key || key[0] != (k == PG_TAGS_FN ? 'f' : 'q'))
				continue;
			const cJSON *tags = f->tags.v[i];
			const char *pipe = cJSON_GetStringValue(cJSON_GetObjectItem(tags, "taskpipe:pipeline"));
			const char *owner = cJSON_GetStringValue(cJSON_GetObjectItem(tags, "taskpipe:owner"));
			struct names nm;
			if (!pipe || !owner || strcmp(owner, app->set.owner) != 0 || smap_get(items, pipe) ||
			    names_for(app->set.prefix, pipe, &nm, NULL) < 0)
				continue;
			const char *name = key + 2, *what;
			if (k == PG_TAGS_FN && strcmp(name, nm.function) == 0)
				what = "function";
			else if (k == PG_TAGS_SQS && strcmp(name, nm.queue) == 0)
				what = "queue";
			else if (k == PG_TAGS_SQS && strcmp(name, nm.dlq) == 0)
				what = "dead-letter queue";
			else
				continue;  /* another prefix's resource: not ours to judge */
			struct dp *p = smap_get(orph, pipe);
			if (!p) {
				p = dp_new(pipe);
				p->nm = nm;
				smap_put(orph, pipe, p);
				if (*n == *cap) {
					*cap = *cap ? *cap * 2 : 64;
					*all = tp_xrealloc(*all, *cap * sizeof **all);
				}
				(*all)[(*n)++] = p;
			}
			drift_add_resource(p, what, name);
		}
	}
}

/* Removed items' pipelines: a draining one (its record says so, or its
 * item is past expires_at) with no resource left is still visited, so the
 * repair finishes its drain; orphans of draining or kept pipelines are
 * marked, reported as such and not as drift. */
static void mark_drains(struct app *app, struct store_pipelines *states, const struct smap *items,
			const struct smap *expired, struct smap *orph, struct dp ***all, size_t *n,
			size_t *cap)
{
	for (size_t i = 0; i < states->n; i++) {
		const struct store_pipeline *st = &states->v[i];
		struct names nm;
		if (st->status != STORE_DRAINING || smap_get(items, st->name) || smap_get(orph, st->name) ||
		    names_for(app->set.prefix, st->name, &nm, NULL) < 0)
			continue;
		struct dp *p = dp_new(st->name);
		p->nm = nm;
		smap_put(orph, st->name, p);
		if (*n == *cap) {
			*cap = *cap ? *cap * 2 : 64;
			*all = tp_xrealloc(*all, *cap * sizeof **all);
		}
		(*all)[(*n)++] = p;
	}
	for (size_t i = 0; i < *n; i++) {
		struct dp *p = (*all)[i];
		if (p->item)
			continue;
		const struct store_pipeline *st = store_pipelines_find(states, p->name);
		if (st && st->status == STORE_KEPT)
			p->drain = "kept";
		else if ((st && st->status == STORE_DRAINING) || smap_get(expired, p->name))
			p->drain = "draining";
	}
}

int drift_run(struct app *app, const struct drift_opts *o, struct drift_report *r, tp_err *e)
{
	if (o->fix && app_may_write(app, e) < 0) {
		memset(r, 0, sizeof *r);
		return e->rc;
	}
	memset(r, 0, sizeof *r);
	int64_t t0 = tp_mono_ms();
	const struct aws_stat *st0;
	size_t nst0 = aws_stats(app->aws, &st0);
	struct aws_stat *before = tp_xcalloc(nst0 + 1, sizeof *before);
	memcpy(before, st0, nst0 * sizeof *before);
	long lambda0 = aws_stats_lambda(app->aws);

	struct fleet f;
	memset(&f, 0, sizeof f);
	struct smap items = { 0 }, orph = { 0 }, expired = { 0 };
	struct store_pipelines states = { 0 };
	long now = (long)(tp_now_ms() / 1000);
	struct dp **all = NULL;
	size_t n = 0, cap = 0;
	char *after = NULL;
	struct limit_groups *groups = limit_groups_new(app, app->policy);
	int rc = TP_OK;
	if (o->max_pipelines > 0 && (rc = cursor_read(app, &after, e)) < 0)
		goto done;
	cJSON *ctx = app_policy_ctx_value(app);
	policy_set_ctx(app->policy, ctx); /* once for the whole run */
	cJSON_Delete(ctx);
	progress_phase("listing the fleet");
	if ((rc = drift_list_fleet(app, &f, e)) < 0)
		goto done;
	long lambda_list = aws_stats_lambda(app->aws) - lambda0;
	drift_index_fleet(&f);
	if ((rc = store_pipelines_scan(app->aws, app->set.state_table, &states, e)) < 0)
		goto done;

	cJSON *it;
	cJSON_ArrayForEach(it, f.pg[PG_SCAN].acc) {
		const char *name = ddb_get_str(it, "pipeline", NULL);
		if (limit_group_key_is(name)) {
			limit_groups_add(groups, it); /* not a pipeline: its members' input */
			continue;
		}
		if (!name || smap_get(&items, name))
			continue;
		long exp = ddb_get_long(it, "expires_at", 0);
		if (exp > 0 && exp <= now) {
			/* past expires_at: as good as removed (it drains) */
			smap_put(&expired, name, (void *)1);
			continue;
		}
		struct dp *p = dp_new(name);
		p->item = it;
		smap_put(&items, name, p);
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			all = tp_xrealloc(all, cap * sizeof *all);
		}
		all[n++] = p;
	}
	find_orphans(app, &f, &items, &orph, &all, &n, &cap);
	mark_drains(app, &states, &items, &expired, &orph, &all, &n, &cap);
	if (n)
		qsort(all, n, sizeof *all, name_cmp);

	/* The slice for this run. */
	size_t from = 0, to = n;
	if (o->max_pipelines > 0) {
		while (from < n && after && *after && strcmp(all[from]->name, after) <= 0)
			from++;
		if (to - from > (size_t)o->max_pipelines)
			to = from + (size_t)o->max_pipelines;
	}
	struct dp **sel = all + from;
	size_t ns = to - from;

	/* An operator's pause keeps the mapping disabled (core/pause.h). */
	struct store_pauses pauses = { 0 };
	if ((rc = store_pauses_scan(app->aws, app->set.state_table, &pauses, e)) < 0)
		goto done;
	for (size_t i = 0; i < ns; i++) {
		struct dp *p = sel[i];
		if (!p->item)
			continue;
		if (names_for(app->set.prefix, p->name, &p->nm, &p->err) < 0) {
			p->status = DRIFT_ERROR;
			continue;
		}
		cJSON *sv = NULL;
		char note[300];
		int prc = limit_groups_spec(groups, p->item, &sv, note, sizeof note, &p->err);
		if (prc == TP_OK && store_pauses_find(&pauses, p->name))
			pause_spec(sv);
		if (prc == TP_OK) /* the answer, every digit kept, is what the desired state reads */
			prc = pipeline_desired(&app->set, p->name, sv, &p->want, &p->err);
		cJSON_Delete(sv);
		p->spec = p->want.tree;
		if (prc < 0)
			p->status = DRIFT_ERROR;
	}
	store_pauses_free(&pauses);
	read_old_specs(&states, sel, ns);
	/* a person at a terminal sees which part of the check is running */
	progress_phase("%zu pipelines: queues", ns);
	drift_find_unlisted_queues(app, &f, sel, ns);
	drift_fetch_attrs(app, &f, sel, ns);
	progress_phase("%zu pipelines: function states", ns);
	drift_fetch_states(app, &f, sel, ns);
	progress_phase("%zu pipelines: tags", ns);
	drift_verify_tags(app, &f, sel, ns);
	for (size_t i = 0; i < ns; i++)
		if (sel[i]->spec && sel[i]->status != DRIFT_ERROR)
			diff_one(app, &f, sel[i]);

	if (o->fix) {
		progress_phase("fixing");
		drift_fix(app, o, sel, ns);
	}

	if (o->max_pipelines > 0) {
		int complete = to >= n;
		if ((rc = cursor_write(app, complete ? "" : sel[ns - 1]->name, complete, e)) < 0)
			goto done;
	}

	struct drift_run_info ri = { .t0 = t0, .lambda0 = lambda0, .lambda_list = lambda_list,
				     .before = before, .n_before = nst0, .after = after, .total = n,
				     .complete = to >= n, .f = &f };
	drift_fill_report(app, o, sel, ns, &ri, r);

done:
	for (size_t i = 0; i < n; i++) {
		dp_free(all[i]);
		free(all[i]);
	}
	free(all);
	smap_free(&items);
	smap_free(&orph);
	smap_free(&expired);
	store_pipelines_free(&states);
	limit_groups_free(groups);
	drift_fleet_free(&f);
	free(after);
	free(before);
	return rc;
}
