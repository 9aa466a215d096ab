/* fake_lambda_esm.c: the fake Lambda's event source mappings (SQS sources),
 * [esm] of tests/integration/awsmodel.py: Creating -> Enabled (Disabled
 * when Enabled is false), an update Enabling / Disabling / Updating, a
 * delete Deleting and gone, each transition opt.lag_ms long; an update or
 * delete while one runs is 400 ResourceInUseException. */
#include "fake/fake_lambda_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIST_PAGE 100   /* [pages]: ListEventSourceMappings answers at most 100 */

static const char *const state_names[] = { "Creating", "Enabling", "Disabling", "Updating",
					   "Deleting", "Enabled", "Disabled" };

static int transitional(const struct lesm *m) { return m->state <= ESM_DELETING; }

static int64_t lag_us(const struct fake *f) { return (int64_t)(f->opt.lag_ms > 0 ? f->opt.lag_ms : 0) * 1000; }

static cJSON *esm_json(struct fake *f, struct lesm *m)
{
	cJSON *c = cJSON_CreateObject();
	char arn[256];
	cJSON_AddStringToObject(c, "UUID", m->uuid);
	cJSON_AddNumberToObject(c, "BatchSize", (double)m->batch);
	cJSON_AddNumberToObject(c, "MaximumBatchingWindowInSeconds", (double)m->window);
	cJSON_AddStringToObject(c, "EventSourceArn", m->source);
	fl_function_arn(f, m->fn, arn, sizeof arn);
	cJSON_AddStringToObject(c, "FunctionArn", arn);
	cJSON_AddNumberToObject(c, "LastModified", (double)m->modified_ms / 1000.0);
	cJSON_AddStringToObject(c, "State", state_names[m->state]);
	cJSON_AddStringToObject(c, "StateTransitionReason", "USER_INITIATED");
	cJSON *frt = cJSON_AddArrayToObject(c, "FunctionResponseTypes");
	if (m->frt)
		cJSON_AddItemToArray(frt, cJSON_CreateString("ReportBatchItemFailures"));
	if (m->max_conc)
		cJSON_AddNumberToObject(cJSON_AddObjectToObject(c, "ScalingConfig"), "MaximumConcurrency",
					(double)m->max_conc);
	snprintf(arn, sizeof arn, "arn:aws:lambda:%s:%s:event-source-mapping:%s", f->region, f->account, m->uuid);
	cJSON_AddStringToObject(c, "EventSourceMappingArn", arn);
	return c;
}

static void index_add(struct fake_lambda *l, struct lesm *m)
{
	m->fnext = lmap_get(&l->esm_by_fn, m->fn);
	lmap_put(&l->esm_by_fn, m->fn, m);
}

static void index_remove(struct fake_lambda *l, struct lesm *m)
{
	struct lesm *head = lmap_get(&l->esm_by_fn, m->fn);
	if (head == m) {
		if (m->fnext)
			lmap_put(&l->esm_by_fn, m->fnext->fn, m->fnext);  /* the key now m->fnext's copy */
		else
			lmap_del(&l->esm_by_fn, m->fn);
	} else {
		for (struct lesm *p = head; p; p = p->fnext)
			if (p->fnext == m) {
				p->fnext = m->fnext;
				break;
			}
	}
	m->fnext = NULL;
}

static void esm_free(struct lesm *m)
{
	free(m->fn);
	free(m->source);
	free(m);
}

/* A mapping's Deleting has ended: it is gone. */
static void esm_gone(struct fake_lambda *l, struct lesm *m)
{
	index_remove(l, m);
	lmap_del(&l->esms, m->uuid);
	lorder_remove(&l->esm_order, m->seq);
	esm_free(m);
}

/* A transition starts now; it ends opt.lag_ms later (fl_esm_sweep). */
static void start(struct fake *f, struct lesm *m, enum esm_state st)
{
	struct fake_lambda *l = f->lambda;
	m->state = (unsigned char)st;
	m->until_us = f->mono_us + lag_us(f);
	m->modified_ms = fake_now_ms_int(f);
	if (l->n_moving == l->cap_moving) {
		if (l->moving_head > l->n_moving / 2) {   /* reuse the popped front */
			memmove(l->moving, l->moving + l->moving_head, (l->n_moving - l->moving_head) * sizeof *l->moving);
			l->n_moving -= l->moving_head;
			l->moving_head = 0;
		} else {
			l->cap_moving = l->cap_moving ? l->cap_moving * 2 : 16;
			l->moving = tp_xrealloc(l->moving, l->cap_moving * sizeof *l->moving);
		}
	}
	l->moving[l->n_moving++] = m;
	fl_note_bound(f, m->fn, f->mono_us);
}

