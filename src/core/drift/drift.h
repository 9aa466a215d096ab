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
 * resources carrying our owner tag whose config item is gone.
 * Not visible to list calls, so not checked: reserved concurrency (use
 * `apply --force`).
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

struct drift_opts {
	int fix;              /* repair drift and remove orphans */
	long max_pipelines;   /* 0: all; else at most N, continuing from the cursor */
	/* For the repair (reconcile_opts): */
	int64_t deadline_ms;  /* epoch ms: start no step after deadline - reserve; 0: none */
	int64_t reserve_ms;
	const char *holder;   /* lease holder id; NULL: the run's own */
	int lease_ttl_s;      /* 0: sized to the deadline (lease_ttl_for) */
	/* What a repair changed, as the fix's "changes" (JSON rendering lives
	 * above core: runtime/rec_json.h rec_changes_json); NULL: []. */
	struct cJSON *(*render_changes)(const struct diff_list *changes);
};

/* Exit status convention, also in the JSON ("exit_code"). */
enum drift_exit {
	DRIFT_EXIT_OK = 0,     /* in sync (with fix: everything repaired) */
	DRIFT_EXIT_ERROR = 1,  /* a pipeline errored or a repair failed */
	DRIFT_EXIT_DRIFT = 2,  /* drift left: found without fix, or a collision */
};

/* Run one drift check. On TP_OK *json_out is a malloc'd JSON document:
 * {"pipelines":[{"pipeline","status","drift":[{"resource","field",
 *   "expected","actual"}],"code_behind",("error"),("fix")}],
 *  "orphans":[{"pipeline","resources":[{"resource","name"}],("fix")}],
 *  "summary":{...},"cursor":{...}|null,"calls":{op:n},"lambda_calls":n,
 *  "elapsed_ms":n,"exit_code":n}
 * A negative return means the check itself failed (a listing call, the
 * config scan): e says why and *json_out is NULL. */
int drift_run(struct app *app, const struct drift_opts *o, char **json_out, tp_err *e);

/* The exit code stored in a drift_run document (1 when unreadable). */
int drift_exit_code(const char *json);

#endif
