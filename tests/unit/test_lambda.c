/* test_lambda.c: Lambda's request builders (aws/lambda.c): paths with
 * names that need escaping, qualifiers, queries, bodies; and the readers
 * of a FunctionConfiguration and a page marker. No I/O. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "aws/lambda.h"

/* c's body parsed, compared with want (JSON text). */
static void body_is(const struct aws_call *c, const char *want)
{
	cJSON *got = cJSON_ParseWithLength(c->body, c->body_len), *w = cJSON_Parse(want);
	assert_non_null(got);
	assert_non_null(w);
	if (!cJSON_Compare(got, w, 1))
		fail_msg("body %.*s, want %s", (int)c->body_len, c->body, want);
	cJSON_Delete(got);
	cJSON_Delete(w);
}

/* c's body byte for byte (key order, number formatting) against want. */
static void body_exact(const struct aws_call *c, const char *want)
{
	assert_int_equal(c->body_len, strlen(want));
	if (strcmp(c->body, want) != 0)
		fail_msg("body\n  got  %s\n  want %s", c->body, want);
}

static void call_is(const struct aws_call *c, const char *op, const char *method, const char *path,
		    const char *query)
{
	assert_int_equal(c->service, SVC_LAMBDA);
	assert_string_equal(c->op, op);
	assert_string_equal(c->method, method);
	assert_string_equal(c->path, path);
	if (query)
		assert_string_equal(c->query, query);
	else
		assert_true(!c->query || !c->query[0]);
}

static void test_function_paths(void **state)
{
	(void)state;
	struct aws_call c;
	lambda_get_function(&c, "tp-orders", NULL);
	call_is(&c, "GetFunction", "GET", "/2015-03-31/functions/tp-orders", NULL);
	assert_null(c.body);
	aws_call_free(&c);
	/* an ARN's ':' and a qualifier's '$' are escaped */
	lambda_get_function(&c, "arn:aws:lambda:us-east-1:123456789012:function:f", "$LATEST");
	call_is(&c, "GetFunction", "GET",
		"/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Af",
		"Qualifier=%24LATEST");
	aws_call_free(&c);
	/* a '/' or a space in a name cannot leave its path segment */
	lambda_get_function_configuration(&c, "a b/c", "live");
	call_is(&c, "GetFunctionConfiguration", "GET", "/2015-03-31/functions/a%20b%2Fc/configuration",
		"Qualifier=live");
	aws_call_free(&c);
	lambda_delete_function(&c, "f");
	call_is(&c, "DeleteFunction", "DELETE", "/2015-03-31/functions/f", NULL);
	aws_call_free(&c);
	lambda_publish_version(&c, "f", "abc=");
	call_is(&c, "PublishVersion", "POST", "/2015-03-31/functions/f/versions", NULL);
	body_is(&c, "{\"CodeSha256\":\"abc=\"}");
	aws_call_free(&c);
	cJSON *in = cJSON_Parse("{\"FunctionName\":\"f\",\"Runtime\":\"provided.al2023\"}");
	lambda_create_function(&c, in);
	call_is(&c, "CreateFunction", "POST", "/2015-03-31/functions", NULL);
	body_is(&c, "{\"FunctionName\":\"f\",\"Runtime\":\"provided.al2023\"}");
	aws_call_free(&c);
	lambda_update_function_configuration(&c, "f", cJSON_Parse("{\"Timeout\":30}"));
	call_is(&c, "UpdateFunctionConfiguration", "PUT", "/2015-03-31/functions/f/configuration", NULL);
	body_is(&c, "{\"Timeout\":30}");
	aws_call_free(&c);
}

static void test_update_code(void **state)
{
	(void)state;
	struct aws_call c;
	const struct lambda_code full = { .bucket = "b", .key = "dir/code.zip", .version = "v1",
					  .storage = LAMBDA_STORAGE_REFERENCE, .revision_id = "rev-1" };
	lambda_update_function_code(&c, "f", lambda_code_body(&full));
	call_is(&c, "UpdateFunctionCode", "PUT", "/2015-03-31/functions/f/code", NULL);
	body_is(&c, "{\"S3Bucket\":\"b\",\"S3Key\":\"dir/code.zip\",\"S3ObjectVersion\":\"v1\","
		    "\"S3ObjectStorageMode\":\"REFERENCE\",\"RevisionId\":\"rev-1\"}");
	aws_call_free(&c);
	/* no version, COPY, no revision known (""): none of them sent */
	const struct lambda_code bare = { .bucket = "b", .key = "k", .revision_id = "" };
	lambda_update_function_code(&c, "f", lambda_code_body(&bare));
	body_is(&c, "{\"S3Bucket\":\"b\",\"S3Key\":\"k\"}");
	aws_call_free(&c);
}

