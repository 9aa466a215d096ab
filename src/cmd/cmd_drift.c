/* cmd_drift.c: the drift command: options, the table or --json (see drift.h). */
#include "cmd/cmd_drift.h"

#include "core/app.h"
#include "core/drift/drift.h"
#include "runtime/rec_json.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
	"usage: taskpipe drift [--fix] [--max-pipelines N] [--deadline SECONDS] [--json]\n"
	"Compares every pipeline with its config item (through the policy), observing\n"
	"the fleet with list calls: Lambda ListFunctions (50 a page) and\n"
	"ListEventSourceMappings (100 a page), SQS ListQueues by prefix and\n"
	"GetQueueAttributes, tags from the Resource Groups Tagging API. About\n"
	"n/50 + n/100 Lambda calls for n functions, whatever drifted, plus one\n"
	"ListTags per function the Tagging API does not show (yet) with the tags\n"
	"of its spec (it lags behind new resources); queues it or ListQueues do\n"
	"not show are checked with GetQueueUrl/ListQueueTags before being called\n"
	"missing or a collision (counts in tag_fallback).\n"
	"Reports per pipeline: in_sync, drifted (field, expected, actual; environment\n"
	"values are never shown, only keys), missing (a resource is gone), collision\n"
	"(a same-named resource without this instance's owner tag; never touched),\n"
	"error; a Code difference means the function's code is behind its item.\n"
	"Orphans: resources with this instance's owner tag whose item is gone.\n"
	"Not checked: reserved concurrency (list calls do not show it; use\n"
	"`taskpipe apply --all --force`).\n"
	"  --fix               repair drifted and missing pipelines and remove orphans\n"
	"                      (reconcile with --force); collisions are left alone\n"
	"  --max-pipelines N   check at most N pipelines after the cursor saved in the\n"
	"                      state table (pk drift#cursor) and save it; the next run\n"
	"                      continues there (for the scheduled Lambda)\n"
	"  --deadline SECONDS  with --fix: start no repair step after this many\n"
	"                      seconds; unfinished pipelines fail DeadlineNear and\n"
	"                      their leases last at most the time left + 10 s\n"
	"Exit: 0 in sync (with --fix: everything repaired), 2 drift left (found\n"
	"without --fix, or any collision, which needs a person), 1 error (a pipeline's\n"
	"policy failed, a repair failed, or the check itself failed).\n";

static void print_table(const cJSON *doc)
{
	const cJSON *p, *d;
	cJSON_ArrayForEach(p, cJSON_GetObjectItem(doc, "pipelines")) {
		const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(p, "pipeline"));
		const char *st = cJSON_GetStringValue(cJSON_GetObjectItem(p, "status"));
		const cJSON *fix = cJSON_GetObjectItem(p, "fix");
		const char *fs = cJSON_GetStringValue(cJSON_GetObjectItem(fix, "status"));
		char mark = strcmp(st, "in_sync") == 0 ? ' ' : strcmp(st, "error") == 0 ||
			    strcmp(st, "collision") == 0 ? '!' : '~';
		printf("%c %-32s %s%s%s%s\n", mark, name, st,
		       cJSON_IsTrue(cJSON_GetObjectItem(p, "code_behind")) ? " (code behind)" : "",
		       fs ? ", fix: " : "", fs ? fs : "");
		const cJSON *err = cJSON_GetObjectItem(p, "error");
		if (err)
			printf("    %s: %s\n", cJSON_GetStringValue(cJSON_GetObjectItem(err, "code")),
			       cJSON_GetStringValue(cJSON_GetObjectItem(err, "message")));
		cJSON_ArrayForEach(d, cJSON_GetObjectItem(p, "drift"))
			printf("    %s.%s: expected %s, actual %s\n",
			       cJSON_GetStringValue(cJSON_GetObjectItem(d, "resource")),
			       cJSON_GetStringValue(cJSON_GetObjectItem(d, "field")),
			       cJSON_GetStringValue(cJSON_GetObjectItem(d, "expected")),
			       cJSON_GetStringValue(cJSON_GetObjectItem(d, "actual")));
		const cJSON *ferr = cJSON_GetObjectItem(fix, "error");
		if (ferr)
			printf("    fix failed: %s: %s\n", cJSON_GetStringValue(cJSON_GetObjectItem(ferr, "code")),
			       cJSON_GetStringValue(cJSON_GetObjectItem(ferr, "message")));
	}
	cJSON_ArrayForEach(p, cJSON_GetObjectItem(doc, "orphans")) {
		const cJSON *fix = cJSON_GetObjectItem(p, "fix");
		const char *fs = cJSON_GetStringValue(cJSON_GetObjectItem(fix, "status"));
		printf("- %-32s orphan:", cJSON_GetStringValue(cJSON_GetObjectItem(p, "pipeline")));
		cJSON_ArrayForEach(d, cJSON_GetObjectItem(p, "resources"))
			printf(" %s %s;", cJSON_GetStringValue(cJSON_GetObjectItem(d, "resource")),
			       cJSON_GetStringValue(cJSON_GetObjectItem(d, "name")));
		printf("%s%s\n", fs ? " fix: " : "", fs ? fs : "");
	}
	const cJSON *s = cJSON_GetObjectItem(doc, "summary");
