/* cmd_pipeline.c: the pipeline commands: init, ls, plan, apply, put, rm, forget. */
#include "cmd/cmd_pipeline.h"
#include "base/settings_table.h"

#include "core/app.h"
#include "aws/awsjson.h"
#include "aws/ddb.h"
#include "aws/ddbval.h"
#include "base/isotime.h"
#include "base/jsonnum.h"
#include "core/lease.h"
#include "core/limit_group.h"
#include "core/names.h"
#include "core/pool.h"
#include "base/log.h"
#include "core/reconcile/reconcile.h"
#include "core/names.h"
#include "core/pipeline.h"
#include "core/store.h"
#include "core/config_item.h"
#include "core/ops_ls.h"
#include "script/policy.h"
#include "runtime/pool_json.h"
#include "runtime/rec_json.h"
#include "runtime/ls_json.h"
#include "cmd/cmd_progress.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void print_err(const char *cmd, const tp_err *e)
{
	fprintf(stderr, "taskpipe %s: %s%s%s\n", cmd, e->code[0] ? e->code : "", e->code[0] ? ": " : "",
		e->message);
}

/* Parse settings flags, reject other flags except those in `allowed`. */
static int parse(const char *cmd, int *argc, char **argv, struct settings *s, const char *const *allowed,
		 const char *usage)
{
	int rc = settings_cli(s, cmd, usage, argc, argv);
	if (rc >= 0)
		return rc;
	for (int i = 1; i < *argc; i++) {
		if (argv[i][0] != '-' || strcmp(argv[i], "-") == 0)
			continue;
		int ok = 0;
		for (int k = 0; allowed && allowed[k]; k++)
			if (strcmp(argv[i], allowed[k]) == 0)
				ok = 1;
		if (!ok) {
			fprintf(stderr, "taskpipe %s: unknown flag '%s'\n%s\n", cmd, argv[i], usage);
			return 2;
		}
	}
	return -1;
}

static int has_flag(int argc, char **argv, const char *flag)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], flag) == 0)
			return 1;
	return 0;
}

/* Positional arguments (not flags) into a new array. */
static size_t positional(int argc, char **argv, char ***out)
{
	*out = tp_xcalloc((size_t)argc + 1, sizeof **out);
	size_t n = 0;
	for (int i = 1; i < argc; i++)
		if (argv[i][0] != '-')
			(*out)[n++] = argv[i];
	return n;
}

static int open_app(const char *cmd, struct app *app, const struct settings *s)
{
	tp_err e = { 0 };
	if (app_open(app, s, &e) < 0) {
		print_err(cmd, &e);
		return -1;
	}
	return 0;
}

/* ---- init ---- */

/* CreateTable is asynchronous: "DynamoDB immediately returns a response with a
 * TableStatus of CREATING ... You can perform read and write operations only on
 * an ACTIVE table" (DynamoDB API Reference, CreateTable). A stream starts
 * ENABLING and is usable once ENABLED (DynamoDB Streams API Reference,
 * StreamDescription). init therefore polls DescribeTable (and DescribeStream)
 * until both are ready, or until TASKPIPE_INIT_TIMEOUT_S (default 300). */
#define INIT_POLL_FIRST_MS 100
#define INIT_POLL_MAX_MS 5000

static int init_timeout_s(void)
{
	static int said; /* init waits for two tables: a bad value is named once */
	long n;
	char why[160];
	if (setting_long(SET_INIT_TIMEOUT_S, &n, why, sizeof why) < 0 && !said++)
		fprintf(stderr, "taskpipe init: %s; using %ld\n", why, n);
	return (int)n;
}

/* The table's status ("ACTIVE", "CREATING", ...) and, when a stream is wanted,
 * the stream's ("ENABLED", "ENABLING", "(none)" before DescribeTable names one;
 * "NONE" when the table has no stream at all: StreamSpecification absent or
 * not enabled, a table made by hand or by another tool). */
static int table_status(struct app *app, const char *table, int stream, char *tst, char *sst, size_t len,
			tp_err *e)
{
	cJSON *in = cJSON_CreateObject(), *out = NULL;
	cJSON_AddStringToObject(in, "TableName", table);
	int rc = awsj_call(app->aws, SVC_DYNAMODB, "DescribeTable", in, &out, e);
	cJSON_Delete(in);
	if (rc < 0) {
		cJSON_Delete(out);
		return rc;
	}
	cJSON *td = cJSON_GetObjectItem(out, "Table");
	snprintf(tst, len, "%s", cJSON_GetStringValue(cJSON_GetObjectItem(td, "TableStatus")) ?: "ACTIVE");
	snprintf(sst, len, "%s", stream ? "(none)" : "ENABLED");
	const char *arn = cJSON_GetStringValue(cJSON_GetObjectItem(td, "LatestStreamArn"));
	cJSON *spec = cJSON_GetObjectItem(td, "StreamSpecification");
	if (stream && !cJSON_IsTrue(cJSON_GetObjectItem(spec, "StreamEnabled")) && td) {
		snprintf(sst, len, "NONE");
		arn = NULL;
	}
	if (stream && arn) {
		cJSON *sin = cJSON_CreateObject(), *sout = NULL;
		cJSON_AddStringToObject(sin, "StreamArn", arn);
		cJSON_AddNumberToObject(sin, "Limit", 1);
		rc = awsj_call(app->aws, SVC_STREAMS, "DescribeStream", sin, &sout, e);
		cJSON_Delete(sin);
		if (rc == TP_OK)
			snprintf(sst, len, "%s", cJSON_GetStringValue(cJSON_GetObjectItem(
				cJSON_GetObjectItem(sout, "StreamDescription"), "StreamStatus")) ?: "ENABLED");
		else if (rc == TP_ENOTFOUND) /* not there yet: keep waiting */
			rc = TP_OK, tp_err_clear(e);
		cJSON_Delete(sout);
	}
	cJSON_Delete(out);
	return rc;
}

