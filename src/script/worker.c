/* worker.c: the policy's worker process (see policy.c for why a process).
 *
 * The worker is forked from the prepared state (sandbox.c) at the first
 * call and serves calls until a cap or an error, or until the request pipe
 * closes. Each call runs under call.c's caps plus the wall clock: a timer
 * in the worker shortly before the deadline stops Lua with file:line, and
 * past the deadline the parent SIGKILLs the worker (the next call forks a
 * new one). RLIMIT_CPU (per call) and, without ASan, RLIMIT_AS are a
 * second line. A rollout's caps grow with its targets (call_caps).
 *
 * Frames on the pipes: an 8-byte little-endian length, then that many
 * bytes of binary fields: u32 and length-prefixed strings (wire_put_u32,
 * wire_put_str) and cJSON trees in wire.h's tagged form. No JSON text is
 * printed or parsed on the way.
 *   request: u32 call kind (enum call_kind), u32 budget_ms, a byte saying
 *            whether the run's ctx follows, the ctx (a tree), then
 *            CALL_MAX_ARGS argument trees (null for the ctx's slot and
 *            unused ones)
 *   answer:  u32 rc (a TP_E* or 0), u32 the worker's peak RSS in KiB, a
 *            flags byte (ANS_*), the error's code and message and the
 *            rejection's reason (strings, "" when none), then the result
 *            tree when ANS_RESULT is set
 */
#include "script/worker_int.h"

#include "script/call_int.h"
#include "script/sandbox_int.h"
#include "script/wire.h"

#include <cjson/cJSON.h>
#include <lua.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHILD_AS_SLACK (96u << 20)   /* RLIMIT_AS above the parent's size and max_memory */

static struct policy *worker_policy; /* set in the worker only, for the timer */

/* Shortly before the deadline: make the next Lua instruction fail with
 * file:line. lua_sethook is safe in a signal handler (lua.c does the same
 * for SIGINT); a C function still running is left to the parent's SIGKILL. */
static void on_soft_deadline(int sig)
{
	(void)sig;
	sandbox_stop_soon(worker_policy, KILL_TIME);
}

/* Address space in use now (bytes), from /proc/self/statm; 0 if unknown. */
static size_t vm_size(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	unsigned long pages = 0;
	if (f) {
		if (fscanf(f, "%lu", &pages) != 1)
			pages = 0;
		fclose(f);
	}
	return (size_t)pages * (size_t)sysconf(_SC_PAGESIZE);
}

#if defined(__SANITIZE_ADDRESS__)
#define HAVE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HAVE_ASAN 1
#endif
#endif

