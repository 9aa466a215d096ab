/* policy.h: the Lua policy host. A policy is a Lua 5.4 chunk returning
 *   { pipeline = function(item, ctx) return spec end,   -- or nil, "reason"
 *     rollout  = function(change, targets, ctx) return waves end }  -- optional
 * run in a sandbox (see policy.c): base library without dofile, loadfile,
 * collectgarbage and bytecode loading; string, table, math, utf8; no io,
 * os, require, package, debug. Unknown globals are errors to read or write.
 * Instruction and memory caps cannot be swallowed by pcall; setmetatable
 * refuses __gc. Every call (and the load's trial run) runs in a worker
 * process, killed at a wall-clock deadline, so no policy code runs in the
 * calling process and nothing persists between calls. Every error names
 * the chunk and, where there is one, the line.
 *
 * pipeline() takes and returns cJSON trees, never JSON text: item is a
 * DynamoDB item in AttributeValue form ({"pipeline":{"S":"a"},...}),
 * converted to plain Lua values as documented in ddbval.h; the spec comes
 * back with every number as a Raw node holding its exact text (0.1 and
 * 123456789012345678 keep every digit). ctx is the run's, set once by
 * policy_set_ctx. rollout() and rollout_health() take and give trees the
 * same way (plain JSON values, waves with Raw numbers) and get the same ctx.
 */
#ifndef TP_POLICY_H
#define TP_POLICY_H

#include "base/base.h"

struct cJSON;

struct policy_limits {
	long max_instructions;  /* per call; 0: 10,000,000 */
	size_t max_memory;      /* bytes for the whole state; 0: 32 MiB */
	long timeout_ms;        /* wall clock per call; 0: $TASKPIPE_POLICY_TIMEOUT_MS or 1000 */
	size_t max_nodes;       /* values in a returned spec/waves; 0: 10,000 */
	size_t max_text;        /* bytes of strings and keys in it; 0: 1 MiB */
	int in_process;         /* measurements only: no fork, so no wall-clock limit */
};

struct policy;

/* Load source (text only, never bytecode) as chunk `origin` (a file path or
 * "builtin:policy.lua"). Fails with TP_EPOLICY when the chunk does not load,
 * errors, or does not return a table with a `pipeline` function. */
int policy_new(const char *source, size_t len, const char *origin, const struct policy_limits *lim,
	       struct policy **out, tp_err *e);
void policy_free(struct policy *p);

/* Load from the first of: path (flag) when non-NULL, $TASKPIPE_POLICY,
 * $LAMBDA_TASK_ROOT/policy.lua when that file exists, else the embedded
 * default policy. */
int policy_load(const char *path, const struct policy_limits *lim, struct policy **out, tp_err *e);

/* Every later call must end by this epoch-ms time too (the Lambda
 * invocation's deadline less its reserve); 0 clears it. */
void policy_set_deadline(struct policy *p, int64_t deadline_ms);
long policy_default_timeout_ms(void);  /* $TASKPIPE_POLICY_TIMEOUT_MS or 1000 */
/* Of the last forked call: wall time and the child's peak RSS. */
void policy_last_usage(const struct policy *p, long *wall_us, long *max_rss_kb);

const char *policy_origin(const struct policy *p);
const char *policy_engine_version(void);            /* "Lua 5.4.4" */  /* path or "builtin:policy.lua" */
const char *policy_sha256(const struct policy *p);  /* hex SHA-256 of the source */

/* The ctx every later pipeline(), rollout() and rollout_health() call gets (a copy each: what one call
 * writes into it no other sees), until set again; NULL: an empty table.
 * Encoded here once and handed to the policy's Lua state once, not per
 * call: a run sets it at its start. */
void policy_set_ctx(struct policy *p, const struct cJSON *ctx);

/* Parse JSON text given for `what` ("item", "ctx") as the calls take it:
 * TP_EINVAL "BadJson" naming what when it is not JSON or a string holds
 * \u0000; NULL json gives *out NULL. */
int policy_parse_json(const char *json, const char *what, struct cJSON **out, tp_err *e);

/* pipeline(item, ctx): on success *spec is a new cJSON object (the
 * caller's), numbers as Raw nodes (jsonnum_raw_to_numbers reads them).
 * nil, "reason" -> TP_EPOLICY with code "PolicyRejected" and the reason;
 * a Lua error -> TP_EPOLICY "PolicyError" with chunk:line: message;
 * a cap -> TP_ELIMIT "PolicyInstructionLimit" / "PolicyMemoryLimit" /
 * "PolicyTimeLimit" / "PolicyOutputLimit" (the conversion budget). */
int policy_pipeline(struct policy *p, const struct cJSON *item, struct cJSON **spec, tp_err *e);

/* limit_group(item, ctx): check a limit group's config item (AttributeValue
 * form, as for pipeline()) and give its settings: on success *group is a
 * new cJSON object, {rate, burst} with numbers as Raw nodes. nil, "reason"
 * -> TP_EPOLICY "PolicyRejected"; a policy without limit_group ->
 * TP_EPOLICY "PolicyError" saying so; errors and caps as for pipeline(). */
int policy_limit_group(struct policy *p, const struct cJSON *item, struct cJSON **group, tp_err *e);

/* rollout(change, targets, ctx), ctx the run's (policy_set_ctx): on
 * success *waves is a new cJSON array (the caller's), numbers as Raw nodes
 * as for pipeline(). change and targets are plain JSON values (NULL: an
 * empty table); targets, when given, must be an array (TP_EINVAL
 * "BadJson"). When the policy has no rollout function: one wave holding
 * every target. Errors and caps as for pipeline(); a result past the
 * conversion budget names its path (waves[2][1]). */
int policy_rollout(struct policy *p, const struct cJSON *change, const struct cJSON *targets, struct cJSON **waves,
		   tp_err *e);

/* rollout_health(wave, results, ctx), ctx the run's, when the policy
 * defines it: called after a wave's updates all succeeded and its pause.
 * wave: {index, targets, window, ...}; results: [{pipeline, function,
 * status, code_sha256, metrics}] (NULL: an empty table). true[, "note"] ->
 * *healthy 1 (the note in reason); "wait"[, "note"] -> *healthy
 * POLICY_HEALTH_WAIT (no verdict yet: ask again later); nil or false,
 * "reason" -> *healthy 0 and the reason; no such function -> healthy. A
 * Lua error or cap is TP_EPOLICY/TP_ELIMIT as for pipeline(). */
#define POLICY_HEALTH_WAIT 2
int policy_rollout_health(struct policy *p, const struct cJSON *wave, const struct cJSON *results, int *healthy,
			  char *reason, size_t reason_len, tp_err *e);

#endif
