/* reconcile.c: pipelines from config items (see reconcile.h).
 *
 * A run holds one record per pipeline and walks them through a fixed list
 * of steps. Each step asks every live record for its calls (0..RC_MAX_CALLS),
 * runs them all in one aws_call_many batch, and hands the answers back.
 * A record that fails stops there; the others go on.
 *
 * This file owns the driver (the steps, the leases, the deadline, the
 * results), reading the item and the state, the policy step and the state
 * write. The steps themselves live in reconcile_observe.c (find the
 * resources), reconcile_diff.c (checks, ownership and the diff, through
 * core/diff.h) and reconcile_apply.c (the changes and the deletions), which
 * never call back here; reconcile_rec.c is below them all and
 * reconcile_int.h is what they share. */
#include "core/reconcile/reconcile_int.h"
#include "base/settings_table.h"

#include "aws/awsjson.h"
#include "aws/ddb.h"
#include "base/hash.h"
#include "base/jsonnum.h"
#include "core/lease.h"
#include "core/config_item.h"
#include "core/limit_group.h"
#include "core/pause.h"
#include "core/pool.h"
#include "core/store.h"
#include "base/log.h"
#include "base/progress.h"
#include "base/version.h"
#include "script/policy.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- small helpers ---- */

/* ---- step 1: read item and state ---- */

static int emit_read(struct run *r, struct rec *p, struct aws_call *c)
{
	int n = 0;
	if (!p->known.item) {
		cJSON *in = cJSON_CreateObject();
		cJSON_AddStringToObject(in, "TableName", r->app->set.config_table);
		cJSON_AddItemToObject(in, "Key", ddb_key("pipeline", p->res->name));
		cJSON_AddBoolToObject(in, "ConsistentRead", 1);
		awsj_prepare(&c[n++], SVC_DYNAMODB, "GetItem", in);
	}
	if (!p->known.state)
		store_pipeline_get_prepare(&c[n++], r->app->set.state_table, p->res->name);
	if (!p->known.pause)
		store_pause_get_prepare(&c[n++], r->app->set.state_table, p->res->name);
	return n;
}

/* The answers come in emit_read's order. */
static void done_read(struct run *r, struct rec *p, struct aws_call *c, int n)
{
	int k = 0;
	cJSON *got[3] = { NULL, NULL, NULL };
	int want[3] = { !p->known.item, !p->known.state, !p->known.pause };
	for (int i = 0; i < 3 && k < n; i++) {
		if (!want[i])
			continue;
		if (c[k].rc != TP_OK) {
			for (int j = 0; j < 3; j++)
				cJSON_Delete(got[j]);
			rc_fail(p, &c[k].err);
			return;
		}
		cJSON *out = awsj_result(&c[k++]);
		got[i] = cJSON_DetachItemFromObject(out, "Item");
		cJSON_Delete(out);
	}
	if (want[0]) {
		p->item = got[0];
		p->known.item = 1;
	}
	if (want[1]) {
		p->state = got[1];
		p->known.state = 1;
	}
	if (want[2]) {
		p->paused = got[2] != NULL;
		p->known.pause = 1;
		cJSON_Delete(got[2]);
	}
	(void)r;
}

/* ---- step 2 (local): policy, hash, skip when unchanged ---- */

