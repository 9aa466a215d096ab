/* rollback.c: putting the functions an unhealthy rollout updated back on
 * the code each ran before, and remembering the version as rejected.
 *
 * A function's previous code is the CodeSha256 it had when this rollout
 * claimed it (prev_sha, kept in memory and in its rollout-fn record). The
 * object version holding it is found among the code object's versions
 * (ListObjectVersions, newest first; each candidate is streamed into
 * SHA-256 like the rollout's own object), so a rollback never guesses: a
 * function whose previous code is in no version is reported, not moved.
 * The updates go through the rollout's own machinery (wave_update_to): the
 * same Lambda budget, RevisionId, conflict and throttle handling. */
#include "core/rollout/ro.h"

#include "aws/awsjson.h"
#include "aws/ddb.h"
#include "base/base64.h"
#include "aws/s3.h"
#include "base/hash.h"
#include "base/log.h"
#include "base/xml.h"
#include "core/store.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_VERSIONS_HASHED 20  /* older versions looked at for previous code */

int rollback_check_rejected(struct ro *r, tp_err *e)
{
	if (!r->version)
		return TP_OK;
	struct store_code c;
	int rc = store_code_get(r->app->aws, r->app->set.state_table, r->bucket, r->key, &c, e);
	if (rc == TP_OK && store_code_is_rejected(&c, r->version))
		rc = tp_errf(e, TP_EPOLICY, "VersionRejected",
			     "s3://%s#%s was rolled back after an unhealthy wave; upload a newer version (pipelines stay on %s)",
			     r->id, r->version, c.good_version ? c.good_version : "their previous code");
	store_code_free(&c);
	return rc;
}

/* ---------- which version holds a CodeSha256 ---------- */

static void sink_begin(void *ctx)
{
	hash_sha256_begin(ctx);
}

static int sink_write(void *ctx, const void *data, size_t len)
{
	hash_sha256_update(ctx, data, len);
	return 0;
}

/* CodeSha256 of bucket/key at version (streamed, never held). */
static int version_sha(struct ro *r, const char *version, char *sha, tp_err *e)
{
	struct hash_sha256_stream hs;
	const struct aws_sink sink = { sink_begin, sink_write, &hs };
	struct aws_call c;
	s3_get_object(&c, r->bucket, r->key, version, &sink);
	aws_call_one(r->app->aws, &c);
	int rc = c.rc;
	if (rc < 0) {
		*e = c.err;
	} else {
		unsigned char d[HASH_SHA256_LEN];
		hash_sha256_end(&hs, d);
		base64_encode(d, sizeof d, sha);
	}
	aws_call_free(&c);
	return rc;
}

struct versions {
	char **id;
	size_t n;
	const char *key;
};

static int take_version(void *ctx, const char *inner, size_t len)
{
	struct versions *v = ctx;
	buf k = { 0 }, id = { 0 };
	if (xml_text(inner, len, "Key", &k) && strcmp(buf_str(&k), v->key) == 0 &&
	    xml_text(inner, len, "VersionId", &id) && strcmp(buf_str(&id), "null") != 0) {
		v->id = tp_xrealloc(v->id, (v->n + 1) * sizeof *v->id);
		v->id[v->n++] = tp_xstrdup(buf_str(&id));
	}
	buf_free(&k);
	buf_free(&id);
	return v->n >= MAX_VERSIONS_HASHED + 1;
}

/* The object's versions, newest first (S3 lists them so), at most
 * MAX_VERSIONS_HASHED + 1 (one page). */
static int list_versions(struct ro *r, struct versions *v, tp_err *e)
{
	struct aws_call c;
	s3_list_object_versions(&c, r->bucket, r->key);
	aws_call_one(r->app->aws, &c);
	int rc = c.rc;
	v->key = r->key;
	if (rc < 0)
		*e = c.err;
	else
		xml_each(c.resp.data, c.resp.len, "Version", take_version, v);
	aws_call_free(&c);
	return rc;
}

/* ---------- the rollback ---------- */

/* prev_sha of targets that lack it (a resumed run) from their records. */
static void read_prev(struct ro *r, struct ro_target **ts, size_t n)
{
	struct aws_call *c = tp_xcalloc(n + 1, sizeof *c);
	struct ro_target **ask = tp_xcalloc(n + 1, sizeof *ask);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (ts[i]->prev_sha[0])
			continue;
		store_rollout_fn_get_prepare(&c[k], r->app->set.state_table, r->id, ts[i]->function);
		ask[k++] = ts[i];
	}
	aws_call_many(r->app->aws, c, k);
	for (size_t i = 0; i < k; i++) {
		cJSON *out = awsj_result(&c[i]), *item = cJSON_GetObjectItem(out, "Item");
		if (item && ddb_get_long(item, "gen", 0) == r->gen)
			snprintf(ask[i]->prev_sha, sizeof ask[i]->prev_sha, "%s", ddb_get_str(item, "prev_sha", ""));
		cJSON_Delete(out);
		aws_call_free(&c[i]);
	}
	free(ask);
	free(c);
}

struct code_version {
	char sha[64];
	char *version;                  /* owned; NULL: not found */
};

static void fail_target(struct ro_target *t, const char *code, const char *msg)
{
	t->status = RFN_FAILED;
	tp_errf(&t->err, TP_ENOTFOUND, code, "%s", msg);
}

