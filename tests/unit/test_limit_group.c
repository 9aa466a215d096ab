/* test_limit_group.c: limit groups' keys, put items, and how a member's item
 * is resolved for the policy (core/limit_group.h), with the default policy. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/ddb.h"
#include "base/log.h"
#include "core/limit_group.h"
#include "script/policy.h"

#include <cjson/cJSON.h>

static const char CTX[] = "{\"defaults\":{\"code_bucket\":\"code\",\"code_key\":\"c.zip\","
			  "\"consumer_layer\":\"arn:aws:lambda:us-east-1:123456789012:layer:tc:3\","
			  "\"state_table\":\"tp-state\"}}";

static struct policy *default_policy(void)
{
	struct policy *p = NULL;
	tp_err e = {0};
	unsetenv("TASKPIPE_POLICY");
	unsetenv("LAMBDA_TASK_ROOT");
	if (policy_load(NULL, NULL, &p, &e) != 0)
		fail_msg("default policy: %s", e.message);
	cJSON *ctx = cJSON_Parse(CTX);
	policy_set_ctx(p, ctx);
	cJSON_Delete(ctx);
	return p;
}

static cJSON *item(const char *plain)
{
	char why[200] = "";
	cJSON *j = cJSON_Parse(plain);
	cJSON *it = ddb_item_from_json(j, why, sizeof why);
	cJSON_Delete(j);
	if (!it)
		fail_msg("%s: %s", plain, why);
	return it;
}

static void keys(void **state)
{
	(void)state;
	assert_true(limit_group_key_is("limit#acme"));
	assert_false(limit_group_key_is("limit-acme"));
	assert_false(limit_group_key_is(NULL));
	assert_string_equal(limit_group_key_name("limit#acme"), "acme");
	char *k = limit_group_key("acme");
	assert_string_equal(k, "limit#acme");
	free(k);
}

static void put_items_are_keyed(void **state)
{
	(void)state;
	char why[300];
	cJSON *g = item("{\"limit_group\":\"acme\",\"rate\":2}");
	assert_int_equal(limit_group_item_keyed(g, why, sizeof why), 1);
	assert_string_equal(ddb_get_str(g, "pipeline", ""), "limit#acme");
	assert_int_equal(limit_group_item_keyed(g, why, sizeof why), 1); /* keyed already: the same */
	cJSON_Delete(g);
	cJSON *m = item("{\"pipeline\":\"site\",\"limit_group\":\"acme\"}");
	assert_int_equal(limit_group_item_keyed(m, why, sizeof why), 0);
	assert_string_equal(ddb_get_str(m, "pipeline", ""), "site");
	cJSON_Delete(m);
	cJSON *bad = item("{\"pipeline\":\"limit#acme\",\"limit_group\":\"other\"}");
	assert_int_equal(limit_group_item_keyed(bad, why, sizeof why), -1);
	assert_non_null(strstr(why, "'limit#acme' does not match limit_group 'other'"));
	cJSON_Delete(bad);
	cJSON *nogroup = item("{\"pipeline\":\"limit#acme\",\"rate\":1}");
	assert_int_equal(limit_group_item_keyed(nogroup, why, sizeof why), -1);
	assert_non_null(strstr(why, "has no string \"limit_group\""));
	cJSON_Delete(nogroup);
	cJSON *plain = item("{\"pipeline\":\"a\"}");
	assert_int_equal(limit_group_item_keyed(plain, why, sizeof why), 0);
	cJSON_Delete(plain);
}

static const char *env_var(const cJSON *spec, const char *name)
{
	return cJSON_GetStringValue(cJSON_GetObjectItem(
		cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(spec, "func"), "Environment"), "Variables"),
		name));
}

