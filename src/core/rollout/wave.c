/* wave.c: running one wave of a rollout: observing the functions
 * (ListFunctions, GetFunction), UpdateFunctionCode within the Lambda budget
 * in pipelined batches, waiting for Lambda to apply each update, the
 * per-function records, the failure threshold, the pause between waves,
 * and the same update path for a rollback (wave_update_to). The health
 * verdict after a wave's pause is health.c's (see rollout.h for the model). */
#include "core/rollout/ro.h"
#include "base/progress.h"

#include "aws/awsjson.h"
#include "aws/ddb.h"
#include "aws/lambda.h"
#include "base/log.h"
#include "base/retry.h"
#include "core/codemark.h"
#include "core/store.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WAIT_ROUNDS 120        /* status polls of a busy function (Pending, InProgress): 4 min */
#define CONFLICT_ROUNDS 5      /* resends after 409 ResourceConflict / 412 stale RevisionId */
#define POLL_MS 1000           /* between the first status polls of a busy function, then 2x */
#define FIRST_POLL_MS 500      /* first poll after an update (most finish within seconds) */
#define THROTTLE_MS 1000       /* requeue delay after a 429 without a Retry-After */

/* ---------- per-function records ---------- */

/* Per-function records, one UpdateItem each; a record of a newer
 * generation is never overwritten. prep_records builds the calls (so they
 * can ride in the same concurrent batch as Lambda updates), check_records
 * reads their outcome: TP_ECONFLICT when one hit a newer generation (we are
 * superseded). */
static void prep_records(struct ro *r, struct ro_target **ts, size_t n, int counting, struct aws_call *c)
{
	for (size_t i = 0; i < n; i++) {
		struct ro_target *t = ts[i];
		struct store_rollout_fn f = {
			.id = r->id, .function = t->function, .pipeline = t->pipeline, .gen = r->gen,
			.version = r->version ? r->version : "", .status = rollout_fn_state_name(t->status),
			.wave = t->wave, .updated_at = (long)(tp_now_ms() / 1000), .count_attempt = counting,
		};
		t->recorded = t->status;
		if (t->status == RFN_UPDATING && t->rev[0])
			f.rev = t->rev;
		/* The code it runs before we update it, for a rollback; a function
		 * already on ours (a resumed claim) keeps the recorded one. */
		if (t->status == RFN_UPDATING && !t->acted && t->sha[0] && strcmp(t->sha, r->sha) != 0) {
			snprintf(t->prev_sha, sizeof t->prev_sha, "%s", t->sha);
			f.prev_sha = t->prev_sha;
		}
		if (t->status == RFN_FAILED) {
			f.error_code = t->err.code;
			f.error_message = t->err.message;
		}
		store_rollout_fn_prepare(&c[i], r->app->set.state_table, &f);
	}
}

static int check_records(struct ro *r, struct aws_call *c, size_t n, tp_err *e)
{
	int rc = TP_OK;
	for (size_t i = 0; i < n; i++) {
		if (c[i].rc < 0) {
			if (store_condition_failed(&c[i].err)) {
				rc = TP_ECONFLICT;
			} else if (rc == TP_OK) {
				rc = c[i].rc;
				*e = c[i].err;
			}
		}
		aws_call_free(&c[i]);
	}
	if (rc == TP_ECONFLICT) {
		ro_stop(r, ROLLOUT_SUPERSEDED);
		tp_errf(e, rc, "RolloutSuperseded", "rollout of s3://%s was superseded", r->id);
	}
	return rc;
}

static int write_fn_records(struct ro *r, struct ro_target **ts, size_t n, int counting, tp_err *e)
{
	if (!n)
		return TP_OK;
	struct aws_call *c = tp_xcalloc(n, sizeof *c);
	prep_records(r, ts, n, counting, c);
	aws_call_many(r->app->aws, c, n);
	int rc = check_records(r, c, n, e);
	free(c);
	return rc;
}


/* ---------- observing the fleet ---------- */

static int cmp_target_fn(const void *a, const void *b)
{
	const struct ro_target *const *x = a, *const *y = b;
	return strcmp((*x)->function, (*y)->function);
}

