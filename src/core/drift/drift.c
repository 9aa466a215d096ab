/* drift.c: the drift check (see drift.h).
 *
 * Three phases: list the fleet (every paged listing advances one page per
 * round, all listings of a round in one concurrent batch), run the policy
 * and diff each selected pipeline against the listings, then optionally
 * repair through reconcile_run. Lookups go through small hash maps so
 * 10,000 pipelines cost no quadratic matching. */
#include "core/drift/drift.h"

#include "aws/awsjson.h"
#include "core/codestore.h"
#include "aws/ddb.h"
#include "base/json.h"
#include "base/log.h"
#include "core/diff.h"
#include "core/names.h"
#include "core/pipeline.h"
#include "script/policy.h"
#include "core/reconcile/reconcile.h"
#include "aws/sigv4.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ATTR_BATCH 2000   /* GetQueueAttributes calls per aws_call_many batch */
#define CURSOR_PK "drift#cursor"

/* ---- a string -> pointer hash map (open addressing, keys copied) ---- */

struct smap {
	size_t cap, n;
	char **k;
	void **v;
};

static size_t smap_hash(const char *s)
{
	size_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static void smap_put(struct smap *m, const char *key, void *val);

static void smap_grow(struct smap *m)
{
	struct smap old = *m;
	m->cap = old.cap ? old.cap * 2 : 64;
	m->n = 0;
	m->k = tp_xcalloc(m->cap, sizeof *m->k);
	m->v = tp_xcalloc(m->cap, sizeof *m->v);
	for (size_t i = 0; i < old.cap; i++)
		if (old.k[i]) {
			smap_put(m, old.k[i], old.v[i]);
			free(old.k[i]);
		}
	free(old.k);
	free(old.v);
}

/* Insert or replace. */
static void smap_put(struct smap *m, const char *key, void *val)
{
	if ((m->n + 1) * 2 > m->cap)
		smap_grow(m);
	size_t i = smap_hash(key) & (m->cap - 1);
	while (m->k[i] && strcmp(m->k[i], key) != 0)
		i = (i + 1) & (m->cap - 1);
	if (!m->k[i]) {
		m->k[i] = tp_xstrdup(key);
		m->n++;
	}
	m->v[i] = val;
}

static void *smap_get(const struct smap *m, const char *key)
{
	if (!m->cap)
		return NULL;
	size_t i = smap_hash(key) & (m->cap - 1);
	while (m->k[i]) {
		if (strcmp(m->k[i], key) == 0)
			return m->v[i];
		i = (i + 1) & (m->cap - 1);
	}
	return NULL;
}

static void smap_free(struct smap *m)
{
	for (size_t i = 0; i < m->cap; i++)
		free(m->k[i]);
	free(m->k);
	free(m->v);
	memset(m, 0, sizeof *m);
}

/* ---- the fleet, as listed ---- */

enum { PG_SCAN, PG_FUNCTIONS, PG_ESM, PG_QUEUES, PG_TAGS_FN, PG_TAGS_SQS, PG_N };

struct pager {
	int done;
	char *token;   /* next page marker (Scan: LastEvaluatedKey as JSON text) */
	cJSON *acc;    /* every element of every page */
	int pages;
};

struct fleet {
	struct pager pg[PG_N];
	struct smap fn;      /* function name -> FunctionConfiguration */
	struct smap esm;     /* "function\nsource arn" -> mapping */
	struct smap qurl;    /* queue name -> URL (a cJSON string) */
	struct smap tags;    /* "q:<name>" / "f:<name>" -> Tags object (ours only) */
	struct smap qattr;   /* queue name -> Attributes object */
	cJSON *tag_objs;     /* owns the Tags objects */
	cJSON *attr_objs;    /* owns the Attributes objects */
	long tags_direct_q;  /* ListQueueTags fallbacks (verify_tags) */
	long tags_direct_fn; /* Lambda ListTags fallbacks */
	long qurl_direct;    /* GetQueueUrl fallbacks (find_unlisted_queues) */
	cJSON *url_objs;     /* owns the URLs those found */
};

static char *enc(const char *s)
{
	size_t n = strlen(s);
	char *o = tp_xmalloc(n * 3 + 1);
	sigv4_uri_encode(s, n, 0, o, n * 3 + 1);
	return o;
}

static void pager_prep(struct app *app, int kind, const struct pager *p, struct aws_call *c)
{
	cJSON *in = cJSON_CreateObject();
	char *q = NULL;
	switch (kind) {
	case PG_SCAN:
		cJSON_AddStringToObject(in, "TableName", app->set.config_table);
		cJSON_AddBoolToObject(in, "ConsistentRead", 1);
		if (p->token)
			cJSON_AddItemToObject(in, "ExclusiveStartKey", cJSON_Parse(p->token));
		awsj_prepare(c, SVC_DYNAMODB, "Scan", in);
		return;
	case PG_FUNCTIONS:
	case PG_ESM: {
		/* ListFunctions returns at most 50 a page, mappings 100. */
		char *m = p->token ? enc(p->token) : NULL;
		q = tp_xasprintf("MaxItems=%d%s%s", kind == PG_ESM ? 100 : 50, m ? "&Marker=" : "",
				 m ? m : "");
		free(m);
		awsj_prepare_rest(c, SVC_LAMBDA, kind == PG_ESM ? "ListEventSourceMappings" : "ListFunctions",
				  "GET", kind == PG_ESM ? "/2015-03-31/event-source-mappings/" :
				  "/2015-03-31/functions/", q, NULL);
		free(q);
		cJSON_Delete(in);
		return;
	}
	default: {
		cJSON *tf = cJSON_AddArrayToObject(in, "TagFilters"), *f = cJSON_CreateObject();
		cJSON_AddStringToObject(f, "Key", "taskpipe:owner");
		cJSON *vals = cJSON_AddArrayToObject(f, "Values");
		cJSON_AddItemToArray(vals, cJSON_CreateString(app->set.owner));
		cJSON_AddItemToArray(tf, f);
		cJSON *rt = cJSON_AddArrayToObject(in, "ResourceTypeFilters");
		cJSON_AddItemToArray(rt, cJSON_CreateString(kind == PG_TAGS_FN ? "lambda:function" : "sqs"));
		cJSON_AddNumberToObject(in, "ResourcesPerPage", 100);
		if (p->token)
			cJSON_AddStringToObject(in, "PaginationToken", p->token);
		awsj_prepare(c, SVC_TAGGING, "GetResources", in);
		c->content_type = "application/x-amz-json-1.1";
		return;
	}
	}
}

static const char *const pager_items[PG_N] = { "Items", "Functions", "EventSourceMappings",
						"QueueUrls", "ResourceTagMappingList",
						"ResourceTagMappingList" };
static const char *const pager_next[PG_N] = { "LastEvaluatedKey", "NextMarker", "NextMarker",
					       "NextToken", "PaginationToken", "PaginationToken" };

static int pager_take(int kind, struct pager *p, struct aws_call *c, tp_err *e)
{
	if (c->rc != TP_OK) {
		*e = c->err;
		return c->rc;
	}
	cJSON *out = awsj_result(c);
	if (!out)
		return tp_errf(e, TP_EINVAL, "BadResponse", "%s: answer is not JSON", c->op);
	cJSON *items = cJSON_GetObjectItem(out, pager_items[kind]), *it;
	while (items && (it = cJSON_DetachItemFromArray(items, 0)))
		cJSON_AddItemToArray(p->acc, it);
	cJSON *next = cJSON_GetObjectItem(out, pager_next[kind]);
	free(p->token);
	p->token = NULL;
	if (kind == PG_SCAN && cJSON_IsObject(next))
		p->token = cJSON_PrintUnformatted(next);
	else if (cJSON_IsString(next) && next->valuestring[0])
		p->token = tp_xstrdup(next->valuestring);
	p->done = p->token == NULL;
	p->pages++;
	cJSON_Delete(out);
	return TP_OK;
}

/* Every listing, page by page, the listings side by side. */
static int list_fleet(struct app *app, struct fleet *f, tp_err *e)
{
	for (int k = 0; k < PG_N; k++)
		f->pg[k].acc = cJSON_CreateArray();
	f->pg[PG_QUEUES].done = 1;   /* list_queues() below */
	for (;;) {
		struct aws_call calls[PG_N];
		int kinds[PG_N], n = 0;
		for (int k = 0; k < PG_N; k++)
			if (!f->pg[k].done) {
				pager_prep(app, k, &f->pg[k], &calls[n]);
				kinds[n++] = k;
			}
		if (!n)
			return TP_OK;
		aws_call_many(app->aws, calls, (size_t)n);
		int rc = TP_OK;
		for (int i = 0; i < n; i++) {
			if (rc == TP_OK)
				rc = pager_take(kinds[i], &f->pg[kinds[i]], &calls[i], e);
			aws_call_free(&calls[i]);
		}
		if (rc < 0)
			return rc;
	}
}

/* ListQueues by name prefix, page by page. A page of 1000 without a
 * NextToken is a truncated answer (moto never paginates; AWS only does when
 * MaxResults is given): split the prefix by the next character and list
 * each part. SQS calls are not the scarce budget. */
static const char QALPHA[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
#define QPAGE 1000

struct qwork {
	char *prefix;
	char *token;
};

static int list_queues(struct app *app, struct fleet *f, tp_err *e)
{
	size_t n = 1, cap = 16;
	struct qwork *w = tp_xcalloc(cap, sizeof *w);
	w[0].prefix = tp_xstrdup(app->set.prefix);
	int rc = TP_OK;
	while (n && rc == TP_OK) {
		struct qwork *cur = w;
		size_t nc = n;
		n = 0;
		cap = nc * sizeof QALPHA + 16;
		w = tp_xcalloc(cap, sizeof *w);
		struct aws_call *calls = tp_xcalloc(nc, sizeof *calls);
		for (size_t i = 0; i < nc; i++) {
			cJSON *in = cJSON_CreateObject();
			cJSON_AddStringToObject(in, "QueueNamePrefix", cur[i].prefix);
			cJSON_AddNumberToObject(in, "MaxResults", QPAGE);
			if (cur[i].token)
				cJSON_AddStringToObject(in, "NextToken", cur[i].token);
			awsj_prepare(&calls[i], SVC_SQS, "ListQueues", in);
		}
		aws_call_many(app->aws, calls, nc);
		for (size_t i = 0; i < nc; i++) {
			cJSON *out = rc == TP_OK ? awsj_result(&calls[i]) : NULL;
			if (rc == TP_OK && calls[i].rc != TP_OK) {
				*e = calls[i].err;
				rc = calls[i].rc;
			}
			cJSON *urls = cJSON_GetObjectItem(out, "QueueUrls"), *u;
			const char *next = cJSON_GetStringValue(cJSON_GetObjectItem(out, "NextToken"));
			int got = cJSON_GetArraySize(urls);
			while (urls && (u = cJSON_DetachItemFromArray(urls, 0)))
				cJSON_AddItemToArray(f->pg[PG_QUEUES].acc, u);
			f->pg[PG_QUEUES].pages += out != NULL;
			if (out && next && *next) {
				w[n].prefix = tp_xstrdup(cur[i].prefix);
				w[n++].token = tp_xstrdup(next);
			} else if (out && got >= QPAGE && strlen(cur[i].prefix) < NAMES_QUEUE_MAX) {
				for (const char *c = QALPHA; *c; c++)
					w[n++].prefix = tp_xasprintf("%s%c", cur[i].prefix, *c);
			}
			cJSON_Delete(out);
			aws_call_free(&calls[i]);
			free(cur[i].prefix);
			free(cur[i].token);
		}
		free(calls);
		free(cur);
	}
	for (size_t i = 0; i < n; i++) {
		free(w[i].prefix);
		free(w[i].token);
	}
	free(w);
	return rc;
}

/* NAME of arn:...:function:NAME[:qualifier] */
static void arn_function(const char *arn, char *out, size_t len)
{
	const char *p = arn ? strstr(arn, ":function:") : NULL;
	out[0] = 0;
	if (p) {
		p += 10;
		snprintf(out, len, "%.*s", (int)strcspn(p, ":"), p);
	}
}

static const char *last_part(const char *s, char sep)
{
	const char *p = s ? strrchr(s, sep) : NULL;
	return p ? p + 1 : s ? s : "";
}

static void index_fleet(struct fleet *f)
{
	cJSON *it;
	cJSON_ArrayForEach(it, f->pg[PG_FUNCTIONS].acc) {
		const char *n = cJSON_GetStringValue(cJSON_GetObjectItem(it, "FunctionName"));
		if (n)
			smap_put(&f->fn, n, it);
	}
	cJSON_ArrayForEach(it, f->pg[PG_ESM].acc) {
		char fn[128], key[512];
		arn_function(cJSON_GetStringValue(cJSON_GetObjectItem(it, "FunctionArn")), fn, sizeof fn);
		const char *src = cJSON_GetStringValue(cJSON_GetObjectItem(it, "EventSourceArn"));
		snprintf(key, sizeof key, "%s\n%s", fn, src ? src : "");
		smap_put(&f->esm, key, it);
	}
	cJSON_ArrayForEach(it, f->pg[PG_QUEUES].acc)
		if (cJSON_IsString(it))
			smap_put(&f->qurl, last_part(it->valuestring, '/'), it);
	f->tag_objs = cJSON_CreateArray();
	f->attr_objs = cJSON_CreateArray();
	for (int k = PG_TAGS_FN; k <= PG_TAGS_SQS; k++) {
		cJSON_ArrayForEach(it, f->pg[k].acc) {
			const char *arn = cJSON_GetStringValue(cJSON_GetObjectItem(it, "ResourceARN"));
			char name[128], key[140];
			if (k == PG_TAGS_FN)
				arn_function(arn, name, sizeof name);
			else
				snprintf(name, sizeof name, "%s", last_part(arn, ':'));
			snprintf(key, sizeof key, "%c:%s", k == PG_TAGS_FN ? 'f' : 'q', name);
			cJSON *tags = cJSON_CreateObject(), *t;
			cJSON_ArrayForEach(t, cJSON_GetObjectItem(it, "Tags")) {
				const char *tk = cJSON_GetStringValue(cJSON_GetObjectItem(t, "Key"));
				const char *tv = cJSON_GetStringValue(cJSON_GetObjectItem(t, "Value"));
				if (tk)
					cJSON_AddStringToObject(tags, tk, tv ? tv : "");
			}
			cJSON_AddItemToArray(f->tag_objs, tags);
			smap_put(&f->tags, key, tags);
		}
	}
}

static void fleet_free(struct fleet *f)
{
	for (int k = 0; k < PG_N; k++) {
		free(f->pg[k].token);
		cJSON_Delete(f->pg[k].acc);
	}
	smap_free(&f->fn);
	smap_free(&f->esm);
	smap_free(&f->qurl);
	smap_free(&f->tags);
	smap_free(&f->qattr);
	cJSON_Delete(f->tag_objs);
	cJSON_Delete(f->attr_objs);
	cJSON_Delete(f->url_objs);
}

/* ---- one pipeline ---- */

enum { ST_IN_SYNC, ST_DRIFTED, ST_MISSING, ST_COLLISION, ST_ERROR };
static const char *const status_names[] = { "in_sync", "drifted", "missing", "collision", "error" };

struct dp {
	char *name;            /* pipeline name (owned) */
	const cJSON *item;     /* config item; NULL for an orphan */
	struct names nm;
	struct pipeline want;  /* desired state (pipeline_desired) */
	cJSON *spec;           /* want.spec (borrowed); NULL: none (orphan, error) */
	cJSON *old_spec;       /* spec of the last apply (state table), for stale tags */
	cJSON *drift;          /* array of {resource, field, expected, actual} */
	cJSON *orphan_res;     /* orphan: array of {resource, name} */
	int status;            /* ST_* */
	int code_behind;
	char *inactive;        /* REFERENCE function State Inactive: "code: reason" (fetch_states) */
	tp_err err;            /* status error */
	int fix_tried, fix_ok;
	tp_err fix_err;
	struct diff_list fix_changes; /* what the repair changed (reconcile) */
};


static void add_drift(struct dp *p, int status, const char *res, const char *field, const char *exp,
		      const char *act)
{
	cJSON *d = cJSON_CreateObject();
	cJSON_AddStringToObject(d, "resource", res);
	cJSON_AddStringToObject(d, "field", field);
	cJSON_AddStringToObject(d, "expected", exp);
	cJSON_AddStringToObject(d, "actual", act);
	cJSON_AddItemToArray(p->drift, d);
	if (status > p->status)
		p->status = status;
}

/* Tag differences of one resource, the way apply finds them (diff_tags):
 * how many. */
static size_t tag_diff(const struct dp *p, enum diff_res res, const cJSON *have)
{
	struct diff_list l = { 0 };
	diff_tags(&l, res, p->want.tags, p->old_spec, have);
	size_t n = l.n;
	diff_list_free(&l);
	return n;
}

/* The last drift entry gets a note (why it matters). */
static void note_last(struct dp *p, const char *note)
{
	cJSON *d = cJSON_GetArrayItem(p->drift, cJSON_GetArraySize(p->drift) - 1);
	if (d)
		cJSON_AddStringToObject(d, "note", note);
}

/* One change of the diff as drift reports it: expected (the spec's side)
 * and actual (what AWS has). */
static void report_change(struct dp *p, const struct diff_change *c)
{
	const char *res = diff_res_name(c->res);
	if (c->act == DIFF_CREATE) {
		add_drift(p, ST_MISSING, res, "(resource)", "present", "missing");
		return;
	}
	if (c->act != DIFF_SET && c->act != DIFF_TAG && c->act != DIFF_UNTAG)
		return;   /* deletes: not drift's (the item exists) */
	switch (c->kind) {
	case DK_ENV:   /* keys only: values may be secrets */
		for (size_t i = 0; i < c->n_parts; i++)
			add_drift(p, ST_DRIFTED, res, c->parts[i].field, c->parts[i].to, c->parts[i].from);
		return;
	case DK_CODE:
		add_drift(p, ST_DRIFTED, res, c->field, c->to, *c->from ? c->from : "(none)");
		p->code_behind = 1;
		return;
	case DK_STATE:
		add_drift(p, ST_DRIFTED, res, c->field, "Active", "Inactive");
		note_last(p, c->note);
		return;
	case DK_STORAGE:
		add_drift(p, ST_DRIFTED, res, c->field, c->to, c->from);
		if (strcmp(c->to, "REFERENCE") == 0)
			note_last(p, "fell back to COPY: the code counts against Lambda-managed storage again");
		return;
	case DK_MAP_FRT:
		add_drift(p, ST_DRIFTED, res, c->field, c->to, strcmp(c->from, "(none)") ? c->from : "[]");
		return;
	default:
		add_drift(p, ST_DRIFTED, res, c->field, c->act == DIFF_UNTAG ? "(absent)" : c->to, c->from);
	}
}

/* A deprecated runtime (Lambda blocks creates, then updates): the Runtime
 * entry says so, or one is added when the spec names the same runtime (a
 * custom policy). --fix repairs it through reconcile when the spec names
 * another. */
static void note_runtime(struct dp *p, const cJSON *have)
{
	const char *rt = cJSON_GetStringValue(cJSON_GetObjectItem(have, "Runtime"));
	const char *date = codestore_runtime_deprecated(rt);
	if (!date)
		return;
	char note[200];
	snprintf(note, sizeof note, "runtime %s is deprecated since %s (Lambda blocks creates, then updates)",
		 rt, date);
	cJSON *d;
	cJSON_ArrayForEach(d, p->drift) {
		const char *f = cJSON_GetStringValue(cJSON_GetObjectItem(d, "field"));
		const char *r = cJSON_GetStringValue(cJSON_GetObjectItem(d, "resource"));
		if (f && r && strcmp(f, "Runtime") == 0 && strcmp(r, "function") == 0) {
			cJSON_AddStringToObject(d, "note", note);
			return;
		}
	}
	add_drift(p, ST_DRIFTED, "function", "Runtime", "(a supported runtime)", rt);
	note_last(p, note);
}

/* A resource exists under our name: ours only with our owner tag and this
 * pipeline's tag (the tagging listing holds only our owner's resources). */
static int check_owned(struct app *app, struct fleet *f, struct dp *p, char kind, const char *what,
		       const char *name)
{
	char key[140];
	snprintf(key, sizeof key, "%c:%s", kind, name);
	const cJSON *tags = smap_get(&f->tags, key);
	const char *found;
	char exp[300], act[300];
	switch (diff_owner(app->set.owner, p->name, tags, &found)) {
	case DIFF_OWNED:
		return 1;
	case DIFF_NO_OWNER:
	case DIFF_OTHER_OWNER:
		snprintf(exp, sizeof exp, "taskpipe:owner=%s", app->set.owner);
		add_drift(p, ST_COLLISION, what, "owner", exp, "(no taskpipe:owner tag of this instance)");
		return 0;
	case DIFF_OTHER_PIPELINE:
		snprintf(act, sizeof act, "taskpipe:pipeline=%s", found ? found : "(none)");
		snprintf(exp, sizeof exp, "taskpipe:pipeline=%s", p->name);
		add_drift(p, ST_COLLISION, what, "owner", exp, act);
		return 0;
	}
	return 0;
}

/* What the listings show of one pipeline, as the diff takes it. */
static void observed_of(const struct fleet *f, const struct dp *p, struct observed *o)
{
	char key[512];
	memset(o, 0, sizeof *o);
	o->q_exists = smap_get(&f->qurl, p->nm.queue) != NULL;
	o->dlq_exists = smap_get(&f->qurl, p->nm.dlq) != NULL;
	o->q_attrs = smap_get(&f->qattr, p->nm.queue);
	o->dlq_attrs = smap_get(&f->qattr, p->nm.dlq);
	snprintf(key, sizeof key, "q:%s", p->nm.queue);
	o->q_tags = smap_get(&f->tags, key);
	snprintf(key, sizeof key, "q:%s", p->nm.dlq);
	o->dlq_tags = smap_get(&f->tags, key);
	o->fn = smap_get(&f->fn, p->nm.function);
	snprintf(key, sizeof key, "f:%s", p->nm.function);
	o->fn_tags = smap_get(&f->tags, key);
	o->fn_inactive = p->inactive;   /* fetch_states; State is not listed */
	const char *qarn = cJSON_GetStringValue(cJSON_GetObjectItem(o->q_attrs, "QueueArn"));
	snprintf(key, sizeof key, "%s\n%s", p->nm.function, qarn ? qarn : "");
	o->esm = qarn ? smap_get(&f->esm, key) : NULL;
}

static void diff_one(struct app *app, struct fleet *f, struct dp *p)
{
	/* Collisions first: nothing else about a foreign resource matters. */
	int ok = 1;
	if (smap_get(&f->qurl, p->nm.queue))
		ok &= check_owned(app, f, p, 'q', "queue", p->nm.queue);
	if (smap_get(&f->qurl, p->nm.dlq))
		ok &= check_owned(app, f, p, 'q', "dead-letter queue", p->nm.dlq);
	if (smap_get(&f->fn, p->nm.function))
		ok &= check_owned(app, f, p, 'f', "function", p->nm.function);
	if (!ok)
		return;
	struct observed o;
	observed_of(f, p, &o);
	struct diff_list l = { 0 };
	diff_pipeline(&p->want, p->old_spec, &o, &l);
	for (size_t i = 0; i < l.n; i++)
		report_change(p, &l.v[i]);
	diff_list_free(&l);
	if (o.fn)
		note_runtime(p, o.fn);
}

/* ---- selection, cursor ---- */

static int name_cmp(const void *a, const void *b)
{
	return strcmp((*(struct dp *const *)a)->name, (*(struct dp *const *)b)->name);
}

static int cursor_read(struct app *app, char **after, tp_err *e)
{
	cJSON *in = cJSON_CreateObject(), *out = NULL;
	cJSON_AddStringToObject(in, "TableName", app->set.state_table);
	cJSON_AddItemToObject(in, "Key", ddb_key("pk", CURSOR_PK));
	cJSON_AddBoolToObject(in, "ConsistentRead", 1);
	int rc = awsj_call(app->aws, SVC_DYNAMODB, "GetItem", in, &out, e);
	cJSON_Delete(in);
	if (rc == TP_OK)
		*after = tp_xstrdup(ddb_get_str(cJSON_GetObjectItem(out, "Item"), "after", ""));
	cJSON_Delete(out);
	return rc;
}

static int cursor_write(struct app *app, const char *after, int complete, tp_err *e)
{
	cJSON *in = cJSON_CreateObject(), *out = NULL;
	cJSON_AddStringToObject(in, "TableName", app->set.state_table);
	cJSON *item = cJSON_AddObjectToObject(in, "Item");
	ddb_put_str(item, "pk", CURSOR_PK);
	ddb_put_str(item, "after", after);
	ddb_put_long(item, "updated_at", (long)(tp_now_ms() / 1000));
	if (complete)
		ddb_put_long(item, "cycle_completed_at", (long)(tp_now_ms() / 1000));
	int rc = awsj_call(app->aws, SVC_DYNAMODB, "PutItem", in, &out, e);
	cJSON_Delete(in);
	cJSON_Delete(out);
	return rc;
}

/* ---- queue attributes for the selected pipelines ---- */

static void fetch_attrs(struct app *app, struct fleet *f, struct dp **sel, size_t n)
{
	struct aws_call *calls = tp_xcalloc(ATTR_BATCH, sizeof *calls);
	const char **qname = tp_xcalloc(ATTR_BATCH, sizeof *qname);
	size_t k = 0;
	for (size_t i = 0; i <= n; i++) {
		for (int j = 0; i < n && j < 2 && sel[i]->spec; j++) {
			const char *name = j ? sel[i]->nm.dlq : sel[i]->nm.queue;
			const cJSON *url = smap_get(&f->qurl, name);
			if (!url)
				continue;
			cJSON *in = cJSON_CreateObject();
			cJSON_AddStringToObject(in, "QueueUrl", url->valuestring);
			cJSON *an = cJSON_AddArrayToObject(in, "AttributeNames");
			cJSON_AddItemToArray(an, cJSON_CreateString("All"));
			awsj_prepare(&calls[k], SVC_SQS, "GetQueueAttributes", in);
			qname[k++] = name;
		}
		if (k + 2 <= ATTR_BATCH && i < n)
			continue;
		aws_call_many(app->aws, calls, k);
		for (size_t c = 0; c < k; c++) {
			cJSON *out = awsj_result(&calls[c]);
			cJSON *attrs = cJSON_DetachItemFromObject(out, "Attributes");
			if (attrs) {
				cJSON_AddItemToArray(f->attr_objs, attrs);
				smap_put(&f->qattr, qname[c], attrs);
			} else if (calls[c].rc != TP_OK) {
				log_warn("drift: GetQueueAttributes %s: %s", qname[c], calls[c].err.message);
			}
			cJSON_Delete(out);
			aws_call_free(&calls[c]);
		}
		k = 0;
	}
	free(calls);
	free(qname);
}

/* State is only in GetFunction, not in ListFunctions
 * (https://docs.aws.amazon.com/lambda/latest/api/API_ListFunctions.html):
 * one GetFunction per listed REFERENCE function, whose code can go away
 * under it (State Inactive, codestore.h). COPY functions cost nothing. */
static void fetch_states(struct app *app, struct fleet *f, struct dp **sel, size_t n)
{
	struct aws_call *calls = tp_xcalloc(n + 1, sizeof *calls);
	struct dp **who = tp_xcalloc(n + 1, sizeof *who);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		struct dp *p = sel[i];
		if (!p->spec || p->status == ST_ERROR ||
		    !codestore_reference(cJSON_GetObjectItem(p->spec, "func")) ||
		    !smap_get(&f->fn, p->nm.function))
			continue;
		char *e = enc(p->nm.function);
		char *path = tp_xasprintf("/2015-03-31/functions/%s", e);
		free(e);
		awsj_prepare_rest(&calls[k], SVC_LAMBDA, "GetFunction", "GET", path, NULL, NULL);
		free(path);
		who[k++] = p;
	}
	aws_call_many(app->aws, calls, k);
	for (size_t c = 0; c < k; c++) {
		cJSON *out = awsj_result(&calls[c]);
		char why[400];
		if (codestore_inactive(cJSON_GetObjectItem(out, "Configuration"), why, sizeof why))
			who[c]->inactive = tp_xstrdup(why);
		else if (calls[c].rc != TP_OK)
			log_warn("drift: GetFunction %s: %s", who[c]->nm.function, calls[c].err.message);
		cJSON_Delete(out);
		aws_call_free(&calls[c]);
	}
	free(calls);
	free(who);
}

/* The Resource Groups Tagging API is eventually consistent: a queue or
 * function created (or tagged) seconds ago is not in GetResources yet, or
 * shows its old tags ("Tagging API ... might not be immediately
 * available", https://docs.aws.amazon.com/resourcegroupstagging/latest/APIReference/API_GetResources.html);
 * moto's docker-less Lambda is invisible to it altogether. Before anything
 * under our names is called a collision or has its tags called drifted,
 * ask the service itself: SQS ListQueueTags, Lambda ListTags, only for the
 * resources whose listed tags are absent or differ from the spec (none in a
 * healthy, settled fleet). One call each; the Lambda ones count against
 * the control-plane budget (reported as tag_fallback). */
struct tagq {
	struct dp *p;
	char key[140];
	int fn;
};

static void verify_tags(struct app *app, struct fleet *f, struct dp **sel, size_t n)
{
	struct aws_call *calls = tp_xcalloc(3 * n + 1, sizeof *calls);
	struct tagq *q = tp_xcalloc(3 * n + 1, sizeof *q);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		struct dp *p = sel[i];
		if (!p->spec || p->status == ST_ERROR)
			continue;
		const char *names[3] = { p->nm.queue, p->nm.dlq, p->nm.function };
		for (int j = 0; j < 3; j++) {
			char key[140];
			snprintf(key, sizeof key, "%c:%s", j == 2 ? 'f' : 'q', names[j]);
			const cJSON *tags = smap_get(&f->tags, key), *url = NULL, *fn = NULL;
			if (j < 2 && !(url = smap_get(&f->qurl, names[j])))
				continue;
			const char *arn = NULL;
			if (j == 2 && !(arn = cJSON_GetStringValue(cJSON_GetObjectItem(
						fn = smap_get(&f->fn, names[j]), "FunctionArn"))))
				continue;
			static const enum diff_res res[3] = { DIFF_QUEUE, DIFF_DLQ, DIFF_FUNCTION };
			if (tags && !tag_diff(p, res[j], tags))
				continue;
			if (j < 2) {
				cJSON *in = cJSON_CreateObject();
				cJSON_AddStringToObject(in, "QueueUrl", url->valuestring);
				awsj_prepare(&calls[k], SVC_SQS, "ListQueueTags", in);
				f->tags_direct_q++;
			} else {
				/* GetFunction carries Tags too ("Lambda returns tag data only
				 * if you have explicit allow permissions for lambda:ListTags",
				 * API_GetFunction) and has its own 100 requests/s quota, where
				 * ListTags shares the control plane's 15/s with every update
				 * (Lambda quotas, "Lambda API requests"). */
				char *path = tp_xasprintf("/2015-03-31/functions/%s", names[j]);
				awsj_prepare_rest(&calls[k], SVC_LAMBDA, "GetFunction", "GET", path, NULL, NULL);
				free(path);
				f->tags_direct_fn++;
			}
			q[k].p = p;
			q[k].fn = j == 2;
			snprintf(q[k++].key, sizeof q[0].key, "%s", key);
		}
	}
	if (k)
		aws_call_many(app->aws, calls, k);
	for (size_t i = 0; i < k; i++) {
		if (calls[i].rc != TP_OK) {
			/* Not knowing whose it is, say so; never guess "collision". */
			if (q[i].p->status != ST_ERROR) {
				q[i].p->status = ST_ERROR;
				q[i].p->err = calls[i].err;
			}
			aws_call_free(&calls[i]);
			continue;
		}
		cJSON *out = awsj_result(&calls[i]);
		cJSON *terr = cJSON_GetObjectItem(out, "TagsError");
		if (terr && q[i].p->status != ST_ERROR) {
			/* GetFunction could not read the tags: not knowing, say so */
			q[i].p->status = ST_ERROR;
			tp_errf(&q[i].p->err, TP_EAWS, cJSON_GetStringValue(cJSON_GetObjectItem(terr, "ErrorCode")) ?: "TagsError",
				"%s: tags unreadable: %s", q[i].key + 2,
				cJSON_GetStringValue(cJSON_GetObjectItem(terr, "Message")) ?: "(no message)");
		}
		cJSON *tags = cJSON_DetachItemFromObject(out, "Tags");
		if (!cJSON_IsObject(tags)) {   /* SQS leaves Tags out when there are none */
			cJSON_Delete(tags);
			tags = cJSON_CreateObject();
		}
		cJSON_AddItemToArray(f->tag_objs, tags);
		smap_put(&f->tags, q[i].key, tags);
		cJSON_Delete(out);
		aws_call_free(&calls[i]);
	}
	free(calls);
	free(q);
}

