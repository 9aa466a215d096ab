/* fake_iam.c: IAM for the fake (fake.h, fake_iam_set_policy): which key
 * holds which policies, what IAM authorizes for one request (the C twin of
 * tests/integration/iamrequest.py: the operation's own action and resource,
 * then what the service checks on the caller's behalf), the evaluation
 * record, and AWS's refusal of each service (iamlayer.py's _refusal).
 * Evaluation itself is fake_iam_eval.c.
 *
 * The actions, resources and condition keys are the Service Authorization
 * Reference's, as iamrequest.py cites them ([lambda], [ddb], [sqs], [s3],
 * [tag], [cw]); only the operations the fake answers are mapped: any other
 * request goes on unauthorized to its service, which refuses it by name. */
#include "fake/fake_int.h"
#include "fake/fake_iam_eval.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define POLICIES_PATH "tests/fake/iam_policies.json"

struct principal {
	char *key;                  /* NULL: every key without its own */
	char *arn;
	struct fake_iam_policy *pol;
};

struct fake_iam {
	struct principal *p;
	size_t n_p;
	struct fake_iam_record *rec;
	size_t n_rec, cap_rec;
	long denied;
	int skip_allowed;           /* keep refusals only (fake_iam_keep_allowed 0) */
};

/* One authorization: action on resource with a context (an object, owned). */
struct check {
	char *action, *resource, *why;
	cJSON *ctx;
};

struct checks {
	struct check *v;
	size_t n, cap;
};

/* ---- state ---- */

static void record_free(struct fake_iam_record *r)
{
	free((char *)r->key);
	free((char *)r->service);
	free((char *)r->op);
	free((char *)r->action);
	free((char *)r->resource);
	free((char *)r->context);
	free((char *)r->why);
	free((char *)r->effect);
	free((char *)r->sid);
}

void fake_iam_clear(struct fake *f)
{
	if (!f->iam)
		return;
	for (size_t i = 0; i < f->iam->n_rec; i++)
		record_free(&f->iam->rec[i]);
	f->iam->n_rec = 0;
	f->iam->denied = 0;
}

void fake_iam_free(struct fake_iam *iam)
{
	if (!iam)
		return;
	for (size_t i = 0; i < iam->n_p; i++) {
		free(iam->p[i].key);
		free(iam->p[i].arn);
		fake_iam_policy_free(iam->p[i].pol);
	}
	free(iam->p);
	for (size_t i = 0; i < iam->n_rec; i++)
		record_free(&iam->rec[i]);
	free(iam->rec);
	free(iam);
}

int fake_iam_set_policy(struct fake *f, const char *access_key, const char *principal_arn,
			const char *policy_json, tp_err *e)
{
	char err[256];
	if (!policy_json) {                         /* the key's policy removed */
		for (size_t i = 0; f->iam && i < f->iam->n_p; i++) {
			struct principal *p = &f->iam->p[i];
			if (access_key ? p->key && strcmp(p->key, access_key) == 0 : !p->key) {
				free(p->key);
				free(p->arn);
				fake_iam_policy_free(p->pol);
				*p = f->iam->p[--f->iam->n_p];
				break;
			}
		}
		return TP_OK;
	}
	struct fake_iam_policy *pol = fake_iam_policy_parse(policy_json, err, sizeof err);
	if (!pol)
		return tp_errf(e, TP_EINVAL, "InvalidPolicy", "fake_iam_set_policy(%s): %s",
			       access_key ? access_key : "every key", err);
	if (!f->iam)
		f->iam = tp_xcalloc(1, sizeof *f->iam);
	struct fake_iam *iam = f->iam;
	struct principal *p = NULL;
	for (size_t i = 0; i < iam->n_p && !p; i++)
		if (access_key ? iam->p[i].key && strcmp(iam->p[i].key, access_key) == 0 : !iam->p[i].key)
			p = &iam->p[i];
	if (!p) {
		iam->p = tp_xrealloc(iam->p, (iam->n_p + 1) * sizeof *iam->p);
		p = &iam->p[iam->n_p++];
		p->key = tp_xstrdup(access_key);
	} else {
		free(p->arn);
		fake_iam_policy_free(p->pol);
	}
	p->arn = principal_arn ? tp_xstrdup(principal_arn) : tp_xasprintf("arn:aws:iam::%s:user/fake", f->account);
	p->pol = pol;
	return TP_OK;
}

