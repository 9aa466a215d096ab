/* test_spec.c: the typed spec (spec_parse): every field, AWS's bounds, the
 * errors naming pipeline and field path; and the hash of the policy's
 * answer (spec_hash_tree, pipeline_hash): the bytes cJSON_PrintUnformatted
 * writes, so a stored hash stays equal for an unchanged spec, through the
 * policy whatever the key order or the number's spelling (1 and 1.0). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/hash.h"
#include "base/jsonnum.h"
#include "core/pipeline.h"
#include "core/spec.h"
#include "script/policy.h"

static const char FULL[] =
	"{\"name\":\"p\",\"drain_timeout\":600,"
	"\"queue\":{\"VisibilityTimeout\":60,\"MessageRetentionPeriod\":345600,\"ReceiveMessageWaitTimeSeconds\":20,"
	"\"DelaySeconds\":5,\"MaximumMessageSize\":262144,\"maxReceiveCount\":7},"
	"\"dlq\":{\"MessageRetentionPeriod\":1209600,\"keep_if_not_empty\":false},"
	"\"func\":{\"Runtime\":\"provided.al2023\",\"Handler\":\"bootstrap\",\"Role\":\"arn:aws:iam::1:role/r\","
	"\"MemorySize\":256,\"Timeout\":30,\"Architectures\":[\"arm64\"],\"ReservedConcurrentExecutions\":1,"
	"\"PackageType\":\"Zip\",\"Layers\":[\"arn:l:1\",\"arn:l:2\"],"
	"\"Environment\":{\"Variables\":{\"A\":\"1\",\"B\":\"x\"}},"
	"\"Code\":{\"S3Bucket\":\"b\",\"S3Key\":\"k.zip\",\"S3ObjectVersion\":\"v7\",\"S3ObjectStorageMode\":\"REFERENCE\"}},"
	"\"mapping\":{\"BatchSize\":10,\"MaximumBatchingWindowInSeconds\":2,\"Enabled\":false,"
	"\"FunctionResponseTypes\":[\"ReportBatchItemFailures\"],\"ScalingConfig\":{\"MaximumConcurrency\":3}},"
	"\"tags\":{\"team\":\"a\",\"n\":3,\"f\":0.1,\"on\":true}}";

static int parse(const char *text, struct spec *s, tp_err *e)
{
	cJSON *a = jsonnum_parse(text);
	int rc = spec_parse(a, "p", s, e);
	cJSON_Delete(a);
	return rc;
}

static void test_every_field(void **state)
{
	(void)state;
	struct spec s;
	tp_err e = { 0 };
	assert_int_equal(parse(FULL, &s, &e), TP_OK);
	assert_int_equal(s.queue.attr[SQ_VISIBILITY_TIMEOUT], 60);
	assert_int_equal(s.queue.attr[SQ_RETENTION], 345600);
	assert_int_equal(s.queue.attr[SQ_WAIT], 20);
	assert_int_equal(s.queue.attr[SQ_DELAY], 5);
	assert_int_equal(s.queue.attr[SQ_MAX_SIZE], 262144);
	assert_int_equal(s.queue.max_receive, 7);
	assert_int_equal(s.dlq.attr[SQ_RETENTION], 1209600);
	assert_int_equal(s.dlq.attr[SQ_VISIBILITY_TIMEOUT], SPEC_UNSET);
	assert_int_equal(s.dlq.keep_if_not_empty, 0);
	const struct spec_func *f = &s.func;
	assert_string_equal(f->runtime, "provided.al2023");
	assert_string_equal(f->handler, "bootstrap");
	assert_string_equal(f->role, "arn:aws:iam::1:role/r");
	assert_int_equal(f->memory, 256);
	assert_int_equal(f->timeout, 30);
	assert_int_equal(f->arch, ARCH_ARM64);
	assert_int_equal(f->reserved, 1);
	assert_int_equal(f->n_layers, 2);
	assert_string_equal(f->layers[1], "arn:l:2");
	assert_int_equal(f->env.n, 2);
	assert_string_equal(spec_kvs_get(&f->env, "B"), "x");
	assert_null(spec_kvs_get(&f->env, "C"));
	assert_string_equal(f->bucket, "b");
	assert_string_equal(f->key, "k.zip");
	assert_string_equal(f->version, "v7");
	assert_int_equal(f->storage, STORAGE_REFERENCE);
	assert_int_equal(s.mapping.batch_size, 10);
	assert_int_equal(s.mapping.window, 2);
	assert_int_equal(s.mapping.enabled, 0);
	assert_int_equal(s.mapping.frt, FRT_REPORT);
	assert_int_equal(s.mapping.max_concurrency, 3);
	/* tags: numbers and booleans as the text a read-back tree shows */
	assert_int_equal(s.tags.n, 4);
	assert_string_equal(spec_kvs_get(&s.tags, "n"), "3");
	assert_string_equal(spec_kvs_get(&s.tags, "f"), "0.10000000000000001");
	assert_string_equal(spec_kvs_get(&s.tags, "on"), "true");
	assert_int_equal(s.drain_timeout, 600);
	char m[CODEMARK_MAX + 1];
	spec_code_marker(f, m, sizeof m);
	assert_string_equal(m, "taskpipe code s3://b/k.zip#v7");
	spec_free(&s);
}

