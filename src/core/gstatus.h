/* gstatus.h: group status, one row per group, for `taskpipe status`: what
 * is configured, what is waiting, what is running and what is failing.
 *
 * Sources, all read-only:
 *   config and state tables   the item (rate, burst, concurrency) and the
 *                             applied spec (mapping Enabled, MaximumConcurrency),
 *                             the pipeline's status and queue URLs: two Scans
 *                             (paged), or a GetItem pair per named group;
 *   SQS GetQueueAttributes    visible, in flight, delayed (queue) and the
 *                             DLQ's depth: two calls per group, concurrent;
 *   CloudWatch GetMetricData  AWS/SQS ApproximateAgeOfOldestMessage (Maximum)
 *                             and NumberOfMessagesSent, AWS/Lambda Invocations,
 *                             Errors, Throttles (Sum), 60 s periods over the
 *                             last 15 minutes: 5 queries per group, 500 a
 *                             call (100 groups), calls concurrent.
 * Metrics use the latest complete minute for "last 1 min" and the five
 * before the current one for "last 5 min" rates; errors and throttles also
 * count the current minute; the oldest task's age is the latest point of
 * the last 5 minutes (0 when the queue holds nothing). */
#ifndef TP_GSTATUS_H
#define TP_GSTATUS_H

#include "aws/aws.h"
#include "core/names.h"
#include "core/settings.h"

#include <stdint.h>

#define GS_METRICS_PER_GROUP 5
#define GS_WINDOW_S 900   /* 15 min: 16 points a query (see docs/operations.md "Status" for the quota arithmetic) */

struct gs_row {
	char *group;
	struct names nm;
	char state[16];          /* ok | error | draining | pending */
	char *message;           /* the error (state error), else NULL */
	int enabled;             /* 1 consuming, 0 paused, -1 unknown (the applied spec) */
	int item_enabled;        /* the item's own "enabled" (its word): 1, 0, -1 no item */
	int operator_paused;     /* an operator's pause is recorded (taskpipe pause, pause#) */
	char rate[40];           /* the item's rate as written ("" none) */
	char burst[40];          /* the item's burst ("" none) */
	long concurrency;        /* item's concurrency, else the spec's MaximumConcurrency; -1 none */
	long visible, in_flight, delayed, dlq;   /* -1: unknown */
	double starts_1m, starts_5m;             /* tasks started per second (Invocations); -1 unknown */
	double errors_5m, throttles_5m, sent_5m; /* counts; -1 unknown */
	double age_s;            /* oldest task's age, s; -1 unknown */
	int64_t last_activity;   /* epoch s of the last minute with sends or starts; 0: none in the window */
	char *problem;           /* what could not be read for this row, NULL: all read */
};

struct gs_report {
	struct gs_row *v;
	size_t n;
	long ddb_calls, sqs_calls, cw_calls;  /* requests made, by service */
	int64_t elapsed_ms;
	char *cw_problem;        /* CloudWatch failed as a whole (metrics unknown), else NULL */
};

/* Rows for the named groups (n > 0; an unknown name is a row in state
 * "unknown" with a problem) or for every group (n == 0). now_s: the clock. */
int gs_collect(struct aws *a, const struct settings *set, char *const *groups, size_t n,
		   int64_t now_s, struct gs_report *out, tp_err *e);
void gs_report_free(struct gs_report *r);

/* Fill a row's metric fields from its 5 series (in the order of the
 * queries status builds: age, sent, invocations, errors, throttles). */
struct cw_series;
void gs_apply_metrics(struct gs_row *row, const struct cw_series *s, int64_t now_s);

/* Which rows to show: status's filters and top's keys, every one set must
 * hold (a zeroed filter shows every row). */
struct gs_filter {
	const char *name;       /* a substring of the group name; NULL or "": any */
	const char *state;      /* ok, error, draining, pending; NULL: any */
	int paused;             /* paused: the mapping is off or an operator paused it */
	int enabled;            /* consuming */
	int backlog;            /* visible or delayed tasks waiting */
	int failing;            /* handler errors or throttles in the last 5 min, or a non-empty DLQ */
	int problems;           /* failing, or a state other than ok */
	double min_age;         /* the oldest task at least this many seconds old; 0: any */
};
int gs_row_shown(const struct gs_row *r, const struct gs_filter *f);

/* Sort keys: "age" (worst first: oldest task, then visible; the default),
 * "name", "visible", "inflight", "dlq", "errors", "throttles", "starts",
 * "state". Returns -1 for an unknown key. */
int gs_sort(struct gs_report *r, const char *key);

#endif
