/* creds_sso.c: IAM Identity Center (SSO) credentials, as botocore's
 * SSOProvider and SSOTokenProvider get them: the access token `aws sso
 * login` cached in ~/.aws/sso/cache/<sha1(session name or start URL)>.json,
 * refreshed through the OIDC CreateToken call when it has a refresh token
 * (sso_session profiles only, as botocore), then GetRoleCredentials from
 * the portal. Tokens are secrets: wiped, never logged. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "aws/awsconf.h"
#include "aws/creds_src.h"
#include "aws/http.h"
#include "aws/sigv4.h"
#include "base/hash.h"
#include "base/log.h"
#include "base/version.h"

#include <cjson/cJSON.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TOKEN_REFRESH_WINDOW_MS (15 * 60 * 1000)  /* botocore's SSOTokenProvider._REFRESH_WINDOW */
#define SSO_TIMEOUT_MS 30000
#define SSO_MAX_BYTES (256 * 1024)

struct sso_conf {
	char session[128];     /* sso_session name; "" for a legacy profile */
	char start_url[512];
	char region[64];
	char account_id[64];
	char role_name[128];
};

/* Profile settings merged with its [sso-session NAME] (botocore:
 * _resolve_sso_session_reference; a key in both must agree). */
static int load_conf(const char *profile, struct sso_conf *s, tp_err *e)
{
	char path[1024];
	awsconf_config_path(path, sizeof path);
	memset(s, 0, sizeof *s);
	awsconf_profile_get(profile, "sso_account_id", s->account_id, sizeof s->account_id);
	awsconf_profile_get(profile, "sso_role_name", s->role_name, sizeof s->role_name);
	int has_url = awsconf_profile_get(profile, "sso_start_url", s->start_url, sizeof s->start_url);
	int has_reg = awsconf_profile_get(profile, "sso_region", s->region, sizeof s->region);
	if (awsconf_profile_get(profile, "sso_session", s->session, sizeof s->session)) {
		struct { const char *key; char *val; size_t len; int had; } k[] = {
			{ "sso_start_url", s->start_url, sizeof s->start_url, has_url },
			{ "sso_region", s->region, sizeof s->region, has_reg },
		};
		int found_any = 0;
		for (size_t i = 0; i < 2; i++) {
			char v[512];
			if (!awsconf_ini_section_get(path, "sso-session", s->session, k[i].key, v, sizeof v))
				continue;
			found_any = 1;
			if (k[i].had && strcmp(v, k[i].val) != 0)
				return tp_errf(e, TP_EINVAL, "InvalidConfig",
					       "profile %s: %s differs between the profile (%s) and sso-session %s (%s)",
					       profile, k[i].key, k[i].val, s->session, v);
			snprintf(k[i].val, k[i].len, "%s", v);
		}
		if (!found_any)
			return tp_errf(e, TP_EINVAL, "InvalidConfig",
				       "profile %s: sso-session \"%s\" does not exist in %s (or has no sso_start_url "
				       "and sso_region)", profile, s->session, path);
	}
	const char *missing[4];
	int n = 0;
	if (!*s->role_name)
		missing[n++] = "sso_role_name";
	if (!*s->account_id)
		missing[n++] = "sso_account_id";
	if (!*s->start_url)
		missing[n++] = "sso_start_url";
	if (!*s->region)
		missing[n++] = "sso_region";
	if (n)
		return tp_errf(e, TP_EINVAL, "InvalidConfig", "profile %s: configured for SSO but missing %s%s%s%s%s%s%s",
			       profile, missing[0], n > 1 ? ", " : "", n > 1 ? missing[1] : "", n > 2 ? ", " : "",
			       n > 2 ? missing[2] : "", n > 3 ? ", " : "", n > 3 ? missing[3] : "");
	return TP_OK;
}

static void cache_path(const struct sso_conf *s, char *out, size_t out_len)
{
	const char *key = *s->session ? s->session : s->start_url;
	char hex[HASH_SHA1_HEX_LEN];
	hash_sha1_hex(key, strlen(key), hex);
	snprintf(out, out_len, "%s/.aws/sso/cache/%s.json", awsconf_home(), hex);
}

static const char *jstr(const cJSON *j, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
	return cJSON_IsString(v) && *v->valuestring ? v->valuestring : NULL;
}

static void wipe_json(cJSON *j)
{
	if (j) {
		creds_json_wipe(j);
		cJSON_Delete(j);
	}
}

