/* fake_ddbstream.c: DynamoDB Streams for the fake (fake_ddbstream.h).
 *
 * A stream is one shard (as moto keeps it; awsmodel.py splits shards only
 * on demand) holding a record of every change to an item: INSERT, MODIFY,
 * REMOVE, with the images its StreamViewType asks for. Sequence numbers are
 * 21 digits and grow by one a record. Records live 24 hours (older ones
 * answer TrimmedDataAccessException); an iterator 15 minutes
 * (ExpiredIteratorException), both on the simulated clock. GetRecords gives
 * at most Limit (1000) records and 1 MB. A disabled stream's shard is
 * closed: it ends with an EndingSequenceNumber, and reading to its end gives
 * no NextShardIterator. */
#include "fake/fake_ddbstream.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fake/fake_ddbexpr.h"

#define RETAIN_MS (24LL * 3600 * 1000)
#define ITERATOR_MS (15LL * 60 * 1000)
#define RECORDS_MAX 1000
#define PAGE_BYTES (1024 * 1024)

struct rec {
	int64_t at_ms;
	char *text;                /* the record as GetRecords gives it */
	size_t len;
};

struct ddb_stream {
	char *table, *arn, *view, *shard;
	char label[48];
	cJSON *key_schema;
	int64_t created_ms;
	int enabled;
	struct rec *recs;          /* recs[i] has the absolute index base + i */
	size_t n, cap;
	uint64_t base;             /* records trimmed so far */
};

