/* rollout.c: consumer code rollout in the policy's waves, resumable and
 * exactly-once per function (see rollout.h for the model and the items). */
#include "core/rollout/rollout.h"

#include "aws/awsjson.h"
#include "core/codemark.h"
#include "core/codestore.h"
#include "aws/ddb.h"
#include "base/hash.h"
#include "aws/http.h"
#include "base/log.h"
#include "core/names.h"
#include "script/policy.h"
#include "base/retry.h"
#include "core/rollout/rolloutrec.h"
#include "core/store.h"
#include "aws/sigv4.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WAIT_ROUNDS 120        /* status polls of a busy function (Pending, InProgress): 4 min */
#define CONFLICT_ROUNDS 5      /* resends after 409 ResourceConflict / 412 stale RevisionId */
#define POLL_MS 1000           /* between the first status polls of a busy function, then 2x */
#define FIRST_POLL_MS 500      /* first poll after an update (most finish within seconds) */
#define THROTTLE_MS 1000       /* requeue delay after a 429 without a Retry-After */

enum fstat { FS_PENDING, FS_UPDATING, FS_DONE, FS_FAILED, FS_GONE };
static const char *const fs_names[] = { "pending", "updating", "done", "failed", "gone" };

struct target {
	char *pipeline;                 /* owned */
	char function[NAMES_FUNCTION_MAX + 1];
	int wave;                       /* index in the plan */
	int seen;                       /* found by the last observation */
	char sha[64];                   /* observed CodeSha256 */
	char rev[80];                   /* observed RevisionId */
	int image;                      /* PackageType Image: no zip code to roll out */
	int reference;                  /* spec wants S3ObjectStorageMode REFERENCE */
	int status;                     /* enum fstat */
	int busy;                       /* Lambda reports State Pending or LastUpdateStatus InProgress */
	int fresh;                      /* busy/rev/sha come from GetFunction, not ListFunctions */
	int acted;                      /* this run sent it an update */
	int rounds;                     /* resends after a conflict */
	int polls;                      /* status polls while busy */
	int64_t not_before;             /* monotonic ms: throttled or busy, wait until then */
	int recorded;                   /* status last written to its record; -1: none */
	tp_err err;                     /* why it failed */
};

struct ro {
	struct app *app;
	struct rollout_opts o;
	const char *bucket, *key;
	char *version;                  /* owned; NULL: unversioned bucket */
	char id[1200];                  /* bucket/key */
	char sha[64];                   /* expected CodeSha256 */
	long gen;
	char holder[200];
	char mode[8];                   /* "code" (layer mode was removed) */
	cJSON *plan;                    /* [{targets, pause_seconds, halt_on_failure}] */
	int wave;                       /* next wave to run */
	int64_t next_at;                /* epoch s at which that wave may start */
	struct target *t;
	size_t nt;
	cJSON *skipped;                 /* [{pipeline, function, reason}] */
	const char *status;             /* outcome */
	tp_err fail;                    /* what halted it */
	char fail_fn[NAMES_FUNCTION_MAX + 1];
	long updates, already, failed, gone;
	long long object_bytes;         /* size of the code object, as streamed */
	long lambda0, update_calls0, list0, get0; /* request counts at the start */
};

/* ---------- small helpers ---------- */

static const char *jstr(const cJSON *o, const char *k)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

static int cond_failed(const tp_err *e)
{
	return strcmp(e->code, "ConditionalCheckFailedException") == 0;
}

void rollout_base64(const unsigned char *in, size_t n, char *out)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)in[i] << 16;
		if (i + 1 < n)
			v |= (unsigned)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		out[o++] = tab[(v >> 18) & 63];
		out[o++] = tab[(v >> 12) & 63];
		out[o++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < n ? tab[v & 63] : '=';
	}
	out[o] = 0;
}

int rollout_parse_uri(const char *uri, char **bucket, char **key, char **version, tp_err *e)
{
	*bucket = *key = *version = NULL;
	if (!uri || !tp_startswith(uri, "s3://"))
		return tp_errf(e, TP_EINVAL, "BadUri", "expected s3://BUCKET/KEY[#VERSION], got '%s'",
			       uri ? uri : "");
	const char *b = uri + 5, *slash = strchr(b, '/');
	if (!slash || slash == b || !slash[1])
		return tp_errf(e, TP_EINVAL, "BadUri", "expected s3://BUCKET/KEY[#VERSION], got '%s'", uri);
	/* An S3 key may hold '#': the version is what follows the last one. */
	const char *hash = strrchr(slash + 1, '#');
	*bucket = tp_xstrndup(b, (size_t)(slash - b));
	*key = hash ? tp_xstrndup(slash + 1, (size_t)(hash - slash - 1)) : tp_xstrdup(slash + 1);
	*version = hash && hash[1] ? tp_xstrdup(hash + 1) : NULL;
	if (!**key) {
		free(*bucket), free(*key), free(*version);
		*bucket = *key = *version = NULL;
		return tp_errf(e, TP_EINVAL, "BadUri", "empty key in '%s'", uri);
	}
	return TP_OK;
}

/* Value of header name in a call's answer headers, into out. */
static int header_value(const buf *h, const char *name, char *out, size_t len)
{
	const char *s = buf_str(h);
	return http_header_in(s, s + h->len, name, out, len);
}

static int64_t now_s(void)
{
	return tp_now_ms() / 1000;
}

static int lease_ttl(const struct ro *r)
{
	if (r->o.lease_ttl_s > 0)
		return r->o.lease_ttl_s;
	const char *v = getenv("TASKPIPE_ROLLOUT_LEASE_S");
	int n = v ? atoi(v) : 0;
	return n > 0 ? n : 60;
}

/* No time left to start another batch before the deadline. */
static int deadline_near(const struct ro *r, int64_t extra_ms)
{
	if (!r->o.deadline_ms)
		return 0;
	int64_t reserve = r->o.reserve_ms ? r->o.reserve_ms : 15000;
	return tp_now_ms() + reserve + extra_ms > r->o.deadline_ms;
}

/* ---------- the object ---------- */

/* The object's bytes go straight into SHA-256, never held whole: a code
 * zip may be up to Lambda's 250 MB (buffered AWS answers stop at 10 MiB). */
static void sink_begin(void *ctx)
{
	hash_sha256_begin(ctx); /* a retried download starts over */
}

static int sink_write(void *ctx, const void *data, size_t len)
{
	hash_sha256_update(ctx, data, len);
	return 0;
}

/* Download the object once, streamed: expected CodeSha256 and the version
 * id. With from_event, the latest is read and an older event version is stale. */
static int fetch_object(struct ro *r, const char *want_version, tp_err *e)
{
	size_t kl = strlen(r->key);
	char *enc = tp_xmalloc(kl * 3 + 1);
	sigv4_uri_encode(r->key, kl, 1, enc, kl * 3 + 1);
	char *path = tp_xasprintf("/%s/%s", r->bucket, enc);
	free(enc);
	buf q = { 0 };
	if (want_version && !r->o.from_event)
		awsj_form_add(&q, "versionId", want_version);
	struct hash_sha256_stream hs;
	const struct aws_sink sink = { sink_begin, sink_write, &hs };
	struct aws_call c = { .service = SVC_S3, .op = "GetObject", .method = "GET", .path = path,
			      .query = q.len ? q.data : NULL, .sink = &sink };
	aws_call_one(r->app->aws, &c);
	int rc = c.rc;
	if (rc < 0) {
		*e = c.err;
		tp_errf(e, rc, c.err.code[0] ? c.err.code : "GetObjectFailed",
			"cannot read the code object s3://%s%s%s: %s", r->id, want_version ? "#" : "",
			want_version ? want_version : "", c.err.message);
	} else {
		unsigned char d[HASH_SHA256_LEN];
		hash_sha256_end(&hs, d);
		rollout_base64(d, sizeof d, r->sha);
		r->object_bytes = (long long)hs.len;
		char v[256] = "";
		if (header_value(&c.resp_headers, "x-amz-version-id", v, sizeof v) && v[0] &&
		    strcmp(v, "null") != 0)
			r->version = tp_xstrdup(v);
		if (r->o.from_event && want_version && (!r->version || strcmp(r->version, want_version)))
			r->status = "stale"; /* a newer upload exists; its own event rolls it out */
		else if (!r->version && want_version)
			r->version = tp_xstrdup(want_version);
	}
	aws_call_free(&c);
	free(path);
	buf_free(&q);
	return rc;
}

/* ---------- state table ---------- */

static void hdr_pk(const struct ro *r, char *out, size_t len)
{
	char *pk = store_pk_rollout(r->id);
	snprintf(out, len, "%s", pk);
	free(pk);
}

static int get_header(struct ro *r, cJSON **item, tp_err *e)
{
	char pk[1300];
	hdr_pk(r, pk, sizeof pk);
	cJSON *in = cJSON_CreateObject(), *out = NULL;
	cJSON_AddStringToObject(in, "TableName", r->app->set.state_table);
	cJSON_AddItemToObject(in, "Key", ddb_key("pk", pk));
	cJSON_AddBoolToObject(in, "ConsistentRead", 1);
	int rc = awsj_call(r->app->aws, SVC_DYNAMODB, "GetItem", in, &out, e);
	cJSON_Delete(in);
	*item = rc == TP_OK ? cJSON_DetachItemFromObject(out, "Item") : NULL;
	cJSON_Delete(out);
	return rc;
}

