/* pool_json.h: the concurrency pool report of plan, drift and ls (see
 * core/pool.h): the fleet's demand (sum of MaximumConcurrency and of
 * reservations) against the account's limit, as JSON and as one line. */
#ifndef TP_POOL_JSON_H
#define TP_POOL_JSON_H

#include "core/pool.h"

#include <stddef.h>

struct cJSON;

/* pa NULL: the account is unknown (why says so). Key order is part of the
 * output. */
struct cJSON *pool_json(const struct pool_account *pa, const tp_err *why, const struct pool_demand *d);
void pool_line(char *out, size_t len, const struct pool_account *pa, const tp_err *why,
	       const struct pool_demand *d);

#endif
