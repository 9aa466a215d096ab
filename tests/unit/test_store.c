/* test_store.c: the state table's schema without AWS: key formats, the
 * requests' conditions, the parse of the stored pipeline state, and that a
 * lookup by name stays logarithmic (tp.ls and ls at 10,000 pipelines). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <cjson/cJSON.h>

#include "aws/ddb.h"
#include "core/store.h"

static void key_is(char *got, const char *want)
{
	assert_string_equal(got, want);
	free(got);
}

static void test_keys(void **state)
{
	(void)state;
	key_is(store_pk_pipeline("orders"), "pipeline#orders");
	key_is(store_pk_lease("orders"), "lease#orders");
	key_is(store_pk_checkpoint("shardId-0001"), "checkpoint#shardId-0001");
	key_is(store_pk_skipped("shardId-0001", "4200"), "skipped#shardId-0001#4200");
	key_is(store_pk_rollout("code/app.zip"), "rollout#code/app.zip");
	key_is(store_pk_rollout_fn("code/app.zip", "tp-orders"), "rollout-fn#code/app.zip#tp-orders");
	key_is(store_pk_rollout_plan("code/app.zip", "0123456789abcdef", 2),
	       "rollout#code/app.zip#plan#0123456789abcdef#2");
	key_is(store_pk_rollout_debug("x"), "rollout#x#debug");
	assert_string_equal(STORE_PK_DRIFT_CURSOR, "drift#cursor");
	assert_string_equal(STORE_PK_ACCOUNT, "account#settings");
	/* every pipeline key is found by the prefix scan */
	char *pk = store_pk_pipeline("a");
	assert_int_equal(strncmp(pk, STORE_PREFIX_PIPELINE, strlen(STORE_PREFIX_PIPELINE)), 0);
	free(pk);
	/* rollout status's one scan finds heads and function records */
	const char *all = STORE_PREFIX_ROLLOUT_ALL;
	pk = store_pk_rollout("b/k");
	assert_int_equal(strncmp(pk, all, strlen(all)), 0);
	free(pk);
	pk = store_pk_rollout_fn("b/k", "tp-f");
	assert_int_equal(strncmp(pk, all, strlen(all)), 0);
	free(pk);
}

static cJSON *body(const struct aws_call *c)
{
	cJSON *j = cJSON_ParseWithLength(c->body, c->body_len);
	assert_non_null(j);
	return j;
}

static const char *str(const cJSON *o, const char *k)
{
	return cJSON_GetStringValue(cJSON_GetObjectItem(o, k));
}

static void test_pipeline_put_fenced(void **state)
{
	(void)state;
	struct store_pipeline p = { .name = "orders", .status = STORE_ERROR, .updated_at = 1700,
				    .error_code = "PolicyError", .message = "bad", .retryable = 0,
				    .spec = "{\"func\":{}}", .lease_fence = 7 };
	snprintf(p.action, sizeof p.action, "update");
	struct aws_call c;
	store_pipeline_put_prepare(&c, "state", &p);
	assert_string_equal(c.op, "PutItem");
	cJSON *in = body(&c), *item = cJSON_GetObjectItem(in, "Item");
	assert_string_equal(str(in, "TableName"), "state");
	assert_string_equal(str(in, "ConditionExpression"), STORE_COND_PIPELINE_FENCE);
	assert_int_equal(ddb_get_long(cJSON_GetObjectItem(in, "ExpressionAttributeValues"), ":fence", 0), 7);
	assert_string_equal(ddb_get_str(item, "pk", ""), "pipeline#orders");
	assert_string_equal(ddb_get_str(item, "status", ""), "error");
	assert_string_equal(ddb_get_str(item, "error_code", ""), "PolicyError");
	assert_null(cJSON_GetObjectItem(item, "hash"));  /* none given: none written */
	assert_null(cJSON_GetObjectItem(item, "input_hash"));

	/* the item read back is the record written */
	struct store_pipeline back;
	store_pipeline_from_item(item, &back);
	assert_string_equal(back.name, "orders");
	assert_int_equal(back.status, STORE_ERROR);
	assert_string_equal(back.action, "update");
	assert_string_equal(back.spec, "{\"func\":{}}");
	assert_string_equal(back.message, "bad");
	assert_int_equal(back.lease_fence, 7);
	assert_int_equal(back.updated_at, 1700);
	store_pipeline_free(&back);
	cJSON_Delete(in);
	aws_call_free(&c);

	/* without a lease: unconditional, no error fields */
	p.lease_fence = 0;
	p.status = STORE_OK;
	snprintf(p.input_hash, sizeof p.input_hash, "%s", "ab12");
	store_pipeline_put_prepare(&c, "state", &p);
	in = body(&c);
	assert_null(cJSON_GetObjectItem(in, "ConditionExpression"));
	assert_null(cJSON_GetObjectItem(cJSON_GetObjectItem(in, "Item"), "error_code"));
	store_pipeline_from_item(cJSON_GetObjectItem(in, "Item"), &back);
	assert_string_equal(back.input_hash, "ab12");  /* written and read back */
	store_pipeline_free(&back);
	cJSON_Delete(in);
	aws_call_free(&c);
}

