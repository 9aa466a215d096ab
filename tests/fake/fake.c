/* fake.c: the fake AWS's transport, simulated clock, router, quotas and
 * counters (fake.h). Services live in fake_<service>.c. */
#include "fake/fake_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aws/aws.h"

#define DEFAULT_START_MS 1767225600000LL /* 2026-01-01T00:00:00Z */

struct fake_quota {
	struct fake_quota *next;
	char cls[64];
	double tokens;
	int64_t at_us;              /* when tokens was last filled */
};

struct fake_counter {
	struct fake_counter *next;
	char service[16];
	char op[64];
	long n, throttled;
};

/* A request in flight: answered when the clock reaches due_us. */
struct fake_flight {
	struct fake_flight *next;
	int64_t due_us;
	long seq;                   /* ties end in the order sent */
	char *url, *method, *body;
	size_t body_len;
	char **headers;
	size_t n_headers;
	struct http_response *resp;
	http_sink_fn sink;          /* a 2xx body goes here instead of resp->body */
	void *sink_ctx;
	aws_transport_done_fn done;
	void *done_ctx;
};

static long flight_seq;
static struct fake *default_owner; /* fake_attach_all's */

struct fake *fake_new(const struct fake_options *o)
{
	struct fake *f = tp_xcalloc(1, sizeof *f);
	if (o)
		f->opt = *o;
	if (f->opt.latency_ms == 0)
		f->opt.latency_ms = 20;
	if (f->opt.latency_ms < 0)
		f->opt.latency_ms = 0;
	if (f->opt.account_concurrency == 0)
		f->opt.account_concurrency = 1000;
	if (f->opt.start_ms == 0)
		f->opt.start_ms = DEFAULT_START_MS;
	f->rng = f->opt.seed ? f->opt.seed : 1;
	snprintf(f->account, sizeof f->account, "123456789012");
	snprintf(f->region, sizeof f->region, "us-east-1");
	return f;
}

static void flight_free(struct fake_flight *fl)
{
	free(fl->url);
	free(fl->method);
	free(fl->body);
	for (size_t i = 0; i < fl->n_headers; i++)
		free(fl->headers[i]);
	free(fl->headers);
	free(fl);
}

void fake_free(struct fake *f)
{
	if (!f)
		return;
	if (f->clock_installed)
		tp_set_clock(NULL);
	if (default_owner == f) {
		aws_set_default_transport(NULL);
		default_owner = NULL;
	}
	fake_ddb_free(f->ddb);
	fake_sqs_free(f->sqs);
	fake_lambda_free(f->lambda);
	fake_s3_free(f->s3);
	fake_tagging_free(f->tagging);
	fake_cloudwatch_free(f->cw);
	fake_iam_free(f->iam);
	for (struct fake_quota *q = f->quotas, *n; q; q = n) {
		n = q->next;
		free(q);
	}
	for (struct fake_counter *c = f->counters, *n; c; c = n) {
		n = c->next;
		free(c);
	}
	for (struct fake_flight *fl = f->flights, *n; fl; fl = n) {
		n = fl->next;
		flight_free(fl);
	}
	free(f);
}

/* ---- the clock ---- */

static int64_t clock_mono_us(void *ctx) { return ((struct fake *)ctx)->mono_us; }
static int64_t clock_now_us(void *ctx)
{
	struct fake *f = ctx;
	return f->opt.start_ms * 1000 + f->mono_us;
}
static void clock_sleep_ms(void *ctx, int64_t ms) { fake_advance_ms(ctx, ms); }

void fake_use_clock(struct fake *f)
{
	struct tp_clock c = { clock_now_us, clock_mono_us, clock_sleep_ms, f };
	tp_set_clock(&c);
	f->clock_installed = 1;
}

int64_t fake_now_ms(const struct fake *f) { return f->opt.start_ms + f->mono_us / 1000; }
int64_t fake_now_ms_int(const struct fake *f) { return fake_now_ms(f); }
int64_t fake_elapsed_ms(const struct fake *f) { return f->mono_us / 1000; }

void fake_advance_ms(struct fake *f, int64_t ms)
{
	if (ms > 0)
		f->mono_us += ms * 1000;
}

uint64_t fake_rand(struct fake *f)
{
	uint64_t x = f->rng;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	f->rng = x;
	return x * 0x2545F4914F6CDD1DULL;
}

/* ---- counters and quotas ---- */

