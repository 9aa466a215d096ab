/* fake_int.h: what the fake's router (fake.c) and its services share. */
#ifndef TP_FAKE_INT_H
#define TP_FAKE_INT_H

#include <stdint.h>

#include <cjson/cJSON.h>

#include "aws/http.h"
#include "base/base.h"
#include "fake/fake.h"

struct fake_ddb;
struct fake_sqs;
struct fake_lambda;
struct fake_s3;
struct fake_tagging;
struct fake_cloudwatch;
struct fake_iam;

struct fake {
	struct fake_options opt;
	int64_t mono_us;            /* simulated time since fake_new */
	uint64_t rng;
	int clock_installed;
	struct fake_ddb *ddb;       /* each service's state, made on first use */
	struct fake_sqs *sqs;
	struct fake_lambda *lambda;
	struct fake_s3 *s3;
	struct fake_tagging *tagging;  /* GetResources' page snapshots */
	struct fake_cloudwatch *cw;    /* metric datapoints */
	struct fake_iam *iam;       /* policies by access key, evaluations (fake_iam.c); NULL: IAM off */
	struct fake_quota *quotas;  /* token buckets by class name (fake.c) */
	struct fake_counter *counters;
	struct fake_flight *flights; /* requests sent, answered when their time comes */
	fake_hook_fn hook;
	void *hook_ctx;
	char account[13];           /* "123456789012" */
	char region[32];            /* from the first request's credential scope */
};

/* A service answers r into out (status, headers, body) and returns 0; it
 * sets r->op when the protocol is REST. Unknown operations: 400
 * UnknownOperationException naming it (never a silent success). */
int fake_ddb_handle(struct fake *f, struct fake_req *r, struct http_response *out);
int fake_sqs_handle(struct fake *f, struct fake_req *r, struct http_response *out);
int fake_lambda_handle(struct fake *f, struct fake_req *r, struct http_response *out);
int fake_s3_handle(struct fake *f, struct fake_req *r, struct http_response *out);
int fake_tagging_handle(struct fake *f, struct fake_req *r, struct http_response *out);
int fake_cloudwatch_handle(struct fake *f, struct fake_req *r, struct http_response *out);
/* Each frees its state (NULL-safe). */
void fake_ddb_free(struct fake_ddb *d);
void fake_sqs_free(struct fake_sqs *s);
void fake_lambda_free(struct fake_lambda *l);
void fake_s3_free(struct fake_s3 *s);
void fake_tagging_free(struct fake_tagging *t);
void fake_cloudwatch_free(struct fake_cloudwatch *c);

/* Between services (each defined in its owner's file):
 * - Tagging's GetResources walks the tagged resources of Lambda and SQS;
 * - Lambda's CreateEventSourceMapping needs the queue to exist;
 * - Lambda's code from S3 needs the object (its bytes' SHA-256, base64). */
typedef void (*fake_tag_visit_fn)(void *ctx, const char *arn, const cJSON *tags /* {"k":"v"} */);
void fake_lambda_each_tagged(struct fake *f, fake_tag_visit_fn fn, void *ctx);
void fake_sqs_each_tagged(struct fake *f, fake_tag_visit_fn fn, void *ctx);
int fake_sqs_queue_arn_exists(struct fake *f, const char *arn);
/* 1 and sha256_b64 (45 bytes) and *size when bucket/key (version: NULL or
 * "" for the newest) exists; 0 when not. */
int fake_s3_object(struct fake *f, const char *bucket, const char *key, const char *version,
		   char sha256_b64[45], long *size);
/* What IAM (fake_iam.c) asks before a request reaches its service:
 * - fake_lambda_route: r's operation into r->op and its path's ID segment
 *   (decoded: function, mapping UUID or tagged ARN) into id; -1 when the
 *   request is no operation of the fake Lambda (the service refuses it);
 * - fake_lambda_esm_function: the function ARN of mapping uuid (1), 0 when none;
 * - fake_lambda_function_tagged: 1 when the function (name or ARN) has tags;
 * - fake_ddb_hash_key: table's partition key name (borrowed), NULL when no table. */
int fake_lambda_route(struct fake_req *r, char *id, size_t len);
int fake_lambda_esm_function(struct fake *f, const char *uuid, char *arn, size_t len);
int fake_lambda_function_tagged(struct fake *f, const char *function);
const char *fake_ddb_hash_key(struct fake *f, const char *table);
/* IAM (fake_iam.c): 0 when r may go on (IAM off, or every check allowed),
 * else 1 after answering out with the service's AccessDenied. */
int fake_iam_authorize(struct fake *f, struct fake_req *r, struct http_response *out);
void fake_iam_free(struct fake_iam *iam);

/* A service publishes a datapoint (as Lambda publishes AWS/Lambda
 * Invocations by FunctionName, SQS AWS/SQS ApproximateNumberOfMessagesVisible
 * by QueueName): one dimension (dim_name NULL: none), at ts_ms. */
void fake_cloudwatch_put(struct fake *f, const char *ns, const char *metric, const char *dim_name,
			 const char *dim_value, int64_t ts_ms, double value);

/* Answers. fake_reply_json takes body (may be NULL: "{}"). fake_reply_error
 * writes a JSON error both protocols read: x-amzn-ErrorType header and
 * {"__type": type, "message": ...}; for SQS also x-amzn-query-error. */
void fake_reply_json(struct http_response *out, long status, cJSON *body);
void fake_reply_error(struct http_response *out, long status, const char *type,
		      const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* 429/400 throttling error of the service's kind with Retry-After seconds. */
void fake_reply_throttled(struct fake *f, struct fake_req *r, struct http_response *out,
			  const char *type, int64_t retry_after_ms);

/* A request of class cls (e.g. "lambda.control") under a quota of rate/s
 * with burst: 0 when allowed, else 1 and *retry_after_ms. Always 0 when
 * opt.quotas is off. Also applies opt.throttle_pct. */
int fake_quota(struct fake *f, const char *cls, double rate, double burst, int64_t *retry_after_ms);

/* The header's value (case-insensitive name) or NULL. */
const char *fake_header(const struct fake_req *r, const char *name);
/* A query parameter's decoded value into out (1 found, 0 not). */
int fake_query_param(const struct fake_req *r, const char *name, char *out, size_t len);

uint64_t fake_rand(struct fake *f);            /* xorshift64* */
int64_t fake_now_ms_int(const struct fake *f); /* the simulated wall clock */

#endif
