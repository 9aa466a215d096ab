/* codemark.h: the function Description that records a function's code
 * object, "taskpipe code s3://bucket/key[#version]". reconcile writes it,
 * drift and rollout compare with it; all of them build it here, so a long
 * key is never cut differently in two places.
 *
 * Lambda limits Description to 256 characters
 * (https://docs.aws.amazon.com/lambda/latest/api/API_UpdateFunctionConfiguration.html).
 * A marker that would be longer keeps the head of bucket/key and replaces
 * the rest with "~" and 16 hex digits of SHA-256(bucket/key), so two long
 * keys that share a prefix still get different markers; "#version" stays
 * readable after it (a version id over 64 characters is hashed too). */
#ifndef TP_CODEMARK_H
#define TP_CODEMARK_H

#include <stddef.h>

#define CODEMARK_MAX 256          /* characters, without the NUL */

/* out: CODEMARK_MAX + 1 bytes. version may be NULL. */
void codemark_make(const char *bucket, const char *key, const char *version, char *out);

/* 1 when desc is the marker of bucket/key at any version (or none). */
int codemark_is_object(const char *desc, const char *bucket, const char *key);

#endif
