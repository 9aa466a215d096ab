/* names.h: AWS resource names for a pipeline.
 *
 * queue <prefix><pipeline>, dead-letter queue <prefix><pipeline>-dlq,
 * function <prefix><pipeline>. AWS allows [A-Za-z0-9_-] in both, up to 80
 * characters for queues and 64 for functions. A pipeline name must be 1..200
 * characters of that alphabet (anything else is rejected, not rewritten, so
 * two items can never map to one name); a name ending in "-dlq" is
 * rejected too, since it would be another pipeline's dead-letter queue. A name that does not fit is
 * shortened stably: cut, then "-" and the first 8 hex digits of the SHA-256
 * of the full pipeline name, e.g. tp-very-long-tenant-name-...-1a2b3c4d.
 */
#ifndef TP_NAMES_H
#define TP_NAMES_H

#include "base/base.h"

#define NAMES_QUEUE_MAX 80
#define NAMES_FUNCTION_MAX 64

struct names {
	char queue[NAMES_QUEUE_MAX + 1];
	char dlq[NAMES_QUEUE_MAX + 1];
	char function[NAMES_FUNCTION_MAX + 1];
};

/* Check the pipeline name (and the prefix) and derive the names. */
int names_for(const char *prefix, const char *pipeline, struct names *out, tp_err *e);

#endif