/* Poll until the table is ACTIVE (and its stream ENABLED), with backoff. */
static int wait_active(struct app *app, const char *table, int stream, tp_err *e)
{
	int timeout_s = init_timeout_s();
	int64_t t0 = tp_mono_ms(), delay = INIT_POLL_FIRST_MS;
	char tst[32], sst[32];
	for (;;) {
		int rc = table_status(app, table, stream, tst, sst, sizeof tst, e);
		if (rc < 0 && rc != TP_ENOTFOUND) /* just created: DescribeTable may lag */
			return rc;
		if (rc == TP_OK && strcmp(tst, "ACTIVE") == 0 && strcmp(sst, "ENABLED") == 0)
			return TP_OK;
		if (rc == TP_OK && strcmp(tst, "ACTIVE") == 0 && strcmp(sst, "NONE") == 0)
			return tp_errf(e, TP_EINVAL, "NoStream",
				       "table %s has no stream (StreamSpecification not enabled): taskpipe follows the config table's stream; enable it (NEW_AND_OLD_IMAGES)",
				       table);
		int64_t waited = tp_mono_ms() - t0;
		if (waited >= (int64_t)timeout_s * 1000) {
			tp_err_clear(e);
			return tp_errf(e, TP_ELIMIT, "TableNotActive",
				       "table %s is still %s%s%s after %d s (TASKPIPE_INIT_TIMEOUT_S); run init again "
				       "later: it waits for the table without creating it twice",
				       table, rc == TP_OK ? tst : "not visible", stream && rc == TP_OK ? ", stream " : "",
				       stream && rc == TP_OK ? sst : "", timeout_s);
		}
		tp_err_clear(e);
		if (delay > (int64_t)timeout_s * 1000 - waited)
			delay = (int64_t)timeout_s * 1000 - waited;
		tp_sleep_ms(delay);
		delay = delay * 2 > INIT_POLL_MAX_MS ? INIT_POLL_MAX_MS : delay * 2;
	}
}

/* A config table made without a stream (by hand, by another tool) gets one:
 * init makes what is missing, and the stream is what taskpipe follows.
 * UpdateTable is asynchronous (ACTIVE -> UPDATING, the stream ENABLING;
 * API_UpdateTable): the table must be ACTIVE first, and is waited for after. */
static int enable_stream(struct app *app, const char *table, tp_err *e)
{
	int rc = wait_active(app, table, 0, e);
	if (rc < 0)
		return rc;
	printf("table %s: exists without a stream; enabling it (NEW_AND_OLD_IMAGES)\n", table);
	fflush(stdout);
	cJSON *in = cJSON_CreateObject(), *out = NULL;
	cJSON_AddStringToObject(in, "TableName", table);
	cJSON *ss = cJSON_AddObjectToObject(in, "StreamSpecification");
	cJSON_AddBoolToObject(ss, "StreamEnabled", 1);
	cJSON_AddStringToObject(ss, "StreamViewType", "NEW_AND_OLD_IMAGES");
	rc = awsj_call(app->aws, SVC_DYNAMODB, "UpdateTable", in, &out, e);
	cJSON_Delete(in);
	cJSON_Delete(out);
	if (rc < 0) {
		tp_err why = *e;
		tp_err_clear(e);
		return tp_errf(e, rc, "NoStream",
			       "table %s has no stream, which taskpipe follows, and enabling it failed: %s: %s; enable it yourself (StreamSpecification StreamEnabled, NEW_AND_OLD_IMAGES)",
			       table, why.code, why.message);
	}
	rc = wait_active(app, table, 1, e);
	if (rc == TP_OK)
		printf("table %s: stream enabled\n", table);
	return rc;
}

static int ensure_table(struct app *app, const char *table, const char *key, int stream, tp_err *e)
{
	char tst[32], sst[32];
	int rc = table_status(app, table, stream, tst, sst, sizeof tst, e);
	if (rc == TP_OK && stream && strcmp(sst, "NONE") == 0)
		return enable_stream(app, table, e);
	if (rc == TP_OK) {
		if (strcmp(tst, "ACTIVE") == 0 && strcmp(sst, "ENABLED") == 0) {
			printf("table %s: exists\n", table);
			return TP_OK;
		}
		/* CREATING (another init, or CloudFormation): not ready, wait */
		printf("table %s: exists, %s%s%s; waiting\n", table, tst, stream ? ", stream " : "", stream ? sst : "");
		fflush(stdout);
		rc = wait_active(app, table, stream, e);
		if (rc == TP_OK)
			printf("table %s: active\n", table);
		return rc;
	}
	if (rc != TP_ENOTFOUND)
		return rc;
	cJSON *in = cJSON_CreateObject(), *out = NULL;
	cJSON_AddStringToObject(in, "TableName", table);
	cJSON *ks = cJSON_AddArrayToObject(in, "KeySchema"), *k = cJSON_CreateObject();
	cJSON_AddStringToObject(k, "AttributeName", key);
	cJSON_AddStringToObject(k, "KeyType", "HASH");
	cJSON_AddItemToArray(ks, k);
	cJSON *ad = cJSON_AddArrayToObject(in, "AttributeDefinitions"), *a = cJSON_CreateObject();
	cJSON_AddStringToObject(a, "AttributeName", key);
	cJSON_AddStringToObject(a, "AttributeType", "S");
	cJSON_AddItemToArray(ad, a);
	cJSON_AddStringToObject(in, "BillingMode", "PAY_PER_REQUEST");
	if (stream) {
		cJSON *ss = cJSON_AddObjectToObject(in, "StreamSpecification");
		cJSON_AddBoolToObject(ss, "StreamEnabled", 1);
		cJSON_AddStringToObject(ss, "StreamViewType", "NEW_AND_OLD_IMAGES");
	}
	tp_err_clear(e);
	rc = awsj_call(app->aws, SVC_DYNAMODB, "CreateTable", in, &out, e);
	cJSON_Delete(in);
	cJSON_Delete(out);
	if (rc == TP_OK) {
		printf("table %s: created, waiting until ACTIVE\n", table);
		fflush(stdout);
		rc = wait_active(app, table, stream, e);
		if (rc == TP_OK)
			printf("table %s: active\n", table);
	}
	return rc;
}

