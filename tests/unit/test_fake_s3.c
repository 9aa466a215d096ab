/* test_fake_s3.c: the fake's S3 (tests/fake/fake_s3.c) through taskpipe's
 * client and its S3 builders (aws/s3.h): a versioned code bucket as init
 * makes it, each PutObject a new version, GetObject by version (through a
 * sink, as rollouts read code), HeadObject, ListObjectVersions newest first
 * and in pages, delete markers, S3's XML errors (NoSuchBucket, NoSuchKey,
 * NoSuchVersion), the payload hash check, and fake_s3_object for Lambda. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aws/aws.h"
#include "aws/s3.h"
#include "base/base64.h"
#include "base/hash.h"
#include "base/xml.h"
#include "fake/fake.h"
#include "fake/fake_int.h"

struct env {
	struct fake *f;
	struct aws *a;
};

static int setup_in(void **state, const char *region)
{
	struct env *e = calloc(1, sizeof *e);
	e->f = fake_new(NULL);
	fake_use_clock(e->f);
	struct aws_options o = { .region = region, .seed = 1, .lambda_rps = -1, .lambda_get_rps = -1,
				 .max_attempts = 1 };
	e->a = fake_client(e->f, "AKIDFAKE", &o);
	*state = e;
	return 0;
}

static int setup(void **state) { return setup_in(state, "eu-west-1"); }
static int setup_us(void **state) { return setup_in(state, "us-east-1"); }

static int teardown(void **state)
{
	struct env *e = *state;
	aws_free(e->a);
	fake_free(e->f);
	free(e);
	return 0;
}

/* A REST call: rc; the call kept in c for its answer (caller frees). */
static int rest(struct env *e, struct aws_call *c, const char *op, const char *method, const char *path,
		const char *query, const char *body)
{
	*c = (struct aws_call){ .service = SVC_S3, .op = op, .method = method, .path = path, .query = query,
				.body = body, .body_len = body ? strlen(body) : 0,
				.content_type = body ? "application/octet-stream" : NULL };
	return aws_call_one(e->a, c);
}

static void ok_rest(struct env *e, const char *op, const char *method, const char *path, const char *query,
		    const char *body)
{
	struct aws_call c;
	if (rest(e, &c, op, method, path, query, body) != TP_OK)
		fail_msg("%s %s: %s %s", method, path, c.err.code, c.err.message);
	aws_call_free(&c);
}

/* PutObject: the new version's id into vid. */
static void put(struct env *e, const char *path, const char *body, char vid[64])
{
	struct aws_call c;
	assert_int_equal(rest(e, &c, "PutObject", "PUT", path, NULL, body), TP_OK);
	if (vid)
		assert_true(s3_version_id(&c, vid, 64));
	aws_call_free(&c);
}

/* The versioned bucket init makes (cmd_pipeline.c's ensure_bucket). */
static void code_bucket(struct env *e)
{
	static const char loc[] = "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
				  "<LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>";
	static const char vers[] = "<VersioningConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
				   "<Status>Enabled</Status></VersioningConfiguration>";
	ok_rest(e, "CreateBucket", "PUT", "/code", NULL, loc);
	ok_rest(e, "PutBucketVersioning", "PUT", "/code", "versioning=", vers);
}

struct sink_buf {
	buf b;
	int begun;
};

static void sink_begin(void *ctx) { ((struct sink_buf *)ctx)->begun++; }
static int sink_write(void *ctx, const void *d, size_t n)
{
	buf_add(&((struct sink_buf *)ctx)->b, d, n);
	return 0;
}

