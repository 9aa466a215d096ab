/* rate_sched.c: a pipeline's lane schedule in the state table (see
 * rate_sched.h; the slot arithmetic is budget_lane_* in budget.c).
 *
 * A claim picks the lane whose next free slot comes first (as last seen),
 * or one at random among those free within one lane period, so instances
 * starting together spread over the lanes, and books with
 *   SET #l = :new  IF attribute_not_exists(#l) OR #l <= :first
 * which holds exactly when no slot from :first on is booked in that lane.
 * Success returns the whole item (ALL_NEW), a failed condition the item
 * as it was (ALL_OLD): either way this process learns every lane's state
 * from its own writes and needs no read. */
#include "aws/rate_sched.h"

#include "aws/aws.h"
#include "aws/awsjson.h"
#include "aws/budget.h"
#include "aws/ddb.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(sizeof(long) >= 8, "rate_sched needs a 64-bit long");

#define CLAIM_TRIES 4
/* Each lane is one attribute of the one item: 100 keep it near 1 KB (a
 * write of a bigger item costs one WCU per KB). */
#define MAX_LANES 100

struct rsched {
	struct aws *aws;
	char *table;
	char *pk;
	int lanes;
	int64_t step;        /* grid spacing: burst / rate seconds */
	int64_t *tat;        /* per lane, as last seen; -1 none */
	uint64_t rng;
	struct rsched_stats st;
};

int rsched_new(const struct rsched_opts *o, struct rsched **out, tp_err *e)
{
	*out = NULL;
	if (!(o->rate > 0) || o->burst < 1 || o->lanes < 1)
		return tp_errf(e, TP_EINVAL, "BadSchedule", "rate schedule: rate, burst and lanes must be positive");
	struct rsched *s = tp_xcalloc(1, sizeof *s);
	struct aws_options ao = { .max_in_flight = 2, .lambda_rps = -1, .lambda_get_rps = -1 };
	int rc = aws_new(&ao, &s->aws, e);
	if (rc < 0) {
		free(s);
		return rc;
	}
	s->table = tp_xstrdup(o->table);
	s->pk = tp_xstrdup(o->pk);
	s->lanes = o->lanes > MAX_LANES ? MAX_LANES : o->lanes;
	s->step = budget_step_us(o->rate / o->burst);
	s->tat = tp_xcalloc((size_t)s->lanes, sizeof *s->tat);
	for (int i = 0; i < s->lanes; i++)
		s->tat[i] = -1;
	s->rng = o->seed ? o->seed : 0x9e3779b97f4a7c15ULL;
	*out = s;
	return TP_OK;
}

void rsched_free(struct rsched *s)
{
	if (!s)
		return;
	aws_free(s->aws);
	free(s->table);
	free(s->pk);
	free(s->tat);
	free(s);
}

int64_t rsched_step_us(const struct rsched *s)
{
	return s->step;
}

void rsched_stats(const struct rsched *s, struct rsched_stats *out)
{
	*out = s->st;
}

static uint64_t next_random(struct rsched *s)
{
	/* xorshift64 */
	s->rng ^= s->rng << 13;
	s->rng ^= s->rng >> 7;
	s->rng ^= s->rng << 17;
	return s->rng;
}

static void learn(struct rsched *s, const cJSON *item)
{
	char name[16];
	for (int i = 0; i < s->lanes; i++) {
		snprintf(name, sizeof name, "l%d", i);
		s->tat[i] = ddb_get_long(item, name, -1);
	}
}

/* The lane to book: the earliest first; after a lost race at random among
 * those free within one lane period of the earliest and not past latest
 * (instances starting together spread over the lanes); the earliest when
 * none is. */
static int pick_lane(struct rsched *s, int64_t now, int64_t latest, int spread)
{
	int64_t period = (int64_t)s->lanes * s->step, best = INT64_MAX;
	int best_lane = 0;
	for (int i = 0; i < s->lanes; i++) {
		int64_t f = budget_lane_first(s->tat[i], now, i, s->lanes, s->step);
		if (f < best) {
			best = f;
			best_lane = i;
		}
	}
	if (!spread)
		return best_lane;
	int cand[MAX_LANES], n = 0;
	for (int i = 0; i < s->lanes; i++) {
		int64_t f = budget_lane_first(s->tat[i], now, i, s->lanes, s->step);
		if (f < best + period && f <= latest)
			cand[n++] = i;
	}
	return n ? cand[next_random(s) % (uint64_t)n] : best_lane;
}

/* 1 booked, 0 condition failed (lanes learnt), < 0 error. release: the
 * condition is "lane = :first" (give slots back), else "lane <= :first". */
static int update(struct rsched *s, int lane, int64_t first, int64_t new_tat, int release, tp_err *e)
{
	char name[16];
	snprintf(name, sizeof name, "l%d", lane);
	cJSON *in = cJSON_CreateObject();
	cJSON_AddStringToObject(in, "TableName", s->table);
	cJSON_AddItemToObject(in, "Key", ddb_key("pk", s->pk));
	cJSON_AddStringToObject(cJSON_AddObjectToObject(in, "ExpressionAttributeNames"), "#l", name);
	cJSON *vals = cJSON_AddObjectToObject(in, "ExpressionAttributeValues");
	ddb_put_long(vals, ":first", (long)first);
	ddb_put_long(vals, ":new", (long)new_tat);
	cJSON_AddStringToObject(in, "UpdateExpression", "SET #l = :new");
	cJSON_AddStringToObject(in, "ConditionExpression",
				release ? "#l = :first" : "attribute_not_exists(#l) OR #l <= :first");
	cJSON *item = NULL;
	int rc = ddb_cond_update(s->aws, in, &item, e);
	s->st.writes++;
	if (rc >= 0)
		learn(s, item);
	/* Present but not a number: every claim on this lane would fail. */
	if (rc == 0 && s->tat[lane] < 0 && !release)
		rc = tp_errf(e, TP_EINVAL, "BadScheduleItem",
			     "state table item %s: %s is not a number of microseconds (delete the item)",
			     s->pk, name);
	cJSON_Delete(item);
	return rc;
}

int rsched_claim(struct rsched *s, int n, int64_t now_us, int64_t latest_us, struct rsched_grant *g, tp_err *e)
{
	if (n < 1)
		n = 1;
	int64_t stride = (int64_t)s->lanes * s->step;
	for (int i = 0; i < CLAIM_TRIES; i++) {
		int lane = pick_lane(s, now_us, latest_us, i > 0);
		int64_t first = budget_lane_first(s->tat[lane], now_us, lane, s->lanes, s->step);
		int fit = budget_lane_fit(first, latest_us, n, s->lanes, s->step);
		*g = (struct rsched_grant){ .first_us = first, .stride_us = stride, .count = 0, .lane = lane,
					    .next_us = first };
		if (fit == 0)
			return TP_OK;
		int rc = update(s, lane, first, first + fit * stride, 0, e);
		if (rc < 0)
			return rc;
		if (rc == 1) {
			g->count = fit;
			g->next_us = first + fit * stride;
			s->st.claims++;
			return TP_OK;
		}
	}
	return 1;
}

int rsched_release(struct rsched *s, const struct rsched_grant *g, int64_t free_us, tp_err *e)
{
	if (g->count <= 0 || free_us >= g->next_us)
		return TP_OK;
	int rc = update(s, g->lane, g->next_us, free_us, 1, e);
	return rc < 0 ? rc : TP_OK;
}