/* The configuration reconcile sends, from typed fields: integers without a
 * fraction, Environment always (empty: {} clears the variables), Layers
 * only when set or to be cleared. */
static void test_function_config_body(void **state)
{
	(void)state;
	const struct lambda_var env[] = { { "A", "1" }, { "Q\"", "x\ny" } };
	static const char *const layers[] = { "arn:aws:lambda:us-east-1:1:layer:tp:3" };
	struct lambda_function_config cfg = {
		.runtime = "provided.al2023", .handler = "bootstrap", .memory = 512, .timeout = 30,
		.role = "arn:aws:iam::1:role/r", .description = "taskpipe code s3://b/k#v1",
		.env = env, .n_env = 2, .layers = layers, .n_layers = 1,
	};
	struct aws_call c;
	lambda_update_function_configuration(&c, "f", lambda_function_config_body(&cfg));
	call_is(&c, "UpdateFunctionConfiguration", "PUT", "/2015-03-31/functions/f/configuration", NULL);
	body_exact(&c, "{\"Runtime\":\"provided.al2023\",\"Handler\":\"bootstrap\",\"MemorySize\":512,"
		       "\"Timeout\":30,\"Role\":\"arn:aws:iam::1:role/r\",\"Description\":\"taskpipe code s3://b/k#v1\","
		       "\"Environment\":{\"Variables\":{\"A\":\"1\",\"Q\\\"\":\"x\\ny\"}},"
		       "\"Layers\":[\"arn:aws:lambda:us-east-1:1:layer:tp:3\"]}");
	aws_call_free(&c);

	/* nothing set: only the (empty) Environment; no layers but the function has some: [] */
	struct lambda_function_config none = { .memory = -1, .timeout = -1 };
	lambda_update_function_configuration(&c, "f", lambda_function_config_body(&none));
	body_exact(&c, "{\"Environment\":{\"Variables\":{}}}");
	aws_call_free(&c);
	none.clear_layers = 1;
	lambda_update_function_configuration(&c, "f", lambda_function_config_body(&none));
	body_exact(&c, "{\"Environment\":{\"Variables\":{}},\"Layers\":[]}");
	aws_call_free(&c);
	/* 0 is a value, not "unset" */
	struct lambda_function_config zero = { .memory = -1, .timeout = 0 };
	lambda_update_function_configuration(&c, "f", lambda_function_config_body(&zero));
	body_exact(&c, "{\"Timeout\":0,\"Environment\":{\"Variables\":{}}}");
	aws_call_free(&c);
}

/* CreateFunction: the configuration, then FunctionName, Code (without
 * Architectures or RevisionId), Architectures at the top, Tags. */
static void test_create_function_body(void **state)
{
	(void)state;
	const struct lambda_function_config cfg = { .handler = "h", .memory = 128, .timeout = -1,
						    .description = "d" };
	const struct lambda_code code = { .bucket = "b", .key = "k", .version = "v9",
					  .storage = LAMBDA_STORAGE_COPY, .arch = "arm64", .revision_id = "r" };
	cJSON *tags = cJSON_CreateObject();
	cJSON_AddStringToObject(tags, "taskpipe:owner", "o");
	struct aws_call c;
	lambda_create_function(&c, lambda_create_function_body("tp-f", &cfg, &code, tags));
	call_is(&c, "CreateFunction", "POST", "/2015-03-31/functions", NULL);
	body_exact(&c, "{\"Handler\":\"h\",\"MemorySize\":128,\"Description\":\"d\","
		       "\"Environment\":{\"Variables\":{}},\"FunctionName\":\"tp-f\","
		       "\"Code\":{\"S3Bucket\":\"b\",\"S3Key\":\"k\",\"S3ObjectVersion\":\"v9\","
		       "\"S3ObjectStorageMode\":\"COPY\"},\"Architectures\":[\"arm64\"],"
		       "\"Tags\":{\"taskpipe:owner\":\"o\"}}");
	aws_call_free(&c);
	/* no architecture, storage or tags: left out */
	const struct lambda_code bare = { .bucket = "b", .key = "k" };
	lambda_create_function(&c, lambda_create_function_body("tp-f", &cfg, &bare, NULL));
	body_exact(&c, "{\"Handler\":\"h\",\"MemorySize\":128,\"Description\":\"d\","
		       "\"Environment\":{\"Variables\":{}},\"FunctionName\":\"tp-f\","
		       "\"Code\":{\"S3Bucket\":\"b\",\"S3Key\":\"k\"}}");
	aws_call_free(&c);
	/* UpdateFunctionCode carries Architectures with the code */
	lambda_update_function_code(&c, "tp-f", lambda_code_body(&code));
	body_exact(&c, "{\"S3Bucket\":\"b\",\"S3Key\":\"k\",\"S3ObjectVersion\":\"v9\","
		       "\"S3ObjectStorageMode\":\"COPY\",\"Architectures\":[\"arm64\"],\"RevisionId\":\"r\"}");
	aws_call_free(&c);
}

