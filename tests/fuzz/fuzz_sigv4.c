/* fuzz_sigv4.c: libFuzzer target for SigV4 canonicalisation and signing
 * (src/aws/sigv4.c). Input (fuzz_fields.h): flags, method, path, query,
 * then header name/value pairs; flags bit 0 selects S3 path rules.
 * Properties: the canonical request is exactly its returned length, the
 * same with a buffer of exactly that size (but for paths normalised in
 * place, see sigv4.h), refused (-1) one byte shorter;
 * it starts with the (upper-cased) method line and has at least six lines; header
 * order does not change it when the names are distinct; signing is deterministic, 64 hex digits, and needs
 * a scratch buffer only as large as the canonical request and a bit.
 * URI encoding keeps only unreserved bytes and %XX. */
#include <stdio.h>
#include <strings.h>

#include "aws/sigv4.h"
#include "fuzz_fields.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_HDR 8

static int names_distinct(const struct sigv4_header *h, size_t n)
{
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			if (strcasecmp(h[i].name, h[j].name) == 0)
				return 0;
	return 1;
}

/* Non-S3 paths normalised in the output buffer: segments before a ".."
 * are written, then dropped; a path without a leading '/' gets one, then
 * loses it. */
static int needs_room(const struct sigv4_request *r)
{
	const char *p = r->path;
	if (r->s3_path || !p[0])
		return 0;
	if (p[0] != '/')
		return 1;
	for (const char *q = p; (q = strstr(q, "..")); q += 2)
		if ((q == p || q[-1] == '/') && (q[2] == '/' || q[2] == 0))
			return 1;
	return 0;
}

static void check_uri_encode(const char *s, size_t n, int keep_slash)
{
	size_t cap = 3 * n + 1;
	char *out = malloc(cap);
	CHECK(out);
	long len = sigv4_uri_encode(s, n, keep_slash, out, cap);
	CHECK(len >= 0 && (size_t)len < cap && out[len] == 0);
	for (long i = 0; i < len; i++) {
		char c = out[i];
		if (c == '%') {
			CHECK(i + 2 < len);
			CHECK(strchr("0123456789ABCDEF", out[i + 1]) && strchr("0123456789ABCDEF", out[i + 2]));
			i += 2;
		} else {
			CHECK((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			      strchr("-_.~", c) || (keep_slash && c == '/'));
		}
	}
	if (len > 0)
		CHECK(sigv4_uri_encode(s, n, keep_slash, out, (size_t)len) == -1);
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fields fs;
	fields_split(&fs, data, size);
	struct sigv4_header h[MAX_HDR], rev[MAX_HDR];
	size_t nh = 0;
	for (int i = 4; i + 1 < FUZZ_MAX_FIELDS && nh < MAX_HDR && i < fs.n; i += 2) {
		h[nh].name = fs.f[i];
		h[nh].value = fs.f[i + 1];
		nh++;
	}
	for (size_t i = 0; i < nh; i++)
		rev[i] = h[nh - 1 - i];
	struct sigv4_request req = {
		.method = fs.f[1], .path = fs.f[2], .query = fs.len[3] ? fs.f[3] : NULL, .headers = h,
		.n_headers = nh, .payload_hash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		.s3_path = fs.len[0] ? fs.f[0][0] & 1 : 0,
	};
	static char out[65536], again[65536];
	long len = sigv4_canonical_request(&req, out, sizeof out);
	if (len >= 0) {
		CHECK((size_t)len < sizeof out && strlen(out) == (size_t)len);
		/* the method line, upper-cased */
		CHECK(strncasecmp(out, req.method, strlen(req.method)) == 0 && out[strlen(req.method)] == '\n');
		int lines = 0;
		for (long i = 0; i < len; i++)
			lines += out[i] == '\n';
		CHECK(lines >= 5);
		/* exactly len + 1 bytes are enough unless the path is rewritten
		 * in place (sigv4.h: ".." segments, no leading '/') */
		long exact = sigv4_canonical_request(&req, again, (size_t)len + 1);
		CHECK(exact == len || (exact == -1 && needs_room(&req)));
		if (exact == len)
			CHECK(memcmp(out, again, (size_t)len + 1) == 0);
		CHECK(sigv4_canonical_request(&req, again, (size_t)len) == -1);
		if (names_distinct(h, nh)) {
			struct sigv4_request r2 = req;
			r2.headers = rev;
			CHECK(sigv4_canonical_request(&r2, again, sizeof again) == len);
			CHECK(memcmp(out, again, (size_t)len + 1) == 0);
		}
		struct sigv4_key key = { "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "us-east-1",
					 "service", NULL };
		static char scratch[65536 + 1024];
		struct sigv4_result a, b;
		if (sigv4_sign(&req, &key, 1440938160, scratch, sizeof scratch, &a) == 0) {
			CHECK(strlen(a.signature) == 64 && strspn(a.signature, "0123456789abcdef") == 64);
			CHECK(sigv4_sign(&req, &key, 1440938160, scratch, sizeof scratch, &b) == 0);
			CHECK(strcmp(a.authorization, b.authorization) == 0);
		}
	}
	check_uri_encode(fs.f[2], fs.len[2], 1);
	check_uri_encode(fs.f[3], fs.len[3], 0);
	fields_free(&fs);
	return 0;
}
