/* diff.c: the one diff of a pipeline (see diff.h). */
#include "core/diff.h"

#include "base/json.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the list ---- */

static struct diff_change *push(struct diff_list *l, enum diff_res res, enum diff_act act,
				enum diff_kind kind, const char *field, const char *from, const char *to)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 8;
		l->v = tp_xrealloc(l->v, l->cap * sizeof *l->v);
	}
	struct diff_change *c = &l->v[l->n++];
	memset(c, 0, sizeof *c);
	c->res = res;
	c->act = act;
	c->kind = kind;
	c->field = field ? tp_xstrdup(field) : NULL;
	c->from = from ? tp_xstrdup(from) : NULL;
	c->to = to ? tp_xstrdup(to) : NULL;
	return c;
}

/* A SET change with both values as json_value_str shows them. */
static struct diff_change *set_v(struct diff_list *l, enum diff_res res, enum diff_kind kind,
				 const char *field, const cJSON *from, const cJSON *to)
{
	char a[512], b[512];
	json_value_str(from, a, sizeof a);
	json_value_str(to, b, sizeof b);
	return push(l, res, DIFF_SET, kind, field, a, b);
}

static void change_free(struct diff_change *c)
{
	free(c->field);
	free(c->from);
	free(c->to);
	free(c->note);
	for (size_t i = 0; i < c->n_parts; i++)
		change_free(&c->parts[i]);
	free(c->parts);
}

void diff_list_free(struct diff_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		change_free(&l->v[i]);
	free(l->v);
	memset(l, 0, sizeof *l);
}

void diff_list_move(struct diff_list *dst, struct diff_list *src)
{
	for (size_t i = 0; i < src->n; i++) {
		if (dst->n == dst->cap) {
			dst->cap = dst->cap ? dst->cap * 2 : 8;
			dst->v = tp_xrealloc(dst->v, dst->cap * sizeof *dst->v);
		}
		dst->v[dst->n++] = src->v[i];
	}
	free(src->v);
	memset(src, 0, sizeof *src);
}

const struct diff_change *diff_find(const struct diff_list *l, enum diff_res res, enum diff_kind kind)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].res == res && l->v[i].kind == kind)
			return &l->v[i];
	return NULL;
}

int diff_any(const struct diff_list *l, enum diff_res res)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].res == res)
			return 1;
	return 0;
}

const char *diff_res_name(enum diff_res res)
{
	switch (res) {
	case DIFF_QUEUE: return "queue";
	case DIFF_DLQ: return "dead-letter queue";
	case DIFF_FUNCTION: return "function";
	case DIFF_MAPPING: return "mapping";
	}
	return "?";
}

const char *diff_tag_key(const struct diff_change *c)
{
	return c->field && strncmp(c->field, "Tags.", 5) == 0 ? c->field + 5 : "";
}

/* ---- ownership ---- */

enum diff_owner diff_owner(const char *owner, const char *pipeline, const cJSON *tags, const char **found)
{
	const char *o = cJSON_GetStringValue(cJSON_GetObjectItem(tags, "taskpipe:owner"));
	const char *p = cJSON_GetStringValue(cJSON_GetObjectItem(tags, "taskpipe:pipeline"));
	*found = NULL;
	if (!o)
		return DIFF_NO_OWNER;
	if (strcmp(o, owner) != 0) {
		*found = o;
		return DIFF_OTHER_OWNER;
	}
	if (!p || strcmp(p, pipeline) != 0) {
		*found = p;
		return DIFF_OTHER_PIPELINE;
	}
	return DIFF_OWNED;
}

/* ---- tags ---- */

static int taskpipe_own_key(const char *k)
{
	return strncmp(k, "taskpipe:", 9) == 0;
}

