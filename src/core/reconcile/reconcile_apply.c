/* reconcile_apply.c: the changes a diff calls for, made in dependency
 * order (DLQ, queue, function code, configuration, concurrency and tags,
 * mapping), and the deletions of a pipeline whose item is gone, in reverse
 * (mapping, function, queue, DLQ); see reconcile.h. Each step makes only
 * the calls the change list of its record asks for. */
#include "core/reconcile/reconcile_int.h"

#include "aws/awsjson.h"
#include "core/codestore.h"
#include "base/json.h"
#include "aws/sigv4.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- mutations, in dependency order ---- */

static cJSON *queue_attributes(const cJSON *want)
{
	cJSON *a = cJSON_CreateObject();
	for (int i = 0; rc_queue_fields[i]; i++) {
		cJSON *w = cJSON_GetObjectItem(want, rc_queue_fields[i]);
		if (w) {
			char s[64];
			json_value_str(w, s, sizeof s);
			cJSON_AddStringToObject(a, rc_queue_fields[i], s);
		}
	}
	return a;
}

static int changed(const struct rec *p, const char *resource, const char *field)
{
	cJSON *c;
	cJSON_ArrayForEach(c, p->changes) {
		const char *res = cJSON_GetStringValue(cJSON_GetObjectItem(c, "resource"));
		const char *f = cJSON_GetStringValue(cJSON_GetObjectItem(c, "field"));
		if (res && strcmp(res, resource) == 0 && (!field || (f && tp_startswith(f, field))))
			return 1;
	}
	return 0;
}

static int emit_queue(struct run *r, struct rec *p, struct aws_call *c, int dlq)
{
	const char *res = dlq ? "dead-letter queue" : "queue";
	const char *url = dlq ? p->dlq_url : p->q_url;
	cJSON *want = rc_spec_part(p, dlq ? "dlq" : "queue");
	cJSON *attrs = queue_attributes(want);
	if (!dlq) {
		const char *arn = rc_queue_arn(p, 1);
		if (!arn) {
			cJSON_Delete(attrs);
			rc_failf(p, TP_EAWS, "NoQueueArn", "dead-letter queue %s: its QueueArn is unknown%s", p->nm.dlq, "");
			return 0;
		}
		cJSON *mrc = cJSON_GetObjectItem(want, "maxReceiveCount");
		char *rp = tp_xasprintf("{\"deadLetterTargetArn\":\"%s\",\"maxReceiveCount\":%ld}", arn,
					mrc ? (long)mrc->valuedouble : 5);
		cJSON_AddStringToObject(attrs, "RedrivePolicy", rp);
		free(rp);
	}
	int n = 0;
	if (!url) {
		cJSON *in = cJSON_CreateObject();
		cJSON_AddStringToObject(in, "QueueName", dlq ? p->nm.dlq : p->nm.queue);
		cJSON_AddItemToObject(in, "Attributes", attrs);
		cJSON_AddItemToObject(in, "tags", rc_desired_tags(r, p));
		rc_prep_sqs(&c[n++], "CreateQueue", NULL, in);
		return n;
	}
	/* Lambda requires the queue's visibility timeout >= the function's
	 * timeout for the mapping ("Creating and configuring an Amazon SQS event
	 * source mapping", services-sqs-configure.html): a visibility timeout
	 * that would drop below the function's current timeout waits for the
	 * function's new, lower one (step queue-late). Raising goes first. */
	int late = 0;
	if (!dlq && changed(p, res, "VisibilityTimeout")) {
		cJSON *vt = cJSON_GetObjectItem(want, "VisibilityTimeout");
		cJSON *ft = cJSON_GetObjectItem(cJSON_GetObjectItem(p->fn, "Configuration"), "Timeout");
		if (cJSON_IsNumber(vt) && cJSON_IsNumber(ft) && vt->valuedouble < ft->valuedouble) {
			cJSON_DeleteItemFromObject(attrs, "VisibilityTimeout");
			p->vis_late = late = 1;
		}
	}
	int attr_change = 0;
	cJSON *ch;
	cJSON_ArrayForEach(ch, p->changes) {
		const char *cres = cJSON_GetStringValue(cJSON_GetObjectItem(ch, "resource"));
		const char *f = cJSON_GetStringValue(cJSON_GetObjectItem(ch, "field"));
		if (cres && f && strcmp(cres, res) == 0 && !tp_startswith(f, "Tags") &&
		    !(late && strcmp(f, "VisibilityTimeout") == 0))
			attr_change = 1;
	}
	if (attr_change) {
		cJSON *in = cJSON_CreateObject();
		cJSON_AddItemToObject(in, "Attributes", attrs);
		rc_prep_sqs(&c[n++], "SetQueueAttributes", url, in);
	} else {
		cJSON_Delete(attrs);
	}
	if (changed(p, res, "Tags")) {
		const cJSON *have = dlq ? p->dlq_tags : p->q_tags;
		cJSON *tags = rc_desired_tags(r, p);
		cJSON *add = rc_missing_tags(tags, have), *del = rc_stale_tags(p->old_spec, tags, have);
		cJSON_Delete(tags);
		if (add->child) {
			cJSON *in = cJSON_CreateObject();
			cJSON_AddItemToObject(in, "Tags", add);
			rc_prep_sqs(&c[n++], "TagQueue", url, in);
		} else {
			cJSON_Delete(add);
		}
		if (del->child) {
			cJSON *in = cJSON_CreateObject();
			cJSON_AddItemToObject(in, "TagKeys", del);
			rc_prep_sqs(&c[n++], "UntagQueue", url, in);
		} else {
			cJSON_Delete(del);
		}
	}
	return n;
}

