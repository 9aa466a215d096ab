/* diff.h: the one diff of a pipeline, used by apply, plan and drift.
 *
 * diff_pipeline compares a desired state (pipeline.h) with what was
 * observed and lists the changes that would make them equal, in the order
 * apply makes them: dead-letter queue, queue, function, mapping. Pure: no
 * AWS call, no JSON text in or out. The observation is one struct, filled
 * by reconcile from describe calls (GetQueueAttributes, GetFunction, ...)
 * or by drift from list calls (ListFunctions, the Tagging API, ...); what a
 * list cannot see (reserved concurrency, the function's State) is marked
 * unknown and not compared.
 *
 * Tags: every tag of the desired set that a resource lacks or carries with
 * another value is a TAG change; an UNTAG change removes a user tag the last
 * applied spec set and the item dropped, and any taskpipe:* tag other than
 * owner and pipeline (taskpipe's own namespace: only it writes there, so
 * such a tag is left from an older version or by hand, and stale).
 * Tags someone else added outside that namespace are left alone. */
#ifndef TP_DIFF_H
#define TP_DIFF_H

#include "core/pipeline.h"

#include <stddef.h>

struct cJSON;

enum diff_res { DIFF_QUEUE, DIFF_DLQ, DIFF_FUNCTION, DIFF_MAPPING };

enum diff_act {
	DIFF_CREATE,    /* the resource is missing */
	DIFF_DELETE,    /* the item is gone: the resource goes */
	DIFF_KEEP,      /* the item is gone: the non-empty DLQ stays (note: "kept: N messages") */
	DIFF_RECREATE,  /* the function is in State Failed: delete, create (note: the reason) */
	DIFF_SET,       /* a field differs: from -> to */
	DIFF_TAG,       /* a tag is lacking or different: to is its value */
	DIFF_UNTAG,     /* a stale tag: from is its value */
};

/* What a SET change is about (it says which call repairs it). */
enum diff_kind {
	DK_NONE,         /* CREATE, DELETE, KEEP, RECREATE */
	DK_QUEUE_ATTR,   /* field: an SQS attribute (spec_queue_attr_name) */
	DK_REDRIVE_COUNT,/* RedrivePolicy.maxReceiveCount */
	DK_REDRIVE_DLQ,  /* RedrivePolicy.deadLetterTargetArn */
	DK_FN_CONFIG,    /* Runtime, Handler, MemorySize, Timeout, Role */
	DK_CODE,         /* "Code": the Description marker names another code object */
	DK_ENV,          /* Environment.Variables (keys only; parts: one per key) */
	DK_LAYERS,       /* Layers, as text (pipeline layers text) */
	DK_ARCH,         /* Architectures (with UpdateFunctionCode) */
	DK_STORAGE,      /* Code.S3ObjectStorageMode */
	DK_STATE,        /* State: a REFERENCE function gone Inactive (note: why) */
	DK_RESERVED,     /* ReservedConcurrentExecutions */
	DK_TAG,          /* Tags.<key> (TAG and UNTAG) */
	DK_MAP_FIELD,    /* BatchSize, MaximumBatchingWindowInSeconds */
	DK_MAP_MAX,      /* ScalingConfig.MaximumConcurrency */
	DK_MAP_ENABLED,  /* Enabled */
	DK_MAP_FRT,      /* FunctionResponseTypes */
};

struct diff_change {
	enum diff_res res;
	enum diff_act act;
	enum diff_kind kind;
	char *field;     /* SET/TAG/UNTAG: "VisibilityTimeout", "Tags.team"; else NULL */
	char *from;      /* the observed value as text, "(none)" when absent */
	char *to;        /* the desired value as text, "(none)" when absent */
	char *note;      /* KEEP, RECREATE, STATE: the detail; else NULL */
	/* DK_ENV: one part per variable (field "Environment.Variables.K",
	 * to/from "(set)", "(absent)", "(different value)"): values may be
	 * secrets and are never copied. */
	struct diff_change *parts;
	size_t n_parts;
};

struct diff_list {
	struct diff_change *v;
	size_t n, cap;
};

/* What was observed of one pipeline. Pointers are borrowed. */
struct observed {
	int q_exists, dlq_exists;
	const struct cJSON *q_attrs, *dlq_attrs;   /* GetQueueAttributes "Attributes" (strings) */
	const struct cJSON *q_tags, *dlq_tags;     /* {key: value} */
	const struct cJSON *fn;          /* FunctionConfiguration; NULL: no function */
	const struct cJSON *fn_tags;     /* {key: value} */
	int fn_state_known;              /* fn carries State (GetFunction; ListFunctions does not) */
	const char *fn_inactive;         /* REFERENCE function Inactive: why; NULL: not (or unknown) */
	const char *fn_storage;          /* "REFERENCE"/"COPY" (codestore_observed); NULL: unknown */
	int reserved_known;              /* reserved concurrency was read (GetFunction) */
	const struct cJSON *reserved;    /* ReservedConcurrentExecutions (a number) or NULL: none */
	const struct cJSON *esm;         /* the event source mapping; NULL: none */
};

/* Owner check of an existing resource: ours only with our owner tag and
 * this pipeline's tag. *found gets the tag value that differs (or NULL). */
enum diff_owner { DIFF_OWNED, DIFF_NO_OWNER, DIFF_OTHER_OWNER, DIFF_OTHER_PIPELINE };
enum diff_owner diff_owner(const char *owner, const char *pipeline, const struct cJSON *tags,
			   const char **found);

/* Changes that make obs match want (NULL: the item is gone, delete; then
 * old's keep_dlq decides whether a non-empty DLQ stays). old: the last
 * applied spec as recorded (spec_record_read: stale user tags), may be
 * NULL. Appends to out. */
void diff_pipeline(const struct pipeline *want, const struct spec_record *old,
		   const struct observed *obs, struct diff_list *out);

/* The tag part alone, of one resource (drift asks the service itself for
 * the tags of a resource whose listed ones differ). */
void diff_tags(struct diff_list *out, enum diff_res res, const struct spec_kvs *want_tags,
	       const struct spec_record *old, const struct cJSON *have);

/* The mapping part alone, against a mapping read again (apply splits its
 * update around the concurrency change). */
void diff_mapping(const struct spec_mapping *want, const struct cJSON *esm, struct diff_list *out);
/* FunctionResponseTypes as JSON text ("[]" for FRT_UNSET too). */
const char *diff_frt_text(enum spec_frt frt);

/* An observed mapping's MaximumConcurrency; 0: none. */
long diff_scaling_max(const struct cJSON *mapping);
/* 1: the mapping runs or is about to (Enabled, Enabling, Creating, Updating). */
int diff_esm_enabled(const struct cJSON *esm);

/* Layers as text: version ARNs in order, joined by "," ("" for none), from
 * a configuration's Layers ([{Arn}]) or a list of ARN strings.
 * Caller frees. */
char *diff_layers_text(const struct cJSON *layers);

/* Queries on a list. */
const struct diff_change *diff_find(const struct diff_list *l, enum diff_res res, enum diff_kind kind);
int diff_any(const struct diff_list *l, enum diff_res res);   /* any change to res */
const char *diff_res_name(enum diff_res res);   /* "queue", "dead-letter queue", "function", "mapping" */
const char *diff_tag_key(const struct diff_change *c);   /* TAG/UNTAG: the key */

void diff_list_free(struct diff_list *l);
/* Move src's changes to the end of dst (src left empty). */
void diff_list_move(struct diff_list *dst, struct diff_list *src);

#endif
