/* test_awsconf.c: service table, endpoint and region precedence, INI parsing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aws/awsconf.h"

static char tmpdir[256];

static const char *const aws_vars[] = {
	"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_DYNAMODB_STREAMS",
	"AWS_ENDPOINT_URL_SQS", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "AWS_REGION",
	"AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE",
};

/* Write text into tmpdir/name; returns the path (static buffer per call site). */
static const char *write_file(const char *name, const char *text)
{
	static char path[4][512];
	static int next;
	char *p = path[next++ % 4];
	snprintf(p, 512, "%s/%s", tmpdir, name);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return p;
}

static int setup(void **state)
{
	for (size_t i = 0; i < sizeof aws_vars / sizeof aws_vars[0]; i++)
		unsetenv(aws_vars[i]);
	snprintf(tmpdir, sizeof tmpdir, "/tmp/tp_awsconf_XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	setenv("HOME", tmpdir, 1);
	return 0;
}

static int teardown(void **state)
{
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static void test_service_table(void **state)
{
	const struct svc_info *s = svc_get(SVC_STREAMS);
	assert_string_equal(s->name, "dynamodbstreams");
	assert_string_equal(s->env_id, "DYNAMODB_STREAMS");
	assert_string_equal(s->signing_name, "dynamodb");
	assert_string_equal(s->host_prefix, "streams.dynamodb");
	assert_int_equal(s->protocol, PROTO_JSON);
	assert_string_equal(s->json_target, "DynamoDBStreams_20120810");
	assert_string_equal(s->json_version, "1.0");

	s = svc_get(SVC_DYNAMODB);
	assert_string_equal(s->json_target, "DynamoDB_20120810");
	s = svc_get(SVC_SQS);
	assert_string_equal(s->json_target, "AmazonSQS");
	assert_string_equal(s->json_version, "1.0");
	assert_int_equal(svc_get(SVC_LAMBDA)->protocol, PROTO_REST_JSON);
	assert_int_equal(svc_get(SVC_S3)->protocol, PROTO_REST_XML);
	assert_int_equal(svc_get(SVC_SNS)->protocol, PROTO_QUERY);
	assert_string_equal(svc_get(SVC_SNS)->api_version, "2010-03-31");
	assert_string_equal(svc_get(SVC_STS)->api_version, "2011-06-15");
	assert_string_equal(svc_get(SVC_IAM)->api_version, "2010-05-08");
	assert_null(svc_get(-1));
	assert_null(svc_get(SVC_COUNT));

	assert_int_equal(svc_by_name("SQS"), SVC_SQS);
	assert_int_equal(svc_by_name("dynamodbstreams"), SVC_STREAMS);
	assert_int_equal(svc_by_name("streams"), SVC_STREAMS);
	assert_int_equal(svc_by_name("DynamoDB-Streams"), SVC_STREAMS);
	assert_int_equal(svc_by_name("iam"), SVC_IAM);
	assert_int_equal(svc_by_name("ec2"), -1);
	assert_int_equal(svc_by_name(NULL), -1);
	for (int i = 0; i < SVC_COUNT; i++)
		assert_int_equal(svc_by_name(svc_get(i)->name), i);
}

static void test_endpoint_defaults(void **state)
{
	char out[256];
	tp_err e = { 0 };
	assert_int_equal(awsconf_endpoint(SVC_DYNAMODB, "eu-west-1", out, sizeof out, &e), TP_OK);
	assert_string_equal(out, "https://dynamodb.eu-west-1.amazonaws.com");
	assert_int_equal(awsconf_endpoint(SVC_STREAMS, "eu-west-1", out, sizeof out, &e), TP_OK);
	assert_string_equal(out, "https://streams.dynamodb.eu-west-1.amazonaws.com");
	assert_int_equal(awsconf_endpoint(SVC_SQS, "cn-north-1", out, sizeof out, &e), TP_OK);
	assert_string_equal(out, "https://sqs.cn-north-1.amazonaws.com.cn");
	assert_int_equal(awsconf_endpoint(SVC_IAM, "ap-southeast-2", out, sizeof out, &e), TP_OK);
	assert_string_equal(out, "https://iam.amazonaws.com");
	assert_int_equal(awsconf_endpoint(SVC_S3, "us-east-1", out, sizeof out, &e), TP_OK);
	assert_string_equal(out, "https://s3.us-east-1.amazonaws.com");

	/* No region and nothing configured: a clear error. */
	assert_int_equal(awsconf_endpoint(SVC_SQS, NULL, out, sizeof out, &e), TP_EINVAL);
	assert_non_null(strstr(e.message, "region"));
	assert_int_equal(awsconf_endpoint(SVC_SQS, "us-east-1/../x", out, sizeof out, &e), TP_EINVAL);
	/* Output too small. */
	char tiny[8];
	assert_int_equal(awsconf_endpoint(SVC_SQS, "us-east-1", tiny, sizeof tiny, &e), TP_EINVAL);
	assert_int_equal(awsconf_endpoint(SVC_COUNT, "us-east-1", out, sizeof out, &e), TP_EINVAL);
}

static void test_endpoint_precedence(void **state)
{
	char out[256];
	tp_err e = { 0 };
	setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:5000/", 1);
	setenv("AWS_ENDPOINT_URL_DYNAMODB", "http://localhost:8000", 1);
	setenv("AWS_ENDPOINT_URL_DYNAMODB_STREAMS", "https://streams.example:8443/base", 1);

	assert_int_equal(awsconf_endpoint(SVC_DYNAMODB, "us-east-1", out, sizeof out, &e), TP_OK);
	assert_string_equal(out, "http://localhost:8000");
	assert_int_equal(awsconf_endpoint(SVC_STREAMS, "us-east-1", out, sizeof out, &e), TP_OK);
	assert_string_equal(out, "https://streams.example:8443/base");
	/* Global one, trailing slash dropped; also for IAM and with no region. */
	assert_int_equal(awsconf_endpoint(SVC_SQS, "us-east-1", out, sizeof out, &e), TP_OK);
	assert_string_equal(out, "http://127.0.0.1:5000");
	assert_int_equal(awsconf_endpoint(SVC_IAM, NULL, out, sizeof out, &e), TP_OK);
	assert_string_equal(out, "http://127.0.0.1:5000");

	/* Empty service variable counts as unset. */
	setenv("AWS_ENDPOINT_URL_DYNAMODB", "", 1);
	assert_int_equal(awsconf_endpoint(SVC_DYNAMODB, "us-east-1", out, sizeof out, &e), TP_OK);
	assert_string_equal(out, "http://127.0.0.1:5000");

	setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "false", 1);
	assert_int_equal(awsconf_endpoint(SVC_SQS, "us-east-1", out, sizeof out, &e), TP_OK);
	assert_string_equal(out, "http://127.0.0.1:5000");
	setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "TRUE", 1);
	assert_int_equal(awsconf_endpoint(SVC_SQS, "us-east-1", out, sizeof out, &e), TP_OK);
	assert_string_equal(out, "https://sqs.us-east-1.amazonaws.com");
	assert_int_equal(awsconf_endpoint(SVC_STREAMS, "us-west-2", out, sizeof out, &e), TP_OK);
	assert_string_equal(out, "https://streams.dynamodb.us-west-2.amazonaws.com");
}

