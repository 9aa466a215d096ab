/* fake_sqs.c: the fake's SQS, AWS JSON 1.0 (X-Amz-Target AmazonSQS.<Op>):
 * the queue map, names, URLs and ARNs, errors, request helpers, the router,
 * and what the other services ask of it. Queues and their operations are
 * in fake_sqs_queue.c, messages in fake_sqs_msg.c.
 *
 * Queues live in a hash map by name (the fleet holds 100,000); a queue
 * keeps its attributes as numbers and a few strings, its tags in one block,
 * and a message array only once it has messages. A deleted queue stays as
 * a tombstone so CreateQueue can answer QueueDeletedRecently for 60 s
 * (simulated). Errors carry __type and x-amzn-query-error as SQS's JSON
 * protocol sends them ("Interpreting SQS JSON API responses"). URLs are
 * https://sqs.<region>.amazonaws.com/<account>/<name>, strings only: the
 * fake is reached through the transport hook, the queue named in the body.
 * API reference: https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/
 *
 * What the fake does not model (documented, never silently faked): FIFO
 * queues (FifoQueue=true is refused), long polling (WaitTimeSeconds answers
 * at once), MD5OfMessageAttributes, the one-second wait after CreateQueue
 * (awsmodel.py's queue_ready_s, off by default there too), and the
 * operations taskpipe does not send (UnknownOperationException). A message
 * move task completes at once. */
#include "fake/fake_sqs_int.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base64.h"

static uint64_t name_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

struct fake_sqs *fsqs_state(struct fake *f)
{
	if (!f->sqs) {
		f->sqs = tp_xcalloc(1, sizeof *f->sqs);
		f->sqs->nbucket = 1024;
		f->sqs->bucket = tp_xcalloc(f->sqs->nbucket, sizeof *f->sqs->bucket);
	}
	return f->sqs;
}

/* The entry by name, tombstones included. */
struct queue *fsqs_entry(struct fake_sqs *s, const char *name)
{
	if (!s)
		return NULL;
	for (struct queue *q = s->bucket[name_hash(name) & (s->nbucket - 1)]; q; q = q->next)
		if (strcmp(q->name, name) == 0)
			return q;
	return NULL;
}

struct queue *fsqs_live(struct fake *f, const char *name)
{
	struct queue *q = name ? fsqs_entry(f->sqs, name) : NULL;
	return q && !q->deleted ? q : NULL;
}

static void grow(struct fake_sqs *s)
{
	size_t nb = s->nbucket * 2;
	struct queue **b = tp_xcalloc(nb, sizeof *b);
	for (size_t i = 0; i < s->nbucket; i++)
		for (struct queue *q = s->bucket[i], *n; q; q = n) {
			n = q->next;
			size_t k = name_hash(q->name) & (nb - 1);
			q->next = b[k];
			b[k] = q;
		}
	free(s->bucket);
	s->bucket = b;
	s->nbucket = nb;
}

struct queue *fsqs_insert(struct fake_sqs *s, const char *name)
{
	if (s->n + 1 > s->nbucket)
		grow(s);
	struct queue *q = tp_xcalloc(1, sizeof *q);
	q->name = tp_xstrdup(name);
	size_t k = name_hash(name) & (s->nbucket - 1);
	q->next = s->bucket[k];
	s->bucket[k] = q;
	s->n++;
	return q;
}

void fsqs_msg_free(struct msg *m)
{
	if (!m)
		return;
	free(m->body);
	free(m->mattrs);
	free(m->source);
	free(m);
}

void fsqs_msgs_clear(struct queue *q)
{
	if (!q->m)
		return;
	for (size_t i = 0; i < q->m->n; i++)
		fsqs_msg_free(q->m->v[i]);
	free(q->m->v);
	free(q->m);
	q->m = NULL;
}

void fsqs_tags_clear(struct queue *q)
{
	free(q->tags);
	q->tags = NULL;
	q->ntags = 0;
	q->tagslen = 0;
}

/* What a queue holds besides its name (a tombstone keeps only the name). */
void fsqs_queue_clear(struct queue *q)
{
	fsqs_msgs_clear(q);
	fsqs_tags_clear(q);
	for (int i = 0; i < S_NSTR; i++) {
		free(q->str[i]);
		q->str[i] = NULL;
	}
}

