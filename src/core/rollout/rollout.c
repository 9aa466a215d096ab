/* rollout.c: the rollout driver: start, resume or supersede a rollout of
 * one code object; the head item and runner lease are head.c's, the waves
 * run in wave.c, their health is judged in health.c, the plan is made in
 * plan.c, status is read in status.c (see rollout.h for the model, ro.h
 * for the order of calls, core/store.h for the items). */
#include "core/rollout/ro.h"
#include "base/progress.h"

#include "aws/awsjson.h"
#include "aws/ddb.h"
#include "aws/s3.h"
#include "base/base64.h"
#include "base/hash.h"
#include "base/jsonnum.h"
#include "base/log.h"
#include "core/rollout/rolloutrec.h"
#include "core/store.h"
#include "script/policy.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---------- small helpers ---------- */

int rollout_parse_uri(const char *uri, char **bucket, char **key, char **version, tp_err *e)
{
	*bucket = *key = *version = NULL;
	if (!uri || !tp_startswith(uri, "s3://"))
		return tp_errf(e, TP_EINVAL, "BadUri", "expected s3://BUCKET/KEY[#VERSION], got '%s'",
			       uri ? uri : "");
	const char *b = uri + 5, *slash = strchr(b, '/');
	if (!slash || slash == b || !slash[1])
		return tp_errf(e, TP_EINVAL, "BadUri", "expected s3://BUCKET/KEY[#VERSION], got '%s'", uri);
	/* An S3 key may hold '#': the version is what follows the last one. */
	const char *hash = strrchr(slash + 1, '#');
	*bucket = tp_xstrndup(b, (size_t)(slash - b));
	*key = hash ? tp_xstrndup(slash + 1, (size_t)(hash - slash - 1)) : tp_xstrdup(slash + 1);
	*version = hash && hash[1] ? tp_xstrdup(hash + 1) : NULL;
	if (!**key) {
		free(*bucket), free(*key), free(*version);
		*bucket = *key = *version = NULL;
		return tp_errf(e, TP_EINVAL, "BadUri", "empty key in '%s'", uri);
	}
	return TP_OK;
}

static int64_t now_s(void)
{
	return tp_now_ms() / 1000;
}

/* ---------- the object ---------- */

/* The object's bytes go straight into SHA-256, never held whole: a code
 * zip may be up to Lambda's 250 MB (buffered AWS answers stop at 10 MiB). */
static void sink_begin(void *ctx)
{
	hash_sha256_begin(ctx); /* a retried download starts over */
}

static int sink_write(void *ctx, const void *data, size_t len)
{
	hash_sha256_update(ctx, data, len);
	return 0;
}

/* Download the object once, streamed: expected CodeSha256 and the version
 * id. With from_event, the latest is read and an older event version is stale. */
static int fetch_object(struct ro *r, const char *want_version, tp_err *e)
{
	struct hash_sha256_stream hs;
	const struct aws_sink sink = { sink_begin, sink_write, &hs };
	struct aws_call c;
	s3_get_object(&c, r->bucket, r->key, want_version && !r->o.from_event ? want_version : NULL, &sink);
	aws_call_one(r->app->aws, &c);
	int rc = c.rc;
	if (rc < 0) {
		*e = c.err;
		tp_errf(e, rc, c.err.code[0] ? c.err.code : "GetObjectFailed",
			"cannot read the code object s3://%s%s%s: %s", r->id, want_version ? "#" : "",
			want_version ? want_version : "", c.err.message);
	} else {
		unsigned char d[HASH_SHA256_LEN];
		hash_sha256_end(&hs, d);
		base64_encode(d, sizeof d, r->sha);
		r->object_bytes = (long long)hs.len;
		char v[256] = "";
		if (s3_version_id(&c, v, sizeof v))
			r->version = tp_xstrdup(v);
		if (r->o.from_event && want_version && (!r->version || strcmp(r->version, want_version)))
			ro_stop(r, ROLLOUT_STALE); /* a newer upload exists; its own event rolls it out */
		else if (!r->version && want_version)
			r->version = tp_xstrdup(want_version);
	}
	aws_call_free(&c);
	return rc;
}