/* The code object a function's Description records is ours (the marker
 * reconcile writes, built by the same codemark_make). */
static int marker_matches(const struct ro *r, const char *desc)
{
	return codemark_is_object(desc, r->bucket, r->key);
}

/* One ListFunctions walk (50 configurations a page): CodeSha256,
 * RevisionId, PackageType and the Description of every target. ListFunctions
 * never reports State or LastUpdateStatus ("only GetFunction and
 * GetFunctionConfiguration", https://docs.aws.amazon.com/lambda/latest/dg/functions-states.html),
 * so whether a function is busy is read with GetFunction before it is
 * updated (refresh). With confirm, a function whose Description records
 * another code object is not seen (plan_drop_unseen skips it). */
int wave_observe(struct ro *r, int confirm, tp_err *e)
{
	struct ro_target **idx = tp_xcalloc(r->ts.n + 1, sizeof *idx);
	for (size_t i = 0; i < r->ts.n; i++) {
		idx[i] = &r->ts.t[i];
		r->ts.t[i].seen = 0;
	}
	qsort(idx, r->ts.n, sizeof *idx, cmp_target_fn);
	char *marker = NULL;
	int rc = TP_OK;
	do {
		cJSON *out = NULL;
		struct aws_call c;
		lambda_list_functions(&c, marker, 50);
		rc = awsj_run(r->app->aws, &c, &out, e);
		free(marker);
		marker = NULL;
		if (rc < 0)
			break;
		cJSON *f;
		cJSON_ArrayForEach(f, cJSON_GetObjectItem(out, "Functions")) {
			struct lambda_config cfg;
			lambda_config_read(f, &cfg);
			struct ro_target key = { 0 }, *kp = &key, **hit;
			snprintf(key.function, sizeof key.function, "%s", cfg.name);
			hit = bsearch(&kp, idx, r->ts.n, sizeof *idx, cmp_target_fn);
			if (!hit)
				continue;
			struct ro_target *t = *hit;
			if (confirm && !marker_matches(r, cfg.description))
				continue;
			t->seen = 1;
			snprintf(t->sha, sizeof t->sha, "%s", cfg.code_sha);
			snprintf(t->rev, sizeof t->rev, "%s", cfg.revision_id);
			t->image = cfg.image;
			t->fresh = 0;
		}
		const char *nm = lambda_next_marker(out);
		marker = nm ? tp_xstrdup(nm) : NULL;
		cJSON_Delete(out);
	} while (marker);
	free(idx);
	return rc;
}

/* ---------- one wave ---------- */

/* When to read a busy function again: 1 s apart for the first polls, then
 * 2 s (a long update should not spend the GetFunction budget). */
static int64_t next_poll(const struct ro_target *t, int64_t now)
{
	return now + (t->polls < 3 ? POLL_MS : 2 * POLL_MS);
}

static void prep_update(struct ro *r, struct ro_target *t, struct aws_call *c)
{
	/* REFERENCE on every update of a REFERENCE function: one without it
	 * puts the function back to COPY (codestore.h). The RevisionId: Lambda
	 * refuses a stale one, so an update cannot land twice. */
	const struct lambda_code code = { .bucket = r->bucket, .key = r->key, .version = r->version,
					  .storage = t->reference ? LAMBDA_STORAGE_REFERENCE : LAMBDA_STORAGE_DEFAULT,
					  .revision_id = t->rev };
	lambda_update_function_code(c, t->function, lambda_code_body(&code));
	c->user = t;
}

/* Take a function configuration (UpdateFunctionCode or GetFunction answer).
 * State and LastUpdateStatus: https://docs.aws.amazon.com/lambda/latest/dg/functions-states.html
 * (no update while State is Pending or LastUpdateStatus InProgress; a
 * function in State Failed is reported, not updated). */
