/* test_creds.c: the credentials chain: env, profile files, the container
 * endpoint (a forked HTTP server on 127.0.0.1), cache, refresh, errors.
 * IMDS is disabled here (tests/integration/test_creds.py covers it). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "aws/creds.h"
#include "aws/http.h"
#include "aws/awsconf.h"
#include "aws/sts.h"
#include "base/hash.h"

#define EXP_MS 1795802400000LL  /* 2026-11-27T18:00:00Z */
#define MIN_MS (60 * 1000LL)

static char tmpdir[256];
static pid_t srv_pid;
static int srv_port;

static const char *const aws_vars[] = {
	"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
	"AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
	"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN",
	"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "AWS_EC2_METADATA_SERVICE_ENDPOINT",
	"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_STS_REGIONAL_ENDPOINTS", "AWS_ENDPOINT_URL",
	"AWS_ENDPOINT_URL_STS", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "AWS_WEB_IDENTITY_TOKEN_FILE",
	"AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME", "TASKPIPE_CREDENTIAL_PROCESS_TIMEOUT_MS",
};

static const char *tmp_path(const char *name)
{
	static char path[4][512];
	static int next;
	char *p = path[next++ % 4];
	snprintf(p, 512, "%s/%s", tmpdir, name);
	return p;
}

static const char *write_file(const char *name, const char *text)
{
	const char *p = tmp_path(name);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return p;
}

/* A child process answering every request on 127.0.0.1:srv_port with
 * body_fmt (its %d replaced by the hit count), or 401 when the request lacks
 * "Authorization: <want_auth>" (want_auth NULL: no check). */
static void start_server(const char *body_fmt, const char *want_auth)
{
	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(lfd >= 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(listen(lfd, 16), 0);
	socklen_t al = sizeof a;
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&a, &al), 0);
	srv_port = ntohs(a.sin_port);
	srv_pid = fork();
	assert_true(srv_pid >= 0);
	if (srv_pid > 0) {
		close(lfd);
		return;
	}
	for (int hits = 1;; hits++) {
		int c = accept(lfd, NULL, NULL);
		if (c < 0)
			_exit(1);
		char req[8192];
		size_t n = 0;
		while (n < sizeof req - 1) {
			ssize_t r = read(c, req + n, sizeof req - 1 - n);
			if (r <= 0)
				break;
			n += (size_t)r;
			req[n] = 0;
			if (strstr(req, "\r\n\r\n"))
				break;
		}
		req[n] = 0;
		char body[2048], auth[512], resp[4096];
		snprintf(auth, sizeof auth, "\r\nAuthorization: %s\r\n", want_auth ? want_auth : "");
		int status = want_auth && !strstr(req, auth) ? 401 : 200;
		snprintf(body, sizeof body, status == 200 ? body_fmt : "{\"message\":\"unauthorized\"}", hits);
		int len = snprintf(resp, sizeof resp,
				   "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
				   "Connection: close\r\n\r\n%s",
				   status, strlen(body), body);
		if (write(c, resp, (size_t)len) < 0)
			_exit(1);
		close(c);
	}
}

static void stop_server(void)
{
	if (srv_pid > 0) {
		kill(srv_pid, SIGKILL);
		waitpid(srv_pid, NULL, 0);
	}
	srv_pid = 0;
}

