/* pause.h: what an operator's pause (the state table's pause#<name>, see
 * store.h) does to a pipeline, in one place for apply, plan and drift: the
 * spec's event source mapping is disabled (messages wait in the queue,
 * nothing is deleted) whatever the item's `enabled` says, and the policy
 * inputs hash differently, so a pause or a resume is never confirmed as
 * "unchanged". The item keeps the configuration's word. Pure. */
#ifndef TP_PAUSE_H
#define TP_PAUSE_H

struct cJSON;

/* Set spec.mapping.Enabled = false (the mapping part is created if absent). */
void pause_spec(struct cJSON *spec);

/* Fold "paused" into an input hash (hex, 65 bytes), in place. */
void pause_input_hash(char hash[65]);

#endif