#define N(k) (long)cJSON_GetNumberValue(cJSON_GetObjectItem(s, k))
	printf("%ld pipelines checked: %ld in sync, %ld drifted, %ld missing, %ld collisions, %ld errors; "
	       "%ld orphans; %ld fixed, %ld fixes failed\n",
	       N("checked"), N("in_sync"), N("drifted"), N("missing"), N("collision"), N("error"),
	       N("orphans"), N("fixed"), N("fix_failed"));
#undef N
	const cJSON *calls = cJSON_GetObjectItem(doc, "calls");
	printf("%ld Lambda calls (%ld to observe: ListFunctions %ld, ListEventSourceMappings %ld); %ld ms\n",
	       (long)cJSON_GetNumberValue(cJSON_GetObjectItem(doc, "lambda_calls")),
	       (long)cJSON_GetNumberValue(cJSON_GetObjectItem(doc, "lambda_calls_observe")),
	       (long)cJSON_GetNumberValue(cJSON_GetObjectItem(calls, "lambda:ListFunctions")),
	       (long)cJSON_GetNumberValue(cJSON_GetObjectItem(calls, "lambda:ListEventSourceMappings")),
	       (long)cJSON_GetNumberValue(cJSON_GetObjectItem(doc, "elapsed_ms")));
	const cJSON *cur = cJSON_GetObjectItem(doc, "cursor");
	if (cJSON_IsObject(cur))
		printf("cursor: %s\n", cJSON_IsTrue(cJSON_GetObjectItem(cur, "complete")) ? "cycle complete" :
		       cJSON_GetStringValue(cJSON_GetObjectItem(cur, "next")));
	puts("reserved concurrency is not checked (not visible to list calls): taskpipe apply --all --force");
}

int cmd_drift(int argc, char **argv)
{
	struct settings s;
	tp_err e = { 0 };
	int rc0 = settings_cli(&s, "drift", usage, &argc, argv);
	if (rc0 >= 0)
		return rc0;
	struct drift_opts o = { .render_changes = rec_changes_json };
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--fix") == 0) {
			o.fix = 1;
		} else if (strcmp(argv[i], "--deadline") == 0 && i + 1 < argc) {
			char *end;
			double secs = strtod(argv[++i], &end);
			if (*end || secs <= 0) {
				fprintf(stderr, "taskpipe drift: --deadline wants a positive number of seconds\n");
				return 2;
			}
			o.deadline_ms = tp_now_ms() + (int64_t)(secs * 1000);
			o.reserve_ms = 1;   /* the caller's limit is the deadline itself */
		} else if (strcmp(argv[i], "--max-pipelines") == 0 && i + 1 < argc) {
			char *end;
			o.max_pipelines = strtol(argv[++i], &end, 10);
			if (*end || o.max_pipelines < 1) {
				fprintf(stderr, "taskpipe drift: --max-pipelines wants a positive integer\n");
				return 2;
			}
		} else {
			fprintf(stderr, "taskpipe drift: unexpected argument '%s'\n%s", argv[i], usage);
			return 2;
		}
	}
	struct app app;
	if (app_open(&app, &s, &e) < 0) {
		fprintf(stderr, "taskpipe drift: %s: %s\n", e.code, e.message);
		return 1;
	}
	char *json = NULL;
	int rc = drift_run(&app, &o, &json, &e);
	app_close(&app);
	if (rc < 0) {
		fprintf(stderr, "taskpipe drift: %s%s%s\n", e.code, e.code[0] ? ": " : "", e.message);
		return 1;
	}
	cJSON *doc = cJSON_Parse(json);
	if (s.json) {
		char *pretty = cJSON_Print(doc);
		puts(pretty);
		free(pretty);
	} else {
		print_table(doc);
	}
	cJSON_Delete(doc);
	int code = drift_exit_code(json);
	free(json);
	return code;
}
