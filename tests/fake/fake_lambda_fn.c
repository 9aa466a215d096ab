/* fake_lambda_fn.c: the fake Lambda's functions ($LATEST), their states
 * ([states]: Pending for opt.lag_ms after CreateFunction, LastUpdateStatus
 * InProgress for opt.lag_ms after an update, 409 ResourceConflict for an
 * update meanwhile), their code (S3 through fake_s3_object, or ZipFile),
 * reserved concurrency against the account's pool ([pool]) and
 * GetAccountSettings. Rules: tests/integration/awsmodel.py. */
#include "fake/fake_lambda_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base64.h"
#include "base/hash.h"

#define UNRESERVED_MIN 100   /* [pool]: AWS keeps 100 unreserved */
#define LIST_PAGE 50         /* [pages]: ListFunctions answers at most 50 */

/* The configuration fields a request may set (kept in lfn.cfg as given). */
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

static int pending(const struct fake *f, const struct lfn *fn) { return f->mono_us < fn->pending_until_us; }
static int in_progress(const struct fake *f, const struct lfn *fn)
{
	return fn->updated && f->mono_us < fn->update_until_us;
}

static void revision_id(const struct lfn *fn, char out[37])
{
	snprintf(out, 37, "%08x-%04x-4000-8000-%012llx", fn->revision, (unsigned)(fn->seq & 0xffff),
		 (unsigned long long)fn->seq);
}

/* A request body as a JSON object, or NULL after answering 400. */
static cJSON *body_object(struct fake_req *r, struct http_response *out)
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
static void invalid(struct http_response *out, const char *member, const cJSON *v, const char *constraint)
{
	char *s = v ? cJSON_PrintUnformatted(v) : NULL;
	fake_reply_error(out, 400, "ValidationException",
			 "1 validation error detected: Value %s at '%s' failed to satisfy constraint: %s",
			 s ? s : "null", member, constraint);
	free(s);
}

static int int_in(const cJSON *v, double lo, double hi)
{
	return cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble) && v->valuedouble >= lo &&
	       v->valuedouble <= hi;
}

/* The configuration members of in: their types and ranges. 0, or -1 after answering. */
static int check_config(struct fake_req *r, const cJSON *in, struct http_response *out)
{
	const cJSON *v;
	if ((v = cJSON_GetObjectItemCaseSensitive(in, "Timeout")) && !int_in(v, 1, 900))
		return invalid(out, "timeout", v, "Member must be an integer between 1 and 900"), -1;
	if ((v = cJSON_GetObjectItemCaseSensitive(in, "MemorySize")) && !int_in(v, 128, 10240))
		return invalid(out, "memorySize", v, "Member must be an integer between 128 and 10240"), -1;
	static const char *const strs[] = { "Runtime", "Role", "Handler", "Description", "KMSKeyArn" };
	for (size_t i = 0; i < sizeof strs / sizeof *strs; i++)
		if ((v = cJSON_GetObjectItemCaseSensitive(in, strs[i])) && !cJSON_IsString(v))
			return invalid(out, strs[i], v, "Member must be a string"), -1;
	if ((v = cJSON_GetObjectItemCaseSensitive(in, "Role")) &&
	    (strncmp(v->valuestring, "arn:aws:iam::", 13) != 0 || !strstr(v->valuestring, ":role/")))
		return invalid(out, "role", v, "Member must satisfy regular expression pattern: "
			       "arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+"), -1;
	if ((v = cJSON_GetObjectItemCaseSensitive(in, "Description")) && strlen(v->valuestring) > 256)
		return invalid(out, "description", v, "Member must have length less than or equal to 256"), -1;
	if ((v = cJSON_GetObjectItemCaseSensitive(in, "Environment"))) {
		const cJSON *vars = cJSON_GetObjectItemCaseSensitive(v, "Variables"), *kv;
		if (!cJSON_IsObject(v) || (vars && !cJSON_IsObject(vars)))
			return invalid(out, "environment", v, "Member must be {\"Variables\": {name: string}}"), -1;
		cJSON_ArrayForEach(kv, vars)
			if (!cJSON_IsString(kv))
				return invalid(out, "environment.variables", kv, "Member must be a string"), -1;
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(in, "Architectures"))) {
		const char *a = cJSON_GetStringValue(cJSON_GetArrayItem(v, 0));
		if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != 1 || !a ||
		    (strcmp(a, "x86_64") != 0 && strcmp(a, "arm64") != 0))
			return invalid(out, "architectures", v,
				       "Member must have length 1 and its member one of [x86_64, arm64]"), -1;
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(in, "Layers"))) {
		const cJSON *l;
		if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) > 5)
			return invalid(out, "layers", v, "Member must be a list of at most 5 layer version ARNs"), -1;
		cJSON_ArrayForEach(l, v)
			if (!cJSON_IsString(l) || strncmp(l->valuestring, "arn:", 4) != 0)
				return invalid(out, "layers", l, "Member must be a layer version ARN"), -1;
	}
	(void)r;
	return 0;
}

