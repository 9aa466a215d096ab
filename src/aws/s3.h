/* s3.h: S3's REST protocol for what taskpipe asks of a code object, with
 * no I/O: builders fill an aws_call (path-style "/bucket/key", the key
 * percent-encoded with its '/' kept; query; owned by the call), readers
 * take what an answer says. Answers are XML or headers. */
#ifndef TP_S3_H
#define TP_S3_H

#include "aws/aws.h"

/* GET /bucket/key[?versionId=v] (version NULL: the latest); the body goes
 * to sink (borrowed; NULL: buffered, at most 10 MiB). */
void s3_get_object(struct aws_call *c, const char *bucket, const char *key, const char *version,
		   const struct aws_sink *sink);
/* HEAD /bucket/key */
void s3_head_object(struct aws_call *c, const char *bucket, const char *key);
/* GET /bucket?versioning= */
void s3_get_bucket_versioning(struct aws_call *c, const char *bucket);
/* GET /bucket?prefix=p&versions= (one page, newest first) */
void s3_list_object_versions(struct aws_call *c, const char *bucket, const char *prefix);

/* A GetObject / HeadObject answer's x-amz-version-id into out; "" when
 * absent or "null" (an unversioned bucket). Returns 1 when out is set. */
int s3_version_id(const struct aws_call *c, char *out, size_t len);
/* GetBucketVersioning: 1 when Status is Enabled (Suspended or none: 0). */
int s3_versioning_enabled(const struct aws_call *c);

#endif