static void run_policy(struct run *r, struct rec *p)
{
	tp_err e = { 0 };
	p->res->paused = p->paused;
	if (!p->item && !p->state && r->o->known_only) {
		/* A name nothing knows: an error, and nothing is written for it. */
		tp_errf(&e, TP_ENOTFOUND, "NotFound", "no config item and no recorded pipeline of that name");
		rc_fail(p, &e);
		p->no_state = 1;
		return;
	}
	if (names_for(r->app->set.prefix, p->res->name, &p->nm, &e) < 0) {
		if (!p->item) /* a gone item whose name never could be a pipeline */
			snprintf(e.message + strlen(e.message), sizeof e.message - strlen(e.message),
				 "; its item is gone: `taskpipe forget %s` clears the record", p->res->name);
		rc_fail(p, &e);
		return;
	}
	const char *status = ddb_get_str(p->state, "status", "");
	if (!p->item || rc_item_expired(p->item, (long)(tp_now_ms() / 1000))) {
		/* Gone or expired: drain (reconcile_drain.c). Finished ones are
		 * looked at again only when forced (a kept queue emptied since). */
		p->res->action = REC_DELETE;
		if ((strcmp(status, "deleted") == 0 || strcmp(status, "kept") == 0) && !r->o->force &&
		    !r->o->delete_now)
			p->done = 1;
		return;
	}
	/* A policy is a function of item and ctx: when neither (nor the policy)
	 * changed since the spec in force was applied, its answer would be the
	 * same, so the pipeline is confirmed without the call. Records written
	 * before input_hash existed take the path below (and get one on their
	 * next write; a confirm writes nothing). */
	/* A member's group is one of the policy's inputs (limit_group.h). */
	cJSON *resolved = NULL;
	char note[300];
	if (limit_groups_resolve(r->groups, p->item, &resolved, note, sizeof note, &e) < 0) {
		rc_fail(p, &e);
		return;
	}
	if (note[0]) {
		free(p->res->note);
		p->res->note = tp_xstrdup(note);
		log_warn("%s: %s", p->res->name, note);
	}
	const cJSON *input = resolved ? resolved : p->item;
	pipeline_input_hash(&r->input, input, p->input_hash);
	if (p->paused) /* an operator's pause is an input too (pause.h) */
		pause_input_hash(p->input_hash);
	const char *old_input = ddb_get_str(p->state, "input_hash", "");
	if (strcmp(status, "ok") == 0 && strcmp(old_input, p->input_hash) == 0 && !r->o->force) {
		snprintf(p->res->hash, sizeof p->res->hash, "%s", ddb_get_str(p->state, "hash", ""));
		p->res->action = REC_NONE;
		p->res->confirmed = 1; /* by hash: the resources were not looked at */
		p->done = 1;
		cJSON_Delete(resolved);
		return;
	}
	/* After the lease the item is read again: when it is what the policy
	 * already answered for, that answer stands (no second call). */
	if (!p->answer || strcmp(p->spec_input, p->input_hash) != 0) {
		cJSON_Delete(p->answer);
		p->answer = NULL;
		cJSON *sv = NULL;
		int prc = policy_pipeline(r->app->policy, input, &sv, &e);
		cJSON_Delete(resolved);
		resolved = NULL;
		if (prc < 0) {
			rc_fail(p, &e);
			return;
		}
		if (p->paused)
			pause_spec(sv);
		/* The answer keeps every digit (Raw numbers): it is what the
		 * hash covers and what pipeline_desired reads. */
		p->answer = sv;
		snprintf(p->spec_input, sizeof p->spec_input, "%s", p->input_hash);
	}
	cJSON_Delete(resolved);
	const cJSON *spec = p->answer;
	int rc;
	/* The hash covers the spec and the settings that shape resources. */
	pipeline_hash(&r->app->set, spec, p->res->hash);
	const char *old = ddb_get_str(p->state, "hash", "");
	if (strcmp(status, "ok") == 0 && strcmp(old, p->res->hash) == 0 && !r->o->force) {
		/* Confirmed: the same spec was applied and parsed before, so
		 * no desired state is built (the common case of a big run). */
		cJSON_Delete(p->answer);
		p->answer = NULL;
		p->res->action = REC_NONE;
		p->res->confirmed = 1;
		p->done = 1;
		return;
	}
	rc = pipeline_desired(&r->app->set, p->res->name, spec, &p->want, &e);
	if (rc < 0) {
		rc_fail(p, &e);
		return;
	}
	p->spec = p->want.tree;
	p->res->action = REC_UPDATE;
}

/* ---- the outcome, in the state table ---- */

