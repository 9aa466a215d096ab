/* cmd_lifecycle.c: the operator's steering commands, pause, resume, redrive
 * and purge of one group at a time; the work is core/lifecycle.c, which the
 * REPL's tp.pause etc. call too. */
#include "cmd/cmd_lifecycle.h"

#include "core/app.h"
#include "core/lease.h"
#include "core/lifecycle.h"
#include "runtime/rec_json.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char pause_usage[] =
	"usage: taskpipe pause GROUP... [--reason TEXT] [--json]\n"
	"Stops a group's consumer from taking tasks: records an operator's pause\n"
	"(pause#GROUP in the state table, with who and when) and applies the\n"
	"pipeline, whose event source mapping is then disabled; tasks wait in the\n"
	"queue. The item is not changed: its `enabled` stays the configuration's\n"
	"word, and apply, the stream and drift keep the mapping disabled until\n"
	"`taskpipe resume GROUP`. ls shows ENABLED and PAUSED apart.\n";

static const char resume_usage[] =
	"usage: taskpipe resume GROUP... [--json]\n"
	"Clears an operator's pause and applies the pipeline: the mapping is enabled\n"
	"again when the item says enabled (a group that was not paused is reported\n"
	"as such and applied anyway).\n";

static const char redrive_usage[] =
	"usage: taskpipe redrive GROUP...\n"
	"Moves the messages of the group's dead-letter queue back to its queue\n"
	"(StartMessageMoveTask; by receive, send and delete where that is refused,\n"
	"deleting only what arrived).\n";

static const char purge_usage[] =
	"usage: taskpipe purge GROUP... --yes [--dlq]\n"
	"Deletes every message waiting in the group's queue (PurgeQueue), or with\n"
	"--dlq in its dead-letter queue. Tasks are gone for good: --yes says so.\n"
	"SQS allows one purge per queue every 60 s.\n";

struct lc_args {
	struct settings s;
	char **groups;
	size_t n;
	const char *reason;
	int yes, dlq;
};

/* Settings flags, then this command's own; 2 on a usage error, 0 after
 * --help, -1 to go on. */
static int lc_parse(const char *cmd, const char *usage, int argc, char **argv, struct lc_args *a)
{
	memset(a, 0, sizeof *a);
	int rc = settings_cli(&a->s, cmd, usage, &argc, argv);
	if (rc >= 0)
		return rc;
	a->groups = tp_xcalloc((size_t)argc + 1, sizeof *a->groups);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--reason") == 0 && strcmp(cmd, "pause") == 0 && i + 1 < argc)
			a->reason = argv[++i];
		else if (strcmp(argv[i], "--yes") == 0 && strcmp(cmd, "purge") == 0)
			a->yes = 1;
		else if (strcmp(argv[i], "--dlq") == 0 && strcmp(cmd, "purge") == 0)
			a->dlq = 1;
		else if (argv[i][0] == '-') {
			fprintf(stderr, "taskpipe %s: unknown flag '%s' (or it needs a value)\n%s", cmd, argv[i], usage);
			return 2;
		} else
			a->groups[a->n++] = argv[i];
	}
	if (a->n == 0) {
		fprintf(stderr, "taskpipe %s: name a group\n%s", cmd, usage);
		return 2;
	}
	return -1;
}

static void report(const char *cmd, const char *group, const struct lifecycle_outcome *o, int json)
{
	for (size_t i = 0; i < o->n_res; i++) {
		const struct rec_result *r = &o->res[i];
		if (json) {
			cJSON *doc = rec_result_json(r);
			cJSON_AddStringToObject(doc, "command", cmd);
			cJSON_AddBoolToObject(doc, "changed", o->changed);
			char *t = cJSON_PrintUnformatted(doc);
			puts(t);
			free(t);
			cJSON_Delete(doc);
		} else if (r->rc != TP_OK) {
			printf("! %s: %s recorded, but apply failed: %s: %s\n", group,
			       strcmp(cmd, "pause") == 0 ? "pause" : "resume", r->err.code, r->err.message);
		} else {
			printf("%s %s%s; %s\n", strcmp(cmd, "pause") == 0 ? "paused" : "resumed", group,
			       o->changed ? "" : strcmp(cmd, "pause") == 0 ? " (was paused already)" : " (was not paused)",
			       r->changes ? "mapping updated" : "pipeline in sync");
		}
	}
}

static int run(const char *cmd, const char *usage, int argc, char **argv)
{
	struct lc_args a;
	int rc = lc_parse(cmd, usage, argc, argv, &a);
	if (rc >= 0) {
		free(a.groups);
		return rc;
	}
	if (strcmp(cmd, "purge") == 0 && !a.yes) {
		fprintf(stderr, "taskpipe purge: deletes every waiting task of %s%s for good; add --yes\n",
			a.n > 1 ? "these groups" : a.groups[0], a.dlq ? "'s dead-letter queue" : "");
		free(a.groups);
		return 2;
	}
	struct app app;
	tp_err e = { 0 };
	if (app_open(&app, &a.s, &e) < 0) {
		fprintf(stderr, "taskpipe %s: %s: %s\n", cmd, e.code, e.message);
		free(a.groups);
		return 1;
	}
	char holder[160];
	lease_holder_id("cli", holder, sizeof holder);
	int failed = 0;
	for (size_t i = 0; i < a.n; i++) {
		const char *g = a.groups[i];
		struct lifecycle_outcome o = { 0 };
		tp_err_clear(&e);
		if (strcmp(cmd, "pause") == 0)
			rc = lifecycle_pause(&app, g, holder, a.reason, holder, &o, &e);
		else if (strcmp(cmd, "resume") == 0)
			rc = lifecycle_resume(&app, g, holder, &o, &e);
		else if (strcmp(cmd, "redrive") == 0)
			rc = lifecycle_redrive(&app, g, &o, &e);
		else
			rc = lifecycle_purge(&app, g, a.dlq, &e);
		if (rc < 0) {
			fprintf(stderr, "taskpipe %s: %s: %s: %s\n", cmd, g, e.code, e.message);
			failed++;
		} else if (strcmp(cmd, "redrive") == 0) {
			printf("redrive %s: %ld messages (%s)\n", g, o.moved, o.how);
		} else if (strcmp(cmd, "purge") == 0) {
			printf("purged %s%s\n", g, a.dlq ? " (dead-letter queue)" : "");
		} else {
			report(cmd, g, &o, a.s.json);
			for (size_t k = 0; k < o.n_res; k++)
				failed += o.res[k].rc != TP_OK;
		}
		lifecycle_outcome_free(&o);
	}
	app_close(&app);
	free(a.groups);
	return failed ? 1 : 0;
}

int cmd_pause(int argc, char **argv)
{
	return run("pause", pause_usage, argc, argv);
}

int cmd_resume(int argc, char **argv)
{
	return run("resume", resume_usage, argc, argv);
}

int cmd_redrive(int argc, char **argv)
{
	return run("redrive", redrive_usage, argc, argv);
}

int cmd_purge(int argc, char **argv)
{
	return run("purge", purge_usage, argc, argv);
}
