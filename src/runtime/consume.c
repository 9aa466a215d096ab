/* consume.c: the consumer layer's Runtime API proxy (see consume.h).
 *
 * Lambda talks to the runtime over the Runtime API at $AWS_LAMBDA_RUNTIME_API
 * ("Using the Lambda runtime API for custom runtimes", runtimes-api.html):
 * GET /2018-06-01/runtime/invocation/next blocks until an event comes and
 * answers with Lambda-Runtime-Aws-Request-Id, -Deadline-Ms, -Trace-Id, ...;
 * the runtime then POSTs .../invocation/{id}/response or /error, or
 * /runtime/init/error when it cannot start. A proxy between the two is the
 * pattern of AWS's "runtime API proxy" extension samples: start the runtime
 * with AWS_LAMBDA_RUNTIME_API pointing at ourselves and forward.
 *
 * One process (the user's runtime) talks to us, one request at a time: the
 * server is a poll loop over a few plain sockets, each request handled to
 * completion (the upstream calls block). Pacing happens in /next: an SQS
 * event is handed to the runtime in sub-batches of at most TASKPIPE_BURST
 * records, each held until its slot, so the waits are inside the
 * invocation, which stays in flight and keeps counting toward the
 * mapping's MaximumConcurrency. With TASKPIPE_RATE_TABLE all of a batch's
 * slots are booked with one claim on the pipeline's lane schedule in the
 * state table (rate_sched.h), which holds rate * W + burst across all
 * instances; this instance's token bucket (pace.h) is the fallback when
 * DynamoDB fails (rate * W + concurrency * burst). A member of a limit
 * group (TASKPIPE_LIMIT_GROUP, group_gate.h) also books each sub-batch on
 * the group's schedule, just before its slot and at the slot's time, on
 * both paths; when the group's schedule fails nothing starts (no fallback
 * trades the group's bound for availability). The runtime's answers are
 * merged into the one answer Lambda gets (subbatch.h). */
#include "runtime/consume.h"

#include "aws/aws.h"
#include "aws/awsjson.h"
#include "aws/rate_sched.h"
#include "aws/http.h"
#include "base/log.h"
#include "runtime/consume_metrics.h"
#include "runtime/group_gate.h"
#include "runtime/pace.h"
#include "runtime/subbatch.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 8
#define MAX_REQUEST (7u << 20)       /* 6 MB response payload + headers */
#define DEFAULT_RESERVE_MS 2000
#define MAX_VISIBILITY_S 43200       /* SQS ChangeMessageVisibility: 12 hours at most */
#define CMV_TIMEOUT_MS 3000
#define SHARED_MAX_HORIZON_US 900000000LL   /* Lambda's 15 minute timeout */
#define FALLBACK_LOG_EVERY_MS 60000
#define LATE_US 50000                /* a slot missed by more is booked again */
#define MAX_BURST 10000
#define BACKOFF_HOLD_US 10000000LL   /* a backed-off instance keeps what starts within this */
#define MAX_DELAY_S 900              /* SQS DelaySeconds: 15 minutes at most */
#define MAX_PUSHBACKS 100            /* re-sends of one message; then pushback counts as a receive */
#define PUSHBACK_ATTR "taskpipe-pushbacks"
#define CLAIM_LEAD_MIN_US 5000
#define CLAIM_LEAD_MAX_US 1000000
#define GROUP_RETRY_S 5             /* records a failed group schedule hands back come back after this */

static const char usage[] =
	"usage: taskpipe consume [--] [CMD ARGS...]\n"
	"\n"
	"Runtime API proxy for a Lambda consumer (the taskpipe consumer layer).\n"
	"Starts CMD (default \"$LAMBDA_TASK_ROOT/$_HANDLER\") with AWS_LAMBDA_RUNTIME_API\n"
	"pointing at this proxy and forwards its calls to the real Runtime API.\n"
	"\n"
	"environment:\n"
	"  TASKPIPE_RATE                 the pipeline's rate, tasks/s (unset: pass-through)\n"
	"  TASKPIPE_CONCURRENCY          instances sharing it (default 1)\n"
	"  TASKPIPE_BURST                records handed to the runtime at once, each group at its\n"
	"                                own slot (default 1): any W s see at most rate x W + burst\n"
	"  TASKPIPE_RATE_TABLE           state table: every instance books on one shared schedule\n"
	"                                (item rate#$AWS_LAMBDA_FUNCTION_NAME); unset: per-instance share\n"
	"  TASKPIPE_LIMIT_GROUP          limit group (1..200 of [A-Za-z0-9_-]): every sub-batch also starts\n"
	"                                only at a time booked on the group's schedule, item\n"
	"                                limit#<group> in TASKPIPE_RATE_TABLE, shared by all its members\n"
	"  TASKPIPE_LIMIT_GROUP_RATE     the group's rate, tasks/s: any W s see at most\n"
	"  TASKPIPE_LIMIT_GROUP_BURST    group rate x W + group burst starts of all members together;\n"
	"                                sub-batches hold at most min(TASKPIPE_BURST, group burst)\n"
	"                                records. The three go together and need TASKPIPE_RATE and\n"
	"                                TASKPIPE_RATE_TABLE. When the group's schedule fails nothing\n"
	"                                starts: the records go back to the queue (no per-instance\n"
	"                                fallback: the group's bound is never traded for availability)\n"
	"  TASKPIPE_DEADLINE_RESERVE_MS  time kept for the handler before the deadline (default 2000)\n"
	"  TASKPIPE_METRICS              off | fleet (default) | detailed: EMF metrics on stderr\n"
	"  TASKPIPE_METRICS_INTERVAL     seconds between quiet metric lines (default 60; 0: every\n"
	"                                invocation); trouble is written by the invocation that saw it\n";

struct conn {
	int fd;
	buf in;
	int sent_continue;
};

struct request {
	char method[8];
	char path[512];
	const char *body;
	size_t body_len;
	buf headers_fwd;      /* "Name: value\n" lines to forward upstream */
	int close;            /* Connection: close */
	size_t consumed;      /* bytes of conn->in this request used */
	buf chunked;          /* decoded body of a chunked request */
};

/* An event from upstream, handed to the runtime in sub-batches of at most
 * burst records, each at its own slot; their answers merge into one. */
struct batch {
	int active;
	char id[128];             /* the upstream invocation */
	char *raw;                /* its event as received */
	cJSON *event;             /* parsed */
	buf headers;              /* its Runtime API headers, for the runtime */
	int sqs;                  /* the event has Records */
	int n;                    /* records (1 for an event that is not SQS) */
	int whole;                /* n <= burst: one sub-batch, the answer goes up as is */
	int next;                 /* first record not yet handed to the runtime */
	int end;                  /* records from here on went back to the queue */
	int from, count;          /* the sub-batch the runtime holds */
	int handed_back;          /* records returned without running */
	int64_t latest_us;        /* wall clock: no sub-batch starts later */
	int64_t not_before_us;    /* wall clock: the limit group allows no start earlier */
	int shared;               /* slots from the shared schedule, else the bucket */
	struct rsched_grant g;    /* the booked slots */
	int used;                 /* a slot of g was used (at last_pos) */
	double last_pos;          /* the last slot used, with the fraction carried */
	cJSON *failures;          /* merged batchItemFailures */
	int retry_after_s;        /* the longest retry-after of the last answer */
};

struct proxy {
	char upstream[300];       /* http://HOST:PORT */
	struct http_client *http;
	int pacing;
	struct pace pace;
	struct rsched *sched;     /* TASKPIPE_RATE_TABLE: the shared schedule */
	int burst;                /* records per sub-batch (TASKPIPE_BURST) */
	int lanes;                /* TASKPIPE_CONCURRENCY */
	int64_t claim_lead_us;    /* book slots from this long after now: twice the last claim's time */
	struct ggate *group;      /* TASKPIPE_LIMIT_GROUP: the group's schedule (group_gate.h) */
	int64_t group_lead_us;    /* book the group this long before a slot: twice the last booking's time */
	struct batch b;           /* the event in hand, run in sub-batches */
	int64_t fallback_logged_ms;
	int64_t reserve_ms;
	pid_t child;
	int child_asked_next;     /* the runtime finished its init */
	char cur_id[128];         /* the invocation the runtime holds; "" none */
	struct aws *aws;          /* SQS, made on first use */
	char aws_region[32];
	int exit_code;            /* -1 while running */
	struct cmetrics metrics;  /* consume_metrics.h */
};

static volatile sig_atomic_t child_pid_for_signal;

static void forward_signal(int sig)
{
	if (child_pid_for_signal > 0)
		kill((pid_t)child_pid_for_signal, sig);
}

