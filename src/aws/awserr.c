/* awserr.c: turn a failed AWS answer (status, raw headers, body bytes) into
 * a tp_err (see awserr.h). Robust against any input: the body is read only
 * within body_len, may hold NULs, need not be NUL-terminated; every string
 * copied into tp_err is cleaned (control bytes folded to one space,
 * invalid UTF-8 replaced by '?') so it is safe in a log line.
 *
 * Code, first found wins (the SDKs' order):
 *   x-amzn-query-error (before ';')  SQS JSON keeps its old query code there
 *   x-amzn-ErrorType                 REST-JSON (Lambda)
 *   JSON __type, code, Code, errorType (cut before ':', then after '#')
 *   XML <Code>                       query (SNS) and REST-XML (S3)
 *   "Http<status>"                   HTML, empty or unrecognised bodies
 */
#include "aws/awserr.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/xml.h"

/* Error bodies are small; a bigger one is cut (JSON then falls back to
 * the lenient scanner, XML to what is inside the first part). */
#define BODY_MAX 65536
#define TEXT_MSG_MAX 200

/* Length of a valid UTF-8 sequence at s (n bytes left), 0 when invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t k;
	unsigned long cp;
	if (s[0] < 0xC2 || s[0] > 0xF4)
		return 0;
	k = s[0] < 0xE0 ? 2 : s[0] < 0xF0 ? 3 : 4;
	if (n < k)
		return 0;
	cp = s[0] & (0x3F >> (k - 1));
	for (size_t i = 1; i < k; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	if ((k == 3 && cp < 0x800) || (k == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
	    (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return k;
}

/* Copy s[0..n) into out (size outsz >= 1): control bytes and whitespace runs
 * become one space, leading/trailing space dropped, invalid UTF-8 -> '?',
 * cut at max_chars bytes (never inside a UTF-8 sequence). */
static void clean_copy(char *out, size_t outsz, const char *s, size_t n, size_t max_chars)
{
	size_t o = 0, lim = outsz - 1;
	int space = 0;
	if (max_chars < lim)
		lim = max_chars;
	const unsigned char *u = (const unsigned char *)s;
	for (size_t i = 0; i < n && o < lim;) {
		unsigned char c = u[i];
		if (c <= 0x20 || c == 0x7F) {
			space = o > 0;
			i++;
			continue;
		}
		if (space) {
			if (o + 1 >= lim)
				break;
			out[o++] = ' ';
			space = 0;
		}
		if (c < 0x80) {
			out[o++] = (char)c;
			i++;
			continue;
		}
		size_t k = utf8_len(u + i, n - i);
		if (!k) {
			out[o++] = '?';
			i++;
			continue;
		}
		if (o + k > lim)
			break;
		memcpy(out + o, s + i, k);
		o += k;
		i += k;
	}
	out[o] = 0;
}

static void clean_str(char *out, size_t outsz, const char *s)
{
	clean_copy(out, outsz, s, strlen(s), outsz - 1);
}

/* xml_text output may hold NULs: copy all of it */
static void clean_buf(char *out, size_t outsz, const buf *b)
{
	clean_copy(out, outsz, buf_str(b), b->len, outsz - 1);
}

/* Value of the last header called name in a raw "Name: value\r\n" block
 * (the last one: curl may hand over a 100-continue block first). */
static int header_get(const char *headers, const char *name, char *out, size_t outsz)
{
	size_t nl = strlen(name);
	int found = 0;
	const char *p = headers;
	while (p && *p) {
		const char *eol = strchr(p, '\n');
		size_t ll = eol ? (size_t)(eol - p) : strlen(p);
		const char *colon = memchr(p, ':', ll);
		if (colon) {
			size_t kl = (size_t)(colon - p);
			while (kl > 0 && (p[kl - 1] == ' ' || p[kl - 1] == '\t'))
				kl--;
			if (kl == nl && strncasecmp(p, name, nl) == 0) {
				clean_copy(out, outsz, colon + 1, ll - (size_t)(colon + 1 - p), outsz - 1);
				found = 1;
			}
		}
		p = eol ? eol + 1 : NULL;
	}
	return found && *out;
}