/* A drain's progress and the kept queues are written when set, read back,
 * and absent (0) otherwise. */
static void test_pipeline_drain_fields(void **state)
{
	(void)state;
	struct store_pipeline p = { .name = "orders", .status = STORE_KEPT, .updated_at = 1700,
				    .drain_started_at = 1000, .drain_timeout = 86400, .drain_empty_at = 1100,
				    .consumers_gone_at = 1200, .kept_dlq = 3 };
	snprintf(p.action, sizeof p.action, "delete");
	struct aws_call c;
	store_pipeline_put_prepare(&c, "state", &p);
	cJSON *in = body(&c), *item = cJSON_GetObjectItem(in, "Item");
	assert_string_equal(ddb_get_str(item, "status", ""), "kept");
	assert_null(cJSON_GetObjectItem(item, "kept_queue"));  /* 0: not kept, not written */
	struct store_pipeline back;
	store_pipeline_from_item(item, &back);
	assert_int_equal(back.status, STORE_KEPT);
	assert_int_equal(back.drain_started_at, 1000);
	assert_int_equal(back.drain_timeout, 86400);
	assert_int_equal(back.drain_empty_at, 1100);
	assert_int_equal(back.consumers_gone_at, 1200);
	assert_int_equal(back.kept_queue, 0);
	assert_int_equal(back.kept_dlq, 3);
	store_pipeline_free(&back);
	cJSON_Delete(in);
	aws_call_free(&c);
}

static void test_status_names(void **state)
{
	(void)state;
	assert_int_equal(store_status_parse("ok"), STORE_OK);
	assert_int_equal(store_status_parse("error"), STORE_ERROR);
	assert_int_equal(store_status_parse("deleted"), STORE_DELETED);
	assert_int_equal(store_status_parse("weird"), STORE_UNKNOWN);
	assert_int_equal(store_status_parse(NULL), STORE_UNKNOWN);
	assert_string_equal(store_status_name(STORE_DELETED), "deleted");
	assert_int_equal(store_status_parse("draining"), STORE_DRAINING);
	assert_int_equal(store_status_parse("kept"), STORE_KEPT);
	assert_string_equal(store_status_name(STORE_KEPT), "kept");
	assert_string_equal(store_status_name(STORE_UNKNOWN), "?");
	struct store_pipeline none;
	store_pipeline_from_item(NULL, &none);  /* no record */
	assert_null(none.name);
	assert_int_equal(none.status, STORE_UNKNOWN);
}

static void test_spec_code_parse(void **state)
{
	(void)state;
	struct store_spec_code c;
	tp_err e = { 0 };
	const char *spec = "{\"func\":{\"FunctionName\":\"tp-orders\",\"PackageType\":\"Zip\","
			   "\"Code\":{\"S3Bucket\":\"b\",\"S3Key\":\"k.zip\",\"S3ObjectVersion\":\"v1\","
			   "\"S3ObjectStorageMode\":\"REFERENCE\"}},\"queue\":{}}";
	assert_int_equal(store_spec_code_parse(spec, &c, &e), TP_OK);
	assert_string_equal(c.function, "tp-orders");
	assert_string_equal(c.bucket, "b");
	assert_string_equal(c.key, "k.zip");
	assert_string_equal(c.version, "v1");
	assert_true(c.reference);
	assert_false(c.image);
	store_spec_code_free(&c);

	/* COPY (absent mode), an image, no code */
	assert_int_equal(store_spec_code_parse("{\"func\":{\"PackageType\":\"Image\"}}", &c, &e), TP_OK);
	assert_false(c.reference);
	assert_true(c.image);
	assert_null(c.bucket);
	store_spec_code_free(&c);

	assert_int_equal(store_spec_code_parse(NULL, &c, &e), TP_EINVAL);
	assert_int_equal(store_spec_code_parse("not json", &c, &e), TP_EINVAL);
	assert_string_equal(e.code, "BadState");
	assert_int_equal(store_spec_code_parse("[1]", &c, NULL), TP_EINVAL);
}

