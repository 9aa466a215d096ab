/* cmd_top.c: `taskpipe top [GROUP...]`: the rows of `taskpipe status`
 * (core/gstatus.h) redrawn in place on the terminal every --interval
 * seconds, sorted and filtered by keys (runtime/top_view.h), under a fleet
 * line whose account concurrency in use is AWS/Lambda ConcurrentExecutions
 * (GetMetricData, one query a refresh) and whose limit is the one the
 * controller cached in the state table (no Lambda call). */
#include "cmd/cmd_top.h"

#include "aws/cloudwatch.h"
#include "base/log.h"
#include "core/gstatus.h"
#include "core/settings.h"
#include "core/store.h"
#include "runtime/top_view.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#define DEFAULT_INTERVAL_S 60
#define MIN_INTERVAL_S 5

static const char usage[] =
	"usage: taskpipe top [GROUP...] [--interval S] [--sort KEY]\n"
	"The rows of `taskpipe status` (all groups, or the named ones) redrawn in place\n"
	"every S seconds (default 60, at least 5), under a fleet line: groups, backlog,\n"
	"DLQ, starts/s, errors, account concurrency in use. Needs a terminal.\n"
	"Keys: a n v i d e t s x  sort by age, name, visible, inflight, dlq, errors,\n"
	"      throttles, starts, state;  p  problems only;  /  filter by name (Enter\n"
	"      keeps, Esc clears);  space or r  refresh now;  q  quit.\n"
	"Each refresh costs what one `taskpipe status` does (docs/operations.md\n"
	"\"Status\"): name the groups you watch in a large fleet.\n";

static volatile sig_atomic_t stop_flag, resized;

static void on_stop(int sig) { (void)sig; stop_flag = 1; }
static void on_winch(int sig) { (void)sig; resized = 1; }

