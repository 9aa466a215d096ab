/* fake.h: an in-memory AWS for C tests and the fleet simulation.
 *
 * It answers the requests taskpipe sends (DynamoDB, SQS, Lambda, S3,
 * Resource Groups Tagging, CloudWatch) behind aws.h's transport hook, with
 * the AWS-faithful layer's rules (tests/integration/awsmodel.py): function
 * and mapping states with lags, 409 ResourceConflict while one updates,
 * QueueDeletedRecently, conditional writes, the account's concurrency pool,
 * request quotas answered with throttling and Retry-After. Its clock is
 * simulated: a request takes latency_ms of it, a sleep only moves it on,
 * so 50,000 pipelines at 15 calls/s take simulated hours and real minutes.
 */
#ifndef TP_FAKE_H
#define TP_FAKE_H

#include <stdint.h>

struct aws;
struct http_response;
struct fake;
struct fake_req;

struct fake_options {
	uint64_t seed;              /* random choices (throttling); 0: 1 */
	int latency_ms;             /* simulated time a request takes; 0: 20, < 0: none */
	int lag_ms;                 /* a function stays Pending / InProgress, a mapping
				       Creating / Updating this long; 0: 0 (at once) */
	int table_lag_ms;           /* DynamoDB: a table CreateTable makes stays CREATING, a
				       stream UpdateTable enables ENABLING, this long; 0: at once */
	int quotas;                 /* 1: AWS's request rates are enforced (fake_quota) */
	int throttle_pct;           /* besides quotas, throttle this % of requests at random */
	long account_concurrency;   /* Lambda's ConcurrentExecutions; 0: 1000 */
	int64_t start_ms;           /* the simulated wall clock at start; 0: 2026-01-01T00:00Z */
	int esm_any_queue;          /* Lambda's tests without making queues: CreateEventSourceMapping
				       takes any SQS queue ARN as existing; 0: it must exist in the fake SQS */
};

struct fake *fake_new(const struct fake_options *o);
/* Frees everything; puts the system's clock back if fake_use_clock set it. */
void fake_free(struct fake *f);

/* Route every request of a to f (aws_set_transport). */
void fake_attach(struct fake *f, struct aws *a);

/* A client of f as a test makes one: the environment of a test process
 * (access_key, a secret, no session token or profile, and
 * AWS_ENDPOINT_URL http://fake.invalid so nothing can reach AWS even by
 * mistake), aws_new with o, attached to f. Aborts when aws_new fails. */
struct aws_options;
struct aws *fake_client(struct fake *f, const char *access_key, const struct aws_options *o);
/* Route every client made from now on to f too (aws_set_default_transport):
 * the ones taskpipe's core opens itself (app_open, the shared budget).
 * fake_free puts curl back. */
void fake_attach_all(struct fake *f);

/* Make f's simulated clock the process's (tp_set_clock). */
void fake_use_clock(struct fake *f);
int64_t fake_now_ms(const struct fake *f);     /* simulated wall clock */
int64_t fake_elapsed_ms(const struct fake *f); /* simulated time since fake_new */
void fake_advance_ms(struct fake *f, int64_t ms);

/* Requests answered, by service ("dynamodb", "sqs", "lambda", "s3",
 * "tagging", "monitoring") and operation ("CreateFunction"); NULL for either
 * counts all. fake_throttled: those answered with a throttling error. */
long fake_count(const struct fake *f, const char *service, const char *op);
long fake_throttled(const struct fake *f, const char *service, const char *op);
/* Print the counters, a line per (service, operation), to stderr. */
void fake_dump_counts(const struct fake *f);

/* Lambda's test API, as the AWS-faithful layer's (awsmodel.py):
 * fake_lambda_fail: the function ends its create (State Failed, on_update
 * 0) or update (LastUpdateStatus Failed) with reason and code: the one in
 * progress, else the next one of that kind (fail_function).
 * fake_lambda_limit_history: the function's concurrency bound after every
 * change that affects it, at the simulated wall clock (limit_history): 0 no
 * enabled mapping, -1 unlimited, else min(reserved concurrency, the sum of
 * the enabled mappings' MaximumConcurrency), the looser end of a mapping
 * in transition counting. Returns how many, *out borrowed until the next
 * call or fake_free. fake_lambda_max_bound: the largest of them (-1 unlimited ever).
 * fake_lambda_violations: requests refused by a modelled rule whose name
 * starts with rule (NULL: all): "function Pending", "function Failed",
 * "update InProgress", "mapping <State>", "concurrency pool",
 * "runtime blocked" (violations). */
struct fake_bound {
	int64_t t_ms;
	long bound;
};
void fake_lambda_fail(struct fake *f, const char *function, int on_update, const char *reason,
		      const char *code);
size_t fake_lambda_limit_history(struct fake *f, const char *function, const struct fake_bound **out);
long fake_lambda_max_bound(struct fake *f, const char *function);
long fake_lambda_violations(const struct fake *f, const char *rule);

/* Every request passes hook first: it returns 0 to let the fake answer, or
 * fills out and returns 1 (a fault: a 500, a dropped connection with
 * out->rc = TP_EIO, a kill at step k by longjmp-free flagging). */
