/* test_http.c: the HTTP transport (http.c) against a tiny HTTP/1.1 server
 * forked from this process: canned answers, slow answers, dropped
 * connections, oversize bodies, keep-alive and concurrency. Parallelism is
 * judged from what the server recorded (requests in flight at once), never
 * from a stopwatch in the client. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/base.h"
#include "aws/http.h"

#define BIG_BYTES (20 * 1024 * 1024)

/* What the server records, in memory shared with its forked children. */
struct server_log {
	int conns;       /* connections accepted */
	int in_flight;   /* /n/ requests being answered now */
	int peak;        /* most /n/ requests in flight at once */
	int want;        /* /n/ holds its answer until this many are in flight; 0: no hold */
	int gave_up;     /* a hold ran out: later ones answer without holding */
	int hold_ms;     /* /hang: how long the client kept the connection, ms */
};

/* /n/ waits at most this long for `want` requests: far above what a
 * loaded machine needs to start 20 transfers, and only ever spent when
 * the client does not run them in parallel (the test then fails on peak). */
#define HOLD_MAX_MS 5000
/* /hang keeps the connection this long unless the client closes it first. */
#define HANG_MS 30000

static pid_t server_pid;
static int server_port;
static struct server_log *server_log;
static char url_buf[100];

/* /n/: count this request in flight, note the peak, hold the answer until
 * `want` are in flight (bounded), then keep it 50 ms longer so that any
 * request beyond the expected number is counted too. */
static void n_enter(void)
{
	struct server_log *l = server_log;
	int now = __atomic_add_fetch(&l->in_flight, 1, __ATOMIC_SEQ_CST);
	int peak = __atomic_load_n(&l->peak, __ATOMIC_SEQ_CST);
	while (now > peak && !__atomic_compare_exchange_n(&l->peak, &peak, now, 0, __ATOMIC_SEQ_CST,
							  __ATOMIC_SEQ_CST))
		;
	int want = __atomic_load_n(&l->want, __ATOMIC_SEQ_CST);
	int64_t until = tp_mono_ms() + HOLD_MAX_MS;
	while (want > 0 && !__atomic_load_n(&l->gave_up, __ATOMIC_SEQ_CST) &&
	       __atomic_load_n(&l->in_flight, __ATOMIC_SEQ_CST) < want) {
		if (tp_mono_ms() >= until) {
			__atomic_store_n(&l->gave_up, 1, __ATOMIC_SEQ_CST);
			break;
		}
		usleep(1000);
	}
	usleep(50 * 1000);
}

static void n_leave(void)
{
	__atomic_sub_fetch(&server_log->in_flight, 1, __ATOMIC_SEQ_CST);
}

/* ---- the server (runs in forked children only) ---- */

