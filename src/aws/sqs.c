/* sqs.c: SQS's JSON 1.0 requests (see sqs.h). */
#include "aws/sqs.h"
#include "aws/awsjson.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>

/* A body that starts with the queue's URL, as the API reference lists it. */
static cJSON *at(const char *url)
{
	cJSON *in = cJSON_CreateObject();
	cJSON_AddStringToObject(in, "QueueUrl", url ? url : "");
	return in;
}

void sqs_get_queue_url(struct aws_call *c, const char *name)
{
	cJSON *in = cJSON_CreateObject();
	cJSON_AddStringToObject(in, "QueueName", name);
	awsj_prepare(c, SVC_SQS, "GetQueueUrl", in);
}

void sqs_get_queue_attributes(struct aws_call *c, const char *url, const char *const *names, size_t n)
{
	cJSON *in = at(url), *a = cJSON_AddArrayToObject(in, "AttributeNames");
	for (size_t i = 0; i < n; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(names[i]));
	awsj_prepare(c, SVC_SQS, "GetQueueAttributes", in);
}

void sqs_create_queue(struct aws_call *c, const char *name, cJSON *attrs, cJSON *tags)
{
	cJSON *in = cJSON_CreateObject();
	cJSON_AddStringToObject(in, "QueueName", name);
	if (attrs)
		cJSON_AddItemToObject(in, "Attributes", attrs);
	if (tags)
		cJSON_AddItemToObject(in, "tags", tags);   /* lower case: CreateQueue's own spelling */
	awsj_prepare(c, SVC_SQS, "CreateQueue", in);
}

void sqs_set_queue_attributes(struct aws_call *c, const char *url, cJSON *attrs)
{
	cJSON *in = at(url);
	cJSON_AddItemToObject(in, "Attributes", attrs ? attrs : cJSON_CreateObject());
	awsj_prepare(c, SVC_SQS, "SetQueueAttributes", in);
}

void sqs_delete_queue(struct aws_call *c, const char *url)
{
	awsj_prepare(c, SVC_SQS, "DeleteQueue", at(url));
}

void sqs_purge_queue(struct aws_call *c, const char *url)
{
	awsj_prepare(c, SVC_SQS, "PurgeQueue", at(url));
}

void sqs_list_queues(struct aws_call *c, const char *prefix, int max_results, const char *token)
{
	cJSON *in = cJSON_CreateObject();
	cJSON_AddStringToObject(in, "QueueNamePrefix", prefix);
	cJSON_AddNumberToObject(in, "MaxResults", max_results);
	if (token)
		cJSON_AddStringToObject(in, "NextToken", token);
	awsj_prepare(c, SVC_SQS, "ListQueues", in);
}

/* name: "n" (a string, as SQS takes every attribute) when n >= 0. */
static void add_count(cJSON *attrs, const char *name, long n)
{
	if (n < 0)
		return;
	char s[32];
	snprintf(s, sizeof s, "%ld", n);
	cJSON_AddStringToObject(attrs, name, s);
}

cJSON *sqs_queue_attrs_json(const struct sqs_queue_attrs *a)
{
	cJSON *attrs = cJSON_CreateObject();
	add_count(attrs, "VisibilityTimeout", a->visibility_timeout);
	add_count(attrs, "MessageRetentionPeriod", a->retention);
	add_count(attrs, "ReceiveMessageWaitTimeSeconds", a->receive_wait);
	add_count(attrs, "DelaySeconds", a->delay);
	add_count(attrs, "MaximumMessageSize", a->max_size);
	if (a->dlq_arn) {
		char *rp = sqs_redrive_policy(a->dlq_arn, a->max_receive);
		cJSON_AddStringToObject(attrs, "RedrivePolicy", rp);
		free(rp);
	}
	return attrs;
}

char *sqs_redrive_policy(const char *dlq_arn, long max_receive)
{
	cJSON *rp = cJSON_CreateObject();
	cJSON_AddStringToObject(rp, "deadLetterTargetArn", dlq_arn ? dlq_arn : "");
	cJSON_AddNumberToObject(rp, "maxReceiveCount", (double)max_receive);
	char *s = cJSON_PrintUnformatted(rp);
	cJSON_Delete(rp);
	return s;
}

void sqs_tag_queue(struct aws_call *c, const char *url, cJSON *tags)
{
	cJSON *in = at(url);
	cJSON_AddItemToObject(in, "Tags", tags ? tags : cJSON_CreateObject());
	awsj_prepare(c, SVC_SQS, "TagQueue", in);
}

void sqs_untag_queue(struct aws_call *c, const char *url, cJSON *keys)
{
	cJSON *in = at(url);
	cJSON_AddItemToObject(in, "TagKeys", keys ? keys : cJSON_CreateArray());
	awsj_prepare(c, SVC_SQS, "UntagQueue", in);
}

void sqs_list_queue_tags(struct aws_call *c, const char *url)
{
	awsj_prepare(c, SVC_SQS, "ListQueueTags", at(url));
}

void sqs_receive_message(struct aws_call *c, const char *url, int max, int wait_s, int visibility_s)
{
	cJSON *in = at(url);
	cJSON_AddNumberToObject(in, "MaxNumberOfMessages", max);
	cJSON_AddNumberToObject(in, "WaitTimeSeconds", wait_s);
	cJSON_AddNumberToObject(in, "VisibilityTimeout", visibility_s);
	cJSON_AddItemToArray(cJSON_AddArrayToObject(in, "MessageAttributeNames"), cJSON_CreateString("All"));
	awsj_prepare(c, SVC_SQS, "ReceiveMessage", in);
}

static void batch(struct aws_call *c, const char *op, const char *url, cJSON *entries)
{
	cJSON *in = at(url);
	cJSON_AddItemToObject(in, "Entries", entries ? entries : cJSON_CreateArray());
	awsj_prepare(c, SVC_SQS, op, in);
}

void sqs_send_message_batch(struct aws_call *c, const char *url, cJSON *entries)
{
	batch(c, "SendMessageBatch", url, entries);
}

void sqs_delete_message_batch(struct aws_call *c, const char *url, cJSON *entries)
{
	batch(c, "DeleteMessageBatch", url, entries);
}

cJSON *sqs_send_entry(const char *id, const char *body, const cJSON *attrs, int delay_s)
{
	cJSON *en = cJSON_CreateObject();
	cJSON_AddStringToObject(en, "Id", id);
	cJSON_AddStringToObject(en, "MessageBody", body ? body : "");
	if (attrs)
		cJSON_AddItemToObject(en, "MessageAttributes", cJSON_Duplicate(attrs, 1));
	if (delay_s >= 0)
		cJSON_AddNumberToObject(en, "DelaySeconds", delay_s);
	return en;
}

cJSON *sqs_delete_entry(const char *id, const char *receipt)
{
	cJSON *en = cJSON_CreateObject();
	cJSON_AddStringToObject(en, "Id", id);
	cJSON_AddStringToObject(en, "ReceiptHandle", receipt ? receipt : "");
	return en;
}

void sqs_start_message_move_task(struct aws_call *c, const char *source_arn, const char *dest_arn)
{
	cJSON *in = cJSON_CreateObject();
	cJSON_AddStringToObject(in, "SourceArn", source_arn ? source_arn : "");
	cJSON_AddStringToObject(in, "DestinationArn", dest_arn ? dest_arn : "");
	awsj_prepare(c, SVC_SQS, "StartMessageMoveTask", in);
}
