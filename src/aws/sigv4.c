/* sigv4.c: owns AWS Signature Version 4: the canonical request (one small
 * function per part, in the manner of aws-c-auth), the string to sign, the
 * signing key and the Authorization value.
 *
 * No allocation, no clock, no state of its own: the optional signing-key
 * cache belongs to the caller (struct sigv4_key_cache) and never changes
 * an output. The rules match botocore
 * (SigV4Auth / S3SigV4Auth) byte for byte; tests/integration/test_sigv4_oracle.py
 * checks that on hundreds of generated requests.
 */
#include "aws/sigv4.h"

#include "base/hash.h"
#include "base/sha256ni.h"

#include <bearssl.h>
#include <string.h>

/* Sorting is done in fixed arrays on the stack (no allocation); a request
 * with more headers or query parameters than this is refused (-1). */
#define SIGV4_MAX_HEADERS 64
#define SIGV4_MAX_QUERY 512

static const char sigv4_algorithm[] = "AWS4-HMAC-SHA256";

/* A bounded writer over a caller's buffer; one byte is always kept for
 * the terminating NUL. */
struct wbuf {
	char *p;    /* the caller's buffer */
	size_t len; /* bytes written */
	size_t cap; /* size of p, >= 1 */
};

struct span {
	const char *p; /* not NUL-terminated */
	size_t n;
};

struct qpair {
	struct span k; /* as on the wire, still encoded */
	struct span v;
};

static int w_put(struct wbuf *w, const char *s, size_t n)
{
	if (n >= w->cap - w->len)
		return -1;
	memcpy(w->p + w->len, s, n);
	w->len += n;
	return 0;
}

static int w_puts(struct wbuf *w, const char *s)
{
	return w_put(w, s, strlen(s));
}

static int w_putc(struct wbuf *w, char c)
{
	if (w->len + 1 >= w->cap)
		return -1;
	w->p[w->len++] = c;
	return 0;
}

static void w_end(struct wbuf *w)
{
	w->p[w->len] = '\0';
}

static int is_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '.' || c == '~';
}

/* The whitespace Python's str.split() folds (botocore's _header_value),
 * ASCII part: space, \t \n \v \f \r and the separators 0x1c..0x1f. */
static int is_ws(unsigned char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
}

static unsigned char lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

static int w_uri_encode(struct wbuf *w, const char *in, size_t n, int keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)in[i];

		if (is_unreserved(c) || (keep_slash && c == '/')) {
			if (w_putc(w, (char)c) < 0)
				return -1;
			continue;
		}
		if (w->cap - w->len <= 3)
			return -1;
		w->p[w->len++] = '%';
		w->p[w->len++] = hex[c >> 4];
		w->p[w->len++] = hex[c & 15];
	}
	return 0;
}

long sigv4_uri_encode(const char *in, size_t in_len, int keep_slash, char *out, size_t out_len)
{
	struct wbuf w = { out, 0, out_len };

	if (!out || out_len == 0 || (!in && in_len))
		return -1;
	if (w_uri_encode(&w, in, in_len, keep_slash) < 0)
		return -1;
	w_end(&w);
	return (long)w.len;
}

/* Part 1: the method, upper-cased as botocore does. */
static int cr_method(struct wbuf *w, const char *method)
{
	if (!method || !*method)
		return -1;
	for (; *method; method++) {
		unsigned char c = (unsigned char)*method;

		if (w_putc(w, (char)((c >= 'a' && c <= 'z') ? c - 32 : c)) < 0)
			return -1;
	}
	return 0;
}

/* Part 2, non-S3: remove dot segments and empty segments (botocore's
 * remove_dot_segments), then URI-encode each segment again, so "%20" on the
 * wire becomes "%2520" here. Segments are written as "/" + encoded; ".."
 * truncates back to the previous '/', which always starts the last segment
 * because an encoded segment never contains '/'. */
