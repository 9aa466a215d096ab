/* events.c: handle an incoming event, once evclass.c has classified it (see events.h). */
#include "runtime/events.h"
#include "runtime/evclass.h"
#include "runtime/drift_json.h"
#include "runtime/rolloutjson.h"
#include "runtime/ctl_metrics.h"

#include "aws/awsjson.h"
#include "aws/ddb.h"
#include "core/lease.h"
#include "core/limit_group.h"
#include "core/rollout/rollout.h"
#include "runtime/rec_json.h"
#include "base/log.h"
#include "script/policy.h"
#include "base/retry.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static const char *str_at(const cJSON *o, const char *k)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

/* Leases outlive the deadline a little (the process may be frozen, not
 * dead) and never a capped length: lease_ttl_for; reconcile renews them. */
static int lease_ttl(const struct ev_opts *o)
{
	if (o && o->lease_ttl_s > 0)
		return o->lease_ttl_s;
	return lease_ttl_for(tp_now_ms(), o ? o->deadline_ms : 0, lease_ttl_cap_s());
}

int events_reconcile(struct app *app, const struct ev_reconcile *w, const struct ev_opts *o,
		     struct rec_result **out, size_t *n_out, tp_err *e)
{
	/* reconcile_run dedupes, leases what it changes and stops at the deadline. */
	struct reconcile_opts ro = { .plan = w->plan, .force = w->force || w->plan };
	ro.holder = o ? o->holder : NULL;
	ro.lease_ttl_s = lease_ttl(o);
	ro.deadline_ms = o ? o->deadline_ms : 0;
	ro.reserve_ms = o ? o->reserve_ms : 0;
	return reconcile_run(app, w->names, w->n, w->all, &ro, out, n_out, e);
}

/* ---- DynamoDB stream batch ---- */

int events_transient(const tp_err *e)
{
	return reconcile_retryable_code(e->code) || e->rc == TP_EIO ||
	       retry_classify(e->status, e->code[0] ? e->code : NULL, 0) != RETRY_NO;
}

int events_stream_batch(struct app *app, const cJSON *records, const struct ev_opts *o, cJSON **failed,
			tp_err *e)
{
	return events_stream_batch_detail(app, records, o, failed, NULL, e);
}

static void add_error(cJSON *errors, const char *seq, const char *pipeline, const tp_err *e)
{
	if (!errors)
		return;
	cJSON *x = cJSON_AddObjectToObject(errors, seq);
	cJSON_AddStringToObject(x, "pipeline", pipeline ? pipeline : "");
	cJSON_AddStringToObject(x, "code", e->code);
	cJSON_AddStringToObject(x, "message", e->message);
	cJSON_AddBoolToObject(x, "transient", events_transient(e));
}

