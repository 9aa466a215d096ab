/* test_diff.c: the one diff of a pipeline (diff_pipeline), without AWS:
 * create, update and delete, each field kind, tags missing and stale,
 * concurrency, the mapping's MaximumConcurrency and Enabled, no change. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/jsonnum.h"
#include "core/diff.h"

static const char SPEC[] =
	"{\"queue\":{\"VisibilityTimeout\":60,\"MessageRetentionPeriod\":1209600,\"maxReceiveCount\":5},"
	"\"dlq\":{\"MessageRetentionPeriod\":1209600,\"keep_if_not_empty\":true},"
	"\"func\":{\"Runtime\":\"provided.al2023\",\"Handler\":\"bootstrap\",\"MemorySize\":256,\"Timeout\":30,"
	"\"Environment\":{\"Variables\":{\"A\":\"1\",\"B\":\"2\"}},\"ReservedConcurrentExecutions\":1,"
	"\"Code\":{\"S3Bucket\":\"b\",\"S3Key\":\"k.zip\"}},"
	"\"mapping\":{\"BatchSize\":10,\"ScalingConfig\":{\"MaximumConcurrency\":3}},"
	"\"tags\":{\"team\":\"a\"}}";

/* The desired state of a spec given as JSON text, as the policy answers
 * (numbers as Raw nodes). */
static int desired(const struct settings *s, const char *name, const char *text, struct pipeline *p, tp_err *e)
{
	cJSON *answer = jsonnum_parse(text);
	int rc = pipeline_desired(s, name, answer, p, e);
	cJSON_Delete(answer);
	return rc;
}

#define DLQ_ARN "arn:aws:sqs:eu-west-1:1:tp-p-dlq"

/* A pipeline and an observation that matches it exactly. */
struct fx {
	struct settings set;
	struct pipeline want;
	cJSON *q_attrs, *dlq_attrs, *tags, *fn, *reserved, *esm;
	struct observed o;
	struct diff_list l;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	f->set.prefix = "tp-";
	f->set.owner = "me";
	f->set.role_arn = "arn:aws:iam::1:role/r";
	tp_err e = { 0 };
	assert_int_equal(desired(&f->set, "p", SPEC, &f->want, &e), TP_OK);
	f->q_attrs = cJSON_Parse("{\"VisibilityTimeout\":\"60\",\"MessageRetentionPeriod\":\"1209600\","
				 "\"QueueArn\":\"arn:aws:sqs:eu-west-1:1:tp-p\",\"RedrivePolicy\":"
				 "\"{\\\"deadLetterTargetArn\\\":\\\"" DLQ_ARN "\\\",\\\"maxReceiveCount\\\":5}\"}");
	f->dlq_attrs = cJSON_Parse("{\"MessageRetentionPeriod\":\"1209600\",\"QueueArn\":\"" DLQ_ARN "\"}");
	f->tags = pipeline_tags_json(&f->want);
	f->fn = pipeline_config_json(&f->want);
	cJSON_AddStringToObject(f->fn, "State", "Active");
	f->reserved = cJSON_CreateNumber(1);
	f->esm = cJSON_Parse("{\"BatchSize\":10,\"ScalingConfig\":{\"MaximumConcurrency\":3},\"State\":\"Enabled\"}");
	f->o = (struct observed){ .q_exists = 1, .dlq_exists = 1, .q_attrs = f->q_attrs, .dlq_attrs = f->dlq_attrs,
				  .q_tags = f->tags, .dlq_tags = f->tags, .fn = f->fn, .fn_tags = f->tags,
				  .fn_state_known = 1, .reserved_known = 1, .reserved = f->reserved, .esm = f->esm };
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	pipeline_free(&f->want);
	cJSON_Delete(f->q_attrs);
	cJSON_Delete(f->dlq_attrs);
	cJSON_Delete(f->tags);
	cJSON_Delete(f->fn);
	cJSON_Delete(f->reserved);
	cJSON_Delete(f->esm);
	diff_list_free(&f->l);
	free(f);
	return 0;
}

