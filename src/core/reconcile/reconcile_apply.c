/* reconcile_apply.c: the changes a diff calls for, made in dependency
 * order (DLQ, queue, function code, configuration, concurrency and tags,
 * mapping), and the deletions of a pipeline whose item is gone, in reverse
 * (mapping, function, queue, DLQ); see reconcile.h. Each step makes only
 * the calls the change list of its record asks for. */
#include "core/reconcile/reconcile_int.h"

#include "aws/awsjson.h"
#include "base/log.h"
#include "core/codestore.h"
#include "core/store.h"
#include "base/json.h"
#include "aws/lambda.h"
#include "aws/sqs.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- mutations, in dependency order ---- */

/* A change of this kind (and field, when given) is listed for res. */
static int changed(const struct rec *p, enum diff_res res, enum diff_kind kind, const char *field)
{
	for (size_t i = 0; i < p->changes.n; i++) {
		const struct diff_change *c = &p->changes.v[i];
		if (c->res == res && c->kind == kind && (!field || (c->field && strcmp(c->field, field) == 0)))
			return 1;
	}
	return 0;
}

/* The attributes the spec sets on a queue (aws/sqs.h); dlq_arn: the main
 * queue's RedrivePolicy target (maxReceiveCount 5 when the spec sets none). */
static struct sqs_queue_attrs queue_attrs(const struct spec_queue *want, const char *dlq_arn)
{
	struct sqs_queue_attrs a = {
		.visibility_timeout = want->attr[SQ_VISIBILITY_TIMEOUT],
		.retention = want->attr[SQ_RETENTION],
		.receive_wait = want->attr[SQ_WAIT],
		.delay = want->attr[SQ_DELAY],
		.max_size = want->attr[SQ_MAX_SIZE],
		.dlq_arn = dlq_arn,
		.max_receive = want->max_receive == SPEC_UNSET ? 5 : want->max_receive,
	};
	return a;
}

/* The tag changes of res as a Tags object to add and a list of keys to
 * remove (either NULL when empty). */
static void tag_changes(const struct rec *p, enum diff_res res, cJSON **add, cJSON **del)
{
	*add = *del = NULL;
	for (size_t i = 0; i < p->changes.n; i++) {
		const struct diff_change *c = &p->changes.v[i];
		if (c->res != res || c->kind != DK_TAG)
			continue;
		if (c->act == DIFF_TAG) {
			if (!*add)
				*add = cJSON_CreateObject();
			cJSON_AddStringToObject(*add, diff_tag_key(c), c->to);
		} else {
			if (!*del)
				*del = cJSON_CreateArray();
			cJSON_AddItemToArray(*del, cJSON_CreateString(diff_tag_key(c)));
		}
	}
}

