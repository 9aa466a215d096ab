/* budget.h: client-side request budgets (token buckets), pure: the time is
 * a parameter. taskpipe keeps itself under AWS's Lambda control-plane
 * limits (15 req/s for most APIs together, 100 req/s for GetFunction)
 * instead of finding them by being throttled.
 */
#ifndef TP_BUDGET_H
#define TP_BUDGET_H

#include <stdint.h>

struct budget {
	double rate;      /* tokens per second; <= 0 means unlimited */
	double burst;     /* bucket capacity */
	double tokens;    /* current level */
	int64_t last_ms;  /* time of the last refill */
};

void budget_init(struct budget *b, double rate, double burst, int64_t now_ms); /* starts full */
/* Milliseconds until a token is available (0: now). */
int64_t budget_wait_ms(struct budget *b, int64_t now_ms);
/* Take one token if available: 1 taken, 0 not. */
int budget_take(struct budget *b, int64_t now_ms);
/* AWS throttled us anyway (another client shares the limit): empty the bucket. */
void budget_throttled(struct budget *b, int64_t now_ms);

#endif
