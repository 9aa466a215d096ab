/* test_sim_reconcile.c: reconcile (src/core/reconcile/) against the fake
 * AWS, under the sanitizers: a pipeline is created with the policy's
 * settings, an update calls only what changed, a removed item's pipeline
 * drains and goes, a same-named resource without taskpipe's tags is
 * refused and left alone, every limit transition keeps the group's limit
 * in force, a deadline leaves work for the next run, and a run whose lease
 * another holder took writes nothing more. What AWS holds is read back
 * from the fake through taskpipe's own aws/ builders; what taskpipe sent
 * from a hook's log (fixture.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "aws/awsjson.h"
#include "aws/http.h"
#include "aws/lambda.h"
#include "aws/sqs.h"
#include "core/lease.h"
#include "core/store.h"
#include "fake/fake_int.h"
#include "fake/fixture.h"

/* Reconcile the one pipeline; asserts it is ok and returns its action. */
static int apply_ok(struct fx *x, const char *name)
{
	const char *names[1] = { name };
	size_t n;
	struct rec_result *res = fx_reconcile(x, NULL, names, 1, NULL, &n);
	fx_assert_all_ok(res, n);
	int action = res[0].action;
	reconcile_results_free(res, n);
	return action;
}

static long num(const cJSON *o, const char *path)
{
	/* "A.B.C" */
	char keys[128];
	snprintf(keys, sizeof keys, "%s", path);
	const cJSON *v = o;
	for (char *save = NULL, *k = strtok_r(keys, ".", &save); k && v; k = strtok_r(NULL, ".", &save))
		v = cJSON_GetObjectItem(v, k);
	if (cJSON_IsNumber(v))
		return (long)v->valuedouble;
	if (cJSON_IsString(v))
		return atol(v->valuestring);
	return -1;
}

static const char *str(const cJSON *o, const char *k1, const char *k2)
{
	const cJSON *v = cJSON_GetObjectItem(o, k1);
	if (k2)
		v = cJSON_GetObjectItem(v, k2);
	return cJSON_GetStringValue(v);
}

/* ---- create ---- */

static void test_create(void **state)
{
	struct fx *x = *state;
	fx_put(x, "{\"pipeline\":\"a\",\"concurrency\":3,\"memory\":256,\"batch_size\":5,\"timeout\":20}");
	assert_int_equal(apply_ok(x, "a"), REC_CREATE);

	cJSON *fn = fx_get_function(x, "tp-a");
	assert_non_null(fn);
	assert_int_equal(num(fn, "Configuration.MemorySize"), 256);
	assert_int_equal(num(fn, "Configuration.Timeout"), 20);
	assert_string_equal(str(fn, "Tags", "taskpipe:owner"), FX_OWNER);
	assert_string_equal(str(fn, "Tags", "taskpipe:pipeline"), "a");
	assert_string_equal(str(cJSON_GetObjectItem(fn, "Configuration"), "Role", NULL), FX_ROLE);
	cJSON_Delete(fn);

	cJSON *q = fx_queue_attrs(x, "tp-a"), *dlq = fx_queue_attrs(x, "tp-a-dlq");
	assert_non_null(q);
	assert_non_null(dlq);
	assert_int_equal(num(q, "VisibilityTimeout"), 120);     /* 6 x timeout */
	assert_int_equal(num(q, "MessageRetentionPeriod"), 345600);
	assert_int_equal(num(dlq, "MessageRetentionPeriod"), 1209600);
	cJSON *rp = cJSON_Parse(str(q, "RedrivePolicy", NULL));
	assert_non_null(rp);
	assert_string_equal(str(rp, "deadLetterTargetArn", NULL), str(dlq, "QueueArn", NULL));
	assert_int_equal(num(rp, "maxReceiveCount"), 5);
	cJSON_Delete(rp);

	cJSON *m = fx_mapping(x, "tp-a");
	assert_non_null(m);
	assert_int_equal(num(m, "BatchSize"), 5);
	assert_int_equal(num(m, "ScalingConfig.MaximumConcurrency"), 3);
	assert_string_equal(str(m, "EventSourceArn", NULL), str(q, "QueueArn", NULL));
	assert_string_equal(str(m, "State", NULL), "Enabled");
	cJSON_Delete(m);
	cJSON_Delete(q);
	cJSON_Delete(dlq);
	assert_int_equal(fx_reserved(x, "tp-a"), -1);

	/* Unchanged: confirmed by its hashes, no Lambda or SQS call at all. */
	long lambda = fake_count(x->fake, "lambda", NULL), sqs = fake_count(x->fake, "sqs", NULL);
	const char *names[] = { "a" };
	size_t n;
	struct rec_result *res = fx_reconcile(x, NULL, names, 1, NULL, &n);
	fx_assert_all_ok(res, n);
	assert_int_equal(res[0].action, REC_NONE);
	assert_true(res[0].confirmed);
	reconcile_results_free(res, n);
	assert_int_equal(fake_count(x->fake, "lambda", NULL), lambda);
	assert_int_equal(fake_count(x->fake, "sqs", NULL), sqs);
}

