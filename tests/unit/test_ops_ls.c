/* test_ops_ls.c: the rows of `ls` (core/ops_ls.c) from scanned tables,
 * without AWS, and their JSON (runtime/ls_json.c), which taskpipe ls --json
 * prints and tp.ls() returns: which rows, the status words, filters, the
 * kept queues and what a deleted record no longer shows. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <cjson/cJSON.h>

#include "core/ops_ls.h"
#include "runtime/ls_json.h"

/* A config item {"pipeline": name, ...extra (DynamoDB JSON)}. */
static void add_item(struct ops_ls *l, const char *name, const char *extra)
{
	char text[512];
	snprintf(text, sizeof text, "{\"pipeline\":{\"S\":\"%s\"}%s%s}", name, extra ? "," : "", extra ? extra : "");
	cJSON *it = cJSON_Parse(text);
	assert_non_null(it);
	cJSON_AddItemToArray(l->items, it);
}

static struct store_pipeline *add_state(struct ops_ls *l, const char *name, int status)
{
	l->states.v = realloc(l->states.v, (l->states.n + 1) * sizeof *l->states.v);
	struct store_pipeline *p = &l->states.v[l->states.n++];
	memset(p, 0, sizeof *p);
	p->name = strdup(name);
	p->status = status;
	p->updated_at = 1000;
	return p;
}

static void add_pause(struct ops_ls *l, const char *name, const char *reason)
{
	l->pauses.v = realloc(l->pauses.v, (l->pauses.n + 1) * sizeof *l->pauses.v);
	struct store_pause *p = &l->pauses.v[l->pauses.n++];
	*p = (struct store_pause){ .name = strdup(name), .by = strdup("op@host"),
				   .reason = reason ? strdup(reason) : NULL, .at = 77 };
}

/* The fleet: an item never applied, an applied one, a paused one, a
 * draining record (item gone), a kept one, a deleted one, an error record
 * whose item is gone, and a record with a status taskpipe never writes. */
static void fleet(struct ops_ls *l)
{
	memset(l, 0, sizeof *l);
	l->items = cJSON_CreateArray();
	add_item(l, "tenant-new", "\"concurrency\":{\"N\":\"3\"}");
	add_item(l, "tenant-live", "\"rate\":{\"N\":\"2.5\"},\"enabled\":{\"BOOL\":false}");
	add_item(l, "held", "\"expires_at\":{\"N\":\"1900000000\"}");
	add_item(l, "odd", NULL);
	struct store_pipeline *p = add_state(l, "tenant-live", STORE_OK);
	p->queue_url = strdup("https://sqs/q");
	p->spec = strdup("{\"mapping\":{\"Enabled\":true,\"ScalingConfig\":{\"MaximumConcurrency\":4}}}");
	add_state(l, "held", STORE_OK);
	p = add_state(l, "draining", STORE_DRAINING);
	p->drain_started_at = 500;
	p->drain_timeout = 3600;
	p = add_state(l, "kept", STORE_KEPT);
	p->kept_queue = 12;
	p->kept_dlq = 0;
	p = add_state(l, "gone", STORE_DELETED);
	p->queue_url = strdup("https://sqs/gone");
	p->spec = strdup("{\"mapping\":{\"Enabled\":true,\"ScalingConfig\":{\"MaximumConcurrency\":50}}}");
	p = add_state(l, "bad", STORE_ERROR);
	p->message = strdup("BadName: no");
	add_state(l, "odd", STORE_UNKNOWN);
	store_pipelines_sort(&l->states);
	add_pause(l, "held", "maintenance");
}

static const struct ops_ls_row *row(const struct ops_ls *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->rows[i].name, name) == 0)
			return &l->rows[i];
	return NULL;
}

