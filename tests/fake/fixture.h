/* fixture.h: a taskpipe instance on the fake AWS, for the C tests that
 * drive the real core/ code (tests/unit/test_sim_*.c).
 *
 * fx_setup makes a fake (fake_new), makes its simulated clock the
 * process's, routes every AWS client the process makes to it
 * (fake_attach_all: app_open's, the shared Lambda budget's, ...), sets the
 * environment the integration harness gives taskpipe (credentials, region,
 * AWS_ENDPOINT_URL=http://fake.invalid so nothing can reach AWS even by
 * mistake, TASKPIPE_CODE_STORAGE=copy, TASKPIPE_DRAIN_SETTLE_S=0, ...),
 * runs `taskpipe init` (cmd_init: tables, code bucket, stored settings),
 * uploads the consumer code and opens a struct app as the CLI does
 * (settings_init, app_open). Items are put and removed as `taskpipe put`
 * and `rm` do (config_item_put / _delete).
 */
#ifndef TP_FIXTURE_H
#define TP_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "core/app.h"
#include "core/reconcile/reconcile.h"
#include "fake/fake.h"

#define FX_BUCKET "tp-code"
#define FX_KEY "consumer.zip"
#define FX_PREFIX "tp-"
#define FX_OWNER "taskpipe"
#define FX_ROLE "arn:aws:iam::123456789012:role/taskpipe-consumer"
#define FX_REGION "us-east-1"
#define FX_LAYER "arn:aws:lambda:us-east-1:123456789012:layer:taskpipe-consumer:1"

struct fx {
	struct fake *fake;
	struct app app;             /* the controller under test */
	int app_open;
	char version[128];          /* the code object's version after the last fx_upload */
	char tmp[64];               /* a scratch directory (policy files) */
};

/* Everything above; fo NULL: fake_new's defaults (latency 20 ms, no lag,
 * no quotas). Asserts (cmocka) that init and the app succeed. */
void fx_setup(struct fx *x, const struct fake_options *fo);
void fx_teardown(struct fx *x);
/* cmocka's per-test setup and teardown over them: a fresh fixture (no
 * fake options) in *state; at the end, no modelled rule broken, freed. */
int fx_state_setup(void **state);
int fx_state_teardown(void **state);

/* Another controller on the same fake (a second process): app_open. */
void fx_open(struct fx *x, struct app *app);

/* A policy file (Lua source) under x->tmp, its path into path. */
void fx_policy_file(struct fx *x, const char *name, const char *lua, char *path, size_t len);
/* Reopen x->app with TASKPIPE_POLICY=path (NULL: the built-in policy). */
void fx_reopen(struct fx *x, const char *policy_path);

/* taskpipe put of one item in plain JSON ({"pipeline":"a","concurrency":3}). */
void fx_put(struct fx *x, const char *json);
/* taskpipe rm NAME (the item; the pipeline drains on the next reconcile). */
void fx_rm(struct fx *x, const char *name);

/* Upload bytes as s3://FX_BUCKET/FX_KEY (PutObject); x->version gets the
 * new version. */
void fx_upload(struct fx *x, const char *bytes);

/* reconcile_run of the named pipelines (n 0: all) with o (NULL: none);
 * returns the results (reconcile_results_free) and their count in *n_out.
 * Asserts the run itself started. */
struct rec_result *fx_reconcile(struct fx *x, struct app *app, const char *const *names, size_t n,
				const struct reconcile_opts *o, size_t *n_out);
/* The result of name in res[0..n); NULL when absent. */
struct rec_result *fx_result(struct rec_result *res, size_t n, const char *name);
/* Assert every result is ok (rc TP_OK), printing the failures. */
void fx_assert_all_ok(const struct rec_result *res, size_t n);

/* ---- asking the fake, through taskpipe's aws/ builders ---- */

/* GetFunction's answer (cJSON, the caller's) or NULL when there is none. */
struct cJSON *fx_get_function(struct fx *x, const char *function);
/* GetFunctionConcurrency: ReservedConcurrentExecutions, or -1 when none. */
long fx_reserved(struct fx *x, const char *function);
/* The function's one event source mapping (ListEventSourceMappings), or NULL. */
struct cJSON *fx_mapping(struct fx *x, const char *function);
/* GetQueueUrl: the URL into url (1), or 0 when the queue does not exist. */
int fx_queue_url(struct fx *x, const char *queue, char *url, size_t len);
/* GetQueueAttributes All of the named queue (cJSON {"Name":"value"}), or NULL. */
struct cJSON *fx_queue_attrs(struct fx *x, const char *queue);
/* An ordinary call; asserts success; the JSON answer (awsj_result) or NULL. */
struct cJSON *fx_call_ok(struct fx *x, struct aws_call *c);

/* ---- recording what taskpipe sent ---- */

/* A log of the requests answered (service, op and a 200-byte head of the
 * body or path), kept by a hook; also the place to inject faults. */
struct fx_req {
	char service[16];
	char op[64];
	char what[320];             /* the path (REST); or [the FunctionName, QueueName or
				       QueueUrl] and the body's first bytes */
	long status;                /* the fake's answer (a throttle: 429 / 400) */
};
struct fx_log {
	struct fx_req *v;
	size_t n, cap;
	long kill_after;            /* > 0: every request after the kill_after-th fails (a dead process) */
	long seen;
	/* called for every request before it is logged (may be NULL): returns
	 * 1 when it answered out itself */
	int (*extra)(void *ctx, const struct fake_req *r, struct http_response *out);
	void *extra_ctx;
	struct fake *fake;          /* set by fx_log_start */
};
/* Install (or with NULL remove) a recording hook on x->fake. */
void fx_log_start(struct fx *x, struct fx_log *l);
void fx_log_free(struct fx_log *l);
/* Requests of op (service NULL: any) logged whose `what` contains needle
 * (NULL: all). */
long fx_log_count(const struct fx_log *l, const char *service, const char *op, const char *needle);
/* The same, counting only those the fake answered with 2xx (done, not
 * throttled nor refused). */
long fx_log_count_ok(const struct fx_log *l, const char *service, const char *op, const char *needle);
/* Index of the first such request at or after from, or -1. */
long fx_log_find(const struct fx_log *l, size_t from, const char *op, const char *needle);
/* Mutating requests (aws_op_is_mutating) logged from index from on whose
 * `what` contains needle (NULL: all). */
long fx_log_mutating(const struct fx_log *l, size_t from, const char *needle);

/* Assert taskpipe sent nothing a modelled rule refused (updating a
 * Pending function, a mapping in transition, over the concurrency pool:
 * fake_lambda_violations), printing the count. */
void fx_assert_no_violations(struct fx *x);

/* The number of seeds the seeded tests run: TASKPIPE_SIM_SEEDS, else dflt. */
int fx_seeds(int dflt);

#endif
