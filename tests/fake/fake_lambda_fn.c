/* fake_lambda_fn.c: the fake Lambda's functions ($LATEST) and their
 * states ([states]: Pending for opt.lag_ms after CreateFunction,
 * LastUpdateStatus InProgress for opt.lag_ms after an update, 409
 * ResourceConflict for an update meanwhile). What a request may ask is
 * checked in fake_lambda_req.c. Rules: tests/integration/awsmodel.py. */
#include "fake/fake_lambda_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIST_PAGE 50         /* [pages]: ListFunctions answers at most 50 */

int fl_pending(const struct fake *f, const struct lfn *fn) { return f->mono_us < fn->pending_until_us; }
int fl_in_progress(const struct fake *f, const struct lfn *fn)
{
	return fn->updated && f->mono_us < fn->update_until_us;
}

static void revision_id(const struct lfn *fn, char out[37])
{
	snprintf(out, 37, "%08x-%04x-4000-8000-%012llx", fn->revision, (unsigned)(fn->seq & 0xffff),
		 (unsigned long long)fn->seq);
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
	if (fl_pending(f, fn)) {
		cJSON_AddStringToObject(c, "State", "Pending");
		cJSON_AddStringToObject(c, "StateReason", "The function is being created.");
		cJSON_AddStringToObject(c, "StateReasonCode", "Creating");
		return c;
	}
	const struct lfail *x = fn->fail;
	if (x && x->create_reason) {               /* fake_lambda_fail: "must be deleted and recreated" */
		cJSON_AddStringToObject(c, "State", "Failed");
		cJSON_AddStringToObject(c, "StateReason", x->create_reason);
		cJSON_AddStringToObject(c, "StateReasonCode", x->create_code);
		cJSON_AddStringToObject(c, "LastUpdateStatus", "Failed");
		cJSON_AddStringToObject(c, "LastUpdateStatusReason", x->create_reason);
		cJSON_AddStringToObject(c, "LastUpdateStatusReasonCode", x->create_code);
		return c;
	}
	if (fn->ref_gone) {                         /* [selfref]: AWS documents no code; the layer's */
		cJSON *ref = cJSON_Parse(fn->ref);
		char why[512];
		snprintf(why, sizeof why, "Lambda cannot read the function's code object s3://%s/%s (version %s).",
			 cJSON_GetStringValue(cJSON_GetObjectItem(ref, "S3Bucket")),
			 cJSON_GetStringValue(cJSON_GetObjectItem(ref, "S3Key")),
			 cJSON_GetStringValue(cJSON_GetObjectItem(ref, "S3ObjectVersion")));
		cJSON_Delete(ref);
		cJSON_AddStringToObject(c, "State", "Inactive");
		cJSON_AddStringToObject(c, "StateReasonCode", "InvalidConfiguration");
		cJSON_AddStringToObject(c, "StateReason", why);
	} else {
		cJSON_AddStringToObject(c, "State", "Active");
	}
	if (fl_in_progress(f, fn)) {               /* only the status: no reason code means in progress */
		cJSON_AddStringToObject(c, "LastUpdateStatus", "InProgress");
	} else if (x && x->update_reason) {
		cJSON_AddStringToObject(c, "LastUpdateStatus", "Failed");
		cJSON_AddStringToObject(c, "LastUpdateStatusReason", x->update_reason);
		cJSON_AddStringToObject(c, "LastUpdateStatusReasonCode", x->update_code);
	} else {
		cJSON_AddStringToObject(c, "LastUpdateStatus", "Successful");
	}
	return c;
}

struct lfn *fl_find_fn(struct fake *f, const char *name, struct http_response *out)
{
	struct lfn *fn = lmap_get(&f->lambda->fns, name);
	if (!fn)
		fl_not_found(f, out, name);
	return fn;
}

static int64_t lag_us(const struct fake *f) { return (int64_t)(f->opt.lag_ms > 0 ? f->opt.lag_ms : 0) * 1000; }
void fl_create_function(struct fake *f, struct fake_req *r, struct http_response *out)
{
	static const char *const allowed[] = { "FunctionName", "Code", "Tags", "Publish", "PackageType", NULL };
	struct fake_lambda *l = f->lambda;
	cJSON *in = fl_body_object(r, out);
	if (!in)
		return;
	const cJSON *v;
	const char *ref = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(in, "FunctionName"));
	char name[256];
	if (fl_unknown_member(r, in, allowed, out) || fl_check_config(r, in, out))
		goto done;
	if (!ref || fl_function_name(ref, name, sizeof name, NULL, 0) < 0 || !fl_valid_name(name)) {
		fl_invalid(out, "functionName", cJSON_GetObjectItemCaseSensitive(in, "FunctionName"),
			"Member must satisfy regular expression pattern: [a-zA-Z0-9-_]{1,64}");
		goto done;
	}
	if (!cJSON_GetObjectItemCaseSensitive(in, "Role")) {
		fl_invalid(out, "role", NULL, "Member must not be null");
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
		fl_invalid(out, "tags", tags, "Member must be a map of strings");
		goto done;
	}
	cJSON_ArrayForEach(kv, tags)
		if (!cJSON_IsString(kv)) {
			fl_invalid(out, "tags", kv, "Member must be a string");
			goto done;
		}
	if (fl_runtime_refused(f, cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(in, "Runtime")), 0, out))
		goto done;
	const cJSON *code = cJSON_GetObjectItemCaseSensitive(in, "Code");
	if (!cJSON_IsObject(code)) {
		fl_invalid(out, "code", code, "Member must not be null");
		goto done;
	}
	if (lmap_get(&l->fns, name)) {
		fake_reply_error(out, 409, "ResourceConflictException", "Function already exist: %s", name);
		goto done;
	}
	char sha[45];
	long size = 0;
	char *refobj = NULL;
	if (fl_resolve_code(f, code, sha, &size, &refobj, out) < 0)
		goto done;
	struct lfn *fn = tp_xcalloc(1, sizeof *fn);
	fn->name = tp_xstrdup(name);
	fn->cfg = fl_merge_config(NULL, in);
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
	fl_fail_begin(f, fn, 0);
	fake_reply_json(out, 201, config_json(f, fn, 1));
