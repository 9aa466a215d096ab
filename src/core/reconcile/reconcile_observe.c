/* reconcile_observe.c: what a pipeline's resources look like now (see
 * reconcile.h): the queue, the dead-letter queue, the function, their
 * attributes and tags, and the event source mapping (steps find, details,
 * mapping); a created queue's URL and ARN when the create answer lacks
 * them; a mapping in a transition, polled until it settles. */
#include "core/reconcile/reconcile_int.h"

#include "aws/awsjson.h"
#include "aws/lambda.h"
#include "aws/sqs.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- step 3: find the resources ---- */

int rc_emit_find(struct run *r, struct rec *p, struct aws_call *c)
{
	sqs_get_queue_url(&c[0], p->nm.queue);
	sqs_get_queue_url(&c[1], p->nm.dlq);
	lambda_get_function(&c[2], p->nm.function, NULL);
	return 3;
}

void rc_done_find(struct run *r, struct rec *p, struct aws_call *c, int n)
{
	for (int i = 0; i < n; i++) {
		if (c[i].rc != TP_OK) {
			if (rc_not_found(&c[i]))
				continue;
			rc_fail(p, &c[i].err);
			return;
		}
		cJSON *out = awsj_result(&c[i]);
		if (i < 2) {
			const char *url = cJSON_GetStringValue(cJSON_GetObjectItem(out, "QueueUrl"));
			if (url)
				*(i == 0 ? &p->q_url : &p->dlq_url) = tp_xstrdup(url);
			cJSON_Delete(out);
		} else {
			p->fn = out;
		}
	}
}

/* ---- step 4: their attributes, tags and the mapping ---- */

int rc_emit_details(struct run *r, struct rec *p, struct aws_call *c)
{
	static const char *const all[] = { "All" };
	int n = 0;
	const char *urls[2] = { p->q_url, p->dlq_url };
	for (int i = 0; i < 2; i++) {
		if (!urls[i])
			continue;
		sqs_get_queue_attributes(&c[n], urls[i], all, 1);
		c[n++].user = (void *)(intptr_t)(i * 2);
		sqs_list_queue_tags(&c[n], urls[i]);
		c[n++].user = (void *)(intptr_t)(i * 2 + 1);
	}
	return n;
}

void rc_done_details(struct run *r, struct rec *p, struct aws_call *c, int n)
{
	for (int i = 0; i < n; i++) {
		if (c[i].rc != TP_OK) {
			rc_fail(p, &c[i].err);
			return;
		}
		cJSON *out = awsj_result(&c[i]);
		int which = (int)(intptr_t)c[i].user;
		cJSON *part = cJSON_DetachItemFromObject(out, which % 2 ? "Tags" : "Attributes");
		if (!part)
			part = cJSON_CreateObject();
		cJSON **slot[] = { &p->q_attrs, &p->q_tags, &p->dlq_attrs, &p->dlq_tags };
		*slot[which] = part;
		cJSON_Delete(out);
	}
}

int rc_emit_mapping(struct run *r, struct rec *p, struct aws_call *c)
{
	if (!p->fn)
		return 0;
	lambda_list_event_source_mappings(&c[0], p->nm.function, NULL, 0);
	return 1;
}

void rc_done_mapping(struct run *r, struct rec *p, struct aws_call *c, int n)
{
	if (c[0].rc != TP_OK) {
		rc_fail(p, &c[0].err);
		return;
	}
	cJSON *out = awsj_result(&c[0]);
	cJSON *list = cJSON_GetObjectItem(out, "EventSourceMappings");
	cJSON *m;
	const char *arn = rc_queue_arn(p, 0);
	cJSON_ArrayForEach(m, list) {
		/* Ours is the one reading this pipeline's queue. */
		const char *src = cJSON_GetStringValue(cJSON_GetObjectItem(m, "EventSourceArn"));
		if (src && arn && strcmp(arn, src) != 0)
			continue;
		p->esm = cJSON_Duplicate(m, 1);
		break;
	}
	cJSON_Delete(out);
}

/* ---- a created queue's URL (steps dlq-url, queue-url) ---- */

/* A CreateQueue answer that carries no QueueUrl (the call succeeded; its
 * body said nothing usable) is not taken on trust either way: SQS is asked
 * by name. Only when it does not know the queue either does the pipeline
 * fail, retryable (the next run finds or creates it). */
static int emit_url(struct rec *p, struct aws_call *c, int dlq)
{
	if (!p->spec || !(dlq ? p->url_unknown.dlq : p->url_unknown.queue))
		return 0;
	sqs_get_queue_url(&c[0], dlq ? p->nm.dlq : p->nm.queue);
	c[0].user = (void *)(intptr_t)dlq;
	return 1;
}