/* A mapping's fields: create (EventSourceArn) and update bodies, the
 * unset fields left out, ScalingConfig {} to remove the limit. */
static void test_mapping_body(void **state)
{
	(void)state;
	struct aws_call c;
	const struct lambda_mapping all = { .batch_size = 10, .enabled = 1, .report_failures = 1, .window = 0,
					    .scaling = 1, .max_concurrency = 5 };
	lambda_create_event_source_mapping(&c, lambda_mapping_body(&all, "tp-f", "arn:aws:sqs:us-east-1:1:tp-q"));
	call_is(&c, "CreateEventSourceMapping", "POST", "/2015-03-31/event-source-mappings/", NULL);
	body_exact(&c, "{\"BatchSize\":10,\"Enabled\":true,\"FunctionResponseTypes\":[\"ReportBatchItemFailures\"],"
		       "\"MaximumBatchingWindowInSeconds\":0,\"ScalingConfig\":{\"MaximumConcurrency\":5},"
		       "\"EventSourceArn\":\"arn:aws:sqs:us-east-1:1:tp-q\",\"FunctionName\":\"tp-f\"}");
	aws_call_free(&c);

	struct lambda_mapping m = LAMBDA_MAPPING_INIT;
	assert_true(lambda_mapping_empty(&m));
	lambda_create_event_source_mapping(&c, lambda_mapping_body(&m, "tp-f", "arn:q"));
	body_exact(&c, "{\"EventSourceArn\":\"arn:q\",\"FunctionName\":\"tp-f\"}");
	aws_call_free(&c);

	m.enabled = 0;
	m.report_failures = 0;
	m.scaling = 1;   /* max_concurrency 0: the limit removed */
	assert_false(lambda_mapping_empty(&m));
	lambda_update_event_source_mapping(&c, "u-1", lambda_mapping_body(&m, "tp-f", NULL));
	call_is(&c, "UpdateEventSourceMapping", "PUT", "/2015-03-31/event-source-mappings/u-1", NULL);
	body_exact(&c, "{\"Enabled\":false,\"FunctionResponseTypes\":[],\"ScalingConfig\":{},"
		       "\"FunctionName\":\"tp-f\"}");
	aws_call_free(&c);
}

static void test_lists(void **state)
{
	(void)state;
	struct aws_call c;
	lambda_list_functions(&c, NULL, 50);
	call_is(&c, "ListFunctions", "GET", "/2015-03-31/functions/", "MaxItems=50");
	aws_call_free(&c);
	lambda_list_functions(&c, "a+b=/c", 50);
	call_is(&c, "ListFunctions", "GET", "/2015-03-31/functions/", "MaxItems=50&Marker=a%2Bb%3D%2Fc");
	aws_call_free(&c);
	lambda_list_functions(&c, NULL, 0);
	call_is(&c, "ListFunctions", "GET", "/2015-03-31/functions/", NULL);
	aws_call_free(&c);
	lambda_list_event_source_mappings(&c, "tp-orders", NULL, 0);
	call_is(&c, "ListEventSourceMappings", "GET", "/2015-03-31/event-source-mappings/",
		"FunctionName=tp-orders");
	aws_call_free(&c);
	lambda_list_event_source_mappings(&c, NULL, "m1", 100);
	call_is(&c, "ListEventSourceMappings", "GET", "/2015-03-31/event-source-mappings/",
		"MaxItems=100&Marker=m1");
	aws_call_free(&c);
}

static void test_mappings(void **state)
{
	(void)state;
	struct aws_call c;
	const char *uuid = "14e0db71-5d35-4eb5-b481-8945cf9d10c2";
	lambda_get_event_source_mapping(&c, uuid);
	call_is(&c, "GetEventSourceMapping", "GET",
		"/2015-03-31/event-source-mappings/14e0db71-5d35-4eb5-b481-8945cf9d10c2", NULL);
	aws_call_free(&c);
	lambda_update_event_source_mapping(&c, uuid, cJSON_Parse("{\"BatchSize\":10}"));
	call_is(&c, "UpdateEventSourceMapping", "PUT",
		"/2015-03-31/event-source-mappings/14e0db71-5d35-4eb5-b481-8945cf9d10c2", NULL);
	body_is(&c, "{\"BatchSize\":10}");
	aws_call_free(&c);
	lambda_delete_event_source_mapping(&c, uuid);
	call_is(&c, "DeleteEventSourceMapping", "DELETE",
		"/2015-03-31/event-source-mappings/14e0db71-5d35-4eb5-b481-8945cf9d10c2", NULL);
	aws_call_free(&c);
	lambda_create_event_source_mapping(&c, cJSON_Parse("{\"FunctionName\":\"f\"}"));
	call_is(&c, "CreateEventSourceMapping", "POST", "/2015-03-31/event-source-mappings/", NULL);
	body_is(&c, "{\"FunctionName\":\"f\"}");
	aws_call_free(&c);
}

