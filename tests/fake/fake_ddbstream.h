/* fake_ddbstream.h: DynamoDB Streams for the fake (fake_ddbstream.c): a
 * table's stream as shards of the changes to its items, read with
 * DescribeStream, GetShardIterator and GetRecords. */
#ifndef TP_FAKE_DDBSTREAM_H
#define TP_FAKE_DDBSTREAM_H

#include <cjson/cJSON.h>

#include "fake/fake_int.h"

struct ddb_stream;

/* A new stream of table (arn its table's ARN; key_schema is copied),
 * ENABLING until ready_ms (the simulated wall clock). */
struct ddb_stream *ddbs_new(struct fake *f, const char *table, const char *table_arn, const char *view,
			    const cJSON *key_schema, int64_t ready_ms);
void ddbs_free(struct ddb_stream *s);
/* StreamEnabled false: the shard closes; its records stay readable. */
void ddbs_disable(struct ddb_stream *s);
/* Close the open shard after the last record so far and open its child. */
void ddbs_roll(struct fake *f, struct ddb_stream *s);
int ddbs_enabled(const struct ddb_stream *s);
const char *ddbs_arn(const struct ddb_stream *s);
const char *ddbs_label(const struct ddb_stream *s);
const char *ddbs_view(const struct ddb_stream *s);

/* One item changed: old / new_item NULL when absent. Nothing is recorded
 * when both are the same (DynamoDB writes no record for a write that
 * changes nothing). keys: the item's key attributes. */
void ddbs_record(struct fake *f, struct ddb_stream *s, const cJSON *keys, const cJSON *old_item,
		 const cJSON *new_item);

/* Heap its records take (malloc_usable_size); 0 for NULL. */
long long ddbs_heap_bytes(const struct ddb_stream *s);

/* A DynamoDBStreams_20120810.* request. */
int fake_ddbstream_handle(struct fake *f, struct fake_req *r, struct http_response *out);

/* fake_ddb.c: the stream (enabled or not) whose ARN is arn; NULL: none. */
struct ddb_stream *fake_ddb_stream_find(struct fake *f, const char *arn);

#endif
