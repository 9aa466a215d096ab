/* kept.c: redrive and purge of a drained pipeline's kept queues (see kept.h). */
#include "core/kept.h"

#include "aws/awsjson.h"
#include "aws/ddb.h"
#include "aws/sqs.h"
#include "core/lease.h"
#include "core/names.h"
#include "core/ops_queue.h"
#include "core/store.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEPT_LEASE_S 900      /* a redrive of many messages takes a while */
#define KEPT_EMPTY_READS 2    /* receives in a row that found nothing: empty */

/* The pipeline's kept queues, leased and read. */
struct kept {
	struct store_pipeline st;
	struct names nm;
	struct lease lease;
	char holder[160];
	const char *queue[2];     /* names: the kept queue, the kept DLQ (NULL: not kept) */
	char *url[2];             /* their URLs (NULL: gone already) */
};

static int state_get(struct app *app, const char *name, struct store_pipeline *st, tp_err *e)
{
	struct aws_call c;
	store_pipeline_get_prepare(&c, app->set.state_table, name);
	aws_call_many(app->aws, &c, 1);
	int rc = c.rc;
	if (rc < 0) {
		*e = c.err;
	} else {
		cJSON *out = awsj_result(&c);
		store_pipeline_from_item(cJSON_GetObjectItem(out, "Item"), st);
		cJSON_Delete(out);
	}
	aws_call_free(&c);
	return rc;
}

static void kept_close(struct app *app, struct kept *k)
{
	if (k->lease.held)
		lease_release(app, &k->lease, k->holder, &(tp_err){ 0 });
	lease_clear(&k->lease, 1);
	store_pipeline_free(&k->st);
	free(k->url[0]);
	free(k->url[1]);
}

static int kept_open(struct app *app, const char *name, struct kept *k, tp_err *e)
{
	memset(k, 0, sizeof *k);
	if (names_for(app->set.prefix, name, &k->nm, e) < 0)
		return e->rc;
	lease_holder_id("kept", k->holder, sizeof k->holder);
	int rc = lease_acquire(app, name, k->holder, KEPT_LEASE_S, &k->lease, e);
	if (rc == TP_OK)
		rc = state_get(app, name, &k->st, e);
	if (rc == TP_OK && k->st.status != STORE_KEPT)
		rc = tp_errf(e, TP_ENOTFOUND, "NotKept", "pipeline %s keeps no queue (its status is %s)", name,
			     k->st.name ? store_status_name(k->st.status) : "none");
	k->queue[0] = k->st.kept_queue ? k->nm.queue : NULL;
	k->queue[1] = k->st.kept_dlq ? k->nm.dlq : NULL;
	for (int i = 0; rc == TP_OK && i < 2; i++)
		if (k->queue[i])
			rc = ops_queue_url(app, k->queue[i], &k->url[i], e);
	return rc;
}

/* Done with the kept queues: the record says deleted, fenced by the lease. */
static int kept_finish(struct app *app, struct kept *k, tp_err *e)
{
	struct store_pipeline st = { .name = k->st.name, .status = STORE_DELETED,
				     .updated_at = (long)(tp_now_ms() / 1000),
				     .lease_fence = k->lease.token };
	snprintf(st.action, sizeof st.action, "delete");
	struct aws_call c;
	store_pipeline_put_prepare(&c, app->set.state_table, &st);
	aws_call_many(app->aws, &c, 1);
	int rc = c.rc;
	if (rc < 0)
		*e = c.err;
	aws_call_free(&c);
	return rc;
}

static int delete_queue(struct app *app, const char *url, tp_err *e)
{
	struct aws_call c;
	cJSON *out = NULL;
	sqs_delete_queue(&c, url);
	int rc = awsj_run(app->aws, &c, &out, e);
	cJSON_Delete(out);
	return rc;
}

/* One batch: receive, send to the target, delete what it accepted.
 * Returns messages moved (0: the queue gave none) or a negative error. */
