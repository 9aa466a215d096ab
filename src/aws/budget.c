/* budget.c: client-side token buckets (see budget.h). Pure: the caller
 * passes the (monotonic) time in milliseconds.
 */
#include "aws/budget.h"

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

int64_t budget_step_us(double rate)
{
	if (!(rate > 0))
		return 1;
	double us = ceil(1e6 / rate);
	if (!(us < 1e12))
		return (int64_t)1e12;
	return us < 1 ? 1 : (int64_t)us;
}

int budget_claim_size(int waiting, int recent, double rate)
{
	int max = rate > 2 ? (int)(rate / 2) : 1;
	if (rate > 2e6)
		max = 1000000;
	int k = waiting > recent ? waiting : recent;
	if (k < 1)
		k = 1;
	return k < max ? k : max;
}

int64_t budget_grant_wait_us(struct budget_grant *g, int64_t now_us)
{
	while (g->used < g->count) {
		int64_t slot = g->start_us + (int64_t)g->used * g->step_us;
		if (slot > now_us)
			return slot - now_us;
		if (now_us - slot <= BUDGET_LATE_US)
			return 0;
		g->used++; /* stale: its moment passed */
	}
	return -1;
}

int budget_grant_take(struct budget_grant *g, int64_t now_us)
{
	if (budget_grant_wait_us(g, now_us) != 0)
		return 0;
	g->used++;
	return 1;
}

void budget_grant_drop(struct budget_grant *g)
{
	g->used = g->count;
}

void budget_book(int64_t tat_us, int64_t now_us, int k, int64_t step_us, int64_t horizon_us,
		 struct budget_booking *out)
{
	if (k < 1)
		k = 1;
	out->ok = 0;
	out->wait_us = 0;
	if (tat_us > now_us + horizon_us) {
		/* Booked too far ahead: come back when the horizon reaches it. */
		out->wait_us = tat_us - horizon_us - now_us;
		out->start_us = out->new_tat_us = tat_us;
		return;
	}
	out->ok = 1;
	out->start_us = tat_us > now_us ? tat_us : now_us;
	out->new_tat_us = out->start_us + (int64_t)k * step_us;
}

int64_t budget_lane_first(int64_t tat_us, int64_t now_us, int lane, int lanes, int64_t step_us)
{
	if (lanes < 1)
		lanes = 1;
	if (step_us < 1)
		step_us = 1;
	int64_t from = tat_us > now_us ? tat_us : now_us;
	int64_t base = (int64_t)(lane % lanes) * step_us, period = (int64_t)lanes * step_us;
	if (from <= base)
		return base;
	return base + (from - base + period - 1) / period * period;
}

int budget_lane_fit(int64_t first_us, int64_t latest_us, int n, int lanes, int64_t step_us)
{
	if (n < 1 || first_us > latest_us)
		return 0;
	int64_t period = (int64_t)(lanes < 1 ? 1 : lanes) * (step_us < 1 ? 1 : step_us);
	int64_t fit = (latest_us - first_us) / period + 1;
	return fit < n ? (int)fit : n;
}
