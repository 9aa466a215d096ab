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

/* The account-wide schedule (budget_shared.c keeps it in the state table):
 * one number per budget, "tat", the wall-clock time (us) of the next free
 * token slot for the whole account (GCRA, the generic cell rate algorithm).
 * A claim of k tokens books the k slots that follow max(tat, now), spaced
 * step_us apart, and moves tat past them; no two processes ever book the
 * same slot, so the account as a whole never runs faster than 1/step.
 * A process holds its booked slots as a grant and sends one request per
 * slot, never before it. */
struct budget_grant {
	int64_t start_us;   /* slot of the first token (wall clock, us) */
	int64_t step_us;    /* spacing of the slots */
	int count;          /* tokens booked */
	int used;           /* tokens spent or dropped */
};

/* Slot spacing for rate tokens/s (>= 1 us). */
int64_t budget_step_us(double rate);

/* How many tokens to claim at once: what waits now or was used in the last
 * half second, whichever is more, within 1..max(1, rate/2): few DynamoDB
 * writes per Lambda call without booking slots far ahead of need. */
int budget_claim_size(int waiting, int recent, double rate);

/* Slots more than this late are dropped, not used: using them would burst
 * above the rate alongside other processes' punctual slots. */
#define BUDGET_LATE_US 100000

/* -1: nothing left (claim again); 0: a token is due now; > 0: us until the
 * next slot. Drops slots that passed more than BUDGET_LATE_US ago. */
int64_t budget_grant_wait_us(struct budget_grant *g, int64_t now_us);
/* Spend the due token: 1 taken, 0 none due. */
int budget_grant_take(struct budget_grant *g, int64_t now_us);
/* AWS throttled us anyway: give up the slots still held. */
void budget_grant_drop(struct budget_grant *g);

/* One claim against the shared tat (tat_us < 0: none recorded yet), as the
 * conditional write in budget_shared.c performs it atomically: */
struct budget_booking {
	int ok;             /* 1: booked [start_us, start_us + k*step) */
	int64_t start_us;
	int64_t new_tat_us; /* what tat becomes */
	int64_t wait_us;    /* ok == 0: the schedule is booked beyond the
			     * horizon; try again after this long */
};
void budget_book(int64_t tat_us, int64_t now_us, int k, int64_t step_us, int64_t horizon_us,
		 struct budget_booking *out);

/* Lanes (rate_sched.c keeps a pipeline's schedule this way): slots lie on
 * one wall-clock grid, slot m at m * step_us, and slot m belongs to lane
 * m % lanes. A batch books consecutive slots of one lane, lanes * step_us
 * apart, so its sub-batches run one after another on one instance while
 * the other lanes fill the slots between; no slot is ever booked twice, so
 * any W seconds hold at most W / step_us + 1 slots of every lane together.
 *
 * The first slot of lane that is at or after both tat_us (the lane's next
 * free slot; < 0 none booked) and now_us. */
int64_t budget_lane_first(int64_t tat_us, int64_t now_us, int lane, int lanes, int64_t step_us);
/* How many of n slots from first_us, lanes * step_us apart, start at or
 * before latest_us (0..n). */
int budget_lane_fit(int64_t first_us, int64_t latest_us, int n, int lanes, int64_t step_us);

#endif
