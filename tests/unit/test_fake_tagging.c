/* test_fake_tagging.c: the fake's Resource Groups Tagging API
 * (tests/fake/fake_tagging.c) and CloudWatch (fake_cloudwatch.c), through
 * taskpipe's client: GetResources as drift_fleet.c asks it (TagFilters,
 * ResourceTypeFilters, pages by PaginationToken), its errors; and
 * GetMetricData as aws/cloudwatch.c asks it (cw_get_metric_data), over
 * points the fake SQS publishes and PutMetricData stores. */
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
#include "aws/cloudwatch.h"
#include "aws/lambda.h"
#include "base/base64.h"
#include "aws/sqs.h"
#include "fake/fake.h"
#include "fake/fake_int.h"

struct env {
	struct fake *f;
	struct aws *a;
};

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof *e);
	e->f = fake_new(NULL);
	fake_use_clock(e->f);
	struct aws_options o = { .region = "eu-west-1", .seed = 1, .lambda_rps = -1, .lambda_get_rps = -1,
				 .max_attempts = 1 };
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

static int call(struct env *e, int svc, const char *op, const char *body, cJSON **out, char code[128])
{
	cJSON *in = cJSON_Parse(body);
	assert_non_null(in);
	tp_err err = { 0 };
	cJSON *res = NULL;
	int rc = awsj_call(e->a, svc, op, in, &res, &err);
	cJSON_Delete(in);
	if (code)
		snprintf(code, 128, "%s", rc == TP_OK ? "" : err.code);
	if (out)
		*out = res;
	else
		cJSON_Delete(res);
	return rc;
}

static void create(struct env *e, const char *name, const char *tags)
{
	char body[256], code[128];
	snprintf(body, sizeof body, "{\"QueueName\":\"%s\"%s%s}", name, tags ? ",\"tags\":" : "", tags ? tags : "");
	if (call(e, SVC_SQS, "CreateQueue", body, NULL, code) != TP_OK)
		fail_msg("CreateQueue %s: %s", name, code);
}

/* drift_fleet.c's request: owner's resources of one type, 100 a page (or per). */
static char *request(const char *owner, const char *type, int per, const char *token)
{
	return tp_xasprintf("{\"TagFilters\":[{\"Key\":\"taskpipe:owner\",\"Values\":[\"%s\"]}],"
			    "\"ResourceTypeFilters\":[\"%s\"],\"ResourcesPerPage\":%d%s%s%s}",
			    owner, type, per, token ? ",\"PaginationToken\":\"" : "", token ? token : "",
			    token ? "\"" : "");
}

static void test_get_resources_filters_and_pages(void **state)
{
	struct env *e = *state;
	for (int i = 0; i < 5; i++) {
		char name[32];
		snprintf(name, sizeof name, "tp-q%d", i);
		create(e, name, "{\"taskpipe:owner\":\"me\",\"k\":\"v\"}");
	}
	create(e, "tp-other", "{\"taskpipe:owner\":\"someone\"}");
	create(e, "tp-bare", NULL);
	int pages = 0, n = 0;
	char *token = NULL, last[128] = "";
	do {
		char *body = request("me", "sqs", 2, token);
		cJSON *out = NULL, *m;
		char code[128];
		assert_int_equal(call(e, SVC_TAGGING, "GetResources", body, &out, code), TP_OK);
		free(body);
		pages++;
		cJSON_ArrayForEach(m, cJSON_GetObjectItem(out, "ResourceTagMappingList")) {
			const char *arn = cJSON_GetStringValue(cJSON_GetObjectItem(m, "ResourceARN"));
			assert_true(strcmp(arn, last) > 0);   /* each once, in order */
			snprintf(last, sizeof last, "%s", arn);
			assert_non_null(strstr(arn, "arn:aws:sqs:eu-west-1:123456789012:tp-q"));
			cJSON *t = cJSON_GetArrayItem(cJSON_GetObjectItem(m, "Tags"), 0);
			assert_non_null(cJSON_GetStringValue(cJSON_GetObjectItem(t, "Key")));
			assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(m, "Tags")), 2);
			n++;
		}
		free(token);
		const char *next = cJSON_GetStringValue(cJSON_GetObjectItem(out, "PaginationToken"));
		assert_non_null(next);   /* "" on the last page */
		token = *next ? tp_xstrdup(next) : NULL;
		cJSON_Delete(out);
	} while (token);
	assert_int_equal(n, 5);
	assert_int_equal(pages, 3);

	/* other types and owners */
	cJSON *out = NULL;
	char *body = request("me", "lambda:function", 100, NULL);
	assert_int_equal(call(e, SVC_TAGGING, "GetResources", body, &out, NULL), TP_OK);
	free(body);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(out, "ResourceTagMappingList")), 0);
	cJSON_Delete(out);
	assert_int_equal(call(e, SVC_TAGGING, "GetResources",
			      "{\"TagFilters\":[{\"Key\":\"taskpipe:owner\"}]}", &out, NULL), TP_OK);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(out, "ResourceTagMappingList")), 6);
	cJSON_Delete(out);
}

