/* call_int.h: one call in a prepared Lua state (call.c). Internal to src/script/. */
#ifndef TP_CALL_INT_H
#define TP_CALL_INT_H

#include "script/policy_int.h"

/* How many times the base caps (instructions, wall clock and CPU, the
 * result's values and text) call c gets: 1 + targets / CALL_SCALE_TARGETS
 * for a rollout, whose work and waves grow with its targets (args[1]), 1
 * for every other call. The parent and the worker compute it alike, from
 * the same arguments. */
#define CALL_SCALE_TARGETS 5000
long call_scale(const struct call *c);

/* Set p's caps of this call (call_instructions, call_nodes, call_text,
 * call_timeout_ms) to the base ones times call_scale(c). call_protected
 * does it; the parent does it too before it sends c to the worker. */
void call_caps(struct policy *p, const struct call *c);

/* Run c in p->L, in this process, under the instruction and memory caps
 * (call_caps first; the wall clock is the worker's, worker.c). c->set_ctx,
 * when given, is stored first as the run's ctx. Returns 0 or a TP_E* with e filled:
 * TP_EPOLICY "PolicyError" (a Lua error, chunk:line) or "PolicyRejected"
 * (nil, "reason": c->rejected and c->reason too), TP_ELIMIT
 * "PolicyInstructionLimit" / "PolicyTimeLimit" / "PolicyMemoryLimit" /
 * "PolicyOutputLimit". On success c->result holds the answer (NULL when
 * c->absent). */
int call_protected(struct policy *p, struct call *c, tp_err *e);

#endif
