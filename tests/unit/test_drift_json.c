/* test_drift_json.c: the drift document (runtime/drift_json.c) of a report
 * built by hand: every key in its order, the optional ones (note, error,
 * fix, cursor), the exit code, and no environment value in it, even when
 * the repair's changes come from the real diff of a changed variable. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/base.h"
#include "runtime/drift_json.h"

static char *sdup(const char *s)
{
	return tp_xstrdup(s);
}

static struct drift_entry entry(const char *res, const char *field, const char *exp, const char *act,
				const char *note)
{
	return (struct drift_entry){ sdup(res), sdup(field), sdup(exp), sdup(act), note ? sdup(note) : NULL };
}

static char *render(const struct drift_report *r)
{
	cJSON *doc = drift_json(r);
	char *s = cJSON_PrintUnformatted(doc);
	cJSON_Delete(doc);
	return s;
}

/* An empty check (nothing in the fleet, no cursor). */
static void test_empty(void **state)
{
	struct drift_report r;
	memset(&r, 0, sizeof r);
	r.elapsed_ms = 7;
	char *s = render(&r);
	assert_string_equal(s,
		"{\"pipelines\":[],\"orphans\":[],"
		"\"summary\":{\"checked\":0,\"in_sync\":0,\"drifted\":0,\"missing\":0,\"collision\":0,"
		"\"error\":0,\"orphans\":0,\"draining\":0,\"kept\":0,\"fixed\":0,\"fix_failed\":0,\"reserved_concurrency_checked\":false},"
		"\"cursor\":null,\"calls\":{},\"lambda_calls\":0,\"lambda_calls_observe\":0,"
		"\"tag_fallback\":{\"queues\":0,\"functions\":0,\"queue_urls\":0},\"elapsed_ms\":7,"
		"\"exit_code\":0,"
		"\"pool\":{\"pipelines\":0,\"max_concurrency\":0,\"reserved\":0,\"demand\":0,"
		"\"account_error\":\"unknown\"}}");
	free(s);
}

