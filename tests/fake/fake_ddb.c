/* fake_ddb.c: the fake's DynamoDB: tables keyed by a hash (and range) key,
 * GetItem / PutItem / UpdateItem / DeleteItem with conditions and
 * ReturnValues, Query and Scan paged as AWS pages them (1 MB of items read,
 * or Limit; ExclusiveStartKey / LastEvaluatedKey), CreateTable /
 * DescribeTable / UpdateTable / DeleteTable and the TTL setting.
 * Expressions: fake_ddbexpr.c; streams: fake_ddbstream.c.
 *
 * A table is a treap ordered as DynamoDB reads a table: by a hash of the
 * partition key (Scan's order, stable), then the key, then the range key
 * (Query's order); lookups O(log n). Items are kept as their JSON text
 * (about its length an item), parsed only when something reads into them. A table CreateTable makes
 * is CREATING for fake_options.table_lag_ms (reads and writes on it: 400
 * ResourceNotFoundException, as the AWS-faithful layer's [table]); a stream
 * UpdateTable enables leaves the table UPDATING and the stream ENABLING as
 * long ([tblupd]). Expired TTL items are not deleted (AWS takes days). */
#include "fake/fake_int.h"

#include <malloc.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base64.h"
#include "fake/fake_ddbexpr.h"
#include "fake/fake_ddbstream.h"

#define PAGE_BYTES (1024 * 1024)   /* Query and Scan read at most 1 MB a page */
#define ITEM_MAX (400 * 1024)      /* an item's size limit */

struct keydef {
	char *name;
	char type;                 /* 'S', 'N', 'B'; 0: no such key */
};

struct node {
	struct node *l, *r;
	uint64_t h;                /* hash of the partition key */
	uint32_t prio;             /* the treap's heap order */
	uint32_t size;             /* DynamoDB's size of the item */
	uint32_t pklen, sklen;
	char *item;                /* the item's JSON text */
	char key[];                /* partition key's bytes, NUL, range key's, NUL */
};

/* A key to look up or to start from; sk_inf -1 / +1: before / after every
 * range key of the partition. */
struct kref {
	uint64_t h;
	const char *pk, *sk;
	size_t pklen, sklen;
	int sk_inf;
};

struct table {
	struct table *next;
	char *name;
	struct keydef hk, rk;
	struct node *root;
	long count;
	long long bytes;
	long long heap;            /* malloc'd for the items (nodes and texts) */
	int64_t created_ms;
	int64_t busy_until_ms;     /* CREATING (creating) or UPDATING until then */
	int creating;
	struct ddb_stream *stream; /* the latest stream (enabled or not); NULL: never one */
	char *ttl_attr;            /* TimeToLive's attribute; NULL: disabled */
};

struct fake_ddb {
	struct table *tables;
};

/* ---- the treap ---- */

static uint64_t mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static uint64_t fnv(const char *p, size_t n, uint64_t h)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)p[i]) * 0x100000001b3ULL;
	return h;
}

static struct kref node_key(const struct node *n)
{
	return (struct kref){ n->h, n->key, n->key + n->pklen + 1, n->pklen, n->sklen, 0 };
}

static int bytes_cmp(const char *a, size_t na, const char *b, size_t nb)
{
	int c = memcmp(a, b, na < nb ? na : nb);
	return c ? (c < 0 ? -1 : 1) : na < nb ? -1 : na > nb;
}

static int kcmp(const struct table *t, const struct kref *a, const struct kref *b)
{
	if (a->h != b->h)
		return a->h < b->h ? -1 : 1;
	int c = bytes_cmp(a->pk, a->pklen, b->pk, b->pklen);
	if (c || !t->rk.type)
		return c;
	if (a->sk_inf || b->sk_inf)
		return a->sk_inf == b->sk_inf ? 0 : a->sk_inf ? a->sk_inf : -b->sk_inf;
	if (t->rk.type == 'N')
		return ddbnum_cmp(a->sk, b->sk);
	return bytes_cmp(a->sk, a->sklen, b->sk, b->sklen);
}

static struct node *find(const struct table *t, const struct kref *k)
{
	struct node *n = t->root;
	while (n) {
		struct kref nk = node_key(n);
		int c = kcmp(t, k, &nk);
		if (c == 0)
			return n;
		n = c < 0 ? n->l : n->r;
	}
	return NULL;
}

static struct node *insert(const struct table *t, struct node *root, struct node *n)
{
	if (!root)
		return n;
	struct kref a = node_key(n), b = node_key(root);
	if (kcmp(t, &a, &b) < 0) {
		root->l = insert(t, root->l, n);
		if (root->l->prio > root->prio) {
			struct node *l = root->l;
			root->l = l->r;
			l->r = root;
			return l;
		}
	} else {
		root->r = insert(t, root->r, n);
		if (root->r->prio > root->prio) {
			struct node *r = root->r;
			root->r = r->l;
			r->l = root;
			return r;
		}
	}
	return root;
}

static struct node *merge(struct node *a, struct node *b)
{
	if (!a)
		return b;
	if (!b)
		return a;
	if (a->prio > b->prio) {
		a->r = merge(a->r, b);
		return a;
	}
	b->l = merge(a, b->l);
	return b;
}

static struct node *unlink_node(const struct table *t, struct node *root, const struct kref *k, struct node **gone)
{
	if (!root)
		return NULL;
	struct kref nk = node_key(root);
	int c = kcmp(t, k, &nk);
	if (c == 0) {
		*gone = root;
		return merge(root->l, root->r);
	}
	if (c < 0)
		root->l = unlink_node(t, root->l, k, gone);
	else
		root->r = unlink_node(t, root->r, k, gone);
	return root;
}

static void node_free(struct node *n)
{
	if (!n)
		return;
	free(n->item);
	free(n);
}

static void tree_free(struct node *n)
{
	while (n) {
		tree_free(n->l);
		struct node *r = n->r;
		node_free(n);
		n = r;
	}
}

/* 1 from visit stops the walk. */
typedef int (*visit_fn)(void *ctx, struct node *n);

/* In order, from (NULL: the start) on; incl: from itself too. */
static int walk_up(const struct table *t, struct node *n, const struct kref *from, int incl, visit_fn fn, void *ctx)
{
	while (n) {
		struct kref nk = node_key(n);
		int c = from ? kcmp(t, &nk, from) : 1;
		if (c > 0 || (c == 0 && incl)) {
			if (walk_up(t, n->l, from, incl, fn, ctx) || fn(ctx, n))
				return 1;
			from = NULL;
		}
		n = n->r;
	}
	return 0;
}

