/* cmd_debug_sigv4.c: owns the two SigV4 debug commands: `debug sigv4`, which
 * signs JSON test cases exactly as taskpipe signs real requests (so a test can
 * compare it with botocore), and `debug bench-sigv4`, the signing benchmark. */
#include "cmd/cmd_debug_sigv4.h"

#include "base/base.h"
#include "base/hash.h"
#include "aws/sigv4.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEBUG_MAX_HEADERS 60    /* sigv4.c takes 64; three are added here */
#define DEBUG_MAX_SCRATCH (4u << 20)

/* Append s URI-encoded (sigv4_uri_encode) to b. */
static void add_encoded(buf *b, const char *s, int keep_slash)
{
	size_t n = strlen(s);
	char *tmp = tp_xmalloc(3 * n + 1);
	long len = sigv4_uri_encode(s, n, keep_slash, tmp, 3 * n + 1);

	buf_add(b, tmp, len > 0 ? (size_t)len : 0);
	free(tmp);
}

static const char *str_field(const cJSON *c, const char *name)
{
	const cJSON *f = cJSON_GetObjectItemCaseSensitive(c, name);

	return cJSON_IsString(f) ? f->valuestring : NULL;
}

/* The on-the-wire query: "k=v" pairs, each side encoded, joined with '&'. */
static int build_query(const cJSON *q, buf *out, tp_err *e)
{
	const cJSON *pair;
	int first = 1;

	buf_add(out, "", 0);
	if (!q || cJSON_IsNull(q))
		return 0;
	if (!cJSON_IsArray(q))
		return tp_errf(e, TP_EINVAL, NULL, "query must be a list of [key, value]");
	cJSON_ArrayForEach(pair, q) {
		const cJSON *k = cJSON_GetArrayItem(pair, 0), *v = cJSON_GetArrayItem(pair, 1);

		if (!cJSON_IsArray(pair) || !cJSON_IsString(k) || !cJSON_IsString(v))
			return tp_errf(e, TP_EINVAL, NULL, "query pair must be [string, string]");
		if (!first)
			buf_addc(out, '&');
		first = 0;
		add_encoded(out, k->valuestring, 0);
		buf_addc(out, '=');
		add_encoded(out, v->valuestring, 0);
	}
	return 0;
}

/* Grow the working buffer until the call fits (or a sane cap is hit). */
static int sign_grow(const struct sigv4_request *req, const struct sigv4_key *key, time_t when,
		     struct sigv4_result *r, buf *cr)
{
	size_t len;

	for (len = 16384; len <= DEBUG_MAX_SCRATCH; len *= 2) {
		char *s = tp_xmalloc(len);
		long n = sigv4_canonical_request(req, s, len);

		if (n >= 0 && sigv4_sign(req, key, when, s, len, r) == 0) {
			buf_add(cr, s, (size_t)n);
			free(s);
			return 0;
		}
		free(s);
	}
	return -1;
}

static int run_case(const cJSON *c, cJSON *out, tp_err *e)
{
	const char *method = str_field(c, "method"), *path = str_field(c, "path");
	const char *body = str_field(c, "body"), *token = str_field(c, "session_token");
	const cJSON *headers = cJSON_GetObjectItemCaseSensitive(c, "headers");
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(c, "time"), *h;
	struct sigv4_header hs[DEBUG_MAX_HEADERS + 3];
	struct sigv4_key key;
	struct sigv4_request req;
	struct sigv4_result r;
	char amz_date[17], body_hash[HASH_SHA256_HEX_LEN];
	buf upath = { 0 }, uquery = { 0 }, cr = { 0 };
	size_t n = 0;
	time_t when;
	int rc = TP_EINVAL;

	key.access_key_id = str_field(c, "access_key");
	key.secret_access_key = str_field(c, "secret_key");
	key.region = str_field(c, "region");
	key.service = str_field(c, "service");
	if (!method || !path || !key.access_key_id || !key.secret_access_key || !key.region ||
	    !key.service || !cJSON_IsNumber(t) || !cJSON_IsArray(headers)) {
		tp_errf(e, TP_EINVAL, NULL, "missing or mistyped field");
		goto done;
	}
	when = (time_t)t->valuedouble;
	cJSON_ArrayForEach(h, headers) {
		const cJSON *name = cJSON_GetArrayItem(h, 0), *value = cJSON_GetArrayItem(h, 1);

		if (n == DEBUG_MAX_HEADERS || !cJSON_IsString(name) || !cJSON_IsString(value)) {
			tp_errf(e, TP_EINVAL, NULL, "headers: at most %d [name, value] pairs",
				DEBUG_MAX_HEADERS);
			goto done;
		}
		hs[n++] = (struct sigv4_header){ name->valuestring, value->valuestring };
	}
	/* the headers taskpipe adds to every request it signs */
	sigv4_amz_date(when, amz_date);
	hash_sha256_hex(body ? body : "", body ? strlen(body) : 0, body_hash);
	hs[n++] = (struct sigv4_header){ "X-Amz-Date", amz_date };
	hs[n++] = (struct sigv4_header){ "X-Amz-Content-SHA256", body_hash };
	if (token)
		hs[n++] = (struct sigv4_header){ "X-Amz-Security-Token", token };

	add_encoded(&upath, path, 1);
	buf_add(&upath, "", 0);
	if (build_query(cJSON_GetObjectItemCaseSensitive(c, "query"), &uquery, e) < 0)
		goto done;

	req = (struct sigv4_request){ method, upath.data, uquery.data, hs, n, body_hash,
				      cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "s3")) };
	if (sign_grow(&req, &key, when, &r, &cr) < 0) {
		tp_errf(e, TP_ELIMIT, NULL, "request too large to sign");
		goto done;
	}
	buf_add(&cr, "", 0);
	cJSON_AddStringToObject(out, "canonical_request", cr.data);
	cJSON_AddStringToObject(out, "signature", r.signature);
	cJSON_AddStringToObject(out, "authorization", r.authorization);
	cJSON_AddStringToObject(out, "url_path", upath.data);
	cJSON_AddStringToObject(out, "url_query", uquery.data);
	rc = 0;
