/* app.c: open settings, AWS client and policy together (see app.h). */
#include "core/app.h"
#include "base/settings_table.h"

#include "aws/awsjson.h"
#include "aws/budget_shared.h"
#include "aws/lambda.h"
#include "core/codestore.h"
#include "core/settings_store.h"
#include "core/pool.h"
#include "core/runtimes.h"
#include "core/store.h"
#include "base/log.h"
#include "script/policy.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

static int claim(void *ctx, int cls, int k, int64_t now_us, struct budget_grant *g, int64_t *wait_us,
		 tp_err *e)
{
	return bshared_claim(ctx, cls, k, now_us, g, wait_us, e);
}

/* Every taskpipe process of the account meters Lambda calls against one
 * schedule in the state table (budget_shared.h): AWS's 15 req/s is for
 * the account and region, whoever calls. The controller (the Lambda
 * runtime: stream, SNS and schedule invocations) books at the rate less
 * the reserve, so operators and other tools always find room. */
static void open_budget(struct app *app, const struct settings *s)
{
	if (s->lambda_budget_local || !(s->lambda_rps > 0) || !s->state_table || !*s->state_table)
		return;
	const char *rt = getenv("AWS_LAMBDA_RUNTIME_API");
	struct bshared_opts o = {
		.table = s->state_table,
		.rate = s->lambda_rps,
		.get_rate = setting_double_or_warn(SET_LAMBDA_GET_RPS),
		.reserve = s->lambda_reserve_rps,
		.background = rt && *rt,
	};
	tp_err e = { 0 };
	if (bshared_new(&o, &app->budget, &e) < 0) {
		log_warn("shared Lambda budget unavailable (%s: %.200s): metering this process alone",
			 e.code, e.message);
		return;
	}
	double rate[2] = { bshared_rate(app->budget, 0), bshared_rate(app->budget, 1) };
	aws_set_budget_source(app->aws, claim, app->budget, rate);
}

/* The stored shared settings into app->set; a conflict is kept for
 * app_may_write, or, asked to (from_env), the stored set is updated. A
 * read failure leaves this process's settings (and says so). */
static void merge_settings(struct app *app)
{
	tp_err e = { 0 };
	if (!app->set.state_table || !*app->set.state_table)
		return;
	if (settings_store_merge(app->aws, &app->set, &app->settings_record, &app->settings_found,
				 app->settings_conflict, sizeof app->settings_conflict, &e) < 0) {
		log_warn("stored settings unreadable (%s: %.200s): using this process's own", e.code, e.message);
		return;
	}
	if (app->set.from_env && app->settings_found) {
		int written = 0;
		if (settings_store_save(app->aws, &app->set, 0, &written, &e) < 0) {
			log_warn("stored settings not updated (%s: %.200s)", e.code, e.message);
			return;
		}
		if (app->settings_conflict[0])
			log_info("stored settings updated (--settings-from-env): %s", app->settings_conflict);
		app->settings_conflict[0] = 0;
	} else if (app->settings_conflict[0]) {
		log_warn("%s; this process will not write shared state", app->settings_conflict);
	}
}

int app_open(struct app *app, const struct settings *s, tp_err *e)
{
	memset(app, 0, sizeof *app);
	app->set = *s;
	app->account_concurrency = -1;
	app->unreserved_min = -2;
	app->code_versioned = -1;
	struct aws_options o = { 0 };
	o.lambda_rps = s->lambda_rps;
	o.max_in_flight = s->parallel;
	int rc = aws_new(&o, &app->aws, e);
	if (rc < 0)
		return rc;
	merge_settings(app);
	if ((rc = policy_load(s->policy, NULL, &app->policy, e)) < 0) {
		aws_free(app->aws);
		cJSON_Delete(app->settings_record);
		app->aws = NULL;
		app->settings_record = NULL;
		return rc;
	}
	open_budget(app, &app->set);
	return TP_OK;
}

int app_may_write(const struct app *app, tp_err *e)
{
	if (!app->settings_conflict[0])
		return TP_OK;
	return tp_errf(e, TP_EINVAL, "SettingsDiffer", "refusing to write shared state: %s", app->settings_conflict);
}

int app_settings_store(struct app *app, int if_absent, int *written, tp_err *e)
{
	int rc = settings_store_save(app->aws, &app->set, if_absent, written, e);
	if (rc == TP_OK && *written) {
		app->settings_found = 1;
		app->settings_conflict[0] = 0;
	}
	return rc;
}

void app_close(struct app *app)
{
	cJSON_Delete(app->settings_record);
	policy_free(app->policy);
	aws_free(app->aws);
	bshared_free(app->budget);
	memset(app, 0, sizeof *app);
}

static void add_str(cJSON *o, const char *k, const char *v)
{
	if (v)
		cJSON_AddStringToObject(o, k, v);
}

/* The account's concurrency limit changes rarely and asking costs a call
 * from Lambda's scarce control-plane budget: keep it in the state table for
 * an hour, so confirming unchanged pipelines makes no Lambda call at all. */
#define ACCOUNT_TTL_S 3600

