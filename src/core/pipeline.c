/* pipeline.c: a pipeline's desired state (see pipeline.h). */
#include "core/pipeline.h"

#include "base/hash.h"
#include "base/json.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

const char *const pipeline_queue_fields[] = { "VisibilityTimeout", "MessageRetentionPeriod",
					      "ReceiveMessageWaitTimeSeconds", "DelaySeconds",
					      "MaximumMessageSize", NULL };

static const char *const func_fields[] = { "Runtime", "Handler", "MemorySize", "Timeout", "Role", NULL };

void pipeline_hash(const struct settings *set, const char *spec_json, char out[65])
{
	/* The settings that shape resources are part of it: a new owner,
	 * prefix or role re-applies every pipeline. */
	buf h = { 0 };
	buf_addf(&h, "%s\n%s\n%s\n%s", spec_json, set->owner, set->prefix, set->role_arn ? set->role_arn : "");
	hash_sha256_hex(h.data, h.len, out);
	buf_free(&h);
}

void pipeline_input_begin(struct hash_sha256_stream *run, const char *host, const char *policy_sha,
			  const cJSON *ctx)
{
	hash_sha256_begin(run);
	hash_sha256_update(run, "taskpipe-policy-input-1\n", 24);
	hash_sha256_update(run, host, strlen(host));
	hash_sha256_update(run, "\n", 1);
	hash_sha256_update(run, policy_sha, strlen(policy_sha));
	hash_sha256_update(run, "\n", 1);
	/* once per run: a copy without "now" */
	cJSON *c = cJSON_Duplicate(ctx, 1);
	cJSON_DeleteItemFromObjectCaseSensitive(c, "now");
	json_hash_canonical(run, c);
	cJSON_Delete(c);
	hash_sha256_update(run, "\n", 1);
}

void pipeline_input_hash(const struct hash_sha256_stream *run, const cJSON *item, char out[65])
{
	struct hash_sha256_stream s = *run;
	unsigned char d[HASH_SHA256_LEN];
	json_hash_canonical(&s, item);
	hash_sha256_end(&s, d);
	hash_hex(d, sizeof d, out);
}

cJSON *pipeline_tags(const char *owner, const char *name, const cJSON *spec)
{
	cJSON *t = cJSON_CreateObject();
	cJSON *user = cJSON_GetObjectItem(spec, "tags");
	for (cJSON *it = user ? user->child : NULL; it; it = it->next) {
		char v[512];
		json_value_str(it, v, sizeof v);
		cJSON_AddStringToObject(t, it->string, v);
	}
	cJSON_AddStringToObject(t, "taskpipe:owner", owner);
	cJSON_AddStringToObject(t, "taskpipe:pipeline", name);
	return t;
}

void pipeline_code_marker(const cJSON *func, char *out, size_t len)
{
	cJSON *code = cJSON_GetObjectItem(func, "Code");
	const char *b = cJSON_GetStringValue(cJSON_GetObjectItem(code, "S3Bucket"));
	const char *k = cJSON_GetStringValue(cJSON_GetObjectItem(code, "S3Key"));
	const char *v = cJSON_GetStringValue(cJSON_GetObjectItem(code, "S3ObjectVersion"));
	char m[CODEMARK_MAX + 1];
	codemark_make(b ? b : "", k ? k : "", v, m);
	snprintf(out, len, "%s", m);
}

cJSON *pipeline_part(const struct pipeline *p, const char *part)
{
	return cJSON_GetObjectItem(p->spec, part);
}

static cJSON *function_config(const struct settings *set, const cJSON *func, const char *marker)
{
	cJSON *cfg = cJSON_CreateObject();
	for (int i = 0; func_fields[i]; i++) {
		cJSON *v = cJSON_GetObjectItem(func, func_fields[i]);
		if (v)
			cJSON_AddItemToObject(cfg, func_fields[i], cJSON_Duplicate(v, 1));
	}
	if (!cJSON_GetObjectItem(cfg, "Role") && set->role_arn)
		cJSON_AddStringToObject(cfg, "Role", set->role_arn);
	cJSON_AddStringToObject(cfg, "Description", marker);
	cJSON *env = cJSON_GetObjectItem(func, "Environment");
	cJSON *vars = cJSON_Duplicate(cJSON_GetObjectItem(env, "Variables"), 1);
	cJSON *e = cJSON_AddObjectToObject(cfg, "Environment");
	cJSON_AddItemToObject(e, "Variables", vars ? vars : cJSON_CreateObject());
	return cfg;
}

int pipeline_desired(const struct settings *set, const char *name, const char *spec_json,
		     struct pipeline *out, tp_err *e)
{
	memset(out, 0, sizeof *out);
	int rc = names_for(set->prefix, name, &out->nm, e);
	if (rc < 0)
		return rc;
	out->spec = spec_json ? cJSON_Parse(spec_json) : NULL;
	if (!out->spec)
		return tp_errf(e, TP_EPOLICY, "PolicyError", "policy returned a spec that is not JSON");
	pipeline_hash(set, spec_json, out->hash);
	const cJSON *func = cJSON_GetObjectItem(out->spec, "func");
	pipeline_code_marker(func, out->code_marker, sizeof out->code_marker);
	out->tags = pipeline_tags(set->owner, name, out->spec);
	out->config = function_config(set, func, out->code_marker);
	return TP_OK;
}

void pipeline_free(struct pipeline *p)
{
	cJSON_Delete(p->spec);
	cJSON_Delete(p->tags);
	cJSON_Delete(p->config);
	memset(p, 0, sizeof *p);
}