struct ddb_stream *ddbs_new(struct fake *f, const char *table, const char *table_arn, const char *view,
			    const cJSON *key_schema)
{
	struct ddb_stream *s = tp_xcalloc(1, sizeof *s);
	s->table = tp_xstrdup(table);
	s->view = tp_xstrdup(view);
	s->created_ms = fake_now_ms_int(f);
	s->enabled = 1;
	/* the label is the stream's creation time, as AWS writes it */
	time_t sec = (time_t)(s->created_ms / 1000);
	struct tm tm;
	gmtime_r(&sec, &tm);
	char when[24];
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(s->label, sizeof s->label, "%s.%03d", when, (int)(s->created_ms % 1000 + 1000) % 1000);
	s->arn = tp_xasprintf("%s/stream/%s", table_arn, s->label);
	uint32_t h = 2166136261u;      /* the shard's suffix: from the ARN, not fake_rand (others' sequences stay) */
	for (const char *p = s->arn; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	s->shard = tp_xasprintf("shardId-%020" PRId64 "-%08x", s->created_ms, (unsigned)h);
	s->key_schema = cJSON_Duplicate(key_schema, 1);
	return s;
}

void ddbs_free(struct ddb_stream *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		free(s->recs[i].text);
	free(s->recs);
	free(s->table);
	free(s->arn);
	free(s->view);
	free(s->shard);
	cJSON_Delete(s->key_schema);
	free(s);
}

void ddbs_disable(struct ddb_stream *s) { s->enabled = 0; }
int ddbs_enabled(const struct ddb_stream *s) { return s && s->enabled; }
const char *ddbs_arn(const struct ddb_stream *s) { return s->arn; }
const char *ddbs_label(const struct ddb_stream *s) { return s->label; }
const char *ddbs_view(const struct ddb_stream *s) { return s->view; }

/* Sequence number of absolute index i: 21 digits, "1" and the count. */
static void seq_of(uint64_t i, char out[32])
{
	snprintf(out, 32, "1%020" PRIu64, i + 1);
}

/* The absolute index a sequence number names; -1 when it is not one of ours. */
static int64_t index_of(const char *seq)
{
	if (!seq || strlen(seq) != 21 || seq[0] != '1' || strspn(seq, "0123456789") != 21)
		return -1;
	uint64_t n = strtoull(seq + 1, NULL, 10);
	return n ? (int64_t)(n - 1) : -1;
}

/* Drop records older than a day, in bulk (each is moved once). */
static void trim(struct ddb_stream *s, int64_t now)
{
	size_t old = 0;
	while (old < s->n && s->recs[old].at_ms < now - RETAIN_MS)
		old++;
	if (old == 0 || (old < 1024 && old * 2 < s->n))
		return;
	for (size_t i = 0; i < old; i++)
		free(s->recs[i].text);
	memmove(s->recs, s->recs + old, (s->n - old) * sizeof *s->recs);
	s->n -= old;
	s->base += old;
}

static int item_equal(const cJSON *a, const cJSON *b)
{
	if (!a || !b)
		return !a && !b;
	cJSON *x = cJSON_CreateObject(), *y = cJSON_CreateObject();
	cJSON_AddItemReferenceToObject(x, "M", (cJSON *)a);
	cJSON_AddItemReferenceToObject(y, "M", (cJSON *)b);
	int eq = ddbav_equal(x, y);
	cJSON_Delete(x);
	cJSON_Delete(y);
	return eq;
}

void ddbs_record(struct fake *f, struct ddb_stream *s, const cJSON *keys, const cJSON *old_item,
		 const cJSON *new_item)
{
	if (!s || !s->enabled || item_equal(old_item, new_item))
		return;
	int64_t now = fake_now_ms_int(f);
	trim(s, now);
	uint64_t idx = s->base + s->n;
	char seq[32], id[40];
	seq_of(idx, seq);
	snprintf(id, sizeof id, "%016" PRIx64, (uint64_t)(idx * UINT64_C(0x9e3779b97f4a7c15)));
	cJSON *r = cJSON_CreateObject();
	cJSON_AddStringToObject(r, "eventID", id);
	cJSON_AddStringToObject(r, "eventName", !old_item ? "INSERT" : !new_item ? "REMOVE" : "MODIFY");
	cJSON_AddStringToObject(r, "eventVersion", "1.1");
	cJSON_AddStringToObject(r, "eventSource", "aws:dynamodb");
	cJSON_AddStringToObject(r, "awsRegion", f->region);
	cJSON *d = cJSON_AddObjectToObject(r, "dynamodb");
	cJSON_AddNumberToObject(d, "ApproximateCreationDateTime", (double)(now / 1000));
	cJSON_AddItemToObject(d, "Keys", cJSON_Duplicate(keys, 1));
	size_t size = ddbav_item_size(keys);
	int want_new = strcmp(s->view, "NEW_IMAGE") == 0 || strcmp(s->view, "NEW_AND_OLD_IMAGES") == 0;
	int want_old = strcmp(s->view, "OLD_IMAGE") == 0 || strcmp(s->view, "NEW_AND_OLD_IMAGES") == 0;
	if (want_new && new_item) {
		cJSON_AddItemToObject(d, "NewImage", cJSON_Duplicate(new_item, 1));
		size += ddbav_item_size(new_item);
	}
	if (want_old && old_item) {
		cJSON_AddItemToObject(d, "OldImage", cJSON_Duplicate(old_item, 1));
		size += ddbav_item_size(old_item);
	}
	cJSON_AddStringToObject(d, "SequenceNumber", seq);
	cJSON_AddNumberToObject(d, "SizeBytes", (double)size);
	cJSON_AddStringToObject(d, "StreamViewType", s->view);
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 64;
		s->recs = tp_xrealloc(s->recs, s->cap * sizeof *s->recs);
	}
	char *text = cJSON_PrintUnformatted(r);
	s->recs[s->n++] = (struct rec){ now, text, strlen(text) };
	cJSON_Delete(r);
}

/* ---- the API ---- */