static int send_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n > 0) {
		ssize_t w = write(fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

static int reply(int fd, const char *status, const char *extra, const char *body, size_t len, int head)
{
	char h[512];
	int n = snprintf(h, sizeof h, "HTTP/1.1 %s\r\n%sContent-Length: %zu\r\n\r\n", status, extra, len);
	if (send_all(fd, h, (size_t)n))
		return -1;
	return head ? 0 : send_all(fd, body, len);
}

/* One request per loop turn, keep-alive until the client closes. */
static void serve_conn(int fd)
{
	static char in[1 << 16];
	size_t have = 0;
	for (;;) {
		char *end;
		while (!(end = memmem(in, have, "\r\n\r\n", 4))) {
			if (have == sizeof in)
				return;
			ssize_t r = read(fd, in + have, sizeof in - have);
			if (r <= 0)
				return;
			have += (size_t)r;
		}
		size_t head_len = (size_t)(end - in) + 4;
		size_t clen = 0;
		char *cl = memmem(in, head_len, "Content-Length:", 15);
		if (cl)
			clen = strtoul(cl + 15, NULL, 10);
		while (have < head_len + clen) {
			ssize_t r = read(fd, in + have, sizeof in - have);
			if (r <= 0)
				return;
			have += (size_t)r;
		}
		char method[16] = "", path[256] = "";
		sscanf(in, "%15s %255s", method, path);
		int head = strcmp(method, "HEAD") == 0;
		int rc = 0;
		if (strcmp(path, "/hello") == 0) {
			rc = reply(fd, "200 OK", "Content-Type: text/plain\r\nX-Test:   Value  \r\n", "hello world", 11, head);
		} else if (strcmp(path, "/echo") == 0) {
			rc = reply(fd, "200 OK", "", in, head_len + clen, head);
		} else if (strcmp(path, "/slow") == 0) {
			usleep(1000 * 1000);
			rc = reply(fd, "200 OK", "", "slow", 4, head);
		} else if (strcmp(path, "/close") == 0) {
			return;
		} else if (strcmp(path, "/hang") == 0) {
			/* no answer until the client closes (or HANG_MS): the time the
			 * client held on is the server's record of its timeout */
			int64_t t0 = tp_mono_ms();
			struct pollfd p = { .fd = fd, .events = POLLIN };
			char c;
			while (poll(&p, 1, HANG_MS) < 0 && errno == EINTR)
				;
			if (p.revents && recv(fd, &c, 1, MSG_PEEK) <= 0) {
				__atomic_store_n(&server_log->hold_ms, (int)(tp_mono_ms() - t0), __ATOMIC_SEQ_CST);
				return;
			}
			rc = reply(fd, "200 OK", "", "late", 4, head);
		} else if (strcmp(path, "/big") == 0 || strcmp(path, "/bigchunked") == 0) {
			int chunked = strcmp(path, "/bigchunked") == 0;
			static char blk[65536];
			memset(blk, 'x', sizeof blk);
			char h[160];
			int n = chunked ? snprintf(h, sizeof h, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
					: snprintf(h, sizeof h, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", BIG_BYTES);
			if (send_all(fd, h, (size_t)n))
				return;
			for (int sent = 0; sent < BIG_BYTES; sent += (int)sizeof blk) {
				if (chunked && send_all(fd, "10000\r\n", 7))
					return;
				if (send_all(fd, blk, sizeof blk))
					return;
				if (chunked && send_all(fd, "\r\n", 2))
					return;
			}
			rc = chunked ? send_all(fd, "0\r\n\r\n", 5) : 0;
		} else if (strncmp(path, "/n/", 3) == 0) {
			n_enter();
			n_leave();
			char b[64];
			int n = snprintf(b, sizeof b, "body-%s", path + 3);
			rc = reply(fd, "200 OK", "", b, (size_t)n, head);
		} else if (strcmp(path, "/continue") == 0) {
			const char *a = "HTTP/1.1 100 Continue\r\nX-Interim: yes\r\n\r\n";
			rc = send_all(fd, a, strlen(a));
			if (!rc)
				rc = reply(fd, "201 Created", "X-Final: yes\r\n", "ok", 2, head);
		} else if (strcmp(path, "/redirect") == 0) {
			rc = reply(fd, "302 Found", "Location: /hello\r\n", "moved", 5, head);
		} else {
			rc = reply(fd, "404 Not Found", "", "nope", 4, head);
		}
		if (rc)
			return;
		have -= head_len + clen;
		memmove(in, in + head_len + clen, have);
	}
}

static void server_main(int ls)
{
	signal(SIGCHLD, SIG_IGN);  /* connection handlers reap themselves */
	signal(SIGPIPE, SIG_IGN);
	for (;;) {
		int fd = accept(ls, NULL, NULL);
		if (fd < 0)
			continue;
		__atomic_add_fetch(&server_log->conns, 1, __ATOMIC_SEQ_CST);
		pid_t p = fork();
		if (p == 0) {
			close(ls);
			serve_conn(fd);
			close(fd);
			_exit(0);
		}
		close(fd);
	}
}

static int server_setup(void **state)
{
	(void)state;
	server_log = mmap(NULL, sizeof *server_log, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (server_log == MAP_FAILED)
		return -1;
	int ls = socket(AF_INET, SOCK_STREAM, 0);
	int one = 1;
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof a;
	if (bind(ls, (struct sockaddr *)&a, sizeof a) || listen(ls, 128) ||
	    getsockname(ls, (struct sockaddr *)&a, &al))
		return -1;
	server_port = ntohs(a.sin_port);
	server_pid = fork();
	if (server_pid < 0)
		return -1;
	if (server_pid == 0) {
		setpgid(0, 0);
		server_main(ls);
		_exit(0);
	}
	setpgid(server_pid, server_pid);
	close(ls);
	return 0;
}

static int server_teardown(void **state)
{
	(void)state;
	kill(-server_pid, SIGKILL);
	kill(server_pid, SIGKILL);
	waitpid(server_pid, NULL, 0);
	munmap(server_log, sizeof *server_log);
	return 0;
}

static int conns(void)
{
	return __atomic_load_n(&server_log->conns, __ATOMIC_SEQ_CST);
}

static const char *url(const char *path)
{
	snprintf(url_buf, sizeof url_buf, "http://127.0.0.1:%d%s", server_port, path);
	return url_buf;
}

static struct http_client *client(long max_conns)
{
	struct http_options o = { .max_connections = max_conns };
	struct http_client *c = NULL;
	tp_err e = {0};
	assert_int_equal(http_client_new(&o, &c, &e), TP_OK);
	assert_non_null(c);
	return c;
}

/* One blocking request; the response is left in *r. */
static int do_req(struct http_client *c, const char *method, const char *path, const char *body,
		  const char *const *hdrs, size_t nh, struct http_response *r)
{
	struct http_request q = {
		.method = method, .url = url(path), .headers = hdrs, .n_headers = nh,
		.body = body, .body_len = body ? strlen(body) : 0,
	};
	return http_do(c, &q, r);
}

/* ---- tests ---- */

static void test_get_and_headers(void **state)
{
	(void)state;
	struct http_client *c = client(0);
	struct http_response r = {0};
	assert_int_equal(do_req(c, "GET", "/hello", NULL, NULL, 0, &r), TP_OK);
	assert_int_equal(r.status, 200);
	assert_string_equal(buf_str(&r.body), "hello world");
	assert_int_equal(r.rc, TP_OK);
	assert_string_equal(r.error, "");

	char v[64];
	assert_int_equal(http_header(&r, "x-test", v, sizeof v), 1);
	assert_string_equal(v, "Value");
	assert_int_equal(http_header(&r, "X-TEST", v, sizeof v), 1);
	assert_int_equal(http_header(&r, "content-type", v, sizeof v), 1);
	assert_string_equal(v, "text/plain");
	assert_int_equal(http_header(&r, "Content-Length", v, sizeof v), 1);
	assert_string_equal(v, "11");
	assert_int_equal(http_header(&r, "X-Tes", v, sizeof v), 0);
	assert_int_equal(http_header(&r, "Missing", v, sizeof v), 0);
	char small[3];
	assert_int_equal(http_header(&r, "x-test", small, sizeof small), 1);
	assert_string_equal(small, "Va");
	/* the status line is not part of the header block */
	assert_null(strstr(buf_str(&r.headers), "HTTP/1.1"));

	/* a response is reusable: the second request resets it */
	assert_int_equal(do_req(c, "GET", "/nothing", NULL, NULL, 0, &r), TP_OK);
	assert_int_equal(r.status, 404);
	assert_string_equal(buf_str(&r.body), "nope");
	assert_int_equal(http_header(&r, "x-test", v, sizeof v), 0);

	http_response_free(&r);
	http_response_free(NULL);
	http_client_free(c);
	http_client_free(NULL);
}

static void test_methods(void **state)
{
	(void)state;
	struct http_client *c = client(0);
	struct http_response r = {0};
	const char *body;

	/* POST without a body still says Content-Length: 0; no curl defaults leak */
	assert_int_equal(do_req(c, "POST", "/echo", NULL, NULL, 0, &r), TP_OK);
	body = buf_str(&r.body);
	assert_true(tp_startswith(body, "POST /echo HTTP/1.1\r\n"));
	assert_non_null(strstr(body, "\r\nContent-Length: 0\r\n"));
	assert_null(strstr(body, "Content-Type"));
	assert_null(strstr(body, "Expect"));
	assert_null(strstr(body, "Accept-Encoding"));

	/* PUT with a body, caller headers pass through */
	const char *h[] = { "Content-Type: application/json", "X-Custom: abc" };
	assert_int_equal(do_req(c, "PUT", "/echo", "{\"a\":1}", h, 2, &r), TP_OK);
	body = buf_str(&r.body);
	assert_true(tp_startswith(body, "PUT /echo HTTP/1.1\r\n"));
	assert_non_null(strstr(body, "\r\nContent-Length: 7\r\n"));
	assert_non_null(strstr(body, "\r\nContent-Type: application/json\r\n"));
	assert_non_null(strstr(body, "\r\nX-Custom: abc\r\n"));
	assert_non_null(strstr(body, "\r\n\r\n{\"a\":1}"));

	/* PUT without a body */
	assert_int_equal(do_req(c, "PUT", "/echo", NULL, NULL, 0, &r), TP_OK);
	assert_non_null(strstr(buf_str(&r.body), "\r\nContent-Length: 0\r\n"));

	/* DELETE */
	assert_int_equal(do_req(c, "DELETE", "/echo", NULL, NULL, 0, &r), TP_OK);
	assert_int_equal(r.status, 200);
	assert_true(tp_startswith(buf_str(&r.body), "DELETE /echo HTTP/1.1\r\n"));
	assert_null(strstr(buf_str(&r.body), "Content-Length"));

	/* GET (a NULL method means GET) */
	struct http_request q = { .url = url("/echo") };
	assert_int_equal(http_do(c, &q, &r), TP_OK);
	assert_true(tp_startswith(buf_str(&r.body), "GET /echo HTTP/1.1\r\n"));

	/* HEAD: headers, no body */
	assert_int_equal(do_req(c, "HEAD", "/hello", NULL, NULL, 0, &r), TP_OK);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body.len, 0);
	char v[32];
	assert_int_equal(http_header(&r, "Content-Length", v, sizeof v), 1);
	assert_string_equal(v, "11");

	/* HEAD of something bigger than max_response_bytes is fine */
	struct http_request hq = { .method = "HEAD", .url = url("/big"), .max_response_bytes = 1000 };
	assert_int_equal(http_do(c, &hq, &r), TP_OK);
	assert_int_equal(r.status, 200);

	http_response_free(&r);
	http_client_free(c);
}

static void test_interim_and_redirect(void **state)
{
	(void)state;
	struct http_client *c = client(0);
	struct http_response r = {0};
	char v[32];

	/* a 100 Continue block does not mix into the final headers */
	assert_int_equal(do_req(c, "GET", "/continue", NULL, NULL, 0, &r), TP_OK);
	assert_int_equal(r.status, 201);
	assert_string_equal(buf_str(&r.body), "ok");
	assert_int_equal(http_header(&r, "X-Final", v, sizeof v), 1);
	assert_int_equal(http_header(&r, "X-Interim", v, sizeof v), 0);

	/* redirects are not followed */
	assert_int_equal(do_req(c, "GET", "/redirect", NULL, NULL, 0, &r), TP_OK);
	assert_int_equal(r.status, 302);
	assert_string_equal(buf_str(&r.body), "moved");
	assert_int_equal(http_header(&r, "Location", v, sizeof v), 1);
	assert_string_equal(v, "/hello");

	http_response_free(&r);
	http_client_free(c);
}

/* The 300 ms total timeout ends a request to a server that never answers.
 * Lower bound: not before the limit. Upper bound: the server's own record
 * of how long the client held on, far below its 30 s hold (a wide margin:
 * without the timeout the client would wait the full 30 s). */
static void test_timeout(void **state)
{
	(void)state;
	struct http_client *c = client(0);
	struct http_response r = {0};
	struct http_request q = { .method = "GET", .url = url("/hang"), .timeout_ms = 300 };
	__atomic_store_n(&server_log->hold_ms, -1, __ATOMIC_SEQ_CST);
	int64_t t0 = tp_mono_ms();
	assert_int_equal(http_do(c, &q, &r), TP_EIO);
	int64_t ms = tp_mono_ms() - t0;
	assert_int_equal(r.rc, TP_EIO);
	assert_int_equal(r.timed_out, 1);
	assert_true(ms >= 250);
	assert_non_null(strstr(r.error, "imeout"));
	/* the server notes the close when it sees it: wait for the record */
	int held = -1;
	for (int i = 0; i < 2000 && (held = __atomic_load_n(&server_log->hold_ms, __ATOMIC_SEQ_CST)) < 0; i++)
		usleep(5000);
	assert_true(held >= 0 && held < HANG_MS / 3);

	/* negative: no total timeout, the slow answer arrives */
	q.url = url("/slow");
	q.timeout_ms = -1;
	assert_int_equal(http_do(c, &q, &r), TP_OK);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.timed_out, 0);
	assert_string_equal(buf_str(&r.body), "slow");

	http_response_free(&r);
	http_client_free(c);
}

static void test_transport_errors(void **state)
{
	(void)state;
	struct http_client *c = client(0);
	struct http_response r = {0};

	/* the server closes without answering */
	assert_int_equal(do_req(c, "GET", "/close", NULL, NULL, 0, &r), TP_EIO);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.timed_out, 0);
	assert_true(strlen(r.error) > 0);

	/* nothing listening */
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof a;
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&a, &al), 0);
	close(s);
	char u[64];
	snprintf(u, sizeof u, "http://127.0.0.1:%d/x", ntohs(a.sin_port));
	struct http_request q = { .method = "GET", .url = u };
	assert_int_equal(http_do(c, &q, &r), TP_EIO);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.error, "connect"));

	http_response_free(&r);
	http_client_free(c);
}

