/* ctl_metrics.h: the controller's metrics, as EMF lines (emf.h).
 *
 * Namespace "taskpipe", one dimension set [Owner] (TASKPIPE_OWNER, the
 * stack's InstanceName): a fixed handful of metrics per instance, however
 * many pipelines it runs (docs/operations.md "Metrics"). TASKPIPE_METRICS=off writes
 * nothing. One line per outcome:
 *   reconcile (stream batch, watch, apply event): PipelinesChanged,
 *     PipelineErrors;
 *   the scheduled drift check: DriftChecked, DriftFound (drifted, missing
 *     or collision), DriftFixed, Orphans, PipelineErrors (errors and failed
 *     repairs), and the queue totals it read anyway (drift.h
 *     drift_queues): BacklogTasks, InFlightTasks, DLQTasks, DLQsWithTasks;
 *   rollouts: RolloutFunctionsUpdated, RolloutFunctionsFailed,
 *     RolloutsHalted;
 *   taskpipe watch: StreamRecordsSkipped.
 */
#ifndef TP_CTL_METRICS_H
#define TP_CTL_METRICS_H

#include <stddef.h>

struct rec_result;
struct drift_report;
struct rollout_result;

/* owner: the Owner dimension (TASKPIPE_OWNER). */
void ctlm_reconcile(const char *owner, const struct rec_result *res, size_t n);
void ctlm_drift(const char *owner, const struct drift_report *r);
void ctlm_rollouts(const char *owner, const struct rollout_result *rs, size_t n);
void ctlm_skipped(const char *owner, long skipped);

#endif