/* ---- pure helpers (unit-tested) ---- */

int consume_count_records(const cJSON *event)
{
	const cJSON *r = cJSON_GetObjectItemCaseSensitive(event, "Records");
	int n = cJSON_IsArray(r) ? cJSON_GetArraySize(r) : 0;
	return n > 0 ? n : 1;
}

int consume_queue_url(const char *arn, char *url, size_t url_len, char *region, size_t region_len)
{
	/* arn:aws:sqs:us-east-1:123456789012:name (partition may be aws-cn, ...) */
	char part[6][128];
	const char *p = arn ? arn : "";
	for (int i = 0; i < 6; i++) {
		const char *colon = i < 5 ? strchr(p, ':') : p + strlen(p);
		if (!colon || colon - p >= (long)sizeof part[i] || (i >= 3 && colon == p))
			return TP_EINVAL;
		memcpy(part[i], p, colon - p);
		part[i][colon - p] = 0;
		p = colon + (i < 5);
	}
	if (strcmp(part[0], "arn") != 0 || strcmp(part[2], "sqs") != 0)
		return TP_EINVAL;
	const char *suffix = strcmp(part[1], "aws-cn") == 0 ? "amazonaws.com.cn" : "amazonaws.com";
	snprintf(url, url_len, "https://sqs.%s.%s/%s/%s", part[3], suffix, part[4], part[5]);
	snprintf(region, region_len, "%s", part[3]);
	return TP_OK;
}

/* ---- the child's side: a minimal HTTP/1.1 server ---- */

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return TP_EIO;
		p += w;
		n -= (size_t)w;
	}
	return TP_OK;
}

static const char *reason(long status)
{
	switch (status) {
	case 200: return "OK";
	case 202: return "Accepted";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 411: return "Length Required";
	case 413: return "Payload Too Large";
	default: return status < 400 ? "OK" : status < 500 ? "Client Error" : "Server Error";
	}
}

/* headers: "Name: value\r\n" lines (may be NULL). */
static int reply(struct conn *c, long status, const char *headers, const char *body, size_t len)
{
	buf out = { 0 };
	buf_addf(&out, "HTTP/1.1 %ld %s\r\nContent-Length: %zu\r\n%s\r\n", status, reason(status), len,
		 headers ? headers : "");
	buf_add(&out, body ? body : "", len);
	int rc = write_all(c->fd, out.data, out.len);
	buf_free(&out);
	return rc;
}

/* Content-Type and the Runtime API's own headers (Lambda-Runtime-* such as
 * the error type and X-Ray error cause, Lambda-Extension-*) of the block
 * [h, end), each as "Name: value" + eol into out: everything else is
 * hop-by-hop or curl's. Both directions forward the same set. */
static void runtime_headers(const char *h, const char *end, const char *eol_text, buf *out)
{
	for (const char *line = h; line < end;) {
		const char *eol = memchr(line, '\n', (size_t)(end - line));
		if (!eol)
			eol = end;
		size_t len = (size_t)(eol - line);
		if (len && line[len - 1] == '\r')
			len--;
		if (len && (strncasecmp(line, "Lambda-Runtime-", 15) == 0 || strncasecmp(line, "Lambda-Extension-", 17) == 0 ||
			    strncasecmp(line, "Content-Type:", 13) == 0))
			buf_addf(out, "%.*s%s", (int)len, line, eol_text);
		line = eol + 1;
	}
}

/* Decode a chunked body from p (n bytes available) into out: returns the
 * bytes consumed, 0 when incomplete, -1 when malformed. */
static long dechunk(const char *p, size_t n, buf *out)
{
	size_t i = 0;
	buf_reset(out);
	for (;;) {
		const char *eol = memchr(p + i, '\n', n - i);
		if (!eol)
			return 0;
		char *end;
		unsigned long size = strtoul(p + i, &end, 16);
		if (end == p + i)
			return -1;
		i = (size_t)(eol - p) + 1;
		if (size == 0) {   /* last chunk; skip trailers up to the blank line */
			for (;;) {
				const char *e2 = memchr(p + i, '\n', n - i);
				if (!e2)
					return 0;
				size_t len = (size_t)(e2 - (p + i));
				i = (size_t)(e2 - p) + 1;
				if (len == 0 || (len == 1 && e2[-1] == '\r'))
					return (long)i;
			}
		}
		if (size > MAX_REQUEST || n - i < size + 2)
			return size > MAX_REQUEST ? -1 : 0;
		buf_add(out, p + i, size);
		i += size + 2;     /* data + CRLF */
	}
}

/* Parse one request from c->in: 1 complete, 0 need more, < 0 bad (answered). */
static int parse_request(struct conn *c, struct request *r)
{
	char *data = c->in.data;
	if (!data)
		return 0;
	char *hend = strstr(data, "\r\n\r\n");
	if (!hend)
		return c->in.len > 65536 ? (reply(c, 413, NULL, "", 0), -1) : 0;
	char *line_end = strstr(data, "\r\n");
	if (sscanf(data, "%7s %511s", r->method, r->path) != 2) {
		reply(c, 400, NULL, "", 0);
		return -1;
	}
	const char *h = line_end + 2, *he = hend + 2;
	char v[128];
	size_t body_at = (size_t)(hend + 4 - data), need = 0;
	int chunked = http_header_in(h, he, "Transfer-Encoding", v, sizeof v) && strstr(v, "chunked");
	if (http_header_in(h, he, "Content-Length", v, sizeof v))
		need = strtoul(v, NULL, 10);
	if (need > MAX_REQUEST) {
		reply(c, 413, NULL, "", 0);
		return -1;
	}
	int complete;
	if (chunked) {
		/* A whole chunked body ends with an empty line: skip decoding
		 * (from the start again) until the bytes so far could be one. */
		size_t have = c->in.len - body_at;
		long used = have >= 5 && memcmp(data + c->in.len - 4, "\r\n\r\n", 4) == 0
				    ? dechunk(data + body_at, have, &r->chunked) : 0;
		if (used < 0) {
			reply(c, 400, NULL, "", 0);
			return -1;
		}
		complete = used > 0;
		r->body = r->chunked.data ? r->chunked.data : "";
		r->body_len = r->chunked.len;
		r->consumed = body_at + (size_t)used;
	} else {
		complete = c->in.len - body_at >= need;
		r->body = data + body_at;
		r->body_len = need;
		r->consumed = body_at + need;
	}
	if (!complete) {
		/* A client that asked to wait sends the body after our 100. */
		if (http_header_in(h, he, "Expect", v, sizeof v) && tp_strcaseeq(v, "100-continue") &&
		    !c->sent_continue) {
			write_all(c->fd, "HTTP/1.1 100 Continue\r\n\r\n", 25);
			c->sent_continue = 1;
		}
		return 0;
	}
	r->close = http_header_in(h, he, "Connection", v, sizeof v) && tp_strcaseeq(v, "close");
	runtime_headers(h, he, "\n", &r->headers_fwd);
	return 1;
}

/* ---- the upstream side ---- */

/* One call to the real Runtime API. hdr_lines: "Name: value\n" lines. */
static int upstream(struct proxy *px, const char *method, const char *path, const char *hdr_lines,
		    const char *body, size_t len, long timeout_ms, struct http_response *resp)
{
	char url[900];
	snprintf(url, sizeof url, "%s%s", px->upstream, path);
	const char *hv[16];
	char *copy = tp_xstrdup(hdr_lines ? hdr_lines : ""), *save = NULL;
	size_t n = 0;
	for (char *t = strtok_r(copy, "\n", &save); t && n < 16; t = strtok_r(NULL, "\n", &save))
		hv[n++] = t;
	struct http_request req = { .method = method, .url = url, .headers = hv, .n_headers = n,
				    .body = body, .body_len = len, .timeout_ms = timeout_ms,
				    .max_response_bytes = MAX_REQUEST };
	int rc = http_do(px->http, &req, resp);
	free(copy);
	if (rc != TP_OK)
		log_error("consume: runtime API %s %s: %s", method, path, resp->error);
	return rc;
}

/* The upstream answer's Content-Type and Lambda-Runtime-* headers, as
 * "Name: value\r\n" lines for the child. */
static void answer_headers(const struct http_response *resp, buf *out)
{
	const char *h = buf_str(&resp->headers);
	runtime_headers(h, h + resp->headers.len, "\r\n", out);
}

static int relay(struct conn *c, struct http_response *resp)
{
	if (resp->rc != TP_OK) {
		const char *msg = "{\"errorType\":\"Runtime.ProxyError\",\"errorMessage\":\"runtime API unreachable\"}";
		return reply(c, 502, "Content-Type: application/json\r\n", msg, strlen(msg));
	}
	buf h = { 0 };
	answer_headers(resp, &h);
	int rc = reply(c, resp->status, buf_str(&h), resp->body.data, resp->body.len);
	buf_free(&h);
	return rc;
}

