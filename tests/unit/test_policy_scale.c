/* test_policy_scale.c: a rollout's caps grow with its targets (call_caps in
 * src/script/call.c: 1 + targets / 5000 times the base caps), every other
 * call keeps the base ones, and a scaled cap still holds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "script/policy.h"

#include <cjson/cJSON.h>

/* n targets as make_plan (core/rollout/rollout.c) builds them, in reverse
 * name order so the policy's sort has work to do. */
static cJSON *targets_of(int n)
{
	cJSON *a = cJSON_CreateArray();
	for (int i = n; i >= 1; i--) {
		char name[32], fn[40];
		snprintf(name, sizeof name, "pipeline-%06d", i);
		snprintf(fn, sizeof fn, "tp-%s", name);
		cJSON *t = cJSON_CreateObject();
		cJSON_AddStringToObject(t, "pipeline", name);
		cJSON_AddStringToObject(t, "function", fn);
		cJSON_AddItemToArray(a, t);
	}
	return a;
}

/* The default policy (policies/policy.lua, embedded) under its default
 * caps over 50,000 targets: the waves hold every target exactly once. */
static void default_rollout_of_50000(void **state)
{
	(void)state;
	enum { N = 50000 };
	unsetenv("TASKPIPE_POLICY");
	unsetenv("LAMBDA_TASK_ROOT");
	unsetenv("TASKPIPE_POLICY_TIMEOUT_MS");
	struct policy *p = NULL;
	tp_err e = {0};
	if (policy_load(NULL, NULL, &p, &e) != 0)
		fail_msg("default policy: %s", e.message);
	assert_string_equal(policy_origin(p), "builtin:policy.lua");
	cJSON *ctx = cJSON_Parse("{\"rollout\":{\"canary_pause_s\":60}}");
	policy_set_ctx(p, ctx);
	cJSON_Delete(ctx);
	cJSON *targets = targets_of(N), *change = cJSON_Parse("{\"bucket\":\"code\",\"key\":\"k\"}"), *waves = NULL;
	if (policy_rollout(p, change, targets, &waves, &e) != 0)
		fail_msg("rollout of %d targets: %s: %s", N, e.code, e.message);
	long wall_us, rss_kb;
	policy_last_usage(p, &wall_us, &rss_kb);
	printf("rollout of %d targets: %d waves, %.1f ms, worker RSS %ld KiB\n", N, cJSON_GetArraySize(waves),
	       wall_us / 1e3, rss_kb);
	unsigned char *seen = calloc(N + 1, 1);
	int total = 0;
	const cJSON *w;
	cJSON_ArrayForEach(w, waves) {
		const cJSON *t;
		cJSON_ArrayForEach(t, cJSON_GetObjectItem(w, "targets")) {
			int i = 0;
			assert_true(cJSON_IsString(t));
			assert_int_equal(sscanf(t->valuestring, "pipeline-%d", &i), 1);
			assert_true(i >= 1 && i <= N);
			if (seen[i]++)
				fail_msg("%s is in the waves twice", t->valuestring);
			total++;
		}
	}
	assert_int_equal(total, N);
	assert_int_equal(cJSON_GetArraySize(waves), 3); /* canary, 10%, the rest */
	free(seen);
	cJSON_Delete(waves);
	cJSON_Delete(change);
	cJSON_Delete(targets);
	policy_free(p);
}

/* pipeline returns item.n values; rollout returns item-less lists: as many
 * values as change.n says (targets only set the caps). */
static const char SRC[] =
	"local function list(n) local t = tp.list() for i = 1, n do t[i] = 'v' end return t end\n"
	"return { pipeline = function(item, ctx) return { v = list(tonumber(item.n)) } end,\n"
	"  rollout = function(change, targets, ctx)\n"
	"    if change.spin then while true do end end\n"
	"    if change.slow then string.rep('a', 5e4):find('.-.-.-.-.-.-b') end\n"
	"    return { { targets = list(change.n) } }\n"
	"  end }\n";

static int pipeline_values(struct policy *p, int n, tp_err *e)
{
	char text[64];
	snprintf(text, sizeof text, "{\"pipeline\":{\"S\":\"a\"},\"n\":{\"N\":\"%d\"}}", n);
	cJSON *item = cJSON_Parse(text), *spec = NULL;
	int rc = policy_pipeline(p, item, &spec, e);
	cJSON_Delete(item);
	cJSON_Delete(spec);
	return rc;
}

