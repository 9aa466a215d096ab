/* test_fake_iam.c: IAM in the fake (tests/fake/fake_iam.c, fake_iam_eval.c).
 *
 * - The evaluator agrees with the AWS-faithful layer's (iameval.py): every
 *   check the Python layer recorded for the controller and consumer roles
 *   (tests/integration/iam_evaluated.json, all evaluated Allow there) is
 *   allowed by the template's policies (tests/fake/iam_policies.json) placed
 *   in a stack, and refused when placed on another stack's names, as
 *   test_template.py's test_recorded_requests_pass_and_foreign_ones_do_not
 *   holds the Python evaluator; plus iameval's own rules (test_iameval.py's
 *   cases) and the template's denials: a function outside the Prefix, a
 *   table not the instance's, PassRole of another role, LeadingKeys outside
 *   the allowed patterns.
 * - End to end, through taskpipe's aws/ client against the fake with the
 *   roles' policies set: what a role may do passes, what it may not comes
 *   back as that service's AccessDenied (Lambda 403 AccessDeniedException,
 *   SQS AccessDenied, DynamoDB AccessDeniedException, S3 AccessDenied), the
 *   implied checks (PassRole, TagResource on create, ListTags of a tagged
 *   function, lambda:FunctionArn of a mapping by UUID, LeadingKeys, code
 *   from S3) are evaluated and recorded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/aws.h"
#include "aws/awsjson.h"
#include "aws/lambda.h"
#include "aws/s3.h"
#include "aws/sqs.h"
#include "base/base64.h"
#include "fake/fake.h"
#include "fake/fake_iam_eval.h"
#include "fake/fake_int.h"

#define ACCT "123456789012"
#define FN "arn:aws:lambda:us-east-1:" ACCT ":function:"
#define CTL_KEY "AKIATPCONTROLLER0001"
#define CON_KEY "AKIATPCONSUMER000001"
#define OP_KEY "testing"
#define CTL_ARN "arn:aws:sts::" ACCT ":assumed-role/taskpipe-ControllerRole/controller"
#define CON_ROLE "arn:aws:iam::" ACCT ":role/taskpipe-ConsumerRole"
#define BUCKET "taskpipe-code-" ACCT "-us-east-1"

/* ---- helpers ---- */

static char *replace(const char *text, const char *const *pairs)
{
	buf b = { 0 };
	for (const char *p = text; *p;) {
		size_t i;
		for (i = 0; pairs[i]; i += 2)
			if (strncmp(p, pairs[i], strlen(pairs[i])) == 0)
				break;
		if (pairs[i]) {
			buf_adds(&b, pairs[i + 1]);
			p += strlen(pairs[i]);
		} else {
			buf_addc(&b, *p++);
		}
	}
	return buf_steal(&b);
}

/* A recorded value placed in a stack (test_template.py's place()). */
static char *place(const char *text, const char *inst, const char *prefix)
{
	char ctl[64], con[64];
	snprintf(ctl, sizeof ctl, "%s-ControllerRole", inst);
	snprintf(con, sizeof con, "%s-ConsumerRole", inst);
	const char *pairs[] = { "{ControllerRole}", ctl, "{ConsumerRole}", con, "{InstanceName}", inst,
				"{Prefix}", prefix, "{uuid}", "0b5e1c2a-1111-2222-3333-444455556666",
				"{label}", "2026-01-01T00:00:00.000", NULL };
	return replace(text, pairs);
}

static struct fake_iam_policy *role_policy(const char *role, const char *inst, const char *prefix)
{
	tp_err e = { 0 };
	char *json = fake_iam_template_policy(role, inst, prefix, &e);
	if (!json)
		fail_msg("%s: %s", role, e.message);
	char err[256];
	struct fake_iam_policy *p = fake_iam_policy_parse(json, err, sizeof err);
	if (!p)
		fail_msg("%s: %s", role, err);
	free(json);
	return p;
}

static struct fake_iam_policy *parse(const char *json)
{
	char err[256];
	struct fake_iam_policy *p = fake_iam_policy_parse(json, err, sizeof err);
	if (!p)
		fail_msg("%s: %s", json, err);
	return p;
}

static enum fake_iam_effect eval(const struct fake_iam_policy *p, const char *action, const char *resource,
				 const char *ctx_json)
{
	cJSON *ctx = ctx_json ? cJSON_Parse(ctx_json) : NULL;
	enum fake_iam_effect r = fake_iam_evaluate(p, action, resource, ctx, NULL);
	cJSON_Delete(ctx);
	return r;
}

#define ALLOWED(p, a, r, c) assert_int_equal(eval(p, a, r, c), FAKE_IAM_ALLOW)
#define DENIED(p, a, r, c) assert_int_not_equal(eval(p, a, r, c), FAKE_IAM_ALLOW)

/* ---- agreement with the Python layer's record ---- */

/* The IAM exceptions of test_template.py: actions on "*" that name no stack. */
static int iam_exception(const char *action)
{
	static const char *const x[] = { "lambda:ListFunctions", "lambda:ListEventSourceMappings",
					 "lambda:GetAccountSettings", "lambda:CreateEventSourceMapping",
					 "tag:GetResources", "sqs:ListQueues", "cloudwatch:GetMetricData", NULL };
	for (size_t i = 0; x[i]; i++)
		if (strcmp(x[i], action) == 0)
			return 1;
	return 0;
}

/* One recorded check placed in (inst, prefix): its verdict against pol. */
static enum fake_iam_effect eval_recorded(const struct fake_iam_policy *pol, const cJSON *c, const char *inst,
					  const char *prefix)
{
	const char *resource = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "resource"));
	char *ctx_text = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(c, "context"));
	char *res = place(resource, inst, prefix), *ctx = place(ctx_text, inst, prefix);
	enum fake_iam_effect r = eval(pol, cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "action")), res, ctx);
	free(ctx_text);
	free(res);
	free(ctx);
	return r;
}

