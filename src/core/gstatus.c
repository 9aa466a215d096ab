/* gstatus.c: a row per group from the tables, SQS and CloudWatch (see gstatus.h). */
#include "core/gstatus.h"

#include "aws/awsjson.h"
#include "aws/cloudwatch.h"
#include "aws/ddb.h"
#include "aws/sqs.h"
#include "base/log.h"
#include "core/store.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Requests made so far to one service (aws stats, retries included). */
static long svc_requests(const struct aws *a, int svc)
{
	const struct aws_stat *st;
	size_t n = aws_stats(a, &st);
	long sum = 0;
	for (size_t i = 0; i < n; i++)
		if (st[i].service == svc)
			sum += st[i].requests;
	return sum;
}

/* An item attribute as text: S as is, N as written, BOOL; "" when absent. */
static void attr_text(const cJSON *item, const char *name, char *out, size_t len)
{
	const cJSON *v = cJSON_GetObjectItem(item, name);
	const char *s = cJSON_GetStringValue(cJSON_GetObjectItem(v, "S"));
	if (!s)
		s = cJSON_GetStringValue(cJSON_GetObjectItem(v, "N"));
	snprintf(out, len, "%s", s ? s : "");
}

static void add_problem(struct gs_row *r, const char *what, const tp_err *e)
{
	char *old = r->problem;
	r->problem = tp_xasprintf("%s%s%s: %s%s%s", old ? old : "", old ? "; " : "", what,
				  e && e->code[0] ? e->code : "", e && e->code[0] ? ": " : "", e ? e->message : "");
	free(old);
}

static int not_found(const struct aws_call *c)
{
	return c->rc == TP_ENOTFOUND || strstr(c->err.code, "NonExistentQueue") ||
	       strstr(c->err.code, "QueueDoesNotExist");
}

/* What a row takes from its item and state record. */
static void fill_config(struct gs_row *r, const cJSON *item, const struct store_pipeline *st)
{
	attr_text(item, "rate", r->rate, sizeof r->rate);
	attr_text(item, "burst", r->burst, sizeof r->burst);
	r->concurrency = item ? ddb_get_long(item, "concurrency", -1) : -1;
	r->enabled = r->item_enabled = -1;
	if (item) {
		const cJSON *b = cJSON_GetObjectItem(cJSON_GetObjectItem(item, "enabled"), "BOOL");
		r->enabled = r->item_enabled = b ? cJSON_IsTrue(b) : 1;
	}
	/* the applied spec says what is in force */
	cJSON *spec = st && st->spec ? cJSON_Parse(st->spec) : NULL;
	const cJSON *m = cJSON_GetObjectItem(spec, "mapping");
	const cJSON *en = cJSON_GetObjectItem(m, "Enabled");
	if (cJSON_IsBool(en))
		r->enabled = cJSON_IsTrue(en);
	const cJSON *mc = cJSON_GetObjectItem(cJSON_GetObjectItem(m, "ScalingConfig"), "MaximumConcurrency");
	if (r->concurrency < 0 && cJSON_IsNumber(mc))
		r->concurrency = (long)mc->valuedouble;
	cJSON_Delete(spec);
	if (!st || !st->name)
		snprintf(r->state, sizeof r->state, "%s", item ? "pending" : "unknown");
	else if (!item)
		snprintf(r->state, sizeof r->state, "draining"); /* item gone, pipeline not yet */
	else if (st->status == STORE_ERROR)
		snprintf(r->state, sizeof r->state, "error");
	else
		snprintf(r->state, sizeof r->state, "%s", store_status_name(st->status));
	if (st && st->status == STORE_ERROR && st->message)
		r->message = tp_xstrdup(st->message);
}

/* Rows (sorted by name) with their records; urls[2i], urls[2i+1]: queue and
 * DLQ URL as recorded (malloc'd, NULL unknown). */
struct gather {
	struct gs_row *rows;
	size_t n;
	char **urls;
};

