/* test_fake_sqs.c: the fake's SQS (tests/fake/fake_sqs.c) through
 * taskpipe's own client and request builders (aws/sqs.h): each operation's
 * answer and its errors in SQS's JSON wire format (__type and
 * x-amzn-query-error), QueueDeletedRecently in simulated time, ListQueues
 * pages, visibility, redrive to the DLQ after maxReceiveCount, the move
 * task back, batch limits, and what the other services ask of it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/aws.h"
#include "aws/awsjson.h"
#include "aws/sqs.h"
#include "fake/fake.h"
#include "fake/fake_int.h"

#define URL(name) "https://sqs.eu-west-1.amazonaws.com/123456789012/" name
#define ARN(name) "arn:aws:sqs:eu-west-1:123456789012:" name

struct env {
	struct fake *f;
	struct aws *a;
};

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof *e);
	e->f = fake_new(NULL);
	fake_use_clock(e->f);
	struct aws_options o = { .region = "eu-west-1", .seed = 1, .lambda_rps = -1, .lambda_get_rps = -1 };
	e->a = fake_client(e->f, "AKIDFAKE", &o);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;
	aws_free(e->a);
	fake_free(e->f);
	free(e);
	return 0;
}

/* Run op with the JSON body text; *out the answer (may be NULL). Returns rc;
 * the error's code in code (when given). */
static int sqs(struct env *e, const char *op, const char *body, cJSON **out, char *code)
{
	cJSON *in = cJSON_Parse(body);
	assert_non_null(in);
	tp_err err = { 0 };
	cJSON *res = NULL;
	int rc = awsj_call(e->a, SVC_SQS, op, in, &res, &err);
	cJSON_Delete(in);
	if (code)
		snprintf(code, 128, "%s", rc == TP_OK ? "" : err.code);
	if (out)
		*out = res;
	else
		cJSON_Delete(res);
	return rc;
}

/* A prepared call (sqs.h's builder) run: rc, and the raw answer kept in c. */
static int run(struct env *e, struct aws_call *c)
{
	return aws_call_one(e->a, c);
}

static void ok(struct env *e, const char *op, const char *body)
{
	char code[128];
	int rc = sqs(e, op, body, NULL, code);
	if (rc != TP_OK)
		fail_msg("%s %s: %s", op, body, code);
}

static void fails(struct env *e, const char *op, const char *body, const char *want)
{
	char code[128];
	if (sqs(e, op, body, NULL, code) == TP_OK)
		fail_msg("%s %s: succeeded, wanted %s", op, body, want);
	if (strcmp(code, want) != 0)
		fail_msg("%s %s: %s, wanted %s", op, body, code, want);
}

static const char *attr(cJSON *o, const char *name)
{
	return cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "Attributes"), name));
}

static cJSON *attrs(struct env *e, const char *url)
{
	cJSON *out = NULL;
	const char *all[] = { "All" };
	struct aws_call c;
	sqs_get_queue_attributes(&c, url, all, 1);
	tp_err err = { 0 };
	assert_int_equal(awsj_run(e->a, &c, &out, &err), TP_OK);
	return out;
}

static void test_create_get_url_and_attributes(void **state)
{
	struct env *e = *state;
	cJSON *out = NULL;
	assert_int_equal(sqs(e, "CreateQueue",
			     "{\"QueueName\":\"tp-a\",\"Attributes\":{\"VisibilityTimeout\":\"60\"},"
			     "\"tags\":{\"taskpipe:owner\":\"me\"}}", &out, NULL), TP_OK);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(out, "QueueUrl")), URL("tp-a"));
	cJSON_Delete(out);
	/* the same name and attributes: the same URL */
	ok(e, "CreateQueue", "{\"QueueName\":\"tp-a\",\"Attributes\":{\"VisibilityTimeout\":\"60\"}}");
	/* a different value: QueueAlreadyExists (query code; __type QueueNameExists) */
	struct aws_call c;
	sqs_create_queue(&c, "tp-a", cJSON_Parse("{\"VisibilityTimeout\":\"61\"}"), NULL);
	assert_true(run(e, &c) < 0);
	assert_int_equal(c.status, 400);
	assert_string_equal(c.err.code, "QueueAlreadyExists");
	assert_non_null(strstr(c.resp.data, "com.amazonaws.sqs#QueueNameExists"));
	assert_non_null(strstr(c.resp_headers.data, "x-amzn-query-error: QueueAlreadyExists;Sender"));
	aws_call_free(&c);

	assert_int_equal(sqs(e, "GetQueueUrl", "{\"QueueName\":\"tp-a\"}", &out, NULL), TP_OK);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(out, "QueueUrl")), URL("tp-a"));
	cJSON_Delete(out);
	sqs_get_queue_url(&c, "tp-none");
	assert_int_equal(run(e, &c), TP_ENOTFOUND);
	assert_string_equal(c.err.code, "AWS.SimpleQueueService.NonExistentQueue");
	assert_non_null(strstr(c.resp.data, "com.amazonaws.sqs#QueueDoesNotExist"));
	aws_call_free(&c);

	out = attrs(e, URL("tp-a"));
	assert_string_equal(attr(out, "VisibilityTimeout"), "60");
	assert_string_equal(attr(out, "MessageRetentionPeriod"), "345600");
	assert_string_equal(attr(out, "DelaySeconds"), "0");
	assert_string_equal(attr(out, "ApproximateNumberOfMessages"), "0");
	assert_string_equal(attr(out, "ApproximateNumberOfMessagesNotVisible"), "0");
	assert_string_equal(attr(out, "ApproximateNumberOfMessagesDelayed"), "0");
	assert_string_equal(attr(out, "QueueArn"), ARN("tp-a"));
	assert_string_equal(attr(out, "SqsManagedSseEnabled"), "true");
	assert_string_equal(attr(out, "MaximumMessageSize"), "262144");
	assert_null(attr(out, "RedrivePolicy"));
	cJSON_Delete(out);
	/* by name: only those asked */
	const char *two[] = { "QueueArn", "DelaySeconds" };
	tp_err err = { 0 };
	sqs_get_queue_attributes(&c, URL("tp-a"), two, 2);
	assert_int_equal(awsj_run(e->a, &c, &out, &err), TP_OK);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(out, "Attributes")), 2);
	cJSON_Delete(out);
	fails(e, "GetQueueAttributes", "{\"QueueUrl\":\"" URL("tp-a") "\",\"AttributeNames\":[\"Colour\"]}",
	      "InvalidAttributeName");
	fails(e, "GetQueueAttributes", "{\"QueueUrl\":\"" URL("tp-b") "\",\"AttributeNames\":[\"All\"]}",
	      "AWS.SimpleQueueService.NonExistentQueue");
}

