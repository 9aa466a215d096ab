/* test_sim_drift.c: the drift check (src/core/drift/) against the fake
 * AWS, under the sanitizers. A function's memory, a queue's attribute and
 * a mapping changed or removed behind taskpipe's back are found (with the
 * expected and actual values), drift --fix repairs them and the next check
 * is clean; a pipeline whose item is gone is an orphan and --fix removes
 * it; resources without taskpipe's owner tag are neither reported nor
 * touched, with or without --fix. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "aws/lambda.h"
#include "aws/sqs.h"
#include "core/drift/drift.h"
#include "fake/fixture.h"

static int setup(void **state)
{
	struct fx *x = calloc(1, sizeof *x);
	fx_setup(x, NULL);
	fx_put(x, "{\"pipeline\":\"a\",\"memory\":256}");
	fx_put(x, "{\"pipeline\":\"b\",\"timeout\":10}");
	fx_put(x, "{\"pipeline\":\"c\"}");
	size_t n;
	struct rec_result *res = fx_reconcile(x, NULL, NULL, 0, NULL, &n);
	fx_assert_all_ok(res, n);
	reconcile_results_free(res, n);

	/* not taskpipe's: a queue and a function with its prefix, no tags */
	struct aws_call c;
	sqs_create_queue(&c, "tp-x", NULL, NULL);
	cJSON_Delete(fx_call_ok(x, &c));
	cJSON *in = cJSON_CreateObject();
	cJSON_AddStringToObject(in, "FunctionName", "tp-y");
	cJSON_AddStringToObject(in, "Runtime", "provided.al2023");
	cJSON_AddStringToObject(in, "Handler", "bootstrap");
	cJSON_AddStringToObject(in, "Role", FX_ROLE);
	cJSON *code = cJSON_AddObjectToObject(in, "Code");
	cJSON_AddStringToObject(code, "S3Bucket", FX_BUCKET);
	cJSON_AddStringToObject(code, "S3Key", FX_KEY);
	lambda_create_function(&c, in);
	cJSON_Delete(fx_call_ok(x, &c));
	*state = x;
	return 0;
}

static void drift(struct fx *x, int fix, struct drift_report *r)
{
	struct drift_opts o = { .fix = fix };
	tp_err e = { 0 };
	memset(r, 0, sizeof *r);
	if (drift_run(&x->app, &o, r, &e) < 0)
		fail_msg("drift_run: %s: %s", e.code, e.message);
}

static const struct drift_pipeline *pipeline(const struct drift_report *r, const char *name)
{
	for (size_t i = 0; i < r->n_pipelines; i++)
		if (strcmp(r->pipelines[i].name, name) == 0)
			return &r->pipelines[i];
	fail_msg("no pipeline %s in the drift report", name);
	return NULL;
}

static const struct drift_entry *entry(const struct drift_pipeline *p, const char *field)
{
	for (size_t i = 0; i < p->n_drift; i++)
		if (strcmp(p->drift[i].field, field) == 0)
			return &p->drift[i];
	for (size_t i = 0; i < p->n_drift; i++)
		fprintf(stderr, "  %s: %s %s: %s -> %s\n", p->name, p->drift[i].resource, p->drift[i].field,
			p->drift[i].expected, p->drift[i].actual);
	fail_msg("pipeline %s: no drift entry for %s", p->name, field);
	return NULL;
}

static void assert_clean(const struct drift_report *r, long pipelines)
{
	for (size_t i = 0; i < r->n_pipelines; i++)
		if (r->pipelines[i].status != DRIFT_IN_SYNC)
			fail_msg("pipeline %s: %s", r->pipelines[i].name, drift_status_name(r->pipelines[i].status));
	assert_int_equal(r->summary.checked, pipelines);
	assert_int_equal(r->summary.orphans, 0);
	assert_int_equal(r->exit_code, DRIFT_EXIT_OK);
}

/* No orphan entry names a resource that is not taskpipe's. */
static void assert_foreign_unreported(const struct drift_report *r)
{
	for (size_t i = 0; i < r->n_orphans; i++)
		for (size_t k = 0; k < r->orphans[i].n_res; k++)
			if (strcmp(r->orphans[i].res[k].name, "tp-x") == 0 || strcmp(r->orphans[i].res[k].name, "tp-y") == 0)
				fail_msg("an untagged resource was called an orphan: %s", r->orphans[i].res[k].name);
	for (size_t i = 0; i < r->n_pipelines; i++)
		assert_true(strcmp(r->pipelines[i].name, "x") != 0 && strcmp(r->pipelines[i].name, "y") != 0);
}

static void test_in_sync_fleet(void **state)
{
	struct fx *x = *state;
	struct drift_report r;
	drift(x, 0, &r);
	assert_clean(&r, 3);
	assert_foreign_unreported(&r);
	drift_report_free(&r);
}

static long num(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItem(o, k);
	return cJSON_IsNumber(v) ? (long)v->valuedouble : cJSON_IsString(v) ? atol(v->valuestring) : -1;
}