static int cr_uri_normalised(struct wbuf *w, const char *path, size_t n)
{
	size_t start = w->len, i, end;
	size_t count = 0;

	for (i = 0; i <= n; i = end + 1) {
		size_t len;

		for (end = i; end < n && path[end] != '/'; end++)
			;
		len = end - i;
		if (len == 0 || (len == 1 && path[i] == '.'))
			continue;
		if (len == 2 && path[i] == '.' && path[i + 1] == '.') {
			if (count) {
				while (w->p[--w->len] != '/')
					;
				count--;
			}
			continue;
		}
		if (w_putc(w, '/') < 0 || w_uri_encode(w, path + i, len, 0) < 0)
			return -1;
		count++;
	}
	if (count == 0)
		return path[0] == '/' ? w_putc(w, '/') : 0;
	if (path[0] != '/') {
		memmove(w->p + start, w->p + start + 1, w->len - start - 1);
		w->len--;
	}
	if (path[n - 1] == '/')
		return w_putc(w, '/');
	return 0;
}

/* Part 2: the canonical URI. S3 signs the path exactly as sent. */
static int cr_uri(struct wbuf *w, const char *path, int s3)
{
	if (!path || !*path)
		return w_putc(w, '/');
	if (s3)
		return w_puts(w, path);
	return cr_uri_normalised(w, path, strlen(path));
}

static int span_cmp(struct span a, struct span b)
{
	int c = memcmp(a.p, b.p, a.n < b.n ? a.n : b.n);

	if (c)
		return c;
	return a.n < b.n ? -1 : a.n > b.n;
}

static int qpair_cmp(const struct qpair *a, const struct qpair *b)
{
	int c = span_cmp(a->k, b->k);

	return c ? c : span_cmp(a->v, b->v);
}

/* Part 3: the canonical query. The wire query is already encoded: split on
 * '&', each piece at its first '=' (none: empty value), sort by (key, value)
 * as byte strings, rejoin. Nothing is re-encoded (botocore's
 * _canonical_query_string_url). */
static int cr_query(struct wbuf *w, const char *query)
{
	struct qpair q[SIGV4_MAX_QUERY];
	size_t n = 0, i, j;
	const char *p = query;

	if (!query || !*query)
		return 0;
	for (;;) {
		const char *amp = strchr(p, '&');
		const char *end = amp ? amp : p + strlen(p);
		const char *eq = memchr(p, '=', (size_t)(end - p));
		struct qpair x;

		if (n == SIGV4_MAX_QUERY)
			return -1;
		x.k.p = p;
		x.k.n = (size_t)((eq ? eq : end) - p);
		x.v.p = eq ? eq + 1 : end;
		x.v.n = (size_t)(end - x.v.p);
		/* insertion sort: n is small, and it is stable */
		for (j = n; j > 0 && qpair_cmp(&q[j - 1], &x) > 0; j--)
			q[j] = q[j - 1];
		q[j] = x;
		n++;
		if (!amp)
			break;
		p = amp + 1;
	}
	for (i = 0; i < n; i++) {
		if ((i && w_putc(w, '&') < 0) || w_put(w, q[i].k.p, q[i].k.n) < 0 ||
		    w_putc(w, '=') < 0 || w_put(w, q[i].v.p, q[i].v.n) < 0)
			return -1;
	}
	return 0;
}

static int name_cmp(const char *a, const char *b)
{
	for (;; a++, b++) {
		unsigned char ca = lower((unsigned char)*a), cb = lower((unsigned char)*b);

		if (ca != cb || !ca)
			return (int)ca - (int)cb;
	}
}

/* Order header indices by lower-cased name; stable, so repeated names keep
 * the caller's order (their values are joined in that order). */
static int sort_headers(const struct sigv4_request *req, size_t *idx)
{
	size_t i, j;

	if (req->n_headers > SIGV4_MAX_HEADERS || (req->n_headers && !req->headers))
		return -1;
	for (i = 0; i < req->n_headers; i++) {
		const struct sigv4_header *h = &req->headers[i];

		if (!h->name || !*h->name || !h->value)
			return -1;
		for (j = i; j > 0 && name_cmp(req->headers[idx[j - 1]].name, h->name) > 0; j--)
			idx[j] = idx[j - 1];
		idx[j] = i;
	}
	return 0;
}