static void test_absent(void **state)
{
	(void)state;
	struct spec s;
	tp_err e = { 0 };
	assert_int_equal(parse("{\"queue\":{},\"other\":[1,2]}", &s, &e), TP_OK);
	for (int i = 0; i < SQ_NATTR; i++)
		assert_int_equal(s.queue.attr[i], SPEC_UNSET);
	assert_int_equal(s.queue.max_receive, SPEC_UNSET);
	assert_int_equal(s.dlq.keep_if_not_empty, 1);      /* kept unless asked otherwise */
	assert_null(s.func.runtime);
	assert_int_equal(s.func.memory, SPEC_UNSET);
	assert_int_equal(s.func.reserved, SPEC_UNSET);
	assert_int_equal(s.func.arch, ARCH_UNSET);
	assert_int_equal(s.func.storage, STORAGE_UNSET);
	assert_int_equal(s.mapping.enabled, (int)SPEC_UNSET);
	assert_int_equal(s.mapping.frt, FRT_UNSET);
	assert_int_equal(s.mapping.max_concurrency, 0);
	assert_int_equal(s.drain_timeout, SPEC_UNSET);
	assert_string_equal(spec_arch_name(s.func.arch), "x86_64");
	assert_string_equal(spec_storage_name(s.func.storage), "COPY");
	spec_free(&s);
	/* null drain_timeout: the default; an empty FunctionResponseTypes is a value */
	assert_int_equal(parse("{\"drain_timeout\":null,\"mapping\":{\"FunctionResponseTypes\":[]}}", &s, &e), TP_OK);
	assert_int_equal(s.drain_timeout, SPEC_UNSET);
	assert_int_equal(s.mapping.frt, FRT_NONE);
	spec_free(&s);
}