static int describe_stream(struct fake *f, const cJSON *in, struct http_response *out)
{
	const char *arn = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(in, "StreamArn"));
	const char *after = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(in, "ExclusiveStartShardId"));
	struct ddb_stream *s = fake_ddb_stream_find(f, arn);
	if (!s) {
		fake_reply_error(out, 400, "ResourceNotFoundException", "Requested resource not found: Stream: %s not found",
				 arn ? arn : "(none)");
		return 0;
	}
	cJSON *body = cJSON_CreateObject(), *d = cJSON_AddObjectToObject(body, "StreamDescription");
	cJSON_AddStringToObject(d, "StreamArn", s->arn);
	cJSON_AddStringToObject(d, "StreamLabel", s->label);
	cJSON_AddStringToObject(d, "StreamStatus", s->enabled ? "ENABLED" : "DISABLED");
	cJSON_AddStringToObject(d, "StreamViewType", s->view);
	cJSON_AddNumberToObject(d, "CreationRequestDateTime", (double)s->created_ms / 1000.0);
	cJSON_AddStringToObject(d, "TableName", s->table);
	cJSON_AddItemToObject(d, "KeySchema", cJSON_Duplicate(s->key_schema, 1));
	cJSON *shards = cJSON_AddArrayToObject(d, "Shards");
	if (!after || strcmp(after, s->shard) != 0) {
		cJSON *sh = cJSON_CreateObject(), *range = cJSON_AddObjectToObject(sh, "SequenceNumberRange");
		char seq[32];
		cJSON_AddStringToObject(sh, "ShardId", s->shard);
		seq_of(s->base, seq);
		cJSON_AddStringToObject(range, "StartingSequenceNumber", seq);
		if (!s->enabled) {
			seq_of(s->base + s->n ? s->base + s->n - 1 : 0, seq);
			cJSON_AddStringToObject(range, "EndingSequenceNumber", seq);
		}
		cJSON_AddItemToArray(shards, sh);
	}
	fake_reply_json(out, 200, body);
	return 0;
}

static char *iterator(const struct ddb_stream *s, uint64_t at, int64_t now)
{
	return tp_xasprintf("%" PRIu64 "|%" PRId64 "|%s", at, now, s->arn);
}

static int get_shard_iterator(struct fake *f, const cJSON *in, struct http_response *out)
{
	const char *arn = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(in, "StreamArn"));
	const char *shard = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(in, "ShardId"));
	const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(in, "ShardIteratorType"));
	const char *seq = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(in, "SequenceNumber"));
	struct ddb_stream *s = fake_ddb_stream_find(f, arn);
	int64_t now = fake_now_ms_int(f);
	if (!s || !shard || strcmp(shard, s->shard) != 0) {
		fake_reply_error(out, 400, "ResourceNotFoundException", "Requested resource not found: Shard: %s in "
				 "Stream: %s not found", shard ? shard : "(none)", arn ? arn : "(none)");
		return 0;
	}
	trim(s, now);
	uint64_t at;
	/* what is older than a day is gone even before it is trimmed */
	uint64_t first = s->base;
	while (first < s->base + s->n && s->recs[first - s->base].at_ms < now - RETAIN_MS)
		first++;
	if (type && strcmp(type, "TRIM_HORIZON") == 0) {
		at = first;
	} else if (type && strcmp(type, "LATEST") == 0) {
		at = s->base + s->n;
	} else if (type && (strcmp(type, "AT_SEQUENCE_NUMBER") == 0 || strcmp(type, "AFTER_SEQUENCE_NUMBER") == 0)) {
		int64_t i = index_of(seq);
		if (i < 0 || (uint64_t)i >= s->base + s->n) {
			fake_reply_error(out, 400, "ValidationException", "Invalid SequenceNumber %s for shard %s",
					 seq ? seq : "(none)", shard);
			return 0;
		}
		if ((uint64_t)i < first) {
			fake_reply_error(out, 400, "TrimmedDataAccessException", "The operation attempted to read past the "
					 "oldest stream record in a shard (sequence number %s)", seq);
			return 0;
		}
		at = (uint64_t)i + (type[1] == 'F');   /* AFTER: the next one */
	} else {
		fake_reply_error(out, 400, "ValidationException", "ShardIteratorType '%s' is not one of TRIM_HORIZON, "
				 "LATEST, AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER", type ? type : "(none)");
		return 0;
	}
	cJSON *body = cJSON_CreateObject();
	char *it = iterator(s, at, now);
	cJSON_AddStringToObject(body, "ShardIterator", it);
	free(it);
	fake_reply_json(out, 200, body);
	return 0;
}

