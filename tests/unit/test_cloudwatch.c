/* test_cloudwatch.c: cw_get_metric_data against a fake CloudWatch (a
 * forked HTTP server on 127.0.0.1 speaking AWS JSON 1.0): 1,200 queries go
 * out in requests of at most 500, each request follows NextToken, a
 * series split over two pages keeps both points, answers map back to
 * their queries, and an error answer is reported. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "aws/cloudwatch.h"

static pid_t srv_pid;
static int srv_port;
static int log_fd[2];   /* the server writes "<queries> <token|-> <target>\n" per request */

static void send_answer(int c, int status, const char *body)
{
	char head[256];
	int n = snprintf(head, sizeof head,
			 "HTTP/1.1 %d X\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: %zu\r\n"
			 "Connection: close\r\n\r\n", status, strlen(body));
	if (write(c, head, (size_t)n) < 0 || write(c, body, strlen(body)) < 0)
		_exit(1);
}

/* One request: page 1 gives every query the point (100, its number in the
 * request) and a NextToken; page 2 the point (160, 1). Metric "Broken"
 * gets a 400 error. */
static void serve(int c)
{
	static char req[1 << 20];
	size_t n = 0, want = 0;
	char *body = NULL;
	for (;;) {
		ssize_t r = read(c, req + n, sizeof req - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
		req[n] = 0;
		if (!body && (body = strstr(req, "\r\n\r\n"))) {
			body += 4;
			const char *cl = strcasestr(req, "\r\nContent-Length:");
			want = cl ? (size_t)atol(cl + 17) : 0;
		}
		if (body && (size_t)(req + n - body) >= want)
			break;
	}
	const char *tgt = strcasestr(req, "\r\nX-Amz-Target: ");
	char target[128] = "";
	if (tgt)
		sscanf(tgt + 16, "%127s", target);
	cJSON *in = cJSON_Parse(body ? body : "{}");
	cJSON *qs = cJSON_GetObjectItem(in, "MetricDataQueries"), *q;
	const char *tok = cJSON_GetStringValue(cJSON_GetObjectItem(in, "NextToken"));
	char line[256];
	int ll = snprintf(line, sizeof line, "%d %s %s\n", cJSON_GetArraySize(qs), tok ? tok : "-", target);
	if (write(log_fd[1], line, (size_t)ll) < 0)
		_exit(1);
	cJSON *out = cJSON_CreateObject(), *res = cJSON_AddArrayToObject(out, "MetricDataResults");
	int i = 0, broken = 0;
	cJSON_ArrayForEach(q, qs) {
		const char *m = cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(
			cJSON_GetObjectItem(q, "MetricStat"), "Metric"), "MetricName"));
		broken |= m && strcmp(m, "Broken") == 0;
		cJSON *r = cJSON_CreateObject();
		cJSON_AddStringToObject(r, "Id", cJSON_GetStringValue(cJSON_GetObjectItem(q, "Id")));
		cJSON *ts = cJSON_AddArrayToObject(r, "Timestamps"), *vs = cJSON_AddArrayToObject(r, "Values");
		cJSON_AddItemToArray(ts, cJSON_CreateNumber(tok ? 160 : 100));
		cJSON_AddItemToArray(vs, cJSON_CreateNumber(tok ? 1 : i));
		cJSON_AddStringToObject(r, "StatusCode", tok ? "Complete" : "PartialData");
		cJSON_AddItemToArray(res, r);
		i++;
	}
	if (!tok)
		cJSON_AddStringToObject(out, "NextToken", "page2");
	char *text = cJSON_PrintUnformatted(out);
	if (broken)
		send_answer(c, 400, "{\"__type\":\"InvalidParameterValueException\",\"message\":\"no such metric\"}");
	else
		send_answer(c, 200, text);
	free(text);
	cJSON_Delete(out);
	cJSON_Delete(in);
}

static int setup(void **state)
{
	(void)state;
	assert_int_equal(pipe(log_fd), 0);
	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(listen(lfd, 64), 0);
	socklen_t al = sizeof a;
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&a, &al), 0);
	srv_port = ntohs(a.sin_port);
	srv_pid = fork();
	if (srv_pid == 0) {
		for (;;) {
			int c = accept(lfd, NULL, NULL);
			if (c < 0)
				_exit(1);
			serve(c);
			close(c);
		}
	}
	close(lfd);
	close(log_fd[1]);
	char url[64];
	snprintf(url, sizeof url, "http://127.0.0.1:%d", srv_port);
	setenv("AWS_ENDPOINT_URL_CLOUDWATCH", url, 1);
	setenv("AWS_ACCESS_KEY_ID", "AKIDTEST", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "secret", 1);
	unsetenv("AWS_SESSION_TOKEN");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	kill(srv_pid, SIGKILL);
	waitpid(srv_pid, NULL, 0);
	close(log_fd[0]);
	return 0;
}

