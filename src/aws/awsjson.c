/* awsjson.c: JSON 1.0, REST-JSON and query bodies over aws_call (see awsjson.h). */
#include "aws/awsjson.h"

#include "aws/sigv4.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

int awsj_parse(const char *what, const char *body, size_t len, cJSON **out, tp_err *e)
{
	*out = NULL;
	if (!body || len == 0) {
		*out = cJSON_CreateObject();
		return TP_OK;
	}
	const char *end = NULL;
	cJSON *j = cJSON_ParseWithLengthOpts(body, len, &end, 0);
	if (!j) {
		size_t off = end ? (size_t)(end - body) : 0;
		return tp_errf(e, TP_EINVAL, "BadResponse",
			       "%s: answer is not valid JSON (%zu bytes, error near byte %zu)", what, len, off);
	}
	*out = j;
	return TP_OK;
}

static int finish(struct aws_call *c, const char *what, cJSON **out, tp_err *e)
{
	int rc = c->rc;
	if (rc < 0) {
		if (e)
			*e = c->err;
	} else if (out) {
		rc = awsj_parse(what, c->resp.data, c->resp.len, out, e);
	}
	aws_call_free(c);
	return rc;
}

int awsj_call(struct aws *a, int svc, const char *op, const cJSON *in, cJSON **out, tp_err *e)
{
	char *body = in ? cJSON_PrintUnformatted(in) : tp_xstrdup("{}");
	struct aws_call c = { .service = svc, .op = op, .body = body, .body_len = strlen(body) };
	aws_call_one(a, &c);
	free(body);
	return finish(&c, op, out, e);
}

int awsj_run(struct aws *a, struct aws_call *c, cJSON **out, tp_err *e)
{
	aws_call_one(a, c);
	return finish(c, c->op, out, e);
}

int awsj_rest(struct aws *a, int svc, const char *op, const char *method, const char *path,
	      const char *query, const cJSON *in, cJSON **out, tp_err *e)
{
	char *body = in ? cJSON_PrintUnformatted(in) : NULL;
	struct aws_call c = { .service = svc, .op = op, .method = method, .path = path,
			      .query = query, .body = body, .body_len = body ? strlen(body) : 0 };
	aws_call_one(a, &c);
	free(body);
	return finish(&c, op, out, e);
}

void awsj_form_add(buf *form, const char *k, const char *v)
{
	size_t kl = strlen(k), vl = strlen(v);
	char *ek = tp_xmalloc(kl * 3 + 1), *ev = tp_xmalloc(vl * 3 + 1);
	sigv4_uri_encode(k, kl, 0, ek, kl * 3 + 1);
	sigv4_uri_encode(v, vl, 0, ev, vl * 3 + 1);
	buf_addf(form, "%s%s=%s", form->len ? "&" : "", ek, ev);
	free(ek);
	free(ev);
}

int awsj_query(struct aws *a, int svc, const char *op, const char *params, buf *xml, tp_err *e)
{
	buf form = { 0 };
	awsj_form_add(&form, "Action", op);
	awsj_form_add(&form, "Version", svc_get(svc)->api_version);
	if (params && *params)
		buf_addf(&form, "&%s", params);
	struct aws_call c = { .service = svc, .op = op, .body = form.data, .body_len = form.len };
	aws_call_one(a, &c);
	buf_free(&form);
	int rc = c.rc;
	if (rc < 0) {
		if (e)
			*e = c.err;
	} else if (xml) {
		buf_add(xml, c.resp.data ? c.resp.data : "", c.resp.len);
	}
	aws_call_free(&c);
	return rc;
}

void awsj_prepare(struct aws_call *c, int svc, const char *op, cJSON *in)
{
	memset(c, 0, sizeof *c);
	c->service = svc;
	c->op = op;
	c->owned[0] = in ? cJSON_PrintUnformatted(in) : tp_xstrdup("{}");
	c->body = c->owned[0];
	c->body_len = strlen(c->body);
	cJSON_Delete(in);
}

void awsj_prepare_rest(struct aws_call *c, int svc, const char *op, const char *method,
		       const char *path, const char *query, cJSON *in)
{
	memset(c, 0, sizeof *c);
	c->service = svc;
	c->op = op;
	c->method = method;
	c->owned[0] = in ? cJSON_PrintUnformatted(in) : NULL;
	c->body = c->owned[0];
	c->body_len = c->body ? strlen(c->body) : 0;
	c->owned[1] = tp_xstrdup(path);
	c->path = c->owned[1];
	c->owned[2] = tp_xstrdup(query);
	c->query = c->owned[2];
	cJSON_Delete(in);
}

int awsj_prepare_target(struct aws_call *c, int svc, const char *op, const char *method, const char *target,
			const char *body, size_t body_len, tp_err *e)
{
	memset(c, 0, sizeof *c);
	if (!target || target[0] != '/')
		return tp_errf(e, TP_EINVAL, "BadPath", "%s %s: the path must start with '/' (e.g. %s)",
			       svc_get(svc)->name, method, svc == SVC_LAMBDA ? "/2015-03-31/functions/" : "/bucket/key");
	const char *q = strchr(target, '?');
	c->service = svc;
	c->method = method;
	c->owned[1] = q ? tp_xstrndup(target, (size_t)(q - target)) : tp_xstrdup(target);
	c->path = c->owned[1];
	if (q) {
		c->owned[2] = tp_xstrdup(q + 1);
		c->query = c->owned[2];
	}
	c->owned[0] = op ? NULL : tp_xasprintf("%s %s", method, c->path);
	c->op = op ? op : c->owned[0];
	c->body = body;
	c->body_len = body ? body_len : 0;
	if (svc == SVC_S3)
		c->content_type = "application/octet-stream";
	return TP_OK;
}

cJSON *awsj_result(const struct aws_call *c)
{
	if (c->rc != TP_OK)
		return NULL;
	cJSON *j = NULL;
	if (awsj_parse(c->op, c->resp.data, c->resp.len, &j, NULL) < 0)
		return NULL;
	return j;
}