static void test_drift_found_and_fixed(void **state)
{
	struct fx *x = *state;
	/* behind taskpipe's back */
	struct aws_call c;
	cJSON *in = cJSON_CreateObject();
	cJSON_AddNumberToObject(in, "MemorySize", 1024);
	lambda_update_function_configuration(&c, "tp-a", in);
	cJSON_Delete(fx_call_ok(x, &c));
	char url[512];
	assert_true(fx_queue_url(x, "tp-b", url, sizeof url));
	cJSON *attrs = cJSON_CreateObject();
	cJSON_AddStringToObject(attrs, "VisibilityTimeout", "33");
	sqs_set_queue_attributes(&c, url, attrs);
	cJSON_Delete(fx_call_ok(x, &c));
	cJSON *m = fx_mapping(x, "tp-c");
	assert_non_null(m);
	lambda_delete_event_source_mapping(&c, cJSON_GetStringValue(cJSON_GetObjectItem(m, "UUID")));
	cJSON_Delete(fx_call_ok(x, &c));
	cJSON_Delete(m);
	fake_advance_ms(x->fake, 60 * 1000); /* a deleting mapping is gone after a while */

	struct drift_report r;
	drift(x, 0, &r);
	const struct drift_pipeline *a = pipeline(&r, "a"), *b = pipeline(&r, "b"), *cc = pipeline(&r, "c");
	assert_int_equal(a->status, DRIFT_DRIFTED);
	const struct drift_entry *d = entry(a, "MemorySize");
	assert_string_equal(d->expected, "256");
	assert_string_equal(d->actual, "1024");
	assert_int_equal(b->status, DRIFT_DRIFTED);
	d = entry(b, "VisibilityTimeout");
	assert_string_equal(d->expected, "60");
	assert_string_equal(d->actual, "33");
	assert_int_equal(cc->status, DRIFT_MISSING);
	assert_int_equal(r.exit_code, DRIFT_EXIT_DRIFT);
	assert_foreign_unreported(&r);
	drift_report_free(&r);

	/* --fix, logged: nothing foreign is touched */
	struct fx_log l = { 0 };
	fx_log_start(x, &l);
	drift(x, 1, &r);
	fx_log_start(x, NULL);
	assert_int_equal(r.summary.fixed, 3);
	assert_int_equal(r.summary.fix_failed, 0);
	assert_int_equal(r.exit_code, DRIFT_EXIT_OK);
	drift_report_free(&r);
	assert_int_equal(fx_log_mutating(&l, 0, "tp-x"), 0);
	assert_int_equal(fx_log_mutating(&l, 0, "tp-y"), 0);
	fx_log_free(&l);

	cJSON *fn = fx_get_function(x, "tp-a");
	assert_int_equal(num(cJSON_GetObjectItem(fn, "Configuration"), "MemorySize"), 256);
	cJSON_Delete(fn);
	cJSON *q = fx_queue_attrs(x, "tp-b");
	assert_int_equal(num(q, "VisibilityTimeout"), 60);
	cJSON_Delete(q);
	m = fx_mapping(x, "tp-c");
	assert_non_null(m);
	cJSON_Delete(m);

	drift(x, 0, &r);
	assert_clean(&r, 3);
	drift_report_free(&r);
}

static void test_orphan_removed_foreign_untouched(void **state)
{
	struct fx *x = *state;
	fx_rm(x, "c");   /* no reconcile: its resources are orphans now */
	struct drift_report r;
	drift(x, 0, &r);
	assert_int_equal(r.summary.checked, 2);
	assert_int_equal(r.n_orphans, 1);
	assert_string_equal(r.orphans[0].name, "c");
	assert_null(r.orphans[0].state);
	assert_foreign_unreported(&r);
	drift_report_free(&r);

	struct fx_log l = { 0 };
	fx_log_start(x, &l);
	drift(x, 1, &r);
	fx_log_start(x, NULL);
	assert_int_equal(r.n_orphans, 1);
	assert_int_equal(r.orphans[0].fix.status, DRIFT_FIX_FIXED);
	drift_report_free(&r);
	assert_int_equal(fx_log_mutating(&l, 0, "tp-x"), 0);
	assert_int_equal(fx_log_mutating(&l, 0, "tp-y"), 0);
	fx_log_free(&l);
	assert_null(fx_get_function(x, "tp-c"));
	assert_false(fx_queue_url(x, "tp-c", NULL, 0));
	/* the foreign ones are still there, as they were */
	assert_true(fx_queue_url(x, "tp-x", NULL, 0));
	cJSON *y = fx_get_function(x, "tp-y");
	assert_non_null(y);
	cJSON_Delete(y);

	drift(x, 0, &r);
	assert_clean(&r, 2);
	drift_report_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_in_sync_fleet, setup, fx_state_teardown),
		cmocka_unit_test_setup_teardown(test_drift_found_and_fixed, setup, fx_state_teardown),
		cmocka_unit_test_setup_teardown(test_orphan_removed_foreign_untouched, setup, fx_state_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
