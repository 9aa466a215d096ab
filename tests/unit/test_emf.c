/* test_emf.c: EMF lines (emf.c), the consumer layer's counters
 * (consume_metrics.c) and the controller's lines (ctl_metrics.c), each line
 * parsed and checked against the EMF specification's schema. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/base.h"
#include "core/drift/drift.h"
#include "core/reconcile/reconcile.h"
#include "core/rollout/rollout.h"
#include "runtime/consume_metrics.h"
#include "runtime/ctl_metrics.h"
#include "runtime/emf.h"

static const char *const units[] = { "Seconds", "Microseconds", "Milliseconds", "Bytes", "Count", "Percent",
				     "Count/Second", "None", NULL };

/* The schema of "Specification: Embedded metric format": _aws with an
 * integer Timestamp and CloudWatchMetrics directives, each with a
 * Namespace, Dimensions (sets of at most 30 keys, each a string member of
 * the root) and Metrics (at most 100, each Name a root member holding a
 * number or at most 100 numbers, Unit a CloudWatch unit). */
static void check_emf(const cJSON *doc)
{
	assert_true(cJSON_IsObject(doc));
	const cJSON *aws = cJSON_GetObjectItemCaseSensitive(doc, "_aws");
	assert_true(cJSON_IsObject(aws));
	const cJSON *ts = cJSON_GetObjectItemCaseSensitive(aws, "Timestamp");
	assert_true(cJSON_IsNumber(ts));
	assert_true(ts->valuedouble > 1.5e12 && ts->valuedouble == (double)(long long)ts->valuedouble);
	const cJSON *dirs = cJSON_GetObjectItemCaseSensitive(aws, "CloudWatchMetrics"), *dir;
	assert_true(cJSON_IsArray(dirs) && cJSON_GetArraySize(dirs) >= 1);
	cJSON_ArrayForEach(dir, dirs) {
		const cJSON *ns = cJSON_GetObjectItemCaseSensitive(dir, "Namespace");
		assert_true(cJSON_IsString(ns) && ns->valuestring[0]);
		const cJSON *sets = cJSON_GetObjectItemCaseSensitive(dir, "Dimensions"), *set, *key;
		assert_true(cJSON_IsArray(sets) && cJSON_GetArraySize(sets) >= 1);
		cJSON_ArrayForEach(set, sets) {
			assert_true(cJSON_IsArray(set) && cJSON_GetArraySize(set) <= 30);
			cJSON_ArrayForEach(key, set) {
				assert_true(cJSON_IsString(key));
				assert_true(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(doc, key->valuestring)));
			}
		}
		const cJSON *mets = cJSON_GetObjectItemCaseSensitive(dir, "Metrics"), *m;
		assert_true(cJSON_IsArray(mets) && cJSON_GetArraySize(mets) <= 100);
		cJSON_ArrayForEach(m, mets) {
			const cJSON *name = cJSON_GetObjectItemCaseSensitive(m, "Name");
			const cJSON *unit = cJSON_GetObjectItemCaseSensitive(m, "Unit");
			assert_true(cJSON_IsString(name));
			int known = 0;
			for (int i = 0; units[i]; i++)
				known |= cJSON_IsString(unit) && strcmp(unit->valuestring, units[i]) == 0;
			assert_true(known);
			const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, name->valuestring), *x;
			if (cJSON_IsArray(v)) {
				assert_true(cJSON_GetArraySize(v) <= 100);
				cJSON_ArrayForEach(x, v)
					assert_true(cJSON_IsNumber(x));
			} else {
				assert_true(cJSON_IsNumber(v));
			}
		}
	}
}

static cJSON *parse_checked(const char *line)
{
	cJSON *j = cJSON_Parse(line);
	if (!j)
		fail_msg("not JSON: %s", line);
	check_emf(j);
	return j;
}

static double num(const cJSON *doc, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, k);
	if (!cJSON_IsNumber(v))
		fail_msg("%s: not a number", k);
	return v->valuedouble;
}

static const cJSON *directive(const cJSON *doc)
{
	return cJSON_GetArrayItem(
		cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc, "_aws"), "CloudWatchMetrics"), 0);
}

/* The dimension sets as text, e.g. "[[],[\"FunctionName\"]]". */
static char *sets_text(const cJSON *doc)
{
	return cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(directive(doc), "Dimensions"));
}

