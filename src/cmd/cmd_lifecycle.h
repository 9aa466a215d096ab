/* cmd_lifecycle.h: taskpipe pause|resume|redrive|purge GROUP. */
#ifndef TP_CMD_LIFECYCLE_H
#define TP_CMD_LIFECYCLE_H
int cmd_pause(int argc, char **argv);
int cmd_resume(int argc, char **argv);
int cmd_redrive(int argc, char **argv);
int cmd_purge(int argc, char **argv);
#endif
