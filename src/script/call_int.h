/* call_int.h: one call in a prepared Lua state (call.c). Internal to src/script/. */
#ifndef TP_CALL_INT_H
#define TP_CALL_INT_H

#include "script/policy_int.h"

/* Run c in p->L, in this process, under the instruction and memory caps
 * (the wall clock is the worker's, worker.c). c->set_ctx, when given, is
 * stored first as the run's ctx. Returns 0 or a TP_E* with e filled:
 * TP_EPOLICY "PolicyError" (a Lua error, chunk:line) or "PolicyRejected"
 * (nil, "reason": c->rejected and c->reason too), TP_ELIMIT
 * "PolicyInstructionLimit" / "PolicyTimeLimit" / "PolicyMemoryLimit" /
 * "PolicyOutputLimit". On success c->result holds the answer (NULL when
 * c->absent). */
int call_protected(struct policy *p, struct call *c, tp_err *e);

#endif
