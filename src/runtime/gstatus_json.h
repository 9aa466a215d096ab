/* gstatus_json.h: group status rows as JSON, the shape `taskpipe status
 * --json` and tp.status() give:
 *   {"groups":[{"group","state",("message"),"enabled","rate","burst",
 *     "concurrency","starts_per_s":{"1m","5m"},"visible","in_flight",
 *     "delayed","oldest_age_s","dlq","errors_5m","throttles_5m","sent_5m",
 *     "last_activity","queue","function",("problem")}],
 *    "calls":{"dynamodb","sqs","cloudwatch","total"},"elapsed_ms",
 *    ("cloudwatch_problem")}
 * A value that could not be read is null. */
#ifndef TP_GSTATUS_JSON_H
#define TP_GSTATUS_JSON_H

#include "core/gstatus.h"

struct cJSON *gs_row_json(const struct gs_row *r);
struct cJSON *gs_report_json(const struct gs_report *r);

#endif
