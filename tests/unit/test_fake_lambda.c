/* test_fake_lambda.c: the fake Lambda (tests/fake/fake_lambda*.c) through
 * taskpipe's own client and aws/lambda.h builders: every operation, the
 * function states with a lag (Pending -> Active, InProgress, 409 meanwhile),
 * mappings' states and ResourceInUse, the account's concurrency pool,
 * paging, tags, and the control-plane quota as simulated time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "aws/aws.h"
#include "aws/lambda.h"
#include "aws/s3.h"
#include "aws/sqs.h"
#include "base/base64.h"
#include "base/hash.h"
#include "fake/fake.h"
#include "fake/fake_int.h"
#include "fake/fake_lambda_int.h"

#define ROLE "arn:aws:iam::123456789012:role/taskpipe-fn"
#define QUEUE "arn:aws:sqs:eu-west-1:123456789012:tp-q"

/* rps: the client's own Lambda metering (0: taskpipe's 15/s, < 0: none). */
static struct aws *client_rps(struct fake *f, double rps)
{
	struct aws_options o = { .region = "eu-west-1", .seed = 1, .lambda_rps = rps, .lambda_get_rps = -1 };
	return fake_client(f, "AKIDFAKE", &o);
}

static struct aws *client(struct fake *f) { return client_rps(f, -1); }

struct env {
	struct fake *f;
	struct aws *a;
};

static struct env setup(int lag_ms, int esm_any_queue)
{
	struct fake_options o = { .lag_ms = lag_ms, .esm_any_queue = esm_any_queue };
	struct env e = { fake_new(&o), NULL };
	fake_use_clock(e.f);
	e.a = client(e.f);
	return e;
}

static void teardown(struct env *e)
{
	aws_free(e->a);
	fake_free(e->f);
}

/* Run c; the answer (parsed, NULL when empty) and c's status in *status,
 * its error code into code (may be NULL). */
static cJSON *run(struct env *e, struct aws_call *c, long *status, char *code, size_t len)
{
	aws_call_one(e->a, c);
	*status = c->status;
	if (code)
		snprintf(code, len, "%s", c->rc == TP_OK ? "" : c->err.code);
	cJSON *j = c->resp.len ? cJSON_Parse(buf_str(&c->resp)) : NULL;
	aws_call_free(c);
	return j;
}

static const char *str(const cJSON *o, const char *k)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

/* CreateFunction with ZipFile code (zip: the bytes). */
static cJSON *create_in(const char *name, const char *zip)
{
	cJSON *in = cJSON_CreateObject();
	cJSON_AddStringToObject(in, "FunctionName", name);
	cJSON_AddStringToObject(in, "Runtime", "python3.12");
	cJSON_AddStringToObject(in, "Handler", "app.handler");
	cJSON_AddStringToObject(in, "Role", ROLE);
	cJSON_AddStringToObject(in, "Description", "tp:v1");
	cJSON_AddNumberToObject(in, "MemorySize", 256);
	cJSON_AddStringToObject(cJSON_AddObjectToObject(cJSON_AddObjectToObject(in, "Environment"), "Variables"),
				"A", "1");
	char *b = base64_encode_dup(zip, strlen(zip));
	cJSON_AddStringToObject(cJSON_AddObjectToObject(in, "Code"), "ZipFile", b);
	free(b);
	cJSON_AddStringToObject(cJSON_AddObjectToObject(in, "Tags"), "taskpipe:owner", "t");
	return in;
}

static long create(struct env *e, const char *name, char *code, size_t len)
{
	struct aws_call c = { 0 };
	long st;
	lambda_create_function(&c, create_in(name, "zip-bytes"));
	cJSON_Delete(run(e, &c, &st, code, len));
	return st;
}

static cJSON *get_function(struct env *e, const char *name, long *st, char *code, size_t len)
{
	struct aws_call c = { 0 };
	lambda_get_function(&c, name, NULL);
	return run(e, &c, st, code, len);
}

static long update_config(struct env *e, const char *name, const char *desc, char *code, size_t len)
{
	struct aws_call c = { 0 };
	long st;
	cJSON *in = cJSON_CreateObject();
	cJSON_AddStringToObject(in, "Description", desc);
	lambda_update_function_configuration(&c, name, in);
	cJSON_Delete(run(e, &c, &st, code, len));
	return st;
}

static long update_zip(struct env *e, const char *name, const char *zip, char *code, size_t len)
{
	struct aws_call c = { 0 };
	long st;
	cJSON *in = cJSON_CreateObject();
	char *b = base64_encode_dup(zip, strlen(zip));
	cJSON_AddStringToObject(in, "ZipFile", b);
	free(b);
	lambda_update_function_code(&c, name, in);
	cJSON_Delete(run(e, &c, &st, code, len));
	return st;
}

static void test_function_lifecycle(void **state)
{
	(void)state;
	struct env e = setup(0, 0);
	char code[64];
	long st;
	assert_int_equal(create(&e, "fn-a", code, sizeof code), 201);
	cJSON *g = get_function(&e, "fn-a", &st, code, sizeof code);
	assert_int_equal(st, 200);
	const cJSON *cfg = cJSON_GetObjectItem(g, "Configuration");
	struct lambda_config lc;
	lambda_config_read(cfg, &lc);
	assert_string_equal(lc.name, "fn-a");
	assert_string_equal(lc.state, "Active");
	assert_string_equal(lc.last_update, "Successful");
	assert_string_equal(lc.description, "tp:v1");
	assert_string_equal(lc.arn, "arn:aws:lambda:eu-west-1:123456789012:function:fn-a");
	assert_false(lc.busy);
	/* CodeSha256: base64 of the code's SHA-256 */
	unsigned char d[HASH_SHA256_LEN];
	char want[64];
	hash_sha256("zip-bytes", 9, d);
	base64_encode(d, sizeof d, want);
	assert_string_equal(lc.code_sha, want);
	assert_int_equal(cJSON_GetObjectItem(cfg, "MemorySize")->valueint, 256);
	assert_string_equal(str(cJSON_GetObjectItem(cJSON_GetObjectItem(cfg, "Environment"), "Variables"), "A"), "1");
	assert_null(cJSON_GetObjectItem(cfg, "Layers"));     /* [layers] */
	assert_string_equal(str(cJSON_GetObjectItem(g, "Tags"), "taskpipe:owner"), "t");
	assert_string_equal(str(cJSON_GetObjectItem(g, "Code"), "RepositoryType"), "S3");
	assert_null(cJSON_GetObjectItem(cJSON_GetObjectItem(g, "Code"), "ResolvedS3Object"));
	assert_null(cJSON_GetObjectItem(g, "Concurrency"));
	char rev[64];
	snprintf(rev, sizeof rev, "%s", lc.revision_id);
	cJSON_Delete(g);

	/* by ARN too; GetFunctionConfiguration */
	struct aws_call c = { 0 };
	lambda_get_function_configuration(&c, "arn:aws:lambda:eu-west-1:123456789012:function:fn-a", NULL);
	cJSON *gc = run(&e, &c, &st, code, sizeof code);
	assert_int_equal(st, 200);
	assert_string_equal(str(gc, "FunctionName"), "fn-a");
	assert_string_equal(str(gc, "State"), "Active");
	cJSON_Delete(gc);

	/* an existing name: 409 */
	assert_int_equal(create(&e, "fn-a", code, sizeof code), 409);
	assert_string_equal(code, "ResourceConflictException");

	/* updates change RevisionId and what they set */
	assert_int_equal(update_config(&e, "fn-a", "tp:v2", code, sizeof code), 200);
	assert_int_equal(update_zip(&e, "fn-a", "other-bytes", code, sizeof code), 200);
	g = get_function(&e, "fn-a", &st, code, sizeof code);
	lambda_config_read(cJSON_GetObjectItem(g, "Configuration"), &lc);
	assert_string_equal(lc.description, "tp:v2");
	assert_string_not_equal(lc.code_sha, want);
	assert_string_not_equal(lc.revision_id, rev);
	cJSON_Delete(g);

	/* a stale RevisionId: 412 */
	cJSON *in = cJSON_CreateObject();
	cJSON_AddStringToObject(in, "Description", "x");
	cJSON_AddStringToObject(in, "RevisionId", rev);
	lambda_update_function_configuration(&c, "fn-a", in);
	cJSON_Delete(run(&e, &c, &st, code, sizeof code));
	assert_int_equal(st, 412);
	assert_string_equal(code, "PreconditionFailedException");

	/* delete; then 404 everywhere */
	lambda_delete_function(&c, "fn-a");
	cJSON_Delete(run(&e, &c, &st, code, sizeof code));
	assert_int_equal(st, 204);
	cJSON_Delete(get_function(&e, "fn-a", &st, code, sizeof code));
	assert_int_equal(st, 404);
	assert_string_equal(code, "ResourceNotFoundException");
	assert_int_equal(update_config(&e, "fn-a", "x", code, sizeof code), 404);
	lambda_delete_function(&c, "fn-a");
	cJSON_Delete(run(&e, &c, &st, code, sizeof code));
	assert_int_equal(st, 404);
	assert_int_equal(fake_count(e.f, "lambda", "CreateFunction"), 2);
	assert_int_equal(fake_count(e.f, "lambda", "GetFunction"), 3);
	teardown(&e);
}