static void test_recorded_checks_agree_with_python(void **state)
{
	(void)state;
	buf text = { 0 };
	tp_err e = { 0 };
	assert_int_equal(tp_read_file("tests/integration/iam_evaluated.json", 4 << 20, &text, &e), TP_OK);
	cJSON *rec = cJSON_Parse(buf_str(&text));
	buf_free(&text);
	const cJSON *checks = cJSON_GetObjectItemCaseSensitive(rec, "checks"), *c;
	assert_true(cJSON_GetArraySize(checks) > 50);
	struct fake_iam_policy *mine[2] = { role_policy("ControllerRole", "tplx", "tx-"),
					    role_policy("ConsumerRole", "tplx", "tx-") };
	int n = 0, foreign_refused = 0;
	cJSON_ArrayForEach(c, checks) {
		const char *role = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "role"));
		const char *action = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "action"));
		assert_non_null(role);
		const struct fake_iam_policy *pol = strcmp(role, "ControllerRole") == 0 ? mine[0] : mine[1];
		char *all = cJSON_PrintUnformatted(c);
		if (eval_recorded(pol, c, "tplx", "tx-") != FAKE_IAM_ALLOW)
			fail_msg("allowed by iameval.py, refused by the fake: %s", all);
		/* the same check on another stack's names: refused, unless it names no stack */
		/* test_template's names_stack: a placeholder in the resource or a context value */
		char *ctx_text = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(c, "context"));
		int names_stack = strchr(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "resource")), '{') ||
				  strchr(ctx_text + 1, '{');
		free(ctx_text);
		enum fake_iam_effect other = eval_recorded(pol, c, "other", "zz-");
		if (names_stack && other == FAKE_IAM_ALLOW)
			fail_msg("foreign resource allowed: %s", all);
		if (!names_stack && !iam_exception(action))
			fail_msg("names no stack, yet not an IAM exception: %s", all);
		foreign_refused += names_stack;
		free(all);
		n++;
	}
	print_message("%d recorded checks agree (%d refused on another stack)\n", n, foreign_refused);
	assert_true(foreign_refused > 40);
	fake_iam_policy_free(mine[0]);
	fake_iam_policy_free(mine[1]);
	cJSON_Delete(rec);
}

/* iameval.py's verdicts (tests/fake/iam_vectors.json: the recorded checks
 * placed in a stack, on another stack's names, without context, in another
 * region, against the other role): the same effect, vector for vector. */
static void test_vectors_agree_with_iameval(void **state)
{
	(void)state;
	buf text = { 0 };
	tp_err e = { 0 };
	assert_int_equal(tp_read_file("tests/fake/iam_vectors.json", 4 << 20, &text, &e), TP_OK);
	cJSON *doc = cJSON_Parse(buf_str(&text));
	buf_free(&text);
	const cJSON *stack = cJSON_GetObjectItemCaseSensitive(doc, "stack"), *v;
	const char *inst = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(stack, "InstanceName"));
	const char *prefix = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(stack, "Prefix"));
	struct fake_iam_policy *ctl = role_policy("ControllerRole", inst, prefix);
	struct fake_iam_policy *con = role_policy("ConsumerRole", inst, prefix);
	int n = 0, allowed = 0;
	cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(doc, "vectors")) {
		const char *role = cJSON_GetStringValue(cJSON_GetArrayItem(v, 0));
		const char *want = cJSON_GetStringValue(cJSON_GetArrayItem(v, 4));
		enum fake_iam_effect got = fake_iam_evaluate(strcmp(role, "ControllerRole") == 0 ? ctl : con,
							     cJSON_GetStringValue(cJSON_GetArrayItem(v, 1)),
							     cJSON_GetStringValue(cJSON_GetArrayItem(v, 2)),
							     cJSON_GetArrayItem(v, 3), NULL);
		if (strcmp(fake_iam_effect_name(got), want) != 0) {
			char *s = cJSON_PrintUnformatted(v);
			fail_msg("iameval.py says %s, the fake %s: %s", want, fake_iam_effect_name(got), s);
		}
		allowed += got == FAKE_IAM_ALLOW;
		n++;
	}
	print_message("%d vectors agree with iameval.py (%d allowed)\n", n, allowed);
	assert_true(n > 300 && allowed > 100 && n - allowed > 100);
	fake_iam_policy_free(ctl);
	fake_iam_policy_free(con);
	cJSON_Delete(doc);
}

static void test_template_denials(void **state)
{
	(void)state;
	struct fake_iam_policy *ctl = role_policy("ControllerRole", "taskpipe", "tp-");
	struct fake_iam_policy *con = role_policy("ConsumerRole", "taskpipe", "tp-");
	/* a function outside the Prefix */
	ALLOWED(ctl, "lambda:UpdateFunctionCode", FN "tp-a", NULL);
	DENIED(ctl, "lambda:UpdateFunctionCode", FN "other-a", NULL);
	DENIED(ctl, "lambda:DeleteFunction", FN "tpx", NULL);
	DENIED(ctl, "lambda:CreateEventSourceMapping", "*", "{\"lambda:FunctionArn\":\"" FN "other-a\"}");
	DENIED(ctl, "lambda:CreateEventSourceMapping", "*", NULL);      /* no FunctionArn: ArnLike false */
	DENIED(ctl, "lambda:GetEventSourceMapping", "arn:aws:lambda:us-east-1:" ACCT ":event-source-mapping:u",
	       "{\"lambda:FunctionArn\":\"" FN "other-a\"}");
	DENIED(ctl, "lambda:GetFunction", "arn:aws:lambda:eu-west-1:" ACCT ":function:tp-a", NULL);
	/* a table not the instance's; the config table is read-only */
	ALLOWED(ctl, "dynamodb:GetItem", "arn:aws:dynamodb:us-east-1:" ACCT ":table/taskpipe-state", NULL);
	DENIED(ctl, "dynamodb:GetItem", "arn:aws:dynamodb:us-east-1:" ACCT ":table/other-state", NULL);
	DENIED(ctl, "dynamodb:PutItem", "arn:aws:dynamodb:us-east-1:" ACCT ":table/taskpipe-config", NULL);
	/* PassRole of another role, or to another service */
	ALLOWED(ctl, "iam:PassRole", CON_ROLE, "{\"iam:PassedToService\":\"lambda.amazonaws.com\"}");
	DENIED(ctl, "iam:PassRole", "arn:aws:iam::" ACCT ":role/admin", "{\"iam:PassedToService\":\"lambda.amazonaws.com\"}");
	DENIED(ctl, "iam:PassRole", CON_ROLE, "{\"iam:PassedToService\":\"ec2.amazonaws.com\"}");
	DENIED(ctl, "iam:PassRole", CON_ROLE, NULL);
	/* LeadingKeys outside the allowed patterns */
	const char *state_arn = "arn:aws:dynamodb:us-east-1:" ACCT ":table/taskpipe-state";
	ALLOWED(con, "dynamodb:UpdateItem", state_arn, "{\"dynamodb:LeadingKeys\":[\"rate#tp-r\"]}");
	ALLOWED(con, "dynamodb:UpdateItem", state_arn, "{\"dynamodb:LeadingKeys\":[\"limit#acme\"]}");
	DENIED(con, "dynamodb:UpdateItem", state_arn, "{\"dynamodb:LeadingKeys\":[\"rate#zz-r\"]}");
	DENIED(con, "dynamodb:UpdateItem", state_arn, "{\"dynamodb:LeadingKeys\":[\"pipeline#tp-r\"]}");
	DENIED(con, "dynamodb:PutItem", state_arn, "{\"dynamodb:LeadingKeys\":[\"rate#tp-r\"]}");
	ALLOWED(ctl, "dynamodb:DeleteItem", state_arn, "{\"dynamodb:LeadingKeys\":[\"rollout#g#plan#1\"]}");
	DENIED(ctl, "dynamodb:DeleteItem", state_arn, "{\"dynamodb:LeadingKeys\":[\"pipeline#a\"]}");
	/* queues, code and what the consumer may not do */
	DENIED(ctl, "sqs:CreateQueue", "arn:aws:sqs:us-east-1:" ACCT ":other-q", NULL);
	DENIED(con, "sqs:CreateQueue", "arn:aws:sqs:us-east-1:" ACCT ":tp-q", NULL);
	DENIED(con, "lambda:GetFunction", FN "tp-a", NULL);
	ALLOWED(ctl, "s3:GetObjectVersion", "arn:aws:s3:::" BUCKET "/consumer.zip", NULL);
	DENIED(ctl, "s3:GetObject", "arn:aws:s3:::other-bucket/consumer.zip", NULL);
	DENIED(ctl, "s3:PutObject", "arn:aws:s3:::" BUCKET "/consumer.zip", NULL);
	fake_iam_policy_free(ctl);
	fake_iam_policy_free(con);
}

