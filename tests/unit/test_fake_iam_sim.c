/* test_fake_iam_sim.c: the real controller (core/ reconcile and rollout,
 * through tests/fake/fixture.c) on the fake with IAM enforced and the
 * template's ControllerRole policy (tests/fake/iam_policies.json): what
 * test_iam_enforced.py does against the AWS-faithful layer, in C under the
 * sanitizers. Every request taskpipe sends while it creates, changes,
 * rolls out and deletes pipelines must be allowed; a refusal prints the
 * check. The operator's steps (init, `taskpipe put`, uploading code) run
 * with IAM off, as the harness's operator key has every right. The
 * consumer's own writes (the shared rate schedule, rate_sched.c, and the
 * limit group's gate, group_sched.c) run with the ConsumerRole's key.
 *
 * The fixture names three resources otherwise than a stack of the template
 * would (the consumer role, the code bucket, the consumer layer); the
 * policy is given those names and nothing else changes: no action,
 * resource pattern of another kind, or condition. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/group_sched.h"
#include "aws/rate_sched.h"
#include "core/rollout/rollout.h"
#include "fake/fake.h"
#include "fake/fixture.h"

#define CTL_ARN "arn:aws:sts::123456789012:assumed-role/taskpipe-ControllerRole/controller"

/* The ControllerRole's policies for the fixture's instance ("taskpipe", FX_PREFIX). */
static char *controller_policy(void)
{
	tp_err e = { 0 };
	char *json = fake_iam_template_policy("ControllerRole", "taskpipe", FX_PREFIX, &e);
	if (!json)
		fail_msg("%s", e.message);
	static const char *const names[][2] = {
		{ "arn:aws:iam::123456789012:role/taskpipe-ConsumerRole", FX_ROLE },
		{ "taskpipe-code-123456789012-us-east-1", FX_BUCKET },
		{ "layer:taskpipe-consumer-*:*", "layer:taskpipe-consumer:*" },
	};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (!strstr(json, names[i][0]))
			fail_msg("the template's policy no longer names %s", names[i][0]);
		for (char *at; (at = strstr(json, names[i][0]));) {       /* every occurrence */
			char *out = tp_xasprintf("%.*s%s%s", (int)(at - json), json, names[i][1],
						 at + strlen(names[i][0]));
			free(json);
			json = out;
		}
	}
	return json;
}

static void iam_on(struct fx *x)
{
	char *json = controller_policy();
	tp_err e = { 0 };
	assert_int_equal(fake_iam_set_policy(x->fake, NULL, CTL_ARN, json, &e), TP_OK);
	free(json);
}

static void iam_off(struct fx *x)
{
	tp_err e = { 0 };
	assert_int_equal(fake_iam_set_policy(x->fake, NULL, NULL, NULL, &e), TP_OK);
}

/* No check refused so far; each refusal printed. */
static void assert_no_denial(struct fx *x, const char *step)
{
	const struct fake_iam_record *r;
	size_t n = fake_iam_records(x->fake, &r);
	for (size_t i = 0; i < n; i++)
		if (strcmp(r[i].effect, "Allow") != 0)
			fprintf(stderr, "%s: %s %s: %s on %s %s (%s)\n", step, r[i].service, r[i].op, r[i].action,
				r[i].resource, r[i].context, r[i].why);
	if (fake_iam_denied(x->fake))
		fail_msg("%s: %ld checks refused", step, fake_iam_denied(x->fake));
}

/* Distinct actions evaluated so far, for the test's own account. */
static int evaluated(struct fx *x, const char *action)
{
	const struct fake_iam_record *r;
	size_t n = fake_iam_records(x->fake, &r);
	for (size_t i = 0; i < n; i++)
		if (strcmp(r[i].action, action) == 0)
			return 1;
	return 0;
}

static void apply_all_ok(struct fx *x)
{
	size_t n;
	struct rec_result *res = fx_reconcile(x, NULL, NULL, 0, NULL, &n);
	fx_assert_all_ok(res, n);
	reconcile_results_free(res, n);
}

