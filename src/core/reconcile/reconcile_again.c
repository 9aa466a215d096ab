/* reconcile_again.c: refusals that clear by themselves seconds after a
 * create, retried within the run (with backoff) instead of failing it.
 *
 * - SQS: "After you create a queue, you must wait at least one second after
 *   the queue is created to be able to use the queue"
 *   (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_CreateQueue.html):
 *   a queue this run created may answer QueueDoesNotExist (NonExistentQueue)
 *   for a moment.
 * - IAM: a newly created execution role is refused by CreateFunction for a
 *   while, 400 InvalidParameterValueException "The role defined for the
 *   function cannot be assumed by Lambda" (the role has not propagated yet;
 *   https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_general.html#troubleshoot_general_eventual-consistency).
 *
 * A done function asks rc_again(); when it says 1 the record is marked
 * (again) and the driver runs the same step once more for the marked
 * records only, after 0.25, 0.5, 1, 2, then 4 s pauses, at most
 * RC_AGAIN_ROUNDS times and never past the deadline. What still fails then
 * fails retryable. */
#include "core/reconcile/reconcile_int.h"

#include "base/log.h"

#include <string.h>

static int queue_not_there(const struct aws_call *c)
{
	return strstr(c->err.code, "NonExistentQueue") || strstr(c->err.code, "QueueDoesNotExist");
}

static int role_not_assumable(const struct aws_call *c)
{
	return strcmp(c->op, "CreateFunction") == 0 && strstr(c->err.code, "InvalidParameterValue") &&
	       strstr(c->err.message, "cannot be assumed by Lambda");
}

int rc_again(struct rec *p, const struct aws_call *c)
{
	if (c->rc == TP_OK)
		return 0;
	const char *why = NULL, *code = NULL;
	if (p->queues_created && queue_not_there(c)) {
		why = "a queue created this run is not usable yet (SQS: wait at least one second after CreateQueue)";
		code = "QueueNotReady";
	} else if (role_not_assumable(c)) {
		why = "Lambda cannot assume the execution role (a new role takes a while to propagate; or its trust policy does not let lambda.amazonaws.com assume it)";
		code = "RoleNotReady";
	}
	if (!why)
		return 0;
	/* The URL step's own outcome says more (NoQueueUrl, retryable). */
	if (p->agains >= RC_AGAIN_ROUNDS && strcmp(c->op, "GetQueueUrl") == 0)
		return 0;
	if (p->agains < RC_AGAIN_ROUNDS) {
		p->again = 1;
		p->agains++;
		log_info("pipeline %s: %s %s: %s; retrying (%d)", p->res->name, c->op, c->err.code, why, p->agains);
		return 1;
	}
	rc_retryf(p, code, "pipeline %s: %s, still after the retries of this run; retry later", p->res->name, why);
	return 1;
}

int rc_any_again(const struct run *r)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->recs[i].again && !r->recs[i].failed)
			return 1;
	return 0;
}
