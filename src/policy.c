/* policy.c: the sandboxed Lua policy host (see policy.h).
 *
 * One lua_State per policy, with an allocator that counts bytes against
 * max_memory. The chunk is compiled and run once, at load; it returns the
 * policy table. Every call then builds a fresh global environment (copies of
 * the allowed globals and of the string, table, math, utf8 and tp tables)
 * and points the chunk's _ENV upvalue at it; every closure of the chunk
 * shares that upvalue, so each call sees only its own globals. Nothing a
 * call does to globals or library tables reaches the next call. What does
 * persist is the chunk's top-level locals (tables a policy keeps in upvalues):
 * policies should treat them as constants. Measured with the default policy
 * (glibc, -O2, 2-core VM): fresh globals ~5 us, a whole policy_pipeline call
 * ~30 us; re-running the chunk per call as well (fresh top-level locals too)
 * cost ~80 us, so it is not done.
 *
 * Caps: a count hook fires once the call's instruction budget is spent, marks
 * the policy killed and re-arms itself with count 1, so each following
 * instruction errors again and a pcall inside the policy cannot resume work.
 * The allocator refuses growth beyond max_memory and marks the policy killed
 * the same way. The cap counts garbage not yet collected, so a call starts
 * with a full collection when the state holds more than half of it. A killed call ends with TP_ELIMIT whatever the policy returned.
 *
 * Known limit (as in Redis): a single C library call cannot be interrupted,
 * so a pathological string.find pattern over a long string can run long;
 * string.rep of empty strings, the cheap case, is short-circuited.
 */
#include "policy.h"

#include "ddbval.h"
#include "embedded.h"
#include "hash.h"
#include "log.h"

#include <cjson/cJSON.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_INSTRUCTIONS 10000000L
#define DEFAULT_MEMORY (32u << 20)
#define MAX_POLICY_FILE (1u << 20)

enum { KILL_NONE, KILL_INSTR, KILL_MEM };

#define POOL_MIN 16                 /* smallest pooled block; holds a pointer */
#define POOL_CLASSES 10             /* 16 .. 8192 bytes */
#define POOL_MAX ((size_t)POOL_MIN << (POOL_CLASSES - 1))
#define POOL_CACHE_MAX (4u << 20)   /* bytes kept on the free lists at most */

struct policy {
	lua_State *L;
	char *origin;                      /* file path or "builtin:policy.lua" */
	char short_src[LUA_IDSIZE];        /* how Lua names the chunk in messages */
	char sha[HASH_SHA256_HEX_LEN];     /* of the source text */
	long max_instructions;             /* per call (and for the load) */
	size_t max_memory;                 /* bytes, whole state */
	size_t mem_used;                   /* bytes Lua currently holds */
	void *pool[POOL_CLASSES];          /* free lists of pooled blocks */
	size_t pool_bytes;                 /* bytes on those lists */
	int killed;                        /* KILL_*: a cap was hit this call */
};

static struct policy *policy_of(lua_State *L)
{
	return *(struct policy **)lua_getextraspace(L);
}

/* ---------- caps ---------- */

