/* reconcile_int.h: internal to the reconcile files; nothing else in src/
 * includes it (tests/unit/test_drain.c does, for the drain decision). It owns the per-pipeline record, the run and the step function types.
 * The files depend one way: reconcile.c (the driver) calls
 * reconcile_observe.c (find the resources), reconcile_diff.c (ownership and
 * the diff, through core/diff.h) and reconcile_apply.c (the changes); all
 * of them use reconcile_rec.c (outcome, addressing, transitions), which
 * calls none of them. The public API is reconcile.h. */
#ifndef TP_RECONCILE_INT_H
#define TP_RECONCILE_INT_H

#include "core/reconcile/reconcile.h"
#include "core/limit_group.h"

#include "aws/aws.h"
#include "base/hash.h"
#include "core/diff.h"
#include "core/names.h"
#include "core/pipeline.h"

#include <cjson/cJSON.h>
#include <stddef.h>

struct lease;

#define RC_MAX_CALLS 4
#define RC_WAIT_ROUNDS 120   /* function update polls, 1 s apart */
#define RC_AGAIN_ROUNDS 8    /* reruns of a step after a refusal that clears by itself */

/* A removed pipeline's drain (reconcile_drain.c; store.h drain_*). */
struct rec_drain {
	int status;               /* enum store_status it is left in; 0: not decided */
	long started_at, timeout, empty_at, gone_at;
	long kept_queue, kept_dlq;/* messages of a kept queue; 0: not kept */
};

struct rec {
	struct rec_result *res;   /* where the outcome goes */
	struct names nm;          /* resource names (names_for) */
	cJSON *item;              /* config item (AttributeValues), NULL: gone */
	cJSON *state;             /* last state record, NULL: none */
	struct { int item, state, pause; } known; /* read (or scanned) already */
	int paused;               /* an operator's pause (pause#<name>) is recorded */
	struct pipeline want;     /* desired state (pipeline_desired); want.tree NULL when deleting */
	cJSON *spec;              /* want.tree (borrowed): NULL when deleting */
	cJSON *old_spec;          /* spec stored with the last state */
	struct diff_list changes; /* the diff (diff_pipeline), what the apply steps act on */
	int failed;               /* stop further steps */
	int no_state;             /* not ours to record (lease held elsewhere) */
	struct lease *lease;      /* held while changing this pipeline */
	int done;                 /* nothing more to do (unchanged) */
	int state_written;        /* its outcome is in the state table already */
	char input_hash[65];      /* of the policy call's inputs (pipeline_input_hash); "" when none */
	cJSON *answer;            /* the policy's answer for spec_input (Raw numbers), NULL: none yet */
	char spec_input[65];      /* the input_hash answer was computed for */
	/* observed */
	char *q_url, *dlq_url;
	struct { int queue, dlq; } url_unknown; /* created, but the answer had no QueueUrl */
	cJSON *q_attrs, *dlq_attrs, *q_tags, *dlq_tags;
	cJSON *fn;                /* GetFunction answer */
	cJSON *esm;               /* the function's event source mapping */
	/* progress */
	struct {
		int created;      /* CreateFunction ran in this reconcile */
		int recreate;     /* observed in State Failed: delete, then create */
		int wait;         /* polling for LastUpdateStatus/State */
		int waits;        /* polls so far in this wait step (the driver resets it per step) */
	} fn_step;
	struct {
		int wait;         /* polling the mapping until it leaves a transition */
		int waits;        /* polls so far in this mapping-wait step */
		int post;         /* the mapping-pre update leaves a part for mapping-post */
	} esm_step;
	int vis_late;             /* lower VisibilityTimeout after the function's Timeout */
	int dlq_kept;             /* deleting: the non-empty DLQ stays */
	/* item gone (or expired): what this run deletes (rc_drain_decide) */
	struct { int consumers, queue, dlq; } del;
	struct rec_drain drain;
	int queues_created;       /* CreateQueue succeeded in this run (DLQ or queue) */
	int again;                /* the step's call met a refusal that clears by itself: rerun it */
	int agains;               /* reruns so far (reconcile_again.c) */
	int rerun;                /* taking part in the current rerun */
};

struct run {
	struct app *app;
	const struct reconcile_opts *o;
	struct rec *recs;         /* one per pipeline, sorted by name */
	size_t n;
	int wait_polls;           /* bound of one wait step (RC_WAIT_ROUNDS; TASKPIPE_WAIT_POLLS) */
	size_t n_leased;          /* leases asked for (see lease_changing) */
	struct lease *leases;     /* those leases (renewed between steps) */
	int leased;               /* the leases were asked for: state writes may start */
	char holder[200];         /* lease holder id of this run */
	struct cJSON *code_versions; /* "bucket/key" -> current version (REFERENCE code), per run */
	struct cJSON *code_pins;     /* "bucket/key" -> version to deploy instead of a rejected latest ("" none), per run */
	struct hash_sha256_stream input; /* the run's part of every input hash (pipeline_input_begin) */
	int rerun_only;           /* run_step: only the records marked rerun */
	struct limit_groups *groups; /* the members' groups, each read and checked once (limit_group.h) */
};

/* A step: emit fills c[0..RC_MAX_CALLS) with this record's calls and
 * returns how many; done gets them back answered, in the same order. */
typedef int (*emit_fn)(struct run *r, struct rec *p, struct aws_call *c);
typedef void (*done_fn)(struct run *r, struct rec *p, struct aws_call *c, int n);

