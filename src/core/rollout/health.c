/* health.c: judging a wave after its pause. The evidence is what Lambda
 * and SQS publish to CloudWatch for the window since the wave's updates
 * ended: per function Invocations, Errors and Throttles (AWS/Lambda, Sum)
 * and the growth of its DLQ's ApproximateNumberOfMessagesVisible (AWS/SQS,
 * Maximum), all in one GetMetricData request (up to 500 queries; more go
 * in more requests). The verdict is the policy's rollout_health; an
 * unhealthy wave is rolled back (rollback.c). */
#include "core/rollout/ro.h"
#include "base/settings_table.h"

#include "aws/cloudwatch.h"
#include "base/log.h"
#include "script/policy.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { M_INVOCATIONS, M_ERRORS, M_THROTTLES, M_DLQ, M_PER_FN };

/* Lambda sends its metrics to CloudWatch at one-minute granularity, and a
 * minute is visible only some time after it ends: the canary pause is five
 * minutes, so at least three whole minutes after the update are published
 * when it ends (docs/rollouts.md "Rollouts" has the reasoning). */
void ro_health_settings(struct ro_health_settings *hs)
{
	hs->canary_pause_s = (int)setting_long_or_warn(SET_CANARY_PAUSE_S);
	hs->wait_max_s = (int)setting_long_or_warn(SET_HEALTH_WAIT_MAX_S);
	hs->period_s = (int)setting_long_or_warn(SET_METRIC_PERIOD_S);
	if (hs->period_s < 1)
		hs->period_s = 1;
}

static int64_t align_up(int64_t t, int p)
{
	return (t + p - 1) / p * p;
}

/* The functions of wave w (those it updated or found current). */
static size_t wave_targets(struct ro *r, int w, struct ro_target **out)
{
	size_t n = 0;
	for (size_t i = 0; i < r->ts.n; i++)
		if (r->ts.t[i].wave == w && r->ts.t[i].status != RFN_GONE)
			out[n++] = &r->ts.t[i];
	return n;
}

/* Fill each result's metrics from one GetMetricData over [from, to). The
 * Lambda window starts at the first whole period after the updates (the
 * period before mixes the old code's invocations in); the DLQ one a period
 * earlier, for the depth before. A failed request leaves the window's
 * "error" set: no evidence, which the policy judges. */
static void evidence(struct ro *r, struct ro_target **ts, size_t n, int64_t from, int64_t to, int period,
		     cJSON *results, cJSON *window)
{
	int64_t start = align_up(from, period), dlq_start = from / period * period - period;
	if (to <= start) {
		cJSON_AddStringToObject(window, "error", "the window holds no whole metric period yet");
		return;
	}
	struct cw_query *q = tp_xcalloc(n * M_PER_FN + 1, sizeof *q);
	struct names *nm = tp_xcalloc(n + 1, sizeof *nm);
	for (size_t i = 0; i < n; i++) {
		names_for(r->app->set.prefix, ts[i]->pipeline, &nm[i], NULL);
		static const char *const lambda_metric[] = { "Invocations", "Errors", "Throttles" };
		for (int m = 0; m < M_DLQ; m++) {
			struct cw_query *x = &q[i * M_PER_FN + m];
			*x = (struct cw_query){ .ns = "AWS/Lambda", .metric = lambda_metric[m], .stat = "Sum",
						.period_s = period, .ndims = 1 };
			x->dim_name[0] = "FunctionName";
			x->dim_value[0] = ts[i]->function;
		}
		struct cw_query *d = &q[i * M_PER_FN + M_DLQ];
		*d = (struct cw_query){ .ns = "AWS/SQS", .metric = "ApproximateNumberOfMessagesVisible",
					.stat = "Maximum", .period_s = period, .ndims = 1 };
		d->dim_name[0] = "QueueName";
		d->dim_value[0] = nm[i].dlq;
	}
	/* one request for the Lambda metrics' window, one for the DLQs' (their
	 * windows differ); each carries up to 500 queries */
	struct cw_query *lq = tp_xcalloc(n * M_DLQ + 1, sizeof *lq), *dq = tp_xcalloc(n + 1, sizeof *dq);
	for (size_t i = 0; i < n; i++) {
		for (int m = 0; m < M_DLQ; m++)
			lq[i * M_DLQ + m] = q[i * M_PER_FN + m];
		dq[i] = q[i * M_PER_FN + M_DLQ];
	}
	struct cw_series *ls = NULL, *ds = NULL;
	long c1 = 0, c2 = 0;
	tp_err e1 = { 0 }, e2 = { 0 };
	int rc1 = cw_get_metric_data(r->app->aws, lq, n * M_DLQ, start, to, &ls, &c1, &e1);
	int rc2 = cw_get_metric_data(r->app->aws, dq, n, dlq_start, to, &ds, &c2, &e2);
	r->cw_calls += c1 + c2;
	if (rc1 < 0 || rc2 < 0) {
		const tp_err *fe = rc1 < 0 ? &e1 : &e2;
		char msg[400];
		snprintf(msg, sizeof msg, "GetMetricData failed: %.60s: %.300s", fe->code, fe->message);
		cJSON_AddStringToObject(window, "error", msg);
		log_warn("rollout %s: %s", r->id, msg);
	} else {
		cJSON *res = results->child;
		for (size_t i = 0; i < n && res; i++, res = res->next) {
			cJSON *m = cJSON_AddObjectToObject(res, "metrics");
			cJSON_AddNumberToObject(m, "invocations", cw_series_sum(&ls[i * M_DLQ + M_INVOCATIONS]));
			cJSON_AddNumberToObject(m, "errors", cw_series_sum(&ls[i * M_DLQ + M_ERRORS]));
			cJSON_AddNumberToObject(m, "throttles", cw_series_sum(&ls[i * M_DLQ + M_THROTTLES]));
			/* growth: the deepest point in the window over the depth before it
			 * (no point before: the DLQ was idle, SQS published nothing: 0) */
			const struct cw_series *s = &ds[i];
			double base = s->n && s->ts[0] < from ? s->v[0] : 0;
			double grew = cw_series_max(s, 0) - base;
			cJSON_AddNumberToObject(m, "dlq_growth", grew > 0 ? grew : 0);
			cJSON_AddStringToObject(m, "dlq", nm[i].dlq);
		}
	}
	cw_series_free(ls, n * M_DLQ);
	cw_series_free(ds, n);
	free(lq);
	free(dq);
	free(q);
	free(nm);
}

