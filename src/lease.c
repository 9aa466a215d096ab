/* lease.c: per-pipeline leases in the state table (see lease.h). */
#include "lease.h"

#include "awsjson.h"
#include "ddb.h"
#include "log.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static cJSON *lease_key(const char *pipeline)
{
	char *pk = tp_xasprintf("lease#%s", pipeline);
	cJSON *k = ddb_key("pk", pk);
	free(pk);
	return k;
}

static cJSON *acquire_req(struct app *app, const char *pipeline, const char *holder, int ttl_s,
			  int64_t now)
{
	cJSON *in = cJSON_CreateObject();
	cJSON_AddStringToObject(in, "TableName", app->set.state_table);
	cJSON_AddItemToObject(in, "Key", lease_key(pipeline));
	/* if_not_exists + 1 keeps one counter per pipeline across holders:
	 * each grant's token is larger than every earlier one. */
	cJSON_AddStringToObject(in, "UpdateExpression",
				"SET holder = :h, expires_at = :exp, pipeline = :p, "
				"fence = if_not_exists(fence, :zero) + :one");
	cJSON_AddStringToObject(in, "ConditionExpression",
				"attribute_not_exists(pk) OR expires_at < :now OR holder = :h");
	cJSON *v = cJSON_AddObjectToObject(in, "ExpressionAttributeValues");
	ddb_put_str(v, ":h", holder);
	ddb_put_str(v, ":p", pipeline);
	ddb_put_long(v, ":exp", (long)(now + ttl_s));
	ddb_put_long(v, ":now", (long)now);
	ddb_put_long(v, ":zero", 0);
	ddb_put_long(v, ":one", 1);
	cJSON_AddStringToObject(in, "ReturnValues", "ALL_NEW");
	return in;
}

static cJSON *release_req(struct app *app, const struct lease *l, const char *holder)
{
	cJSON *in = cJSON_CreateObject();
	cJSON_AddStringToObject(in, "TableName", app->set.state_table);
	cJSON_AddItemToObject(in, "Key", lease_key(l->pipeline));
	cJSON_AddStringToObject(in, "UpdateExpression", "SET expires_at = :zero REMOVE holder");
	cJSON_AddStringToObject(in, "ConditionExpression", "holder = :h AND fence = :t");
	cJSON *v = cJSON_AddObjectToObject(in, "ExpressionAttributeValues");
	ddb_put_str(v, ":h", holder);
	ddb_put_long(v, ":t", (long)l->token);
	ddb_put_long(v, ":zero", 0);
	return in;
}

static int conditional_failed(const tp_err *e)
{
	return strcmp(e->code, "ConditionalCheckFailedException") == 0;
}

/* Fill l from a finished acquire call. */
static void acquired(struct lease *l, int rc, const tp_err *err, const char *body, size_t len)
{
	if (rc < 0) {
		l->err = *err;
		if (conditional_failed(err))
			tp_errf(&l->err, TP_ECONFLICT, "LeaseHeld",
				"pipeline %s is being changed by another run; retry later", l->pipeline);
		return;
	}
	cJSON *out = cJSON_ParseWithLength(body, len);
	cJSON *attrs = cJSON_GetObjectItem(out, "Attributes");
	l->held = 1;
	l->token = ddb_get_long(attrs, "fence", 0);
	l->expires_at = ddb_get_long(attrs, "expires_at", 0);
	cJSON_Delete(out);
}

int lease_acquire(struct app *app, const char *pipeline, const char *holder, int ttl_s,
		  struct lease *out, tp_err *e)
{
	memset(out, 0, sizeof *out);
	out->pipeline = tp_xstrdup(pipeline);
	struct aws_call c;
	awsj_prepare(&c, SVC_DYNAMODB, "UpdateItem",
		     acquire_req(app, pipeline, holder, ttl_s, tp_now_ms() / 1000));
	int rc = aws_call_one(app->aws, &c);
	acquired(out, rc, &c.err, c.resp.data, c.resp.len);
	aws_call_free(&c);
	if (!out->held && e)
		*e = out->err;
	return out->held ? TP_OK : out->err.rc;
}

int lease_release(struct app *app, struct lease *l, const char *holder, tp_err *e)
{
	if (!l->held)
		return TP_OK;
	cJSON *res = NULL;
	cJSON *in = release_req(app, l, holder);
	tp_err err = { 0 };
	int rc = awsj_call(app->aws, SVC_DYNAMODB, "UpdateItem", in, &res, &err);
	cJSON_Delete(in);
	cJSON_Delete(res);
	l->held = 0;
	if (rc < 0 && conditional_failed(&err))
		rc = tp_errf(&err, TP_ECONFLICT, "LeaseLost", "lease on %s expired and was taken over",
			     l->pipeline);
	if (rc < 0 && e)
		*e = err;
	return rc;
}

size_t lease_acquire_many(struct app *app, char *const *pipelines, size_t n, const char *holder,
			  int ttl_s, struct lease *out)
{
	struct aws_call *calls = tp_xcalloc(n ? n : 1, sizeof *calls);
	int64_t now = tp_now_ms() / 1000;
	for (size_t i = 0; i < n; i++) {
		memset(&out[i], 0, sizeof out[i]);
		out[i].pipeline = tp_xstrdup(pipelines[i]);
		awsj_prepare(&calls[i], SVC_DYNAMODB, "UpdateItem",
			     acquire_req(app, pipelines[i], holder, ttl_s, now));
	}
	aws_call_many(app->aws, calls, n);
	size_t held = 0;
	for (size_t i = 0; i < n; i++) {
		acquired(&out[i], calls[i].rc, &calls[i].err, calls[i].resp.data, calls[i].resp.len);
		held += (size_t)out[i].held;
		aws_call_free(&calls[i]);
	}
	free(calls);
	return held;
}

void lease_release_many(struct app *app, struct lease *l, size_t n, const char *holder)
{
	struct aws_call *calls = tp_xcalloc(n ? n : 1, sizeof *calls);
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (l[i].held)
			awsj_prepare(&calls[k++], SVC_DYNAMODB, "UpdateItem", release_req(app, &l[i], holder));
	aws_call_many(app->aws, calls, k);
	for (size_t i = 0; i < k; i++) {
		/* Best effort: an unreleased lease only delays the next run until it expires. */
		if (calls[i].rc < 0)
			log_warn("lease release: %s: %.200s", calls[i].err.code, calls[i].err.message);
		aws_call_free(&calls[i]);
	}
	for (size_t i = 0; i < n; i++)
		l[i].held = 0;
	free(calls);
}

void lease_clear(struct lease *l, size_t n)
{
	for (size_t i = 0; l && i < n; i++) {
		free(l[i].pipeline);
		l[i].pipeline = NULL;
	}
}

void lease_holder_id(const char *tag, char *out, size_t len)
{
	char host[128] = "host";
	gethostname(host, sizeof host - 1);
	host[sizeof host - 1] = 0;
	snprintf(out, len, "%s:%ld:%s", host, (long)getpid(), tag ? tag : "");
}