static struct fake_counter *counter(struct fake *f, const char *service, const char *op)
{
	for (struct fake_counter *c = f->counters; c; c = c->next)
		if (strcmp(c->service, service) == 0 && strcmp(c->op, op) == 0)
			return c;
	struct fake_counter *c = tp_xcalloc(1, sizeof *c);
	snprintf(c->service, sizeof c->service, "%s", service);
	snprintf(c->op, sizeof c->op, "%s", op);
	c->next = f->counters;
	f->counters = c;
	return c;
}

static long count_where(const struct fake *f, const char *service, const char *op, int throttled)
{
	long n = 0;
	for (const struct fake_counter *c = f->counters; c; c = c->next)
		if ((!service || strcmp(c->service, service) == 0) && (!op || strcmp(c->op, op) == 0))
			n += throttled ? c->throttled : c->n;
	return n;
}

long fake_count(const struct fake *f, const char *service, const char *op)
{
	return count_where(f, service, op, 0);
}

long fake_throttled(const struct fake *f, const char *service, const char *op)
{
	return count_where(f, service, op, 1);
}

void fake_dump_counts(const struct fake *f)
{
	for (const struct fake_counter *c = f->counters; c; c = c->next)
		fprintf(stderr, "fake: %-10s %-36s %8ld (throttled %ld)\n", c->service, c->op, c->n,
			c->throttled);
}

int fake_quota(struct fake *f, const char *cls, double rate, double burst, int64_t *retry_after_ms)
{
	*retry_after_ms = 0;
	if (f->opt.throttle_pct > 0 && (int)(fake_rand(f) % 100) < f->opt.throttle_pct) {
		*retry_after_ms = 1000;
		return 1;
	}
	if (!f->opt.quotas)
		return 0;
	struct fake_quota *q = f->quotas;
	while (q && strcmp(q->cls, cls) != 0)
		q = q->next;
	if (!q) {
		q = tp_xcalloc(1, sizeof *q);
		snprintf(q->cls, sizeof q->cls, "%s", cls);
		q->tokens = burst;
		q->at_us = f->mono_us;
		q->next = f->quotas;
		f->quotas = q;
	}
	q->tokens += (double)(f->mono_us - q->at_us) / 1e6 * rate;
	if (q->tokens > burst)
		q->tokens = burst;
	q->at_us = f->mono_us;
	if (q->tokens >= 1.0) {
		q->tokens -= 1.0;
		return 0;
	}
	/* AWS says when to come back in whole seconds; at least 1. */
	int64_t ms = (int64_t)((1.0 - q->tokens) / rate * 1000.0) + 1;
	*retry_after_ms = (ms + 999) / 1000 * 1000;
	return 1;
}

/* ---- answers ---- */

void fake_reply_json(struct http_response *out, long status, cJSON *body)
{
	out->status = status;
	buf_adds(&out->headers, "Content-Type: application/json\r\nx-amzn-RequestId: fake-req\r\n");
	char *s = body ? cJSON_PrintUnformatted(body) : NULL;
	buf_adds(&out->body, s ? s : "{}");
	free(s);
	cJSON_Delete(body);
}

void fake_reply_error(struct http_response *out, long status, const char *type, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	buf_reset(&out->headers);
	buf_reset(&out->body);
	out->status = status;
	buf_addf(&out->headers, "Content-Type: application/json\r\nx-amzn-RequestId: fake-req\r\n"
		 "x-amzn-ErrorType: %s\r\n", type);
	cJSON *b = cJSON_CreateObject();
	cJSON_AddStringToObject(b, "__type", type);
	cJSON_AddStringToObject(b, "message", msg);
	char *s = cJSON_PrintUnformatted(b);
	buf_adds(&out->body, s);
	free(s);
	cJSON_Delete(b);
}

void fake_reply_throttled(struct fake *f, struct fake_req *r, struct http_response *out,
			  const char *type, int64_t retry_after_ms)
{
	int lambda = strcmp(r->service, "lambda") == 0;
	fake_reply_error(out, lambda ? 429 : 400, type, "Rate exceeded");
	buf_addf(&out->headers, "Retry-After: %lld\r\n", (long long)((retry_after_ms + 999) / 1000));
	counter(f, r->service, r->op)->throttled++;
}

/* ---- requests ---- */

