/* fake_iam_eval.c: IAM policy evaluation (fake_iam_eval.h), rule for rule
 * tests/integration/iameval.py's, so the fake and the AWS-faithful layer
 * refuse the same requests (tests/unit/test_fake_iam.c holds them to the
 * checks the Python layer recorded, iam_evaluated.json). Pages:
 *   [eval]   https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
 *   [action] https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_action.html
 *   [res]    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html
 *   [cond]   https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
 *   [multi]  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html */
#include "fake/fake_iam_eval.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/base.h"

struct fake_iam_policy {
	cJSON *docs;                /* the documents, an array */
	const cJSON **st;           /* every statement, in order */
	size_t n_st;
};

enum kind { K_STR, K_STRI, K_LIKE, K_ARN, K_BOOL, K_NULL };
enum setop { SET_NONE, SET_ALL, SET_ANY };

struct op {
	enum kind kind;
	enum setop set;
	int negated, if_exists;
};

/* ---- matching ---- */

static int ch_eq(char a, char b, int ic)
{
	return ic ? tolower((unsigned char)a) == tolower((unsigned char)b) : a == b;
}

/* pattern p[0..pn) against v[0..vn): * any run (empty too), ? one character. */
static int wild(const char *p, size_t pn, const char *v, size_t vn, int ic)
{
	size_t i = 0, j = 0, star = (size_t)-1, mark = 0;
	while (j < vn) {
		if (i < pn && p[i] == '*') {
			star = i++;
			mark = j;
		} else if (i < pn && (p[i] == '?' || ch_eq(p[i], v[j], ic))) {
			i++;
			j++;
		} else if (star != (size_t)-1) {
			i = star + 1;
			j = ++mark;
		} else {
			return 0;
		}
	}
	while (i < pn && p[i] == '*')
		i++;
	return i == pn;
}

int fake_iam_wildcard(const char *pattern, const char *value, int ignore_case)
{
	return wild(pattern, strlen(pattern), value, strlen(value), ignore_case);
}

/* The six parts of an ARN (the last holds the rest, colons included); 0 when not an ARN. */
static int arn_parts(const char *arn, const char *part[6], size_t len[6])
{
	const char *p = arn;
	for (int k = 0; k < 5; k++) {
		const char *c = strchr(p, ':');
		if (!c)
			return 0;
		part[k] = p;
		len[k] = (size_t)(c - p);
		p = c + 1;
	}
	part[5] = p;
	len[5] = strlen(p);
	return len[0] == 3 && strncmp(part[0], "arn", 3) == 0;
}

int fake_iam_arn_like(const char *pattern, const char *arn)
{
	if (strcmp(pattern, "*") == 0)
		return 1;
	const char *pp[6], *ap[6];
	size_t pl[6], al[6];
	if (!arn_parts(pattern, pp, pl) || !arn_parts(arn, ap, al))
		return fake_iam_wildcard(pattern, arn, 0);
	for (int k = 0; k < 6; k++)
		if (!wild(pp[k], pl[k], ap[k], al[k], 0))
			return 0;
	return 1;
}

/* [res] an ARN, or "*" (no resource-level permissions), which only "*" matches. */
static int resource_matches(const char *pattern, const char *resource)
{
	if (strcmp(resource, "*") == 0)
		return strcmp(pattern, "*") == 0;
	return fake_iam_arn_like(pattern, resource);
}

/* ---- conditions ---- */