/* ---------- the plan ---------- */

/* Targets of a new rollout: the pipelines whose applied spec uses this
 * object (plan_select, in pipeline-name order), confirmed on the function
 * (its Description marker). */
static int find_targets(struct ro *r, tp_err *e)
{
	struct store_pipelines st;
	int rc = store_pipelines_scan(r->app->aws, r->app->set.state_table, &st, e);
	if (rc == TP_OK)
		plan_select(&r->ts, r->app->set.prefix, &st, r->bucket, r->key);
	store_pipelines_free(&st);
	if (rc < 0 || !r->ts.n)
		return rc;
	if ((rc = wave_observe(r, 1, e)) < 0)
		return rc;
	plan_drop_unseen(&r->ts);
	plan_drop_images(&r->ts);
	return TP_OK;
}

/* Ask the policy for waves; freeze them as r->plan (plan_batch). */
static int make_plan(struct ro *r, tp_err *e)
{
	cJSON *change = cJSON_CreateObject(), *targets = cJSON_CreateArray();
	cJSON_AddStringToObject(change, "bucket", r->bucket);
	cJSON_AddStringToObject(change, "key", r->key);
	if (r->version)
		cJSON_AddStringToObject(change, "version", r->version);
	cJSON_AddStringToObject(change, "sha256", r->sha);
	if (r->o.mode)
		cJSON_AddStringToObject(change, "mode", r->o.mode);
	for (size_t i = 0; i < r->ts.n; i++) {
		cJSON *t = cJSON_CreateObject();
		cJSON_AddStringToObject(t, "pipeline", r->ts.t[i].pipeline);
		cJSON_AddStringToObject(t, "function", r->ts.t[i].function);
		cJSON_AddItemToArray(targets, t);
	}
	cJSON *waves = NULL;
	ro_policy_ctx(r);
	int rc = policy_rollout(r->app->policy, change, targets, &waves, e);
	cJSON_Delete(change);
	cJSON_Delete(targets);
	if (rc < 0)
		return rc;
	jsonnum_raw_to_numbers(waves); /* pause_seconds as a number, as its text read */
	snprintf(r->mode, sizeof r->mode, "code");
	rc = plan_batch(&r->ts, waves, r->o.mode, &r->plan, e);
	cJSON_Delete(waves);
	return rc;
}

/* A resumed rollout's targets: its frozen plan, each with the storage
 * mode of its applied spec (so the update keeps it), observed. */
static int targets_of_head(struct ro *r, tp_err *e)
{
	plan_from_frozen(&r->ts, r->app->set.prefix, r->plan);
	struct store_pipelines st;
	int rc = store_pipelines_scan(r->app->aws, r->app->set.state_table, &st, e);
	plan_note_storage(&r->ts, &st);
	store_pipelines_free(&st);
	if (rc == TP_OK && (rc = wave_observe(r, 0, e)) == TP_OK)
		plan_drop_images(&r->ts);
	return rc;
}

/* ---------- the run ---------- */

static void ro_free(struct ro *r)
{
	plan_free(&r->ts);
	free(r->version);
	cJSON_Delete(r->plan);
}

static long stat_of(const struct app *app, const char *key)
{
	const struct aws_stat *st;
	size_t n = aws_stats(app->aws, &st);
	long v = 0;
	for (size_t i = 0; i < n; i++)
		if (strcmp(st[i].key, key) == 0)
			v += st[i].requests;
	return v;
}

static long update_calls(const struct app *app)
{
	return stat_of(app, "lambda:UpdateFunctionCode") + stat_of(app, "lambda:UpdateFunctionConfiguration");
}

static void failure_of(const struct ro_target *t, struct rollout_failure *f)
{
	snprintf(f->function, sizeof f->function, "%s", t->function);
	f->pipeline = tp_xstrdup(t->pipeline);
	f->err = t->err;
}

