/* watch.c: the config table's stream follower (see watch.h). */
#include "runtime/watch.h"

#include "aws/awsjson.h"
#include "base/log.h"
#include "core/store.h"
#include "runtime/ctl_metrics.h"
#include "runtime/events.h"

#include <cjson/cJSON.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GET_RECORDS_LIMIT 1000
#define REDISCOVER_MS 30000
#define MAX_BACKOFF_MS 30000

static volatile sig_atomic_t stop_flag;

void watch_stop(void)
{
	stop_flag = 1;
}

struct shard {
	char *id;
	char *parent;             /* parent shard id or NULL */
	char *iter;               /* current iterator, NULL: get one */
	char *resume_at;          /* retry from this sequence number (AT_SEQUENCE_NUMBER) */
	const char *initial;      /* iterator type without a checkpoint */
	int closed;               /* no more records (NextShardIterator null) */
	int retries;              /* consecutive failed batches */
	cJSON *tries;             /* sequence number -> attempts, permanent failures only */
	int64_t not_before;       /* monotonic ms: backoff after a failure */
};

struct watch {
	struct app *app;
	char *stream_arn;
	struct shard *sh;
	size_t n;
	int from_start, once;
	long interval_ms;
	const char *holder;       /* lease holder id */
	int failures;             /* batches with failed records in this run */
	int max_attempts;         /* permanent failures: tries before a record is skipped */
	long skipped;             /* records skipped in this run */
	watch_report_fn report;   /* called after every batch */
	void *report_ctx;
};

static void sleep_ms(long ms)
{
	for (long left = ms; left > 0 && !stop_flag; left -= 100)
		tp_sleep_ms(left < 100 ? left : 100);
}

static int stream_arn(struct watch *w, tp_err *e)
{
	cJSON *in = cJSON_CreateObject(), *out = NULL;
	cJSON_AddStringToObject(in, "TableName", w->app->set.config_table);
	int rc = awsj_call(w->app->aws, SVC_DYNAMODB, "DescribeTable", in, &out, e);
	const char *arn = cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(out, "Table"),
								    "LatestStreamArn"));
	if (rc == TP_OK && !arn)
		rc = tp_errf(e, TP_EINVAL, "NoStream", "table %s has no stream (enable NEW_AND_OLD_IMAGES)",
			     w->app->set.config_table);
	if (rc == TP_OK)
		w->stream_arn = tp_xstrdup(arn);
	cJSON_Delete(in);
	cJSON_Delete(out);
	return rc;
}

static struct shard *find_shard(struct watch *w, const char *id)
{
	for (size_t i = 0; id && i < w->n; i++)
		if (strcmp(w->sh[i].id, id) == 0)
			return &w->sh[i];
	return NULL;
}

static char *checkpoint_get(struct watch *w, const char *shard, tp_err *e);

/* Whether the records of shard id were (or are being) read: it has a
 * checkpoint, or it is a known shard whose parent's were. A shard whose
 * parent's were is where that reading continues: "process the parent shard
 * before the child shards" (DynamoDB Streams, Streams.html), from the
 * child's TRIM_HORIZON. A checkpoint that cannot be read counts as read:
 * records read twice converge (level-triggered), records skipped are lost. */
static int lineage_read(struct watch *w, const char *id, int depth)
{
	if (!id || depth > 64)
		return 0;
	tp_err e = { 0 };
	char *cp = checkpoint_get(w, id, &e);
	if (cp || e.rc < 0) {
		if (e.rc < 0)
			log_warn("watch: checkpoint of shard %s unreadable (%s); its children start at TRIM_HORIZON",
				 id, e.code);
		free(cp);
		return 1;
	}
	struct shard *p = find_shard(w, id);
	return p && lineage_read(w, p->parent, depth + 1);
}

/* Add shards not known yet. At the first discovery, without --from-start,
 * a shard whose parent was read or checkpointed (a restart across a shard
 * rollover) starts at TRIM_HORIZON, never LATEST, so nothing written while
 * watch was away is lost; other open shards start at LATEST and closed ones
 * are skipped. Shards found later are children of known ones and start at
 * TRIM_HORIZON. */