size_t fake_iam_records(const struct fake *f, const struct fake_iam_record **out)
{
	*out = f->iam ? f->iam->rec : NULL;
	return f->iam ? f->iam->n_rec : 0;
}

long fake_iam_denied(const struct fake *f)
{
	return f->iam ? f->iam->denied : 0;
}

void fake_iam_keep_allowed(struct fake *f, int keep)
{
	if (!f->iam)
		f->iam = tp_xcalloc(1, sizeof *f->iam);
	f->iam->skip_allowed = !keep;
}

static void note(struct fake_iam *iam, const char *key, const struct fake_req *r, const struct check *c,
		 const char *effect, const char *sid)
{
	int allowed = strcmp(effect, "Allow") == 0;
	iam->denied += !allowed;
	if (allowed && iam->skip_allowed)
		return;
	if (iam->n_rec == iam->cap_rec) {
		iam->cap_rec = iam->cap_rec ? iam->cap_rec * 2 : 64;
		iam->rec = tp_xrealloc(iam->rec, iam->cap_rec * sizeof *iam->rec);
	}
	char *ctx = c->ctx ? cJSON_PrintUnformatted(c->ctx) : NULL;
	iam->rec[iam->n_rec++] = (struct fake_iam_record){
		.key = tp_xstrdup(key ? key : ""), .service = tp_xstrdup(r->service), .op = tp_xstrdup(r->op),
		.action = tp_xstrdup(c->action), .resource = tp_xstrdup(c->resource),
		.context = ctx ? ctx : tp_xstrdup("{}"), .why = tp_xstrdup(c->why), .effect = tp_xstrdup(effect),
		.sid = tp_xstrdup(sid ? sid : ""),
	};
}

/* ---- the checks of a request ---- */

static void add(struct checks *cs, const char *action, const char *resource, cJSON *ctx, const char *why_fmt, ...)
	__attribute__((format(printf, 5, 6)));
static void add(struct checks *cs, const char *action, const char *resource, cJSON *ctx, const char *why_fmt, ...)
{
	if (cs->n == cs->cap) {
		cs->cap = cs->cap ? cs->cap * 2 : 4;
		cs->v = tp_xrealloc(cs->v, cs->cap * sizeof *cs->v);
	}
	buf why = { 0 };
	va_list ap;
	va_start(ap, why_fmt);
	buf_vaddf(&why, why_fmt, ap);
	va_end(ap);
	cs->v[cs->n++] = (struct check){ tp_xstrdup(action), tp_xstrdup(resource), buf_steal(&why), ctx };
}

static void checks_free(struct checks *cs)
{
	for (size_t i = 0; i < cs->n; i++) {
		free(cs->v[i].action);
		free(cs->v[i].resource);
		free(cs->v[i].why);
		cJSON_Delete(cs->v[i].ctx);
	}
	free(cs->v);
}

/* A context of one key: a string, or (list) a list of one string. */
static cJSON *ctx1(const char *key, const char *value, int list)
{
	cJSON *c = cJSON_CreateObject();
	if (list) {
		cJSON *a = cJSON_AddArrayToObject(c, key);
		cJSON_AddItemToArray(a, cJSON_CreateString(value));
	} else {
		cJSON_AddStringToObject(c, key, value);
	}
	return c;
}

static const char *str_member(const cJSON *o, const char *name)
{
	const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, name));
	return s && s[0] ? s : NULL;
}

/* ---- Lambda [lambda] ---- */