static int ensure_bucket(struct app *app, const char *bucket, tp_err *e)
{
	char *path = tp_xasprintf("/%s", bucket);
	struct aws_call c = { .service = SVC_S3, .op = "HeadBucket", .method = "HEAD", .path = path };
	aws_call_one(app->aws, &c);
	int rc = c.rc;
	aws_call_free(&c);
	if (rc == TP_OK) {
		printf("bucket %s: exists\n", bucket);
		free(path);
		return TP_OK;
	}
	buf body = { 0 };
	const char *region = aws_region(app->aws);
	if (strcmp(region, "us-east-1") != 0)
		buf_addf(&body, "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
			 "<LocationConstraint>%s</LocationConstraint></CreateBucketConfiguration>", region);
	struct aws_call cb = { .service = SVC_S3, .op = "CreateBucket", .method = "PUT", .path = path,
			       .body = body.data, .body_len = body.len, .content_type = "application/xml" };
	rc = aws_call_one(app->aws, &cb);
	if (rc < 0)
		*e = cb.err;
	aws_call_free(&cb);
	buf_free(&body);
	if (rc == TP_OK) {
		/* Versioned: rollouts name the exact object version. */
		static const char vers[] = "<VersioningConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
					   "<Status>Enabled</Status></VersioningConfiguration>";
		struct aws_call cv = { .service = SVC_S3, .op = "PutBucketVersioning", .method = "PUT",
				       .path = path, .query = "versioning=", .body = vers,
				       .body_len = sizeof vers - 1, .content_type = "application/xml" };
		rc = aws_call_one(app->aws, &cv);
		if (rc < 0)
			*e = cv.err;
		aws_call_free(&cv);
		if (rc == TP_OK)
			printf("bucket %s: created, versioning enabled\n", bucket);
	}
	free(path);
	return rc;
}

static const char init_usage[] =
	"usage: taskpipe init [--settings-from-env]\n"
	"Creates what is missing of the config table (stream NEW_AND_OLD_IMAGES, TTL on\n"
	"expires_at), the "
	"state table and, when a code bucket is set, the versioned code bucket. A\n"
	"config table without a stream gets one (UpdateTable); when that is refused,\n"
	"init fails at once naming the missing stream. For local use, demos and\n"
	"tests; CloudFormation does this in production.\n"
	"Then stores the instance's shared settings (consumer layers, code bucket and\n"
	"key, role, prefix, owner, runtime, state table) in the state table\n"
	"(settings#instance) when none are stored; every process reads them. With\n"
	"settings stored already, one given here with another value is an error\n"
	"naming it; --settings-from-env replaces the stored set with these.\n";

/* The shared settings: stored when absent (or asked to); a conflict fails. */
static int init_settings(struct app *app, tp_err *e)
{
	int written = 0;
	if (app->settings_conflict[0])
		return app_may_write(app, e);
	int rc = app_settings_store(app, !app->set.from_env, &written, e);
	if (rc == TP_OK)
		printf("settings: %s (settings#instance in %s)\n",
		       written ? "stored" : "as stored", app->set.state_table);
	return rc;
}

/* TTL on the config table's expires_at: DynamoDB deletes expired items
 * (within days; taskpipe drains them at once). Idempotent. */
static int ensure_ttl(struct app *app, const char *table, tp_err *e)
{
	cJSON *in = cJSON_CreateObject(), *out = NULL;
	cJSON_AddStringToObject(in, "TableName", table);
	int rc = awsj_call(app->aws, SVC_DYNAMODB, "DescribeTimeToLive", in, &out, e);
	cJSON *d = cJSON_GetObjectItem(out, "TimeToLiveDescription");
	const char *st = cJSON_GetStringValue(cJSON_GetObjectItem(d, "TimeToLiveStatus"));
	const char *attr = cJSON_GetStringValue(cJSON_GetObjectItem(d, "AttributeName"));
	int on = st && attr && strcmp(attr, "expires_at") == 0 &&
		 (strcmp(st, "ENABLED") == 0 || strcmp(st, "ENABLING") == 0);
	cJSON_Delete(out);
	out = NULL;
	if (rc == TP_OK && on) {
		printf("table %s: TTL on expires_at\n", table);
	} else if (rc == TP_OK) {
		cJSON *spec = cJSON_AddObjectToObject(in, "TimeToLiveSpecification");
		cJSON_AddBoolToObject(spec, "Enabled", 1);
		cJSON_AddStringToObject(spec, "AttributeName", "expires_at");
		rc = awsj_call(app->aws, SVC_DYNAMODB, "UpdateTimeToLive", in, &out, e);
		if (rc == TP_OK)
			printf("table %s: TTL set on expires_at\n", table);
	}
	cJSON_Delete(in);
	cJSON_Delete(out);
	return rc;
}

int cmd_init(int argc, char **argv)
{
	struct settings s;
	int rc = parse("init", &argc, argv, &s, NULL, init_usage);
	if (rc >= 0)
		return rc;
	struct app app;
	if (open_app("init", &app, &s) < 0)
		return 1;
	tp_err e = { 0 };
	rc = ensure_table(&app, s.config_table, "pipeline", 1, &e);
	if (rc == TP_OK)
		rc = ensure_ttl(&app, s.config_table, &e);
	if (rc == TP_OK)
		rc = ensure_table(&app, s.state_table, "pk", 0, &e);
	if (rc == TP_OK && app.set.code_bucket)
		rc = ensure_bucket(&app, app.set.code_bucket, &e);
	if (rc == TP_OK)
		rc = init_settings(&app, &e);
	if (rc < 0)
		print_err("init", &e);
	app_close(&app);
	return rc < 0 ? 1 : 0;
}

/* ---- put / rm / forget ---- */

