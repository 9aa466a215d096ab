/* fleet_sim.c: the fleet by simulation (issue 32). taskpipe's own controller
 * code (core/: init, reconcile of every config item, a change of a third of
 * the limits, the drift check, a rollout of a new code upload) runs against
 * the in-memory fake AWS (tests/fake/) with AWS's request quotas on, for a
 * fleet of N pipelines:
 *
 *   fleet_sim N        (one size per process: peak RSS is per size)
 *
 * Per phase it reports the requests per pipeline (the fake's counters),
 * the simulated wall time (the fake's clock) against the floor the quotas
 * allow (the baseline of this benchmark, computed for the same run: the
 * Lambda mutating calls the phase needs at 15/s), their ratio, the real CPU
 * seconds and the heap, the controller's apart from the fake's (fleet_mem.c).
 * The last line is JSON for tests/bench/bench_fleet_sim.py.
 *
 * Environment: FLEET_LATENCY_MS (simulated time a request takes, 20),
 * FLEET_LAG_MS (a function Pending / updating, a mapping Creating, 0),
 * FLEET_VERBOSE=1 (every operation's counters per phase, the timeline),
 * FLEET_SEED=1 (the create runs with the quotas off and no Lambda budget:
 * a fleet too big to create in real time, for measuring the later phases). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/resource.h>

#include <cjson/cJSON.h>

#include "aws/aws.h"
#include "aws/awsjson.h"
#include "aws/ddb.h"
#include "base/base.h"
#include "base/log.h"
#include "cmd/cmd_pipeline.h"
#include "core/app.h"
#include "core/drift/drift.h"
#include "core/lease.h"
#include "core/reconcile/reconcile.h"
#include "core/rollout/rollout.h"
#include "core/settings.h"
#include "fake/fake.h"
#include "fake/fake_int.h"
#include "fleet_mem.h"

#define CONFIG_TABLE "fleet-config"
#define STATE_TABLE "fleet-state"
#define CODE_BUCKET "fleet-code"
#define CODE_KEY "consumer/v.zip"
#define LAMBDA_RATE 15.0          /* AWS: Lambda control plane, requests/s */
#define LAMBDA_GET_RATE 100.0     /* AWS: GetFunction, requests/s */
#define LAMBDA_INVOCATION_S 900   /* one Lambda invocation at most (15 min) */

static struct fake *fk;

/* ---- the fake's transport, wrapped: its CPU and heap booked apart ---- */

static struct aws_transport inner;
static double fake_cpu_s;

static double cpu_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int depth;   /* the fake's poll ends requests, whose done may send more */

static int wrap_send(void *ctx, const struct http_request *req, struct http_response *resp,
		     aws_transport_done_fn done, void *done_ctx)
{
	double t0 = depth ? 0 : cpu_now();
	depth++;
	fleet_mem_enter_fake();
	int rc = inner.send(inner.ctx, req, resp, done, done_ctx);
	fleet_mem_leave_fake();
	if (!--depth)
		fake_cpu_s += cpu_now() - t0;
	return rc;
}

static int wrap_poll(void *ctx, long timeout_ms)
{
	double t0 = depth ? 0 : cpu_now();
	depth++;
	fleet_mem_enter_fake();
	int rc = inner.poll(inner.ctx, timeout_ms);
	fleet_mem_leave_fake();
	if (!--depth)
		fake_cpu_s += cpu_now() - t0;
	return rc;
}

/* ---- the fake's counters, snapshots and deltas ---- */

struct count { char svc[16], op[64]; long n, thr; };
struct counts { struct count *v; size_t n, cap; };

static void count_add(void *ctx, const char *svc, const char *op, long n, long thr)
{
	struct counts *c = ctx;
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 64;
		c->v = tp_xrealloc(c->v, c->cap * sizeof *c->v);
	}
	struct count *k = &c->v[c->n++];
	snprintf(k->svc, sizeof k->svc, "%s", svc);
	snprintf(k->op, sizeof k->op, "%s", op);
	k->n = n;
	k->thr = thr;
}

static struct counts snapshot(void)
{
	struct counts c = { 0 };
	fake_each_count(fk, count_add, &c);
	return c;
}

/* after - before, per operation, into after (zero rows stay). */
static void counts_sub(struct counts *after, const struct counts *before)
{
	for (size_t i = 0; i < after->n; i++)
		for (size_t j = 0; j < before->n; j++)
			if (!strcmp(after->v[i].svc, before->v[j].svc) && !strcmp(after->v[i].op, before->v[j].op)) {
				after->v[i].n -= before->v[j].n;
				after->v[i].thr -= before->v[j].thr;
			}
}

static int by_count(const void *a, const void *b)
{
	const struct count *x = a, *y = b;
	return (y->n > x->n) - (y->n < x->n);
}