/* A function name, partial ARN or ARN as the function's ARN (qualifier kept). */
static void function_arn(struct fake *f, const char *ref, char *out, size_t len)
{
	const char *c1 = strchr(ref, ':');
	if (strncmp(ref, "arn:", 4) == 0)
		snprintf(out, len, "%s", ref);
	else if (c1 && strncmp(c1, ":function:", 10) == 0)   /* 123456789012:function:name[:q] */
		snprintf(out, len, "arn:aws:lambda:%s:%s", f->region, ref);
	else
		snprintf(out, len, "arn:aws:lambda:%s:%s:function:%s", f->region, f->account, ref);
}

/* What the service checks for a function's configuration and code. */
static void implied_function(struct checks *cs, const cJSON *config, const cJSON *code, const char *op)
{
	const char *role = str_member(config, "Role");
	if (role)
		add(cs, "iam:PassRole", role, ctx1("iam:PassedToService", "lambda.amazonaws.com", 0),
		    "%s passes Role", op);
	const cJSON *layer;
	cJSON_ArrayForEach(layer, cJSON_GetObjectItemCaseSensitive(config, "Layers"))
		if (cJSON_IsString(layer))
			add(cs, "lambda:GetLayerVersion", layer->valuestring, NULL, "%s adds layer", op);
	const char *bucket = str_member(code, "S3Bucket");
	if (bucket) {
		const char *key = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(code, "S3Key"));
		char *obj = tp_xasprintf("arn:aws:s3:::%s/%s", bucket, key ? key : "");
		add(cs, str_member(code, "S3ObjectVersion") ? "s3:GetObjectVersion" : "s3:GetObject", obj, NULL,
		    "%s reads code from S3", op);
		free(obj);
	}
}

static int lambda_checks(struct fake *f, struct fake_req *r, const cJSON *doc, struct checks *cs)
{
	char id[512], action[96], fn[600];
	if (fake_lambda_route(r, id, sizeof id) < 0)
		return -1;
	const char *op = r->op;
	snprintf(action, sizeof action, "lambda:%s", op);
	if (!strcmp(op, "ListFunctions") || !strcmp(op, "ListEventSourceMappings") || !strcmp(op, "GetAccountSettings")) {
		add(cs, action, "*", NULL, "request");
	} else if (!strcmp(op, "CreateEventSourceMapping")) {
		const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "FunctionName"));
		function_arn(f, name ? name : "", fn, sizeof fn);
		add(cs, action, "*", ctx1("lambda:FunctionArn", fn, 0), "request");
	} else if (strstr(op, "EventSourceMapping")) {      /* Get/Update/Delete by UUID */
		char *arn = tp_xasprintf("arn:aws:lambda:%s:%s:event-source-mapping:%s", f->region, f->account, id);
		add(cs, action, arn, fake_lambda_esm_function(f, id, fn, sizeof fn) ?
		    ctx1("lambda:FunctionArn", fn, 0) : NULL, "request");
		free(arn);
	} else if (!strcmp(op, "ListTags") || !strcmp(op, "TagResource") || !strcmp(op, "UntagResource")) {
		add(cs, action, id, NULL, "request");
	} else if (!strcmp(op, "CreateFunction")) {
		const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "FunctionName"));
		function_arn(f, name ? name : "", fn, sizeof fn);
		add(cs, action, fn, NULL, "request");
		implied_function(cs, doc, cJSON_GetObjectItemCaseSensitive(doc, "Code"), op);
		if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(doc, "Tags")) > 0)
			add(cs, "lambda:TagResource", fn, NULL, "CreateFunction tags on create");
	} else {                                            /* /functions/<id>[/...] */
		char q[128];
		function_arn(f, id, fn, sizeof fn);
		int colons = 0;
		for (const char *p = fn; *p; p++)
			colons += *p == ':';
		if (fake_query_param(r, "Qualifier", q, sizeof q) && q[0] && colons == 6)
			snprintf(fn + strlen(fn), sizeof fn - strlen(fn), ":%s", q);
		add(cs, action, fn, NULL, "request");
		if (!strcmp(op, "GetFunction") && fake_lambda_function_tagged(f, fn))
			add(cs, "lambda:ListTags", fn, NULL, "GetFunction of a tagged function");
		if (!strcmp(op, "UpdateFunctionConfiguration"))
			implied_function(cs, doc, NULL, op);
		else if (!strcmp(op, "UpdateFunctionCode"))
			implied_function(cs, NULL, doc, op);
	}
	return 0;
}

