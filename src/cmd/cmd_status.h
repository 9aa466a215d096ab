/* cmd_status.h: status, one row per group. */
#ifndef TP_CMD_STATUS_H
#define TP_CMD_STATUS_H
int cmd_status(int argc, char **argv);
#endif