int rollback_run(struct ro *r, int w, tp_err *e)
{
	long lambda0 = aws_stats_lambda(r->app->aws), updates0 = r->updates;
	r->rb.done = 1;
	/* The rejection first: a runner killed while putting functions back
	 * leaves it recorded, so the next run finishes the rollback
	 * (rollback_finish) instead of rolling the version out again. */
	tp_err je = { 0 };
	if (r->version && store_code_reject(r->app->aws, r->app->set.state_table, r->bucket, r->key, r->version,
					    NULL, NULL, &je) < 0)
		log_warn("rollout %s: cannot record %s as rejected yet: %s", r->id, r->version, je.message);
	int rc = wave_observe(r, 0, e); /* where each function is now */
	if (rc < 0) /* nothing can be put back blind; the version stays rejected */
		return rc;
	struct ro_target **ts = tp_xcalloc(r->ts.n + 1, sizeof *ts);
	size_t n = 0;
	for (size_t i = 0; i < r->ts.n; i++) {
		struct ro_target *t = &r->ts.t[i];
		if (t->wave >= 0 && t->wave <= w && t->seen && plan_is_done(t, r->sha))
			ts[n++] = t;
	}
	read_prev(r, ts, n);
	/* the distinct previous codes and the versions holding them */
	struct code_version *cv = tp_xcalloc(n + 1, sizeof *cv);
	size_t ncv = 0, unresolved = 0;
	for (size_t i = 0; i < n; i++) {
		if (!ts[i]->prev_sha[0] || strcmp(ts[i]->prev_sha, r->sha) == 0)
			continue;
		size_t j = 0;
		while (j < ncv && strcmp(cv[j].sha, ts[i]->prev_sha) != 0)
			j++;
		if (j == ncv) {
			snprintf(cv[ncv++].sha, sizeof cv->sha, "%s", ts[i]->prev_sha);
			unresolved++;
		}
	}
	struct versions vs = { 0 };
	tp_err le = { 0 };
	if (ncv && r->version && list_versions(r, &vs, &le) < 0)
		log_warn("rollout %s: rollback: ListObjectVersions: %s: %s", r->id, le.code, le.message);
	size_t hashed = 0;
	for (size_t i = 0; i < vs.n && unresolved && hashed < MAX_VERSIONS_HASHED; i++) {
		if (strcmp(vs.id[i], r->version) == 0)
			continue;
		char sha[64];
		tp_err he = { 0 };
		hashed++;
		if (version_sha(r, vs.id[i], sha, &he) < 0)
			continue;
		for (size_t j = 0; j < ncv; j++)
			if (!cv[j].version && strcmp(cv[j].sha, sha) == 0) {
				cv[j].version = tp_xstrdup(vs.id[i]);
				unresolved--;
			}
	}
	for (size_t i = 0; i < vs.n; i++)
		free(vs.id[i]);
	free(vs.id);
	/* put each group back */
	struct ro_target **grp = tp_xcalloc(n + 1, sizeof *grp);
	r->rb.functions = (long)n;
	for (size_t i = 0; i < n; i++) {
		if (!ts[i]->prev_sha[0]) {
			fail_target(ts[i], "PreviousCodeUnknown",
				    "no record of the code this function ran before the rollout");
		} else if (strcmp(ts[i]->prev_sha, r->sha) == 0) {
			fail_target(ts[i], "PreviousCodeSame", "this function ran the rolled-out code before");
		}
	}
	for (size_t j = 0; j < ncv && rc == TP_OK; j++) {
		size_t k = 0;
		for (size_t i = 0; i < n; i++)
			if (ts[i]->prev_sha[0] && strcmp(ts[i]->prev_sha, cv[j].sha) == 0)
				grp[k++] = ts[i];
		if (!cv[j].version) {
			char msg[400];
			snprintf(msg, sizeof msg, "no version of s3://%.180s%s holds its previous code %.60s", r->id,
				 r->version ? "" : " (the bucket is not versioned)", cv[j].sha);
			for (size_t i = 0; i < k; i++)
				fail_target(grp[i], "PreviousCodeGone", msg);
			continue;
		}
		if (!r->rb.to_version[0])
			snprintf(r->rb.to_version, sizeof r->rb.to_version, "%s", cv[j].version);
		rc = wave_update_to(r, grp, k, cv[j].version, cv[j].sha, e);
		for (size_t i = 0; i < k; i++)
			if (grp[i]->status == RFN_DONE)
				grp[i]->status = RFN_ROLLED_BACK;
	}
	for (size_t i = 0; i < n; i++) {
		if (ts[i]->status == RFN_ROLLED_BACK)
			r->rb.rolled_back++;
		else
			r->rb.failed++;
	}
	r->rb.updates = r->updates - updates0;
	r->updates = updates0; /* "updated" counts the rollout's own updates */
	tp_err we = { 0 };
	if (wave_write_records(r, ts, n, &we) < 0 && rc == TP_OK) {
		rc = we.rc;
		*e = we;
	}
	/* the version is rejected (again: now with the good one): apply, drift
	 * --fix and new pipelines keep the last good one */
	const char *good = ncv && cv[0].version ? cv[0].version : NULL;
	if (r->version && (rc = store_code_reject(r->app->aws, r->app->set.state_table, r->bucket, r->key,
						  r->version, good, good ? cv[0].sha : NULL, &we)) < 0)
		*e = we;
	r->rb.lambda_calls = aws_stats_lambda(r->app->aws) - lambda0;
	log_warn("rollout %s: rolled back %ld of %ld functions to %s (%ld Lambda calls)", r->id, r->rb.rolled_back,
		 r->rb.functions, r->rb.to_version[0] ? r->rb.to_version : "(none)", r->rb.lambda_calls);
	for (size_t j = 0; j < ncv; j++)
		free(cv[j].version);
	free(cv);
	free(grp);
	free(ts);
	return rc;
}
