/* fake_ddbstream.c: DynamoDB Streams for the fake (fake_ddbstream.h).
 *
 * A stream holds a record of every change to an item: INSERT, MODIFY,
 * REMOVE, with the images its StreamViewType asks for. It starts as one
 * shard (as moto keeps it); fake_ddb_roll_stream closes the open shard after
 * the last record so far and opens a child (ParentShardId) for what comes
 * after, as awsmodel.py's roll_stream [lineage]. Sequence numbers are 21
 * digits and grow by one a record. Records live 24 hours (older ones answer
 * TrimmedDataAccessException); an iterator 15 minutes
 * (ExpiredIteratorException), both on the simulated clock. GetRecords gives
 * at most Limit (1000) records and 1 MB. A stream is ENABLING, without a
 * shard, until its table's lag has passed. A closed shard (rolled, or the
 * stream disabled) has an EndingSequenceNumber, and reading it to its end
 * gives no NextShardIterator. DescribeStream lists 100 shards a page. */
#include "fake/fake_ddbstream.h"

#include <inttypes.h>
#include <malloc.h>
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

/* Records [start, end) of the stream; end grows while the shard is open. */
struct shard {
	char *id, *parent;
	uint64_t start, end;
	int closed;
};

struct ddb_stream {
	char *table, *arn, *view;
	struct shard *shards;      /* oldest first; the last may be open */
	size_t nshards;
	char label[48];
	cJSON *key_schema;
	int64_t created_ms;
	int64_t ready_ms;          /* ENABLING until then */
	int enabled;
	struct rec *recs;          /* recs[i] has the absolute index base + i */
	size_t n, cap;
	uint64_t base;             /* records trimmed so far */
	long long heap;            /* malloc'd for the record texts */
};

/* A new open shard after the last, from the next record on. */
static void open_shard(struct ddb_stream *s, int64_t now)
{
	/* the id's suffix: from the ARN and the count, not fake_rand (others' sequences stay) */
	uint32_t h = 2166136261u;
	for (const char *p = s->arn; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	h = (h ^ (uint32_t)s->nshards) * 16777619u;
	s->shards = tp_xrealloc(s->shards, (s->nshards + 1) * sizeof *s->shards);
	struct shard *sh = &s->shards[s->nshards];
	sh->id = tp_xasprintf("shardId-%020" PRId64 "-%08x", now, (unsigned)h);
	sh->parent = s->nshards ? tp_xstrdup(s->shards[s->nshards - 1].id) : NULL;
	sh->start = sh->end = s->base + s->n;
	sh->closed = 0;
	s->nshards++;
}

static void close_shard(struct ddb_stream *s)
{
	if (s->nshards && !s->shards[s->nshards - 1].closed)
		s->shards[s->nshards - 1].closed = 1;
}

struct ddb_stream *ddbs_new(struct fake *f, const char *table, const char *table_arn, const char *view,
			    const cJSON *key_schema, int64_t ready_ms)
{
	struct ddb_stream *s = tp_xcalloc(1, sizeof *s);
	s->table = tp_xstrdup(table);
	s->view = tp_xstrdup(view);
	s->created_ms = fake_now_ms_int(f);
	s->enabled = 1;
	s->ready_ms = ready_ms;
	/* the label is the stream's creation time, as AWS writes it */
	time_t sec = (time_t)(s->created_ms / 1000);
	struct tm tm;
	gmtime_r(&sec, &tm);
	char when[24];
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(s->label, sizeof s->label, "%s.%03d", when, (int)(s->created_ms % 1000 + 1000) % 1000);
	s->arn = tp_xasprintf("%s/stream/%s", table_arn, s->label);
	open_shard(s, s->created_ms);
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
	for (size_t i = 0; i < s->nshards; i++) {
		free(s->shards[i].id);
		free(s->shards[i].parent);
	}
	free(s->shards);
	cJSON_Delete(s->key_schema);
	free(s);
}

void ddbs_disable(struct ddb_stream *s)
{
	s->enabled = 0;
	close_shard(s);
}

void ddbs_roll(struct fake *f, struct ddb_stream *s)
{
	if (!s->enabled)
		return;
	close_shard(s);
	open_shard(s, fake_now_ms_int(f));
}

long long ddbs_heap_bytes(const struct ddb_stream *s)
{
	return s ? s->heap + (long long)(s->cap * sizeof *s->recs) : 0;
}
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
	for (size_t i = 0; i < old; i++) {
		s->heap -= (long long)malloc_usable_size(s->recs[i].text);
		free(s->recs[i].text);
	}
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
	s->shards[s->nshards - 1].end = s->base + s->n;
	s->heap += (long long)malloc_usable_size(text);
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
	int enabling = s->enabled && fake_now_ms_int(f) < s->ready_ms;
	cJSON_AddStringToObject(d, "StreamStatus", !s->enabled ? "DISABLED" : enabling ? "ENABLING" : "ENABLED");
	cJSON_AddStringToObject(d, "StreamViewType", s->view);
	cJSON_AddNumberToObject(d, "CreationRequestDateTime", (double)s->created_ms / 1000.0);
	cJSON_AddStringToObject(d, "TableName", s->table);
	cJSON_AddItemToObject(d, "KeySchema", cJSON_Duplicate(s->key_schema, 1));
	cJSON *shards = cJSON_AddArrayToObject(d, "Shards");
	const cJSON *lim = cJSON_GetObjectItemCaseSensitive(in, "Limit");
	long limit = cJSON_IsNumber(lim) ? (long)lim->valuedouble : 100;
	if (lim && (!cJSON_IsNumber(lim) || limit < 1 || limit > 100)) {
		cJSON_Delete(body);
		fake_reply_error(out, 400, "ValidationException", "1 validation error detected: Value at 'limit' failed "
				 "to satisfy constraint: Member must have value between 1 and 100");
		return 0;
	}
	size_t from = 0;
	for (size_t i = 0; after && i < s->nshards; i++)
		if (strcmp(after, s->shards[i].id) == 0)
			from = i + 1;
	long listed = 0;
	for (size_t i = from; !enabling && i < s->nshards; i++) {   /* no shard while ENABLING */
		if (listed == limit) {
			cJSON_AddStringToObject(d, "LastEvaluatedShardId", s->shards[i - 1].id);
			break;
		}
		const struct shard *x = &s->shards[i];
		cJSON *sh = cJSON_CreateObject(), *range;
		char seq[32];
		cJSON_AddStringToObject(sh, "ShardId", x->id);
		if (x->parent)
			cJSON_AddStringToObject(sh, "ParentShardId", x->parent);
		range = cJSON_AddObjectToObject(sh, "SequenceNumberRange");
		seq_of(x->start, seq);
		cJSON_AddStringToObject(range, "StartingSequenceNumber", seq);
		if (x->closed) {
			seq_of(x->end > x->start ? x->end - 1 : x->start, seq);
			cJSON_AddStringToObject(range, "EndingSequenceNumber", seq);
		}
		cJSON_AddItemToArray(shards, sh);
		listed++;
	}
	fake_reply_json(out, 200, body);
	return 0;
}

