/* test_lease.c: the pure parts of leases: the length for a run, the
 * takeover rule with its clock-skew margin, and when to renew; and the
 * lease's life (grant, renew once half-spent, takeover only after expiry +
 * skew, the fencing token) played against a model of the lease item that
 * evaluates store's requests the way DynamoDB does. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "aws/ddb.h"
#include "core/lease.h"
#include "core/store.h"

static void test_ttl_sized_to_the_run(void **state)
{
	(void)state;
	int64_t now = 1700000000000LL;
	/* no deadline: the cap */
	assert_int_equal(lease_ttl_for(now, 0, 120), 120);
	/* 60 s left: 60 + margin, not the cap */
	assert_int_equal(lease_ttl_for(now, now + 60000, 900), 60 + LEASE_MARGIN_S);
	/* 15 minutes left: the cap */
	assert_int_equal(lease_ttl_for(now, now + 900000, 120), 120);
	/* past the deadline: the margin only */
	assert_int_equal(lease_ttl_for(now, now - 5000, 120), LEASE_MARGIN_S);
	/* never below 1 */
	assert_int_equal(lease_ttl_for(now, now - 5000, 0), 1);
}

static void test_takeover_waits_out_the_skew(void **state)
{
	(void)state;
	int64_t exp = 1000;
	assert_false(lease_takeover_ok(exp, 999, 30));   /* not expired */
	assert_false(lease_takeover_ok(exp, 1000, 30));
	assert_false(lease_takeover_ok(exp, 1030, 30));  /* expired, within the margin */
	assert_true(lease_takeover_ok(exp, 1031, 30));
	assert_true(lease_takeover_ok(exp, 1001, 0));
	assert_true(lease_takeover_ok(0, 1000, 30));     /* released */
}

static void test_renew_at_half(void **state)
{
	(void)state;
	assert_false(lease_should_renew(1000, 1120, 1000));
	assert_false(lease_should_renew(1000, 1120, 1059));
	assert_true(lease_should_renew(1000, 1120, 1060));
	assert_true(lease_should_renew(1000, 1120, 1200));  /* late: still try */
	assert_true(lease_should_renew(1000, 1001, 1000));  /* 1 s lease: every step */
}

static void test_settings(void **state)
{
	(void)state;
	unsetenv("TASKPIPE_LEASE_SKEW_S");
	unsetenv("TASKPIPE_LEASE_TTL_S");
	assert_int_equal(lease_skew_s(), LEASE_SKEW_DEFAULT_S);
	assert_int_equal(lease_ttl_cap_s(), LEASE_TTL_DEFAULT_S);
	setenv("TASKPIPE_LEASE_SKEW_S", "2", 1);
	setenv("TASKPIPE_LEASE_TTL_S", "7", 1);
	assert_int_equal(lease_skew_s(), 2);
	assert_int_equal(lease_ttl_cap_s(), 7);
	setenv("TASKPIPE_LEASE_SKEW_S", "-3", 1);   /* bad: the default, with a warning */
	setenv("TASKPIPE_LEASE_TTL_S", "0", 1);
	assert_int_equal(lease_skew_s(), LEASE_SKEW_DEFAULT_S);
	assert_int_equal(lease_ttl_cap_s(), LEASE_TTL_DEFAULT_S);
	unsetenv("TASKPIPE_LEASE_SKEW_S");
	unsetenv("TASKPIPE_LEASE_TTL_S");
}


/* The lease item lease#<pipeline> and the pipeline record's lease_fence. */
struct model {
	int exists;
	char holder[32];       /* "" when released */
	long expires_at;
	long fence;
	long state_fence;      /* pipeline#<name>'s lease_fence, 0: none */
};

/* Apply a prepared UpdateItem to m as DynamoDB would: 1 when its condition
 * held (and the update was made), 0 when ConditionalCheckFailed. */
