/* fake_tagging.c: the fake's Resource Groups Tagging API, AWS JSON 1.1
 * (X-Amz-Target ResourceGroupsTaggingAPI_20170126.GetResources), over the
 * tagged resources of the fake's Lambda and SQS (fake_lambda_each_tagged,
 * fake_sqs_each_tagged).
 *
 * A first page walks every tagged resource once and keeps the matches
 * (their answer entries, as text, by ARN) as a snapshot that the
 * PaginationToken names; later pages are served from it, so a listing of
 * 150,000 resources costs one walk, not one per page. A token must come
 * back with the same filters; one whose snapshot is gone (served to its
 * end, or evicted when more than SNAPSHOTS listings are open) answers
 * PaginationTokenExpiredException, as AWS's expire. The last page carries
 * PaginationToken "" (AWS's spelling of "no more").
 * API reference: https://docs.aws.amazon.com/resourcegroupstagging/latest/APIReference/API_GetResources.html
 *
 * Not modelled: the tagging API's eventual consistency (AWS gives no
 * number; awsmodel.py's list_lag_s is a test knob), ResourceARNList,
 * TagsPerPage and compliance details (refused, naming them). */
#include "fake/fake_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PER_PAGE_MAX 100
#define SNAPSHOTS 16

struct snapshot {
	struct snapshot *next;
	unsigned long id;
	char *filters;              /* the request's filters, which a token must repeat */
	char **entry;               /* {"ResourceARN":..,"Tags":[{"Key","Value"}]} each */
	size_t n, cap;
};

struct fake_tagging {
	struct snapshot *open;      /* newest first */
	unsigned long next_id;
};

static void snapshot_free(struct snapshot *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->entry[i]);
	free(s->entry);
	free(s->filters);
	free(s);
}

void fake_tagging_free(struct fake_tagging *t)
{
	if (!t)
		return;
	for (struct snapshot *s = t->open, *n; s; s = n) {
		n = s->next;
		snapshot_free(s);
	}
	free(t);
}

static void unlink_snapshot(struct fake_tagging *t, struct snapshot *s)
{
	for (struct snapshot **pp = &t->open; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			return;
		}
}

/* ---- filters ---- */

struct walk {
	const cJSON *tag_filters;   /* [{"Key", "Values"}] */
	const cJSON *type_filters;  /* ["lambda:function", "sqs"] */
	struct snapshot *s;
};

/* "arn:partition:service:region:account:resource": service and the
 * resource type (the resource up to ':' or '/'; "" when it has neither, as
 * an SQS queue). */
static int arn_parts(const char *arn, char *service, size_t sl, char *type, size_t tl)
{
	const char *p = arn;
	for (int i = 0; i < 2; i++) {
		p = strchr(p, ':');
		if (!p)
			return 0;
		p++;
	}
	size_t n = strcspn(p, ":");
	snprintf(service, sl, "%.*s", (int)n, p);
	for (int i = 0; i < 3; i++) {
		p = strchr(p, ':');
		if (!p)
			return 0;
		p++;
	}
	size_t k = strcspn(p, ":/");
	snprintf(type, tl, "%.*s", p[k] ? (int)k : 0, p);
	return 1;
}

static int type_matches(const cJSON *filters, const char *arn)
{
	char svc[32], type[64];
	if (!cJSON_GetArraySize(filters))
		return 1;
	if (!arn_parts(arn, svc, sizeof svc, type, sizeof type))
		return 0;
	const cJSON *f;
	cJSON_ArrayForEach(f, filters) {
		const char *s = cJSON_GetStringValue(f);
		const char *colon = strchr(s, ':');
		size_t sl = colon ? (size_t)(colon - s) : strlen(s);
		if (strlen(svc) == sl && strncmp(s, svc, sl) == 0 && (!colon || strcmp(colon + 1, type) == 0))
			return 1;
	}
	return 0;
}

/* Every filter holds: the key is there, with one of Values when any are given. */
static int tags_match(const cJSON *filters, const cJSON *tags)
{
	const cJSON *f;
	cJSON_ArrayForEach(f, filters) {
		const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
			tags, cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(f, "Key"))));
		if (!v)
			return 0;
		const cJSON *vals = cJSON_GetObjectItemCaseSensitive(f, "Values"), *x;
		int ok = !cJSON_GetArraySize(vals);
		cJSON_ArrayForEach(x, vals)
			ok |= strcmp(cJSON_GetStringValue(x), v) == 0;
		if (!ok)
			return 0;
	}
	return 1;
}

