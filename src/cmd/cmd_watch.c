/* cmd_watch.c: `taskpipe watch` follows the config table's DynamoDB stream
 * (DescribeTable -> DescribeStream -> GetShardIterator -> GetRecords) and
 * hands every batch to the same handler as the Lambda path
 * (events_stream_batch). After each batch the highest fully handled
 * sequence number is checkpointed in the state table (pk
 * "checkpoint#<shardId>"), so a restart resumes there; records of failed
 * pipelines are retried by resuming at the lowest failed one. SIGINT and
 * SIGTERM stop it after the current batch.
 *
 * A record that fails for good (events_transient says retrying will not
 * help: a policy error, a collision, a bad item) is tried
 * TASKPIPE_WATCH_MAX_ATTEMPTS times (default 3), then recorded in the state
 * table (pk "skipped#<shard>#<sequence number>", with the error) and
 * skipped, so it never holds up the records behind it on its shard until
 * the stream trims it (24 h). Transient failures (throttling, LeaseHeld,
 * DeadlineNear, ...) are retried without limit. */
#include "cmd/cmd_watch.h"

#include "core/app.h"
#include "aws/awsjson.h"
#include "aws/ddb.h"
#include "runtime/events.h"
#include "core/lease.h"
#include "base/log.h"

#include <cjson/cJSON.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GET_RECORDS_LIMIT 1000
#define REDISCOVER_MS 30000
#define MAX_BACKOFF_MS 30000
#define DEFAULT_MAX_ATTEMPTS 3

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
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
	char holder[160];
	int failures;             /* batches with failed records in this run */
	int max_attempts;         /* permanent failures: tries before a record is skipped */
	long skipped;             /* records skipped in this run */
};

static const char usage[] =
	"usage: taskpipe watch [--from-start] [--once] [--interval-ms N]\n"
	"Follows the config table's stream and reconciles the pipelines of every\n"
	"change, like the Lambda function does. Checkpoints (state table,\n"
	"pk checkpoint#<shard>) let a restart resume where it stopped.\n"
	"  --from-start      without a checkpoint, start at the oldest record (TRIM_HORIZON)\n"
	"                    instead of the newest (LATEST)\n"
	"  --once            stop when caught up (exit 1 when a batch had failures)\n"
	"  --interval-ms N   wait between polls of an idle stream (default 1000)\n"
	"A record that fails for good (policy error, collision, bad item) is tried\n"
	"TASKPIPE_WATCH_MAX_ATTEMPTS times (default 3), then recorded in the state\n"
	"table (pk skipped#<shard>#<sequence number>) and skipped; transient\n"
	"failures (throttling, LeaseHeld, DeadlineNear) are retried without limit.\n"
	"--once exits 1 when records were left for a retry or skipped.\n"
	"Ctrl-C (SIGINT) or SIGTERM stops it after the current batch.\n";

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

/* Add shards not known yet. At the first discovery, without --from-start,
 * open shards start at LATEST and closed ones are skipped; shards found
 * later are children of known ones and start at TRIM_HORIZON. */
static int discover(struct watch *w, int first, tp_err *e)
{
	char *start = NULL;
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
			log_info("watch: shard %s (%s)", id, n->initial ? n->initial : "closed, skipped");
		}
		const char *last = cJSON_GetStringValue(cJSON_GetObjectItem(desc, "LastEvaluatedShardId"));
		start = rc == TP_OK && last ? tp_xstrdup(last) : NULL;
		cJSON_Delete(out);
	} while (start);
	return rc;
}

static char *checkpoint_get(struct watch *w, const char *shard, tp_err *e)
{
	char pk[256];
	snprintf(pk, sizeof pk, "checkpoint#%s", shard);
	cJSON *in = cJSON_CreateObject(), *out = NULL;
	cJSON_AddStringToObject(in, "TableName", w->app->set.state_table);
	cJSON_AddItemToObject(in, "Key", ddb_key("pk", pk));
	cJSON_AddBoolToObject(in, "ConsistentRead", 1);
	char *seq = NULL;
	if (awsj_call(w->app->aws, SVC_DYNAMODB, "GetItem", in, &out, e) == TP_OK)
		seq = tp_xstrdup(ddb_get_str(cJSON_GetObjectItem(out, "Item"), "sequence_number", NULL));
	cJSON_Delete(in);
	cJSON_Delete(out);
	return seq;
}

