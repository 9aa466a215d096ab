/* settings.h: the instance settings every part agrees on, as struct
 * settings: defaults, then the environment, then flags (flags win). Each
 * setting's variable, flag, default, parser and doc line are in one table,
 * base/settings_table.c; `taskpipe help settings` and docs/settings.md are
 * generated from it. */
#ifndef TP_SETTINGS_H
#define TP_SETTINGS_H

#include "base/base.h"
#include "base/settings_table.h"

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
	enum setting_id id;   /* its table entry; the stored attribute is the entry's name */
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

/* The line a command's --help ends with: where the common settings are. */
extern const char settings_pointer[];

#endif