/* ---- the evaluator's rules (test_iameval.py's cases) ---- */

static void test_evaluation_rules(void **state)
{
	(void)state;
	struct fake_iam_policy *p;
	const char *sid;
	/* implicit deny by default; explicit deny beats allow */
	p = parse("{\"Statement\":[{\"Sid\":\"G\",\"Effect\":\"Allow\",\"Action\":\"sqs:GetQueueUrl\",\"Resource\":\"*\"}]}");
	assert_int_equal(eval(p, "sqs:CreateQueue", "arn:aws:sqs:us-east-1:" ACCT ":q", NULL), FAKE_IAM_IMPLICIT_DENY);
	fake_iam_policy_free(p);
	p = parse("[{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"dynamodb:*\",\"Resource\":\"*\"}]},"
		  "{\"Statement\":{\"Sid\":\"No\",\"Effect\":\"Deny\",\"Action\":\"dynamodb:DeleteItem\",\"Resource\":\"*\"}}]");
	ALLOWED(p, "dynamodb:GetItem", "arn:aws:dynamodb:us-east-1:1:table/t", NULL);
	assert_int_equal(fake_iam_evaluate(p, "dynamodb:DeleteItem", "arn:aws:dynamodb:us-east-1:1:table/t", NULL, &sid),
			 FAKE_IAM_EXPLICIT_DENY);
	assert_string_equal(sid, "No");
	fake_iam_policy_free(p);
	/* action wildcards, case-insensitive */
	p = parse("{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":[\"lambda:Get*\",\"sqs:?etQueueUrl\"],\"Resource\":\"*\"}]}");
	ALLOWED(p, "lambda:GetFunction", "*", NULL);
	ALLOWED(p, "LAMBDA:getfunction", "*", NULL);
	DENIED(p, "lambda:UpdateFunctionCode", "*", NULL);
	ALLOWED(p, "sqs:GetQueueUrl", "*", NULL);
	DENIED(p, "sqs:SetQueueAttributes", "*", NULL);
	fake_iam_policy_free(p);
	/* NotAction, NotResource */
	p = parse("{\"Statement\":[{\"Effect\":\"Allow\",\"NotAction\":\"iam:*\",\"Resource\":\"*\"},"
		  "{\"Effect\":\"Allow\",\"Action\":\"s3:GetObject\",\"NotResource\":\"arn:aws:s3:::secret/*\"}]}");
	ALLOWED(p, "sqs:ListQueues", "*", NULL);
	DENIED(p, "iam:PassRole", "arn:aws:iam::1:role/r", NULL);
	fake_iam_policy_free(p);
	p = parse("{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"s3:GetObject\",\"NotResource\":\"arn:aws:s3:::secret/*\"}]}");
	ALLOWED(p, "s3:GetObject", "arn:aws:s3:::code/a.zip", NULL);
	DENIED(p, "s3:GetObject", "arn:aws:s3:::secret/a.zip", NULL);
	fake_iam_policy_free(p);
	/* resources: wildcards within an ARN part, case-sensitive, "*" only for "*" */
	p = parse("{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":[\"lambda:GetFunction\",\"lambda:ListFunctions\"],"
		  "\"Resource\":\"" FN "tp-*\"}]}");
	ALLOWED(p, "lambda:GetFunction", FN "tp-a", NULL);
	DENIED(p, "lambda:GetFunction", FN "other", NULL);
	DENIED(p, "lambda:GetFunction", FN "TP-a", NULL);
	DENIED(p, "lambda:GetFunction", "arn:aws:lambda:eu-west-1:" ACCT ":function:tp-a", NULL);
	DENIED(p, "lambda:ListFunctions", "*", NULL);
	fake_iam_policy_free(p);
	assert_true(fake_iam_arn_like("arn:aws:sqs:*:" ACCT ":tp-*", "arn:aws:sqs:eu-west-1:" ACCT ":tp-q"));
	assert_false(fake_iam_arn_like("arn:aws:sqs:*:" ACCT ":tp-*", "arn:aws:sqs:eu-west-1:999999999999:tp-q"));
	assert_true(fake_iam_arn_like("arn:aws:lambda:us-east-1:" ACCT ":layer:i-consumer-*:*",
				      "arn:aws:lambda:us-east-1:" ACCT ":layer:i-consumer-x86_64:3"));
	assert_true(fake_iam_wildcard("a*b*c", "aXXbYbc", 0));
	assert_false(fake_iam_wildcard("a*b?c", "abc", 0));
	assert_true(fake_iam_wildcard("*", "", 0));
	/* ArnLike on lambda:FunctionArn; absent key: false; key names case-insensitive */
	p = parse("{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"lambda:GetEventSourceMapping\","
		  "\"Resource\":\"arn:aws:lambda:us-east-1:" ACCT ":event-source-mapping:*\","
		  "\"Condition\":{\"ArnLike\":{\"lambda:FunctionArn\":\"" FN "tp-*\"}}}]}");
	const char *esm = "arn:aws:lambda:us-east-1:" ACCT ":event-source-mapping:u-1";
	ALLOWED(p, "lambda:GetEventSourceMapping", esm, "{\"lambda:FunctionArn\":\"" FN "tp-a\"}");
	DENIED(p, "lambda:GetEventSourceMapping", esm, "{\"lambda:FunctionArn\":\"" FN "x\"}");
	DENIED(p, "lambda:GetEventSourceMapping", esm, "{}");
	ALLOWED(p, "lambda:GetEventSourceMapping", esm, "{\"Lambda:functionarn\":\"" FN "tp-a\"}");
	fake_iam_policy_free(p);
	/* ForAllValues (true when absent) and ForAnyValue (false when absent) */
	const char *t = "arn:aws:dynamodb:us-east-1:" ACCT ":table/st";
	p = parse("{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"dynamodb:UpdateItem\",\"Resource\":\"*\","
		  "\"Condition\":{\"ForAllValues:StringLike\":{\"dynamodb:LeadingKeys\":[\"rate#tp-*\"]}}}]}");
	ALLOWED(p, "dynamodb:UpdateItem", t, "{\"dynamodb:LeadingKeys\":[\"rate#tp-a\"]}");
	DENIED(p, "dynamodb:UpdateItem", t, "{\"dynamodb:LeadingKeys\":[\"rate#tp-a\",\"budget\"]}");
	ALLOWED(p, "dynamodb:UpdateItem", t, "{}");
	fake_iam_policy_free(p);
	p = parse("{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"dynamodb:UpdateItem\",\"Resource\":\"*\","
		  "\"Condition\":{\"ForAnyValue:StringLike\":{\"dynamodb:LeadingKeys\":[\"rate#*\"]}}}]}");
	DENIED(p, "dynamodb:UpdateItem", t, "{}");
	ALLOWED(p, "dynamodb:UpdateItem", t, "{\"dynamodb:LeadingKeys\":[\"x\",\"rate#a\"]}");
	fake_iam_policy_free(p);
	/* Bool, ...IfExists, negated operators, Null; operators AND, values OR */
	p = parse("{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"s3:GetObject\",\"Resource\":\"*\","
		  "\"Condition\":{\"Bool\":{\"aws:SecureTransport\":\"true\"}}}]}");
	ALLOWED(p, "s3:GetObject", "arn:aws:s3:::b/k", "{\"aws:SecureTransport\":\"true\"}");
	DENIED(p, "s3:GetObject", "arn:aws:s3:::b/k", "{\"aws:SecureTransport\":\"false\"}");
	DENIED(p, "s3:GetObject", "arn:aws:s3:::b/k", NULL);
	fake_iam_policy_free(p);
	p = parse("{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"s3:GetObject\",\"Resource\":\"*\","
		  "\"Condition\":{\"StringLikeIfExists\":{\"aws:SourceArn\":\"" FN "tp-*\"}}}]}");
	ALLOWED(p, "s3:GetObject", "arn:aws:s3:::b/k", NULL);
	DENIED(p, "s3:GetObject", "arn:aws:s3:::b/k", "{\"aws:SourceArn\":\"" FN "x\"}");
	fake_iam_policy_free(p);
	p = parse("{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"s3:GetObject\",\"Resource\":\"*\","
		  "\"Condition\":{\"StringNotLike\":{\"aws:SourceArn\":\"" FN "tp-*\"}}}]}");
	ALLOWED(p, "s3:GetObject", "arn:aws:s3:::b/k", NULL);
	DENIED(p, "s3:GetObject", "arn:aws:s3:::b/k", "{\"aws:SourceArn\":\"" FN "tp-a\"}");
	fake_iam_policy_free(p);
	p = parse("{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"s3:GetObject\",\"Resource\":\"*\","
		  "\"Condition\":{\"Null\":{\"aws:SourceArn\":\"false\"}}}]}");
	DENIED(p, "s3:GetObject", "arn:aws:s3:::b/k", NULL);
	ALLOWED(p, "s3:GetObject", "arn:aws:s3:::b/k", "{\"aws:SourceArn\":\"x\"}");
	fake_iam_policy_free(p);
	p = parse("{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"s3:GetObject\",\"Resource\":\"arn:aws:s3:::code/*\","
		  "\"Condition\":{\"ArnLike\":{\"aws:SourceArn\":[\"" FN "tp-*\",\"" FN "tq-*\"]},"
		  "\"StringEquals\":{\"aws:SourceAccount\":\"" ACCT "\"}}}]}");
	ALLOWED(p, "s3:GetObject", "arn:aws:s3:::code/c.zip", "{\"aws:SourceArn\":\"" FN "tq-b\",\"aws:SourceAccount\":\"" ACCT "\"}");
	DENIED(p, "s3:GetObject", "arn:aws:s3:::code/c.zip", "{\"aws:SourceArn\":\"" FN "tq-b\",\"aws:SourceAccount\":\"1\"}");
	fake_iam_policy_free(p);
}

static void test_policies_it_cannot_read_are_refused(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"not json",
		"[]",
		"{\"Statement\":[{\"Effect\":\"Maybe\",\"Action\":\"*\",\"Resource\":\"*\"}]}",
		"{\"Statement\":[{\"Effect\":\"Allow\",\"Resource\":\"*\"}]}",
		"{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\"}]}",
		"{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\","
		"\"Condition\":{\"NumericLessThan\":{\"a:b\":\"1\"}}}]}",
		"{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\","
		"\"Condition\":{\"ForSomeValues:StringLike\":{\"a:b\":\"1\"}}}]}",
		"{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"*\",\"Resource\":\"*\"}]}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char err[256] = "";
		struct fake_iam_policy *p = fake_iam_policy_parse(bad[i], err, sizeof err);
		if (p)
			fail_msg("read: %s", bad[i]);
		assert_true(err[0]);
	}
	struct fake *f = fake_new(NULL);
	tp_err e = { 0 };
	assert_int_equal(fake_iam_set_policy(f, NULL, NULL, bad[5], &e), TP_EINVAL);
	assert_non_null(strstr(e.message, "NumericLessThan"));
	assert_int_equal(fake_iam_records(f, &(const struct fake_iam_record *){ NULL }), 0);
	fake_free(f);
}

/* ---- end to end: taskpipe's aws/ client against the fake ---- */

struct env {
	struct fake *f;
	struct aws *ctl, *con, *op; /* signed by the controller's, the consumer's, the operator's key */
};

static struct aws *client_as(struct fake *f, const char *key)
{
	struct aws_options o = { .region = "us-east-1", .seed = 1, .lambda_rps = -1, .lambda_get_rps = -1,
				 .max_attempts = 1 };
	struct aws *a = fake_client(f, key, &o);
	/* a client reads its key on its first request and keeps it: ask now,
	 * while the environment names this key (IAM is not on yet) */
	struct aws_call c = { 0 };
	lambda_get_account_settings(&c);
	assert_int_equal(aws_call_one(a, &c), TP_OK);
	aws_call_free(&c);
	return a;
}

static void set_role(struct fake *f, const char *key, const char *role, const char *principal)
{
	tp_err e = { 0 };
	char *json = fake_iam_template_policy(role, "taskpipe", "tp-", &e);
	assert_non_null(json);
	assert_int_equal(fake_iam_set_policy(f, key, principal, json, &e), TP_OK);
	free(json);
}

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof *e);
	e->f = fake_new(NULL);
	fake_use_clock(e->f);
	e->ctl = client_as(e->f, CTL_KEY);
	e->con = client_as(e->f, CON_KEY);
	e->op = client_as(e->f, OP_KEY);
	set_role(e->f, CTL_KEY, "ControllerRole", CTL_ARN);
	set_role(e->f, CON_KEY, "ConsumerRole", "arn:aws:sts::" ACCT ":assumed-role/taskpipe-ConsumerRole/consumer");
	tp_err err = { 0 };
	assert_int_equal(fake_iam_set_policy(e->f, OP_KEY, "arn:aws:iam::" ACCT ":user/operator",
					     "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"Operator\","
					     "\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"}]}", &err), TP_OK);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;
	aws_free(e->ctl);
	aws_free(e->con);
	aws_free(e->op);
	fake_free(e->f);
	free(e);
	return 0;
}

