/* cmd_repl.h: `taskpipe repl [-e CODE]...` and `taskpipe run FILE.lua [ARGS]`. */
#ifndef TP_CMD_REPL_H
#define TP_CMD_REPL_H

/* argv[0] is "repl". Without -e: the prompt (exit 0 at end of input).
 * With -e: each CODE in turn, expression results printed; exit 1 at the
 * first error. */
int cmd_repl(int argc, char **argv);

/* argv[0] is "run": run FILE with `arg` = {[0]=FILE, ARGS...}; exit 1 on error. */
int cmd_run(int argc, char **argv);

#endif