static void test_create_refuses_bad_input(void **state)
{
	struct env *e = *state;
	fails(e, "CreateQueue", "{\"QueueName\":\"has space\"}", "InvalidParameterValue");
	fails(e, "CreateQueue", "{\"QueueName\":\"q\",\"Attributes\":{\"VisibilityTimeout\":\"43201\"}}",
	      "InvalidAttributeValue");
	fails(e, "CreateQueue", "{\"QueueName\":\"q\",\"Attributes\":{\"VisibilityTimeout\":\"x\"}}",
	      "InvalidAttributeValue");
	fails(e, "CreateQueue", "{\"QueueName\":\"q\",\"Attributes\":{\"Colour\":\"red\"}}",
	      "InvalidAttributeName");
	fails(e, "CreateQueue", "{\"QueueName\":\"q\",\"Attributes\":{\"QueueArn\":\"x\"}}",
	      "InvalidAttributeName");
	fails(e, "CreateQueue", "{\"QueueName\":\"q.fifo\",\"Attributes\":{\"FifoQueue\":\"true\"}}",
	      "InvalidParameterValue");
	fails(e, "CreateQueue", "{\"QueueName\":\"q\",\"Attributes\":{\"FifoQueue\":\"true\"}}",
	      "InvalidAttributeName");
	fails(e, "CreateQueue", "{\"QueueName\":\"q\",\"Colour\":\"red\"}", "InvalidParameterValue");
	fails(e, "CreateQueue", "{}", "MissingParameter");
	/* a redrive policy naming a DLQ that does not exist */
	fails(e, "CreateQueue", "{\"QueueName\":\"q\",\"Attributes\":{\"RedrivePolicy\":"
	      "\"{\\\"deadLetterTargetArn\\\":\\\"" ARN("nodlq") "\\\",\\\"maxReceiveCount\\\":3}\"}}",
	      "InvalidParameterValue");
	fails(e, "GetQueueUrl", "{\"QueueName\":\"q\"}", "AWS.SimpleQueueService.NonExistentQueue");
}

static void test_deleted_recently_in_simulated_time(void **state)
{
	struct env *e = *state;
	ok(e, "CreateQueue", "{\"QueueName\":\"tp-d\"}");
	ok(e, "DeleteQueue", "{\"QueueUrl\":\"" URL("tp-d") "\"}");
	fails(e, "GetQueueUrl", "{\"QueueName\":\"tp-d\"}", "AWS.SimpleQueueService.NonExistentQueue");
	fails(e, "DeleteQueue", "{\"QueueUrl\":\"" URL("tp-d") "\"}", "AWS.SimpleQueueService.NonExistentQueue");
	struct aws_call c;
	sqs_create_queue(&c, "tp-d", NULL, NULL);
	assert_true(run(e, &c) < 0);
	assert_string_equal(c.err.code, "AWS.SimpleQueueService.QueueDeletedRecently");
	assert_non_null(strstr(c.resp.data, "com.amazonaws.sqs#QueueDeletedRecently"));
	aws_call_free(&c);
	fake_advance_ms(e->f, 59000);
	fails(e, "CreateQueue", "{\"QueueName\":\"tp-d\"}", "AWS.SimpleQueueService.QueueDeletedRecently");
	fake_advance_ms(e->f, 1000);
	ok(e, "CreateQueue", "{\"QueueName\":\"tp-d\",\"Attributes\":{\"DelaySeconds\":\"5\"}}");
	cJSON *out = attrs(e, URL("tp-d"));
	assert_string_equal(attr(out, "DelaySeconds"), "5");   /* a new queue, not the old one */
	cJSON_Delete(out);
}