/* ---- update: only what changed is called ---- */

/* Put item, apply it, and check the mutating calls on AWS resources (the
 * lease and the state write are DynamoDB's): exactly want_muts of them,
 * want_n of op among them (on the pipeline's resources). */
static void change_and_count(struct fx *x, const char *item, long want_muts, const char *want_op, long want_n)
{
	struct fx_log l = { 0 };
	fx_put(x, item);
	fx_log_start(x, &l);
	apply_ok(x, "u");
	fx_log_start(x, NULL);
	long muts = 0;
	for (size_t i = 0; i < l.n; i++)
		if (strcmp(l.v[i].service, "dynamodb") != 0)
			muts += fx_log_mutating(&l, i, NULL) - fx_log_mutating(&l, i + 1, NULL);
	/* want_muts < 0: not counted (a change with consequences of its own) */
	if ((want_muts >= 0 && muts != want_muts) || (want_op && fx_log_count(&l, NULL, want_op, "tp-u") != want_n)) {
		for (size_t i = 0; i < l.n; i++)
			fprintf(stderr, "  sent: %s %s %s\n", l.v[i].service, l.v[i].op, l.v[i].what);
		fail_msg("%s: expected %ld mutating calls, %ld %s; got %ld", item, want_muts, want_n, want_op, muts);
	}
	fx_log_free(&l);
}

static void test_update_calls_only_what_changed(void **state)
{
	struct fx *x = *state;
	fx_put(x, "{\"pipeline\":\"u\",\"concurrency\":4}");
	apply_ok(x, "u");

	change_and_count(x, "{\"pipeline\":\"u\",\"concurrency\":4,\"memory\":512}", 1,
			 "UpdateFunctionConfiguration", 1);
	cJSON *fn = fx_get_function(x, "tp-u");
	assert_int_equal(num(fn, "Configuration.MemorySize"), 512);
	cJSON_Delete(fn);

	change_and_count(x, "{\"pipeline\":\"u\",\"concurrency\":4,\"memory\":512,\"batch_size\":7}", 1,
			 "UpdateEventSourceMapping", 1);
	cJSON *m = fx_mapping(x, "tp-u");
	assert_int_equal(num(m, "BatchSize"), 7);
	cJSON_Delete(m);

	change_and_count(x, "{\"pipeline\":\"u\",\"concurrency\":4,\"memory\":512,\"batch_size\":7,\"retention\":86400}",
			 1, "SetQueueAttributes", 1);
	cJSON *q = fx_queue_attrs(x, "tp-u");
	assert_int_equal(num(q, "MessageRetentionPeriod"), 86400);
	cJSON_Delete(q);

	change_and_count(x, "{\"pipeline\":\"u\",\"concurrency\":4,\"memory\":512,\"batch_size\":7,\"retention\":86400,"
			 "\"tags\":{\"team\":\"blue\"}}", 3, "TagQueue", 2);  /* queue, DLQ and TagResource */

	/* a rate: the consumer layer and its settings in the environment */
	change_and_count(x, "{\"pipeline\":\"u\",\"concurrency\":4,\"memory\":512,\"batch_size\":7,\"retention\":86400,"
			 "\"tags\":{\"team\":\"blue\"},\"rate\":\"10/s\"}", -1, NULL, 0);
	fn = fx_get_function(x, "tp-u");
	cJSON *env = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(fn, "Configuration"), "Environment"),
					 "Variables");
	assert_string_equal(str(env, "TASKPIPE_RATE", NULL), "10");
	cJSON_Delete(fn);
	/* and its change: the function's environment only */
	change_and_count(x, "{\"pipeline\":\"u\",\"concurrency\":4,\"memory\":512,\"batch_size\":7,\"retention\":86400,"
			 "\"tags\":{\"team\":\"blue\"},\"rate\":\"20/s\"}", 1, "UpdateFunctionConfiguration", 1);
	fn = fx_get_function(x, "tp-u");
	env = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(fn, "Configuration"), "Environment"),
				  "Variables");
	assert_string_equal(str(env, "TASKPIPE_RATE", NULL), "20");
	cJSON_Delete(fn);
}

/* ---- delete and drain ---- */

static void send_one(struct fx *x, const char *queue)
{
	char url[512];
	assert_true(fx_queue_url(x, queue, url, sizeof url));
	cJSON *entries = cJSON_CreateArray(), *en = cJSON_CreateObject();
	cJSON_AddStringToObject(en, "Id", "1");
	cJSON_AddStringToObject(en, "MessageBody", "task");
	cJSON_AddItemToArray(entries, en);
	struct aws_call c;
	sqs_send_message_batch(&c, url, entries);
	cJSON_Delete(fx_call_ok(x, &c));
}

