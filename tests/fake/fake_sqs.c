/* fake_sqs.c: the fake's SQS, AWS JSON 1.0 (X-Amz-Target AmazonSQS.<Op>).
 *
 * Queues live in a hash map by name (the fleet holds 100,000); a queue
 * keeps its attributes as numbers and a few strings, its tags as a small
 * array, and a message array only once it has messages. A deleted queue
 * stays as a tombstone so CreateQueue can answer QueueDeletedRecently for
 * 60 s (simulated). Errors carry __type and x-amzn-query-error as SQS's
 * JSON protocol sends them ("Interpreting SQS JSON API responses").
 * API reference: https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/
 *
 * What the fake does not model (documented, never silently faked): FIFO
 * queues (FifoQueue=true is refused), long polling (WaitTimeSeconds answers
 * at once), MD5OfMessageAttributes, ChangeMessageVisibility and the other
 * operations taskpipe does not send (UnknownOperationException). A message
 * move task completes at once. */
#include "fake/fake_int.h"

#include <bearssl.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base64.h"

#define DELETED_RECENTLY_MS 60000   /* "you must wait at least 60 seconds" */
#define PURGE_WINDOW_MS 60000       /* one PurgeQueue per 60 s */
#define BATCH_MAX 10
#define BATCH_BYTES 262144          /* SendMessageBatch's total (send.h) */
#define LIST_MAX 1000
#define TAGS_MAX 50

/* ---- attributes ---- */

enum { A_DELAY, A_MAXSIZE, A_RETENTION, A_WAIT, A_VISIBILITY, A_KMS_REUSE, A_SSE, A_NNUM };
enum { S_REDRIVE, S_REDRIVE_ALLOW, S_POLICY, S_KMS_KEY, S_NSTR };

static const struct numdef {
	const char *name;
	int32_t lo, hi, def;
	int boolean;
} numdefs[A_NNUM] = {
	[A_DELAY] = { "DelaySeconds", 0, 900, 0, 0 },
	/* 1 MiB since August 2025 (src/core/spec.c), and the default since */
	[A_MAXSIZE] = { "MaximumMessageSize", 1024, 1048576, 1048576, 0 },
	[A_RETENTION] = { "MessageRetentionPeriod", 60, 1209600, 345600, 0 },
	[A_WAIT] = { "ReceiveMessageWaitTimeSeconds", 0, 20, 0, 0 },
	[A_VISIBILITY] = { "VisibilityTimeout", 0, 43200, 30, 0 },
	[A_KMS_REUSE] = { "KmsDataKeyReusePeriodSeconds", 60, 86400, 300, 0 },
	[A_SSE] = { "SqsManagedSseEnabled", 0, 1, 1, 1 },
};
static const char *const strnames[S_NSTR] = { "RedrivePolicy", "RedriveAllowPolicy", "Policy",
					      "KmsMasterKeyId" };
/* Answered by GetQueueAttributes, refused by Set/CreateQueue. */
static const char *const readonly[] = { "QueueArn", "ApproximateNumberOfMessages",
					"ApproximateNumberOfMessagesNotVisible",
					"ApproximateNumberOfMessagesDelayed", "CreatedTimestamp",
					"LastModifiedTimestamp", NULL };

/* Attributes as a request gives them: which are set, and their values. */
struct attrs {
	int32_t num[A_NNUM];
	char *str[S_NSTR];          /* "" stays "" (it removes the attribute) */
	unsigned num_set, str_set;  /* bit masks */
};

/* ---- state ---- */

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

static uint64_t name_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static struct fake_sqs *state(struct fake *f)
{
	if (!f->sqs) {
		f->sqs = tp_xcalloc(1, sizeof *f->sqs);
		f->sqs->nbucket = 1024;
		f->sqs->bucket = tp_xcalloc(f->sqs->nbucket, sizeof *f->sqs->bucket);
	}
	return f->sqs;
}

/* The entry by name, tombstones included. */
static struct queue *entry(struct fake_sqs *s, const char *name)
{
	if (!s)
		return NULL;
	for (struct queue *q = s->bucket[name_hash(name) & (s->nbucket - 1)]; q; q = q->next)
		if (strcmp(q->name, name) == 0)
			return q;
	return NULL;
}

static struct queue *live(struct fake *f, const char *name)
{
	struct queue *q = name ? entry(f->sqs, name) : NULL;
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

static struct queue *insert(struct fake_sqs *s, const char *name)
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

static void msg_free(struct msg *m)
{
	if (!m)
		return;
	free(m->body);
	free(m->mattrs);
	free(m->source);
	free(m);
}

static void msgs_clear(struct queue *q)
{
	if (!q->m)
		return;
	for (size_t i = 0; i < q->m->n; i++)
		msg_free(q->m->v[i]);
	free(q->m->v);
	free(q->m);
	q->m = NULL;
}

static void tags_clear(struct queue *q)
{
	free(q->tags);
	q->tags = NULL;
	q->ntags = 0;
	q->tagslen = 0;
}

/* What a queue holds besides its name (a tombstone keeps only the name). */
static void queue_clear(struct queue *q)
{
	msgs_clear(q);
	tags_clear(q);
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
			queue_clear(q);
			free(q->name);
			free(q);
		}
	free(s->bucket);
	free(s->sorted);
	free(s);
}

/* ---- names, URLs and ARNs ---- */

static char *queue_url(struct fake *f, const char *name)
{
	return tp_xasprintf("https://sqs.%s.amazonaws.com/%s/%s", f->region, f->account, name);
}

static char *queue_arn(struct fake *f, const char *name)
{
	return tp_xasprintf("arn:aws:sqs:%s:%s:%s", f->region, f->account, name);
}

/* The queue name of a URL ".../<account>/<name>", or NULL when the URL is
 * not one of this account's. */
static const char *url_name(struct fake *f, const char *url)
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
static const char *arn_name(struct fake *f, const char *arn, char *name, size_t len)
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

static int valid_name(const char *s)
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

/* 400 with __type com.amazonaws.sqs#<type> and x-amzn-query-error "<code>;Sender". */
static int sqs_error(struct http_response *out, const char *type, const char *query_code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int sqs_error(struct http_response *out, const char *type, const char *query_code, const char *fmt, ...)
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

#define NO_QUEUE(out) sqs_error(out, "QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue", \
				"The specified queue does not exist.")
#define BAD_PARAM(out, ...) sqs_error(out, "InvalidParameterValueException", "InvalidParameterValue", \
				      __VA_ARGS__)

/* ---- request helpers ---- */

/* 1 when every member of in is one of allowed; else an error naming it. */
static int only_known(struct http_response *out, const char *op, const cJSON *in, const char *const *allowed)
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

static const char *str_of(const cJSON *in, const char *name)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(in, name));
}

/* An integer member: 1 set (in *v), 0 absent, -1 not an integer in [lo, hi]
 * (an error is written naming it). */
static int int_of(struct http_response *out, const cJSON *in, const char *name, long lo, long hi, long *v)
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
static struct queue *by_url(struct fake *f, const cJSON *in, struct http_response *out)
{
	const char *url = str_of(in, "QueueUrl");
	if (!url || !*url) {
		sqs_error(out, "MissingParameter", "MissingParameter",
			  "The request must contain the parameter QueueUrl.");
		return NULL;
	}
	struct queue *q = live(f, url_name(f, url));
	if (!q)
		NO_QUEUE(out);
	return q;
}