/* ---- DynamoDB and Streams [ddb] ---- */

static char *table_arn(struct fake *f, const char *name)
{
	return strncmp(name, "arn:", 4) == 0 ? tp_xstrdup(name)
					     : tp_xasprintf("arn:aws:dynamodb:%s:%s:table/%s", f->region, f->account, name);
}

/* dynamodb:LeadingKeys: the partition key's value of the item or key (pk
 * NULL: the one attribute of a one-attribute key); NULL when none. */
static const char *leading_key(const cJSON *item, const char *pk)
{
	if (!cJSON_IsObject(item) || !item->child)
		return NULL;
	if (!pk) {
		if (cJSON_GetArraySize(item) != 1)
			return NULL;
		pk = item->child->string;
	}
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(item, pk);
	return v && v->child ? cJSON_GetStringValue(v->child) : NULL;
}

static int ddb_checks(struct fake *f, struct fake_req *r, const cJSON *doc, struct checks *cs)
{
	if (strncmp(r->target, "DynamoDB_20120810.", 18) != 0 && strncmp(r->target, "DynamoDBStreams_20120810.", 25) != 0)
		return -1;
	const char *op = r->op;
	char action[96];
	snprintf(action, sizeof action, "dynamodb:%s", op);
	if (!strcmp(op, "ListTables") || !strcmp(op, "DescribeLimits") || !strcmp(op, "DescribeEndpoints")) {
		add(cs, action, "*", NULL, "request");
		return 0;
	}
	if (!strcmp(op, "DescribeStream") || !strcmp(op, "GetShardIterator")) {
		const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "StreamArn"));
		add(cs, action, s ? s : "", NULL, "request");
		return 0;
	}
	if (!strcmp(op, "GetRecords")) {
		/* AWS reads the stream from its iterator; the fake's are "<at>|<issued>|<shard>|<stream ARN>". */
		const char *it = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "ShardIterator"));
		const char *arn = it ? strstr(it, "arn:") : NULL;
		if (!arn)
			return -1;                  /* the service answers Invalid ShardIterator */
		char *s = tp_xstrndup(arn, strcspn(arn, "|"));
		add(cs, action, s, NULL, "request");
		free(s);
		return 0;
	}
	const char *name = str_member(doc, "TableName");
	if (!strcmp(op, "ListStreams")) {
		char *t = name ? table_arn(f, name) : NULL;
		char *s = t ? tp_xasprintf("%s/stream/*", t) : NULL;
		add(cs, action, s ? s : "*", NULL, "request");
		free(t);
		free(s);
		return 0;
	}
	if (!name)
		return -1;                          /* the service names what is missing */
	cJSON *ctx = NULL;
	if (!strcmp(op, "GetItem") || !strcmp(op, "PutItem") || !strcmp(op, "UpdateItem") || !strcmp(op, "DeleteItem")) {
		const char *tname = strncmp(name, "arn:", 4) == 0 ? strrchr(name, '/') + 1 : name;
		const char *lk = leading_key(cJSON_GetObjectItemCaseSensitive(doc, !strcmp(op, "PutItem") ? "Item" : "Key"),
					     fake_ddb_hash_key(f, tname));
		if (lk)
			ctx = ctx1("dynamodb:LeadingKeys", lk, 1);
	}
	char *t = table_arn(f, name);
	add(cs, action, t, ctx, "request");
	free(t);
	return 0;
}

/* ---- SQS [sqs] ---- */