void fake_sqs_free(struct fake_sqs *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nbucket; i++)
		for (struct queue *q = s->bucket[i], *n; q; q = n) {
			n = q->next;
			fsqs_queue_clear(q);
			free(q->name);
			free(q);
		}
	free(s->bucket);
	free(s->sorted);
	free(s);
}

/* ---- names, URLs and ARNs ---- */

char *fsqs_url(struct fake *f, const char *name)
{
	return tp_xasprintf("https://sqs.%s.amazonaws.com/%s/%s", f->region, f->account, name);
}

char *fsqs_arn(struct fake *f, const char *name)
{
	return tp_xasprintf("arn:aws:sqs:%s:%s:%s", f->region, f->account, name);
}

/* The queue name of a URL ".../<account>/<name>", or NULL when the URL is
 * not one of this account's. */
const char *fsqs_url_name(struct fake *f, const char *url)
{
	if (!url)
		return NULL;
	const char *slash = strrchr(url, '/');
	if (!slash || slash == url || !slash[1])
		return NULL;
	const char *acct = slash - 1;
	while (acct > url && acct[-1] != '/')
		acct--;
	size_t al = (size_t)(slash - acct);
	if (al != strlen(f->account) || strncmp(acct, f->account, al) != 0)
		return NULL;
	return slash + 1;
}

/* The queue name of "arn:aws:sqs:<region>:<account>:<name>" in this region and account. */
const char *fsqs_arn_name(struct fake *f, const char *arn, char *name, size_t len)
{
	if (!arn || strncmp(arn, "arn:", 4) != 0)
		return NULL;
	const char *p = strchr(arn + 4, ':');  /* after the partition */
	if (!p || strncmp(p, ":sqs:", 5) != 0)
		return NULL;
	p += 5;
	size_t rl = strlen(f->region), al = strlen(f->account);
	if (strncmp(p, f->region, rl) != 0 || p[rl] != ':' || strncmp(p + rl + 1, f->account, al) != 0 ||
	    p[rl + 1 + al] != ':' || !p[rl + 2 + al])
		return NULL;
	snprintf(name, len, "%s", p + rl + 2 + al);
	return name;
}

int fsqs_valid_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 80)
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_')
			return 0;
	return 1;
}

/* ---- errors ---- */

int fsqs_error(struct http_response *out, const char *type, const char *query_code, const char *fmt, ...)
{
	char msg[512], t[128];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	snprintf(t, sizeof t, "com.amazonaws.sqs#%s", type);
	fake_reply_error(out, 400, t, "%s", msg);
	buf_addf(&out->headers, "x-amzn-query-error: %s;Sender\r\n", query_code);
	return 0;
}

/* ---- request helpers ---- */

/* 1 when every member of in is one of allowed; else an error naming it. */
int fsqs_only_known(struct http_response *out, const char *op, const cJSON *in, const char *const *allowed)
{
	const cJSON *it;
	cJSON_ArrayForEach(it, in) {
		size_t i = 0;
		while (allowed[i] && strcmp(allowed[i], it->string) != 0)
			i++;
		if (!allowed[i]) {
			BAD_PARAM(out, "the fake's SQS does not know parameter %s of %s", it->string, op);
			return 0;
		}
	}
	return 1;
}

const char *fsqs_str_of(const cJSON *in, const char *name)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(in, name));
}

/* An integer member: 1 set (in *v), 0 absent, -1 not an integer in [lo, hi]
 * (an error is written naming it). */
int fsqs_int_of(struct http_response *out, const cJSON *in, const char *name, long lo, long hi, long *v)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(in, name);
	if (!it)
		return 0;
	if (!cJSON_IsNumber(it) || it->valuedouble != (double)(long)it->valuedouble ||
	    it->valuedouble < lo || it->valuedouble > hi) {
		BAD_PARAM(out, "Value %s for parameter %s is invalid. Reason: must be an integer from %ld to %ld.",
			  cJSON_IsNumber(it) ? "given" : "(not a number)", name, lo, hi);
		return -1;
	}
	*v = (long)it->valuedouble;
	return 1;
}