static void test_bad_requests_are_errors(void **state)
{
	(void)state;
	struct env e = setup(0, 0);
	char code[64];
	long st;
	struct aws_call c = { 0 };
	/* a parameter the fake does not know */
	cJSON *in = create_in("fn-b", "z");
	cJSON_AddStringToObject(in, "SnapStart", "x");
	lambda_create_function(&c, in);
	cJSON_Delete(run(&e, &c, &st, code, sizeof code));
	assert_int_equal(st, 400);
	assert_string_equal(code, "InvalidParameterValueException");
	/* out of range */
	in = create_in("fn-b", "z");
	cJSON_ReplaceItemInObject(in, "MemorySize", cJSON_CreateNumber(64));
	lambda_create_function(&c, in);
	cJSON_Delete(run(&e, &c, &st, code, sizeof code));
	assert_int_equal(st, 400);
	assert_string_equal(code, "ValidationException");
	/* S3 code that is not there (AWS: InvalidParameterValueException) */
	in = create_in("fn-b", "z");
	cJSON_DeleteItemFromObject(in, "Code");
	struct lambda_code lcode = { .bucket = "no-bucket", .key = "code.zip" };
	cJSON_AddItemToObject(in, "Code", lambda_code_body(&lcode));
	lambda_create_function(&c, in);
	cJSON_Delete(run(&e, &c, &st, code, sizeof code));
	assert_int_equal(st, 400);
	assert_string_equal(code, "InvalidParameterValueException");
	/* REFERENCE without a version */
	assert_int_equal(create(&e, "fn-b", code, sizeof code), 201);
	struct lambda_code ref = { .bucket = "b", .key = "k", .storage = LAMBDA_STORAGE_REFERENCE };
	lambda_update_function_code(&c, "fn-b", lambda_code_body(&ref));
	cJSON_Delete(run(&e, &c, &st, code, sizeof code));
	assert_int_equal(st, 400);
	assert_string_equal(code, "InvalidParameterValueException");
	/* a path of no operation */
	c = (struct aws_call){ .service = SVC_LAMBDA, .op = "Nope", .method = "GET",
			       .path = "/2015-03-31/functions/fn-b/nothing" };
	cJSON_Delete(run(&e, &c, &st, code, sizeof code));
	assert_int_equal(st, 400);
	assert_string_equal(code, "UnknownOperationException");
	/* a qualifier other than $LATEST: no such version */
	lambda_get_function(&c, "fn-b", "7");
	cJSON_Delete(run(&e, &c, &st, code, sizeof code));
	assert_int_equal(st, 404);
	teardown(&e);
}

static void test_states_with_lag(void **state)
{
	(void)state;
	struct env e = setup(3000, 0);
	char code[64];
	long st;
	struct lambda_config lc;
	assert_int_equal(create(&e, "fn-s", code, sizeof code), 201);
	cJSON *g = get_function(&e, "fn-s", &st, code, sizeof code);
	lambda_config_read(cJSON_GetObjectItem(g, "Configuration"), &lc);
	assert_string_equal(lc.state, "Pending");
	assert_string_equal(lc.state_reason_code, "Creating");
	assert_string_equal(lc.last_update, "");       /* [fncfg]: none until the create ends */
	assert_true(lc.busy);
	cJSON_Delete(g);
	/* Pending: updates refused */
	assert_int_equal(update_config(&e, "fn-s", "x", code, sizeof code), 409);
	assert_string_equal(code, "ResourceConflictException");
	assert_int_equal(update_zip(&e, "fn-s", "y", code, sizeof code), 409);
	fake_advance_ms(e.f, 3000);
	g = get_function(&e, "fn-s", &st, code, sizeof code);
	lambda_config_read(cJSON_GetObjectItem(g, "Configuration"), &lc);
	assert_string_equal(lc.state, "Active");
	assert_string_equal(lc.last_update, "Successful");
	cJSON_Delete(g);
	/* an update: InProgress for the lag, a second update meanwhile 409 */
	assert_int_equal(update_config(&e, "fn-s", "v2", code, sizeof code), 200);
	g = get_function(&e, "fn-s", &st, code, sizeof code);
	lambda_config_read(cJSON_GetObjectItem(g, "Configuration"), &lc);
	assert_string_equal(lc.state, "Active");
	assert_string_equal(lc.last_update, "InProgress");
	assert_true(lc.busy);
	cJSON_Delete(g);
	assert_int_equal(update_zip(&e, "fn-s", "y", code, sizeof code), 409);
	assert_string_equal(code, "ResourceConflictException");
	assert_int_equal(update_config(&e, "fn-s", "v3", code, sizeof code), 409);
	fake_advance_ms(e.f, 3000);
	assert_int_equal(update_zip(&e, "fn-s", "y", code, sizeof code), 200);
	fake_advance_ms(e.f, 3000);
	g = get_function(&e, "fn-s", &st, code, sizeof code);
	lambda_config_read(cJSON_GetObjectItem(g, "Configuration"), &lc);
	assert_string_equal(lc.last_update, "Successful");
	assert_string_equal(lc.description, "v2");
	cJSON_Delete(g);
	teardown(&e);
}

static long count_pages(struct env *e, int max_items, int *total, int *pages)
{
	const char *marker = NULL;
	cJSON *prev = NULL;
	*total = *pages = 0;
	long st = 0;
	do {
		struct aws_call c = { 0 };
		char code[64];
		lambda_list_functions(&c, marker, max_items);
		cJSON *out = run(e, &c, &st, code, sizeof code);
		if (st != 200) {
			cJSON_Delete(out);
			break;
		}
		const cJSON *fn;
		int n = 0;
		cJSON_ArrayForEach(fn, cJSON_GetObjectItem(out, "Functions")) {
			assert_null(cJSON_GetObjectItem(fn, "State"));           /* [list] */
			assert_null(cJSON_GetObjectItem(fn, "LastUpdateStatus"));
			assert_non_null(str(fn, "CodeSha256"));
			n++;
		}
		assert_true(n <= 50);
		*total += n;
		(*pages)++;
		cJSON_Delete(prev);
		prev = out;
		marker = lambda_next_marker(out);
	} while (marker);
	cJSON_Delete(prev);
	return st;
}