/* The code of a CreateFunction Code or UpdateFunctionCode body: CodeSha256,
 * size and, for REFERENCE storage, the object named. 0, or -1 after answering. */
static int resolve_code(struct fake *f, const cJSON *code, char sha[45], long *size, char **ref,
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
		return invalid(out, "S3ObjectStorageMode", mode, "Member must satisfy enum value set: [COPY, REFERENCE]"), -1;
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
static int runtime_blocked(struct fake *f, const char *rt, int what)
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

static int runtime_refused(struct fake *f, const char *rt, int what, struct http_response *out)
{
	if (!runtime_blocked(f, rt, what))
		return 0;
	fake_reply_error(out, 400, "InvalidParameterValueException",
			 "The runtime parameter of %s is no longer supported for creating or updating AWS "
			 "Lambda functions. We recommend you use a supported runtime while creating or "
			 "updating functions.", rt);
	return 1;
}

/* The function's current Runtime (NULL when unset) into out. */
static const char *current_runtime(const struct lfn *fn, char *out, size_t len)
{
	cJSON *c = fn->cfg ? cJSON_Parse(fn->cfg) : NULL;
	const char *rt = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "Runtime"));
	if (rt)
		snprintf(out, len, "%s", rt);
	cJSON_Delete(c);
	return rt ? out : NULL;
}

/* ---- answers ---- */

/* A FunctionConfiguration; with_state: the state fields too (not in ListFunctions, [list]). */
static cJSON *config_json(struct fake *f, const struct lfn *fn, int with_state)
{
	cJSON *c = fn->cfg ? cJSON_Parse(fn->cfg) : NULL;
	if (!c)
		c = cJSON_CreateObject();
	char arn[256], rev[37], when[32];
	fl_function_arn(f, fn->name, arn, sizeof arn);
	revision_id(fn, rev);
	fl_iso_time(fn->modified_ms, when);
	cJSON_AddStringToObject(c, "FunctionName", fn->name);
	cJSON_AddStringToObject(c, "FunctionArn", arn);
	cJSON_AddStringToObject(c, "CodeSha256", fn->sha);
	cJSON_AddNumberToObject(c, "CodeSize", (double)fn->code_size);
	cJSON_AddStringToObject(c, "RevisionId", rev);
	cJSON_AddStringToObject(c, "LastModified", when);
	cJSON_AddStringToObject(c, "Version", "$LATEST");
	cJSON_AddStringToObject(c, "PackageType", "Zip");
	if (!cJSON_HasObjectItem(c, "Description"))
		cJSON_AddStringToObject(c, "Description", "");
	if (!cJSON_HasObjectItem(c, "MemorySize"))
		cJSON_AddNumberToObject(c, "MemorySize", 128);
	if (!cJSON_HasObjectItem(c, "Timeout"))
		cJSON_AddNumberToObject(c, "Timeout", 3);
	if (!cJSON_HasObjectItem(c, "Architectures")) {
		const char *a = "x86_64";
		cJSON_AddItemToObject(c, "Architectures", cJSON_CreateStringArray(&a, 1));
	}
	if (!cJSON_HasObjectItem(c, "TracingConfig"))
		cJSON_AddStringToObject(cJSON_AddObjectToObject(c, "TracingConfig"), "Mode", "PassThrough");
	if (!cJSON_HasObjectItem(c, "EphemeralStorage"))
		cJSON_AddNumberToObject(cJSON_AddObjectToObject(c, "EphemeralStorage"), "Size", 512);
	/* [layers]: {Arn, CodeSize} each; no member at all when none */
	cJSON *layers = cJSON_DetachItemFromObjectCaseSensitive(c, "Layers"), *l;
	if (cJSON_GetArraySize(layers) > 0) {
		cJSON *out = cJSON_AddArrayToObject(c, "Layers");
		cJSON_ArrayForEach(l, layers) {
			cJSON *o = cJSON_CreateObject();
			cJSON_AddStringToObject(o, "Arn", l->valuestring);
			cJSON_AddNumberToObject(o, "CodeSize", 0);
			cJSON_AddItemToArray(out, o);
		}
	}
	cJSON_Delete(layers);
	if (!with_state)
		return c;
	/* [states], [fncfg]: no LastUpdateStatus until the create completes */
	if (pending(f, fn)) {
		cJSON_AddStringToObject(c, "State", "Pending");
		cJSON_AddStringToObject(c, "StateReason", "The function is being created.");
		cJSON_AddStringToObject(c, "StateReasonCode", "Creating");
		return c;
	}
	cJSON_AddStringToObject(c, "State", "Active");
	cJSON_AddStringToObject(c, "LastUpdateStatus", in_progress(f, fn) ? "InProgress" : "Successful");
	return c;
}

