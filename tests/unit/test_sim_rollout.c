/* test_sim_rollout.c: code rollouts (src/core/rollout/) against the fake
 * AWS, under the sanitizers. A new upload reaches every pipeline of the
 * code object, each function updated exactly once; a runner killed at its
 * k-th request (every request after it fails, as for a dead process) is
 * resumed by a new controller once its lease ran out, and still every
 * function is updated exactly once, over many seeds (kill point, lags,
 * throttling): TASKPIPE_SIM_SEEDS (default 20; `make test` can ask more).
 * UpdateFunctionCode is counted per function from what reached the fake. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/base64.h"
#include "base/hash.h"
#include "core/rollout/rollout.h"
#include "fake/fake_int.h"
#include "fake/fixture.h"

#define NPIPES 6

static const char *const pipes[NPIPES] = { "r0", "r1", "r2", "r3", "r4", "r5" };

static void expected_sha(const char *bytes, char out[64])
{
	unsigned char d[HASH_SHA256_LEN];
	hash_sha256(bytes, strlen(bytes), d);
	base64_encode(d, sizeof d, out);
}

static void code_sha(struct fx *x, const char *fn, char *out, size_t len)
{
	cJSON *f = fx_get_function(x, fn);
	assert_non_null(f);
	const char *s = cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(f, "Configuration"), "CodeSha256"));
	snprintf(out, len, "%s", s ? s : "");
	cJSON_Delete(f);
}

/* A fleet of NPIPES pipelines on FX_KEY and one on another object (not a
 * target), made by reconcile. */
static void fleet(struct fx *x, const struct fake_options *fo)
{
	/* a watched canary wave with a short pause: the health gate runs
	 * (GetMetricData), in simulated minutes */
	setenv("TASKPIPE_CANARY_PAUSE_S", "60", 1);
	setenv("TASKPIPE_HEALTH_WAIT_MAX_S", "120", 1);
	fx_setup(x, fo);
	char item[160];
	for (int i = 0; i < NPIPES; i++) {
		snprintf(item, sizeof item, "{\"pipeline\":\"%s\",\"concurrency\":%d}", pipes[i], 2 + i);
		fx_put(x, item);
	}
	size_t n;
	struct rec_result *res = fx_reconcile(x, NULL, NULL, 0, NULL, &n);
	fx_assert_all_ok(res, n);
	assert_int_equal(n, NPIPES);
	reconcile_results_free(res, n);
}

static long updates_of(const struct fx_log *l, const char *fn)
{
	char needle[96];
	snprintf(needle, sizeof needle, "/functions/%s/code", fn);
	return fx_log_count_ok(l, "lambda", "UpdateFunctionCode", needle);
}

/* Every target updated exactly once (by what reached the fake) and on the
 * new code. */
static void assert_rolled_once(struct fx *x, const struct fx_log *l, const char *bytes, uint64_t seed)
{
	char want[64], got[64];
	expected_sha(bytes, want);
	for (int i = 0; i < NPIPES; i++) {
		char fn[32];
		snprintf(fn, sizeof fn, "tp-%s", pipes[i]);
		long u = updates_of(l, fn);
		code_sha(x, fn, got, sizeof got);
		if (u != 1 || strcmp(got, want) != 0) {
			for (size_t j = 0; j < l->n; j++)
				if (strstr(l->v[j].what, fn) || strstr(l->v[j].what, "rollout"))
					fprintf(stderr, "  %4zu %s %s %ld %.160s\n", j, l->v[j].service, l->v[j].op,
						l->v[j].status, l->v[j].what);
		}
		if (u != 1 || strcmp(got, want) != 0)
			fail_msg("seed %llu: %s: %ld UpdateFunctionCode (want 1), CodeSha256 %s (want %s)",
				 (unsigned long long)seed, fn, u, got, want);
	}
}

static int run(struct fx *x, struct app *app, const char *version, struct rollout_result *out)
{
	tp_err e = { 0 };
	struct rollout_opts o = { 0 };
	memset(out, 0, sizeof *out);
	return rollout_run(app, FX_BUCKET, FX_KEY, version, &o, out, &e);
}

