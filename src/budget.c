/* budget.c: client-side token buckets (see budget.h). Pure: the caller
 * passes the (monotonic) time in milliseconds.
 */
#include "budget.h"

#include <math.h>

/* Longest wait we ever report (a day): a tiny rate must not overflow. */
#define WAIT_MAX_MS ((int64_t)86400000)

/* The one refill formula, shared by refill() and budget_wait_ms() so that
 * waiting the reported time always yields the token. */
static double level_after(const struct budget *b, uint64_t elapsed_ms)
{
	double t = b->tokens + (double)elapsed_ms * b->rate / 1000.0;
	return t < b->burst ? t : b->burst;
}

static void refill(struct budget *b, int64_t now_ms)
{
	/* A clock that went backwards refills nothing and keeps last_ms. */
	if (now_ms <= b->last_ms)
		return;
	/* unsigned: the difference of any two int64 fits in a uint64 */
	b->tokens = level_after(b, (uint64_t)now_ms - (uint64_t)b->last_ms);
	b->last_ms = now_ms;
}

void budget_init(struct budget *b, double rate, double burst, int64_t now_ms)
{
	b->rate = rate;
	/* A bucket smaller than one token would never hand one out. */
	b->burst = burst >= 1.0 ? burst : 1.0;
	b->tokens = b->burst;
	b->last_ms = now_ms;
}

int64_t budget_wait_ms(struct budget *b, int64_t now_ms)
{
	if (!(b->rate > 0))
		return 0;
	refill(b, now_ms);
	if (b->tokens >= 1.0)
		return 0;
	double need = ceil((1.0 - b->tokens) * 1000.0 / b->rate);
	if (!(need < (double)WAIT_MAX_MS))
		return WAIT_MAX_MS;
	int64_t ms = (int64_t)need;
	if (ms < 1)
		ms = 1;
	/* Rounding can leave the level a hair under 1: step up until it is not. */
	while (ms < WAIT_MAX_MS && level_after(b, (uint64_t)ms) < 1.0)
		ms++;
	/* The wait counts from last_ms, which may be later than now_ms. */
	if (b->last_ms > now_ms) {
		uint64_t ahead = (uint64_t)b->last_ms - (uint64_t)now_ms;
		if (ahead >= (uint64_t)(WAIT_MAX_MS - ms))
			return WAIT_MAX_MS;
		ms += (int64_t)ahead;
	}
	return ms;
}

int budget_take(struct budget *b, int64_t now_ms)
{
	if (!(b->rate > 0))
		return 1;
	refill(b, now_ms);
	if (b->tokens < 1.0)
		return 0;
	b->tokens -= 1.0;
	return 1;
}

void budget_throttled(struct budget *b, int64_t now_ms)
{
	refill(b, now_ms);
	b->tokens = 0.0;
}