/* An operator's name as iameval.py reads it; -1 when unknown. */
static int op_parse(const char *name, struct op *o)
{
	static const struct {
		const char *name;
		enum kind kind;
		int negated;
	} ops[] = {
		{ "stringequals", K_STR, 0 }, { "stringnotequals", K_STR, 1 },
		{ "stringequalsignorecase", K_STRI, 0 }, { "stringnotequalsignorecase", K_STRI, 1 },
		{ "stringlike", K_LIKE, 0 }, { "stringnotlike", K_LIKE, 1 },
		{ "arnequals", K_ARN, 0 }, { "arnlike", K_ARN, 0 },
		{ "arnnotequals", K_ARN, 1 }, { "arnnotlike", K_ARN, 1 },
		{ "bool", K_BOOL, 0 }, { "null", K_NULL, 0 },
	};
	memset(o, 0, sizeof *o);
	const char *colon = strchr(name, ':');
	if (colon) {
		size_t n = (size_t)(colon - name);
		if (n == strlen("ForAllValues") && strncasecmp(name, "ForAllValues", n) == 0)
			o->set = SET_ALL;
		else if (n == strlen("ForAnyValue") && strncasecmp(name, "ForAnyValue", n) == 0)
			o->set = SET_ANY;
		else
			return -1;
		name = colon + 1;
	}
	char low[64];
	size_t n = strlen(name);
	if (n >= sizeof low)
		return -1;
	for (size_t i = 0; i <= n; i++)
		low[i] = (char)tolower((unsigned char)name[i]);
	const size_t ie = strlen("ifexists");
	if (n > ie && strcmp(low + n - ie, "ifexists") == 0) {
		o->if_exists = 1;
		low[n - ie] = 0;
	}
	for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
		if (strcmp(low, ops[i].name) == 0) {
			o->kind = ops[i].kind;
			o->negated = ops[i].negated;
			return 0;
		}
	return -1;
}

/* A policy value as text (iameval.py's str(policy_value); booleans as Bool compares them). */
static const char *pv_text(const cJSON *v, char *tmp, size_t len)
{
	if (cJSON_IsString(v))
		return v->valuestring;
	if (cJSON_IsBool(v))
		return cJSON_IsTrue(v) ? "true" : "false";
	if (cJSON_IsNumber(v)) {
		snprintf(tmp, len, "%.17g", v->valuedouble);
		return tmp;
	}
	return "";
}

static int value_matches(enum kind k, const char *pv, const char *v)
{
	switch (k) {
	case K_STR:
		return strcmp(pv, v) == 0;
	case K_STRI:
	case K_BOOL:
		return strcasecmp(pv, v) == 0;
	case K_LIKE:
		return fake_iam_wildcard(pv, v, 0);
	case K_ARN:
		return fake_iam_arn_like(pv, v);
	default:
		return 0;
	}
}

/* The context's values of key (names case-insensitive); NULL when absent. */
static const cJSON *ctx_lookup(const cJSON *ctx, const char *key)
{
	const cJSON *kv;
	cJSON_ArrayForEach(kv, ctx)
		if (kv->string && strcasecmp(kv->string, key) == 0)
			return kv;
	return NULL;
}

/* The i-th value of a context entry (a string, or a list of them). */
static const char *ctx_value(const cJSON *e, int i, char *tmp, size_t len)
{
	if (cJSON_IsArray(e))
		return pv_text(cJSON_GetArrayItem(e, i), tmp, len);
	return i == 0 ? pv_text(e, tmp, len) : NULL;
}

static int ctx_count(const cJSON *e)
{
	if (!e || cJSON_IsNull(e))
		return 0;
	return cJSON_IsArray(e) ? cJSON_GetArraySize(e) : 1;
}

/* One value of the request against the policy's values. */
static int one(const struct op *o, const cJSON *pvals, const char *v)
{
	char tmp[64];
	int hit = 0;
	if (cJSON_IsArray(pvals)) {
		const cJSON *pv;
		cJSON_ArrayForEach(pv, pvals)
			if (value_matches(o->kind, pv_text(pv, tmp, sizeof tmp), v)) {
				hit = 1;
				break;
			}
	} else {
		hit = value_matches(o->kind, pv_text(pvals, tmp, sizeof tmp), v);
	}
	return o->negated ? !hit : hit;
}

/* [cond] [multi] one key under one operator. */
static int condition_holds(const struct op *o, const char *key, const cJSON *pvals, const cJSON *ctx)
{
	const cJSON *e = ctx_lookup(ctx, key);
	int n = ctx_count(e);
	char tmp[64];
	if (o->kind == K_NULL) {
		const cJSON *first = cJSON_IsArray(pvals) ? cJSON_GetArrayItem(pvals, 0) : pvals;
		int want_absent = strcasecmp(pv_text(first, tmp, sizeof tmp), "true") == 0;
		return (n == 0) == want_absent;
	}
	if (o->set == SET_ALL) {                /* true when absent or empty */
		for (int i = 0; i < n; i++)
			if (!one(o, pvals, ctx_value(e, i, tmp, sizeof tmp)))
				return 0;
		return 1;
	}
	if (o->set == SET_NONE && n == 0)
		return o->if_exists || o->negated;
	for (int i = 0; i < n; i++)
		if (one(o, pvals, ctx_value(e, i, tmp, sizeof tmp)))
			return 1;
	return 0;
}

