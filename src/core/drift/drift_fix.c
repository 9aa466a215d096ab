/* drift_fix.c: the repair of a drift check (drift --fix): drifted and
 * missing pipelines and orphans go through the same reconcile (and leases)
 * as apply, forced, so it observes and diffs again (see drift.h). */
#include "core/drift/drift_int.h"

#include "core/reconcile/reconcile.h"

#include <stdlib.h>
#include <string.h>

static int needs_fix(const struct dp *p)
{
	/* A kept queue stays until an operator redrives or purges it. */
	if (!p->item)
		return !p->drain || strcmp(p->drain, "kept") != 0;
	return p->status == DRIFT_DRIFTED || p->status == DRIFT_MISSING;
}

void drift_fix(struct app *app, const struct drift_opts *o, struct dp **sel, size_t ns)
{
	struct smap by = { 0 };
	for (size_t i = 0; i < ns; i++)
		smap_put(&by, sel[i]->name, sel[i]);
	char **fix = tp_xcalloc(ns + 1, sizeof *fix);
	size_t nf = 0;
	for (size_t i = 0; i < ns; i++)
		if (needs_fix(sel[i]))
			fix[nf++] = sel[i]->name;
	if (nf) {
		struct reconcile_opts ro = { .force = 1, .holder = o->holder,
					     .lease_ttl_s = o->lease_ttl_s,
					     .deadline_ms = o->deadline_ms,
					     .reserve_ms = o->reserve_ms };
		struct rec_result *res = NULL;
		size_t nr = 0;
		tp_err re = { 0 };
		if (reconcile_run(app, fix, nf, 0, &ro, &res, &nr, &re) < 0) {
			for (size_t i = 0; i < ns; i++)
				if (needs_fix(sel[i])) {
					sel[i]->fix.status = DRIFT_FIX_FAILED;
					sel[i]->fix.err = re;
				}
		}
		for (size_t r = 0; r < nr; r++) {
			struct dp *p = smap_get(&by, res[r].name);
			if (!p)
				continue;
			p->fix.status = res[r].rc == TP_OK ? DRIFT_FIX_FIXED : DRIFT_FIX_FAILED;
			/* A removed item's pipeline the repair left draining (or
			 * kept) is reported as what it is now. */
			if (!p->item && res[r].state && strcmp(res[r].state, "deleted") != 0)
				p->drain = res[r].state;
			p->fix.err = res[r].err;
			diff_list_move(&p->fix.changes, &res[r].diff);
		}
		reconcile_results_free(res, nr);
	}
	free(fix);
	smap_free(&by);
}
