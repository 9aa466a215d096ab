/* rolloutrec.h: the rollout record's plan (its waves and every target's
 * pipeline name), stored beside the head item `rollout#<id>`.
 *
 * A DynamoDB item holds at most 400 KB (Amazon DynamoDB Developer Guide,
 * "Constraints in Amazon DynamoDB", Items): 10,000 pipelines with
 * 40-character names already
 * pass it, so the plan's JSON text is cut into part items
 *   rollout#<id>#plan#<sha16>#<n>   n = 0..parts-1, each at most PART_BYTES
 * keyed by the first 16 hex digits of the text's SHA-256 (two runners racing
 * with different plans never mix parts), written before the head, which
 * names plan_sha, plan_parts and plan_bytes. Reading checks the hash. A head
 * written before this layout (a "plan" attribute of its own) stays readable. */
#ifndef TP_ROLLOUTREC_H
#define TP_ROLLOUTREC_H

#include "base/base.h"

#include <stddef.h>

struct aws;
struct cJSON;

#define ROLLOUTREC_PART_BYTES (300 * 1000) /* well under 400 KB with the key and names */

/* Write the parts of plan_json (text) and add plan_sha, plan_parts and
 * plan_bytes to head (an Item of AttributeValues) for the caller to write.
 * *writes (may be NULL) receives the number of PutItem calls made. */
int rolloutrec_write_plan(struct aws *a, const char *table, const char *id, const char *plan_json,
			  struct cJSON *head, size_t *writes, tp_err *e);

/* The plan text of a head item (caller frees): its parts, in order, checked
 * against plan_sha; or its own "plan" attribute (the older layout); "[]"
 * when it has neither. */
int rolloutrec_read_plan(struct aws *a, const char *table, const char *id, const struct cJSON *head,
			 char **plan_json, tp_err *e);

/* Delete the parts old_head names unless they are keep_sha's (best effort:
 * a leftover part is only unused bytes). */
void rolloutrec_drop_plan(struct aws *a, const char *table, const char *id, const struct cJSON *old_head,
			  const char *keep_sha);

#endif
