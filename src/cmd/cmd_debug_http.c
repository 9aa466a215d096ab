/* cmd_debug_http.c: `taskpipe debug http` (see cmd_debug_http.h). One client
 * serves every repetition, so the timings show connection reuse. */
#include "cmd/cmd_debug_http.h"
#include "base/base.h"
#include "aws/http.h"
#include "base/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DBG_MAX_HEADERS 64

static int usage(const char *why)
{
	if (why)
		fprintf(stderr, "taskpipe debug http: %s\n", why);
	fputs("usage: taskpipe debug http [-X METHOD] [-H 'Name: value']... [-d BODY]"
	      " [--ca FILE] [--repeat N] [-i] URL\n", stderr);
	return 2;
}

int cmd_debug_http(int argc, char **argv)
{
	const char *headers[DBG_MAX_HEADERS];
	struct http_request req = {0};
	struct http_options opts = {0};
	long repeat = 1;
	int show_headers = 0;
	req.headers = headers;

	int i = 1;
	for (; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		} else if (strcmp(a, "-i") == 0) {
			show_headers = 1;
			continue;
		} else if (a[0] != '-' || a[1] == 0) {
			break;
		}
		if (!v)
			return usage("option needs a value");
		if (strcmp(a, "-X") == 0) {
			req.method = v;
		} else if (strcmp(a, "-H") == 0) {
			if (req.n_headers == DBG_MAX_HEADERS)
				return usage("too many -H options");
			if (!strchr(v, ':'))
				return usage("-H takes 'Name: value'");
			headers[req.n_headers++] = v;
		} else if (strcmp(a, "-d") == 0) {
			req.body = v;
			req.body_len = strlen(v);
		} else if (strcmp(a, "--ca") == 0) {
			opts.ca_file = v;
		} else if (strcmp(a, "--repeat") == 0) {
			char *end;
			repeat = strtol(v, &end, 10);
			if (*end || repeat < 1 || repeat > 100000)
				return usage("--repeat takes a number from 1 to 100000");
		} else {
			return usage("unknown option");
		}
		i++;
	}
	if (i != argc - 1)
		return usage(i >= argc ? "no URL" : "one URL only");
	req.url = argv[i];
	if (!req.method)
		req.method = req.body ? "POST" : "GET";

	tp_err e = {0};
	struct http_client *c = NULL;
	if (http_client_new(&opts, &c, &e) != TP_OK) {
		fprintf(stderr, "taskpipe debug http: %s\n", e.message);
		return 1;
	}
	int code = 0;
	struct http_response resp = {0};
	for (long n = 1; n <= repeat; n++) {
		int64_t t0 = tp_mono_ms();
		int rc = http_do(c, &req, &resp);
		int64_t ms = tp_mono_ms() - t0;
		if (rc != TP_OK) {
			fprintf(stderr, "taskpipe debug http: %s %s: %s (%s)\n", req.method, req.url,
				resp.error, tp_rc_name(rc));
			code = 1;
			break;
		}
		fprintf(stderr, "request %ld/%ld: HTTP %ld, %zu bytes, %lld ms\n", n, repeat,
			resp.status, resp.body.len, (long long)ms);
		printf("HTTP %ld\n", resp.status);
		if (show_headers)
			printf("%s\n", buf_str(&resp.headers));
		fwrite(buf_str(&resp.body), 1, resp.body.len, stdout);
		if (resp.body.len && resp.body.data[resp.body.len - 1] != '\n')
			putchar('\n');
	}
	fflush(stdout);
	http_response_free(&resp);
	http_client_free(c);
	return code;
}