/* In reverse order, from to (NULL: the end) down. */
static int walk_down(const struct table *t, struct node *n, const struct kref *to, int incl, visit_fn fn, void *ctx)
{
	while (n) {
		struct kref nk = node_key(n);
		int c = to ? kcmp(t, &nk, to) : -1;
		if (c < 0 || (c == 0 && incl)) {
			if (walk_down(t, n->r, to, incl, fn, ctx) || fn(ctx, n))
				return 1;
			to = NULL;
		}
		n = n->l;
	}
	return 0;
}

/* ---- tables ---- */

static struct fake_ddb *ddb_of(struct fake *f)
{
	if (!f->ddb)
		f->ddb = tp_xcalloc(1, sizeof *f->ddb);
	return f->ddb;
}

static struct table *table_find(struct fake *f, const char *name)
{
	for (struct table *t = ddb_of(f)->tables; name && t; t = t->next)
		if (strcmp(t->name, name) == 0)
			return t;
	return NULL;
}

static struct table *table_add(struct fake *f, const char *name, const char *hk, char ht, const char *rk, char rt)
{
	struct table *t = tp_xcalloc(1, sizeof *t);
	t->name = tp_xstrdup(name);
	t->hk = (struct keydef){ tp_xstrdup(hk), ht };
	if (rk)
		t->rk = (struct keydef){ tp_xstrdup(rk), rt };
	t->created_ms = fake_now_ms_int(f);
	struct fake_ddb *d = ddb_of(f);
	t->next = d->tables;
	d->tables = t;
	return t;
}

static void table_free(struct table *t)
{
	tree_free(t->root);
	ddbs_free(t->stream);
	free(t->name);
	free(t->hk.name);
	free(t->rk.name);
	free(t->ttl_attr);
	free(t);
}

void fake_ddb_free(struct fake_ddb *d)
{
	if (!d)
		return;
	for (struct table *t = d->tables, *n; t; t = n) {
		n = t->next;
		table_free(t);
	}
	free(d);
}

int fake_ddb_create_table(struct fake *f, const char *name, const char *hash_key, const char *range_key)
{
	if (table_find(f, name))
		return -1;
	table_add(f, name, hash_key, 'S', range_key, 'S');
	return 0;
}

int fake_ddb_roll_stream(struct fake *f, const char *table)
{
	struct table *t = table_find(f, table);
	if (!t || !ddbs_enabled(t->stream))
		return -1;
	ddbs_roll(f, t->stream);
	return 0;
}

long long fake_ddb_heap_bytes(struct fake *f)
{
	long long n = 0;
	for (struct table *t = ddb_of(f)->tables; t; t = t->next)
		n += t->heap + ddbs_heap_bytes(t->stream);
	return n;
}

long fake_ddb_item_count(struct fake *f, const char *table)
{
	struct table *t = table_find(f, table);
	return t ? t->count : -1;
}

const char *fake_ddb_hash_key(struct fake *f, const char *table)
{
	struct table *t = f->ddb ? table_find(f, table) : NULL;
	return t ? t->hk.name : NULL;
}

/* ---- keys ---- */

/* The key bytes of one key attribute's value. */
static int key_part(const struct keydef *k, const cJSON *av, buf *b, char *err, size_t len)
{
	const char *t = ddbav_type(av);
	char want[2] = { k->type, 0 };
	if (!t || strcmp(t, want) != 0) {
		snprintf(err, len, "One or more parameter values were invalid: Type mismatch for key %s expected: %s "
			 "actual: %s", k->name, want, t ? t : "?");
		return -1;
	}
	const char *s = av->child->valuestring;
	if (!s[0]) {
		snprintf(err, len, "One or more parameter values are not valid. The AttributeValue for a key attribute "
			 "cannot contain an empty %s value. Key: %s", k->type == 'B' ? "binary" : "string", k->name);
		return -1;
	}
	if (k->type == 'B') {
		char *raw = NULL;
		size_t n = 0;
		if (base64_decode(s, &raw, &n) < 0) {
			snprintf(err, len, "Invalid Base64 value for key %s", k->name);
			return -1;
		}
		buf_add(b, raw, n);
		free(raw);
	} else {
		buf_adds(b, s);  /* numbers are in normal form (ddbav_check) */
	}
	buf_addc(b, 0);
	return 0;
}

/* The key of obj: an item (is_item: other attributes allowed) or a Key
 * (exactly the key attributes). k points into *mem (the caller frees it). */
static int key_of(const struct table *t, const cJSON *obj, int is_item, struct kref *k, buf *mem, char *err,
		  size_t len)
{
	const struct keydef *defs[2] = { &t->hk, t->rk.type ? &t->rk : NULL };
	int nkeys = defs[1] ? 2 : 1;
	if (!cJSON_IsObject(obj) || (!is_item && cJSON_GetArraySize(obj) != nkeys)) {
		snprintf(err, len, "The provided key element does not match the schema");
		return -1;
	}
	size_t at[2] = { 0, 0 };
	for (int i = 0; i < nkeys; i++) {
		const cJSON *av = cJSON_GetObjectItemCaseSensitive(obj, defs[i]->name);
		if (!av) {
			if (is_item)
				snprintf(err, len, "One or more parameter values were invalid: Missing the key %s in the item",
					 defs[i]->name);
			else
				snprintf(err, len, "The provided key element does not match the schema");
			return -1;
		}
		at[i] = mem->len;
		if (key_part(defs[i], av, mem, err, len) < 0)
			return -1;
	}
	memset(k, 0, sizeof *k);
	k->pk = mem->data + at[0];
	k->pklen = (defs[1] ? at[1] : mem->len) - at[0] - 1;
	if (defs[1]) {
		k->sk = mem->data + at[1];
		k->sklen = mem->len - at[1] - 1;
	} else {
		k->sk = "";
	}
	k->h = mix(fnv(k->pk, k->pklen, 0xcbf29ce484222325ULL));
	return 0;
}

/* The key attributes of item (a new object): LastEvaluatedKey. */
static cJSON *key_attrs(const struct table *t, const cJSON *item)
{
	cJSON *k = cJSON_CreateObject();
	cJSON_AddItemToObject(k, t->hk.name, cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(item, t->hk.name), 1));
	if (t->rk.type)
		cJSON_AddItemToObject(k, t->rk.name,
				      cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(item, t->rk.name), 1));
	return k;
}

static cJSON *node_item(const struct node *n)
{
	return cJSON_Parse(n->item);
}

