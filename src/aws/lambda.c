/* lambda.c: Lambda's REST-JSON requests and answers (see lambda.h). */
#include "aws/lambda.h"
#include "aws/awsjson.h"
#include "aws/sigv4.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUNCTIONS "/2015-03-31/functions"
#define MAPPINGS "/2015-03-31/event-source-mappings/"

/* s percent-encoded as one path segment ('/' encoded too), malloc'd. */
static char *seg(const char *s)
{
	size_t n = strlen(s ? s : "");
	char *o = tp_xmalloc(n * 3 + 1);
	sigv4_uri_encode(s ? s : "", n, 0, o, n * 3 + 1);
	return o;
}

/* prefix + encoded name + suffix, then the call (path copied, in consumed). */
static void rest(struct aws_call *c, const char *op, const char *method, const char *prefix,
		 const char *name, const char *suffix, const char *query, cJSON *in)
{
	char *e = seg(name), *path = tp_xasprintf("%s%s%s", prefix, e, suffix);
	awsj_prepare_rest(c, SVC_LAMBDA, op, method, path, query, in);
	free(path);
	free(e);
}

static void with_qualifier(struct aws_call *c, const char *op, const char *fn, const char *suffix,
			   const char *qualifier)
{
	buf q = { 0 };
	if (qualifier)
		awsj_form_add(&q, "Qualifier", qualifier);
	rest(c, op, "GET", FUNCTIONS "/", fn, suffix, q.len ? q.data : NULL, NULL);
	buf_free(&q);
}

void lambda_get_function(struct aws_call *c, const char *fn, const char *qualifier)
{
	with_qualifier(c, "GetFunction", fn, "", qualifier);
}

void lambda_get_function_configuration(struct aws_call *c, const char *fn, const char *qualifier)
{
	with_qualifier(c, "GetFunctionConfiguration", fn, "/configuration", qualifier);
}

void lambda_create_function(struct aws_call *c, cJSON *in)
{
	awsj_prepare_rest(c, SVC_LAMBDA, "CreateFunction", "POST", FUNCTIONS, NULL, in);
}

void lambda_update_function_configuration(struct aws_call *c, const char *fn, cJSON *in)
{
	rest(c, "UpdateFunctionConfiguration", "PUT", FUNCTIONS "/", fn, "/configuration", NULL, in);
}

void lambda_update_function_code(struct aws_call *c, const char *fn, cJSON *in)
{
	rest(c, "UpdateFunctionCode", "PUT", FUNCTIONS "/", fn, "/code", NULL, in);
}

void lambda_delete_function(struct aws_call *c, const char *fn)
{
	rest(c, "DeleteFunction", "DELETE", FUNCTIONS "/", fn, "", NULL, NULL);
}

void lambda_publish_version(struct aws_call *c, const char *fn, const char *code_sha)
{
	cJSON *in = cJSON_CreateObject();
	if (code_sha)
		cJSON_AddStringToObject(in, "CodeSha256", code_sha);
	rest(c, "PublishVersion", "POST", FUNCTIONS "/", fn, "/versions", NULL, in);
}

/* MaxItems, then Marker, after what q holds. */
static void page(buf *q, const char *marker, int max_items)
{
	if (max_items > 0)
		buf_addf(q, "%sMaxItems=%d", q->len ? "&" : "", max_items);
	if (marker)
		awsj_form_add(q, "Marker", marker);
}

void lambda_list_functions(struct aws_call *c, const char *marker, int max_items)
{
	buf q = { 0 };
	page(&q, marker, max_items);
	awsj_prepare_rest(c, SVC_LAMBDA, "ListFunctions", "GET", FUNCTIONS "/", q.len ? q.data : NULL, NULL);
	buf_free(&q);
}

/* code's S3 fields (S3Bucket, S3Key, S3ObjectVersion, S3ObjectStorageMode) into in. */
static void add_code(cJSON *in, const struct lambda_code *code)
{
	if (code->bucket)
		cJSON_AddStringToObject(in, "S3Bucket", code->bucket);
	if (code->key)
		cJSON_AddStringToObject(in, "S3Key", code->key);
	if (code->version)
		cJSON_AddStringToObject(in, "S3ObjectVersion", code->version);
	if (code->storage != LAMBDA_STORAGE_DEFAULT)
		cJSON_AddStringToObject(in, "S3ObjectStorageMode",
					code->storage == LAMBDA_STORAGE_REFERENCE ? "REFERENCE" : "COPY");
}