static const char put_usage[] =
	"usage: taskpipe put [--no-check] FILE...   (- reads standard input)\n"
	"Writes config items. A file holds any number of items: one JSON object, a\n"
	"JSON array of them, or JSON lines (objects one after another). An item is\n"
	"plain JSON ({\"pipeline\":\"a\",\"concurrency\":2}), DynamoDB AttributeValue\n"
	"JSON or GetItem's {\"Item\":{...}}; it needs a string \"pipeline\".\n"
	"A limit group's item has \"limit_group\" and no \"pipeline\" ({\"limit_group\":\"acme-api\",\n"
	"\"rate\":\"600/min\",\"burst\":5}; its key is limit#acme-api); a file's groups are\n"
	"put before its pipelines, so members can come first.\n"
	"Every item is reported (\"put NAME\" or why it was refused, with FILE:LINE);\n"
	"one refused item does not stop the others. Each item is first run through\n"
	"the policy, as apply would, and refused with the policy's reason (an unknown\n"
	"field, a bad value, a bad name); --no-check writes it unchecked.\n"
	"expires_at (epoch seconds, or ISO 8601 like 2026-12-07T18:00:00Z) is stored as\n"
	"a number: after it the pipeline drains as if the item were removed.\n"
	"Exit 0: every item written, 1: any refused or failed.\n";

/* DynamoDB TTL reads only numbers (epoch seconds): an ISO 8601 expires_at
 * becomes one; anything else is refused, naming the field. */
static int normalize_expires_at(cJSON *item, char *why, size_t len)
{
	cJSON *v = cJSON_GetObjectItem(item, "expires_at");
	if (!v)
		return 0;
	const char *iso = cJSON_GetStringValue(cJSON_GetObjectItem(v, "S"));
	const char *num = cJSON_GetStringValue(cJSON_GetObjectItem(v, "N"));
	long secs;
	if (iso) {
		int64_t ms;
		if (tp_iso8601_ms(iso, &ms) < 0) {
			snprintf(why, len, "expires_at: '%s' is not ISO 8601 with a zone (2026-12-07T18:00:00Z) nor epoch seconds", iso);
			return -1;
		}
		secs = (long)(ms / 1000);
	} else if (num) {
		char *end;
		secs = strtol(num, &end, 10);
		if (*end || secs < 0) {
			snprintf(why, len, "expires_at: %s is not whole epoch seconds", num);
			return -1;
		}
		if (secs > 100000000000L) {
			snprintf(why, len, "expires_at: %s looks like milliseconds; DynamoDB TTL wants epoch seconds", num);
			return -1;
		}
		return 0;
	} else {
		snprintf(why, len, "expires_at: must be epoch seconds (a number) or an ISO 8601 string");
		return -1;
	}
	cJSON_DeleteItemFromObject(item, "expires_at");
	ddb_put_long(item, "expires_at", secs);
	return 0;
}

static void warn_expired(const char *file, const cJSON *item)
{
	long at = ddb_get_long(item, "expires_at", 0);
	if (at > 0 && at <= (long)(tp_now_ms() / 1000))
		fprintf(stderr, "taskpipe put: %s: warning: expires_at %ld is in the past: the pipeline drains at once\n",
			file, at);
}

#define PUT_MAX_FILE (64u << 20)

struct put_run {
	struct app *app;
	int check;      /* run the policy before writing */
	int written, refused;
	struct limit_groups *groups; /* members are checked against these (the table's, and the ones put now) */
};

/* What apply would refuse of the item before anything, without AWS: the
 * name (a limit group's item: its check) and the policy's answer, with the
 * member's group. The answer's fields (spec_parse) are judged by apply and
 * plan, which report them per pipeline. */
static int put_check(struct put_run *pr, const char *name, const cJSON *item, tp_err *e)
{
	struct app *app = pr->app;
	if (limit_group_key_is(name))
		return limit_groups_check(pr->groups, item, e);
	struct names nm;
	if (names_for(app->set.prefix, name, &nm, e) < 0)
		return e->rc;
	cJSON *sv = NULL;
	char note[300];
	if (limit_groups_spec(pr->groups, item, &sv, note, sizeof note, e) < 0)
		return e->rc;
	if (note[0]) { /* a removed group: fine for members applied before, not for a new put */
		cJSON_Delete(sv);
		return tp_errf(e, TP_EINVAL, "NoLimitGroup", "limit_group: no limit group '%s' (it was removed: put it "
			       "again first, or remove limit_group from the item)", ddb_get_str(item, "limit_group", ""));
	}
	cJSON_Delete(sv);
	return TP_OK;
}

/* groups: the pass for limit groups' items (put first, so a file's members
 * are checked against them), else the one for every other item. */
static void put_one(struct put_run *pr, const char *where, const cJSON *json, int groups)
{
	char why[300] = "";
	tp_err e = { 0 };
	const cJSON *wrapped = cJSON_GetObjectItemCaseSensitive(json, "Item");
	if (cJSON_IsObject(json) && json->child && !json->child->next && cJSON_IsObject(wrapped))
		json = wrapped; /* GetItem's output */
	cJSON *item = ddb_item_from_json(json, why, sizeof why);
	int group = item ? limit_group_item_keyed(item, why, sizeof why) : 0;
	if (groups != (group == 1)) {
		cJSON_Delete(item); /* the other pass's */
		return;
	}
	const char *name = item ? ddb_get_str(item, "pipeline", NULL) : NULL;
	if (!item || group < 0) {
		fprintf(stderr, "taskpipe put: %s: %s\n", where, why);
	} else if (normalize_expires_at(item, why, sizeof why) < 0) {
		fprintf(stderr, "taskpipe put: %s: %s\n", where, why);
	} else if (ddbval_check_item(item, why, sizeof why) < 0) {
		fprintf(stderr, "taskpipe put: %s: %s\n", where, why);
	} else if (!name) {
		fprintf(stderr, "taskpipe put: %s: the item needs a string \"pipeline\" (the pipeline's name)\n",
			where);
	} else if (pr->check && put_check(pr, name, item, &e) < 0) {
		fprintf(stderr, "taskpipe put: %s: %s: refused: %s: %s (--no-check writes it anyway)\n", where,
			name, e.code, e.message);
	} else {
		warn_expired(where, item);
		int rc = config_item_put(pr->app, item, &e);
		if (rc < 0)
			fprintf(stderr, "taskpipe put: %s: %s: %s: %s\n", where, name, e.code, e.message);
		else if (group)
			printf("put limit group %s\n", limit_group_key_name(name));
		else
			printf("put %s\n", name);
		pr->written += rc == TP_OK;
		pr->refused += rc < 0;
		cJSON_Delete(item);
		return;
	}
	pr->refused++;
	cJSON_Delete(item);
}

