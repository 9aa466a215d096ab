/* consume.h: `taskpipe consume [--] [CMD ARGS...]`, the consumer layer's
 * Runtime API proxy (docs/consumer-layer.md "The consumer layer").
 *
 * It listens on 127.0.0.1 (ephemeral port), starts the user's runtime (CMD,
 * else "$LAMBDA_TASK_ROOT/$_HANDLER") with AWS_LAMBDA_RUNTIME_API pointing
 * at itself, and forwards every Runtime API call to the real one. With
 * TASKPIPE_RATE set it hands the runtime each SQS batch in sub-batches of
 * TASKPIPE_BURST records, each at its slot (rate_sched.h, pace.h), merges
 * their answers (subbatch.h) and handles the handler's backpressure field
 * "rateLimited"; without it, it is a pass-through. */
#ifndef TP_CONSUME_H
#define TP_CONSUME_H

#include "base/base.h"

struct cJSON;

int cmd_consume(int argc, char **argv);

/* Records an event counts for: the length of an SQS event's Records, else 1. */
int consume_count_records(const struct cJSON *event);

/* https://sqs.REGION.amazonaws.com/ACCOUNT/NAME from an SQS queue ARN;
 * region gets REGION. TP_OK or TP_EINVAL. */
int consume_queue_url(const char *arn, char *url, size_t url_len, char *region, size_t region_len);

#endif
