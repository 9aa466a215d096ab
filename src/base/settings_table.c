/* settings_table.c: the settings table and its parsers (settings_table.h). */
#include "base/settings_table.h"
#include "base/log.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct setting_def settings_table[SET__N] = {
	[SET_CONFIG_TABLE] = { "config_table", "TASKPIPE_CONFIG_TABLE", "--config-table", "T", "taskpipe-config", NULL,
		ST_STRING, 0, 0, NULL, 0,
		"config items; partition key pipeline (S), stream enabled" },
	[SET_STATE_TABLE] = { "state_table", "TASKPIPE_STATE_TABLE", "--state-table", "T", "taskpipe-state", NULL,
		ST_STRING, 0, 0, NULL, SU_INSTANCE,
		"status, leases, checkpoints; partition key pk (S)" },
	[SET_CODE_BUCKET] = { "code_bucket", "TASKPIPE_CODE_BUCKET", "--code-bucket", "B", NULL, "none",
		ST_STRING, 0, 0, NULL, SU_INSTANCE,
		"default consumer code bucket (versioned)" },
	[SET_CODE_KEY] = { "code_key", "TASKPIPE_CODE_KEY", "--code-key", "K", NULL, "none",
		ST_STRING, 0, 0, NULL, SU_INSTANCE,
		"default consumer code object key" },
	[SET_RUNTIME] = { "runtime", "TASKPIPE_RUNTIME", "--runtime", "R", NULL, "the policy's: provided.al2023",
		ST_STRING, 0, 0, NULL, SU_INSTANCE,
		"default consumer runtime (ctx.defaults.runtime); a deprecated one is refused" },
	[SET_CODE_STORAGE] = { "code_storage", "TASKPIPE_CODE_STORAGE", "--code-storage", "M", NULL,
		"reference on a versioned default bucket, else copy",
		ST_CHOICE, 0, 0, "reference|copy", 0,
		"default code_storage of items: reference or copy" },
	[SET_PREFIX] = { "prefix", "TASKPIPE_PREFIX", "--prefix", "P", "tp-", NULL,
		ST_STRING, 0, 0, NULL, SU_INSTANCE,
		"resource name prefix" },
	[SET_OWNER] = { "owner", "TASKPIPE_OWNER", "--owner", "O", "taskpipe", NULL,
		ST_STRING, 0, 0, NULL, SU_INSTANCE,
		"value of the taskpipe:owner tag on everything taskpipe creates" },
	[SET_ROLE_ARN] = { "role_arn", "TASKPIPE_ROLE_ARN", "--role-arn", "ARN", NULL, "none",
		ST_STRING, 0, 0, NULL, SU_INSTANCE,
		"execution role of the consumer functions" },
	[SET_CONSUMER_LAYER] = { "consumer_layer", "TASKPIPE_CONSUMER_LAYER", "--consumer-layer", "L", NULL,
		"none: items with a rate are refused",
		ST_STRING, 0, 0, NULL, SU_INSTANCE,
		"taskpipe-consumer layer version ARN (x86_64) that items with a rate get" },
	[SET_CONSUMER_LAYER_ARM64] = { "consumer_layer_arm64", "TASKPIPE_CONSUMER_LAYER_ARM64",
		"--consumer-layer-arm64", "L", NULL, "none",
		ST_STRING, 0, 0, NULL, SU_INSTANCE,
		"the same for arm64 functions" },
	[SET_POLICY] = { "policy", "TASKPIPE_POLICY", "--policy", "FILE", NULL,
		"$LAMBDA_TASK_ROOT/policy.lua, else the embedded policy",
		ST_STRING, 0, 0, NULL, 0,
		"policy file" },
	[SET_LAMBDA_RPS] = { "lambda_rps", "TASKPIPE_LAMBDA_RPS", "--lambda-rps", "N", "15", NULL,
		ST_NUMBER, 0, 0, NULL, 0,
		"Lambda control-plane requests/s of the account and region, shared by every taskpipe process" },
	[SET_PARALLEL] = { "parallel", "TASKPIPE_PARALLEL", "--parallel", "N", "16", NULL,
		ST_INT, 1, 2147483647, NULL, 0,
		"AWS requests in flight" },
	[SET_SETTINGS_FROM_ENV] = { "settings_from_env", "TASKPIPE_SETTINGS_FROM_ENV", "--settings-from-env", NULL,
		NULL, "off", ST_BOOL, 0, 0, NULL, 0,
		"1: store this process's settings as the instance's (settings#instance)" },

	[SET_LAMBDA_RESERVE_RPS] = { "lambda_reserve_rps", "TASKPIPE_LAMBDA_RESERVE_RPS", NULL, NULL, "3", NULL,
		ST_NUMBER, 0, 0, NULL, 0,
		"part of the Lambda budget the controller (the Lambda runtime) leaves to operators and other tools" },
	[SET_LAMBDA_BUDGET] = { "lambda_budget", "TASKPIPE_LAMBDA_BUDGET", NULL, NULL, "shared", NULL,
		ST_CHOICE, 0, 0, "shared|local", 0,
		"shared: meter Lambda calls through the state table; local: this process alone" },
	[SET_LAMBDA_GET_RPS] = { "lambda_get_rps", "TASKPIPE_LAMBDA_GET_RPS", NULL, NULL, "100", NULL,
		ST_NUMBER, 1, 0, NULL, 0,
		"the same budget for Lambda GetFunction (its own AWS limit), shared too" },
	[SET_TIMEOUT_MS] = { "timeout_ms", "TASKPIPE_TIMEOUT_MS", NULL, NULL, "30000", NULL,
		ST_INT, 1, 86400000, NULL, 0,
		"per-attempt timeout of an AWS request, ms" },
	[SET_RETRY_QUOTA] = { "retry_quota", "TASKPIPE_RETRY_QUOTA", NULL, NULL, "500", NULL,
		ST_INT, 1, 1000000, NULL, 0,
		"retry token bucket (a retry costs 5, after a timeout or reset 10)" },
	[SET_DEADLINE_RESERVE_MS] = { "deadline_reserve_ms", "TASKPIPE_DEADLINE_RESERVE_MS", NULL, NULL, "3000", NULL,
		ST_INT, 0, 900000, NULL, 0,
		"Lambda runtime: start no work this close to the invocation's deadline, ms" },
	[SET_POLICY_TIMEOUT_MS] = { "policy_timeout_ms", "TASKPIPE_POLICY_TIMEOUT_MS", NULL, NULL, "1000", NULL,
		ST_INT, 1, 86400000, NULL, 0,
		"wall-clock limit of one policy call, ms (a rollout call's: times 1 + targets / 5000)" },
	[SET_ROLLOUT_LEASE_S] = { "rollout_lease_s", "TASKPIPE_ROLLOUT_LEASE_S", NULL, NULL, "60", NULL,
		ST_INT, 1, 86400, NULL, 0,
		"rollout runner lease, s" },
	[SET_CANARY_PAUSE_S] = { "canary_pause_s", "TASKPIPE_CANARY_PAUSE_S", NULL, NULL, "300", NULL,
		ST_INT, 0, 86400, NULL, 0,
		"the default policy's canary pause before its health verdict, s" },
	[SET_HEALTH_WAIT_MAX_S] = { "health_wait_max_s", "TASKPIPE_HEALTH_WAIT_MAX_S", NULL, NULL, "900", NULL,
		ST_INT, 0, 86400, NULL, 0,
		"the default policy: longest a watched wave waits for traffic, s" },
	[SET_METRIC_PERIOD_S] = { "metric_period_s", "TASKPIPE_METRIC_PERIOD_S", NULL, NULL, "60", NULL,
		ST_INT, 1, 86400, NULL, 0,
		"period of the rollout health check's CloudWatch queries, s" },
	[SET_LEASE_TTL_S] = { "lease_ttl_s", "TASKPIPE_LEASE_TTL_S", NULL, NULL, "120", NULL,
		ST_INT, 1, 86400, NULL, 0,
		"longest pipeline lease (apply, drift --fix, stream), s; renewed once half-spent" },
	[SET_LEASE_SKEW_S] = { "lease_skew_s", "TASKPIPE_LEASE_SKEW_S", NULL, NULL, "30", NULL,
		ST_INT, 0, 86400, NULL, 0,
		"clock-skew margin: a lease is taken over only once it expired this long ago, s" },
	[SET_WATCH_MAX_ATTEMPTS] = { "watch_max_attempts", "TASKPIPE_WATCH_MAX_ATTEMPTS", NULL, NULL, "3", NULL,
		ST_INT, 1, 1000000, NULL, 0,
		"watch: tries of a stream record that fails for good before it is recorded and skipped" },
	[SET_INIT_TIMEOUT_S] = { "init_timeout_s", "TASKPIPE_INIT_TIMEOUT_S", NULL, NULL, "300", NULL,
		ST_INT, 0, 86400, NULL, 0,
		"init: how long to wait for a table to become ACTIVE (and its stream ENABLED), s" },
	[SET_CREDENTIAL_PROCESS_TIMEOUT_MS] = { "credential_process_timeout_ms", "TASKPIPE_CREDENTIAL_PROCESS_TIMEOUT_MS",
		NULL, NULL, "60000", NULL, ST_INT, 1, 86400000, NULL, 0,
		"a profile's credential_process not finished by then is killed and is an error, ms" },
	[SET_LOG_LEVEL] = { "log_level", "TASKPIPE_LOG_LEVEL", NULL, NULL, "INFO", NULL,
		ST_STRING, 0, 0, NULL, 0,
		"log level outside Lambda: DEBUG, INFO, WARN, ERROR (AWS_LAMBDA_LOG_LEVEL wins)" },
	[SET_PROGRESS] = { "progress", "TASKPIPE_PROGRESS", NULL, NULL, NULL, "on when stderr is a terminal",
		ST_CHOICE, 0, 0, "0|1", 0,
		"progress line on stderr: 0 off, 1 on even without a terminal" },
	[SET_REPL_HISTORY] = { "repl_history", "TASKPIPE_REPL_HISTORY", NULL, NULL, NULL, "~/.taskpipe_history",
		ST_STRING, 0, 0, NULL, 0,
		"repl: history file; set empty: none" },
	[SET_METRICS] = { "metrics", "TASKPIPE_METRICS", NULL, NULL, "fleet", NULL,
		ST_CHOICE, 0, 0, "off|fleet|detailed", 0,
		"EMF metric lines on stderr: off, fleet, or (consumer layer) detailed" },

	[SET_WAIT_POLLS] = { "wait_polls", "TASKPIPE_WAIT_POLLS", NULL, NULL, "120", NULL,
		ST_INT, 1, 1000000, NULL, SU_TESTING,
		"polls of one wait for a function update or a mapping transition before it fails retryable" },
	[SET_DRAIN_SETTLE_S] = { "drain_settle_s", "TASKPIPE_DRAIN_SETTLE_S", NULL, NULL, "60", NULL,
		ST_INT, 0, 86400, NULL, SU_TESTING,
		"how long a drained queue's counts must stay zero (their lag), s" },
	[SET_TODAY] = { "today", "TASKPIPE_TODAY", NULL, NULL, NULL, "the UTC date",
		ST_STRING, 0, 0, NULL, SU_TESTING,
		"the date (YYYY-MM-DD) the runtime table's phases are computed for" },
};