static int w_lower(struct wbuf *w, const char *s)
{
	for (; *s; s++)
		if (w_putc(w, (char)lower((unsigned char)*s)) < 0)
			return -1;
	return 0;
}

/* A value trimmed, with inner whitespace runs folded to one space. Copies
 * whole words at a time: values such as session tokens are long. */
static int w_trimmed(struct wbuf *w, const char *v)
{
	int first = 1;

	for (;;) {
		const char *word;

		while (*v && is_ws((unsigned char)*v))
			v++;
		if (!*v)
			return 0;
		for (word = v; *v && !is_ws((unsigned char)*v); v++)
			;
		if ((!first && w_putc(w, ' ') < 0) || w_put(w, word, (size_t)(v - word)) < 0)
			return -1;
		first = 0;
	}
}

/* Part 4: canonical headers, "name:value\n" each, repeated names merged. */
static int cr_headers(struct wbuf *w, const struct sigv4_request *req, const size_t *idx)
{
	size_t i;

	for (i = 0; i < req->n_headers; i++) {
		const struct sigv4_header *h = &req->headers[idx[i]];
		int same = i && name_cmp(req->headers[idx[i - 1]].name, h->name) == 0;

		if (same) {
			if (w->len == 0 || w->p[w->len - 1] != '\n')
				return -1;
			w->p[w->len - 1] = ','; /* reopen the previous line */
		} else if (w_lower(w, h->name) < 0 || w_putc(w, ':') < 0) {
			return -1;
		}
		if (w_trimmed(w, h->value) < 0 || w_putc(w, '\n') < 0)
			return -1;
	}
	return 0;
}

/* Part 5: signed headers, every distinct name given, sorted, ';'-joined. */
static int cr_signed_headers(struct wbuf *w, const struct sigv4_request *req, const size_t *idx)
{
	size_t i;

	for (i = 0; i < req->n_headers; i++) {
		const char *name = req->headers[idx[i]].name;

		if (i && name_cmp(req->headers[idx[i - 1]].name, name) == 0)
			continue;
		if ((i && w_putc(w, ';') < 0) || w_lower(w, name) < 0)
			return -1;
	}
	return 0;
}

/* Part 6: the payload hash, as given. */
static int cr_payload(struct wbuf *w, const char *payload_hash)
{
	if (!payload_hash || !*payload_hash)
		return -1;
	return w_puts(w, payload_hash);
}

/* The whole canonical request into w; reports where the signed-headers
 * list landed so sigv4_sign can copy it into the Authorization value. */
static int canonical(const struct sigv4_request *req, struct wbuf *w, struct span *signed_headers)
{
	size_t idx[SIGV4_MAX_HEADERS];
	size_t sh;

	if (!req || sort_headers(req, idx) < 0)
		return -1;
	if (cr_method(w, req->method) < 0 || w_putc(w, '\n') < 0 ||
	    cr_uri(w, req->path, req->s3_path) < 0 || w_putc(w, '\n') < 0 ||
	    cr_query(w, req->query) < 0 || w_putc(w, '\n') < 0 ||
	    cr_headers(w, req, idx) < 0 || w_putc(w, '\n') < 0)
		return -1;
	sh = w->len;
	if (cr_signed_headers(w, req, idx) < 0)
		return -1;
	signed_headers->p = w->p + sh;
	signed_headers->n = w->len - sh;
	if (w_putc(w, '\n') < 0 || cr_payload(w, req->payload_hash) < 0)
		return -1;
	w_end(w);
	return 0;
}

long sigv4_canonical_request(const struct sigv4_request *req, char *out, size_t out_len)
{
	struct wbuf w = { out, 0, out_len };
	struct span sh;

	if (!out || out_len == 0 || canonical(req, &w, &sh) < 0)
		return -1;
	return (long)w.len;
}

static void put2(char *p, int v)
{
	p[0] = (char)('0' + v / 10);
	p[1] = (char)('0' + v % 10);
}

