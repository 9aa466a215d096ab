/* progress.c: the progress line on stderr (see progress.h). */
#include "base/progress.h"
#include "base/settings_table.h"
#include "base/base.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define REDRAW_EVERY_MS 100

static struct {
	int on;
	int drawn;               /* the line is on the screen */
	char cmd[32];
	char phase[96];
	long done, total;
	char unit[16];
	int64_t t0;              /* monotonic ms: rate baseline */
	long done0;
	char pause_what[64];
	int64_t pause_until;     /* epoch ms; 0: no pause */
	int64_t last_draw;       /* monotonic ms */
} pg;

int progress_wanted(int json)
{
	const char *v = setting_raw(SET_PROGRESS);
	if (v && strcmp(v, "0") == 0)
		return 0;
	if (json)
		return 0;
	return (v && strcmp(v, "1") == 0) || isatty(2);
}

void progress_start(const char *cmd, int on)
{
	memset(&pg, 0, sizeof pg);
	pg.on = on;
	pg.total = -1;
	pg.t0 = tp_mono_ms();
	snprintf(pg.cmd, sizeof pg.cmd, "%s", cmd);
}

void progress_stop(void)
{
	progress_hide();
	pg.on = 0;
}

int progress_on(void)
{
	return pg.on;
}

static void draw(int force)
{
	if (!pg.on)
		return;
	int64_t now = tp_mono_ms();
	if (!force && pg.drawn && now - pg.last_draw < REDRAW_EVERY_MS)
		return;
	char line[512];
	progress_render(line, sizeof line, now, tp_now_ms());
	struct winsize ws;
	size_t width = ioctl(2, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1 ? ws.ws_col : 80;
	/* one column short: writing the last column wraps on some terminals */
	if (strlen(line) > width - 1)
		line[width - 1] = 0;
	fprintf(stderr, "\r\033[K%s", line);
	fflush(stderr);
	pg.drawn = 1;
	pg.last_draw = now;
}

void progress_phase(const char *fmt, ...)
{
	if (!pg.on)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(pg.phase, sizeof pg.phase, fmt, ap);
	va_end(ap);
	pg.done = 0;
	pg.total = -1;
	pg.unit[0] = 0;
	pg.done0 = 0;
	pg.t0 = tp_mono_ms();
	pg.pause_until = 0;
	draw(1);
}

void progress_count(long done, long total, const char *unit)
{
	if (!pg.on)
		return;
	/* A new batch (the count went back, or its size changed): a new rate. */
	if (done < pg.done || total != pg.total) {
		pg.done0 = done;
		pg.t0 = tp_mono_ms();
	}
	pg.done = done;
	pg.total = total;
	snprintf(pg.unit, sizeof pg.unit, "%s", unit ? unit : "");
	pg.pause_until = 0;
	draw(done == total);
}

void progress_countdown(const char *what, int64_t until_ms)
{
	if (!pg.on)
		return;
	snprintf(pg.pause_what, sizeof pg.pause_what, "%s", what);
	pg.pause_until = until_ms;
	draw(1);
}

void progress_tick(void)
{
	draw(0);
}

void progress_hide(void)
{
	if (!pg.on || !pg.drawn)
		return;
	fputs("\r\033[K", stderr);
	fflush(stderr);
	pg.drawn = 0;
}

void progress_show(void)
{
	draw(1);
}

static void add_duration(char *out, size_t len, long s)
{
	if (s < 60)
		snprintf(out, len, "%lds", s);
	else if (s < 3600)
		snprintf(out, len, "%ld:%02ld", s / 60, s % 60);
	else
		snprintf(out, len, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
}

void progress_render(char *out, size_t len, int64_t now_mono, int64_t now_ms)
{
	buf b = { 0 };
	buf_adds(&b, pg.cmd);
	if (pg.phase[0])
		buf_addf(&b, " | %s", pg.phase);
	if (pg.pause_until) {
		long left = (long)((pg.pause_until - now_ms + 999) / 1000);
		buf_addf(&b, " | %s: %lds left", pg.pause_what, left > 0 ? left : 0);
	} else if (pg.unit[0]) {
		if (pg.total >= 0)
			buf_addf(&b, " | %ld/%ld %s", pg.done, pg.total, pg.unit);
		else
			buf_addf(&b, " | %ld %s", pg.done, pg.unit);
		double secs = (double)(now_mono - pg.t0) / 1000.0;
		if (secs >= 0.5 && pg.done > pg.done0) {
			double rate = (double)(pg.done - pg.done0) / secs;
			buf_addf(&b, " | %.1f/s", rate);
			if (pg.total >= 0 && pg.done < pg.total) {
				char eta[32];
				add_duration(eta, sizeof eta, (long)((double)(pg.total - pg.done) / rate + 0.999));
				buf_addf(&b, " | ETA %s", eta);
			}
		}
	}
	snprintf(out, len, "%s", b.data ? b.data : "");
	buf_free(&b);
}
