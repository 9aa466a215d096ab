/* consume_metrics.c: the consumer layer's counters and their EMF line
 * (see consume_metrics.h). */
#include "runtime/consume_metrics.h"
#include "base/base.h"
#include "base/log.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_INTERVAL_S 60

void cm_init(struct cmetrics *m)
{
	memset(m, 0, sizeof *m);
	const char *mode = getenv("TASKPIPE_METRICS");
	if (emf_mode_parse(mode, &m->mode) < 0) {
		log_error("consume: TASKPIPE_METRICS=%.40s: not off, fleet or detailed; using fleet", mode);
		m->mode = EMF_FLEET;
	}
	const char *fn = getenv("AWS_LAMBDA_FUNCTION_NAME");
	snprintf(m->function, sizeof m->function, "%s", fn ? fn : "");
	m->interval_ms = DEFAULT_INTERVAL_S * 1000;
	const char *iv = getenv("TASKPIPE_METRICS_INTERVAL");
	if (iv && *iv) {
		char *end;
		long s = strtol(iv, &end, 10);
		if (*end || s < 0 || s > 3600)
			log_error("consume: TASKPIPE_METRICS_INTERVAL=%.40s: not 0..3600 seconds; using %d", iv,
				  DEFAULT_INTERVAL_S);
		else
			m->interval_ms = s * 1000;
	}
}

static void touch(struct cmetrics *m, int64_t now_ms)
{
	if (!m->opened_ms)
		m->opened_ms = now_ms;
	m->last_ms = now_ms;
}

static long long sent_ms(const cJSON *rec)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(rec, "attributes");
	const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a, "SentTimestamp"));
	return s ? strtoll(s, NULL, 10) : 0;
}

void cm_started(struct cmetrics *m, const cJSON *event, int64_t now_ms)
{
	if (m->mode == EMF_OFF)
		return;
	const cJSON *recs = cJSON_GetObjectItemCaseSensitive(event, "Records");
	int k = cJSON_IsArray(recs) && cJSON_GetArraySize(recs) > 0 ? cJSON_GetArraySize(recs) : 1;
	long long oldest = 0;
	const cJSON *r, *list = cJSON_IsArray(recs) ? recs : NULL;
	cJSON_ArrayForEach(r, list) {
		long long t = sent_ms(r);
		if (t > 0 && (!oldest || t < oldest))
			oldest = t;
	}
	if (m->n_wait == EMF_MAX_VALUES)
		cm_flush(m, now_ms, 1);   /* a line holds 100 samples */
	touch(m, now_ms);
	m->cur_records = k;
	m->started += k;
	if (oldest > 0)
		m->wait[m->n_wait++] = now_ms > oldest ? (double)(now_ms - oldest) : 0;
}

void cm_started_body(struct cmetrics *m, const char *body, size_t len, int64_t now_ms)
{
	if (m->mode == EMF_OFF)
		return;
	cJSON *ev = cJSON_ParseWithLength(body ? body : "", len);
	cm_started(m, ev, now_ms);
	cJSON_Delete(ev);
}

void cm_returned(struct cmetrics *m, int k, int64_t now_ms)
{
	if (m->mode == EMF_OFF)
		return;
	touch(m, now_ms);
	m->returned += k;
}

static int listed(const cJSON *list, const char *id)
{
	const cJSON *x;
	cJSON_ArrayForEach(x, list) {
		const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(x, "itemIdentifier"));
		if (v && strcmp(v, id) == 0)
			return 1;
	}
	return 0;
}

void cm_answer(struct cmetrics *m, const char *kind, const char *body, size_t len, int64_t now_ms)
{
	if (m->mode == EMF_OFF)
		return;
	touch(m, now_ms);
	if (strcmp(kind, "error") == 0) {
		m->errors += m->cur_records > 0 ? m->cur_records : 1;
	} else if (strcmp(kind, "response") == 0) {
		cJSON *a = cJSON_ParseWithLength(body ? body : "", len);
		const cJSON *limited = cJSON_GetObjectItemCaseSensitive(a, "rateLimited"), *f;
		cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(a, "batchItemFailures")) {
			const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(f, "itemIdentifier"));
			if (!id || !listed(limited, id))
				m->errors++;
		}
		m->rate_limited += cJSON_IsArray(limited) ? cJSON_GetArraySize(limited) : 0;
		cJSON_Delete(a);
	}
	m->cur_records = 0;
}

void cm_flush(struct cmetrics *m, int64_t now_ms, int force)
{
	if (m->mode == EMF_OFF || !m->opened_ms)
		return;
	/* One line covers an invocation's start and its outcome. Trouble
	 * (errors, pushback, records given back, a task that waited an
	 * interval or more) is written by the invocation that saw it: an
	 * instance Lambda reclaims after it never runs again to write it. */
	int trouble = m->errors || m->rate_limited || m->returned;
	for (size_t i = 0; i < m->n_wait && !trouble; i++)
		trouble = m->wait[i] >= (double)m->interval_ms;
	if (!force && (m->cur_records > 0 || (!trouble && now_ms - m->opened_ms < m->interval_ms)))
		return;
	struct emf_metric mx[] = {
		{ "TasksStarted", "Count", (double)m->started, NULL, 0 },
		{ "TasksRateLimited", "Count", (double)m->rate_limited, NULL, 0 },
		{ "TasksReturned", "Count", (double)m->returned, NULL, 0 },
		{ "HandlerErrors", "Count", (double)m->errors, NULL, 0 },
		{ "StartWait", "Milliseconds", 0, m->wait, m->n_wait },
	};
	/* StartWait without a sample (no SentTimestamp seen) is left out. */
	struct emf_doc d = { .timestamp_ms = m->last_ms, .metrics = mx, .n_metrics = m->n_wait ? 5 : 4,
			     .n_sets = 1 };
	d.sets[0][0] = NULL;   /* fleet: no dimension */
	if (m->mode == EMF_DETAILED && m->function[0]) {
		d.dims[0] = "FunctionName";
		d.dims[1] = m->function;
		d.sets[1][0] = "FunctionName";
		d.n_sets = 2;
	}
	emf_emit(&d);
	int cur = m->cur_records;
	enum emf_mode mode = m->mode;
	int64_t interval = m->interval_ms;
	char fn[sizeof m->function];
	memcpy(fn, m->function, sizeof fn);
	memset(m, 0, sizeof *m);
	m->mode = mode;
	m->interval_ms = interval;
	m->cur_records = cur;
	memcpy(m->function, fn, sizeof fn);
}

void cm_exit(struct cmetrics *m, int64_t now_ms)
{
	if (m->mode != EMF_OFF && m->cur_records > 0) {
		m->errors += m->cur_records;   /* the runtime exited holding them */
		m->cur_records = 0;
	}
	cm_flush(m, now_ms, 1);
}
