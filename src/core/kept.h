/* kept.h: queues kept when a removed pipeline drained (status kept in the
 * state table, store.h kept_queue / kept_dlq): an operator moves their
 * messages into a live pipeline's queue (redrive) or deletes them (purge).
 * Either way the emptied queues go and the record becomes deleted, so the
 * pipeline leaves `ls --kept` and drift. Both hold the pipeline's lease
 * (lease.h) and write the record fenced by it.
 *
 * Redrive receives up to 10 messages at a time (long polls of 1 s), sends
 * them to the target queue with their attributes, and deletes from the
 * kept queue only what the target accepted; it stops at the first refusal
 * (nothing is lost: a message not sent becomes visible again). A kept main
 * queue goes first: receiving from it counts toward its redrive policy,
 * and what SQS moves to the DLQ meanwhile is redriven with the DLQ. A kept
 * queue is deleted once two receives in a row found nothing. */
#ifndef TP_KEPT_H
#define TP_KEPT_H

#include "core/app.h"

/* Move every message of name's kept queues into the queue of the live
 * pipeline `to` (its record status ok). *moved: messages moved, also when
 * it fails part way. */
int kept_redrive(struct app *app, const char *name, const char *to, long *moved, tp_err *e);

/* Delete name's kept queues with their messages; *dropped: their
 * Approximate counts just before. */
int kept_purge(struct app *app, const char *name, long *dropped, tp_err *e);

#endif