int events_stream_batch_detail(struct app *app, const cJSON *records, const struct ev_opts *o,
			       cJSON **failed, cJSON **errors, tp_err *e)
{
	size_t n = (size_t)cJSON_GetArraySize(records);
	const char **seq = tp_xcalloc(n + 1, sizeof *seq);   /* borrowed from records */
	char **key = tp_xcalloc(n + 1, sizeof *key);         /* borrowed; NULL: unusable */
	char **names = tp_xcalloc(n + 1, sizeof *names);
	size_t nn = 0, i = 0;
	*failed = cJSON_CreateArray();
	if (errors)
		*errors = cJSON_CreateObject();
	const cJSON *r;
	int rc = TP_OK;
	cJSON_ArrayForEach(r, records) {
		const cJSON *d = cJSON_GetObjectItemCaseSensitive(r, "dynamodb");
		seq[i] = str_at(d, "SequenceNumber");
		if (!seq[i] || !seq[i][0]) {
			/* It cannot be named in batchItemFailures; failing the
			 * invocation makes Lambda retry the whole batch. */
			rc = tp_errf(e, TP_EINVAL, "BadRecord", "stream record %zu has no dynamodb.SequenceNumber", i);
			goto done;
		}
		const cJSON *k = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(d, "Keys"),
								  "pipeline");
		const char *name = str_at(k, "S");
		if (!name || !name[0]) {
			log_msg(LOG_ERROR, NULL, "stream record %s: no string key \"pipeline\" in dynamodb.Keys; "
				"failing the record", seq[i]);
		} else {
			key[i] = (char *)name;
			names[nn++] = (char *)name;
		}
		i++;
	}
	struct rec_result *res = NULL;
	size_t nr = 0;
	struct ev_reconcile w = { .names = names, .n = nn };
	if ((rc = events_reconcile(app, &w, o, &res, &nr, e)) < 0)
		goto done;
	for (size_t j = 0; j < i; j++) {
		int bad = !key[j];
		tp_err be = { 0 };
		if (bad)
			tp_errf(&be, TP_EINVAL, "BadRecord", "stream record %s has no string key \"pipeline\"",
				seq[j]);
		/* A limit group's record brought in its members (limit_group.h):
		 * a member left for later (a deadline, a throttle) retries it. */
		int group = !bad && limit_group_key_is(key[j]);
		for (size_t k = 0; !bad && k < nr; k++)
			if (res[k].rc != TP_OK && (strcmp(res[k].name, key[j]) == 0 || (group && res[k].retryable))) {
				bad = 1;
				be = res[k].err;
			}
		if (bad) {
			cJSON_AddItemToArray(*failed, cJSON_CreateString(seq[j]));
			add_error(errors ? *errors : NULL, seq[j], key[j], &be);
		}
	}
	for (size_t k = 0; k < nr; k++) {
		const char *fields[] = { "pipeline", res[k].name, "action", reconcile_action_name(res[k].action),
					 NULL };
		if (res[k].rc != TP_OK)
			log_msg(LOG_ERROR, fields, "%s: %s: %.300s", res[k].name, res[k].err.code, res[k].err.message);
		else
			log_msg(LOG_INFO, fields, "%s: %s, %d changes", res[k].name,
				reconcile_action_name(res[k].action), res[k].changes);
	}
	ctlm_reconcile(app->set.owner, res, nr);
	reconcile_results_free(res, nr);
done:
	if (rc < 0) {
		cJSON_Delete(*failed);
		*failed = NULL;
		if (errors) {
			cJSON_Delete(*errors);
			*errors = NULL;
		}
	}
	free(seq);
	free(key);
	free(names);
	return rc;
}

/* ---- SNS-wrapped S3 notifications ---- */

int events_code_changed(struct app *app, const char *bucket, const char *key, const char *version,
			const struct ev_opts *o, cJSON **outcome, tp_err *e)
{
	struct rollout_result res;
	int rc = rollout_on_upload_until(app, bucket, key, version, o ? o->deadline_ms : 0, &res, e);
	if (res.uri) {
		ctlm_rollouts(app->set.owner, &res, 1);
		*outcome = rolloutjson_result(&res);
	} else {
		*outcome = cJSON_CreateObject();
		char *uri = tp_xasprintf("s3://%s/%s", bucket, key);
		cJSON_AddStringToObject(*outcome, "rollout", uri);
		free(uri);
	}
	rollout_result_free(&res);
	if (rc < 0) {
		cJSON *f = cJSON_AddObjectToObject(*outcome, "error");
		cJSON_AddStringToObject(f, "code", e->code);
		cJSON_AddStringToObject(f, "message", e->message);
	}
	return rc;
}

/* Every ObjectCreated record starts (or resumes, or supersedes) the rollout
 * of that object. A halted rollout is a result to report, not a reason for
 * SNS to redeliver: the answer lists each outcome and succeeds. */