/* An iterator: position, when made, the shard's index, the stream. */
static char *iterator(const struct ddb_stream *s, uint64_t at, int64_t now, size_t shard)
{
	return tp_xasprintf("%" PRIu64 "|%" PRId64 "|%zu|%s", at, now, shard, s->arn);
}

static struct shard *shard_named(struct ddb_stream *s, const char *id, size_t *idx)
{
	for (size_t i = 0; s && id && i < s->nshards; i++)
		if (strcmp(s->shards[i].id, id) == 0) {
			*idx = i;
			return &s->shards[i];
		}
	return NULL;
}

static int get_shard_iterator(struct fake *f, const cJSON *in, struct http_response *out)
{
	const char *arn = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(in, "StreamArn"));
	const char *shard = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(in, "ShardId"));
	const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(in, "ShardIteratorType"));
	const char *seq = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(in, "SequenceNumber"));
	struct ddb_stream *s = fake_ddb_stream_find(f, arn);
	int64_t now = fake_now_ms_int(f);
	size_t idx = 0;
	struct shard *sh = shard_named(s, shard, &idx);
	if (!sh || (s->enabled && now < s->ready_ms)) {
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
	if (first < sh->start)
		first = sh->start;
	if (type && strcmp(type, "TRIM_HORIZON") == 0) {
		at = first;
	} else if (type && strcmp(type, "LATEST") == 0) {
		at = sh->end;
	} else if (type && (strcmp(type, "AT_SEQUENCE_NUMBER") == 0 || strcmp(type, "AFTER_SEQUENCE_NUMBER") == 0)) {
		int64_t i = index_of(seq);
		if (i < 0 || (uint64_t)i < sh->start || (uint64_t)i >= sh->end) {
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
	char *it = iterator(s, at, now, idx);
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
	size_t idx = 0;
	int used = 0;
	if (!it || sscanf(it, "%" SCNu64 "|%" SCNd64 "|%zu|%n", &at, &issued, &idx, &used) != 3 || !used) {
		fake_reply_error(out, 400, "ValidationException", "Invalid ShardIterator");
		return 0;
	}
	struct ddb_stream *s = fake_ddb_stream_find(f, it + used);
	if (!s || idx >= s->nshards) {
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
	const struct shard *sh = &s->shards[idx];
	buf b = { 0 };
	buf_adds(&b, "{\"Records\":[");
	long n = 0;
	size_t bytes = 0;
	while (at < sh->end && n < limit && bytes < PAGE_BYTES) {
		const struct rec *r = &s->recs[at - s->base];
		buf_addf(&b, "%s%s", n ? "," : "", r->text);
		bytes += r->len;
		n++;
		at++;
	}
	buf_adds(&b, "]");
	if (!sh->closed || at < sh->end) {   /* a closed shard read to its end: no next */
		char *next = iterator(s, at, now, idx);
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
		const char *params[5];
	} ops[] = {
		{ "DescribeStream", describe_stream, { "StreamArn", "Limit", "ExclusiveStartShardId" } },
		{ "GetShardIterator", get_shard_iterator, { "StreamArn", "ShardId", "ShardIteratorType", "SequenceNumber" } },
		{ "GetRecords", get_records, { "ShardIterator", "Limit" } },
	};
	int (*fn)(struct fake *, const cJSON *, struct http_response *) = NULL;
	const char *const *params = NULL;
	for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
		if (strcmp(ops[i].name, r->op) == 0) {
			fn = ops[i].fn;
			params = ops[i].params;
		}
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
	const cJSON *p = NULL;
	for (p = cJSON_IsObject(in) ? in->child : NULL; p; p = p->next) {
		int known = 0;
		for (int i = 0; i < 5 && params[i] && !known; i++)
			known = strcmp(p->string, params[i]) == 0;
		if (!known)
			break;
	}
	if (!cJSON_IsObject(in))
		fake_reply_error(out, 400, "SerializationException", "the body of %s is not a JSON object", r->op);
	else if (p)   /* never ignored */
		fake_reply_error(out, 400, "ValidationException", "the fake's DynamoDB Streams does not model parameter "
				 "'%s' of %s", p->string, r->op);
	else
		fn(f, in, out);
	cJSON_Delete(in);
	return 0;
}
