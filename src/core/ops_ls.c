/* ops_ls.c: the rows of `ls` (see ops_ls.h). */
#include "core/ops_ls.h"

#include "aws/ddb.h"
#include "core/limit_group.h"

#include <cjson/cJSON.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ops_ls_kind_of(const char *name)
{
	return limit_group_key_is(name) ? OPS_LS_LIMIT_GROUP : OPS_LS_PIPELINE;
}

/* The item's attribute as text ("-" when absent). */
static void attr_text(const cJSON *item, const char *name, char *out, size_t len)
{
	const cJSON *v = cJSON_GetObjectItem(item, name);
	const char *t = cJSON_GetStringValue(cJSON_GetObjectItem(v, "N"));
	if (!t)
		t = cJSON_GetStringValue(cJSON_GetObjectItem(v, "S"));
	snprintf(out, len, "%s", t ? t : "-");
}

/* Does name match a pattern (none: everything)? Counts each pattern's hits. */
static int wanted(const struct ops_ls_query *q, const char *name, size_t *hits)
{
	if (q->npatterns == 0)
		return 1;
	int any = 0;
	for (size_t i = 0; i < q->npatterns; i++)
		if (fnmatch(q->patterns[i], name, 0) == 0)
			hits[i]++, any = 1;
	return any;
}

/* A pipeline's row: its item (NULL when gone), its record (NULL: never
 * applied) and its pause (NULL: none). */
static void row_pipeline(const char *prefix, struct ops_ls_row *r, const char *name, const cJSON *item,
			 const struct store_pipeline *st, const struct store_pause *pz)
{
	memset(r, 0, sizeof *r);
	r->kind = OPS_LS_PIPELINE;
	r->name = name;
	r->item = item;
	const cJSON *en = cJSON_GetObjectItem(cJSON_GetObjectItem(item, "enabled"), "BOOL");
	r->enabled = item && (!en || cJSON_IsTrue(en));
	attr_text(item, "rate", r->rate, sizeof r->rate);
	attr_text(item, "concurrency", r->concurrency, sizeof r->concurrency);
	r->status = st ? store_status_name(st->status) : OPS_LS_PENDING;
	r->updated_at = st ? st->updated_at : 0;
	r->expires_at = ddb_get_long(item, "expires_at", 0);
	r->pause = pz;
	r->limit_group = ddb_get_str(item, "limit_group", NULL);
	if (!st)
		return;
	r->drain_started_at = st->drain_started_at;
	r->drain_timeout = st->drain_started_at ? st->drain_timeout : 0;
	struct names nm;
	if ((st->kept_queue || st->kept_dlq) && names_for(prefix, name, &nm, NULL) == 0) {
		const struct { const char *what, *queue; long n; } q[] = {
			{ "queue", nm.queue, st->kept_queue }, { "dead-letter queue", nm.dlq, st->kept_dlq } };
		for (int i = 0; i < 2; i++) {
			if (!q[i].n)
				continue;
			struct ops_ls_kept *k = &r->kept[r->n_kept++];
			k->resource = q[i].what;
			snprintf(k->queue, sizeof k->queue, "%s", q[i].queue);
			k->messages = q[i].n;
		}
	}
	r->message = st->message;
	/* where producers send (recorded by apply; taskpipe url asks SQS for older records) */
	if (st->status != STORE_DELETED) {
		r->queue_url = st->queue_url;
		r->queue_arn = st->queue_arn;
	}
}

