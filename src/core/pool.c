/* pool.c: the account's concurrency pool (see pool.h). */
#include "core/pool.h"

#include "aws/awsjson.h"
#include "aws/lambda.h"
#include "base/log.h"
#include "core/spec.h"
#include "core/store.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

long pool_min_from_message(const char *msg)
{
	static const char mark[] = "below its minimum value of [";
	const char *p = msg ? strstr(msg, mark) : NULL;
	if (!p || !strstr(msg, "UnreservedConcurrentExecution"))
		return -1;
	char *end;
	long n = strtol(p + sizeof mark - 1, &end, 10);
	return end != p + sizeof mark - 1 && *end == ']' && n >= 0 ? n : -1;
}

long pool_minimum(struct app *app, long limit, int *learned)
{
	if (app->unreserved_min < -1) {   /* not read yet */
		long c = -1, at = 0, m = -1;
		tp_err e = { 0 };
		if (store_account_get(app->aws, app->set.state_table, &c, &at, &m, &e) < 0)
			m = -1;
		app->unreserved_min = m;
	}
	if (learned)
		*learned = app->unreserved_min >= 0;
	if (app->unreserved_min >= 0)
		return app->unreserved_min;
	return limit < POOL_DEFAULT_MIN ? (limit < 0 ? POOL_DEFAULT_MIN : limit) : POOL_DEFAULT_MIN;
}

long pool_learn(struct app *app, const char *msg)
{
	long n = pool_min_from_message(msg);
	if (n < 0)
		return -1;
	long c = -1, at = 0, old = -1;
	tp_err e = { 0 };
	store_account_get(app->aws, app->set.state_table, &c, &at, &old, &e);
	app->unreserved_min = n;
	if (old == n)
		return n;
	log_warn("the account keeps at least %ld unreserved concurrent executions (Lambda said so); remembered", n);
	/* The limit's cache stays as it was (concurrency -1: absent, asked again). */
	if (store_account_put(app->aws, app->set.state_table, c, at, n, &e) < 0)
		log_warn("could not record the minimum in the state table: %s", e.message);
	return n;
}

int pool_read(struct app *app, struct pool_account *pa, tp_err *e)
{
	memset(pa, 0, sizeof *pa);
	cJSON *out = NULL;
	struct aws_call gc;
	lambda_get_account_settings(&gc);
	int rc = awsj_run(app->aws, &gc, &out, e);
	if (rc == TP_OK) {
		cJSON *lim = cJSON_GetObjectItem(out, "AccountLimit");
		cJSON *c = cJSON_GetObjectItem(lim, "ConcurrentExecutions");
		cJSON *u = cJSON_GetObjectItem(lim, "UnreservedConcurrentExecutions");
		if (!cJSON_IsNumber(c) || !cJSON_IsNumber(u)) {
			rc = tp_errf(e, TP_EAWS, "BadAccountSettings",
				     "GetAccountSettings answered without AccountLimit.ConcurrentExecutions and UnreservedConcurrentExecutions");
		} else {
			pa->limit = (long)c->valuedouble;
			pa->unreserved = (long)u->valuedouble;
			pa->minimum = pool_minimum(app, pa->limit, &pa->minimum_learned);
		}
	}
	cJSON_Delete(out);
	return rc;
}

void pool_spec_demand(const cJSON *spec, long *reserved, long *max_concurrency)
{
	*reserved = *max_concurrency = 0;
	cJSON *rc = cJSON_GetObjectItem(cJSON_GetObjectItem(spec, "func"), "ReservedConcurrentExecutions");
	if (cJSON_IsNumber(rc) && rc->valuedouble > 0)
		*reserved = (long)rc->valuedouble;
	cJSON *map = cJSON_GetObjectItem(spec, "mapping");
	cJSON *m = cJSON_GetObjectItem(cJSON_GetObjectItem(map, "ScalingConfig"), "MaximumConcurrency");
	if (cJSON_IsNumber(m) && !cJSON_IsFalse(cJSON_GetObjectItem(map, "Enabled")))
		*max_concurrency = (long)m->valuedouble;
}

void pool_demand_add(struct pool_demand *d, const cJSON *spec)
{
	long r, m;
	if (!spec)
		return;
	pool_spec_demand(spec, &r, &m);
	d->pipelines++;
	d->reserved += r;
	d->max_concurrency += m;
}

void pool_demand_add_spec(struct pool_demand *d, const struct spec *s)
{
	long r, m;
	spec_demand(s, &r, &m);
	d->pipelines++;
	d->reserved += r;
	d->max_concurrency += m;
}