static int discover(struct watch *w, int first, tp_err *e)
{
	char *start = NULL;
	size_t known = w->n;
	int rc;
	do {
		cJSON *in = cJSON_CreateObject(), *out = NULL;
		cJSON_AddStringToObject(in, "StreamArn", w->stream_arn);
		if (start)
			cJSON_AddStringToObject(in, "ExclusiveStartShardId", start);
		free(start);
		start = NULL;
		rc = awsj_call(w->app->aws, SVC_STREAMS, "DescribeStream", in, &out, e);
		cJSON_Delete(in);
		cJSON *desc = cJSON_GetObjectItem(out, "StreamDescription"), *s;
		cJSON_ArrayForEach(s, cJSON_GetObjectItem(desc, "Shards")) {
			const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(s, "ShardId"));
			if (!id || find_shard(w, id))
				continue;
			int closed = cJSON_GetObjectItem(cJSON_GetObjectItem(s, "SequenceNumberRange"),
							 "EndingSequenceNumber") != NULL;
			w->sh = tp_xrealloc(w->sh, (w->n + 1) * sizeof *w->sh);
			struct shard *n = &w->sh[w->n++];
			memset(n, 0, sizeof *n);
			n->id = tp_xstrdup(id);
			n->parent = tp_xstrdup(cJSON_GetStringValue(cJSON_GetObjectItem(s, "ParentShardId")));
			n->initial = !first || w->from_start ? "TRIM_HORIZON" : closed ? NULL : "LATEST";
		}
		const char *last = cJSON_GetStringValue(cJSON_GetObjectItem(desc, "LastEvaluatedShardId"));
		start = rc == TP_OK && last ? tp_xstrdup(last) : NULL;
		cJSON_Delete(out);
	} while (start);
	/* All shards known (a parent may be listed on a later page): lineage. */
	for (size_t i = known; i < w->n; i++) {
		struct shard *n = &w->sh[i];
		if (first && !w->from_start && lineage_read(w, n->parent, 0))
			n->initial = "TRIM_HORIZON";
		log_info("watch: shard %s (%s)", n->id, n->initial ? n->initial : "closed, skipped");
	}
	return rc;
}

static char *checkpoint_get(struct watch *w, const char *shard, tp_err *e)
{
	char *seq = NULL;
	store_checkpoint_get(w->app->aws, w->app->set.state_table, shard, &seq, e);
	return seq;
}

static int checkpoint_put(struct watch *w, const char *shard, const char *seq, tp_err *e)
{
	return store_checkpoint_put(w->app->aws, w->app->set.state_table, shard, seq, w->stream_arn, e);
}

static int get_iterator(struct watch *w, struct shard *s, tp_err *e)
{
	char *cp = NULL;
	const char *type = s->initial, *seq = NULL;
	if (s->resume_at) {
		type = "AT_SEQUENCE_NUMBER";
		seq = s->resume_at;
	} else {
		tp_err ce = { 0 };
		cp = checkpoint_get(w, s->id, &ce);
		if (ce.rc < 0) {
			*e = ce;
			return ce.rc;
		}
		if (cp) {
			type = "AFTER_SEQUENCE_NUMBER";
			seq = cp;
		}
	}
	if (!type) {  /* closed before we started, no checkpoint: nothing to read */
		s->closed = 1;
		return TP_OK;
	}
	cJSON *in = cJSON_CreateObject(), *out = NULL;
	cJSON_AddStringToObject(in, "StreamArn", w->stream_arn);
	cJSON_AddStringToObject(in, "ShardId", s->id);
	cJSON_AddStringToObject(in, "ShardIteratorType", type);
	if (seq)
		cJSON_AddStringToObject(in, "SequenceNumber", seq);
	int rc = awsj_call(w->app->aws, SVC_STREAMS, "GetShardIterator", in, &out, e);
	if (rc == TP_OK) {
		free(s->iter);
		s->iter = tp_xstrdup(cJSON_GetStringValue(cJSON_GetObjectItem(out, "ShardIterator")));
		s->closed = s->iter == NULL;
		log_debug("watch: shard %s from %s %s", s->id, type, seq ? seq : "");
	} else if (strcmp(e->code, "ResourceNotFoundException") == 0 || strcmp(e->code, "TrimmedDataAccessException") == 0) {
		log_error("watch: shard %s: %s: %s; the shard is skipped", s->id, e->code, e->message);
		s->closed = 1;
		rc = TP_OK;
	}
	cJSON_Delete(in);
	cJSON_Delete(out);
	free(cp);
	return rc;
}

static const char *record_seq(const cJSON *records, int i)
{
	return cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(
		cJSON_GetArrayItem(records, i), "dynamodb"), "SequenceNumber"));
}