/* AWS's bounds are inclusive. */
static void test_bounds_accepted(void **state)
{
	(void)state;
	static const char *const ok[] = {
		"{\"queue\":{\"VisibilityTimeout\":0,\"MessageRetentionPeriod\":60,\"ReceiveMessageWaitTimeSeconds\":0,"
		"\"DelaySeconds\":0,\"MaximumMessageSize\":1024,\"maxReceiveCount\":1}}",
		"{\"queue\":{\"VisibilityTimeout\":43200,\"MessageRetentionPeriod\":1209600,"
		"\"ReceiveMessageWaitTimeSeconds\":20,\"DelaySeconds\":900,\"MaximumMessageSize\":1048576,"
		"\"maxReceiveCount\":1000}}",
		"{\"func\":{\"MemorySize\":128,\"Timeout\":1,\"ReservedConcurrentExecutions\":0}}",
		"{\"func\":{\"MemorySize\":10240,\"Timeout\":900}}",
		"{\"mapping\":{\"BatchSize\":1,\"MaximumBatchingWindowInSeconds\":0,\"ScalingConfig\":{\"MaximumConcurrency\":2}}}",
		"{\"mapping\":{\"BatchSize\":10000,\"MaximumBatchingWindowInSeconds\":300,"
		"\"ScalingConfig\":{\"MaximumConcurrency\":1000}}}",
		"{\"func\":{\"MemorySize\":256.0,\"Timeout\":3e1}}",   /* integral, however written */
		"{\"func\":{\"Layers\":[],\"Architectures\":[\"x86_64\"],\"Code\":{\"S3ObjectStorageMode\":\"COPY\"}}}",
	};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		struct spec s;
		tp_err e = { 0 };
		if (parse(ok[i], &s, &e) != TP_OK)
			fail_msg("%s: %s", ok[i], e.message);
		spec_free(&s);
	}
}

