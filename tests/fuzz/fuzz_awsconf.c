/* fuzz_awsconf.c: libFuzzer target for endpoint, region and shared
 * config/credentials file parsing (src/aws/awsconf.c). Input
 * (fuzz_fields.h): flags, AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_SQS, region,
 * profile, key, service name, then the INI file's text (the rest).
 * Properties: every answer is NUL-terminated inside its buffer; a
 * configured endpoint is an http(s) URL without a trailing '/'; a built
 * one is https://<prefix>.<region>.amazonaws.com[.cn]; a file value is
 * found (1) or not (0), never more, and a 4-byte buffer never overflows. */
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "aws/awsconf.h"
#include "fuzz_fields.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void set_or_unset(const char *var, const char *v, size_t n)
{
	if (n)
		setenv(var, v, 1);
	else
		unsetenv(var);
}

static void check_endpoints(const char *region, int configured)
{
	for (int svc = 0; svc < SVC_COUNT; svc++) {
		char out[512];
		tp_err e = { 0 };
		memset(out, 0x5a, sizeof out);
		if (awsconf_endpoint(svc, region, out, sizeof out, &e) < 0) {
			CHECK(e.code[0] && e.message[0]);
			continue;
		}
		size_t n = strnlen(out, sizeof out);
		CHECK(n < sizeof out && n > 0);
		CHECK(strncmp(out, "http://", 7) == 0 || strncmp(out, "https://", 8) == 0);
		CHECK(out[n - 1] != '/');
		if (!configured)
			CHECK(strstr(out, "amazonaws.com") != NULL);
		char tiny[4];
		awsconf_endpoint(svc, region, tiny, sizeof tiny, &e); /* too small: refused, in bounds */
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fields fs;
	fields_split(&fs, data, size);
	/* the file's text is the last field, NULs and all */
	int fd = memfd_create("awsconf", 0);
	CHECK(fd >= 0);
	const char *text = fs.f[FUZZ_MAX_FIELDS - 1];
	size_t tlen = fs.len[FUZZ_MAX_FIELDS - 1];
	if (fs.n >= 8) {
		/* fields 7.. joined back: the INI text may hold NULs */
		size_t at = 0;
		for (int k = 0; k < 7 && at < size; k++)
			at += fs.len[k] + 1;
		text = (const char *)data + (at < size ? at : size);
		tlen = at < size ? size - at : 0;
	} else {
		tlen = 0;
	}
	CHECK(write(fd, text, tlen) == (ssize_t)tlen);
	char path[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);

	int flags = fs.len[0] ? (unsigned char)fs.f[0][0] : 0;
	set_or_unset("AWS_ENDPOINT_URL", fs.f[1], fs.len[1]);
	set_or_unset("AWS_ENDPOINT_URL_SQS", fs.f[2], fs.len[2]);
	set_or_unset("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true", flags & 2);
	int configured = !(flags & 2) && (fs.len[1] || fs.len[2]);
	check_endpoints(fs.f[3], configured);

	/* region from the config file: no region variables, the profile given */
	unsetenv("AWS_REGION");
	unsetenv("AWS_DEFAULT_REGION");
	setenv("AWS_CONFIG_FILE", path, 1);
	set_or_unset("AWS_PROFILE", fs.f[4], fs.len[4]);
	char region[64];
	tp_err e = { 0 };
	if (awsconf_region(region, sizeof region, &e) == 0) {
		CHECK(strnlen(region, sizeof region) < sizeof region && region[0]);
		check_endpoints(region, configured);
	} else {
		CHECK(strcmp(e.code, "NoRegion") == 0 || strcmp(e.code, "ConfigError") == 0);
	}

	char out[256], tiny[4];
	for (int is_config = 0; is_config <= 1; is_config++) {
		int found = awsconf_ini_get(path, fs.len[4] ? fs.f[4] : "default", is_config,
					    fs.len[5] ? fs.f[5] : "region", out, sizeof out);
		CHECK(found == 0 || found == 1);
		if (found)
			CHECK(strnlen(out, sizeof out) < sizeof out);
		found = awsconf_ini_get(path, fs.len[4] ? fs.f[4] : "default", is_config, "aws_access_key_id", tiny,
					sizeof tiny);
		CHECK(found == 0 || found == 1);
		if (found)
			CHECK(strnlen(tiny, sizeof tiny) < sizeof tiny);
	}
	int svc = svc_by_name(fs.f[6]);
	CHECK(svc >= -1 && svc < SVC_COUNT);
	if (svc >= 0)
		CHECK(svc_get(svc) != NULL);

	close(fd);
	fields_free(&fs);
	return 0;
}