static int conditions_hold(const cJSON *block, const cJSON *ctx)
{
	const cJSON *opj, *kv;
	cJSON_ArrayForEach(opj, block) {
		struct op o;
		if (op_parse(opj->string, &o) < 0)
			return 0;                   /* refused when parsed; never here */
		cJSON_ArrayForEach(kv, opj)
			if (!condition_holds(&o, kv->string, kv, ctx))
				return 0;
	}
	return 1;
}

/* ---- statements ---- */

static int any_matches(const cJSON *patterns, const char *value, int is_action)
{
	const cJSON *p;
	if (cJSON_IsString(patterns))
		return is_action ? fake_iam_wildcard(patterns->valuestring, value, 1)
				 : resource_matches(patterns->valuestring, value);
	cJSON_ArrayForEach(p, patterns)
		if (cJSON_IsString(p) && (is_action ? fake_iam_wildcard(p->valuestring, value, 1)
				  : resource_matches(p->valuestring, value)))
			return 1;
	return 0;
}

static int statement_applies(const cJSON *st, const char *action, const char *resource, const cJSON *ctx)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(st, "Action");
	if (a ? !any_matches(a, action, 1)
	      : any_matches(cJSON_GetObjectItemCaseSensitive(st, "NotAction"), action, 1))
		return 0;
	const cJSON *r = cJSON_GetObjectItemCaseSensitive(st, "Resource");
	if (r ? !any_matches(r, resource, 0)
	      : strcmp(resource, "*") != 0 &&
			any_matches(cJSON_GetObjectItemCaseSensitive(st, "NotResource"), resource, 0))
		return 0;
	return conditions_hold(cJSON_GetObjectItemCaseSensitive(st, "Condition"), ctx);
}

enum fake_iam_effect fake_iam_evaluate(const struct fake_iam_policy *p, const char *action, const char *resource,
				       const cJSON *context, const char **sid)
{
	const cJSON *allow = NULL;
	if (sid)
		*sid = NULL;
	for (size_t i = 0; p && i < p->n_st; i++) {
		const cJSON *st = p->st[i];
		if (!statement_applies(st, action, resource, context))
			continue;
		if (strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(st, "Effect")), "Deny") == 0) {
			if (sid)
				*sid = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(st, "Sid"));
			return FAKE_IAM_EXPLICIT_DENY;
		}
		if (!allow)
			allow = st;
	}
	if (!allow)
		return FAKE_IAM_IMPLICIT_DENY;
	if (sid)
		*sid = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(allow, "Sid"));
	return FAKE_IAM_ALLOW;
}

const char *fake_iam_effect_name(enum fake_iam_effect e)
{
	return e == FAKE_IAM_ALLOW ? "Allow" : e == FAKE_IAM_EXPLICIT_DENY ? "ExplicitDeny" : "ImplicitDeny";
}

/* ---- parsing ---- */

static int strings(const cJSON *v)
{
	const cJSON *x;
	if (cJSON_IsString(v))
		return 1;
	if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) == 0)
		return 0;
	cJSON_ArrayForEach(x, v)
		if (!cJSON_IsString(x))
			return 0;
	return 1;
}