static void test_controller_lifecycle_within_its_role(void **state)
{
	(void)state;
	struct fx x;
	fx_setup(&x, NULL);
	fx_put(&x, "{\"pipeline\":\"a\",\"concurrency\":3}");
	fx_put(&x, "{\"pipeline\":\"b\",\"concurrency\":1}");
	fx_put(&x, "{\"pipeline\":\"c\"}");

	iam_on(&x);                                 /* create */
	apply_all_ok(&x);
	assert_no_denial(&x, "create");
	size_t created;
	const struct fake_iam_record *r;
	created = fake_iam_records(x.fake, &r);
	assert_true(created > 20);
	assert_true(evaluated(&x, "iam:PassRole"));
	assert_true(evaluated(&x, "lambda:CreateEventSourceMapping"));
	assert_true(evaluated(&x, "sqs:CreateQueue"));

	iam_off(&x);                                /* limits changed: 1 -> N, N -> 1, none -> 2 */
	fx_put(&x, "{\"pipeline\":\"a\",\"concurrency\":1}");
	fx_put(&x, "{\"pipeline\":\"b\",\"concurrency\":4}");
	fx_put(&x, "{\"pipeline\":\"c\",\"concurrency\":2}");
	iam_on(&x);
	apply_all_ok(&x);
	assert_no_denial(&x, "limits");
	assert_true(evaluated(&x, "lambda:UpdateEventSourceMapping") || evaluated(&x, "lambda:PutFunctionConcurrency"));

	iam_off(&x);                                /* new code, rolled out */
	fx_upload(&x, "new code");
	iam_on(&x);
	tp_err e = { 0 };
	struct rollout_opts o = { 0 };
	struct rollout_result out;
	memset(&out, 0, sizeof out);
	int rc = rollout_run(&x.app, FX_BUCKET, FX_KEY, x.version, &o, &out, &e);
	if (rc < 0)
		fail_msg("rollout: %s: %s", e.code, e.message);
	rollout_result_free(&out);
	assert_no_denial(&x, "rollout");
	assert_true(evaluated(&x, "lambda:UpdateFunctionCode"));

	iam_off(&x);                                /* deleted: drained and removed */
	fx_rm(&x, "b");
	iam_on(&x);
	apply_all_ok(&x);
	assert_no_denial(&x, "delete");
	/* every action evaluated here the Python layer evaluated for the same role */
	size_t total = fake_iam_records(x.fake, &r);
	buf text = { 0 };
	assert_int_equal(tp_read_file("tests/integration/iam_evaluated.json", 4 << 20, &text, &e), TP_OK);
	int distinct = 0;
	for (size_t i = 0; i < total; i++) {
		int first = 1;
		for (size_t j = 0; j < i && first; j++)
			first = strcmp(r[i].action, r[j].action) != 0;
		if (!first)
			continue;
		distinct++;
		char needle[128];
		snprintf(needle, sizeof needle, "\"action\": \"%s\"", r[i].action);
		if (!strstr(buf_str(&text), needle))
			fail_msg("%s evaluated here, never by the Python layer (iam_evaluated.json)", r[i].action);
	}
	buf_free(&text);
	print_message("%zu checks of %d actions evaluated, none refused\n", total, distinct);
	fx_assert_no_violations(&x);
	fx_teardown(&x);
}

