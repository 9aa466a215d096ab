/* test_awserr.c: awserr_parse on real AWS (and moto) error answers of every
 * protocol, and on bodies that are empty, truncated, HTML or full of NULs. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "aws/awserr.h"

/* Parse from an exact-size heap copy (no terminator) so ASan sees any
 * read past body_len. */
static int parse(long status, const char *headers, const char *body, size_t len, tp_err *e)
{
	char *copy = malloc(len ? len : 1);
	memcpy(copy, body, len);
	memset(e, 0x5a, sizeof *e); /* garbage in: awserr_parse must fill it all */
	int rc = awserr_parse(status, headers, copy, len, e);
	free(copy);
	assert_int_equal(rc, e->rc);
	assert_int_equal(e->status, status);
	return rc;
}

#define PARSE(status, headers, body, e) parse(status, headers, body, strlen(body), e)

static void test_dynamodb(void **state)
{
	(void)state;
	tp_err e;
	const char *h = "HTTP/1.1 400 Bad Request\r\n"
			"x-amzn-RequestId: 9GRKQ0A5AHKSJR8B2AKM8DSGTNVV4KQNSO5AEMVJF66Q9ASUAAJG\r\n"
			"x-amz-crc32: 2748088051\r\n"
			"Content-Type: application/x-amz-json-1.0\r\n"
			"Content-Length: 112\r\n\r\n";
	assert_int_equal(PARSE(400, h,
			       "{\"__type\":\"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException\","
			       "\"message\":\"Requested resource not found\"}", &e),
			 TP_ENOTFOUND);
	assert_string_equal(e.code, "ResourceNotFoundException");
	assert_string_equal(e.message, "Requested resource not found");
	assert_string_equal(e.request_id, "9GRKQ0A5AHKSJR8B2AKM8DSGTNVV4KQNSO5AEMVJF66Q9ASUAAJG");

	assert_int_equal(PARSE(400, h,
			       "{\"__type\":\"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException\","
			       "\"message\":\"The conditional request failed\"}", &e),
			 TP_EAWS);
	assert_string_equal(e.code, "ConditionalCheckFailedException");
	assert_string_equal(e.message, "The conditional request failed");
}

static void test_sqs_query_error_wins(void **state)
{
	(void)state;
	tp_err e;
	const char *h = "HTTP/1.1 400 Bad Request\r\n"
			"x-amzn-RequestId: 3bd8f5d5-0e4d-5b7a-8b6f-2b5e0f0f1d2c\r\n"
			"x-amzn-query-error: AWS.SimpleQueueService.NonExistentQueue;Sender\r\n"
			"Content-Type: application/x-amz-json-1.0\r\n\r\n";
	assert_int_equal(PARSE(400, h,
			       "{\"__type\":\"com.amazonaws.sqs#QueueDoesNotExist\","
			       "\"message\":\"The specified queue does not exist.\"}", &e),
			 TP_ENOTFOUND);
	assert_string_equal(e.code, "AWS.SimpleQueueService.NonExistentQueue");
	assert_string_equal(e.message, "The specified queue does not exist.");
	assert_string_equal(e.request_id, "3bd8f5d5-0e4d-5b7a-8b6f-2b5e0f0f1d2c");

	/* without the header the body's __type is used */
	assert_int_equal(PARSE(400, NULL,
			       "{\"__type\":\"com.amazonaws.sqs#QueueDoesNotExist\","
			       "\"message\":\"The specified queue does not exist.\"}", &e),
			 TP_ENOTFOUND);
	assert_string_equal(e.code, "QueueDoesNotExist");
	assert_string_equal(e.request_id, "");

	/* header names are case-insensitive; values trimmed */
	assert_int_equal(PARSE(400, "X-Amzn-Query-Error:   AWS.SimpleQueueService.QueueDeletedRecently;Sender  \n",
			       "{\"__type\":\"com.amazonaws.sqs#QueueDeletedRecently\"}", &e),
			 TP_EAWS);
	assert_string_equal(e.code, "AWS.SimpleQueueService.QueueDeletedRecently");
}