static void test_concurrency_tags_account(void **state)
{
	(void)state;
	struct aws_call c;
	lambda_put_function_concurrency(&c, "f", 5);
	call_is(&c, "PutFunctionConcurrency", "PUT", "/2017-10-31/functions/f/concurrency", NULL);
	body_is(&c, "{\"ReservedConcurrentExecutions\":5}");
	aws_call_free(&c);
	lambda_delete_function_concurrency(&c, "f");
	call_is(&c, "DeleteFunctionConcurrency", "DELETE", "/2017-10-31/functions/f/concurrency", NULL);
	aws_call_free(&c);
	const char *arn = "arn:aws:lambda:us-east-1:1:function:f";
	lambda_tag_resource(&c, arn, cJSON_Parse("{\"team\":\"a b\"}"));
	call_is(&c, "TagResource", "POST", "/2017-03-31/tags/arn%3Aaws%3Alambda%3Aus-east-1%3A1%3Afunction%3Af",
		NULL);
	body_is(&c, "{\"Tags\":{\"team\":\"a b\"}}");
	aws_call_free(&c);
	cJSON *keys = cJSON_Parse("[\"team\",\"cost center\"]");
	lambda_untag_resource(&c, arn, keys);
	call_is(&c, "UntagResource", "DELETE",
		"/2017-03-31/tags/arn%3Aaws%3Alambda%3Aus-east-1%3A1%3Afunction%3Af",
		"tagKeys=team&tagKeys=cost%20center");
	assert_null(c.body);
	aws_call_free(&c);
	cJSON_Delete(keys);
	lambda_list_tags(&c, arn);
	call_is(&c, "ListTags", "GET", "/2017-03-31/tags/arn%3Aaws%3Alambda%3Aus-east-1%3A1%3Afunction%3Af",
		NULL);
	aws_call_free(&c);
	lambda_get_account_settings(&c);
	call_is(&c, "GetAccountSettings", "GET", "/2016-08-19/account-settings/", NULL);
	aws_call_free(&c);
}

static void test_config_read(void **state)
{
	(void)state;
	struct lambda_config lc;
	cJSON *cfg = cJSON_Parse("{\"FunctionName\":\"f\",\"CodeSha256\":\"s=\",\"RevisionId\":\"r\","
				 "\"State\":\"Active\",\"LastUpdateStatus\":\"InProgress\","
				 "\"PackageType\":\"Zip\",\"Description\":\"d\"}");
	lambda_config_read(cfg, &lc);
	assert_string_equal(lc.name, "f");
	assert_string_equal(lc.code_sha, "s=");
	assert_string_equal(lc.revision_id, "r");
	assert_true(lc.busy);
	assert_false(lc.failed);
	assert_false(lc.image);
	cJSON_Delete(cfg);
	cfg = cJSON_Parse("{\"State\":\"Failed\",\"StateReasonCode\":\"SubnetOutOfIPAddresses\","
			  "\"PackageType\":\"Image\"}");
	lambda_config_read(cfg, &lc);
	assert_true(lc.failed);
	assert_true(lc.image);
	assert_false(lc.busy);
	assert_string_equal(lc.state_reason_code, "SubnetOutOfIPAddresses");
	assert_string_equal(lc.state_reason, "");
	cJSON_Delete(cfg);
	cfg = cJSON_Parse("{\"State\":\"Pending\"}");
	lambda_config_read(cfg, &lc);
	assert_true(lc.busy);
	cJSON_Delete(cfg);
	lambda_config_read(NULL, &lc);     /* ListFunctions entries lack State: never busy */
	assert_string_equal(lc.name, "");
	assert_false(lc.busy);
	cJSON *page = cJSON_Parse("{\"NextMarker\":\"\"}");
	assert_null(lambda_next_marker(page));
	cJSON_Delete(page);
	page = cJSON_Parse("{\"NextMarker\":\"m2\"}");
	assert_string_equal(lambda_next_marker(page), "m2");
	cJSON_Delete(page);
	assert_null(lambda_next_marker(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_function_paths),
		cmocka_unit_test(test_update_code),
		cmocka_unit_test(test_function_config_body),
		cmocka_unit_test(test_create_function_body),
		cmocka_unit_test(test_mapping_body),
		cmocka_unit_test(test_lists),
		cmocka_unit_test(test_mappings),
		cmocka_unit_test(test_concurrency_tags_account),
		cmocka_unit_test(test_config_read),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