/* The outcome of run r into o (o takes r's skipped list). */
static void outcome(struct ro *r, struct rollout_result *o)
{
	memset(o, 0, sizeof *o);
	o->uri = tp_xasprintf("s3://%s%s%s", r->id, r->version ? "#" : "", r->version ? r->version : "");
	o->status = r->stopped ? r->status : ROLLOUT_ERROR;
	snprintf(o->sha256, sizeof o->sha256, "%s", r->sha);
	o->gen = r->gen;
	o->object_bytes = r->object_bytes;
	o->targets = r->ts.n;
	o->waves = cJSON_GetArraySize(r->plan);
	o->next_wave = r->wave;
	o->updated = r->updates;
	o->already_current = r->already;
	o->failed = r->failed;
	o->gone = r->gone;
	if (r->fail.code[0]) {
		o->has_failure = 1;
		snprintf(o->failure.function, sizeof o->failure.function, "%s", r->fail_fn);
		o->failure.err = r->fail;
		for (size_t i = 0; i < r->ts.n; i++)
			if (strcmp(r->ts.t[i].function, r->fail_fn) == 0) {
				free(o->failure.pipeline);
				o->failure.pipeline = tp_xstrdup(r->ts.t[i].pipeline);
			}
	}
	/* Every function that failed (a State Failed function, an update Lambda
	 * refused), not only the first: a wave without halt_on_failure goes on. */
	o->failures = tp_xcalloc(r->ts.n + 1, sizeof *o->failures);
	for (size_t i = 0; i < r->ts.n; i++)
		if (r->ts.t[i].status == RFN_FAILED)
			failure_of(&r->ts.t[i], &o->failures[o->nfailures++]);
	o->skipped = r->ts.skipped;
	o->nskipped = r->ts.nskipped;
	r->ts.skipped = NULL;
	r->ts.nskipped = 0;
	o->calls.lambda = aws_stats_lambda(r->app->aws) - r->lambda0;
	o->calls.updates = update_calls(r->app) - r->update_calls0;
	o->calls.list_functions = stat_of(r->app, "lambda:ListFunctions") - r->list0;
	o->calls.get_function = stat_of(r->app, "lambda:GetFunction") - r->get0;
	o->calls.cloudwatch = r->cw_calls;
	o->health_note = r->health_note[0] ? tp_xstrdup(r->health_note) : NULL;
	o->rollback = r->rb;
}

/* Resume the rollout head h names (same version and code as ours):
 * its generation, mode, frozen plan and progress, then our lease. */
static int resume_head(struct ro *r, const cJSON *h, tp_err *e)
{
	/* A head written by another runner replaces whatever this run had
	 * planned (a lost race for the head): its plan is the one, and each
	 * target is listed once. */
	plan_clear(&r->ts);
	cJSON_Delete(r->plan);
	r->plan = NULL;
	r->gen = ddb_get_long(h, "gen", 0);
	snprintf(r->mode, sizeof r->mode, "%s", ddb_get_str(h, "mode", "code"));
	char *pj = NULL;
	int rc = rolloutrec_read_plan(r->app->aws, r->app->set.state_table, r->id, h, &pj, e);
	if (rc < 0)
		return rc;
	r->plan = cJSON_Parse(pj);
	free(pj);
	if (!r->plan)
		return tp_errf(e, TP_EINVAL, "RolloutPlanDamaged", "rollout %s: the plan is not JSON", r->id);
	r->wave = (int)ddb_get_long(h, "wave", 0);
	r->next_at = ddb_get_long(h, "next_at", 0);
	r->judged = (int)ddb_get_long(h, "judged", r->wave); /* a head from before health: all judged */
	r->window_from = ddb_get_long(h, "window_from", 0);
	snprintf(r->health_note, sizeof r->health_note, "%s", ddb_get_str(h, "health_note", ""));
	if (ro_stored_state(ddb_get_str(h, "status", "")) == RST_DONE) {
		ro_stop(r, ROLLOUT_DONE); /* nothing left: not even a status read */
		r->wave = cJSON_GetArraySize(r->plan);
		return TP_OK;
	}
	if ((rc = ro_hdr_write(r, HDR_ACQUIRE, RST_RUNNING, e)) < 0)
		return rc;
	if (strcmp(r->mode, "code") != 0) {
		/* a head item in a mode this version does not run: nothing to resume */
		rc = tp_errf(e, TP_EINVAL, "BadMode", "rollout mode '%s' (only code)", r->mode);
		ro_stop(r, ROLLOUT_HALTED);
		r->fail = *e;
		return rc;
	}
	return targets_of_head(r, e);
}