/* Write all of s; 0 or -1. The worker's side: a parent gone ends it. */
static int write_raw(int fd, const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, s, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Write all of s; 0 or -1 (the reader is gone). SIGPIPE is blocked around
 * the write and a pending one consumed, so a dead worker is an error here,
 * not the end of this process. */
static int write_all(int fd, const char *s, size_t n)
{
	sigset_t pipe_set, old;
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	sigprocmask(SIG_BLOCK, &pipe_set, &old);
	int rc = write_raw(fd, s, n);
	if (rc < 0) {
		struct timespec zero = { 0, 0 };
		sigtimedwait(&pipe_set, NULL, &zero);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	return rc;
}

/* A frame is built in place: frame_start leaves room for the length,
 * frame_end fills it in, and the frame goes out in one write. */
static void frame_start(buf *b)
{
	buf_reset(b);
	buf_add(b, "\0\0\0\0\0\0\0\0", 8);
}

static void frame_end(buf *b)
{
	uint64_t n = b->len - 8;
	for (int i = 0; i < 8; i++)
		b->data[i] = (char)(unsigned char)(n >> (8 * i));
}

static uint64_t frame_len(const char *h)
{
	uint64_t n = 0;
	for (int i = 0; i < 8; i++)
		n |= (uint64_t)(unsigned char)h[i] << (8 * i);
	return n;
}

/* How reading a frame ended. */
enum frame_read {
	FRAME_OK,         /* a whole frame */
	FRAME_BROKEN,     /* EOF or a read error (the worker or parent is gone), or a malformed answer */
	FRAME_LATE,       /* the deadline passed first */
	FRAME_TOO_LONG,   /* the frame says it is longer than the cap */
};

/* Read one frame into b (its body then at b->data + 8, b->len - 8 bytes
 * long) in as few reads as the bytes arrive in: requests and answers
 * strictly alternate, so a read never takes bytes of a next frame (more
 * than the frame is an error). Before each read, wait (poll) until the
 * monotonic deadline when it is not 0. */
static enum frame_read read_frame(int fd, buf *b, size_t cap, int64_t deadline)
{
	b->len = 0;
	size_t want = 8;
	while (b->len < want) {
		if (deadline) {
			int64_t left = deadline - tp_mono_ms();
			if (left <= 0)
				return FRAME_LATE;
			struct pollfd pf = { .fd = fd, .events = POLLIN };
			int pr = poll(&pf, 1, (int)left);
			if (pr < 0 && errno == EINTR)
				continue;
			if (pr == 0)
				return FRAME_LATE;
		}
		size_t room = want - b->len < 16384 ? 16384 : want - b->len;
		if (b->cap < b->len + room + 1) {
			b->data = tp_xrealloc(b->data, b->len + room + 1);
			b->cap = b->len + room + 1;
		}
		ssize_t r = read(fd, b->data + b->len, room);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return FRAME_BROKEN;
		b->len += (size_t)r;
		b->data[b->len] = 0;
		if (want == 8 && b->len >= 8) {
			uint64_t n = frame_len(b->data);
			if (n > cap)
				return FRAME_TOO_LONG;
			want = 8 + (size_t)n;
		}
	}
	return b->len == want ? FRAME_OK : FRAME_BROKEN;
}

/* Flags of an answer. */
enum { ANS_REJECTED = 1, ANS_ABSENT = 2, ANS_RESULT = 4 };

/* One call in the worker: under every in-process cap, with the timer and
 * RLIMIT_CPU armed for this call only. The request and the answer are as
 * the top of this file says. */
static void worker_call(struct policy *p, const char *req, size_t len, buf *ans, int *recycle)
{
	struct wire_in in = { (const unsigned char *)req, (const unsigned char *)req + len, 0, 0, 0 };
	uint32_t kind = (uint32_t)-1, budget = 0;
	cJSON *args[CALL_MAX_ARGS] = { NULL }, *ctx = NULL;
	int ok = wire_get_u32(&in, &kind) == 0 && wire_get_u32(&in, &budget) == 0 && in.p < in.end;
	if (ok && *in.p++)
		ok = (ctx = wire_get(&in)) != NULL;
	for (int i = 0; i < CALL_MAX_ARGS && ok; i++)
		ok = (args[i] = wire_get(&in)) != NULL;
	ok = ok && kind < CALL_COUNT;
	struct call c = { .kind = ok ? (enum call_kind)kind : CALL_LOAD, .set_ctx = ctx };
	for (int i = 0; i < CALL_MAX_ARGS; i++)
		c.args[i] = cJSON_IsNull(args[i]) ? NULL : args[i];
	/* this call's caps, as the parent computed them from the same
	 * arguments (call_caps): its wall clock is the scaled timeout,
	 * shortened by the budget the parent sent (the invocation's deadline) */
	call_caps(p, &c);
	int64_t timeout = p->call_timeout_ms;
	/* RLIMIT_CPU: this call may use timeout + 1 to + 2 s of CPU. Only the
	 * soft limit moves (SIGXCPU ends the worker): an unprivileged process
	 * cannot raise its hard limit again, and a rollout's allowance is
	 * larger than a pipeline call's before it. */
	long need = (long)(timeout / 1000) + 2;
	if (p->cpu_limit_s - p->cpu_used_s < need - 1 || p->cpu_limit_s - p->cpu_used_s > need) {
		struct rlimit cpu;
		if (getrlimit(RLIMIT_CPU, &cpu) == 0) {
			rlim_t want = (rlim_t)(p->cpu_used_s + need);
			cpu.rlim_cur = cpu.rlim_max != RLIM_INFINITY && want > cpu.rlim_max ? cpu.rlim_max : want;
			setrlimit(RLIMIT_CPU, &cpu);
		}
		p->cpu_limit_s = p->cpu_used_s + need;
	}
	int64_t ms = budget > 0 && (int64_t)budget < timeout ? (int64_t)budget : timeout;
	int64_t soft = ms - (ms / 10 > 20 ? ms / 10 : 20);
	p->call_ms = (long)ms;
	if (soft < 1)
		soft = 1;
	struct itimerval it = { { 0, 0 }, { (time_t)(soft / 1000), (suseconds_t)(soft % 1000 * 1000) } };
	setitimer(ITIMER_REAL, &it, NULL);

	tp_err e = { 0 };
	int rc = ok ? call_protected(p, &c, &e)
		 : tp_errf(&e, TP_EINVAL, "PolicyError", "bad request to the policy worker");
	struct itimerval off = { { 0, 0 }, { 0, 0 } };
	setitimer(ITIMER_REAL, &off, NULL);
	/* nothing of this call is kept for the next: its garbage goes now, and
	 * after a cap or an error (a Lua error unwinding through C code may
	 * leave C memory behind) the worker is replaced altogether */
	*recycle = p->killed || (rc < 0 && !c.rejected);
	/* Garbage is unreachable whatever its amount; a full collection marks
	 * the whole prepared state (more work than most calls), so it runs
	 * once garbage adds up to max_memory / 16 (that much at most counts
	 * against the next call's memory cap). */
	if (!*recycle && p->mem_used > p->gc_floor + p->max_memory / 16) {
		lua_gc(p->L, LUA_GCCOLLECT, 0);
		p->gc_floor = p->mem_used;
	}
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	p->cpu_used_s = (long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec);
	wire_put_u32(ans, (uint32_t)rc);
	wire_put_u32(ans, (uint32_t)ru.ru_maxrss);
	buf_addc(ans, (char)((c.rejected ? ANS_REJECTED : 0) | (c.absent ? ANS_ABSENT : 0) |
			     (c.result ? ANS_RESULT : 0)));
	wire_put_str(ans, rc < 0 ? e.code : "");
	wire_put_str(ans, rc < 0 ? e.message : "");
	wire_put_str(ans, c.rejected ? c.reason : "");
	if (c.result)
		wire_put(ans, c.result);
	cJSON_Delete(c.result);
	cJSON_Delete(ctx);
	for (int i = 0; i < CALL_MAX_ARGS; i++)
		cJSON_Delete(args[i]);
}

/* Hold nothing of the parent's: its sockets and files close here. */
static void close_inherited(int keep1, int keep2)
{
	int fds[1024], n = 0;
	DIR *d = opendir("/proc/self/fd");
	if (!d) {
		for (int fd = 3; fd < 1024; fd++)
			if (fd != keep1 && fd != keep2)
				close(fd);
		return;
	}
	struct dirent *de;
	while ((de = readdir(d)) && n < (int)(sizeof fds / sizeof fds[0])) {
		int fd = atoi(de->d_name);
		if (fd > 2 && fd != keep1 && fd != keep2 && fd != dirfd(d))
			fds[n++] = fd;
	}
	closedir(d);
	for (int i = 0; i < n; i++)
		close(fds[i]);
}

/* The worker: serves calls until its request pipe closes or a cap was
 * hit. Never returns; never runs lua_close (no finalizer, no teardown). */
static void worker_main(struct policy *p, int rfd, int wfd, size_t as_limit)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1)
		_exit(0);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGXCPU, SIG_DFL); /* past RLIMIT_CPU's soft limit: the end */
	close_inherited(rfd, wfd);
