/* luatp.c: the C half of the operator's `tp` module (see luatp.h).
 * Every function takes the app from its upvalue; AWS failures become Lua
 * errors, so a script stops at the first one unless it uses pcall. */
#include "cmd/luatp.h"

#include "core/app.h"
#include "core/limit_group.h"
#include "aws/awsjson.h"
#include "core/rollout/rollout.h"
#include "runtime/rolloutjson.h"
#include "aws/ddb.h"
#include "aws/ddbval.h"
#include "script/embedded.h"
#include "base/jsonnum.h"
#include "base/log.h"
#include "core/names.h"
#include "script/policy.h"
#include "core/lease.h"
#include "core/lifecycle.h"
#include "core/reconcile/reconcile.h"
#include "core/store.h"
#include "core/config_item.h"
#include "core/ops_ls.h"
#include "core/ops_queue.h"
#include "runtime/ls_json.h"
#include "runtime/drift_json.h"
#include "runtime/rec_json.h"
#include "runtime/gstatus_json.h"
#include "core/gstatus.h"

#include <cjson/cJSON.h>
#include <lauxlib.h>
#include <lua.h>
#include <stdlib.h>
#include <string.h>


static struct app *app_of(lua_State *L)
{
	return lua_touserdata(L, lua_upvalueindex(1));
}

static int fail_lua(lua_State *L, const tp_err *e)
{
	return luaL_error(L, "%s%s%s", e->code, e->code[0] ? ": " : "", e->message);
}

/* Push JSON as Lua (consumes j). */
static void push_json(lua_State *L, cJSON *j)
{
	tp_err e = { 0 };
	int rc = j ? ddbval_push_json(L, j, &e) : TP_EINVAL;
	cJSON_Delete(j);
	if (rc < 0) {
		if (!j)
			tp_errf(&e, TP_EINVAL, "BadResponse", "not JSON");
		fail_lua(L, &e);
	}
}

static cJSON *to_json(lua_State *L, int idx, const char *what)
{
	cJSON *out = NULL;
	tp_err e = { 0 };
	if (ddbval_to_json(L, idx, what, &out, &e) < 0)
		fail_lua(L, &e);
	return out;
}

/* A Lua table as a DynamoDB item (map of AttributeValues). */
static cJSON *to_item(lua_State *L, int idx)
{
	luaL_checktype(L, idx, LUA_TTABLE);
	cJSON *av = NULL;
	tp_err e = { 0 };
	if (ddbval_to_av(L, idx, "item", &av, &e) < 0)
		fail_lua(L, &e);
	cJSON *m = cJSON_DetachItemFromObject(av, "M");
	cJSON_Delete(av);
	if (!m || !ddb_get_str(m, "pipeline", NULL)) {
		cJSON_Delete(m);
		luaL_error(L, "item: needs a string field `pipeline` (the pipeline's name)");
	}
	char why[300];
	if (ddbval_check_item(m, why, sizeof why) < 0) { /* what DynamoDB would refuse, named */
		cJSON_Delete(m);
		luaL_error(L, "item.%s", why);
	}
	return m;
}

/* ---- items ---- */

/* tp.ls() -> the rows of `taskpipe ls --json` (core/ops_ls.h), each with
 * the config item itself as `item` (nil when the item is gone) */