/* The version is rejected while its head still says running: its runner
 * died inside rollback_run (which records the rejection first). Take the
 * head and put back every function still on the rejected code; a live
 * runner's head is left to it (RolloutBusy). */
static void rollback_finish(struct ro *r)
{
	cJSON *h = NULL;
	tp_err e = { 0 };
	if (ro_head_get(r, &h, &e) < 0 || !h) {
		cJSON_Delete(h);
		return;
	}
	const char *hv = ddb_get_str(h, "version", NULL), *hs = ddb_get_str(h, "sha256", "");
	int ours = hv && strcmp(hv, r->version ? r->version : "") == 0 && strcmp(hs, r->sha) == 0;
	enum rollout_state st = ro_stored_state(ddb_get_str(h, "status", ""));
	if (!ours || st != RST_RUNNING || resume_head(r, h, &e) < 0 || r->stopped) {
		cJSON_Delete(h);
		return;
	}
	cJSON_Delete(h);
	log_warn("rollout %s: %s was rejected by a run that stopped while rolling back: finishing it", r->id,
		 r->version);
	if (rollback_run(r, cJSON_GetArraySize(r->plan), &e) < 0)
		log_warn("rollout %s: rollback: %s: %s", r->id, e.code, e.message);
	tp_errf(&r->fail, TP_EPOLICY, "VersionRejected", "s3://%s#%s was rejected; its rollback is finished",
		r->id, r->version);
	ro_stop(r, ROLLOUT_HALTED);
	tp_err he = { 0 };
	if (ro_hdr_write(r, HDR_RELEASE, RST_HALTED, &he) < 0)
		log_warn("rollout %s: %s", r->id, he.message);
}

