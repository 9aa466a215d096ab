/* cmd_aws.c: `taskpipe aws SERVICE OPERATION [JSON]` (JSON and query
 * services) and `taskpipe aws SERVICE METHOD PATH [JSON]` (REST services):
 * one signed call, the answer on stdout. The operator's escape hatch. */
#include "cmd/cmd_aws.h"

#include "aws/aws.h"
#include "aws/awsjson.h"
#include "base/log.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
	"usage: taskpipe aws SERVICE OPERATION [JSON|@FILE]      dynamodb, dynamodbstreams, sqs, sns, sts, iam\n"
	"       taskpipe aws SERVICE METHOD PATH [BODY|@FILE]    lambda (JSON body), s3 (raw body)\n"
	"\n"
	"One signed call; the answer body on stdout (JSON services pretty-printed;\n"
	"query and XML services as the XML AWS sent). Query services take a flat\n"
	"JSON object of parameters, e.g. taskpipe aws sns CreateTopic '{\"Name\":\"t\"}'.\n"
	"Errors go to stderr as JSON {\"error\":{...}}; exit 1.\n"
	"Examples:\n"
	"  taskpipe aws sqs ListQueues '{}'\n"
	"  taskpipe aws dynamodb DescribeTable '{\"TableName\":\"t\"}'\n"
	"  taskpipe aws lambda GET /2015-03-31/functions/\n"
	"  taskpipe aws s3 PUT /bucket/key @code.zip\n";

static void print_error(const tp_err *e)
{
	cJSON *o = cJSON_CreateObject(), *err = cJSON_AddObjectToObject(o, "error");
	if (e->status)
		cJSON_AddNumberToObject(err, "status", e->status);
	cJSON_AddStringToObject(err, "code", e->code);
	cJSON_AddStringToObject(err, "message", e->message);
	if (e->request_id[0])
		cJSON_AddStringToObject(err, "requestId", e->request_id);
	char *s = cJSON_PrintUnformatted(o);
	fprintf(stderr, "%s\n", s);
	free(s);
	cJSON_Delete(o);
}

/* "@file" reads a file, anything else is the text itself. */
static int load_arg(const char *arg, buf *out, tp_err *e)
{
	if (arg[0] == '@')
		return tp_read_file(arg + 1, 64u << 20, out, e);
	buf_adds(out, arg);
	return TP_OK;
}

/* Flat JSON object -> query form parameters. */
static int json_to_form(const char *json, buf *form, tp_err *e)
{
	cJSON *o = cJSON_Parse(json);
	if (!cJSON_IsObject(o)) {
		cJSON_Delete(o);
		return tp_errf(e, TP_EINVAL, "BadInput", "parameters must be a JSON object: %.80s", json);
	}
	int rc = TP_OK;
	for (cJSON *it = o->child; it; it = it->next) {
		char num[64];
		const char *v;
		if (cJSON_IsString(it))
			v = it->valuestring;
		else if (cJSON_IsNumber(it)) {
			snprintf(num, sizeof num, "%.17g", it->valuedouble);
			v = num;
		} else if (cJSON_IsBool(it))
			v = cJSON_IsTrue(it) ? "true" : "false";
		else {
			rc = tp_errf(e, TP_EINVAL, "BadInput",
				     "parameter '%s': only strings, numbers and booleans (flatten lists as Name.member.1)",
				     it->string);
			break;
		}
		awsj_form_add(form, it->string, v);
	}
	cJSON_Delete(o);
	return rc;
}

static int is_method(const char *s)
{
	static const char *m[] = { "GET", "PUT", "POST", "DELETE", "HEAD", "PATCH", NULL };
	for (int i = 0; m[i]; i++)
		if (strcmp(s, m[i]) == 0)
			return 1;
	return 0;
}