static int checkpoint_put(struct watch *w, const char *shard, const char *seq, tp_err *e)
{
	char pk[256];
	snprintf(pk, sizeof pk, "checkpoint#%s", shard);
	cJSON *in = cJSON_CreateObject(), *out = NULL;
	cJSON_AddStringToObject(in, "TableName", w->app->set.state_table);
	cJSON *item = cJSON_AddObjectToObject(in, "Item");
	ddb_put_str(item, "pk", pk);
	ddb_put_str(item, "sequence_number", seq);
	ddb_put_str(item, "stream_arn", w->stream_arn);
	ddb_put_long(item, "updated_at", (long)(tp_now_ms() / 1000));
	int rc = awsj_call(w->app->aws, SVC_DYNAMODB, "PutItem", in, &out, e);
	cJSON_Delete(in);
	cJSON_Delete(out);
	return rc;
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

/* One line per batch on stdout, for operators and tests. */
static void report(const struct shard *s, const cJSON *records, const cJSON *failed, const cJSON *skipped,
		   const char *cp)
{
	cJSON *o = cJSON_CreateObject(), *keys = cJSON_AddArrayToObject(o, "keys"), *r;
	cJSON_AddStringToObject(o, "shard", s->id);
	cJSON_AddNumberToObject(o, "records", cJSON_GetArraySize(records));
	cJSON_ArrayForEach(r, records) {
		const char *k = cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(
			cJSON_GetObjectItem(cJSON_GetObjectItem(r, "dynamodb"), "Keys"), "pipeline"), "S"));
		cJSON_AddItemToArray(keys, cJSON_CreateString(k ? k : ""));
	}
	cJSON_AddItemToObject(o, "failed", failed ? cJSON_Duplicate(failed, 1) : cJSON_CreateArray());
	cJSON_AddItemToObject(o, "skipped", skipped ? cJSON_Duplicate(skipped, 1) : cJSON_CreateArray());
	if (cp)
		cJSON_AddStringToObject(o, "checkpoint", cp);
	char *t = cJSON_PrintUnformatted(o);
	printf("%s\n", t);
	fflush(stdout);
	free(t);
	cJSON_Delete(o);
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
	char *pk = tp_xasprintf("skipped#%s#%s", s->id, seq);
	cJSON *in = cJSON_CreateObject(), *out = NULL;
	cJSON_AddStringToObject(in, "TableName", w->app->set.state_table);
	cJSON *item = cJSON_AddObjectToObject(in, "Item");
	ddb_put_str(item, "pk", pk);
	ddb_put_str(item, "pipeline", cJSON_GetStringValue(cJSON_GetObjectItem(err, "pipeline")));
	ddb_put_str(item, "shard", s->id);
	ddb_put_str(item, "sequence_number", seq);
	ddb_put_str(item, "stream_arn", w->stream_arn);
	ddb_put_str(item, "error_code", cJSON_GetStringValue(cJSON_GetObjectItem(err, "code")));
	ddb_put_str(item, "message", cJSON_GetStringValue(cJSON_GetObjectItem(err, "message")));
	ddb_put_long(item, "attempts", tries);
	ddb_put_long(item, "skipped_at", (long)(tp_now_ms() / 1000));
	int rc = awsj_call(w->app->aws, SVC_DYNAMODB, "PutItem", in, &out, e);
	cJSON_Delete(in);
	cJSON_Delete(out);
	free(pk);
	return rc;
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
	tp_err ce = { 0 };
	if (cp && checkpoint_put(w, s->id, cp, &ce) < 0)
		log_error("watch: checkpoint %s: %s: %s", s->id, ce.code, ce.message);
	report(s, records, failed, skipped, cp);
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

static int watch_loop(struct watch *w)
{
	tp_err e = { 0 };
	int rc = stream_arn(w, &e);
	if (rc == TP_OK)
		rc = discover(w, 1, &e);
	if (rc < 0) {
		fprintf(stderr, "taskpipe watch: %s: %s\n", e.code, e.message);
		return 1;
	}
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
	return (w->failures || w->skipped) && w->once ? 1 : 0;
}

int cmd_watch(int argc, char **argv)
{
	struct settings s;
	tp_err e = { 0 };
	struct watch w = { .interval_ms = 1000, .max_attempts = DEFAULT_MAX_ATTEMPTS };
	const char *ma = getenv("TASKPIPE_WATCH_MAX_ATTEMPTS");
	if (ma && *ma) {
		char *end;
		long v = strtol(ma, &end, 10);
		if (*end || v < 1) {
			fprintf(stderr, "taskpipe watch: TASKPIPE_WATCH_MAX_ATTEMPTS='%s' is not a positive integer\n", ma);
			return 2;
		}
		w.max_attempts = (int)v;
	}
	int rc0 = settings_cli(&s, "watch", usage, &argc, argv);
	if (rc0 >= 0)
		return rc0;
	for (int i = 1; i < argc; i++) {
		char *end = NULL;
		if (strcmp(argv[i], "--from-start") == 0) {
			w.from_start = 1;
		} else if (strcmp(argv[i], "--once") == 0) {
			w.once = 1;
		} else if (strcmp(argv[i], "--interval-ms") == 0 && i + 1 < argc &&
			   (w.interval_ms = strtol(argv[i + 1], &end, 10)) > 0 && *end == 0) {
			i++;
		} else {
			fprintf(stderr, "taskpipe watch: bad argument '%s'\n%s", argv[i], usage);
			return 2;
		}
	}
	struct app app;
	if (app_open(&app, &s, &e) < 0) {
		fprintf(stderr, "taskpipe watch: %s%s%s\n", e.code, e.code[0] ? ": " : "", e.message);
		return 1;
	}
	w.app = &app;
	lease_holder_id("watch", w.holder, sizeof w.holder);
	struct sigaction sa = { .sa_handler = on_signal };  /* no SA_RESTART: wake blocking calls */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	int rc = watch_loop(&w);
	for (size_t i = 0; i < w.n; i++) {
		free(w.sh[i].id);
		free(w.sh[i].parent);
		free(w.sh[i].iter);
		free(w.sh[i].resume_at);
		cJSON_Delete(w.sh[i].tries);
	}
	free(w.sh);
	free(w.stream_arn);
	app_close(&app);
	return rc;
}