static void test_lease_requests(void **state)
{
	(void)state;
	struct aws_call c;
	store_lease_grant_prepare(&c, "state", "orders", "h1", 1120, 970);
	cJSON *in = body(&c), *v = cJSON_GetObjectItem(in, "ExpressionAttributeValues");
	assert_string_equal(ddb_get_str(cJSON_GetObjectItem(in, "Key"), "pk", ""), "lease#orders");
	assert_string_equal(str(in, "ConditionExpression"), STORE_COND_LEASE_GRANT);
	assert_non_null(strstr(str(in, "UpdateExpression"), "fence = if_not_exists(fence, :zero) + :one"));
	assert_int_equal(ddb_get_long(v, ":exp", 0), 1120);
	assert_int_equal(ddb_get_long(v, ":now", 0), 970);
	assert_string_equal(ddb_get_str(v, ":h", ""), "h1");
	assert_string_equal(str(in, "ReturnValues"), "ALL_NEW");
	cJSON_Delete(in);
	aws_call_free(&c);

	store_lease_renew_prepare(&c, "state", "orders", "h1", 5, 1300);
	in = body(&c);
	v = cJSON_GetObjectItem(in, "ExpressionAttributeValues");
	assert_string_equal(str(in, "ConditionExpression"), STORE_COND_LEASE_OURS);
	assert_int_equal(ddb_get_long(v, ":t", 0), 5);
	assert_int_equal(ddb_get_long(v, ":exp", 0), 1300);
	cJSON_Delete(in);
	aws_call_free(&c);

	store_lease_release_prepare(&c, "state", "orders", "h1", 5);
	in = body(&c);
	assert_string_equal(str(in, "ConditionExpression"), STORE_COND_LEASE_OURS);
	assert_string_equal(str(in, "UpdateExpression"), "SET expires_at = :zero REMOVE holder");
	cJSON_Delete(in);
	aws_call_free(&c);

	/* the grant's answer carries the token */
	struct aws_call done = { 0 };
	buf_adds(&done.resp, "{\"Attributes\":{\"fence\":{\"N\":\"9\"},\"expires_at\":{\"N\":\"1120\"}}}");
	long long token = 0;
	int64_t exp = 0;
	store_lease_granted(&done, &token, &exp);
	assert_int_equal(token, 9);
	assert_int_equal(exp, 1120);
	aws_call_free(&done);
}

/* A rollout-fn record: every attribute aliased, never over a newer
 * generation's, attempts counted when asked; and its read. */
