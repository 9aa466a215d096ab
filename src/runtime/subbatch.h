/* subbatch.h: a batch of SQS records cut into sub-batches for the runtime,
 * and their answers merged into the one answer Lambda expects (docs/consumer-layer.md
 * "The consumer layer"). Pure: cJSON in, cJSON out.
 *
 * Lambda's rules for a partial batch response ("Handling errors for an SQS
 * event source", services-sqs-errorhandling.html) apply per sub-batch: an
 * answer that is not an object, or has no/null/empty batchItemFailures, is
 * a success; a batchItemFailures that is not a list, or an entry whose
 * itemIdentifier is missing, empty or not a record of the sub-batch, fails
 * the whole sub-batch. */
#ifndef TP_SUBBATCH_H
#define TP_SUBBATCH_H

struct cJSON;

/* {"Records": [records from .. from+count-1 of event]} (new; caller frees). */
struct cJSON *subbatch_event(const struct cJSON *event, int from, int count);

/* Append {"itemIdentifier": messageId} to failures (an array) for every
 * record of event from .. from+count-1 not already listed. */
void subbatch_fail(struct cJSON *failures, const struct cJSON *event, int from, int count);

/* Merge one sub-batch's answer (may be NULL: not JSON) into failures.
 * Returns how many records it failed. */
int subbatch_merge(struct cJSON *failures, const struct cJSON *answer, const struct cJSON *event, int from,
		   int count);

#endif
