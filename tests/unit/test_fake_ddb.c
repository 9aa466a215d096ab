/* test_fake_ddb.c: the fake's DynamoDB (tests/fake/fake_ddb.c,
 * fake_ddbexpr.c) through a real signed client and taskpipe's own request
 * builders (aws/ddb.h, core/store.h, core/lease.h): every operation taskpipe
 * sends, each condition of store.h passing and failing, the update
 * expressions store.c writes, paging by Limit and by AWS's 1 MB, filters,
 * Query order, numbers as decimals, throttling, and errors (a bad
 * expression, a missing table) that are errors, never successes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "aws/aws.h"
#include "aws/awsjson.h"
#include "aws/ddb.h"
#include "core/app.h"
#include "core/lease.h"
#include "core/store.h"
#include "fake/fake.h"

#define T "state"

static struct aws *client(struct fake *f)
{
	struct aws_options o = { .region = "eu-west-1", .seed = 1, .lambda_rps = -1, .lambda_get_rps = -1 };
	return fake_client(f, "AKIDFAKE", &o);
}

struct fx {
	struct fake *f;
	struct aws *a;
};

static int setup(void **state)
{
	struct fx *x = calloc(1, sizeof *x);
	struct fake_options o = { .latency_ms = 5 };
	x->f = fake_new(&o);
	fake_use_clock(x->f);
	x->a = client(x->f);
	assert_int_equal(fake_ddb_create_table(x->f, T, "pk", NULL), 0);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fx *x = *state;
	aws_free(x->a);
	fake_free(x->f);
	free(x);
	return 0;
}

/* A request given as JSON text (single quotes for double): rc, *out the
 * answer (the caller frees it; may be NULL to drop it), e the error. */
static int ddb(struct aws *a, const char *op, const char *json, cJSON **out, tp_err *e)
{
	char *text = strdup(json);
	for (char *p = text; *p; p++)
		if (*p == '\'')
			*p = '"';
	cJSON *in = cJSON_Parse(text);
	if (!in)
		fail_msg("bad test JSON: %s", text);
	free(text);
	cJSON *res = NULL;
	memset(e, 0, sizeof *e);
	int rc = awsj_call(a, SVC_DYNAMODB, op, in, &res, e);
	cJSON_Delete(in);
	if (out)
		*out = res;
	else
		cJSON_Delete(res);
	return rc;
}

/* The item of pk in T (NULL: none); the caller frees it. */
static cJSON *get(struct aws *a, const char *pk)
{
	char req[512];
	cJSON *out = NULL;
	tp_err e;
	snprintf(req, sizeof req, "{'TableName':'" T "','Key':{'pk':{'S':'%s'}},'ConsistentRead':true}", pk);
	assert_int_equal(ddb(a, "GetItem", req, &out, &e), TP_OK);
	cJSON *item = cJSON_DetachItemFromObject(out, "Item");
	cJSON_Delete(out);
	return item;
}

static void expect_error(int rc, const tp_err *e, const char *code, const char *in_message)
{
	assert_true(rc < 0);
	assert_string_equal(e->code, code);
	if (in_message && !strstr(e->message, in_message))
		fail_msg("message \"%s\" lacks \"%s\"", e->message, in_message);
}

/* ---- operations ---- */

static void test_tables_through_the_api(void **state)
{
	struct fx *x = *state;
	cJSON *out = NULL;
	tp_err e;
	/* what `taskpipe init` sends (cmd_pipeline.c ensure_table, ensure_ttl) */
	expect_error(ddb(x->a, "DescribeTable", "{'TableName':'cfg'}", NULL, &e), &e, "ResourceNotFoundException", "cfg");
	assert_int_equal(e.status, 400);
	assert_int_equal(ddb(x->a, "CreateTable",
			     "{'TableName':'cfg','KeySchema':[{'AttributeName':'pipeline','KeyType':'HASH'}],"
			     "'AttributeDefinitions':[{'AttributeName':'pipeline','AttributeType':'S'}],"
			     "'BillingMode':'PAY_PER_REQUEST'}", &out, &e), TP_OK);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(out, "TableDescription"),
								      "TableStatus")), "ACTIVE");
	cJSON_Delete(out);
	expect_error(ddb(x->a, "CreateTable",
			 "{'TableName':'cfg','KeySchema':[{'AttributeName':'pipeline','KeyType':'HASH'}],"
			 "'AttributeDefinitions':[{'AttributeName':'pipeline','AttributeType':'S'}],"
			 "'BillingMode':'PAY_PER_REQUEST'}", NULL, &e), &e, "ResourceInUseException", "cfg");
	assert_int_equal(ddb(x->a, "UpdateTable", "{'TableName':'cfg','StreamSpecification':{'StreamEnabled':true,"
			     "'StreamViewType':'NEW_AND_OLD_IMAGES'}}", NULL, &e), TP_OK);
	assert_int_equal(ddb(x->a, "DescribeTable", "{'TableName':'cfg'}", &out, &e), TP_OK);
	cJSON *td = cJSON_GetObjectItem(out, "Table");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(td, "TableStatus")), "ACTIVE");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(td, "StreamSpecification"), "StreamEnabled")));
	assert_non_null(strstr(cJSON_GetStringValue(cJSON_GetObjectItem(td, "LatestStreamArn")),
			       "arn:aws:dynamodb:eu-west-1:123456789012:table/cfg/stream/2026-01-01T"));
	cJSON_Delete(out);
	assert_int_equal(ddb(x->a, "DescribeTimeToLive", "{'TableName':'cfg'}", &out, &e), TP_OK);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(out, "TimeToLiveDescription"),
								      "TimeToLiveStatus")), "DISABLED");
	cJSON_Delete(out);
	assert_int_equal(ddb(x->a, "UpdateTimeToLive", "{'TableName':'cfg','TimeToLiveSpecification':"
			     "{'Enabled':true,'AttributeName':'expires_at'}}", NULL, &e), TP_OK);
	assert_int_equal(ddb(x->a, "DescribeTimeToLive", "{'TableName':'cfg'}", &out, &e), TP_OK);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(out, "TimeToLiveDescription"),
								      "AttributeName")), "expires_at");
	cJSON_Delete(out);
	/* the config table's key is pipeline: a Key of pk does not match it */
	expect_error(ddb(x->a, "GetItem", "{'TableName':'cfg','Key':{'pk':{'S':'a'}}}", NULL, &e), &e,
		     "ValidationException", "does not match the schema");
	assert_int_equal(ddb(x->a, "DeleteTable", "{'TableName':'cfg'}", NULL, &e), TP_OK);
	expect_error(ddb(x->a, "GetItem", "{'TableName':'cfg','Key':{'pipeline':{'S':'a'}}}", NULL, &e), &e,
		     "ResourceNotFoundException", NULL);
	assert_int_equal(fake_ddb_item_count(x->f, "cfg"), -1);
}

static void test_missing_table_is_resource_not_found(void **state)
{
	struct fx *x = *state;
	tp_err e;
	const char *ops[][2] = {
		{ "GetItem", "{'TableName':'nope','Key':{'pk':{'S':'a'}}}" },
		{ "PutItem", "{'TableName':'nope','Item':{'pk':{'S':'a'}}}" },
		{ "UpdateItem", "{'TableName':'nope','Key':{'pk':{'S':'a'}},'UpdateExpression':'SET x = :x',"
				"'ExpressionAttributeValues':{':x':{'N':'1'}}}" },
		{ "DeleteItem", "{'TableName':'nope','Key':{'pk':{'S':'a'}}}" },
		{ "Scan", "{'TableName':'nope'}" },
		{ "Query", "{'TableName':'nope','KeyConditionExpression':'pk = :p',"
			   "'ExpressionAttributeValues':{':p':{'S':'a'}}}" },
	};
	for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
		int rc = ddb(x->a, ops[i][0], ops[i][1], NULL, &e);
		expect_error(rc, &e, "ResourceNotFoundException", "nope");
		assert_int_equal(rc, TP_ENOTFOUND);
		assert_int_equal(e.status, 400);
	}
	/* settings_store reads a state table that is not there yet as "nothing stored" */
	expect_error(ddb(x->a, "Frobnicate", "{'TableName':'" T "'}", NULL, &e), &e, "UnknownOperationException",
		     "Frobnicate");
}