static struct gs_row *row_new(struct gather *g, const char *name)
{
	struct gs_row *r = &g->rows[g->n++];
	memset(r, 0, sizeof *r);
	r->group = tp_xstrdup(name);
	r->visible = r->in_flight = r->delayed = r->dlq = -1;
	r->starts_1m = r->starts_5m = r->errors_5m = r->throttles_5m = r->sent_5m = r->age_s = -1;
	return r;
}

static void row_urls(struct gather *g, size_t i, const struct store_pipeline *st)
{
	g->urls[2 * i] = st && st->status != STORE_DELETED ? tp_xstrdup(st->queue_url) : NULL;
	g->urls[2 * i + 1] = st && st->status != STORE_DELETED ? tp_xstrdup(st->dlq_url) : NULL;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_item(const void *a, const void *b)
{
	return strcmp(ddb_get_str(*(cJSON *const *)a, "pipeline", ""), ddb_get_str(*(cJSON *const *)b, "pipeline", ""));
}

static const cJSON *find_item(cJSON **v, size_t n, const char *name)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(name, ddb_get_str(v[mid], "pipeline", ""));
		if (c == 0)
			return v[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* Every group: an item, or a pipeline record not deleted (draining). */
static int gather_all(struct aws *a, const struct settings *set, struct gather *g, tp_err *e)
{
	cJSON *items = cJSON_CreateArray(), *it;
	struct store_pipelines sts = { 0 };
	int rc = ddb_scan_all(a, set->config_table, NULL, items, e);
	if (rc == TP_OK)
		rc = store_pipelines_scan(a, set->state_table, &sts, e);
	if (rc == TP_OK) {
		size_t ni = (size_t)cJSON_GetArraySize(items), k = 0, nn = 0;
		cJSON **byname = tp_xcalloc(ni + 1, sizeof *byname);
		char **names = tp_xcalloc(ni + sts.n + 1, sizeof *names);
		cJSON_ArrayForEach(it, items)
			if (ddb_get_str(it, "pipeline", NULL)) {
				byname[k++] = it;
				names[nn++] = (char *)ddb_get_str(it, "pipeline", NULL);
			}
		qsort(byname, k, sizeof *byname, cmp_item);
		for (size_t i = 0; i < sts.n; i++)
			if (sts.v[i].status != STORE_DELETED)
				names[nn++] = sts.v[i].name;
		qsort(names, nn, sizeof *names, cmp_str);
		g->rows = tp_xcalloc(nn + 1, sizeof *g->rows);
		g->urls = tp_xcalloc(2 * nn + 2, sizeof *g->urls);
		for (size_t i = 0; i < nn; i++) {
			if (i && strcmp(names[i], names[i - 1]) == 0)
				continue;
			const struct store_pipeline *st = store_pipelines_find(&sts, names[i]);
			size_t at = g->n;
			struct gs_row *r = row_new(g, names[i]);
			fill_config(r, find_item(byname, k, names[i]), st);
			row_urls(g, at, st);
		}
		free(byname);
		free(names);
	}
	cJSON_Delete(items);
	store_pipelines_free(&sts);
	return rc;
}

/* The named groups: a GetItem of the item and of the record each, concurrent. */
static int gather_named(struct aws *a, const struct settings *set, char *const *groups, size_t n,
			struct gather *g, tp_err *e)
{
	struct aws_call *c = tp_xcalloc(2 * n + 1, sizeof *c);
	for (size_t i = 0; i < n; i++) {
		cJSON *in = cJSON_CreateObject();
		cJSON_AddStringToObject(in, "TableName", set->config_table);
		cJSON_AddItemToObject(in, "Key", ddb_key("pipeline", groups[i]));
		awsj_prepare(&c[2 * i], SVC_DYNAMODB, "GetItem", in);
		store_pipeline_get_prepare(&c[2 * i + 1], set->state_table, groups[i]);
	}
	aws_call_many(a, c, 2 * n);
	g->rows = tp_xcalloc(n + 1, sizeof *g->rows);
	g->urls = tp_xcalloc(2 * n + 2, sizeof *g->urls);
	int rc = TP_OK;
	for (size_t i = 0; i < n && rc == TP_OK; i++) {
		if (c[2 * i].rc < 0 || c[2 * i + 1].rc < 0) {
			*e = c[2 * i].rc < 0 ? c[2 * i].err : c[2 * i + 1].err;
			rc = c[2 * i].rc < 0 ? c[2 * i].rc : c[2 * i + 1].rc;
			break;
		}
		cJSON *io = awsj_result(&c[2 * i]), *so = awsj_result(&c[2 * i + 1]);
		const cJSON *item = cJSON_GetObjectItem(io, "Item");
		struct store_pipeline st;
		store_pipeline_from_item(cJSON_GetObjectItem(so, "Item"), &st);
		int live = st.name && st.status != STORE_DELETED;
		struct gs_row *r = row_new(g, groups[i]);
		fill_config(r, item, live ? &st : NULL);
		row_urls(g, i, live ? &st : NULL);
		if (!item && !live)
			add_problem(r, "UnknownGroup", &(tp_err){ .message = "no item and no pipeline of that name" });
		store_pipeline_free(&st);
		cJSON_Delete(io);
		cJSON_Delete(so);
	}
	for (size_t i = 0; i < 2 * n; i++)
		aws_call_free(&c[i]);
	free(c);
	return rc;
}

/* Queue URLs not recorded (records older than queue_url): GetQueueUrl. */
static void resolve_urls(struct aws *a, struct gather *g)
{
	size_t need = 0;
	for (size_t i = 0; i < 2 * g->n; i++)
		need += !g->urls[i] && strcmp(g->rows[i / 2].state, "unknown") != 0;
	if (!need)
		return;
	struct aws_call *c = tp_xcalloc(need, sizeof *c);
	size_t k = 0;
	for (size_t i = 0; i < 2 * g->n; i++) {
		const struct gs_row *r = &g->rows[i / 2];
		if (g->urls[i] || strcmp(r->state, "unknown") == 0)
			continue;
		sqs_get_queue_url(&c[k], i % 2 ? r->nm.dlq : r->nm.queue);
		c[k++].user = (void *)(uintptr_t)i;
	}
	aws_call_many(a, c, k);
	for (size_t j = 0; j < k; j++) {
		size_t i = (size_t)(uintptr_t)c[j].user;
		cJSON *out = awsj_result(&c[j]);
		if (c[j].rc == TP_OK)
			g->urls[i] = tp_xstrdup(cJSON_GetStringValue(cJSON_GetObjectItem(out, "QueueUrl")));
		else if (!not_found(&c[j]))
			add_problem(&g->rows[i / 2], i % 2 ? "DLQ URL" : "queue URL", &c[j].err);
		cJSON_Delete(out);
		aws_call_free(&c[j]);
	}
	free(c);
}

static long attr_long(const cJSON *attrs, const char *k)
{
	const char *v = cJSON_GetStringValue(cJSON_GetObjectItem(attrs, k));
	return v ? strtol(v, NULL, 10) : -1;
}

/* Depths: GetQueueAttributes of each queue and DLQ, concurrent. */
static void read_depths(struct aws *a, struct gather *g)
{
	struct aws_call *c = tp_xcalloc(2 * g->n + 1, sizeof *c);
	size_t k = 0;
	for (size_t i = 0; i < 2 * g->n; i++) {
		if (!g->urls[i])
			continue;
		static const char *const names[] = { "ApproximateNumberOfMessages",
						     "ApproximateNumberOfMessagesNotVisible",
						     "ApproximateNumberOfMessagesDelayed" };
		sqs_get_queue_attributes(&c[k], g->urls[i], names, i % 2 == 0 ? 3 : 1);
		c[k++].user = (void *)(uintptr_t)i;
	}
	aws_call_many(a, c, k);
	for (size_t j = 0; j < k; j++) {
		size_t i = (size_t)(uintptr_t)c[j].user;
		struct gs_row *r = &g->rows[i / 2];
		cJSON *out = awsj_result(&c[j]);
		const cJSON *at = cJSON_GetObjectItem(out, "Attributes");
		if (c[j].rc != TP_OK) {
			add_problem(r, i % 2 ? "DLQ" : "queue", &c[j].err);
		} else if (i % 2) {
			r->dlq = attr_long(at, "ApproximateNumberOfMessages");
		} else {
			r->visible = attr_long(at, "ApproximateNumberOfMessages");
			r->in_flight = attr_long(at, "ApproximateNumberOfMessagesNotVisible");
			r->delayed = attr_long(at, "ApproximateNumberOfMessagesDelayed");
		}
		cJSON_Delete(out);
		aws_call_free(&c[j]);
	}
	free(c);
	/* a row whose queue is not there at all says so */
	for (size_t i = 0; i < g->n; i++)
		if (!g->urls[2 * i] && strcmp(g->rows[i].state, "unknown") != 0 && !g->rows[i].problem)
			add_problem(&g->rows[i], "queue", &(tp_err){ .message = "does not exist" });
}

/* The queries of one row, in gs_apply_metrics' order. */
static void row_queries(const struct gs_row *r, struct cw_query *q)
{
	static const struct { const char *ns, *metric, *stat; int lambda; } m[GS_METRICS_PER_GROUP] = {
		{ "AWS/SQS", "ApproximateAgeOfOldestMessage", "Maximum", 0 },
		{ "AWS/SQS", "NumberOfMessagesSent", "Sum", 0 },
		{ "AWS/Lambda", "Invocations", "Sum", 1 },
		{ "AWS/Lambda", "Errors", "Sum", 1 },
		{ "AWS/Lambda", "Throttles", "Sum", 1 },
	};
	for (int k = 0; k < GS_METRICS_PER_GROUP; k++) {
		memset(&q[k], 0, sizeof q[k]);
		q[k].ns = m[k].ns;
		q[k].metric = m[k].metric;
		q[k].stat = m[k].stat;
		q[k].period_s = 60;
		q[k].ndims = 1;
		q[k].dim_name[0] = m[k].lambda ? "FunctionName" : "QueueName";
		q[k].dim_value[0] = m[k].lambda ? r->nm.function : r->nm.queue;
	}
}

/* Sum of points with from <= ts < to. */
static double sum_between(const struct cw_series *s, int64_t from, int64_t to)
{
	double v = 0;
	for (size_t i = 0; i < s->n; i++)
		if (s->ts[i] >= from && s->ts[i] < to)
			v += s->v[i];
	return v;
}

void gs_apply_metrics(struct gs_row *r, const struct cw_series *s, int64_t now_s)
{
	int64_t m = now_s / 60 * 60; /* start of the current minute */
	const struct cw_series *age = &s[0], *sent = &s[1], *inv = &s[2], *err = &s[3], *thr = &s[4];
	r->starts_1m = sum_between(inv, m - 60, m) / 60.0;
	r->starts_5m = sum_between(inv, m - 300, m) / 300.0;
	r->sent_5m = sum_between(sent, m - 300, m + 60);
	r->errors_5m = sum_between(err, m - 300, m + 60);
	r->throttles_5m = sum_between(thr, m - 300, m + 60);
	r->age_s = -1;
	int64_t age_ts = 0;
	for (size_t i = 0; i < age->n; i++)
		if (age->ts[i] >= m - 300 && age->ts[i] >= age_ts) {
			age_ts = age->ts[i];
			r->age_s = age->v[i];
		}
	r->last_activity = 0;
	for (const struct cw_series *x = sent; x <= inv; x++)
		for (size_t i = 0; i < x->n; i++)
			if (x->v[i] > 0 && x->ts[i] > r->last_activity)
				r->last_activity = x->ts[i];
}

static void read_metrics(struct aws *a, struct gs_report *out, int64_t now_s)
{
	size_t nq = 0;
	struct cw_query *q = tp_xcalloc(out->n * GS_METRICS_PER_GROUP + 1, sizeof *q);
	size_t *row_of = tp_xcalloc(out->n + 1, sizeof *row_of), nr = 0;
	for (size_t i = 0; i < out->n; i++) {
		if (strcmp(out->v[i].state, "unknown") == 0)
			continue;
		row_queries(&out->v[i], &q[nq]);
		nq += GS_METRICS_PER_GROUP;
		row_of[nr++] = i;
	}
	struct cw_series *s = NULL;
	tp_err e = { 0 };
	/* the window, up to the end of the current minute, on minute
	 * boundaries (CloudWatch aligns 60 s periods to the minute) */
	int64_t m = now_s / 60 * 60;
	int rc = cw_get_metric_data(a, q, nq, m - GS_WINDOW_S, m + 60, &s, NULL, &e);
	if (rc < 0)
		out->cw_problem = tp_xasprintf("CloudWatch GetMetricData: %s%s%s", e.code, e.code[0] ? ": " : "",
					       e.message);
	for (size_t j = 0; j < nr && rc == TP_OK; j++)
		gs_apply_metrics(&out->v[row_of[j]], &s[j * GS_METRICS_PER_GROUP], now_s);
	cw_series_free(s, nq);
	free(q);
	free(row_of);
}

/* An operator's pause (core/lifecycle.c) is its own record, pause#<name>:
 * named groups read theirs (a GetItem each), the whole fleet one Scan. */
static void operator_pauses(struct aws *a, const struct settings *set, struct gather *g, int named)
{
	tp_err pe = { 0 };
	if (named) {
		for (size_t i = 0; i < g->n; i++) {
			struct store_pause p = { 0 };
			if (store_pause_get(a, set->state_table, g->rows[i].group, &p, &pe) == TP_OK)
				g->rows[i].operator_paused = p.name != NULL;
			else
				log_warn("status: %s: operator pause unknown: %s: %s", g->rows[i].group, pe.code, pe.message);
			store_pause_free(&p);
			tp_err_clear(&pe);
		}
		return;
	}
	struct store_pauses pz = { 0 };
	if (store_pauses_scan(a, set->state_table, &pz, &pe) == TP_OK)
		for (size_t i = 0; i < g->n; i++)
			g->rows[i].operator_paused = store_pauses_find(&pz, g->rows[i].group) != NULL;
	else
		log_warn("status: operator pauses unknown: %s: %s", pe.code, pe.message);
	store_pauses_free(&pz);
}

int gs_collect(struct aws *a, const struct settings *set, char *const *groups, size_t n,
		   int64_t now_s, struct gs_report *out, tp_err *e)
{
	memset(out, 0, sizeof *out);
	int64_t t0 = tp_mono_ms();
	long d0 = svc_requests(a, SVC_DYNAMODB), s0 = svc_requests(a, SVC_SQS), c0 = svc_requests(a, SVC_CLOUDWATCH);
	struct gather g = { 0 };
	int rc = n ? gather_named(a, set, groups, n, &g, e) : gather_all(a, set, &g, e);
	if (rc == TP_OK) {
		for (size_t i = 0; i < g.n; i++) {
			tp_err ne = { 0 };
			if (names_for(set->prefix, g.rows[i].group, &g.rows[i].nm, &ne) < 0) {
				add_problem(&g.rows[i], "name", &ne);
				snprintf(g.rows[i].state, sizeof g.rows[i].state, "unknown");
			}
		}
		operator_pauses(a, set, &g, n > 0);
		resolve_urls(a, &g);
		read_depths(a, &g);
	}
	out->v = g.rows;
	out->n = g.n;
	if (rc == TP_OK && out->n)
		read_metrics(a, out, now_s);
	for (size_t i = 0; i < 2 * g.n; i++)
		free(g.urls[i]);
	free(g.urls);
	out->ddb_calls = svc_requests(a, SVC_DYNAMODB) - d0;
	out->sqs_calls = svc_requests(a, SVC_SQS) - s0;
	out->cw_calls = svc_requests(a, SVC_CLOUDWATCH) - c0;
	out->elapsed_ms = tp_mono_ms() - t0;
	if (rc < 0)
		gs_report_free(out);
	return rc;
}

void gs_report_free(struct gs_report *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++) {
		free(r->v[i].group);
		free(r->v[i].message);
		free(r->v[i].problem);
	}
	free(r->v);
	free(r->cw_problem);
	memset(r, 0, sizeof *r);
}

/* ---- sorting ---- */

static int state_rank(const char *s)
{
	static const char *const order[] = { "error", "unknown", "draining", "pending", "ok", NULL };
	for (int i = 0; order[i]; i++)
		if (strcmp(s, order[i]) == 0)
			return i;
	return 9;
}

static int by_desc(double x, double y)
{
	return (x < y) - (x > y);
}

static int sort_key;
enum { K_AGE, K_NAME, K_VISIBLE, K_INFLIGHT, K_DLQ, K_ERRORS, K_THROTTLES, K_STARTS, K_STATE };

static int cmp_row(const void *pa, const void *pb)
{
	const struct gs_row *a = pa, *b = pb;
	int c = 0;
	switch (sort_key) {
	case K_AGE:
		/* worst first: oldest task, then the longest backlog */
		c = by_desc(a->age_s, b->age_s);
		if (!c)
			c = by_desc((double)a->visible, (double)b->visible);
		break;
	case K_VISIBLE: c = by_desc((double)a->visible, (double)b->visible); break;
	case K_INFLIGHT: c = by_desc((double)a->in_flight, (double)b->in_flight); break;
	case K_DLQ: c = by_desc((double)a->dlq, (double)b->dlq); break;
	case K_ERRORS: c = by_desc(a->errors_5m, b->errors_5m); break;
	case K_THROTTLES: c = by_desc(a->throttles_5m, b->throttles_5m); break;
	case K_STARTS: c = by_desc(a->starts_1m, b->starts_1m); break;
	case K_STATE: c = state_rank(a->state) - state_rank(b->state); break;
	}
	return c ? c : strcmp(a->group, b->group);
}

int gs_sort(struct gs_report *r, const char *key)
{
	static const char *const keys[] = { "age", "name", "visible", "inflight", "dlq", "errors",
					    "throttles", "starts", "state", NULL };
	int k = -1;
	for (int i = 0; keys[i]; i++)
		if (strcmp(key ? key : "age", keys[i]) == 0)
			k = i;
	if (k < 0)
		return -1;
	sort_key = k;
	if (r->n > 1)
		qsort(r->v, r->n, sizeof *r->v, cmp_row);
	return 0;
}

int gs_row_shown(const struct gs_row *r, const struct gs_filter *f)
{
	int failing = r->errors_5m > 0 || r->throttles_5m > 0 || r->dlq > 0;
	if (f->name && f->name[0] && !strstr(r->group, f->name))
		return 0;
	if (f->state && strcmp(r->state, f->state) != 0)
		return 0;
	if (f->paused && r->enabled != 0 && !r->operator_paused)
		return 0;
	if (f->enabled && r->enabled != 1)
		return 0;
	if (f->backlog && !(r->visible > 0 || r->delayed > 0))
		return 0;
	if (f->failing && !failing)
		return 0;
	if (f->problems && strcmp(r->state, "ok") == 0 && !failing)
		return 0;
	if (f->min_age > 0 && !(r->age_s >= f->min_age))
		return 0;
	return 1;
}