static void done_queue(struct rec *p, struct aws_call *c, int n, int dlq)
{
	for (int i = 0; i < n; i++) {
		if (c[i].rc != TP_OK && strstr(c[i].err.code, "QueueDeletedRecently")) {
			/* "You must wait 60 seconds after deleting a queue before you can
			 * create another queue with the same name" (SQS CreateQueue,
			 * QueueDeletedRecently): a later run creates it. */
			rc_retryf(p, "QueueDeletedRecently",
				  "queue %s was deleted less than 60 s ago; SQS refuses the name until then: retry later%s",
				  dlq ? p->nm.dlq : p->nm.queue, "");
			return;
		}
		if (c[i].rc != TP_OK) {
			rc_fail(p, &c[i].err);
			return;
		}
		if (strcmp(c[i].op, "CreateQueue") == 0) {
			cJSON *out = awsj_result(&c[i]);
			const char *url = cJSON_GetStringValue(cJSON_GetObjectItem(out, "QueueUrl"));
			if (url)
				*(dlq ? &p->dlq_url : &p->q_url) = tp_xstrdup(url);
			cJSON_Delete(out);
		}
	}
}

int rc_emit_dlq(struct run *r, struct rec *p, struct aws_call *c)
{
	if (!p->spec)
		return 0;
	return changed(p, "dead-letter queue", NULL) ? emit_queue(r, p, c, 1) : 0;
}

void rc_done_dlq(struct run *r, struct rec *p, struct aws_call *c, int n)
{
	done_queue(p, c, n, 1);
}

int rc_emit_main_queue(struct run *r, struct rec *p, struct aws_call *c)
{
	if (!p->spec)
		return 0;
	return changed(p, "queue", NULL) ? emit_queue(r, p, c, 0) : 0;
}

void rc_done_main_queue(struct run *r, struct rec *p, struct aws_call *c, int n)
{
	done_queue(p, c, n, 0);
}

int rc_emit_queue_late(struct run *r, struct rec *p, struct aws_call *c)
{
	if (!p->spec || !p->vis_late || !p->q_url)
		return 0;
	cJSON *in = cJSON_CreateObject();
	cJSON *a = cJSON_AddObjectToObject(in, "Attributes");
	char s[64];
	json_value_str(cJSON_GetObjectItem(rc_spec_part(p, "queue"), "VisibilityTimeout"), s, sizeof s);
	cJSON_AddStringToObject(a, "VisibilityTimeout", s);
	rc_prep_sqs(&c[0], "SetQueueAttributes", p->q_url, in);
	return 1;
}