/* ListQueues lags too: a queue created seconds ago is not listed yet
 * ("eventually consistent", https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ListQueues.html).
 * Before a queue is called missing, GetQueueUrl it (SQS, not the Lambda
 * budget; none in a settled fleet). */
static void find_unlisted_queues(struct app *app, struct fleet *f, struct dp **sel, size_t n)
{
	struct aws_call *calls = tp_xcalloc(2 * n + 1, sizeof *calls);
	const char **qname = tp_xcalloc(2 * n + 1, sizeof *qname);
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		for (int j = 0; j < 2 && sel[i]->spec; j++) {
			const char *name = j ? sel[i]->nm.dlq : sel[i]->nm.queue;
			if (smap_get(&f->qurl, name))
				continue;
			cJSON *in = cJSON_CreateObject();
			cJSON_AddStringToObject(in, "QueueName", name);
			awsj_prepare(&calls[k], SVC_SQS, "GetQueueUrl", in);
			qname[k++] = name;
		}
	if (k)
		aws_call_many(app->aws, calls, k);
	f->qurl_direct += (long)k;
	if (!f->url_objs)
		f->url_objs = cJSON_CreateArray();
	for (size_t i = 0; i < k; i++) {
		cJSON *out = awsj_result(&calls[i]);
		cJSON *url = cJSON_DetachItemFromObject(out, "QueueUrl");
		if (cJSON_IsString(url)) {
			cJSON_AddItemToArray(f->url_objs, url);
			smap_put(&f->qurl, qname[i], url);
		} else {
			cJSON_Delete(url);   /* absent (missing for real) or unknown: as listed */
		}
		cJSON_Delete(out);
		aws_call_free(&calls[i]);
	}
	free(calls);
	free(qname);
}

