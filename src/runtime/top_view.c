/* top_view.c: the screens of `taskpipe top` (see top_view.h). */
#include "runtime/top_view.h"
#include "runtime/gstatus_fmt.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

void top_view_init(struct top_view *v, const char *sort, int interval_s)
{
	memset(v, 0, sizeof *v);
	snprintf(v->sort, sizeof v->sort, "%s", sort ? sort : "age");
	v->interval_s = interval_s;
}

void top_fleet_of(const struct gs_report *r, struct top_fleet *f)
{
	double cu = f->conc_in_use;
	long cl = f->conc_limit;
	memset(f, 0, sizeof *f);
	f->conc_in_use = cu;
	f->conc_limit = cl;
	f->groups = r->n;
	for (size_t i = 0; i < r->n; i++) {
		const struct gs_row *x = &r->v[i];
		f->visible += x->visible > 0 ? x->visible : 0;
		f->in_flight += x->in_flight > 0 ? x->in_flight : 0;
		f->delayed += x->delayed > 0 ? x->delayed : 0;
		f->dlq += x->dlq > 0 ? x->dlq : 0;
		f->starts_1m += x->starts_1m > 0 ? x->starts_1m : 0;
		f->errors_5m += x->errors_5m > 0 ? x->errors_5m : 0;
		f->throttles_5m += x->throttles_5m > 0 ? x->throttles_5m : 0;
	}
}

int top_shows(const struct top_view *v, const struct gs_row *x)
{
	const struct gs_filter f = { .name = v->filter, .problems = v->problems };
	return gs_row_shown(x, &f);
}

static const struct {
	int key;
	const char *sort;
} sort_keys[] = {
	{ 'a', "age" }, { 'n', "name" }, { 'v', "visible" }, { 'i', "inflight" }, { 'd', "dlq" },
	{ 'e', "errors" }, { 't', "throttles" }, { 's', "starts" }, { 'x', "state" },
};

enum top_action top_key(struct top_view *v, int key, struct gs_report *r)
{
	if (v->editing) {
		size_t n = strlen(v->filter);
		if (key == '\r' || key == '\n') {
			v->editing = 0;
		} else if (key == 27) {
			v->editing = 0;
			v->filter[0] = 0;
		} else if (key == 127 || key == 8) {
			if (n)
				v->filter[n - 1] = 0;
		} else if (key >= 0x20 && key < 0x7f && n + 1 < sizeof v->filter) {
			v->filter[n] = (char)key;
			v->filter[n + 1] = 0;
		} else {
			return TOP_NONE;
		}
		return TOP_REDRAW;
	}
	switch (key) {
	case 'q': case 'Q': case 3:   /* 3: Ctrl-C in raw mode */
		return TOP_QUIT;
	case ' ': case 'r':
		return TOP_REFRESH;
	case 'p':
		v->problems = !v->problems;
		return TOP_REDRAW;
	case '/':
		v->editing = 1;
		v->filter[0] = 0;
		return TOP_REDRAW;
	case 27:
		v->filter[0] = 0;
		return TOP_REDRAW;
	}
	for (size_t i = 0; i < sizeof sort_keys / sizeof *sort_keys; i++)
		if (key == sort_keys[i].key) {
			snprintf(v->sort, sizeof v->sort, "%s", sort_keys[i].sort);
			gs_sort(r, v->sort);
			return TOP_REDRAW;
		}
	return TOP_NONE;
}

/* ---- text ---- */