static void test_set_attributes_and_tags(void **state)
{
	struct env *e = *state;
	ok(e, "CreateQueue", "{\"QueueName\":\"tp-dlq\"}");
	ok(e, "CreateQueue", "{\"QueueName\":\"tp-s\",\"tags\":{\"a\":\"1\",\"b\":\"2\"}}");
	struct aws_call c;
	sqs_set_queue_attributes(&c, URL("tp-s"),
				 cJSON_Parse("{\"VisibilityTimeout\":\"120\",\"RedrivePolicy\":"
					     "\"{\\\"deadLetterTargetArn\\\":\\\"" ARN("tp-dlq") "\\\","
					     "\\\"maxReceiveCount\\\":\\\"4\\\"}\"}"));
	assert_int_equal(run(e, &c), TP_OK);
	aws_call_free(&c);
	cJSON *out = attrs(e, URL("tp-s"));
	assert_string_equal(attr(out, "VisibilityTimeout"), "120");
	assert_string_equal(attr(out, "RedrivePolicy"),
			    "{\"deadLetterTargetArn\":\"" ARN("tp-dlq") "\",\"maxReceiveCount\":4}");
	cJSON_Delete(out);
	fails(e, "SetQueueAttributes", "{\"QueueUrl\":\"" URL("tp-s") "\",\"Attributes\":{\"DelaySeconds\":\"901\"}}",
	      "InvalidAttributeValue");
	fails(e, "SetQueueAttributes", "{\"QueueUrl\":\"" URL("tp-x") "\",\"Attributes\":{}}",
	      "AWS.SimpleQueueService.NonExistentQueue");
	/* "" removes the redrive policy */
	ok(e, "SetQueueAttributes", "{\"QueueUrl\":\"" URL("tp-s") "\",\"Attributes\":{\"RedrivePolicy\":\"\"}}");
	out = attrs(e, URL("tp-s"));
	assert_null(attr(out, "RedrivePolicy"));
	cJSON_Delete(out);

	sqs_tag_queue(&c, URL("tp-s"), cJSON_Parse("{\"b\":\"3\",\"c\":\"4\"}"));
	assert_int_equal(run(e, &c), TP_OK);
	aws_call_free(&c);
	cJSON *keys = cJSON_CreateArray();
	cJSON_AddItemToArray(keys, cJSON_CreateString("a"));
	cJSON_AddItemToArray(keys, cJSON_CreateString("zz"));
	sqs_untag_queue(&c, URL("tp-s"), keys);
	assert_int_equal(run(e, &c), TP_OK);
	aws_call_free(&c);
	tp_err err = { 0 };
	sqs_list_queue_tags(&c, URL("tp-s"));
	assert_int_equal(awsj_run(e->a, &c, &out, &err), TP_OK);
	cJSON *t = cJSON_GetObjectItem(out, "Tags");
	assert_int_equal(cJSON_GetArraySize(t), 2);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(t, "b")), "3");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(t, "c")), "4");
	cJSON_Delete(out);
	/* 50 tags at most */
	char body[4096];
	int n = snprintf(body, sizeof body, "{\"QueueUrl\":\"%s\",\"Tags\":{", URL("tp-s"));
	for (int i = 0; i < 49; i++)
		n += snprintf(body + n, sizeof body - (size_t)n, "%s\"k%d\":\"v\"", i ? "," : "", i);
	snprintf(body + n, sizeof body - (size_t)n, "}}");
	fails(e, "TagQueue", body, "InvalidParameterValue");
	fails(e, "ListQueueTags", "{\"QueueUrl\":\"" URL("tp-x") "\"}", "AWS.SimpleQueueService.NonExistentQueue");
}

/* Every queue under the prefix, page by page: *pages pages. */
static int list_all(struct env *e, const char *prefix, int max, int *pages, char names[][16])
{
	int n = 0;
	char *token = NULL;
	*pages = 0;
	do {
		struct aws_call c;
		cJSON *out = NULL, *u;
		tp_err err = { 0 };
		sqs_list_queues(&c, prefix, max, token);
		assert_int_equal(awsj_run(e->a, &c, &out, &err), TP_OK);
		++*pages;
		cJSON_ArrayForEach(u, cJSON_GetObjectItem(out, "QueueUrls"))
			snprintf(names[n++], 16, "%s", strrchr(u->valuestring, '/') + 1);
		assert_true(cJSON_GetArraySize(cJSON_GetObjectItem(out, "QueueUrls")) <= max);
		free(token);
		token = tp_xstrdup(cJSON_GetStringValue(cJSON_GetObjectItem(out, "NextToken")));
		cJSON_Delete(out);
	} while (token);
	return n;
}

static void test_list_queues_pages(void **state)
{
	struct env *e = *state;
	char body[128];
	for (int i = 0; i < 25; i++) {
		snprintf(body, sizeof body, "{\"QueueName\":\"tp-%02d\"}", i);
		ok(e, "CreateQueue", body);
	}
	ok(e, "CreateQueue", "{\"QueueName\":\"other\"}");
	ok(e, "CreateQueue", "{\"QueueName\":\"tp-gone\"}");
	ok(e, "DeleteQueue", "{\"QueueUrl\":\"" URL("tp-gone") "\"}");
	char names[64][16];
	int pages;
	assert_int_equal(list_all(e, "tp-", 10, &pages, names), 25);
	assert_int_equal(pages, 3);
	for (int i = 0; i < 25; i++) {
		char want[16];
		snprintf(want, sizeof want, "tp-%02d", i);
		assert_string_equal(names[i], want);   /* each once, in order */
	}
	/* a page exactly full at the end: no token after it */
	assert_int_equal(list_all(e, "tp-", 25, &pages, names), 25);
	assert_int_equal(pages, 1);
	assert_int_equal(list_all(e, "", 1000, &pages, names), 26);
	assert_int_equal(list_all(e, "zzz", 5, &pages, names), 0);
	fails(e, "ListQueues", "{\"QueueNamePrefix\":\"tp-\",\"MaxResults\":10,\"NextToken\":\"bogus!\"}",
	      "InvalidParameterValue");
	fails(e, "ListQueues", "{\"MaxResults\":1001}", "InvalidParameterValue");
	fails(e, "ListQueues", "{\"MaxResults\":0}", "InvalidParameterValue");
	/* without MaxResults: no NextToken */
	cJSON *out = NULL;
	assert_int_equal(sqs(e, "ListQueues", "{\"QueueNamePrefix\":\"tp-\"}", &out, NULL), TP_OK);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(out, "QueueUrls")), 25);
	assert_null(cJSON_GetObjectItem(out, "NextToken"));
	cJSON_Delete(out);
}