/* Start, resume or supersede (see rollout.h). */
static int run(struct ro *r, const char *want_version, tp_err *e)
{
	int rc = fetch_object(r, want_version, e);
	if (rc < 0 || r->stopped)
		return rc;
	/* a version rolled back is never rolled out again (nor resumed), but
	 * a rollback a killed runner left half done is finished */
	if ((rc = rollback_check_rejected(r, e)) < 0) {
		if (strcmp(e->code, "VersionRejected") == 0)
			rollback_finish(r);
		return rc;
	}
	cJSON *h = NULL;
	for (int attempt = 0; attempt < 3; attempt++) {
		cJSON_Delete(h);
		h = NULL;
		if ((rc = ro_head_get(r, &h, e)) < 0)
			return rc;
		const char *hv = ddb_get_str(h, "version", NULL), *hs = ddb_get_str(h, "sha256", "");
		long hg = ddb_get_long(h, "gen", 0);
		int same = h && hv && strcmp(hv, r->version ? r->version : "") == 0 && strcmp(hs, r->sha) == 0;
		if (same) {
			rc = resume_head(r, h, e);
			break;
		}
		/* A new version (or none yet): plan it and take over. */
		r->gen = hg + 1;
		if (!r->ts.n && (rc = find_targets(r, e)) < 0)
			break;
		if (!r->plan && (rc = make_plan(r, e)) < 0)
			break;
		rc = ro_head_create(r, hg, h, e);
		if (rc == TP_OK || !store_condition_failed(e))
			break;
		tp_err_clear(e); /* someone wrote it meanwhile: look again */
	}
	cJSON_Delete(h);
	if (rc < 0 || r->stopped)
		return rc;
	if (!r->ts.n) {
		ro_stop(r, ROLLOUT_NO_TARGETS);
		r->wave = cJSON_GetArraySize(r->plan);
		return ro_hdr_write(r, HDR_RELEASE, RST_DONE, e);
	}
	int nw = cJSON_GetArraySize(r->plan);
	/* Each wave: its updates, its pause (the watch window), then its
	 * health verdict on the window's evidence (health.c), which may ask to
	 * wait longer; the next wave starts only after a healthy verdict. */
	for (;;) {
		if ((rc = wave_pause(r, e)) < 0 || r->stopped)
			goto out;
		if (r->judged < r->wave) {
			rc = health_judge(r, r->wave - 1, e);
			if (rc < 0 || r->stopped)
				goto out;
			if ((rc = ro_hdr_write(r, HDR_BEAT, RST_RUNNING, e)) < 0)
				goto out;
			continue;
		}
		if (r->wave >= nw)
			break;
		const cJSON *wave = cJSON_GetArrayItem(r->plan, r->wave);
		progress_phase("wave %d/%d: %d functions", r->wave + 1, nw,
			       cJSON_GetArraySize(cJSON_GetObjectItem(wave, "targets")));
		rc = wave_run(r, r->wave, wave, e);
		if (rc < 0 || r->stopped)
			goto out;
		cJSON *p = cJSON_GetObjectItem(wave, "pause_seconds");
		r->wave++;
		r->window_from = now_s();
		/* Rounded up to the next whole second (next_at is stored in
		 * seconds): rounding down cut up to 1 s off the pause. */
		int64_t pause_ms = cJSON_IsNumber(p) ? (int64_t)(p->valuedouble * 1000) : 0;
		r->next_at = pause_ms > 0 ? (tp_now_ms() + pause_ms + 999) / 1000 : now_s();
		if ((rc = ro_hdr_write(r, HDR_BEAT, RST_RUNNING, e)) < 0)
			goto out;
	}
	/* Verify: a runner we superseded may have landed an older update late. */
	if ((rc = wave_observe(r, 0, e)) < 0)
		goto out;
	plan_drop_images(&r->ts);
	int stray = 0;
	for (size_t i = 0; i < r->ts.n; i++)
		if (r->ts.t[i].seen && r->ts.t[i].status != RFN_FAILED && !plan_is_done(&r->ts.t[i], r->sha))
			r->ts.t[i].wave = nw, stray = 1;
	if (stray) {
		cJSON *last = cJSON_CreateObject();
		rc = wave_run(r, nw, last, e);
		cJSON_Delete(last);
		for (size_t i = 0; i < r->ts.n; i++)
			if (r->ts.t[i].wave == nw)
				r->ts.t[i].wave = nw - 1;
		if (rc < 0 || r->stopped)
			goto out;
	}
	ro_stop(r, ROLLOUT_DONE);
	if (r->version) { /* the last good version: apply and drift fall back to it after a rejection */
		tp_err ge = { 0 };
		if (store_code_good(r->app->aws, r->app->set.state_table, r->bucket, r->key, r->version, r->sha, &ge) < 0)
			log_warn("rollout %s: cannot record the good version: %s", r->id, ge.message);
	}
out:
	if (r->stopped && r->status != ROLLOUT_SUPERSEDED && r->status != ROLLOUT_BUSY) {
		tp_err he = { 0 };
		enum rollout_state db = r->status == ROLLOUT_DONE ? RST_DONE : r->status == ROLLOUT_HALTED ? RST_HALTED : RST_RUNNING;
		if (ro_hdr_write(r, HDR_RELEASE, db, &he) < 0 && rc == TP_OK) {
			rc = he.rc;
			*e = he;
		}
	}
	return rc;
}