int cmd_aws(int argc, char **argv)
{
	if (argc < 3 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(usage, argc < 3 && !(argc == 2 && argv[1][0] == '-') ? stderr : stdout);
		return argc < 3 && !(argc == 2 && argv[1][0] == '-') ? 2 : 0;
	}
	tp_err e = { 0 };
	int svc = svc_by_name(argv[1]);
	if (svc < 0) {
		fprintf(stderr, "taskpipe aws: unknown service '%s' (dynamodb, dynamodbstreams, sqs, lambda, sns, s3, sts, iam)\n",
			argv[1]);
		return 2;
	}
	const struct svc_info *si = svc_get(svc);
	int rest = si->protocol == PROTO_REST_JSON || si->protocol == PROTO_REST_XML;
	if (rest && (argc < 4 || !is_method(argv[2]) || argv[3][0] != '/')) {
		fprintf(stderr, "taskpipe aws %s: give METHOD PATH, e.g. taskpipe aws %s GET %s\n", si->name,
			si->name, svc == SVC_LAMBDA ? "/2015-03-31/functions/" : "/bucket/key");
		return 2;
	}
	int body_arg = rest ? 4 : 3;
	if (argc > body_arg + 1) {
		fprintf(stderr, "taskpipe aws: unexpected argument '%s'\n%s", argv[body_arg + 1], usage);
		return 2;
	}

	struct aws *a = NULL;
	buf body = { 0 }, out = { 0 };
	int rc;
	if (argc > body_arg && (rc = load_arg(argv[body_arg], &body, &e)) < 0)
		goto done;
	if ((rc = aws_new(NULL, &a, &e)) < 0)
		goto done;

	struct aws_call c = { .service = svc, .op = argv[2] };
	buf form = { 0 };
	if (rest && (rc = awsj_prepare_target(&c, svc, NULL, argv[2], argv[3], body.data, body.len, &e)) < 0)
		goto done;
	if (si->protocol == PROTO_QUERY) {
		awsj_form_add(&form, "Action", argv[2]);
		awsj_form_add(&form, "Version", si->api_version);
		if (body.len && (rc = json_to_form(body.data, &form, &e)) < 0) {
			buf_free(&form);
			goto done;
		}
		c.body = form.data;
		c.body_len = form.len;
	} else if (si->protocol == PROTO_JSON) {
		/* An operation's input is a JSON object; check before sending. */
		cJSON *j = cJSON_ParseWithLength(body.len ? body.data : "{}", body.len ? body.len : 2);
		int ok = cJSON_IsObject(j);
		cJSON_Delete(j);
		if (!ok) {
			rc = tp_errf(&e, TP_EINVAL, "BadInput", "input for %s %s is not a JSON object",
				     si->name, argv[2]);
			goto done;
		}
		c.body = body.len ? body.data : "{}";
		c.body_len = body.len ? body.len : 2;
	} else if (body.len) {
		/* REST-JSON (Lambda) bodies are JSON too: refuse a typo before signing
		 * and sending it. S3 bodies are raw bytes. */
		if (si->protocol == PROTO_REST_JSON) {
			cJSON *j = cJSON_ParseWithLength(body.data, body.len);
			int ok = j != NULL;
			cJSON_Delete(j);
			if (!ok) {
				rc = tp_errf(&e, TP_EINVAL, "BadInput", "body for %s %s %s is not valid JSON",
					     si->name, argv[2], argv[3]);
				aws_call_free(&c);
				goto done;
			}
		}
		c.body = body.data;
		c.body_len = body.len;
	}
	rc = aws_call_one(a, &c);
	buf_free(&form);
	if (rc < 0) {
		e = c.err;
		aws_call_free(&c);
		goto done;
	}
	if (si->protocol == PROTO_JSON || si->protocol == PROTO_REST_JSON) {
		cJSON *j = NULL;
		rc = awsj_parse(c.op, c.resp.data, c.resp.len, &j, &e);
		if (rc == TP_OK) {
			char *s = cJSON_Print(j);
			buf_adds(&out, s);
			buf_addc(&out, '\n');
			free(s);
		}
		cJSON_Delete(j);
	} else {
		buf_add(&out, c.resp.data ? c.resp.data : "", c.resp.len);
		if (out.len && out.data[out.len - 1] != '\n' && svc != SVC_S3)
			buf_addc(&out, '\n');
	}
	aws_call_free(&c);
done:
	if (rc < 0)
		print_error(&e);
	else
		fwrite(out.data ? out.data : "", 1, out.len, stdout);
	buf_free(&body);
	buf_free(&out);
	aws_free(a);
	return rc < 0 ? 1 : 0;
}