/* Lines written to stderr while fn runs. */
typedef void (*emitter)(void *);
static char *capture(emitter fn, void *arg)
{
	fflush(stderr);
	int saved = dup(2);
	FILE *f = tmpfile();
	assert_non_null(f);
	dup2(fileno(f), 2);
	fn(arg);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	long n = ftell(f);
	rewind(f);
	char *out = calloc(1, (size_t)n + 1);
	assert_int_equal(fread(out, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return out;
}

static int count_lines(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static void format_follows_the_schema(void **state)
{
	double many[150];
	for (int i = 0; i < 150; i++)
		many[i] = i;
	struct emf_metric mx[] = {
		{ "A", "Count", 3, NULL, 0 },
		{ "Wait", "Milliseconds", 0, many, 150 },
		{ "A", "Count", 9, NULL, 0 },   /* a second "A": one target holds one metric */
	};
	struct emf_doc d = { .timestamp_ms = 1765000000123LL, .metrics = mx, .n_metrics = 3, .n_sets = 3 };
	d.dims[0] = "Owner";
	d.dims[1] = "tp \"x\"";
	d.sets[0][0] = "Owner";
	d.sets[1][0] = NULL;               /* the empty set */
	d.sets[2][0] = "Missing";          /* names no dimension: left out */
	const char *props[] = { "event", "test", NULL };
	d.props = props;
	char *line = emf_format(&d);
	cJSON *j = parse_checked(line);
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(directive(j), "Namespace")->valuestring, "taskpipe");
	char *sets = sets_text(j);
	assert_string_equal(sets, "[[\"Owner\"],[]]");
	assert_int_equal((long long)num(cJSON_GetObjectItemCaseSensitive(j, "_aws"), "Timestamp"), 1765000000123LL);
	assert_true(num(j, "A") == 3);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "Wait")), 100);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(directive(j), "Metrics")), 2);
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(j, "Owner")->valuestring, "tp \"x\"");
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(j, "event")->valuestring, "test");
	free(sets);
	free(line);
	cJSON_Delete(j);

	/* no sets at all: one empty set (a metric without dimensions) */
	struct emf_doc d2 = { .timestamp_ms = 1765000000000LL, .metrics = mx, .n_metrics = 1 };
	line = emf_format(&d2);
	j = parse_checked(line);
	sets = sets_text(j);
	assert_string_equal(sets, "[[]]");
	free(sets);
	free(line);
	cJSON_Delete(j);
}

static void modes_parse(void **state)
{
	enum emf_mode m;
	assert_int_equal(emf_mode_parse(NULL, &m), 0);
	assert_int_equal(m, EMF_FLEET);
	assert_int_equal(emf_mode_parse("", &m), 0);
	assert_int_equal(m, EMF_FLEET);
	assert_int_equal(emf_mode_parse("detailed", &m), 0);
	assert_int_equal(m, EMF_DETAILED);
	assert_int_equal(emf_mode_parse("off", &m), 0);
	assert_int_equal(m, EMF_OFF);
	assert_int_equal(emf_mode_parse("Detailed", &m), -1);
}

#define T0 1765000000000LL

/* Three records (oldest sent 1.5 s before the start), the handler fails
 * one and rate-limits another; then a 2-record batch it answers with
 * /error; then 4 records given back unstarted. */
static void consumer_session(void *arg)
{
	struct cmetrics *m = arg;
	const char *ev = "{\"Records\":["
			 "{\"messageId\":\"a\",\"attributes\":{\"SentTimestamp\":\"1764999998500\"}},"
			 "{\"messageId\":\"b\",\"attributes\":{\"SentTimestamp\":\"1764999999000\"}},"
			 "{\"messageId\":\"c\",\"attributes\":{\"SentTimestamp\":\"1764999999900\"}}]}";
	cm_started_body(m, ev, strlen(ev), T0);
	const char *ans = "{\"batchItemFailures\":[{\"itemIdentifier\":\"a\"},{\"itemIdentifier\":\"b\"}],"
			  "\"rateLimited\":[{\"itemIdentifier\":\"b\",\"retryAfterSeconds\":5}]}";
	cm_answer(m, "response", ans, strlen(ans), T0 + 10);
	cm_flush(m, T0 + 20, 0);   /* within the interval: nothing yet */
	const char *ev2 = "{\"Records\":[{\"messageId\":\"d\",\"attributes\":{\"SentTimestamp\":\"1765000000000\"}},"
			  "{\"messageId\":\"e\"}]}";
	cm_started_body(m, ev2, strlen(ev2), T0 + 1000);
	cm_answer(m, "error", "{}", 2, T0 + 1100);
	cm_returned(m, 4, T0 + 1200);
	cm_flush(m, T0 + 61000, 0);   /* the interval has passed: one line */
	cm_flush(m, T0 + 62000, 1);   /* nothing counted since: still nothing */
}