static void test_put_get_delete(void **state)
{
	struct fx *x = *state;
	cJSON *out = NULL;
	tp_err e;
	assert_null(get(x->a, "a"));
	assert_int_equal(ddb(x->a, "PutItem", "{'TableName':'" T "','Item':{'pk':{'S':'a'},'n':{'N':'007'},"
			     "'m':{'M':{'k':{'L':[{'S':'x'},{'BOOL':true},{'NULL':true}]}}},'ss':{'SS':['b','a']}}}",
			     &out, &e), TP_OK);
	assert_null(cJSON_GetObjectItem(out, "Attributes"));
	cJSON_Delete(out);
	cJSON *item = get(x->a, "a");
	assert_non_null(item);
	assert_int_equal(ddb_get_long(item, "n", -1), 7);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(item, "n"), "N")), "7");
	cJSON_Delete(item);
	/* a projection, with a nested path and an alias */
	assert_int_equal(ddb(x->a, "GetItem", "{'TableName':'" T "','Key':{'pk':{'S':'a'}},"
			     "'ProjectionExpression':'#m.k[1], n','ExpressionAttributeNames':{'#m':'m'}}", &out, &e), TP_OK);
	char *s = cJSON_PrintUnformatted(cJSON_GetObjectItem(out, "Item"));
	assert_string_equal(s, "{\"m\":{\"M\":{\"k\":{\"L\":[{\"BOOL\":true}]}}},\"n\":{\"N\":\"7\"}}");
	free(s);
	cJSON_Delete(out);
	/* PutItem ALL_OLD returns what it replaced */
	assert_int_equal(ddb(x->a, "PutItem", "{'TableName':'" T "','Item':{'pk':{'S':'a'},'v':{'S':'2'}},"
			     "'ReturnValues':'ALL_OLD'}", &out, &e), TP_OK);
	assert_int_equal(ddb_get_long(cJSON_GetObjectItem(out, "Attributes"), "n", -1), 7);
	cJSON_Delete(out);
	item = get(x->a, "a");
	assert_null(cJSON_GetObjectItem(item, "n"));
	cJSON_Delete(item);
	/* store.c's delete_item: ALL_OLD tells whether there was one */
	int had = -1;
	assert_int_equal(store_pause_delete(x->a, T, "p1", &had, &e), TP_OK);
	assert_int_equal(had, 0);
	struct store_pause p = { .name = "p1", .by = "me", .reason = "why", .at = 5 };
	assert_int_equal(store_pause_put(x->a, T, &p, &e), TP_OK);
	struct store_pause got;
	assert_int_equal(store_pause_get(x->a, T, "p1", &got, &e), TP_OK);
	assert_string_equal(got.reason, "why");
	store_pause_free(&got);
	assert_int_equal(store_pause_delete(x->a, T, "p1", &had, &e), TP_OK);
	assert_int_equal(had, 1);
	assert_int_equal(fake_ddb_item_count(x->f, T), 1);
	/* bad items */
	expect_error(ddb(x->a, "PutItem", "{'TableName':'" T "','Item':{'v':{'S':'x'}}}", NULL, &e), &e,
		     "ValidationException", "Missing the key pk");
	expect_error(ddb(x->a, "PutItem", "{'TableName':'" T "','Item':{'pk':{'N':'1'}}}", NULL, &e), &e,
		     "ValidationException", "Type mismatch for key pk");
	expect_error(ddb(x->a, "PutItem", "{'TableName':'" T "','Item':{'pk':{'S':'b'},'n':{'N':'x1'}}}", NULL, &e),
		     &e, "ValidationException", "cannot be converted into a number");
	expect_error(ddb(x->a, "PutItem", "{'TableName':'" T "','Item':{'pk':{'S':'b'},'s':{'SS':['a','a']}}}", NULL,
			 &e), &e, "ValidationException", "duplicates");
	expect_error(ddb(x->a, "PutItem", "{'TableName':'" T "','Item':{'pk':{'S':'b'},'s':{'SS':[]}}}", NULL, &e), &e,
		     "ValidationException", "may not be empty");
	expect_error(ddb(x->a, "GetItem", "{'TableName':'" T "','Key':{'pk':{'S':'a'},'x':{'S':'a'}}}", NULL, &e), &e,
		     "ValidationException", "does not match the schema");
	/* a parameter the fake does not model is refused, not ignored */
	expect_error(ddb(x->a, "GetItem", "{'TableName':'" T "','Key':{'pk':{'S':'a'}},'AttributesToGet':['pk']}",
			 NULL, &e), &e, "ValidationException", "AttributesToGet");
	expect_error(ddb(x->a, "PutItem", "{'TableName':'" T "','Item':{'pk':{'S':'a'}},'ReturnValues':'ALL_NEW'}",
			 NULL, &e), &e, "ValidationException", "ALL_NEW");
	assert_int_equal(fake_count(x->f, "dynamodb", "PutItem"), 9);
}

/* ---- the conditions of store.h ---- */

static int run(struct aws *a, struct aws_call *c, tp_err *e)
{
	int rc = aws_call_one(a, c);
	*e = c->err;
	return rc;
}

static void test_pipeline_fence(void **state)
{
	struct fx *x = *state;
	struct aws_call c;
	tp_err e;
	struct store_pipeline p = { .name = "p", .status = STORE_OK, .action = "create", .lease_fence = 5 };
	store_pipeline_put_prepare(&c, T, &p);
	assert_int_equal(run(x->a, &c, &e), TP_OK);      /* attribute_not_exists(lease_fence) */
	aws_call_free(&c);
	p.lease_fence = 3;
	snprintf(p.action, sizeof p.action, "update");
	store_pipeline_put_prepare(&c, T, &p);
	assert_true(run(x->a, &c, &e) < 0);              /* an older holder: refused */
	assert_true(store_condition_failed(&e));
	aws_call_free(&c);
	p.lease_fence = 5;
	store_pipeline_put_prepare(&c, T, &p);
	assert_int_equal(run(x->a, &c, &e), TP_OK);      /* lease_fence <= :fence */
	aws_call_free(&c);
	store_pipeline_get_prepare(&c, T, "p");
	assert_int_equal(run(x->a, &c, &e), TP_OK);
	cJSON *out = awsj_result(&c);
	struct store_pipeline got;
	store_pipeline_from_item(cJSON_GetObjectItem(out, "Item"), &got);
	assert_string_equal(got.action, "update");
	assert_int_equal(got.lease_fence, 5);
	store_pipeline_free(&got);
	cJSON_Delete(out);
	aws_call_free(&c);
	/* every pipeline record, read back through the scan */
	struct store_pipelines all;
	assert_int_equal(store_pipelines_scan(x->a, T, &all, &e), TP_OK);
	assert_int_equal(all.n, 1);
	assert_string_equal(all.v[0].name, "p");
	store_pipelines_free(&all);
}

static void lease_call(struct fx *x, int kind, const char *holder, long long token, int64_t exp, int64_t now,
		       int want_ok, long long *token_out)
{
	struct aws_call c;
	tp_err e;
	if (kind == 0)
		store_lease_grant_prepare(&c, T, "p", holder, exp, now);
	else if (kind == 1)
		store_lease_renew_prepare(&c, T, "p", holder, token, exp);
	else
		store_lease_release_prepare(&c, T, "p", holder, token);
	int rc = run(x->a, &c, &e);
	if (want_ok) {
		assert_int_equal(rc, TP_OK);
	} else {
		assert_true(rc < 0);
		assert_true(store_condition_failed(&e));
		assert_int_equal(e.status, 400);
	}
	if (token_out) {
		int64_t got_exp;
		store_lease_granted(&c, token_out, &got_exp);
		assert_int_equal(got_exp, exp);
	}
	aws_call_free(&c);
}

static void test_lease_conditions(void **state)
{
	struct fx *x = *state;
	long long t1 = 0, t2 = 0, t3 = 0;
	lease_call(x, 0, "A", 0, 1100, 1000, 1, &t1);    /* absent: granted, fence 1 */
	assert_int_equal(t1, 1);
	lease_call(x, 0, "B", 0, 1200, 1050, 0, NULL);   /* held by A, not expired */
	lease_call(x, 0, "A", 0, 1150, 1050, 1, &t2);    /* A again: holder = :h */
	assert_int_equal(t2, 2);
	lease_call(x, 1, "A", t2, 1300, 0, 1, NULL);     /* renew: holder and token ours */
	lease_call(x, 1, "A", t1, 1300, 0, 0, NULL);     /* an old token */
	lease_call(x, 1, "B", t2, 1300, 0, 0, NULL);     /* not the holder */
	lease_call(x, 0, "B", 0, 1500, 1301, 1, &t3);    /* expired: expires_at < :now */
	assert_int_equal(t3, 3);
	lease_call(x, 2, "A", t2, 0, 0, 0, NULL);        /* A lost it */
	lease_call(x, 2, "B", t3, 0, 0, 1, NULL);        /* released: holder removed */
	cJSON *item = get(x->a, "lease#p");
	assert_null(cJSON_GetObjectItem(item, "holder"));
	assert_int_equal(ddb_get_long(item, "expires_at", -1), 0);
	assert_int_equal(ddb_get_long(item, "fence", -1), 3);   /* the counter stays */
	cJSON_Delete(item);
	lease_call(x, 0, "C", 0, 100, 50, 1, &t1);       /* released: expired at 0 */
	assert_int_equal(t1, 4);
}

static void test_lease_through_core(void **state)
{
	struct fx *x = *state;
	struct app app;
	memset(&app, 0, sizeof app);
	app.aws = x->a;
	app.set.state_table = T;
	struct lease a, b;
	tp_err e;
	assert_int_equal(lease_acquire(&app, "pipe", "host-a", 60, &a, &e), TP_OK);
	assert_true(a.held);
	assert_int_equal(lease_acquire(&app, "pipe", "host-b", 60, &b, &e), TP_ECONFLICT);
	assert_string_equal(e.code, "LeaseHeld");
	lease_clear(&b, 1);
	/* past expiry and the skew margin (30 s by default): B takes it over */
	fake_advance_ms(x->f, (60 + 31) * 1000);
	assert_int_equal(lease_acquire(&app, "pipe", "host-b", 60, &b, &e), TP_OK);
	assert_true(b.token > a.token);
	assert_int_equal(lease_release(&app, &a, "host-a", &e), TP_ECONFLICT);  /* lost */
	assert_int_equal(lease_release(&app, &b, "host-b", &e), TP_OK);
	lease_clear(&a, 1);
	lease_clear(&b, 1);
}