static void note_config(struct ro *r, struct ro_target *t, const cJSON *cfg)
{
	struct lambda_config lc;
	lambda_config_read(cfg, &lc);
	t->seen = 1;
	t->fresh = 1;
	snprintf(t->sha, sizeof t->sha, "%s", lc.code_sha);
	snprintf(t->rev, sizeof t->rev, "%s", lc.revision_id);
	t->busy = lc.busy;
	if (lc.image) {
		t->image = 1;
		t->status = RFN_FAILED;
		t->busy = 0;
		tp_errf(&t->err, TP_EINVAL, "PackageTypeImage",
			"function %s has PackageType Image: rollout deploys zip code only", t->function);
		return;
	}
	if (lc.failed) {
		t->status = RFN_FAILED;
		t->busy = 0;
		tp_errf(&t->err, TP_EAWS, lc.state_reason_code[0] ? lc.state_reason_code : "FunctionFailed",
			"function %s is in State Failed: %s", t->function,
			lc.state_reason[0] ? lc.state_reason : "(no reason given)");
		return;
	}
	if (strcmp(lc.last_update, "Failed") == 0 && t->acted) {
		t->status = RFN_FAILED;
		t->busy = 0;
		tp_errf(&t->err, TP_EAWS,
			lc.last_update_reason_code[0] ? lc.last_update_reason_code : "FunctionUpdateFailed",
			"%s", lc.last_update_reason[0] ? lc.last_update_reason : "Lambda reports the update failed");
		return;
	}
	if (t->busy)
		return;
	if (plan_is_done(t, r->sha)) {
		t->status = RFN_DONE;
	} else if (t->acted) {
		t->status = RFN_FAILED;
		tp_errf(&t->err, TP_EAWS, "CodeSha256Mismatch",
			"after the update CodeSha256 is %s, expected %s (the object changed meanwhile?)",
			t->sha, r->sha);
	}
}

/* Throttled (429 TooManyRequestsException and kin) after the transport's
 * own retries: the call is requeued, never counted as a failure. */
static int is_throttle(const struct aws_call *c)
{
	return c->rc < 0 && c->status != 0 &&
	       retry_classify(c->status, c->err.code[0] ? c->err.code : NULL, 0) == RETRY_THROTTLE;
}

/* When a throttled call may go again: the server's Retry-After (Lambda
 * sends it with 429, https://docs.aws.amazon.com/lambda/latest/api/API_UpdateFunctionCode.html
 * "TooManyRequestsException ... retryAfterSeconds"), else THROTTLE_MS. */
static int64_t throttle_until(const struct aws_call *c)
{
	char amz[32], std[32];
	int ha = aws_call_header(c, "x-amz-retry-after", amz, sizeof amz);
	int hs = aws_call_header(c, "retry-after", std, sizeof std);
	int64_t ms = retry_after_ms(ha ? amz : NULL, hs ? std : NULL);
	if (ms < 0)
		ms = THROTTLE_MS;
	if (ms > 60000)
		ms = 60000;
	return tp_mono_ms() + ms;
}

/* GetFunction (its own 100/s budget, unlike GetFunctionConfiguration,
 * which counts against the 15/s control plane:
 * https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html). */
static void prep_read(struct ro_target *t, struct aws_call *c)
{
	lambda_get_function(c, t->function, NULL);
}

/* A read's answer into t (c consumed). A throttled read leaves the target
 * as it was, with not_before set: the caller reads it again later. */
static void take_read(struct ro *r, struct ro_target *t, struct aws_call *c)
{
	cJSON *out = awsj_result(c);
	if (c->rc == TP_ENOTFOUND) {
		t->status = RFN_GONE;
		t->busy = 0;
	} else if (!out && is_throttle(c)) {
		t->fresh = 0;
		t->not_before = throttle_until(c);
	} else if (!out) {
		t->status = RFN_FAILED;
		t->busy = 0;
		t->err = c->err;
	} else {
		note_config(r, t, cJSON_GetObjectItem(out, "Configuration"));
	}
	cJSON_Delete(out);
	aws_call_free(c);
}

/* Read each target in ts (their State, LastUpdateStatus, code). */
static void refresh(struct ro *r, struct ro_target **ts, size_t n)
{
	if (!n)
		return;
	struct aws_call *c = tp_xcalloc(n + 1, sizeof *c);
	for (size_t i = 0; i < n; i++)
		prep_read(ts[i], &c[i]);
	aws_call_many(r->app->aws, c, n);
	for (size_t i = 0; i < n; i++)
		take_read(r, ts[i], &c[i]);
	free(c);
}