/* Every transition whose time has come ends, in the order they end (one
 * lag for all: the order they started): settled, or gone after Deleting. */
void fl_esm_sweep(struct fake *f)
{
	struct fake_lambda *l = f->lambda;
	while (l->moving_head < l->n_moving && l->moving[l->moving_head]->until_us <= f->mono_us) {
		struct lesm *m = l->moving[l->moving_head++];
		int64_t at = m->until_us;
		if (m->state == ESM_DELETING) {
			char fn[256];
			snprintf(fn, sizeof fn, "%s", m->fn);
			esm_gone(l, m);
			fl_note_bound(f, fn, at);
		} else {
			m->state = m->enabled ? ESM_ENABLED : ESM_DISABLED;
			m->cur_enabled = m->enabled;
			m->cur_max = m->max_conc;
			fl_note_bound(f, m->fn, at);
		}
	}
	if (l->moving_head == l->n_moving)
		l->moving_head = l->n_moving = 0;
}

void fl_esm_free_all(struct fake_lambda *l)
{
	for (size_t i = 0; i < l->esm_order.n; i++)
		if (l->esm_order.v[i])
			esm_free(l->esm_order.v[i]);
	lmap_free(&l->esms);
	lmap_free(&l->esm_by_fn);
	lorder_free(&l->esm_order);
	free(l->moving);
}

/* The settable members of in applied to m (validated first): 0, or -1 after answering. */
static int apply_fields(struct fake_req *r, const cJSON *in, struct lesm *m, struct http_response *out)
{
	static const char *const allowed[] = { "EventSourceArn", "FunctionName", "BatchSize", "Enabled",
		"FunctionResponseTypes", "MaximumBatchingWindowInSeconds", "ScalingConfig", NULL };
	const cJSON *kv, *v;
	cJSON_ArrayForEach(kv, in) {
		const char *const *a = allowed;
		while (*a && strcmp(*a, kv->string) != 0)
			a++;
		if (!*a || (strcmp(r->op, "UpdateEventSourceMapping") == 0 && strcmp(kv->string, "EventSourceArn") == 0)) {
			fake_reply_error(out, 400, "InvalidParameterValueException",
					 "%s: the fake's lambda does not know the parameter '%s'", r->op, kv->string);
			return -1;
		}
	}
	long batch = m->batch, window = m->window, max_conc = m->max_conc;
	int enabled = m->enabled, frt = m->frt;
	if ((v = cJSON_GetObjectItemCaseSensitive(in, "BatchSize"))) {
		if (!fl_int_in(v, 1, 10000))
			return fl_invalid(out, "batchSize", v, "Member must be an integer between 1 and 10000"), -1;
		batch = (long)v->valuedouble;
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(in, "MaximumBatchingWindowInSeconds"))) {
		if (!fl_int_in(v, 0, 300))
			return fl_invalid(out, "maximumBatchingWindowInSeconds", v, "Member must be an integer between 0 and 300"), -1;
		window = (long)v->valuedouble;
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(in, "Enabled"))) {
		if (!cJSON_IsBool(v))
			return fl_invalid(out, "enabled", v, "Member must be a boolean"), -1;
		enabled = cJSON_IsTrue(v);
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(in, "FunctionResponseTypes"))) {
		const cJSON *t;
		if (!cJSON_IsArray(v))
			return fl_invalid(out, "functionResponseTypes", v, "Member must be a list"), -1;
		frt = 0;
		cJSON_ArrayForEach(t, v) {
			if (!cJSON_IsString(t) || strcmp(t->valuestring, "ReportBatchItemFailures") != 0)
				return fl_invalid(out, "functionResponseTypes", t,
					       "Member must satisfy enum value set: [ReportBatchItemFailures]"), -1;
			frt = 1;
		}
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(in, "ScalingConfig"))) {
		const cJSON *mc = cJSON_GetObjectItemCaseSensitive(v, "MaximumConcurrency");
		if (!cJSON_IsObject(v) || (mc && !fl_int_in(mc, 2, 1000)))
			return fl_invalid(out, "scalingConfig.maximumConcurrency", mc ? mc : v,
				       "Member must be an integer between 2 and 1000"), -1;
		max_conc = mc ? (long)mc->valuedouble : 0;
	}
	if (batch > 10 && window < 1) {
		fake_reply_error(out, 400, "InvalidParameterValueException",
				 "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10");
		return -1;
	}
	m->batch = batch;
	m->window = window;
	m->max_conc = max_conc;
	m->enabled = (unsigned char)enabled;
	m->frt = (unsigned char)frt;
	return 0;
}