/* Runs c on a; keeps status, code and message; returns the parsed answer (NULL: none). */
struct res {
	int rc;
	long status;
	char code[64];
	char message[512];
};

static cJSON *run(struct aws *a, struct aws_call *c, struct res *r)
{
	aws_call_one(a, c);
	r->rc = c->rc;
	r->status = c->status;
	snprintf(r->code, sizeof r->code, "%s", c->rc == TP_OK ? "" : c->err.code);
	snprintf(r->message, sizeof r->message, "%s", c->rc == TP_OK ? "" : c->err.message);
	cJSON *j = c->resp.len ? cJSON_Parse(buf_str(&c->resp)) : NULL;
	aws_call_free(c);
	return j;
}

static struct res call(struct aws *a, struct aws_call *c)
{
	struct res r;
	cJSON_Delete(run(a, c, &r));
	return r;
}

#define OK(r) do { struct res r_ = (r); if (r_.rc != TP_OK) fail_msg("%s: %s", r_.code, r_.message); } while (0)

static cJSON *create_in(const char *name, const char *role)
{
	cJSON *in = cJSON_CreateObject();
	cJSON_AddStringToObject(in, "FunctionName", name);
	cJSON_AddStringToObject(in, "Runtime", "python3.12");
	cJSON_AddStringToObject(in, "Handler", "app.handler");
	cJSON_AddStringToObject(in, "Role", role);
	char *b = base64_encode_dup("zip", 3);
	cJSON_AddStringToObject(cJSON_AddObjectToObject(in, "Code"), "ZipFile", b);
	free(b);
	cJSON_AddStringToObject(cJSON_AddObjectToObject(in, "Tags"), "taskpipe:owner", "t");
	return in;
}