static int line_of(const char *text, const char *at)
{
	int line = 1;
	for (const char *c = text; c < at; c++)
		line += *c == '\n';
	return line;
}

/* Every JSON value in the file, in order: an array's elements are items
 * each. Text that is not JSON is reported and skipped up to the next line
 * that starts a value ('{' or '[' in column 1), so one bad line of JSON
 * lines costs only itself. */
static void put_file(struct put_run *pr, const char *file)
{
	const char *label = strcmp(file, "/dev/stdin") == 0 ? "-" : file;
	buf text = { 0 };
	tp_err e = { 0 };
	if (tp_read_file(file, PUT_MAX_FILE, &text, &e) < 0) {
		fprintf(stderr, "taskpipe put: %s: %s\n", label, e.message);
		pr->refused++;
		buf_free(&text);
		return;
	}
	const char *t = buf_str(&text);
	if (ddbval_json_has_nul(t)) {
		/* cJSON would cut the string there: a name or env value silently shortened */
		fprintf(stderr, "taskpipe put: %s: a string holds a NUL character (\\u0000); nothing read\n", label);
		pr->refused++;
		buf_free(&text);
		return;
	}
	int values = 0;
	const char *p = t;
	struct put_value { char where[600]; cJSON *v; const cJSON *el; } *vals = NULL;
	size_t nv = 0, cap = 0;
	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		if (!*p)
			break;
		const char *end;
		cJSON *v = jsonnum_parse_next(p, &end);
		int line = line_of(t, p);
		values++;
		if (!v) {
			const char *next = end > p ? end : p + 1;
			while (*next && !(next[-1] == '\n' && (*next == '{' || *next == '[')))
				next++;
			int last = line_of(t, next) - (*next ? 1 : 0);
			if (last > line)
				fprintf(stderr, "taskpipe put: %s:%d: not valid JSON (line %d); lines %d-%d skipped\n",
					label, line, line_of(t, end), line, last);
			else
				fprintf(stderr, "taskpipe put: %s:%d: not valid JSON\n", label, line);
			pr->refused++;
			p = next;
			continue;
		}
		int k = cJSON_IsArray(v) ? cJSON_GetArraySize(v) : 1;
		if (nv + (size_t)k + 1 > cap) {
			cap = 2 * cap + (size_t)k + 8;
			vals = tp_xrealloc(vals, cap * sizeof *vals);
		}
		if (cJSON_IsArray(v)) {
			int i = 0;
			const cJSON *el;
			cJSON_ArrayForEach(el, v) {
				snprintf(vals[nv].where, sizeof vals[nv].where, "%s:%d[%d]", label, line, i++);
				vals[nv].v = i == 1 ? v : NULL; /* the array is freed once */
				vals[nv++].el = el;
			}
			if (i == 0) {
				fprintf(stderr, "taskpipe put: %s:%d: an empty array: no items\n", label, line);
				cJSON_Delete(v);
			}
		} else {
			snprintf(vals[nv].where, sizeof vals[nv].where, "%s:%d", label, line);
			vals[nv].v = v;
			vals[nv++].el = v;
		}
		p = end;
	}
	for (int groups = 1; groups >= 0; groups--)
		for (size_t i = 0; i < nv; i++)
			put_one(pr, vals[i].where, vals[i].el, groups);
	for (size_t i = 0; i < nv; i++)
		cJSON_Delete(vals[i].v);
	free(vals);
	if (values == 0) {
		fprintf(stderr, "taskpipe put: %s: no items (empty)\n", label);
		pr->refused++;
	}
	buf_free(&text);
}

int cmd_put(int argc, char **argv)
{
	static const char *const flags[] = { "--no-check", NULL };
	struct settings s;
	int rc = parse("put", &argc, argv, &s, flags, put_usage);
	if (rc >= 0)
		return rc;
	char **files;
	size_t n = positional(argc, argv, &files);
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "-") == 0)
			files[n++] = "/dev/stdin";
	if (n == 0) {
		fputs(put_usage, stderr);
		free(files);
		return 2;
	}
	struct app app;
	if (open_app("put", &app, &s) < 0) {
		free(files);
		return 1;
	}
	struct put_run pr = { .app = &app, .check = !has_flag(argc, argv, "--no-check") };
	if (pr.check) {
		cJSON *ctx = app_policy_ctx_value(&app);
		policy_set_ctx(app.policy, ctx);
		cJSON_Delete(ctx);
		pr.groups = limit_groups_new(&app, app.policy);
	}
	for (size_t i = 0; i < n; i++)
		put_file(&pr, files[i]);
	if (pr.written + pr.refused > 1)
		printf("%d items: %d put, %d refused\n", pr.written + pr.refused, pr.written, pr.refused);
	limit_groups_free(pr.groups);
	app_close(&app);
	free(files);
	return pr.refused ? 1 : 0;
}

static const char rm_usage[] =
	"usage: taskpipe rm NAME... [--now]\n"
	"Deletes config items. Each pipeline then drains: its function keeps consuming\n"
	"until the queue has been empty a minute (or drain_timeout runs out, then the\n"
	"queue is kept), and the next runs delete it (taskpipe ls shows it draining).\n"
	"--now deletes the pipelines at once, queued and dead-lettered tasks with them,\n"
	"and says how many messages that dropped. A name without an item is an error\n"
	"(nothing is changed for it). limit#NAME removes a limit group: its members\n"
	"apply without it (their own rates stay).\n";

/* rm --now: the removed pipelines go in this run, messages and all. */
static int delete_now(struct app *app, char **names, size_t n)
{
	char holder[128];
	lease_holder_id("cli", holder, sizeof holder);
	struct reconcile_opts o = { .delete_now = 1, .force = 1, .holder = holder };
	struct rec_result *res = NULL;
	size_t nr = 0;
	tp_err e = { 0 };
	if (reconcile_run(app, names, n, 0, &o, &res, &nr, &e) < 0) {
		print_err("rm", &e);
		return 1;
	}
	int failed = 0;
	for (size_t i = 0; i < nr; i++) {
		if (res[i].rc != TP_OK) {
			fprintf(stderr, "taskpipe rm: %s: %s: %s\n", res[i].name, res[i].err.code, res[i].err.message);
			failed++;
		} else {
			printf("deleted %s now: %ld messages dropped\n", res[i].name, res[i].dropped);
		}
	}
	reconcile_results_free(res, nr);
	return failed;
}

