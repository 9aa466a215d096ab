/* creds_profile.c: what a profile of the shared files can name, in
 * botocore's order (AssumeRoleProvider, then ProfileProviderBuilder.providers:
 * web identity, SSO, credentials-file keys, credential_process, config-file
 * keys). A profile that configures a source gets that source or an error
 * naming it, never another identity. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "aws/awsconf.h"
#include "base/settings_table.h"
#include "aws/creds_src.h"
#include "aws/sts.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_DEPTH 16                 /* source_profile hops */
#define TOKEN_MAX_BYTES (64 * 1024)  /* a web identity token file */

/* Profiles on the way from the chosen one to the current source_profile. */
struct visited {
	char names[MAX_DEPTH][128]; /* in the order visited */
	int n;                      /* how many */
};

static const char *env_nonempty(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

static void chain_add(struct creds_ctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void chain_add(struct creds_ctx *x, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	buf_vaddf(x->chain, fmt, ap);
	va_end(ap);
}

/* A setting of profile (credentials file over config file). */
static int get(const char *profile, const char *key, char *out, size_t out_len)
{
	out[0] = 0;
	return awsconf_profile_get(profile, key, out, out_len);
}

static int has(const char *profile, const char *key)
{
	char v[4096];
	return awsconf_profile_get(profile, key, v, sizeof v);
}

static int profile_exists(const char *profile)
{
	char path[1024];
	awsconf_credentials_path(path, sizeof path);
	if (awsconf_ini_has_profile(path, profile, 0))
		return 1;
	awsconf_config_path(path, sizeof path);
	return awsconf_ini_has_profile(path, profile, 1);
}

/* Static keys of profile in one file: 1 found, 0 none, < 0 half a pair. */
static int static_keys(const char *profile, int is_config, struct creds *c, tp_err *e)
{
	char path[1024];
	if (is_config)
		awsconf_config_path(path, sizeof path);
	else
		awsconf_credentials_path(path, sizeof path);
	int has_ak = awsconf_ini_get(path, profile, is_config, "aws_access_key_id", c->access_key_id,
				     sizeof c->access_key_id);
	int has_sk = awsconf_ini_get(path, profile, is_config, "aws_secret_access_key", c->secret_access_key,
				     sizeof c->secret_access_key);
	if (!has_ak && !has_sk)
		return 0;
	if (!has_ak || !*c->access_key_id || !has_sk || !*c->secret_access_key) {
		creds_wipe(c);
		return tp_errf(e, TP_EINVAL, "PartialCredentials",
			       "profile %s: %s needs both aws_access_key_id and aws_secret_access_key", profile, path);
	}
	if (!awsconf_ini_get(path, profile, is_config, "aws_session_token", c->session_token,
			     sizeof c->session_token))
		c->session_token[0] = 0;
	c->expires_ms = 0;
	creds_set_source(c, "profile");
	return 1;
}

/* The MFA code: asked on the terminal, else a clear error. */
static int mfa_code(const char *profile, const char *serial, char *out, size_t out_len, tp_err *e)
{
	if (!isatty(STDIN_FILENO))
		return tp_errf(e, TP_EINVAL, "MfaNeedsTerminal",
			       "profile %s: mfa_serial %s needs a one-time code, and stdin is not a terminal to ask "
			       "for it on (run taskpipe interactively, or use a profile without mfa_serial)",
			       profile, serial);
	fprintf(stderr, "Enter MFA code for %s: ", serial);
	fflush(stderr);
	if (!fgets(out, (int)out_len, stdin))
		return tp_errf(e, TP_EINVAL, "MfaNoCode", "profile %s: no MFA code was entered", profile);
	out[strcspn(out, "\r\n")] = 0;
	if (!*out)
		return tp_errf(e, TP_EINVAL, "MfaNoCode", "profile %s: no MFA code was entered", profile);
	return TP_OK;
}

static int resolve(struct creds_ctx *x, const char *profile, struct visited *v, int top, struct creds *c,
		   buf *why, tp_err *e);

/* credential_source: one of the chain's own sources, named. */
static int from_credential_source(struct creds_ctx *x, const char *profile, const char *name, struct creds *c,
				  tp_err *e)
{
	buf why = { 0 };
	int found;
	if (strcmp(name, "Environment") == 0)
		found = creds_src_env(c, &why);
	else if (strcmp(name, "Ec2InstanceMetadata") == 0)
		found = creds_src_imds(x, c, &why);
	else if (strcmp(name, "EcsContainer") == 0)
		found = creds_src_container(x, c, &why);
	else {
		buf_free(&why);
		return tp_errf(e, TP_EINVAL, "InvalidConfig",
			       "profile %s: credential_source \"%s\" is not valid (Environment, "
			       "Ec2InstanceMetadata or EcsContainer)", profile, name);
	}
	chain_add(x, " -> credential_source %s", name);
	int rc = found ? TP_OK
		       : tp_errf(e, TP_ENOTFOUND, "NoSourceCredentials",
				 "profile %s: no credentials from credential_source %s: %s", profile, name,
				 buf_str(&why));
	buf_free(&why);
	return rc;
}

static int is_visited(const struct visited *v, const char *name)
{
	for (int i = 0; i < v->n; i++)
		if (strcmp(v->names[i], name) == 0)
			return 1;
	return 0;
}

static int visit(struct visited *v, const char *name, tp_err *e)
{
	if (v->n >= MAX_DEPTH)
		return tp_errf(e, TP_EINVAL, "InvalidConfig", "profile %s: more than %d source_profile hops",
			       v->names[0], MAX_DEPTH);
	snprintf(v->names[v->n++], sizeof v->names[0], "%s", name);
	return TP_OK;
}

static void visited_text(const struct visited *v, const char *next, char *out, size_t out_len)
{
	size_t n = 0;
	out[0] = 0;
	for (int i = 0; i < v->n && n < out_len; i++)
		n += (size_t)snprintf(out + n, out_len - n, "%s -> ", v->names[i]);
	if (n < out_len)
		snprintf(out + n, out_len - n, "%s", next);
}

/* role_arn: AssumeRole with the credentials of source_profile or
 * credential_source (botocore's AssumeRoleProvider). */
static int assume_role(struct creds_ctx *x, const char *profile, struct visited *v, struct creds *c, tp_err *e)
{
	char role_arn[512], source_profile[128], credential_source[64], external_id[512], session[128],
		duration[32], mfa_serial[256], code[64] = "";
	get(profile, "role_arn", role_arn, sizeof role_arn);
	int has_sp = get(profile, "source_profile", source_profile, sizeof source_profile);
	int has_cs = get(profile, "credential_source", credential_source, sizeof credential_source);
	int has_ext = get(profile, "external_id", external_id, sizeof external_id);
	int has_sess = get(profile, "role_session_name", session, sizeof session);
	int has_dur = get(profile, "duration_seconds", duration, sizeof duration);
	int has_mfa = get(profile, "mfa_serial", mfa_serial, sizeof mfa_serial);
	if (!*role_arn)
		return tp_errf(e, TP_EINVAL, "InvalidConfig", "profile %s: role_arn is empty or longer than %zu bytes", profile,
			       sizeof role_arn - 1);
	if (has_sp && has_cs)
		return tp_errf(e, TP_EINVAL, "InvalidConfig",
			       "profile %s: has both source_profile and credential_source", profile);
	if (!has_sp && !has_cs)
		return tp_errf(e, TP_EINVAL, "InvalidConfig",
			       "profile %s: role_arn needs source_profile or credential_source", profile);
	int dur = 0;
	if (has_dur) {
		char *end;
		long d = strtol(duration, &end, 10);
		if (*end || d <= 0 || d > 43200)
			return tp_errf(e, TP_EINVAL, "InvalidConfig",
				       "profile %s: duration_seconds \"%s\" is not a whole number of seconds up to 43200",
				       profile, duration);
		dur = (int)d;
	}

	struct creds src;
	memset(&src, 0, sizeof src);
	int rc;
	if (has_cs) {
		rc = from_credential_source(x, profile, credential_source, &src, e);
	} else if (strcmp(source_profile, profile) == 0) {
		/* A profile may name itself when it has static keys of its own
		 * (botocore's rule): those keys are the source. */
		rc = static_keys(profile, 0, &src, e);
		if (rc == 0)
			rc = static_keys(profile, 1, &src, e);
		if (rc == 0)
			rc = tp_errf(e, TP_EINVAL, "InfiniteLoopConfig",
				     "profile %s: source_profile loop: %s is its own source_profile and has no static keys",
				     profile, profile);
		else if (rc > 0)
			rc = TP_OK;
		chain_add(x, " -> source_profile %s (static keys)", source_profile);
	} else if (is_visited(v, source_profile)) {
		char path[600];
		visited_text(v, source_profile, path, sizeof path);
		rc = tp_errf(e, TP_EINVAL, "InfiniteLoopConfig", "profile %s: source_profile loop: %s", profile, path);
	} else if (!profile_exists(source_profile)) {
		rc = tp_errf(e, TP_EINVAL, "InvalidConfig",
			     "profile %s: source_profile \"%s\" does not exist", profile, source_profile);
	} else if ((rc = visit(v, source_profile, e)) == TP_OK) {
		chain_add(x, " -> source_profile %s", source_profile);
		buf why = { 0 };
		int r = resolve(x, source_profile, v, 0, &src, &why, e);
		if (r == 0)
			rc = tp_errf(e, TP_EINVAL, "InvalidConfig", "profile %s: source_profile %s has no credentials",
				     profile, source_profile);
		else
			rc = r < 0 ? r : TP_OK;
		buf_free(&why);
	}
	if (rc == TP_OK && has_mfa)
		rc = mfa_code(profile, mfa_serial, code, sizeof code, e);
	if (rc == TP_OK) {
		struct sts_assume a = {
			.role_arn = role_arn,
			.session_name = has_sess ? session : NULL,
			.external_id = has_ext ? external_id : NULL,
			.mfa_serial = has_mfa ? mfa_serial : NULL,
			.token_code = code,
			.duration_seconds = dur,
		};
		struct http_client *http = creds_ctx_http(x, e);
		rc = http ? sts_assume_role(http, &src, &a, x->now_ms, c, e) : TP_EIO;
		if (rc == TP_OK) {
			creds_set_source(c, "assume-role");
			chain_add(x, " -> role %s", role_arn);
		}
	}
	tp_wipe(code, sizeof code);
	creds_wipe(&src);
	return rc == TP_OK ? 1 : rc;
}

/* Web identity: AWS_* variables (top level only) over the profile's keys. */
static int web_identity(struct creds_ctx *x, const char *profile, int top, struct creds *c, tp_err *e)
{
	char file[1024] = "", role_arn[512] = "", session[128] = "";
	const char *ev;
	if (top && (ev = getenv("AWS_WEB_IDENTITY_TOKEN_FILE")))
		snprintf(file, sizeof file, "%s", ev);
	else
		get(profile, "web_identity_token_file", file, sizeof file);
	if (!*file)
		return 0;
	if (top && (ev = getenv("AWS_ROLE_ARN")))
		snprintf(role_arn, sizeof role_arn, "%s", ev);
	else
		get(profile, "role_arn", role_arn, sizeof role_arn);
	if (top && (ev = getenv("AWS_ROLE_SESSION_NAME")))
		snprintf(session, sizeof session, "%s", ev);
	else
		get(profile, "role_session_name", session, sizeof session);
	if (!*role_arn)
		return tp_errf(e, TP_EINVAL, "InvalidConfig",
			       "web identity token file %s is configured (profile %s or AWS_WEB_IDENTITY_TOKEN_FILE) "
			       "but no role: set role_arn or AWS_ROLE_ARN", file, profile);
	buf tok = { 0 };
	tp_err fe = { 0 };
	if (tp_read_file(file, TOKEN_MAX_BYTES, &tok, &fe) != TP_OK) {
		buf_free(&tok);
		return tp_errf(e, TP_EINVAL, "WebIdentityToken", "web identity token file: %s", fe.message);
	}
	while (tok.len && isspace((unsigned char)tok.data[tok.len - 1]))
		tok.data[--tok.len] = 0;
	int rc;
	if (!tok.len) {
		rc = tp_errf(e, TP_EINVAL, "WebIdentityToken", "web identity token file %s is empty", file);
	} else {
		struct sts_assume a = { .role_arn = role_arn, .session_name = *session ? session : NULL,
					.web_identity_token = buf_str(&tok) };
		struct http_client *http = creds_ctx_http(x, e);
		rc = http ? sts_assume_role(http, NULL, &a, x->now_ms, c, e) : TP_EIO;
	}
	tp_wipe(tok.data, tok.len);
	buf_free(&tok);
	if (rc < 0)
		return rc;
	creds_set_source(c, "assume-role-with-web-identity");
	chain_add(x, " -> web_identity_token_file %s -> role %s", file, role_arn);
	return 1;
}

/* ProfileProviderBuilder.providers, preceded by AssumeRoleProvider at the
 * top and for a source_profile that has a role and no static keys. */
static int resolve(struct creds_ctx *x, const char *profile, struct visited *v, int top, struct creds *c,
		   buf *why, tp_err *e)
{
	int r;
	int role = has(profile, "role_arn") && !has(profile, "web_identity_token_file");
	if (role && (top || !(has(profile, "aws_access_key_id") || has(profile, "aws_secret_access_key"))))
		return assume_role(x, profile, v, c, e);
	if ((r = web_identity(x, profile, top, c, e)) != 0)
		return r;
	if (has(profile, "sso_account_id") || has(profile, "sso_role_name")) {
		if ((r = creds_src_sso(x, profile, c, e)) < 0)
			return r;
		chain_add(x, " (sso)");
		return 1;
	}
	if ((r = static_keys(profile, 0, c, e)) != 0) {
		if (r > 0)
			chain_add(x, " (static keys, credentials file)");
		return r;
	}
	if (has(profile, "login_session"))
		return tp_errf(e, TP_EINVAL, "UnsupportedSource",
			       "profile %s: login_session (aws login) is not supported by taskpipe", profile);
	char cmd[4096];
	if (get(profile, "credential_process", cmd, sizeof cmd)) {
		long timeout;
		char bad[160];
		if (setting_long(SET_CREDENTIAL_PROCESS_TIMEOUT_MS, &timeout, bad, sizeof bad) < 0)
			return tp_errf(e, TP_EINVAL, "InvalidConfig", "%s", bad);
		if ((r = creds_src_process(profile, cmd, timeout, c, e)) < 0)
			return r;
		chain_add(x, " (credential_process)");
		return 1;
	}
	if ((r = static_keys(profile, 1, c, e)) != 0) {
		if (r > 0)
			chain_add(x, " (static keys, config file)");
		return r;
	}
	/* Settings that name a source but are not enough to use it: refuse
	 * rather than fall through to another identity. */
	static const char *const half[] = { "sso_session", "sso_start_url", "source_profile", "credential_source",
					    "role_arn" };
	for (size_t i = 0; i < sizeof half / sizeof half[0]; i++)
		if (has(profile, half[i]))
			return tp_errf(e, TP_EINVAL, "InvalidConfig",
				       "profile %s: %s is set but the profile does not say how to get credentials "
				       "with it (%s)", profile, half[i],
				       i < 2 ? "SSO needs sso_account_id and sso_role_name"
					     : "role_arn needs source_profile or credential_source");
	char cp[1024], fp[1024];
	awsconf_credentials_path(cp, sizeof cp);
	awsconf_config_path(fp, sizeof fp);
	buf_addf(why, "%sprofile %s: no credentials in %s or %s", why->len ? "; " : "", profile, cp, fp);
	return 0;
}

int creds_src_profile(struct creds_ctx *x, const char *profile, struct creds *c, buf *why, tp_err *e)
{
	struct visited v = { .n = 0 };
	visit(&v, profile, e);
	size_t mark = x->chain->len;
	buf_addf(x->chain, "profile %s", profile);
	if (!profile_exists(profile)) {
		char cp[1024], fp[1024];
		awsconf_credentials_path(cp, sizeof cp);
		awsconf_config_path(fp, sizeof fp);
		/* Web identity from the environment needs no profile. */
		int r = web_identity(x, profile, 1, c, e);
		if (r != 0)
			return r;
		x->chain->len = mark;
		if (x->chain->data)
			x->chain->data[mark] = 0;
		if (env_nonempty("AWS_PROFILE"))
			return tp_errf(e, TP_ENOTFOUND, "ProfileNotFound", "profile %s: not found in %s or %s",
				       profile, cp, fp);
		buf_addf(why, "%sprofile %s: not found in %s or %s", why->len ? "; " : "", profile, cp, fp);
		return 0;
	}
	int r = resolve(x, profile, &v, 1, c, why, e);
	if (r <= 0) {
		x->chain->len = mark;
		if (x->chain->data)
			x->chain->data[mark] = 0;
	}
	return r;
}