/* A statement this evaluator reads; 0, or -1 with err. */
static int check_statement(const cJSON *st, size_t idx, char *err, size_t errlen)
{
	const char *sid = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(st, "Sid"));
	char name[96];
	snprintf(name, sizeof name, "statement %zu%s%s%s", idx + 1, sid ? " (" : "", sid ? sid : "", sid ? ")" : "");
	if (!cJSON_IsObject(st))
		return snprintf(err, errlen, "%s is not an object", name), -1;
	const char *eff = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(st, "Effect"));
	if (!eff || (strcmp(eff, "Allow") != 0 && strcmp(eff, "Deny") != 0))
		return snprintf(err, errlen, "%s: Effect must be Allow or Deny", name), -1;
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(st, "Action");
	const cJSON *na = cJSON_GetObjectItemCaseSensitive(st, "NotAction");
	if (!(a ? strings(a) && !na : strings(na)))
		return snprintf(err, errlen, "%s needs Action or NotAction (a string or a list of them)", name), -1;
	const cJSON *r = cJSON_GetObjectItemCaseSensitive(st, "Resource");
	const cJSON *nr = cJSON_GetObjectItemCaseSensitive(st, "NotResource");
	if (!(r ? strings(r) && !nr : strings(nr)))
		return snprintf(err, errlen, "%s needs Resource or NotResource (a string or a list of them)", name), -1;
	if (cJSON_GetObjectItemCaseSensitive(st, "Principal") || cJSON_GetObjectItemCaseSensitive(st, "NotPrincipal"))
		return snprintf(err, errlen, "%s has a Principal: not an identity-based policy", name), -1;
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(st, "Condition"), *opj, *kv;
	if (c && !cJSON_IsObject(c))
		return snprintf(err, errlen, "%s: Condition must be an object", name), -1;
	cJSON_ArrayForEach(opj, c) {
		struct op o;
		if (op_parse(opj->string, &o) < 0)
			return snprintf(err, errlen, "%s: unsupported condition operator '%s'", name, opj->string), -1;
		if (!cJSON_IsObject(opj))
			return snprintf(err, errlen, "%s: condition %s must map keys to values", name, opj->string), -1;
		cJSON_ArrayForEach(kv, opj)
			if (!cJSON_IsString(kv) && !cJSON_IsBool(kv) && !cJSON_IsNumber(kv) &&
			    !(cJSON_IsArray(kv) && cJSON_GetArraySize(kv) > 0))
				return snprintf(err, errlen, "%s: condition %s %s has no value", name, opj->string,
						kv->string), -1;
	}
	return 0;
}

void fake_iam_policy_free(struct fake_iam_policy *p)
{
	if (!p)
		return;
	cJSON_Delete(p->docs);
	free(p->st);
	free(p);
}

struct fake_iam_policy *fake_iam_policy_parse(const char *json, char *err, size_t errlen)
{
	cJSON *root = json ? cJSON_Parse(json) : NULL;
	if (!root) {
		snprintf(err, errlen, "the policy is not JSON");
		return NULL;
	}
	if (cJSON_IsObject(root)) {                 /* one document: a list of one */
		cJSON *list = cJSON_CreateArray();
		cJSON_AddItemToArray(list, root);
		root = list;
	}
	struct fake_iam_policy *p = tp_xcalloc(1, sizeof *p);
	p->docs = root;
	if (!cJSON_IsArray(root) || cJSON_GetArraySize(root) == 0) {
		snprintf(err, errlen, "a policy is a document or a non-empty list of them");
		goto bad;
	}
	const cJSON *doc;
	size_t cap = 0;
	cJSON_ArrayForEach(doc, root) {
		const cJSON *sts = cJSON_GetObjectItemCaseSensitive(doc, "Statement"), *st;
		if (!cJSON_IsObject(doc) || !(cJSON_IsArray(sts) || cJSON_IsObject(sts))) {
			snprintf(err, errlen, "a policy document needs a Statement (a list or one object)");
			goto bad;
		}
		size_t k = cJSON_IsObject(sts) ? 1 : (size_t)cJSON_GetArraySize(sts);
		for (size_t i = 0; i < k; i++) {
			st = cJSON_IsObject(sts) ? sts : cJSON_GetArrayItem(sts, (int)i);
			if (check_statement(st, p->n_st, err, errlen) < 0)
				goto bad;
			if (p->n_st == cap) {
				cap = cap ? cap * 2 : 16;
				p->st = tp_xrealloc(p->st, cap * sizeof *p->st);
			}
			p->st[p->n_st++] = st;
		}
	}
	return p;
bad:
	fake_iam_policy_free(p);
	return NULL;
}