/* Remember whether Lambda is still creating (Pending) or updating this
 * function: "any invocations or other API actions that operate on the
 * function will fail" while Pending, and updates conflict while InProgress
 * (https://docs.aws.amazon.com/lambda/latest/dg/functions-states.html), so
 * the steps after (configuration, concurrency, the new mapping) wait. */
static void note_function_state(struct rec *p, const cJSON *cfg)
{
	const char *st = cJSON_GetStringValue(cJSON_GetObjectItem(cfg, "State"));
	const char *lu = cJSON_GetStringValue(cJSON_GetObjectItem(cfg, "LastUpdateStatus"));
	if (st && strcmp(st, "Failed") == 0) {
		const char *why = cJSON_GetStringValue(cJSON_GetObjectItem(cfg, "StateReason"));
		rc_failf(p, TP_EAWS, "FunctionFailed",
			 "function %s is in State Failed (%s); the next run deletes and recreates it", p->nm.function,
			 why ? why : "no reason given");
		return;
	}
	if (lu && strcmp(lu, "Failed") == 0) {
		const char *why = cJSON_GetStringValue(cJSON_GetObjectItem(cfg, "LastUpdateStatusReason"));
		rc_failf(p, TP_EAWS, "FunctionUpdateFailed", "function update failed: %s%s", why ? why : "no reason given", "");
		return;
	}
	p->fn_wait = (st && strcmp(st, "Pending") == 0) || (lu && strcmp(lu, "InProgress") == 0);
}

/* An owned function in State Failed is deleted, then created again (step function). */
int rc_emit_delete_failed(struct run *r, struct rec *p, struct aws_call *c)
{
	if (!p->spec || !p->fn_recreate)
		return 0;
	rc_prep_lambda(&c[0], "DeleteFunction", "DELETE", rc_fn_path(p, ""), NULL, NULL);
	return 1;
}

void rc_done_delete_failed(struct run *r, struct rec *p, struct aws_call *c, int n)
{
	if (c[0].rc != TP_OK && !rc_not_found(&c[0])) {
		rc_fail(p, &c[0].err);
		return;
	}
	cJSON_Delete(p->fn);
	p->fn = NULL;
}

/* The current version of the spec's code object, asked once a run per
 * object: S3ObjectStorageMode REFERENCE must name one. Fails the record
 * (and returns NULL) when the object is gone or the bucket is unversioned:
 * a function is never pointed at a version taskpipe did not see. */
static const char *reference_version(struct run *r, struct rec *p, const cJSON *code)
{
	const char *b = cJSON_GetStringValue(cJSON_GetObjectItem(code, "S3Bucket"));
	const char *k = cJSON_GetStringValue(cJSON_GetObjectItem(code, "S3Key"));
	if (!b || !k)
		return NULL;
	char *id = tp_xasprintf("%s/%s", b, k);
	if (!r->code_versions)
		r->code_versions = cJSON_CreateObject();
	cJSON *hit = cJSON_GetObjectItemCaseSensitive(r->code_versions, id);
	if (!hit) {
		char v[256];
		tp_err e = { 0 };
		int rc = codestore_current_version(r->app->aws, b, k, v, sizeof v, &e);
		if (rc == TP_OK || rc == TP_ENOTFOUND)  /* other errors: asked again next time */
			hit = cJSON_AddStringToObject(r->code_versions, id, rc == TP_OK ? v : "\x01");
		else
			rc_fail(p, &e);
	}
	const char *v = hit ? hit->valuestring : NULL;
	if (v && strcmp(v, "\x01") == 0) {
		rc_failf(p, TP_ENOTFOUND, "CodeObjectGone",
			 "code object s3://%s is gone: a REFERENCE function cannot run without it (State Inactive); upload it again, taskpipe does not guess another%s",
			 id, "");
		v = NULL;
	} else if (v && !*v) {
		rc_failf(p, TP_EINVAL, "ReferenceNeedsVersioning",
			 "code_storage reference needs a versioned bucket; s3://%s has no version id (enable versioning or set code_storage = \"copy\")%s",
			 id, "");
		v = NULL;
	}
	free(id);
	return v;
}

