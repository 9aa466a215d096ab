/* fake_cloudwatch.c: the fake's CloudWatch, AWS JSON 1.0 (X-Amz-Target
 * GraniteServiceVersion20100801.<Op>, signing name "monitoring").
 *
 * Datapoints come from the services (fake_cloudwatch_put: the fake SQS
 * publishes its AWS/SQS metrics, the fake Lambda its AWS/Lambda ones) and
 * from PutMetricData; GetMetricData, the one call taskpipe makes
 * (aws/cloudwatch.c), answers MetricStat queries with the statistic of
 * each period that has points (periods aligned to multiples of Period since
 * the epoch, as taskpipe aligns its windows), MaxDatapoints pages with
 * NextToken, ScanBy either way. Series live in a hash map keyed by
 * namespace, metric and dimensions.
 * API reference: https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricData.html
 *
 * Not modelled (refused, naming them): metric math (Expression), Counts and
 * StatisticValues in PutMetricData. Quotas: GetMetricData 50/s,
 * PutMetricData 500/s ("CloudWatch service quotas"), throttled with 400
 * Throttling. */
#include "fake/fake_int.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QUERIES_MAX 500
#define PUT_MAX 1000
#define DIMS_MAX 30
#define DEFAULT_MAX_POINTS 100800

struct series {
	struct series *next;        /* hash chain */
	char *key;                  /* ns \x1f metric \x1f name=value \x1f ... (dims sorted) */
	size_t n, cap;
	int64_t *ts_ms;
	double *v;
};

struct fake_cloudwatch {
	struct series **bucket;
	size_t nbucket, n;
	long points;
};

void fake_cloudwatch_free(struct fake_cloudwatch *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->nbucket; i++)
		for (struct series *s = c->bucket[i], *n; s; s = n) {
			n = s->next;
			free(s->key);
			free(s->ts_ms);
			free(s->v);
			free(s);
		}
	free(c->bucket);
	free(c);
}

static uint64_t key_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static struct series *series_get(struct fake *f, const char *key, int create)
{
	if (!f->cw) {
		if (!create)
			return NULL;
		f->cw = tp_xcalloc(1, sizeof *f->cw);
		f->cw->nbucket = 256;
		f->cw->bucket = tp_xcalloc(f->cw->nbucket, sizeof *f->cw->bucket);
	}
	struct fake_cloudwatch *c = f->cw;
	for (struct series *s = c->bucket[key_hash(key) & (c->nbucket - 1)]; s; s = s->next)
		if (strcmp(s->key, key) == 0)
			return s;
	if (!create)
		return NULL;
	if (c->n + 1 > c->nbucket) {
		size_t nb = c->nbucket * 2;
		struct series **b = tp_xcalloc(nb, sizeof *b);
		for (size_t i = 0; i < c->nbucket; i++)
			for (struct series *s = c->bucket[i], *n; s; s = n) {
				n = s->next;
				size_t k = key_hash(s->key) & (nb - 1);
				s->next = b[k];
				b[k] = s;
			}
		free(c->bucket);
		c->bucket = b;
		c->nbucket = nb;
	}
	struct series *s = tp_xcalloc(1, sizeof *s);
	s->key = tp_xstrdup(key);
	size_t k = key_hash(key) & (c->nbucket - 1);
	s->next = c->bucket[k];
	c->bucket[k] = s;
	c->n++;
	return s;
}

static void series_add(struct fake *f, const char *key, int64_t ts_ms, double v)
{
	struct series *s = series_get(f, key, 1);
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 4;
		s->ts_ms = tp_xrealloc(s->ts_ms, s->cap * sizeof *s->ts_ms);
		s->v = tp_xrealloc(s->v, s->cap * sizeof *s->v);
	}
	s->ts_ms[s->n] = ts_ms;
	s->v[s->n++] = v;
	f->cw->points++;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(*(const cJSON *const *)a, "Name")),
		      cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(*(const cJSON *const *)b, "Name")));
}

/* The series key of (ns, metric, dims [{"Name","Value"}]); NULL when a
 * dimension is malformed or there are too many. */
