/* plan.c: a rollout's targets and their waves (see plan.h). Pure: the
 * records, observations and policy answer come in as values. */
#include "core/rollout/plan.h"

#include "aws/ddb.h"
#include "core/codestore.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *jstr(const cJSON *o, const char *k)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

int plan_spec_code(const cJSON *record, char **pipeline, char **bucket, char **key, int *reference)
{
	*pipeline = *bucket = *key = NULL;
	*reference = 0;
	const char *name = ddb_get_str(record, "pipeline", NULL);
	const char *spec = ddb_get_str(record, "spec", NULL);
	if (!name || !spec || strcmp(ddb_get_str(record, "status", ""), "deleted") == 0)
		return 0;
	cJSON *s = cJSON_Parse(spec), *func = cJSON_GetObjectItem(s, "func");
	cJSON *code = cJSON_GetObjectItem(func, "Code");
	const char *b = jstr(code, "S3Bucket"), *k = jstr(code, "S3Key");
	int found = b && k;
	if (found) {
		*pipeline = tp_xstrdup(name);
		*bucket = tp_xstrdup(b);
		*key = tp_xstrdup(k);
		*reference = codestore_reference(func);
	}
	cJSON_Delete(s);
	return found;
}

struct ro_target *plan_find(const struct ro_targets *ts, const char *pipeline)
{
	for (size_t i = 0; i < ts->n; i++)
		if (strcmp(ts->t[i].pipeline, pipeline) == 0)
			return &ts->t[i];
	return NULL;
}

struct ro_target *plan_add(struct ro_targets *ts, const char *prefix, const char *pipeline, int wave)
{
	struct names nm;
	tp_err e = { 0 };
	if (plan_find(ts, pipeline) || names_for(prefix, pipeline, &nm, &e) < 0)
		return NULL;
	ts->t = tp_xrealloc(ts->t, (ts->n + 1) * sizeof *ts->t);
	struct ro_target *t = &ts->t[ts->n++];
	memset(t, 0, sizeof *t);
	t->pipeline = tp_xstrdup(pipeline);
	t->recorded = -1;
	snprintf(t->function, sizeof t->function, "%s", nm.function);
	t->wave = wave;
	return t;
}

void plan_clear(struct ro_targets *ts)
{
	for (size_t i = 0; i < ts->n; i++)
		free(ts->t[i].pipeline);
	free(ts->t);
	ts->t = NULL;
	ts->n = 0;
}

void plan_free(struct ro_targets *ts)
{
	plan_clear(ts);
	for (size_t i = 0; i < ts->nskipped; i++)
		free(ts->skipped[i].pipeline);
	free(ts->skipped);
	memset(ts, 0, sizeof *ts);
}

void plan_skip(struct ro_targets *ts, const struct ro_target *t, const char *why)
{
	ts->skipped = tp_xrealloc(ts->skipped, (ts->nskipped + 1) * sizeof *ts->skipped);
	struct rollout_skip *s = &ts->skipped[ts->nskipped++];
	s->pipeline = tp_xstrdup(t->pipeline);
	snprintf(s->function, sizeof s->function, "%s", t->function);
	snprintf(s->reason, sizeof s->reason, "%s", why);
}

/* Keep the targets keep() accepts, in order. */
static void keep_only(struct ro_targets *ts, int (*keep)(const struct ro_target *))
{
	size_t k = 0;
	for (size_t i = 0; i < ts->n; i++) {
		if (keep(&ts->t[i]))
			ts->t[k++] = ts->t[i];
		else
			free(ts->t[i].pipeline);
	}
	ts->n = k;
}

static int keep_seen(const struct ro_target *t)
{
	return t->seen;
}

static int keep_planned(const struct ro_target *t)
{
	return t->wave >= 0;
}

static int keep_zip(const struct ro_target *t)
{
	return !t->image;
}

/* What a record's spec deploys, for a visit over every record naming code. */
struct spec_code {
	const char *pipeline, *bucket, *key;
	int reference;
};

static void each_spec(struct ro_targets *ts, const cJSON *records,
		      void (*visit)(struct ro_targets *ts, const struct spec_code *c, const void *arg),
		      const void *arg)
{
	const cJSON *it;
	cJSON_ArrayForEach(it, records) {
		char *name, *b, *k;
		struct spec_code c;
		if (!plan_spec_code(it, &name, &b, &k, &c.reference))
			continue;
		c.pipeline = name, c.bucket = b, c.key = k;
		visit(ts, &c, arg);
		free(name), free(b), free(k);
	}
}

struct object {
	const char *prefix, *bucket, *key;
};

static void select_one(struct ro_targets *ts, const struct spec_code *c, const void *arg)
{
	const struct object *o = arg;
	struct ro_target *t = NULL;
	if (strcmp(c->bucket, o->bucket) == 0 && strcmp(c->key, o->key) == 0)
		t = plan_add(ts, o->prefix, c->pipeline, -1);
	if (t)
		t->reference = c->reference;
}