static struct lfn *find_fn(struct fake *f, const char *name, struct http_response *out)
{
	struct lfn *fn = lmap_get(&f->lambda->fns, name);
	if (!fn)
		fl_not_found(f, out, name);
	return fn;
}

static int64_t lag_us(const struct fake *f) { return (int64_t)(f->opt.lag_ms > 0 ? f->opt.lag_ms : 0) * 1000; }

/* ---- functions ---- */

static int valid_name(const char *s)
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
static char *merge_config(const char *cfg, const cJSON *in)
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
static int unknown_member(struct fake_req *r, const cJSON *in, const char *const *allowed,
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

void fl_create_function(struct fake *f, struct fake_req *r, struct http_response *out)
{
	static const char *const allowed[] = { "FunctionName", "Code", "Tags", "Publish", "PackageType", NULL };
	struct fake_lambda *l = f->lambda;
	cJSON *in = body_object(r, out);
	if (!in)
		return;
	const cJSON *v;
	const char *ref = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(in, "FunctionName"));
	char name[256];
	if (unknown_member(r, in, allowed, out) || check_config(r, in, out))
		goto done;
	if (!ref || fl_function_name(ref, name, sizeof name, NULL, 0) < 0 || !valid_name(name)) {
		invalid(out, "functionName", cJSON_GetObjectItemCaseSensitive(in, "FunctionName"),
			"Member must satisfy regular expression pattern: [a-zA-Z0-9-_]{1,64}");
		goto done;
	}
	if (!cJSON_GetObjectItemCaseSensitive(in, "Role")) {
		invalid(out, "role", NULL, "Member must not be null");
		goto done;
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(in, "PackageType")) &&
	    !(cJSON_IsString(v) && strcmp(v->valuestring, "Zip") == 0)) {
		fake_reply_error(out, 400, "InvalidParameterValueException",
				 "CreateFunction: the fake's lambda has Zip functions only");
		goto done;
	}
	if ((v = cJSON_GetObjectItemCaseSensitive(in, "Publish")) && cJSON_IsTrue(v)) {
		fake_reply_error(out, 400, "InvalidParameterValueException",
				 "CreateFunction: the fake's lambda publishes no versions (Publish true)");
		goto done;
	}
	if (!cJSON_GetObjectItemCaseSensitive(in, "Runtime") || !cJSON_GetObjectItemCaseSensitive(in, "Handler")) {
		fake_reply_error(out, 400, "InvalidParameterValueException",
				 "Runtime and Handler are mandatory parameters for functions created with deployment packages.");
		goto done;
	}
	const cJSON *tags = cJSON_GetObjectItemCaseSensitive(in, "Tags"), *kv;
	if (tags && !cJSON_IsObject(tags)) {
		invalid(out, "tags", tags, "Member must be a map of strings");
		goto done;
	}
	cJSON_ArrayForEach(kv, tags)
		if (!cJSON_IsString(kv)) {
			invalid(out, "tags", kv, "Member must be a string");
			goto done;
		}
	if (runtime_refused(f, cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(in, "Runtime")), 0, out))
		goto done;
	const cJSON *code = cJSON_GetObjectItemCaseSensitive(in, "Code");
	if (!cJSON_IsObject(code)) {
		invalid(out, "code", code, "Member must not be null");
		goto done;
	}
	if (lmap_get(&l->fns, name)) {
		fake_reply_error(out, 409, "ResourceConflictException", "Function already exist: %s", name);
		goto done;
	}
	char sha[45];
	long size = 0;
	char *refobj = NULL;
	if (resolve_code(f, code, sha, &size, &refobj, out) < 0)
		goto done;
	struct lfn *fn = tp_xcalloc(1, sizeof *fn);
	fn->name = tp_xstrdup(name);
	fn->cfg = merge_config(NULL, in);
	fn->tags = cJSON_GetArraySize(tags) ? cJSON_PrintUnformatted(tags) : NULL;
	fn->ref = refobj;
	memcpy(fn->sha, sha, sizeof fn->sha);
	fn->code_size = size;
	fn->reserved = -1;
	fn->seq = l->next_seq++;
	fn->revision = ++l->next_revision;
	fn->modified_ms = fake_now_ms_int(f);
	fn->pending_until_us = f->mono_us + lag_us(f);
	lmap_put(&l->fns, fn->name, fn);
	lorder_add(&l->fn_order, fn, fn->seq);
	fake_reply_json(out, 201, config_json(f, fn, 1));
