/* progress.h: one progress line on stderr for a person at a terminal:
 * what is running, done/total, the rate and the time left, or a pause with
 * its countdown.
 *
 * Off unless a command turns it on (progress_start with on=1: stderr is a
 * terminal and no --json); then every call here is a no-op when off, so
 * lower layers call it freely. Log lines (log.c) hide the line, print, and
 * redraw it, so the two never share a row. Redraws are throttled to 10 a
 * second. One line per process: this is a terminal, not a data structure. */
#ifndef TP_PROGRESS_H
#define TP_PROGRESS_H

#include <stddef.h>
#include <stdint.h>

/* Turn the line on for command cmd ("apply") when on; off otherwise. */
void progress_start(const char *cmd, int on);
/* Erase the line and turn it off. */
void progress_stop(void);
int progress_on(void);

/* Should a command show progress: stderr is a terminal, no --json and
 * TASKPIPE_PROGRESS is not "0" ("1" forces it on: tests, pipes). */
int progress_wanted(int json);

/* What is being done now ("step config", "wave 2/4"); resets the rate. */
void progress_phase(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* done of total unit ("calls", "tasks"); total < 0: not known yet. */
void progress_count(long done, long total, const char *unit);
/* A pause until until_ms (epoch ms), shown as a countdown; a count or a
 * phase ends it. */
void progress_countdown(const char *what, int64_t until_ms);
/* Redraw when due (a countdown moves by itself). */
void progress_tick(void);

/* Around any other write to stderr: erase the line, then draw it again. */
void progress_hide(void);
void progress_show(void);

/* The line as it would be drawn now (tests), without escape codes. */
void progress_render(char *out, size_t len, int64_t now_mono_ms, int64_t now_ms);

#endif
