/* reconcile_diff.c: after observation, before any change (see reconcile.h):
 * the checks a spec must pass, the ownership of what exists under the
 * pipeline's names, and the diff (core/diff.h) of the desired state against
 * what the observe steps found. The apply steps act on the change list. */
#include "core/reconcile/reconcile_int.h"

#include "aws/ddb.h"
#include "core/codestore.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "When you delete a queue, the deletion process takes up to 60 seconds.
 * Requests you send involving that queue during the 60 seconds might
 * succeed" (SQS DeleteQueue). A queue this pipeline's last run deleted less
 * than that ago may still answer GetQueueUrl: it is dying, not ours to
 * confirm. Wait for the name to be free (a later run creates the queue).
 * https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_DeleteQueue.html
 * Only the main queue: a non-empty DLQ may have been kept on purpose. */
#define RC_QUEUE_DYING_S 65   /* 60 s, plus slack for clocks */

static int queue_dying(struct rec *p)
{
	if (!p->q_url || strcmp(ddb_get_str(p->state, "status", ""), "deleted") != 0)
		return 0;
	long ago = (long)(tp_now_ms() / 1000) - ddb_get_long(p->state, "updated_at", 0);
	if (ago >= RC_QUEUE_DYING_S)
		return 0;
	rc_retryf(p, "QueueDeletedRecently",
		  "queue %s was deleted %ld s ago and may still answer for up to 60 s; taskpipe recreates it once the name is free: retry later",
		  p->nm.queue, ago < 0 ? 0 : ago);
	return 1;
}

/* taskpipe manages zip functions: an image function under our name is
 * reported and left alone (an image in the spec is refused by spec_parse). */
static int check_package_type(struct rec *p)
{
	const char *have = cJSON_GetStringValue(
		cJSON_GetObjectItem(cJSON_GetObjectItem(p->fn, "Configuration"), "PackageType"));
	if (have && strcmp(have, "Zip") != 0) {
		rc_failf(p, TP_ECONFLICT, "FunctionIsImage",
			 "function %s is a container image function (PackageType %s); taskpipe manages zip functions and leaves it untouched",
			 p->nm.function, have);
		return -1;
	}
	return 0;
}

/* Something will change: wait first for a function or mapping that AWS is
 * still busy with (steps wait and mapping-wait, bounded). */
static void note_transitions(struct rec *p)
{
	if (p->fn && !p->fn_step.recreate && rc_fn_busy(p->fn))
		p->fn_step.wait = 1;
	if (p->esm && rc_esm_transitional(p->esm))
		p->esm_step.wait = 1;
}

/* What the observe steps found, as the diff takes it. why holds the
 * Inactive reason. */
static void observed_of(const struct rec *p, struct observed *o, char *why, size_t len)
{
	memset(o, 0, sizeof *o);
	const cJSON *cfg = cJSON_GetObjectItem(p->fn, "Configuration");
	o->q_exists = p->q_url != NULL;
	o->dlq_exists = p->dlq_url != NULL;
	o->q_attrs = p->q_attrs;
	o->dlq_attrs = p->dlq_attrs;
	o->q_tags = p->q_tags;
	o->dlq_tags = p->dlq_tags;
	o->fn = p->fn ? (cfg ? cfg : p->fn) : NULL;
	o->fn_tags = cJSON_GetObjectItem(p->fn, "Tags");
	o->fn_state_known = 1;
	if (cfg && codestore_inactive(cfg, why, len))
		o->fn_inactive = why;
	o->fn_storage = codestore_observed(p->fn);   /* GetFunction's Code; NULL after a create */
	o->reserved_known = 1;
	o->reserved = cJSON_GetObjectItem(cJSON_GetObjectItem(p->fn, "Concurrency"), "ReservedConcurrentExecutions");
	o->esm = p->esm;
}

/* The first resource under this pipeline's names that is not its own:
 * the pipeline reports a collision and nothing is touched. */
static int check_owned(struct run *r, struct rec *p)
{
	struct { const char *what, *name; const cJSON *tags; int exists; } res[] = {
		{ "queue", p->nm.queue, p->q_tags, p->q_url != NULL },
		{ "dead-letter queue", p->nm.dlq, p->dlq_tags, p->dlq_url != NULL },
		{ "function", p->nm.function, cJSON_GetObjectItem(p->fn, "Tags"), p->fn != NULL },
	};
	for (size_t i = 0; i < sizeof res / sizeof res[0]; i++) {
		if (!res[i].exists)
			continue;
		const char *found;
		char why[256];
		switch (diff_owner(r->app->set.owner, p->res->name, res[i].tags, &found)) {
		case DIFF_OWNED:
			continue;
		case DIFF_NO_OWNER:
			snprintf(why, sizeof why, "it has no taskpipe:owner tag (not created by taskpipe)");
			break;
		case DIFF_OTHER_OWNER:
			snprintf(why, sizeof why, "its taskpipe:owner tag is '%s', not '%s'", found, r->app->set.owner);
			break;
		case DIFF_OTHER_PIPELINE:
			snprintf(why, sizeof why, "its taskpipe:pipeline tag is '%s'", found ? found : "(none)");
			break;
		}
		tp_err e = { 0 };
		tp_errf(&e, TP_ECONFLICT, "NameCollision",
			"%s %s exists but is not this pipeline's: %s; taskpipe leaves it untouched",
			res[i].what, res[i].name, why);
		rc_fail(p, &e);
		return -1;
	}
	return 0;
}

void rc_check_and_diff(struct run *r, struct rec *p)
{
	if (check_package_type(p) < 0 || check_owned(r, p) < 0)
		return;
	if (p->spec && queue_dying(p))
		return;
	if (p->spec && !p->fn && !p->want.role) {
		/* Check before any change: a pipeline half-created for want of a role helps no one. */
		rc_failf(p, TP_EINVAL, "NoRole",
			 "cannot create function %s: no execution role (set TASKPIPE_ROLE_ARN or --role-arn)",
			 p->nm.function);
		return;
	}
	struct observed o;
	char why[300];
	observed_of(p, &o, why, sizeof why);
	struct spec_record old;
	spec_record_read(p->old_spec, &old);
	diff_pipeline(p->spec ? &p->want : NULL, p->old_spec ? &old : NULL, &o, &p->changes);
	spec_record_free(&old);
	p->dlq_kept = diff_find(&p->changes, DIFF_DLQ, DK_NONE) &&
		      diff_find(&p->changes, DIFF_DLQ, DK_NONE)->act == DIFF_KEEP;
	const struct diff_change *fc = diff_find(&p->changes, DIFF_FUNCTION, DK_NONE);
	p->fn_step.recreate = fc && fc->act == DIFF_RECREATE;
	if (!p->spec) {
		if (!p->esm && !p->fn && !p->q_url && !p->dlq_url)
			p->res->action = REC_NONE;
		rc_drain_decide(r, p);
		p->esm_step.wait = p->del.consumers && p->esm && rc_esm_transitional(p->esm);
		return;
	}
	if (!p->q_url && !p->dlq_url && !p->fn)
		p->res->action = REC_CREATE;
	if (p->changes.n == 0) {
		p->res->action = REC_NONE;
		return;
	}
	note_transitions(p);
}