static int emit_queue(struct run *r, struct rec *p, struct aws_call *c, int dlq)
{
	enum diff_res res = dlq ? DIFF_DLQ : DIFF_QUEUE;
	const char *url = dlq ? p->dlq_url : p->q_url;
	const struct spec_queue *want = dlq ? &p->want.spec.dlq : &p->want.spec.queue;
	const char *arn = NULL;
	if (!dlq && !(arn = rc_queue_arn(p, 1))) {
		rc_failf(p, TP_EAWS, "NoQueueArn", "dead-letter queue %s: its QueueArn is unknown", p->nm.dlq);
		return 0;
	}
	struct sqs_queue_attrs attrs = queue_attrs(want, arn);
	int n = 0;
	if (!url) {
		sqs_create_queue(&c[n++], dlq ? p->nm.dlq : p->nm.queue, sqs_queue_attrs_json(&attrs),
				 pipeline_tags_json(&p->want));
		return n;
	}
	/* Lambda requires the queue's visibility timeout >= the function's
	 * timeout for the mapping ("Creating and configuring an Amazon SQS event
	 * source mapping", services-sqs-configure.html): a visibility timeout
	 * that would drop below the function's current timeout waits for the
	 * function's new, lower one (step queue-late). Raising goes first. */
	int late = 0;
	if (!dlq && changed(p, res, DK_QUEUE_ATTR, "VisibilityTimeout")) {
		long vt = want->attr[SQ_VISIBILITY_TIMEOUT];
		cJSON *ft = cJSON_GetObjectItem(cJSON_GetObjectItem(p->fn, "Configuration"), "Timeout");
		if (vt != SPEC_UNSET && cJSON_IsNumber(ft) && (double)vt < ft->valuedouble) {
			attrs.visibility_timeout = -1;
			p->vis_late = late = 1;
		}
	}
	int attr_change = 0;
	for (size_t i = 0; i < p->changes.n; i++) {
		const struct diff_change *ch = &p->changes.v[i];
		if (ch->res == res && ch->act == DIFF_SET &&
		    !(late && ch->kind == DK_QUEUE_ATTR && strcmp(ch->field, "VisibilityTimeout") == 0))
			attr_change = 1;
	}
	if (attr_change)
		sqs_set_queue_attributes(&c[n++], url, sqs_queue_attrs_json(&attrs));
	cJSON *add, *del;
	tag_changes(p, res, &add, &del);
	if (add)
		sqs_tag_queue(&c[n++], url, add);
	if (del)
		sqs_untag_queue(&c[n++], url, del);
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
				  "queue %s was deleted less than 60 s ago; SQS refuses the name until then: retry later",
				  dlq ? p->nm.dlq : p->nm.queue);
			return;
		}
		if (rc_again(p, &c[i]))
			return;
		if (c[i].rc != TP_OK) {
			rc_fail(p, &c[i].err);
			return;
		}
		if (strcmp(c[i].op, "CreateQueue") == 0) {
			p->queues_created = 1;
			cJSON *out = awsj_result(&c[i]);
			const char *url = cJSON_GetStringValue(cJSON_GetObjectItem(out, "QueueUrl"));
			if (url)
				*(dlq ? &p->dlq_url : &p->q_url) = tp_xstrdup(url);
			else   /* SQS is asked for it (step dlq-url / queue-url) */
				*(dlq ? &p->url_unknown.dlq : &p->url_unknown.queue) = 1;
			cJSON_Delete(out);
		}
	}
}

int rc_emit_dlq(struct run *r, struct rec *p, struct aws_call *c)
{
	if (!p->spec)
		return 0;
	return diff_any(&p->changes, DIFF_DLQ) ? emit_queue(r, p, c, 1) : 0;
}

void rc_done_dlq(struct run *r, struct rec *p, struct aws_call *c, int n)
{
	done_queue(p, c, n, 1);
}

int rc_emit_main_queue(struct run *r, struct rec *p, struct aws_call *c)
{
	if (!p->spec)
		return 0;
	return diff_any(&p->changes, DIFF_QUEUE) ? emit_queue(r, p, c, 0) : 0;
}

void rc_done_main_queue(struct run *r, struct rec *p, struct aws_call *c, int n)
{
	done_queue(p, c, n, 0);
}

int rc_emit_queue_late(struct run *r, struct rec *p, struct aws_call *c)
{
	if (!p->spec || !p->vis_late || !p->q_url)
		return 0;
	struct sqs_queue_attrs a = SQS_QUEUE_ATTRS_INIT;
	a.visibility_timeout = p->want.spec.queue.attr[SQ_VISIBILITY_TIMEOUT];
	sqs_set_queue_attributes(&c[0], p->q_url, sqs_queue_attrs_json(&a));
	return 1;
}

/* The function configuration to send: the desired one, with the spec's
 * Layers; an empty list when the spec has none but the function has some
 * (removing rate removes the consumer layer), left out when neither has
 * any, so such bodies stay as they were. */
static void desired_config(const struct rec *p, struct lambda_function_config *cfg)
{
	pipeline_function_config(&p->want, cfg);
	const struct spec_func *f = &p->want.spec.func;
	cJSON *have = cJSON_GetObjectItem(cJSON_GetObjectItem(p->fn, "Configuration"), "Layers");
	cfg->layers = (const char *const *)f->layers;
	cfg->n_layers = f->n_layers;
	cfg->clear_layers = cJSON_GetArraySize(have) > 0;
}

