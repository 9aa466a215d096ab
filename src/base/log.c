/* log.c: JSON or text log lines on stderr (see log.h). */
#include "base/log.h"
#include "base/settings_table.h"
#include "base/base.h"
#include "base/progress.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static int min_level = LOG_INFO;
static int json_format = 1;
static char request_id[96];

static const char *level_names[] = { "TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL" };

static int parse_level(const char *s, int fallback)
{
	if (!s || !*s)
		return fallback;
	for (int i = 0; i <= LOG_FATAL; i++)
		if (strcasecmp(s, level_names[i]) == 0)
			return i;
	if (strcasecmp(s, "WARNING") == 0)
		return LOG_WARN;
	return fallback;
}

void log_init(void)
{
	const char *fmt = getenv("AWS_LAMBDA_LOG_FORMAT");
	json_format = !(fmt && strcasecmp(fmt, "Text") == 0);
	const char *lvl = getenv("AWS_LAMBDA_LOG_LEVEL");
	if (!lvl || !*lvl)
		lvl = setting_raw(SET_LOG_LEVEL);
	min_level = parse_level(lvl, LOG_INFO);
}

void log_set_level(int level) { min_level = level; }
void log_set_json(int json) { json_format = json; }
int log_enabled(int level) { return level >= min_level; }

void log_set_request_id(const char *id)
{
	snprintf(request_id, sizeof request_id, "%s", id ? id : "");
}

/* Length of the valid UTF-8 sequence at s (1-4), or 0 when it is not one:
 * overlong forms, surrogates and code points above U+10FFFF are refused. */
static int utf8_len(const unsigned char *s)
{
	unsigned c = s[0];
	int n;
	unsigned min, cp;
	if (c < 0x80)
		return 1;
	if ((c & 0xe0) == 0xc0)
		n = 2, min = 0x80, cp = c & 0x1f;
	else if ((c & 0xf0) == 0xe0)
		n = 3, min = 0x800, cp = c & 0x0f;
	else if ((c & 0xf8) == 0xf0)
		n = 4, min = 0x10000, cp = c & 0x07;
	else
		return 0;
	for (int i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* A JSON string body: quote, backslash and control characters escaped,
 * each byte that is not part of valid UTF-8 written as U+FFFD, so a line
 * stays one parseable JSON object whatever a pipeline key holds. */
static void json_escape(buf *b, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	while (*s) {
		unsigned char c = *s;
		switch (c) {
		case '"': buf_adds(b, "\\\""); s++; continue;
		case '\\': buf_adds(b, "\\\\"); s++; continue;
		case '\n': buf_adds(b, "\\n"); s++; continue;
		case '\r': buf_adds(b, "\\r"); s++; continue;
		case '\t': buf_adds(b, "\\t"); s++; continue;
		}
		if (c < 0x20 || c == 0x7f) {
			buf_addf(b, "\\u%04x", c);
			s++;
			continue;
		}
		int n = utf8_len(s);
		if (n == 0) {
			buf_adds(b, "\\ufffd");
			s++;
			continue;
		}
		buf_add(b, (const char *)s, (size_t)n);
		s += n;
	}
}

/* ,"key":"value" for each pair of fields (NULL values skipped). */
static void add_fields(buf *b, const char *const *fields, int comma)
{
	for (; fields && fields[0]; fields += 2) {
		if (!fields[1])
			continue;
		if (comma)
			buf_addc(b, ',');
		comma = 1;
		buf_addc(b, '"');
		json_escape(b, fields[0]);
		buf_adds(b, "\":\"");
		json_escape(b, fields[1]);
		buf_addc(b, '"');
	}
}

void log_msg(int level, const char *const *fields, const char *fmt, ...)
{
	if (level < min_level)
		return;
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);

	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	char when[96];
	snprintf(when, sizeof when, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);

	buf b = {0};
	if (json_format) {
		buf_addf(&b, "{\"timestamp\":\"%s\",\"level\":\"%s\",\"message\":\"", when,
			 level_names[level]);
		json_escape(&b, msg);
		buf_addc(&b, '"');
		if (request_id[0]) {
			buf_adds(&b, ",\"requestId\":\"");
			json_escape(&b, request_id);
			buf_addc(&b, '"');
		}
		add_fields(&b, fields, 1);
		buf_adds(&b, "}\n");
	} else {
		buf_addf(&b, "%s %s %s%s%s", when, level_names[level],
			 request_id[0] ? request_id : "", request_id[0] ? " " : "", msg);
		if (fields && fields[0]) {
			buf_adds(&b, " {");
			add_fields(&b, fields, 0);
			buf_addc(&b, '}');
		}
		buf_addc(&b, '\n');
	}
	/* a progress line on the terminal steps aside for the log line */
	progress_hide();
	fwrite(b.data, 1, b.len, stderr);
	progress_show();
	buf_free(&b);
}