static void test_rollout_conditions(void **state)
{
	struct fx *x = *state;
	tp_err e;
	struct store_rollout_head h = { .id = "b/k", .bucket = "b", .key = "k", .version = "v1", .sha256 = "s",
					.mode = "code", .holder = "A", .gen = 1, .targets = 3, .now = 100,
					.lease_until = 200 };
	cJSON *item = store_rollout_head_item(&h);
	assert_int_equal(store_rollout_head_put(x->a, T, item, 0, 0, &e), TP_OK);      /* ROLLOUT_NEW */
	assert_true(store_rollout_head_put(x->a, T, item, 0, 0, &e) < 0);               /* exists */
	assert_true(store_condition_failed(&e));
	cJSON_Delete(item);
	h.gen = 2;
	item = store_rollout_head_item(&h);
	assert_true(store_rollout_head_put(x->a, T, item, 1, 5, &e) < 0);               /* GEN: not 5 */
	assert_true(store_condition_failed(&e));
	assert_int_equal(store_rollout_head_put(x->a, T, item, 1, 1, &e), TP_OK);       /* GEN 1 -> 2 */
	cJSON_Delete(item);

	struct store_rollout_beat b = { .id = "b/k", .gen = 2, .holder = "B", .how = STORE_ROLLOUT_ACQUIRE,
					.status = "running", .now = 150, .lease_until = 250 };
	assert_true(store_rollout_beat(x->a, T, &b, &e) < 0);        /* TAKE: A holds until 200 */
	assert_true(store_condition_failed(&e));
	b.now = 201;
	assert_int_equal(store_rollout_beat(x->a, T, &b, &e), TP_OK); /* TAKE: #lu < :now */
	b.gen = 1;
	assert_true(store_rollout_beat(x->a, T, &b, &e) < 0);        /* TAKE: another generation */
	b.gen = 2;
	b.how = STORE_ROLLOUT_BEAT;
	b.wave = 1;
	assert_int_equal(store_rollout_beat(x->a, T, &b, &e), TP_OK); /* OURS */
	b.holder = "A";
	assert_true(store_rollout_beat(x->a, T, &b, &e) < 0);        /* OURS: not A's */
	assert_true(store_condition_failed(&e));
	b.holder = "B";
	b.how = STORE_ROLLOUT_RELEASE;
	b.status = "halted";
	b.error_code = "Boom";
	b.error_function = "f";
	assert_int_equal(store_rollout_beat(x->a, T, &b, &e), TP_OK); /* release: REMOVE #h */
	cJSON *head = NULL;
	assert_int_equal(store_rollout_head_get(x->a, T, "b/k", &head, &e), TP_OK);
	assert_null(cJSON_GetObjectItem(head, "holder"));
	assert_string_equal(ddb_get_str(head, "error_code", ""), "Boom");
	assert_int_equal(ddb_get_long(head, "wave", -1), 1);
	assert_int_equal(ddb_get_long(head, "lease_until", -1), 0);
	cJSON_Delete(head);
	b.error_code = NULL;   /* a release without a failure clears it */
	b.how = STORE_ROLLOUT_ACQUIRE;
	b.now = 300;
	b.lease_until = 400;
	assert_int_equal(store_rollout_beat(x->a, T, &b, &e), TP_OK); /* TAKE: attribute_not_exists(#h) */
	b.how = STORE_ROLLOUT_RELEASE;
	assert_int_equal(store_rollout_beat(x->a, T, &b, &e), TP_OK);
	assert_int_equal(store_rollout_head_get(x->a, T, "b/k", &head, &e), TP_OK);
	assert_null(cJSON_GetObjectItem(head, "error_code"));
	assert_null(cJSON_GetObjectItem(head, "error_function"));
	cJSON_Delete(head);

	/* ROLLOUT_FN: attempts = if_not_exists(attempts, :zero) + :one, never over a newer gen */
	struct aws_call c;
	struct store_rollout_fn fn = { .id = "b/k", .function = "f1", .pipeline = "p", .gen = 2, .version = "v1",
				       .status = "updating", .count_attempt = 1 };
	for (int i = 0; i < 3; i++) {
		store_rollout_fn_prepare(&c, T, &fn);
		assert_int_equal(run(x->a, &c, &e), TP_OK);
		aws_call_free(&c);
	}
	fn.gen = 1;
	store_rollout_fn_prepare(&c, T, &fn);
	assert_true(run(x->a, &c, &e) < 0);
	assert_true(store_condition_failed(&e));
	aws_call_free(&c);
	store_rollout_fn_get_prepare(&c, T, "b/k", "f1");
	assert_int_equal(run(x->a, &c, &e), TP_OK);
	cJSON *out = awsj_result(&c);
	assert_int_equal(ddb_get_long(cJSON_GetObjectItem(out, "Item"), "attempts", -1), 3);
	assert_int_equal(ddb_get_long(cJSON_GetObjectItem(out, "Item"), "gen", -1), 2);
	cJSON_Delete(out);
	aws_call_free(&c);
}

static void test_code_record_add_to_a_set(void **state)
{
	struct fx *x = *state;
	tp_err e;
	struct store_code c;
	assert_int_equal(store_code_reject(x->a, T, "b", "k", "v2", "v1", "sha1", &e), TP_OK);
	assert_int_equal(store_code_reject(x->a, T, "b", "k", "v3", NULL, NULL, &e), TP_OK);
	assert_int_equal(store_code_reject(x->a, T, "b", "k", "v2", NULL, NULL, &e), TP_OK);  /* once in a set */
	assert_int_equal(store_code_get(x->a, T, "b", "k", &c, &e), TP_OK);
	assert_int_equal(c.nrejected, 2);
	assert_true(store_code_is_rejected(&c, "v2") && store_code_is_rejected(&c, "v3"));
	assert_string_equal(c.good_version, "v1");
	store_code_free(&c);
	assert_int_equal(store_code_good(x->a, T, "b", "k", "v4", "sha4", &e), TP_OK);
	assert_int_equal(store_code_get(x->a, T, "b", "k", &c, &e), TP_OK);
	assert_string_equal(c.good_version, "v4");
	assert_int_equal(c.nrejected, 2);
	store_code_free(&c);
}

/* ---- updates and ReturnValues ---- */

/* The item's attribute name as compact JSON (the caller frees). */
static char *attr_json(const cJSON *item, const char *name)
{
	const cJSON *v = cJSON_GetObjectItem(item, name);
	return v ? cJSON_PrintUnformatted(v) : strdup("(none)");
}

static void expect_attr(struct aws *a, const char *pk, const char *name, const char *json)
{
	cJSON *item = get(a, pk);
	char *s = attr_json(item, name);
	if (strcmp(s, json) != 0)
		fail_msg("%s.%s is %s, not %s", pk, name, s, json);
	free(s);
	cJSON_Delete(item);
}

static void test_update_return_values(void **state)
{
	struct fx *x = *state;
	cJSON *out = NULL;
	tp_err e;
	/* budget_shared.c's two forms, UPDATED_NEW */
	const char *idle = "{'TableName':'" T "','Key':{'pk':{'S':'b'}},'UpdateExpression':'SET #t = :nd',"
			   "'ConditionExpression':'attribute_not_exists(#t) OR #t < :now',"
			   "'ExpressionAttributeNames':{'#t':'tat'},'ExpressionAttributeValues':{':nd':{'N':'1000'},"
			   "':now':{'N':'500'}},'ReturnValues':'UPDATED_NEW','ReturnValuesOnConditionCheckFailure':'ALL_OLD'}";
	assert_int_equal(ddb(x->a, "UpdateItem", idle, &out, &e), TP_OK);
	char *s = cJSON_PrintUnformatted(cJSON_GetObjectItem(out, "Attributes"));
	assert_string_equal(s, "{\"tat\":{\"N\":\"1000\"}}");   /* only what changed */
	free(s);
	cJSON_Delete(out);
	/* again: tat 1000 is not < 500: failed, and the item comes back */
	struct aws_call c;
	char *t = strdup(idle);
	for (char *p = t; *p; p++)
		if (*p == '\'')
			*p = '"';
	awsj_prepare(&c, SVC_DYNAMODB, "UpdateItem", cJSON_Parse(t));
	free(t);
	assert_true(aws_call_one(x->a, &c) < 0);
	assert_string_equal(c.err.code, "ConditionalCheckFailedException");
	cJSON *body = cJSON_ParseWithLength(c.resp.data, c.resp.len);
	assert_int_equal(ddb_get_long(cJSON_GetObjectItem(body, "Item"), "tat", -1), 1000);
	cJSON_Delete(body);
	aws_call_free(&c);
	/* the busy form through ddb_cond_update (rate_sched, group_sched): ALL_NEW, ALL_OLD on failure */
	const char *busy = "{'TableName':'" T "','Key':{'pk':{'S':'b'}},'UpdateExpression':'SET #t = #t + :d',"
			   "'ConditionExpression':'#t >= :now AND #t <= :h','ExpressionAttributeNames':{'#t':'tat'},"
			   "'ExpressionAttributeValues':{':d':{'N':'250'},':now':{'N':'900'},':h':{'N':'1100'}}}";
	for (int round = 0; round < 2; round++) {
		t = strdup(busy);
		for (char *p = t; *p; p++)
			if (*p == '\'')
				*p = '"';
		cJSON *item = NULL;
		int rc = ddb_cond_update(x->a, cJSON_Parse(t), &item, &e);
		free(t);
		assert_int_equal(rc, round == 0 ? 1 : 0);      /* 1250 > :h the second time */
		assert_int_equal(ddb_get_long(item, "tat", -1), 1250);
		assert_string_equal(ddb_get_str(item, "pk", ""), "b");
		cJSON_Delete(item);
	}
	/* ALL_OLD and UPDATED_OLD */
	assert_int_equal(ddb(x->a, "UpdateItem", "{'TableName':'" T "','Key':{'pk':{'S':'b'}},"
			     "'UpdateExpression':'SET v = :v','ExpressionAttributeValues':{':v':{'S':'x'}},"
			     "'ReturnValues':'ALL_OLD'}", &out, &e), TP_OK);
	s = cJSON_PrintUnformatted(cJSON_GetObjectItem(out, "Attributes"));
	assert_string_equal(s, "{\"pk\":{\"S\":\"b\"},\"tat\":{\"N\":\"1250\"}}");
	free(s);
	cJSON_Delete(out);
	assert_int_equal(ddb(x->a, "UpdateItem", "{'TableName':'" T "','Key':{'pk':{'S':'b'}},"
			     "'UpdateExpression':'SET v = :v REMOVE tat','ExpressionAttributeValues':{':v':{'S':'y'}},"
			     "'ReturnValues':'UPDATED_OLD'}", &out, &e), TP_OK);
	s = cJSON_PrintUnformatted(cJSON_GetObjectItem(out, "Attributes"));
	assert_string_equal(s, "{\"v\":{\"S\":\"x\"},\"tat\":{\"N\":\"1250\"}}");
	free(s);
	cJSON_Delete(out);
	/* ReturnValues NONE: no Attributes */
	assert_int_equal(ddb(x->a, "UpdateItem", "{'TableName':'" T "','Key':{'pk':{'S':'b'}},"
			     "'UpdateExpression':'SET v = :v','ExpressionAttributeValues':{':v':{'S':'z'}}}", &out, &e),
			 TP_OK);
	assert_null(cJSON_GetObjectItem(out, "Attributes"));
	cJSON_Delete(out);
	/* a DeleteItem under a condition (config_item_delete's attribute_exists) */
	expect_error(ddb(x->a, "DeleteItem", "{'TableName':'" T "','Key':{'pk':{'S':'none'}},"
			 "'ConditionExpression':'attribute_exists(pk)'}", NULL, &e), &e, "ConditionalCheckFailedException",
		     "conditional request failed");
	assert_int_equal(ddb(x->a, "DeleteItem", "{'TableName':'" T "','Key':{'pk':{'S':'b'}},"
			     "'ConditionExpression':'attribute_exists(pk)'}", NULL, &e), TP_OK);
	assert_int_equal(fake_ddb_item_count(x->f, T), 0);
	assert_int_equal(fake_ddb_heap_bytes(x->f), 0);
}

static void upd(struct fx *x, const char *pk, const char *expr, const char *names, const char *values)
{
	char req[2048];
	tp_err e;
	snprintf(req, sizeof req, "{'TableName':'" T "','Key':{'pk':{'S':'%s'}},'UpdateExpression':'%s'%s%s%s%s}", pk,
		 expr, names ? ",'ExpressionAttributeNames':" : "", names ? names : "",
		 values ? ",'ExpressionAttributeValues':" : "", values ? values : "");
	int rc = ddb(x->a, "UpdateItem", req, NULL, &e);
	if (rc != TP_OK)
		fail_msg("UpdateItem %s: %s: %s", expr, e.code, e.message);
}

