/* cmd_rollout.c: the rollout command line (see rollout.h for the model).
 *
 *   taskpipe rollout s3://BUCKET/KEY[#VERSION] [flags]   start, resume or supersede
 *   taskpipe rollout resume [s3://BUCKET/KEY] [flags]    continue what was cut off
 *   taskpipe rollout status [--json]                      every rollout, its waves
 * Exit: 0 done (or superseded, nothing to do), 1 halted or failed, 2 usage,
 * 3 not finished (paused at --max-seconds, or another runner holds it). */
#include "cmd/cmd_rollout.h"

#include "core/app.h"
#include "core/rollout/rollout.h"
#include "runtime/rolloutjson.h"
#include "cmd/cmd_progress.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
	"usage: taskpipe rollout s3://BUCKET/KEY[#VERSION] [--lease-ttl S] [--max-seconds S] [--json]\n"
	"       taskpipe rollout resume [s3://BUCKET/KEY] [same flags]\n"
	"       taskpipe rollout status [--json]\n"
	"\n"
	"Roll a new version of a consumer code object out to every pipeline whose\n"
	"function uses it, in the waves the policy's rollout() returns (default:\n"
	"one canary, 10%, the rest). Without #VERSION the latest version is used.\n"
	"Progress lives in the state table: rerunning the command (or `resume`)\n"
	"continues a rollout that was cut off, and never updates a function twice.\n"
	"A newer version supersedes a rollout of an older one.\n"
	"\n"
	"  --lease-ttl S     runner lease, seconds (TASKPIPE_ROLLOUT_LEASE_S, default 60):\n"
	"                    a killed runner's rollout can be resumed after this long\n"
	"  --max-seconds S   stop starting new batches after S seconds (exit 3; resume later)\n";

static void print_err(const tp_err *e)
{
	fprintf(stderr, "taskpipe rollout: %s%s%s\n", e->code[0] ? e->code : "", e->code[0] ? ": " : "",
		e->message);
}

static int exit_code(enum rollout_outcome status)
{
	switch (status) {
	case ROLLOUT_DONE:
	case ROLLOUT_SUPERSEDED:
	case ROLLOUT_NO_TARGETS:
	case ROLLOUT_STALE:
		return 0;
	case ROLLOUT_PAUSED:
	case ROLLOUT_BUSY:
		return 3;
	default:
		return 1;
	}
}

static void print_failure(const struct rollout_failure *f)
{
	printf("  failed: function %s (pipeline %s): %s: %s\n", f->function, f->pipeline ? f->pipeline : "?",
	       f->err.code, f->err.message);
}

static void print_rollback(const struct rollout_rollback *rb)
{
	if (rb->done)
		printf("  rolled back: %ld of %ld functions to version %s (%ld failed; %ld Lambda calls, %ld updates)\n",
		       rb->rolled_back, rb->functions, rb->to_version[0] ? rb->to_version : "(none)", rb->failed,
		       rb->lambda_calls, rb->updates);
}

static void print_outcome(const struct rollout_result *o)
{
	printf("rollout %s: %s (%zu targets in %d waves; %ld updated, %ld already current, %ld failed; "
	       "Lambda calls %ld: %ld updates, %ld ListFunctions, %ld GetFunction)\n",
	       o->uri, rollout_outcome_name(o->status), o->targets, o->waves, o->updated, o->already_current,
	       o->failed, o->calls.lambda, o->calls.updates, o->calls.list_functions, o->calls.get_function);
	if (o->has_failure)
		print_failure(&o->failure);
	for (size_t i = 0; i < o->nfailures; i++)
		if (!o->has_failure || strcmp(o->failures[i].function, o->failure.function))
			print_failure(&o->failures[i]);
	for (size_t i = 0; i < o->nskipped; i++)
		printf("  skipped: %s (%s): %s\n", o->skipped[i].pipeline, o->skipped[i].function,
		       o->skipped[i].reason);
	if (o->health_note)
		printf("  health: %s\n", o->health_note);
	print_rollback(&o->rollback);
}

static void print_status(const struct rollout_status *all, size_t n)
{
	if (!n)
		printf("no rollouts\n");
	for (size_t i = 0; i < n; i++) {
		const struct rollout_status *r = &all[i];
		printf("%s  %s  gen %ld  mode %s  waves %ld/%zu\n", r->uri, rollout_state_name(r->status), r->gen,
		       r->mode, r->next_wave, r->nwaves);
		for (size_t wi = 0; wi < r->nwaves; wi++) {
			const struct rollout_wave_status *w = &r->waves[wi];
			printf("  wave %d  %-8s %3zu functions:", w->index, rollout_wave_state_name(w->state), w->nfns);
			for (int s = 0; s < RFN_STATES; s++)
				if (w->counts[s] > 0)
					printf(" %s %ld", rollout_fn_state_name((enum rollout_fn_state)s), w->counts[s]);
			printf("\n");
			for (size_t f = 0; f < w->nfns; f++)
				if (w->fns[f].error_code)
					printf("    %s: %s: %s\n", w->fns[f].function, w->fns[f].error_code,
					       w->fns[f].error_message);
		}
		if (r->has_failure)
			printf("  halted at %s%s: %s: %s\n", r->failure.function[0] ? "function " : "",
			       r->failure.function[0] ? r->failure.function : "the health check", r->failure.err.code,
			       r->failure.err.message);
		if (r->health_note)
			printf("  health: %s\n", r->health_note);
		print_rollback(&r->rollback);
	}
}

