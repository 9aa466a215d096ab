/* http.c: the HTTP(S) transport (see http.h), the only user of libcurl.
 *
 * One CURLM per client drives every transfer; a finished transfer's easy
 * handle goes back to a small free list so the next transfer reuses it, while
 * the connection cache lives in the multi handle (keep-alive across
 * transfers). Only options both the release libcurl (7.88.1 + BearSSL, musl)
 * and Debian's (7.88.1 + OpenSSL) understand are used.
 *
 * Sockets are watched with epoll through curl's socket interface
 * (curl_multi_socket_action): an event wakes only the transfer on that
 * socket, already told which way it is ready. curl_multi_perform instead
 * visits every running transfer at every wake and polls each one's socket
 * first; with 16 transfers in flight that was ~24 poll calls per request,
 * most of the CPU an apply spent outside the policy.
 */
#include "aws/http.h"
#include "base/log.h"

#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <unistd.h>

#define HTTP_DEFAULT_CONNECT_MS 3000L
#define HTTP_DEFAULT_TIMEOUT_MS 30000L
#define HTTP_DEFAULT_MAX_BYTES ((size_t)16 << 20)
#define HTTP_DEFAULT_MAX_CONNS 32L
#define HTTP_FREE_MAX 16      /* idle easy handles kept for reuse */

struct xfer {
	CURL *easy;                   /* owned */
	struct curl_slist *hdrs;      /* owned while running */
	struct http_response *resp;   /* borrowed from the caller */
	http_done_fn done;            /* called once when the transfer ends */
	void *ctx;                    /* done's argument */
	size_t max_bytes;             /* body cap */
	int over_limit;               /* write callback refused the body */
	http_sink_fn sink;            /* 2xx body goes here; NULL: buffered */
	void *sink_ctx;               /* sink's argument */
	int sink_failed;              /* the sink refused the body */
	int64_t started_ms;           /* monotonic, for the debug log */
	char errbuf[CURL_ERROR_SIZE]; /* curl's detail for the last failure */
	struct xfer *prev, *next;     /* active list or free list */
};

struct http_client {
	CURLM *multi;                 /* owned */
	char *ca_file;                /* owned; NULL: no bundle found */
	struct xfer *active;          /* running transfers */
	struct xfer *free_list;       /* idle easy handles */
	int n_active;                 /* length of active */
	int n_free;                   /* length of free_list */
	int epfd;                     /* epoll set of the sockets curl watches */
	int64_t timer_at;             /* monotonic ms curl wants its timeout run at; -1: none */
};

/* CURLMOPT_SOCKETFUNCTION: keep the epoll set as curl wants it. socketp
 * marks a socket already in the set. */
static int on_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	(void)easy;
	struct http_client *c = userp;
	if (what == CURL_POLL_REMOVE) {
		epoll_ctl(c->epfd, EPOLL_CTL_DEL, s, NULL); /* fails harmlessly if already closed */
		return 0;
	}
	struct epoll_event ev = { 0 };
	ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);
	ev.data.fd = s;
	if (socketp || epoll_ctl(c->epfd, EPOLL_CTL_ADD, s, &ev) < 0)
		epoll_ctl(c->epfd, EPOLL_CTL_MOD, s, &ev);
	if (!socketp)
		curl_multi_assign(c->multi, s, c);
	return 0;
}

/* CURLMOPT_TIMERFUNCTION: when curl wants CURL_SOCKET_TIMEOUT run. */
static int on_timer(CURLM *multi, long timeout_ms, void *userp)
{
	(void)multi;
	struct http_client *c = userp;
	c->timer_at = timeout_ms < 0 ? -1 : tp_mono_ms() + timeout_ms;
	return 0;
}

/* Run curl's timeout when it is due. */
static void run_timer(struct http_client *c)
{
	if (c->timer_at < 0 || c->timer_at > tp_mono_ms())
		return;
	c->timer_at = -1; /* curl may set a new one from inside */
	int running;
	curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
}

/* curl_global_init runs once, with the first client, and is never undone:
 * the process is single-threaded and lives as long as its clients. */
static int curl_ready;

static int file_readable(const char *p)
{
	return p && *p && access(p, R_OK) == 0;
}

