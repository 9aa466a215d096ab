/* cmd_watch.c: `taskpipe watch`: arguments, signals and the one JSON line
 * per batch; the stream follower itself is runtime/watch.c. */
#include "cmd/cmd_watch.h"
#include "base/settings_table.h"

#include "core/app.h"
#include "core/lease.h"
#include "runtime/watch.h"

#include <cjson/cJSON.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void on_signal(int sig)
{
	watch_stop();
}

static const char usage[] =
	"usage: taskpipe watch [--from-start] [--once] [--interval-ms N]\n"
	"Follows the config table's stream and reconciles the pipelines of every\n"
	"change, like the Lambda function does. Checkpoints (state table,\n"
	"pk checkpoint#<shard>) let a restart resume where it stopped.\n"
	"  --from-start      without a checkpoint, start at the oldest record (TRIM_HORIZON)\n"
	"                    instead of the newest (LATEST)\n"
	"  --once            stop when caught up (exit 1 when a batch had failures)\n"
	"  --interval-ms N   wait between polls of an idle stream (default 1000)\n"
	"A record that fails for good (policy error, collision, bad item) is tried\n"
	"TASKPIPE_WATCH_MAX_ATTEMPTS times (default 3), then recorded in the state\n"
	"table (pk skipped#<shard>#<sequence number>) and skipped; transient\n"
	"failures (throttling, LeaseHeld, DeadlineNear) are retried without limit.\n"
	"--once exits 1 when records were left for a retry or skipped.\n"
	"Ctrl-C (SIGINT) or SIGTERM stops it after the current batch.\n";

/* One line per batch on stdout, for operators and tests. */
static void report(void *ctx, const struct watch_batch *b)
{
	const cJSON *records = b->records, *failed = b->failed, *skipped = b->skipped, *r;
	const char *cp = b->checkpoint;
	cJSON *o = cJSON_CreateObject(), *keys = cJSON_AddArrayToObject(o, "keys");
	cJSON_AddStringToObject(o, "shard", b->shard);
	cJSON_AddNumberToObject(o, "records", cJSON_GetArraySize(records));
	cJSON_ArrayForEach(r, records) {
		const char *k = cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(
			cJSON_GetObjectItem(cJSON_GetObjectItem(r, "dynamodb"), "Keys"), "pipeline"), "S"));
		cJSON_AddItemToArray(keys, cJSON_CreateString(k ? k : ""));
	}
	cJSON_AddItemToObject(o, "failed", failed ? cJSON_Duplicate(failed, 1) : cJSON_CreateArray());
	cJSON_AddItemToObject(o, "skipped", skipped ? cJSON_Duplicate(skipped, 1) : cJSON_CreateArray());
	if (cp)
		cJSON_AddStringToObject(o, "checkpoint", cp);
	char *t = cJSON_PrintUnformatted(o);
	printf("%s\n", t);
	fflush(stdout);
	free(t);
	cJSON_Delete(o);
}

int cmd_watch(int argc, char **argv)
{
	struct settings s;
	tp_err e = { 0 };
	struct watch_opts w = { .interval_ms = 1000, .max_attempts = WATCH_MAX_ATTEMPTS_DEFAULT };
	char holder[160];
	long ma;
	char why[160];
	if (setting_long(SET_WATCH_MAX_ATTEMPTS, &ma, why, sizeof why) < 0) {
		fprintf(stderr, "taskpipe watch: %s\n", why);
		return 2;
	}
	w.max_attempts = (int)ma;
	int rc0 = settings_cli(&s, "watch", usage, &argc, argv);
	if (rc0 >= 0)
		return rc0;
	for (int i = 1; i < argc; i++) {
		char *end = NULL;
		if (strcmp(argv[i], "--from-start") == 0) {
			w.from_start = 1;
		} else if (strcmp(argv[i], "--once") == 0) {
			w.once = 1;
		} else if (strcmp(argv[i], "--interval-ms") == 0 && i + 1 < argc &&
			   (w.interval_ms = strtol(argv[i + 1], &end, 10)) > 0 && *end == 0) {
			i++;
		} else {
			fprintf(stderr, "taskpipe watch: bad argument '%s'\n%s", argv[i], usage);
			return 2;
		}
	}
	struct app app;
	if (app_open(&app, &s, &e) < 0) {
		fprintf(stderr, "taskpipe watch: %s%s%s\n", e.code, e.code[0] ? ": " : "", e.message);
		return 1;
	}
	lease_holder_id("watch", holder, sizeof holder);
	w.holder = holder;
	struct sigaction sa = { .sa_handler = on_signal };  /* no SA_RESTART: wake blocking calls */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	struct watch_result res;
	int rc = watch_run(&app, &w, report, NULL, &res, &e) < 0 ? 1 : 0;
	if (rc)
		fprintf(stderr, "taskpipe watch: %s: %s\n", e.code, e.message);
	else if ((res.failures || res.skipped) && w.once)
		rc = 1;
	app_close(&app);
	return rc;
}