static int handle_sns(struct app *app, const cJSON *records, const struct ev_opts *o, cJSON **resp,
		      tp_err *e)
{
	int changes = 0;
	cJSON *outcomes = cJSON_CreateArray();
	const cJSON *r;
	cJSON_ArrayForEach(r, records) {
		const char *msg = str_at(cJSON_GetObjectItemCaseSensitive(r, "Sns"), "Message");
		cJSON *m = msg ? cJSON_Parse(msg) : NULL;
		const cJSON *s3r;
		if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(m, "Records")))
			log_info("SNS message without S3 records (e.g. s3:TestEvent): acknowledged");
		cJSON_ArrayForEach(s3r, cJSON_GetObjectItemCaseSensitive(m, "Records")) {
			const char *src = str_at(s3r, "eventSource"), *name = str_at(s3r, "eventName");
			const cJSON *s3 = cJSON_GetObjectItemCaseSensitive(s3r, "s3");
			const cJSON *obj = cJSON_GetObjectItemCaseSensitive(s3, "object");
			const char *bucket = str_at(cJSON_GetObjectItemCaseSensitive(s3, "bucket"), "name");
			const char *key = str_at(obj, "key");
			if (!src || strcmp(src, "aws:s3") != 0 || !name || !tp_startswith(name, "ObjectCreated") ||
			    !bucket || !key) {
				log_info("SNS record: not an S3 ObjectCreated record; ignored");
				continue;
			}
			const char *why = NULL;
			char *k = evclass_s3_key_decode(key, &why);
			if (!k) {
				/* this record is refused by name; the others go on */
				log_warn("SNS record: S3 key \"%.200s\" of bucket %.100s holds %s; record refused", key, bucket,
					 why);
				cJSON *bad = cJSON_CreateObject();
				char *uri = tp_xasprintf("s3://%s/%s", bucket, key);
				cJSON_AddStringToObject(bad, "rollout", uri);
				free(uri);
				cJSON *f = cJSON_AddObjectToObject(bad, "error");
				cJSON_AddStringToObject(f, "code", "BadRecord");
				char *text = tp_xasprintf("the S3 object key holds %s: not decoded, nothing rolled out", why);
				cJSON_AddStringToObject(f, "message", text);
				free(text);
				cJSON_AddItemToArray(outcomes, bad);
				continue;
			}
			cJSON *outcome = NULL;
			tp_err re = { 0 };
			if (events_code_changed(app, bucket, k, str_at(obj, "versionId"), o, &outcome, &re) < 0)
				log_warn("rollout of s3://%s/%s: %s: %s", bucket, k, re.code, re.message);
			cJSON_AddItemToArray(outcomes, outcome);
			free(k);
			changes++;
		}
		cJSON_Delete(m);
	}
	*resp = cJSON_CreateObject();
	cJSON_AddNumberToObject(*resp, "code_changes", changes);
	cJSON_AddItemToObject(*resp, "rollouts", outcomes);
	(void)e;
	return TP_OK;
}

/* ---- reconcile answers ---- */

static cJSON *results_doc(struct app *app, struct rec_result *res, size_t nr)
{
	cJSON *doc = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(doc, "pipelines");
	int errors = 0, changes = 0;
	for (size_t i = 0; i < nr; i++) {
		errors += res[i].rc != TP_OK;
		changes += res[i].rc == TP_OK && res[i].changes > 0;
		cJSON_AddItemToArray(arr, rec_result_json(&res[i]));
	}
	cJSON_AddNumberToObject(doc, "errors", errors);
	cJSON_AddNumberToObject(doc, "changed", changes);
	return doc;
}

static int apply_all(struct app *app, const struct ev_opts *o, cJSON **resp, tp_err *e)
{
	struct rec_result *res = NULL;
	size_t nr = 0;
	int rc = events_reconcile(app, &(struct ev_reconcile){ .all = 1 }, o, &res, &nr, e);
	if (rc == TP_OK) {
		ctlm_reconcile(app->set.owner, res, nr);
		*resp = results_doc(app, res, nr);
	}
	reconcile_results_free(res, nr);
	return rc;
}

/* Drift pipelines per scheduled invocation: at AWS's 15 Lambda requests/s a
 * check of 2,000 costs 2000/50 + 2000/100 list calls, seconds of budget,
 * and its repairs fit a 15-minute invocation; the cursor carries the rest. */
#define SCHEDULED_DRIFT_PIPELINES 2000

