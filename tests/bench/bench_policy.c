/* bench_policy.c: the cost of running each policy call in the worker
 * process against the same call in this process, and the wall time and peak memory
 * of each attack on the sandbox (release build: `make bench-policy`). */
#include "script/policy.h"

#include <cjson/cJSON.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char CTX[] = "{\"instance\":\"taskpipe\",\"region\":\"us-east-1\",\"prefix\":\"tp-\","
			  "\"account_concurrency\":1000,\"unreserved_min\":100,"
			  "\"defaults\":{\"code_bucket\":\"code\",\"code_key\":\"consumer.zip\","
			  "\"role_arn\":\"arn:aws:iam::123456789012:role/c\"},\"now\":1700000000}";
static const char ITEM[] = "{\"pipeline\":{\"S\":\"tenant-42\"},\"concurrency\":{\"N\":\"4\"},"
			   "\"timeout\":{\"N\":\"60\"},\"env\":{\"M\":{\"API_URL\":{\"S\":\"https://example.test\"}}}}";

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static double per_call(int in_process, int n)
{
	struct policy_limits lim = { .in_process = in_process };
	struct policy *p = NULL;
	tp_err e = { 0 };
	unsetenv("TASKPIPE_POLICY");
	unsetenv("LAMBDA_TASK_ROOT");
	if (policy_load(NULL, &lim, &p, &e) < 0) {
		fprintf(stderr, "load: %s\n", e.message);
		exit(1);
	}
	cJSON *item = cJSON_Parse(ITEM), *ctx = cJSON_Parse(CTX);
	policy_set_ctx(p, ctx); /* once, as a run does */
	double a = now_us();
	for (int i = 0; i < n; i++) {
		cJSON *spec = NULL;
		if (policy_pipeline(p, item, &spec, &e) < 0) {
			fprintf(stderr, "call: %s\n", e.message);
			exit(1);
		}
		cJSON_Delete(spec);
	}
	double us = (now_us() - a) / n;
	cJSON_Delete(item);
	cJSON_Delete(ctx);
	policy_free(p);
	return us;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 1000;
	double in = per_call(1, n), iso = per_call(0, n);
	printf("{\"name\":\"policy_call\",\"calls\":%d,\"in_process_us\":%.1f,\"isolated_us\":%.1f,"
	       "\"overhead_us\":%.1f}\n", n, in, iso, iso - in);
	return 0;
}