/* Every kind of pipeline, an orphan, a fix each way, the cursor. */
static void test_full(void **state)
{
	struct drift_report r;
	memset(&r, 0, sizeof r);
	r.n_pipelines = 3;
	r.pipelines = tp_xcalloc(3, sizeof *r.pipelines);

	struct drift_pipeline *a = &r.pipelines[0];
	a->name = sdup("a");
	a->status = DRIFT_DRIFTED;
	a->n_drift = 2;
	a->drift = tp_xcalloc(2, sizeof *a->drift);
	a->drift[0] = entry("function", "Code", "taskpipe code s3://b/k2", "taskpipe code s3://b/k1", NULL);
	a->drift[1] = entry("function", "State", "Active", "Inactive", "object gone");
	a->code_behind = 1;
	a->fix.status = DRIFT_FIX_FIXED;
	a->fix.changes.n = a->fix.changes.cap = 1;
	a->fix.changes.v = tp_xcalloc(1, sizeof *a->fix.changes.v);
	a->fix.changes.v[0] = (struct diff_change){ .res = DIFF_QUEUE, .act = DIFF_CREATE };

	struct drift_pipeline *b = &r.pipelines[1];
	b->name = sdup("b");
	b->status = DRIFT_ERROR;
	tp_errf(&b->err, TP_EINVAL, "PolicyError", "policy.lua:3: boom");

	struct drift_pipeline *c = &r.pipelines[2];
	c->name = sdup("c");
	c->status = DRIFT_MISSING;
	c->n_drift = 1;
	c->drift = tp_xcalloc(1, sizeof *c->drift);
	c->drift[0] = entry("queue", "(resource)", "present", "missing", NULL);
	c->fix.status = DRIFT_FIX_FAILED;
	tp_errf(&c->fix.err, TP_EINVAL, "DeadlineNear", "no time left");

	r.n_orphans = 2;
	r.orphans = tp_xcalloc(2, sizeof *r.orphans);
	r.orphans[0].name = sdup("z");
	r.orphans[0].n_res = 1;
	r.orphans[0].res = tp_xcalloc(1, sizeof *r.orphans[0].res);
	r.orphans[0].res[0] = (struct drift_resource){ sdup("function"), sdup("tp-z") };
	/* a removed item's kept DLQ: a state, not an orphan */
	r.orphans[1].name = sdup("k");
	r.orphans[1].state = "kept";
	r.orphans[1].n_res = 1;
	r.orphans[1].res = tp_xcalloc(1, sizeof *r.orphans[1].res);
	r.orphans[1].res[0] = (struct drift_resource){ sdup("dead-letter queue"), sdup("tp-k-dlq") };

	r.summary = (struct drift_summary){ .checked = 3, .count = { 0, 1, 1, 0, 1 }, .orphans = 1,
					    .fixed = 1, .fix_failed = 1, .kept = 1 };
	r.has_cursor = 1;
	r.cursor.after = sdup("");
	r.cursor.next = sdup("z");
	r.cursor.total = 9;
	r.n_calls = 2;
	r.calls = tp_xcalloc(2, sizeof *r.calls);
	r.calls[0] = (struct drift_calls){ sdup("lambda:ListFunctions"), 1 };
	r.calls[1] = (struct drift_calls){ sdup("sqs:ListQueues"), 2 };
	r.lambda_calls = 3;
	r.lambda_calls_observe = 2;
	r.tag_fallback.functions = 1;
	r.elapsed_ms = 12;
	r.exit_code = DRIFT_EXIT_ERROR;
	r.demand = (struct pool_demand){ .pipelines = 3, .max_concurrency = 150, .reserved = 2 };
	r.pool_known = 1;
	r.pool = (struct pool_account){ .limit = 110, .unreserved = 98, .minimum = 100, .minimum_learned = 1 };

	char *s = render(&r);
	assert_string_equal(s,
		"{\"pipelines\":["
		"{\"pipeline\":\"a\",\"status\":\"drifted\",\"drift\":["
		"{\"resource\":\"function\",\"field\":\"Code\",\"expected\":\"taskpipe code s3://b/k2\","
		"\"actual\":\"taskpipe code s3://b/k1\"},"
		"{\"resource\":\"function\",\"field\":\"State\",\"expected\":\"Active\",\"actual\":\"Inactive\","
		"\"note\":\"object gone\"}],\"code_behind\":true,"
		"\"fix\":{\"status\":\"fixed\",\"changes\":[{\"resource\":\"queue\",\"action\":\"create\"}]}},"
		"{\"pipeline\":\"b\",\"status\":\"error\",\"drift\":[],\"code_behind\":false,"
		"\"error\":{\"code\":\"PolicyError\",\"message\":\"policy.lua:3: boom\"}},"
		"{\"pipeline\":\"c\",\"status\":\"missing\",\"drift\":["
		"{\"resource\":\"queue\",\"field\":\"(resource)\",\"expected\":\"present\",\"actual\":\"missing\"}],"
		"\"code_behind\":false,\"fix\":{\"status\":\"failed\",\"changes\":[],"
		"\"error\":{\"code\":\"DeadlineNear\",\"message\":\"no time left\"}}}],"
		"\"orphans\":[{\"pipeline\":\"z\",\"resources\":[{\"resource\":\"function\",\"name\":\"tp-z\"}]},"
		"{\"pipeline\":\"k\",\"state\":\"kept\",\"resources\":[{\"resource\":\"dead-letter queue\",\"name\":\"tp-k-dlq\"}]}],"
		"\"summary\":{\"checked\":3,\"in_sync\":0,\"drifted\":1,\"missing\":1,\"collision\":0,"
		"\"error\":1,\"orphans\":1,\"draining\":0,\"kept\":1,\"fixed\":1,\"fix_failed\":1,\"reserved_concurrency_checked\":false},"
		"\"cursor\":{\"after\":\"\",\"next\":\"z\",\"complete\":false,\"total\":9},"
		"\"calls\":{\"lambda:ListFunctions\":1,\"sqs:ListQueues\":2},\"lambda_calls\":3,"
		"\"lambda_calls_observe\":2,"
		"\"tag_fallback\":{\"queues\":0,\"functions\":1,\"queue_urls\":0},\"elapsed_ms\":12,"
		"\"exit_code\":1,"
		"\"pool\":{\"pipelines\":3,\"max_concurrency\":150,\"reserved\":2,\"demand\":152,"
		"\"account_limit\":110,\"unreserved\":98,\"unreserved_min\":100,\"unreserved_min_learned\":true,"
		"\"reservable\":-2,\"over_limit\":true}}");
	free(s);
	drift_report_free(&r);
}