/* The requests of an undisturbed rollout (its log's length), checking it. */
static long clean_rollout(const struct fake_options *fo)
{
	struct fx x;
	fleet(&x, fo);
	char before[64];
	code_sha(&x, "tp-r0", before, sizeof before);
	fx_upload(&x, "consumer code v2");
	struct fx_log l = { 0 };
	fx_log_start(&x, &l);
	struct rollout_result r;
	int rc = run(&x, &x.app, NULL, &r);
	fx_log_start(&x, NULL);
	if (rc != TP_OK || r.status != ROLLOUT_DONE)
		fail_msg("rollout: %s (%s)", rollout_outcome_name(r.status), r.has_failure ? r.failure.err.message : "");
	assert_int_equal(r.targets, NPIPES);
	assert_int_equal(r.updated, NPIPES);
	assert_int_equal(r.calls.updates, NPIPES);
	assert_true(r.waves >= 2);
	rollout_result_free(&r);
	assert_rolled_once(&x, &l, "consumer code v2", fo ? fo->seed : 0);
	fx_assert_no_violations(&x);
	char after[64];
	code_sha(&x, "tp-r0", after, sizeof after);
	assert_string_not_equal(before, after);

	/* Run again: everything is current, nothing is updated. */
	size_t mark = l.n;
	fx_log_start(&x, &l);
	rc = run(&x, &x.app, x.version, &r);
	fx_log_start(&x, NULL);
	assert_int_equal(rc, TP_OK);
	assert_true(r.status == ROLLOUT_DONE);
	rollout_result_free(&r);
	for (size_t i = mark; i < l.n; i++)
		assert_false(strstr(l.v[i].what, "/code") && strncmp(l.v[i].what, "PUT ", 4) == 0);
	long n = (long)mark;
	fx_log_free(&l);
	fx_teardown(&x);
	return n;
}

static void test_rollout_reaches_every_pipeline_once(void **state)
{
	(void)state;
	assert_true(clean_rollout(NULL) > NPIPES);
}

static uint64_t mix(uint64_t s)
{
	s ^= s >> 33;
	s *= 0xff51afd7ed558ccdULL;
	s ^= s >> 33;
	s *= 0xc4ceb9fe1a85ec53ULL;
	return s ^ (s >> 33);
}

/* One seed: kill the runner after its k-th request, resume with a new
 * controller after the runner's lease, check every function once. */
static void killed_and_resumed(uint64_t seed, long clean)
{
	uint64_t h = mix(seed);
	struct fake_options fo = {
		.seed = seed,
		.lag_ms = (int)(h % 3) * 400,         /* functions InProgress a while after an update */
		.quotas = (int)((h >> 8) & 1),
		.throttle_pct = (h >> 9) % 4 == 0 ? 3 : 0,
		.table_lag_ms = (int)((h >> 12) % 3) * 1000,   /* init waits for ACTIVE tables */
	};
	struct fx x;
	fleet(&x, &fo);
	fx_upload(&x, "consumer code v2");
	struct fx_log l = { 0 };
	long k = 1 + (long)((h >> 16) % (uint64_t)(clean + clean / 4));
	l.kill_after = k;
	fx_log_start(&x, &l);
	struct rollout_result r;
	run(&x, &x.app, NULL, &r);         /* dies somewhere (or finishes, k past the end) */
	rollout_result_free(&r);

	/* A new controller, after the dead one's lease ran out. */
	l.kill_after = 0;
	app_close(&x.app);
	x.app_open = 0;
	fake_advance_ms(x.fake, 5 * 60 * 1000);
	fx_reopen(&x, NULL);
	int rc = run(&x, &x.app, x.version, &r);
	fx_log_start(&x, NULL);
	if (rc != TP_OK || r.status != ROLLOUT_DONE)
		fail_msg("seed %llu (killed after request %ld of ~%ld): resumed rollout %s: %s: %s",
			 (unsigned long long)seed, k, clean, rollout_outcome_name(r.status),
			 r.has_failure ? r.failure.err.code : "", r.has_failure ? r.failure.err.message : "");
	rollout_result_free(&r);
	assert_rolled_once(&x, &l, "consumer code v2", seed);
	fx_assert_no_violations(&x);
	fx_log_free(&l);
	fx_teardown(&x);
}

static void test_killed_at_step_k_and_resumed(void **state)
{
	(void)state;
	long clean = clean_rollout(NULL);
	int seeds = fx_seeds(20);
	const char *only = getenv("TASKPIPE_SIM_SEED");   /* one seed, to look at it */
	for (int s = only ? atoi(only) : 1; s <= (only ? atoi(only) : seeds); s++)
		killed_and_resumed((uint64_t)s, clean);
}

/* A newer upload while a rollout runs supersedes it: every function ends
 * on the newest code, none updated to it twice. */