/* ---- update spans: when UpdateFunctionCode happened (rollout) ---- */

static int64_t upd_first_ms = -1, upd_second_ms = -1, upd_last_ms = -1;
static long upd_seen;

static int watching;

/* ---- the timeline: when each kind of request was sent, per phase ---- */

struct span {
	char key[64];
	int64_t first_ms, last_ms;
	long n;
	size_t heap_max;   /* the controller's live heap, most seen while these were sent */
};
static struct span spans[64];
static int n_spans;

/* A request's kind: the operation when the protocol names it (JSON
 * target, query Action), else method and path with names left out
 * ("lambda PUT /functions/_/code"). */
static void kind_of(const struct fake_req *r, char *out, size_t len)
{
	char action[64];
	if (r->op[0]) {
		snprintf(out, len, "%s:%.40s", r->service, r->op);
		return;
	}
	if (fake_query_param(r, "Action", action, sizeof action) && action[0]) {
		snprintf(out, len, "%s:%.40s", r->service, action);
		return;
	}
	size_t o = (size_t)snprintf(out, len, "%s %s ", r->service, r->method);
	const char *p = r->path;
	int seg = 0;
	while (*p && o + 2 < len) {
		const char *e = strchr(p + 1, '/');
		size_t m = e ? (size_t)(e - p) : strlen(p);
		/* keep the version-less resource words, not names */
		int word = seg == 0 ? 0 : (seg == 1 || seg == 3);
		if (!strcmp(r->service, "s3"))
			word = 0;
		if (seg > 0 && m <= 1)   /* an empty last segment: a listing ("/functions/") */
			o += (size_t)snprintf(out + o, len - o, "/");
		else if (seg > 0)
			o += (size_t)snprintf(out + o, len - o, "%.*s", word ? (int)m : 2, word ? p : "/_");
		p += m;
		seg++;
	}
}

static void span_note(const struct fake_req *r)
{
	char k[64];
	kind_of(r, k, sizeof k);
	int64_t t = fake_elapsed_ms(fk);
	int i;
	for (i = 0; i < n_spans && strcmp(spans[i].key, k); i++)
		;
	if (i == n_spans) {
		if (n_spans == (int)(sizeof spans / sizeof spans[0]))
			return;
		snprintf(spans[n_spans].key, sizeof spans[0].key, "%s", k);
		spans[n_spans].first_ms = t;
		spans[n_spans].n = 0;
		spans[n_spans].heap_max = 0;
		n_spans++;
	}
	spans[i].last_ms = t;
	spans[i].n++;
	struct fleet_mem_side c;
	fleet_mem_get(FLEET_MEM_CONTROLLER, &c);
	if (c.live > spans[i].heap_max)
		spans[i].heap_max = c.live;
}

/* Every request passes here first: the timeline, the rollout's updates. */
static int fleet_hook(void *ctx, const struct fake_req *r, struct http_response *out)
{
	span_note(r);
	size_t n = strlen(r->path);
	if (watching && !strcmp(r->service, "lambda") && !strcmp(r->method, "PUT") && n > 5 && !strcmp(r->path + n - 5, "/code")) {
		int64_t t = fake_elapsed_ms(fk);
		if (upd_seen == 0)
			upd_first_ms = t;
		else if (upd_seen == 1)
			upd_second_ms = t;
		upd_last_ms = t;
		upd_seen++;
	}
	return 0;
}

/* ---- a phase's measurement ---- */

struct phase {
	const char *name;
	long n;                   /* pipelines */
	int64_t sim_ms;
	double floor_s;           /* what the quotas allow at best; 0: none named */
	const char *floor_why;
	double cpu_s, fake_cpu_s, real_s;
	struct counts d;          /* requests by operation during the phase */
	long requests, throttled, lambda, lambda_mut, lambda_thr;
	size_t ctrl_heap_peak, fake_heap_live;
	long rss_kb;
	char outcome[512];
	double goal_ratio;        /* 0: none */
	double goal_sim_s;        /* 0: none */
	double extra_s;           /* time the policy waits on purpose (the canary watch) */
	int failed;               /* the phase could not run (outcome says why) */
	int seeded;               /* FLEET_SEED: run with the quotas off, not measured */
	struct span spans[64];    /* its requests by kind: first and last time sent (from its start) */
	int n_spans;
};

struct meter {
	struct counts c0;
	int64_t sim0;
	double cpu0, fcpu0, real0;
};

static double rusage_cpu(void)
{
	struct rusage u;
	getrusage(RUSAGE_SELF, &u);
	return (double)u.ru_utime.tv_sec + u.ru_utime.tv_usec / 1e6 + (double)u.ru_stime.tv_sec +
	       u.ru_stime.tv_usec / 1e6;
}