int cmd_rm(int argc, char **argv)
{
	static const char *const flags[] = { "--now", NULL };
	struct settings s;
	int rc = parse("rm", &argc, argv, &s, flags, rm_usage);
	if (rc >= 0)
		return rc;
	char **names;
	size_t n = positional(argc, argv, &names);
	if (n == 0) {
		fputs(rm_usage, stderr);
		free(names);
		return 2;
	}
	int now = has_flag(argc, argv, "--now");
	struct app app;
	if (open_app("rm", &app, &s) < 0) {
		free(names);
		return 1;
	}
	int failed = 0;
	size_t gone = 0;
	for (size_t i = 0; i < n; i++) {
		tp_err e = { 0 };
		int exists = 0;
		/* A missing item is reported without a mutating call ... */
		int group = limit_group_key_is(names[i]);
		if (config_item_exists(&app, names[i], &exists, &e) == TP_OK && !exists) {
			char *key = limit_group_key(names[i]);
			int is_group = 0;
			tp_err ge = { 0 };
			if (!group && config_item_exists(&app, key, &is_group, &ge) == TP_OK && is_group)
				fprintf(stderr, "taskpipe rm: %s: NotFound: no pipeline item %s in %s; a limit group has that "
					"name: taskpipe rm %s\n", names[i], names[i], s.config_table, key);
			else
				fprintf(stderr, "taskpipe rm: %s: NotFound: no such config item in %s\n", names[i],
					s.config_table);
			free(key);
			failed++;
			continue;
		}
		/* The removal is recorded before the item goes, so members apply
		 * without the group even when no controller sees the stream. */
		if (group && limit_group_removed(&app, limit_group_key_name(names[i]), &e) < 0) {
			fprintf(stderr, "taskpipe rm: %s: %s: %s (nothing removed)\n", names[i], e.code, e.message);
			failed++;
			continue;
		}
		/* ... and one deleted meanwhile too: never "removed". */
		tp_err_clear(&e);
		if (config_item_delete(&app, names[i], 1, &e) < 0) {
			fprintf(stderr, "taskpipe rm: %s: %s: %s\n", names[i], e.code, e.message);
			failed++;
		} else if (group) {
			/* never to delete_now: the members stay, only the group goes */
			printf("removed limit group %s (its members apply without it)\n", limit_group_key_name(names[i]));
		} else {
			printf("removed %s%s\n", names[i], now ? "" : " (its pipeline drains)");
			names[gone++] = names[i];
		}
	}
	if (now && gone)
		failed += delete_now(&app, names, gone);
	app_close(&app);
	free(names);
	return failed ? 1 : 0;
}

static const char forget_usage[] =
	"usage: taskpipe forget NAME...\n"
	"Removes what the state table records of a pipeline whose config item no\n"
	"longer exists (its status and lease; a pause stays until resume), for a name\n"
	"that can never be applied (a bad name written with --no-check or by hand).\n"
	"Refused while the item exists. Resources are not touched: drift lists any\n"
	"left behind as orphans.\n";

int cmd_forget(int argc, char **argv)
{
	struct settings s;
	int rc = parse("forget", &argc, argv, &s, NULL, forget_usage);
	if (rc >= 0)
		return rc;
	char **names;
	size_t n = positional(argc, argv, &names);
	if (n == 0) {
		fputs(forget_usage, stderr);
		free(names);
		return 2;
	}
	struct app app;
	if (open_app("forget", &app, &s) < 0) {
		free(names);
		return 1;
	}
	int failed = 0;
	for (size_t i = 0; i < n; i++) {
		tp_err e = { 0 };
		int had = 0, exists = 0;
		rc = config_item_exists(&app, names[i], &exists, &e);
		if (rc == TP_OK && exists)
			tp_errf(&e, TP_EINVAL, "ItemExists",
				"the config item exists: rm it first (forget is for items that are gone)");
		else if (rc == TP_OK)
			rc = store_pipeline_forget(app.aws, s.state_table, names[i], &had, &e);
		if (e.rc < 0) {
			fprintf(stderr, "taskpipe forget: %s: %s: %s\n", names[i], e.code, e.message);
			failed++;
		} else if (!had) {
			fprintf(stderr, "taskpipe forget: %s: NotFound: no state recorded\n", names[i]);
			failed++;
		} else {
			printf("forgot %s\n", names[i]);
		}
	}
	app_close(&app);
	free(names);
	return failed ? 1 : 0;
}

/* ---- plan / apply ---- */

static void print_change(const cJSON *c)
{
	const char *res = cJSON_GetStringValue(cJSON_GetObjectItem(c, "resource"));
	const char *act = cJSON_GetStringValue(cJSON_GetObjectItem(c, "action"));
	if (act) {
		printf("    %s %s\n", act, res);
		return;
	}
	printf("    %s.%s: %s -> %s\n", res, cJSON_GetStringValue(cJSON_GetObjectItem(c, "field")),
	       cJSON_GetStringValue(cJSON_GetObjectItem(c, "from")),
	       cJSON_GetStringValue(cJSON_GetObjectItem(c, "to")));
}

/* The fleet's demand on the account's concurrency pool next to the
 * account itself (one GetAccountSettings): into doc as "pool", and as a
 * line on stdout unless json. */
static void report_pool(struct app *app, const struct pool_demand *d, cJSON *doc, int json)
{
	struct pool_account pa;
	tp_err e = { 0 };
	int known = pool_read(app, &pa, &e) == TP_OK;
	cJSON_AddItemToObject(doc, "pool", pool_json(known ? &pa : NULL, &e, d));
	if (!json) {
		char line[512];
		pool_line(line, sizeof line, known ? &pa : NULL, &e, d);
		puts(line);
	}
}