static char *queue_arn_of_url(struct fake *f, const char *url)
{
	const char *p = strstr(url, "://");
	p = p ? strchr(p + 3, '/') : url;
	if (!p)
		p = "";
	while (*p == '/')
		p++;
	size_t n = strlen(p);
	while (n && p[n - 1] == '/')
		n--;
	const char *last = p + n, *name, *owner = NULL;
	for (name = last; name > p && name[-1] != '/'; name--)
		;
	if (name > p) {
		const char *o = name - 1;
		for (owner = o; owner > p && owner[-1] != '/'; owner--)
			;
		return tp_xasprintf("arn:aws:sqs:%s:%.*s:%.*s", f->region, (int)(o - owner), owner,
				    (int)(last - name), name);
	}
	return tp_xasprintf("arn:aws:sqs:%s:%s:%.*s", f->region, f->account, (int)(last - name), name);
}

static int sqs_checks(struct fake *f, struct fake_req *r, const cJSON *doc, struct checks *cs)
{
	if (strncmp(r->target, "AmazonSQS.", 10) != 0)
		return -1;
	const char *op = r->op;
	char action[96];
	/* the *Batch calls are authorized as their single action */
	size_t n = strlen(op);
	if (n > 5 && strcmp(op + n - 5, "Batch") == 0)
		snprintf(action, sizeof action, "sqs:%.*s", (int)(n - 5), op);
	else
		snprintf(action, sizeof action, "sqs:%s", op);
	const char *url = str_member(doc, "QueueUrl"), *name = str_member(doc, "QueueName");
	if (!strcmp(op, "ListQueues")) {
		add(cs, action, "*", NULL, "request");
	} else if (url) {
		char *arn = queue_arn_of_url(f, url);
		add(cs, action, arn, NULL, "request");
		free(arn);
	} else if (name) {
		const char *owner = str_member(doc, "QueueOwnerAWSAccountId");
		char *arn = tp_xasprintf("arn:aws:sqs:%s:%s:%s", f->region, owner ? owner : f->account, name);
		add(cs, action, arn, NULL, "request");
		if (!strcmp(op, "CreateQueue") && cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(doc, "tags")) > 0)
			add(cs, "sqs:TagQueue", arn, NULL, "CreateQueue tags on create");
		free(arn);
	} else if (!strcmp(op, "StartMessageMoveTask") && str_member(doc, "SourceArn")) {
		add(cs, action, str_member(doc, "SourceArn"), NULL, "request");
	} else {
		return -1;
	}
	return 0;
}

/* ---- S3 [s3] ---- */

static int has_param(const struct fake_req *r, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = r->query; p && *p;) {
		size_t k = strcspn(p, "&");
		if ((k == n || (k > n && p[n] == '=')) && strncmp(p, name, n) == 0)
			return 1;
		p += k + (p[k] == '&');
	}
	return 0;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static char *pct_decode(const char *s, size_t n)
{
	char *o = tp_xmalloc(n + 1), *w = o;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
			*w++ = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
			i += 2;
		} else {
			*w++ = s[i];
		}
	}
	*w = 0;
	return o;
}