/* Store item (borrowed) under k: replaces the one there. */
static void store(struct table *t, const struct kref *k, const cJSON *item, size_t size)
{
	struct node *n = find(t, k);
	char *text = cJSON_PrintUnformatted(item);
	if (n) {
		t->heap += (long long)malloc_usable_size(text) - (long long)malloc_usable_size(n->item);
		free(n->item);
		t->bytes += (long long)size - n->size;
		n->item = text;
		n->size = (uint32_t)size;
		return;
	}
	n = tp_xcalloc(1, sizeof *n + k->pklen + k->sklen + 2);
	n->h = k->h;
	memcpy(n->key, k->pk, k->pklen);
	memcpy(n->key + k->pklen + 1, k->sk, k->sklen);
	n->pklen = (uint32_t)k->pklen;
	n->sklen = (uint32_t)k->sklen;
	n->prio = (uint32_t)mix(fnv(n->key, k->pklen + k->sklen + 1, 0x84222325cbf29ce4ULL));
	n->item = text;
	n->size = (uint32_t)size;
	t->root = insert(t, t->root, n);
	t->count++;
	t->bytes += (long long)size;
	t->heap += (long long)(malloc_usable_size(n) + malloc_usable_size(text));
}

static void drop(struct table *t, const struct kref *k)
{
	struct node *gone = NULL;
	t->root = unlink_node(t, t->root, k, &gone);
	if (gone) {
		t->count--;
		t->bytes -= gone->size;
		t->heap -= (long long)(malloc_usable_size(gone) + malloc_usable_size(gone->item));
		node_free(gone);
	}
}

/* ---- requests ---- */

struct req {
	struct fake *f;
	struct fake_req *r;
	struct http_response *out;
	cJSON *in;
	struct table *t;
	struct ddbx_env env;
	struct ddbx *cond, *update, *proj, *filter, *keycond;
	buf key_mem;
	char err[512];
	int replied;
};

static int bad(struct req *q, const char *type, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int bad(struct req *q, const char *type, const char *fmt, ...)
{
	char msg[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	fake_reply_error(q->out, 400, type, "%s", msg);
	q->replied = 1;
	return -1;
}

static int invalid(struct req *q, const char *msg)
{
	return bad(q, "ValidationException", "%s", msg);
}

static const char *str_param(struct req *q, const char *name)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(q->in, name));
}

/* Parameters beyond allowed are refused (never ignored). */
static int check_params(struct req *q, const char *const *allowed)
{
	for (const cJSON *p = q->in->child; p; p = p->next) {
		int ok = 0;
		for (int i = 0; allowed[i] && !ok; i++)
			ok = strcmp(p->string, allowed[i]) == 0;
		if (!ok)
			return bad(q, "ValidationException", "the fake's DynamoDB does not model parameter '%s' of %s",
				   p->string, q->r->op);
	}
	return 0;
}

static const char *table_status(struct fake *f, const struct table *t)
{
	if (fake_now_ms_int(f) >= t->busy_until_ms)
		return "ACTIVE";
	return t->creating ? "CREATING" : "UPDATING";
}

static int need_table(struct req *q)
{
	const char *name = str_param(q, "TableName");
	if (!name)
		return bad(q, "ValidationException", "1 validation error detected: Value null at 'tableName' failed to "
			   "satisfy constraint: Member must not be null");
	q->t = table_find(q->f, name);
	if (!q->t)
		return bad(q, "ResourceNotFoundException", "Requested resource not found: Table: %s not found", name);
	return 0;
}

/* Reads and writes: only once the table is created. */
static int need_data_table(struct req *q)
{
	if (need_table(q) < 0)
		return -1;
	if (strcmp(table_status(q->f, q->t), "CREATING") == 0)
		return bad(q, "ResourceNotFoundException", "Requested resource not found (table %s is CREATING)",
			   q->t->name);
	return 0;
}

/* Table changes: only on an ACTIVE table. */
static int need_active_table(struct req *q)
{
	if (need_table(q) < 0)
		return -1;
	const char *st = table_status(q->f, q->t);
	if (strcmp(st, "ACTIVE") != 0)
		return bad(q, "ResourceInUseException", "Attempt to change a resource which is still in use: Table is "
			   "being %s: %s", strcmp(st, "CREATING") == 0 ? "created" : "updated", q->t->name);
	return 0;
}

/* One of the allowed values for an enum parameter (NULL: absent, *v = dflt). */
static int enum_param(struct req *q, const char *name, const char *const *allowed, const char **v)
{
	const char *s = str_param(q, name);
	*v = allowed[0];
	if (!cJSON_GetObjectItemCaseSensitive(q->in, name))
		return 0;
	for (int i = 0; s && allowed[i]; i++)
		if (strcmp(s, allowed[i]) == 0) {
			*v = allowed[i];
			return 0;
		}
	return bad(q, "ValidationException", "1 validation error detected: Value '%s' at '%s' failed to satisfy "
		   "constraint: Member must satisfy enum value set (the fake knows those the operation takes)",
		   s ? s : "(not a string)", name);
}

/* ExpressionAttributeNames / Values and the expressions named: parsed,
 * every name and value used. */
static int expressions(struct req *q)
{
	cJSON *names = cJSON_GetObjectItemCaseSensitive(q->in, "ExpressionAttributeNames");
	cJSON *values = cJSON_GetObjectItemCaseSensitive(q->in, "ExpressionAttributeValues");
	if (names && (!cJSON_IsObject(names) || !names->child))
		return invalid(q, "ExpressionAttributeNames must not be empty");
	if (values && (!cJSON_IsObject(values) || !values->child))
		return invalid(q, "ExpressionAttributeValues must not be empty");
	for (cJSON *v = values ? values->child : NULL; v; v = v->next) {
		char what[128];
		snprintf(what, sizeof what, "ExpressionAttributeValues %s", v->string);
		if (v->string[0] != ':')
			return bad(q, "ValidationException", "ExpressionAttributeValues contains invalid key: Syntax error; "
				   "key: \"%s\"", v->string);
		if (ddbav_check(v, what, q->err, sizeof q->err) < 0)
			return invalid(q, q->err);
	}
	for (cJSON *n = names ? names->child : NULL; n; n = n->next)
		if (n->string[0] != '#')
			return bad(q, "ValidationException", "ExpressionAttributeNames contains invalid key: Syntax error; "
				   "key: \"%s\"", n->string);
	ddbx_env_init(&q->env, names, values);
	static const struct { const char *name; enum ddbx_kind kind; size_t off; } ex[] = {
		{ "KeyConditionExpression", DDBX_COND, offsetof(struct req, keycond) },
		{ "ConditionExpression", DDBX_COND, offsetof(struct req, cond) },
		{ "UpdateExpression", DDBX_UPDATE, offsetof(struct req, update) },
		{ "FilterExpression", DDBX_COND, offsetof(struct req, filter) },
		{ "ProjectionExpression", DDBX_PROJECTION, offsetof(struct req, proj) },
	};
	int any = 0;
	for (size_t i = 0; i < sizeof ex / sizeof ex[0]; i++) {
		cJSON *e = cJSON_GetObjectItemCaseSensitive(q->in, ex[i].name);
		if (!e)
			continue;
		any = 1;
		if (!cJSON_IsString(e))
			return bad(q, "ValidationException", "%s must be a string", ex[i].name);
		if (ddbx_parse(&q->env, ex[i].kind, ex[i].name, e->valuestring,
			       (struct ddbx **)((char *)q + ex[i].off)) < 0)
			return invalid(q, q->env.err);
	}
	if (values && !any)
		return invalid(q, "ExpressionAttributeValues can only be specified when using expressions");
	if (names && !any)
		return invalid(q, "ExpressionAttributeNames can only be specified when using expressions");
	if (ddbx_check_unused(&q->env) < 0)
		return invalid(q, q->env.err);
	return 0;
}

