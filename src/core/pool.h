/* pool.h: the account's concurrent executions, one pool for every function.
 *
 * Every reservation (PutFunctionConcurrency) shrinks the pool all other
 * functions share, and AWS refuses one that would leave fewer unreserved
 * executions than the account's minimum: 400 InvalidParameterValueException
 * "Specified ReservedConcurrentExecutions for function decreases account's
 * UnreservedConcurrentExecution below its minimum value of [N]" (N is 100
 * by default, lower on new accounts). Event source mappings do not account
 * for reserved concurrency: they are throttled when the pool is short.
 * https://docs.aws.amazon.com/lambda/latest/api/API_PutFunctionConcurrency.html
 * https://docs.aws.amazon.com/lambda/latest/api/API_AccountLimit.html
 *
 * This file reads the account (GetAccountSettings), keeps the minimum a
 * refusal named (state table, account#settings) and adds up a fleet's
 * demand: the sum of the mappings' MaximumConcurrency and of reservations.
 */
#ifndef TP_POOL_H
#define TP_POOL_H

#include "core/app.h"

struct cJSON;

#define POOL_DEFAULT_MIN 100   /* "leave at least 100 simultaneous executions unreserved" */

struct pool_account {
	long limit;           /* AccountLimit.ConcurrentExecutions */
	long unreserved;      /* AccountLimit.UnreservedConcurrentExecutions */
	long minimum;         /* unreserved executions AWS keeps (pool_minimum) */
	int minimum_learned;  /* minimum taken from a refusal's text, not assumed */
};

struct pool_demand {
	long pipelines;       /* specs counted */
	long max_concurrency; /* sum of the mappings' ScalingConfig.MaximumConcurrency */
	long reserved;        /* sum of func.ReservedConcurrentExecutions */
};

/* GetAccountSettings now (one Lambda call): limit and unreserved, and the
 * minimum (pool_minimum). Fills e and returns < 0 when the call fails. */
int pool_read(struct app *app, struct pool_account *pa, tp_err *e);

/* The minimum of unreserved executions: the one a refusal named (cached in
 * app, read from the state table with the account limit), else
 * min(100, limit). *learned says which. */
long pool_minimum(struct app *app, long limit, int *learned);

/* N from a refusal's "... below its minimum value of [N]"; -1 when msg is
 * not that refusal. */
long pool_min_from_message(const char *msg);

/* Remember N of such a refusal (app and state table); returns N or -1. */
long pool_learn(struct app *app, const char *msg);

/* What one spec (a policy's answer: func.ReservedConcurrentExecutions,
 * mapping.ScalingConfig.MaximumConcurrency of an enabled mapping) asks of
 * the pool. */
void pool_spec_demand(const struct cJSON *spec, long *reserved, long *max_concurrency);
void pool_demand_add(struct pool_demand *d, const struct cJSON *spec);
/* The same of a typed spec (spec_demand). */
struct spec;
void pool_demand_add_spec(struct pool_demand *d, const struct spec *s);

#endif
