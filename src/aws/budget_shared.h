/* budget_shared.h: the Lambda control-plane budget shared by every taskpipe
 * process of an account and region (controller invocations from the stream,
 * SNS and the schedule, operators' CLI runs) through one state-table item,
 * pk "account#lambda-budget". AWS's limit (15 req/s, GetFunction 100 req/s)
 * is per account and region, not per client (Lambda developer guide,
 * "Lambda quotas", API requests: "15 requests per second" for the control
 * plane other than GetFunction and GetPolicy), so each process metering
 * itself at the full rate lets N processes send N times too much.
 *
 * The item holds, per budget, "tat": the wall-clock time (us) of the next
 * free token slot for the whole account (budget.h, budget_book). A process
 * books several slots with one conditional UpdateItem and sends one Lambda
 * request per booked slot; a process that finds the schedule booked beyond
 * the horizon waits instead of calling Lambda.
 */
#ifndef TP_BUDGET_SHARED_H
#define TP_BUDGET_SHARED_H

#include "base/base.h"
#include "aws/budget.h"

#define BSHARED_PK "account#lambda-budget"
/* How far ahead the schedule may be booked: a claim beyond waits. */
#define BSHARED_HORIZON_US 2000000

struct bshared;

struct bshared_opts {
	const char *table;     /* the state table */
	double rate;           /* account figure, Lambda APIs but GetFunction (15) */
	double get_rate;       /* GetFunction (100) */
	double reserve;        /* background processes leave this much of rate to others */
	int background;        /* 1: the controller (Lambda runtime) */
	const char *pk;        /* the schedule's item; NULL: BSHARED_PK. The
				* consumer layer keeps a pipeline's rate in
				* "rate#<function>" (consume.c) */
};

int bshared_new(const struct bshared_opts *o, struct bshared **out, tp_err *e);
void bshared_free(struct bshared *s);

/* The rate this process books at for budget cls (0 Lambda, 1 GetFunction):
 * a background process's slots weigh 1/(rate - reserve) of a second, so
 * background work alone never takes more than rate - reserve. */
double bshared_rate(const struct bshared *s, int cls);

/* Book k tokens of budget cls at wall-clock now_us. TP_OK with *g filled,
 * or TP_OK with *wait_us > 0 (the account's schedule is full: claim again
 * after that), or < 0 on a DynamoDB error (e filled). */
int bshared_claim(struct bshared *s, int cls, int k, int64_t now_us, struct budget_grant *g,
		  int64_t *wait_us, tp_err *e);

/* bshared_claim with the horizon given: a claim whose start would lie
 * more than horizon_us after now_us is refused. Returns TP_OK (granted, or
 * *wait_us > 0 after lost races), 1 when refused because the schedule is
 * booked beyond the horizon (*wait_us: until the horizon reaches it), or
 * < 0 on a DynamoDB error. */
int bshared_claim_within(struct bshared *s, int cls, int k, int64_t now_us, int64_t horizon_us,
			 struct budget_grant *g, int64_t *wait_us, tp_err *e);

struct bshared_stats {
	long claims;           /* grants obtained */
	long writes;           /* UpdateItem requests (conditional failures included) */
	long refused;          /* claims told to wait (schedule booked beyond the horizon) */
	long tokens;           /* tokens booked */
};
void bshared_stats(const struct bshared *s, struct bshared_stats *out);

#endif