/* UpdateItem SET of every attribute in sets (AttributeValues, consumed),
 * with names aliased (status, version, ... are DynamoDB reserved words). */
static cJSON *update_req(const char *table, const char *pk, cJSON *sets, const char *extra_set,
			 const char *remove, const char *cond)
{
	cJSON *in = cJSON_CreateObject();
	cJSON_AddStringToObject(in, "TableName", table);
	cJSON_AddItemToObject(in, "Key", ddb_key("pk", pk));
	cJSON *names = cJSON_AddObjectToObject(in, "ExpressionAttributeNames");
	cJSON *vals = cJSON_AddObjectToObject(in, "ExpressionAttributeValues");
	buf ex = { 0 };
	int i = 0;
	for (cJSON *a = sets->child; a; a = a->next, i++) {
		char n[16], v[16];
		snprintf(n, sizeof n, "#a%d", i);
		snprintf(v, sizeof v, ":a%d", i);
		cJSON_AddStringToObject(names, n, a->string);
		cJSON_AddItemToObject(vals, v, cJSON_Duplicate(a, 1));
		buf_addf(&ex, "%s%s = %s", i ? ", " : "SET ", n, v);
	}
	if (extra_set)
		buf_addf(&ex, "%s%s", i ? ", " : "SET ", extra_set);
	if (remove)
		buf_addf(&ex, " REMOVE %s", remove);
	cJSON_AddStringToObject(in, "UpdateExpression", buf_str(&ex));
	if (cond)
		cJSON_AddStringToObject(in, "ConditionExpression", cond);
	buf_free(&ex);
	cJSON_Delete(sets);
	return in;
}

enum hdr_how { HDR_ACQUIRE, HDR_BEAT, HDR_RELEASE };

/* Write the header under our generation: acquire the lease, renew it
 * (recording progress), or release it. TP_ECONFLICT when the rollout was
 * superseded (r->status set) or another runner holds it. */
static int hdr_write(struct ro *r, int how, const char *status, tp_err *e)
{
	char pk[1300];
	hdr_pk(r, pk, sizeof pk);
	int64_t now = now_s();
	cJSON *s = cJSON_CreateObject();
	ddb_put_long(s, "wave", r->wave);
	ddb_put_long(s, "next_at", (long)r->next_at);
	ddb_put_long(s, "updated_at", (long)now);
	ddb_put_str(s, "status", status);
	if (how == HDR_RELEASE) {
		ddb_put_long(s, "lease_until", 0);
		if (r->fail.code[0]) {
			ddb_put_str(s, "error_function", r->fail_fn);
			ddb_put_str(s, "error_code", r->fail.code);
			ddb_put_str(s, "error_message", r->fail.message);
		}
	} else {
		ddb_put_str(s, "holder", r->holder);
		ddb_put_long(s, "lease_until", (long)(now + lease_ttl(r)));
	}
	const char *cond = how == HDR_ACQUIRE ?
		STORE_COND_ROLLOUT_TAKE : STORE_COND_ROLLOUT_OURS;
	cJSON *in = update_req(r->app->set.state_table, pk, s, NULL,
			       how == HDR_RELEASE ? "#h" : NULL, cond);
	cJSON *names = cJSON_GetObjectItem(in, "ExpressionAttributeNames");
	cJSON_AddStringToObject(names, "#g", "gen");
	cJSON_AddStringToObject(names, "#h", "holder");
	cJSON *vals = cJSON_GetObjectItem(in, "ExpressionAttributeValues");
	ddb_put_long(vals, ":g", r->gen);
	ddb_put_str(vals, ":me", r->holder);
	if (how == HDR_ACQUIRE) {
		cJSON_AddStringToObject(names, "#lu", "lease_until");
		ddb_put_long(vals, ":now", (long)now);
	}
	if (how == HDR_RELEASE && !r->fail.code[0]) {
		/* a success clears an earlier failure */
		cJSON *ue = cJSON_GetObjectItem(in, "UpdateExpression");
		char *u = tp_xasprintf("%s, error_function, error_code, error_message", ue->valuestring);
		cJSON_SetValuestring(ue, u);
		free(u);
	}
	cJSON *out = NULL;
	tp_err err = { 0 };
	int rc = awsj_call(r->app->aws, SVC_DYNAMODB, "UpdateItem", in, &out, &err);
	cJSON_Delete(in);
	cJSON_Delete(out);
	if (rc == TP_OK)
		return TP_OK;
	if (!cond_failed(&err)) {
		*e = err;
		return rc;
	}
	cJSON *h = NULL;
	tp_err ge = { 0 };
	get_header(r, &h, &ge);
	long g = ddb_get_long(h, "gen", 0);
	if (g != r->gen) {
		r->status = "superseded";
		rc = tp_errf(e, TP_ECONFLICT, "RolloutSuperseded",
			     "rollout of s3://%s was superseded by version %s", r->id,
			     ddb_get_str(h, "version", "?"));
	} else {
		r->status = "busy";
		rc = tp_errf(e, TP_ECONFLICT, "RolloutBusy", "rollout of s3://%s is run by %s until %ld",
			     r->id, ddb_get_str(h, "holder", "?"), ddb_get_long(h, "lease_until", 0));
	}
	cJSON_Delete(h);
	return rc;
}

/* Per-function records, one UpdateItem each; a record of a newer
 * generation is never overwritten. prep_records builds the calls (so they
 * can ride in the same concurrent batch as Lambda updates), check_records
 * reads their outcome: TP_ECONFLICT when one hit a newer generation (we are
 * superseded). */
static void prep_records(struct ro *r, struct target **ts, size_t n, int counting, struct aws_call *c)
{
	for (size_t i = 0; i < n; i++) {
		struct target *t = ts[i];
		char *pk = store_pk_rollout_fn(r->id, t->function);
		cJSON *s = cJSON_CreateObject();
		ddb_put_str(s, "kind", "rollout-fn");
		ddb_put_str(s, "rollout", r->id);
		ddb_put_str(s, "function", t->function);
		ddb_put_str(s, "pipeline", t->pipeline);
		ddb_put_long(s, "gen", r->gen);
		ddb_put_str(s, "version", r->version ? r->version : "");
		ddb_put_str(s, "status", fs_names[t->status]);
		t->recorded = t->status;
		ddb_put_long(s, "wave", t->wave);
		ddb_put_long(s, "updated_at", (long)now_s());
		if (t->status == FS_UPDATING && t->rev[0])
			ddb_put_str(s, "rev", t->rev);
		if (t->status == FS_FAILED) {
			ddb_put_str(s, "error_code", t->err.code);
			ddb_put_str(s, "error_message", t->err.message);
		}
		cJSON *in = update_req(r->app->set.state_table, pk, s,
				       counting ? "attempts = if_not_exists(attempts, :zero) + :one" : NULL,
				       NULL, "attribute_not_exists(pk) OR #g <= :g");
		cJSON_AddStringToObject(cJSON_GetObjectItem(in, "ExpressionAttributeNames"), "#g", "gen");
		cJSON *v = cJSON_GetObjectItem(in, "ExpressionAttributeValues");
		ddb_put_long(v, ":g", r->gen);
		if (counting) {
			ddb_put_long(v, ":zero", 0);
			ddb_put_long(v, ":one", 1);
		}
		awsj_prepare(&c[i], SVC_DYNAMODB, "UpdateItem", in);
		free(pk);
	}
}

static int check_records(struct ro *r, struct aws_call *c, size_t n, tp_err *e)
{
	int rc = TP_OK;
	for (size_t i = 0; i < n; i++) {
		if (c[i].rc < 0) {
			if (cond_failed(&c[i].err)) {
				rc = TP_ECONFLICT;
			} else if (rc == TP_OK) {
				rc = c[i].rc;
				*e = c[i].err;
			}
		}
		aws_call_free(&c[i]);
	}
	if (rc == TP_ECONFLICT) {
		r->status = "superseded";
		tp_errf(e, rc, "RolloutSuperseded", "rollout of s3://%s was superseded", r->id);
	}
	return rc;
}

static int write_fn_records(struct ro *r, struct target **ts, size_t n, int counting, tp_err *e)
{
	if (!n)
		return TP_OK;
	struct aws_call *c = tp_xcalloc(n, sizeof *c);
	prep_records(r, ts, n, counting, c);
	aws_call_many(r->app->aws, c, n);
	int rc = check_records(r, c, n, e);
	free(c);
	return rc;
}

/* Every item whose pk starts with prefix. */
static int scan_prefix(struct app *app, const char *prefix, cJSON *out, tp_err *e)
{
	return ddb_scan_all(app->aws, app->set.state_table, prefix, out, e);
}

/* ---------- observing the fleet ---------- */

static int cmp_target_fn(const void *a, const void *b)
{
	const struct target *const *x = a, *const *y = b;
	return strcmp((*x)->function, (*y)->function);
}

/* The code object a function's Description records is ours (the marker
 * reconcile writes, built by the same codemark_make). */
static int marker_matches(const struct ro *r, const char *desc)
{
	return codemark_is_object(desc, r->bucket, r->key);
}

