/* pipeline.h: a pipeline's desired state, computed once for apply, plan
 * and drift: from the pipeline's name, the settings and the policy's
 * result (the spec), the resource names, the spec's hash, the function
 * Description that records its code object, the tags every resource must
 * carry and the execution role. Pure: no AWS, no policy call (the caller runs the policy). */
#ifndef TP_PIPELINE_H
#define TP_PIPELINE_H

#include "core/codemark.h"
#include "core/names.h"
#include "core/settings.h"
#include "core/spec.h"

struct cJSON;

struct pipeline {
	struct names nm;           /* resource names (names_for) */
	struct spec spec;          /* the policy's answer, typed (spec.h) */
	struct cJSON *tree;        /* the answer with its numbers read as cJSON reads them: what the
				      state record stores (owned) */
	char hash[65];             /* SHA-256 of the answer and the settings that shape resources */
	char code_marker[CODEMARK_MAX + 1]; /* Description: "taskpipe code s3://bucket/key[#version]" */
	struct spec_kvs tags;      /* the spec's user tags (values as text), taskpipe:owner, taskpipe:pipeline */
	char *role;                /* func.Role, else the settings' role; NULL: none */
};

/* The desired state of pipeline name from the policy's answer (a cJSON
 * object, numbers as Raw nodes: policy_pipeline's spec), read once
 * (spec_parse). Fails (a bad name; PolicyError: no answer; BadSpec: a field
 * spec_parse refuses) with e filled and *out zeroed. answer stays the caller's. */
int pipeline_desired(const struct settings *set, const char *name, const struct cJSON *answer,
		     struct pipeline *out, tp_err *e);
void pipeline_free(struct pipeline *p);

/* The hash alone (pipeline_desired uses it): hex into out[65]. The bytes
 * hashed are the answer as cJSON_PrintUnformatted writes it (spec_hash_tree)
 * and the settings, as state records written before hold them. */
void pipeline_hash(const struct settings *set, const struct cJSON *answer, char out[65]);

/* The tags every resource carries, as AWS takes them ({key: value}). Caller frees. */
struct cJSON *pipeline_tags_json(const struct pipeline *p);
/* The function's configuration (aws/lambda.h) from the fields: Runtime,
 * Handler, MemorySize, Timeout, Role, Description (the code marker),
 * Environment.Variables; no Layers: whether an empty list is sent depends
 * on what is observed. Strings are borrowed from p; cfg->env is malloc'd:
 * free((void *)cfg->env). */
struct lambda_function_config;
void pipeline_function_config(const struct pipeline *p, struct lambda_function_config *cfg);
/* Its UpdateFunctionConfiguration body (lambda_function_config_body). Caller frees. */
struct cJSON *pipeline_config_json(const struct pipeline *p);

/* The inputs of a policy call, hashed, so a pipeline whose inputs did not
 * change is confirmed without calling the policy (a policy is a function
 * of item and ctx). The run's part: the host (taskpipe and Lua versions),
 * the policy source's SHA-256 and the run's ctx less its "now" (which
 * changes every second; a policy reading the clock, or math.random, is the
 * operator's risk, `apply --force` reruns it). Then per pipeline: the
 * item, canonical (base/json.h), into out[65] (hex). */
struct hash_sha256_stream;
void pipeline_input_begin(struct hash_sha256_stream *run, const char *host, const char *policy_sha,
			  const struct cJSON *ctx);
void pipeline_input_hash(const struct hash_sha256_stream *run, const struct cJSON *item, char out[65]);

#endif
