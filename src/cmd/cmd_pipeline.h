/* cmd_pipeline.h: init, ls, plan, apply, put, rm, forget. */
#ifndef TP_CMD_PIPELINE_H
#define TP_CMD_PIPELINE_H
int cmd_init(int argc, char **argv);
int cmd_ls(int argc, char **argv);
int cmd_plan(int argc, char **argv);
int cmd_apply(int argc, char **argv);
int cmd_put(int argc, char **argv);
int cmd_rm(int argc, char **argv);
int cmd_forget(int argc, char **argv);
#endif