/* One unsigned JSON request; the 2xx answer parsed into *out. */
static int sso_call(struct creds_ctx *x, const char *method, const char *url, const char *extra_hdr,
		    const char *body, cJSON **out, long *status, tp_err *e)
{
	*out = NULL;
	struct http_client *http = creds_ctx_http(x, e);
	if (!http)
		return TP_EIO;
	const char *hdrs[3] = { "Content-Type: application/json", "User-Agent: taskpipe/" TASKPIPE_VERSION, extra_hdr };
	struct http_request req = {
		.method = method,
		.url = url,
		.headers = hdrs,
		.n_headers = extra_hdr ? 3 : 2,
		.body = body,
		.body_len = body ? strlen(body) : 0,
		.timeout_ms = SSO_TIMEOUT_MS,
		.max_response_bytes = SSO_MAX_BYTES,
	};
	struct http_response resp;
	memset(&resp, 0, sizeof resp);
	int rc = http_do(http, &req, &resp);
	*status = resp.status;
	if (rc != TP_OK) {
		rc = tp_errf(e, TP_EIO, "SsoUnreachable", "%s %s: %s", method, url,
			     resp.error[0] ? resp.error : tp_rc_name(rc));
	} else if (resp.status / 100 != 2) {
		rc = tp_errf(e, TP_EAWS, "SsoError", "%s %s: HTTP %ld", method, url, resp.status);
	} else if (!(*out = cJSON_Parse(buf_str(&resp.body))) || !cJSON_IsObject(*out)) {
		wipe_json(*out);
		*out = NULL;
		rc = tp_errf(e, TP_EAWS, "SsoBadAnswer", "%s %s: answer is not a JSON object", method, url);
	}
	tp_wipe(resp.body.data, resp.body.len);
	http_response_free(&resp);
	return rc;
}