/* Receive up to max: the number received; handles into h (may be NULL). */
static int receive(struct env *e, const char *url, int max, int vis, char h[][256], char bodies[][64])
{
	struct aws_call c;
	cJSON *out = NULL, *m;
	tp_err err = { 0 };
	sqs_receive_message(&c, url, max, 0, vis);
	assert_int_equal(awsj_run(e->a, &c, &out, &err), TP_OK);
	int n = 0;
	cJSON_ArrayForEach(m, cJSON_GetObjectItem(out, "Messages")) {
		if (h)
			snprintf(h[n], 256, "%s", cJSON_GetStringValue(cJSON_GetObjectItem(m, "ReceiptHandle")));
		if (bodies)
			snprintf(bodies[n], 64, "%s", cJSON_GetStringValue(cJSON_GetObjectItem(m, "Body")));
		assert_non_null(cJSON_GetStringValue(cJSON_GetObjectItem(m, "MD5OfBody")));
		n++;
	}
	cJSON_Delete(out);
	return n;
}

static void send_n(struct env *e, const char *url, int n, const char *tag)
{
	for (int k = 0; k < n; k += 10) {
		cJSON *en = cJSON_CreateArray();
		for (int i = k; i < n && i < k + 10; i++) {
			char id[16], body[64];
			snprintf(id, sizeof id, "m%d", i - k);
			snprintf(body, sizeof body, "%s-%d", tag, i);
			cJSON_AddItemToArray(en, sqs_send_entry(id, body, NULL, -1));
		}
		struct aws_call c;
		cJSON *out = NULL;
		tp_err err = { 0 };
		sqs_send_message_batch(&c, url, en);
		assert_int_equal(awsj_run(e->a, &c, &out, &err), TP_OK);
		assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(out, "Failed")), 0);
		cJSON_Delete(out);
	}
}

static long count(struct env *e, const char *url, const char *name)
{
	cJSON *out = attrs(e, url);
	long n = atol(attr(out, name));
	cJSON_Delete(out);
	return n;
}

static void test_send_receive_visibility_delete(void **state)
{
	struct env *e = *state;
	ok(e, "CreateQueue", "{\"QueueName\":\"tp-m\"}");
	send_n(e, URL("tp-m"), 12, "task");
	assert_int_equal(count(e, URL("tp-m"), "ApproximateNumberOfMessages"), 12);
	char h[10][256], b[10][64];
	assert_int_equal(receive(e, URL("tp-m"), 10, 30, h, b), 10);
	assert_string_equal(b[0], "task-0");
	assert_int_equal(count(e, URL("tp-m"), "ApproximateNumberOfMessages"), 2);
	assert_int_equal(count(e, URL("tp-m"), "ApproximateNumberOfMessagesNotVisible"), 10);
	/* delete 3 in a batch, one with a bad handle */
	cJSON *de = cJSON_CreateArray();
	cJSON_AddItemToArray(de, sqs_delete_entry("a", h[0]));
	cJSON_AddItemToArray(de, sqs_delete_entry("b", h[1]));
	cJSON_AddItemToArray(de, sqs_delete_entry("c", "not-a-handle"));
	struct aws_call c;
	cJSON *out = NULL;
	tp_err err = { 0 };
	sqs_delete_message_batch(&c, URL("tp-m"), de);
	assert_int_equal(awsj_run(e->a, &c, &out, &err), TP_OK);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(out, "Successful")), 2);
	cJSON *f0 = cJSON_GetArrayItem(cJSON_GetObjectItem(out, "Failed"), 0);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(f0, "Id")), "c");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(f0, "Code")), "ReceiptHandleIsInvalid");
	cJSON_Delete(out);
	char body[512];
	snprintf(body, sizeof body, "{\"QueueUrl\":\"%s\",\"ReceiptHandle\":\"%s\"}", URL("tp-m"), h[2]);
	ok(e, "DeleteMessage", body);
	ok(e, "DeleteMessage", body);   /* already deleted: still a success */
	fails(e, "DeleteMessage", "{\"QueueUrl\":\"" URL("tp-m") "\",\"ReceiptHandle\":\"xyz\"}",
	      "ReceiptHandleIsInvalid");
	assert_int_equal(count(e, URL("tp-m"), "ApproximateNumberOfMessagesNotVisible"), 7);
	/* after the visibility timeout the 7 come back, with new handles */
	fake_advance_ms(e->f, 30000);
	char h2[10][256];
	assert_int_equal(receive(e, URL("tp-m"), 10, 30, h2, NULL), 9);
	/* a stale handle (h[3], from the first receive) deletes nothing */
	snprintf(body, sizeof body, "{\"QueueUrl\":\"%s\",\"ReceiptHandle\":\"%s\"}", URL("tp-m"), h[3]);
	ok(e, "DeleteMessage", body);
	assert_int_equal(count(e, URL("tp-m"), "ApproximateNumberOfMessagesNotVisible"), 9);
	/* delayed messages */
	ok(e, "SendMessage", "{\"QueueUrl\":\"" URL("tp-m") "\",\"MessageBody\":\"later\",\"DelaySeconds\":10}");
	assert_int_equal(count(e, URL("tp-m"), "ApproximateNumberOfMessagesDelayed"), 1);
	fake_advance_ms(e->f, 10000);
	assert_int_equal(count(e, URL("tp-m"), "ApproximateNumberOfMessagesDelayed"), 0);
	assert_int_equal(count(e, URL("tp-m"), "ApproximateNumberOfMessages"), 1);
	/* system and message attributes come back when asked */
	ok(e, "SendMessage", "{\"QueueUrl\":\"" URL("tp-m") "\",\"MessageBody\":\"x\",\"MessageAttributes\":"
	   "{\"kind\":{\"DataType\":\"String\",\"StringValue\":\"k\"}}}");
	assert_int_equal(sqs(e, "ReceiveMessage", "{\"QueueUrl\":\"" URL("tp-m") "\",\"MaxNumberOfMessages\":10,"
			     "\"MessageSystemAttributeNames\":[\"ApproximateReceiveCount\"],"
			     "\"MessageAttributeNames\":[\"All\"]}", &out, NULL), TP_OK);
	cJSON *msgs = cJSON_GetObjectItem(out, "Messages"), *m;
	int seen = 0;
	cJSON_ArrayForEach(m, msgs) {
		assert_string_equal(attr(m, "ApproximateReceiveCount"), "1");
		cJSON *ma = cJSON_GetObjectItem(cJSON_GetObjectItem(m, "MessageAttributes"), "kind");
		if (ma) {
			assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(ma, "StringValue")), "k");
			seen++;
		}
	}
	assert_int_equal(seen, 1);
	cJSON_Delete(out);
	fails(e, "ReceiveMessage", "{\"QueueUrl\":\"" URL("tp-m") "\",\"MaxNumberOfMessages\":11}",
	      "InvalidParameterValue");
	fails(e, "ReceiveMessage", "{\"QueueUrl\":\"" URL("tp-m") "\",\"ReceiveRequestAttemptId\":\"x\"}",
	      "InvalidParameterValue");
	fails(e, "SendMessage", "{\"QueueUrl\":\"" URL("tp-m") "\",\"MessageBody\":\"\\u0001\"}",
	      "InvalidMessageContents");
	fails(e, "SendMessage", "{\"QueueUrl\":\"" URL("tp-x") "\",\"MessageBody\":\"x\"}",
	      "AWS.SimpleQueueService.NonExistentQueue");
}