static void post_error(struct proxy *px, const char *path, const char *type, const char *msg)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "errorMessage", msg);
	cJSON_AddStringToObject(o, "errorType", type);
	char *body = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	char hdr[200];
	snprintf(hdr, sizeof hdr, "Content-Type: application/json\nLambda-Runtime-Function-Error-Type: %s\n", type);
	struct http_response resp = { 0 };
	if (upstream(px, "POST", path, hdr, body, strlen(body), 10000, &resp) == TP_OK &&
	    (resp.status < 200 || resp.status > 299))
		log_error("consume: %s: HTTP %ld: %.200s", path, resp.status, buf_str(&resp.body));
	http_response_free(&resp);
	free(body);
}

/* ---- the child runtime ---- */

extern char **environ;

/* posix_spawnp (a vfork-style clone in musl: no copy of our memory, which
 * fork costs at every cold start) with our environment, AWS_LAMBDA_RUNTIME_API
 * replaced, and SIGPIPE back to its default. */
static int spawn(struct proxy *px, char **cmd, int port, char *why, size_t why_len)
{
	size_t n = 0;
	while (environ[n])
		n++;
	char **env = tp_xcalloc(n + 2, sizeof *env), api[64];
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (!tp_startswith(environ[i], "AWS_LAMBDA_RUNTIME_API="))
			env[k++] = environ[i];
	snprintf(api, sizeof api, "AWS_LAMBDA_RUNTIME_API=127.0.0.1:%d", port);
	env[k++] = api;
	posix_spawnattr_t attr;
	sigset_t def;
	posix_spawnattr_init(&attr);
	sigemptyset(&def);
	sigaddset(&def, SIGPIPE);
	posix_spawnattr_setsigdefault(&attr, &def);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);
	pid_t pid;
	int err = posix_spawnp(&pid, cmd[0], NULL, &attr, cmd, env);
	posix_spawnattr_destroy(&attr);
	free(env);
	if (err) {
		snprintf(why, why_len, "cannot start %.200s: %s", cmd[0], strerror(err));
		return TP_EIO;
	}
	px->child = pid;
	child_pid_for_signal = pid;
	return TP_OK;
}

/* Lambda's own wording for a runtime that exits ("Runtime.ExitError"). */
static void child_exited(struct proxy *px, int status)
{
	char why[160], msg[400];
	int code = 1;
	if (WIFEXITED(status)) {
		code = WEXITSTATUS(status) ? WEXITSTATUS(status) : 1;
		snprintf(why, sizeof why, "exit status %d", WEXITSTATUS(status));
	} else if (WIFSIGNALED(status)) {
		code = 128 + WTERMSIG(status);
		snprintf(why, sizeof why, "signal: %s", strsignal(WTERMSIG(status)));
	} else {
		snprintf(why, sizeof why, "status %d", status);
	}
	if (px->cur_id[0]) {
		char path[256];
		snprintf(msg, sizeof msg, "RequestId: %s Error: Runtime exited with error: %s", px->cur_id, why);
		snprintf(path, sizeof path, "/2018-06-01/runtime/invocation/%s/error", px->cur_id);
		post_error(px, path, "Runtime.ExitError", msg);
	} else if (!px->child_asked_next) {
		snprintf(msg, sizeof msg, "Runtime exited with error: %s", why);
		post_error(px, "/2018-06-01/runtime/init/error", "Runtime.ExitError", msg);
	} else {
		snprintf(msg, sizeof msg, "Runtime exited between invocations: %s", why);
	}
	log_error("consume: %s", msg);
	px->exit_code = code;
}

/* 1 when the child has exited (px->exit_code set). */
static int check_child(struct proxy *px)
{
	if (px->exit_code >= 0)
		return 1;
	int status;
	pid_t r = waitpid(px->child, &status, WNOHANG);
	if (r == px->child) {
		child_exited(px, status);
		return 1;
	}
	return 0;
}

/* Sleep us microseconds, watching the child. Returns 1 if it exited. */
static int wait_watching(struct proxy *px, int64_t us)
{
	int64_t until = tp_mono_us() + us;
	for (;;) {
		if (check_child(px))
			return 1;
		int64_t left = until - tp_mono_us();
		if (left <= 0)
			return 0;
		struct timespec ts = { .tv_sec = 0, .tv_nsec = (left > 50000 ? 50000 : left) * 1000 };
		nanosleep(&ts, NULL);
	}
}

/* ---- pacing and backpressure ---- */

static void set_current(struct proxy *px, const char *id)
{
	snprintf(px->cur_id, sizeof px->cur_id, "%s", id ? id : "");
}

static void batch_end(struct proxy *px)
{
	struct batch *b = &px->b;
	cJSON_Delete(b->event);
	cJSON_Delete(b->failures);
	free(b->raw);
	buf_free(&b->headers);
	memset(b, 0, sizeof *b);
	set_current(px, NULL);
}

static const cJSON *find_record(const cJSON *event, int from, int count, const char *message_id)
{
	const cJSON *recs = cJSON_GetObjectItemCaseSensitive(event, "Records");
	for (int i = from; i < from + count; i++) {
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(recs, i), "messageId");
		if (cJSON_IsString(id) && strcmp(id->valuestring, message_id) == 0)
			return cJSON_GetArrayItem(recs, i);
	}
	return NULL;
}

static int has_failure(const cJSON *list, const char *message_id)
{
	const cJSON *f;
	cJSON_ArrayForEach(f, list) {
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(f, "itemIdentifier");
		if (cJSON_IsString(id) && strcmp(id->valuestring, message_id) == 0)
			return 1;
	}
	return 0;
}

static struct aws *sqs_for(struct proxy *px, const char *region)
{
	if (px->aws && strcmp(px->aws_region, region) == 0)
		return px->aws;
	aws_free(px->aws);
	px->aws = NULL;
	tp_err e = { 0 };
	struct aws_options o = { .region = region, .timeout_ms = CMV_TIMEOUT_MS, .max_attempts = 2 };
	if (aws_new(&o, &px->aws, &e) < 0) {
		log_error("consume: SQS client for %s: %s", region, e.message);
		return NULL;
	}
	snprintf(px->aws_region, sizeof px->aws_region, "%s", region);
	return px->aws;
}

/* SQS ChangeMessageVisibility of recs[i] to vis[i] seconds, all at once
 * (aws_call_many). A record whose change fails is logged: it comes back
 * after the queue's visibility timeout instead. */
static void set_visibility(struct proxy *px, const cJSON **recs, const int *vis, int n)
{
	struct aws_call *calls = tp_xcalloc(n > 0 ? (size_t)n : 1, sizeof *calls);
	char region[32] = "";
	int ncalls = 0;
	for (int i = 0; i < n; i++) {
		const cJSON *idj = cJSON_GetObjectItemCaseSensitive(recs[i], "messageId");
		const char *mid = cJSON_IsString(idj) ? idj->valuestring : "(no messageId)";
		const cJSON *rh = cJSON_GetObjectItemCaseSensitive(recs[i], "receiptHandle");
		const cJSON *arn = cJSON_GetObjectItemCaseSensitive(recs[i], "eventSourceARN");
		char url[400], reg[32];
		if (!cJSON_IsString(rh) || !cJSON_IsString(arn) ||
		    consume_queue_url(arn->valuestring, url, sizeof url, reg, sizeof reg) < 0) {
			log_error("consume: record %.100s has no usable receiptHandle/eventSourceARN: it comes back "
				  "after the queue's visibility timeout", mid);
			continue;
		}
		if (region[0] && strcmp(region, reg) != 0) {
			log_error("consume: record %.100s is from another region (%s): visibility left as is", mid, reg);
			continue;
		}
		snprintf(region, sizeof region, "%s", reg);
		cJSON *in = cJSON_CreateObject();
		cJSON_AddStringToObject(in, "QueueUrl", url);
		cJSON_AddStringToObject(in, "ReceiptHandle", rh->valuestring);
		cJSON_AddNumberToObject(in, "VisibilityTimeout", vis[i]);
		awsj_prepare(&calls[ncalls], SVC_SQS, "ChangeMessageVisibility", in);
		calls[ncalls].user = (void *)mid;
		ncalls++;
	}
	struct aws *a = ncalls ? sqs_for(px, region) : NULL;
	if (ncalls && a)
		aws_call_many(a, calls, (size_t)ncalls);
	for (int i = 0; i < ncalls; i++) {
		if (!a || calls[i].rc != TP_OK)
			log_error("consume: ChangeMessageVisibility of %.100s failed (%s): it comes back after the "
				  "queue's visibility timeout", (const char *)calls[i].user,
				  a ? calls[i].err.message : "no SQS client");
		aws_call_free(&calls[i]);
	}
	free(calls);
}

