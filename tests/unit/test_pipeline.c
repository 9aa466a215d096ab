/* test_pipeline.c: the desired state (pipeline_desired) and the resource
 * names (names_for), without AWS. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/hash.h"
#include "base/jsonnum.h"
#include "core/names.h"
#include "core/pipeline.h"

static const char SPEC[] =
	"{\"queue\":{\"VisibilityTimeout\":60,\"maxReceiveCount\":5},\"dlq\":{},"
	"\"func\":{\"Runtime\":\"provided.al2023\",\"Handler\":\"bootstrap\",\"MemorySize\":256,"
	"\"Description\":\"ignored\",\"Environment\":{\"Variables\":{\"A\":\"1\"}},"
	"\"Code\":{\"S3Bucket\":\"b\",\"S3Key\":\"k.zip\",\"S3ObjectVersion\":\"v7\"}},"
	"\"mapping\":{\"BatchSize\":10},\"tags\":{\"team\":\"a\",\"n\":3}}";

/* The desired state of a spec given as JSON text, as the policy answers
 * (numbers as Raw nodes). */
static int desired(const struct settings *s, const char *name, const char *text, struct pipeline *p, tp_err *e)
{
	cJSON *answer = jsonnum_parse(text);
	int rc = pipeline_desired(s, name, answer, p, e);
	cJSON_Delete(answer);
	return rc;
}

static struct settings set_of(const char *role)
{
	struct settings s;
	memset(&s, 0, sizeof s);
	s.prefix = "tp-";
	s.owner = "me";
	s.role_arn = role;
	return s;
}

static void test_desired(void **state)
{
	(void)state;
	struct settings s = set_of("arn:aws:iam::1:role/r");
	struct pipeline p;
	tp_err e = { 0 };
	assert_int_equal(desired(&s, "acme", SPEC, &p, &e), TP_OK);
	assert_string_equal(p.nm.queue, "tp-acme");
	assert_string_equal(p.nm.dlq, "tp-acme-dlq");
	assert_string_equal(p.nm.function, "tp-acme");
	assert_string_equal(p.code_marker, "taskpipe code s3://b/k.zip#v7");
	/* tags: user tags as strings, then taskpipe's own */
	cJSON *tags = pipeline_tags_json(&p);
	assert_string_equal(cJSON_GetObjectItem(tags, "team")->valuestring, "a");
	assert_string_equal(cJSON_GetObjectItem(tags, "n")->valuestring, "3");
	assert_string_equal(cJSON_GetObjectItem(tags, "taskpipe:owner")->valuestring, "me");
	assert_string_equal(cJSON_GetObjectItem(tags, "taskpipe:pipeline")->valuestring, "acme");
	assert_int_equal(cJSON_GetArraySize(tags), 4);
	cJSON_Delete(tags);
	/* config: the marker replaces the spec's Description; Role from the settings */
	cJSON *config = pipeline_config_json(&p);
	assert_string_equal(cJSON_GetObjectItem(config, "Description")->valuestring, p.code_marker);
	assert_string_equal(cJSON_GetObjectItem(config, "Role")->valuestring, "arn:aws:iam::1:role/r");
	assert_int_equal(cJSON_GetObjectItem(config, "MemorySize")->valueint, 256);
	assert_null(cJSON_GetObjectItem(config, "Layers"));
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(config, "Environment"),
									"Variables"), "A")->valuestring, "1");
	cJSON_Delete(config);
	/* the state record's tree: numbers as numbers */
	assert_true(cJSON_IsNumber(cJSON_GetObjectItem(cJSON_GetObjectItem(p.tree, "queue"), "VisibilityTimeout")));
	assert_int_equal(strlen(p.hash), 64);
	pipeline_free(&p);
}

static void test_hash(void **state)
{
	(void)state;
	struct settings s = set_of(NULL), s2 = set_of("arn:aws:iam::1:role/r");
	char a[65], b[65], c[65], d[65];
	cJSON *spec = jsonnum_parse(SPEC), *empty = cJSON_CreateObject();
	pipeline_hash(&s, spec, a);
	pipeline_hash(&s, spec, b);
	assert_string_equal(a, b);              /* stable */
	pipeline_hash(&s2, spec, c);
	assert_string_not_equal(a, c);          /* the role shapes resources */
	pipeline_hash(&s, empty, d);
	assert_string_not_equal(a, d);
	s2 = set_of(NULL);
	s2.owner = "other";
	pipeline_hash(&s2, spec, d);
	assert_string_not_equal(a, d);
	cJSON_Delete(spec);
	cJSON_Delete(empty);
}

