/* spec.h: a pipeline's spec, typed. The policy answers with a cJSON tree
 * (numbers as Raw nodes, script/policy.h); spec_parse reads it once into
 * struct spec, checking each field's type and AWS's bounds, and every
 * later step (diff, apply, drift) reads the struct's fields, never a key.
 * cJSON stays at the edges: the policy's answer, AWS request bodies, the
 * state record and output.
 *
 * What the struct holds (every part and field optional, as today: AWS
 * decides what a missing one means; keys taskpipe does not read, such as
 * the default policy's "name", are ignored):
 *   queue, dlq  the SQS attributes taskpipe sets (spec_queue_attr), the
 *               queue's maxReceiveCount, the dlq's keep_if_not_empty
 *   func        Runtime, Handler, Role, MemorySize, Timeout, Architectures,
 *               Code {S3Bucket, S3Key, S3ObjectVersion, S3ObjectStorageMode},
 *               Environment.Variables, Layers, ReservedConcurrentExecutions,
 *               PackageType (only "Zip")
 *   mapping     BatchSize, MaximumBatchingWindowInSeconds, Enabled,
 *               FunctionResponseTypes, ScalingConfig.MaximumConcurrency
 *   tags        name -> value (a number or boolean as its text)
 *   drain_timeout
 * The hash of a spec (spec_hash) is the SHA-256 of the answer's tree as
 * cJSON_PrintUnformatted would write it, streamed without the text, so
 * state records written before stay equal for an unchanged spec. */
#ifndef TP_SPEC_H
#define TP_SPEC_H

#include "base/base.h"

#include <stddef.h>

struct cJSON;
struct hash_sha256_stream;

#define SPEC_UNSET (-1L)   /* an integer field the spec does not set */

/* The SQS attributes taskpipe sets on both queues, in this order. */
enum spec_queue_attr {
	SQ_VISIBILITY_TIMEOUT,
	SQ_RETENTION,
	SQ_WAIT,
	SQ_DELAY,
	SQ_MAX_SIZE,
	SQ_NATTR
};
extern const char *const spec_queue_attr_name[SQ_NATTR];

struct spec_queue {
	long attr[SQ_NATTR];    /* SPEC_UNSET: not set */
	long max_receive;       /* queue: RedrivePolicy.maxReceiveCount; SPEC_UNSET: 5 */
	int keep_if_not_empty;  /* dlq: keep a non-empty DLQ when the pipeline goes (default 1) */
};

struct spec_kv {
	char *name, *value;
};

/* name -> value pairs in the spec's order (the policy sorts keys). */
struct spec_kvs {
	struct spec_kv *v;
	size_t n;
};
const char *spec_kvs_get(const struct spec_kvs *l, const char *name);   /* NULL: absent */
int spec_kvs_has(const struct spec_kvs *l, const char *name);

enum spec_arch { ARCH_UNSET, ARCH_X86_64, ARCH_ARM64 };
enum spec_storage { STORAGE_UNSET, STORAGE_COPY, STORAGE_REFERENCE };
const char *spec_arch_name(enum spec_arch a);         /* "x86_64" (also for UNSET), "arm64" */
const char *spec_storage_name(enum spec_storage s);   /* "COPY" (also for UNSET), "REFERENCE" */

struct spec_func {
	char *runtime, *handler, *role;      /* NULL: not set */
	long memory, timeout;                /* MemorySize, Timeout; SPEC_UNSET */
	enum spec_arch arch;                 /* Architectures[0] */
	char *bucket, *key, *version;        /* Code.S3Bucket, S3Key, S3ObjectVersion; NULL: not set */
	enum spec_storage storage;           /* Code.S3ObjectStorageMode */
	struct spec_kvs env;                 /* Environment.Variables */
	char **layers;                       /* layer version ARNs, in order */
	size_t n_layers;
	long reserved;                       /* ReservedConcurrentExecutions; SPEC_UNSET: none */
};

enum spec_frt { FRT_UNSET, FRT_NONE, FRT_REPORT };   /* FunctionResponseTypes: absent, [], [ReportBatchItemFailures] */

struct spec_mapping {
	long batch_size, window;   /* BatchSize, MaximumBatchingWindowInSeconds; SPEC_UNSET */
	long max_concurrency;      /* ScalingConfig.MaximumConcurrency; 0: none */
	int enabled;               /* 1, 0; SPEC_UNSET: not set (enabled) */
	enum spec_frt frt;
};

struct spec {
	struct spec_queue queue, dlq;
	struct spec_func func;
	struct spec_mapping mapping;
	struct spec_kvs tags;
	long drain_timeout;        /* seconds; SPEC_UNSET: the setting's default */
};

/* Read the policy's answer (an object; numbers as Raw or Number nodes) into
 * *out. A field of the wrong type or outside AWS's bounds fails with
 * TP_EINVAL "BadSpec" naming pipeline and field path ("pipeline a:
 * func.MemorySize must be an integer 128..10240, not 64"); a PackageType
 * other than Zip with "PackageTypeNotSupported". *out is zeroed on failure. */
int spec_parse(const struct cJSON *answer, const char *pipeline, struct spec *out, tp_err *e);
void spec_free(struct spec *s);

/* What the spec stored with the last state (state table, written by this or
 * an earlier version, numbers as numbers) still decides after it was
 * replaced or its item went: the user tags it set (stale ones are
 * removed), whether a non-empty DLQ is kept, the drain timeout. Read
 * leniently, as those versions wrote it: keep unless keep_if_not_empty is
 * false; drain_timeout when a number >= 1, else SPEC_UNSET. NULL: none. */
struct spec_record {
	struct spec_kvs tags;     /* names only (value NULL) */
	int keep_dlq;
	long drain_timeout;
};
void spec_record_read(const struct cJSON *stored, struct spec_record *out);
void spec_record_free(struct spec_record *r);

/* Feed the answer's tree to s as cJSON_PrintUnformatted would write it
 * (Raw nodes verbatim), without building the text. */
void spec_hash_tree(struct hash_sha256_stream *s, const struct cJSON *tree);

/* What the spec asks of the account's concurrency pool: its reserved
 * concurrency (0: none) and its enabled mapping's MaximumConcurrency (0: none). */
void spec_demand(const struct spec *s, long *reserved, long *max_concurrency);

/* The code object's text as the function's Description records it
 * (codemark_make); out holds CODEMARK_MAX + 1. */
void spec_code_marker(const struct spec_func *f, char *out, size_t len);

#endif