static void test_endpoint_bad_url(void **state)
{
	char out[256];
	tp_err e = { 0 };
	setenv("AWS_ENDPOINT_URL_SQS", "localhost:4566", 1);
	assert_int_equal(awsconf_endpoint(SVC_SQS, "us-east-1", out, sizeof out, &e), TP_EINVAL);
	assert_int_equal(e.rc, TP_EINVAL);
	assert_non_null(strstr(e.message, "AWS_ENDPOINT_URL_SQS"));
	assert_non_null(strstr(e.message, "localhost:4566"));

	static const char *const bad[] = { "http://", "https:///path", "ftp://host", "http://:80", "HTTP//x",
					   "http:// host" };
	unsetenv("AWS_ENDPOINT_URL_SQS");
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		setenv("AWS_ENDPOINT_URL", bad[i], 1);
		memset(&e, 0, sizeof e);
		assert_int_equal(awsconf_endpoint(SVC_SQS, "us-east-1", out, sizeof out, &e), TP_EINVAL);
		assert_non_null(strstr(e.message, "AWS_ENDPOINT_URL="));
		assert_non_null(strstr(e.message, bad[i]));
	}
	/* Ignored when configured endpoints are turned off. */
	setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true", 1);
	assert_int_equal(awsconf_endpoint(SVC_SQS, "us-east-1", out, sizeof out, &e), TP_OK);
}

