/* aws.c: one signed AWS request, or many at once: endpoint resolution,
 * SigV4 headers, the standard retry mode, client-side budgets, statistics.
 * Protocol-specific encoding of bodies is the service files' business;
 * this file only knows which headers each protocol needs. */
#include "aws/aws.h"
#include "base/settings_table.h"

#include "aws/awserr.h"
#include "aws/budget.h"
#include "aws/creds.h"
#include "base/hash.h"
#include "aws/http.h"
#include "base/log.h"
#include "base/retry.h"
#include "aws/sigv4.h"
#include "base/version.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { BUDGET_NONE = -1, BUDGET_LAMBDA = AWS_BUDGET_LAMBDA, BUDGET_LAMBDA_GET = AWS_BUDGET_LAMBDA_GET,
       BUDGET_COUNT };

/* Tokens used per class in half-second windows: sizes the next claim. */
struct usage {
	int64_t since;     /* start of the current window (monotonic ms) */
	int cur, prev;
};

#define SCRATCH_LEN 16384
#define AWS_MAX_RESPONSE (10u << 20)
#define SINK_TIMEOUT_FACTOR 10   /* a streamed object may take longer than one API answer */

struct aws {
	struct aws_options opt;
	char region[64];
	char endpoint[SVC_COUNT][512];        /* resolved once per service */
	int endpoint_ok[SVC_COUNT];
	struct http_client *http;
	struct aws_transport tr;              /* where requests go (aws_set_transport); default http */
	struct creds_provider *creds;
	struct budget budgets[BUDGET_COUNT];
	/* The account-wide budget, when a source is set (budget_shared.c). */
	aws_budget_claim_fn claim;
	void *claim_ctx;
	double claim_rate[BUDGET_COUNT];
	struct budget_grant grants[BUDGET_COUNT];
	int64_t claim_after[BUDGET_COUNT];    /* monotonic ms: no claim before */
	int64_t shared_after;                 /* monotonic ms: after a failed claim, local until then */
	int claim_warned;
	struct usage usage[BUDGET_COUNT];
	int waiting[BUDGET_COUNT];            /* calls due and waiting for a token */
	long throttled;
	long throttled_other;                 /* throttles of the other services */
	int64_t deadline_ms;                  /* epoch ms: no throttle retry past it; 0: none */
	long lambda_retries;
	struct retry_quota quota;
	struct sigv4_key_cache key_cache;     /* derived signing key, reused for a day */
	unsigned rng;                         /* xorshift state for jitter */
	struct aws_stat *stats;               /* grown as operations appear */
	size_t n_stats, cap_stats;
	long lambda_requests;
	long mutating_requests;
	aws_tick_fn tick;                     /* progress display (aws_set_tick) */
	void *tick_ctx;
};

/* One attempt on the wire: allocated when a call starts, freed when its
 * answer is in, so a call waiting for its turn costs only its pending. */
struct flight {
	char *url;
	char *hdr[12];             /* "Name: value" strings sent */
	size_t n_hdr;
	struct http_request req;
	struct http_response resp;
};

enum { P_WAITING = 0, P_IN_FLIGHT = 1, P_DONE = 2 };

/* Per-call bookkeeping while a batch runs. */
struct pending {
	struct batch *b;
	struct aws_call *call;
	struct flight *fl;         /* the attempt in flight (NULL between attempts) */
	int64_t not_before;        /* monotonic ms */
	int cost_taken;            /* retry quota taken by this call */
	signed char state;         /* P_WAITING, P_IN_FLIGHT, P_DONE */
	signed char bc;            /* budget class (BUDGET_NONE: unmetered) */
	char refreshed_creds;      /* retried once after an expired token */
};

/* A batch's state, kept up to date as calls change state, so a loop turn
 * costs the calls it starts plus the few waiting to retry, never all n. */
struct batch {
	struct aws *a;
	struct pending *ps;
	size_t *order;             /* call indices by budget class, each class in index order */
	size_t head[BUDGET_COUNT + 1];  /* per class (bc + 1): first never started, in order[] */
	size_t end[BUDGET_COUNT + 1];
	size_t *retry;             /* started calls waiting again (a retry), SIZE_MAX: gone */
	size_t n_retry, cap_retry;
	size_t in_flight, done;
};

static const char *mutating_prefixes[] = {
	"Create", "Update", "Put", "Delete", "Tag", "Untag", "Set", "Publish", "Add",
	"Remove", "Send", "Purge", "Start", "Subscribe", "Unsubscribe", NULL,
};

