/* sandbox_int.h: the policy's Lua state (sandbox.c). Internal to src/script/. */
#ifndef TP_SANDBOX_INT_H
#define TP_SANDBOX_INT_H

#include "script/policy_int.h"

/* Create p->L under p's memory cap with the allowed libraries, the tp
 * library (ddblua.h) and the sandbox template, and compile source (text
 * only) as the chunk named p->origin, kept in the registry. TP_EPOLICY when
 * it does not compile, TP_ELIMIT when memory runs out. */
int sandbox_new(struct policy *p, const char *source, size_t len, tp_err *e);
/* Close p->L and free the pool's blocks. */
void sandbox_free(struct policy *p);

/* Run the chunk in a fresh environment (every closure it makes shares its
 * _ENV upvalue) and push the policy table it returns; raises a Lua error
 * when it is not a table with a `pipeline` function. */
void sandbox_push_policy_table(lua_State *L);
/* Message handler for lua_pcall: makes sure the message names chunk:line. */
int sandbox_msgh(lua_State *L);

/* Before a call: no cap hit, no log written, memory blamed on the chunk. */
void sandbox_caps_reset(struct policy *p);
/* Count instructions against p->call_instructions (on), or stop (off). */
void sandbox_count_instructions(struct policy *p, int on);
/* Make the next Lua instruction fail with file:line, for why (unless a cap
 * already hit). Safe in a signal handler: the worker's soft deadline. */
void sandbox_stop_soon(struct policy *p, enum kill_reason why);

#endif
