/* events.h: what an incoming event is and what to do with it; shared by the
 * Lambda runtime loop and `taskpipe watch`.
 *
 *   DynamoDB stream batch  Records[].eventSource "aws:dynamodb": each distinct
 *                          Keys.pipeline.S reconciled once (level-triggered),
 *                          under a per-pipeline lease; answer
 *                          {"batchItemFailures":[{"itemIdentifier":"<seq>"}]}
 *                          naming every record of every failed pipeline.
 *   SNS-wrapped S3 event   Records[].EventSource "aws:sns", Sns.Message holding
 *                          S3 ObjectCreated records: a rollout of each object.
 *   EventBridge schedule   source "aws.events", detail-type "Scheduled Event":
 *                          drift check with repair, then rollouts resume.
 *   Direct invoke          {"taskpipe":"apply","pipelines":[...]},
 *                          {"taskpipe":"apply-all"}, {"taskpipe":"plan",
 *                          "pipelines":[...]} (none: all): per-pipeline JSON.
 *   Anything else          error UnrecognizedEvent naming the top-level keys.
 */
#ifndef TP_EVENTS_H
#define TP_EVENTS_H

#include "core/app.h"
#include "core/reconcile/reconcile.h"

struct cJSON;

struct ev_opts {
	int64_t deadline_ms;   /* epoch ms by which the answer must be sent; 0: none */
	int64_t reserve_ms;    /* start no new work this close to the deadline */
	const char *holder;    /* lease holder id (lease_holder_id) */
	int lease_ttl_s;       /* lease duration; 0: derived from the deadline, else 120 */
};

/* Handle one event. On success *resp is the JSON answer (caller frees with
 * cJSON_Delete). On failure returns < 0 and e->code is the errorType. */
int events_handle(struct app *app, const struct cJSON *event, const struct ev_opts *o,
		  struct cJSON **resp, tp_err *e);

/* A stream batch: records is the Records array. *failed is a new array of
 * the sequence numbers (strings) of records to retry, in batch order. */
int events_stream_batch(struct app *app, const struct cJSON *records, const struct ev_opts *o,
			struct cJSON **failed, tp_err *e);

/* The same, with *errors (when errors is not NULL) a new object: failed
 * sequence number -> {"pipeline","code","message","transient"}. */
int events_stream_batch_detail(struct app *app, const struct cJSON *records, const struct ev_opts *o,
			       struct cJSON **failed, struct cJSON **errors, tp_err *e);

/* Will retrying later fix this? Throttling, 5xx, I/O, LeaseHeld, LeaseLost,
 * DeadlineNear, QueueDeletedRecently, ResourceConflict/InUse: yes. A policy
 * error, a collision, a bad item or record, a refused parameter: no. */
int events_transient(const tp_err *e);

/* What events_reconcile reconciles, and how. */
struct ev_reconcile {
	char *const *names;  /* the pipelines by name (repeats are reconciled once) */
	size_t n;
	int all;             /* every item and recorded pipeline, names or not */
	int plan;            /* observe and diff only (reconcile_opts.plan) */
	int force;           /* run the policy and observe even when nothing changed */
};

/* Reconcile w's pipelines with o's lease holder and deadline (reconcile.h):
 * a pipeline whose lease another run holds, or that the deadline left no
 * time for, fails with LeaseHeld / DeadlineNear: retry it later. Results as
 * from reconcile_run, one per distinct name. */
int events_reconcile(struct app *app, const struct ev_reconcile *w, const struct ev_opts *o,
		     struct rec_result **out, size_t *n_out, tp_err *e);

/* A new consumer code object version was uploaded: roll it out
 * (rollout_on_upload_until, within o's deadline). *outcome is the
 * rollout's JSON outcome (never NULL). */
int events_code_changed(struct app *app, const char *bucket, const char *key, const char *version,
			const struct ev_opts *o, struct cJSON **outcome, tp_err *e);

/* Scheduled run: the drift check with repair (at most 2,000 pipelines per
 * invocation, continuing from its cursor), then unfinished rollouts resume.
 * *resp = {"drift": <drift document>, "rollouts": [outcomes]}. */
int events_scheduled(struct app *app, const struct ev_opts *o, struct cJSON **resp, tp_err *e);

#endif
