/* creds_src.h: the credential sources behind creds.c's chain, shared by
 * creds.c, creds_profile.c, creds_sso.c, creds_process.c and sts.c. Not for
 * use outside src/aws/creds*.c and sts.c.
 *
 * A source returns 1 when it produced credentials, 0 when it is not
 * configured (the chain goes on; why says so), or a negative TP_E* code
 * with e filled when it is configured but failed (the chain stops: a
 * configured identity never falls through to another one).
 */
#ifndef TP_CREDS_SRC_H
#define TP_CREDS_SRC_H

#include "aws/creds.h"

struct http_client;

/* What a source needs from the provider: HTTP (created on first use), the
 * time, and where to describe the chain it followed. */
struct creds_ctx {
	struct creds_provider *p;  /* for creds_ctx_http */
	int64_t now_ms;            /* injected clock */
	buf *chain;                /* "profile a -> source_profile b -> role arn:..." (no secrets) */
};

struct http_client *creds_ctx_http(struct creds_ctx *x, tp_err *e);

/* The chain's own sources (creds.c), also named by credential_source. */
int creds_src_env(struct creds *c, buf *why);
int creds_src_container(struct creds_ctx *x, struct creds *c, buf *why);
int creds_src_imds(struct creds_ctx *x, struct creds *c, buf *why);

/* Everything a profile can name (creds_profile.c): role_arn, web identity
 * (environment or profile), SSO, static keys, credential_process. */
int creds_src_profile(struct creds_ctx *x, const char *profile, struct creds *c, buf *why, tp_err *e);

/* SSO (creds_src_sso.c): profile has sso_account_id / sso_role_name. */
int creds_src_sso(struct creds_ctx *x, const char *profile, struct creds *c, tp_err *e);

/* credential_process (creds_process.c): run cmd, read JSON Version 1. */
int creds_src_process(const char *profile, const char *cmd, int64_t timeout_ms, struct creds *c, tp_err *e);

/* Helpers (creds.c). */
int creds_set_field(char *dst, size_t dst_len, const char *src);
void creds_json_wipe(void *cjson);     /* wipe every string in a cJSON tree */
void creds_set_source(struct creds *c, const char *source);

#endif
