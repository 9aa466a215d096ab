/* store.h: the state table's schema, in one place: every record kind's key,
 * its attributes and the conditions its writes carry, with typed reads and
 * writes. Callers keep their logic (lease.c decides when to grant, rollout
 * when to take over); store owns what the items look like.
 *
 * The state table has one partition key, pk (S). Record kinds:
 *
 *   pipeline#<name>      reconcile's outcome (core/reconcile/reconcile.c):
 *                        pipeline, status (ok | error | draining | kept | deleted), action,
 *                        hash (of the spec in force), spec (its JSON text),
 *                        input_hash (of the policy call's inputs that gave
 *                        it, pipeline_input_hash; absent on old records),
 *                        error_code, message, retryable (on error),
 *                        queue_url, queue_arn, dlq_url (where producers
 *                        send; absent on records written before them),
 *                        updated_at, lease_fence; a removed item's drain
 *                        (status draining, then deleted or kept):
 *                        drain_started_at, drain_timeout, drain_empty_at,
 *                        consumers_gone_at, kept_queue, kept_dlq. Fenced by the lease token:
 *                        STORE_COND_PIPELINE_FENCE. Read by reconcile,
 *                        ls (cmd/), rollout and drift (struct store_pipeline).
 *   lease#<pipeline>     one writer per pipeline (core/lease.c): holder,
 *                        expires_at (epoch s), pipeline, fence (counter,
 *                        never reset). Grant STORE_COND_LEASE_GRANT; renew
 *                        and release STORE_COND_LEASE_OURS.
 *   checkpoint#<shard>   the stream follower's position (runtime/watch.c):
 *                        sequence_number, stream_arn, updated_at.
 *   skipped#<shard>#<seq> a stream record given up on (runtime/watch.c):
 *                        pipeline, shard, sequence_number, stream_arn,
 *                        error_code, message, attempts, skipped_at.
 *   rollout#<bucket>/<key> a rollout's head (core/rollout/): kind "rollout",
 *                        bucket, key, version, sha256, gen, status, mode,
 *                        plan (or its parts), wave, next_at, targets,
 *                        holder, lease_until, timestamps, the failure.
 *                        New head STORE_COND_ROLLOUT_NEW / _GEN; lease
 *                        STORE_COND_ROLLOUT_TAKE / _OURS.
 *   rollout-fn#<id>#<function> one per function rolled out: gen, status,
 *                        attempts, RevisionId, error (core/rollout/).
 *                        Never over a newer generation's:
 *                        STORE_COND_ROLLOUT_FN. `rollout status` reads
 *                        heads and these in one scan (STORE_PREFIX_ROLLOUT_ALL).
 *   rollout#<id>#plan#<sha16>#<n> the frozen plan in parts (rolloutrec.c).
 *   rollout#<id>#debug   `taskpipe debug rollout-plan` (cmd/).
 *   drift#cursor         drift's position (core/drift/drift.c): after,
 *                        updated_at, cycle_completed_at.
 *   code#<bucket>/<key>  what rollouts learned of a code object
 *                        (core/rollout/): rejected (SS: versions a rollout
 *                        rolled back), good_version and good_sha (the last
 *                        version that passed, or was rolled back to),
 *                        updated_at. Read by reconcile (apply, drift --fix)
 *                        so a rejected latest version is never deployed.
 *   account#settings     cached GetAccountSettings (core/app.c):
 *                        concurrency, checked_at.
 *   account#lambda-budget the account-wide Lambda request budget
 *                        (aws/budget_shared.c, BSHARED_PK: aws/ is below
 *                        core/ and keeps its own I/O).
 *   pause#<pipeline>     an operator's pause (core/lifecycle.c): pipeline,
 *                        paused_by, paused_at, reason. Read by reconcile and
 *                        drift (the mapping stays disabled while it exists),
 *                        ls; removed by resume. Never written by reconcile.
 *   settings#instance    the instance's shared settings (core/settings_store.c,
 *                        STORE_PK_SETTINGS): consumer_layer(_arm64), code_bucket,
 *                        code_key, role_arn, prefix, owner, runtime,
 *                        state_table, updated_at.
 *   rate#<function>      a consumer's shared rate (runtime/consume.c,
 *                        above core/; budget_shared.h's format).
 *   limit#<group>        a limit group's shared schedule (runtime/consume.c
 *                        through aws/group_sched.c: the consumers write it).
 *   limit-removed#<group> the group's config item was removed (core/limit_group.c):
 *                        group, removed_at (restored_at instead once it is
 *                        back). Its members then apply without it instead
 *                        of failing for a group that never was.
 *
 * Keys are built only here. Functions return TP_OK or a negative code with
 * e filled; strings in returned structs are owned by them (free with the
 * matching _free). */
