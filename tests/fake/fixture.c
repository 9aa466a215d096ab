/* fixture.c: a taskpipe instance on the fake AWS (see fixture.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "aws/awsjson.h"
#include "aws/ddb.h"
#include "aws/http.h"
#include "aws/lambda.h"
#include "aws/s3.h"
#include "aws/sqs.h"
#include "cmd/cmd_pipeline.h"
#include "core/config_item.h"
#include "core/settings.h"
#include "fake/fake_int.h"
#include "fake/fixture.h"

/* What tests/integration/harness.py gives every taskpipe process (BASE_ENV,
 * Moto.env), with the fake's endpoint: never a real AWS one. */
static void set_env(void)
{
	setenv("AWS_ACCESS_KEY_ID", "AKIDFAKE", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "secret", 1);
	unsetenv("AWS_SESSION_TOKEN");
	unsetenv("AWS_PROFILE");
	setenv("AWS_REGION", FX_REGION, 1);
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	setenv("AWS_CONFIG_FILE", "/nonexistent/config", 1);
	setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials", 1);
	setenv("AWS_ENDPOINT_URL", "http://fake.invalid", 1); /* never AWS, even by mistake */
	if (!getenv("TASKPIPE_LOG_LEVEL"))
		setenv("TASKPIPE_LOG_LEVEL", "ERROR", 1);
	setenv("TASKPIPE_DRAIN_SETTLE_S", "0", 1);
	setenv("TASKPIPE_CODE_STORAGE", "copy", 1);
	setenv("TASKPIPE_CODE_BUCKET", FX_BUCKET, 1);
	setenv("TASKPIPE_CODE_KEY", FX_KEY, 1);
	setenv("TASKPIPE_ROLE_ARN", FX_ROLE, 1);
	setenv("TASKPIPE_PREFIX", FX_PREFIX, 1);
	setenv("TASKPIPE_OWNER", FX_OWNER, 1);
	setenv("TASKPIPE_PROGRESS", "0", 1);
	/* items with a rate need the consumer layer (the policy's rule) */
	setenv("TASKPIPE_CONSUMER_LAYER", FX_LAYER, 1);
	unsetenv("TASKPIPE_POLICY");
	unsetenv("TASKPIPE_CONFIG_TABLE");
	unsetenv("TASKPIPE_STATE_TABLE");
	unsetenv("AWS_LAMBDA_RUNTIME_API");
}

static void open_app(struct app *app)
{
	struct settings s;
	settings_init(&s);
	tp_err e = { 0 };
	if (app_open(app, &s, &e) < 0)
		fail_msg("app_open: %s: %s", e.code, e.message);
}

void fx_open(struct fx *x, struct app *app)
{
	(void)x;
	open_app(app);
}

void fx_setup(struct fx *x, const struct fake_options *fo)
{
	memset(x, 0, sizeof *x);
	set_env();
	x->fake = fake_new(fo);
	fake_use_clock(x->fake);
	fake_attach_all(x->fake);
	/* `taskpipe init`, as a user runs it (its output is init's). */
	char a0[] = "init";
	char *argv[] = { a0, NULL };
	fflush(stdout);
	int rc = cmd_init(1, argv);
	fflush(stdout);
	if (rc != 0)
		fail_msg("taskpipe init failed (%d) against the fake", rc);
	/* tables CREATING for a while: init waited until ACTIVE */
	if (fo && fo->table_lag_ms > 0 && fake_elapsed_ms(x->fake) < fo->table_lag_ms)
		fail_msg("init returned after %lld ms, before its tables were ACTIVE (%d ms)",
			 (long long)fake_elapsed_ms(x->fake), fo->table_lag_ms);
	open_app(&x->app);
	x->app_open = 1;
	fx_upload(x, "consumer code v1");
}

void fx_teardown(struct fx *x)
{
	if (x->app_open)
		app_close(&x->app);
	x->app_open = 0;
	if (x->tmp[0]) {
		char cmd[128];
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", x->tmp);
		if (system(cmd) != 0)
			fprintf(stderr, "fixture: could not remove %s\n", x->tmp);
	}
	fake_free(x->fake);
	x->fake = NULL;
}