static void visit(void *ctx, const char *arn, const cJSON *tags)
{
	struct walk *w = ctx;
	if (!type_matches(w->type_filters, arn) || !tags_match(w->tag_filters, tags))
		return;
	cJSON *e = cJSON_CreateObject(), *list = cJSON_CreateArray();
	cJSON_AddStringToObject(e, "ResourceARN", arn);
	const cJSON *t;
	cJSON_ArrayForEach(t, tags) {
		cJSON *kv = cJSON_CreateObject();
		cJSON_AddStringToObject(kv, "Key", t->string);
		cJSON_AddStringToObject(kv, "Value", cJSON_GetStringValue(t));
		cJSON_AddItemToArray(list, kv);
	}
	cJSON_AddItemToObject(e, "Tags", list);
	struct snapshot *s = w->s;
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 64;
		s->entry = tp_xrealloc(s->entry, s->cap * sizeof *s->entry);
	}
	s->entry[s->n++] = cJSON_PrintUnformatted(e);
	cJSON_Delete(e);
}

/* Entries by ARN: each starts {"ResourceARN":"<arn>", and '"' sorts below
 * every character of an ARN, so their text sorts as their ARNs do. */
static int by_arn(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ---- the request ---- */

static int bad(struct http_response *out, const char *fmt, const char *what)
	__attribute__((format(printf, 2, 0)));
static int bad(struct http_response *out, const char *fmt, const char *what)
{
	fake_reply_error(out, 400, "InvalidParameterException", fmt, what);
	return 0;
}

/* 1 when in's filters are well formed; else the error is written. */
static int valid(const cJSON *in, struct http_response *out)
{
	static const char *const known[] = { "TagFilters", "ResourceTypeFilters", "ResourcesPerPage",
					     "PaginationToken", NULL };
	const cJSON *it;
	cJSON_ArrayForEach(it, in) {
		size_t i = 0;
		while (known[i] && strcmp(known[i], it->string) != 0)
			i++;
		if (!known[i])
			return bad(out, "the fake's Tagging API does not know parameter %s of GetResources",
				   it->string);
	}
	const cJSON *tf = cJSON_GetObjectItemCaseSensitive(in, "TagFilters");
	if (tf && (!cJSON_IsArray(tf) || cJSON_GetArraySize(tf) > 50))
		return bad(out, "%s must be a list of at most 50 filters", "TagFilters");
	cJSON_ArrayForEach(it, tf) {
		const cJSON *vals = cJSON_GetObjectItemCaseSensitive(it, "Values"), *v;
		if (!cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "Key")) ||
		    (vals && (!cJSON_IsArray(vals) || cJSON_GetArraySize(vals) > 20)))
			return bad(out, "%s: each filter needs a Key and at most 20 Values", "TagFilters");
		cJSON_ArrayForEach(v, vals)
			if (!cJSON_IsString(v))
				return bad(out, "%s: Values are strings", "TagFilters");
	}
	const cJSON *rt = cJSON_GetObjectItemCaseSensitive(in, "ResourceTypeFilters");
	if (rt && !cJSON_IsArray(rt))
		return bad(out, "%s must be a list of \"service[:resourceType]\"", "ResourceTypeFilters");
	cJSON_ArrayForEach(it, rt)
		if (!cJSON_IsString(it) || !it->valuestring[0] || it->valuestring[0] == ':')
			return bad(out, "%s must be a list of \"service[:resourceType]\"", "ResourceTypeFilters");
	const cJSON *pp = cJSON_GetObjectItemCaseSensitive(in, "ResourcesPerPage");
	if (pp && (!cJSON_IsNumber(pp) || pp->valuedouble < 1 || pp->valuedouble > PER_PAGE_MAX ||
		   pp->valuedouble != (double)(int)pp->valuedouble))
		return bad(out, "%s must be an integer from 1 to 100", "ResourcesPerPage");
	const cJSON *tok = cJSON_GetObjectItemCaseSensitive(in, "PaginationToken");
	if (tok && !cJSON_IsString(tok))
		return bad(out, "%s must be a string", "PaginationToken");
	return 1;
}