static struct res create_function(struct aws *a, const char *name, const char *role)
{
	struct aws_call c = { 0 };
	lambda_create_function(&c, create_in(name, role));
	return call(a, &c);
}

/* The record of (action, resource) with effect, or NULL. */
static const struct fake_iam_record *find(struct fake *f, const char *action, const char *resource)
{
	const struct fake_iam_record *r;
	size_t n = fake_iam_records(f, &r);
	for (size_t i = n; i-- > 0;)
		if (strcmp(r[i].action, action) == 0 && strcmp(r[i].resource, resource) == 0)
			return &r[i];
	return NULL;
}

static void test_lambda_allowed_and_denied(void **state)
{
	struct env *e = *state;
	/* the controller creates a pipeline function: CreateFunction, PassRole, TagResource on create */
	OK(create_function(e->ctl, "tp-a", CON_ROLE));
	const struct fake_iam_record *r = find(e->f, "iam:PassRole", CON_ROLE);
	assert_non_null(r);
	assert_string_equal(r->effect, "Allow");
	assert_string_equal(r->why, "CreateFunction passes Role");
	assert_string_equal(r->context, "{\"iam:PassedToService\":\"lambda.amazonaws.com\"}");
	assert_string_equal(r->key, CTL_KEY);
	r = find(e->f, "lambda:TagResource", FN "tp-a");
	assert_non_null(r);
	assert_string_equal(r->why, "CreateFunction tags on create");
	assert_int_equal(fake_iam_denied(e->f), 0);

	/* another role passed: refused before Lambda sees it, nothing created */
	struct res d = create_function(e->ctl, "tp-b", "arn:aws:iam::" ACCT ":role/admin");
	assert_int_equal(d.status, 403);
	assert_string_equal(d.code, "AccessDeniedException");
	assert_string_equal(d.message, "User: " CTL_ARN " is not authorized to perform: iam:PassRole on resource: "
			    "arn:aws:iam::" ACCT ":role/admin because no identity-based policy allows the "
			    "iam:PassRole action");
	assert_int_equal(fake_iam_denied(e->f), 1);
	struct aws_call c = { 0 };
	lambda_get_function(&c, "tp-b", NULL);
	assert_int_equal(call(e->op, &c).status, 404);

	/* a function outside the Prefix (the operator's) */
	OK(create_function(e->op, "other-a", "arn:aws:iam::" ACCT ":role/other"));
	cJSON *code = cJSON_CreateObject();
	char *b = base64_encode_dup("zip2", 4);
	cJSON_AddStringToObject(code, "ZipFile", b);
	free(b);
	memset(&c, 0, sizeof c);
	lambda_update_function_code(&c, "other-a", code);
	d = call(e->ctl, &c);
	assert_int_equal(d.status, 403);
	assert_string_equal(d.code, "AccessDeniedException");
	assert_string_equal(d.message, "User: " CTL_ARN " is not authorized to perform: lambda:UpdateFunctionCode on "
			    "resource: " FN "other-a because no identity-based policy allows the "
			    "lambda:UpdateFunctionCode action");
	r = find(e->f, "lambda:UpdateFunctionCode", FN "other-a");
	assert_string_equal(r->effect, "ImplicitDeny");
	assert_string_equal(r->op, "UpdateFunctionCode");

	/* GetFunction of a tagged function needs lambda:ListTags too */
	memset(&c, 0, sizeof c);
	lambda_get_function(&c, "tp-a", NULL);
	OK(call(e->ctl, &c));
	r = find(e->f, "lambda:ListTags", FN "tp-a");
	assert_non_null(r);
	assert_string_equal(r->why, "GetFunction of a tagged function");

	/* the consumer's role has no Lambda rights */
	memset(&c, 0, sizeof c);
	lambda_get_function(&c, "tp-a", NULL);
	d = call(e->con, &c);
	assert_int_equal(d.status, 403);
	assert_string_equal(d.code, "AccessDeniedException");
}

/* CreateEventSourceMapping of function on queue (a's rights); the UUID into uuid. */
static struct res create_mapping(struct env *e, struct aws *a, const char *function, const char *queue, char uuid[64])
{
	cJSON *in = cJSON_CreateObject();
	cJSON_AddStringToObject(in, "FunctionName", function);
	char arn[128];
	snprintf(arn, sizeof arn, "arn:aws:sqs:us-east-1:" ACCT ":%s", queue);
	cJSON_AddStringToObject(in, "EventSourceArn", arn);
	struct aws_call c = { 0 };
	lambda_create_event_source_mapping(&c, in);
	struct res r;
	cJSON *j = run(a, &c, &r);
	snprintf(uuid, 64, "%s", r.rc == TP_OK ? cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "UUID")) : "");
	cJSON_Delete(j);
	(void)e;
	return r;
}

