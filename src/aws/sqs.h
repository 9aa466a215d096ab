/* sqs.h: SQS's AWS JSON 1.0 protocol, the requests taskpipe makes, with no
 * I/O: each builder fills an aws_call (POST / with X-Amz-Target
 * AmazonSQS.<op>, the body owned by the call, released by aws_call_free)
 * for aws_call_one / aws_call_many / awsj_run; core/ names the operation
 * and never writes a body. cJSON given to a builder is consumed. Names,
 * URLs and message bodies travel as JSON strings (cJSON escapes them).
 * API reference: https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_Operations.html */
#ifndef TP_SQS_H
#define TP_SQS_H

#include "aws/aws.h"

struct cJSON;

/* ---- queues ---- */

/* GetQueueUrl {"QueueName"} */
void sqs_get_queue_url(struct aws_call *c, const char *name);
/* GetQueueAttributes {"QueueUrl", "AttributeNames": names[0..n)} ("All": every one) */
void sqs_get_queue_attributes(struct aws_call *c, const char *url, const char *const *names, size_t n);
/* CreateQueue {"QueueName", "Attributes", "tags"}; attrs, tags consumed (NULL: left out) */
void sqs_create_queue(struct aws_call *c, const char *name, struct cJSON *attrs, struct cJSON *tags);
/* SetQueueAttributes {"QueueUrl", "Attributes"}; attrs consumed */
void sqs_set_queue_attributes(struct aws_call *c, const char *url, struct cJSON *attrs);
/* DeleteQueue {"QueueUrl"} */
void sqs_delete_queue(struct aws_call *c, const char *url);
/* PurgeQueue {"QueueUrl"} */
void sqs_purge_queue(struct aws_call *c, const char *url);
/* ListQueues {"QueueNamePrefix", "MaxResults", "NextToken"} (token NULL: the first page) */
void sqs_list_queues(struct aws_call *c, const char *prefix, int max_results, const char *token);

/* ---- a queue's attributes, from typed fields ---- */

/* The attributes taskpipe sets on a queue. A value < 0 is left out
 * (SQS keeps its own or its default); SQS_QUEUE_ATTRS_INIT sets none. */
struct sqs_queue_attrs {
	long visibility_timeout;    /* VisibilityTimeout (s) */
	long retention;             /* MessageRetentionPeriod (s) */
	long receive_wait;          /* ReceiveMessageWaitTimeSeconds */
	long delay;                 /* DelaySeconds */
	long max_size;              /* MaximumMessageSize (bytes) */
	const char *dlq_arn;        /* RedrivePolicy.deadLetterTargetArn; NULL: no RedrivePolicy */
	long max_receive;           /* RedrivePolicy.maxReceiveCount */
};
#define SQS_QUEUE_ATTRS_INIT                                                                       \
	{ .visibility_timeout = -1, .retention = -1, .receive_wait = -1, .delay = -1, .max_size = -1 }
/* The Attributes map of a for CreateQueue / SetQueueAttributes (new
 * object): every value a string, as SQS takes them ("60"), in the order
 * of the struct, RedrivePolicy last. */
struct cJSON *sqs_queue_attrs_json(const struct sqs_queue_attrs *a);
/* RedrivePolicy's value, JSON text inside the string attribute:
 * {"deadLetterTargetArn":arn,"maxReceiveCount":n}. Caller frees. */
char *sqs_redrive_policy(const char *dlq_arn, long max_receive);

/* ---- tags ---- */

/* TagQueue {"QueueUrl", "Tags": {k: v}}; tags consumed */
void sqs_tag_queue(struct aws_call *c, const char *url, struct cJSON *tags);
/* UntagQueue {"QueueUrl", "TagKeys": [k]}; keys consumed */
void sqs_untag_queue(struct aws_call *c, const char *url, struct cJSON *keys);
/* ListQueueTags {"QueueUrl"} */
void sqs_list_queue_tags(struct aws_call *c, const char *url);

/* ---- messages ---- */

/* ReceiveMessage {"QueueUrl", "MaxNumberOfMessages", "WaitTimeSeconds",
 * "VisibilityTimeout", "MessageAttributeNames": ["All"]} */
void sqs_receive_message(struct aws_call *c, const char *url, int max, int wait_s, int visibility_s);
/* SendMessageBatch {"QueueUrl", "Entries"}; entries (an array of
 * sqs_send_entry()) consumed */
void sqs_send_message_batch(struct aws_call *c, const char *url, struct cJSON *entries);
/* DeleteMessageBatch {"QueueUrl", "Entries"}; entries (an array of
 * sqs_delete_entry()) consumed */
void sqs_delete_message_batch(struct aws_call *c, const char *url, struct cJSON *entries);
/* A SendMessageBatch entry {"Id", "MessageBody", "MessageAttributes" (attrs
 * copied; NULL: left out), "DelaySeconds" (delay_s < 0: left out)} (new object). */
struct cJSON *sqs_send_entry(const char *id, const char *body, const struct cJSON *attrs, int delay_s);
/* A DeleteMessageBatch entry {"Id", "ReceiptHandle"} (new object). */
struct cJSON *sqs_delete_entry(const char *id, const char *receipt);
/* StartMessageMoveTask {"SourceArn", "DestinationArn"}: a DLQ's messages back to its source. */
void sqs_start_message_move_task(struct aws_call *c, const char *source_arn, const char *dest_arn);

#endif