static void test_region_precedence(void **state)
{
	char out[64];
	tp_err e = { 0 };
	const char *cfg = write_file("config", "[default]\nregion = eu-central-1\n"
					       "[profile dev]\nregion=ap-south-1\n");
	setenv("AWS_CONFIG_FILE", cfg, 1);

	assert_int_equal(awsconf_region(out, sizeof out, &e), TP_OK);
	assert_string_equal(out, "eu-central-1");
	setenv("AWS_PROFILE", "dev", 1);
	assert_int_equal(awsconf_region(out, sizeof out, &e), TP_OK);
	assert_string_equal(out, "ap-south-1");
	setenv("AWS_DEFAULT_REGION", "us-west-1", 1);
	assert_int_equal(awsconf_region(out, sizeof out, &e), TP_OK);
	assert_string_equal(out, "us-west-1");
	setenv("AWS_REGION", "us-east-2", 1);
	assert_int_equal(awsconf_region(out, sizeof out, &e), TP_OK);
	assert_string_equal(out, "us-east-2");

	/* Empty variables are skipped. */
	setenv("AWS_REGION", "", 1);
	setenv("AWS_DEFAULT_REGION", "", 1);
	assert_int_equal(awsconf_region(out, sizeof out, &e), TP_OK);
	assert_string_equal(out, "ap-south-1");

	/* A profile with no region, then no file at all. */
	setenv("AWS_PROFILE", "none", 1);
	assert_int_equal(awsconf_region(out, sizeof out, &e), TP_EINVAL);
	assert_non_null(strstr(e.message, "no AWS region"));
	assert_non_null(strstr(e.message, "none"));
	setenv("AWS_CONFIG_FILE", "/nonexistent/config", 1);
	unsetenv("AWS_PROFILE");
	assert_int_equal(awsconf_region(out, sizeof out, &e), TP_EINVAL);
	assert_non_null(strstr(e.message, "/nonexistent/config"));

	/* Default path is ~/.aws/config. */
	unsetenv("AWS_CONFIG_FILE");
	char dir[512];
	snprintf(dir, sizeof dir, "%s/.aws", tmpdir);
	assert_int_equal(mkdir(dir, 0700), 0);
	write_file(".aws/config", "[default]\nregion = sa-east-1\n");
	assert_int_equal(awsconf_region(out, sizeof out, &e), TP_OK);
	assert_string_equal(out, "sa-east-1");
}