int rollout_run(struct app *app, const char *bucket, const char *key, const char *version,
		const struct rollout_opts *o, struct rollout_result *out, tp_err *e)
{
	struct ro r = { .app = app, .bucket = bucket, .key = key };
	if (o)
		r.o = *o;
	snprintf(r.id, sizeof r.id, "%s/%s", bucket, key);
	if (r.o.mode && strcmp(r.o.mode, "code") != 0) {
		tp_err me = { 0 };
		tp_errf(&me, TP_EINVAL, "BadMode", "rollout mode '%s' (only code)", r.o.mode);
		if (e)
			*e = me;
		memset(out, 0, sizeof *out); /* no run: no outcome (uri NULL) */
		return me.rc;
	}
	tp_err we = { 0 };
	if (app_may_write(app, &we) < 0) { /* settings differing from the stored set */
		if (e)
			*e = we;
		memset(out, 0, sizeof *out);
		return we.rc;
	}
	char tag[32];
	snprintf(tag, sizeof tag, "rollout-%lld", (long long)tp_now_ms());
	char host[128] = "host";
	gethostname(host, sizeof host - 1);
	host[sizeof host - 1] = 0;
	snprintf(r.holder, sizeof r.holder, "%s:%ld:%s", host, (long)getpid(), tag);
	r.lambda0 = aws_stats_lambda(app->aws);
	r.update_calls0 = update_calls(app);
	r.list0 = stat_of(app, "lambda:ListFunctions");
	r.get0 = stat_of(app, "lambda:GetFunction");
	tp_err err = { 0 };
	int rc = run(&r, version, &err);
	if (rc < 0 && !r.stopped)
		ro_stop(&r, ROLLOUT_ERROR);
	if (rc < 0 && (r.status == ROLLOUT_SUPERSEDED || r.status == ROLLOUT_BUSY))
		rc = TP_OK; /* not a failure of this rollout: the newer one (or the other runner) goes on */
	if (rc < 0 && !r.fail.code[0])
		r.fail = err;
	if (rc < 0 && e)
		*e = err;
	log_info("rollout s3://%s: %s (%ld updated, %ld already current, %ld failed)", r.id,
		 rollout_outcome_name(r.status), r.updates, r.already, r.failed);
	outcome(&r, out);
	ro_free(&r);
	return rc;
}

int rollout_resume(struct app *app, const char *bucket, const char *key, const struct rollout_opts *o,
		   struct rollout_result **out, size_t *n, tp_err *e)
{
	*out = NULL;
	*n = 0;
	cJSON *items = cJSON_CreateArray(), *it;
	int rc = ddb_scan_all(app->aws, app->set.state_table, STORE_PREFIX_ROLLOUT, items, e), first = TP_OK;
	if (rc < 0) { /* a partial set of heads: resume none of them */
		cJSON_Delete(items);
		return rc;
	}
	*out = tp_xcalloc((size_t)cJSON_GetArraySize(items) + 1, sizeof **out);
	cJSON_ArrayForEach(it, items) {
		const char *b = ddb_get_str(it, "bucket", NULL), *k = ddb_get_str(it, "key", NULL);
		enum rollout_state st = ro_stored_state(ddb_get_str(it, "status", ""));
		const char *v = ddb_get_str(it, "version", "");
		if (!b || !k || strcmp(ddb_get_str(it, "kind", ""), "rollout") != 0)
			continue;
		int named = bucket && key && strcmp(b, bucket) == 0 && strcmp(k, key) == 0;
		if ((bucket && !named) || st == RST_DONE || (st == RST_HALTED && !named))
			continue;
		tp_err oe = { 0 };
		int orc = rollout_run(app, b, k, v[0] ? v : NULL, o, &(*out)[(*n)++], &oe);
		if (orc < 0 && first == TP_OK) {
			first = orc;
			if (e)
				*e = oe;
		}
	}
	cJSON_Delete(items);
	return first;
}

int rollout_on_upload_until(struct app *app, const char *bucket, const char *key, const char *version,
			    int64_t deadline_ms, struct rollout_result *out, tp_err *e)
{
	struct rollout_opts o = { .deadline_ms = deadline_ms, .from_event = 1 };
	return rollout_run(app, bucket, key, version, &o, out, e);
}

int rollout_on_upload(struct app *app, const char *bucket, const char *key, const char *version,
		      struct rollout_result *out, tp_err *e)
{
	return rollout_on_upload_until(app, bucket, key, version, 0, out, e);
}

void rollout_result_free(struct rollout_result *r)
{
	if (!r)
		return;
	free(r->uri);
	free(r->health_note);
	free(r->failure.pipeline);
	for (size_t i = 0; i < r->nfailures; i++)
		free(r->failures[i].pipeline);
	free(r->failures);
	for (size_t i = 0; i < r->nskipped; i++)
		free(r->skipped[i].pipeline);
	free(r->skipped);
	memset(r, 0, sizeof *r);
}

void rollout_results_free(struct rollout_result *r, size_t n)
{
	for (size_t i = 0; i < n; i++)
		rollout_result_free(&r[i]);
	free(r);
}