const struct consumer_env_def consumer_env[] = {
	{ "TASKPIPE_RATE", NULL, "tasks/s the function's instances together run at (decimal or \"N/s|m|h\"); unset: no pacing" },
	{ "TASKPIPE_CONCURRENCY", "1", "instances that share the rate (integer >= 1)" },
	{ "TASKPIPE_BURST", "1", "most records handed to the runtime at once (1..10000)" },
	{ "TASKPIPE_RATE_TABLE", NULL, "state table of the shared schedule (partition key pk, S); unset: a per-instance share" },
	{ "TASKPIPE_LIMIT_GROUP", NULL, "limit group (1..200 of [A-Za-z0-9_-]): every sub-batch also starts at a time booked on the group's schedule (item limit#<group> in TASKPIPE_RATE_TABLE)" },
	{ "TASKPIPE_LIMIT_GROUP_RATE", NULL, "the group's rate, tasks/s, for all its members together (with the group)" },
	{ "TASKPIPE_LIMIT_GROUP_BURST", NULL, "the group's burst (with the group); sub-batches hold at most min(TASKPIPE_BURST, it) records" },
	{ "TASKPIPE_DEADLINE_RESERVE_MS", "2000", "start no work this close to the invocation's deadline, ms" },
	{ "TASKPIPE_METRICS", "fleet", "metric lines: off, fleet or detailed (per function)" },
	{ "TASKPIPE_METRICS_INTERVAL", "60", "seconds between quiet metric lines (0..3600; 0: one per invocation)" },
};
const size_t consumer_env_n = sizeof consumer_env / sizeof consumer_env[0];

