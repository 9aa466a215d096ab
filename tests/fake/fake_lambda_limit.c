/* fake_lambda_limit.c: what tests ask of the fake Lambda beyond the API,
 * as the AWS-faithful layer answers it (awsmodel.py): each function's
 * concurrency bound over time (limit_history, max_bound: the looser end of
 * a mapping's transition counts, since either may be in force), failures
 * of a create or update on request (fail_function), and the requests a
 * modelled rule refused (violations). */
#include "fake/fake_lambda_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One entry of the bounds' log: 24 bytes, the function known by its
 * name's hash (the fleet's 50,000 functions cost ~3 entries each). */
struct lhist {
	uint64_t key;
	struct fake_bound b;
};

struct lviolation {
	struct lviolation *next;
	char rule[48];
	long n;
};

void fl_esm_loosest(const struct lesm *m, int *enabled, long *max_conc)
{
	if (m->state > ESM_DELETING) {              /* settled */
		*enabled = m->enabled;
		*max_conc = m->max_conc;
	} else if (!m->cur_enabled) {
		*enabled = m->enabled;
		*max_conc = m->max_conc;
	} else if (!m->enabled) {
		*enabled = 1;
		*max_conc = m->cur_max;
	} else {
		*enabled = 1;
		*max_conc = !m->cur_max || !m->max_conc ? 0 : m->cur_max > m->max_conc ? m->cur_max : m->max_conc;
	}
}

/* 0: no enabled mapping, -1: unlimited, else the bound. */
static long bound_of(struct fake *f, const char *fn)
{
	struct fake_lambda *l = f->lambda;
	int any = 0, unlimited = 0;
	long sum = 0;
	for (struct lesm *m = lmap_get(&l->esm_by_fn, fn); m; m = m->fnext) {
		int e;
		long mc;
		fl_esm_loosest(m, &e, &mc);
		if (!e)
			continue;
		any = 1;
		if (mc)
			sum += mc;
		else
			unlimited = 1;
	}
	if (!any)
		return 0;
	const struct lfn *x = lmap_get(&l->fns, fn);
	long reserved = x && x->reserved >= 0 ? x->reserved : -1, mapped = unlimited ? -1 : sum;
	if (reserved < 0)
		return mapped;
	return mapped < 0 || reserved < mapped ? reserved : mapped;
}

void fl_note_bound(struct fake *f, const char *fn, int64_t at_us)
{
	struct fake_lambda *l = f->lambda;
	if (l->n_hist == l->cap_hist) {
		l->cap_hist = l->cap_hist ? l->cap_hist * 2 : 64;
		l->hist = tp_xrealloc(l->hist, l->cap_hist * sizeof *l->hist);
	}
	l->hist[l->n_hist++] = (struct lhist){ lmap_hash(fn), { f->opt.start_ms + at_us / 1000, bound_of(f, fn) } };
}

size_t fake_lambda_limit_history(struct fake *f, const char *function, const struct fake_bound **out)
{
	*out = NULL;
	struct fake_lambda *l = f->lambda;
	if (!l)
		return 0;
	fl_esm_sweep(f);                            /* transitions ended by now */
	uint64_t key = lmap_hash(function);
	size_t n = 0;
	free(l->hist_out);
	l->hist_out = tp_xmalloc((l->n_hist + 1) * sizeof *l->hist_out);
	for (size_t i = 0; i < l->n_hist; i++)
		if (l->hist[i].key == key)
			l->hist_out[n++] = l->hist[i].b;
	*out = l->hist_out;
	return n;
}

long fake_lambda_max_bound(struct fake *f, const char *function)
{
	const struct fake_bound *v;
	size_t n = fake_lambda_limit_history(f, function, &v);
	long max = 0;
	for (size_t i = 0; i < n; i++) {
		if (v[i].bound < 0)
			return -1;
		if (v[i].bound > max)
			max = v[i].bound;
	}
	return max;
}

/* ---- violations ---- */