/* The Code of a CreateFunction / body of an UpdateFunctionCode: the spec's
 * code, with the object version when it is REFERENCE (sent on every
 * update: one without S3ObjectStorageMode puts the function back to COPY). */
static cJSON *code_request(struct run *r, struct rec *p, const cJSON *func)
{
	const cJSON *code = cJSON_GetObjectItem(func, "Code");
	const char *v = NULL;
	if (codestore_reference(func) && !(v = reference_version(r, p, code)))
		return NULL;
	cJSON *out = cJSON_Duplicate(code, 1);
	if (v) {
		cJSON_DeleteItemFromObject(out, "S3ObjectVersion");
		cJSON_AddStringToObject(out, "S3ObjectVersion", v);
	}
	return out;
}

int rc_emit_function_code(struct run *r, struct rec *p, struct aws_call *c)
{
	if (!p->spec)
		return 0;
	cJSON *func = rc_spec_part(p, "func");
	if (!p->fn) {
		/* The role was checked before any change (rc_check_and_diff). */
		cJSON *code = code_request(r, p, func);
		if (!code)
			return 0;
		cJSON *in = rc_desired_config(r, p);
		cJSON_AddStringToObject(in, "FunctionName", p->nm.function);
		cJSON_AddItemToObject(in, "Code", code);
		cJSON *arch = cJSON_GetObjectItem(func, "Architectures");
		if (arch)
			cJSON_AddItemToObject(in, "Architectures", cJSON_Duplicate(arch, 1));
		cJSON_AddItemToObject(in, "Tags", rc_desired_tags(r, p));
		rc_prep_lambda(&c[0], "CreateFunction", "POST", tp_xstrdup("/2015-03-31/functions"), NULL, in);
		return 1;
	}
	/* "Code" matches Code.S3ObjectStorageMode too (changed() is a prefix match). */
	if (!changed(p, "function", "Code") && !changed(p, "function", "Architectures") &&
	    !changed(p, "function", "State"))
		return 0;
	cJSON *in = code_request(r, p, func);
	if (!in)
		return 0;
	cJSON *arch = cJSON_GetObjectItem(func, "Architectures");
	if (arch)
		cJSON_AddItemToObject(in, "Architectures", cJSON_Duplicate(arch, 1));
	rc_prep_lambda(&c[0], "UpdateFunctionCode", "PUT", rc_fn_path(p, "/code"), NULL, in);
	return 1;
}

void rc_done_function(struct run *r, struct rec *p, struct aws_call *c, int n)
{
	if (c[0].rc != TP_OK) {
		rc_fail(p, &c[0].err);
		return;
	}
	cJSON *out = awsj_result(&c[0]);
	if (strcmp(c[0].op, "CreateFunction") == 0 && out) {
		/* Shape it like a GetFunction answer for the steps after. */
		cJSON *fn = cJSON_CreateObject();
		cJSON_AddItemToObject(fn, "Configuration", cJSON_Duplicate(out, 1));
		cJSON_AddItemToObject(fn, "Tags", rc_desired_tags(r, p));
		p->fn = fn;
		p->fn_created = 1;
	}
	note_function_state(p, out);
	cJSON_Delete(out);
}

int rc_emit_wait(struct run *r, struct rec *p, struct aws_call *c)
{
	if (!p->fn_wait)
		return 0;
	if (++p->fn_waits > RC_WAIT_ROUNDS) {
		rc_retryf(p, "FunctionUpdateTimeout", "function %s still updating after %s polls; retry later",
			  p->nm.function, "120");
		return 0;
	}
	rc_prep_lambda(&c[0], "GetFunction", "GET", rc_fn_path(p, ""), NULL, NULL);
	return 1;
}

