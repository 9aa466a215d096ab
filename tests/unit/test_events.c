/* test_events.c: event classification (evclass_classify) for every shape
 * events.h lists, and the errors for malformed events. No AWS. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/evclass.h"

/* Classify JSON text; returns rc, *c filled, e holds the error. */
static int classify(const char *json, struct ev_class *c, tp_err *e, cJSON **ev)
{
	*ev = cJSON_Parse(json);
	assert_non_null(*ev);
	memset(e, 0, sizeof *e);
	return evclass_classify(*ev, c, e);
}

static void expect_kind(const char *json, enum ev_kind kind)
{
	struct ev_class c;
	tp_err e;
	cJSON *ev;
	assert_int_equal(classify(json, &c, &e, &ev), TP_OK);
	assert_string_equal(evclass_kind_name(c.kind), evclass_kind_name(kind));
	if (kind == EV_STREAM || kind == EV_SNS)
		assert_ptr_equal(c.records, cJSON_GetObjectItem(ev, "Records"));
	evclass_free(&c);
	cJSON_Delete(ev);
}

static void expect_error(const char *json, const char *code, const char *words)
{
	struct ev_class c;
	tp_err e;
	cJSON *ev;
	assert_int_equal(classify(json, &c, &e, &ev), TP_EINVAL);
	assert_string_equal(e.code, code);
	if (!strstr(e.message, words))
		fail_msg("message \"%s\" lacks \"%s\"", e.message, words);
	evclass_free(&c);
	cJSON_Delete(ev);
}

static void stream_batch(void **state)
{
	expect_kind("{\"Records\":[{\"eventSource\":\"aws:dynamodb\",\"dynamodb\":{\"SequenceNumber\":\"1\"}},"
		    "{\"eventSource\":\"aws:dynamodb\"}]}", EV_STREAM);
}

static void sns_notification(void **state)
{
	/* SNS spells it EventSource */
	expect_kind("{\"Records\":[{\"EventSource\":\"aws:sns\",\"Sns\":{\"Message\":\"{}\"}}]}", EV_SNS);
}

static void scheduled(void **state)
{
	expect_kind("{\"source\":\"aws.events\",\"detail-type\":\"Scheduled Event\",\"detail\":{}}", EV_SCHEDULED);
}

static void direct_commands(void **state)
{
	struct ev_class c;
	tp_err e;
	cJSON *ev;
	assert_int_equal(classify("{\"taskpipe\":\"apply\",\"pipelines\":[\"a\",\"b\"],\"force\":true}", &c, &e, &ev),
			 TP_OK);
	assert_int_equal(c.kind, EV_APPLY);
	assert_int_equal(c.n, 2);
	assert_string_equal(c.names[0], "a");
	assert_string_equal(c.names[1], "b");
	assert_int_equal(c.force, 1);
	evclass_free(&c);
	cJSON_Delete(ev);

	assert_int_equal(classify("{\"taskpipe\":\"plan\"}", &c, &e, &ev), TP_OK);
	assert_int_equal(c.kind, EV_PLAN);
	assert_int_equal(c.n, 0);    /* every pipeline */
	assert_int_equal(c.force, 0);
	evclass_free(&c);
	cJSON_Delete(ev);

	assert_int_equal(classify("{\"taskpipe\":\"plan\",\"pipelines\":[\"x\"]}", &c, &e, &ev), TP_OK);
	assert_int_equal(c.kind, EV_PLAN);
	assert_int_equal(c.n, 1);
	evclass_free(&c);
	cJSON_Delete(ev);

	expect_kind("{\"taskpipe\":\"apply-all\"}", EV_APPLY_ALL);
	expect_kind("{\"taskpipe\":\"apply-all\",\"pipelines\":7}", EV_APPLY_ALL); /* ignored there */
}

static void records_take_precedence(void **state)
{
	/* a stream batch that also carries a taskpipe key is still a batch */
	expect_kind("{\"Records\":[{\"eventSource\":\"aws:dynamodb\"}],\"taskpipe\":\"apply-all\"}", EV_STREAM);
	/* an empty Records array is not a batch: the other shapes are tried */
	expect_kind("{\"Records\":[],\"taskpipe\":\"apply-all\"}", EV_APPLY_ALL);
}

static void malformed(void **state)
{
	expect_error("{\"Records\":[{\"eventSource\":\"aws:dynamodb\"},{\"eventSource\":\"aws:sns\"}]}",
		     "UnrecognizedEvent", "top-level keys: [Records]");
	expect_error("{\"Records\":[{\"eventSource\":\"aws:sqs\"}]}", "UnrecognizedEvent", "[Records]");
	expect_error("{\"Records\":[{\"dynamodb\":{}}]}", "UnrecognizedEvent", "[Records]");
	expect_error("{\"Records\":[]}", "UnrecognizedEvent", "[Records]");
	expect_error("{\"source\":\"aws.events\",\"detail-type\":\"Object Created\"}", "UnrecognizedEvent",
		     "top-level keys: [source, detail-type]");
	expect_error("{\"source\":\"aws.s3\",\"detail-type\":\"Scheduled Event\"}", "UnrecognizedEvent", "source");
	expect_error("{}", "UnrecognizedEvent", "top-level keys: []");
	expect_error("[1,2]", "UnrecognizedEvent", "the event is not an object");
	expect_error("\"apply\"", "UnrecognizedEvent", "not an object");
	expect_error("{\"taskpipe\":\"destroy\"}", "UnrecognizedEvent",
		     "unknown taskpipe command \"destroy\" (apply, apply-all, plan)");
	expect_error("{\"taskpipe\":7}", "UnrecognizedEvent", "[taskpipe]");
	expect_error("{\"taskpipe\":\"apply\"}", "InvalidRequest", "apply needs \"pipelines\"");
	expect_error("{\"taskpipe\":\"apply\",\"pipelines\":[]}", "InvalidRequest", "apply needs");
	expect_error("{\"taskpipe\":\"apply\",\"pipelines\":[\"a\",3]}", "InvalidRequest",
		     "\"pipelines\" must be an array of names");
	expect_error("{\"taskpipe\":\"plan\",\"pipelines\":[null]}", "InvalidRequest", "array of names");
}

static void s3_keys_decode(void **state)
{
	const char *why = NULL;
	char *k = evclass_s3_key_decode("code/my+file%2Bv2%C3%A9.zip", &why);
	assert_string_equal(k, "code/my file+v2\xc3\xa9.zip");
	free(k);
	static const char *const bad[] = { "a%", "a%4", "a%zz", "%00x", "%0" };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		why = NULL;
		assert_null(evclass_s3_key_decode(bad[i], &why));
		assert_non_null(why);
	}
	why = NULL;
	assert_null(evclass_s3_key_decode("%00", &why));
	assert_string_equal(why, "%00 (a NUL byte)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(stream_batch),
		cmocka_unit_test(sns_notification),
		cmocka_unit_test(scheduled),
		cmocka_unit_test(direct_commands),
		cmocka_unit_test(records_take_precedence),
		cmocka_unit_test(malformed),
		cmocka_unit_test(s3_keys_decode),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