done:
	cJSON_Delete(in);
}

void fl_get_function(struct fake *f, const char *name, const char *qual, int full, struct http_response *out)
{
	struct lfn *fn = find_fn(f, name, out);
	if (!fn)
		return;
	if (qual[0] && strcmp(qual, "$LATEST") != 0) {
		char arn[256];
		fl_function_arn(f, name, arn, sizeof arn);
		fake_reply_error(out, 404, "ResourceNotFoundException", "Function not found: %s:%s", arn, qual);
		return;
	}
	if (!full) {
		fake_reply_json(out, 200, config_json(f, fn, 1));
		return;
	}
	cJSON *b = cJSON_CreateObject();
	cJSON_AddItemToObject(b, "Configuration", config_json(f, fn, 1));
	cJSON *code = cJSON_AddObjectToObject(b, "Code");
	cJSON_AddStringToObject(code, "RepositoryType", "S3");
	char loc[512];
	snprintf(loc, sizeof loc, "https://awslambda-%s-tasks.s3.%s.amazonaws.com/snapshots/%s/%s-%08x",
		 f->region, f->region, f->account, fn->name, fn->revision);
	cJSON_AddStringToObject(code, "Location", loc);
	if (fn->ref)   /* [selfref]: REFERENCE code names its object */
		cJSON_AddItemToObject(code, "ResolvedS3Object", cJSON_Parse(fn->ref));
	if (fn->tags)
		cJSON_AddItemToObject(b, "Tags", cJSON_Parse(fn->tags));
	if (fn->reserved >= 0)
		cJSON_AddNumberToObject(cJSON_AddObjectToObject(b, "Concurrency"), "ReservedConcurrentExecutions",
					(double)fn->reserved);
	fake_reply_json(out, 200, b);
}

/* [states]: the refusals of an update. 0: it may run, else answered. */
static int update_refused(struct fake *f, struct lfn *fn, const cJSON *in, struct http_response *out)
{
	const char *want = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(in, "RevisionId"));
	char rev[37];
	revision_id(fn, rev);
	if (want && strcmp(want, rev) != 0) {
		fake_reply_error(out, 412, "PreconditionFailedException",
				 "The Revision Id provided does not match the latest Revision Id. Call the "
				 "GetFunction/GetAlias API to retrieve the latest Revision Id");
		return 1;
	}
	if (pending(f, fn)) {
		fake_reply_error(out, 409, "ResourceConflictException",
				 "The operation cannot be performed at this time. The function is currently in "
				 "the following state: Pending");
		return 1;
	}
	if (in_progress(f, fn)) {
		char arn[256];
		fl_function_arn(f, fn->name, arn, sizeof arn);
		fake_reply_error(out, 409, "ResourceConflictException",
				 "The operation cannot be performed at this time. An update is in progress for "
				 "resource: %s", arn);
		return 1;
	}
	return 0;
}

static void updated(struct fake *f, struct lfn *fn)
{
	fn->updated = 1;
	fn->update_until_us = f->mono_us + lag_us(f);
	fn->revision = ++f->lambda->next_revision;
	fn->modified_ms = fake_now_ms_int(f);
}

