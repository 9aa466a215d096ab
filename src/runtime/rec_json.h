/* rec_json.h: reconcile results and their changes as JSON, the shape apply,
 * plan, the stream handlers, tp.apply and drift --fix print:
 *   {"pipeline","status","action","changes":[...],("error"),("spec_hash"),
 *    "requests":{"total","lambda","mutating"},("lease_renewals")}
 * a change {"resource","action"} (create, delete, "kept: N messages",
 * "recreate (State Failed: why)") or {"resource","field","from","to"}. */
#ifndef TP_REC_JSON_H
#define TP_REC_JSON_H

#include "core/reconcile/reconcile.h"

struct cJSON *rec_change_json(const struct diff_change *c);
struct cJSON *rec_changes_json(const struct diff_list *l);
struct cJSON *rec_result_json(const struct rec_result *r);

#endif
