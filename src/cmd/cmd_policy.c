/* cmd_policy.c: `taskpipe policy check` runs the policy on config items
 * without touching AWS; `taskpipe policy show` names the policy in force. */
#include "cmd/cmd_policy.h"

#include "base/base.h"
#include "aws/ddbval.h"
#include "base/jsonnum.h"
#include "script/policy.h"
#include "core/limit_group.h"
#include "core/runtimes.h"
#include "core/settings.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ITEM_FILE (4u << 20)

static const char help[] =
	"usage: taskpipe policy check [--policy FILE] [--ctx JSON|@FILE] ITEM.json...\n"
	"       taskpipe policy show [--policy FILE]\n"
	"\n"
	"check runs the policy's pipeline function on each item and prints one JSON\n"
	"line per item: {\"file\":...,\"ok\":true,\"spec\":{...}} or {\"file\":...,\"ok\":false,\"error\":...}.\n"
	"An item is a DynamoDB item in AttributeValue JSON ({\"pipeline\":{\"S\":\"a\"}}, or\n"
	"GetItem's {\"Item\":{...}}) or plain JSON ({\"pipeline\":\"a\",\"concurrency\":2}:\n"
	"strings become S, numbers N, booleans BOOL, objects M, arrays L, null NULL).\n"
	"ITEM \"-\" reads standard input. No AWS call is made.\n"
	"A limit group's item ({\"limit_group\":\"acme-api\",\"rate\":\"600/min\",\"burst\":5})\n"
	"runs through the policy's limit_group function instead and prints\n"
	"{\"file\":...,\"ok\":true,\"limit_group\":{\"rate\":...,\"burst\":...}}; a member's group\n"
	"must be among the ITEMs (groups are checked first, whatever their order).\n"
	"\n"
	"The policy's ctx comes from the settings (owner -> instance, prefix, code\n"
	"bucket and key, role ARN), AWS_REGION, account_concurrency 1000,\n"
	"unreserved_min 100, the runtime lifecycle table as of today (runtimes) and the\n"
	"current time; --ctx merges a JSON object over it\n"
	"(objects merge member by member).\n"
	"\n"
	"show prints {\"origin\":...,\"sha256\":...} for the policy in force.\n"
	"\n"
	"Exit status: 0 every item ok, 1 some item failed, 2 usage error or the\n"
	"policy does not load.\n\n";

/* ---------- items ---------- */

static int is_av(const cJSON *v)
{
	if (!cJSON_IsObject(v) || !v->child || v->child->next)
		return 0;
	const cJSON *c = v->child;
	const char *t = c->string;
	if (!strcmp(t, "S") || !strcmp(t, "N") || !strcmp(t, "B"))
		return cJSON_IsString(c);
	if (!strcmp(t, "BOOL") || !strcmp(t, "NULL"))
		return cJSON_IsBool(c);
	if (!strcmp(t, "M"))
		return cJSON_IsObject(c);
	if (!strcmp(t, "L") || !strcmp(t, "SS") || !strcmp(t, "NS") || !strcmp(t, "BS"))
		return cJSON_IsArray(c);
	return 0;
}

/* Every member an AttributeValue: the item is already DynamoDB JSON. */
static int is_av_item(const cJSON *obj)
{
	for (const cJSON *c = obj->child; c; c = c->next)
		if (!is_av(c))
			return 0;
	return 1;
}

