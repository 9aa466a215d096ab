/* sts.c: AssumeRole and AssumeRoleWithWebIdentity for the credentials chain
 * (see sts.h). It speaks HTTP itself rather than through aws.c, which sits
 * on top of the credentials provider. Answers hold secrets: they are wiped. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "aws/sts.h"

#include "aws/awsconf.h"
#include "aws/awsjson.h"
#include "aws/creds_src.h"
#include "aws/http.h"
#include "aws/sigv4.h"
#include "base/hash.h"
#include "base/log.h"
#include "base/version.h"
#include "base/xml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STS_TIMEOUT_MS 30000
#define STS_MAX_BYTES (256 * 1024)
#define STS_GLOBAL "https://sts.amazonaws.com"
#define STS_ATTEMPTS 3        /* standard mode's attempts */
#define STS_BACKOFF_MS 200    /* before the 2nd attempt; doubled for the 3rd */

/* Answers worth another try (botocore also retries IDPCommunicationError
 * for AssumeRoleWithWebIdentity). */
static const char *const retry_codes[] = { "Throttling", "ThrottlingException", "RequestLimitExceeded",
					   "IDPCommunicationError" };

/* Regions that had the global endpoint before regional became the default
 * (botocore's "legacy" mode keeps them on it). */
static const char *const legacy_regions[] = {
	"ap-northeast-1", "ap-south-1", "ap-southeast-1", "ap-southeast-2", "ca-central-1", "eu-central-1",
	"eu-north-1",     "eu-west-1",  "eu-west-2",      "eu-west-3",      "sa-east-1",    "us-east-1",
	"us-east-2",      "us-west-1",  "us-west-2",
};

static int legacy_mode(void)
{
	const char *v = getenv("AWS_STS_REGIONAL_ENDPOINTS");
	char conf[32] = "";
	if (!v || !*v) {
		if (awsconf_profile_get(awsconf_profile(), "sts_regional_endpoints", conf, sizeof conf))
			v = conf;
	}
	return v && tp_strcaseeq(v, "legacy");
}

static int configured_endpoint(void)
{
	const char *ign = getenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
	if (ign && tp_strcaseeq(ign, "true"))
		return 0;
	const char *a = getenv("AWS_ENDPOINT_URL_STS"), *b = getenv("AWS_ENDPOINT_URL");
	return (a && *a) || (b && *b);
}

int sts_endpoint(char *url, size_t url_len, char *region, size_t region_len, tp_err *e)
{
	tp_err ignore = { 0 };
	if (awsconf_region(region, region_len, &ignore) != TP_OK)
		region[0] = 0;
	int global = !region[0];
	if (region[0] && legacy_mode())
		for (size_t i = 0; i < sizeof legacy_regions / sizeof legacy_regions[0]; i++)
			if (strcmp(region, legacy_regions[i]) == 0)
				global = 1;
	if (global && !configured_endpoint()) {
		snprintf(url, url_len, "%s", STS_GLOBAL);
		snprintf(region, region_len, "us-east-1");
		return TP_OK;
	}
	if (!region[0])
		snprintf(region, region_len, "us-east-1");
	return awsconf_endpoint(SVC_STS, region, url, url_len, e);
}

static void host_of(const char *url, char *out, size_t out_len)
{
	const char *h = strstr(url, "://");
	h = h ? h + 3 : url;
	size_t n = strcspn(h, "/?#");
	snprintf(out, out_len, "%.*s", (int)n, h);
}

/* Credentials out of an AssumeRole(WithWebIdentity)Response. */
static int parse_answer(const buf *body, struct creds *out, char *why, size_t why_len)
{
	buf ak = { 0 }, sk = { 0 }, tok = { 0 }, exp = { 0 };
	int ok = 0;
	if (!xml_text(body->data, body->len, "AccessKeyId", &ak) ||
	    !xml_text(body->data, body->len, "SecretAccessKey", &sk) ||
	    !xml_text(body->data, body->len, "SessionToken", &tok) ||
	    !xml_text(body->data, body->len, "Expiration", &exp)) {
		snprintf(why, why_len, "answer lacks Credentials");
		goto done;
	}
	if (creds_parse_time(buf_str(&exp), &out->expires_ms) != 0) {
		snprintf(why, why_len, "answer has an invalid Expiration");
		goto done;
	}
	if (!creds_set_field(out->access_key_id, sizeof out->access_key_id, buf_str(&ak)) ||
	    !creds_set_field(out->secret_access_key, sizeof out->secret_access_key, buf_str(&sk)) ||
	    !creds_set_field(out->session_token, sizeof out->session_token, buf_str(&tok))) {
		snprintf(why, why_len, "a credential in the answer is too long");
		goto done;
	}
	ok = 1;
done:
	tp_wipe(sk.data, sk.len);
	tp_wipe(tok.data, tok.len);
	buf_free(&ak);
	buf_free(&sk);
	buf_free(&tok);
	buf_free(&exp);
	return ok;
}