static long move_batch(struct app *app, const char *from, const char *to, tp_err *e)
{
	struct aws_call c;
	cJSON *got = NULL, *sent = NULL, *out = NULL;
	sqs_receive_message(&c, from, 10, 1, 60);
	long rc = awsj_run(app->aws, &c, &got, e);
	cJSON *msgs = cJSON_GetObjectItem(got, "Messages"), *m;
	if (rc < 0 || cJSON_GetArraySize(msgs) == 0)
		goto done;
	cJSON *entries = cJSON_CreateArray();
	int i = 0;
	cJSON_ArrayForEach(m, msgs) {
		char id[16];
		snprintf(id, sizeof id, "%d", i++);
		cJSON *attrs = cJSON_GetObjectItem(m, "MessageAttributes");
		cJSON_AddItemToArray(entries, sqs_send_entry(id, cJSON_GetStringValue(cJSON_GetObjectItem(m, "Body")),
							      cJSON_GetArraySize(attrs) > 0 ? attrs : NULL, -1));
	}
	sqs_send_message_batch(&c, to, entries);
	rc = awsj_run(app->aws, &c, &sent, e);
	if (rc < 0)
		goto done;
	cJSON *dents = cJSON_CreateArray(), *ok;
	long n = 0;
	cJSON_ArrayForEach(ok, cJSON_GetObjectItem(sent, "Successful")) {
		const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(ok, "Id"));
		cJSON *src = id ? cJSON_GetArrayItem(msgs, atoi(id)) : NULL;
		if (!src)
			continue;
		cJSON_AddItemToArray(dents, sqs_delete_entry(id, cJSON_GetStringValue(
							      cJSON_GetObjectItem(src, "ReceiptHandle"))));
		n++;
	}
	if (n) {
		sqs_delete_message_batch(&c, from, dents);
		rc = awsj_run(app->aws, &c, &out, e);
	} else {
		cJSON_Delete(dents);
		rc = TP_OK;
	}
	cJSON *failed = cJSON_GetArrayItem(cJSON_GetObjectItem(sent, "Failed"), 0);
	if (rc == TP_OK && failed)
		rc = tp_errf(e, TP_EAWS, "RedriveRefused", "the target queue refused a message: %s: %s",
			     cJSON_GetStringValue(cJSON_GetObjectItem(failed, "Code")),
			     cJSON_GetStringValue(cJSON_GetObjectItem(failed, "Message")));
	/* Sent but not deleted here: a copy is in the target already; the
	 * original comes back after its visibility timeout (at least once). */
	if (rc == TP_OK)
		rc = n;
done:
	cJSON_Delete(got);
	cJSON_Delete(sent);
	cJSON_Delete(out);
	return rc;
}

int kept_redrive(struct app *app, const char *name, const char *to, long *moved, tp_err *e)
{
	*moved = 0;
	struct kept k;
	struct store_pipeline target = { 0 };
	struct names tn;
	char *to_url = NULL;
	int rc = kept_open(app, name, &k, e);
	if (rc == TP_OK && (rc = names_for(app->set.prefix, to, &tn, e)) == TP_OK &&
	    (rc = state_get(app, to, &target, e)) == TP_OK && target.status != STORE_OK)
		rc = tp_errf(e, TP_EINVAL, "NotLive", "redrive target %s is not a live pipeline (its status is %s)",
			     to, target.name ? store_status_name(target.status) : "none");
	if (rc == TP_OK && (rc = ops_queue_url(app, tn.queue, &to_url, e)) == TP_OK && !to_url)
		rc = tp_errf(e, TP_ENOTFOUND, "NotLive", "redrive target %s has no queue %s", to, tn.queue);
	for (int i = 0; rc == TP_OK && i < 2; i++) {
		if (!k.url[i])
			continue;
		for (int empty = 0; rc == TP_OK && empty < KEPT_EMPTY_READS;) {
			long n = move_batch(app, k.url[i], to_url, e);
			if (n < 0)
				rc = (int)n;
			else if (n == 0)
				empty++;
			else
				empty = 0, *moved += n;
		}
		if (rc == TP_OK)
			rc = delete_queue(app, k.url[i], e);
	}
	if (rc == TP_OK)
		rc = kept_finish(app, &k, e);
	free(to_url);
	store_pipeline_free(&target);
	kept_close(app, &k);
	return rc;
}

int kept_purge(struct app *app, const char *name, long *dropped, tp_err *e)
{
	*dropped = 0;
	struct kept k;
	int rc = kept_open(app, name, &k, e);
	static const char *const counts[] = { "ApproximateNumberOfMessages",
					      "ApproximateNumberOfMessagesNotVisible",
					      "ApproximateNumberOfMessagesDelayed" };
	for (int i = 0; rc == TP_OK && i < 2; i++) {
		if (!k.url[i])
			continue;
		struct aws_call call;
		cJSON *out = NULL;
		sqs_get_queue_attributes(&call, k.url[i], counts, 3);
		rc = awsj_run(app->aws, &call, &out, e);
		for (int c = 0; rc == TP_OK && c < 3; c++) {
			const char *v = cJSON_GetStringValue(
				cJSON_GetObjectItem(cJSON_GetObjectItem(out, "Attributes"), counts[c]));
			*dropped += v ? atol(v) : 0;
		}
		cJSON_Delete(out);
		if (rc == TP_OK)
			rc = delete_queue(app, k.url[i], e);
	}
	if (rc == TP_OK)
		rc = kept_finish(app, &k, e);
	kept_close(app, &k);
	return rc;
}