static char *key_of(const char *ns, const char *metric, const cJSON *dims)
{
	int n = cJSON_GetArraySize(dims);
	if (dims && !cJSON_IsArray(dims))
		return NULL;
	if (n > DIMS_MAX)
		return NULL;
	const cJSON *d[DIMS_MAX + 1], *x;
	int k = 0;
	cJSON_ArrayForEach(x, dims) {
		if (!cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(x, "Name")) ||
		    !cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(x, "Value")))
			return NULL;
		d[k++] = x;
	}
	qsort(d, (size_t)k, sizeof d[0], by_name);
	buf b = { 0 };
	buf_addf(&b, "%s\x1f%s", ns, metric);
	for (int i = 0; i < k; i++)
		buf_addf(&b, "\x1f%s=%s", cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d[i], "Name")),
			 cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d[i], "Value")));
	return buf_steal(&b);
}

void fake_cloudwatch_put(struct fake *f, const char *ns, const char *metric, const char *dim_name,
			 const char *dim_value, int64_t ts_ms, double value)
{
	char *key = dim_name ? tp_xasprintf("%s\x1f%s\x1f%s=%s", ns, metric, dim_name, dim_value)
			     : tp_xasprintf("%s\x1f%s", ns, metric);
	series_add(f, key, ts_ms, value);
	free(key);
}

/* ---- errors ---- */

static int cw_error(struct http_response *out, const char *type, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int cw_error(struct http_response *out, const char *type, const char *code, const char *fmt, ...)
{
	char msg[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	fake_reply_error(out, 400, type, "%s", msg);
	buf_addf(&out->headers, "x-amzn-query-error: %s;Sender\r\n", code);
	return 0;
}

#define BAD(out, ...) cw_error(out, "InvalidParameterValueException", "InvalidParameterValue", __VA_ARGS__)
#define MISSING(out, what) cw_error(out, "MissingRequiredParameterException", "MissingParameter", \
				    "The parameter %s is required.", what)

static int only_known(struct http_response *out, const char *where, const cJSON *in, const char *const *known)
{
	const cJSON *it;
	cJSON_ArrayForEach(it, in) {
		size_t i = 0;
		while (known[i] && strcmp(known[i], it->string) != 0)
			i++;
		if (!known[i]) {
			BAD(out, "the fake's CloudWatch does not know parameter %s of %s", it->string, where);
			return 0;
		}
	}
	return 1;
}

/* ---- PutMetricData ---- */

static int put_metric_data(struct fake *f, const cJSON *in, struct http_response *out)
{
	static const char *const known[] = { "Namespace", "MetricData", NULL };
	static const char *const known_datum[] = { "MetricName", "Dimensions", "Timestamp", "Value", "Values",
						   "Unit", "StorageResolution", NULL };
	if (!only_known(out, "PutMetricData", in, known))
		return 0;
	const char *ns = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(in, "Namespace"));
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(in, "MetricData"), *d;
	if (!ns)
		return MISSING(out, "Namespace");
	if (strncmp(ns, "AWS/", 4) == 0)
		return BAD(out, "The value AWS/ for parameter Namespace is invalid.");
	if (!cJSON_IsArray(data) || !cJSON_GetArraySize(data))
		return MISSING(out, "MetricData");
	if (cJSON_GetArraySize(data) > PUT_MAX)
		return BAD(out, "The collection MetricData must not have a size greater than %d.", PUT_MAX);
	int64_t now = fake_now_ms_int(f);
	/* check every datum before storing any: a refused request stores nothing */
	cJSON_ArrayForEach(d, data) {
		if (!only_known(out, "a MetricDatum", d, known_datum))
			return 0;
		const char *metric = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "MetricName"));
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(d, "Value");
		const cJSON *vs = cJSON_GetObjectItemCaseSensitive(d, "Values");
		const cJSON *ts = cJSON_GetObjectItemCaseSensitive(d, "Timestamp");
		char *key = metric ? key_of(ns, metric, cJSON_GetObjectItemCaseSensitive(d, "Dimensions")) : NULL;
		free(key);
		if (!metric)
			return MISSING(out, "MetricData.member.MetricName");
		if (!key)
			return BAD(out, "Dimensions of %s: at most %d, each with a Name and a Value", metric, DIMS_MAX);
		if ((v && !cJSON_IsNumber(v)) || (vs && !cJSON_IsArray(vs)) || (!v && !vs) || (v && vs))
			return BAD(out, "%s: give one numeric Value or a list of Values", metric);
		if (ts && !cJSON_IsNumber(ts))
			return BAD(out, "%s: Timestamp is epoch seconds", metric);
		/* CloudWatch takes points up to two weeks old and two hours ahead */
		if (ts && (ts->valuedouble * 1000 < (double)(now - 14LL * 86400000) ||
			   ts->valuedouble * 1000 > (double)(now + 7200000)))
			return BAD(out, "The parameter MetricData.member.Timestamp of %s must specify a time no more "
				   "than two weeks in the past and no more than two hours in the future.", metric);
	}
	cJSON_ArrayForEach(d, data) {
		const char *metric = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "MetricName"));
		const cJSON *ts = cJSON_GetObjectItemCaseSensitive(d, "Timestamp"), *x;
		int64_t at = ts ? (int64_t)(ts->valuedouble * 1000) : now;
		char *key = key_of(ns, metric, cJSON_GetObjectItemCaseSensitive(d, "Dimensions"));
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(d, "Value");
		if (v)
			series_add(f, key, at, v->valuedouble);
		cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(d, "Values"))
			series_add(f, key, at, cJSON_GetNumberValue(x));
		free(key);
	}
	fake_reply_json(out, 200, NULL);
	return 0;
}