static int l_ls(lua_State *L)
{
	struct ops_ls l;
	struct ops_ls_query q = { 0 };
	tp_err e = { 0 };
	if (ops_ls(app_of(L), &q, &l, &e) < 0) {
		ops_ls_free(&l);
		return fail_lua(L, &e);
	}
	lua_createtable(L, (int)l.n, 0);
	luaL_setmetatable(L, "tp.list");
	for (size_t i = 0; i < l.n; i++) {
		cJSON *row = ls_row_json(&l.rows[i]);
		int rc = ddbval_push_json(L, row, &e);
		cJSON_Delete(row);
		if (rc == TP_OK && l.rows[i].item)
			rc = ddbval_push_item(L, l.rows[i].item, &e);
		else if (rc == TP_OK)
			lua_pushnil(L);
		if (rc < 0) {
			ops_ls_free(&l);
			return fail_lua(L, &e);
		}
		lua_setfield(L, -2, "item");
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	ops_ls_free(&l);
	return 1;
}

/* tp.get(name) -> item table, or nil when absent */
static int l_get(lua_State *L)
{
	cJSON *item = NULL;
	tp_err e = { 0 };
	if (config_item_get(app_of(L), luaL_checkstring(L, 1), &item, &e) < 0)
		return fail_lua(L, &e);
	int rc = item ? ddbval_push_item(L, item, &e) : (lua_pushnil(L), TP_OK);
	cJSON_Delete(item);
	if (rc < 0)
		return fail_lua(L, &e);
	return 1;
}

/* tp.put(item) -> name */
static int l_put(lua_State *L)
{
	cJSON *item = to_item(L, 1);
	tp_err e = { 0 };
	int rc = config_item_put(app_of(L), item, &e);
	lua_pushstring(L, ddb_get_str(item, "pipeline", ""));
	cJSON_Delete(item);
	if (rc < 0)
		return fail_lua(L, &e);
	return 1;
}

/* tp.delete(name) -> true (no item: nothing to delete, no error) */
static int l_delete(lua_State *L)
{
	tp_err e = { 0 };
	if (config_item_delete(app_of(L), luaL_checkstring(L, 1), 0, &e) < 0)
		return fail_lua(L, &e);
	lua_pushboolean(L, 1);
	return 1;
}

/* ---- plan / apply ---- */

static void push_results(lua_State *L, const struct rec_result *r, size_t n)
{
	lua_createtable(L, (int)n, 0);
	luaL_setmetatable(L, "tp.list");
	for (size_t i = 0; i < n; i++) {
		lua_newtable(L);
		lua_pushstring(L, r[i].name);
		lua_setfield(L, -2, "pipeline");
		lua_pushstring(L, r[i].rc == TP_OK ? "ok" : "error");
		lua_setfield(L, -2, "status");
		lua_pushstring(L, reconcile_action_name(r[i].action));
		lua_setfield(L, -2, "action");
		push_json(L, rec_changes_json(&r[i].diff));
		lua_setfield(L, -2, "changes");
		if (r[i].rc != TP_OK) {
			lua_pushfstring(L, "%s: %s", r[i].err.code, r[i].err.message);
			lua_setfield(L, -2, "error");
		}
		lua_pushinteger(L, r[i].lambda_requests);
		lua_setfield(L, -2, "lambda_calls");
		lua_pushboolean(L, r[i].confirmed); /* by hash, resources not observed */
		lua_setfield(L, -2, "confirmed_by_hash");
		lua_pushboolean(L, r[i].paused);
		lua_setfield(L, -2, "paused");
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
}

/* Names from arg idx: a string, a list of strings, or nil / "all" (*all=1). */
static char **names_arg(lua_State *L, int idx, size_t *n, int *all)
{
	*n = 0;
	*all = 0;
	if (lua_isnoneornil(L, idx) || (lua_type(L, idx) == LUA_TSTRING &&
					 strcmp(lua_tostring(L, idx), "all") == 0)) {
		*all = 1;
		return NULL;
	}
	if (lua_type(L, idx) == LUA_TSTRING) {
		char **v = tp_xcalloc(2, sizeof *v);
		v[(*n)++] = tp_xstrdup(lua_tostring(L, idx));
		return v;
	}
	luaL_checktype(L, idx, LUA_TTABLE);
	size_t len = (size_t)luaL_len(L, idx);
	char **v = tp_xcalloc(len + 1, sizeof *v);
	for (size_t i = 1; i <= len; i++) {
		lua_geti(L, idx, (lua_Integer)i);
		if (lua_type(L, -1) == LUA_TSTRING)
			v[(*n)++] = tp_xstrdup(lua_tostring(L, -1));
		lua_pop(L, 1);
	}
	return v;
}

static void free_names(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static int reconcile(lua_State *L, char **names, size_t n, int all, const struct reconcile_opts *o)
{
	struct rec_result *res = NULL;
	size_t nr = 0;
	tp_err e = { 0 };
	int rc = reconcile_run(app_of(L), names, n, all, o, &res, &nr, &e);
	free_names(names, n);
	if (rc < 0)
		return fail_lua(L, &e);
	push_results(L, res, nr);
	reconcile_results_free(res, nr);
	return 1;
}

/* tp.plan(names|nil) -> results; tp.apply(names|"all", {force=bool}) -> results */
static int l_plan(lua_State *L)
{
	size_t n;
	int all;
	char **names = names_arg(L, 1, &n, &all);
	struct reconcile_opts o = { .plan = 1, .force = 1, .known_only = !all };
	return reconcile(L, names, n, all, &o);
}

static int l_apply(lua_State *L)
{
	if (lua_isnoneornil(L, 1))
		return luaL_error(L, "tp.apply: name pipelines or pass \"all\"");
	size_t n;
	int all;
	char **names = names_arg(L, 1, &n, &all);
	/* As the CLI: named pipelines are observed; "all" may confirm by hash. */
	struct reconcile_opts o = { .force = !all, .known_only = !all };
	if (lua_istable(L, 2)) {
		lua_getfield(L, 2, "force");
		o.force = o.force || lua_toboolean(L, -1);
		lua_pop(L, 1);
	}
	return reconcile(L, names, n, all, &o);
}

/* tp.drift({fix=bool, max_pipelines=n}) -> the drift document */
static int l_drift(lua_State *L)
{
	struct drift_opts o = { 0 };
	if (lua_istable(L, 1)) {
		lua_getfield(L, 1, "fix");
		o.fix = lua_toboolean(L, -1);
		lua_getfield(L, 1, "max_pipelines");
		o.max_pipelines = (long)lua_tointeger(L, -1);
		lua_pop(L, 2);
	}
	struct drift_report r;
	tp_err e = { 0 };
	if (drift_run(app_of(L), &o, &r, &e) < 0)
		return fail_lua(L, &e);
	cJSON *doc = drift_json(&r);
	drift_report_free(&r);
	push_json(L, doc);
	return 1;
}

/* ---- queues ---- */

/* tp.depth(name) -> {visible, in_flight, delayed, dlq} (dlq false: no DLQ) */
static int l_depth(lua_State *L)
{
	struct ops_depth d;
	tp_err e = { 0 };
	int rc = ops_depth(app_of(L), luaL_checkstring(L, 1), &d, &e);
	if (rc == TP_ENOTFOUND && strcmp(e.code, "NotFound") == 0) /* the queue */
		return luaL_error(L, "tp.depth: %s", e.message);
	if (rc < 0)
		return fail_lua(L, &e);
	lua_newtable(L);
	lua_pushinteger(L, d.visible);
	lua_setfield(L, -2, "visible");
	lua_pushinteger(L, d.in_flight);
	lua_setfield(L, -2, "in_flight");
	lua_pushinteger(L, d.delayed);
	lua_setfield(L, -2, "delayed");
	if (d.has_dlq)
		lua_pushinteger(L, d.dlq);
	else
		lua_pushboolean(L, 0);
	lua_setfield(L, -2, "dlq");
	return 1;
}

/* ---- lifecycle: the same core code as taskpipe pause|resume|redrive|purge ---- */

/* tp.redrive(name) -> messages moved (StartMessageMoveTask: the count at the start), how */
static int l_redrive(lua_State *L)
{
	struct lifecycle_outcome out;
	tp_err e = { 0 };
	if (lifecycle_redrive(app_of(L), luaL_checkstring(L, 1), &out, &e) < 0)
		return fail_lua(L, &e);
	lua_pushinteger(L, out.moved);
	lua_pushstring(L, out.how);
	lifecycle_outcome_free(&out);
	return 2;
}

/* tp.pause(name[, reason]) / tp.resume(name) -> the pipeline's reconcile results */
static int pause_or_resume(lua_State *L, int pause)
{
	const char *name = luaL_checkstring(L, 1);
	char by[160];
	lease_holder_id("repl", by, sizeof by);
	struct lifecycle_outcome out;
	tp_err e = { 0 };
	int rc = pause ? lifecycle_pause(app_of(L), name, by, luaL_optstring(L, 2, NULL), NULL, &out, &e)
		       : lifecycle_resume(app_of(L), name, NULL, &out, &e);
	if (rc < 0) {
		lifecycle_outcome_free(&out);
		return fail_lua(L, &e);
	}
	push_results(L, out.res, out.n_res);
	lifecycle_outcome_free(&out);
	return 1;
}

static int l_pause(lua_State *L)
{
	return pause_or_resume(L, 1);
}

static int l_resume(lua_State *L)
{
	return pause_or_resume(L, 0);
}

/* tp.purge(name[, "dlq"]) -> true: every waiting message of the queue (or DLQ) deleted */
static int l_purge(lua_State *L)
{
	const char *which = luaL_optstring(L, 2, "queue");
	if (strcmp(which, "queue") != 0 && strcmp(which, "dlq") != 0)
		return luaL_error(L, "tp.purge: second argument is \"queue\" or \"dlq\", not \"%s\"", which);
	tp_err e = { 0 };
	if (lifecycle_purge(app_of(L), luaL_checkstring(L, 1), strcmp(which, "dlq") == 0, &e) < 0)
		return fail_lua(L, &e);
	lua_pushboolean(L, 1);
	return 1;
}

/* ---- policy ---- */

/* tp.reload_policy() -> origin, sha256 */
static int l_reload_policy(lua_State *L)
{
	struct app *app = app_of(L);
	struct policy *p = NULL;
	tp_err e = { 0 };
	if (policy_load(app->set.policy, NULL, &p, &e) < 0)
		return fail_lua(L, &e);
	policy_free(app->policy);
	app->policy = p;
	lua_pushstring(L, policy_origin(p));
	lua_pushstring(L, policy_sha256(p));
	return 2;
}

/* tp.policy(item) -> spec, or nil, "Code: reason" */
static int l_policy(lua_State *L)
{
	struct app *app = app_of(L);
	cJSON *item = to_item(L, 1), *ctx = app_policy_ctx_value(app), *spec = NULL;
	policy_set_ctx(app->policy, ctx);
	cJSON_Delete(ctx);
	tp_err e = { 0 };
	char note[300];
	/* a member's limit group is read from the config table, as apply does */
	struct limit_groups *lg = limit_groups_new(app, app->policy);
	int rc = limit_groups_spec(lg, item, &spec, note, sizeof note, &e);
	limit_groups_free(lg);
	cJSON_Delete(item);
	if (rc < 0) {
		lua_pushnil(L);
		lua_pushfstring(L, "%s: %s", e.code, e.message);
		return 2;
	}
	jsonnum_raw_to_numbers(spec); /* as parsing its text gave it */
	push_json(L, spec);
	return 1;
}

/* tp.status(names|nil) -> the `taskpipe status --json` document, worst first */
static int l_status(lua_State *L)
{
	size_t n;
	int all;
	char **names = names_arg(L, 1, &n, &all);
	struct gs_report r;
	tp_err e = { 0 };
	int rc = gs_collect(app_of(L)->aws, &app_of(L)->set, names, n, tp_now_ms() / 1000, &r, &e);
	free_names(names, n);
	if (rc < 0)
		return fail_lua(L, &e);
	gs_sort(&r, "age");
	cJSON *doc = gs_report_json(&r);
	gs_report_free(&r);
	push_json(L, doc);
	return 1;
}

/* ---- tp.aws(service, operation, params) ---- */

/* JSON services: tp.aws("sqs", "ListQueues", {...}).
 * REST-JSON (lambda): tp.aws("lambda", "GET /2015-03-31/functions/", body). */
static int l_aws(lua_State *L)
{
	struct app *app = app_of(L);
	const char *svc_name = luaL_checkstring(L, 1);
	const char *op = luaL_checkstring(L, 2);
	int svc = svc_by_name(svc_name);
	if (svc < 0)
		return luaL_error(L, "tp.aws: unknown service '%s'", svc_name);
	const struct svc_info *si = svc_get(svc);
	cJSON *in = lua_isnoneornil(L, 3) ? NULL : to_json(L, 3, "params");
	char *body = in ? cJSON_PrintUnformatted(in) : NULL;
	cJSON_Delete(in);
	struct aws_call c = { .service = svc, .op = op };
	char method[16] = "";
	if (si->protocol == PROTO_JSON) {
		if (!body)
			body = tp_xstrdup("{}");
		c.body = body;
		c.body_len = strlen(body);
	} else if (si->protocol == PROTO_REST_JSON) {
		const char *sp = strchr(op, ' ');
		tp_err pe = { 0 };
		if (!sp || sp - op >= (long)sizeof method || sp[1] != '/') {
			free(body);
			return luaL_error(L, "tp.aws: %s is REST: operation is \"METHOD /path[?query]\"", svc_name);
		}
		snprintf(method, sizeof method, "%.*s", (int)(sp - op), op);
		awsj_prepare_target(&c, svc, "tp.aws", method, sp + 1, body, body ? strlen(body) : 0, &pe);
	} else {
		free(body);
		return luaL_error(L, "tp.aws: %s answers in XML; use `taskpipe aws %s ...`", svc_name, svc_name);
	}
	aws_call_one(app->aws, &c);
	free(body);
	if (c.rc < 0) {
		tp_err e = c.err;
		aws_call_free(&c);
		return fail_lua(L, &e);
	}
	cJSON *out = NULL;
	tp_err e = { 0 };
	int rc = awsj_parse(op, c.resp.data, c.resp.len, &out, &e);
	aws_call_free(&c);
	if (rc < 0)
		return fail_lua(L, &e);
	push_json(L, out);
	return 1;
}

/* A rollout call's result as a Lua value (or the error); j is consumed. */
static int push_rollout(lua_State *L, int rc, cJSON *j, const tp_err *e)
{
	if (!j && rc < 0)
		return fail_lua(L, e);
	push_json(L, j);
	return 1;
}

/* tp.rollout("s3://bucket/key[#version]") -> outcome (mode "layer" was
 * removed: it raises, saying why);
 * tp.rollout("status") -> every rollout; tp.rollout("resume") -> outcomes.
 * A halted rollout returns its outcome (status "halted", failure) rather
 * than raising, so a script can inspect it. */
static int l_rollout(lua_State *L)
{
	const char *what = luaL_checkstring(L, 1);
	struct app *app = app_of(L);
	struct rollout_opts o = { 0 };
	if (lua_istable(L, 2)) {
		lua_getfield(L, 2, "mode");
		o.mode = lua_tostring(L, -1);
		lua_pop(L, 1);
	}
	tp_err e = { 0 };
	int rc;
	if (strcmp(what, "status") == 0) {
		struct rollout_status *st = NULL;
		size_t n = 0;
		rc = rollout_status(app, &st, &n, &e);
		cJSON *j = rc < 0 ? NULL : rolloutjson_status(st, n);
		rollout_status_free(st, n);
		return push_rollout(L, rc, j, &e);
	}
	if (strcmp(what, "resume") == 0) {
		struct rollout_result *rs = NULL;
		size_t n = 0;
		rc = rollout_resume(app, NULL, NULL, &o, &rs, &n, &e);
		cJSON *j = rs ? rolloutjson_results(rs, n) : NULL;
		rollout_results_free(rs, n);
		return push_rollout(L, rc, j, &e);
	}
	char *bucket = NULL, *key = NULL, *version = NULL;
	if (rollout_parse_uri(what, &bucket, &key, &version, &e) < 0)
		return fail_lua(L, &e);
	struct rollout_result res;
	rc = rollout_run(app, bucket, key, version, &o, &res, &e);
	free(bucket);
	free(key);
	free(version);
	cJSON *j = res.uri ? rolloutjson_result(&res) : NULL;
	rollout_result_free(&res);
	return push_rollout(L, rc, j, &e);
}

int luatp_open(lua_State *L, struct app *app, tp_err *e)
{
	static const luaL_Reg fns[] = {
		{ "ls", l_ls }, { "get", l_get }, { "put", l_put }, { "delete", l_delete },
		{ "plan", l_plan }, { "apply", l_apply }, { "drift", l_drift }, { "depth", l_depth },
		{ "redrive", l_redrive }, { "pause", l_pause }, { "resume", l_resume },
		{ "purge", l_purge },
		{ "reload_policy", l_reload_policy }, { "policy", l_policy }, { "aws", l_aws },
		{ "rollout", l_rollout }, { "status", l_status }, { NULL, NULL },
	};
	ddbval_open(L);
	lua_newtable(L);
	int t = lua_gettop(L);
	/* The value constructors the policy also sees: null, list, set, ... */
	lua_getfield(L, LUA_REGISTRYINDEX, "tp.lib");
	lua_pushnil(L);
	while (lua_next(L, -2)) {
		lua_pushvalue(L, -2);
		lua_insert(L, -2);
		lua_settable(L, t);
	}
	lua_pop(L, 1);
	lua_pushlightuserdata(L, app);
	luaL_setfuncs(L, fns, 1);

	const struct embedded_file *f = embedded_find("tp.lua");
	if (!f)
		return tp_errf(e, TP_EINVAL, "NoTpLua", "tp.lua is not embedded in this binary");
	if (luaL_loadbufferx(L, f->data, f->len, "=tp.lua", "t") != LUA_OK) {
		tp_errf(e, TP_EINVAL, "TpLuaError", "%s", lua_tostring(L, -1));
		lua_pop(L, 2);
		return TP_EINVAL;
	}
	lua_pushvalue(L, t);
	if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
		tp_errf(e, TP_EINVAL, "TpLuaError", "%s", lua_tostring(L, -1));
		lua_pop(L, 2);
		return TP_EINVAL;
	}
	luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
	lua_pushvalue(L, t);
	lua_setfield(L, -2, "tp");
	lua_pop(L, 1);
	lua_setglobal(L, "tp");
	return TP_OK;
}
