/* ctl_metrics.c: the controller's outcomes as EMF lines (see ctl_metrics.h). */
#include "runtime/ctl_metrics.h"
#include "base/settings_table.h"
#include "runtime/emf.h"

#include "base/base.h"
#include "base/log.h"
#include "core/drift/drift.h"
#include "core/reconcile/reconcile.h"
#include "core/rollout/rollout.h"

#include <stdlib.h>

static int enabled(void)
{
	enum emf_mode m;
	/* a bad value is the consumer layer's to report; here it means on */
	return emf_mode_parse(setting_raw(SET_METRICS), &m) < 0 || m != EMF_OFF;
}

static void emit(const char *owner, const char *event, const struct emf_metric *mx, size_t n)
{
	if (!enabled())
		return;
	struct emf_doc d = { .timestamp_ms = tp_now_ms(), .metrics = mx, .n_metrics = n, .n_sets = 1 };
	d.dims[0] = "Owner";
	d.dims[1] = owner && *owner ? owner : "taskpipe";
	d.sets[0][0] = "Owner";
	const char *props[] = { "event", event, NULL };
	d.props = props;
	emf_emit(&d);
}

void ctlm_reconcile(const char *owner, const struct rec_result *res, size_t n)
{
	long changed = 0, errors = 0;
	for (size_t i = 0; i < n; i++) {
		errors += res[i].rc != TP_OK;
		changed += res[i].rc == TP_OK && res[i].changes > 0;
	}
	struct emf_metric mx[] = {
		{ "PipelinesChanged", "Count", (double)changed, NULL, 0 },
		{ "PipelineErrors", "Count", (double)errors, NULL, 0 },
	};
	emit(owner, "reconcile", mx, 2);
}

void ctlm_drift(const char *owner, const struct drift_report *r)
{
	const struct drift_summary *s = &r->summary;
	const struct drift_queues *q = &r->queues;
	struct emf_metric mx[] = {
		{ "DriftChecked", "Count", (double)s->checked, NULL, 0 },
		{ "DriftFound", "Count",
		  (double)(s->count[DRIFT_DRIFTED] + s->count[DRIFT_MISSING] + s->count[DRIFT_COLLISION]), NULL, 0 },
		{ "DriftFixed", "Count", (double)s->fixed, NULL, 0 },
		{ "Orphans", "Count", (double)s->orphans, NULL, 0 },
		{ "PipelineErrors", "Count", (double)(s->count[DRIFT_ERROR] + s->fix_failed), NULL, 0 },
		{ "BacklogTasks", "Count", (double)q->backlog, NULL, 0 },
		{ "InFlightTasks", "Count", (double)q->in_flight, NULL, 0 },
		{ "DLQTasks", "Count", (double)q->dlq_tasks, NULL, 0 },
		{ "DLQsWithTasks", "Count", (double)q->dlqs_with_tasks, NULL, 0 },
	};
	emit(owner, "drift", mx, sizeof mx / sizeof mx[0]);
}

void ctlm_rollouts(const char *owner, const struct rollout_result *rs, size_t n)
{
	if (n == 0)
		return;   /* nothing ran: no line (the schedule resumes nothing most times) */
	long updated = 0, failed = 0, halted = 0;
	for (size_t i = 0; i < n; i++) {
		updated += rs[i].updated;
		failed += rs[i].failed;
		halted += rs[i].status == ROLLOUT_HALTED;
	}
	struct emf_metric mx[] = {
		{ "RolloutFunctionsUpdated", "Count", (double)updated, NULL, 0 },
		{ "RolloutFunctionsFailed", "Count", (double)failed, NULL, 0 },
		{ "RolloutsHalted", "Count", (double)halted, NULL, 0 },
	};
	emit(owner, "rollout", mx, 3);
}

void ctlm_skipped(const char *owner, long skipped)
{
	struct emf_metric mx[] = { { "StreamRecordsSkipped", "Count", (double)skipped, NULL, 0 } };
	emit(owner, "watch", mx, 1);
}
