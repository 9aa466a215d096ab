/* cmd_kept.h: taskpipe kept (list, redrive, purge the queues kept when a
 * removed pipeline drained). */
#ifndef TP_CMD_KEPT_H
#define TP_CMD_KEPT_H
int cmd_kept(int argc, char **argv);
#endif