void fl_update_configuration(struct fake *f, struct fake_req *r, const char *name, struct http_response *out)
{
	static const char *const allowed[] = { "RevisionId", NULL };
	struct lfn *fn = find_fn(f, name, out);
	cJSON *in = fn ? body_object(r, out) : NULL;
	if (!in)
		return;
	/* [runtime]: the runtime asked for counts (moving off a blocked one is
	 * the way out), else the function's own */
	char cur[64];
	const char *rt = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(in, "Runtime"));
	if (!rt)
		rt = current_runtime(fn, cur, sizeof cur);
	if (!unknown_member(r, in, allowed, out) && !check_config(r, in, out) &&
	    !runtime_refused(f, rt, 1, out) && !update_refused(f, fn, in, out)) {
		char *cfg = merge_config(fn->cfg, in);
		free(fn->cfg);
		fn->cfg = cfg;
		updated(f, fn);
		fake_reply_json(out, 200, config_json(f, fn, 1));
	}
	cJSON_Delete(in);
}

void fl_update_code(struct fake *f, struct fake_req *r, const char *name, struct http_response *out)
{
	static const char *const allowed[] = { "S3Bucket", "S3Key", "S3ObjectVersion", "ZipFile",
		"S3ObjectStorageMode", "RevisionId", "Publish", "DryRun", NULL };
	struct lfn *fn = find_fn(f, name, out);
	cJSON *in = fn ? body_object(r, out) : NULL;
	if (!in)
		return;
	char sha[45];
	long size = 0;
	char *ref = NULL;
	const cJSON *arch = cJSON_GetObjectItemCaseSensitive(in, "Architectures");
	if (unknown_member(r, in, allowed, out) || (arch && check_config(r, in, out)))
		goto done;
	/* Architectures is the only configuration member UpdateFunctionCode takes */
	const cJSON *kv;
	cJSON_ArrayForEach(kv, in)
		if (in_list(kv->string, config_keys) && strcmp(kv->string, "Architectures") != 0) {
			fake_reply_error(out, 400, "InvalidParameterValueException",
					 "UpdateFunctionCode: '%s' is not a parameter of UpdateFunctionCode", kv->string);
			goto done;
		}
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(in, "Publish"))) {
		fake_reply_error(out, 400, "InvalidParameterValueException",
				 "UpdateFunctionCode: the fake's lambda publishes no versions (Publish true)");
		goto done;
	}
	char cur[64];
	if (runtime_refused(f, current_runtime(fn, cur, sizeof cur), 1, out) || update_refused(f, fn, in, out) ||
	    resolve_code(f, in, sha, &size, &ref, out) < 0)
		goto done;
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(in, "DryRun"))) {
		free(ref);
		cJSON *c = config_json(f, fn, 1);
		cJSON_ReplaceItemInObjectCaseSensitive(c, "CodeSha256", cJSON_CreateString(sha));
		fake_reply_json(out, 200, c);
		goto done;
	}
	if (arch) {
		char *cfg = merge_config(fn->cfg, in);
		free(fn->cfg);
		fn->cfg = cfg;
	}
	memcpy(fn->sha, sha, sizeof fn->sha);
	fn->code_size = size;
	free(fn->ref);
	fn->ref = ref;   /* [selfref]: an update without REFERENCE goes back to COPY */
	updated(f, fn);
	fake_reply_json(out, 200, config_json(f, fn, 1));
done:
	cJSON_Delete(in);
}

void fl_fn_free(struct lfn *fn)
{
	if (!fn)
		return;
	free(fn->name);
	free(fn->cfg);
	free(fn->tags);
	free(fn->ref);
	free(fn);
}

void fl_delete_function(struct fake *f, const char *name, struct http_response *out)
{
	struct fake_lambda *l = f->lambda;
	struct lfn *fn = find_fn(f, name, out);
	if (!fn)
		return;
	/* [pool]: the reservation goes back; mappings stay (AWS deletes them only on request) */
	if (fn->reserved > 0)
		l->reserved_total -= fn->reserved;
	lmap_del(&l->fns, fn->name);
	lorder_remove(&l->fn_order, fn->seq);
	fl_fn_free(fn);
	fake_reply_json(out, 204, NULL);
	buf_reset(&out->body);
}

/* MaxItems and Marker of a List* request: 0, or -1 after answering. */
static int paging(struct fake_req *r, int64_t *from, int *size, int cap, struct http_response *out)
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

