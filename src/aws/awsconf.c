/* awsconf.c: the service table, endpoint and region resolution, and the
 * reader for the shared config/credentials INI files (see awsconf.h). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "aws/awsconf.h"

#include <ctype.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Largest shared config/credentials file we read. */
#define INI_MAX_BYTES (1024 * 1024)

static const struct svc_info services[SVC_COUNT] = {
	[SVC_DYNAMODB] = { "dynamodb", "DYNAMODB", "dynamodb", "dynamodb", PROTO_JSON,
			   "DynamoDB_20120810", "1.0", NULL },
	/* Streams has its own host but signs as "dynamodb". */
	[SVC_STREAMS] = { "dynamodbstreams", "DYNAMODB_STREAMS", "dynamodb", "streams.dynamodb",
			  PROTO_JSON, "DynamoDBStreams_20120810", "1.0", NULL },
	[SVC_SQS] = { "sqs", "SQS", "sqs", "sqs", PROTO_JSON, "AmazonSQS", "1.0", NULL },
	[SVC_LAMBDA] = { "lambda", "LAMBDA", "lambda", "lambda", PROTO_REST_JSON, NULL, NULL, NULL },
	[SVC_SNS] = { "sns", "SNS", "sns", "sns", PROTO_QUERY, NULL, NULL, "2010-03-31" },
	[SVC_S3] = { "s3", "S3", "s3", "s3", PROTO_REST_XML, NULL, NULL, NULL },
	[SVC_STS] = { "sts", "STS", "sts", "sts", PROTO_QUERY, NULL, NULL, "2011-06-15" },
	/* IAM is global: one endpoint, https://iam.amazonaws.com, and requests
	 * are signed for region us-east-1 whatever the configured region is
	 * (cn- partition: iam.cn-north-1.amazonaws.com.cn, signed cn-north-1).
	 * The request layer must apply that signing region. */
	[SVC_IAM] = { "iam", "IAM", "iam", "iam", PROTO_QUERY, NULL, NULL, "2010-05-08" },
	/* JSON 1.1: callers set content_type "application/x-amz-json-1.1". */
	[SVC_TAGGING] = { "tagging", "RESOURCE_GROUPS_TAGGING_API", "tagging", "tagging", PROTO_JSON,
			  "ResourceGroupsTaggingAPI_20170126", "1.1", NULL },
	/* Used unsigned, with a bearer token (SSO) or none (OIDC CreateToken). */
	[SVC_SSO] = { "sso", "SSO", "awsssoportal", "portal.sso", PROTO_REST_JSON, NULL, NULL, NULL },
	[SVC_SSO_OIDC] = { "sso-oidc", "SSO_OIDC", "sso-oauth", "oidc", PROTO_REST_JSON, NULL, NULL, NULL },
	/* CloudWatch speaks AWS JSON 1.0 besides query (target prefix
	 * GraniteServiceVersion20100801); host and signing name "monitoring";
	 * the SDKs' endpoint variable is AWS_ENDPOINT_URL_CLOUDWATCH. */
	[SVC_CLOUDWATCH] = { "cloudwatch", "CLOUDWATCH", "monitoring", "monitoring", PROTO_JSON,
			     "GraniteServiceVersion20100801", "1.0", NULL },
};

const struct svc_info *svc_get(int svc)
{
	if (svc < 0 || svc >= SVC_COUNT)
		return NULL;
	return &services[svc];
}

int svc_by_name(const char *name)
{
	if (!name)
		return -1;
	for (int i = 0; i < SVC_COUNT; i++)
		if (tp_strcaseeq(name, services[i].name))
			return i;
	if (tp_strcaseeq(name, "streams") || tp_strcaseeq(name, "dynamodb-streams"))
		return SVC_STREAMS;
	return -1;
}

