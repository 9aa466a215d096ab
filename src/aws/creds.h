/* creds.h: AWS credentials, found the way the SDKs find them, cached and
 * refreshed before they expire.
 *
 * Chain, first that yields credentials:
 * 1. environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN;
 * 2. shared files: credentials file, then config file, for the profile (awsconf.h);
 * 3. container endpoint: AWS_CONTAINER_CREDENTIALS_FULL_URI, or
 *    AWS_CONTAINER_CREDENTIALS_RELATIVE_URI under http://169.254.170.2, with
 *    the Authorization header from AWS_CONTAINER_AUTHORIZATION_TOKEN or the
 *    file named by AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE;
 * 4. EC2 instance metadata, IMDSv2 (token PUT, then role, then credentials),
 *    at $AWS_EC2_METADATA_SERVICE_ENDPOINT or http://169.254.169.254;
 *    skipped when AWS_EC2_METADATA_DISABLED=true.
 * Credentials with an expiry are refreshed when less than 5 minutes remain.
 * Secrets are wiped when replaced or freed and never logged.
 */
#ifndef TP_CREDS_H
#define TP_CREDS_H

#include "base/base.h"

struct http_client;

struct creds {
	char access_key_id[128];
	char secret_access_key[128];
	char session_token[4096];  /* "" when none */
	int64_t expires_ms;        /* Unix ms; 0 = does not expire */
	char source[32];           /* "env", "profile", "container", "imds" */
};

struct creds_provider;

/* http is borrowed (used only for the container and IMDS sources). */
struct creds_provider *creds_provider_new(struct http_client *http);
void creds_provider_free(struct creds_provider *p);

/* Current credentials at now_ms (from cache when still fresh). On failure,
 * e says which sources were tried and why each failed. */
int creds_get(struct creds_provider *p, int64_t now_ms, struct creds *out, tp_err *e);

/* Forget the cache (e.g. after an ExpiredToken answer). */
void creds_invalidate(struct creds_provider *p);

void creds_wipe(struct creds *c);

#endif