/* The search order of http.h. An explicit ca_file must exist. */
static int find_ca(const char *opt, char **out, tp_err *e)
{
	if (opt) {
		errno = 0;
		if (!file_readable(opt))
			return tp_errf(e, TP_EINVAL, "NoCABundle", "CA file %s: %s", opt,
				       strerror(errno ? errno : ENOENT));
		*out = tp_xstrdup(opt);
		return TP_OK;
	}
	const char *env = getenv("SSL_CERT_FILE");
	if (env && *env) {
		if (file_readable(env)) {
			*out = tp_xstrdup(env);
			return TP_OK;
		}
		log_warn("SSL_CERT_FILE=%s is not readable, searching the system bundles", env);
	}
	static const char *const sys[] = {
		"/etc/pki/tls/certs/ca-bundle.crt",   /* Amazon Linux */
		"/etc/ssl/certs/ca-certificates.crt", /* Debian */
	};
	for (size_t i = 0; i < sizeof sys / sizeof sys[0]; i++)
		if (file_readable(sys[i])) {
			*out = tp_xstrdup(sys[i]);
			return TP_OK;
		}
	*out = NULL;  /* plain http still works */
	return TP_OK;
}

int http_client_new(const struct http_options *opts, struct http_client **out, tp_err *e)
{
	*out = NULL;
	if (!curl_ready) {
		CURLcode cc = curl_global_init(CURL_GLOBAL_DEFAULT);
		if (cc != CURLE_OK)
			return tp_errf(e, TP_EIO, "CurlInit", "curl_global_init: %s", curl_easy_strerror(cc));
		curl_ready = 1;
	}
	char *ca = NULL;
	int rc = find_ca(opts ? opts->ca_file : NULL, &ca, e);
	if (rc)
		return rc;
	struct http_client *c = tp_xcalloc(1, sizeof *c);
	c->ca_file = ca;
	c->timer_at = -1;
	c->epfd = epoll_create1(EPOLL_CLOEXEC);
	c->multi = c->epfd >= 0 ? curl_multi_init() : NULL;
	if (!c->multi) {
		if (c->epfd >= 0)
			close(c->epfd);
		free(ca);
		free(c);
		return tp_errf(e, TP_EIO, "CurlInit", "curl_multi_init or epoll_create1 failed");
	}
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_timer);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
	long conns = opts && opts->max_connections > 0 ? opts->max_connections : HTTP_DEFAULT_MAX_CONNS;
	curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, conns);
	/* Cache at least as many idle connections as may be open to one host. */
	curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, conns);
	*out = c;
	return TP_OK;
}

static void xfer_destroy(struct xfer *x)
{
	curl_slist_free_all(x->hdrs);
	curl_easy_cleanup(x->easy);
	free(x);
}

void http_client_free(struct http_client *c)
{
	if (!c)
		return;
	/* Abandoned transfers end without a done callback. */
	while (c->active) {
		struct xfer *x = c->active;
		c->active = x->next;
		curl_multi_remove_handle(c->multi, x->easy);
		xfer_destroy(x);
	}
	while (c->free_list) {
		struct xfer *x = c->free_list;
		c->free_list = x->next;
		xfer_destroy(x);
	}
	curl_multi_cleanup(c->multi);
	close(c->epfd);
	free(c->ca_file);
	free(c);
}

int http_running(const struct http_client *c)
{
	return c ? c->n_active : 0;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	struct xfer *x = ud;
	size_t len = size * n;
	if (x->sink) {
		long st = 0;
		curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &st);
		if (st >= 200 && st < 300) {
			if (x->sink(x->sink_ctx, p, len) < 0) {
				x->sink_failed = 1;
				return 0;
			}
			return len;
		}
	}
	if (x->resp->body.len + len > x->max_bytes) {
		x->over_limit = 1;
		return 0;  /* != len: curl aborts with CURLE_WRITE_ERROR */
	}
	buf_add(&x->resp->body, p, len);
	return len;
}

/* Keep only the final answer's header block: every status line (a 100
 * Continue, a redirect, a proxy's CONNECT answer) starts a new block. */
static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
	struct xfer *x = ud;
	size_t len = size * n;
	buf *h = &x->resp->headers;
	if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
		buf_reset(h);
		return len;
	}
	size_t l = len;
	while (l > 0 && (p[l - 1] == '\r' || p[l - 1] == '\n'))
		l--;
	if (l == 0)
		return len;  /* the blank line ending the block */
	buf_add(h, p, l);
	buf_add(h, "\r\n", 2);
	return len;
}

