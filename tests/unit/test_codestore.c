/* test_codestore.c: reading S3ObjectStorageMode from a spec and from a
 * FunctionConfiguration, telling a broken Inactive function from an idle
 * one. The runtime table is tests/unit/test_runtimes.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/codestore.h"

static void test_spec_mode(void **state)
{
	(void)state;
	cJSON *ref = cJSON_Parse("{\"Code\":{\"S3Bucket\":\"b\",\"S3Key\":\"k\",\"S3ObjectStorageMode\":\"REFERENCE\"}}");
	cJSON *copy = cJSON_Parse("{\"Code\":{\"S3Bucket\":\"b\",\"S3Key\":\"k\"}}");
	cJSON *odd = cJSON_Parse("{\"Code\":{\"S3ObjectStorageMode\":\"reference\"}}");
	assert_true(codestore_reference(ref));
	assert_false(codestore_reference(copy));
	assert_false(codestore_reference(odd));   /* the API's spelling only */
	assert_false(codestore_reference(NULL));
	cJSON_Delete(ref);
	cJSON_Delete(copy);
	cJSON_Delete(odd);
}

static void test_observed_mode(void **state)
{
	(void)state;
	/* GetFunction answers: Code.ResolvedS3Object for REFERENCE only
	 * (API_ResolvedS3Object); FunctionConfiguration has no mode field. */
	cJSON *r = cJSON_Parse("{\"Configuration\":{},\"Code\":{\"RepositoryType\":\"S3\","
			       "\"ResolvedS3Object\":{\"S3Bucket\":\"b\",\"S3Key\":\"k\",\"S3ObjectVersion\":\"v\"}}}");
	cJSON *c = cJSON_Parse("{\"Configuration\":{},\"Code\":{\"RepositoryType\":\"S3\"}}");
	cJSON *none = cJSON_Parse("{\"Configuration\":{\"S3ObjectStorageMode\":\"REFERENCE\"}}");
	assert_string_equal(codestore_observed(r), "REFERENCE");
	assert_string_equal(codestore_observed(c), "COPY");
	assert_null(codestore_observed(none));    /* no Code: nothing to compare */
	cJSON_Delete(r);
	cJSON_Delete(c);
	cJSON_Delete(none);
}

static void test_inactive(void **state)
{
	(void)state;
	char why[200];
	cJSON *gone = cJSON_Parse("{\"State\":\"Inactive\",\"StateReasonCode\":\"KMSKeyAccessDenied\","
				  "\"StateReason\":\"cannot read\"}");
	cJSON *idle = cJSON_Parse("{\"State\":\"Inactive\",\"StateReasonCode\":\"Idle\"}");
	cJSON *active = cJSON_Parse("{\"State\":\"Active\"}");
	cJSON *bare = cJSON_Parse("{\"State\":\"Inactive\"}");
	assert_true(codestore_inactive(gone, why, sizeof why));
	assert_string_equal(why, "KMSKeyAccessDenied: cannot read");
	assert_false(codestore_inactive(idle, why, sizeof why));
	assert_false(codestore_inactive(active, why, sizeof why));
	assert_false(codestore_inactive(NULL, NULL, 0));
	assert_true(codestore_inactive(bare, why, sizeof why));
	assert_string_equal(why, "(no code): no reason given");
	cJSON_Delete(gone);
	cJSON_Delete(idle);
	cJSON_Delete(active);
	cJSON_Delete(bare);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spec_mode),
		cmocka_unit_test(test_observed_mode),
		cmocka_unit_test(test_inactive),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