static void req_free(struct req *q)
{
	ddbx_free(q->cond);
	ddbx_free(q->update);
	ddbx_free(q->proj);
	ddbx_free(q->filter);
	ddbx_free(q->keycond);
	ddbx_env_free(&q->env);
	buf_free(&q->key_mem);
}

/* A Key (or an Item's key) into k; -1 and q->err when it is not one. */
static int parse_key(struct req *q, cJSON *obj, int is_item, struct kref *k)
{
	if (!obj) {
		snprintf(q->err, sizeof q->err, "1 validation error detected: Value null at '%s' failed to satisfy "
			 "constraint: Member must not be null", is_item ? "item" : "key");
		return -1;
	}
	if (!is_item && cJSON_IsObject(obj))
		for (cJSON *a = obj->child; a; a = a->next)
			if (ddbav_check(a, "Key", q->err, sizeof q->err) < 0)
				return -1;
	buf_reset(&q->key_mem);
	return key_of(q->t, obj, is_item, k, &q->key_mem, q->err, sizeof q->err);
}

static int req_key(struct req *q, cJSON *obj, int is_item, struct kref *k)
{
	return parse_key(q, obj, is_item, k) < 0 ? invalid(q, q->err) : 0;
}

static void reply(struct req *q, cJSON *body)
{
	fake_reply_json(q->out, 200, body);
	q->replied = 1;
}

/* An answer already written as JSON text (b, freed). */
static void reply_raw(struct req *q, buf *b)
{
	q->out->status = 200;
	buf_reset(&q->out->body);
	buf_adds(&q->out->headers, "Content-Type: application/json\r\nx-amzn-RequestId: fake-req\r\n");
	buf_add(&q->out->body, b->data, b->len);
	buf_free(b);
	q->replied = 1;
}

/* ConditionalCheckFailedException, with the item as it is when asked. */
static void condition_failed(struct req *q, const cJSON *old)
{
	const char *rv = str_param(q, "ReturnValuesOnConditionCheckFailure");
	fake_reply_error(q->out, 400, "ConditionalCheckFailedException", "The conditional request failed");
	if (old && rv && strcmp(rv, "ALL_OLD") == 0) {
		cJSON *b = cJSON_CreateObject();
		cJSON_AddStringToObject(b, "__type", "ConditionalCheckFailedException");
		cJSON_AddStringToObject(b, "message", "The conditional request failed");
		cJSON_AddItemToObject(b, "Item", cJSON_Duplicate(old, 1));
		char *s = cJSON_PrintUnformatted(b);
		buf_reset(&q->out->body);
		buf_adds(&q->out->body, s);
		free(s);
		cJSON_Delete(b);
	}
	q->replied = 1;
}

/* The condition holds on old (NULL: no item); replies when it does not. */
static int condition_holds(struct req *q, const cJSON *old)
{
	int ok = 1;
	if (q->cond && ddbx_eval(&q->env, q->cond, old, &ok) < 0)
		return invalid(q, q->env.err);
	if (!ok) {
		condition_failed(q, old);
		return -1;
	}
	return 0;
}

static int rvoccf(struct req *q)
{
	static const char *const v[] = { "NONE", "ALL_OLD", NULL };
	const char *x;
	return enum_param(q, "ReturnValuesOnConditionCheckFailure", v, &x);
}

static int size_ok(struct req *q, const cJSON *item, size_t *size)
{
	*size = ddbav_item_size(item);
	if (*size > ITEM_MAX)
		return invalid(q, "Item size has exceeded the maximum allowed size");
	return 0;
}

/* An item changed (old / now NULL: absent): the table's stream records it. */
static void changed(struct req *q, const cJSON *old, const cJSON *now)
{
	if (!ddbs_enabled(q->t->stream))
		return;
	cJSON *keys = key_attrs(q->t, now ? now : old);
	ddbs_record(q->f, q->t->stream, keys, old, now);
	cJSON_Delete(keys);
}

/* ---- items ---- */

static int op_get_item(struct req *q)
{
	static const char *const allowed[] = { "TableName", "Key", "ConsistentRead", "ProjectionExpression",
					       "ExpressionAttributeNames", NULL };
	struct kref k;
	if (check_params(q, allowed) < 0 || need_data_table(q) < 0 || expressions(q) < 0 ||
	    req_key(q, cJSON_GetObjectItemCaseSensitive(q->in, "Key"), 0, &k) < 0)
		return -1;
	struct node *n = find(q->t, &k);
	if (n && !q->proj) {   /* the stored text as it is: no parse, no print */
		buf b = { 0 };
		buf_addf(&b, "{\"Item\":%s}", n->item);
		reply_raw(q, &b);
		return 0;
	}
	cJSON *body = cJSON_CreateObject();
	if (n) {
		cJSON *item = node_item(n);
		cJSON_AddItemToObject(body, "Item", ddbx_project(q->proj, item));
		cJSON_Delete(item);
	}
	reply(q, body);
	return 0;
}

