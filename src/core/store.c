/* store.c: the state table's record kinds, keys and conditions (see store.h). */
#include "core/store.h"

#include "aws/awsjson.h"
#include "aws/ddb.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- keys ---- */

char *store_pk_pipeline(const char *name)
{
	return tp_xasprintf(STORE_PREFIX_PIPELINE "%s", name);
}

char *store_pk_lease(const char *pipeline)
{
	return tp_xasprintf("lease#%s", pipeline);
}

char *store_pk_checkpoint(const char *shard)
{
	return tp_xasprintf("checkpoint#%s", shard);
}

char *store_pk_skipped(const char *shard, const char *seq)
{
	return tp_xasprintf("skipped#%s#%s", shard, seq);
}

char *store_pk_rollout(const char *id)
{
	return tp_xasprintf(STORE_PREFIX_ROLLOUT "%s", id);
}

char *store_pk_rollout_fn(const char *id, const char *function)
{
	return tp_xasprintf("rollout-fn#%s#%s", id, function);
}

char *store_pk_rollout_plan(const char *id, const char *sha16, long part)
{
	return tp_xasprintf(STORE_PREFIX_ROLLOUT "%s#plan#%s#%ld", id, sha16, part);
}

char *store_pk_rollout_debug(const char *id)
{
	return tp_xasprintf(STORE_PREFIX_ROLLOUT "%s#debug", id);
}

int store_condition_failed(const tp_err *e)
{
	return strcmp(e->code, "ConditionalCheckFailedException") == 0;
}

/* {"TableName": table, "Key": {"pk": pk}} (pk consumed). */
static cJSON *keyed(const char *table, char *pk)
{
	cJSON *in = cJSON_CreateObject();
	cJSON_AddStringToObject(in, "TableName", table);
	cJSON_AddItemToObject(in, "Key", ddb_key("pk", pk));
	free(pk);
	return in;
}

/* A consistent GetItem of pk (consumed), prepared: every record kind's read. */
static void get_prepare(struct aws_call *c, const char *table, char *pk)
{
	cJSON *in = keyed(table, pk);
	cJSON_AddBoolToObject(in, "ConsistentRead", 1);
	awsj_prepare(c, SVC_DYNAMODB, "GetItem", in);
}

/* The same, run; *item the detached Item or NULL. */
static int get_item(struct aws *a, const char *table, char *pk, cJSON **item, tp_err *e)
{
	struct aws_call c;
	cJSON *out = NULL;
	get_prepare(&c, table, pk);
	int rc = awsj_run(a, &c, &out, e);
	*item = rc == TP_OK ? cJSON_DetachItemFromObject(out, "Item") : NULL;
	cJSON_Delete(out);
	return rc;
}

/* UpdateItem of pk (consumed): SET every attribute of sets (AttributeValues,
 * consumed) with its name aliased (status, version, ... are DynamoDB
 * reserved words), then extra_set, REMOVE remove, under cond. */
static cJSON *update_req(const char *table, char *pk, cJSON *sets, const char *extra_set,
			 const char *remove, const char *cond)
{
	cJSON *in = keyed(table, pk);
	cJSON *names = cJSON_AddObjectToObject(in, "ExpressionAttributeNames");
	cJSON *vals = cJSON_AddObjectToObject(in, "ExpressionAttributeValues");
	buf ex = { 0 };
	int i = 0;
	for (cJSON *a = sets->child; a; a = a->next, i++) {
		char n[16], v[16];
		snprintf(n, sizeof n, "#a%d", i);
		snprintf(v, sizeof v, ":a%d", i);
		cJSON_AddStringToObject(names, n, a->string);
		cJSON_AddItemToObject(vals, v, cJSON_Duplicate(a, 1));
		buf_addf(&ex, "%s%s = %s", i ? ", " : "SET ", n, v);
	}
	if (extra_set)
		buf_addf(&ex, "%s%s", i ? ", " : "SET ", extra_set);
	if (remove)
		buf_addf(&ex, " REMOVE %s", remove);
	cJSON_AddStringToObject(in, "UpdateExpression", buf_str(&ex));
	if (cond)
		cJSON_AddStringToObject(in, "ConditionExpression", cond);
	buf_free(&ex);
	cJSON_Delete(sets);
	return in;
}

/* PutItem of item (consumed) into table. */
static int put_item(struct aws *a, const char *table, cJSON *item, tp_err *e)
{
	cJSON *in = cJSON_CreateObject(), *out = NULL;
	cJSON_AddStringToObject(in, "TableName", table);
	cJSON_AddItemToObject(in, "Item", item);
	int rc = awsj_call(a, SVC_DYNAMODB, "PutItem", in, &out, e);
	cJSON_Delete(in);
	cJSON_Delete(out);
	return rc;
}