static cJSON *plain_to_av(const cJSON *v)
{
	cJSON *o = cJSON_CreateObject();
	if (cJSON_IsString(v)) {
		cJSON_AddStringToObject(o, "S", v->valuestring);
	} else if (cJSON_IsRaw(v)) {
		cJSON_AddStringToObject(o, "N", v->valuestring); /* text as written (jsonnum_parse) */
	} else if (cJSON_IsNumber(v)) {
		char text[64];
		double d = v->valuedouble;
		if (d == floor(d) && fabs(d) < 9007199254740992.0)
			snprintf(text, sizeof text, "%.0f", d);
		else
			snprintf(text, sizeof text, "%.17g", d);
		cJSON_AddStringToObject(o, "N", text);
	} else if (cJSON_IsBool(v)) {
		cJSON_AddBoolToObject(o, "BOOL", cJSON_IsTrue(v));
	} else if (cJSON_IsNull(v)) {
		cJSON_AddTrueToObject(o, "NULL");
	} else if (cJSON_IsArray(v)) {
		cJSON *l = cJSON_AddArrayToObject(o, "L");
		for (const cJSON *c = v->child; c; c = c->next)
			cJSON_AddItemToArray(l, plain_to_av(c));
	} else {
		cJSON *m = cJSON_AddObjectToObject(o, "M");
		for (const cJSON *c = v->child; c; c = c->next)
			cJSON_AddItemToObject(m, c->string, plain_to_av(c));
	}
	return o;
}

/* Read and normalise one item file to an AttributeValue item. */
static int load_item(const char *file, cJSON **out, tp_err *e)
{
	*out = NULL;
	buf text = {0};
	int rc;
	if (strcmp(file, "-") == 0) {
		char chunk[4096];
		size_t n;
		while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0)
			buf_add(&text, chunk, n);
		buf_add(&text, "", 0);
		rc = TP_OK;
	} else {
		rc = tp_read_file(file, MAX_ITEM_FILE, &text, e);
	}
	if (rc < 0) {
		buf_free(&text);
		return rc;
	}
	if (ddbval_json_has_nul(buf_str(&text))) {
		/* cJSON would cut the string there: a name or env value silently shortened */
		buf_free(&text);
		return tp_errf(e, TP_EINVAL, "BadItem", "%s: a string holds a NUL character (\\u0000)", file);
	}
	cJSON *j = jsonnum_parse(buf_str(&text));
	buf_free(&text);
	if (!cJSON_IsObject(j)) {
		cJSON_Delete(j);
		return tp_errf(e, TP_EINVAL, "BadItem", "%s: not a JSON object", file);
	}
	cJSON *item = j;
	cJSON *wrapped = cJSON_GetObjectItemCaseSensitive(j, "Item");
	if (j->child && !j->child->next && cJSON_IsObject(wrapped))
		item = wrapped; /* GetItem output */
	cJSON *av = is_av_item(item) ? NULL : plain_to_av(item);
	cJSON *avitem = av ? cJSON_GetObjectItem(av, "M") : item;
	char why[300];
	/* what `put` would refuse (DynamoDB's number and set rules) fails here too */
	if (ddbval_check_item(avitem, why, sizeof why) < 0)
		rc = tp_errf(e, TP_EINVAL, "BadItem", "%s: %s", file, why);
	else if ((*out = cJSON_Duplicate(avitem, 1)))
		jsonnum_raw_to_numbers(*out); /* numbers outside N strings read as JSON reads them */
	cJSON_Delete(av);
	cJSON_Delete(j);
	return rc;
}

/* ---------- ctx ---------- */

static void add_str(cJSON *o, const char *k, const char *v)
{
	if (v)
		cJSON_AddStringToObject(o, k, v);
}

/* Merge src into dst: objects member by member, anything else replaces. */
static void merge(cJSON *dst, const cJSON *src)
{
	for (const cJSON *c = src->child; c; c = c->next) {
		cJSON *d = cJSON_GetObjectItemCaseSensitive(dst, c->string);
		if (d && cJSON_IsObject(d) && cJSON_IsObject(c))
			merge(d, c);
		else if (d)
			cJSON_ReplaceItemInObjectCaseSensitive(dst, c->string, cJSON_Duplicate(c, 1));
		else
			cJSON_AddItemToObject(dst, c->string, cJSON_Duplicate(c, 1));
	}
}