static void test_change_visibility(void **state)
{
	struct env *e = *state;
	ok(e, "CreateQueue", "{\"QueueName\":\"tp-v\"}");
	send_n(e, URL("tp-v"), 1, "v");
	char h[10][256], body[600];
	assert_int_equal(receive(e, URL("tp-v"), 1, 30, h, NULL), 1);
	/* back in 5 s instead of 30 (the consumer's pushback) */
	snprintf(body, sizeof body, "{\"QueueUrl\":\"%s\",\"ReceiptHandle\":\"%s\",\"VisibilityTimeout\":5}",
		 URL("tp-v"), h[0]);
	ok(e, "ChangeMessageVisibility", body);
	fake_advance_ms(e->f, 5000);
	assert_int_equal(count(e, URL("tp-v"), "ApproximateNumberOfMessages"), 1);
	/* visible now: not in flight; the old handle is stale after a new receive */
	fails(e, "ChangeMessageVisibility", body, "AWS.SimpleQueueService.MessageNotInflight");
	char h2[10][256];
	assert_int_equal(receive(e, URL("tp-v"), 1, 30, h2, NULL), 1);
	fails(e, "ChangeMessageVisibility", body, "ReceiptHandleIsInvalid");
	/* 12 hours after the first receive at most */
	snprintf(body, sizeof body, "{\"QueueUrl\":\"%s\",\"ReceiptHandle\":\"%s\",\"VisibilityTimeout\":43200}",
		 URL("tp-v"), h2[0]);
	fails(e, "ChangeMessageVisibility", body, "InvalidParameterValue");
	snprintf(body, sizeof body, "{\"QueueUrl\":\"%s\",\"ReceiptHandle\":\"%s\",\"VisibilityTimeout\":43201}",
		 URL("tp-v"), h2[0]);
	fails(e, "ChangeMessageVisibility", body, "InvalidParameterValue");
	fails(e, "ChangeMessageVisibility", "{\"QueueUrl\":\"" URL("tp-v") "\",\"ReceiptHandle\":\"bad\","
	      "\"VisibilityTimeout\":1}", "ReceiptHandleIsInvalid");
	snprintf(body, sizeof body, "{\"QueueUrl\":\"%s\",\"ReceiptHandle\":\"%s\",\"VisibilityTimeout\":0}",
		 URL("tp-v"), h2[0]);
	ok(e, "ChangeMessageVisibility", body);   /* 0: visible at once */
	assert_int_equal(count(e, URL("tp-v"), "ApproximateNumberOfMessages"), 1);
}

