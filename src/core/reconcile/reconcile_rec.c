/* reconcile_rec.c: what every reconcile step shares, below all of them:
 * a record's outcome (failed, retryable), how the resources are addressed
 * (queue ARNs; the calls themselves: aws/sqs.h, aws/lambda.h) and how
 * AWS's transitions are recognised. It calls none of the step files, so
 * the dependencies go one way: reconcile.c (the driver) -> observe, diff,
 * apply -> this file. */
#include "core/reconcile/reconcile_int.h"

#include "aws/awsjson.h"
#include "aws/lambda.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the outcome of a record ---- */

/* AWS answers that mean "not now": the resource is in a transition, the
 * control plane is throttling, a queue name is in its 60 s quarantine, or
 * another run holds the pipeline. The stream handlers (events.c) judge
 * records by the same list. */
static const char *const retry_codes[] = {
	"ResourceConflictException", "ResourceInUseException", "ResourceNotReadyException",
	"QueueDeletedRecently", "TooManyRequestsException", "ThrottlingException", "Throttling",
	"EC2ThrottledException", "ServiceException", "LeaseHeld", "LeaseLost", "DeadlineNear",
	"FunctionUpdateTimeout", "MappingTransitionTimeout", "NoQueueUrl", NULL,
};

int reconcile_retryable_code(const char *code)
{
	for (int i = 0; retry_codes[i]; i++)
		if (strstr(code, retry_codes[i]))
			return 1;
	return 0;
}

void rc_fail(struct rec *p, const tp_err *e)
{
	p->failed = 1;
	p->res->rc = e->rc ? e->rc : TP_EAWS;
	p->res->err = *e;
	if (reconcile_retryable_code(e->code))
		p->res->retryable = 1;
}

void rc_retryf(struct rec *p, const char *code, const char *fmt, ...)
{
	tp_err e = { 0 };
	va_list ap;
	va_start(ap, fmt);
	tp_verrf(&e, TP_ECONFLICT, code, fmt, ap);
	va_end(ap);
	rc_fail(p, &e);
	p->res->retryable = 1;
}

void rc_failf(struct rec *p, int rc, const char *code, const char *fmt, ...)
{
	tp_err e = { 0 };
	va_list ap;
	va_start(ap, fmt);
	tp_verrf(&e, rc, code, fmt, ap);
	va_end(ap);
	rc_fail(p, &e);
}

int rc_not_found(const struct aws_call *c)
{
	return c->rc == TP_ENOTFOUND || strstr(c->err.code, "NonExistentQueue") ||
	       strstr(c->err.code, "QueueDoesNotExist") || strstr(c->err.code, "ResourceNotFound");
}

/* ---- addressing ---- */

/* Queue ARNs come from the queue's QueueArn attribute, never built from
 * its URL: the URL does not carry the partition (aws-cn, aws-iso, ...).
 * https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_GetQueueAttributes.html */
const char *rc_queue_arn(const struct rec *p, int dlq)
{
	return cJSON_GetStringValue(cJSON_GetObjectItem(dlq ? p->dlq_attrs : p->q_attrs, "QueueArn"));
}

/* ---- transitions ---- */

/* Lambda is still creating the function (Pending) or applying an update
 * (LastUpdateStatus InProgress): updates meanwhile fail with
 * ResourceConflictException. Only GetFunction / GetFunctionConfiguration
 * carry these fields, ListFunctions does not.
 * https://docs.aws.amazon.com/lambda/latest/dg/functions-states.html */
int rc_fn_busy(const cJSON *fn)
{
	struct lambda_config cfg;
	lambda_config_read(cJSON_GetObjectItem(fn, "Configuration"), &cfg);
	return cfg.busy;
}

/* Update and delete are refused (ResourceInUseException) while a mapping
 * is Creating, Updating, Enabling, Disabling or Deleting.
 * https://docs.aws.amazon.com/lambda/latest/api/API_UpdateEventSourceMapping.html */
int rc_esm_transitional(const cJSON *esm)
{
	static const char *const busy[] = { "Creating", "Updating", "Enabling", "Disabling", "Deleting", NULL };
	const char *st = cJSON_GetStringValue(cJSON_GetObjectItem(esm, "State"));
	for (int i = 0; st && busy[i]; i++)
		if (strcmp(st, busy[i]) == 0)
			return 1;
	return 0;
}