static int emit_state(struct run *r, struct rec *p, struct aws_call *c)
{
	/* A plan writes nothing; a name that never was a pipeline leaves no
	 * trace; another holder's pipeline is its to record. */
	if (r->o->plan || p->no_state || p->state_written ||
	    (!p->spec && !p->state && !p->failed && p->changes.n == 0))
		return 0;
	p->state_written = 1;
	struct store_pipeline st = {
		.name = p->res->name,
		.status = p->failed ? STORE_ERROR : p->spec ? STORE_OK : STORE_DELETED,
		.updated_at = (long)(tp_now_ms() / 1000),
	};
	if (!p->spec) {
		/* A drain's progress survives a failure: the next run continues it. */
		rc_drain_carry(p);
		if (!p->failed && p->drain.status)
			st.status = p->drain.status;
		st.drain_started_at = p->drain.started_at;
		st.drain_timeout = p->drain.timeout;
		st.drain_empty_at = p->drain.empty_at;
		st.consumers_gone_at = p->drain.gone_at;
		st.kept_queue = p->drain.kept_queue;
		st.kept_dlq = p->drain.kept_dlq;
	}
	snprintf(st.action, sizeof st.action, "%s", reconcile_action_name(p->res->action));
	/* On failure after a good spec, no hash: an unchanged item is retried. */
	if (!(p->failed && p->old_spec))
		snprintf(st.hash, sizeof st.hash, "%s", p->res->hash);
	/* Only beside the spec it gave: a failure reruns the policy next time. */
	if (!p->failed && p->spec)
		snprintf(st.input_hash, sizeof st.input_hash, "%s", p->input_hash);
	if (p->failed) {
		st.error_code = p->res->err.code;
		st.message = p->res->err.message;
		st.retryable = p->res->retryable;
	}
	/* Where producers send: what this run observed or created, else
	 * what was recorded before (a failure leaves the queue where it was);
	 * a deleted pipeline has none. */
	if (p->spec || p->failed) {
		st.queue_url = p->q_url ? p->q_url : (char *)ddb_get_str(p->state, "queue_url", NULL);
		st.queue_arn = rc_queue_arn(p, 0) ? (char *)rc_queue_arn(p, 0) :
			       (char *)ddb_get_str(p->state, "queue_arn", NULL);
		st.dlq_url = p->dlq_url ? p->dlq_url : (char *)ddb_get_str(p->state, "dlq_url", NULL);
	}
	/* Keep the spec that is in force: on failure, the last good one. */
	cJSON *keep = p->failed ? p->old_spec : p->spec;
	/* A drain is judged against the spec it started under (keep_if_not_empty). */
	if (!p->spec && (st.status == STORE_DRAINING || st.status == STORE_KEPT))
		keep = p->old_spec;
	st.spec = keep ? cJSON_PrintUnformatted(keep) : NULL;
	/* Fenced by the lease's token (store.h). */
	if (p->lease && p->lease->held)
		st.lease_fence = p->lease->token;
	store_pipeline_put_prepare(&c[0], r->app->set.state_table, &st);
	free(st.spec);
	return 1;
}

/* A record that failed is finished: its outcome goes out after the step,
 * so a run killed later still leaves it recorded. */
static int emit_state_finished(struct run *r, struct rec *p, struct aws_call *c)
{
	/* Not before the leases are asked for: every write is fenced. */
	return p->failed && r->leased ? emit_state(r, p, c) : 0;
}

static void done_state(struct run *r, struct rec *p, struct aws_call *c, int n)
{
	if (c[0].rc != TP_OK && !p->failed) {
		log_warn("pipeline %s: applied, but its status could not be recorded: %s", p->res->name,
			 c[0].err.message);
		rc_fail(p, &c[0].err);
	}
}

/* ---- the driver ---- */

enum { WHEN_OBSERVE, WHEN_APPLY, WHEN_REPEAT };

struct step {
	const char *name;
	int when;
	emit_fn emit;
	done_fn done;
};

/* WHEN_REPEAT steps poll while a record waits; the state that started the
 * wait was just read (observed, or an update's answer), so the first poll
 * comes after a pause too. */
static int fn_waiting(const struct rec *p)
{
	return p->fn_step.wait;
}

static int esm_waiting(const struct rec *p)
{
	return p->esm_step.wait;
}

static int any_waiting(const struct run *r, emit_fn emit)
{
	for (size_t i = 0; i < r->n; i++) {
		const struct rec *p = &r->recs[i];
		if (!p->failed && !p->done && (emit == rc_emit_wait ? fn_waiting(p) : esm_waiting(p)))
			return 1;
	}
	return 0;
}

/* The order is the point: the function and the mapping are waited for
 * before they are changed; a lower visibility timeout follows the lower
 * function timeout; the mapping's new limit (mapping-pre) is in force before
 * reserved concurrency is removed (extras), and reserved concurrency before
 * MaximumConcurrency is removed or the mapping enabled (mapping-post). */
