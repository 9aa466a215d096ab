/* fake_s3.c: the fake's S3, REST-XML, path-style ("/bucket/key").
 *
 * What taskpipe asks of a code bucket (aws/s3.h, cmd_pipeline.c's init):
 * HeadBucket, CreateBucket, PutBucketVersioning, GetBucketVersioning,
 * ListObjectVersions, GetObject (by version), HeadObject; and what tests
 * use to put code there: PutObject, DeleteObject. Versioned buckets keep
 * every version (a PutObject makes a new VersionId, a DeleteObject a
 * delete marker); unversioned ones keep the "null" version. Errors are S3's
 * XML (<Error><Code>NoSuchKey</Code>...), HEAD errors have no body.
 * API reference: https://docs.aws.amazon.com/AmazonS3/latest/API/
 *
 * Also: fake_s3_object() for Lambda (the stored bytes' SHA-256, base64). */
#include "fake/fake_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/base64.h"
#include "base/hash.h"
#include "base/xml.h"

#include <bearssl.h>

#define XMLNS "http://s3.amazonaws.com/doc/2006-03-01/"
#define LIST_MAX 1000

struct version {
	char id[33];                /* "null" in an unversioned bucket */
	char sha256_b64[45];
	char etag[35];              /* "\"<md5 hex>\"" */
	int delete_marker;
	int64_t modified_ms;
	size_t len;
	unsigned char *data;
};

struct object {
	char *key;
	struct version *v;          /* oldest first: the newest is v[n - 1] */
	size_t n;
};

struct bucket {
	struct bucket *next;
	char *name;
	int versioning;             /* 0 never set, 1 Enabled, 2 Suspended */
	struct object *o;           /* sorted by key */
	size_t n, cap;
};

struct fake_s3 {
	struct bucket *buckets;
};

static void object_free(struct object *o)
{
	for (size_t i = 0; i < o->n; i++)
		free(o->v[i].data);
	free(o->v);
	free(o->key);
}

void fake_s3_free(struct fake_s3 *s)
{
	if (!s)
		return;
	for (struct bucket *b = s->buckets, *n; b; b = n) {
		n = b->next;
		for (size_t i = 0; i < b->n; i++)
			object_free(&b->o[i]);
		free(b->o);
		free(b->name);
		free(b);
	}
	free(s);
}

static struct bucket *bucket_get(struct fake *f, const char *name)
{
	for (struct bucket *b = f->s3 ? f->s3->buckets : NULL; b; b = b->next)
		if (strcmp(b->name, name) == 0)
			return b;
	return NULL;
}

/* The index of key in b, or where it would go (*found 0). */
static size_t object_at(const struct bucket *b, const char *key, int *found)
{
	size_t lo = 0, hi = b->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(b->o[mid].key, key);
		if (c == 0) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = 0;
	return lo;
}

static struct object *object_get(const struct bucket *b, const char *key)
{
	int found;
	size_t i = b ? object_at(b, key, &found) : 0;
	return b && found ? &b->o[i] : NULL;
}

/* The version asked for (id NULL or "": the newest, unless a delete marker). */
static struct version *version_get(struct object *o, const char *id)
{
	if (!o || !o->n)
		return NULL;
	if (!id || !*id)
		return o->v[o->n - 1].delete_marker ? NULL : &o->v[o->n - 1];
	for (size_t i = 0; i < o->n; i++)
		if (strcmp(o->v[i].id, id) == 0)
			return &o->v[i];
	return NULL;
}

/* ---- answers ---- */

static void s3_headers(struct http_response *out, long status, const char *ctype)
{
	buf_reset(&out->headers);
	buf_reset(&out->body);
	out->status = status;
	buf_adds(&out->headers, "x-amz-request-id: FAKE0REQUEST0ID\r\nx-amz-id-2: fake\r\n");
	if (ctype)
		buf_addf(&out->headers, "Content-Type: %s\r\n", ctype);
}

