/* app.h: what a command that manages pipelines needs, opened once:
 * settings, the AWS client, the policy and the policy context. */
#ifndef TP_APP_H
#define TP_APP_H

#include "aws/aws.h"
#include "core/settings.h"

struct policy;
struct cJSON;

struct app {
	struct settings set;        /* instance settings */
	struct aws *aws;            /* signed calls, budgets, stats */
	struct policy *policy;      /* loaded once */
	struct bshared *budget;     /* the account-wide Lambda budget; NULL: local */
	long account_concurrency;   /* from GetAccountSettings, -1 until asked */
	long unreserved_min;        /* learned minimum of unreserved executions (core/pool.h):
				       -1 none learned, -2 until read */
	int code_versioned;         /* default code bucket versioned: 1/0, -1 until asked */
	int64_t code_versioned_at;  /* when asked (ms): asked again after 5 min */
	struct cJSON *settings_record; /* the stored shared settings (settings_store.h); holds set's strings */
	int settings_found;         /* a set is stored */
	char settings_conflict[1024]; /* settings given here that differ from the stored ones; "" none */
};

/* Open the AWS client, merge the stored shared settings into app->set
 * (settings_store.h; with s->from_env a differing stored set is updated)
 * and load the policy. */
int app_open(struct app *app, const struct settings *s, tp_err *e);

/* TP_OK, or SettingsDiffer naming the settings this process gives with
 * values other than the stored ones: nothing of the instance's shared state
 * may be written from it (reconcile, drift --fix, rollouts, pauses). */
int app_may_write(const struct app *app, tp_err *e);

/* Store app->set's shared settings (init; the controller's first run with
 * if_absent). *written: stored now. */
int app_settings_store(struct app *app, int if_absent, int *written, tp_err *e);
void app_close(struct app *app);

/* The policy's ctx as a new cJSON object (policy_set_ctx takes it):
 * instance, region, prefix, account_concurrency, unreserved_min, defaults,
 * now. Asks Lambda's GetAccountSettings once per process, and S3 whether
 * the default code bucket is versioned (defaults.code_bucket_versioned) at
 * most every 5 min. */
struct cJSON *app_policy_ctx_value(struct app *app);

/* Print per-operation request counts to stderr (text) or add them to obj. */
void app_stats_json(const struct app *app, struct cJSON *obj);

#endif