static int visibility_s(double secs)
{
	return secs <= 0 ? 0 : secs >= MAX_VISIBILITY_S ? MAX_VISIBILITY_S : (int)ceil(secs - 1e-9);
}

/* The queue URL and region of a record (from eventSourceARN); 0 if none. */
static int record_queue(const cJSON *rec, char *url, size_t url_len, char *region, size_t region_len)
{
	const cJSON *arn = cJSON_GetObjectItemCaseSensitive(rec, "eventSourceARN");
	return cJSON_IsString(arn) && consume_queue_url(arn->valuestring, url, url_len, region, region_len) == TP_OK;
}

/* A record's MessageAttributes for SendMessage (from the event's
 * messageAttributes), with PUSHBACK_ATTR = pushbacks; NULL when there is no
 * room for it (SQS allows 10 attributes a message). */
static cJSON *resend_attributes(const cJSON *rec, long pushbacks)
{
	cJSON *out = cJSON_CreateObject();
	const cJSON *a;
	int n = 0;
	cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(rec, "messageAttributes")) {
		if (!a->string || strcmp(a->string, PUSHBACK_ATTR) == 0)
			continue;
		const cJSON *type = cJSON_GetObjectItemCaseSensitive(a, "dataType");
		const cJSON *sv = cJSON_GetObjectItemCaseSensitive(a, "stringValue");
		const cJSON *bv = cJSON_GetObjectItemCaseSensitive(a, "binaryValue");
		if (!cJSON_IsString(type))
			continue;
		cJSON *v = cJSON_AddObjectToObject(out, a->string);
		cJSON_AddStringToObject(v, "DataType", type->valuestring);
		if (cJSON_IsString(sv))
			cJSON_AddStringToObject(v, "StringValue", sv->valuestring);
		if (cJSON_IsString(bv))
			cJSON_AddStringToObject(v, "BinaryValue", bv->valuestring);
		n++;
	}
	if (n >= 10) {
		cJSON_Delete(out);
		return NULL;
	}
	char num[24];
	snprintf(num, sizeof num, "%ld", pushbacks);
	cJSON *v = cJSON_AddObjectToObject(out, PUSHBACK_ATTR);
	cJSON_AddStringToObject(v, "DataType", "Number");
	cJSON_AddStringToObject(v, "StringValue", num);
	return out;
}

static long pushbacks_of(const cJSON *rec)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(rec, "messageAttributes"),
							  PUSHBACK_ATTR);
	const cJSON *sv = cJSON_GetObjectItemCaseSensitive(a, "stringValue");
	return cJSON_IsString(sv) ? strtol(sv->valuestring, NULL, 10) : 0;
}

/* Put records back for later without a receive that counts toward the
 * queue's maxReceiveCount (SQS counts every receive, and a record left in
 * batchItemFailures is received again): each is re-sent to its own queue
 * (SendMessage: the same body and message attributes, DelaySeconds =
 * delay_s[i], attribute taskpipe-pushbacks + 1) and then counts as done, so
 * the mapping deletes the original. sent[i] is 1 for a re-sent record; 0
 * means the caller lists it in batchItemFailures and moves its visibility
 * instead: a delay over 15 minutes (SQS's DelaySeconds limit), a FIFO
 * queue (no per-message delay, and a re-send would reorder its group), no
 * room for the attribute, MAX_PUSHBACKS re-sends already, or a failed
 * SendMessage (logged). */
static void resend(struct proxy *px, const cJSON **recs, const int *delay_s, int n, int *sent)
{
	struct aws_call *calls = tp_xcalloc(n > 0 ? (size_t)n : 1, sizeof *calls);
	int *which = tp_xcalloc(n > 0 ? (size_t)n : 1, sizeof *which);
	char region[32] = "";
	int ncalls = 0;
	for (int i = 0; i < n; i++) {
		sent[i] = 0;
		char url[400], reg[32];
		const cJSON *body = cJSON_GetObjectItemCaseSensitive(recs[i], "body");
		long pushbacks = pushbacks_of(recs[i]);
		if (delay_s[i] > MAX_DELAY_S || pushbacks >= MAX_PUSHBACKS || !cJSON_IsString(body) ||
		    !body->valuestring[0] || !record_queue(recs[i], url, sizeof url, reg, sizeof reg) ||
		    (strlen(url) > 5 && strcmp(url + strlen(url) - 5, ".fifo") == 0) ||
		    (region[0] && strcmp(region, reg) != 0))
			continue;
		cJSON *attrs = resend_attributes(recs[i], pushbacks + 1);
		if (!attrs)
			continue;
		snprintf(region, sizeof region, "%s", reg);
		cJSON *in = cJSON_CreateObject();
		cJSON_AddStringToObject(in, "QueueUrl", url);
		cJSON_AddStringToObject(in, "MessageBody", body->valuestring);
		cJSON_AddNumberToObject(in, "DelaySeconds", delay_s[i] < 0 ? 0 : delay_s[i]);
		cJSON_AddItemToObject(in, "MessageAttributes", attrs);
		const cJSON *mid = cJSON_GetObjectItemCaseSensitive(recs[i], "messageId");
		log_debug("consume: re-sending %.100s (pushback %ld) with a delay of %d s",
			  cJSON_IsString(mid) ? mid->valuestring : "(no messageId)", pushbacks + 1, delay_s[i]);
		awsj_prepare(&calls[ncalls], SVC_SQS, "SendMessage", in);
		which[ncalls++] = i;
	}
	struct aws *a = ncalls ? sqs_for(px, region) : NULL;
	if (ncalls && a)
		aws_call_many(a, calls, (size_t)ncalls);
	for (int c = 0; c < ncalls; c++) {
		if (a && calls[c].rc == TP_OK) {
			sent[which[c]] = 1;
		} else {
			const cJSON *id = cJSON_GetObjectItemCaseSensitive(recs[which[c]], "messageId");
			log_error("consume: the re-send of %.100s failed (%s): put back with its visibility instead, which "
				  "counts as a receive", cJSON_IsString(id) ? id->valuestring : "(no messageId)",
				  a ? calls[c].err.message : "no SQS client");
		}
		aws_call_free(&calls[c]);
	}
	free(calls);
	free(which);
}

/* Push records back for delay_s[i] seconds: re-sent (resend) where that
 * works, else listed in failures with their visibility moved. sent[i]
 * says which way each went. */
static void push_back(struct proxy *px, const cJSON **recs, const int *delay_s, int n, cJSON *failures, int *sent)
{
	resend(px, recs, delay_s, n, sent);
	const cJSON **rest = tp_xcalloc(n > 0 ? (size_t)n : 1, sizeof *rest);
	int *rest_vis = tp_xcalloc(n > 0 ? (size_t)n : 1, sizeof *rest_vis);
	int nrest = 0, nsent = 0;
	for (int i = 0; i < n; i++) {
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(recs[i], "messageId");
		if (sent[i]) {
			nsent++;
			continue;
		}
		if (cJSON_IsString(id) && !has_failure(failures, id->valuestring)) {
			cJSON *f = cJSON_CreateObject();
			cJSON_AddStringToObject(f, "itemIdentifier", id->valuestring);
			cJSON_AddItemToArray(failures, f);
		}
		rest[nrest] = recs[i];
		rest_vis[nrest++] = delay_s[i];
	}
	if (nsent)
		log_info("consume: %d record(s) re-sent with a delay (pushback: no receive counted)", nsent);
	set_visibility(px, rest, rest_vis, nrest);
	free(rest);
	free(rest_vis);
}

/* Records from .. to-1 of the batch cannot start before the deadline: they
 * go back to the queue (batchItemFailures) without running, visible again
 * at their next slot: the first burst of them at first_us (wall clock),
 * the next burst spacing_us later, and so on, so they come back a few at
 * a time, not as the whole backlog at once. Lambda documents partial
 * batch responses in "Handling errors for an SQS event source"
 * (services-sqs-errorhandling.html, ReportBatchItemFailures). */
