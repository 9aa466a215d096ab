/* test_aws_transport.c: every request of a client goes through the
 * transport set with aws_set_transport (aws.h): signed, with its body, and
 * the fake's answer comes back as the call's, retries included. Two fakes:
 * one that answers inside send, one that answers from poll (like curl). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "aws/aws.h"
#include "aws/http.h"
#include "aws/lambda.h"

struct fake {
	int sent;                       /* requests seen */
	int fail_first;                 /* answer the first n with a 500 */
	char method[8];
	char url[512];
	char auth[512];                 /* the Authorization header sent */
	char body[256];
	/* deferred (poll) mode: the request waiting for poll */
	int deferred;
	struct http_response *held;
	aws_transport_done_fn held_done;
	void *held_ctx;
};

static void answer(struct fake *f, struct http_response *resp)
{
	if (f->sent <= f->fail_first) {
		resp->status = 500;
		buf_adds(&resp->headers, "Content-Type: application/json\r\n");
		buf_adds(&resp->body, "{\"__type\":\"ServiceException\",\"message\":\"try again\"}");
		return;
	}
	resp->status = 200;
	buf_adds(&resp->headers, "Content-Type: application/json\r\nx-amzn-RequestId: req-1\r\n");
	buf_adds(&resp->body, "{\"Configuration\":{\"FunctionName\":\"f\",\"CodeSha256\":\"abc=\"}}");
}

static int fake_send(void *ctx, const struct http_request *req, struct http_response *resp,
		     aws_transport_done_fn done, void *done_ctx)
{
	struct fake *f = ctx;
	f->sent++;
	snprintf(f->method, sizeof f->method, "%s", req->method);
	snprintf(f->url, sizeof f->url, "%s", req->url);
	snprintf(f->body, sizeof f->body, "%.*s", (int)req->body_len, req->body ? (const char *)req->body : "");
	for (size_t i = 0; i < req->n_headers; i++)
		if (strncmp(req->headers[i], "Authorization: ", 15) == 0)
			snprintf(f->auth, sizeof f->auth, "%s", req->headers[i] + 15);
	if (f->deferred) {
		f->held = resp;
		f->held_done = done;
		f->held_ctx = done_ctx;
		return 0;
	}
	answer(f, resp);
	done(done_ctx, resp);
	return 0;
}

static int fake_poll(void *ctx, long timeout_ms)
{
	struct fake *f = ctx;
	if (f->held) {
		struct http_response *resp = f->held;
		f->held = NULL;
		answer(f, resp);
		f->held_done(f->held_ctx, resp);
	}
	return 0;
}

static struct aws *client(void)
{
	setenv("AWS_ACCESS_KEY_ID", "AKIDTRANSPORT", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "secret", 1);
	unsetenv("AWS_SESSION_TOKEN");
	unsetenv("AWS_PROFILE");
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	struct aws_options o = { .region = "us-east-1", .seed = 1, .lambda_rps = -1, .lambda_get_rps = -1 };
	struct aws *a = NULL;
	tp_err e = { 0 };
	assert_int_equal(aws_new(&o, &a, &e), TP_OK);
	return a;
}

static void run_through(struct fake *f, const struct aws_transport *t)
{
	struct aws *a = client();
	aws_set_transport(a, t);
	struct aws_call c;
	lambda_update_function_code(&c, "f", cJSON_CreateObject());
	assert_int_equal(aws_call_one(a, &c), TP_OK);
	assert_int_equal(c.status, 200);
	assert_int_equal(f->sent, f->fail_first + 1);
	assert_int_equal(c.attempts, f->fail_first + 1);
	assert_string_equal(f->method, "PUT");
	assert_non_null(strstr(f->url, "/2015-03-31/functions/f/code"));
	assert_string_equal(f->body, "{}");
	/* signed by the client before it reached the transport */
	assert_non_null(strstr(f->auth, "Credential=AKIDTRANSPORT/"));
	assert_non_null(strstr(c.resp.data, "\"CodeSha256\":\"abc=\""));
	char id[32];
	assert_int_equal(aws_call_header(&c, "x-amzn-requestid", id, sizeof id), 1);
	assert_string_equal(id, "req-1");
	assert_int_equal(aws_stats_requests(a), f->fail_first + 1);
	aws_call_free(&c);
	aws_free(a);
}

static void test_answered_in_send(void **state)
{
	(void)state;
	struct fake f = { 0 };
	const struct aws_transport t = { fake_send, NULL, &f };
	run_through(&f, &t);
}

static void test_answered_in_poll_with_a_retry(void **state)
{
	(void)state;
	struct fake f = { .deferred = 1, .fail_first = 1 };
	const struct aws_transport t = { fake_send, fake_poll, &f };
	run_through(&f, &t);
}

/* Back to the default: the fake sees nothing more (the default cannot
 * reach an endpoint here: a 1-byte-too-long URL fails before sending). */
static void test_default_restored(void **state)
{
	(void)state;
	struct fake f = { 0 };
	const struct aws_transport t = { fake_send, NULL, &f };
	struct aws *a = client();
	aws_set_transport(a, &t);
	aws_set_transport(a, NULL);
	char *path = malloc(4096);
	path[0] = '/';
	memset(path + 1, 'p', 4094);
	path[4095] = 0;
	struct aws_call c = { .service = SVC_LAMBDA, .op = "GetFunction", .method = "GET", .path = path };
	assert_true(aws_call_one(a, &c) < 0);
	assert_string_equal(c.err.code, "RequestTooLong");
	assert_int_equal(f.sent, 0);
	aws_call_free(&c);
	free(path);
	aws_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_answered_in_send),
		cmocka_unit_test(test_answered_in_poll_with_a_retry),
		cmocka_unit_test(test_default_restored),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