const char *fake_header(const struct fake_req *r, const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; i < r->n_headers; i++) {
		const char *h = r->headers[i];
		if (strncasecmp(h, name, n) == 0 && h[n] == ':') {
			h += n + 1;
			while (*h == ' ')
				h++;
			return h;
		}
	}
	return NULL;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int fake_query_param(const struct fake_req *r, const char *name, char *out, size_t len)
{
	size_t n = strlen(name);
	for (const char *p = r->query; p && *p;) {
		const char *amp = strchr(p, '&');
		const char *end = amp ? amp : p + strlen(p);
		if ((size_t)(end - p) > n && strncmp(p, name, n) == 0 && p[n] == '=') {
			size_t o = 0;
			for (const char *s = p + n + 1; s < end && o + 1 < len; s++) {
				if (*s == '%' && s + 2 < end + 0 + 1 && hexval(s[1]) >= 0 && hexval(s[2]) >= 0) {
					out[o++] = (char)(hexval(s[1]) * 16 + hexval(s[2]));
					s += 2;
				} else {
					out[o++] = *s == '+' ? ' ' : *s;
				}
			}
			out[o] = 0;
			return 1;
		}
		p = amp ? amp + 1 : end;
	}
	if (len)
		out[0] = 0;
	return 0;
}

/* The service of the credential scope: Credential=AKID/date/region/service/aws4_request. */
static void scope_of(struct fake *f, const struct fake_flight *fl, char *service, size_t len)
{
	service[0] = 0;
	for (size_t i = 0; i < fl->n_headers; i++) {
		const char *c = strncasecmp(fl->headers[i], "Authorization:", 14) == 0 ?
			strstr(fl->headers[i], "Credential=") : NULL;
		if (!c)
			continue;
		char parts[5][32] = { { 0 } };
		const char *p = c + 11;
		for (int k = 0; k < 5 && *p && *p != ','; k++) {
			size_t m = strcspn(p, "/,");
			snprintf(parts[k], sizeof parts[k], "%.*s", (int)m, p);
			p += m;
			if (*p == '/')
				p++;
		}
		snprintf(f->region, sizeof f->region, "%s", parts[2]);
		snprintf(service, len, "%s", parts[3]);
		return;
	}
}

static void answer(struct fake *f, struct fake_flight *fl)
{
	struct http_response *out = fl->resp;
	char service[32], path[2048];
	scope_of(f, fl, service, sizeof service);
	/* url: scheme://host/path?query */
	const char *u = strstr(fl->url, "://");
	u = u ? strchr(u + 3, '/') : NULL;
	snprintf(path, sizeof path, "%s", u ? u : "/");
	char *q = strchr(path, '?');
	if (q)
		*q++ = 0;
	struct fake_req r = {
		.service = service, .method = fl->method, .path = path, .query = q ? q : "",
		.body = fl->body, .body_len = fl->body_len,
		.headers = (const char *const *)fl->headers, .n_headers = fl->n_headers,
	};
	const char *t = fake_header(&r, "X-Amz-Target");
	r.target = t ? t : "";
	const char *dot = strrchr(r.target, '.');
	snprintf(r.op, sizeof r.op, "%s", dot ? dot + 1 : r.target);
	if (f->hook && f->hook(f->hook_ctx, &r, out)) {
		counter(f, service, r.op[0] ? r.op : "?")->n++;
		return;
	}
	if (f->iam && fake_iam_authorize(f, &r, out)) {
		counter(f, service, r.op[0] ? r.op : "?")->n++;
		return;
	}
	if (strcmp(service, "dynamodb") == 0)
		fake_ddb_handle(f, &r, out);
	else if (strcmp(service, "sqs") == 0)
		fake_sqs_handle(f, &r, out);
	else if (strcmp(service, "lambda") == 0)
		fake_lambda_handle(f, &r, out);
	else if (strcmp(service, "s3") == 0)
		fake_s3_handle(f, &r, out);
	else if (strcmp(service, "tagging") == 0)
		fake_tagging_handle(f, &r, out);
	else if (strcmp(service, "monitoring") == 0)
		fake_cloudwatch_handle(f, &r, out);
	else
		fake_reply_error(out, 400, "UnknownServiceException", "the fake has no service '%s'", service);
	counter(f, service, r.op[0] ? r.op : "?")->n++;
}

/* ---- the transport ---- */