static int op_put_item(struct req *q)
{
	static const char *const allowed[] = { "TableName", "Item", "ConditionExpression", "ExpressionAttributeNames",
					       "ExpressionAttributeValues", "ReturnValues",
					       "ReturnValuesOnConditionCheckFailure", NULL };
	static const char *const rvs[] = { "NONE", "ALL_OLD", NULL };
	const char *rv;
	struct kref k;
	size_t size;
	cJSON *item = cJSON_GetObjectItemCaseSensitive(q->in, "Item");
	if (check_params(q, allowed) < 0 || need_data_table(q) < 0 || enum_param(q, "ReturnValues", rvs, &rv) < 0 ||
	    rvoccf(q) < 0)
		return -1;
	if (!cJSON_IsObject(item))
		return invalid(q, "1 validation error detected: Value null at 'item' failed to satisfy constraint: "
			       "Member must not be null");
	for (cJSON *a = item->child; a; a = a->next)
		if (ddbav_check(a, "Item", q->err, sizeof q->err) < 0)
			return invalid(q, q->err);
	if (expressions(q) < 0 || req_key(q, item, 1, &k) < 0 || size_ok(q, item, &size) < 0)
		return -1;
	struct node *n = find(q->t, &k);
	cJSON *old = n ? node_item(n) : NULL;
	if (condition_holds(q, old) < 0) {
		cJSON_Delete(old);
		return -1;
	}
	store(q->t, &k, item, size);
	changed(q, old, item);
	cJSON *body = cJSON_CreateObject();
	if (old && strcmp(rv, "ALL_OLD") == 0)
		cJSON_AddItemToObject(body, "Attributes", old);
	else
		cJSON_Delete(old);
	reply(q, body);
	return 0;
}

static int op_delete_item(struct req *q)
{
	static const char *const allowed[] = { "TableName", "Key", "ConditionExpression", "ExpressionAttributeNames",
					       "ExpressionAttributeValues", "ReturnValues",
					       "ReturnValuesOnConditionCheckFailure", NULL };
	static const char *const rvs[] = { "NONE", "ALL_OLD", NULL };
	const char *rv;
	struct kref k;
	if (check_params(q, allowed) < 0 || need_data_table(q) < 0 || enum_param(q, "ReturnValues", rvs, &rv) < 0 ||
	    rvoccf(q) < 0 || expressions(q) < 0 || req_key(q, cJSON_GetObjectItemCaseSensitive(q->in, "Key"), 0, &k) < 0)
		return -1;
	struct node *n = find(q->t, &k);
	cJSON *old = n ? node_item(n) : NULL;
	if (condition_holds(q, old) < 0) {
		cJSON_Delete(old);
		return -1;
	}
	drop(q->t, &k);
	changed(q, old, NULL);
	cJSON *body = cJSON_CreateObject();
	if (old && strcmp(rv, "ALL_OLD") == 0)
		cJSON_AddItemToObject(body, "Attributes", old);
	else
		cJSON_Delete(old);
	reply(q, body);
	return 0;
}

/* The attributes of item named in touched (a new object). */
static cJSON *only(const cJSON *item, const cJSON *touched)
{
	cJSON *o = cJSON_CreateObject();
	for (const cJSON *t = touched->child; item && t; t = t->next) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(item, t->valuestring);
		if (v)
			cJSON_AddItemToObject(o, t->valuestring, cJSON_Duplicate(v, 1));
	}
	return o;
}

static int op_update_item(struct req *q)
{
	static const char *const allowed[] = { "TableName", "Key", "UpdateExpression", "ConditionExpression",
					       "ExpressionAttributeNames", "ExpressionAttributeValues", "ReturnValues",
					       "ReturnValuesOnConditionCheckFailure", NULL };
	static const char *const rvs[] = { "NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW", NULL };
	const char *rv;
	struct kref k;
	size_t size;
	cJSON *key = cJSON_GetObjectItemCaseSensitive(q->in, "Key");
	if (check_params(q, allowed) < 0 || need_data_table(q) < 0 || enum_param(q, "ReturnValues", rvs, &rv) < 0 ||
	    rvoccf(q) < 0 || expressions(q) < 0 || req_key(q, key, 0, &k) < 0)
		return -1;
	struct node *n = find(q->t, &k);
	cJSON *old = n ? node_item(n) : NULL;
	if (condition_holds(q, old) < 0) {
		cJSON_Delete(old);
		return -1;
	}
	/* an absent item is made from its key */
	cJSON *item = old ? cJSON_Duplicate(old, 1) : cJSON_Duplicate(key, 1);
	cJSON *touched = cJSON_CreateArray();
	const char *keys[] = { q->t->hk.name, q->t->rk.name, NULL };
	int rc = 0;
	if (q->update && ddbx_update(&q->env, q->update, item, keys, touched) < 0)
		rc = invalid(q, q->env.err);
	if (rc == 0)
		rc = size_ok(q, item, &size);
	if (rc == 0) {
		store(q->t, &k, item, size);
		changed(q, old, item);
		cJSON *body = cJSON_CreateObject(), *attrs = NULL;
		if (strcmp(rv, "ALL_NEW") == 0)
			attrs = cJSON_Duplicate(item, 1);
		else if (strcmp(rv, "ALL_OLD") == 0 && old)
			attrs = cJSON_Duplicate(old, 1);
		else if (strcmp(rv, "UPDATED_NEW") == 0)
			attrs = only(item, touched);
		else if (strcmp(rv, "UPDATED_OLD") == 0)
			attrs = only(old, touched);
		if (attrs && attrs->child)
			cJSON_AddItemToObject(body, "Attributes", attrs);
		else
			cJSON_Delete(attrs);
		reply(q, body);
	}
	cJSON_Delete(touched);
	cJSON_Delete(item);
	cJSON_Delete(old);
	return rc;
}

/* ---- Query and Scan ---- */

struct page {
	struct req *q;
	long limit;                /* items read; 0: none */
	int count_only;
	const cJSON *hash_val;     /* Query: the partition */
	struct kref part;          /* Query: the partition's key */
	buf items;                 /* the Items, as JSON text */
	long count, scanned;
	size_t bytes;
	struct node *last;         /* the last item read */
	int more;                  /* stopped by Limit or the page size */
};

static int visit(void *ctx, struct node *n)
{
	struct page *p = ctx;
	struct req *q = p->q;
	if (p->hash_val) {
		struct kref nk = node_key(n);
		if (nk.h != p->part.h || bytes_cmp(nk.pk, nk.pklen, p->part.pk, p->part.pklen) != 0)
			return 1;   /* past the partition */
	}
	/* parsed only when something must read it; else the stored text goes out */
	cJSON *item = p->hash_val || q->filter || q->proj ? node_item(n) : NULL;
	int keep = 1;
	if (p->hash_val)
		ddbx_eval(&q->env, q->keycond, item, &keep);
	if (!keep) {
		cJSON_Delete(item);
		return 0;
	}
	p->scanned++;
	p->bytes += n->size;
	p->last = n;
	if (q->filter)
		ddbx_eval(&q->env, q->filter, item, &keep);
	if (keep) {
		p->count++;
		if (!p->count_only) {
			buf_adds(&p->items, p->items.len ? "," : "");
			if (q->proj) {
				cJSON *x = ddbx_project(q->proj, item);
				char *t = cJSON_PrintUnformatted(x);
				buf_adds(&p->items, t);
				free(t);
				cJSON_Delete(x);
			} else {
				buf_adds(&p->items, n->item);
			}
		}
	}
	cJSON_Delete(item);
	if ((p->limit && p->scanned >= p->limit) || p->bytes >= PAGE_BYTES) {
		p->more = 1;
		return 1;
	}
	return 0;
}