static const struct step steps[] = {
	{ "find", WHEN_OBSERVE, rc_emit_find, rc_done_find },
	{ "details", WHEN_OBSERVE, rc_emit_details, rc_done_details },
	{ "mapping", WHEN_OBSERVE, rc_emit_mapping, rc_done_mapping },
	{ "wait", WHEN_REPEAT, rc_emit_wait, rc_done_wait },
	{ "mapping-wait", WHEN_REPEAT, rc_emit_esm_wait, rc_done_esm_wait },
	{ "delete-failed", WHEN_APPLY, rc_emit_delete_failed, rc_done_delete_failed },
	{ "dlq", WHEN_APPLY, rc_emit_dlq, rc_done_dlq },
	{ "dlq-url", WHEN_APPLY, rc_emit_dlq_url, rc_done_queue_url },
	{ "dlq-arn", WHEN_APPLY, rc_emit_dlq_arn, rc_done_queue_arn },
	{ "queue", WHEN_APPLY, rc_emit_main_queue, rc_done_main_queue },
	{ "queue-url", WHEN_APPLY, rc_emit_queue_url, rc_done_queue_url },
	{ "queue-arn", WHEN_APPLY, rc_emit_queue_arn, rc_done_queue_arn },
	{ "function", WHEN_APPLY, rc_emit_function_code, rc_done_function },
	{ "wait", WHEN_REPEAT, rc_emit_wait, rc_done_wait },
	{ "config", WHEN_APPLY, rc_emit_function_config, rc_done_function },
	{ "wait", WHEN_REPEAT, rc_emit_wait, rc_done_wait },
	{ "queue-late", WHEN_APPLY, rc_emit_queue_late, rc_done_all_ok },
	{ "mapping-pre", WHEN_APPLY, rc_emit_mapping_pre, rc_done_mapping_pre },
	{ "mapping-wait", WHEN_REPEAT, rc_emit_esm_wait, rc_done_esm_wait },
	{ "extras", WHEN_APPLY, rc_emit_function_extras, rc_done_extras },
	{ "mapping-post", WHEN_APPLY, rc_emit_mapping_post, rc_done_all_ok },
	{ "delete-mapping", WHEN_APPLY, rc_emit_delete_mapping, rc_done_delete },
	{ "delete-function", WHEN_APPLY, rc_emit_delete_function, rc_done_delete },
	{ "delete-queue", WHEN_APPLY, rc_emit_delete_queue, rc_done_delete },
	{ "delete-dlq", WHEN_APPLY, rc_emit_delete_dlq, rc_done_delete },
};

/* Each wait step has its own bound: the polls one step made do not count
 * against the next (a function updated twice waits twice). */
static void reset_waits(struct run *r)
{
	for (size_t i = 0; i < r->n; i++)
		r->recs[i].fn_step.waits = r->recs[i].esm_step.waits = 0;
}

/* The bound of one wait step, in polls (TASKPIPE_WAIT_POLLS: a test knob). */
static int wait_polls(void)
{
	return (int)setting_long_or_warn(SET_WAIT_POLLS);   /* default RC_WAIT_ROUNDS */
}

static int past_deadline(const struct run *r)
{
	const struct reconcile_opts *o = r->o;
	return o->deadline_ms && tp_now_ms() + o->reserve_ms >= o->deadline_ms;
}

/* The deadline is near: what has not finished is left for a retry. */
static void stop_for_deadline(struct run *r)
{
	size_t left = 0;
	for (size_t i = 0; i < r->n; i++) {
		struct rec *p = &r->recs[i];
		if (p->failed || p->done)
			continue;
		rc_failf(p, TP_ELIMIT, "DeadlineNear", "%s: stopped before finishing, the invocation deadline is near; retry",
			 p->res->name);
		/* Untouched: its recorded state is still true. */
		if (p->res->mutating_requests == 0)
			p->no_state = 1;
		left++;
	}
	if (left)
		log_warn("deadline near: %zu pipelines left unfinished for a retry", left);
}

/* Extend the leases once half-spent; a record whose lease was taken over
 * stops (LeaseLost) and leaves its state to the new holder. */
static void renew_leases(struct run *r)
{
	if (!r->leases || !r->n_leased)
		return;
	size_t n = lease_renew_many(r->app, r->leases, r->n_leased, r->holder);
	if (n)
		log_debug("leases: %zu renewed", n);
	for (size_t i = 0; i < r->n; i++) {
		struct rec *p = &r->recs[i];
		if (!p->lease)
			continue;
		p->res->lease_renewals = p->lease->renewals;
		if (!p->lease->held && !p->failed && !p->done && p->lease->err.rc) {
			rc_fail(p, &p->lease->err);
			p->no_state = 1;
		}
	}
}

static size_t run_step_inner(struct run *r, emit_fn emit, done_fn done, int include_failed);
static size_t run_step(struct run *r, emit_fn emit, done_fn done, int include_failed);

