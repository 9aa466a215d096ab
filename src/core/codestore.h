/* codestore.h: how Lambda keeps a pipeline's code, S3ObjectStorageMode.
 *
 * COPY (Lambda's default) copies the zip into Lambda-managed storage, which
 * is capped per region; REFERENCE runs it from the versioned S3 object and
 * does not count against that quota. REFERENCE needs a versioned bucket and
 * the object version, and must be repeated on every UpdateFunctionCode: an
 * update without it puts the function back to COPY. A REFERENCE function
 * whose object version becomes unreadable, or to which Lambda loses access
 * (a bucket policy, a KMS key), goes State Inactive; AWS documents no one
 * StateReasonCode for it, so any Inactive other than Idle counts. The mode
 * shows only in GetFunction: Code.ResolvedS3Object {S3Bucket, S3Key,
 * S3ObjectVersion} for REFERENCE, absent for COPY; FunctionConfiguration
 * has no storage-mode field
 * (https://docs.aws.amazon.com/lambda/latest/api/API_ResolvedS3Object.html).
 * ("Self-managed S3 code storage", Lambda developer guide,
 * https://docs.aws.amazon.com/lambda/latest/dg/configuration-self-managed-storage.html;
 * docs/rollouts.md "Code storage" lists what the docs did not say and is assumed.) */
#ifndef TP_CODESTORE_H
#define TP_CODESTORE_H

#include "aws/aws.h"

struct cJSON;

/* 1 when a spec's func asks for REFERENCE (func.Code.S3ObjectStorageMode). */
int codestore_reference(const struct cJSON *func);

/* The mode a GetFunction answer shows: "REFERENCE" with
 * Code.ResolvedS3Object, "COPY" with a Code without it; NULL when the
 * answer has no Code (not a GetFunction answer: nothing to compare). */
const char *codestore_observed(const struct cJSON *get_function);

/* 1: the function is Inactive for a reason other than idleness (Lambda
 * marks idle functions Inactive with StateReasonCode Idle; an invocation
 * wakes them). why (may be NULL) gets "code: reason". */
int codestore_inactive(const struct cJSON *cfg, char *why, size_t len);

/* GetBucketVersioning: 1 when versioning is Enabled, 0 when not, < 0 on
 * error (e filled). */
int codestore_bucket_versioned(struct aws *aws, const char *bucket, tp_err *e);

/* HeadObject: the object's current version id into out ("" when the bucket
 * is not versioned). TP_ENOTFOUND when the object is gone. */
int codestore_current_version(struct aws *aws, const char *bucket, const char *key, char *out,
			      size_t len, tp_err *e);

#endif
