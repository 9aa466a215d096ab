/* rollout.h: consumer code rollout. One code object (s3://bucket/key) is
 * shared by many pipelines; a new version of it reaches every one of them in
 * the waves the policy's rollout(change, targets, ctx) returns.
 *
 * Truth is the function itself: a function is done when its CodeSha256
 * equals base64(sha256(object bytes)). The object is downloaded once,
 * streamed into SHA-256 (never held: a zip may be up to Lambda's 250 MB).
 * So a run that was cut off (Lambda deadline, crash, SIGKILL) resumes by
 * looking, and never sends UpdateFunctionCode to a function already done.
 * Updates carry the RevisionId observed just before (Lambda refuses a stale
 * one), so an update that raced a crash or another runner cannot land twice.
 *
 * Contention: before its update each function's State and LastUpdateStatus
 * are read (GetFunction; ListFunctions never has them on AWS); a Pending or
 * InProgress function is waited for, a 409 ResourceConflictException or a
 * 412 stale revision is read again and resent (bounded), a 429 is requeued
 * after the server's Retry-After: throttling and contention slow a rollout,
 * never fail it. A function in State Failed is reported (failures[]), a
 * PackageType Image function skipped. Layer mode was removed (the
 * function's own zip shadows /opt): mode "layer" fails with LayerModeRemoved;
 * code_storage "reference" replaces it. A target whose applied spec asks for
 * S3ObjectStorageMode REFERENCE gets it (and the version) on every update:
 * one without it would put the function back to COPY (codestore.h).
 *
 * State table items (partition key pk):
 *   rollout#<bucket>/<key>               one per object: version, sha256, gen,
 *                                        status, mode, frozen plan (waves),
 *                                        next wave, pause end, the lease
 *                                        (holder, lease_until) and the failure
 *   rollout-fn#<bucket>/<key>#<function> one per function: gen, status
 *                                        (updating, done, failed), attempts,
 *                                        the RevisionId updated from, error
 * Every write is conditional on gen: a newer version of the object bumps gen
 * and takes over (supersedes) the rollout; the older runner's next write
 * fails and it stops. At most one rollout per object is active.
 *
 * Health: after a wave's pause its functions are judged on CloudWatch
 * evidence from the pause (health.c, the policy's rollout_health); an
 * unhealthy wave halts the rollout and the functions it updated go back to
 * their previous code (rollback.c); the version is then rejected (store.h,
 * code#) and never rolled out or deployed again.
 *
 * Lambda calls per function rolled out: one UpdateFunctionCode plus
 * ListFunctions pages (50 functions a call, before the first wave and to
 * verify at the end) on the 15/s control plane; GetFunction (its own 100/s
 * budget) once before the update and while Lambda reports it InProgress.
 */
#ifndef TP_ROLLOUT_H
#define TP_ROLLOUT_H

#include "core/app.h"
#include "core/names.h"

#include <stddef.h>
#include <stdint.h>

struct rollout_opts {
	int64_t deadline_ms;   /* epoch ms the caller must be done by; 0: none */
	int64_t reserve_ms;    /* start no new batch this close to the deadline; 0: 15000 (when a deadline is set) */
	int lease_ttl_s;       /* runner lease; 0: $TASKPIPE_ROLLOUT_LEASE_S, else 60 */
	const char *mode;      /* NULL or "code"; "layer" (removed) fails with LayerModeRemoved */
	int from_event;        /* an upload event: skip a version that is no longer the latest */
};

/* How a run ended. */
enum rollout_outcome {
	ROLLOUT_ERROR,         /* could not start or run (e says why) */
	ROLLOUT_DONE,
	ROLLOUT_HALTED,        /* a wave failed (failure names function, code, message) */
	ROLLOUT_SUPERSEDED,    /* a newer version took over */
	ROLLOUT_PAUSED,        /* deadline near; resume later */
	ROLLOUT_BUSY,          /* another runner holds it */
	ROLLOUT_STALE,         /* an event for a version no longer the latest */
	ROLLOUT_NO_TARGETS,
};

/* A function's state in a rollout (its rollout-fn# record's status). */
enum rollout_fn_state { RFN_PENDING, RFN_UPDATING, RFN_DONE, RFN_FAILED, RFN_GONE, RFN_ROLLED_BACK };
#define RFN_STATES 6

/* A rollout's state as `rollout status` reports it (a running rollout
 * whose lease ran out is paused). */
enum rollout_state { RST_RUNNING, RST_PAUSED, RST_DONE, RST_HALTED, RST_UNKNOWN };

/* A wave's state in `rollout status`. */
enum rollout_wave_state { RWAVE_DONE, RWAVE_RUNNING, RWAVE_HALTED, RWAVE_PENDING };

/* The names these enums have in records and output. */
const char *rollout_outcome_name(enum rollout_outcome s);
const char *rollout_fn_state_name(enum rollout_fn_state s);
const char *rollout_state_name(enum rollout_state s);
const char *rollout_wave_state_name(enum rollout_wave_state s);

/* A function that failed (or halted the rollout). */
struct rollout_failure {
	char function[NAMES_FUNCTION_MAX + 1];
	char *pipeline;        /* owned; NULL when not known */
	tp_err err;            /* code and message */
};