static void test_update_expressions(void **state)
{
	struct fx *x = *state;
	tp_err e;
	/* if_not_exists + (store.c's fence and attempts) */
	for (int i = 0; i < 3; i++)
		upd(x, "u", "SET fence = if_not_exists(fence, :zero) + :one", NULL, "{':zero':{'N':'0'},':one':{'N':'1'}}");
	expect_attr(x->a, "u", "fence", "{\"N\":\"3\"}");
	/* a = b - :v, a - :v, decimals */
	upd(x, "u", "SET c = fence - :v, d = :f", NULL, "{':v':{'N':'10'},':f':{'N':'0.5'}}");
	expect_attr(x->a, "u", "c", "{\"N\":\"-7\"}");
	upd(x, "u", "SET d = d + :f", NULL, "{':f':{'N':'0.25'}}");
	expect_attr(x->a, "u", "d", "{\"N\":\"0.75\"}");
	/* integers past 2^53 stay exact */
	upd(x, "u", "SET big = :b", NULL, "{':b':{'N':'9007199254740993'}}");
	upd(x, "u", "SET big = big + :one", NULL, "{':one':{'N':'1'}}");
	expect_attr(x->a, "u", "big", "{\"N\":\"9007199254740994\"}");
	/* SET right-hand sides read the item as it was */
	upd(x, "u", "SET c = fence, fence = c", NULL, NULL);
	expect_attr(x->a, "u", "c", "{\"N\":\"3\"}");
	expect_attr(x->a, "u", "fence", "{\"N\":\"-7\"}");
	/* list_append, nested SET, list element REMOVE */
	upd(x, "u", "SET l = :l", NULL, "{':l':{'L':[{'S':'a'}]}}");
	upd(x, "u", "SET l = list_append(l, :m)", NULL, "{':m':{'L':[{'S':'b'},{'S':'c'}]}}");
	upd(x, "u", "SET l = list_append(:m, l)", NULL, "{':m':{'L':[{'S':'z'}]}}");
	expect_attr(x->a, "u", "l", "{\"L\":[{\"S\":\"z\"},{\"S\":\"a\"},{\"S\":\"b\"},{\"S\":\"c\"}]}");
	upd(x, "u", "REMOVE l[0], l[2]", NULL, NULL);
	expect_attr(x->a, "u", "l", "{\"L\":[{\"S\":\"a\"},{\"S\":\"c\"}]}");
	upd(x, "u", "SET m = :m", NULL, "{':m':{'M':{}}}");
	upd(x, "u", "SET m.#in = :v", "{'#in':'inner'}", "{':v':{'S':'deep'}}");
	expect_attr(x->a, "u", "m", "{\"M\":{\"inner\":{\"S\":\"deep\"}}}");
	/* ADD to numbers and sets, DELETE from a set, REMOVE */
	upd(x, "u", "ADD n :one, s :s", NULL, "{':one':{'N':'5'},':s':{'SS':['a','b']}}");
	upd(x, "u", "ADD n :one, s :s", NULL, "{':one':{'N':'-2'},':s':{'SS':['b','c']}}");
	expect_attr(x->a, "u", "n", "{\"N\":\"3\"}");
	expect_attr(x->a, "u", "s", "{\"SS\":[\"a\",\"b\",\"c\"]}");
	upd(x, "u", "DELETE s :s", NULL, "{':s':{'SS':['a','c','q']}}");
	expect_attr(x->a, "u", "s", "{\"SS\":[\"b\"]}");
	upd(x, "u", "DELETE s :s", NULL, "{':s':{'SS':['b']}}");
	expect_attr(x->a, "u", "s", "(none)");             /* an empty set is no attribute */
	upd(x, "u", "ADD ns :n", NULL, "{':n':{'NS':['1','2']}}");
	upd(x, "u", "ADD ns :n", NULL, "{':n':{'NS':['2.0','3']}}");
	expect_attr(x->a, "u", "ns", "{\"NS\":[\"1\",\"2\",\"3\"]}");
	upd(x, "u", "REMOVE c, d, big, nothing", NULL, NULL);
	expect_attr(x->a, "u", "c", "(none)");
	/* errors at run time: nothing written */
	expect_error(ddb(x->a, "UpdateItem", "{'TableName':'" T "','Key':{'pk':{'S':'u'}},"
			 "'UpdateExpression':'SET x = gone + :one','ExpressionAttributeValues':{':one':{'N':'1'}}}",
			 NULL, &e), &e, "ValidationException", "does not exist in the item");
	expect_error(ddb(x->a, "UpdateItem", "{'TableName':'" T "','Key':{'pk':{'S':'u'}},"
			 "'UpdateExpression':'SET x = l + :one','ExpressionAttributeValues':{':one':{'N':'1'}}}",
			 NULL, &e), &e, "ValidationException", "incorrect data type");
	expect_error(ddb(x->a, "UpdateItem", "{'TableName':'" T "','Key':{'pk':{'S':'u'}},"
			 "'UpdateExpression':'ADD l :one','ExpressionAttributeValues':{':one':{'N':'1'}}}",
			 NULL, &e), &e, "ValidationException", "incorrect data type");
	expect_error(ddb(x->a, "UpdateItem", "{'TableName':'" T "','Key':{'pk':{'S':'u'}},"
			 "'UpdateExpression':'SET pk = :v','ExpressionAttributeValues':{':v':{'S':'w'}}}",
			 NULL, &e), &e, "ValidationException", "part of the key");
	expect_error(ddb(x->a, "UpdateItem", "{'TableName':'" T "','Key':{'pk':{'S':'u'}},"
			 "'UpdateExpression':'SET nope.x = :v','ExpressionAttributeValues':{':v':{'S':'w'}}}",
			 NULL, &e), &e, "ValidationException", "invalid for update");
	expect_attr(x->a, "u", "x", "(none)");
	expect_attr(x->a, "u", "n", "{\"N\":\"3\"}");
}

/* ---- conditions: the language ---- */

static int cond(struct fx *x, const char *pk, const char *expr, const char *names, const char *values, tp_err *e)
{
	char req[2048];
	snprintf(req, sizeof req, "{'TableName':'" T "','Item':{'pk':{'S':'%s'},'touched':{'BOOL':true}},"
		 "'ConditionExpression':'%s'%s%s%s%s}", pk, expr,
		 names ? ",'ExpressionAttributeNames':" : "", names ? names : "",
		 values ? ",'ExpressionAttributeValues':" : "", values ? values : "");
	return ddb(x->a, "PutItem", req, NULL, e);
}

