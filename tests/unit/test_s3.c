/* test_s3.c: S3's request builders and answer readers (aws/s3.c): object
 * paths with keys that need escaping, version queries, headers. No I/O. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "aws/s3.h"

static void test_object_paths(void **state)
{
	(void)state;
	struct aws_call c;
	/* '/' stays a separator; a space, '#' and '+' are escaped */
	s3_get_object(&c, "bkt", "dir/a b#c+d.zip", NULL, NULL);
	assert_int_equal(c.service, SVC_S3);
	assert_string_equal(c.op, "GetObject");
	assert_string_equal(c.method, "GET");
	assert_string_equal(c.path, "/bkt/dir/a%20b%23c%2Bd.zip");
	assert_null(c.query);
	assert_null(c.sink);
	aws_call_free(&c);
	const struct aws_sink sink = { 0 };
	s3_get_object(&c, "bkt", "k.zip", "3/L4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY", &sink);
	assert_string_equal(c.query, "versionId=3%2FL4kqtJlcpXroDTDmJ%2BrmSpXd3dIbrHY");
	assert_ptr_equal(c.sink, &sink);
	aws_call_free(&c);
	s3_head_object(&c, "bkt", "k.zip");
	assert_string_equal(c.op, "HeadObject");
	assert_string_equal(c.method, "HEAD");
	assert_string_equal(c.path, "/bkt/k.zip");
	aws_call_free(&c);
}

static void test_bucket_calls(void **state)
{
	(void)state;
	struct aws_call c;
	s3_get_bucket_versioning(&c, "bkt");
	assert_string_equal(c.op, "GetBucketVersioning");
	assert_string_equal(c.path, "/bkt");
	assert_string_equal(c.query, "versioning=");
	aws_call_free(&c);
	s3_list_object_versions(&c, "bkt", "dir/code v2.zip");
	assert_string_equal(c.op, "ListObjectVersions");
	assert_string_equal(c.path, "/bkt");
	assert_string_equal(c.query, "prefix=dir%2Fcode%20v2.zip&versions=");
	aws_call_free(&c);
}

static void test_answers(void **state)
{
	(void)state;
	struct aws_call c = { 0 };
	char v[64];
	buf_adds(&c.resp_headers, "HTTP/1.1 200 OK\r\nx-amz-version-id: v7\r\n\r\n");
	assert_int_equal(s3_version_id(&c, v, sizeof v), 1);
	assert_string_equal(v, "v7");
	aws_call_free(&c);
	buf_adds(&c.resp_headers, "x-amz-version-id: null\r\n");
	assert_int_equal(s3_version_id(&c, v, sizeof v), 0);  /* unversioned bucket */
	assert_string_equal(v, "");
	aws_call_free(&c);
	buf_adds(&c.resp_headers, "ETag: \"x\"\r\n");
	assert_int_equal(s3_version_id(&c, v, sizeof v), 0);
	assert_string_equal(v, "");
	buf_adds(&c.resp, "<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>");
	assert_true(s3_versioning_enabled(&c));
	aws_call_free(&c);
	buf_adds(&c.resp, "<VersioningConfiguration><Status>Suspended</Status></VersioningConfiguration>");
	assert_false(s3_versioning_enabled(&c));
	aws_call_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_object_paths),
		cmocka_unit_test(test_bucket_calls),
		cmocka_unit_test(test_answers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
