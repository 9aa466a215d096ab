/* settings_table.h: every TASKPIPE_* variable the controller reads, in one
 * table (name, variable, flag, default, parser, doc), and the consumer
 * layer's environment in a second one, for documentation only.
 *
 * Production code reads a TASKPIPE_* variable only through this table
 * (build/check_settings.sh enforces it); `taskpipe help settings`,
 * docs/settings.md and docs/taskpipe.1 are generated from it (make docs).
 * The table is in base/ because base/ (log level, progress), aws/ (timeouts,
 * retry quota) and script/ (policy file and timeout) read settings too. */
#ifndef TP_SETTINGS_TABLE_H
#define TP_SETTINGS_TABLE_H

#include <stddef.h>

enum setting_id {
	/* instance settings: a flag and a variable */
	SET_CONFIG_TABLE,
	SET_STATE_TABLE,
	SET_CODE_BUCKET,
	SET_CODE_KEY,
	SET_RUNTIME,
	SET_CODE_STORAGE,
	SET_PREFIX,
	SET_OWNER,
	SET_ROLE_ARN,
	SET_CONSUMER_LAYER,
	SET_CONSUMER_LAYER_ARM64,
	SET_POLICY,
	SET_LAMBDA_RPS,
	SET_PARALLEL,
	SET_SETTINGS_FROM_ENV,
	/* environment only */
	SET_LAMBDA_RESERVE_RPS,
	SET_LAMBDA_BUDGET,
	SET_LAMBDA_GET_RPS,
	SET_TIMEOUT_MS,
	SET_RETRY_QUOTA,
	SET_DEADLINE_RESERVE_MS,
	SET_POLICY_TIMEOUT_MS,
	SET_ROLLOUT_LEASE_S,
	SET_CANARY_PAUSE_S,
	SET_HEALTH_WAIT_MAX_S,
	SET_METRIC_PERIOD_S,
	SET_LEASE_TTL_S,
	SET_LEASE_SKEW_S,
	SET_WATCH_MAX_ATTEMPTS,
	SET_INIT_TIMEOUT_S,
	SET_CREDENTIAL_PROCESS_TIMEOUT_MS,
	SET_LOG_LEVEL,
	SET_PROGRESS,
	SET_REPL_HISTORY,
	SET_METRICS,
	/* testing: the integration tests scale AWS's waits down with them */
	SET_WAIT_POLLS,
	SET_DRAIN_SETTLE_S,
	SET_TODAY,
	SET__N
};

/* The parser column: how a value is read and checked. */
enum setting_type {
	ST_STRING,  /* taken as given (non-empty) */
	ST_INT,     /* decimal integer in [min, max] */
	ST_NUMBER,  /* decimal number > 0 (rates) or >= 0 with min 0 */
	ST_CHOICE,  /* one of choices ("a|b|c"), case-sensitive */
	ST_BOOL,    /* 1 or true */
};

enum setting_use {
	SU_INSTANCE = 1,  /* stored once in the state table (settings#instance) */
	SU_TESTING = 2,   /* a test knob: the tests run the release binary, so it is there */
};

struct setting_def {
	const char *name;     /* short name, as in docs: "config_table" */
	const char *env;      /* TASKPIPE_... */
	const char *flag;     /* command-line flag; NULL: environment only */
	const char *arg;      /* the flag's value in help ("T"); NULL: a switch */
	const char *def;      /* default value; NULL: none (see unset) */
	const char *unset;    /* what applies without a value, when def is NULL */
	enum setting_type type;
	long min, max;        /* ST_INT, ST_NUMBER (min 0 or 1) */
	const char *choices;  /* ST_CHOICE */
	unsigned use;         /* enum setting_use bits */
	const char *doc;      /* one line */
};
extern const struct setting_def settings_table[SET__N];

/* The consumer layer's environment (taskpipe consume, src/runtime/consume*.c):
 * the function's contract, not controller settings. Documentation only. */
struct consumer_env_def {
	const char *env;
	const char *def;      /* NULL: unset */
	const char *doc;
};
extern const struct consumer_env_def consumer_env[];
extern const size_t consumer_env_n;

/* The variable as set (maybe empty); NULL: unset. */
const char *setting_raw(enum setting_id id);
/* The value if set and non-empty, else the default (maybe NULL). */
const char *setting_str(enum setting_id id);
/* Whether the value is set and non-empty. */
int setting_given(enum setting_id id);

/* ST_INT / ST_NUMBER / ST_CHOICE / ST_BOOL: parse value v by id's parser.
 * Returns 0 and *out, or -1 with why ("TASKPIPE_X='v' is not ..."). */
int setting_parse_long(enum setting_id id, const char *v, long *out, char *why, size_t why_len);
int setting_parse_double(enum setting_id id, const char *v, double *out, char *why, size_t why_len);

/* The variable's value by its parser: 1 set and valid, 0 unset (the
 * default), -1 invalid (the default, why says what was wrong). */
int setting_long(enum setting_id id, long *out, char *why, size_t why_len);
int setting_double(enum setting_id id, double *out, char *why, size_t why_len);
/* The same, an invalid value logged as a warning ("...; using DEFAULT"). */
long setting_long_or_warn(enum setting_id id);
double setting_double_or_warn(enum setting_id id);

/* The default of a numeric setting (its def parsed). */
long setting_default_long(enum setting_id id);

/* Look up by variable or flag name; SET__N: none. */
enum setting_id setting_by_env(const char *env);
enum setting_id setting_by_flag(const char *flag);

#endif