void fx_policy_file(struct fx *x, const char *name, const char *lua, char *path, size_t len)
{
	if (!x->tmp[0]) {
		snprintf(x->tmp, sizeof x->tmp, "/tmp/tp-sim-XXXXXX");
		assert_non_null(mkdtemp(x->tmp));
	}
	snprintf(path, len, "%s/%s", x->tmp, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(lua, f);
	assert_int_equal(fclose(f), 0);
}

void fx_reopen(struct fx *x, const char *policy_path)
{
	if (x->app_open)
		app_close(&x->app);
	if (policy_path)
		setenv("TASKPIPE_POLICY", policy_path, 1);
	else
		unsetenv("TASKPIPE_POLICY");
	open_app(&x->app);
	x->app_open = 1;
}

void fx_put(struct fx *x, const char *json)
{
	cJSON *j = cJSON_Parse(json);
	if (!j)
		fail_msg("fx_put: not JSON: %s", json);
	char why[300] = "";
	cJSON *item = ddb_item_from_json(j, why, sizeof why);
	cJSON_Delete(j);
	if (!item)
		fail_msg("fx_put: %s: %s", json, why);
	tp_err e = { 0 };
	int rc = config_item_put(&x->app, item, &e);
	cJSON_Delete(item);
	if (rc < 0)
		fail_msg("put %s: %s: %s", json, e.code, e.message);
}

void fx_rm(struct fx *x, const char *name)
{
	tp_err e = { 0 };
	if (config_item_delete(&x->app, name, 1, &e) < 0)
		fail_msg("rm %s: %s: %s", name, e.code, e.message);
}

void fx_upload(struct fx *x, const char *bytes)
{
	struct aws_call c = { .service = SVC_S3, .op = "PutObject", .method = "PUT",
			      .path = "/" FX_BUCKET "/" FX_KEY, .body = bytes, .body_len = strlen(bytes),
			      .content_type = "application/zip" };
	aws_call_one(x->app.aws, &c);
	if (c.rc != TP_OK)
		fail_msg("PutObject s3://%s/%s: %s: %s", FX_BUCKET, FX_KEY, c.err.code, c.err.message);
	x->version[0] = 0;
	s3_version_id(&c, x->version, sizeof x->version);
	aws_call_free(&c);
}

struct rec_result *fx_reconcile(struct fx *x, struct app *app, const char *const *names, size_t n,
				const struct reconcile_opts *o, size_t *n_out)
{
	struct reconcile_opts none = { 0 };
	struct rec_result *res = NULL;
	tp_err e = { 0 };
	int rc = reconcile_run(app ? app : &x->app, (char *const *)names, n, n == 0, o ? o : &none, &res,
			       n_out, &e);
	if (rc < 0)
		fail_msg("reconcile_run: %s: %s", e.code, e.message);
	return res;
}

struct rec_result *fx_result(struct rec_result *res, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(res[i].name, name) == 0)
			return &res[i];
	return NULL;
}

void fx_assert_all_ok(const struct rec_result *res, size_t n)
{
	int bad = 0;
	for (size_t i = 0; i < n; i++)
		if (res[i].rc != TP_OK) {
			fprintf(stderr, "pipeline %s: %s: %s\n", res[i].name, res[i].err.code, res[i].err.message);
			bad++;
		}
	assert_int_equal(bad, 0);
}

/* ---- asking the fake ---- */

struct cJSON *fx_call_ok(struct fx *x, struct aws_call *c)
{
	aws_call_one(x->app.aws, c);
	if (c->rc != TP_OK)
		fail_msg("%s: %s: %s", c->op, c->err.code, c->err.message);
	cJSON *out = awsj_result(c);
	aws_call_free(c);
	return out;
}

struct cJSON *fx_get_function(struct fx *x, const char *function)
{
	struct aws_call c;
	lambda_get_function(&c, function, NULL);
	aws_call_one(x->app.aws, &c);
	cJSON *out = c.rc == TP_OK ? awsj_result(&c) : NULL;
	if (c.rc != TP_OK && c.status != 404)
		fail_msg("GetFunction %s: %s: %s", function, c.err.code, c.err.message);
	aws_call_free(&c);
	return out;
}

long fx_reserved(struct fx *x, const char *function)
{
	cJSON *fn = fx_get_function(x, function);
	assert_non_null(fn);
	cJSON *r = cJSON_GetObjectItem(cJSON_GetObjectItem(fn, "Concurrency"), "ReservedConcurrentExecutions");
	long v = cJSON_IsNumber(r) ? (long)r->valuedouble : -1;
	cJSON_Delete(fn);
	return v;
}

