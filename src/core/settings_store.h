/* settings_store.h: the instance's shared settings (settings.h,
 * settings_shared: consumer layers, code bucket and key, role, prefix,
 * owner, runtime, state table), stored once in the state table as
 * settings#instance (store.h), so every process shapes specs alike.
 *
 * A process reads the stored set when it opens (app_open): a setting it
 * leaves unset takes the stored value; one it gives (flag or environment)
 * with a different value is a conflict, and the process then refuses to
 * write shared state (app_may_write), naming the setting, unless it was
 * told to update the stored set (--settings-from-env). A setting absent
 * from the stored set is this process's own (nothing to agree with).
 * init writes the set (and the controller on its first run when none is
 * stored). */
#ifndef TP_SETTINGS_STORE_H
#define TP_SETTINGS_STORE_H

#include "aws/aws.h"
#include "core/settings.h"

struct cJSON;

#define STORE_PK_SETTINGS "settings#instance"

/* Merge the stored set into s. *record (the stored item, or NULL) keeps the
 * merged strings alive: cJSON_Delete it after s. *found: a set is stored
 * (a missing state table counts as none). conflict gets a message naming
 * every setting given with a different value ("" when none). */
int settings_store_merge(struct aws *a, struct settings *s, struct cJSON **record, int *found,
			 char *conflict, size_t len, tp_err *e);

/* Store s's shared settings; if_absent: only when no set is stored
 * (*written 0 then). */
int settings_store_save(struct aws *a, const struct settings *s, int if_absent, int *written, tp_err *e);

#endif
