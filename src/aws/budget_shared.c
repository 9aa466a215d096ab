/* budget_shared.c: the account-wide Lambda budget in the state table (see
 * budget_shared.h). The booking rule is budget_book() in budget.c; here it
 * is carried out atomically by one of two conditional updates, chosen by
 * the last tat seen:
 *   busy: SET tat = tat + :d   IF tat >= :now AND tat <= :now + horizon
 *   idle: SET tat = :now + :d  IF attribute_not_exists(tat) OR tat < :now
 * Together with "tat > :now + horizon" (refused: wait) these cover every
 * state, so a failed condition returns the item (ALL_OLD) and says which
 * form to try next. DynamoDB applies each UpdateItem atomically per item
 * and a ConditionExpression makes it conditional (DynamoDB developer guide,
 * "Condition expressions"; ReturnValuesOnConditionCheckFailure, UpdateItem
 * API reference). Each process uses its own wall clock, NTP-synchronised
 * on Lambda and EC2 hosts; a skew of s ms between two processes lets at
 * most rate * s / 1000 extra tokens through.
 */
#include "aws/budget_shared.h"

#include "aws/aws.h"
#include "aws/awsjson.h"
#include "aws/ddb.h"
#include "base/log.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Microsecond times go through ddb_put_long / ddb_get_long. */
_Static_assert(sizeof(long) >= 8, "budget_shared needs a 64-bit long");

/* Writes per claim at most (each failed condition tells the next form). */
#define CLAIM_TRIES 4

static const char *const tat_attr[2] = { "tat", "get_tat" };

struct bshared {
	struct aws *aws;       /* its own client: claims run inside aws_call_many */
	char *table;
	char *pk;
	double rate[2];        /* booking rate per budget */
	int64_t step[2];
	int64_t last_tat[2];   /* last tat seen, picks the form to try first */
	struct bshared_stats st;
};

int bshared_new(const struct bshared_opts *o, struct bshared **out, tp_err *e)
{
	struct bshared *s = tp_xcalloc(1, sizeof *s);
	/* DynamoDB only: no Lambda budget of its own, a small connection pool. */
	struct aws_options ao = { .max_in_flight = 2, .lambda_rps = -1, .lambda_get_rps = -1 };
	int rc = aws_new(&ao, &s->aws, e);
	if (rc < 0) {
		free(s);
		*out = NULL;
		return rc;
	}
	s->table = tp_xstrdup(o->table);
	s->pk = tp_xstrdup(o->pk ? o->pk : BSHARED_PK);
	double share = 1.0;
	/* A reserve of the whole rate or more would stop the controller: ignore it. */
	if (o->background && o->reserve > 0 && o->reserve < o->rate)
		share = (o->rate - o->reserve) / o->rate;
	s->rate[0] = o->rate * share;
	s->rate[1] = o->get_rate * share;
	for (int i = 0; i < 2; i++) {
		s->step[i] = budget_step_us(s->rate[i]);
		s->last_tat[i] = -1;
	}
	*out = s;
	return TP_OK;
}

void bshared_free(struct bshared *s)
{
	if (!s)
		return;
	aws_free(s->aws);
	free(s->table);
	free(s->pk);
	free(s);
}

double bshared_rate(const struct bshared *s, int cls)
{
	return s->rate[cls ? 1 : 0];
}

void bshared_stats(const struct bshared *s, struct bshared_stats *out)
{
	*out = s->st;
}

/* tat in item (an AttributeValue map), or -1 when absent. int64 fits a
 * long on the LP64 targets taskpipe builds for (x86_64, arm64). */
static int64_t tat_of(const cJSON *item, const char *attr)
{
	return ddb_get_long(item, attr, -1);
}

/* One conditional update. 1: booked, *tat = the new tat; 0: condition
 * failed, *tat = the item's tat (-1 none); < 0: error. */