#ifndef TP_STORE_H
#define TP_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "aws/aws.h"

struct cJSON;

#define STORE_PREFIX_PIPELINE "pipeline#"
#define STORE_PREFIX_ROLLOUT "rollout#"
/* rollout#... and rollout-fn#... together */
#define STORE_PREFIX_ROLLOUT_ALL "rollout"
#define STORE_PK_DRIFT_CURSOR "drift#cursor"
#define STORE_PK_ACCOUNT "account#settings"

/* Conditions (ConditionExpression) of the writes, by record kind. */
#define STORE_COND_PIPELINE_FENCE "attribute_not_exists(lease_fence) OR lease_fence <= :fence"
#define STORE_COND_LEASE_GRANT "attribute_not_exists(pk) OR expires_at < :now OR holder = :h"
#define STORE_COND_LEASE_OURS "holder = :h AND fence = :t"
#define STORE_COND_ROLLOUT_NEW "attribute_not_exists(pk)"
#define STORE_COND_ROLLOUT_GEN "#g = :old"
#define STORE_COND_ROLLOUT_TAKE "#g = :g AND (attribute_not_exists(#h) OR #h = :me OR #lu < :now)"
#define STORE_COND_ROLLOUT_OURS "#g = :g AND #h = :me"
#define STORE_COND_ROLLOUT_FN "attribute_not_exists(pk) OR #g <= :g"

/* Keys (malloc'd). */
char *store_pk_pipeline(const char *name);
char *store_pk_lease(const char *pipeline);
char *store_pk_checkpoint(const char *shard);
char *store_pk_skipped(const char *shard, const char *seq);
char *store_pk_rollout(const char *id);
char *store_pk_rollout_fn(const char *id, const char *function);
char *store_pk_rollout_plan(const char *id, const char *sha16, long part);
char *store_pk_rollout_debug(const char *id);

/* Did a conditional write fail its condition? */
int store_condition_failed(const tp_err *e);

/* ---- pipeline#<name> ---- */

enum store_status {
	STORE_UNKNOWN,     /* no status attribute (or one taskpipe never writes) */
	STORE_OK,          /* applied */
	STORE_ERROR,       /* failed; spec is the last good one */
	STORE_DELETED,     /* resources removed */
	STORE_DRAINING,    /* item gone: consuming until the queue is empty (drain_*) */
	STORE_KEPT,        /* item gone, drained: a queue holding messages is kept (kept_*) */
};

/* The stored state of one pipeline: the contract between reconcile (the
 * writer) and its readers. */
struct store_pipeline {
	char *name;            /* pipeline name */
	int status;            /* enum store_status */
	char action[16];       /* "none", "create", ... (reconcile_action_name) */
	char hash[65];         /* hash of the spec in force ("" when none) */
	char input_hash[65];   /* hash of the policy inputs that gave it ("" when none) */
	char *spec;            /* JSON text of the spec in force, NULL: none */
	char *error_code;      /* on error, else NULL */
	char *message;         /* on error, else NULL */
	int retryable;         /* on error: clears by itself */
	long updated_at;       /* epoch seconds */
	long long lease_fence; /* token of the lease it was written under; 0: none */
	char *queue_url;       /* the queue producers send to, NULL: unknown (old record, not created) */
	char *queue_arn;       /* its QueueArn, NULL: unknown */
	char *dlq_url;         /* the dead-letter queue, NULL: unknown */
	/* The drain of a removed item (core/reconcile/reconcile_drain.c); all 0
	 * when not draining. Carried across runs, whatever the status. */
	long drain_started_at; /* epoch s the item was found gone (or expired) */
	long drain_timeout;    /* s: the last applied spec's drain_timeout, or the default */
	long drain_empty_at;   /* epoch s of the first of the reads that saw the queue empty; 0: not empty */
	long consumers_gone_at;/* epoch s mapping and function were deleted; 0: still there */
	/* Queues kept because they held messages (status kept); 0: not kept. */
	long kept_queue;       /* the queue (drain_timeout ran out): messages counted then */
	long kept_dlq;         /* the dead-letter queue: messages counted then */
};

