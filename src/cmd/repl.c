/* repl.c: the Lua prompt loop (see repl.h), after Lua's own lua.c. */
#include "cmd/repl.h"

#include "base/base.h"

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#define LINE_MAX_BYTES 65536

static lua_State *running;   /* the state a Ctrl-C interrupts */

static void stop_hook(lua_State *L, lua_Debug *ar)
{
	(void)ar;
	lua_sethook(L, NULL, 0, 0);
	luaL_error(L, "interrupted!");
}

/* Ctrl-C while a chunk runs: stop it at the next instruction, as lua.c does. */
static void on_sigint(int sig)
{
	signal(sig, SIG_DFL);
	if (running)
		lua_sethook(running, stop_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

static int msghandler(lua_State *L)
{
	const char *msg = lua_tostring(L, 1);
	if (!msg) {
		if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
			return 1;
		msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
	}
	luaL_traceback(L, L, msg, 1);
	return 1;
}

static int docall(lua_State *L, int narg, int nres)
{
	int base = lua_gettop(L) - narg;
	lua_pushcfunction(L, msghandler);
	lua_insert(L, base);
	running = L;
	signal(SIGINT, on_sigint);
	int status = lua_pcall(L, narg, nres, base);
	signal(SIGINT, SIG_DFL);
	running = NULL;
	lua_remove(L, base);
	return status;
}

static void report(lua_State *L, int status)
{
	if (status != LUA_OK) {
		const char *msg = lua_tostring(L, -1);
		fprintf(stderr, "%s\n", msg ? msg : "(error)");
		fflush(stderr);
		lua_pop(L, 1);
	}
}

/* Print whatever is on the stack above base through tp.show (or print). */
static void print_results(lua_State *L, int base)
{
	int n = lua_gettop(L) - base;
	if (n <= 0)
		return;
	lua_getglobal(L, "tp");
	if (lua_istable(L, -1))
		lua_getfield(L, -1, "show");
	else
		lua_pushnil(L);
	lua_remove(L, -2);
	if (!lua_isfunction(L, -1)) {
		lua_pop(L, 1);
		lua_getglobal(L, "print");
	}
	lua_insert(L, base + 1);
	int st = docall(L, n, 0);
	report(L, st);
	fflush(stdout);
}

/* An incomplete chunk: the syntax error is at the end of input. */
static int incomplete(lua_State *L, int status)
{
	size_t len;
	const char *msg = lua_tolstring(L, -1, &len);
	static const char mark[] = "<eof>";
	if (status == LUA_ERRSYNTAX && msg && len >= sizeof mark - 1 &&
	    strcmp(msg + len - (sizeof mark - 1), mark) == 0) {
		lua_pop(L, 1);
		return 1;
	}
	return 0;
}

/* One line without its newline; NULL at end of input. */
static char *read_line(FILE *in, FILE *out, const char *prompt)
{
	if (prompt) {
		fputs(prompt, out);
		fflush(out);
	}
	buf b = { 0 };
	char chunk[4096];
	while (fgets(chunk, sizeof chunk, in)) {
		buf_adds(&b, chunk);
		if (b.len && b.data[b.len - 1] == '\n') {
			b.data[--b.len] = 0;
			return buf_steal(&b);
		}
		if (b.len > LINE_MAX_BYTES)
			break;
	}
	if (b.len)
		return buf_steal(&b);
	buf_free(&b);
	return NULL;
}

/* Compile code as "return <code>" first, else as a statement. Pushes the
 * function or the error; returns the load status. */
static int load_entry(lua_State *L, const char *code, const char *name)
{
	const char *ret = lua_pushfstring(L, "return %s;", code);
	int st = luaL_loadbuffer(L, ret, strlen(ret), name);
	lua_remove(L, -2);
	if (st == LUA_OK)
		return st;
	lua_pop(L, 1);
	return luaL_loadbuffer(L, code, strlen(code), name);
}

static int exec_loaded(lua_State *L, int base)
{
	int st = docall(L, 0, LUA_MULTRET);
	if (st == LUA_OK)
		print_results(L, base);
	else
		report(L, st);
	lua_settop(L, base);
	return st == LUA_OK ? 0 : -1;
}

int repl_eval(lua_State *L, const char *code, const char *name)
{
	int base = lua_gettop(L);
	int st = load_entry(L, code, name);
	if (st != LUA_OK) {
		report(L, st);
		return -1;
	}
	return exec_loaded(L, base);
}

int repl_loop(lua_State *L, FILE *in, FILE *out, int prompt)
{
	for (;;) {
		int base = lua_gettop(L);
		char *line = read_line(in, out, prompt ? "> " : NULL);
		if (!line)
			break;
		if (!*line) {
			free(line);
			continue;
		}
		buf code = { 0 };
		buf_adds(&code, line[0] == '=' ? "return " : "");
		buf_adds(&code, line[0] == '=' ? line + 1 : line);
		free(line);
		int st = load_entry(L, buf_str(&code), "=stdin");
		while (st != LUA_OK && incomplete(L, st)) {
			char *more = read_line(in, out, prompt ? ">> " : NULL);
			if (!more) {
				st = luaL_loadbuffer(L, buf_str(&code), code.len, "=stdin");
				break;
			}
			buf_addc(&code, '\n');
			buf_adds(&code, more);
			free(more);
			st = luaL_loadbuffer(L, buf_str(&code), code.len, "=stdin");
		}
		buf_free(&code);
		if (st != LUA_OK) {
			report(L, st);
			lua_settop(L, base);
			continue;
		}
		exec_loaded(L, base);
	}
	if (prompt) {
		fputc('\n', out);
		fflush(out);
	}
	return 0;
}

int repl_run_file(lua_State *L, const char *path, int argc, char **argv)
{
	int base = lua_gettop(L);
	int st = luaL_loadfilex(L, path, "t");
	if (st != LUA_OK) {
		report(L, st);
		return -1;
	}
	for (int i = 0; i < argc; i++)
		lua_pushstring(L, argv[i]);
	st = docall(L, argc, 0);
	report(L, st);
	lua_settop(L, base);
	return st == LUA_OK ? 0 : -1;
}
