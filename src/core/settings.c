/* settings.c: instance settings from the environment and flags (see settings.h). */
#include "core/settings.h"

#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char settings_pointer[] =
	"Common settings (--config-table, --state-table, --prefix, --owner, --code-bucket,\n"
	"--role-arn, --consumer-layer, --policy, --json, ...): taskpipe help settings\n";

/* The settings that shape a spec, in the order of settings.given's bits. */
const struct setting_shared settings_shared[] = {
	{ SET_CONSUMER_LAYER, offsetof(struct settings, consumer_layer) },
	{ SET_CONSUMER_LAYER_ARM64, offsetof(struct settings, consumer_layer_arm64) },
	{ SET_CODE_BUCKET, offsetof(struct settings, code_bucket) },
	{ SET_CODE_KEY, offsetof(struct settings, code_key) },
	{ SET_ROLE_ARN, offsetof(struct settings, role_arn) },
	{ SET_PREFIX, offsetof(struct settings, prefix) },
	{ SET_OWNER, offsetof(struct settings, owner) },
	{ SET_RUNTIME, offsetof(struct settings, runtime) },
	{ SET_STATE_TABLE, offsetof(struct settings, state_table) },
};
const size_t settings_shared_n = sizeof settings_shared / sizeof settings_shared[0];

/* The string settings: the table's entry and struct settings' field. */
static const struct setting_shared string_fields[] = {
	{ SET_CONFIG_TABLE, offsetof(struct settings, config_table) },
	{ SET_STATE_TABLE, offsetof(struct settings, state_table) },
	{ SET_CODE_BUCKET, offsetof(struct settings, code_bucket) },
	{ SET_CODE_KEY, offsetof(struct settings, code_key) },
	{ SET_RUNTIME, offsetof(struct settings, runtime) },
	{ SET_CODE_STORAGE, offsetof(struct settings, code_storage) },
	{ SET_PREFIX, offsetof(struct settings, prefix) },
	{ SET_OWNER, offsetof(struct settings, owner) },
	{ SET_ROLE_ARN, offsetof(struct settings, role_arn) },
	{ SET_CONSUMER_LAYER, offsetof(struct settings, consumer_layer) },
	{ SET_CONSUMER_LAYER_ARM64, offsetof(struct settings, consumer_layer_arm64) },
	{ SET_POLICY, offsetof(struct settings, policy) },
};
#define N_STRING_FIELDS (sizeof string_fields / sizeof string_fields[0])

static const char **field_at(struct settings *s, size_t offset)
{
	return (const char **)((char *)s + offset);
}

const char **settings_field(struct settings *s, size_t i)
{
	return field_at(s, settings_shared[i].offset);
}

/* Mark settings_shared entries given by the environment (non-empty). */
static void mark_env(struct settings *s)
{
	for (size_t i = 0; i < settings_shared_n; i++)
		if (setting_given(settings_shared[i].id))
			s->given |= 1u << i;
	s->from_env = setting_long_or_warn(SET_SETTINGS_FROM_ENV) == 1;
}

static void mark_flag(struct settings *s, enum setting_id id)
{
	for (size_t i = 0; i < settings_shared_n; i++)
		if (settings_shared[i].id == id)
			s->given |= 1u << i;
}

void settings_init(struct settings *s)
{
	memset(s, 0, sizeof *s);
	for (size_t i = 0; i < N_STRING_FIELDS; i++)
		*field_at(s, string_fields[i].offset) = setting_str(string_fields[i].id);
	s->lambda_rps = setting_double_or_warn(SET_LAMBDA_RPS);
	s->parallel = (int)setting_long_or_warn(SET_PARALLEL);
	s->lambda_reserve_rps = setting_double_or_warn(SET_LAMBDA_RESERVE_RPS);
	s->lambda_budget_local = setting_long_or_warn(SET_LAMBDA_BUDGET) == 1; /* shared|local */
	mark_env(s);
}

static const char **string_field(struct settings *s, enum setting_id id)
{
	for (size_t i = 0; i < N_STRING_FIELDS; i++)
		if (string_fields[i].id == id)
			return field_at(s, string_fields[i].offset);
	return NULL;
}

int settings_parse_flags(struct settings *s, int *argc, char **argv, tp_err *e)
{
	int out = 0;
	for (int i = 0; i < *argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--json") == 0) {
			s->json = 1;
			continue;
		}
		enum setting_id id = setting_by_flag(a);
		if (id == SET__N) {
			argv[out++] = argv[i];
			continue;
		}
		if (!settings_table[id].arg) {   /* a switch: --settings-from-env */
			s->from_env = 1;
			continue;
		}
		if (i + 1 >= *argc)
			return tp_errf(e, TP_EINVAL, "BadFlag", "%s needs a value", a);
		const char *v = argv[++i];
		const char **target = string_field(s, id);
		if (target) {
			*target = v;
			if (*v)
				mark_flag(s, id);
			continue;
		}
		char *end;
		double d = strtod(v, &end);
		if (*end || !(d > 0)) /* NaN too */
			return tp_errf(e, TP_EINVAL, "BadFlag", "%s: '%s' is not a positive number", a, v);
		if (id == SET_PARALLEL) {
			/* checked before the cast: (int) of a double beyond int is UB */
			if (d >= (double)INT_MAX + 1.0)
				return tp_errf(e, TP_EINVAL, "BadFlag", "%s: '%s' is out of range (at most %d)",
					       a, v, INT_MAX);
			s->parallel = (int)d;
		} else {
			s->lambda_rps = d;
		}
	}
	*argc = out;
	return TP_OK;
}

int settings_cli(struct settings *s, const char *cmd, const char *usage, int *argc, char **argv)
{
	settings_init(s);
	for (int i = 1; i < *argc; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			printf("%s\n%s", usage, settings_pointer);
			return 0;
		}
	tp_err e = { 0 };
	if (settings_parse_flags(s, argc, argv, &e) < 0) {
		fprintf(stderr, "taskpipe %s: %s\n", cmd, e.message);
		return 2;
	}
	return -1;
}
