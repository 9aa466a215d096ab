/* watch.h: the config table's stream follower for running outside Lambda
 * (`taskpipe watch`). It reads the DynamoDB stream (DescribeTable ->
 * DescribeStream -> GetShardIterator -> GetRecords) and hands every batch
 * to the same handler as the Lambda path (events_stream_batch). After each
 * batch the highest fully handled sequence number is checkpointed in the
 * state table (store.h: checkpoint#<shard>), so a restart resumes there;
 * records of failed pipelines are retried by resuming at the lowest failed
 * one, with backoff. Parents are read before their children (per-key
 * order); shards are rediscovered every 30 s. At a restart a shard without
 * a checkpoint whose lineage (ParentShardId, ...) was read or checkpointed
 * starts at TRIM_HORIZON, never LATEST: a rollover while watch was away
 * loses nothing.
 *
 * A record that fails for good (events_transient says retrying will not
 * help: a policy error, a collision, a bad item) is tried max_attempts
 * times, then recorded (store.h: skipped#<shard>#<seq>, with the error) and
 * skipped, so it never holds up the records behind it on its shard until
 * the stream trims it (24 h). Transient failures (throttling, LeaseHeld,
 * DeadlineNear, ...) are retried without limit. */
#ifndef TP_WATCH_H
#define TP_WATCH_H

#include "core/app.h"

struct cJSON;

#define WATCH_MAX_ATTEMPTS_DEFAULT 3

struct watch_opts {
	int from_start;        /* without a checkpoint: TRIM_HORIZON, not LATEST */
	int once;              /* stop when caught up; transient failures left for the next run */
	long interval_ms;      /* wait between polls of an idle stream */
	int max_attempts;      /* permanent failures: tries before a record is skipped */
	const char *holder;    /* lease holder id (lease_holder_id) */
};

/* One handled batch, for the caller to show. Borrowed for the call. */
struct watch_batch {
	const char *shard;             /* shard id */
	const struct cJSON *records;   /* the stream records (GetRecords' Records) */
	const struct cJSON *failed;    /* sequence numbers to retry (strings), NULL: none */
	const struct cJSON *skipped;   /* sequence numbers skipped for good (strings) */
	const char *checkpoint;        /* checkpointed sequence number, NULL: none */
};

struct watch_result {
	int failures;          /* batches with records left for a retry */
	long skipped;          /* records skipped */
	int stopped;           /* 1: by watch_stop, 0: caught up (once) */
};

typedef void (*watch_report_fn)(void *ctx, const struct watch_batch *b);

/* Follow app's config table's stream until watch_stop (or, with once, until
 * caught up); report is called after every batch. < 0 with e filled when it
 * cannot start (no stream, DescribeStream failed). */
int watch_run(struct app *app, const struct watch_opts *o, watch_report_fn report, void *ctx,
	      struct watch_result *res, tp_err *e);

/* Stop after the current batch; async-signal-safe (call it from a handler). */
void watch_stop(void);

#endif
