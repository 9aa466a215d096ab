/* reconcile_drain.c: what a run deletes of a pipeline whose item is gone
 * (or past its expires_at), after observation (see reconcile.h).
 *
 * A removed pipeline drains: mapping and function keep consuming while the
 * queue holds tasks. SQS's Approximate* counts "may not achieve consistency
 * until at least 1 minute after the producers stop sending"
 * (GetQueueAttributes), so one read of zero proves nothing: the queue is
 * empty only when all three counts read zero twice, at least a settle time
 * (60 s) apart, with no non-zero read between. Then mapping, function and
 * queue go. When drain_timeout (the last applied spec's, default 24 h) runs
 * out first, mapping and function go and the queue stays, kept like a DLQ
 * with messages: tasks are never deleted with their queue. The DLQ (and a
 * kept queue) are judged on counts read once mapping and function have been
 * gone a settle time (nothing moves messages into them after that): empty
 * ones go, one holding messages is kept (status kept) unless the spec said
 * dlq.keep_if_not_empty false. The progress lives in the state record
 * (store.h drain_*), so any later run continues it: the scheduled drift
 * repair and apply --all visit draining pipelines.
 *
 * delete_now (rm --now): everything goes in this run, messages included;
 * the result says how many were dropped. */
#include "core/reconcile/reconcile_int.h"
#include "base/settings_table.h"

#include "aws/ddb.h"
#include "core/store.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#define DRAIN_TIMEOUT_DEFAULT_S 86400

/* The settle time; TASKPIPE_DRAIN_SETTLE_S is a test knob (tests scale the
 * counts' lag down with the AWS-faithful layer). */
long rc_drain_settle_s(void)
{
	return setting_long_or_warn(SET_DRAIN_SETTLE_S);
}

/* Messages in a queue by its three Approximate counts; -1: not read. */
long rc_queue_messages(const cJSON *attrs)
{
	static const char *const counts[] = { "ApproximateNumberOfMessages",
					      "ApproximateNumberOfMessagesNotVisible",
					      "ApproximateNumberOfMessagesDelayed" };
	if (!attrs)
		return -1;
	long n = 0;
	for (int i = 0; i < 3; i++) {
		const char *v = cJSON_GetStringValue(cJSON_GetObjectItem(attrs, counts[i]));
		if (!v)
			return -1;
		n += atol(v);
	}
	return n;
}

/* The item is gone or past its expires_at. */
int rc_item_expired(const cJSON *item, long now)
{
	long at = ddb_get_long(item, "expires_at", 0);
	return at > 0 && at <= now;
}

static void add(struct diff_list *l, enum diff_res res, enum diff_act act, char *note)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 8;
		l->v = tp_xrealloc(l->v, l->cap * sizeof *l->v);
	}
	struct diff_change *c = &l->v[l->n++];
	memset(c, 0, sizeof *c);
	c->res = res;
	c->act = act;
	c->note = note;
}

/* The last spec's drain_timeout (seconds > 0), else the default. */
static long spec_drain_timeout(const cJSON *spec)
{
	struct spec_record old;
	spec_record_read(spec, &old);
	long t = old.drain_timeout != SPEC_UNSET ? old.drain_timeout : DRAIN_TIMEOUT_DEFAULT_S;
	spec_record_free(&old);
	return t;
}

/* A queue whose consumers have been gone a settle time: delete it when
 * empty, else keep it (a DLQ only when the spec asks to). Returns the
 * messages kept (0: deleted or absent). */
static long judge_queue(struct rec *p, int dlq, int *del)
{
	const char *url = dlq ? p->dlq_url : p->q_url;
	if (!url)
		return 0;
	long n = rc_queue_messages(dlq ? p->dlq_attrs : p->q_attrs);
	struct spec_record old;
	spec_record_read(p->old_spec, &old);
	int keep = old.keep_dlq;
	spec_record_free(&old);
	if (n == 0 || (dlq && n > 0 && !keep)) {
		*del = 1;
		add(&p->changes, dlq ? DIFF_DLQ : DIFF_QUEUE, DIFF_DELETE, NULL);
		return 0;
	}
	if (n < 0)  /* counts unknown: judge again next time */
		return 0;
	add(&p->changes, dlq ? DIFF_DLQ : DIFF_QUEUE, DIFF_KEEP, tp_xasprintf("kept: %ld messages", n));
	return n;
}

