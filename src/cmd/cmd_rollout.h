/* cmd_rollout.h: `taskpipe rollout`: start, resume and show consumer code rollouts. */
#ifndef TP_CMD_ROLLOUT_H
#define TP_CMD_ROLLOUT_H
int cmd_rollout(int argc, char **argv);
#endif