static int s3_checks(struct fake *f, struct fake_req *r, struct checks *cs)
{
	const char *p = r->path[0] == '/' ? r->path + 1 : r->path;
	size_t bl = strcspn(p, "/");
	if (!bl)
		return -1;                          /* ListBuckets: the fake's S3 has none */
	char *bucket = pct_decode(p, bl);
	char *key = p[bl] == '/' && p[bl + 1] ? pct_decode(p + bl + 1, strlen(p + bl + 1)) : NULL;
	const char *m = r->method, *op = NULL, *action = NULL;
	char version[256];
	int versioned = fake_query_param(r, "versionId", version, sizeof version) && version[0];
	int get = !strcmp(m, "GET"), head = !strcmp(m, "HEAD"), put = !strcmp(m, "PUT"), del = !strcmp(m, "DELETE");
	if (!key && put && !*r->query)
		op = "CreateBucket", action = "s3:CreateBucket";
	else if (!key && head && !*r->query)
		op = "HeadBucket", action = "s3:ListBucket";
	else if (!key && put && has_param(r, "versioning"))
		op = "PutBucketVersioning", action = "s3:PutBucketVersioning";
	else if (!key && get && has_param(r, "versioning"))
		op = "GetBucketVersioning", action = "s3:GetBucketVersioning";
	else if (!key && get && has_param(r, "versions"))
		op = "ListObjectVersions", action = "s3:ListBucketVersions";
	else if (key && put && !*r->query)
		op = "PutObject", action = "s3:PutObject";
	else if (key && (get || head))
		op = head ? "HeadObject" : "GetObject", action = versioned ? "s3:GetObjectVersion" : "s3:GetObject";
	else if (key && del)
		op = "DeleteObject", action = versioned ? "s3:DeleteObjectVersion" : "s3:DeleteObject";
	if (op) {
		snprintf(r->op, sizeof r->op, "%s", op);
		char *res = key ? tp_xasprintf("arn:aws:s3:::%s/%s", bucket, key) : tp_xasprintf("arn:aws:s3:::%s", bucket);
		add(cs, action, res, NULL, "request");
		free(res);
		char sha[45];
		if (key && (get || head) && !fake_s3_object(f, bucket, key, versioned ? version : NULL, sha, NULL)) {
			res = tp_xasprintf("arn:aws:s3:::%s", bucket);
			add(cs, "s3:ListBucket", res, NULL, "missing object: 404 with s3:ListBucket, else 403");
			free(res);
		}
	}
	free(bucket);
	free(key);
	return op ? 0 : -1;
}

/* ---- the rest ---- */

static int other_checks(struct fake_req *r, const cJSON *doc, struct checks *cs)
{
	char action[96];
	if (!strcmp(r->service, "tagging") && !strncmp(r->target, "ResourceGroupsTaggingAPI_20170126.", 34)) {
		snprintf(action, sizeof action, "tag:%s", r->op);     /* [tag] no resource */
		add(cs, action, "*", NULL, "request");
		return 0;
	}
	if (!strcmp(r->service, "monitoring") && !strncmp(r->target, "GraniteServiceVersion20100801.", 30)) {
		snprintf(action, sizeof action, "cloudwatch:%s", r->op);
		const char *ns = str_member(doc, "Namespace");        /* [cw] no resource */
		add(cs, action, "*", ns ? ctx1("cloudwatch:namespace", ns, 0) : NULL, "request");
		return 0;
	}
	return -1;
}

/* ---- refusals (iamlayer.py's _refusal and _unknown_key) ---- */

static void xml_escape(buf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '&')
			buf_adds(b, "&amp;");
		else if (*s == '<')
			buf_adds(b, "&lt;");
		else if (*s == '>')
			buf_adds(b, "&gt;");
		else if (*s == '"')
			buf_adds(b, "&quot;");
		else
			buf_addc(b, *s);
	}
}

static void json_error(struct http_response *out, long status, const char *content_type, const char *header,
		       const char *type_member, const char *type, const char *msg_member, const char *msg)
{
	buf_reset(&out->headers);
	buf_reset(&out->body);
	out->status = status;
	buf_addf(&out->headers, "Content-Type: %s\r\nx-amzn-RequestId: fake-req\r\n%s", content_type, header);
	cJSON *b = cJSON_CreateObject();
	cJSON_AddStringToObject(b, type_member, type);
	cJSON_AddStringToObject(b, msg_member, msg);
	char *s = cJSON_PrintUnformatted(b);
	buf_adds(&out->body, s);
	free(s);
	cJSON_Delete(b);
}