/* reconcile_rec.c: the outcome of a record */
void rc_fail(struct rec *p, const tp_err *e);
void rc_failf(struct rec *p, int rc, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* A failure the next run clears by itself (a transition, a throttle, a
 * recently deleted queue name): not recorded as ok, reported retryable. */
void rc_retryf(struct rec *p, const char *code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int rc_not_found(const struct aws_call *c);

/* reconcile_rec.c: addressing the resources */
/* The queue's QueueArn attribute (observed or read after CreateQueue); NULL: unknown. */
const char *rc_queue_arn(const struct rec *p, int dlq);

/* reconcile_rec.c: AWS transitions */
int rc_fn_busy(const cJSON *fn);
int rc_esm_transitional(const cJSON *esm);

/* reconcile_observe.c: the observe steps (find, details, mapping), a
 * created queue's ARN, and polling a mapping in a transition */
int rc_emit_find(struct run *r, struct rec *p, struct aws_call *c);
void rc_done_find(struct run *r, struct rec *p, struct aws_call *c, int n);
int rc_emit_details(struct run *r, struct rec *p, struct aws_call *c);
void rc_done_details(struct run *r, struct rec *p, struct aws_call *c, int n);
int rc_emit_mapping(struct run *r, struct rec *p, struct aws_call *c);
void rc_done_mapping(struct run *r, struct rec *p, struct aws_call *c, int n);
int rc_emit_dlq_url(struct run *r, struct rec *p, struct aws_call *c);
int rc_emit_queue_url(struct run *r, struct rec *p, struct aws_call *c);
void rc_done_queue_url(struct run *r, struct rec *p, struct aws_call *c, int n);
int rc_emit_dlq_arn(struct run *r, struct rec *p, struct aws_call *c);
int rc_emit_queue_arn(struct run *r, struct rec *p, struct aws_call *c);
void rc_done_queue_arn(struct run *r, struct rec *p, struct aws_call *c, int n);
int rc_emit_esm_wait(struct run *r, struct rec *p, struct aws_call *c);
void rc_done_esm_wait(struct run *r, struct rec *p, struct aws_call *c, int n);

/* reconcile_diff.c: checks, ownership and the diff (after observation) */
void rc_check_and_diff(struct run *r, struct rec *p);

/* reconcile_drain.c: a removed pipeline's drain */
long rc_drain_settle_s(void);
/* Messages by the three Approximate counts of GetQueueAttributes; -1: not read. */
long rc_queue_messages(const cJSON *attrs);
/* The item carries an expires_at (epoch s) at or before now. */
int rc_item_expired(const cJSON *item, long now);
/* After observation, item gone: sets del_* and drain, rebuilds changes. */
void rc_drain_decide(struct run *r, struct rec *p);
/* drain from the state record when no decision was made (a failure before it). */
void rc_drain_carry(struct rec *p);
/* reconcile_again.c: a refusal that clears by itself seconds after a
 * create (a new queue, a new role): 1 when it marked p again (or failed it
 * retryable after the last rerun); 0: not such a refusal. */
int rc_again(struct rec *p, const struct aws_call *c);
int rc_any_again(const struct run *r);

/* reconcile_pool.c: reservations against the account's pool, before any
 * change; the extras step's answers (a refusal's minimum is learned) */
void rc_pool_check(struct run *r);
void rc_done_extras(struct run *r, struct rec *p, struct aws_call *c, int n);

/* reconcile_apply.c: the mutation and deletion steps */
int rc_emit_dlq(struct run *r, struct rec *p, struct aws_call *c);
void rc_done_dlq(struct run *r, struct rec *p, struct aws_call *c, int n);
int rc_emit_main_queue(struct run *r, struct rec *p, struct aws_call *c);
void rc_done_main_queue(struct run *r, struct rec *p, struct aws_call *c, int n);
int rc_emit_delete_failed(struct run *r, struct rec *p, struct aws_call *c);
void rc_done_delete_failed(struct run *r, struct rec *p, struct aws_call *c, int n);
int rc_emit_function_code(struct run *r, struct rec *p, struct aws_call *c);
void rc_done_function(struct run *r, struct rec *p, struct aws_call *c, int n);
int rc_emit_wait(struct run *r, struct rec *p, struct aws_call *c);
void rc_done_wait(struct run *r, struct rec *p, struct aws_call *c, int n);
int rc_emit_function_config(struct run *r, struct rec *p, struct aws_call *c);
int rc_emit_function_extras(struct run *r, struct rec *p, struct aws_call *c);
void rc_done_all_ok(struct run *r, struct rec *p, struct aws_call *c, int n);
int rc_emit_queue_late(struct run *r, struct rec *p, struct aws_call *c);
int rc_emit_mapping_pre(struct run *r, struct rec *p, struct aws_call *c);
void rc_done_mapping_pre(struct run *r, struct rec *p, struct aws_call *c, int n);
int rc_emit_mapping_post(struct run *r, struct rec *p, struct aws_call *c);
int rc_emit_delete_mapping(struct run *r, struct rec *p, struct aws_call *c);
void rc_done_delete(struct run *r, struct rec *p, struct aws_call *c, int n);
int rc_emit_delete_function(struct run *r, struct rec *p, struct aws_call *c);
int rc_emit_delete_queue(struct run *r, struct rec *p, struct aws_call *c);
int rc_emit_delete_dlq(struct run *r, struct rec *p, struct aws_call *c);

#endif