static int get_records(struct fake *f, const cJSON *in, struct http_response *out)
{
	const char *it = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(in, "ShardIterator"));
	const cJSON *lim = cJSON_GetObjectItemCaseSensitive(in, "Limit");
	uint64_t at = 0;
	int64_t issued = 0;
	int used = 0;
	if (!it || sscanf(it, "%" SCNu64 "|%" SCNd64 "|%n", &at, &issued, &used) != 2 || !used) {
		fake_reply_error(out, 400, "ValidationException", "Invalid ShardIterator");
		return 0;
	}
	struct ddb_stream *s = fake_ddb_stream_find(f, it + used);
	if (!s) {
		fake_reply_error(out, 400, "ResourceNotFoundException", "Requested resource not found: Stream: %s not found",
				 it + used);
		return 0;
	}
	long limit = RECORDS_MAX;
	if (lim && (!cJSON_IsNumber(lim) || lim->valuedouble < 1 || lim->valuedouble > RECORDS_MAX)) {
		fake_reply_error(out, 400, "ValidationException", "1 validation error detected: Value at 'limit' failed "
				 "to satisfy constraint: Member must have value between 1 and 1000");
		return 0;
	}
	if (lim)
		limit = (long)lim->valuedouble;
	int64_t now = fake_now_ms_int(f);
	if (now - issued > ITERATOR_MS) {
		fake_reply_error(out, 400, "ExpiredIteratorException", "Iterator expired. The iterator was created at "
				 "time %" PRId64 " while right now it is %" PRId64 ".", issued, now);
		return 0;
	}
	if (at < s->base || (at < s->base + s->n && s->recs[at - s->base].at_ms < now - RETAIN_MS)) {
		fake_reply_error(out, 400, "TrimmedDataAccessException", "The operation attempted to read past the oldest "
				 "stream record in a shard");
		return 0;
	}
	buf b = { 0 };
	buf_adds(&b, "{\"Records\":[");
	long n = 0;
	size_t bytes = 0;
	while (at < s->base + s->n && n < limit && bytes < PAGE_BYTES) {
		const struct rec *r = &s->recs[at - s->base];
		buf_addf(&b, "%s%s", n ? "," : "", r->text);
		bytes += r->len;
		n++;
		at++;
	}
	buf_adds(&b, "]");
	if (s->enabled || at < s->base + s->n) {   /* a closed shard read to its end: no next */
		char *next = iterator(s, at, now);
		buf_addf(&b, ",\"NextShardIterator\":\"%s\"", next);
		free(next);
	}
	buf_adds(&b, "}");
	out->status = 200;
	buf_adds(&out->headers, "Content-Type: application/x-amz-json-1.0\r\nx-amzn-RequestId: fake-req\r\n");
	buf_add(&out->body, b.data, b.len);
	buf_free(&b);
	return 0;
}

int fake_ddbstream_handle(struct fake *f, struct fake_req *r, struct http_response *out)
{
	static const struct {
		const char *name;
		int (*fn)(struct fake *, const cJSON *, struct http_response *);
	} ops[] = {
		{ "DescribeStream", describe_stream },
		{ "GetShardIterator", get_shard_iterator },
		{ "GetRecords", get_records },
	};
	int (*fn)(struct fake *, const cJSON *, struct http_response *) = NULL;
	for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
		if (strcmp(ops[i].name, r->op) == 0)
			fn = ops[i].fn;
	if (!fn) {
		fake_reply_error(out, 400, "UnknownOperationException", "the fake's DynamoDB Streams has no operation '%s'",
				 r->op);
		return 0;
	}
	int64_t after;
	if (fake_quota(f, "dynamodbstreams", 1000, 1000, &after)) {
		fake_reply_throttled(f, r, out, "ThrottlingException", after);
		return 0;
	}
	cJSON *in = cJSON_ParseWithLength(r->body, r->body_len);
	if (!cJSON_IsObject(in))
		fake_reply_error(out, 400, "SerializationException", "the body of %s is not a JSON object", r->op);
	else
		fn(f, in, out);
	cJSON_Delete(in);
	return 0;
}