static void test_limits(void **state)
{
	(void)state;
	struct http_client *c = client(0);
	struct http_response r = {0};

	/* announced 20 MB vs the 16 MiB default */
	assert_int_equal(do_req(c, "GET", "/big", NULL, NULL, 0, &r), TP_ELIMIT);
	assert_int_equal(r.rc, TP_ELIMIT);
	assert_non_null(strstr(r.error, "max_response_bytes"));
	assert_true(r.body.len <= 16u << 20);

	/* chunked 20 MB: caught while streaming */
	assert_int_equal(do_req(c, "GET", "/bigchunked", NULL, NULL, 0, &r), TP_ELIMIT);
	assert_true(r.body.len <= 16u << 20);

	/* a small cap */
	struct http_request q = { .method = "GET", .url = url("/hello"), .max_response_bytes = 5 };
	assert_int_equal(http_do(c, &q, &r), TP_ELIMIT);
	assert_true(r.body.len <= 5);
	q.max_response_bytes = 11;
	assert_int_equal(http_do(c, &q, &r), TP_OK);
	assert_string_equal(buf_str(&r.body), "hello world");

	http_response_free(&r);
	http_client_free(c);
}

struct counted {
	size_t bytes;
	int calls;
	size_t stop_after;           /* refuse once this many bytes came; 0: never */
};