int events_scheduled(struct app *app, const struct ev_opts *o, cJSON **resp, tp_err *e)
{
	log_info("scheduled run: drift check with repair, then unfinished rollouts");
	/* The repair runs within this invocation's deadline, under its own
	 * holder id (the runtime's, with the request id). */
	struct drift_opts d = { .fix = 1, .max_pipelines = SCHEDULED_DRIFT_PIPELINES };
	if (o) {
		d.deadline_ms = o->deadline_ms;
		d.reserve_ms = o->reserve_ms;
		d.holder = o->holder;
		d.lease_ttl_s = o->lease_ttl_s;
	}
	struct drift_report dr;
	int rc = drift_run(app, &d, &dr, e);
	if (rc < 0)
		return rc;
	ctlm_drift(app->set.owner, &dr);
	cJSON *doc = cJSON_CreateObject();
	cJSON_AddItemToObject(doc, "drift", drift_json(&dr));
	drift_report_free(&dr);
	/* A rollout cut off by an earlier invocation's deadline continues here. */
	struct rollout_opts ro = { .deadline_ms = o ? o->deadline_ms : 0 };
	tp_err re = { 0 };
	struct rollout_result *rs = NULL;
	size_t nrs = 0;
	if (rollout_resume(app, NULL, NULL, &ro, &rs, &nrs, &re) < 0)
		log_warn("resuming rollouts failed: %s: %s", re.code, re.message);
	ctlm_rollouts(app->set.owner, rs, nrs);
	cJSON_AddItemToObject(doc, "rollouts", rolloutjson_results(rs, nrs));
	rollout_results_free(rs, nrs);
	*resp = doc;
	return TP_OK;
}

/* {"taskpipe":"apply"|"plan", "pipelines":[...]}: classified by evclass. */
static int handle_direct(struct app *app, const struct ev_class *c, const struct ev_opts *o, cJSON **resp,
			 tp_err *e)
{
	if (c->kind == EV_APPLY_ALL)
		return apply_all(app, o, resp, e);
	int plan = c->kind == EV_PLAN;
	struct rec_result *res = NULL;
	size_t nr = 0;
	struct ev_reconcile w = {
		.names = c->names, .n = c->n, .all = plan && c->n == 0, .plan = plan, .force = c->force,
	};
	int rc = events_reconcile(app, &w, o, &res, &nr, e);
	if (rc == TP_OK && !plan)
		ctlm_reconcile(app->set.owner, res, nr);
	if (rc == TP_OK)
		*resp = results_doc(app, res, nr);
	reconcile_results_free(res, nr);
	return rc;
}

static int handle(struct app *app, const cJSON *ev, const struct ev_opts *o, cJSON **resp, tp_err *e);

/* Policy calls end by the invocation's deadline less its reserve, like any
 * other work; the policy's own per-call limit applies within that. */
int events_handle(struct app *app, const cJSON *ev, const struct ev_opts *o, cJSON **resp, tp_err *e)
{
	int64_t until = o && o->deadline_ms ? o->deadline_ms - (o->reserve_ms > 0 ? o->reserve_ms : 0) : 0;
	if (o && o->deadline_ms && until <= 0)
		until = 1; /* already past: every call refused, not unlimited */
	policy_set_deadline(app->policy, until);
	int rc = handle(app, ev, o, resp, e);
	policy_set_deadline(app->policy, 0);
	return rc;
}

static int stream(struct app *app, const cJSON *records, const struct ev_opts *o, cJSON **resp, tp_err *e)
{
	cJSON *failed = NULL;
	int rc = events_stream_batch(app, records, o, &failed, e);
	if (rc < 0)
		return rc;
	*resp = cJSON_CreateObject();
	cJSON *arr = cJSON_AddArrayToObject(*resp, "batchItemFailures"), *s;
	cJSON_ArrayForEach(s, failed) {
		cJSON *f = cJSON_CreateObject();
		cJSON_AddStringToObject(f, "itemIdentifier", s->valuestring);
		cJSON_AddItemToArray(arr, f);
	}
	log_info("stream batch: %d records, %d failed", cJSON_GetArraySize(records), cJSON_GetArraySize(failed));
	cJSON_Delete(failed);
	return TP_OK;
}

static int handle(struct app *app, const cJSON *ev, const struct ev_opts *o, cJSON **resp, tp_err *e)
{
	*resp = NULL;
	struct ev_class c;
	int rc = evclass_classify(ev, &c, e);
	if (rc < 0)
		return rc;
	switch (c.kind) {
	case EV_STREAM: rc = stream(app, c.records, o, resp, e); break;
	case EV_SNS: rc = handle_sns(app, c.records, o, resp, e); break;
	case EV_SCHEDULED: rc = events_scheduled(app, o, resp, e); break;
	default: rc = handle_direct(app, &c, o, resp, e);
	}
	evclass_free(&c);
	return rc;
}
