/* names.c: resource names within AWS's limits (see names.h). */
#include "core/names.h"

#include "base/hash.h"

#include <stdio.h>
#include <string.h>

#define PIPELINE_MAX 200

static int valid_chars(const char *s)
{
	for (; *s; s++) {
		char c = *s;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return 0;
	}
	return 1;
}

/* prefix + pipeline + suffix, shortened to max with a hash of pipeline. */
static void fit(char *out, size_t max, const char *prefix, const char *pipeline, const char *suffix,
		const char *hash8)
{
	size_t need = strlen(prefix) + strlen(pipeline) + strlen(suffix);
	if (need <= max) {
		snprintf(out, max + 1, "%s%s%s", prefix, pipeline, suffix);
		return;
	}
	/* keep: prefix + head of pipeline + "-" + hash8 + suffix */
	size_t keep = max - strlen(prefix) - 9 - strlen(suffix);
	snprintf(out, max + 1, "%s%.*s-%s%s", prefix, (int)keep, pipeline, hash8, suffix);
}

int names_for(const char *prefix, const char *pipeline, struct names *out, tp_err *e)
{
	size_t n = strlen(pipeline);
	if (n == 0)
		return tp_errf(e, TP_EINVAL, "BadName", "pipeline name is empty");
	if (n > PIPELINE_MAX)
		return tp_errf(e, TP_EINVAL, "BadName", "pipeline name is %zu characters; at most %d", n,
			       PIPELINE_MAX);
	if (!valid_chars(pipeline))
		return tp_errf(e, TP_EINVAL, "BadName",
			       "pipeline name '%.80s' has characters AWS does not allow in queue and function names (use A-Z a-z 0-9 - _)",
			       pipeline);
	if (n >= 4 && strcmp(pipeline + n - 4, "-dlq") == 0)
		return tp_errf(e, TP_EINVAL, "BadName",
			       "pipeline name '%.80s' ends in -dlq, which would collide with another pipeline's dead-letter queue",
			       pipeline);
	if (!valid_chars(prefix) || strlen(prefix) > 40)
		return tp_errf(e, TP_EINVAL, "BadName",
			       "prefix '%.80s' must be at most 40 characters of A-Z a-z 0-9 - _", prefix);
	char hex[HASH_SHA256_HEX_LEN];
	hash_sha256_hex(pipeline, n, hex);
	hex[8] = 0;
	fit(out->queue, NAMES_QUEUE_MAX, prefix, pipeline, "", hex);
	fit(out->dlq, NAMES_QUEUE_MAX, prefix, pipeline, "-dlq", hex);
	fit(out->function, NAMES_FUNCTION_MAX, prefix, pipeline, "", hex);
	return TP_OK;
}