#ifndef HAVE_ASAN
	if (as_limit) {
		struct rlimit as = { as_limit, as_limit };
		setrlimit(RLIMIT_AS, &as);
	}
#else
	(void)as_limit;
#endif
	worker_policy = p;
	p->gc_floor = p->mem_used;
	p->cpu_used_s = p->cpu_limit_s = 0; /* a new process: its CPU time starts at 0 */
	struct sigaction sa = { 0 };
	sa.sa_handler = on_soft_deadline;
	sigaction(SIGALRM, &sa, NULL);
	buf req = { 0 }, ans = { 0 };
	for (;;) {
		if (read_frame(rfd, &req, SIZE_MAX / 2, 0) != FRAME_OK)
			_exit(req.len == 0 ? 0 : 2); /* no request: the parent closed the pipe */
		int recycle = 0;
		frame_start(&ans);
		worker_call(p, req.data + 8, req.len - 8, &ans, &recycle);
		frame_end(&ans);
		if (write_raw(wfd, ans.data, ans.len) < 0)
			_exit(3);
		if (recycle)
			_exit(0);
	}
}

void worker_stop(struct policy *p, struct rusage *ru)
{
	if (p->worker <= 0)
		return;
	kill(p->worker, SIGKILL);
	close(p->to_worker);
	close(p->from_worker);
	int st;
	while (wait4(p->worker, &st, 0, ru) < 0 && errno == EINTR)
		;
	p->worker = 0;
}