/* What rollout and drift read of a stored spec (func part), parsed. */
struct store_spec_code {
	char *function;        /* func.FunctionName, NULL when absent */
	char *bucket;          /* func.Code.S3Bucket */
	char *key;             /* func.Code.S3Key */
	char *version;         /* func.Code.S3ObjectVersion */
	int reference;         /* func.Code.S3ObjectStorageMode == REFERENCE */
	int image;             /* func.PackageType == Image */
};

const char *store_status_name(int status);
int store_status_parse(const char *s);

/* A DynamoDB item (AttributeValues) -> out; NULL item: zeroed out (no record). */
void store_pipeline_from_item(const struct cJSON *item, struct store_pipeline *out);
void store_pipeline_free(struct store_pipeline *p);
/* Parse p->spec's code part; TP_EINVAL when there is no spec or it is not JSON. */
int store_spec_code_parse(const char *spec_json, struct store_spec_code *out, tp_err *e);
void store_spec_code_free(struct store_spec_code *c);

/* Prepare (for aws_call_many) a consistent GetItem of pipeline#<name>;
 * the answer's "Item" is read with store_pipeline_from_item. */
void store_pipeline_get_prepare(struct aws_call *c, const char *table, const char *name);
/* Prepare the PutItem of p; fenced (STORE_COND_PIPELINE_FENCE) when
 * p->lease_fence > 0. */
void store_pipeline_put_prepare(struct aws_call *c, const char *table,
				const struct store_pipeline *p);

/* Every pipeline record, sorted by name, for lookups by name in O(log n). */
struct store_pipelines {
	struct store_pipeline *v;
	size_t n;
	size_t probes;         /* name comparisons made by store_pipelines_find (tests) */
};
int store_pipelines_scan(struct aws *a, const char *table, struct store_pipelines *out, tp_err *e);
/* Sort v[0..n) by name (after filling v by hand). */
void store_pipelines_sort(struct store_pipelines *s);
const struct store_pipeline *store_pipelines_find(struct store_pipelines *s, const char *name);
void store_pipelines_free(struct store_pipelines *s);

/* ---- lease#<pipeline> (calls prepared for aws_call_many) ---- */

/* Grant to holder until expires_at when absent, expired before now_skewed
 * (our clock minus the skew margin) or already holder's; fence + 1.
 * ReturnValues ALL_NEW: read with store_lease_granted. */
void store_lease_grant_prepare(struct aws_call *c, const char *table, const char *pipeline,
			       const char *holder, int64_t expires_at, int64_t now_skewed);
/* Extend to expires_at while holder and token are still ours. */
void store_lease_renew_prepare(struct aws_call *c, const char *table, const char *pipeline,
			       const char *holder, long long token, int64_t expires_at);
/* Expire it (expires_at 0, holder removed) while ours; the fence stays. */
void store_lease_release_prepare(struct aws_call *c, const char *table, const char *pipeline,
				 const char *holder, long long token);
/* Token and expiry from a finished grant's answer. */
void store_lease_granted(const struct aws_call *c, long long *token, int64_t *expires_at);

/* ---- checkpoint#<shard>, skipped#<shard>#<seq> ---- */

/* *seq: the checkpointed sequence number (malloc'd) or NULL when none. */
int store_checkpoint_get(struct aws *a, const char *table, const char *shard, char **seq, tp_err *e);
int store_checkpoint_put(struct aws *a, const char *table, const char *shard, const char *seq,
			 const char *stream_arn, tp_err *e);

