/* creds.c: the credentials provider chain (see creds.h), its cache and
 * refresh, and the sources that need no profile: environment, container
 * endpoint, IMDSv2. The profile's sources live in creds_profile.c,
 * creds_sso.c, creds_process.c and sts.c. Secrets are wiped when replaced
 * or freed and never appear in logs or error messages. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "aws/creds.h"

#include "base/isotime.h"

#include "aws/awsconf.h"
#include "aws/creds_src.h"
#include "aws/http.h"
#include "base/log.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REFRESH_MARGIN_MS (5 * 60 * 1000)  /* refresh when less than this remains */
#define REFRESH_RETRY_MS (30 * 1000)       /* a failed refresh is tried again after this */
#define NET_CONNECT_MS 1000                /* network sources: short, they are local */
#define NET_TOTAL_MS 2000
#define NET_MAX_BYTES (64 * 1024)
#define ECS_HOST "http://169.254.170.2"
#define IMDS_HOST "http://169.254.169.254"

struct creds_provider {
	struct http_client *http;   /* borrowed, or owned when own_http */
	int own_http;               /* 1 when created here on first network use */
	int have;                   /* cached holds credentials */
	int refreshing;             /* inside a refresh (its HTTP polling can re-enter creds_get) */
	int64_t next_try_ms;        /* after a failed refresh: no new attempt before this */
	struct creds cached;        /* last credentials found */
};

struct creds_provider *creds_provider_new(struct http_client *http)
{
	struct creds_provider *p = tp_xcalloc(1, sizeof *p);
	p->http = http;
	return p;
}

void creds_wipe(struct creds *c)
{
	if (c)
		tp_wipe(c, sizeof *c);
}

void creds_provider_free(struct creds_provider *p)
{
	if (!p)
		return;
	creds_wipe(&p->cached);
	if (p->own_http)
		http_client_free(p->http);
	free(p);
}

void creds_invalidate(struct creds_provider *p)
{
	if (!p)
		return;
	creds_wipe(&p->cached);
	p->have = 0;
}

/* ---- helpers ------------------------------------------------------------ */