static int worker_start(struct policy *p, tp_err *e)
{
	/* RLIMIT_AS: this process's size, the Lua cap and room for the result */
	size_t vm = vm_size(), as_limit = vm ? vm + p->max_memory + 8 * p->max_text + CHILD_AS_SLACK : 0;
	int req[2], ans[2];
	if (pipe2(req, O_CLOEXEC) < 0)
		return tp_errf(e, TP_EIO, "PolicyError", "%s: pipe: %s", p->short_src, strerror(errno));
	if (pipe2(ans, O_CLOEXEC) < 0) {
		close(req[0]);
		close(req[1]);
		return tp_errf(e, TP_EIO, "PolicyError", "%s: pipe: %s", p->short_src, strerror(errno));
	}
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid == 0) {
		close(req[1]);
		close(ans[0]);
		worker_main(p, req[0], ans[1], as_limit);
	}
	close(req[0]);
	close(ans[1]);
	if (pid < 0) {
		close(req[1]);
		close(ans[0]);
		return tp_errf(e, TP_EIO, "PolicyError", "%s: fork: %s", p->short_src, strerror(errno));
	}
	p->worker = pid;
	p->ctx_loaded = 0; /* a new worker holds no ctx yet */
	p->to_worker = req[1];
	p->from_worker = ans[0];
	return TP_OK;
}

/* The request for c (worker_call says its form); *send_ctx set when it
 * carries the run's ctx, which the worker does not hold yet. */
static void build_request(struct policy *p, const struct call *c, int64_t budget, buf *req, int *send_ctx)
{
	frame_start(req);
	wire_put_u32(req, (uint32_t)c->kind);
	wire_put_u32(req, (uint32_t)budget);
	int ctx_arg = call_kinds[c->kind].ctx_arg;
	*send_ctx = ctx_arg >= 0 && p->ctx_loaded != p->ctx_gen;
	buf_addc(req, (char)*send_ctx);
	if (*send_ctx)
		buf_add(req, p->ctx_wire.data, p->ctx_wire.len);
	for (int i = 0; i < CALL_MAX_ARGS; i++) /* the ctx argument is the run's, sent above */
		wire_put(req, i == ctx_arg ? NULL : c->args[i]);
	frame_end(req);
}

