/* cmd_send.c: the producer commands: `send GROUP [BODY | @FILE | -]` and
 * `url GROUP` (see core/send.h, core/groupq.h). */
#include "cmd/cmd_send.h"

#include "aws/aws.h"
#include "base/progress.h"
#include "cmd/cmd_progress.h"
#include "core/settings.h"
#include "core/groupq.h"
#include "core/send.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK_TASKS 10000   /* stdin is read and sent this many lines at a time */

static const char send_usage[] =
	"usage: taskpipe send GROUP [BODY | @FILE | -] [--delay SECONDS] [--json]\n"
	"Sends tasks to GROUP's queue with SendMessageBatch (10 a call, calls concurrent).\n"
	"  BODY      one task, as given\n"
	"  @FILE     one task: the whole file\n"
	"  - (or nothing)  standard input, one task per line; a trailing CR is\n"
	"            dropped, blank lines are skipped and counted\n"
	"  --delay S DelaySeconds 0..900 for every task (default: the queue's)\n"
	"Exit 0: every task sent; 1: a task failed (each named by its line on\n"
	"stderr; the others are still sent) or the group is unknown; 2: usage.\n";

static const char url_usage[] =
	"usage: taskpipe url GROUP [--json]\n"
	"Prints the URL of GROUP's queue (what producers send to); --json adds the\n"
	"queue ARN, the dead-letter queue URL and the resource names.\n";

/* What is being sent, for the progress line. */
struct send_progress {
	long base;            /* tasks of earlier chunks */
	long chunk;           /* tasks in this chunk */
	long total;           /* all tasks, -1 until the input has ended */
};

static void on_tick(void *ctx, size_t done, size_t n)
{
	const struct send_progress *sp = ctx;
	/* calls are in order of lines: done calls carry about done/n of the chunk */
	long est = sp->base + (n ? (long)((double)sp->chunk * (double)done / (double)n) : 0);
	progress_count(est, sp->total, "tasks");
}

struct lines {
	struct send_task *v;
	char **owned;
	size_t n;
};

static void lines_clear(struct lines *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->owned[i]);
	l->n = 0;
}

/* Read up to CHUNK_TASKS non-blank lines from f; *line counts lines read;
 * returns 1 at end of input. */
static int read_chunk(FILE *f, struct lines *l, long *line, long *blank)
{
	char *s = NULL;
	size_t cap = 0;
	ssize_t got;
	while (l->n < CHUNK_TASKS && (got = getline(&s, &cap, f)) >= 0) {
		(*line)++;
		size_t len = (size_t)got;
		if (len && s[len - 1] == '\n')
			len--;
		if (len && s[len - 1] == '\r')
			len--;
		if (len == 0) {
			(*blank)++;
			continue;
		}
		/* getline keeps NULs: the length, not strlen, is the body */
		/* the bytes as read, NULs too: the check names a NUL, never cuts at it */
		l->owned[l->n] = tp_xcalloc(len + 1, 1);
		memcpy(l->owned[l->n], s, len);
		l->v[l->n] = (struct send_task){ .body = l->owned[l->n], .len = len, .line = *line };
		l->n++;
	}
	free(s);
	return l->n < CHUNK_TASKS;
}

static int read_whole(const char *path, buf *out, tp_err *e)
{
	return tp_read_file(path, SEND_MESSAGE_MAX + 1, out, e);
}

/* Producers need no policy: only the AWS client (send and url work with a
 * broken policy file). */
static struct aws *open_aws(const char *cmd, const struct settings *s)
{
	struct aws_options o = { .max_in_flight = s->parallel };
	struct aws *a = NULL;
	tp_err e = { 0 };
	if (aws_new(&o, &a, &e) < 0) {
		fprintf(stderr, "taskpipe %s: %s\n", cmd, e.message);
		return NULL;
	}
	return a;
}

static void print_failures(const struct send_result *r, cJSON *doc)
{
	cJSON *arr = doc ? cJSON_AddArrayToObject(doc, "failed") : NULL;
	for (size_t i = 0; i < r->n_failed; i++) {
		const struct send_failure *f = &r->failed[i];
		fprintf(stderr, "taskpipe send: line %ld: %s: %s\n", f->line, f->code, f->message);
		if (arr) {
			cJSON *o = cJSON_CreateObject();
			cJSON_AddNumberToObject(o, "line", (double)f->line);
			cJSON_AddStringToObject(o, "code", f->code);
			cJSON_AddStringToObject(o, "message", f->message);
			cJSON_AddItemToArray(arr, o);
		}
	}
}