static void test_batch_limits_and_entry_failures(void **state)
{
	struct env *e = *state;
	ok(e, "CreateQueue", "{\"QueueName\":\"tp-b\",\"Attributes\":{\"MaximumMessageSize\":\"1024\"}}");
	char big[2000];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = 0;
	cJSON *en = cJSON_CreateArray();
	cJSON_AddItemToArray(en, sqs_send_entry("ok1", "fine", NULL, -1));
	cJSON_AddItemToArray(en, sqs_send_entry("big", big, NULL, -1));
	cJSON_AddItemToArray(en, sqs_send_entry("bad", "\x01", NULL, -1));
	cJSON_AddItemToArray(en, sqs_send_entry("late", "x", NULL, 901));
	cJSON_AddItemToArray(en, sqs_send_entry("ok2", "fine too", NULL, 0));
	struct aws_call c;
	cJSON *out = NULL;
	tp_err err = { 0 };
	sqs_send_message_batch(&c, URL("tp-b"), en);
	assert_int_equal(awsj_run(e->a, &c, &out, &err), TP_OK);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(out, "Successful")), 2);
	cJSON *fl = cJSON_GetObjectItem(out, "Failed"), *x;
	assert_int_equal(cJSON_GetArraySize(fl), 3);
	cJSON_ArrayForEach(x, fl) {
		const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(x, "Id"));
		const char *code = cJSON_GetStringValue(cJSON_GetObjectItem(x, "Code"));
		assert_true(cJSON_IsTrue(cJSON_GetObjectItem(x, "SenderFault")));
		assert_string_equal(code, strcmp(id, "bad") == 0 ? "InvalidMessageContents" : "InvalidParameterValue");
	}
	cJSON_Delete(out);
	assert_int_equal(count(e, URL("tp-b"), "ApproximateNumberOfMessages"), 2);

	/* 11 entries, none, repeated ids, a bad id, over 256 KiB */
	char body[8192];
	int n = snprintf(body, sizeof body, "{\"QueueUrl\":\"%s\",\"Entries\":[", URL("tp-b"));
	for (int i = 0; i < 11; i++)
		n += snprintf(body + n, sizeof body - (size_t)n, "%s{\"Id\":\"i%d\",\"MessageBody\":\"b\"}",
			      i ? "," : "", i);
	snprintf(body + n, sizeof body - (size_t)n, "]}");
	fails(e, "SendMessageBatch", body, "AWS.SimpleQueueService.TooManyEntriesInBatchRequest");
	fails(e, "SendMessageBatch", "{\"QueueUrl\":\"" URL("tp-b") "\",\"Entries\":[]}",
	      "AWS.SimpleQueueService.EmptyBatchRequest");
	fails(e, "SendMessageBatch", "{\"QueueUrl\":\"" URL("tp-b") "\",\"Entries\":[{\"Id\":\"a\",\"MessageBody\":\"1\"},"
	      "{\"Id\":\"a\",\"MessageBody\":\"2\"}]}", "AWS.SimpleQueueService.BatchEntryIdsNotDistinct");
	fails(e, "SendMessageBatch", "{\"QueueUrl\":\"" URL("tp-b") "\",\"Entries\":[{\"Id\":\"a b\",\"MessageBody\":\"1\"}]}",
	      "AWS.SimpleQueueService.InvalidBatchEntryId");
	ok(e, "CreateQueue", "{\"QueueName\":\"tp-big\"}");
	char *huge = malloc(140000);
	memset(huge, 'y', 139999);
	huge[139999] = 0;
	en = cJSON_CreateArray();
	cJSON_AddItemToArray(en, sqs_send_entry("h1", huge, NULL, -1));
	cJSON_AddItemToArray(en, sqs_send_entry("h2", huge, NULL, -1));
	sqs_send_message_batch(&c, URL("tp-big"), en);
	assert_true(run(e, &c) < 0);
	assert_string_equal(c.err.code, "AWS.SimpleQueueService.BatchRequestTooLong");
	aws_call_free(&c);
	/* one large message alone is fine (up to the queue's MaximumMessageSize) */
	en = cJSON_CreateArray();
	cJSON_AddItemToArray(en, sqs_send_entry("h1", huge, NULL, -1));
	sqs_send_message_batch(&c, URL("tp-big"), en);
	assert_int_equal(awsj_run(e->a, &c, &out, &err), TP_OK);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(out, "Successful")), 1);
	cJSON_Delete(out);
	free(huge);
	/* 300 KB: over the default 256 KiB, within a queue raised to 1 MiB */
	huge = malloc(300001);
	memset(huge, 'z', 300000);
	huge[300000] = 0;
	char *sm = tp_xasprintf("{\"QueueUrl\":\"%s\",\"MessageBody\":\"%s\"}", URL("tp-big"), huge);
	fails(e, "SendMessage", sm, "InvalidParameterValue");
	ok(e, "SetQueueAttributes", "{\"QueueUrl\":\"" URL("tp-big") "\",\"Attributes\":{\"MaximumMessageSize\":\"1048576\"}}");
	ok(e, "SendMessage", sm);
	free(sm);
	free(huge);
	fails(e, "DeleteMessageBatch", "{\"QueueUrl\":\"" URL("tp-b") "\",\"Entries\":[]}",
	      "AWS.SimpleQueueService.EmptyBatchRequest");
}

static void test_redrive_after_max_receives_and_move_back(void **state)
{
	struct env *e = *state;
	ok(e, "CreateQueue", "{\"QueueName\":\"tp-r-dlq\"}");
	struct aws_call c;
	sqs_create_queue(&c, "tp-r", cJSON_Parse("{\"VisibilityTimeout\":\"10\",\"RedrivePolicy\":"
						 "\"{\\\"deadLetterTargetArn\\\":\\\"" ARN("tp-r-dlq") "\\\","
						 "\\\"maxReceiveCount\\\":3}\"}"), NULL);
	assert_int_equal(run(e, &c), TP_OK);
	aws_call_free(&c);
	send_n(e, URL("tp-r"), 2, "r");
	for (int i = 0; i < 3; i++) {
		assert_int_equal(receive(e, URL("tp-r"), 10, 10, NULL, NULL), 2);
		fake_advance_ms(e->f, 10000);
	}
	/* the fourth receive finds them gone to the DLQ */
	assert_int_equal(receive(e, URL("tp-r"), 10, 10, NULL, NULL), 0);
	assert_int_equal(count(e, URL("tp-r"), "ApproximateNumberOfMessages"), 0);
	assert_int_equal(count(e, URL("tp-r-dlq"), "ApproximateNumberOfMessages"), 2);
	/* the move task: from the DLQ back to its source */
	cJSON *out = NULL;
	tp_err err = { 0 };
	sqs_start_message_move_task(&c, ARN("tp-r-dlq"), ARN("tp-r"));
	assert_int_equal(awsj_run(e->a, &c, &out, &err), TP_OK);
	assert_non_null(cJSON_GetStringValue(cJSON_GetObjectItem(out, "TaskHandle")));
	cJSON_Delete(out);
	assert_int_equal(count(e, URL("tp-r-dlq"), "ApproximateNumberOfMessages"), 0);
	char b[10][64];
	assert_int_equal(receive(e, URL("tp-r"), 10, 10, NULL, b), 2);
	assert_string_equal(b[0], "r-0");
	/* the source is not a DLQ; an unknown ARN */
	fails(e, "StartMessageMoveTask", "{\"SourceArn\":\"" ARN("tp-r") "\"}", "InvalidParameterValue");
	fails(e, "StartMessageMoveTask", "{\"SourceArn\":\"" ARN("tp-none") "\"}", "ResourceNotFoundException");
	/* without DestinationArn: back where each came from (the receive
	 * above was the first of three) */
	fake_advance_ms(e->f, 10000);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(receive(e, URL("tp-r"), 10, 10, NULL, NULL), 2);
		fake_advance_ms(e->f, 10000);
	}
	assert_int_equal(receive(e, URL("tp-r"), 10, 10, NULL, NULL), 0);
	ok(e, "StartMessageMoveTask", "{\"SourceArn\":\"" ARN("tp-r-dlq") "\"}");
	assert_int_equal(count(e, URL("tp-r"), "ApproximateNumberOfMessages"), 2);
}

