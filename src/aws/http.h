/* http.h: HTTP(S) transport over the libcurl multi interface; the only file
 * that uses curl. No curl types leak out of here.
 *
 * Many transfers run at once in one thread: http_start() queues a transfer,
 * http_poll() drives all of them and calls each one's done callback when it
 * ends. Connections are kept alive and reused (a new TLS connection costs a
 * CA-bundle parse). TLS peer and host verification is always on.
 *
 * CA bundle, first that exists: http_options.ca_file, $SSL_CERT_FILE,
 * /etc/pki/tls/certs/ca-bundle.crt (Amazon Linux), /etc/ssl/certs/ca-certificates.crt
 * (Debian). With none, an https transfer fails with a clear message; plain
 * http (the Lambda Runtime API, a local emulator) still works.
 */
#ifndef TP_HTTP_H
#define TP_HTTP_H

#include "base/base.h"

/* A body sink: receives a 2xx answer's body as it arrives instead of
 * http_response.body, so an object of any size passes with flat memory
 * (max_response_bytes does not apply to it; error answers are still
 * buffered, for their message). Returns 0, or < 0 to abort the transfer
 * (rc TP_EIO). */
typedef int (*http_sink_fn)(void *ctx, const void *data, size_t len);

struct http_request {
	const char *method;            /* "GET", "POST", "PUT", "DELETE", "HEAD" */
	const char *url;               /* absolute, path and query already encoded */
	const char *const *headers;    /* "Name: value" strings */
	size_t n_headers;
	const void *body;              /* may be NULL */
	size_t body_len;
	long connect_timeout_ms;       /* 0: 3000 */
	long timeout_ms;               /* 0: 30000; negative: no total timeout */
	size_t max_response_bytes;     /* 0: 16 MiB; a larger answer fails with TP_ELIMIT */
	http_sink_fn sink;             /* NULL: buffer the body in resp->body */
	void *sink_ctx;                /* sink's argument */
};

struct http_response {
	long status;          /* HTTP status; 0 when there was no answer */
	buf body;             /* answer body */
	buf headers;          /* header block of the final answer, "Name: value\r\n" lines */
	int rc;               /* TP_OK, TP_EIO (connect, TLS, reset, timeout) or TP_ELIMIT */
	int timed_out;        /* 1 when rc is TP_EIO because a timeout expired */
	char error[256];      /* why rc is not TP_OK */
};

struct http_options {
	const char *ca_file;  /* NULL: search as described above */
	long max_connections; /* per host; 0: 32 */
};

struct http_client;

int http_client_new(const struct http_options *opts, struct http_client **out, tp_err *e);
void http_client_free(struct http_client *c);

typedef void (*http_done_fn)(void *ctx, struct http_response *resp);

/* Queue a transfer. req (and every pointer in it) and resp must stay valid
 * until done runs. resp is reset first. Returns TP_OK or TP_EINVAL (bad URL...). */
int http_start(struct http_client *c, const struct http_request *req, struct http_response *resp,
	       http_done_fn done, void *ctx);

/* Run transfers, waiting at most timeout_ms for activity (0: do not wait),
 * calling done callbacks of finished transfers. Returns the number still running. */
int http_poll(struct http_client *c, long timeout_ms);

int http_running(const struct http_client *c);

/* One blocking transfer. Returns resp->rc. */
int http_do(struct http_client *c, const struct http_request *req, struct http_response *resp);

/* Find a header of the final answer (case-insensitive); copies the trimmed
 * value into out. Returns 1 when found. */
int http_header(const struct http_response *resp, const char *name, char *out, size_t out_len);
/* The same in a raw header block [h, end) of \n- or \r\n-ended lines;
 * out is "" when the header is absent. */
int http_header_in(const char *h, const char *end, const char *name, char *out, size_t out_len);

void http_response_free(struct http_response *resp);

/* libcurl's version text, e.g. "libcurl/7.88.1 BearSSL". */
const char *http_library_version(void);

#endif