/* Functions and queues side by side: each type filter gives its own. On a
 * tree whose fake Lambda is still the placeholder (branch fake-lambda not
 * merged) the functions cannot be made: the case says so and checks the
 * queues alone. */
static void test_functions_and_queues(void **state)
{
	struct env *e = *state;
	create(e, "tp-fq", "{\"taskpipe:owner\":\"me\"}");
	cJSON *in = cJSON_CreateObject();
	cJSON_AddStringToObject(in, "FunctionName", "tp-fn");
	cJSON_AddStringToObject(in, "Runtime", "python3.12");
	cJSON_AddStringToObject(in, "Handler", "app.handler");
	cJSON_AddStringToObject(in, "Role", "arn:aws:iam::123456789012:role/tp");
	char *zip = base64_encode_dup("zip", 3);
	cJSON_AddStringToObject(cJSON_AddObjectToObject(in, "Code"), "ZipFile", zip);
	free(zip);
	cJSON_AddStringToObject(cJSON_AddObjectToObject(in, "Tags"), "taskpipe:owner", "me");
	struct aws_call c = { 0 };
	lambda_create_function(&c, in);
	aws_call_one(e->a, &c);
	int lambda = c.rc == TP_OK;
	if (!lambda) {
		assert_string_equal(c.err.code, "UnknownOperationException");
		fprintf(stderr, "test_functions_and_queues: the fake Lambda is not in this tree: queues only\n");
	}
	aws_call_free(&c);
	cJSON *out = NULL;
	char *body = request("me", "lambda:function", 100, NULL);
	assert_int_equal(call(e, SVC_TAGGING, "GetResources", body, &out, NULL), TP_OK);
	free(body);
	cJSON *list = cJSON_GetObjectItem(out, "ResourceTagMappingList");
	assert_int_equal(cJSON_GetArraySize(list), lambda);
	if (lambda)
		assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(list, 0), "ResourceARN")),
				    "arn:aws:lambda:eu-west-1:123456789012:function:tp-fn");
	cJSON_Delete(out);
	body = request("me", "sqs", 100, NULL);
	assert_int_equal(call(e, SVC_TAGGING, "GetResources", body, &out, NULL), TP_OK);
	free(body);
	list = cJSON_GetObjectItem(out, "ResourceTagMappingList");
	assert_int_equal(cJSON_GetArraySize(list), 1);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(list, 0), "ResourceARN")),
			    "arn:aws:sqs:eu-west-1:123456789012:tp-fq");
	cJSON_Delete(out);
	assert_int_equal(call(e, SVC_TAGGING, "GetResources", "{\"ResourceTypeFilters\":[\"lambda\",\"sqs\"]}",
			      &out, NULL), TP_OK);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(out, "ResourceTagMappingList")), 1 + lambda);
	cJSON_Delete(out);
}