static void test_condition_language(void **state)
{
	struct fx *x = *state;
	tp_err e;
	assert_int_equal(ddb(x->a, "PutItem", "{'TableName':'" T "','Item':{'pk':{'S':'c'},'n':{'N':'10'},"
			     "'s':{'S':'hello'},'ss':{'SS':['x','y']},'l':{'L':[{'N':'1'},{'S':'two'}]},"
			     "'m':{'M':{'k':{'S':'v'}}}}}", NULL, &e), TP_OK);
	const struct { const char *expr, *values; int holds; } cases[] = {
		{ "n > :nine", "{':nine':{'N':'9'}}", 1 },             /* numbers by value, not text */
		{ "n < :nine", "{':nine':{'N':'9'}}", 0 },
		{ "n < :ten OR n > :ten", "{':ten':{'N':'10'}}", 0 },  /* the bounds themselves */
		{ "n <= :ten AND n >= :ten", "{':ten':{'N':'10'}}", 1 },
		{ "n = :ten", "{':ten':{'N':'10.0'}}", 1 },
		{ "n <> :ten", "{':ten':{'N':'10'}}", 0 },
		{ "absent <> :ten", "{':ten':{'N':'10'}}", 1 },
		{ "absent = :ten OR absent < :ten", "{':ten':{'N':'10'}}", 0 },
		{ "s > :ten", "{':ten':{'N':'10'}}", 0 },              /* other types: false */
		{ "n BETWEEN :a AND :b", "{':a':{'N':'10'},':b':{'N':'11'}}", 1 },
		{ "n BETWEEN :a AND :b", "{':a':{'N':'11'},':b':{'N':'12'}}", 0 },
		{ "s IN (:a, :b)", "{':a':{'S':'x'},':b':{'S':'hello'}}", 1 },
		{ "s IN (:a)", "{':a':{'S':'x'}}", 0 },
		{ "begins_with(s, :p)", "{':p':{'S':'hel'}}", 1 },
		{ "begins_with(s, :p)", "{':p':{'S':'el'}}", 0 },
		{ "contains(s, :p)", "{':p':{'S':'ll'}}", 1 },
		{ "contains(ss, :p)", "{':p':{'S':'y'}}", 1 },
		{ "contains(ss, :p)", "{':p':{'S':'z'}}", 0 },
		{ "contains(l, :p)", "{':p':{'S':'two'}}", 1 },
		{ "size(s) = :five AND size(ss) < :five", "{':five':{'N':'5'}}", 1 },
		{ "attribute_type(m, :t)", "{':t':{'S':'M'}}", 1 },
		{ "m.k = :v AND l[1] = :w", "{':v':{'S':'v'},':w':{'S':'two'}}", 1 },
		{ "NOT (n = :ten) OR (s = :h AND NOT attribute_exists(nope))", "{':ten':{'N':'10'},':h':{'S':'hello'}}", 1 },
		{ "n = :ten AND s = :x OR s = :h", "{':ten':{'N':'10'},':x':{'S':'x'},':h':{'S':'hello'}}", 1 },
		{ "n = :ten AND (s = :x OR s = :y)", "{':ten':{'N':'10'},':x':{'S':'x'},':y':{'S':'y'}}", 0 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		/* each on a fresh copy of the item, so a write does not change the next case */
		assert_int_equal(ddb(x->a, "PutItem", "{'TableName':'" T "','Item':{'pk':{'S':'c'},'n':{'N':'10'},"
				     "'s':{'S':'hello'},'ss':{'SS':['x','y']},'l':{'L':[{'N':'1'},{'S':'two'}]},"
				     "'m':{'M':{'k':{'S':'v'}}}}}", NULL, &e), TP_OK);
		int rc = cond(x, "c", cases[i].expr, NULL, cases[i].values, &e);
		if (cases[i].holds != (rc == TP_OK))
			fail_msg("%s: expected %s, got %s %s", cases[i].expr, cases[i].holds ? "true" : "false",
				 rc == TP_OK ? "true" : e.code, e.message);
		if (!cases[i].holds)
			assert_string_equal(e.code, "ConditionalCheckFailedException");
	}
}

static void test_bad_expressions_are_errors(void **state)
{
	struct fx *x = *state;
	tp_err e;
	const struct { const char *expr, *names, *values, *says; } cases[] = {
		{ "n = :missing", NULL, "{':v':{'N':'1'}}", ":missing" },
		{ "#nope = :v", NULL, "{':v':{'N':'1'}}", "#nope" },
		{ "n = :v", NULL, "{':v':{'N':'1'},':extra':{'N':'2'}}", ":extra" },
		{ "n = :v", "{'#unused':'x'}", "{':v':{'N':'1'}}", "#unused" },
		{ "n == :v", NULL, "{':v':{'N':'1'}}", "Syntax error" },
		{ "n = :v AND", NULL, "{':v':{'N':'1'}}", "<EOF>" },
		{ "n ~ :v", NULL, "{':v':{'N':'1'}}", "token: \\\"~\\\"" },
		{ "n", NULL, NULL, "Syntax error" },
		{ "status = :v", NULL, "{':v':{'N':'1'}}", "reserved keyword: status" },
		{ "frobnicate(n)", NULL, NULL, "Invalid function name; function: frobnicate" },
		{ "n BETWEEN :b AND :a", NULL, "{':a':{'N':'1'},':b':{'N':'2'}}", "BETWEEN" },
		{ "n < :m", NULL, "{':m':{'M':{}}}", "operand type: M" },
		{ "attribute_type(n, :t)", NULL, "{':t':{'S':'Q'}}", "type: Q" },
		{ "", NULL, NULL, "can not be empty" },
		{ "(n = :v", NULL, "{':v':{'N':'1'}}", "<EOF>" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char says[128];
		snprintf(says, sizeof says, "%s", cases[i].says);
		/* the test's own escapes: \" in the table reads as " */
		for (char *p = says; (p = strstr(p, "\\\""));)
			memmove(p, p + 1, strlen(p));
		int rc = cond(x, "bad", cases[i].expr, cases[i].names, cases[i].values, &e);
		if (rc == TP_OK || strcmp(e.code, "ValidationException") != 0 || !strstr(e.message, says))
			fail_msg("%s: expected a ValidationException naming %s, got %s %s", cases[i].expr, says,
				 rc == TP_OK ? "success" : e.code, e.message);
	}
	assert_null(get(x->a, "bad"));   /* never written */
	/* update expressions */
	const struct { const char *expr, *values, *says; } ups[] = {
		{ "SET a = :v, a = :w", "{':v':{'N':'1'},':w':{'N':'2'}}", "overlap" },
		{ "SET a = :v SET b = :w", "{':v':{'N':'1'},':w':{'N':'2'}}", "only be used once" },
		{ "ADD a :v", "{':v':{'S':'x'}}", "operand type: S" },
		{ "SET a = size(b)", NULL, "size" },
		{ "PUT a = :v", "{':v':{'N':'1'}}", "Syntax error" },
		{ "SET a :v", "{':v':{'N':'1'}}", "Syntax error" },
	};
	for (size_t i = 0; i < sizeof ups / sizeof ups[0]; i++) {
		char req[1024];
		snprintf(req, sizeof req, "{'TableName':'" T "','Key':{'pk':{'S':'bad'}},'UpdateExpression':'%s'%s%s}",
			 ups[i].expr, ups[i].values ? ",'ExpressionAttributeValues':" : "", ups[i].values ? ups[i].values : "");
		int rc = ddb(x->a, "UpdateItem", req, NULL, &e);
		if (rc == TP_OK || strcmp(e.code, "ValidationException") != 0 || !strstr(e.message, ups[i].says))
			fail_msg("%s: expected a ValidationException naming %s, got %s %s", ups[i].expr, ups[i].says,
				 rc == TP_OK ? "success" : e.code, e.message);
	}
	assert_null(get(x->a, "bad"));
	/* 4 KB at most (and no parser recursion without bound) */
	char *deep = malloc(20000);
	memset(deep, '(', 10000);
	strcpy(deep + 10000, "n = :v");
	cJSON *in = cJSON_CreateObject();
	cJSON_AddStringToObject(in, "TableName", T);
	cJSON_AddItemToObject(in, "Item", cJSON_Parse("{\"pk\":{\"S\":\"bad\"}}"));
	cJSON_AddStringToObject(in, "ConditionExpression", deep);
	ddb_put_long(cJSON_AddObjectToObject(in, "ExpressionAttributeValues"), ":v", 1);
	free(deep);
	assert_true(awsj_call(x->a, SVC_DYNAMODB, "PutItem", in, NULL, &e) < 0);
	cJSON_Delete(in);
	assert_string_equal(e.code, "ValidationException");
	assert_non_null(strstr(e.message, "maximum allowed size"));
	/* values without an expression */
	expect_error(ddb(x->a, "PutItem", "{'TableName':'" T "','Item':{'pk':{'S':'bad'}},"
			 "'ExpressionAttributeValues':{':v':{'N':'1'}}}", NULL, &e), &e, "ValidationException",
		     "can only be specified when using expressions");
	assert_null(get(x->a, "bad"));
}

/* ---- Scan and Query ---- */

static void put_n(struct fx *x, int n, size_t pad, const char *prefix)
{
	char *fill = malloc(pad + 1);
	memset(fill, 'x', pad);
	fill[pad] = 0;
	for (int i = 0; i < n; i++) {
		cJSON *in = cJSON_CreateObject(), *item = cJSON_AddObjectToObject(in, "Item");
		cJSON_AddStringToObject(in, "TableName", T);
		char pk[64];
		snprintf(pk, sizeof pk, "%s%05d", prefix, i);
		ddb_put_str(item, "pk", pk);
		ddb_put_long(item, "i", i);
		ddb_put_str(item, "pad", fill);
		tp_err e;
		assert_int_equal(awsj_call(x->a, SVC_DYNAMODB, "PutItem", in, NULL, &e), TP_OK);
		cJSON_Delete(in);
	}
	free(fill);
}

static void test_scan_pages_by_size_and_limit(void **state)
{
	struct fx *x = *state;
	tp_err e;
	put_n(x, 100, 30 * 1024, "big#");      /* ~3 MB: 3 pages and a bit */
	put_n(x, 50, 10, "small#");
	cJSON *all = cJSON_CreateArray();
	long before = fake_count(x->f, "dynamodb", "Scan");
	assert_int_equal(ddb_scan_all(x->a, T, NULL, all, &e), TP_OK);
	assert_int_equal(cJSON_GetArraySize(all), 150);
	long pages = fake_count(x->f, "dynamodb", "Scan") - before;
	assert_true(pages >= 3 && pages <= 5);
	/* every item once */
	char seen[150] = { 0 };
	cJSON *it;
	cJSON_ArrayForEach(it, all) {
		const char *pk = ddb_get_str(it, "pk", "");
		int i = (int)ddb_get_long(it, "i", -1);
		assert_true(i >= 0 && i < 100);
		int k = strncmp(pk, "big#", 4) == 0 ? i : 100 + i;
		assert_int_equal(seen[k], 0);
		seen[k] = 1;
	}
	cJSON_Delete(all);
	/* a filter: begins_with (ddb_scan_all's prefix), and a page may hold none */
	all = cJSON_CreateArray();
	assert_int_equal(ddb_scan_all(x->a, T, "small#", all, &e), TP_OK);
	assert_int_equal(cJSON_GetArraySize(all), 50);
	cJSON_Delete(all);
	all = cJSON_CreateArray();
	cJSON *vals = cJSON_CreateObject();
	ddb_put_long(vals, ":lo", 10);
	ddb_put_long(vals, ":hi", 19);
	assert_int_equal(ddb_scan_where(x->a, T, "i BETWEEN :lo AND :hi AND begins_with(pk, :p)", NULL, all, &e) < 0, 1);
	ddb_put_str(vals, ":p", "small#");
	assert_int_equal(ddb_scan_where(x->a, T, "i BETWEEN :lo AND :hi AND begins_with(pk, :p)", vals, all, &e), TP_OK);
	assert_int_equal(cJSON_GetArraySize(all), 10);
	cJSON_Delete(vals);
	cJSON_Delete(all);
	/* Limit pages: the same order, page after page; Select COUNT */
	cJSON *start = NULL, *out = NULL;
	long total = 0, calls = 0;
	char last[64] = "";
	do {
		cJSON *in = cJSON_CreateObject();
		cJSON_AddStringToObject(in, "TableName", T);
		cJSON_AddNumberToObject(in, "Limit", 7);
		cJSON_AddStringToObject(in, "ProjectionExpression", "pk");
		if (start)
			cJSON_AddItemToObject(in, "ExclusiveStartKey", start);
		assert_int_equal(awsj_call(x->a, SVC_DYNAMODB, "Scan", in, &out, &e), TP_OK);
		cJSON_Delete(in);
		cJSON *items = cJSON_GetObjectItem(out, "Items");
		assert_true(cJSON_GetArraySize(items) <= 7);
		cJSON_ArrayForEach(it, items) {
			assert_null(cJSON_GetObjectItem(it, "pad"));   /* projected */
			snprintf(last, sizeof last, "%s", ddb_get_str(it, "pk", ""));
		}
		total += cJSON_GetArraySize(items);
		calls++;
		start = cJSON_DetachItemFromObject(out, "LastEvaluatedKey");
		if (start)
			assert_string_equal(ddb_get_str(start, "pk", ""), last);
		cJSON_Delete(out);
	} while (start);
	assert_int_equal(total, 150);
	assert_int_equal(calls, 22);      /* 150 / 7: 21 full pages and a last of 3 */
	/* Select COUNT with a filter: counted page by page; Limit 1000 does
	 * not lift the 1 MB a page reads */
	long count = 0, scanned = 0;
	calls = 0;
	do {
		cJSON *in = cJSON_Parse("{\"TableName\":\"" T "\",\"Select\":\"COUNT\",\"FilterExpression\":\"i < :five\","
					"\"ExpressionAttributeValues\":{\":five\":{\"N\":\"5\"}},\"Limit\":1000}");
		if (start)
			cJSON_AddItemToObject(in, "ExclusiveStartKey", start);
		assert_int_equal(awsj_call(x->a, SVC_DYNAMODB, "Scan", in, &out, &e), TP_OK);
		cJSON_Delete(in);
		assert_null(cJSON_GetObjectItem(out, "Items"));
		count += cJSON_GetObjectItem(out, "Count")->valueint;
		scanned += cJSON_GetObjectItem(out, "ScannedCount")->valueint;
		assert_true(cJSON_GetObjectItem(out, "ScannedCount")->valueint < 1000);
		start = cJSON_DetachItemFromObject(out, "LastEvaluatedKey");
		cJSON_Delete(out);
		calls++;
	} while (start);
	assert_int_equal(count, 10);
	assert_int_equal(scanned, 150);
	assert_true(calls >= 3);
	expect_error(ddb(x->a, "Scan", "{'TableName':'" T "','ExclusiveStartKey':{'nope':{'S':'x'}}}", NULL, &e), &e,
		     "ValidationException", "starting key");
	expect_error(ddb(x->a, "Scan", "{'TableName':'" T "','Limit':0}", NULL, &e), &e, "ValidationException", "limit");
	expect_error(ddb(x->a, "Scan", "{'TableName':'" T "','Segment':0,'TotalSegments':2}", NULL, &e), &e,
		     "ValidationException", "Segment");
}

static void test_query_in_range_key_order(void **state)
{
	struct fx *x = *state;
	tp_err e;
	cJSON *out = NULL;
	assert_int_equal(ddb(x->a, "CreateTable",
			     "{'TableName':'q','KeySchema':[{'AttributeName':'h','KeyType':'HASH'},"
			     "{'AttributeName':'r','KeyType':'RANGE'}],'AttributeDefinitions':["
			     "{'AttributeName':'h','AttributeType':'S'},{'AttributeName':'r','AttributeType':'N'}],"
			     "'BillingMode':'PAY_PER_REQUEST'}", NULL, &e), TP_OK);
	/* put in a scrambled order; numbers sort by value (2 < 10) */
	const int rs[] = { 10, 2, 33, 7, 1, 25, 4 };
	for (int h = 0; h < 3; h++)
		for (size_t i = 0; i < sizeof rs / sizeof rs[0]; i++) {
			char req[256];
			snprintf(req, sizeof req, "{'TableName':'q','Item':{'h':{'S':'h%d'},'r':{'N':'%d'}}}", h, rs[i]);
			assert_int_equal(ddb(x->a, "PutItem", req, NULL, &e), TP_OK);
		}
	assert_int_equal(fake_ddb_item_count(x->f, "q"), 21);
	assert_int_equal(ddb(x->a, "Query", "{'TableName':'q','KeyConditionExpression':'h = :h',"
			     "'ExpressionAttributeValues':{':h':{'S':'h1'}}}", &out, &e), TP_OK);
	cJSON *it;
	char got[128] = "";
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(out, "Items"))
		snprintf(got + strlen(got), sizeof got - strlen(got), "%ld ", ddb_get_long(it, "r", -1));
	assert_string_equal(got, "1 2 4 7 10 25 33 ");
	assert_null(cJSON_GetObjectItem(out, "LastEvaluatedKey"));
	cJSON_Delete(out);
	/* backwards, a range condition, pages of 2 */
	cJSON *start = NULL;
	got[0] = 0;
	do {
		cJSON *in = cJSON_Parse("{\"TableName\":\"q\",\"KeyConditionExpression\":\"#h = :h AND r BETWEEN :a AND :b\","
					"\"ExpressionAttributeNames\":{\"#h\":\"h\"},\"ExpressionAttributeValues\":"
					"{\":h\":{\"S\":\"h2\"},\":a\":{\"N\":\"2\"},\":b\":{\"N\":\"25\"}},"
					"\"ScanIndexForward\":false,\"Limit\":2}");
		if (start)
			cJSON_AddItemToObject(in, "ExclusiveStartKey", start);
		assert_int_equal(awsj_call(x->a, SVC_DYNAMODB, "Query", in, &out, &e), TP_OK);
		cJSON_Delete(in);
		cJSON_ArrayForEach(it, cJSON_GetObjectItem(out, "Items")) {
			assert_string_equal(ddb_get_str(it, "h", ""), "h2");
			snprintf(got + strlen(got), sizeof got - strlen(got), "%ld ", ddb_get_long(it, "r", -1));
		}
		start = cJSON_DetachItemFromObject(out, "LastEvaluatedKey");
		cJSON_Delete(out);
	} while (start);
	assert_string_equal(got, "25 10 7 4 2 ");
	/* a key condition that is not one */
	expect_error(ddb(x->a, "Query", "{'TableName':'q','KeyConditionExpression':'r = :r',"
			 "'ExpressionAttributeValues':{':r':{'N':'1'}}}", NULL, &e), &e, "ValidationException", "h = :value");
	expect_error(ddb(x->a, "Query", "{'TableName':'q','KeyConditionExpression':'h = :h OR r = :r',"
			 "'ExpressionAttributeValues':{':h':{'S':'h1'},':r':{'N':'1'}}}", NULL, &e), &e,
		     "ValidationException", "KeyConditionExpression");
	/* GetItem needs both keys */
	expect_error(ddb(x->a, "GetItem", "{'TableName':'q','Key':{'h':{'S':'h1'}}}", NULL, &e), &e,
		     "ValidationException", "does not match the schema");
	assert_int_equal(ddb(x->a, "GetItem", "{'TableName':'q','Key':{'h':{'S':'h1'},'r':{'N':'07.0'}}}", &out, &e),
			 TP_OK);
	assert_int_equal(ddb_get_long(cJSON_GetObjectItem(out, "Item"), "r", -1), 7);
	cJSON_Delete(out);
}

/* The pks of a full scan, in order, as one string. */
static char *scan_order(struct aws *a)
{
	cJSON *all = cJSON_CreateArray(), *it;
	tp_err e;
	assert_int_equal(ddb_scan_all(a, T, NULL, all, &e), TP_OK);
	buf b = { 0 };
	cJSON_ArrayForEach(it, all)
		buf_addf(&b, "%s ", ddb_get_str(it, "pk", "?"));
	cJSON_Delete(all);
	return buf_steal(&b);
}

static void test_many_items_deletes_and_a_stable_order(void **state)
{
	struct fx *x = *state;
	tp_err e;
	enum { N = 2000 };
	static char live[N];
	memset(live, 0, sizeof live);
	uint64_t r = 12345;
	/* writes and deletes in a random order, checked against a plain array */
	for (int step = 0; step < 2 * N; step++) {
		r = r * 6364136223846793005ULL + 1442695040888963407ULL;
		int k = (int)((r >> 33) % N), del = (r >> 20) % 3 == 0;
		char req[160];
		snprintf(req, sizeof req, "{'TableName':'" T "','%s':{'pk':{'S':'k%04d'}%s}}", del ? "Key" : "Item", k,
			 del ? "" : ",'v':{'N':'1'}");
		assert_int_equal(ddb(x->a, del ? "DeleteItem" : "PutItem", req, NULL, &e), TP_OK);
		live[k] = !del;
	}
	long n = 0;
	for (int k = 0; k < N; k++)
		n += live[k];
	assert_int_equal(fake_ddb_item_count(x->f, T), n);
	for (int k = 0; k < N; k += 97) {
		char pk[16];
		snprintf(pk, sizeof pk, "k%04d", k);
		cJSON *item = get(x->a, pk);
		assert_int_equal(item != NULL, live[k]);
		cJSON_Delete(item);
	}
	/* the heap it holds: a node and a text an item, and nothing once they are gone */
	long long heap = fake_ddb_heap_bytes(x->f);
	assert_true(heap > n * 40 && heap < n * 400);
	char *first = scan_order(x->a), *again = scan_order(x->a);
	assert_string_equal(first, again);     /* Scan's order is stable */
	long words = 0;
	for (const char *p = first; *p; p++)
		words += *p == ' ';
	assert_int_equal(words, n);
	/* and the same whatever order the items were written in */
	struct fake_options o = { .latency_ms = 5 };
	struct fake *f2 = fake_new(&o);   /* its clock is not installed: the fixture's stays */
	struct aws *a2 = client(f2);
	assert_int_equal(fake_ddb_create_table(f2, T, "pk", NULL), 0);
	for (int k = N - 1; k >= 0; k--)
		if (live[k]) {
			char req[128];
			snprintf(req, sizeof req, "{'TableName':'" T "','Item':{'pk':{'S':'k%04d'}}}", k);
			assert_int_equal(ddb(a2, "PutItem", req, NULL, &e), TP_OK);
		}
	char *other = scan_order(a2);
	assert_string_equal(first, other);
	/* not sorted by key: DynamoDB's order is the partition key's hash */
	assert_true(strncmp(first, "k0000 ", 6) != 0 || strncmp(first + 6, "k0001 ", 6) != 0);
	free(first);
	free(again);
	free(other);
	aws_free(a2);
	fake_free(f2);
	/* an item over 400 KB */
	char *big = malloc(410 * 1024 + 200);
	int len = snprintf(big, 200, "{\"TableName\":\"" T "\",\"Item\":{\"pk\":{\"S\":\"big\"},\"x\":{\"S\":\"");
	memset(big + len, 'x', 410 * 1024);
	strcpy(big + len + 410 * 1024, "\"}}}");
	cJSON *in = cJSON_Parse(big);
	free(big);
	assert_true(awsj_call(x->a, SVC_DYNAMODB, "PutItem", in, NULL, &e) < 0);
	cJSON_Delete(in);
	assert_string_equal(e.code, "ValidationException");
	assert_non_null(strstr(e.message, "Item size has exceeded the maximum allowed size"));
}

/* ---- streams ---- */

static cJSON *streams(struct fx *x, const char *op, cJSON *in, tp_err *e)
{
	cJSON *out = NULL;
	memset(e, 0, sizeof *e);
	int rc = awsj_call(x->a, SVC_STREAMS, op, in, &out, e);
	cJSON_Delete(in);
	if (rc < 0) {
		cJSON_Delete(out);
		return NULL;
	}
	return out;
}

static char *iterator_at(struct fx *x, const char *arn, const char *shard, const char *type, const char *seq,
			 tp_err *e)
{
	cJSON *in = cJSON_CreateObject();
	cJSON_AddStringToObject(in, "StreamArn", arn);
	cJSON_AddStringToObject(in, "ShardId", shard);
	cJSON_AddStringToObject(in, "ShardIteratorType", type);
	if (seq)
		cJSON_AddStringToObject(in, "SequenceNumber", seq);
	cJSON *out = streams(x, "GetShardIterator", in, e);
	char *it = out ? strdup(cJSON_GetStringValue(cJSON_GetObjectItem(out, "ShardIterator"))) : NULL;
	cJSON_Delete(out);
	return it;
}

/* "INSERT a, MODIFY a, ..." of the records from it; *next the next iterator. */
static void read_records(struct fx *x, const char *it, char *got, size_t len, char **next, char *last_seq)
{
	tp_err e;
	cJSON *in = cJSON_CreateObject();
	cJSON_AddStringToObject(in, "ShardIterator", it);
	cJSON *out = streams(x, "GetRecords", in, &e);
	if (!out)
		fail_msg("GetRecords: %s: %s", e.code, e.message);
	got[0] = 0;
	cJSON *r;
	cJSON_ArrayForEach(r, cJSON_GetObjectItem(out, "Records")) {
		cJSON *d = cJSON_GetObjectItem(r, "dynamodb");
		snprintf(got + strlen(got), len - strlen(got), "%s%s %s%s%s", got[0] ? ", " : "",
			 cJSON_GetStringValue(cJSON_GetObjectItem(r, "eventName")),
			 ddb_get_str(cJSON_GetObjectItem(d, "Keys"), "pk", "?"),
			 cJSON_GetObjectItem(d, "NewImage") ? "+new" : "", cJSON_GetObjectItem(d, "OldImage") ? "+old" : "");
		snprintf(last_seq, 32, "%s", cJSON_GetStringValue(cJSON_GetObjectItem(d, "SequenceNumber")));
	}
	const char *n = cJSON_GetStringValue(cJSON_GetObjectItem(out, "NextShardIterator"));
	*next = n ? strdup(n) : NULL;
	cJSON_Delete(out);
}

static void test_stream_records_changes(void **state)
{
	struct fx *x = *state;
	tp_err e;
	cJSON *out = NULL;
	assert_int_equal(ddb(x->a, "UpdateTable", "{'TableName':'" T "','StreamSpecification':{'StreamEnabled':true,"
			     "'StreamViewType':'NEW_AND_OLD_IMAGES'}}", NULL, &e), TP_OK);
	expect_error(ddb(x->a, "UpdateTable", "{'TableName':'" T "','StreamSpecification':{'StreamEnabled':true,"
			 "'StreamViewType':'NEW_AND_OLD_IMAGES'}}", NULL, &e), &e, "ValidationException", "already");
	assert_int_equal(ddb(x->a, "DescribeTable", "{'TableName':'" T "'}", &out, &e), TP_OK);
	char arn[256];
	snprintf(arn, sizeof arn, "%s", cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(out, "Table"),
										  "LatestStreamArn")));
	cJSON_Delete(out);
	assert_int_equal(ddb(x->a, "PutItem", "{'TableName':'" T "','Item':{'pk':{'S':'a'},'v':{'N':'1'}}}", NULL, &e), TP_OK);
	assert_int_equal(ddb(x->a, "PutItem", "{'TableName':'" T "','Item':{'pk':{'S':'a'},'v':{'N':'1.0'}}}", NULL, &e),
			 TP_OK);   /* the same item: no record */
	assert_int_equal(ddb(x->a, "UpdateItem", "{'TableName':'" T "','Key':{'pk':{'S':'a'}},'UpdateExpression':"
			     "'ADD v :one','ExpressionAttributeValues':{':one':{'N':'1'}}}", NULL, &e), TP_OK);
	assert_int_equal(ddb(x->a, "DeleteItem", "{'TableName':'" T "','Key':{'pk':{'S':'a'}}}", NULL, &e), TP_OK);
	assert_int_equal(ddb(x->a, "DeleteItem", "{'TableName':'" T "','Key':{'pk':{'S':'a'}}}", NULL, &e), TP_OK);
	/* DescribeStream: one open shard */
	cJSON *in = cJSON_CreateObject();
	cJSON_AddStringToObject(in, "StreamArn", arn);
	out = streams(x, "DescribeStream", in, &e);
	assert_non_null(out);
	cJSON *d = cJSON_GetObjectItem(out, "StreamDescription");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(d, "StreamStatus")), "ENABLED");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(d, "Shards")), 1);
	cJSON *sh = cJSON_GetArrayItem(cJSON_GetObjectItem(d, "Shards"), 0);
	char shard[128];
	snprintf(shard, sizeof shard, "%s", cJSON_GetStringValue(cJSON_GetObjectItem(sh, "ShardId")));
	assert_null(cJSON_GetObjectItem(cJSON_GetObjectItem(sh, "SequenceNumberRange"), "EndingSequenceNumber"));
	cJSON_Delete(out);
	/* from the start: INSERT, MODIFY, REMOVE */
	char got[512], seq[32] = "", first_seq[32];
	char *it = iterator_at(x, arn, shard, "TRIM_HORIZON", NULL, &e), *next = NULL;
	assert_non_null(it);
	read_records(x, it, got, sizeof got, &next, seq);
	assert_string_equal(got, "INSERT a+new, MODIFY a+new+old, REMOVE a+old");
	free(it);
	/* nothing new yet; then a write shows up on the same iterator chain */
	read_records(x, next, got, sizeof got, &it, seq);
	assert_string_equal(got, "");
	free(next);
	assert_int_equal(ddb(x->a, "PutItem", "{'TableName':'" T "','Item':{'pk':{'S':'b'}}}", NULL, &e), TP_OK);
	read_records(x, it, got, sizeof got, &next, seq);
	assert_string_equal(got, "INSERT b+new");
	free(it);
	free(next);
	/* AT / AFTER a sequence number (watch's checkpoint), LATEST */
	snprintf(first_seq, sizeof first_seq, "%s", seq);
	it = iterator_at(x, arn, shard, "AT_SEQUENCE_NUMBER", first_seq, &e);
	read_records(x, it, got, sizeof got, &next, seq);
	assert_string_equal(got, "INSERT b+new");
	free(it);
	free(next);
	it = iterator_at(x, arn, shard, "AFTER_SEQUENCE_NUMBER", first_seq, &e);
	read_records(x, it, got, sizeof got, &next, seq);
	assert_string_equal(got, "");
	free(it);
	free(next);
	assert_null(iterator_at(x, arn, shard, "AT_SEQUENCE_NUMBER", "12345", &e));
	assert_string_equal(e.code, "ValidationException");
	assert_null(iterator_at(x, arn, "shardId-nope", "LATEST", NULL, &e));
	assert_string_equal(e.code, "ResourceNotFoundException");
	it = iterator_at(x, arn, shard, "LATEST", NULL, &e);
	/* an iterator lives 15 minutes */
	fake_advance_ms(x->f, 16 * 60 * 1000);
	in = cJSON_CreateObject();
	cJSON_AddStringToObject(in, "ShardIterator", it);
	assert_null(streams(x, "GetRecords", in, &e));
	assert_string_equal(e.code, "ExpiredIteratorException");
	free(it);
	/* records live a day */
	fake_advance_ms(x->f, 25LL * 3600 * 1000);
	assert_null(iterator_at(x, arn, shard, "AT_SEQUENCE_NUMBER", first_seq, &e));
	assert_string_equal(e.code, "TrimmedDataAccessException");
	/* disabled: the shard closes; read to its end, no next iterator */
	assert_int_equal(ddb(x->a, "PutItem", "{'TableName':'" T "','Item':{'pk':{'S':'c'}}}", NULL, &e), TP_OK);
	it = iterator_at(x, arn, shard, "TRIM_HORIZON", NULL, &e);
	assert_int_equal(ddb(x->a, "UpdateTable", "{'TableName':'" T "','StreamSpecification':{'StreamEnabled':false}}",
			     NULL, &e), TP_OK);
	assert_int_equal(ddb(x->a, "PutItem", "{'TableName':'" T "','Item':{'pk':{'S':'d'}}}", NULL, &e), TP_OK);
	read_records(x, it, got, sizeof got, &next, seq);
	assert_string_equal(got, "INSERT c+new");
	assert_null(next);
	free(it);
	in = cJSON_CreateObject();
	cJSON_AddStringToObject(in, "StreamArn", arn);
	out = streams(x, "DescribeStream", in, &e);
	d = cJSON_GetObjectItem(out, "StreamDescription");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(d, "StreamStatus")), "DISABLED");
	sh = cJSON_GetArrayItem(cJSON_GetObjectItem(d, "Shards"), 0);
	assert_non_null(cJSON_GetObjectItem(cJSON_GetObjectItem(sh, "SequenceNumberRange"), "EndingSequenceNumber"));
	cJSON_Delete(out);
	assert_int_equal(ddb(x->a, "DescribeTable", "{'TableName':'" T "'}", &out, &e), TP_OK);
	assert_null(cJSON_GetObjectItem(cJSON_GetObjectItem(out, "Table"), "StreamSpecification"));
	cJSON_Delete(out);
	in = cJSON_CreateObject();
	cJSON_AddStringToObject(in, "StreamArn", "arn:aws:dynamodb:eu-west-1:123456789012:table/x/stream/y");
	assert_null(streams(x, "DescribeStream", in, &e));
	assert_string_equal(e.code, "ResourceNotFoundException");
}

