/* test_drain.c: what a run deletes of a removed pipeline (reconcile_drain.c):
 * the two reads a settle time apart, drain_timeout, the DLQ after the
 * consumers have been gone a settle time, kept queues, rm --now. Times in
 * the state record are set relative to now; the settle time is 60 s. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/ddb.h"
#include "core/reconcile/reconcile_int.h"
#include "core/store.h"

struct fx {
	struct reconcile_opts o;
	struct run r;
	struct rec_result res;
	struct rec p;
	long now;
};

static cJSON *counts(long visible, long inflight, long delayed)
{
	cJSON *a = cJSON_CreateObject();
	char v[32];
	snprintf(v, sizeof v, "%ld", visible);
	cJSON_AddStringToObject(a, "ApproximateNumberOfMessages", v);
	snprintf(v, sizeof v, "%ld", inflight);
	cJSON_AddStringToObject(a, "ApproximateNumberOfMessagesNotVisible", v);
	snprintf(v, sizeof v, "%ld", delayed);
	cJSON_AddStringToObject(a, "ApproximateNumberOfMessagesDelayed", v);
	return a;
}

/* A draining pipeline with consumers and both queues; state fields given
 * as seconds before now (0: absent). */
static void setup(struct fx *f, long started_ago, long empty_ago, long gone_ago, long timeout)
{
	memset(f, 0, sizeof *f);
	f->now = (long)(tp_now_ms() / 1000);
	f->r.o = &f->o;
	f->p.res = &f->res;
	f->p.state = cJSON_CreateObject();
	ddb_put_str(f->p.state, "status", "draining");
	if (started_ago)
		ddb_put_long(f->p.state, "drain_started_at", f->now - started_ago);
	if (timeout)
		ddb_put_long(f->p.state, "drain_timeout", timeout);
	if (empty_ago)
		ddb_put_long(f->p.state, "drain_empty_at", f->now - empty_ago);
	if (gone_ago)
		ddb_put_long(f->p.state, "consumers_gone_at", f->now - gone_ago);
	f->p.q_url = strdup("https://q");
	f->p.dlq_url = strdup("https://dlq");
	f->p.q_attrs = counts(0, 0, 0);
	f->p.dlq_attrs = counts(0, 0, 0);
	if (!gone_ago) {
		f->p.fn = cJSON_CreateObject();
		f->p.esm = cJSON_CreateObject();
	}
}

static void teardown_fx(struct fx *f)
{
	cJSON_Delete(f->p.state);
	cJSON_Delete(f->p.q_attrs);
	cJSON_Delete(f->p.dlq_attrs);
	cJSON_Delete(f->p.fn);
	cJSON_Delete(f->p.esm);
	cJSON_Delete(f->p.old_spec);
	free(f->p.q_url);
	free(f->p.dlq_url);
	diff_list_free(&f->p.changes);
}

static void set_q(struct fx *f, int dlq, long v, long nv, long d)
{
	cJSON **a = dlq ? &f->p.dlq_attrs : &f->p.q_attrs;
	cJSON_Delete(*a);
	*a = counts(v, nv, d);
}

static int setup_env(void **state)
{
	(void)state;
	setenv("TASKPIPE_DRAIN_SETTLE_S", "60", 1);
	return 0;
}

static void test_start_records_and_keeps_everything(void **state)
{
	struct fx f;
	setup(&f, 0, 0, 0, 0);
	set_q(&f, 0, 5, 0, 0);
	rc_drain_decide(&f.r, &f.p);
	assert_int_equal(f.p.drain.status, STORE_DRAINING);
	assert_true(f.p.drain.started_at >= f.now);
	assert_int_equal(f.p.drain.timeout, 86400);   /* default */
	assert_int_equal(f.p.drain.empty_at, 0);
	assert_false(f.p.del.consumers || f.p.del.queue || f.p.del.dlq);
	assert_int_equal(f.p.changes.n, 0);
	teardown_fx(&f);
}

static void test_spec_drain_timeout(void **state)
{
	struct fx f;
	setup(&f, 0, 0, 0, 0);
	f.p.old_spec = cJSON_Parse("{\"drain_timeout\":3600}");
	rc_drain_decide(&f.r, &f.p);
	assert_int_equal(f.p.drain.timeout, 3600);
	/* empty on the first read: noted, nothing deleted yet */
	assert_true(f.p.drain.empty_at >= f.now);
	assert_false(f.p.del.consumers);
	teardown_fx(&f);
}

static void test_empty_twice_a_settle_apart(void **state)
{
	struct fx f;
	setup(&f, 200, 10, 0, 86400);   /* empty 10 s ago: too recent */
	rc_drain_decide(&f.r, &f.p);
	assert_false(f.p.del.consumers);
	assert_int_equal(f.p.drain.empty_at, f.now - 10);
	teardown_fx(&f);

	setup(&f, 200, 61, 0, 86400);   /* empty 61 s ago and now: consumers and queue go */
	rc_drain_decide(&f.r, &f.p);
	assert_true(f.p.del.consumers && f.p.del.queue);
	assert_false(f.p.del.dlq);      /* the DLQ waits a settle time after them */
	assert_int_equal(f.p.drain.status, STORE_DRAINING);
	assert_true(f.p.drain.gone_at >= f.now);
	assert_int_equal(f.p.changes.n, 3);   /* mapping, function, queue */
	teardown_fx(&f);
}