int aws_op_is_mutating(const char *op)
{
	for (int i = 0; mutating_prefixes[i]; i++)
		if (tp_startswith(op, mutating_prefixes[i]))
			return 1;
	return 0;
}

static int env_int(const char *name, int fallback)
{
	const char *v = getenv(name);
	int n = v ? atoi(v) : 0;
	return n > 0 ? n : fallback;
}

int aws_new(const struct aws_options *opts, struct aws **out, tp_err *e)
{
	struct aws *a = tp_xcalloc(1, sizeof *a);
	if (opts)
		a->opt = *opts;
	int rc;
	if (a->opt.region && *a->opt.region)
		snprintf(a->region, sizeof a->region, "%s", a->opt.region);
	else if ((rc = awsconf_region(a->region, sizeof a->region, e)) < 0)
		goto fail;
	if (a->opt.max_in_flight <= 0)
		a->opt.max_in_flight = 16;
	/* The SDKs' AWS_MAX_ATTEMPTS, and two knobs of ours for operators and tests. */
	if (a->opt.max_attempts <= 0)
		a->opt.max_attempts = env_int("AWS_MAX_ATTEMPTS", 0);
	if (a->opt.timeout_ms <= 0)
		a->opt.timeout_ms = (int)setting_long_or_warn(SET_TIMEOUT_MS);
	if (a->opt.retry_quota <= 0)
		a->opt.retry_quota = (int)setting_long_or_warn(SET_RETRY_QUOTA);
	struct http_options ho = { 0 };
	ho.max_connections = a->opt.max_in_flight;
	if ((rc = http_client_new(&ho, &a->http, e)) < 0)
		goto fail;
	aws_set_transport(a, NULL);
	a->creds = creds_provider_new(a->http);
	/* AWS: 15 req/s for the Lambda control plane, 100 req/s for GetFunction
	 * (Lambda quotas page, "API request rate"); not raisable. */
	double lambda = a->opt.lambda_rps == 0 ? 15 : a->opt.lambda_rps;
	double get = a->opt.lambda_get_rps != 0 ? a->opt.lambda_get_rps : setting_double_or_warn(SET_LAMBDA_GET_RPS);
	int64_t now = tp_mono_ms();
	budget_init(&a->budgets[BUDGET_LAMBDA], lambda, lambda > 0 ? lambda : 1, now);
	budget_init(&a->budgets[BUDGET_LAMBDA_GET], get, get > 0 ? get : 1, now);
	retry_quota_init(&a->quota, a->opt.retry_quota);
	a->rng = a->opt.seed ? a->opt.seed : (unsigned)tp_now_ms() | 1u;
	*out = a;
	return TP_OK;
fail:
	aws_free(a);
	*out = NULL;
	return rc;
}

void aws_free(struct aws *a)
{
	if (!a)
		return;
	creds_provider_free(a->creds);
	http_client_free(a->http);
	sigv4_key_cache_wipe(&a->key_cache);
	free(a->stats);
	free(a);
}

/* The default transport: curl's multi interface (http.c). */
static int curl_send(void *ctx, const struct http_request *req, struct http_response *resp,
		     aws_transport_done_fn done, void *done_ctx)
{
	return http_start(ctx, req, resp, done, done_ctx);
}

static int curl_poll(void *ctx, long timeout_ms)
{
	return http_poll(ctx, timeout_ms);
}

/* Set by aws_set_default_transport (tests); send NULL: curl. */
static struct aws_transport default_tr;

void aws_set_default_transport(const struct aws_transport *t)
{
	default_tr = t ? *t : (struct aws_transport){ 0 };
}

void aws_set_transport(struct aws *a, const struct aws_transport *t)
{
	if (!t && default_tr.send)
		t = &default_tr;
	a->tr = t ? *t : (struct aws_transport){ curl_send, curl_poll, a->http };
}

int aws_call_header(const struct aws_call *c, const char *name, char *out, size_t len)
{
	const char *h = buf_str(&c->resp_headers);
	return http_header_in(h, h + c->resp_headers.len, name, out, len);
}

const char *aws_region(const struct aws *a)
{
	return a->region;
}

void aws_call_free(struct aws_call *c)
{
	if (!c)
		return;
	buf_free(&c->resp);
	buf_free(&c->resp_headers);
	for (size_t i = 0; i < sizeof c->owned / sizeof c->owned[0]; i++) {
		free(c->owned[i]);
		c->owned[i] = NULL;
	}
}

static double next_rand01(struct aws *a)
{
	unsigned x = a->rng;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	a->rng = x;
	return (double)(x % 1000000u) / 1000000.0;
}