static double real_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void meter_start(struct meter *m)
{
	m->c0 = snapshot();
	m->sim0 = fake_elapsed_ms(fk);
	m->cpu0 = rusage_cpu();
	m->fcpu0 = fake_cpu_s;
	m->real0 = real_now();
	fleet_mem_reset_peak(FLEET_MEM_CONTROLLER);
	n_spans = 0;
}

static int is_mutating(const char *op)
{
	return aws_op_is_mutating(op);
}

static void meter_stop(struct meter *m, struct phase *p)
{
	p->sim_ms = fake_elapsed_ms(fk) - m->sim0;
	p->cpu_s = rusage_cpu() - m->cpu0;
	p->fake_cpu_s = fake_cpu_s - m->fcpu0;
	p->real_s = real_now() - m->real0;
	p->d = snapshot();
	counts_sub(&p->d, &m->c0);
	free(m->c0.v);
	for (size_t i = 0; i < p->d.n; i++) {
		const struct count *k = &p->d.v[i];
		p->requests += k->n;
		p->throttled += k->thr;
		if (!strcmp(k->svc, "lambda")) {
			p->lambda += k->n;
			p->lambda_thr += k->thr;
			if (is_mutating(k->op))
				p->lambda_mut += k->n - k->thr;
		}
	}
	qsort(p->d.v, p->d.n, sizeof *p->d.v, by_count);
	for (int i = 0; i < n_spans; i++) {
		p->spans[i] = spans[i];
		p->spans[i].first_ms -= m->sim0;
		p->spans[i].last_ms -= m->sim0;
	}
	p->n_spans = n_spans;
	struct fleet_mem_side s;
	fleet_mem_get(FLEET_MEM_CONTROLLER, &s);
	p->ctrl_heap_peak = s.peak;
	fleet_mem_get(FLEET_MEM_FAKE, &s);
	p->fake_heap_live = s.live;
	struct rusage u;
	getrusage(RUSAGE_SELF, &u);
	p->rss_kb = u.ru_maxrss;
}

/* ---- setup as a user does it ---- */

static void die(const char *what, const tp_err *e)
{
	fprintf(stderr, "fleet_sim: %s: %s: %s\n", what, e ? e->code : "", e ? e->message : "");
	fake_dump_counts(fk);
	exit(1);
}

static void env(void)
{
	setenv("AWS_ACCESS_KEY_ID", "AKIDFLEET", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "secret", 1);
	unsetenv("AWS_SESSION_TOKEN");
	unsetenv("AWS_PROFILE");
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	setenv("AWS_ENDPOINT_URL", "http://fake.invalid", 1);   /* never AWS, even by mistake */
	setenv("AWS_REGION", "us-east-1", 1);
	setenv("TASKPIPE_CONFIG_TABLE", CONFIG_TABLE, 1);
	setenv("TASKPIPE_STATE_TABLE", STATE_TABLE, 1);
	setenv("TASKPIPE_CODE_BUCKET", CODE_BUCKET, 1);
	setenv("TASKPIPE_CODE_KEY", CODE_KEY, 1);
	setenv("TASKPIPE_ROLE_ARN", "arn:aws:iam::123456789012:role/fleet-consumer", 1);
	setenv("TASKPIPE_OWNER", "fleet", 1);
	setenv("TASKPIPE_PREFIX", "tp-", 1);
	setenv("TASKPIPE_PROGRESS", "0", 1);
	/* The policy's wall-clock limit is real time while all else here is
	 * simulated: on a loaded machine, in this process that also holds the
	 * fake, forking and loading the worker alone can pass the default
	 * 1,000 ms. Raised so the phases measure pacing and memory; what the
	 * default does to a rollout's plan is in docs/PERFORMANCE.md. */
	if (!getenv("TASKPIPE_POLICY_TIMEOUT_MS"))
		setenv("TASKPIPE_POLICY_TIMEOUT_MS", "10000", 1);
	if (!getenv("TASKPIPE_LOG_LEVEL"))
		setenv("TASKPIPE_LOG_LEVEL", "WARN", 1);   /* INFO shows lease renewals, the drift summary */
}

/* `taskpipe init`, its output kept out of the table. */
static void run_init(void)
{
	char *argv[] = { "init", NULL };
	fflush(stdout);
	int keep = dup(1), null = open("/dev/null", O_WRONLY);
	dup2(null, 1);
	int rc = cmd_init(1, argv);
	fflush(stdout);
	dup2(keep, 1);
	close(keep);
	close(null);
	if (rc != 0) {
		fprintf(stderr, "fleet_sim: taskpipe init failed (exit %d)\n", rc);
		fake_dump_counts(fk);
		exit(1);
	}
}

