/* s3.c: S3 requests and answers for code objects (see s3.h). */
#include "aws/s3.h"
#include "aws/awsjson.h"
#include "aws/sigv4.h"

#include <stdlib.h>
#include <string.h>

/* Fill c with an S3 call; path and query become the call's own. */
static void call(struct aws_call *c, const char *op, const char *method, char *path, buf *q)
{
	memset(c, 0, sizeof *c);
	c->service = SVC_S3;
	c->op = op;
	c->method = method;
	c->owned[1] = path;
	c->path = path;
	if (q && q->len) {
		c->owned[2] = tp_xstrdup(q->data);
		c->query = c->owned[2];
	}
	if (q)
		buf_free(q);
}

static char *object_path(const char *bucket, const char *key)
{
	size_t kl = strlen(key);
	char *enc = tp_xmalloc(kl * 3 + 1);
	sigv4_uri_encode(key, kl, 1, enc, kl * 3 + 1);
	char *path = tp_xasprintf("/%s/%s", bucket, enc);
	free(enc);
	return path;
}

void s3_get_object(struct aws_call *c, const char *bucket, const char *key, const char *version,
		   const struct aws_sink *sink)
{
	buf q = { 0 };
	if (version)
		awsj_form_add(&q, "versionId", version);
	call(c, "GetObject", "GET", object_path(bucket, key), &q);
	c->sink = sink;
}

void s3_head_object(struct aws_call *c, const char *bucket, const char *key)
{
	call(c, "HeadObject", "HEAD", object_path(bucket, key), NULL);
}

void s3_get_bucket_versioning(struct aws_call *c, const char *bucket)
{
	buf q = { 0 };
	buf_adds(&q, "versioning=");
	call(c, "GetBucketVersioning", "GET", tp_xasprintf("/%s", bucket), &q);
}

void s3_list_object_versions(struct aws_call *c, const char *bucket, const char *prefix)
{
	buf q = { 0 };
	awsj_form_add(&q, "prefix", prefix);
	buf_adds(&q, "&versions=");
	call(c, "ListObjectVersions", "GET", tp_xasprintf("/%s", bucket), &q);
}

int s3_version_id(const struct aws_call *c, char *out, size_t len)
{
	if (!aws_call_header(c, "x-amz-version-id", out, len) || strcmp(out, "null") == 0) {
		if (len)
			out[0] = 0;
		return 0;
	}
	return out[0] != 0;
}

int s3_versioning_enabled(const struct aws_call *c)
{
	return strstr(buf_str(&c->resp), "<Status>Enabled</Status>") != NULL;
}
