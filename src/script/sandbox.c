/* sandbox.c: the policy's Lua state (see policy.c for the design, policy.h
 * for what a policy may use): an allocator under the memory cap, the
 * allowed libraries and their guarded wrappers, a fresh environment per
 * call, and the instruction cap's hook. Nothing here forks or decides where
 * a call runs (worker.c, policy.c).
 */
#include "script/sandbox_int.h"

#include "script/ddblua.h"
#include "base/log.h"

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_LINE_MAX 2000            /* bytes of one print/tp.log line (log.c keeps 2 KiB) */
#define LOG_CALL_MAX (64u << 10)     /* bytes of log lines per call */

/* ---------- caps ---------- */

/* "chunk:line" of the innermost running line of the policy's chunk, or the
 * chunk name alone. Reads the stack only (no allocation). */
static void where(lua_State *L, struct policy *p, char *out, size_t len)
{
	lua_Debug ar;
	for (int level = 0; lua_getstack(L, level, &ar); level++) {
		if (!lua_getinfo(L, "Sl", &ar))
			break;
		if (ar.currentline > 0 && strcmp(ar.short_src, p->short_src) == 0) {
			snprintf(out, len, "%s:%d", p->short_src, ar.currentline);
			return;
		}
	}
	snprintf(out, len, "%s", p->short_src);
}

static void hook(lua_State *L, lua_Debug *ar)
{
	struct policy *p = policy_of(L);
	if (!p->killed)
		p->killed = KILL_INSTR;
	lua_sethook(L, hook, LUA_MASKCOUNT, 1); /* every next instruction errors too */
	lua_getinfo(L, "Sl", ar);
	if (p->killed == KILL_MEM)
		lua_pushfstring(L, "%s: memory limit of %I bytes exceeded", p->mem_where, (lua_Integer)p->max_memory);
	else if (p->killed == KILL_TIME)
		lua_pushfstring(L, "%s:%d: wall-clock limit of %I ms exceeded", ar->short_src, ar->currentline,
				(lua_Integer)p->call_ms);
	else
		lua_pushfstring(L, "%s:%d: instruction limit of %I exceeded", ar->short_src, ar->currentline,
				(lua_Integer)p->call_instructions);
	lua_error(L);
}

/* Lua's allocator: the memory cap (past it, NULL and every next instruction
 * errors, like the instruction cap), small blocks through the pool. */
static void *palloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
	struct policy *p = ud;
	size_t old = ptr ? osize : 0;
	if (nsize == 0) {
		if (ptr && old <= MEMPOOL_MAX)
			mempool_put(&p->pool, ptr, old);
		else
			free(ptr);
		p->mem_used -= old;
		return NULL;
	}
	if (nsize > old && p->mem_used - old + nsize > p->max_memory) {
		if (p->killed != KILL_MEM && p->L)
			where(p->L, p, p->mem_where, sizeof p->mem_where);
		p->killed = KILL_MEM;
		if (p->L)
			lua_sethook(p->L, hook, LUA_MASKCOUNT, 1);
		return NULL;
	}
	void *np;
	if (ptr && old <= MEMPOOL_MAX && nsize <= MEMPOOL_MAX && mempool_class(old) == mempool_class(nsize)) {
		np = ptr; /* still fits its block */
	} else if (ptr && old > MEMPOOL_MAX && nsize > MEMPOOL_MAX) {
		np = realloc(ptr, nsize);
		if (!np && nsize <= old)
			np = ptr;
	} else {
		np = nsize <= MEMPOOL_MAX ? mempool_get(&p->pool, nsize) : malloc(nsize);
		if (!np && ptr && nsize <= old)
			np = ptr; /* Lua assumes a shrink never fails; the block is big enough */
		else if (np && ptr) {
			memcpy(np, ptr, old < nsize ? old : nsize);
			if (old <= MEMPOOL_MAX)
				mempool_put(&p->pool, ptr, old);
			else
				free(ptr);
		}
	}
	if (np)
		p->mem_used = p->mem_used - old + nsize;
	return np;
}

/* ---------- sandbox pieces ---------- */