/* One line, cut at cols. */
static void line(buf *out, int cols, int *left, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void line(buf *out, int cols, int *left, const char *fmt, ...)
{
	if (*left <= 0)
		return;
	char text[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	size_t n = strlen(text);
	if (cols > 0 && n > (size_t)cols)
		n = (size_t)cols;
	buf_add(out, text, n);
	buf_addc(out, '\n');
	(*left)--;
}

#define ROW_FMT "%-24.24s %-8s %-6s %6s %4s %7s %7s %7s %7s %7s %5s %5s %5s"

void top_render(const struct top_view *v, const struct gs_report *r, const struct top_fleet *f, int rows,
		int cols, int64_t now_s, const char *note, buf *out)
{
	int left = rows > 0 ? rows : 24;
	time_t t = (time_t)now_s;
	struct tm tm;
	gmtime_r(&t, &tm);
	size_t shown = 0;
	for (size_t i = 0; i < r->n; i++)
		shown += top_shows(v, &r->v[i]);
	line(out, cols, &left, "taskpipe top  %02d:%02d:%02d UTC  every %ds  sort %s%s%s%s  %zu of %zu groups",
	     tm.tm_hour, tm.tm_min, tm.tm_sec, v->interval_s, v->sort, v->problems ? "  problems only" : "",
	     v->filter[0] || v->editing ? "  filter /" : "", v->filter[0] || v->editing ? v->filter : "", shown,
	     r->n);
	char conc[64], starts[32], errs[32];
	if (f->conc_in_use < 0)
		snprintf(conc, sizeof conc, "-");
	else if (f->conc_limit > 0)
		snprintf(conc, sizeof conc, "%.0f of %ld", f->conc_in_use, f->conc_limit);
	else
		snprintf(conc, sizeof conc, "%.0f", f->conc_in_use);
	gs_fmt_num(starts, sizeof starts, f->starts_1m);
	gs_fmt_num(errs, sizeof errs, f->errors_5m);
	line(out, cols, &left,
	     "fleet: %zu groups  backlog %ld (in flight %ld, delayed %ld)  DLQ %ld  starts %s/s  errors %s (5m)"
	     "  concurrency in use %s",
	     f->groups, f->visible, f->in_flight, f->delayed, f->dlq, starts, errs, conc);
	line(out, cols, &left, ROW_FMT, "GROUP", "STATE", "FLOW", "RATE", "CONC", "START1m", "VISIBLE", "INFLT",
	     "DELAYED", "OLDEST", "DLQ", "ERR5m", "THR5m");
	int keep_for_footer = 1 + (note != NULL) + (r->cw_problem != NULL);
	for (size_t i = 0; i < r->n && left > keep_for_footer; i++) {
		const struct gs_row *x = &r->v[i];
		if (!top_shows(v, x))
			continue;
		char c[32], s1[32], vis[32], inf[32], del[32], age[32], dlq[32], err[32], thr[32];
		gs_fmt_long(c, sizeof c, x->concurrency);
		gs_fmt_num(s1, sizeof s1, x->starts_1m);
		gs_fmt_long(vis, sizeof vis, x->visible);
		gs_fmt_long(inf, sizeof inf, x->in_flight);
		gs_fmt_long(del, sizeof del, x->delayed);
		gs_fmt_age(age, sizeof age, x->age_s);
		gs_fmt_long(dlq, sizeof dlq, x->dlq);
		gs_fmt_num(err, sizeof err, x->errors_5m);
		gs_fmt_num(thr, sizeof thr, x->throttles_5m);
		line(out, cols, &left, ROW_FMT, x->group, x->state,
		     x->enabled < 0 ? "-" : x->enabled ? "on" : "paused", x->rate[0] ? x->rate : "-", c, s1, vis, inf,
		     del, age, dlq, err, thr);
	}
	if (r->cw_problem)
		line(out, cols, &left, "? metrics unknown: %s", r->cw_problem);
	if (note)
		line(out, cols, &left, "! %s", note);
	if (v->editing)
		line(out, cols, &left, "filter: %s_   (Enter keep, Esc clear)", v->filter);
	else
		line(out, cols, &left, "sort: a age  n name  v visible  i inflight  d dlq  e errors  t throttles  "
		     "s starts  x state | p problems  / filter  space refresh  q quit");
}