static const char *env_nonempty(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

static int env_true(const char *name)
{
	const char *v = getenv(name);
	return v && tp_strcaseeq(v, "true");
}

/* Copy into a fixed field; 0 when it does not fit. */
int creds_set_field(char *dst, size_t dst_len, const char *src)
{
	size_t n = strlen(src);
	if (n >= dst_len)
		return 0;
	memcpy(dst, src, n + 1);
	return 1;
}

/* ISO 8601 as base/isotime.c reads it, plus the "UTC" suffix older AWS CLI v2
 * SSO caches write ("2021-05-04T23:33:35UTC"), read as "Z". 0 on success. */
int creds_parse_time(const char *s, int64_t *out_ms)
{
	size_t n = strlen(s);
	if (n > 3 && n < 64 && strcmp(s + n - 3, "UTC") == 0) {
		char z[64];
		snprintf(z, sizeof z, "%.*sZ", (int)(n - 3), s);
		return tp_iso8601_ms(z, out_ms);
	}
	return tp_iso8601_ms(s, out_ms);
}

/* Wipe every string in a cJSON tree before it is freed (answers hold secrets). */
static void json_wipe_strings(cJSON *j)
{
	for (cJSON *it = j; it; it = it->next) {
		if (it->valuestring)
			tp_wipe(it->valuestring, strlen(it->valuestring));
		if (it->child)
			json_wipe_strings(it->child);
	}
}

void creds_json_wipe(void *cjson)
{
	json_wipe_strings(cjson);
}

void creds_set_source(struct creds *c, const char *source)
{
	creds_set_field(c->source, sizeof c->source, source);
}

static void response_wipe_free(struct http_response *r)
{
	tp_wipe(r->body.data, r->body.len);
	http_response_free(r);
}

/* Fill c from {AccessKeyId, SecretAccessKey, Token, Expiration}. On failure
 * writes a reason (no secret in it) into why. */
static int creds_from_json(const char *body, struct creds *c, const char *source, char *why, size_t why_len)
{
	cJSON *j = cJSON_Parse(body);
	int ok = 0;
	if (!j || !cJSON_IsObject(j)) {
		snprintf(why, why_len, "answer is not a JSON object");
		goto done;
	}
	const cJSON *code = cJSON_GetObjectItemCaseSensitive(j, "Code");
	if (cJSON_IsString(code) && strcmp(code->valuestring, "Success") != 0) {
		snprintf(why, why_len, "answer Code is %.64s", code->valuestring);
		goto done;
	}
	const cJSON *ak = cJSON_GetObjectItemCaseSensitive(j, "AccessKeyId");
	const cJSON *sk = cJSON_GetObjectItemCaseSensitive(j, "SecretAccessKey");
	const cJSON *tok = cJSON_GetObjectItemCaseSensitive(j, "Token");
	const cJSON *exp = cJSON_GetObjectItemCaseSensitive(j, "Expiration");
	if (!cJSON_IsString(ak) || !*ak->valuestring || !cJSON_IsString(sk) || !*sk->valuestring) {
		snprintf(why, why_len, "answer lacks AccessKeyId or SecretAccessKey");
		goto done;
	}
	if (!cJSON_IsString(exp) || creds_parse_time(exp->valuestring, &c->expires_ms) != 0) {
		snprintf(why, why_len, "answer lacks a valid Expiration");
		goto done;
	}
	if (!creds_set_field(c->access_key_id, sizeof c->access_key_id, ak->valuestring) ||
	    !creds_set_field(c->secret_access_key, sizeof c->secret_access_key, sk->valuestring) ||
	    !creds_set_field(c->session_token, sizeof c->session_token, cJSON_IsString(tok) ? tok->valuestring : "")) {
		snprintf(why, why_len, "a credential in the answer is too long");
		goto done;
	}
	creds_set_field(c->source, sizeof c->source, source);
	ok = 1;
done:
	if (j) {
		json_wipe_strings(j);
		cJSON_Delete(j);
	}
	if (!ok)
		creds_wipe(c);
	return ok ? TP_OK : TP_EINVAL;
}

/* Reasons a source failed, "; "-separated, for the final error message. */
static void why_add(buf *why, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void why_add(buf *why, const char *fmt, ...)
{
	if (why->len)
		buf_adds(why, "; ");
	va_list ap;
	va_start(ap, fmt);
	buf_vaddf(why, fmt, ap);
	va_end(ap);
}

/* ---- 1. environment ----------------------------------------------------- */

int creds_src_env(struct creds *c, buf *why)
{
	const char *ak = env_nonempty("AWS_ACCESS_KEY_ID");
	const char *sk = env_nonempty("AWS_SECRET_ACCESS_KEY");
	const char *tok = env_nonempty("AWS_SESSION_TOKEN");
	if (!ak) {
		why_add(why, "env: AWS_ACCESS_KEY_ID not set");
		return 0;
	}
	if (!sk) {
		why_add(why, "env: AWS_SECRET_ACCESS_KEY not set");
		return 0;
	}
	if (!creds_set_field(c->access_key_id, sizeof c->access_key_id, ak) ||
	    !creds_set_field(c->secret_access_key, sizeof c->secret_access_key, sk) ||
	    !creds_set_field(c->session_token, sizeof c->session_token, tok ? tok : "")) {
		creds_wipe(c);
		why_add(why, "env: a credential variable is too long");
		return 0;
	}
	c->expires_ms = 0;
	creds_set_field(c->source, sizeof c->source, "env");
	return 1;
}

/* ---- network sources ---------------------------------------------------- */

struct http_client *creds_ctx_http(struct creds_ctx *x, tp_err *e)
{
	struct creds_provider *p = x->p;
	if (p->http)
		return p->http;
	if (http_client_new(NULL, &p->http, e) != TP_OK) {
		p->http = NULL;
		return NULL;
	}
	p->own_http = 1;
	return p->http;
}

static int ensure_http(struct creds_ctx *x, char *why, size_t why_len)
{
	tp_err e = { 0 };
	if (creds_ctx_http(x, &e))
		return 1;
	snprintf(why, why_len, "no HTTP client: %.400s", e.message);
	return 0;
}

/* One short request; 1 when it answered 200, else why says what happened.
 * On success the caller frees resp with response_wipe_free. */
static int net_call(struct creds_ctx *x, const char *method, const char *url, const char *const *hdrs,
		    size_t n_hdrs, struct http_response *resp, char *why, size_t why_len)
{
	memset(resp, 0, sizeof *resp);
	if (!ensure_http(x, why, why_len))
		return 0;
	struct http_request req = {
		.method = method,
		.url = url,
		.headers = hdrs,
		.n_headers = n_hdrs,
		.body = strcmp(method, "PUT") == 0 ? "" : NULL,
		.body_len = 0,
		.connect_timeout_ms = NET_CONNECT_MS,
		.timeout_ms = NET_TOTAL_MS,
		.max_response_bytes = NET_MAX_BYTES,
	};
	int rc = http_do(x->p->http, &req, resp);
	if (rc != TP_OK) {
		snprintf(why, why_len, "%s %s: %s", method, url, resp->error[0] ? resp->error : tp_rc_name(rc));
	} else if (resp->status != 200) {
		snprintf(why, why_len, "%s %s: HTTP %ld", method, url, resp->status);
	} else {
		return 1;
	}
	response_wipe_free(resp);
	return 0;
}

/* ---- 3. container endpoint ---------------------------------------------- */

/* Plain http is allowed only to loopback and the ECS/EKS link-local agents,
 * as the SDKs do; https to any host. */
static int full_uri_allowed(const char *url, char *host_out, size_t host_len)
{
	const char *rest;
	if (tp_startswith(url, "https://"))
		return 1;
	if (!tp_startswith(url, "http://"))
		return 0;
	rest = url + 7;
	size_t n = strcspn(rest, "/?#");
	const char *at = memrchr(rest, '@', n);
	if (at) {
		n -= (size_t)(at + 1 - rest);
		rest = at + 1;
	}
	size_t hn;
	if (rest[0] == '[') {
		const char *close = memchr(rest, ']', n);
		if (!close)
			return 0;
		hn = (size_t)(close - rest) + 1;
	} else {
		hn = strcspn(rest, ":/?#");
		if (hn > n)
			hn = n;
	}
	snprintf(host_out, host_len, "%.*s", (int)hn, rest);
	static const char *const ok[] = { "localhost", "[::1]", "169.254.170.2", "169.254.170.23",
					  "[fd00:ec2::23]" };
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
		if (tp_strcaseeq(host_out, ok[i]))
			return 1;
	/* 127.0.0.0/8 as a dotted quad. */
	unsigned a, b, c, d;
	char tail;
	return sscanf(host_out, "%u.%u.%u.%u%c", &a, &b, &c, &d, &tail) == 4 && a == 127 && b < 256 &&
	       c < 256 && d < 256;
}

/* Authorization token: the file wins over the variable (as in the SDKs). */
static int container_token(buf *tok, char *why, size_t why_len)
{
	const char *file = env_nonempty("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	if (file) {
		tp_err e = { 0 };
		if (tp_read_file(file, 16 * 1024, tok, &e) != TP_OK) {
			snprintf(why, why_len, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: %.400s", e.message);
			return 0;
		}
		while (tok->len > 0 && isspace((unsigned char)tok->data[tok->len - 1]))
			tok->data[--tok->len] = 0;
	} else {
		const char *t = env_nonempty("AWS_CONTAINER_AUTHORIZATION_TOKEN");
		if (t)
			buf_adds(tok, t);
	}
	if (tok->len && strpbrk(buf_str(tok), "\r\n")) {
		snprintf(why, why_len, "authorization token contains a line break");
		return 0;
	}
	return 1;
}

int creds_src_container(struct creds_ctx *x, struct creds *c, buf *why)
{
	const char *rel = env_nonempty("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	const char *full = env_nonempty("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	char reason[512] = "";
	char *url = NULL;
	buf tok = { 0 };
	char *auth = NULL;
	int found = 0;
	if (!rel && !full) {
		why_add(why, "container: not configured");
		return 0;
	}
	if (rel) {
		url = tp_xasprintf("%s%s%s", ECS_HOST, rel[0] == '/' ? "" : "/", rel);
	} else {
		char host[256] = "";
		if (!full_uri_allowed(full, host, sizeof host)) {
			snprintf(reason, sizeof reason,
				 "AWS_CONTAINER_CREDENTIALS_FULL_URI %s: host \"%s\" not allowed (http needs a loopback host; or use https)",
				 full, host);
			goto done;
		}
		url = tp_xstrdup(full);
	}
	if (!container_token(&tok, reason, sizeof reason))
		goto done;
	const char *hdrs[2] = { "Accept: application/json", NULL };
	size_t nh = 1;
	if (tok.len) {
		auth = tp_xasprintf("Authorization: %s", buf_str(&tok));
		hdrs[nh++] = auth;
	}
	struct http_response resp;
	if (!net_call(x, "GET", url, hdrs, nh, &resp, reason, sizeof reason))
		goto done;
	char jwhy[128];
	if (creds_from_json(buf_str(&resp.body), c, "container", jwhy, sizeof jwhy) == TP_OK)
		found = 1;
	else
		snprintf(reason, sizeof reason, "GET %.300s: %s", url, jwhy);
	response_wipe_free(&resp);
done:
	if (!found)
		why_add(why, "container: %s", reason);
	if (auth) {
		tp_wipe(auth, strlen(auth));
		free(auth);
	}
	tp_wipe(tok.data, tok.len);
	buf_free(&tok);
	free(url);
	return found;
}

/* ---- 4. EC2 instance metadata, IMDSv2 ----------------------------------- */

int creds_src_imds(struct creds_ctx *x, struct creds *c, buf *why)
{
	if (env_true("AWS_EC2_METADATA_DISABLED")) {
		why_add(why, "imds: disabled");
		return 0;
	}
	const char *ep = env_nonempty("AWS_EC2_METADATA_SERVICE_ENDPOINT");
	size_t ep_len = strlen(ep ? ep : IMDS_HOST);
	if (!ep)
		ep = IMDS_HOST;
	while (ep_len > 0 && ep[ep_len - 1] == '/')
		ep_len--;

	char reason[512] = "", url[1024], token_hdr[256], role[256];
	struct http_response resp;
	int found = 0;

	snprintf(url, sizeof url, "%.*s/latest/api/token", (int)ep_len, ep);
	const char *put_hdrs[] = { "X-aws-ec2-metadata-token-ttl-seconds: 21600" };
	if (!net_call(x, "PUT", url, put_hdrs, 1, &resp, reason, sizeof reason))
		goto done;
	const char *tok = buf_str(&resp.body);
	size_t tn = strcspn(tok, "\r\n");
	if (tn == 0 || tn > 200) {
		snprintf(reason, sizeof reason, "PUT %.300s: no usable token in the answer", url);
		response_wipe_free(&resp);
		goto done;
	}
	snprintf(token_hdr, sizeof token_hdr, "X-aws-ec2-metadata-token: %.*s", (int)tn, tok);
	response_wipe_free(&resp);
	const char *hdrs[] = { token_hdr };

	snprintf(url, sizeof url, "%.*s/latest/meta-data/iam/security-credentials/", (int)ep_len, ep);
	if (!net_call(x, "GET", url, hdrs, 1, &resp, reason, sizeof reason))
		goto done;
	const char *body = buf_str(&resp.body);
	size_t rn = strcspn(body, "\r\n");
	while (rn > 0 && isspace((unsigned char)body[rn - 1]))
		rn--;
	/* IAM role names are [A-Za-z0-9+=,.@_-]; anything else is not a name. */
	int bad = rn == 0 || rn >= sizeof role;
	for (size_t i = 0; !bad && i < rn; i++)
		bad = !isalnum((unsigned char)body[i]) && !strchr("+=,.@_-", body[i]);
	if (bad) {
		snprintf(reason, sizeof reason, "GET %.300s: no IAM role attached", url);
		response_wipe_free(&resp);
		goto done;
	}
	snprintf(role, sizeof role, "%.*s", (int)rn, body);
	response_wipe_free(&resp);

	snprintf(url, sizeof url, "%.*s/latest/meta-data/iam/security-credentials/%s", (int)ep_len, ep, role);
	if (!net_call(x, "GET", url, hdrs, 1, &resp, reason, sizeof reason))
		goto done;
	char jwhy[128];
	if (creds_from_json(buf_str(&resp.body), c, "imds", jwhy, sizeof jwhy) == TP_OK)
		found = 1;
	else
		snprintf(reason, sizeof reason, "GET %.300s: %s", url, jwhy);
	response_wipe_free(&resp);
done:
	tp_wipe(token_hdr, sizeof token_hdr);
	if (!found)
		why_add(why, "imds: %s", reason);
	return found;
}

/* ---- the chain and its cache -------------------------------------------- */

static int fresh_at(const struct creds *c, int64_t now_ms)
{
	return c->expires_ms == 0 || c->expires_ms - now_ms > REFRESH_MARGIN_MS;
}

int creds_get(struct creds_provider *p, int64_t now_ms, struct creds *out, tp_err *e)
{
	if (!p || !out)
		return tp_errf(e, TP_EINVAL, NULL, "creds_get: no provider or output");
	if (p->have && fresh_at(&p->cached, now_ms)) {
		*out = p->cached;
		return TP_OK;
	}
	/* A refresh failed a moment ago and what we hold still works: do not
	 * run the chain (an STS call, a process, a prompt) on every request. */
	if (p->have && p->cached.expires_ms > now_ms && now_ms < p->next_try_ms) {
		*out = p->cached;
		return TP_OK;
	}

	/* A refresh polls the shared HTTP client, whose other transfers may
	 * retry and ask again: what we hold is still valid then (the margin). */
	if (p->refreshing) {
		if (p->have && p->cached.expires_ms > now_ms) {
			*out = p->cached;
			return TP_OK;
		}
		return tp_errf(e, TP_EIO, "CredentialsRefreshing", "AWS credentials are being fetched");
	}
	p->refreshing = 1;
	struct creds fresh;
	buf why = { 0 }, chain = { 0 };
	memset(&fresh, 0, sizeof fresh);
	struct creds_ctx x = { p, now_ms, &chain };
	tp_err serr = { 0 };
	int found = creds_src_env(&fresh, &why);
	if (!found)
		found = creds_src_profile(&x, awsconf_profile(), &fresh, &why, &serr);
	if (!found)
		found = creds_src_container(&x, &fresh, &why) || creds_src_imds(&x, &fresh, &why);
	if (found > 0) {
		if (!chain.len)
			buf_adds(&chain, fresh.source);
		if (!creds_set_field(fresh.chain, sizeof fresh.chain, buf_str(&chain)))
			snprintf(fresh.chain, sizeof fresh.chain, "%.*s...", (int)sizeof fresh.chain - 4, chain.data);
	}
	int rc = TP_OK;
	if (found > 0) {
		creds_wipe(&p->cached);
		p->cached = fresh;
		p->have = 1;
		*out = fresh;
		log_debug("AWS credentials from %s (%s), expires_ms=%lld", fresh.source, fresh.chain,
			  (long long)fresh.expires_ms);
	} else if (p->have && p->cached.expires_ms > now_ms) {
		/* Refresh failed but what we hold still works: keep using it. */
		log_warn("AWS credentials refresh failed, keeping %s credentials for %lld s more: %s",
			 p->cached.source, (long long)((p->cached.expires_ms - now_ms) / 1000),
			 found < 0 ? serr.message : buf_str(&why));
		*out = p->cached;
		p->next_try_ms = now_ms + REFRESH_RETRY_MS;
	} else if (found < 0) {
		/* A configured source failed: an error, never another identity. */
		creds_invalidate(p);
		creds_wipe(out);
		rc = serr.rc ? serr.rc : found;
		if (e)
			*e = serr;
		if (e)
			e->rc = rc;
	} else {
		creds_invalidate(p);
		creds_wipe(out);
		rc = tp_errf(e, TP_ENOTFOUND, "NoCredentials", "no AWS credentials: %s", buf_str(&why));
	}
	creds_wipe(&fresh);
	buf_free(&why);
	buf_free(&chain);
	p->refreshing = 0;
	return rc;
}