static void test_get_resources_errors(void **state)
{
	struct env *e = *state;
	for (int i = 0; i < 3; i++) {
		char name[32];
		snprintf(name, sizeof name, "tp-e%d", i);
		create(e, name, "{\"taskpipe:owner\":\"me\"}");
	}
	char code[128];
	cJSON *out = NULL;
	char *body = request("me", "sqs", 2, NULL);
	assert_int_equal(call(e, SVC_TAGGING, "GetResources", body, &out, code), TP_OK);
	free(body);
	char *token = tp_xstrdup(cJSON_GetStringValue(cJSON_GetObjectItem(out, "PaginationToken")));
	cJSON_Delete(out);
	/* the token with other filters */
	body = request("someone", "sqs", 2, token);
	assert_true(call(e, SVC_TAGGING, "GetResources", body, NULL, code) < 0);
	assert_string_equal(code, "InvalidParameterException");
	free(body);
	/* served to its end, the token has expired */
	body = request("me", "sqs", 2, token);
	assert_int_equal(call(e, SVC_TAGGING, "GetResources", body, NULL, code), TP_OK);
	assert_true(call(e, SVC_TAGGING, "GetResources", body, NULL, code) < 0);
	assert_string_equal(code, "PaginationTokenExpiredException");
	free(body);
	free(token);
	body = request("me", "sqs", 2, "made-up");
	assert_true(call(e, SVC_TAGGING, "GetResources", body, NULL, code) < 0);
	assert_string_equal(code, "InvalidParameterException");
	free(body);
	body = request("me", "sqs", 101, NULL);
	assert_true(call(e, SVC_TAGGING, "GetResources", body, NULL, code) < 0);
	assert_string_equal(code, "InvalidParameterException");
	free(body);
	assert_true(call(e, SVC_TAGGING, "GetResources", "{\"ResourceARNList\":[\"x\"]}", NULL, code) < 0);
	assert_string_equal(code, "InvalidParameterException");
	assert_true(call(e, SVC_TAGGING, "GetTagKeys", "{}", NULL, code) < 0);
	assert_string_equal(code, "UnknownOperationException");
}

/* ---- CloudWatch ---- */

static struct cw_query query(const char *ns, const char *metric, const char *dim, const char *value,
			     const char *stat, int period)
{
	struct cw_query q = { .ns = ns, .metric = metric, .stat = stat, .period_s = period, .ndims = 1 };
	q.dim_name[0] = dim;
	q.dim_value[0] = value;
	return q;
}