static void iso_time(int64_t ms, char out[32])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Write the refreshed token where `aws sso login` keeps it (0600, whole or not at all). */
static void save_token(const char *path, cJSON *tok)
{
	char *text = cJSON_Print(tok);
	char tmp[1100];
	snprintf(tmp, sizeof tmp, "%s.taskpipe-%d", path, (int)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	size_t n = strlen(text);
	int ok = fd >= 0 && write(fd, text, n) == (ssize_t)n;
	if (fd >= 0)
		ok = close(fd) == 0 && ok;
	if (!ok || rename(tmp, path) != 0) {
		unlink(tmp);
		log_warn("could not save the refreshed SSO token to %s", path);
	}
	tp_wipe(text, n);
	free(text);
}

/* botocore's SSOTokenProvider._refresh_access_token: 1 refreshed (tok
 * updated and saved), 0 could not (reason in why). */
static int refresh_token(struct creds_ctx *x, const struct sso_conf *s, const char *path, cJSON *tok,
			 char *why, size_t why_len)
{
	const char *cid = jstr(tok, "clientId"), *csec = jstr(tok, "clientSecret"),
		   *rt = jstr(tok, "refreshToken"), *reg = jstr(tok, "registrationExpiresAt");
	int64_t reg_ms;
	if (!cid || !csec || !rt || !reg) {
		snprintf(why, why_len, "the cached token has no refresh token");
		return 0;
	}
	if (creds_parse_time(reg, &reg_ms) != 0 || reg_ms <= x->now_ms) {
		snprintf(why, why_len, "the client registration has expired");
		return 0;
	}
	char url[700];
	tp_err e = { 0 };
	if (awsconf_endpoint(SVC_SSO_OIDC, s->region, url, sizeof url - 8, &e) < 0) {
		snprintf(why, why_len, "%.300s", e.message);
		return 0;
	}
	strcat(url, "/token");
	cJSON *req = cJSON_CreateObject();
	cJSON_AddStringToObject(req, "clientId", cid);
	cJSON_AddStringToObject(req, "clientSecret", csec);
	cJSON_AddStringToObject(req, "grantType", "refresh_token");
	cJSON_AddStringToObject(req, "refreshToken", rt);
	char *body = cJSON_PrintUnformatted(req);
	wipe_json(req);
	cJSON *ans = NULL;
	long status = 0;
	int rc = sso_call(x, "POST", url, NULL, body, &ans, &status, &e);
	tp_wipe(body, strlen(body));
	free(body);
	if (rc < 0) {
		snprintf(why, why_len, "refreshing it failed: %.300s", e.message);
		return 0;
	}
	const char *at = jstr(ans, "accessToken");
	const cJSON *ein = cJSON_GetObjectItemCaseSensitive(ans, "expiresIn");
	if (!at || !cJSON_IsNumber(ein) || ein->valuedouble <= 0) {
		snprintf(why, why_len, "refreshing it failed: CreateToken answer lacks accessToken or expiresIn");
		wipe_json(ans);
		return 0;
	}
	char exp[32];
	iso_time(x->now_ms + (int64_t)(ein->valuedouble * 1000), exp);
	cJSON_ReplaceItemInObject(tok, "accessToken", cJSON_CreateString(at));
	cJSON_DeleteItemFromObject(tok, "expiresAt");
	cJSON_AddStringToObject(tok, "expiresAt", exp);
	const char *nrt = jstr(ans, "refreshToken");
	if (nrt)
		cJSON_ReplaceItemInObject(tok, "refreshToken", cJSON_CreateString(nrt));
	wipe_json(ans);
	save_token(path, tok);
	return 1;
}

int creds_src_sso(struct creds_ctx *x, const char *profile, struct creds *c, tp_err *e)
{
	struct sso_conf s;
	int rc = load_conf(profile, &s, e);
	if (rc < 0)
		return rc;
	char path[1024];
	cache_path(&s, path, sizeof path);
	buf text = { 0 };
	tp_err fe = { 0 };
	cJSON *tok = NULL;
	if (tp_read_file(path, SSO_MAX_BYTES, &text, &fe) != TP_OK) {
		rc = tp_errf(e, TP_ENOTFOUND, "SsoTokenMissing",
			     "profile %s: no SSO token cached in %s; run: aws sso login --profile %s", profile, path,
			     profile);
		goto done;
	}
	tok = cJSON_Parse(buf_str(&text));
	const char *at = tok ? jstr(tok, "accessToken") : NULL, *exps = tok ? jstr(tok, "expiresAt") : NULL;
	int64_t exp_ms = 0;
	if (!at || !exps || creds_parse_time(exps, &exp_ms) != 0) {
		rc = tp_errf(e, TP_EINVAL, "SsoTokenInvalid",
			     "profile %s: SSO token cache %s lacks accessToken or a valid expiresAt; run: aws sso "
			     "login --profile %s", profile, path, profile);
		goto done;
	}
	char why[400] = "";
	if (*s.session && exp_ms - x->now_ms < TOKEN_REFRESH_WINDOW_MS &&
	    refresh_token(x, &s, path, tok, why, sizeof why)) {
		at = jstr(tok, "accessToken");
		creds_parse_time(jstr(tok, "expiresAt"), &exp_ms);
		log_info("profile %s: SSO token refreshed", profile);
	} else if (*why) {
		log_info("profile %s: SSO token not refreshed: %s", profile, why);
	}
	if (exp_ms <= x->now_ms) {
		rc = tp_errf(e, TP_EINVAL, "SsoTokenExpired",
			     "profile %s: the SSO session has expired (token in %s%s%s); run: aws sso login --profile %s",
			     profile, path, *why ? ", " : "", why, profile);
		goto done;
	}

	char url[2400], base[700], hdr[4200];
	if ((rc = awsconf_endpoint(SVC_SSO, s.region, base, sizeof base, e)) < 0)
		goto done;
	char role_q[400], acct_q[200];
	if (sigv4_uri_encode(s.role_name, strlen(s.role_name), 0, role_q, sizeof role_q) < 0 ||
	    sigv4_uri_encode(s.account_id, strlen(s.account_id), 0, acct_q, sizeof acct_q) < 0) {
		rc = tp_errf(e, TP_EINVAL, "InvalidConfig", "profile %s: sso_role_name or sso_account_id too long",
			     profile);
		goto done;
	}
	snprintf(url, sizeof url, "%s/federation/credentials?role_name=%s&account_id=%s", base, role_q, acct_q);
	if ((size_t)snprintf(hdr, sizeof hdr, "x-amz-sso_bearer_token: %s", at) >= sizeof hdr) {
		rc = tp_errf(e, TP_EINVAL, "SsoTokenInvalid", "profile %s: SSO access token in %s is too long", profile,
			     path);
		goto done;
	}
	cJSON *ans = NULL;
	long status = 0;
	rc = sso_call(x, "GET", url, hdr, NULL, &ans, &status, e);
	tp_wipe(hdr, sizeof hdr);
	if (rc < 0) {
		if (status == 401 || status == 403) {
			char m[400];
			snprintf(m, sizeof m, "%.390s", e->message);
			rc = tp_errf(e, TP_EAWS, "SsoUnauthorized",
				     "profile %s: the SSO portal refused the token (%s); run: aws sso login --profile %s",
				     profile, m, profile);
		}
		goto done;
	}
	const cJSON *rcj = cJSON_GetObjectItemCaseSensitive(ans, "roleCredentials");
	const char *ak = jstr(rcj, "accessKeyId"), *sk = jstr(rcj, "secretAccessKey"), *st = jstr(rcj, "sessionToken");
	const cJSON *ex = cJSON_GetObjectItemCaseSensitive(rcj, "expiration");
	if (!ak || !sk || !cJSON_IsNumber(ex) ||
	    !creds_set_field(c->access_key_id, sizeof c->access_key_id, ak) ||
	    !creds_set_field(c->secret_access_key, sizeof c->secret_access_key, sk) ||
	    !creds_set_field(c->session_token, sizeof c->session_token, st ? st : "")) {
		creds_wipe(c);
		rc = tp_errf(e, TP_EAWS, "SsoBadAnswer", "profile %s: GetRoleCredentials %s: answer lacks roleCredentials",
			     profile, base);
	} else {
		c->expires_ms = (int64_t)ex->valuedouble;
		creds_set_source(c, "sso");
		buf_addf(x->chain, " -> %s%s -> account %s role %s", *s.session ? "sso_session " : "sso_start_url ",
			 *s.session ? s.session : s.start_url, s.account_id, s.role_name);
		rc = TP_OK;
	}
	wipe_json(ans);
done:
	wipe_json(tok);
	tp_wipe(text.data, text.len);
	buf_free(&text);
	return rc < 0 ? rc : 1;
}
