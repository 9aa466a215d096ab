/* rolloutjson.h: a rollout's outcome and status as JSON, for `taskpipe
 * rollout --json`, tp.rollout() and the runtime's event answers. The
 * shape is the documented one (docs/rollouts.md "Rollouts"). */
#ifndef TP_ROLLOUTJSON_H
#define TP_ROLLOUTJSON_H

#include "core/rollout/rollout.h"

struct cJSON;

/* {"rollout","status","sha256",...,"calls"} of one run (new). */
struct cJSON *rolloutjson_result(const struct rollout_result *r);
/* An array of them. */
struct cJSON *rolloutjson_results(const struct rollout_result *r, size_t n);
/* [{"rollout","status",...,"waves"}] of `rollout status` (new). */
struct cJSON *rolloutjson_status(const struct rollout_status *s, size_t n);

#endif