/* A limit group's row: its rate, burst and members (the items naming it). */
static void row_limit_group(struct ops_ls_row *r, const char *key, const cJSON *item, const cJSON *items)
{
	memset(r, 0, sizeof *r);
	r->kind = OPS_LS_LIMIT_GROUP;
	r->name = r->limit_group = limit_group_key_name(key);
	r->item = item;
	r->status = "";
	attr_text(item, "rate", r->rate, sizeof r->rate);
	attr_text(item, "burst", r->burst, sizeof r->burst);
	snprintf(r->concurrency, sizeof r->concurrency, "-");
	r->members = tp_xcalloc((size_t)cJSON_GetArraySize(items) + 1, sizeof *r->members);
	const cJSON *it;
	cJSON_ArrayForEach(it, items) {
		const char *name = ddb_get_str(it, "pipeline", "");
		if (!limit_group_key_is(name) && strcmp(ddb_get_str(it, "limit_group", ""), r->name) == 0)
			r->members[r->n_members++] = name;
	}
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int row_cmp(const void *a, const void *b)
{
	const struct ops_ls_row *x = a, *y = b;
	if (x->kind != y->kind)
		return x->kind - y->kind;
	return strcmp(x->name, y->name);
}

static void free_rows(struct ops_ls *l)
{
	for (size_t i = 0; l->rows && i < l->n; i++)
		free(l->rows[i].members);
	free(l->rows);
	l->rows = NULL;
}

void ops_ls_build(const char *prefix, const struct ops_ls_query *q, struct ops_ls *out)
{
	free_rows(out);
	free(out->hits);
	out->n = 0;
	memset(&out->demand, 0, sizeof out->demand);
	out->hits = tp_xcalloc(q->npatterns + 1, sizeof *out->hits);
	/* The fleet's demand: the specs in force, as the state table records them. */
	for (size_t i = 0; i < out->states.n; i++) {
		const struct store_pipeline *st = &out->states.v[i];
		cJSON *spec = st->status != STORE_DELETED && st->spec ? cJSON_Parse(st->spec) : NULL;
		pool_demand_add(&out->demand, spec);
		cJSON_Delete(spec);
	}
	size_t nitems = (size_t)cJSON_GetArraySize(out->items);
	out->rows = tp_xcalloc(nitems + out->states.n + 1, sizeof *out->rows);
	const char **inames = tp_xcalloc(nitems + 1, sizeof *inames);
	size_t ni = 0;
	const cJSON *it;
	cJSON_ArrayForEach(it, out->items) {
		const char *name = ddb_get_str(it, "pipeline", "?");
		inames[ni++] = name;
		if (ops_ls_kind_of(name) == OPS_LS_LIMIT_GROUP) {
			if (!q->kept_only && wanted(q, limit_group_key_name(name), out->hits)) {
				row_limit_group(&out->rows[out->n], name, it, out->items);
				qsort(out->rows[out->n].members, out->rows[out->n].n_members, sizeof (char *), str_cmp);
				out->n++;
			}
			continue;
		}
		const struct store_pipeline *st = store_pipelines_find(&out->states, name);
		if (wanted(q, name, out->hits) && (!q->kept_only || (st && st->status == STORE_KEPT)))
			row_pipeline(prefix, &out->rows[out->n++], name, it, st, store_pauses_find(&out->pauses, name));
	}
	/* Records whose items are gone but not yet deleted (or never deletable):
	 * the item names sorted, one binary search per record. */
	qsort(inames, ni, sizeof *inames, str_cmp);
	for (size_t i = 0; i < out->states.n; i++) {
		const struct store_pipeline *st = &out->states.v[i];
		int has_item = bsearch(&st->name, inames, ni, sizeof *inames, str_cmp) != NULL;
		if (!has_item && st->status != STORE_DELETED && wanted(q, st->name, out->hits) &&
		    (!q->kept_only || st->status == STORE_KEPT))
			row_pipeline(prefix, &out->rows[out->n++], st->name, NULL, st,
				     store_pauses_find(&out->pauses, st->name));
	}
	free(inames);
	/* Sorted by name: items come from a Scan, in hash order. */
	qsort(out->rows, out->n, sizeof *out->rows, row_cmp);
}

int ops_ls(struct app *app, const struct ops_ls_query *q, struct ops_ls *out, tp_err *e)
{
	memset(out, 0, sizeof *out);
	out->items = cJSON_CreateArray();
	int rc = ddb_scan_all(app->aws, app->set.config_table, NULL, out->items, e);
	if (rc == TP_OK)
		rc = store_pipelines_scan(app->aws, app->set.state_table, &out->states, e);
	if (rc == TP_OK)
		rc = store_pauses_scan(app->aws, app->set.state_table, &out->pauses, e);
	if (rc == TP_OK)
		ops_ls_build(app->set.prefix, q, out);
	return rc;
}

void ops_ls_free(struct ops_ls *l)
{
	if (!l)
		return;
	free_rows(l);
	free(l->hits);
	cJSON_Delete(l->items);
	store_pipelines_free(&l->states);
	store_pauses_free(&l->pauses);
	memset(l, 0, sizeof *l);
}