static const struct diff_change *only(struct fx *f)
{
	diff_pipeline(&f->want, NULL, &f->o, &f->l);
	assert_int_equal(f->l.n, 1);
	return &f->l.v[0];
}

static void expect(const struct diff_change *c, enum diff_res res, enum diff_kind kind, const char *field,
		   const char *from, const char *to)
{
	assert_int_equal(c->res, res);
	assert_int_equal(c->kind, kind);
	assert_string_equal(c->field, field);
	assert_string_equal(c->from, from);
	assert_string_equal(c->to, to);
}

static void test_no_change(void **state)
{
	struct fx *f = *state;
	diff_pipeline(&f->want, NULL, &f->o, &f->l);
	assert_int_equal(f->l.n, 0);
}

static void test_create(void **state)
{
	struct fx *f = *state;
	struct observed none = { 0 };
	diff_pipeline(&f->want, NULL, &none, &f->l);
	assert_int_equal(f->l.n, 4);
	enum diff_res order[] = { DIFF_DLQ, DIFF_QUEUE, DIFF_FUNCTION, DIFF_MAPPING };
	for (int i = 0; i < 4; i++) {
		assert_int_equal(f->l.v[i].res, order[i]);
		assert_int_equal(f->l.v[i].act, DIFF_CREATE);
	}
}

static void test_delete_and_keep(void **state)
{
	struct fx *f = *state;
	struct spec_record old;
	spec_record_read(f->want.tree, &old);
	diff_pipeline(NULL, &old, &f->o, &f->l);
	assert_int_equal(f->l.n, 4);
	assert_int_equal(f->l.v[0].res, DIFF_MAPPING);
	assert_int_equal(f->l.v[3].act, DIFF_DELETE);   /* the DLQ is empty */
	diff_list_free(&f->l);
	cJSON_AddStringToObject(f->dlq_attrs, "ApproximateNumberOfMessages", "3");
	diff_pipeline(NULL, &old, &f->o, &f->l);
	assert_int_equal(f->l.v[3].act, DIFF_KEEP);
	assert_string_equal(f->l.v[3].note, "kept: 3 messages");
	diff_list_free(&f->l);
	old.keep_dlq = 0;                               /* the last spec let it go */
	diff_pipeline(NULL, &old, &f->o, &f->l);
	assert_int_equal(f->l.v[3].act, DIFF_DELETE);
	diff_list_free(&f->l);
	spec_record_free(&old);
	diff_pipeline(NULL, NULL, &f->o, &f->l);        /* no last spec: kept too */
	assert_int_equal(f->l.v[3].act, DIFF_KEEP);
}

static void test_queue_fields(void **state)
{
	struct fx *f = *state;
	cJSON_ReplaceItemInObject(f->q_attrs, "VisibilityTimeout", cJSON_CreateString("30"));
	expect(only(f), DIFF_QUEUE, DK_QUEUE_ATTR, "VisibilityTimeout", "30", "60");
	diff_list_free(&f->l);
	cJSON_ReplaceItemInObject(f->q_attrs, "VisibilityTimeout", cJSON_CreateString("60"));
	cJSON_ReplaceItemInObject(f->q_attrs, "RedrivePolicy",
				  cJSON_CreateString("{\"deadLetterTargetArn\":\"x\",\"maxReceiveCount\":\"9\"}"));
	diff_pipeline(&f->want, NULL, &f->o, &f->l);
	assert_int_equal(f->l.n, 2);
	expect(&f->l.v[0], DIFF_QUEUE, DK_REDRIVE_COUNT, "RedrivePolicy.maxReceiveCount", "9", "5");
	expect(&f->l.v[1], DIFF_QUEUE, DK_REDRIVE_DLQ, "RedrivePolicy.deadLetterTargetArn", "x", DLQ_ARN);
	diff_list_free(&f->l);
	cJSON_DeleteItemFromObject(f->dlq_attrs, "MessageRetentionPeriod");
	cJSON_DeleteItemFromObject(f->q_attrs, "RedrivePolicy");
	diff_pipeline(&f->want, NULL, &f->o, &f->l);
	expect(&f->l.v[0], DIFF_DLQ, DK_QUEUE_ATTR, "MessageRetentionPeriod", "(none)", "1209600");
	expect(&f->l.v[1], DIFF_QUEUE, DK_REDRIVE_COUNT, "RedrivePolicy.maxReceiveCount", "(none)", "5");
}