void diff_tags(struct diff_list *l, enum diff_res res, const struct spec_kvs *want, const struct spec_record *old,
	       const cJSON *have)
{
	char field[300], hs[512];
	for (size_t i = 0; i < want->n; i++) {
		const struct spec_kv *w = &want->v[i];
		const cJSON *h = cJSON_GetObjectItemCaseSensitive(have, w->name);
		if (cJSON_IsString(h) && strcmp(h->valuestring, w->value) == 0)
			continue;
		snprintf(field, sizeof field, "Tags.%s", w->name);
		json_value_str(h, hs, sizeof hs);
		push(l, res, DIFF_TAG, DK_TAG, field, hs, w->value);
	}
	/* Stale: user tags the last apply set and the item dropped ... */
	for (size_t i = 0; old && i < old->tags.n; i++) {
		const char *k = old->tags.v[i].name;
		const cJSON *h;
		if (spec_kvs_get(want, k) || !(h = cJSON_GetObjectItemCaseSensitive(have, k)))
			continue;
		snprintf(field, sizeof field, "Tags.%s", k);
		set_v(l, res, DK_TAG, field, h, NULL)->act = DIFF_UNTAG;
	}
	/* ... and taskpipe:* tags it no longer sets. */
	for (const cJSON *h = have ? have->child : NULL; h; h = h->next) {
		if (!h->string || !taskpipe_own_key(h->string) || spec_kvs_get(want, h->string) ||
		    (old && spec_kvs_has(&old->tags, h->string)))
			continue;
		snprintf(field, sizeof field, "Tags.%s", h->string);
		set_v(l, res, DK_TAG, field, h, NULL)->act = DIFF_UNTAG;
	}
}

/* ---- queues ---- */

static void diff_attrs(struct diff_list *l, enum diff_res res, const struct spec_queue *want, const cJSON *have)
{
	for (int i = 0; i < SQ_NATTR; i++) {
		if (want->attr[i] == SPEC_UNSET)
			continue;
		char ws[32];
		snprintf(ws, sizeof ws, "%ld", want->attr[i]);
		const char *hs = cJSON_GetStringValue(cJSON_GetObjectItem(have, spec_queue_attr_name[i]));
		if (!hs || strcmp(hs, ws) != 0)
			push(l, res, DIFF_SET, DK_QUEUE_ATTR, spec_queue_attr_name[i], hs ? hs : "(none)", ws);
	}
}

/* maxReceiveCount of a RedrivePolicy (AWS gives a number or a string),
 * -1 without one; target gets deadLetterTargetArn ("" without). */
static long redrive(const cJSON *attrs, char *target, size_t len)
{
	const char *rp = cJSON_GetStringValue(cJSON_GetObjectItem(attrs, "RedrivePolicy"));
	cJSON *j = rp ? cJSON_Parse(rp) : NULL;
	long n = -1;
	target[0] = 0;
	if (j) {
		cJSON *m = cJSON_GetObjectItem(j, "maxReceiveCount");
		n = cJSON_IsNumber(m) ? (long)m->valuedouble : cJSON_IsString(m) ? atol(m->valuestring) : -1;
		snprintf(target, len, "%s", cJSON_GetStringValue(cJSON_GetObjectItem(j, "deadLetterTargetArn")) ?: "");
	}
	cJSON_Delete(j);
	return n;
}

static void diff_queue(struct diff_list *l, const struct pipeline *want, const struct spec_record *old,
		       const struct observed *o)
{
	const struct spec_queue *q = &want->spec.queue;
	diff_attrs(l, DIFF_QUEUE, q, o->q_attrs);
	char target[256];
	long have = redrive(o->q_attrs, target, sizeof target);
	if (q->max_receive != SPEC_UNSET && have != q->max_receive) {
		char a[32] = "(none)", b[32];
		if (have >= 0)
			snprintf(a, sizeof a, "%ld", have);
		snprintf(b, sizeof b, "%ld", q->max_receive);
		push(l, DIFF_QUEUE, DIFF_SET, DK_REDRIVE_COUNT, "RedrivePolicy.maxReceiveCount", a, b);
	}
	/* Queue ARNs come from the QueueArn attribute, never from the URL. */
	const char *arn = cJSON_GetStringValue(cJSON_GetObjectItem(o->dlq_attrs, "QueueArn"));
	if (o->dlq_exists && arn && strcmp(arn, target) != 0)
		push(l, DIFF_QUEUE, DIFF_SET, DK_REDRIVE_DLQ, "RedrivePolicy.deadLetterTargetArn", target, arn);
	diff_tags(l, DIFF_QUEUE, &want->tags, old, o->q_tags);
}

