/* test_aws_batch.c: aws_call_many's scheduling, judged from what a
 * transport on a simulated clock saw: calls start oldest first within the
 * in-flight cap, a spent Lambda budget holds back only its own class, a
 * throttled call waits out Retry-After and goes before newer calls of its
 * class, the progress tick counts up to n. (Issue 32: the loop keeps its
 * counts as calls change state instead of walking all n every turn.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/aws.h"
#include "aws/http.h"

#define N_CALLS 45
#define MAX_IN_FLIGHT 3
#define LATENCY_US 20000
#define THROTTLED 4            /* a Lambda control-plane call: answered 429 once */

struct flight {
	struct http_response *resp;
	aws_transport_done_fn done;
	void *ctx;
	int64_t due_us;
	int idx;
};

struct sim {
	int64_t mono_us;
	struct flight fl[16];
	int n_fl;
	int max_seen;                  /* most requests in flight at once */
	int order[2 * N_CALLS];        /* call index of each request, as sent */
	int64_t sent_us[2 * N_CALLS];
	int n_sent;
	int throttled_once;
	int64_t throttle_answered_us;
	size_t ticks[4096][2];
	int n_ticks;
};

static struct sim sim;

static int64_t sim_now_us(void *ctx)
{
	return 1767225600000000LL + sim.mono_us;
}

static int64_t sim_mono_us(void *ctx)
{
	return sim.mono_us;
}

static void sim_sleep_ms(void *ctx, int64_t ms)
{
	sim.mono_us += ms * 1000;
}

static int sim_send(void *ctx, const struct http_request *req, struct http_response *resp,
		    aws_transport_done_fn done, void *done_ctx)
{
	const char *p = strstr(req->url, "/c/");
	assert_non_null(p);
	assert_true(sim.n_fl < 16 && sim.n_sent < 2 * N_CALLS);
	int idx = atoi(p + 3);
	sim.order[sim.n_sent] = idx;
	sim.sent_us[sim.n_sent++] = sim.mono_us;
	sim.fl[sim.n_fl++] = (struct flight){ resp, done, done_ctx, sim.mono_us + LATENCY_US, idx };
	if (sim.n_fl > sim.max_seen)
		sim.max_seen = sim.n_fl;
	return 0;
}

static void answer(struct flight *f)
{
	if (f->idx == THROTTLED && !sim.throttled_once) {
		sim.throttled_once = 1;
		sim.throttle_answered_us = sim.mono_us;
		f->resp->status = 429;
		buf_adds(&f->resp->headers, "x-amzn-ErrorType: TooManyRequestsException\r\nRetry-After: 1\r\n");
		buf_adds(&f->resp->body, "{\"__type\":\"TooManyRequestsException\",\"message\":\"Rate exceeded\"}");
		return;
	}
	f->resp->status = 200;
	buf_adds(&f->resp->body, "{}");
}

/* Ends what is due by now + timeout, the earliest first, moving the clock. */
static int sim_poll(void *ctx, long timeout_ms)
{
	int64_t until = sim.mono_us + timeout_ms * 1000;
	int first = -1;
	for (int i = 0; i < sim.n_fl; i++)
		if (first < 0 || sim.fl[i].due_us < sim.fl[first].due_us)
			first = i;
	if (first < 0 || sim.fl[first].due_us > until) {
		sim.mono_us = until;
		return sim.n_fl;
	}
	if (sim.fl[first].due_us > sim.mono_us)
		sim.mono_us = sim.fl[first].due_us;
	for (int i = 0; i < sim.n_fl;) {
		if (sim.fl[i].due_us > sim.mono_us) {
			i++;
			continue;
		}
		struct flight f = sim.fl[i];
		sim.fl[i] = sim.fl[--sim.n_fl];
		answer(&f);
		f.done(f.ctx, f.resp);
	}
	return sim.n_fl;
}

static void on_tick(void *ctx, size_t done, size_t n)
{
	if (sim.n_ticks < 4096) {
		sim.ticks[sim.n_ticks][0] = done;
		sim.ticks[sim.n_ticks++][1] = n;
	}
}

/* 0: SQS (unmetered), 1: Lambda control plane, 2: GetFunction. */
static int class_of(int idx)
{
	return idx % 3;
}

