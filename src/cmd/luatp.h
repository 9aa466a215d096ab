/* luatp.h: the operator's `tp` module for a trusted Lua state (REPL,
 * `taskpipe run`): config items, plan/apply, drift, queue depth, redrive,
 * pause/resume, the policy, and raw AWS calls. The C functions live in
 * luatp.c; lua/tp.lua (embedded) adds the pretty printer and helpers.
 * The policy still runs in its own sandboxed state (struct policy).
 *
 * Values cross as plain Lua tables (see script/ddblua.h): JSON objects -> tables,
 * arrays -> tp.list tables, null -> tp.null. AWS and taskpipe errors raise
 * Lua errors "Code: message".
 */
#ifndef TP_LUATP_H
#define TP_LUATP_H

#include "base/base.h"

struct lua_State;
struct app;

/* Install global `tp` (and package.loaded.tp) into L, bound to app, which
 * is borrowed and must outlive L. Needs the standard libraries open. */
int luatp_open(struct lua_State *L, struct app *app, tp_err *e);

#endif