static void pipeline_name(long i, char *out, size_t len)
{
	snprintf(out, len, "tenant-%06ld", i);
}

/* PutItem of items i in [0, n) with concurrency conc(i); only those
 * where pick(i) (NULL: all). 256 at once, as `taskpipe put` of a file
 * would go through them. */
static void put_items(struct aws *a, long n, int (*pick)(long), long (*conc)(long))
{
	enum { BATCH = 256 };
	struct aws_call c[BATCH];
	long i = 0;
	while (i < n) {
		size_t k = 0;
		for (; i < n && k < BATCH; i++) {
			if (pick && !pick(i))
				continue;
			char name[32];
			pipeline_name(i, name, sizeof name);
			cJSON *in = cJSON_CreateObject();
			cJSON_AddStringToObject(in, "TableName", CONFIG_TABLE);
			cJSON *item = ddb_key("pipeline", name);
			ddb_put_long(item, "concurrency", conc(i));
			ddb_put_long(item, "timeout", 60);
			cJSON_AddItemToObject(in, "Item", item);
			memset(&c[k], 0, sizeof c[k]);
			awsj_prepare(&c[k++], SVC_DYNAMODB, "PutItem", in);
		}
		aws_call_many(a, c, k);
		for (size_t j = 0; j < k; j++) {
			if (c[j].rc != TP_OK)
				die("PutItem of a config item", &c[j].err);
			aws_call_free(&c[j]);
		}
	}
}

static long conc_first(long i) { (void)i; return 2; }
static int third(long i) { return i % 3 == 0; }
static long conc_changed(long i) { return i % 3 == 0 ? 3 : 2; }

/* S3 PutObject of a consumer code zip; its bytes differ by gen. */
static void put_code(struct aws *a, int gen)
{
	char body[4096];
	memset(body, 'A' + gen, sizeof body);
	memcpy(body, "PK\003\004", 4);   /* a zip's signature */
	char *path = tp_xasprintf("/%s/%s", CODE_BUCKET, CODE_KEY);
	struct aws_call c = { .service = SVC_S3, .op = "PutObject", .method = "PUT", .path = path,
			      .body = body, .body_len = sizeof body, .content_type = "application/zip" };
	aws_call_one(a, &c);
	if (c.rc != TP_OK)
		die("S3 PutObject of the consumer code", &c.err);
	aws_call_free(&c);
	free(path);
}

/* app_open as a command does; < 0 (e says why) fails the phase, not the run. */
static int open_app(struct app *app, tp_err *e)
{
	struct settings s;
	settings_init(&s);
	return app_open(app, &s, e);
}

/* ---- the phases ---- */

/* Outcome of a reconcile: how many ok, by action, the errors by code. */
static void rec_outcome(const struct rec_result *r, size_t n, char *out, size_t len)
{
	long ok = 0, act[4] = { 0 }, err = 0;
	char codes[4][48] = { { 0 } };
	long ncode[4] = { 0 };
	for (size_t i = 0; i < n; i++) {
		if (r[i].rc == TP_OK) {
			ok++;
			if (r[i].action >= 0 && r[i].action < 4 && r[i].changes)
				act[r[i].action]++;
			continue;
		}
		err++;
		int k;
		for (k = 0; k < 4 && codes[k][0] && strcmp(codes[k], r[i].err.code); k++)
			;
		if (k < 4) {
			snprintf(codes[k], sizeof codes[k], "%s", r[i].err.code);
			ncode[k]++;
		}
	}
	size_t o = (size_t)snprintf(out, len, "%zu pipelines: %ld ok (%ld created, %ld updated), %ld failed", n, ok,
				    act[REC_CREATE], act[REC_UPDATE], err);
	for (int k = 0; k < 4 && codes[k][0] && o < len; k++)
		o += (size_t)snprintf(out + o, len - o, "%s%s %ld", k ? ", " : ": ", codes[k], ncode[k]);
	if (err) {
		for (size_t i = 0; i < n; i++)
			if (r[i].rc != TP_OK) {
				fprintf(stderr, "fleet_sim: first failure: %s: %s: %s\n", r[i].name, r[i].err.code,
					r[i].err.message);
				break;
			}
	}
}