static void test_stream_shards_roll_over(void **state)
{
	struct fx *x = *state;
	tp_err e;
	cJSON *out = NULL;
	assert_int_equal(fake_ddb_roll_stream(x->f, T), -1);   /* no stream */
	assert_int_equal(ddb(x->a, "UpdateTable", "{'TableName':'" T "','StreamSpecification':{'StreamEnabled':true,"
			     "'StreamViewType':'KEYS_ONLY'}}", NULL, &e), TP_OK);
	assert_int_equal(ddb(x->a, "DescribeTable", "{'TableName':'" T "'}", &out, &e), TP_OK);
	char arn[256];
	snprintf(arn, sizeof arn, "%s", cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(out, "Table"),
										  "LatestStreamArn")));
	cJSON_Delete(out);
	const char *pks[] = { "a", "b", "c" };
	for (int i = 0; i < 3; i++) {
		char req[128];
		snprintf(req, sizeof req, "{'TableName':'" T "','Item':{'pk':{'S':'%s'}}}", pks[i]);
		assert_int_equal(ddb(x->a, "PutItem", req, NULL, &e), TP_OK);
		if (i < 2)
			assert_int_equal(fake_ddb_roll_stream(x->f, T), 0);
	}
	/* DescribeStream pages (Limit 2): three shards, each the parent of the next */
	char ids[3][128], parents[3][128];
	int closed[3], n = 0;
	char *after = NULL;
	do {
		cJSON *in = cJSON_CreateObject();
		cJSON_AddStringToObject(in, "StreamArn", arn);
		cJSON_AddNumberToObject(in, "Limit", 2);
		if (after)
			cJSON_AddStringToObject(in, "ExclusiveStartShardId", after);
		free(after);
		after = NULL;
		out = streams(x, "DescribeStream", in, &e);
		assert_non_null(out);
		cJSON *d = cJSON_GetObjectItem(out, "StreamDescription"), *sh;
		cJSON_ArrayForEach(sh, cJSON_GetObjectItem(d, "Shards")) {
			assert_true(n < 3);
			snprintf(ids[n], sizeof ids[n], "%s", cJSON_GetStringValue(cJSON_GetObjectItem(sh, "ShardId")));
			const char *p = cJSON_GetStringValue(cJSON_GetObjectItem(sh, "ParentShardId"));
			snprintf(parents[n], sizeof parents[n], "%s", p ? p : "");
			closed[n] = cJSON_GetObjectItem(cJSON_GetObjectItem(sh, "SequenceNumberRange"),
							"EndingSequenceNumber") != NULL;
			n++;
		}
		const char *last = cJSON_GetStringValue(cJSON_GetObjectItem(d, "LastEvaluatedShardId"));
		after = last ? strdup(last) : NULL;
		cJSON_Delete(out);
	} while (after);
	assert_int_equal(n, 3);
	assert_string_equal(parents[0], "");
	assert_string_equal(parents[1], ids[0]);
	assert_string_equal(parents[2], ids[1]);
	assert_true(closed[0] && closed[1] && !closed[2]);
	/* each shard holds what was written while it was open */
	for (int i = 0; i < 3; i++) {
		char got[128], seq[32], *next = NULL, want[32];
		char *it = iterator_at(x, arn, ids[i], "TRIM_HORIZON", NULL, &e);
		assert_non_null(it);
		read_records(x, it, got, sizeof got, &next, seq);
		snprintf(want, sizeof want, "INSERT %s", pks[i]);
		assert_string_equal(got, want);
		if (i < 2)
			assert_null(next);          /* closed, read to its end */
		else
			assert_non_null(next);
		free(it);
		free(next);
		if (i == 2) {   /* c's sequence number is not in the first shard */
			assert_null(iterator_at(x, arn, ids[0], "AT_SEQUENCE_NUMBER", seq, &e));
			assert_string_equal(e.code, "ValidationException");
		}
	}
}