static void test_errors(void **state)
{
	(void)state;
	static const struct { const char *spec, *code, *message; } cases[] = {
		{ "{\"queue\":{\"VisibilityTimeout\":43201}}", "BadSpec",
		  "pipeline p: queue.VisibilityTimeout must be an integer 0..43200, not 43201" },
		{ "{\"queue\":{\"VisibilityTimeout\":\"60\"}}", "BadSpec",
		  "pipeline p: queue.VisibilityTimeout must be an integer 0..43200, not 60" },
		{ "{\"dlq\":{\"MessageRetentionPeriod\":59}}", "BadSpec",
		  "pipeline p: dlq.MessageRetentionPeriod must be an integer 60..1209600, not 59" },
		{ "{\"queue\":{\"ReceiveMessageWaitTimeSeconds\":21}}", "BadSpec", "queue.ReceiveMessageWaitTimeSeconds" },
		{ "{\"queue\":{\"DelaySeconds\":-1}}", "BadSpec", "queue.DelaySeconds must be an integer 0..900, not -1" },
		{ "{\"queue\":{\"MaximumMessageSize\":1023}}", "BadSpec", "queue.MaximumMessageSize" },
		{ "{\"queue\":{\"maxReceiveCount\":0}}", "BadSpec", "queue.maxReceiveCount must be an integer 1..1000, not 0" },
		{ "{\"dlq\":{\"keep_if_not_empty\":\"yes\"}}", "BadSpec",
		  "pipeline p: dlq.keep_if_not_empty must be true or false, not yes" },
		{ "{\"func\":{\"MemorySize\":64}}", "BadSpec", "func.MemorySize must be an integer 128..10240, not 64" },
		{ "{\"func\":{\"MemorySize\":256.5}}", "BadSpec", "func.MemorySize must be an integer 128..10240, not 256.5" },
		{ "{\"func\":{\"Timeout\":901}}", "BadSpec", "func.Timeout must be an integer 1..900, not 901" },
		{ "{\"func\":{\"ReservedConcurrentExecutions\":-1}}", "BadSpec", "func.ReservedConcurrentExecutions" },
		{ "{\"func\":{\"Runtime\":5}}", "BadSpec", "pipeline p: func.Runtime must be a string, not 5" },
		{ "{\"func\":{\"Handler\":true}}", "BadSpec", "func.Handler must be a string, not true" },
		{ "{\"func\":{\"Role\":{}}}", "BadSpec", "func.Role must be a string" },
		{ "{\"func\":{\"Architectures\":[\"sparc\"]}}", "BadSpec",
		  "func.Architectures must be [\"x86_64\"] or [\"arm64\"], not [\"sparc\"]" },
		{ "{\"func\":{\"Architectures\":\"arm64\"}}", "BadSpec", "func.Architectures" },
		{ "{\"func\":{\"Code\":{\"S3ObjectStorageMode\":\"MOVE\"}}}", "BadSpec",
		  "func.Code.S3ObjectStorageMode must be \"REFERENCE\" or \"COPY\", not MOVE" },
		{ "{\"func\":{\"Code\":{\"S3Key\":7}}}", "BadSpec", "func.Code.S3Key must be a string" },
		{ "{\"func\":{\"Code\":\"s3://b/k\"}}", "BadSpec", "func.Code must be an object" },
		{ "{\"func\":{\"Layers\":\"arn:l:1\"}}", "BadSpec",
		  "pipeline p: func.Layers must be a list of layer version ARNs" },
		{ "{\"func\":{\"Layers\":[\"arn:l:1\",\"\"]}}", "BadSpec", "func.Layers must be a list of layer version ARNs" },
		{ "{\"func\":{\"Layers\":[7]}}", "BadSpec", "func.Layers must be a list of layer version ARNs" },
		{ "{\"func\":{\"PackageType\":\"Image\"}}", "PackageTypeNotSupported",
		  "pipeline p: func.PackageType is 'Image'; taskpipe manages zip functions only" },
		{ "{\"func\":{\"Environment\":{\"Variables\":{\"A\":1}}}}", "BadSpec",
		  "func.Environment.Variables.A must be a string, not 1" },
		{ "{\"func\":{\"Environment\":[]}}", "BadSpec", "func.Environment must be an object" },
		{ "{\"mapping\":{\"BatchSize\":0}}", "BadSpec", "mapping.BatchSize must be an integer 1..10000, not 0" },
		{ "{\"mapping\":{\"MaximumBatchingWindowInSeconds\":301}}", "BadSpec", "mapping.MaximumBatchingWindowInSeconds" },
		{ "{\"mapping\":{\"ScalingConfig\":{\"MaximumConcurrency\":1}}}", "BadSpec",
		  "mapping.ScalingConfig.MaximumConcurrency must be an integer 2..1000, not 1" },
		{ "{\"mapping\":{\"Enabled\":1}}", "BadSpec", "mapping.Enabled must be true or false, not 1" },
		{ "{\"mapping\":{\"FunctionResponseTypes\":[\"X\"]}}", "BadSpec", "mapping.FunctionResponseTypes" },
		{ "{\"tags\":{\"a\":{\"b\":1}}}", "BadSpec", "tags.a must be a string, number or boolean" },
		{ "{\"tags\":[]}", "BadSpec", "pipeline p: tags must be an object" },
		{ "{\"drain_timeout\":0}", "BadSpec", "drain_timeout must be an integer 1..1209600, not 0" },
		{ "{\"queue\":[]}", "BadSpec", "pipeline p: queue must be an object, not []" },
		{ "[]", "PolicyError", "not an object" },
		/* the first bad field is named */
		{ "{\"func\":{\"MemorySize\":1,\"Timeout\":0}}", "BadSpec", "func.MemorySize" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct spec s;
		tp_err e = { 0 };
		int rc = parse(cases[i].spec, &s, &e);
		if (rc >= 0 || strcmp(e.code, cases[i].code) != 0 || !strstr(e.message, cases[i].message))
			fail_msg("%s: rc %d, %s: %s (want %s ...%s...)", cases[i].spec, rc, e.code, e.message,
				 cases[i].code, cases[i].message);
		assert_null(s.func.runtime);   /* zeroed */
	}
}

/* The last spec as the state table holds it, read as every version wrote it. */
static void test_record(void **state)
{
	(void)state;
	struct spec_record r;
	spec_record_read(NULL, &r);
	assert_int_equal(r.tags.n, 0);
	assert_int_equal(r.keep_dlq, 1);
	assert_int_equal(r.drain_timeout, SPEC_UNSET);
	spec_record_free(&r);
	cJSON *stored = cJSON_Parse("{\"tags\":{\"team\":\"a\",\"n\":3},\"dlq\":{\"keep_if_not_empty\":false},"
				    "\"drain_timeout\":3600}");
	spec_record_read(stored, &r);
	assert_int_equal(r.tags.n, 2);
	assert_true(spec_kvs_has(&r.tags, "n"));
	assert_false(spec_kvs_has(&r.tags, "x"));
	assert_int_equal(r.keep_dlq, 0);
	assert_int_equal(r.drain_timeout, 3600);
	spec_record_free(&r);
	cJSON_Delete(stored);
	/* only false lets the DLQ go; a timeout below 1 s is the default */
	stored = cJSON_Parse("{\"dlq\":{\"keep_if_not_empty\":\"no\"},\"drain_timeout\":0.5,\"tags\":[]}");
	spec_record_read(stored, &r);
	assert_int_equal(r.keep_dlq, 1);
	assert_int_equal(r.drain_timeout, SPEC_UNSET);
	assert_int_equal(r.tags.n, 0);
	spec_record_free(&r);
	cJSON_Delete(stored);
}

static void hash_of_print(const cJSON *t, char out[65])
{
	char *text = cJSON_PrintUnformatted(t);
	hash_sha256_hex(text, strlen(text), out);
	free(text);
}

static void hash_of_stream(const cJSON *t, char out[65])
{
	struct hash_sha256_stream s;
	unsigned char d[HASH_SHA256_LEN];
	hash_sha256_begin(&s);
	spec_hash_tree(&s, t);
	hash_sha256_end(&s, d);
	hash_hex(d, sizeof d, out);
}

/* The streamed bytes are cJSON_PrintUnformatted's, for every kind of node. */
static void test_hash_tree_is_the_printed_text(void **state)
{
	(void)state;
	static const char *const texts[] = {
		"{}", "[]", "{\"a\":{},\"b\":[],\"c\":[[],{}]}", "null", "true", "\"\"",
		"{\"n\":[0,-0,1,-1,0.1,1e300,2147483647,2147483648,-2147483649,123456789012345678,1.5e-7,3.0]}",
		"{\"s\":\"quote\\\" backslash\\\\ slash/ \\b\\f\\n\\r\\t \\u0001\\u001f \\u007f \\u00e9 \\u20ac \\ud83d\\ude00\"}",
		"{\"k\\\"ey\\n\":{\"x\":[true,false,null,\"v\"]}}",
	};
	for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
		for (int raw = 0; raw < 2; raw++) {   /* numbers as Raw nodes (the policy's) and as numbers */
			cJSON *t = raw ? jsonnum_parse(texts[i]) : cJSON_Parse(texts[i]);
			assert_non_null(t);
			char a[65], b[65];
			hash_of_print(t, a);
			hash_of_stream(t, b);
			if (strcmp(a, b) != 0) {
				char *p = cJSON_PrintUnformatted(t);
				fail_msg("%s (raw %d): printed %s", texts[i], raw, p);
			}
			cJSON_Delete(t);
		}
	}
	/* the tree as the policy builds it: integers as numbers, floats as Raw text */
	cJSON *t = cJSON_CreateObject();
	cJSON_AddNumberToObject(t, "i", 9007199254740992.0);
	cJSON_AddRawToObject(t, "f", "0.1");
	cJSON_AddRawToObject(t, "big", "123456789012345678901234567890");
	char a[65], b[65];
	hash_of_print(t, a);
	hash_of_stream(t, b);
	assert_string_equal(a, b);
	cJSON_Delete(t);
}