/* One ListFunctions walk (50 configurations a page): CodeSha256,
 * RevisionId, PackageType and the Description of every target. ListFunctions
 * never reports State or LastUpdateStatus ("only GetFunction and
 * GetFunctionConfiguration", https://docs.aws.amazon.com/lambda/latest/dg/functions-states.html),
 * so whether a function is busy is read with GetFunction before it is
 * updated (refresh). With confirm,
 * a target whose function is missing or records another code object is
 * dropped into r->skipped. */
static int observe(struct ro *r, int confirm, tp_err *e)
{
	struct target **idx = tp_xcalloc(r->nt + 1, sizeof *idx);
	for (size_t i = 0; i < r->nt; i++) {
		idx[i] = &r->t[i];
		r->t[i].seen = 0;
	}
	qsort(idx, r->nt, sizeof *idx, cmp_target_fn);
	char *marker = NULL;
	int rc = TP_OK;
	do {
		buf q = { 0 };
		buf_adds(&q, "MaxItems=50");
		if (marker) {
			buf_adds(&q, "&");
			awsj_form_add(&q, "Marker", marker);
		}
		cJSON *out = NULL;
		rc = awsj_rest(r->app->aws, SVC_LAMBDA, "ListFunctions", "GET", "/2015-03-31/functions/",
			       q.data, NULL, &out, e);
		buf_free(&q);
		free(marker);
		marker = NULL;
		if (rc < 0)
			break;
		cJSON *f;
		cJSON_ArrayForEach(f, cJSON_GetObjectItem(out, "Functions")) {
			struct target key = { 0 }, *kp = &key, **hit;
			snprintf(key.function, sizeof key.function, "%s", jstr(f, "FunctionName") ?: "");
			hit = bsearch(&kp, idx, r->nt, sizeof *idx, cmp_target_fn);
			if (!hit)
				continue;
			struct target *t = *hit;
			if (confirm && !marker_matches(r, jstr(f, "Description")))
				continue;
			t->seen = 1;
			snprintf(t->sha, sizeof t->sha, "%s", jstr(f, "CodeSha256") ?: "");
			snprintf(t->rev, sizeof t->rev, "%s", jstr(f, "RevisionId") ?: "");
			t->image = jstr(f, "PackageType") && strcmp(jstr(f, "PackageType"), "Image") == 0;
			t->fresh = 0;
		}
		const char *nm = jstr(out, "NextMarker");
		marker = nm && nm[0] ? tp_xstrdup(nm) : NULL;
		cJSON_Delete(out);
	} while (marker);
	free(idx);
	return rc;
}

static int is_done(const struct ro *r, const struct target *t)
{
	return t->seen && !t->image && strcmp(t->sha, r->sha) == 0;
}

/* ---------- targets and the plan ---------- */

static void add_target(struct ro *r, const char *pipeline, int wave)
{
	struct names nm;
	tp_err e = { 0 };
	if (names_for(r->app->set.prefix, pipeline, &nm, &e) < 0)
		return;
	r->t = tp_xrealloc(r->t, (r->nt + 1) * sizeof *r->t);
	struct target *t = &r->t[r->nt++];
	memset(t, 0, sizeof *t);
	t->pipeline = tp_xstrdup(pipeline);
	t->recorded = -1;
	snprintf(t->function, sizeof t->function, "%s", nm.function);
	t->wave = wave;
}

static void skip(struct ro *r, const struct target *t, const char *why)
{
	cJSON *s = cJSON_CreateObject();
	cJSON_AddStringToObject(s, "pipeline", t->pipeline);
	cJSON_AddStringToObject(s, "function", t->function);
	cJSON_AddStringToObject(s, "reason", why);
	cJSON_AddItemToArray(r->skipped, s);
}

static void drop_targets(struct ro *r, int (*keep)(const struct target *))
{
	size_t k = 0;
	for (size_t i = 0; i < r->nt; i++) {
		if (keep(&r->t[i])) {
			r->t[k++] = r->t[i];
		} else {
			free(r->t[i].pipeline);
		}
	}
	r->nt = k;
}

static int keep_seen(const struct target *t)
{
	return t->seen;
}

static int keep_planned(const struct target *t)
{
	return t->wave >= 0;
}

static int keep_zip(const struct target *t)
{
	return !t->image;
}

/* A container image function has no zip code to take: skipped, named,
 * never sent UpdateFunctionCode with S3 code
 * (https://docs.aws.amazon.com/lambda/latest/api/API_UpdateFunctionCode.html:
 * ImageUri for PackageType Image, S3Bucket/S3Key for Zip). */
static void skip_images(struct ro *r)
{
	for (size_t i = 0; i < r->nt; i++)
		if (r->t[i].seen && r->t[i].image) {
			char why[160];
			snprintf(why, sizeof why, "function %s has PackageType Image: rollout deploys zip code only",
				 r->t[i].function);
			skip(r, &r->t[i], why);
		}
	drop_targets(r, keep_zip);
}

/* Pipelines whose applied spec uses this object, confirmed on the function
 * (its Description marker); the state record is taskpipe's ownership proof
 * (ListFunctions shows no tags, and reconcile created the function only
 * under our owner tag). */
static int find_targets(struct ro *r, tp_err *e)
{
	struct store_pipelines st;
	int rc = store_pipelines_scan(r->app->aws, r->app->set.state_table, &st, e);
	for (size_t i = 0; i < st.n; i++) {
		struct store_spec_code c;
		if (st.v[i].status == STORE_DELETED ||
		    store_spec_code_parse(st.v[i].spec, &c, NULL) < 0)
			continue;
		size_t before = r->nt;
		if (c.bucket && c.key && strcmp(c.bucket, r->bucket) == 0 && strcmp(c.key, r->key) == 0)
			add_target(r, st.v[i].name, -1);
		if (r->nt > before)
			r->t[before].reference = c.reference;
		store_spec_code_free(&c);
	}
	store_pipelines_free(&st);
	if (rc < 0 || !r->nt)
		return rc;
	if ((rc = observe(r, 1, e)) < 0)
		return rc;
	for (size_t i = 0; i < r->nt; i++)
		if (!r->t[i].seen)
			skip(r, &r->t[i], "function missing or its Description records another code object");
	drop_targets(r, keep_seen);
	skip_images(r);
	return TP_OK;
}

/* Layer mode put the code in a layer, but each function's own zip holds
 * bootstrap too and the function's code shadows /opt: nothing changed. */
static int layer_mode_removed(tp_err *e)
{
	return tp_errf(e, TP_EINVAL, "LayerModeRemoved",
		       "rollout mode 'layer' was removed: the function's own zip holds bootstrap, which "
		       "shadows the layer's /opt, so a layer rollout changed nothing; use mode code. "
		       "To store the code once, set code_storage = \"reference\" (the default on a "
		       "versioned code bucket): functions then run it from S3 (README, \"Code storage\")");
}

/* Ask the policy for waves; freeze them as r->plan, set each target's wave. */
static int make_plan(struct ro *r, tp_err *e)
{
	cJSON *change = cJSON_CreateObject(), *targets = cJSON_CreateArray();
	cJSON_AddStringToObject(change, "bucket", r->bucket);
	cJSON_AddStringToObject(change, "key", r->key);
	if (r->version)
		cJSON_AddStringToObject(change, "version", r->version);
	cJSON_AddStringToObject(change, "sha256", r->sha);
	if (r->o.mode)
		cJSON_AddStringToObject(change, "mode", r->o.mode);
	for (size_t i = 0; i < r->nt; i++) {
		cJSON *t = cJSON_CreateObject();
		cJSON_AddStringToObject(t, "pipeline", r->t[i].pipeline);
		cJSON_AddStringToObject(t, "function", r->t[i].function);
		cJSON_AddItemToArray(targets, t);
	}
	char *cj = cJSON_PrintUnformatted(change), *tj = cJSON_PrintUnformatted(targets);
	char *ctx = app_policy_ctx(r->app), *wj = NULL;
	cJSON_Delete(change);
	cJSON_Delete(targets);
	int rc = policy_rollout(r->app->policy, cj, tj, ctx, &wj, e);
	free(cj);
	free(tj);
	free(ctx);
	if (rc < 0)
		return rc;
	cJSON *waves = cJSON_Parse(wj);
	free(wj);
	r->plan = cJSON_CreateArray();
	const char *mode = r->o.mode;
	cJSON *w;
	cJSON_ArrayForEach(w, waves) {
		cJSON *names = cJSON_GetObjectItem(w, "targets"), *n;
		cJSON *pw = cJSON_CreateObject(), *pn = cJSON_AddArrayToObject(pw, "targets");
		int idx = cJSON_GetArraySize(r->plan);
		cJSON_ArrayForEach(n, names) {
			for (size_t i = 0; cJSON_IsString(n) && i < r->nt; i++)
				if (r->t[i].wave < 0 && strcmp(r->t[i].pipeline, n->valuestring) == 0) {
					r->t[i].wave = idx; /* the first wave naming it wins */
					cJSON_AddItemToArray(pn, cJSON_CreateString(n->valuestring));
				}
		}
		cJSON *p = cJSON_GetObjectItem(w, "pause_seconds"), *h = cJSON_GetObjectItem(w, "halt_on_failure");
		cJSON_AddNumberToObject(pw, "pause_seconds", cJSON_IsNumber(p) && p->valuedouble > 0 ? p->valuedouble : 0);
		cJSON_AddBoolToObject(pw, "halt_on_failure", !cJSON_IsFalse(h));
		if (!mode && jstr(w, "mode"))
			mode = jstr(w, "mode");
		if (cJSON_GetArraySize(pn))
			cJSON_AddItemToArray(r->plan, pw);
		else
			cJSON_Delete(pw);
	}
	snprintf(r->mode, sizeof r->mode, "code");
	if (mode && strcmp(mode, "layer") == 0)
		rc = layer_mode_removed(e);
	else if (mode && strcmp(mode, "code") != 0)
		rc = tp_errf(e, TP_EPOLICY, "BadMode", "rollout mode '%s' (only code)", mode);
	cJSON_Delete(waves); /* mode points into it */
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < r->nt; i++)
		if (r->t[i].wave < 0)
			skip(r, &r->t[i], "the policy put it in no wave");
	drop_targets(r, keep_planned);
	return TP_OK;
}