/* ---- the function ---- */

char *diff_layers_text(const cJSON *layers)
{
	buf b = { 0 };
	const cJSON *list = cJSON_IsArray(layers) ? layers : NULL, *it;
	cJSON_ArrayForEach(it, list) {
		const char *arn = cJSON_IsString(it) ? it->valuestring :
				  cJSON_GetStringValue(cJSON_GetObjectItem(it, "Arn"));
		buf_addf(&b, "%s%s", b.len ? "," : "", arn ? arn : "?");
	}
	char *s = tp_xstrdup(buf_str(&b));
	buf_free(&b);
	return s;
}

static int env_equal(const struct spec_kvs *a, const cJSON *b)
{
	if ((int)a->n != cJSON_GetArraySize(b))
		return 0;
	for (size_t i = 0; i < a->n; i++) {
		const char *v = cJSON_GetStringValue(cJSON_GetObjectItem(b, a->v[i].name));
		if (!v || strcmp(v, a->v[i].value) != 0)
			return 0;
	}
	return 1;
}

/* Environment: the item's own values may be secrets, so only their keys
 * are shown; taskpipe's own variables (TASKPIPE_*: the rate, the state
 * table, ...) are settings an operator must see, so their values are.
 * One change: from lists the function's keys ("K(removed)", "K(changed)"),
 * to the added ones; its parts say the same key by key. */
static int env_shown(const char *key)
{
	return strncmp(key, "TASKPIPE_", 9) == 0;
}

static const char *env_side(const char *key, const char *value, const char *hidden)
{
	return value && env_shown(key) ? value : hidden;
}

static void diff_env(struct diff_list *l, const struct spec_kvs *want, const cJSON *have)
{
	if (env_equal(want, have))
		return;
	buf fs = { 0 }, ts = { 0 };
	for (const cJSON *k = have ? have->child : NULL; k; k = k->next) {
		const char *w = spec_kvs_get(want, k->string);
		if (env_shown(k->string) && w && strcmp(w, k->valuestring))
			buf_addf(&fs, "%s%s=%s(changed to %s)", fs.len ? "," : "", k->string, k->valuestring, w);
		else
			buf_addf(&fs, "%s%s%s", fs.len ? "," : "", k->string,
				 !w ? "(removed)" : strcmp(w, k->valuestring) ? "(changed)" : "");
	}
	for (size_t i = 0; i < want->n; i++) {
		const struct spec_kv *k = &want->v[i];
		if (!cJSON_GetObjectItem(have, k->name)) {
			if (env_shown(k->name))
				buf_addf(&ts, "%s%s=%s(added)", ts.len ? "," : "", k->name, k->value);
			else
				buf_addf(&ts, "%s%s(added)", ts.len ? "," : "", k->name);
		}
	}
	struct diff_change *c = push(l, DIFF_FUNCTION, DIFF_SET, DK_ENV, "Environment.Variables",
				     buf_str(&fs), buf_str(&ts));
	buf_free(&fs);
	buf_free(&ts);
	struct diff_list parts = { 0 };
	char field[300];
	for (size_t i = 0; i < want->n; i++) {
		const char *name = want->v[i].name, *w = want->v[i].value;
		const char *h = cJSON_GetStringValue(cJSON_GetObjectItem(have, name));
		snprintf(field, sizeof field, "Environment.Variables.%s", name);
		if (!h)
			push(&parts, DIFF_FUNCTION, DIFF_SET, DK_ENV, field, "(absent)", env_side(name, w, "(set)"));
		else if (strcmp(h, w) != 0)
			push(&parts, DIFF_FUNCTION, DIFF_SET, DK_ENV, field, env_side(name, h, "(different value)"),
			     env_side(name, w, "(set)"));
	}
	for (const cJSON *k = have ? have->child : NULL; k; k = k->next)
		if (!spec_kvs_get(want, k->string)) {
			snprintf(field, sizeof field, "Environment.Variables.%s", k->string);
			push(&parts, DIFF_FUNCTION, DIFF_SET, DK_ENV, field,
			     env_side(k->string, cJSON_GetStringValue(k), "(set)"), "(absent)");
		}
	c->parts = parts.v;
	c->n_parts = parts.n;
}