/* Run a step again for the records whose call met a refusal that clears by
 * itself (reconcile_again.c), after 0.25, 0.5, 1, 2, 4, 4... s. */
static void rerun_again(struct run *r, const struct step *st)
{
	for (int round = 0; rc_any_again(r); round++) {
		for (size_t i = 0; i < r->n; i++) {
			struct rec *p = &r->recs[i];
			p->rerun = p->again && !p->failed;
			p->again = 0;
		}
		tp_sleep_ms(round < 4 ? 250 << round : 4000);
		log_debug("step %s: rerun %d", st->name, round + 1);
		r->rerun_only = 1;
		run_step(r, st->emit, st->done, 0);
		r->rerun_only = 0;
	}
	for (size_t i = 0; i < r->n; i++)
		r->recs[i].rerun = r->recs[i].agains = 0;   /* each step has its own reruns */
}

/* Run one step for every live record; returns how many calls were made. */
static size_t run_step(struct run *r, emit_fn emit, done_fn done, int include_failed)
{
	renew_leases(r);
	size_t n = run_step_inner(r, emit, done, include_failed);
	if (!include_failed && n)
		run_step_inner(r, emit_state_finished, done_state, 1);
	return n;
}

static size_t run_step_inner(struct run *r, emit_fn emit, done_fn done, int include_failed)
{
	if (!include_failed && past_deadline(r)) {
		stop_for_deadline(r);
		return 0;
	}
	/* Room for the live records only: most are done (unchanged) in a big run. */
	size_t live = 0;
	for (size_t i = 0; i < r->n; i++)
		live += !((r->recs[i].failed && !include_failed) || r->recs[i].done);
	if (!live)
		return 0;
	struct aws_call *calls = tp_xcalloc(live * RC_MAX_CALLS, sizeof *calls);
	int *count = tp_xcalloc(r->n + 1, sizeof *count);
	size_t *start = tp_xcalloc(r->n + 1, sizeof *start);
	size_t total = 0;
	for (size_t i = 0; i < r->n; i++) {
		struct rec *p = &r->recs[i];
		start[i] = total;
		if ((p->failed && !include_failed) || p->done || (r->rerun_only && !p->rerun))
			continue;
		count[i] = emit(r, p, &calls[total]);
		total += (size_t)count[i];
	}
	if (total)
		aws_call_many(r->app->aws, calls, total);
	for (size_t i = 0; i < r->n; i++) {
		if (!count[i])
			continue;
		struct rec *p = &r->recs[i];
		for (int k = 0; k < count[i]; k++) {
			struct aws_call *c = &calls[start[i] + (size_t)k];
			p->res->requests += c->attempts;
			if (c->service == SVC_LAMBDA)
				p->res->lambda_requests += c->attempts;
			if (aws_op_is_mutating(c->op))
				p->res->mutating_requests += c->attempts;
		}
		done(r, p, &calls[start[i]], count[i]);
	}
	for (size_t i = 0; i < total; i++)
		aws_call_free(&calls[i]);
	free(calls);
	free(count);
	free(start);
	return total;
}

const char *reconcile_action_name(int action)
{
	switch (action) {
	case REC_CREATE: return "create";
	case REC_UPDATE: return "update";
	case REC_DELETE: return "delete";
	}
	return "none";
}

static void rec_free(struct rec *p)
{
	cJSON_Delete(p->item);
	cJSON_Delete(p->state);
	pipeline_free(&p->want);
	cJSON_Delete(p->old_spec);
	diff_list_free(&p->changes);
	free(p->q_url);
	free(p->dlq_url);
	cJSON_Delete(p->q_attrs);
	cJSON_Delete(p->dlq_attrs);
	cJSON_Delete(p->q_tags);
	cJSON_Delete(p->dlq_tags);
	cJSON_Delete(p->fn);
	cJSON_Delete(p->esm);
	cJSON_Delete(p->answer);
}

/* Lease every pipeline that is about to be observed and changed, and every
 * one that failed already (a read, its name, the policy) and is about to
 * have its error recorded: that write is fenced like any other. Those
 * another run holds fail with LeaseHeld (or keep their own error) and
 * leave their state alone: never overwrite another run's newer record. */