/* ---- tables take time (fake_options.table_lag_ms) ---- */

static const char *status_of(struct aws *a, const char *table)
{
	static char st[32];
	cJSON *out = NULL;
	tp_err e;
	char req[128];
	snprintf(req, sizeof req, "{'TableName':'%s'}", table);
	assert_int_equal(ddb(a, "DescribeTable", req, &out, &e), TP_OK);
	snprintf(st, sizeof st, "%s", cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(out, "Table"),
									    "TableStatus")));
	cJSON_Delete(out);
	return st;
}

static void test_tables_take_time(void **state)
{
	(void)state;
	struct fake_options o = { .latency_ms = 5, .table_lag_ms = 4000 };
	struct fake *f = fake_new(&o);
	fake_use_clock(f);
	struct aws *a = client(f);
	tp_err e;
	cJSON *out = NULL;
	assert_int_equal(ddb(a, "CreateTable", "{'TableName':'cfg','KeySchema':[{'AttributeName':'pipeline','KeyType':"
			     "'HASH'}],'AttributeDefinitions':[{'AttributeName':'pipeline','AttributeType':'S'}],"
			     "'BillingMode':'PAY_PER_REQUEST','StreamSpecification':{'StreamEnabled':true,"
			     "'StreamViewType':'NEW_AND_OLD_IMAGES'}}", &out, &e), TP_OK);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(out, "TableDescription"),
								      "TableStatus")), "CREATING");
	cJSON_Delete(out);
	assert_string_equal(status_of(a, "cfg"), "CREATING");
	/* reads and writes on a CREATING table: ResourceNotFoundException (the layer's [table]) */
	expect_error(ddb(a, "PutItem", "{'TableName':'cfg','Item':{'pipeline':{'S':'p'}}}", NULL, &e), &e,
		     "ResourceNotFoundException", "CREATING");
	expect_error(ddb(a, "UpdateTimeToLive", "{'TableName':'cfg','TimeToLiveSpecification':{'Enabled':true,"
			 "'AttributeName':'expires_at'}}", NULL, &e), &e, "ResourceInUseException", "being created");
	/* the stream: ENABLING, no shard yet */
	assert_int_equal(ddb(a, "DescribeTable", "{'TableName':'cfg'}", &out, &e), TP_OK);
	cJSON *in = cJSON_CreateObject();
	cJSON_AddStringToObject(in, "StreamArn", cJSON_GetStringValue(cJSON_GetObjectItem(
		cJSON_GetObjectItem(out, "Table"), "LatestStreamArn")));
	cJSON_Delete(out);
	cJSON *in2 = cJSON_Duplicate(in, 1);
	assert_int_equal(awsj_call(a, SVC_STREAMS, "DescribeStream", in, &out, &e), TP_OK);
	cJSON *d = cJSON_GetObjectItem(out, "StreamDescription");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(d, "StreamStatus")), "ENABLING");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(d, "Shards")), 0);
	cJSON_Delete(out);
	cJSON_Delete(in);
	/* init's wait: poll with sleeps on the simulated clock until ACTIVE */
	int polls = 0;
	while (strcmp(status_of(a, "cfg"), "ACTIVE") != 0) {
		tp_sleep_ms(1000);
		polls++;
	}
	assert_true(polls >= 3 && polls <= 4);
	assert_int_equal(awsj_call(a, SVC_STREAMS, "DescribeStream", in2, &out, &e), TP_OK);
	d = cJSON_GetObjectItem(out, "StreamDescription");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(d, "StreamStatus")), "ENABLED");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(d, "Shards")), 1);
	cJSON_Delete(out);
	cJSON_Delete(in2);
	assert_int_equal(ddb(a, "PutItem", "{'TableName':'cfg','Item':{'pipeline':{'S':'p'}}}", NULL, &e), TP_OK);
	/* UpdateTable is asynchronous too: UPDATING, reads and writes go on */
	assert_int_equal(ddb(a, "UpdateTable", "{'TableName':'cfg','StreamSpecification':{'StreamEnabled':false}}",
			     NULL, &e), TP_OK);
	assert_string_equal(status_of(a, "cfg"), "UPDATING");
	assert_int_equal(ddb(a, "GetItem", "{'TableName':'cfg','Key':{'pipeline':{'S':'p'}}}", NULL, &e), TP_OK);
	expect_error(ddb(a, "UpdateTable", "{'TableName':'cfg','StreamSpecification':{'StreamEnabled':true,"
			 "'StreamViewType':'KEYS_ONLY'}}", NULL, &e), &e, "ResourceInUseException", "being updated");
	fake_advance_ms(f, 5000);
	assert_string_equal(status_of(a, "cfg"), "ACTIVE");
	/* the helper's tables, for tests that skip init, are ACTIVE at once */
	assert_int_equal(fake_ddb_create_table(f, "now", "pk", NULL), 0);
	assert_string_equal(status_of(a, "now"), "ACTIVE");
	aws_free(a);
	fake_free(f);
}