/* pipeline_hash is today's: SHA-256 of the printed answer, then owner,
 * prefix and role, a line each. */
static void test_pipeline_hash_as_stored(void **state)
{
	(void)state;
	struct settings set = { .prefix = "tp-", .owner = "me", .role_arn = "arn:aws:iam::1:role/r" };
	cJSON *answer = jsonnum_parse(FULL);
	char *text = cJSON_PrintUnformatted(answer);
	char *old = tp_xasprintf("%s\n%s\n%s\n%s", text, set.owner, set.prefix, set.role_arn);
	char want[65], got[65];
	hash_sha256_hex(old, strlen(old), want);
	pipeline_hash(&set, answer, got);
	assert_string_equal(got, want);
	free(old);
	free(text);
	set.role_arn = NULL;
	text = cJSON_PrintUnformatted(answer);
	old = tp_xasprintf("%s\n%s\n%s\n", text, set.owner, set.prefix);
	hash_sha256_hex(old, strlen(old), want);
	pipeline_hash(&set, answer, got);
	assert_string_equal(got, want);
	/* the desired state carries the same hash */
	struct pipeline p;
	tp_err e = { 0 };
	assert_int_equal(pipeline_desired(&set, "p", answer, &p, &e), TP_OK);
	assert_string_equal(p.hash, want);
	/* and the state record gets the text it got before: the answer printed,
	 * parsed back, printed */
	cJSON *back = cJSON_Parse(text);
	char *before = cJSON_PrintUnformatted(back), *now = cJSON_PrintUnformatted(p.tree);
	assert_string_equal(now, before);
	free(before);
	free(now);
	cJSON_Delete(back);
	pipeline_free(&p);
	free(old);
	free(text);
	cJSON_Delete(answer);
}