static void test_function_fields(void **state)
{
	struct fx *f = *state;
	cJSON_ReplaceItemInObject(f->fn, "MemorySize", cJSON_CreateNumber(128));
	expect(only(f), DIFF_FUNCTION, DK_FN_CONFIG, "MemorySize", "128", "256");
	diff_list_free(&f->l);
	cJSON_ReplaceItemInObject(f->fn, "MemorySize", cJSON_CreateNumber(256));
	cJSON_ReplaceItemInObject(f->fn, "Description", cJSON_CreateString("taskpipe code s3://b/old.zip"));
	expect(only(f), DIFF_FUNCTION, DK_CODE, "Code", "taskpipe code s3://b/old.zip", "taskpipe code s3://b/k.zip");
	diff_list_free(&f->l);
	cJSON_ReplaceItemInObject(f->fn, "Description", cJSON_CreateString(f->want.code_marker));
	cJSON_ReplaceItemInObject(f->fn, "Role", cJSON_CreateString("arn:other"));
	expect(only(f), DIFF_FUNCTION, DK_FN_CONFIG, "Role", "arn:other", "arn:aws:iam::1:role/r");
	diff_list_free(&f->l);
	cJSON_ReplaceItemInObject(f->fn, "Role", cJSON_CreateString("arn:aws:iam::1:role/r"));
	cJSON_AddItemToObject(f->fn, "Layers", cJSON_Parse("[{\"Arn\":\"arn:l:1\"}]"));
	expect(only(f), DIFF_FUNCTION, DK_LAYERS, "Layers", "arn:l:1", "(none)");
	diff_list_free(&f->l);
	cJSON_DeleteItemFromObject(f->fn, "Layers");
	cJSON_AddItemToObject(f->fn, "Architectures", cJSON_Parse("[\"arm64\"]"));
	expect(only(f), DIFF_FUNCTION, DK_ARCH, "Architectures", "arm64", "x86_64");
	diff_list_free(&f->l);
	cJSON_DeleteItemFromObject(f->fn, "Architectures");
	cJSON_AddItemToObject(f->fn, "Architectures", cJSON_Parse("[\"x86_64\"]"));
	diff_pipeline(&f->want, NULL, &f->o, &f->l);
	assert_int_equal(f->l.n, 0);   /* absent means x86_64 */
}

static void test_environment(void **state)
{
	struct fx *f = *state;
	cJSON *vars = cJSON_GetObjectItem(cJSON_GetObjectItem(f->fn, "Environment"), "Variables");
	cJSON_ReplaceItemInObject(vars, "A", cJSON_CreateString("secret"));
	cJSON_DeleteItemFromObject(vars, "B");
	cJSON_AddStringToObject(vars, "C", "x");
	const struct diff_change *c = only(f);
	expect(c, DIFF_FUNCTION, DK_ENV, "Environment.Variables", "A(changed),C(removed)", "B(added)");
	assert_int_equal(c->n_parts, 3);
	expect(&c->parts[0], DIFF_FUNCTION, DK_ENV, "Environment.Variables.A", "(different value)", "(set)");
	expect(&c->parts[1], DIFF_FUNCTION, DK_ENV, "Environment.Variables.B", "(absent)", "(set)");
	expect(&c->parts[2], DIFF_FUNCTION, DK_ENV, "Environment.Variables.C", "(set)", "(absent)");
	/* values never appear */
	assert_null(strstr(c->from, "secret"));
}