/* Remember whether Lambda is still creating (Pending) or updating this
 * function: "any invocations or other API actions that operate on the
 * function will fail" while Pending, and updates conflict while InProgress
 * (https://docs.aws.amazon.com/lambda/latest/dg/functions-states.html), so
 * the steps after (configuration, concurrency, the new mapping) wait. */
static void note_function_state(struct rec *p, const cJSON *cfg)
{
	struct lambda_config fc;
	lambda_config_read(cfg, &fc);
	if (fc.failed) {
		rc_failf(p, TP_EAWS, "FunctionFailed",
			 "function %s is in State Failed (%s); the next run deletes and recreates it", p->nm.function,
			 fc.state_reason[0] ? fc.state_reason : "no reason given");
		return;
	}
	if (strcmp(fc.last_update, "Failed") == 0) {
		rc_failf(p, TP_EAWS, "FunctionUpdateFailed", "function update failed: %s",
			 fc.last_update_reason[0] ? fc.last_update_reason : "no reason given");
		return;
	}
	p->fn_step.wait = fc.busy;
}

/* An owned function in State Failed is deleted, then created again (step function). */
int rc_emit_delete_failed(struct run *r, struct rec *p, struct aws_call *c)
{
	if (!p->spec || !p->fn_step.recreate)
		return 0;
	lambda_delete_function(&c[0], p->nm.function);
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
static const char *reference_version(struct run *r, struct rec *p, const struct spec_func *code)
{
	const char *b = code->bucket, *k = code->key;
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
			 "code object s3://%s is gone: a REFERENCE function cannot run without it (State Inactive); upload it again, taskpipe does not guess another",
			 id);
		v = NULL;
	} else if (v && !*v) {
		rc_failf(p, TP_EINVAL, "ReferenceNeedsVersioning",
			 "code_storage reference needs a versioned bucket; s3://%s has no version id (enable versioning or set code_storage = \"copy\")",
			 id);
		v = NULL;
	}
	free(id);
	return v;
}

/* A rollout that rolled the object's latest version back rejected it
 * (store.h, code#): until a newer upload, functions get the last good
 * version instead. Asked once a run per object: the code# record, and only
 * when it rejects something, HeadObject for the latest version. *pin is
 * that version or NULL; < 0 (the record failed) when the state cannot be
 * read: nothing is deployed rather than maybe the rejected code. */
static int pinned_version(struct run *r, struct rec *p, const struct spec_func *code, const char **pin)
{
	const char *b = code->bucket, *k = code->key;
	*pin = NULL;
	if (!b || !k || code->version)
		return TP_OK; /* the policy named a version: its choice */
	char *id = tp_xasprintf("%s/%s", b, k);
	if (!r->code_pins)
		r->code_pins = cJSON_CreateObject();
	cJSON *hit = cJSON_GetObjectItemCaseSensitive(r->code_pins, id);
	int rc = TP_OK;
	if (!hit) {
		struct store_code sc;
		tp_err e = { 0 };
		char cur[256] = "";
		rc = store_code_get(r->app->aws, r->app->set.state_table, b, k, &sc, &e);
		if (rc == TP_OK && sc.nrejected && sc.good_version) {
			rc = codestore_current_version(r->app->aws, b, k, cur, sizeof cur, &e);
			if (rc == TP_ENOTFOUND)
				rc = TP_OK, cur[0] = 0;
		}
		if (rc < 0)
			rc_fail(p, &e);
		else
			hit = cJSON_AddStringToObject(r->code_pins, id,
						      cur[0] && store_code_is_rejected(&sc, cur) ? sc.good_version : "");
		store_code_free(&sc);
	}
	if (hit && hit->valuestring[0]) {
		*pin = hit->valuestring;
		log_info("pipeline %s: s3://%s's latest version was rolled back; deploying version %s", p->nm.function, id,
			 *pin);
	}
	free(id);
	return rc;
}