static void phase_reconcile(struct phase *p, long n, long changed)
{
	struct app app;
	struct meter m;
	meter_start(&m);
	tp_err e = { 0 };
	if (open_app(&app, &e) < 0) {
		meter_stop(&m, p);
		p->n = n;
		snprintf(p->outcome, sizeof p->outcome, "FAILED: app_open: %s: %.400s", e.code, e.message);
		p->failed = 1;
		return;
	}
	char holder[128];
	lease_holder_id("fleet", holder, sizeof holder);
	struct reconcile_opts o = { .holder = holder };
	struct rec_result *res = NULL;
	size_t nr = 0;
	int rc = reconcile_run(&app, NULL, 0, 1, &o, &res, &nr, &e);
	app_close(&app);
	meter_stop(&m, p);
	if (rc < 0) {
		snprintf(p->outcome, sizeof p->outcome, "FAILED: %s: %.400s", e.code, e.message);
		p->failed = 1;
	} else {
		rec_outcome(res, nr, p->outcome, sizeof p->outcome);
		for (size_t i = 0; i < nr; i++)
			p->failed |= res[i].rc != TP_OK;
	}
	reconcile_results_free(res, nr);
	p->n = n;
	if (changed < 0) {   /* create */
		p->floor_s = (double)n * 2 / LAMBDA_RATE;
		p->floor_why = "2 mutating Lambda calls per pipeline (CreateFunction, CreateEventSourceMapping) at 15/s";
		p->goal_ratio = 1.1;
	} else {
		p->floor_s = (double)changed / LAMBDA_RATE;
		p->floor_why = "1 mutating Lambda call per changed pipeline (UpdateEventSourceMapping: MaximumConcurrency) at 15/s";
	}
}

static void phase_drift(struct phase *p, long n)
{
	struct app app;
	struct meter m;
	meter_start(&m);
	tp_err e = { 0 };
	struct drift_opts o = { 0 };
	struct drift_report r;
	int rc = open_app(&app, &e);
	if (rc == TP_OK) {
		rc = drift_run(&app, &o, &r, &e);
		app_close(&app);
	}
	meter_stop(&m, p);
	p->n = n;
	/* The listings on the 15/s plane and, code stored by reference (the
	 * default on the versioned code bucket), a GetFunction per function
	 * on its own 100/s: the two budgets run side by side. */
	double lists = (double)((n + 49) / 50 + (n + 99) / 100) / LAMBDA_RATE, gets = (double)n / LAMBDA_GET_RATE;
	p->floor_s = lists > gets ? lists : gets;
	p->floor_why = "the Lambda listings (ListFunctions pages of 50, ListEventSourceMappings pages of 100) at 15/s "
		       "beside one GetFunction per function (code by reference) at 100/s, the longer";
	p->goal_sim_s = LAMBDA_INVOCATION_S;
	if (rc < 0) {
		snprintf(p->outcome, sizeof p->outcome, "FAILED: %s: %.400s", e.code, e.message);
		p->failed = 1;
		return;
	}
	const struct drift_summary *s = &r.summary;
	snprintf(p->outcome, sizeof p->outcome,
		 "%ld checked: %ld in sync, %ld drifted, %ld missing, %ld collisions, %ld errors; %ld orphans; "
		 "tag fallbacks: %ld functions, %ld queues, %ld queue urls",
		 s->checked, s->count[DRIFT_IN_SYNC], s->count[DRIFT_DRIFTED], s->count[DRIFT_MISSING],
		 s->count[DRIFT_COLLISION], s->count[DRIFT_ERROR], s->orphans, r.tag_fallback.functions,
		 r.tag_fallback.queues, r.tag_fallback.queue_urls);
	for (size_t i = 0; i < r.n_pipelines && s->count[DRIFT_IN_SYNC] < s->checked; i++)
		if (r.pipelines[i].status != DRIFT_IN_SYNC) {
			const struct drift_pipeline *d = &r.pipelines[i];
			fprintf(stderr, "fleet_sim: drift: first not in sync: %s: %s %s%s%s\n", d->name,
				drift_status_name(d->status), d->err.code, d->n_drift ? " field " : "",
				d->n_drift ? d->drift[0].field : "");
			break;
		}
	drift_report_free(&r);
}

