/* policy.c: the sandboxed Lua policy host (see policy.h): its public calls,
 * and where each runs. The parts (policy_int.h): sandbox.c, call.c,
 * worker.c, mempool.c.
 *
 * Isolation: this process never runs policy code. It holds a prepared
 * lua_State (libraries opened, the sandbox template built, the chunk
 * compiled) and forks one worker process from it; every call (the load's
 * trial run, pipeline, rollout, rollout_health) goes to the worker as a
 * length-framed request of binary values (worker.c says what a frame
 * carries; wire.h: no JSON text is printed or parsed on the way), and the
 * answer comes back the same way, read until the call's deadline with a
 * size cap and decoded with a node cap.
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
#include "script/call_int.h"
#include "script/embedded.h"
#include "script/policy_int.h"
#include "script/sandbox_int.h"
#include "script/wire.h"
#include "script/worker_int.h"
#include "base/hash.h"
#include "base/log.h"

#include <cjson/cJSON.h>
#include <lua.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_INSTRUCTIONS 10000000L
#define DEFAULT_MEMORY (32u << 20)
#define DEFAULT_NODES 10000
#define DEFAULT_TEXT (1u << 20)
#define MAX_POLICY_FILE (1u << 20)

/* ---------- the calls ----------
 * A new call: its CALL_ name (policy_int.h), its row here, and its wrapper
 * below (policy_rollout_health is the model for a verdict, policy_rollout
 * for a table). */

const struct call_kind_info call_kinds[CALL_COUNT] = {
	[CALL_LOAD] = { "load", 0, -1, -1, ANSWER_NONE, NULL },
	/* pipeline(item, ctx) -> spec */
	[CALL_PIPELINE] = { "pipeline", 2, 1, 0, ANSWER_TABLE, "spec" },
	/* rollout(change, targets, ctx) -> waves */
	[CALL_ROLLOUT] = { "rollout", 3, 2, -1, ANSWER_TABLE, "waves" },
	/* rollout_health(wave, results, ctx) -> true / "wait" / nil, "reason" */
	[CALL_HEALTH] = { "rollout_health", 3, 2, -1, ANSWER_VERDICT, NULL },
	/* limit_group(item, ctx) -> {rate, burst} (core/limit_group.h) */
	[CALL_LIMIT_GROUP] = { "limit_group", 2, 1, 0, ANSWER_TABLE, "limit group" },
};

/* Run c where the limits say: in the worker (always, but for
 * measurements), or here under the in-process caps. The run's ctx goes
 * along when the Lua state that runs c does not hold it yet. */
static int call_policy(struct policy *p, struct call *c, tp_err *e)
{
	if (!p->in_process)
		return worker_run(p, c, e);
	cJSON *ctx = NULL;
	if (call_kinds[c->kind].ctx_arg >= 0 && p->ctx_loaded != p->ctx_gen) {
		struct wire_in in = { (const unsigned char *)p->ctx_wire.data,
				      (const unsigned char *)p->ctx_wire.data + p->ctx_wire.len, 0, 0, 0 };
		c->set_ctx = ctx = wire_get(&in); /* our own encoding: always well formed */
	}
	int rc = call_protected(p, c, e);
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
	int rc = sandbox_new(p, source, len, e);
	if (rc < 0)
		goto done;

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
	sandbox_free(p);
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
	struct call c = { .kind = CALL_LIMIT_GROUP, .args = { item } };
	int rc = call_policy(p, &c, e);
	if (rc == TP_OK && c.absent)
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
	if (rc == TP_OK && c.absent)
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
