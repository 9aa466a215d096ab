/* fake_lambda.c: the fake Lambda's router (REST paths to operations), its
 * request quotas, tags and what the other services ask of it. Functions
 * are in fake_lambda_fn.c, event source mappings in fake_lambda_esm.c.
 * The rules are the AWS-faithful layer's (tests/integration/awsmodel.py:
 * _Fn, _Esm, ConcurrencyPool, lambda_error, [quotas], [pages]). */
#include "fake/fake_lambda_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct fake_lambda *fl_state(struct fake *f)
{
	if (!f->lambda)
		f->lambda = tp_xcalloc(1, sizeof *f->lambda);
	return f->lambda;
}

void fake_lambda_free(struct fake_lambda *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->fn_order.n; i++)
		if (l->fn_order.v[i])
			fl_fn_free(l->fn_order.v[i]);
	fl_esm_free_all(l);
	fl_limit_free_all(l);
	lmap_free(&l->fns);
	lorder_free(&l->fn_order);
	free(l);
}

void fake_lambda_each_tagged(struct fake *f, fake_tag_visit_fn fn, void *ctx)
{
	struct fake_lambda *l = f->lambda;
	if (!l)
		return;
	for (size_t i = 0; i < l->fn_order.n; i++) {
		struct lfn *x = l->fn_order.v[i];
		if (!x || !x->tags)
			continue;
		cJSON *t = cJSON_Parse(x->tags);
		if (t && cJSON_GetArraySize(t) > 0) {
			char arn[256];
			fl_function_arn(f, x->name, arn, sizeof arn);
			fn(ctx, arn, t);
		}
		cJSON_Delete(t);
	}
}

/* ---- shared helpers ---- */

int fl_function_name(const char *ref, char *name, size_t len, char *qual, size_t qlen)
{
	if (qual && qlen)
		qual[0] = 0;
	if (!ref || !ref[0])
		return -1;
	const char *p = strstr(ref, ":function:");
	if (p)
		p += 10;                            /* arn:aws:lambda:r:acct:function:name[:q] */
	else if (strchr(ref, ':') && strchr(strchr(ref, ':') + 1, ':'))
		p = strrchr(ref, ':') + 1;          /* acct:function:name (partial) */
	else
		p = ref;                            /* name[:q] */
	const char *colon = strchr(p, ':');
	size_t n = colon ? (size_t)(colon - p) : strlen(p);
	if (!n || n >= len)
		return -1;
	memcpy(name, p, n);
	name[n] = 0;
	if (colon && qual && qlen)
		snprintf(qual, qlen, "%s", colon + 1);
	return 0;
}

void fl_function_arn(struct fake *f, const char *name, char *out, size_t len)
{
	snprintf(out, len, "arn:aws:lambda:%s:%s:function:%s", f->region, f->account, name);
}

