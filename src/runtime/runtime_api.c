/* runtime_api.c: the Lambda Runtime API loop (see runtime_api.h). */
#include "runtime/runtime_api.h"
#include "base/settings_table.h"

#include "core/app.h"
#include "runtime/events.h"
#include "aws/http.h"
#include "core/lease.h"
#include "base/log.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define API_PREFIX "/2018-06-01/runtime"
#define NEXT_FAILURES_MAX 5   /* consecutive /next failures before giving up */

struct rt {
	struct http_client *http;
	char base[256];           /* http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime */
};

int runtime_wanted(const char *argv0)
{
	const char *api = getenv("AWS_LAMBDA_RUNTIME_API");
	if (api && api[0])
		return 1;
	const char *slash = argv0 ? strrchr(argv0, '/') : NULL;
	const char *base = slash ? slash + 1 : argv0;
	return base && strcmp(base, "bootstrap") == 0;
}

/* POST body to path (under base); errtype non-NULL adds the function error header. */
static int post(struct rt *rt, const char *path, const char *body, const char *errtype)
{
	char url[512], hdr[160];
	snprintf(url, sizeof url, "%s%s", rt->base, path);
	const char *headers[2] = { "Content-Type: application/json", hdr };
	snprintf(hdr, sizeof hdr, "Lambda-Runtime-Function-Error-Type: %.100s", errtype ? errtype : "");
	struct http_request req = { .method = "POST", .url = url, .headers = headers,
				    .n_headers = errtype ? 2 : 1, .body = body, .body_len = strlen(body),
				    .timeout_ms = 10000 };
	struct http_response resp = { 0 };
	int rc = http_do(rt->http, &req, &resp);
	if (rc == TP_OK && (resp.status < 200 || resp.status > 299)) {
		log_error("runtime API %s: HTTP %ld: %.200s", path, resp.status, buf_str(&resp.body));
		rc = TP_EIO;
	} else if (rc != TP_OK) {
		log_error("runtime API %s: %s", path, resp.error);
	}
	http_response_free(&resp);
	return rc;
}

static char *error_body(const char *type, const char *msg)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "errorMessage", msg);
	cJSON_AddStringToObject(o, "errorType", type);
	char *s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}

static int post_error(struct rt *rt, const char *path, const tp_err *e, const char *fallback_type)
{
	const char *type = e->code[0] ? e->code : fallback_type;
	char *body = error_body(type, e->message[0] ? e->message : tp_rc_name(e->rc));
	int rc = post(rt, path, body, type);
	free(body);
	return rc;
}

static int64_t reserve_ms(void)
{
	return setting_long_or_warn(SET_DEADLINE_RESERVE_MS);
}

/* One invocation: its event arrived in resp. Returns < 0 only when the
 * runtime API itself could not be reached. */
static int invoke(struct rt *rt, struct app *app, struct http_response *next, const char *holder_base)
{
	char id[128] = "", deadline[32] = "", trace[512] = "", path[256];
	http_header(next, "Lambda-Runtime-Aws-Request-Id", id, sizeof id);
	http_header(next, "Lambda-Runtime-Deadline-Ms", deadline, sizeof deadline);
	if (!id[0]) {
		log_error("runtime API: /next answer without Lambda-Runtime-Aws-Request-Id; skipped");
		return TP_OK;
	}
	if (http_header(next, "Lambda-Runtime-Trace-Id", trace, sizeof trace))
		setenv("_X_AMZN_TRACE_ID", trace, 1);
	else
		unsetenv("_X_AMZN_TRACE_ID");
	log_set_request_id(id);

	char holder[320];
	snprintf(holder, sizeof holder, "%.160s:%.127s", holder_base, id);
	struct ev_opts o = { .deadline_ms = strtoll(deadline, NULL, 10), .reserve_ms = reserve_ms(),
			     .holder = holder };
	tp_err e = { 0 };
	cJSON *ev = cJSON_ParseWithLength(next->body.data ? next->body.data : "", next->body.len), *resp = NULL;
	int rc;
	if (!ev)
		rc = tp_errf(&e, TP_EINVAL, "UnrecognizedEvent", "the event is not valid JSON");
	else
		rc = events_handle(app, ev, &o, &resp, &e);
	cJSON_Delete(ev);
	if (rc == TP_OK) {
		char *body = cJSON_PrintUnformatted(resp);
		snprintf(path, sizeof path, "/invocation/%s/response", id);
		rc = post(rt, path, body, NULL);
		free(body);
	} else {
		log_error("invocation failed: %s: %.300s", e.code, e.message);
		snprintf(path, sizeof path, "/invocation/%s/error", id);
		rc = post_error(rt, path, &e, "Runtime.HandlerError");
	}
	cJSON_Delete(resp);
	log_set_request_id(NULL);
	return rc;
}

int runtime_main(int argc, char **argv)
{
	struct rt rt = { 0 };
	tp_err e = { 0 };
	const char *api = getenv("AWS_LAMBDA_RUNTIME_API");
	if (!api || !api[0]) {
		log_error("bootstrap: AWS_LAMBDA_RUNTIME_API is not set (not running inside Lambda?)");
		return 1;
	}
	snprintf(rt.base, sizeof rt.base, "http://%s" API_PREFIX, api);
	if (http_client_new(NULL, &rt.http, &e) < 0) {
		log_error("bootstrap: %s", e.message);
		return 1;
	}

	/* No flags in Lambda: settings come from the environment. */
	struct settings s;
	struct app app;
	settings_init(&s);
	if (app_open(&app, &s, &e) < 0) {
		log_error("init failed: %s: %s", e.code, e.message);
		post_error(&rt, "/init/error", &e, e.rc == TP_EPOLICY ? "Runtime.PolicyError" : "Runtime.InitError");
		http_client_free(rt.http);
		return 1;
	}
	/* The first run of a controller stores its settings for every
	 * other process (settings_store.h) when none are stored yet. */
	int stored = 0;
	if (!app.settings_found && app_settings_store(&app, 1, &stored, &e) < 0) {
		log_warn("shared settings not stored (%s: %.200s)", e.code, e.message);
		tp_err_clear(&e);
	} else if (stored) {
		log_info("shared settings stored in %s (settings#instance)", app.set.state_table);
	}
	char holder[160];
	lease_holder_id("lambda", holder, sizeof holder);

	char url[320];
	snprintf(url, sizeof url, "%s/invocation/next", rt.base);
	int failures = 0, code = 0;
	for (;;) {
		struct http_request req = { .method = "GET", .url = url, .timeout_ms = -1,
					    .max_response_bytes = 7u << 20 /* 6 MB invoke payload + slack */ };
		struct http_response resp = { 0 };
		int rc = http_do(rt.http, &req, &resp);
		if (rc != TP_OK || resp.status != 200) {
			log_error("runtime API /next: %s (HTTP %ld)", rc != TP_OK ? resp.error : "unexpected status",
				  resp.status);
			http_response_free(&resp);
			if (++failures >= NEXT_FAILURES_MAX) {
				code = 1;
				break;
			}
			tp_sleep_ms(100L * failures);
			continue;
		}
		failures = 0;
		invoke(&rt, &app, &resp, holder);
		http_response_free(&resp);
	}
	app_close(&app);
	http_client_free(rt.http);
	return code;
}