void sigv4_amz_date(time_t when, char out[17])
{
	/* days to civil date: H. Hinnant's algorithm, proleptic Gregorian */
	long long t = (long long)when, days = t / 86400, secs = t % 86400;
	long long z, era, doe, yoe, y, doy, mp, d, m;

	if (secs < 0) {
		secs += 86400;
		days--;
	}
	z = days + 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = doy - (153 * mp + 2) / 5 + 1;
	m = mp < 10 ? mp + 3 : mp - 9;
	y = yoe + era * 400 + (m <= 2);
	if (y < 0)
		y = 0;
	if (y > 9999)
		y = 9999;
	put2(out, (int)(y / 100));
	put2(out + 2, (int)(y % 100));
	put2(out + 4, (int)m);
	put2(out + 6, (int)d);
	out[8] = 'T';
	put2(out + 9, (int)(secs / 3600));
	put2(out + 11, (int)(secs / 60 % 60));
	put2(out + 13, (int)(secs % 60));
	out[15] = 'Z';
	out[16] = '\0';
}

/* DATE/REGION/SERVICE/aws4_request */
static int w_scope(struct wbuf *w, const char *amz_date, const struct sigv4_key *key)
{
	if (w_put(w, amz_date, 8) < 0 || w_putc(w, '/') < 0 || w_puts(w, key->region) < 0 ||
	    w_putc(w, '/') < 0 || w_puts(w, key->service) < 0 || w_puts(w, "/aws4_request") < 0)
		return -1;
	return 0;
}

/* kSecret = "AWS4" + secret; an HMAC key longer than the SHA-256 block is
 * replaced by its hash (RFC 2104), so a long secret is hashed here and
 * needs no bigger buffer. Returns the key length. */
static size_t secret_key(const char *secret, unsigned char k[64])
{
	size_t n = strlen(secret);

	if (4 + n <= 64) {
		memcpy(k, "AWS4", 4);
		memcpy(k + 4, secret, n);
		return 4 + n;
	}
	{
		const br_hash_class *h = sha256_class();
		br_hash_compat_context c;

		h->init(&c.vtable);
		h->update(&c.vtable, "AWS4", 4);
		h->update(&c.vtable, secret, n);
		h->out(&c.vtable, k);
		explicit_bzero(&c, sizeof c);
	}
	return HASH_SHA256_LEN;
}

/* The derivation, as the spec writes it:
 *   kDate    = HMAC("AWS4" + secret, date)
 *   kRegion  = HMAC(kDate, region)
 *   kService = HMAC(kRegion, service)
 *   kSigning = HMAC(kService, "aws4_request")
 */
static void signing_key(const struct sigv4_key *key, const char *amz_date,
			unsigned char k_signing[HASH_SHA256_LEN])
{
	unsigned char k_secret[64];
	unsigned char k_date[HASH_SHA256_LEN], k_region[HASH_SHA256_LEN], k_service[HASH_SHA256_LEN];
	size_t n = secret_key(key->secret_access_key, k_secret);

	hash_hmac_sha256(k_secret, n, amz_date, 8, k_date);
	hash_hmac_sha256(k_date, sizeof k_date, key->region, strlen(key->region), k_region);
	hash_hmac_sha256(k_region, sizeof k_region, key->service, strlen(key->service), k_service);
	hash_hmac_sha256(k_service, sizeof k_service, "aws4_request", 12, k_signing);
	explicit_bzero(k_secret, sizeof k_secret);
	explicit_bzero(k_date, sizeof k_date);
	explicit_bzero(k_region, sizeof k_region);
	explicit_bzero(k_service, sizeof k_service);
}

/* The spec lets a client reuse the signing key for a day per region and
 * service: deriving it is 16 of the ~35 SHA-256 blocks one signature costs.
 * The caller may own a one-entry cache (struct sigv4_key_cache), keyed by
 * everything the key depends on. The output is identical with or without it. */
static int cache_hit(const struct sigv4_key_cache *c, const struct sigv4_key *key,
		     const char *amz_date, size_t secret_len)
{
	return c->valid && c->secret_len == secret_len && memcmp(c->date, amz_date, 8) == 0 &&
	       strcmp(c->region, key->region) == 0 && strcmp(c->service, key->service) == 0 &&
	       memcmp(c->secret, key->secret_access_key, secret_len) == 0;
}

