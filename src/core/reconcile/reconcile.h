/* reconcile.h: make pipelines match their config items, level-triggered.
 *
 * For each pipeline: read the item as it is now (consistent read) and the
 * last status from the state table; when the status is ok and the policy's
 * inputs hash as recorded (pipeline_input_hash), stop there without the
 * policy; else run the policy; when the spec's hash equals the last
 * successfully applied one, stop there (no AWS call beyond DynamoDB). Otherwise observe the queue, dead-letter queue, function,
 * concurrency and event source mapping, diff field by field and make only
 * the calls that differ, in order: DLQ, queue (redrive policy), function
 * code, function configuration, concurrency, mapping. With the item gone,
 * drain first: mapping and function keep consuming until the queue has
 * been empty a while, then mapping, function, queue and DLQ go in that
 * order, a queue holding messages kept (reconcile_drain.c). An item past
 * its expires_at counts as gone. Resources without taskpipe's owner tag
 * are never changed or deleted: that pipeline reports a collision.
 * The outcome goes to the state table, never to the config table.
 *
 * Many pipelines run in lockstep, step by step, each step's calls for all
 * pipelines in one concurrent batch within the Lambda budget.
 *
 * An operator's pause (pause#<name> in the state table, core/pause.h) is
 * read with the state and disables the mapping in the spec.
 *
 * One writer per pipeline: a pipeline that needs changes is leased first
 * (lease.h) and its state write is fenced by the lease's token; a pipeline
 * whose lease another run holds fails with LeaseHeld (retry later) and
 * leaves no state. Confirming an unchanged pipeline needs no lease. With a
 * deadline, no step starts after deadline - reserve: the pipelines not
 * finished fail with DeadlineNear and are retried later.
 *
 * AWS is asynchronous: a function Pending or updating, and a mapping in a
 * transition, are waited for (bounded) before they are changed; what does
 * not settle in time, and QueueDeletedRecently, fail retryable (never "ok").
 * A group's concurrency limit is never loosened before the new one is in
 * force (see reconcile_apply.c).
 *
 * Every run has its own holder id, leases sized to it (lease_ttl_for) and
 * renewed between steps once half-spent. After the grant the item and the
 * state are read again and the policy rerun: the run acts on what is
 * current, not on what it read before it held the lease. A pipeline that
 * fails has its state written after that step, not only at the end, so a
 * run cut off later leaves a true record of what it finished.
 */
#ifndef TP_RECONCILE_H
#define TP_RECONCILE_H

#include "core/app.h"
#include "core/diff.h"

enum rec_action { REC_NONE, REC_CREATE, REC_UPDATE, REC_DELETE };

struct rec_result {
	char *name;            /* pipeline name */
	int rc;                /* TP_OK or the error */
	tp_err err;            /* why it failed */
	int retryable;         /* the failure clears by itself: retry later (a transition,
				  a throttle, a queue name deleted < 60 s ago) */
	int action;            /* enum rec_action */
	int changes;           /* number of changes (planned or made); 0 when unchanged */
	struct diff_list diff; /* those changes (diff.h); rendered by runtime/rec_json.h */
	char hash[65];         /* desired spec hash ("" when the item is gone) */
	long requests;         /* AWS requests made for this pipeline */
	long lambda_requests;  /* of which Lambda control plane */
	long mutating_requests;/* of which mutating */
	int lease_renewals;    /* times its lease was extended during the run */
	const char *state;     /* item gone: "draining", "kept" or "deleted" (static); NULL: live */
	long dropped;          /* delete_now: messages deleted with the queues */
	int confirmed;         /* unchanged since its last apply by the input or spec hash:
				  its resources were not observed (not checked) */
	int paused;            /* an operator's pause is recorded (core/pause.h) */
	int has_spec;          /* the policy gave a spec this run: the two below are known */
	long reserved;         /* its func.ReservedConcurrentExecutions (0: none) */
	long max_concurrency;  /* its enabled mapping's MaximumConcurrency (0: none) */
	char *note;            /* said to the operator beside the outcome (a removed limit group); NULL: none */
};

struct reconcile_opts {
	int plan;              /* observe and diff only; change nothing, write no state */
	int force;             /* run the policy and observe even when nothing changed */
	const char *holder;    /* lease holder id (lease_holder_id); NULL: one of this run's own */
	int lease_ttl_s;       /* lease length; 0: lease_ttl_for(deadline), renewed at half */
	int64_t deadline_ms;   /* epoch ms: start no step after deadline - reserve; 0: none */
	int64_t reserve_ms;    /* margin before the deadline */
	int delete_now;        /* a removed item's pipeline goes at once, messages too (rm --now) */
	int known_only;        /* a named pipeline with neither item nor state fails NotFound
				  (the CLI); else it is a no-op (a stream's REMOVE) */
};

/* Reconcile the n named pipelines, or with all=1 every item of the config
 * table plus every pipeline the state table still records (so pipelines
 * whose items were deleted are removed). Results in *out (n_out entries),
 * one per pipeline; returns TP_OK unless the run itself could not start
 * (then e says why). */
int reconcile_run(struct app *app, char *const *names, size_t n, int all,
		  const struct reconcile_opts *o, struct rec_result **out, size_t *n_out, tp_err *e);
void reconcile_results_free(struct rec_result *r, size_t n);

const char *reconcile_action_name(int action);

/* 1 when an error code means "not now, retry later" (a transition,
 * throttling, QueueDeletedRecently, a lease held elsewhere, a deadline). */
int reconcile_retryable_code(const char *code);

#endif