/* taskpipe's own variables are settings, not secrets: their values show. */
static void test_environment_taskpipe_values(void **state)
{
	struct fx *f = *state;
	tp_err e = { 0 };
	char *spec = tp_xstrdup(SPEC);
	char *vars = strstr(spec, "\"B\":\"2\"");
	pipeline_free(&f->want);
	char *text = tp_xasprintf("%.*s\"B\":\"2\",\"TASKPIPE_RATE\":\"2\",\"TASKPIPE_BURST\":\"4\"%s",
				  (int)(vars - spec), spec, vars + 7);
	assert_int_equal(desired(&f->set, "p", text, &f->want, &e), TP_OK);
	free(text);
	free(spec);
	cJSON *have = cJSON_GetObjectItem(cJSON_GetObjectItem(f->fn, "Environment"), "Variables");
	cJSON_AddStringToObject(have, "TASKPIPE_RATE", "20");
	cJSON_ReplaceItemInObject(have, "A", cJSON_CreateString("secret"));
	const struct diff_change *c = only(f);
	expect(c, DIFF_FUNCTION, DK_ENV, "Environment.Variables",
	       "A(changed),B,TASKPIPE_RATE=20(changed to 2)", "TASKPIPE_BURST=4(added)");
	assert_int_equal(c->n_parts, 3);
	expect(&c->parts[0], DIFF_FUNCTION, DK_ENV, "Environment.Variables.A", "(different value)", "(set)");
	expect(&c->parts[1], DIFF_FUNCTION, DK_ENV, "Environment.Variables.TASKPIPE_RATE", "20", "2");
	expect(&c->parts[2], DIFF_FUNCTION, DK_ENV, "Environment.Variables.TASKPIPE_BURST", "(absent)", "4");
	assert_null(strstr(c->from, "secret"));
}

static void test_concurrency(void **state)
{
	struct fx *f = *state;
	f->o.reserved = NULL;
	expect(only(f), DIFF_FUNCTION, DK_RESERVED, "ReservedConcurrentExecutions", "(none)", "1");
	diff_list_free(&f->l);
	f->o.reserved_known = 0;   /* a list cannot see it: not compared */
	diff_pipeline(&f->want, NULL, &f->o, &f->l);
	assert_int_equal(f->l.n, 0);
}

static void test_mapping(void **state)
{
	struct fx *f = *state;
	cJSON_DeleteItemFromObject(f->esm, "ScalingConfig");
	expect(only(f), DIFF_MAPPING, DK_MAP_MAX, "ScalingConfig.MaximumConcurrency", "(none)", "3");
	diff_list_free(&f->l);
	cJSON_AddItemToObject(f->esm, "ScalingConfig", cJSON_Parse("{\"MaximumConcurrency\":3}"));
	cJSON_ReplaceItemInObject(f->esm, "State", cJSON_CreateString("Disabled"));
	expect(only(f), DIFF_MAPPING, DK_MAP_ENABLED, "Enabled", "false", "true");
	diff_list_free(&f->l);
	cJSON_ReplaceItemInObject(f->esm, "State", cJSON_CreateString("Updating"));   /* counts as enabled */
	cJSON_ReplaceItemInObject(f->esm, "BatchSize", cJSON_CreateNumber(5));
	expect(only(f), DIFF_MAPPING, DK_MAP_FIELD, "BatchSize", "5", "10");
	diff_list_free(&f->l);
	/* the mapping part alone, as apply re-diffs it */
	struct spec_mapping want = { .batch_size = 5, .window = SPEC_UNSET, .enabled = 0, .frt = FRT_REPORT };
	diff_mapping(&want, f->esm, &f->l);
	assert_int_equal(f->l.n, 3);
	expect(&f->l.v[0], DIFF_MAPPING, DK_MAP_MAX, "ScalingConfig.MaximumConcurrency", "3", "(none)");
	expect(&f->l.v[1], DIFF_MAPPING, DK_MAP_ENABLED, "Enabled", "true", "false");
	expect(&f->l.v[2], DIFF_MAPPING, DK_MAP_FRT, "FunctionResponseTypes", "(none)", "[\"ReportBatchItemFailures\"]");
}

