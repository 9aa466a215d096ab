/* creds.h: AWS credentials, found the way the AWS CLI (botocore) finds
 * them, cached and refreshed before they expire.
 *
 * The chain is botocore's (botocore.credentials.create_credential_resolver,
 * with ProfileProviderBuilder.providers for the profile part); the first
 * source that is configured decides:
 * 1. environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN;
 * 2. the profile's role_arn (without web_identity_token_file): AssumeRole
 *    with credentials from source_profile (itself resolved by this list,
 *    chains allowed, cycles refused) or credential_source (Environment,
 *    Ec2InstanceMetadata, EcsContainer); external_id, role_session_name,
 *    duration_seconds, mfa_serial (the code is asked on a terminal);
 * 3. web identity: AWS_WEB_IDENTITY_TOKEN_FILE / AWS_ROLE_ARN /
 *    AWS_ROLE_SESSION_NAME, each overriding the profile's
 *    web_identity_token_file / role_arn / role_session_name;
 * 4. SSO: profile with sso_account_id / sso_role_name, and sso_session (a
 *    [sso-session NAME] section) or legacy sso_start_url + sso_region; the
 *    token `aws sso login` cached in ~/.aws/sso/cache/<sha1>.json,
 *    refreshed with its refresh token (sso_session only, as botocore);
 * 5. static keys of the profile in the credentials file;
 * 6. credential_process (JSON Version 1);
 * 7. static keys of the profile in the config file;
 * 8. container endpoint: AWS_CONTAINER_CREDENTIALS_FULL_URI, or
 *    AWS_CONTAINER_CREDENTIALS_RELATIVE_URI under http://169.254.170.2, with
 *    the Authorization header from AWS_CONTAINER_AUTHORIZATION_TOKEN or the
 *    file named by AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE;
 * 9. EC2 instance metadata, IMDSv2 (token PUT, then role, then credentials),
 *    at $AWS_EC2_METADATA_SERVICE_ENDPOINT or http://169.254.169.254;
 *    skipped when AWS_EC2_METADATA_DISABLED=true.
 * A profile that configures a source which then fails (or one taskpipe
 * cannot use) is an error naming it: the chain never falls through to
 * another identity. AWS_PROFILE naming a profile that exists nowhere is an
 * error too.
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
	char source[32];           /* "env", "profile" (static keys), "assume-role",
	                              "assume-role-with-web-identity", "sso", "custom-process",
	                              "container", "imds" */
	char chain[512];           /* how it was reached, e.g. "profile dev -> source_profile
	                              base (profile) -> role arn:aws:iam::1:role/r"; no secret */
};

struct creds_provider;

/* http is borrowed (used only for the network sources). */
struct creds_provider *creds_provider_new(struct http_client *http);
void creds_provider_free(struct creds_provider *p);

/* Current credentials at now_ms (from cache when still fresh). On failure,
 * e says which sources were tried and why each failed. */
int creds_get(struct creds_provider *p, int64_t now_ms, struct creds *out, tp_err *e);

/* Forget the cache (e.g. after an ExpiredToken answer). */
void creds_invalidate(struct creds_provider *p);

void creds_wipe(struct creds *c);

/* "YYYY-MM-DDTHH:MM:SS[.fff](Z|UTC|+HH:MM|-HH:MM)" -> Unix ms. 0 on success. */
int creds_parse_time(const char *s, int64_t *out_ms);

#endif
