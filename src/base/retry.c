/* retry.c: the AWS SDKs' "standard" retry mode (see retry.h): which
 * outcomes to retry, how long to wait, and the retry quota. Pure: no
 * clock, no randomness, no allocation.
 */
#include "base/retry.h"

#include <stddef.h>
#include <string.h>

/* Standard retry mode constants (AWS SDKs and Tools reference guide,
 * "Retry behavior"): quota 500, retry cost 5, timeout cost 10, success 1. */
#define QUOTA_DEFAULT 500
#define COST_RETRY 5
#define COST_TIMEOUT 10
#define SUCCESS_INCREMENT 1

static const char *const throttle_codes[] = {
	"Throttling", "ThrottlingException", "ThrottledException",
	"RequestThrottledException", "TooManyRequestsException",
	"ProvisionedThroughputExceededException", "TransactionInProgressException",
	"RequestLimitExceeded", "BandwidthLimitExceeded", "LimitExceededException",
	"RequestThrottled", "SlowDown", "PriorRequestNotComplete",
	"EC2ThrottledException", NULL,
};

/* ResourceConflictException is deliberately absent: Lambda raises it while
 * an update is in progress and the caller waits for the function instead. */
static const char *const transient_codes[] = {
	"RequestTimeout", "RequestTimeoutException", "InternalError",
	"InternalFailure", "ServiceUnavailable", "IDPCommunicationError", NULL,
};

static int in_list(const char *const *list, const char *code)
{
	for (; *list; list++)
		if (strcmp(*list, code) == 0)
			return 1;
	return 0;
}

int retry_classify(long status, const char *code, int io_error)
{
	if (io_error)
		return RETRY_TRANSIENT;
	/* Codes first: S3's SlowDown arrives as a 503 but is a throttle. */
	if (code && *code) {
		if (in_list(throttle_codes, code))
			return RETRY_THROTTLE;
		if (in_list(transient_codes, code))
			return RETRY_TRANSIENT;
	}
	if (status == 429)
		return RETRY_THROTTLE;
	if (status == 500 || status == 502 || status == 503 || status == 504)
		return RETRY_TRANSIENT;
	return RETRY_NO;
}

void retry_policy_default(struct retry_policy *p)
{
	p->max_attempts = 3;
	p->base_transient_ms = 50;
	p->base_throttle_ms = 1000;
	p->max_backoff_ms = 20000;
}

void retry_policy_dynamodb(struct retry_policy *p)
{
	p->max_attempts = 4;
	p->base_transient_ms = 25;
	p->base_throttle_ms = 1000;
	p->max_backoff_ms = 20000;
}

int64_t retry_delay_ms(const struct retry_policy *p, int cls, int attempt, double rand01,
		       int64_t retry_after_ms)
{
	int64_t cap = p->max_backoff_ms > 0 ? p->max_backoff_ms : 0;
	if (retry_after_ms >= 0)
		return retry_after_ms < cap ? retry_after_ms : cap;
	if (cls == RETRY_NO)
		return 0;
	int64_t d = cls == RETRY_THROTTLE ? p->base_throttle_ms : p->base_transient_ms;
	if (d < 0)
		d = 0;
	/* base * 2^(attempt-1), doubling until the cap so it cannot overflow */
	for (int i = 1; i < attempt && d < cap; i++)
		d = d > cap / 2 ? cap : d * 2;
	if (d > cap)
		d = cap;
	if (!(rand01 > 0.0)) /* also catches NaN */
		rand01 = 0.0;
	if (rand01 > 1.0)
		rand01 = 1.0;
	return (int64_t)(rand01 * (double)d);
}

void retry_quota_init(struct retry_quota *q, int max)
{
	q->max = max > 0 ? max : QUOTA_DEFAULT;
	q->tokens = q->max;
}

int retry_quota_take(struct retry_quota *q, int io_error)
{
	int cost = io_error ? COST_TIMEOUT : COST_RETRY;
	if (q->tokens < cost)
		return 0;
	q->tokens -= cost;
	return cost;
}

/* Throttles vs the quota. The SDKs already charge a throttle less than other
 * errors (Retry 2.1: 5 tokens vs 14; the AWS SDK for Rust's
 * aws-smithy-runtime 1.11+, src/client/retries/token_bucket.rs,
 * THROTTLING_RETRY_COST and DEFAULT_RETRY_COST; the retry quota itself:
 * SDKs and Tools reference guide, "Retry behavior") because a
 * throttle is a healthy service asking for slower traffic, and the quota is
 * there to stop retry storms against a failing one. A throttled Lambda call
 * goes back through taskpipe's (drained) control-plane budget, so its
 * retries are paced by construction: they cost nothing, and a burst of
 * throttles cannot exhaust the quota that transient errors still need. */
int retry_quota_cost(int cls, int io_error, int paced)
{
	if (cls == RETRY_THROTTLE && paced && !io_error)
		return 0;
	return io_error ? COST_TIMEOUT : COST_RETRY;
}

/* Digits only (surrounding blanks allowed), saturating; -1 otherwise. */
static int64_t parse_count(const char *v, int64_t max)
{
	if (!v)
		return -1;
	while (*v == ' ' || *v == '\t')
		v++;
	if (*v < '0' || *v > '9')
		return -1;
	int64_t n = 0;
	for (; *v >= '0' && *v <= '9'; v++)
		n = n > (max - (*v - '0')) / 10 ? max : n * 10 + (*v - '0');
	while (*v == ' ' || *v == '\t')
		v++;
	return *v ? -1 : n;
}

/* x-amz-retry-after: milliseconds (the SDKs' hint). Retry-After: RFC 9110
 * section 10.2.3, delta-seconds or an HTTP-date; Lambda's 429
 * TooManyRequestsException carries retryAfterSeconds in it ("The number of
 * seconds the caller should wait before retrying", Lambda API reference,
 * TooManyRequestsException). */
int64_t retry_after_ms(const char *amz_retry_after, const char *retry_after)
{
	const int64_t max_ms = (int64_t)1 << 40;
	int64_t ms = parse_count(amz_retry_after, max_ms);
	if (ms >= 0)
		return ms;
	int64_t s = parse_count(retry_after, max_ms / 1000);
	return s >= 0 ? s * 1000 : -1;
}

void retry_quota_success(struct retry_quota *q, int cost_taken)
{
	int add = cost_taken > 0 ? cost_taken : SUCCESS_INCREMENT;
	if (add > q->max - q->tokens)
		q->tokens = q->max;
	else
		q->tokens += add;
}
