/* test_rollout_plan.c: rollout planning without AWS: which pipelines a code
 * object reaches, skipping functions already current and image functions,
 * batching into the policy's waves, duplicates, ordering; and the status
 * lookup of function records by key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/rollout/plan.h"
#include "core/rollout/ro.h"
#include "core/store.h"

/* A pipeline# record (as store_pipelines_scan reads it) whose stored spec
 * deploys s3://bucket/key. */
static struct store_pipeline record(const char *pipeline, const char *status, const char *bucket,
				    const char *key, const char *storage)
{
	cJSON *spec = cJSON_CreateObject(), *func = cJSON_AddObjectToObject(spec, "func");
	cJSON *code = cJSON_AddObjectToObject(func, "Code");
	cJSON_AddStringToObject(code, "S3Bucket", bucket);
	cJSON_AddStringToObject(code, "S3Key", key);
	if (storage)
		cJSON_AddStringToObject(code, "S3ObjectStorageMode", storage);
	struct store_pipeline r = { .name = tp_xstrdup(pipeline), .status = store_status_parse(status),
				    .spec = cJSON_PrintUnformatted(spec) };
	cJSON_Delete(spec);
	return r;
}

/* records, sorted by name as store_pipelines_scan returns them. */
static struct store_pipelines records(const struct store_pipeline *v, size_t n)
{
	struct store_pipelines s = { .v = tp_xcalloc(n + 1, sizeof *s.v), .n = n };
	memcpy(s.v, v, n * sizeof *v);
	store_pipelines_sort(&s);
	return s;
}

/* The fleet of the tests: which records use s3://b/k. */
static struct store_pipelines fleet(void)
{
	const struct store_pipeline v[] = {
		record("p3", "ok", "b", "k", NULL),
		record("other", "ok", "b", "k2", NULL),
		record("gone", "deleted", "b", "k", NULL),
		record("p1", "ok", "b", "k", "REFERENCE"),
		record("elsewhere", "ok", "b2", "k", NULL),
		record("p2", "error", "b", "k", NULL),
		record("bad name!", "ok", "b", "k", NULL),
		{ .name = tp_xstrdup("nospec"), .status = STORE_OK },
	};
	return records(v, sizeof v / sizeof *v);
}

static void test_spec_reader(void **state)
{
	(void)state;
	struct store_pipeline r = record("p", "ok", "bk", "a#b.zip", "REFERENCE");
	struct store_spec_code c;
	assert_true(plan_spec_code(&r, &c));
	assert_string_equal(c.bucket, "bk");
	assert_string_equal(c.key, "a#b.zip");
	assert_true(c.reference);
	store_spec_code_free(&c);
	store_pipeline_free(&r);
	r = record("p", "deleted", "bk", "k", NULL);
	assert_false(plan_spec_code(&r, &c));
	assert_null(c.bucket);
	store_pipeline_free(&r);
	r = (struct store_pipeline){ .name = tp_xstrdup("p"), .status = STORE_OK,
				    .spec = tp_xstrdup("{\"func\":{}}") };
	assert_false(plan_spec_code(&r, &c)); /* no Code.S3Bucket/S3Key */
	assert_null(c.key);
	store_pipeline_free(&r);
}

static void test_select_targets(void **state)
{
	(void)state;
	struct store_pipelines recs = fleet();
	struct ro_targets ts = { 0 };
	plan_select(&ts, "tp-", &recs, "b", "k");
	/* pipeline-name order; deleted, other objects, bad names and no spec left out */
	assert_int_equal(ts.n, 3);
	assert_string_equal(ts.t[0].pipeline, "p1");
	assert_string_equal(ts.t[1].pipeline, "p2");
	assert_string_equal(ts.t[2].pipeline, "p3");
	assert_string_equal(ts.t[0].function, "tp-p1");
	assert_true(ts.t[0].reference);
	assert_false(ts.t[2].reference);
	for (size_t i = 0; i < ts.n; i++)
		assert_int_equal(ts.t[i].wave, -1);
	/* selecting again (a retry) adds nothing */
	plan_select(&ts, "tp-", &recs, "b", "k");
	assert_int_equal(ts.n, 3);
	plan_free(&ts);
	store_pipelines_free(&recs);
}

