/* policy.c: the sandboxed Lua policy host (see policy.h).
 *
 * Isolation: this process never runs policy code. It holds a prepared
 * lua_State (libraries opened, the sandbox template built, the chunk
 * compiled) and forks one worker process from it; every call (the load's
 * trial run, pipeline, rollout, rollout_health) goes to the worker as a
 * length-framed request of binary values (wire.h: no JSON text is printed
 * or parsed on the way), and the answer comes back the same way, read
 * until the call's deadline with a size cap and decoded with a node cap.
 * The run's ctx (policy_set_ctx) crosses once per worker: the worker keeps
 * it as a Lua table in its registry, out of the policy's reach, and gives
 * every pipeline, rollout and rollout_health call its own copy.
 * Past the deadline the worker is SIGKILLed; the next call forks a new one.
 *
 * Why a process and not a timer here: a count hook cannot interrupt a long
 * C function (string.find backtracking, table.move, table.sort,
 * concatenation, == on long strings), and a signal that longjmps out of Lua
 * may land inside malloc or stdio and leave this process's heap broken; a
 * killed worker leaves nothing behind. Why one worker and not a fork per
 * call: on the 2-core test VM a fork per call cost ~13 ms, the worker's
 * round trip ~100 us over the ~45 us in-process call (make bench-policy).
 *
 * Nothing persists between calls: the worker runs the chunk afresh for
 * every call in a fresh environment (globals, library copies and top-level
 * locals all new), collects the garbage once it adds up (none of it is
 * reachable), and exits after any cap or error (a rejection, nil and a
 * reason, is an answer, not an error).
 * Policy code reaches nothing else that outlives a call (the string
 * metatable and the tp.* metatables are protected, the registry is out of
 * reach). __gc finalizers would run with hooks off, so setmetatable refuses
 * them; the worker _exits without lua_close and the parent's state never
 * ran policy code, so no finalizer can run anywhere.
 *
 * Caps inside the worker: a count hook fires once the call's instruction
 * budget is spent, marks the call killed and re-arms itself with count 1,
 * so each following instruction errors again and a pcall inside the policy
 * cannot resume work; xpcall's message handler is skipped once killed (a
 * handler called from the hook would run with hooks off). The allocator
 * refuses growth beyond max_memory the same way. A timer shortly before
 * the deadline arms the hook too, so a Lua loop ends with file:line; a C
 * function that never returns is the SIGKILL's. RLIMIT_CPU (per call) and,
 * without ASan (whose shadow memory needs the address space), RLIMIT_AS are
 * a second line. print/tp.log lines are capped per line and per call.
 */
#include "script/policy.h"
#include "base/settings_table.h"

#include "aws/ddbval.h"
#include "script/embedded.h"
#include "script/wire.h"
#include "base/hash.h"
#include "base/log.h"

#include <cjson/cJSON.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_INSTRUCTIONS 10000000L
#define DEFAULT_MEMORY (32u << 20)
#define DEFAULT_NODES 10000
#define DEFAULT_TEXT (1u << 20)
#define MAX_POLICY_FILE (1u << 20)
#define LOG_LINE_MAX 2000            /* bytes of one print/tp.log line (log.c keeps 2 KiB) */
#define LOG_CALL_MAX (64u << 10)     /* bytes of log lines per call */
#define CHILD_AS_SLACK (96u << 20)   /* RLIMIT_AS above the parent's size and max_memory */

enum { KILL_NONE, KILL_INSTR, KILL_MEM, KILL_TIME };

#define POOL_MIN 16                 /* smallest pooled block; holds a pointer */
#define POOL_CLASSES 10             /* 16 .. 8192 bytes */
#define POOL_MAX ((size_t)POOL_MIN << (POOL_CLASSES - 1))
#define POOL_CACHE_MAX (4u << 20)   /* bytes kept on the free lists at most */

struct policy {
	lua_State *L;
	char *origin;                      /* file path or "builtin:policy.lua" */
	char short_src[LUA_IDSIZE];        /* how Lua names the chunk in messages */
	char sha[HASH_SHA256_HEX_LEN];     /* of the source text */
	long max_instructions;             /* per call */
	size_t max_memory;                 /* bytes, whole state */
	long timeout_ms;                   /* wall clock per call */
	long call_ms;                      /* this call's, in the worker */
	size_t max_nodes, max_text;        /* conversion budget of a result */
	int in_process;                    /* measurements only: no fork, no deadline */
	int64_t hard_deadline_ms;          /* policy_set_deadline; 0: none */
	size_t mem_used;                   /* bytes Lua currently holds */
	void *pool[POOL_CLASSES];          /* free lists of pooled blocks */
	size_t pool_bytes;                 /* bytes on those lists */
	volatile sig_atomic_t killed;      /* KILL_*: a cap was hit this call */
	char mem_where[LUA_IDSIZE + 24];   /* chunk:line where memory ran out */
	size_t log_bytes;                  /* logged this call */
	int log_dropped;                   /* the per-call log cap was hit */
	long last_wall_us, last_rss_kb;    /* of the last isolated call */
	pid_t worker;                      /* the process that runs calls; 0: none yet */
	int to_worker, from_worker;        /* its request and answer pipes */
	long cpu_used_s, cpu_limit_s;      /* the worker's CPU seconds after its last call; its RLIMIT_CPU */
	size_t gc_floor;                   /* worker: mem_used after its last full collection */
	buf ctx_wire;                      /* policy_set_ctx's ctx, encoded (wire.h) */
	unsigned ctx_gen;                  /* bumped by every policy_set_ctx */
	unsigned ctx_loaded;               /* ctx_gen the Lua state (worker or in process) holds */
};