static int build_ctx(const struct settings *s, const char *override, cJSON **out, tp_err *e)
{
	*out = NULL;
	cJSON *ctx = cJSON_CreateObject();
	const char *region = getenv("AWS_REGION");
	if (!region || !*region)
		region = getenv("AWS_DEFAULT_REGION");
	add_str(ctx, "instance", s->owner);
	add_str(ctx, "region", region && *region ? region : "us-east-1");
	add_str(ctx, "prefix", s->prefix);
	cJSON_AddNumberToObject(ctx, "account_concurrency", 1000);
	cJSON_AddNumberToObject(ctx, "unreserved_min", 100);
	cJSON *d = cJSON_AddObjectToObject(ctx, "defaults");
	add_str(d, "code_bucket", s->code_bucket);
	add_str(d, "code_key", s->code_key);
	add_str(d, "role_arn", s->role_arn);
	add_str(d, "consumer_layer", s->consumer_layer);
	add_str(d, "consumer_layer_arm64", s->consumer_layer_arm64);
	add_str(d, "state_table", s->state_table);
	add_str(d, "runtime", s->runtime);
	/* Offline: whether the code bucket is versioned is not asked, so
	 * code_storage defaults to copy here unless a ctx override says
	 * defaults.code_bucket_versioned = true. */
	char today[11];
	runtimes_today(tp_now_ms(), today);
	cJSON_AddItemToObject(ctx, "runtimes", runtimes_ctx(today));
	cJSON_AddNumberToObject(ctx, "now", (double)(tp_now_ms() / 1000));
	int rc = TP_OK;
	if (override) {
		buf text = {0};
		if (override[0] == '@')
			rc = tp_read_file(override + 1, MAX_ITEM_FILE, &text, e);
		else
			buf_adds(&text, override);
		if (rc == TP_OK && ddbval_json_has_nul(buf_str(&text)))
			rc = tp_errf(e, TP_EINVAL, "BadCtx", "--ctx: a string holds a NUL character (\\u0000)");
		cJSON *o = rc == TP_OK ? cJSON_Parse(buf_str(&text)) : NULL;
		if (rc == TP_OK && !cJSON_IsObject(o))
			rc = tp_errf(e, TP_EINVAL, "BadCtx", "--ctx: not a JSON object");
		if (rc == TP_OK)
			merge(ctx, o);
		cJSON_Delete(o);
		buf_free(&text);
	}
	if (rc == TP_OK)
		*out = ctx;
	else
		cJSON_Delete(ctx);
	return rc;
}

/* ---------- commands ---------- */

static void print_json_string(const char *s)
{
	cJSON *j = cJSON_CreateString(s);
	char *t = cJSON_PrintUnformatted(j);
	fputs(t, stdout);
	free(t);
	cJSON_Delete(j);
}

static void print_result(const char *file, const char *what, const char *spec, const tp_err *e)
{
	fputs("{\"file\":", stdout);
	print_json_string(file);
	if (spec) {
		printf(",\"ok\":true,\"%s\":%s}\n", what, spec);
	} else {
		fputs(",\"ok\":false,\"error\":", stdout);
		print_json_string(e->message);
		fputs(",\"code\":", stdout);
		print_json_string(e->code);
		fputs("}\n", stdout);
	}
}

struct loaded {
	cJSON *item;      /* NULL: not loaded (err says why) */
	tp_err err;
	int group;        /* a limit group's item */
};

/* One item: a limit group's, or any other (its group checked before). */
static int check_one(struct limit_groups *lg, struct policy *p, const char *file, struct loaded *l)
{
	tp_err e = l->err;
	cJSON *sv = NULL;
	char *spec = NULL, note[300];
	int rc = l->item ? TP_OK : e.rc;
	if (rc == TP_OK && l->group) {
		rc = limit_groups_check(lg, l->item, &e);
		if (rc == TP_OK)
			rc = policy_limit_group(p, l->item, &sv, &e); /* to print what it gave */
	} else if (rc == TP_OK) {
		rc = limit_groups_spec(lg, l->item, &sv, note, sizeof note, &e);
	}
	if (rc == TP_OK)
		spec = cJSON_PrintUnformatted(sv); /* Raw numbers: every digit */
	print_result(file, l->group ? "limit_group" : "spec", spec, &e);
	fflush(stdout);
	cJSON_Delete(sv);
	free(spec);
	return rc != TP_OK;
}

/* Every item read first (stdin once), then the groups, then the rest, each
 * printed in its pass. */
