/* commands.c: the command table (commands.h). Each command lives in its own
 * cmd_*.c; version and debug, a few lines each, are here. */
#include "cmd/commands.h"
#include "cmd/cmd_aws.h"
#include "cmd/cmd_debug_creds.h"
#include "cmd/cmd_debug_http.h"
#include "cmd/cmd_debug_rollout.h"
#include "cmd/cmd_debug_sigv4.h"
#include "cmd/cmd_drift.h"
#include "cmd/cmd_help.h"
#include "cmd/cmd_kept.h"
#include "cmd/cmd_lifecycle.h"
#include "cmd/cmd_pipeline.h"
#include "cmd/cmd_policy.h"
#include "cmd/cmd_repl.h"
#include "cmd/cmd_rollout.h"
#include "cmd/cmd_send.h"
#include "cmd/cmd_status.h"
#include "cmd/cmd_top.h"
#include "cmd/cmd_watch.h"
#include "aws/http.h"
#include "base/version.h"
#include "runtime/consume.h"
#include "script/policy.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

static int cmd_version(int argc, char **argv)
{
	char pol[512];
	if (cmd_policy_describe(pol, sizeof pol) < 0)
		snprintf(pol, sizeof pol, "policy: (failed to load, see taskpipe policy show)");
	printf("taskpipe %s\n%s\nlibraries: %s, %s, cJSON %s\n", TASKPIPE_VERSION, pol,
	       policy_engine_version(), http_library_version(), cJSON_Version());
	return 0;
}

static int cmd_debug(int argc, char **argv)
{
	if (argc >= 2) {
		if (strcmp(argv[1], "sigv4") == 0)
			return cmd_debug_sigv4(argc - 1, argv + 1);
		if (strcmp(argv[1], "bench-sigv4") == 0)
			return cmd_debug_bench_sigv4(argc - 1, argv + 1);
		if (strcmp(argv[1], "http") == 0)
			return cmd_debug_http(argc - 1, argv + 1);
		if (strcmp(argv[1], "creds") == 0)
			return cmd_debug_creds(argc - 1, argv + 1);
		if (strcmp(argv[1], "rollout-plan") == 0)
			return cmd_debug_rollout_plan(argc - 1, argv + 1);
	}
	fputs("usage: taskpipe debug sigv4|bench-sigv4|http|creds|rollout-plan ...\n", stderr);
	return 2;
}

/* In the order `taskpipe --help` and the man page list them. */
const struct command commands[] = {
	{ "version", "", "version, libraries and the policy in force", cmd_version },
	{ "aws", "SERVICE OP [JSON]", "one signed AWS call (taskpipe aws --help)", cmd_aws },
	{ "init", "", "create the config and state tables and code bucket if missing", cmd_init },
	{ "put", "FILE...", "write config items (JSON, array, JSON lines), each checked", cmd_put },
	{ "rm", "NAME... [--now]", "delete config items (their pipelines drain; --now: at once)", cmd_rm },
	{ "forget", "NAME...", "drop the state of a pipeline whose item is gone", cmd_forget },
	{ "ls", "[NAME|GLOB...] [--kept]", "items: paused, rate, concurrency, status; draining and kept ones", cmd_ls },
	{ "kept", "[redrive|purge]", "queues kept by drained pipelines: list, redrive, purge", cmd_kept },
	{ "pause", "GROUP...", "an operator's pause (mapping disabled, item unchanged)", cmd_pause },
	{ "resume", "GROUP...", "the end of an operator's pause", cmd_resume },
	{ "redrive", "GROUP...", "move the dead-letter queue's messages back to the queue", cmd_redrive },
	{ "purge", "GROUP... --yes", "delete every waiting task (--dlq: of the dead-letter queue)", cmd_purge },
	{ "plan", "[NAME...]", "what apply would change (exit 0 none, 2 changes, 1 errors)", cmd_plan },
	{ "apply", "NAME...|--all", "make pipelines match their items", cmd_apply },
	{ "send", "GROUP [BODY|@F|-]", "send tasks to a group's queue (- : one per line from stdin)", cmd_send },
	{ "url", "GROUP", "the URL of a group's queue", cmd_url },
	{ "status", "[GROUP...]", "one row per group: backlog, oldest task, rates, errors, DLQ", cmd_status },
	{ "top", "[GROUP...]", "the status rows refreshed in place, keys to sort and filter", cmd_top },
	{ "watch", "", "follow the config table's stream and apply changes", cmd_watch },
	{ "drift", "[--fix]", "compare every pipeline with its item (exit 0 in sync, 2 drift, 1 errors)", cmd_drift },
	{ "rollout", "s3://B/K[#V]|resume|status", "roll code out in the policy's waves; go on; show rollouts",
	  cmd_rollout },
	{ "repl", "[-e CODE]", "operator Lua prompt with the tp module (line editing, history)", cmd_repl },
	{ "run", "FILE.lua [ARGS]", "run an operator Lua script with the tp module", cmd_run },
	{ "policy", "check ITEM...|show", "run the policy on config items; the policy in force, its SHA-256",
	  cmd_policy },
	{ "consume", "[--] [CMD...]", "Lambda Runtime API proxy pacing CMD to TASKPIPE_RATE (consumer layer)",
	  cmd_consume },
	{ "debug", "SUBCOMMAND", "diagnostics: sigv4, bench-sigv4, http, creds, rollout-plan", cmd_debug },
	{ "help", "[COMMAND|settings]", "a command's help (= COMMAND --help), or every setting", cmd_help },
	{ NULL, NULL, NULL, NULL },
};

const struct command *command_find(const char *name)
{
	for (const struct command *c = commands; c->name; c++)
		if (strcmp(name, c->name) == 0)
			return c;
	return NULL;
}
