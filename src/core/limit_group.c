/* limit_group.c: limit groups (see limit_group.h). */
#include "core/limit_group.h"

#include "aws/awsjson.h"
#include "aws/ddb.h"
#include "core/app.h"
#include "core/config_item.h"
#include "core/store.h"
#include "script/policy.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum group_state { G_UNCHECKED, G_OK, G_BAD, G_MISSING, G_REMOVED };

struct group {
	char *name;
	int state;            /* enum group_state */
	cJSON *item;          /* its config item while unchecked */
	char *rate;           /* tasks/s as the policy gave it (G_OK) */
	char *burst;
	tp_err err;           /* why G_BAD */
};

struct limit_groups {
	struct app *app;      /* NULL: no reads */
	struct policy *policy;
	struct group *v;
	size_t n, cap;
};

int limit_group_key_is(const char *key)
{
	return key && strncmp(key, LIMIT_GROUP_KEY_PREFIX, strlen(LIMIT_GROUP_KEY_PREFIX)) == 0;
}

const char *limit_group_key_name(const char *key)
{
	return key + strlen(LIMIT_GROUP_KEY_PREFIX);
}

char *limit_group_key(const char *name)
{
	return tp_xasprintf(LIMIT_GROUP_KEY_PREFIX "%s", name);
}

int limit_group_item_keyed(cJSON *item, char *why, size_t len)
{
	const char *key = ddb_get_str(item, "pipeline", NULL), *name = ddb_get_str(item, "limit_group", NULL);
	if (key && !limit_group_key_is(key))
		return 0; /* a pipeline's item (a member when it names a group) */
	if (!key && !name)
		return 0;
	if (!name) {
		snprintf(why, len, "pipeline: '%s' is a limit group's key, but the item has no string \"limit_group\" "
			 "(a limit group's item: {\"limit_group\": \"NAME\", \"rate\": ..., \"burst\": ...})", key);
		return -1;
	}
	if (!key) {
		char *k = limit_group_key(name);
		ddb_put_str(item, "pipeline", k);
		free(k);
		return 1;
	}
	if (strcmp(limit_group_key_name(key), name) != 0) {
		snprintf(why, len, "pipeline: '%s' does not match limit_group '%s' (a group's key is limit#NAME; "
			 "leave \"pipeline\" out and taskpipe sets it)", key, name);
		return -1;
	}
	return 1;
}

struct limit_groups *limit_groups_new(struct app *app, struct policy *policy)
{
	struct limit_groups *g = tp_xcalloc(1, sizeof *g);
	g->app = app;
	g->policy = policy;
	return g;
}

static void group_clear(struct group *x)
{
	free(x->name);
	cJSON_Delete(x->item);
	free(x->rate);
	free(x->burst);
}

void limit_groups_free(struct limit_groups *g)
{
	if (!g)
		return;
	for (size_t i = 0; i < g->n; i++)
		group_clear(&g->v[i]);
	free(g->v);
	free(g);
}

static struct group *find(struct limit_groups *g, const char *name)
{
	for (size_t i = 0; i < g->n; i++)
		if (strcmp(g->v[i].name, name) == 0)
			return &g->v[i];
	return NULL;
}

static struct group *add(struct limit_groups *g, const char *name, int state, const cJSON *item)
{
	struct group *x = find(g, name);
	if (x) {
		group_clear(x);
	} else {
		if (g->n == g->cap) {
			g->cap = g->cap ? 2 * g->cap : 8;
			g->v = tp_xrealloc(g->v, g->cap * sizeof *g->v);
		}
		x = &g->v[g->n++];
	}
	memset(x, 0, sizeof *x);
	x->name = tp_xstrdup(name);
	x->state = state;
	x->item = item ? cJSON_Duplicate(item, 1) : NULL;
	return x;
}

void limit_groups_add(struct limit_groups *g, const cJSON *item)
{
	const char *key = ddb_get_str(item, "pipeline", NULL);
	if (g && limit_group_key_is(key))
		add(g, limit_group_key_name(key), G_UNCHECKED, item);
}

void limit_groups_removed(struct limit_groups *g, const char *name)
{
	add(g, name, G_REMOVED, NULL);
}

/* A number the policy gave (a Raw node keeps its text), or a string. */
static char *value_text(const cJSON *v)
{
	if (cJSON_IsRaw(v) || cJSON_IsString(v))
		return tp_xstrdup(v->valuestring);
	if (cJSON_IsNumber(v))
		return tp_xasprintf("%.17g", v->valuedouble);
	return NULL;
}

/* Run the policy on an unchecked group once. */
static void check(struct limit_groups *g, struct group *x)
{
	if (x->state != G_UNCHECKED)
		return;
	cJSON *out = NULL;
	tp_err e = { 0 };
	if (policy_limit_group(g->policy, x->item, &out, &e) < 0) {
		x->state = G_BAD;
		tp_errf(&x->err, TP_EINVAL, "BadLimitGroup", "limit group %s: %s", x->name, e.message);
	} else {
		x->rate = value_text(cJSON_GetObjectItemCaseSensitive(out, "rate"));
		x->burst = value_text(cJSON_GetObjectItemCaseSensitive(out, "burst"));
		x->state = x->rate && x->burst ? G_OK : G_BAD;
		if (x->state == G_BAD)
			tp_errf(&x->err, TP_EINVAL, "BadLimitGroup",
				"limit group %s: the policy's limit_group gave no rate or no burst", x->name);
	}
	cJSON_Delete(out);
	cJSON_Delete(x->item);
	x->item = NULL;
}