void fl_violate(struct fake *f, const char *rule, const char *what)
{
	struct fake_lambda *l = f->lambda;
	struct lviolation *v = l->violations;
	while (v && strcmp(v->rule, rule) != 0)
		v = v->next;
	if (!v) {
		v = tp_xcalloc(1, sizeof *v);
		snprintf(v->rule, sizeof v->rule, "%s", rule);
		v->next = l->violations;
		l->violations = v;
	}
	v->n++;
	(void)what;
}

long fake_lambda_violations(const struct fake *f, const char *rule)
{
	long n = 0;
	for (const struct lviolation *v = f->lambda ? f->lambda->violations : NULL; v; v = v->next)
		if (!rule || strncmp(v->rule, rule, strlen(rule)) == 0)
			n += v->n;
	return n;
}

/* ---- failures on request ---- */

static void set_fail(char **reason, char **code, const char *r, const char *c)
{
	free(*reason);
	free(*code);
	*reason = tp_xstrdup(r ? r : "Modelled failure.");
	*code = tp_xstrdup(c ? c : "InternalError");
}

void fake_lambda_fail(struct fake *f, const char *function, int on_update, const char *reason,
		      const char *code)
{
	struct fake_lambda *l = fl_state(f);
	struct lfn *fn = lmap_get(&l->fns, function);
	struct lfail *x;
	if (fn && (on_update ? fl_in_progress(f, fn) : fl_pending(f, fn))) {
		x = fn->fail ? fn->fail : (fn->fail = tp_xcalloc(1, sizeof *x));
	} else if (!(x = lmap_get(&l->next_fail, function))) {
		/* keyed by its own copy of the name: the function may come and go */
		struct { struct lfail x; char name[]; } *k = tp_xcalloc(1, sizeof *k + strlen(function) + 1);
		strcpy(k->name, function);
		x = &k->x;
		lmap_put(&l->next_fail, k->name, x);
	}
	if (on_update)
		set_fail(&x->update_reason, &x->update_code, reason, code);
	else
		set_fail(&x->create_reason, &x->create_code, reason, code);
}

void fl_fail_free(struct lfail *x)
{
	if (!x)
		return;
	free(x->create_reason);
	free(x->create_code);
	free(x->update_reason);
	free(x->update_code);
	free(x);
}

void fl_fail_begin(struct fake *f, struct lfn *fn, int on_update)
{
	struct fake_lambda *l = f->lambda;
	struct lfail *next = lmap_get(&l->next_fail, fn->name);
	char **nr = next ? (on_update ? &next->update_reason : &next->create_reason) : NULL;
	char **nc = next ? (on_update ? &next->update_code : &next->create_code) : NULL;
	if (fn->fail) {                             /* the last update's failure ends with it */
		char **r = on_update ? &fn->fail->update_reason : &fn->fail->create_reason;
		char **c = on_update ? &fn->fail->update_code : &fn->fail->create_code;
		free(*r);
		free(*c);
		*r = *c = NULL;
	}
	if (!nr || !*nr)
		return;
	if (!fn->fail)
		fn->fail = tp_xcalloc(1, sizeof *fn->fail);
	if (on_update) {
		fn->fail->update_reason = *nr;
		fn->fail->update_code = *nc;
	} else {
		fn->fail->create_reason = *nr;
		fn->fail->create_code = *nc;
	}
	*nr = *nc = NULL;
	if (!next->create_reason && !next->update_reason) {
		lmap_del(&l->next_fail, fn->name);
		fl_fail_free(next);                 /* the name lives in the same block */
	}
}

void fl_limit_free_all(struct fake_lambda *l)
{
	free(l->hist);
	free(l->hist_out);
	for (size_t i = 0; i < l->next_fail.cap; i++)
		if (l->next_fail.v && l->next_fail.v[i].val)
			fl_fail_free(l->next_fail.v[i].val);
	lmap_free(&l->next_fail);
	for (struct lviolation *v = l->violations, *n; v; v = n) {
		n = v->next;
		free(v);
	}
}
