/* test_sim_lease.c: per-pipeline leases (src/core/lease.c) between two
 * controllers on one fake AWS, time by the simulated clock: one holder at
 * a time, a lease taken over only after it expired by more than the skew
 * margin, a larger fencing token per grant, the old holder's release and
 * renewal refused; a reconcile finding the lease held leaves the pipeline
 * and its state alone; a killed run blocks its pipelines for one lease
 * length; a long run renews its leases and keeps them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "aws/ddb.h"
#include "aws/http.h"
#include "core/lease.h"
#include "core/store.h"
#include "fake/fixture.h"

static void test_one_holder_expiry_by_simulated_time(void **state)
{
	struct fx *x = *state;
	struct app b;
	fx_open(x, &b);
	struct lease la, lb;
	tp_err e = { 0 };
	assert_int_equal(lease_acquire(&x->app, "p", "ctl-a", 60, &la, &e), TP_OK);
	long long t1 = la.token;

	assert_int_equal(lease_acquire(&b, "p", "ctl-b", 60, &lb, &e), TP_ECONFLICT);
	assert_string_equal(lb.err.code, "LeaseHeld");
	lease_clear(&lb, 1);
	/* the same holder again: an extension, not a conflict */
	struct lease la2;
	assert_int_equal(lease_acquire(&x->app, "p", "ctl-a", 60, &la2, &e), TP_OK);
	assert_true(la2.token > t1);
	lease_clear(&la2, 1);

	/* expired, but within the skew margin (30 s): still a's */
	fake_advance_ms(x->fake, 61 * 1000);
	assert_int_equal(lease_acquire(&b, "p", "ctl-b", 60, &lb, &e), TP_ECONFLICT);
	lease_clear(&lb, 1);
	/* past it: b takes over with a larger token */
	fake_advance_ms(x->fake, 31 * 1000);
	assert_int_equal(lease_acquire(&b, "p", "ctl-b", 60, &lb, &e), TP_OK);
	assert_true(lb.token > t1);

	/* a's renewal and release are refused: it lost the lease */
	la.granted_at = 0;   /* due for renewal */
	assert_int_equal(lease_renew_many(&x->app, &la, 1, "ctl-a"), 0);
	assert_false(la.held);
	assert_string_equal(la.err.code, "LeaseLost");
	la.held = 1;
	assert_int_equal(lease_release(&x->app, &la, "ctl-a", &e), TP_ECONFLICT);
	assert_string_equal(e.code, "LeaseLost");
	lease_clear(&la, 1);

	/* b releases: a gets it at once */
	assert_int_equal(lease_release(&b, &lb, "ctl-b", &e), TP_OK);
	assert_int_equal(lease_acquire(&x->app, "p", "ctl-a", 60, &la, &e), TP_OK);
	assert_true(la.token > lb.token);
	lease_clear(&la, 1);
	lease_clear(&lb, 1);
	app_close(&b);
}

static cJSON *state_of(struct fx *x, const char *pipeline)
{
	struct aws_call c;
	store_pipeline_get_prepare(&c, x->app.set.state_table, pipeline);
	cJSON *out = fx_call_ok(x, &c);
	cJSON *item = cJSON_DetachItemFromObject(out, "Item");
	cJSON_Delete(out);
	return item;
}

static void test_reconcile_waits_for_a_held_lease(void **state)
{
	struct fx *x = *state;
	struct app b;
	fx_open(x, &b);
	fx_put(x, "{\"pipeline\":\"p\"}");
	/* controller a holds p (a run of its own) */
	struct lease la;
	tp_err e = { 0 };
	assert_int_equal(lease_acquire(&x->app, "p", "ctl-a:run", 30, &la, &e), TP_OK);

	const char *names[] = { "p" };
	size_t n;
	struct rec_result *res = fx_reconcile(x, &b, names, 1, NULL, &n);
	assert_int_not_equal(res[0].rc, TP_OK);
	assert_string_equal(res[0].err.code, "LeaseHeld");
	assert_true(res[0].retryable);
	reconcile_results_free(res, n);
	assert_null(state_of(x, "p"));                       /* b wrote no state */
	assert_int_equal(fake_count(x->fake, "lambda", "CreateFunction"), 0);
	assert_int_equal(fake_count(x->fake, "sqs", "CreateQueue"), 0);

	/* a dies holding it: after expiry and the skew, b goes on */
	fake_advance_ms(x->fake, (30 + 30 + 1) * 1000);
	res = fx_reconcile(x, &b, names, 1, NULL, &n);
	fx_assert_all_ok(res, n);
	reconcile_results_free(res, n);
	cJSON *st = state_of(x, "p");
	assert_non_null(st);
	assert_string_equal(ddb_get_str(st, "status", ""), "ok");
	cJSON_Delete(st);
	assert_int_equal(fake_count(x->fake, "lambda", "CreateFunction"), 1);
	lease_clear(&la, 1);
	app_close(&b);
}

