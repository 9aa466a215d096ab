/* lease.h: per-pipeline leases in the state table, so one writer at a time
 * changes a pipeline (parallel shards, a drift run, a manual apply).
 *
 * A lease is the state-table item pk "lease#<pipeline>" (store.h) with holder,
 * expires_at (epoch seconds) and fence (the fencing token). Acquiring is one conditional
 * UpdateItem: it succeeds when the item is absent, expired, or already ours
 * (same holder: a re-acquire extends it), and increments fence, so every
 * grant carries a larger token than the one before (fencing). Releasing
 * expires the lease only while holder and token are still ours; the item
 * (and its counter) stays. A holder that dies loses the lease at expiry.
 *
 * Leases are sized to the run (lease_ttl_for: never longer than the time
 * left before the run's deadline plus a margin, capped at
 * TASKPIPE_LEASE_TTL_S, default 120 s) and renewed by a run that lasts
 * longer than half of one (lease_should_renew, lease_renew_many), so a
 * killed run blocks its pipelines for at most one lease length.
 *
 * Clock skew: expires_at is the granting host's clock. Another host takes a
 * lease over only once it expired more than TASKPIPE_LEASE_SKEW_S (default
 * 30 s) ago by its own clock (lease_takeover_ok), so clocks up to that far
 * apart never see two holders at once. */
#ifndef TP_LEASE_H
#define TP_LEASE_H

#include "core/app.h"

struct lease {
	char *pipeline;        /* owned copy of the name */
	int held;              /* 1 when acquired */
	long long token;       /* fencing token of this grant (held only) */
	int64_t expires_at;    /* epoch seconds (held only) */
	int64_t granted_at;    /* epoch seconds of the grant or the last renewal */
	int ttl_s;             /* length asked for */
	int renewals;          /* successful renewals of this grant */
	tp_err err;            /* why not held: LeaseHeld (TP_ECONFLICT) or the AWS error */
};

/* Acquire one lease for ttl_s seconds. TP_ECONFLICT when someone else holds it. */
int lease_acquire(struct app *app, const char *pipeline, const char *holder, int ttl_s,
		  struct lease *out, tp_err *e);
/* Release a held lease (no-op when not held). TP_ECONFLICT when it was lost
 * (expired and taken over): the caller's work may have raced a newer holder. */
int lease_release(struct app *app, struct lease *l, const char *holder, tp_err *e);

/* The same for n pipelines at once (concurrent requests). out[i] is filled
 * for every name; returns how many are held. */
size_t lease_acquire_many(struct app *app, char *const *pipelines, size_t n, const char *holder,
			  int ttl_s, struct lease *out);
void lease_release_many(struct app *app, struct lease *l, size_t n, const char *holder);

/* Extend every held lease in l[0..n) whose half-life has passed
 * (lease_should_renew) by its ttl_s, conditionally on holder and token.
 * A lease another holder took over is marked not held with err LeaseLost.
 * Returns how many were renewed. */
size_t lease_renew_many(struct app *app, struct lease *l, size_t n, const char *holder);

/* Pure parts (unit-tested). */
#define LEASE_TTL_DEFAULT_S 120
#define LEASE_MARGIN_S 10     /* past the deadline: the process may be frozen, not dead */
#define LEASE_SKEW_DEFAULT_S 30
/* TASKPIPE_LEASE_SKEW_S, else LEASE_SKEW_DEFAULT_S. */
int lease_skew_s(void);
/* TASKPIPE_LEASE_TTL_S, else LEASE_TTL_DEFAULT_S. */
int lease_ttl_cap_s(void);
/* The lease length for a run with deadline_ms (0: none) at now_ms:
 * min(time left + LEASE_MARGIN_S, cap); cap without a deadline; at least 1. */
int lease_ttl_for(int64_t now_ms, int64_t deadline_ms, int cap_s);
/* May a lease expiring at expires_at be taken over at now (seconds)? Only
 * when it expired more than skew_s ago. */
int lease_takeover_ok(int64_t expires_at, int64_t now, int skew_s);
/* Should a holder renew a lease granted (or last renewed) at granted_at
 * that expires at expires_at, now? Once half of it has passed. */
int lease_should_renew(int64_t granted_at, int64_t expires_at, int64_t now);

/* Frees the names in l[0..n) (not l itself). */
void lease_clear(struct lease *l, size_t n);

/* A holder id for this process: "<host>:<pid>:<tag>" into out. */
void lease_holder_id(const char *tag, char *out, size_t len);

#endif
