/* pace.h: the consumer proxy's pacing: a token bucket per Lambda instance
 * holding its share of the pipeline's rate, with AIMD on backpressure.
 *
 * The share is TASKPIPE_RATE / TASKPIPE_CONCURRENCY tasks/s: at most that
 * many instances are in flight at once (the mapping's MaximumConcurrency)
 * and each waits inside its invocation, so together they never go above
 * the rate. The proxy takes tokens per sub-batch (at most TASKPIPE_BURST
 * records), so the bucket holds one sub-batch and starts full: any window
 * of W seconds sees at most rate * W + concurrency * burst records. The
 * shared schedule (TASKPIPE_RATE_TABLE, rate_sched.h) tightens that to
 * rate * W + burst and falls back to this bucket when DynamoDB fails. Times are
 * microseconds, given by the caller (no clock in here). */
#ifndef TP_PACE_H
#define TP_PACE_H

#include <stddef.h>
#include <stdint.h>

struct pace {
	double configured;   /* the configured share, tasks/s */
	double share;        /* the current share (AIMD), configured at most */
	double tokens;       /* records that may start now */
	double cap;          /* bucket size: the largest batch seen */
	int64_t last_us;     /* when tokens was last refilled; 0: never */
	int64_t limited_us;  /* the last push-back (or pace_idle); 0: none */
};

/* Parse the two environment values ("2", "0.5"; "2"): TP_OK, or TP_EINVAL
 * with a message naming the variable. */
int pace_parse(const char *rate, const char *concurrency, double *share, char *why, size_t why_len);

void pace_init(struct pace *p, double share);

/* Microseconds to wait before k records may start (0: now). */
int64_t pace_wait_us(struct pace *p, int k, int64_t now_us);

/* k records start now (call once pace_wait_us said 0). */
void pace_take(struct pace *p, int k, int64_t now_us);

/* Feedback per record the handler answered: limited != 0 when the tenant
 * pushed it back (rateLimited). Multiplicative decrease (x0.75 per
 * pushed-back record, down to 1/8 of the configured share: the floor keeps
 * a slow tenant probed, and each probe costs a re-send, not a receive),
 * else increase by 5% of the configured share or 20% of the current one,
 * whichever is more, up to the configured share: from the floor back in
 * about 12 records. Against a tenant shared by every instance this settles
 * near 1.8 x the tenant's rate attempted (44% pushed back). */
void pace_feedback(struct pace *p, int limited, int64_t now_us);

/* Time without push-back counts too: each second since the last one (or
 * the last call) adds 5% of the configured share, so an instance that sat
 * idle after a tenant's pushback does not start its next batch at the
 * share it had then. */
void pace_idle(struct pace *p, int64_t now_us);

#endif