static void test_metrics_from_sqs_and_put(void **state)
{
	struct env *e = *state;
	int64_t t0 = fake_now_ms(e->f) / 1000;   /* on a minute: 2026-01-01T00:00Z */
	create(e, "tp-m", NULL);
	char code[128];
	/* 3 sent in minute 0, 2 more in minute 1 */
	assert_int_equal(call(e, SVC_SQS, "SendMessageBatch",
			      "{\"QueueUrl\":\"https://sqs.eu-west-1.amazonaws.com/123456789012/tp-m\",\"Entries\":"
			      "[{\"Id\":\"a\",\"MessageBody\":\"1\"},{\"Id\":\"b\",\"MessageBody\":\"2\"},"
			      "{\"Id\":\"c\",\"MessageBody\":\"3\"}]}", NULL, code), TP_OK);
	fake_advance_ms(e->f, 60000);
	assert_int_equal(call(e, SVC_SQS, "SendMessageBatch",
			      "{\"QueueUrl\":\"https://sqs.eu-west-1.amazonaws.com/123456789012/tp-m\",\"Entries\":"
			      "[{\"Id\":\"a\",\"MessageBody\":\"4\"},{\"Id\":\"b\",\"MessageBody\":\"5\"}]}",
			      NULL, code), TP_OK);
	/* Lambda's points, as the fake Lambda publishes them */
	fake_cloudwatch_put(e->f, "AWS/Lambda", "Invocations", "FunctionName", "fn", (t0 + 10) * 1000, 4);
	fake_cloudwatch_put(e->f, "AWS/Lambda", "Invocations", "FunctionName", "fn", (t0 + 70) * 1000, 6);
	fake_cloudwatch_put(e->f, "AWS/Lambda", "Invocations", "FunctionName", "other", (t0 + 70) * 1000, 100);
	struct cw_query q[4] = {
		query("AWS/SQS", "NumberOfMessagesSent", "QueueName", "tp-m", "Sum", 60),
		query("AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", "tp-m", "Maximum", 60),
		query("AWS/Lambda", "Invocations", "FunctionName", "fn", "Sum", 60),
		query("AWS/Lambda", "Invocations", "FunctionName", "fn", "Sum", 300),
	};
	struct cw_series *s = NULL;
	long calls = 0;
	tp_err err = { 0 };
	assert_int_equal(cw_get_metric_data(e->a, q, 4, t0, t0 + 300, &s, &calls, &err), TP_OK);
	assert_int_equal(calls, 1);
	assert_int_equal(s[0].n, 2);
	assert_int_equal(s[0].ts[0], t0);
	assert_true(s[0].v[0] == 3 && s[0].v[1] == 2);
	assert_string_equal(s[0].status, "Complete");
	assert_true(cw_series_max(&s[1], -1) == 5);
	assert_int_equal(s[2].n, 2);
	assert_true(cw_series_sum(&s[2]) == 10);
	assert_int_equal(s[3].n, 1);            /* one 5-minute period */
	assert_true(s[3].v[0] == 10);
	cw_series_free(s, 4);
	/* outside the window: nothing */
	assert_int_equal(cw_get_metric_data(e->a, q, 1, t0 + 120, t0 + 300, &s, NULL, &err), TP_OK);
	assert_int_equal(s[0].n, 0);
	cw_series_free(s, 1);

	/* PutMetricData, then pages of MaxDatapoints, newest first by default */
	assert_int_equal(call(e, SVC_CLOUDWATCH, "PutMetricData",
			      "{\"Namespace\":\"App\",\"MetricData\":[{\"MetricName\":\"m\",\"Dimensions\":"
			      "[{\"Name\":\"b\",\"Value\":\"2\"},{\"Name\":\"a\",\"Value\":\"1\"}],"
			      "\"Values\":[1,2,3]},{\"MetricName\":\"m\",\"Dimensions\":[{\"Name\":\"a\",\"Value\":\"1\"},"
			      "{\"Name\":\"b\",\"Value\":\"2\"}],\"Value\":7,\"Timestamp\":1767225600}]}",
			      NULL, code), TP_OK);
	char body[1024];
	const char *qfmt = "{\"MetricDataQueries\":[{\"Id\":\"q0\",\"MetricStat\":{\"Metric\":{\"Namespace\":\"App\","
			   "\"MetricName\":\"m\",\"Dimensions\":[{\"Name\":\"a\",\"Value\":\"1\"},{\"Name\":\"b\","
			   "\"Value\":\"2\"}]},\"Period\":60,\"Stat\":\"%s\"}}],\"StartTime\":%lld,\"EndTime\":%lld,"
			   "\"MaxDatapoints\":1%s%s%s}";
	snprintf(body, sizeof body, qfmt, "Average", (long long)t0, (long long)t0 + 300, "", "", "");
	cJSON *out = NULL;
	assert_int_equal(call(e, SVC_CLOUDWATCH, "GetMetricData", body, &out, code), TP_OK);
	cJSON *r0 = cJSON_GetArrayItem(cJSON_GetObjectItem(out, "MetricDataResults"), 0);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(r0, "StatusCode")), "PartialData");
	assert_true(cJSON_GetArrayItem(cJSON_GetObjectItem(r0, "Values"), 0)->valuedouble == 2);  /* minute 1 */
	char *token = tp_xstrdup(cJSON_GetStringValue(cJSON_GetObjectItem(out, "NextToken")));
	cJSON_Delete(out);
	snprintf(body, sizeof body, qfmt, "Average", (long long)t0, (long long)t0 + 300, ",\"NextToken\":\"",
		 token, "\"");
	free(token);
	assert_int_equal(call(e, SVC_CLOUDWATCH, "GetMetricData", body, &out, code), TP_OK);
	r0 = cJSON_GetArrayItem(cJSON_GetObjectItem(out, "MetricDataResults"), 0);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(r0, "StatusCode")), "Complete");
	assert_true(cJSON_GetArrayItem(cJSON_GetObjectItem(r0, "Values"), 0)->valuedouble == 7);  /* minute 0 */
	assert_null(cJSON_GetObjectItem(out, "NextToken"));
	cJSON_Delete(out);
}

