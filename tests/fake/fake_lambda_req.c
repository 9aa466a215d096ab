/* fake_lambda_req.c: what a Lambda request may ask, checked as Lambda
 * checks it: members known to the fake (an unknown one is a 400 naming
 * it, never ignored), types and ranges (ValidationException in AWS's
 * words), code (S3 through fake_s3_object, or ZipFile; CodeSha256 the
 * base64 SHA-256), blocked runtimes ([runtime]) and List* paging. */
#include "fake/fake_lambda_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base64.h"
#include "base/hash.h"

/* The configuration members a request may set (kept in lfn.cfg as given). */
static const char *const config_keys[] = {
	"Runtime", "Role", "Handler", "Description", "Timeout", "MemorySize", "Environment",
	"Architectures", "Layers", "TracingConfig", "EphemeralStorage", "DeadLetterConfig",
	"KMSKeyArn", NULL,
};

static int in_list(const char *k, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(k, *list) == 0)
			return 1;
	return 0;
}

/* A request body as a JSON object, or NULL after answering 400. */
cJSON *fl_body_object(struct fake_req *r, struct http_response *out)
{
	cJSON *in = cJSON_Parse(r->body_len ? r->body : "{}");
	if (!cJSON_IsObject(in)) {
		cJSON_Delete(in);
		fake_reply_error(out, 400, "InvalidRequestContentException",
				 "%s: could not parse the request body into a JSON object", r->op);
		return NULL;
	}
	return in;
}

/* AWS's validation error text for one member. */
void fl_invalid(struct http_response *out, const char *member, const cJSON *v, const char *constraint)
{
	char *s = v ? cJSON_PrintUnformatted(v) : NULL;
	fake_reply_error(out, 400, "ValidationException",
			 "1 validation error detected: Value %s at '%s' failed to satisfy constraint: %s",
			 s ? s : "null", member, constraint);
	free(s);
}

int fl_int_in(const cJSON *v, double lo, double hi)
{
	return cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble) && v->valuedouble >= lo &&
	       v->valuedouble <= hi;
}

/* The configuration members of in: their types and ranges. 0, or -1 after answering. */
int fl_check_config(struct fake_req *r, const cJSON *in, struct http_response *out)
{
	const cJSON *v;
	if ((v = cJSON_GetObjectItemCaseSensitive(in, "Timeout")) && !fl_int_in(v, 1, 900))
		return fl_invalid(out, "timeout", v, "Member must be an integer between 1 and 900"), -1;
	if ((v = cJSON_GetObjectItemCaseSensitive(in, "MemorySize")) && !fl_int_in(v, 128, 10240))
		return fl_invalid(out, "memorySize", v, "Member must be an integer between 128 and 10240"), -1;
	static const char *const strs[] = { "Runtime", "Role", "Handler", "Description", "KMSKeyArn" };
	for (size_t i = 0; i < sizeof strs / sizeof *strs; i++)
		if ((v = cJSON_GetObjectItemCaseSensitive(in, strs[i])) && !cJSON_IsString(v))
			return fl_invalid(out, strs[i], v, "Member must be a string"), -1;
	if ((v = cJSON_GetObjectItemCaseSensitive(in, "Role")) &&
	    (strncmp(v->valuestring, "arn:aws:iam::", 13) != 0 || !strstr(v->valuestring, ":role/")))
		return fl_invalid(out, "role", v, "Member must satisfy regular expression pattern: "
			       "arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+"), -1;
	if ((v = cJSON_GetObjectItemCaseSensitive(in, "Description")) && strlen(v->valuestring) > 256)
		return fl_invalid(out, "description", v, "Member must have length less than or equal to 256"), -1;
	if ((v = cJSON_GetObjectItemCaseSensitive(in, "Environment"))) {
		const cJSON *vars = cJSON_GetObjectItemCaseSensitive(v, "Variables"), *kv;
		if (!cJSON_IsObject(v) || (vars && !cJSON_IsObject(vars)))
			return fl_invalid(out, "environment", v, "Member must be {\"Variables\": {name: string}}"), -1;
		cJSON_ArrayForEach(kv, vars)
			if (!cJSON_IsString(kv))
				return fl_invalid(out, "environment.variables", kv, "Member must be a string"), -1;
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(in, "Architectures"))) {
		const char *a = cJSON_GetStringValue(cJSON_GetArrayItem(v, 0));
		if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != 1 || !a ||
		    (strcmp(a, "x86_64") != 0 && strcmp(a, "arm64") != 0))
			return fl_invalid(out, "architectures", v,
				       "Member must have length 1 and its member one of [x86_64, arm64]"), -1;
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(in, "Layers"))) {
		const cJSON *l;
		if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) > 5)
			return fl_invalid(out, "layers", v, "Member must be a list of at most 5 layer version ARNs"), -1;
		cJSON_ArrayForEach(l, v)
			if (!cJSON_IsString(l) || strncmp(l->valuestring, "arn:", 4) != 0)
				return fl_invalid(out, "layers", l, "Member must be a layer version ARN"), -1;
	}
	(void)r;
	return 0;
}