static struct res create_queue(struct aws *a, const char *name)
{
	cJSON *tags = cJSON_CreateObject();
	cJSON_AddStringToObject(tags, "taskpipe:owner", "t");
	struct aws_call c = { 0 };
	sqs_create_queue(&c, name, NULL, tags);
	return call(a, &c);
}

static void test_mappings_by_uuid_carry_their_function(void **state)
{
	struct env *e = *state;
	OK(create_function(e->ctl, "tp-a", CON_ROLE));
	OK(create_queue(e->ctl, "tp-a"));
	const struct fake_iam_record *r = find(e->f, "sqs:TagQueue", "arn:aws:sqs:us-east-1:" ACCT ":tp-a");
	assert_non_null(r);
	assert_string_equal(r->why, "CreateQueue tags on create");
	char mine[64], theirs[64];
	OK(create_mapping(e, e->ctl, "tp-a", "tp-a", mine));
	r = find(e->f, "lambda:CreateEventSourceMapping", "*");
	assert_string_equal(r->context, "{\"lambda:FunctionArn\":\"" FN "tp-a\"}");
	/* the controller may not map a function outside the Prefix */
	OK(create_function(e->op, "other-a", "arn:aws:iam::" ACCT ":role/other"));
	OK(create_queue(e->op, "other-q"));
	struct res d = create_mapping(e, e->ctl, "other-a", "other-q", theirs);
	assert_int_equal(d.status, 403);
	assert_string_equal(d.code, "AccessDeniedException");
	OK(create_mapping(e, e->op, "other-a", "other-q", theirs));

	/* by UUID: the mapping's function is the condition's lambda:FunctionArn */
	struct aws_call c = { 0 };
	lambda_get_event_source_mapping(&c, mine);
	OK(call(e->ctl, &c));
	char arn[128];
	snprintf(arn, sizeof arn, "arn:aws:lambda:us-east-1:" ACCT ":event-source-mapping:%s", theirs);
	memset(&c, 0, sizeof c);
	lambda_get_event_source_mapping(&c, theirs);
	d = call(e->ctl, &c);
	assert_int_equal(d.status, 403);
	assert_non_null(strstr(d.message, "lambda:GetEventSourceMapping on resource: "));
	assert_non_null(strstr(d.message, theirs));
	r = find(e->f, "lambda:GetEventSourceMapping", arn);
	assert_string_equal(r->context, "{\"lambda:FunctionArn\":\"" FN "other-a\"}");
	memset(&c, 0, sizeof c);
	lambda_delete_event_source_mapping(&c, theirs);
	assert_int_equal(call(e->ctl, &c).status, 403);
	/* a mapping that does not exist: no FunctionArn, so refused (as AWS: the condition cannot hold) */
	memset(&c, 0, sizeof c);
	lambda_get_event_source_mapping(&c, "00000000-0000-0000-0000-000000000000");
	assert_int_equal(call(e->ctl, &c).status, 403);
	memset(&c, 0, sizeof c);
	lambda_get_event_source_mapping(&c, "00000000-0000-0000-0000-000000000000");
	assert_int_equal(call(e->op, &c).status, 404);
}

static void test_sqs_denied_as_sqs_says_it(void **state)
{
	struct env *e = *state;
	OK(create_queue(e->ctl, "tp-q"));
	struct aws_call c = { 0 };
	sqs_get_queue_url(&c, "tp-q");
	OK(call(e->ctl, &c));
	struct res d = create_queue(e->ctl, "other-q");
	assert_int_equal(d.status, 400);
	assert_string_equal(d.code, "AccessDenied");
	assert_non_null(strstr(d.message, "sqs:CreateQueue on resource: arn:aws:sqs:us-east-1:" ACCT ":other-q"));
	/* the consumer reads and deletes on the pipeline's queue, but may not delete it */
	memset(&c, 0, sizeof c);
	sqs_receive_message(&c, "https://sqs.us-east-1.amazonaws.com/" ACCT "/tp-q", 10, 0, 30);
	OK(call(e->con, &c));
	assert_non_null(find(e->f, "sqs:ReceiveMessage", "arn:aws:sqs:us-east-1:" ACCT ":tp-q"));
	memset(&c, 0, sizeof c);
	sqs_delete_queue(&c, "https://sqs.us-east-1.amazonaws.com/" ACCT "/tp-q");
	d = call(e->con, &c);
	assert_string_equal(d.code, "AccessDenied");
	/* SendMessageBatch is authorized as sqs:SendMessage */
	cJSON *entries = cJSON_CreateArray();
	cJSON_AddItemToArray(entries, sqs_send_entry("1", "hello", NULL, 0));
	memset(&c, 0, sizeof c);
	sqs_send_message_batch(&c, "https://sqs.us-east-1.amazonaws.com/" ACCT "/tp-q", entries);
	OK(call(e->con, &c));
	assert_string_equal(find(e->f, "sqs:SendMessage", "arn:aws:sqs:us-east-1:" ACCT ":tp-q")->op,
			    "SendMessageBatch");
}

static struct res ddb(struct aws *a, const char *op, const char *json)
{
	struct aws_call c = { 0 };
	awsj_prepare(&c, SVC_DYNAMODB, op, cJSON_Parse(json));
	return call(a, &c);
}