static void consumers_go(struct rec *p)
{
	p->del.consumers = 1;
	if (p->esm)
		add(&p->changes, DIFF_MAPPING, DIFF_DELETE, NULL);
	if (p->fn)
		add(&p->changes, DIFF_FUNCTION, DIFF_DELETE, NULL);
}

void rc_drain_decide(struct run *r, struct rec *p)
{
	long now = (long)(tp_now_ms() / 1000), settle = rc_drain_settle_s();
	struct rec_drain *d = &p->drain;
	d->started_at = ddb_get_long(p->state, "drain_started_at", 0);
	d->timeout = ddb_get_long(p->state, "drain_timeout", 0);
	d->empty_at = ddb_get_long(p->state, "drain_empty_at", 0);
	d->gone_at = ddb_get_long(p->state, "consumers_gone_at", 0);
	d->kept_queue = d->kept_dlq = 0;
	diff_list_free(&p->changes);
	int any = p->esm || p->fn || p->q_url || p->dlq_url;
	long qn = p->q_url ? rc_queue_messages(p->q_attrs) : 0;

	if (r->o->delete_now) {
		long dn = p->dlq_url ? rc_queue_messages(p->dlq_attrs) : 0;
		p->res->dropped = (qn > 0 ? qn : 0) + (dn > 0 ? dn : 0);
		consumers_go(p);
		p->del.queue = p->del.dlq = 1;
		if (p->q_url)
			add(&p->changes, DIFF_QUEUE, DIFF_DELETE, NULL);
		if (p->dlq_url)
			add(&p->changes, DIFF_DLQ, DIFF_DELETE, NULL);
		memset(d, 0, sizeof *d);
		d->status = STORE_DELETED;
		return;
	}
	if (!d->started_at) {
		if (!any) {   /* nothing to drain */
			memset(d, 0, sizeof *d);
			d->status = STORE_DELETED;
			return;
		}
		d->started_at = now;
		d->timeout = spec_drain_timeout(p->old_spec);
		d->empty_at = 0;
		d->gone_at = 0;
	}
	if (!d->timeout)
		d->timeout = DRAIN_TIMEOUT_DEFAULT_S;
	d->status = STORE_DRAINING;
	if (!d->gone_at) {
		/* Empty: all three counts zero, on reads a settle time apart. */
		if (qn == 0) {
			if (!d->empty_at)
				d->empty_at = now;
		} else {
			d->empty_at = 0;
		}
		if (qn == 0 && now - d->empty_at >= settle) {
			consumers_go(p);
			if (p->q_url) {
				p->del.queue = 1;
				add(&p->changes, DIFF_QUEUE, DIFF_DELETE, NULL);
			}
			d->gone_at = now;
		} else if (now - d->started_at >= d->timeout) {
			/* Out of time: stop consuming, keep the queue with its tasks. */
			consumers_go(p);
			d->gone_at = now;
		} else {
			return;
		}
	}
	if (p->esm || p->fn) {
		/* Going now, or back (recreated by hand?): what they may still
		 * move into the queues settles first. */
		if (!p->del.consumers)
			consumers_go(p);
		if (d->gone_at < now)
			d->gone_at = now;
	}
	if (now - d->gone_at < settle || (settle > 0 && p->del.consumers))
		return;
	if (!p->del.queue)
		d->kept_queue = judge_queue(p, 0, &p->del.queue);
	d->kept_dlq = judge_queue(p, 1, &p->del.dlq);
	int unknown = (p->q_url && !p->del.queue && !d->kept_queue) ||
		      (p->dlq_url && !p->del.dlq && !d->kept_dlq);
	if (unknown)
		return;
	if (d->kept_queue || d->kept_dlq) {
		d->status = STORE_KEPT;
		return;
	}
	memset(d, 0, sizeof *d);   /* done: nothing left to carry */
	d->status = STORE_DELETED;
}

void rc_drain_carry(struct rec *p)
{
	struct rec_drain *d = &p->drain;
	if (d->status)
		return;
	d->started_at = ddb_get_long(p->state, "drain_started_at", 0);
	d->timeout = ddb_get_long(p->state, "drain_timeout", 0);
	d->empty_at = ddb_get_long(p->state, "drain_empty_at", 0);
	d->gone_at = ddb_get_long(p->state, "consumers_gone_at", 0);
	d->kept_queue = ddb_get_long(p->state, "kept_queue", 0);
	d->kept_dlq = ddb_get_long(p->state, "kept_dlq", 0);
}
