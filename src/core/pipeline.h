/* pipeline.h: a pipeline's desired state, computed once for apply, plan
 * and drift: from the pipeline's name, the settings and the policy's
 * result (the spec), the resource names, the spec's hash, the function
 * Description that records its code object, the tags every resource must
 * carry and the function configuration as UpdateFunctionConfiguration
 * takes it. Pure: no AWS, no policy call (the caller runs the policy). */
#ifndef TP_PIPELINE_H
#define TP_PIPELINE_H

#include "core/codemark.h"
#include "core/names.h"
#include "core/settings.h"

struct cJSON;

/* SQS attributes taskpipe sets on both queues, in this order;
 * NULL-terminated. The spec's queue/dlq part names them. */
extern const char *const pipeline_queue_fields[];

struct pipeline {
	struct names nm;           /* resource names (names_for) */
	struct cJSON *spec;        /* the policy's spec, parsed (owned) */
	char hash[65];             /* SHA-256 of the spec text and the settings that shape resources */
	char code_marker[CODEMARK_MAX + 1]; /* Description: "taskpipe code s3://bucket/key[#version]" */
	struct cJSON *tags;        /* the spec's user tags (values as strings), taskpipe:owner, taskpipe:pipeline */
	struct cJSON *config;      /* Runtime, Handler, MemorySize, Timeout, Role (spec or settings),
				      Description (the marker), Environment.Variables; no Layers
				      (whether an empty list is sent depends on what is observed) */
};

/* The desired state of pipeline name from its spec (JSON text, the policy's
 * answer). Fails (a bad name; PolicyError: the spec is not JSON) with e filled and *out
 * zeroed. */
int pipeline_desired(const struct settings *set, const char *name, const char *spec_json,
		     struct pipeline *out, tp_err *e);
void pipeline_free(struct pipeline *p);

/* The hash alone (pipeline_desired uses it): hex into out[65]. */
void pipeline_hash(const struct settings *set, const char *spec_json, char out[65]);

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

/* The tags a pipeline's resources must carry, from a spec (NULL: none of
 * its own). */
struct cJSON *pipeline_tags(const char *owner, const char *name, const struct cJSON *spec);

/* The code marker of a spec's func part (codemark_make); out holds
 * CODEMARK_MAX + 1. */
void pipeline_code_marker(const struct cJSON *func, char *out, size_t len);

/* A part of the spec ("queue", "dlq", "func", "mapping"); NULL when absent. */
struct cJSON *pipeline_part(const struct pipeline *p, const char *part);

#endif