void fl_list_functions(struct fake *f, struct fake_req *r, struct http_response *out)
{
	struct lorder *o = &f->lambda->fn_order;
	char v[32];
	if (fake_query_param(r, "FunctionVersion", v, sizeof v) && strcmp(v, "ALL") != 0) {
		fake_reply_error(out, 400, "InvalidParameterValueException", "ListFunctions: FunctionVersion must be ALL");
		return;
	}
	int64_t from;
	int size;
	if (paging(r, &from, &size, LIST_PAGE, out) < 0)
		return;
	cJSON *b = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(b, "Functions");
	size_t i = lorder_from(o, from);
	int k = 0;
	for (; i < o->n && k < size; i++)
		if (o->v[i]) {
			cJSON_AddItemToArray(arr, config_json(f, o->v[i], 0));
			k++;
		}
	while (i < o->n && !o->v[i])
		i++;
	if (i < o->n) {
		char mk[32];
		lmarker_of(o->seq[i], mk);
		cJSON_AddStringToObject(b, "NextMarker", mk);
	}
	fake_reply_json(out, 200, b);
}

/* ---- concurrency ([pool]) ---- */

void fl_put_concurrency(struct fake *f, struct fake_req *r, const char *name, struct http_response *out)
{
	struct fake_lambda *l = f->lambda;
	struct lfn *fn = find_fn(f, name, out);
	cJSON *in = fn ? body_object(r, out) : NULL;
	if (!in)
		return;
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(in, "ReservedConcurrentExecutions");
	if (!int_in(v, 0, 1e9)) {
		invalid(out, "reservedConcurrentExecutions", v, "Member must be an integer greater than or equal to 0");
		cJSON_Delete(in);
		return;
	}
	long asked = (long)v->valuedouble;
	long others = l->reserved_total - (fn->reserved > 0 ? fn->reserved : 0);
	cJSON_Delete(in);
	if (f->opt.account_concurrency - others - asked < UNRESERVED_MIN) {
		fake_reply_error(out, 400, "InvalidParameterValueException",
				 "Specified ReservedConcurrentExecutions for function decreases account's "
				 "UnreservedConcurrentExecution below its minimum value of [%d].", UNRESERVED_MIN);
		return;
	}
	l->reserved_total = others + asked;
	fn->reserved = asked;
	cJSON *b = cJSON_CreateObject();
	cJSON_AddNumberToObject(b, "ReservedConcurrentExecutions", (double)asked);
	fake_reply_json(out, 200, b);
}

void fl_delete_concurrency(struct fake *f, const char *name, struct http_response *out)
{
	struct lfn *fn = find_fn(f, name, out);
	if (!fn)
		return;
	if (fn->reserved > 0)
		f->lambda->reserved_total -= fn->reserved;
	fn->reserved = -1;
	fake_reply_json(out, 204, NULL);
	buf_reset(&out->body);
}

void fl_get_concurrency(struct fake *f, const char *name, struct http_response *out)
{
	struct lfn *fn = find_fn(f, name, out);
	if (!fn)
		return;
	cJSON *b = cJSON_CreateObject();
	if (fn->reserved >= 0)
		cJSON_AddNumberToObject(b, "ReservedConcurrentExecutions", (double)fn->reserved);
	fake_reply_json(out, 200, b);
}

void fl_account_settings(struct fake *f, struct http_response *out)
{
	struct fake_lambda *l = f->lambda;
	cJSON *b = cJSON_CreateObject(), *lim = cJSON_AddObjectToObject(b, "AccountLimit");
	cJSON_AddNumberToObject(lim, "TotalCodeSize", 80530636800.0);
	cJSON_AddNumberToObject(lim, "CodeSizeUnzipped", 262144000);
	cJSON_AddNumberToObject(lim, "CodeSizeZipped", 52428800);
	cJSON_AddNumberToObject(lim, "ConcurrentExecutions", (double)f->opt.account_concurrency);
	cJSON_AddNumberToObject(lim, "UnreservedConcurrentExecutions",
				(double)(f->opt.account_concurrency - l->reserved_total));
	cJSON *use = cJSON_AddObjectToObject(b, "AccountUsage");
	cJSON_AddNumberToObject(use, "TotalCodeSize", 0);
	cJSON_AddNumberToObject(use, "FunctionCount", (double)l->fns.n);
	fake_reply_json(out, 200, b);
}