done:
	buf_free(&upath);
	buf_free(&uquery);
	buf_free(&cr);
	return rc;
}

int cmd_debug_sigv4(int argc, char **argv)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int failed = 0;

	while ((len = getline(&line, &cap, stdin)) >= 0) {
		cJSON *c, *out = cJSON_CreateObject();
		char *text;
		tp_err e;

		if (strspn(line, " \t\r\n") == (size_t)len) {
			cJSON_Delete(out);
			continue;
		}
		tp_err_clear(&e);
		c = cJSON_Parse(line);
		if (!cJSON_IsObject(c))
			tp_errf(&e, TP_EINVAL, NULL, "not a JSON object");
		else
			run_case(c, out, &e);
		if (e.rc) {
			cJSON_Delete(out);
			out = cJSON_CreateObject();
			cJSON_AddStringToObject(out, "error", e.message);
			failed = 1;
		}
		text = cJSON_PrintUnformatted(out);
		puts(text);
		free(text);
		cJSON_Delete(out);
		cJSON_Delete(c);
	}
	free(line);
	fflush(stdout);
	return failed;
}

static double cpu_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int cmd_debug_bench_sigv4(int argc, char **argv)
{
	/* A DynamoDB GetItem as taskpipe sends it from Lambda: six signed
	 * headers, a session token, a 200-byte JSON body hashed every time. */
	static const char token[] =
		"IQoJb3JpZ2luX2VjEXAMPLEaCXVzLWVhc3QtMSJHMEUCIQDexampleexampleexampleexampleexample"
		"AiBexampleexampleexampleexampleexampleexampleexampleqvAQiP//////////ARAAGgwxMjM0NTY3"
		"ODkwMTIiDexampleexampleexampleexampleexampleexampleexampleexampleexampleexampleexamp"
		"leexampleexampleexampleexampleexampleexampleexampleexampleexampleexampleexample==";
	char body[201], body_hash[HASH_SHA256_HEX_LEN], amz_date[17], scratch[4096];
	struct sigv4_header hs[6] = {
		{ "Host", "dynamodb.us-east-1.amazonaws.com" },
		{ "Content-Type", "application/x-amz-json-1.0" },
		{ "X-Amz-Target", "DynamoDB_20120810.GetItem" },
		{ "X-Amz-Date", amz_date },
		{ "X-Amz-Content-SHA256", body_hash },
		{ "X-Amz-Security-Token", token },
	};
	/* As aws.c signs: with a signing-key cache owned by the caller. */
	struct sigv4_key_cache cache = { 0 };
	const struct sigv4_key key = { "ASIAEXAMPLEEXAMPLE12", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
				       "us-east-1", "dynamodb", &cache };
	struct sigv4_request req = { "POST", "/", "", hs, 6, body_hash, 0 };
	struct sigv4_result r;
	long n = 200000, i;
	unsigned sink = 0;
	double t0, secs;
	int a;

	for (a = 1; a < argc; a++)
		if (argv[a][0] && strspn(argv[a], "0123456789") == strlen(argv[a])) {
			n = atol(argv[a]);
			break;
		}
	if (n <= 0)
		n = 1;
	memset(body, ' ', 200);
	memcpy(body, "{\"TableName\":\"taskpipe-config\",\"Key\":{\"pipeline\":{\"S\":\"", 56);
	body[200] = '\0';
	t0 = cpu_seconds();
	for (i = 0; i < n; i++) {
		time_t when = (time_t)1700000000 + i;

		long v = i;
		int d;

		for (d = 74; d >= 56; d--, v /= 10) /* a different body each time */
			body[d] = (char)('0' + v % 10);
		body[75] = '"';
		hash_sha256_hex(body, 200, body_hash);
		sigv4_amz_date(when, amz_date);
		if (sigv4_sign(&req, &key, when, scratch, sizeof scratch, &r) < 0) {
			fprintf(stderr, "bench-sigv4: signing failed\n");
			return 1;
		}
		sink += (unsigned char)r.signature[0];
	}
	secs = cpu_seconds() - t0;
	if (secs <= 0)
		secs = 1e-9;
	printf("{\"signatures\":%ld,\"seconds\":%.6f,\"per_second\":%.0f,\"check\":%u}\n", n, secs,
	       (double)n / secs, sink);
	return 0;
}