/* A resumed rollout's targets come from its frozen plan: read each one's
 * storage mode from its applied spec, so the update keeps it. */
static int note_storage(struct ro *r, tp_err *e)
{
	struct store_pipelines st;
	int rc = store_pipelines_scan(r->app->aws, r->app->set.state_table, &st, e);
	for (size_t i = 0; i < r->nt; i++) {
		const struct store_pipeline *p = store_pipelines_find(&st, r->t[i].pipeline);
		struct store_spec_code c;
		if (p && store_spec_code_parse(p->spec, &c, NULL) == TP_OK) {
			r->t[i].reference = c.reference;
			store_spec_code_free(&c);
		}
	}
	store_pipelines_free(&st);
	return rc;
}

/* Targets from a frozen plan (resume). */
static void targets_from_plan(struct ro *r)
{
	cJSON *w;
	int idx = 0;
	cJSON_ArrayForEach(w, r->plan) {
		cJSON *n;
		cJSON_ArrayForEach(n, cJSON_GetObjectItem(w, "targets"))
			if (cJSON_IsString(n))
				add_target(r, n->valuestring, idx);
		idx++;
	}
}

/* A new generation of the header: this version, this plan, our lease. */
static int create_header(struct ro *r, long old_gen, const cJSON *old_head, tp_err *e)
{
	int exists = old_head != NULL;
	char pk[1300];
	hdr_pk(r, pk, sizeof pk);
	int64_t now = now_s();
	cJSON *in = cJSON_CreateObject(), *item = cJSON_AddObjectToObject(in, "Item");
	cJSON_AddStringToObject(in, "TableName", r->app->set.state_table);
	ddb_put_str(item, "pk", pk);
	ddb_put_str(item, "kind", "rollout");
	ddb_put_str(item, "bucket", r->bucket);
	ddb_put_str(item, "key", r->key);
	ddb_put_str(item, "version", r->version ? r->version : "");
	ddb_put_str(item, "sha256", r->sha);
	ddb_put_long(item, "gen", r->gen);
	ddb_put_str(item, "status", "running");
	ddb_put_str(item, "mode", r->mode);
	/* the plan goes into part items first (rolloutrec.h: 400 KB per item) */
	char *plan = cJSON_PrintUnformatted(r->plan);
	int rc = rolloutrec_write_plan(r->app->aws, r->app->set.state_table, r->id, plan, item, NULL, e);
	free(plan);
	if (rc < 0) {
		cJSON_Delete(in);
		return rc;
	}
	ddb_put_long(item, "wave", 0);
	ddb_put_long(item, "next_at", 0);
	ddb_put_long(item, "targets", (long)r->nt);
	ddb_put_long(item, "started_at", (long)now);
	ddb_put_long(item, "updated_at", (long)now);
	ddb_put_str(item, "holder", r->holder);
	ddb_put_long(item, "lease_until", (long)(now + lease_ttl(r)));
	if (exists) {
		cJSON_AddStringToObject(in, "ConditionExpression", STORE_COND_ROLLOUT_GEN);
		cJSON_AddStringToObject(cJSON_AddObjectToObject(in, "ExpressionAttributeNames"), "#g", "gen");
		ddb_put_long(cJSON_AddObjectToObject(in, "ExpressionAttributeValues"), ":old", old_gen);
	} else {
		cJSON_AddStringToObject(in, "ConditionExpression", STORE_COND_ROLLOUT_NEW);
	}
	cJSON *out = NULL;
	rc = awsj_call(r->app->aws, SVC_DYNAMODB, "PutItem", in, &out, e);
	if (rc == TP_OK && old_head) /* the replaced generation's parts are unused now */
		rolloutrec_drop_plan(r->app->aws, r->app->set.state_table, r->id, old_head,
				     ddb_get_str(item, "plan_sha", NULL));
	cJSON_Delete(in);
	cJSON_Delete(out);
	return rc;
}

/* ---------- one wave ---------- */

/* When to read a busy function again: 1 s apart for the first polls, then
 * 2 s (a long update should not spend the GetFunction budget). */
static int64_t next_poll(const struct target *t, int64_t now)
{
	return now + (t->polls < 3 ? POLL_MS : 2 * POLL_MS);
}

static void prep_update(struct ro *r, struct target *t, struct aws_call *c)
{
	cJSON *in = cJSON_CreateObject();
	cJSON_AddStringToObject(in, "S3Bucket", r->bucket);
	cJSON_AddStringToObject(in, "S3Key", r->key);
	if (r->version)
		cJSON_AddStringToObject(in, "S3ObjectVersion", r->version);
	/* On every update of a REFERENCE function: one without it puts the
	 * function back to COPY (codestore.h). */
	if (t->reference)
		cJSON_AddStringToObject(in, "S3ObjectStorageMode", "REFERENCE");
	/* Lambda refuses a stale revision: an update cannot land twice. */
	if (t->rev[0])
		cJSON_AddStringToObject(in, "RevisionId", t->rev);
	char *path = tp_xasprintf("/2015-03-31/functions/%s/code", t->function);
	awsj_prepare_rest(c, SVC_LAMBDA, "UpdateFunctionCode", "PUT", path, NULL, in);
	free(path);
	c->user = t;
}

/* Take a function configuration (UpdateFunctionCode or GetFunction answer).
 * State and LastUpdateStatus: https://docs.aws.amazon.com/lambda/latest/dg/functions-states.html
 * (no update while State is Pending or LastUpdateStatus InProgress; a
 * function in State Failed is reported, not updated). */
static void note_config(struct ro *r, struct target *t, const cJSON *cfg)
{
	t->seen = 1;
	t->fresh = 1;
	snprintf(t->sha, sizeof t->sha, "%s", jstr(cfg, "CodeSha256") ?: "");
	snprintf(t->rev, sizeof t->rev, "%s", jstr(cfg, "RevisionId") ?: "");
	const char *lu = jstr(cfg, "LastUpdateStatus"), *st = jstr(cfg, "State");
	const char *pt = jstr(cfg, "PackageType");
	t->busy = (lu && strcmp(lu, "InProgress") == 0) || (st && strcmp(st, "Pending") == 0);
	if (pt && strcmp(pt, "Image") == 0) {
		t->image = 1;
		t->status = FS_FAILED;
		t->busy = 0;
		tp_errf(&t->err, TP_EINVAL, "PackageTypeImage",
			"function %s has PackageType Image: rollout deploys zip code only", t->function);
		return;
	}
	if (st && strcmp(st, "Failed") == 0) {
		const char *why = jstr(cfg, "StateReason");
		t->status = FS_FAILED;
		t->busy = 0;
		tp_errf(&t->err, TP_EAWS, jstr(cfg, "StateReasonCode") ?: "FunctionFailed",
			"function %s is in State Failed: %s", t->function, why ? why : "(no reason given)");
		return;
	}
	if (lu && strcmp(lu, "Failed") == 0 && t->acted) {
		const char *why = jstr(cfg, "LastUpdateStatusReason");
		t->status = FS_FAILED;
		t->busy = 0;
		tp_errf(&t->err, TP_EAWS, jstr(cfg, "LastUpdateStatusReasonCode") ?: "FunctionUpdateFailed",
			"%s", why ? why : "Lambda reports the update failed");
		return;
	}
	if (t->busy)
		return;
	if (is_done(r, t)) {
		t->status = FS_DONE;
	} else if (t->acted) {
		t->status = FS_FAILED;
		tp_errf(&t->err, TP_EAWS, "CodeSha256Mismatch",
			"after the update CodeSha256 is %s, expected %s (the object changed meanwhile?)",
			t->sha, r->sha);
	}
}

/* Throttled (429 TooManyRequestsException and kin) after the transport's
 * own retries: the call is requeued, never counted as a failure. */
static int is_throttle(const struct aws_call *c)
{
	return c->rc < 0 && c->status != 0 &&
	       retry_classify(c->status, c->err.code[0] ? c->err.code : NULL, 0) == RETRY_THROTTLE;
}

/* When a throttled call may go again: the server's Retry-After (Lambda
 * sends it with 429, https://docs.aws.amazon.com/lambda/latest/api/API_UpdateFunctionCode.html
 * "TooManyRequestsException ... retryAfterSeconds"), else THROTTLE_MS. */