static void test_skip_current_unseen_and_images(void **state)
{
	(void)state;
	struct ro_targets ts = { 0 };
	const char *names[] = { "a", "b", "c", "d" };
	for (int i = 0; i < 4; i++)
		plan_add(&ts, "tp-", names[i], 0);
	ts.t[0].seen = 1;
	snprintf(ts.t[0].sha, sizeof ts.t[0].sha, "NEW=");
	ts.t[1].seen = 1;
	snprintf(ts.t[1].sha, sizeof ts.t[1].sha, "OLD=");
	ts.t[2].seen = 0; /* missing, or its marker names another object */
	ts.t[3].seen = 1;
	ts.t[3].image = 1;
	snprintf(ts.t[3].sha, sizeof ts.t[3].sha, "NEW=");
	assert_true(plan_is_done(&ts.t[0], "NEW="));
	assert_false(plan_is_done(&ts.t[1], "NEW="));
	assert_false(plan_is_done(&ts.t[2], "NEW="));
	assert_false(plan_is_done(&ts.t[3], "NEW=")); /* an image is never "done" by a zip */
	plan_drop_unseen(&ts);
	plan_drop_images(&ts);
	assert_int_equal(ts.n, 2);
	assert_string_equal(ts.t[0].pipeline, "a");
	assert_string_equal(ts.t[1].pipeline, "b");
	assert_int_equal(ts.nskipped, 2);
	assert_string_equal(ts.skipped[0].pipeline, "c");
	assert_non_null(strstr(ts.skipped[0].reason, "missing"));
	assert_string_equal(ts.skipped[1].pipeline, "d");
	assert_string_equal(ts.skipped[1].function, "tp-d");
	assert_non_null(strstr(ts.skipped[1].reason, "PackageType Image"));
	plan_free(&ts);
}

static struct ro_targets five(void)
{
	struct ro_targets ts = { 0 };
	const char *names[] = { "a", "b", "c", "d", "e" };
	for (int i = 0; i < 5; i++)
		assert_non_null(plan_add(&ts, "tp-", names[i], -1));
	return ts;
}

static void test_batch_into_waves(void **state)
{
	(void)state;
	struct ro_targets ts = five();
	cJSON *waves = cJSON_Parse("[{\"targets\":[\"a\"]},"
				   "{\"targets\":[\"c\",\"b\",\"a\",\"c\"],\"pause_seconds\":5},"
				   "{\"targets\":[\"zz\",7]},"
				   "{\"targets\":[\"d\"],\"halt_on_failure\":false,\"pause_seconds\":-3}]");
	cJSON *plan = NULL;
	tp_err e = { 0 };
	assert_int_equal(plan_batch(&ts, waves, NULL, &plan, &e), TP_OK);
	char *got = cJSON_PrintUnformatted(plan);
	/* first wave naming a target wins; a wave with none is left out; the
	 * policy's order within a wave is kept */
	assert_string_equal(got, "[{\"targets\":[\"a\"],\"pause_seconds\":0,\"halt_on_failure\":true},"
				 "{\"targets\":[\"c\",\"b\"],\"pause_seconds\":5,\"halt_on_failure\":true},"
				 "{\"targets\":[\"d\"],\"pause_seconds\":0,\"halt_on_failure\":false}]");
	free(got);
	assert_int_equal(ts.n, 4);
	assert_int_equal(plan_find(&ts, "a")->wave, 0);
	assert_int_equal(plan_find(&ts, "b")->wave, 1);
	assert_int_equal(plan_find(&ts, "c")->wave, 1);
	assert_int_equal(plan_find(&ts, "d")->wave, 2);
	assert_null(plan_find(&ts, "e"));
	assert_int_equal(ts.nskipped, 1);
	assert_string_equal(ts.skipped[0].pipeline, "e");
	assert_string_equal(ts.skipped[0].reason, "the policy put it in no wave");
	cJSON_Delete(plan);
	cJSON_Delete(waves);
	plan_free(&ts);
}

static void test_batch_mode(void **state)
{
	(void)state;
	const struct {
		const char *waves, *mode, *code;
	} cases[] = {
		{ "[{\"targets\":[\"a\"],\"mode\":\"code\"}]", NULL, NULL },
		{ "[{\"targets\":[\"a\"],\"mode\":\"layer\"}]", NULL, "BadMode" },
		{ "[{\"targets\":[\"a\"]}]", "layer", "BadMode" },
		{ "[{\"targets\":[\"a\"],\"mode\":\"blue\"}]", NULL, "BadMode" },
		{ "[{\"targets\":[\"a\"],\"mode\":\"layer\"}]", "code", NULL }, /* the caller's mode wins */
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		struct ro_targets ts = five();
		cJSON *waves = cJSON_Parse(cases[i].waves), *plan = NULL;
		tp_err e = { 0 };
		int rc = plan_batch(&ts, waves, cases[i].mode, &plan, &e);
		if (cases[i].code) {
			assert_true(rc < 0);
			assert_string_equal(e.code, cases[i].code);
		} else {
			assert_int_equal(rc, TP_OK);
		}
		cJSON_Delete(plan);
		cJSON_Delete(waves);
		plan_free(&ts);
	}
}

/* The header-conflict path: a new rollout selects and batches its targets,
 * loses the race for the head, finds the winner's head of the same version
 * and loads its frozen plan. Every target must be listed once. */
