/* group_sched.c: a limit group's GCRA schedule in the state table (see
 * group_sched.h). The request building is ddb_cond_update's (ddb.h), which
 * rate_sched.c uses too. */
#include "aws/group_sched.h"

#include "aws/aws.h"
#include "aws/budget.h"
#include "aws/ddb.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(sizeof(long) >= 8, "group_sched needs a 64-bit long");

/* Writes per booking before giving the caller "not conforming" back: each
 * lost race teaches this process the TAT another instance wrote. */
#define BOOK_TRIES 4

struct gsched {
	struct aws *aws;
	char *table;
	char *pk;
	int burst;
	int64_t t;           /* emission interval, us (rounded up) */
	int64_t tat;         /* as last seen; -1 none */
	int64_t ours;        /* TAT after this process's last booking; -1 none */
	struct gsched_stats st;
};

int gcra_conforms(int64_t tat_us, int64_t s_us, int k, int burst, int64_t t_us)
{
	int64_t from = tat_us > s_us ? tat_us : s_us;
	return k <= burst && from + (int64_t)k * t_us <= s_us + (int64_t)burst * t_us;
}

int64_t gcra_after(int64_t tat_us, int64_t s_us, int k, int64_t t_us)
{
	return (tat_us > s_us ? tat_us : s_us) + (int64_t)k * t_us;
}

int gcra_fit(int64_t tat_us, int64_t s_us, int burst, int64_t t_us)
{
	int64_t from = tat_us > s_us ? tat_us : s_us, room = s_us + (int64_t)burst * t_us - from;
	return room < t_us ? 0 : (int)(room / t_us > burst ? burst : room / t_us);
}

int64_t gcra_not_before(int64_t tat_us, int64_t s_us, int k, int burst, int64_t t_us)
{
	/* for s >= TAT any k <= b conforms; below it, TAT + kT <= s + bT */
	int64_t nb = tat_us - (int64_t)(burst - k) * t_us;
	return nb > s_us ? nb : s_us;
}

int gsched_new(const struct gsched_opts *o, struct gsched **out, tp_err *e)
{
	*out = NULL;
	if (!(o->rate > 0) || o->burst < 1 || !o->group || !o->group[0])
		return tp_errf(e, TP_EINVAL, "BadSchedule", "group schedule: a group name, rate and burst are needed");
	struct gsched *g = tp_xcalloc(1, sizeof *g);
	struct aws_options ao = { .max_in_flight = 2, .lambda_rps = -1, .lambda_get_rps = -1 };
	int rc = aws_new(&ao, &g->aws, e);
	if (rc < 0) {
		free(g);
		return rc;
	}
	char pk[256];
	snprintf(pk, sizeof pk, "limit#%s", o->group);
	g->table = tp_xstrdup(o->table);
	g->pk = tp_xstrdup(pk);
	g->burst = o->burst;
	g->t = budget_step_us(o->rate);
	g->tat = -1;
	g->ours = -1;
	*out = g;
	return TP_OK;
}

void gsched_free(struct gsched *g)
{
	if (!g)
		return;
	aws_free(g->aws);
	free(g->table);
	free(g->pk);
	free(g);
}

void gsched_stats(const struct gsched *g, struct gsched_stats *out)
{
	*out = g->st;
}

int64_t gsched_interval_us(const struct gsched *g)
{
	return g->t;
}

/* The request's common part. */
static cJSON *request(struct gsched *g, cJSON **vals)
{
	cJSON *in = cJSON_CreateObject();
	cJSON_AddStringToObject(in, "TableName", g->table);
	cJSON_AddItemToObject(in, "Key", ddb_key("pk", g->pk));
	/* a name, not the attribute itself: no clash with DynamoDB's reserved words */
	cJSON_AddStringToObject(cJSON_AddObjectToObject(in, "ExpressionAttributeNames"), "#t", "tat");
	*vals = cJSON_AddObjectToObject(in, "ExpressionAttributeValues");
	return in;
}

