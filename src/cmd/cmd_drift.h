/* cmd_drift.h: `taskpipe drift [--fix] [--max-pipelines N] [--json]`. */
#ifndef TP_CMD_DRIFT_H
#define TP_CMD_DRIFT_H

/* argv[0] is "drift". Exit: 0 in sync (with --fix: all repaired), 2 drift
 * left (found without --fix, or a collision), 1 error. */
int cmd_drift(int argc, char **argv);

#endif