/* An environment variable, NULL when unset or empty (the SDKs treat both alike). */
static const char *env_nonempty(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

/* http:// or https:// followed by a non-empty host. */
static int endpoint_url_ok(const char *url)
{
	const char *rest;
	if (tp_startswith(url, "http://"))
		rest = url + 7;
	else if (tp_startswith(url, "https://"))
		rest = url + 8;
	else
		return 0;
	size_t host = strcspn(rest, "/?#");
	if (host == 0 || rest[0] == ':')
		return 0;
	for (size_t i = 0; i < host; i++)
		if (isspace((unsigned char)rest[i]))
			return 0;
	return 1;
}

static int copy_out(char *out, size_t out_len, const char *s, size_t n, const char *what, tp_err *e)
{
	if (n >= out_len)
		return tp_errf(e, TP_EINVAL, "ConfigError", "%s: longer than %zu bytes", what, out_len - 1);
	memcpy(out, s, n);
	out[n] = 0;
	return TP_OK;
}

static int configured_endpoint(const char *var, const char *url, char *out, size_t out_len, tp_err *e)
{
	if (!endpoint_url_ok(url))
		return tp_errf(e, TP_EINVAL, "ConfigError",
			       "%s=\"%s\" is not a valid endpoint URL (want http:// or https:// and a host)", var,
			       url);
	size_t n = strlen(url);
	while (n > 0 && url[n - 1] == '/')
		n--;
	return copy_out(out, out_len, url, n, var, e);
}

int awsconf_endpoint(int svc, const char *region, char *out, size_t out_len, tp_err *e)
{
	const struct svc_info *si = svc_get(svc);
	if (!si)
		return tp_errf(e, TP_EINVAL, "ConfigError", "unknown service %d", svc);
	if (!out || out_len == 0)
		return tp_errf(e, TP_EINVAL, "ConfigError", "no room for the endpoint");

	const char *ignore = getenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
	if (!ignore || !tp_strcaseeq(ignore, "true")) {
		char var[64];
		snprintf(var, sizeof var, "AWS_ENDPOINT_URL_%s", si->env_id);
		const char *url = env_nonempty(var);
		if (url)
			return configured_endpoint(var, url, out, out_len, e);
		url = env_nonempty("AWS_ENDPOINT_URL");
		if (url)
			return configured_endpoint("AWS_ENDPOINT_URL", url, out, out_len, e);
	}

	int cn = region && tp_startswith(region, "cn-");
	if (svc == SVC_IAM) {
		const char *iam = cn ? "https://iam.cn-north-1.amazonaws.com.cn" : "https://iam.amazonaws.com";
		return copy_out(out, out_len, iam, strlen(iam), "endpoint", e);
	}
	if (!region || !*region)
		return tp_errf(e, TP_EINVAL, "ConfigError", "no region to build the %s endpoint from", si->name);
	for (const char *r = region; *r; r++)
		if (!isalnum((unsigned char)*r) && *r != '-')
			return tp_errf(e, TP_EINVAL, "ConfigError", "region \"%s\" is not valid", region);
	int n = snprintf(out, out_len, "https://%s.%s.%s", si->host_prefix, region,
			 cn ? "amazonaws.com.cn" : "amazonaws.com");
	if (n < 0 || (size_t)n >= out_len)
		return tp_errf(e, TP_EINVAL, "ConfigError", "endpoint: longer than %zu bytes", out_len - 1);
	return TP_OK;
}

int awsconf_region(char *out, size_t out_len, tp_err *e)
{
	static const char *const vars[] = { "AWS_REGION", "AWS_DEFAULT_REGION" };
	for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
		const char *r = env_nonempty(vars[i]);
		if (r)
			return copy_out(out, out_len, r, strlen(r), vars[i], e);
	}
	char path[1024];
	awsconf_config_path(path, sizeof path);
	const char *profile = awsconf_profile();
	if (awsconf_ini_get(path, profile, 1, "region", out, out_len) && *out)
		return TP_OK;
	if (out_len)
		*out = 0;
	return tp_errf(e, TP_EINVAL, "NoRegion",
		       "no AWS region: set AWS_REGION or AWS_DEFAULT_REGION, or region in profile %s of %s",
		       profile, path);
}

/* ---- INI files ---------------------------------------------------------- */

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		s[--n] = 0;
	return s;
}

/* Does the section header body (between the brackets, trimmed) name the
 * wanted section? kind NULL: a profile (config file: "default", "profile
 * NAME"; credentials file: "NAME"). Else "KIND NAME" (e.g. "sso-session s"). */
static int section_matches(char *hdr, const char *kind, const char *name, int is_config)
{
	if (kind) {
		size_t kn = strlen(kind);
		return strncmp(hdr, kind, kn) == 0 && isspace((unsigned char)hdr[kn]) &&
		       strcmp(trim(hdr + kn), name) == 0;
	}
	if (!is_config)
		return strcmp(hdr, name) == 0;
	if (strcmp(hdr, "default") == 0)
		return strcmp(name, "default") == 0;
	if (strncmp(hdr, "profile", 7) == 0 && isspace((unsigned char)hdr[7]))
		return strcmp(trim(hdr + 7), name) == 0;
	return 0;
}