struct store_skipped {
	const char *shard, *seq, *stream_arn;
	const char *pipeline, *error_code, *message;
	int attempts;
};
int store_skipped_put(struct aws *a, const char *table, const struct store_skipped *s, tp_err *e);

/* ---- limit-removed#<group> ---- */

int store_limit_removed_put(struct aws *a, const char *table, const char *group, tp_err *e);
/* *removed: 1 when the record says removed. */
int store_limit_removed_get(struct aws *a, const char *table, const char *group, int *removed, tp_err *e);
/* The group is back: the record says so (restored_at) and no longer counts. */
int store_limit_removed_clear(struct aws *a, const char *table, const char *group, tp_err *e);

/* ---- drift#cursor ---- */

/* *after: the last pipeline checked ("" at the start of a cycle; malloc'd). */
int store_drift_cursor_get(struct aws *a, const char *table, char **after, tp_err *e);
int store_drift_cursor_put(struct aws *a, const char *table, const char *after, int complete,
			   tp_err *e);

/* ---- rollout#<id> (the head) and rollout-fn#<id>#<function> ---- */

/* The head, consistently read: *item its AttributeValues (the caller
 * cJSON_Deletes it), NULL when there is none. */
int store_rollout_head_get(struct aws *a, const char *table, const char *id, struct cJSON **item,
			   tp_err *e);

/* A new generation of the head. */
struct store_rollout_head {
	const char *id, *bucket, *key;
	const char *version;           /* "" for an unversioned bucket */
	const char *sha256, *mode, *holder;
	long gen, targets;
	long now, lease_until;         /* epoch s */
};
/* The head's Item (status running, wave 0): the caller adds the plan's
 * attributes (rolloutrec_write_plan) and writes it with store_rollout_head_put. */
struct cJSON *store_rollout_head_item(const struct store_rollout_head *h);
/* PutItem of item (borrowed): STORE_COND_ROLLOUT_GEN over old_gen when
 * replace, else STORE_COND_ROLLOUT_NEW. */
int store_rollout_head_put(struct aws *a, const char *table, const struct cJSON *item, int replace,
			   long old_gen, tp_err *e);

/* The runner's lease on the head and the progress it records, under gen:
 * acquire (STORE_COND_ROLLOUT_TAKE), renew (_OURS) or release (_OURS;
 * holder removed, lease_until 0). */
enum store_rollout_lease { STORE_ROLLOUT_ACQUIRE, STORE_ROLLOUT_BEAT, STORE_ROLLOUT_RELEASE };
struct store_rollout_beat {
	const char *id;
	long gen;
	const char *holder;
	int how;                       /* enum store_rollout_lease */
	const char *status;            /* "running", "done", "halted" */
	long wave, next_at, judged, window_from;
	const char *health_note;       /* "": not written */
	int rolled_back;               /* a rollback ran: the rollback_* attributes */
	long rb_functions, rb_rolled_back, rb_failed, rb_lambda_calls, rb_updates;
	const char *rb_to;
	/* release: the failure; error_code NULL clears one recorded before */
	const char *error_function, *error_code, *error_message;
	long now, lease_until;         /* epoch s; lease_until: acquire and renew */
};
/* TP_OK, or the error (store_condition_failed: superseded or held). */
int store_rollout_beat(struct aws *a, const char *table, const struct store_rollout_beat *b, tp_err *e);

/* One function's record, never over a newer generation's (STORE_COND_ROLLOUT_FN). */
struct store_rollout_fn {
	const char *id, *function, *pipeline;
	long gen;
	const char *version;           /* "" for an unversioned bucket */
	const char *status;            /* rollout_fn_state_name */
	long wave, updated_at;
	const char *rev;               /* RevisionId updated from; NULL: not written */
	const char *prev_sha;          /* code before the update; NULL: not written */
	const char *error_code, *error_message; /* NULL: not written */
	int count_attempt;             /* attempts + 1 */
};
void store_rollout_fn_prepare(struct aws_call *c, const char *table, const struct store_rollout_fn *f);
/* A consistent GetItem of a function's record, for aws_call_many. */
void store_rollout_fn_get_prepare(struct aws_call *c, const char *table, const char *id, const char *function);