/* Error message handler: make sure the message names chunk:line. */
int sandbox_msgh(lua_State *L)
{
	struct policy *p = policy_of(L);
	const char *msg = lua_tostring(L, 1);
	if (!msg) {
		if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
			msg = lua_tostring(L, -1);
		else
			msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
	}
	size_t n = strlen(p->short_src);
	if (strncmp(msg, p->short_src, n) == 0 && msg[n] == ':')
		return 1;
	lua_Debug ar;
	int line = -1;
	for (int level = 1; lua_getstack(L, level, &ar); level++) {
		lua_getinfo(L, "Sl", &ar);
		if (ar.currentline > 0 && strcmp(ar.short_src, p->short_src) == 0) {
			line = ar.currentline;
			break;
		}
	}
	if (line > 0)
		lua_pushfstring(L, "%s:%d: %s", p->short_src, line, msg);
	else
		lua_pushfstring(L, "%s: %s", p->short_src, msg);
	return 1;
}

static int l_unknown_get(lua_State *L)
{
	return luaL_error(L, "unknown global '%s'", luaL_tolstring(L, 2, NULL));
}

static int l_unknown_set(lua_State *L)
{
	return luaL_error(L, "unknown global '%s' (policies may only define locals)", luaL_tolstring(L, 2, NULL));
}

/* load(chunk [, chunkname [, mode [, env]]]): text only, whatever mode says.
 * Without env the chunk gets the registry globals, which every call points at
 * its own sandbox environment. */
static int l_load(lua_State *L)
{
	luaL_checkany(L, 1);
	lua_settop(L, lua_gettop(L) < 4 ? 3 : 4); /* chunk, chunkname, mode[, env] */
	lua_pushliteral(L, "t");
	lua_replace(L, 3);
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_insert(L, 1);
	lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
	return lua_gettop(L);
}

/* string.rep of nothing would loop in C without counting instructions. */
static int l_rep(lua_State *L)
{
	size_t l, lsep;
	luaL_checklstring(L, 1, &l);
	lua_Integer n = luaL_checkinteger(L, 2);
	luaL_optlstring(L, 3, "", &lsep);
	if (n <= 0 || l + lsep == 0) {
		lua_pushliteral(L, "");
		return 1;
	}
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_insert(L, 1);
	lua_call(L, lua_gettop(L) - 1, 1);
	return 1;
}

/* tp.log(...) and print(...): one INFO line on stderr, never stdout. A
 * line keeps its first LOG_LINE_MAX bytes; a call logs LOG_CALL_MAX bytes
 * at most, then one note that the rest was dropped. */
static int l_log(lua_State *L)
{
	struct policy *p = policy_of(L);
	if (p->log_dropped)
		return 0;
	if (p->log_bytes >= LOG_CALL_MAX) {
		p->log_dropped = 1;
		log_warn("policy: further log lines of this call dropped (%u bytes per call at most)",
			 (unsigned)LOG_CALL_MAX);
		return 0;
	}
	char line[LOG_LINE_MAX + 1];
	size_t n = 0;
	int cut = 0, nargs = lua_gettop(L);
	for (int i = 1; i <= nargs && !cut; i++) {
		size_t len;
		const char *s = luaL_tolstring(L, i, &len);
		if (i > 1 && n < LOG_LINE_MAX)
			line[n++] = '\t';
		size_t take = len < LOG_LINE_MAX - n ? len : LOG_LINE_MAX - n;
		memcpy(line + n, s, take);
		n += take;
		cut = take < len || (i < nargs && n >= LOG_LINE_MAX);
		lua_pop(L, 1);
	}
	line[n] = 0;
	p->log_bytes += n;
	log_info("policy: %s%s", line, cut ? " ...(line cut at 2000 bytes)" : "");
	return 0;
}

/* xpcall's message handler runs before the stack unwinds, and when the
 * error came from the cap's hook it would run with hooks off, unmetered.
 * Once the call is killed the handler is skipped and the cap's message
 * passes through. */
static int xpcall_handler(lua_State *L)
{
	if (policy_of(L)->killed)
		return 1;
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_insert(L, 1);
	lua_call(L, lua_gettop(L) - 1, 1);
	return 1;
}

static int l_xpcall(lua_State *L)
{
	luaL_checktype(L, 2, LUA_TFUNCTION);
	lua_pushvalue(L, 2);
	lua_pushcclosure(L, xpcall_handler, 1);
	lua_replace(L, 2);
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_insert(L, 1);
	lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
	return lua_gettop(L);
}

