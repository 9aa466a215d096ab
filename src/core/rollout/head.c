/* head.c: a rollout's head item (rollout#<bucket>/<key>) as one run sees
 * it: reading it, writing a new generation with its plan, and the
 * runner's lease with the progress it records. The items' shapes are
 * store's (core/store.h); here is when to write and what a refused write
 * means (superseded or held by another runner). Below wave.c and
 * rollout.c, above status.c (the names). */
#include "core/rollout/ro.h"

#include "aws/ddb.h"
#include "base/settings_table.h"
#include "core/rollout/rolloutrec.h"
#include "core/store.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int64_t now_s(void)
{
	return tp_now_ms() / 1000;
}

int ro_lease_ttl(const struct ro *r)
{
	if (r->o.lease_ttl_s > 0)
		return r->o.lease_ttl_s;
	return (int)setting_long_or_warn(SET_ROLLOUT_LEASE_S);
}

int ro_deadline_near(const struct ro *r, int64_t extra_ms)
{
	if (!r->o.deadline_ms)
		return 0;
	int64_t reserve = r->o.reserve_ms ? r->o.reserve_ms : 15000;
	return tp_now_ms() + reserve + extra_ms > r->o.deadline_ms;
}

int ro_head_get(struct ro *r, cJSON **item, tp_err *e)
{
	return store_rollout_head_get(r->app->aws, r->app->set.state_table, r->id, item, e);
}

int ro_hdr_write(struct ro *r, enum hdr_how how, enum rollout_state status, tp_err *e)
{
	int64_t now = now_s();
	static const int lease[] = { [HDR_ACQUIRE] = STORE_ROLLOUT_ACQUIRE, [HDR_BEAT] = STORE_ROLLOUT_BEAT,
				     [HDR_RELEASE] = STORE_ROLLOUT_RELEASE };
	struct store_rollout_beat b = {
		.id = r->id, .gen = r->gen, .holder = r->holder, .how = lease[how],
		.status = rollout_state_name(status),
		.wave = r->wave, .next_at = (long)r->next_at, .judged = r->judged,
		.window_from = (long)r->window_from, .health_note = r->health_note,
		.rolled_back = r->rb.done, .rb_functions = r->rb.functions, .rb_rolled_back = r->rb.rolled_back,
		.rb_failed = r->rb.failed, .rb_lambda_calls = r->rb.lambda_calls, .rb_updates = r->rb.updates,
		.rb_to = r->rb.to_version,
		.error_function = r->fail_fn, .error_code = r->fail.code[0] ? r->fail.code : NULL,
		.error_message = r->fail.message,
		.now = (long)now, .lease_until = (long)(now + ro_lease_ttl(r)),
	};
	tp_err err = { 0 };
	int rc = store_rollout_beat(r->app->aws, r->app->set.state_table, &b, &err);
	if (rc == TP_OK)
		return TP_OK;
	if (!store_condition_failed(&err)) {
		*e = err;
		return rc;
	}
	cJSON *h = NULL;
	tp_err ge = { 0 };
	ro_head_get(r, &h, &ge);
	long g = ddb_get_long(h, "gen", 0);
	if (g != r->gen) {
		ro_stop(r, ROLLOUT_SUPERSEDED);
		rc = tp_errf(e, TP_ECONFLICT, "RolloutSuperseded",
			     "rollout of s3://%s was superseded by version %s", r->id,
			     ddb_get_str(h, "version", "?"));
	} else {
		ro_stop(r, ROLLOUT_BUSY);
		rc = tp_errf(e, TP_ECONFLICT, "RolloutBusy", "rollout of s3://%s is run by %s until %ld",
			     r->id, ddb_get_str(h, "holder", "?"), ddb_get_long(h, "lease_until", 0));
	}
	cJSON_Delete(h);
	return rc;
}

int ro_head_create(struct ro *r, long old_gen, const cJSON *old_head, tp_err *e)
{
	int64_t now = now_s();
	const struct store_rollout_head hd = {
		.id = r->id, .bucket = r->bucket, .key = r->key, .version = r->version ? r->version : "",
		.sha256 = r->sha, .mode = r->mode, .holder = r->holder, .gen = r->gen,
		.targets = (long)r->ts.n, .now = (long)now, .lease_until = (long)(now + ro_lease_ttl(r)),
	};
	cJSON *item = store_rollout_head_item(&hd);
	/* the plan goes into part items first (rolloutrec.h: 400 KB per item) */
	char *plan = cJSON_PrintUnformatted(r->plan);
	int rc = rolloutrec_write_plan(r->app->aws, r->app->set.state_table, r->id, plan, item, NULL, e);
	free(plan);
	if (rc == TP_OK)
		rc = store_rollout_head_put(r->app->aws, r->app->set.state_table, item, old_head != NULL, old_gen, e);
	if (rc == TP_OK && old_head) /* the replaced generation's parts are unused now */
		rolloutrec_drop_plan(r->app->aws, r->app->set.state_table, r->id, old_head,
				     ddb_get_str(item, "plan_sha", NULL));
	cJSON_Delete(item);
	return rc;
}