static struct lease *lease_changing(struct run *r)
{
	char **names = tp_xcalloc(r->n + 1, sizeof *names);
	struct rec **whose = tp_xcalloc(r->n + 1, sizeof *whose);
	size_t k = 0;
	for (size_t i = 0; i < r->n; i++) {
		struct rec *p = &r->recs[i];
		if (p->done || p->no_state)
			continue;
		names[k] = p->res->name;
		whose[k++] = p;
	}
	struct lease *ls = NULL;
	if (k) {
		ls = tp_xcalloc(k, sizeof *ls);
		int ttl = r->o->lease_ttl_s > 0 ? r->o->lease_ttl_s :
			  lease_ttl_for(tp_now_ms(), r->o->deadline_ms, lease_ttl_cap_s());
		lease_acquire_many(r->app, names, k, r->holder, ttl, ls);
		for (size_t i = 0; i < k; i++) {
			whose[i]->lease = &ls[i];
			if (!ls[i].held) {
				if (!whose[i]->failed)
					rc_fail(whose[i], &ls[i].err);
				whose[i]->no_state = 1;
			}
		}
	}
	r->n_leased = k;
	r->leases = ls;
	r->leased = 1;
	free(names);
	free(whose);
	return ls;
}

/* The item and the state may have changed between the first read and the
 * grant: read both again for every leased record and rerun the policy, so
 * what is applied (and recorded) is what is current. */
static void reread_leased(struct run *r)
{
	size_t k = 0;
	for (size_t i = 0; i < r->n; i++) {
		struct rec *p = &r->recs[i];
		if (!p->lease || !p->lease->held || p->failed || p->done)
			continue;
		cJSON_Delete(p->item);
		cJSON_Delete(p->state);
		p->item = p->state = NULL;
		p->known.item = p->known.state = p->known.pause = 0;
		k++;
	}
	if (!k)
		return;
	run_step_inner(r, emit_read, done_read, 0);
	for (size_t i = 0; i < r->n; i++) {
		struct rec *p = &r->recs[i];
		if (!p->lease || !p->lease->held || p->failed || p->done)
			continue;
		pipeline_free(&p->want);
		cJSON_Delete(p->old_spec);
		p->spec = p->old_spec = NULL;
		p->res->hash[0] = 0;
		run_policy(r, p);
		const char *spec = ddb_get_str(p->state, "spec", NULL);
		if (spec && !p->done)
			p->old_spec = cJSON_Parse(spec);
	}
}

/* The progress line (a terminal only): the step and how many pipelines
 * are still in work, of how many. */
static void step_progress(const struct run *r, const char *name, size_t s, size_t n)
{
	size_t live = 0;
	for (size_t i = 0; i < r->n; i++)
		live += !r->recs[i].failed && !r->recs[i].done;
	progress_phase("step %zu/%zu %s | %zu of %zu pipelines in work", s + 1, n, name, live, r->n);
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sort and drop duplicates, in place; returns the new count. */
static size_t sort_unique(char **names, size_t n)
{
	qsort(names, n, sizeof *names, cmp_name);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (k && strcmp(names[k - 1], names[i]) == 0) {
			free(names[i]);
			continue;
		}
		names[k++] = names[i];
	}
	return k;
}