static void test_rollout_fn_requests(void **state)
{
	(void)state;
	struct aws_call c;
	const struct store_rollout_fn f = { .id = "b/k.zip", .function = "tp-a", .pipeline = "a", .gen = 3,
					    .version = "v2", .status = "updating", .wave = 1, .updated_at = 100,
					    .rev = "r9", .prev_sha = "old=", .count_attempt = 1 };
	store_rollout_fn_prepare(&c, "state", &f);
	cJSON *in = body(&c), *v = cJSON_GetObjectItem(in, "ExpressionAttributeValues");
	cJSON *n = cJSON_GetObjectItem(in, "ExpressionAttributeNames");
	assert_string_equal(ddb_get_str(cJSON_GetObjectItem(in, "Key"), "pk", ""), "rollout-fn#b/k.zip#tp-a");
	assert_string_equal(str(in, "ConditionExpression"), STORE_COND_ROLLOUT_FN);
	assert_string_equal(str(in, "UpdateExpression"),
			    "SET #a0 = :a0, #a1 = :a1, #a2 = :a2, #a3 = :a3, #a4 = :a4, #a5 = :a5, #a6 = :a6, "
			    "#a7 = :a7, #a8 = :a8, #a9 = :a9, #a10 = :a10, "
			    "attempts = if_not_exists(attempts, :zero) + :one");
	assert_string_equal(str(n, "#a6"), "status");
	assert_string_equal(ddb_get_str(v, ":a6", ""), "updating");
	assert_string_equal(str(n, "#a10"), "prev_sha");
	assert_string_equal(ddb_get_str(v, ":a10", ""), "old=");
	assert_string_equal(str(n, "#g"), "gen");
	assert_int_equal(ddb_get_long(v, ":g", 0), 3);
	assert_int_equal(ddb_get_long(v, ":one", 0), 1);
	cJSON_Delete(in);
	aws_call_free(&c);

	/* a failure, not counted: no rev or prev_sha, the error instead */
	const struct store_rollout_fn ff = { .id = "b/k.zip", .function = "tp-a", .pipeline = "a", .gen = 3,
					     .version = "", .status = "failed", .error_code = "E",
					     .error_message = "why" };
	store_rollout_fn_prepare(&c, "state", &ff);
	in = body(&c);
	assert_null(strstr(str(in, "UpdateExpression"), "attempts"));
	assert_null(cJSON_GetObjectItem(cJSON_GetObjectItem(in, "ExpressionAttributeValues"), ":one"));
	n = cJSON_GetObjectItem(in, "ExpressionAttributeNames");
	assert_string_equal(str(n, "#a9"), "error_code");
	assert_string_equal(str(n, "#a10"), "error_message");
	cJSON_Delete(in);
	aws_call_free(&c);

	store_rollout_fn_get_prepare(&c, "state", "b/k.zip", "tp-a");
	assert_string_equal(c.op, "GetItem");
	in = body(&c);
	assert_string_equal(ddb_get_str(cJSON_GetObjectItem(in, "Key"), "pk", ""), "rollout-fn#b/k.zip#tp-a");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(in, "ConsistentRead")));
	cJSON_Delete(in);
	aws_call_free(&c);
}

/* A new head: status running at wave 0 under the runner's lease. */
static void test_rollout_head_item(void **state)
{
	(void)state;
	const struct store_rollout_head h = { .id = "b/k.zip", .bucket = "b", .key = "k.zip", .version = "v2",
					      .sha256 = "s=", .mode = "code", .holder = "host:1:x", .gen = 4,
					      .targets = 7, .now = 1000, .lease_until = 1060 };
	cJSON *item = store_rollout_head_item(&h);
	assert_string_equal(ddb_get_str(item, "pk", ""), "rollout#b/k.zip");
	assert_string_equal(ddb_get_str(item, "kind", ""), "rollout");
	assert_string_equal(ddb_get_str(item, "status", ""), "running");
	assert_int_equal(ddb_get_long(item, "gen", 0), 4);
	assert_int_equal(ddb_get_long(item, "wave", -1), 0);
	assert_int_equal(ddb_get_long(item, "targets", 0), 7);
	assert_int_equal(ddb_get_long(item, "lease_until", 0), 1060);
	assert_string_equal(ddb_get_str(item, "holder", ""), "host:1:x");
	cJSON_Delete(item);
}

/* tp.ls / ls: one lookup per config item; 10,000 of them cost at most
 * n * (log2 n + 1) name comparisons (a pass per item was n * n). */
static void test_lookup_is_logarithmic(void **state)
{
	(void)state;
	enum { N = 10000 };
	struct store_pipelines s = { .v = calloc(N, sizeof(struct store_pipeline)), .n = N };
	for (size_t i = 0; i < N; i++)
		s.v[i].name = tp_xasprintf("p%05zu", (i * 7919) % N);  /* unsorted */
	store_pipelines_sort(&s);
	char name[16];
	for (size_t i = 0; i < N; i++) {
		snprintf(name, sizeof name, "p%05zu", i);
		const struct store_pipeline *p = store_pipelines_find(&s, name);
		assert_non_null(p);
		assert_string_equal(p->name, name);
	}
	assert_null(store_pipelines_find(&s, "zz"));
	assert_null(store_pipelines_find(&s, NULL));
	assert_true(s.probes <= (size_t)N * 15);  /* log2(10000) < 14 */
	store_pipelines_free(&s);
	assert_int_equal(s.n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_pipeline_put_fenced),
		cmocka_unit_test(test_status_names),
		cmocka_unit_test(test_pipeline_drain_fields),
		cmocka_unit_test(test_spec_code_parse),
		cmocka_unit_test(test_lease_requests),
		cmocka_unit_test(test_lookup_is_logarithmic),
		cmocka_unit_test(test_rollout_fn_requests),
		cmocka_unit_test(test_rollout_head_item),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