static void test_delete_drains_then_removes(void **state)
{
	struct fx *x = *state;
	fx_put(x, "{\"pipeline\":\"d\"}");
	apply_ok(x, "d");
	fx_put(x, "{\"pipeline\":\"e\",\"drain_timeout\":60,\"keep_dlq\":true}");
	apply_ok(x, "e");
	send_one(x, "tp-e");   /* e has a task waiting: it drains, then its queue is kept */

	fx_rm(x, "d");
	fx_rm(x, "e");
	const char *names[] = { "d", "e" };
	size_t n;
	struct rec_result *res = fx_reconcile(x, NULL, names, 2, NULL, &n);
	fx_assert_all_ok(res, n);
	struct rec_result *d = fx_result(res, n, "d"), *e = fx_result(res, n, "e");
	assert_int_equal(d->action, REC_DELETE);
	assert_string_equal(d->state, "deleted");
	assert_string_equal(e->state, "draining");
	reconcile_results_free(res, n);

	cJSON *fn = fx_get_function(x, "tp-d");
	assert_null(fn);
	assert_false(fx_queue_url(x, "tp-d", NULL, 0));
	assert_false(fx_queue_url(x, "tp-d-dlq", NULL, 0));
	/* e keeps consuming while it drains */
	fn = fx_get_function(x, "tp-e");
	assert_non_null(fn);
	cJSON_Delete(fn);
	cJSON *m = fx_mapping(x, "tp-e");
	assert_non_null(m);
	cJSON_Delete(m);

	/* past its drain_timeout, the task still there: the consumers go, the queue is kept */
	fake_advance_ms(x->fake, 61 * 1000);
	res = fx_reconcile(x, NULL, names + 1, 1, NULL, &n);
	fx_assert_all_ok(res, n);
	assert_string_equal(res[0].state, "kept");
	reconcile_results_free(res, n);
	assert_null(fx_get_function(x, "tp-e"));
	assert_null(fx_mapping(x, "tp-e"));
	assert_true(fx_queue_url(x, "tp-e", NULL, 0));
}

/* A name deleted less than 60 s ago: SQS refuses it (QueueDeletedRecently);
 * the pipeline fails retryable, never "ok", and a run after the minute
 * makes it. */
static void test_recreated_within_a_minute_retries(void **state)
{
	struct fx *x = *state;
	fx_put(x, "{\"pipeline\":\"r\"}");
	apply_ok(x, "r");
	fx_rm(x, "r");
	assert_int_equal(apply_ok(x, "r"), REC_DELETE);
	assert_false(fx_queue_url(x, "tp-r", NULL, 0));

	fx_put(x, "{\"pipeline\":\"r\"}");
	const char *names[] = { "r" };
	size_t n;
	struct rec_result *res = fx_reconcile(x, NULL, names, 1, NULL, &n);
	assert_int_not_equal(res[0].rc, TP_OK);
	assert_string_equal(res[0].err.code, "QueueDeletedRecently");
	assert_true(res[0].retryable);
	reconcile_results_free(res, n);

	fake_advance_ms(x->fake, 61 * 1000);
	apply_ok(x, "r");
	assert_true(fx_queue_url(x, "tp-r", NULL, 0));
	cJSON *m = fx_mapping(x, "tp-r");
	assert_non_null(m);
	cJSON_Delete(m);
}

/* ---- collisions ---- */

static void test_collision_refused_and_untouched(void **state)
{
	struct fx *x = *state;
	/* someone else's queue and function with taskpipe's names, no tags */
	cJSON *attrs = cJSON_CreateObject();
	cJSON_AddStringToObject(attrs, "VisibilityTimeout", "7");
	struct aws_call c;
	sqs_create_queue(&c, "tp-c", attrs, NULL);
	cJSON_Delete(fx_call_ok(x, &c));
	cJSON *in = cJSON_CreateObject();
	cJSON_AddStringToObject(in, "FunctionName", "tp-f");
	cJSON_AddStringToObject(in, "Runtime", "provided.al2023");
	cJSON_AddStringToObject(in, "Handler", "bootstrap");
	cJSON_AddStringToObject(in, "Role", FX_ROLE);
	cJSON_AddNumberToObject(in, "MemorySize", 1024);
	cJSON *code = cJSON_AddObjectToObject(in, "Code");
	cJSON_AddStringToObject(code, "S3Bucket", FX_BUCKET);
	cJSON_AddStringToObject(code, "S3Key", FX_KEY);
	lambda_create_function(&c, in);
	cJSON_Delete(fx_call_ok(x, &c));

	fx_put(x, "{\"pipeline\":\"c\"}");
	fx_put(x, "{\"pipeline\":\"f\"}");
	struct fx_log l = { 0 };
	fx_log_start(x, &l);
	const char *names[] = { "c", "f" };
	size_t n;
	struct rec_result *res = fx_reconcile(x, NULL, names, 2, NULL, &n);
	fx_log_start(x, NULL);
	for (size_t i = 0; i < n; i++) {
		assert_int_not_equal(res[i].rc, TP_OK);
		assert_string_equal(res[i].err.code, "NameCollision");
	}
	reconcile_results_free(res, n);
	/* nothing of theirs (nor anything else on AWS) was changed */
	for (size_t i = 0; i < l.n; i++)
		if (strcmp(l.v[i].service, "dynamodb") != 0 && fx_log_mutating(&l, i, NULL) > fx_log_mutating(&l, i + 1, NULL))
			fail_msg("a collision changed something: %s %s", l.v[i].op, l.v[i].what);
	fx_log_free(&l);
	cJSON *q = fx_queue_attrs(x, "tp-c");
	assert_int_equal(num(q, "VisibilityTimeout"), 7);
	cJSON_Delete(q);
	assert_false(fx_queue_url(x, "tp-c-dlq", NULL, 0)); /* refused before anything was made */
	cJSON *fn = fx_get_function(x, "tp-f");
	assert_int_equal(num(fn, "Configuration.MemorySize"), 1024);
	assert_null(cJSON_GetObjectItem(cJSON_GetObjectItem(fn, "Tags"), "taskpipe:owner"));
	cJSON_Delete(fn);
	assert_null(fx_mapping(x, "tp-f"));
}