const char *setting_raw(enum setting_id id)
{
	return getenv(settings_table[id].env);
}

int setting_given(enum setting_id id)
{
	const char *v = setting_raw(id);
	return v && *v;
}

const char *setting_str(enum setting_id id)
{
	return setting_given(id) ? setting_raw(id) : settings_table[id].def;
}

static int choice_index(const char *choices, const char *v)
{
	size_t n = strlen(v);
	int i = 0;
	for (const char *c = choices; *c; i++) {
		const char *bar = strchr(c, '|');
		size_t len = bar ? (size_t)(bar - c) : strlen(c);
		if (len == n && strncmp(c, v, n) == 0)
			return i;
		if (!bar)
			break;
		c = bar + 1;
	}
	return -1;
}

int setting_parse_long(enum setting_id id, const char *v, long *out, char *why, size_t why_len)
{
	const struct setting_def *d = &settings_table[id];
	if (d->type == ST_CHOICE) {
		int i = choice_index(d->choices, v);
		if (i < 0) {
			snprintf(why, why_len, "%s='%.40s' is not one of %s", d->env, v, d->choices);
			return -1;
		}
		*out = i;
		return 0;
	}
	if (d->type == ST_BOOL) {
		*out = strcmp(v, "1") == 0 || strcmp(v, "true") == 0;
		return 0;
	}
	char *end;
	errno = 0;
	long n = strtol(v, &end, 10);
	if (!*v || *end || errno || n < d->min || n > d->max) {
		snprintf(why, why_len, "%s='%.40s' is not an integer in %ld..%ld", d->env, v, d->min, d->max);
		return -1;
	}
	*out = n;
	return 0;
}

