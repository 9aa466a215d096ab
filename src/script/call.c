/* call.c: one call of the policy in a prepared Lua state (sandbox.c),
 * in this process, under the instruction and memory caps: the arguments
 * go in as Lua values (ddblua.h), the chunk runs in a fresh environment,
 * the named function is called, and its answer comes back as a tree or a
 * verdict. Which call takes what is policy.c's table (call_kinds). The
 * worker (worker.c) runs this for every call; in-process measurements too.
 */
#include "script/call_int.h"

#include "script/ddblua.h"
#include "script/sandbox_int.h"

#include <cjson/cJSON.h>
#include <lauxlib.h>
#include <lua.h>

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define CTX_KEY "tp.ctx"               /* registry: the run's ctx, never handed out itself */

/* Push a copy of table t, its tables copied too (keeping their tp.*
 * metatables); tp.null, the one shared sentinel, stays itself. */
static void copy_table(lua_State *L, int t)
{
	luaL_checkstack(L, 8, "ctx nested too deeply");
	lua_newtable(L);
	int copy = lua_gettop(L);
	if (lua_getmetatable(L, t))
		lua_setmetatable(L, copy);
	lua_pushnil(L);
	while (lua_next(L, t)) {
		lua_pushvalue(L, -2);
		lua_insert(L, -2); /* key, key, value */
		if (lua_type(L, -1) == LUA_TTABLE && !lua_rawequal(L, -1, lua_upvalueindex(1))) {
			copy_table(L, lua_gettop(L));
			lua_remove(L, -2);
		}
		lua_rawset(L, copy);
	}
}

static int l_copy_ctx(lua_State *L)
{
	if (lua_getfield(L, LUA_REGISTRYINDEX, CTX_KEY) != LUA_TTABLE) {
		lua_newtable(L);
		return 1;
	}
	copy_table(L, lua_gettop(L));
	return 1;
}

/* Push this call's ctx: a fresh copy of the run's (an empty table when
 * none was set), so what one call writes into it no other call sees. */
static int push_ctx_copy(lua_State *L)
{
	lua_getfield(L, LUA_REGISTRYINDEX, DDBLUA_NULL_KEY);
	lua_pushcclosure(L, l_copy_ctx, 1);
	lua_call(L, 0, 1);
	return 0;
}

long call_scale(const struct call *c)
{
	if (c->kind != CALL_ROLLOUT || !cJSON_IsArray(c->args[1]))
		return 1;
	return 1 + (long)cJSON_GetArraySize(c->args[1]) / CALL_SCALE_TARGETS;
}

void call_caps(struct policy *p, const struct call *c)
{
	long k = call_scale(c);
	/* Lua's count hook takes an int */
	p->call_instructions = p->max_instructions > INT_MAX / k ? INT_MAX : p->max_instructions * k;
	p->call_nodes = p->max_nodes * (size_t)k;
	p->call_text = p->max_text * (size_t)k;
	/* the budget goes to the worker as a u32 */
	int64_t most = UINT32_MAX / 2;
	p->call_timeout_ms = p->timeout_ms > most / k ? most : (int64_t)p->timeout_ms * k;
}

/* The call itself, under lua_pcall (call_protected): store the run's ctx
 * when it came along, run the chunk afresh, call the kind's function with
 * its arguments and read its answer into c. A Lua error here is the
 * policy's (PolicyError); conversion failures go to c->rc. */
