/* ro.h: the state of one rollout run, shared by the files of core/rollout/
 * (internal to it). Calls go one way, each file only to those below it:
 *   rollout.c (the driver) -> health.c -> rollback.c -> wave.c -> head.c -> status.c
 * (plan.c and rolloutrec.c below them all); no file calls back up. */
#ifndef TP_ROLLOUT_RO_H
#define TP_ROLLOUT_RO_H

#include "core/rollout/plan.h"

struct cJSON;

struct ro {
	struct app *app;
	struct rollout_opts o;
	const char *bucket, *key;
	char *version;                  /* owned; NULL: unversioned bucket */
	char id[1200];                  /* bucket/key */
	char sha[64];                   /* expected CodeSha256 */
	long gen;
	char holder[200];
	char mode[8];                   /* "code" (layer mode was removed) */
	struct cJSON *plan;             /* [{targets, pause_seconds, halt_on_failure}] */
	int wave;                       /* next wave to run */
	int64_t next_at;                /* epoch s at which that wave may start */
	struct ro_targets ts;
	int stopped;                    /* status is set: the rollout must stop */
	enum rollout_outcome status;    /* outcome, when stopped */
	tp_err fail;                    /* what halted it */
	char fail_fn[NAMES_FUNCTION_MAX + 1];
	long updates, already, failed, gone;
	long long object_bytes;         /* size of the code object, as streamed */
	long lambda0, update_calls0, list0, get0; /* request counts at the start */
	int ctx_set;                    /* the policy has this run's ctx (ro_policy_ctx) */
	int judged;                     /* waves whose health was judged (head "judged") */
	int64_t window_from;            /* epoch s the last run wave's updates ended: its watch window starts */
	char health_note[512];          /* what the health verdicts noted (no traffic, ...) */
	struct rollout_rollback rb;     /* the rollback after an unhealthy wave */
	long cw_calls;                  /* GetMetricData requests */
};

/* Stop the run with status s. */
static inline void ro_stop(struct ro *r, enum rollout_outcome s)
{
	r->stopped = 1;
	r->status = s;
}

/* ---- head.c: the head item and its lease (shapes in core/store.h) ---- */

enum hdr_how { HDR_ACQUIRE, HDR_BEAT, HDR_RELEASE };

/* Write the head under our generation: acquire the lease, renew it
 * (recording progress), or release it. TP_ECONFLICT when the rollout was
 * superseded or another runner holds it (r stopped). */
int ro_hdr_write(struct ro *r, enum hdr_how how, enum rollout_state status, tp_err *e);
int ro_lease_ttl(const struct ro *r);
/* No time left to start another batch (plus extra_ms) before the deadline. */
int ro_deadline_near(const struct ro *r, int64_t extra_ms);
/* The head as stored (*item NULL: none; cJSON_Delete it). */
int ro_head_get(struct ro *r, struct cJSON **item, tp_err *e);
/* Write generation r->gen of the head (r's version, plan, our lease) with
 * its plan parts, over old_head (of old_gen) or where none is; a refused
 * write is store_condition_failed. */
int ro_head_create(struct ro *r, long old_gen, const struct cJSON *old_head, tp_err *e);

/* ---- wave.c: observing the fleet and running waves ---- */

/* One ListFunctions walk: CodeSha256, RevisionId, PackageType of every
 * target; with confirm, only a function whose marker names our object. */
int wave_observe(struct ro *r, int confirm, tp_err *e);
/* Run wave w of the plan (r stopped when the rollout must stop). */
int wave_run(struct ro *r, int w, const struct cJSON *wave, tp_err *e);
/* Wait out a pause, keeping the lease; stop (paused) when the deadline is nearer. */
int wave_pause(struct ro *r, tp_err *e);

/* Claimed functions keep their code from before (ro_target.prev_sha) in
 * their record as "prev_sha". */

/* Send UpdateFunctionCode of version (CodeSha256 sha) to ts[0..n) within
 * the Lambda budget, and wait until each is applied (the rollout's own
 * update machinery; r's version and sha are restored). Each target ends
 * RFN_DONE (runs sha) or RFN_FAILED. */
int wave_update_to(struct ro *r, struct ro_target **ts, size_t n, const char *version, const char *sha,
		   tp_err *e);
/* Write the records of ts[0..n) (their status) under this generation. */
int wave_write_records(struct ro *r, struct ro_target **ts, size_t n, tp_err *e);

/* ---- health.c: watching a wave after its pause ---- */

/* Give the policy this run's ctx, once per run, before its first call
 * (not at the start: a run that asks no policy asks Lambda for no ctx). */
void ro_policy_ctx(struct ro *r);

/* The health settings (environment): canary pause, longest wait for
 * traffic, metric period. */
struct ro_health_settings {
	int canary_pause_s;             /* TASKPIPE_CANARY_PAUSE_S, 300 */
	int wait_max_s;                 /* TASKPIPE_HEALTH_WAIT_MAX_S, 900 */
	int period_s;                   /* TASKPIPE_METRIC_PERIOD_S, 60 */
};
void ro_health_settings(struct ro_health_settings *hs);

/* Judge wave w (already run, its pause over): evidence from CloudWatch for
 * the window since its updates ended, then the policy's rollout_health.
 * Healthy: r->judged = w + 1. Wait: r->next_at moves one period on.
 * Unhealthy (and halt_on_failure): the updated functions are rolled back
 * (rollback.c) and r is stopped, halted. */
int health_judge(struct ro *r, int w, tp_err *e);

/* ---- rollback.c ---- */

/* Put every function of waves 0..w that this rollout moved to r->sha back
 * on the code it had before (its prev_sha, the object version holding it
 * found among the object's versions), within the Lambda budget; record the
 * rolled-back version as rejected (store_code_reject). Fills r->rb. */
int rollback_run(struct ro *r, int w, tp_err *e);

/* The version to refuse: TP_EPOLICY (VersionRejected) when r->version is in
 * the object's rejected set. */
int rollback_check_rejected(struct ro *r, tp_err *e);

/* ---- status.c ---- */

/* A head's stored status attribute ("running", "done", "halted"). */
enum rollout_state ro_stored_state(const char *stored);

/* rollout-fn records of a scan, sorted by (rollout, function), for lookups
 * by key (a rollout may have 50,000 targets: never a walk per target).
 * probes counts comparisons made by lookups. */
struct ro_fn_index {
	const struct cJSON **v;
	size_t n;
	long probes;
};

void ro_fn_index_build(struct ro_fn_index *x, const struct cJSON *items);
const struct cJSON *ro_fn_index_find(struct ro_fn_index *x, const char *rollout, const char *function);
void ro_fn_index_free(struct ro_fn_index *x);

/* Status of the rollout heads among a scan's items (plans read through
 * a and table when kept in part items). now_s: for the lease. */
int ro_status_build(const struct cJSON *items, const char *prefix, int64_t now_s, struct aws *a,
		    const char *table, struct rollout_status **out, size_t *n);

#endif