/* One more failed attempt at seq; returns the attempts so far. */
static int bump_tries(struct shard *s, const char *seq)
{
	if (!s->tries)
		s->tries = cJSON_CreateObject();
	cJSON *t = cJSON_GetObjectItem(s->tries, seq);
	if (!t)
		t = cJSON_AddNumberToObject(s->tries, seq, 0);
	cJSON_SetNumberValue(t, t->valuedouble + 1);
	return (int)t->valuedouble;
}

/* The record of a skipped stream record, so a person can find and fix it. */
static int record_skip(struct watch *w, struct shard *s, const char *seq, const cJSON *err, int tries,
		       tp_err *e)
{
	struct store_skipped k = {
		.shard = s->id, .seq = seq, .stream_arn = w->stream_arn,
		.pipeline = cJSON_GetStringValue(cJSON_GetObjectItem(err, "pipeline")),
		.error_code = cJSON_GetStringValue(cJSON_GetObjectItem(err, "code")),
		.message = cJSON_GetStringValue(cJSON_GetObjectItem(err, "message")),
		.attempts = tries,
	};
	return store_skipped_put(w->app->aws, w->app->set.state_table, &k, e);
}

/* Handle one batch and move the shard's position. Records come in
 * sequence order: the checkpoint may cover everything before the first
 * record to retry (a transient failure, or a permanent one not yet tried
 * max_attempts times); permanent failures tried that often are recorded
 * and skipped. */
static void handle_batch(struct watch *w, struct shard *s, cJSON *records, const char *next)
{
	struct ev_opts o = { .holder = w->holder };
	cJSON *failed = NULL, *errors = NULL, *skipped = cJSON_CreateArray();
	tp_err e = { 0 };
	int n = cJSON_GetArraySize(records);
	const char *resume = NULL, *cp = NULL;
	int resume_transient = 1;
	if (events_stream_batch_detail(w->app, records, &o, &failed, &errors, &e) < 0) {
		log_error("watch: shard %s: batch failed: %s: %s", s->id, e.code, e.message);
		resume = record_seq(records, 0);
	}
	for (int i = 0; i < n && !resume; i++) {
		const char *seq = record_seq(records, i);
		if (!seq)
			break;
		const cJSON *err = cJSON_GetObjectItem(errors, seq);
		if (err && cJSON_IsTrue(cJSON_GetObjectItem(err, "transient"))) {
			resume = seq;
			break;
		}
		if (err) {
			int tries = bump_tries(s, seq);
			tp_err se = { 0 };
			if (tries < w->max_attempts) {
				resume = seq;
				resume_transient = 0;
				break;
			}
			if (record_skip(w, s, seq, err, tries, &se) < 0) {
				log_error("watch: recording skipped record %s: %s: %s", seq, se.code, se.message);
				resume = seq;
				break;
			}
			log_error("watch: shard %s: record %s (pipeline %s) skipped after %d attempts: %s: %s",
				  s->id, seq, cJSON_GetStringValue(cJSON_GetObjectItem(err, "pipeline")), tries,
				  cJSON_GetStringValue(cJSON_GetObjectItem(err, "code")),
				  cJSON_GetStringValue(cJSON_GetObjectItem(err, "message")));
			cJSON_AddItemToArray(skipped, cJSON_CreateString(seq));
			cJSON_DeleteItemFromObject(s->tries, seq);
			w->skipped++;
		}
		cp = seq;
	}
	if (cJSON_GetArraySize(skipped) > 0)
		ctlm_skipped(w->app->set.owner, cJSON_GetArraySize(skipped));
	tp_err ce = { 0 };
	if (cp && checkpoint_put(w, s->id, cp, &ce) < 0)
		log_error("watch: checkpoint %s: %s: %s", s->id, ce.code, ce.message);
	struct watch_batch b = { .shard = s->id, .records = records, .failed = failed,
				 .skipped = skipped, .checkpoint = cp };
	if (w->report)
		w->report(w->report_ctx, &b);
	free(s->iter);
	s->iter = NULL;
	char *resume_at = resume ? tp_xstrdup(resume) : NULL;
	free(s->resume_at);
	s->resume_at = NULL;
	if (resume_at) {
		w->failures += resume_transient;
		s->resume_at = resume_at;
		long back = w->interval_ms << (s->retries < 10 ? s->retries : 10);
		s->not_before = tp_mono_ms() + (back < MAX_BACKOFF_MS ? back : MAX_BACKOFF_MS);
		s->retries++;
		if (w->once && resume_transient)
			s->closed = 1;  /* --once: leave it for the next run */
	} else {
		s->retries = 0;
		cJSON_Delete(s->tries);
		s->tries = NULL;
		if (next)
			s->iter = tp_xstrdup(next);
		else
			s->closed = 1;
	}
	cJSON_Delete(failed);
	cJSON_Delete(errors);
	cJSON_Delete(skipped);
}