/* The queue a request names by QueueUrl; NULL with the error written. */
struct queue *fsqs_by_url(struct fake *f, const cJSON *in, struct http_response *out)
{
	const char *url = fsqs_str_of(in, "QueueUrl");
	if (!url || !*url) {
		fsqs_error(out, "MissingParameter", "MissingParameter",
			  "The request must contain the parameter QueueUrl.");
		return NULL;
	}
	struct queue *q = fsqs_live(f, fsqs_url_name(f, url));
	if (!q)
		NO_QUEUE(out);
	return q;
}

/* A base64 token's text (NUL-terminated, malloc'd), or NULL when it is not base64. */
char *fsqs_b64_text(const char *tok)
{
	char *raw = NULL;
	size_t n = 0;
	if (!tok || !*tok || base64_decode(tok, &raw, &n) < 0)
		return NULL;
	char *t = tp_xstrndup(raw, n);
	free(raw);
	return t;
}

static const struct { const char *name; fsqs_op_fn fn; } ops[] = {
	{ "CreateQueue", fsqs_op_create_queue },
	{ "GetQueueUrl", fsqs_op_get_queue_url },
	{ "GetQueueAttributes", fsqs_op_get_queue_attributes },
	{ "SetQueueAttributes", fsqs_op_set_queue_attributes },
	{ "DeleteQueue", fsqs_op_delete_queue },
	{ "PurgeQueue", fsqs_op_purge_queue },
	{ "ListQueues", fsqs_op_list_queues },
	{ "TagQueue", fsqs_op_tag_queue },
	{ "UntagQueue", fsqs_op_untag_queue },
	{ "ListQueueTags", fsqs_op_list_queue_tags },
	{ "SendMessage", fsqs_op_send_message },
	{ "SendMessageBatch", fsqs_op_send_message_batch },
	{ "ReceiveMessage", fsqs_op_receive_message },
	{ "DeleteMessage", fsqs_op_delete_message },
	{ "DeleteMessageBatch", fsqs_op_delete_message_batch },
	{ "ChangeMessageVisibility", fsqs_op_change_message_visibility },
	{ "StartMessageMoveTask", fsqs_op_start_message_move_task },
};

int fake_sqs_handle(struct fake *f, struct fake_req *r, struct http_response *out)
{
	size_t i = 0;
	while (i < sizeof ops / sizeof ops[0] && strcmp(ops[i].name, r->op) != 0)
		i++;
	if (i == sizeof ops / sizeof ops[0] || strncmp(r->target, "AmazonSQS.", 10) != 0) {
		fake_reply_error(out, 400, "UnknownOperationException", "the fake's SQS has no operation '%s'",
				 r->op[0] ? r->op : r->target);
		return 0;
	}
	int64_t after;
	if (fake_quota(f, "sqs", 10000, 10000, &after)) {
		fake_reply_throttled(f, r, out, "com.amazonaws.sqs#ThrottlingException", after);
		buf_adds(&out->headers, "x-amzn-query-error: RequestThrottled;Sender\r\n");
		return 0;
	}
	cJSON *in = cJSON_ParseWithLength(r->body, r->body_len);
	if (!cJSON_IsObject(in)) {
		cJSON_Delete(in);
		return BAD_PARAM(out, "%s: the body is not a JSON object", r->op);
	}
	ops[i].fn(f, in, out);
	cJSON_Delete(in);
	return 0;
}

/* ---- for the other services ---- */

void fake_sqs_each_tagged(struct fake *f, fake_tag_visit_fn fn, void *ctx)
{
	struct fake_sqs *s = f->sqs;
	for (size_t i = 0; s && i < s->nbucket; i++)
		for (struct queue *q = s->bucket[i]; q; q = q->next) {
			if (q->deleted || !q->ntags)
				continue;
			char *arn = fsqs_arn(f, q->name);
			cJSON *t = fsqs_tags_json(q);
			fn(ctx, arn, t);
			cJSON_Delete(t);
			free(arn);
		}
}

int fake_sqs_queue_arn_exists(struct fake *f, const char *arn)
{
	char nb[96];
	return fsqs_live(f, fsqs_arn_name(f, arn, nb, sizeof nb)) != NULL;
}