static int setup(void **state)
{
	for (size_t i = 0; i < sizeof aws_vars / sizeof aws_vars[0]; i++)
		unsetenv(aws_vars[i]);
	/* Never reach a real metadata service from a test. */
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	snprintf(tmpdir, sizeof tmpdir, "/tmp/tp_creds_XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	setenv("HOME", tmpdir, 1);
	return 0;
}

static int teardown(void **state)
{
	stop_server();
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static struct http_client *new_http(void)
{
	struct http_client *h = NULL;
	tp_err e = { 0 };
	assert_int_equal(http_client_new(NULL, &h, &e), TP_OK);
	return h;
}

static void test_env(void **state)
{
	struct creds_provider *p = creds_provider_new(NULL);
	struct creds c;
	tp_err e = { 0 };
	setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "secretenv", 1);
	setenv("AWS_SESSION_TOKEN", "tokenenv", 1);
	assert_int_equal(creds_get(p, EXP_MS, &c, &e), TP_OK);
	assert_string_equal(c.source, "env");
	assert_string_equal(c.access_key_id, "AKIDENV");
	assert_string_equal(c.secret_access_key, "secretenv");
	assert_string_equal(c.session_token, "tokenenv");
	assert_int_equal(c.expires_ms, 0);

	/* Cached: a change of environment is seen only after invalidate. */
	setenv("AWS_ACCESS_KEY_ID", "AKIDENV2", 1);
	unsetenv("AWS_SESSION_TOKEN");
	assert_int_equal(creds_get(p, EXP_MS + 1000 * MIN_MS, &c, &e), TP_OK);
	assert_string_equal(c.access_key_id, "AKIDENV");
	creds_invalidate(p);
	assert_int_equal(creds_get(p, EXP_MS, &c, &e), TP_OK);
	assert_string_equal(c.access_key_id, "AKIDENV2");
	assert_string_equal(c.session_token, "");

	creds_wipe(&c);
	assert_string_equal(c.secret_access_key, "");
	creds_provider_free(p);
	creds_provider_free(NULL);
	creds_invalidate(NULL);
}

static void test_env_beats_profile(void **state)
{
	setenv("AWS_SHARED_CREDENTIALS_FILE",
	       write_file("credentials", "[default]\naws_access_key_id=AKIDPROF\naws_secret_access_key=sp\n"), 1);
	setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "se", 1);
	struct creds_provider *p = creds_provider_new(NULL);
	struct creds c;
	tp_err e = { 0 };
	assert_int_equal(creds_get(p, 0, &c, &e), TP_OK);
	assert_string_equal(c.source, "env");
	assert_string_equal(c.access_key_id, "AKIDENV");

	/* A key id without its secret is no env credentials: the profile wins. */
	unsetenv("AWS_SECRET_ACCESS_KEY");
	creds_invalidate(p);
	assert_int_equal(creds_get(p, 0, &c, &e), TP_OK);
	assert_string_equal(c.source, "profile");
	assert_string_equal(c.access_key_id, "AKIDPROF");
	creds_provider_free(p);
}

static void test_profile(void **state)
{
	setenv("AWS_SHARED_CREDENTIALS_FILE",
	       write_file("credentials", "[default]\naws_access_key_id=AKIDDEF\naws_secret_access_key=sdef\n"
					 "[ci]\n  AWS_Access_Key_ID = AKIDCI \naws_secret_access_key= sci\n"
					 "aws_session_token = tci\n"),
	       1);
	setenv("AWS_CONFIG_FILE",
	       write_file("config", "[default]\naws_access_key_id=AKIDCONFDEF\naws_secret_access_key=x\n"
				    "[profile fromconf]\naws_access_key_id=AKIDCONF\naws_secret_access_key=sconf\n"
				    "[profile half]\naws_access_key_id=AKIDHALF\n"
				    "[profile bogus]\nrole_arn=arn:aws:iam::123456789012:role/r\n"
				    "credential_source=Bogus\n"
				    "[profile noenv]\nrole_arn=arn:aws:iam::123456789012:role/r\n"
				    "credential_source=Environment\n"
				    "[profile baddur]\nrole_arn=arn:aws:iam::1:role/d\ncredential_source=Environment\n"
				    "duration_seconds = 1h\n"
				    "[profile loop1]\nrole_arn=arn:aws:iam::1:role/a\nsource_profile=loop2\n"
				    "[profile loop2]\nrole_arn=arn:aws:iam::1:role/b\nsource_profile=loop3\n"
				    "[profile loop3]\nrole_arn=arn:aws:iam::1:role/c\nsource_profile=loop1\n"),
	       1);
	struct creds_provider *p = creds_provider_new(NULL);
	struct creds c;
	tp_err e = { 0 };

	assert_int_equal(creds_get(p, 0, &c, &e), TP_OK);
	assert_string_equal(c.source, "profile");
	assert_string_equal(c.access_key_id, "AKIDDEF");  /* credentials file first */
	assert_string_equal(c.session_token, "");

	setenv("AWS_PROFILE", "ci", 1);
	creds_invalidate(p);
	assert_int_equal(creds_get(p, 0, &c, &e), TP_OK);
	assert_string_equal(c.access_key_id, "AKIDCI");
	assert_string_equal(c.secret_access_key, "sci");
	assert_string_equal(c.session_token, "tci");
	assert_int_equal(c.expires_ms, 0);

	setenv("AWS_PROFILE", "fromconf", 1);
	creds_invalidate(p);
	assert_int_equal(creds_get(p, 0, &c, &e), TP_OK);
	assert_string_equal(c.access_key_id, "AKIDCONF");
	assert_string_equal(c.secret_access_key, "sconf");

	setenv("AWS_PROFILE", "half", 1);
	creds_invalidate(p);
	assert_int_equal(creds_get(p, 0, &c, &e), TP_EINVAL);
	assert_non_null(strstr(e.message, "profile half: "));
	assert_non_null(strstr(e.message, " needs both aws_access_key_id and aws_secret_access_key"));
	assert_string_equal(c.access_key_id, "");

	/* Refused before any STS call (no endpoint here would be safe to reach). */
	setenv("AWS_PROFILE", "bogus", 1);
	assert_int_equal(creds_get(p, 0, &c, &e), TP_EINVAL);
	assert_string_equal(e.message, "profile bogus: credential_source \"Bogus\" is not valid (Environment, "
				       "Ec2InstanceMetadata or EcsContainer)");
	setenv("AWS_PROFILE", "baddur", 1);
	assert_int_equal(creds_get(p, 0, &c, &e), TP_EINVAL);
	assert_string_equal(e.message, "profile baddur: duration_seconds \"1h\" is not a whole number of seconds up to 43200");
	setenv("AWS_PROFILE", "loop1", 1);
	assert_int_equal(creds_get(p, 0, &c, &e), TP_EINVAL);
	assert_string_equal(e.code, "InfiniteLoopConfig");
	assert_non_null(strstr(e.message, "source_profile loop: loop1 -> loop2 -> loop3 -> loop1"));
	setenv("AWS_PROFILE", "noenv", 1);
	assert_int_equal(creds_get(p, 0, &c, &e), TP_ENOTFOUND);
	assert_non_null(strstr(e.message, "profile noenv: no credentials from credential_source Environment: "
					  "env: AWS_ACCESS_KEY_ID not set"));
	creds_provider_free(p);
}