/* A run that dies once its leases are granted: from its first request
 * that is not DynamoDB's (the observe step) on, nothing arrives. */
struct killer {
	int armed, dead;
};

static int kill_at_observe(void *ctx, const struct fake_req *r, struct http_response *out)
{
	struct killer *k = ctx;
	if (k->armed && strcmp(r->service, "dynamodb") != 0)
		k->dead = 1;
	if (!k->dead)
		return 0;
	out->rc = TP_EIO;
	out->status = 0;
	snprintf(out->error, sizeof out->error, "killed (simulated)");
	return 1;
}

static void test_killed_run_blocks_one_lease_length(void **state)
{
	struct fx *x = *state;
	/* a warm-up run: the account's settings and the bucket's versioning
	 * are asked once (Lambda, S3), before the run that dies */
	fx_put(x, "{\"pipeline\":\"w\"}");
	const char *warm[] = { "w" };
	size_t n;
	struct rec_result *res = fx_reconcile(x, NULL, warm, 1, NULL, &n);
	fx_assert_all_ok(res, n);
	reconcile_results_free(res, n);

	fx_put(x, "{\"pipeline\":\"k\"}");
	fx_put(x, "{\"pipeline\":\"m\"}");
	struct killer kc = { .armed = 1 };
	struct fx_log l = { .extra = kill_at_observe, .extra_ctx = &kc };
	fx_log_start(x, &l);
	const char *names[] = { "k", "m" };
	struct reconcile_opts o = { .lease_ttl_s = 20 };
	res = fx_reconcile(x, NULL, names, 2, &o, &n);
	for (size_t i = 0; i < n; i++)
		assert_int_not_equal(res[i].rc, TP_OK);
	reconcile_results_free(res, n);
	assert_true(kc.dead);
	fx_log_start(x, NULL);
	fx_log_free(&l);
	/* the dead run's leases were granted and never released */
	assert_int_equal(fake_count(x->fake, "lambda", "CreateFunction"), 1);

	struct app b;
	fx_open(x, &b);
	res = fx_reconcile(x, &b, names, 2, NULL, &n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(res[i].err.code, "LeaseHeld");
	reconcile_results_free(res, n);
	/* one lease length (20 s) and the skew margin (30 s) later */
	fake_advance_ms(x->fake, 51 * 1000);
	res = fx_reconcile(x, &b, names, 2, NULL, &n);
	fx_assert_all_ok(res, n);
	reconcile_results_free(res, n);
	assert_int_equal(fake_count(x->fake, "lambda", "CreateFunction"), 3);
	app_close(&b);
}

/* A run longer than half its lease renews it between steps and keeps it:
 * functions stay Pending 6 s after they are made, the lease is 4 s. */
static void test_long_run_renews_its_leases(void **state)
{
	(void)state;
	struct fx x;
	struct fake_options fo = { .lag_ms = 6000 };
	fx_setup(&x, &fo);
	fx_put(&x, "{\"pipeline\":\"s\"}");
	const char *names[] = { "s" };
	struct reconcile_opts o = { .lease_ttl_s = 4 };
	size_t n;
	int64_t t0 = fake_elapsed_ms(x.fake);
	struct rec_result *res = fx_reconcile(&x, NULL, names, 1, &o, &n);
	fx_assert_all_ok(res, n);
	assert_true(res[0].lease_renewals > 0);
	reconcile_results_free(res, n);
	assert_true(fake_elapsed_ms(x.fake) - t0 >= 6000);   /* it did wait for the function */
	fx_assert_no_violations(&x);
	fx_teardown(&x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_one_holder_expiry_by_simulated_time, fx_state_setup, fx_state_teardown),
		cmocka_unit_test_setup_teardown(test_reconcile_waits_for_a_held_lease, fx_state_setup, fx_state_teardown),
		cmocka_unit_test_setup_teardown(test_killed_run_blocks_one_lease_length, fx_state_setup, fx_state_teardown),
		cmocka_unit_test(test_long_run_renews_its_leases),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