static void test_list_functions_pages(void **state)
{
	(void)state;
	struct env e = setup(0, 0);
	char code[64], name[32];
	for (int i = 0; i < 120; i++) {
		snprintf(name, sizeof name, "fn-%03d", i);
		assert_int_equal(create(&e, name, code, sizeof code), 201);
	}
	int total, pages;
	assert_int_equal(count_pages(&e, 0, &total, &pages), 200);
	assert_int_equal(total, 120);
	assert_int_equal(pages, 3);                  /* 50 a page at most */
	assert_int_equal(count_pages(&e, 500, &total, &pages), 200);
	assert_int_equal(pages, 3);
	assert_int_equal(count_pages(&e, 7, &total, &pages), 200);
	assert_int_equal(total, 120);
	assert_int_equal(pages, 18);
	/* deletions between pages skip nobody */
	struct aws_call c = { 0 };
	long st;
	lambda_list_functions(&c, NULL, 10);
	cJSON *first = run(&e, &c, &st, code, sizeof code);
	for (int i = 5; i < 15; i++) {
		snprintf(name, sizeof name, "fn-%03d", i);
		lambda_delete_function(&c, name);
		cJSON_Delete(run(&e, &c, &st, code, sizeof code));
		assert_int_equal(st, 204);
	}
	lambda_list_functions(&c, lambda_next_marker(first), 10);
	cJSON *second = run(&e, &c, &st, code, sizeof code);
	assert_string_equal(str(cJSON_GetArrayItem(cJSON_GetObjectItem(second, "Functions"), 0), "FunctionName"),
			    "fn-015");
	cJSON_Delete(first);
	cJSON_Delete(second);
	/* a marker not of ours */
	lambda_list_functions(&c, "garbage", 10);
	cJSON_Delete(run(&e, &c, &st, code, sizeof code));
	assert_int_equal(st, 400);
	assert_string_equal(code, "InvalidParameterValueException");
	teardown(&e);
}

static cJSON *account(struct env *e)
{
	struct aws_call c = { 0 };
	long st;
	lambda_get_account_settings(&c);
	cJSON *out = run(e, &c, &st, NULL, 0);
	assert_int_equal(st, 200);
	return out;
}

static long unreserved(struct env *e)
{
	cJSON *a = account(e);
	long v = (long)cJSON_GetObjectItem(cJSON_GetObjectItem(a, "AccountLimit"), "UnreservedConcurrentExecutions")->valuedouble;
	assert_int_equal((long)cJSON_GetObjectItem(cJSON_GetObjectItem(a, "AccountLimit"), "ConcurrentExecutions")->valuedouble,
			 1000);
	cJSON_Delete(a);
	return v;
}

static long put_conc(struct env *e, const char *fn, double n, char *code, size_t len, char *msg, size_t mlen)
{
	struct aws_call c = { 0 };
	long st;
	lambda_put_function_concurrency(&c, fn, n);
	aws_call_one(e->a, &c);
	st = c.status;
	snprintf(code, len, "%s", c.rc == TP_OK ? "" : c.err.code);
	if (msg)
		snprintf(msg, mlen, "%s", c.rc == TP_OK ? "" : c.err.message);
	aws_call_free(&c);
	return st;
}

static void test_concurrency_pool(void **state)
{
	(void)state;
	struct env e = setup(0, 0);
	char code[64], msg[512];
	long st;
	assert_int_equal(create(&e, "fn-a", code, sizeof code), 201);
	assert_int_equal(create(&e, "fn-b", code, sizeof code), 201);
	assert_int_equal(unreserved(&e), 1000);
	assert_int_equal(put_conc(&e, "fn-a", 500, code, sizeof code, NULL, 0), 200);
	assert_int_equal(put_conc(&e, "fn-b", 400, code, sizeof code, NULL, 0), 200);   /* 100 left: the minimum */
	assert_int_equal(unreserved(&e), 100);
	assert_int_equal(put_conc(&e, "fn-b", 401, code, sizeof code, msg, sizeof msg), 400);
	assert_string_equal(code, "InvalidParameterValueException");
	assert_non_null(strstr(msg, "Specified ReservedConcurrentExecutions for function decreases account's "
				    "UnreservedConcurrentExecution below its minimum value of [100]."));
	assert_int_equal(unreserved(&e), 100);
	/* lowering one's own reservation is fine; GetFunction shows it */
	assert_int_equal(put_conc(&e, "fn-b", 10, code, sizeof code, NULL, 0), 200);
	assert_int_equal(unreserved(&e), 490);
	cJSON *g = get_function(&e, "fn-b", &st, code, sizeof code);
	assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(g, "Concurrency"), "ReservedConcurrentExecutions")->valueint, 10);
	cJSON_Delete(g);
	/* GetFunctionConcurrency (API version 2019-09-30; taskpipe reads GetFunction's) */
	struct aws_call gc = { .service = SVC_LAMBDA, .op = "GetFunctionConcurrency", .method = "GET",
			       .path = "/2019-09-30/functions/fn-b/concurrency" };
	g = run(&e, &gc, &st, code, sizeof code);
	assert_int_equal(st, 200);
	assert_int_equal(cJSON_GetObjectItem(g, "ReservedConcurrentExecutions")->valueint, 10);
	cJSON_Delete(g);
	/* DeleteFunctionConcurrency and DeleteFunction give it back */
	struct aws_call c = { 0 };
	lambda_delete_function_concurrency(&c, "fn-b");
	cJSON_Delete(run(&e, &c, &st, code, sizeof code));
	assert_int_equal(st, 204);
	assert_int_equal(unreserved(&e), 500);
	lambda_delete_function(&c, "fn-a");
	cJSON_Delete(run(&e, &c, &st, code, sizeof code));
	assert_int_equal(unreserved(&e), 1000);
	cJSON *a = account(&e);
	assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(a, "AccountUsage"), "FunctionCount")->valueint, 1);
	cJSON_Delete(a);
	assert_int_equal(put_conc(&e, "fn-a", 1, code, sizeof code, NULL, 0), 404);
	assert_int_equal(put_conc(&e, "fn-b", -1, code, sizeof code, NULL, 0), 400);
	teardown(&e);
}

static void test_tags(void **state)
{
	(void)state;
	struct env e = setup(0, 0);
	char code[64];
	long st;
	const char *arn = "arn:aws:lambda:eu-west-1:123456789012:function:fn-t";
	assert_int_equal(create(&e, "fn-t", code, sizeof code), 201);
	struct aws_call c = { 0 };
	cJSON *t = cJSON_CreateObject();
	cJSON_AddStringToObject(t, "k1", "v1");
	cJSON_AddStringToObject(t, "k2", "v2");
	lambda_tag_resource(&c, arn, t);
	cJSON_Delete(run(&e, &c, &st, code, sizeof code));
	assert_int_equal(st, 204);
	cJSON *keys = cJSON_CreateArray();
	cJSON_AddItemToArray(keys, cJSON_CreateString("k1"));
	cJSON_AddItemToArray(keys, cJSON_CreateString("taskpipe:owner"));
	lambda_untag_resource(&c, arn, keys);
	cJSON_Delete(keys);
	cJSON_Delete(run(&e, &c, &st, code, sizeof code));
	assert_int_equal(st, 204);
	lambda_list_tags(&c, arn);
	cJSON *out = run(&e, &c, &st, code, sizeof code);
	assert_int_equal(st, 200);
	const cJSON *tags = cJSON_GetObjectItem(out, "Tags");
	assert_int_equal(cJSON_GetArraySize(tags), 1);
	assert_string_equal(str(tags, "k2"), "v2");
	cJSON_Delete(out);
	lambda_list_tags(&c, "arn:aws:lambda:eu-west-1:123456789012:function:nope");
	cJSON_Delete(run(&e, &c, &st, code, sizeof code));
	assert_int_equal(st, 404);
	teardown(&e);
}