static int check(struct policy *p, const cJSON *ctx, int argc, char **argv)
{
	int failed = 0;
	policy_set_ctx(p, ctx);
	struct limit_groups *lg = limit_groups_new(NULL, p);
	struct loaded *l = tp_xcalloc((size_t)argc + 1, sizeof *l);
	for (int i = 0; i < argc; i++) {
		char why[300] = "";
		if (load_item(argv[i], &l[i].item, &l[i].err) == TP_OK &&
		    (l[i].group = limit_group_item_keyed(l[i].item, why, sizeof why)) < 0) {
			tp_errf(&l[i].err, TP_EINVAL, "BadItem", "%s", why);
			cJSON_Delete(l[i].item);
			l[i].item = NULL;
			l[i].group = 0;
		}
	}
	for (int groups = 1; groups >= 0; groups--)
		for (int i = 0; i < argc; i++)
			if (l[i].group == groups)
				failed |= check_one(lg, p, argv[i], &l[i]);
	for (int i = 0; i < argc; i++)
		cJSON_Delete(l[i].item);
	free(l);
	limit_groups_free(lg);
	return failed ? 1 : 0;
}

int cmd_policy(int argc, char **argv)
{
	struct settings s;
	settings_init(&s);
	tp_err e = {0};
	argc--, argv++; /* past "policy" */
	if (settings_parse_flags(&s, &argc, argv, &e) < 0) {
		fprintf(stderr, "taskpipe policy: %s\n", e.message);
		return 2;
	}
	const char *sub = argc > 0 ? argv[0] : NULL;
	if (!sub || !strcmp(sub, "--help") || !strcmp(sub, "-h") || !strcmp(sub, "help")) {
		fputs(help, sub ? stdout : stderr);
		fputs(settings_pointer, sub ? stdout : stderr);
		return sub ? 0 : 2;
	}
	const char *ctx_arg = NULL;
	int n = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(help, stdout);
			return 0;
		} else if (!strcmp(argv[i], "--ctx")) {
			if (++i >= argc) {
				fputs("taskpipe policy: --ctx needs a value\n", stderr);
				return 2;
			}
			ctx_arg = argv[i];
		} else if (argv[i][0] == '-' && argv[i][1]) {
			fprintf(stderr, "taskpipe policy: unknown flag %s\n", argv[i]);
			return 2;
		} else {
			argv[1 + n++] = argv[i];
		}
	}
	int is_check = !strcmp(sub, "check");
	if (!is_check && strcmp(sub, "show")) {
		fprintf(stderr, "taskpipe policy: unknown subcommand '%s' (check or show)\n", sub);
		return 2;
	}
	if (is_check && n == 0) {
		fputs("taskpipe policy check: no ITEM.json given\n", stderr);
		return 2;
	}
	struct policy *p = NULL;
	if (policy_load(s.policy, NULL, &p, &e) < 0) {
		fprintf(stderr, "taskpipe policy: %s: %s\n", e.code, e.message);
		return 2;
	}
	int status = 0;
	if (is_check) {
		cJSON *ctx = NULL;
		if (build_ctx(&s, ctx_arg, &ctx, &e) < 0) {
			fprintf(stderr, "taskpipe policy: %s\n", e.message);
			status = 2;
		} else {
			status = check(p, ctx, n, argv + 1);
		}
		cJSON_Delete(ctx);
	} else {
		fputs("{\"origin\":", stdout);
		print_json_string(policy_origin(p));
		printf(",\"sha256\":\"%s\"}\n", policy_sha256(p));
	}
	policy_free(p);
	return status;
}

int cmd_policy_describe(char *out, size_t len)
{
	struct settings s;
	settings_init(&s);
	struct policy *p = NULL;
	tp_err e = {0};
	int rc = policy_load(s.policy, NULL, &p, &e);
	if (rc < 0)
		snprintf(out, len, "policy: (failed to load: %s)", e.message);
	else
		snprintf(out, len, "policy: %s sha256:%s", policy_origin(p), policy_sha256(p));
	policy_free(p);
	return rc;
}