static int count_sink(void *ctx, const void *data, size_t len)
{
	struct counted *k = ctx;
	(void)data;
	k->bytes += len;
	k->calls++;
	return k->stop_after && k->bytes >= k->stop_after ? -1 : 0;
}

/* A sink takes a 2xx body of any size (none of it in resp->body, no cap);
 * an error answer is still buffered; a refusing sink aborts with TP_EIO;
 * the handle, reused afterwards, has its cap back. */
static void test_sink(void **state)
{
	(void)state;
	struct http_client *c = client(1);
	struct http_response r = {0};
	struct counted k = {0};
	struct http_request q = { .method = "GET", .url = url("/big"), .sink = count_sink, .sink_ctx = &k };
	assert_int_equal(http_do(c, &q, &r), TP_OK);
	assert_int_equal(k.bytes, BIG_BYTES);
	assert_int_equal(r.body.len, 0);

	memset(&k, 0, sizeof k);
	char u[100];
	snprintf(u, sizeof u, "%s", url("/bigchunked"));
	q.url = u;
	assert_int_equal(http_do(c, &q, &r), TP_OK);
	assert_int_equal(k.bytes, BIG_BYTES);

	memset(&k, 0, sizeof k);
	snprintf(u, sizeof u, "%s", url("/missing"));
	assert_int_equal(http_do(c, &q, &r), TP_OK);
	assert_int_equal(r.status, 404);
	assert_int_equal(k.calls, 0);
	assert_string_equal(buf_str(&r.body), "nope");

	memset(&k, 0, sizeof k);
	k.stop_after = 1;
	snprintf(u, sizeof u, "%s", url("/big"));
	assert_int_equal(http_do(c, &q, &r), TP_EIO);
	assert_non_null(strstr(r.error, "sink"));

	/* the same (reused) handle without a sink: the cap applies again */
	assert_int_equal(do_req(c, "GET", "/big", NULL, NULL, 0, &r), TP_ELIMIT);
	http_response_free(&r);
	http_client_free(c);
}

