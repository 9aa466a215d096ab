/* base.h: memory, growable buffers, errors and clocks shared by every module.
 *
 * Rules stated once, here, for every module:
 * - Functions return 0 (TP_OK) or a negative TP_E* code and, when given one,
 *   fill a caller-supplied tp_err. There is no global error state.
 * - Allocation failure aborts the process (tp_xmalloc and friends, and
 *   cJSON's allocations once main() has called json_init_hooks()): a
 *   controller that cannot allocate a few KB has nothing better to do.
 * - x_free(NULL) is a no-op everywhere.
 */
#ifndef TP_BASE_H
#define TP_BASE_H

#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>

enum tp_rc {
	TP_OK = 0,
	TP_EINVAL = -1,   /* bad input: argument, item, file, answer */
	TP_EIO = -2,      /* transport: connect, TLS, reset, timeout */
	TP_EAWS = -3,     /* AWS answered with an error (see tp_err) */
	TP_ENOTFOUND = -4,/* the thing asked about does not exist */
	TP_ECONFLICT = -5,/* someone else holds it / changed it */
	TP_EPOLICY = -6,  /* the Lua policy failed or refused */
	TP_ELIMIT = -7,   /* a size, instruction or memory cap was hit */
};

typedef struct tp_err {
	int rc;               /* the TP_E* code returned with it */
	int status;           /* HTTP status, 0 when no answer */
	char code[64];        /* AWS error code or a taskpipe code */
	char message[512];    /* human readable, never holds a secret */
	char request_id[96];  /* AWS request id when known */
} tp_err;

/* Fill e (may be NULL) and return rc. code may be NULL. */
int tp_errf(tp_err *e, int rc, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
int tp_verrf(tp_err *e, int rc, const char *code, const char *fmt, va_list ap)
	__attribute__((format(printf, 4, 0)));
void tp_err_clear(tp_err *e);
const char *tp_rc_name(int rc);

void *tp_xmalloc(size_t n);
void *tp_xcalloc(size_t n, size_t size);
void *tp_xrealloc(void *p, size_t n);
char *tp_xstrdup(const char *s);                 /* NULL stays NULL */
char *tp_xstrndup(const char *s, size_t n);
char *tp_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A growable byte buffer, always NUL-terminated once anything was added. */
typedef struct buf {
	char *data;  /* owned; NULL until the first add */
	size_t len;  /* bytes used, excluding the terminating NUL */
	size_t cap;  /* bytes allocated */
} buf;

void buf_add(buf *b, const void *p, size_t n);
void buf_adds(buf *b, const char *s);
void buf_addc(buf *b, char c);
void buf_addf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vaddf(buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
void buf_reset(buf *b);           /* len = 0, keeps memory */
void buf_free(buf *b);            /* frees and zeroes */
char *buf_steal(buf *b);          /* caller owns the string ("" if empty) */
const char *buf_str(const buf *b);/* "" when empty */

/* Clocks, in milliseconds (and microseconds where pacing needs them).
 * Modules that decide on time take it as a parameter; only callers at the
 * edges read these. */
int64_t tp_now_ms(void);          /* wall clock, Unix epoch */
int64_t tp_mono_ms(void);         /* monotonic */
int64_t tp_now_us(void);
int64_t tp_mono_us(void);
void tp_sleep_ms(int64_t ms);

/* A clock in place of the system's for all five above (tests/fake/: a
 * simulated clock, so quotas and lags hold in simulated time and a sleep
 * only moves the clock on). NULL: the system's again. */
struct tp_clock {
	int64_t (*now_us)(void *ctx);    /* wall, Unix epoch */
	int64_t (*mono_us)(void *ctx);
	void (*sleep_ms)(void *ctx, int64_t ms);
	void *ctx;
};
void tp_set_clock(const struct tp_clock *c);

/* Wipe memory that held a secret (not optimised away). */
void tp_wipe(void *p, size_t n);

/* Read a whole file; *out owned by caller. Fails on files over max bytes. */
int tp_read_file(const char *path, size_t max, buf *out, tp_err *e);

/* Case-insensitive ASCII compare, prefix test. */
int tp_strcaseeq(const char *a, const char *b);
int tp_startswith(const char *s, const char *prefix);

#endif
