/* sts.h: the two STS calls credentials need, AssumeRole (signed with the
 * source credentials) and AssumeRoleWithWebIdentity (unsigned), over the
 * query protocol with XML answers.
 *
 * Endpoint: $AWS_ENDPOINT_URL_STS, else $AWS_ENDPOINT_URL (unless
 * $AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true), else regional
 * https://sts.<region>.amazonaws.com; with AWS_STS_REGIONAL_ENDPOINTS=legacy
 * (or sts_regional_endpoints = legacy in the profile) in one of the regions
 * that had the global endpoint, or with no region at all,
 * https://sts.amazonaws.com signed for us-east-1.
 */
#ifndef TP_STS_H
#define TP_STS_H

#include "aws/creds.h"

struct http_client;

struct sts_assume {
	const char *role_arn;
	const char *session_name;        /* NULL: "taskpipe-<unix seconds>" */
	const char *external_id;         /* NULL: none */
	const char *mfa_serial;          /* NULL: none; else token_code is sent with it */
	const char *token_code;
	int duration_seconds;            /* 0: STS's default */
	const char *web_identity_token;  /* set: AssumeRoleWithWebIdentity (src unused) */
};

/* Endpoint URL (no trailing slash) and signing region as described above. */
int sts_endpoint(char *url, size_t url_len, char *region, size_t region_len, tp_err *e);

/* One call; out gets the role's credentials and their expiry. */
int sts_assume_role(struct http_client *http, const struct creds *src, const struct sts_assume *a,
		    int64_t now_ms, struct creds *out, tp_err *e);

#endif