static int read_page(struct req *q, int query)
{
	static const char *const scan_allowed[] = { "TableName", "ConsistentRead", "FilterExpression",
						    "ProjectionExpression", "ExpressionAttributeNames",
						    "ExpressionAttributeValues", "ExclusiveStartKey", "Limit", "Select",
						    NULL };
	static const char *const query_allowed[] = { "TableName", "ConsistentRead", "KeyConditionExpression",
						     "FilterExpression", "ProjectionExpression",
						     "ExpressionAttributeNames", "ExpressionAttributeValues",
						     "ExclusiveStartKey", "Limit", "Select", "ScanIndexForward", NULL };
	static const char *const selects[] = { "ALL_ATTRIBUTES", "COUNT", "SPECIFIC_ATTRIBUTES", NULL };
	const char *sel;
	if (check_params(q, query ? query_allowed : scan_allowed) < 0 || need_data_table(q) < 0 ||
	    enum_param(q, "Select", selects, &sel) < 0 || expressions(q) < 0)
		return -1;
	struct page p = { .q = q };
	cJSON *lim = cJSON_GetObjectItemCaseSensitive(q->in, "Limit");
	if (lim) {
		if (!cJSON_IsNumber(lim) || lim->valuedouble < 1)
			return invalid(q, "1 validation error detected: Value at 'limit' failed to satisfy constraint: Member "
				       "must have value greater than or equal to 1");
		p.limit = (long)lim->valuedouble;
	}
	int has_sel = cJSON_GetObjectItemCaseSensitive(q->in, "Select") != NULL;
	if (has_sel && strcmp(sel, "SPECIFIC_ATTRIBUTES") != 0 && q->proj)
		return bad(q, "ValidationException", "Cannot specify the ProjectionExpression when choosing to get %s", sel);
	if (strcmp(sel, "SPECIFIC_ATTRIBUTES") == 0 && !q->proj)
		return invalid(q, "Select SPECIFIC_ATTRIBUTES needs a ProjectionExpression");
	p.count_only = strcmp(sel, "COUNT") == 0;
	int forward = 1;
	buf part_mem = { 0 };
	if (query) {
		int has_range;
		cJSON *fw = cJSON_GetObjectItemCaseSensitive(q->in, "ScanIndexForward");
		forward = !fw || cJSON_IsTrue(fw);
		if (!q->keycond)
			return invalid(q, "Either the KeyConditions or KeyConditionExpression parameter must be specified in "
				       "the request.");
		if (ddbx_keycond(&q->env, q->keycond, q->t->hk.name, q->t->rk.name, &p.hash_val, &has_range) < 0)
			return invalid(q, q->env.err);
		int rc = key_part(&q->t->hk, p.hash_val, &part_mem, q->err, sizeof q->err);
		if (rc < 0) {
			buf_free(&part_mem);
			return invalid(q, q->err);
		}
		p.part = (struct kref){ mix(fnv(part_mem.data, part_mem.len - 1, 0xcbf29ce484222325ULL)), part_mem.data,
					"", part_mem.len - 1, 0, forward ? -1 : 1 };
	}
	struct kref start;
	const struct kref *from = query ? &p.part : NULL;
	int incl = 1;
	cJSON *esk = cJSON_GetObjectItemCaseSensitive(q->in, "ExclusiveStartKey");
	if (esk) {
		if (parse_key(q, esk, 0, &start) < 0) {
			buf_free(&part_mem);
			return bad(q, "ValidationException", "The provided starting key is invalid: %s", q->err);
		}
		if (query && (start.h != p.part.h || bytes_cmp(start.pk, start.pklen, p.part.pk, p.part.pklen) != 0)) {
			buf_free(&part_mem);
			return invalid(q, "The provided starting key is outside query boundaries based on provided conditions");
		}
		from = &start;
		incl = 0;
	}
	if (forward)
		walk_up(q->t, q->t->root, from, incl, visit, &p);
	else
		walk_down(q->t, q->t->root, from, incl, visit, &p);
	buf_free(&part_mem);
	buf b = { 0 };
	buf_adds(&b, "{");
	if (!p.count_only) {
		buf_adds(&b, "\"Items\":[");
		buf_add(&b, p.items.data, p.items.len);
		buf_adds(&b, "],");
	}
	buf_free(&p.items);
	buf_addf(&b, "\"Count\":%ld,\"ScannedCount\":%ld", p.count, p.scanned);
	if (p.more && p.last) {
		cJSON *item = node_item(p.last), *lek = key_attrs(q->t, item);
		char *t = cJSON_PrintUnformatted(lek);
		buf_addf(&b, ",\"LastEvaluatedKey\":%s", t);
		free(t);
		cJSON_Delete(lek);
		cJSON_Delete(item);
	}
	buf_adds(&b, "}");
	reply_raw(q, &b);
	return 0;
}

static int op_scan(struct req *q) { return read_page(q, 0); }
static int op_query(struct req *q) { return read_page(q, 1); }

/* ---- tables ---- */

static cJSON *key_schema(const struct table *t)
{
	cJSON *ks = cJSON_CreateArray();
	const struct keydef *defs[2] = { &t->hk, t->rk.type ? &t->rk : NULL };
	for (int i = 0; i < 2 && defs[i]; i++) {
		cJSON *k = cJSON_CreateObject();
		cJSON_AddStringToObject(k, "AttributeName", defs[i]->name);
		cJSON_AddStringToObject(k, "KeyType", i ? "RANGE" : "HASH");
		cJSON_AddItemToArray(ks, k);
	}
	return ks;
}

static void table_arn(struct fake *f, const struct table *t, char *out, size_t len)
{
	snprintf(out, len, "arn:aws:dynamodb:%s:%s:table/%s", f->region, f->account, t->name);
}

struct ddb_stream *fake_ddb_stream_find(struct fake *f, const char *arn)
{
	for (struct table *t = ddb_of(f)->tables; arn && t; t = t->next)
		if (t->stream && strcmp(ddbs_arn(t->stream), arn) == 0)
			return t->stream;
	return NULL;
}

