/* reconcile_diff.c: the ownership check and the field-by-field diff of a
 * pipeline (see reconcile.h): what the spec wants (tags, queue attributes,
 * function configuration, mapping) against what was observed, recorded as
 * change objects in the record; the apply steps act on those. */
#include "core/reconcile/reconcile_int.h"

#include "core/codestore.h"
#include "aws/ddb.h"
#include "base/json.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the change list and the desired tags ---- */

void rc_change(struct rec *p, const char *resource, const char *field, const cJSON *from,
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

void rc_change_action(struct rec *p, const char *resource, const char *action)
{
	cJSON *c = cJSON_CreateObject();
	cJSON_AddStringToObject(c, "resource", resource);
	cJSON_AddStringToObject(c, "action", action);
	cJSON_AddItemToArray(p->changes, c);
}

cJSON *rc_spec_part(const struct rec *p, const char *name)
{
	return cJSON_GetObjectItem(p->spec, name);
}

/* The tags every resource of this pipeline must carry. */
cJSON *rc_desired_tags(struct run *r, const struct rec *p)
{
	return reconcile_desired_tags(r->app->set.owner, p->res->name, p->spec);
}

cJSON *reconcile_desired_tags(const char *owner, const char *pipeline, const cJSON *spec)
{
	cJSON *t = cJSON_CreateObject();
	cJSON *user = cJSON_GetObjectItem(spec, "tags");
	for (cJSON *it = user ? user->child : NULL; it; it = it->next) {
		char v[512];
		json_value_str(it, v, sizeof v);
		cJSON_AddStringToObject(t, it->string, v);
	}
	cJSON_AddStringToObject(t, "taskpipe:owner", owner);
	cJSON_AddStringToObject(t, "taskpipe:pipeline", pipeline);
	return t;
}

/* Tags an existing resource lacks or has with another value. */
cJSON *rc_missing_tags(const cJSON *want, const cJSON *have)
{
	cJSON *m = cJSON_CreateObject();
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
cJSON *rc_stale_tags(const cJSON *old_spec, const cJSON *want, const cJSON *have)
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
	cJSON *m = rc_missing_tags(want, have), *s = rc_stale_tags(p->old_spec, want, have);
	for (cJSON *t = m->child; t; t = t->next) {
		snprintf(field, sizeof field, "Tags.%s", t->string);
		rc_change(p, resource, field, cJSON_GetObjectItemCaseSensitive(have, t->string), t);
	}
	for (cJSON *k = s->child; k; k = k->next) {
		snprintf(field, sizeof field, "Tags.%s", k->valuestring);
		rc_change(p, resource, field, cJSON_GetObjectItemCaseSensitive(have, k->valuestring), NULL);
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

/* ---- step 5 (local): ownership and the diff ---- */

const char *const rc_queue_fields[] = { "VisibilityTimeout", "MessageRetentionPeriod",
				      "ReceiveMessageWaitTimeSeconds", "DelaySeconds",
				      "MaximumMessageSize", NULL };

static void diff_attrs(struct rec *p, const char *resource, const cJSON *want, const cJSON *have)
{
	for (int i = 0; rc_queue_fields[i]; i++) {
		cJSON *w = cJSON_GetObjectItem(want, rc_queue_fields[i]);
		if (!w)
			continue;
		char ws[64];
		json_value_str(w, ws, sizeof ws);
		const char *hs = cJSON_GetStringValue(cJSON_GetObjectItem(have, rc_queue_fields[i]));
		if (!hs || strcmp(hs, ws) != 0) {
			cJSON *from = hs ? cJSON_CreateString(hs) : NULL;
			rc_change(p, resource, rc_queue_fields[i], from, w);
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

void reconcile_code_marker(const cJSON *func, char *out, size_t len)
{
	cJSON *code = cJSON_GetObjectItem(func, "Code");
	const char *b = cJSON_GetStringValue(cJSON_GetObjectItem(code, "S3Bucket"));
	const char *k = cJSON_GetStringValue(cJSON_GetObjectItem(code, "S3Key"));
	const char *v = cJSON_GetStringValue(cJSON_GetObjectItem(code, "S3ObjectVersion"));
	char m[CODEMARK_MAX + 1];
	codemark_make(b ? b : "", k ? k : "", v, m);
	snprintf(out, len, "%s", m);
}

char *reconcile_layers_text(const cJSON *layers)
{
	buf b = { 0 };
	const cJSON *list = cJSON_IsArray(layers) ? layers : NULL, *l;
	cJSON_ArrayForEach(l, list) {
		const char *arn = cJSON_IsString(l) ? l->valuestring :
				  cJSON_GetStringValue(cJSON_GetObjectItem(l, "Arn"));
		buf_addf(&b, "%s%s", b.len ? "," : "", arn ? arn : "?");
	}
	char *s = tp_xstrdup(buf_str(&b));
	buf_free(&b);
	return s;
}

static const char *func_fields[] = { "Runtime", "Handler", "MemorySize", "Timeout", "Role",
				     "Description", NULL };

/* The function configuration we want, as UpdateFunctionConfiguration takes it. */
cJSON *rc_desired_config(struct run *r, struct rec *p)
{
	cJSON *func = rc_spec_part(p, "func");
	cJSON *cfg = cJSON_CreateObject();
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
	cJSON_AddItemToObject(e, "Variables", vars ? vars : cJSON_CreateObject());
	/* Layers: the spec's list; an empty one when the spec has none but the
	 * function has some (removing rate removes the consumer layer), left
	 * out when neither has any, so such bodies stay as they were. */
	cJSON *layers = cJSON_GetObjectItem(func, "Layers");
	cJSON *have = cJSON_GetObjectItem(cJSON_GetObjectItem(p->fn, "Configuration"), "Layers");
	if (cJSON_GetArraySize(layers) > 0)
		cJSON_AddItemToObject(cfg, "Layers", cJSON_Duplicate(layers, 1));
	else if (cJSON_GetArraySize(have) > 0)
		cJSON_AddItemToObject(cfg, "Layers", cJSON_CreateArray());
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

/* S3ObjectStorageMode: a function on COPY where the spec wants REFERENCE
 * (an UpdateFunctionCode that left the field out puts it back to COPY) or
 * the other way round; and a REFERENCE function gone Inactive (its object
 * version unreadable). Both are repaired by UpdateFunctionCode with the
 * spec's mode and the object's current version (rc_emit_function_code). */
static void diff_storage(struct rec *p, const cJSON *have)
{
	const cJSON *func = rc_spec_part(p, "func");
	const char *want = codestore_reference(func) ? "REFERENCE" : "COPY";
	const char *got = codestore_observed(have);
	if (got && strcmp(got, want) != 0) {
		cJSON *f = cJSON_CreateString(got), *t = cJSON_CreateString(want);
		rc_change(p, "function", "Code.S3ObjectStorageMode", f, t);
		cJSON_Delete(f);
		cJSON_Delete(t);
	}
	char why[300], from[320];
	if (codestore_reference(func) && codestore_inactive(have, why, sizeof why)) {
		snprintf(from, sizeof from, "Inactive (%s)", why);
		cJSON *f = cJSON_CreateString(from), *t = cJSON_CreateString("Active");
		rc_change(p, "function", "State", f, t);
		cJSON_Delete(f);
		cJSON_Delete(t);
	}
}

static void diff_function(struct run *r, struct rec *p)
{
	cJSON *have = cJSON_GetObjectItem(p->fn, "Configuration");
	cJSON *want = rc_desired_config(r, p);
	for (cJSON *w = want->child; w; w = w->next) {
		cJSON *h = cJSON_GetObjectItem(have, w->string);
		if (strcmp(w->string, "Environment") == 0) {
			cJSON *hv = cJSON_GetObjectItem(cJSON_GetObjectItem(have, "Environment"), "Variables");
			cJSON *wv = cJSON_GetObjectItem(w, "Variables");
			if (!env_equal(wv, hv)) {
				/* Values may be secrets: report the keys only. */
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
				rc_change(p, "function", "Environment.Variables", f, t);
				cJSON_Delete(f);
				cJSON_Delete(t);
				buf_free(&fs);
				buf_free(&ts);
			}
			continue;
		}
		if (strcmp(w->string, "Layers") == 0) {
			char *wl = reconcile_layers_text(w), *hl = reconcile_layers_text(h);
			if (strcmp(wl, hl) != 0) {
				cJSON *f = cJSON_CreateString(*hl ? hl : "(none)");
				cJSON *t = cJSON_CreateString(*wl ? wl : "(none)");
				rc_change(p, "function", "Layers", f, t);
				cJSON_Delete(f);
				cJSON_Delete(t);
			}
			free(wl);
			free(hl);
			continue;
		}
		char ws[512], hs[512];
		json_value_str(w, ws, sizeof ws);
		json_value_str(h, hs, sizeof hs);
		if (strcmp(ws, hs) != 0)
			rc_change(p, "function", strcmp(w->string, "Description") == 0 ? "Code" : w->string, h, w);
	}
	cJSON_Delete(want);

	/* Architectures go with UpdateFunctionCode (not the configuration);
	 * absent means x86_64. */
	cJSON *wa = cJSON_GetArrayItem(cJSON_GetObjectItem(rc_spec_part(p, "func"), "Architectures"), 0);
	cJSON *ha = cJSON_GetArrayItem(cJSON_GetObjectItem(have, "Architectures"), 0);
	const char *was = cJSON_GetStringValue(wa) ?: "x86_64", *has = cJSON_GetStringValue(ha) ?: "x86_64";
	if (strcmp(was, has) != 0) {
		cJSON *f = cJSON_CreateString(has), *t = cJSON_CreateString(was);
		rc_change(p, "function", "Architectures", f, t);
		cJSON_Delete(f);
		cJSON_Delete(t);
	}

	diff_storage(p, have);

	cJSON *want_rc = cJSON_GetObjectItem(rc_spec_part(p, "func"), "ReservedConcurrentExecutions");
	cJSON *have_rc = cJSON_GetObjectItem(cJSON_GetObjectItem(p->fn, "Concurrency"),
					     "ReservedConcurrentExecutions");
	char ws[32], hs[32];
	json_value_str(cJSON_IsNumber(want_rc) ? want_rc : NULL, ws, sizeof ws);
	json_value_str(cJSON_IsNumber(have_rc) ? have_rc : NULL, hs, sizeof hs);
	if (strcmp(ws, hs) != 0)
		rc_change(p, "function", "ReservedConcurrentExecutions", have_rc, want_rc);

	cJSON *tags = rc_desired_tags(r, p);
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

long rc_scaling_max(const cJSON *m)
{
	cJSON *v = cJSON_GetObjectItem(cJSON_GetObjectItem(m, "ScalingConfig"), "MaximumConcurrency");
	return cJSON_IsNumber(v) ? (long)v->valuedouble : 0;
}

/* Fields of the mapping that differ, as an UpdateEventSourceMapping body; NULL when none. */
cJSON *rc_mapping_update(struct rec *p, int record)
{
	cJSON *want = rc_spec_part(p, "mapping");
	cJSON *upd = cJSON_CreateObject();
	for (int i = 0; esm_fields[i]; i++) {
		cJSON *w = cJSON_GetObjectItem(want, esm_fields[i]);
		cJSON *h = cJSON_GetObjectItem(p->esm, esm_fields[i]);
		if (w && (!cJSON_IsNumber(h) || h->valuedouble != w->valuedouble)) {
			cJSON_AddItemToObject(upd, esm_fields[i], cJSON_Duplicate(w, 1));
			if (record)
				rc_change(p, "mapping", esm_fields[i], h, w);
		}
	}
	long wmax = rc_scaling_max(want), hmax = rc_scaling_max(p->esm);
	if (wmax != hmax) {
		cJSON *sc = cJSON_AddObjectToObject(upd, "ScalingConfig");
		if (wmax)
			cJSON_AddNumberToObject(sc, "MaximumConcurrency", (double)wmax);
		if (record) {
			cJSON *f = hmax ? cJSON_CreateNumber((double)hmax) : NULL;
			cJSON *t = wmax ? cJSON_CreateNumber((double)wmax) : NULL;
			rc_change(p, "mapping", "ScalingConfig.MaximumConcurrency", f, t);
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
			rc_change(p, "mapping", "Enabled", f, t);
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
				rc_change(p, "mapping", "FunctionResponseTypes", hft, wft);
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
	char s[32];
	snprintf(s, sizeof s, "%ld", ago < 0 ? 0 : ago);
	rc_retryf(p, "QueueDeletedRecently",
		  "queue %s was deleted %s s ago and may still answer for up to 60 s; taskpipe recreates it once the name is free: retry later",
		  p->nm.queue, s);
	return 1;
}

static int fn_failed(const struct rec *p)
{
	const char *st = cJSON_GetStringValue(
		cJSON_GetObjectItem(cJSON_GetObjectItem(p->fn, "Configuration"), "State"));
	return st && strcmp(st, "Failed") == 0;
}

/* Something will change: wait first for a function or mapping that AWS is
 * still busy with (steps wait and mapping-wait, bounded). */
static void note_transitions(struct rec *p)
{
	if (p->fn && !p->fn_recreate && rc_fn_busy(p->fn))
		p->fn_wait = 1;
	if (p->esm && rc_esm_transitional(p->esm))
		p->esm_wait = 1;
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

/* Lambda is still creating the function (Pending) or applying an update
 * (LastUpdateStatus InProgress): updates meanwhile fail with
 * ResourceConflictException. Only GetFunction / GetFunctionConfiguration
 * carry these fields, ListFunctions does not.
 * https://docs.aws.amazon.com/lambda/latest/dg/functions-states.html */
int rc_fn_busy(const cJSON *fn)
{
	cJSON *cfg = cJSON_GetObjectItem(fn, "Configuration");
	const char *st = cJSON_GetStringValue(cJSON_GetObjectItem(cfg, "State"));
	const char *lu = cJSON_GetStringValue(cJSON_GetObjectItem(cfg, "LastUpdateStatus"));
	return (st && strcmp(st, "Pending") == 0) || (lu && strcmp(lu, "InProgress") == 0);
}

/* taskpipe manages zip functions: an image in the spec, or an image
 * function under our name, is reported and left alone. */
static int check_package_type(struct rec *p)
{
	const char *want = cJSON_GetStringValue(cJSON_GetObjectItem(rc_spec_part(p, "func"), "PackageType"));
	if (want && strcmp(want, "Zip") != 0) {
		rc_failf(p, TP_EINVAL, "PackageTypeNotSupported",
			 "pipeline %s: func.PackageType is '%s'; taskpipe manages zip functions only (drop PackageType or set \"Zip\")",
			 p->res->name, want);
		return -1;
	}
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

/* func.Layers, when a policy gives it: a list of layer version ARNs. */
static int check_layers(struct rec *p)
{
	cJSON *layers = cJSON_GetObjectItem(rc_spec_part(p, "func"), "Layers");
	int bad = layers && !cJSON_IsArray(layers);
	const cJSON *list = bad ? NULL : layers, *l;
	cJSON_ArrayForEach(l, list)
		bad |= !cJSON_IsString(l) || !*l->valuestring;
	if (bad)
		rc_failf(p, TP_EINVAL, "BadSpec", "pipeline %s: func.Layers must be a list of layer version ARNs%s",
			 p->res->name, "");
	return bad ? -1 : 0;
}

void rc_check_and_diff(struct run *r, struct rec *p)
{
	char why[256];
	if (check_package_type(p) < 0 || check_layers(p) < 0)
		return;
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
			rc_fail(p, &e);
			return;
		}
	}
	if (!p->spec) {
		if (p->esm)
			rc_change_action(p, "mapping", "delete");
		if (p->fn)
			rc_change_action(p, "function", "delete");
		if (p->q_url)
			rc_change_action(p, "queue", "delete");
		if (p->dlq_url) {
			cJSON *keep = cJSON_GetObjectItem(cJSON_GetObjectItem(p->old_spec, "dlq"),
							  "keep_if_not_empty");
			long msgs = dlq_messages(p);
			if (msgs > 0 && !cJSON_IsFalse(keep)) {
				char note[64];
				snprintf(note, sizeof note, "kept: %ld messages", msgs);
				rc_change_action(p, "dead-letter queue", note);
				p->dlq_kept = 1;
			} else {
				rc_change_action(p, "dead-letter queue", "delete");
			}
		}
		if (!p->esm && !p->fn && !p->q_url && !p->dlq_url)
			p->res->action = REC_NONE;
		p->esm_wait = p->esm && rc_esm_transitional(p->esm);
		return;
	}
	if (queue_dying(p))
		return;
	reconcile_code_marker(rc_spec_part(p, "func"), p->code_marker, sizeof p->code_marker);
	if (!p->q_url && !p->dlq_url && !p->fn)
		p->res->action = REC_CREATE;

	cJSON *q = rc_spec_part(p, "queue"), *dq = rc_spec_part(p, "dlq");
	cJSON *tags = rc_desired_tags(r, p);
	if (!p->dlq_url) {
		rc_change_action(p, "dead-letter queue", "create");
	} else {
		diff_attrs(p, "dead-letter queue", dq, p->dlq_attrs);
		diff_tags(p, "dead-letter queue", tags, p->dlq_tags);
	}
	if (!p->q_url) {
		rc_change_action(p, "queue", "create");
	} else {
		diff_attrs(p, "queue", q, p->q_attrs);
		char target[256] = "";
		long have = redrive_count(p->q_attrs, target, sizeof target);
		cJSON *want = cJSON_GetObjectItem(q, "maxReceiveCount");
		if (want && have != (long)want->valuedouble) {
			cJSON *h = have >= 0 ? cJSON_CreateNumber((double)have) : NULL;
			rc_change(p, "queue", "RedrivePolicy.maxReceiveCount", h, want);
			cJSON_Delete(h);
		}
		const char *arn = rc_queue_arn(p, 1);
		if (p->dlq_url && arn) {
			if (strcmp(arn, target) != 0) {
				cJSON *h = cJSON_CreateString(target), *w = cJSON_CreateString(arn);
				rc_change(p, "queue", "RedrivePolicy.deadLetterTargetArn", h, w);
				cJSON_Delete(h);
				cJSON_Delete(w);
			}
		}
		diff_tags(p, "queue", tags, p->q_tags);
	}
	cJSON_Delete(tags);
	if (!p->fn) {
		/* Check before any change: a pipeline half-created for want of a role helps no one. */
		if (!cJSON_GetObjectItem(rc_spec_part(p, "func"), "Role") && !r->app->set.role_arn) {
			rc_failf(p, TP_EINVAL, "NoRole",
				 "cannot create function %s: no execution role (set TASKPIPE_ROLE_ARN or --role-arn)%s",
				 p->nm.function, "");
			return;
		}
		rc_change_action(p, "function", "create");
	} else if (fn_failed(p)) {
		/* "When function creation fails, Lambda sets the function state to
		 * failed, and you must delete and recreate the function."
		 * https://docs.aws.amazon.com/lambda/latest/dg/functions-states.html
		 * The mapping (if any) stays: it names the function by ARN. */
		const char *why2 = cJSON_GetStringValue(
			cJSON_GetObjectItem(cJSON_GetObjectItem(p->fn, "Configuration"), "StateReason"));
		char note[300];
		snprintf(note, sizeof note, "recreate (State Failed: %s)", why2 ? why2 : "no reason given");
		rc_change_action(p, "function", note);
		p->fn_recreate = 1;
	} else {
		diff_function(r, p);
	}
	if (!p->esm)
		rc_change_action(p, "mapping", "create");
	else
		cJSON_Delete(rc_mapping_update(p, 1));
	if (cJSON_GetArraySize(p->changes) == 0) {
		p->res->action = REC_NONE;
		return;
	}
	note_transitions(p);
}
