/* base.c: memory, buffers, errors, clocks (see base.h). */
#include "base/base.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

int tp_verrf(tp_err *e, int rc, const char *code, const char *fmt, va_list ap)
{
	if (!e)
		return rc;
	e->rc = rc;
	snprintf(e->code, sizeof e->code, "%s", code ? code : tp_rc_name(rc));
	vsnprintf(e->message, sizeof e->message, fmt, ap);
	return rc;
}

int tp_errf(tp_err *e, int rc, const char *code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	tp_verrf(e, rc, code, fmt, ap);
	va_end(ap);
	return rc;
}

void tp_err_clear(tp_err *e)
{
	if (e)
		memset(e, 0, sizeof *e);
}

const char *tp_rc_name(int rc)
{
	switch (rc) {
	case TP_OK: return "OK";
	case TP_EINVAL: return "InvalidInput";
	case TP_EIO: return "TransportError";
	case TP_EAWS: return "AwsError";
	case TP_ENOTFOUND: return "NotFound";
	case TP_ECONFLICT: return "Conflict";
	case TP_EPOLICY: return "PolicyError";
	case TP_ELIMIT: return "LimitExceeded";
	}
	return "Error";
}

static void oom(void)
{
	fputs("taskpipe: out of memory\n", stderr);
	abort();
}

void *tp_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom();
	return p;
}

void *tp_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		oom();
	return p;
}

void *tp_xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		oom();
	return p;
}

char *tp_xstrdup(const char *s)
{
	return s ? tp_xstrndup(s, strlen(s)) : NULL;
}

char *tp_xstrndup(const char *s, size_t n)
{
	char *p = tp_xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = 0;
	return p;
}

char *tp_xasprintf(const char *fmt, ...)
{
	buf b = {0};
	va_list ap;
	va_start(ap, fmt);
	buf_vaddf(&b, fmt, ap);
	va_end(ap);
	return buf_steal(&b);
}

static void buf_grow(buf *b, size_t extra)
{
	size_t need = b->len + extra + 1;
	if (need <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap *= 2;
	b->data = tp_xrealloc(b->data, cap);
	b->cap = cap;
}

void buf_add(buf *b, const void *p, size_t n)
{
	buf_grow(b, n);
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = 0;
}

void buf_adds(buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

void buf_addc(buf *b, char c)
{
	buf_add(b, &c, 1);
}

void buf_vaddf(buf *b, const char *fmt, va_list ap)
{
	/* Format into a small stack buffer first: most lines fit. */
	char small[256];
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(small, sizeof small, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return;
	if ((size_t)n < sizeof small) {
		buf_add(b, small, (size_t)n);
		return;
	}
	buf_grow(b, (size_t)n);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
}

void buf_addf(buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	buf_vaddf(b, fmt, ap);
	va_end(ap);
}

void buf_reset(buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = 0;
}

void buf_free(buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

char *buf_steal(buf *b)
{
	char *s = b->data ? b->data : tp_xstrdup("");
	b->data = NULL;
	b->len = b->cap = 0;
	return s;
}

const char *buf_str(const buf *b)
{
	return b->data ? b->data : "";
}

static int64_t clock_us(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static struct tp_clock clock_hook;   /* now_us NULL: the system's */

void tp_set_clock(const struct tp_clock *c)
{
	if (c)
		clock_hook = *c;
	else
		memset(&clock_hook, 0, sizeof clock_hook);
}

int64_t tp_now_us(void)
{
	return clock_hook.now_us ? clock_hook.now_us(clock_hook.ctx) : clock_us(CLOCK_REALTIME);
}
int64_t tp_mono_us(void)
{
	return clock_hook.mono_us ? clock_hook.mono_us(clock_hook.ctx) : clock_us(CLOCK_MONOTONIC);
}
int64_t tp_now_ms(void) { return tp_now_us() / 1000; }
int64_t tp_mono_ms(void) { return tp_mono_us() / 1000; }

void tp_sleep_ms(int64_t ms)
{
	if (ms <= 0)
		return;
	if (clock_hook.sleep_ms) {
		clock_hook.sleep_ms(clock_hook.ctx, ms);
		return;
	}
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

void tp_wipe(void *p, size_t n)
{
	if (p)
		explicit_bzero(p, n);
}

int tp_read_file(const char *path, size_t max, buf *out, tp_err *e)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return tp_errf(e, TP_EINVAL, "FileError", "%s: %s", path, strerror(errno));
	char chunk[8192];
	size_t n;
	int rc = TP_OK;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
		if (out->len + n > max) {
			rc = tp_errf(e, TP_ELIMIT, "FileTooLarge", "%s: larger than %zu bytes", path, max);
			break;
		}
		buf_add(out, chunk, n);
	}
	if (rc == TP_OK && ferror(f))
		rc = tp_errf(e, TP_EIO, "FileError", "%s: read error", path);
	fclose(f);
	if (rc == TP_OK && !out->data)
		buf_add(out, "", 0);
	return rc;
}

int tp_strcaseeq(const char *a, const char *b)
{
	return strcasecmp(a, b) == 0;
}

int tp_startswith(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}
