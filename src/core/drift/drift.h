/* drift.h: the drift check. Compares every pipeline's desired spec (config
 * item + policy) with what AWS has, observing the whole fleet with list
 * calls (Lambda ListFunctions pages of 50, ListEventSourceMappings pages of
 * 100, SQS ListQueues by prefix + GetQueueAttributes, tags from the Resource
 * Groups Tagging API), never one describe per resource. So the Lambda
 * control-plane cost is about n/50 + n/100 calls for n pipelines, plus one
 * ListTags per function whose tags the (lagging) Tagging API lacks or shows
 * different from the spec; queues the lists lack are confirmed with
 * GetQueueUrl / ListQueueTags (SQS) before being called missing or a
 * collision. Tags are compared as apply compares them (stale ones too).
 *
 * Reports per pipeline: in_sync, drifted (resource, field, expected, actual;
 * environment values are never shown, only keys), missing (a resource is
 * gone), collision (a same-named resource without our owner tag: never
 * touched), error (policy or name); the Code field marks "code behind"
 * (Description marker differs from the spec's code object). Orphans are
 * resources carrying our owner tag whose config item is gone; those of a
 * pipeline the state table records as draining (or whose item is past its
 * expires_at) or as kept are reported as such, not as drift (exit 0), and
 * fix continues a drain (reconcile) but leaves kept queues alone.
 * Not visible to list calls, so not checked: reserved concurrency (use
 * `apply --force`). The report carries the checked pipelines' demand on
 * the account's concurrency pool (core/pool.h) and the account's numbers
 * (one GetAccountSettings).
 *
 * fix=1 repairs drifted and missing pipelines and removes orphans through
 * reconcile_run (force), never touching collisions, within deadline_ms and
 * under the holder given (else one of the run's own): leases sized to the
 * time left, state written per pipeline (reconcile.h).
 * max_pipelines > 0 checks at most that many pipelines (in name order, items
 * and orphans together) after the cursor stored in the state table under
 * pk "drift#cursor", then saves the cursor; the next run continues there,
 * and the cursor is cleared when a run reaches the end.
 */
#ifndef TP_DRIFT_H
#define TP_DRIFT_H

#include "core/app.h"
#include "core/diff.h"
#include "core/pool.h"

struct drift_opts {
	int fix;              /* repair drift and remove orphans */
	long max_pipelines;   /* 0: all; else at most N, continuing from the cursor */
	/* For the repair (reconcile_opts): */
	int64_t deadline_ms;  /* epoch ms: start no step after deadline - reserve; 0: none */
	int64_t reserve_ms;
	const char *holder;   /* lease holder id; NULL: the run's own */
	int lease_ttl_s;      /* 0: sized to the deadline (lease_ttl_for) */
};

/* Exit status convention, also in the report (exit_code). */
enum drift_exit {
	DRIFT_EXIT_OK = 0,     /* in sync (with fix: everything repaired) */
	DRIFT_EXIT_ERROR = 1,  /* a pipeline errored or a repair failed */
	DRIFT_EXIT_DRIFT = 2,  /* drift left: found without fix, or a collision */
};

/* A pipeline's status; the worst of its entries (in this order). */
enum drift_status {
	DRIFT_IN_SYNC,
	DRIFT_DRIFTED,
	DRIFT_MISSING,
	DRIFT_COLLISION,
	DRIFT_ERROR,
	DRIFT_STATUS_N
};
/* "in_sync", "drifted", "missing", "collision", "error" */
const char *drift_status_name(enum drift_status s);

/* One difference. expected: the spec's side; actual: what AWS has (for
 * environment variables only the key is named, never a value). */
struct drift_entry {
	char *resource, *field, *expected, *actual;
	char *note;           /* why it matters; NULL: none */
};

/* The repair of one pipeline or orphan (fix=1). */
enum drift_fix_status { DRIFT_FIX_NONE, DRIFT_FIX_FIXED, DRIFT_FIX_FAILED };
struct drift_fix {
	enum drift_fix_status status;   /* NONE: not tried */
	struct diff_list changes;       /* what the reconcile changed */
	tp_err err;                     /* FAILED: why */
};

struct drift_pipeline {
	char *name;
	enum drift_status status;
	struct drift_entry *drift;
	size_t n_drift;
	int code_behind;      /* the function's code is behind the item */
	tp_err err;           /* status DRIFT_ERROR: why */
	struct drift_fix fix;
};

/* A resource of an orphan: resource is "function", "queue" or
 * "dead-letter queue". */
struct drift_resource {
	char *resource, *name;
};

struct drift_orphan {
	char *name;           /* the pipeline whose config item is gone (or expired) */
	const char *state;    /* "draining" or "kept" (a removed item's drain, not
				 drift: exit 0); NULL: an orphan */
	struct drift_resource *res;
	size_t n_res;
	struct drift_fix fix;
};

struct drift_summary {
	long checked;                   /* pipelines with an item */
	long count[DRIFT_STATUS_N];     /* by status */
	long orphans, fixed, fix_failed;
	long draining, kept;            /* removed items' pipelines (not in orphans) */
};

/* Requests of one operation ("lambda:ListFunctions") during the run. */
struct drift_calls {
	char *op;
	long n;
};

/* The queues of the pipelines this run checked, as GetQueueAttributes
 * showed them (no extra call): the fleet totals the scheduled run
 * publishes as metrics. A run with max_pipelines covers its part only. */
struct drift_queues {
	long queues;              /* queues with attributes */
	long backlog;             /* their ApproximateNumberOfMessages */
	long in_flight;           /* their ApproximateNumberOfMessagesNotVisible */
	long dlq_tasks;           /* the dead-letter queues' ApproximateNumberOfMessages */
	long dlqs_with_tasks;     /* dead-letter queues holding any */
};

struct drift_report {
	struct drift_pipeline *pipelines;   /* in name order */
	size_t n_pipelines;
	struct drift_orphan *orphans;
	size_t n_orphans;
	struct drift_summary summary;
	int has_cursor;                     /* max_pipelines > 0: the cursor below */
	struct {
		char *after;                /* where this run started ("" : the start) */
		char *next;                 /* where the next starts ("": complete) */
		int complete;
		size_t total;               /* pipelines (items and orphans) in the fleet */
	} cursor;
	struct drift_calls *calls;          /* operations with requests, in aws_stats order */
	size_t n_calls;
	long lambda_calls;                  /* Lambda requests of the whole run */
	long lambda_calls_observe;          /* of them, the listings' */
	struct {
		long queues;                /* ListQueueTags fallbacks */
		long functions;             /* Lambda ListTags fallbacks */
		long queue_urls;            /* GetQueueUrl fallbacks */
	} tag_fallback;
	struct drift_queues queues;
	int64_t elapsed_ms;
	enum drift_exit exit_code;
	struct pool_demand demand;          /* the checked pipelines' specs on the account's pool */
	int pool_known;                     /* pool below read (GetAccountSettings) */
	struct pool_account pool;
	tp_err pool_err;                    /* !pool_known: why */
};

/* Run one drift check into *r (freed with drift_report_free; the JSON
 * document is runtime/drift_json.h). A negative return means the check
 * itself failed (a listing call, the config scan): e says why and *r is
 * empty. */
int drift_run(struct app *app, const struct drift_opts *o, struct drift_report *r, tp_err *e);

void drift_report_free(struct drift_report *r);

#endif
