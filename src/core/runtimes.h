/* runtimes.h: Lambda's managed-runtime lifecycle, the one table taskpipe
 * has (the policy gets it through ctx.runtimes, drift reads it here).
 *
 * A runtime is deprecated on one date (no more patches; functions keep
 * running and can still be created and updated), then Lambda blocks
 * creating functions on it, then updating them ("Runtime deprecation",
 * https://docs.aws.amazon.com/lambda/latest/dg/runtime-support-policy.html;
 * the dates: https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html).
 * Each row names where its dates come from (runtimes.c).
 *
 * Today's date reaches the policy only as each runtime's phase (and its
 * dates) in ctx.runtimes, which the input hash covers: ctx.now stays out of
 * the hash, and the hash changes only on the days a phase changes, so a
 * pipeline is re-derived exactly when a date in the table is crossed. */
#ifndef TP_RUNTIMES_H
#define TP_RUNTIMES_H

#include <stdint.h>

struct cJSON;

enum runtime_phase {
	RUNTIME_SUPPORTED,       /* before its deprecation date, or not in the table */
	RUNTIME_DEPRECATED,      /* deprecated: allowed, flagged by drift */
	RUNTIME_CREATE_BLOCKED,  /* Lambda refuses creating functions on it */
	RUNTIME_UPDATE_BLOCKED,  /* ... and updating them */
};

struct runtime_life {
	const char *runtime;
	const char *deprecated;     /* "YYYY-MM-DD" */
	const char *block_create;   /* "" when not published (then never assumed) */
	const char *block_update;
	const char *source;         /* where the dates come from */
};

/* The row of a runtime, NULL when it is not deprecated (or unknown). */
const struct runtime_life *runtimes_find(const char *runtime);

/* Its phase on the day today ("YYYY-MM-DD", UTC). */
enum runtime_phase runtimes_phase(const struct runtime_life *r, const char *today);
/* "supported", "deprecated", "create_blocked", "update_blocked" */
const char *runtimes_phase_name(enum runtime_phase p);

/* Today's UTC date for now_ms into out[11]; TASKPIPE_TODAY (YYYY-MM-DD)
 * replaces it (a test knob, so tests do not depend on the calendar). */
void runtimes_today(int64_t now_ms, char out[11]);

/* ctx.runtimes: {runtime: {deprecated, block_create, block_update, phase}}
 * for every row, phases as of today. */
struct cJSON *runtimes_ctx(const char *today);

#endif
