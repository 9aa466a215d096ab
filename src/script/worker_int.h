/* worker_int.h: the policy's worker process (worker.c). Internal to src/script/. */
#ifndef TP_WORKER_INT_H
#define TP_WORKER_INT_H

#include "script/policy_int.h"

struct rusage;

/* Run c in the worker (forked now when there is none) under every cap, the
 * wall clock included: p->timeout_ms, shortened by p->hard_deadline_ms. A
 * worker that overruns it is SIGKILLed and replaced at the next call; one
 * that died between calls is replaced once. Returns as call_protected
 * (call_int.h) does, plus TP_ELIMIT "PolicyTimeLimit" (deadline, CPU),
 * "PolicyMemoryLimit" (the worker ended) and "PolicyOutputLimit" (answer
 * too large). Sets p->last_wall_us and p->last_rss_kb. */
int worker_run(struct policy *p, struct call *c, tp_err *e);

/* SIGKILL and reap the worker, if any (its usage into ru when not NULL). */
void worker_stop(struct policy *p, struct rusage *ru);

#endif