static int is_code(const struct aws_call *c, const char *code)
{
	return strcmp(c->err.code, code) == 0;
}

/* Send the updates of ts (claimed already), with nrec prepared record
 * writes and the status reads of the next batch's nx targets riding in the
 * first concurrent batch of updates (so DynamoDB and GetFunction hide under
 * the update budget). Each function's State and LastUpdateStatus are read
 * before its update (GetFunction; ridden along by the batch before, else
 * here); a busy one is
 * waited for, a 409 ResourceConflictException (an update in progress) or a
 * 412 stale RevisionId is read again and resent (CONFLICT_ROUNDS at most),
 * a throttled call is requeued after the server's delay. Waiting for the
 * sent updates to finish and the final records come later (settle). */
static int update_batch(struct ro *r, struct ro_target **ts, size_t n, struct aws_call *rec, size_t nrec,
			struct ro_target **nx, size_t nnx, tp_err *e)
{
	struct ro_target **todo = tp_xcalloc(n + 1, sizeof *todo), **rd = tp_xcalloc(n + 1, sizeof *rd);
	struct aws_call *c = tp_xcalloc(n + nrec + nnx + 1, sizeof *c);
	size_t nt = 0;
	for (size_t i = 0; i < n; i++)
		todo[nt++] = ts[i];
	for (size_t i = 0; i < nnx; i++) {
		nx[i]->fresh = 0;
		nx[i]->not_before = 0;
	}
	int rc = TP_OK, rode = 0;
	while (nt || !rode) {
		int64_t now = tp_mono_ms();
		/* 1. read what is due and not freshly read */
		size_t nr = 0;
		for (size_t i = 0; i < nt; i++)
			if (!todo[i]->fresh && todo[i]->not_before <= now)
				rd[nr++] = todo[i];
		refresh(r, rd, nr);
		/* 2. drop what is settled; wait for busy ones; send the ready ones */
		size_t k = 0, nu = 0;
		now = tp_mono_ms();
		for (size_t i = 0; i < nt; i++) {
			struct ro_target *t = todo[i];
			if (t->status != RFN_UPDATING)
				continue; /* done, failed or gone */
			if (t->fresh && t->busy) {
				if (++t->polls > WAIT_ROUNDS) {
					t->status = RFN_FAILED;
					tp_errf(&t->err, TP_EIO, "FunctionBusyTimeout",
						"State Pending or LastUpdateStatus InProgress through %d polls", WAIT_ROUNDS);
					continue;
				}
				t->fresh = 0;
				t->not_before = next_poll(t, now);
			}
			todo[k++] = t;
			if (t->fresh && t->not_before <= now)
				prep_update(r, t, &c[nu++]);
		}
		nt = k;
		size_t extra = 0;
		if (!rode) {
			/* the records (claims of the next batch: never an update before
			 * its claim) and the next batch's reads go with these updates */
			/* a rollback has no records (rec NULL): memcpy of NULL is
			 * undefined even for 0 bytes */
			if (nrec)
				memcpy(c + nu, rec, nrec * sizeof *c);
			for (size_t i = 0; i < nnx; i++)
				prep_read(nx[i], &c[nu + nrec + i]);
			extra = nrec + nnx;
			rode = 1;
		}
		if (nu + extra)
			aws_call_many(r->app->aws, c, nu + extra);
		if (extra) {
			for (size_t i = 0; i < nnx; i++)
				take_read(r, nx[i], &c[nu + nrec + i]);
			if (nrec)
				rc = check_records(r, c + nu, nrec, e);
		}
		now = tp_mono_ms();
		for (size_t i = 0; i < nu; i++) {
			struct ro_target *t = c[i].user;
			cJSON *out = awsj_result(&c[i]);
			if (out) {
				r->updates++;
				t->acted = 1;
				t->polls = 0;
				t->not_before = tp_mono_ms() + FIRST_POLL_MS;
				note_config(r, t, out);
			} else if (c[i].rc == TP_ENOTFOUND) {
				tp_err why = c[i].err;
				refresh(r, &t, 1);
				if (t->status != RFN_GONE) {
					t->status = RFN_FAILED;
					t->err = why;
				}
			} else if (is_throttle(&c[i])) {
				t->not_before = throttle_until(&c[i]); /* slows the rollout, never fails it */
			} else if ((is_code(&c[i], "ResourceConflictException") ||
				    is_code(&c[i], "PreconditionFailedException")) && t->rounds < CONFLICT_ROUNDS) {
				/* 409: an update in progress (ours landed, or someone else's);
				 * 412: changed since we read it. Read again, then resend. */
				t->rounds++;
				t->fresh = 0;
				t->not_before = is_code(&c[i], "ResourceConflictException") ? now + POLL_MS : now;
			} else {
				t->status = RFN_FAILED;
				t->err = c[i].err;
				if (t->rounds >= CONFLICT_ROUNDS)
					tp_errf(&t->err, TP_ECONFLICT, c[i].err.code, "still in conflict after %d resends: %s",
						CONFLICT_ROUNDS, c[i].err.message);
			}
			cJSON_Delete(out);
			aws_call_free(&c[i]);
		}
		/* 3. keep what is still to send; sent ones wait in settle */
		k = 0;
		for (size_t i = 0; i < nt; i++)
			if (todo[i]->status == RFN_UPDATING && !todo[i]->acted)
				todo[k++] = todo[i];
		nt = k;
		if (!nt || rc < 0)
			break;
		if (ro_deadline_near(r, 0)) {
			ro_stop(r, ROLLOUT_PAUSED); /* the rest is claimed; resume reads and sends it */
			break;
		}
		int64_t wake = INT64_MAX;
		for (size_t i = 0; i < nt; i++)
			if (todo[i]->not_before < wake)
				wake = todo[i]->not_before;
		now = tp_mono_ms();
		if (wake > now)
			tp_sleep_ms(wake - now);
	}
	free(c);
	free(rd);
	free(todo);
	return rc;
}

