/* main.c: the command line. Each command lives in its own cmd_*.c; this
 * file only dispatches. Run as `bootstrap` (or with AWS_LAMBDA_RUNTIME_API
 * set) it becomes a Lambda custom runtime. */
#include "cmd/cmd_aws.h"
#include "runtime/consume.h"
#include "cmd/cmd_debug_creds.h"
#include "cmd/cmd_debug_http.h"
#include "cmd/cmd_debug_rollout.h"
#include "cmd/cmd_debug_sigv4.h"
#include "cmd/cmd_drift.h"
#include "cmd/cmd_pipeline.h"
#include "cmd/cmd_policy.h"
#include "cmd/cmd_repl.h"
#include "cmd/cmd_rollout.h"
#include "cmd/cmd_send.h"
#include "cmd/cmd_status.h"
#include "cmd/cmd_top.h"
#include "cmd/cmd_watch.h"
#include "aws/http.h"
#include "base/json.h"
#include "base/log.h"
#include "script/policy.h"
#include "runtime/runtime_api.h"
#include "base/version.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

static const char usage[] =
	"usage: taskpipe COMMAND [ARGS]\n"
	"\n"
	"commands:\n"
	"  version                 version, libraries and the policy in force\n"
	"  aws SERVICE OP [JSON]   one signed AWS call (taskpipe aws --help)\n"
	"  init                    create the config and state tables and code bucket if missing\n"
	"  put ITEM.json...        write config items\n"
	"  rm NAME...              delete config items\n"
	"  ls                      config items and their pipelines' status\n"
	"  plan [NAME...]          what apply would change (exit 0 none, 2 changes, 1 errors)\n"
	"  apply NAME...|--all     make pipelines match their items\n"
	"  send GROUP [BODY|@F|-]  send tasks to a group's queue (- : one per line from stdin)\n"
	"  url GROUP               the URL of a group's queue\n"
	"  status [GROUP...]       one row per group: backlog, oldest task, rates, errors, DLQ\n"
	"  top [GROUP...]          the status rows refreshed in place, keys to sort and filter\n"
	"  watch                   follow the config table's stream and apply changes\n"
	"  drift [--fix]           compare every pipeline with its item (exit 0 in sync, 2 drift, 1 errors)\n"
	"  rollout s3://B/K[#V]    roll a consumer code version out in the policy's waves\n"
	"  rollout resume|status   continue cut-off rollouts; show rollouts, waves, functions\n"
	"  repl [-e CODE]          operator Lua prompt with the tp module (rlwrap taskpipe repl)\n"
	"  run FILE.lua [ARGS]     run an operator Lua script with the tp module\n"
	"  policy check ITEM...    run the policy on config items (taskpipe policy --help)\n"
	"  policy show             the policy in force and its SHA-256\n"
	"  consume [--] [CMD...]   Lambda Runtime API proxy pacing CMD to TASKPIPE_RATE (consumer layer)\n"
	"  debug SUBCOMMAND        diagnostics: sigv4, bench-sigv4, http, creds, rollout-plan\n"
	"\n"
	"Every command takes --help.\n";

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

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
};

static const struct command commands[] = {
	{ "version", cmd_version },
	{ "aws", cmd_aws },
	{ "policy", cmd_policy },
	{ "init", cmd_init },
	{ "ls", cmd_ls },
	{ "plan", cmd_plan },
	{ "apply", cmd_apply },
	{ "put", cmd_put },
	{ "rm", cmd_rm },
	{ "send", cmd_send },
	{ "url", cmd_url },
	{ "status", cmd_status },
	{ "top", cmd_top },
	{ "watch", cmd_watch },
	{ "drift", cmd_drift },
	{ "rollout", cmd_rollout },
	{ "repl", cmd_repl },
	{ "run", cmd_run },
	{ "debug", cmd_debug },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	json_init_hooks();   /* before any cJSON allocation, in every mode below */
	log_init();
	/* Checked first: inside Lambda AWS_LAMBDA_RUNTIME_API is set, which
	 * would otherwise make this process the controller's runtime. */
	if (argc >= 2 && strcmp(argv[1], "consume") == 0)
		return cmd_consume(argc - 1, argv + 1);
	if (runtime_wanted(argv[0]))
		return runtime_main(argc, argv);
	if (argc < 2) {
		fputs(usage, stderr);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
		fputs(usage, stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0)
		return cmd_version(argc - 1, argv + 1);
	for (const struct command *c = commands; c->name; c++)
		if (strcmp(argv[1], c->name) == 0)
			return c->run(argc - 1, argv + 1);
	fprintf(stderr, "taskpipe: unknown command '%s'\n\n%s", argv[1], usage);
	return 2;
}