static void test_keepalive(void **state)
{
	(void)state;
	struct http_client *c = client(0);
	struct http_response r = {0};
	int before = conns();
	for (int i = 0; i < 10; i++) {
		assert_int_equal(do_req(c, "GET", "/hello", NULL, NULL, 0, &r), TP_OK);
		assert_string_equal(buf_str(&r.body), "hello world");
	}
	assert_int_equal(conns() - before, 1);
	http_response_free(&r);
	http_client_free(c);
}

/* Run transfers until none is left. The 60 s guard only turns a hang into a
 * failure: it is not a measure (those are the server's records). */
static void poll_until_idle(struct http_client *c)
{
	int64_t hang_guard = tp_mono_ms() + 60000;
	while (http_poll(c, 100) > 0)
		assert_true(tp_mono_ms() < hang_guard);
}

struct slot {
	int idx;                  /* which transfer */
	int calls;                /* done callbacks seen */
	struct http_response r;   /* its answer */
	char url[128];            /* its URL */
	struct http_request q;    /* its request */
};

static void slot_done(void *ctx, struct http_response *resp)
{
	struct slot *s = ctx;
	assert_ptr_equal(resp, &s->r);
	s->calls++;
}

/* N transfers at once; the server holds each /n/ answer until `want` are in
 * flight. Returns the peak in flight the server saw, and the connections
 * it accepted in *opened. */
