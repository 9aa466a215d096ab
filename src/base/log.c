/* log.c: JSON or text log lines on stderr (see log.h). */
#include "base/log.h"
#include "base/base.h"

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
		lvl = getenv("TASKPIPE_LOG_LEVEL");
	min_level = parse_level(lvl, LOG_INFO);
}

void log_set_level(int level) { min_level = level; }
void log_set_json(int json) { json_format = json; }
int log_enabled(int level) { return level >= min_level; }

void log_set_request_id(const char *id)
{
	snprintf(request_id, sizeof request_id, "%s", id ? id : "");
}

static void json_escape(buf *b, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		switch (c) {
		case '"': buf_adds(b, "\\\""); break;
		case '\\': buf_adds(b, "\\\\"); break;
		case '\n': buf_adds(b, "\\n"); break;
		case '\r': buf_adds(b, "\\r"); break;
		case '\t': buf_adds(b, "\\t"); break;
		default:
			if (c < 0x20)
				buf_addf(b, "\\u%04x", c);
			else
				buf_addc(b, (char)c);
		}
	}
}

void log_msg(int level, const char *fields, const char *fmt, ...)
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
		if (fields && *fields)
			buf_addf(&b, ",%s", fields);
		buf_adds(&b, "}\n");
	} else {
		buf_addf(&b, "%s %s %s%s%s", when, level_names[level],
			 request_id[0] ? request_id : "", request_id[0] ? " " : "", msg);
		if (fields && *fields)
			buf_addf(&b, " {%s}", fields);
		buf_addc(&b, '\n');
	}
	fwrite(b.data, 1, b.len, stderr);
	buf_free(&b);
}