/* ---- limit transitions ---- */

/* The group's limit: the mapping's MaximumConcurrency and the function's
 * reserved concurrency, as the fake holds them (-1: none). */
static void limits(struct fx *x, const char *fn, long *max, long *reserved, int *enabled)
{
	cJSON *m = fx_mapping(x, fn);
	assert_non_null(m);
	*max = num(m, "ScalingConfig.MaximumConcurrency");
	const char *st = str(m, "State", NULL);
	*enabled = st && (strcmp(st, "Enabled") == 0 || strcmp(st, "Enabling") == 0);
	cJSON_Delete(m);
	*reserved = fx_reserved(x, fn);
}

/* Apply item, going from limit was to limit now (0: disabled); the log
 * of what was sent in *l. The fake's record of tp-g's concurrency bound
 * over the transition (fake_lambda_limit_history: min(reserved, the
 * enabled mapping's MaximumConcurrency), a mapping in transition counting
 * at its looser end) never exceeds the larger of the two, and is never
 * unlimited: the group's limit is never loosened before the new one holds. */
static void apply_logged(struct fx *x, const char *item, struct fx_log *l, long was, long now)
{
	const struct fake_bound *h;
	size_t from = fake_lambda_limit_history(x->fake, "tp-g", &h);
	memset(l, 0, sizeof *l);
	fx_put(x, item);
	fx_log_start(x, l);
	apply_ok(x, "g");
	fx_log_start(x, NULL);
	size_t n = fake_lambda_limit_history(x->fake, "tp-g", &h);
	long cap = was > now ? was : now;
	for (size_t i = from; i < n; i++)
		if (h[i].bound < 0 || h[i].bound > cap)
			fail_msg("%s: the limit went to %ld (%s) on the way from %ld to %ld", item, h[i].bound,
				 h[i].bound < 0 ? "unlimited" : "looser", was, now);
	assert_int_equal(n > 0 ? h[n - 1].bound : -2, now);
	assert_int_equal(fake_lambda_violations(x->fake, NULL), 0);
}

static void dump(const struct fx_log *l)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i].service, "dynamodb") != 0)
			fprintf(stderr, "  sent: %s %s %s\n", l->v[i].service, l->v[i].op, l->v[i].what);
}

