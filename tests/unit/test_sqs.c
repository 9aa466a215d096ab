/* test_sqs.c: SQS's request builders (aws/sqs.c): each call's service,
 * operation and body, byte for byte as core/ sent them before the builders
 * (key order: QueueUrl first, as the API reference lists it); names, URLs
 * and message bodies that need JSON escaping. No I/O. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "aws/sqs.h"

#define URL "https://sqs.us-east-1.amazonaws.com/123456789012/tp-orders"

/* c is a JSON 1.0 SQS call of op whose body is exactly want; c is freed. */
static void call_is(struct aws_call *c, const char *op, const char *want)
{
	assert_int_equal(c->service, SVC_SQS);
	assert_string_equal(c->op, op);
	assert_null(c->method);     /* POST / with X-Amz-Target */
	assert_null(c->path);
	assert_null(c->query);
	assert_non_null(c->body);
	assert_int_equal(c->body_len, strlen(c->body));
	if (strcmp(c->body, want) != 0)
		fail_msg("%s body\n  got  %s\n  want %s", op, c->body, want);
	aws_call_free(c);
}

static void test_queues(void **state)
{
	(void)state;
	struct aws_call c;
	sqs_get_queue_url(&c, "tp-orders-dlq");
	call_is(&c, "GetQueueUrl", "{\"QueueName\":\"tp-orders-dlq\"}");
	/* a name SQS would refuse still travels as one JSON string */
	sqs_get_queue_url(&c, "a\"b\\c\n");
	call_is(&c, "GetQueueUrl", "{\"QueueName\":\"a\\\"b\\\\c\\n\"}");

	static const char *const all[] = { "All" };
	sqs_get_queue_attributes(&c, URL, all, 1);
	call_is(&c, "GetQueueAttributes", "{\"QueueUrl\":\"" URL "\",\"AttributeNames\":[\"All\"]}");
	static const char *const depth[] = { "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
					     "ApproximateNumberOfMessagesDelayed" };
	sqs_get_queue_attributes(&c, URL, depth, 3);
	call_is(&c, "GetQueueAttributes",
		"{\"QueueUrl\":\"" URL "\",\"AttributeNames\":[\"ApproximateNumberOfMessages\","
		"\"ApproximateNumberOfMessagesNotVisible\",\"ApproximateNumberOfMessagesDelayed\"]}");

	cJSON *attrs = cJSON_CreateObject(), *tags = cJSON_CreateObject();
	cJSON_AddStringToObject(attrs, "VisibilityTimeout", "60");
	cJSON_AddStringToObject(attrs, "RedrivePolicy",
				"{\"deadLetterTargetArn\":\"arn:aws:sqs:us-east-1:1:tp-orders-dlq\",\"maxReceiveCount\":5}");
	cJSON_AddStringToObject(tags, "taskpipe:pipeline", "orders");
	sqs_create_queue(&c, "tp-orders", attrs, tags);
	call_is(&c, "CreateQueue",
		"{\"QueueName\":\"tp-orders\",\"Attributes\":{\"VisibilityTimeout\":\"60\",\"RedrivePolicy\":"
		"\"{\\\"deadLetterTargetArn\\\":\\\"arn:aws:sqs:us-east-1:1:tp-orders-dlq\\\",\\\"maxReceiveCount\\\":5}\"},"
		"\"tags\":{\"taskpipe:pipeline\":\"orders\"}}");
	sqs_create_queue(&c, "bare", NULL, NULL);
	call_is(&c, "CreateQueue", "{\"QueueName\":\"bare\"}");

	attrs = cJSON_CreateObject();
	cJSON_AddStringToObject(attrs, "VisibilityTimeout", "30");
	sqs_set_queue_attributes(&c, URL, attrs);
	call_is(&c, "SetQueueAttributes", "{\"QueueUrl\":\"" URL "\",\"Attributes\":{\"VisibilityTimeout\":\"30\"}}");

	sqs_delete_queue(&c, URL);
	call_is(&c, "DeleteQueue", "{\"QueueUrl\":\"" URL "\"}");
	sqs_purge_queue(&c, URL);
	call_is(&c, "PurgeQueue", "{\"QueueUrl\":\"" URL "\"}");

	sqs_list_queues(&c, "tp-a", 1000, NULL);
	call_is(&c, "ListQueues", "{\"QueueNamePrefix\":\"tp-a\",\"MaxResults\":1000}");
	sqs_list_queues(&c, "tp-", 1000, "tok/+=");
	call_is(&c, "ListQueues", "{\"QueueNamePrefix\":\"tp-\",\"MaxResults\":1000,\"NextToken\":\"tok/+=\"}");
}

static void test_tags(void **state)
{
	(void)state;
	struct aws_call c;
	cJSON *add = cJSON_CreateObject();
	cJSON_AddStringToObject(add, "team", "a \"b\"");
	sqs_tag_queue(&c, URL, add);
	call_is(&c, "TagQueue", "{\"QueueUrl\":\"" URL "\",\"Tags\":{\"team\":\"a \\\"b\\\"\"}}");
	const char *keys[] = { "team", "owner" };
	sqs_untag_queue(&c, URL, cJSON_CreateStringArray(keys, 2));
	call_is(&c, "UntagQueue", "{\"QueueUrl\":\"" URL "\",\"TagKeys\":[\"team\",\"owner\"]}");
	sqs_list_queue_tags(&c, URL);
	call_is(&c, "ListQueueTags", "{\"QueueUrl\":\"" URL "\"}");
}