static void count_tagged(void *ctx, const char *arn, const cJSON *tags)
{
	int *n = ctx;
	assert_non_null(strstr(arn, ":function:"));
	assert_true(cJSON_GetArraySize(tags) > 0);
	(*n)++;
}

static void test_tagged_functions_for_the_tagging_api(void **state)
{
	(void)state;
	struct env e = setup(0, 0);
	char code[64];
	long st;
	assert_int_equal(create(&e, "fn-1", code, sizeof code), 201);
	assert_int_equal(create(&e, "fn-2", code, sizeof code), 201);
	struct aws_call c = { 0 };
	cJSON *keys = cJSON_CreateArray();
	cJSON_AddItemToArray(keys, cJSON_CreateString("taskpipe:owner"));
	lambda_untag_resource(&c, "arn:aws:lambda:eu-west-1:123456789012:function:fn-2", keys);
	cJSON_Delete(keys);
	cJSON_Delete(run(&e, &c, &st, code, sizeof code));
	int n = 0;
	fake_lambda_each_tagged(e.f, count_tagged, &n);
	assert_int_equal(n, 1);                      /* fn-2 has no tags left */
	teardown(&e);
}

/* An S3 call to the fake S3: its status, the version id
 * of a PutObject into vid (may be NULL), the error code into code. */
static long s3_rest(struct env *e, const char *op, const char *method, const char *path, const char *query,
		    const char *body, char *vid, char *code, size_t len)
{
	struct aws_call c = { .service = SVC_S3, .op = op, .method = method, .path = path, .query = query,
			      .body = body, .body_len = body ? strlen(body) : 0,
			      .content_type = body ? "application/octet-stream" : NULL };
	aws_call_one(e->a, &c);
	long st = c.status;
	snprintf(code, len, "%s", c.rc == TP_OK ? "" : c.err.code);
	if (vid && !s3_version_id(&c, vid, 64))
		vid[0] = 0;
	aws_call_free(&c);
	return st;
}

/* Code from S3: CodeSha256 is what fake_s3_object gives (the object's
 * bytes' SHA-256), REFERENCE code shows as Code.ResolvedS3Object, and a
 * REFERENCE function whose object version is deleted turns Inactive. */
static void test_code_from_the_fake_s3(void **state)
{
	(void)state;
	struct env e = setup(0, 0);
	char code[64], v1[64], v2[64];
	long st;
	static const char vers[] = "<VersioningConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
				   "<Status>Enabled</Status></VersioningConfiguration>";
	static const char loc[] = "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
				  "<LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>";
	assert_int_equal(s3_rest(&e, "CreateBucket", "PUT", "/code", NULL, loc, NULL, code, sizeof code), 200);
	assert_int_equal(s3_rest(&e, "PutBucketVersioning", "PUT", "/code", "versioning=", vers, NULL, code,
				 sizeof code), 200);
	assert_int_equal(s3_rest(&e, "PutObject", "PUT", "/code/app.zip", NULL, "zip-one", v1, code, sizeof code), 200);
	assert_int_equal(s3_rest(&e, "PutObject", "PUT", "/code/app.zip", NULL, "zip-two!", v2, code, sizeof code), 200);
	assert_true(v1[0] && v2[0]);
	/* COPY of the newest object */
	struct aws_call c = { 0 };
	cJSON *in = create_in("fn-s3", "z");
	cJSON_DeleteItemFromObject(in, "Code");
	struct lambda_code lcode = { .bucket = "code", .key = "app.zip" };
	cJSON_AddItemToObject(in, "Code", lambda_code_body(&lcode));
	lambda_create_function(&c, in);
	cJSON *out = run(&e, &c, &st, code, sizeof code);
	assert_int_equal(st, 201);
	unsigned char d[HASH_SHA256_LEN];
	char want[64];
	hash_sha256("zip-two!", 8, d);
	base64_encode(d, sizeof d, want);
	assert_string_equal(str(out, "CodeSha256"), want);
	assert_int_equal(cJSON_GetObjectItem(out, "CodeSize")->valueint, 8);
	cJSON_Delete(out);
	/* REFERENCE to the first version */
	struct lambda_code ref = { .bucket = "code", .key = "app.zip", .version = v1,
				   .storage = LAMBDA_STORAGE_REFERENCE };
	lambda_update_function_code(&c, "fn-s3", lambda_code_body(&ref));
	out = run(&e, &c, &st, code, sizeof code);
	assert_int_equal(st, 200);
	hash_sha256("zip-one", 7, d);
	base64_encode(d, sizeof d, want);
	assert_string_equal(str(out, "CodeSha256"), want);
	cJSON_Delete(out);
	cJSON *g = get_function(&e, "fn-s3", &st, code, sizeof code);
	const cJSON *rso = cJSON_GetObjectItem(cJSON_GetObjectItem(g, "Code"), "ResolvedS3Object");
	assert_string_equal(str(rso, "S3ObjectVersion"), v1);
	assert_string_equal(str(rso, "S3Key"), "app.zip");
	cJSON_Delete(g);
	/* that version deleted: Inactive (InvalidConfiguration, the layer's code) until an
	 * update references one that is there */
	char q[96];
	snprintf(q, sizeof q, "versionId=%s", v1);
	assert_int_equal(s3_rest(&e, "DeleteObject", "DELETE", "/code/app.zip", q, NULL, NULL, code, sizeof code), 204);
	struct lambda_config lc;
	g = get_function(&e, "fn-s3", &st, code, sizeof code);
	lambda_config_read(cJSON_GetObjectItem(g, "Configuration"), &lc);
	assert_string_equal(lc.state, "Inactive");
	assert_string_equal(lc.state_reason_code, "InvalidConfiguration");
	cJSON_Delete(g);
	ref.version = v2;
	lambda_update_function_code(&c, "fn-s3", lambda_code_body(&ref));
	cJSON_Delete(run(&e, &c, &st, code, sizeof code));
	assert_int_equal(st, 200);
	g = get_function(&e, "fn-s3", &st, code, sizeof code);
	lambda_config_read(cJSON_GetObjectItem(g, "Configuration"), &lc);
	assert_string_equal(lc.state, "Active");
	cJSON_Delete(g);
	/* a version that is not there */
	struct lambda_code gone = { .bucket = "code", .key = "app.zip", .version = "nope" };
	lambda_update_function_code(&c, "fn-s3", lambda_code_body(&gone));
	cJSON_Delete(run(&e, &c, &st, code, sizeof code));
	assert_int_equal(st, 400);
	assert_string_equal(code, "InvalidParameterValueException");
	teardown(&e);
}

static long create_rt(struct env *e, const char *name, const char *runtime, char *code, size_t len)
{
	struct aws_call c = { 0 };
	long st;
	cJSON *in = create_in(name, "z");
	cJSON_ReplaceItemInObject(in, "Runtime", cJSON_CreateString(runtime));
	lambda_create_function(&c, in);
	cJSON_Delete(run(e, &c, &st, code, len));
	return st;
}