static void test_limit_transitions(void **state)
{
	struct fx *x = *state;
	struct fx_log l;
	long max, reserved;
	int enabled;
	fx_put(x, "{\"pipeline\":\"g\",\"concurrency\":2}");
	apply_ok(x, "g");
	limits(x, "tp-g", &max, &reserved, &enabled);
	assert_int_equal(max, 2);
	assert_int_equal(reserved, -1);

	/* MaximumConcurrency up, then down: one mapping update each, nothing else */
	apply_logged(x, "{\"pipeline\":\"g\",\"concurrency\":5}", &l, 2, 5);
	assert_int_equal(fx_log_count(&l, "lambda", "UpdateEventSourceMapping", "\"MaximumConcurrency\":5"), 1);
	assert_int_equal(fx_log_count(&l, "lambda", "PutFunctionConcurrency", NULL), 0);
	fx_log_free(&l);
	limits(x, "tp-g", &max, &reserved, &enabled);
	assert_int_equal(max, 5);
	apply_logged(x, "{\"pipeline\":\"g\",\"concurrency\":3}", &l, 5, 3);
	assert_int_equal(fx_log_count(&l, "lambda", "UpdateEventSourceMapping", "\"MaximumConcurrency\":3"), 1);
	fx_log_free(&l);
	limits(x, "tp-g", &max, &reserved, &enabled);
	assert_int_equal(max, 3);

	/* 3 -> 1: reserved concurrency 1 is put before MaximumConcurrency goes */
	apply_logged(x, "{\"pipeline\":\"g\",\"concurrency\":1}", &l, 3, 1);
	long put = fx_log_find(&l, 0, "PutFunctionConcurrency", "tp-g");
	long upd = fx_log_find(&l, 0, "UpdateEventSourceMapping", "ScalingConfig");
	if (put < 0 || upd < 0 || put > upd) {
		dump(&l);
		fail_msg("3 -> 1: PutFunctionConcurrency (%ld) must precede the mapping's MaximumConcurrency removal (%ld)",
			 put, upd);
	}
	fx_log_free(&l);
	limits(x, "tp-g", &max, &reserved, &enabled);
	assert_int_equal(reserved, 1);
	assert_int_equal(max, -1);
	assert_true(enabled);

	/* 1 -> 4: MaximumConcurrency 4 is in force before reserved concurrency goes */
	apply_logged(x, "{\"pipeline\":\"g\",\"concurrency\":4}", &l, 1, 4);
	upd = fx_log_find(&l, 0, "UpdateEventSourceMapping", "\"MaximumConcurrency\":4");
	long del = fx_log_find(&l, 0, "DeleteFunctionConcurrency", "tp-g");
	if (upd < 0 || del < 0 || upd > del) {
		dump(&l);
		fail_msg("1 -> 4: the mapping's MaximumConcurrency (%ld) must precede DeleteFunctionConcurrency (%ld)", upd,
			 del);
	}
	fx_log_free(&l);
	limits(x, "tp-g", &max, &reserved, &enabled);
	assert_int_equal(max, 4);
	assert_int_equal(reserved, -1);

	/* disable and enable again: the mapping only */
	apply_logged(x, "{\"pipeline\":\"g\",\"concurrency\":4,\"enabled\":false}", &l, 4, 0);
	assert_int_equal(fx_log_count(&l, "lambda", "UpdateEventSourceMapping", "\"Enabled\":false"), 1);
	fx_log_free(&l);
	limits(x, "tp-g", &max, &reserved, &enabled);
	assert_false(enabled);
	apply_logged(x, "{\"pipeline\":\"g\",\"concurrency\":4,\"enabled\":true}", &l, 0, 4);
	assert_int_equal(fx_log_count(&l, "lambda", "UpdateEventSourceMapping", "\"Enabled\":true"), 1);
	fx_log_free(&l);
	limits(x, "tp-g", &max, &reserved, &enabled);
	assert_true(enabled);
	assert_int_equal(max, 4);

	/* disabled while going 4 -> 1: the disable goes first, with the rest after */
	apply_logged(x, "{\"pipeline\":\"g\",\"concurrency\":1,\"enabled\":false}", &l, 4, 0);
	long dis = fx_log_find(&l, 0, "UpdateEventSourceMapping", "\"Enabled\":false");
	put = fx_log_find(&l, 0, "PutFunctionConcurrency", "tp-g");
	assert_true(dis >= 0 && put >= 0 && dis < put);
	fx_log_free(&l);
	limits(x, "tp-g", &max, &reserved, &enabled);
	assert_false(enabled);
	assert_int_equal(reserved, 1);
	/* enabled again at 1: reserved stays, the mapping is enabled */
	apply_logged(x, "{\"pipeline\":\"g\",\"concurrency\":1}", &l, 0, 1);
	assert_int_equal(fx_log_count(&l, "lambda", "PutFunctionConcurrency", NULL), 0);
	fx_log_free(&l);
	limits(x, "tp-g", &max, &reserved, &enabled);
	assert_true(enabled);
	assert_int_equal(reserved, 1);
}

/* Reserved concurrency n -> m, up and down, and to none: a policy of the
 * operator's that always reserves (the default one reserves only 1). */
