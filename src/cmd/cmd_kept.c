/* cmd_kept.c: taskpipe kept: the queues a drained pipeline kept because
 * they held messages (core/kept.h): list them, redrive them into a live
 * pipeline's queue, or purge them (only with --yes). */
#include "cmd/cmd_kept.h"

#include "cmd/cmd_pipeline.h"
#include "core/app.h"
#include "core/kept.h"

#include <stdio.h>
#include <string.h>

static const char usage[] =
	"usage: taskpipe kept [--json]              list kept queues (= taskpipe ls --kept)\n"
	"       taskpipe kept redrive NAME --to LIVE move their messages into pipeline LIVE's\n"
	"                                          queue, then delete the emptied queues\n"
	"       taskpipe kept purge NAME --yes      delete them with their messages\n"
	"A removed pipeline keeps a queue that still held tasks when its drain ended\n"
	"(drain_timeout) and a non-empty dead-letter queue (keep_dlq). Redrive or purge\n"
	"ends that: the pipeline's record becomes deleted.\n";

static int act(int argc, char **argv, const char *verb)
{
	struct settings s;
	int rc = settings_cli(&s, "kept", usage, &argc, argv);
	if (rc >= 0)
		return rc;
	const char *name = NULL, *to = NULL;
	int yes = 0;
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--to") == 0 && i + 1 < argc) {
			to = argv[++i];
		} else if (strcmp(argv[i], "--yes") == 0) {
			yes = 1;
		} else if (argv[i][0] == '-' || name) {
			fprintf(stderr, "taskpipe kept %s: unexpected '%s'\n%s", verb, argv[i], usage);
			return 2;
		} else {
			name = argv[i];
		}
	}
	int redrive = strcmp(verb, "redrive") == 0;
	if (!name || (redrive && !to)) {
		fprintf(stderr, "taskpipe kept %s: %s\n%s", verb, redrive ? "name the pipeline and --to LIVE" : "name the pipeline", usage);
		return 2;
	}
	if (!redrive && !yes) {
		fprintf(stderr, "taskpipe kept purge: this deletes %s's kept queues and every message in them; add --yes to do it\n",
			name);
		return 2;
	}
	struct app app;
	tp_err e = { 0 };
	if (app_open(&app, &s, &e) < 0) {
		fprintf(stderr, "taskpipe kept: %s: %s\n", e.code, e.message);
		return 1;
	}
	long n = 0;
	rc = redrive ? kept_redrive(&app, name, to, &n, &e) : kept_purge(&app, name, &n, &e);
	if (redrive)
		printf("%s: %ld messages moved to %s's queue\n", name, n, to);
	else if (rc == TP_OK)
		printf("%s: kept queues deleted, about %ld messages dropped\n", name, n);
	if (rc < 0)
		fprintf(stderr, "taskpipe kept %s: %s: %s: %s\n", verb, name, e.code, e.message);
	app_close(&app);
	return rc < 0 ? 1 : 0;
}

int cmd_kept(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(usage, stdout);
			return 0;
		}
	if (argc >= 2 && (strcmp(argv[1], "redrive") == 0 || strcmp(argv[1], "purge") == 0))
		return act(argc, argv, argv[1]);
	if (argc >= 2 && argv[1][0] != '-') {
		fprintf(stderr, "taskpipe kept: unknown '%s'\n%s", argv[1], usage);
		return 2;
	}
	/* the listing is ls --kept */
	char *args[argc + 2];
	int n = 0;
	for (int i = 0; i < argc; i++)
		args[n++] = argv[i];
	args[n++] = "--kept";
	args[n] = NULL;
	return cmd_ls(n, args);
}