static void put(const char *s)
{
	size_t n = strlen(s);
	while (n > 0) {
		ssize_t w = write(1, s, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

/* The latest minute's maximum of AWS/Lambda ConcurrentExecutions (no
 * dimension: the account), -1 when unknown. */
static double concurrency_in_use(struct aws *a, int64_t now_s, long *cw_calls)
{
	struct cw_query q = { .ns = "AWS/Lambda", .metric = "ConcurrentExecutions", .stat = "Maximum",
			      .period_s = 60 };
	struct cw_series *s = NULL;
	tp_err e = { 0 };
	long calls = 0;
	int64_t end = now_s / 60 * 60 + 60;
	double v = -1;
	if (cw_get_metric_data(a, &q, 1, end - 600, end, &s, &calls, &e) == TP_OK && s[0].n > 0)
		v = s[0].v[s[0].n - 1];
	cw_series_free(s, 1);
	*cw_calls += calls;
	return v;
}

static void draw(const struct top_view *v, const struct gs_report *r, const struct top_fleet *f,
		 const char *note)
{
	struct winsize ws = { 0 };
	int rows = 24, cols = 80;
	if (ioctl(1, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0) {
		rows = ws.ws_row;
		cols = ws.ws_col;
	}
	buf text = { 0 }, screen = { 0 };
	top_render(v, r, f, rows, cols, tp_now_ms() / 1000, note, &text);
	buf_adds(&screen, "\x1b[H");
	for (const char *p = buf_str(&text); *p;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		buf_add(&screen, p, n);
		buf_adds(&screen, nl && nl[1] ? "\x1b[K\r\n" : "\x1b[K");
		p += n + (nl != NULL);
	}
	buf_adds(&screen, "\x1b[J");
	put(buf_str(&screen));
	buf_free(&text);
	buf_free(&screen);
}

int cmd_top(int argc, char **argv)
{
	struct settings s;
	int rc = settings_cli(&s, "top", usage, &argc, argv);
	if (rc >= 0)
		return rc;
	const char *sort = "age";
	int interval = DEFAULT_INTERVAL_S;
	char **groups = tp_xcalloc((size_t)argc + 1, sizeof *groups);
	size_t ng = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--sort") == 0 && i + 1 < argc) {
			sort = argv[++i];
		} else if (strcmp(argv[i], "--interval") == 0 && i + 1 < argc) {
			char *end;
			long n = strtol(argv[++i], &end, 10);
			if (*end || n < MIN_INTERVAL_S || n > 86400) {
				fprintf(stderr, "taskpipe top: --interval wants whole seconds, %d to 86400, not '%s'\n",
					MIN_INTERVAL_S, argv[i]);
				free(groups);
				return 2;
			}
			interval = (int)n;
		} else if (argv[i][0] == '-') {
			fprintf(stderr, "taskpipe top: unknown flag or missing value '%s'\n%s", argv[i], usage);
			free(groups);
			return 2;
		} else {
			groups[ng++] = argv[i];
		}
	}
	struct gs_report probe = { 0 };
	if (gs_sort(&probe, sort) < 0) {
		fprintf(stderr, "taskpipe top: unknown --sort key '%s' (age, name, visible, inflight, dlq, errors, "
			"throttles, starts, state)\n", sort);
		free(groups);
		return 2;
	}
	if (!isatty(0) || !isatty(1)) {
		fprintf(stderr, "taskpipe top: needs a terminal (taskpipe status prints the same rows once)\n");
		free(groups);
		return 2;
	}
	struct aws_options o = { .max_in_flight = s.parallel };
	struct aws *a = NULL;
	tp_err e = { 0 };
	if (aws_new(&o, &a, &e) < 0) {
		fprintf(stderr, "taskpipe top: %s\n", e.message);
		free(groups);
		return 1;
	}
	struct top_view v;
	top_view_init(&v, sort, interval);
	struct top_fleet f = { .conc_in_use = -1, .conc_limit = -1 };
	long at = 0, umin = -1;
	tp_err le = { 0 };
	if (store_account_get(a, s.state_table, &f.conc_limit, &at, &umin, &le) < 0 || f.conc_limit <= 0)
		f.conc_limit = -1;

	struct termios saved, raw;
	tcgetattr(0, &saved);
	raw = saved;
	raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
	raw.c_cc[VMIN] = 1;
	raw.c_cc[VTIME] = 0;
	tcsetattr(0, TCSANOW, &raw);
	struct sigaction sa = { .sa_handler = on_stop }, sw = { .sa_handler = on_winch };
	sigemptyset(&sa.sa_mask);
	sigemptyset(&sw.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGWINCH, &sw, NULL);
	log_set_level(LOG_FATAL);   /* a log line would tear the screen; rows say what failed */
	put("\x1b[?1049h\x1b[?25l\x1b[2J");

	struct gs_report r = { 0 };
	char note[700] = "";
	int64_t next_ms = 0;
	while (!stop_flag) {
		int64_t now = tp_now_ms();
		if (now >= next_ms) {
			struct gs_report fresh;
			tp_err ce = { 0 };
			if (gs_collect(a, &s, groups, ng, now / 1000, &fresh, &ce) < 0) {
				snprintf(note, sizeof note, "refresh failed: %s%s%s (showing the last rows)", ce.code,
					 ce.code[0] ? ": " : "", ce.message);
			} else {
				gs_report_free(&r);
				r = fresh;
				gs_sort(&r, v.sort);
				note[0] = 0;
				long cw = 0;
				f.conc_in_use = concurrency_in_use(a, now / 1000, &cw);
				top_fleet_of(&r, &f);
			}
			next_ms = tp_now_ms() + (int64_t)interval * 1000;
			draw(&v, &r, &f, note[0] ? note : NULL);
		}
		if (resized) {
			resized = 0;
			draw(&v, &r, &f, note[0] ? note : NULL);
		}
		/* wake at least once a second: the clock in the header moves */
		int64_t wait = next_ms - tp_now_ms();
		struct pollfd p = { .fd = 0, .events = POLLIN };
		int n = poll(&p, 1, wait > 1000 ? 1000 : wait < 0 ? 0 : (int)wait);
		if (n > 0 && (p.revents & (POLLHUP | POLLERR)))
			break;
		if (n <= 0) {
			draw(&v, &r, &f, note[0] ? note : NULL);
			continue;
		}
		unsigned char keys[64];
		ssize_t got = read(0, keys, sizeof keys);
		if (got <= 0)
			break;
		for (ssize_t k = 0; k < got && !stop_flag; k++) {
			enum top_action act = top_key(&v, keys[k], &r);
			if (act == TOP_QUIT)
				stop_flag = 1;
			else if (act == TOP_REFRESH)
				next_ms = 0;
		}
		if (!stop_flag && next_ms)
			draw(&v, &r, &f, note[0] ? note : NULL);
	}
	put("\x1b[?25h\x1b[?1049l");
	tcsetattr(0, TCSANOW, &saved);
	log_init();
	gs_report_free(&r);
	aws_free(a);
	free(groups);
	return 0;
}
