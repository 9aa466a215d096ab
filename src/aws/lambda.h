/* lambda.h: Lambda's REST-JSON protocol, the requests taskpipe makes and
 * the answers it reads, with no I/O: each builder fills an aws_call (path,
 * method, query, body; owned by the call, released by aws_call_free) for
 * aws_call_one / aws_call_many; core/ names the operation and never a path.
 *
 * Names and ARNs in a path are percent-encoded (RFC 3986 unreserved kept):
 * a function ARN's ':' and a qualifier's '$' travel as %3A and %24. Bodies
 * given as cJSON are consumed. API reference:
 * https://docs.aws.amazon.com/lambda/latest/api/API_Operations.html */
#ifndef TP_LAMBDA_H
#define TP_LAMBDA_H

#include "aws/aws.h"

struct cJSON;

/* ---- functions ---- */

/* GET /2015-03-31/functions/{fn}[?Qualifier=q]: Configuration, Code, Tags
 * (its own 100/s budget). qualifier NULL: $LATEST. */
void lambda_get_function(struct aws_call *c, const char *fn, const char *qualifier);
/* GET /2015-03-31/functions/{fn}/configuration[?Qualifier=q] (the 15/s control plane). */
void lambda_get_function_configuration(struct aws_call *c, const char *fn, const char *qualifier);
/* POST /2015-03-31/functions; in: the CreateFunction input (FunctionName in it). */
void lambda_create_function(struct aws_call *c, struct cJSON *in);
/* PUT /2015-03-31/functions/{fn}/configuration */
void lambda_update_function_configuration(struct aws_call *c, const char *fn, struct cJSON *in);
/* PUT /2015-03-31/functions/{fn}/code; in: lambda_code_body() or a body of its own. */
void lambda_update_function_code(struct aws_call *c, const char *fn, struct cJSON *in);
/* DELETE /2015-03-31/functions/{fn} */
void lambda_delete_function(struct aws_call *c, const char *fn);
/* POST /2015-03-31/functions/{fn}/versions; code_sha (may be NULL): publish
 * only while the code is this CodeSha256. */
void lambda_publish_version(struct aws_call *c, const char *fn, const char *code_sha);
/* GET /2015-03-31/functions/?MaxItems=n[&Marker=m]; max_items 0: Lambda's default (50). */
void lambda_list_functions(struct aws_call *c, const char *marker, int max_items);

/* S3ObjectStorageMode: left out (the API's default, COPY), or sent. */
enum lambda_storage { LAMBDA_STORAGE_DEFAULT, LAMBDA_STORAGE_COPY, LAMBDA_STORAGE_REFERENCE };

/* The code a function runs (strings borrowed; NULL: left out). */
struct lambda_code {
	const char *bucket, *key, *version; /* S3Bucket, S3Key, S3ObjectVersion */
	enum lambda_storage storage;    /* S3ObjectStorageMode */
	const char *arch;               /* Architectures: [arch] ("x86_64", "arm64") */
	const char *revision_id;        /* RevisionId: Lambda refuses the update when it is stale */
};
/* The UpdateFunctionCode body of code (new object): S3Bucket, S3Key,
 * S3ObjectVersion, S3ObjectStorageMode, Architectures, RevisionId. */
struct cJSON *lambda_code_body(const struct lambda_code *code);

/* A name -> value pair (Environment.Variables); strings borrowed. */
struct lambda_var {
	const char *name, *value;
};

/* What UpdateFunctionConfiguration sets (CreateFunction too). Strings
 * borrowed; NULL or < 0: left out, Lambda keeps the function's own. */
struct lambda_function_config {
	const char *runtime, *handler;  /* Runtime, Handler */
	long memory, timeout;           /* MemorySize (MB), Timeout (s) */
	const char *role;               /* Role */
	const char *description;        /* Description */
	const struct lambda_var *env;   /* Environment.Variables: always sent ({} clears them) */
	size_t n_env;
	const char *const *layers;      /* Layers: layer version ARNs, in order */
	size_t n_layers;
	int clear_layers;               /* no layers: send "Layers": [] (removes the function's) */
};
/* The UpdateFunctionConfiguration body of cfg (new object): Runtime,
 * Handler, MemorySize, Timeout, Role, Description, Environment, Layers. */
struct cJSON *lambda_function_config_body(const struct lambda_function_config *cfg);
/* The CreateFunction input (new object): cfg's fields, FunctionName, Code
 * (code's S3 fields), Architectures (code->arch), Tags (consumed; NULL:
 * left out). */
struct cJSON *lambda_create_function_body(const char *fn, const struct lambda_function_config *cfg,
					  const struct lambda_code *code, struct cJSON *tags);

/* ---- concurrency (API version 2017-10-31) ---- */