static void test_missing_message(void **state)
{
	/* A lone secret must not leak into the message. */
	setenv("AWS_SECRET_ACCESS_KEY", "SUPERSECRETVALUE", 1);
	struct creds_provider *p = creds_provider_new(NULL);
	struct creds c;
	tp_err e = { 0 };
	assert_int_equal(creds_get(p, 0, &c, &e), TP_ENOTFOUND);
	assert_int_equal(e.rc, TP_ENOTFOUND);
	assert_string_equal(e.code, "NoCredentials");
	char want[1024];
	snprintf(want, sizeof want,
		 "no AWS credentials: env: AWS_ACCESS_KEY_ID not set; profile default: not found in "
		 "%s/.aws/credentials or %s/.aws/config; container: not configured; imds: disabled",
		 tmpdir, tmpdir);
	assert_string_equal(e.message, want);
	assert_null(strstr(e.message, "SUPERSECRET"));

	setenv("AWS_ACCESS_KEY_ID", "AKID", 1);
	unsetenv("AWS_SECRET_ACCESS_KEY");
	setenv("AWS_PROFILE", "nobody", 1);
	/* A profile named explicitly but absent is an error of its own. */
	assert_int_equal(creds_get(p, 0, &c, &e), TP_ENOTFOUND);
	assert_string_equal(e.code, "ProfileNotFound");
	assert_non_null(strstr(e.message, "profile nobody: not found"));
	creds_provider_free(p);
}

static const char *creds_body =
	"{\"AccessKeyId\":\"AKIDC%d\",\"SecretAccessKey\":\"scont\",\"Token\":\"tcont\","
	"\"Expiration\":\"2026-11-27T18:00:00Z\"}";