/* Wait until Lambda finished applying each update in ts (GetFunction while
 * LastUpdateStatus is InProgress); settle the rest. */
static void settle(struct ro *r, struct ro_target **ts, size_t n)
{
	struct ro_target **busy = tp_xcalloc(n + 1, sizeof *busy);
	for (;;) {
		size_t nb = 0;
		int64_t now = tp_mono_ms(), wake = INT64_MAX;
		for (size_t i = 0; i < n; i++) {
			struct ro_target *t = ts[i];
			if (!t->acted || t->status != RFN_UPDATING || !t->busy)
				continue;
			if (t->polls >= WAIT_ROUNDS)
				continue;
			if (t->not_before <= now)
				busy[nb++] = t;
			else if (t->not_before < wake)
				wake = t->not_before;
		}
		if (!nb && wake == INT64_MAX)
			break;
		if (!nb) {
			tp_sleep_ms(wake - now);
			continue;
		}
		for (size_t i = 0; i < nb; i++) {
			busy[i]->polls++;
			busy[i]->not_before = next_poll(busy[i], now);
		}
		refresh(r, busy, nb);
	}
	free(busy);
	for (size_t i = 0; i < n; i++) {
		struct ro_target *t = ts[i];
		if (t->status != RFN_UPDATING || !t->acted)
			continue;
		t->status = RFN_FAILED;
		if (t->busy)
			tp_errf(&t->err, TP_EIO, "FunctionUpdateTimeout", "still InProgress after %d polls",
				WAIT_ROUNDS);
		else
			tp_errf(&t->err, TP_EIO, "FunctionNotUpdated", "not updated (CodeSha256 %s)", t->sha);
	}
}

/* Functions per batch: up to 15 s of the Lambda budget and a third of the
 * lease, so the lease is renewed and the deadline checked in time; larger
 * batches leave fewer gaps in the update rate. */