static void test_blocked_runtimes(void **state)
{
	(void)state;
	/* 2025-09-15: nodejs18.x still takes creates (blocked from 2025-10-01, updates from 2025-11-01) */
	struct fake_options o = { .start_ms = 1757894400000LL };
	struct env e = { fake_new(&o), NULL };
	fake_use_clock(e.f);
	e.a = client(e.f);
	char code[64];
	long st;
	assert_int_equal(create_rt(&e, "fn-old", "nodejs18.x", code, sizeof code), 201);
	fake_advance_ms(e.f, 20LL * 86400 * 1000);   /* 2025-10-05: no more creates */
	assert_int_equal(create_rt(&e, "fn-new", "nodejs18.x", code, sizeof code), 400);
	assert_string_equal(code, "InvalidParameterValueException");
	assert_int_equal(update_zip(&e, "fn-old", "v2", code, sizeof code), 200);
	fake_advance_ms(e.f, 30LL * 86400 * 1000);   /* 2025-11-04: no more updates */
	assert_int_equal(update_zip(&e, "fn-old", "v3", code, sizeof code), 400);
	assert_int_equal(update_config(&e, "fn-old", "x", code, sizeof code), 400);
	/* moving to a supported runtime is the way out */
	struct aws_call c = { 0 };
	cJSON *in = cJSON_CreateObject();
	cJSON_AddStringToObject(in, "Runtime", "nodejs22.x");
	lambda_update_function_configuration(&c, "fn-old", in);
	cJSON_Delete(run(&e, &c, &st, code, sizeof code));
	assert_int_equal(st, 200);
	assert_int_equal(update_zip(&e, "fn-old", "v3", code, sizeof code), 200);
	teardown(&e);
}

/* ---- mappings ---- */

static cJSON *esm_create(struct env *e, const char *fn, const char *queue, int enabled, long *st, char *code, size_t len)
{
	struct aws_call c = { 0 };
	cJSON *in = cJSON_CreateObject();
	cJSON_AddStringToObject(in, "EventSourceArn", queue);
	cJSON_AddStringToObject(in, "FunctionName", fn);
	cJSON_AddNumberToObject(in, "BatchSize", 5);
	cJSON_AddBoolToObject(in, "Enabled", enabled);
	cJSON_AddNumberToObject(cJSON_AddObjectToObject(in, "ScalingConfig"), "MaximumConcurrency", 4);
	lambda_create_event_source_mapping(&c, in);
	return run(e, &c, st, code, len);
}

static const char *esm_state(struct env *e, const char *uuid, char *into, size_t len)
{
	struct aws_call c = { 0 };
	long st;
	char code[64];
	lambda_get_event_source_mapping(&c, uuid);
	cJSON *out = run(e, &c, &st, code, sizeof code);
	snprintf(into, len, "%s", st == 200 ? str(out, "State") : code);
	cJSON_Delete(out);
	return into;
}

static long esm_update(struct env *e, const char *uuid, const char *field, int value, char *code, size_t len)
{
	struct aws_call c = { 0 };
	long st;
	cJSON *in = cJSON_CreateObject();
	if (strcmp(field, "Enabled") == 0)
		cJSON_AddBoolToObject(in, "Enabled", value);
	else
		cJSON_AddNumberToObject(in, field, value);
	lambda_update_event_source_mapping(&c, uuid, in);
	cJSON_Delete(run(e, &c, &st, code, len));
	return st;
}

static void test_mapping_states(void **state)
{
	(void)state;
	struct env e = setup(2000, 1);
	char code[64], s[64], uuid[64];
	long st;
	assert_int_equal(create(&e, "fn-m", code, sizeof code), 201);
	fake_advance_ms(e.f, 2000);
	cJSON *m = esm_create(&e, "fn-m", QUEUE, 1, &st, code, sizeof code);
	assert_int_equal(st, 202);
	assert_string_equal(str(m, "State"), "Creating");
	assert_string_equal(str(m, "EventSourceArn"), QUEUE);
	assert_string_equal(str(m, "FunctionArn"), "arn:aws:lambda:eu-west-1:123456789012:function:fn-m");
	assert_int_equal(cJSON_GetObjectItem(m, "BatchSize")->valueint, 5);
	assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(m, "ScalingConfig"), "MaximumConcurrency")->valueint, 4);
	snprintf(uuid, sizeof uuid, "%s", str(m, "UUID"));
	cJSON_Delete(m);
	/* Creating: neither update nor delete */
	assert_int_equal(esm_update(&e, uuid, "BatchSize", 7, code, sizeof code), 400);
	assert_string_equal(code, "ResourceInUseException");
	struct aws_call c = { 0 };
	lambda_delete_event_source_mapping(&c, uuid);
	cJSON_Delete(run(&e, &c, &st, code, sizeof code));
	assert_int_equal(st, 400);
	assert_string_equal(code, "ResourceInUseException");
	/* the same queue and function again: 409 */
	cJSON_Delete(esm_create(&e, "fn-m", QUEUE, 1, &st, code, sizeof code));
	assert_int_equal(st, 409);
	assert_string_equal(code, "ResourceConflictException");
	fake_advance_ms(e.f, 2000);
	assert_string_equal(esm_state(&e, uuid, s, sizeof s), "Enabled");
	/* disable: Disabling, then Disabled; enable: Enabling, then Enabled; a field: Updating */
	assert_int_equal(esm_update(&e, uuid, "Enabled", 0, code, sizeof code), 202);
	assert_string_equal(esm_state(&e, uuid, s, sizeof s), "Disabling");
	assert_int_equal(esm_update(&e, uuid, "BatchSize", 7, code, sizeof code), 400);
	fake_advance_ms(e.f, 2000);
	assert_string_equal(esm_state(&e, uuid, s, sizeof s), "Disabled");
	assert_int_equal(esm_update(&e, uuid, "Enabled", 1, code, sizeof code), 202);
	assert_string_equal(esm_state(&e, uuid, s, sizeof s), "Enabling");
	fake_advance_ms(e.f, 2000);
	assert_int_equal(esm_update(&e, uuid, "BatchSize", 7, code, sizeof code), 202);
	assert_string_equal(esm_state(&e, uuid, s, sizeof s), "Updating");
	fake_advance_ms(e.f, 2000);
	assert_string_equal(esm_state(&e, uuid, s, sizeof s), "Enabled");
	/* SQS: a batch over 10 needs a batching window */
	assert_int_equal(esm_update(&e, uuid, "BatchSize", 50, code, sizeof code), 400);
	assert_string_equal(code, "InvalidParameterValueException");
	/* delete: Deleting (still readable), then gone */
	lambda_delete_event_source_mapping(&c, uuid);
	m = run(&e, &c, &st, code, sizeof code);
	assert_int_equal(st, 202);
	assert_string_equal(str(m, "State"), "Deleting");
	cJSON_Delete(m);
	assert_string_equal(esm_state(&e, uuid, s, sizeof s), "Deleting");
	lambda_delete_event_source_mapping(&c, uuid);
	cJSON_Delete(run(&e, &c, &st, code, sizeof code));
	assert_int_equal(st, 400);
	assert_string_equal(code, "ResourceInUseException");
	fake_advance_ms(e.f, 2000);
	assert_string_equal(esm_state(&e, uuid, s, sizeof s), "ResourceNotFoundException");
	/* created disabled: Creating, then Disabled */
	m = esm_create(&e, "fn-m", QUEUE, 0, &st, code, sizeof code);
	assert_int_equal(st, 202);
	snprintf(uuid, sizeof uuid, "%s", str(m, "UUID"));
	cJSON_Delete(m);
	fake_advance_ms(e.f, 2000);
	assert_string_equal(esm_state(&e, uuid, s, sizeof s), "Disabled");
	/* a function that does not exist */
	cJSON_Delete(esm_create(&e, "fn-none", QUEUE, 1, &st, code, sizeof code));
	assert_int_equal(st, 404);
	assert_string_equal(code, "ResourceNotFoundException");
	teardown(&e);
}