static struct aws_stat *stat_for(struct aws *a, const struct aws_call *c)
{
	char key[80];
	snprintf(key, sizeof key, "%s:%s", svc_get(c->service)->name, c->op);
	for (size_t i = 0; i < a->n_stats; i++)
		if (strcmp(a->stats[i].key, key) == 0)
			return &a->stats[i];
	/* Grown, never capped: a full table used to count new operations
	 * under the last one's key. Callers hold the pointer only briefly. */
	if (a->n_stats == a->cap_stats) {
		a->cap_stats = a->cap_stats ? a->cap_stats * 2 : 64;
		a->stats = tp_xrealloc(a->stats, a->cap_stats * sizeof *a->stats);
	}
	struct aws_stat *s = &a->stats[a->n_stats++];
	memset(s, 0, sizeof *s);
	snprintf(s->key, sizeof s->key, "%s", key);
	s->service = c->service;
	return s;
}

size_t aws_stats(const struct aws *a, const struct aws_stat **out)
{
	*out = a->stats;
	return a->n_stats;
}

void aws_stats_reset(struct aws *a)
{
	a->n_stats = 0;
	a->lambda_requests = 0;
	a->mutating_requests = 0;
	a->throttled = 0;
	a->throttled_other = 0;
	a->lambda_retries = 0;
}

long aws_stats_requests(const struct aws *a)
{
	long t = 0;
	for (size_t i = 0; i < a->n_stats; i++)
		t += a->stats[i].requests;
	return t;
}

long aws_stats_lambda(const struct aws *a)
{
	return a->lambda_requests;
}

long aws_stats_mutating(const struct aws *a)
{
	return a->mutating_requests;
}

void aws_set_deadline(struct aws *a, int64_t epoch_ms)
{
	a->deadline_ms = epoch_ms;
}

long aws_stats_throttled_other(const struct aws *a)
{
	return a->throttled_other;
}

long aws_stats_throttled(const struct aws *a)
{
	return a->throttled;
}

long aws_stats_lambda_retries(const struct aws *a)
{
	return a->lambda_retries;
}

void aws_set_budget_source(struct aws *a, aws_budget_claim_fn claim, void *ctx, const double rate[2])
{
	a->claim = claim;
	a->claim_ctx = ctx;
	for (int i = 0; i < BUDGET_COUNT; i++) {
		a->claim_rate[i] = rate[i];
		memset(&a->grants[i], 0, sizeof a->grants[i]);
		a->claim_after[i] = 0;
	}
}

#define USAGE_WINDOW_MS 500
#define SHARED_RETRY_MS 10000

static void usage_roll(struct usage *u, int64_t now)
{
	if (now - u->since < USAGE_WINDOW_MS)
		return;
	u->prev = now - u->since < 2 * USAGE_WINDOW_MS ? u->cur : 0;
	u->cur = 0;
	u->since = now;
}

static int usage_recent(struct usage *u, int64_t now)
{
	usage_roll(u, now);
	return u->cur > u->prev ? u->cur : u->prev;
}

/* Take a token of class bc for one request: 0 when taken, else ms to wait. */
static int64_t budget_acquire(struct aws *a, int bc, int64_t now)
{
	if (a->claim && now >= a->shared_after) {
		int64_t us = tp_now_us();
		int64_t w = budget_grant_wait_us(&a->grants[bc], us);
		if (w < 0) {
			if (now < a->claim_after[bc])
				return a->claim_after[bc] - now;
			int k = budget_claim_size(a->waiting[bc], usage_recent(&a->usage[bc], now),
						  a->claim_rate[bc]);
			int64_t wait_us = 0;
			tp_err e = { 0 };
			if (a->claim(a->claim_ctx, bc, k, us, &a->grants[bc], &wait_us, &e) < 0) {
				/* Work goes on: metered by this process alone for a while, then
				 * the shared budget is tried again. */
				if (!a->claim_warned++)
					log_warn("shared Lambda budget unavailable (%s: %.200s): this process meters "
						 "itself alone for %d s at a time until it is back",
						 e.code, e.message, SHARED_RETRY_MS / 1000);
				a->shared_after = now + SHARED_RETRY_MS;
				return budget_acquire(a, bc, now);
			}
			if (wait_us > 0) {
				a->claim_after[bc] = now + (wait_us + 999) / 1000;
				return a->claim_after[bc] - now;
			}
			us = tp_now_us();
			w = budget_grant_wait_us(&a->grants[bc], us);
			if (w < 0)
				return 1;
		}
		if (w > 0)
			return (w + 999) / 1000;
		budget_grant_take(&a->grants[bc], us);
	} else {
		int64_t w = budget_wait_ms(&a->budgets[bc], now);
		if (w > 0)
			return w;
		budget_take(&a->budgets[bc], now);
	}
	usage_roll(&a->usage[bc], now);
	a->usage[bc].cur++;
	return 0;
}