/* ---- attribute parsing ---- */

static void attrs_free(struct attrs *a)
{
	for (int i = 0; i < S_NSTR; i++)
		free(a->str[i]);
	memset(a, 0, sizeof *a);
}

/* RedrivePolicy as SQS keeps it: {"deadLetterTargetArn":..,"maxReceiveCount":N}
 * (maxReceiveCount given as a number or a string). NULL when invalid
 * (why says how); "" stays "" (removes it). */
static char *redrive_norm(struct fake *f, const char *v, const char **why)
{
	if (!*v)
		return tp_xstrdup("");
	cJSON *j = cJSON_Parse(v);
	const char *arn = str_of(j, "deadLetterTargetArn");
	const cJSON *mrc = cJSON_GetObjectItemCaseSensitive(j, "maxReceiveCount");
	double n = cJSON_IsNumber(mrc) ? mrc->valuedouble :
		   cJSON_IsString(mrc) ? strtod(mrc->valuestring, NULL) : -1;
	char nb[96];
	char *out = NULL;
	if (!cJSON_IsObject(j) || !arn)
		*why = "Redrive policy is not a JSON object with deadLetterTargetArn and maxReceiveCount";
	else if (n < 1 || n > 1000 || n != (double)(long)n)
		*why = "Invalid value for maxReceiveCount: must be an integer from 1 to 1000";
	else if (!live(f, arn_name(f, arn, nb, sizeof nb)))
		*why = "Dead-letter target does not exist";
	else
		out = tp_xasprintf("{\"deadLetterTargetArn\":\"%s\",\"maxReceiveCount\":%ld}", arn, (long)n);
	cJSON_Delete(j);
	return out;
}

/* Parse an Attributes map into a; 0 with the error written when a name is
 * unknown or read-only, or a value invalid. */
static int attrs_parse(struct fake *f, const cJSON *map, struct attrs *a, struct http_response *out)
{
	memset(a, 0, sizeof *a);
	if (map && !cJSON_IsObject(map)) {
		BAD_PARAM(out, "Attributes must be a map of names to strings");
		return 0;
	}
	const cJSON *it;
	cJSON_ArrayForEach(it, map) {
		const char *name = it->string, *v = cJSON_GetStringValue(it);
		if (!v) {
			sqs_error(out, "InvalidAttributeValue", "InvalidAttributeValue",
				  "Invalid value for the parameter %s (not a string).", name);
			goto bad;
		}
		int k;
		for (k = 0; k < A_NNUM && strcmp(numdefs[k].name, name) != 0; k++)
			;
		if (k < A_NNUM) {
			const struct numdef *d = &numdefs[k];
			char *end;
			long n = d->boolean ? (strcmp(v, "true") == 0 ? 1 : strcmp(v, "false") == 0 ? 0 : -1)
					    : strtol(v, &end, 10);
			if ((!d->boolean && (!*v || *end)) || n < d->lo || n > d->hi) {
				sqs_error(out, "InvalidAttributeValue", "InvalidAttributeValue",
					  "Invalid value for the parameter %s.", name);
				goto bad;
			}
			a->num[k] = (int32_t)n;
			a->num_set |= 1u << k;
			continue;
		}
		for (k = 0; k < S_NSTR && strcmp(strnames[k], name) != 0; k++)
			;
		if (k < S_NSTR) {
			const char *why = NULL;
			free(a->str[k]);
			a->str[k] = k == S_REDRIVE ? redrive_norm(f, v, &why) : tp_xstrdup(v);
			if (!a->str[k]) {
				BAD_PARAM(out, "Value %s for parameter RedrivePolicy is invalid. Reason: %s.", v, why);
				goto bad;
			}
			a->str_set |= 1u << k;
			continue;
		}
		if (strcmp(name, "FifoQueue") == 0 && strcmp(v, "false") == 0)
			continue;
		int ro = 0;
		for (k = 0; readonly[k]; k++)
			ro |= strcmp(readonly[k], name) == 0;
		if (strcmp(name, "FifoQueue") == 0 || strcmp(name, "ContentBasedDeduplication") == 0 ||
		    strcmp(name, "DeduplicationScope") == 0 || strcmp(name, "FifoThroughputLimit") == 0)
			sqs_error(out, "InvalidAttributeName", "InvalidAttributeName",
				  "the fake's SQS has no FIFO queues (attribute %s)", name);
		else
			sqs_error(out, "InvalidAttributeName", "InvalidAttributeName",
				  "Unknown Attribute %s%s.", name, ro ? " (read-only)" : "");
		goto bad;
	}
	return 1;
bad:
	attrs_free(a);
	return 0;
}

/* The first attribute of a whose value differs from q's, or NULL. */
static const char *attrs_differ(const struct queue *q, const struct attrs *a)
{
	for (int k = 0; k < A_NNUM; k++)
		if ((a->num_set & (1u << k)) && a->num[k] != q->num[k])
			return numdefs[k].name;
	for (int k = 0; k < S_NSTR; k++)
		if ((a->str_set & (1u << k)) &&
		    strcmp(a->str[k], q->str[k] ? q->str[k] : "") != 0)
			return strnames[k];
	return NULL;
}

/* Set a's attributes on q (a's strings move to q). */
static void attrs_apply(struct queue *q, struct attrs *a)
{
	for (int k = 0; k < A_NNUM; k++)
		if (a->num_set & (1u << k))
			q->num[k] = a->num[k];
	for (int k = 0; k < S_NSTR; k++)
		if (a->str_set & (1u << k)) {
			free(q->str[k]);
			q->str[k] = NULL;
			if (a->str[k][0])
				q->str[k] = a->str[k];
			else
				free(a->str[k]);
			a->str[k] = NULL;
		}
}

/* ---- tags ---- */

/* The i-th tag's value after its key k. */
static const char *tag_value(const char *k) { return k + strlen(k) + 1; }
static const char *tag_next(const char *k) { const char *v = tag_value(k); return v + strlen(v) + 1; }

/* The tag's key in q's block, or NULL. */
static const char *tag_find(const struct queue *q, const char *key)
{
	const char *k = q->tags;
	for (int i = 0; i < q->ntags; i++, k = tag_next(k))
		if (strcmp(k, key) == 0)
			return k;
	return NULL;
}

/* Validate a {"k": "v"} map: 0 with the error written. */
static int tags_valid(const struct queue *q, const cJSON *tags, struct http_response *out)
{
	if (!cJSON_IsObject(tags)) {
		BAD_PARAM(out, "Tags must be a map of keys to string values");
		return 0;
	}
	int add = 0;
	const cJSON *it;
	cJSON_ArrayForEach(it, tags) {
		if (!cJSON_IsString(it) || !*it->string || strlen(it->string) > 128 || strlen(it->valuestring) > 256) {
			BAD_PARAM(out, "Tag %s is invalid: a key of 1-128 characters and a string value of at most 256",
				  it->string);
			return 0;
		}
		add += !q || !tag_find(q, it->string);
	}
	if ((q ? q->ntags : 0) + add > TAGS_MAX) {
		BAD_PARAM(out, "Too many tags: a queue has at most %d", TAGS_MAX);
		return 0;
	}
	return 1;
}

