/* awsconf.h: the services taskpipe speaks to, where their endpoints are, and
 * which region: the SDKs' conventions.
 *
 * Endpoint: $AWS_ENDPOINT_URL_<SERVICE> (e.g. AWS_ENDPOINT_URL_DYNAMODB),
 * else $AWS_ENDPOINT_URL, unless $AWS_IGNORE_CONFIGURED_ENDPOINT_URLS is
 * "true"; else the regional default https://<prefix>.<region>.amazonaws.com
 * (amazonaws.com.cn in cn- regions). S3 uses path-style addressing.
 * Region: $AWS_REGION, $AWS_DEFAULT_REGION, then the profile's `region` in
 * the shared config file ($AWS_CONFIG_FILE or ~/.aws/config, profile from
 * $AWS_PROFILE or "default").
 */
#ifndef TP_AWSCONF_H
#define TP_AWSCONF_H

#include "base/base.h"

enum aws_protocol { PROTO_JSON, PROTO_REST_JSON, PROTO_QUERY, PROTO_REST_XML };

enum aws_service {
	SVC_DYNAMODB, SVC_STREAMS, SVC_SQS, SVC_LAMBDA, SVC_SNS, SVC_S3, SVC_STS, SVC_IAM,
	SVC_TAGGING,                /* Resource Groups Tagging API (drift: tags of the whole fleet) */
	SVC_SSO,                    /* IAM Identity Center portal (GetRoleCredentials, for credentials) */
	SVC_SSO_OIDC,               /* its OIDC service (CreateToken: refreshing an SSO token) */
	SVC_CLOUDWATCH,             /* CloudWatch (metrics: rollout health, status) */
	SVC_COUNT
};

struct svc_info {
	const char *name;          /* CLI name: "dynamodb", "dynamodbstreams", "sqs", "lambda", "sns", "s3", "sts", "iam" */
	const char *env_id;        /* AWS_ENDPOINT_URL_<env_id>: "DYNAMODB", "DYNAMODB_STREAMS", "SQS", ... */
	const char *signing_name;  /* SigV4 service: "dynamodb" (streams too), "sqs", "lambda", "sns", "s3", "sts", "iam" */
	const char *host_prefix;   /* "dynamodb", "streams.dynamodb", "sqs", "lambda", "sns", "s3", "sts", "iam" */
	int protocol;              /* enum aws_protocol */
	const char *json_target;   /* X-Amz-Target prefix for PROTO_JSON: "DynamoDB_20120810", "DynamoDBStreams_20120810", "AmazonSQS" */
	const char *json_version;  /* "1.0" */
	const char *api_version;   /* query protocol Version=: SNS "2010-03-31", STS "2011-06-15", IAM "2010-05-08" */
};

const struct svc_info *svc_get(int svc);
/* By CLI name (case-insensitive; "streams" and "dynamodb-streams" too). -1 when unknown. */
int svc_by_name(const char *name);

/* Endpoint base URL without a trailing slash, e.g. "http://127.0.0.1:5000". */
int awsconf_endpoint(int svc, const char *region, char *out, size_t out_len, tp_err *e);

/* Region as described above; TP_EINVAL with a clear message when none. */
int awsconf_region(char *out, size_t out_len, tp_err *e);

/* Read key from [profile] (config file style: "[profile NAME]", or
 * "[default]"; credentials file style: "[NAME]") of an INI file.
 * Returns 1 when found. is_config selects the section naming. */
int awsconf_ini_get(const char *path, const char *profile, int is_config, const char *key,
		    char *out, size_t out_len);

/* Does the file have a section for profile? */
int awsconf_ini_has_profile(const char *path, const char *profile, int is_config);

/* Read key from a config-file section "[KIND NAME]", e.g. kind
 * "sso-session". Returns 1 when found. */
int awsconf_ini_section_get(const char *path, const char *kind, const char *name, const char *key,
			    char *out, size_t out_len);

/* A profile setting as the SDKs merge the two files: the credentials file
 * wins over the config file. Returns 1 when found. */
int awsconf_profile_get(const char *profile, const char *key, char *out, size_t out_len);

/* Profile name: $AWS_PROFILE or "default". Paths: $AWS_SHARED_CREDENTIALS_FILE or
 * ~/.aws/credentials, $AWS_CONFIG_FILE or ~/.aws/config. */
const char *awsconf_profile(void);
void awsconf_credentials_path(char *out, size_t out_len);
/* $HOME, else the password database's home directory. */
const char *awsconf_home(void);
void awsconf_config_path(char *out, size_t out_len);

#endif
