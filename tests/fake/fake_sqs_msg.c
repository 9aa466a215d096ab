/* fake_sqs_msg.c: the fake SQS's messages: SendMessage(Batch) with SQS's
 * checks and batch limits, ReceiveMessage (visibility timeout, receipt
 * handles, ApproximateReceiveCount, redrive to the DLQ after
 * maxReceiveCount), DeleteMessage(Batch), ChangeMessageVisibility,
 * StartMessageMoveTask, retention, and the AWS/SQS metrics they publish. */
#include "fake/fake_sqs_int.h"

#include <bearssl.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base64.h"

/* ---- messages ---- */

/* Messages past the retention period are gone. */
void fsqs_expire(struct fake *f, struct queue *q)
{
	if (!q->m)
		return;
	int64_t t = fsqs_now_ms(f), keep = (int64_t)q->num[A_RETENTION] * 1000;
	size_t o = 0;
	for (size_t i = 0; i < q->m->n; i++) {
		struct msg *m = q->m->v[i];
		if (t - m->sent_ms >= keep)
			fsqs_msg_free(m);
		else
			q->m->v[o++] = m;
	}
	q->m->n = o;
	if (!o)
		fsqs_msgs_clear(q);
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
		fsqs_msgs_clear(q);
	return m;
}

void fsqs_counts(struct fake *f, struct queue *q, long *visible, long *inflight, long *delayed)
{
	*visible = *inflight = *delayed = 0;
	fsqs_expire(f, q);
	int64_t t = fsqs_now_ms(f);
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
 * published whenever its messages change (a queue of PUBLISH_BIG or more: at
 * most once a simulated second), where SQS samples each minute. */
void fsqs_publish(struct fake *f, struct queue *q)
{
	int64_t t = fsqs_now_ms(f), oldest = t;
	/* counting is O(messages): a big queue samples at most once a simulated second */
	if (q->m && q->m->n >= PUBLISH_BIG && t - q->m->published_ms < 1000)
		return;
	long vis, inflight, delayed;
	fsqs_counts(f, q, &vis, &inflight, &delayed);
	if (q->m)
		q->m->published_ms = t;
	for (size_t i = 0; q->m && i < q->m->n; i++)
		oldest = q->m->v[i]->sent_ms < oldest ? q->m->v[i]->sent_ms : oldest;
	fake_cloudwatch_put(f, "AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", q->name, t, (double)vis);
	fake_cloudwatch_put(f, "AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", q->name, t,
			    (double)((t - oldest) / 1000));
}

static void fsqs_publish_sent(struct fake *f, struct queue *q, long n)
{
	if (n > 0)
		fake_cloudwatch_put(f, "AWS/SQS", "NumberOfMessagesSent", "QueueName", q->name, fsqs_now_ms(f), (double)n);
	fsqs_publish(f, q);
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
		const char *t = fsqs_str_of(a, "DataType"), *sv = fsqs_str_of(a, "StringValue"), *bv = fsqs_str_of(a, "BinaryValue");
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
			const char *t = fsqs_str_of(it, "DataType");
			n++;
			ok &= t && (tp_startswith(t, "String") || tp_startswith(t, "Number") ||
				    tp_startswith(t, "Binary")) &&
			      (fsqs_str_of(it, "StringValue") || fsqs_str_of(it, "BinaryValue"));
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
	m->sent_ms = fsqs_now_ms(f);
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

static int handle_parse(const char *h, uint64_t *seq, uint32_t *gen)
{
	char *raw = fsqs_b64_text(h);
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
				fsqs_msg_free(take(q, i));
			break;
		}
	return 1;
}

int fsqs_op_send_message(struct fake *f, cJSON *in, struct http_response *out)
{
	struct queue *q = fsqs_by_url(f, in, out);
	if (!q)
		return 0;
	struct sent r;
	if (!send_one(f, q, in, &r)) {
		if (strcmp(r.code, "InvalidMessageContents") == 0)
			return fsqs_error(out, "InvalidMessageContents", "InvalidMessageContents", "%s", r.message);
		if (strcmp(r.code, "MissingParameter") == 0)
			return fsqs_error(out, "MissingParameter", "MissingParameter", "%s", r.message);
		return BAD_PARAM(out, "%s", r.message);
	}
	fsqs_publish_sent(f, q, 1);
	cJSON *res = cJSON_CreateObject();
	cJSON_AddStringToObject(res, "MessageId", r.id);
	cJSON_AddStringToObject(res, "MD5OfMessageBody", r.md5);
	fake_reply_json(out, 200, res);
	return 0;
}

/* Batch checks SQS makes on the whole request: entries 1..10, Ids valid
 * and distinct. 0 with the error written. */
/* sqs_error's answer, and 0 (the batch is refused). */
#define batch_error(...) (fsqs_error(__VA_ARGS__), 0)

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
		const char *id = fsqs_str_of(cJSON_GetArrayItem(entries, i), "Id");
		int ok = id && *id && strlen(id) <= 80;
		for (const char *p = id; ok && *p; p++)
			ok = isalnum((unsigned char)*p) || *p == '-' || *p == '_';
		if (!ok)
			return batch_error(out, "InvalidBatchEntryId", "AWS.SimpleQueueService.InvalidBatchEntryId",
					  "A batch entry id can only contain alphanumeric characters, hyphens and "
					  "underscores. It can be at most 80 letters long.");
		for (int k = 0; k < i; k++)
			if (strcmp(id, fsqs_str_of(cJSON_GetArrayItem(entries, k), "Id")) == 0)
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

int fsqs_op_send_message_batch(struct fake *f, cJSON *in, struct http_response *out)
{
	static const char *const ok[] = { "QueueUrl", "Entries", NULL };
	if (!fsqs_only_known(out, "SendMessageBatch", in, ok))
		return 0;
	struct queue *q = fsqs_by_url(f, in, out);
	const cJSON *entries = cJSON_GetObjectItemCaseSensitive(in, "Entries"), *en;
	if (!q || !batch_valid(entries, out))
		return 0;
	size_t total = 0;
	cJSON_ArrayForEach(en, entries) {
		const char *b = fsqs_str_of(en, "MessageBody");
		total += msg_size(b ? b : "", cJSON_GetObjectItemCaseSensitive(en, "MessageAttributes"));
	}
	/* 256 KiB a batch; one message alone may be as large as the queue allows */
	if (cJSON_GetArraySize(entries) > 1 && total > BATCH_BYTES)
		return fsqs_error(out, "BatchRequestTooLong", "AWS.SimpleQueueService.BatchRequestTooLong",
				 "Batch requests cannot be longer than %d bytes. You have sent %zu bytes.",
				 BATCH_BYTES, total);
	cJSON *res = cJSON_CreateObject(), *okl = cJSON_CreateArray(), *failed = cJSON_CreateArray();
	long sent = 0;
	cJSON_ArrayForEach(en, entries) {
		struct sent r;
		const char *id = fsqs_str_of(en, "Id");
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
	fsqs_publish_sent(f, q, sent);
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
	struct queue *d = fsqs_live(f, fsqs_arn_name(f, fsqs_str_of(j, "deadLetterTargetArn"), nb, sizeof nb));
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
		fsqs_add_num(a, "ApproximateReceiveCount", m->receives);
	if (names_ask(sys, "SentTimestamp"))
		fsqs_add_num(a, "SentTimestamp", m->sent_ms);
	if (names_ask(sys, "ApproximateFirstReceiveTimestamp"))
		fsqs_add_num(a, "ApproximateFirstReceiveTimestamp", m->first_receive_ms);
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

int fsqs_op_receive_message(struct fake *f, cJSON *in, struct http_response *out)
{
	static const char *const ok[] = { "QueueUrl", "MaxNumberOfMessages", "WaitTimeSeconds",
					  "VisibilityTimeout", "AttributeNames", "MessageSystemAttributeNames",
					  "MessageAttributeNames", NULL };
	if (!fsqs_only_known(out, "ReceiveMessage", in, ok))
		return 0;
	struct queue *q = fsqs_by_url(f, in, out);
	if (!q)
		return 0;
	long max = 1, wait = 0, vis = q->num[A_VISIBILITY];
	if (fsqs_int_of(out, in, "MaxNumberOfMessages", 1, 10, &max) < 0 ||
	    fsqs_int_of(out, in, "WaitTimeSeconds", 0, 20, &wait) < 0 ||
	    fsqs_int_of(out, in, "VisibilityTimeout", 0, 43200, &vis) < 0)
		return 0;
	const cJSON *sys = cJSON_GetObjectItemCaseSensitive(in, "MessageSystemAttributeNames");
	if (!sys)
		sys = cJSON_GetObjectItemCaseSensitive(in, "AttributeNames");
	const cJSON *user = cJSON_GetObjectItemCaseSensitive(in, "MessageAttributeNames");
	fsqs_expire(f, q);
	int64_t t = fsqs_now_ms(f);
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
		fsqs_publish(f, q);
	if (redriven)
		fsqs_publish(f, dlq);
	if (got)
		cJSON_AddItemToObject(res, "Messages", msgs);
	else
		cJSON_Delete(msgs);
	fake_reply_json(out, 200, res);
	return 0;
}

int fsqs_op_delete_message(struct fake *f, cJSON *in, struct http_response *out)
{
	static const char *const ok[] = { "QueueUrl", "ReceiptHandle", NULL };
	if (!fsqs_only_known(out, "DeleteMessage", in, ok))
		return 0;
	struct queue *q = fsqs_by_url(f, in, out);
	if (!q)
		return 0;
	const char *h = fsqs_str_of(in, "ReceiptHandle");
	if (!delete_by_handle(q, h))
		return fsqs_error(out, "ReceiptHandleIsInvalid", "ReceiptHandleIsInvalid",
				 "The input receipt handle \"%s\" is not a valid receipt handle.", h ? h : "");
	fsqs_publish(f, q);
	fake_reply_json(out, 200, NULL);
	return 0;
}

int fsqs_op_delete_message_batch(struct fake *f, cJSON *in, struct http_response *out)
{
	static const char *const ok[] = { "QueueUrl", "Entries", NULL };
	if (!fsqs_only_known(out, "DeleteMessageBatch", in, ok))
		return 0;
	struct queue *q = fsqs_by_url(f, in, out);
	const cJSON *entries = cJSON_GetObjectItemCaseSensitive(in, "Entries"), *en;
	if (!q || !batch_valid(entries, out))
		return 0;
	cJSON *res = cJSON_CreateObject(), *okl = cJSON_CreateArray(), *failed = cJSON_CreateArray();
	cJSON_ArrayForEach(en, entries) {
		const char *id = fsqs_str_of(en, "Id"), *h = fsqs_str_of(en, "ReceiptHandle");
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
	fsqs_publish(f, q);
	cJSON_AddItemToObject(res, "Successful", okl);
	cJSON_AddItemToObject(res, "Failed", failed);
	fake_reply_json(out, 200, res);
	return 0;
}

/* ChangeMessageVisibility: an in-flight message visible again after
 * VisibilityTimeout seconds from now, at most 12 hours after its first
 * receive ("the visibility timeout for a message can't be extended beyond
 * 12 hours"). */
int fsqs_op_change_message_visibility(struct fake *f, cJSON *in, struct http_response *out)
{
	static const char *const ok[] = { "QueueUrl", "ReceiptHandle", "VisibilityTimeout", NULL };
	if (!fsqs_only_known(out, "ChangeMessageVisibility", in, ok))
		return 0;
	struct queue *q = fsqs_by_url(f, in, out);
	if (!q)
		return 0;
	long vis = 0;
	int has = fsqs_int_of(out, in, "VisibilityTimeout", 0, 43200, &vis);
	if (has < 0)
		return 0;
	if (!has)
		return fsqs_error(out, "MissingParameter", "MissingParameter",
				 "The request must contain the parameter VisibilityTimeout.");
	const char *h = fsqs_str_of(in, "ReceiptHandle");
	uint64_t seq = 0;
	uint32_t gen = 0;
	if (!handle_parse(h, &seq, &gen))
		return fsqs_error(out, "ReceiptHandleIsInvalid", "ReceiptHandleIsInvalid",
				 "The input receipt handle \"%s\" is not a valid receipt handle.", h ? h : "");
	fsqs_expire(f, q);
	struct msg *m = NULL;
	for (size_t i = 0; q->m && i < q->m->n && !m; i++)
		if (q->m->v[i]->seq == seq)
			m = q->m->v[i];
	if (!m || m->gen != gen)
		return fsqs_error(out, "ReceiptHandleIsInvalid", "ReceiptHandleIsInvalid",
				 "The receipt handle has expired.");
	int64_t t = fsqs_now_ms(f);
	if (m->visible_ms <= t)
		return fsqs_error(out, "MessageNotInflight", "AWS.SimpleQueueService.MessageNotInflight",
				 "Message does not exist or is not available for visibility timeout change.");
	if (t + 1000LL * vis > m->first_receive_ms + 43200000LL)
		return BAD_PARAM(out, "Value %ld for parameter VisibilityTimeout is invalid. Reason: Total "
				 "VisibilityTimeout for the message is beyond the limit [43200 seconds].", vis);
	m->visible_ms = t + 1000LL * vis;
	fsqs_publish(f, q);
	fake_reply_json(out, 200, NULL);
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
				int yes = strcmp(fsqs_str_of(j, "deadLetterTargetArn"), arn) == 0;
				cJSON_Delete(j);
				if (yes)
					return 1;
			}
	return 0;
}

/* StartMessageMoveTask: the DLQ's messages to DestinationArn (absent: each
 * to the queue it came from). The fake moves them at once. */
int fsqs_op_start_message_move_task(struct fake *f, cJSON *in, struct http_response *out)
{
	static const char *const ok[] = { "SourceArn", "DestinationArn", "MaxNumberOfMessagesPerSecond", NULL };
	if (!fsqs_only_known(out, "StartMessageMoveTask", in, ok))
		return 0;
	char nb[96], db[96];
	const char *src_arn = fsqs_str_of(in, "SourceArn"), *dst_arn = fsqs_str_of(in, "DestinationArn");
	struct queue *src = fsqs_live(f, fsqs_arn_name(f, src_arn, nb, sizeof nb));
	struct queue *dst = dst_arn ? fsqs_live(f, fsqs_arn_name(f, dst_arn, db, sizeof db)) : NULL;
	if (!src || (dst_arn && !dst))
		return fsqs_error(out, "ResourceNotFoundException", "ResourceNotFoundException",
				 "The resource that you specified for the %s parameter doesn't exist.",
				 src ? "DestinationArn" : "SourceArn");
	if (!is_dlq(f, src_arn))
		return BAD_PARAM(out, "Source queue must be configured as a Dead Letter Queue.");
	int64_t t = fsqs_now_ms(f);
	for (size_t i = 0; src->m && i < src->m->n;) {
		struct msg *m = src->m->v[i];
		struct queue *to = dst ? dst : fsqs_live(f, m->source);
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
		fsqs_publish(f, to);
	}
	fsqs_publish(f, src);
	cJSON *res = cJSON_CreateObject();
	char *h = tp_xasprintf("fake-move-%llu-%s", (unsigned long long)++fsqs_state(f)->seq, src->name);
	char *tok = base64_encode_dup(h, strlen(h));
	cJSON_AddStringToObject(res, "TaskHandle", tok);
	free(tok);
	free(h);
	fake_reply_json(out, 200, res);
	return 0;
}

