/* cloudwatch.c: GetMetricData over AWS JSON 1.0 (see cloudwatch.h). */
#include "aws/cloudwatch.h"

#include "aws/awsjson.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Largest number of points one request may return ("MaxDatapoints ...
 * default 100,800", API_GetMetricData). */
#define CW_MAX_POINTS 100800

/* A chunk of at most 500 queries and where its answer goes. */
struct chunk {
	const struct cw_query *q;
	struct cw_series *out;
	size_t n;
	char *token;                /* NextToken of the page to ask next; NULL: first page */
	int done;
};

static cJSON *query_json(const struct cw_query *q, size_t i)
{
	cJSON *o = cJSON_CreateObject();
	char id[24];
	snprintf(id, sizeof id, "q%zu", i); /* ids: [a-z][a-zA-Z0-9_]*, unique per request */
	cJSON_AddStringToObject(o, "Id", id);
	cJSON *ms = cJSON_AddObjectToObject(o, "MetricStat");
	cJSON *m = cJSON_AddObjectToObject(ms, "Metric");
	cJSON_AddStringToObject(m, "Namespace", q->ns);
	cJSON_AddStringToObject(m, "MetricName", q->metric);
	cJSON *dims = cJSON_AddArrayToObject(m, "Dimensions");
	for (int d = 0; d < q->ndims && d < CW_MAX_DIMS; d++) {
		cJSON *x = cJSON_CreateObject();
		cJSON_AddStringToObject(x, "Name", q->dim_name[d]);
		cJSON_AddStringToObject(x, "Value", q->dim_value[d]);
		cJSON_AddItemToArray(dims, x);
	}
	cJSON_AddNumberToObject(ms, "Period", q->period_s > 0 ? q->period_s : 60);
	cJSON_AddStringToObject(ms, "Stat", q->stat ? q->stat : "Sum");
	cJSON_AddBoolToObject(o, "ReturnData", 1);
	return o;
}

static void prep_chunk(struct aws_call *c, const struct chunk *k, int64_t start_s, int64_t end_s)
{
	cJSON *in = cJSON_CreateObject();
	cJSON *qs = cJSON_AddArrayToObject(in, "MetricDataQueries");
	for (size_t i = 0; i < k->n; i++)
		cJSON_AddItemToArray(qs, query_json(&k->q[i], i));
	cJSON_AddNumberToObject(in, "StartTime", (double)start_s);
	cJSON_AddNumberToObject(in, "EndTime", (double)end_s);
	cJSON_AddStringToObject(in, "ScanBy", "TimestampAscending");
	cJSON_AddNumberToObject(in, "MaxDatapoints", CW_MAX_POINTS);
	if (k->token)
		cJSON_AddStringToObject(in, "NextToken", k->token);
	awsj_prepare(c, SVC_CLOUDWATCH, "GetMetricData", in);
}

static void append_points(struct cw_series *s, const cJSON *ts, const cJSON *vs)
{
	size_t add = (size_t)cJSON_GetArraySize(vs);
	if ((size_t)cJSON_GetArraySize(ts) < add)
		add = (size_t)cJSON_GetArraySize(ts);
	if (!add)
		return;
	s->ts = tp_xrealloc(s->ts, (s->n + add) * sizeof *s->ts);
	s->v = tp_xrealloc(s->v, (s->n + add) * sizeof *s->v);
	const cJSON *t = ts->child, *v = vs->child;
	for (size_t i = 0; i < add; i++, t = t->next, v = v->next) {
		s->ts[s->n] = cJSON_IsNumber(t) ? (int64_t)t->valuedouble : 0;
		s->v[s->n] = cJSON_IsNumber(v) ? v->valuedouble : 0;
		s->n++;
	}
}

