/* gstatus_fmt.c: the cells of a status row as text, one formatter each,
 * shared by `taskpipe status` and `taskpipe top` ("-": unknown). */
#include "runtime/gstatus_fmt.h"

#include <stdio.h>

void gs_fmt_long(char *out, size_t len, long v)
{
	if (v < 0)
		snprintf(out, len, "-");
	else
		snprintf(out, len, "%ld", v);
}

void gs_fmt_num(char *out, size_t len, double v)
{
	if (v < 0)
		snprintf(out, len, "-");
	else if (v == (double)(long)v)
		snprintf(out, len, "%ld", (long)v);
	else
		snprintf(out, len, "%.2f", v);
}

void gs_fmt_age(char *out, size_t len, double s)
{
	long v = (long)s;
	if (s < 0)
		snprintf(out, len, "-");
	else if (v < 60)
		snprintf(out, len, "%lds", v);
	else if (v < 3600)
		snprintf(out, len, "%ldm%02lds", v / 60, v % 60);
	else if (v < 86400)
		snprintf(out, len, "%ldh%02ldm", v / 3600, v / 60 % 60);
	else
		snprintf(out, len, "%ldd%02ldh", v / 86400, v / 3600 % 24);
}