/* The exit code is the report's, each value. */
static void test_exit_code(void **state)
{
	static const enum drift_exit codes[] = { DRIFT_EXIT_OK, DRIFT_EXIT_ERROR, DRIFT_EXIT_DRIFT };
	for (size_t i = 0; i < 3; i++) {
		struct drift_report r;
		memset(&r, 0, sizeof r);
		r.exit_code = codes[i];
		cJSON *doc = drift_json(&r);
		assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItem(doc, "exit_code")), (int)codes[i]);
		cJSON_Delete(doc);
	}
}

/* An environment variable changed: the drift entries (as drift makes them
 * from the diff's parts) and the repair's changes (the diff itself) name
 * the key, never a value. */
static void test_env_values_hidden(void **state)
{
	struct settings set = { .prefix = "tp-", .owner = "me", .role_arn = "arn:aws:iam::1:role/r" };
	struct pipeline want;
	tp_err e = { 0 };
	cJSON *answer = cJSON_Parse("{\"func\":{\"Runtime\":\"provided.al2023\",\"Handler\":\"bootstrap\","
				     "\"Environment\":{\"Variables\":{\"TOKEN\":\"s3cret-new\"}},"
				     "\"Code\":{\"S3Bucket\":\"b\",\"S3Key\":\"k.zip\"}}}");
	assert_int_equal(pipeline_desired(&set, "p", answer, &want, &e), TP_OK);
	cJSON_Delete(answer);
	cJSON *fn = pipeline_config_json(&want);
	cJSON *fn_tags = pipeline_tags_json(&want);
	cJSON *vars = cJSON_GetObjectItem(cJSON_GetObjectItem(fn, "Environment"), "Variables");
	cJSON_ReplaceItemInObject(vars, "TOKEN", cJSON_CreateString("s3cret-old"));
	struct observed o = { .fn = fn, .fn_tags = fn_tags };

	struct drift_report r;
	memset(&r, 0, sizeof r);
	r.n_pipelines = 1;
	r.pipelines = tp_xcalloc(1, sizeof *r.pipelines);
	struct drift_pipeline *p = &r.pipelines[0];
	p->name = sdup("p");
	p->status = DRIFT_DRIFTED;
	p->fix.status = DRIFT_FIX_FIXED;
	diff_pipeline(&want, NULL, &o, &p->fix.changes);
	size_t env = 0;
	for (size_t i = 0; i < p->fix.changes.n; i++) {
		const struct diff_change *c = &p->fix.changes.v[i];
		if (c->kind != DK_ENV)
			continue;
		env++;
		p->drift = tp_xrealloc(p->drift, (p->n_drift + c->n_parts) * sizeof *p->drift);
		for (size_t k = 0; k < c->n_parts; k++)
			p->drift[p->n_drift++] = entry("function", c->parts[k].field, c->parts[k].to,
						       c->parts[k].from, NULL);
	}
	assert_int_equal(env, 1);
	r.summary.checked = 1;
	r.summary.count[DRIFT_DRIFTED] = 1;
	r.summary.fixed = 1;

	char *s = render(&r);
	assert_non_null(strstr(s, "\"field\":\"Environment.Variables.TOKEN\",\"expected\":\"(set)\","
				  "\"actual\":\"(different value)\""));
	assert_null(strstr(s, "s3cret"));
	free(s);
	drift_report_free(&r);
	cJSON_Delete(fn);
	cJSON_Delete(fn_tags);
	pipeline_free(&want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_exit_code),
		cmocka_unit_test(test_env_values_hidden),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