static size_t batch_size(const struct ro *r)
{
	double rps = r->app->set.lambda_rps, secs = ro_lease_ttl(r) / 3.0;
	if (secs > 15)
		secs = 15;
	if (rps <= 0)
		return 64;
	size_t n = (size_t)(rps * secs);
	return n ? n : 1;
}

static size_t first_batch(const struct ro *r)
{
	double rps = r->app->set.lambda_rps;
	return rps <= 0 ? 16 : rps < 1 ? 1 : (size_t)rps;
}

int wave_run(struct ro *r, int w, const cJSON *wave, tp_err *e)
{
	struct ro_target **todo = tp_xcalloc(r->ts.n + 1, sizeof *todo), **done = tp_xcalloc(r->ts.n + 1, sizeof *done);
	size_t nt = 0, nd = 0;
	for (size_t i = 0; i < r->ts.n; i++) {
		struct ro_target *t = &r->ts.t[i];
		if (t->wave != w)
			continue;
		if (!t->seen) {
			t->status = RFN_GONE;
			done[nd++] = t;
		} else if (plan_is_done(t, r->sha)) {
			t->status = RFN_DONE;
			r->already++;
			done[nd++] = t;
		} else {
			todo[nt++] = t;
		}
	}
	/* Batches are pipelined: batch k's updates go out together with the
	 * final records of batch k-1 and the claims (updating) of batch k+1, so
	 * DynamoDB work hides under the Lambda budget. A batch is always
	 * claimed before its updates are sent. Batches start at one second of
	 * budget and double, so the first claim, the only one waited for, is small. */
	size_t bs = batch_size(r), sent = 0, prev = 0, prev_n = 0;
	size_t n = bs < first_batch(r) ? bs : first_batch(r);
	if (n > nt)
		n = nt;
	for (size_t i = 0; i < n; i++)
		todo[i]->status = RFN_UPDATING;
	int rc = write_fn_records(r, done, nd, 0, e);
	if (rc == TP_OK)
		rc = write_fn_records(r, todo, n, 1, e);
	struct aws_call *rec = tp_xcalloc(2 * bs + 1, sizeof *rec);
	for (size_t i = 0; rc == TP_OK && i < nt; i += n) {
		if (i)
			n = n * 2 < bs ? n * 2 : bs;
		if (n > nt - i)
			n = nt - i;
		if (ro_deadline_near(r, 0)) {
			ro_stop(r, ROLLOUT_PAUSED);
			break;
		}
		if ((rc = ro_hdr_write(r, HDR_BEAT, RST_RUNNING, e)) < 0)
			break;
		prep_records(r, todo + prev, prev_n, 0, rec);
		size_t nn = n * 2 < bs ? n * 2 : bs;
		if (nn > nt - i - n)
			nn = nt - i - n;
		for (size_t k = 0; k < nn; k++)
			todo[i + n + k]->status = RFN_UPDATING;
		prep_records(r, todo + i + n, nn, 1, rec + prev_n);
		rc = update_batch(r, todo + i, n, rec, prev_n + nn, todo + i + n, nn, e);
		prev = i;
		prev_n = n;
		sent = i + n;
	}
	free(rec);
	if (sent) {
		settle(r, todo, sent);
		/* the last batch's records, and any an InProgress wait settled late */
		size_t nc = 0;
		for (size_t k = 0; k < sent; k++)
			if (todo[k]->recorded != (int)todo[k]->status)
				done[nc++] = todo[k];
		tp_err we = { 0 };
		int wrc = write_fn_records(r, done, nc, 0, &we);
		if (rc == TP_OK && wrc < 0) {
			rc = wrc;
			*e = we;
		}
	}
	if (rc == TP_ECONFLICT && !r->stopped)
		ro_stop(r, ROLLOUT_SUPERSEDED);
	long failed = 0;
	for (size_t i = 0; i < r->ts.n; i++) {
		struct ro_target *t = &r->ts.t[i];
		if (t->wave != w)
			continue;
		if (t->status == RFN_GONE)
			r->gone++;
		if (t->status == RFN_FAILED) {
			failed++;
			if (!r->fail.code[0]) {
				r->fail = t->err;
				snprintf(r->fail_fn, sizeof r->fail_fn, "%s", t->function);
			}
		}
	}
	r->failed += failed;
	free(todo);
	free(done);
	if (rc < 0 || r->stopped)
		return rc;
	/* A failed update halts the wave here; its health is judged after its
	 * pause (health.c). */
	int halt = !cJSON_IsFalse(cJSON_GetObjectItem(wave, "halt_on_failure"));
	if (failed && halt) {
		ro_stop(r, ROLLOUT_HALTED);
		return tp_errf(e, TP_EAWS, r->fail.code, "wave %d: function %s: %s", w + 1, r->fail_fn,
			       r->fail.message);
	}
	return TP_OK;
}

