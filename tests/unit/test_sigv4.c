/* test_sigv4.c: SigV4 against AWS's published test suite (aws-sig-v4-test-suite,
 * AKIDEXAMPLE, 20150830T123600Z, us-east-1, service "service") and the IAM
 * ListUsers example of the AWS docs, plus the rules botocore applies
 * (query sorting, header folding, dot segments) and buffer limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hash.h"
#include "aws/sigv4.h"

#define T_2015 ((time_t)1440938160) /* 20150830T123600Z */
#define EMPTY_HASH "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define HOST "example.amazonaws.com"
#define DATE "20150830T123600Z"

static const struct sigv4_key suite_key = {
	"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "us-east-1", "service", NULL
};

/* Sign and return the signature (static storage). */
static const char *sign(const char *method, const char *path, const char *query,
			const struct sigv4_header *h, size_t n, const char *payload_hash, int s3)
{
	static struct sigv4_result r;
	char scratch[4096];
	struct sigv4_request req = { method, path, query, h, n, payload_hash, s3 };

	memset(&r, 0, sizeof r);
	assert_int_equal(sigv4_sign(&req, &suite_key, T_2015, scratch, sizeof scratch, &r), 0);
	assert_string_equal(r.amz_date, DATE);
	return r.signature;
}

static const struct sigv4_header vanilla[] = { { "Host", HOST }, { "X-Amz-Date", DATE } };

