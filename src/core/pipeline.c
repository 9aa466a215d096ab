/* pipeline.c: a pipeline's desired state (see pipeline.h). */
#include "core/pipeline.h"

#include "aws/lambda.h"
#include "base/hash.h"
#include "base/json.h"
#include "base/jsonnum.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void pipeline_hash(const struct settings *set, const cJSON *answer, char out[65])
{
	/* The settings that shape resources are part of it: a new owner,
	 * prefix or role re-applies every pipeline. */
	struct hash_sha256_stream s;
	unsigned char d[HASH_SHA256_LEN];
	hash_sha256_begin(&s);
	spec_hash_tree(&s, answer);
	buf h = { 0 };
	buf_addf(&h, "\n%s\n%s\n%s", set->owner, set->prefix, set->role_arn ? set->role_arn : "");
	hash_sha256_update(&s, h.data, h.len);
	buf_free(&h);
	hash_sha256_end(&s, d);
	hash_hex(d, sizeof d, out);
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

static void tags_of(struct pipeline *p, const char *owner, const char *name)
{
	const struct spec_kvs *user = &p->spec.tags;
	struct spec_kvs *t = &p->tags;
	t->v = tp_xcalloc(user->n + 2, sizeof *t->v);
	for (size_t i = 0; i < user->n; i++) {
		t->v[t->n].name = tp_xstrdup(user->v[i].name);
		t->v[t->n++].value = tp_xstrdup(user->v[i].value);
	}
	t->v[t->n].name = tp_xstrdup("taskpipe:owner");
	t->v[t->n++].value = tp_xstrdup(owner);
	t->v[t->n].name = tp_xstrdup("taskpipe:pipeline");
	t->v[t->n++].value = tp_xstrdup(name);
}

cJSON *pipeline_tags_json(const struct pipeline *p)
{
	cJSON *t = cJSON_CreateObject();
	for (size_t i = 0; i < p->tags.n; i++)
		cJSON_AddStringToObject(t, p->tags.v[i].name, p->tags.v[i].value);
	return t;
}

void pipeline_function_config(const struct pipeline *p, struct lambda_function_config *cfg)
{
	const struct spec_func *f = &p->spec.func;
	struct lambda_var *env = tp_xcalloc(f->env.n + 1, sizeof *env);
	for (size_t i = 0; i < f->env.n; i++)
		env[i] = (struct lambda_var){ f->env.v[i].name, f->env.v[i].value };
	*cfg = (struct lambda_function_config){
		.runtime = f->runtime, .handler = f->handler, .memory = f->memory, .timeout = f->timeout,
		.role = p->role, .description = p->code_marker, .env = env, .n_env = f->env.n,
	};
}

cJSON *pipeline_config_json(const struct pipeline *p)
{
	struct lambda_function_config cfg;
	pipeline_function_config(p, &cfg);
	cJSON *body = lambda_function_config_body(&cfg);
	free((void *)cfg.env);
	return body;
}

int pipeline_desired(const struct settings *set, const char *name, const cJSON *answer,
		     struct pipeline *out, tp_err *e)
{
	memset(out, 0, sizeof *out);
	int rc = names_for(set->prefix, name, &out->nm, e);
	if (rc < 0)
		return rc;
	if (!answer)
		return tp_errf(e, TP_EPOLICY, "PolicyError", "policy returned a spec that is not JSON");
	if ((rc = spec_parse(answer, name, &out->spec, e)) < 0)
		return rc;
	pipeline_hash(set, answer, out->hash);
	out->tree = cJSON_Duplicate(answer, 1);
	jsonnum_raw_to_numbers(out->tree);
	spec_code_marker(&out->spec.func, out->code_marker, sizeof out->code_marker);
	tags_of(out, set->owner, name);
	out->role = tp_xstrdup(out->spec.func.role ? out->spec.func.role : set->role_arn);
	return TP_OK;
}

void pipeline_free(struct pipeline *p)
{
	spec_free(&p->spec);
	cJSON_Delete(p->tree);
	for (size_t i = 0; i < p->tags.n; i++) {
		free(p->tags.v[i].name);
		free(p->tags.v[i].value);
	}
	free(p->tags.v);
	free(p->role);
	memset(p, 0, sizeof *p);
}
