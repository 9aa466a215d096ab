/* reconcile.c: pipelines from config items (see reconcile.h).
 *
 * A run holds one record per pipeline and walks them through a fixed list
 * of steps. Each step asks every live record for its calls (0..MAX_CALLS),
 * runs them all in one aws_call_many batch, and hands the answers back.
 * A record that fails stops there; the others go on. */
#include "reconcile.h"

#include "awsjson.h"
#include "ddb.h"
#include "hash.h"
#include "json.h"
#include "lease.h"
#include "log.h"
#include "names.h"
#include "policy.h"
#include "sigv4.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CALLS 4
#define WAIT_ROUNDS 120   /* function update polls, 1 s apart */

struct rec {
	struct rec_result *res;   /* where the outcome goes */
	struct names nm;
	cJSON *item;              /* config item (AttributeValues), NULL: gone */
	cJSON *state;             /* last state record, NULL: none */
	int item_read, state_read;/* item / state known (read or scanned) */
	cJSON *spec;              /* desired spec, NULL when deleting */
	cJSON *old_spec;          /* spec stored with the last state */
	cJSON *changes;           /* array of change objects */
	int failed;               /* stop further steps */
	int no_state;             /* not ours to record (lease held elsewhere) */
	struct lease *lease;      /* held while changing this pipeline */
	int done;                 /* nothing more to do (unchanged) */
	/* observed */
	char *q_url, *dlq_url;
	cJSON *q_attrs, *dlq_attrs, *q_tags, *dlq_tags;
	cJSON *fn;                /* GetFunction answer */
	cJSON *esm;               /* the function's event source mapping */
	/* progress */
	int fn_created;           /* CreateFunction ran in this reconcile */
	int fn_wait;              /* polling for LastUpdateStatus/State */
	int fn_waits;
	int dlq_kept;             /* deleting: the non-empty DLQ stays */
	char code_marker[256];    /* Description recording the code object */
	char desired_arn_q[256];  /* queue ARN, for the redrive and the mapping */
	char dlq_arn[256];
};

struct run {
	struct app *app;
	const struct reconcile_opts *o;
	struct rec *recs;
	size_t n;
	char *ctx_json;
	size_t n_leased;          /* leases asked for (see lease_changing) */
};

typedef int (*emit_fn)(struct run *r, struct rec *p, struct aws_call *c);
typedef void (*done_fn)(struct run *r, struct rec *p, struct aws_call *c, int n);

/* ---- small helpers ---- */

static void fail(struct rec *p, const tp_err *e)
{
	p->failed = 1;
	p->res->rc = e->rc ? e->rc : TP_EAWS;
	p->res->err = *e;
}

static void failf(struct rec *p, int rc, const char *code, const char *fmt, const char *a1,
		  const char *a2)
{
	tp_err e = { 0 };
	tp_errf(&e, rc, code, fmt, a1, a2);
	fail(p, &e);
}

static int not_found(const struct aws_call *c)
{
	return c->rc == TP_ENOTFOUND || strstr(c->err.code, "NonExistentQueue") ||
	       strstr(c->err.code, "QueueDoesNotExist") || strstr(c->err.code, "ResourceNotFound");
}


static void change(struct rec *p, const char *resource, const char *field, const cJSON *from,
		   const cJSON *to)
{
	cJSON *c = cJSON_CreateObject();
	char a[512], b[512];
	json_value_str(from, a, sizeof a);
	json_value_str(to, b, sizeof b);
	cJSON_AddStringToObject(c, "resource", resource);
	cJSON_AddStringToObject(c, "field", field);
	cJSON_AddStringToObject(c, "from", a);
	cJSON_AddStringToObject(c, "to", b);
	cJSON_AddItemToArray(p->changes, c);
}

static void change_action(struct rec *p, const char *resource, const char *action)
{
	cJSON *c = cJSON_CreateObject();
	cJSON_AddStringToObject(c, "resource", resource);
	cJSON_AddStringToObject(c, "action", action);
	cJSON_AddItemToArray(p->changes, c);
}

static cJSON *obj(void)
{
	return cJSON_CreateObject();
}

static cJSON *spec_part(const struct rec *p, const char *name)
{
	return cJSON_GetObjectItem(p->spec, name);
}

/* The tags every resource of this pipeline must carry. */
static cJSON *desired_tags(struct run *r, const struct rec *p)
{
	cJSON *t = obj();
	cJSON *user = spec_part(p, "tags");
	for (cJSON *it = user ? user->child : NULL; it; it = it->next) {
		char v[512];
		json_value_str(it, v, sizeof v);
		cJSON_AddStringToObject(t, it->string, v);
	}
	cJSON_AddStringToObject(t, "taskpipe:owner", r->app->set.owner);
	cJSON_AddStringToObject(t, "taskpipe:pipeline", p->res->name);
	return t;
}

/* Tags an existing resource lacks or has with another value. */
static cJSON *missing_tags(const cJSON *want, const cJSON *have)
{
	cJSON *m = obj();
	for (cJSON *it = want->child; it; it = it->next) {
		cJSON *h = cJSON_GetObjectItemCaseSensitive(have, it->string);
		if (!cJSON_IsString(h) || strcmp(h->valuestring, it->valuestring) != 0)
			cJSON_AddStringToObject(m, it->string, it->valuestring);
	}
	return m;
}

/* Keys of user tags the last applied spec set, the new one drops and the
 * resource still carries: removed, so dropping a tag is a change too. Tags
 * someone else added are left alone. */
static cJSON *stale_tags(const cJSON *old_spec, const cJSON *want, const cJSON *have)
{
	cJSON *keys = cJSON_CreateArray();
	cJSON *old = cJSON_GetObjectItemCaseSensitive(old_spec, "tags");
	for (cJSON *it = old ? old->child : NULL; it; it = it->next)
		if (it->string && !cJSON_GetObjectItemCaseSensitive(want, it->string) &&
		    cJSON_GetObjectItemCaseSensitive(have, it->string))
			cJSON_AddItemToArray(keys, cJSON_CreateString(it->string));
	return keys;
}

/* Record tag differences as changes "Tags.<key>". */
static void diff_tags(struct rec *p, const char *resource, const cJSON *want, const cJSON *have)
{
	char field[160];
	cJSON *m = missing_tags(want, have), *s = stale_tags(p->old_spec, want, have);
	for (cJSON *t = m->child; t; t = t->next) {
		snprintf(field, sizeof field, "Tags.%s", t->string);
		change(p, resource, field, cJSON_GetObjectItemCaseSensitive(have, t->string), t);
	}
	for (cJSON *k = s->child; k; k = k->next) {
		snprintf(field, sizeof field, "Tags.%s", k->valuestring);
		change(p, resource, field, cJSON_GetObjectItemCaseSensitive(have, k->valuestring), NULL);
	}
	cJSON_Delete(m);
	cJSON_Delete(s);
}

/* The owner check: an existing resource is ours only when it carries our
 * owner tag and this pipeline's tag. */
static int owned(struct run *r, const struct rec *p, const cJSON *tags, char *why, size_t len)
{
	const char *owner = cJSON_GetStringValue(cJSON_GetObjectItem(tags, "taskpipe:owner"));
	const char *pipe = cJSON_GetStringValue(cJSON_GetObjectItem(tags, "taskpipe:pipeline"));
	if (!owner) {
		snprintf(why, len, "it has no taskpipe:owner tag (not created by taskpipe)");
		return 0;
	}
	if (strcmp(owner, r->app->set.owner) != 0) {
		snprintf(why, len, "its taskpipe:owner tag is '%s', not '%s'", owner, r->app->set.owner);
		return 0;
	}
	if (!pipe || strcmp(pipe, p->res->name) != 0) {
		snprintf(why, len, "its taskpipe:pipeline tag is '%s'", pipe ? pipe : "(none)");
		return 0;
	}
	return 1;
}