/* AWS throttled a metered call anyway: someone outside taskpipe's budget
 * is calling too. Give up the slots held and, when AWS says how long,
 * start no call of this class before then. */
static void budget_on_throttle(struct aws *a, int bc, int64_t now, int64_t after_ms)
{
	a->throttled++;
	budget_throttled(&a->budgets[bc], now);
	budget_grant_drop(&a->grants[bc]);
	if (after_ms > 0 && now + after_ms > a->claim_after[bc])
		a->claim_after[bc] = now + after_ms;
}

static int budget_class(const struct aws_call *c)
{
	if (c->service != SVC_LAMBDA)
		return BUDGET_NONE;
	return strcmp(c->op, "GetFunction") == 0 ? BUDGET_LAMBDA_GET : BUDGET_LAMBDA;
}

static void free_headers(struct flight *f)
{
	for (size_t i = 0; i < f->n_hdr; i++) {
		if (f->hdr[i] && tp_startswith(f->hdr[i], "X-Amz-Security-Token"))
			tp_wipe(f->hdr[i], strlen(f->hdr[i]));
		free(f->hdr[i]);
	}
	f->n_hdr = 0;
}

/* p's attempt is over (its answer taken, or it never went out). */
static void flight_drop(struct pending *p)
{
	struct flight *f = p->fl;
	if (!f)
		return;
	free_headers(f);
	free(f->url);
	http_response_free(&f->resp);
	free(f);
	p->fl = NULL;
}

/* Move p to state s, keeping the batch's counts; a call sent back to
 * waiting (a retry) joins the retry list, the only waiting calls a loop
 * turn looks at besides the never started ones. */
static void set_state(struct pending *p, int s)
{
	struct batch *b = p->b;
	if (p->state == P_IN_FLIGHT)
		b->in_flight--;
	if (s == P_IN_FLIGHT) {
		b->in_flight++;
	} else if (s == P_DONE) {
		b->done++;
	} else {
		if (b->n_retry == b->cap_retry) {
			b->cap_retry = b->cap_retry ? b->cap_retry * 2 : 16;
			b->retry = tp_xrealloc(b->retry, b->cap_retry * sizeof *b->retry);
		}
		b->retry[b->n_retry++] = (size_t)(p - b->ps);
	}
	p->state = (signed char)s;
}

/* The Host header value curl would send for url: host[:port], the port
 * left out when it is the scheme's default. */
static int host_of(const char *url, char *out, size_t len)
{
	const char *s = strstr(url, "://");
	if (!s)
		return -1;
	int https = tp_startswith(url, "https://");
	s += 3;
	size_t n = strcspn(s, "/?#");
	const char *at = memchr(s, '@', n);
	if (at) {
		n -= (size_t)(at + 1 - s);
		s = at + 1;
	}
	if (n == 0 || n >= len)
		return -1;
	memcpy(out, s, n);
	out[n] = 0;
	char *colon = strrchr(out, ':');
	if (colon && !strchr(colon, ']')) {
		if ((https && strcmp(colon, ":443") == 0) || (!https && strcmp(colon, ":80") == 0))
			*colon = 0;
	}
	return 0;
}

static const char *default_content_type(const struct svc_info *si)
{
	switch (si->protocol) {
	case PROTO_JSON:   /* the Tagging API speaks 1.1 */
		return si->json_version && strcmp(si->json_version, "1.1") == 0 ? "application/x-amz-json-1.1" :
										    "application/x-amz-json-1.0";
	case PROTO_REST_JSON: return "application/json";
	case PROTO_QUERY: return "application/x-www-form-urlencoded; charset=utf-8";
	default: return NULL;
	}
}

/* Lambda's recursive loop detection follows the invocation's trace header
 * through the AWS calls a function makes ("Use Lambda recursive loop
 * detection to prevent infinite loops", Lambda developer guide). Inside a
 * function (AWS_LAMBDA_FUNCTION_NAME set) the runtime keeps the
 * invocation's Lambda-Runtime-Trace-Id in _X_AMZN_TRACE_ID; send it as
 * X-Amzn-Trace-Id, unsigned and percent-encoded, as the AWS SDKs do
 * (botocore: handlers.add_recursion_detection_header; auth.py keeps
 * x-amzn-trace-id out of SigV4, X-Ray may rewrite it on the way). NULL:
 * no header. */
