/* ls_json.h: a row of `ls` (core/ops_ls.h) as JSON, the shape taskpipe ls
 * --json prints and tp.ls() returns (there, "item" is the item itself):
 *   {"pipeline","item" (bool),"enabled","paused",("paused_by","paused_at",
 *    "pause_reason"),"rate","concurrency","status","updated_at",
 *    ("expires_at"),("drain_started_at","drain_timeout"),
 *    ("kept":[{"resource","queue","messages"}]),("message"),("queue_url"),
 *    ("queue_arn")}
 * Scripts read these names: keep them. */
#ifndef TP_LS_JSON_H
#define TP_LS_JSON_H

#include "core/ops_ls.h"

struct cJSON *ls_row_json(const struct ops_ls_row *r);

#endif