/* S3ObjectStorageMode: COPY where the spec wants REFERENCE (an
 * UpdateFunctionCode without the field puts it back to COPY) or the other
 * way round; and a REFERENCE function gone Inactive (its object version
 * unreadable). UpdateFunctionCode repairs both. */
static void diff_storage(struct diff_list *l, const struct spec_func *func, const struct observed *o)
{
	const char *want = spec_storage_name(func->storage);
	const char *got = o->fn_storage;
	if (got && strcmp(got, want) != 0)
		push(l, DIFF_FUNCTION, DIFF_SET, DK_STORAGE, "Code.S3ObjectStorageMode", got, want);
	if (func->storage == STORAGE_REFERENCE && o->fn_inactive) {
		char *from = tp_xasprintf("Inactive (%s)", o->fn_inactive);
		push(l, DIFF_FUNCTION, DIFF_SET, DK_STATE, "State", from, "Active")->note =
			tp_xstrdup(o->fn_inactive);
		free(from);
	}
}

/* One field of the configuration: the function's value as text against want. */
static void config_field(struct diff_list *l, const cJSON *have, const char *name, enum diff_kind kind,
			 const char *field, const char *want)
{
	char hs[512];
	json_value_str(cJSON_GetObjectItem(have, name), hs, sizeof hs);
	if (strcmp(want, hs) != 0)
		push(l, DIFF_FUNCTION, DIFF_SET, kind, field, hs, want);
}

static void config_number(struct diff_list *l, const cJSON *have, const char *name, long want)
{
	char ws[32];
	snprintf(ws, sizeof ws, "%ld", want);
	if (want != SPEC_UNSET)
		config_field(l, have, name, DK_FN_CONFIG, name, ws);
}

static char *layers_text(const struct spec_func *f)
{
	buf b = { 0 };
	for (size_t i = 0; i < f->n_layers; i++)
		buf_addf(&b, "%s%s", b.len ? "," : "", f->layers[i]);
	char *s = tp_xstrdup(buf_str(&b));
	buf_free(&b);
	return s;
}

static void diff_function(struct diff_list *l, const struct pipeline *want, const struct spec_record *old,
			  const struct observed *o)
{
	const struct spec_func *func = &want->spec.func;
	const cJSON *have = o->fn;
	/* UpdateFunctionConfiguration's fields, in its body's order */
	if (func->runtime)
		config_field(l, have, "Runtime", DK_FN_CONFIG, "Runtime", func->runtime);
	if (func->handler)
		config_field(l, have, "Handler", DK_FN_CONFIG, "Handler", func->handler);
	config_number(l, have, "MemorySize", func->memory);
	config_number(l, have, "Timeout", func->timeout);
	if (want->role)
		config_field(l, have, "Role", DK_FN_CONFIG, "Role", want->role);
	config_field(l, have, "Description", DK_CODE, "Code", want->code_marker);
	diff_env(l, &func->env, cJSON_GetObjectItem(cJSON_GetObjectItem(have, "Environment"), "Variables"));

	char *wl = layers_text(func);
	char *hl = diff_layers_text(cJSON_GetObjectItem(have, "Layers"));
	if (strcmp(wl, hl) != 0)
		push(l, DIFF_FUNCTION, DIFF_SET, DK_LAYERS, "Layers", *hl ? hl : "(none)", *wl ? wl : "(none)");
	free(wl);
	free(hl);

	/* Architectures go with UpdateFunctionCode; absent means x86_64. */
	const cJSON *ha = cJSON_GetArrayItem(cJSON_GetObjectItem(have, "Architectures"), 0);
	const char *was = spec_arch_name(func->arch), *has = cJSON_GetStringValue(ha) ?: "x86_64";
	if (strcmp(was, has) != 0)
		push(l, DIFF_FUNCTION, DIFF_SET, DK_ARCH, "Architectures", has, was);

	diff_storage(l, func, o);

	if (o->reserved_known) {
		const cJSON *h = o->reserved;
		char ws[32] = "(none)", hs[32];
		if (func->reserved != SPEC_UNSET)
			snprintf(ws, sizeof ws, "%ld", func->reserved);
		json_value_str(cJSON_IsNumber(h) ? h : NULL, hs, sizeof hs);
		if (strcmp(ws, hs) != 0) {
			json_value_str(h, hs, sizeof hs);
			push(l, DIFF_FUNCTION, DIFF_SET, DK_RESERVED, "ReservedConcurrentExecutions", hs, ws);
		}
	}
	diff_tags(l, DIFF_FUNCTION, &want->tags, old, o->fn_tags);
}