static void test_versioned_bucket_and_objects(void **state)
{
	struct env *e = *state;
	struct aws_call c;
	s3_get_bucket_versioning(&c, "code");
	assert_int_equal(aws_call_one(e->a, &c), TP_ENOTFOUND);
	assert_string_equal(c.err.code, "NoSuchBucket");
	aws_call_free(&c);
	assert_true(rest(e, &c, "HeadBucket", "HEAD", "/code", NULL, NULL) < 0);   /* no body: Http404 */
	assert_int_equal(c.status, 404);
	aws_call_free(&c);

	code_bucket(e);
	ok_rest(e, "HeadBucket", "HEAD", "/code", NULL, NULL);
	s3_get_bucket_versioning(&c, "code");
	assert_int_equal(aws_call_one(e->a, &c), TP_OK);
	assert_true(s3_versioning_enabled(&c));
	aws_call_free(&c);
	/* again: 409 BucketAlreadyOwnedByYou outside us-east-1 */
	assert_true(rest(e, &c, "CreateBucket", "PUT", "/code", NULL,
			 "<CreateBucketConfiguration><LocationConstraint>eu-west-1</LocationConstraint>"
			 "</CreateBucketConfiguration>") < 0);
	assert_int_equal(c.status, 409);
	assert_string_equal(c.err.code, "BucketAlreadyOwnedByYou");
	aws_call_free(&c);

	char v1[64], v2[64];
	put(e, "/code/app/code%20v.zip", "first", v1);
	fake_advance_ms(e->f, 1000);
	put(e, "/code/app/code%20v.zip", "second!", v2);
	assert_int_equal(strlen(v1), 32);
	assert_string_not_equal(v1, v2);

	/* the newest, and by version through a sink (as rollouts read code) */
	struct sink_buf sb;
	memset(&sb, 0, sizeof sb);
	struct aws_sink sink = { sink_begin, sink_write, &sb };
	s3_get_object(&c, "code", "app/code v.zip", v1, &sink);
	assert_int_equal(aws_call_one(e->a, &c), TP_OK);
	assert_int_equal(sb.b.len, 5);
	assert_memory_equal(sb.b.data, "first", 5);
	char got[64];
	assert_true(s3_version_id(&c, got, sizeof got));
	assert_string_equal(got, v1);
	aws_call_free(&c);
	buf_free(&sb.b);
	s3_get_object(&c, "code", "app/code v.zip", NULL, NULL);
	assert_int_equal(aws_call_one(e->a, &c), TP_OK);
	assert_string_equal(buf_str(&c.resp), "second!");
	aws_call_free(&c);
	s3_head_object(&c, "code", "app/code v.zip");
	assert_int_equal(aws_call_one(e->a, &c), TP_OK);
	assert_true(s3_version_id(&c, got, sizeof got));
	assert_string_equal(got, v2);
	assert_int_equal(c.resp.len, 0);
	aws_call_free(&c);

	/* errors */
	s3_get_object(&c, "code", "app/none.zip", NULL, NULL);
	assert_int_equal(aws_call_one(e->a, &c), TP_ENOTFOUND);
	assert_string_equal(c.err.code, "NoSuchKey");
	assert_non_null(strstr(buf_str(&c.resp), "<Error><Code>NoSuchKey</Code>"));
	aws_call_free(&c);
	s3_get_object(&c, "code", "app/code v.zip", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", NULL);
	assert_true(aws_call_one(e->a, &c) < 0);
	assert_string_equal(c.err.code, "NoSuchVersion");
	aws_call_free(&c);
	s3_get_object(&c, "code", "app/code v.zip", "short", NULL);
	assert_true(aws_call_one(e->a, &c) < 0);
	assert_string_equal(c.err.code, "InvalidArgument");
	aws_call_free(&c);
	s3_head_object(&c, "code", "app/none.zip");
	assert_true(aws_call_one(e->a, &c) < 0);   /* a HEAD error has no body */
	assert_int_equal(c.status, 404);
	aws_call_free(&c);
	s3_get_object(&c, "nobucket", "k", NULL, NULL);
	assert_int_equal(aws_call_one(e->a, &c), TP_ENOTFOUND);
	assert_string_equal(c.err.code, "NoSuchBucket");
	aws_call_free(&c);
	assert_true(rest(e, &c, "GetObjectAcl", "GET", "/code/app/code%20v.zip", "acl=", NULL) < 0);
	assert_string_equal(c.err.code, "UnknownOperationException");
	aws_call_free(&c);
}

struct versions {
	int n;
	char id[16][64];
	char key[16][64];
	char latest[16][8];
};

static int take_version(void *ctx, const char *inner, size_t len)
{
	struct versions *v = ctx;
	buf b = { 0 };
	xml_text(inner, len, "VersionId", &b);
	snprintf(v->id[v->n], 64, "%s", buf_str(&b));
	xml_text(inner, len, "Key", &b);
	snprintf(v->key[v->n], 64, "%s", buf_str(&b));
	xml_text(inner, len, "IsLatest", &b);
	snprintf(v->latest[v->n], 8, "%s", buf_str(&b));
	buf_free(&b);
	v->n++;
	return 0;
}

static void test_list_versions_newest_first_and_pages(void **state)
{
	struct env *e = *state;
	code_bucket(e);
	char v[4][64];
	for (int i = 0; i < 3; i++)
		put(e, "/code/fn.zip", i == 0 ? "a" : i == 1 ? "bb" : "ccc", v[i]);
	put(e, "/code/other.zip", "x", v[3]);
	struct aws_call c;
	struct versions vs = { 0 };
	s3_list_object_versions(&c, "code", "fn.zip");
	assert_int_equal(aws_call_one(e->a, &c), TP_OK);
	xml_each(c.resp.data, c.resp.len, "Version", take_version, &vs);
	aws_call_free(&c);
	assert_int_equal(vs.n, 3);
	assert_string_equal(vs.id[0], v[2]);
	assert_string_equal(vs.latest[0], "true");
	assert_string_equal(vs.id[2], v[0]);
	assert_string_equal(vs.latest[2], "false");

	/* pages of 2 over everything */
	char kmark[64] = "", vmark[64] = "", q[400];
	int pages = 0, total = 0;
	for (;;) {
		snprintf(q, sizeof q, "versions=&max-keys=2%s%s%s%s", *kmark ? "&key-marker=" : "", kmark,
			 *vmark ? "&version-id-marker=" : "", vmark);
		assert_int_equal(rest(e, &c, "ListObjectVersions", "GET", "/code", q, NULL), TP_OK);
		struct versions p = { 0 };
		xml_each(c.resp.data, c.resp.len, "Version", take_version, &p);
		total += p.n;
		pages++;
		buf t = { 0 };
		xml_text(c.resp.data, c.resp.len, "IsTruncated", &t);
		int more = strcmp(buf_str(&t), "true") == 0;
		xml_text(c.resp.data, c.resp.len, "NextKeyMarker", &t);
		snprintf(kmark, sizeof kmark, "%s", more ? buf_str(&t) : "");
		xml_text(c.resp.data, c.resp.len, "NextVersionIdMarker", &t);
		snprintf(vmark, sizeof vmark, "%s", more ? buf_str(&t) : "");
		buf_free(&t);
		aws_call_free(&c);
		if (!more)
			break;
	}
	assert_int_equal(total, 4);
	assert_int_equal(pages, 2);
	assert_true(rest(e, &c, "ListObjectVersions", "GET", "/code", "versions=&delimiter=/", NULL) < 0);
	assert_string_equal(c.err.code, "InvalidArgument");
	aws_call_free(&c);

	/* a delete marker hides the object; its versions stay readable */
	ok_rest(e, "DeleteObject", "DELETE", "/code/fn.zip", NULL, NULL);
	s3_get_object(&c, "code", "fn.zip", NULL, NULL);
	assert_int_equal(aws_call_one(e->a, &c), TP_ENOTFOUND);
	assert_non_null(strstr(buf_str(&c.resp_headers), "x-amz-delete-marker: true"));
	aws_call_free(&c);
	char sha[45];
	long size = 0;
	assert_false(fake_s3_object(e->f, "code", "fn.zip", NULL, sha, &size));
	assert_true(fake_s3_object(e->f, "code", "fn.zip", v[1], sha, &size));
	assert_int_equal(size, 2);
	/* a version deleted for good is gone */
	snprintf(q, sizeof q, "versionId=%s", v[1]);
	ok_rest(e, "DeleteObject", "DELETE", "/code/fn.zip", q, NULL);
	assert_false(fake_s3_object(e->f, "code", "fn.zip", v[1], sha, &size));
}

static void test_object_hash_for_lambda(void **state)
{
	struct env *e = *state;
	code_bucket(e);
	char v1[64];
	put(e, "/code/k.zip", "zip bytes", v1);
	char sha[45], want[45];
	unsigned char d[HASH_SHA256_LEN];
	hash_sha256("zip bytes", 9, d);
	base64_encode(d, sizeof d, want);
	long size = 0;
	assert_true(fake_s3_object(e->f, "code", "k.zip", NULL, sha, &size));
	assert_string_equal(sha, want);
	assert_int_equal(size, 9);
	assert_true(fake_s3_object(e->f, "code", "k.zip", "", sha, &size));
	assert_true(fake_s3_object(e->f, "code", "k.zip", v1, sha, &size));
	assert_false(fake_s3_object(e->f, "code", "k.zip", "nope", sha, &size));
	assert_false(fake_s3_object(e->f, "code", "none.zip", NULL, sha, &size));
	assert_false(fake_s3_object(e->f, "nobucket", "k.zip", NULL, sha, &size));
}

static int corrupt_hash(void *ctx, const struct fake_req *r, struct http_response *out)
{
	/* the payload hash header names other bytes */
	for (size_t i = 0; i < r->n_headers; i++)
		if (strncasecmp(r->headers[i], "x-amz-content-sha256:", 21) == 0)
			((char *)r->headers[i])[22] ^= 1;
	return 0;
}

static void test_unversioned_bucket_and_hash_check(void **state)
{
	struct env *e = *state;
	/* us-east-1 takes no location constraint, and answers 200 for a bucket you own */
	ok_rest(e, "CreateBucket", "PUT", "/plain", NULL, NULL);
	ok_rest(e, "CreateBucket", "PUT", "/plain", NULL, NULL);
	struct aws_call c;
	assert_true(rest(e, &c, "CreateBucket", "PUT", "/other", NULL,
			 "<CreateBucketConfiguration><LocationConstraint>eu-west-1</LocationConstraint>"
			 "</CreateBucketConfiguration>") < 0);
	assert_string_equal(c.err.code, "IllegalLocationConstraintException");
	aws_call_free(&c);
	assert_true(rest(e, &c, "CreateBucket", "PUT", "/Bad_Name", NULL, NULL) < 0);
	assert_string_equal(c.err.code, "InvalidBucketName");
	aws_call_free(&c);
	s3_get_bucket_versioning(&c, "plain");
	assert_int_equal(aws_call_one(e->a, &c), TP_OK);
	assert_false(s3_versioning_enabled(&c));
	aws_call_free(&c);
	put(e, "/plain/k", "one", NULL);
	put(e, "/plain/k", "two", NULL);
	s3_get_object(&c, "plain", "k", NULL, NULL);
	assert_int_equal(aws_call_one(e->a, &c), TP_OK);
	assert_string_equal(buf_str(&c.resp), "two");
	char vid[64];
	assert_false(s3_version_id(&c, vid, sizeof vid));   /* no version id: unversioned */
	aws_call_free(&c);
	struct versions vs = { 0 };
	s3_list_object_versions(&c, "plain", "k");
	assert_int_equal(aws_call_one(e->a, &c), TP_OK);
	xml_each(c.resp.data, c.resp.len, "Version", take_version, &vs);
	aws_call_free(&c);
	assert_int_equal(vs.n, 1);
	assert_string_equal(vs.id[0], "null");

	fake_set_hook(e->f, corrupt_hash, NULL);
	assert_true(rest(e, &c, "PutObject", "PUT", "/plain/k", NULL, "three") < 0);
	assert_string_equal(c.err.code, "XAmzContentSHA256Mismatch");
	aws_call_free(&c);
	fake_set_hook(e->f, NULL, NULL);
	assert_true(rest(e, &c, "PutBucketVersioning", "PUT", "/plain", "versioning=",
			 "<VersioningConfiguration><Status>On</Status></VersioningConfiguration>") < 0);
	assert_string_equal(c.err.code, "MalformedXML");
	aws_call_free(&c);
}

static void test_slow_down_under_throttling(void **state)
{
	(void)state;
	struct fake_options o = { .throttle_pct = 100 };
	struct env e = { .f = fake_new(&o) };
	fake_use_clock(e.f);
	struct aws_options ao = { .region = "eu-west-1", .seed = 1, .lambda_rps = -1, .lambda_get_rps = -1,
				  .max_attempts = 2 };
	tp_err err = { 0 };
	assert_int_equal(aws_new(&ao, &e.a, &err), TP_OK);
	fake_attach(e.f, e.a);
	struct aws_call c;
	s3_head_object(&c, "code", "k");
	assert_true(aws_call_one(e.a, &c) < 0);
	assert_int_equal(c.status, 503);
	aws_call_free(&c);
	s3_get_bucket_versioning(&c, "code");
	assert_true(aws_call_one(e.a, &c) < 0);
	assert_string_equal(c.err.code, "SlowDown");
	aws_call_free(&c);
	assert_true(fake_throttled(e.f, "s3", NULL) >= 2);
	aws_free(e.a);
	fake_free(e.f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_versioned_bucket_and_objects, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_versions_newest_first_and_pages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_object_hash_for_lambda, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unversioned_bucket_and_hash_check, setup_us, teardown),
		cmocka_unit_test(test_slow_down_under_throttling),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
