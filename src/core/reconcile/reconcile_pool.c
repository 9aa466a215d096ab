/* reconcile_pool.c: the account's concurrency pool (core/pool.h), checked
 * after observation and before any change, and a refusal's minimum learned.
 *
 * Every reservation shrinks the pool the whole account shares, so a run
 * that would raise reservations asks GetAccountSettings (one Lambda call,
 * only then) how many executions are unreserved, and lets pipelines take
 * from what lies above the minimum in name order. A pipeline whose raise
 * does not fit fails before anything of it is created or changed: a queue
 * and function without their mapping would hold messages nobody consumes.
 * Lowered reservations free room only once applied, so they are not
 * counted here. */
#include "core/reconcile/reconcile_int.h"

#include "base/log.h"
#include "core/pool.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

/* The executions this pipeline's spec reserves beyond what its function
 * holds now. */
static long raise_of(const struct rec *p)
{
	long want, max;
	spec_demand(&p->want.spec, &want, &max);
	cJSON *have = cJSON_GetObjectItem(cJSON_GetObjectItem(p->fn, "Concurrency"), "ReservedConcurrentExecutions");
	long had = cJSON_IsNumber(have) ? (long)have->valuedouble : 0;
	return want - had;
}

void rc_pool_check(struct run *r)
{
	int asks = 0;
	for (size_t i = 0; i < r->n; i++) {
		struct rec *p = &r->recs[i];
		asks |= !p->failed && !p->done && p->spec && raise_of(p) > 0;
	}
	if (!asks)
		return;
	struct pool_account pa;
	tp_err e = { 0 };
	if (pool_read(r->app, &pa, &e) < 0) {
		log_warn("GetAccountSettings failed (%s: %.160s): reservations are not checked against the account's pool before the changes; Lambda refuses what does not fit",
			 e.code, e.message);
		return;
	}
	long room = pa.unreserved - pa.minimum, taken = 0;
	for (size_t i = 0; i < r->n; i++) {
		struct rec *p = &r->recs[i];
		if (p->failed || p->done || !p->spec)
			continue;
		long raise = raise_of(p);
		if (raise <= 0)
			continue;
		if (raise <= room - taken) {
			taken += raise;
			continue;
		}
		tp_err pe = { 0 };
		tp_errf(&pe, TP_ELIMIT, "ConcurrencyPoolExhausted",
			"pipeline %s: reserving %ld more concurrent executions would leave %ld unreserved, below the account's minimum of %ld%s (account limit %ld, %ld unreserved now, %ld of them taken by pipelines before this one in this run); nothing of this pipeline was created or changed. Free reservations elsewhere, give it concurrency >= 2 (MaximumConcurrency reserves nothing) or raise the account's limit",
			p->res->name, raise, pa.unreserved - taken - raise, pa.minimum,
			pa.minimum_learned ? ", as Lambda named it" : "", pa.limit, pa.unreserved, taken);
		rc_fail(p, &pe);
	}
}

void rc_done_extras(struct run *r, struct rec *p, struct aws_call *c, int n)
{
	for (int i = 0; i < n; i++) {
		if (c[i].rc == TP_OK)
			continue;
		long min = strcmp(c[i].op, "PutFunctionConcurrency") == 0 ? pool_learn(r->app, c[i].err.message) : -1;
		if (min < 0) {
			rc_fail(p, &c[i].err);
			return;
		}
		/* Another process reserved first, or the minimum is not the one
		 * assumed: the next run checks against the minimum learned. */
		tp_err pe = c[i].err;
		snprintf(pe.code, sizeof pe.code, "ConcurrencyPoolExhausted");
		snprintf(pe.message, sizeof pe.message,
			 "function %s: Lambda refused the reservation: the account keeps at least %ld executions unreserved (remembered for the next runs); the queue and function exist without their mapping until it fits",
			 p->nm.function, min);
		rc_fail(p, &pe);
		return;
	}
}