static int run_call(lua_State *L)
{
	struct call *c = lua_touserdata(L, 1);
	struct policy *p = policy_of(L);
	lua_settop(L, 0);
	if (c->set_ctx) {
		if ((c->rc = ddblua_push_json(L, c->set_ctx, c->e)) < 0)
			return 0;
		lua_setfield(L, LUA_REGISTRYINDEX, CTX_KEY);
	}
	sandbox_push_policy_table(L); /* 1 */
	const struct call_kind_info *k = &call_kinds[c->kind];
	if (k->answer == ANSWER_NONE)
		return 0;
	const char *fn = k->fn;
	lua_getfield(L, 1, fn); /* 2 */
	if (lua_isnil(L, 2)) {
		c->absent = 1;
		return 0;
	}
	lua_Debug ar;
	lua_pushvalue(L, 2);
	lua_getinfo(L, ">S", &ar);
	int defined = ar.linedefined;
	for (int i = 0; i < k->nargs; i++) {
		const cJSON *a = c->args[i];
		int rc;
		if (i == k->ctx_arg)
			rc = push_ctx_copy(L);
		else if (!a)
			lua_newtable(L), rc = 0;
		else if (i == k->item_arg)
			rc = ddblua_push_item(L, a, c->e);
		else
			rc = ddblua_push_json(L, a, c->e);
		if (rc < 0) {
			c->rc = rc;
			return 0;
		}
	}
	lua_call(L, k->nargs, 2); /* results at 2, 3 */
	if (lua_isnil(L, 2) || (lua_isboolean(L, 2) && !lua_toboolean(L, 2))) {
		c->rejected = 1;
		if (lua_isnoneornil(L, 3)) {
			snprintf(c->reason, sizeof c->reason, "%s returned nil without a reason", fn);
		} else {
			size_t len;
			const char *r = luaL_tolstring(L, 3, &len);
			snprintf(c->reason, sizeof c->reason, "%.*s", (int)(len < sizeof c->reason ? len : sizeof c->reason), r);
		}
		return 0;
	}
	if (k->answer == ANSWER_VERDICT) {
		/* true[, "note"]: healthy; "wait"[, "note"]: no verdict yet, ask
		 * again later; nil or false, "reason": not. */
		int wait = lua_type(L, 2) == LUA_TSTRING && strcmp(lua_tostring(L, 2), "wait") == 0;
		if (!lua_isboolean(L, 2) && !wait)
			return luaL_error(L, "%s must return true, \"wait\" (or nil, \"reason\"), not a %s", fn,
					  lua_type(L, 2) == LUA_TSTRING ? "string other than \"wait\"" : luaL_typename(L, 2));
		c->result = cJSON_CreateObject();
		cJSON_AddStringToObject(c->result, "verdict", wait ? "wait" : "healthy");
		if (lua_type(L, 3) == LUA_TSTRING)
			cJSON_AddStringToObject(c->result, "note", lua_tostring(L, 3));
		return 0;
	}
	if (!lua_istable(L, 2))
		return luaL_error(L, "%s must return a table (or nil, \"reason\"), not a %s", fn,
				  luaL_typename(L, 2));
	struct ddblua_budget b = { .max_nodes = p->call_nodes, .max_bytes = p->call_text };
	c->rc = ddblua_to_json_budget(L, 2, k->result, &b, &c->result, c->e);
	if (c->rc < 0 && c->e) {
		/* name the function that returned it: file:line of its definition */
		char msg[sizeof c->e->message], code[sizeof c->e->code];
		snprintf(msg, sizeof msg, "%s", c->e->message);
		snprintf(code, sizeof code, "%s", c->e->code);
		tp_errf(c->e, c->rc, code, "%s:%d: %s returned %s", p->short_src, defined, fn, msg);
	}
	return 0;
}

int call_protected(struct policy *p, struct call *c, tp_err *e)
{
	lua_State *L = p->L;
	c->e = e;
	call_caps(p, c);
	sandbox_caps_reset(p);
	lua_settop(L, 0);
	/* the cap counts uncollected garbage too (in-process calls only: a
	 * worker collects after every call) */
	if (p->mem_used > p->max_memory / 2)
		lua_gc(L, LUA_GCCOLLECT, 0);
	lua_pushcfunction(L, sandbox_msgh);
	lua_pushcfunction(L, run_call);
	lua_pushlightuserdata(L, c);
	sandbox_count_instructions(p, 1);
	int status = lua_pcall(L, 1, 0, 1);
	sandbox_count_instructions(p, 0);
	int rc = TP_OK;
	if (p->killed == KILL_INSTR || p->killed == KILL_TIME) {
		int t = p->killed == KILL_TIME;
		const char *msg = status != LUA_OK ? lua_tostring(L, -1) : NULL;
		if (msg)
			rc = tp_errf(e, TP_ELIMIT, t ? "PolicyTimeLimit" : "PolicyInstructionLimit", "%s", msg);
		else if (t)
			rc = tp_errf(e, TP_ELIMIT, "PolicyTimeLimit", "%s: wall-clock limit of %ld ms exceeded",
				     p->short_src, p->call_ms);
		else
			rc = tp_errf(e, TP_ELIMIT, "PolicyInstructionLimit", "%s: instruction limit of %ld exceeded",
				     p->short_src, p->call_instructions);
	} else if (p->killed == KILL_MEM || status == LUA_ERRMEM) {
		rc = tp_errf(e, TP_ELIMIT, "PolicyMemoryLimit", "%s: memory limit of %zu bytes exceeded", p->mem_where,
			     p->max_memory);
	} else if (status != LUA_OK) {
		const char *msg = lua_tostring(L, -1);
		rc = tp_errf(e, TP_EPOLICY, "PolicyError", "%s", msg ? msg : "(error without a message)");
	} else if (c->rc < 0) {
		rc = c->rc;
	} else if (c->rejected) {
		rc = tp_errf(e, TP_EPOLICY, "PolicyRejected", "%s", c->reason);
	}
	if (rc < 0) {
		cJSON_Delete(c->result);
		c->result = NULL;
	}
	lua_settop(L, 0);
	return rc;
}
