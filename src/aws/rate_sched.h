/* rate_sched.h: a pipeline's rate schedule in the state table, shared by
 * every instance of its consumer (the consumer layer, runtime/consume.c).
 *
 * One item, pk "rate#<function>", holds per lane the next free slot
 * ("lane0", "lane1", ...: wall-clock us). Slots are budget.h's lanes: one
 * grid with a slot every burst / rate seconds, each slot for at most
 * `burst` records, lane i owning every lanes-th slot from i. An instance
 * books all the slots of one batch in one lane with one conditional
 * UpdateItem (SET lane = :new IF lane <= :first); its sub-batches then run
 * lanes * burst / rate seconds apart, time enough for a handler taking
 * `duration` per record when lanes >= rate x duration / burst (the policy
 * sizes concurrency so). Across all instances any W seconds see at most
 * rate x W + burst starts, whatever the batch size.
 *
 * Lanes = the pipeline's concurrency (TASKPIPE_CONCURRENCY). A change of
 * rate, burst or concurrency makes a new grid: while instances of the old
 * and the new configuration overlap (one function update), both book. */
#ifndef TP_RATE_SCHED_H
#define TP_RATE_SCHED_H

#include "base/base.h"

#include <stdint.h>

struct rsched;

struct rsched_opts {
	const char *table;   /* the state table */
	const char *pk;      /* the item: "rate#<function>" */
	double rate;         /* records per second */
	int burst;           /* records per slot, >= 1 */
	int lanes;           /* instances sharing the rate, >= 1 */
	uint64_t seed;       /* lane choice among equals (randomness injected) */
};

/* Booked slots: slot j starts at first_us + j * stride_us, j < count. */
struct rsched_grant {
	int64_t first_us;
	int64_t stride_us;
	int count;           /* 0: none fits before latest (see next_us) */
	int lane;
	int64_t next_us;     /* the lane's first free slot after these */
};

struct rsched_stats {
	long claims;         /* grants with count > 0 */
	long writes;         /* UpdateItem requests, failed conditions included */
};

int rsched_new(const struct rsched_opts *o, struct rsched **out, tp_err *e);
void rsched_free(struct rsched *s);   /* NULL: no-op */

/* Book up to n slots in one lane, none starting after latest_us, at
 * wall-clock now_us. TP_OK with *g filled (g->count may be below n, or 0
 * when the earliest lane is booked past latest_us); 1 when other instances
 * won every race (try again shortly); < 0 on a DynamoDB error (e filled). */
int rsched_claim(struct rsched *s, int n, int64_t now_us, int64_t latest_us, struct rsched_grant *g, tp_err *e);

/* Give back the end of a grant: the lane's next free slot goes from
 * g->next_us back to free_us (a slot of the grant), if nobody booked after
 * it meanwhile (a conditional UpdateItem: SET lane = :free IF lane =
 * :next). TP_OK whether or not it was given back; < 0 on an error. */
int rsched_release(struct rsched *s, const struct rsched_grant *g, int64_t free_us, tp_err *e);

/* Slot spacing of the grid (us). */
int64_t rsched_step_us(const struct rsched *s);
void rsched_stats(const struct rsched *s, struct rsched_stats *out);

#endif
