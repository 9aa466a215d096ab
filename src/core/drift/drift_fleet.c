/* drift_fleet.c: the fleet as list calls show it (see drift.h, drift_int.h):
 * every paged listing advances one page per round, all listings of a round
 * in one concurrent batch; ListQueues by prefix; then, for the selected
 * pipelines only, the direct calls the lists' lag or content needs. Lookups
 * go through small hash maps so 10,000 pipelines cost no quadratic
 * matching. */
#include "core/drift/drift_int.h"

#include "aws/awsjson.h"
#include "base/log.h"
#include "aws/lambda.h"
#include "aws/sqs.h"
#include "aws/tagging.h"
#include "core/codestore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ATTR_BATCH 2000   /* GetQueueAttributes calls per aws_call_many batch */

/* ---- the map ---- */

static size_t smap_hash(const char *s)
{
	size_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

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
void smap_put(struct smap *m, const char *key, void *val)
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

void *smap_get(const struct smap *m, const char *key)
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

void smap_free(struct smap *m)
{
	for (size_t i = 0; i < m->cap; i++)
		free(m->k[i]);
	free(m->k);
	free(m->v);
	memset(m, 0, sizeof *m);
}

/* ---- the listings ---- */

static void pager_prep(struct app *app, int kind, const struct pager *p, struct aws_call *c)
{
	switch (kind) {
	case PG_SCAN: {
		cJSON *in = cJSON_CreateObject();
		cJSON_AddStringToObject(in, "TableName", app->set.config_table);
		cJSON_AddBoolToObject(in, "ConsistentRead", 1);
		if (p->token)
			cJSON_AddItemToObject(in, "ExclusiveStartKey", cJSON_Parse(p->token));
		awsj_prepare(c, SVC_DYNAMODB, "Scan", in);
		return;
	}
	/* ListFunctions returns at most 50 a page, mappings and tag listings 100. */
	case PG_FUNCTIONS:
		lambda_list_functions(c, p->token, 50);
		return;
	case PG_ESM:
		lambda_list_event_source_mappings(c, NULL, p->token, 100);
		return;
	default:   /* the fleet's queues or functions, by the owner tag */
		tagging_get_resources(c, "taskpipe:owner", app->set.owner,
				      kind == PG_TAGS_FN ? "lambda:function" : "sqs", 100, p->token);
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
			sqs_list_queues(&calls[i], cur[i].prefix, QPAGE, cur[i].token);
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

int drift_list_fleet(struct app *app, struct fleet *f, tp_err *e)
{
	int rc = list_fleet(app, f, e);
	return rc < 0 ? rc : list_queues(app, f, e);
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

void drift_index_fleet(struct fleet *f)
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

void drift_fleet_free(struct fleet *f)
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

/* ---- the selected pipelines ---- */

void drift_fetch_attrs(struct app *app, struct fleet *f, struct dp **sel, size_t n)
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
			static const char *const all[] = { "All" };
			sqs_get_queue_attributes(&calls[k], url->valuestring, all, 1);
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
 * (https://docs.aws.amazon.com/lambda/latest/api/API_ListFunctions.html),
 * and so is the storage mode (Code.ResolvedS3Object, codestore.h): one
 * GetFunction per listed function whose spec wants REFERENCE, whose code
 * can go away under it (State Inactive) or that fell back to COPY. COPY
 * pipelines cost nothing (a copy pipeline's function found REFERENCE is
 * seen by apply, which reads GetFunction). */
void drift_fetch_states(struct app *app, struct fleet *f, struct dp **sel, size_t n)
{
	struct aws_call *calls = tp_xcalloc(n + 1, sizeof *calls);
	struct dp **who = tp_xcalloc(n + 1, sizeof *who);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		struct dp *p = sel[i];
		if (!p->spec || p->status == DRIFT_ERROR ||
		    p->want.spec.func.storage != STORAGE_REFERENCE ||
		    !smap_get(&f->fn, p->nm.function))
			continue;
		lambda_get_function(&calls[k], p->nm.function, NULL);
		who[k++] = p;
	}
	aws_call_many(app->aws, calls, k);
	for (size_t c = 0; c < k; c++) {
		cJSON *out = awsj_result(&calls[c]);
		char why[400];
		who[c]->storage = codestore_observed(out);
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

/* Tag differences of one resource, the way apply finds them (diff_tags):
 * how many. */
static size_t tag_diff(const struct dp *p, enum diff_res res, const cJSON *have)
{
	struct diff_list l = { 0 };
	struct spec_record old;
	spec_record_read(p->old_spec, &old);
	diff_tags(&l, res, &p->want.tags, p->old_spec ? &old : NULL, have);
	spec_record_free(&old);
	size_t n = l.n;
	diff_list_free(&l);
	return n;
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

void drift_verify_tags(struct app *app, struct fleet *f, struct dp **sel, size_t n)
{
	struct aws_call *calls = tp_xcalloc(3 * n + 1, sizeof *calls);
	struct tagq *q = tp_xcalloc(3 * n + 1, sizeof *q);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		struct dp *p = sel[i];
		if (!p->spec || p->status == DRIFT_ERROR)
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
				sqs_list_queue_tags(&calls[k], url->valuestring);
				f->tags_direct_q++;
			} else {
				/* GetFunction carries Tags too ("Lambda returns tag data only
				 * if you have explicit allow permissions for lambda:ListTags",
				 * API_GetFunction) and has its own 100 requests/s quota, where
				 * ListTags shares the control plane's 15/s with every update
				 * (Lambda quotas, "Lambda API requests"). */
				lambda_get_function(&calls[k], names[j], NULL);
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
			if (q[i].p->status != DRIFT_ERROR) {
				q[i].p->status = DRIFT_ERROR;
				q[i].p->err = calls[i].err;
			}
			aws_call_free(&calls[i]);
			continue;
		}
		cJSON *out = awsj_result(&calls[i]);
		cJSON *terr = cJSON_GetObjectItem(out, "TagsError");
		if (terr && q[i].p->status != DRIFT_ERROR) {
			/* GetFunction could not read the tags: not knowing, say so */
			q[i].p->status = DRIFT_ERROR;
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
void drift_find_unlisted_queues(struct app *app, struct fleet *f, struct dp **sel, size_t n)
{
	struct aws_call *calls = tp_xcalloc(2 * n + 1, sizeof *calls);
	const char **qname = tp_xcalloc(2 * n + 1, sizeof *qname);
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		for (int j = 0; j < 2 && sel[i]->spec; j++) {
			const char *name = j ? sel[i]->nm.dlq : sel[i]->nm.queue;
			if (smap_get(&f->qurl, name))
				continue;
			sqs_get_queue_url(&calls[k], name);
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