void rc_done_wait(struct run *r, struct rec *p, struct aws_call *c, int n)
{
	if (c[0].rc != TP_OK) {
		rc_fail(p, &c[0].err);
		return;
	}
	cJSON *out = awsj_result(&c[0]);
	note_function_state(p, cJSON_GetObjectItem(out, "Configuration"));
	cJSON_Delete(out);
}

static int config_changed(const struct rec *p)
{
	cJSON *ch;
	cJSON_ArrayForEach(ch, p->changes) {
		const char *res = cJSON_GetStringValue(cJSON_GetObjectItem(ch, "resource"));
		const char *f = cJSON_GetStringValue(cJSON_GetObjectItem(ch, "field"));
		if (res && f && strcmp(res, "function") == 0 && !tp_startswith(f, "Tags") &&
		    strcmp(f, "ReservedConcurrentExecutions") != 0 && strcmp(f, "Architectures") != 0 &&
		    strcmp(f, "Code.S3ObjectStorageMode") != 0 && strcmp(f, "State") != 0)
			return 1;  /* Code too: the Description records the code object */
	}
	return 0;
}

int rc_emit_function_config(struct run *r, struct rec *p, struct aws_call *c)
{
	if (!p->spec || p->fn_created || !config_changed(p))
		return 0;
	rc_prep_lambda(&c[0], "UpdateFunctionConfiguration", "PUT", rc_fn_path(p, "/configuration"), NULL,
		       rc_desired_config(r, p));
	return 1;
}

static const char *function_arn(const struct rec *p)
{
	return cJSON_GetStringValue(
		cJSON_GetObjectItem(cJSON_GetObjectItem(p->fn, "Configuration"), "FunctionArn"));
}

int rc_emit_function_extras(struct run *r, struct rec *p, struct aws_call *c)
{
	if (!p->spec || !p->fn)
		return 0;
	int n = 0, created = p->fn_created;
	cJSON *rc = cJSON_GetObjectItem(rc_spec_part(p, "func"), "ReservedConcurrentExecutions");
	if (cJSON_IsNumber(rc) && (created || changed(p, "function", "ReservedConcurrentExecutions"))) {
		cJSON *in = cJSON_CreateObject();
		cJSON_AddNumberToObject(in, "ReservedConcurrentExecutions", rc->valuedouble);
		rc_prep_lambda(&c[n++], "PutFunctionConcurrency", "PUT",
			       tp_xasprintf("/2017-10-31/functions/%s/concurrency", p->nm.function), NULL, in);
	} else if (!cJSON_IsNumber(rc) && changed(p, "function", "ReservedConcurrentExecutions")) {
		rc_prep_lambda(&c[n++], "DeleteFunctionConcurrency", "DELETE",
			       tp_xasprintf("/2017-10-31/functions/%s/concurrency", p->nm.function), NULL, NULL);
	}
	const char *arn = function_arn(p);
	if (!created && arn && changed(p, "function", "Tags")) {
		char enc[600];
		sigv4_uri_encode(arn, strlen(arn), 0, enc, sizeof enc);
		const cJSON *have = cJSON_GetObjectItem(p->fn, "Tags");
		cJSON *tags = rc_desired_tags(r, p);
		cJSON *add = rc_missing_tags(tags, have), *del = rc_stale_tags(p->old_spec, tags, have);
		cJSON_Delete(tags);
		if (add->child) {
			cJSON *in = cJSON_CreateObject();
			cJSON_AddItemToObject(in, "Tags", add);
			rc_prep_lambda(&c[n++], "TagResource", "POST", tp_xasprintf("/2017-03-31/tags/%s", enc),
				       NULL, in);
		} else {
			cJSON_Delete(add);
		}
		if (del->child) {
			buf q = { 0 };
			for (cJSON *k = del->child; k; k = k->next)
				awsj_form_add(&q, "tagKeys", k->valuestring);
			rc_prep_lambda(&c[n++], "UntagResource", "DELETE", tp_xasprintf("/2017-03-31/tags/%s", enc),
				       buf_str(&q), NULL);
			buf_free(&q);
		}
		cJSON_Delete(del);
	}
	return n;
}

