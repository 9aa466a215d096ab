/* lifecycle.h: an operator steers a group (pipeline): pause, resume,
 * redrive, purge. The CLI (taskpipe pause|resume|redrive|purge) and the
 * REPL (tp.pause, ...) both call these; neither holds logic of its own.
 *
 * A pause is the operator's record pause#<name> in the state table
 * (store.h), never a change of the item: the item's `enabled` stays the
 * configuration's word. Reconcile and drift read the record and keep the
 * event source mapping disabled while it exists (core/pause.h); messages
 * wait in the queue. pause and resume write or remove the record, then
 * reconcile the pipeline (observed, as apply NAME) so the mapping follows
 * at once; the stream and the drift check would get there too.
 *
 * redrive moves the dead-letter queue's messages back to the queue
 * (StartMessageMoveTask; by receive/send/delete where that is refused);
 * purge deletes every message waiting in the queue (PurgeQueue) or, with
 * dlq, in the dead-letter queue. */
#ifndef TP_LIFECYCLE_H
#define TP_LIFECYCLE_H

#include "core/app.h"
#include "core/reconcile/reconcile.h"

struct lifecycle_outcome {
	int changed;               /* pause: newly paused; resume: a pause was cleared */
	struct rec_result *res;    /* pause/resume: the pipeline's reconcile (1 entry), NULL when none ran */
	size_t n_res;
	long moved;                /* redrive: messages moved (or waiting when the move task started) */
	const char *how;           /* redrive: "move task started" or "moved by receive/send/delete" */
};

/* Record a pause of name by `by` (who: user@host, "repl"; reason may be
 * NULL) and reconcile it. NotFound when the name has no config item. */
int lifecycle_pause(struct app *app, const char *name, const char *by, const char *reason,
		    const char *holder, struct lifecycle_outcome *out, tp_err *e);
/* Remove the pause (none: out->changed 0, not an error) and reconcile. */
int lifecycle_resume(struct app *app, const char *name, const char *holder, struct lifecycle_outcome *out,
		     tp_err *e);
int lifecycle_redrive(struct app *app, const char *name, struct lifecycle_outcome *out, tp_err *e);
int lifecycle_purge(struct app *app, const char *name, int dlq, tp_err *e);
void lifecycle_outcome_free(struct lifecycle_outcome *o);

#endif
