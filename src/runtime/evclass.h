/* evclass.h: what kind an incoming Lambda event is (events.h lists the
 * shapes), decided from the JSON alone: no AWS, no app. events.c acts on
 * the answer; the unit tests and the fuzz target check it by itself.
 */
#ifndef TP_EVCLASS_H
#define TP_EVCLASS_H

#include "base/base.h"

struct cJSON;

enum ev_kind {
	EV_STREAM,      /* Records[] all from "aws:dynamodb" */
	EV_SNS,         /* Records[] all from "aws:sns" (S3 notifications inside) */
	EV_SCHEDULED,   /* EventBridge: source "aws.events", detail-type "Scheduled Event" */
	EV_APPLY,       /* {"taskpipe":"apply","pipelines":[names...]} (at least one) */
	EV_APPLY_ALL,   /* {"taskpipe":"apply-all"} */
	EV_PLAN,        /* {"taskpipe":"plan","pipelines":[...]}; none: every pipeline */
};

struct ev_class {
	enum ev_kind kind;
	const struct cJSON *records;   /* EV_STREAM, EV_SNS: the event's Records */
	char **names;                  /* EV_APPLY, EV_PLAN: into the event's strings; n of them */
	size_t n;
	int force;                     /* "force": true */
};

/* Classify ev. TP_OK with *c filled (free with evclass_free), or TP_EINVAL:
 * UnrecognizedEvent naming the top-level keys (or that ev is no object) or
 * an unknown taskpipe command; InvalidRequest for a bad "pipelines". */
int evclass_classify(const struct cJSON *ev, struct ev_class *c, tp_err *e);
void evclass_free(struct ev_class *c);
const char *evclass_kind_name(enum ev_kind k);   /* "stream", "sns", ... */

/* An S3 event's object key decoded ('+' is a space, %XX a byte); NULL, with
 * *why saying so, for a '%' without two hex digits or %00 (a key cut at a
 * NUL would name another object). The caller frees the result. */
char *evclass_s3_key_decode(const char *key, const char **why);

#endif