static void hand_back(struct proxy *px, int from, int to, int64_t first_us, int64_t spacing_us, const char *why)
{
	struct batch *b = &px->b;
	if (to <= from)
		return;
	int64_t now = tp_now_us();
	char deadline[80];
	snprintf(deadline, sizeof deadline, "cannot start before the deadline less %lld ms", (long long)px->reserve_ms);
	log_warn("consume: %d record(s) of %s %s: returned to the queue, visible again from %.1f s on", to - from,
		 b->id, why ? why : deadline, (double)(first_us - now) / 1e6);
	b->handed_back += to - from;
	cm_returned(&px->metrics, to - from, tp_now_ms());
	if (!b->sqs)
		return;
	const cJSON **recs = tp_xcalloc((size_t)(to - from), sizeof *recs);
	int *vis = tp_xcalloc((size_t)(to - from), sizeof *vis), *sent = tp_xcalloc((size_t)(to - from), sizeof *sent);
	const cJSON *all = cJSON_GetObjectItemCaseSensitive(b->event, "Records");
	for (int i = from; i < to; i++) {
		recs[i - from] = cJSON_GetArrayItem(all, i);
		int64_t at = first_us + (int64_t)((i - from) / px->burst) * spacing_us;
		vis[i - from] = visibility_s((double)(at - now) / 1e6);
	}
	push_back(px, recs, vis, to - from, b->failures, sent);
	free(recs);
	free(vis);
	free(sent);
}

static void log_fallback(struct proxy *px, const tp_err *e)
{
	int64_t t = tp_now_ms();
	if (!px->fallback_logged_ms || t - px->fallback_logged_ms >= FALLBACK_LOG_EVERY_MS) {
		log_error("consume: shared rate schedule unavailable (%s: %s): pacing at this instance's share "
			  "until it answers (any W seconds then see at most rate x W + concurrency x burst starts)",
			  e->code, e->message);
		px->fallback_logged_ms = t;
	}
}

/* After AIMD backoff to share = configured / f, an instance uses one slot
 * of its lane in f (fractions carried): f >= 1. The share in force when
 * the next sub-batch is placed counts, so backoff and recovery act at once. */
static double spacing_of(const struct proxy *px)
{
	double f = px->pace.configured / px->pace.share;
	return f < 1 ? 1 : f;
}

/* Book the batch's remaining sub-batches (records next .. end-1) on the
 * shared schedule with one claim. After AIMD backoff one slot in f is
 * used (spacing_of): a rate-limited instance spaces its own sub-batches out in its
 * lane, which slows the pipeline and never moves another lane's slots.
 * Returns 1 booked (b->g; records past the slots that fit were handed
 * back), 0 none fits (all handed back), -1 the schedule failed (use the
 * bucket), -2 the runtime exited. */
static int batch_claim(struct proxy *px)
{
	struct batch *b = &px->b;
	int subs = (b->end - b->next + px->burst - 1) / px->burst;
	double f = spacing_of(px);
	if (f > 1) {
		/* backed off: keep only what starts within BACKOFF_HOLD_US; the
		 * rest goes back to the queue where idle instances take it */
		int64_t period = rsched_step_us(px->sched) * (int64_t)px->lanes;
		int hold = (int)(BACKOFF_HOLD_US / ((double)period * f)) + 1;
		if (subs > hold) {
			int keep = b->next + hold * px->burst;
			hand_back(px, keep, b->end, tp_now_us() + BACKOFF_HOLD_US, period, "would wait behind this instance's backoff");
			b->end = keep;
			subs = hold;
		}
	}
	int want = (int)ceil((subs - 1) * f - 1e-9) + 1;
	int64_t step = rsched_step_us(px->sched);
	for (;;) {
		tp_err e = { 0 };
		/* book from when the answer will be back: a slot that passes during
		 * the write would be missed */
		int64_t now = tp_now_us(), from = now + px->claim_lead_us;
		if (from < b->not_before_us)   /* the limit group allows nothing earlier */
			from = b->not_before_us;
		int rc = rsched_claim(px->sched, want, from, b->latest_us, &b->g, &e);
		int64_t took = tp_now_us() - now;
		px->claim_lead_us = 2 * took < CLAIM_LEAD_MIN_US ? CLAIM_LEAD_MIN_US
				  : 2 * took > CLAIM_LEAD_MAX_US ? CLAIM_LEAD_MAX_US : 2 * took;
		if (rc < 0) {
			log_fallback(px, &e);
			return -1;
		}
		if (rc == 1) {   /* lost every race: the others are booking */
			if (now + step > b->latest_us) {
				hand_back(px, b->next, b->end, now + step, step, NULL);
				b->end = b->next;
				return 0;
			}
			if (wait_watching(px, step))
				return -2;
			continue;
		}
		b->used = 0;
		log_debug("consume: %s: booked %d of %d slot(s) in lane %d, first in %lld ms, every %lld ms, deadline "
			  "less the reserve in %lld ms", b->id, b->g.count, want, b->g.lane,
			  (long long)((b->g.first_us - now) / 1000), (long long)(b->g.stride_us / 1000),
			  (long long)((b->latest_us - now) / 1000));
		int64_t spacing = (int64_t)((double)b->g.stride_us * f);
		if (b->g.count == 0) {
			hand_back(px, b->next, b->end, b->g.next_us, spacing, NULL);
			b->end = b->next;
			return 0;
		}
		int usable = (int)floor((b->g.count - 1) / f + 1e-9) + 1;
		long covered = b->next + (long)usable * px->burst;
		if (covered < b->end) {
			hand_back(px, (int)covered, b->end, b->g.next_us, spacing, NULL);
			b->end = (int)covered;
		}
		struct rsched_stats st;
		rsched_stats(px->sched, &st);
		/* the cost, for the operator (docs/consumer-layer.md): at 1, 10, 100, ... batches */
		long n = st.claims;
		while (n >= 10 && n % 10 == 0)
			n /= 10;
		if (n == 1)
			log_info("consume: shared schedule: %ld batches booked, %ld UpdateItem writes", st.claims,
				 st.writes);
		else
			log_debug("consume: shared schedule: %ld batches booked, %ld UpdateItem writes", st.claims,
				  st.writes);
		return 1;
	}
}

/* The limit group's schedule failed: nothing of the batch starts. Its
 * records go back to the queue (re-sent, no receive counted), visible again
 * GROUP_RETRY_S later, and the pipeline's unused slots are given back. The
 * group's bound is never traded for availability: there is no per-instance
 * fallback for it. */
static void group_failed(struct proxy *px)
{
	struct batch *b = &px->b;
	char why[300];
	snprintf(why, sizeof why, "cannot start: limit group %s's schedule is unavailable", ggate_name(px->group));
	hand_back(px, b->next, b->end, tp_now_us() + GROUP_RETRY_S * 1000000LL, 0, why);
	b->end = b->next;
	if (b->shared && b->g.count > 0) {
		int64_t free_us = b->g.first_us + (int64_t)(b->used ? (int)b->last_pos + 1 : 0) * b->g.stride_us;
		tp_err e = { 0 };
		if (rsched_release(px->sched, &b->g, free_us, &e) < 0)
			log_debug("consume: giving back lane slots: %s", e.message);
		b->g.count = 0;
	}
}

/* Book up to *k records on the limit group to start at wall-clock at:
 * just before it (group_lead_us), not when the pipeline's slots were
 * claimed, which can be a whole lane period ahead: a booking holds group
 * capacity from the moment it is written. 0 booked (*k: how many the group
 * had room for); 1 none, not before *nb (also set in b->not_before_us);
 * -1 the schedule failed; -2 the runtime exited. */
static int group_book(struct proxy *px, int *k, int64_t at, int64_t *nb)
{
	int64_t now = tp_now_us();
	if (at - px->group_lead_us > now && wait_watching(px, at - px->group_lead_us - now))
		return -2;
	now = tp_now_us();
	int booked = 0, rc = ggate_book(px->group, *k, at, &booked, nb);
	if (rc == 0)
		*k = booked;
	/* twice the booking's time, forgetting a slow one gradually (a booking
	 * that comes back after the slot is lost) */
	int64_t took = tp_now_us() - now, lead = px->group_lead_us - px->group_lead_us / 8;
	if (2 * took > lead)
		lead = 2 * took;
	px->group_lead_us = lead < CLAIM_LEAD_MIN_US ? CLAIM_LEAD_MIN_US : lead > CLAIM_LEAD_MAX_US ? CLAIM_LEAD_MAX_US : lead;
	if (rc == 1 && *nb > px->b.not_before_us)
		px->b.not_before_us = *nb;
	return rc;
}

/* What a limit-group booking for a start at `at` came to, on either path. */
enum booking {
	BOOK_GO,       /* booked (*k records), still in time to start */
	BOOK_REFUSED,  /* no room: not before *nb */
	BOOK_LATE,     /* booked, but back after at + late: given back, never started late */
	BOOK_STOP,     /* the runtime exited (-2) */
	BOOK_FAILED,   /* the group's schedule failed: group_failed() ran (1) */
};