static int apply(struct model *m, struct aws_call *c)
{
	cJSON *in = cJSON_ParseWithLength(c->body, c->body_len);
	const cJSON *v = cJSON_GetObjectItem(in, "ExpressionAttributeValues");
	const char *cond = cJSON_GetStringValue(cJSON_GetObjectItem(in, "ConditionExpression"));
	const char *upd = cJSON_GetStringValue(cJSON_GetObjectItem(in, "UpdateExpression"));
	const char *h = ddb_get_str(v, ":h", "");
	int ok;
	if (strcmp(cond, STORE_COND_LEASE_GRANT) == 0) {
		ok = !m->exists || m->expires_at < ddb_get_long(v, ":now", 0) || strcmp(m->holder, h) == 0;
		if (ok) {
			snprintf(m->holder, sizeof m->holder, "%s", h);
			m->expires_at = ddb_get_long(v, ":exp", 0);
			m->fence = (m->exists ? m->fence : 0) + 1;
			m->exists = 1;
		}
	} else {
		assert_string_equal(cond, STORE_COND_LEASE_OURS);
		ok = m->exists && strcmp(m->holder, h) == 0 && m->fence == ddb_get_long(v, ":t", -1);
		if (ok && strstr(upd, "REMOVE holder")) {
			m->expires_at = 0;
			m->holder[0] = 0;
		} else if (ok) {
			m->expires_at = ddb_get_long(v, ":exp", 0);
		}
	}
	cJSON_Delete(in);
	aws_call_free(c);
	return ok;
}

static int grant(struct model *m, const char *holder, long now, int ttl)
{
	struct aws_call c;
	store_lease_grant_prepare(&c, "t", "p", holder, now + ttl, now - lease_skew_s());
	return apply(m, &c);
}

static int renew(struct model *m, const char *holder, long long token, long until)
{
	struct aws_call c;
	store_lease_renew_prepare(&c, "t", "p", holder, token, until);
	return apply(m, &c);
}

static int release(struct model *m, const char *holder, long long token)
{
	struct aws_call c;
	store_lease_release_prepare(&c, "t", "p", holder, token);
	return apply(m, &c);
}

/* The fenced pipeline state write (STORE_COND_PIPELINE_FENCE). */
static int write_state(struct model *m, long long token)
{
	struct store_pipeline p = { .name = "p", .status = STORE_OK, .lease_fence = token };
	struct aws_call c;
	store_pipeline_put_prepare(&c, "t", &p);
	cJSON *in = cJSON_ParseWithLength(c.body, c.body_len);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(in, "ConditionExpression")),
			    STORE_COND_PIPELINE_FENCE);
	long f = ddb_get_long(cJSON_GetObjectItem(in, "ExpressionAttributeValues"), ":fence", 0);
	int ok = m->state_fence == 0 || m->state_fence <= f;
	if (ok)
		m->state_fence = f;
	cJSON_Delete(in);
	aws_call_free(&c);
	return ok;
}

static void test_lease_life(void **state)
{
	(void)state;
	unsetenv("TASKPIPE_LEASE_SKEW_S");
	int skew = lease_skew_s();
	struct model m = { 0 };
	/* grant: absent item, fence 1 */
	assert_true(grant(&m, "h1", 1000, 120));
	assert_int_equal(m.fence, 1);
	assert_int_equal(m.expires_at, 1120);
	/* held: another holder is refused, the holder itself re-acquires (same token line) */
	assert_false(grant(&m, "h2", 1050, 120));
	/* renew once half-spent only, conditional on holder and token */
	assert_false(lease_should_renew(1000, 1120, 1059));
	assert_true(lease_should_renew(1000, 1120, 1060));
	assert_true(renew(&m, "h1", 1, 1060 + 120));
	assert_int_equal(m.expires_at, 1180);
	/* expired, but within the skew margin: no takeover yet */
	assert_false(lease_takeover_ok(1180, 1180 + skew, skew));
	assert_false(grant(&m, "h2", 1180 + skew, 120));
	/* expired more than the margin ago: taken over with a larger token */
	assert_true(lease_takeover_ok(1180, 1181 + skew, skew));
	assert_true(grant(&m, "h2", 1181 + skew, 120));
	assert_int_equal(m.fence, 2);
	assert_true(write_state(&m, 2));
	/* the old holder is fenced off: no renewal, no release, no state write */
	assert_false(renew(&m, "h1", 1, 2000));
	assert_false(release(&m, "h1", 1));
	assert_false(write_state(&m, 1));
	assert_int_equal(m.state_fence, 2);
	/* released: free at once for anyone, the counter kept */
	assert_true(release(&m, "h2", 2));
	assert_int_equal(m.expires_at, 0);
	assert_true(grant(&m, "h1", 1300, 120));
	assert_int_equal(m.fence, 3);
	assert_true(write_state(&m, 3));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ttl_sized_to_the_run),
		cmocka_unit_test(test_takeover_waits_out_the_skew),
		cmocka_unit_test(test_renew_at_half),
		cmocka_unit_test(test_settings),
		cmocka_unit_test(test_lease_life),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