static void test_newer_upload_supersedes(void **state)
{
	(void)state;
	struct fx x;
	fleet(&x, NULL);
	fx_upload(&x, "consumer code v2");
	char v2[128];
	snprintf(v2, sizeof v2, "%s", x.version);
	struct fx_log l = { 0 };
	/* the v2 runner dies after a few requests, with its record written */
	l.kill_after = 40;
	fx_log_start(&x, &l);
	struct rollout_result r;
	run(&x, &x.app, v2, &r);
	rollout_result_free(&r);
	l.kill_after = 0;
	fx_upload(&x, "consumer code v3");
	fake_advance_ms(x.fake, 5 * 60 * 1000);
	fx_reopen(&x, NULL);
	size_t mark = l.n;
	int rc = run(&x, &x.app, x.version, &r);
	fx_log_start(&x, NULL);
	assert_int_equal(rc, TP_OK);
	assert_int_equal(r.status, ROLLOUT_DONE);
	rollout_result_free(&r);
	char want[64], got[64];
	expected_sha("consumer code v3", want);
	for (int i = 0; i < NPIPES; i++) {
		char fn[32], needle[64];
		snprintf(fn, sizeof fn, "tp-%s", pipes[i]);
		code_sha(&x, fn, got, sizeof got);
		assert_string_equal(got, want);
		snprintf(needle, sizeof needle, "/functions/%s/code", fn);
		long after = 0;
		for (size_t j = mark; j < l.n; j++)
			after += strstr(l.v[j].what, needle) && strncmp(l.v[j].what, "PUT ", 4) == 0 &&
				 l.v[j].status == 200;
		assert_int_equal(after, 1);
	}
	fx_log_free(&l);
	fx_teardown(&x);
}

/* The canary's errors: at the health check's first GetMetricData, the fake
 * CloudWatch gets AWS/Lambda Invocations and Errors of the canary (tp-r0)
 * inside the window asked for, as Lambda would have published them. */
struct sick {
	struct fx *x;
	int done;
};

static int sick_canary(void *ctx, const struct fake_req *r, struct http_response *out)
{
	struct sick *s = ctx;
	if (s->done || strcmp(r->service, "monitoring") != 0 || !strstr(r->target, "GetMetricData"))
		return 0;
	cJSON *in = cJSON_Parse(r->body);
	double from = cJSON_GetNumberValue(cJSON_GetObjectItem(in, "StartTime"));
	cJSON_Delete(in);
	int64_t at = (int64_t)from * 1000 + 1000;
	fake_cloudwatch_put(s->x->fake, "AWS/Lambda", "Invocations", "FunctionName", "tp-r0", at, 100);
	fake_cloudwatch_put(s->x->fake, "AWS/Lambda", "Errors", "FunctionName", "tp-r0", at, 40);
	s->done = 1;
	return 0;
}

/* An unhealthy canary halts the rollout: the canary goes back to its old
 * code (one more UpdateFunctionCode), the others are never updated, and
 * the version is rejected: a second run does not roll it out again. */
static void test_unhealthy_canary_rolled_back(void **state)
{
	(void)state;
	struct fx x;
	fleet(&x, NULL);
	char old[64], v2[64];
	code_sha(&x, "tp-r0", old, sizeof old);
	fx_upload(&x, "consumer code v2");
	expected_sha("consumer code v2", v2);
	struct sick sk = { .x = &x };
	struct fx_log l = { .extra = sick_canary, .extra_ctx = &sk };
	fx_log_start(&x, &l);
	struct rollout_result r;
	int rc = run(&x, &x.app, NULL, &r);
	assert_true(sk.done);
	assert_int_not_equal(rc, TP_OK);
	assert_int_equal(r.status, ROLLOUT_HALTED);
	assert_true(r.rollback.done);
	assert_int_equal(r.rollback.rolled_back, 1);
	rollout_result_free(&r);
	char got[64];
	code_sha(&x, "tp-r0", got, sizeof got);
	assert_string_equal(got, old);                 /* back on the old code */
	assert_int_equal(updates_of(&l, "tp-r0"), 2);  /* the update and its rollback */
	for (int i = 1; i < NPIPES; i++) {
		char fn[32];
		snprintf(fn, sizeof fn, "tp-%s", pipes[i]);
		assert_int_equal(updates_of(&l, fn), 0);
		code_sha(&x, fn, got, sizeof got);
		assert_string_equal(got, old);
	}
	/* rejected: asked again, nothing is updated */
	size_t mark = l.n;
	rc = run(&x, &x.app, x.version, &r);
	rollout_result_free(&r);
	fx_log_start(&x, NULL);
	for (size_t j = mark; j < l.n; j++)
		assert_false(strstr(l.v[j].what, "/code") && strncmp(l.v[j].what, "PUT ", 4) == 0);
	fx_assert_no_violations(&x);
	fx_log_free(&l);
	fx_teardown(&x);
}