static void test_mapping_needs_the_queue(void **state)
{
	(void)state;
	struct env e = setup(0, 0);    /* no esm_any_queue: the fake SQS decides */
	char code[64];
	long st;
	assert_int_equal(create(&e, "fn-q", code, sizeof code), 201);
	cJSON_Delete(esm_create(&e, "fn-q", "arn:aws:sqs:eu-west-1:123456789012:never-made", 1, &st, code, sizeof code));
	assert_int_equal(st, 400);
	assert_string_equal(code, "InvalidParameterValueException");
	cJSON_Delete(esm_create(&e, "fn-q", "arn:aws:kinesis:eu-west-1:123456789012:stream/s", 1, &st, code, sizeof code));
	assert_int_equal(st, 400);
	teardown(&e);
}

/* Without esm_any_queue the queue must exist in the fake SQS. */
static void test_mapping_on_a_fake_sqs_queue(void **state)
{
	(void)state;
	struct env e = setup(0, 0);
	char code[64];
	long st;
	assert_int_equal(create(&e, "fn-r", code, sizeof code), 201);
	struct aws_call c = { 0 };
	sqs_create_queue(&c, "tp-real", NULL, NULL);
	cJSON_Delete(run(&e, &c, &st, code, sizeof code));
	assert_int_equal(st, 200);
	cJSON *m = esm_create(&e, "fn-r", "arn:aws:sqs:eu-west-1:123456789012:tp-real", 1, &st, code, sizeof code);
	assert_int_equal(st, 202);
	cJSON_Delete(m);
	cJSON_Delete(esm_create(&e, "fn-r", "arn:aws:sqs:eu-west-1:123456789012:tp-other", 1, &st, code, sizeof code));
	assert_int_equal(st, 400);
	assert_string_equal(code, "InvalidParameterValueException");
	teardown(&e);
}

static int list_esm(struct env *e, const char *fn, const char *src, int max_items, int *pages)
{
	const char *marker = NULL;
	cJSON *prev = NULL;
	int total = 0;
	*pages = 0;
	do {
		struct aws_call c = { 0 };
		long st;
		char code[64];
		lambda_list_event_source_mappings(&c, fn, marker, max_items);
		if (src) {   /* the builder has no EventSourceArn: append it */
			char *q = tp_xasprintf("%s&EventSourceArn=%s", c.query, src);
			free(c.owned[2]);
			c.owned[2] = q;
			c.query = q;
		}
		cJSON *out = run(e, &c, &st, code, sizeof code);
		assert_int_equal(st, 200);
		total += cJSON_GetArraySize(cJSON_GetObjectItem(out, "EventSourceMappings"));
		(*pages)++;
		cJSON_Delete(prev);
		prev = out;
		marker = lambda_next_marker(out);
	} while (marker);
	cJSON_Delete(prev);
	return total;
}

static void test_mapping_lists(void **state)
{
	(void)state;
	struct env e = setup(0, 1);
	char code[64], name[32], q[128];
	long st;
	for (int i = 0; i < 3; i++) {
		snprintf(name, sizeof name, "fn-%d", i);
		assert_int_equal(create(&e, name, code, sizeof code), 201);
	}
	/* fn-0 gets 110 mappings, fn-1 and fn-2 one each */
	for (int i = 0; i < 110; i++) {
		snprintf(q, sizeof q, "%s-%d", QUEUE, i);
		cJSON_Delete(esm_create(&e, "fn-0", q, 1, &st, code, sizeof code));
		assert_int_equal(st, 202);
	}
	cJSON_Delete(esm_create(&e, "fn-1", QUEUE "-5", 1, &st, code, sizeof code));
	cJSON_Delete(esm_create(&e, "arn:aws:lambda:eu-west-1:123456789012:function:fn-2", QUEUE "-6", 1, &st, code,
				sizeof code));
	assert_int_equal(st, 202);
	int pages;
	assert_int_equal(list_esm(&e, NULL, NULL, 0, &pages), 112);
	assert_int_equal(pages, 2);                  /* 100 a page at most */
	assert_int_equal(list_esm(&e, "fn-0", NULL, 0, &pages), 110);
	assert_int_equal(pages, 2);
	assert_int_equal(list_esm(&e, "fn-0", NULL, 25, &pages), 110);
	assert_int_equal(pages, 5);
	assert_int_equal(list_esm(&e, "fn-1", NULL, 0, &pages), 1);
	assert_int_equal(list_esm(&e, "arn:aws:lambda:eu-west-1:123456789012:function:fn-2", NULL, 0, &pages), 1);
	assert_int_equal(list_esm(&e, NULL, QUEUE "-5", 0, &pages), 2);
	assert_int_equal(list_esm(&e, "fn-9", NULL, 0, &pages), 0);
	teardown(&e);
}

/* ---- the test API: failures, bounds, violations ---- */

static struct lambda_config *read_cfg(struct env *e, const char *name, cJSON **keep, struct lambda_config *lc)
{
	long st;
	char code[64];
	*keep = get_function(e, name, &st, code, sizeof code);
	assert_int_equal(st, 200);
	lambda_config_read(cJSON_GetObjectItem(*keep, "Configuration"), lc);
	return lc;
}

static void test_failures_on_request(void **state)
{
	(void)state;
	struct env e = setup(1000, 0);
	char code[64];
	cJSON *g;
	struct lambda_config lc;
	/* a create that fails: State Failed once Pending ends, updates refused */
	assert_int_equal(create(&e, "fn-f", code, sizeof code), 201);
	fake_lambda_fail(e.f, "fn-f", 0, "The function could not start.", "InternalError");
	read_cfg(&e, "fn-f", &g, &lc);
	assert_string_equal(lc.state, "Pending");
	cJSON_Delete(g);
	fake_advance_ms(e.f, 1000);
	read_cfg(&e, "fn-f", &g, &lc);
	assert_string_equal(lc.state, "Failed");
	assert_true(lc.failed);
	assert_string_equal(lc.state_reason_code, "InternalError");
	assert_string_equal(lc.state_reason, "The function could not start.");
	cJSON_Delete(g);
	assert_int_equal(update_zip(&e, "fn-f", "v2", code, sizeof code), 409);
	assert_int_equal(fake_lambda_violations(e.f, "function Failed"), 1);
	/* the next update of another fails, the one after it does not */
	assert_int_equal(create(&e, "fn-u", code, sizeof code), 201);
	fake_lambda_fail(e.f, "fn-u", 1, "Bad code.", "InvalidCode");
	fake_advance_ms(e.f, 1000);
	read_cfg(&e, "fn-u", &g, &lc);
	assert_string_equal(lc.last_update, "Successful");
	cJSON_Delete(g);
	assert_int_equal(update_zip(&e, "fn-u", "v2", code, sizeof code), 200);
	read_cfg(&e, "fn-u", &g, &lc);
	assert_string_equal(lc.last_update, "InProgress");
	assert_string_equal(lc.last_update_reason_code, "");
	cJSON_Delete(g);
	assert_int_equal(update_zip(&e, "fn-u", "v3", code, sizeof code), 409);
	assert_int_equal(fake_lambda_violations(e.f, "update InProgress"), 1);
	fake_advance_ms(e.f, 1000);
	read_cfg(&e, "fn-u", &g, &lc);
	assert_string_equal(lc.state, "Active");
	assert_string_equal(lc.last_update, "Failed");
	assert_string_equal(lc.last_update_reason_code, "InvalidCode");
	cJSON_Delete(g);
	assert_int_equal(update_zip(&e, "fn-u", "v3", code, sizeof code), 200);
	fake_advance_ms(e.f, 1000);
	read_cfg(&e, "fn-u", &g, &lc);
	assert_string_equal(lc.last_update, "Successful");
	cJSON_Delete(g);
	/* the failure of an update in progress */
	assert_int_equal(update_zip(&e, "fn-u", "v4", code, sizeof code), 200);
	fake_lambda_fail(e.f, "fn-u", 1, "Late.", "EniLimitExceeded");
	fake_advance_ms(e.f, 1000);
	read_cfg(&e, "fn-u", &g, &lc);
	assert_string_equal(lc.last_update_reason_code, "EniLimitExceeded");
	cJSON_Delete(g);
	assert_int_equal(fake_lambda_violations(e.f, NULL), 2);
	teardown(&e);
}