int worker_run(struct policy *p, struct call *c, tp_err *e)
{
	const char *fn = call_kinds[c->kind].fn;
	call_caps(p, c); /* as the worker will: the same arguments go to it */
	int64_t budget = p->call_timeout_ms;
	if (p->hard_deadline_ms) {
		int64_t left = p->hard_deadline_ms - tp_now_ms();
		if (left < budget)
			budget = left;
		if (budget <= 0)
			return tp_errf(e, TP_ELIMIT, "PolicyTimeLimit",
				       "%s: %s not run: no time left before the invocation's deadline", p->short_src, fn);
	}
	int64_t start = tp_mono_us();
	int rc;
	if (p->worker <= 0 && (rc = worker_start(p, e)) < 0)
		return rc;
	/* the policy's time starts now: forking the worker is ours */
	int64_t deadline = tp_mono_ms() + budget;
	buf req = { 0 };
	int send_ctx;
	build_request(p, c, budget, &req, &send_ctx);
	/* the worker waits for requests between calls, so this write only
	 * blocks while it reads; a dead worker fails it at once */
	int wr = write_all(p->to_worker, req.data, req.len);
	if (wr < 0) {
		/* the worker died between calls (killed from outside): one new one */
		worker_stop(p, NULL);
		if ((rc = worker_start(p, e)) < 0) {
			buf_free(&req);
			return rc;
		}
		build_request(p, c, budget, &req, &send_ctx);
		wr = write_all(p->to_worker, req.data, req.len);
	}
	buf_free(&req);
	/* the answer: a converted result (its JSON escapes at most 6x the
	 * budgeted text) plus a reason and an error message */
	size_t cap = 6 * p->call_text + 16 * p->call_nodes + 8192;
	buf answer = { 0 };
	enum frame_read rd = wr < 0 ? FRAME_BROKEN : read_frame(p->from_worker, &answer, cap, deadline);
	const char *body = answer.data ? answer.data + 8 : "";
	size_t n = rd == FRAME_OK ? answer.len - 8 : 0;
	struct rusage ru = { 0 };
	/* the answer's envelope (worker_call) */
	struct wire_in in = { (const unsigned char *)body, (const unsigned char *)body + n, 0, 0, 0 };
	uint32_t arc = 0, rss = 0;
	char *code = NULL, *msg = NULL, *reason = NULL;
	int flags = 0;
	if (rd == FRAME_OK && wire_get_u32(&in, &arc) == 0 && wire_get_u32(&in, &rss) == 0 && in.p < in.end) {
		flags = *in.p++;
		if (wire_get_str(&in, &code) < 0 || wire_get_str(&in, &msg) < 0 || wire_get_str(&in, &reason) < 0)
			rd = FRAME_BROKEN;
	} else if (rd == FRAME_OK) {
		rd = FRAME_BROKEN;
	}
	if (rd == FRAME_LATE) {
		worker_stop(p, &ru);
		rc = tp_errf(e, TP_ELIMIT, "PolicyTimeLimit", "%s: %s: wall-clock limit of %lld ms exceeded (stopped)",
			     p->short_src, fn, (long long)budget);
	} else if (rd == FRAME_TOO_LONG) {
		worker_stop(p, &ru);
		rc = tp_errf(e, TP_ELIMIT, "PolicyOutputLimit", "%s: %s: result larger than %zu bytes", p->short_src, fn,
			     cap);
	} else if (rd == FRAME_BROKEN) {
		/* the worker died: a signal (RLIMIT_CPU, RLIMIT_AS) or a crash */
		pid_t pid = p->worker;
		int st = 0;
		kill(pid, SIGKILL);
		close(p->to_worker);
		close(p->from_worker);
		while (wait4(pid, &st, 0, &ru) < 0 && errno == EINTR)
			;
		p->worker = 0;
		if (WIFSIGNALED(st) && WTERMSIG(st) == SIGXCPU)
			rc = tp_errf(e, TP_ELIMIT, "PolicyTimeLimit", "%s: %s: CPU time limit exceeded", p->short_src, fn);
		else
			rc = tp_errf(e, TP_ELIMIT, "PolicyMemoryLimit",
				     "%s: %s: the policy process ended (%s %d; out of memory?)", p->short_src, fn,
				     WIFSIGNALED(st) ? "signal" : "status", WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
	} else {
		if (send_ctx)
			p->ctx_loaded = p->ctx_gen;
		rc = (int)(int32_t)arc;
		if (rc < 0)
			tp_errf(e, rc, *code ? code : "PolicyError", "%s", *msg ? msg : "(no message)");
		c->rejected = (flags & ANS_REJECTED) != 0;
		snprintf(c->reason, sizeof c->reason, "%s", reason);
		c->absent = (flags & ANS_ABSENT) != 0;
		if (rc == TP_OK && (flags & ANS_RESULT)) {
			in.max_nodes = p->call_nodes + 16;
			c->result = wire_get(&in);
			if (!c->result) {
				worker_stop(p, &ru);
				rc = tp_errf(e, TP_ELIMIT, "PolicyOutputLimit", "%s: %s: result has more than %zu values",
					     p->short_src, fn, p->call_nodes);
			}
		}
		ru.ru_maxrss = (long)rss;
		if (rc < 0 && !c->rejected) /* the worker exits after a cap or an error: reap it */
			worker_stop(p, NULL);
	}
	p->last_wall_us = (long)(tp_mono_us() - start);
	p->last_rss_kb = ru.ru_maxrss;
	cJSON_free(code);
	cJSON_free(msg);
	cJSON_free(reason);
	buf_free(&answer);
	return rc;
}