static int run_concurrent(long max_conns, int want, int *opened)
{
	enum { N = 20 };
	struct http_client *c = client(max_conns);
	struct slot *s = calloc(N, sizeof *s);
	int before = conns();
	__atomic_store_n(&server_log->peak, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&server_log->gave_up, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&server_log->want, want, __ATOMIC_SEQ_CST);
	for (int i = 0; i < N; i++) {
		s[i].idx = i;
		char p[16];
		snprintf(p, sizeof p, "/n/%d", i);
		snprintf(s[i].url, sizeof s[i].url, "%s", url(p));
		s[i].q = (struct http_request){ .method = "GET", .url = s[i].url };
		assert_int_equal(http_start(c, &s[i].q, &s[i].r, slot_done, &s[i]), TP_OK);
	}
	assert_int_equal(http_running(c), N);
	poll_until_idle(c);
	assert_int_equal(http_running(c), 0);
	for (int i = 0; i < N; i++) {
		char want_body[32];
		snprintf(want_body, sizeof want_body, "body-%d", i);
		assert_int_equal(s[i].calls, 1);
		assert_int_equal(s[i].r.rc, TP_OK);
		assert_int_equal(s[i].r.status, 200);
		assert_string_equal(buf_str(&s[i].r.body), want_body);
		http_response_free(&s[i].r);
	}
	*opened = conns() - before;
	__atomic_store_n(&server_log->want, 0, __ATOMIC_SEQ_CST);
	free(s);
	http_client_free(c);
	return __atomic_load_n(&server_log->peak, __ATOMIC_SEQ_CST);
}