static void phase_rollout(struct phase *p, long n)
{
	struct app app;
	struct meter m;
	upd_seen = 0;
	upd_first_ms = upd_second_ms = upd_last_ms = -1;
	watching = 1;
	meter_start(&m);
	struct rollout_opts o = { 0 };
	struct rollout_result r = { 0 };
	tp_err e = { 0 };
	int rc = open_app(&app, &e);
	if (rc == TP_OK) {
		rc = rollout_run(&app, CODE_BUCKET, CODE_KEY, NULL, &o, &r, &e);
		app_close(&app);
	}
	meter_stop(&m, p);
	watching = 0;
	size_t o0 = 0;
	if (rc < 0) {
		o0 = (size_t)snprintf(p->outcome, sizeof p->outcome, "FAILED: %s: %.300s; ", e.code, e.message);
		p->failed = r.status != ROLLOUT_DONE;
	}
	snprintf(p->outcome + o0, sizeof p->outcome - o0,
		 "%s: %zu targets in %d waves; %ld updated, %ld already current, %ld failed; "
		 "Lambda calls %ld: %ld updates, %ld ListFunctions, %ld GetFunction",
		 rollout_outcome_name(r.status), r.targets, r.waves, r.updated, r.already_current, r.failed,
		 r.calls.lambda, r.calls.updates, r.calls.list_functions, r.calls.get_function);
	rollout_result_free(&r);
	p->n = n;
	p->floor_s = (double)n / LAMBDA_RATE;
	p->floor_why = "1 UpdateFunctionCode per function at 15/s";
	p->goal_ratio = 1.1;
	/* The canary's watch (policy: canary_pause_s, then up to
	 * health_wait_max_s without invocations) is a wait on purpose: the
	 * time from the canary's update to the next one. */
	if (upd_second_ms > upd_first_ms && upd_first_ms >= 0)
		p->extra_s = (double)(upd_second_ms - upd_first_ms) / 1000;
}

/* ---- the report ---- */

static void print_phase(const struct phase *p, int verbose)
{
	double sim = (double)p->sim_ms / 1000;
	printf("%-8s %7ld %8.2f %8.1f %8.1f %7.3f", p->name, p->n, (double)p->requests / (double)p->n,
	       (double)p->lambda / (double)p->n, sim, p->floor_s);
	if (p->floor_s > 0 && !p->failed && !p->seeded)
		printf(" %7.3f", sim / p->floor_s);
	else
		printf(" %7s", "-");
	printf(" %7.2f %7.2f %9.1f %8.1f %7.1f\n", p->cpu_s - p->fake_cpu_s, p->fake_cpu_s,
	       (double)p->ctrl_heap_peak / 1048576.0, (double)p->fake_heap_live / 1048576.0, p->real_s);
	printf("         %s\n", p->outcome);
	printf("         floor: %s; Lambda %ld requests (%ld throttled), %ld mutating answered\n", p->floor_why,
	       p->lambda, p->lambda_thr, p->lambda_mut);
	if (p->extra_s > 0)
		printf("         of the time, %.1f s is the canary's watch (a wait on purpose); without it %.3fx the floor\n",
		       p->extra_s, ((double)p->sim_ms / 1000 - p->extra_s) / p->floor_s);
	printf("         requests:");
	for (size_t i = 0; i < p->d.n && (verbose || i < 8); i++)
		if (p->d.v[i].n)
			printf(" %s:%s %ld%s", p->d.v[i].svc, p->d.v[i].op, p->d.v[i].n,
			       p->d.v[i].thr ? "" : "");
	printf("\n");
	if (verbose) {
		printf("         timeline (s from the phase's start: first..last request of a kind, count, "
		       "the controller's heap MB at most meanwhile):\n");
		for (int i = 0; i < p->n_spans; i++)
			printf("           %-44s %9.1f .. %9.1f %8ld %8.1f\n", p->spans[i].key,
			       (double)p->spans[i].first_ms / 1000, (double)p->spans[i].last_ms / 1000, p->spans[i].n,
			       (double)p->spans[i].heap_max / 1048576.0);
	}
	if (p->throttled) {
		printf("         throttled:");
		for (size_t i = 0; i < p->d.n; i++)
			if (p->d.v[i].thr)
				printf(" %s:%s %ld", p->d.v[i].svc, p->d.v[i].op, p->d.v[i].thr);
		printf("\n");
	}
}