/* Finalizers run during collection with hooks off, outside any cap: a
 * metatable with __gc is refused. Lua marks an object for finalization only
 * when its metatable has __gc at setmetatable time (manual 2.5.3), so adding
 * __gc later does nothing. */
static int l_setmetatable(lua_State *L)
{
	if (lua_type(L, 2) == LUA_TTABLE) {
		lua_pushliteral(L, "__gc");
		int t = lua_rawget(L, 2);
		lua_pop(L, 1);
		if (t != LUA_TNIL)
			return luaL_error(L, "setmetatable: __gc finalizers are not allowed in a policy");
	}
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_insert(L, 1);
	lua_call(L, lua_gettop(L) - 1, 1);
	return 1;
}

/* Build registry["tp.template"] (allowed globals) and registry["tp.envmeta"]. */
static void build_template(lua_State *L)
{
	static const char *base_ok[] = {
		"assert", "error", "getmetatable", "ipairs", "next", "pairs", "pcall", "rawequal", "rawget",
		"rawlen", "rawset", "select", "tonumber", "tostring", "type", "_VERSION", NULL,
	};
	lua_pushglobaltable(L);
	int g = lua_gettop(L);
	lua_newtable(L);
	int t = lua_gettop(L);
	for (const char **k = base_ok; *k; k++) {
		lua_getfield(L, g, *k);
		lua_setfield(L, t, *k);
	}
	lua_getfield(L, g, "load");
	lua_pushcclosure(L, l_load, 1);
	lua_setfield(L, t, "load");
	lua_pushcfunction(L, l_log);
	lua_setfield(L, t, "print");
	lua_getfield(L, g, "xpcall");
	lua_pushcclosure(L, l_xpcall, 1);
	lua_setfield(L, t, "xpcall");
	lua_getfield(L, g, "setmetatable");
	lua_pushcclosure(L, l_setmetatable, 1);
	lua_setfield(L, t, "setmetatable");

	/* string: no dump; rep guarded. The string metatable's __index is this
	 * same table, hidden behind __metatable so getmetatable("") is false. */
	lua_getfield(L, g, "string");
	lua_pushnil(L);
	lua_setfield(L, -2, "dump");
	lua_getfield(L, -1, "rep");
	lua_pushcclosure(L, l_rep, 1);
	lua_setfield(L, -2, "rep");
	lua_setfield(L, t, "string");
	lua_pushliteral(L, "");
	lua_getmetatable(L, -1);
	lua_pushboolean(L, 0);
	lua_setfield(L, -2, "__metatable");
	lua_pop(L, 2);
	for (const char **k = (const char *[]){ "table", "math", "utf8", NULL }; *k; k++) {
		lua_getfield(L, g, *k);
		lua_setfield(L, t, *k);
	}
	lua_getfield(L, LUA_REGISTRYINDEX, "tp.lib");
	lua_pushcfunction(L, l_log);
	lua_setfield(L, -2, "log");
	lua_setfield(L, t, "tp");
	lua_setfield(L, LUA_REGISTRYINDEX, "tp.template");
	lua_pop(L, 1); /* real globals: unreachable from now on */

	lua_createtable(L, 0, 3);
	lua_pushcfunction(L, l_unknown_get);
	lua_setfield(L, -2, "__index");
	lua_pushcfunction(L, l_unknown_set);
	lua_setfield(L, -2, "__newindex");
	lua_pushboolean(L, 0);
	lua_setfield(L, -2, "__metatable");
	lua_setfield(L, LUA_REGISTRYINDEX, "tp.envmeta");
}

/* Push a fresh sandbox environment and make it the registry globals. */
static void new_env(lua_State *L)
{
	lua_getfield(L, LUA_REGISTRYINDEX, "tp.template");
	int t = lua_gettop(L);
	lua_createtable(L, 0, 32);
	int env = lua_gettop(L);
	lua_pushnil(L);
	while (lua_next(L, t)) {
		if (lua_type(L, -1) == LUA_TTABLE) { /* a library: shallow copy */
			int lib = lua_gettop(L);
			lua_createtable(L, 0, 32);
			lua_pushnil(L);
			while (lua_next(L, lib)) {
				lua_pushvalue(L, -2);
				lua_insert(L, -2);
				lua_rawset(L, lib + 1);
			}
			lua_replace(L, lib);
		}
		lua_pushvalue(L, -2);
		lua_insert(L, -2);
		lua_rawset(L, env);
	}
	lua_pushvalue(L, env);
	lua_setfield(L, env, "_G");
	lua_getfield(L, LUA_REGISTRYINDEX, "tp.envmeta");
	lua_setmetatable(L, env);
	lua_pushvalue(L, env);
	lua_rawseti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
	lua_remove(L, t);
}