static void xml_error(struct http_response *out, const struct fake_req *r, long status, const char *code,
		      const char *msg)
{
	buf_reset(&out->headers);
	buf_reset(&out->body);
	out->status = status;
	buf_adds(&out->headers, "Content-Type: application/xml\r\nx-amz-request-id: FAKE0REQUEST0ID\r\n");
	if (!strcmp(r->method, "HEAD"))
		return;                             /* a HEAD answer has no body */
	buf_addf(&out->body, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s</Code><Message>", code);
	xml_escape(&out->body, msg);
	buf_adds(&out->body, "</Message><RequestId>FAKE0REQUEST0ID</RequestId></Error>");
}

static void refuse(struct fake_req *r, const struct check *c, enum fake_iam_effect eff, const char *principal,
		   struct http_response *out)
{
	int s3 = !strcmp(r->service, "s3");
	buf msg = { 0 };
	buf_addf(&msg, "User: %s is not authorized to perform: %s on resource: %s%s%s", principal, c->action,
		 s3 ? "\"" : "", c->resource, s3 ? "\"" : "");
	if (eff == FAKE_IAM_EXPLICIT_DENY)
		buf_adds(&msg, " with an explicit deny in an identity-based policy");
	else
		buf_addf(&msg, " because no identity-based policy allows the %s action", c->action);
	size_t wl = strlen(c->why), tl = strlen("reads code from S3");
	if (wl > tl && !strcmp(c->why + wl - tl, "reads code from S3")) {
		/* Lambda reading code from S3 with the caller's rights */
		char *m = tp_xasprintf("Your access has been denied by S3, please make sure your request credentials "
				       "have permission to GetObject for %s. S3 Error Code: AccessDenied. S3 Error "
				       "Message: Access Denied", c->resource + strlen("arn:aws:s3:::"));
		json_error(out, 400, "application/json", "x-amzn-ErrorType: InvalidParameterValueException\r\n", "Type",
			   "User", "message", m);
		free(m);
	} else if (!strcmp(r->service, "lambda")) {
		json_error(out, 403, "application/json", "x-amzn-ErrorType: AccessDeniedException\r\n", "Type", "User",
			   "Message", buf_str(&msg));
	} else if (!strcmp(r->service, "dynamodb")) {
		json_error(out, 400, "application/x-amz-json-1.0", "", "__type",
			   "com.amazon.coral.service#AccessDeniedException", "Message", buf_str(&msg));
	} else if (!strcmp(r->service, "sqs")) {
		json_error(out, 400, "application/x-amz-json-1.0", "x-amzn-query-error: AccessDenied;Sender\r\n", "__type",
			   "com.amazon.coral.service#AccessDeniedException", "message", buf_str(&msg));
	} else if (s3) {
		xml_error(out, r, 403, "AccessDenied", buf_str(&msg));
	} else {                                    /* Tagging, CloudWatch: AWS JSON */
		json_error(out, 400, "application/x-amz-json-1.1", "", "__type", "AccessDeniedException", "Message",
			   buf_str(&msg));
	}
	buf_free(&msg);
}

static void refuse_unknown_key(struct fake_req *r, struct http_response *out)
{
	const char *msg = "The security token included in the request is invalid.";
	if (!strcmp(r->service, "s3"))
		xml_error(out, r, 403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.");
	else if (!strcmp(r->service, "lambda"))
		json_error(out, 403, "application/json", "x-amzn-ErrorType: UnrecognizedClientException\r\n", "Type",
			   "User", "message", msg);
	else
		json_error(out, 400, "application/x-amz-json-1.0", "", "__type",
			   "com.amazon.coral.service#UnrecognizedClientException", "message", msg);
}

/* ---- the check ---- */

/* The access key id of the SigV4 Credential: AKID/date/region/service/aws4_request. */
static void access_key(const struct fake_req *r, char *out, size_t len)
{
	const char *a = fake_header(r, "Authorization");
	const char *c = a ? strstr(a, "Credential=") : NULL;
	out[0] = 0;
	if (c)
		snprintf(out, len, "%.*s", (int)strcspn(c + 11, "/,"), c + 11);
}

int fake_iam_authorize(struct fake *f, struct fake_req *r, struct http_response *out)
{
	struct fake_iam *iam = f->iam;
	if (!iam || !iam->n_p)
		return 0;                           /* no policy set: IAM is off */
	char key[128];
	access_key(r, key, sizeof key);
	const struct principal *who = NULL, *any = NULL;
	for (size_t i = 0; i < iam->n_p; i++) {
		if (iam->p[i].key && strcmp(iam->p[i].key, key) == 0)
			who = &iam->p[i];
		if (!iam->p[i].key)
			any = &iam->p[i];
	}
	who = who ? who : any;
	/* JSON bodies only (an S3 body is an object's bytes, maybe megabytes) */
	cJSON *doc = r->body_len && strcmp(r->service, "s3") != 0 ? cJSON_ParseWithLength(r->body, r->body_len) : NULL;
	if (!cJSON_IsObject(doc)) {
		cJSON_Delete(doc);
		doc = NULL;
	}
	struct checks cs = { 0 };
	int mapped;
	if (!strcmp(r->service, "lambda"))
		mapped = lambda_checks(f, r, doc, &cs);
	else if (!strcmp(r->service, "dynamodb"))
		mapped = ddb_checks(f, r, doc, &cs);
	else if (!strcmp(r->service, "sqs"))
		mapped = sqs_checks(f, r, doc, &cs);
	else if (!strcmp(r->service, "s3"))
		mapped = s3_checks(f, r, &cs);
	else
		mapped = other_checks(r, doc, &cs);
	int refused = 0;
	if (mapped < 0) {
		/* not an operation of the fake: its service refuses it by name */
	} else if (!who) {
		struct check c = { "*", "*", "unknown access key", NULL };
		note(iam, key, r, &c, "UnknownKey", NULL);
		refuse_unknown_key(r, out);
		refused = 1;
	} else {
		for (size_t i = 0; i < cs.n; i++) {
			const char *sid;
			enum fake_iam_effect eff = fake_iam_evaluate(who->pol, cs.v[i].action, cs.v[i].resource,
								     cs.v[i].ctx, &sid);
			note(iam, key, r, &cs.v[i], fake_iam_effect_name(eff), sid);
			if (!refused && eff != FAKE_IAM_ALLOW) {
				refuse(r, &cs.v[i], eff, who->arn, out);
				refused = 1;
			}
		}
	}
	checks_free(&cs);
	cJSON_Delete(doc);
	return refused;
}

/* ---- the template's roles (tests/fake/iam_policies.json) ---- */

/* text with every from[i] replaced by to[i] (n pairs). */
static char *replace_all(const char *text, const char *const *from, const char *const *to, size_t n)
{
	buf b = { 0 };
	for (const char *p = text; *p;) {
		size_t i;
		for (i = 0; i < n; i++)
			if (strncmp(p, from[i], strlen(from[i])) == 0)
				break;
		if (i < n) {
			buf_adds(&b, to[i]);
			p += strlen(from[i]);
		} else {
			buf_addc(&b, *p++);
		}
	}
	return buf_steal(&b);
}

char *fake_iam_template_policy(const char *role, const char *instance, const char *prefix, tp_err *e)
{
	buf text = { 0 };
	if (tp_read_file(POLICIES_PATH, 1 << 20, &text, e) < 0) {
		buf_free(&text);
		return NULL;
	}
	cJSON *root = cJSON_Parse(buf_str(&text));
	buf_free(&text);
	const cJSON *pols = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "roles"), role);
	if (!cJSON_IsArray(pols)) {
		cJSON_Delete(root);
		tp_errf(e, TP_EINVAL, "NoSuchRole", "%s has no role '%s'", POLICIES_PATH, role);
		return NULL;
	}
	char *json = cJSON_PrintUnformatted(pols);
	cJSON_Delete(root);
	char *ctl = tp_xasprintf("%s-ControllerRole", instance), *con = tp_xasprintf("%s-ConsumerRole", instance);
	const char *from[] = { "{InstanceName}", "{Prefix}", "{ControllerRole}", "{ConsumerRole}" };
	const char *to[] = { instance, prefix, ctl, con };
	char *out = replace_all(json, from, to, 4);
	free(json);
	free(ctl);
	free(con);
	return out;
}