void rc_done_all_ok(struct run *r, struct rec *p, struct aws_call *c, int n)
{
	for (int i = 0; i < n; i++)
		if (c[i].rc != TP_OK) {
			rc_fail(p, &c[i].err);
			return;
		}
}

/* ---- the mapping, around the concurrency change ---- */

/* Reserved concurrency that step extras will put. */
static int reserved_put_pending(const struct rec *p)
{
	cJSON *rc = cJSON_GetObjectItem(rc_spec_part(p, "func"), "ReservedConcurrentExecutions");
	return cJSON_IsNumber(rc) && (p->fn_created || changed(p, "function", "ReservedConcurrentExecutions"));
}

/* The group's limit is min(reserved concurrency, the enabled mapping's
 * MaximumConcurrency); SQS pollers without either start at 5 concurrent
 * invocations and scale up ("Configuring scaling behavior for SQS event
 * source mappings", services-sqs-scaling.html). The new limit is in force
 * before the old one goes: the mapping update splits in two around step
 * extras (reserved concurrency).
 *   pre:  a disable (with everything else: a disabled mapping runs nothing),
 *         a new MaximumConcurrency, an enable that no pending change needs
 *   post: MaximumConcurrency removed (after reserved concurrency is put),
 *         an enable waiting for reserved concurrency or for that removal
 * Other fields ride with pre when it is sent, else with post.
 * Returns the part asked for (NULL: nothing), and *other_part whether the
 * other part has something too. */
static cJSON *mapping_part(struct rec *p, int post, int *other_part)
{
	*other_part = 0;
	cJSON *upd = rc_mapping_update(p, 0);
	if (!upd)
		return NULL;
	cJSON *en = cJSON_GetObjectItem(upd, "Enabled");
	if (cJSON_IsFalse(en)) {
		if (post) {
			cJSON_Delete(upd);
			return NULL;
		}
		return upd;
	}
	cJSON *sc = cJSON_GetObjectItem(upd, "ScalingConfig");
	int m_removed = sc && !cJSON_GetObjectItem(sc, "MaximumConcurrency");
	cJSON *late = cJSON_CreateObject();
	if (m_removed)
		cJSON_AddItemToObject(late, "ScalingConfig", cJSON_DetachItemFromObject(upd, "ScalingConfig"));
	if (en && (m_removed || reserved_put_pending(p)))
		cJSON_AddItemToObject(late, "Enabled", cJSON_DetachItemFromObject(upd, "Enabled"));
	int pre_own = cJSON_GetObjectItem(upd, "ScalingConfig") || cJSON_GetObjectItem(upd, "Enabled");
	if (late->child && !pre_own) {
		/* No limit change comes first: everything goes in one (post) update. */
		for (cJSON *it; (it = upd->child);)
			cJSON_AddItemToObject(late, it->string, cJSON_DetachItemViaPointer(upd, it));
	}
	cJSON *mine = post ? late : upd, *other = post ? upd : late;
	*other_part = other->child != NULL;
	cJSON_Delete(other);
	if (!mine->child) {
		cJSON_Delete(mine);
		return NULL;
	}
	return mine;
}

static void prep_mapping_update(struct rec *p, struct aws_call *c, cJSON *upd)
{
	const char *uuid = cJSON_GetStringValue(cJSON_GetObjectItem(p->esm, "UUID"));
	cJSON_AddStringToObject(upd, "FunctionName", p->nm.function);
	rc_prep_lambda(c, "UpdateEventSourceMapping", "PUT",
		       tp_xasprintf("/2015-03-31/event-source-mappings/%s", uuid ? uuid : ""), NULL, upd);
}