/* q's tags rebuilt: set's keys take set's values (set NULL: none), drop's
 * keys go (drop NULL: none). */
static void tags_rebuild(struct queue *q, const cJSON *set, const cJSON *drop)
{
	buf b = { 0 };
	uint16_t n = 0;
	const cJSON *it;
	const char *k = q->tags;
	for (int i = 0; i < q->ntags; i++, k = tag_next(k)) {
		int gone = 0;
		cJSON_ArrayForEach(it, drop)
			gone |= cJSON_IsString(it) && strcmp(it->valuestring, k) == 0;
		if (gone || cJSON_GetObjectItemCaseSensitive(set, k))
			continue;
		buf_add(&b, k, (size_t)(tag_next(k) - k));
		n++;
	}
	cJSON_ArrayForEach(it, set) {
		buf_add(&b, it->string, strlen(it->string) + 1);
		buf_add(&b, it->valuestring, strlen(it->valuestring) + 1);
		n++;
	}
	tags_clear(q);
	if (n) {
		q->tagslen = (uint32_t)b.len;
		q->tags = tp_xmalloc(b.len);
		memcpy(q->tags, b.data, b.len);
		q->ntags = n;
	}
	buf_free(&b);
}

static cJSON *tags_json(const struct queue *q)
{
	cJSON *t = cJSON_CreateObject();
	const char *k = q->tags;
	for (int i = 0; i < q->ntags; i++, k = tag_next(k))
		cJSON_AddStringToObject(t, k, tag_value(k));
	return t;
}

/* ---- messages ---- */

static int64_t now_ms(struct fake *f) { return fake_now_ms_int(f); }

/* Messages past the retention period are gone. */
static void expire(struct fake *f, struct queue *q)
{
	if (!q->m)
		return;
	int64_t t = now_ms(f), keep = (int64_t)q->num[A_RETENTION] * 1000;
	size_t o = 0;
	for (size_t i = 0; i < q->m->n; i++) {
		struct msg *m = q->m->v[i];
		if (t - m->sent_ms >= keep)
			msg_free(m);
		else
			q->m->v[o++] = m;
	}
	q->m->n = o;
	if (!o)
		msgs_clear(q);
}

static void push(struct queue *q, struct msg *m)
{
	if (!q->m)
		q->m = tp_xcalloc(1, sizeof *q->m);
	if (q->m->n == q->m->cap) {
		q->m->cap = q->m->cap ? q->m->cap * 2 : 4;
		q->m->v = tp_xrealloc(q->m->v, sizeof *q->m->v * q->m->cap);
	}
	q->m->v[q->m->n++] = m;
}

/* Take the i-th message out of q (order kept). */
static struct msg *take(struct queue *q, size_t i)
{
	struct msg *m = q->m->v[i];
	memmove(&q->m->v[i], &q->m->v[i + 1], sizeof *q->m->v * (q->m->n - i - 1));
	if (--q->m->n == 0)
		msgs_clear(q);
	return m;
}

static void counts(struct fake *f, struct queue *q, long *visible, long *inflight, long *delayed)
{
	*visible = *inflight = *delayed = 0;
	expire(f, q);
	int64_t t = now_ms(f);
	for (size_t i = 0; q->m && i < q->m->n; i++) {
		const struct msg *m = q->m->v[i];
		if (m->visible_ms <= t)
			++*visible;
		else if (m->receives)
			++*inflight;
		else
			++*delayed;
	}
}

/* SQS's metrics of q now, to the fake's CloudWatch (AWS/SQS by QueueName):
 * published whenever its messages change, where SQS samples each minute. */
static void publish(struct fake *f, struct queue *q)
{
	long vis, inflight, delayed;
	counts(f, q, &vis, &inflight, &delayed);
	int64_t t = now_ms(f), oldest = t;
	for (size_t i = 0; q->m && i < q->m->n; i++)
		oldest = q->m->v[i]->sent_ms < oldest ? q->m->v[i]->sent_ms : oldest;
	fake_cloudwatch_put(f, "AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", q->name, t, (double)vis);
	fake_cloudwatch_put(f, "AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", q->name, t,
			    (double)((t - oldest) / 1000));
}

static void publish_sent(struct fake *f, struct queue *q, long n)
{
	if (n > 0)
		fake_cloudwatch_put(f, "AWS/SQS", "NumberOfMessagesSent", "QueueName", q->name, now_ms(f), (double)n);
	publish(f, q);
}

static void new_id(struct fake *f, char id[37])
{
	uint64_t a = fake_rand(f), b = fake_rand(f);
	snprintf(id, 37, "%08x-%04x-4%03x-%04x-%012llx", (unsigned)(a >> 32), (unsigned)(a >> 16) & 0xffff,
		 (unsigned)a & 0xfff, (unsigned)(0x8000 | (b >> 48 & 0x3fff)),
		 (unsigned long long)(b & 0xffffffffffffULL));
}