static void resp_reset(struct http_response *r)
{
	r->status = 0;
	buf_reset(&r->body);
	buf_reset(&r->headers);
	r->rc = TP_OK;
	r->timed_out = 0;
	r->error[0] = 0;
}

static int start_fail(struct http_response *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int start_fail(struct http_response *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->error, sizeof r->error, fmt, ap);
	va_end(ap);
	r->rc = TP_EINVAL;
	return TP_EINVAL;
}

/* Parse the URL with curl's own parser so a bad one fails here, not later.
 * *https set from the scheme. */
static int check_url(const char *url, int *https, struct http_response *r)
{
	if (!url || !*url)
		return start_fail(r, "no URL");
	CURLU *u = curl_url();
	if (!u)
		return start_fail(r, "curl_url failed");
	char *scheme = NULL;
	int rc = TP_OK;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK)
		rc = start_fail(r, "bad URL: %.200s", url);
	else if (strcmp(scheme, "https") == 0)
		*https = 1;
	else if (strcmp(scheme, "http") == 0)
		*https = 0;
	else
		rc = start_fail(r, "unsupported URL scheme %.32s (http and https only)", scheme);
	curl_free(scheme);
	curl_url_cleanup(u);
	return rc;
}

static int has_header(const struct http_request *req, const char *name)
{
	size_t nl = strlen(name);
	for (size_t i = 0; i < req->n_headers; i++)
		if (strncasecmp(req->headers[i], name, nl) == 0 && req->headers[i][nl] == ':')
			return 1;
	return 0;
}

static int valid_method(const char *m)
{
	if (!m || !*m || strlen(m) > 32)
		return 0;
	for (const char *p = m; *p; p++)
		if (!((*p >= 'A' && *p <= 'Z') || *p == '-' || *p == '_'))
			return 0;
	return 1;
}

static void set_method(CURL *h, const struct http_request *req)
{
	const char *m = req->method;
	int is_post = strcmp(m, "POST") == 0, is_put = strcmp(m, "PUT") == 0;
	if (strcmp(m, "HEAD") == 0) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
		return;
	}
	if (req->body || is_post || is_put) {
		/* POSTFIELDS with size 0 still sends Content-Length: 0. */
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(req->body ? req->body_len : 0));
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body ? (const char *)req->body : "");
		if (!is_post)
			curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, m);
		return;
	}
	if (strcmp(m, "GET") == 0)
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	else
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, m);
}

static struct xfer *xfer_get(struct http_client *c)
{
	struct xfer *x = c->free_list;
	if (x) {
		c->free_list = x->next;
		c->n_free--;
		curl_easy_reset(x->easy);
		x->prev = x->next = NULL;
		return x;
	}
	x = tp_xcalloc(1, sizeof *x);
	x->easy = curl_easy_init();
	if (!x->easy) {
		free(x);
		return NULL;
	}
	return x;
}

static void xfer_put(struct http_client *c, struct xfer *x)
{
	curl_slist_free_all(x->hdrs);
	x->hdrs = NULL;
	x->resp = NULL;
	x->done = NULL;
	x->ctx = NULL;
	if (c->n_free >= HTTP_FREE_MAX) {
		xfer_destroy(x);
		return;
	}
	x->prev = NULL;
	x->next = c->free_list;
	c->free_list = x;
	c->n_free++;
}

static void active_add(struct http_client *c, struct xfer *x)
{
	x->prev = NULL;
	x->next = c->active;
	if (c->active)
		c->active->prev = x;
	c->active = x;
	c->n_active++;
}

static void active_del(struct http_client *c, struct xfer *x)
{
	if (x->prev)
		x->prev->next = x->next;
	else
		c->active = x->next;
	if (x->next)
		x->next->prev = x->prev;
	x->prev = x->next = NULL;
	c->n_active--;
}

