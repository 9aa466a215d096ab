/* cmd_repl.c: `taskpipe repl` and `taskpipe run`: open the app, a trusted
 * Lua state with every standard library and the tp module, then the
 * prompt, -e code or a script file. */
#include "cmd/cmd_repl.h"

#include "core/app.h"
#include "base/log.h"
#include "cmd/luatp.h"
#include "cmd/repl.h"

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char repl_usage[] =
	"usage: taskpipe repl [-e CODE]...\n"
	"A Lua 5.4 prompt with the `tp` module (tp.help() lists it): expressions print\n"
	"their value, unfinished statements continue on the next line (\">> \"), errors\n"
	"show a traceback and the session goes on, Ctrl-D exits. On a terminal, lines\n"
	"are edited in place: Left/Right, Home/End (Ctrl-A/E), Ctrl-K/U/W to kill to\n"
	"the end, to the start, the word before; Up/Down for history, kept in\n"
	"$TASKPIPE_REPL_HISTORY (default ~/.taskpipe_history; empty: none); Ctrl-C\n"
	"drops the line (and an unfinished chunk).\n"
	"With -e, runs each CODE as one prompt entry (values printed) and exits;\n"
	"exit 1 at the first error. Operator code is trusted (all standard\n"
	"libraries); the policy still runs in its sandbox.\n";

static const char run_usage[] =
	"usage: taskpipe run FILE.lua [ARGS...]\n"
	"Runs an operator script with the `tp` module; ARGS are in `arg` (arg[0] is\n"
	"FILE) and in `...`. Settings flags go before FILE. Exit 1 on an error.\n";

/* Open app + Lua; NULL on failure (message printed). */
static lua_State *open_lua(const char *cmd, struct app *app, const struct settings *s)
{
	tp_err e = { 0 };
	if (!getenv("AWS_LAMBDA_LOG_FORMAT"))
		log_set_json(0);   /* a person reads these */
	if (app_open(app, s, &e) < 0) {
		fprintf(stderr, "taskpipe %s: %s: %s\n", cmd, e.code, e.message);
		return NULL;
	}
	lua_State *L = luaL_newstate();
	luaL_openlibs(L);
	if (luatp_open(L, app, &e) < 0) {
		fprintf(stderr, "taskpipe %s: %s: %s\n", cmd, e.code, e.message);
		lua_close(L);
		app_close(app);
		return NULL;
	}
	return L;
}

static int help_wanted(int argc, char **argv, int upto)
{
	for (int i = 1; i < argc && i < upto; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return 1;
	return 0;
}

int cmd_repl(int argc, char **argv)
{
	struct settings s;
	tp_err e = { 0 };
	settings_init(&s);
	if (help_wanted(argc, argv, argc)) {
		printf("%s\n%s", repl_usage, settings_pointer);
		return 0;
	}
	if (settings_parse_flags(&s, &argc, argv, &e) < 0) {
		fprintf(stderr, "taskpipe repl: %s\n", e.message);
		return 2;
	}
	int n_code = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-e") == 0 && i + 1 < argc) {
			i++;
			n_code++;
		} else {
			fprintf(stderr, "taskpipe repl: unexpected argument '%s'\n%s", argv[i], repl_usage);
			return 2;
		}
	}
	struct app app;
	lua_State *L = open_lua("repl", &app, &s);
	if (!L)
		return 1;
	int rc = 0;
	if (n_code) {
		for (int i = 1; i < argc && rc == 0; i += 2)
			rc = repl_eval(L, argv[i + 1], "=(command line)");
	} else {
		int tty = isatty(0);
		if (tty)
			printf("taskpipe repl: Lua 5.4 with tp (tp.help()); Ctrl-D exits\n");
		repl_loop(L, stdin, stdout, tty);
	}
	lua_close(L);
	app_close(&app);
	return rc < 0 ? 1 : 0;
}

int cmd_run(int argc, char **argv)
{
	/* FILE is the first argument that is neither a flag nor a flag's value;
	 * what follows belongs to the script. */
	int file = 0;
	for (int i = 1; i < argc && !file; i++) {
		const char *prev = argv[i - 1];
		int value = i > 1 && tp_startswith(prev, "--") && strcmp(prev, "--json") != 0 &&
			    strcmp(prev, "--help") != 0;
		if (argv[i][0] != '-' && !value)
			file = i;
	}
	if (help_wanted(argc, argv, file ? file : argc)) {
		printf("%s\n%s", run_usage, settings_pointer);
		return 0;
	}
	if (!file) {
		fputs(run_usage, stderr);
		return 2;
	}
	struct settings s;
	tp_err e = { 0 };
	settings_init(&s);
	int nflags = file;
	if (settings_parse_flags(&s, &nflags, argv, &e) < 0) {
		fprintf(stderr, "taskpipe run: %s\n", e.message);
		return 2;
	}
	if (nflags != 1) {
		fprintf(stderr, "taskpipe run: unexpected argument '%s'\n%s", argv[1], run_usage);
		return 2;
	}
	struct app app;
	lua_State *L = open_lua("run", &app, &s);
	if (!L)
		return 1;
	lua_createtable(L, argc - file - 1, 1);
	for (int i = file; i < argc; i++) {
		lua_pushstring(L, argv[i]);
		lua_rawseti(L, -2, i - file);
	}
	lua_setglobal(L, "arg");
	int rc = repl_run_file(L, argv[file], argc - file - 1, argv + file + 1);
	lua_close(L);
	app_close(&app);
	return rc < 0 ? 1 : 0;
}