/* Each statistic over one period of points 1..10, and 300 series (the map grows). */
static void test_statistics(void **state)
{
	struct env *e = *state;
	int64_t t0 = fake_now_ms(e->f) / 1000;
	for (int i = 1; i <= 10; i++)
		fake_cloudwatch_put(e->f, "App", "lat", "Api", "get", (t0 + i) * 1000, i);
	const char *stats[] = { "Sum", "Maximum", "Minimum", "Average", "SampleCount", "p50", "p90", "p100" };
	const double want[] = { 55, 10, 1, 5.5, 10, 5, 9, 10 };
	struct cw_query q[8];
	for (int i = 0; i < 8; i++)
		q[i] = query("App", "lat", "Api", "get", stats[i], 60);
	struct cw_series *s = NULL;
	tp_err err = { 0 };
	assert_int_equal(cw_get_metric_data(e->a, q, 8, t0, t0 + 60, &s, NULL, &err), TP_OK);
	for (int i = 0; i < 8; i++) {
		assert_int_equal(s[i].n, 1);
		if (s[i].v[0] != want[i])
			fail_msg("%s: %g, wanted %g", stats[i], s[i].v[0], want[i]);
	}
	cw_series_free(s, 8);
	enum { N = 300 };
	static struct cw_query many[N];
	char names[N][16];
	for (int i = 0; i < N; i++) {
		snprintf(names[i], sizeof names[i], "fn-%d", i);
		fake_cloudwatch_put(e->f, "AWS/Lambda", "Errors", "FunctionName", names[i], t0 * 1000, i);
		many[i] = query("AWS/Lambda", "Errors", "FunctionName", names[i], "Sum", 60);
	}
	assert_int_equal(cw_get_metric_data(e->a, many, N, t0, t0 + 60, &s, NULL, &err), TP_OK);
	for (int i = 0; i < N; i++)
		assert_true(s[i].n == 1 && s[i].v[0] == i);
	cw_series_free(s, N);
}

/* A listing left unfinished is forgotten after 16 newer ones. */
static void test_unfinished_listings_expire(void **state)
{
	struct env *e = *state;
	create(e, "tp-x1", "{\"taskpipe:owner\":\"me\"}");
	create(e, "tp-x2", "{\"taskpipe:owner\":\"me\"}");
	char *first = NULL, code[128];
	for (int i = 0; i < 17; i++) {
		char *body = request("me", "sqs", 1, NULL);
		cJSON *out = NULL;
		assert_int_equal(call(e, SVC_TAGGING, "GetResources", body, &out, code), TP_OK);
		free(body);
		if (!first)
			first = tp_xstrdup(cJSON_GetStringValue(cJSON_GetObjectItem(out, "PaginationToken")));
		cJSON_Delete(out);
	}
	char *body = request("me", "sqs", 1, first);
	assert_true(call(e, SVC_TAGGING, "GetResources", body, NULL, code) < 0);
	assert_string_equal(code, "PaginationTokenExpiredException");
	free(body);
	free(first);
	assert_true(call(e, SVC_TAGGING, "GetResources", "{\"TagFilters\":[{\"Values\":[\"x\"]}]}", NULL, code) < 0);
	assert_string_equal(code, "InvalidParameterException");
	assert_true(call(e, SVC_TAGGING, "GetResources", "{\"ResourceTypeFilters\":\"sqs\"}", NULL, code) < 0);
	assert_string_equal(code, "InvalidParameterException");
}

