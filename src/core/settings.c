/* settings.c: instance settings from the environment and flags (see settings.h). */
#include "core/settings.h"

#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char settings_help[] =
	"settings (flag or environment variable):\n"
	"  --config-table T  TASKPIPE_CONFIG_TABLE  config items (default taskpipe-config)\n"
	"  --state-table T   TASKPIPE_STATE_TABLE   status, leases, checkpoints (default taskpipe-state)\n"
	"  --code-bucket B   TASKPIPE_CODE_BUCKET   default consumer code bucket\n"
	"  --code-key K      TASKPIPE_CODE_KEY      default consumer code key\n"
	"  --runtime R       TASKPIPE_RUNTIME       default consumer runtime (policy: provided.al2023)\n"
	"  --code-storage M  TASKPIPE_CODE_STORAGE  default code_storage of items: reference or copy\n"
	"                                           (default: reference on a versioned default bucket)\n"
	"  --prefix P        TASKPIPE_PREFIX        resource name prefix (default tp-)\n"
	"  --owner O         TASKPIPE_OWNER         owner tag value (default taskpipe)\n"
	"  --role-arn ARN    TASKPIPE_ROLE_ARN      consumer functions' execution role\n"
	"  --consumer-layer L  TASKPIPE_CONSUMER_LAYER\n"
	"                                           taskpipe-consumer layer version ARN for items with\n"
	"                                           a rate, x86_64 functions (README, \"Rates\")\n"
	"  --consumer-layer-arm64 L  TASKPIPE_CONSUMER_LAYER_ARM64\n"
	"                                           the same for arm64 functions\n"
	"  --policy FILE     TASKPIPE_POLICY        policy file (default: embedded policy)\n"
	"  --lambda-rps N    TASKPIPE_LAMBDA_RPS    Lambda control-plane budget of the account, shared\n"
	"                                           by every taskpipe process, req/s (default 15)\n"
	"  --parallel N      TASKPIPE_PARALLEL      requests in flight (default 16)\n"
	"  --json                                   machine-readable output\n"
	"  --settings-from-env  TASKPIPE_SETTINGS_FROM_ENV=1\n"
	"                                           store this process's settings as the instance's\n"
	"Consumer layers, code bucket and key, role, prefix, owner, runtime and state\n"
	"table are stored once in the state table (settings#instance, written by init):\n"
	"one a process leaves unset comes from there; one set to a different value\n"
	"makes the process refuse to write shared state, naming it.\n"
	"environment only:\n"
	"  TASKPIPE_LAMBDA_RESERVE_RPS  share of the Lambda budget the controller leaves to others (default 3)\n"
	"  TASKPIPE_LAMBDA_BUDGET       shared (state table, default) or local (this process alone)\n"
	"Flags win over the environment. AWS_REGION, AWS_ENDPOINT_URL[_<SERVICE>] and\n"
	"the usual AWS credentials apply too.\n";

const char settings_pointer[] =
	"Common settings (--config-table, --state-table, --prefix, --owner, --code-bucket,\n"
	"--role-arn, --consumer-layer, --policy, --json, ...): taskpipe help settings\n";

const struct setting_shared settings_shared[] = {
	{ "consumer_layer", "TASKPIPE_CONSUMER_LAYER", "--consumer-layer", offsetof(struct settings, consumer_layer) },
	{ "consumer_layer_arm64", "TASKPIPE_CONSUMER_LAYER_ARM64", "--consumer-layer-arm64",
	  offsetof(struct settings, consumer_layer_arm64) },
	{ "code_bucket", "TASKPIPE_CODE_BUCKET", "--code-bucket", offsetof(struct settings, code_bucket) },
	{ "code_key", "TASKPIPE_CODE_KEY", "--code-key", offsetof(struct settings, code_key) },
	{ "role_arn", "TASKPIPE_ROLE_ARN", "--role-arn", offsetof(struct settings, role_arn) },
	{ "prefix", "TASKPIPE_PREFIX", "--prefix", offsetof(struct settings, prefix) },
	{ "owner", "TASKPIPE_OWNER", "--owner", offsetof(struct settings, owner) },
	{ "runtime", "TASKPIPE_RUNTIME", "--runtime", offsetof(struct settings, runtime) },
	{ "state_table", "TASKPIPE_STATE_TABLE", "--state-table", offsetof(struct settings, state_table) },
};
const size_t settings_shared_n = sizeof settings_shared / sizeof settings_shared[0];

const char **settings_field(struct settings *s, size_t i)
{
	return (const char **)((char *)s + settings_shared[i].offset);
}