int limit_groups_check(struct limit_groups *g, const cJSON *item, tp_err *e)
{
	const char *key = ddb_get_str(item, "pipeline", "");
	struct group *x = add(g, limit_group_key_name(key), G_UNCHECKED, item);
	check(g, x);
	if (x->state == G_OK)
		return TP_OK;
	*e = x->err;
	return e->rc;
}

/* The group named name, read when not known yet. */
static struct group *lookup(struct limit_groups *g, const char *name, tp_err *e)
{
	struct group *x = find(g, name);
	if (x || !g->app)
		return x ? x : add(g, name, G_MISSING, NULL);
	cJSON *item = NULL;
	char *key = limit_group_key(name);
	int rc = config_item_get(g->app, key, &item, e);
	free(key);
	if (rc < 0)
		return NULL;
	if (item) {
		x = add(g, name, G_UNCHECKED, item);
	} else {
		int removed = 0;
		if (store_limit_removed_get(g->app->aws, g->app->set.state_table, name, &removed, e) < 0)
			return NULL;
		x = add(g, name, removed ? G_REMOVED : G_MISSING, NULL);
	}
	cJSON_Delete(item);
	return x;
}

int limit_groups_resolve(struct limit_groups *g, const cJSON *item, cJSON **out, char *note, size_t note_len,
			 tp_err *e)
{
	*out = NULL;
	if (note_len)
		note[0] = 0;
	const cJSON *lg = cJSON_GetObjectItemCaseSensitive(item, "limit_group");
	if (!lg || cJSON_GetObjectItemCaseSensitive(lg, "NULL"))
		return TP_OK;
	const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(lg, "S"));
	if (!name || !name[0])
		return tp_errf(e, TP_EINVAL, "BadLimitGroup", "limit_group: expected the name of a limit group (a string)");
	struct group *x = lookup(g, name, e);
	if (!x)
		return e->rc;
	check(g, x);
	switch (x->state) {
	case G_BAD:
		*e = x->err;
		return e->rc;
	case G_MISSING:
		/* without an app (policy check) the groups are the items given */
		return tp_errf(e, TP_EINVAL, "NoLimitGroup",
			       "limit_group: no limit group '%s' (no item limit#%s in %s: put {\"limit_group\": \"%s\", "
			       "\"rate\": ...} first, or remove limit_group from the item)",
			       name, name, g->app ? g->app->set.config_table : "the items given", name);
	case G_REMOVED:
		*out = cJSON_Duplicate(item, 1);
		cJSON_DeleteItemFromObjectCaseSensitive(*out, "limit_group");
		snprintf(note, note_len, "limit group %s was removed: applied without it%s (remove limit_group from "
			 "the item, or put the group again)", name,
			 cJSON_GetObjectItemCaseSensitive(item, "rate") ? ""
			 : "; the item has no rate of its own, so its tasks are no longer paced");
		return TP_OK;
	}
	*out = cJSON_Duplicate(item, 1);
	cJSON *m = cJSON_CreateObject(), *v = cJSON_AddObjectToObject(m, "M");
	ddb_put_str(v, "name", name);
	cJSON_AddStringToObject(cJSON_AddObjectToObject(v, "rate"), "N", x->rate);
	cJSON_AddStringToObject(cJSON_AddObjectToObject(v, "burst"), "N", x->burst);
	cJSON_ReplaceItemInObjectCaseSensitive(*out, "limit_group", m);
	return TP_OK;
}

int limit_groups_spec(struct limit_groups *g, const cJSON *item, cJSON **spec, char *note, size_t note_len,
		      tp_err *e)
{
	*spec = NULL;
	cJSON *resolved = NULL;
	if (limit_groups_resolve(g, item, &resolved, note, note_len, e) < 0)
		return e->rc;
	int rc = policy_pipeline(g->policy, resolved ? resolved : item, spec, e);
	cJSON_Delete(resolved);
	return rc;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int limit_group_members(struct app *app, const char *name, char ***names, size_t *n, tp_err *e)
{
	*names = NULL;
	*n = 0;
	cJSON *items = cJSON_CreateArray(), *values = cJSON_CreateObject();
	ddb_put_str(values, ":g", name);
	int rc = ddb_scan_where(app->aws, app->set.config_table, "limit_group = :g", values, items, e);
	cJSON_Delete(values);
	if (rc == TP_OK) {
		*names = tp_xcalloc((size_t)cJSON_GetArraySize(items) + 1, sizeof **names);
		const cJSON *it;
		cJSON_ArrayForEach(it, items) {
			const char *key = ddb_get_str(it, "pipeline", NULL);
			if (key && !limit_group_key_is(key))
				(*names)[(*n)++] = tp_xstrdup(key);
		}
		qsort(*names, *n, sizeof **names, cmp_str);
	}
	cJSON_Delete(items);
	return rc;
}

void limit_group_names_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

int limit_group_removed(struct app *app, const char *name, tp_err *e)
{
	return store_limit_removed_put(app->aws, app->set.state_table, name, e);
}

int limit_group_present(struct app *app, const char *name, tp_err *e)
{
	return store_limit_removed_clear(app->aws, app->set.state_table, name, e);
}
