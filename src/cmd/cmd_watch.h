/* cmd_watch.h: `taskpipe watch`, the config table's stream follower for
 * running outside Lambda. */
#ifndef TP_CMD_WATCH_H
#define TP_CMD_WATCH_H
int cmd_watch(int argc, char **argv);
#endif