/* Parallelism as the server saw it: all 20 in flight at once without a
 * cap; with max_connections 2, two at a time and never more. */
static void test_concurrent(void **state)
{
	(void)state;
	int opened;
	assert_int_equal(run_concurrent(0, 20, &opened), 20);
	assert_int_equal(opened, 20);
	assert_int_equal(run_concurrent(2, 2, &opened), 2);
	assert_true(opened >= 1 && opened <= 2);
}

struct chain {
	struct http_client *c;        /* to start the follow-up from done */
	struct http_request q2;       /* the follow-up request */
	struct http_response r2;      /* its answer */
	int first, second;            /* done calls */
};

static void chain_second(void *ctx, struct http_response *resp)
{
	(void)resp;
	((struct chain *)ctx)->second++;
}

static void chain_first(void *ctx, struct http_response *resp)
{
	struct chain *ch = ctx;
	ch->first++;
	assert_int_equal(resp->status, 200);
	assert_int_equal(http_start(ch->c, &ch->q2, &ch->r2, chain_second, ch), TP_OK);
}

static void test_start_from_done(void **state)
{
	(void)state;
	struct chain ch = { .c = client(0) };
	char u1[128];
	snprintf(u1, sizeof u1, "%s", url("/hello"));
	struct http_request q1 = { .method = "GET", .url = u1 };
	ch.q2 = (struct http_request){ .method = "GET", .url = url("/n/7") };
	struct http_response r1 = {0};
	assert_int_equal(http_start(ch.c, &q1, &r1, chain_first, &ch), TP_OK);
	poll_until_idle(ch.c);
	assert_int_equal(ch.first, 1);
	assert_int_equal(ch.second, 1);
	assert_string_equal(buf_str(&ch.r2.body), "body-7");
	http_response_free(&r1);
	http_response_free(&ch.r2);
	http_client_free(ch.c);
}

static void never(void *ctx, struct http_response *resp)
{
	(void)ctx;
	(void)resp;
	fail_msg("done called for an abandoned or rejected transfer");
}

static void test_bad_input_and_abandon(void **state)
{
	(void)state;
	struct http_client *c = client(0);
	struct http_response r = {0};
	struct http_request q = { .method = "GET", .url = "not a url" };
	assert_int_equal(http_start(c, &q, &r, never, NULL), TP_EINVAL);
	assert_true(strlen(r.error) > 0);
	q.url = "ftp://127.0.0.1/x";
	assert_int_equal(http_start(c, &q, &r, never, NULL), TP_EINVAL);
	assert_non_null(strstr(r.error, "scheme"));
	q.url = url("/hello");
	q.method = "GE T";
	assert_int_equal(http_start(c, &q, &r, never, NULL), TP_EINVAL);
	assert_int_equal(http_do(c, &q, &r), TP_EINVAL);
	assert_int_equal(http_running(c), 0);

	/* freeing a client with a running transfer: no callback, no leak */
	q.method = "GET";
	q.url = url("/slow");
	assert_int_equal(http_start(c, &q, &r, never, NULL), TP_OK);
	http_poll(c, 10);
	assert_int_equal(http_running(c), 1);
	http_client_free(c);
	http_response_free(&r);

	/* an explicit CA file must exist */
	struct http_options o = { .ca_file = "/nonexistent/ca.pem" };
	struct http_client *c2 = (struct http_client *)&o;  /* must be reset to NULL */
	tp_err e = {0};
	assert_int_equal(http_client_new(&o, &c2, &e), TP_EINVAL);
	assert_null(c2);
	assert_non_null(strstr(e.message, "/nonexistent/ca.pem"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get_and_headers),
		cmocka_unit_test(test_methods),
		cmocka_unit_test(test_interim_and_redirect),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_transport_errors),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_sink),
		cmocka_unit_test(test_keepalive),
		cmocka_unit_test(test_concurrent),
		cmocka_unit_test(test_start_from_done),
		cmocka_unit_test(test_bad_input_and_abandon),
	};
	return cmocka_run_group_tests(tests, server_setup, server_teardown);
}