/* ---- the mapping ---- */

long diff_scaling_max(const cJSON *m)
{
	const cJSON *v = cJSON_GetObjectItem(cJSON_GetObjectItem(m, "ScalingConfig"), "MaximumConcurrency");
	return cJSON_IsNumber(v) ? (long)v->valuedouble : 0;
}

int diff_esm_enabled(const cJSON *esm)
{
	const char *st = cJSON_GetStringValue(cJSON_GetObjectItem(esm, "State"));
	return st && (strcmp(st, "Enabled") == 0 || strcmp(st, "Enabling") == 0 ||
		      strcmp(st, "Creating") == 0 || strcmp(st, "Updating") == 0);
}

const char *diff_frt_text(enum spec_frt frt)
{
	return frt == FRT_REPORT ? "[\"ReportBatchItemFailures\"]" : "[]";
}

void diff_mapping(const struct spec_mapping *want, const cJSON *esm, struct diff_list *l)
{
	static const char *const fields[] = { "BatchSize", "MaximumBatchingWindowInSeconds" };
	const long wv[] = { want->batch_size, want->window };
	for (int i = 0; i < 2; i++) {
		const cJSON *h = cJSON_GetObjectItem(esm, fields[i]);
		if (wv[i] != SPEC_UNSET && (!cJSON_IsNumber(h) || h->valuedouble != (double)wv[i])) {
			char a[64], b[32];
			json_value_str(h, a, sizeof a);
			snprintf(b, sizeof b, "%ld", wv[i]);
			push(l, DIFF_MAPPING, DIFF_SET, DK_MAP_FIELD, fields[i], a, b);
		}
	}
	long wmax = want->max_concurrency, hmax = diff_scaling_max(esm);
	if (wmax != hmax) {
		char a[32] = "(none)", b[32] = "(none)";
		if (hmax)
			snprintf(a, sizeof a, "%ld", hmax);
		if (wmax)
			snprintf(b, sizeof b, "%ld", wmax);
		push(l, DIFF_MAPPING, DIFF_SET, DK_MAP_MAX, "ScalingConfig.MaximumConcurrency", a, b);
	}
	int wen = want->enabled != 0, hen = diff_esm_enabled(esm);
	if (wen != hen)
		push(l, DIFF_MAPPING, DIFF_SET, DK_MAP_ENABLED, "Enabled", hen ? "true" : "false",
		     wen ? "true" : "false");
	const cJSON *hft = cJSON_GetObjectItem(esm, "FunctionResponseTypes");
	if (want->frt != FRT_UNSET) {
		const char *a = diff_frt_text(want->frt);
		char *b = hft ? cJSON_PrintUnformatted(hft) : tp_xstrdup("[]");
		if (strcmp(a, b) != 0) {
			char hs[512];
			json_value_str(hft, hs, sizeof hs);
			push(l, DIFF_MAPPING, DIFF_SET, DK_MAP_FRT, "FunctionResponseTypes", hs, a);
		}
		free(b);
	}
}