/* The spec of each selected pipeline's last apply, for stale tags. */
static int read_old_specs(struct app *app, struct dp **sel, size_t n, tp_err *e)
{
	cJSON *states = cJSON_CreateArray(), *it;
	int rc = ddb_scan_all(app->aws, app->set.state_table, "pipeline#", states, e);
	if (rc == TP_OK) {
		struct smap by = { 0 };
		for (size_t i = 0; i < n; i++)
			if (sel[i]->spec)
				smap_put(&by, sel[i]->name, sel[i]);
		cJSON_ArrayForEach(it, states) {
			struct dp *p = smap_get(&by, ddb_get_str(it, "pipeline", ""));
			const char *spec = ddb_get_str(it, "spec", NULL);
			if (p && spec && !p->old_spec)
				p->old_spec = cJSON_Parse(spec);
		}
		smap_free(&by);
	}
	cJSON_Delete(states);
	return rc;
}

/* ---- the report ---- */

static cJSON *err_json(const tp_err *e)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "code", e->code);
	cJSON_AddStringToObject(o, "message", e->message);
	return o;
}

static void add_fix(cJSON *o, const struct dp *p, const struct drift_opts *opt)
{
	if (!p->fix_tried)
		return;
	cJSON *fx = cJSON_AddObjectToObject(o, "fix");
	cJSON_AddStringToObject(fx, "status", p->fix_ok ? "fixed" : "failed");
	cJSON_AddItemToObject(fx, "changes", opt->render_changes ? opt->render_changes(&p->fix_changes) :
					      cJSON_CreateArray());
	if (!p->fix_ok)
		cJSON_AddItemToObject(fx, "error", err_json(&p->fix_err));
}

