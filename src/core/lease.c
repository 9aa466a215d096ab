/* lease.c: per-pipeline leases in the state table (see lease.h). */
#include "core/lease.h"
#include "base/settings_table.h"

#include "base/log.h"
#include "core/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The grant's condition compares expires_at with our clock minus the skew
 * margin: a lease is taken over only once it expired more than the margin
 * ago (lease_takeover_ok). */
static void acquire_prepare(struct aws_call *c, struct app *app, const char *pipeline,
			    const char *holder, int ttl_s, int64_t now)
{
	store_lease_grant_prepare(c, app->set.state_table, pipeline, holder, now + ttl_s,
				  now - lease_skew_s());
}

/* Fill l from a finished acquire call. */
static void acquired(struct lease *l, const struct aws_call *c, int ttl_s, int64_t now)
{
	int rc = c->rc;
	const tp_err *err = &c->err;
	l->ttl_s = ttl_s;
	l->granted_at = now;
	if (rc < 0) {
		l->err = *err;
		if (store_condition_failed(err))
			tp_errf(&l->err, TP_ECONFLICT, "LeaseHeld",
				"pipeline %s is being changed by another run; retry later", l->pipeline);
		return;
	}
	l->held = 1;
	store_lease_granted(c, &l->token, &l->expires_at);
}

int lease_acquire(struct app *app, const char *pipeline, const char *holder, int ttl_s,
		  struct lease *out, tp_err *e)
{
	memset(out, 0, sizeof *out);
	out->pipeline = tp_xstrdup(pipeline);
	struct aws_call c;
	int64_t now = tp_now_ms() / 1000;
	acquire_prepare(&c, app, pipeline, holder, ttl_s, now);
	aws_call_one(app->aws, &c);
	acquired(out, &c, ttl_s, now);
	aws_call_free(&c);
	if (!out->held && e)
		*e = out->err;
	return out->held ? TP_OK : out->err.rc;
}

int lease_release(struct app *app, struct lease *l, const char *holder, tp_err *e)
{
	if (!l->held)
		return TP_OK;
	struct aws_call c;
	store_lease_release_prepare(&c, app->set.state_table, l->pipeline, holder, l->token);
	int rc = aws_call_one(app->aws, &c);
	tp_err err = c.err;
	aws_call_free(&c);
	l->held = 0;
	if (rc < 0 && store_condition_failed(&err))
		rc = tp_errf(&err, TP_ECONFLICT, "LeaseLost", "lease on %s expired and was taken over",
			     l->pipeline);
	if (rc < 0 && e)
		*e = err;
	return rc;
}

size_t lease_acquire_many(struct app *app, char *const *pipelines, size_t n, const char *holder,
			  int ttl_s, struct lease *out)
{
	struct aws_call *calls = tp_xcalloc(n ? n : 1, sizeof *calls);
	int64_t now = tp_now_ms() / 1000;
	for (size_t i = 0; i < n; i++) {
		memset(&out[i], 0, sizeof out[i]);
		out[i].pipeline = tp_xstrdup(pipelines[i]);
		acquire_prepare(&calls[i], app, pipelines[i], holder, ttl_s, now);
	}
	aws_call_many(app->aws, calls, n);
	size_t held = 0;
	for (size_t i = 0; i < n; i++) {
		acquired(&out[i], &calls[i], ttl_s, now);
		held += (size_t)out[i].held;
		aws_call_free(&calls[i]);
	}
	free(calls);
	return held;
}

void lease_release_many(struct app *app, struct lease *l, size_t n, const char *holder)
{
	struct aws_call *calls = tp_xcalloc(n ? n : 1, sizeof *calls);
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (l[i].held)
			store_lease_release_prepare(&calls[k++], app->set.state_table, l[i].pipeline,
						    holder, l[i].token);
	aws_call_many(app->aws, calls, k);
	for (size_t i = 0; i < k; i++) {
		/* Best effort: an unreleased lease only delays the next run until it expires. */
		if (calls[i].rc < 0)
			log_warn("lease release: %s: %.200s", calls[i].err.code, calls[i].err.message);
		aws_call_free(&calls[i]);
	}
	for (size_t i = 0; i < n; i++)
		l[i].held = 0;
	free(calls);
}

size_t lease_renew_many(struct app *app, struct lease *l, size_t n, const char *holder)
{
	struct aws_call *calls = tp_xcalloc(n ? n : 1, sizeof *calls);
	size_t *idx = tp_xcalloc(n ? n : 1, sizeof *idx), k = 0, renewed = 0;
	int64_t now = tp_now_ms() / 1000;
	for (size_t i = 0; i < n; i++)
		if (l[i].held && lease_should_renew(l[i].granted_at, l[i].expires_at, now)) {
			store_lease_renew_prepare(&calls[k], app->set.state_table, l[i].pipeline, holder,
						  l[i].token, now + l[i].ttl_s);
			idx[k++] = i;
		}
	if (k)
		aws_call_many(app->aws, calls, k);
	for (size_t j = 0; j < k; j++) {
		struct lease *x = &l[idx[j]];
		if (calls[j].rc == TP_OK) {
			x->granted_at = now;
			x->expires_at = now + x->ttl_s;
			x->renewals++;
			renewed++;
		} else if (store_condition_failed(&calls[j].err)) {
			x->held = 0;
			tp_errf(&x->err, TP_ECONFLICT, "LeaseLost",
				"lease on %s expired and was taken over before it was renewed", x->pipeline);
		} else {
			/* Kept: the lease still runs until expires_at; the next step retries. */
			log_warn("lease renew %s: %s: %.200s", x->pipeline, calls[j].err.code,
				 calls[j].err.message);
		}
		aws_call_free(&calls[j]);
	}
	free(calls);
	free(idx);
	return renewed;
}

int lease_skew_s(void)
{
	return (int)setting_long_or_warn(SET_LEASE_SKEW_S);   /* default LEASE_SKEW_DEFAULT_S */
}

int lease_ttl_cap_s(void)
{
	return (int)setting_long_or_warn(SET_LEASE_TTL_S);   /* default LEASE_TTL_DEFAULT_S */
}

int lease_ttl_for(int64_t now_ms, int64_t deadline_ms, int cap_s)
{
	int64_t ttl = cap_s;
	if (deadline_ms) {
		int64_t left = (deadline_ms - now_ms) / 1000;
		if (left < 0)
			left = 0;
		if (left + LEASE_MARGIN_S < ttl)
			ttl = left + LEASE_MARGIN_S;
	}
	return ttl < 1 ? 1 : (int)ttl;
}

int lease_takeover_ok(int64_t expires_at, int64_t now, int skew_s)
{
	return expires_at < now - skew_s;
}

int lease_should_renew(int64_t granted_at, int64_t expires_at, int64_t now)
{
	return now >= granted_at + (expires_at - granted_at) / 2;
}

void lease_clear(struct lease *l, size_t n)
{
	for (size_t i = 0; l && i < n; i++) {
		free(l[i].pipeline);
		l[i].pipeline = NULL;
	}
}

void lease_holder_id(const char *tag, char *out, size_t len)
{
	char host[128] = "host";
	gethostname(host, sizeof host - 1);
	host[sizeof host - 1] = 0;
	snprintf(out, len, "%s:%ld:%s", host, (long)getpid(), tag ? tag : "");
}