static void test_ini_parsing(void **state)
{
	const char *cfg = write_file("config",
				     "# top comment\n"
				     "; another\n"
				     "region = outside-any-section\n"
				     "[default]\r\n"
				     "  Region   =   us-east-1   \r\n"
				     "output=json\n"
				     "s3 =\n"
				     "  region = nested-value\n"
				     "\n"
				     "[ profile   dev ]   # trailing comment\n"
				     "REGION=eu-west-1\n"
				     "role_arn = arn:aws:iam::1:role/x=y\n"
				     "#region = commented\n"
				     "[dev]\n"
				     "region = not-a-config-profile\n"
				     "[profilex]\n"
				     "region = nope\n"
				     "[profile Dev]\n"
				     "region = case-matters\n"
				     "[profile dev]\n"
				     "output = text\n"
				     "output = table\n"
				     "[profile broken\n"
				     "region = after-broken-header\n");
	char out[128];
	assert_int_equal(awsconf_ini_get(cfg, "default", 1, "region", out, sizeof out), 1);
	assert_string_equal(out, "us-east-1");
	assert_int_equal(awsconf_ini_get(cfg, "default", 1, "REGION", out, sizeof out), 1);
	assert_string_equal(out, "us-east-1");
	assert_int_equal(awsconf_ini_get(cfg, "dev", 1, "region", out, sizeof out), 1);
	assert_string_equal(out, "eu-west-1");
	assert_int_equal(awsconf_ini_get(cfg, "dev", 1, "role_arn", out, sizeof out), 1);
	assert_string_equal(out, "arn:aws:iam::1:role/x=y");
	/* A repeated section merges; the later value wins. */
	assert_int_equal(awsconf_ini_get(cfg, "dev", 1, "output", out, sizeof out), 1);
	assert_string_equal(out, "table");
	assert_int_equal(awsconf_ini_get(cfg, "Dev", 1, "region", out, sizeof out), 1);
	assert_string_equal(out, "case-matters");
	/* Config files ignore "[x]" for profile x; "[profilex]" is not a profile. */
	assert_int_equal(awsconf_ini_get(cfg, "profilex", 1, "region", out, sizeof out), 0);
	assert_int_equal(awsconf_ini_get(cfg, "broken", 1, "region", out, sizeof out), 0);
	assert_int_equal(awsconf_ini_get(cfg, "nobody", 1, "region", out, sizeof out), 0);
	/* The same file read credentials-style sees "[dev]" and "[default]". */
	assert_int_equal(awsconf_ini_get(cfg, "dev", 0, "region", out, sizeof out), 1);
	assert_string_equal(out, "not-a-config-profile");
	assert_int_equal(awsconf_ini_get(cfg, "default", 0, "output", out, sizeof out), 1);
	assert_string_equal(out, "json");

	const char *creds = write_file("credentials",
				       "[default]\naws_access_key_id=AKIDDEFAULT\n"
				       "[profile ci]\naws_access_key_id=WRONG\n"
				       "[ci]\naws_access_key_id = AKIDCI\nempty =\n");
	assert_int_equal(awsconf_ini_get(creds, "ci", 0, "aws_access_key_id", out, sizeof out), 1);
	assert_string_equal(out, "AKIDCI");
	assert_int_equal(awsconf_ini_get(creds, "ci", 0, "empty", out, sizeof out), 1);
	assert_string_equal(out, "");
	assert_int_equal(awsconf_ini_get(creds, "default", 0, "aws_access_key_id", out, sizeof out), 1);
	assert_string_equal(out, "AKIDDEFAULT");
	/* "[profile default]" is accepted in the config file. */
	const char *cfg2 = write_file("config2", "[profile default]\nregion=us-west-2\n");
	assert_int_equal(awsconf_ini_get(cfg2, "default", 1, "region", out, sizeof out), 1);
	assert_string_equal(out, "us-west-2");

	/* Values that do not fit are not returned truncated. */
	char small[4];
	assert_int_equal(awsconf_ini_get(creds, "ci", 0, "aws_access_key_id", small, sizeof small), 0);
	/* Missing file, empty file. */
	assert_int_equal(awsconf_ini_get("/nonexistent/file", "default", 1, "region", out, sizeof out), 0);
	const char *empty = write_file("empty", "");
	assert_int_equal(awsconf_ini_get(empty, "default", 1, "region", out, sizeof out), 0);
}

static void test_paths(void **state)
{
	char out[512], want[512];
	assert_string_equal(awsconf_profile(), "default");
	setenv("AWS_PROFILE", "", 1);
	assert_string_equal(awsconf_profile(), "default");
	setenv("AWS_PROFILE", "prod", 1);
	assert_string_equal(awsconf_profile(), "prod");

	awsconf_credentials_path(out, sizeof out);
	snprintf(want, sizeof want, "%s/.aws/credentials", tmpdir);
	assert_string_equal(out, want);
	awsconf_config_path(out, sizeof out);
	snprintf(want, sizeof want, "%s/.aws/config", tmpdir);
	assert_string_equal(out, want);

	setenv("AWS_SHARED_CREDENTIALS_FILE", "/etc/x/creds", 1);
	awsconf_credentials_path(out, sizeof out);
	assert_string_equal(out, "/etc/x/creds");
	setenv("AWS_CONFIG_FILE", "~/my/config", 1);
	awsconf_config_path(out, sizeof out);
	snprintf(want, sizeof want, "%s/my/config", tmpdir);
	assert_string_equal(out, want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_service_table, setup, teardown),
		cmocka_unit_test_setup_teardown(test_endpoint_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_endpoint_precedence, setup, teardown),
		cmocka_unit_test_setup_teardown(test_endpoint_bad_url, setup, teardown),
		cmocka_unit_test_setup_teardown(test_region_precedence, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ini_parsing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_paths, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