static int64_t throttle_until(const struct aws_call *c)
{
	char amz[32], std[32];
	int ha = header_value(&c->resp_headers, "x-amz-retry-after", amz, sizeof amz);
	int hs = header_value(&c->resp_headers, "retry-after", std, sizeof std);
	int64_t ms = retry_after_ms(ha ? amz : NULL, hs ? std : NULL);
	if (ms < 0)
		ms = THROTTLE_MS;
	if (ms > 60000)
		ms = 60000;
	return tp_mono_ms() + ms;
}

/* GetFunction (its own 100/s budget, unlike GetFunctionConfiguration,
 * which counts against the 15/s control plane:
 * https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html). */
static void prep_read(struct target *t, struct aws_call *c)
{
	char *path = tp_xasprintf("/2015-03-31/functions/%s", t->function);
	awsj_prepare_rest(c, SVC_LAMBDA, "GetFunction", "GET", path, NULL, NULL);
	free(path);
}

/* A read's answer into t (c consumed). A throttled read leaves the target
 * as it was, with not_before set: the caller reads it again later. */
static void take_read(struct ro *r, struct target *t, struct aws_call *c)
{
	cJSON *out = awsj_result(c);
	if (c->rc == TP_ENOTFOUND) {
		t->status = FS_GONE;
		t->busy = 0;
	} else if (!out && is_throttle(c)) {
		t->fresh = 0;
		t->not_before = throttle_until(c);
	} else if (!out) {
		t->status = FS_FAILED;
		t->busy = 0;
		t->err = c->err;
	} else {
		note_config(r, t, cJSON_GetObjectItem(out, "Configuration"));
	}
	cJSON_Delete(out);
	aws_call_free(c);
}

/* Read each target in ts (their State, LastUpdateStatus, code). */
static void refresh(struct ro *r, struct target **ts, size_t n)
{
	if (!n)
		return;
	struct aws_call *c = tp_xcalloc(n + 1, sizeof *c);
	for (size_t i = 0; i < n; i++)
		prep_read(ts[i], &c[i]);
	aws_call_many(r->app->aws, c, n);
	for (size_t i = 0; i < n; i++)
		take_read(r, ts[i], &c[i]);
	free(c);
}

static int is_code(const struct aws_call *c, const char *code)
{
	return strcmp(c->err.code, code) == 0;
}

/* Send the updates of ts (claimed already), with nrec prepared record
 * writes and the status reads of the next batch's nx targets riding in the
 * first concurrent batch of updates (so DynamoDB and GetFunction hide under
 * the update budget). Each function's State and LastUpdateStatus are read
 * before its update (GetFunction; ridden along by the batch before, else
 * here); a busy one is
 * waited for, a 409 ResourceConflictException (an update in progress) or a
 * 412 stale RevisionId is read again and resent (CONFLICT_ROUNDS at most),
 * a throttled call is requeued after the server's delay. Waiting for the
 * sent updates to finish and the final records come later (settle). */
static int update_batch(struct ro *r, struct target **ts, size_t n, struct aws_call *rec, size_t nrec,
			struct target **nx, size_t nnx, tp_err *e)
{
	struct target **todo = tp_xcalloc(n + 1, sizeof *todo), **rd = tp_xcalloc(n + 1, sizeof *rd);
	struct aws_call *c = tp_xcalloc(n + nrec + nnx + 1, sizeof *c);
	size_t nt = 0;
	for (size_t i = 0; i < n; i++)
		todo[nt++] = ts[i];
	for (size_t i = 0; i < nnx; i++) {
		nx[i]->fresh = 0;
		nx[i]->not_before = 0;
	}
	int rc = TP_OK, rode = 0;
	while (nt || !rode) {
		int64_t now = tp_mono_ms();
		/* 1. read what is due and not freshly read */
		size_t nr = 0;
		for (size_t i = 0; i < nt; i++)
			if (!todo[i]->fresh && todo[i]->not_before <= now)
				rd[nr++] = todo[i];
		refresh(r, rd, nr);
		/* 2. drop what is settled; wait for busy ones; send the ready ones */
		size_t k = 0, nu = 0;
		now = tp_mono_ms();
		for (size_t i = 0; i < nt; i++) {
			struct target *t = todo[i];
			if (t->status != FS_UPDATING)
				continue; /* done, failed or gone */
			if (t->fresh && t->busy) {
				if (++t->polls > WAIT_ROUNDS) {
					t->status = FS_FAILED;
					tp_errf(&t->err, TP_EIO, "FunctionBusyTimeout",
						"State Pending or LastUpdateStatus InProgress through %d polls", WAIT_ROUNDS);
					continue;
				}
				t->fresh = 0;
				t->not_before = next_poll(t, now);
			}
			todo[k++] = t;
			if (t->fresh && t->not_before <= now)
				prep_update(r, t, &c[nu++]);
		}
		nt = k;
		size_t extra = 0;
		if (!rode) {
			/* the records (claims of the next batch: never an update before
			 * its claim) and the next batch's reads go with these updates */
			memcpy(c + nu, rec, nrec * sizeof *c);
			for (size_t i = 0; i < nnx; i++)
				prep_read(nx[i], &c[nu + nrec + i]);
			extra = nrec + nnx;
			rode = 1;
		}
		if (nu + extra)
			aws_call_many(r->app->aws, c, nu + extra);
		if (extra) {
			for (size_t i = 0; i < nnx; i++)
				take_read(r, nx[i], &c[nu + nrec + i]);
			if (nrec)
				rc = check_records(r, c + nu, nrec, e);
		}
		now = tp_mono_ms();
		for (size_t i = 0; i < nu; i++) {
			struct target *t = c[i].user;
			cJSON *out = awsj_result(&c[i]);
			if (out) {
				r->updates++;
				t->acted = 1;
				t->polls = 0;
				t->not_before = tp_mono_ms() + FIRST_POLL_MS;
				note_config(r, t, out);
			} else if (c[i].rc == TP_ENOTFOUND) {
				tp_err why = c[i].err;
				refresh(r, &t, 1);
				if (t->status != FS_GONE) {
					t->status = FS_FAILED;
					t->err = why;
				}
			} else if (is_throttle(&c[i])) {
				t->not_before = throttle_until(&c[i]); /* slows the rollout, never fails it */
			} else if ((is_code(&c[i], "ResourceConflictException") ||
				    is_code(&c[i], "PreconditionFailedException")) && t->rounds < CONFLICT_ROUNDS) {
				/* 409: an update in progress (ours landed, or someone else's);
				 * 412: changed since we read it. Read again, then resend. */
				t->rounds++;
				t->fresh = 0;
				t->not_before = is_code(&c[i], "ResourceConflictException") ? now + POLL_MS : now;
			} else {
				t->status = FS_FAILED;
				t->err = c[i].err;
				if (t->rounds >= CONFLICT_ROUNDS)
					tp_errf(&t->err, TP_ECONFLICT, c[i].err.code, "still in conflict after %d resends: %s",
						CONFLICT_ROUNDS, c[i].err.message);
			}
			cJSON_Delete(out);
			aws_call_free(&c[i]);
		}
		/* 3. keep what is still to send; sent ones wait in settle */
		k = 0;
		for (size_t i = 0; i < nt; i++)
			if (todo[i]->status == FS_UPDATING && !todo[i]->acted)
				todo[k++] = todo[i];
		nt = k;
		if (!nt || rc < 0)
			break;
		if (deadline_near(r, 0)) {
			r->status = "paused"; /* the rest is claimed; resume reads and sends it */
			break;
		}
		int64_t wake = INT64_MAX;
		for (size_t i = 0; i < nt; i++)
			if (todo[i]->not_before < wake)
				wake = todo[i]->not_before;
		now = tp_mono_ms();
		if (wake > now)
			tp_sleep_ms(wake - now);
	}
	free(c);
	free(rd);
	free(todo);
	return rc;
}

/* Wait until Lambda finished applying each update in ts (GetFunction while
 * LastUpdateStatus is InProgress); settle the rest. */
static void settle(struct ro *r, struct target **ts, size_t n)
{
	struct target **busy = tp_xcalloc(n + 1, sizeof *busy);
	for (;;) {
		size_t nb = 0;
		int64_t now = tp_mono_ms(), wake = INT64_MAX;
		for (size_t i = 0; i < n; i++) {
			struct target *t = ts[i];
			if (!t->acted || t->status != FS_UPDATING || !t->busy)
				continue;
			if (t->polls >= WAIT_ROUNDS)
				continue;
			if (t->not_before <= now)
				busy[nb++] = t;
			else if (t->not_before < wake)
				wake = t->not_before;
		}
		if (!nb && wake == INT64_MAX)
			break;
		if (!nb) {
			tp_sleep_ms(wake - now);
			continue;
		}
		for (size_t i = 0; i < nb; i++) {
			busy[i]->polls++;
			busy[i]->not_before = next_poll(busy[i], now);
		}
		refresh(r, busy, nb);
	}
	free(busy);
	for (size_t i = 0; i < n; i++) {
		struct target *t = ts[i];
		if (t->status != FS_UPDATING || !t->acted)
			continue;
		t->status = FS_FAILED;
		if (t->busy)
			tp_errf(&t->err, TP_EIO, "FunctionUpdateTimeout", "still InProgress after %d polls",
				WAIT_ROUNDS);
		else
			tp_errf(&t->err, TP_EIO, "FunctionNotUpdated", "not updated (CodeSha256 %s)", t->sha);
	}
}

