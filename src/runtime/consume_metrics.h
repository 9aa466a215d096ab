/* consume_metrics.h: the consumer layer's metrics (taskpipe consume).
 *
 * What the proxy alone sees, counted per instance and written as one EMF
 * line (emf.h) at the end of an invocation: at once when it saw trouble
 * (a handler error, pushback, records given back, a start wait of an
 * interval or more), else once the interval has passed; and when the
 * proxy exits:
 *   TasksStarted      records handed to the handler            Count
 *   TasksRateLimited  records the handler returned rateLimited Count
 *   TasksReturned     records given back unstarted: the rate left
 *                     no time before the deadline              Count
 *   HandlerErrors     records the handler failed: its own batchItemFailures
 *                     (rate-limited ones apart), or the whole batch when
 *                     it posted /error                         Count
 *   StartWait         per batch, ms from the oldest record's SentTimestamp
 *                     to its start (queue time plus pacing)    Milliseconds
 * TASKPIPE_METRICS: "fleet" (default) publishes without dimensions, one
 * metric per name for the whole account; "detailed" (an item's metrics =
 * "detailed") adds the set [FunctionName]; "off" writes nothing.
 * TASKPIPE_METRICS_INTERVAL: seconds between quiet lines (default 60; 0:
 * a line per invocation). An instance Lambda reclaims before its next
 * invocation loses at most its last interval of quiet starts, never trouble.
 */
#ifndef TP_CONSUME_METRICS_H
#define TP_CONSUME_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/emf.h"

struct cJSON;

struct cmetrics {
	enum emf_mode mode;
	char function[128];       /* AWS_LAMBDA_FUNCTION_NAME: the detailed dimension */
	int64_t interval_ms;
	int64_t opened_ms;        /* first count of this interval; 0: nothing counted */
	int64_t last_ms;          /* latest count: the line's Timestamp */
	int cur_records;          /* records of the invocation in flight */
	long started, rate_limited, returned, errors;
	double wait[EMF_MAX_VALUES];
	size_t n_wait;
};

/* From the environment; a bad TASKPIPE_METRICS or interval is logged and
 * the default used (metrics never stop a consumer). */
void cm_init(struct cmetrics *m);

/* An event handed to the handler (body: the /next answer). */
void cm_started(struct cmetrics *m, const struct cJSON *event, int64_t now_ms);
void cm_started_body(struct cmetrics *m, const char *body, size_t len, int64_t now_ms);
/* k records given back without running. */
void cm_returned(struct cmetrics *m, int k, int64_t now_ms);
/* The handler's answer to the invocation in flight: kind "response" (body
 * the handler's JSON) or "error". */
void cm_answer(struct cmetrics *m, const char *kind, const char *body, size_t len, int64_t now_ms);
/* Write the interval's line when it is due (force: whatever is counted). */
void cm_flush(struct cmetrics *m, int64_t now_ms, int force);
/* The proxy is ending: the records of an invocation still in flight count
 * as handler errors (the runtime exited holding them); write the rest. */
void cm_exit(struct cmetrics *m, int64_t now_ms);

#endif
