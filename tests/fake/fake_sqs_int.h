/* fake_sqs_int.h: what the fake SQS's files share (fake_sqs.c: the queue
 * map, names, errors, the router; fake_sqs_queue.c: queues, attributes and
 * tags; fake_sqs_msg.c: messages). */
#ifndef TP_FAKE_SQS_INT_H
#define TP_FAKE_SQS_INT_H

#include "fake/fake_int.h"

#define DELETED_RECENTLY_MS 60000   /* "you must wait at least 60 seconds" */
#define PURGE_WINDOW_MS 60000       /* one PurgeQueue per 60 s */
#define BATCH_MAX 10
#define BATCH_BYTES 262144          /* SendMessageBatch's total (send.h) */
#define LIST_MAX 1000
#define TAGS_MAX 50
#define PUBLISH_BIG 1000            /* messages from which metrics are sampled once a second */

/* Numeric (and boolean) attributes, string attributes: indexes of queue.num / queue.str. */
enum { A_DELAY, A_MAXSIZE, A_RETENTION, A_WAIT, A_VISIBILITY, A_KMS_REUSE, A_SSE, A_NNUM };
enum { S_REDRIVE, S_REDRIVE_ALLOW, S_POLICY, S_KMS_KEY, S_NSTR };

struct msg {
	char *body;
	char *mattrs;               /* MessageAttributes as JSON text, or NULL */
	char *source;               /* the queue a redrive took it from (in a DLQ), or NULL */
	size_t len;
	uint64_t seq;               /* receipt handles name it */
	uint32_t gen;               /* the receive that the current handle belongs to */
	int32_t receives;
	int64_t sent_ms, visible_ms, first_receive_ms;
	char id[37];
};

struct msgs {
	struct msg **v;
	size_t n, cap;
	int64_t published_ms;       /* the last metrics sample (fsqs_publish) */
};

struct queue {
	struct queue *next;         /* hash chain */
	char *name;
	char *tags;                 /* "key\0value\0key\0value\0..." (one block: small at 100,000) */
	struct msgs *m;             /* NULL until it has messages */
	int64_t created_ms, modified_ms, deleted_ms, purged_ms;
	int32_t num[A_NNUM];
	char *str[S_NSTR];          /* NULL: not set */
	uint32_t tagslen;           /* bytes of tags */
	uint16_t ntags;
	uint8_t deleted;
};

struct fake_sqs {
	struct queue **bucket;
	size_t nbucket, n;          /* n: entries, tombstones included */
	struct queue **sorted;      /* live queues by name, for ListQueues */
	size_t nsorted;
	int sorted_stale;
	uint64_t seq;
};


typedef int (*fsqs_op_fn)(struct fake *f, cJSON *in, struct http_response *out);

static inline int64_t fsqs_now_ms(struct fake *f) { return fake_now_ms_int(f); }

/* fake_sqs.c */
struct fake_sqs *fsqs_state(struct fake *f);               /* made on first use */
struct queue *fsqs_entry(struct fake_sqs *s, const char *name); /* tombstones too */
struct queue *fsqs_insert(struct fake_sqs *s, const char *name);
struct queue *fsqs_live(struct fake *f, const char *name);  /* NULL: none, or deleted */
void fsqs_msg_free(struct msg *m);
void fsqs_msgs_clear(struct queue *q);
void fsqs_tags_clear(struct queue *q);
void fsqs_queue_clear(struct queue *q);                    /* all but the name */
char *fsqs_url(struct fake *f, const char *name);          /* malloc'd */
char *fsqs_arn(struct fake *f, const char *name);          /* malloc'd */
const char *fsqs_url_name(struct fake *f, const char *url);
const char *fsqs_arn_name(struct fake *f, const char *arn, char *name, size_t len);
int fsqs_valid_name(const char *s);
/* 400 with __type com.amazonaws.sqs#<type> and x-amzn-query-error "<code>;Sender"; returns 0. */
int fsqs_error(struct http_response *out, const char *type, const char *query_code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
#define NO_QUEUE(out) fsqs_error(out, "QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue", \
				 "The specified queue does not exist.")
#define BAD_PARAM(out, ...) fsqs_error(out, "InvalidParameterValueException", "InvalidParameterValue", \
				       __VA_ARGS__)
int fsqs_only_known(struct http_response *out, const char *op, const cJSON *in, const char *const *allowed);
const char *fsqs_str_of(const cJSON *in, const char *name);
int fsqs_int_of(struct http_response *out, const cJSON *in, const char *name, long lo, long hi, long *v);
struct queue *fsqs_by_url(struct fake *f, const cJSON *in, struct http_response *out);
char *fsqs_b64_text(const char *tok);

/* fake_sqs_queue.c */
cJSON *fsqs_tags_json(const struct queue *q);
void fsqs_add_num(cJSON *o, const char *name, long long v);
int fsqs_op_create_queue(struct fake *f, cJSON *in, struct http_response *out);
int fsqs_op_get_queue_url(struct fake *f, cJSON *in, struct http_response *out);
int fsqs_op_get_queue_attributes(struct fake *f, cJSON *in, struct http_response *out);
int fsqs_op_set_queue_attributes(struct fake *f, cJSON *in, struct http_response *out);
int fsqs_op_delete_queue(struct fake *f, cJSON *in, struct http_response *out);
int fsqs_op_purge_queue(struct fake *f, cJSON *in, struct http_response *out);
int fsqs_op_list_queues(struct fake *f, cJSON *in, struct http_response *out);
int fsqs_op_tag_queue(struct fake *f, cJSON *in, struct http_response *out);
int fsqs_op_untag_queue(struct fake *f, cJSON *in, struct http_response *out);
int fsqs_op_list_queue_tags(struct fake *f, cJSON *in, struct http_response *out);

/* fake_sqs_msg.c */
void fsqs_expire(struct fake *f, struct queue *q);         /* past retention: gone */
void fsqs_counts(struct fake *f, struct queue *q, long *visible, long *inflight, long *delayed);
void fsqs_publish(struct fake *f, struct queue *q);        /* AWS/SQS metrics now */
int fsqs_op_send_message(struct fake *f, cJSON *in, struct http_response *out);
int fsqs_op_send_message_batch(struct fake *f, cJSON *in, struct http_response *out);
int fsqs_op_receive_message(struct fake *f, cJSON *in, struct http_response *out);
int fsqs_op_delete_message(struct fake *f, cJSON *in, struct http_response *out);
int fsqs_op_delete_message_batch(struct fake *f, cJSON *in, struct http_response *out);
int fsqs_op_change_message_visibility(struct fake *f, cJSON *in, struct http_response *out);
int fsqs_op_start_message_move_task(struct fake *f, cJSON *in, struct http_response *out);

#endif