/* The code of a CreateFunction Code or UpdateFunctionCode body: CodeSha256,
 * size and, for REFERENCE storage, the object named. 0, or -1 after answering. */
int fl_resolve_code(struct fake *f, const cJSON *code, char sha[45], long *size, char **ref,
			struct http_response *out)
{
	const char *bucket = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(code, "S3Bucket"));
	const char *key = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(code, "S3Key"));
	const char *ver = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(code, "S3ObjectVersion"));
	const char *zip = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(code, "ZipFile"));
	const cJSON *mode = cJSON_GetObjectItemCaseSensitive(code, "S3ObjectStorageMode");
	*ref = NULL;
	if (mode && (!cJSON_IsString(mode) || (strcmp(mode->valuestring, "COPY") != 0 &&
					       strcmp(mode->valuestring, "REFERENCE") != 0)))
		return fl_invalid(out, "S3ObjectStorageMode", mode, "Member must satisfy enum value set: [COPY, REFERENCE]"), -1;
	if (zip && (bucket || key || ver))
		return fake_reply_error(out, 400, "InvalidParameterValueException",
					"Please do not provide other FunctionCode parameters when providing a ZipFile."), -1;
	if (zip) {
		char *raw = NULL;
		size_t n = 0;
		if (base64_decode(zip, &raw, &n) < 0 || n == 0) {
			free(raw);
			return fake_reply_error(out, 400, "InvalidParameterValueException",
						"Could not unzip uploaded file. Please check your file, then try to upload again."), -1;
		}
		unsigned char d[HASH_SHA256_LEN];
		hash_sha256(raw, n, d);
		base64_encode(d, sizeof d, sha);
		*size = (long)n;
		free(raw);
		return 0;
	}
	if (!bucket || !key)
		return fake_reply_error(out, 400, "InvalidParameterValueException",
					"Please provide a source for function code: S3Bucket and S3Key, or ZipFile."), -1;
	int reference = mode && strcmp(mode->valuestring, "REFERENCE") == 0;
	if (reference && !ver)
		return fake_reply_error(out, 400, "InvalidParameterValueException",
					"S3ObjectStorageMode REFERENCE requires S3Bucket, S3Key and S3ObjectVersion."), -1;
	if (!fake_s3_object(f, bucket, key, ver, sha, size))
		return fake_reply_error(out, 400, "InvalidParameterValueException",
					"Error occurred while GetObject. S3 Error Code: NoSuchKey. S3 Error Message: "
					"The specified key does not exist. (s3://%s/%s%s%s)", bucket, key,
					ver ? " version " : "", ver ? ver : ""), -1;
	if (reference) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "S3Bucket", bucket);
		cJSON_AddStringToObject(o, "S3Key", key);
		cJSON_AddStringToObject(o, "S3ObjectVersion", ver);
		*ref = cJSON_PrintUnformatted(o);
		cJSON_Delete(o);
	}
	return 0;
}

/* ---- [runtime]: deprecated runtimes refused after their block dates ---- */

/* runtime, block create, block update ("" = not published); the model's
 * RuntimeLifecycle.DATES (the same sources as src/core/runtimes.c) */