int rc_emit_dlq_url(struct run *r, struct rec *p, struct aws_call *c)
{
	return emit_url(p, c, 1);
}

int rc_emit_queue_url(struct run *r, struct rec *p, struct aws_call *c)
{
	return emit_url(p, c, 0);
}

void rc_done_queue_url(struct run *r, struct rec *p, struct aws_call *c, int n)
{
	int dlq = c[0].user != NULL;
	const char *name = dlq ? p->nm.dlq : p->nm.queue;
	if (rc_again(p, &c[0]))   /* created a moment ago: asked again shortly */
		return;
	if (c[0].rc != TP_OK && !rc_not_found(&c[0])) {
		rc_fail(p, &c[0].err);
		return;
	}
	cJSON *out = awsj_result(&c[0]);
	const char *url = cJSON_GetStringValue(cJSON_GetObjectItem(out, "QueueUrl"));
	if (url) {
		*(dlq ? &p->dlq_url : &p->q_url) = tp_xstrdup(url);
		*(dlq ? &p->url_unknown.dlq : &p->url_unknown.queue) = 0;
	} else {
		rc_retryf(p, "NoQueueUrl",
			  "queue %s: CreateQueue succeeded without a QueueUrl and GetQueueUrl does not know the queue; retry later",
			  name);
	}
	cJSON_Delete(out);
}

/* ---- a created queue's ARN (steps dlq-arn, queue-arn) ---- */

static int emit_arn(struct rec *p, struct aws_call *c, int dlq)
{
	const char *url = dlq ? p->dlq_url : p->q_url;
	if (!p->spec || !url || rc_queue_arn(p, dlq))
		return 0;
	static const char *const arn[] = { "QueueArn" };
	sqs_get_queue_attributes(&c[0], url, arn, 1);
	c[0].user = (void *)(intptr_t)dlq;
	return 1;
}

int rc_emit_dlq_arn(struct run *r, struct rec *p, struct aws_call *c)
{
	return emit_arn(p, c, 1);
}

int rc_emit_queue_arn(struct run *r, struct rec *p, struct aws_call *c)
{
	return emit_arn(p, c, 0);
}

void rc_done_queue_arn(struct run *r, struct rec *p, struct aws_call *c, int n)
{
	if (rc_again(p, &c[0]))   /* created a moment ago: asked again shortly */
		return;
	if (c[0].rc != TP_OK) {
		rc_fail(p, &c[0].err);
		return;
	}
	cJSON *out = awsj_result(&c[0]);
	const char *arn = cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(out, "Attributes"),
								   "QueueArn"));
	cJSON **attrs = c[0].user ? &p->dlq_attrs : &p->q_attrs;
	if (!arn) {
		rc_failf(p, TP_EAWS, "NoQueueArn", "queue %s: GetQueueAttributes returned no QueueArn",
			 c[0].user ? p->nm.dlq : p->nm.queue);
	} else {
		if (!*attrs)
			*attrs = cJSON_CreateObject();
		cJSON_DeleteItemFromObject(*attrs, "QueueArn");
		cJSON_AddStringToObject(*attrs, "QueueArn", arn);
	}
	cJSON_Delete(out);
}

/* ---- waiting for a mapping in a transition (step mapping-wait) ---- */

int rc_emit_esm_wait(struct run *r, struct rec *p, struct aws_call *c)
{
	if (!p->esm_step.wait || !p->esm)
		return 0;
	if (++p->esm_step.waits > r->wait_polls) {
		rc_retryf(p, "MappingTransitionTimeout", "event source mapping of %s still in a transition after %d polls; retry later",
			  p->nm.function, r->wait_polls);
		return 0;
	}
	const char *uuid = cJSON_GetStringValue(cJSON_GetObjectItem(p->esm, "UUID"));
	lambda_get_event_source_mapping(&c[0], uuid);
	return 1;
}

void rc_done_esm_wait(struct run *r, struct rec *p, struct aws_call *c, int n)
{
	if (c[0].rc != TP_OK) {
		if (rc_not_found(&c[0])) {
			/* It was Deleting and is gone now: a new one gets created. */
			cJSON_Delete(p->esm);
			p->esm = NULL;
			p->esm_step.wait = 0;
			return;
		}
		rc_fail(p, &c[0].err);
		return;
	}
	cJSON_Delete(p->esm);
	p->esm = awsj_result(&c[0]);
	p->esm_step.wait = rc_esm_transitional(p->esm);
}
