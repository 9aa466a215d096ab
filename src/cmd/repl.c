/* repl.c: the Lua prompt loop (see repl.h), after Lua's own lua.c. */
#include "cmd/repl.h"
#include "base/settings_table.h"

#include "base/base.h"
#include "cmd/lineedit.h"

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* One line without its newline; NULL at end of input. On a terminal the
 * editor reads it (lineedit.h), else plain fgets. */
static char *read_line(struct lineedit *le, FILE *in, FILE *out, const char *prompt)
{
	if (le)
		return lineedit_read(le, prompt);
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
	/* Text only ("t"): a line starting with ESC (an arrow key without the
	 * editor) would otherwise be read as a binary chunk. */
	if (code[0] == 27) {
		lua_pushfstring(L, "%s: a terminal key sequence (ESC ...), not Lua: keys are edited only when "
				"standard input and output are a terminal", name + (name[0] == '=' ? 1 : 0));
		return LUA_ERRSYNTAX;
	}
	const char *ret = lua_pushfstring(L, "return %s;", code);
	int st = luaL_loadbufferx(L, ret, strlen(ret), name, "t");
	lua_remove(L, -2);
	if (st == LUA_OK)
		return st;
	lua_pop(L, 1);
	return luaL_loadbufferx(L, code, strlen(code), name, "t");
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

/* $TASKPIPE_REPL_HISTORY, else ~/.taskpipe_history (malloc'd; NULL: none). */
static char *history_file(void)
{
	const char *f = setting_raw(SET_REPL_HISTORY), *home = getenv("HOME");
	if (f)
		return *f ? tp_xstrdup(f) : NULL; /* set empty: no file */
	return home && *home ? tp_xasprintf("%s/.taskpipe_history", home) : NULL;
}

int repl_loop(lua_State *L, FILE *in, FILE *out, int prompt)
{
	char *hf = prompt ? history_file() : NULL;
	struct lineedit *le = prompt ? lineedit_new(fileno(in), fileno(out), hf) : NULL;
	free(hf);
	for (;;) {
		int base = lua_gettop(L);
		char *line = read_line(le, in, out, prompt ? "> " : NULL);
		if (!line)
			break;
		lineedit_history_add(le, line);
		if (!*line) {
			free(line);
			continue;
		}
		buf code = { 0 };
		buf_adds(&code, line[0] == '=' ? "return " : "");
		buf_adds(&code, line[0] == '=' ? line + 1 : line);
		free(line);
		int st = load_entry(L, buf_str(&code), "=stdin");
		int dropped = 0;
		while (st != LUA_OK && incomplete(L, st)) {
			char *more = read_line(le, in, out, prompt ? ">> " : NULL);
			if (!more) {
				st = luaL_loadbufferx(L, buf_str(&code), code.len, "=stdin", "t");
				break;
			}
			if (lineedit_interrupted(le)) { /* Ctrl-C: the unfinished chunk goes */
				free(more);
				dropped = 1;
				break;
			}
			lineedit_history_add(le, more);
			buf_addc(&code, '\n');
			buf_adds(&code, more);
			free(more);
			st = luaL_loadbufferx(L, buf_str(&code), code.len, "=stdin", "t");
		}
		buf_free(&code);
		if (dropped) {
			lua_settop(L, base);
			continue;
		}
		if (st != LUA_OK) {
			report(L, st);
			lua_settop(L, base);
			continue;
		}
		exec_loaded(L, base);
	}
	if (prompt && !le) {
		fputc('\n', out);
		fflush(out);
	}
	lineedit_free(le);
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