static cJSON *describe(struct req *q, const struct table *t, const char *status)
{
	cJSON *d = cJSON_CreateObject();
	cJSON *ad = cJSON_AddArrayToObject(d, "AttributeDefinitions");
	const struct keydef *defs[2] = { &t->hk, t->rk.type ? &t->rk : NULL };
	for (int i = 0; i < 2 && defs[i]; i++) {
		char ty[2] = { defs[i]->type, 0 };
		cJSON *a = cJSON_CreateObject();
		cJSON_AddStringToObject(a, "AttributeName", defs[i]->name);
		cJSON_AddStringToObject(a, "AttributeType", ty);
		cJSON_AddItemToArray(ad, a);
	}
	cJSON_AddItemToObject(d, "KeySchema", key_schema(t));
	cJSON_AddStringToObject(d, "TableName", t->name);
	cJSON_AddStringToObject(d, "TableStatus", status);
	cJSON_AddNumberToObject(d, "CreationDateTime", (double)t->created_ms / 1000.0);
	cJSON_AddNumberToObject(d, "ItemCount", (double)t->count);
	cJSON_AddNumberToObject(d, "TableSizeBytes", (double)t->bytes);
	char arn[512];
	table_arn(q->f, t, arn, sizeof arn);
	cJSON_AddStringToObject(d, "TableArn", arn);
	cJSON *bm = cJSON_AddObjectToObject(d, "BillingModeSummary");
	cJSON_AddStringToObject(bm, "BillingMode", "PAY_PER_REQUEST");
	cJSON *pt = cJSON_AddObjectToObject(d, "ProvisionedThroughput");
	cJSON_AddNumberToObject(pt, "NumberOfDecreasesToday", 0);
	cJSON_AddNumberToObject(pt, "ReadCapacityUnits", 0);
	cJSON_AddNumberToObject(pt, "WriteCapacityUnits", 0);
	if (ddbs_enabled(t->stream)) {
		cJSON *ss = cJSON_AddObjectToObject(d, "StreamSpecification");
		cJSON_AddBoolToObject(ss, "StreamEnabled", 1);
		cJSON_AddStringToObject(ss, "StreamViewType", ddbs_view(t->stream));
	}
	if (t->stream) {  /* AWS names the latest stream even once it is disabled */
		cJSON_AddStringToObject(d, "LatestStreamLabel", ddbs_label(t->stream));
		cJSON_AddStringToObject(d, "LatestStreamArn", ddbs_arn(t->stream));
	}
	return d;
}

/* StreamSpecification of CreateTable / UpdateTable onto t. */
static int stream_spec(struct req *q, struct table *t, const cJSON *ss)
{
	const cJSON *en = cJSON_GetObjectItemCaseSensitive(ss, "StreamEnabled");
	const char *view = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ss, "StreamViewType"));
	if (!cJSON_IsBool(en))
		return invalid(q, "StreamSpecification: StreamEnabled must be given (a boolean)");
	if (!cJSON_IsTrue(en)) {
		if (!ddbs_enabled(t->stream))
			return bad(q, "ValidationException", "Table %s has no enabled stream to disable", t->name);
		ddbs_disable(t->stream);
		return 0;
	}
	static const char *const views[] = { "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES", "KEYS_ONLY", NULL };
	int ok = 0;
	for (int i = 0; view && views[i]; i++)
		ok |= strcmp(view, views[i]) == 0;
	if (!ok)
		return invalid(q, "One or more parameter values were invalid: StreamViewType must be one of NEW_IMAGE, "
			       "OLD_IMAGE, NEW_AND_OLD_IMAGES, KEYS_ONLY when streams are enabled");
	if (ddbs_enabled(t->stream))
		return bad(q, "ValidationException", "Table already has an enabled stream: %s", t->name);
	char arn[512];
	table_arn(q->f, t, arn, sizeof arn);
	cJSON *ks = key_schema(t);
	ddbs_free(t->stream);
	t->stream = ddbs_new(q->f, t->name, arn, view, ks, fake_now_ms_int(q->f) + q->f->opt.table_lag_ms);
	cJSON_Delete(ks);
	return 0;
}

static int op_create_table(struct req *q)
{
	static const char *const allowed[] = { "TableName", "KeySchema", "AttributeDefinitions", "BillingMode",
					       "StreamSpecification", "ProvisionedThroughput", NULL };
	if (check_params(q, allowed) < 0)
		return -1;
	const char *name = str_param(q, "TableName");
	if (!name || !name[0] || strlen(name) > 255)
		return invalid(q, "1 validation error detected: Value at 'tableName' failed to satisfy constraint: Member "
			       "must have length between 3 and 255");
	const char *bm = str_param(q, "BillingMode");
	if (bm && strcmp(bm, "PAY_PER_REQUEST") != 0 && strcmp(bm, "PROVISIONED") != 0)
		return bad(q, "ValidationException", "BillingMode '%s' is not one of PAY_PER_REQUEST, PROVISIONED", bm);
	if ((!bm || strcmp(bm, "PROVISIONED") == 0) && !cJSON_GetObjectItemCaseSensitive(q->in, "ProvisionedThroughput"))
		return invalid(q, "One or more parameter values were invalid: ReadCapacityUnits and WriteCapacityUnits "
			       "must both be specified when BillingMode is PROVISIONED");
	const char *hk = NULL, *rk = NULL;
	const cJSON *ks = cJSON_GetObjectItemCaseSensitive(q->in, "KeySchema"), *e;
	cJSON_ArrayForEach(e, ks) {
		const char *n = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "AttributeName"));
		const char *kt = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "KeyType"));
		if (n && kt && strcmp(kt, "HASH") == 0 && !hk)
			hk = n;
		else if (n && kt && strcmp(kt, "RANGE") == 0 && !rk)
			rk = n;
		else
			return invalid(q, "Invalid KeySchema: one HASH key and at most one RANGE key, each named");
	}
	if (!hk)
		return invalid(q, "Invalid KeySchema: No Hash Key specified");
	char ht = 0, rt = 0;
	const cJSON *ad = cJSON_GetObjectItemCaseSensitive(q->in, "AttributeDefinitions");
	int nd = 0;
	cJSON_ArrayForEach(e, ad) {
		const char *n = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "AttributeName"));
		const char *at = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "AttributeType"));
		nd++;
		if (!n || !at || strlen(at) != 1 || !strchr("SNB", at[0]))
			return invalid(q, "One or more parameter values were invalid: an AttributeDefinition needs "
				       "AttributeName and AttributeType S, N or B");
		if (strcmp(n, hk) == 0)
			ht = at[0];
		else if (rk && strcmp(n, rk) == 0)
			rt = at[0];
		else
			return invalid(q, "One or more parameter values were invalid: Number of attributes in KeySchema does "
				       "not exactly match number of attributes defined in AttributeDefinitions");
	}
	if (!ht || (rk && !rt) || nd != (rk ? 2 : 1))
		return invalid(q, "One or more parameter values were invalid: Some index key attributes are not defined "
			       "in AttributeDefinitions");
	if (table_find(q->f, name))
		return bad(q, "ResourceInUseException", "Table already exists: %s", name);
	struct table *t = table_add(q->f, name, hk, ht, rk, rt);
	t->busy_until_ms = t->created_ms + q->f->opt.table_lag_ms;  /* CREATING until then */
	t->creating = 1;
	const cJSON *ss = cJSON_GetObjectItemCaseSensitive(q->in, "StreamSpecification");
	if (ss && stream_spec(q, t, ss) < 0) {
		ddb_of(q->f)->tables = t->next;
		table_free(t);
		return -1;
	}
	cJSON *body = cJSON_CreateObject();
	cJSON_AddItemToObject(body, "TableDescription", describe(q, t, table_status(q->f, t)));
	reply(q, body);
	return 0;
}