struct cJSON *fx_mapping(struct fx *x, const char *function)
{
	struct aws_call c;
	lambda_list_event_source_mappings(&c, function, NULL, 0);
	cJSON *out = fx_call_ok(x, &c);
	cJSON *list = cJSON_GetObjectItem(out, "EventSourceMappings");
	cJSON *m = cJSON_GetArraySize(list) > 0 ? cJSON_DetachItemFromArray(list, 0) : NULL;
	assert_true(cJSON_GetArraySize(list) == 0); /* one mapping per function */
	cJSON_Delete(out);
	return m;
}

int fx_queue_url(struct fx *x, const char *queue, char *url, size_t len)
{
	struct aws_call c;
	sqs_get_queue_url(&c, queue);
	aws_call_one(x->app.aws, &c);
	int found = c.rc == TP_OK;
	if (!found && !strstr(c.err.code, "NonExistentQueue") && !strstr(c.err.code, "QueueDoesNotExist"))
		fail_msg("GetQueueUrl %s: %s: %s", queue, c.err.code, c.err.message);
	cJSON *out = found ? awsj_result(&c) : NULL;
	const char *u = cJSON_GetStringValue(cJSON_GetObjectItem(out, "QueueUrl"));
	if (url && len)
		snprintf(url, len, "%s", u ? u : "");
	cJSON_Delete(out);
	aws_call_free(&c);
	return found;
}

struct cJSON *fx_queue_attrs(struct fx *x, const char *queue)
{
	char url[512];
	if (!fx_queue_url(x, queue, url, sizeof url))
		return NULL;
	static const char *const all[] = { "All" };
	struct aws_call c;
	sqs_get_queue_attributes(&c, url, all, 1);
	cJSON *out = fx_call_ok(x, &c);
	cJSON *a = cJSON_DetachItemFromObject(out, "Attributes");
	cJSON_Delete(out);
	return a;
}

/* ---- the request log ---- */

static int log_hook(void *ctx, const struct fake_req *r, struct http_response *out)
{
	struct fx_log *l = ctx;
	l->seen++;
	if (l->kill_after > 0 && l->seen > l->kill_after) {
		/* the process is dead: nothing it sends reaches AWS */
		out->rc = TP_EIO;
		out->status = 0;
		snprintf(out->error, sizeof out->error, "killed (simulated): request %ld after %ld", l->seen,
			 l->kill_after);
		return 1;
	}
	if (l->extra && l->extra(l->extra_ctx, r, out))
		return 1;
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 256;
		l->v = realloc(l->v, l->cap * sizeof *l->v);
		assert_non_null(l->v);
	}
	struct fx_req *q = &l->v[l->n++];
	snprintf(q->service, sizeof q->service, "%s", r->service);
	/* REST services name the operation in their handler: the log takes
	 * the path as well, so a test can tell what was meant. */
	snprintf(q->op, sizeof q->op, "%s", r->op);
	if (r->body_len && r->body[0] == '{') {
		/* the resource's name first: a long body (CreateFunction) has it late */
		cJSON *b = cJSON_Parse(r->body);
		const char *who = NULL;
		const char *keys[] = { "FunctionName", "QueueName", "QueueUrl" };
		for (size_t i = 0; i < 3 && !who; i++)
			who = cJSON_GetStringValue(cJSON_GetObjectItem(b, keys[i]));
		snprintf(q->what, sizeof q->what, "%s %s [%.80s] %.200s", r->method, r->path, who ? who : "",
			 r->body);
		cJSON_Delete(b);
	}
	else
		snprintf(q->what, sizeof q->what, "%s %s?%s", r->method, r->path, r->query);
	/* The service answers here, as the router would (fake.c answer()), so
	 * the log has the status: a throttled request did nothing. */
	struct fake *f = l->fake;
	struct fake_req *w = (struct fake_req *)r;
	if (strcmp(r->service, "dynamodb") == 0)
		fake_ddb_handle(f, w, out);
	else if (strcmp(r->service, "sqs") == 0)
		fake_sqs_handle(f, w, out);
	else if (strcmp(r->service, "lambda") == 0)
		fake_lambda_handle(f, w, out);
	else if (strcmp(r->service, "s3") == 0)
		fake_s3_handle(f, w, out);
	else if (strcmp(r->service, "tagging") == 0)
		fake_tagging_handle(f, w, out);
	else if (strcmp(r->service, "monitoring") == 0)
		fake_cloudwatch_handle(f, w, out);
	else
		return 0;
	q = &l->v[l->n - 1];
	q->status = out->status;
	if (!q->op[0] && r->op[0])
		snprintf(q->op, sizeof q->op, "%s", r->op);
	return 1;
}

