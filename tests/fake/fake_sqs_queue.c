/* fake_sqs_queue.c: the fake SQS's queues: attributes (as numbers and a
 * few strings, checked as SetQueueAttributes checks them), tags (one block
 * a queue), and the queue operations: CreateQueue (QueueAlreadyExists,
 * QueueDeletedRecently), GetQueueUrl, Get/SetQueueAttributes, DeleteQueue,
 * PurgeQueue, ListQueues (pages), Tag/Untag/ListQueueTags. */
#include "fake/fake_sqs_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base64.h"

static const struct numdef {
	const char *name;
	int32_t lo, hi, def;
	int boolean;
} numdefs[A_NNUM] = {
	[A_DELAY] = { "DelaySeconds", 0, 900, 0, 0 },
	/* up to 1 MiB since August 2025 (src/core/spec.c); the default stays 256 KiB */
	[A_MAXSIZE] = { "MaximumMessageSize", 1024, 1048576, 262144, 0 },
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
	const char *arn = fsqs_str_of(j, "deadLetterTargetArn");
	const cJSON *mrc = cJSON_GetObjectItemCaseSensitive(j, "maxReceiveCount");
	double n = cJSON_IsNumber(mrc) ? mrc->valuedouble :
		   cJSON_IsString(mrc) ? strtod(mrc->valuestring, NULL) : -1;
	char nb[96];
	char *out = NULL;
	if (!cJSON_IsObject(j) || !arn)
		*why = "Redrive policy is not a JSON object with deadLetterTargetArn and maxReceiveCount";
	else if (n < 1 || n > 1000 || n != (double)(long)n)
		*why = "Invalid value for maxReceiveCount: must be an integer from 1 to 1000";
	else if (!fsqs_live(f, fsqs_arn_name(f, arn, nb, sizeof nb)))
		*why = "Dead-letter target does not exist";
	else {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "deadLetterTargetArn", arn);
		cJSON_AddNumberToObject(o, "maxReceiveCount", n);
		out = cJSON_PrintUnformatted(o);
		cJSON_Delete(o);
	}
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
			fsqs_error(out, "InvalidAttributeValue", "InvalidAttributeValue",
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
				fsqs_error(out, "InvalidAttributeValue", "InvalidAttributeValue",
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
			fsqs_error(out, "InvalidAttributeName", "InvalidAttributeName",
				  "the fake's SQS has no FIFO queues (attribute %s)", name);
		else
			fsqs_error(out, "InvalidAttributeName", "InvalidAttributeName",
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

/* In the block: a key's value (just after it), and the key after that. */
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
	fsqs_tags_clear(q);
	if (n) {
		q->tagslen = (uint32_t)b.len;
		q->tags = tp_xmalloc(b.len);
		memcpy(q->tags, b.data, b.len);
		q->ntags = n;
	}
	buf_free(&b);
}

cJSON *fsqs_tags_json(const struct queue *q)
{
	cJSON *t = cJSON_CreateObject();
	const char *k = q->tags;
	for (int i = 0; i < q->ntags; i++, k = tag_next(k))
		cJSON_AddStringToObject(t, k, tag_value(k));
	return t;
}

/* ---- operations ---- */

int fsqs_op_create_queue(struct fake *f, cJSON *in, struct http_response *out)
{
	static const char *const ok[] = { "QueueName", "Attributes", "tags", NULL };
	if (!fsqs_only_known(out, "CreateQueue", in, ok))
		return 0;
	const char *name = fsqs_str_of(in, "QueueName");
	if (!name)
		return fsqs_error(out, "MissingParameter", "MissingParameter",
				 "The request must contain the parameter QueueName.");
	if (!fsqs_valid_name(name))
		return BAD_PARAM(out, "Can only include alphanumeric characters, hyphens, or underscores. "
				 "1 to 80 in length");
	struct attrs a;
	const cJSON *tags = cJSON_GetObjectItemCaseSensitive(in, "tags");
	if (tags && !tags_valid(NULL, tags, out))
		return 0;
	if (!attrs_parse(f, cJSON_GetObjectItemCaseSensitive(in, "Attributes"), &a, out))
		return 0;
	struct fake_sqs *s = fsqs_state(f);
	struct queue *q = fsqs_entry(s, name);
	int64_t t = fsqs_now_ms(f);
	if (q && !q->deleted) {
		const char *d = attrs_differ(q, &a);
		attrs_free(&a);
		if (d)
			return fsqs_error(out, "QueueNameExists", "QueueAlreadyExists",
					 "A queue already exists with the same name and a different value for attribute %s",
					 d);
	} else if (q && t - q->deleted_ms < DELETED_RECENTLY_MS) {
		attrs_free(&a);
		return fsqs_error(out, "QueueDeletedRecently", "AWS.SimpleQueueService.QueueDeletedRecently",
				 "You must wait 60 seconds after deleting a queue before you can create another "
				 "queue with the same name.");
	} else {
		if (!q)
			q = fsqs_insert(s, name);
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
	char *url = fsqs_url(f, name);
	cJSON_AddStringToObject(res, "QueueUrl", url);
	free(url);
	fake_reply_json(out, 200, res);
	return 0;
}

int fsqs_op_get_queue_url(struct fake *f, cJSON *in, struct http_response *out)
{
	static const char *const ok[] = { "QueueName", "QueueOwnerAWSAccountId", NULL };
	if (!fsqs_only_known(out, "GetQueueUrl", in, ok))
		return 0;
	const char *name = fsqs_str_of(in, "QueueName"), *owner = fsqs_str_of(in, "QueueOwnerAWSAccountId");
	if (!fsqs_live(f, name) || (owner && strcmp(owner, f->account) != 0))
		return NO_QUEUE(out);
	cJSON *res = cJSON_CreateObject();
	char *url = fsqs_url(f, name);
	cJSON_AddStringToObject(res, "QueueUrl", url);
	free(url);
	fake_reply_json(out, 200, res);
	return 0;
}

void fsqs_add_num(cJSON *o, const char *name, long long v)
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

int fsqs_op_get_queue_attributes(struct fake *f, cJSON *in, struct http_response *out)
{
	static const char *const ok[] = { "QueueUrl", "AttributeNames", NULL };
	if (!fsqs_only_known(out, "GetQueueAttributes", in, ok))
		return 0;
	struct queue *q = fsqs_by_url(f, in, out);
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
			return fsqs_error(out, "InvalidAttributeName", "InvalidAttributeName",
					 "Unknown Attribute %s.", s ? s : "(not a string)");
	}
	cJSON *attrs = cJSON_CreateObject();
	long vis, inflight, delayed;
	fsqs_counts(f, q, &vis, &inflight, &delayed);
	const struct { const char *name; long long v; } ro[] = {
		{ "ApproximateNumberOfMessages", vis },
		{ "ApproximateNumberOfMessagesNotVisible", inflight },
		{ "ApproximateNumberOfMessagesDelayed", delayed },
		{ "CreatedTimestamp", q->created_ms / 1000 },
		{ "LastModifiedTimestamp", q->modified_ms / 1000 },
	};
	if (asked(all, names, "QueueArn")) {
		char *arn = fsqs_arn(f, q->name);
		cJSON_AddStringToObject(attrs, "QueueArn", arn);
		free(arn);
	}
	for (size_t i = 0; i < sizeof ro / sizeof ro[0]; i++)
		if (asked(all, names, ro[i].name))
			fsqs_add_num(attrs, ro[i].name, ro[i].v);
	for (int k = 0; k < A_NNUM; k++) {
		if (!asked(all, names, numdefs[k].name) || (k == A_KMS_REUSE && !q->str[S_KMS_KEY]))
			continue;   /* the key reuse period shows only with a KMS key */
		if (numdefs[k].boolean)
			cJSON_AddStringToObject(attrs, numdefs[k].name, q->num[k] ? "true" : "false");
		else
			fsqs_add_num(attrs, numdefs[k].name, q->num[k]);
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

int fsqs_op_set_queue_attributes(struct fake *f, cJSON *in, struct http_response *out)
{
	static const char *const ok[] = { "QueueUrl", "Attributes", NULL };
	if (!fsqs_only_known(out, "SetQueueAttributes", in, ok))
		return 0;
	struct queue *q = fsqs_by_url(f, in, out);
	if (!q)
		return 0;
	const cJSON *map = cJSON_GetObjectItemCaseSensitive(in, "Attributes");
	if (!map)
		return fsqs_error(out, "MissingParameter", "MissingParameter",
				 "The request must contain the parameter Attributes.");
	struct attrs a;
	if (!attrs_parse(f, map, &a, out))
		return 0;
	attrs_apply(q, &a);
	attrs_free(&a);
	q->modified_ms = fsqs_now_ms(f);
	fake_reply_json(out, 200, NULL);
	return 0;
}

int fsqs_op_delete_queue(struct fake *f, cJSON *in, struct http_response *out)
{
	static const char *const ok[] = { "QueueUrl", NULL };
	if (!fsqs_only_known(out, "DeleteQueue", in, ok))
		return 0;
	struct queue *q = fsqs_by_url(f, in, out);
	if (!q)
		return 0;
	fsqs_queue_clear(q);
	q->deleted = 1;
	q->deleted_ms = fsqs_now_ms(f);
	f->sqs->sorted_stale = 1;
	fake_reply_json(out, 200, NULL);
	return 0;
}

int fsqs_op_purge_queue(struct fake *f, cJSON *in, struct http_response *out)
{
	static const char *const ok[] = { "QueueUrl", NULL };
	if (!fsqs_only_known(out, "PurgeQueue", in, ok))
		return 0;
	struct queue *q = fsqs_by_url(f, in, out);
	if (!q)
		return 0;
	int64_t t = fsqs_now_ms(f);
	if (q->purged_ms && t - q->purged_ms < PURGE_WINDOW_MS)
		return fsqs_error(out, "PurgeQueueInProgress", "AWS.SimpleQueueService.PurgeQueueInProgress",
				 "Only one PurgeQueue operation on %s is allowed every 60 seconds.", q->name);
	q->purged_ms = t;
	fsqs_msgs_clear(q);
	fsqs_publish(f, q);
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
int fsqs_op_list_queues(struct fake *f, cJSON *in, struct http_response *out)
{
	static const char *const ok[] = { "QueueNamePrefix", "MaxResults", "NextToken", NULL };
	if (!fsqs_only_known(out, "ListQueues", in, ok))
		return 0;
	long max = 0;
	int has_max = fsqs_int_of(out, in, "MaxResults", 1, LIST_MAX, &max);
	if (has_max < 0)
		return 0;
	const char *prefix = fsqs_str_of(in, "QueueNamePrefix"), *token = fsqs_str_of(in, "NextToken");
	if (!prefix)
		prefix = "";
	char *after = token ? fsqs_b64_text(token) : NULL;
	if (token && (!has_max || !after || !tp_startswith(after, "q:"))) {
		free(after);
		return BAD_PARAM(out, "Invalid NextToken value.");
	}
	struct fake_sqs *s = fsqs_state(f);
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
		char *url = fsqs_url(f, s->sorted[i]->name);
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

int fsqs_op_tag_queue(struct fake *f, cJSON *in, struct http_response *out)
{
	static const char *const ok[] = { "QueueUrl", "Tags", NULL };
	if (!fsqs_only_known(out, "TagQueue", in, ok))
		return 0;
	struct queue *q = fsqs_by_url(f, in, out);
	const cJSON *tags = cJSON_GetObjectItemCaseSensitive(in, "Tags");
	if (!q || !tags_valid(q, tags, out))
		return 0;
	tags_rebuild(q, tags, NULL);
	fake_reply_json(out, 200, NULL);
	return 0;
}

int fsqs_op_untag_queue(struct fake *f, cJSON *in, struct http_response *out)
{
	static const char *const ok[] = { "QueueUrl", "TagKeys", NULL };
	if (!fsqs_only_known(out, "UntagQueue", in, ok))
		return 0;
	struct queue *q = fsqs_by_url(f, in, out);
	if (!q)
		return 0;
	const cJSON *keys = cJSON_GetObjectItemCaseSensitive(in, "TagKeys");
	if (!cJSON_IsArray(keys))
		return BAD_PARAM(out, "TagKeys must be a list of tag keys");
	tags_rebuild(q, NULL, keys);   /* a key the queue lacks is no error */
	fake_reply_json(out, 200, NULL);
	return 0;
}

int fsqs_op_list_queue_tags(struct fake *f, cJSON *in, struct http_response *out)
{
	static const char *const ok[] = { "QueueUrl", NULL };
	if (!fsqs_only_known(out, "ListQueueTags", in, ok))
		return 0;
	struct queue *q = fsqs_by_url(f, in, out);
	if (!q)
		return 0;
	cJSON *res = cJSON_CreateObject();
	if (q->ntags)
		cJSON_AddItemToObject(res, "Tags", fsqs_tags_json(q));
	fake_reply_json(out, 200, res);
	return 0;
}