/* Run the chunk in a fresh environment (every closure it makes shares its
 * _ENV upvalue) and push the policy table it returns. Done for every
 * call, so top-level locals start fresh too. */
void sandbox_push_policy_table(lua_State *L)
{
	new_env(L);
	lua_getfield(L, LUA_REGISTRYINDEX, "tp.chunk");
	lua_insert(L, -2);
	lua_setupvalue(L, -2, 1); /* a main chunk's only upvalue is _ENV */
	lua_call(L, 0, 1);
	if (!lua_istable(L, -1))
		luaL_error(L, "the policy must return a table, not a %s", luaL_typename(L, -1));
	lua_getfield(L, -1, "pipeline");
	if (!lua_isfunction(L, -1))
		luaL_error(L, "the policy table has no `pipeline` function");
	lua_getfield(L, -2, "rollout");
	if (!lua_isnil(L, -1) && !lua_isfunction(L, -1))
		luaL_error(L, "the policy's `rollout` must be a function, not a %s", luaL_typename(L, -1));
	lua_pop(L, 2);
}

/* ---------- the state ---------- */

int sandbox_new(struct policy *p, const char *source, size_t len, tp_err *e)
{
	lua_State *L = lua_newstate(palloc, p);
	if (!L)
		return tp_errf(e, TP_ELIMIT, "PolicyMemoryLimit", "%s: cannot create a Lua state", p->origin);
	p->L = L;
	*(struct policy **)lua_getextraspace(L) = p;
	static const luaL_Reg libs[] = {
		{ LUA_GNAME, luaopen_base }, { LUA_STRLIBNAME, luaopen_string }, { LUA_TABLIBNAME, luaopen_table },
		{ LUA_MATHLIBNAME, luaopen_math }, { LUA_UTF8LIBNAME, luaopen_utf8 }, { NULL, NULL },
	};
	for (const luaL_Reg *l = libs; l->func; l++) {
		luaL_requiref(L, l->name, l->func, 1);
		lua_pop(L, 1);
	}
	ddblua_open(L);
	build_template(L);

	char *chunkname = tp_xasprintf("@%s", p->origin);
	int st = luaL_loadbufferx(L, source, len, chunkname, "t");
	free(chunkname);
	if (st != LUA_OK)
		return tp_errf(e, st == LUA_ERRMEM ? TP_ELIMIT : TP_EPOLICY, st == LUA_ERRMEM ? "PolicyMemoryLimit" : "PolicyError",
			       "%s", lua_tostring(L, -1));
	lua_Debug ar;
	lua_pushvalue(L, -1);
	lua_getinfo(L, ">S", &ar);
	snprintf(p->short_src, sizeof p->short_src, "%s", ar.short_src);
	lua_setfield(L, LUA_REGISTRYINDEX, "tp.chunk");
	return TP_OK;
}

void sandbox_free(struct policy *p)
{
	if (p->L)
		lua_close(p->L);
	p->L = NULL;
	mempool_drain(&p->pool);
}

/* ---------- the caps of one call ---------- */

void sandbox_caps_reset(struct policy *p)
{
	p->killed = KILL_NONE;
	p->log_bytes = 0;
	p->log_dropped = 0;
	snprintf(p->mem_where, sizeof p->mem_where, "%s", p->short_src);
}

void sandbox_count_instructions(struct policy *p, int on)
{
	if (on)
		lua_sethook(p->L, hook, LUA_MASKCOUNT,
			    (int)(p->call_instructions > 0x7fffffff ? 0x7fffffff : p->call_instructions));
	else
		lua_sethook(p->L, NULL, 0, 0);
}

void sandbox_stop_soon(struct policy *p, enum kill_reason why)
{
	if (p && p->L) {
		if (!p->killed)
			p->killed = why;
		lua_sethook(p->L, hook, LUA_MASKCOUNT, 1);
	}
}
