/* contract.c: one list of requests, sent to the fake AWS or to a real
 * endpoint (the AWS-faithful layer in front of moto), each answer printed
 * as one normalised line, so tests/integration/test_fake_contract.py can
 * compare the two and the fake cannot drift away from the layer.
 *
 *   fake_contract fake STEPS.json        answers from tests/fake/
 *   fake_contract net STEPS.json         answers from $AWS_ENDPOINT_URL
 *
 * A step: {"name", "service": "lambda"|"sqs"|"dynamodb"|"s3", "op",
 * "method", "path", "query", "body" (JSON, or a string sent as is),
 * "check": ["Configuration.State", ...] (dotted paths printed from the
 * answer), "save": {"var": "dotted.path"}} or {"sleep_s": AWS seconds}.
 * ${var} in path and body is replaced by a saved value or by uniq, role,
 * account. A line: name status code path=value ... Retries are off: the
 * raw answer is what is compared.
 *
 * Durations: the layer runs at CONTRACT_SCALE (AWS seconds times scale in
 * real time), the fake at its own simulated clock with lag_ms the layer's
 * transition (CONTRACT_LAG_S AWS seconds). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "aws/aws.h"
#include "aws/awsconf.h"
#include "base/base.h"
#include "fake/fake.h"

struct var {
	char name[64];
	char value[512];
};
static struct var vars[64];
static int n_vars;

static void set_var(const char *name, const char *value)
{
	int i = 0;
	while (i < n_vars && strcmp(vars[i].name, name) != 0)
		i++;
	if (i == n_vars) {
		if (n_vars == 64)
			return;
		n_vars++;
	}
	snprintf(vars[i].name, sizeof vars[i].name, "%s", name);
	snprintf(vars[i].value, sizeof vars[i].value, "%s", value);
}

/* s with every ${var} replaced (malloc'd); an unknown var stays, visibly. */
static char *expand(const char *s)
{
	buf b = { 0 };
	while (*s) {
		const char *open = strstr(s, "${");
		const char *close = open ? strchr(open, '}') : NULL;
		if (!close) {
			buf_adds(&b, s);
			break;
		}
		buf_add(&b, s, (size_t)(open - s));
		int found = 0;
		for (int i = 0; i < n_vars && !found; i++)
			if (strlen(vars[i].name) == (size_t)(close - open - 2) &&
			    strncmp(vars[i].name, open + 2, (size_t)(close - open - 2)) == 0) {
				buf_adds(&b, vars[i].value);
				found = 1;
			}
		if (!found)
			buf_add(&b, open, (size_t)(close - open + 1));
		s = close + 1;
	}
	return buf_steal(&b);
}

static const cJSON *at_path(const cJSON *v, const char *path)
{
	char part[128];
	while (v && *path) {
		size_t n = strcspn(path, ".");
		snprintf(part, sizeof part, "%.*s", (int)n, path);
		v = cJSON_IsArray(v) ? cJSON_GetArrayItem(v, atoi(part)) : cJSON_GetObjectItemCaseSensitive(v, part);
		path += n;
		if (*path == '.')
			path++;
	}
	return v;
}

static int service_of(const char *s)
{
	if (strcmp(s, "lambda") == 0)
		return SVC_LAMBDA;
	if (strcmp(s, "sqs") == 0)
		return SVC_SQS;
	if (strcmp(s, "dynamodb") == 0)
		return SVC_DYNAMODB;
	if (strcmp(s, "s3") == 0)
		return SVC_S3;
	if (strcmp(s, "tagging") == 0)
		return SVC_TAGGING;
	return -1;
}