done:
	cJSON_Delete(in);
}

void fl_get_function(struct fake *f, const char *name, const char *qual, int full, struct http_response *out)
{
	struct lfn *fn = fl_find_fn(f, name, out);
	if (!fn)
		return;
	if (qual[0] && strcmp(qual, "$LATEST") != 0) {
		char arn[256];
		fl_function_arn(f, name, arn, sizeof arn);
		fake_reply_error(out, 404, "ResourceNotFoundException", "Function not found: %s:%s", arn, qual);
		return;
	}
	if (fn->ref && !fn->ref_gone) {             /* [selfref]: Lambda must still read the object */
		cJSON *ref = cJSON_Parse(fn->ref);
		char sha[45];
		long size;
		fn->ref_gone = !fake_s3_object(f, cJSON_GetStringValue(cJSON_GetObjectItem(ref, "S3Bucket")),
					       cJSON_GetStringValue(cJSON_GetObjectItem(ref, "S3Key")),
					       cJSON_GetStringValue(cJSON_GetObjectItem(ref, "S3ObjectVersion")), sha, &size);
		cJSON_Delete(ref);
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
	int failed = fn->fail && fn->fail->create_reason;
	if (fl_pending(f, fn) || failed) {
		const char *st = failed && !fl_pending(f, fn) ? "Failed" : "Pending";
		fake_reply_error(out, 409, "ResourceConflictException",
				 "The operation cannot be performed at this time. The function is currently in "
				 "the following state: %s", st);
		fl_violate(f, strcmp(st, "Failed") == 0 ? "function Failed" : "function Pending", fn->name);
		return 1;
	}
	if (fl_in_progress(f, fn)) {
		fl_violate(f, "update InProgress", fn->name);
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
	fl_fail_begin(f, fn, 1);
}

void fl_update_configuration(struct fake *f, struct fake_req *r, const char *name, struct http_response *out)
{
	static const char *const allowed[] = { "RevisionId", NULL };
	struct lfn *fn = fl_find_fn(f, name, out);
	cJSON *in = fn ? fl_body_object(r, out) : NULL;
	if (!in)
		return;
	/* [runtime]: the runtime asked for counts (moving off a blocked one is
	 * the way out), else the function's own */
	char cur[64];
	const char *rt = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(in, "Runtime"));
	if (!rt)
		rt = current_runtime(fn, cur, sizeof cur);
	if (!fl_unknown_member(r, in, allowed, out) && !fl_check_config(r, in, out) &&
	    !fl_runtime_refused(f, rt, 1, out) && !update_refused(f, fn, in, out)) {
		char *cfg = fl_merge_config(fn->cfg, in);
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
	struct lfn *fn = fl_find_fn(f, name, out);
	cJSON *in = fn ? fl_body_object(r, out) : NULL;
	if (!in)
		return;
	char sha[45];
	long size = 0;
	char *ref = NULL;
	const cJSON *arch = cJSON_GetObjectItemCaseSensitive(in, "Architectures");
	if (fl_unknown_member(r, in, allowed, out) || (arch && fl_check_config(r, in, out)))
		goto done;
	/* Architectures is the only configuration member UpdateFunctionCode takes */
	const cJSON *kv;
	cJSON_ArrayForEach(kv, in)
		if (fl_is_config_key(kv->string) && strcmp(kv->string, "Architectures") != 0) {
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
	if (fl_runtime_refused(f, current_runtime(fn, cur, sizeof cur), 1, out) || update_refused(f, fn, in, out) ||
	    fl_resolve_code(f, in, sha, &size, &ref, out) < 0)
		goto done;
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(in, "DryRun"))) {
		free(ref);
		cJSON *c = config_json(f, fn, 1);
		cJSON_ReplaceItemInObjectCaseSensitive(c, "CodeSha256", cJSON_CreateString(sha));
		fake_reply_json(out, 200, c);
		goto done;
	}
	if (arch) {
		char *cfg = fl_merge_config(fn->cfg, in);
		free(fn->cfg);
		fn->cfg = cfg;
	}
	memcpy(fn->sha, sha, sizeof fn->sha);
	fn->code_size = size;
	free(fn->ref);
	fn->ref = ref;   /* [selfref]: an update without REFERENCE goes back to COPY */
	fn->ref_gone = 0;
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
	fl_fail_free(fn->fail);
	free(fn);
}

void fl_delete_function(struct fake *f, const char *name, struct http_response *out)
{
	struct fake_lambda *l = f->lambda;
	struct lfn *fn = fl_find_fn(f, name, out);
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
	if (fl_paging(r, &from, &size, LIST_PAGE, out) < 0)
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
