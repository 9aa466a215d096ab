/* pace.c: token bucket + AIMD for the consumer proxy (see pace.h). */
#include "runtime/pace.h"

#include "base/base.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define MD_FACTOR 0.85
#define AI_STEP 0.05
#define MI_STEP 0.2
#define IDLE_STEP 0.05   /* per second since the last push-back, of the configured share */
#define MIN_FRACTION (1.0 / 8)

int pace_parse(const char *rate, const char *concurrency, double *share, char *why, size_t why_len)
{
	char *end;
	double r = rate ? strtod(rate, &end) : NAN;
	if (!rate || end == rate || *end || !isfinite(r) || r <= 0) {
		snprintf(why, why_len, "TASKPIPE_RATE must be a number of tasks per second > 0 (got '%.40s')",
			 rate ? rate : "");
		return TP_EINVAL;
	}
	long c = 1;
	if (concurrency && concurrency[0]) {
		c = strtol(concurrency, &end, 10);
		if (*end || c < 1 || c > 100000) {
			snprintf(why, why_len, "TASKPIPE_CONCURRENCY must be an integer >= 1 (got '%.40s')",
				 concurrency);
			return TP_EINVAL;
		}
	}
	*share = r / (double)c;
	return TP_OK;
}

void pace_init(struct pace *p, double share)
{
	*p = (struct pace){ .configured = share, .share = share };
}

static void refill(struct pace *p, int k, int64_t now_us)
{
	if (k > p->cap)
		p->cap = k;
	if (p->last_us == 0) {
		p->tokens = p->cap;   /* a new instance may start one batch at once */
	} else if (now_us > p->last_us) {
		p->tokens += p->share * (double)(now_us - p->last_us) / 1e6;
		if (p->tokens > p->cap)
			p->tokens = p->cap;
	}
	p->last_us = now_us;
}

int64_t pace_wait_us(struct pace *p, int k, int64_t now_us)
{
	if (k < 1)
		k = 1;
	refill(p, k, now_us);
	if (p->tokens >= k - 1e-9)
		return 0;
	return (int64_t)ceil((k - p->tokens) / p->share * 1e6);
}

void pace_take(struct pace *p, int k, int64_t now_us)
{
	if (k < 1)
		k = 1;
	refill(p, k, now_us);
	p->tokens -= k;
}

void pace_feedback(struct pace *p, int limited, int64_t now_us)
{
	refill(p, 1, now_us);   /* bank what accrued at the old share */
	if (limited) {
		p->limited_us = now_us;
		p->share *= MD_FACTOR;
		if (p->share < p->configured * MIN_FRACTION)
			p->share = p->configured * MIN_FRACTION;
	} else {
		/* +5% of the configured share, or +20% of the current one when
		 * that is more: back from a tenant's low rate in a few records */
		double step = p->share * MI_STEP > p->configured * AI_STEP ? p->share * MI_STEP : p->configured * AI_STEP;
		p->share += step;
		if (p->share > p->configured)
			p->share = p->configured;
	}
}

void pace_idle(struct pace *p, int64_t now_us)
{
	if (p->limited_us == 0 || now_us <= p->limited_us || p->share >= p->configured)
		return;
	double since = (double)(now_us - p->limited_us) / 1e6;
	double share = p->share + p->configured * IDLE_STEP * since;
	p->share = share < p->configured ? share : p->configured;
	p->limited_us = now_us;
}
