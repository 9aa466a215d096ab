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
#include "core/names.h"
#include "core/pool.h"
#include "base/log.h"
#include "core/reconcile/reconcile.h"
#include "core/names.h"
#include "core/pipeline.h"
#include "core/store.h"
#include "script/policy.h"
#include "runtime/pool_json.h"
#include "runtime/rec_json.h"
#include "cmd/cmd_progress.h"

#include <cjson/cJSON.h>
#include <fnmatch.h>
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
	long n;
	char why[160];
	if (setting_long(SET_INIT_TIMEOUT_S, &n, why, sizeof why) < 0)
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
};

/* What apply would do with the item, without AWS: the name, the policy and
 * the desired state built from its spec. */
static int put_check(struct app *app, const char *name, const cJSON *item, tp_err *e)
{
	struct names nm;
	if (names_for(app->set.prefix, name, &nm, e) < 0)
		return e->rc;
	cJSON *sv = NULL;
	if (policy_pipeline(app->policy, item, &sv, e) < 0)
		return e->rc;
	char *spec = cJSON_PrintUnformatted(sv);
	cJSON_Delete(sv);
	struct pipeline want;
	int rc = pipeline_desired(&app->set, name, spec, &want, e);
	if (rc == TP_OK)
		pipeline_free(&want);
	free(spec);
	return rc;
}

static void put_one(struct put_run *pr, const char *where, const cJSON *json)
{
	char why[300] = "";
	tp_err e = { 0 };
	const cJSON *wrapped = cJSON_GetObjectItemCaseSensitive(json, "Item");
	if (cJSON_IsObject(json) && json->child && !json->child->next && cJSON_IsObject(wrapped))
		json = wrapped; /* GetItem's output */
	cJSON *item = ddb_item_from_json(json, why, sizeof why);
	const char *name = item ? ddb_get_str(item, "pipeline", NULL) : NULL;
	if (!item) {
		fprintf(stderr, "taskpipe put: %s: %s\n", where, why);
	} else if (normalize_expires_at(item, why, sizeof why) < 0) {
		fprintf(stderr, "taskpipe put: %s: %s\n", where, why);
	} else if (ddbval_check_item(item, why, sizeof why) < 0) {
		fprintf(stderr, "taskpipe put: %s: %s\n", where, why);
	} else if (!name) {
		fprintf(stderr, "taskpipe put: %s: the item needs a string \"pipeline\" (the pipeline's name)\n",
			where);
	} else if (pr->check && put_check(pr->app, name, item, &e) < 0) {
		fprintf(stderr, "taskpipe put: %s: %s: refused: %s: %s (--no-check writes it anyway)\n", where,
			name, e.code, e.message);
	} else {
		cJSON *in = cJSON_CreateObject(), *out = NULL;
		warn_expired(where, item);
		cJSON_AddStringToObject(in, "TableName", pr->app->set.config_table);
		cJSON_AddItemToObject(in, "Item", item);
		int rc = awsj_call(pr->app->aws, SVC_DYNAMODB, "PutItem", in, &out, &e);
		if (rc < 0)
			fprintf(stderr, "taskpipe put: %s: %s: %s: %s\n", where, name, e.code, e.message);
		else
			printf("put %s\n", name);
		pr->written += rc == TP_OK;
		pr->refused += rc < 0;
		cJSON_Delete(in);
		cJSON_Delete(out);
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
	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		if (!*p)
			break;
		const char *end;
		char where[600];
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
		if (cJSON_IsArray(v)) {
			int i = 0;
			const cJSON *el;
			cJSON_ArrayForEach(el, v) {
				snprintf(where, sizeof where, "%s:%d[%d]", label, line, i++);
				put_one(pr, where, el);
			}
			if (i == 0)
				fprintf(stderr, "taskpipe put: %s:%d: an empty array: no items\n", label, line);
		} else {
			snprintf(where, sizeof where, "%s:%d", label, line);
			put_one(pr, where, v);
		}
		cJSON_Delete(v);
		p = end;
	}
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
	}
	for (size_t i = 0; i < n; i++)
		put_file(&pr, files[i]);
	if (pr.written + pr.refused > 1)
		printf("%d items: %d put, %d refused\n", pr.written + pr.refused, pr.written, pr.refused);
	app_close(&app);
	free(files);
	return pr.refused ? 1 : 0;
}