/* 3,000 messages: each received once and deleted, the counts back to 0. */
static void test_many_messages_each_once(void **state)
{
	struct env *e = *state;
	enum { N = 3000 };
	ok(e, "CreateQueue", "{\"QueueName\":\"tp-many\"}");
	send_n(e, URL("tp-many"), N, "n");
	assert_int_equal(count(e, URL("tp-many"), "ApproximateNumberOfMessages"), N);
	char *seen = calloc(N, 1);
	int got = 0;
	for (;;) {
		char h[10][256], b[10][64];
		int n = receive(e, URL("tp-many"), 10, 300, h, b);
		if (!n)
			break;
		cJSON *de = cJSON_CreateArray();
		for (int i = 0; i < n; i++) {
			int k = atoi(b[i] + 2);
			assert_true(k >= 0 && k < N && !seen[k]);
			seen[k] = 1;
			char id[16];
			snprintf(id, sizeof id, "d%d", i);
			cJSON_AddItemToArray(de, sqs_delete_entry(id, h[i]));
		}
		got += n;
		struct aws_call c;
		cJSON *out = NULL;
		tp_err err = { 0 };
		sqs_delete_message_batch(&c, URL("tp-many"), de);
		assert_int_equal(awsj_run(e->a, &c, &out, &err), TP_OK);
		assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(out, "Successful")), n);
		cJSON_Delete(out);
	}
	free(seen);
	assert_int_equal(got, N);
	assert_int_equal(count(e, URL("tp-many"), "ApproximateNumberOfMessages"), 0);
	assert_int_equal(count(e, URL("tp-many"), "ApproximateNumberOfMessagesNotVisible"), 0);
}

/* 3,000 queues: the map grows past its first size, every name still found, listed once. */
static void test_many_queues(void **state)
{
	struct env *e = *state;
	enum { N = 3000, B = 100 };
	for (int i = 0; i < N; i += B) {
		struct aws_call c[B];
		for (int k = 0; k < B; k++) {
			char name[32];
			snprintf(name, sizeof name, "tp-many-%04d", i + k);
			sqs_create_queue(&c[k], name, NULL, cJSON_Parse("{\"taskpipe:owner\":\"me\"}"));
		}
		assert_int_equal(aws_call_many(e->a, c, B), TP_OK);
		for (int k = 0; k < B; k++)
			aws_call_free(&c[k]);
	}
	for (int i = 0; i < N; i += 377) {
		char body[64];
		snprintf(body, sizeof body, "{\"QueueName\":\"tp-many-%04d\"}", i);
		ok(e, "GetQueueUrl", body);
	}
	static char names[N][16];
	int pages;
	assert_int_equal(list_all(e, "tp-many-", 1000, &pages, names), N);
	assert_int_equal(pages, 3);
	assert_string_equal(names[N - 1], "tp-many-2999");
	assert_true(fake_sqs_queue_arn_exists(e->f, ARN("tp-many-1234")));
}

/* SQS's characters, as UTF-8: accents, symbols and emoji pass; a lone
 * continuation byte, U+FFFE and a control character do not. */
static void test_message_characters(void **state)
{
	struct env *e = *state;
	ok(e, "CreateQueue", "{\"QueueName\":\"tp-utf\"}");
	ok(e, "SendMessage", "{\"QueueUrl\":\"" URL("tp-utf") "\",\"MessageBody\":\"caf\\u00e9 \\u20ac \\ud83d\\ude00 \\t\\n\"}");
	fails(e, "SendMessage", "{\"QueueUrl\":\"" URL("tp-utf") "\",\"MessageBody\":\"\\ufffe\"}", "InvalidMessageContents");
	fails(e, "SendMessage", "{\"QueueUrl\":\"" URL("tp-utf") "\",\"MessageBody\":\"a\\u0008b\"}", "InvalidMessageContents");
	struct aws_call c = { .service = SVC_SQS, .op = "SendMessage" };
	char body[200];
	int n = snprintf(body, sizeof body, "{\"QueueUrl\":\"%s\",\"MessageBody\":\"x\x80y\"}", URL("tp-utf"));
	c.body = body;
	c.body_len = (size_t)n;
	assert_true(run(e, &c) < 0);
	assert_string_equal(c.err.code, "InvalidMessageContents");
	aws_call_free(&c);
	fails(e, "SendMessage", "{\"QueueUrl\":\"" URL("tp-utf") "\"}", "MissingParameter");
	fails(e, "SendMessage", "{\"QueueUrl\":\"" URL("tp-utf") "\",\"MessageBody\":\"x\",\"MessageGroupId\":\"g\"}",
	      "InvalidParameterValue");
	char h[10][256], b[10][64];
	assert_int_equal(receive(e, URL("tp-utf"), 10, 30, h, b), 1);
	assert_string_equal(b[0], "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \t\n");
}