static void add_arch(cJSON *in, const char *arch)
{
	if (arch)
		cJSON_AddItemToObject(in, "Architectures", cJSON_CreateStringArray(&arch, 1));
}

cJSON *lambda_code_body(const struct lambda_code *code)
{
	cJSON *in = cJSON_CreateObject();
	add_code(in, code);
	add_arch(in, code->arch);
	if (code->revision_id && code->revision_id[0])
		cJSON_AddStringToObject(in, "RevisionId", code->revision_id);
	return in;
}

cJSON *lambda_function_config_body(const struct lambda_function_config *cfg)
{
	cJSON *in = cJSON_CreateObject();
	if (cfg->runtime)
		cJSON_AddStringToObject(in, "Runtime", cfg->runtime);
	if (cfg->handler)
		cJSON_AddStringToObject(in, "Handler", cfg->handler);
	/* whole numbers: cJSON prints them without a fraction ("MemorySize":512) */
	if (cfg->memory >= 0)
		cJSON_AddNumberToObject(in, "MemorySize", (double)cfg->memory);
	if (cfg->timeout >= 0)
		cJSON_AddNumberToObject(in, "Timeout", (double)cfg->timeout);
	if (cfg->role)
		cJSON_AddStringToObject(in, "Role", cfg->role);
	if (cfg->description)
		cJSON_AddStringToObject(in, "Description", cfg->description);
	cJSON *vars = cJSON_AddObjectToObject(cJSON_AddObjectToObject(in, "Environment"), "Variables");
	for (size_t i = 0; i < cfg->n_env; i++)
		cJSON_AddStringToObject(vars, cfg->env[i].name, cfg->env[i].value);
	if (cfg->n_layers > 0)
		cJSON_AddItemToObject(in, "Layers", cJSON_CreateStringArray(cfg->layers, (int)cfg->n_layers));
	else if (cfg->clear_layers)
		cJSON_AddItemToObject(in, "Layers", cJSON_CreateArray());
	return in;
}

cJSON *lambda_create_function_body(const char *fn, const struct lambda_function_config *cfg,
				   const struct lambda_code *code, cJSON *tags)
{
	cJSON *in = lambda_function_config_body(cfg), *c = cJSON_CreateObject();
	cJSON_AddStringToObject(in, "FunctionName", fn);
	add_code(c, code);
	cJSON_AddItemToObject(in, "Code", c);
	add_arch(in, code->arch);
	if (tags)
		cJSON_AddItemToObject(in, "Tags", tags);
	return in;
}

int lambda_mapping_empty(const struct lambda_mapping *m)
{
	return m->batch_size < 0 && m->enabled < 0 && m->report_failures < 0 && m->window < 0 && !m->scaling;
}

cJSON *lambda_mapping_body(const struct lambda_mapping *m, const char *fn, const char *source_arn)
{
	cJSON *in = cJSON_CreateObject();
	if (m->batch_size >= 0)
		cJSON_AddNumberToObject(in, "BatchSize", (double)m->batch_size);
	if (m->enabled >= 0)
		cJSON_AddBoolToObject(in, "Enabled", m->enabled);
	if (m->report_failures >= 0) {
		cJSON *t = cJSON_AddArrayToObject(in, "FunctionResponseTypes");
		if (m->report_failures)
			cJSON_AddItemToArray(t, cJSON_CreateString("ReportBatchItemFailures"));
	}
	if (m->window >= 0)
		cJSON_AddNumberToObject(in, "MaximumBatchingWindowInSeconds", (double)m->window);
	if (m->scaling) {
		cJSON *sc = cJSON_AddObjectToObject(in, "ScalingConfig");
		if (m->max_concurrency)
			cJSON_AddNumberToObject(sc, "MaximumConcurrency", (double)m->max_concurrency);
	}
	if (source_arn)
		cJSON_AddStringToObject(in, "EventSourceArn", source_arn);
	if (fn)
		cJSON_AddStringToObject(in, "FunctionName", fn);
	return in;
}