static long esm_scale(struct env *e, const char *uuid, int max_conc, char *code, size_t len)
{
	struct aws_call c = { 0 };
	long st;
	cJSON *in = cJSON_CreateObject();
	cJSON *sc = cJSON_AddObjectToObject(in, "ScalingConfig");
	if (max_conc)
		cJSON_AddNumberToObject(sc, "MaximumConcurrency", max_conc);
	lambda_update_event_source_mapping(&c, uuid, in);
	cJSON_Delete(run(e, &c, &st, code, len));
	return st;
}

static void test_limit_history(void **state)
{
	(void)state;
	struct env e = setup(1000, 1);
	char code[64], uuid[64], msg[32];
	long st;
	const struct fake_bound *h;
	assert_int_equal(create(&e, "fn-l", code, sizeof code), 201);
	fake_advance_ms(e.f, 1000);
	assert_int_equal(put_conc(&e, "fn-l", 50, code, sizeof code, NULL, 0), 200);
	assert_int_equal(fake_lambda_limit_history(e.f, "fn-l", &h), 1);
	assert_int_equal(h[0].bound, 0);                    /* no mapping yet */
	cJSON *m = esm_create(&e, "fn-l", QUEUE, 1, &st, code, sizeof code);   /* MaximumConcurrency 4 */
	snprintf(uuid, sizeof uuid, "%s", str(m, "UUID"));
	cJSON_Delete(m);
	fake_advance_ms(e.f, 1000);
	assert_int_equal(fake_lambda_limit_history(e.f, "fn-l", &h), 3);
	assert_int_equal(h[1].bound, 4);                    /* Creating: the target may be in force */
	assert_int_equal(h[2].bound, 4);
	assert_int_equal(h[2].t_ms - h[1].t_ms, 1000);      /* settled when the lag ended */
	/* 4 -> 10: either may be in force meanwhile, the looser counts */
	assert_int_equal(esm_scale(&e, uuid, 10, code, sizeof code), 202);
	assert_int_equal(fake_lambda_limit_history(e.f, "fn-l", &h), 4);
	assert_int_equal(h[3].bound, 10);
	fake_advance_ms(e.f, 1000);
	/* no MaximumConcurrency: the reservation bounds it */
	assert_int_equal(esm_scale(&e, uuid, 0, code, sizeof code), 202);
	fake_advance_ms(e.f, 1000);
	assert_int_equal(fake_lambda_limit_history(e.f, "fn-l", &h), 7);
	assert_int_equal(h[6].bound, 50);
	/* without the reservation: unlimited */
	struct aws_call c = { 0 };
	lambda_delete_function_concurrency(&c, "fn-l");
	cJSON_Delete(run(&e, &c, &st, code, sizeof code));
	assert_int_equal(fake_lambda_max_bound(e.f, "fn-l"), -1);
	/* disabled: the old end stays in force until Disabling ends */
	assert_int_equal(esm_update(&e, uuid, "Enabled", 0, code, sizeof code), 202);
	assert_string_equal(esm_state(&e, uuid, msg, sizeof msg), "Disabling");
	size_t n = fake_lambda_limit_history(e.f, "fn-l", &h);
	assert_int_equal(h[n - 1].bound, -1);
	fake_advance_ms(e.f, 1000);
	n = fake_lambda_limit_history(e.f, "fn-l", &h);
	assert_int_equal(h[n - 1].bound, 0);
	teardown(&e);
}

/* ---- the contract with the AWS-faithful layer ---- */

static cJSON *at_path(cJSON *doc, const char *path)
{
	char copy[256], *save = NULL;
	snprintf(copy, sizeof copy, "%s", path);
	cJSON *cur = doc;
	for (char *part = strtok_r(copy, ".", &save); part && cur; part = strtok_r(NULL, ".", &save)) {
		if (cJSON_IsArray(cur) && part[0] >= '0' && part[0] <= '9')
			cur = cJSON_GetArrayItem(cur, atoi(part));
		else if (cJSON_IsObject(cur))
			cur = cJSON_GetObjectItemCaseSensitive(cur, part);
		else
			cur = NULL;
	}
	return cur;
}

/* tests/fake/contract_lambda.json through the fake: every step answered as
 * the layer answered it (test_fake_lambda_contract.py checks the layer still does). */
static void test_contract_with_awsmodel(void **state)
{
	(void)state;
	FILE *fh = fopen("tests/fake/contract_lambda.json", "rb");
	assert_non_null(fh);                         /* run from the top of the tree */
	buf text = { 0 };
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, fh)) > 0)
		buf_add(&text, chunk, n);
	fclose(fh);
	cJSON *script = cJSON_Parse(buf_str(&text));
	buf_free(&text);
	assert_non_null(script);
	const cJSON *steps = cJSON_GetObjectItem(script, "steps"), *expect = cJSON_GetObjectItem(script, "expect");
	assert_int_equal(cJSON_GetArraySize(steps), cJSON_GetArraySize(expect));

	struct fake_options o = { .lag_ms = 1000, .esm_any_queue = 1 };   /* a wait: 1.5 transitions */
	struct fake *f = fake_new(&o);
	fake_use_clock(f);
	setenv("AWS_ENDPOINT_URL", "http://fake.invalid", 1);
	struct aws_options ao = { .region = str(script, "region"), .seed = 1, .lambda_rps = -1,
				  .lambda_get_rps = -1, .max_attempts = 1 };   /* no retry moves the clock */
	struct aws *a = NULL;
	tp_err err = { 0 };
	assert_int_equal(aws_new(&ao, &a, &err), TP_OK);
	fake_attach(f, a);
	char uuid[64] = "none";
	for (int i = 0; i < cJSON_GetArraySize(steps); i++) {
		const cJSON *step = cJSON_GetArrayItem(steps, i), *want = cJSON_GetArrayItem(expect, i);
		const char *note = str(step, "note") ? str(step, "note") : "wait";
		if (cJSON_GetObjectItem(step, "wait")) {
			fake_advance_ms(f, (int64_t)(cJSON_GetObjectItem(step, "wait")->valuedouble * 1000));
			continue;
		}
		char path[512];
		const char *p = str(step, "path"), *u = strstr(p, "$UUID");
		if (u)
			snprintf(path, sizeof path, "%.*s%s%s", (int)(u - p), p, uuid, u + 5);
		else
			snprintf(path, sizeof path, "%s", p);
		char *body = cJSON_GetObjectItem(step, "body") ? cJSON_PrintUnformatted(cJSON_GetObjectItem(step, "body")) : NULL;
		struct aws_call c = { .service = SVC_LAMBDA, .op = "Contract", .method = str(step, "method"),
				      .path = path, .query = str(step, "query"), .body = body,
				      .body_len = body ? strlen(body) : 0 };
		aws_call_one(a, &c);
		free(body);
		cJSON *doc = c.resp.len ? cJSON_Parse(buf_str(&c.resp)) : NULL;
		long status = cJSON_GetObjectItem(step, "aws_status") ?
			(long)cJSON_GetObjectItem(step, "aws_status")->valuedouble :
			(long)cJSON_GetObjectItem(want, "status")->valuedouble;
		const char *code = str(want, "code");
		if (c.status != status || (code && (c.rc == TP_OK || strcmp(c.err.code, code) != 0)) ||
		    (!code && c.rc != TP_OK))
			fail_msg("step %d (%s): %ld %s, the layer %ld %s", i, note, c.status,
				 c.rc == TP_OK ? "" : c.err.code, status, code ? code : "");
		const cJSON *kv;
		cJSON_ArrayForEach(kv, cJSON_GetObjectItem(want, "fields")) {
			cJSON *have = at_path(doc, kv->string), *null = cJSON_CreateNull();
			if (!cJSON_Compare(have ? have : null, kv, 1)) {
				char *h = have ? cJSON_PrintUnformatted(have) : NULL, *w = cJSON_PrintUnformatted(kv);
				fprintf(stderr, "step %d (%s): %s is %s, the layer's %s\n", i, note, kv->string,
					h ? h : "absent", w);
				free(h);
				free(w);
				cJSON_Delete(null);
				fail();
			}
			cJSON_Delete(null);
		}
		const char *cap = str(step, "capture");
		if (cap && str(doc, cap))
			snprintf(uuid, sizeof uuid, "%s", str(doc, cap));
		cJSON_Delete(doc);
		aws_call_free(&c);
	}
	cJSON_Delete(script);
	aws_free(a);
	fake_free(f);
}

