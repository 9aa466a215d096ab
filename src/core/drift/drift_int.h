/* drift_int.h: internal to the drift files (core/drift/); nothing else
 * includes it. drift.c runs a check: selection, the policy, the diff
 * (core/diff.h) of each pipeline against the listings, the cursor;
 * drift_fleet.c observes the fleet with list calls (and the few direct
 * calls the lists' lag needs); drift_fix.c repairs through reconcile;
 * drift_report.c turns the outcome into the drift report (drift.h). */
#ifndef TP_DRIFT_INT_H
#define TP_DRIFT_INT_H

#include "core/drift/drift.h"

#include "aws/aws.h"
#include "core/diff.h"
#include "core/names.h"
#include "core/pipeline.h"

#include <cjson/cJSON.h>

/* ---- a string -> pointer hash map (open addressing, keys copied) ---- */

struct smap {
	size_t cap, n;
	char **k;
	void **v;
};

/* Insert or replace. */
void smap_put(struct smap *m, const char *key, void *val);
void *smap_get(const struct smap *m, const char *key);
void smap_free(struct smap *m);

/* ---- the fleet, as listed (drift_fleet.c) ---- */

enum { PG_SCAN, PG_FUNCTIONS, PG_ESM, PG_QUEUES, PG_TAGS_FN, PG_TAGS_SQS, PG_N };

struct pager {
	int done;
	char *token;   /* next page marker (Scan: LastEvaluatedKey as JSON text) */
	cJSON *acc;    /* every element of every page */
	int pages;
};

struct fleet {
	struct pager pg[PG_N];
	struct smap fn;      /* function name -> FunctionConfiguration */
	struct smap esm;     /* "function\nsource arn" -> mapping */
	struct smap qurl;    /* queue name -> URL (a cJSON string) */
	struct smap tags;    /* "q:<name>" / "f:<name>" -> Tags object (ours only) */
	struct smap qattr;   /* queue name -> Attributes object */
	cJSON *tag_objs;     /* owns the Tags objects */
	cJSON *attr_objs;    /* owns the Attributes objects */
	long tags_direct_q;  /* ListQueueTags fallbacks (verify_tags) */
	long tags_direct_fn; /* Lambda ListTags fallbacks */
	long qurl_direct;    /* GetQueueUrl fallbacks (find_unlisted_queues) */
	cJSON *url_objs;     /* owns the URLs those found */
};

/* ---- one pipeline ---- */

struct dp {
	char *name;            /* pipeline name (owned) */
	const cJSON *item;     /* config item; NULL for an orphan */
	struct names nm;
	struct pipeline want;  /* desired state (pipeline_desired) */
	cJSON *spec;           /* want.tree (borrowed); NULL: none (orphan, error) */
	cJSON *old_spec;       /* spec of the last apply (state table), for stale tags */
	struct drift_entry *drift;   /* what differs */
	size_t n_drift, cap_drift;
	struct drift_resource *res;  /* orphan: its resources */
	size_t n_res, cap_res;
	enum drift_status status;    /* the worst so far */
	int code_behind;
	char *inactive;        /* REFERENCE function State Inactive: "code: reason" (fetch_states) */
	const char *storage;   /* its S3ObjectStorageMode, from GetFunction (fetch_states); NULL: unknown */
	tp_err err;            /* status error */
	struct drift_fix fix;  /* drift_fix.c */
	const char *drain;     /* orphan: "draining" or "kept" (store.h status); NULL: neither */
};


/* drift_fleet.c: every listing, page by page, side by side; ListQueues by
 * prefix; then the maps by name. */
int drift_list_fleet(struct app *app, struct fleet *f, tp_err *e);
void drift_index_fleet(struct fleet *f);
void drift_fleet_free(struct fleet *f);
/* For the n selected pipelines: the queues the lists lack (GetQueueUrl),
 * queue attributes, the State of REFERENCE functions, tags the Tagging
 * API lacks or shows different (ListQueueTags, GetFunction). */
void drift_find_unlisted_queues(struct app *app, struct fleet *f, struct dp **sel, size_t n);
void drift_fetch_attrs(struct app *app, struct fleet *f, struct dp **sel, size_t n);
void drift_fetch_states(struct app *app, struct fleet *f, struct dp **sel, size_t n);
void drift_verify_tags(struct app *app, struct fleet *f, struct dp **sel, size_t n);

/* drift_report.c: drift entries and the report */
void drift_add(struct dp *p, enum drift_status status, const char *res, const char *field,
	       const char *exp, const char *act);
/* One change of the diff as an entry (expected: the spec's side). */
void drift_report_change(struct dp *p, const struct diff_change *c);
/* A deprecated runtime: the Runtime entry says so, or one is added. */
void drift_note_runtime(struct dp *p, const cJSON *have);
/* An orphan's resource (what: "function", "queue", "dead-letter queue"). */
void drift_add_resource(struct dp *p, const char *what, const char *name);

struct drift_run_info {
	int64_t t0;                    /* tp_mono_ms at the start */
	long lambda0, lambda_list;     /* Lambda calls before the run, and of the listings */
	const struct aws_stat *before; /* aws_stats before the run */
	size_t n_before;
	const char *after;             /* the cursor the run started after */
	size_t total;                  /* pipelines (items and orphans) in the fleet */
	int complete;                  /* this run reached the end */
	const struct fleet *f;
};
/* The report (drift.h) of the ns selected pipelines; their entries,
 * resources and fix changes move into it. */
void drift_fill_report(struct app *app, const struct drift_opts *o, struct dp **sel, size_t ns,
		       const struct drift_run_info *ri, struct drift_report *r);
/* An entry's strings and a pipeline's are freed by these. */
void drift_entries_free(struct drift_entry *v, size_t n);
void drift_resources_free(struct drift_resource *v, size_t n);

/* drift_fix.c: repair the drifted and missing pipelines and remove the
 * orphans among sel through reconcile_run (force); never collisions or
 * errors. Fills each one's fix. */
void drift_fix(struct app *app, const struct drift_opts *o, struct dp **sel, size_t ns);

#endif