/* DeleteItem of pk (consumed); *had: there was an item. */
static int delete_item(struct aws *a, const char *table, char *pk, int *had, tp_err *e)
{
	cJSON *in = keyed(table, pk), *out = NULL;
	cJSON_AddStringToObject(in, "ReturnValues", "ALL_OLD");
	int rc = awsj_call(a, SVC_DYNAMODB, "DeleteItem", in, &out, e);
	if (had)
		*had = rc == TP_OK && cJSON_GetObjectItem(out, "Attributes") != NULL;
	cJSON_Delete(in);
	cJSON_Delete(out);
	return rc;
}

/* A new item {"pk": pk} (pk consumed). */
static cJSON *new_item(char *pk)
{
	cJSON *item = cJSON_CreateObject();
	ddb_put_str(item, "pk", pk);
	free(pk);
	return item;
}

static long now_s(void)
{
	return (long)(tp_now_ms() / 1000);
}

/* ---- pipeline#<name> ---- */

static const char *const status_names[] = { "?", "ok", "error", "deleted", "draining", "kept" };

const char *store_status_name(int status)
{
	return status > STORE_UNKNOWN && status <= STORE_KEPT ? status_names[status] : "?";
}

int store_status_parse(const char *s)
{
	for (int i = STORE_OK; s && i <= STORE_KEPT; i++)
		if (strcmp(s, status_names[i]) == 0)
			return i;
	return STORE_UNKNOWN;
}

void store_pipeline_from_item(const cJSON *item, struct store_pipeline *out)
{
	memset(out, 0, sizeof *out);
	if (!item)
		return;
	out->name = tp_xstrdup(ddb_get_str(item, "pipeline", NULL));
	out->status = store_status_parse(ddb_get_str(item, "status", NULL));
	snprintf(out->action, sizeof out->action, "%s", ddb_get_str(item, "action", ""));
	snprintf(out->hash, sizeof out->hash, "%s", ddb_get_str(item, "hash", ""));
	snprintf(out->input_hash, sizeof out->input_hash, "%s", ddb_get_str(item, "input_hash", ""));
	out->spec = tp_xstrdup(ddb_get_str(item, "spec", NULL));
	out->error_code = tp_xstrdup(ddb_get_str(item, "error_code", NULL));
	out->message = tp_xstrdup(ddb_get_str(item, "message", NULL));
	const cJSON *r = cJSON_GetObjectItem(cJSON_GetObjectItem(item, "retryable"), "BOOL");
	out->retryable = cJSON_IsTrue(r);
	out->updated_at = ddb_get_long(item, "updated_at", 0);
	out->lease_fence = ddb_get_long(item, "lease_fence", 0);
	out->queue_url = tp_xstrdup(ddb_get_str(item, "queue_url", NULL));
	out->queue_arn = tp_xstrdup(ddb_get_str(item, "queue_arn", NULL));
	out->dlq_url = tp_xstrdup(ddb_get_str(item, "dlq_url", NULL));
	out->drain_started_at = ddb_get_long(item, "drain_started_at", 0);
	out->drain_timeout = ddb_get_long(item, "drain_timeout", 0);
	out->drain_empty_at = ddb_get_long(item, "drain_empty_at", 0);
	out->consumers_gone_at = ddb_get_long(item, "consumers_gone_at", 0);
	out->kept_queue = ddb_get_long(item, "kept_queue", 0);
	out->kept_dlq = ddb_get_long(item, "kept_dlq", 0);
}

void store_pipeline_free(struct store_pipeline *p)
{
	if (!p)
		return;
	free(p->name);
	free(p->spec);
	free(p->error_code);
	free(p->message);
	free(p->queue_url);
	free(p->queue_arn);
	free(p->dlq_url);
	memset(p, 0, sizeof *p);
}

static char *str_at(const cJSON *o, const char *k)
{
	return tp_xstrdup(cJSON_GetStringValue(cJSON_GetObjectItem(o, k)));
}

int store_spec_code_parse(const char *spec_json, struct store_spec_code *out, tp_err *e)
{
	memset(out, 0, sizeof *out);
	cJSON *s = spec_json ? cJSON_Parse(spec_json) : NULL;
	if (!cJSON_IsObject(s)) {
		cJSON_Delete(s);
		return tp_errf(e, TP_EINVAL, "BadState", "stored spec is %s",
			       spec_json ? "not a JSON object" : "absent");
	}
	const cJSON *func = cJSON_GetObjectItem(s, "func");
	const cJSON *code = cJSON_GetObjectItem(func, "Code");
	out->function = str_at(func, "FunctionName");
	out->bucket = str_at(code, "S3Bucket");
	out->key = str_at(code, "S3Key");
	out->version = str_at(code, "S3ObjectVersion");
	const char *m = cJSON_GetStringValue(cJSON_GetObjectItem(code, "S3ObjectStorageMode"));
	out->reference = m && strcmp(m, "REFERENCE") == 0;
	const char *pt = cJSON_GetStringValue(cJSON_GetObjectItem(func, "PackageType"));
	out->image = pt && strcmp(pt, "Image") == 0;
	cJSON_Delete(s);
	return TP_OK;
}

