/* evclass.c: the kind of an incoming event (see evclass.h). */
#include "runtime/evclass.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

static const char *str_at(const cJSON *o, const char *k)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

/* All records of a batch come from one source; a mix is not a known shape. */
static const char *records_source(const cJSON *records)
{
	const char *src = NULL;
	const cJSON *r;
	cJSON_ArrayForEach(r, records) {
		const char *s = str_at(r, "eventSource");
		if (!s)
			s = str_at(r, "EventSource");
		if (!s || (src && strcmp(s, src) != 0))
			return NULL;
		src = s;
	}
	return src;
}

static int direct(const cJSON *ev, const char *cmd, struct ev_class *c, tp_err *e)
{
	if (strcmp(cmd, "apply-all") == 0) {
		c->kind = EV_APPLY_ALL;
		return TP_OK;
	}
	int plan = strcmp(cmd, "plan") == 0;
	if (!plan && strcmp(cmd, "apply") != 0)
		return tp_errf(e, TP_EINVAL, "UnrecognizedEvent",
			       "unknown taskpipe command \"%.100s\" (apply, apply-all, plan)", cmd);
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(ev, "pipelines"), *p;
	char **names = tp_xcalloc((size_t)cJSON_GetArraySize(list) + 1, sizeof *names);
	size_t n = 0;
	cJSON_ArrayForEach(p, list) {
		if (!cJSON_IsString(p)) {
			free(names);
			return tp_errf(e, TP_EINVAL, "InvalidRequest", "\"pipelines\" must be an array of names");
		}
		names[n++] = p->valuestring;
	}
	if (!plan && n == 0) {
		free(names);
		return tp_errf(e, TP_EINVAL, "InvalidRequest",
			       "apply needs \"pipelines\": [names] (or use \"apply-all\")");
	}
	c->kind = plan ? EV_PLAN : EV_APPLY;
	c->names = names;
	c->n = n;
	c->force = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ev, "force"));
	return TP_OK;
}

int evclass_classify(const cJSON *ev, struct ev_class *c, tp_err *e)
{
	memset(c, 0, sizeof *c);
	const cJSON *records = cJSON_GetObjectItemCaseSensitive(ev, "Records");
	if (cJSON_IsArray(records) && cJSON_GetArraySize(records) > 0) {
		const char *src = records_source(records);
		c->records = records;
		if (src && strcmp(src, "aws:dynamodb") == 0) {
			c->kind = EV_STREAM;
			return TP_OK;
		}
		if (src && strcmp(src, "aws:sns") == 0) {
			c->kind = EV_SNS;
			return TP_OK;
		}
		c->records = NULL;
	}
	const char *source = str_at(ev, "source"), *dt = str_at(ev, "detail-type");
	if (source && dt && strcmp(source, "aws.events") == 0 && strcmp(dt, "Scheduled Event") == 0) {
		c->kind = EV_SCHEDULED;
		return TP_OK;
	}
	const char *cmd = str_at(ev, "taskpipe");
	if (cmd)
		return direct(ev, cmd, c, e);

	buf keys = { 0 };
	const cJSON *k;
	if (cJSON_IsObject(ev)) {
		cJSON_ArrayForEach(k, ev) buf_addf(&keys, "%s%s", keys.len ? ", " : "", k->string);
	}
	tp_errf(e, TP_EINVAL, "UnrecognizedEvent",
		"not a DynamoDB stream batch, SNS/S3 notification, scheduled event or {\"taskpipe\": ...} "
		"command; %s%.300s%s", cJSON_IsObject(ev) ? "top-level keys: [" : "the event is not an object",
		buf_str(&keys), cJSON_IsObject(ev) ? "]" : "");
	buf_free(&keys);
	return TP_EINVAL;
}

void evclass_free(struct ev_class *c)
{
	free(c->names);
	c->names = NULL;
	c->n = 0;
}

const char *evclass_kind_name(enum ev_kind k)
{
	switch (k) {
	case EV_STREAM: return "stream";
	case EV_SNS: return "sns";
	case EV_SCHEDULED: return "scheduled";
	case EV_APPLY: return "apply";
	case EV_APPLY_ALL: return "apply-all";
	case EV_PLAN: return "plan";
	}
	return "unknown";
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

char *evclass_s3_key_decode(const char *s, const char **why)
{
	char *out = tp_xmalloc(strlen(s) + 1), *w = out;
	for (; *s; s++) {
		if (*s == '+') {
			*w++ = ' ';
		} else if (*s == '%') {
			int hi = hexval(s[1]), lo = hi < 0 ? -1 : hexval(s[2]);
			if (hi < 0 || lo < 0 || hi * 16 + lo == 0) {
				*why = hi < 0 || lo < 0 ? "a '%' not followed by two hex digits" : "%00 (a NUL byte)";
				free(out);
				return NULL;
			}
			*w++ = (char)(hi * 16 + lo);
			s += 2;
		} else {
			*w++ = *s;
		}
	}
	*w = 0;
	return out;
}