/* ---- GetMetricData ---- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* The statistic of v[0..n) (n > 0); stat already checked. */
static double statistic(const char *stat, double *v, size_t n)
{
	double sum = 0, mx = v[0], mn = v[0];
	for (size_t i = 0; i < n; i++) {
		sum += v[i];
		mx = v[i] > mx ? v[i] : mx;
		mn = v[i] < mn ? v[i] : mn;
	}
	if (strcmp(stat, "Sum") == 0)
		return sum;
	if (strcmp(stat, "Maximum") == 0)
		return mx;
	if (strcmp(stat, "Minimum") == 0)
		return mn;
	if (strcmp(stat, "Average") == 0)
		return sum / (double)n;
	if (strcmp(stat, "SampleCount") == 0)
		return (double)n;
	/* pNN: the nearest-rank percentile */
	double p = strtod(stat + 1, NULL);
	qsort(v, n, sizeof *v, cmp_double);
	size_t rank = (size_t)ceil(p / 100.0 * (double)n);
	return v[rank ? rank - 1 : 0];
}

static int stat_valid(const char *s)
{
	static const char *const named[] = { "Sum", "Maximum", "Minimum", "Average", "SampleCount", NULL };
	for (size_t i = 0; s && named[i]; i++)
		if (strcmp(s, named[i]) == 0)
			return 1;
	if (!s || s[0] != 'p' || !s[1])
		return 0;
	char *end;
	double p = strtod(s + 1, &end);
	return !*end && p >= 0 && p <= 100;
}