/* Is there a config item of that name (consistent read)? */
static int item_exists(struct app *app, const char *name, int *exists, tp_err *e)
{
	cJSON *in = cJSON_CreateObject(), *out = NULL;
	cJSON_AddStringToObject(in, "TableName", app->set.config_table);
	cJSON_AddItemToObject(in, "Key", ddb_key("pipeline", name));
	cJSON_AddBoolToObject(in, "ConsistentRead", 1);
	int rc = awsj_call(app->aws, SVC_DYNAMODB, "GetItem", in, &out, e);
	*exists = rc == TP_OK && cJSON_GetObjectItem(out, "Item") != NULL;
	cJSON_Delete(in);
	cJSON_Delete(out);
	return rc;
}

static const char rm_usage[] =
	"usage: taskpipe rm NAME... [--now]\n"
	"Deletes config items. Each pipeline then drains: its function keeps consuming\n"
	"until the queue has been empty a minute (or drain_timeout runs out, then the\n"
	"queue is kept), and the next runs delete it (taskpipe ls shows it draining).\n"
	"--now deletes the pipelines at once, queued and dead-lettered tasks with them,\n"
	"and says how many messages that dropped. A name without an item is an error\n"
	"(nothing is changed for it).\n";

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
		if (item_exists(&app, names[i], &exists, &e) == TP_OK && !exists) {
			fprintf(stderr, "taskpipe rm: %s: NotFound: no such config item in %s\n", names[i],
				s.config_table);
			failed++;
			continue;
		}
		cJSON *in = cJSON_CreateObject(), *out = NULL;
		cJSON_AddStringToObject(in, "TableName", s.config_table);
		cJSON_AddItemToObject(in, "Key", ddb_key("pipeline", names[i]));
		/* ... and one deleted meanwhile too: never "removed". */
		cJSON_AddStringToObject(in, "ConditionExpression", "attribute_exists(pipeline)");
		tp_err_clear(&e);
		if (awsj_call(app.aws, SVC_DYNAMODB, "DeleteItem", in, &out, &e) < 0) {
			if (store_condition_failed(&e))
				fprintf(stderr, "taskpipe rm: %s: NotFound: no such config item in %s\n", names[i],
					s.config_table);
			else
				fprintf(stderr, "taskpipe rm: %s: %s: %s\n", names[i], e.code, e.message);
			failed++;
		} else {
			printf("removed %s%s\n", names[i], now ? "" : " (its pipeline drains)");
			names[gone++] = names[i];
		}
		cJSON_Delete(in);
		cJSON_Delete(out);
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
		rc = item_exists(&app, names[i], &exists, &e);
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
	"messages (taskpipe kept). Unfiltered, then the fleet's demand on the account's\n"
	"concurrency pool (the specs in force: sum of MaximumConcurrency and of\n"
	"reservations) against the account's limit (one GetAccountSettings; not\n"
	"with --json, whose output stays the array of rows: plan and drift --json\n"
	"carry it). Exit 1 when a NAME without glob characters matches nothing.\n";

/* The item's attribute as text ("-" when absent). */
static void attr_text(const cJSON *item, const char *name, char *out, size_t len)
{
	const cJSON *v = cJSON_GetObjectItem(item, name);
	const char *t = cJSON_GetStringValue(cJSON_GetObjectItem(v, "N"));
	if (!t)
		t = cJSON_GetStringValue(cJSON_GetObjectItem(v, "S"));
	snprintf(out, len, "%s", t ? t : "-");
}

static int ls_wanted(char **pats, size_t n, const char *name, int *hits)
{
	if (n == 0)
		return 1;
	int any = 0;
	for (size_t i = 0; i < n; i++)
		if (fnmatch(pats[i], name, 0) == 0)
			hits[i]++, any = 1;
	return any;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int ls_row_cmp(const void *a, const void *b)
{
	const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
	return strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(x, "pipeline")),
		      cJSON_GetStringValue(cJSON_GetObjectItem(y, "pipeline")));
}

/* One row: the item (NULL when gone), its state record and its pause
 * (NULL: none). */
