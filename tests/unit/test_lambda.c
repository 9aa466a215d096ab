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
					  .reference = 1, .revision_id = "rev-1" };
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
		cmocka_unit_test(test_lists),
		cmocka_unit_test(test_mappings),
		cmocka_unit_test(test_concurrency_tags_account),
		cmocka_unit_test(test_config_read),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