static void test_get_vanilla(void **state)
{
	struct sigv4_request req = { "GET", "/", "", vanilla, 2, EMPTY_HASH, 0 };
	struct sigv4_result r;
	char cr[512], scratch[1024];
	long n = sigv4_canonical_request(&req, cr, sizeof cr);

	assert_string_equal(cr, "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
				"host;x-amz-date\n" EMPTY_HASH);
	assert_int_equal(n, (long)strlen(cr));
	assert_int_equal(sigv4_sign(&req, &suite_key, T_2015, scratch, sizeof scratch, &r), 0);
	assert_string_equal(r.signature, "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
	assert_string_equal(r.authorization,
			    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
			    "SignedHeaders=host;x-amz-date, "
			    "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
	/* lower-case method and NULL query sign the same */
	assert_string_equal(sign("get", "/", NULL, vanilla, 2, EMPTY_HASH, 0),
			    "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
}

static void test_suite_queries(void **state)
{
	assert_string_equal(sign("GET", "/", "Param2=value2&Param1=value1", vanilla, 2, EMPTY_HASH, 0),
			    "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
	assert_string_equal(sign("GET", "/", "Param1=value1", vanilla, 2, EMPTY_HASH, 0),
			    "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb");
	assert_string_equal(sign("GET", "/",
				 "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz="
				 "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
				 vanilla, 2, EMPTY_HASH, 0),
			    "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197");
	assert_string_equal(sign("POST", "/", "Param1=value1", vanilla, 2, EMPTY_HASH, 0),
			    "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11");
}

static void test_suite_post(void **state)
{
	const struct sigv4_header form[] = { { "Content-Type", "application/x-www-form-urlencoded" },
					     { "Host", HOST }, { "X-Amz-Date", DATE } };
	char body_hash[HASH_SHA256_HEX_LEN];

	assert_string_equal(sign("POST", "/", "", vanilla, 2, EMPTY_HASH, 0),
			    "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b");
	hash_sha256_hex("Param1=value1", 13, body_hash);
	assert_string_equal(sign("POST", "/", "", form, 3, body_hash, 0),
			    "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a");
}

static void test_suite_headers(void **state)
{
	const struct sigv4_header dup[] = { { "Host", HOST }, { "My-Header1", "value2" },
					    { "My-Header1", "value2" }, { "My-Header1", "value1" },
					    { "X-Amz-Date", DATE } };
	/* same names, given out of order and in mixed case */
	const struct sigv4_header order[] = { { "my-header1", "value4" }, { "X-Amz-Date", DATE },
					      { "MY-HEADER1", "value1" }, { "Host", HOST },
					      { "My-Header1", "value3" }, { "My-Header1", "value2" } };
	const struct sigv4_header trim[] = { { "Host", HOST }, { "My-Header1", " value1" },
					     { "My-Header2", " \"a   b   c\"" }, { "X-Amz-Date", DATE } };
	struct sigv4_request req = { "GET", "/", "", order, 6, EMPTY_HASH, 0 };
	char cr[512];

	assert_string_equal(sign("GET", "/", "", dup, 5, EMPTY_HASH, 0),
			    "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea");
	assert_string_equal(sign("GET", "/", "", order, 6, EMPTY_HASH, 0),
			    "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01");
	assert_true(sigv4_canonical_request(&req, cr, sizeof cr) > 0);
	assert_non_null(strstr(cr, "\nmy-header1:value4,value1,value3,value2\n"));
	assert_non_null(strstr(cr, "\nhost;my-header1;x-amz-date\n"));
	assert_string_equal(sign("GET", "/", "", trim, 4, EMPTY_HASH, 0),
			    "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736");
}

static void test_suite_paths(void **state)
{
	static const char *to_root[] = { "//", "/./", "/example/..", "/example1/example2/../..", "" };
	size_t i;

	for (i = 0; i < sizeof to_root / sizeof *to_root; i++)
		assert_string_equal(sign("GET", to_root[i], "", vanilla, 2, EMPTY_HASH, 0),
				    "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
	assert_string_equal(sign("GET", "//example//", "", vanilla, 2, EMPTY_HASH, 0),
			    "9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84");
	assert_string_equal(sign("GET", "/./example", "", vanilla, 2, EMPTY_HASH, 0),
			    "ef75d96142cf21edca26f06005da7988e4f8dc83a165a80865db7089db637ec5");
	assert_string_equal(sign("GET", "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
				 "", vanilla, 2, EMPTY_HASH, 0),
			    "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f");
	/* The suite encodes these paths once: that is the S3 rule (path as sent). */
	assert_string_equal(sign("GET", "/example%20space/", "", vanilla, 2, EMPTY_HASH, 1),
			    "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741");
	assert_string_equal(sign("GET", "/%E1%88%B4", "", vanilla, 2, EMPTY_HASH, 1),
			    "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85");
}

/* docs.aws.amazon.com, "Create a signed AWS API request", IAM ListUsers */
static void test_iam_list_users(void **state)
{
	const struct sigv4_header h[] = {
		{ "Content-Type", "application/x-www-form-urlencoded; charset=utf-8" },
		{ "Host", "iam.amazonaws.com" }, { "X-Amz-Date", DATE } };
	const struct sigv4_key k = { "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
				     "us-east-1", "iam", NULL };
	struct sigv4_request req = { "GET", "/", "Action=ListUsers&Version=2010-05-08", h, 3, EMPTY_HASH, 0 };
	struct sigv4_result r;
	char cr[512], scratch[1024], hex[HASH_SHA256_HEX_LEN];
	long n = sigv4_canonical_request(&req, cr, sizeof cr);

	assert_true(n > 0);
	assert_string_equal(cr, "GET\n/\nAction=ListUsers&Version=2010-05-08\n"
				"content-type:application/x-www-form-urlencoded; charset=utf-8\n"
				"host:iam.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
				"content-type;host;x-amz-date\n" EMPTY_HASH);
	hash_sha256_hex(cr, (size_t)n, hex);
	assert_string_equal(hex, "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59");
	assert_int_equal(sigv4_sign(&req, &k, T_2015, scratch, sizeof scratch, &r), 0);
	assert_string_equal(r.authorization,
			    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, "
			    "SignedHeaders=content-type;host;x-amz-date, "
			    "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7");
}

/* Every too-small buffer is refused and nothing is written past its end
 * (each buffer is an exact heap allocation, so ASan sees an overrun). */
static void test_buffer_too_small(void **state)
{
	struct sigv4_request req = { "GET", "/a b/../c", "b=2&a=1", vanilla, 2, EMPTY_HASH, 0 };
	char full[512];
	long need = sigv4_canonical_request(&req, full, sizeof full);
	size_t len;

	assert_true(need > 0);
	for (len = 1; len <= (size_t)need + 1; len++) {
		char *b = malloc(len);

		assert_non_null(b);
		if (len <= (size_t)need) {
			assert_int_equal(sigv4_canonical_request(&req, b, len), -1);
		} else {
			assert_int_equal(sigv4_canonical_request(&req, b, len), need);
			assert_string_equal(b, full);
		}
		free(b);
	}
	assert_int_equal(sigv4_canonical_request(&req, full, 0), -1);

	/* sigv4_sign needs the canonical request, its NUL and the string to sign */
	for (len = 1; len < (size_t)need + 200; len++) {
		char *b = malloc(len);
		struct sigv4_result r;
		int rc = sigv4_sign(&req, &suite_key, T_2015, b, len, &r);

		assert_true(rc == 0 || rc == -1);
		if (len <= (size_t)need + 1)
			assert_int_equal(rc, -1);
		free(b);
	}
}

static void test_invalid_input(void **state)
{
	const struct sigv4_header bad[] = { { "Host", NULL } };
	struct sigv4_request req = { "GET", "/", "", vanilla, 2, NULL, 0 };
	char out[512];

	assert_int_equal(sigv4_canonical_request(&req, out, sizeof out), -1); /* no payload hash */
	req.payload_hash = EMPTY_HASH;
	req.method = NULL;
	assert_int_equal(sigv4_canonical_request(&req, out, sizeof out), -1);
	req.method = "GET";
	req.headers = bad;
	req.n_headers = 1;
	assert_int_equal(sigv4_canonical_request(&req, out, sizeof out), -1);
	assert_int_equal(sigv4_canonical_request(NULL, out, sizeof out), -1);
}

static void test_uri_encode(void **state)
{
	char out[128];
	static const char in[] = "a b/\xc3\xbc~-_.!*'();:@&=+$,?#[]%";

	assert_int_equal(sigv4_uri_encode(in, strlen(in), 1, out, sizeof out), 70);
	assert_string_equal(out, "a%20b/%C3%BC~-_.%21%2A%27%28%29%3B%3A%40%26%3D%2B%24%2C%3F%23%5B%5D%25");
	assert_int_equal(sigv4_uri_encode("a/b", 3, 0, out, sizeof out), 5);
	assert_string_equal(out, "a%2Fb");
	assert_int_equal(sigv4_uri_encode("", 0, 0, out, sizeof out), 0);
	assert_string_equal(out, "");
	/* exact fit and one short; a %XX never gets cut in half */
	assert_int_equal(sigv4_uri_encode("ab", 2, 0, out, 3), 2);
	assert_int_equal(sigv4_uri_encode("ab", 2, 0, out, 2), -1);
	assert_int_equal(sigv4_uri_encode(" ", 1, 0, out, 4), 3);
	assert_string_equal(out, "%20");
	assert_int_equal(sigv4_uri_encode(" ", 1, 0, out, 3), -1);
	assert_int_equal(sigv4_uri_encode("x", 1, 0, out, 0), -1);
	/* an embedded NUL byte is data */
	assert_int_equal(sigv4_uri_encode("a\0b", 3, 0, out, sizeof out), 5);
	assert_string_equal(out, "a%00b");
}

/* The line after the method: canonical URI; the one after: the query. */
static void cr_lines(const char *path, const char *query, int s3, char *uri, char *q)
{
	struct sigv4_request req = { "GET", path, query, vanilla, 2, EMPTY_HASH, s3 };
	char cr[1024];
	char *a, *b, *c;

	assert_true(sigv4_canonical_request(&req, cr, sizeof cr) > 0);
	a = strchr(cr, '\n') + 1;
	b = strchr(a, '\n');
	c = strchr(b + 1, '\n');
	memcpy(uri, a, (size_t)(b - a));
	uri[b - a] = '\0';
	memcpy(q, b + 1, (size_t)(c - b - 1));
	q[c - b - 1] = '\0';
}

static void test_query_rules(void **state)
{
	char uri[256], q[256];

	/* repeated keys sort by value; empty keys and values; a bare key gets '=' */
	cr_lines("/", "b=2&a=&a=1&=x&c&a=0", 0, uri, q);
	assert_string_equal(q, "=x&a=&a=0&a=1&b=2&c=");
	/* sorted by (key, value), not by "key=value": "a" < "a-" though '=' > '-' */
	cr_lines("/", "a-=b&a=z", 0, uri, q);
	assert_string_equal(q, "a=z&a-=b");
	/* only the first '=' splits; nothing is re-encoded */
	cr_lines("/", "k=v=w&%20=%2F", 0, uri, q);
	assert_string_equal(q, "%20=%2F&k=v=w");
	cr_lines("/", "&", 0, uri, q);
	assert_string_equal(q, "=&=");
}

static void test_header_folding(void **state)
{
	const struct sigv4_header h[] = { { "Host", HOST }, { "X-Fold", " \t a \t\t b  c \r\n" },
					  { "x-empty", "" }, { "X-FOLD", "   " }, { "x-fold", "d" } };
	struct sigv4_request req = { "GET", "/", "", h, 5, EMPTY_HASH, 0 };
	char cr[512];

	assert_true(sigv4_canonical_request(&req, cr, sizeof cr) > 0);
	assert_string_equal(cr, "GET\n/\n\nhost:example.amazonaws.com\nx-empty:\nx-fold:a b c,,d\n\n"
				"host;x-empty;x-fold\n" EMPTY_HASH);
}

static void test_dot_segments(void **state)
{
	char uri[256], q[256];

	cr_lines("/a/./b/../c%20d/", "", 0, uri, q);
	assert_string_equal(uri, "/a/c%2520d/");
	cr_lines("/a/./b/../c%20d/", "", 1, uri, q); /* S3: as sent */
	assert_string_equal(uri, "/a/./b/../c%20d/");
	cr_lines("/../../x//y/..", "", 0, uri, q);
	assert_string_equal(uri, "/x");
	cr_lines("/a/b/../..//", "", 0, uri, q);
	assert_string_equal(uri, "/");
	cr_lines("/~user/%7E/", "", 0, uri, q);
	assert_string_equal(uri, "/~user/%257E/");
	cr_lines("a/b", "", 0, uri, q); /* relative stays relative, as in botocore */
	assert_string_equal(uri, "a/b");
}

static void test_amz_date(void **state)
{
	char d[17];

	sigv4_amz_date(T_2015, d);
	assert_string_equal(d, "20150830T123600Z");
	sigv4_amz_date(0, d);
	assert_string_equal(d, "19700101T000000Z");
	sigv4_amz_date(951782400, d);
	assert_string_equal(d, "20000229T000000Z");
	sigv4_amz_date((time_t)4102444799LL, d);
	assert_string_equal(d, "20991231T235959Z");
}

/* A secret longer than the HMAC block is hashed as a key; the result must
 * be the plain HMAC over "AWS4" + secret. */
static void test_long_secret(void **state)
{
	char secret[101], ksecret[105], sts[512], scratch[2048], hex[65];
	unsigned char k[32], k2[32];
	struct sigv4_key key = { "AKID", secret, "eu-west-1", "sqs", NULL };
	struct sigv4_request req = { "POST", "/", "", vanilla, 2, EMPTY_HASH, 0 };
	struct sigv4_result r;
	char cr[512];
	long n;

	memset(secret, 'S', 100);
	secret[100] = '\0';
	memcpy(ksecret, "AWS4", 4);
	memcpy(ksecret + 4, secret, 101);
	assert_int_equal(sigv4_sign(&req, &key, T_2015, scratch, sizeof scratch, &r), 0);
	n = sigv4_canonical_request(&req, cr, sizeof cr);
	hash_sha256_hex(cr, (size_t)n, hex);
	snprintf(sts, sizeof sts, "AWS4-HMAC-SHA256\n%s\n20150830/eu-west-1/sqs/aws4_request\n%s", DATE, hex);
	hash_hmac_sha256(ksecret, 104, "20150830", 8, k);
	hash_hmac_sha256(k, 32, "eu-west-1", 9, k2);
	hash_hmac_sha256(k2, 32, "sqs", 3, k);
	hash_hmac_sha256(k, 32, "aws4_request", 12, k2);
	hash_hmac_sha256(k2, 32, sts, strlen(sts), k);
	hash_hex(k, 32, hex);
	assert_string_equal(r.signature, hex);
}

/* The signing-key cache must never serve a key derived from other inputs. */
static void test_key_cache(void **state)
{
	static const char *vanilla_sig = "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";
	struct sigv4_key_cache cache = { 0 };
	struct sigv4_key base = suite_key;
	base.cache = &cache;
	struct sigv4_key k = base;
	struct sigv4_request req = { "GET", "/", "", vanilla, 2, EMPTY_HASH, 0 };
	struct sigv4_result r1, r2;
	char scratch[1024];
	char secret[64];

	assert_string_equal(sign("GET", "/", "", vanilla, 2, EMPTY_HASH, 0), vanilla_sig);
	/* same length secret, one byte different */
	strcpy(secret, suite_key.secret_access_key);
	secret[0] = 'X';
	k.secret_access_key = secret;
	assert_int_equal(sigv4_sign(&req, &k, T_2015, scratch, sizeof scratch, &r1), 0);
	assert_string_not_equal(r1.signature, vanilla_sig);
	k = base;
	k.service = "servicf";
	assert_int_equal(sigv4_sign(&req, &k, T_2015, scratch, sizeof scratch, &r2), 0);
	assert_string_not_equal(r2.signature, vanilla_sig);
	assert_string_not_equal(r2.signature, r1.signature);
	k = base;
	k.region = "us-east-2";
	assert_int_equal(sigv4_sign(&req, &k, T_2015, scratch, sizeof scratch, &r2), 0);
	assert_string_not_equal(r2.signature, vanilla_sig);
	/* the next day: the date is part of the key */
	assert_int_equal(sigv4_sign(&req, &base, T_2015 + 86400, scratch, sizeof scratch, &r2), 0);
	assert_string_not_equal(r2.signature, vanilla_sig);
	assert_string_equal(sign("GET", "/", "", vanilla, 2, EMPTY_HASH, 0), vanilla_sig);
	assert_string_equal(sign("GET", "/", "", vanilla, 2, EMPTY_HASH, 0), vanilla_sig);
	/* and the different secret again gives its own signature again */
	k = base;
	k.secret_access_key = secret;
	assert_int_equal(sigv4_sign(&req, &k, T_2015, scratch, sizeof scratch, &r2), 0);
	assert_string_equal(r2.signature, r1.signature);
	/* a hit gives the uncached signature */
	assert_int_equal(sigv4_sign(&req, &base, T_2015, scratch, sizeof scratch, &r2), 0);
	assert_int_equal(sigv4_sign(&req, &base, T_2015, scratch, sizeof scratch, &r2), 0);
	assert_string_equal(r2.signature, vanilla_sig);
	assert_int_equal(cache.valid, 1);
	sigv4_key_cache_wipe(&cache);
	assert_int_equal(cache.valid, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get_vanilla),
		cmocka_unit_test(test_suite_queries),
		cmocka_unit_test(test_suite_post),
		cmocka_unit_test(test_suite_headers),
		cmocka_unit_test(test_suite_paths),
		cmocka_unit_test(test_iam_list_users),
		cmocka_unit_test(test_buffer_too_small),
		cmocka_unit_test(test_invalid_input),
		cmocka_unit_test(test_uri_encode),
		cmocka_unit_test(test_query_rules),
		cmocka_unit_test(test_header_folding),
		cmocka_unit_test(test_dot_segments),
		cmocka_unit_test(test_amz_date),
		cmocka_unit_test(test_long_secret),
		cmocka_unit_test(test_key_cache),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
