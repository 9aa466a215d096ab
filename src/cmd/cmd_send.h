/* cmd_send.h: send (tasks into a group's queue) and url (its queue URL). */
#ifndef TP_CMD_SEND_H
#define TP_CMD_SEND_H
int cmd_send(int argc, char **argv);
int cmd_url(int argc, char **argv);
#endif