typedef int (*fake_hook_fn)(void *ctx, const struct fake_req *r, struct http_response *out);
void fake_set_hook(struct fake *f, fake_hook_fn fn, void *ctx);

/* DynamoDB: a table (keys of type S; range_key NULL: none) made as
 * CreateTable would, for tests that skip `init`; -1 when it exists. */
int fake_ddb_create_table(struct fake *f, const char *name, const char *hash_key, const char *range_key);
/* Items in table; -1 when there is no such table. */
long fake_ddb_item_count(struct fake *f, const char *table);
/* Heap the fake's DynamoDB holds for items and stream records (bytes, as
 * malloc_usable_size counts them): what to take off a process's RSS to
 * leave the controller's own. */
long long fake_ddb_heap_bytes(struct fake *f);
/* Close the open shard of table's stream after the last record so far and
 * open a child shard (ParentShardId) for what comes after, as the AWS-faithful
 * layer's roll_stream [lineage]; -1 when the table has no enabled stream. */
int fake_ddb_roll_stream(struct fake *f, const char *table);

/* IAM as AWS enforces it (the AWS-faithful layer's iamlayer.py; rules in
 * fake_iam_eval.h, the request -> checks mapping in fake_iam.c): once a
 * policy is set, every request is authorized before its service sees it,
 * against the policies of the access key that signed it (access_key NULL:
 * every key without its own). A request needs each of its checks allowed:
 * the operation's action plus what the service checks on the caller's
 * behalf (iam:PassRole, s3:GetObject of code by S3 location, lambda:TagResource
 * of tags on create, lambda:ListTags of GetFunction on a tagged function,
 * lambda:FunctionArn of mapping calls, dynamodb:LeadingKeys of item calls).
 * A refusal is AWS's AccessDenied of that service (Lambda 403
 * AccessDeniedException, DynamoDB 400 AccessDeniedException, SQS 400 with
 * x-amzn-query-error AccessDenied, S3 403 XML AccessDenied), its message
 * "User: <principal_arn> is not authorized to perform: ...". A key with no
 * policy is refused as an unknown key. An operation the fake does not
 * answer is not authorized: its service refuses it by name.
 * policy_json: one policy document or a list of them (NULL: the key's
 * policy removed; with none left IAM is off again). principal_arn NULL:
 * arn:aws:iam::<account>:user/fake. 0, or TP_EINVAL with e when the policy
 * is not one fake_iam_eval.c reads. */
struct tp_err;
int fake_iam_set_policy(struct fake *f, const char *access_key, const char *principal_arn,
			const char *policy_json, struct tp_err *e);
/* The policies (a JSON list, the caller frees it) of a template role
 * ("ControllerRole", "ConsumerRole") from tests/fake/iam_policies.json
 * (packaging/template.yaml resolved by tests/fake/iam_policies.py) for one
 * stack: {InstanceName} and {Prefix} as given, a role's physical name
 * <instance>-<LogicalId> (the integration tests' convention). Read from the
 * current directory (unit tests run from the repository's root). NULL and e
 * when the file or the role is missing. */
char *fake_iam_template_policy(const char *role, const char *instance, const char *prefix, struct tp_err *e);

/* Every check evaluated (borrowed until the next request or fake_iam_clear),
 * as the Python layer records them: effect "Allow", "ImplicitDeny",
 * "ExplicitDeny" (and "UnknownKey" for a request signed by a key with no
 * policy, action "*"). fake_iam_denied: how many are not "Allow". */
struct fake_iam_record {
	const char *key;            /* the access key that signed the request */
	const char *service, *op;
	const char *action, *resource;
	const char *context;        /* JSON object text, "{}" when none */
	const char *why;            /* "request", "CreateFunction passes Role", ... */
	const char *effect;
	const char *sid;            /* the deciding statement's Sid, "" when none */
};
size_t fake_iam_records(const struct fake *f, const struct fake_iam_record **out);
long fake_iam_denied(const struct fake *f);
void fake_iam_clear(struct fake *f);
/* keep 0: record refusals only (a few hundred bytes a record add up over
 * millions of requests in the fleet simulation); 1 (the default): all. */
void fake_iam_keep_allowed(struct fake *f, int keep);

/* A request as the services see it. */
struct fake_req {
	const char *service;        /* the credential scope's service */
	const char *method;
	const char *path;           /* without the query, still percent-encoded */
	const char *query;          /* after '?'; "" when none */
	const char *target;         /* X-Amz-Target; "" when none */
	const char *body;           /* NUL-terminated copy of the body */
	size_t body_len;
	const char *const *headers; /* "Name: value" */
	size_t n_headers;
	char op[64];                /* the operation: from target, or set by a REST service */
};

/* For the fleet bench: f's transport as fake_attach installs it (to wrap
 * it: the bench books the fake's CPU and memory apart from the
 * controller's), and every counter, a call of fn per (service, operation). */
struct aws_transport;
void fake_transport(struct fake *f, struct aws_transport *out);
typedef void (*fake_count_fn)(void *ctx, const char *service, const char *op, long n, long throttled);
void fake_each_count(const struct fake *f, fake_count_fn fn, void *ctx);

#endif