static long account_concurrency(struct app *app)
{
	long now = (long)(tp_now_ms() / 1000), limit = -1, at = 0, min = -1;
	tp_err se = { 0 };
	if (store_account_get(app->aws, app->set.state_table, &limit, &at, &min, &se) < 0 ||
	    now - at >= ACCOUNT_TTL_S)
		limit = -1;
	app->unreserved_min = min;
	if (limit > 0)
		return limit;

	tp_err e = { 0 };
	cJSON *out = NULL;
	struct aws_call gc;
	lambda_get_account_settings(&gc);
	if (awsj_run(app->aws, &gc, &out, &e) == TP_OK) {
		cJSON *c = cJSON_GetObjectItem(cJSON_GetObjectItem(out, "AccountLimit"), "ConcurrentExecutions");
		limit = cJSON_IsNumber(c) ? (long)c->valuedouble : 1000;
	} else {
		/* The documented default; the policy still gets a number, and the
		 * cache keeps this run's successors from asking again for an hour. */
		log_warn("GetAccountSettings failed (%s: %.120s); assuming the default 1000 concurrent executions",
			 e.code, e.message);
		limit = 1000;
	}
	cJSON_Delete(out);
	/* best effort: a cache */
	store_account_put(app->aws, app->set.state_table, limit, now, min, &se);
	return limit;
}

/* The policy defaults code_storage to "reference" on a versioned default
 * bucket (S3ObjectStorageMode REFERENCE needs versioning). Unknown (no
 * bucket, no permission) counts as not versioned: COPY always works. */
static int code_bucket_versioned(struct app *app)
{
	int64_t now = tp_now_ms();
	if (!app->set.code_bucket)
		return 0;
	if (app->code_versioned >= 0 && now - app->code_versioned_at < 300000)
		return app->code_versioned;
	tp_err e = { 0 };
	int v = codestore_bucket_versioned(app->aws, app->set.code_bucket, &e);
	if (v < 0) {
		log_warn("GetBucketVersioning %s failed (%s: %.120s); code_storage defaults to copy",
			 app->set.code_bucket, e.code, e.message);
		v = 0;
	}
	app->code_versioned = v;
	app->code_versioned_at = now;
	return v;
}

cJSON *app_policy_ctx_value(struct app *app)
{
	if (app->account_concurrency < 0)
		app->account_concurrency = account_concurrency(app);
	cJSON *ctx = cJSON_CreateObject();
	add_str(ctx, "instance", app->set.owner);
	add_str(ctx, "region", aws_region(app->aws));
	add_str(ctx, "prefix", app->set.prefix);
	cJSON_AddNumberToObject(ctx, "account_concurrency", (double)app->account_concurrency);
	/* the minimum a refusal named, else min(100, limit) (pool.h) */
	cJSON_AddNumberToObject(ctx, "unreserved_min", (double)pool_minimum(app, app->account_concurrency, NULL));
	cJSON *d = cJSON_AddObjectToObject(ctx, "defaults");
	add_str(d, "code_bucket", app->set.code_bucket);
	add_str(d, "code_key", app->set.code_key);
	add_str(d, "role_arn", app->set.role_arn);
	add_str(d, "consumer_layer", app->set.consumer_layer);
	add_str(d, "consumer_layer_arm64", app->set.consumer_layer_arm64);
	add_str(d, "state_table", app->set.state_table);
	add_str(d, "runtime", app->set.runtime);
	add_str(d, "code_storage", app->set.code_storage);
	cJSON_AddBoolToObject(d, "code_bucket_versioned", code_bucket_versioned(app));
	/* Today's date reaches the policy as the runtimes' phases (hashed), not
	 * as ctx.now (left out of the input hash): runtimes.h. */
	char today[11];
	runtimes_today(tp_now_ms(), today);
	cJSON_AddItemToObject(ctx, "runtimes", runtimes_ctx(today));
	cJSON_AddNumberToObject(ctx, "now", (double)(tp_now_ms() / 1000));
	return ctx;
}

void app_stats_json(const struct app *app, cJSON *obj)
{
	const struct aws_stat *st;
	size_t n = aws_stats(app->aws, &st);
	cJSON *calls = cJSON_AddObjectToObject(obj, "calls");
	for (size_t i = 0; i < n; i++)
		cJSON_AddNumberToObject(calls, st[i].key, (double)st[i].requests);
	cJSON_AddNumberToObject(obj, "lambda_calls", (double)aws_stats_lambda(app->aws));
	cJSON_AddNumberToObject(obj, "mutating_calls", (double)aws_stats_mutating(app->aws));
	/* Throttles of SQS, DynamoDB, S3, ...: retried, backing off, without the retry quota. */
	cJSON_AddNumberToObject(obj, "throttled_other", (double)aws_stats_throttled_other(app->aws));
	/* The shared budget's DynamoDB cost next to the Lambda calls it metered. */
	cJSON *b = cJSON_AddObjectToObject(obj, "lambda_budget");
	cJSON_AddStringToObject(b, "mode", app->budget ? "shared" : "local");
	cJSON_AddNumberToObject(b, "throttled", (double)aws_stats_throttled(app->aws));
	cJSON_AddNumberToObject(b, "retries", (double)aws_stats_lambda_retries(app->aws));
	if (app->budget) {
		struct bshared_stats bs;
		bshared_stats(app->budget, &bs);
		cJSON_AddNumberToObject(b, "rate", bshared_rate(app->budget, 0));
		cJSON_AddNumberToObject(b, "claims", (double)bs.claims);
		cJSON_AddNumberToObject(b, "writes", (double)bs.writes);
		cJSON_AddNumberToObject(b, "refused", (double)bs.refused);
		cJSON_AddNumberToObject(b, "tokens", (double)bs.tokens);
	}
}