/* Mark settings_shared entries given by the environment (non-empty). */
static void mark_env(struct settings *s)
{
	for (size_t i = 0; i < settings_shared_n; i++) {
		const char *v = getenv(settings_shared[i].env);
		if (v && *v)
			s->given |= 1u << i;
	}
	const char *fe = getenv("TASKPIPE_SETTINGS_FROM_ENV");
	s->from_env = fe && (strcmp(fe, "1") == 0 || strcmp(fe, "true") == 0);
}

static void mark_flag(struct settings *s, const char *flag)
{
	for (size_t i = 0; i < settings_shared_n; i++)
		if (strcmp(flag, settings_shared[i].flag) == 0)
			s->given |= 1u << i;
}

static const char *env_or(const char *name, const char *fallback)
{
	const char *v = getenv(name);
	return v && *v ? v : fallback;
}

void settings_init(struct settings *s)
{
	memset(s, 0, sizeof *s);
	s->config_table = env_or("TASKPIPE_CONFIG_TABLE", "taskpipe-config");
	s->state_table = env_or("TASKPIPE_STATE_TABLE", "taskpipe-state");
	s->code_bucket = env_or("TASKPIPE_CODE_BUCKET", NULL);
	s->code_key = env_or("TASKPIPE_CODE_KEY", NULL);
	s->runtime = env_or("TASKPIPE_RUNTIME", NULL);
	s->code_storage = env_or("TASKPIPE_CODE_STORAGE", NULL);
	s->prefix = env_or("TASKPIPE_PREFIX", "tp-");
	s->owner = env_or("TASKPIPE_OWNER", "taskpipe");
	s->role_arn = env_or("TASKPIPE_ROLE_ARN", NULL);
	s->consumer_layer = env_or("TASKPIPE_CONSUMER_LAYER", NULL);
	s->consumer_layer_arm64 = env_or("TASKPIPE_CONSUMER_LAYER_ARM64", NULL);
	s->policy = env_or("TASKPIPE_POLICY", NULL);
	s->lambda_rps = atof(env_or("TASKPIPE_LAMBDA_RPS", "15"));
	s->parallel = atoi(env_or("TASKPIPE_PARALLEL", "16"));
	s->lambda_reserve_rps = atof(env_or("TASKPIPE_LAMBDA_RESERVE_RPS", "3"));
	s->lambda_budget_local = strcmp(env_or("TASKPIPE_LAMBDA_BUDGET", "shared"), "local") == 0;
	mark_env(s);
}

int settings_parse_flags(struct settings *s, int *argc, char **argv, tp_err *e)
{
	int out = 0;
	for (int i = 0; i < *argc; i++) {
		const char *a = argv[i];
		const char **target = NULL;
		int number = 0;
		if (strcmp(a, "--json") == 0) {
			s->json = 1;
			continue;
		}
		if (strcmp(a, "--settings-from-env") == 0) {
			s->from_env = 1;
			continue;
		}
		if (strcmp(a, "--config-table") == 0) target = &s->config_table;
		else if (strcmp(a, "--state-table") == 0) target = &s->state_table;
		else if (strcmp(a, "--code-bucket") == 0) target = &s->code_bucket;
		else if (strcmp(a, "--code-key") == 0) target = &s->code_key;
		else if (strcmp(a, "--runtime") == 0) target = &s->runtime;
		else if (strcmp(a, "--code-storage") == 0) target = &s->code_storage;
		else if (strcmp(a, "--prefix") == 0) target = &s->prefix;
		else if (strcmp(a, "--owner") == 0) target = &s->owner;
		else if (strcmp(a, "--role-arn") == 0) target = &s->role_arn;
		else if (strcmp(a, "--consumer-layer") == 0) target = &s->consumer_layer;
		else if (strcmp(a, "--consumer-layer-arm64") == 0) target = &s->consumer_layer_arm64;
		else if (strcmp(a, "--policy") == 0) target = &s->policy;
		else if (strcmp(a, "--lambda-rps") == 0 || strcmp(a, "--parallel") == 0) number = 1;
		if (!target && !number) {
			argv[out++] = argv[i];
			continue;
		}
		if (i + 1 >= *argc)
			return tp_errf(e, TP_EINVAL, "BadFlag", "%s needs a value", a);
		const char *v = argv[++i];
		if (target) {
			*target = v;
			if (*v)
				mark_flag(s, a);
		} else {
			char *end;
			double d = strtod(v, &end);
			if (*end || !(d > 0)) /* NaN too */
				return tp_errf(e, TP_EINVAL, "BadFlag", "%s: '%s' is not a positive number", a, v);
			if (strcmp(a, "--parallel") == 0) {
				/* checked before the cast: (int) of a double beyond int is UB */
				if (d >= (double)INT_MAX + 1.0)
					return tp_errf(e, TP_EINVAL, "BadFlag", "%s: '%s' is out of range (at most %d)",
						       a, v, INT_MAX);
				s->parallel = (int)d;
			}
			else
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
