/* ops_queue.h: a pipeline's queues as the operator's operations read them
 * (depth here; redrive and purge in lifecycle.c, kept queues in kept.c):
 * a queue's URL by name, its attributes, and `depth`, the message counts
 * tp.depth(name) shows. */
#ifndef TP_OPS_QUEUE_H
#define TP_OPS_QUEUE_H

#include "core/app.h"

struct cJSON;

/* The URL of the queue named qname (malloc'd); *url NULL, TP_OK, when the
 * queue does not exist. */
int ops_queue_url(struct app *app, const char *qname, char **url, tp_err *e);

/* Every attribute of the queue (GetQueueAttributes All); *attrs is an
 * object (empty on failure), the caller's. */
int ops_queue_attrs(struct app *app, const char *url, struct cJSON **attrs, tp_err *e);

/* A pipeline's messages, as SQS counts them (approximately). */
struct ops_depth {
	long visible;     /* ApproximateNumberOfMessages */
	long in_flight;   /* ApproximateNumberOfMessagesNotVisible */
	long delayed;     /* ApproximateNumberOfMessagesDelayed */
	long dlq;         /* the dead-letter queue's ApproximateNumberOfMessages */
	int has_dlq;      /* 0: the dead-letter queue does not exist (dlq 0) */
};

/* NotFound ("queue <name> does not exist") when the queue does not. */
int ops_depth(struct app *app, const char *name, struct ops_depth *out, tp_err *e);

#endif