static void test_messages(void **state)
{
	(void)state;
	struct aws_call c;
	sqs_receive_message(&c, URL, 10, 1, 60);
	call_is(&c, "ReceiveMessage",
		"{\"QueueUrl\":\"" URL "\",\"MaxNumberOfMessages\":10,\"WaitTimeSeconds\":1,"
		"\"VisibilityTimeout\":60,\"MessageAttributeNames\":[\"All\"]}");

	/* send.c's entries: Id, MessageBody, DelaySeconds when set; a body with
	 * quotes, a newline and UTF-8 is one escaped JSON string */
	cJSON *en = cJSON_CreateArray();
	cJSON_AddItemToArray(en, sqs_send_entry("t0", "{\"n\":1}\nü", NULL, -1));
	cJSON_AddItemToArray(en, sqs_send_entry("t1", "x", NULL, 0));
	cJSON_AddItemToArray(en, sqs_send_entry("t2", "y", NULL, 900));
	sqs_send_message_batch(&c, URL, en);
	call_is(&c, "SendMessageBatch",
		"{\"QueueUrl\":\"" URL "\",\"Entries\":[{\"Id\":\"t0\",\"MessageBody\":\"{\\\"n\\\":1}\\nü\"},"
		"{\"Id\":\"t1\",\"MessageBody\":\"x\",\"DelaySeconds\":0},"
		"{\"Id\":\"t2\",\"MessageBody\":\"y\",\"DelaySeconds\":900}]}");

	/* a redrive's entries carry the message's attributes (copied) */
	cJSON *ma = cJSON_Parse("{\"k\":{\"DataType\":\"String\",\"StringValue\":\"v\"}}");
	en = cJSON_CreateArray();
	cJSON_AddItemToArray(en, sqs_send_entry("m0", "b", ma, -1));
	cJSON_Delete(ma);
	sqs_send_message_batch(&c, URL, en);
	call_is(&c, "SendMessageBatch",
		"{\"QueueUrl\":\"" URL "\",\"Entries\":[{\"Id\":\"m0\",\"MessageBody\":\"b\","
		"\"MessageAttributes\":{\"k\":{\"DataType\":\"String\",\"StringValue\":\"v\"}}}]}");

	en = cJSON_CreateArray();
	cJSON_AddItemToArray(en, sqs_delete_entry("0", "AQE+rh/=="));
	cJSON_AddItemToArray(en, sqs_delete_entry("1", NULL));
	sqs_delete_message_batch(&c, URL, en);
	call_is(&c, "DeleteMessageBatch",
		"{\"QueueUrl\":\"" URL "\",\"Entries\":[{\"Id\":\"0\",\"ReceiptHandle\":\"AQE+rh/==\"},"
		"{\"Id\":\"1\",\"ReceiptHandle\":\"\"}]}");

	sqs_start_message_move_task(&c, "arn:aws:sqs:us-east-1:1:tp-orders-dlq", NULL);
	call_is(&c, "StartMessageMoveTask",
		"{\"SourceArn\":\"arn:aws:sqs:us-east-1:1:tp-orders-dlq\",\"DestinationArn\":\"\"}");
}

/* A queue's attributes from typed fields: every value a string, unset
 * (< 0) ones left out, 0 kept, RedrivePolicy last as JSON text. */
static void test_queue_attrs(void **state)
{
	(void)state;
	struct aws_call c;
	struct sqs_queue_attrs a = { .visibility_timeout = 60, .retention = 1209600, .receive_wait = 20,
				     .delay = 0, .max_size = 262144, .dlq_arn = "arn:aws:sqs:us-east-1:1:tp-orders-dlq",
				     .max_receive = 5 };
	sqs_set_queue_attributes(&c, URL, sqs_queue_attrs_json(&a));
	call_is(&c, "SetQueueAttributes",
		"{\"QueueUrl\":\"" URL "\",\"Attributes\":{\"VisibilityTimeout\":\"60\","
		"\"MessageRetentionPeriod\":\"1209600\",\"ReceiveMessageWaitTimeSeconds\":\"20\","
		"\"DelaySeconds\":\"0\",\"MaximumMessageSize\":\"262144\",\"RedrivePolicy\":"
		"\"{\\\"deadLetterTargetArn\\\":\\\"arn:aws:sqs:us-east-1:1:tp-orders-dlq\\\",\\\"maxReceiveCount\\\":5}\"}}");

	/* none set, no DLQ: an empty map */
	struct sqs_queue_attrs none = SQS_QUEUE_ATTRS_INIT;
	sqs_create_queue(&c, "tp-orders-dlq", sqs_queue_attrs_json(&none), NULL);
	call_is(&c, "CreateQueue", "{\"QueueName\":\"tp-orders-dlq\",\"Attributes\":{}}");
	none.visibility_timeout = 45;
	sqs_set_queue_attributes(&c, URL, sqs_queue_attrs_json(&none));
	call_is(&c, "SetQueueAttributes", "{\"QueueUrl\":\"" URL "\",\"Attributes\":{\"VisibilityTimeout\":\"45\"}}");
}

/* RedrivePolicy: an integer count, the ARN escaped inside the JSON text. */
static void test_redrive_policy(void **state)
{
	(void)state;
	char *rp = sqs_redrive_policy("arn:aws:sqs:eu-west-1:1:tp-p-dlq", 7);
	assert_string_equal(rp, "{\"deadLetterTargetArn\":\"arn:aws:sqs:eu-west-1:1:tp-p-dlq\",\"maxReceiveCount\":7}");
	free(rp);
	rp = sqs_redrive_policy("a\"b", 1000);
	assert_string_equal(rp, "{\"deadLetterTargetArn\":\"a\\\"b\",\"maxReceiveCount\":1000}");
	free(rp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_queues),
		cmocka_unit_test(test_tags),
		cmocka_unit_test(test_messages),
		cmocka_unit_test(test_queue_attrs),
		cmocka_unit_test(test_redrive_policy),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