/* The same controller with a grant taken away is refused, and says so. */
static void test_a_missing_grant_is_refused(void **state)
{
	(void)state;
	struct fx x;
	fx_setup(&x, NULL);
	fx_put(&x, "{\"pipeline\":\"a\",\"concurrency\":2}");
	char *json = controller_policy();
	char *at = strstr(json, "\"iam:PassRole\"");
	assert_non_null(at);
	memcpy(at, "\"iam:PassRolX\"", 14);           /* PassConsumerRole no longer grants it */
	tp_err e = { 0 };
	assert_int_equal(fake_iam_set_policy(x.fake, NULL, CTL_ARN, json, &e), TP_OK);
	free(json);
	size_t n;
	struct rec_result *res = fx_reconcile(&x, NULL, NULL, 0, NULL, &n);
	assert_int_equal(n, 1);
	assert_int_not_equal(res[0].rc, TP_OK);
	reconcile_results_free(res, n);
	assert_true(fake_iam_denied(x.fake) >= 1);
	const struct fake_iam_record *r;
	size_t k = fake_iam_records(x.fake, &r);
	int passrole_refused = 0;
	for (size_t i = 0; i < k; i++)
		passrole_refused |= strcmp(r[i].action, "iam:PassRole") == 0 && strcmp(r[i].effect, "ImplicitDeny") == 0;
	assert_true(passrole_refused);
	fx_teardown(&x);
}

/* The consumer's writes to the state table under the ConsumerRole: its
 * pipeline's rate schedule (rate#<Prefix>*) and a limit group's (limit#*)
 * pass; another instance's pipeline is refused by dynamodb:LeadingKeys. */
static void test_consumer_schedules_within_its_role(void **state)
{
	(void)state;
	struct fx x;
	fx_setup(&x, NULL);
	tp_err e = { 0 };
	char *json = fake_iam_template_policy("ConsumerRole", "taskpipe", FX_PREFIX, &e);
	assert_non_null(json);
	assert_int_equal(fake_iam_set_policy(x.fake, "AKIATPCONSUMER000001",
					     "arn:aws:sts::123456789012:assumed-role/taskpipe-ConsumerRole/consumer", json, &e),
			 TP_OK);
	free(json);
	/* the schedules' own clients read the key on their first request */
	setenv("AWS_ACCESS_KEY_ID", "AKIATPCONSUMER000001", 1);
	int64_t now = tp_now_us();
	struct rsched_opts ro = { .table = "taskpipe-state", .pk = "rate#" FX_PREFIX "a", .rate = 10, .burst = 1,
				  .lanes = 2, .seed = 1 };
	struct rsched *rs = NULL;
	assert_int_equal(rsched_new(&ro, &rs, &e), TP_OK);
	struct rsched_grant g;
	assert_int_equal(rsched_claim(rs, 3, now, now + 10 * 1000000, &g, &e), TP_OK);
	assert_true(g.count > 0);
	rsched_free(rs);
	struct gsched_opts go = { .table = "taskpipe-state", .group = "acme", .rate = 5, .burst = 2 };
	struct gsched *gs = NULL;
	assert_int_equal(gsched_new(&go, &gs, &e), TP_OK);
	int booked = 0;
	int64_t not_before = 0;
	assert_int_equal(gsched_book(gs, 1, now, &booked, &not_before, &e), TP_OK);
	assert_int_equal(booked, 1);
	gsched_free(gs);
	assert_no_denial(&x, "consumer");
	assert_true(evaluated(&x, "dynamodb:UpdateItem"));
	/* another instance's pipeline */
	ro.pk = "rate#zz-a";
	assert_int_equal(rsched_new(&ro, &rs, &e), TP_OK);
	assert_true(rsched_claim(rs, 1, now, now + 10 * 1000000, &g, &e) < 0);
	assert_string_equal(e.code, "AccessDeniedException");
	rsched_free(rs);
	const struct fake_iam_record *r;
	size_t n = fake_iam_records(x.fake, &r);
	assert_string_equal(r[n - 1].context, "{\"dynamodb:LeadingKeys\":[\"rate#zz-a\"]}");
	assert_string_equal(r[n - 1].effect, "ImplicitDeny");
	setenv("AWS_ACCESS_KEY_ID", "AKIDFAKE", 1);
	fx_teardown(&x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_controller_lifecycle_within_its_role),
		cmocka_unit_test(test_a_missing_grant_is_refused),
		cmocka_unit_test(test_consumer_schedules_within_its_role),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
