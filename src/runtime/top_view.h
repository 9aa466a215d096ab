/* top_view.h: what `taskpipe top` shows, as plain text lines: the status
 * rows (core/gstatus.h) sorted and filtered by the keys a person presses,
 * under a fleet line. Pure: no terminal, no clock, no AWS (cmd/cmd_top.c
 * owns those), so the screens are unit-tested as text.
 *
 * Keys: a n v i d e t s x sort by age (worst first), name, visible, in
 * flight, DLQ, errors, throttles, starts, state; p toggles "problems only"
 * (state not ok, errors or throttles in 5 min, or a DLQ holding tasks); /
 * starts a filter on the group name (typed text, Enter keeps it, Esc clears
 * it); space or r refreshes now; q quits. */
#ifndef TP_TOP_VIEW_H
#define TP_TOP_VIEW_H

#include "base/base.h"
#include "core/gstatus.h"

struct top_view {
	char sort[16];         /* a gs_sort key */
	char filter[64];       /* substring of the group name; "" none */
	int problems;          /* only groups with a problem */
	int editing;           /* typing the filter (after '/') */
	int interval_s;        /* between refreshes, for the header */
};

/* Totals over every group read (filters do not change them). */
struct top_fleet {
	size_t groups;
	long visible, in_flight, delayed, dlq;   /* sums of what is known */
	double starts_1m;                        /* tasks started per second, last minute */
	double errors_5m, throttles_5m;
	double conc_in_use;                      /* AWS/Lambda ConcurrentExecutions; < 0 unknown */
	long conc_limit;                         /* the account's limit; < 0 unknown */
};

enum top_action { TOP_NONE, TOP_REDRAW, TOP_REFRESH, TOP_QUIT };

void top_view_init(struct top_view *v, const char *sort, int interval_s);
void top_fleet_of(const struct gs_report *r, struct top_fleet *f);
/* A key pressed (a byte; 27 is Esc): the view changes and what to do next.
 * A sort key re-sorts r. */
enum top_action top_key(struct top_view *v, int key, struct gs_report *r);
/* Whether a row passes the view's filter and "problems only". */
int top_shows(const struct top_view *v, const struct gs_row *row);
/* The screen, at most rows lines of at most cols bytes, each ending in
 * "\n": header, fleet line, column titles, the rows that fit, the keys.
 * note: a last line's message (a refresh that failed), NULL for none. */
void top_render(const struct top_view *v, const struct gs_report *r, const struct top_fleet *f, int rows,
		int cols, int64_t now_s, const char *note, buf *out);

#endif
