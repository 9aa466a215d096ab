/* send.c: SendMessageBatch in batches (see send.h). */
#include "core/send.h"

#include "aws/awsjson.h"
#include "aws/sqs.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Length of the UTF-8 sequence at s with its code point, 0 when invalid
 * (overlong, surrogate, beyond U+10FFFF, cut short). */
static int utf8_next(const unsigned char *s, size_t left, unsigned *cp)
{
	unsigned c = s[0], min;
	int n;
	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if ((c & 0xe0) == 0xc0)
		n = 2, min = 0x80, *cp = c & 0x1f;
	else if ((c & 0xf0) == 0xe0)
		n = 3, min = 0x800, *cp = c & 0x0f;
	else if ((c & 0xf8) == 0xf0)
		n = 4, min = 0x10000, *cp = c & 0x07;
	else
		return 0;
	if ((size_t)n > left)
		return 0;
	for (int i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		*cp = *cp << 6 | (s[i] & 0x3f);
	}
	if (*cp < min || *cp > 0x10ffff || (*cp >= 0xd800 && *cp <= 0xdfff))
		return 0;
	return n;
}

/* The characters SendMessage allows (XML 1.0's Char production). */
static int allowed(unsigned cp)
{
	return cp == 0x9 || cp == 0xa || cp == 0xd || (cp >= 0x20 && cp <= 0xd7ff) ||
	       (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff);
}

int send_check_body(const char *body, size_t len, char *why, size_t why_len)
{
	if (len == 0) {
		snprintf(why, why_len, "empty task (SQS needs at least 1 character)");
		return -1;
	}
	if (len > SEND_MESSAGE_MAX) {
		snprintf(why, why_len, "task is %zu bytes; SQS takes at most %d", len, SEND_MESSAGE_MAX);
		return -1;
	}
	const unsigned char *s = (const unsigned char *)body;
	for (size_t i = 0; i < len;) {
		unsigned cp;
		int n = utf8_next(s + i, len - i, &cp);
		if (n == 0) {
			snprintf(why, why_len, "byte %zu is not UTF-8 (SQS takes text only)", i + 1);
			return -1;
		}
		if (!allowed(cp)) {
			snprintf(why, why_len, "character U+%04X at byte %zu is one SQS rejects", cp, i + 1);
			return -1;
		}
		i += (size_t)n;
	}
	return 0;
}

static void add_failure(struct send_result *r, long line, const char *code, const char *msg)
{
	/* capacity 4, then doubled whenever the count reaches a power of two */
	size_t n = r->n_failed;
	if (n == 0)
		r->failed = tp_xrealloc(r->failed, 4 * sizeof *r->failed);
	else if (n >= 4 && (n & (n - 1)) == 0)
		r->failed = tp_xrealloc(r->failed, 2 * n * sizeof *r->failed);
	struct send_failure *f = &r->failed[r->n_failed++];
	f->line = line;
	snprintf(f->code, sizeof f->code, "%s", code);
	snprintf(f->message, sizeof f->message, "%s", msg);
}

static int cmp_failure(const void *a, const void *b)
{
	const struct send_failure *x = a, *y = b;
	return (x->line > y->line) - (x->line < y->line);
}

/* A batch: tasks idx[from..to) of the checked list. */
struct batch {
	size_t from, to;
};

void send_tasks(struct aws *a, const char *queue_url, const struct send_task *t, size_t n,
		const struct send_opts *o, struct send_result *r)
{
	size_t *ok = tp_xcalloc(n + 1, sizeof *ok), nok = 0;
	for (size_t i = 0; i < n; i++) {
		char why[200];
		if (send_check_body(t[i].body, t[i].len, why, sizeof why) < 0)
			add_failure(r, t[i].line, "InvalidTask", why);
		else
			ok[nok++] = i;
	}
	/* Batches of at most 10 tasks and 256 KiB; a bigger task alone. */
	struct batch *bs = tp_xcalloc(nok + 1, sizeof *bs);
	size_t nb = 0;
	for (size_t k = 0; k < nok;) {
		size_t from = k, bytes = 0;
		while (k < nok && k - from < SEND_BATCH_ENTRIES &&
		       (k == from || bytes + t[ok[k]].len <= SEND_BATCH_BYTES))
			bytes += t[ok[k++]].len;
		bs[nb].from = from;
		bs[nb++].to = k;
	}
	struct aws_call *calls = tp_xcalloc(nb + 1, sizeof *calls);
	for (size_t b = 0; b < nb; b++) {
		cJSON *entries = cJSON_CreateArray();
		for (size_t k = bs[b].from; k < bs[b].to; k++) {
			const struct send_task *task = &t[ok[k]];
			char id[32];
			/* Ids are unique within the call: the position in it */
			snprintf(id, sizeof id, "t%zu", k - bs[b].from);
			/* the body may hold NULs only if check_body let them: it does not */
			char *body = tp_xstrndup(task->body, task->len);
			cJSON_AddItemToArray(entries, sqs_send_entry(id, body, NULL, o ? o->delay_s : -1));
			free(body);
		}
		sqs_send_message_batch(&calls[b], queue_url, entries);
	}
	if (nb)
		aws_call_many(a, calls, nb);
	for (size_t b = 0; b < nb; b++) {
		struct aws_call *c = &calls[b];
		size_t cnt = bs[b].to - bs[b].from;
		r->calls++;
		if (c->rc != TP_OK) {
			/* the whole call failed (after its retries): every task in it */
			for (size_t k = bs[b].from; k < bs[b].to; k++)
				add_failure(r, t[ok[k]].line, c->err.code[0] ? c->err.code : "SendFailed",
					    c->err.message);
			continue;
		}
		cJSON *out = awsj_result(c), *f;
		char *seen = tp_xcalloc(cnt + 1, 1);
		cJSON_ArrayForEach(f, cJSON_GetObjectItem(out, "Successful")) {
			const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(f, "Id"));
			size_t pos = id && id[0] == 't' ? strtoul(id + 1, NULL, 10) : cnt;
			if (pos < cnt && !seen[pos]) {
				seen[pos] = 1;
				r->sent++;
			}
		}
		cJSON_ArrayForEach(f, cJSON_GetObjectItem(out, "Failed")) {
			const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(f, "Id"));
			size_t pos = id && id[0] == 't' ? strtoul(id + 1, NULL, 10) : cnt;
			if (pos >= cnt || seen[pos])
				continue;
			seen[pos] = 2;
			const char *code = cJSON_GetStringValue(cJSON_GetObjectItem(f, "Code"));
			const char *msg = cJSON_GetStringValue(cJSON_GetObjectItem(f, "Message"));
			add_failure(r, t[ok[bs[b].from + pos]].line, code ? code : "Failed", msg ? msg : "");
		}
		/* An entry the answer names neither way was not confirmed: a failure. */
		for (size_t k = 0; k < cnt; k++)
			if (!seen[k])
				add_failure(r, t[ok[bs[b].from + k]].line, "NotConfirmed",
					    "SendMessageBatch's answer did not list this task as sent");
		free(seen);
		cJSON_Delete(out);
	}
	for (size_t b = 0; b < nb; b++)
		aws_call_free(&calls[b]);
	free(calls);
	free(bs);
	free(ok);
	if (r->n_failed > 1)
		qsort(r->failed, r->n_failed, sizeof *r->failed, cmp_failure);
}

void send_result_free(struct send_result *r)
{
	if (!r)
		return;
	free(r->failed);
	memset(r, 0, sizeof *r);
}
