/* lifecycle.c: pause, resume, redrive, purge of one group (see lifecycle.h). */
#include "core/lifecycle.h"

#include "aws/awsjson.h"
#include "aws/ddb.h"
#include "aws/sqs.h"
#include "base/log.h"
#include "core/config_item.h"
#include "core/names.h"
#include "core/ops_queue.h"
#include "core/store.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MOVE_BATCH 10

void lifecycle_outcome_free(struct lifecycle_outcome *o)
{
	if (!o)
		return;
	reconcile_results_free(o->res, o->n_res);
	memset(o, 0, sizeof *o);
}

/* The pipeline, observed and repaired as `apply NAME` does. */
static int reconcile_one(struct app *app, const char *name, const char *holder, struct lifecycle_outcome *out,
			 tp_err *e)
{
	char *names[1] = { (char *)name };
	struct reconcile_opts o = { .force = 1, .known_only = 1, .holder = holder };
	return reconcile_run(app, names, 1, 0, &o, &out->res, &out->n_res, e);
}

int lifecycle_pause(struct app *app, const char *name, const char *by, const char *reason,
		    const char *holder, struct lifecycle_outcome *out, tp_err *e)
{
	memset(out, 0, sizeof *out);
	struct names nm;
	int exists = 0;
	if (app_may_write(app, e) < 0)
		return e->rc;
	if (names_for(app->set.prefix, name, &nm, e) < 0)
		return e->rc;
	int rc = config_item_exists(app, name, &exists, e);
	if (rc < 0)
		return rc;
	if (!exists)
		return tp_errf(e, TP_ENOTFOUND, "NotFound", "%s: no config item of that name", name);
	struct store_pause had = { 0 };
	rc = store_pause_get(app->aws, app->set.state_table, name, &had, e);
	out->changed = rc == TP_OK && !had.name;
	store_pause_free(&had);
	struct store_pause p = { .name = (char *)name, .by = (char *)by, .reason = (char *)reason,
				 .at = (long)(tp_now_ms() / 1000) };
	if (rc == TP_OK)
		rc = store_pause_put(app->aws, app->set.state_table, &p, e);
	if (rc == TP_OK)
		rc = reconcile_one(app, name, holder, out, e);
	return rc;
}

int lifecycle_resume(struct app *app, const char *name, const char *holder, struct lifecycle_outcome *out,
		     tp_err *e)
{
	memset(out, 0, sizeof *out);
	struct names nm;
	if (app_may_write(app, e) < 0)
		return e->rc;
	if (names_for(app->set.prefix, name, &nm, e) < 0)
		return e->rc;
	int rc = store_pause_delete(app->aws, app->set.state_table, name, &out->changed, e);
	if (rc == TP_OK)
		rc = reconcile_one(app, name, holder, out, e);
	return rc;
}

/* Both queues of a pipeline; an error naming the missing one. */
static int both_queues(struct app *app, const char *name, char **q, char **d, tp_err *e)
{
	struct names nm;
	*q = *d = NULL;
	if (names_for(app->set.prefix, name, &nm, e) < 0)
		return e->rc;
	int rc = ops_queue_url(app, nm.queue, q, e);
	if (rc == TP_OK)
		rc = ops_queue_url(app, nm.dlq, d, e);
	if (rc == TP_OK && (!*q || !*d))
		rc = tp_errf(e, TP_ENOTFOUND, "NotFound", "%s: queue %s does not exist (not applied yet?)", name,
			     !*q ? nm.queue : nm.dlq);
	return rc;
}