/* S3's error: XML body (none for HEAD), its code and status. */
static int s3_error(struct http_response *out, const struct fake_req *r, long status, const char *code,
		    const char *resource, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static int s3_error(struct http_response *out, const struct fake_req *r, long status, const char *code,
		    const char *resource, const char *fmt, ...)
{
	char msg[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	int head = strcmp(r->method, "HEAD") == 0;
	s3_headers(out, status, head ? NULL : "application/xml");
	if (head)
		return 0;
	buf_adds(&out->body, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>");
	buf_adds(&out->body, code);
	buf_adds(&out->body, "</Code><Message>");
	xml_escape(&out->body, msg);
	buf_adds(&out->body, "</Message>");
	if (resource) {
		buf_adds(&out->body, "<Resource>");
		xml_escape(&out->body, resource);
		buf_adds(&out->body, "</Resource>");
	}
	buf_adds(&out->body, "<RequestId>FAKE0REQUEST0ID</RequestId></Error>");
	return 0;
}

#define NO_BUCKET(out, r, b) s3_error(out, r, 404, "NoSuchBucket", b, "The specified bucket does not exist")

static void http_date(int64_t ms, char out[32])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 32, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

static void iso_date(int64_t ms, char out[32])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, 32 - n, ".%03dZ", (int)(ms % 1000));
}

static void version_headers(struct http_response *out, const struct bucket *b, const struct version *v)
{
	char d[32];
	http_date(v->modified_ms, d);
	buf_addf(&out->headers, "Last-Modified: %s\r\nETag: %s\r\nContent-Length: %zu\r\n", d, v->etag, v->len);
	if (b->versioning)
		buf_addf(&out->headers, "x-amz-version-id: %s\r\n", v->id);
}

/* ---- requests ---- */

static int hexval(int c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
	       c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Percent-decoded copy of s[0..n). */
static char *pct_decode(const char *s, size_t n)
{
	char *o = tp_xmalloc(n + 1);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
			o[k++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
			i += 2;
		} else {
			o[k++] = s[i];
		}
	}
	o[k] = 0;
	return o;
}

/* Whether the query has name (with or without a value). */
static int has_param(const struct fake_req *r, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = r->query; p && *p;) {
		if (strncmp(p, name, n) == 0 && (p[n] == '=' || p[n] == '&' || !p[n]))
			return 1;
		p = strchr(p, '&');
		p = p ? p + 1 : NULL;
	}
	return 0;
}

/* Query parameters other than those known: the first unknown one into
 * name, 1; else 0. */
static int unknown_param(const struct fake_req *r, const char *const *known, char *name, size_t len)
{
	for (const char *p = r->query; p && *p;) {
		size_t n = strcspn(p, "=&");
		int ok = 0;
		for (size_t i = 0; known[i] && !ok; i++)
			ok = strlen(known[i]) == n && strncmp(p, known[i], n) == 0;
		if (!ok) {
			snprintf(name, len, "%.*s", (int)n, p);
			return 1;
		}
		p = strchr(p, '&');
		p = p ? p + 1 : NULL;
	}
	return 0;
}

static void new_version_id(struct fake *f, char id[33])
{
	static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._";
	for (int i = 0; i < 32; i++)
		id[i] = abc[fake_rand(f) % 64];
	id[32] = 0;
}

/* ---- operations ---- */