static void test_errors(void **state)
{
	(void)state;
	struct settings s = set_of(NULL);
	struct pipeline p;
	tp_err e = { 0 };
	assert_true(desired(&s, "x", "{not json", &p, &e) < 0);
	assert_string_equal(e.code, "PolicyError");
	assert_null(p.tree);
	assert_true(desired(&s, "bad name", "{}", &p, &e) < 0);
	assert_string_equal(e.code, "BadName");
	/* a spec without a role: none in the config either */
	assert_int_equal(desired(&s, "x", "{\"func\":{}}", &p, &e), TP_OK);
	assert_null(p.role);
	assert_string_equal(p.code_marker, "taskpipe code s3:///");
	pipeline_free(&p);
}

static void test_names(void **state)
{
	(void)state;
	struct names nm;
	tp_err e = { 0 };
	assert_int_equal(names_for("tp-", "a_b-c", &nm, &e), TP_OK);
	assert_string_equal(nm.dlq, "tp-a_b-c-dlq");
	assert_true(names_for("tp-", "", &nm, &e) < 0);
	assert_true(names_for("tp-", "x.y", &nm, &e) < 0);
	assert_true(names_for("tp-", "x-dlq", &nm, &e) < 0);
	assert_true(names_for("bad prefix", "x", &nm, &e) < 0);
	char longname[201];
	memset(longname, 'a', 200);
	longname[200] = 0;
	assert_int_equal(names_for("tp-", longname, &nm, &e), TP_OK);
	assert_int_equal(strlen(nm.queue), NAMES_QUEUE_MAX);
	assert_int_equal(strlen(nm.dlq), NAMES_QUEUE_MAX);
	assert_int_equal(strlen(nm.function), NAMES_FUNCTION_MAX);
	assert_string_equal(nm.dlq + strlen(nm.dlq) - 4, "-dlq");
	struct names again;
	assert_int_equal(names_for("tp-", longname, &again, &e), TP_OK);
	assert_string_equal(nm.function, again.function);  /* stable */
	longname[199] = 'b';                                /* same head, other name */
	assert_int_equal(names_for("tp-", longname, &again, &e), TP_OK);
	assert_string_not_equal(nm.function, again.function);
	longname[0] = 0;
	char too_long[202];
	memset(too_long, 'a', 201);
	too_long[201] = 0;
	assert_true(names_for("tp-", too_long, &nm, &e) < 0);
}

/* The policy-input hash: member order does not matter; the item, the
 * policy, the host and ctx (all but "now") do; a string's bytes cannot
 * pass for structure. */
static void input_hash(const char *policy, const char *ctx, const char *item, char out[65])
{
	cJSON *c = cJSON_Parse(ctx), *it = cJSON_Parse(item);
	struct hash_sha256_stream run;
	pipeline_input_begin(&run, "taskpipe test", policy, c);
	pipeline_input_hash(&run, it, out);
	cJSON_Delete(c);
	cJSON_Delete(it);
}

static void test_input_hash(void **state)
{
	(void)state;
	const char *ctx = "{\"prefix\":\"tp-\",\"now\":1,\"defaults\":{\"code_key\":\"k\",\"runtime\":\"r\"}}";
	const char *item = "{\"pipeline\":{\"S\":\"a\"},\"memory\":{\"N\":\"256\"}}";
	char h[65], x[65];
	input_hash("p1", ctx, item, h);
	assert_int_equal(strlen(h), 64);
	input_hash("p1", "{\"defaults\":{\"runtime\":\"r\",\"code_key\":\"k\"},\"now\":2,\"prefix\":\"tp-\"}",
		   "{\"memory\":{\"N\":\"256\"},\"pipeline\":{\"S\":\"a\"}}", x);
	assert_string_equal(h, x);                         /* order and now do not count */
	input_hash("p2", ctx, item, x);
	assert_string_not_equal(h, x);                     /* the policy */
	input_hash("p1", "{\"prefix\":\"tp2-\",\"now\":1,\"defaults\":{\"code_key\":\"k\",\"runtime\":\"r\"}}", item, x);
	assert_string_not_equal(h, x);                     /* a setting in ctx */
	input_hash("p1", ctx, "{\"pipeline\":{\"S\":\"a\"},\"memory\":{\"N\":\"512\"}}", x);
	assert_string_not_equal(h, x);                     /* the item */
	input_hash("p1", ctx, "{\"a\":{\"S\":\"x\"},\"b\":{\"S\":\"y\"}}", h);
	input_hash("p1", ctx, "{\"a\":{\"S\":\"x1:k1:b\"}}", x);
	assert_string_not_equal(h, x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_desired),
		cmocka_unit_test(test_hash),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_input_hash),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
