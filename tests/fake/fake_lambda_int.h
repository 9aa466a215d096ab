/* fake_lambda_int.h: what the fake Lambda's files share (fake_lambda.c the
 * router, fake_lambda_fn.c functions and concurrency, fake_lambda_esm.c
 * event source mappings, fake_lambda_map.c the indexes). */
#ifndef TP_FAKE_LAMBDA_INT_H
#define TP_FAKE_LAMBDA_INT_H

#include "fake/fake_int.h"

/* A string-keyed hash map (open addressing, linear probing): keys and
 * values are borrowed from the objects stored. */
struct lmap {
	struct lmap_slot { const char *key; void *val; } *v;
	size_t cap, n;
};
void *lmap_get(const struct lmap *m, const char *key);
void lmap_put(struct lmap *m, const char *key, void *val); /* replaces key and value */
void lmap_del(struct lmap *m, const char *key);
void lmap_free(struct lmap *m);
uint64_t lmap_hash(const char *s);                     /* FNV-1a */

/* Objects in creation order, for paging: a marker names the next object's
 * sequence number, so deletions between pages skip nothing. */
struct lorder {
	void **v;                   /* NULL where an object was removed */
	int64_t *seq;
	size_t n, cap, holes;
};
void lorder_add(struct lorder *o, void *obj, int64_t seq);
void lorder_remove(struct lorder *o, int64_t seq);
size_t lorder_from(const struct lorder *o, int64_t seq); /* first index with seq >= */
void lorder_free(struct lorder *o);
/* "Marker" text of a sequence number, and back (-1: not a marker of ours). */
void lmarker_of(int64_t seq, char out[32]);
int64_t lmarker_seq(const char *m);

/* One function ($LATEST only: taskpipe publishes no versions). The
 * configuration taskpipe set is kept as compact JSON text, the rest as
 * fields: a few hundred bytes a function. */
struct lfn {
	char *name;
	char *cfg;                  /* {"Runtime":..,"Environment":..} as set, JSON text */
	char *tags;                 /* {"k":"v"} JSON text, NULL: none */
	char *ref;                  /* REFERENCE code: {"S3Bucket","S3Key","S3ObjectVersion"}, else NULL */
	char sha[45];               /* CodeSha256 */
	long code_size;
	long reserved;              /* ReservedConcurrentExecutions, -1: none */
	int64_t seq;
	int64_t modified_ms;        /* LastModified */
	int64_t pending_until_us;   /* State Pending until (simulated mono) */
	int64_t update_until_us;    /* LastUpdateStatus InProgress until */
	uint32_t revision;          /* RevisionId's number */
	int updated;                /* an update has run */
	unsigned char ref_gone;     /* [selfref]: the REFERENCE object version is gone: Inactive */
	struct lfail *fail;         /* failures asked for (fake_lambda_fail), NULL: none */
};

/* A create's or update's failure (reason and code NULL: none). */
struct lfail {
	char *create_reason, *create_code, *update_reason, *update_code;
};

enum esm_state { ESM_CREATING, ESM_ENABLING, ESM_DISABLING, ESM_UPDATING, ESM_DELETING,
		 ESM_ENABLED, ESM_DISABLED };

struct lesm {
	char uuid[37];
	char *fn;                   /* the function's name */
	char *source;               /* EventSourceArn */
	struct lesm *fnext;         /* the next mapping of the same function */
	int64_t seq;
	int64_t modified_ms;
	int64_t until_us;           /* a transitional state ends */
	long batch, window, max_conc;   /* max_conc 0: no ScalingConfig */
	long cur_max;               /* MaximumConcurrency in force before a transition */
	unsigned char state;        /* enum esm_state (as of the last settle) */
	unsigned char enabled;      /* what it settles to */
	unsigned char cur_enabled;  /* in force before a transition */
	unsigned char frt;          /* FunctionResponseTypes ReportBatchItemFailures */
};

struct fake_lambda {
	struct lmap fns;            /* name -> struct lfn */
	struct lorder fn_order;
	struct lmap esms;           /* uuid -> struct lesm */
	struct lmap esm_by_fn;      /* function name -> first struct lesm (fnext chain) */
	struct lorder esm_order;
	struct lesm **moving;       /* mappings in transition, oldest first (one lag for all) */
	size_t moving_head, n_moving, cap_moving;
	struct lmap next_fail;      /* function name -> struct lfail for its next create/update */
	struct lhist *hist;         /* bounds, all functions in one log (fake_lambda_limit_history) */
	size_t n_hist, cap_hist;
	struct fake_bound *hist_out;   /* the last answer of fake_lambda_limit_history */
	struct lviolation *violations;
	int64_t next_seq;
	uint32_t next_revision;
	long reserved_total;
};