/* ---- the indexes ---- */

/* The hash map against a plain array under random puts, deletes and gets
 * (deletion shifts entries back: a wrong shift loses keys). */
static void test_index_map_random(void **state)
{
	(void)state;
	enum { KEYS = 3000 };
	static char names[KEYS][16];
	static int present[KEYS];
	struct lmap m = { 0 };
	uint64_t x = 88172645463325252ULL;
	for (int i = 0; i < KEYS; i++) {
		snprintf(names[i], sizeof names[i], "fn-%d", i);
		present[i] = 0;
	}
	for (int step = 0; step < 60000; step++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		int k = (int)(x % KEYS), op = (int)((x >> 20) % 3);
		if (op == 0) {
			lmap_put(&m, names[k], names[k]);
			present[k] = 1;
		} else if (op == 1) {
			lmap_del(&m, names[k]);
			present[k] = 0;
		}
		if (step % 997 == 0) {
			size_t n = 0;
			for (int i = 0; i < KEYS; i++) {
				n += present[i];
				assert_ptr_equal(lmap_get(&m, names[i]), present[i] ? names[i] : NULL);
			}
			assert_int_equal(m.n, n);
		}
	}
	lmap_free(&m);
	/* markers: round trip, and foreign text refused */
	char mk[32];
	lmarker_of(123456, mk);
	assert_int_equal(lmarker_seq(mk), 123456);
	assert_int_equal(lmarker_seq("awsmodel:5"), -1);
	assert_int_equal(lmarker_seq("fkzz"), -1);
	assert_int_equal(lmarker_seq(""), -1);
}

/* ---- quotas ---- */

static void test_quota_throttles_the_control_plane(void **state)
{
	(void)state;
	struct fake_options o = { .quotas = 1, .latency_ms = 10 };
	struct fake *f = fake_new(&o);
	fake_use_clock(f);
	struct aws *a = client_rps(f, -1);           /* a client that does not meter itself */
	struct aws_call c[30];
	for (int i = 0; i < 30; i++) {
		c[i] = (struct aws_call){ 0 };
		lambda_get_account_settings(&c[i]);
	}
	aws_call_many(a, c, 30);
	int ok = 0;
	for (int i = 0; i < 30; i++) {
		ok += c[i].status == 200;
		aws_call_free(&c[i]);
	}
	/* 15 at once, then 15/s: the 30th no sooner than ~1 s in, some answered
	 * 429 and retried after their Retry-After until all 30 went through */
	long throttled = fake_throttled(f, "lambda", "GetAccountSettings");
	fprintf(stderr, "30 at once, unmetered client: %ld throttled, %lld ms simulated\n", throttled,
		(long long)fake_elapsed_ms(f));
	assert_true(throttled > 0);
	assert_true(fake_elapsed_ms(f) >= 950);
	assert_int_equal(ok, 30);
	assert_int_equal(fake_count(f, "lambda", "GetAccountSettings"), 30 + throttled);
	aws_free(a);
	fake_free(f);

	/* taskpipe's own client meters 15/s itself: few or no throttles */
	f = fake_new(&o);
	fake_use_clock(f);
	a = client_rps(f, 0);
	for (int i = 0; i < 30; i++) {
		c[i] = (struct aws_call){ 0 };
		lambda_get_account_settings(&c[i]);
	}
	assert_int_equal(aws_call_many(a, c, 30), TP_OK);
	for (int i = 0; i < 30; i++)
		aws_call_free(&c[i]);
	fprintf(stderr, "30 at once, taskpipe's 15/s client: %ld throttled, %lld ms simulated\n",
		fake_throttled(f, "lambda", NULL), (long long)fake_elapsed_ms(f));
	assert_true(fake_throttled(f, "lambda", NULL) <= 2);
	assert_true(fake_elapsed_ms(f) >= 950);
	aws_free(a);
	fake_free(f);
}

static void test_get_function_has_its_own_quota(void **state)
{
	(void)state;
	struct fake_options o = { .quotas = 1, .latency_ms = 10 };
	struct fake *f = fake_new(&o);
	fake_use_clock(f);
	struct env e = { f, client_rps(f, -1) };
	char code[64];
	assert_int_equal(create(&e, "fn-g", code, sizeof code), 201);
	/* 60 GetFunction at once: within its burst of 100, none throttled */
	struct aws_call c[60];
	for (int i = 0; i < 60; i++) {
		c[i] = (struct aws_call){ 0 };
		lambda_get_function(&c[i], "fn-g", NULL);
	}
	assert_int_equal(aws_call_many(e.a, c, 60), TP_OK);
	for (int i = 0; i < 60; i++)
		aws_call_free(&c[i]);
	assert_int_equal(fake_throttled(f, "lambda", "GetFunction"), 0);
	teardown(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_function_lifecycle),
		cmocka_unit_test(test_bad_requests_are_errors),
		cmocka_unit_test(test_states_with_lag),
		cmocka_unit_test(test_list_functions_pages),
		cmocka_unit_test(test_concurrency_pool),
		cmocka_unit_test(test_tags),
		cmocka_unit_test(test_tagged_functions_for_the_tagging_api),
		cmocka_unit_test(test_blocked_runtimes),
		cmocka_unit_test(test_code_from_the_fake_s3),
		cmocka_unit_test(test_mapping_states),
		cmocka_unit_test(test_mapping_needs_the_queue),
		cmocka_unit_test(test_mapping_on_a_fake_sqs_queue),
		cmocka_unit_test(test_mapping_lists),
		cmocka_unit_test(test_failures_on_request),
		cmocka_unit_test(test_limit_history),
		cmocka_unit_test(test_contract_with_awsmodel),
		cmocka_unit_test(test_index_map_random),
		cmocka_unit_test(test_quota_throttles_the_control_plane),
		cmocka_unit_test(test_get_function_has_its_own_quota),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