/* Killed at request k of a rollout whose canary turns out unhealthy, then
 * resumed: however far the dead runner got, the fleet ends on one code,
 * never mixed: the new one everywhere (the resumed health check, in a later
 * window, found nothing) or the old one everywhere (halted and rolled back).
 *
 * KNOWN GAP (reported, not fixed here): the canary's verdict is recorded
 * (rollout#: rollback_functions) and the canary put back before the
 * version is rejected (code#, store_code_reject, rollback.c); a runner
 * killed between the two leaves the version unrejected, and the resumed run
 * updates the canary to it again (a third update) and, its new window
 * clean, rolls it out everywhere. So a function may be updated 3 times
 * here (the update, its rollback, the re-rollout), never more; the seeds
 * where that happened are counted (*regressed). With the gap closed this
 * bound is 2. */
static void sick_killed_and_resumed(uint64_t seed, long clean, int *regressed)
{
	uint64_t h = mix(seed + 7777);
	struct fake_options fo = { .seed = seed, .lag_ms = (int)(h % 3) * 300 };
	struct fx x;
	fleet(&x, &fo);
	char old[64], v2[64];
	code_sha(&x, "tp-r0", old, sizeof old);
	fx_upload(&x, "consumer code v2");
	expected_sha("consumer code v2", v2);
	struct sick sk = { .x = &x };
	struct fx_log l = { .extra = sick_canary, .extra_ctx = &sk };
	long k = 1 + (long)((h >> 16) % (uint64_t)clean);
	l.kill_after = k;
	fx_log_start(&x, &l);
	struct rollout_result r;
	run(&x, &x.app, NULL, &r);
	enum rollout_outcome first = r.status;
	rollout_result_free(&r);
	l.kill_after = 0;
	app_close(&x.app);
	x.app_open = 0;
	fake_advance_ms(x.fake, 5 * 60 * 1000);
	fx_reopen(&x, NULL);
	run(&x, &x.app, x.version, &r);
	enum rollout_outcome second = r.status;
	rollout_result_free(&r);
	fx_log_start(&x, NULL);
	int on_new = 0, on_old = 0;
	for (int i = 0; i < NPIPES; i++) {
		char fn[32], got[64];
		snprintf(fn, sizeof fn, "tp-%s", pipes[i]);
		code_sha(&x, fn, got, sizeof got);
		on_new += strcmp(got, v2) == 0;
		on_old += strcmp(got, old) == 0;
		long u = updates_of(&l, fn);
		if (u > 3)
			fail_msg("seed %llu (killed after %ld): %s updated %ld times", (unsigned long long)seed, k, fn, u);
		*regressed += u == 3;
	}
	if (on_new != NPIPES && on_old != NPIPES)
		fail_msg("seed %llu (killed after %ld; runs %s, %s): %d functions on the new code, %d on the old",
			 (unsigned long long)seed, k, rollout_outcome_name(first), rollout_outcome_name(second), on_new,
			 on_old);
	fx_assert_no_violations(&x);
	fx_log_free(&l);
	fx_teardown(&x);
}

static void test_unhealthy_killed_and_resumed(void **state)
{
	(void)state;
	long clean = clean_rollout(NULL);
	int seeds = (fx_seeds(20) + 1) / 2;   /* half: the make check budget */
	const char *only = getenv("TASKPIPE_SIM_SEED");
	int regressed = 0;
	for (int s = only ? atoi(only) : 1; s <= (only ? atoi(only) : seeds); s++)
		sick_killed_and_resumed((uint64_t)s, clean, &regressed);
	fprintf(stderr, "unhealthy rollouts killed and resumed: %d seeds, %d re-rolled a rolled-back canary "
		"(the known gap above)\n", seeds, regressed);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rollout_reaches_every_pipeline_once),
		cmocka_unit_test(test_killed_at_step_k_and_resumed),
		cmocka_unit_test(test_newer_upload_supersedes),
		cmocka_unit_test(test_unhealthy_canary_rolled_back),
		cmocka_unit_test(test_unhealthy_killed_and_resumed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