static cJSON *phase_json(const struct phase *p, long rss0_kb)
{
	cJSON *o = cJSON_CreateObject();
	double sim = (double)p->sim_ms / 1000;
	cJSON_AddStringToObject(o, "phase", p->name);
	cJSON_AddNumberToObject(o, "pipelines", (double)p->n);
	cJSON_AddNumberToObject(o, "requests", (double)p->requests);
	cJSON_AddNumberToObject(o, "requests_per_pipeline", (double)p->requests / (double)p->n);
	cJSON_AddNumberToObject(o, "lambda_per_pipeline", (double)p->lambda / (double)p->n);
	cJSON_AddNumberToObject(o, "throttled", (double)p->throttled);
	cJSON_AddNumberToObject(o, "sim_s", sim);
	cJSON_AddNumberToObject(o, "floor_s", p->floor_s);
	cJSON_AddStringToObject(o, "baseline", p->floor_why);
	if (p->floor_s > 0 && !p->failed && !p->seeded)   /* a failed or seeded phase has no ratio */
		cJSON_AddNumberToObject(o, "ratio_vs_floor", sim / p->floor_s);
	if (p->extra_s > 0) {
		cJSON_AddNumberToObject(o, "canary_watch_s", p->extra_s);
		cJSON_AddNumberToObject(o, "ratio_vs_floor_without_watch", (sim - p->extra_s) / p->floor_s);
	}
	cJSON_AddNumberToObject(o, "controller_cpu_s", p->cpu_s - p->fake_cpu_s);
	cJSON_AddNumberToObject(o, "fake_cpu_s", p->fake_cpu_s);
	cJSON_AddNumberToObject(o, "real_s", p->real_s);
	cJSON_AddNumberToObject(o, "controller_heap_peak_mb", (double)p->ctrl_heap_peak / 1048576.0);
	cJSON_AddNumberToObject(o, "controller_rss_estimate_mb",
				((double)rss0_kb * 1024 + (double)p->ctrl_heap_peak) / 1048576.0);
	cJSON_AddNumberToObject(o, "fake_heap_mb", (double)p->fake_heap_live / 1048576.0);
	cJSON_AddNumberToObject(o, "process_peak_rss_mb", (double)p->rss_kb / 1024.0);
	cJSON_AddStringToObject(o, "outcome", p->outcome);
	cJSON_AddBoolToObject(o, "failed", p->failed);
	if (p->seeded)
		cJSON_AddBoolToObject(o, "seeded", 1);
	if (p->goal_ratio > 0)
		cJSON_AddBoolToObject(o, "ok", !p->failed && sim / p->floor_s <= p->goal_ratio);
	if (p->goal_sim_s > 0)
		cJSON_AddBoolToObject(o, "ok", !p->failed && sim <= p->goal_sim_s);
	cJSON *tl = cJSON_AddArrayToObject(o, "timeline");
	for (int i = 0; i < p->n_spans; i++) {
		cJSON *t = cJSON_CreateObject();
		cJSON_AddStringToObject(t, "kind", p->spans[i].key);
		cJSON_AddNumberToObject(t, "first_s", (double)p->spans[i].first_ms / 1000);
		cJSON_AddNumberToObject(t, "last_s", (double)p->spans[i].last_ms / 1000);
		cJSON_AddNumberToObject(t, "n", (double)p->spans[i].n);
		cJSON_AddNumberToObject(t, "heap_mb", (double)p->spans[i].heap_max / 1048576.0);
		cJSON_AddItemToArray(tl, t);
	}
	cJSON *ops = cJSON_AddObjectToObject(o, "by_operation");
	for (size_t i = 0; i < p->d.n; i++)
		if (p->d.v[i].n) {
			char k[96];
			snprintf(k, sizeof k, "%s:%s", p->d.v[i].svc, p->d.v[i].op);
			cJSON_AddNumberToObject(ops, k, (double)p->d.v[i].n);
		}
	return o;
}

static long env_long(const char *name, long dflt)
{
	const char *v = getenv(name);
	return v && *v ? strtol(v, NULL, 10) : dflt;
}