static void test_header_conflict_no_duplicates(void **state)
{
	(void)state;
	struct store_pipelines recs = fleet();
	struct ro_targets ts = { 0 };
	plan_select(&ts, "tp-", &recs, "b", "k");
	cJSON *waves = cJSON_Parse("[{\"targets\":[\"p1\"]},{\"targets\":[\"p2\",\"p3\"]}]"), *plan = NULL;
	tp_err e = { 0 };
	assert_int_equal(plan_batch(&ts, waves, NULL, &plan, &e), TP_OK);
	plan_from_frozen(&ts, "tp-", plan);
	assert_int_equal(ts.n, 3);
	for (size_t i = 0; i < ts.n; i++)
		for (size_t j = i + 1; j < ts.n; j++)
			assert_string_not_equal(ts.t[i].function, ts.t[j].function);
	assert_int_equal(plan_find(&ts, "p1")->wave, 0);
	assert_int_equal(plan_find(&ts, "p3")->wave, 1);
	cJSON_Delete(plan);
	cJSON_Delete(waves);
	plan_free(&ts);
	store_pipelines_free(&recs);
}

static void test_frozen_plan_order_and_duplicates(void **state)
{
	(void)state;
	cJSON *plan = cJSON_Parse("[{\"targets\":[\"x\",\"y\"]},{\"targets\":[\"z\",\"x\",5]},{\"targets\":[]}]");
	struct ro_targets ts = { 0 };
	plan_from_frozen(&ts, "tp-", plan);
	assert_int_equal(ts.n, 3);
	assert_string_equal(ts.t[0].pipeline, "x");
	assert_int_equal(ts.t[0].wave, 0);
	assert_string_equal(ts.t[1].pipeline, "y");
	assert_string_equal(ts.t[2].pipeline, "z");
	assert_int_equal(ts.t[2].wave, 1);
	/* storage modes come from the records, by name */
	const struct store_pipeline v[] = {
		record("z", "ok", "b", "k", "REFERENCE"),
		record("q", "ok", "b", "k", "REFERENCE"),
	};
	struct store_pipelines recs = records(v, 2);
	plan_note_storage(&ts, &recs);
	assert_true(plan_find(&ts, "z")->reference);
	assert_false(plan_find(&ts, "x")->reference);
	assert_int_equal(ts.n, 3);
	store_pipelines_free(&recs);
	cJSON_Delete(plan);
	plan_free(&ts);
}

/* ---- status ---- */

static cJSON *fn_record(const char *rollout, const char *function, long gen, const char *status)
{
	cJSON *r = cJSON_CreateObject();
	char g[24];
	snprintf(g, sizeof g, "%ld", gen);
	cJSON_AddStringToObject(cJSON_AddObjectToObject(r, "kind"), "S", "rollout-fn");
	cJSON_AddStringToObject(cJSON_AddObjectToObject(r, "rollout"), "S", rollout);
	cJSON_AddStringToObject(cJSON_AddObjectToObject(r, "function"), "S", function);
	cJSON_AddStringToObject(cJSON_AddObjectToObject(r, "gen"), "N", g);
	cJSON_AddStringToObject(cJSON_AddObjectToObject(r, "status"), "S", status);
	cJSON_AddStringToObject(cJSON_AddObjectToObject(r, "attempts"), "N", "1");
	return r;
}

/* Lookups by key: n records, n lookups, at most n * (log2 n + 1) probes,
 * where a walk per target would make n * n / 2. */
static void test_status_lookup_is_by_key(void **state)
{
	(void)state;
	enum { N = 50000 };
	cJSON *items = cJSON_CreateArray();
	char fn[32];
	for (int i = N - 1; i >= 0; i--) { /* unsorted on purpose */
		snprintf(fn, sizeof fn, "tp-f%05d", (i * 7919) % N);
		cJSON_AddItemToArray(items, fn_record("b/k", fn, 1, "done"));
	}
	struct ro_fn_index x;
	ro_fn_index_build(&x, items);
	assert_int_equal(x.n, N);
	for (int i = 0; i < N; i++) {
		snprintf(fn, sizeof fn, "tp-f%05d", i);
		const cJSON *hit = ro_fn_index_find(&x, "b/k", fn);
		assert_non_null(hit);
		assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(hit, "function"), "S")), fn);
	}
	assert_null(ro_fn_index_find(&x, "b/other", "tp-f00001"));
	long bound = 0;
	for (long n = N; n; n >>= 1)
		bound++; /* floor(log2 N) + 1 */
	print_message("%d lookups among %d records: %ld probes (a walk per target: %lld)\n", N, N, x.probes,
		      (long long)N * N / 2);
	assert_true(x.probes <= (long)(N + 1) * (bound + 1));
	ro_fn_index_free(&x);
	cJSON_Delete(items);
}