static void test_reserved_transitions(void **state)
{
	struct fx *x = *state;
	buf src = { 0 };
	tp_err e = { 0 };
	assert_int_equal(tp_read_file("policies/policy.lua", 1 << 20, &src, &e), TP_OK);
	char *lua = tp_xstrdup(buf_str(&src));
	buf_free(&src);
	char *at = strstr(lua, "if concurrency >= 2 then");
	assert_non_null(at);
	memcpy(at, "if concurrency >= 9 then", strlen("if concurrency >= 9 then"));
	char path[256];
	fx_policy_file(x, "reserve.lua", lua, path, sizeof path);
	free(lua);
	fx_reopen(x, path);

	struct fx_log l;
	long max, reserved;
	int enabled;
	fx_put(x, "{\"pipeline\":\"g\",\"concurrency\":3}");
	apply_ok(x, "g");
	limits(x, "tp-g", &max, &reserved, &enabled);
	assert_int_equal(reserved, 3);
	assert_int_equal(max, -1);
	apply_logged(x, "{\"pipeline\":\"g\",\"concurrency\":6}", &l, 3, 6);
	assert_int_equal(fx_log_count(&l, "lambda", "PutFunctionConcurrency", "\"ReservedConcurrentExecutions\":6"), 1);
	assert_int_equal(fx_log_count(&l, "lambda", "UpdateEventSourceMapping", NULL), 0);
	fx_log_free(&l);
	assert_int_equal(fx_reserved(x, "tp-g"), 6);
	apply_logged(x, "{\"pipeline\":\"g\",\"concurrency\":2}", &l, 6, 2);
	assert_int_equal(fx_log_count(&l, "lambda", "PutFunctionConcurrency", "\"ReservedConcurrentExecutions\":2"), 1);
	fx_log_free(&l);
	assert_int_equal(fx_reserved(x, "tp-g"), 2);
	/* none: to MaximumConcurrency 9 (the patched policy's threshold), set first */
	apply_logged(x, "{\"pipeline\":\"g\",\"concurrency\":9}", &l, 2, 9);
	long upd = fx_log_find(&l, 0, "UpdateEventSourceMapping", "\"MaximumConcurrency\":9");
	long del = fx_log_find(&l, 0, "DeleteFunctionConcurrency", "tp-g");
	if (upd < 0 || del < 0 || upd > del) {
		dump(&l);
		fail_msg("reserved 2 -> none: MaximumConcurrency (%ld) must precede DeleteFunctionConcurrency (%ld)", upd, del);
	}
	fx_log_free(&l);
	limits(x, "tp-g", &max, &reserved, &enabled);
	assert_int_equal(reserved, -1);
	assert_int_equal(max, 9);
}

/* ---- a deadline ---- */

static void test_deadline_leaves_work_for_the_next_run(void **state)
{
	struct fx *x = *state;
	const char *names[] = { "p1", "p2", "p3", "p4", "p5" };
	char item[128];
	for (int i = 0; i < 5; i++) {
		snprintf(item, sizeof item, "{\"pipeline\":\"%s\"}", names[i]);
		fx_put(x, item);
	}
	/* Some steps in (each batch takes the fake's 20 ms), the deadline comes. */
	struct reconcile_opts o = { .deadline_ms = fake_now_ms(x->fake) + 400, .reserve_ms = 0 };
	size_t n;
	struct rec_result *res = fx_reconcile(x, NULL, names, 5, &o, &n);
	int near = 0;
	for (size_t i = 0; i < n; i++) {
		if (res[i].rc != TP_OK) {
			assert_string_equal(res[i].err.code, "DeadlineNear");
			assert_true(res[i].retryable);
			near++;
		}
	}
	reconcile_results_free(res, n);
	/* 400 ms of 20 ms requests: some steps in, not the end */
	assert_true(near > 0);

	/* The next run, without a deadline, finishes every one, each function made once. */
	res = fx_reconcile(x, NULL, names, 5, NULL, &n);
	fx_assert_all_ok(res, n);
	reconcile_results_free(res, n);
	for (int i = 0; i < 5; i++) {
		char fn[32];
		snprintf(fn, sizeof fn, "tp-%s", names[i]);
		cJSON *f = fx_get_function(x, fn);
		assert_non_null(f);
		cJSON_Delete(f);
		cJSON *m = fx_mapping(x, fn);
		assert_non_null(m);
		cJSON_Delete(m);
	}
	assert_int_equal(fake_count(x->fake, "lambda", "CreateFunction"), 5);
	assert_int_equal(fake_count(x->fake, "lambda", "CreateEventSourceMapping"), 5);
}

/* ---- a lease lost mid-run ---- */

struct takeover {
	struct fx *x;
	const char *trigger;        /* the op whose arrival lets the intruder in */
	const char *needle;
	long at;                    /* the log's length then; -1: not yet */
	struct fx_log *log;
};

/* Another controller takes the lease: its grant (store.h's request shape)
 * is answered by the fake's DynamoDB directly, after the lease ran out by
 * the simulated clock. Not through a client: the hook runs inside the
 * fake's poll, where a second client's batch would answer the first's. */
static void intrude(struct fx *x, const char *pipeline)
{
	fake_advance_ms(x->fake, (10 + 30 + 2) * 1000);   /* ttl 10 s, skew 30 s, a margin */
	struct aws_call c;
	int64_t now = fake_now_ms(x->fake) / 1000;
	store_lease_grant_prepare(&c, "taskpipe-state", pipeline, "intruder:1:run", now + 600, now - 30);
	struct fake_req r = { .service = "dynamodb", .method = "POST", .path = "/", .query = "",
			      .target = "DynamoDB_20120810.UpdateItem", .body = c.body, .body_len = c.body_len };
	snprintf(r.op, sizeof r.op, "UpdateItem");
	struct http_response out = { 0 };
	fake_ddb_handle(x->fake, &r, &out);
	if (out.status != 200)
		fail_msg("the intruder's grant: %ld %s", out.status, buf_str(&out.body));
	buf_free(&out.body);
	buf_free(&out.headers);
	aws_call_free(&c);
}