static void test_metric_errors(void **state)
{
	struct env *e = *state;
	char code[128];
	assert_true(call(e, SVC_CLOUDWATCH, "PutMetricData",
			 "{\"Namespace\":\"AWS/SQS\",\"MetricData\":[{\"MetricName\":\"m\",\"Value\":1}]}", NULL, code) < 0);
	assert_string_equal(code, "InvalidParameterValue");
	assert_true(call(e, SVC_CLOUDWATCH, "PutMetricData",
			 "{\"Namespace\":\"App\",\"MetricData\":[{\"MetricName\":\"m\",\"Value\":1,"
			 "\"Timestamp\":1000}]}", NULL, code) < 0);
	assert_string_equal(code, "InvalidParameterValue");
	assert_true(call(e, SVC_CLOUDWATCH, "PutMetricData",
			 "{\"Namespace\":\"App\",\"MetricData\":[{\"MetricName\":\"m\",\"Counts\":[1],\"Values\":[1]}]}",
			 NULL, code) < 0);
	assert_string_equal(code, "InvalidParameterValue");
	assert_true(call(e, SVC_CLOUDWATCH, "PutMetricData", "{\"MetricData\":[]}", NULL, code) < 0);
	assert_string_equal(code, "MissingParameter");
	assert_true(call(e, SVC_CLOUDWATCH, "GetMetricData",
			 "{\"MetricDataQueries\":[{\"Id\":\"e1\",\"Expression\":\"SUM(METRICS())\"}],"
			 "\"StartTime\":1767225600,\"EndTime\":1767225900}", NULL, code) < 0);
	assert_string_equal(code, "InvalidParameterValue");
	assert_true(call(e, SVC_CLOUDWATCH, "GetMetricData",
			 "{\"MetricDataQueries\":[{\"Id\":\"Q\",\"MetricStat\":{\"Metric\":{\"Namespace\":\"A\","
			 "\"MetricName\":\"m\"},\"Period\":60,\"Stat\":\"Sum\"}}],"
			 "\"StartTime\":1767225600,\"EndTime\":1767225900}", NULL, code) < 0);
	assert_string_equal(code, "InvalidParameterValue");
	assert_true(call(e, SVC_CLOUDWATCH, "GetMetricData",
			 "{\"MetricDataQueries\":[{\"Id\":\"q\",\"MetricStat\":{\"Metric\":{\"Namespace\":\"A\","
			 "\"MetricName\":\"m\"},\"Period\":61,\"Stat\":\"Sum\"}}],"
			 "\"StartTime\":1767225600,\"EndTime\":1767225900}", NULL, code) < 0);
	assert_string_equal(code, "InvalidParameterValue");
	assert_true(call(e, SVC_CLOUDWATCH, "GetMetricData",
			 "{\"MetricDataQueries\":[{\"Id\":\"q\",\"MetricStat\":{\"Metric\":{\"Namespace\":\"A\","
			 "\"MetricName\":\"m\"},\"Period\":60,\"Stat\":\"Median\"}}],"
			 "\"StartTime\":1767225600,\"EndTime\":1767225900}", NULL, code) < 0);
	assert_string_equal(code, "InvalidParameterValue");
	assert_true(call(e, SVC_CLOUDWATCH, "GetMetricData",
			 "{\"MetricDataQueries\":[{\"Id\":\"q\",\"MetricStat\":{\"Metric\":{\"Namespace\":\"A\","
			 "\"MetricName\":\"m\"},\"Period\":60,\"Stat\":\"p99\"}}],"
			 "\"StartTime\":1767225900,\"EndTime\":1767225600}", NULL, code) < 0);
	assert_string_equal(code, "InvalidParameterValue");
	assert_true(call(e, SVC_CLOUDWATCH, "GetMetricData",
			 "{\"MetricDataQueries\":[{\"Id\":\"q\",\"MetricStat\":{\"Metric\":{\"Namespace\":\"A\","
			 "\"MetricName\":\"m\"},\"Period\":60,\"Stat\":\"p99\"}}],"
			 "\"StartTime\":1767225600,\"EndTime\":1767225900,\"NextToken\":\"x\"}", NULL, code) < 0);
	assert_string_equal(code, "InvalidNextToken");
	assert_true(call(e, SVC_CLOUDWATCH, "ListMetrics", "{}", NULL, code) < 0);
	assert_string_equal(code, "UnknownOperationException");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_get_resources_filters_and_pages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_functions_and_queues, setup, teardown),
		cmocka_unit_test_setup_teardown(test_get_resources_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_metrics_from_sqs_and_put, setup, teardown),
		cmocka_unit_test_setup_teardown(test_statistics, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unfinished_listings_expire, setup, teardown),
		cmocka_unit_test_setup_teardown(test_metric_errors, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