/* The filters a token must come back with, as text. */
static char *filters_text(const cJSON *in)
{
	cJSON *c = cJSON_CreateObject();
	const char *names[] = { "TagFilters", "ResourceTypeFilters", "ResourcesPerPage" };
	for (size_t i = 0; i < 3; i++) {
		const cJSON *x = cJSON_GetObjectItemCaseSensitive(in, names[i]);
		if (x)
			cJSON_AddItemToObject(c, names[i], cJSON_Duplicate(x, 1));
	}
	char *s = cJSON_PrintUnformatted(c);
	cJSON_Delete(c);
	return s;
}

static int get_resources(struct fake *f, const cJSON *in, struct http_response *out)
{
	if (!valid(in, out))
		return 0;
	if (!f->tagging)
		f->tagging = tp_xcalloc(1, sizeof *f->tagging);
	struct fake_tagging *t = f->tagging;
	const cJSON *pp = cJSON_GetObjectItemCaseSensitive(in, "ResourcesPerPage");
	size_t per = pp ? (size_t)pp->valuedouble : PER_PAGE_MAX;
	const char *tok = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(in, "PaginationToken"));
	char *filters = filters_text(in);
	struct snapshot *s = NULL;
	size_t from = 0;
	if (tok && *tok) {
		unsigned long id;
		int used = 0;
		if (sscanf(tok, "fake-page-%lu-%zu%n", &id, &from, &used) != 2 || tok[used]) {
			free(filters);
			return bad(out, "%s is not a token GetResources gave", "PaginationToken");
		}
		for (s = t->open; s && s->id != id; s = s->next)
			;
		if (!s || from > s->n) {
			free(filters);
			fake_reply_error(out, 400, "PaginationTokenExpiredException",
					 "The pagination token has expired or was served to its end.");
			return 0;
		}
		if (strcmp(s->filters, filters) != 0) {
			free(filters);
			return bad(out, "%s must come back with the filters of the first page", "PaginationToken");
		}
		free(filters);
	} else {
		s = tp_xcalloc(1, sizeof *s);
		s->id = ++t->next_id;
		s->filters = filters;
		struct walk w = { cJSON_GetObjectItemCaseSensitive(in, "TagFilters"),
				  cJSON_GetObjectItemCaseSensitive(in, "ResourceTypeFilters"), s };
		fake_lambda_each_tagged(f, visit, &w);
		fake_sqs_each_tagged(f, visit, &w);
		if (s->n)
			qsort(s->entry, s->n, sizeof *s->entry, by_arn);
		s->next = t->open;
		t->open = s;
		/* a listing left unfinished is forgotten after SNAPSHOTS newer ones */
		size_t k = 0;
		for (struct snapshot **pp2 = &t->open; *pp2; k++) {
			if (k >= SNAPSHOTS) {
				struct snapshot *old = *pp2;
				*pp2 = old->next;
				snapshot_free(old);
			} else {
				pp2 = &(*pp2)->next;
			}
		}
	}
	cJSON *res = cJSON_CreateObject(), *list = cJSON_AddArrayToObject(res, "ResourceTagMappingList");
	size_t to = from + per < s->n ? from + per : s->n;
	for (size_t i = from; i < to; i++)
		cJSON_AddItemToArray(list, cJSON_Parse(s->entry[i]));
	if (to < s->n) {
		char next[64];
		snprintf(next, sizeof next, "fake-page-%lu-%zu", s->id, to);
		cJSON_AddStringToObject(res, "PaginationToken", next);
	} else {
		cJSON_AddStringToObject(res, "PaginationToken", "");
		unlink_snapshot(t, s);
		snapshot_free(s);
	}
	fake_reply_json(out, 200, res);
	return 0;
}

int fake_tagging_handle(struct fake *f, struct fake_req *r, struct http_response *out)
{
	if (strcmp(r->target, "ResourceGroupsTaggingAPI_20170126.GetResources") != 0) {
		fake_reply_error(out, 400, "UnknownOperationException",
				 "the fake's Tagging API has no operation '%s'", r->op[0] ? r->op : r->target);
		return 0;
	}
	/* AWS publishes no fixed rate for GetResources: only opt.throttle_pct throttles it */
	int64_t after;
	if (fake_quota(f, "tagging", 1e9, 1e9, &after)) {
		fake_reply_throttled(f, r, out, "ThrottledException", after);
		return 0;
	}
	cJSON *in = cJSON_ParseWithLength(r->body, r->body_len);
	if (!cJSON_IsObject(in))
		bad(out, "%s: the body is not a JSON object", r->op);
	else
		get_resources(f, in, out);
	cJSON_Delete(in);
	return 0;
}