int cmd_send(int argc, char **argv)
{
	struct settings s;
	int rc = settings_cli(&s, "send", send_usage, &argc, argv);
	if (rc >= 0)
		return rc;
	const char *group = NULL, *what = NULL;
	struct send_opts o = { .delay_s = -1 };
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--delay") == 0) {
			char *end = NULL;
			long d = i + 1 < argc ? strtol(argv[i + 1], &end, 10) : -1;
			if (i + 1 >= argc || !argv[i + 1][0] || *end || d < 0 || d > SEND_DELAY_MAX) {
				fprintf(stderr, "taskpipe send: --delay wants whole seconds 0..%d\n", SEND_DELAY_MAX);
				return 2;
			}
			o.delay_s = (int)d;
			i++;
		} else if (argv[i][0] == '-' && argv[i][1] && strcmp(argv[i], "-") != 0) {
			fprintf(stderr, "taskpipe send: unknown flag '%s'\n%s", argv[i], send_usage);
			return 2;
		} else if (!group) {
			group = argv[i];
		} else if (!what) {
			what = argv[i];
		} else {
			fprintf(stderr, "taskpipe send: one task argument at most (use - and standard input for many)\n%s",
				send_usage);
			return 2;
		}
	}
	if (!group) {
		fputs(send_usage, stderr);
		return 2;
	}
	struct aws *a = open_aws("send", &s);
	if (!a)
		return 1;
	tp_err e = { 0 };
	struct groupq g;
	if (groupq_find(a, &s, group, &g, &e) < 0) {
		fprintf(stderr, "taskpipe send: %s%s%s\n", e.code, e.code[0] ? ": " : "", e.message);
		aws_free(a);
		return 1;
	}
	struct send_result r = { 0 };
	struct send_progress sp = { .total = -1 };
	long blank = 0;
	cmd_progress_begin(a, "send", s.json);
	progress_phase("to %s", group);
	aws_set_tick(a, progress_on() ? on_tick : NULL, &sp);
	int bad_input = 0;
	if (what && strcmp(what, "-") != 0) {
		/* one task: the argument, or a whole file */
		buf text = { 0 };
		struct send_task t = { .line = 1 };
		if (what[0] == '@') {
			if (read_whole(what + 1, &text, &e) < 0) {
				fprintf(stderr, "taskpipe send: %s\n", e.message);
				bad_input = 1;
			}
			t.body = text.data ? text.data : "";
			t.len = text.len;
		} else {
			t.body = what;
			t.len = strlen(what);
		}
		if (!bad_input) {
			sp.chunk = sp.total = 1;
			send_tasks(a, g.queue_url, &t, 1, &o, &r);
		}
		buf_free(&text);
	} else {
		struct lines l = { tp_xcalloc(CHUNK_TASKS, sizeof *l.v), tp_xcalloc(CHUNK_TASKS, sizeof *l.owned), 0 };
		long line = 0;
		for (int end = 0; !end;) {
			end = read_chunk(stdin, &l, &line, &blank);
			if (ferror(stdin)) {
				fprintf(stderr, "taskpipe send: reading standard input after line %ld: %s\n", line,
					strerror(errno));
				bad_input = 1;
				end = 1;
			}
			sp.chunk = (long)l.n;
			if (end)
				sp.total = sp.base + sp.chunk;
			send_tasks(a, g.queue_url, l.v, l.n, &o, &r);
			sp.base += sp.chunk;
			lines_clear(&l);
		}
		free(l.v);
		free(l.owned);
	}
	cmd_progress_end(a);
	long total = r.sent + (long)r.n_failed;
	cJSON *doc = s.json ? cJSON_CreateObject() : NULL;
	print_failures(&r, doc);
	if (doc) {
		cJSON_AddStringToObject(doc, "group", group);
		cJSON_AddStringToObject(doc, "queue_url", g.queue_url);
		cJSON_AddNumberToObject(doc, "sent", (double)r.sent);
		cJSON_AddNumberToObject(doc, "failed_count", (double)r.n_failed);
		cJSON_AddNumberToObject(doc, "blank_lines", (double)blank);
		cJSON_AddNumberToObject(doc, "calls", (double)r.calls);
		char *t = cJSON_Print(doc);
		puts(t);
		free(t);
		cJSON_Delete(doc);
	} else {
		printf("sent %ld of %ld tasks to %s in %ld calls", r.sent, total, group, r.calls);
		if (blank)
			printf(" (%ld blank lines skipped)", blank);
		printf("\n");
	}
	if (r.n_failed)
		fprintf(stderr, "taskpipe send: %zu of %ld tasks failed (lines listed above)\n", r.n_failed, total);
	rc = r.n_failed || bad_input ? 1 : 0;
	send_result_free(&r);
	groupq_free(&g);
	aws_free(a);
	return rc;
}

int cmd_url(int argc, char **argv)
{
	struct settings s;
	int rc = settings_cli(&s, "url", url_usage, &argc, argv);
	if (rc >= 0)
		return rc;
	if (argc != 2 || argv[1][0] == '-') {
		fputs(url_usage, stderr);
		return 2;
	}
	struct aws *a = open_aws("url", &s);
	if (!a)
		return 1;
	tp_err e = { 0 };
	struct groupq g;
	rc = groupq_find(a, &s, argv[1], &g, &e);
	if (rc < 0) {
		fprintf(stderr, "taskpipe url: %s%s%s\n", e.code, e.code[0] ? ": " : "", e.message);
	} else if (s.json) {
		cJSON *doc = cJSON_CreateObject();
		cJSON_AddStringToObject(doc, "group", argv[1]);
		cJSON_AddStringToObject(doc, "queue_url", g.queue_url);
		if (g.queue_arn)
			cJSON_AddStringToObject(doc, "queue_arn", g.queue_arn);
		if (g.dlq_url)
			cJSON_AddStringToObject(doc, "dlq_url", g.dlq_url);
		cJSON_AddStringToObject(doc, "queue", g.nm.queue);
		cJSON_AddStringToObject(doc, "dlq", g.nm.dlq);
		cJSON_AddStringToObject(doc, "function", g.nm.function);
		char *t = cJSON_Print(doc);
		puts(t);
		free(t);
		cJSON_Delete(doc);
	} else {
		puts(g.queue_url);
	}
	groupq_free(&g);
	aws_free(a);
	return rc < 0 ? 1 : 0;
}