/* ---- the pipeline ---- */

/* Messages in a queue, from its Approximate* attributes. */
static long queue_messages(const cJSON *attrs)
{
	static const char *const counts[] = { "ApproximateNumberOfMessages",
					      "ApproximateNumberOfMessagesNotVisible",
					      "ApproximateNumberOfMessagesDelayed" };
	long n = 0;
	for (int i = 0; i < 3; i++) {
		const char *v = cJSON_GetStringValue(cJSON_GetObjectItem(attrs, counts[i]));
		n += v ? atol(v) : 0;
	}
	return n;
}

/* The item is gone: everything goes, in reverse; the DLQ stays when it
 * holds messages and the last applied spec asked to keep it (the default
 * policy does): its messages are evidence. */
static void diff_delete(struct diff_list *l, const struct spec_record *old, const struct observed *o)
{
	if (o->esm)
		push(l, DIFF_MAPPING, DIFF_DELETE, DK_NONE, NULL, NULL, NULL);
	if (o->fn)
		push(l, DIFF_FUNCTION, DIFF_DELETE, DK_NONE, NULL, NULL, NULL);
	if (o->q_exists)
		push(l, DIFF_QUEUE, DIFF_DELETE, DK_NONE, NULL, NULL, NULL);
	if (!o->dlq_exists)
		return;
	long msgs = queue_messages(o->dlq_attrs);
	if (msgs > 0 && (!old || old->keep_dlq))
		push(l, DIFF_DLQ, DIFF_KEEP, DK_NONE, NULL, NULL, NULL)->note = tp_xasprintf("kept: %ld messages", msgs);
	else
		push(l, DIFF_DLQ, DIFF_DELETE, DK_NONE, NULL, NULL, NULL);
}

static int fn_failed(const struct observed *o, const char **why)
{
	const char *st = cJSON_GetStringValue(cJSON_GetObjectItem(o->fn, "State"));
	*why = cJSON_GetStringValue(cJSON_GetObjectItem(o->fn, "StateReason"));
	return o->fn_state_known && st && strcmp(st, "Failed") == 0;
}

void diff_pipeline(const struct pipeline *want, const struct spec_record *old, const struct observed *o,
		   struct diff_list *l)
{
	if (!want) {
		diff_delete(l, old, o);
		return;
	}
	if (!o->dlq_exists) {
		push(l, DIFF_DLQ, DIFF_CREATE, DK_NONE, NULL, NULL, NULL);
	} else {
		diff_attrs(l, DIFF_DLQ, &want->spec.dlq, o->dlq_attrs);
		diff_tags(l, DIFF_DLQ, &want->tags, old, o->dlq_tags);
	}
	if (!o->q_exists)
		push(l, DIFF_QUEUE, DIFF_CREATE, DK_NONE, NULL, NULL, NULL);
	else
		diff_queue(l, want, old, o);
	const char *why;
	if (!o->fn) {
		push(l, DIFF_FUNCTION, DIFF_CREATE, DK_NONE, NULL, NULL, NULL);
	} else if (fn_failed(o, &why)) {
		/* "When function creation fails, Lambda sets the function state to
		 * failed, and you must delete and recreate the function."
		 * https://docs.aws.amazon.com/lambda/latest/dg/functions-states.html */
		push(l, DIFF_FUNCTION, DIFF_RECREATE, DK_NONE, NULL, NULL, NULL)->note =
			tp_xstrdup(why ? why : "no reason given");
	} else {
		diff_function(l, want, old, o);
	}
	if (!o->esm)
		push(l, DIFF_MAPPING, DIFF_CREATE, DK_NONE, NULL, NULL, NULL);
	else
		diff_mapping(&want->spec.mapping, o->esm, l);
}