static void setup_easy(struct http_client *c, struct xfer *x, const struct http_request *req, int https)
{
	CURL *h = x->easy;
	curl_easy_setopt(h, CURLOPT_URL, req->url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	/* The path was signed as given: no dot-segment squashing. */
	curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
	/* Traffic goes where the URL says, never via an env-configured proxy. */
	curl_easy_setopt(h, CURLOPT_PROXY, "");
	curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPIDLE, 60L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPINTVL, 30L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (https && c->ca_file) {
		curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
		/* Trust only the bundle chosen above (no-op without CA path support). */
		curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
	}

	long cto = req->connect_timeout_ms > 0 ? req->connect_timeout_ms : HTTP_DEFAULT_CONNECT_MS;
	long to = req->timeout_ms == 0 ? HTTP_DEFAULT_TIMEOUT_MS : req->timeout_ms < 0 ? 0 : req->timeout_ms;
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, cto);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, to);

	x->max_bytes = req->max_response_bytes ? req->max_response_bytes : HTTP_DEFAULT_MAX_BYTES;
	x->over_limit = 0;
	x->sink = req->sink;
	x->sink_ctx = req->sink_ctx;
	x->sink_failed = 0;
	/* Fail early on an announced oversize body; not for HEAD, whose
	 * Content-Length describes a body that never comes, nor for a sink,
	 * which takes any size. (Handles are reused: always set it.) */
	if (strcmp(req->method, "HEAD") != 0 && !req->sink)
		curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)x->max_bytes);
	else
		curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)0);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
	x->errbuf[0] = 0;
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(h, CURLOPT_PRIVATE, (void *)x);

	set_method(h, req);

	struct curl_slist *l = NULL;
	for (size_t i = 0; i < req->n_headers; i++)
		l = curl_slist_append(l, req->headers[i]);
	l = curl_slist_append(l, "Expect:");          /* no 100-continue round trip */
	l = curl_slist_append(l, "Accept-Encoding:"); /* identity only */
	if (!has_header(req, "Content-Type"))
		l = curl_slist_append(l, "Content-Type:"); /* not curl's form default */
	if (!l)
		abort();  /* curl_slist_append failed: out of memory */
	x->hdrs = l;
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, l);
}

int http_start(struct http_client *c, const struct http_request *req, struct http_response *resp,
	       http_done_fn done, void *ctx)
{
	resp_reset(resp);
	int https = 0;
	int rc = check_url(req->url, &https, resp);
	if (rc)
		return rc;
	const char *method = req->method ? req->method : "GET";
	if (!valid_method(method))
		return start_fail(resp, "bad HTTP method %.40s", method);
	if (https && !c->ca_file)
		return start_fail(resp, "no CA bundle: set SSL_CERT_FILE to a PEM file of trusted CAs"
				  " (none at /etc/pki/tls/certs/ca-bundle.crt or /etc/ssl/certs/ca-certificates.crt)");
	struct xfer *x = xfer_get(c);
	if (!x) {
		resp->rc = TP_EIO;
		snprintf(resp->error, sizeof resp->error, "curl_easy_init failed");
		return TP_EIO;
	}
	struct http_request r = *req;
	r.method = method;
	x->resp = resp;
	x->done = done;
	x->ctx = ctx;
	x->started_ms = tp_mono_ms();
	setup_easy(c, x, &r, https);
	CURLMcode mc = curl_multi_add_handle(c->multi, x->easy);
	if (mc != CURLM_OK) {
		resp->rc = TP_EIO;
		snprintf(resp->error, sizeof resp->error, "curl_multi_add_handle: %s", curl_multi_strerror(mc));
		xfer_put(c, x);
		return TP_EIO;
	}
	active_add(c, x);
	return TP_OK;
}

/* The URL up to its query: presigned queries carry credentials. */
static void log_done(const struct xfer *x, const struct http_response *r)
{
	if (!log_enabled(LOG_DEBUG))
		return;
	char *url = NULL, *method = NULL;
	curl_easy_getinfo(x->easy, CURLINFO_EFFECTIVE_URL, &url);
	curl_easy_getinfo(x->easy, CURLINFO_EFFECTIVE_METHOD, &method);
	size_t n = url ? strcspn(url, "?") : 0;
	log_debug("http %s %.*s -> %ld %s (%lld ms)%s%s", method ? method : "?", (int)n, url ? url : "",
		  r->status, tp_rc_name(r->rc), (long long)(tp_mono_ms() - x->started_ms),
		  r->error[0] ? ": " : "", r->error);
}

