/* fuzz_parsers.c: libFuzzer target for the pure decision and parsing
 * modules: awserr_parse (JSON via cJSON, XML, HTML/text), xml_text /
 * xml_each / xml_escape, retry delay math and budget token buckets.
 *
 * README
 *   make fuzz-replay              replay tests/fuzz/corpus/parsers through this target,
 *                                 built with gcc + ASan + UBSan (part of make test,
 *                                 no clang needed; replay.c supplies main())
 *   make fuzz FUZZ_SECONDS=300    clang -fsanitize=fuzzer,address,undefined build,
 *                                 run on a copy of the corpus in out/fuzz-corpus/parsers;
 *                                 crashes land in out/fuzz/parsers-crash-* (tests/fuzz/fuzz.mk)
 *   Input layout: byte 0 picks the HTTP status (statuses[] below); then the raw
 *   header block up to the first "\n\n" (no "\n\n": no headers at all); the rest
 *   is the body, handed over in an exact-size heap copy with no terminator so
 *   ASan sees any read past body_len.
 *   After a crash: copy the crash file into tests/fuzz/corpus/parsers/ (a regression
 *   seed named after the bug), fix, and check `make fuzz-replay` passes.
 * Every property checked here aborts on violation, so a logic bug counts as a
 * crash too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aws/awserr.h"
#include "aws/budget.h"
#include "base/retry.h"
#include "base/xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x) do { if (!(x)) __builtin_trap(); } while (0)

static const long statuses[16] = {
	400, 403, 404, 409, 413, 429, 500, 502, 503, 504, 200, 301, 307, 0, 599, 100,
};

/* A string field must be terminated inside its array, hold no control
 * bytes (awserr folds them) and, when required, not be empty. */
static void check_field(const char *s, size_t cap, int nonempty)
{
	size_t n = strnlen(s, cap);
	CHECK(n < cap);
	CHECK(!nonempty || n > 0);
	for (size_t i = 0; i < n; i++)
		CHECK((unsigned char)s[i] >= 0x20 && s[i] != 0x7f);
}

struct each_ctx {
	const char *doc;
	size_t len;
	int calls;
};

static int on_elem(void *ctx, const char *inner, size_t inner_len)
{
	struct each_ctx *c = ctx;
	/* the inner content lies within the document */
	CHECK(inner >= c->doc && inner_len <= c->len && (size_t)(inner - c->doc) <= c->len - inner_len);
	buf b = {0};
	xml_text(inner, inner_len, "TopicArn", &b);
	CHECK(b.data && b.data[b.len] == 0);
	buf_free(&b);
	return ++c->calls >= 64;
}

static void fuzz_awserr(long status, const char *headers, const char *body, size_t blen)
{
	tp_err e;
	memset(&e, 0xa5, sizeof e);
	int rc = awserr_parse(status, headers, body, blen, &e);
	CHECK(rc == TP_EAWS || rc == TP_ENOTFOUND);
	CHECK(e.rc == rc && e.status == (int)status);
	check_field(e.code, sizeof e.code, 1);
	check_field(e.message, sizeof e.message, 1);
	check_field(e.request_id, sizeof e.request_id, 0);
	CHECK((rc == TP_ENOTFOUND) == awserr_is_not_found(e.code));

	char small[8];
	awserr_request_id(headers, small, sizeof small);
	check_field(small, sizeof small, 0);

	struct retry_policy p;
	retry_policy_default(&p);
	int cls = retry_classify(status, e.code, blen & 1);
	CHECK(cls == RETRY_NO || cls == RETRY_TRANSIENT || cls == RETRY_THROTTLE);
}