int rc_emit_mapping_pre(struct run *r, struct rec *p, struct aws_call *c)
{
	if (!p->spec || !p->esm)
		return 0;
	cJSON *upd = mapping_part(p, 0, &p->esm_post);
	if (!upd)
		return 0;
	prep_mapping_update(p, c, upd);
	return 1;
}

void rc_done_mapping_pre(struct run *r, struct rec *p, struct aws_call *c, int n)
{
	if (c[0].rc != TP_OK) {
		rc_fail(p, &c[0].err);
		return;
	}
	/* A mapping change is in force only once the mapping has settled
	 * (Updating, Disabling): wait for that before step extras loosens
	 * reserved concurrency, and before mapping-post, which diffs the
	 * mapping as mapping-wait re-read it. */
	p->esm_wait = p->esm_post || changed(p, "function", "ReservedConcurrentExecutions");
}

int rc_emit_mapping_post(struct run *r, struct rec *p, struct aws_call *c)
{
	if (!p->spec)
		return 0;
	cJSON *want = rc_spec_part(p, "mapping");
	if (!p->esm) {
		const char *arn = rc_queue_arn(p, 0);
		if (!arn) {
			rc_failf(p, TP_EAWS, "NoQueueArn", "queue %s: its QueueArn is unknown%s", p->nm.queue, "");
			return 0;
		}
		cJSON *in = cJSON_Duplicate(want, 1);
		cJSON_DeleteItemFromObject(in, "ScalingConfig");
		if (rc_scaling_max(want))
			cJSON_AddItemToObject(in, "ScalingConfig",
					      cJSON_Duplicate(cJSON_GetObjectItem(want, "ScalingConfig"), 1));
		cJSON_AddStringToObject(in, "EventSourceArn", arn);
		cJSON_AddStringToObject(in, "FunctionName", p->nm.function);
		rc_prep_lambda(&c[0], "CreateEventSourceMapping", "POST",
			       tp_xstrdup("/2015-03-31/event-source-mappings/"), NULL, in);
		return 1;
	}
	int other;
	cJSON *upd = mapping_part(p, 1, &other);
	if (!upd)
		return 0;
	prep_mapping_update(p, c, upd);
	return 1;
}

/* ---- deletion, in reverse ---- */

int rc_emit_delete_mapping(struct run *r, struct rec *p, struct aws_call *c)
{
	if (p->spec || !p->esm)
		return 0;
	const char *uuid = cJSON_GetStringValue(cJSON_GetObjectItem(p->esm, "UUID"));
	rc_prep_lambda(&c[0], "DeleteEventSourceMapping", "DELETE",
		       tp_xasprintf("/2015-03-31/event-source-mappings/%s", uuid ? uuid : ""), NULL, NULL);
	return 1;
}

void rc_done_delete(struct run *r, struct rec *p, struct aws_call *c, int n)
{
	for (int i = 0; i < n; i++)
		if (c[i].rc != TP_OK && !rc_not_found(&c[i])) {
			rc_fail(p, &c[i].err);
			return;
		}
}

int rc_emit_delete_function(struct run *r, struct rec *p, struct aws_call *c)
{
	if (p->spec || !p->fn)
		return 0;
	rc_prep_lambda(&c[0], "DeleteFunction", "DELETE", rc_fn_path(p, ""), NULL, NULL);
	return 1;
}

int rc_emit_delete_queue(struct run *r, struct rec *p, struct aws_call *c)
{
	if (p->spec || !p->q_url)
		return 0;
	rc_prep_sqs(&c[0], "DeleteQueue", p->q_url, NULL);
	return 1;
}

int rc_emit_delete_dlq(struct run *r, struct rec *p, struct aws_call *c)
{
	if (p->spec || !p->dlq_url || p->dlq_kept)
		return 0;
	rc_prep_sqs(&c[0], "DeleteQueue", p->dlq_url, NULL);
	return 1;
}