static void stats_delta(const struct aws *a, const struct aws_stat *before, size_t nb, cJSON *calls)
{
	const struct aws_stat *st;
	size_t n = aws_stats(a, &st);
	for (size_t i = 0; i < n; i++) {
		long prev = 0;
		for (size_t j = 0; j < nb; j++)
			if (strcmp(before[j].key, st[i].key) == 0)
				prev = before[j].requests;
		if (st[i].requests > prev)
			cJSON_AddNumberToObject(calls, st[i].key, (double)(st[i].requests - prev));
	}
}

/* ---- the run ---- */

static void dp_free(struct dp *p)
{
	free(p->name);
	pipeline_free(&p->want);
	cJSON_Delete(p->old_spec);
	cJSON_Delete(p->drift);
	cJSON_Delete(p->orphan_res);
	diff_list_free(&p->fix_changes);
	free(p->inactive);
}

static struct dp *dp_new(const char *name)
{
	struct dp *p = tp_xcalloc(1, sizeof *p);
	p->name = tp_xstrdup(name);
	p->drift = cJSON_CreateArray();
	return p;
}

/* Orphans: resources with our owner tag and the name taskpipe would give
 * them, whose pipeline has no config item. Keyed by pipeline name. */
static void find_orphans(struct app *app, struct fleet *f, struct smap *items, struct smap *orph,
			 struct dp ***all, size_t *n, size_t *cap)
{
	for (int k = PG_TAGS_FN; k <= PG_TAGS_SQS; k++) {
		size_t i = 0;
		for (; i < f->tags.cap; i++) {
			const char *key = f->tags.k[i];
			if (!key || key[0] != (k == PG_TAGS_FN ? 'f' : 'q'))
				continue;
			const cJSON *tags = f->tags.v[i];
			const char *pipe = cJSON_GetStringValue(cJSON_GetObjectItem(tags, "taskpipe:pipeline"));
			const char *owner = cJSON_GetStringValue(cJSON_GetObjectItem(tags, "taskpipe:owner"));
			struct names nm;
			if (!pipe || !owner || strcmp(owner, app->set.owner) != 0 || smap_get(items, pipe) ||
			    names_for(app->set.prefix, pipe, &nm, NULL) < 0)
				continue;
			const char *name = key + 2, *what;
			if (k == PG_TAGS_FN && strcmp(name, nm.function) == 0)
				what = "function";
			else if (k == PG_TAGS_SQS && strcmp(name, nm.queue) == 0)
				what = "queue";
			else if (k == PG_TAGS_SQS && strcmp(name, nm.dlq) == 0)
				what = "dead-letter queue";
			else
				continue;  /* another prefix's resource: not ours to judge */
			struct dp *p = smap_get(orph, pipe);
			if (!p) {
				p = dp_new(pipe);
				p->nm = nm;
				p->orphan_res = cJSON_CreateArray();
				smap_put(orph, pipe, p);
				if (*n == *cap) {
					*cap = *cap ? *cap * 2 : 64;
					*all = tp_xrealloc(*all, *cap * sizeof **all);
				}
				(*all)[(*n)++] = p;
			}
			cJSON *r = cJSON_CreateObject();
			cJSON_AddStringToObject(r, "resource", what);
			cJSON_AddStringToObject(r, "name", name);
			cJSON_AddItemToArray(p->orphan_res, r);
		}
	}
}

