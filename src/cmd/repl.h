/* repl.h: a Lua prompt in the manner of the standalone `lua`: a line is
 * first tried as `return <line>` so expressions print; a chunk whose syntax
 * error ends in <eof> keeps reading (prompt ">> "); chunks run with a
 * traceback message handler; an error never ends the session; end of input
 * (Ctrl-D) does. On a terminal, lines are read with the built-in editor
 * (lineedit.h: arrows, Ctrl-A/E/K/U/W, history in $TASKPIPE_REPL_HISTORY or
 * ~/.taskpipe_history); otherwise plain fgets. Chunks load as text only.
 * Results print through the global tp.show when present, else print. */
#ifndef TP_REPL_H
#define TP_REPL_H

#include <stdio.h>

struct lua_State;

/* Read-eval-print until end of input. Prompts go to out when prompt is set.
 * Returns 0. */
int repl_loop(struct lua_State *L, FILE *in, FILE *out, int prompt);

/* Run code as one REPL entry (expression results printed); 0 or -1 with
 * the traceback on stderr. name is the chunk name ("=(command line)"). */
int repl_eval(struct lua_State *L, const char *code, const char *name);

/* Run a file with args as `...` (and the caller's `arg` global); 0 or -1
 * with the traceback on stderr. */
int repl_run_file(struct lua_State *L, const char *path, int argc, char **argv);

#endif