/* Functions per batch: up to 15 s of the Lambda budget and a third of the
 * lease, so the lease is renewed and the deadline checked in time; larger
 * batches leave fewer gaps in the update rate. */
static size_t batch_size(const struct ro *r)
{
	double rps = r->app->set.lambda_rps, secs = lease_ttl(r) / 3.0;
	if (secs > 15)
		secs = 15;
	if (rps <= 0)
		return 64;
	size_t n = (size_t)(rps * secs);
	return n ? n : 1;
}

static size_t first_batch(const struct ro *r)
{
	double rps = r->app->set.lambda_rps;
	return rps <= 0 ? 16 : rps < 1 ? 1 : (size_t)rps;
}

/* Run wave w; r->status is set when the rollout must stop. */
/* The policy's verdict on a wave whose updates all succeeded. An unhealthy
 * wave halts the rollout (unless its halt_on_failure is false); a policy
 * that fails halts it too, since its verdict is unknown. */
static int health_gate(struct ro *r, int w, const cJSON *wave, int halt, tp_err *e)
{
	cJSON *wv = cJSON_Duplicate(wave, 1), *results = cJSON_CreateArray();
	cJSON_AddNumberToObject(wv, "index", w);
	for (size_t i = 0; i < r->nt; i++) {
		struct target *t = &r->t[i];
		if (t->wave != w)
			continue;
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "pipeline", t->pipeline);
		cJSON_AddStringToObject(o, "function", t->function);
		cJSON_AddStringToObject(o, "status", fs_names[t->status]);
		cJSON_AddStringToObject(o, "code_sha256", t->sha);
		cJSON_AddItemToArray(results, o);
	}
	char *wj = cJSON_PrintUnformatted(wv), *rj = cJSON_PrintUnformatted(results);
	char *ctx = app_policy_ctx(r->app), why[512];
	int healthy = 1;
	tp_err pe = { 0 };
	int rc = policy_rollout_health(r->app->policy, wj, rj, ctx, &healthy, why, sizeof why, &pe);
	free(wj);
	free(rj);
	free(ctx);
	cJSON_Delete(wv);
	cJSON_Delete(results);
	if (rc < 0) {
		r->fail = pe;
		r->status = "halted";
		*e = pe;
		return rc;
	}
	if (healthy)
		return TP_OK;
	log_warn("rollout %s: wave %d unhealthy: %s", r->id, w + 1, why);
	if (!halt)
		return TP_OK;
	tp_errf(&r->fail, TP_EPOLICY, "HealthCheckFailed", "wave %d: %s", w + 1, why);
	r->status = "halted";
	*e = r->fail;
	return TP_EPOLICY;
}

static int run_wave(struct ro *r, int w, const cJSON *wave, tp_err *e)
{
	struct target **todo = tp_xcalloc(r->nt + 1, sizeof *todo), **done = tp_xcalloc(r->nt + 1, sizeof *done);
	size_t nt = 0, nd = 0;
	for (size_t i = 0; i < r->nt; i++) {
		struct target *t = &r->t[i];
		if (t->wave != w)
			continue;
		if (!t->seen) {
			t->status = FS_GONE;
			done[nd++] = t;
		} else if (is_done(r, t)) {
			t->status = FS_DONE;
			r->already++;
			done[nd++] = t;
		} else {
			todo[nt++] = t;
		}
	}
	/* Batches are pipelined: batch k's updates go out together with the
	 * final records of batch k-1 and the claims (updating) of batch k+1, so
	 * DynamoDB work hides under the Lambda budget. A batch is always
	 * claimed before its updates are sent. Batches start at one second of
	 * budget and double, so the first claim, the only one waited for, is small. */
	size_t bs = batch_size(r), sent = 0, prev = 0, prev_n = 0;
	size_t n = bs < first_batch(r) ? bs : first_batch(r);
	if (n > nt)
		n = nt;
	for (size_t i = 0; i < n; i++)
		todo[i]->status = FS_UPDATING;
	int rc = write_fn_records(r, done, nd, 0, e);
	if (rc == TP_OK)
		rc = write_fn_records(r, todo, n, 1, e);
	struct aws_call *rec = tp_xcalloc(2 * bs + 1, sizeof *rec);
	for (size_t i = 0; rc == TP_OK && i < nt; i += n) {
		if (i)
			n = n * 2 < bs ? n * 2 : bs;
		if (n > nt - i)
			n = nt - i;
		if (deadline_near(r, 0)) {
			r->status = "paused";
			break;
		}
		if ((rc = hdr_write(r, HDR_BEAT, "running", e)) < 0)
			break;
		prep_records(r, todo + prev, prev_n, 0, rec);
		size_t nn = n * 2 < bs ? n * 2 : bs;
		if (nn > nt - i - n)
			nn = nt - i - n;
		for (size_t k = 0; k < nn; k++)
			todo[i + n + k]->status = FS_UPDATING;
		prep_records(r, todo + i + n, nn, 1, rec + prev_n);
		rc = update_batch(r, todo + i, n, rec, prev_n + nn, todo + i + n, nn, e);
		prev = i;
		prev_n = n;
		sent = i + n;
	}
	free(rec);
	if (sent) {
		settle(r, todo, sent);
		/* the last batch's records, and any an InProgress wait settled late */
		size_t nc = 0;
		for (size_t k = 0; k < sent; k++)
			if (todo[k]->recorded != todo[k]->status)
				done[nc++] = todo[k];
		tp_err we = { 0 };
		int wrc = write_fn_records(r, done, nc, 0, &we);
		if (rc == TP_OK && wrc < 0) {
			rc = wrc;
			*e = we;
		}
	}
	if (rc == TP_ECONFLICT && !r->status)
		r->status = "superseded";
	long failed = 0;
	for (size_t i = 0; i < r->nt; i++) {
		struct target *t = &r->t[i];
		if (t->wave != w)
			continue;
		if (t->status == FS_GONE)
			r->gone++;
		if (t->status == FS_FAILED) {
			failed++;
			if (!r->fail.code[0]) {
				r->fail = t->err;
				snprintf(r->fail_fn, sizeof r->fail_fn, "%s", t->function);
			}
		}
	}
	r->failed += failed;
	free(todo);
	free(done);
	if (rc < 0 || r->status)
		return rc;
	/* Health gate: every update of the wave succeeded, then the policy's
	 * rollout_health(wave, results, ctx) when it has one. */
	int halt = !cJSON_IsFalse(cJSON_GetObjectItem(wave, "halt_on_failure"));
	if (failed && halt) {
		r->status = "halted";
		return tp_errf(e, TP_EAWS, r->fail.code, "wave %d: function %s: %s", w + 1, r->fail_fn,
			       r->fail.message);
	}
	if (!failed)
		return health_gate(r, w, wave, halt, e);
	return TP_OK;
}

/* Wait out a pause, keeping the lease; stop (paused) when the deadline is nearer. */
static int pause_until(struct ro *r, tp_err *e)
{
	int64_t ttl = lease_ttl(r);
	while (now_s() < r->next_at) {
		int64_t left = (r->next_at - now_s()) * 1000;
		if (deadline_near(r, left)) {
			r->status = "paused";
			return TP_OK;
		}
		int64_t step = left < ttl * 1000 / 3 ? left : ttl * 1000 / 3;
		tp_sleep_ms(step > 0 ? step : 1);
		int rc = hdr_write(r, HDR_BEAT, "running", e);
		if (rc < 0)
			return rc;
	}
	return TP_OK;
}

/* ---------- the run ---------- */

static void ro_free(struct ro *r)
{
	for (size_t i = 0; i < r->nt; i++)
		free(r->t[i].pipeline);
	free(r->t);
	free(r->version);
	cJSON_Delete(r->plan);
	cJSON_Delete(r->skipped);
}

static long stat_of(const struct app *app, const char *key)
{
	const struct aws_stat *st;
	size_t n = aws_stats(app->aws, &st);
	long v = 0;
	for (size_t i = 0; i < n; i++)
		if (strcmp(st[i].key, key) == 0)
			v += st[i].requests;
	return v;
}

static long update_calls(const struct app *app)
{
	return stat_of(app, "lambda:UpdateFunctionCode") + stat_of(app, "lambda:UpdateFunctionConfiguration");
}