/* rollout#<id>#plan#<sha16>#<part>: one part of a frozen plan's text
 * (kind rollout-plan, rollout, part, text; core/rollout/rolloutrec.c). */
int store_rollout_plan_put(struct aws *a, const char *table, const char *id, const char *sha16, long part,
			   const char *text, tp_err *e);
/* *text: the part's text (malloc'd); NULL when there is no such part. */
int store_rollout_plan_get(struct aws *a, const char *table, const char *id, const char *sha16, long part,
			   char **text, tp_err *e);
int store_rollout_plan_delete(struct aws *a, const char *table, const char *id, const char *sha16, long part,
			      tp_err *e);

/* ---- code#<bucket>/<key> ---- */

struct store_code {
	char *good_version;    /* last known good version; NULL: none recorded */
	char good_sha[64];     /* its CodeSha256 ("" when unknown) */
	char **rejected;       /* versions rolled back (owned) */
	size_t nrejected;
};

char *store_pk_code(const char *bucket, const char *key);
/* The record of s3://bucket/key; absent: *out zeroed (TP_OK). */
int store_code_get(struct aws *a, const char *table, const char *bucket, const char *key,
		   struct store_code *out, tp_err *e);
int store_code_is_rejected(const struct store_code *c, const char *version);
void store_code_free(struct store_code *c);
/* Add version to the rejected set; good_version (may be NULL) becomes the
 * last good one. */
int store_code_reject(struct aws *a, const char *table, const char *bucket, const char *key,
		      const char *version, const char *good_version, const char *good_sha, tp_err *e);
/* version (sha) passed a rollout: the last good one. */
int store_code_good(struct aws *a, const char *table, const char *bucket, const char *key,
		    const char *version, const char *sha, tp_err *e);

/* ---- account#settings ---- */

/* The cached account concurrency and when it was checked, and the minimum
 * of unreserved executions learned from a refusal (core/pool.h); -1 / 0 /
 * -1 when absent. put leaves unreserved_min out when it is < 0. */
int store_account_get(struct aws *a, const char *table, long *concurrency, long *checked_at,
		      long *unreserved_min, tp_err *e);
int store_account_put(struct aws *a, const char *table, long concurrency, long checked_at,
		      long unreserved_min, tp_err *e);

/* ---- forget: pipeline#<name> and lease#<name> of a gone item ---- */

/* *had: the pipeline record existed. */
int store_pipeline_forget(struct aws *a, const char *table, const char *name, int *had, tp_err *e);

/* ---- pause#<pipeline> ---- */

#define STORE_PREFIX_PAUSE "pause#"

struct store_pause {
	char *name;            /* pipeline; NULL: not paused */
	char *by;              /* who paused it */
	char *reason;          /* NULL: none given */
	long at;               /* epoch seconds */
};

char *store_pk_pause(const char *name);
int store_pause_put(struct aws *a, const char *table, const struct store_pause *p, tp_err *e);
/* *had: there was a pause to clear. */
int store_pause_delete(struct aws *a, const char *table, const char *name, int *had, tp_err *e);
int store_pause_get(struct aws *a, const char *table, const char *name, struct store_pause *out, tp_err *e);
/* A consistent GetItem for aws_call_many; read the Item with store_pause_from_item. */
void store_pause_get_prepare(struct aws_call *c, const char *table, const char *name);
/* NULL item (or one without a pipeline): zeroed, not paused. */
void store_pause_from_item(const struct cJSON *item, struct store_pause *out);
void store_pause_free(struct store_pause *p);

struct store_pauses {
	struct store_pause *v; /* sorted by name */
	size_t n;
};
int store_pauses_scan(struct aws *a, const char *table, struct store_pauses *out, tp_err *e);
const struct store_pause *store_pauses_find(const struct store_pauses *s, const char *name);
void store_pauses_free(struct store_pauses *s);

#endif
