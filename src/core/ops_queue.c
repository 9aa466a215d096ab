/* ops_queue.c: a pipeline's queues read by name (see ops_queue.h). */
#include "core/ops_queue.h"

#include "aws/awsjson.h"
#include "aws/sqs.h"
#include "core/names.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

int ops_queue_url(struct app *app, const char *qname, char **url, tp_err *e)
{
	*url = NULL;
	struct aws_call c;
	cJSON *out = NULL;
	sqs_get_queue_url(&c, qname);
	int rc = awsj_run(app->aws, &c, &out, e);
	if (rc == TP_OK) {
		*url = tp_xstrdup(cJSON_GetStringValue(cJSON_GetObjectItem(out, "QueueUrl")) ?: "");
	} else if (rc == TP_ENOTFOUND || strstr(e->code, "NonExistentQueue") || strstr(e->code, "QueueDoesNotExist")) {
		tp_err_clear(e);
		rc = TP_OK;
	}
	cJSON_Delete(out);
	return rc;
}

int ops_queue_attrs(struct app *app, const char *url, cJSON **attrs, tp_err *e)
{
	static const char *const all[] = { "All" };
	struct aws_call c;
	cJSON *out = NULL;
	sqs_get_queue_attributes(&c, url, all, 1);
	int rc = awsj_run(app->aws, &c, &out, e);
	*attrs = rc == TP_OK ? cJSON_DetachItemFromObject(out, "Attributes") : NULL;
	if (!*attrs)
		*attrs = cJSON_CreateObject();
	cJSON_Delete(out);
	return rc;
}

static long attr_long(const cJSON *a, const char *k)
{
	const char *v = cJSON_GetStringValue(cJSON_GetObjectItem(a, k));
	return v ? atol(v) : 0;
}

int ops_depth(struct app *app, const char *name, struct ops_depth *out, tp_err *e)
{
	memset(out, 0, sizeof *out);
	struct names nm;
	char *q = NULL, *d = NULL;
	cJSON *qa = NULL, *da = NULL;
	if (names_for(app->set.prefix, name, &nm, e) < 0)
		return e->rc;
	int rc = ops_queue_url(app, nm.queue, &q, e);
	if (rc == TP_OK)
		rc = ops_queue_url(app, nm.dlq, &d, e);
	if (rc == TP_OK && !q)
		rc = tp_errf(e, TP_ENOTFOUND, "NotFound", "queue %s does not exist", nm.queue);
	if (rc == TP_OK)
		rc = ops_queue_attrs(app, q, &qa, e);
	if (rc == TP_OK && d)
		rc = ops_queue_attrs(app, d, &da, e);
	if (rc == TP_OK) {
		out->visible = attr_long(qa, "ApproximateNumberOfMessages");
		out->in_flight = attr_long(qa, "ApproximateNumberOfMessagesNotVisible");
		out->delayed = attr_long(qa, "ApproximateNumberOfMessagesDelayed");
		out->has_dlq = d != NULL;
		out->dlq = attr_long(da, "ApproximateNumberOfMessages");
	}
	cJSON_Delete(qa);
	cJSON_Delete(da);
	free(q);
	free(d);
	return rc;
}
