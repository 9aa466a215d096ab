/* cmd_progress.c: a command's progress line (see cmd_progress.h). */
#include "cmd/cmd_progress.h"

#include "aws/aws.h"
#include "base/progress.h"

static void on_tick(void *ctx, size_t done, size_t n)
{
	/* single calls (a read, a lease) are not worth a line */
	if (n >= 2)
		progress_count((long)done, (long)n, "calls");
	else
		progress_tick();
}

void cmd_progress_begin(struct aws *a, const char *cmd, int json)
{
	progress_start(cmd, progress_wanted(json));
	if (progress_on())
		aws_set_tick(a, on_tick, NULL);
}

void cmd_progress_end(struct aws *a)
{
	aws_set_tick(a, NULL, NULL);
	progress_stop();
}