static void fuzz_xml(const char *headers, const char *body, size_t blen)
{
	static const char *const tags[] = { "Code", "Message", "Error", "a", "x:Code", "" };
	buf b = {0};
	for (size_t i = 0; i < sizeof tags / sizeof tags[0]; i++) {
		int found = xml_text(body, blen, tags[i], &b);
		CHECK(found == 0 || found == 1);
		CHECK(b.data && b.data[b.len] == 0);
		CHECK(found || b.len == 0);
	}
	/* a tag taken from the input: any bytes, prefixes, empty */
	if (headers && strlen(headers) < 64)
		xml_text(body, blen, headers, &b);

	struct each_ctx c = { body, blen, 0 };
	int n = xml_each(body, blen, "member", on_elem, &c);
	CHECK(n == c.calls);
	CHECK(xml_each(body, blen, "Error", NULL, NULL) >= 0);

	/* escape then read back: the text survives exactly (up to the first NUL) */
	char *s = tp_xstrndup(body, blen);
	buf doc = {0};
	buf_adds(&doc, "<v>");
	xml_escape(&doc, s);
	buf_adds(&doc, "</v>");
	CHECK(xml_text(doc.data, doc.len, "v", &b) == 1);
	CHECK(strcmp(b.data, s) == 0);
	buf_free(&doc);
	free(s);
	buf_free(&b);
}

static uint64_t take_u64(const char **p, size_t *n)
{
	uint64_t v = 0;
	for (int i = 0; i < 8 && *n > 0; i++, (*p)++, (*n)--)
		v = (v << 8) | (unsigned char)**p;
	return v;
}

static void fuzz_retry_budget(const char *d, size_t n)
{
	struct retry_policy p;
	retry_policy_dynamodb(&p);
	int attempt = (int)(uint32_t)take_u64(&d, &n);
	int64_t after = (int64_t)take_u64(&d, &n);
	double r = (double)(take_u64(&d, &n) & 0xffff) / 65535.0;
	for (int cls = RETRY_NO; cls <= RETRY_THROTTLE; cls++) {
		int64_t ms = retry_delay_ms(&p, cls, attempt, r, after);
		CHECK(ms >= 0 && ms <= p.max_backoff_ms);
		if (after < 0 && cls == RETRY_NO)
			CHECK(ms == 0);
	}
	struct retry_quota q;
	retry_quota_init(&q, (int)(attempt & 0x3ff));
	for (size_t i = 0; i < n && i < 64; i++) {
		if (d[i] & 1)
			retry_quota_success(&q, (unsigned char)d[i] >> 1);
		else
			retry_quota_take(&q, d[i] & 2);
		CHECK(q.tokens >= 0 && q.tokens <= q.max);
	}

	if (n < 2)
		return;
	struct budget b;
	int64_t now = (int64_t)(after ^ (int64_t)attempt);
	budget_init(&b, (unsigned char)d[0] / 4.0, (unsigned char)d[1] / 8.0, now);
	for (size_t i = 2; i < n && i < 128; i++) {
		unsigned char c = (unsigned char)d[i];
		/* step the clock forward, or back now and then */
		int64_t dt = (c & 0x80) ? -(int64_t)(c >> 3) : (int64_t)(c >> 2) * 7;
		if ((dt > 0 && now > INT64_MAX - dt) || (dt < 0 && now < INT64_MIN - dt))
			dt = 0;
		now += dt;
		switch (c & 3) {
		case 0:
			budget_take(&b, now);
			break;
		case 1: {
			int64_t w = budget_wait_ms(&b, now);
			CHECK(w >= 0 && w <= 86400000);
			/* waiting the reported time makes a token available */
			struct budget copy = b;
			if (w < 86400000 && now <= INT64_MAX - w)
				CHECK(budget_take(&copy, now + w) == 1);
			break;
		}
		case 2:
			budget_throttled(&b, now);
			break;
		default:
			budget_take(&b, now);
		}
		CHECK(!(b.rate > 0) || (b.tokens >= 0 && b.tokens <= b.burst));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	long status = statuses[data[0] % 16];
	const char *rest = (const char *)data + 1;
	size_t n = size - 1;

	char *headers = NULL;
	const char *sep = memmem(rest, n, "\n\n", 2);
	const char *bstart = rest;
	if (sep) {
		headers = tp_xstrndup(rest, (size_t)(sep - rest));
		bstart = sep + 2;
	}
	size_t blen = n - (size_t)(bstart - rest);
	char *body = malloc(blen ? blen : 1);
	CHECK(body);
	if (blen)
		memcpy(body, bstart, blen);

	fuzz_awserr(status, headers, body, blen);
	fuzz_xml(headers, body, blen);
	fuzz_retry_budget(body, blen);

	free(body);
	free(headers);
	return 0;
}