void lambda_put_function_concurrency(struct aws_call *c, const char *fn, double n)
{
	cJSON *in = cJSON_CreateObject();
	cJSON_AddNumberToObject(in, "ReservedConcurrentExecutions", n);
	rest(c, "PutFunctionConcurrency", "PUT", "/2017-10-31/functions/", fn, "/concurrency", NULL, in);
}

void lambda_delete_function_concurrency(struct aws_call *c, const char *fn)
{
	rest(c, "DeleteFunctionConcurrency", "DELETE", "/2017-10-31/functions/", fn, "/concurrency", NULL, NULL);
}

void lambda_tag_resource(struct aws_call *c, const char *arn, cJSON *tags)
{
	cJSON *in = cJSON_CreateObject();
	cJSON_AddItemToObject(in, "Tags", tags ? tags : cJSON_CreateObject());
	rest(c, "TagResource", "POST", "/2017-03-31/tags/", arn, "", NULL, in);
}

void lambda_untag_resource(struct aws_call *c, const char *arn, const cJSON *keys)
{
	buf q = { 0 };
	const cJSON *k;
	cJSON_ArrayForEach(k, keys)
		if (cJSON_IsString(k))
			awsj_form_add(&q, "tagKeys", k->valuestring);
	rest(c, "UntagResource", "DELETE", "/2017-03-31/tags/", arn, "", buf_str(&q), NULL);
	buf_free(&q);
}

void lambda_list_tags(struct aws_call *c, const char *arn)
{
	rest(c, "ListTags", "GET", "/2017-03-31/tags/", arn, "", NULL, NULL);
}

void lambda_list_event_source_mappings(struct aws_call *c, const char *fn, const char *marker,
				       int max_items)
{
	buf q = { 0 };
	if (fn)
		awsj_form_add(&q, "FunctionName", fn);
	page(&q, marker, max_items);
	awsj_prepare_rest(c, SVC_LAMBDA, "ListEventSourceMappings", "GET", MAPPINGS, q.len ? q.data : NULL, NULL);
	buf_free(&q);
}

void lambda_get_event_source_mapping(struct aws_call *c, const char *uuid)
{
	rest(c, "GetEventSourceMapping", "GET", MAPPINGS, uuid, "", NULL, NULL);
}

void lambda_create_event_source_mapping(struct aws_call *c, cJSON *in)
{
	awsj_prepare_rest(c, SVC_LAMBDA, "CreateEventSourceMapping", "POST", MAPPINGS, NULL, in);
}

void lambda_update_event_source_mapping(struct aws_call *c, const char *uuid, cJSON *in)
{
	rest(c, "UpdateEventSourceMapping", "PUT", MAPPINGS, uuid, "", NULL, in);
}

void lambda_delete_event_source_mapping(struct aws_call *c, const char *uuid)
{
	rest(c, "DeleteEventSourceMapping", "DELETE", MAPPINGS, uuid, "", NULL, NULL);
}

void lambda_get_account_settings(struct aws_call *c)
{
	awsj_prepare_rest(c, SVC_LAMBDA, "GetAccountSettings", "GET", "/2016-08-19/account-settings/", NULL, NULL);
}

static const char *str(const cJSON *o, const char *k)
{
	const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
	return v ? v : "";
}

void lambda_config_read(const cJSON *cfg, struct lambda_config *out)
{
	out->name = str(cfg, "FunctionName");
	out->code_sha = str(cfg, "CodeSha256");
	out->revision_id = str(cfg, "RevisionId");
	out->state = str(cfg, "State");
	out->state_reason = str(cfg, "StateReason");
	out->state_reason_code = str(cfg, "StateReasonCode");
	out->last_update = str(cfg, "LastUpdateStatus");
	out->last_update_reason = str(cfg, "LastUpdateStatusReason");
	out->last_update_reason_code = str(cfg, "LastUpdateStatusReasonCode");
	out->description = str(cfg, "Description");
	out->arn = str(cfg, "FunctionArn");
	out->image = strcmp(str(cfg, "PackageType"), "Image") == 0;
	out->busy = strcmp(out->last_update, "InProgress") == 0 || strcmp(out->state, "Pending") == 0;
	out->failed = strcmp(out->state, "Failed") == 0;
}

const char *lambda_next_marker(const cJSON *answer)
{
	const char *m = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(answer, "NextMarker"));
	return m && m[0] ? m : NULL;
}