static struct rec *find_rec(struct run *r, const char *name)
{
	size_t lo = 0, hi = r->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(r->recs[mid].res->name, name);
		if (c == 0)
			return &r->recs[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* A limit group's item was written or removed (a stream record, `apply
 * limit#NAME`): its members are appended to *list. A removal is recorded
 * first (limit_group.h), so the members apply without the group; a plan
 * writes nothing and only assumes it. */
static int group_changed(struct app *app, struct limit_groups *groups, const char *name, int plan, char ***list,
			 size_t *nl, size_t n_rest, tp_err *e)
{
	cJSON *item = NULL;
	char *key = limit_group_key(name);
	int rc = config_item_get(app, key, &item, e);
	free(key);
	if (rc == TP_OK && item)
		limit_groups_add(groups, item);
	else if (rc == TP_OK)
		limit_groups_removed(groups, name);
	if (rc == TP_OK && !plan)
		rc = item ? limit_group_present(app, name, e) : limit_group_removed(app, name, e);
	int present = item != NULL;
	cJSON_Delete(item);
	char **members = NULL;
	size_t nm = 0;
	if (rc == TP_OK)
		rc = limit_group_members(app, name, &members, &nm, e);
	if (rc < 0)
		return rc;
	log_info("limit group %s %s: %zu member(s) apply again", name, present ? "changed" : "removed", nm);
	/* room for the names still to come after this one too (n + 1 at first) */
	*list = tp_xrealloc(*list, (*nl + nm + n_rest + 1) * sizeof **list);
	for (size_t i = 0; i < nm; i++)
		(*list)[(*nl)++] = members[i];
	free(members);
	return TP_OK;
}

int reconcile_run(struct app *app, char *const *names, size_t n, int all,
		  const struct reconcile_opts *o, struct rec_result **out, size_t *n_out, tp_err *e)
{
	*out = NULL;
	*n_out = 0;
	if (!o->plan && app_may_write(app, e) < 0)
		return e->rc;
	char **list = NULL;
	size_t nl = 0;
	struct limit_groups *groups = limit_groups_new(app, app->policy);
	cJSON *items = cJSON_CreateArray(), *states = cJSON_CreateArray();
	struct store_pauses pauses = { 0 };
	if (all) {
		/* Both scans are consistent reads: no per-pipeline read is needed after. */
		int rc = ddb_scan_all(app->aws, app->set.config_table, NULL, items, e);
		if (rc == TP_OK)
			rc = ddb_scan_all(app->aws, app->set.state_table, STORE_PREFIX_PIPELINE, states, e);
		if (rc == TP_OK)
			rc = store_pauses_scan(app->aws, app->set.state_table, &pauses, e);
		if (rc < 0) {
			cJSON_Delete(items);
			cJSON_Delete(states);
			store_pauses_free(&pauses);
			limit_groups_free(groups);
			return rc;
		}
		list = tp_xcalloc((size_t)cJSON_GetArraySize(items) + (size_t)cJSON_GetArraySize(states) + 1,
				  sizeof *list);
		cJSON *it;
		cJSON_ArrayForEach(it, items) {
			const char *name = ddb_get_str(it, "pipeline", NULL);
			if (limit_group_key_is(name))
				limit_groups_add(groups, it); /* not a pipeline: its members' input */
			else if (name)
				list[nl++] = tp_xstrdup(name);
		}
		cJSON_ArrayForEach(it, states) {
			const char *name = ddb_get_str(it, "pipeline", NULL);
			/* Finished ones stay out: deleted, or kept for an operator. */
			const char *st = ddb_get_str(it, "status", "");
			if (name && strcmp(st, "deleted") != 0 && strcmp(st, "kept") != 0)
				list[nl++] = tp_xstrdup(name);
		}
	} else {
		list = tp_xcalloc(n + 1, sizeof *list);
		for (size_t i = 0; i < n; i++) {
			if (!limit_group_key_is(names[i])) {
				list[nl++] = tp_xstrdup(names[i]);
				continue;
			}
			/* A limit group's item changed: its members apply again. */
			if (group_changed(app, groups, limit_group_key_name(names[i]), o->plan, &list, &nl, n - i - 1,
					  e) < 0) {
				for (size_t j = 0; j < nl; j++)
					free(list[j]);
				free(list);
				limit_groups_free(groups);
				cJSON_Delete(items);
				cJSON_Delete(states);
				return e->rc;
			}
		}
	}
	nl = sort_unique(list, nl);

	struct run r = { .app = app, .o = o, .n = nl, .wait_polls = wait_polls(), .groups = groups };
	/* One holder per run: two runs in one process must not share leases. */
	static unsigned long runs;
	if (o->holder) {
		snprintf(r.holder, sizeof r.holder, "%s", o->holder);
	} else {
		char base[160];
		lease_holder_id("run", base, sizeof base);
		snprintf(r.holder, sizeof r.holder, "%s:%lu:%lld", base, ++runs, (long long)tp_now_ms());
	}
	r.recs = tp_xcalloc(nl + 1, sizeof *r.recs);
	struct rec_result *res = tp_xcalloc(nl + 1, sizeof *res);
	for (size_t i = 0; i < nl; i++) {
		res[i].name = list[i];
		r.recs[i].res = &res[i];
	}
	free(list);
	if (all) {
		cJSON *it;
		while ((it = cJSON_DetachItemFromArray(items, 0))) {
			struct rec *p = find_rec(&r, ddb_get_str(it, "pipeline", ""));
			if (p && !p->item)
				p->item = it;
			else
				cJSON_Delete(it);
		}
		while ((it = cJSON_DetachItemFromArray(states, 0))) {
			struct rec *p = find_rec(&r, ddb_get_str(it, "pipeline", ""));
			if (p && !p->known.state) {
				p->state = it;
				p->known.state = 1;
			} else {
				cJSON_Delete(it);
			}
		}
		/* Scanned: an item missing from the scan is gone, a state missing has none. */
		for (size_t i = 0; i < nl; i++) {
			r.recs[i].known.item = r.recs[i].known.state = r.recs[i].known.pause = 1;
			r.recs[i].paused = store_pauses_find(&pauses, r.recs[i].res->name) != NULL;
		}
		store_pauses_free(&pauses);
	}
	cJSON_Delete(items);
	cJSON_Delete(states);
	/* Throttled calls retry, backing off, until the run's deadline (aws.h). */
	aws_set_deadline(app->aws, o->deadline_ms);
	cJSON *ctx = app_policy_ctx_value(app);
	policy_set_ctx(app->policy, ctx); /* once for the whole run */
	char host[64];
	snprintf(host, sizeof host, "taskpipe %s %s", TASKPIPE_VERSION, policy_engine_version());
	pipeline_input_begin(&r.input, host, policy_sha256(app->policy), ctx);
	cJSON_Delete(ctx);

	progress_phase("%zu pipelines: reading items and state", nl);
	run_step(&r, emit_read, done_read, 0);
	for (size_t i = 0; i < nl; i++) {
		struct rec *p = &r.recs[i];
		if (!p->failed)
			run_policy(&r, p);
		/* The last applied spec matters only to pipelines that change. */
		const char *spec = ddb_get_str(p->state, "spec", NULL);
		if (spec && !p->done)
			p->old_spec = cJSON_Parse(spec);
	}
	struct lease *leases = o->plan ? NULL : lease_changing(&r);
	if (leases)
		reread_leased(&r);

	for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++) {
		const struct step *st = &steps[s];
		if (progress_on())
			step_progress(&r, st->name, s, sizeof steps / sizeof steps[0]);
		if (st->when != WHEN_OBSERVE && steps[s - 1].when == WHEN_OBSERVE) {
			/* Observation done: check ownership and diff before any change. */
			for (size_t i = 0; i < nl; i++)
				if (!r.recs[i].failed && !r.recs[i].done)
					rc_check_and_diff(&r, &r.recs[i]);
			/* The account's pool: refuse what does not fit before anything is made. */
			rc_pool_check(&r);
			if (o->plan)
				break;
		}
		if (st->when == WHEN_REPEAT) {
			/* Polls 0.25, 0.5, 1 s apart, then every 2 s: a
			 * transition takes seconds on AWS, and each poll is a
			 * Lambda control-plane call. */
			reset_waits(&r);
			for (int round = 0; round <= r.wait_polls && any_waiting(&r, st->emit); round++) {
				tp_sleep_ms(round < 3 ? 250 << round : 2000);
				if (!run_step(&r, st->emit, st->done, 0))
					break;
			}
		} else {
			run_step(&r, st->emit, st->done, 0);
			rerun_again(&r, st);
		}
	}

	if (!o->plan)
		run_step(&r, emit_state, done_state, 1);
	if (leases) {
		long renewals = 0;
		for (size_t i = 0; i < r.n_leased; i++)
			renewals += leases[i].renewals;
		if (renewals)
			log_info("leases: %ld renewals over %zu leases", renewals, r.n_leased);
		lease_release_many(app, leases, r.n_leased, r.holder);
		lease_clear(leases, r.n_leased);
		free(leases);
	}

	for (size_t i = 0; i < nl; i++) {
		struct rec *p = &r.recs[i];
		if (p->spec) {
			spec_demand(&p->want.spec, &res[i].reserved, &res[i].max_concurrency);
			res[i].has_spec = 1;
		}
		res[i].changes = (int)p->changes.n;
		if (!p->spec && p->drain.status && !p->failed)
			res[i].state = store_status_name(p->drain.status);
		diff_list_move(&res[i].diff, &p->changes);
		if (res[i].action == REC_NONE && !p->failed)
			res[i].changes = 0;
		rec_free(p);
	}
	free(r.recs);
	limit_groups_free(groups);
	cJSON_Delete(r.code_versions);
	cJSON_Delete(r.code_pins);
	aws_set_deadline(app->aws, 0);
	*out = res;
	*n_out = nl;
	return TP_OK;
}

void reconcile_results_free(struct rec_result *r, size_t n)
{
	if (!r)
		return;
	for (size_t i = 0; i < n; i++) {
		free(r[i].name);
		free(r[i].note);
		diff_list_free(&r[i].diff);
	}
	free(r);
}
