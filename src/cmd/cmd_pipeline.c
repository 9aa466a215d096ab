/* cmd_pipeline.c: the pipeline commands: init, ls, plan, apply, put, rm. */
#include "cmd/cmd_pipeline.h"

#include "core/app.h"
#include "aws/awsjson.h"
#include "aws/ddb.h"
#include "aws/ddbval.h"
#include "base/jsonnum.h"
#include "core/lease.h"
#include "core/pool.h"
#include "base/log.h"
#include "core/reconcile/reconcile.h"
#include "core/store.h"
#include "runtime/pool_json.h"
#include "runtime/rec_json.h"

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
#define INIT_TIMEOUT_DEFAULT_S 300
#define INIT_POLL_FIRST_MS 100
#define INIT_POLL_MAX_MS 5000

static int init_timeout_s(void)
{
	const char *v = getenv("TASKPIPE_INIT_TIMEOUT_S");
	char *end;
	long n = v && *v ? strtol(v, &end, 10) : INIT_TIMEOUT_DEFAULT_S;
	if (v && *v && (*end || n < 0 || n > 86400)) {
		fprintf(stderr, "taskpipe init: TASKPIPE_INIT_TIMEOUT_S=\"%s\" is not 0..86400 seconds; using %d\n", v,
			INIT_TIMEOUT_DEFAULT_S);
		n = INIT_TIMEOUT_DEFAULT_S;
	}
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
	"usage: taskpipe init\n"
	"Creates what is missing of the config table (stream NEW_AND_OLD_IMAGES), the\n"
	"state table and, when a code bucket is set, the versioned code bucket. A\n"
	"config table without a stream gets one (UpdateTable); when that is refused,\n"
	"init fails at once naming the missing stream. For local use, demos and\n"
	"tests; CloudFormation does this in production.\n";

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
		rc = ensure_table(&app, s.state_table, "pk", 0, &e);
	if (rc == TP_OK && s.code_bucket)
		rc = ensure_bucket(&app, s.code_bucket, &e);
	if (rc < 0)
		print_err("init", &e);
	app_close(&app);
	return rc < 0 ? 1 : 0;
}

/* ---- put / rm ---- */

static const char put_usage[] =
	"usage: taskpipe put ITEM.json...   (- reads standard input)\n"
	"Writes config items. An item is plain JSON ({\"pipeline\":\"a\",\"concurrency\":2})\n"
	"or DynamoDB AttributeValue JSON; it needs a string \"pipeline\".\n";

int cmd_put(int argc, char **argv)
{
	struct settings s;
	int rc = parse("put", &argc, argv, &s, NULL, put_usage);
	if (rc >= 0)
		return rc;
	char **files;
	size_t n = positional(argc, argv, &files);
	if (n == 0 && !(argc > 1 && strcmp(argv[argc - 1], "-") == 0)) {
		fputs(put_usage, stderr);
		free(files);
		return 2;
	}
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "-") == 0)
			files[n++] = "/dev/stdin";
	struct app app;
	if (open_app("put", &app, &s) < 0) {
		free(files);
		return 1;
	}
	int failed = 0;
	for (size_t i = 0; i < n; i++) {
		tp_err e = { 0 };
		buf text = { 0 };
		char why[256] = "";
		cJSON *json = NULL, *item = NULL;
		if (tp_read_file(files[i], 1u << 20, &text, &e) < 0) {
			fprintf(stderr, "taskpipe put: %s\n", e.message);
		} else if (!(json = jsonnum_parse(buf_str(&text)))) {
			fprintf(stderr, "taskpipe put: %s: not valid JSON\n", files[i]);
		} else if (!(item = ddb_item_from_json(json, why, sizeof why))) {
			fprintf(stderr, "taskpipe put: %s: %s\n", files[i], why);
		} else if (ddbval_check_item(item, why, sizeof why) < 0) {
			/* refused before sending, naming the field */
			fprintf(stderr, "taskpipe put: %s: %s\n", files[i], why);
		} else if (!ddb_get_str(item, "pipeline", NULL)) {
			fprintf(stderr, "taskpipe put: %s: the item needs a string \"pipeline\" (the pipeline's name)\n",
				files[i]);
		} else {
			cJSON *in = cJSON_CreateObject(), *out = NULL;
			cJSON_AddStringToObject(in, "TableName", s.config_table);
			cJSON_AddItemToObject(in, "Item", item);
			item = NULL;
			if (awsj_call(app.aws, SVC_DYNAMODB, "PutItem", in, &out, &e) < 0)
				fprintf(stderr, "taskpipe put: %s: %s: %s\n", files[i], e.code, e.message);
			else
				printf("put %s\n", ddb_get_str(cJSON_GetObjectItem(in, "Item"), "pipeline", ""));
			failed += e.rc < 0;
			cJSON_Delete(in);
			cJSON_Delete(out);
			buf_free(&text);
			cJSON_Delete(json);
			continue;
		}
		failed++;
		cJSON_Delete(item);
		cJSON_Delete(json);
		buf_free(&text);
	}
	app_close(&app);
	free(files);
	return failed ? 1 : 0;
}

static const char rm_usage[] =
	"usage: taskpipe rm NAME...\n"
	"Deletes config items; the next apply (or the stream) removes their pipelines.\n";