static void test_container_refresh(void **state)
{
	start_server(creds_body, "tok-123");
	char url[128];
	snprintf(url, sizeof url, "http://127.0.0.1:%d/creds", srv_port);
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url, 1);
	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "tok-123", 1);
	struct http_client *h = new_http();
	struct creds_provider *p = creds_provider_new(h);
	struct creds c;
	tp_err e = { 0 };

	assert_int_equal(creds_get(p, EXP_MS - 60 * MIN_MS, &c, &e), TP_OK);
	assert_string_equal(c.source, "container");
	assert_string_equal(c.access_key_id, "AKIDC1");
	assert_string_equal(c.secret_access_key, "scont");
	assert_string_equal(c.session_token, "tcont");
	assert_true(c.expires_ms == EXP_MS);

	/* More than 5 minutes left: from the cache, no request. */
	assert_int_equal(creds_get(p, EXP_MS - 6 * MIN_MS, &c, &e), TP_OK);
	assert_string_equal(c.access_key_id, "AKIDC1");
	/* Less than 5 minutes left: fetched again. */
	assert_int_equal(creds_get(p, EXP_MS - 4 * MIN_MS, &c, &e), TP_OK);
	assert_string_equal(c.access_key_id, "AKIDC2");
	/* Still under 5 minutes (the server hands out the same expiry): again. */
	assert_int_equal(creds_get(p, EXP_MS - 4 * MIN_MS, &c, &e), TP_OK);
	assert_string_equal(c.access_key_id, "AKIDC3");
	creds_invalidate(p);
	assert_int_equal(creds_get(p, EXP_MS - 60 * MIN_MS, &c, &e), TP_OK);
	assert_string_equal(c.access_key_id, "AKIDC4");

	/* Refresh fails while the old credentials still work: keep them. */
	stop_server();
	assert_int_equal(creds_get(p, EXP_MS - 1 * MIN_MS, &c, &e), TP_OK);
	assert_string_equal(c.access_key_id, "AKIDC4");
	/* ...and do not try again on every call: 30 s later, then it works. */
	start_server(creds_body, "tok-123");
	snprintf(url, sizeof url, "http://127.0.0.1:%d/creds", srv_port);
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url, 1);
	assert_int_equal(creds_get(p, EXP_MS - 1 * MIN_MS + 29 * 1000, &c, &e), TP_OK);
	assert_string_equal(c.access_key_id, "AKIDC4");
	assert_int_equal(creds_get(p, EXP_MS - 1 * MIN_MS + 30 * 1000, &c, &e), TP_OK);
	assert_string_equal(c.access_key_id, "AKIDC1");
	stop_server();
	/* Expired and no refresh: an error naming the container request. */
	assert_int_equal(creds_get(p, EXP_MS + 1, &c, &e), TP_ENOTFOUND);
	assert_non_null(strstr(e.message, "container: GET http://127.0.0.1:"));
	assert_null(strstr(e.message, "tok-123"));
	assert_string_equal(c.access_key_id, "");
	creds_provider_free(p);
	http_client_free(h);
}

static void test_container_auth_and_formats(void **state)
{
	start_server("{\"AccessKeyId\":\"AKIDF%d\",\"SecretAccessKey\":\"s\","
		     "\"Expiration\":\"2026-11-27T19:30:00.500+01:30\"}",
		     "from-file");
	char url[128];
	snprintf(url, sizeof url, "http://localhost:%d/v2/credentials", srv_port);
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url, 1);
	struct creds_provider *p = creds_provider_new(NULL);  /* makes its own http client */
	struct creds c;
	tp_err e = { 0 };

	/* Wrong token: 401, reported without the token. */
	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "wrong-token", 1);
	assert_int_equal(creds_get(p, EXP_MS, &c, &e), TP_ENOTFOUND);
	assert_non_null(strstr(e.message, "HTTP 401"));
	assert_null(strstr(e.message, "wrong-token"));

	/* The token file wins over the variable; its trailing newline is dropped. */
	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", write_file("token", "from-file\n"), 1);
	assert_int_equal(creds_get(p, EXP_MS, &c, &e), TP_OK);
	assert_string_equal(c.access_key_id, "AKIDF2");
	assert_string_equal(c.session_token, "");
	assert_true(c.expires_ms == EXP_MS + 500);

	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", tmp_path("missing"), 1);
	creds_invalidate(p);
	assert_int_equal(creds_get(p, EXP_MS, &c, &e), TP_ENOTFOUND);
	assert_non_null(strstr(e.message, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"));
	unsetenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "a\r\nX-Injected: 1", 1);
	assert_int_equal(creds_get(p, EXP_MS, &c, &e), TP_ENOTFOUND);
	assert_non_null(strstr(e.message, "line break"));
	creds_provider_free(p);
}

