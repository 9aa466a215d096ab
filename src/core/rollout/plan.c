/* plan.c: a rollout's targets and their waves (see plan.h). Pure: the
 * records, observations and policy answer come in as values. */
#include "core/rollout/plan.h"

#include "core/store.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *jstr(const cJSON *o, const char *k)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

int plan_spec_code(const struct store_pipeline *record, struct store_spec_code *code)
{
	memset(code, 0, sizeof *code);
	if (!record->name || record->status == STORE_DELETED ||
	    store_spec_code_parse(record->spec, code, NULL) < 0)
		return 0;
	if (code->bucket && code->key)
		return 1;
	store_spec_code_free(code);
	return 0;
}

static size_t name_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;   /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return (size_t)h;
}

/* The slot of pipeline: its target's, or the empty one it would take. */
static size_t *slot_of(const struct ro_targets *ts, const char *pipeline)
{
	size_t mask = ts->n_slots - 1;
	for (size_t i = name_hash(pipeline) & mask;; i = (i + 1) & mask) {
		size_t *s = &ts->slots[i];
		if (!*s || strcmp(ts->t[*s - 1].pipeline, pipeline) == 0)
			return s;
	}
}

/* Index every target again (after the array shrank or to grow the table). */
static void reindex(struct ro_targets *ts, size_t n_slots)
{
	free(ts->slots);
	ts->n_slots = n_slots;
	ts->slots = tp_xcalloc(n_slots, sizeof *ts->slots);
	for (size_t i = 0; i < ts->n; i++)
		*slot_of(ts, ts->t[i].pipeline) = i + 1;
}

struct ro_target *plan_find(const struct ro_targets *ts, const char *pipeline)
{
	if (!ts->n_slots)
		return NULL;
	size_t *s = slot_of(ts, pipeline);
	return *s ? &ts->t[*s - 1] : NULL;
}

struct ro_target *plan_add(struct ro_targets *ts, const char *prefix, const char *pipeline, int wave)
{
	struct names nm;
	tp_err e = { 0 };
	if (plan_find(ts, pipeline) || names_for(prefix, pipeline, &nm, &e) < 0)
		return NULL;
	if (ts->n == ts->cap) {
		ts->cap = ts->cap ? ts->cap * 2 : 64;
		ts->t = tp_xrealloc(ts->t, ts->cap * sizeof *ts->t);
	}
	if (2 * (ts->n + 1) >= ts->n_slots)
		reindex(ts, ts->n_slots ? ts->n_slots * 2 : 128);
	*slot_of(ts, pipeline) = ts->n + 1;
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
	ts->n = ts->cap = 0;
	free(ts->slots);
	ts->slots = NULL;
	ts->n_slots = 0;
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
	if (ts->nskipped == ts->cap_skipped) {
		ts->cap_skipped = ts->cap_skipped ? ts->cap_skipped * 2 : 16;
		ts->skipped = tp_xrealloc(ts->skipped, ts->cap_skipped * sizeof *ts->skipped);
	}
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
	if (ts->n_slots)
		reindex(ts, ts->n_slots);
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

/* Pipelines whose applied spec uses this object; the state record is
 * taskpipe's ownership proof (ListFunctions shows no tags, and reconcile
 * created the function only under our owner tag). */
void plan_select(struct ro_targets *ts, const char *prefix, const struct store_pipelines *records,
		 const char *bucket, const char *key)
{
	for (size_t i = 0; i < records->n; i++) {
		struct store_spec_code c;
		if (!plan_spec_code(&records->v[i], &c))
			continue;
		struct ro_target *t = NULL;
		if (strcmp(c.bucket, bucket) == 0 && strcmp(c.key, key) == 0)
			t = plan_add(ts, prefix, records->v[i].name, -1);
		if (t)
			t->reference = c.reference;
		store_spec_code_free(&c);
	}
}

/* One lookup by name per target: never a walk of the records per target. */
void plan_note_storage(struct ro_targets *ts, struct store_pipelines *records)
{
	for (size_t i = 0; i < ts->n; i++) {
		const struct store_pipeline *p = store_pipelines_find(records, ts->t[i].pipeline);
		struct store_spec_code c;
		if (p && plan_spec_code(p, &c)) {
			ts->t[i].reference = c.reference;
			store_spec_code_free(&c);
		}
	}
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
	if (mode && strcmp(mode, "code") != 0)
		return tp_errf(e, TP_EPOLICY, "BadMode", "rollout mode '%s' (only code)", mode);
	for (size_t i = 0; i < ts->n; i++)
		if (ts->t[i].wave < 0)
			plan_skip(ts, &ts->t[i], "the policy put it in no wave");
	keep_only(ts, keep_planned);
	return TP_OK;
}