#define CTX_KEY "tp.ctx"               /* registry: the run's ctx, never handed out itself */

static struct policy *policy_of(lua_State *L)
{
	return *(struct policy **)lua_getextraspace(L);
}

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
				(lua_Integer)p->max_instructions);
	lua_error(L);
}

/* Small-block cache: blocks up to POOL_MAX bytes are rounded up to a power
 * of two and kept on per-size free lists when Lua frees them. A policy call
 * allocates and frees the same few thousand small blocks every time, and
 * musl's malloc gives such memory back to the kernel eagerly (an munmap
 * per call or more, measured ~3x slower calls than glibc); the cache makes
 * both C libraries equally fast. Block kind follows from the size Lua
 * reports: <= POOL_MAX pooled, larger plain malloc. */
static int pool_class(size_t n)
{
	int c = 0;
	size_t size = POOL_MIN;
	while (size < n)
		size <<= 1, c++;
	return c;
}

static void *pool_get(struct policy *p, size_t n)
{
	int c = pool_class(n);
	void *b = p->pool[c];
	if (b) {
		p->pool[c] = *(void **)b;
		p->pool_bytes -= (size_t)POOL_MIN << c;
		return b;
	}
	return malloc((size_t)POOL_MIN << c);
}

static void pool_put(struct policy *p, void *b, size_t n)
{
	int c = pool_class(n);
	if (p->pool_bytes + ((size_t)POOL_MIN << c) > POOL_CACHE_MAX) {
		free(b);
		return;
	}
	*(void **)b = p->pool[c];
	p->pool[c] = b;
	p->pool_bytes += (size_t)POOL_MIN << c;
}

static void pool_drain(struct policy *p)
{
	for (int c = 0; c < POOL_CLASSES; c++)
		while (p->pool[c]) {
			void *b = p->pool[c];
			p->pool[c] = *(void **)b;
			free(b);
		}
	p->pool_bytes = 0;
}