static void add_note(struct ro *r, int w, const char *note)
{
	size_t l = strlen(r->health_note);
	snprintf(r->health_note + l, sizeof r->health_note - l, "%swave %d: %s", l ? "; " : "", w + 1, note);
}

void ro_policy_ctx(struct ro *r)
{
	if (r->ctx_set)
		return;
	cJSON *ctx = app_policy_ctx_value(r->app);
	/* the health settings the default policy sizes its pauses and waits by */
	struct ro_health_settings hs;
	ro_health_settings(&hs);
	cJSON *ro = cJSON_AddObjectToObject(ctx, "rollout");
	cJSON_AddNumberToObject(ro, "canary_pause_s", hs.canary_pause_s);
	cJSON_AddNumberToObject(ro, "health_wait_max_s", hs.wait_max_s);
	cJSON_AddNumberToObject(ro, "metric_period_s", hs.period_s);
	policy_set_ctx(r->app->policy, ctx);
	cJSON_Delete(ctx);
	r->ctx_set = 1;
}

int health_judge(struct ro *r, int w, tp_err *e)
{
	const cJSON *wave = cJSON_GetArrayItem(r->plan, w);
	const cJSON *p = cJSON_GetObjectItem(wave, "pause_seconds");
	int halt = !cJSON_IsFalse(cJSON_GetObjectItem(wave, "halt_on_failure"));
	struct ro_health_settings hs;
	ro_health_settings(&hs);
	struct ro_target **ts = tp_xcalloc(r->ts.n + 1, sizeof *ts);
	size_t n = wave_targets(r, w, ts);
	cJSON *wv = cJSON_Duplicate(wave, 1), *results = cJSON_CreateArray();
	cJSON_AddNumberToObject(wv, "index", w);
	for (size_t i = 0; i < n; i++) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "pipeline", ts[i]->pipeline);
		cJSON_AddStringToObject(o, "function", ts[i]->function);
		cJSON_AddStringToObject(o, "status", rollout_fn_state_name(ts[i]->status));
		cJSON_AddStringToObject(o, "code_sha256", ts[i]->sha);
		cJSON_AddItemToArray(results, o);
	}
	/* A wave with a pause was watched: its window and evidence. One
	 * without was not: the policy sees no window. */
	int64_t now = tp_now_ms() / 1000;
	if (cJSON_IsNumber(p) && p->valuedouble > 0 && r->window_from > 0 && n) {
		cJSON *win = cJSON_AddObjectToObject(wv, "window");
		cJSON_AddNumberToObject(win, "from", (double)r->window_from);
		cJSON_AddNumberToObject(win, "to", (double)now);
		cJSON_AddNumberToObject(win, "seconds", (double)(now - r->window_from));
		cJSON_AddNumberToObject(win, "period", hs.period_s);
		evidence(r, ts, n, r->window_from, now, hs.period_s, results, win);
	}
	char why[512];
	int healthy = 1;
	tp_err pe = { 0 };
	ro_policy_ctx(r);
	int rc = policy_rollout_health(r->app->policy, wv, results, &healthy, why, sizeof why, &pe);
	cJSON_Delete(wv);
	cJSON_Delete(results);
	free(ts);
	if (rc < 0) { /* the verdict is unknown: halt (nothing is rolled back) */
		r->fail = pe;
		r->wave = w;
		ro_stop(r, ROLLOUT_HALTED);
		*e = pe;
		return rc;
	}
	if (healthy == POLICY_HEALTH_WAIT) {
		log_info("rollout %s: wave %d: no verdict yet (%s); looking again in %d s", r->id, w + 1,
			 why[0] ? why : "waiting for evidence", hs.period_s);
		r->next_at = now + hs.period_s;
		return TP_OK;
	}
	if (healthy) {
		if (why[0]) {
			add_note(r, w, why);
			log_info("rollout %s: wave %d healthy: %s", r->id, w + 1, why);
		}
		r->judged = w + 1;
		r->next_at = now;
		return TP_OK;
	}
	log_warn("rollout %s: wave %d unhealthy: %s", r->id, w + 1, why);
	if (!halt) {
		add_note(r, w, why);
		r->judged = w + 1;
		return TP_OK;
	}
	tp_errf(&r->fail, TP_EPOLICY, "HealthCheckFailed", "wave %d: %s", w + 1, why);
	r->fail_fn[0] = 0;
	r->wave = w; /* status shows the wave that failed as halted */
	tp_err re = { 0 };
	if (rollback_run(r, w, &re) < 0)
		log_warn("rollout %s: rollback: %s: %s", r->id, re.code, re.message);
	if (r->status != ROLLOUT_SUPERSEDED)
		ro_stop(r, ROLLOUT_HALTED);
	*e = r->fail;
	return TP_EPOLICY;
}