/* Print doc (consumed) as one line of JSON. */
static void print_json(cJSON *doc)
{
	char *s = cJSON_PrintUnformatted(doc);
	printf("%s\n", s);
	free(s);
	cJSON_Delete(doc);
}

int cmd_rollout(int argc, char **argv)
{
	struct settings s;
	tp_err e = { 0 };
	int rc0 = settings_cli(&s, "rollout", usage, &argc, argv);
	if (rc0 >= 0)
		return rc0;
	struct rollout_opts o = { 0 };
	const char *pos[3] = { 0 };
	int np = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		int val = !strcmp(a, "--mode") || !strcmp(a, "--lease-ttl") || !strcmp(a, "--max-seconds");
		if (val && i + 1 >= argc) {
			fprintf(stderr, "taskpipe rollout: %s needs a value\n", a);
			return 2;
		}
		if (!strcmp(a, "--mode")) {
			o.mode = argv[++i];
			if (strcmp(o.mode, "code")) {
				fprintf(stderr, "taskpipe rollout: --mode is code (got '%s')\n", o.mode);
				return 2;
			}
		} else if (!strcmp(a, "--lease-ttl")) {
			o.lease_ttl_s = atoi(argv[++i]);
		} else if (!strcmp(a, "--max-seconds")) {
			o.deadline_ms = tp_now_ms() + (int64_t)(atof(argv[++i]) * 1000);
			o.reserve_ms = 1; /* the caller's limit is the deadline itself */
		} else if (a[0] == '-') {
			fprintf(stderr, "taskpipe rollout: unknown flag '%s'\n%s", a, usage);
			return 2;
		} else if (np < 3) {
			pos[np++] = a;
		} else {
			fprintf(stderr, "%s", usage);
			return 2;
		}
	}
	int status = np == 1 && !strcmp(pos[0], "status"), resume = np >= 1 && !strcmp(pos[0], "resume");
	if (!np || (status && np != 1) || (resume && np > 2) || (!status && !resume && np != 1)) {
		fprintf(stderr, "%s", usage);
		return 2;
	}
	char *bucket = NULL, *key = NULL, *version = NULL;
	const char *uri = resume ? (np == 2 ? pos[1] : NULL) : status ? NULL : pos[0];
	if (uri && rollout_parse_uri(uri, &bucket, &key, &version, &e) < 0) {
		print_err(&e);
		return 2;
	}
	struct app app;
	if (app_open(&app, &s, &e) < 0) {
		print_err(&e);
		free(bucket), free(key), free(version);
		return 1;
	}
	int rc, code = 0;
	if (status) {
		struct rollout_status *st = NULL;
		size_t n = 0;
		rc = rollout_status(&app, &st, &n, &e);
		if (rc == TP_OK && s.json)
			print_json(rolloutjson_status(st, n));
		else if (rc == TP_OK)
			print_status(st, n);
		rollout_status_free(st, n);
	} else if (resume) {
		struct rollout_result *rs = NULL;
		size_t n = 0;
		cmd_progress_begin(app.aws, "rollout resume", s.json);
		rc = rollout_resume(&app, bucket, key, &o, &rs, &n, &e);
		cmd_progress_end(app.aws);
		if (s.json && rs)
			print_json(rolloutjson_results(rs, n));
		for (size_t i = 0; i < n; i++) {
			if (!s.json)
				print_outcome(&rs[i]);
			int c = exit_code(rs[i].status);
			if (c > code)
				code = c;
		}
		if (!s.json && rs && !n)
			printf("nothing to resume\n");
		rollout_results_free(rs, n);
	} else {
		struct rollout_result res;
		cmd_progress_begin(app.aws, "rollout", s.json);
		rc = rollout_run(&app, bucket, key, version, &o, &res, &e);
		cmd_progress_end(app.aws);
		if (res.uri && s.json)
			print_json(rolloutjson_result(&res));
		else if (res.uri)
			print_outcome(&res);
		code = exit_code(res.status);
		rollout_result_free(&res);
	}
	if (rc < 0) {
		print_err(&e);
		if (code == 0)
			code = 1;
	}
	app_close(&app);
	free(bucket), free(key), free(version);
	return code;
}
