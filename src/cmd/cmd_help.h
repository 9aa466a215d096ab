/* cmd_help.h: everything generated from the command table (commands.h) and
 * the settings tables (base/settings_table.h): `taskpipe --help`, `taskpipe
 * help settings`, and, hidden, the docs `make docs` writes:
 *   taskpipe help --man                docs/taskpipe.1
 *   taskpipe help --settings-markdown  docs/settings.md */
#ifndef TP_CMD_HELP_H
#define TP_CMD_HELP_H

#include <stdio.h>

void help_usage(FILE *f);
void help_settings(FILE *f);
void help_man(FILE *f);
void help_settings_markdown(FILE *f);

/* taskpipe help [COMMAND|settings|--man|--settings-markdown] */
int cmd_help(int argc, char **argv);

#endif