static void test_status_build(void **state)
{
	(void)state;
	cJSON *items = cJSON_Parse(
		"[{\"pk\":{\"S\":\"rollout#b/k\"},\"kind\":{\"S\":\"rollout\"},\"bucket\":{\"S\":\"b\"},"
		"\"key\":{\"S\":\"k\"},\"version\":{\"S\":\"v2\"},\"gen\":{\"N\":\"3\"},\"status\":{\"S\":\"running\"},"
		"\"wave\":{\"N\":\"1\"},\"lease_until\":{\"N\":\"100\"},\"holder\":{\"S\":\"h\"},"
		"\"sha256\":{\"S\":\"S=\"},\"mode\":{\"S\":\"code\"},"
		"\"plan\":{\"S\":\"[{\\\"targets\\\":[\\\"a\\\"],\\\"pause_seconds\\\":1,\\\"halt_on_failure\\\":true},"
		"{\\\"targets\\\":[\\\"b\\\",\\\"c\\\"],\\\"pause_seconds\\\":0,\\\"halt_on_failure\\\":false}]\"}}]");
	cJSON_AddItemToArray(items, fn_record("b/k", "tp-a", 3, "done"));
	cJSON_AddItemToArray(items, fn_record("b/k", "tp-b", 3, "failed"));
	cJSON_AddItemToArray(items, fn_record("b/k", "tp-c", 2, "done")); /* an older generation's */
	struct rollout_status *st = NULL;
	size_t n = 0;
	assert_int_equal(ro_status_build(items, "tp-", 50, NULL, "t", &st, &n), TP_OK);
	assert_int_equal(n, 1);
	assert_string_equal(st[0].uri, "s3://b/k#v2");
	assert_int_equal(st[0].status, RST_RUNNING);
	assert_string_equal(st[0].holder, "h");
	assert_int_equal(st[0].nwaves, 2);
	assert_int_equal(st[0].waves[0].state, RWAVE_DONE);
	assert_int_equal(st[0].waves[1].state, RWAVE_RUNNING);
	assert_int_equal(st[0].waves[1].halt_on_failure, 0);
	assert_int_equal(st[0].waves[0].counts[RFN_DONE], 1);
	assert_int_equal(st[0].waves[1].counts[RFN_FAILED], 1);
	assert_int_equal(st[0].waves[1].counts[RFN_PENDING], 1);
	assert_false(st[0].waves[1].fns[1].recorded);
	rollout_status_free(st, n);
	/* the lease ran out: paused, no holder */
	assert_int_equal(ro_status_build(items, "tp-", 101, NULL, "t", &st, &n), TP_OK);
	assert_int_equal(st[0].status, RST_PAUSED);
	assert_null(st[0].holder);
	rollout_status_free(st, n);
	cJSON_Delete(items);
}

/* A fleet-sized list (issue 32): each name once, in the order added,
 * found by name after the list grew and after targets were dropped; a
 * quadratic plan_find or one realloc per target took 174 s at 50,000. */
static void test_many_targets_found_by_name(void **state)
{
	(void)state;
	enum { N = 20000 };
	struct ro_targets ts = { 0 };
	char name[32];
	for (int round = 0; round < 2; round++)   /* the second round adds nothing */
		for (int i = 0; i < N; i++) {
			snprintf(name, sizeof name, "p%05d", (i * 7919) % N);
			struct ro_target *t = plan_add(&ts, "tp-", name, -1);
			assert_true(round == 0 ? t != NULL : t == NULL);
		}
	assert_int_equal(ts.n, N);
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof name, "p%05d", (i * 7919) % N);
		assert_string_equal(ts.t[i].pipeline, name);
		assert_ptr_equal(plan_find(&ts, name), &ts.t[i]);
		ts.t[i].seen = i % 3 != 0;
	}
	assert_null(plan_find(&ts, "p20000"));
	plan_drop_unseen(&ts);
	assert_int_equal(ts.nskipped, (N + 2) / 3);
	assert_int_equal(ts.n, N - (N + 2) / 3);
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof name, "p%05d", (i * 7919) % N);
		struct ro_target *t = plan_find(&ts, name);
		if (i % 3 == 0) {
			assert_null(t);
		} else {
			assert_non_null(t);
			assert_string_equal(t->pipeline, name);
		}
	}
	plan_free(&ts);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spec_reader),
		cmocka_unit_test(test_select_targets),
		cmocka_unit_test(test_skip_current_unseen_and_images),
		cmocka_unit_test(test_batch_into_waves),
		cmocka_unit_test(test_batch_mode),
		cmocka_unit_test(test_header_conflict_no_duplicates),
		cmocka_unit_test(test_frozen_plan_order_and_duplicates),
		cmocka_unit_test(test_status_lookup_is_by_key),
		cmocka_unit_test(test_status_build),
		cmocka_unit_test(test_many_targets_found_by_name),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