/* Read one batch from a shard. Returns the number of records, < 0 on error. */
static int poll_shard(struct watch *w, struct shard *s, tp_err *e)
{
	if (!s->iter) {
		int rc = get_iterator(w, s, e);
		if (rc < 0 || s->closed)
			return rc;
	}
	cJSON *in = cJSON_CreateObject(), *out = NULL;
	cJSON_AddStringToObject(in, "ShardIterator", s->iter);
	cJSON_AddNumberToObject(in, "Limit", GET_RECORDS_LIMIT);
	int rc = awsj_call(w->app->aws, SVC_STREAMS, "GetRecords", in, &out, e);
	cJSON_Delete(in);
	if (rc < 0) {
		if (strcmp(e->code, "ExpiredIteratorException") == 0) {
			free(s->iter);  /* 15 minutes old: get a new one from the checkpoint */
			s->iter = NULL;
			rc = TP_OK;
		}
		cJSON_Delete(out);
		return rc;
	}
	cJSON *records = cJSON_GetObjectItem(out, "Records");
	const char *next = cJSON_GetStringValue(cJSON_GetObjectItem(out, "NextShardIterator"));
	int n = cJSON_GetArraySize(records);
	if (n > 0) {
		handle_batch(w, s, records, next);
	} else {
		free(s->iter);
		s->iter = tp_xstrdup(next);
		s->closed = next == NULL;
	}
	cJSON_Delete(out);
	return n;
}

static int watch_loop(struct watch *w, tp_err *e)
{
	int rc = stream_arn(w, e);
	if (rc == TP_OK)
		rc = discover(w, 1, e);
	if (rc < 0)
		return rc;
	log_info("watch: following %s (%zu shards)", w->stream_arn, w->n);
	int64_t last_discover = tp_mono_ms();
	while (!stop_flag) {
		int got = 0, errors = 0, waiting = 0, open = 0;
		for (size_t i = 0; i < w->n && !stop_flag; i++) {
			struct shard *s = &w->sh[i];
			struct shard *parent = find_shard(w, s->parent);
			if (s->closed)
				continue;
			open++;
			if ((parent && !parent->closed) || tp_mono_ms() < s->not_before) {
				waiting++;   /* parents first (per-key order); backoff after failures */
				continue;
			}
			tp_err pe = { 0 };
			int n = poll_shard(w, s, &pe);
			if (n < 0) {
				errors++;
				log_error("watch: shard %s: %s: %s", s->id, pe.code, pe.message);
			} else {
				got += n;
			}
		}
		if (w->once && got == 0 && errors == 0 && waiting == 0)
			break;
		if (tp_mono_ms() - last_discover > REDISCOVER_MS || open == 0) {
			tp_err de = { 0 };
			if (discover(w, 0, &de) < 0)
				log_error("watch: DescribeStream: %s: %s", de.code, de.message);
			last_discover = tp_mono_ms();
		}
		if (got == 0)
			sleep_ms(errors ? w->interval_ms * 5 : w->interval_ms);
	}
	log_info("watch: stopped%s", stop_flag ? " by signal" : " (caught up)");
	if (w->skipped)
		log_warn("watch: %ld records skipped (state table, pk skipped#...)", w->skipped);
	return TP_OK;
}

int watch_run(struct app *app, const struct watch_opts *o, watch_report_fn report, void *ctx,
	      struct watch_result *res, tp_err *e)
{
	struct watch w = {
		.app = app, .from_start = o->from_start, .once = o->once,
		.interval_ms = o->interval_ms > 0 ? o->interval_ms : 1000,
		.max_attempts = o->max_attempts > 0 ? o->max_attempts : WATCH_MAX_ATTEMPTS_DEFAULT,
		.holder = o->holder, .report = report, .report_ctx = ctx,
	};
	int rc = watch_loop(&w, e);
	memset(res, 0, sizeof *res);
	res->failures = w.failures;
	res->skipped = w.skipped;
	res->stopped = stop_flag != 0;
	for (size_t i = 0; i < w.n; i++) {
		free(w.sh[i].id);
		free(w.sh[i].parent);
		free(w.sh[i].iter);
		free(w.sh[i].resume_at);
		cJSON_Delete(w.sh[i].tries);
	}
	free(w.sh);
	free(w.stream_arn);
	return rc;
}