/* rollout over `targets` targets returning a wave of n values (plus the
 * wave's 3: the list, the wave, the list of waves). */
static int rollout_values(struct policy *p, int targets, int n, const char *extra, tp_err *e)
{
	char text[96];
	snprintf(text, sizeof text, "{\"n\":%d%s}", n, extra ? extra : "");
	cJSON *change = cJSON_Parse(text), *t = targets_of(targets), *waves = NULL;
	int rc = policy_rollout(p, change, t, &waves, e);
	cJSON_Delete(change);
	cJSON_Delete(t);
	cJSON_Delete(waves);
	return rc;
}

static void expect(int rc, const tp_err *e, const char *code, const char *text)
{
	if (rc == 0)
		fail_msg("succeeded, expected %s", code);
	assert_string_equal(e->code, code);
	if (!strstr(e->message, text))
		fail_msg("\"%s\" does not say \"%s\"", e->message, text);
}

/* Every other call keeps 10,000 values; a rollout's cap grows with its
 * targets, and past the scaled cap it still fails, naming the cap's actual
 * value; in the worker and in process alike. */
static void only_rollouts_scale(void **state)
{
	(void)state;
	for (int in_process = 0; in_process < 2; in_process++) {
		struct policy_limits lim = { .in_process = in_process, .timeout_ms = 30000 }; /* not the clock's test */
		struct policy *p = NULL;
		tp_err e = {0};
		assert_int_equal(policy_new(SRC, strlen(SRC), "scale.lua", &lim, &p, &e), 0);
		assert_int_equal(pipeline_values(p, 9990, &e), 0);
		expect(pipeline_values(p, 10001, &e), &e, "PolicyOutputLimit", "more than 10000 values");
		/* under 5,000 targets: the base cap */
		expect(rollout_values(p, 4999, 10001, NULL, &e), &e, "PolicyOutputLimit", "more than 10000 values");
		/* 10,000 targets: 3x */
		assert_int_equal(rollout_values(p, 10000, 29000, NULL, &e), 0);
		expect(rollout_values(p, 10000, 30001, NULL, &e), &e, "PolicyOutputLimit", "more than 30000 values");
		/* 50,000 targets: 11x; ten times the targets is past it */
		assert_int_equal(rollout_values(p, 50000, 50000, NULL, &e), 0);
		expect(rollout_values(p, 50000, 500000, NULL, &e), &e, "PolicyOutputLimit", "more than 110000 values");
		/* and the pipeline call after them is back at the base cap */
		expect(pipeline_values(p, 10001, &e), &e, "PolicyOutputLimit", "more than 10000 values");
		policy_free(p);
	}
}

/* The instruction and wall-clock caps scale too, and their errors name
 * the scaled values; an invocation's deadline still shortens the clock. */
static void rollout_clock_and_instructions_scale(void **state)
{
	(void)state;
	struct policy_limits lim = { .max_instructions = 100000, .timeout_ms = 200 };
	struct policy *p = NULL;
	tp_err e = {0};
	assert_int_equal(policy_new(SRC, strlen(SRC), "scale.lua", &lim, &p, &e), 0);
	expect(rollout_values(p, 10000, 1, ",\"spin\":true", &e), &e, "PolicyInstructionLimit",
	       "instruction limit of 300000 exceeded");
	expect(rollout_values(p, 1, 1, ",\"spin\":true", &e), &e, "PolicyInstructionLimit",
	       "instruction limit of 100000 exceeded");
	expect(rollout_values(p, 10000, 1, ",\"slow\":true", &e), &e, "PolicyTimeLimit", "wall-clock limit of 600 ms");
	expect(rollout_values(p, 1, 1, ",\"slow\":true", &e), &e, "PolicyTimeLimit", "wall-clock limit of 200 ms");
	/* a deadline 300 ms ahead: the scaled 600 ms do not pass it */
	policy_set_deadline(p, tp_now_ms() + 300);
	int rc = rollout_values(p, 10000, 1, ",\"slow\":true", &e);
	expect(rc, &e, "PolicyTimeLimit", "wall-clock limit of ");
	long ms = strtol(strstr(e.message, "wall-clock limit of ") + strlen("wall-clock limit of "), NULL, 10);
	assert_true(ms > 0 && ms <= 300);
	policy_free(p);
}

int main(void)
{
	log_set_level(LOG_WARN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(default_rollout_of_50000),
		cmocka_unit_test(only_rollouts_scale),
		cmocka_unit_test(rollout_clock_and_instructions_scale),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