/* PUT /2017-10-31/functions/{fn}/concurrency {"ReservedConcurrentExecutions": n} */
void lambda_put_function_concurrency(struct aws_call *c, const char *fn, double n);
/* DELETE /2017-10-31/functions/{fn}/concurrency */
void lambda_delete_function_concurrency(struct aws_call *c, const char *fn);

/* ---- tags (API version 2017-03-31), by ARN ---- */

/* POST /2017-03-31/tags/{arn} {"Tags": tags} (tags consumed) */
void lambda_tag_resource(struct aws_call *c, const char *arn, struct cJSON *tags);
/* DELETE /2017-03-31/tags/{arn}?tagKeys=k1&tagKeys=k2; keys: an array of strings (borrowed). */
void lambda_untag_resource(struct aws_call *c, const char *arn, const struct cJSON *keys);
/* GET /2017-03-31/tags/{arn} */
void lambda_list_tags(struct aws_call *c, const char *arn);

/* ---- event source mappings ---- */

/* GET /2015-03-31/event-source-mappings/?[FunctionName=fn][&MaxItems=n][&Marker=m]
 * (fn NULL: every mapping; max_items 0: Lambda's default, 100). */
void lambda_list_event_source_mappings(struct aws_call *c, const char *fn, const char *marker,
				       int max_items);
/* GET /2015-03-31/event-source-mappings/{uuid} */
void lambda_get_event_source_mapping(struct aws_call *c, const char *uuid);
/* POST /2015-03-31/event-source-mappings/ */
void lambda_create_event_source_mapping(struct aws_call *c, struct cJSON *in);
/* PUT /2015-03-31/event-source-mappings/{uuid} */
void lambda_update_event_source_mapping(struct aws_call *c, const char *uuid, struct cJSON *in);
/* DELETE /2015-03-31/event-source-mappings/{uuid} */
void lambda_delete_event_source_mapping(struct aws_call *c, const char *uuid);

/* An event source mapping's fields as taskpipe sets them; LAMBDA_MAPPING_INIT sets none. */
struct lambda_mapping {
	long batch_size;                /* BatchSize; < 0: left out */
	int enabled;                    /* Enabled: 1, 0; < 0: left out */
	int report_failures;            /* FunctionResponseTypes: 1 ["ReportBatchItemFailures"], 0 [], < 0: left out */
	long window;                    /* MaximumBatchingWindowInSeconds; < 0: left out */
	int scaling;                    /* ScalingConfig sent: {"MaximumConcurrency": max_concurrency}, */
	long max_concurrency;           /*   {} when 0 (an update: removes the limit) */
};
#define LAMBDA_MAPPING_INIT { .batch_size = -1, .enabled = -1, .report_failures = -1, .window = -1 }
/* Whether m sets no field. */
int lambda_mapping_empty(const struct lambda_mapping *m);
/* The CreateEventSourceMapping (source_arn given) or UpdateEventSourceMapping
 * (source_arn NULL) body (new object): m's fields in the struct's order,
 * then EventSourceArn, FunctionName. */
struct cJSON *lambda_mapping_body(const struct lambda_mapping *m, const char *fn, const char *source_arn);

/* ---- account ---- */

/* GET /2016-08-19/account-settings/ */
void lambda_get_account_settings(struct aws_call *c);

/* ---- answers ---- */

/* What taskpipe reads of a FunctionConfiguration (GetFunction's
 * "Configuration", UpdateFunctionCode's answer, ListFunctions' entries).
 * Strings are borrowed from the cJSON tree; "" when absent. */
struct lambda_config {
	const char *name;               /* FunctionName */
	const char *code_sha;           /* CodeSha256 */
	const char *revision_id;        /* RevisionId */
	const char *state;              /* State: Pending, Active, Inactive, Failed (not in ListFunctions) */
	const char *state_reason;       /* StateReason */
	const char *state_reason_code;  /* StateReasonCode */
	const char *last_update;        /* LastUpdateStatus: InProgress, Successful, Failed */
	const char *last_update_reason; /* LastUpdateStatusReason */
	const char *last_update_reason_code; /* LastUpdateStatusReasonCode */
	const char *description;        /* Description */
	const char *arn;                /* FunctionArn */
	int image;                      /* PackageType Image */
	int busy;                       /* State Pending or LastUpdateStatus InProgress: an update now fails (409) */
	int failed;                     /* State Failed */
};
/* cfg may be NULL (all ""). https://docs.aws.amazon.com/lambda/latest/dg/functions-states.html */
void lambda_config_read(const struct cJSON *cfg, struct lambda_config *out);
/* The next page's marker of a List* answer (NextMarker), NULL on the last page. */
const char *lambda_next_marker(const struct cJSON *answer);

#endif