int cmd_rm(int argc, char **argv)
{
	struct settings s;
	int rc = parse("rm", &argc, argv, &s, NULL, rm_usage);
	if (rc >= 0)
		return rc;
	char **names;
	size_t n = positional(argc, argv, &names);
	if (n == 0) {
		fputs(rm_usage, stderr);
		free(names);
		return 2;
	}
	struct app app;
	if (open_app("rm", &app, &s) < 0) {
		free(names);
		return 1;
	}
	int failed = 0;
	for (size_t i = 0; i < n; i++) {
		tp_err e = { 0 };
		cJSON *in = cJSON_CreateObject(), *out = NULL;
		cJSON_AddStringToObject(in, "TableName", s.config_table);
		cJSON_AddItemToObject(in, "Key", ddb_key("pipeline", names[i]));
		if (awsj_call(app.aws, SVC_DYNAMODB, "DeleteItem", in, &out, &e) < 0) {
			fprintf(stderr, "taskpipe rm: %s: %s: %s\n", names[i], e.code, e.message);
			failed++;
		} else {
			printf("removed %s\n", names[i]);
		}
		cJSON_Delete(in);
		cJSON_Delete(out);
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
	struct reconcile_opts o = { .plan = plan, .force = plan || has_flag(argc, argv, "--force"),
				    .holder = holder };
	struct rec_result *res = NULL;
	size_t nr = 0;
	tp_err e = { 0 };
	int64_t t0 = tp_mono_ms();
	if (reconcile_run(&app, names, n, all, &o, &res, &nr, &e) < 0) {
		print_err(cmd, &e);
		app_close(&app);
		free(names);
		return 1;
	}
	int errors = 0, changes = 0;
	cJSON *doc = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(doc, "pipelines");
	for (size_t i = 0; i < nr; i++) {
		errors += res[i].rc != TP_OK;
		changes += res[i].rc == TP_OK && res[i].changes > 0;
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
			} else if (cJSON_GetArraySize(ch) == 0 || strcmp(act, "none") == 0) {
				/* For the whole fleet only what changed is news. */
				if (!all)
					printf("  %s: in sync\n", name);
			} else {
				printf("%s %s: %s%s\n", plan ? "~" : "*", name, plan ? "would " : "", act);
				cJSON *c;
				cJSON_ArrayForEach(c, ch)
					print_change(c);
			}
		}
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
	"match their config items. Unchanged items are confirmed from the state table\n"
	"without touching Lambda; --force observes and repairs them anyway.\n"
	"Exit 0: all ok, 1: any pipeline failed (the others still apply).\n";

int cmd_apply(int argc, char **argv)
{
	return run_reconcile("apply", argc, argv, 0, apply_usage);
}

/* ---- ls ---- */

static const char ls_usage[] =
	"usage: taskpipe ls [--json]\n"
	"Lists config items with their pipeline's last status from the state table,\n"
	"and the fleet's demand on the account's concurrency pool (the specs in\n"
	"force: sum of MaximumConcurrency and of reservations) against the account's\n"
	"limit (one GetAccountSettings). --json: {\"pipelines\": [...], \"pool\": {...}}.\n";

int cmd_ls(int argc, char **argv)
{
	struct settings s;
	int rc = parse("ls", &argc, argv, &s, NULL, ls_usage);
	if (rc >= 0)
		return rc;
	struct app app;
	if (open_app("ls", &app, &s) < 0)
		return 1;
	tp_err e = { 0 };
	cJSON *items = cJSON_CreateArray();
	struct store_pipelines states = { 0 };
	rc = ddb_scan_all(app.aws, s.config_table, NULL, items, &e);
	if (rc == TP_OK)
		rc = store_pipelines_scan(app.aws, s.state_table, &states, &e);
	if (rc < 0) {
		print_err("ls", &e);
		cJSON_Delete(items);
		store_pipelines_free(&states);
		app_close(&app);
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
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "pipeline", name);
		const struct store_pipeline *found = store_pipelines_find(&states, name);
		cJSON_AddStringToObject(o, "status", found ? store_status_name(found->status) : "pending");
		cJSON_AddNumberToObject(o, "updated_at", found ? (double)found->updated_at : 0);
		if (found && found->message)
			cJSON_AddStringToObject(o, "message", found->message);
		cJSON_AddItemToArray(doc, o);
	}
	if (s.json) {
		report_pool(&app, &demand, top, 1);
		char *t = cJSON_Print(top);
		puts(t);
		free(t);
	} else {
		printf("%-32s %-8s %s\n", "PIPELINE", "STATUS", "MESSAGE");
		cJSON_ArrayForEach(it, doc)
			printf("%-32s %-8s %s\n", cJSON_GetStringValue(cJSON_GetObjectItem(it, "pipeline")),
			       cJSON_GetStringValue(cJSON_GetObjectItem(it, "status")),
			       cJSON_GetStringValue(cJSON_GetObjectItem(it, "message")) ?: "");
		report_pool(&app, &demand, top, 0);
	}
	cJSON_Delete(top);
	cJSON_Delete(items);
	store_pipelines_free(&states);
	app_close(&app);
	return 0;
}
