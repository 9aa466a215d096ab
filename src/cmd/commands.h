/* commands.h: the command table (name, synopsis, one-line doc, entry):
 * main.c dispatches through it; `taskpipe --help` and docs/taskpipe.1's
 * COMMANDS section are generated from it (cmd_help.c). */
#ifndef TP_COMMANDS_H
#define TP_COMMANDS_H

struct command {
	const char *name;
	const char *synopsis;  /* the arguments after the name */
	const char *doc;       /* one line */
	int (*run)(int argc, char **argv);  /* argv[0] is the name */
};

/* Ends with a { NULL } row. */
extern const struct command commands[];

/* The row named name; NULL: none. */
const struct command *command_find(const char *name);

#endif