/* The function named in in (name or ARN) into name; it must exist. 0, or -1 after answering. */
static int function_of(struct fake *f, struct fake_req *r, const cJSON *in, char *name, size_t len,
		       struct http_response *out)
{
	const char *ref = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(in, "FunctionName"));
	if (!ref || fl_function_name(ref, name, len, NULL, 0) < 0) {
		fl_invalid(out, "functionName", cJSON_GetObjectItemCaseSensitive(in, "FunctionName"),
			"Member must not be null and must be a function name or ARN");
		return -1;
	}
	if (!lmap_get(&f->lambda->fns, name)) {
		fl_not_found(f, out, name);
		return -1;
	}
	(void)r;
	return 0;
}

static struct lesm *find(struct fake *f, const char *uuid, struct http_response *out)
{
	struct lesm *m = lmap_get(&f->lambda->esms, uuid);
	if (!m)
		fake_reply_error(out, 404, "ResourceNotFoundException", "The resource you requested does not exist.");
	return m;
}

void fl_esm_create(struct fake *f, struct fake_req *r, struct http_response *out)
{
	struct fake_lambda *l = f->lambda;
	cJSON *in = fl_body_object(r, out);
	if (!in)
		return;
	char name[256];
	const char *src = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(in, "EventSourceArn"));
	struct lesm *m = tp_xcalloc(1, sizeof *m);
	m->batch = 10;          /* SQS's defaults */
	m->enabled = 1;
	if (apply_fields(r, in, m, out) < 0)
		goto fail;
	if (!src || strncmp(src, "arn:aws:sqs:", 12) != 0 || !strchr(src + 12, ':') ||
	    !strchr(strchr(src + 12, ':') + 1, ':')) {
		fake_reply_error(out, 400, "InvalidParameterValueException",
				 "CreateEventSourceMapping: EventSourceArn '%s' is not an SQS queue ARN (the fake's "
				 "lambda maps SQS sources only)", src ? src : "(none)");
		goto fail;
	}
	if (function_of(f, r, in, name, sizeof name, out) < 0)
		goto fail;
	if (!f->opt.esm_any_queue && !fake_sqs_queue_arn_exists(f, src)) {
		fake_reply_error(out, 400, "InvalidParameterValueException",
				 "Error occurred while ReceiveMessage. SQS Error Code: "
				 "AWS.SimpleQueueService.NonExistentQueue. SQS Error Message: The specified "
				 "queue does not exist (%s).", src);
		goto fail;
	}
	for (struct lesm *o = lmap_get(&l->esm_by_fn, name); o; o = o->fnext)
		if (strcmp(o->source, src) == 0 && o->state != ESM_DELETING) {
			char arn[256];
			fl_function_arn(f, name, arn, sizeof arn);
			fake_reply_error(out, 409, "ResourceConflictException",
					 "An event source mapping with SQS arn (\" %s \") and function (\" %s \") "
					 "already exists. Please update or delete the existing mapping with UUID %s",
					 src, arn, o->uuid);
			goto fail;
		}
	uint64_t a = fake_rand(f), b = fake_rand(f);
	snprintf(m->uuid, sizeof m->uuid, "%08x-%04x-4%03x-%04x-%012llx", (unsigned)(a >> 32),
		 (unsigned)(a >> 16) & 0xffff, (unsigned)a & 0xfff, (unsigned)(0x8000 | ((b >> 48) & 0x3fff)),
		 (unsigned long long)(b & 0xffffffffffffULL));
	m->fn = tp_xstrdup(name);
	m->source = tp_xstrdup(src);
	m->seq = l->next_seq++;
	lmap_put(&l->esms, m->uuid, m);
	index_add(l, m);
	lorder_add(&l->esm_order, m, m->seq);
	start(f, m, ESM_CREATING);                  /* nothing in force before: cur (off, none) */
	fake_reply_json(out, 202, esm_json(f, m));
	cJSON_Delete(in);
	return;
fail:
	free(m);
	cJSON_Delete(in);
}

void fl_esm_get(struct fake *f, const char *uuid, struct http_response *out)
{
	struct lesm *m = find(f, uuid, out);
	if (m)
		fake_reply_json(out, 200, esm_json(f, m));
}