int drift_run(struct app *app, const struct drift_opts *o, char **json_out, tp_err *e)
{
	*json_out = NULL;
	int64_t t0 = tp_mono_ms();
	const struct aws_stat *st0;
	size_t nst0 = aws_stats(app->aws, &st0);
	struct aws_stat *before = tp_xcalloc(nst0 + 1, sizeof *before);
	memcpy(before, st0, nst0 * sizeof *before);
	long lambda0 = aws_stats_lambda(app->aws);

	struct fleet f;
	memset(&f, 0, sizeof f);
	struct smap items = { 0 }, orph = { 0 };
	struct dp **all = NULL;
	size_t n = 0, cap = 0;
	char *after = NULL, *ctx = NULL;
	int rc = TP_OK;
	if (o->max_pipelines > 0 && (rc = cursor_read(app, &after, e)) < 0)
		goto done;
	ctx = app_policy_ctx(app);
	if ((rc = list_fleet(app, &f, e)) < 0 || (rc = list_queues(app, &f, e)) < 0)
		goto done;
	long lambda_list = aws_stats_lambda(app->aws) - lambda0;
	index_fleet(&f);

	cJSON *it;
	cJSON_ArrayForEach(it, f.pg[PG_SCAN].acc) {
		const char *name = ddb_get_str(it, "pipeline", NULL);
		if (!name || smap_get(&items, name))
			continue;
		struct dp *p = dp_new(name);
		p->item = it;
		smap_put(&items, name, p);
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			all = tp_xrealloc(all, cap * sizeof *all);
		}
		all[n++] = p;
	}
	find_orphans(app, &f, &items, &orph, &all, &n, &cap);
	if (n)
		qsort(all, n, sizeof *all, name_cmp);

	/* The slice for this run. */
	size_t from = 0, to = n;
	if (o->max_pipelines > 0) {
		while (from < n && after && *after && strcmp(all[from]->name, after) <= 0)
			from++;
		if (to - from > (size_t)o->max_pipelines)
			to = from + (size_t)o->max_pipelines;
	}
	struct dp **sel = all + from;
	size_t ns = to - from;

	for (size_t i = 0; i < ns; i++) {
		struct dp *p = sel[i];
		if (!p->item)
			continue;
		if (names_for(app->set.prefix, p->name, &p->nm, &p->err) < 0) {
			p->status = ST_ERROR;
			continue;
		}
		char *item = cJSON_PrintUnformatted(p->item), *spec = NULL;
		int prc = policy_pipeline(app->policy, item, ctx, &spec, &p->err);
		free(item);
		if (prc == TP_OK)
			prc = pipeline_desired(&app->set, p->name, spec, &p->want, &p->err);
		free(spec);
		p->spec = p->want.spec;
		if (prc < 0)
			p->status = ST_ERROR;
	}
	if ((rc = read_old_specs(app, sel, ns, e)) < 0)
		goto done;
	find_unlisted_queues(app, &f, sel, ns);
	fetch_attrs(app, &f, sel, ns);
	fetch_states(app, &f, sel, ns);
	verify_tags(app, &f, sel, ns);
	for (size_t i = 0; i < ns; i++)
		if (sel[i]->spec && sel[i]->status != ST_ERROR)
			diff_one(app, &f, sel[i]);

	/* Repairs: drifted, missing and orphans; never collisions or errors. */
	if (o->fix) {
		char **fix = tp_xcalloc(ns + 1, sizeof *fix);
		size_t nf = 0;
		for (size_t i = 0; i < ns; i++)
			if (!sel[i]->item || sel[i]->status == ST_DRIFTED || sel[i]->status == ST_MISSING)
				fix[nf++] = sel[i]->name;
		if (nf) {
			struct reconcile_opts ro = { .force = 1, .holder = o->holder,
						     .lease_ttl_s = o->lease_ttl_s,
						     .deadline_ms = o->deadline_ms,
						     .reserve_ms = o->reserve_ms };
			struct rec_result *res = NULL;
			size_t nr = 0;
			tp_err re = { 0 };
			if (reconcile_run(app, fix, nf, 0, &ro, &res, &nr, &re) < 0) {
				for (size_t i = 0; i < ns; i++)
					if (!sel[i]->item || sel[i]->status == ST_DRIFTED || sel[i]->status == ST_MISSING) {
						sel[i]->fix_tried = 1;
						sel[i]->fix_err = re;
					}
			}
			for (size_t r = 0; r < nr; r++) {
				struct dp *p = smap_get(&items, res[r].name);
				if (!p)
					p = smap_get(&orph, res[r].name);
				if (!p)
					continue;
				p->fix_tried = 1;
				p->fix_ok = res[r].rc == TP_OK;
				p->fix_err = res[r].err;
				diff_list_move(&p->fix_changes, &res[r].diff);
			}
			reconcile_results_free(res, nr);
		}
		free(fix);
	}

	if (o->max_pipelines > 0) {
		int complete = to >= n;
		if ((rc = cursor_write(app, complete ? "" : sel[ns - 1]->name, complete, e)) < 0)
			goto done;
	}

	/* The document. */
	cJSON *doc = cJSON_CreateObject();
	cJSON *pipes = cJSON_AddArrayToObject(doc, "pipelines");
	cJSON *orphans = cJSON_AddArrayToObject(doc, "orphans");
	long count[5] = { 0 }, fixed = 0, fix_failed = 0, n_orphans = 0;
	for (size_t i = 0; i < ns; i++) {
		struct dp *p = sel[i];
		fixed += p->fix_tried && p->fix_ok;
		fix_failed += p->fix_tried && !p->fix_ok;
		cJSON *po = cJSON_CreateObject();
		cJSON_AddStringToObject(po, "pipeline", p->name);
		if (!p->item) {
			n_orphans++;
			cJSON_AddItemToObject(po, "resources", p->orphan_res);
			p->orphan_res = NULL;
			add_fix(po, p, o);
			cJSON_AddItemToArray(orphans, po);
			continue;
		}
		count[p->status]++;
		cJSON_AddStringToObject(po, "status", status_names[p->status]);
		cJSON_AddItemToObject(po, "drift", p->drift);
		p->drift = NULL;
		cJSON_AddBoolToObject(po, "code_behind", p->code_behind);
		if (p->status == ST_ERROR)
			cJSON_AddItemToObject(po, "error", err_json(&p->err));
		add_fix(po, p, o);
		cJSON_AddItemToArray(pipes, po);
	}
	cJSON *sum = cJSON_AddObjectToObject(doc, "summary");
	cJSON_AddNumberToObject(sum, "checked", (double)(count[0] + count[1] + count[2] + count[3] + count[4]));
	for (int s = 0; s < 5; s++)
		cJSON_AddNumberToObject(sum, status_names[s], (double)count[s]);
	cJSON_AddNumberToObject(sum, "orphans", (double)n_orphans);
	cJSON_AddNumberToObject(sum, "fixed", (double)fixed);
	cJSON_AddNumberToObject(sum, "fix_failed", (double)fix_failed);
	cJSON_AddBoolToObject(sum, "reserved_concurrency_checked", 0);
	if (o->max_pipelines > 0) {
		cJSON *cur = cJSON_AddObjectToObject(doc, "cursor");
		cJSON_AddStringToObject(cur, "after", after ? after : "");
		cJSON_AddStringToObject(cur, "next", to >= n ? "" : sel[ns - 1]->name);
		cJSON_AddBoolToObject(cur, "complete", to >= n);
		cJSON_AddNumberToObject(cur, "total", (double)n);
	} else {
		cJSON_AddNullToObject(doc, "cursor");
	}
	cJSON *calls = cJSON_AddObjectToObject(doc, "calls");
	stats_delta(app->aws, before, nst0, calls);
	cJSON_AddNumberToObject(doc, "lambda_calls", (double)(aws_stats_lambda(app->aws) - lambda0));
	cJSON_AddNumberToObject(doc, "lambda_calls_observe", (double)lambda_list);
	cJSON *tf = cJSON_AddObjectToObject(doc, "tag_fallback");
	cJSON_AddNumberToObject(tf, "queues", (double)f.tags_direct_q);
	cJSON_AddNumberToObject(tf, "functions", (double)f.tags_direct_fn);
	cJSON_AddNumberToObject(tf, "queue_urls", (double)f.qurl_direct);
	cJSON_AddNumberToObject(doc, "elapsed_ms", (double)(tp_mono_ms() - t0));
	int code = DRIFT_EXIT_OK;
	if (count[ST_ERROR] || fix_failed)
		code = DRIFT_EXIT_ERROR;
	else if (count[ST_COLLISION] ||
		 (!o->fix && (count[ST_DRIFTED] || count[ST_MISSING] || n_orphans)))
		code = DRIFT_EXIT_DRIFT;
	cJSON_AddNumberToObject(doc, "exit_code", code);
	*json_out = cJSON_PrintUnformatted(doc);
	cJSON_Delete(doc);
	log_msg(LOG_INFO, NULL, "drift: %zu checked, %ld drifted, %ld missing, %ld collisions, %ld errors, %ld orphans, %ld fixed; %ld Lambda calls",
		ns, count[ST_DRIFTED], count[ST_MISSING], count[ST_COLLISION], count[ST_ERROR], n_orphans, fixed,
		aws_stats_lambda(app->aws) - lambda0);

done:
	for (size_t i = 0; i < n; i++) {
		dp_free(all[i]);
		free(all[i]);
	}
	free(all);
	smap_free(&items);
	smap_free(&orph);
	fleet_free(&f);
	free(after);
	free(ctx);
	free(before);
	return rc;
}

int drift_exit_code(const char *json)
{
	cJSON *d = json ? cJSON_Parse(json) : NULL;
	cJSON *c = cJSON_GetObjectItem(d, "exit_code");
	int code = cJSON_IsNumber(c) ? (int)c->valuedouble : DRIFT_EXIT_ERROR;
	cJSON_Delete(d);
	return code;
}
