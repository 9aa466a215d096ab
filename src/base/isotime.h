/* isotime.h: ISO 8601 date-times as AWS and operators write them. Pure. */
#ifndef TP_ISOTIME_H
#define TP_ISOTIME_H

#include <stdint.h>

/* "YYYY-MM-DDTHH:MM:SS[.fff](Z|+HH:MM|-HH:MM)" (T, t or a space between
 * date and time) -> Unix ms. 0 on success, -1 when s is not one. */
int tp_iso8601_ms(const char *s, int64_t *out_ms);

#endif