int wave_update_to(struct ro *r, struct ro_target **ts, size_t n, const char *version, const char *sha,
		   tp_err *e)
{
	char *keep_version = r->version, keep_sha[64];
	snprintf(keep_sha, sizeof keep_sha, "%s", r->sha);
	r->version = (char *)version;
	snprintf(r->sha, sizeof r->sha, "%s", sha);
	for (size_t i = 0; i < n; i++) {
		ts[i]->status = RFN_UPDATING;
		ts[i]->acted = 0;
		ts[i]->fresh = 0;
		ts[i]->busy = 0;
		ts[i]->rounds = 0;
		ts[i]->polls = 0;
		ts[i]->not_before = 0;
		memset(&ts[i]->err, 0, sizeof ts[i]->err);
	}
	/* batches of the budget's size, so the lease is renewed between them */
	size_t bs = batch_size(r);
	int rc = TP_OK;
	for (size_t i = 0; i < n && rc == TP_OK; i += bs) {
		size_t k = n - i < bs ? n - i : bs;
		if ((rc = ro_hdr_write(r, HDR_BEAT, RST_RUNNING, e)) < 0)
			break;
		rc = update_batch(r, ts + i, k, NULL, 0, NULL, 0, e);
		settle(r, ts + i, k);
	}
	for (size_t i = 0; i < n; i++)
		if (ts[i]->status == RFN_UPDATING) { /* never sent (stopped): not put back */
			ts[i]->status = RFN_FAILED;
			tp_errf(&ts[i]->err, TP_EIO, "RollbackNotSent", "the rollback stopped before this function");
		}
	r->version = keep_version;
	snprintf(r->sha, sizeof r->sha, "%s", keep_sha);
	return rc;
}

int wave_write_records(struct ro *r, struct ro_target **ts, size_t n, tp_err *e)
{
	return write_fn_records(r, ts, n, 0, e);
}

/* Wait out a pause, keeping the lease; stop (paused) when the deadline is nearer. */
int wave_pause(struct ro *r, tp_err *e)
{
	int64_t ttl = ro_lease_ttl(r);
	if (tp_now_ms() / 1000 < r->next_at && progress_on()) {
		/* announced on a terminal, with its countdown (the default policy's
		 * first wave is the canary: the pause after it is the one to watch) */
		char what[64];
		int nw = cJSON_GetArraySize(r->plan);
		snprintf(what, sizeof what, r->wave == 1 ? "canary pause after wave %d/%d" : "pause after wave %d/%d",
			 r->wave, nw);
		progress_countdown(what, r->next_at * 1000);
	}
	while (tp_now_ms() / 1000 < r->next_at) {
		int64_t left = (r->next_at - tp_now_ms() / 1000) * 1000;
		if (ro_deadline_near(r, left)) {
			ro_stop(r, ROLLOUT_PAUSED);
			return TP_OK;
		}
		int64_t step = left < ttl * 1000 / 3 ? left : ttl * 1000 / 3;
		if (step <= 0)
			step = 1;
		/* in seconds on a terminal, so the countdown moves */
		for (int64_t until = tp_mono_ms() + step, now; (now = tp_mono_ms()) < until;) {
			tp_sleep_ms(progress_on() && until - now > 1000 ? 1000 : until - now);
			progress_tick();
		}
		int rc = ro_hdr_write(r, HDR_BEAT, RST_RUNNING, e);
		if (rc < 0)
			return rc;
	}
	return TP_OK;
}
