/* fake_iam_eval.h: IAM evaluation of identity-based policies for the fake
 * (fake_iam_eval.c), the C twin of tests/integration/iameval.py: the same
 * rules, the same pages ([eval], [action], [res], [cond], [multi]).
 *
 *   struct fake_iam_policy *p = fake_iam_policy_parse(json, err, sizeof err);
 *   fake_iam_evaluate(p, "lambda:GetEventSourceMapping", arn, context, &sid);
 *
 * A policy is one document ({"Version", "Statement": [...] or {...}}) or a
 * list of them. What the template can hold is evaluated: Effect,
 * Action/NotAction, Resource/NotResource, Condition (StringEquals,
 * StringNotEquals, ...IgnoreCase, StringLike, StringNotLike, ArnEquals,
 * ArnLike, ArnNotEquals, ArnNotLike, Bool, Null, each with ...IfExists and
 * ForAllValues: / ForAnyValue:). Anything else is refused when parsed, so
 * evaluation itself cannot fail. */
#ifndef TP_FAKE_IAM_EVAL_H
#define TP_FAKE_IAM_EVAL_H

#include <stddef.h>

#include <cjson/cJSON.h>

enum fake_iam_effect { FAKE_IAM_ALLOW, FAKE_IAM_IMPLICIT_DENY, FAKE_IAM_EXPLICIT_DENY };

struct fake_iam_policy;

/* The documents of json, checked; NULL and err (naming the statement and
 * what is wrong) when it is not a policy this evaluator reads. */
struct fake_iam_policy *fake_iam_policy_parse(const char *json, char *err, size_t errlen);
void fake_iam_policy_free(struct fake_iam_policy *p);

/* [eval] The decision for action on resource ("*" for actions without
 * resource-level permissions) with context (an object of strings or lists
 * of strings; NULL: none). *sid (may be NULL) gets the deciding statement's
 * Sid (the Deny, or the first Allow), borrowed from p, NULL when none. */
enum fake_iam_effect fake_iam_evaluate(const struct fake_iam_policy *p, const char *action, const char *resource,
				       const cJSON *context, const char **sid);
const char *fake_iam_effect_name(enum fake_iam_effect e); /* "Allow", "ImplicitDeny", "ExplicitDeny" */

/* Matching as IAM matches (exposed for tests): * any run, ? one character. */
int fake_iam_wildcard(const char *pattern, const char *value, int ignore_case);
/* [cond]/[res] ARN part by part ("*" matches anything; not ARNs: whole). */
int fake_iam_arn_like(const char *pattern, const char *arn);

#endif