static int run_reconcile(const char *cmd, int argc, char **argv, int plan, const char *usage)
{
	static const char *const flags[] = { "--all", "--force", NULL };
	struct settings s;
	int rc = parse(cmd, &argc, argv, &s, flags, usage);
	if (rc >= 0)
		return rc;
	char **names;
	size_t n = positional(argc, argv, &names);
	int all = has_flag(argc, argv, "--all") || (plan && n == 0);
	if (!all && n == 0) {
		fprintf(stderr, "taskpipe %s: name pipelines or give --all\n%s", cmd, usage);
		free(names);
		return 2;
	}
	if (all && n) {
		fprintf(stderr, "taskpipe %s: --all and names do not mix\n", cmd);
		free(names);
		return 2;
	}
	struct app app;
	if (open_app(cmd, &app, &s) < 0) {
		free(names);
		return 1;
	}
	char holder[128];
	lease_holder_id("cli", holder, sizeof holder);
	/* Named pipelines are observed, as plan does: what apply says of them
	 * is what is there. --all may confirm by hash (and says so). */
	struct reconcile_opts o = { .plan = plan, .force = plan || !all || has_flag(argc, argv, "--force"),
				    .holder = holder, .known_only = !all };
	struct rec_result *res = NULL;
	size_t nr = 0;
	tp_err e = { 0 };
	int64_t t0 = tp_mono_ms();
	cmd_progress_begin(app.aws, cmd, s.json);
	rc = reconcile_run(&app, names, n, all, &o, &res, &nr, &e);
	cmd_progress_end(app.aws);
	if (rc < 0) {
		print_err(cmd, &e);
		app_close(&app);
		free(names);
		return 1;
	}
	int errors = 0, changes = 0, confirmed = 0;
	cJSON *doc = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(doc, "pipelines");
	for (size_t i = 0; i < nr; i++) {
		errors += res[i].rc != TP_OK;
		changes += res[i].rc == TP_OK && res[i].changes > 0;
		confirmed += res[i].rc == TP_OK && res[i].confirmed;
		cJSON_AddItemToArray(arr, rec_result_json(&res[i]));
	}
	struct pool_demand demand = { 0 };
	for (size_t i = 0; plan && i < nr; i++) {
		if (!res[i].has_spec)
			continue;
		demand.pipelines++;
		demand.reserved += res[i].reserved;
		demand.max_concurrency += res[i].max_concurrency;
	}
	if (plan && s.json)   /* in text, the line follows the pipelines */
		report_pool(&app, &demand, doc, 1);
	app_stats_json(&app, doc);
	cJSON_AddNumberToObject(doc, "elapsed_ms", (double)(tp_mono_ms() - t0));
	if (s.json) {
		char *txt = cJSON_Print(doc);
		puts(txt);
		free(txt);
	} else {
		cJSON *p;
		cJSON_ArrayForEach(p, arr) {
			const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(p, "pipeline"));
			cJSON *err = cJSON_GetObjectItem(p, "error");
			cJSON *ch = cJSON_GetObjectItem(p, "changes");
			const char *act = cJSON_GetStringValue(cJSON_GetObjectItem(p, "action"));
			if (err) {
				printf("! %s: %s: %s\n", name, cJSON_GetStringValue(cJSON_GetObjectItem(err, "code")),
				       cJSON_GetStringValue(cJSON_GetObjectItem(err, "message")));
			} else if (cJSON_GetObjectItem(p, "state") && cJSON_GetArraySize(ch) == 0) {
				/* A removed item's pipeline: its drain, not drift. */
				printf("  %s: %s\n", name, cJSON_GetStringValue(cJSON_GetObjectItem(p, "state")));
			} else if (cJSON_GetArraySize(ch) == 0 || strcmp(act, "none") == 0) {
				/* For the whole fleet only what changed is news. */
				int by_hash = cJSON_IsTrue(cJSON_GetObjectItem(p, "confirmed_by_hash"));
				if (!all)
					printf("  %s: %s%s\n", name,
					       by_hash ? "unchanged since last apply (not checked)" : "in sync",
					       cJSON_IsTrue(cJSON_GetObjectItem(p, "paused")) ? " (paused)" : "");
			} else {
				printf("%s %s: %s%s\n", plan ? "~" : "*", name, plan ? "would " : "", act);
				cJSON *c;
				cJSON_ArrayForEach(c, ch)
					print_change(c);
			}
			const char *note = cJSON_GetStringValue(cJSON_GetObjectItem(p, "note"));
			if (note)
				printf("    note: %s\n", note);
		}
		if (confirmed)
			printf("%d unchanged since last apply (not checked; --force observes them)\n", confirmed);
		if (plan)
			report_pool(&app, &demand, doc, 0);
		printf("%zu pipelines: %d %s, %d errors; %ld AWS requests (%ld Lambda, %ld mutating)\n", nr,
		       changes, plan ? "to change" : "changed", errors,
		       aws_stats_requests(app.aws),
		       aws_stats_lambda(app.aws), aws_stats_mutating(app.aws));
	}
	log_msg(LOG_INFO, NULL, "%s: %zu pipelines, %d errors, %ld Lambda calls", cmd, nr, errors,
		aws_stats_lambda(app.aws));
	cJSON_Delete(doc);
	reconcile_results_free(res, nr);
	app_close(&app);
	free(names);
	if (errors)
		return 1;
	return plan && changes ? 2 : 0;
}

static const char plan_usage[] =
	"usage: taskpipe plan [NAME...] [--json]\n"
	"Shows, field by field, what apply would change (all pipelines when no name\n"
	"is given). Exit 0: no changes, 2: changes, 1: errors (like terraform plan\n"
	"-detailed-exitcode). Changes nothing.\n";

int cmd_plan(int argc, char **argv)
{
	return run_reconcile("plan", argc, argv, 1, plan_usage);
}

static const char apply_usage[] =
	"usage: taskpipe apply NAME... | --all  [--force] [--json]\n"
	"Makes the named pipelines (or all, including those whose items were deleted)\n"
	"match their config items. Named pipelines are observed and repaired as plan\n"
	"sees them (\"in sync\" means looked at); a name with neither item nor record is\n"
	"an error. With --all, items unchanged since their last apply are confirmed\n"
	"from the state table without touching Lambda and counted as \"unchanged since\n"
	"last apply (not checked)\"; --force observes and repairs them too.\n"
	"Exit 0: all ok, 1: any pipeline failed (the others still apply).\n";

