/* aws.h: signed AWS requests: endpoint, SigV4, retries in the SDKs'
 * standard mode, client-side rate budgets, call statistics.
 *
 * aws_call_many() runs a batch of independent calls concurrently (bounded
 * by max_in_flight) on one thread, each retried on its own, Lambda calls
 * metered by the control-plane budget. The protocol helpers below wrap the
 * common single-call shapes.
 */
#ifndef TP_AWS_H
#define TP_AWS_H

#include "base/base.h"
#include "aws/awsconf.h"
#include "aws/budget.h"

struct aws_options {
	const char *region;        /* NULL: awsconf_region() */
	int max_in_flight;         /* concurrent requests; 0: 16 */
	double lambda_rps;         /* Lambda control plane, all APIs but GetFunction; 0: 15; < 0: unlimited */
	double lambda_get_rps;     /* GetFunction; 0: $TASKPIPE_LAMBDA_GET_RPS, else 100; < 0: unlimited */
	int max_attempts;          /* 0: $AWS_MAX_ATTEMPTS, else standard mode (3; DynamoDB 4) */
	int retry_quota;           /* 0: $TASKPIPE_RETRY_QUOTA, else 500 tokens */
	long timeout_ms;           /* per attempt; 0: $TASKPIPE_TIMEOUT_MS, else 30000 */
	unsigned seed;             /* backoff jitter seed; 0: from the clock */
};

/* Where a 2xx answer's body goes instead of aws_call.resp (a large S3
 * object): begin runs before every attempt, so a retried download starts
 * over; write takes the bytes as they arrive (< 0 aborts the attempt).
 * Error answers are still buffered into resp, for their message. */
struct aws_sink {
	void (*begin)(void *ctx);
	int (*write)(void *ctx, const void *data, size_t len);
	void *ctx;
};

struct aws_call {
	/* in */
	int service;               /* enum aws_service */
	const char *op;            /* operation name: X-Amz-Target suffix, query Action, stats key */
	const char *method;        /* REST: "GET", "PUT", ...; NULL: POST */
	const char *path;          /* REST: encoded path ("/2015-03-31/functions/f"); NULL: "/" */
	const char *query;         /* encoded, without '?'; NULL: none */
	const char *body;          /* may be NULL */
	size_t body_len;
	const char *content_type;  /* NULL: the protocol's default */
	const struct aws_sink *sink; /* NULL: the answer is buffered (at most 10 MiB) */
	/* out */
	int rc;                    /* TP_OK when 2xx; else tp_err in err */
	long status;               /* final HTTP status (0: no answer) */
	buf resp;                  /* final answer body */
	buf resp_headers;          /* final answer header block */
	tp_err err;
	int attempts;              /* tries made */
	/* owned */
	char *owned[3];            /* freed by aws_call_free (bodies, paths built for this call) */
	void *user;                /* caller's tag, untouched */
};

struct aws;

int aws_new(const struct aws_options *opts, struct aws **out, tp_err *e);
void aws_free(struct aws *a);

const char *aws_region(const struct aws *a);

/* Run n calls; returns TP_OK when all succeeded, else the rc of the first
 * failed call (each call has its own rc and err). */
int aws_call_many(struct aws *a, struct aws_call *calls, size_t n);
int aws_call_one(struct aws *a, struct aws_call *call);
void aws_call_free(struct aws_call *c);   /* frees resp buffers and owned[] */

/* Statistics: requests sent per "service:Operation" (retries included). */
struct aws_stat {
	char key[80];              /* "lambda:CreateFunction" */
	int service;
	long requests;             /* HTTP requests sent */
	long failures;             /* calls that ended in an error */
	long retries;              /* requests that were retries */
};
/* One entry per operation seen, however many; *out stays valid until the
 * next call on a (the table grows). */
size_t aws_stats(const struct aws *a, const struct aws_stat **out);
void aws_stats_reset(struct aws *a);
/* All requests sent so far. */
long aws_stats_requests(const struct aws *a);
/* Lambda control-plane requests (all Lambda operations) sent so far. */
long aws_stats_lambda(const struct aws *a);
/* Mutating requests (Create*, Update*, Put*, Delete*, Tag*, ...) sent so far. */
long aws_stats_mutating(const struct aws *a);
int aws_op_is_mutating(const char *op);
/* Lambda requests answered with a throttle (429 / TooManyRequestsException). */
long aws_stats_throttled(const struct aws *a);
/* Requests of the other services answered with a throttle (SQS, DynamoDB, S3, ...). */
long aws_stats_throttled_other(const struct aws *a);

/* Throttled calls (any service) retry, backing off, without the retry
 * quota; with a deadline (epoch ms; 0: none) no retry is scheduled past it. */
void aws_set_deadline(struct aws *a, int64_t epoch_ms);
/* Lambda requests that were retries. */
long aws_stats_lambda_retries(const struct aws *a);

/* Called from inside aws_call_many while a batch runs (after every poll,
 * at least once a second, and when it ends): done of n calls finished.
 * Progress display only; NULL turns it off. */
typedef void (*aws_tick_fn)(void *ctx, size_t done, size_t n);
void aws_set_tick(struct aws *a, aws_tick_fn fn, void *ctx);

/* A header of a finished call's answer (case-insensitive), its trimmed
 * value into out; 1 when present (out "" when absent). */
int aws_call_header(const struct aws_call *c, const char *name, char *out, size_t len);

/* ---- the transport: the one way out for every request of a client ----
 *
 * send starts one signed request and calls done when it ended (from inside
 * send, or later from poll); req and resp stay valid until then, resp
 * zeroed by the caller. Returns < 0 when it cannot start (done is then not
 * called). poll drives the requests running, waiting at most timeout_ms
 * for one to end, and returns how many still run; NULL when send ends
 * every request before it returns. The types are aws/http.h's (no curl in
 * them). The default is curl (http.c); tests put a fake AWS behind it. */
struct http_request;
struct http_response;
typedef void (*aws_transport_done_fn)(void *done_ctx, struct http_response *resp);
struct aws_transport {
	int (*send)(void *ctx, const struct http_request *req, struct http_response *resp,
		    aws_transport_done_fn done, void *done_ctx);
	int (*poll)(void *ctx, long timeout_ms);
	void *ctx;
};
/* a's requests go through t (copied) from now on; NULL: the default. */
void aws_set_transport(struct aws *a, const struct aws_transport *t);
/* The default of every client made from now on (aws_new), and of
 * aws_set_transport(a, NULL): t (copied); NULL: curl again. For a test
 * process that talks to a fake AWS only (tests/fake): the clients core/
 * opens itself (app_open, the shared budget, group schedules) use it from
 * their first request, with no seam in each of them. */
void aws_set_default_transport(const struct aws_transport *t);

/* Budgets a shared source can fill (budget_shared.c), else metered locally. */
enum { AWS_BUDGET_LAMBDA = 0, AWS_BUDGET_LAMBDA_GET = 1 };

/* Book k tokens of budget cls at wall-clock now_us: TP_OK with *g filled,
 * TP_OK with *wait_us > 0 (come back then), < 0 when the source failed. */
typedef int (*aws_budget_claim_fn)(void *ctx, int cls, int k, int64_t now_us,
				   struct budget_grant *g, int64_t *wait_us, tp_err *e);

/* Meter Lambda calls with grants from claim (rate[cls]: the rate it books
 * at, for claim sizing) instead of this process's own token buckets. When
 * claim fails the process meters itself with its own buckets for 10 s
 * (warning once), then tries the source again. */
void aws_set_budget_source(struct aws *a, aws_budget_claim_fn claim, void *ctx, const double rate[2]);

#endif
