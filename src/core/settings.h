/* settings.h: the instance settings every part agrees on (README "Settings"):
 * each an environment variable and a command-line flag.
 *
 *   --config-table  TASKPIPE_CONFIG_TABLE  taskpipe-config  (partition key "pipeline", S)
 *   --state-table   TASKPIPE_STATE_TABLE   taskpipe-state   (partition key "pk", S)
 *   --code-bucket   TASKPIPE_CODE_BUCKET   (none)           default consumer code bucket
 *   --code-key      TASKPIPE_CODE_KEY      (none)           default consumer code key
 *   --runtime       TASKPIPE_RUNTIME       (policy's)       default consumer runtime
 *   --code-storage  TASKPIPE_CODE_STORAGE  (by versioning)  default code_storage of items
 *   --prefix        TASKPIPE_PREFIX        tp-              resource name prefix
 *   --owner         TASKPIPE_OWNER         taskpipe         owner tag value
 *   --role-arn      TASKPIPE_ROLE_ARN      (none)           consumers' execution role
 *   --consumer-layer TASKPIPE_CONSUMER_LAYER (none)         consumer layer version ARN (items with rate)
 *   --consumer-layer-arm64 TASKPIPE_CONSUMER_LAYER_ARM64 (none)  the same for arm64 functions
 *   --policy        TASKPIPE_POLICY        (embedded)       policy file
 *   --lambda-rps    TASKPIPE_LAMBDA_RPS    15               Lambda control-plane budget
 *   --parallel      TASKPIPE_PARALLEL      16               requests in flight
 * and, environment only:
 *   TASKPIPE_LAMBDA_RESERVE_RPS  3        share of the Lambda budget the controller leaves to others
 *   TASKPIPE_LAMBDA_BUDGET       shared   "shared" (state table) or "local" (this process alone)
 * Flags win over the environment. */
#ifndef TP_SETTINGS_H
#define TP_SETTINGS_H

#include "base/base.h"

struct settings {
	const char *config_table;
	const char *state_table;
	const char *code_bucket;
	const char *code_key;
	const char *runtime;
	const char *code_storage;   /* default code_storage of items ("reference"/"copy"); NULL: by the bucket's versioning */
	const char *prefix;
	const char *owner;
	const char *role_arn;
	const char *consumer_layer;        /* taskpipe-consumer layer version ARN (x86_64) */
	const char *consumer_layer_arm64;  /* the same, arm64 */
	const char *policy;
	double lambda_rps;
	double lambda_reserve_rps;
	int lambda_budget_local;  /* TASKPIPE_LAMBDA_BUDGET=local */
	int parallel;
	int json;          /* --json: machine-readable output */
	unsigned given;    /* bit i: settings_shared[i] came from a flag or the environment */
	int from_env;      /* --settings-from-env / TASKPIPE_SETTINGS_FROM_ENV=1: update the stored set */
};

/* The settings that shape a spec, stored once in the state table
 * (settings#instance, core/settings_store.h) so every process agrees. */
struct setting_shared {
	const char *attr;     /* attribute of the stored record */
	const char *env;      /* environment variable */
	const char *flag;     /* command-line flag */
	size_t offset;        /* of the const char * field in struct settings */
};
extern const struct setting_shared settings_shared[];
extern const size_t settings_shared_n;
/* The field of s that settings_shared[i] names. */
const char **settings_field(struct settings *s, size_t i);

/* Defaults, then the environment. */
void settings_init(struct settings *s);

/* Consume the settings flags (and --json) from argv, in place: the
 * remaining arguments are compacted to argv[0..*argc). Unknown flags are
 * left for the command. Returns TP_EINVAL on a flag without its value. */
int settings_parse_flags(struct settings *s, int *argc, char **argv, tp_err *e);

/* The start every command shares: defaults and environment, then --help
 * (prints usage and the settings, returns 0) and the settings flags (a bad
 * one prints "taskpipe CMD: why" and returns 2). Returns -1 to go on. */
int settings_cli(struct settings *s, const char *cmd, const char *usage, int *argc, char **argv);

/* Every setting, for `taskpipe help settings`. */
extern const char settings_help[];
/* The line a command's --help ends with: where the common settings are. */
extern const char settings_pointer[];

#endif