static void test_dynamodb_tables_and_leading_keys(void **state)
{
	struct env *e = *state;
	assert_int_equal(fake_ddb_create_table(e->f, "taskpipe-state", "pk", NULL), 0);
	assert_int_equal(fake_ddb_create_table(e->f, "other-state", "pk", NULL), 0);
	OK(ddb(e->ctl, "GetItem", "{\"TableName\":\"taskpipe-state\",\"Key\":{\"pk\":{\"S\":\"pipeline#a\"}}}"));
	struct res d = ddb(e->ctl, "GetItem", "{\"TableName\":\"other-state\",\"Key\":{\"pk\":{\"S\":\"pipeline#a\"}}}");
	assert_int_equal(d.status, 400);
	assert_string_equal(d.code, "AccessDeniedException");
	assert_non_null(strstr(d.message, "dynamodb:GetItem on resource: arn:aws:dynamodb:us-east-1:" ACCT
			       ":table/other-state because no identity-based policy allows"));
	/* the consumer's shared rate schedule: rate#<Prefix>* and limit#* only */
	const char *upd = "{\"TableName\":\"taskpipe-state\",\"Key\":{\"pk\":{\"S\":\"%s\"}},"
			  "\"UpdateExpression\":\"SET n = :one\",\"ExpressionAttributeValues\":{\":one\":{\"N\":\"1\"}}}";
	char body[512];
	snprintf(body, sizeof body, upd, "rate#tp-r");
	OK(ddb(e->con, "UpdateItem", body));
	const struct fake_iam_record *r = find(e->f, "dynamodb:UpdateItem",
					       "arn:aws:dynamodb:us-east-1:" ACCT ":table/taskpipe-state");
	assert_string_equal(r->context, "{\"dynamodb:LeadingKeys\":[\"rate#tp-r\"]}");
	snprintf(body, sizeof body, upd, "pipeline#tp-r");
	d = ddb(e->con, "UpdateItem", body);
	assert_string_equal(d.code, "AccessDeniedException");
	assert_int_equal(fake_ddb_item_count(e->f, "taskpipe-state"), 1);
	/* the controller deletes only old rollout plans */
	OK(ddb(e->ctl, "DeleteItem", "{\"TableName\":\"taskpipe-state\",\"Key\":{\"pk\":{\"S\":\"rollout#g#plan#1\"}}}"));
	d = ddb(e->ctl, "DeleteItem", "{\"TableName\":\"taskpipe-state\",\"Key\":{\"pk\":{\"S\":\"rate#tp-r\"}}}");
	assert_string_equal(d.code, "AccessDeniedException");
	assert_int_equal(fake_ddb_item_count(e->f, "taskpipe-state"), 1);
	/* Streams: GetRecords is authorized on the stream its iterator names */
	struct aws_call c = { 0 };
	awsj_prepare(&c, SVC_STREAMS, "GetRecords",
		     cJSON_Parse("{\"ShardIterator\":\"0|0|0|arn:aws:dynamodb:us-east-1:" ACCT
				 ":table/taskpipe-config/stream/L\"}"));
	d = call(e->ctl, &c);
	assert_string_equal(d.code, "ResourceNotFoundException");   /* allowed; the fake has no such stream */
	assert_string_equal(find(e->f, "dynamodb:GetRecords", "arn:aws:dynamodb:us-east-1:" ACCT
				 ":table/taskpipe-config/stream/L")->effect, "Allow");
	memset(&c, 0, sizeof c);
	awsj_prepare(&c, SVC_STREAMS, "GetRecords",
		     cJSON_Parse("{\"ShardIterator\":\"0|0|0|arn:aws:dynamodb:us-east-1:" ACCT
				 ":table/other-config/stream/L\"}"));
	assert_string_equal(call(e->ctl, &c).code, "AccessDeniedException");
}

static void test_s3_and_code_by_s3_location(void **state)
{
	struct env *e = *state;
	struct aws_call c = { .service = SVC_S3, .op = "CreateBucket", .method = "PUT", .path = "/" BUCKET };
	OK(call(e->op, &c));
	c = (struct aws_call){ .service = SVC_S3, .op = "PutObject", .method = "PUT", .path = "/" BUCKET "/consumer.zip",
			       .body = "zip", .body_len = 3, .content_type = "application/octet-stream" };
	OK(call(e->op, &c));
	/* a missing object in the instance's bucket: 404, as s3:ListBucket is granted */
	memset(&c, 0, sizeof c);
	s3_get_object(&c, BUCKET, "missing.zip", NULL, NULL);
	struct res d = call(e->ctl, &c);
	assert_int_equal(d.status, 404);
	assert_non_null(find(e->f, "s3:ListBucket", "arn:aws:s3:::" BUCKET));
	/* another bucket: 403 AccessDenied, the resource quoted */
	memset(&c, 0, sizeof c);
	s3_get_object(&c, "other-bucket", "consumer.zip", NULL, NULL);
	d = call(e->ctl, &c);
	assert_int_equal(d.status, 403);
	assert_string_equal(d.code, "AccessDenied");
	assert_non_null(strstr(d.message, "s3:GetObject on resource: \"arn:aws:s3:::other-bucket/consumer.zip\""));
	/* Lambda reads code by S3 location with the caller's rights */
	OK(create_function(e->ctl, "tp-a", CON_ROLE));
	cJSON *code = cJSON_CreateObject();
	cJSON_AddStringToObject(code, "S3Bucket", BUCKET);
	cJSON_AddStringToObject(code, "S3Key", "consumer.zip");
	memset(&c, 0, sizeof c);
	lambda_update_function_code(&c, "tp-a", code);
	OK(call(e->ctl, &c));
	assert_string_equal(find(e->f, "s3:GetObject", "arn:aws:s3:::" BUCKET "/consumer.zip")->why,
			    "UpdateFunctionCode reads code from S3");
	code = cJSON_CreateObject();
	cJSON_AddStringToObject(code, "S3Bucket", "other-bucket");
	cJSON_AddStringToObject(code, "S3Key", "consumer.zip");
	memset(&c, 0, sizeof c);
	lambda_update_function_code(&c, "tp-a", code);
	d = call(e->ctl, &c);
	assert_int_equal(d.status, 400);
	assert_string_equal(d.code, "InvalidParameterValueException");
	assert_non_null(strstr(d.message, "Your access has been denied by S3, please make sure your request credentials "
			       "have permission to GetObject for other-bucket/consumer.zip"));
}

static void test_unknown_key_and_iam_off(void **state)
{
	(void)state;
	struct fake *f = fake_new(NULL);
	fake_use_clock(f);
	struct aws *a = client_as(f, "AKIANOBODY");
	fake_iam_keep_allowed(f, 1);
	struct aws_call c = { 0 };
	lambda_get_account_settings(&c);
	OK(call(a, &c));                                   /* no policy set: IAM is off */
	assert_int_equal(fake_iam_records(f, &(const struct fake_iam_record *){ NULL }), 0);
	tp_err e = { 0 };
	assert_int_equal(fake_iam_set_policy(f, "AKIASOMEONE", NULL,
					     "{\"Statement\":{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"}}", &e),
			 TP_OK);
	memset(&c, 0, sizeof c);
	lambda_get_account_settings(&c);
	struct res d = call(a, &c);
	assert_int_equal(d.status, 403);
	assert_string_equal(d.code, "UnrecognizedClientException");
	memset(&c, 0, sizeof c);
	sqs_get_queue_url(&c, "q");
	d = call(a, &c);
	assert_string_equal(d.code, "UnrecognizedClientException");
	/* a default for every other key */
	assert_int_equal(fake_iam_set_policy(f, NULL, NULL,
					     "{\"Statement\":{\"Effect\":\"Allow\",\"Action\":\"lambda:Get*\",\"Resource\":\"*\"}}", &e),
			 TP_OK);
	memset(&c, 0, sizeof c);
	lambda_get_account_settings(&c);
	OK(call(a, &c));
	memset(&c, 0, sizeof c);
	lambda_list_functions(&c, NULL, 0);
	d = call(a, &c);
	assert_string_equal(d.code, "AccessDeniedException");
	assert_non_null(strstr(d.message, "User: arn:aws:iam::" ACCT ":user/fake is not authorized"));
	assert_int_equal(fake_iam_denied(f), 3);
	assert_int_equal(fake_iam_records(f, &(const struct fake_iam_record *){ NULL }), 4);
	/* refusals only: an allowed request leaves no record */
	fake_iam_keep_allowed(f, 0);
	memset(&c, 0, sizeof c);
	lambda_get_account_settings(&c);
	OK(call(a, &c));
	memset(&c, 0, sizeof c);
	lambda_list_functions(&c, NULL, 0);
	call(a, &c);
	assert_int_equal(fake_iam_records(f, &(const struct fake_iam_record *){ NULL }), 5);
	assert_int_equal(fake_iam_denied(f), 4);
	fake_iam_clear(f);
	assert_int_equal(fake_iam_denied(f), 0);
	aws_free(a);
	fake_free(f);
}