void store_spec_code_free(struct store_spec_code *c)
{
	if (!c)
		return;
	free(c->function);
	free(c->bucket);
	free(c->key);
	free(c->version);
	memset(c, 0, sizeof *c);
}

void store_pipeline_get_prepare(struct aws_call *c, const char *table, const char *name)
{
	get_prepare(c, table, store_pk_pipeline(name));
}

void store_pipeline_put_prepare(struct aws_call *c, const char *table,
				const struct store_pipeline *p)
{
	cJSON *in = cJSON_CreateObject();
	cJSON_AddStringToObject(in, "TableName", table);
	cJSON *item = new_item(store_pk_pipeline(p->name));
	cJSON_AddItemToObject(in, "Item", item);
	ddb_put_str(item, "pipeline", p->name);
	ddb_put_str(item, "status", store_status_name(p->status));
	ddb_put_str(item, "action", p->action);
	ddb_put_long(item, "updated_at", p->updated_at);
	if (p->hash[0])
		ddb_put_str(item, "hash", p->hash);
	if (p->input_hash[0])
		ddb_put_str(item, "input_hash", p->input_hash);
	if (p->status == STORE_ERROR) {
		ddb_put_str(item, "error_code", p->error_code ? p->error_code : "");
		ddb_put_str(item, "message", p->message ? p->message : "");
		ddb_put_bool(item, "retryable", p->retryable);
	}
	if (p->spec)
		ddb_put_str(item, "spec", p->spec);
	if (p->queue_url)
		ddb_put_str(item, "queue_url", p->queue_url);
	if (p->queue_arn)
		ddb_put_str(item, "queue_arn", p->queue_arn);
	if (p->dlq_url)
		ddb_put_str(item, "dlq_url", p->dlq_url);
	const struct { const char *k; long v; } drain[] = {
		{ "drain_started_at", p->drain_started_at }, { "drain_timeout", p->drain_timeout },
		{ "drain_empty_at", p->drain_empty_at }, { "consumers_gone_at", p->consumers_gone_at },
		{ "kept_queue", p->kept_queue }, { "kept_dlq", p->kept_dlq },
	};
	for (size_t i = 0; i < sizeof drain / sizeof drain[0]; i++)
		if (drain[i].v > 0)
			ddb_put_long(item, drain[i].k, drain[i].v);
	if (p->lease_fence > 0) {
		/* Fencing: a holder whose lease expired and was taken over cannot
		 * overwrite what the newer holder recorded. */
		ddb_put_long(item, "lease_fence", (long)p->lease_fence);
		cJSON_AddStringToObject(in, "ConditionExpression", STORE_COND_PIPELINE_FENCE);
		cJSON *v = cJSON_AddObjectToObject(in, "ExpressionAttributeValues");
		ddb_put_long(v, ":fence", (long)p->lease_fence);
	}
	awsj_prepare(c, SVC_DYNAMODB, "PutItem", in);
}

static int cmp_pipeline(const void *a, const void *b)
{
	const struct store_pipeline *x = a, *y = b;
	return strcmp(x->name, y->name);
}

void store_pipelines_sort(struct store_pipelines *s)
{
	if (s->n > 1)
		qsort(s->v, s->n, sizeof *s->v, cmp_pipeline);
}

int store_pipelines_scan(struct aws *a, const char *table, struct store_pipelines *out, tp_err *e)
{
	memset(out, 0, sizeof *out);
	cJSON *items = cJSON_CreateArray(), *it;
	int rc = ddb_scan_all(a, table, STORE_PREFIX_PIPELINE, items, e);
	if (rc == TP_OK) {
		out->v = tp_xcalloc((size_t)cJSON_GetArraySize(items) + 1, sizeof *out->v);
		cJSON_ArrayForEach(it, items) {
			/* every record reconcile writes names its pipeline */
			if (!ddb_get_str(it, "pipeline", NULL))
				continue;
			store_pipeline_from_item(it, &out->v[out->n++]);
		}
		store_pipelines_sort(out);
	}
	cJSON_Delete(items);
	return rc;
}