static const char *str_of(const cJSON *step, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(step, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void run_step(struct aws *a, struct fake *f, double scale, const cJSON *step)
{
	const cJSON *sleep = cJSON_GetObjectItemCaseSensitive(step, "sleep_s");
	if (cJSON_IsNumber(sleep)) {
		if (f)
			fake_advance_ms(f, (int64_t)(sleep->valuedouble * 1000));
		else
			tp_sleep_ms((int64_t)(sleep->valuedouble * scale * 1000));
		return;
	}
	const char *name = str_of(step, "name"), *svc = str_of(step, "service");
	int service = svc ? service_of(svc) : -1;
	if (!name || service < 0) {
		printf("BADSTEP %s\n", name ? name : "(unnamed)");
		return;
	}
	const cJSON *body = cJSON_GetObjectItemCaseSensitive(step, "body");
	char *raw = NULL;
	if (cJSON_IsString(body))
		raw = tp_xstrdup(body->valuestring);
	else if (body)
		raw = cJSON_PrintUnformatted(body);
	char *exp_body = raw ? expand(raw) : NULL;
	free(raw);
	char *path = str_of(step, "path") ? expand(str_of(step, "path")) : NULL;
	char *query = str_of(step, "query") ? expand(str_of(step, "query")) : NULL;
	struct aws_call c = { .service = service, .op = str_of(step, "op"), .method = str_of(step, "method"),
			      .path = path, .query = query, .body = exp_body,
			      .body_len = exp_body ? strlen(exp_body) : 0 };
	aws_call_one(a, &c);
	printf("%s %ld %s", name, c.status, c.rc == TP_OK ? "-" : c.err.code);
	cJSON *ans = c.rc == TP_OK ? cJSON_ParseWithLength(c.resp.data ? c.resp.data : "", c.resp.len) : NULL;
	const cJSON *check = cJSON_GetObjectItemCaseSensitive(step, "check"), *it;
	cJSON_ArrayForEach(it, check) {
		const cJSON *v = cJSON_IsString(it) ? at_path(ans, it->valuestring) : NULL;
		char *s = v ? cJSON_PrintUnformatted(v) : NULL;
		printf(" %s=%s", cJSON_IsString(it) ? it->valuestring : "?", s ? s : "(absent)");
		free(s);
	}
	printf("\n");
	const cJSON *save = cJSON_GetObjectItemCaseSensitive(step, "save");
	cJSON_ArrayForEach(it, save) {
		const cJSON *v = cJSON_IsString(it) ? at_path(ans, it->valuestring) : NULL;
		if (cJSON_IsString(v))
			set_var(it->string, v->valuestring);
	}
	fflush(stdout);
	cJSON_Delete(ans);
	aws_call_free(&c);
	free(exp_body);
	free(path);
	free(query);
}

int main(int argc, char **argv)
{
	if (argc != 3 || (strcmp(argv[1], "fake") != 0 && strcmp(argv[1], "net") != 0)) {
		fprintf(stderr, "usage: fake_contract fake|net STEPS.json\n");
		return 2;
	}
	int on_fake = strcmp(argv[1], "fake") == 0;
	buf in = { 0 };
	tp_err e = { 0 };
	if (tp_read_file(argv[2], 1 << 20, &in, &e) < 0) {
		fprintf(stderr, "fake_contract: %s\n", e.message);
		return 2;
	}
	cJSON *steps = cJSON_ParseWithLength(buf_str(&in), in.len);
	buf_free(&in);
	if (!cJSON_IsArray(steps)) {
		fprintf(stderr, "fake_contract: %s: not a JSON array of steps\n", argv[2]);
		return 2;
	}
	const char *scale_s = getenv("CONTRACT_SCALE"), *lag_s = getenv("CONTRACT_LAG_S");
	double scale = scale_s ? atof(scale_s) : 0.02;
	struct fake *f = NULL;
	if (on_fake) {
		struct fake_options o = { .lag_ms = (int)((lag_s ? atof(lag_s) : 5) * 1000) };
		f = fake_new(&o);
		fake_use_clock(f);
		setenv("AWS_ENDPOINT_URL", "http://fake.invalid", 1);
	}
	set_var("uniq", getenv("CONTRACT_UNIQ") ? getenv("CONTRACT_UNIQ") : "c1");
	set_var("role", getenv("CONTRACT_ROLE") ? getenv("CONTRACT_ROLE") :
		"arn:aws:iam::123456789012:role/taskpipe-consumer");
	set_var("account", "123456789012");
	struct aws_options o = { .max_attempts = 1, .lambda_rps = -1, .lambda_get_rps = -1, .seed = 1 };
	struct aws *a = NULL;
	if (aws_new(&o, &a, &e) < 0) {
		fprintf(stderr, "fake_contract: %s\n", e.message);
		return 2;
	}
	if (f)
		fake_attach(f, a);
	const cJSON *step;
	cJSON_ArrayForEach(step, steps)
		run_step(a, f, scale, step);
	aws_free(a);
	fake_free(f);
	cJSON_Delete(steps);
	return 0;
}