/* ---- quotas ---- */

static void test_throttled_and_retried(void **state)
{
	(void)state;
	struct fake_options o = { .latency_ms = 5, .throttle_pct = 30, .seed = 7 };
	struct fake *f = fake_new(&o);
	fake_use_clock(f);
	struct aws *a = client(f);
	assert_int_equal(fake_ddb_create_table(f, T, "pk", NULL), 0);
	tp_err e;
	for (int i = 0; i < 20; i++) {
		char req[128];
		snprintf(req, sizeof req, "{'TableName':'" T "','Item':{'pk':{'S':'k%d'}}}", i);
		assert_int_equal(ddb(a, "PutItem", req, NULL, &e), TP_OK);
	}
	assert_int_equal(fake_ddb_item_count(f, T), 20);
	assert_true(fake_throttled(f, "dynamodb", "PutItem") > 0);
	assert_int_equal(fake_count(f, "dynamodb", "PutItem"), 20 + fake_throttled(f, "dynamodb", "PutItem"));
	aws_free(a);
	fake_free(f);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_setup_teardown(test_tables_through_the_api, setup, teardown),
	cmocka_unit_test_setup_teardown(test_missing_table_is_resource_not_found, setup, teardown),
	cmocka_unit_test_setup_teardown(test_put_get_delete, setup, teardown),
	cmocka_unit_test_setup_teardown(test_pipeline_fence, setup, teardown),
	cmocka_unit_test_setup_teardown(test_lease_conditions, setup, teardown),
	cmocka_unit_test_setup_teardown(test_lease_through_core, setup, teardown),
	cmocka_unit_test_setup_teardown(test_rollout_conditions, setup, teardown),
	cmocka_unit_test_setup_teardown(test_code_record_add_to_a_set, setup, teardown),
	cmocka_unit_test_setup_teardown(test_update_return_values, setup, teardown),
	cmocka_unit_test_setup_teardown(test_update_expressions, setup, teardown),
	cmocka_unit_test_setup_teardown(test_condition_language, setup, teardown),
	cmocka_unit_test_setup_teardown(test_bad_expressions_are_errors, setup, teardown),
	cmocka_unit_test_setup_teardown(test_scan_pages_by_size_and_limit, setup, teardown),
	cmocka_unit_test_setup_teardown(test_query_in_range_key_order, setup, teardown),
	cmocka_unit_test_setup_teardown(test_many_items_deletes_and_a_stable_order, setup, teardown),
	cmocka_unit_test_setup_teardown(test_stream_records_changes, setup, teardown),
	cmocka_unit_test_setup_teardown(test_stream_shards_roll_over, setup, teardown),
	cmocka_unit_test(test_tables_take_time),
	cmocka_unit_test(test_throttled_and_retried),
};

int main(void)
{
	return cmocka_run_group_tests(tests, NULL, NULL);
}