/* arn:aws:sqs:REGION:ACCOUNT:NAME from a queue URL .../ACCOUNT/NAME */
static void queue_arn(struct run *r, const char *url, char *out, size_t len)
{
	const char *name = strrchr(url, '/');
	const char *acct_end = name;
	const char *acct = acct_end;
	while (acct > url && acct[-1] != '/')
		acct--;
	const char *region = aws_region(r->app->aws);
	const char *part = tp_startswith(region, "cn-") ? "aws-cn" :
			   tp_startswith(region, "us-gov-") ? "aws-us-gov" : "aws";
	snprintf(out, len, "arn:%s:sqs:%s:%.*s:%s", part, region, (int)(acct_end - acct), acct,
		 name ? name + 1 : url);
}

static char *fn_path(const struct rec *p, const char *suffix)
{
	return tp_xasprintf("/2015-03-31/functions/%s%s", p->nm.function, suffix);
}

static void prep_sqs(struct aws_call *c, const char *op, const char *url, cJSON *in)
{
	if (!in)
		in = obj();
	if (url)
		cJSON_AddStringToObject(in, "QueueUrl", url);
	awsj_prepare(c, SVC_SQS, op, in);
}

static void prep_lambda(struct aws_call *c, const char *op, const char *method, char *path_owned,
			const char *query, cJSON *in)
{
	awsj_prepare_rest(c, SVC_LAMBDA, op, method, path_owned, query, in);
	free(path_owned);
}

/* ---- step 1: read item and state ---- */

static int emit_read(struct run *r, struct rec *p, struct aws_call *c)
{
	int n = 0;
	if (!p->item_read) {
		cJSON *in = obj();
		cJSON_AddStringToObject(in, "TableName", r->app->set.config_table);
		cJSON_AddItemToObject(in, "Key", ddb_key("pipeline", p->res->name));
		cJSON_AddBoolToObject(in, "ConsistentRead", 1);
		awsj_prepare(&c[n++], SVC_DYNAMODB, "GetItem", in);
	}
	if (!p->state_read) {
		char pk[300];
		snprintf(pk, sizeof pk, "pipeline#%s", p->res->name);
		cJSON *in = obj();
		cJSON_AddStringToObject(in, "TableName", r->app->set.state_table);
		cJSON_AddItemToObject(in, "Key", ddb_key("pk", pk));
		cJSON_AddBoolToObject(in, "ConsistentRead", 1);
		awsj_prepare(&c[n++], SVC_DYNAMODB, "GetItem", in);
	}
	return n;
}

static void done_read(struct run *r, struct rec *p, struct aws_call *c, int n)
{
	for (int i = 0; i < n; i++) {
		if (c[i].rc != TP_OK) {
			fail(p, &c[i].err);
			return;
		}
		cJSON *out = awsj_result(&c[i]);
		cJSON *item = cJSON_DetachItemFromObject(out, "Item");
		cJSON_Delete(out);
		if (!p->item_read) {
			p->item = item;
			p->item_read = 1;
		} else {
			p->state = item;
			p->state_read = 1;
		}
	}
}

/* ---- step 2 (local): policy, hash, skip when unchanged ---- */

static void run_policy(struct run *r, struct rec *p)
{
	tp_err e = { 0 };
	if (names_for(r->app->set.prefix, p->res->name, &p->nm, &e) < 0) {
		fail(p, &e);
		return;
	}
	const char *status = ddb_get_str(p->state, "status", "");
	if (!p->item) {
		p->res->action = REC_DELETE;
		if (strcmp(status, "deleted") == 0 && !r->o->force)
			p->done = 1;
		return;
	}
	char *item = cJSON_PrintUnformatted(p->item), *spec = NULL;
	int rc = policy_pipeline(r->app->policy, item, r->ctx_json, &spec, &e);
	free(item);
	if (rc < 0) {
		fail(p, &e);
		return;
	}
	p->spec = cJSON_Parse(spec);
	/* The hash covers the spec and the settings that shape resources. */
	buf h = { 0 };
	buf_addf(&h, "%s\n%s\n%s\n%s", spec, r->app->set.owner, r->app->set.prefix,
		 r->app->set.role_arn ? r->app->set.role_arn : "");
	hash_sha256_hex(h.data, h.len, p->res->hash);
	buf_free(&h);
	free(spec);
	if (!p->spec) {
		failf(p, TP_EPOLICY, "PolicyError", "policy returned a spec that is not JSON%s%s", "", "");
		return;
	}
	p->res->action = REC_UPDATE;
	const char *old = ddb_get_str(p->state, "hash", "");
	if (strcmp(status, "ok") == 0 && strcmp(old, p->res->hash) == 0 && !r->o->force) {
		p->res->action = REC_NONE;
		p->done = 1;
	}
}

/* ---- step 3: find the resources ---- */

static int emit_find(struct run *r, struct rec *p, struct aws_call *c)
{
	cJSON *in = obj();
	cJSON_AddStringToObject(in, "QueueName", p->nm.queue);
	prep_sqs(&c[0], "GetQueueUrl", NULL, in);
	in = obj();
	cJSON_AddStringToObject(in, "QueueName", p->nm.dlq);
	prep_sqs(&c[1], "GetQueueUrl", NULL, in);
	prep_lambda(&c[2], "GetFunction", "GET", fn_path(p, ""), NULL, NULL);
	return 3;
}