static void hook(lua_State *L, lua_Debug *ar)
{
	struct policy *p = policy_of(L);
	if (!p->killed)
		p->killed = KILL_INSTR;
	lua_sethook(L, hook, LUA_MASKCOUNT, 1); /* every next instruction errors too */
	lua_getinfo(L, "Sl", ar);
	if (p->killed == KILL_MEM)
		lua_pushfstring(L, "%s:%d: memory limit of %I bytes exceeded", ar->short_src, ar->currentline,
				(lua_Integer)p->max_memory);
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

static void concat_args(lua_State *L, luaL_Buffer *b)
{
	int n = lua_gettop(L);
	luaL_buffinit(L, b);
	for (int i = 1; i <= n; i++) {
		if (i > 1)
			luaL_addchar(b, '\t');
		luaL_tolstring(L, i, NULL);
		luaL_addvalue(b);
	}
	luaL_pushresult(b);
}

/* tp.log(...) and print(...): one INFO line on stderr, never stdout. */
static int l_log(lua_State *L)
{
	luaL_Buffer b;
	concat_args(L, &b);
	log_info("policy: %s", lua_tostring(L, -1));
	return 0;
}

/* Build registry["tp.template"] (allowed globals) and registry["tp.envmeta"]. */
static void build_template(lua_State *L)
{
	static const char *base_ok[] = {
		"assert", "error", "getmetatable", "ipairs", "next", "pairs", "pcall", "rawequal", "rawget",
		"rawlen", "rawset", "select", "setmetatable", "tonumber", "tostring", "type", "xpcall",
		"_VERSION", NULL,
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

/* Give the chunk (and so every closure it made, which share its _ENV
 * upvalue) a fresh environment. On the first run (load), run the chunk and
 * keep the table it returns; later calls reuse that table. */
static void push_policy_table(lua_State *L, int first)
{
	new_env(L);
	lua_getfield(L, LUA_REGISTRYINDEX, "tp.chunk");
	lua_insert(L, -2);
	lua_setupvalue(L, -2, 1); /* a main chunk's only upvalue is _ENV */
	if (!first) {
		lua_pop(L, 1);
		lua_getfield(L, LUA_REGISTRYINDEX, "tp.policy");
		return;
	}
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
	lua_pushvalue(L, -1);
	lua_setfield(L, LUA_REGISTRYINDEX, "tp.policy");
}

/* ---------- protected calls ---------- */

enum { CALL_LOAD, CALL_PIPELINE, CALL_ROLLOUT, CALL_HEALTH };

static const char *call_names[] = { "load", "pipeline", "rollout", "rollout_health" };

struct call {
	int kind;                /* CALL_* */
	const cJSON *args[3];    /* item or change, ctx or targets, ctx */
	cJSON *result;           /* converted return value */
	int no_rollout;          /* policy has no rollout function */
	int rejected;            /* nil, "reason" */
	char reason[512];
	int rc;                  /* conversion failure, details in e */
	tp_err *e;
};

static int run_call(lua_State *L)
{
	struct call *c = lua_touserdata(L, 1);
	lua_settop(L, 0);
	push_policy_table(L, c->kind == CALL_LOAD); /* 1 */
	if (c->kind == CALL_LOAD)
		return 0;
	const char *fn = call_names[c->kind];
	lua_getfield(L, 1, fn); /* 2 */
	if (lua_isnil(L, 2)) {
		c->no_rollout = 1;
		return 0;
	}
	int nargs = c->kind == CALL_PIPELINE ? 2 : 3;
	for (int i = 0; i < nargs; i++) {
		const cJSON *a = c->args[i];
		int rc;
		if (!a)
			lua_newtable(L), rc = 0;
		else if (c->kind == CALL_PIPELINE && i == 0)
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
		if (lua_isnoneornil(L, 3))
			snprintf(c->reason, sizeof c->reason, "%s returned nil without a reason", fn);
		else
			snprintf(c->reason, sizeof c->reason, "%s", luaL_tolstring(L, 3, NULL));
		return 0;
	}
	if (c->kind == CALL_HEALTH) {
		/* true: healthy; nil or false, "reason": not. */
		if (!lua_isboolean(L, 2))
			return luaL_error(L, "rollout_health must return true (or nil, \"reason\"), not a %s",
					  luaL_typename(L, 2));
		c->result = cJSON_CreateTrue();
		return 0;
	}
	if (!lua_istable(L, 2))
		return luaL_error(L, "%s must return a table (or nil, \"reason\"), not a %s", fn,
				  luaL_typename(L, 2));
	c->rc = ddbval_to_json(L, 2, c->kind == CALL_PIPELINE ? "spec" : "waves", &c->result, c->e);
	return 0;
}

/* Run c under the caps; returns 0 or a TP_E* with e filled. */
static int protected_call(struct policy *p, struct call *c, tp_err *e)
{
	lua_State *L = p->L;
	c->e = e;
	p->killed = KILL_NONE;
	lua_settop(L, 0);
	/* the cap counts uncollected garbage too: start heavy calls clean */
	if (p->mem_used > p->max_memory / 2)
		lua_gc(L, LUA_GCCOLLECT, 0);
	lua_pushcfunction(L, msgh);
	lua_pushcfunction(L, run_call);
	lua_pushlightuserdata(L, c);
	lua_sethook(L, hook, LUA_MASKCOUNT, (int)(p->max_instructions > 0x7fffffff ? 0x7fffffff : p->max_instructions));
	int status = lua_pcall(L, 1, 0, 1);
	lua_sethook(L, NULL, 0, 0);
	int rc = TP_OK;
	if (p->killed == KILL_INSTR) {
		const char *msg = status != LUA_OK ? lua_tostring(L, -1) : NULL;
		if (msg)
			rc = tp_errf(e, TP_ELIMIT, "PolicyInstructionLimit", "%s", msg);
		else
			rc = tp_errf(e, TP_ELIMIT, "PolicyInstructionLimit", "%s: instruction limit of %ld exceeded",
				     p->short_src, p->max_instructions);
	} else if (p->killed == KILL_MEM || status == LUA_ERRMEM) {
		rc = tp_errf(e, TP_ELIMIT, "PolicyMemoryLimit", "%s: memory limit of %zu bytes exceeded", p->short_src,
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
	if (p->killed) {
		p->killed = KILL_NONE;
		lua_gc(L, LUA_GCCOLLECT, 0); /* give the next call its full budget */
	}
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

	struct call c = { .kind = CALL_LOAD };
	rc = protected_call(p, &c, e);
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
	if (p->L)
		lua_close(p->L);
	pool_drain(p);
	free(p->origin);
	free(p);
}

int policy_load(const char *path, const struct policy_limits *lim, struct policy **out, tp_err *e)
{
	*out = NULL;
	const char *env = getenv("TASKPIPE_POLICY");
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

static int parse_arg(const char *json, const char *what, cJSON **out, tp_err *e)
{
	*out = NULL;
	if (!json)
		return TP_OK;
	*out = cJSON_Parse(json);
	if (!*out)
		return tp_errf(e, TP_EINVAL, "BadJson", "%s: not valid JSON", what);
	return TP_OK;
}

static char *print_json(cJSON *j)
{
	char *s = cJSON_PrintUnformatted(j);
	if (!s) {
		fputs("taskpipe: out of memory\n", stderr);
		abort();
	}
	return s;
}

int policy_pipeline(struct policy *p, const char *item_json, const char *ctx_json, char **spec_json, tp_err *e)
{
	*spec_json = NULL;
	struct call c = { .kind = CALL_PIPELINE };
	cJSON *item = NULL, *ctx = NULL;
	int rc = parse_arg(item_json, "item", &item, e);
	if (rc == TP_OK && !item)
		rc = tp_errf(e, TP_EINVAL, "BadItem", "item: missing");
	if (rc == TP_OK)
		rc = parse_arg(ctx_json, "ctx", &ctx, e);
	if (rc == TP_OK) {
		c.args[0] = item;
		c.args[1] = ctx;
		rc = protected_call(p, &c, e);
	}
	if (rc == TP_OK && !cJSON_IsObject(c.result))
		rc = tp_errf(e, TP_EPOLICY, "PolicyError", "%s: pipeline must return a table with named fields (the spec)",
			     p->origin);
	if (rc == TP_OK)
		*spec_json = print_json(c.result);
	cJSON_Delete(c.result);
	cJSON_Delete(item);
	cJSON_Delete(ctx);
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

int policy_rollout(struct policy *p, const char *change_json, const char *targets_json, const char *ctx_json,
		   char **waves_json, tp_err *e)
{
	*waves_json = NULL;
	struct call c = { .kind = CALL_ROLLOUT };
	cJSON *change = NULL, *targets = NULL, *ctx = NULL;
	int rc = parse_arg(change_json, "change", &change, e);
	if (rc == TP_OK)
		rc = parse_arg(targets_json, "targets", &targets, e);
	if (rc == TP_OK && !cJSON_IsArray(targets))
		rc = tp_errf(e, TP_EINVAL, "BadJson", "targets: must be a JSON array");
	if (rc == TP_OK)
		rc = parse_arg(ctx_json, "ctx", &ctx, e);
	if (rc == TP_OK) {
		c.args[0] = change;
		c.args[1] = targets;
		c.args[2] = ctx;
		rc = protected_call(p, &c, e);
	}
	if (rc == TP_OK && c.no_rollout)
		c.result = single_wave(targets);
	if (rc == TP_OK && cJSON_IsObject(c.result) && !c.result->child) { /* {} from an empty table */
		cJSON_Delete(c.result);
		c.result = cJSON_CreateArray();
	}
	if (rc == TP_OK && !cJSON_IsArray(c.result))
		rc = tp_errf(e, TP_EPOLICY, "PolicyError", "%s: rollout must return a list of waves", p->origin);
	if (rc == TP_OK)
		*waves_json = print_json(c.result);
	cJSON_Delete(c.result);
	cJSON_Delete(change);
	cJSON_Delete(targets);
	cJSON_Delete(ctx);
	return rc;
}

int policy_rollout_health(struct policy *p, const char *wave_json, const char *results_json,
			  const char *ctx_json, int *healthy, char *reason, size_t reason_len, tp_err *e)
{
	*healthy = 1;
	if (reason_len)
		reason[0] = 0;
	struct call c = { .kind = CALL_HEALTH };
	cJSON *wave = NULL, *results = NULL, *ctx = NULL;
	int rc = parse_arg(wave_json, "wave", &wave, e);
	if (rc == TP_OK)
		rc = parse_arg(results_json, "results", &results, e);
	if (rc == TP_OK)
		rc = parse_arg(ctx_json, "ctx", &ctx, e);
	if (rc == TP_OK) {
		c.args[0] = wave;
		c.args[1] = results;
		c.args[2] = ctx;
		rc = protected_call(p, &c, e);
	}
	if (rc == TP_EPOLICY && c.rejected) {
		/* nil, "reason" is the policy's verdict, not a failure of the policy */
		*healthy = 0;
		snprintf(reason, reason_len, "%s", c.reason);
		tp_err_clear(e);
		rc = TP_OK;
	}
	cJSON_Delete(c.result);
	cJSON_Delete(wave);
	cJSON_Delete(results);
	cJSON_Delete(ctx);
	return rc;
}

const char *policy_engine_version(void)
{
	return LUA_RELEASE;
}
