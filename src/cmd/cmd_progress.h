/* cmd_progress.h: the progress line (base/progress.h) for a command:
 * turned on when stderr is a terminal and --json is off, fed with the AWS
 * client's batch counts (aws_set_tick), erased at the end. */
#ifndef TP_CMD_PROGRESS_H
#define TP_CMD_PROGRESS_H

struct aws;

/* Start the line for cmd; batches of 2+ calls show as "done/n calls". */
void cmd_progress_begin(struct aws *a, const char *cmd, int json);
void cmd_progress_end(struct aws *a);

#endif