static void md5_hex(const char *s, size_t n, char out[33])
{
	br_md5_context c;
	unsigned char d[16];
	br_md5_init(&c);
	br_md5_update(&c, s, n);
	br_md5_out(&c, d);
	for (int i = 0; i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* SQS's allowed characters: #x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF, as UTF-8. */
static int valid_chars(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned c = s[i], cp, len;
		if (c < 0x80) {
			cp = c;
			len = 1;
		} else if ((c & 0xe0) == 0xc0) {
			cp = c & 0x1f;
			len = 2;
		} else if ((c & 0xf0) == 0xe0) {
			cp = c & 0x0f;
			len = 3;
		} else if ((c & 0xf8) == 0xf0) {
			cp = c & 0x07;
			len = 4;
		} else {
			return 0;
		}
		if (i + len > n)
			return 0;
		for (unsigned k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if (!(cp == 9 || cp == 10 || cp == 13 || (cp >= 0x20 && cp <= 0xd7ff) ||
		      (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff)))
			return 0;
		i += len;
	}
	return 1;
}

/* Bytes a message counts against MaximumMessageSize: body, attribute names, types and values. */
static size_t msg_size(const char *body, const cJSON *mattrs)
{
	size_t n = strlen(body);
	const cJSON *a;
	cJSON_ArrayForEach(a, mattrs) {
		n += strlen(a->string);
		const char *t = str_of(a, "DataType"), *sv = str_of(a, "StringValue"), *bv = str_of(a, "BinaryValue");
		n += (t ? strlen(t) : 0) + (sv ? strlen(sv) : 0) + (bv ? strlen(bv) * 3 / 4 : 0);
	}
	return n;
}

/* A send entry checked and, when valid, queued: 1 with MessageId and MD5 in
 * res; 0 with (code, message) set. */
struct sent {
	char code[64], message[200];
	char id[37], md5[33];
	int sender_fault;
};

static int send_one(struct fake *f, struct queue *q, const cJSON *en, struct sent *res)
{
	memset(res, 0, sizeof *res);
	res->sender_fault = 1;
	const cJSON *b = cJSON_GetObjectItemCaseSensitive(en, "MessageBody");
	const cJSON *ma = cJSON_GetObjectItemCaseSensitive(en, "MessageAttributes");
	const cJSON *ds = cJSON_GetObjectItemCaseSensitive(en, "DelaySeconds");
	static const char *const known[] = { "Id", "MessageBody", "MessageAttributes", "DelaySeconds",
					     "QueueUrl", NULL };
	const cJSON *it;
	cJSON_ArrayForEach(it, en) {
		size_t i = 0;
		while (known[i] && strcmp(known[i], it->string) != 0)
			i++;
		if (!known[i]) {
			snprintf(res->code, sizeof res->code, "InvalidParameterValue");
			snprintf(res->message, sizeof res->message,
				 "the fake's SQS does not know parameter %s of a message", it->string);
			return 0;
		}
	}
	if (!cJSON_IsString(b) || !b->valuestring[0]) {
		snprintf(res->code, sizeof res->code, "MissingParameter");
		snprintf(res->message, sizeof res->message, "The request must contain the parameter MessageBody.");
		return 0;
	}
	if (!valid_chars((const unsigned char *)b->valuestring, strlen(b->valuestring))) {
		snprintf(res->code, sizeof res->code, "InvalidMessageContents");
		snprintf(res->message, sizeof res->message,
			 "Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | #x20 to "
			 "#xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF");
		return 0;
	}
	if (ds && (!cJSON_IsNumber(ds) || ds->valuedouble < 0 || ds->valuedouble > 900 ||
		   ds->valuedouble != (double)(long)ds->valuedouble)) {
		snprintf(res->code, sizeof res->code, "InvalidParameterValue");
		snprintf(res->message, sizeof res->message,
			 "Value for parameter DelaySeconds is invalid. Reason: must be between 0 and 900, if provided.");
		return 0;
	}
	if (ma) {
		int n = 0, ok = cJSON_IsObject(ma);
		cJSON_ArrayForEach(it, ma) {
			const char *t = str_of(it, "DataType");
			n++;
			ok &= t && (tp_startswith(t, "String") || tp_startswith(t, "Number") ||
				    tp_startswith(t, "Binary")) &&
			      (str_of(it, "StringValue") || str_of(it, "BinaryValue"));
		}
		if (!ok || n > 10) {
			snprintf(res->code, sizeof res->code, "InvalidParameterValue");
			snprintf(res->message, sizeof res->message,
				 "MessageAttributes: at most 10, each with a DataType (String, Number, Binary) "
				 "and a StringValue or BinaryValue");
			return 0;
		}
	}
	size_t size = msg_size(b->valuestring, ma);
	if (size > (size_t)q->num[A_MAXSIZE]) {
		snprintf(res->code, sizeof res->code, "InvalidParameterValue");
		snprintf(res->message, sizeof res->message,
			 "One or more parameters are invalid. Reason: Message must be shorter than %d bytes.",
			 q->num[A_MAXSIZE]);
		return 0;
	}
	struct msg *m = tp_xcalloc(1, sizeof *m);
	m->len = strlen(b->valuestring);
	m->body = tp_xstrdup(b->valuestring);
	m->mattrs = ma && cJSON_GetArraySize(ma) ? cJSON_PrintUnformatted(ma) : NULL;
	m->seq = ++f->sqs->seq;
	m->sent_ms = now_ms(f);
	m->visible_ms = m->sent_ms + 1000LL * (ds ? (long)ds->valuedouble : q->num[A_DELAY]);
	new_id(f, m->id);
	push(q, m);
	snprintf(res->id, sizeof res->id, "%s", m->id);
	md5_hex(m->body, m->len, res->md5);
	return 1;
}

/* ---- receipt handles: "<seq>.<gen>.<check>" base64 ---- */

static char *handle_make(const struct msg *m)
{
	char raw[96];
	int n = snprintf(raw, sizeof raw, "fake.%llu.%u.%llx", (unsigned long long)m->seq, m->gen,
			 (unsigned long long)((m->seq * 0x9E3779B97F4A7C15ULL) ^ m->gen));
	return base64_encode_dup(raw, (size_t)n);
}

/* A base64 token's text (NUL-terminated, malloc'd), or NULL when it is not base64. */
static char *b64_text(const char *tok)
{
	char *raw = NULL;
	size_t n = 0;
	if (!tok || !*tok || base64_decode(tok, &raw, &n) < 0)
		return NULL;
	char *t = tp_xstrndup(raw, n);
	free(raw);
	return t;
}

static int handle_parse(const char *h, uint64_t *seq, uint32_t *gen)
{
	char *raw = b64_text(h);
	unsigned long long s = 0, chk = 0;
	unsigned g = 0;
	char tail;
	int ok = raw && sscanf(raw, "fake.%llu.%u.%llx%c", &s, &g, &chk, &tail) == 3 &&
		 chk == ((s * 0x9E3779B97F4A7C15ULL) ^ g);
	free(raw);
	*seq = s;
	*gen = g;
	return ok;
}

/* Delete by handle: 1 done (or already gone, or a stale handle: SQS answers
 * success and keeps the message), 0 invalid handle. */
static int delete_by_handle(struct queue *q, const char *h)
{
	uint64_t seq = 0;
	uint32_t gen = 0;
	if (!handle_parse(h, &seq, &gen))
		return 0;
	for (size_t i = 0; q->m && i < q->m->n; i++)
		if (q->m->v[i]->seq == seq) {
			if (q->m->v[i]->gen == gen)
				msg_free(take(q, i));
			break;
		}
	return 1;
}

/* ---- operations ---- */

typedef int (*op_fn)(struct fake *f, cJSON *in, struct http_response *out);

static int op_create_queue(struct fake *f, cJSON *in, struct http_response *out)
{
	static const char *const ok[] = { "QueueName", "Attributes", "tags", NULL };
	if (!only_known(out, "CreateQueue", in, ok))
		return 0;
	const char *name = str_of(in, "QueueName");
	if (!name)
		return sqs_error(out, "MissingParameter", "MissingParameter",
				 "The request must contain the parameter QueueName.");
	if (!valid_name(name))
		return BAD_PARAM(out, "Can only include alphanumeric characters, hyphens, or underscores. "
				 "1 to 80 in length");
	struct attrs a;
	const cJSON *tags = cJSON_GetObjectItemCaseSensitive(in, "tags");
	if (tags && !tags_valid(NULL, tags, out))
		return 0;
	if (!attrs_parse(f, cJSON_GetObjectItemCaseSensitive(in, "Attributes"), &a, out))
		return 0;
	struct fake_sqs *s = state(f);
	struct queue *q = entry(s, name);
	int64_t t = now_ms(f);
	if (q && !q->deleted) {
		const char *d = attrs_differ(q, &a);
		attrs_free(&a);
		if (d)
			return sqs_error(out, "QueueNameExists", "QueueAlreadyExists",
					 "A queue already exists with the same name and a different value for attribute %s",
					 d);
	} else if (q && t - q->deleted_ms < DELETED_RECENTLY_MS) {
		attrs_free(&a);
		return sqs_error(out, "QueueDeletedRecently", "AWS.SimpleQueueService.QueueDeletedRecently",
				 "You must wait 60 seconds after deleting a queue before you can create another "
				 "queue with the same name.");
	} else {
		if (!q)
			q = insert(s, name);
		q->deleted = 0;
		for (int k = 0; k < A_NNUM; k++)
			q->num[k] = numdefs[k].def;
		attrs_apply(q, &a);
		attrs_free(&a);
		if (tags)
			tags_rebuild(q, tags, NULL);
		q->created_ms = q->modified_ms = t;
		q->deleted_ms = q->purged_ms = 0;
		s->sorted_stale = 1;
	}
	cJSON *res = cJSON_CreateObject();
	char *url = queue_url(f, name);
	cJSON_AddStringToObject(res, "QueueUrl", url);
	free(url);
	fake_reply_json(out, 200, res);
	return 0;
}

static int op_get_queue_url(struct fake *f, cJSON *in, struct http_response *out)
{
	static const char *const ok[] = { "QueueName", "QueueOwnerAWSAccountId", NULL };
	if (!only_known(out, "GetQueueUrl", in, ok))
		return 0;
	const char *name = str_of(in, "QueueName"), *owner = str_of(in, "QueueOwnerAWSAccountId");
	if (!live(f, name) || (owner && strcmp(owner, f->account) != 0))
		return NO_QUEUE(out);
	cJSON *res = cJSON_CreateObject();
	char *url = queue_url(f, name);
	cJSON_AddStringToObject(res, "QueueUrl", url);
	free(url);
	fake_reply_json(out, 200, res);
	return 0;
}

static void add_num(cJSON *o, const char *name, long long v)
{
	char s[32];
	snprintf(s, sizeof s, "%lld", v);
	cJSON_AddStringToObject(o, name, s);
}

/* Whether GetQueueAttributes asked for nm ("All" asks for every one). */
static int asked(int all, const cJSON *names, const char *nm)
{
	const cJSON *n;
	cJSON_ArrayForEach(n, names)
		if (strcmp(cJSON_GetStringValue(n), nm) == 0)
			return 1;
	return all;
}

static int op_get_queue_attributes(struct fake *f, cJSON *in, struct http_response *out)
{
	static const char *const ok[] = { "QueueUrl", "AttributeNames", NULL };
	if (!only_known(out, "GetQueueAttributes", in, ok))
		return 0;
	struct queue *q = by_url(f, in, out);
	if (!q)
		return 0;
	const cJSON *names = cJSON_GetObjectItemCaseSensitive(in, "AttributeNames"), *n;
	int all = 0;
	cJSON_ArrayForEach(n, names) {
		const char *s = cJSON_GetStringValue(n);
		int known = s && strcmp(s, "All") == 0;
		all |= known;
		for (int k = 0; s && !known && k < A_NNUM; k++)
			known = strcmp(numdefs[k].name, s) == 0;
		for (int k = 0; s && !known && k < S_NSTR; k++)
			known = strcmp(strnames[k], s) == 0;
		for (int k = 0; s && !known && readonly[k]; k++)
			known = strcmp(readonly[k], s) == 0;
		if (!known)
			return sqs_error(out, "InvalidAttributeName", "InvalidAttributeName",
					 "Unknown Attribute %s.", s ? s : "(not a string)");
	}
	cJSON *attrs = cJSON_CreateObject();
	long vis, inflight, delayed;
	counts(f, q, &vis, &inflight, &delayed);
	const struct { const char *name; long long v; } ro[] = {
		{ "ApproximateNumberOfMessages", vis },
		{ "ApproximateNumberOfMessagesNotVisible", inflight },
		{ "ApproximateNumberOfMessagesDelayed", delayed },
		{ "CreatedTimestamp", q->created_ms / 1000 },
		{ "LastModifiedTimestamp", q->modified_ms / 1000 },
	};
	if (asked(all, names, "QueueArn")) {
		char *arn = queue_arn(f, q->name);
		cJSON_AddStringToObject(attrs, "QueueArn", arn);
		free(arn);
	}
	for (size_t i = 0; i < sizeof ro / sizeof ro[0]; i++)
		if (asked(all, names, ro[i].name))
			add_num(attrs, ro[i].name, ro[i].v);
	for (int k = 0; k < A_NNUM; k++) {
		if (!asked(all, names, numdefs[k].name) || (k == A_KMS_REUSE && !q->str[S_KMS_KEY]))
			continue;   /* the key reuse period shows only with a KMS key */
		if (numdefs[k].boolean)
			cJSON_AddStringToObject(attrs, numdefs[k].name, q->num[k] ? "true" : "false");
		else
			add_num(attrs, numdefs[k].name, q->num[k]);
	}
	for (int k = 0; k < S_NSTR; k++)
		if (q->str[k] && asked(all, names, strnames[k]))
			cJSON_AddStringToObject(attrs, strnames[k], q->str[k]);
	cJSON *res = cJSON_CreateObject();
	if (cJSON_GetArraySize(attrs))
		cJSON_AddItemToObject(res, "Attributes", attrs);
	else
		cJSON_Delete(attrs);
	fake_reply_json(out, 200, res);
	return 0;
}

static int op_set_queue_attributes(struct fake *f, cJSON *in, struct http_response *out)
{
	static const char *const ok[] = { "QueueUrl", "Attributes", NULL };
	if (!only_known(out, "SetQueueAttributes", in, ok))
		return 0;
	struct queue *q = by_url(f, in, out);
	if (!q)
		return 0;
	const cJSON *map = cJSON_GetObjectItemCaseSensitive(in, "Attributes");
	if (!map)
		return sqs_error(out, "MissingParameter", "MissingParameter",
				 "The request must contain the parameter Attributes.");
	struct attrs a;
	if (!attrs_parse(f, map, &a, out))
		return 0;
	attrs_apply(q, &a);
	attrs_free(&a);
	q->modified_ms = now_ms(f);
	fake_reply_json(out, 200, NULL);
	return 0;
}

static int op_delete_queue(struct fake *f, cJSON *in, struct http_response *out)
{
	static const char *const ok[] = { "QueueUrl", NULL };
	if (!only_known(out, "DeleteQueue", in, ok))
		return 0;
	struct queue *q = by_url(f, in, out);
	if (!q)
		return 0;
	queue_clear(q);
	q->deleted = 1;
	q->deleted_ms = now_ms(f);
	f->sqs->sorted_stale = 1;
	fake_reply_json(out, 200, NULL);
	return 0;
}

static int op_purge_queue(struct fake *f, cJSON *in, struct http_response *out)
{
	static const char *const ok[] = { "QueueUrl", NULL };
	if (!only_known(out, "PurgeQueue", in, ok))
		return 0;
	struct queue *q = by_url(f, in, out);
	if (!q)
		return 0;
	int64_t t = now_ms(f);
	if (q->purged_ms && t - q->purged_ms < PURGE_WINDOW_MS)
		return sqs_error(out, "PurgeQueueInProgress", "AWS.SimpleQueueService.PurgeQueueInProgress",
				 "Only one PurgeQueue operation on %s is allowed every 60 seconds.", q->name);
	q->purged_ms = t;
	msgs_clear(q);
	publish(f, q);
	fake_reply_json(out, 200, NULL);
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp((*(struct queue *const *)a)->name, (*(struct queue *const *)b)->name);
}

/* Live queues by name, rebuilt only after a queue came or went. */
static void sort_queues(struct fake_sqs *s)
{
	if (!s->sorted_stale && s->sorted)
		return;
	free(s->sorted);
	s->sorted = tp_xcalloc(s->n + 1, sizeof *s->sorted);
	s->nsorted = 0;
	for (size_t i = 0; i < s->nbucket; i++)
		for (struct queue *q = s->bucket[i]; q; q = q->next)
			if (!q->deleted)
				s->sorted[s->nsorted++] = q;
	qsort(s->sorted, s->nsorted, sizeof *s->sorted, by_name);
	s->sorted_stale = 0;
}

/* ListQueues: names in byte order from the prefix on; NextToken (the last
 * name returned, base64) only when MaxResults was given and more remain;
 * without MaxResults at most 1,000 ("[pages]" in awsmodel.py). */
static int op_list_queues(struct fake *f, cJSON *in, struct http_response *out)
{
	static const char *const ok[] = { "QueueNamePrefix", "MaxResults", "NextToken", NULL };
	if (!only_known(out, "ListQueues", in, ok))
		return 0;
	long max = 0;
	int has_max = int_of(out, in, "MaxResults", 1, LIST_MAX, &max);
	if (has_max < 0)
		return 0;
	const char *prefix = str_of(in, "QueueNamePrefix"), *token = str_of(in, "NextToken");
	if (!prefix)
		prefix = "";
	char *after = token ? b64_text(token) : NULL;
	if (token && (!has_max || !after || !tp_startswith(after, "q:"))) {
		free(after);
		return BAD_PARAM(out, "Invalid NextToken value.");
	}
	struct fake_sqs *s = state(f);
	sort_queues(s);
	size_t lo = 0, hi = s->nsorted, plen = strlen(prefix);
	const char *from = after ? after + 2 : prefix;
	while (lo < hi) {   /* the first name > after, or >= prefix */
		size_t mid = (lo + hi) / 2;
		int c = strcmp(s->sorted[mid]->name, from);
		if (c < 0 || (after && c == 0))
			lo = mid + 1;
		else
			hi = mid;
	}
	free(after);
	long lim = has_max ? max : LIST_MAX, n = 0;
	cJSON *res = cJSON_CreateObject(), *urls = cJSON_CreateArray();
	size_t i = lo;
	for (; i < s->nsorted && strncmp(s->sorted[i]->name, prefix, plen) == 0 && n < lim; i++, n++) {
		char *url = queue_url(f, s->sorted[i]->name);
		cJSON_AddItemToArray(urls, cJSON_CreateString(url));
		free(url);
	}
	if (n)
		cJSON_AddItemToObject(res, "QueueUrls", urls);
	else
		cJSON_Delete(urls);
	if (has_max && n == lim && i < s->nsorted && strncmp(s->sorted[i]->name, prefix, plen) == 0) {
		char *raw = tp_xasprintf("q:%s", s->sorted[i - 1]->name);
		char *tok = base64_encode_dup(raw, strlen(raw));
		cJSON_AddStringToObject(res, "NextToken", tok);
		free(tok);
		free(raw);
	}
	fake_reply_json(out, 200, res);
	return 0;
}

static int op_tag_queue(struct fake *f, cJSON *in, struct http_response *out)
{
	static const char *const ok[] = { "QueueUrl", "Tags", NULL };
	if (!only_known(out, "TagQueue", in, ok))
		return 0;
	struct queue *q = by_url(f, in, out);
	const cJSON *tags = cJSON_GetObjectItemCaseSensitive(in, "Tags");
	if (!q || !tags_valid(q, tags, out))
		return 0;
	tags_rebuild(q, tags, NULL);
	fake_reply_json(out, 200, NULL);
	return 0;
}

static int op_untag_queue(struct fake *f, cJSON *in, struct http_response *out)
{
	static const char *const ok[] = { "QueueUrl", "TagKeys", NULL };
	if (!only_known(out, "UntagQueue", in, ok))
		return 0;
	struct queue *q = by_url(f, in, out);
	if (!q)
		return 0;
	const cJSON *keys = cJSON_GetObjectItemCaseSensitive(in, "TagKeys");
	if (!cJSON_IsArray(keys))
		return BAD_PARAM(out, "TagKeys must be a list of tag keys");
	tags_rebuild(q, NULL, keys);   /* a key the queue lacks is no error */
	fake_reply_json(out, 200, NULL);
	return 0;
}

static int op_list_queue_tags(struct fake *f, cJSON *in, struct http_response *out)
{
	static const char *const ok[] = { "QueueUrl", NULL };
	if (!only_known(out, "ListQueueTags", in, ok))
		return 0;
	struct queue *q = by_url(f, in, out);
	if (!q)
		return 0;
	cJSON *res = cJSON_CreateObject();
	if (q->ntags)
		cJSON_AddItemToObject(res, "Tags", tags_json(q));
	fake_reply_json(out, 200, res);
	return 0;
}

static int op_send_message(struct fake *f, cJSON *in, struct http_response *out)
{
	struct queue *q = by_url(f, in, out);
	if (!q)
		return 0;
	struct sent r;
	if (!send_one(f, q, in, &r)) {
		if (strcmp(r.code, "InvalidMessageContents") == 0)
			return sqs_error(out, "InvalidMessageContents", "InvalidMessageContents", "%s", r.message);
		if (strcmp(r.code, "MissingParameter") == 0)
			return sqs_error(out, "MissingParameter", "MissingParameter", "%s", r.message);
		return BAD_PARAM(out, "%s", r.message);
	}
	publish_sent(f, q, 1);
	cJSON *res = cJSON_CreateObject();
	cJSON_AddStringToObject(res, "MessageId", r.id);
	cJSON_AddStringToObject(res, "MD5OfMessageBody", r.md5);
	fake_reply_json(out, 200, res);
	return 0;
}

/* Batch checks SQS makes on the whole request: entries 1..10, Ids valid
 * and distinct. 0 with the error written. */
/* sqs_error's answer, and 0 (the batch is refused). */
#define batch_error(...) (sqs_error(__VA_ARGS__), 0)

static int batch_valid(const cJSON *entries, struct http_response *out)
{
	int n = cJSON_GetArraySize(entries);
	if (!cJSON_IsArray(entries) || n == 0)
		return batch_error(out, "EmptyBatchRequest", "AWS.SimpleQueueService.EmptyBatchRequest",
				  "There should be at least one SendMessageBatchRequestEntry in the request.");
	if (n > BATCH_MAX)
		return batch_error(out, "TooManyEntriesInBatchRequest",
				  "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
				  "Maximum number of entries per request are %d. You have sent %d.", BATCH_MAX, n);
	for (int i = 0; i < n; i++) {
		const char *id = str_of(cJSON_GetArrayItem(entries, i), "Id");
		int ok = id && *id && strlen(id) <= 80;
		for (const char *p = id; ok && *p; p++)
			ok = isalnum((unsigned char)*p) || *p == '-' || *p == '_';
		if (!ok)
			return batch_error(out, "InvalidBatchEntryId", "AWS.SimpleQueueService.InvalidBatchEntryId",
					  "A batch entry id can only contain alphanumeric characters, hyphens and "
					  "underscores. It can be at most 80 letters long.");
		for (int k = 0; k < i; k++)
			if (strcmp(id, str_of(cJSON_GetArrayItem(entries, k), "Id")) == 0)
				return batch_error(out, "BatchEntryIdsNotDistinct",
						  "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
						  "Id %s repeated.", id);
	}
	return 1;
}

static void add_failed(cJSON *failed, const char *id, const char *code, const char *msg, int sender)
{
	cJSON *e = cJSON_CreateObject();
	cJSON_AddStringToObject(e, "Id", id);
	cJSON_AddBoolToObject(e, "SenderFault", sender);
	cJSON_AddStringToObject(e, "Code", code);
	cJSON_AddStringToObject(e, "Message", msg);
	cJSON_AddItemToArray(failed, e);
}

static int op_send_message_batch(struct fake *f, cJSON *in, struct http_response *out)
{
	static const char *const ok[] = { "QueueUrl", "Entries", NULL };
	if (!only_known(out, "SendMessageBatch", in, ok))
		return 0;
	struct queue *q = by_url(f, in, out);
	const cJSON *entries = cJSON_GetObjectItemCaseSensitive(in, "Entries"), *en;
	if (!q || !batch_valid(entries, out))
		return 0;
	size_t total = 0;
	cJSON_ArrayForEach(en, entries) {
		const char *b = str_of(en, "MessageBody");
		total += msg_size(b ? b : "", cJSON_GetObjectItemCaseSensitive(en, "MessageAttributes"));
	}
	/* 256 KiB a batch; one message alone may be as large as the queue allows */
	if (cJSON_GetArraySize(entries) > 1 && total > BATCH_BYTES)
		return sqs_error(out, "BatchRequestTooLong", "AWS.SimpleQueueService.BatchRequestTooLong",
				 "Batch requests cannot be longer than %d bytes. You have sent %zu bytes.",
				 BATCH_BYTES, total);
	cJSON *res = cJSON_CreateObject(), *okl = cJSON_CreateArray(), *failed = cJSON_CreateArray();
	long sent = 0;
	cJSON_ArrayForEach(en, entries) {
		struct sent r;
		const char *id = str_of(en, "Id");
		if (send_one(f, q, en, &r)) {
			cJSON *e = cJSON_CreateObject();
			cJSON_AddStringToObject(e, "Id", id);
			cJSON_AddStringToObject(e, "MessageId", r.id);
			cJSON_AddStringToObject(e, "MD5OfMessageBody", r.md5);
			cJSON_AddItemToArray(okl, e);
			sent++;
		} else {
			add_failed(failed, id, r.code, r.message, r.sender_fault);
		}
	}
	publish_sent(f, q, sent);
	cJSON_AddItemToObject(res, "Successful", okl);
	cJSON_AddItemToObject(res, "Failed", failed);
	fake_reply_json(out, 200, res);
	return 0;
}

/* The DLQ and maxReceiveCount of q's RedrivePolicy; NULL when none (or the DLQ is gone). */
static struct queue *redrive_target(struct fake *f, const struct queue *q, long *max)
{
	if (!q->str[S_REDRIVE])
		return NULL;
	cJSON *j = cJSON_Parse(q->str[S_REDRIVE]);
	char nb[96];
	struct queue *d = live(f, arn_name(f, str_of(j, "deadLetterTargetArn"), nb, sizeof nb));
	*max = (long)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(j, "maxReceiveCount"));
	cJSON_Delete(j);
	return d;
}

/* Whether a ReceiveMessage name list asks for name ("All", ".*", "prefix.*"). */
static int names_ask(const cJSON *names, const char *name)
{
	const cJSON *n;
	cJSON_ArrayForEach(n, names) {
		const char *s = cJSON_GetStringValue(n);
		size_t l = s ? strlen(s) : 0;
		if (!s)
			continue;
		if (strcmp(s, "All") == 0 || strcmp(s, ".*") == 0 || strcmp(s, name) == 0 ||
		    (l > 2 && strcmp(s + l - 2, ".*") == 0 && strncmp(s, name, l - 2) == 0))
			return 1;
	}
	return 0;
}

static cJSON *message_json(struct fake *f, const struct msg *m, const cJSON *sys, const cJSON *user)
{
	cJSON *o = cJSON_CreateObject();
	char md5[33], *h = handle_make(m);
	md5_hex(m->body, m->len, md5);
	cJSON_AddStringToObject(o, "MessageId", m->id);
	cJSON_AddStringToObject(o, "ReceiptHandle", h);
	cJSON_AddStringToObject(o, "MD5OfBody", md5);
	cJSON_AddStringToObject(o, "Body", m->body);
	free(h);
	cJSON *a = cJSON_CreateObject();
	if (names_ask(sys, "ApproximateReceiveCount"))
		add_num(a, "ApproximateReceiveCount", m->receives);
	if (names_ask(sys, "SentTimestamp"))
		add_num(a, "SentTimestamp", m->sent_ms);
	if (names_ask(sys, "ApproximateFirstReceiveTimestamp"))
		add_num(a, "ApproximateFirstReceiveTimestamp", m->first_receive_ms);
	if (names_ask(sys, "SenderId"))
		cJSON_AddStringToObject(a, "SenderId", f->account);
	if (cJSON_GetArraySize(a))
		cJSON_AddItemToObject(o, "Attributes", a);
	else
		cJSON_Delete(a);
	cJSON *ma = m->mattrs ? cJSON_Parse(m->mattrs) : NULL, *it, *keep = cJSON_CreateObject();
	while (ma && (it = ma->child)) {
		cJSON_DetachItemViaPointer(ma, it);
		if (names_ask(user, it->string))
			cJSON_AddItemToObject(keep, it->string, it);
		else
			cJSON_Delete(it);
	}
	cJSON_Delete(ma);
	if (cJSON_GetArraySize(keep))
		cJSON_AddItemToObject(o, "MessageAttributes", keep);
	else
		cJSON_Delete(keep);
	return o;
}

static int op_receive_message(struct fake *f, cJSON *in, struct http_response *out)
{
	static const char *const ok[] = { "QueueUrl", "MaxNumberOfMessages", "WaitTimeSeconds",
					  "VisibilityTimeout", "AttributeNames", "MessageSystemAttributeNames",
					  "MessageAttributeNames", NULL };
	if (!only_known(out, "ReceiveMessage", in, ok))
		return 0;
	struct queue *q = by_url(f, in, out);
	if (!q)
		return 0;
	long max = 1, wait = 0, vis = q->num[A_VISIBILITY];
	if (int_of(out, in, "MaxNumberOfMessages", 1, 10, &max) < 0 ||
	    int_of(out, in, "WaitTimeSeconds", 0, 20, &wait) < 0 ||
	    int_of(out, in, "VisibilityTimeout", 0, 43200, &vis) < 0)
		return 0;
	const cJSON *sys = cJSON_GetObjectItemCaseSensitive(in, "MessageSystemAttributeNames");
	if (!sys)
		sys = cJSON_GetObjectItemCaseSensitive(in, "AttributeNames");
	const cJSON *user = cJSON_GetObjectItemCaseSensitive(in, "MessageAttributeNames");
	expire(f, q);
	int64_t t = now_ms(f);
	long dmax = 0;
	struct queue *dlq = redrive_target(f, q, &dmax);
	cJSON *res = cJSON_CreateObject(), *msgs = cJSON_CreateArray();
	long got = 0, redriven = 0;
	for (size_t i = 0; q->m && i < q->m->n && got < max;) {
		struct msg *m = q->m->v[i];
		if (m->visible_ms > t) {
			i++;
			continue;
		}
		if (dlq && m->receives >= dmax) {
			/* "When the ReceiveCount for a message exceeds the maxReceiveCount
			 * for a queue, Amazon SQS moves the message to a dead-letter queue" */
			take(q, i);
			m->receives = 0;
			m->first_receive_ms = 0;
			m->visible_ms = t;
			free(m->source);
			m->source = tp_xstrdup(q->name);
			push(dlq, m);
			redriven++;
			continue;
		}
		m->receives++;
		m->gen++;
		if (!m->first_receive_ms)
			m->first_receive_ms = t;
		m->visible_ms = t + 1000LL * vis;
		cJSON_AddItemToArray(msgs, message_json(f, m, sys, user));
		got++;
		i++;
	}
	if (got || redriven)
		publish(f, q);
	if (redriven)
		publish(f, dlq);
	if (got)
		cJSON_AddItemToObject(res, "Messages", msgs);
	else
		cJSON_Delete(msgs);
	fake_reply_json(out, 200, res);
	return 0;
}

static int op_delete_message(struct fake *f, cJSON *in, struct http_response *out)
{
	static const char *const ok[] = { "QueueUrl", "ReceiptHandle", NULL };
	if (!only_known(out, "DeleteMessage", in, ok))
		return 0;
	struct queue *q = by_url(f, in, out);
	if (!q)
		return 0;
	const char *h = str_of(in, "ReceiptHandle");
	if (!delete_by_handle(q, h))
		return sqs_error(out, "ReceiptHandleIsInvalid", "ReceiptHandleIsInvalid",
				 "The input receipt handle \"%s\" is not a valid receipt handle.", h ? h : "");
	publish(f, q);
	fake_reply_json(out, 200, NULL);
	return 0;
}

static int op_delete_message_batch(struct fake *f, cJSON *in, struct http_response *out)
{
	static const char *const ok[] = { "QueueUrl", "Entries", NULL };
	if (!only_known(out, "DeleteMessageBatch", in, ok))
		return 0;
	struct queue *q = by_url(f, in, out);
	const cJSON *entries = cJSON_GetObjectItemCaseSensitive(in, "Entries"), *en;
	if (!q || !batch_valid(entries, out))
		return 0;
	cJSON *res = cJSON_CreateObject(), *okl = cJSON_CreateArray(), *failed = cJSON_CreateArray();
	cJSON_ArrayForEach(en, entries) {
		const char *id = str_of(en, "Id"), *h = str_of(en, "ReceiptHandle");
		if (delete_by_handle(q, h)) {
			cJSON *e = cJSON_CreateObject();
			cJSON_AddStringToObject(e, "Id", id);
			cJSON_AddItemToArray(okl, e);
		} else {
			char msg[200];
			snprintf(msg, sizeof msg, "The input receipt handle \"%.120s\" is not a valid receipt handle.",
				 h ? h : "");
			add_failed(failed, id, "ReceiptHandleIsInvalid", msg, 1);
		}
	}
	publish(f, q);
	cJSON_AddItemToObject(res, "Successful", okl);
	cJSON_AddItemToObject(res, "Failed", failed);
	fake_reply_json(out, 200, res);
	return 0;
}

/* Whether some live queue's RedrivePolicy names arn as its DLQ. */
static int is_dlq(struct fake *f, const char *arn)
{
	struct fake_sqs *s = f->sqs;
	for (size_t i = 0; s && i < s->nbucket; i++)
		for (struct queue *q = s->bucket[i]; q; q = q->next)
			if (!q->deleted && q->str[S_REDRIVE] && strstr(q->str[S_REDRIVE], arn)) {
				cJSON *j = cJSON_Parse(q->str[S_REDRIVE]);
				int yes = strcmp(str_of(j, "deadLetterTargetArn"), arn) == 0;
				cJSON_Delete(j);
				if (yes)
					return 1;
			}
	return 0;
}

/* StartMessageMoveTask: the DLQ's messages to DestinationArn (absent: each
 * to the queue it came from). The fake moves them at once. */
static int op_start_message_move_task(struct fake *f, cJSON *in, struct http_response *out)
{
	static const char *const ok[] = { "SourceArn", "DestinationArn", "MaxNumberOfMessagesPerSecond", NULL };
	if (!only_known(out, "StartMessageMoveTask", in, ok))
		return 0;
	char nb[96], db[96];
	const char *src_arn = str_of(in, "SourceArn"), *dst_arn = str_of(in, "DestinationArn");
	struct queue *src = live(f, arn_name(f, src_arn, nb, sizeof nb));
	struct queue *dst = dst_arn ? live(f, arn_name(f, dst_arn, db, sizeof db)) : NULL;
	if (!src || (dst_arn && !dst))
		return sqs_error(out, "ResourceNotFoundException", "ResourceNotFoundException",
				 "The resource that you specified for the %s parameter doesn't exist.",
				 src ? "DestinationArn" : "SourceArn");
	if (!is_dlq(f, src_arn))
		return BAD_PARAM(out, "Source queue must be configured as a Dead Letter Queue.");
	int64_t t = now_ms(f);
	for (size_t i = 0; src->m && i < src->m->n;) {
		struct msg *m = src->m->v[i];
		struct queue *to = dst ? dst : live(f, m->source);
		if (!to || to == src || m->visible_ms > t) {
			i++;   /* its source is gone, or it is in flight: it stays */
			continue;
		}
		take(src, i);
		m->receives = 0;
		m->first_receive_ms = 0;
		free(m->source);
		m->source = NULL;
		push(to, m);
		publish(f, to);
	}
	publish(f, src);
	cJSON *res = cJSON_CreateObject();
	char *h = tp_xasprintf("fake-move-%llu-%s", (unsigned long long)++state(f)->seq, src->name);
	char *tok = base64_encode_dup(h, strlen(h));
	cJSON_AddStringToObject(res, "TaskHandle", tok);
	free(tok);
	free(h);
	fake_reply_json(out, 200, res);
	return 0;
}

static const struct { const char *name; op_fn fn; } ops[] = {
	{ "CreateQueue", op_create_queue },
	{ "GetQueueUrl", op_get_queue_url },
	{ "GetQueueAttributes", op_get_queue_attributes },
	{ "SetQueueAttributes", op_set_queue_attributes },
	{ "DeleteQueue", op_delete_queue },
	{ "PurgeQueue", op_purge_queue },
	{ "ListQueues", op_list_queues },
	{ "TagQueue", op_tag_queue },
	{ "UntagQueue", op_untag_queue },
	{ "ListQueueTags", op_list_queue_tags },
	{ "SendMessage", op_send_message },
	{ "SendMessageBatch", op_send_message_batch },
	{ "ReceiveMessage", op_receive_message },
	{ "DeleteMessage", op_delete_message },
	{ "DeleteMessageBatch", op_delete_message_batch },
	{ "StartMessageMoveTask", op_start_message_move_task },
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
			char *arn = queue_arn(f, q->name);
			cJSON *t = tags_json(q);
			fn(ctx, arn, t);
			cJSON_Delete(t);
			free(arn);
		}
}

int fake_sqs_queue_arn_exists(struct fake *f, const char *arn)
{
	char nb[96];
	return live(f, arn_name(f, arn, nb, sizeof nb)) != NULL;
}