/* Pipelines whose applied spec uses this object; the state record is
 * taskpipe's ownership proof (ListFunctions shows no tags, and reconcile
 * created the function only under our owner tag). */
void plan_select(struct ro_targets *ts, const char *prefix, const cJSON *records, const char *bucket,
		 const char *key)
{
	const struct object o = { prefix, bucket, key };
	each_spec(ts, records, select_one, &o);
}

static void note_one(struct ro_targets *ts, const struct spec_code *c, const void *arg)
{
	struct ro_target *t = plan_find(ts, c->pipeline);
	if (t)
		t->reference = c->reference;
}

void plan_note_storage(struct ro_targets *ts, const cJSON *records)
{
	each_spec(ts, records, note_one, NULL);
}

void plan_from_frozen(struct ro_targets *ts, const char *prefix, const cJSON *plan)
{
	const cJSON *w;
	int idx = 0;
	cJSON_ArrayForEach(w, plan) {
		const cJSON *n;
		cJSON_ArrayForEach(n, cJSON_GetObjectItem(w, "targets"))
			if (cJSON_IsString(n))
				plan_add(ts, prefix, n->valuestring, idx);
		idx++;
	}
}

void plan_drop_unseen(struct ro_targets *ts)
{
	for (size_t i = 0; i < ts->n; i++)
		if (!ts->t[i].seen)
			plan_skip(ts, &ts->t[i], "function missing or its Description records another code object");
	keep_only(ts, keep_seen);
}

/* A container image function has no zip code to take: skipped, named,
 * never sent UpdateFunctionCode with S3 code
 * (https://docs.aws.amazon.com/lambda/latest/api/API_UpdateFunctionCode.html:
 * ImageUri for PackageType Image, S3Bucket/S3Key for Zip). */
void plan_drop_images(struct ro_targets *ts)
{
	for (size_t i = 0; i < ts->n; i++)
		if (ts->t[i].seen && ts->t[i].image) {
			char why[160];
			snprintf(why, sizeof why, "function %s has PackageType Image: rollout deploys zip code only",
				 ts->t[i].function);
			plan_skip(ts, &ts->t[i], why);
		}
	keep_only(ts, keep_zip);
}

int plan_is_done(const struct ro_target *t, const char *sha)
{
	return t->seen && !t->image && strcmp(t->sha, sha) == 0;
}

/* Layer mode put the code in a layer, but each function's own zip holds
 * bootstrap too and the function's code shadows /opt: nothing changed. */
int plan_layer_mode_removed(tp_err *e)
{
	return tp_errf(e, TP_EINVAL, "LayerModeRemoved",
		       "rollout mode 'layer' was removed: the function's own zip holds bootstrap, which "
		       "shadows the layer's /opt, so a layer rollout changed nothing; use mode code. "
		       "To store the code once, set code_storage = \"reference\" (the default on a "
		       "versioned code bucket): functions then run it from S3 (README, \"Code storage\")");
}

int plan_batch(struct ro_targets *ts, const cJSON *waves, const char *mode, cJSON **plan, tp_err *e)
{
	*plan = cJSON_CreateArray();
	const cJSON *w;
	cJSON_ArrayForEach(w, waves) {
		const cJSON *n;
		cJSON *pw = cJSON_CreateObject(), *pn = cJSON_AddArrayToObject(pw, "targets");
		int idx = cJSON_GetArraySize(*plan);
		cJSON_ArrayForEach(n, cJSON_GetObjectItem(w, "targets")) {
			struct ro_target *t = cJSON_IsString(n) ? plan_find(ts, n->valuestring) : NULL;
			if (t && t->wave < 0) {
				t->wave = idx; /* the first wave naming it wins */
				cJSON_AddItemToArray(pn, cJSON_CreateString(n->valuestring));
			}
		}
		cJSON *p = cJSON_GetObjectItem(w, "pause_seconds"), *h = cJSON_GetObjectItem(w, "halt_on_failure");
		cJSON_AddNumberToObject(pw, "pause_seconds", cJSON_IsNumber(p) && p->valuedouble > 0 ? p->valuedouble : 0);
		cJSON_AddBoolToObject(pw, "halt_on_failure", !cJSON_IsFalse(h));
		if (!mode && jstr(w, "mode"))
			mode = jstr(w, "mode");
		if (cJSON_GetArraySize(pn))
			cJSON_AddItemToArray(*plan, pw);
		else
			cJSON_Delete(pw);
	}
	if (mode && strcmp(mode, "layer") == 0)
		return plan_layer_mode_removed(e);
	if (mode && strcmp(mode, "code") != 0)
		return tp_errf(e, TP_EPOLICY, "BadMode", "rollout mode '%s' (only code)", mode);
	for (size_t i = 0; i < ts->n; i++)
		if (ts->t[i].wave < 0)
			plan_skip(ts, &ts->t[i], "the policy put it in no wave");
	keep_only(ts, keep_planned);
	return TP_OK;
}