/* Set e->code from s[0..n) with the SDKs' sanitising: cut before the
 * first ':', then keep what follows the first '#'. Done before the copy so
 * a long namespace cannot push the code out of the 64-byte field. */
static void set_code(tp_err *e, const char *s, size_t n)
{
	const char *c = memchr(s, ':', n);
	if (c)
		n = (size_t)(c - s);
	c = memchr(s, '#', n);
	if (c) {
		n -= (size_t)(c + 1 - s);
		s = c + 1;
	}
	clean_copy(e->code, sizeof e->code, s, n, sizeof e->code - 1);
}

static const char *json_str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsString(v) && v->valuestring && *v->valuestring ? v->valuestring : NULL;
}

/* For truncated JSON: the string after "key" : " in s[0..n), raw (escapes
 * left as they are, cut at the closing quote or the end). */
static int json_scan(const char *s, size_t n, const char *key, char *out, size_t outsz)
{
	char pat[40];
	int pl = snprintf(pat, sizeof pat, "\"%s\"", key);
	if (pl < 0 || (size_t)pl >= sizeof pat)
		return 0;
	size_t from = 0;
	while (from < n) {
		const char *k = memmem(s + from, n - from, pat, (size_t)pl);
		if (!k)
			return 0;
		size_t i = (size_t)(k - s) + (size_t)pl;
		from = i;
		while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
			i++;
		if (i >= n || s[i] != ':')
			continue;
		i++;
		while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
			i++;
		if (i >= n || s[i] != '"')
			continue;
		size_t a = ++i;
		while (i < n && s[i] != '"')
			i += (s[i] == '\\' && i + 1 < n) ? 2 : 1;
		if (i > n)
			i = n;
		clean_copy(out, outsz, s + a, i - a, outsz - 1);
		return *out != 0;
	}
	return 0;
}

static void parse_json(const char *body, size_t n, tp_err *e, int have_code, int have_rid)
{
	/* errorType: the Lambda runtime API's {"errorMessage","errorType"} */
	static const char *const code_keys[] = { "__type", "code", "Code", "errorType" };
	static const char *const msg_keys[] = { "message", "Message", "errorMessage" };
	static const char *const rid_keys[] = { "RequestId", "requestId" };
	/* a NUL-terminated copy: cJSON never sees bytes past the body */
	char *copy = tp_xstrndup(body, n);
	cJSON *root = cJSON_ParseWithLength(copy, n);
	if (cJSON_IsObject(root)) {
		const char *v;
		for (size_t i = 0; !have_code && i < 4; i++)
			if ((v = json_str(root, code_keys[i]))) {
				set_code(e, v, strlen(v));
				have_code = *e->code != 0;
			}
		for (size_t i = 0; !*e->message && i < 3; i++)
			if ((v = json_str(root, msg_keys[i])))
				clean_str(e->message, sizeof e->message, v);
		for (size_t i = 0; !have_rid && i < 2; i++)
			if ((v = json_str(root, rid_keys[i])))
				have_rid = (clean_str(e->request_id, sizeof e->request_id, v), *e->request_id != 0);
	} else if (!root) {
		/* truncated or broken: pick what we can by scanning */
		char tmp[256];
		if (!have_code && json_scan(body, n, "__type", tmp, sizeof tmp))
			set_code(e, tmp, strlen(tmp));
		for (size_t i = 0; !*e->message && i < 3; i++)
			json_scan(body, n, msg_keys[i], e->message, sizeof e->message);
		for (size_t i = 0; !have_rid && i < 2; i++)
			have_rid = json_scan(body, n, rid_keys[i], e->request_id, sizeof e->request_id);
	}
	cJSON_Delete(root);
	free(copy);
}

static void parse_xml(const char *body, size_t n, tp_err *e, int have_code, int have_rid)
{
	buf b = {0};
	if (!have_code && xml_text(body, n, "Code", &b))
		set_code(e, buf_str(&b), b.len);
	if (xml_text(body, n, "Message", &b))
		clean_buf(e->message, sizeof e->message, &b);
	if (!have_rid && xml_text(body, n, "RequestId", &b))
		clean_buf(e->request_id, sizeof e->request_id, &b);
	buf_free(&b);
}