/* One page of a chunk's answer into its series; the next token, if any. */
static int take_page(struct chunk *k, const cJSON *out, tp_err *e)
{
	const cJSON *r;
	cJSON_ArrayForEach(r, cJSON_GetObjectItem(out, "MetricDataResults")) {
		const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(r, "Id"));
		char *end = NULL;
		unsigned long i = id && id[0] == 'q' ? strtoul(id + 1, &end, 10) : (unsigned long)-1;
		if (!end || *end || i >= k->n)
			return tp_errf(e, TP_EINVAL, "BadResponse", "GetMetricData answered an unknown query id '%s'",
				       id ? id : "(none)");
		struct cw_series *s = &k->out[i];
		append_points(s, cJSON_GetObjectItem(r, "Timestamps"), cJSON_GetObjectItem(r, "Values"));
		const char *st = cJSON_GetStringValue(cJSON_GetObjectItem(r, "StatusCode"));
		if (st) {
			snprintf(s->status, sizeof s->status, "%s", st);
			s->partial = strcmp(st, "Complete") != 0;
		}
		const cJSON *m = cJSON_GetArrayItem(cJSON_GetObjectItem(r, "Messages"), 0);
		const char *mv = cJSON_GetStringValue(cJSON_GetObjectItem(m, "Value"));
		if (mv && !s->message[0])
			snprintf(s->message, sizeof s->message, "%s", mv);
	}
	free(k->token);
	k->token = NULL;
	const char *nt = cJSON_GetStringValue(cJSON_GetObjectItem(out, "NextToken"));
	if (nt && nt[0])
		k->token = tp_xstrdup(nt);
	else
		k->done = 1;
	return TP_OK;
}

int cw_get_metric_data(struct aws *a, const struct cw_query *q, size_t n, int64_t start_s, int64_t end_s,
		       struct cw_series **out, long *calls, tp_err *e)
{
	*out = n ? tp_xcalloc(n, sizeof **out) : NULL;
	if (calls)
		*calls = 0;
	if (!n)
		return TP_OK;
	if (end_s <= start_s)
		return tp_errf(e, TP_EINVAL, "BadTimeRange", "GetMetricData: end %lld is not after start %lld",
			       (long long)end_s, (long long)start_s);
	size_t nk = (n + CW_MAX_QUERIES_PER_CALL - 1) / CW_MAX_QUERIES_PER_CALL;
	struct chunk *k = tp_xcalloc(nk, sizeof *k);
	for (size_t i = 0; i < nk; i++) {
		k[i].q = q + i * CW_MAX_QUERIES_PER_CALL;
		k[i].out = *out + i * CW_MAX_QUERIES_PER_CALL;
		k[i].n = n - i * CW_MAX_QUERIES_PER_CALL < CW_MAX_QUERIES_PER_CALL ? n - i * CW_MAX_QUERIES_PER_CALL
										  : CW_MAX_QUERIES_PER_CALL;
	}
	struct aws_call *c = tp_xcalloc(nk, sizeof *c);
	struct chunk **open = tp_xcalloc(nk, sizeof *open);
	int rc = TP_OK;
	for (;;) {
		size_t no = 0;
		for (size_t i = 0; i < nk; i++)
			if (!k[i].done)
				open[no++] = &k[i];
		if (!no || rc < 0)
			break;
		for (size_t i = 0; i < no; i++)
			prep_chunk(&c[i], open[i], start_s, end_s);
		aws_call_many(a, c, no);
		if (calls)
			*calls += (long)no;
		for (size_t i = 0; i < no; i++) {
			cJSON *ans = awsj_result(&c[i]);
			if (!ans) {
				if (rc == TP_OK) {
					rc = c[i].rc < 0 ? c[i].rc : TP_EINVAL;
					*e = c[i].err;
					if (c[i].rc >= 0)
						tp_errf(e, rc, "BadResponse", "GetMetricData: the answer is not JSON");
				}
				open[i]->done = 1;
			} else {
				tp_err pe = { 0 };
				if (take_page(open[i], ans, &pe) < 0 && rc == TP_OK) {
					rc = pe.rc;
					*e = pe;
				}
			}
			cJSON_Delete(ans);
			aws_call_free(&c[i]);
		}
	}
	for (size_t i = 0; i < nk; i++)
		free(k[i].token);
	free(open);
	free(c);
	free(k);
	return rc;
}

void cw_series_free(struct cw_series *s, size_t n)
{
	if (!s)
		return;
	for (size_t i = 0; i < n; i++) {
		free(s[i].ts);
		free(s[i].v);
	}
	free(s);
}

double cw_series_sum(const struct cw_series *s)
{
	double t = 0;
	for (size_t i = 0; i < s->n; i++)
		t += s->v[i];
	return t;
}

double cw_series_max(const struct cw_series *s, double fallback)
{
	double m = fallback;
	for (size_t i = 0; i < s->n; i++)
		if (i == 0 || s->v[i] > m)
			m = s->v[i];
	return m;
}