/* Fill kc with kSigning as an HMAC key, from the key's cache when it matches. */
static void signing_context(const struct sigv4_key *key, const char *amz_date, br_hmac_key_context *kc)
{
	struct sigv4_key_cache *c = key->cache;
	size_t secret_len = strlen(key->secret_access_key);
	size_t region_len = strlen(key->region), service_len = strlen(key->service);
	unsigned char k_signing[HASH_SHA256_LEN];

	if (c && cache_hit(c, key, amz_date, secret_len)) {
		br_hmac_key_init(kc, sha256_class(), c->k_signing, sizeof c->k_signing);
		return;
	}
	signing_key(key, amz_date, k_signing);
	br_hmac_key_init(kc, sha256_class(), k_signing, sizeof k_signing);
	if (c && secret_len < sizeof c->secret && region_len < sizeof c->region &&
	    service_len < sizeof c->service) {
		explicit_bzero(c, sizeof *c);
		c->secret_len = secret_len;
		memcpy(c->secret, key->secret_access_key, secret_len);
		memcpy(c->date, amz_date, 8);
		memcpy(c->region, key->region, region_len + 1);
		memcpy(c->service, key->service, service_len + 1);
		memcpy(c->k_signing, k_signing, sizeof k_signing);
		c->valid = 1;
	}
	explicit_bzero(k_signing, sizeof k_signing);
}

void sigv4_key_cache_wipe(struct sigv4_key_cache *c)
{
	if (c)
		explicit_bzero(c, sizeof *c);
}

int sigv4_sign(const struct sigv4_request *req, const struct sigv4_key *key, time_t when,
	       char *scratch, size_t scratch_len, struct sigv4_result *out)
{
	struct wbuf w = { scratch, 0, scratch_len };
	struct wbuf a;
	struct span sh;
	char cr_hex[HASH_SHA256_HEX_LEN];
	unsigned char sig[HASH_SHA256_LEN];
	br_hmac_key_context kc;
	br_hmac_context hc;
	size_t sts;

	if (!key || !key->access_key_id || !key->secret_access_key || !key->region ||
	    !key->service || !out || !scratch || scratch_len == 0)
		return -1;
	sigv4_amz_date(when, out->amz_date);
	if (canonical(req, &w, &sh) < 0)
		return -1;
	hash_sha256_hex(w.p, w.len, cr_hex);

	/* string to sign, after the canonical request in scratch (the signed
	 * headers list there is still needed below) */
	sts = ++w.len; /* past the canonical request's NUL */
	if (w.len >= w.cap || w_puts(&w, sigv4_algorithm) < 0 || w_putc(&w, '\n') < 0 ||
	    w_put(&w, out->amz_date, 16) < 0 || w_putc(&w, '\n') < 0 ||
	    w_scope(&w, out->amz_date, key) < 0 || w_putc(&w, '\n') < 0 ||
	    w_put(&w, cr_hex, 64) < 0)
		return -1;

	signing_context(key, out->amz_date, &kc);
	br_hmac_init(&hc, &kc, 0);
	br_hmac_update(&hc, w.p + sts, w.len - sts);
	br_hmac_out(&hc, sig);
	explicit_bzero(&kc, sizeof kc);
	explicit_bzero(&hc, sizeof hc);
	hash_hex(sig, sizeof sig, out->signature);

	a = (struct wbuf){ out->authorization, 0, sizeof out->authorization };
	if (w_puts(&a, sigv4_algorithm) < 0 || w_puts(&a, " Credential=") < 0 ||
	    w_puts(&a, key->access_key_id) < 0 || w_putc(&a, '/') < 0 ||
	    w_scope(&a, out->amz_date, key) < 0 || w_puts(&a, ", SignedHeaders=") < 0 ||
	    w_put(&a, sh.p, sh.n) < 0 || w_puts(&a, ", Signature=") < 0 ||
	    w_put(&a, out->signature, 64) < 0)
		return -1;
	w_end(&a);
	return 0;
}