static void done_find(struct run *r, struct rec *p, struct aws_call *c, int n)
{
	for (int i = 0; i < n; i++) {
		if (c[i].rc != TP_OK) {
			if (not_found(&c[i]))
				continue;
			fail(p, &c[i].err);
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

static int emit_details(struct run *r, struct rec *p, struct aws_call *c)
{
	int n = 0;
	const char *urls[2] = { p->q_url, p->dlq_url };
	for (int i = 0; i < 2; i++) {
		if (!urls[i])
			continue;
		cJSON *in = obj();
		cJSON *names = cJSON_AddArrayToObject(in, "AttributeNames");
		cJSON_AddItemToArray(names, cJSON_CreateString("All"));
		prep_sqs(&c[n], "GetQueueAttributes", urls[i], in);
		c[n++].user = (void *)(intptr_t)(i * 2);
		prep_sqs(&c[n], "ListQueueTags", urls[i], NULL);
		c[n++].user = (void *)(intptr_t)(i * 2 + 1);
	}
	return n;
}

static void done_details(struct run *r, struct rec *p, struct aws_call *c, int n)
{
	for (int i = 0; i < n; i++) {
		if (c[i].rc != TP_OK) {
			fail(p, &c[i].err);
			return;
		}
		cJSON *out = awsj_result(&c[i]);
		int which = (int)(intptr_t)c[i].user;
		cJSON *part = cJSON_DetachItemFromObject(out, which % 2 ? "Tags" : "Attributes");
		if (!part)
			part = obj();
		cJSON **slot[] = { &p->q_attrs, &p->q_tags, &p->dlq_attrs, &p->dlq_tags };
		*slot[which] = part;
		cJSON_Delete(out);
	}
}

static int emit_mapping(struct run *r, struct rec *p, struct aws_call *c)
{
	if (!p->fn)
		return 0;
	char q[200];
	snprintf(q, sizeof q, "FunctionName=%s", p->nm.function);
	prep_lambda(&c[0], "ListEventSourceMappings", "GET",
		    tp_xstrdup("/2015-03-31/event-source-mappings/"), q, NULL);
	return 1;
}

static void done_mapping(struct run *r, struct rec *p, struct aws_call *c, int n)
{
	if (c[0].rc != TP_OK) {
		fail(p, &c[0].err);
		return;
	}
	cJSON *out = awsj_result(&c[0]);
	cJSON *list = cJSON_GetObjectItem(out, "EventSourceMappings");
	cJSON *m;
	cJSON_ArrayForEach(m, list) {
		/* Ours is the one reading this pipeline's queue. */
		const char *src = cJSON_GetStringValue(cJSON_GetObjectItem(m, "EventSourceArn"));
		if (src && p->q_url) {
			char arn[256];
			queue_arn(r, p->q_url, arn, sizeof arn);
			if (strcmp(arn, src) != 0)
				continue;
		}
		p->esm = cJSON_Duplicate(m, 1);
		break;
	}
	cJSON_Delete(out);
}

/* ---- step 5 (local): ownership and the diff ---- */

static const char *queue_fields[] = { "VisibilityTimeout", "MessageRetentionPeriod",
				      "ReceiveMessageWaitTimeSeconds", "DelaySeconds",
				      "MaximumMessageSize", NULL };

static void diff_attrs(struct rec *p, const char *resource, const cJSON *want, const cJSON *have)
{
	for (int i = 0; queue_fields[i]; i++) {
		cJSON *w = cJSON_GetObjectItem(want, queue_fields[i]);
		if (!w)
			continue;
		char ws[64];
		json_value_str(w, ws, sizeof ws);
		const char *hs = cJSON_GetStringValue(cJSON_GetObjectItem(have, queue_fields[i]));
		if (!hs || strcmp(hs, ws) != 0) {
			cJSON *from = hs ? cJSON_CreateString(hs) : NULL;
			change(p, resource, queue_fields[i], from, w);
			cJSON_Delete(from);
		}
	}
}

static long redrive_count(const cJSON *attrs, char *target, size_t len)
{
	const char *rp = cJSON_GetStringValue(cJSON_GetObjectItem(attrs, "RedrivePolicy"));
	cJSON *j = rp ? cJSON_Parse(rp) : NULL;
	long n = -1;
	if (j) {
		cJSON *m = cJSON_GetObjectItem(j, "maxReceiveCount");
		n = cJSON_IsNumber(m) ? (long)m->valuedouble :
		    cJSON_IsString(m) ? atol(m->valuestring) : -1;
		snprintf(target, len, "%s",
			 cJSON_GetStringValue(cJSON_GetObjectItem(j, "deadLetterTargetArn")) ?: "");
	}
	cJSON_Delete(j);
	return n;
}

static void code_marker(const cJSON *func, char *out, size_t len)
{
	cJSON *code = cJSON_GetObjectItem(func, "Code");
	const char *b = cJSON_GetStringValue(cJSON_GetObjectItem(code, "S3Bucket"));
	const char *k = cJSON_GetStringValue(cJSON_GetObjectItem(code, "S3Key"));
	const char *v = cJSON_GetStringValue(cJSON_GetObjectItem(code, "S3ObjectVersion"));
	snprintf(out, len, "taskpipe code s3://%s/%s%s%s", b ? b : "", k ? k : "", v ? "#" : "",
		 v ? v : "");
}

static const char *func_fields[] = { "Runtime", "Handler", "MemorySize", "Timeout", "Role",
				     "Description", NULL };

/* The function configuration we want, as UpdateFunctionConfiguration takes it. */
static cJSON *desired_config(struct run *r, struct rec *p)
{
	cJSON *func = spec_part(p, "func");
	cJSON *cfg = obj();
	for (int i = 0; func_fields[i]; i++) {
		cJSON *v = cJSON_GetObjectItem(func, func_fields[i]);
		if (v)
			cJSON_AddItemToObject(cfg, func_fields[i], cJSON_Duplicate(v, 1));
	}
	if (!cJSON_GetObjectItem(cfg, "Role") && r->app->set.role_arn)
		cJSON_AddStringToObject(cfg, "Role", r->app->set.role_arn);
	cJSON_DeleteItemFromObject(cfg, "Description");
	cJSON_AddStringToObject(cfg, "Description", p->code_marker);
	cJSON *env = cJSON_GetObjectItem(func, "Environment");
	cJSON *vars = cJSON_Duplicate(cJSON_GetObjectItem(env, "Variables"), 1);
	cJSON *e = cJSON_AddObjectToObject(cfg, "Environment");
	cJSON_AddItemToObject(e, "Variables", vars ? vars : obj());
	return cfg;
}

static int env_equal(const cJSON *a, const cJSON *b)
{
	int na = cJSON_GetArraySize(a), nb = cJSON_GetArraySize(b);
	if (na != nb)
		return 0;
	for (const cJSON *it = a ? a->child : NULL; it; it = it->next) {
		const char *v = cJSON_GetStringValue(cJSON_GetObjectItem(b, it->string));
		if (!v || !cJSON_IsString(it) || strcmp(v, it->valuestring) != 0)
			return 0;
	}
	return 1;
}

static void diff_function(struct run *r, struct rec *p)
{
	cJSON *have = cJSON_GetObjectItem(p->fn, "Configuration");
	cJSON *want = desired_config(r, p);
	for (cJSON *w = want->child; w; w = w->next) {
		cJSON *h = cJSON_GetObjectItem(have, w->string);
		if (strcmp(w->string, "Environment") == 0) {
			cJSON *hv = cJSON_GetObjectItem(cJSON_GetObjectItem(have, "Environment"), "Variables");
			cJSON *wv = cJSON_GetObjectItem(w, "Variables");
			if (!env_equal(wv, hv)) {
				/* Values may be secrets: report the keys only. */
				cJSON *from = obj(), *to = obj();
				for (cJSON *k = hv ? hv->child : NULL; k; k = k->next)
					if (!env_equal(cJSON_GetObjectItem(wv, k->string) ? k : NULL, NULL))
						(void)0;
				cJSON_Delete(from);
				cJSON_Delete(to);
				buf fs = { 0 }, ts = { 0 };
				for (cJSON *k = hv ? hv->child : NULL; k; k = k->next) {
					const char *wvv = cJSON_GetStringValue(cJSON_GetObjectItem(wv, k->string));
					buf_addf(&fs, "%s%s%s", fs.len ? "," : "", k->string,
						 !wvv ? "(removed)" : strcmp(wvv, k->valuestring) ? "(changed)" : "");
				}
				for (cJSON *k = wv ? wv->child : NULL; k; k = k->next)
					if (!cJSON_GetObjectItem(hv, k->string))
						buf_addf(&ts, "%s%s(added)", ts.len ? "," : "", k->string);
				cJSON *f = cJSON_CreateString(buf_str(&fs)), *t = cJSON_CreateString(buf_str(&ts));
				change(p, "function", "Environment.Variables", f, t);
				cJSON_Delete(f);
				cJSON_Delete(t);
				buf_free(&fs);
				buf_free(&ts);
			}
			continue;
		}
		char ws[512], hs[512];
		json_value_str(w, ws, sizeof ws);
		json_value_str(h, hs, sizeof hs);
		if (strcmp(ws, hs) != 0)
			change(p, "function", strcmp(w->string, "Description") == 0 ? "Code" : w->string, h, w);
	}
	cJSON_Delete(want);

	cJSON *want_rc = cJSON_GetObjectItem(spec_part(p, "func"), "ReservedConcurrentExecutions");
	cJSON *have_rc = cJSON_GetObjectItem(cJSON_GetObjectItem(p->fn, "Concurrency"),
					     "ReservedConcurrentExecutions");
	char ws[32], hs[32];
	json_value_str(cJSON_IsNumber(want_rc) ? want_rc : NULL, ws, sizeof ws);
	json_value_str(cJSON_IsNumber(have_rc) ? have_rc : NULL, hs, sizeof hs);
	if (strcmp(ws, hs) != 0)
		change(p, "function", "ReservedConcurrentExecutions", have_rc, want_rc);

	cJSON *tags = desired_tags(r, p);
	diff_tags(p, "function", tags, cJSON_GetObjectItem(p->fn, "Tags"));
	cJSON_Delete(tags);
}

static const char *esm_fields[] = { "BatchSize", "MaximumBatchingWindowInSeconds", NULL };

static int esm_enabled(const cJSON *esm)
{
	const char *st = cJSON_GetStringValue(cJSON_GetObjectItem(esm, "State"));
	return st && (strcmp(st, "Enabled") == 0 || strcmp(st, "Enabling") == 0 ||
		      strcmp(st, "Creating") == 0 || strcmp(st, "Updating") == 0);
}

static long scaling_max(const cJSON *m)
{
	cJSON *v = cJSON_GetObjectItem(cJSON_GetObjectItem(m, "ScalingConfig"), "MaximumConcurrency");
	return cJSON_IsNumber(v) ? (long)v->valuedouble : 0;
}

/* Fields of the mapping that differ, as an UpdateEventSourceMapping body; NULL when none. */
static cJSON *mapping_update(struct rec *p, int record)
{
	cJSON *want = spec_part(p, "mapping");
	cJSON *upd = obj();
	for (int i = 0; esm_fields[i]; i++) {
		cJSON *w = cJSON_GetObjectItem(want, esm_fields[i]);
		cJSON *h = cJSON_GetObjectItem(p->esm, esm_fields[i]);
		if (w && (!cJSON_IsNumber(h) || h->valuedouble != w->valuedouble)) {
			cJSON_AddItemToObject(upd, esm_fields[i], cJSON_Duplicate(w, 1));
			if (record)
				change(p, "mapping", esm_fields[i], h, w);
		}
	}
	long wmax = scaling_max(want), hmax = scaling_max(p->esm);
	if (wmax != hmax) {
		cJSON *sc = cJSON_AddObjectToObject(upd, "ScalingConfig");
		if (wmax)
			cJSON_AddNumberToObject(sc, "MaximumConcurrency", (double)wmax);
		if (record) {
			cJSON *f = hmax ? cJSON_CreateNumber((double)hmax) : NULL;
			cJSON *t = wmax ? cJSON_CreateNumber((double)wmax) : NULL;
			change(p, "mapping", "ScalingConfig.MaximumConcurrency", f, t);
			cJSON_Delete(f);
			cJSON_Delete(t);
		}
	}
	cJSON *we = cJSON_GetObjectItem(want, "Enabled");
	int wen = !we || cJSON_IsTrue(we), hen = esm_enabled(p->esm);
	if (wen != hen) {
		cJSON_AddBoolToObject(upd, "Enabled", wen);
		if (record) {
			cJSON *f = cJSON_CreateBool(hen), *t = cJSON_CreateBool(wen);
			change(p, "mapping", "Enabled", f, t);
			cJSON_Delete(f);
			cJSON_Delete(t);
		}
	}
	cJSON *wft = cJSON_GetObjectItem(want, "FunctionResponseTypes");
	cJSON *hft = cJSON_GetObjectItem(p->esm, "FunctionResponseTypes");
	if (wft) {
		char *a = cJSON_PrintUnformatted(wft), *b = hft ? cJSON_PrintUnformatted(hft) : tp_xstrdup("[]");
		if (strcmp(a, b) != 0) {
			cJSON_AddItemToObject(upd, "FunctionResponseTypes", cJSON_Duplicate(wft, 1));
			if (record)
				change(p, "mapping", "FunctionResponseTypes", hft, wft);
		}
		free(a);
		free(b);
	}
	if (!upd->child) {
		cJSON_Delete(upd);
		return NULL;
	}
	return upd;
}

/* The DLQ goes too, unless the last applied spec asked to keep a
 * non-empty one (the default policy does): its messages are evidence.
 * Decided at diff time, so plan and apply report the same thing. */
static long dlq_messages(const struct rec *p)
{
	long msgs = 0;
	const char *counts[] = { "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
				 "ApproximateNumberOfMessagesDelayed" };
	for (int i = 0; i < 3; i++) {
		const char *v = cJSON_GetStringValue(cJSON_GetObjectItem(p->dlq_attrs, counts[i]));
		msgs += v ? atol(v) : 0;
	}
	return msgs;
}

static void check_and_diff(struct run *r, struct rec *p)
{
	char why[256];
	struct { const char *what, *name; const cJSON *tags; int exists; } res[] = {
		{ "queue", p->nm.queue, p->q_tags, p->q_url != NULL },
		{ "dead-letter queue", p->nm.dlq, p->dlq_tags, p->dlq_url != NULL },
		{ "function", p->nm.function, cJSON_GetObjectItem(p->fn, "Tags"), p->fn != NULL },
	};
	for (size_t i = 0; i < sizeof res / sizeof res[0]; i++) {
		if (res[i].exists && !owned(r, p, res[i].tags, why, sizeof why)) {
			tp_err e = { 0 };
			tp_errf(&e, TP_ECONFLICT, "NameCollision",
				"%s %s exists but is not this pipeline's: %s; taskpipe leaves it untouched",
				res[i].what, res[i].name, why);
			fail(p, &e);
			return;
		}
	}
	if (!p->spec) {
		if (p->esm)
			change_action(p, "mapping", "delete");
		if (p->fn)
			change_action(p, "function", "delete");
		if (p->q_url)
			change_action(p, "queue", "delete");
		if (p->dlq_url) {
			cJSON *keep = cJSON_GetObjectItem(cJSON_GetObjectItem(p->old_spec, "dlq"),
							  "keep_if_not_empty");
			long msgs = dlq_messages(p);
			if (msgs > 0 && !cJSON_IsFalse(keep)) {
				char note[64];
				snprintf(note, sizeof note, "kept: %ld messages", msgs);
				change_action(p, "dead-letter queue", note);
				p->dlq_kept = 1;
			} else {
				change_action(p, "dead-letter queue", "delete");
			}
		}
		if (!p->esm && !p->fn && !p->q_url && !p->dlq_url)
			p->res->action = REC_NONE;
		return;
	}
	code_marker(spec_part(p, "func"), p->code_marker, sizeof p->code_marker);
	if (!p->q_url && !p->dlq_url && !p->fn)
		p->res->action = REC_CREATE;

	cJSON *q = spec_part(p, "queue"), *dq = spec_part(p, "dlq");
	cJSON *tags = desired_tags(r, p);
	if (!p->dlq_url) {
		change_action(p, "dead-letter queue", "create");
	} else {
		diff_attrs(p, "dead-letter queue", dq, p->dlq_attrs);
		diff_tags(p, "dead-letter queue", tags, p->dlq_tags);
	}
	if (!p->q_url) {
		change_action(p, "queue", "create");
	} else {
		diff_attrs(p, "queue", q, p->q_attrs);
		char target[256] = "";
		long have = redrive_count(p->q_attrs, target, sizeof target);
		cJSON *want = cJSON_GetObjectItem(q, "maxReceiveCount");
		if (want && have != (long)want->valuedouble) {
			cJSON *h = have >= 0 ? cJSON_CreateNumber((double)have) : NULL;
			change(p, "queue", "RedrivePolicy.maxReceiveCount", h, want);
			cJSON_Delete(h);
		}
		if (p->dlq_url) {
			char arn[256];
			queue_arn(r, p->dlq_url, arn, sizeof arn);
			if (strcmp(arn, target) != 0) {
				cJSON *h = cJSON_CreateString(target), *w = cJSON_CreateString(arn);
				change(p, "queue", "RedrivePolicy.deadLetterTargetArn", h, w);
				cJSON_Delete(h);
				cJSON_Delete(w);
			}
		}
		diff_tags(p, "queue", tags, p->q_tags);
	}
	cJSON_Delete(tags);
	if (!p->fn) {
		/* Check before any change: a pipeline half-created for want of a role helps no one. */
		if (!cJSON_GetObjectItem(spec_part(p, "func"), "Role") && !r->app->set.role_arn) {
			failf(p, TP_EINVAL, "NoRole",
			      "cannot create function %s: no execution role (set TASKPIPE_ROLE_ARN or --role-arn)%s",
			      p->nm.function, "");
			return;
		}
		change_action(p, "function", "create");
	} else {
		diff_function(r, p);
	}
	if (!p->esm)
		change_action(p, "mapping", "create");
	else
		cJSON_Delete(mapping_update(p, 1));
	if (cJSON_GetArraySize(p->changes) == 0)
		p->res->action = REC_NONE;
}

/* ---- mutations, in dependency order ---- */

static cJSON *queue_attributes(const cJSON *want)
{
	cJSON *a = obj();
	for (int i = 0; queue_fields[i]; i++) {
		cJSON *w = cJSON_GetObjectItem(want, queue_fields[i]);
		if (w) {
			char s[64];
			json_value_str(w, s, sizeof s);
			cJSON_AddStringToObject(a, queue_fields[i], s);
		}
	}
	return a;
}

static int changed(const struct rec *p, const char *resource, const char *field)
{
	cJSON *c;
	cJSON_ArrayForEach(c, p->changes) {
		const char *res = cJSON_GetStringValue(cJSON_GetObjectItem(c, "resource"));
		const char *f = cJSON_GetStringValue(cJSON_GetObjectItem(c, "field"));
		if (res && strcmp(res, resource) == 0 && (!field || (f && tp_startswith(f, field))))
			return 1;
	}
	return 0;
}

static int emit_queue(struct run *r, struct rec *p, struct aws_call *c, int dlq)
{
	const char *res = dlq ? "dead-letter queue" : "queue";
	const char *url = dlq ? p->dlq_url : p->q_url;
	cJSON *want = spec_part(p, dlq ? "dlq" : "queue");
	cJSON *attrs = queue_attributes(want);
	if (!dlq) {
		char arn[256];
		queue_arn(r, p->dlq_url, arn, sizeof arn);
		cJSON *mrc = cJSON_GetObjectItem(want, "maxReceiveCount");
		char *rp = tp_xasprintf("{\"deadLetterTargetArn\":\"%s\",\"maxReceiveCount\":%ld}", arn,
					mrc ? (long)mrc->valuedouble : 5);
		cJSON_AddStringToObject(attrs, "RedrivePolicy", rp);
		free(rp);
	}
	int n = 0;
	if (!url) {
		cJSON *in = obj();
		cJSON_AddStringToObject(in, "QueueName", dlq ? p->nm.dlq : p->nm.queue);
		cJSON_AddItemToObject(in, "Attributes", attrs);
		cJSON_AddItemToObject(in, "tags", desired_tags(r, p));
		prep_sqs(&c[n++], "CreateQueue", NULL, in);
		return n;
	}
	int attr_change = 0;
	cJSON *ch;
	cJSON_ArrayForEach(ch, p->changes) {
		const char *cres = cJSON_GetStringValue(cJSON_GetObjectItem(ch, "resource"));
		const char *f = cJSON_GetStringValue(cJSON_GetObjectItem(ch, "field"));
		if (cres && f && strcmp(cres, res) == 0 && !tp_startswith(f, "Tags"))
			attr_change = 1;
	}
	if (attr_change) {
		cJSON *in = obj();
		cJSON_AddItemToObject(in, "Attributes", attrs);
		prep_sqs(&c[n++], "SetQueueAttributes", url, in);
	} else {
		cJSON_Delete(attrs);
	}
	if (changed(p, res, "Tags")) {
		const cJSON *have = dlq ? p->dlq_tags : p->q_tags;
		cJSON *tags = desired_tags(r, p);
		cJSON *add = missing_tags(tags, have), *del = stale_tags(p->old_spec, tags, have);
		cJSON_Delete(tags);
		if (add->child) {
			cJSON *in = obj();
			cJSON_AddItemToObject(in, "Tags", add);
			prep_sqs(&c[n++], "TagQueue", url, in);
		} else {
			cJSON_Delete(add);
		}
		if (del->child) {
			cJSON *in = obj();
			cJSON_AddItemToObject(in, "TagKeys", del);
			prep_sqs(&c[n++], "UntagQueue", url, in);
		} else {
			cJSON_Delete(del);
		}
	}
	return n;
}

static void done_queue(struct rec *p, struct aws_call *c, int n, int dlq)
{
	for (int i = 0; i < n; i++) {
		if (c[i].rc != TP_OK) {
			fail(p, &c[i].err);
			return;
		}
		if (strcmp(c[i].op, "CreateQueue") == 0) {
			cJSON *out = awsj_result(&c[i]);
			const char *url = cJSON_GetStringValue(cJSON_GetObjectItem(out, "QueueUrl"));
			if (url)
				*(dlq ? &p->dlq_url : &p->q_url) = tp_xstrdup(url);
			cJSON_Delete(out);
		}
	}
}


static int emit_dlq(struct run *r, struct rec *p, struct aws_call *c)
{
	if (!p->spec)
		return 0;
	return changed(p, "dead-letter queue", NULL) ? emit_queue(r, p, c, 1) : 0;
}

static void done_dlq(struct run *r, struct rec *p, struct aws_call *c, int n)
{
	done_queue(p, c, n, 1);
}

static int emit_main_queue(struct run *r, struct rec *p, struct aws_call *c)
{
	if (!p->spec)
		return 0;
	return changed(p, "queue", NULL) ? emit_queue(r, p, c, 0) : 0;
}

static void done_main_queue(struct run *r, struct rec *p, struct aws_call *c, int n)
{
	done_queue(p, c, n, 0);
	if (!p->failed && p->q_url)
		queue_arn(r, p->q_url, p->desired_arn_q, sizeof p->desired_arn_q);
}

/* Remember whether Lambda is still applying an update to this function. */
static void note_function_state(struct rec *p, const cJSON *cfg)
{
	const char *st = cJSON_GetStringValue(cJSON_GetObjectItem(cfg, "State"));
	const char *lu = cJSON_GetStringValue(cJSON_GetObjectItem(cfg, "LastUpdateStatus"));
	if ((st && strcmp(st, "Failed") == 0) || (lu && strcmp(lu, "Failed") == 0)) {
		const char *why = cJSON_GetStringValue(cJSON_GetObjectItem(cfg, "LastUpdateStatusReason"));
		if (!why)
			why = cJSON_GetStringValue(cJSON_GetObjectItem(cfg, "StateReason"));
		failf(p, TP_EAWS, "FunctionUpdateFailed", "function update failed: %s%s", why ? why : "no reason given", "");
		return;
	}
	p->fn_wait = (st && strcmp(st, "Pending") == 0) || (lu && strcmp(lu, "InProgress") == 0);
}

static int emit_function_code(struct run *r, struct rec *p, struct aws_call *c)
{
	if (!p->spec)
		return 0;
	cJSON *func = spec_part(p, "func");
	if (!p->fn) {
		const char *role = cJSON_GetStringValue(cJSON_GetObjectItem(func, "Role"));
		if (!role)
			role = r->app->set.role_arn;
		if (!role) {
			failf(p, TP_EINVAL, "NoRole",
			      "cannot create function %s: no execution role (set TASKPIPE_ROLE_ARN or --role-arn)%s",
			      p->nm.function, "");
			return 0;
		}
		cJSON *in = desired_config(r, p);
		cJSON_AddStringToObject(in, "FunctionName", p->nm.function);
		cJSON_AddItemToObject(in, "Code", cJSON_Duplicate(cJSON_GetObjectItem(func, "Code"), 1));
		cJSON *arch = cJSON_GetObjectItem(func, "Architectures");
		if (arch)
			cJSON_AddItemToObject(in, "Architectures", cJSON_Duplicate(arch, 1));
		cJSON_AddItemToObject(in, "Tags", desired_tags(r, p));
		prep_lambda(&c[0], "CreateFunction", "POST", tp_xstrdup("/2015-03-31/functions"), NULL, in);
		return 1;
	}
	if (!changed(p, "function", "Code"))
		return 0;
	cJSON *in = cJSON_Duplicate(cJSON_GetObjectItem(func, "Code"), 1);
	cJSON *arch = cJSON_GetObjectItem(func, "Architectures");
	if (arch)
		cJSON_AddItemToObject(in, "Architectures", cJSON_Duplicate(arch, 1));
	prep_lambda(&c[0], "UpdateFunctionCode", "PUT", fn_path(p, "/code"), NULL, in);
	return 1;
}

static void done_function(struct run *r, struct rec *p, struct aws_call *c, int n)
{
	if (c[0].rc != TP_OK) {
		fail(p, &c[0].err);
		return;
	}
	cJSON *out = awsj_result(&c[0]);
	if (strcmp(c[0].op, "CreateFunction") == 0 && out) {
		/* Shape it like a GetFunction answer for the steps after. */
		cJSON *fn = obj();
		cJSON_AddItemToObject(fn, "Configuration", cJSON_Duplicate(out, 1));
		cJSON_AddItemToObject(fn, "Tags", desired_tags(r, p));
		p->fn = fn;
		p->fn_created = 1;
	}
	note_function_state(p, out);
	cJSON_Delete(out);
}

static int emit_wait(struct run *r, struct rec *p, struct aws_call *c)
{
	if (!p->fn_wait)
		return 0;
	if (++p->fn_waits > WAIT_ROUNDS) {
		failf(p, TP_EIO, "FunctionUpdateTimeout", "function %s still updating after %s polls",
		      p->nm.function, "120");
		return 0;
	}
	prep_lambda(&c[0], "GetFunction", "GET", fn_path(p, ""), NULL, NULL);
	return 1;
}

static void done_wait(struct run *r, struct rec *p, struct aws_call *c, int n)
{
	if (c[0].rc != TP_OK) {
		fail(p, &c[0].err);
		return;
	}
	cJSON *out = awsj_result(&c[0]);
	note_function_state(p, cJSON_GetObjectItem(out, "Configuration"));
	cJSON_Delete(out);
}

static int config_changed(const struct rec *p)
{
	cJSON *ch;
	cJSON_ArrayForEach(ch, p->changes) {
		const char *res = cJSON_GetStringValue(cJSON_GetObjectItem(ch, "resource"));
		const char *f = cJSON_GetStringValue(cJSON_GetObjectItem(ch, "field"));
		if (res && f && strcmp(res, "function") == 0 && !tp_startswith(f, "Tags") &&
		    strcmp(f, "ReservedConcurrentExecutions") != 0)
			return 1;  /* Code too: the Description records the code object */
	}
	return 0;
}

static int emit_function_config(struct run *r, struct rec *p, struct aws_call *c)
{
	if (!p->spec || p->fn_created || !config_changed(p))
		return 0;
	prep_lambda(&c[0], "UpdateFunctionConfiguration", "PUT", fn_path(p, "/configuration"), NULL,
		    desired_config(r, p));
	return 1;
}

static const char *function_arn(const struct rec *p)
{
	return cJSON_GetStringValue(
		cJSON_GetObjectItem(cJSON_GetObjectItem(p->fn, "Configuration"), "FunctionArn"));
}

static int emit_function_extras(struct run *r, struct rec *p, struct aws_call *c)
{
	if (!p->spec || !p->fn)
		return 0;
	int n = 0, created = p->fn_created;
	cJSON *rc = cJSON_GetObjectItem(spec_part(p, "func"), "ReservedConcurrentExecutions");
	if (cJSON_IsNumber(rc) && (created || changed(p, "function", "ReservedConcurrentExecutions"))) {
		cJSON *in = obj();
		cJSON_AddNumberToObject(in, "ReservedConcurrentExecutions", rc->valuedouble);
		prep_lambda(&c[n++], "PutFunctionConcurrency", "PUT",
			    tp_xasprintf("/2017-10-31/functions/%s/concurrency", p->nm.function), NULL, in);
	} else if (!cJSON_IsNumber(rc) && changed(p, "function", "ReservedConcurrentExecutions")) {
		prep_lambda(&c[n++], "DeleteFunctionConcurrency", "DELETE",
			    tp_xasprintf("/2017-10-31/functions/%s/concurrency", p->nm.function), NULL, NULL);
	}
	const char *arn = function_arn(p);
	if (!created && arn && changed(p, "function", "Tags")) {
		char enc[600];
		sigv4_uri_encode(arn, strlen(arn), 0, enc, sizeof enc);
		const cJSON *have = cJSON_GetObjectItem(p->fn, "Tags");
		cJSON *tags = desired_tags(r, p);
		cJSON *add = missing_tags(tags, have), *del = stale_tags(p->old_spec, tags, have);
		cJSON_Delete(tags);
		if (add->child) {
			cJSON *in = obj();
			cJSON_AddItemToObject(in, "Tags", add);
			prep_lambda(&c[n++], "TagResource", "POST", tp_xasprintf("/2017-03-31/tags/%s", enc),
				    NULL, in);
		} else {
			cJSON_Delete(add);
		}
		if (del->child) {
			buf q = { 0 };
			for (cJSON *k = del->child; k; k = k->next)
				awsj_form_add(&q, "tagKeys", k->valuestring);
			prep_lambda(&c[n++], "UntagResource", "DELETE", tp_xasprintf("/2017-03-31/tags/%s", enc),
				    buf_str(&q), NULL);
			buf_free(&q);
		}
		cJSON_Delete(del);
	}
	return n;
}

static void done_all_ok(struct run *r, struct rec *p, struct aws_call *c, int n)
{
	for (int i = 0; i < n; i++)
		if (c[i].rc != TP_OK) {
			fail(p, &c[i].err);
			return;
		}
}

static int emit_mapping_change(struct run *r, struct rec *p, struct aws_call *c)
{
	if (!p->spec)
		return 0;
	cJSON *want = spec_part(p, "mapping");
	if (!p->esm) {
		cJSON *in = cJSON_Duplicate(want, 1);
		cJSON_DeleteItemFromObject(in, "ScalingConfig");
		if (scaling_max(want))
			cJSON_AddItemToObject(in, "ScalingConfig",
					      cJSON_Duplicate(cJSON_GetObjectItem(want, "ScalingConfig"), 1));
		if (!p->desired_arn_q[0] && p->q_url)
			queue_arn(r, p->q_url, p->desired_arn_q, sizeof p->desired_arn_q);
		cJSON_AddStringToObject(in, "EventSourceArn", p->desired_arn_q);
		cJSON_AddStringToObject(in, "FunctionName", p->nm.function);
		prep_lambda(&c[0], "CreateEventSourceMapping", "POST",
			    tp_xstrdup("/2015-03-31/event-source-mappings/"), NULL, in);
		return 1;
	}
	cJSON *upd = mapping_update(p, 0);
	if (!upd)
		return 0;
	const char *uuid = cJSON_GetStringValue(cJSON_GetObjectItem(p->esm, "UUID"));
	cJSON_AddStringToObject(upd, "FunctionName", p->nm.function);
	prep_lambda(&c[0], "UpdateEventSourceMapping", "PUT",
		    tp_xasprintf("/2015-03-31/event-source-mappings/%s", uuid ? uuid : ""), NULL, upd);
	return 1;
}

/* ---- deletion, in reverse ---- */

static int emit_delete_mapping(struct run *r, struct rec *p, struct aws_call *c)
{
	if (p->spec || !p->esm)
		return 0;
	const char *uuid = cJSON_GetStringValue(cJSON_GetObjectItem(p->esm, "UUID"));
	prep_lambda(&c[0], "DeleteEventSourceMapping", "DELETE",
		    tp_xasprintf("/2015-03-31/event-source-mappings/%s", uuid ? uuid : ""), NULL, NULL);
	return 1;
}

static void done_delete(struct run *r, struct rec *p, struct aws_call *c, int n)
{
	for (int i = 0; i < n; i++)
		if (c[i].rc != TP_OK && !not_found(&c[i])) {
			fail(p, &c[i].err);
			return;
		}
}

static int emit_delete_function(struct run *r, struct rec *p, struct aws_call *c)
{
	if (p->spec || !p->fn)
		return 0;
	prep_lambda(&c[0], "DeleteFunction", "DELETE", fn_path(p, ""), NULL, NULL);
	return 1;
}

static int emit_delete_queue(struct run *r, struct rec *p, struct aws_call *c)
{
	if (p->spec || !p->q_url)
		return 0;
	prep_sqs(&c[0], "DeleteQueue", p->q_url, NULL);
	return 1;
}

static int emit_delete_dlq(struct run *r, struct rec *p, struct aws_call *c)
{
	if (p->spec || !p->dlq_url || p->dlq_kept)
		return 0;
	prep_sqs(&c[0], "DeleteQueue", p->dlq_url, NULL);
	return 1;
}

/* ---- the outcome, in the state table ---- */

static int emit_state(struct run *r, struct rec *p, struct aws_call *c)
{
	/* A name that never was a pipeline leaves no trace; another holder's
	 * pipeline is its to record. */
	if (p->no_state || (!p->spec && !p->state && !p->failed && cJSON_GetArraySize(p->changes) == 0))
		return 0;
	cJSON *in = obj();
	cJSON_AddStringToObject(in, "TableName", r->app->set.state_table);
	cJSON *item = cJSON_AddObjectToObject(in, "Item");
	char pk[300];
	snprintf(pk, sizeof pk, "pipeline#%s", p->res->name);
	ddb_put_str(item, "pk", pk);
	ddb_put_str(item, "pipeline", p->res->name);
	const char *status = p->failed ? "error" : p->spec ? "ok" : "deleted";
	ddb_put_str(item, "status", status);
	ddb_put_str(item, "action", reconcile_action_name(p->res->action));
	ddb_put_long(item, "updated_at", (long)(tp_now_ms() / 1000));
	if (p->res->hash[0])
		ddb_put_str(item, "hash", p->res->hash);
	if (p->failed) {
		ddb_put_str(item, "error_code", p->res->err.code);
		ddb_put_str(item, "message", p->res->err.message);
	}
	/* Keep the spec that is in force: on failure, the last good one. */
	cJSON *keep = p->failed ? p->old_spec : p->spec;
	if (keep) {
		char *s = cJSON_PrintUnformatted(keep);
		ddb_put_str(item, "spec", s);
		free(s);
	}
	if (p->failed && p->old_spec) {
		/* Remember the hash of the last good spec too, so an unchanged item is retried. */
		cJSON_DeleteItemFromObject(item, "hash");
	}
	if (p->lease && p->lease->held) {
		/* Fencing: a holder whose lease expired and was taken over cannot
		 * overwrite what the newer holder recorded. */
		ddb_put_long(item, "lease_fence", (long)p->lease->token);
		cJSON_AddStringToObject(in, "ConditionExpression",
					"attribute_not_exists(lease_fence) OR lease_fence <= :fence");
		cJSON *v = cJSON_AddObjectToObject(in, "ExpressionAttributeValues");
		ddb_put_long(v, ":fence", (long)p->lease->token);
	}
	awsj_prepare(&c[0], SVC_DYNAMODB, "PutItem", in);
	return 1;
}

static void done_state(struct run *r, struct rec *p, struct aws_call *c, int n)
{
	if (c[0].rc != TP_OK && !p->failed) {
		log_warn("pipeline %s: applied, but its status could not be recorded: %s", p->res->name,
			 c[0].err.message);
		fail(p, &c[0].err);
	}
}

/* ---- the driver ---- */

enum { WHEN_OBSERVE, WHEN_APPLY, WHEN_REPEAT };

struct step {
	const char *name;
	int when;
	emit_fn emit;
	done_fn done;
};

static const struct step steps[] = {
	{ "find", WHEN_OBSERVE, emit_find, done_find },
	{ "details", WHEN_OBSERVE, emit_details, done_details },
	{ "mapping", WHEN_OBSERVE, emit_mapping, done_mapping },
	{ "dlq", WHEN_APPLY, emit_dlq, done_dlq },
	{ "queue", WHEN_APPLY, emit_main_queue, done_main_queue },
	{ "function", WHEN_APPLY, emit_function_code, done_function },
	{ "wait", WHEN_REPEAT, emit_wait, done_wait },
	{ "config", WHEN_APPLY, emit_function_config, done_function },
	{ "wait", WHEN_REPEAT, emit_wait, done_wait },
	{ "extras", WHEN_APPLY, emit_function_extras, done_all_ok },
	{ "mapping", WHEN_APPLY, emit_mapping_change, done_all_ok },
	{ "delete-mapping", WHEN_APPLY, emit_delete_mapping, done_delete },
	{ "delete-function", WHEN_APPLY, emit_delete_function, done_delete },
	{ "delete-queue", WHEN_APPLY, emit_delete_queue, done_delete },
	{ "delete-dlq", WHEN_APPLY, emit_delete_dlq, done_delete },
};

/* Run one step for every live record; returns how many calls were made. */
static int past_deadline(const struct run *r)
{
	const struct reconcile_opts *o = r->o;
	return o->deadline_ms && tp_now_ms() + o->reserve_ms >= o->deadline_ms;
}

/* The deadline is near: what has not finished is left for a retry. */
static void stop_for_deadline(struct run *r)
{
	size_t left = 0;
	for (size_t i = 0; i < r->n; i++) {
		struct rec *p = &r->recs[i];
		if (p->failed || p->done)
			continue;
		failf(p, TP_ELIMIT, "DeadlineNear", "%s: stopped before finishing, the invocation deadline is near; retry%s",
		      p->res->name, "");
		/* Untouched: its recorded state is still true. */
		if (p->res->mutating_requests == 0)
			p->no_state = 1;
		left++;
	}
	if (left)
		log_warn("deadline near: %zu pipelines left unfinished for a retry", left);
}

static size_t run_step(struct run *r, emit_fn emit, done_fn done, int include_failed)
{
	if (!include_failed && past_deadline(r)) {
		stop_for_deadline(r);
		return 0;
	}
	/* Room for the live records only: most are done (unchanged) in a big run. */
	size_t live = 0;
	for (size_t i = 0; i < r->n; i++)
		live += !((r->recs[i].failed && !include_failed) || r->recs[i].done);
	if (!live)
		return 0;
	struct aws_call *calls = tp_xcalloc(live * MAX_CALLS, sizeof *calls);
	int *count = tp_xcalloc(r->n + 1, sizeof *count);
	size_t *start = tp_xcalloc(r->n + 1, sizeof *start);
	size_t total = 0;
	for (size_t i = 0; i < r->n; i++) {
		struct rec *p = &r->recs[i];
		start[i] = total;
		if ((p->failed && !include_failed) || p->done)
			continue;
		count[i] = emit(r, p, &calls[total]);
		total += (size_t)count[i];
	}
	if (total)
		aws_call_many(r->app->aws, calls, total);
	for (size_t i = 0; i < r->n; i++) {
		if (!count[i])
			continue;
		struct rec *p = &r->recs[i];
		for (int k = 0; k < count[i]; k++) {
			struct aws_call *c = &calls[start[i] + (size_t)k];
			p->res->requests += c->attempts;
			if (c->service == SVC_LAMBDA)
				p->res->lambda_requests += c->attempts;
			if (aws_op_is_mutating(c->op))
				p->res->mutating_requests += c->attempts;
		}
		done(r, p, &calls[start[i]], count[i]);
	}
	for (size_t i = 0; i < total; i++)
		aws_call_free(&calls[i]);
	free(calls);
	free(count);
	free(start);
	return total;
}

const char *reconcile_action_name(int action)
{
	switch (action) {
	case REC_CREATE: return "create";
	case REC_UPDATE: return "update";
	case REC_DELETE: return "delete";
	}
	return "none";
}

static void rec_free(struct rec *p)
{
	cJSON_Delete(p->item);
	cJSON_Delete(p->state);
	cJSON_Delete(p->spec);
	cJSON_Delete(p->old_spec);
	cJSON_Delete(p->changes);
	free(p->q_url);
	free(p->dlq_url);
	cJSON_Delete(p->q_attrs);
	cJSON_Delete(p->dlq_attrs);
	cJSON_Delete(p->q_tags);
	cJSON_Delete(p->dlq_tags);
	cJSON_Delete(p->fn);
	cJSON_Delete(p->esm);
}


static const char *lease_holder(const struct reconcile_opts *o)
{
	return o->holder ? o->holder : "taskpipe";
}

/* Lease every pipeline that is about to be observed and changed. Those
 * another run holds fail with LeaseHeld and leave their state alone. */
static struct lease *lease_changing(struct run *r)
{
	char **names = tp_xcalloc(r->n + 1, sizeof *names);
	struct rec **whose = tp_xcalloc(r->n + 1, sizeof *whose);
	size_t k = 0;
	for (size_t i = 0; i < r->n; i++) {
		struct rec *p = &r->recs[i];
		if (p->failed || p->done)
			continue;
		names[k] = p->res->name;
		whose[k++] = p;
	}
	struct lease *ls = NULL;
	if (k) {
		ls = tp_xcalloc(k, sizeof *ls);
		int ttl = r->o->lease_ttl_s > 0 ? r->o->lease_ttl_s : 900;
		lease_acquire_many(r->app, names, k, lease_holder(r->o), ttl, ls);
		for (size_t i = 0; i < k; i++) {
			whose[i]->lease = &ls[i];
			if (!ls[i].held) {
				fail(whose[i], &ls[i].err);
				whose[i]->no_state = 1;
			}
		}
	}
	r->n_leased = k;
	free(names);
	free(whose);
	return ls;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sort and drop duplicates, in place; returns the new count. */
static size_t sort_unique(char **names, size_t n)
{
	qsort(names, n, sizeof *names, cmp_name);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (k && strcmp(names[k - 1], names[i]) == 0) {
			free(names[i]);
			continue;
		}
		names[k++] = names[i];
	}
	return k;
}

static struct rec *find_rec(struct run *r, const char *name)
{
	size_t lo = 0, hi = r->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(r->recs[mid].res->name, name);
		if (c == 0)
			return &r->recs[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

int reconcile_run(struct app *app, char *const *names, size_t n, int all,
		  const struct reconcile_opts *o, struct rec_result **out, size_t *n_out, tp_err *e)
{
	*out = NULL;
	*n_out = 0;
	char **list = NULL;
	size_t nl = 0;
	cJSON *items = cJSON_CreateArray(), *states = cJSON_CreateArray();
	if (all) {
		/* Both scans are consistent reads: no per-pipeline read is needed after. */
		int rc = ddb_scan_all(app->aws, app->set.config_table, NULL, items, e);
		if (rc == TP_OK)
			rc = ddb_scan_all(app->aws, app->set.state_table, "pipeline#", states, e);
		if (rc < 0) {
			cJSON_Delete(items);
			cJSON_Delete(states);
			return rc;
		}
		list = tp_xcalloc((size_t)cJSON_GetArraySize(items) + (size_t)cJSON_GetArraySize(states) + 1,
				  sizeof *list);
		cJSON *it;
		cJSON_ArrayForEach(it, items) {
			const char *name = ddb_get_str(it, "pipeline", NULL);
			if (name)
				list[nl++] = tp_xstrdup(name);
		}
		cJSON_ArrayForEach(it, states) {
			const char *name = ddb_get_str(it, "pipeline", NULL);
			if (name && strcmp(ddb_get_str(it, "status", ""), "deleted") != 0)
				list[nl++] = tp_xstrdup(name);
		}
	} else {
		list = tp_xcalloc(n + 1, sizeof *list);
		for (size_t i = 0; i < n; i++)
			list[nl++] = tp_xstrdup(names[i]);
	}
	nl = sort_unique(list, nl);

	struct run r = { .app = app, .o = o, .n = nl };
	r.recs = tp_xcalloc(nl + 1, sizeof *r.recs);
	struct rec_result *res = tp_xcalloc(nl + 1, sizeof *res);
	for (size_t i = 0; i < nl; i++) {
		res[i].name = list[i];
		r.recs[i].res = &res[i];
		r.recs[i].changes = cJSON_CreateArray();
	}
	free(list);
	if (all) {
		cJSON *it;
		while ((it = cJSON_DetachItemFromArray(items, 0))) {
			struct rec *p = find_rec(&r, ddb_get_str(it, "pipeline", ""));
			if (p && !p->item)
				p->item = it;
			else
				cJSON_Delete(it);
		}
		while ((it = cJSON_DetachItemFromArray(states, 0))) {
			struct rec *p = find_rec(&r, ddb_get_str(it, "pipeline", ""));
			if (p && !p->state_read) {
				p->state = it;
				p->state_read = 1;
			} else {
				cJSON_Delete(it);
			}
		}
		/* Scanned: an item missing from the scan is gone, a state missing has none. */
		for (size_t i = 0; i < nl; i++)
			r.recs[i].item_read = r.recs[i].state_read = 1;
	}
	cJSON_Delete(items);
	cJSON_Delete(states);
	r.ctx_json = app_policy_ctx(app);

	run_step(&r, emit_read, done_read, 0);
	for (size_t i = 0; i < nl; i++) {
		struct rec *p = &r.recs[i];
		if (!p->failed)
			run_policy(&r, p);
		/* The last applied spec matters only to pipelines that change. */
		const char *spec = ddb_get_str(p->state, "spec", NULL);
		if (spec && !p->done)
			p->old_spec = cJSON_Parse(spec);
	}
	struct lease *leases = o->plan ? NULL : lease_changing(&r);

	for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++) {
		const struct step *st = &steps[s];
		if (st->when != WHEN_OBSERVE && steps[s - 1].when == WHEN_OBSERVE) {
			/* Observation done: check ownership and diff before any change. */
			for (size_t i = 0; i < nl; i++)
				if (!r.recs[i].failed && !r.recs[i].done)
					check_and_diff(&r, &r.recs[i]);
			if (o->plan)
				break;
		}
		if (st->when == WHEN_REPEAT) {
			for (int round = 0; round <= WAIT_ROUNDS; round++) {
				if (round)
					tp_sleep_ms(1000);
				if (!run_step(&r, st->emit, st->done, 0))
					break;
			}
		} else {
			run_step(&r, st->emit, st->done, 0);
		}
	}

	if (!o->plan)
		run_step(&r, emit_state, done_state, 1);
	if (leases) {
		lease_release_many(app, leases, r.n_leased, lease_holder(o));
		lease_clear(leases, r.n_leased);
		free(leases);
	}

	for (size_t i = 0; i < nl; i++) {
		struct rec *p = &r.recs[i];
		res[i].changes = cJSON_GetArraySize(p->changes);
		res[i].changes_json = cJSON_PrintUnformatted(p->changes);
		if (res[i].action == REC_NONE && !p->failed)
			res[i].changes = 0;
		rec_free(p);
	}
	free(r.recs);
	free(r.ctx_json);
	*out = res;
	*n_out = nl;
	return TP_OK;
}

cJSON *reconcile_result_json(const struct rec_result *r)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "pipeline", r->name);
	cJSON_AddStringToObject(o, "status", r->rc == TP_OK ? "ok" : "error");
	cJSON_AddStringToObject(o, "action", reconcile_action_name(r->action));
	cJSON *ch = r->changes_json ? cJSON_Parse(r->changes_json) : NULL;
	cJSON_AddItemToObject(o, "changes", ch ? ch : cJSON_CreateArray());
	if (r->rc != TP_OK) {
		cJSON *e = cJSON_AddObjectToObject(o, "error");
		cJSON_AddStringToObject(e, "code", r->err.code);
		cJSON_AddStringToObject(e, "message", r->err.message);
	}
	if (r->hash[0])
		cJSON_AddStringToObject(o, "spec_hash", r->hash);
	cJSON *calls = cJSON_AddObjectToObject(o, "requests");
	cJSON_AddNumberToObject(calls, "total", (double)r->requests);
	cJSON_AddNumberToObject(calls, "lambda", (double)r->lambda_requests);
	cJSON_AddNumberToObject(calls, "mutating", (double)r->mutating_requests);
	return o;
}

void reconcile_results_free(struct rec_result *r, size_t n)
{
	if (!r)
		return;
	for (size_t i = 0; i < n; i++) {
		free(r[i].name);
		free(r[i].changes_json);
	}
	free(r);
}