/* The Code of a CreateFunction / body of an UpdateFunctionCode: the spec's
 * code and Architectures, with the object version when it is REFERENCE
 * (sent on every update: one without S3ObjectStorageMode puts the function
 * back to COPY), or the last good version when the latest was rejected
 * (pinned_version). 0 (the record failed) when the version is unknown. */
static int code_request(struct run *r, struct rec *p, const struct spec_func *func, struct lambda_code *out)
{
	const char *v = NULL;
	if (pinned_version(r, p, func, &v) < 0)
		return 0;
	if (!v && func->storage == STORAGE_REFERENCE && !(v = reference_version(r, p, func)))
		return 0;
	static const enum lambda_storage storage[] = { [STORAGE_UNSET] = LAMBDA_STORAGE_DEFAULT,
						       [STORAGE_COPY] = LAMBDA_STORAGE_COPY,
						       [STORAGE_REFERENCE] = LAMBDA_STORAGE_REFERENCE };
	*out = (struct lambda_code){
		.bucket = func->bucket, .key = func->key, .version = v ? v : func->version,
		.storage = storage[func->storage],
		.arch = func->arch != ARCH_UNSET ? spec_arch_name(func->arch) : NULL,
	};
	return 1;
}

int rc_emit_function_code(struct run *r, struct rec *p, struct aws_call *c)
{
	if (!p->spec)
		return 0;
	const struct spec_func *func = &p->want.spec.func;
	struct lambda_code code;
	if (!p->fn) {
		/* The role was checked before any change (rc_check_and_diff). */
		if (!code_request(r, p, func, &code))
			return 0;
		struct lambda_function_config cfg;
		desired_config(p, &cfg);
		lambda_create_function(&c[0], lambda_create_function_body(p->nm.function, &cfg, &code,
									  pipeline_tags_json(&p->want)));
		free((void *)cfg.env);
		return 1;
	}
	if (!changed(p, DIFF_FUNCTION, DK_CODE, NULL) && !changed(p, DIFF_FUNCTION, DK_STORAGE, NULL) &&
	    !changed(p, DIFF_FUNCTION, DK_ARCH, NULL) && !changed(p, DIFF_FUNCTION, DK_STATE, NULL))
		return 0;
	if (!code_request(r, p, func, &code))
		return 0;
	lambda_update_function_code(&c[0], p->nm.function, lambda_code_body(&code));
	return 1;
}

void rc_done_function(struct run *r, struct rec *p, struct aws_call *c, int n)
{
	if (rc_again(p, &c[0]))   /* a new role not assumable yet: created again shortly */
		return;
	if (c[0].rc != TP_OK) {
		rc_fail(p, &c[0].err);
		return;
	}
	cJSON *out = awsj_result(&c[0]);
	if (strcmp(c[0].op, "CreateFunction") == 0 && out) {
		/* Shape it like a GetFunction answer for the steps after. */
		cJSON *fn = cJSON_CreateObject();
		cJSON_AddItemToObject(fn, "Configuration", cJSON_Duplicate(out, 1));
		cJSON_AddItemToObject(fn, "Tags", pipeline_tags_json(&p->want));
		p->fn = fn;
		p->fn_step.created = 1;
	}
	note_function_state(p, out);
	cJSON_Delete(out);
}