/* Request lines the server logged since the last call. */
static int logged(char lines[][160], int max)
{
	static char text[8192];
	usleep(100000);
	int n = 0;
	ssize_t r;
	fd_set fs;
	struct timeval tv = { 0, 0 };
	size_t got = 0;
	for (;;) {
		FD_ZERO(&fs);
		FD_SET(log_fd[0], &fs);
		if (select(log_fd[0] + 1, &fs, NULL, NULL, &tv) <= 0)
			break;
		if ((r = read(log_fd[0], text + got, sizeof text - 1 - got)) <= 0)
			break;
		got += (size_t)r;
	}
	text[got] = 0;
	for (char *s = strtok(text, "\n"); s && n < max; s = strtok(NULL, "\n"))
		snprintf(lines[n++], 160, "%s", s);
	return n;
}

static struct aws *client(void)
{
	struct aws_options o = { .region = "us-east-1", .max_attempts = 1, .seed = 1 };
	struct aws *a = NULL;
	tp_err e = { 0 };
	assert_int_equal(aws_new(&o, &a, &e), TP_OK);
	return a;
}

#define NQ 1200

static void chunks_pages_and_ids(void **state)
{
	(void)state;
	struct aws *a = client();
	static struct cw_query q[NQ];
	static char fn[NQ][16];
	for (int i = 0; i < NQ; i++) {
		snprintf(fn[i], sizeof fn[i], "f%d", i);
		q[i] = (struct cw_query){ .ns = "AWS/Lambda", .metric = "Errors", .stat = "Sum", .period_s = 60, .ndims = 1 };
		q[i].dim_name[0] = "FunctionName";
		q[i].dim_value[0] = fn[i];
	}
	struct cw_series *s = NULL;
	long calls = 0;
	tp_err e = { 0 };
	assert_int_equal(cw_get_metric_data(a, q, NQ, 0, 600, &s, &calls, &e), TP_OK);
	/* 3 requests (500, 500, 200), each followed by its second page */
	assert_int_equal(calls, 6);
	char lines[16][160];
	int nl = logged(lines, 16);
	assert_int_equal(nl, 6);
	int first[3] = { 0 }, k = 0, second = 0;
	for (int i = 0; i < nl; i++) {
		int nq = 0;
		char tok[32], tgt[128];
		assert_int_equal(sscanf(lines[i], "%d %31s %127s", &nq, tok, tgt), 3);
		assert_string_equal(tgt, "GraniteServiceVersion20100801.GetMetricData");
		assert_true(nq <= CW_MAX_QUERIES_PER_CALL);
		if (strcmp(tok, "-") == 0)
			first[k++] = nq;
		else
			second++;
	}
	assert_int_equal(k, 3);
	assert_int_equal(second, 3);
	assert_int_equal(first[0] + first[1] + first[2], NQ);
	for (int i = 0; i < NQ; i++) {
		/* page 1 gave (100, its index in its request), page 2 (160, 1) */
		assert_int_equal(s[i].n, 2);
		assert_int_equal(s[i].ts[0], 100);
		assert_int_equal(s[i].ts[1], 160);
		assert_true(s[i].v[0] == (double)(i % CW_MAX_QUERIES_PER_CALL));
		assert_true(cw_series_sum(&s[i]) == (double)(i % CW_MAX_QUERIES_PER_CALL) + 1);
		assert_string_equal(s[i].status, "Complete");
		assert_int_equal(s[i].partial, 0);
	}
	assert_true(cw_series_max(&s[0], -1) == 1);
	cw_series_free(s, NQ);
	aws_free(a);
}

static void errors_and_bad_ranges(void **state)
{
	(void)state;
	struct aws *a = client();
	struct cw_query q = { .ns = "AWS/Lambda", .metric = "Broken", .stat = "Sum", .period_s = 60 };
	struct cw_series *s = NULL;
	tp_err e = { 0 };
	assert_true(cw_get_metric_data(a, &q, 1, 0, 600, &s, NULL, &e) < 0);
	assert_string_equal(e.code, "InvalidParameterValueException");
	assert_int_equal(s[0].n, 0);
	cw_series_free(s, 1);
	char lines[4][160];
	logged(lines, 4);
	memset(&e, 0, sizeof e);
	q.metric = "Errors";
	assert_int_equal(cw_get_metric_data(a, &q, 1, 600, 600, &s, NULL, &e), TP_EINVAL);
	assert_string_equal(e.code, "BadTimeRange");
	cw_series_free(s, 1);
	/* nothing asked: no request, no series */
	assert_int_equal(cw_get_metric_data(a, &q, 0, 0, 600, &s, NULL, &e), TP_OK);
	assert_null(s);
	assert_int_equal(logged(lines, 4), 0);
	assert_true(cw_series_max(&(struct cw_series){ 0 }, 7) == 7);
	aws_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(chunks_pages_and_ids),
		cmocka_unit_test(errors_and_bad_ranges),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
