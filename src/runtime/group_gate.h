/* group_gate.h: the consumer layer's limit group (taskpipe consume): every
 * sub-batch of a member starts only at a time booked on its group's shared
 * schedule (aws/group_sched.h), as well as at its pipeline's slot.
 *
 * Configured by TASKPIPE_LIMIT_GROUP (the name), TASKPIPE_LIMIT_GROUP_RATE
 * (tasks/s) and TASKPIPE_LIMIT_GROUP_BURST (1..10000), all three or none,
 * with TASKPIPE_RATE and TASKPIPE_RATE_TABLE (the group's item lives in the
 * state table). The group's bound is never traded for availability: when
 * its schedule fails the member starts nothing (the caller hands the
 * records back), unlike the pipeline's schedule, which falls back to a
 * per-instance bucket. */
#ifndef TP_GROUP_GATE_H
#define TP_GROUP_GATE_H

#include <stddef.h>
#include <stdint.h>

#define GGATE_MAX_NAME 200
#define GGATE_MAX_BURST 10000

struct ggate_conf {
	char name[GGATE_MAX_NAME + 1];
	double rate;
	int burst;
};

/* The environment's values (NULL or "" = unset) -> conf. 0: no group; 1: a
 * group (conf filled); < 0: an error naming the variable and its value in
 * why (an init error). Pure: unit-tested. */
int ggate_parse(const char *name, const char *rate, const char *burst, const char *pipeline_rate,
		const char *table, struct ggate_conf *conf, char *why, size_t why_len);

struct ggate;

/* The gate on the group's item in table; NULL on an error (logged). */
struct ggate *ggate_new(const struct ggate_conf *conf, const char *table);
void ggate_free(struct ggate *g);   /* NULL: no-op */

/* Book up to k records (<= the group's burst) to start at wall-clock
 * at_us. 0: *booked (1..k: as many as the group has room for) booked,
 * start exactly then; 1: none fits, *not_before_us = the earliest start
 * at which k could; -1: the schedule failed (logged at most once a minute,
 * naming the group and the error): start nothing. */
int ggate_book(struct ggate *g, int k, int64_t at_us, int *booked, int64_t *not_before_us);

/* The last booking (k records) will not start: give it back if nobody
 * booked after it (errors logged at debug: a booking not given back only
 * slows the group). */
void ggate_release(struct ggate *g, int k);

const char *ggate_name(const struct ggate *g);
int ggate_burst(const struct ggate *g);

#endif