/* Through the policy, as a run computes it: the same spec built in another
 * key order, or with 1.0 for 1, hashes the same (the policy sorts keys and
 * writes an integral float as an integer); another value does not. */
static void policy_hash(const char *body, char out[65])
{
	char *src = tp_xasprintf("return { pipeline = function(item, ctx)\n%s\nend }\n", body);
	struct policy_limits lim = { .in_process = 1 };
	struct policy *p = NULL;
	tp_err e = { 0 };
	if (policy_new(src, strlen(src), "test.lua", &lim, &p, &e) != 0)
		fail_msg("load: %s", e.message);
	cJSON *item = cJSON_Parse("{\"pipeline\":{\"S\":\"a\"}}"), *answer = NULL;
	if (policy_pipeline(p, item, &answer, &e) != 0)
		fail_msg("call: %s", e.message);
	struct settings set = { .prefix = "tp-", .owner = "me" };
	pipeline_hash(&set, answer, out);
	cJSON_Delete(answer);
	cJSON_Delete(item);
	policy_free(p);
	free(src);
}

static void test_hash_through_the_policy(void **state)
{
	(void)state;
	char a[65], b[65], c[65], d[65];
	policy_hash("return { queue = { VisibilityTimeout = 60, maxReceiveCount = 5 }, "
		    "func = { MemorySize = 256, Timeout = 30 }, tags = { x = 'y', a = 'b' } }", a);
	policy_hash("local s = {}; s.tags = { a = 'b' }; s.tags.x = 'y'; s.func = { Timeout = 30.0 }; "
		    "s.func.MemorySize = 256.0; s.queue = { maxReceiveCount = 5 }; s.queue.VisibilityTimeout = 60 "
		    "return s", b);
	assert_string_equal(a, b);
	policy_hash("return { queue = { VisibilityTimeout = 60, maxReceiveCount = 5 }, "
		    "func = { MemorySize = 256, Timeout = 31 }, tags = { x = 'y', a = 'b' } }", c);
	assert_string_not_equal(a, c);
	/* a fraction keeps its digits: 0.5 is not 0.50000000000000001 or 1 */
	policy_hash("return { tags = { f = 0.5 } }", c);
	policy_hash("return { tags = { f = 0.50 } }", d);
	assert_string_equal(c, d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_field),
		cmocka_unit_test(test_absent),
		cmocka_unit_test(test_bounds_accepted),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_record),
		cmocka_unit_test(test_hash_tree_is_the_printed_text),
		cmocka_unit_test(test_pipeline_hash_as_stored),
		cmocka_unit_test(test_hash_through_the_policy),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