static cJSON *ls_row(const struct settings *s, const char *name, const cJSON *item,
		     const struct store_pipeline *st, const struct store_pause *pz)
{
	char rate[64], conc[64];
	attr_text(item, "rate", rate, sizeof rate);
	attr_text(item, "concurrency", conc, sizeof conc);
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "pipeline", name);
	cJSON_AddBoolToObject(o, "item", item != NULL);
	const cJSON *en = cJSON_GetObjectItem(cJSON_GetObjectItem(item, "enabled"), "BOOL");
	cJSON_AddBoolToObject(o, "enabled", item && (!en || cJSON_IsTrue(en)));
	cJSON_AddBoolToObject(o, "paused", pz != NULL);
	if (pz) {
		cJSON_AddStringToObject(o, "paused_by", pz->by);
		cJSON_AddNumberToObject(o, "paused_at", (double)pz->at);
		if (pz->reason)
			cJSON_AddStringToObject(o, "pause_reason", pz->reason);
	}
	cJSON_AddStringToObject(o, "rate", rate);
	cJSON_AddStringToObject(o, "concurrency", conc);
	cJSON_AddStringToObject(o, "status", st ? store_status_name(st->status) : "pending");
	cJSON_AddNumberToObject(o, "updated_at", st ? (double)st->updated_at : 0);
	long exp = ddb_get_long(item, "expires_at", 0);
	if (exp)
		cJSON_AddNumberToObject(o, "expires_at", (double)exp);
	if (st && st->drain_started_at) {
		cJSON_AddNumberToObject(o, "drain_started_at", (double)st->drain_started_at);
		cJSON_AddNumberToObject(o, "drain_timeout", (double)st->drain_timeout);
	}
	struct names nm;
	if (st && (st->kept_queue || st->kept_dlq) && names_for(s->prefix, name, &nm, NULL) == 0) {
		cJSON *k = cJSON_AddArrayToObject(o, "kept");
		const struct { const char *what, *queue; long n; } q[] = {
			{ "queue", nm.queue, st->kept_queue }, { "dead-letter queue", nm.dlq, st->kept_dlq } };
		for (int i = 0; i < 2; i++) {
			if (!q[i].n)
				continue;
			cJSON *e = cJSON_CreateObject();
			cJSON_AddStringToObject(e, "resource", q[i].what);
			cJSON_AddStringToObject(e, "queue", q[i].queue);
			cJSON_AddNumberToObject(e, "messages", (double)q[i].n);
			cJSON_AddItemToArray(k, e);
		}
	}
	if (st && st->message)
		cJSON_AddStringToObject(o, "message", st->message);
	/* where producers send (recorded by apply; taskpipe url asks SQS for older records) */
	if (st && st->status != STORE_DELETED && st->queue_url)
		cJSON_AddStringToObject(o, "queue_url", st->queue_url);
	if (st && st->status != STORE_DELETED && st->queue_arn)
		cJSON_AddStringToObject(o, "queue_arn", st->queue_arn);
	return o;
}

/* The MESSAGE column: an error, a drain, kept queues. */
static void ls_note(const cJSON *row, char *out, size_t len)
{
	const char *msg = cJSON_GetStringValue(cJSON_GetObjectItem(row, "message"));
	cJSON *kept = cJSON_GetObjectItem(row, "kept"), *k;
	size_t n = 0;
	out[0] = 0;
	if (!cJSON_IsTrue(cJSON_GetObjectItem(row, "item")) && !kept &&
	    !cJSON_GetObjectItem(row, "drain_started_at")) {
		snprintf(out, len, "(no item)%s%s", msg ? " " : "", msg ? msg : "");
		return;
	}
	if (msg) {
		snprintf(out, len, "%s", msg);
		return;
	}
	cJSON_ArrayForEach(k, kept)
		n += (size_t)snprintf(out + n, n < len ? len - n : 0, "%skept %s: %.0f messages", n ? "; " : "",
				      cJSON_GetStringValue(cJSON_GetObjectItem(k, "queue")),
				      cJSON_GetNumberValue(cJSON_GetObjectItem(k, "messages")));
	if (!kept && cJSON_GetObjectItem(row, "drain_started_at"))
		snprintf(out, len, "draining since %.0f (timeout %.0f s)",
			 cJSON_GetNumberValue(cJSON_GetObjectItem(row, "drain_started_at")),
			 cJSON_GetNumberValue(cJSON_GetObjectItem(row, "drain_timeout")));
}