static int takeover_hook(void *ctx, const struct fake_req *r, struct http_response *out)
{
	struct takeover *t = ctx;
	if (t->at >= 0)
		return 0;
	/* REST: the op is not known here yet; the path says enough */
	if (strstr(r->path, t->trigger) && (!t->needle || strstr(r->path, t->needle) || strstr(r->body, t->needle))) {
		intrude(t->x, "l");
		t->at = (long)t->log->n + 1;   /* after this request */
	}
	return 0;
}

static void test_lease_lost_mid_run_writes_nothing_after(void **state)
{
	struct fx *x = *state;
	fx_put(x, "{\"pipeline\":\"l\"}");
	struct fx_log l = { 0 };
	struct takeover t = { .x = x, .trigger = "/functions", .needle = NULL, .at = -1, .log = &l };
	l.extra = takeover_hook;
	l.extra_ctx = &t;
	fx_log_start(x, &l);
	struct reconcile_opts o = { .lease_ttl_s = 10 };
	const char *names[] = { "l" };
	size_t n;
	struct rec_result *res = fx_reconcile(x, NULL, names, 1, &o, &n);
	fx_log_start(x, NULL);
	assert_true(t.at >= 0);
	assert_int_not_equal(res[0].rc, TP_OK);
	assert_string_equal(res[0].err.code, "LeaseLost");
	reconcile_results_free(res, n);
	/* After the takeover: no change on AWS, and no state record of this run. */
	for (size_t i = (size_t)t.at; i < l.n; i++) {
		int mut = fx_log_mutating(&l, i, NULL) > fx_log_mutating(&l, i + 1, NULL);
		int dd = strcmp(l.v[i].service, "dynamodb") == 0;
		if ((mut && !dd) || (dd && strstr(l.v[i].what, "pipeline#l")))
			fail_msg("written after the lease was lost: %s %s %s", l.v[i].service, l.v[i].op, l.v[i].what);
	}
	fx_log_free(&l);
	/* the intruder's lease stands */
	struct lease le;
	tp_err e = { 0 };
	assert_int_equal(lease_acquire(&x->app, "l", "someone-else", 10, &le, &e), TP_ECONFLICT);
	lease_clear(&le, 1);
}

/* ---- a fleet under AWS's quotas ---- */

/* 40 pipelines made at once with the fake enforcing Lambda's 15 calls/s
 * (GetFunction 100/s) and functions Pending / mappings Creating for 2 s:
 * the client's budget keeps Lambda from throttling it, every pipeline
 * converges in one run, each resource made exactly once. */
static void test_fleet_under_quotas_and_lags(void **state)
{
	(void)state;
	struct fx x;
	struct fake_options fo = { .seed = 7, .quotas = 1, .lag_ms = 2000, .table_lag_ms = 3000 };
	fx_setup(&x, &fo);
	enum { N = 40 };
	char item[96];
	for (int i = 0; i < N; i++) {
		snprintf(item, sizeof item, "{\"pipeline\":\"q%02d\",\"concurrency\":%d}", i, 2 + i % 5);
		fx_put(&x, item);
	}
	int64_t t0 = fake_elapsed_ms(x.fake);
	long lambda0 = fake_count(x.fake, "lambda", NULL);
	size_t n;
	struct rec_result *res = fx_reconcile(&x, NULL, NULL, 0, NULL, &n);
	assert_int_equal(n, N);
	fx_assert_all_ok(res, n);
	reconcile_results_free(res, n);
	assert_int_equal(fake_count(x.fake, "lambda", "CreateFunction"), N);
	assert_int_equal(fake_count(x.fake, "lambda", "CreateEventSourceMapping"), N);
	assert_int_equal(fake_count(x.fake, "sqs", "CreateQueue"), 2 * N);
	long throttled = fake_throttled(x.fake, "lambda", NULL);
	long calls = fake_count(x.fake, "lambda", NULL) - lambda0;
	int64_t took = fake_elapsed_ms(x.fake) - t0;
	fprintf(stderr, "fleet of %d: %ld Lambda calls (%ld throttled) in %lld ms simulated\n", N, calls, throttled,
		(long long)took);
	assert_int_equal(throttled, 0);
	/* the quota's floor: 15 control-plane calls a second (GetFunction apart) */
	long control = calls - fake_count(x.fake, "lambda", "GetFunction");
	assert_true(took >= (control - 15) * 1000 / 15);
	fx_assert_no_violations(&x);
	fx_teardown(&x);
}

/* ---- killed at request k, resumed ---- */

static uint64_t mix(uint64_t v)
{
	v ^= v >> 33;
	v *= 0xff51afd7ed558ccdULL;
	v ^= v >> 33;
	v *= 0xc4ceb9fe1a85ec53ULL;
	return v ^ (v >> 33);
}

enum { KN = 6 };