static int create_bucket(struct fake *f, struct fake_req *r, const char *name, struct http_response *out)
{
	snprintf(r->op, sizeof r->op, "CreateBucket");
	size_t n = strlen(name);
	int ok = n >= 3 && n <= 63;
	for (size_t i = 0; i < n && ok; i++)
		ok = (name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') || name[i] == '-' ||
		     name[i] == '.';
	if (!ok)
		return s3_error(out, r, 400, "InvalidBucketName", name, "The specified bucket is not valid.");
	buf loc = { 0 };
	char want[64] = "";
	if (r->body_len && xml_text(r->body, r->body_len, "LocationConstraint", &loc))
		snprintf(want, sizeof want, "%s", buf_str(&loc));
	/* us-east-1 takes no constraint; every other region needs its own */
	int region_ok = strcmp(f->region, "us-east-1") == 0 ? !*want : strcmp(want, f->region) == 0;
	buf_free(&loc);
	if (!region_ok)
		return s3_error(out, r, 400, "IllegalLocationConstraintException", name,
				"The %s location constraint is incompatible for the region specific endpoint this "
				"request was sent to.", *want ? want : "unspecified");
	if (bucket_get(f, name)) {
		/* us-east-1 answers 200 for a bucket you own (legacy); elsewhere 409 */
		if (strcmp(f->region, "us-east-1") != 0)
			return s3_error(out, r, 409, "BucketAlreadyOwnedByYou", name,
					"Your previous request to create the named bucket succeeded and you already own it.");
	} else {
		if (!f->s3)
			f->s3 = tp_xcalloc(1, sizeof *f->s3);
		struct bucket *b = tp_xcalloc(1, sizeof *b);
		b->name = tp_xstrdup(name);
		b->next = f->s3->buckets;
		f->s3->buckets = b;
	}
	s3_headers(out, 200, NULL);
	buf_addf(&out->headers, "Location: /%s\r\n", name);
	return 0;
}

static int put_versioning(struct fake *f, struct fake_req *r, struct bucket *b, struct http_response *out)
{
	snprintf(r->op, sizeof r->op, "PutBucketVersioning");
	buf st = { 0 };
	int has = xml_text(r->body, r->body_len, "Status", &st);
	int v = has && strcmp(buf_str(&st), "Enabled") == 0 ? 1 : has && strcmp(buf_str(&st), "Suspended") == 0 ? 2 : 0;
	buf_free(&st);
	if (!v)
		return s3_error(out, r, 400, "MalformedXML", b->name,
				"The XML you provided was not well-formed or did not validate against our published "
				"schema (Status must be Enabled or Suspended)");
	b->versioning = v;
	s3_headers(out, 200, NULL);
	return 0;
}

static int get_versioning(struct fake_req *r, struct bucket *b, struct http_response *out)
{
	snprintf(r->op, sizeof r->op, "GetBucketVersioning");
	s3_headers(out, 200, "application/xml");
	buf_adds(&out->body, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<VersioningConfiguration xmlns=\"" XMLNS "\">");
	if (b->versioning)
		buf_addf(&out->body, "<Status>%s</Status>", b->versioning == 1 ? "Enabled" : "Suspended");
	buf_adds(&out->body, "</VersioningConfiguration>");
	return 0;
}

/* ListObjectVersions: keys in order from prefix (after key-marker), each
 * key's versions newest first, at most max-keys entries. */
static int list_versions(struct fake *f, struct fake_req *r, struct bucket *b, struct http_response *out)
{
	snprintf(r->op, sizeof r->op, "ListObjectVersions");
	static const char *const known[] = { "versions", "prefix", "max-keys", "key-marker", "version-id-marker",
					     "encoding-type", NULL };
	char bad[64], prefix[1024], maxs[16], kmark[1024], vmark[64];
	if (unknown_param(r, known, bad, sizeof bad))
		return s3_error(out, r, 400, "InvalidArgument", b->name, "the fake's S3 does not know parameter %s "
				"of ListObjectVersions", bad);
	fake_query_param(r, "prefix", prefix, sizeof prefix);
	fake_query_param(r, "key-marker", kmark, sizeof kmark);
	fake_query_param(r, "version-id-marker", vmark, sizeof vmark);
	long max = LIST_MAX;
	if (fake_query_param(r, "max-keys", maxs, sizeof maxs)) {
		char *end;
		max = strtol(maxs, &end, 10);
		if (!*maxs || *end || max < 0)
			return s3_error(out, r, 400, "InvalidArgument", b->name, "Provided max-keys not an integer or "
					"within integer range");
		if (max > LIST_MAX)
			max = LIST_MAX;
	}
	s3_headers(out, 200, "application/xml");
	buf *x = &out->body;
	buf_adds(x, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListVersionsResult xmlns=\"" XMLNS "\"><Name>");
	xml_escape(x, b->name);
	buf_adds(x, "</Name><Prefix>");
	xml_escape(x, prefix);
	buf_adds(x, "</Prefix><KeyMarker>");
	xml_escape(x, kmark);
	buf_addf(x, "</KeyMarker><VersionIdMarker>%s</VersionIdMarker><MaxKeys>%ld</MaxKeys>", vmark, max);
	buf entries = { 0 };
	long n = 0;
	int truncated = 0;
	const char *next_key = NULL, *next_ver = NULL;
	int found;
	size_t i = object_at(b, *kmark ? kmark : prefix, &found);
	for (; i < b->n && !truncated; i++) {
		const struct object *o = &b->o[i];
		if (strncmp(o->key, prefix, strlen(prefix)) != 0)
			break;
		/* after key-marker: that key's versions older than version-id-marker, then later keys */
		int skip_all = *kmark && strcmp(o->key, kmark) == 0 && !*vmark;
		int started = !(*kmark && strcmp(o->key, kmark) == 0);
		for (size_t k = o->n; k-- > 0 && !skip_all;) {
			const struct version *v = &o->v[k];
			if (!started) {
				started = strcmp(v->id, vmark) == 0;
				continue;
			}
			if (n == max) {
				truncated = 1;
				break;
			}
			char d[32];
			iso_date(v->modified_ms, d);
			buf_adds(&entries, v->delete_marker ? "<DeleteMarker><Key>" : "<Version><Key>");
			xml_escape(&entries, o->key);
			buf_addf(&entries, "</Key><VersionId>%s</VersionId><IsLatest>%s</IsLatest><LastModified>%s"
				 "</LastModified>", v->id, k == o->n - 1 ? "true" : "false", d);
			if (v->delete_marker)
				buf_adds(&entries, "<Owner><ID>fake</ID></Owner></DeleteMarker>");
			else
				buf_addf(&entries, "<ETag>%s</ETag><Size>%zu</Size><StorageClass>STANDARD</StorageClass>"
					 "<Owner><ID>fake</ID></Owner></Version>", v->etag, v->len);
			next_key = o->key;
			next_ver = v->id;
			n++;
		}
	}
	buf_addf(x, "<IsTruncated>%s</IsTruncated>", truncated ? "true" : "false");
	if (truncated) {
		buf_adds(x, "<NextKeyMarker>");
		xml_escape(x, next_key);
		buf_addf(x, "</NextKeyMarker><NextVersionIdMarker>%s</NextVersionIdMarker>", next_ver);
	}
	buf_add(x, entries.data ? entries.data : "", entries.len);
	buf_adds(x, "</ListVersionsResult>");
	buf_free(&entries);
	(void)f;
	return 0;
}

static struct version *add_version(struct fake *f, struct bucket *b, const char *key)
{
	int found;
	size_t i = object_at(b, key, &found);
	if (!found) {
		if (b->n == b->cap) {
			b->cap = b->cap ? b->cap * 2 : 8;
			b->o = tp_xrealloc(b->o, b->cap * sizeof *b->o);
		}
		memmove(&b->o[i + 1], &b->o[i], (b->n - i) * sizeof *b->o);
		b->o[i] = (struct object){ .key = tp_xstrdup(key) };
		b->n++;
	}
	struct object *o = &b->o[i];
	/* Unversioned (or suspended): the "null" version is replaced */
	if (b->versioning != 1)
		for (size_t k = 0; k < o->n; k++)
			if (strcmp(o->v[k].id, "null") == 0) {
				free(o->v[k].data);
				memmove(&o->v[k], &o->v[k + 1], (o->n - k - 1) * sizeof *o->v);
				o->n--;
				break;
			}
	o->v = tp_xrealloc(o->v, (o->n + 1) * sizeof *o->v);
	struct version *v = &o->v[o->n++];
	memset(v, 0, sizeof *v);
	if (b->versioning == 1)
		new_version_id(f, v->id);
	else
		snprintf(v->id, sizeof v->id, "null");
	v->modified_ms = fake_now_ms_int(f);
	return v;
}

static int put_object(struct fake *f, struct fake_req *r, struct bucket *b, const char *key,
		      struct http_response *out)
{
	snprintf(r->op, sizeof r->op, "PutObject");
	/* S3 needs the payload's hash ("x-amz-content-sha256") and checks it */
	const char *h = fake_header(r, "x-amz-content-sha256");
	char hex[HASH_SHA256_HEX_LEN];
	hash_sha256_hex(r->body, r->body_len, hex);
	if (!h)
		return s3_error(out, r, 400, "InvalidRequest", key,
				"Missing required header for this request: x-amz-content-sha256");
	if (strcmp(h, "UNSIGNED-PAYLOAD") != 0 && strcmp(h, hex) != 0)
		return s3_error(out, r, 400, "XAmzContentSHA256Mismatch", key,
				"The provided 'x-amz-content-sha256' header does not match what was computed.");
	struct version *v = add_version(f, b, key);
	v->len = r->body_len;
	v->data = tp_xmalloc(r->body_len + 1);
	memcpy(v->data, r->body, r->body_len);
	unsigned char d[HASH_SHA256_LEN], m[16];
	hash_sha256(r->body, r->body_len, d);
	base64_encode(d, sizeof d, v->sha256_b64);
	br_md5_context mc;
	br_md5_init(&mc);
	br_md5_update(&mc, r->body, r->body_len);
	br_md5_out(&mc, m);
	char mh[33];
	hash_hex(m, 16, mh);
	snprintf(v->etag, sizeof v->etag, "\"%s\"", mh);
	s3_headers(out, 200, NULL);
	buf_addf(&out->headers, "ETag: %s\r\n", v->etag);
	if (b->versioning)
		buf_addf(&out->headers, "x-amz-version-id: %s\r\n", v->id);
	return 0;
}

static int get_object(struct fake_req *r, struct bucket *b, const char *key, int head, struct http_response *out)
{
	snprintf(r->op, sizeof r->op, head ? "HeadObject" : "GetObject");
	char vid[64] = "";
	int by_version = fake_query_param(r, "versionId", vid, sizeof vid);
	struct object *o = object_get(b, key);
	struct version *v = version_get(o, by_version ? vid : NULL);
	if (by_version && !v && (strlen(vid) != 32 && strcmp(vid, "null") != 0))
		return s3_error(out, r, 400, "InvalidArgument", key, "Invalid version id specified");
	if (by_version && !v)
		return s3_error(out, r, 404, "NoSuchVersion", key,
				"The specified version does not exist.");
	if (v && v->delete_marker)   /* a delete marker asked for by its id */
		return s3_error(out, r, 405, "MethodNotAllowed", key,
				"The specified method is not allowed against this resource.");
	if (!v) {
		s3_error(out, r, 404, "NoSuchKey", key, "The specified key does not exist.");
		if (o && o->n && o->v[o->n - 1].delete_marker)
			buf_adds(&out->headers, "x-amz-delete-marker: true\r\n");
		return 0;
	}
	s3_headers(out, 200, "application/octet-stream");
	version_headers(out, b, v);
	if (!head)
		buf_add(&out->body, v->data, v->len);
	return 0;
}

static int delete_object(struct fake *f, struct fake_req *r, struct bucket *b, const char *key,
			 struct http_response *out)
{
	snprintf(r->op, sizeof r->op, "DeleteObject");
	char vid[64] = "";
	struct object *o = object_get(b, key);
	s3_headers(out, 204, NULL);
	if (fake_query_param(r, "versionId", vid, sizeof vid)) {
		/* that version, for good */
		for (size_t k = 0; o && k < o->n; k++)
			if (strcmp(o->v[k].id, vid) == 0) {
				if (o->v[k].delete_marker)
					buf_adds(&out->headers, "x-amz-delete-marker: true\r\n");
				free(o->v[k].data);
				memmove(&o->v[k], &o->v[k + 1], (o->n - k - 1) * sizeof *o->v);
				o->n--;
				buf_addf(&out->headers, "x-amz-version-id: %s\r\n", vid);
				break;
			}
		return 0;
	}
	if (!b->versioning) {
		for (size_t k = 0; o && k < o->n; k++)
			free(o->v[k].data);
		if (o)
			o->n = 0;
		return 0;
	}
	struct version *v = add_version(f, b, key);
	v->delete_marker = 1;
	buf_addf(&out->headers, "x-amz-delete-marker: true\r\nx-amz-version-id: %s\r\n", v->id);
	return 0;
}

int fake_s3_handle(struct fake *f, struct fake_req *r, struct http_response *out)
{
	/* path: /bucket[/key] */
	const char *p = r->path[0] == '/' ? r->path + 1 : r->path;
	size_t bl = strcspn(p, "/");
	char *bucket = pct_decode(p, bl);
	char *key = p[bl] == '/' && p[bl + 1] ? pct_decode(p + bl + 1, strlen(p + bl + 1)) : NULL;
	const char *m = r->method;
	int get = strcmp(m, "GET") == 0, head = strcmp(m, "HEAD") == 0, put = strcmp(m, "PUT") == 0;
	int del = strcmp(m, "DELETE") == 0;
	snprintf(r->op, sizeof r->op, "%s %s", m, key ? "object" : "bucket");
	int64_t after;
	int throttled = fake_quota(f, get || head ? "s3.get" : "s3.put", get || head ? 5500 : 3500,
				   get || head ? 5500 : 3500, &after);
	struct bucket *b = bucket_get(f, bucket);
	char bad[64];
	if (throttled) {
		/* S3's own throttle: 503 SlowDown ("Please reduce your request rate") */
		fake_reply_throttled(f, r, out, "SlowDown", after);
		s3_error(out, r, 503, "SlowDown", NULL, "Please reduce your request rate.");
		buf_addf(&out->headers, "Retry-After: %lld\r\n", (long long)((after + 999) / 1000));
	} else if (!*bucket) {
		s3_error(out, r, 400, "UnknownOperationException", "/", "the fake's S3 has no ListBuckets (%s /)", m);
	} else if (!key && put && !*r->query) {
		create_bucket(f, r, bucket, out);
	} else if (!b) {
		NO_BUCKET(out, r, bucket);
	} else if (!key && head && !*r->query) {
		snprintf(r->op, sizeof r->op, "HeadBucket");
		s3_headers(out, 200, NULL);
		buf_addf(&out->headers, "x-amz-bucket-region: %s\r\n", f->region);
	} else if (!key && put && has_param(r, "versioning")) {
		put_versioning(f, r, b, out);
	} else if (!key && get && has_param(r, "versioning")) {
		get_versioning(r, b, out);
	} else if (!key && get && has_param(r, "versions")) {
		list_versions(f, r, b, out);
	} else if (key && put && !*r->query) {
		put_object(f, r, b, key, out);
	} else if (key && (get || head) && !unknown_param(r, (const char *const[]){ "versionId", NULL },
							  bad, sizeof bad)) {
		get_object(r, b, key, head, out);
	} else if (key && del && !unknown_param(r, (const char *const[]){ "versionId", NULL }, bad, sizeof bad)) {
		delete_object(f, r, b, key, out);
	} else {
		s3_error(out, r, 400, "UnknownOperationException", key ? key : bucket,
			 "the fake's S3 has no operation %s %s%s%s", m, key ? "/bucket/key" : "/bucket",
			 *r->query ? "?" : "", r->query);
	}
	free(bucket);
	free(key);
	return 0;
}

int fake_s3_object(struct fake *f, const char *bucket, const char *key, const char *version,
		   char sha256_b64[45], long *size)
{
	struct version *v = version_get(object_get(bucket_get(f, bucket), key), version);
	if (!v || v->delete_marker)
		return 0;
	memcpy(sha256_b64, v->sha256_b64, 45);
	if (size)
		*size = (long)v->len;
	return 1;
}