static long rss_now_kb(void)
{
	long pages = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
			rss = 0;
		fclose(f);
	}
	return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 0;
	if (n < 3) {
		fprintf(stderr, "usage: fleet_sim PIPELINES   (at least 3)\n");
		return 2;
	}
	int verbose = env_long("FLEET_VERBOSE", 0) > 0;
	env();
	log_init();   /* what main() does: the level and format from the environment */
	long rss0_kb = rss_now_kb();   /* the program, its libraries: what a controller has before work */
	double real0 = real_now();

	struct fake_options fo = { .seed = 1, .quotas = 1, .latency_ms = (int)env_long("FLEET_LATENCY_MS", 0),
				   .lag_ms = (int)env_long("FLEET_LAG_MS", 0) };
	fleet_mem_enter_fake();
	fk = fake_new(&fo);
	fleet_mem_leave_fake();
	fake_use_clock(fk);
	fake_set_hook(fk, fleet_hook, NULL);
	fake_transport(fk, &inner);
	struct aws_transport wrapped = { wrap_send, wrap_poll, NULL };
	aws_set_default_transport(&wrapped);

	/* setup, as a user does it: init, the code object, the items */
	run_init();
	struct aws *user;
	struct aws_options uo = { .lambda_rps = -1, .lambda_get_rps = -1, .max_in_flight = 16 };
	tp_err e = { 0 };
	if (aws_new(&uo, &user, &e) < 0)
		die("aws_new", &e);
	put_code(user, 1);
	put_items(user, n, NULL, conc_first);
	int64_t setup_ms = fake_elapsed_ms(fk);

	struct phase ph[4] = { { .name = "create" }, { .name = "change" }, { .name = "drift" },
			       { .name = "rollout" } };
	int seed = env_long("FLEET_SEED", 0) > 0;
	if (seed) {
		/* Seeding: the create runs with the quotas off and the controller's
		 * Lambda budget unbounded (a fleet too big to create in real time,
		 * for the phases after it); its row is no measurement. */
		fk->opt.quotas = 0;
		setenv("TASKPIPE_LAMBDA_BUDGET", "local", 1);
		setenv("TASKPIPE_LAMBDA_RPS", "1000000", 1);
		setenv("TASKPIPE_LAMBDA_GET_RPS", "1000000", 1);
	}
	phase_reconcile(&ph[0], n, -1);
	if (seed) {
		fk->opt.quotas = 1;
		unsetenv("TASKPIPE_LAMBDA_BUDGET");
		unsetenv("TASKPIPE_LAMBDA_RPS");
		unsetenv("TASKPIPE_LAMBDA_GET_RPS");
		ph[0].goal_ratio = 0;
		ph[0].seeded = 1;
		size_t o = strlen(ph[0].outcome);
		snprintf(ph[0].outcome + o, sizeof ph[0].outcome - o, "; SEEDED: quotas off, no measurement");
	}
	put_items(user, n, third, conc_changed);
	phase_reconcile(&ph[1], n, (n + 2) / 3);
	phase_drift(&ph[2], n);
	put_code(user, 2);
	phase_rollout(&ph[3], n);
	aws_free(user);

	printf("fleet by simulation: %ld pipelines; quotas on (Lambda control plane 15/s, GetFunction 100/s);\n"
	       "baseline: the floor the quotas allow for the phase, computed for this fleet (ratio = simulated time / floor)\n",
	       n);
	printf("%-8s %7s %8s %8s %8s %7s %7s %7s %7s %9s %8s %7s\n", "phase", "n", "req/pl", "lam/pl", "sim s",
	       "floor s", "ratio", "cpu s", "fake s", "heap MB", "fake MB", "real s");
	for (int i = 0; i < 4; i++)
		print_phase(&ph[i], verbose);
	struct rusage u;
	getrusage(RUSAGE_SELF, &u);
	struct fleet_mem_side cs, fs;
	fleet_mem_get(FLEET_MEM_CONTROLLER, &cs);
	fleet_mem_get(FLEET_MEM_FAKE, &fs);
	size_t ctrl_peak = 0;
	for (int i = 0; i < 4; i++)
		if (ph[i].ctrl_heap_peak > ctrl_peak)
			ctrl_peak = ph[i].ctrl_heap_peak;
	double est_mb = ((double)rss0_kb * 1024 + (double)ctrl_peak) / 1048576.0;
	printf("memory: process peak RSS %.1f MB (controller and fake together); before any work %.1f MB;\n"
	       "        controller heap peak %.1f MB, so the controller alone about %.1f MB (goal < 128 MB at 50,000);\n"
	       "        the fake holds %.1f MB for %ld pipelines\n",
	       (double)u.ru_maxrss / 1024, (double)rss0_kb / 1024, (double)ctrl_peak / 1048576.0, est_mb,
	       (double)fs.live / 1048576.0, n);
	printf("setup (init, code, %ld PutItem) %.1f s simulated; whole run %.1f s real, %.1f s CPU\n", n,
	       (double)setup_ms / 1000, real_now() - real0, rusage_cpu());

	cJSON *doc = cJSON_CreateObject();
	cJSON_AddNumberToObject(doc, "pipelines", (double)n);
	cJSON_AddNumberToObject(doc, "process_peak_rss_mb", (double)u.ru_maxrss / 1024);
	cJSON_AddNumberToObject(doc, "baseline_rss_mb", (double)rss0_kb / 1024);
	cJSON_AddNumberToObject(doc, "controller_heap_peak_mb", (double)ctrl_peak / 1048576.0);
	cJSON_AddNumberToObject(doc, "controller_rss_estimate_mb", est_mb);
	cJSON_AddNumberToObject(doc, "fake_heap_mb", (double)fs.live / 1048576.0);
	cJSON_AddNumberToObject(doc, "real_s", real_now() - real0);
	cJSON_AddNumberToObject(doc, "latency_ms", fo.latency_ms ? fo.latency_ms : 20);
	cJSON_AddNumberToObject(doc, "lag_ms", fo.lag_ms);
	cJSON *arr = cJSON_AddArrayToObject(doc, "phases");
	for (int i = 0; i < 4; i++) {
		cJSON_AddItemToArray(arr, phase_json(&ph[i], rss0_kb));
		free(ph[i].d.v);
	}
	char *s = cJSON_PrintUnformatted(doc);
	printf("FLEET_JSON %s\n", s);
	free(s);
	cJSON_Delete(doc);
	if (verbose)
		fake_dump_counts(fk);
	fleet_mem_enter_fake();
	fake_free(fk);
	fleet_mem_leave_fake();
	return 0;
}