static void test_purge_once_a_minute(void **state)
{
	struct env *e = *state;
	ok(e, "CreateQueue", "{\"QueueName\":\"tp-p\"}");
	send_n(e, URL("tp-p"), 5, "p");
	ok(e, "PurgeQueue", "{\"QueueUrl\":\"" URL("tp-p") "\"}");
	assert_int_equal(count(e, URL("tp-p"), "ApproximateNumberOfMessages"), 0);
	struct aws_call c;
	sqs_purge_queue(&c, URL("tp-p"));
	assert_true(run(e, &c) < 0);
	assert_string_equal(c.err.code, "AWS.SimpleQueueService.PurgeQueueInProgress");
	aws_call_free(&c);
	fake_advance_ms(e->f, 60000);
	ok(e, "PurgeQueue", "{\"QueueUrl\":\"" URL("tp-p") "\"}");
	fails(e, "PurgeQueue", "{\"QueueUrl\":\"" URL("tp-none") "\"}", "AWS.SimpleQueueService.NonExistentQueue");
}

static void test_retention_drops_old_messages(void **state)
{
	struct env *e = *state;
	ok(e, "CreateQueue", "{\"QueueName\":\"tp-old\",\"Attributes\":{\"MessageRetentionPeriod\":\"60\"}}");
	send_n(e, URL("tp-old"), 3, "o");
	fake_advance_ms(e->f, 60000);
	assert_int_equal(count(e, URL("tp-old"), "ApproximateNumberOfMessages"), 0);
}

static void test_unknown_operation_and_bad_body(void **state)
{
	struct env *e = *state;
	fails(e, "ChangeMessageVisibilityBatch", "{}", "UnknownOperationException");
	struct aws_call c = { .service = SVC_SQS, .op = "ListQueues", .body = "not json", .body_len = 8 };
	assert_true(run(e, &c) < 0);
	assert_string_equal(c.err.code, "InvalidParameterValue");
	aws_call_free(&c);
}

struct seen {
	int n;
	char arn[4][96];
};

static void visit(void *ctx, const char *arn, const cJSON *tags)
{
	struct seen *s = ctx;
	assert_non_null(cJSON_GetObjectItem(tags, "owner"));
	snprintf(s->arn[s->n++ % 4], 96, "%s", arn);
}

static void test_for_other_services(void **state)
{
	struct env *e = *state;
	ok(e, "CreateQueue", "{\"QueueName\":\"tp-t1\",\"tags\":{\"owner\":\"me\"}}");
	ok(e, "CreateQueue", "{\"QueueName\":\"tp-t2\"}");
	ok(e, "CreateQueue", "{\"QueueName\":\"tp-t3\",\"tags\":{\"owner\":\"me\"}}");
	ok(e, "DeleteQueue", "{\"QueueUrl\":\"" URL("tp-t3") "\"}");
	struct seen s = { 0 };
	fake_sqs_each_tagged(e->f, visit, &s);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.arn[0], ARN("tp-t1"));
	assert_true(fake_sqs_queue_arn_exists(e->f, ARN("tp-t2")));
	assert_false(fake_sqs_queue_arn_exists(e->f, ARN("tp-t3")));
	assert_false(fake_sqs_queue_arn_exists(e->f, "arn:aws:sqs:us-west-2:123456789012:tp-t2"));
	assert_false(fake_sqs_queue_arn_exists(e->f, "arn:aws:lambda:eu-west-1:123456789012:function:tp-t2"));
}

static void test_throttled_under_quota(void **state)
{
	(void)state;
	struct fake_options o = { .throttle_pct = 100 };
	struct fake *f = fake_new(&o);
	struct env e = { .f = f };
	fake_use_clock(f);
	struct aws_options ao = { .region = "eu-west-1", .seed = 1, .lambda_rps = -1, .lambda_get_rps = -1,
				  .max_attempts = 2 };
	tp_err err = { 0 };
	assert_int_equal(aws_new(&ao, &e.a, &err), TP_OK);
	fake_attach(f, e.a);
	struct aws_call c;
	sqs_get_queue_url(&c, "x");
	assert_true(run(&e, &c) < 0);
	assert_string_equal(c.err.code, "RequestThrottled");
	assert_non_null(strstr(c.resp_headers.data, "Retry-After:"));
	aws_call_free(&c);
	assert_true(fake_throttled(f, "sqs", "GetQueueUrl") >= 1);
	aws_free(e.a);
	fake_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_get_url_and_attributes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_refuses_bad_input, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deleted_recently_in_simulated_time, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_attributes_and_tags, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_queues_pages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_send_receive_visibility_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_change_visibility, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_limits_and_entry_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_redrive_after_max_receives_and_move_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_messages_each_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_queues, setup, teardown),
		cmocka_unit_test_setup_teardown(test_message_characters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_purge_once_a_minute, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retention_drops_old_messages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_operation_and_bad_body, setup, teardown),
		cmocka_unit_test_setup_teardown(test_for_other_services, setup, teardown),
		cmocka_unit_test(test_throttled_under_quota),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