static char *outcome_json(struct ro *r)
{
	cJSON *o = cJSON_CreateObject();
	char *uri = tp_xasprintf("s3://%s%s%s", r->id, r->version ? "#" : "", r->version ? r->version : "");
	cJSON_AddStringToObject(o, "rollout", uri);
	free(uri);
	cJSON_AddStringToObject(o, "status", r->status ? r->status : "error");
	cJSON_AddStringToObject(o, "sha256", r->sha);
	cJSON_AddNumberToObject(o, "gen", (double)r->gen);
	cJSON_AddStringToObject(o, "mode", "code");
	cJSON_AddNumberToObject(o, "object_bytes", (double)r->object_bytes);
	cJSON_AddNumberToObject(o, "targets", (double)r->nt);
	cJSON_AddNumberToObject(o, "waves", (double)cJSON_GetArraySize(r->plan));
	cJSON_AddNumberToObject(o, "next_wave", r->wave);
	cJSON_AddNumberToObject(o, "updated", (double)r->updates);
	cJSON_AddNumberToObject(o, "already_current", (double)r->already);
	cJSON_AddNumberToObject(o, "failed", (double)r->failed);
	cJSON_AddNumberToObject(o, "gone", (double)r->gone);
	if (r->fail.code[0]) {
		cJSON *f = cJSON_AddObjectToObject(o, "failure");
		cJSON_AddStringToObject(f, "function", r->fail_fn);
		for (size_t i = 0; i < r->nt; i++)
			if (strcmp(r->t[i].function, r->fail_fn) == 0)
				cJSON_AddStringToObject(f, "pipeline", r->t[i].pipeline);
		cJSON_AddStringToObject(f, "code", r->fail.code);
		cJSON_AddStringToObject(f, "message", r->fail.message);
	}
	/* Every function that failed (a State Failed function, an update Lambda
	 * refused), not only the first: a wave without halt_on_failure goes on. */
	cJSON *fl = NULL;
	for (size_t i = 0; i < r->nt; i++) {
		struct target *t = &r->t[i];
		if (t->status != FS_FAILED)
			continue;
		if (!fl)
			fl = cJSON_AddArrayToObject(o, "failures");
		cJSON *f = cJSON_CreateObject();
		cJSON_AddStringToObject(f, "function", t->function);
		cJSON_AddStringToObject(f, "pipeline", t->pipeline);
		cJSON_AddStringToObject(f, "code", t->err.code);
		cJSON_AddStringToObject(f, "message", t->err.message);
		cJSON_AddItemToArray(fl, f);
	}
	if (r->skipped && cJSON_GetArraySize(r->skipped))
		cJSON_AddItemToObject(o, "skipped", cJSON_Duplicate(r->skipped, 1));
	cJSON *calls = cJSON_AddObjectToObject(o, "calls");
	cJSON_AddNumberToObject(calls, "lambda", (double)(aws_stats_lambda(r->app->aws) - r->lambda0));
	cJSON_AddNumberToObject(calls, "updates", (double)(update_calls(r->app) - r->update_calls0));
	cJSON_AddNumberToObject(calls, "list_functions",
				(double)(stat_of(r->app, "lambda:ListFunctions") - r->list0));
	cJSON_AddNumberToObject(calls, "get_function",
				(double)(stat_of(r->app, "lambda:GetFunction") - r->get0));
	char *s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}

/* Start, resume or supersede (see rollout.h). */
static int run(struct ro *r, const char *want_version, tp_err *e)
{
	int rc = fetch_object(r, want_version, e);
	if (rc < 0 || r->status)
		return rc;
	cJSON *h = NULL;
	for (int attempt = 0; attempt < 3; attempt++) {
		cJSON_Delete(h);
		h = NULL;
		if ((rc = get_header(r, &h, e)) < 0)
			return rc;
		const char *hv = ddb_get_str(h, "version", NULL), *hs = ddb_get_str(h, "sha256", "");
		const char *st = ddb_get_str(h, "status", "");
		long hg = ddb_get_long(h, "gen", 0);
		int same = h && hv && strcmp(hv, r->version ? r->version : "") == 0 && strcmp(hs, r->sha) == 0;
		if (same) {
			r->gen = hg;
			snprintf(r->mode, sizeof r->mode, "%s", ddb_get_str(h, "mode", "code"));
			char *pj = NULL;
			if ((rc = rolloutrec_read_plan(r->app->aws, r->app->set.state_table, r->id, h, &pj, e)) < 0)
				break;
			r->plan = cJSON_Parse(pj);
			free(pj);
			if (!r->plan) {
				rc = tp_errf(e, TP_EINVAL, "RolloutPlanDamaged", "rollout %s: the plan is not JSON", r->id);
				break;
			}
			r->wave = (int)ddb_get_long(h, "wave", 0);
			r->next_at = ddb_get_long(h, "next_at", 0);
			if (strcmp(st, "done") == 0) {
				r->status = "done"; /* nothing left: not even a status read */
				r->wave = cJSON_GetArraySize(r->plan);
				break;
			}
			if ((rc = hdr_write(r, HDR_ACQUIRE, "running", e)) < 0)
				break;
			if (strcmp(r->mode, "layer") == 0) {
				/* a layer rollout from before the removal: nothing to resume */
				rc = layer_mode_removed(e);
				r->status = "halted";
				r->fail = *e;
				break;
			}
			targets_from_plan(r);
			if ((rc = note_storage(r, e)) == TP_OK && (rc = observe(r, 0, e)) == TP_OK)
				skip_images(r);
			break;
		}
		/* A new version (or none yet): plan it and take over. */
		r->gen = hg + 1;
		if (!r->nt && (rc = find_targets(r, e)) < 0)
			break;
		if (!r->plan && (rc = make_plan(r, e)) < 0)
			break;
		rc = create_header(r, hg, h, e);
		if (rc == TP_OK || !cond_failed(e))
			break;
		tp_err_clear(e); /* someone wrote it meanwhile: look again */
	}
	cJSON_Delete(h);
	if (rc < 0 || r->status)
		return rc;
	if (!r->nt) {
		r->status = "no-targets";
		r->wave = cJSON_GetArraySize(r->plan);
		return hdr_write(r, HDR_RELEASE, "done", e);
	}
	int nw = cJSON_GetArraySize(r->plan);
	while (r->wave < nw) {
		if ((rc = pause_until(r, e)) < 0 || r->status)
			goto out;
		const cJSON *wave = cJSON_GetArrayItem(r->plan, r->wave);
		rc = run_wave(r, r->wave, wave, e);
		if (rc < 0 || r->status)
			goto out;
		cJSON *p = cJSON_GetObjectItem(wave, "pause_seconds");
		r->wave++;
		/* Rounded up to the next whole second (next_at is stored in
		 * seconds): rounding down cut up to 1 s off the pause. */
		int64_t pause_ms = cJSON_IsNumber(p) && r->wave < nw ? (int64_t)(p->valuedouble * 1000) : 0;
		r->next_at = pause_ms > 0 ? (tp_now_ms() + pause_ms + 999) / 1000 : now_s();
		if ((rc = hdr_write(r, HDR_BEAT, "running", e)) < 0)
			goto out;
	}
	/* Verify: a runner we superseded may have landed an older update late. */
	if ((rc = observe(r, 0, e)) < 0)
		goto out;
	skip_images(r);
	int stray = 0;
	for (size_t i = 0; i < r->nt; i++)
		if (r->t[i].seen && r->t[i].status != FS_FAILED && !is_done(r, &r->t[i]))
			r->t[i].wave = nw, stray = 1;
	if (stray) {
		cJSON *last = cJSON_CreateObject();
		rc = run_wave(r, nw, last, e);
		cJSON_Delete(last);
		for (size_t i = 0; i < r->nt; i++)
			if (r->t[i].wave == nw)
				r->t[i].wave = nw - 1;
		if (rc < 0 || r->status)
			goto out;
	}
	r->status = "done";
out:
	if (r->status && strcmp(r->status, "superseded") != 0 && strcmp(r->status, "busy") != 0) {
		tp_err he = { 0 };
		const char *db = strcmp(r->status, "done") == 0 ? "done" :
				 strcmp(r->status, "halted") == 0 ? "halted" : "running";
		if (hdr_write(r, HDR_RELEASE, db, &he) < 0 && rc == TP_OK) {
			rc = he.rc;
			*e = he;
		}
	}
	return rc;
}

int rollout_run(struct app *app, const char *bucket, const char *key, const char *version,
		const struct rollout_opts *o, char **json_out, tp_err *e)
{
	if (json_out)
		*json_out = NULL;
	struct ro r = { .app = app, .bucket = bucket, .key = key };
	if (o)
		r.o = *o;
	snprintf(r.id, sizeof r.id, "%s/%s", bucket, key);
	if (r.o.mode && strcmp(r.o.mode, "code") != 0) {
		tp_err me = { 0 };
		if (strcmp(r.o.mode, "layer") == 0)
			layer_mode_removed(&me);
		else
			tp_errf(&me, TP_EINVAL, "BadMode", "rollout mode '%s' (only code)", r.o.mode);
		if (e)
			*e = me;
		return me.rc;
	}
	char tag[32];
	snprintf(tag, sizeof tag, "rollout-%lld", (long long)tp_now_ms());
	char host[128] = "host";
	gethostname(host, sizeof host - 1);
	host[sizeof host - 1] = 0;
	snprintf(r.holder, sizeof r.holder, "%s:%ld:%s", host, (long)getpid(), tag);
	r.skipped = cJSON_CreateArray();
	r.lambda0 = aws_stats_lambda(app->aws);
	r.update_calls0 = update_calls(app);
	r.list0 = stat_of(app, "lambda:ListFunctions");
	r.get0 = stat_of(app, "lambda:GetFunction");
	tp_err err = { 0 };
	int rc = run(&r, version, &err);
	if (rc < 0 && !r.status)
		r.status = "error";
	if (rc < 0 && (strcmp(r.status, "superseded") == 0 || strcmp(r.status, "busy") == 0))
		rc = TP_OK; /* not a failure of this rollout: the newer one (or the other runner) goes on */
	if (rc < 0 && !r.fail.code[0])
		r.fail = err;
	if (rc < 0 && e)
		*e = err;
	log_info("rollout s3://%s: %s (%ld updated, %ld already current, %ld failed)", r.id, r.status,
		 r.updates, r.already, r.failed);
	if (json_out)
		*json_out = outcome_json(&r);
	ro_free(&r);
	return rc;
}

