/* codestore.c: S3ObjectStorageMode and the facts it needs (see codestore.h). */
#include "core/codestore.h"

#include "aws/s3.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int codestore_reference(const cJSON *func)
{
	const char *m = cJSON_GetStringValue(
		cJSON_GetObjectItem(cJSON_GetObjectItem(func, "Code"), "S3ObjectStorageMode"));
	return m && strcmp(m, "REFERENCE") == 0;
}

const char *codestore_observed(const cJSON *get_function)
{
	const cJSON *code = cJSON_GetObjectItem(get_function, "Code");
	if (!cJSON_IsObject(code))
		return NULL;
	return cJSON_IsObject(cJSON_GetObjectItem(code, "ResolvedS3Object")) ? "REFERENCE" : "COPY";
}

int codestore_inactive(const cJSON *cfg, char *why, size_t len)
{
	const char *st = cJSON_GetStringValue(cJSON_GetObjectItem(cfg, "State"));
	const char *code = cJSON_GetStringValue(cJSON_GetObjectItem(cfg, "StateReasonCode"));
	const char *reason = cJSON_GetStringValue(cJSON_GetObjectItem(cfg, "StateReason"));
	/* Idle: https://docs.aws.amazon.com/lambda/latest/dg/functions-states.html */
	if (!st || strcmp(st, "Inactive") != 0 || (code && strcmp(code, "Idle") == 0))
		return 0;
	if (why)
		snprintf(why, len, "%s: %s", code ? code : "(no code)", reason ? reason : "no reason given");
	return 1;
}

int codestore_bucket_versioned(struct aws *aws, const char *bucket, tp_err *e)
{
	struct aws_call c;
	s3_get_bucket_versioning(&c, bucket);
	aws_call_one(aws, &c);
	int rc = c.rc;
	if (rc < 0)
		*e = c.err;
	else   /* <Status>Enabled</Status>; Suspended or none: not versioned */
		rc = s3_versioning_enabled(&c);
	aws_call_free(&c);
	return rc;
}

int codestore_current_version(struct aws *aws, const char *bucket, const char *key, char *out,
			      size_t len, tp_err *e)
{
	struct aws_call c;
	s3_head_object(&c, bucket, key);
	aws_call_one(aws, &c);
	int rc = c.rc;
	out[0] = 0;
	if (rc == TP_OK) {
		s3_version_id(&c, out, len);
	} else if (c.status == 404) {
		rc = tp_errf(e, TP_ENOTFOUND, "CodeObjectGone", "code object s3://%s/%s does not exist",
			     bucket, key);
	} else {
		*e = c.err;
	}
	aws_call_free(&c);
	return rc;
}