static int op_describe_table(struct req *q)
{
	static const char *const allowed[] = { "TableName", NULL };
	if (check_params(q, allowed) < 0 || need_table(q) < 0)
		return -1;
	cJSON *body = cJSON_CreateObject();
	cJSON_AddItemToObject(body, "Table", describe(q, q->t, table_status(q->f, q->t)));
	reply(q, body);
	return 0;
}

static int op_update_table(struct req *q)
{
	static const char *const allowed[] = { "TableName", "StreamSpecification", NULL };
	if (check_params(q, allowed) < 0 || need_active_table(q) < 0)
		return -1;
	const cJSON *ss = cJSON_GetObjectItemCaseSensitive(q->in, "StreamSpecification");
	if (!ss)
		return invalid(q, "UpdateTable: the fake models StreamSpecification only, and none was given");
	if (stream_spec(q, q->t, ss) < 0)
		return -1;
	/* asynchronous: UPDATING, the stream ENABLING, for the lag */
	q->t->busy_until_ms = fake_now_ms_int(q->f) + q->f->opt.table_lag_ms;
	q->t->creating = 0;
	cJSON *body = cJSON_CreateObject();
	cJSON_AddItemToObject(body, "TableDescription", describe(q, q->t, table_status(q->f, q->t)));
	reply(q, body);
	return 0;
}

static int op_delete_table(struct req *q)
{
	static const char *const allowed[] = { "TableName", NULL };
	if (check_params(q, allowed) < 0 || need_active_table(q) < 0)
		return -1;
	cJSON *body = cJSON_CreateObject();
	cJSON_AddItemToObject(body, "TableDescription", describe(q, q->t, "DELETING"));
	struct table **pp = &ddb_of(q->f)->tables;
	while (*pp != q->t)
		pp = &(*pp)->next;
	*pp = q->t->next;
	table_free(q->t);
	q->t = NULL;
	reply(q, body);
	return 0;
}

static int op_describe_ttl(struct req *q)
{
	static const char *const allowed[] = { "TableName", NULL };
	if (check_params(q, allowed) < 0 || need_table(q) < 0)
		return -1;
	cJSON *body = cJSON_CreateObject(), *d = cJSON_AddObjectToObject(body, "TimeToLiveDescription");
	cJSON_AddStringToObject(d, "TimeToLiveStatus", q->t->ttl_attr ? "ENABLED" : "DISABLED");
	if (q->t->ttl_attr)
		cJSON_AddStringToObject(d, "AttributeName", q->t->ttl_attr);
	reply(q, body);
	return 0;
}

static int op_update_ttl(struct req *q)
{
	static const char *const allowed[] = { "TableName", "TimeToLiveSpecification", NULL };
	if (check_params(q, allowed) < 0 || need_active_table(q) < 0)
		return -1;
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(q->in, "TimeToLiveSpecification");
	const cJSON *en = cJSON_GetObjectItemCaseSensitive(s, "Enabled");
	const char *attr = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(s, "AttributeName"));
	if (!cJSON_IsBool(en) || !attr || !attr[0])
		return invalid(q, "TimeToLiveSpecification needs Enabled (a boolean) and AttributeName");
	if (cJSON_IsTrue(en) == (q->t->ttl_attr != NULL))
		return invalid(q, cJSON_IsTrue(en) ? "TimeToLive is already enabled" : "TimeToLive is already disabled");
	free(q->t->ttl_attr);
	q->t->ttl_attr = cJSON_IsTrue(en) ? tp_xstrdup(attr) : NULL;
	cJSON *body = cJSON_CreateObject();
	cJSON_AddItemToObject(body, "TimeToLiveSpecification", cJSON_Duplicate(s, 1));
	reply(q, body);
	return 0;
}

/* ---- the service ---- */

static const struct {
	const char *name;
	int (*fn)(struct req *q);
} ops[] = {
	{ "GetItem", op_get_item },
	{ "PutItem", op_put_item },
	{ "UpdateItem", op_update_item },
	{ "DeleteItem", op_delete_item },
	{ "Query", op_query },
	{ "Scan", op_scan },
	{ "CreateTable", op_create_table },
	{ "DescribeTable", op_describe_table },
	{ "UpdateTable", op_update_table },
	{ "DeleteTable", op_delete_table },
	{ "DescribeTimeToLive", op_describe_ttl },
	{ "UpdateTimeToLive", op_update_ttl },
};

int fake_ddb_handle(struct fake *f, struct fake_req *r, struct http_response *out)
{
	if (strncmp(r->target, "DynamoDBStreams_20120810.", 25) == 0)
		return fake_ddbstream_handle(f, r, out);
	if (strncmp(r->target, "DynamoDB_20120810.", 18) != 0) {
		fake_reply_error(out, 400, "UnknownOperationException", "the fake's dynamodb has no operation '%s'",
				 r->target[0] ? r->target : r->op);
		return 0;
	}
	int (*fn)(struct req *) = NULL;
	for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
		if (strcmp(ops[i].name, r->op) == 0)
			fn = ops[i].fn;
	if (!fn) {
		fake_reply_error(out, 400, "UnknownOperationException", "the fake's dynamodb has no operation '%s'", r->op);
		return 0;
	}
	int64_t after;
	if (fake_quota(f, "dynamodb", 40000, 40000, &after)) {
		fake_reply_throttled(f, r, out, "ProvisionedThroughputExceededException", after);
		return 0;
	}
	struct req q = { .f = f, .r = r, .out = out };
	q.in = cJSON_ParseWithLength(r->body, r->body_len);
	if (!cJSON_IsObject(q.in)) {
		fake_reply_error(out, 400, "SerializationException", "the body of %s is not a JSON object", r->op);
	} else {
		fn(&q);
		if (!q.replied)
			fake_reply_error(out, 500, "InternalServerError", "the fake's dynamodb gave no answer to %s", r->op);
	}
	req_free(&q);
	cJSON_Delete(q.in);
	return 0;
}
