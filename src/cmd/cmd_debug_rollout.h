/* cmd_debug_rollout.h: `taskpipe debug rollout-plan`, the rollout record's
 * plan written and read back through the real state-table code (rolloutrec),
 * so its layout can be tested at sizes no fleet in a test could reach. */
#ifndef TP_CMD_DEBUG_ROLLOUT_H
#define TP_CMD_DEBUG_ROLLOUT_H

/* argv[0] is "rollout-plan". */
int cmd_debug_rollout_plan(int argc, char **argv);

#endif