static void finish(struct xfer *x, CURLcode cc)
{
	struct http_response *r = x->resp;
	long status = 0;
	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
	r->status = status;
	if (cc == CURLE_OK) {
		r->rc = TP_OK;
	} else if (x->sink_failed) {
		r->rc = TP_EIO;
		snprintf(r->error, sizeof r->error, "the body sink refused the answer");
	} else if (x->over_limit || cc == CURLE_FILESIZE_EXCEEDED) {
		r->rc = TP_ELIMIT;
		snprintf(r->error, sizeof r->error, "response body larger than %zu bytes (max_response_bytes)",
			 x->max_bytes);
	} else {
		r->rc = TP_EIO;
		r->timed_out = cc == CURLE_OPERATION_TIMEDOUT;
		if (x->errbuf[0])
			snprintf(r->error, sizeof r->error, "%.60s: %.190s", curl_easy_strerror(cc), x->errbuf);
		else
			snprintf(r->error, sizeof r->error, "%s", curl_easy_strerror(cc));
	}
	log_done(x, r);
}

/* Hand finished transfers to their callbacks. Returns how many ended. */
static int drain(struct http_client *c)
{
	int ended = 0, left;
	CURLMsg *m;
	while ((m = curl_multi_info_read(c->multi, &left))) {
		if (m->msg != CURLMSG_DONE)
			continue;
		CURL *h = m->easy_handle;
		CURLcode cc = m->data.result;  /* m is invalid after remove_handle */
		struct xfer *x = NULL;
		curl_easy_getinfo(h, CURLINFO_PRIVATE, (char **)&x);
		finish(x, cc);
		curl_multi_remove_handle(c->multi, h);
		active_del(c, x);
		http_done_fn done = x->done;
		void *ctx = x->ctx;
		struct http_response *r = x->resp;
		xfer_put(c, x);
		/* Last: done may start new transfers or free resp. */
		if (done)
			done(ctx, r);
		ended++;
	}
	return ended;
}

int http_poll(struct http_client *c, long timeout_ms)
{
	run_timer(c);
	if (drain(c) > 0 || c->n_active == 0)
		return c->n_active;
	/* wait for a socket, at most until curl's timeout is due */
	int64_t wait = timeout_ms > 0 ? timeout_ms : 0;
	if (c->timer_at >= 0) {
		int64_t t = c->timer_at - tp_mono_ms();
		if (t < wait)
			wait = t < 0 ? 0 : t;
	}
	struct epoll_event ev[32];
	int n = epoll_wait(c->epfd, ev, 32, wait > INT_MAX ? INT_MAX : (int)wait);
	for (int i = 0; i < n; i++) {
		int f = (ev[i].events & EPOLLIN ? CURL_CSELECT_IN : 0) | (ev[i].events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
			(ev[i].events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
		int running;
		curl_multi_socket_action(c->multi, ev[i].data.fd, f, &running);
	}
	run_timer(c);
	drain(c);
	return c->n_active;
}

static void do_done(void *ctx, struct http_response *resp)
{
	(void)resp;
	*(int *)ctx = 1;
}

int http_do(struct http_client *c, const struct http_request *req, struct http_response *resp)
{
	int finished = 0;
	if (http_start(c, req, resp, do_done, &finished) != TP_OK)
		return resp->rc;
	/* No deadline here: curl enforces the request's timeouts (none for a
	 * negative timeout_ms, as the Runtime API's /next needs). */
	while (!finished)
		http_poll(c, 1000);
	return resp->rc;
}

int http_header_in(const char *h, const char *end, const char *name, char *out, size_t out_len)
{
	size_t nl = strlen(name);
	if (out && out_len)
		out[0] = 0;
	for (const char *line = h; line < end;) {
		const char *eol = memchr(line, '\n', (size_t)(end - line));
		if (!eol)
			eol = end;
		if ((size_t)(eol - line) > nl && line[nl] == ':' && strncasecmp(line, name, nl) == 0) {
			const char *v = line + nl + 1, *ve = eol;
			while (v < ve && (*v == ' ' || *v == '\t'))
				v++;
			while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
				ve--;
			if (out && out_len)
				snprintf(out, out_len, "%.*s", (int)(ve - v), v);
			return 1;
		}
		line = eol + 1;
	}
	return 0;
}

int http_header(const struct http_response *resp, const char *name, char *out, size_t out_len)
{
	const char *h = buf_str(&resp->headers);
	return http_header_in(h, h + strlen(h), name, out, out_len);
}

void http_response_free(struct http_response *resp)
{
	if (!resp)
		return;
	buf_free(&resp->body);
	buf_free(&resp->headers);
}

const char *http_library_version(void)
{
	return curl_version();
}