void fx_log_start(struct fx *x, struct fx_log *l)
{
	if (l)
		l->fake = x->fake;
	if (l)
		fake_set_hook(x->fake, log_hook, l);
	else
		fake_set_hook(x->fake, NULL, NULL);
}

void fx_log_free(struct fx_log *l)
{
	free(l->v);
	memset(l, 0, sizeof *l);
}

/* The operation of a logged request: REST services have none in the
 * router's view (no X-Amz-Target), so it is read from method and path. */
static const char *op_of(const struct fx_req *q, char *ob, size_t len)
{
	if (q->op[0])
		return q->op;
	const char *w = q->what;
	const char *rules[][3] = {
		{ "PUT ", "/code", "UpdateFunctionCode" },
		{ "PUT ", "/configuration", "UpdateFunctionConfiguration" },
		{ "PUT ", "/concurrency", "PutFunctionConcurrency" },
		{ "DELETE ", "/concurrency", "DeleteFunctionConcurrency" },
		{ "GET ", "/concurrency", "GetFunctionConcurrency" },
		{ "POST ", "/event-source-mappings", "CreateEventSourceMapping" },
		{ "PUT ", "/event-source-mappings/", "UpdateEventSourceMapping" },
		{ "DELETE ", "/event-source-mappings/", "DeleteEventSourceMapping" },
		{ "GET ", "/event-source-mappings", "ListEventSourceMappings" },
		{ "POST ", "/tags/", "TagResource" },
		{ "DELETE ", "/tags/", "UntagResource" },
		{ "GET ", "/tags/", "ListTags" },
		{ "GET ", "/account-settings", "GetAccountSettings" },
		{ "GET ", "/configuration", "GetFunctionConfiguration" },
		{ "POST ", "/versions", "PublishVersion" },
		{ "POST ", "/functions", "CreateFunction" },
		{ "DELETE ", "/functions/", "DeleteFunction" },
		{ "GET ", "/functions/?", "ListFunctions" },
		{ "GET ", "/functions/", "GetFunction" },
	};
	for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++)
		if (strncmp(w, rules[i][0], strlen(rules[i][0])) == 0 && strstr(w, rules[i][1])) {
			snprintf(ob, len, "%s", rules[i][2]);
			return ob;
		}
	snprintf(ob, len, "?");
	return ob;
}

static int matches(const struct fx_req *q, const char *service, const char *op, const char *needle)
{
	char b[64];
	return (!service || strcmp(q->service, service) == 0) && (!op || strcmp(op_of(q, b, sizeof b), op) == 0) &&
	       (!needle || strstr(q->what, needle));
}

long fx_log_count(const struct fx_log *l, const char *service, const char *op, const char *needle)
{
	long n = 0;
	for (size_t i = 0; i < l->n; i++)
		n += matches(&l->v[i], service, op, needle);
	return n;
}

long fx_log_count_ok(const struct fx_log *l, const char *service, const char *op, const char *needle)
{
	long n = 0;
	for (size_t i = 0; i < l->n; i++)
		n += matches(&l->v[i], service, op, needle) && l->v[i].status >= 200 && l->v[i].status < 300;
	return n;
}

long fx_log_find(const struct fx_log *l, size_t from, const char *op, const char *needle)
{
	for (size_t i = from; i < l->n; i++)
		if (matches(&l->v[i], NULL, op, needle))
			return (long)i;
	return -1;
}

long fx_log_mutating(const struct fx_log *l, size_t from, const char *needle)
{
	long n = 0;
	char b[64];
	for (size_t i = from; i < l->n; i++)
		n += aws_op_is_mutating(op_of(&l->v[i], b, sizeof b)) && (!needle || strstr(l->v[i].what, needle));
	return n;
}

void fx_assert_no_violations(struct fx *x)
{
	long v = fake_lambda_violations(x->fake, NULL);
	if (v)
		fail_msg("%ld request(s) refused by the fake Lambda's rules (fake_lambda_violations)", v);
}

int fx_seeds(int dflt)
{
	const char *v = getenv("TASKPIPE_SIM_SEEDS");
	int n = v ? atoi(v) : 0;
	return n > 0 ? n : dflt;
}

int fx_state_setup(void **state)
{
	struct fx *x = calloc(1, sizeof *x);
	fx_setup(x, NULL);
	*state = x;
	return 0;
}

int fx_state_teardown(void **state)
{
	struct fx *x = *state;
	fx_assert_no_violations(x);
	fx_teardown(x);
	free(x);
	return 0;
}