static const char *const runtime_blocks[][3] = {
	{ "provided.al2", "2027-02-01", "2027-03-03" },
	{ "nodejs18.x", "2025-10-01", "2025-11-01" },
	{ "python3.8", "2025-10-01", "2025-11-01" },
	{ "nodejs16.x", "2025-10-01", "2025-11-01" },
	{ "provided", "2024-02-08", "2025-11-01" },
	{ "go1.x", "2024-02-08", "2025-11-01" },
};

/* 1 when rt may no longer be used to create (what 0) or update (what 1) today. */
int fl_runtime_blocked(struct fake *f, const char *rt, int what)
{
	if (!rt)
		return 0;
	char today[32];
	fl_iso_time(fake_now_ms_int(f), today);
	today[10] = 0;
	for (size_t i = 0; i < sizeof runtime_blocks / sizeof *runtime_blocks; i++)
		if (strcmp(runtime_blocks[i][0], rt) == 0)
			return runtime_blocks[i][1 + what][0] && strcmp(today, runtime_blocks[i][1 + what]) >= 0;
	return 0;
}

int fl_runtime_refused(struct fake *f, const char *rt, int what, struct http_response *out)
{
	if (!fl_runtime_blocked(f, rt, what))
		return 0;
	fl_violate(f, "runtime blocked", rt);
	fake_reply_error(out, 400, "InvalidParameterValueException",
			 "The runtime parameter of %s is no longer supported for creating or updating AWS "
			 "Lambda functions. We recommend you use a supported runtime while creating or "
			 "updating functions.", rt);
	return 1;
}

/* ---- names and members ---- */

int fl_valid_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 64)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      *s == '-' || *s == '_'))
			return 0;
	return 1;
}

/* The configuration members of in, merged over cfg (JSON text, may be NULL): new text. */
char *fl_merge_config(const char *cfg, const cJSON *in)
{
	cJSON *c = cfg ? cJSON_Parse(cfg) : cJSON_CreateObject();
	const cJSON *kv;
	cJSON_ArrayForEach(kv, in) {
		if (!in_list(kv->string, config_keys))
			continue;
		cJSON_DeleteItemFromObjectCaseSensitive(c, kv->string);
		cJSON_AddItemToObject(c, kv->string, cJSON_Duplicate(kv, 1));
	}
	char *s = cJSON_PrintUnformatted(c);
	cJSON_Delete(c);
	return s;
}

/* Members of in outside allowed: 400 naming the first (the fake never ignores one). */
int fl_unknown_member(struct fake_req *r, const cJSON *in, const char *const *allowed,
		      struct http_response *out)
{
	const cJSON *kv;
	cJSON_ArrayForEach(kv, in)
		if (!in_list(kv->string, config_keys) && !in_list(kv->string, allowed)) {
			fake_reply_error(out, 400, "InvalidParameterValueException",
					 "%s: the fake's lambda does not know the parameter '%s'", r->op, kv->string);
			return 1;
		}
	return 0;
}

/* MaxItems and Marker of a List* request: 0, or -1 after answering. */
int fl_paging(struct fake_req *r, int64_t *from, int *size, int cap, struct http_response *out)
{
	char m[64], n[32];
	*from = 0;
	*size = cap;
	if (fake_query_param(r, "Marker", m, sizeof m) && (*from = lmarker_seq(m)) < 0) {
		fake_reply_error(out, 400, "InvalidParameterValueException", "%s: Invalid pagination parameter: Marker '%s'", r->op, m);
		return -1;
	}
	if (fake_query_param(r, "MaxItems", n, sizeof n)) {
		char *end;
		long v = strtol(n, &end, 10);
		if (*end || v < 1 || v > 10000) {
			fake_reply_error(out, 400, "InvalidParameterValueException",
					 "%s: Invalid pagination parameter: MaxItems '%s' (1 to 10000)", r->op, n);
			return -1;
		}
		*size = v < cap ? (int)v : cap;   /* [pages]: never more than cap */
	}
	return 0;
}


int fl_is_config_key(const char *k) { return in_list(k, config_keys); }