static void test_rows_and_words(void **state)
{
	(void)state;
	struct ops_ls l;
	fleet(&l);
	struct ops_ls_query q = { 0 };
	ops_ls_build("tp-", &q, &l);
	/* every item and every record not deleted, sorted by name */
	const char *want[] = { "bad", "draining", "held", "kept", "odd", "tenant-live", "tenant-new" };
	assert_int_equal(l.n, 7);
	for (size_t i = 0; i < l.n; i++)
		assert_string_equal(l.rows[i].name, want[i]);
	assert_null(row(&l, "gone"));
	/* one set of words: the record's, "pending" without one, "?" for a word never written */
	assert_string_equal(row(&l, "tenant-new")->status, "pending");
	assert_string_equal(OPS_LS_PENDING, "pending");
	assert_string_equal(row(&l, "tenant-live")->status, "ok");
	assert_string_equal(row(&l, "draining")->status, "draining");
	assert_string_equal(row(&l, "kept")->status, "kept");
	assert_string_equal(row(&l, "bad")->status, "error");
	assert_string_equal(row(&l, "odd")->status, "?");
	/* the item's words */
	const struct ops_ls_row *r = row(&l, "tenant-live");
	assert_false(r->enabled);
	assert_string_equal(r->rate, "2.5");
	assert_string_equal(r->concurrency, "-");
	assert_string_equal(r->queue_url, "https://sqs/q");
	r = row(&l, "tenant-new");
	assert_true(r->enabled);
	assert_string_equal(r->concurrency, "3");
	assert_int_equal(r->updated_at, 0);
	assert_null(r->pause);
	r = row(&l, "held");
	assert_non_null(r->pause);
	assert_string_equal(r->pause->reason, "maintenance");
	assert_int_equal(r->expires_at, 1900000000);
	/* records whose items are gone */
	r = row(&l, "draining");
	assert_null(r->item);
	assert_false(r->enabled);
	assert_int_equal(r->drain_started_at, 500);
	assert_int_equal(r->drain_timeout, 3600);
	r = row(&l, "kept");
	assert_int_equal(r->n_kept, 1);
	assert_string_equal(r->kept[0].resource, "queue");
	assert_string_equal(r->kept[0].queue, "tp-kept");
	assert_int_equal(r->kept[0].messages, 12);
	assert_string_equal(row(&l, "bad")->message, "BadName: no");
	/* the demand counts the specs in force: not the deleted one's */
	assert_int_equal(l.demand.pipelines, 1);
	assert_int_equal(l.demand.max_concurrency, 4);
	ops_ls_free(&l);
}

static void test_patterns_and_kept_only(void **state)
{
	(void)state;
	struct ops_ls l;
	fleet(&l);
	char *pats[] = { "tenant-*", "draining", "nosuch" };
	struct ops_ls_query q = { .patterns = pats, .npatterns = 3 };
	ops_ls_build("tp-", &q, &l);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.rows[0].name, "draining");
	assert_string_equal(l.rows[1].name, "tenant-live");
	assert_string_equal(l.rows[2].name, "tenant-new");
	assert_int_equal(l.hits[0], 2);
	assert_int_equal(l.hits[1], 1);
	assert_int_equal(l.hits[2], 0);   /* the CLI says "no such pipeline" */
	struct ops_ls_query k = { .kept_only = 1 };
	ops_ls_build("tp-", &k, &l);       /* built again: the rows are replaced */
	assert_int_equal(l.n, 1);
	assert_string_equal(l.rows[0].name, "kept");
	ops_ls_free(&l);
}

/* The JSON field names scripts read (taskpipe ls --json) stay as they were. */
static void test_json_fields(void **state)
{
	(void)state;
	struct ops_ls l;
	fleet(&l);
	struct ops_ls_query q = { 0 };
	ops_ls_build("tp-", &q, &l);
	cJSON *j = ls_row_json(row(&l, "held"));
	char *t = cJSON_PrintUnformatted(j);
	assert_string_equal(t, "{\"pipeline\":\"held\",\"item\":true,\"enabled\":true,\"paused\":true,"
			       "\"paused_by\":\"op@host\",\"paused_at\":77,\"pause_reason\":\"maintenance\","
			       "\"rate\":\"-\",\"concurrency\":\"-\",\"status\":\"ok\",\"updated_at\":1000,"
			       "\"expires_at\":1900000000}");
	free(t);
	cJSON_Delete(j);
	j = ls_row_json(row(&l, "kept"));
	t = cJSON_PrintUnformatted(j);
	assert_string_equal(t, "{\"pipeline\":\"kept\",\"item\":false,\"enabled\":false,\"paused\":false,"
			       "\"rate\":\"-\",\"concurrency\":\"-\",\"status\":\"kept\",\"updated_at\":1000,"
			       "\"kept\":[{\"resource\":\"queue\",\"queue\":\"tp-kept\",\"messages\":12}]}");
	free(t);
	cJSON_Delete(j);
	j = ls_row_json(row(&l, "tenant-new"));
	t = cJSON_PrintUnformatted(j);
	assert_string_equal(t, "{\"pipeline\":\"tenant-new\",\"item\":true,\"enabled\":true,\"paused\":false,"
			       "\"rate\":\"-\",\"concurrency\":\"3\",\"status\":\"pending\",\"updated_at\":0}");
	free(t);
	cJSON_Delete(j);
	ops_ls_free(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows_and_words),
		cmocka_unit_test(test_patterns_and_kept_only),
		cmocka_unit_test(test_json_fields),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