/* Book up to whole_k records (*k: how many) on the limit group for at. */
static enum booking group_booking(struct proxy *px, int whole_k, int *k, int64_t at, int64_t late, int64_t *nb)
{
	*k = whole_k;
	int rc = group_book(px, k, at, nb);
	if (rc == -2)
		return BOOK_STOP;
	if (rc < 0) {
		group_failed(px);
		return BOOK_FAILED;
	}
	if (rc == 1)
		return BOOK_REFUSED;
	int64_t now = tp_now_us();
	if (now > at + late) {
		log_debug("consume: %s: the group's booking came %lld ms after the slot", px->b.id,
			  (long long)((now - at) / 1000));
		ggate_release(px->group, *k);
		return BOOK_LATE;
	}
	return BOOK_GO;
}

/* The next sub-batch (at most burst records from b->next), at its moment:
 * its slot on the shared schedule, else when this instance's bucket has
 * its tokens. 0: ready (b->from, b->count); 1: nothing left to run (the
 * rest went back to the queue); -2: the runtime exited. */
static int next_sub(struct proxy *px)
{
	struct batch *b = &px->b;
	if (b->next >= b->end)
		return 1;
	/* k: this sub-batch's records; fewer when the group has room for fewer */
	int whole_k = b->end - b->next < px->burst ? b->end - b->next : px->burst, k = whole_k;
	while (b->shared) {
		/* the next slot: f = configured / share slots after the last one
		 * (fractions carried, so the instance runs at its share) */
		int slot = b->used ? (int)ceil(b->last_pos + spacing_of(px) - 1e-9) : 0;
		if (slot >= b->g.count) {
			int rc = batch_claim(px);
			if (rc == -2 || rc == 0)
				return rc == 0 ? 1 : -2;
			if (rc < 0) {
				b->shared = 0;
				break;
			}
			continue;   /* a new grant: place the sub-batch in it */
		}
		int64_t at = b->g.first_us + (int64_t)slot * b->g.stride_us, now = tp_now_us();
		int64_t step = rsched_step_us(px->sched), late = step / 4 < LATE_US ? step / 4 : LATE_US;
		if (now > at + late) {
			/* The runtime (or the claim) took longer than the lane leaves:
			 * starting now would crowd another lane's slot. Skip to this
			 * grant's next slot still ahead, or book again past its end. */
			int skip = (int)((now - late - at + b->g.stride_us - 1) / b->g.stride_us);
			log_debug("consume: %s: slot missed by %lld ms: %d slot(s) skipped", b->id,
				  (long long)((now - at) / 1000), skip);
			b->last_pos = slot + skip - spacing_of(px);
			b->used = 1;
			continue;
		}
		if (at > b->latest_us) {   /* never start past the deadline less the reserve */
			log_warn("consume: %s: slot %lld ms past the deadline less the reserve", b->id,
				 (long long)((at - b->latest_us) / 1000));
			hand_back(px, b->next, b->end, at, b->g.stride_us, NULL);
			b->end = b->next;
			return 1;
		}
		if (px->group) {
			int64_t nb;
			enum booking bk = group_booking(px, whole_k, &k, at, late, &nb);
			if (bk == BOOK_STOP || bk == BOOK_FAILED)
				return bk == BOOK_STOP ? -2 : 1;
			if (bk == BOOK_REFUSED) {
				/* Skip to this grant's first slot at or after nb (booked
				 * slots left unused only slow this member), or claim
				 * again from nb past its end. */
				int j = (int)((nb - b->g.first_us + b->g.stride_us - 1) / b->g.stride_us);
				if (j >= b->g.count) {
					tp_err e = { 0 };
					if (rsched_release(px->sched, &b->g, at, &e) < 0)
						log_debug("consume: giving back lane slots: %s", e.message);
				}
				b->last_pos = j - spacing_of(px);
				b->used = 1;
				continue;
			}
			if (bk == BOOK_LATE) {
				b->last_pos = slot;
				b->used = 1;
				continue;
			}
			now = tp_now_us();
		}
		if (at > now && wait_watching(px, at - now))
			return -2;
		b->last_pos = b->used ? b->last_pos + spacing_of(px) : slot;
		b->used = 1;
		goto ready;
	}
	/* this instance's bucket (the pipeline's schedule is unavailable), and
	 * the limit group's schedule as on the shared path */
	int64_t at = tp_now_us() + pace_wait_us(&px->pace, k, tp_mono_us());
	if (at < b->not_before_us)
		at = b->not_before_us;
	for (;;) {
		if (at > b->latest_us) {
			hand_back(px, b->next, b->end, at, (int64_t)(px->burst / px->pace.share * 1e6), NULL);
			b->end = b->next;
			return 1;
		}
		if (!px->group)
			break;
		int64_t nb;
		enum booking bk = group_booking(px, whole_k, &k, at, LATE_US, &nb);
		if (bk == BOOK_STOP || bk == BOOK_FAILED)
			return bk == BOOK_STOP ? -2 : 1;
		if (bk == BOOK_GO)
			break;
		at = bk == BOOK_REFUSED ? nb : tp_now_us() + px->group_lead_us;
	}
	int64_t now = tp_now_us();
	if (at > now && wait_watching(px, at - now))
		return -2;
	pace_take(&px->pace, k, tp_mono_us());
ready:
	b->from = b->next;
	b->count = k;
	b->next += k;
	return 0;
}


/* A new event from upstream: the batch the runtime gets in sub-batches. */
static void batch_begin(struct proxy *px, const char *id, int64_t deadline_ms, const struct http_response *resp)
{
	struct batch *b = &px->b;
	b->active = 1;
	snprintf(b->id, sizeof b->id, "%s", id);
	b->raw = tp_xstrdup(buf_str(&resp->body));
	b->event = cJSON_ParseWithLength(b->raw, resp->body.len);
	b->sqs = cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(b->event, "Records"));
	b->n = b->end = consume_count_records(b->event);
	b->whole = b->n <= px->burst;
	b->failures = cJSON_CreateArray();
	answer_headers(resp, &b->headers);
	b->latest_us = deadline_ms > 0 ? (deadline_ms - px->reserve_ms) * 1000 : tp_now_us() + SHARED_MAX_HORIZON_US;
	b->shared = px->sched != NULL;
	pace_idle(&px->pace, tp_mono_us());
	b->used = 0;
	b->g.count = 0;
	set_current(px, id);
}

/* Post the batch's answer upstream: the merged batchItemFailures (for an
 * event that is not SQS, which can only have been handed back, an error). */
static void batch_answer(struct proxy *px, struct http_response *resp)
{
	struct batch *b = &px->b;
	char path[256];
	if (!b->sqs) {
		snprintf(path, sizeof path, "/2018-06-01/runtime/invocation/%s/error", b->id);
		post_error(px, path, "Taskpipe.RateLimited", "the rate limit leaves no time before the deadline");
		resp->rc = TP_EIO;
		return;
	}
	snprintf(path, sizeof path, "/2018-06-01/runtime/invocation/%s/response", b->id);
	cJSON *o = cJSON_CreateObject();
	cJSON_AddItemToObject(o, "batchItemFailures", cJSON_Duplicate(b->failures, 1));
	char *body = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	upstream(px, "POST", path, "Content-Type: application/json\n", body, strlen(body), 30000, resp);
	free(body);
}

/* GET /next for the runtime: the next sub-batch of the batch in hand at its
 * moment, else a new event from upstream. */
static void handle_next(struct proxy *px, struct conn *c, const struct request *r)
{
	struct batch *b = &px->b;
	px->child_asked_next = 1;
	for (;;) {
		if (!b->active) {
			struct http_response resp = { 0 };
			upstream(px, "GET", r->path, NULL, NULL, 0, -1, &resp);
			char id[128] = "", deadline[32] = "";
			http_header(&resp, "Lambda-Runtime-Aws-Request-Id", id, sizeof id);
			http_header(&resp, "Lambda-Runtime-Deadline-Ms", deadline, sizeof deadline);
			if (resp.rc != TP_OK || resp.status != 200 || !id[0] || !px->pacing) {
				if (resp.rc == TP_OK && resp.status == 200 && id[0])
					cm_started_body(&px->metrics, resp.body.data, resp.body.len, tp_now_ms());
				set_current(px, resp.status == 200 ? id : "");
				relay(c, &resp);
				http_response_free(&resp);
				return;
			}
			batch_begin(px, id, strtoll(deadline, NULL, 10), &resp);
			http_response_free(&resp);
		}
		int rc = next_sub(px);
		if (rc == -2)
			return;
		if (rc == 1) {   /* nothing (more) to run: answer for the whole batch */
			struct http_response ans = { 0 };
			batch_answer(px, &ans);
			http_response_free(&ans);
			batch_end(px);
			continue;
		}
		if (b->whole) {
			cm_started(&px->metrics, b->event, tp_now_ms());
			reply(c, 200, buf_str(&b->headers), b->raw, strlen(b->raw));
		} else {
			cJSON *sub = subbatch_event(b->event, b->from, b->count);
			cm_started(&px->metrics, sub, tp_now_ms());
			char *body = cJSON_PrintUnformatted(sub);
			reply(c, 200, buf_str(&b->headers), body, strlen(body));
			free(body);
			cJSON_Delete(sub);
		}
		return;
	}
}

