/* lease.h: per-pipeline leases in the state table, so one writer at a time
 * changes a pipeline (parallel shards, a drift run, a manual apply).
 *
 * A lease is the state-table item pk "lease#<pipeline>" with holder,
 * expires_at (epoch seconds) and fence (the fencing token). Acquiring is one conditional
 * UpdateItem: it succeeds when the item is absent, expired, or already ours
 * (same holder: a re-acquire extends it), and increments fence, so every
 * grant carries a larger token than the one before (fencing). Releasing
 * expires the lease only while holder and token are still ours; the item
 * (and its counter) stays. A holder that dies loses the lease at expiry. */
#ifndef TP_LEASE_H
#define TP_LEASE_H

#include "app.h"

struct lease {
	char *pipeline;        /* owned copy of the name */
	int held;              /* 1 when acquired */
	long long token;       /* fencing token of this grant (held only) */
	int64_t expires_at;    /* epoch seconds (held only) */
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

/* Frees the names in l[0..n) (not l itself). */
void lease_clear(struct lease *l, size_t n);

/* A holder id for this process: "<host>:<pid>:<tag>" into out. */
void lease_holder_id(const char *tag, char *out, size_t len);

#endif