/* The first printable text of the body: tags, comments and <!...> dropped,
 * whitespace folded, cut at TEXT_MSG_MAX bytes. */
static void body_text(const char *body, size_t n, char *out, size_t outsz)
{
	buf t = {0};
	size_t i = 0;
	while (i < n && t.len < 4 * TEXT_MSG_MAX) {
		const char *lt = memchr(body + i, '<', n - i);
		size_t stop = lt ? (size_t)(lt - body) : n;
		buf_add(&t, body + i, stop - i);
		buf_addc(&t, ' ');
		if (!lt)
			break;
		const char *gt = NULL;
		if (n - stop >= 4 && memcmp(lt, "<!--", 4) == 0) {
			const char *end = memmem(lt + 4, n - stop - 4, "-->", 3);
			gt = end ? end + 2 : NULL;
		} else {
			gt = memchr(lt, '>', n - stop);
		}
		if (!gt)
			break;
		i = (size_t)(gt - body) + 1;
	}
	clean_copy(out, outsz, t.data ? t.data : "", t.len, TEXT_MSG_MAX);
	buf_free(&t);
}

static const char *const not_found_codes[] = {
	"ResourceNotFoundException", "AWS.SimpleQueueService.NonExistentQueue",
	"QueueDoesNotExist", "NoSuchBucket", "NoSuchKey", "NotFound", "NotFoundException", NULL,
};

int awserr_is_not_found(const char *code)
{
	if (!code)
		return 0;
	for (const char *const *c = not_found_codes; *c; c++)
		if (strcmp(*c, code) == 0)
			return 1;
	return 0;
}

void awserr_request_id(const char *headers, char *out, size_t out_len)
{
	if (!out || !out_len)
		return;
	*out = 0;
	if (headers && !header_get(headers, "x-amzn-RequestId", out, out_len))
		header_get(headers, "x-amz-request-id", out, out_len);
}

int awserr_parse(long status, const char *headers, const char *body, size_t body_len, tp_err *e)
{
	tp_err local;
	if (!e)
		e = &local;
	tp_err_clear(e);
	e->status = (int)status;
	if (!body)
		body_len = 0;
	if (body_len > BODY_MAX)
		body_len = BODY_MAX;

	int have_code = 0;
	if (headers) {
		char v[256];
		if (header_get(headers, "x-amzn-query-error", v, sizeof v)) {
			/* "Code;Sender": the code is used as is (no ':' '#' there) */
			clean_copy(e->code, sizeof e->code, v, strcspn(v, ";"), sizeof e->code - 1);
		} else if (header_get(headers, "x-amzn-ErrorType", v, sizeof v)) {
			set_code(e, v, strlen(v));
		}
		have_code = *e->code != 0;
	}
	awserr_request_id(headers, e->request_id, sizeof e->request_id);
	int have_rid = *e->request_id != 0;

	size_t i = 0;
	while (i < body_len && (body[i] == ' ' || body[i] == '\t' || body[i] == '\r' || body[i] == '\n'))
		i++;
	if (i < body_len && body[i] == '{')
		parse_json(body + i, body_len - i, e, have_code, have_rid);
	else if (i < body_len && body[i] == '<')
		parse_xml(body + i, body_len - i, e, have_code, have_rid);

	if (!*e->code) {
		snprintf(e->code, sizeof e->code, "Http%ld", status);
		if (!*e->message)
			body_text(body, body_len, e->message, sizeof e->message);
	}
	if (!*e->message && tp_startswith(e->code, "Http"))
		snprintf(e->message, sizeof e->message, "HTTP %ld", status);
	else if (!*e->message)
		snprintf(e->message, sizeof e->message, "%s (HTTP %ld)", e->code, status);
	e->rc = awserr_is_not_found(e->code) ? TP_ENOTFOUND : TP_EAWS;
	return e->rc;
}