/* The handler's "rateLimited" list: push each record back for its
 * retry-after (push_back: re-sent with that delay, else listed in
 * batchItemFailures with its visibility moved, at most 12 hours), drop the
 * field. Returns how many were rate-limited. */
static int apply_backpressure(struct proxy *px, cJSON *answer)
{
	struct batch *b = &px->b;
	cJSON *limited = cJSON_DetachItemFromObjectCaseSensitive(answer, "rateLimited");
	if (!limited)
		return 0;
	cJSON *failures = cJSON_GetObjectItemCaseSensitive(answer, "batchItemFailures");
	if (!cJSON_IsArray(failures)) {
		cJSON_DeleteItemFromObjectCaseSensitive(answer, "batchItemFailures");
		failures = cJSON_AddArrayToObject(answer, "batchItemFailures");
	}
	int n = cJSON_GetArraySize(limited), count = 0;
	const cJSON **recs = tp_xcalloc(n > 0 ? (size_t)n : 1, sizeof *recs);
	int *vis = tp_xcalloc(n > 0 ? (size_t)n : 1, sizeof *vis), *sent = tp_xcalloc(n > 0 ? (size_t)n : 1, sizeof *sent);
	const cJSON *it;
	cJSON_ArrayForEach(it, limited) {
		const cJSON *idj = cJSON_GetObjectItemCaseSensitive(it, "itemIdentifier");
		const cJSON *after = cJSON_GetObjectItemCaseSensitive(it, "retryAfterSeconds");
		const char *mid = cJSON_IsString(idj) ? idj->valuestring : NULL;
		const cJSON *rec = mid ? find_record(b->event, b->from, b->count, mid) : NULL;
		if (!rec) {
			log_warn("consume: rateLimited entry %.100s is not a record of this batch: ignored",
				 mid ? mid : "(no itemIdentifier)");
			continue;
		}
		recs[count] = rec;
		vis[count] = visibility_s(cJSON_IsNumber(after) ? after->valuedouble : 0);
		if (vis[count] > b->retry_after_s)
			b->retry_after_s = vis[count];
		count++;
	}
	push_back(px, recs, vis, count, failures, sent);
	/* a re-sent record is done here, also when the handler listed it as failed */
	for (int i = 0; i < count; i++) {
		const char *mid = cJSON_GetObjectItemCaseSensitive(recs[i], "messageId")->valuestring;
		for (int j = cJSON_GetArraySize(failures) - 1; sent[i] && j >= 0; j--) {
			const cJSON *f = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(failures, j), "itemIdentifier");
			if (cJSON_IsString(f) && strcmp(f->valuestring, mid) == 0)
				cJSON_DeleteItemFromArray(failures, j);
		}
	}
	free(recs);
	free(vis);
	free(sent);
	cJSON_Delete(limited);
	return count;
}

/* The tenant pushed back: the records of the batch not yet started go
 * back to the queue for the retry-after (re-sent, push_back), where every
 * instance can take them, instead of waiting here behind this instance's
 * lowered share; the lane's unused slots are given back. */
static void release_rest(struct proxy *px)
{
	struct batch *b = &px->b;
	int64_t now = tp_now_us();
	hand_back(px, b->next, b->end, now + (int64_t)b->retry_after_s * 1000000, 0, "wait behind the tenant's pushback");
	b->end = b->next;
	if (b->shared && b->g.count > 0) {
		int64_t free_us = b->g.first_us + (int64_t)((int)b->last_pos + 1) * b->g.stride_us;
		tp_err e = { 0 };
		if (rsched_release(px->sched, &b->g, free_us, &e) < 0)
			log_debug("consume: giving back lane slots: %s", e.message);
		b->g.count = 0;
	}
}

/* The runtime's answer for the sub-batch it held: with the whole event in
 * one sub-batch it goes upstream as it is (rateLimited rewritten); else it
 * is merged, and the last one sends the batch's answer upstream. Until
 * then the runtime gets Lambda's own 202 and asks /next again. */
static void handle_response(struct proxy *px, struct conn *c, const struct request *r)
{
	struct batch *b = &px->b;
	cJSON *answer = cJSON_ParseWithLength(r->body, r->body_len);
	int limited = 0;
	char *rewritten = NULL;
	b->retry_after_s = 0;
	if (cJSON_IsObject(answer) && cJSON_GetObjectItemCaseSensitive(answer, "rateLimited")) {
		limited = apply_backpressure(px, answer);
		rewritten = cJSON_PrintUnformatted(answer);
	}
	/* AIMD per record: the accepted ones first, then the pushed back */
	int64_t mono = tp_mono_us();
	for (int i = limited; i < b->count; i++)
		pace_feedback(&px->pace, 0, mono);
	for (int i = 0; i < limited; i++)
		pace_feedback(&px->pace, 1, mono);
	if (limited)
		log_warn("consume: %d record(s) rate-limited by the handler: share now %.3f/s", limited, px->pace.share);
	struct http_response resp = { 0 };
	if (b->whole) {
		upstream(px, "POST", r->path, buf_str(&r->headers_fwd), rewritten ? rewritten : r->body,
			 rewritten ? strlen(rewritten) : r->body_len, 30000, &resp);
		batch_end(px);
	} else {
		subbatch_merge(b->failures, answer, b->event, b->from, b->count);
		if (limited && b->next < b->end)
			release_rest(px);
		if (b->next < b->end) {
			static const char ok[] = "{\"status\":\"OK\"}";
			reply(c, 202, "Content-Type: application/json\r\n", ok, sizeof ok - 1);
			cJSON_Delete(answer);
			free(rewritten);
			return;
		}
		batch_answer(px, &resp);
		batch_end(px);
	}
	cJSON_Delete(answer);
	relay(c, &resp);
	http_response_free(&resp);
	free(rewritten);
}

/* The runtime reported an error for a sub-batch (a handler exception): its
 * records fail, the other sub-batches go on. */
static void handle_sub_error(struct proxy *px, struct conn *c, const struct request *r)
{
	struct batch *b = &px->b;
	log_warn("consume: %s: the runtime failed records %d..%d: %.*s", b->id, b->from, b->from + b->count - 1,
		 (int)(r->body_len < 200 ? r->body_len : 200), r->body);
	subbatch_fail(b->failures, b->event, b->from, b->count);
	if (b->next < b->end) {
		static const char ok[] = "{\"status\":\"OK\"}";
		reply(c, 202, "Content-Type: application/json\r\n", ok, sizeof ok - 1);
		return;
	}
	struct http_response resp = { 0 };
	batch_answer(px, &resp);
	batch_end(px);
	relay(c, &resp);
	http_response_free(&resp);
}

/* "/2018-06-01/runtime/invocation/ID/KIND" -> ID and KIND. */
static int invocation_path(const char *path, char *id, size_t id_len, char *kind, size_t kind_len)
{
	const char *pre = "/2018-06-01/runtime/invocation/";
	if (!tp_startswith(path, pre))
		return 0;
	const char *s = path + strlen(pre), *slash = strchr(s, '/');
	if (!slash || slash == s || (size_t)(slash - s) >= id_len)
		return 0;
	snprintf(id, id_len, "%.*s", (int)(slash - s), s);
	snprintf(kind, kind_len, "%s", slash + 1);
	return 1;
}

static void handle(struct proxy *px, struct conn *c, const struct request *r)
{
	char id[128], kind[32];
	int inv = invocation_path(r->path, id, sizeof id, kind, sizeof kind);
	if (strcmp(r->method, "GET") == 0 && strcmp(r->path, "/2018-06-01/runtime/invocation/next") == 0) {
		handle_next(px, c, r);
		return;
	}
	int mine = inv && px->cur_id[0] && strcmp(id, px->cur_id) == 0;
	if (mine && strcmp(r->method, "POST") == 0)
		cm_answer(&px->metrics, kind, r->body, r->body_len, tp_now_ms());
	int batch = mine && px->b.active && strcmp(r->method, "POST") == 0;
	if (batch && strcmp(kind, "response") == 0) {
		handle_response(px, c, r);
		return;
	}
	if (batch && strcmp(kind, "error") == 0 && !px->b.whole) {
		handle_sub_error(px, c, r);
		return;
	}
	struct http_response resp = { 0 };
	upstream(px, r->method, r->path, buf_str(&r->headers_fwd), r->body, r->body_len, 30000, &resp);
	if (mine && (strcmp(kind, "response") == 0 || strcmp(kind, "error") == 0)) {
		if (px->b.active)
			batch_end(px);
		set_current(px, NULL);
	}
	relay(c, &resp);
	http_response_free(&resp);
}