void fl_iso_time(int64_t ms, char out[32])
{
	time_t s = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&s, &tm);
	snprintf(out, 32, "%04d-%02d-%02dT%02d:%02d:%02d.%03d+0000", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

void fl_not_found(struct fake *f, struct http_response *out, const char *name)
{
	char arn[256];
	fl_function_arn(f, name, arn, sizeof arn);
	fake_reply_error(out, 404, "ResourceNotFoundException", "Function not found: %s", arn);
}

/* ---- routing ---- */

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

/* One path segment, percent-decoded; -1 when too long or empty. */
static int segment(const char *s, size_t n, char *out, size_t len)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (o + 1 >= len)
			return -1;
		if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
			out[o++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
			i += 2;
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = 0;
	return o ? 0 : -1;
}

/* A parsed path: /VERSION/RESOURCE[/ID[/SUB]] */
struct route {
	char version[16], resource[32], id[512], sub[32];
	int parts;                  /* 2, 3 or 4 */
};

static int parse_path(const char *path, struct route *rt)
{
	memset(rt, 0, sizeof *rt);
	const char *p = path;
	char *fields[4] = { rt->version, rt->resource, rt->id, rt->sub };
	size_t sizes[4] = { sizeof rt->version, sizeof rt->resource, sizeof rt->id, sizeof rt->sub };
	for (int k = 0; k < 4; k++) {
		if (*p != '/')
			break;
		p++;
		size_t n = strcspn(p, "/");
		if (n == 0)                          /* a trailing slash */
			break;
		if (segment(p, n, fields[k], sizes[k]) < 0)
			return -1;
		rt->parts = k + 1;
		p += n;
	}
	if (*p == '/')
		p++;
	return *p ? -1 : 0;
}

enum { CLS_NONE, CLS_CONTROL, CLS_GET };

/* Sets r->op; returns the quota class, or -1 for no operation of ours. */
static int route_op(struct fake_req *r, const struct route *rt)
{
	const char *m = r->method, *v = rt->version, *res = rt->resource, *sub = rt->sub;
	const char *op = NULL;
	int is = 0;
#define IS(meth, ver, rs, parts_, sb) \
	(strcmp(m, meth) == 0 && strcmp(v, ver) == 0 && strcmp(res, rs) == 0 && rt->parts == (parts_) && \
	 strcmp(sub, sb) == 0)
	if (IS("POST", "2015-03-31", "functions", 2, ""))
		op = "CreateFunction";
	else if (IS("GET", "2015-03-31", "functions", 2, ""))
		op = "ListFunctions";
	else if (IS("GET", "2015-03-31", "functions", 3, ""))
		op = "GetFunction", is = 1;
	else if (IS("DELETE", "2015-03-31", "functions", 3, ""))
		op = "DeleteFunction";
	else if (IS("GET", "2015-03-31", "functions", 4, "configuration"))
		op = "GetFunctionConfiguration";
	else if (IS("PUT", "2015-03-31", "functions", 4, "configuration"))
		op = "UpdateFunctionConfiguration";
	else if (IS("PUT", "2015-03-31", "functions", 4, "code"))
		op = "UpdateFunctionCode";
	else if (IS("PUT", "2017-10-31", "functions", 4, "concurrency"))
		op = "PutFunctionConcurrency";
	else if (IS("DELETE", "2017-10-31", "functions", 4, "concurrency"))
		op = "DeleteFunctionConcurrency";
	else if (IS("GET", "2019-09-30", "functions", 4, "concurrency"))
		op = "GetFunctionConcurrency";
	else if (IS("POST", "2015-03-31", "event-source-mappings", 2, ""))
		op = "CreateEventSourceMapping";
	else if (IS("GET", "2015-03-31", "event-source-mappings", 2, ""))
		op = "ListEventSourceMappings";
	else if (IS("GET", "2015-03-31", "event-source-mappings", 3, ""))
		op = "GetEventSourceMapping";
	else if (IS("PUT", "2015-03-31", "event-source-mappings", 3, ""))
		op = "UpdateEventSourceMapping";
	else if (IS("DELETE", "2015-03-31", "event-source-mappings", 3, ""))
		op = "DeleteEventSourceMapping";
	else if (IS("POST", "2017-03-31", "tags", 3, ""))
		op = "TagResource";
	else if (IS("DELETE", "2017-03-31", "tags", 3, ""))
		op = "UntagResource";
	else if (IS("GET", "2017-03-31", "tags", 3, ""))
		op = "ListTags";
	else if (IS("GET", "2016-08-19", "account-settings", 2, ""))
		op = "GetAccountSettings";
#undef IS
	if (!op)
		return -1;
	snprintf(r->op, sizeof r->op, "%s", op);
	return is ? CLS_GET : CLS_CONTROL;
}

static void dispatch(struct fake *f, struct fake_req *r, const struct route *rt, struct http_response *out)
{
	const char *op = r->op;
	char name[256], qual[128];
	int takes_fn = strcmp(rt->resource, "functions") == 0 && rt->parts >= 3;
	if (takes_fn && fl_function_name(rt->id, name, sizeof name, qual, sizeof qual) < 0) {
		fake_reply_error(out, 400, "InvalidParameterValueException",
				 "%s: the function name '%s' is not a name or function ARN", op, rt->id);
		return;
	}
	if (takes_fn && qual[0] && strcmp(op, "GetFunction") != 0 && strcmp(op, "GetFunctionConfiguration") != 0) {
		fake_reply_error(out, 400, "InvalidParameterValueException",
				 "%s: the function name may not carry a qualifier ('%s')", op, qual);
		return;
	}
	if (takes_fn && !qual[0])
		fake_query_param(r, "Qualifier", qual, sizeof qual);
	if (strcmp(op, "CreateFunction") == 0)
		fl_create_function(f, r, out);
	else if (strcmp(op, "ListFunctions") == 0)
		fl_list_functions(f, r, out);
	else if (strcmp(op, "GetFunction") == 0)
		fl_get_function(f, name, qual, 1, out);
	else if (strcmp(op, "GetFunctionConfiguration") == 0)
		fl_get_function(f, name, qual, 0, out);
	else if (strcmp(op, "DeleteFunction") == 0)
		fl_delete_function(f, name, out);
	else if (strcmp(op, "UpdateFunctionConfiguration") == 0)
		fl_update_configuration(f, r, name, out);
	else if (strcmp(op, "UpdateFunctionCode") == 0)
		fl_update_code(f, r, name, out);
	else if (strcmp(op, "PutFunctionConcurrency") == 0)
		fl_put_concurrency(f, r, name, out);
	else if (strcmp(op, "DeleteFunctionConcurrency") == 0)
		fl_delete_concurrency(f, name, out);
	else if (strcmp(op, "GetFunctionConcurrency") == 0)
		fl_get_concurrency(f, name, out);
	else if (strcmp(op, "CreateEventSourceMapping") == 0)
		fl_esm_create(f, r, out);
	else if (strcmp(op, "ListEventSourceMappings") == 0)
		fl_esm_list(f, r, out);
	else if (strcmp(op, "GetEventSourceMapping") == 0)
		fl_esm_get(f, rt->id, out);
	else if (strcmp(op, "UpdateEventSourceMapping") == 0)
		fl_esm_update(f, r, rt->id, out);
	else if (strcmp(op, "DeleteEventSourceMapping") == 0)
		fl_esm_delete(f, rt->id, out);
	else if (strcmp(op, "GetAccountSettings") == 0)
		fl_account_settings(f, out);
	else
		fl_tags(f, r, rt->id, out);
}

int fake_lambda_handle(struct fake *f, struct fake_req *r, struct http_response *out)
{
	struct route rt;
	int cls = parse_path(r->path, &rt) < 0 ? -1 : route_op(r, &rt);
	if (cls < 0) {
		snprintf(r->op, sizeof r->op, "%s %s", r->method, r->path);
		fake_reply_error(out, 400, "UnknownOperationException",
				 "the fake's lambda has no operation %s %s", r->method, r->path);
		return 0;
	}
	/* [quotas]: GetFunction 100/s, the rest of the control plane 15/s. */
	int64_t after;
	if (fake_quota(f, cls == CLS_GET ? "lambda.get" : "lambda.control", cls == CLS_GET ? 100 : 15,
		       cls == CLS_GET ? 100 : 15, &after)) {
		fake_reply_throttled(f, r, out, "TooManyRequestsException", after);
		return 0;
	}
	fl_state(f);
	fl_esm_sweep(f);
	dispatch(f, r, &rt, out);
	return 0;
}

/* ---- tags (by function ARN) ---- */

void fl_tags(struct fake *f, struct fake_req *r, const char *arn, struct http_response *out)
{
	char name[256];
	struct lfn *fn = NULL;
	if (strncmp(arn, "arn:aws:lambda:", 15) != 0 || !strstr(arn, ":function:") ||
	    fl_function_name(arn, name, sizeof name, NULL, 0) < 0) {
		fake_reply_error(out, 400, "InvalidParameterValueException", "%s: '%s' is not a function ARN", r->op, arn);
		return;
	}
	if (!(fn = lmap_get(&f->lambda->fns, name))) {
		fl_not_found(f, out, name);
		return;
	}
	cJSON *tags = fn->tags ? cJSON_Parse(fn->tags) : cJSON_CreateObject();
	if (strcmp(r->op, "ListTags") == 0) {
		cJSON *b = cJSON_CreateObject();
		cJSON_AddItemToObject(b, "Tags", tags);
		fake_reply_json(out, 200, b);
		return;
	}
	if (strcmp(r->op, "TagResource") == 0) {
		cJSON *in = cJSON_Parse(r->body);
		cJSON *t = cJSON_GetObjectItemCaseSensitive(in, "Tags"), *kv;
		if (!cJSON_IsObject(t)) {
			fake_reply_error(out, 400, "InvalidParameterValueException", "TagResource: Tags must be an object of strings");
			goto done;
		}
		cJSON_ArrayForEach(kv, t) {
			if (!cJSON_IsString(kv) || strlen(kv->string) > 128 || strlen(kv->valuestring) > 256) {
				fake_reply_error(out, 400, "InvalidParameterValueException",
						 "TagResource: tag '%s' is not a string of at most 256 (key 128) characters", kv->string);
				goto done;
			}
		}
		cJSON_ArrayForEach(kv, t) {
			cJSON_DeleteItemFromObjectCaseSensitive(tags, kv->string);
			cJSON_AddStringToObject(tags, kv->string, kv->valuestring);
		}
		if (cJSON_GetArraySize(tags) > 50) {
			fake_reply_error(out, 400, "InvalidParameterValueException",
					 "TagResource: a function has at most 50 tags");
			goto done;
		}
	done:
		cJSON_Delete(in);
		if (out->status) {
			cJSON_Delete(tags);
			return;
		}
	} else {                                    /* UntagResource ?tagKeys=k&tagKeys=k */
		for (const char *p = r->query; p && *p;) {
			const char *amp = strchr(p, '&');
			size_t n = amp ? (size_t)(amp - p) : strlen(p);
			char key[256];
			if (n > 8 && strncmp(p, "tagKeys=", 8) == 0 && segment(p + 8, n - 8, key, sizeof key) == 0)
				cJSON_DeleteItemFromObjectCaseSensitive(tags, key);
			p = amp ? amp + 1 : p + n;
		}
	}
	free(fn->tags);
	fn->tags = cJSON_GetArraySize(tags) ? cJSON_PrintUnformatted(tags) : NULL;
	cJSON_Delete(tags);
	fake_reply_json(out, 204, NULL);
	buf_reset(&out->body);
}

/* ---- what IAM asks before a request is answered (fake_iam.c) ---- */

int fake_lambda_route(struct fake_req *r, char *id, size_t len)
{
	struct route rt;
	if (parse_path(r->path, &rt) < 0 || route_op(r, &rt) < 0)
		return -1;
	snprintf(id, len, "%s", rt.id);
	return 0;
}

int fake_lambda_esm_function(struct fake *f, const char *uuid, char *arn, size_t len)
{
	if (!f->lambda)
		return 0;
	fl_esm_sweep(f);                            /* a deletion whose time has come is gone */
	struct lesm *m = lmap_get(&f->lambda->esms, uuid);
	if (!m)
		return 0;
	fl_function_arn(f, m->fn, arn, len);
	return 1;
}

int fake_lambda_function_tagged(struct fake *f, const char *function)
{
	char name[256];
	if (!f->lambda || fl_function_name(function, name, sizeof name, NULL, 0) < 0)
		return 0;
	struct lfn *fn = lmap_get(&f->lambda->fns, name);
	return fn && fn->tags;                      /* tags: NULL when none */
}