/* Send in, learn the TAT from the answer: 1 written, 0 condition failed,
 * < 0 error. */
static int send_learn(struct gsched *g, cJSON *in, tp_err *e)
{
	cJSON *item = NULL;
	int rc = ddb_cond_update(g->aws, in, &item, e);
	g->st.writes++;
	if (rc >= 0) {
		const cJSON *tat = cJSON_GetObjectItem(item, "tat");
		g->tat = ddb_get_long(item, "tat", -1);
		/* present but not a number: every booking would fail */
		if (tat && g->tat < 0)
			rc = tp_errf(e, TP_EINVAL, "BadScheduleItem",
				     "state table item %s: tat is not a number of microseconds (delete the item)", g->pk);
	}
	cJSON_Delete(item);
	return rc;
}

/* One conditional write of k at s for the TAT as last seen: 1 booked, 0
 * condition failed (TAT learnt), < 0 error. */
static int write_booking(struct gsched *g, int k, int64_t s, tp_err *e)
{
	cJSON *vals, *in = request(g, &vals);
	if (g->tat <= s) {
		/* an empty bucket as far as this process knows: start it at s */
		ddb_put_long(vals, ":new", (long)(s + (int64_t)k * g->t));
		ddb_put_long(vals, ":s", (long)s);
		cJSON_AddStringToObject(in, "UpdateExpression", "SET #t = :new");
		cJSON_AddStringToObject(in, "ConditionExpression", "attribute_not_exists(#t) OR #t <= :s");
	} else {
		ddb_put_long(vals, ":kT", (long)((int64_t)k * g->t));
		ddb_put_long(vals, ":limit", (long)(s + (int64_t)(g->burst - k) * g->t));
		cJSON_AddStringToObject(in, "UpdateExpression", "SET #t = #t + :kT");
		cJSON_AddStringToObject(in, "ConditionExpression", "#t <= :limit");
	}
	return send_learn(g, in, e);
}

int gsched_release(struct gsched *g, int k, tp_err *e)
{
	if (g->ours < 0 || g->tat != g->ours || k < 1)
		return TP_OK;   /* another booking came after ours (as far as known) */
	cJSON *vals, *in = request(g, &vals);
	ddb_put_long(vals, ":ours", (long)g->ours);
	ddb_put_long(vals, ":back", (long)(g->ours - (int64_t)k * g->t));
	cJSON_AddStringToObject(in, "UpdateExpression", "SET #t = :back");
	cJSON_AddStringToObject(in, "ConditionExpression", "#t = :ours");
	g->ours = -1;
	int rc = send_learn(g, in, e);
	if (rc == 1)
		g->st.released++;
	return rc < 0 ? rc : TP_OK;
}

int gsched_book(struct gsched *g, int k, int64_t at_us, int *booked, int64_t *not_before_us, tp_err *e)
{
	*not_before_us = at_us;
	*booked = 0;
	if (k < 1 || k > g->burst)
		return tp_errf(e, TP_EINVAL, "BadBooking", "group schedule %s: %d records in one booking (burst %d)",
			       g->pk, k, g->burst);
	for (int i = 0; i < BOOK_TRIES; i++) {
		/* unknown TAT (-1): try all k; the failed condition tells */
		int fit = gcra_fit(g->tat, at_us, g->burst, g->t);
		if (fit > k)
			fit = k;
		if (fit < 1)
			break;
		int rc = write_booking(g, fit, at_us, e);
		if (rc < 0)
			return rc;
		if (rc == 1) {
			g->st.booked++;
			g->ours = g->tat;
			*booked = fit;
			return TP_OK;
		}
	}
	g->st.refused++;
	*not_before_us = gcra_not_before(g->tat, at_us, k, g->burst, g->t);
	if (*not_before_us <= at_us)   /* lost every race: at_us is taken */
		*not_before_us = at_us + 1;
	return 1;
}