int rc_emit_wait(struct run *r, struct rec *p, struct aws_call *c)
{
	if (!p->fn_step.wait)
		return 0;
	if (++p->fn_step.waits > r->wait_polls) {
		rc_retryf(p, "FunctionUpdateTimeout", "function %s still updating after %d polls; retry later",
			  p->nm.function, r->wait_polls);
		return 0;
	}
	lambda_get_function(&c[0], p->nm.function, NULL);
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

/* What UpdateFunctionConfiguration sets; Code too: the Description
 * records the code object. */
static int config_changed(const struct rec *p)
{
	return changed(p, DIFF_FUNCTION, DK_FN_CONFIG, NULL) || changed(p, DIFF_FUNCTION, DK_CODE, NULL) ||
	       changed(p, DIFF_FUNCTION, DK_ENV, NULL) || changed(p, DIFF_FUNCTION, DK_LAYERS, NULL);
}

int rc_emit_function_config(struct run *r, struct rec *p, struct aws_call *c)
{
	if (!p->spec || p->fn_step.created || !config_changed(p))
		return 0;
	struct lambda_function_config cfg;
	desired_config(p, &cfg);
	lambda_update_function_configuration(&c[0], p->nm.function, lambda_function_config_body(&cfg));
	free((void *)cfg.env);
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
	int n = 0, created = p->fn_step.created;
	long rc = p->want.spec.func.reserved;
	if (rc != SPEC_UNSET && (created || changed(p, DIFF_FUNCTION, DK_RESERVED, NULL))) {
		lambda_put_function_concurrency(&c[n++], p->nm.function, (double)rc);
	} else if (rc == SPEC_UNSET && changed(p, DIFF_FUNCTION, DK_RESERVED, NULL)) {
		lambda_delete_function_concurrency(&c[n++], p->nm.function);
	}
	const char *arn = function_arn(p);
	cJSON *add, *del;
	tag_changes(p, DIFF_FUNCTION, &add, &del);
	if (created || !arn) {
		cJSON_Delete(add);
		cJSON_Delete(del);
		add = del = NULL;   /* CreateFunction set them */
	}
	if (add)
		lambda_tag_resource(&c[n++], arn, add);
	if (del) {
		lambda_untag_resource(&c[n++], arn, del);
		cJSON_Delete(del);
	}
	return n;
}

void rc_done_all_ok(struct run *r, struct rec *p, struct aws_call *c, int n)
{
	for (int i = 0; i < n; i++)
		if (c[i].rc != TP_OK && !rc_again(p, &c[i])) {
			rc_fail(p, &c[i].err);
			return;
		}
}

/* ---- the mapping, around the concurrency change ---- */

/* The mapping's differing fields (diff_mapping against the mapping as last
 * read) into *upd, the spec's values; 0 when none differ. */
static int mapping_update(struct rec *p, struct lambda_mapping *upd)
{
	const struct spec_mapping *want = &p->want.spec.mapping;
	struct diff_list l = { 0 };
	diff_mapping(want, p->esm, &l);
	*upd = (struct lambda_mapping)LAMBDA_MAPPING_INIT;
	for (size_t i = 0; i < l.n; i++) {
		const struct diff_change *c = &l.v[i];
		switch (c->kind) {
		case DK_MAP_MAX:   /* 0: ScalingConfig {} removes the limit */
			upd->scaling = 1;
			upd->max_concurrency = want->max_concurrency;
			break;
		case DK_MAP_ENABLED:
			upd->enabled = strcmp(c->to, "true") == 0;
			break;
		case DK_MAP_FRT:
			upd->report_failures = want->frt == FRT_REPORT;
			break;
		default:   /* DK_MAP_FIELD: the spec's value */
			if (strcmp(c->field, "BatchSize") == 0)
				upd->batch_size = want->batch_size;
			else
				upd->window = want->window;
		}
	}
	int any = l.n > 0;
	diff_list_free(&l);
	return any;
}

/* Reserved concurrency that step extras will put. */
static int reserved_put_pending(const struct rec *p)
{
	return p->want.spec.func.reserved != SPEC_UNSET && (p->fn_step.created || changed(p, DIFF_FUNCTION, DK_RESERVED, NULL));
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
 * *mine: the part asked for (returns 0 when it sets nothing); *other_part:
 * whether the other part has something too. */
static int mapping_part(struct rec *p, int post, int *other_part, struct lambda_mapping *mine)
{
	*other_part = 0;
	struct lambda_mapping upd, late = LAMBDA_MAPPING_INIT;
	if (!mapping_update(p, &upd))
		return 0;
	if (upd.enabled == 0) {   /* a disable: everything goes with it, in pre */
		*mine = upd;
		return !post;
	}
	int m_removed = upd.scaling && !upd.max_concurrency;
	if (m_removed) {
		late.scaling = 1;
		upd.scaling = 0;
	}
	if (upd.enabled > 0 && (m_removed || reserved_put_pending(p))) {
		late.enabled = upd.enabled;
		upd.enabled = -1;
	}
	int pre_own = upd.scaling || upd.enabled >= 0;
	if (!lambda_mapping_empty(&late) && !pre_own) {
		/* No limit change comes first: everything goes in one (post) update. */
		late.batch_size = upd.batch_size;
		late.window = upd.window;
		late.report_failures = upd.report_failures;
		upd = (struct lambda_mapping)LAMBDA_MAPPING_INIT;
	}
	*mine = post ? late : upd;
	*other_part = !lambda_mapping_empty(post ? &upd : &late);
	return !lambda_mapping_empty(mine);
}

static void prep_mapping_update(struct rec *p, struct aws_call *c, const struct lambda_mapping *upd)
{
	const char *uuid = cJSON_GetStringValue(cJSON_GetObjectItem(p->esm, "UUID"));
	lambda_update_event_source_mapping(c, uuid, lambda_mapping_body(upd, p->nm.function, NULL));
}

int rc_emit_mapping_pre(struct run *r, struct rec *p, struct aws_call *c)
{
	if (!p->spec || !p->esm)
		return 0;
	struct lambda_mapping upd;
	if (!mapping_part(p, 0, &p->esm_step.post, &upd))
		return 0;
	prep_mapping_update(p, c, &upd);
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
	p->esm_step.wait = p->esm_step.post || changed(p, DIFF_FUNCTION, DK_RESERVED, NULL);
}

int rc_emit_mapping_post(struct run *r, struct rec *p, struct aws_call *c)
{
	if (!p->spec)
		return 0;
	const struct spec_mapping *want = &p->want.spec.mapping;
	if (!p->esm) {
		const char *arn = rc_queue_arn(p, 0);
		if (!arn) {
			rc_failf(p, TP_EAWS, "NoQueueArn", "queue %s: its QueueArn is unknown", p->nm.queue);
			return 0;
		}
		struct lambda_mapping m = {
			.batch_size = want->batch_size,
			.enabled = want->enabled,
			.report_failures = want->frt == FRT_UNSET ? -1 : want->frt == FRT_REPORT,
			.window = want->window,
			.scaling = want->max_concurrency != 0,
			.max_concurrency = want->max_concurrency,
		};
		lambda_create_event_source_mapping(&c[0], lambda_mapping_body(&m, p->nm.function, arn));
		return 1;
	}
	int other;
	struct lambda_mapping upd;
	if (!mapping_part(p, 1, &other, &upd))
		return 0;
	prep_mapping_update(p, c, &upd);
	return 1;
}

/* ---- deletion, in reverse ---- */

int rc_emit_delete_mapping(struct run *r, struct rec *p, struct aws_call *c)
{
	if (!p->del.consumers || !p->esm)
		return 0;
	const char *uuid = cJSON_GetStringValue(cJSON_GetObjectItem(p->esm, "UUID"));
	lambda_delete_event_source_mapping(&c[0], uuid);
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
	if (!p->del.consumers || !p->fn)
		return 0;
	lambda_delete_function(&c[0], p->nm.function);
	return 1;
}

int rc_emit_delete_queue(struct run *r, struct rec *p, struct aws_call *c)
{
	if (!p->del.queue || !p->q_url)
		return 0;
	sqs_delete_queue(&c[0], p->q_url);
	return 1;
}

int rc_emit_delete_dlq(struct run *r, struct rec *p, struct aws_call *c)
{
	if (!p->del.dlq || !p->dlq_url)
		return 0;
	sqs_delete_queue(&c[0], p->dlq_url);
	return 1;
}