int setting_parse_double(enum setting_id id, const char *v, double *out, char *why, size_t why_len)
{
	const struct setting_def *d = &settings_table[id];
	char *end;
	double x = strtod(v, &end);
	/* min 1: above zero; min 0: zero or more (NaN fails both) */
	if (!*v || *end || !isfinite(x) || !(d->min ? x > 0 : x >= 0)) {
		snprintf(why, why_len, "%s='%.40s' is not a number %s 0", d->env, v, d->min ? ">" : ">=");
		return -1;
	}
	*out = x;
	return 0;
}

long setting_default_long(enum setting_id id)
{
	const struct setting_def *d = &settings_table[id];
	long n = 0;
	char why[8];
	if (d->def)
		setting_parse_long(id, d->def, &n, why, sizeof why);
	return n;
}

int setting_long(enum setting_id id, long *out, char *why, size_t why_len)
{
	*out = setting_default_long(id);
	if (!setting_given(id))
		return 0;
	long n;
	if (setting_parse_long(id, setting_raw(id), &n, why, why_len) < 0)
		return -1;
	*out = n;
	return 1;
}

int setting_double(enum setting_id id, double *out, char *why, size_t why_len)
{
	const struct setting_def *d = &settings_table[id];
	*out = d->def ? strtod(d->def, NULL) : 0;
	if (!setting_given(id))
		return 0;
	double x;
	if (setting_parse_double(id, setting_raw(id), &x, why, why_len) < 0)
		return -1;
	*out = x;
	return 1;
}

long setting_long_or_warn(enum setting_id id)
{
	long n;
	char why[160];
	if (setting_long(id, &n, why, sizeof why) < 0)
		log_warn("%s; using %s", why, settings_table[id].def ? settings_table[id].def : "the default");
	return n;
}

double setting_double_or_warn(enum setting_id id)
{
	double x;
	char why[160];
	if (setting_double(id, &x, why, sizeof why) < 0)
		log_warn("%s; using %s", why, settings_table[id].def ? settings_table[id].def : "the default");
	return x;
}

enum setting_id setting_by_env(const char *env)
{
	for (int i = 0; i < SET__N; i++)
		if (strcmp(settings_table[i].env, env) == 0)
			return (enum setting_id)i;
	return SET__N;
}

enum setting_id setting_by_flag(const char *flag)
{
	for (int i = 0; i < SET__N; i++)
		if (settings_table[i].flag && strcmp(settings_table[i].flag, flag) == 0)
			return (enum setting_id)i;
	return SET__N;
}
