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
 * Lambda calls per function rolled out: one UpdateFunctionCode plus
 * ListFunctions pages (50 functions a call, before the first wave and to
 * verify at the end) on the 15/s control plane; GetFunction (its own 100/s
 * budget) once before the update and while Lambda reports it InProgress.
 */
#ifndef TP_ROLLOUT_H
#define TP_ROLLOUT_H

#include "core/app.h"

struct rollout_opts {
	int64_t deadline_ms;   /* epoch ms the caller must be done by; 0: none */
	int64_t reserve_ms;    /* start no new batch this close to the deadline; 0: 15000 (when a deadline is set) */
	int lease_ttl_s;       /* runner lease; 0: $TASKPIPE_ROLLOUT_LEASE_S, else 60 */
	const char *mode;      /* NULL or "code"; "layer" (removed) fails with LayerModeRemoved */
	int from_event;        /* an upload event: skip a version that is no longer the latest */
};

/* s3://BUCKET/KEY[#VERSION] -> malloc'd parts (*version NULL when absent). */
int rollout_parse_uri(const char *uri, char **bucket, char **key, char **version, tp_err *e);

/* Roll out bucket/key at version (NULL: the latest). Starts a rollout,
 * resumes the same version's, or supersedes an older one. *json_out (malloc'd,
 * may be NULL) describes the outcome: {"rollout","status",...}; status is
 * done, halted (a wave failed: "failure" names function, code, message),
 * superseded, paused (deadline near; resume later), busy (another runner
 * holds it), stale (an event for a version no longer the latest), or
 * no-targets. Returns TP_OK unless the run could not start or a wave
 * halted (then e names the function and why). */
int rollout_run(struct app *app, const char *bucket, const char *key, const char *version,
		const struct rollout_opts *o, char **json_out, tp_err *e);

/* Continue rollouts left running or paused (all of them, or the one of
 * bucket/key when given; a halted one only when named). *json_out is a JSON
 * array of outcomes as above. */
int rollout_resume(struct app *app, const char *bucket, const char *key,
		   const struct rollout_opts *o, char **json_out, tp_err *e);

/* Every rollout with its waves and per-function status, as a JSON array. */
int rollout_status(struct app *app, char **json_out, tp_err *e);

/* Entry point for an S3 ObjectCreated notification (SNS-wrapped, through
 * the bootstrap): rollout_run with from_event set and no deadline. */
int rollout_on_upload(struct app *app, const char *bucket, const char *key, const char *version,
		      char **json_out, tp_err *e);
/* The same with the invocation's deadline (Lambda-Runtime-Deadline-Ms). */
int rollout_on_upload_until(struct app *app, const char *bucket, const char *key,
			    const char *version, int64_t deadline_ms, char **json_out, tp_err *e);

/* Standard base64 of n bytes into out (4 * ((n + 2) / 3) + 1 bytes). */
void rollout_base64(const unsigned char *in, size_t n, char *out);

#endif