static void test_container_bad_answers(void **state)
{
	start_server("{\"AccessKeyId\":\"AKID\",\"SecretAccessKey\":\"s\",\"Expiration\":\"tomorrow\"}", NULL);
	char url[128];
	snprintf(url, sizeof url, "http://127.0.0.1:%d/", srv_port);
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url, 1);
	struct creds_provider *p = creds_provider_new(NULL);
	struct creds c;
	tp_err e = { 0 };
	assert_int_equal(creds_get(p, EXP_MS, &c, &e), TP_ENOTFOUND);
	assert_non_null(strstr(e.message, "lacks a valid Expiration"));
	stop_server();

	start_server("{\"AccessKeyId\":\"AKID\",\"Expiration\":\"2026-11-27T18:00:00Z\"}", NULL);
	snprintf(url, sizeof url, "http://127.0.0.1:%d/", srv_port);
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url, 1);
	assert_int_equal(creds_get(p, EXP_MS, &c, &e), TP_ENOTFOUND);
	assert_non_null(strstr(e.message, "lacks AccessKeyId or SecretAccessKey"));
	stop_server();

	start_server("not json %d", NULL);
	snprintf(url, sizeof url, "http://127.0.0.1:%d/", srv_port);
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url, 1);
	assert_int_equal(creds_get(p, EXP_MS, &c, &e), TP_ENOTFOUND);
	assert_non_null(strstr(e.message, "not a JSON object"));

	/* Plain http to a non-loopback host is refused before any request. */
	static const char *const refused[] = { "http://10.0.0.1/creds", "http://example.com:80/x",
					       "http://127.0.0.1.evil.com/", "http://user@10.1.1.1/" };
	for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
		setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", refused[i], 1);
		assert_int_equal(creds_get(p, EXP_MS, &c, &e), TP_ENOTFOUND);
		assert_non_null(strstr(e.message, "not allowed"));
	}
	creds_provider_free(p);
}


static void test_sts_endpoint(void **state)
{
	char url[512], region[64];
	tp_err e = { 0 };
	setenv("AWS_CONFIG_FILE", write_file("config", "[profile legacy]\nsts_regional_endpoints = legacy\n"), 1);
	/* No region at all: the global endpoint, signed for us-east-1. */
	assert_int_equal(sts_endpoint(url, sizeof url, region, sizeof region, &e), TP_OK);
	assert_string_equal(url, "https://sts.amazonaws.com");
	assert_string_equal(region, "us-east-1");
	/* Regional by default. */
	setenv("AWS_REGION", "eu-west-1", 1);
	assert_int_equal(sts_endpoint(url, sizeof url, region, sizeof region, &e), TP_OK);
	assert_string_equal(url, "https://sts.eu-west-1.amazonaws.com");
	assert_string_equal(region, "eu-west-1");
	/* legacy: global for the regions that had it, regional for the others. */
	setenv("AWS_STS_REGIONAL_ENDPOINTS", "legacy", 1);
	assert_int_equal(sts_endpoint(url, sizeof url, region, sizeof region, &e), TP_OK);
	assert_string_equal(url, "https://sts.amazonaws.com");
	assert_string_equal(region, "us-east-1");
	setenv("AWS_REGION", "af-south-1", 1);
	assert_int_equal(sts_endpoint(url, sizeof url, region, sizeof region, &e), TP_OK);
	assert_string_equal(url, "https://sts.af-south-1.amazonaws.com");
	/* From the profile too. */
	unsetenv("AWS_STS_REGIONAL_ENDPOINTS");
	setenv("AWS_REGION", "us-west-2", 1);
	setenv("AWS_PROFILE", "legacy", 1);
	assert_int_equal(sts_endpoint(url, sizeof url, region, sizeof region, &e), TP_OK);
	assert_string_equal(url, "https://sts.amazonaws.com");
	unsetenv("AWS_PROFILE");
	assert_int_equal(sts_endpoint(url, sizeof url, region, sizeof region, &e), TP_OK);
	assert_string_equal(url, "https://sts.us-west-2.amazonaws.com");
	/* Configured endpoints win, the service's own first. */
	setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1/", 1);
	assert_int_equal(sts_endpoint(url, sizeof url, region, sizeof region, &e), TP_OK);
	assert_string_equal(url, "http://127.0.0.1:1");
	setenv("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:2", 1);
	assert_int_equal(sts_endpoint(url, sizeof url, region, sizeof region, &e), TP_OK);
	assert_string_equal(url, "http://127.0.0.1:2");
	assert_string_equal(region, "us-west-2");
	unsetenv("AWS_REGION");
	assert_int_equal(sts_endpoint(url, sizeof url, region, sizeof region, &e), TP_OK);
	assert_string_equal(url, "http://127.0.0.1:2");
	assert_string_equal(region, "us-east-1");
}

