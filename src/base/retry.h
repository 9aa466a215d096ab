/* retry.h: the AWS SDKs' "standard" retry mode, pure (randomness and
 * time come in as parameters).
 *
 * - classify an outcome: not retryable, transient, or throttling;
 * - delay = rand01 * min(max_backoff, base * 2^(attempt-1)), base chosen
 *   by class; an x-amz-retry-after hint (ms) replaces it when present
 *   (capped at max_backoff);
 * - a retry quota (token bucket, 500 by default) stops retry storms: each
 *   retry takes 5 tokens (10 for a timeout or connection error); a retried
 *   call that then succeeds gives its cost back; a first-try success adds 1.
 */
#ifndef TP_RETRY_H
#define TP_RETRY_H

#include <stdint.h>

enum retry_class {
	RETRY_NO = 0,       /* success or an error that retrying cannot fix */
	RETRY_TRANSIENT,    /* 500/502/503/504, RequestTimeout, InternalError, I/O */
	RETRY_THROTTLE,     /* Throttling, ThrottlingException, TooManyRequestsException, ... 429 */
};

/* status: HTTP status (0 when no answer); code: AWS error code or NULL;
 * io_error: 1 when the transport failed (connect, reset, timeout). */
int retry_classify(long status, const char *code, int io_error);

struct retry_policy {
	int max_attempts;            /* total tries, first included (standard: 3) */
	int64_t base_transient_ms;   /* 50 */
	int64_t base_throttle_ms;    /* 1000 */
	int64_t max_backoff_ms;      /* 20000 */
};

void retry_policy_default(struct retry_policy *p);          /* 3, 50, 1000, 20000 */
void retry_policy_dynamodb(struct retry_policy *p);         /* 4, 25, 1000, 20000 */

/* attempt: tries made so far (>= 1). retry_after_ms: -1 when none. */
int64_t retry_delay_ms(const struct retry_policy *p, int cls, int attempt, double rand01,
		       int64_t retry_after_ms);

struct retry_quota {
	int tokens;   /* available */
	int max;      /* capacity */
};

void retry_quota_init(struct retry_quota *q, int max);       /* full */
/* Take the cost of one retry; returns the cost taken (> 0) or 0 when the
 * quota is exhausted (do not retry). io_error selects the larger cost. */
int retry_quota_take(struct retry_quota *q, int io_error);
/* After a successful call: cost_taken is what this call's retries took in all (0 when it succeeded first time). */
void retry_quota_success(struct retry_quota *q, int cost_taken);

/* Attempts (first included) for a throttled call, of any service: its
 * retries back off (and a budget-metered call's wait for a budget token),
 * so they cannot storm. */
#define RETRY_THROTTLE_PACED_ATTEMPTS 8

/* What one retry of this outcome costs from the quota: 0 for a throttle
 * (paced: backed off, bounded by attempts and the caller's deadline), else
 * as retry_quota_take(). */
int retry_quota_cost(int cls, int io_error, int paced);

/* The wait an error answer asks for, in ms, or -1 when it asks none:
 * x-amz-retry-after (milliseconds) wins, else Retry-After in delta-seconds
 * (an HTTP-date, a negative or malformed value count as absent). Either
 * header value may be NULL. Huge values saturate (callers cap the wait). */
int64_t retry_after_ms(const char *amz_retry_after, const char *retry_after);

#endif