/* The INI reader behind the public getters: key NULL asks whether the
 * section exists at all. */
static int ini_get(const char *path, const char *kind, const char *name, int is_config, const char *key,
		   char *out, size_t out_len)
{
	if (!path || !name || (key && (!out || out_len == 0)))
		return 0;
	buf text = { 0 };
	if (tp_read_file(path, INI_MAX_BYTES, &text, NULL) != TP_OK) {
		tp_wipe(text.data, text.len);
		buf_free(&text);
		return 0;
	}
	int found = 0, in_section = 0, had_property = 0;
	char *save = NULL;
	for (char *line = strtok_r(text.data, "\r\n", &save); line; line = strtok_r(NULL, "\r\n", &save)) {
		int indented = isspace((unsigned char)line[0]);
		char *s = trim(line);
		if (*s == 0 || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			/* "[name]" with an optional trailing comment. */
			char *end = strchr(s, ']');
			in_section = 0;
			had_property = 0;
			if (!end)
				continue;
			*end = 0;
			char *rest = trim(end + 1);
			if (*rest && *rest != '#' && *rest != ';')
				continue;
			in_section = section_matches(trim(s + 1), kind, name, is_config);
			if (in_section && !key)
				found = 1;
			continue;
		}
		/* An indented line after a property continues it (nested
		 * settings such as "s3 =\n  addressing_style = path"). */
		if (indented && had_property)
			continue;
		char *eq = strchr(s, '=');
		if (!eq)
			continue;
		*eq = 0;
		char *k = trim(s), *v = trim(eq + 1);
		had_property = 1;
		if (!in_section || !key || !tp_strcaseeq(k, key))
			continue;
		/* Later occurrences win, as when a section appears twice. */
		size_t n = strlen(v);
		if (n < out_len) {
			memcpy(out, v, n + 1);
			found = 1;
		}
	}
	tp_wipe(text.data, text.len);
	buf_free(&text);
	return found;
}

int awsconf_ini_get(const char *path, const char *profile, int is_config, const char *key,
		    char *out, size_t out_len)
{
	if (!key)
		return 0;
	return ini_get(path, NULL, profile, is_config, key, out, out_len);
}

int awsconf_ini_has_profile(const char *path, const char *profile, int is_config)
{
	return ini_get(path, NULL, profile, is_config, NULL, NULL, 0);
}

int awsconf_ini_section_get(const char *path, const char *kind, const char *name, const char *key,
			    char *out, size_t out_len)
{
	if (!kind || !key)
		return 0;
	return ini_get(path, kind, name, 1, key, out, out_len);
}

int awsconf_profile_get(const char *profile, const char *key, char *out, size_t out_len)
{
	char path[1024];
	awsconf_credentials_path(path, sizeof path);
	if (awsconf_ini_get(path, profile, 0, key, out, out_len))
		return 1;
	awsconf_config_path(path, sizeof path);
	return awsconf_ini_get(path, profile, 1, key, out, out_len);
}

const char *awsconf_profile(void)
{
	const char *p = env_nonempty("AWS_PROFILE");
	return p ? p : "default";
}

const char *awsconf_home(void)
{
	const char *h = env_nonempty("HOME");
	if (h)
		return h;
	struct passwd *pw = getpwuid(getuid());
	return pw && pw->pw_dir ? pw->pw_dir : "";
}

/* $var with a leading "~/" expanded, else ~/.aws/<name>. */
static void aws_file_path(const char *var, const char *name, char *out, size_t out_len)
{
	const char *p = env_nonempty(var);
	if (p && p[0] == '~' && p[1] == '/')
		snprintf(out, out_len, "%s/%s", awsconf_home(), p + 2);
	else if (p)
		snprintf(out, out_len, "%s", p);
	else
		snprintf(out, out_len, "%s/.aws/%s", awsconf_home(), name);
}

void awsconf_credentials_path(char *out, size_t out_len)
{
	aws_file_path("AWS_SHARED_CREDENTIALS_FILE", "credentials", out, out_len);
}

void awsconf_config_path(char *out, size_t out_len)
{
	aws_file_path("AWS_CONFIG_FILE", "config", out, out_len);
}