/* [esm]: nothing changes a mapping while a transition runs. */
static int in_use(struct fake *f, struct lesm *m, const char *what, struct http_response *out)
{
	if (!transitional(m))
		return 0;
	char rule[32];
	snprintf(rule, sizeof rule, "mapping %s", state_names[m->state]);
	fl_violate(f, rule, m->uuid);
	fake_reply_error(out, 400, "ResourceInUseException",
			 "Cannot %s the event source mapping because it is in use (state %s).", what,
			 state_names[m->state]);
	return 1;
}

void fl_esm_update(struct fake *f, struct fake_req *r, const char *uuid, struct http_response *out)
{
	struct fake_lambda *l = f->lambda;
	struct lesm *m = find(f, uuid, out);
	cJSON *in = m ? fl_body_object(r, out) : NULL;
	if (!in)
		return;
	char name[256];
	int moves = cJSON_GetObjectItemCaseSensitive(in, "FunctionName") != NULL;
	if (in_use(f, m, "update", out) || (moves && function_of(f, r, in, name, sizeof name, out) < 0))
		goto done;
	struct lesm want = *m;
	if (apply_fields(r, in, &want, out) < 0)
		goto done;
	int was = m->state == ESM_ENABLED;
	want.cur_enabled = m->enabled;              /* settled: what is in force */
	want.cur_max = m->max_conc;
	*m = want;
	if (moves && strcmp(name, m->fn) != 0) {
		char old[256];
		snprintf(old, sizeof old, "%s", m->fn);
		index_remove(l, m);
		free(m->fn);
		m->fn = tp_xstrdup(name);
		index_add(l, m);
		fl_note_bound(f, old, f->mono_us);
	}
	start(f, m, m->enabled && !was ? ESM_ENABLING : !m->enabled && was ? ESM_DISABLING : ESM_UPDATING);
	fake_reply_json(out, 202, esm_json(f, m));
done:
	cJSON_Delete(in);
}

void fl_esm_delete(struct fake *f, const char *uuid, struct http_response *out)
{
	struct lesm *m = find(f, uuid, out);
	if (!m || in_use(f, m, "delete", out))
		return;
	m->cur_enabled = m->enabled;
	m->cur_max = m->max_conc;
	m->enabled = 0;                             /* it settles to nothing */
	start(f, m, ESM_DELETING);
	fake_reply_json(out, 202, esm_json(f, m));
}

static int by_seq(const void *a, const void *b)
{
	const struct lesm *x = *(struct lesm *const *)a, *y = *(struct lesm *const *)b;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

void fl_esm_list(struct fake *f, struct fake_req *r, struct http_response *out)
{
	struct fake_lambda *l = f->lambda;
	char fnref[512], name[256] = "", src[512] = "";
	int64_t from;
	int size;
	if (fl_paging(r, &from, &size, LIST_PAGE, out) < 0)
		return;
	if (fake_query_param(r, "FunctionName", fnref, sizeof fnref) &&
	    fl_function_name(fnref, name, sizeof name, NULL, 0) < 0) {
		fake_reply_error(out, 400, "InvalidParameterValueException",
				 "ListEventSourceMappings: FunctionName '%s' is not a function name or ARN", fnref);
		return;
	}
	fake_query_param(r, "EventSourceArn", src, sizeof src);
	/* the candidates, in creation order */
	struct lesm **v = NULL;
	size_t nv = 0;
	if (name[0]) {
		size_t cap = 0;
		for (struct lesm *e = lmap_get(&l->esm_by_fn, name); e; e = e->fnext) {
			if (nv == cap)
				v = tp_xrealloc(v, (cap = cap ? cap * 2 : 8) * sizeof *v);
			v[nv++] = e;
		}
		if (nv > 1)
			qsort(v, nv, sizeof *v, by_seq);
	} else {
		v = tp_xmalloc((l->esm_order.n + 1) * sizeof *v);
		for (size_t i = lorder_from(&l->esm_order, from); i < l->esm_order.n; i++)
			if (l->esm_order.v[i])
				v[nv++] = l->esm_order.v[i];
	}
	cJSON *b = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(b, "EventSourceMappings");
	int k = 0;
	for (size_t i = 0; i < nv; i++) {
		struct lesm *e = v[i];
		if (e->seq < from || (src[0] && strcmp(e->source, src) != 0))
			continue;
		if (k == size) {
			char mk[32];
			lmarker_of(e->seq, mk);
			cJSON_AddStringToObject(b, "NextMarker", mk);
			break;
		}
		cJSON_AddItemToArray(arr, esm_json(f, e));
		k++;
	}
	free(v);
	fake_reply_json(out, 200, b);
}
