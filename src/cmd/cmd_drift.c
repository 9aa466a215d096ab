/* cmd_drift.c: the drift command: options, the table or --json (see drift.h,
 * runtime/drift_json.h). */
#include "cmd/cmd_drift.h"

#include "core/app.h"
#include "core/drift/drift.h"
#include "runtime/drift_json.h"
#include "cmd/cmd_progress.h"
#include "runtime/pool_json.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
	"usage: taskpipe drift [--fix] [--max-pipelines N] [--deadline SECONDS] [--verbose] [--json]\n"
	"Compares every pipeline with its config item (through the policy), observing\n"
	"the fleet with list calls: Lambda ListFunctions (50 a page) and\n"
	"ListEventSourceMappings (100 a page), SQS ListQueues by prefix and\n"
	"GetQueueAttributes, tags from the Resource Groups Tagging API. About\n"
	"n/50 + n/100 Lambda calls for n functions, whatever drifted, plus one\n"
	"ListTags per function the Tagging API does not show (yet) with the tags\n"
	"of its spec (it lags behind new resources); queues it or ListQueues do\n"
	"not show are checked with GetQueueUrl/ListQueueTags before being called\n"
	"missing or a collision (counts in tag_fallback).\n"
	"Prints the pipelines that are not in sync (and the orphans), then a summary;\n"
	"--verbose lists the ones in sync too (--json always has every pipeline).\n"
	"Reports per pipeline: in_sync, drifted (field, expected, actual; the item's\n"
	"environment values are never shown, only keys; taskpipe's own TASKPIPE_*\n"
	"variables are shown with their values), missing (a resource is gone), collision\n"
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
	"  --verbose           list every pipeline, in sync or not\n"
	"  --deadline SECONDS  with --fix: start no repair step after this many\n"
	"                      seconds; unfinished pipelines fail DeadlineNear and\n"
	"                      their leases last at most the time left + 10 s\n"
	"Exit: 0 in sync (with --fix: everything repaired), 2 drift left (found\n"
	"without --fix, or any collision, which needs a person), 1 error (a pipeline's\n"
	"policy failed, a repair failed, or the check itself failed).\n";

static const char *fix_name(const struct drift_fix *f)
{
	return f->status == DRIFT_FIX_FIXED ? "fixed" : f->status == DRIFT_FIX_FAILED ? "failed" : NULL;
}

static void print_table(const struct drift_report *r, int verbose)
{
	for (size_t i = 0; i < r->n_pipelines; i++) {
		const struct drift_pipeline *p = &r->pipelines[i];
		const char *fs = fix_name(&p->fix);
		/* Only news by default: a pipeline in sync (and not just fixed) is counted, not listed. */
		if (!verbose && p->status == DRIFT_IN_SYNC && !fs)
			continue;
		char mark = p->status == DRIFT_IN_SYNC ? ' ' :
			    p->status == DRIFT_ERROR || p->status == DRIFT_COLLISION ? '!' : '~';
		printf("%c %-32s %s%s%s%s\n", mark, p->name, drift_status_name(p->status),
		       p->code_behind ? " (code behind)" : "", fs ? ", fix: " : "", fs ? fs : "");
		if (p->status == DRIFT_ERROR)
			printf("    %s: %s\n", p->err.code, p->err.message);
		for (size_t j = 0; j < p->n_drift; j++)
			printf("    %s.%s: expected %s, actual %s\n", p->drift[j].resource, p->drift[j].field,
			       p->drift[j].expected, p->drift[j].actual);
		if (p->fix.status == DRIFT_FIX_FAILED)
			printf("    fix failed: %s: %s\n", p->fix.err.code, p->fix.err.message);
	}
	for (size_t i = 0; i < r->n_orphans; i++) {
		const struct drift_orphan *p = &r->orphans[i];
		const char *fs = fix_name(&p->fix);
		printf("%c %-32s %s:", p->state ? ' ' : '-', p->name, p->state ? p->state : "orphan");
		for (size_t j = 0; j < p->n_res; j++)
			printf(" %s %s;", p->res[j].resource, p->res[j].name);
		printf("%s%s\n", fs ? " fix: " : "", fs ? fs : "");
	}
	const struct drift_summary *s = &r->summary;
	printf("%ld pipelines checked: %ld in sync, %ld drifted, %ld missing, %ld collisions, %ld errors; "
	       "%ld orphans; %ld fixed, %ld fixes failed; %ld draining, %ld kept\n",
	       s->checked, s->count[DRIFT_IN_SYNC], s->count[DRIFT_DRIFTED], s->count[DRIFT_MISSING],
	       s->count[DRIFT_COLLISION], s->count[DRIFT_ERROR], s->orphans, s->fixed, s->fix_failed,
	       s->draining, s->kept);
	long list_fn = 0, list_esm = 0;
	for (size_t i = 0; i < r->n_calls; i++) {
		if (strcmp(r->calls[i].op, "lambda:ListFunctions") == 0)
			list_fn = r->calls[i].n;
		else if (strcmp(r->calls[i].op, "lambda:ListEventSourceMappings") == 0)
			list_esm = r->calls[i].n;
	}
	printf("%ld Lambda calls (%ld to observe: ListFunctions %ld, ListEventSourceMappings %ld); %ld ms\n",
	       r->lambda_calls, r->lambda_calls_observe, list_fn, list_esm, (long)r->elapsed_ms);
	if (r->has_cursor)
		printf("cursor: %s\n", r->cursor.complete ? "cycle complete" : r->cursor.next);
	char line[512];
	pool_line(line, sizeof line, r->pool_known ? &r->pool : NULL, &r->pool_err, &r->demand);
	puts(line);
	puts("reserved concurrency is not checked (not visible to list calls): taskpipe apply --all --force");
}

int cmd_drift(int argc, char **argv)
{
	struct settings s;
	tp_err e = { 0 };
	int rc0 = settings_cli(&s, "drift", usage, &argc, argv);
	if (rc0 >= 0)
		return rc0;
	struct drift_opts o = { 0 };
	int verbose = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--fix") == 0) {
			o.fix = 1;
		} else if (strcmp(argv[i], "--verbose") == 0 || strcmp(argv[i], "-v") == 0) {
			verbose = 1;
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
	struct drift_report r;
	cmd_progress_begin(app.aws, "drift", s.json);
	int rc = drift_run(&app, &o, &r, &e);
	cmd_progress_end(app.aws);
	app_close(&app);
	if (rc < 0) {
		fprintf(stderr, "taskpipe drift: %s%s%s\n", e.code, e.code[0] ? ": " : "", e.message);
		return 1;
	}
	if (s.json) {
		cJSON *doc = drift_json(&r);
		char *pretty = cJSON_Print(doc);
		puts(pretty);
		free(pretty);
		cJSON_Delete(doc);
	} else {
		print_table(&r, verbose);
	}
	int code = r.exit_code;
	drift_report_free(&r);
	return code;
}
