/* app.h: what a command that manages pipelines needs, opened once:
 * settings, the AWS client, the policy and the policy context. */
#ifndef TP_APP_H
#define TP_APP_H

#include "aws.h"
#include "settings.h"

struct policy;
struct cJSON;

struct app {
	struct settings set;        /* instance settings */
	struct aws *aws;            /* signed calls, budgets, stats */
	struct policy *policy;      /* loaded once */
	struct bshared *budget;     /* the account-wide Lambda budget; NULL: local */
	long account_concurrency;   /* from GetAccountSettings, -1 until asked */
};

/* Open the AWS client and load the policy. */
int app_open(struct app *app, const struct settings *s, tp_err *e);
void app_close(struct app *app);

/* The policy's ctx as JSON text (malloc'd): instance, region, prefix,
 * account_concurrency, unreserved_min, defaults, now. Asks Lambda's
 * GetAccountSettings once per process. */
char *app_policy_ctx(struct app *app);

/* Print per-operation request counts to stderr (text) or add them to obj. */
void app_stats_json(const struct app *app, struct cJSON *obj);

#endif
