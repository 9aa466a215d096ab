/* cmd_top.h: top, the status rows refreshed in place. */
#ifndef TP_CMD_TOP_H
#define TP_CMD_TOP_H
int cmd_top(int argc, char **argv);
#endif
