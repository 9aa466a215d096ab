/* main.c: the command line. Each command lives in its own cmd_*.c; this
 * file only dispatches. Run as `bootstrap` (or with AWS_LAMBDA_RUNTIME_API
 * set) it becomes a Lambda custom runtime. */
#include "cmd/commands.h"
#include "cmd/cmd_help.h"
#include "base/json.h"
#include "base/log.h"
#include "runtime/consume.h"
#include "runtime/runtime_api.h"

#include <stdio.h>
#include <string.h>

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
		help_usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
		return cmd_help(1, argv + 1);
	if (strcmp(argv[1], "--version") == 0)
		argv[1] = "version";
	const struct command *c = command_find(argv[1]);
	if (c)
		return c->run(argc - 1, argv + 1);
	fprintf(stderr, "taskpipe: unknown command '%s'\n\n", argv[1]);
	help_usage(stderr);
	return 2;
}