static void test_lambda_rest_json(void **state)
{
	(void)state;
	tp_err e;
	/* real Lambda: the code only in x-amzn-ErrorType, Type/Message in the body */
	const char *h = "HTTP/1.1 404 Not Found\r\n"
			"Date: Thu, 27 Nov 2025 17:00:00 GMT\r\n"
			"Content-Type: application/json\r\n"
			"x-amzn-RequestId: 2a4b7a40-1bd5-4c8f-9f5e-1d7c2a0e3f11\r\n"
			"x-amzn-ErrorType: ResourceNotFoundException:http://internal.amazon.com/coral/com.amazonaws.lambda/\r\n\r\n";
	const char *body = "{\"Type\":\"User\",\"Message\":\"Function not found: "
			   "arn:aws:lambda:us-east-1:123456789012:function:tp-orders\"}";
	assert_int_equal(PARSE(404, h, body, &e), TP_ENOTFOUND);
	assert_string_equal(e.code, "ResourceNotFoundException");
	assert_string_equal(e.message, "Function not found: arn:aws:lambda:us-east-1:123456789012:function:tp-orders");
	assert_string_equal(e.request_id, "2a4b7a40-1bd5-4c8f-9f5e-1d7c2a0e3f11");

	/* moto's shape: __type plus the header, conflict is not "not found" */
	assert_int_equal(PARSE(409, "x-amzn-ErrorType: ResourceConflictException\r\n",
			       "{\"__type\": \"ResourceConflictException\", \"message\": \"Function already exist: f\"}", &e),
			 TP_EAWS);
	assert_string_equal(e.code, "ResourceConflictException");
	assert_string_equal(e.message, "Function already exist: f");

	/* the runtime API's own shape */
	assert_int_equal(PARSE(400, NULL, "{\"errorMessage\":\"bad id\",\"errorType\":\"InvalidRequestID\"}", &e),
			 TP_EAWS);
	assert_string_equal(e.code, "InvalidRequestID");
	assert_string_equal(e.message, "bad id");

	/* smithy sanitising: cut at ':' first, then after '#' */
	assert_int_equal(PARSE(400, "x-amzn-errortype: aws.protocoltests#FooError:http://internal.amazon.com/x\r\n", "", &e),
			 TP_EAWS);
	assert_string_equal(e.code, "FooError");
}

static void test_sns_xml(void **state)
{
	(void)state;
	tp_err e;
	const char *body = "<ErrorResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\">\n"
			   "  <Error>\n    <Type>Sender</Type>\n    <Code>NotFound</Code>\n"
			   "    <Message>Topic does not exist</Message>\n  </Error>\n"
			   "  <RequestId>9dd01905-5012-5f99-8663-4b3ecd0dfaef</RequestId>\n"
			   "</ErrorResponse>\n";
	assert_int_equal(PARSE(404, "Content-Type: text/xml\r\n", body, &e), TP_ENOTFOUND);
	assert_string_equal(e.code, "NotFound");
	assert_string_equal(e.message, "Topic does not exist");
	assert_string_equal(e.request_id, "9dd01905-5012-5f99-8663-4b3ecd0dfaef");

	/* a non-"not found" query error with an entity in the message */
	assert_int_equal(PARSE(400, NULL,
			       "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidParameter</Code>"
			       "<Message>Invalid parameter: Endpoint &amp; Protocol</Message></Error>"
			       "<RequestId>r1</RequestId></ErrorResponse>", &e),
			 TP_EAWS);
	assert_string_equal(e.code, "InvalidParameter");
	assert_string_equal(e.message, "Invalid parameter: Endpoint & Protocol");
}