struct fake_lambda *fl_state(struct fake *f);

/* The function name of a path segment or body field: a name, a partial
 * ARN or an ARN, qualifier split off into qual (may be NULL). 0, or -1
 * when ref is empty. */
int fl_function_name(const char *ref, char *name, size_t len, char *qual, size_t qlen);
void fl_function_arn(struct fake *f, const char *name, char *out, size_t len);
void fl_iso_time(int64_t ms, char out[32]);     /* "2026-01-01T00:00:00.000+0000" */
void fl_not_found(struct fake *f, struct http_response *out, const char *name);

/* fake_lambda_req.c: checks of what a request asks. Each returns 0 (or
 * the object) when fine, else -1 (NULL) after answering out. */
cJSON *fl_body_object(struct fake_req *r, struct http_response *out);
void fl_invalid(struct http_response *out, const char *member, const cJSON *v, const char *constraint);
int fl_int_in(const cJSON *v, double lo, double hi);    /* 1: an integer in [lo, hi] */
int fl_check_config(struct fake_req *r, const cJSON *in, struct http_response *out);
int fl_is_config_key(const char *k);                    /* a FunctionConfiguration member kept in lfn.cfg */
int fl_unknown_member(struct fake_req *r, const cJSON *in, const char *const *allowed,
		      struct http_response *out);         /* 1 after answering */
int fl_valid_name(const char *s);
char *fl_merge_config(const char *cfg, const cJSON *in);
/* CodeSha256, size and (REFERENCE storage) the object of a Code / UpdateFunctionCode body. */
int fl_resolve_code(struct fake *f, const cJSON *code, char sha[45], long *size, char **ref,
		    struct http_response *out);
int fl_runtime_blocked(struct fake *f, const char *rt, int what /* 0 create, 1 update */);
int fl_runtime_refused(struct fake *f, const char *rt, int what, struct http_response *out); /* 1 after answering */
/* Marker and MaxItems (at most cap) of a List* request. */
int fl_paging(struct fake_req *r, int64_t *from, int *size, int cap, struct http_response *out);

/* fake_lambda_fn.c */
struct lfn *fl_find_fn(struct fake *f, const char *name, struct http_response *out); /* NULL: 404 answered */
void fl_create_function(struct fake *f, struct fake_req *r, struct http_response *out);
void fl_get_function(struct fake *f, const char *name, const char *qual, int full, struct http_response *out);
void fl_update_configuration(struct fake *f, struct fake_req *r, const char *name, struct http_response *out);
void fl_update_code(struct fake *f, struct fake_req *r, const char *name, struct http_response *out);
void fl_delete_function(struct fake *f, const char *name, struct http_response *out);
void fl_list_functions(struct fake *f, struct fake_req *r, struct http_response *out);
/* fake_lambda_pool.c */
void fl_put_concurrency(struct fake *f, struct fake_req *r, const char *name, struct http_response *out);
void fl_delete_concurrency(struct fake *f, const char *name, struct http_response *out);
void fl_get_concurrency(struct fake *f, const char *name, struct http_response *out);
void fl_account_settings(struct fake *f, struct http_response *out);
void fl_tags(struct fake *f, struct fake_req *r, const char *arn, struct http_response *out);
void fl_fn_free(struct lfn *fn);

/* fake_lambda_limit.c: bounds, failures asked for, violations */
void fl_note_bound(struct fake *f, const char *fn, int64_t at_us);   /* history entry now */
void fl_violate(struct fake *f, const char *rule, const char *what);
void fl_fail_begin(struct fake *f, struct lfn *fn, int on_update);  /* a create/update starts */
void fl_fail_free(struct lfail *x);
void fl_limit_free_all(struct fake_lambda *l);
/* fake_lambda_fn.c: the states used by the failure API */
int fl_pending(const struct fake *f, const struct lfn *fn);
int fl_in_progress(const struct fake *f, const struct lfn *fn);

/* fake_lambda_esm.c */
void fl_esm_create(struct fake *f, struct fake_req *r, struct http_response *out);
void fl_esm_get(struct fake *f, const char *uuid, struct http_response *out);
void fl_esm_update(struct fake *f, struct fake_req *r, const char *uuid, struct http_response *out);
void fl_esm_delete(struct fake *f, const char *uuid, struct http_response *out);
void fl_esm_list(struct fake *f, struct fake_req *r, struct http_response *out);
void fl_esm_sweep(struct fake *f);              /* end the transitions whose time has come */
/* (enabled, MaximumConcurrency) that may be in force now (loosest of a transition's ends) */
void fl_esm_loosest(const struct lesm *m, int *enabled, long *max_conc);
void fl_esm_free_all(struct fake_lambda *l);

#endif