const struct store_pipeline *store_pipelines_find(struct store_pipelines *s, const char *name)
{
	size_t lo = 0, hi = s->n;
	while (name && lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(name, s->v[mid].name);
		s->probes++;
		if (c == 0)
			return &s->v[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

void store_pipelines_free(struct store_pipelines *s)
{
	for (size_t i = 0; s && i < s->n; i++)
		store_pipeline_free(&s->v[i]);
	if (s) {
		free(s->v);
		memset(s, 0, sizeof *s);
	}
}

/* ---- lease#<pipeline> ---- */

void store_lease_grant_prepare(struct aws_call *c, const char *table, const char *pipeline,
			       const char *holder, int64_t expires_at, int64_t now_skewed)
{
	cJSON *in = keyed(table, store_pk_lease(pipeline));
	/* if_not_exists + 1 keeps one counter per pipeline across holders:
	 * each grant's token is larger than every earlier one. */
	cJSON_AddStringToObject(in, "UpdateExpression",
				"SET holder = :h, expires_at = :exp, pipeline = :p, "
				"fence = if_not_exists(fence, :zero) + :one");
	cJSON_AddStringToObject(in, "ConditionExpression", STORE_COND_LEASE_GRANT);
	cJSON *v = cJSON_AddObjectToObject(in, "ExpressionAttributeValues");
	ddb_put_str(v, ":h", holder);
	ddb_put_str(v, ":p", pipeline);
	ddb_put_long(v, ":exp", (long)expires_at);
	ddb_put_long(v, ":now", (long)now_skewed);
	ddb_put_long(v, ":zero", 0);
	ddb_put_long(v, ":one", 1);
	cJSON_AddStringToObject(in, "ReturnValues", "ALL_NEW");
	awsj_prepare(c, SVC_DYNAMODB, "UpdateItem", in);
}

/* An UpdateItem of lease#<pipeline> conditional on holder and token. */
static cJSON *lease_ours(const char *table, const char *pipeline, const char *holder,
			 long long token, const char *update)
{
	cJSON *in = keyed(table, store_pk_lease(pipeline));
	cJSON_AddStringToObject(in, "UpdateExpression", update);
	cJSON_AddStringToObject(in, "ConditionExpression", STORE_COND_LEASE_OURS);
	cJSON *v = cJSON_AddObjectToObject(in, "ExpressionAttributeValues");
	ddb_put_str(v, ":h", holder);
	ddb_put_long(v, ":t", (long)token);
	return in;
}

void store_lease_renew_prepare(struct aws_call *c, const char *table, const char *pipeline,
			       const char *holder, long long token, int64_t expires_at)
{
	cJSON *in = lease_ours(table, pipeline, holder, token, "SET expires_at = :exp");
	ddb_put_long(cJSON_GetObjectItem(in, "ExpressionAttributeValues"), ":exp", (long)expires_at);
	awsj_prepare(c, SVC_DYNAMODB, "UpdateItem", in);
}

void store_lease_release_prepare(struct aws_call *c, const char *table, const char *pipeline,
				 const char *holder, long long token)
{
	cJSON *in = lease_ours(table, pipeline, holder, token, "SET expires_at = :zero REMOVE holder");
	ddb_put_long(cJSON_GetObjectItem(in, "ExpressionAttributeValues"), ":zero", 0);
	awsj_prepare(c, SVC_DYNAMODB, "UpdateItem", in);
}

void store_lease_granted(const struct aws_call *c, long long *token, int64_t *expires_at)
{
	cJSON *out = cJSON_ParseWithLength(c->resp.data, c->resp.len);
	cJSON *attrs = cJSON_GetObjectItem(out, "Attributes");
	*token = ddb_get_long(attrs, "fence", 0);
	*expires_at = ddb_get_long(attrs, "expires_at", 0);
	cJSON_Delete(out);
}

/* ---- checkpoint#<shard>, skipped#<shard>#<seq> ---- */

int store_checkpoint_get(struct aws *a, const char *table, const char *shard, char **seq, tp_err *e)
{
	cJSON *item = NULL;
	int rc = get_item(a, table, store_pk_checkpoint(shard), &item, e);
	*seq = tp_xstrdup(ddb_get_str(item, "sequence_number", NULL));
	cJSON_Delete(item);
	return rc;
}

int store_checkpoint_put(struct aws *a, const char *table, const char *shard, const char *seq,
			 const char *stream_arn, tp_err *e)
{
	cJSON *item = new_item(store_pk_checkpoint(shard));
	ddb_put_str(item, "sequence_number", seq);
	ddb_put_str(item, "stream_arn", stream_arn);
	ddb_put_long(item, "updated_at", now_s());
	return put_item(a, table, item, e);
}

int store_skipped_put(struct aws *a, const char *table, const struct store_skipped *s, tp_err *e)
{
	cJSON *item = new_item(store_pk_skipped(s->shard, s->seq));
	ddb_put_str(item, "pipeline", s->pipeline);
	ddb_put_str(item, "shard", s->shard);
	ddb_put_str(item, "sequence_number", s->seq);
	ddb_put_str(item, "stream_arn", s->stream_arn);
	ddb_put_str(item, "error_code", s->error_code);
	ddb_put_str(item, "message", s->message);
	ddb_put_long(item, "attempts", s->attempts);
	ddb_put_long(item, "skipped_at", now_s());
	return put_item(a, table, item, e);
}

/* ---- limit-removed#<group> ---- */

int store_limit_removed_put(struct aws *a, const char *table, const char *group, tp_err *e)
{
	cJSON *item = new_item(tp_xasprintf("limit-removed#%s", group));
	ddb_put_str(item, "group", group);
	ddb_put_long(item, "removed_at", now_s());
	return put_item(a, table, item, e);
}

int store_limit_removed_get(struct aws *a, const char *table, const char *group, int *removed, tp_err *e)
{
	cJSON *item = NULL;
	int rc = get_item(a, table, tp_xasprintf("limit-removed#%s", group), &item, e);
	*removed = rc == TP_OK && ddb_get_long(item, "removed_at", 0) > 0;
	cJSON_Delete(item);
	return rc;
}

int store_limit_removed_clear(struct aws *a, const char *table, const char *group, tp_err *e)
{
	/* overwritten, not deleted: the controller deletes nothing in the state
	 * table but old rollout plans (packaging/template.yaml) */
	cJSON *item = new_item(tp_xasprintf("limit-removed#%s", group));
	ddb_put_str(item, "group", group);
	ddb_put_long(item, "restored_at", now_s());
	return put_item(a, table, item, e);
}

/* ---- drift#cursor ---- */

int store_drift_cursor_get(struct aws *a, const char *table, char **after, tp_err *e)
{
	cJSON *item = NULL;
	int rc = get_item(a, table, tp_xstrdup(STORE_PK_DRIFT_CURSOR), &item, e);
	*after = rc == TP_OK ? tp_xstrdup(ddb_get_str(item, "after", "")) : NULL;
	cJSON_Delete(item);
	return rc;
}

int store_drift_cursor_put(struct aws *a, const char *table, const char *after, int complete,
			   tp_err *e)
{
	cJSON *item = new_item(tp_xstrdup(STORE_PK_DRIFT_CURSOR));
	ddb_put_str(item, "after", after);
	ddb_put_long(item, "updated_at", now_s());
	if (complete)
		ddb_put_long(item, "cycle_completed_at", now_s());
	return put_item(a, table, item, e);
}

/* ---- account#settings ---- */

int store_account_get(struct aws *a, const char *table, long *concurrency, long *checked_at,
		      long *unreserved_min, tp_err *e)
{
	/* a cache: an eventually consistent read is enough */
	cJSON *in = keyed(table, tp_xstrdup(STORE_PK_ACCOUNT)), *out = NULL;
	int rc = awsj_call(a, SVC_DYNAMODB, "GetItem", in, &out, e);
	cJSON *item = cJSON_GetObjectItem(out, "Item");
	*concurrency = item ? ddb_get_long(item, "concurrency", -1) : -1;
	*checked_at = ddb_get_long(item, "checked_at", 0);
	*unreserved_min = ddb_get_long(item, "unreserved_min", -1);
	cJSON_Delete(in);
	cJSON_Delete(out);
	return rc;
}

int store_account_put(struct aws *a, const char *table, long concurrency, long checked_at,
		      long unreserved_min, tp_err *e)
{
	cJSON *item = new_item(tp_xstrdup(STORE_PK_ACCOUNT));
	ddb_put_long(item, "concurrency", concurrency);
	ddb_put_long(item, "checked_at", checked_at);
	if (unreserved_min >= 0)
		ddb_put_long(item, "unreserved_min", unreserved_min);
	return put_item(a, table, item, e);
}

/* ---- rollout#<id>, rollout-fn#<id>#<function> ---- */

int store_rollout_head_get(struct aws *a, const char *table, const char *id, cJSON **item, tp_err *e)
{
	return get_item(a, table, store_pk_rollout(id), item, e);
}

cJSON *store_rollout_head_item(const struct store_rollout_head *h)
{
	cJSON *item = new_item(store_pk_rollout(h->id));
	ddb_put_str(item, "kind", "rollout");
	ddb_put_str(item, "bucket", h->bucket);
	ddb_put_str(item, "key", h->key);
	ddb_put_str(item, "version", h->version);
	ddb_put_str(item, "sha256", h->sha256);
	ddb_put_long(item, "gen", h->gen);
	ddb_put_str(item, "status", "running");
	ddb_put_str(item, "mode", h->mode);
	ddb_put_long(item, "wave", 0);
	ddb_put_long(item, "next_at", 0);
	ddb_put_long(item, "judged", 0);
	ddb_put_long(item, "targets", h->targets);
	ddb_put_long(item, "started_at", h->now);
	ddb_put_long(item, "updated_at", h->now);
	ddb_put_str(item, "holder", h->holder);
	ddb_put_long(item, "lease_until", h->lease_until);
	return item;
}

int store_rollout_head_put(struct aws *a, const char *table, const cJSON *item, int replace, long old_gen,
			   tp_err *e)
{
	cJSON *in = cJSON_CreateObject(), *out = NULL;
	cJSON_AddStringToObject(in, "TableName", table);
	cJSON_AddItemToObject(in, "Item", cJSON_Duplicate(item, 1));
	if (replace) {
		cJSON_AddStringToObject(in, "ConditionExpression", STORE_COND_ROLLOUT_GEN);
		cJSON_AddStringToObject(cJSON_AddObjectToObject(in, "ExpressionAttributeNames"), "#g", "gen");
		ddb_put_long(cJSON_AddObjectToObject(in, "ExpressionAttributeValues"), ":old", old_gen);
	} else {
		cJSON_AddStringToObject(in, "ConditionExpression", STORE_COND_ROLLOUT_NEW);
	}
	int rc = awsj_call(a, SVC_DYNAMODB, "PutItem", in, &out, e);
	cJSON_Delete(in);
	cJSON_Delete(out);
	return rc;
}

int store_rollout_beat(struct aws *a, const char *table, const struct store_rollout_beat *b, tp_err *e)
{
	cJSON *s = cJSON_CreateObject();
	ddb_put_long(s, "wave", b->wave);
	ddb_put_long(s, "next_at", b->next_at);
	ddb_put_long(s, "judged", b->judged);
	ddb_put_long(s, "window_from", b->window_from);
	if (b->health_note && b->health_note[0])
		ddb_put_str(s, "health_note", b->health_note);
	if (b->rolled_back) {
		ddb_put_long(s, "rollback_functions", b->rb_functions);
		ddb_put_long(s, "rolled_back", b->rb_rolled_back);
		ddb_put_long(s, "rollback_failed", b->rb_failed);
		ddb_put_long(s, "rollback_lambda_calls", b->rb_lambda_calls);
		ddb_put_long(s, "rollback_updates", b->rb_updates);
		ddb_put_str(s, "rollback_to", b->rb_to ? b->rb_to : "");
	}
	ddb_put_long(s, "updated_at", b->now);
	ddb_put_str(s, "status", b->status);
	int release = b->how == STORE_ROLLOUT_RELEASE;
	if (release) {
		ddb_put_long(s, "lease_until", 0);
		if (b->error_code) {
			ddb_put_str(s, "error_function", b->error_function ? b->error_function : "");
			ddb_put_str(s, "error_code", b->error_code);
			ddb_put_str(s, "error_message", b->error_message ? b->error_message : "");
		}
	} else {
		ddb_put_str(s, "holder", b->holder);
		ddb_put_long(s, "lease_until", b->lease_until);
	}
	/* a release without a failure clears an earlier one */
	const char *remove = !release ? NULL : b->error_code ? "#h" : "#h, error_function, error_code, error_message";
	cJSON *in = update_req(table, store_pk_rollout(b->id), s, NULL, remove,
			       b->how == STORE_ROLLOUT_ACQUIRE ? STORE_COND_ROLLOUT_TAKE : STORE_COND_ROLLOUT_OURS);
	cJSON *names = cJSON_GetObjectItem(in, "ExpressionAttributeNames");
	cJSON_AddStringToObject(names, "#g", "gen");
	cJSON_AddStringToObject(names, "#h", "holder");
	cJSON *vals = cJSON_GetObjectItem(in, "ExpressionAttributeValues");
	ddb_put_long(vals, ":g", b->gen);
	ddb_put_str(vals, ":me", b->holder);
	if (b->how == STORE_ROLLOUT_ACQUIRE) {
		cJSON_AddStringToObject(names, "#lu", "lease_until");
		ddb_put_long(vals, ":now", b->now);
	}
	cJSON *out = NULL;
	int rc = awsj_call(a, SVC_DYNAMODB, "UpdateItem", in, &out, e);
	cJSON_Delete(in);
	cJSON_Delete(out);
	return rc;
}

void store_rollout_fn_prepare(struct aws_call *c, const char *table, const struct store_rollout_fn *f)
{
	cJSON *s = cJSON_CreateObject();
	ddb_put_str(s, "kind", "rollout-fn");
	ddb_put_str(s, "rollout", f->id);
	ddb_put_str(s, "function", f->function);
	ddb_put_str(s, "pipeline", f->pipeline);
	ddb_put_long(s, "gen", f->gen);
	ddb_put_str(s, "version", f->version);
	ddb_put_str(s, "status", f->status);
	ddb_put_long(s, "wave", f->wave);
	ddb_put_long(s, "updated_at", f->updated_at);
	if (f->rev)
		ddb_put_str(s, "rev", f->rev);
	if (f->prev_sha)
		ddb_put_str(s, "prev_sha", f->prev_sha);
	if (f->error_code) {
		ddb_put_str(s, "error_code", f->error_code);
		ddb_put_str(s, "error_message", f->error_message ? f->error_message : "");
	}
	cJSON *in = update_req(table, store_pk_rollout_fn(f->id, f->function), s,
			       f->count_attempt ? "attempts = if_not_exists(attempts, :zero) + :one" : NULL,
			       NULL, STORE_COND_ROLLOUT_FN);
	cJSON_AddStringToObject(cJSON_GetObjectItem(in, "ExpressionAttributeNames"), "#g", "gen");
	cJSON *v = cJSON_GetObjectItem(in, "ExpressionAttributeValues");
	ddb_put_long(v, ":g", f->gen);
	if (f->count_attempt) {
		ddb_put_long(v, ":zero", 0);
		ddb_put_long(v, ":one", 1);
	}
	awsj_prepare(c, SVC_DYNAMODB, "UpdateItem", in);
}

void store_rollout_fn_get_prepare(struct aws_call *c, const char *table, const char *id, const char *function)
{
	get_prepare(c, table, store_pk_rollout_fn(id, function));
}

int store_rollout_plan_put(struct aws *a, const char *table, const char *id, const char *sha16, long part,
			   const char *text, tp_err *e)
{
	cJSON *item = new_item(store_pk_rollout_plan(id, sha16, part));
	ddb_put_str(item, "kind", "rollout-plan");
	ddb_put_str(item, "rollout", id);
	ddb_put_long(item, "part", part);
	ddb_put_str(item, "text", text);
	return put_item(a, table, item, e);
}

int store_rollout_plan_get(struct aws *a, const char *table, const char *id, const char *sha16, long part,
			   char **text, tp_err *e)
{
	cJSON *item = NULL;
	int rc = get_item(a, table, store_pk_rollout_plan(id, sha16, part), &item, e);
	*text = tp_xstrdup(ddb_get_str(item, "text", NULL));
	cJSON_Delete(item);
	return rc;
}

int store_rollout_plan_delete(struct aws *a, const char *table, const char *id, const char *sha16, long part,
			      tp_err *e)
{
	return delete_item(a, table, store_pk_rollout_plan(id, sha16, part), NULL, e);
}

/* ---- code#<bucket>/<key> ---- */

char *store_pk_code(const char *bucket, const char *key)
{
	return tp_xasprintf("code#%s/%s", bucket, key);
}

int store_code_get(struct aws *a, const char *table, const char *bucket, const char *key,
		   struct store_code *out, tp_err *e)
{
	memset(out, 0, sizeof *out);
	cJSON *item = NULL;
	int rc = get_item(a, table, store_pk_code(bucket, key), &item, e);
	if (rc < 0 || !item) {
		cJSON_Delete(item);
		return rc;
	}
	const char *gv = ddb_get_str(item, "good_version", NULL);
	if (gv && gv[0])
		out->good_version = tp_xstrdup(gv);
	snprintf(out->good_sha, sizeof out->good_sha, "%s", ddb_get_str(item, "good_sha", ""));
	const cJSON *ss = cJSON_GetObjectItem(cJSON_GetObjectItem(item, "rejected"), "SS"), *v;
	out->rejected = tp_xcalloc((size_t)cJSON_GetArraySize(ss) + 1, sizeof *out->rejected);
	cJSON_ArrayForEach(v, ss)
		if (cJSON_IsString(v))
			out->rejected[out->nrejected++] = tp_xstrdup(v->valuestring);
	cJSON_Delete(item);
	return TP_OK;
}

int store_code_is_rejected(const struct store_code *c, const char *version)
{
	for (size_t i = 0; version && i < c->nrejected; i++)
		if (strcmp(c->rejected[i], version) == 0)
			return 1;
	return 0;
}

void store_code_free(struct store_code *c)
{
	if (!c)
		return;
	free(c->good_version);
	for (size_t i = 0; i < c->nrejected; i++)
		free(c->rejected[i]);
	free(c->rejected);
	memset(c, 0, sizeof *c);
}

static int code_update(struct aws *a, const char *table, const char *bucket, const char *key, const char *reject,
		       const char *good_version, const char *good_sha, tp_err *e)
{
	cJSON *in = keyed(table, store_pk_code(bucket, key));
	/* every name aliased: some are DynamoDB reserved words */
	cJSON *names = cJSON_AddObjectToObject(in, "ExpressionAttributeNames");
	cJSON_AddStringToObject(names, "#k", "kind");
	cJSON_AddStringToObject(names, "#u", "updated_at");
	cJSON *vals = cJSON_AddObjectToObject(in, "ExpressionAttributeValues");
	buf ex = { 0 };
	buf_addf(&ex, "SET #k = :kind, #u = :now");
	ddb_put_str(vals, ":kind", "code");
	ddb_put_long(vals, ":now", (long)(tp_now_ms() / 1000));
	if (good_version) {
		buf_adds(&ex, ", #gv = :gv, #gs = :gs");
		cJSON_AddStringToObject(names, "#gv", "good_version");
		cJSON_AddStringToObject(names, "#gs", "good_sha");
		ddb_put_str(vals, ":gv", good_version);
		ddb_put_str(vals, ":gs", good_sha ? good_sha : "");
	}
	if (reject) {
		buf_adds(&ex, " ADD #rj :rj");
		cJSON_AddStringToObject(names, "#rj", "rejected");
		cJSON *ss = cJSON_CreateArray();
		cJSON_AddItemToArray(ss, cJSON_CreateString(reject));
		cJSON_AddItemToObject(cJSON_AddObjectToObject(vals, ":rj"), "SS", ss);
	}
	cJSON_AddStringToObject(in, "UpdateExpression", buf_str(&ex));
	buf_free(&ex);
	cJSON *out = NULL;
	int rc = awsj_call(a, SVC_DYNAMODB, "UpdateItem", in, &out, e);
	cJSON_Delete(in);
	cJSON_Delete(out);
	return rc;
}

int store_code_reject(struct aws *a, const char *table, const char *bucket, const char *key,
		      const char *version, const char *good_version, const char *good_sha, tp_err *e)
{
	return code_update(a, table, bucket, key, version, good_version, good_sha, e);
}

int store_code_good(struct aws *a, const char *table, const char *bucket, const char *key,
		    const char *version, const char *sha, tp_err *e)
{
	return code_update(a, table, bucket, key, NULL, version, sha, e);
}

/* ---- forget: pipeline#<name> and lease#<name> ---- */

int store_pipeline_forget(struct aws *a, const char *table, const char *name, int *had, tp_err *e)
{
	int rc = delete_item(a, table, store_pk_pipeline(name), had, e);
	if (rc == TP_OK)
		rc = delete_item(a, table, store_pk_lease(name), NULL, e);
	return rc;
}

/* ---- pause#<name> ---- */

char *store_pk_pause(const char *name)
{
	return tp_xasprintf(STORE_PREFIX_PAUSE "%s", name);
}

int store_pause_put(struct aws *a, const char *table, const struct store_pause *p, tp_err *e)
{
	cJSON *item = new_item(store_pk_pause(p->name));
	ddb_put_str(item, "pipeline", p->name);
	ddb_put_str(item, "paused_by", p->by ? p->by : "?");
	ddb_put_long(item, "paused_at", p->at);
	if (p->reason && *p->reason)
		ddb_put_str(item, "reason", p->reason);
	return put_item(a, table, item, e);
}

int store_pause_delete(struct aws *a, const char *table, const char *name, int *had, tp_err *e)
{
	return delete_item(a, table, store_pk_pause(name), had, e);
}

void store_pause_get_prepare(struct aws_call *c, const char *table, const char *name)
{
	get_prepare(c, table, store_pk_pause(name));
}

int store_pause_get(struct aws *a, const char *table, const char *name, struct store_pause *out, tp_err *e)
{
	cJSON *item = NULL;
	int rc = get_item(a, table, store_pk_pause(name), &item, e);
	store_pause_from_item(item, out);
	cJSON_Delete(item);
	return rc;
}

void store_pause_from_item(const cJSON *item, struct store_pause *out)
{
	memset(out, 0, sizeof *out);
	const char *name = ddb_get_str(item, "pipeline", NULL);
	if (!item || !name)
		return;
	out->name = tp_xstrdup(name);
	out->by = tp_xstrdup(ddb_get_str(item, "paused_by", "?"));
	const char *why = ddb_get_str(item, "reason", NULL);
	out->reason = why ? tp_xstrdup(why) : NULL;
	out->at = ddb_get_long(item, "paused_at", 0);
}

void store_pause_free(struct store_pause *p)
{
	if (!p)
		return;
	free(p->name);
	free(p->by);
	free(p->reason);
	memset(p, 0, sizeof *p);
}

static int cmp_pause(const void *x, const void *y)
{
	return strcmp(((const struct store_pause *)x)->name, ((const struct store_pause *)y)->name);
}

int store_pauses_scan(struct aws *a, const char *table, struct store_pauses *out, tp_err *e)
{
	memset(out, 0, sizeof *out);
	cJSON *items = cJSON_CreateArray(), *it;
	int rc = ddb_scan_all(a, table, STORE_PREFIX_PAUSE, items, e);
	if (rc == TP_OK) {
		out->v = tp_xcalloc((size_t)cJSON_GetArraySize(items) + 1, sizeof *out->v);
		cJSON_ArrayForEach(it, items) {
			store_pause_from_item(it, &out->v[out->n]);
			out->n += out->v[out->n].name != NULL;
		}
		qsort(out->v, out->n, sizeof *out->v, cmp_pause);
	}
	cJSON_Delete(items);
	return rc;
}

const struct store_pause *store_pauses_find(const struct store_pauses *s, const char *name)
{
	size_t lo = 0, hi = s->n;
	while (name && lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(name, s->v[mid].name);
		if (c == 0)
			return &s->v[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

void store_pauses_free(struct store_pauses *s)
{
	for (size_t i = 0; s && i < s->n; i++)
		store_pause_free(&s->v[i]);
	if (s) {
		free(s->v);
		memset(s, 0, sizeof *s);
	}
}