/* Read what is there and serve every complete request. 0, or -1 to close. */
static int serve(struct proxy *px, struct conn *c)
{
	char tmp[65536];
	ssize_t n = read(c->fd, tmp, sizeof tmp);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n <= 0)
		return -1;
	buf_add(&c->in, tmp, (size_t)n);
	for (;;) {
		struct request r = { 0 };
		int p = parse_request(c, &r);
		if (p <= 0) {
			buf_free(&r.headers_fwd);
			buf_free(&r.chunked);
			return p < 0 ? -1 : 0;
		}
		handle(px, c, &r);
		cm_flush(&px->metrics, tp_now_ms(), 0);
		int close_it = r.close;
		size_t rest = c->in.len - r.consumed;
		memmove(c->in.data, c->in.data + r.consumed, rest);
		c->in.len = rest;
		c->in.data[rest] = 0;
		c->sent_continue = 0;
		buf_free(&r.headers_fwd);
		buf_free(&r.chunked);
		if (close_it || px->exit_code >= 0)
			return -1;
	}
}

static int listen_local(int *port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof a;
	if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 16) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
		close(fd);
		return -1;
	}
	*port = ntohs(a.sin_port);
	return fd;
}

static void init_fail(struct proxy *px, const char *msg)
{
	log_error("consume: %s", msg);
	post_error(px, "/2018-06-01/runtime/init/error", "Runtime.InitError", msg);
}

int cmd_consume(int argc, char **argv)
{
	int first = 1;
	if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		fputs(usage, stdout);
		return 0;
	}
	if (argc > 1 && strcmp(argv[1], "--") == 0)
		first = 2;
	struct proxy px = { .exit_code = -1, .reserve_ms = DEFAULT_RESERVE_MS, .claim_lead_us = CLAIM_LEAD_MIN_US };
	cm_init(&px.metrics);
	const char *api = getenv("AWS_LAMBDA_RUNTIME_API");
	if (!api || !api[0]) {
		fputs("taskpipe consume: AWS_LAMBDA_RUNTIME_API is not set (not running inside Lambda?)\n", stderr);
		return 1;
	}
	snprintf(px.upstream, sizeof px.upstream, "http://%s", api);
	tp_err e = { 0 };
	if (http_client_new(NULL, &px.http, &e) < 0) {
		log_error("consume: %s", e.message);
		return 1;
	}
	int code = 1;
	char why[400], handler[1024];
	char *default_cmd[2] = { handler, NULL };
	char **cmd = argv + first;
	if (first >= argc) {
		const char *root = getenv("LAMBDA_TASK_ROOT"), *h = getenv("_HANDLER");
		if (!h || !h[0]) {
			init_fail(&px, "no command and no _HANDLER: nothing to start");
			goto out;
		}
		snprintf(handler, sizeof handler, "%s/%s", root && root[0] ? root : ".", h);
		cmd = default_cmd;
	}
	const char *rate = getenv("TASKPIPE_RATE");
	struct ggate_conf group;
	int grouped = ggate_parse(getenv("TASKPIPE_LIMIT_GROUP"), getenv("TASKPIPE_LIMIT_GROUP_RATE"),
				  getenv("TASKPIPE_LIMIT_GROUP_BURST"), rate, getenv("TASKPIPE_RATE_TABLE"), &group, why,
				  sizeof why);
	if (grouped < 0) {
		init_fail(&px, why);
		goto out;
	}
	if (rate && rate[0]) {
		double share;
		if (pace_parse(rate, getenv("TASKPIPE_CONCURRENCY"), &share, why, sizeof why) < 0) {
			init_fail(&px, why);
			goto out;
		}
		pace_init(&px.pace, share);
		px.pacing = 1;
		const char *burst = getenv("TASKPIPE_BURST"), *conc = getenv("TASKPIPE_CONCURRENCY");
		char *end;
		long b = burst && burst[0] ? strtol(burst, &end, 10) : 1;
		if (burst && burst[0] && (*end || b < 1 || b > MAX_BURST)) {
			snprintf(why, sizeof why, "TASKPIPE_BURST must be an integer 1..%d (got '%.40s')", MAX_BURST, burst);
			init_fail(&px, why);
			goto out;
		}
		/* a sub-batch is one booking on each schedule: at most both bursts */
		px.burst = grouped && group.burst < b ? group.burst : (int)b;
		if (grouped && !(px.group = ggate_new(&group, getenv("TASKPIPE_RATE_TABLE")))) {
			init_fail(&px, "the limit group's schedule client could not be made");
			goto out;
		}
		px.group_lead_us = CLAIM_LEAD_MIN_US;
		long lanes = conc && conc[0] ? strtol(conc, NULL, 10) : 1;
		px.lanes = (int)lanes;
		const char *table = getenv("TASKPIPE_RATE_TABLE"), *fn = getenv("AWS_LAMBDA_FUNCTION_NAME");
		if (table && table[0] && (!fn || !fn[0])) {
			log_error("consume: TASKPIPE_RATE_TABLE is set but AWS_LAMBDA_FUNCTION_NAME is not: "
				  "pacing at this instance's share");
		} else if (table && table[0]) {
			char pk[200];
			snprintf(pk, sizeof pk, "rate#%s", fn);
			struct rsched_opts so = { .table = table, .pk = pk, .rate = strtod(rate, NULL), .burst = px.burst,
						  .lanes = (int)lanes,
						  .seed = (uint64_t)tp_now_us() ^ ((uint64_t)getpid() << 32) };
			if (rsched_new(&so, &px.sched, &e) < 0) {
				log_error("consume: shared rate schedule: %s: pacing at this instance's share", e.message);
				px.sched = NULL;
			}
		}
	}
	const char *res = getenv("TASKPIPE_DEADLINE_RESERVE_MS");
	if (res && res[0])
		px.reserve_ms = strtoll(res, NULL, 10) > 0 ? strtoll(res, NULL, 10) : 0;

	int port, lfd = listen_local(&port);
	if (lfd < 0) {
		snprintf(why, sizeof why, "cannot listen on 127.0.0.1: %s", strerror(errno));
		init_fail(&px, why);
		goto out;
	}
	signal(SIGPIPE, SIG_IGN);
	struct sigaction sa = { .sa_handler = forward_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (spawn(&px, cmd, port, why, sizeof why) < 0) {
		init_fail(&px, why);
		close(lfd);
		goto out;
	}
	if (px.pacing)
		log_info("consume: pid %d on 127.0.0.1:%d, %s %.4f tasks/s, sub-batches of %d", (int)px.child, port,
			 px.sched ? "shared schedule, share if it fails" : "share", px.pace.share, px.burst);
	if (px.group)
		log_info("consume: limit group %s: %g tasks/s, burst %d, item limit#%s", group.name, group.rate,
			 group.burst, group.name);

	struct conn conns[MAX_CONNS];
	int nconns = 0;
	while (!check_child(&px)) {
		struct pollfd pfd[MAX_CONNS + 1];
		pfd[0] = (struct pollfd){ .fd = lfd, .events = nconns < MAX_CONNS ? POLLIN : 0 };
		for (int i = 0; i < nconns; i++)
			pfd[i + 1] = (struct pollfd){ .fd = conns[i].fd, .events = POLLIN };
		int n = poll(pfd, (nfds_t)nconns + 1, 100);
		if (n <= 0)
			continue;
		if (pfd[0].revents & POLLIN) {
			int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
			if (fd >= 0)
				conns[nconns++] = (struct conn){ .fd = fd };
		}
		for (int i = nconns - 1; i >= 0; i--) {
			if (!pfd[i + 1].revents || serve(&px, &conns[i]) == 0)
				continue;
			close(conns[i].fd);
			buf_free(&conns[i].in);
			conns[i] = conns[--nconns];
		}
	}
	for (int i = 0; i < nconns; i++) {
		close(conns[i].fd);
		buf_free(&conns[i].in);
	}
	close(lfd);
	code = px.exit_code;
out:
	batch_end(&px);
	cm_exit(&px.metrics, tp_now_ms());
	rsched_free(px.sched);
	ggate_free(px.group);
	aws_free(px.aws);
	http_client_free(px.http);
	return code;
}
