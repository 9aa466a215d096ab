/* limit_group.h: limit groups, config items of their own kind (docs/consumer-layer.md
 * "Limit groups").
 *
 * A limit group caps the task starts of all its members together: one
 * customer's API key over all of its sites, one downstream service over all
 * tenants. Its item in the config table is keyed "limit#<name>" (a pipeline
 * name cannot hold '#', so the two never collide):
 *   {"pipeline": "limit#acme-api", "limit_group": "acme-api", "rate": "600/min", "burst": 5}
 * Members name it: {"pipeline": "site-1", "limit_group": "acme-api", ...}.
 * The policy's limit_group(item, ctx) checks a group's item and gives
 * {rate, burst}; a member's item reaches the policy's pipeline() with
 * limit_group replaced by {name, rate, burst} (limit_groups_resolve), so a
 * change of the group changes the member's inputs, hash and spec.
 *
 * A member naming a group that has no item is an error naming it, unless
 * the group was removed (the state table's limit-removed#<name>, written
 * when the removal is seen): then the member applies without it, with a
 * note, so removing a group removes it from its members at their next
 * apply. Nothing here deletes anything. */
#ifndef TP_LIMIT_GROUP_H
#define TP_LIMIT_GROUP_H

#include "base/base.h"

#include <stddef.h>

struct app;
struct cJSON;

#define LIMIT_GROUP_KEY_PREFIX "limit#"

/* A config table key of a group's item ("limit#<name>")? */
int limit_group_key_is(const char *key);
/* The group's name in such a key (a pointer into it). */
const char *limit_group_key_name(const char *key);
/* "limit#<name>", new string. */
char *limit_group_key(const char *name);

/* Make a put item a group's: an item with "limit_group" and no "pipeline"
 * gets the key; a key that does not match the name is an error. Returns 1
 * for a group item, 0 for any other (untouched), < 0 with why filled. */
int limit_group_item_keyed(struct cJSON *item, char *why, size_t len);

/* A run's view of the groups: each one read and checked once. */
struct limit_groups;

/* With app, the groups not added are read from the config table (and the
 * removal records from the state table); NULL: only added ones exist.
 * policy checks them, with the ctx its caller set. */
struct policy;
struct limit_groups *limit_groups_new(struct app *app, struct policy *policy);
void limit_groups_free(struct limit_groups *g);

/* A group's item known without a read (a scan, a file); NULL-safe. */
void limit_groups_add(struct limit_groups *g, const struct cJSON *item);

/* Assume group name removed (a plan, which writes no removal record). */
void limit_groups_removed(struct limit_groups *g, const char *name);

/* Check a group's item with the policy (and remember it): TP_OK, else
 * "BadLimitGroup" with the policy's reason, naming the group. */
int limit_groups_check(struct limit_groups *g, const struct cJSON *item, tp_err *e);

/* The item the policy's pipeline() gets for a config item: *out NULL when
 * the item names no group (use it as it is), else a new item with
 * limit_group as {name, rate, burst}, or without limit_group when the group
 * was removed (note then says so). TP_EINVAL "NoLimitGroup" for a group
 * that does not exist, "BadLimitGroup" for one the policy refuses. */
int limit_groups_resolve(struct limit_groups *g, const struct cJSON *item, struct cJSON **out, char *note,
			 size_t note_len, tp_err *e);

/* limit_groups_resolve, then the policy's pipeline() on what it gave. */
int limit_groups_spec(struct limit_groups *g, const struct cJSON *item, struct cJSON **spec, char *note,
		      size_t note_len, tp_err *e);

/* The config items naming group name (its members), sorted, deduplicated:
 * a filtered Scan of the config table. */
int limit_group_members(struct app *app, const char *name, char ***names, size_t *n, tp_err *e);
void limit_group_names_free(char **names, size_t n);

/* Record that the group's item was removed / is back (see above). */
int limit_group_removed(struct app *app, const char *name, tp_err *e);
int limit_group_present(struct app *app, const char *name, tp_err *e);

#endif