static void test_parse_time_and_sha1(void **state)
{
	int64_t ms = 0;
	assert_int_equal(creds_parse_time("2026-12-07T12:00:00Z", &ms), 0);
	assert_int_equal(ms, 1796644800000LL);
	assert_int_equal(creds_parse_time("2026-12-07T12:00:00.250Z", &ms), 0);
	assert_int_equal(ms, 1796644800250LL);
	assert_int_equal(creds_parse_time("2026-12-07T13:00:00+01:00", &ms), 0);
	assert_int_equal(ms, 1796644800000LL);
	assert_int_equal(creds_parse_time("2026-12-07T12:00:00UTC", &ms), 0);
	assert_int_equal(ms, 1796644800000LL);
	assert_int_not_equal(creds_parse_time("2026-12-07T12:00:00UTCX", &ms), 0);
	assert_int_not_equal(creds_parse_time("2026-12-07 12:00", &ms), 0);
	assert_int_not_equal(creds_parse_time("soon", &ms), 0);
	/* botocore's SSO cache key: sha1("corp") */
	char hex[HASH_SHA1_HEX_LEN];
	hash_sha1_hex("corp", 4, hex);
	assert_string_equal(hex, "ee0bfd2552fbd840c02cc48b6e823320543c450f");
}

static void test_sso_session_section(void **state)
{
	const char *path = write_file("config", "[profile p]\nsso_session = corp\n"
						"[sso-session corp]\nsso_region = eu-west-1\n"
						"sso_start_url = https://x.awsapps.com/start\n"
						"[sso-session  other ]\nsso_region = us-east-1\n");
	char v[128];
	assert_true(awsconf_ini_section_get(path, "sso-session", "corp", "sso_region", v, sizeof v));
	assert_string_equal(v, "eu-west-1");
	assert_true(awsconf_ini_section_get(path, "sso-session", "other", "sso_region", v, sizeof v));
	assert_string_equal(v, "us-east-1");
	assert_false(awsconf_ini_section_get(path, "sso-session", "p", "sso_session", v, sizeof v));
	assert_true(awsconf_ini_has_profile(path, "p", 1));
	assert_false(awsconf_ini_has_profile(path, "corp", 1));
}

static void test_credential_process(void **state)
{
	setenv("AWS_PROFILE", "p", 1);
	setenv("AWS_CONFIG_FILE",
	       write_file("config", "[profile p]\ncredential_process = printf '%s' "
				    "'{\"Version\": 1, \"AccessKeyId\": \"AKIDP\", \"SecretAccessKey\": \"sp\", "
				    "\"SessionToken\": \"tp\", \"Expiration\": \"2030-01-01T00:00:00Z\"}'\n"
				    "[profile slow]\ncredential_process = sleep 5\n"),
	       1);
	struct creds_provider *p = creds_provider_new(NULL);
	struct creds c;
	tp_err e = { 0 };
	assert_int_equal(creds_get(p, 0, &c, &e), TP_OK);
	assert_string_equal(c.source, "custom-process");
	assert_string_equal(c.access_key_id, "AKIDP");
	assert_string_equal(c.secret_access_key, "sp");
	assert_string_equal(c.session_token, "tp");
	assert_int_equal(c.expires_ms, 1893456000000LL);
	assert_string_equal(c.chain, "profile p (credential_process)");

	setenv("AWS_PROFILE", "slow", 1);
	setenv("TASKPIPE_CREDENTIAL_PROCESS_TIMEOUT_MS", "200", 1);
	creds_invalidate(p);
	assert_int_equal(creds_get(p, 0, &c, &e), TP_EINVAL);
	assert_string_equal(e.message, "profile slow: credential_process no answer within 200 ms (killed; "
				       "TASKPIPE_CREDENTIAL_PROCESS_TIMEOUT_MS)");
	creds_provider_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_env, setup, teardown),
		cmocka_unit_test_setup_teardown(test_env_beats_profile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_profile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_message, setup, teardown),
		cmocka_unit_test_setup_teardown(test_container_refresh, setup, teardown),
		cmocka_unit_test_setup_teardown(test_container_auth_and_formats, setup, teardown),
		cmocka_unit_test_setup_teardown(test_container_bad_answers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sts_endpoint, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parse_time_and_sha1, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sso_session_section, setup, teardown),
		cmocka_unit_test_setup_teardown(test_credential_process, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
