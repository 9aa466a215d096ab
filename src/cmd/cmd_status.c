/* cmd_status.c: `taskpipe status [GROUP...]`: the table or --json, sorted
 * and filtered (see core/gstatus.h for where each number comes from). */
#include "cmd/cmd_status.h"

#include "core/gstatus.h"
#include "runtime/gstatus_json.h"
#include "runtime/gstatus_fmt.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
	"usage: taskpipe status [GROUP...] [--json] [--sort KEY] [FILTERS]\n"
	"One row per group: configured rate, burst and concurrency; tasks started per\n"
	"second (last 1 and 5 min); enabled or paused; visible, in flight and delayed\n"
	"tasks; the oldest task's age; DLQ depth; handler errors and throttles (last\n"
	"5 min); last activity; state (ok, error, draining, pending). Worst first:\n"
	"the oldest task's age, then the backlog. FLOW is the mapping in force (on,\n"
	"paused); paused* marks an operator's pause (taskpipe pause), whatever the\n"
	"item says (--json: enabled, item_enabled, operator_paused).\n"
	"  --sort KEY     age (default), name, visible, inflight, dlq, errors,\n"
	"                 throttles, starts, state\n"
	"filters (all must hold):\n"
	"  --state S      ok, error, draining, pending\n"
	"  --paused       only paused groups;  --enabled  only consuming ones\n"
	"  --backlog      visible or delayed tasks waiting\n"
	"  --failing      handler errors or throttles in the last 5 min, or a non-empty DLQ\n"
	"  --min-age S    the oldest task is at least S seconds old\n"
	"Exit 0; 1 when a named group is unknown or nothing could be read.\n";

static void print_table(const struct gs_report *r, const struct gs_filter *f, int64_t now_s)
{
	printf("%-28s %-8s %-6s %6s %5s %4s %7s %7s %7s %7s %7s %7s %5s %5s %5s %8s\n", "GROUP", "STATE", "FLOW",
	       "RATE", "BURST", "CONC", "START1m", "START5m", "VISIBLE", "INFLT", "DELAYED", "OLDEST", "DLQ",
	       "ERR5m", "THR5m", "LAST");
	size_t shown = 0;
	for (size_t i = 0; i < r->n; i++) {
		const struct gs_row *x = &r->v[i];
		if (!gs_row_shown(x, f))
			continue;
		shown++;
		char conc[32], s1[32], s5[32], vis[32], inf[32], del[32], age[32], dlq[32], err[32], thr[32],
			last[40];
		gs_fmt_long(conc, sizeof conc, x->concurrency);
		gs_fmt_num(s1, sizeof s1, x->starts_1m);
		gs_fmt_num(s5, sizeof s5, x->starts_5m);
		gs_fmt_long(vis, sizeof vis, x->visible);
		gs_fmt_long(inf, sizeof inf, x->in_flight);
		gs_fmt_long(del, sizeof del, x->delayed);
		gs_fmt_age(age, sizeof age, x->age_s);
		gs_fmt_long(dlq, sizeof dlq, x->dlq);
		gs_fmt_num(err, sizeof err, x->errors_5m);
		gs_fmt_num(thr, sizeof thr, x->throttles_5m);
		if (x->last_activity > 0) {
			gs_fmt_age(last, sizeof last, (double)(now_s - x->last_activity));
			strncat(last, " ago", sizeof last - strlen(last) - 1);
		} else {
			snprintf(last, sizeof last, "-");
		}
		printf("%-28s %-8s %-6s %6s %5s %4s %7s %7s %7s %7s %7s %7s %5s %5s %5s %8s\n", x->group, x->state,
		       x->operator_paused ? "paused*" : x->enabled < 0 ? "-" : x->enabled ? "on" : "paused",
		       x->rate[0] ? x->rate : "-",
		       x->burst[0] ? x->burst : "-", conc, s1, s5, vis, inf, del, age, dlq, err, thr, last);
	}
	for (size_t i = 0; i < r->n; i++) {
		const struct gs_row *x = &r->v[i];
		if (!gs_row_shown(x, f))
			continue;
		if (x->message)
			printf("! %s: %s\n", x->group, x->message);
		if (x->problem)
			printf("? %s: %s\n", x->group, x->problem);
	}
	if (r->cw_problem)
		printf("? metrics unknown: %s\n", r->cw_problem);
	printf("%zu of %zu groups; %ld requests (DynamoDB %ld, SQS %ld, CloudWatch %ld) in %lld ms\n", shown, r->n,
	       r->ddb_calls + r->sqs_calls + r->cw_calls, r->ddb_calls, r->sqs_calls, r->cw_calls,
	       (long long)r->elapsed_ms);
}

