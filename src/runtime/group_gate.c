/* group_gate.c: a member's gate on its limit group's schedule (see
 * group_gate.h). */
#include "runtime/group_gate.h"

#include "aws/group_sched.h"
#include "base/base.h"
#include "base/log.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FAIL_LOG_EVERY_MS 60000

struct ggate {
	struct ggate_conf conf;
	struct gsched *sched;
	int64_t fail_logged_ms;
};

static int set(const char *v)
{
	return v && v[0];
}

int ggate_parse(const char *name, const char *rate, const char *burst, const char *pipeline_rate,
		const char *table, struct ggate_conf *conf, char *why, size_t why_len)
{
	memset(conf, 0, sizeof *conf);
	int n = set(name) + set(rate) + set(burst);
	if (n == 0)
		return 0;
	if (n < 3) {
		const char *missing = !set(name) ? "TASKPIPE_LIMIT_GROUP" : !set(rate) ? "TASKPIPE_LIMIT_GROUP_RATE"
										   : "TASKPIPE_LIMIT_GROUP_BURST";
		snprintf(why, why_len, "%s is not set, but TASKPIPE_LIMIT_GROUP%s is ('%.40s'): a limit group needs "
			 "TASKPIPE_LIMIT_GROUP, TASKPIPE_LIMIT_GROUP_RATE and TASKPIPE_LIMIT_GROUP_BURST",
			 missing, set(name) ? "" : set(rate) ? "_RATE" : "_BURST",
			 set(name) ? name : set(rate) ? rate : burst);
		return TP_EINVAL;
	}
	size_t len = strlen(name);
	if (len > GGATE_MAX_NAME || strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") != len) {
		snprintf(why, why_len, "TASKPIPE_LIMIT_GROUP must be 1..%d of [A-Za-z0-9_-] (got '%.60s')", GGATE_MAX_NAME,
			 name);
		return TP_EINVAL;
	}
	char *end;
	double r = strtod(rate, &end);
	if (end == rate || *end || !isfinite(r) || r <= 0) {
		snprintf(why, why_len, "TASKPIPE_LIMIT_GROUP_RATE must be a number of tasks per second > 0 (got '%.40s')",
			 rate);
		return TP_EINVAL;
	}
	long b = strtol(burst, &end, 10);
	if (end == burst || *end || b < 1 || b > GGATE_MAX_BURST) {
		snprintf(why, why_len, "TASKPIPE_LIMIT_GROUP_BURST must be an integer 1..%d (got '%.40s')", GGATE_MAX_BURST,
			 burst);
		return TP_EINVAL;
	}
	if (!set(pipeline_rate)) {
		snprintf(why, why_len, "TASKPIPE_LIMIT_GROUP is set ('%.60s') but TASKPIPE_RATE is not: a member of a "
			 "limit group is paced", name);
		return TP_EINVAL;
	}
	if (!set(table)) {
		snprintf(why, why_len, "TASKPIPE_LIMIT_GROUP is set ('%.60s') but TASKPIPE_RATE_TABLE is not: the "
			 "group's schedule is an item of the state table", name);
		return TP_EINVAL;
	}
	snprintf(conf->name, sizeof conf->name, "%s", name);
	conf->rate = r;
	conf->burst = (int)b;
	return 1;
}

struct ggate *ggate_new(const struct ggate_conf *conf, const char *table)
{
	struct ggate *g = tp_xcalloc(1, sizeof *g);
	g->conf = *conf;
	tp_err e = { 0 };
	struct gsched_opts o = { .table = table, .group = conf->name, .rate = conf->rate, .burst = conf->burst };
	if (gsched_new(&o, &g->sched, &e) < 0) {
		log_error("consume: limit group %s: %s", conf->name, e.message);
		free(g);
		return NULL;
	}
	return g;
}

void ggate_free(struct ggate *g)
{
	if (!g)
		return;
	gsched_free(g->sched);
	free(g);
}

void ggate_release(struct ggate *g, int k)
{
	tp_err e = { 0 };
	if (gsched_release(g->sched, k, &e) < 0)
		log_debug("consume: limit group %s: giving a booking back: %s", g->conf.name, e.message);
}

const char *ggate_name(const struct ggate *g)
{
	return g->conf.name;
}

int ggate_burst(const struct ggate *g)
{
	return g->conf.burst;
}

int ggate_book(struct ggate *g, int k, int64_t at_us, int *booked, int64_t *not_before_us)
{
	tp_err e = { 0 };
	int rc = gsched_book(g->sched, k, at_us, booked, not_before_us, &e);
	if (rc < 0) {
		int64_t t = tp_now_ms();
		if (!g->fail_logged_ms || t - g->fail_logged_ms >= FAIL_LOG_EVERY_MS) {
			log_error("consume: limit group %s: its schedule is unavailable (%s: %s): starting nothing, "
				  "records go back to the queue until it answers (the group's rate is never exceeded)",
				  g->conf.name, e.code, e.message);
			g->fail_logged_ms = t;
		}
		return -1;
	}
	if (rc == 1)
		log_debug("consume: limit group %s: %d record(s) not before %lld ms after the slot", g->conf.name, k,
			  (long long)((*not_before_us - at_us) / 1000));
	/* the cost, for the operator (docs/consumer-layer.md): at 1, 10, 100, ... bookings */
	struct gsched_stats st;
	gsched_stats(g->sched, &st);
	long n = st.booked + st.refused;
	while (n >= 10 && n % 10 == 0)
		n /= 10;
	if (n == 1)
		log_info("consume: limit group %s: %ld sub-batches booked, %ld slots refused, %ld given back, %ld "
			 "UpdateItem writes", g->conf.name, st.booked, st.refused, st.released, st.writes);
	else
		log_debug("consume: limit group %s: %ld sub-batches booked, %ld slots refused, %ld given back, %ld "
			  "UpdateItem writes", g->conf.name, st.booked, st.refused, st.released, st.writes);
	return rc;
}
