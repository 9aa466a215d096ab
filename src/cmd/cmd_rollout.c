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

static int exit_code(const char *status)
{
	if (!status)
		return 1;
	if (!strcmp(status, "done") || !strcmp(status, "superseded") || !strcmp(status, "no-targets") ||
	    !strcmp(status, "stale"))
		return 0;
	if (!strcmp(status, "paused") || !strcmp(status, "busy"))
		return 3;
	return 1;
}

static void print_outcome(const cJSON *o)
{
	const char *st = cJSON_GetStringValue(cJSON_GetObjectItem(o, "status"));
	cJSON *calls = cJSON_GetObjectItem(o, "calls");
	printf("rollout %s: %s (%d targets in %d waves; %d updated, %d already current, %d failed; "
	       "Lambda calls %d: %d updates, %d ListFunctions, %d GetFunction)\n",
	       cJSON_GetStringValue(cJSON_GetObjectItem(o, "rollout")), st ? st : "?",
	       (int)cJSON_GetNumberValue(cJSON_GetObjectItem(o, "targets")),
	       (int)cJSON_GetNumberValue(cJSON_GetObjectItem(o, "waves")),
	       (int)cJSON_GetNumberValue(cJSON_GetObjectItem(o, "updated")),
	       (int)cJSON_GetNumberValue(cJSON_GetObjectItem(o, "already_current")),
	       (int)cJSON_GetNumberValue(cJSON_GetObjectItem(o, "failed")),
	       (int)cJSON_GetNumberValue(cJSON_GetObjectItem(calls, "lambda")),
	       (int)cJSON_GetNumberValue(cJSON_GetObjectItem(calls, "updates")),
	       (int)cJSON_GetNumberValue(cJSON_GetObjectItem(calls, "list_functions")),
	       (int)cJSON_GetNumberValue(cJSON_GetObjectItem(calls, "get_function")));
	cJSON *f = cJSON_GetObjectItem(o, "failure");
	if (f)
		printf("  failed: function %s (pipeline %s): %s: %s\n",
		       cJSON_GetStringValue(cJSON_GetObjectItem(f, "function")),
		       cJSON_GetStringValue(cJSON_GetObjectItem(f, "pipeline")) ?: "?",
		       cJSON_GetStringValue(cJSON_GetObjectItem(f, "code")),
		       cJSON_GetStringValue(cJSON_GetObjectItem(f, "message")));
	cJSON *s;
	cJSON_ArrayForEach(s, cJSON_GetObjectItem(o, "failures"))
		if (!f || strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(s, "function")) ?: "",
				 cJSON_GetStringValue(cJSON_GetObjectItem(f, "function")) ?: ""))
			printf("  failed: function %s (pipeline %s): %s: %s\n",
			       cJSON_GetStringValue(cJSON_GetObjectItem(s, "function")),
			       cJSON_GetStringValue(cJSON_GetObjectItem(s, "pipeline")),
			       cJSON_GetStringValue(cJSON_GetObjectItem(s, "code")),
			       cJSON_GetStringValue(cJSON_GetObjectItem(s, "message")));
	cJSON_ArrayForEach(s, cJSON_GetObjectItem(o, "skipped"))
		printf("  skipped: %s (%s): %s\n", cJSON_GetStringValue(cJSON_GetObjectItem(s, "pipeline")),
		       cJSON_GetStringValue(cJSON_GetObjectItem(s, "function")),
		       cJSON_GetStringValue(cJSON_GetObjectItem(s, "reason")));
}

static void print_status(const cJSON *all)
{
	const cJSON *r;
	if (!cJSON_GetArraySize(all))
		printf("no rollouts\n");
	cJSON_ArrayForEach(r, all) {
		cJSON *waves = cJSON_GetObjectItem(r, "waves"), *w;
		printf("%s  %s  gen %d  mode %s  waves %d/%d\n", cJSON_GetStringValue(cJSON_GetObjectItem(r, "rollout")),
		       cJSON_GetStringValue(cJSON_GetObjectItem(r, "status")),
		       (int)cJSON_GetNumberValue(cJSON_GetObjectItem(r, "gen")),
		       cJSON_GetStringValue(cJSON_GetObjectItem(r, "mode")),
		       (int)cJSON_GetNumberValue(cJSON_GetObjectItem(r, "next_wave")), cJSON_GetArraySize(waves));
		cJSON_ArrayForEach(w, waves) {
			cJSON *c = cJSON_GetObjectItem(w, "counts"), *n, *f;
			printf("  wave %d  %-8s %3d functions:", (int)cJSON_GetNumberValue(cJSON_GetObjectItem(w, "index")),
			       cJSON_GetStringValue(cJSON_GetObjectItem(w, "state")),
			       cJSON_GetArraySize(cJSON_GetObjectItem(w, "functions")));
			cJSON_ArrayForEach(n, c)
				if (n->valuedouble > 0)
					printf(" %s %d", n->string, (int)n->valuedouble);
			printf("\n");
			cJSON_ArrayForEach(f, cJSON_GetObjectItem(w, "functions"))
				if (cJSON_GetObjectItem(f, "error_code"))
					printf("    %s: %s: %s\n", cJSON_GetStringValue(cJSON_GetObjectItem(f, "function")),
					       cJSON_GetStringValue(cJSON_GetObjectItem(f, "error_code")),
					       cJSON_GetStringValue(cJSON_GetObjectItem(f, "error_message")));
		}
		cJSON *f = cJSON_GetObjectItem(r, "failure");
		if (f)
			printf("  halted at function %s: %s: %s\n", cJSON_GetStringValue(cJSON_GetObjectItem(f, "function")),
			       cJSON_GetStringValue(cJSON_GetObjectItem(f, "code")),
			       cJSON_GetStringValue(cJSON_GetObjectItem(f, "message")));
	}
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
			/* Only code mode is left; --mode code is still accepted. */
			o.mode = argv[++i];
			if (!strcmp(o.mode, "layer")) {
				fprintf(stderr, "taskpipe rollout: --mode layer was removed: the function's own zip "
					"holds bootstrap, which shadows the layer's /opt, so a layer rollout changed "
					"nothing. Roll out code (the default). To store the code once, set "
					"code_storage = \"reference\" (the default on a versioned code bucket): "
					"functions then run it from S3 (README, \"Code storage\").\n");
				return 2;
			}
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
	char *out = NULL;
	int rc, code = 0;
	if (status) {
		rc = rollout_status(&app, &out, &e);
	} else if (resume) {
		rc = rollout_resume(&app, bucket, key, &o, &out, &e);
	} else {
		rc = rollout_run(&app, bucket, key, version, &o, &out, &e);
	}
	cJSON *j = out ? cJSON_Parse(out) : NULL;
	if (s.json && out)
		printf("%s\n", out);
	if (status) {
		if (!s.json && j)
			print_status(j);
	} else if (resume) {
		const cJSON *it;
		cJSON_ArrayForEach(it, j) {
			if (!s.json)
				print_outcome(it);
			int c = exit_code(cJSON_GetStringValue(cJSON_GetObjectItem(it, "status")));
			if (c > code)
				code = c;
		}
		if (!s.json && !cJSON_GetArraySize(j))
			printf("nothing to resume\n");
	} else if (j) {
		if (!s.json)
			print_outcome(j);
		code = exit_code(cJSON_GetStringValue(cJSON_GetObjectItem(j, "status")));
	}
	if (rc < 0) {
		print_err(&e);
		if (code == 0)
			code = 1;
	}
	cJSON_Delete(j);
	free(out);
	app_close(&app);
	free(bucket), free(key), free(version);
	return code;
}