int cmd_ls(int argc, char **argv)
{
	static const char *const flags[] = { "--kept", NULL };
	struct settings s;
	int rc = parse("ls", &argc, argv, &s, flags, ls_usage);
	if (rc >= 0)
		return rc;
	int kept_only = has_flag(argc, argv, "--kept");
	char **pats;
	size_t np = positional(argc, argv, &pats);
	int *hits = tp_xcalloc(np + 1, sizeof *hits);
	struct app app;
	if (open_app("ls", &app, &s) < 0) {
		free(pats);
		free(hits);
		return 1;
	}
	tp_err e = { 0 };
	cJSON *items = cJSON_CreateArray();
	struct store_pipelines states = { 0 };
	struct store_pauses pauses = { 0 };
	rc = ddb_scan_all(app.aws, s.config_table, NULL, items, &e);
	if (rc == TP_OK)
		rc = store_pipelines_scan(app.aws, s.state_table, &states, &e);
	if (rc == TP_OK)
		rc = store_pauses_scan(app.aws, s.state_table, &pauses, &e);
	if (rc < 0) {
		print_err("ls", &e);
		cJSON_Delete(items);
		store_pipelines_free(&states);
		store_pauses_free(&pauses);
		app_close(&app);
		free(pats);
		free(hits);
		return 1;
	}
	/* The fleet's demand: the specs in force, as the state table records them. */
	struct pool_demand demand = { 0 };
	for (size_t i = 0; i < states.n; i++) {
		cJSON *spec = states.v[i].status != STORE_DELETED && states.v[i].spec ? cJSON_Parse(states.v[i].spec) : NULL;
		pool_demand_add(&demand, spec);
		cJSON_Delete(spec);
	}
	cJSON *top = cJSON_CreateObject();
	cJSON *doc = cJSON_AddArrayToObject(top, "pipelines"), *it;
	cJSON_ArrayForEach(it, items) {
		const char *name = ddb_get_str(it, "pipeline", "?");
		const struct store_pipeline *found = store_pipelines_find(&states, name);
		if (ls_wanted(pats, np, name, hits) && (!kept_only || (found && found->status == STORE_KEPT)))
			cJSON_AddItemToArray(doc, ls_row(&s, name, it, found, store_pauses_find(&pauses, name)));
	}
	/* Records whose items are gone but not yet deleted (or never deletable):
	 * the item names sorted, one binary search per record. */
	size_t ni = 0;
	const char **inames = tp_xcalloc((size_t)cJSON_GetArraySize(items) + 1, sizeof *inames);
	cJSON_ArrayForEach(it, items)
		inames[ni++] = ddb_get_str(it, "pipeline", "");
	qsort(inames, ni, sizeof *inames, str_cmp);
	for (size_t i = 0; i < states.n; i++) {
		const struct store_pipeline *st = &states.v[i];
		int has_item = bsearch(&st->name, inames, ni, sizeof *inames, str_cmp) != NULL;
		if (!has_item && st->status != STORE_DELETED && ls_wanted(pats, np, st->name, hits) &&
		    (!kept_only || st->status == STORE_KEPT))
			cJSON_AddItemToArray(doc, ls_row(&s, st->name, NULL, st, store_pauses_find(&pauses, st->name)));
	}
	free(inames);
	/* Sorted by name: items come from a Scan, in hash order. */
	int nrows = cJSON_GetArraySize(doc);
	cJSON **rows = tp_xcalloc((size_t)nrows + 1, sizeof *rows);
	for (int i = 0; i < nrows; i++)
		rows[i] = cJSON_DetachItemFromArray(doc, 0);
	qsort(rows, (size_t)nrows, sizeof *rows, ls_row_cmp);
	for (int i = 0; i < nrows; i++)
		cJSON_AddItemToArray(doc, rows[i]);
	free(rows);
	int missing = 0;
	for (size_t i = 0; i < np; i++)
		if (!hits[i] && !strpbrk(pats[i], "*?[")) {
			fprintf(stderr, "taskpipe ls: %s: no such pipeline\n", pats[i]);
			missing++;
		}
	if (s.json) {
		char *t = cJSON_Print(doc);
		puts(t);
		free(t);
	} else {
		printf("%-32s %-7s %-6s %-8s %-11s %-8s %s\n", "PIPELINE", "ENABLED", "PAUSED", "RATE",
		       "CONCURRENCY", "STATUS", "MESSAGE");
		cJSON_ArrayForEach(it, doc) {
			int has_item = cJSON_IsTrue(cJSON_GetObjectItem(it, "item"));
			char note[600];
			ls_note(it, note, sizeof note);
			printf("%-32s %-7s %-6s %-8s %-11s %-8s %s\n",
			       cJSON_GetStringValue(cJSON_GetObjectItem(it, "pipeline")),
			       !has_item ? "-" : cJSON_IsTrue(cJSON_GetObjectItem(it, "enabled")) ? "yes" : "no",
			       cJSON_IsTrue(cJSON_GetObjectItem(it, "paused")) ? "yes" : "no",
			       cJSON_GetStringValue(cJSON_GetObjectItem(it, "rate")),
			       cJSON_GetStringValue(cJSON_GetObjectItem(it, "concurrency")),
			       cJSON_GetStringValue(cJSON_GetObjectItem(it, "status")), note);
		}
		if (np == 0 && !kept_only) /* a fleet figure: not for a filtered list */
			report_pool(&app, &demand, top, 0);
	}
	cJSON_Delete(top);
	cJSON_Delete(items);
	store_pipelines_free(&states);
	store_pauses_free(&pauses);
	app_close(&app);
	free(pats);
	free(hits);
	return missing ? 1 : 0;
}