int cmd_apply(int argc, char **argv)
{
	return run_reconcile("apply", argc, argv, 0, apply_usage);
}

/* ---- ls ---- */

static const char ls_usage[] =
	"usage: taskpipe ls [NAME|GLOB...] [--kept] [--json]\n"
	"Lists config items (those matching a NAME or shell GLOB, 'tenant-*'; all\n"
	"when none is given) with: enabled (the item's word), paused (an operator's\n"
	"pause: taskpipe pause/resume), rate and concurrency (as the item states\n"
	"them; - when unset) and the pipeline's last status from the state table.\n"
	"Removed (or expired) items' pipelines that are draining or kept are listed\n"
	"too, and records whose items are gone otherwise as \"(no item)\" (taskpipe\n"
	"forget clears them). --kept lists only the queues kept because they held\n"
	"messages (taskpipe kept). Limit groups follow the pipelines: rate, burst and\n"
	"members (in --json, rows with \"kind\": \"limit_group\"; pipelines' rows have\n"
	"\"kind\": \"pipeline\" and their \"limit_group\"). Unfiltered, then the fleet's demand on the account's\n"
	"concurrency pool (the specs in force: sum of MaximumConcurrency and of\n"
	"reservations) against the account's limit (one GetAccountSettings; not\n"
	"with --json, whose output stays the array of rows: plan and drift --json\n"
	"carry it). Exit 1 when a NAME without glob characters matches nothing.\n";

/* The MESSAGE column: an error, a drain, kept queues. */
static void ls_note(const struct ops_ls_row *r, char *out, size_t len)
{
	size_t n = 0;
	out[0] = 0;
	if (!r->item && !r->n_kept && !r->drain_started_at) {
		snprintf(out, len, "(no item)%s%s", r->message ? " " : "", r->message ? r->message : "");
		return;
	}
	if (r->message) {
		snprintf(out, len, "%s", r->message);
		return;
	}
	for (int i = 0; i < r->n_kept; i++)
		n += (size_t)snprintf(out + n, n < len ? len - n : 0, "%skept %s: %ld messages", n ? "; " : "",
				      r->kept[i].queue, r->kept[i].messages);
	if (!r->n_kept && r->drain_started_at)
		snprintf(out, len, "draining since %ld (timeout %ld s)", r->drain_started_at, r->drain_timeout);
}

/* The limit groups' table, after the pipelines': rate, burst, members. */
static void ls_print_groups(const struct ops_ls *l)
{
	printf("\n%-32s %-8s %-5s %s\n", "LIMIT GROUP", "RATE", "BURST", "MEMBERS");
	for (size_t i = 0; i < l->n; i++) {
		const struct ops_ls_row *r = &l->rows[i];
		if (r->kind != OPS_LS_LIMIT_GROUP)
			continue;
		char list[600];
		size_t n = (size_t)snprintf(list, sizeof list, "%zu", r->n_members);
		for (size_t j = 0; j < r->n_members && n < sizeof list; j++)
			n += (size_t)snprintf(list + n, sizeof list - n, "%s%s", j ? ", " : ": ", r->members[j]);
		if (n >= sizeof list)
			snprintf(list + sizeof list - 5, 5, "...");
		printf("%-32s %-8s %-5s %s\n", r->name, r->rate, r->burst, list);
	}
}

int cmd_ls(int argc, char **argv)
{
	static const char *const flags[] = { "--kept", NULL };
	struct settings s;
	int rc = parse("ls", &argc, argv, &s, flags, ls_usage);
	if (rc >= 0)
		return rc;
	char **pats;
	struct ops_ls_query q = { .kept_only = has_flag(argc, argv, "--kept") };
	q.npatterns = positional(argc, argv, &pats);
	q.patterns = pats;
	struct app app;
	if (open_app("ls", &app, &s) < 0) {
		free(pats);
		return 1;
	}
	struct ops_ls l;
	tp_err e = { 0 };
	if (ops_ls(&app, &q, &l, &e) < 0) {
		print_err("ls", &e);
		ops_ls_free(&l);
		app_close(&app);
		free(pats);
		return 1;
	}
	int missing = 0;
	for (size_t i = 0; i < q.npatterns; i++)
		if (!l.hits[i] && !strpbrk(pats[i], "*?[")) {
			fprintf(stderr, "taskpipe ls: %s: no such pipeline\n", pats[i]);
			missing++;
		}
	if (s.json) {
		cJSON *doc = cJSON_CreateArray();
		for (size_t i = 0; i < l.n; i++)
			cJSON_AddItemToArray(doc, ls_row_json(&l.rows[i]));
		char *t = cJSON_Print(doc);
		puts(t);
		free(t);
		cJSON_Delete(doc);
	} else {
		printf("%-32s %-7s %-6s %-8s %-11s %-8s %s\n", "PIPELINE", "ENABLED", "PAUSED", "RATE",
		       "CONCURRENCY", "STATUS", "MESSAGE");
		size_t groups = 0;
		for (size_t i = 0; i < l.n; i++) {
			const struct ops_ls_row *r = &l.rows[i];
			char note[600];
			if (r->kind == OPS_LS_LIMIT_GROUP) {
				groups++;
				continue;
			}
			ls_note(r, note, sizeof note);
			printf("%-32s %-7s %-6s %-8s %-11s %-8s %s\n", r->name,
			       !r->item ? "-" : r->enabled ? "yes" : "no", r->pause ? "yes" : "no", r->rate,
			       r->concurrency, r->status, note);
		}
		if (groups)
			ls_print_groups(&l);
		if (q.npatterns == 0 && !q.kept_only) { /* a fleet figure: not for a filtered list */
			cJSON *top = cJSON_CreateObject();
			report_pool(&app, &l.demand, top, 0);
			cJSON_Delete(top);
		}
	}
	ops_ls_free(&l);
	app_close(&app);
	free(pats);
	return missing ? 1 : 0;
}