static char *trace_header(void)
{
	static const char safe[] = "-_.~=;:+&[]{}\"',";
	const char *t = getenv("_X_AMZN_TRACE_ID");
	if (!getenv("AWS_LAMBDA_FUNCTION_NAME") || !t || !*t || strlen(t) > 1024)
		return NULL;
	buf b = { 0 };
	buf_adds(&b, "X-Amzn-Trace-Id: ");
	for (const unsigned char *c = (const unsigned char *)t; *c; c++) {
		if ((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
		    strchr(safe, *c))
			buf_addf(&b, "%c", *c);
		else
			buf_addf(&b, "%%%02X", *c);
	}
	char *out = tp_xstrdup(buf_str(&b));
	buf_free(&b);
	return out;
}

/* Build URL and signed headers for the next attempt of p. */
#define URL_MAX 2048

static int prepare(struct pending *p, tp_err *e)
{
	struct aws *a = p->b->a;
	struct aws_call *c = p->call;
	const struct svc_info *si = svc_get(c->service);
	int rc;
	if (!a->endpoint_ok[c->service]) {
		if ((rc = awsconf_endpoint(c->service, a->region, a->endpoint[c->service],
					   sizeof a->endpoint[c->service], e)) < 0)
			return rc;
		a->endpoint_ok[c->service] = 1;
	}
	const char *path = c->path ? c->path : "/";
	if (!p->fl)
		p->fl = tp_xcalloc(1, sizeof *p->fl);
	struct flight *f = p->fl;
	free(f->url);
	f->url = tp_xasprintf("%s%s%s%s", a->endpoint[c->service], path, c->query && *c->query ? "?" : "",
			      c->query ? c->query : "");
	if (strlen(f->url) >= URL_MAX)
		return tp_errf(e, TP_EINVAL, "RequestTooLong", "%s %s: URL longer than %d bytes",
			       si->name, c->op, URL_MAX);
	char host[512];
	if (host_of(f->url, host, sizeof host) < 0)
		return tp_errf(e, TP_EINVAL, "BadEndpoint", "%s: cannot find the host in endpoint '%s'",
			       si->name, a->endpoint[c->service]);

	struct creds cr;
	if ((rc = creds_get(a->creds, tp_now_ms(), &cr, e)) < 0)
		return rc;

	/* Region for signing: IAM is global and signs with us-east-1. */
	const char *sign_region = c->service == SVC_IAM ? "us-east-1" : a->region;
	time_t now = (time_t)(tp_now_ms() / 1000);
	char amz_date[17];
	sigv4_amz_date(now, amz_date);
	char payload_hash[HASH_SHA256_HEX_LEN];
	hash_sha256_hex(c->body ? c->body : "", c->body ? c->body_len : 0, payload_hash);

	const char *ctype = c->content_type ? c->content_type : default_content_type(si);
	char target[160] = "";
	if (si->protocol == PROTO_JSON)
		snprintf(target, sizeof target, "%s.%s", si->json_target, c->op);

	struct sigv4_header sh[8];
	size_t ns = 0;
	sh[ns++] = (struct sigv4_header){ "host", host };
	sh[ns++] = (struct sigv4_header){ "x-amz-date", amz_date };
	sh[ns++] = (struct sigv4_header){ "x-amz-content-sha256", payload_hash };
	if (cr.session_token[0])
		sh[ns++] = (struct sigv4_header){ "x-amz-security-token", cr.session_token };
	if (ctype)
		sh[ns++] = (struct sigv4_header){ "content-type", ctype };
	if (target[0])
		sh[ns++] = (struct sigv4_header){ "x-amz-target", target };

	/* Sign the path and query exactly as they appear in the URL. */
	const char *url_path = strchr(strstr(f->url, "://") + 3, '/');
	char path_only[2048];
	const char *qmark = url_path ? strchr(url_path, '?') : NULL;
	size_t plen = url_path ? (qmark ? (size_t)(qmark - url_path) : strlen(url_path)) : 0;
	if (plen == 0)
		snprintf(path_only, sizeof path_only, "/");
	else
		snprintf(path_only, sizeof path_only, "%.*s", (int)plen, url_path);

	struct sigv4_request sreq = {
		.method = c->method ? c->method : "POST",
		.path = path_only,
		.query = qmark ? qmark + 1 : "",
		.headers = sh,
		.n_headers = ns,
		.payload_hash = payload_hash,
		.s3_path = c->service == SVC_S3,
	};
	struct sigv4_key key = { cr.access_key_id, cr.secret_access_key, sign_region, si->signing_name,
				 &a->key_cache };
	char *scratch = tp_xmalloc(SCRATCH_LEN);
	struct sigv4_result sig;
	int sr = sigv4_sign(&sreq, &key, now, scratch, SCRATCH_LEN, &sig);
	tp_wipe(scratch, SCRATCH_LEN);
	free(scratch);
	if (sr < 0) {
		creds_wipe(&cr);
		return tp_errf(e, TP_EINVAL, "SigningFailed", "%s %s: request too large to sign",
			       si->name, c->op);
	}

	free_headers(f);
	for (size_t i = 0; i < ns; i++) {
		/* curl derives Host from the URL itself; sending ours keeps both identical. */
		const char *name = sh[i].name;
		if (strcmp(name, "x-amz-security-token") == 0)
			name = "X-Amz-Security-Token";
		f->hdr[f->n_hdr++] = tp_xasprintf("%s: %s", name, sh[i].value);
	}
	f->hdr[f->n_hdr++] = tp_xasprintf("Authorization: %s", sig.authorization);
	f->hdr[f->n_hdr++] = tp_xstrdup("User-Agent: taskpipe/" TASKPIPE_VERSION);
	char *trace = trace_header();
	if (trace)
		f->hdr[f->n_hdr++] = trace;
	tp_wipe(&sig, sizeof sig);
	creds_wipe(&cr);

	f->req = (struct http_request){
		.method = sreq.method,
		.url = f->url,
		.headers = (const char *const *)f->hdr,
		.n_headers = f->n_hdr,
		.body = c->body,
		.body_len = c->body ? c->body_len : 0,
		.timeout_ms = c->sink ? a->opt.timeout_ms * SINK_TIMEOUT_FACTOR : a->opt.timeout_ms,
		/* No buffered AWS answer comes near this; a bigger one is a fault.
		 * Objects of any size stream through a sink instead. */
		.max_response_bytes = AWS_MAX_RESPONSE,
		.sink = c->sink ? c->sink->write : NULL,
		.sink_ctx = c->sink ? c->sink->ctx : NULL,
	};
	if (c->sink && c->sink->begin)
		c->sink->begin(c->sink->ctx);
	return TP_OK;
}

static int max_attempts_for(const struct aws *a, const struct aws_call *c, struct retry_policy *rp)
{
	if (c->service == SVC_DYNAMODB || c->service == SVC_STREAMS)
		retry_policy_dynamodb(rp);
	else
		retry_policy_default(rp);
	if (a->opt.max_attempts > 0)
		rp->max_attempts = a->opt.max_attempts;
	return rp->max_attempts;
}

static int is_expired_token(const char *code)
{
	return strcmp(code, "ExpiredToken") == 0 || strcmp(code, "ExpiredTokenException") == 0 ||
	       strcmp(code, "RequestExpired") == 0;
}

/* A transfer ended: decide between done and another attempt. */
static void on_done(void *ctx, struct http_response *resp)
{
	struct pending *p = ctx;
	struct aws *a = p->b->a;
	struct aws_call *c = p->call;
	int64_t now = tp_mono_ms();
	/* resp is p->fl's: dropped (below) only when read to the end. */

	tp_err_clear(&c->err);
	c->status = resp->status;
	int io = resp->rc != TP_OK;
	if (io) {
		tp_errf(&c->err, resp->rc, resp->rc == TP_ELIMIT ? "ResponseTooLarge" : "TransportError",
			"%s %s: %s", svc_get(c->service)->name, c->op, resp->error);
		c->rc = resp->rc;
	} else if (resp->status >= 200 && resp->status < 300) {
		c->rc = TP_OK;
	} else {
		c->rc = awserr_parse(resp->status, buf_str(&resp->headers), resp->body.data,
				     resp->body.len, &c->err);
	}

	if (c->rc != TP_OK && !io && is_expired_token(c->err.code) && !p->refreshed_creds) {
		/* Credentials rotated under us: fetch fresh ones and try again. */
		p->refreshed_creds = 1;
		creds_invalidate(a->creds);
		flight_drop(p);
		p->not_before = now;
		set_state(p, P_WAITING);
		return;
	}

	if (c->rc != TP_OK && c->rc != TP_ELIMIT) {
		struct retry_policy rp;
		int max = max_attempts_for(a, c, &rp);
		int cls = retry_classify(io ? 0 : resp->status, io ? NULL : c->err.code, io);
		int bc = budget_class(c);
		int64_t after = -1;
		if (!io) {
			char amz[32], std[32];
			int has_amz = http_header(resp, "x-amz-retry-after", amz, sizeof amz);
			int has_std = http_header(resp, "Retry-After", std, sizeof std);
			after = retry_after_ms(has_amz ? amz : NULL, has_std ? std : NULL);
		}
		/* A throttle, of any service: the call is valid, the service only
		 * asks for less. Its retries back off (Retry-After honoured; a
		 * Lambda call also waits for a token of its drained budget), so they
		 * cannot storm: they cost no retry quota, get more tries than the
		 * standard 3 (unless AWS_MAX_ATTEMPTS caps them) and stop at the
		 * deadline (aws_set_deadline). A hot DynamoDB key (the shared budget
		 * item) or SQS under load must not fail a pipeline the run has time
		 * for (retry.c). */
		int paced = cls == RETRY_THROTTLE && !io;
		if (paced) {
			if (bc != BUDGET_NONE)
				budget_on_throttle(a, bc, now, after);
			else
				a->throttled_other++;
			if (a->opt.max_attempts <= 0 && max < RETRY_THROTTLE_PACED_ATTEMPTS)
				max = RETRY_THROTTLE_PACED_ATTEMPTS;
		}
		if (paced && c->attempts < max && a->deadline_ms > 0) {
			int64_t delay = retry_delay_ms(&rp, cls, c->attempts, 1.0, after);
			if (tp_now_ms() + delay >= a->deadline_ms) {
				log_msg(LOG_WARN, NULL, "%s:%s throttled; no retry before the deadline",
					svc_get(c->service)->name, c->op);
				max = c->attempts;
			}
		}
		if (cls != RETRY_NO && c->attempts < max) {
			int cost = retry_quota_cost(cls, io, paced);
			if (cost > 0)
				cost = retry_quota_take(&a->quota, io);
			if (cost > 0 || paced) {
				int64_t delay = retry_delay_ms(&rp, cls, c->attempts, next_rand01(a), after);
				log_msg(LOG_DEBUG, NULL, "retry %s:%s after %s (attempt %d, %lld ms)",
					svc_get(c->service)->name, c->op, c->err.code, c->attempts,
					(long long)delay);
				p->cost_taken += cost;
				flight_drop(p);
				p->not_before = now + delay;
				set_state(p, P_WAITING);
				return;
			}
			log_msg(LOG_WARN, NULL, "retry quota exhausted: %s:%s fails with %s",
				svc_get(c->service)->name, c->op, c->err.code);
		}
	}
	if (c->rc == TP_OK)
		retry_quota_success(&a->quota, p->cost_taken);
	else
		stat_for(a, c)->failures++;

	buf_free(&c->resp);
	buf_free(&c->resp_headers);
	c->resp = resp->body;
	c->resp_headers = resp->headers;
	memset(&resp->body, 0, sizeof resp->body);
	memset(&resp->headers, 0, sizeof resp->headers);
	flight_drop(p);
	set_state(p, P_DONE);
}

/* Start p's next attempt now if its budget allows; returns ms to wait
 * before trying again (0 when started or finished). */
static int64_t try_start(struct pending *p, int64_t now)
{
	struct aws *a = p->b->a;
	struct aws_call *c = p->call;
	int bc = p->bc;
	if (bc != BUDGET_NONE) {
		int64_t w = budget_acquire(a, bc, now);
		if (w > 0)
			return w;
	}
	int rc = prepare(p, &c->err);
	if (rc < 0) {
		c->rc = rc;
		stat_for(a, c)->failures++;
		flight_drop(p);
		set_state(p, P_DONE);
		return 0;
	}
	c->attempts++;
	struct aws_stat *st = stat_for(a, c);
	st->requests++;
	if (c->attempts > 1)
		st->retries++;
	if (c->service == SVC_LAMBDA) {
		a->lambda_requests++;
		if (c->attempts > 1)
			a->lambda_retries++;
	}
	if (aws_op_is_mutating(c->op))
		a->mutating_requests++;
	set_state(p, P_IN_FLIGHT);   /* before send: a transport may end the request inside it (on_done) */
	rc = a->tr.send(a->tr.ctx, &p->fl->req, &p->fl->resp, on_done, p);
	if (rc < 0) {
		c->rc = tp_errf(&c->err, rc, "TransportError", "%s %s: cannot start request to %s",
				svc_get(c->service)->name, c->op, p->fl->url);
		flight_drop(p);
		set_state(p, P_DONE);
		return 0;
	}
	return 0;
}

void aws_set_tick(struct aws *a, aws_tick_fn fn, void *ctx)
{
	a->tick = fn;
	a->tick_ctx = ctx;
}

static int cmp_index(const void *x, const void *y)
{
	size_t i = *(const size_t *)x, j = *(const size_t *)y;
	return i < j ? -1 : i > j;
}

/* One loop turn's starts: what is due, oldest first (by index), while
 * slots are free; a call whose budget is spent blocks its own class for
 * the turn, calls of other classes go on. The candidates are the first
 * never started call of each class not blocked and the retry list's calls
 * (sorted), merged by index: the order a walk of all n calls would take.
 * Returns ms to wait before anything more can start (at most 1000). */
static int64_t start_due(struct batch *b, int64_t now)
{
	struct aws *a = b->a;
	int64_t wait = 1000;
	int blocked[BUDGET_COUNT + 1] = { 0 };
	if (b->n_retry > 1)
		qsort(b->retry, b->n_retry, sizeof *b->retry, cmp_index);
	/* Due and waiting, per class: sizes a shared budget claim. */
	for (int k = 0; k < BUDGET_COUNT; k++)
		a->waiting[k] = (int)(b->end[k + 1] - b->head[k + 1]);
	for (size_t r = 0; r < b->n_retry; r++) {
		const struct pending *p = &b->ps[b->retry[r]];
		if (p->not_before <= now && p->bc != BUDGET_NONE)
			a->waiting[p->bc]++;
	}
	/* Calls sent back to waiting during the turn (appended past m) wait for the next. */
	size_t m = b->n_retry, r = 0;
	while (b->in_flight < (size_t)a->opt.max_in_flight) {
		size_t next = r < m ? b->retry[r] : SIZE_MAX;
		int from = -1;   /* -1: the retry list; else the class (bc + 1) of a never started call */
		for (int k = 0; k <= BUDGET_COUNT; k++)
			if (!blocked[k] && b->head[k] < b->end[k] && b->order[b->head[k]] < next) {
				next = b->order[b->head[k]];
				from = k;
			}
		if (next == SIZE_MAX)
			break;
		struct pending *p = &b->ps[next];
		if (from < 0) {
			r++;
			if (p->not_before > now) {
				if (p->not_before - now < wait)
					wait = p->not_before - now;
				continue;
			}
			if (blocked[p->bc + 1])
				continue;
		}
		int64_t w = try_start(p, now);
		if (w > 0) {
			if (w < wait)
				wait = w;
			blocked[p->bc + 1] = 1;
			continue;
		}
		if (from < 0)
			b->retry[r - 1] = SIZE_MAX;   /* started (or over): off the list */
		else
			b->head[from]++;
	}
	size_t kept = 0;
	for (size_t i = 0; i < b->n_retry; i++)
		if (b->retry[i] != SIZE_MAX)
			b->retry[kept++] = b->retry[i];
	b->n_retry = kept;
	return wait;
}

int aws_call_many(struct aws *a, struct aws_call *calls, size_t n)
{
	struct batch b = { .a = a };
	b.ps = tp_xcalloc(n ? n : 1, sizeof *b.ps);
	b.order = tp_xmalloc((n ? n : 1) * sizeof *b.order);
	size_t per_class[BUDGET_COUNT + 1] = { 0 };
	for (size_t i = 0; i < n; i++) {
		struct pending *p = &b.ps[i];
		p->b = &b;
		p->call = &calls[i];
		p->bc = (signed char)budget_class(&calls[i]);
		per_class[p->bc + 1]++;
		calls[i].rc = TP_OK;
		calls[i].attempts = 0;
		calls[i].status = 0;
		tp_err_clear(&calls[i].err);
	}
	size_t at = 0;
	for (int k = 0; k <= BUDGET_COUNT; k++) {
		b.head[k] = b.end[k] = at;
		at += per_class[k];
	}
	for (size_t i = 0; i < n; i++)
		b.order[b.end[b.ps[i].bc + 1]++] = i;

	while (b.done < n) {
		int64_t wait = start_due(&b, tp_mono_ms());
		if (b.done == n)
			break;
		if (a->tick)
			a->tick(a->tick_ctx, b.done, n);
		if (b.in_flight == 0 || !a->tr.poll) {
			if (wait > 0)
				tp_sleep_ms(wait);
			continue;
		}
		/* Ends what it can; on_done updates the counts and the retry list. */
		a->tr.poll(a->tr.ctx, (long)(b.in_flight >= (size_t)a->opt.max_in_flight ? 1000 : wait));
	}
	if (a->tick)
		a->tick(a->tick_ctx, b.done, n);
	int first = TP_OK;
	for (size_t i = 0; i < n; i++) {
		flight_drop(&b.ps[i]);
		if (first == TP_OK && calls[i].rc != TP_OK)
			first = calls[i].rc;
	}
	free(b.ps);
	free(b.order);
	free(b.retry);
	return first;
}

int aws_call_one(struct aws *a, struct aws_call *call)
{
	return aws_call_many(a, call, 1);
}
