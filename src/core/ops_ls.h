/* ops_ls.h: `ls`, once. The config items and the pipelines the state table
 * records, one row each, sorted by name, with one set of status words. The
 * CLI (taskpipe ls, text and --json through runtime/ls_json.c) and the REPL
 * (tp.ls()) only render these rows; neither reads the tables itself.
 *
 * Which rows: every config item (matching a pattern, when any is given),
 * and each pipeline record whose item is gone and that is not deleted yet
 * (draining, kept, or "(no item)" until taskpipe forget). kept_only keeps
 * only the rows whose status is kept (taskpipe ls --kept, taskpipe kept).
 *
 * Status words (row->status): the record's (ok, error, draining, kept,
 * deleted; "?" for a word taskpipe never writes), or OPS_LS_PENDING when
 * there is no record: the item was never applied.
 *
 * Kinds: a config item is a pipeline's, or a limit group's (keyed
 * "limit#<name>", not a pipeline: core/limit_group.h). ops_ls_kind_of()
 * tells them apart; a group's row has its rate, burst and members (the
 * items naming it) and comes after the pipelines'; renderers switch on
 * row->kind. */
#ifndef TP_OPS_LS_H
#define TP_OPS_LS_H

#include "core/app.h"
#include "core/names.h"
#include "core/pool.h"
#include "core/store.h"

struct cJSON;

#define OPS_LS_PENDING "pending"   /* an item with no state record: never applied */

enum ops_ls_kind {
	OPS_LS_PIPELINE,   /* a pipeline (an item, its record, or both) */
	OPS_LS_LIMIT_GROUP,/* a limit group's item (core/limit_group.h): rows after the pipelines' */
};

/* A queue a drained pipeline kept because it held messages. */
struct ops_ls_kept {
	const char *resource;   /* "queue" or "dead-letter queue" */
	char queue[NAMES_QUEUE_MAX + 1];
	long messages;          /* counted when it was kept */
};

struct ops_ls_row {
	int kind;                         /* enum ops_ls_kind */
	const char *name;
	const struct cJSON *item;         /* the config item (AttributeValues); NULL: gone */
	int enabled;                      /* the item's word (no item: 0) */
	char rate[64], concurrency[64];   /* as the item states them; "-" when unset */
	const char *status;               /* see above */
	long updated_at;                  /* of the record; 0: none */
	long expires_at;                  /* the item's TTL; 0: none */
	const struct store_pause *pause;  /* an operator's pause; NULL: none */
	long drain_started_at, drain_timeout;   /* 0: not draining */
	struct ops_ls_kept kept[2];       /* kept queues, n_kept of them */
	int n_kept;
	const char *message;              /* the record's error message; NULL: none */
	const char *queue_url, *queue_arn;/* where producers send; NULL: unknown or deleted */
	const char *limit_group;          /* a pipeline's group (its item's), a group row's name; NULL: none */
	char burst[64];                   /* a group row's burst ("-" unset) */
	const char **members;             /* a group row's: the items naming it, sorted */
	size_t n_members;
};

struct ops_ls_query {
	char *const *patterns;   /* names or shell globs; none: every row */
	size_t npatterns;
	int kept_only;
};

struct ops_ls {
	struct ops_ls_row *rows;  /* sorted by name */
	size_t n;
	size_t *hits;             /* per pattern: rows it matched */
	struct pool_demand demand;/* the fleet's specs in force (every record, unfiltered) */
	/* what the rows point into */
	struct cJSON *items;
	struct store_pipelines states;
	struct store_pauses pauses;
};

/* The kind of the config item named name. */
int ops_ls_kind_of(const char *name);

/* Scan the config table, the pipeline records and the pauses; fill out. */
int ops_ls(struct app *app, const struct ops_ls_query *q, struct ops_ls *out, tp_err *e);

/* The rows (hits, demand) from out's items, states (sorted) and pauses
 * (sorted), as ops_ls scanned them: no AWS. prefix: the instance's, for the
 * kept queues' names. */
void ops_ls_build(const char *prefix, const struct ops_ls_query *q, struct ops_ls *out);
void ops_ls_free(struct ops_ls *l);

#endif