static void consumer_counts(void **state)
{
	unsetenv("TASKPIPE_METRICS");
	unsetenv("TASKPIPE_METRICS_INTERVAL");
	setenv("AWS_LAMBDA_FUNCTION_NAME", "tp-a", 1);
	struct cmetrics m;
	cm_init(&m);
	char *out = capture(consumer_session, &m);
	/* trouble in each invocation: each writes its line at once */
	assert_int_equal(count_lines(out), 2);
	cJSON *j = parse_checked(out);
	assert_true(num(j, "TasksStarted") == 3);
	assert_true(num(j, "TasksRateLimited") == 1);
	assert_true(num(j, "HandlerErrors") == 1);   /* a; b was rate-limited, not failed */
	assert_true(num(j, "TasksReturned") == 0);
	const cJSON *w = cJSON_GetObjectItemCaseSensitive(j, "StartWait");
	assert_int_equal(cJSON_GetArraySize(w), 1);
	assert_true(cJSON_GetArrayItem(w, 0)->valuedouble == 1500);
	assert_true(num(cJSON_GetObjectItemCaseSensitive(j, "_aws"), "Timestamp") == (double)(T0 + 10));
	char *sets = sets_text(j);
	assert_string_equal(sets, "[[]]");   /* fleet: no dimension, whatever the function */
	assert_null(cJSON_GetObjectItemCaseSensitive(j, "FunctionName"));
	free(sets);
	cJSON_Delete(j);
	j = parse_checked(strchr(out, '\n') + 1);
	assert_true(num(j, "TasksStarted") == 2);
	assert_true(num(j, "HandlerErrors") == 2);   /* the /error batch of 2 */
	assert_true(num(j, "TasksReturned") == 4);
	assert_true(num(cJSON_GetObjectItemCaseSensitive(j, "_aws"), "Timestamp") == (double)(T0 + 1200));
	cJSON_Delete(j);
	free(out);
}

/* Clean invocations are held for the interval; a start wait of an
 * interval or more is trouble; at exit an invocation in flight counts as
 * failed. */
static void quiet_session(void *arg)
{
	struct cmetrics *m = arg;
	const char *ev = "{\"Records\":[{\"messageId\":\"a\",\"attributes\":{\"SentTimestamp\":\"1764999999000\"}}]}";
	for (int i = 0; i < 3; i++) {
		cm_started_body(m, ev, strlen(ev), T0 + i * 1000);
		cm_answer(m, "response", "{}", 2, T0 + i * 1000 + 10);
		cm_flush(m, T0 + i * 1000 + 20, 0);
	}
	fputs("--\n", stderr);
	const char *old = "{\"Records\":[{\"messageId\":\"o\",\"attributes\":{\"SentTimestamp\":\"1764999900000\"}}]}";
	cm_started_body(m, old, strlen(old), T0 + 5000);     /* sent 105 s before */
	cm_answer(m, "response", "{\"batchItemFailures\":[]}", 24, T0 + 5010);
	cm_flush(m, T0 + 5020, 0);
	fputs("--\n", stderr);
	cm_started_body(m, ev, strlen(ev), T0 + 6000);
	cm_exit(m, T0 + 6100);
}

static void consumer_quiet_held(void **state)
{
	unsetenv("TASKPIPE_METRICS");
	unsetenv("TASKPIPE_METRICS_INTERVAL");
	struct cmetrics m;
	cm_init(&m);
	char *out = capture(quiet_session, &m);
	char *first = strstr(out, "--\n");
	assert_true(first == out);   /* three clean invocations within the interval: no line */
	char *second = strstr(first + 3, "--\n");
	assert_non_null(second);
	*second = 0;
	cJSON *j = parse_checked(first + 3);   /* the long wait: written at once, with the held starts */
	assert_true(num(j, "TasksStarted") == 4);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "StartWait")), 4);
	assert_true(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "StartWait"), 3)->valuedouble == 105000);
	cJSON_Delete(j);
	j = parse_checked(second + 3);
	assert_true(num(j, "TasksStarted") == 1 && num(j, "HandlerErrors") == 1);
	cJSON_Delete(j);
	free(out);
}