static void test_oldest_first_budgets_per_class_retry(void **state)
{
	(void)state;
	memset(&sim, 0, sizeof sim);
	const struct tp_clock clock = { sim_now_us, sim_mono_us, sim_sleep_ms, NULL };
	tp_set_clock(&clock);
	setenv("AWS_ACCESS_KEY_ID", "AKIDBATCH", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "secret", 1);
	unsetenv("AWS_SESSION_TOKEN");
	unsetenv("AWS_PROFILE");
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	struct aws_options o = { .region = "us-east-1", .seed = 1, .max_in_flight = MAX_IN_FLIGHT,
				 .lambda_rps = 2, .lambda_get_rps = 50 };
	struct aws *a = NULL;
	tp_err e = { 0 };
	assert_int_equal(aws_new(&o, &a, &e), TP_OK);
	const struct aws_transport t = { sim_send, sim_poll, NULL };
	aws_set_transport(a, &t);
	aws_set_tick(a, on_tick, NULL);

	static const char *ops[] = { "GetQueueUrl", "GetAlias", "GetFunction" };
	static const int svcs[] = { SVC_SQS, SVC_LAMBDA, SVC_LAMBDA };
	struct aws_call calls[N_CALLS];
	char paths[N_CALLS][16];
	memset(calls, 0, sizeof calls);
	for (int i = 0; i < N_CALLS; i++) {
		snprintf(paths[i], sizeof paths[i], "/c/%d", i);
		calls[i] = (struct aws_call){ .service = svcs[class_of(i)], .op = ops[class_of(i)],
					     .method = "GET", .path = paths[i] };
	}
	assert_int_equal(aws_call_many(a, calls, N_CALLS), TP_OK);

	for (int i = 0; i < N_CALLS; i++) {
		assert_int_equal(calls[i].rc, TP_OK);
		assert_int_equal(calls[i].attempts, i == THROTTLED ? 2 : 1);
	}
	assert_int_equal(sim.n_sent, N_CALLS + 1);
	assert_int_equal(sim.max_seen, MAX_IN_FLIGHT);

	/* Within a class, first attempts go out oldest first; the throttled
	 * call's retry goes out after Retry-After and before any newer call of
	 * its class still waiting then. */
	int last[3] = { -1, -1, -1 }, retry_at = -1;
	int64_t class_us[3][N_CALLS];
	int n_class[3] = { 0 };
	for (int s = 0; s < sim.n_sent; s++) {
		int idx = sim.order[s], k = class_of(idx);
		class_us[k][n_class[k]++] = sim.sent_us[s];
		if (idx == THROTTLED && last[k] >= THROTTLED) {
			retry_at = s;
			assert_true(sim.sent_us[s] >= sim.throttle_answered_us + 1000000);
			continue;
		}
		assert_true(idx > last[k]);
		last[k] = idx;
	}
	assert_true(retry_at > 0);
	int before_retry = 0;   /* newer Lambda control-plane calls sent while the retry waited its turn */
	for (int s = 0; s < retry_at; s++)
		if (class_of(sim.order[s]) == 1 && sim.order[s] > THROTTLED &&
		    sim.sent_us[s] >= sim.throttle_answered_us + 1000000)
			before_retry++;
	assert_int_equal(before_retry, 0);

	/* The Lambda control plane at 2/s (burst 2): its j-th request no sooner
	 * than (j - 2) / 2 s after its first. */
	for (int j = 2; j < n_class[1]; j++)
		assert_true(class_us[1][j] - class_us[1][0] >= (int64_t)(j - 2) * 500000 - 1000);
	/* ... while the other classes go on: every SQS call and GetFunction is
	 * out before the control plane's fourth request (>= 1 s in). */
	assert_true(class_us[0][n_class[0] - 1] < class_us[1][3]);
	assert_true(class_us[2][n_class[2] - 1] < class_us[1][3]);
	/* All SQS calls and GetFunctions in index order overall, none held back
	 * by a spent budget of another class. */
	int prev = -1;
	for (int s = 0; s < sim.n_sent; s++)
		if (class_of(sim.order[s]) != 1) {
			assert_true(sim.order[s] > prev);
			prev = sim.order[s];
		}

	/* Progress: never backwards, ends at n of n. */
	assert_true(sim.n_ticks > 1);
	for (int i = 1; i < sim.n_ticks; i++) {
		assert_true(sim.ticks[i][0] >= sim.ticks[i - 1][0]);
		assert_int_equal(sim.ticks[i][1], N_CALLS);
	}
	assert_int_equal(sim.ticks[sim.n_ticks - 1][0], N_CALLS);
	assert_int_equal(aws_stats_lambda_retries(a), 1);

	for (int i = 0; i < N_CALLS; i++)
		aws_call_free(&calls[i]);
	aws_free(a);
	tp_set_clock(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_oldest_first_budgets_per_class_retry),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