static void *palloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
	struct policy *p = ud;
	size_t old = ptr ? osize : 0;
	if (nsize == 0) {
		if (ptr && old <= POOL_MAX)
			pool_put(p, ptr, old);
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
	if (ptr && old <= POOL_MAX && nsize <= POOL_MAX && pool_class(old) == pool_class(nsize)) {
		np = ptr; /* still fits its block */
	} else if (ptr && old > POOL_MAX && nsize > POOL_MAX) {
		np = realloc(ptr, nsize);
		if (!np && nsize <= old)
			np = ptr;
	} else {
		np = nsize <= POOL_MAX ? pool_get(p, nsize) : malloc(nsize);
		if (!np && ptr && nsize <= old)
			np = ptr; /* Lua assumes a shrink never fails; the block is big enough */
		else if (np && ptr) {
			memcpy(np, ptr, old < nsize ? old : nsize);
			if (old <= POOL_MAX)
				pool_put(p, ptr, old);
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
static int msgh(lua_State *L)
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
static void push_policy_table(lua_State *L)
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

/* ---------- protected calls ---------- */

enum { CALL_LOAD, CALL_PIPELINE, CALL_ROLLOUT, CALL_HEALTH, CALL_GROUP };

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
	lua_getfield(L, LUA_REGISTRYINDEX, "tp.null.value"); /* ddbval.c's sentinel */
	lua_pushcclosure(L, l_copy_ctx, 1);
	lua_call(L, 0, 1);
	return 0;
}

static const char *call_names[] = { "load", "pipeline", "rollout", "rollout_health", "limit_group" };

/* Which argument of a call of kind is the run's ctx (-1: none): the last. */
static int ctx_arg(int kind)
{
	return kind == CALL_PIPELINE || kind == CALL_GROUP ? 1 : kind == CALL_LOAD ? -1 : 2;
}

struct call {
	int kind;                /* CALL_* */
	const cJSON *args[3];    /* item or change, (ctx) or targets, (ctx); ctx_arg's is unused */
	const cJSON *set_ctx;    /* the run's ctx to store first, or NULL */
	cJSON *result;           /* converted return value (numbers as Raw text) */
	int no_rollout;          /* policy has no such function (rollout, limit_group) */
	int rejected;            /* nil, "reason" */
	char reason[512];
	int rc;                  /* conversion failure, details in e */
	tp_err *e;
};

static int run_call(lua_State *L)
{
	struct call *c = lua_touserdata(L, 1);
	struct policy *p = policy_of(L);
	lua_settop(L, 0);
	if (c->set_ctx) {
		if ((c->rc = ddbval_push_json(L, c->set_ctx, c->e)) < 0)
			return 0;
		lua_setfield(L, LUA_REGISTRYINDEX, CTX_KEY);
	}
	push_policy_table(L); /* 1 */
	if (c->kind == CALL_LOAD)
		return 0;
	const char *fn = call_names[c->kind];
	lua_getfield(L, 1, fn); /* 2 */
	if (lua_isnil(L, 2)) {
		c->no_rollout = 1;
		return 0;
	}
	lua_Debug ar;
	lua_pushvalue(L, 2);
	lua_getinfo(L, ">S", &ar);
	int defined = ar.linedefined;
	int nargs = c->kind == CALL_PIPELINE || c->kind == CALL_GROUP ? 2 : 3;
	for (int i = 0; i < nargs; i++) {
		const cJSON *a = c->args[i];
		int rc;
		if (i == ctx_arg(c->kind))
			rc = push_ctx_copy(L);
		else if (!a)
			lua_newtable(L), rc = 0;
		else if ((c->kind == CALL_PIPELINE || c->kind == CALL_GROUP) && i == 0)
			rc = ddbval_push_item(L, a, c->e);
		else
			rc = ddbval_push_json(L, a, c->e);
		if (rc < 0) {
			c->rc = rc;
			return 0;
		}
	}
	lua_call(L, nargs, 2); /* results at 2, 3 */
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
	if (c->kind == CALL_HEALTH) {
		/* true[, "note"]: healthy; "wait"[, "note"]: no verdict yet, ask
		 * again with a longer window; nil or false, "reason": not. */
		int wait = lua_type(L, 2) == LUA_TSTRING && strcmp(lua_tostring(L, 2), "wait") == 0;
		if (!lua_isboolean(L, 2) && !wait)
			return luaL_error(L, "rollout_health must return true, \"wait\" (or nil, \"reason\"), not a %s",
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
	struct ddbval_budget b = { .max_nodes = p->max_nodes, .max_bytes = p->max_text };
	const char *what = c->kind == CALL_PIPELINE ? "spec" : c->kind == CALL_GROUP ? "limit group" : "waves";
	c->rc = ddbval_to_json_budget(L, 2, what, &b, &c->result, c->e);
	if (c->rc < 0 && c->e) {
		/* name the function that returned it: file:line of its definition */
		char msg[sizeof c->e->message], code[sizeof c->e->code];
		snprintf(msg, sizeof msg, "%s", c->e->message);
		snprintf(code, sizeof code, "%s", c->e->code);
		tp_errf(c->e, c->rc, code, "%s:%d: %s returned %s", p->short_src, defined, fn, msg);
	}
	return 0;
}

/* Run c under the instruction and memory caps, in this process; returns 0
 * or a TP_E* with e filled. The fork in call_policy is what bounds time. */
static int protected_call(struct policy *p, struct call *c, tp_err *e)
{
	lua_State *L = p->L;
	c->e = e;
	p->killed = KILL_NONE;
	p->log_bytes = 0;
	p->log_dropped = 0;
	snprintf(p->mem_where, sizeof p->mem_where, "%s", p->short_src);
	lua_settop(L, 0);
	/* the cap counts uncollected garbage too (in-process calls only: a
	 * worker collects after every call) */
	if (p->mem_used > p->max_memory / 2)
		lua_gc(L, LUA_GCCOLLECT, 0);
	lua_pushcfunction(L, msgh);
	lua_pushcfunction(L, run_call);
	lua_pushlightuserdata(L, c);
	lua_sethook(L, hook, LUA_MASKCOUNT, (int)(p->max_instructions > 0x7fffffff ? 0x7fffffff : p->max_instructions));
	int status = lua_pcall(L, 1, 0, 1);
	lua_sethook(L, NULL, 0, 0);
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
				     p->short_src, p->max_instructions);
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

/* ---------- the worker process ---------- */

/* Frames on the pipes: an 8-byte little-endian length, then that many
 * bytes. A request is a JSON object {"kind":n,"args":[...]}; an answer is
 * the call's envelope {"rc":..,"code":..,"message":..,"result":..}. */

static struct policy *worker_policy; /* set in the worker only, for the timer */

/* Shortly before the deadline: make the next Lua instruction fail with
 * file:line. lua_sethook is safe in a signal handler (lua.c does the same
 * for SIGINT); a C function still running is left to the parent's SIGKILL. */
static void on_soft_deadline(int sig)
{
	(void)sig;
	struct policy *p = worker_policy;
	if (p && p->L) {
		if (!p->killed)
			p->killed = KILL_TIME;
		lua_sethook(p->L, hook, LUA_MASKCOUNT, 1);
	}
}

/* Address space in use now (bytes), from /proc/self/statm; 0 if unknown. */
static size_t vm_size(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	unsigned long pages = 0;
	if (f) {
		if (fscanf(f, "%lu", &pages) != 1)
			pages = 0;
		fclose(f);
	}
	return (size_t)pages * (size_t)sysconf(_SC_PAGESIZE);
}

#if defined(__SANITIZE_ADDRESS__)
#define HAVE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HAVE_ASAN 1
#endif
#endif

/* Write all of s; 0 or -1. The worker's side: a parent gone ends it. */
static int write_raw(int fd, const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, s, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Write all of s; 0 or -1 (the reader is gone). SIGPIPE is blocked around
 * the write and a pending one consumed, so a dead worker is an error here,
 * not the end of this process. */
static int write_all(int fd, const char *s, size_t n)
{
	sigset_t pipe_set, old;
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	sigprocmask(SIG_BLOCK, &pipe_set, &old);
	int rc = write_raw(fd, s, n);
	if (rc < 0) {
		struct timespec zero = { 0, 0 };
		sigtimedwait(&pipe_set, NULL, &zero);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	return rc;
}

/* A frame is built in place: frame_start leaves room for the length,
 * frame_end fills it in, and the frame goes out in one write. */
static void frame_start(buf *b)
{
	buf_reset(b);
	buf_add(b, "\0\0\0\0\0\0\0\0", 8);
}

static void frame_end(buf *b)
{
	uint64_t n = b->len - 8;
	for (int i = 0; i < 8; i++)
		b->data[i] = (char)(unsigned char)(n >> (8 * i));
}

static uint64_t frame_len(const char *h)
{
	uint64_t n = 0;
	for (int i = 0; i < 8; i++)
		n |= (uint64_t)(unsigned char)h[i] << (8 * i);
	return n;
}

/* Read one frame into b (its body then at b->data + 8, b->len - 8 bytes
 * long) in as few reads as the bytes arrive in: requests and answers
 * strictly alternate, so a read never takes bytes of a next frame (more
 * than the frame is an error). Before each read, wait (poll) until the
 * monotonic deadline when it is not 0. 0; -1 on EOF or error; -2 at the
 * deadline; -3 when the frame is longer than cap. */
static int read_frame(int fd, buf *b, size_t cap, int64_t deadline)
{
	b->len = 0;
	size_t want = 8;
	while (b->len < want) {
		if (deadline) {
			int64_t left = deadline - tp_mono_ms();
			if (left <= 0)
				return -2;
			struct pollfd pf = { .fd = fd, .events = POLLIN };
			int pr = poll(&pf, 1, (int)left);
			if (pr < 0 && errno == EINTR)
				continue;
			if (pr == 0)
				return -2;
		}
		size_t room = want - b->len < 16384 ? 16384 : want - b->len;
		if (b->cap < b->len + room + 1) {
			b->data = tp_xrealloc(b->data, b->len + room + 1);
			b->cap = b->len + room + 1;
		}
		ssize_t r = read(fd, b->data + b->len, room);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		b->len += (size_t)r;
		b->data[b->len] = 0;
		if (want == 8 && b->len >= 8) {
			uint64_t n = frame_len(b->data);
			if (n > cap)
				return -3;
			want = 8 + (size_t)n;
		}
	}
	return b->len == want ? 0 : -1;
}

/* Flags of an answer. */
enum { ANS_REJECTED = 1, ANS_NO_ROLLOUT = 2, ANS_RESULT = 4 };

/* One call in the worker: under every in-process cap, with the timer and
 * RLIMIT_CPU armed for this call only. The request: u32 kind, u32
 * budget_ms, a byte saying whether the run's ctx follows, the ctx, three
 * argument values; the answer (into ans): u32 rc, u32 rss_kb, a flags
 * byte, code, message, reason, and the result value when flagged. */
static void worker_call(struct policy *p, const char *req, size_t len, buf *ans, int *recycle)
{
	struct wire_in in = { (const unsigned char *)req, (const unsigned char *)req + len, 0, 0, 0 };
	uint32_t kind = (uint32_t)-1, budget = 0;
	cJSON *args[3] = { NULL, NULL, NULL }, *ctx = NULL;
	int ok = wire_get_u32(&in, &kind) == 0 && wire_get_u32(&in, &budget) == 0 && in.p < in.end;
	if (ok && *in.p++)
		ok = (ctx = wire_get(&in)) != NULL;
	for (int i = 0; i < 3 && ok; i++)
		ok = (args[i] = wire_get(&in)) != NULL;
	struct call c = { .kind = ok && kind <= CALL_GROUP ? (int)kind : -1, .set_ctx = ctx };
	for (int i = 0; i < 3; i++)
		c.args[i] = cJSON_IsNull(args[i]) ? NULL : args[i];
	/* RLIMIT_CPU: this call may use timeout + 1 to + 2 s of CPU; it is
	 * moved on only when a call used a second or more */
	long need = p->timeout_ms / 1000 + 2;
	if (p->cpu_limit_s - p->cpu_used_s < need - 1) {
		struct rlimit cpu = { (rlim_t)(p->cpu_used_s + need), (rlim_t)(p->cpu_used_s + need + 1) };
		setrlimit(RLIMIT_CPU, &cpu);
		p->cpu_limit_s = p->cpu_used_s + need;
	}
	/* this call's budget (the invocation's deadline may shorten it) */
	int64_t ms = budget > 0 && (long)budget < p->timeout_ms ? (int64_t)budget : p->timeout_ms;
	int64_t soft = ms - (ms / 10 > 20 ? ms / 10 : 20);
	p->call_ms = (long)ms;
	if (soft < 1)
		soft = 1;
	struct itimerval it = { { 0, 0 }, { (time_t)(soft / 1000), (suseconds_t)(soft % 1000 * 1000) } };
	setitimer(ITIMER_REAL, &it, NULL);

	tp_err e = { 0 };
	int rc = c.kind >= 0 ? protected_call(p, &c, &e)
		 : tp_errf(&e, TP_EINVAL, "PolicyError", "bad request to the policy worker");
	struct itimerval off = { { 0, 0 }, { 0, 0 } };
	setitimer(ITIMER_REAL, &off, NULL);
	/* nothing of this call is kept for the next: its garbage goes now, and
	 * after a cap or an error (a Lua error unwinding through C code may
	 * leave C memory behind) the worker is replaced altogether */
	*recycle = p->killed || (rc < 0 && !c.rejected);
	/* Garbage is unreachable whatever its amount; a full collection marks
	 * the whole prepared state (more work than most calls), so it runs
	 * once garbage adds up to max_memory / 16 (that much at most counts
	 * against the next call's memory cap). */
	if (!*recycle && p->mem_used > p->gc_floor + p->max_memory / 16) {
		lua_gc(p->L, LUA_GCCOLLECT, 0);
		p->gc_floor = p->mem_used;
	}
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	p->cpu_used_s = (long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec);
	wire_put_u32(ans, (uint32_t)rc);
	wire_put_u32(ans, (uint32_t)ru.ru_maxrss);
	buf_addc(ans, (char)((c.rejected ? ANS_REJECTED : 0) | (c.no_rollout ? ANS_NO_ROLLOUT : 0) |
			     (c.result ? ANS_RESULT : 0)));
	wire_put_str(ans, rc < 0 ? e.code : "");
	wire_put_str(ans, rc < 0 ? e.message : "");
	wire_put_str(ans, c.rejected ? c.reason : "");
	if (c.result)
		wire_put(ans, c.result);
	cJSON_Delete(c.result);
	cJSON_Delete(ctx);
	for (int i = 0; i < 3; i++)
		cJSON_Delete(args[i]);
}

/* Hold nothing of the parent's: its sockets and files close here. */
static void close_inherited(int keep1, int keep2)
{
	int fds[1024], n = 0;
	DIR *d = opendir("/proc/self/fd");
	if (!d) {
		for (int fd = 3; fd < 1024; fd++)
			if (fd != keep1 && fd != keep2)
				close(fd);
		return;
	}
	struct dirent *de;
	while ((de = readdir(d)) && n < (int)(sizeof fds / sizeof fds[0])) {
		int fd = atoi(de->d_name);
		if (fd > 2 && fd != keep1 && fd != keep2 && fd != dirfd(d))
			fds[n++] = fd;
	}
	closedir(d);
	for (int i = 0; i < n; i++)
		close(fds[i]);
}

/* The worker: serves calls until its request pipe closes or a cap was
 * hit. Never returns; never runs lua_close (no finalizer, no teardown). */
static void worker_main(struct policy *p, int rfd, int wfd, size_t as_limit)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1)
		_exit(0);
	signal(SIGPIPE, SIG_DFL);
	close_inherited(rfd, wfd);
#ifndef HAVE_ASAN
	if (as_limit) {
		struct rlimit as = { as_limit, as_limit };
		setrlimit(RLIMIT_AS, &as);
	}
#else
	(void)as_limit;
#endif
	worker_policy = p;
	p->gc_floor = p->mem_used;
	p->cpu_used_s = p->cpu_limit_s = 0; /* a new process: its CPU time starts at 0 */
	struct sigaction sa = { 0 };
	sa.sa_handler = on_soft_deadline;
	sigaction(SIGALRM, &sa, NULL);
	buf req = { 0 }, ans = { 0 };
	for (;;) {
		if (read_frame(rfd, &req, SIZE_MAX / 2, 0) < 0)
			_exit(req.len == 0 ? 0 : 2); /* no request: the parent closed the pipe */
		int recycle = 0;
		frame_start(&ans);
		worker_call(p, req.data + 8, req.len - 8, &ans, &recycle);
		frame_end(&ans);
		if (write_raw(wfd, ans.data, ans.len) < 0)
			_exit(3);
		if (recycle)
			_exit(0);
	}
}

static void worker_stop(struct policy *p, struct rusage *ru)
{
	if (p->worker <= 0)
		return;
	kill(p->worker, SIGKILL);
	close(p->to_worker);
	close(p->from_worker);
	int st;
	while (wait4(p->worker, &st, 0, ru) < 0 && errno == EINTR)
		;
	p->worker = 0;
}

static int worker_start(struct policy *p, tp_err *e)
{
	/* RLIMIT_AS: this process's size, the Lua cap and room for the result */
	size_t vm = vm_size(), as_limit = vm ? vm + p->max_memory + 8 * p->max_text + CHILD_AS_SLACK : 0;
	int req[2], ans[2];
	if (pipe2(req, O_CLOEXEC) < 0)
		return tp_errf(e, TP_EIO, "PolicyError", "%s: pipe: %s", p->short_src, strerror(errno));
	if (pipe2(ans, O_CLOEXEC) < 0) {
		close(req[0]);
		close(req[1]);
		return tp_errf(e, TP_EIO, "PolicyError", "%s: pipe: %s", p->short_src, strerror(errno));
	}
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid == 0) {
		close(req[1]);
		close(ans[0]);
		worker_main(p, req[0], ans[1], as_limit);
	}
	close(req[0]);
	close(ans[1]);
	if (pid < 0) {
		close(req[1]);
		close(ans[0]);
		return tp_errf(e, TP_EIO, "PolicyError", "%s: fork: %s", p->short_src, strerror(errno));
	}
	p->worker = pid;
	p->ctx_loaded = 0; /* a new worker holds no ctx yet */
	p->to_worker = req[1];
	p->from_worker = ans[0];
	return TP_OK;
}

/* The request for c (worker_call says its form); *send_ctx set when it
 * carries the run's ctx, which the worker does not hold yet. */
static void build_request(struct policy *p, const struct call *c, int64_t budget, buf *req, int *send_ctx)
{
	frame_start(req);
	wire_put_u32(req, (uint32_t)c->kind);
	wire_put_u32(req, (uint32_t)budget);
	*send_ctx = ctx_arg(c->kind) >= 0 && p->ctx_loaded != p->ctx_gen;
	buf_addc(req, (char)*send_ctx);
	if (*send_ctx)
		buf_add(req, p->ctx_wire.data, p->ctx_wire.len);
	for (int i = 0; i < 3; i++) /* the ctx argument is the run's, sent above */
		wire_put(req, i == ctx_arg(c->kind) ? NULL : c->args[i]);
	frame_end(req);
}

/* Run c in the worker under every cap, the wall clock included: the
 * worker that overruns the deadline is SIGKILLed and replaced next call. */
static int isolated_call(struct policy *p, struct call *c, tp_err *e)
{
	const char *fn = call_names[c->kind];
	int64_t budget = p->timeout_ms;
	if (p->hard_deadline_ms) {
		int64_t left = p->hard_deadline_ms - tp_now_ms();
		if (left < budget)
			budget = left;
		if (budget <= 0)
			return tp_errf(e, TP_ELIMIT, "PolicyTimeLimit",
				       "%s: %s not run: no time left before the invocation's deadline", p->short_src, fn);
	}
	int64_t start = tp_mono_us();
	int rc;
	if (p->worker <= 0 && (rc = worker_start(p, e)) < 0)
		return rc;
	/* the policy's time starts now: forking the worker is ours */
	int64_t deadline = tp_mono_ms() + budget;
	buf req = { 0 };
	int send_ctx;
	build_request(p, c, budget, &req, &send_ctx);
	/* the worker waits for requests between calls, so this write only
	 * blocks while it reads; a dead worker fails it at once */
	int wr = write_all(p->to_worker, req.data, req.len);
	if (wr < 0) {
		/* the worker died between calls (killed from outside): one new one */
		worker_stop(p, NULL);
		if ((rc = worker_start(p, e)) < 0) {
			buf_free(&req);
			return rc;
		}
		build_request(p, c, budget, &req, &send_ctx);
		wr = write_all(p->to_worker, req.data, req.len);
	}
	buf_free(&req);
	/* the answer: a converted result (its JSON escapes at most 6x the
	 * budgeted text) plus a reason and an error message */
	size_t cap = 6 * p->max_text + 16 * p->max_nodes + 8192;
	buf answer = { 0 };
	int rd = wr < 0 ? -1 : read_frame(p->from_worker, &answer, cap, deadline);
	const char *body = answer.data ? answer.data + 8 : "";
	size_t n = rd == 0 ? answer.len - 8 : 0;
	struct rusage ru = { 0 };
	/* the answer's envelope (worker_call) */
	struct wire_in in = { (const unsigned char *)body, (const unsigned char *)body + n, 0, 0, 0 };
	uint32_t arc = 0, rss = 0;
	char *code = NULL, *msg = NULL, *reason = NULL;
	int flags = 0;
	if (rd == 0 && wire_get_u32(&in, &arc) == 0 && wire_get_u32(&in, &rss) == 0 && in.p < in.end) {
		flags = *in.p++;
		if (wire_get_str(&in, &code) < 0 || wire_get_str(&in, &msg) < 0 || wire_get_str(&in, &reason) < 0)
			rd = -1;
	} else if (rd == 0) {
		rd = -1;
	}
	if (rd == -2) {
		worker_stop(p, &ru);
		rc = tp_errf(e, TP_ELIMIT, "PolicyTimeLimit", "%s: %s: wall-clock limit of %lld ms exceeded (stopped)",
			     p->short_src, fn, (long long)budget);
	} else if (rd == -3) {
		worker_stop(p, &ru);
		rc = tp_errf(e, TP_ELIMIT, "PolicyOutputLimit", "%s: %s: result larger than %zu bytes", p->short_src, fn,
			     cap);
	} else if (rd < 0) {
		/* the worker died: a signal (RLIMIT_CPU, RLIMIT_AS) or a crash */
		pid_t pid = p->worker;
		int st = 0;
		kill(pid, SIGKILL);
		close(p->to_worker);
		close(p->from_worker);
		while (wait4(pid, &st, 0, &ru) < 0 && errno == EINTR)
			;
		p->worker = 0;
		if (WIFSIGNALED(st) && WTERMSIG(st) == SIGXCPU)
			rc = tp_errf(e, TP_ELIMIT, "PolicyTimeLimit", "%s: %s: CPU time limit exceeded", p->short_src, fn);
		else
			rc = tp_errf(e, TP_ELIMIT, "PolicyMemoryLimit",
				     "%s: %s: the policy process ended (%s %d; out of memory?)", p->short_src, fn,
				     WIFSIGNALED(st) ? "signal" : "status", WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
	} else {
		if (send_ctx)
			p->ctx_loaded = p->ctx_gen;
		rc = (int)(int32_t)arc;
		if (rc < 0)
			tp_errf(e, rc, *code ? code : "PolicyError", "%s", *msg ? msg : "(no message)");
		c->rejected = (flags & ANS_REJECTED) != 0;
		snprintf(c->reason, sizeof c->reason, "%s", reason);
		c->no_rollout = (flags & ANS_NO_ROLLOUT) != 0;
		if (rc == TP_OK && (flags & ANS_RESULT)) {
			in.max_nodes = p->max_nodes + 16;
			c->result = wire_get(&in);
			if (!c->result) {
				worker_stop(p, &ru);
				rc = tp_errf(e, TP_ELIMIT, "PolicyOutputLimit", "%s: %s: result has more than %zu values",
					     p->short_src, fn, p->max_nodes);
			}
		}
		ru.ru_maxrss = (long)rss;
		if (rc < 0 && !c->rejected) /* the worker exits after a cap or an error: reap it */
			worker_stop(p, NULL);
	}
	p->last_wall_us = (long)(tp_mono_us() - start);
	p->last_rss_kb = ru.ru_maxrss;
	cJSON_free(code);
	cJSON_free(msg);
	cJSON_free(reason);
	buf_free(&answer);
	return rc;
}

static int call_policy(struct policy *p, struct call *c, tp_err *e)
{
	if (!p->in_process)
		return isolated_call(p, c, e);
	cJSON *ctx = NULL;
	if (ctx_arg(c->kind) >= 0 && p->ctx_loaded != p->ctx_gen) {
		struct wire_in in = { (const unsigned char *)p->ctx_wire.data,
				      (const unsigned char *)p->ctx_wire.data + p->ctx_wire.len, 0, 0, 0 };
		c->set_ctx = ctx = wire_get(&in); /* our own encoding: always well formed */
	}
	int rc = protected_call(p, c, e);
	if (ctx && (rc == TP_OK || c->rejected))
		p->ctx_loaded = p->ctx_gen;
	c->set_ctx = NULL;
	cJSON_Delete(ctx);
	return rc;
}

/* ---------- public ---------- */

int policy_new(const char *source, size_t len, const char *origin, const struct policy_limits *lim,
	       struct policy **out, tp_err *e)
{
	*out = NULL;
	struct policy *p = tp_xcalloc(1, sizeof *p);
	p->origin = tp_xstrdup(origin ? origin : "policy");
	p->max_instructions = lim && lim->max_instructions > 0 ? lim->max_instructions : DEFAULT_INSTRUCTIONS;
	p->max_memory = lim && lim->max_memory > 0 ? lim->max_memory : DEFAULT_MEMORY;
	p->timeout_ms = lim && lim->timeout_ms > 0 ? lim->timeout_ms : policy_default_timeout_ms();
	p->max_nodes = lim && lim->max_nodes > 0 ? lim->max_nodes : DEFAULT_NODES;
	p->max_text = lim && lim->max_text > 0 ? lim->max_text : DEFAULT_TEXT;
	p->in_process = lim && lim->in_process;
	hash_sha256_hex(source, len, p->sha);
	int rc = TP_OK;

	lua_State *L = lua_newstate(palloc, p);
	if (!L) {
		rc = tp_errf(e, TP_ELIMIT, "PolicyMemoryLimit", "%s: cannot create a Lua state", p->origin);
		goto done;
	}
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
	ddbval_open(L);
	build_template(L);

	char *chunkname = tp_xasprintf("@%s", p->origin);
	int st = luaL_loadbufferx(L, source, len, chunkname, "t");
	free(chunkname);
	if (st != LUA_OK) {
		rc = tp_errf(e, st == LUA_ERRMEM ? TP_ELIMIT : TP_EPOLICY, st == LUA_ERRMEM ? "PolicyMemoryLimit" : "PolicyError",
			     "%s", lua_tostring(L, -1));
		goto done;
	}
	lua_Debug ar;
	lua_pushvalue(L, -1);
	lua_getinfo(L, ">S", &ar);
	snprintf(p->short_src, sizeof p->short_src, "%s", ar.short_src);
	lua_setfield(L, LUA_REGISTRYINDEX, "tp.chunk");

	/* a trial run of the chunk, in the worker like every call */
	struct call c = { .kind = CALL_LOAD };
	rc = call_policy(p, &c, e);
done:
	if (rc < 0) {
		policy_free(p);
		return rc;
	}
	*out = p;
	return TP_OK;
}

void policy_free(struct policy *p)
{
	if (!p)
		return;
	worker_stop(p, NULL);
	if (p->L)
		lua_close(p->L);
	pool_drain(p);
	buf_free(&p->ctx_wire);
	free(p->origin);
	free(p);
}

int policy_load(const char *path, const struct policy_limits *lim, struct policy **out, tp_err *e)
{
	*out = NULL;
	const char *env = setting_raw(SET_POLICY);
	char *root_path = NULL;
	if (!path && env && *env)
		path = env;
	if (!path) {
		const char *root = getenv("LAMBDA_TASK_ROOT");
		if (root && *root) {
			root_path = tp_xasprintf("%s/policy.lua", root);
			if (access(root_path, R_OK) == 0)
				path = root_path;
		}
	}
	int rc;
	if (path) {
		buf src = {0};
		rc = tp_read_file(path, MAX_POLICY_FILE, &src, e);
		if (rc == TP_OK)
			rc = policy_new(buf_str(&src), src.len, path, lim, out, e);
		buf_free(&src);
	} else {
		const struct embedded_file *f = embedded_find("policy.lua");
		if (f)
			rc = policy_new(f->data, f->len, "builtin:policy.lua", lim, out, e);
		else
			rc = tp_errf(e, TP_EPOLICY, "PolicyError", "no policy: no file given and none embedded");
	}
	free(root_path);
	return rc;
}

const char *policy_origin(const struct policy *p)
{
	return p->origin;
}

const char *policy_sha256(const struct policy *p)
{
	return p->sha;
}

int policy_parse_json(const char *json, const char *what, cJSON **out, tp_err *e)
{
	*out = NULL;
	if (!json)
		return TP_OK;
	/* cJSON would cut a string at \u0000 silently: refuse it by name */
	if (ddbval_json_has_nul(json))
		return tp_errf(e, TP_EINVAL, "BadJson", "%s: a string holds a NUL character (\\u0000)", what);
	*out = cJSON_Parse(json);
	if (!*out)
		return tp_errf(e, TP_EINVAL, "BadJson", "%s: not valid JSON", what);
	return TP_OK;
}

void policy_set_ctx(struct policy *p, const cJSON *ctx)
{
	buf_reset(&p->ctx_wire);
	if (ctx) {
		wire_put(&p->ctx_wire, ctx);
	} else { /* an empty table */
		buf_addc(&p->ctx_wire, 'o');
		wire_put_u32(&p->ctx_wire, 0);
	}
	p->ctx_gen++;
	if (p->ctx_gen == 0) /* 0 is "never loaded": skip it on wrap-around */
		p->ctx_gen = 1;
}

int policy_pipeline(struct policy *p, const cJSON *item, cJSON **spec, tp_err *e)
{
	*spec = NULL;
	if (!item)
		return tp_errf(e, TP_EINVAL, "BadItem", "item: missing");
	struct call c = { .kind = CALL_PIPELINE, .args = { item } };
	int rc = call_policy(p, &c, e);
	if (rc == TP_OK && !cJSON_IsObject(c.result))
		rc = tp_errf(e, TP_EPOLICY, "PolicyError", "%s: pipeline must return a table with named fields (the spec)",
			     p->origin);
	if (rc == TP_OK) {
		*spec = c.result;
		c.result = NULL;
	}
	cJSON_Delete(c.result);
	return rc;
}

int policy_limit_group(struct policy *p, const cJSON *item, cJSON **group, tp_err *e)
{
	*group = NULL;
	if (!item)
		return tp_errf(e, TP_EINVAL, "BadItem", "limit group item: missing");
	struct call c = { .kind = CALL_GROUP, .args = { item } };
	int rc = call_policy(p, &c, e);
	if (rc == TP_OK && c.no_rollout)
		rc = tp_errf(e, TP_EPOLICY, "PolicyError",
			     "%s: the policy has no `limit_group` function, so it cannot check limit group items", p->origin);
	if (rc == TP_OK && !cJSON_IsObject(c.result))
		rc = tp_errf(e, TP_EPOLICY, "PolicyError", "%s: limit_group must return a table {rate = ..., burst = ...}",
			     p->origin);
	if (rc == TP_OK) {
		*group = c.result;
		c.result = NULL;
	}
	cJSON_Delete(c.result);
	return rc;
}

/* One wave with every target, for policies without a rollout function. */
static cJSON *single_wave(const cJSON *targets)
{
	cJSON *names = cJSON_CreateArray();
	const cJSON *t;
	cJSON_ArrayForEach(t, targets) {
		const cJSON *n = cJSON_GetObjectItemCaseSensitive(t, "pipeline");
		if (cJSON_IsString(n))
			cJSON_AddItemToArray(names, cJSON_CreateString(n->valuestring));
	}
	cJSON *waves = cJSON_CreateArray();
	if (cJSON_GetArraySize(names) > 0) {
		cJSON *w = cJSON_CreateObject();
		cJSON_AddItemToObject(w, "targets", names);
		cJSON_AddNumberToObject(w, "pause_seconds", 0);
		cJSON_AddBoolToObject(w, "halt_on_failure", 1);
		cJSON_AddItemToArray(waves, w);
	} else {
		cJSON_Delete(names);
	}
	return waves;
}

int policy_rollout(struct policy *p, const cJSON *change, const cJSON *targets, cJSON **waves, tp_err *e)
{
	*waves = NULL;
	if (targets && !cJSON_IsArray(targets))
		return tp_errf(e, TP_EINVAL, "BadJson", "targets: must be a JSON array");
	struct call c = { .kind = CALL_ROLLOUT, .args = { change, targets } };
	int rc = call_policy(p, &c, e);
	if (rc == TP_OK && c.no_rollout)
		c.result = single_wave(targets);
	if (rc == TP_OK && cJSON_IsObject(c.result) && !c.result->child) { /* {} from an empty table */
		cJSON_Delete(c.result);
		c.result = cJSON_CreateArray();
	}
	if (rc == TP_OK && !cJSON_IsArray(c.result))
		rc = tp_errf(e, TP_EPOLICY, "PolicyError", "%s: rollout must return a list of waves", p->origin);
	if (rc == TP_OK) {
		*waves = c.result;
		c.result = NULL;
	}
	cJSON_Delete(c.result);
	return rc;
}

int policy_rollout_health(struct policy *p, const cJSON *wave, const cJSON *results, int *healthy, char *reason,
			  size_t reason_len, tp_err *e)
{
	*healthy = 1;
	if (reason_len)
		reason[0] = 0;
	struct call c = { .kind = CALL_HEALTH, .args = { wave, results } };
	int rc = call_policy(p, &c, e);
	if (rc == TP_EPOLICY && c.rejected) {
		/* nil, "reason" is the policy's verdict, not a failure of the policy */
		*healthy = 0;
		snprintf(reason, reason_len, "%s", c.reason);
		tp_err_clear(e);
		rc = TP_OK;
	} else if (rc == TP_OK) {
		const char *v = cJSON_GetStringValue(cJSON_GetObjectItem(c.result, "verdict"));
		const char *note = cJSON_GetStringValue(cJSON_GetObjectItem(c.result, "note"));
		if (v && strcmp(v, "wait") == 0)
			*healthy = POLICY_HEALTH_WAIT;
		if (note && reason_len)
			snprintf(reason, reason_len, "%s", note);
	}
	cJSON_Delete(c.result);
	return rc;
}

long policy_default_timeout_ms(void)
{
	return setting_long_or_warn(SET_POLICY_TIMEOUT_MS);
}

void policy_last_usage(const struct policy *p, long *wall_us, long *max_rss_kb)
{
	*wall_us = p->last_wall_us;
	*max_rss_kb = p->last_rss_kb;
}

void policy_set_deadline(struct policy *p, int64_t deadline_ms)
{
	if (p)
		p->hard_deadline_ms = deadline_ms;
}

const char *policy_engine_version(void)
{
	return LUA_RELEASE;
}