int cmd_status(int argc, char **argv)
{
	struct settings s;
	int rc = settings_cli(&s, "status", usage, &argc, argv);
	if (rc >= 0)
		return rc;
	struct gs_filter f = { 0 };
	const char *sort = "age";
	char **groups = tp_xcalloc((size_t)argc + 1, sizeof *groups);
	size_t ng = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		int has_val = i + 1 < argc;
		if (strcmp(a, "--sort") == 0 && has_val) {
			sort = argv[++i];
		} else if (strcmp(a, "--state") == 0 && has_val) {
			f.state = argv[++i];
			if (strcmp(f.state, "ok") && strcmp(f.state, "error") && strcmp(f.state, "draining") &&
			    strcmp(f.state, "pending")) {
				fprintf(stderr, "taskpipe status: --state is ok, error, draining or pending, not '%s'\n",
					f.state);
				free(groups);
				return 2;
			}
		} else if (strcmp(a, "--min-age") == 0 && has_val) {
			char *end;
			f.min_age = strtod(argv[++i], &end);
			if (*end || f.min_age <= 0) {
				fprintf(stderr, "taskpipe status: --min-age wants a positive number of seconds\n");
				free(groups);
				return 2;
			}
		} else if (strcmp(a, "--paused") == 0) {
			f.paused = 1;
		} else if (strcmp(a, "--enabled") == 0) {
			f.enabled = 1;
		} else if (strcmp(a, "--backlog") == 0) {
			f.backlog = 1;
		} else if (strcmp(a, "--failing") == 0) {
			f.failing = 1;
		} else if (a[0] == '-') {
			fprintf(stderr, "taskpipe status: unknown flag or missing value '%s'\n%s", a, usage);
			free(groups);
			return 2;
		} else {
			groups[ng++] = argv[i];
		}
	}
	struct gs_report probe = { 0 };
	if (gs_sort(&probe, sort) < 0) {
		fprintf(stderr, "taskpipe status: unknown --sort key '%s' (age, name, visible, inflight, dlq, errors, "
			"throttles, starts, state)\n", sort);
		free(groups);
		return 2;
	}
	struct aws_options o = { .max_in_flight = s.parallel };
	struct aws *a = NULL;
	tp_err e = { 0 };
	if (aws_new(&o, &a, &e) < 0) {
		fprintf(stderr, "taskpipe status: %s\n", e.message);
		free(groups);
		return 1;
	}
	struct gs_report r;
	int64_t now_s = tp_now_ms() / 1000;
	rc = gs_collect(a, &s, groups, ng, now_s, &r, &e);
	if (rc < 0) {
		fprintf(stderr, "taskpipe status: %s%s%s\n", e.code, e.code[0] ? ": " : "", e.message);
		aws_free(a);
		free(groups);
		return 1;
	}
	gs_sort(&r, sort);
	int unknown = 0;
	for (size_t i = 0; i < r.n; i++)
		unknown += strcmp(r.v[i].state, "unknown") == 0;
	if (s.json) {
		/* the filters apply to --json too */
		struct gs_report shown = r;
		shown.v = tp_xcalloc(r.n + 1, sizeof *shown.v);
		shown.n = 0;
		for (size_t i = 0; i < r.n; i++)
			if (gs_row_shown(&r.v[i], &f))
				shown.v[shown.n++] = r.v[i];
		cJSON *doc = gs_report_json(&shown);
		free(shown.v);
		char *t = cJSON_Print(doc);
		puts(t);
		free(t);
		cJSON_Delete(doc);
	} else {
		print_table(&r, &f, now_s);
	}
	for (size_t i = 0; i < r.n; i++)
		if (strcmp(r.v[i].state, "unknown") == 0)
			fprintf(stderr, "taskpipe status: %s: %s\n", r.v[i].group, r.v[i].problem ? r.v[i].problem : "unknown");
	gs_report_free(&r);
	aws_free(a);
	free(groups);
	return unknown ? 1 : 0;
}