static int update(struct bshared *s, int cls, int busy, int64_t now, int64_t d, int64_t horizon,
		  int64_t *tat, tp_err *e)
{
	cJSON *in = cJSON_CreateObject();
	cJSON_AddStringToObject(in, "TableName", s->table);
	cJSON_AddItemToObject(in, "Key", ddb_key("pk", s->pk));
	cJSON_AddStringToObject(cJSON_AddObjectToObject(in, "ExpressionAttributeNames"), "#t",
				tat_attr[cls]);
	cJSON *vals = cJSON_AddObjectToObject(in, "ExpressionAttributeValues");
	ddb_put_long(vals, ":now", (long)now);
	if (busy) {
		cJSON_AddStringToObject(in, "UpdateExpression", "SET #t = #t + :d");
		cJSON_AddStringToObject(in, "ConditionExpression", "#t >= :now AND #t <= :h");
		ddb_put_long(vals, ":d", (long)d);
		ddb_put_long(vals, ":h", (long)(now + horizon));
	} else {
		cJSON_AddStringToObject(in, "UpdateExpression", "SET #t = :nd");
		cJSON_AddStringToObject(in, "ConditionExpression", "attribute_not_exists(#t) OR #t < :now");
		ddb_put_long(vals, ":nd", (long)(now + d));
	}
	cJSON_AddStringToObject(in, "ReturnValues", "UPDATED_NEW");
	cJSON_AddStringToObject(in, "ReturnValuesOnConditionCheckFailure", "ALL_OLD");

	struct aws_call c;
	memset(&c, 0, sizeof c);
	awsj_prepare(&c, SVC_DYNAMODB, "UpdateItem", in);
	aws_call_one(s->aws, &c);
	s->st.writes++;
	int rc;
	cJSON *res = NULL;
	if (c.rc == TP_OK) {
		rc = awsj_parse("UpdateItem", c.resp.data, c.resp.len, &res, e);
		if (rc == TP_OK) {
			*tat = tat_of(cJSON_GetObjectItem(res, "Attributes"), tat_attr[cls]);
			rc = *tat >= 0 ? 1 : tp_errf(e, TP_EINVAL, "BadAnswer",
						    "UpdateItem %s: no %s in the answer", s->pk, tat_attr[cls]);
		}
	} else if (strcmp(c.err.code, "ConditionalCheckFailedException") == 0) {
		res = c.resp.len ? cJSON_ParseWithLength(c.resp.data, c.resp.len) : NULL;
		cJSON *item = cJSON_GetObjectItem(res, "Item");
		*tat = tat_of(item, tat_attr[cls]);
		rc = 0;
		/* Absent, the idle form cannot fail; present, it must be a number.
		 * Anything else would have every claim fail forever. */
		if (*tat < 0 && (!busy || cJSON_GetObjectItem(item, tat_attr[cls])))
			rc = tp_errf(e, TP_EINVAL, "BadBudgetItem",
				     "state table item %s: %s is not a number of microseconds (delete the item)",
				     s->pk, tat_attr[cls]);
	} else {
		if (e)
			*e = c.err;
		rc = c.rc;
	}
	cJSON_Delete(res);
	aws_call_free(&c);
	return rc;
}

int bshared_claim(struct bshared *s, int cls, int k, int64_t now_us, struct budget_grant *g,
		  int64_t *wait_us, tp_err *e)
{
	int rc = bshared_claim_within(s, cls, k, now_us, BSHARED_HORIZON_US, g, wait_us, e);
	return rc < 0 ? rc : TP_OK;
}

int bshared_claim_within(struct bshared *s, int cls, int k, int64_t now_us, int64_t horizon_us,
			 struct budget_grant *g, int64_t *wait_us, tp_err *e)
{
	cls = cls ? 1 : 0;
	if (k < 1)
		k = 1;
	*wait_us = 0;
	int64_t step = s->step[cls], d = (int64_t)k * step;
	int busy = s->last_tat[cls] >= now_us;
	for (int i = 0; i < CLAIM_TRIES; i++) {
		int64_t tat = -1;
		int rc = update(s, cls, busy, now_us, d, horizon_us, &tat, e);
		if (rc < 0)
			return rc;
		if (rc == 1) {
			s->last_tat[cls] = tat;
			*g = (struct budget_grant){ .start_us = tat - d, .step_us = step, .count = k };
			s->st.claims++;
			s->st.tokens += k;
			return TP_OK;
		}
		/* The item says where the schedule stands: book from there, or wait. */
		struct budget_booking b;
		budget_book(tat, now_us, k, step, horizon_us, &b);
		s->last_tat[cls] = tat;
		if (!b.ok) {
			s->st.refused++;
			*wait_us = b.wait_us > 0 ? b.wait_us : step;
			return 1;
		}
		busy = tat >= now_us;
	}
	/* Others won every race: they are booking; come back one slot later. */
	s->st.refused++;
	*wait_us = step;
	return TP_OK;
}
