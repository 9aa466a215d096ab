/* plan.h: choosing a rollout's targets and batching them into waves.
 *
 * Pure: no AWS call. The inputs are the state table's pipeline# records
 * (already scanned by store_pipelines_scan), what ListFunctions observed (the seen/sha/image fields
 * the wave code fills in), the policy's waves (parsed) or a frozen plan.
 *
 * A target list holds each pipeline at most once: adding a pipeline already
 * in it changes nothing (the first wave naming it wins). So loading a plan
 * twice, as a retried header write does, never duplicates a target. */
#ifndef TP_ROLLOUT_PLAN_H
#define TP_ROLLOUT_PLAN_H

#include "base/base.h"
#include "core/names.h"
#include "core/rollout/rollout.h"

#include <stddef.h>
#include <stdint.h>

struct cJSON;
struct store_pipeline;
struct store_pipelines;
struct store_spec_code;

struct ro_target {
	char *pipeline;                 /* owned */
	char function[NAMES_FUNCTION_MAX + 1];
	int wave;                       /* index in the plan; -1: not planned yet */
	int seen;                       /* found by the last observation */
	char sha[64];                   /* observed CodeSha256 */
	char prev_sha[64];              /* CodeSha256 before this rollout updated it ("" unknown) */
	char rev[80];                   /* observed RevisionId */
	int image;                      /* PackageType Image: no zip code to roll out */
	int reference;                  /* spec wants S3ObjectStorageMode REFERENCE */
	enum rollout_fn_state status;
	int busy;                       /* Lambda reports State Pending or LastUpdateStatus InProgress */
	int fresh;                      /* busy/rev/sha come from GetFunction, not ListFunctions */
	int acted;                      /* this run sent it an update */
	int rounds;                     /* resends after a conflict */
	int polls;                      /* status polls while busy */
	int64_t not_before;             /* monotonic ms: throttled or busy, wait until then */
	int recorded;                   /* status last written to its record; -1: none */
	tp_err err;                     /* why it failed */
};

/* The targets of one rollout and the ones dropped from it, with why. */
struct ro_targets {
	struct ro_target *t;
	size_t n, cap;
	struct rollout_skip *skipped;
	size_t nskipped, cap_skipped;
	/* By pipeline name: open addressing, index + 1 into t (0: empty);
	 * plan_find is a lookup, not a walk, at 50,000 targets. */
	size_t *slots;
	size_t n_slots;                 /* a power of two, > 2n; 0: none yet */
};

/* The code object a stored spec (a pipeline# record's "spec", written by
 * reconcile, read through store_spec_code_parse) deploys to its function,
 * and whether it asks for S3ObjectStorageMode REFERENCE. The only reader
 * of that record in rollout. Returns 1 with *code filled (free it with
 * store_spec_code_free), or 0 with *code empty when the record names no
 * code object (deleted, no spec, no Code.S3Bucket/S3Key). */
int plan_spec_code(const struct store_pipeline *record, struct store_spec_code *code);

/* Add pipeline (its function named under prefix) at wave; a pipeline
 * already listed, or whose function name cannot be formed, is not added.
 * Returns the target, or NULL when not added. */
struct ro_target *plan_add(struct ro_targets *ts, const char *prefix, const char *pipeline, int wave);

/* Find pipeline's target, or NULL. */
struct ro_target *plan_find(const struct ro_targets *ts, const char *pipeline);

/* Forget every target (the skipped ones stay listed). */
void plan_clear(struct ro_targets *ts);
/* Free the targets and the skipped list. */
void plan_free(struct ro_targets *ts);

/* Record a skipped target with why. */
void plan_skip(struct ro_targets *ts, const struct ro_target *t, const char *why);

/* Targets of a new rollout: every live pipeline record whose spec deploys
 * s3://bucket/key, unplanned (wave -1), with its storage mode, in the
 * records' order (by pipeline name). */
void plan_select(struct ro_targets *ts, const char *prefix, const struct store_pipelines *records,
		 const char *bucket, const char *key);

/* Copy each target's storage mode from its record, looked up by name (a
 * resumed rollout's targets come from its frozen plan). */
void plan_note_storage(struct ro_targets *ts, struct store_pipelines *records);

/* Targets of a frozen plan [{targets: [pipeline...], ...}], each in the
 * wave that names it first. */
void plan_from_frozen(struct ro_targets *ts, const char *prefix, const struct cJSON *plan);

/* After the first observation: drop the targets not seen (missing, or the
 * function's marker names another object) into skipped. */
void plan_drop_unseen(struct ro_targets *ts);

/* Drop PackageType Image functions into skipped: rollout deploys zip code. */
void plan_drop_images(struct ro_targets *ts);

/* The function already runs the code whose CodeSha256 is sha. */
int plan_is_done(const struct ro_target *t, const char *sha);

/* Batch the targets into the policy's waves [{targets: [pipeline...],
 * pause_seconds, halt_on_failure, mode}]: a target goes into the first
 * wave naming it, a wave with no target is left out, a target no wave
 * names is skipped. *plan (new) is the frozen plan
 * [{targets, pause_seconds, halt_on_failure}]. A wave's mode (when
 * mode is NULL) must be "code" (another fails with BadMode). */
int plan_batch(struct ro_targets *ts, const struct cJSON *waves, const char *mode, struct cJSON **plan,
	       tp_err *e);

#endif