static void test_s3_xml(void **state)
{
	(void)state;
	tp_err e;
	const char *body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
			   "<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message>"
			   "<BucketName>tp-code</BucketName><RequestId>4442587FB7D0A2F9</RequestId>"
			   "<HostId>nC+Kw8AbCdEf=</HostId></Error>";
	assert_int_equal(PARSE(404, NULL, body, &e), TP_ENOTFOUND);
	assert_string_equal(e.code, "NoSuchBucket");
	assert_string_equal(e.message, "The specified bucket does not exist");
	assert_string_equal(e.request_id, "4442587FB7D0A2F9");

	/* the header's request id wins over the body's */
	assert_int_equal(PARSE(404, "x-amz-request-id: HDR123\r\nx-amz-id-2: abc\r\n", body, &e), TP_ENOTFOUND);
	assert_string_equal(e.request_id, "HDR123");
}

static const char moto_500[] =
	"<!doctype html>\n<html lang=en>\n<title>500 Internal Server Error</title>\n"
	"<h1>Internal Server Error</h1>\n<p>The server encountered an internal error and was unable to "
	"complete your request. Either the server is overloaded or there is an error in the application.</p>\n";

static void test_html_and_empty(void **state)
{
	(void)state;
	tp_err e;
	assert_int_equal(PARSE(500, "Content-Type: text/html; charset=utf-8\r\n", moto_500, &e), TP_EAWS);
	assert_string_equal(e.code, "Http500");
	/* tags stripped, whitespace folded, cut at 200 bytes */
	assert_string_equal(e.message,
			    "500 Internal Server Error Internal Server Error The server encountered an internal "
			    "error and was unable to complete your request. Either the server is overloaded or "
			    "there is an error in the applicatio");
	assert_int_equal(strlen(e.message), 200);
	assert_string_equal(e.request_id, "");

	assert_int_equal(parse(503, "Content-Length: 0\r\n", "", 0, &e), TP_EAWS);
	assert_string_equal(e.code, "Http503");
	assert_string_equal(e.message, "HTTP 503");
	assert_int_equal(awserr_parse(502, NULL, NULL, 0, &e), TP_EAWS);
	assert_string_equal(e.code, "Http502");

	assert_int_equal(PARSE(502, NULL, "  Bad gateway\r\n\tupstream   closed ", &e), TP_EAWS);
	assert_string_equal(e.code, "Http502");
	assert_string_equal(e.message, "Bad gateway upstream closed");

	/* a 404 without a body is not a known "not found" code */
	assert_int_equal(parse(404, NULL, "", 0, &e), TP_EAWS);
	assert_string_equal(e.code, "Http404");
}

static void test_truncated_and_broken_json(void **state)
{
	(void)state;
	tp_err e;
	/* cut mid-message: code and the part of the message we have survive */
	assert_int_equal(PARSE(400, NULL,
			       "{\"__type\":\"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException\","
			       "\"message\":\"Requested resou", &e),
			 TP_ENOTFOUND);
	assert_string_equal(e.code, "ResourceNotFoundException");
	assert_string_equal(e.message, "Requested resou");

	/* cut inside the code: no code, falls back to Http<status> */
	assert_int_equal(PARSE(400, NULL, "{\"__ty", &e), TP_EAWS);
	assert_string_equal(e.code, "Http400");
	assert_string_equal(e.message, "{\"__ty");

	/* valid JSON without any known field */
	assert_int_equal(PARSE(400, NULL, "{\"foo\": 1, \"__type\": 7}", &e), TP_EAWS);
	assert_string_equal(e.code, "Http400");
	assert_string_equal(e.message, "{\"foo\": 1, \"__type\": 7}");

	/* truncated XML */
	assert_int_equal(PARSE(404, NULL, "<Error><Code>NoSuchKey</Code><Message>The spec", &e), TP_ENOTFOUND);
	assert_string_equal(e.code, "NoSuchKey");
	assert_string_equal(e.message, "NoSuchKey (HTTP 404)");
}

