/* awsjson.h: the three body protocols over aws_call: AWS JSON 1.0
 * (DynamoDB, Streams, SQS), REST-JSON (Lambda) and query (SNS, STS, IAM).
 * JSON answers are parsed with cJSON; the caller frees *out with cJSON_Delete.
 */
#ifndef TP_AWSJSON_H
#define TP_AWSJSON_H

#include "aws/aws.h"

struct cJSON;

/* JSON 1.0: POST / with X-Amz-Target <prefix>.<op>. in may be NULL ({}). */
int awsj_call(struct aws *a, int svc, const char *op, const struct cJSON *in, struct cJSON **out,
	      tp_err *e);

/* REST-JSON: method + encoded path (+ query). in may be NULL (no body).
 * An empty 2xx answer gives an empty object. */
int awsj_rest(struct aws *a, int svc, const char *op, const char *method, const char *path,
	      const char *query, const struct cJSON *in, struct cJSON **out, tp_err *e);

/* Run a prepared call (a protocol builder's, e.g. lambda.h) and parse its
 * answer like awsj_rest; the call is freed. */
int awsj_run(struct aws *a, struct aws_call *c, struct cJSON **out, tp_err *e);

/* Query protocol: params is an encoded form "K=V&K2=V2" without Action and
 * Version (added here). The XML answer goes to xml. */
int awsj_query(struct aws *a, int svc, const char *op, const char *params, buf *xml, tp_err *e);

/* Build (not run) calls for aws_call_many. in is consumed (deleted);
 * path is copied. The call owns what it needs; aws_call_free releases it. */
void awsj_prepare(struct aws_call *c, int svc, const char *op, struct cJSON *in);
void awsj_prepare_rest(struct aws_call *c, int svc, const char *op, const char *method,
		       const char *path, const char *query, struct cJSON *in);
/* A REST call given as text, as an operator types it (`taskpipe aws`,
 * tp.aws): method and target "/path[?query]"; path and query become the
 * call's own, body (may be NULL) is borrowed, S3's sent as raw bytes. op
 * NULL: "METHOD /path" (the statistics key). TP_EINVAL when the target
 * does not start with '/'. */
int awsj_prepare_target(struct aws_call *c, int svc, const char *op, const char *method, const char *target,
			const char *body, size_t body_len, tp_err *e);
/* The parsed answer of a finished call (NULL when it failed or is not JSON). */
struct cJSON *awsj_result(const struct aws_call *c);

/* Parse a JSON answer body; a body that is not JSON is a clear error. */
int awsj_parse(const char *what, const char *body, size_t len, struct cJSON **out, tp_err *e);

/* Append k=v, URI-encoded, to a form or query string. */
void awsj_form_add(buf *form, const char *k, const char *v);

#endif