static int fake_send(void *ctx, const struct http_request *req, struct http_response *resp,
		     aws_transport_done_fn done, void *done_ctx)
{
	struct fake *f = ctx;
	struct fake_flight *fl = tp_xcalloc(1, sizeof *fl);
	fl->url = tp_xstrdup(req->url);
	fl->method = tp_xstrdup(req->method);
	fl->body = tp_xmalloc(req->body_len + 1);
	if (req->body_len)
		memcpy(fl->body, req->body, req->body_len);
	fl->body[req->body_len] = 0;
	fl->body_len = req->body_len;
	fl->headers = tp_xcalloc(req->n_headers + 1, sizeof *fl->headers);
	for (size_t i = 0; i < req->n_headers; i++)
		fl->headers[i] = tp_xstrdup(req->headers[i]);
	fl->n_headers = req->n_headers;
	fl->resp = resp;
	fl->sink = req->sink;
	fl->sink_ctx = req->sink_ctx;
	fl->done = done;
	fl->done_ctx = done_ctx;
	fl->due_us = f->mono_us + (int64_t)f->opt.latency_ms * 1000;
	fl->seq = flight_seq++;
	/* keep the list ordered by (due, seq) */
	struct fake_flight **pp = &f->flights;
	while (*pp && ((*pp)->due_us < fl->due_us ||
		       ((*pp)->due_us == fl->due_us && (*pp)->seq < fl->seq)))
		pp = &(*pp)->next;
	fl->next = *pp;
	*pp = fl;
	return 0;
}

/* A 2xx body to the request's sink, as http.c streams it (errors stay buffered). */
static void deliver(struct fake_flight *fl)
{
	struct http_response *out = fl->resp;
	if (!fl->sink || out->status < 200 || out->status > 299 || out->rc != TP_OK)
		return;
	if (out->body.len && fl->sink(fl->sink_ctx, out->body.data, out->body.len) < 0) {
		out->rc = TP_EIO;
		snprintf(out->error, sizeof out->error, "the sink refused the body");
	}
	buf_reset(&out->body);
}

static int fake_poll(void *ctx, long timeout_ms)
{
	struct fake *f = ctx;
	int64_t until = f->mono_us + (int64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000;
	if (f->flights && f->flights->due_us <= until) {
		if (f->flights->due_us > f->mono_us)
			f->mono_us = f->flights->due_us;
		/* everything due now ends, in order */
		while (f->flights && f->flights->due_us <= f->mono_us) {
			struct fake_flight *fl = f->flights;
			f->flights = fl->next;
			answer(f, fl);
			deliver(fl);
			fl->done(fl->done_ctx, fl->resp);
			flight_free(fl);
		}
	} else {
		f->mono_us = until;
	}
	int n = 0;
	for (struct fake_flight *fl = f->flights; fl; fl = fl->next)
		n++;
	return n;
}

void fake_attach(struct fake *f, struct aws *a)
{
	struct aws_transport t = { fake_send, fake_poll, f };
	aws_set_transport(a, &t);
}

struct aws *fake_client(struct fake *f, const char *access_key, const struct aws_options *o)
{
	setenv("AWS_ACCESS_KEY_ID", access_key, 1);
	setenv("AWS_SECRET_ACCESS_KEY", "secret", 1);
	unsetenv("AWS_SESSION_TOKEN");
	unsetenv("AWS_PROFILE");
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	setenv("AWS_ENDPOINT_URL", "http://fake.invalid", 1);
	struct aws *a = NULL;
	tp_err e = { 0 };
	if (aws_new(o, &a, &e) < 0) {
		fprintf(stderr, "fake_client: %s: %s\n", e.code, e.message);
		abort();
	}
	fake_attach(f, a);
	return a;
}

void fake_attach_all(struct fake *f)
{
	struct aws_transport t = { fake_send, fake_poll, f };
	aws_set_default_transport(&t);
	default_owner = f;
}

void fake_set_hook(struct fake *f, fake_hook_fn fn, void *ctx)
{
	f->hook = fn;
	f->hook_ctx = ctx;
}

/* ---- for the fleet bench (tests/bench/fleet_sim.c) ---- */

void fake_transport(struct fake *f, struct aws_transport *out)
{
	*out = (struct aws_transport){ fake_send, fake_poll, f };
}

void fake_each_count(const struct fake *f, fake_count_fn fn, void *ctx)
{
	for (const struct fake_counter *c = f->counters; c; c = c->next)
		fn(ctx, c->service, c->op, c->n, c->throttled);
}