static void test_nuls_and_junk(void **state)
{
	(void)state;
	tp_err e;
	/* a NUL right after the code: cJSON sees a truncated document */
	const char json[] = "{\"__type\":\"a#ThrottlingException\"\0,\"message\":\"x\"}";
	assert_int_equal(parse(400, NULL, json, sizeof json - 1, &e), TP_EAWS);
	assert_string_equal(e.code, "ThrottlingException");

	const char xml[] = "<Error>\0<Code>Slow\0Down</Code><Message>m\x01\x02sg</Message></Error>";
	assert_int_equal(parse(503, NULL, xml, sizeof xml - 1, &e), TP_EAWS);
	assert_string_equal(e.code, "Slow Down"); /* NUL folded to a space */
	assert_string_equal(e.message, "m sg");

	const char bin[] = "\0\0\xff\xfe\x01hello\xc3\xa9\xc3 world\x7f";
	assert_int_equal(parse(500, NULL, bin, sizeof bin - 1, &e), TP_EAWS);
	assert_string_equal(e.code, "Http500");
	assert_string_equal(e.message, "?? hello\xc3\xa9? world");

	/* an over-long code is cut to the field, never overflows */
	char big[300];
	memset(big, 'A', sizeof big);
	memcpy(big, "{\"__type\":\"", 11);
	memcpy(big + sizeof big - 2, "\"}", 2);
	assert_int_equal(parse(400, NULL, big, sizeof big, &e), TP_EAWS);
	assert_int_equal(strlen(e.code), sizeof e.code - 1);

	/* headers without a colon, blank lines, a header with an empty value */
	assert_int_equal(PARSE(500, "garbage\n\n:\nx-amzn-RequestId:\r\nx-amzn-ErrorType:   \r\n", "", &e), TP_EAWS);
	assert_string_equal(e.code, "Http500");
	assert_string_equal(e.request_id, "");

	/* e may be NULL */
	assert_int_equal(awserr_parse(404, NULL, "<Code>NotFound</Code>", 21, NULL), TP_ENOTFOUND);
}

static void test_request_id_and_not_found(void **state)
{
	(void)state;
	char id[96];
	awserr_request_id("X-Amzn-RequestId: a1\r\nx-amz-request-id: b2\r\n", id, sizeof id);
	assert_string_equal(id, "a1");
	awserr_request_id("x-amz-request-id: b2\r\n", id, sizeof id);
	assert_string_equal(id, "b2");
	awserr_request_id(NULL, id, sizeof id);
	assert_string_equal(id, "");
	char small[4];
	awserr_request_id("x-amz-request-id: 0123456789\r\n", small, sizeof small);
	assert_string_equal(small, "012");
	/* request id in a JSON body */
	tp_err e;
	assert_int_equal(PARSE(400, NULL, "{\"code\":\"X\",\"requestId\":\"rq-9\"}", &e), TP_EAWS);
	assert_string_equal(e.code, "X");
	assert_string_equal(e.request_id, "rq-9");

	const char *nf[] = { "ResourceNotFoundException", "AWS.SimpleQueueService.NonExistentQueue",
			     "QueueDoesNotExist", "NoSuchBucket", "NoSuchKey", "NotFound", "NotFoundException" };
	for (size_t i = 0; i < sizeof nf / sizeof nf[0]; i++)
		assert_true(awserr_is_not_found(nf[i]));
	assert_false(awserr_is_not_found(NULL));
	assert_false(awserr_is_not_found(""));
	assert_false(awserr_is_not_found("ResourceConflictException"));
	assert_false(awserr_is_not_found("Http404"));
	assert_false(awserr_is_not_found("notfound"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dynamodb),
		cmocka_unit_test(test_sqs_query_error_wins),
		cmocka_unit_test(test_lambda_rest_json),
		cmocka_unit_test(test_sns_xml),
		cmocka_unit_test(test_s3_xml),
		cmocka_unit_test(test_html_and_empty),
		cmocka_unit_test(test_truncated_and_broken_json),
		cmocka_unit_test(test_nuls_and_junk),
		cmocka_unit_test(test_request_id_and_not_found),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
