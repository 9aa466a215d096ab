/* events.h: what an incoming event is and what to do with it; shared by the
 * Lambda runtime loop and `taskpipe watch`.
 *
 *   DynamoDB stream batch  Records[].eventSource "aws:dynamodb": each distinct
 *                          Keys.pipeline.S reconciled once (level-triggered),
 *                          under a per-pipeline lease; answer
 *                          {"batchItemFailures":[{"itemIdentifier":"<seq>"}]}
 *                          naming every record of every failed pipeline.
 *   SNS-wrapped S3 event   Records[].EventSource "aws:sns", Sns.Message holding
 *                          S3 ObjectCreated records: events_code_changed().
 *   EventBridge schedule   source "aws.events", detail-type "Scheduled Event":
 *                          events_scheduled().
 *   Direct invoke          {"taskpipe":"apply","pipelines":[...]},
 *                          {"taskpipe":"apply-all"}, {"taskpipe":"plan",
 *                          "pipelines":[...]} (none: all): per-pipeline JSON.
 *   Anything else          error UnrecognizedEvent naming the top-level keys.
 */
#ifndef TP_EVENTS_H
#define TP_EVENTS_H

#include "app.h"
#include "reconcile.h"

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

/* Reconcile the named pipelines under leases (the lease holder of o). A
 * pipeline whose lease another run holds, or that the deadline left no time
 * for, fails with LeaseHeld / DeadlineNear: retry it later. Results as
 * from reconcile_run, one per distinct name. */
int events_reconcile(struct app *app, char *const *names, size_t n, int plan, int force,
		     const struct ev_opts *o, struct rec_result **out, size_t *n_out, tp_err *e);

/* Rollout hook: a new consumer code object version was uploaded. Logs for
 * now (the rollout issue implements it). */
int events_code_changed(struct app *app, const char *bucket, const char *key, const char *version);

/* Scheduled run: every pipeline (config items and recorded states),
 * reconciled under leases. The drift issue replaces this. *resp as events_handle. */
int events_scheduled(struct app *app, const struct ev_opts *o, struct cJSON **resp, tp_err *e);

/* One reconcile result as JSON (pipeline, status, action, changes, error, requests). */
struct cJSON *events_result_json(const struct rec_result *r);

#endif