int sts_assume_role(struct http_client *http, const struct creds *src, const struct sts_assume *a,
		    int64_t now_ms, struct creds *out, tp_err *e)
{
	const char *op = a->web_identity_token ? "AssumeRoleWithWebIdentity" : "AssumeRole";
	char url[1024], region[64], host[512], session[80];
	int rc = sts_endpoint(url, sizeof url, region, sizeof region, e);
	if (rc < 0)
		return rc;
	host_of(url, host, sizeof host);
	if (a->session_name && *a->session_name)
		snprintf(session, sizeof session, "%s", a->session_name);
	else
		snprintf(session, sizeof session, "taskpipe-%lld", (long long)(now_ms / 1000));

	buf form = { 0 };
	awsj_form_add(&form, "Action", op);
	awsj_form_add(&form, "Version", "2011-06-15");
	awsj_form_add(&form, "RoleArn", a->role_arn);
	awsj_form_add(&form, "RoleSessionName", session);
	if (a->web_identity_token)
		awsj_form_add(&form, "WebIdentityToken", a->web_identity_token);
	if (a->external_id)
		awsj_form_add(&form, "ExternalId", a->external_id);
	if (a->mfa_serial) {
		awsj_form_add(&form, "SerialNumber", a->mfa_serial);
		awsj_form_add(&form, "TokenCode", a->token_code ? a->token_code : "");
	}
	if (a->duration_seconds > 0) {
		char d[16];
		snprintf(d, sizeof d, "%d", a->duration_seconds);
		awsj_form_add(&form, "DurationSeconds", d);
	}

	const char *ctype = "application/x-www-form-urlencoded; charset=utf-8";
	char *hdr[8] = { 0 };
	size_t nh = 0;
	hdr[nh++] = tp_xasprintf("Content-Type: %s", ctype);
	hdr[nh++] = tp_xstrdup("User-Agent: taskpipe/" TASKPIPE_VERSION);
	if (!a->web_identity_token) {
		/* AssumeRole is signed with the source credentials. */
		time_t now = (time_t)(now_ms / 1000);
		char amz_date[17], payload_hash[HASH_SHA256_HEX_LEN];
		sigv4_amz_date(now, amz_date);
		hash_sha256_hex(form.data, form.len, payload_hash);
		struct sigv4_header sh[5];
		size_t ns = 0;
		sh[ns++] = (struct sigv4_header){ "host", host };
		sh[ns++] = (struct sigv4_header){ "x-amz-date", amz_date };
		sh[ns++] = (struct sigv4_header){ "x-amz-content-sha256", payload_hash };
		sh[ns++] = (struct sigv4_header){ "content-type", ctype };
		if (src->session_token[0])
			sh[ns++] = (struct sigv4_header){ "x-amz-security-token", src->session_token };
		struct sigv4_request sreq = { "POST", "/", "", sh, ns, payload_hash, 0 };
		struct sigv4_key key = { src->access_key_id, src->secret_access_key, region, "sts", NULL };
		char *scratch = tp_xmalloc(16384);
		struct sigv4_result sig;
		int sr = sigv4_sign(&sreq, &key, now, scratch, 16384, &sig);
		tp_wipe(scratch, 16384);
		free(scratch);
		if (sr < 0) {
			rc = tp_errf(e, TP_EINVAL, "SigningFailed", "sts %s: request too large to sign", op);
			goto done;
		}
		hdr[nh++] = tp_xasprintf("X-Amz-Date: %s", amz_date);
		hdr[nh++] = tp_xasprintf("X-Amz-Content-Sha256: %s", payload_hash);
		if (src->session_token[0])
			hdr[nh++] = tp_xasprintf("X-Amz-Security-Token: %s", src->session_token);
		hdr[nh++] = tp_xasprintf("Authorization: %s", sig.authorization);
		tp_wipe(&sig, sizeof sig);
	}
	char full_url[1100];
	snprintf(full_url, sizeof full_url, "%s/", url);
	struct http_request req = {
		.method = "POST",
		.url = full_url,
		.headers = (const char *const *)hdr,
		.n_headers = nh,
		.body = form.data,
		.body_len = form.len,
		.timeout_ms = STS_TIMEOUT_MS,
		.max_response_bytes = STS_MAX_BYTES,
	};
	/* Transient failures are tried again (as the SDKs' standard mode does
	 * for these calls); the signed request stays valid for minutes. */
	for (int attempt = 1;; attempt++) {
		struct http_response resp;
		memset(&resp, 0, sizeof resp);
		rc = http_do(http, &req, &resp);
		char why[160] = "";
		int transient = rc != TP_OK || resp.status >= 500;
		if (rc != TP_OK) {
			rc = tp_errf(e, TP_EIO, "StsUnreachable", "sts %s %s: %s", op, url,
				     resp.error[0] ? resp.error : tp_rc_name(rc));
		} else if (resp.status != 200) {
			buf code = { 0 }, msg = { 0 };
			xml_text(resp.body.data, resp.body.len, "Code", &code);
			xml_text(resp.body.data, resp.body.len, "Message", &msg);
			for (size_t i = 0; i < sizeof retry_codes / sizeof retry_codes[0]; i++)
				if (strcmp(buf_str(&code), retry_codes[i]) == 0)
					transient = 1;
			rc = tp_errf(e, TP_EAWS, code.len ? buf_str(&code) : "StsError",
				     "sts %s %s (role %s): HTTP %ld %s: %.200s", op, url, a->role_arn, resp.status,
				     buf_str(&code), buf_str(&msg));
			if (e)
				e->status = (int)resp.status;
			buf_free(&code);
			buf_free(&msg);
		} else if (!parse_answer(&resp.body, out, why, sizeof why)) {
			creds_wipe(out);
			rc = tp_errf(e, TP_EAWS, "StsBadAnswer", "sts %s %s (role %s): %s", op, url, a->role_arn, why);
		} else {
			rc = TP_OK;
		}
		tp_wipe(resp.body.data, resp.body.len);
		http_response_free(&resp);
		if (rc == TP_OK || !transient || attempt >= STS_ATTEMPTS)
			break;
		log_warn("sts %s: attempt %d failed, trying again: %s", op, attempt, e ? e->message : "");
		tp_sleep_ms(STS_BACKOFF_MS << (attempt - 1));
	}
done:
	for (size_t i = 0; i < nh; i++) {
		tp_wipe(hdr[i], strlen(hdr[i]));
		free(hdr[i]);
	}
	tp_wipe(form.data, form.len);
	buf_free(&form);
	return rc;
}