static int id_valid(const char *id)
{
	if (!id || !(id[0] >= 'a' && id[0] <= 'z') || strlen(id) > 255)
		return 0;
	for (const char *p = id; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_'))
			return 0;
	return 1;
}

/* One query's periods with points in [start_s, end_s): timestamps and values, ascending. */
struct result {
	size_t n;
	int64_t *ts;
	double *v;
};

static void run_query(struct fake *f, const char *key, int period, const char *stat, int64_t start_s,
		      int64_t end_s, struct result *r)
{
	memset(r, 0, sizeof *r);
	struct series *s = series_get(f, key, 0);
	if (!s || !s->n)
		return;
	/* the points in the window, by time */
	size_t m = 0;
	int64_t *ts = tp_xcalloc(s->n, sizeof *ts);
	double *v = tp_xcalloc(s->n, sizeof *v);
	size_t *ord = tp_xcalloc(s->n, sizeof *ord);
	for (size_t i = 0; i < s->n; i++)
		if (s->ts_ms[i] >= start_s * 1000 && s->ts_ms[i] < end_s * 1000)
			ord[m++] = i;
	/* points come mostly in order: an insertion sort by time */
	for (size_t i = 1; i < m; i++)
		for (size_t k = i; k > 0 && s->ts_ms[ord[k - 1]] > s->ts_ms[ord[k]]; k--) {
			size_t t = ord[k];
			ord[k] = ord[k - 1];
			ord[k - 1] = t;
		}
	double *bucket = tp_xcalloc(m + 1, sizeof *bucket);
	r->ts = ts;
	r->v = v;
	for (size_t i = 0; i < m;) {
		int64_t b = s->ts_ms[ord[i]] / 1000 / period * period;
		size_t k = 0;
		while (i < m && s->ts_ms[ord[i]] / 1000 / period * period == b)
			bucket[k++] = s->v[ord[i++]];
		ts[r->n] = b;
		v[r->n++] = statistic(stat, bucket, k);
	}
	free(bucket);
	free(ord);
}

static int get_metric_data(struct fake *f, const cJSON *in, struct http_response *out)
{
	static const char *const known[] = { "MetricDataQueries", "StartTime", "EndTime", "NextToken",
					     "ScanBy", "MaxDatapoints", "LabelOptions", NULL };
	static const char *const known_q[] = { "Id", "MetricStat", "ReturnData", "Label", "Period", NULL };
	if (!only_known(out, "GetMetricData", in, known))
		return 0;
	const cJSON *qs = cJSON_GetObjectItemCaseSensitive(in, "MetricDataQueries"), *q;
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(in, "StartTime");
	const cJSON *et = cJSON_GetObjectItemCaseSensitive(in, "EndTime");
	const cJSON *mp = cJSON_GetObjectItemCaseSensitive(in, "MaxDatapoints");
	const char *scan = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(in, "ScanBy"));
	const char *tok = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(in, "NextToken"));
	if (!cJSON_IsArray(qs) || !cJSON_GetArraySize(qs))
		return MISSING(out, "MetricDataQueries");
	if (cJSON_GetArraySize(qs) > QUERIES_MAX)
		return BAD(out, "The collection MetricDataQueries must not have a size greater than %d.", QUERIES_MAX);
	if (!st || !et)
		return MISSING(out, st ? "EndTime" : "StartTime");
	if (!cJSON_IsNumber(st) || !cJSON_IsNumber(et))
		return BAD(out, "StartTime and EndTime are epoch seconds");
	if (et->valuedouble <= st->valuedouble)
		return BAD(out, "The parameter StartTime must be less than the parameter EndTime.");
	if (scan && strcmp(scan, "TimestampAscending") != 0 && strcmp(scan, "TimestampDescending") != 0)
		return BAD(out, "The value %s for parameter ScanBy is invalid.", scan);
	if (mp && (!cJSON_IsNumber(mp) || mp->valuedouble < 1))
		return BAD(out, "MaxDatapoints must be a positive integer");
	long skip = 0;
	if (tok) {
		int used = 0;
		if (sscanf(tok, "fake-next-%ld%n", &skip, &used) != 1 || tok[used] || skip < 0)
			return cw_error(out, "InvalidNextToken", "InvalidNextToken", "The service couldn't process the "
					"NextToken.");
	}
	int n = cJSON_GetArraySize(qs), i = 0;
	const char **ids = tp_xcalloc((size_t)n, sizeof *ids);
	cJSON_ArrayForEach(q, qs) {
		const cJSON *ms = cJSON_GetObjectItemCaseSensitive(q, "MetricStat");
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(ms, "Metric");
		const cJSON *per = cJSON_GetObjectItemCaseSensitive(ms, "Period");
		const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(q, "Id"));
		const char *err = NULL;
		if (!only_known(out, "a MetricDataQuery", q, known_q))
			err = "";
		else if (!id_valid(id))
			err = "Id must start with a lower-case letter and hold only letters, digits and _";
		else if (!ms)
			err = "the fake's CloudWatch answers MetricStat queries only (no Expression)";
		else if (!cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "Namespace")) ||
			 !cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "MetricName")))
			err = "MetricStat.Metric needs a Namespace and a MetricName";
		else if (!cJSON_IsNumber(per) || per->valuedouble < 1 ||
			 !((int)per->valuedouble % 60 == 0 || per->valuedouble == 1 || per->valuedouble == 5 ||
			   per->valuedouble == 10 || per->valuedouble == 30))
			err = "Period must be 1, 5, 10, 30 or a multiple of 60";
		else if (!stat_valid(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ms, "Stat"))))
			err = "Stat must be Sum, Maximum, Minimum, Average, SampleCount or pNN";
		for (int k = 0; !err && k < i; k++)
			if (strcmp(ids[k], id) == 0)
				err = "Ids must be unique";
		if (err) {
			if (*err)
				BAD(out, "MetricDataQueries[%d]: %s", i, err);
			free(ids);
			return 0;
		}
		ids[i++] = id;
	}
	free(ids);
	long max = mp ? (long)mp->valuedouble : DEFAULT_MAX_POINTS, pos = 0, given = 0;
	int desc = !scan || strcmp(scan, "TimestampDescending") == 0;
	int64_t s0 = (int64_t)st->valuedouble, s1 = (int64_t)et->valuedouble;
	cJSON *res = cJSON_CreateObject(), *list = cJSON_AddArrayToObject(res, "MetricDataResults");
	int more = 0;
	cJSON_ArrayForEach(q, qs) {
		const cJSON *ms = cJSON_GetObjectItemCaseSensitive(q, "MetricStat");
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(ms, "Metric");
		const cJSON *rd = cJSON_GetObjectItemCaseSensitive(q, "ReturnData");
		if (rd && cJSON_IsFalse(rd))
			continue;
		const char *metric = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "MetricName"));
		char *key = key_of(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "Namespace")), metric,
				   cJSON_GetObjectItemCaseSensitive(m, "Dimensions"));
		if (!key) {
			cJSON_Delete(res);
			return BAD(out, "Dimensions of %s: at most %d, each with a Name and a Value", metric, DIMS_MAX);
		}
		struct result r;
		run_query(f, key, (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(ms, "Period")),
			  cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ms, "Stat")), s0, s1, &r);
		free(key);
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "Id", cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(q, "Id")));
		const char *label = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(q, "Label"));
		cJSON_AddStringToObject(o, "Label", label ? label : metric);
		cJSON *ta = cJSON_AddArrayToObject(o, "Timestamps"), *va = cJSON_AddArrayToObject(o, "Values");
		int cut = 0;
		for (size_t k = 0; k < r.n; k++, pos++) {
			size_t at = desc ? r.n - 1 - k : k;
			if (pos < skip)
				continue;
			if (given == max) {
				cut = more = 1;
				break;
			}
			cJSON_AddItemToArray(ta, cJSON_CreateNumber((double)r.ts[at]));
			cJSON_AddItemToArray(va, cJSON_CreateNumber(r.v[at]));
			given++;
		}
		cJSON_AddStringToObject(o, "StatusCode", cut ? "PartialData" : "Complete");
		cJSON_AddArrayToObject(o, "Messages");
		cJSON_AddItemToArray(list, o);
		free(r.ts);
		free(r.v);
		if (cut)
			break;
	}
	if (more) {
		char next[48];
		snprintf(next, sizeof next, "fake-next-%ld", skip + given);
		cJSON_AddStringToObject(res, "NextToken", next);
	}
	cJSON_AddArrayToObject(res, "Messages");
	fake_reply_json(out, 200, res);
	return 0;
}

int fake_cloudwatch_handle(struct fake *f, struct fake_req *r, struct http_response *out)
{
	int get = strcmp(r->target, "GraniteServiceVersion20100801.GetMetricData") == 0;
	int put = strcmp(r->target, "GraniteServiceVersion20100801.PutMetricData") == 0;
	if (!get && !put) {
		fake_reply_error(out, 400, "UnknownOperationException", "the fake's CloudWatch has no operation '%s'",
				 r->op[0] ? r->op : r->target);
		return 0;
	}
	int64_t after;
	if (fake_quota(f, get ? "monitoring.get" : "monitoring.put", get ? 50 : 500, get ? 50 : 500, &after)) {
		fake_reply_throttled(f, r, out, "Throttling", after);
		buf_adds(&out->headers, "x-amzn-query-error: Throttling;Sender\r\n");
		return 0;
	}
	cJSON *in = cJSON_ParseWithLength(r->body, r->body_len);
	if (!cJSON_IsObject(in))
		BAD(out, "%s: the body is not a JSON object", r->op);
	else if (get)
		get_metric_data(f, in, out);
	else
		put_metric_data(f, in, out);
	cJSON_Delete(in);
	return 0;
}
