/* config_item.h: one config item by name, read, written or deleted: the
 * calls taskpipe rm/forget/pause and the REPL's tp.get/put/delete share
 * (the config table's key is `pipeline`, a string). Items are DynamoDB
 * items (maps of AttributeValues); checking one is the caller's. */
#ifndef TP_CONFIG_ITEM_H
#define TP_CONFIG_ITEM_H

#include "core/app.h"

struct cJSON;

/* The item (consistent read), the caller's; *item NULL when there is none. */
int config_item_get(struct app *app, const char *name, struct cJSON **item, tp_err *e);
/* The same without a struct app: table is the config table. */
int config_item_read(struct aws *a, const char *table, const char *name, struct cJSON **item, tp_err *e);

/* Is there an item of that name (consistent read)? */
int config_item_exists(struct app *app, const char *name, int *exists, tp_err *e);

/* Write item (it names itself: `pipeline`); item stays the caller's. */
int config_item_put(struct app *app, const struct cJSON *item, tp_err *e);

/* Delete the item. must_exist: only if it is there (a condition, so an
 * item deleted meanwhile is never "removed"), else NotFound ("no such
 * config item in <table>"); without it, deleting nothing is no error. */
int config_item_delete(struct app *app, const char *name, int must_exist, tp_err *e);

#endif