int rollout_resume(struct app *app, const char *bucket, const char *key, const struct rollout_opts *o,
		   char **json_out, tp_err *e)
{
	*json_out = NULL;
	cJSON *items = cJSON_CreateArray(), *it, *outs = cJSON_CreateArray();
	int rc = scan_prefix(app, STORE_PREFIX_ROLLOUT, items, e), first = TP_OK;
	if (rc < 0)
		cJSON_DeleteItemFromArray(items, 0); /* nothing scanned; loop below sees [] */
	cJSON_ArrayForEach(it, items) {
		const char *b = ddb_get_str(it, "bucket", NULL), *k = ddb_get_str(it, "key", NULL);
		const char *st = ddb_get_str(it, "status", "");
		const char *v = ddb_get_str(it, "version", "");
		if (!b || !k || strcmp(ddb_get_str(it, "kind", ""), "rollout") != 0)
			continue;
		int named = bucket && key && strcmp(b, bucket) == 0 && strcmp(k, key) == 0;
		if ((bucket && !named) || strcmp(st, "done") == 0 || (strcmp(st, "halted") == 0 && !named))
			continue;
		char *one = NULL;
		tp_err oe = { 0 };
		int orc = rollout_run(app, b, k, v[0] ? v : NULL, o, &one, &oe);
		if (orc < 0 && first == TP_OK) {
			first = orc;
			if (e)
				*e = oe;
		}
		cJSON *j = one ? cJSON_Parse(one) : NULL;
		if (j)
			cJSON_AddItemToArray(outs, j);
		free(one);
	}
	cJSON_Delete(items);
	*json_out = cJSON_PrintUnformatted(outs);
	cJSON_Delete(outs);
	return rc < 0 ? rc : first;
}

int rollout_on_upload_until(struct app *app, const char *bucket, const char *key, const char *version,
			    int64_t deadline_ms, char **json_out, tp_err *e)
{
	struct rollout_opts o = { .deadline_ms = deadline_ms, .from_event = 1 };
	return rollout_run(app, bucket, key, version, &o, json_out, e);
}

int rollout_on_upload(struct app *app, const char *bucket, const char *key, const char *version,
		      char **json_out, tp_err *e)
{
	return rollout_on_upload_until(app, bucket, key, version, 0, json_out, e);
}

/* ---------- status ---------- */

/* rollout-fn records ordered by (rollout, function). */
static int cmp_fn_record(const void *a, const void *b)
{
	const cJSON *x = *(cJSON *const *)a, *y = *(cJSON *const *)b;
	int c = strcmp(ddb_get_str(x, "rollout", ""), ddb_get_str(y, "rollout", ""));
	return c ? c : strcmp(ddb_get_str(x, "function", ""), ddb_get_str(y, "function", ""));
}

int rollout_status(struct app *app, char **json_out, tp_err *e)
{
	*json_out = NULL;
	cJSON *items = cJSON_CreateArray();
	int rc = scan_prefix(app, "rollout", items, e);
	if (rc < 0) {
		cJSON_Delete(items);
		return rc;
	}
	cJSON *out = cJSON_CreateArray(), *h;
	size_t nfns = 0;
	cJSON **fns_idx = tp_xcalloc((size_t)cJSON_GetArraySize(items) + 1, sizeof *fns_idx);
	cJSON_ArrayForEach(h, items)
		if (strcmp(ddb_get_str(h, "kind", ""), "rollout-fn") == 0)
			fns_idx[nfns++] = h;
	qsort(fns_idx, nfns, sizeof *fns_idx, cmp_fn_record);
	cJSON_ArrayForEach(h, items) {
		if (strcmp(ddb_get_str(h, "kind", ""), "rollout") != 0)
			continue;
		const char *b = ddb_get_str(h, "bucket", ""), *k = ddb_get_str(h, "key", "");
		const char *v = ddb_get_str(h, "version", "");
		char *id = tp_xasprintf("%s/%s", b, k);
		long gen = ddb_get_long(h, "gen", 0), next = ddb_get_long(h, "wave", 0);
		const char *st = ddb_get_str(h, "status", "");
		cJSON *o = cJSON_CreateObject();
		char *uri = tp_xasprintf("s3://%s%s%s", id, v[0] ? "#" : "", v);
		cJSON_AddStringToObject(o, "rollout", uri);
		free(uri);
		int live = strcmp(st, "running") == 0 && ddb_get_long(h, "lease_until", 0) >= now_s();
		cJSON_AddStringToObject(o, "status", strcmp(st, "running") == 0 && !live ? "paused" : st);
		cJSON_AddStringToObject(o, "sha256", ddb_get_str(h, "sha256", ""));
		cJSON_AddNumberToObject(o, "gen", (double)gen);
		cJSON_AddStringToObject(o, "mode", ddb_get_str(h, "mode", "code"));
		cJSON_AddNumberToObject(o, "next_wave", (double)next);
		cJSON_AddNumberToObject(o, "started_at", (double)ddb_get_long(h, "started_at", 0));
		cJSON_AddNumberToObject(o, "updated_at", (double)ddb_get_long(h, "updated_at", 0));
		if (live)
			cJSON_AddStringToObject(o, "holder", ddb_get_str(h, "holder", ""));
		if (ddb_get_str(h, "error_code", NULL)) {
			cJSON *f = cJSON_AddObjectToObject(o, "failure");
			cJSON_AddStringToObject(f, "function", ddb_get_str(h, "error_function", ""));
			cJSON_AddStringToObject(f, "code", ddb_get_str(h, "error_code", ""));
			cJSON_AddStringToObject(f, "message", ddb_get_str(h, "error_message", ""));
		}
		char *pj = NULL;
		tp_err pe = { 0 };
		if (rolloutrec_read_plan(app->aws, app->set.state_table, id, h, &pj, &pe) < 0) {
			cJSON *f = cJSON_AddObjectToObject(o, "plan_error");
			cJSON_AddStringToObject(f, "code", pe.code);
			cJSON_AddStringToObject(f, "message", pe.message);
		}
		cJSON *plan = cJSON_Parse(pj ? pj : "[]"), *w;
		free(pj);
		cJSON *waves = cJSON_AddArrayToObject(o, "waves");
		int wi = 0;
		cJSON_ArrayForEach(w, plan) {
			cJSON *ow = cJSON_CreateObject(), *fns = cJSON_CreateArray(), *n;
			long counts[5] = { 0 };
			cJSON_ArrayForEach(n, cJSON_GetObjectItem(w, "targets")) {
				struct names nm;
				if (!cJSON_IsString(n) || names_for(app->set.prefix, n->valuestring, &nm, NULL) < 0)
					continue;
				cJSON *f = cJSON_CreateObject();
				const char *fst = "pending";
				cJSON_AddStringToObject(f, "pipeline", n->valuestring);
				cJSON_AddStringToObject(f, "function", nm.function);
				/* by key, not a walk of every item: 50,000 targets */
				cJSON *key = cJSON_CreateObject();
				ddb_put_str(key, "rollout", id);
				ddb_put_str(key, "function", nm.function);
				cJSON **hit = bsearch(&key, fns_idx, nfns, sizeof *fns_idx, cmp_fn_record);
				cJSON_Delete(key);
				cJSON *it = hit ? *hit : NULL;
				if (it && ddb_get_long(it, "gen", 0) == gen) {
					fst = ddb_get_str(it, "status", "pending");
					cJSON_AddNumberToObject(f, "attempts", (double)ddb_get_long(it, "attempts", 0));
					if (ddb_get_str(it, "error_code", NULL)) {
						cJSON_AddStringToObject(f, "error_code", ddb_get_str(it, "error_code", ""));
						cJSON_AddStringToObject(f, "error_message", ddb_get_str(it, "error_message", ""));
					}
				}
				cJSON_AddStringToObject(f, "status", fst);
				for (int s = 0; s < 5; s++)
					if (strcmp(fst, fs_names[s]) == 0)
						counts[s]++;
				cJSON_AddItemToArray(fns, f);
			}
			cJSON_AddNumberToObject(ow, "index", wi + 1);
			cJSON_AddStringToObject(ow, "state", wi < next ? "done" :
					       wi == next && strcmp(st, "running") == 0 ? "running" :
					       wi == next && strcmp(st, "halted") == 0 ? "halted" : "pending");
			cJSON_AddItemToObject(ow, "pause_seconds",
					      cJSON_Duplicate(cJSON_GetObjectItem(w, "pause_seconds"), 1));
			cJSON_AddItemToObject(ow, "halt_on_failure",
					      cJSON_Duplicate(cJSON_GetObjectItem(w, "halt_on_failure"), 1));
			cJSON *c = cJSON_AddObjectToObject(ow, "counts");
			for (int s = 0; s < 5; s++)
				cJSON_AddNumberToObject(c, fs_names[s], (double)counts[s]);
			cJSON_AddItemToObject(ow, "functions", fns);
			cJSON_AddItemToArray(waves, ow);
			wi++;
		}
		cJSON_Delete(plan);
		cJSON_AddItemToArray(out, o);
		free(id);
	}
	free(fns_idx);
	cJSON_Delete(items);
	*json_out = cJSON_PrintUnformatted(out);
	cJSON_Delete(out);
	return TP_OK;
}