static void kill_fleet(struct fx *x, const struct fake_options *fo)
{
	fx_setup(x, fo);
	char item[96];
	for (int i = 0; i < KN; i++) {
		snprintf(item, sizeof item, "{\"pipeline\":\"k%d\",\"concurrency\":%d}", i, i == 0 ? 1 : 2 + i);
		fx_put(x, item);
	}
}

/* Every pipeline complete, each function and mapping made exactly once
 * (answered 2xx by the fake), whatever the killed run got to. */
static void assert_made_once(struct fx *x, const struct fx_log *l, uint64_t seed, long k)
{
	for (int i = 0; i < KN; i++) {
		char fn[16], path[48];
		snprintf(fn, sizeof fn, "tp-k%d", i);
		snprintf(path, sizeof path, "[%s]", fn);
		long made = fx_log_count_ok(l, "lambda", "CreateFunction", path);
		long mapped = fx_log_count_ok(l, "lambda", "CreateEventSourceMapping", path);
		cJSON *m = fx_mapping(x, fn);   /* asserts there is one at most */
		cJSON *f = fx_get_function(x, fn);
		if (made != 1 || mapped != 1 || !m || !f)
			fail_msg("seed %llu, killed after request %ld: %s created %ld times, mapped %ld times%s%s",
				 (unsigned long long)seed, k, fn, made, mapped, m ? "" : ", no mapping",
				 f ? "" : ", no function");
		cJSON_Delete(m);
		cJSON_Delete(f);
	}
	assert_int_equal(fx_reserved(x, "tp-k0"), 1);
}

static void test_killed_apply_resumed(void **state)
{
	(void)state;
	/* an undisturbed run's length, to spread the kill points over */
	struct fx x;
	kill_fleet(&x, NULL);
	struct fx_log l = { 0 };
	fx_log_start(&x, &l);
	size_t n;
	struct rec_result *res = fx_reconcile(&x, NULL, NULL, 0, NULL, &n);
	fx_log_start(&x, NULL);
	fx_assert_all_ok(res, n);
	reconcile_results_free(res, n);
	long clean = l.seen;
	fx_log_free(&l);
	fx_teardown(&x);

	int seeds = fx_seeds(20);
	for (int s = 1; s <= seeds; s++) {
		uint64_t h = mix((uint64_t)s + 1000);
		struct fake_options fo = { .seed = (uint64_t)s, .lag_ms = (int)(h % 3) * 700,
					   .quotas = (int)((h >> 8) & 1) };
		kill_fleet(&x, &fo);
		memset(&l, 0, sizeof l);
		long k = 1 + (long)((h >> 16) % (uint64_t)clean);
		l.kill_after = k;
		fx_log_start(&x, &l);
		struct reconcile_opts o = { .lease_ttl_s = 30 };
		tp_err e = { 0 };
		res = NULL;
		n = 0;
		reconcile_run(&x.app, NULL, 0, 1, &o, &res, &n, &e);   /* dies part way (may not even start) */
		reconcile_results_free(res, n);
		l.kill_after = 0;
		app_close(&x.app);
		x.app_open = 0;
		fake_advance_ms(x.fake, (30 + 30 + 1) * 1000);  /* its leases and the skew */
		fx_reopen(&x, NULL);
		res = fx_reconcile(&x, NULL, NULL, 0, NULL, &n);
		fx_log_start(&x, NULL);
		for (size_t i = 0; i < n; i++)
			if (res[i].rc != TP_OK)
				fail_msg("seed %d, killed after request %ld of %ld: %s: %s: %s", s, k, clean, res[i].name,
					 res[i].err.code, res[i].err.message);
		reconcile_results_free(res, n);
		assert_made_once(&x, &l, (uint64_t)s, k);
		fx_assert_no_violations(&x);
		fx_log_free(&l);
		fx_teardown(&x);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create, fx_state_setup, fx_state_teardown),
		cmocka_unit_test_setup_teardown(test_update_calls_only_what_changed, fx_state_setup, fx_state_teardown),
		cmocka_unit_test_setup_teardown(test_delete_drains_then_removes, fx_state_setup, fx_state_teardown),
		cmocka_unit_test_setup_teardown(test_recreated_within_a_minute_retries, fx_state_setup, fx_state_teardown),
		cmocka_unit_test_setup_teardown(test_collision_refused_and_untouched, fx_state_setup, fx_state_teardown),
		cmocka_unit_test_setup_teardown(test_limit_transitions, fx_state_setup, fx_state_teardown),
		cmocka_unit_test_setup_teardown(test_reserved_transitions, fx_state_setup, fx_state_teardown),
		cmocka_unit_test_setup_teardown(test_deadline_leaves_work_for_the_next_run, fx_state_setup, fx_state_teardown),
		cmocka_unit_test_setup_teardown(test_lease_lost_mid_run_writes_nothing_after, fx_state_setup, fx_state_teardown),
		cmocka_unit_test(test_fleet_under_quotas_and_lags),
		cmocka_unit_test(test_killed_apply_resumed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