static void consumer_detailed_and_off(void **state)
{
	setenv("TASKPIPE_METRICS", "detailed", 1);
	setenv("TASKPIPE_METRICS_INTERVAL", "0", 1);
	setenv("AWS_LAMBDA_FUNCTION_NAME", "tp-b", 1);
	struct cmetrics m;
	cm_init(&m);
	char *out = capture(consumer_session, &m);
	/* interval 0: a line at each flush that has counts (two here) */
	assert_int_equal(count_lines(out), 2);
	cJSON *j = parse_checked(out);   /* cJSON_Parse reads the first line's object */
	char *sets = sets_text(j);
	assert_string_equal(sets, "[[],[\"FunctionName\"]]");
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(j, "FunctionName")->valuestring, "tp-b");
	assert_true(num(j, "TasksStarted") == 3);
	free(sets);
	cJSON_Delete(j);
	cJSON *j2 = parse_checked(strchr(out, '\n') + 1);
	assert_true(num(j2, "TasksStarted") == 2);
	assert_true(num(j2, "TasksReturned") == 4);
	cJSON_Delete(j2);
	free(out);

	setenv("TASKPIPE_METRICS", "off", 1);
	cm_init(&m);
	out = capture(consumer_session, &m);
	assert_string_equal(out, "");
	free(out);

	/* a bad value: logged, and the default (fleet) used */
	setenv("TASKPIPE_METRICS", "verbose", 1);
	setenv("TASKPIPE_METRICS_INTERVAL", "soon", 1);
	cm_init(&m);
	assert_int_equal(m.mode, EMF_FLEET);
	assert_int_equal(m.interval_ms, 60000);
	unsetenv("TASKPIPE_METRICS");
	unsetenv("TASKPIPE_METRICS_INTERVAL");
}

static void controller_lines(void *arg)
{
	(void)arg;
	struct rec_result res[3] = { { .rc = TP_OK, .changes = 2 }, { .rc = TP_OK }, { .rc = TP_EAWS } };
	ctlm_reconcile("inst", res, 3);
	struct drift_report r = { 0 };
	r.summary.checked = 7;
	r.summary.count[DRIFT_DRIFTED] = 1;
	r.summary.count[DRIFT_MISSING] = 2;
	r.summary.count[DRIFT_ERROR] = 1;
	r.summary.fix_failed = 1;
	r.summary.fixed = 3;
	r.queues = (struct drift_queues){ .queues = 14, .backlog = 40, .in_flight = 3, .dlq_tasks = 5,
					   .dlqs_with_tasks = 2 };
	ctlm_drift("inst", &r);
	ctlm_rollouts("inst", NULL, 0);   /* nothing resumed: no line */
	struct rollout_result ro[2] = { { .status = ROLLOUT_DONE, .updated = 4 },
					{ .status = ROLLOUT_HALTED, .updated = 1, .failed = 2 } };
	ctlm_rollouts("inst", ro, 2);
	ctlm_skipped("inst", 2);
}

static void controller_counts(void **state)
{
	unsetenv("TASKPIPE_METRICS");
	char *out = capture(controller_lines, NULL);
	assert_int_equal(count_lines(out), 4);
	cJSON *doc[4];
	char *p = out;
	for (int i = 0; i < 4; i++) {
		char *nl = strchr(p, '\n');
		*nl = 0;
		doc[i] = parse_checked(p);
		p = nl + 1;
		char *sets = sets_text(doc[i]);
		assert_string_equal(sets, "[[\"Owner\"]]");
		free(sets);
		assert_string_equal(cJSON_GetObjectItemCaseSensitive(doc[i], "Owner")->valuestring, "inst");
	}
	assert_true(num(doc[0], "PipelinesChanged") == 1 && num(doc[0], "PipelineErrors") == 1);
	assert_true(num(doc[1], "DriftChecked") == 7 && num(doc[1], "DriftFound") == 3);
	assert_true(num(doc[1], "DriftFixed") == 3 && num(doc[1], "PipelineErrors") == 2);
	assert_true(num(doc[1], "DLQTasks") == 5 && num(doc[1], "DLQsWithTasks") == 2);
	assert_true(num(doc[1], "BacklogTasks") == 40 && num(doc[1], "InFlightTasks") == 3);
	assert_true(num(doc[2], "RolloutFunctionsUpdated") == 5 && num(doc[2], "RolloutFunctionsFailed") == 2);
	assert_true(num(doc[2], "RolloutsHalted") == 1);
	assert_true(num(doc[3], "StreamRecordsSkipped") == 2);
	for (int i = 0; i < 4; i++)
		cJSON_Delete(doc[i]);
	free(out);

	setenv("TASKPIPE_METRICS", "off", 1);
	out = capture(controller_lines, NULL);
	assert_string_equal(out, "");
	free(out);
	unsetenv("TASKPIPE_METRICS");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(format_follows_the_schema),
		cmocka_unit_test(modes_parse),
		cmocka_unit_test(consumer_counts),
		cmocka_unit_test(consumer_quiet_held),
		cmocka_unit_test(consumer_detailed_and_off),
		cmocka_unit_test(controller_counts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