static void test_messages_in_flight_reset(void **state)
{
	struct fx f;
	for (int which = 0; which < 3; which++) {
		setup(&f, 200, 61, 0, 86400);
		set_q(&f, 0, which == 0, which == 1, which == 2);   /* any one count */
		rc_drain_decide(&f.r, &f.p);
		assert_false(f.p.del.consumers);
		assert_int_equal(f.p.drain.empty_at, 0);
		teardown_fx(&f);
	}
}

static void test_timeout_keeps_the_queue(void **state)
{
	struct fx f;
	setup(&f, 100, 0, 0, 50);
	set_q(&f, 0, 3, 0, 0);
	rc_drain_decide(&f.r, &f.p);
	assert_true(f.p.del.consumers);
	assert_false(f.p.del.queue);
	assert_true(f.p.drain.gone_at >= f.now);
	teardown_fx(&f);

	/* a settle time later: the queue holding tasks is kept, the empty DLQ goes */
	setup(&f, 200, 0, 61, 50);
	set_q(&f, 0, 3, 0, 0);
	rc_drain_decide(&f.r, &f.p);
	assert_false(f.p.del.queue);
	assert_true(f.p.del.dlq);
	assert_int_equal(f.p.drain.kept_queue, 3);
	assert_int_equal(f.p.drain.status, STORE_KEPT);
	teardown_fx(&f);
}

static void test_dlq_judged_after_settle(void **state)
{
	struct fx f;
	setup(&f, 300, 0, 30, 86400);       /* consumers gone 30 s: wait */
	f.p.q_url = (free(f.p.q_url), NULL);
	set_q(&f, 1, 2, 0, 0);
	rc_drain_decide(&f.r, &f.p);
	assert_false(f.p.del.dlq);
	assert_int_equal(f.p.drain.status, STORE_DRAINING);
	teardown_fx(&f);

	setup(&f, 300, 0, 61, 86400);
	f.p.q_url = (free(f.p.q_url), NULL);
	set_q(&f, 1, 2, 0, 0);
	rc_drain_decide(&f.r, &f.p);
	assert_false(f.p.del.dlq);
	assert_int_equal(f.p.drain.kept_dlq, 2);
	assert_int_equal(f.p.drain.status, STORE_KEPT);
	teardown_fx(&f);

	/* keep_dlq false: it goes with its messages */
	setup(&f, 300, 0, 61, 86400);
	f.p.q_url = (free(f.p.q_url), NULL);
	set_q(&f, 1, 2, 0, 0);
	f.p.old_spec = cJSON_Parse("{\"dlq\":{\"keep_if_not_empty\":false}}");
	rc_drain_decide(&f.r, &f.p);
	assert_true(f.p.del.dlq);
	assert_int_equal(f.p.drain.status, STORE_DELETED);
	assert_int_equal(f.p.drain.started_at, 0);   /* finished: nothing carried */
	teardown_fx(&f);

	/* counts not read: judged next time */
	setup(&f, 300, 0, 61, 86400);
	f.p.q_url = (free(f.p.q_url), NULL);
	f.p.dlq_attrs = (cJSON_Delete(f.p.dlq_attrs), NULL);
	rc_drain_decide(&f.r, &f.p);
	assert_false(f.p.del.dlq);
	assert_int_equal(f.p.drain.status, STORE_DRAINING);
	teardown_fx(&f);
}

static void test_delete_now_counts(void **state)
{
	struct fx f;
	setup(&f, 0, 0, 0, 0);
	f.o.delete_now = 1;
	set_q(&f, 0, 4, 2, 1);
	set_q(&f, 1, 2, 0, 0);
	rc_drain_decide(&f.r, &f.p);
	assert_true(f.p.del.consumers && f.p.del.queue && f.p.del.dlq);
	assert_int_equal(f.res.dropped, 9);
	assert_int_equal(f.p.drain.status, STORE_DELETED);
	teardown_fx(&f);
}

static void test_expired(void **state)
{
	(void)state;
	cJSON *item = cJSON_CreateObject();
	assert_false(rc_item_expired(item, 1000));
	ddb_put_long(item, "expires_at", 1000);
	assert_true(rc_item_expired(item, 1000));
	assert_false(rc_item_expired(item, 999));
	cJSON_Delete(item);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_start_records_and_keeps_everything),
		cmocka_unit_test(test_spec_drain_timeout),
		cmocka_unit_test(test_empty_twice_a_settle_apart),
		cmocka_unit_test(test_messages_in_flight_reset),
		cmocka_unit_test(test_timeout_keeps_the_queue),
		cmocka_unit_test(test_dlq_judged_after_settle),
		cmocka_unit_test(test_delete_now_counts),
		cmocka_unit_test(test_expired),
	};
	return cmocka_run_group_tests(tests, setup_env, NULL);
}
