/* cmd_aws.h: `taskpipe aws`, one signed call from the command line. */
#ifndef TP_CMD_AWS_H
#define TP_CMD_AWS_H
int cmd_aws(int argc, char **argv);
#endif