/* A target left out of a rollout, with why. */
struct rollout_skip {
	char *pipeline;        /* owned */
	char function[NAMES_FUNCTION_MAX + 1];
	char reason[160];
};

/* The rollback after an unhealthy wave. */
struct rollout_rollback {
	int done;                      /* a rollback ran */
	long functions;                /* functions to put back */
	long rolled_back;              /* put back on their previous code */
	long failed;                   /* could not be put back (see the records) */
	long lambda_calls;             /* Lambda requests it made (UpdateFunctionCode, GetFunction, ListFunctions) */
	long updates;                  /* of which UpdateFunctionCode */
	char to_version[256];          /* object version rolled back to (the first, when several) */
};

/* The outcome of one run (rollout_run, one element of rollout_resume). */
struct rollout_result {
	char *uri;                     /* s3://bucket/key[#version], owned; NULL: the run never started (bad mode) */
	enum rollout_outcome status;
	char sha256[64];               /* expected CodeSha256 */
	long gen;
	long long object_bytes;        /* size of the code object, as streamed */
	size_t targets;
	int waves;                     /* in the plan */
	int next_wave;
	long updated, already_current, failed, gone;
	int has_failure;               /* failure is set: what halted it */
	struct rollout_failure failure;
	struct rollout_failure *failures; /* every function that failed, owned */
	size_t nfailures;
	struct rollout_skip *skipped;  /* owned */
	size_t nskipped;
	struct {
		long lambda, updates, list_functions, get_function, cloudwatch;
	} calls;                       /* requests this run made */
	char *health_note;             /* owned; the health verdicts' notes (no traffic...), NULL: none */
	struct rollout_rollback rollback;
};

/* One function of a wave in `rollout status`. */
struct rollout_fn_status {
	char *pipeline;                /* owned */
	char function[NAMES_FUNCTION_MAX + 1];
	enum rollout_fn_state status;
	int recorded;                  /* its record is of this generation: attempts is known */
	long attempts;
	char *error_code, *error_message; /* owned; NULL: no error recorded */
};

struct rollout_wave_status {
	int index;                     /* 1-based */
	enum rollout_wave_state state;
	double pause_seconds;          /* < 0: the plan names none */
	int halt_on_failure;           /* -1: the plan names none */
	long counts[RFN_STATES];       /* functions per enum rollout_fn_state */
	struct rollout_fn_status *fns; /* owned */
	size_t nfns;
};

/* One rollout in `rollout status`. */
struct rollout_status {
	char *uri;                     /* owned */
	enum rollout_state status;
	char sha256[64];
	long gen;
	char mode[8];
	long next_wave, started_at, updated_at;
	char *holder;                  /* owned; NULL unless a live runner holds it */
	int has_failure;               /* failure: what halted it (pipeline NULL) */
	struct rollout_failure failure;
	int has_plan_error;            /* plan_error: its plan could not be read */
	tp_err plan_error;
	struct rollout_wave_status *waves; /* owned */
	size_t nwaves;
	char *health_note;             /* owned; NULL: none */
	struct rollout_rollback rollback;
};

/* s3://BUCKET/KEY[#VERSION] -> malloc'd parts (*version NULL when absent). */
int rollout_parse_uri(const char *uri, char **bucket, char **key, char **version, tp_err *e);

/* Roll out bucket/key at version (NULL: the latest). Starts a rollout,
 * resumes the same version's, or supersedes an older one. *out (always
 * filled, even on failure; rollout_result_free) describes the outcome.
 * Returns TP_OK unless the run could not start or a wave halted (then e
 * names the function and why). */
int rollout_run(struct app *app, const char *bucket, const char *key, const char *version,
		const struct rollout_opts *o, struct rollout_result *out, tp_err *e);

/* Continue rollouts left running or paused (all of them, or the one of
 * bucket/key when given; a halted one only when named). *out (n of them,
 * rollout_results_free) are the outcomes. A scan of the rollout records
 * that fails part way resumes none of them and fails. */
int rollout_resume(struct app *app, const char *bucket, const char *key, const struct rollout_opts *o,
		   struct rollout_result **out, size_t *n, tp_err *e);

void rollout_result_free(struct rollout_result *r);
void rollout_results_free(struct rollout_result *r, size_t n);

/* Every rollout with its waves and per-function status (rollout_status_free). */
int rollout_status(struct app *app, struct rollout_status **out, size_t *n, tp_err *e);
void rollout_status_free(struct rollout_status *s, size_t n);

/* Entry point for an S3 ObjectCreated notification (SNS-wrapped, through
 * the bootstrap): rollout_run with from_event set and no deadline. */
int rollout_on_upload(struct app *app, const char *bucket, const char *key, const char *version,
		      struct rollout_result *out, tp_err *e);
/* The same with the invocation's deadline (Lambda-Runtime-Deadline-Ms). */
int rollout_on_upload_until(struct app *app, const char *bucket, const char *key,
			    const char *version, int64_t deadline_ms, struct rollout_result *out, tp_err *e);

#endif