/* Move messages by hand: receive 10, send them on, delete what was sent. */
static int move_by_hand(struct app *app, const char *from, const char *to, long *moved, tp_err *e)
{
	for (;;) {
		struct aws_call c;
		cJSON *got = NULL;
		sqs_receive_message(&c, from, MOVE_BATCH, 0, 60);
		int rc = awsj_run(app->aws, &c, &got, e);
		cJSON *msgs = cJSON_GetObjectItem(got, "Messages"), *m;
		if (rc < 0 || cJSON_GetArraySize(msgs) == 0) {
			cJSON_Delete(got);
			return rc;
		}
		cJSON *se = cJSON_CreateArray(), *de = cJSON_CreateArray();
		int i = 0;
		cJSON_ArrayForEach(m, msgs) {
			char id[16];
			snprintf(id, sizeof id, "m%d", i++);
			cJSON_AddItemToArray(se, sqs_send_entry(id, cJSON_GetStringValue(cJSON_GetObjectItem(m, "Body")),
								cJSON_GetObjectItem(m, "MessageAttributes"), -1));
			cJSON_AddItemToArray(de, sqs_delete_entry(id, cJSON_GetStringValue(
								      cJSON_GetObjectItem(m, "ReceiptHandle"))));
		}
		cJSON_Delete(got);
		cJSON *sent = NULL;
		sqs_send_message_batch(&c, to, se);
		rc = awsj_run(app->aws, &c, &sent, e);
		if (rc < 0) {
			cJSON_Delete(de);
			cJSON_Delete(sent);
			return rc;
		}
		/* Delete only what arrived in the queue: a failed send stays in the DLQ. */
		cJSON *failed = cJSON_GetObjectItem(sent, "Failed"), *f;
		cJSON_ArrayForEach(f, failed) {
			const char *fid = cJSON_GetStringValue(cJSON_GetObjectItem(f, "Id"));
			for (int k = cJSON_GetArraySize(de) - 1; fid && k >= 0; k--)
				if (strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(de, k), "Id")),
					   fid) == 0)
					cJSON_DeleteItemFromArray(de, k);
		}
		int nf = cJSON_GetArraySize(failed);
		cJSON_Delete(sent);
		*moved += cJSON_GetArraySize(de);
		if (cJSON_GetArraySize(de)) {
			cJSON *dout = NULL;
			sqs_delete_message_batch(&c, from, de);
			rc = awsj_run(app->aws, &c, &dout, e);
			cJSON_Delete(dout);
		} else {
			cJSON_Delete(de);
		}
		if (rc < 0)
			return rc;
		if (nf)
			return tp_errf(e, TP_EAWS, "RedriveIncomplete",
				       "%d messages could not be sent back (moved %ld); they stay in the DLQ", nf, *moved);
	}
}

int lifecycle_redrive(struct app *app, const char *name, struct lifecycle_outcome *out, tp_err *e)
{
	memset(out, 0, sizeof *out);
	char *q, *d;
	cJSON *qa = NULL, *da = NULL;
	int rc = both_queues(app, name, &q, &d, e);
	if (rc == TP_OK)
		rc = ops_queue_attrs(app, q, &qa, e);
	if (rc == TP_OK)
		rc = ops_queue_attrs(app, d, &da, e);
	if (rc == TP_OK) {
		const char *v = cJSON_GetStringValue(cJSON_GetObjectItem(da, "ApproximateNumberOfMessages"));
		long waiting = v ? atol(v) : 0;
		struct aws_call c;
		cJSON *res = NULL;
		sqs_start_message_move_task(&c, cJSON_GetStringValue(cJSON_GetObjectItem(da, "QueueArn")),
					    cJSON_GetStringValue(cJSON_GetObjectItem(qa, "QueueArn")));
		tp_err me = { 0 };
		int mrc = awsj_run(app->aws, &c, &res, &me);
		cJSON_Delete(res);
		if (mrc == TP_OK) {
			out->moved = waiting;
			out->how = "move task started";
		} else {
			log_info("StartMessageMoveTask failed (%s); moving messages by hand", me.code);
			out->how = "moved by receive/send/delete";
			rc = move_by_hand(app, d, q, &out->moved, e);
		}
	}
	cJSON_Delete(qa);
	cJSON_Delete(da);
	free(q);
	free(d);
	return rc;
}

int lifecycle_purge(struct app *app, const char *name, int dlq, tp_err *e)
{
	char *q, *d;
	int rc = both_queues(app, name, &q, &d, e);
	if (rc == TP_OK) {
		struct aws_call c;
		cJSON *out = NULL;
		sqs_purge_queue(&c, dlq ? d : q);
		rc = awsj_run(app->aws, &c, &out, e);
		cJSON_Delete(out);
	}
	free(q);
	free(d);
	return rc;
}