static void members_resolve(void **state)
{
	(void)state;
	struct policy *p = default_policy();
	struct limit_groups *lg = limit_groups_new(NULL, p);
	tp_err e = {0};
	char note[300];
	cJSON *g = item("{\"pipeline\":\"limit#acme\",\"limit_group\":\"acme\",\"rate\":\"90/min\",\"burst\":3}");
	limit_groups_add(lg, g);
	/* the member's item for the policy: limit_group as {name, rate, burst} */
	cJSON *m = item("{\"pipeline\":\"site\",\"limit_group\":\"acme\"}"), *out = NULL, *spec = NULL;
	assert_int_equal(limit_groups_resolve(lg, m, &out, note, sizeof note, &e), TP_OK);
	char *txt = cJSON_PrintUnformatted(cJSON_GetObjectItem(out, "limit_group"));
	assert_string_equal(txt, "{\"M\":{\"name\":{\"S\":\"acme\"},\"rate\":{\"N\":\"1.5\"},\"burst\":{\"N\":\"3\"}}}");
	free(txt);
	assert_string_equal(note, "");
	cJSON_Delete(out);
	/* and the spec: the group's variables, the member's rate the group's */
	assert_int_equal(limit_groups_spec(lg, m, &spec, note, sizeof note, &e), TP_OK);
	assert_string_equal(env_var(spec, "TASKPIPE_LIMIT_GROUP"), "acme");
	assert_string_equal(env_var(spec, "TASKPIPE_LIMIT_GROUP_RATE"), "1.5");
	assert_string_equal(env_var(spec, "TASKPIPE_LIMIT_GROUP_BURST"), "3");
	assert_string_equal(env_var(spec, "TASKPIPE_RATE"), "1.5");
	cJSON_Delete(spec);
	cJSON_Delete(m);

	/* no group named: the item as it is */
	cJSON *plain = item("{\"pipeline\":\"p\"}");
	assert_int_equal(limit_groups_resolve(lg, plain, &out, note, sizeof note, &e), TP_OK);
	assert_null(out);
	cJSON_Delete(plain);

	/* a group nobody has: named */
	cJSON *typo = item("{\"pipeline\":\"t\",\"limit_group\":\"acmee\"}");
	assert_int_equal(limit_groups_resolve(lg, typo, &out, note, sizeof note, &e), TP_EINVAL);
	assert_string_equal(e.code, "NoLimitGroup");
	assert_non_null(strstr(e.message, "no limit group 'acmee'"));
	cJSON_Delete(typo);

	/* a map where a name belongs is not taken as resolved */
	cJSON *forged = item("{\"pipeline\":\"f\",\"limit_group\":{\"name\":\"acme\",\"rate\":100,\"burst\":100}}");
	tp_err_clear(&e);
	assert_int_equal(limit_groups_resolve(lg, forged, &out, note, sizeof note, &e), TP_EINVAL);
	assert_string_equal(e.code, "BadLimitGroup");
	cJSON_Delete(forged);

	/* removed: applied without it, and said so (with no own rate: unpaced) */
	limit_groups_removed(lg, "acme");
	cJSON *member = item("{\"pipeline\":\"site\",\"limit_group\":\"acme\"}");
	assert_int_equal(limit_groups_resolve(lg, member, &out, note, sizeof note, &e), TP_OK);
	assert_null(cJSON_GetObjectItem(out, "limit_group"));
	assert_non_null(strstr(note, "limit group acme was removed: applied without it; the item has no rate"));
	cJSON_Delete(out);
	cJSON_Delete(member);

	/* a bad group: its members fail with the policy's reason, naming it */
	cJSON *bad = item("{\"pipeline\":\"limit#slow\",\"limit_group\":\"slow\",\"rate\":\"fast\"}");
	limit_groups_add(lg, bad);
	cJSON *in_bad = item("{\"pipeline\":\"x\",\"limit_group\":\"slow\",\"rate\":1}");
	tp_err_clear(&e);
	assert_int_equal(limit_groups_resolve(lg, in_bad, &out, note, sizeof note, &e), TP_EINVAL);
	assert_string_equal(e.code, "BadLimitGroup");
	assert_non_null(strstr(e.message, "limit group slow: rate: 'fast' is not a rate"));
	tp_err_clear(&e);
	assert_int_equal(limit_groups_check(lg, bad, &e), TP_EINVAL);
	cJSON_Delete(in_bad);
	cJSON_Delete(bad);
	cJSON_Delete(g);
	limit_groups_free(lg);
	policy_free(p);
}

static void group_items_checked(void **state)
{
	(void)state;
	struct policy *p = default_policy();
	struct limit_groups *lg = limit_groups_new(NULL, p);
	static const struct { const char *item, *err; } cases[] = {
		{ "{\"pipeline\":\"limit#g\",\"limit_group\":\"g\",\"rate\":2,\"burst\":2}", NULL },
		{ "{\"pipeline\":\"limit#g\",\"limit_group\":\"g\",\"rate\":2,\"x_note\":\"ok\"}", NULL },
		{ "{\"pipeline\":\"limit#g\",\"limit_group\":\"g\"}", "rate: missing" },
		{ "{\"pipeline\":\"limit#g\",\"limit_group\":\"g\",\"rate\":2,\"concurrency\":3}",
		  "concurrency: not a field of a limit group" },
		{ "{\"pipeline\":\"limit#g\",\"limit_group\":\"g\",\"rate\":2,\"burst\":0}", "burst: 0 is out of range" },
		{ "{\"pipeline\":\"limit#g\",\"limit_group\":\"g\",\"rate\":1000,\"burst\":1}", "bookings/s" },
		{ "{\"pipeline\":\"limit#g g\",\"limit_group\":\"g g\",\"rate\":1}", "must be 1..200 of A-Za-z0-9_-" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		tp_err e = {0};
		cJSON *g = item(cases[i].item);
		int rc = limit_groups_check(lg, g, &e);
		if (!cases[i].err && rc != TP_OK)
			fail_msg("%s: %s", cases[i].item, e.message);
		if (cases[i].err && (rc == TP_OK || !strstr(e.message, cases[i].err)))
			fail_msg("%s: want '%s', got '%s'", cases[i].item, cases[i].err, e.message);
		cJSON_Delete(g);
	}
	limit_groups_free(lg);
	policy_free(p);
}

int main(void)
{
	log_set_level(LOG_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(keys),
		cmocka_unit_test(put_items_are_keyed),
		cmocka_unit_test(members_resolve),
		cmocka_unit_test(group_items_checked),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