static void test_tags(void **state)
{
	struct fx *f = *state;
	cJSON *qt = cJSON_Duplicate(f->tags, 1);
	f->o.q_tags = qt;
	cJSON_ReplaceItemInObject(qt, "team", cJSON_CreateString("b"));
	cJSON_AddStringToObject(qt, "cost", "x1");        /* the last spec set it */
	cJSON_AddStringToObject(qt, "theirs", "y");       /* someone else's: left alone */
	cJSON *old_spec = cJSON_Parse("{\"tags\":{\"team\":\"b\",\"cost\":\"x1\"}}");
	struct spec_record old;
	spec_record_read(old_spec, &old);
	diff_pipeline(&f->want, &old, &f->o, &f->l);
	assert_int_equal(f->l.n, 2);
	expect(&f->l.v[0], DIFF_QUEUE, DK_TAG, "Tags.team", "b", "a");
	assert_int_equal(f->l.v[0].act, DIFF_TAG);
	assert_string_equal(diff_tag_key(&f->l.v[0]), "team");
	expect(&f->l.v[1], DIFF_QUEUE, DK_TAG, "Tags.cost", "x1", "(none)");
	assert_int_equal(f->l.v[1].act, DIFF_UNTAG);
	diff_list_free(&f->l);
	/* A taskpipe:* tag taskpipe no longer sets is stale, with or without a last spec. */
	cJSON_Delete(qt);
	qt = cJSON_Duplicate(f->tags, 1);
	f->o.q_tags = qt;
	cJSON_AddStringToObject(qt, "taskpipe:rate", "5");
	diff_pipeline(&f->want, NULL, &f->o, &f->l);
	assert_int_equal(f->l.n, 1);
	expect(&f->l.v[0], DIFF_QUEUE, DK_TAG, "Tags.taskpipe:rate", "5", "(none)");
	assert_int_equal(f->l.v[0].act, DIFF_UNTAG);
	diff_list_free(&f->l);
	/* A missing owner tag on the function. */
	cJSON *ft = cJSON_Duplicate(f->tags, 1);
	cJSON_DeleteItemFromObject(ft, "taskpipe:pipeline");
	f->o.fn_tags = ft;
	f->o.q_tags = f->tags;
	expect(only(f), DIFF_FUNCTION, DK_TAG, "Tags.taskpipe:pipeline", "(none)", "p");
	cJSON_Delete(ft);
	cJSON_Delete(qt);
	cJSON_Delete(old_spec);
	spec_record_free(&old);
}

static void test_state(void **state)
{
	struct fx *f = *state;
	cJSON_ReplaceItemInObject(f->fn, "State", cJSON_CreateString("Failed"));
	cJSON_AddStringToObject(f->fn, "StateReason", "bad zip");
	const struct diff_change *c = only(f);
	assert_int_equal(c->act, DIFF_RECREATE);
	assert_string_equal(c->note, "bad zip");
	diff_list_free(&f->l);
	f->o.fn_state_known = 0;   /* listed: State unknown, not judged */
	diff_pipeline(&f->want, NULL, &f->o, &f->l);
	assert_int_equal(f->l.n, 0);
	diff_list_free(&f->l);
	/* storage mode: COPY observed, the spec does not ask for REFERENCE */
	cJSON_AddStringToObject(f->fn, "CodeSha256", "x");
	diff_pipeline(&f->want, NULL, &f->o, &f->l);
	assert_int_equal(f->l.n, 0);
}

static void test_owner(void **state)
{
	(void)state;
	const char *found;
	cJSON *t = cJSON_Parse("{\"taskpipe:owner\":\"me\",\"taskpipe:pipeline\":\"p\"}");
	assert_int_equal(diff_owner("me", "p", t, &found), DIFF_OWNED);
	assert_int_equal(diff_owner("me", "q", t, &found), DIFF_OTHER_PIPELINE);
	assert_string_equal(found, "p");
	assert_int_equal(diff_owner("you", "p", t, &found), DIFF_OTHER_OWNER);
	assert_string_equal(found, "me");
	assert_int_equal(diff_owner("me", "p", NULL, &found), DIFF_NO_OWNER);
	cJSON_Delete(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_no_change, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete_and_keep, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_function_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_environment, setup, teardown),
		cmocka_unit_test_setup_teardown(test_environment_taskpipe_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrency, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mapping, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tags, setup, teardown),
		cmocka_unit_test_setup_teardown(test_state, setup, teardown),
		cmocka_unit_test(test_owner),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