/* ---- the request -> checks mapping, as iamrequest.py's ---- */

static int svc_of(const char *service)
{
	static const struct { const char *name; int svc; } m[] = {
		{ "lambda", SVC_LAMBDA }, { "s3", SVC_S3 }, { "dynamodb", SVC_DYNAMODB },
		{ "dynamodbstreams", SVC_STREAMS }, { "sqs", SVC_SQS }, { "tagging", SVC_TAGGING },
		{ "monitoring", SVC_CLOUDWATCH },
	};
	for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
		if (strcmp(m[i].name, service) == 0)
			return m[i].svc;
	fail_msg("no service %s", service);
	return -1;
}

/* tests/fake/iam_requests.json: one request of each shape, sent through
 * aws/ to the fake, is evaluated as iamrequest.py's checks of it: the same
 * actions, resources, contexts and reasons, in the same order. The state
 * they meet is iam_policies.py's _State. */
static void test_requests_map_as_iamrequest(void **state)
{
	(void)state;
	struct fake *f = fake_new(NULL);
	fake_use_clock(f);
	struct aws *a = client_as(f, OP_KEY);
	tp_err e = { 0 };
	assert_int_equal(fake_iam_set_policy(f, NULL, NULL,
					     "{\"Statement\":{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"}}", &e),
			 TP_OK);
	OK(create_function(a, "tp-a", CON_ROLE));
	struct aws_call c = { 0 };
	cJSON *in = create_in("tp-untagged", CON_ROLE);
	cJSON_DeleteItemFromObject(in, "Tags");
	lambda_create_function(&c, in);
	OK(call(a, &c));
	memset(&c, 0, sizeof c);
	sqs_create_queue(&c, "tp-q", NULL, NULL);
	OK(call(a, &c));
	char uuid[64];
	struct env x = { f, a, a, a };
	OK(create_mapping(&x, a, "tp-a", "tp-q", uuid));
	assert_int_equal(fake_ddb_create_table(f, "tplx-state", "pk", "sk"), 0);
	c = (struct aws_call){ .service = SVC_S3, .op = "CreateBucket", .method = "PUT", .path = "/code" };
	OK(call(a, &c));
	c = (struct aws_call){ .service = SVC_S3, .op = "PutObject", .method = "PUT", .path = "/code/consumer.zip",
			       .body = "zip", .body_len = 3, .content_type = "application/octet-stream" };
	OK(call(a, &c));

	buf text = { 0 };
	assert_int_equal(tp_read_file("tests/fake/iam_requests.json", 1 << 20, &text, &e), TP_OK);
	cJSON *doc = cJSON_Parse(buf_str(&text));
	buf_free(&text);
	const cJSON *req;
	const char *subst[] = { "{uuid}", uuid, NULL };
	int n = 0, n_checks = 0;
	cJSON_ArrayForEach(req, cJSON_GetObjectItemCaseSensitive(doc, "requests")) {
		const char *service = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(req, "service"));
		const char *op = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(req, "op"));
		const char *query = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(req, "query"));
		const char *body = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(req, "body"));
		char *path = replace(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(req, "path")), subst);
		int svc = svc_of(service);
		memset(&c, 0, sizeof c);
		if (svc == SVC_LAMBDA || svc == SVC_S3)
			c = (struct aws_call){ .service = svc, .op = op,
					       .method = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(req, "method")),
					       .path = path, .query = query && query[0] ? query : NULL, .body = body,
					       .body_len = body ? strlen(body) : 0,
					       .content_type = body && svc == SVC_S3 ? "application/octet-stream" : NULL };
		else
			awsj_prepare(&c, svc, op, cJSON_Parse(body));
		fake_iam_clear(f);
		call(a, &c);
		char *want_text = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(req, "checks"));
		char *want_placed = replace(want_text, subst);
		cJSON *want = cJSON_Parse(want_placed);
		const struct fake_iam_record *r;
		size_t got = fake_iam_records(f, &r);
		if ((int)got != cJSON_GetArraySize(want))
			fail_msg("%s %s: %zu checks, iamrequest.py %d: %s", op, path, got, cJSON_GetArraySize(want),
				 want_placed);
		for (size_t i = 0; i < got; i++) {
			const cJSON *w = cJSON_GetArrayItem(want, (int)i);
			cJSON *ctx = cJSON_Parse(r[i].context);
			if (strcmp(r[i].action, cJSON_GetStringValue(cJSON_GetArrayItem(w, 0))) != 0 ||
			    strcmp(r[i].resource, cJSON_GetStringValue(cJSON_GetArrayItem(w, 1))) != 0 ||
			    !cJSON_Compare(ctx, cJSON_GetArrayItem(w, 2), 1) ||
			    strcmp(r[i].why, cJSON_GetStringValue(cJSON_GetArrayItem(w, 3))) != 0)
				fail_msg("%s %s: check %zu is (%s, %s, %s, %s), iamrequest.py's %s", op, path, i, r[i].action,
					 r[i].resource, r[i].context, r[i].why, want_placed);
			cJSON_Delete(ctx);
			n_checks++;
		}
		cJSON_Delete(want);
		free(want_text);
		free(want_placed);
		free(path);
		n++;
	}
	print_message("%d requests, %d checks as iamrequest.py's\n", n, n_checks);
	assert_true(n >= 50);
	cJSON_Delete(doc);
	aws_free(a);
	fake_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_recorded_checks_agree_with_python),
		cmocka_unit_test(test_vectors_agree_with_iameval),
		cmocka_unit_test(test_template_denials),
		cmocka_unit_test(test_evaluation_rules),
		cmocka_unit_test(test_policies_it_cannot_read_are_refused),
		cmocka_unit_test_setup_teardown(test_lambda_allowed_and_denied, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mappings_by_uuid_carry_their_function, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sqs_denied_as_sqs_says_it, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dynamodb_tables_and_leading_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_s3_and_code_by_s3_location, setup, teardown),
		cmocka_unit_test(test_unknown_key_and_iam_off),
		cmocka_unit_test(test_requests_map_as_iamrequest),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
