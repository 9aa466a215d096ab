/* drift_json.h: a drift report (core/drift/drift.h) as the JSON document
 * drift --json, tp.drift and the scheduled run print:
 * {"pipelines":[{"pipeline","status","drift":[{"resource","field",
 *   "expected","actual",("note")}],"code_behind",("error"),("fix")}],
 *  "orphans":[{"pipeline","resources":[{"resource","name"}],("fix")}],
 *  "summary":{"checked","in_sync","drifted","missing","collision","error",
 *   "orphans","fixed","fix_failed","reserved_concurrency_checked"},
 *  "cursor":{"after","next","complete","total"}|null,"calls":{op:n},
 *  "lambda_calls":n,"lambda_calls_observe":n,
 *  "tag_fallback":{"queues","functions","queue_urls"},"elapsed_ms":n,
 *  "exit_code":n,"pool":{runtime/pool_json.h}}
 * a fix {"status":"fixed"|"failed","changes":[rec_json.h changes],("error")}
 * and an error {"code","message"}. */
#ifndef TP_DRIFT_JSON_H
#define TP_DRIFT_JSON_H

#include "core/drift/drift.h"

struct cJSON *drift_json(const struct drift_report *r);

#endif
