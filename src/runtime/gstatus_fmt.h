/* gstatus_fmt.h: status cells as text (`taskpipe status`, `taskpipe top`). */
#ifndef TP_GSTATUS_FMT_H
#define TP_GSTATUS_FMT_H

#include <stddef.h>

/* A count; "-" when v < 0 (unknown). */
void gs_fmt_long(char *out, size_t len, long v);
/* A count or rate: whole numbers bare, else 2 decimals; "-" when v < 0. */
void gs_fmt_num(char *out, size_t len, double v);
/* An age in seconds: 42s, 3m05s, 2h10m, 1d04h; "-" when s < 0. */
void gs_fmt_age(char *out, size_t len, double s);

#endif
