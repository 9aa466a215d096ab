/* groupq.c: a group's queue from the state table (see groupq.h). */
#include "core/groupq.h"

#include "aws/awsjson.h"
#include "aws/sqs.h"
#include "core/config_item.h"
#include "core/limit_group.h"
#include "core/store.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

static int not_found(int rc, const tp_err *e)
{
	return rc == TP_ENOTFOUND || strstr(e->code, "NonExistentQueue") ||
	       strstr(e->code, "QueueDoesNotExist");
}

/* A limit group of that name? (its item limit#<name>; only asked on the
 * error path, to say what the name is) */
static int is_limit_group(struct aws *a, const struct settings *set, const char *name)
{
	cJSON *item = NULL;
	char *key = limit_group_key(name);
	tp_err e = { 0 };
	int found = config_item_read(a, set->config_table, key, &item, &e) == TP_OK && item;
	free(key);
	cJSON_Delete(item);
	return found;
}

int groupq_find(struct aws *a, const struct settings *set, const char *group, struct groupq *out,
		tp_err *e)
{
	memset(out, 0, sizeof *out);
	int rc = names_for(set->prefix, group, &out->nm, e);
	if (rc < 0)
		return rc;
	struct aws_call c = { 0 };
	store_pipeline_get_prepare(&c, set->state_table, group);
	aws_call_one(a, &c);
	if (c.rc < 0) {
		*e = c.err;
		rc = c.rc;
		aws_call_free(&c);
		return rc;
	}
	cJSON *ans = awsj_result(&c);
	aws_call_free(&c);
	struct store_pipeline st;
	store_pipeline_from_item(cJSON_GetObjectItem(ans, "Item"), &st);
	cJSON_Delete(ans);
	out->status = st.status;
	if (!st.name || st.status == STORE_DELETED) {
		rc = tp_errf(e, TP_ENOTFOUND, "UnknownGroup",
			     "no group '%s' in state table %s%s (taskpipe ls lists the groups)", group,
			     set->state_table, st.name ? ": its pipeline was deleted"
			     : is_limit_group(a, set, group) ? ": it is a limit group, which has no queue: send to its members"
			     : "");
		store_pipeline_free(&st);
		return rc;
	}
	out->queue_url = st.queue_url;
	out->queue_arn = st.queue_arn;
	out->dlq_url = st.dlq_url;
	st.queue_url = st.queue_arn = st.dlq_url = NULL;
	if (!out->queue_url) {
		/* a record from before queue_url was kept: ask SQS by name */
		struct aws_call call;
		cJSON *o = NULL;
		sqs_get_queue_url(&call, out->nm.queue);
		rc = awsj_run(a, &call, &o, e);
		out->queue_url = tp_xstrdup(cJSON_GetStringValue(cJSON_GetObjectItem(o, "QueueUrl")));
		cJSON_Delete(o);
		if ((rc < 0 && not_found(rc, e)) || (rc == TP_OK && !out->queue_url)) {
			tp_err_clear(e);
			rc = tp_errf(e, TP_ENOTFOUND, "NoQueue", "group '%s' has no queue %s (status %s%s%s)",
				     group, out->nm.queue, store_status_name(st.status),
				     st.message ? ": " : "", st.message ? st.message : "");
		}
	}
	store_pipeline_free(&st);
	if (rc < 0)
		groupq_free(out);
	return rc;
}

void groupq_free(struct groupq *g)
{
	if (!g)
		return;
	free(g->queue_url);
	free(g->queue_arn);
	free(g->dlq_url);
	memset(g, 0, sizeof *g);
}
