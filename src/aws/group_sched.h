/* group_sched.h: a limit group's schedule in the state table, shared by
 * every instance of every member (different functions, different
 * pipelines) of the group (the consumer layer, runtime/group_gate.c).
 *
 * One item, pk "limit#<group>", holds one number: attribute "tat", the
 * theoretical arrival time of GCRA (the "generic cell rate algorithm", a
 * token bucket kept as one number) in wall-clock microseconds. With the
 * emission interval T = 1/rate and the capacity b = burst, a booking of
 * k <= b records starting at s conforms iff
 *     max(TAT, s) + kT <= s + bT
 * and sets TAT' = max(TAT, s) + kT.
 *
 * The bound, for ANY order of bookings (their s need not grow): in every
 * window [a, a + W], at most rate x W + b records start. Take the bookings
 * whose starts fall in the window, in the order they were written, sizes
 * k1, k2, ...: after the first, TAT >= s1 + k1 T >= a + k1 T; each later
 * one adds its k T to a TAT that only grows (max(TAT, s) >= TAT); so after
 * the last, TAT' >= a + (sum k) T; and that booking conformed, so
 * TAT' <= s_last + bT <= a + W + bT. Hence (sum k) T <= W + bT: sum k <=
 * rate x W + b. T is rounded up to whole microseconds (a rate no higher
 * than the one given), so the integer arithmetic keeps the bound.
 *
 * Each booking is one conditional UpdateItem, no read (the item is learnt
 * from the write's answer: ALL_NEW, or ALL_OLD on a failed condition):
 *   TAT as last seen <= s: SET tat = :new IF attribute_not_exists(tat) OR tat <= :s
 *                          (:new = s + kT)
 *   else:                  SET tat = tat + :kT IF tat <= :limit
 *                          (:limit = s + (b - k)T)
 * Both conditions are exactly "conforming at s" for the TAT in the table.
 * (The requests name the attribute #t.) */
#ifndef TP_GROUP_SCHED_H
#define TP_GROUP_SCHED_H

#include "base/base.h"

#include <stdint.h>

struct gsched;

struct gsched_opts {
	const char *table;   /* the state table */
	const char *group;   /* the item is "limit#<group>" */
	double rate;         /* records per second, > 0 */
	int burst;           /* b >= 1 */
};

struct gsched_stats {
	long booked;         /* bookings written */
	long refused;        /* not conforming at the asked time */
	long released;       /* bookings given back unused */
	long writes;         /* UpdateItem requests, failed conditions included */
};

int gsched_new(const struct gsched_opts *o, struct gsched **out, tp_err *e);
void gsched_free(struct gsched *g);   /* NULL: no-op */

/* Book up to k records (1 <= k <= burst) to start at wall-clock at_us:
 * as many as conform then, so a slot where the bucket has room for fewer
 * than k is used, not lost. TP_OK: *booked (1..k) booked; 1: not even one
 * conforms at at_us, *not_before_us = the earliest start at which k do on
 * the item as last seen (others may book before then); < 0: a DynamoDB
 * error (e filled). */
int gsched_book(struct gsched *g, int k, int64_t at_us, int *booked, int64_t *not_before_us, tp_err *e);

/* Give back this process's last booking (k records, made by the last
 * gsched_book) that will not start: TAT goes back by kT if nobody booked
 * after it (SET tat = :back IF tat = :ours), which leaves the item at least
 * as strict as before the booking. TP_OK whether or not it was given back;
 * < 0 on an error. */
int gsched_release(struct gsched *g, int k, tp_err *e);

void gsched_stats(const struct gsched *g, struct gsched_stats *out);
int64_t gsched_interval_us(const struct gsched *g);

/* ---- the arithmetic (pure, unit-tested) ----
 * tat_us < 0: no booking yet. t_us: the emission interval. */

/* 1 when k records may start at s. */
int gcra_conforms(int64_t tat_us, int64_t s_us, int k, int burst, int64_t t_us);
/* The TAT after booking k at s. */
int64_t gcra_after(int64_t tat_us, int64_t s_us, int k, int64_t t_us);
/* The most records (<= burst) that conform at s; 0 none. */
int gcra_fit(int64_t tat_us, int64_t s_us, int burst, int64_t t_us);
/* The earliest start >= s_us at which k records conform. */
int64_t gcra_not_before(int64_t tat_us, int64_t s_us, int k, int burst, int64_t t_us);

#endif
