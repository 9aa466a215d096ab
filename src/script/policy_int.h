/* policy_int.h: what the policy host's files share (see policy.c for the
 * design): the policy's state and one call's description. Not for use
 * outside src/script/; the public interface is policy.h.
 *
 *   policy.c   the public calls and where a call runs (worker or here)
 *   sandbox.c  the Lua state: allocator, allowed libraries, environment, caps
 *   call.c     one call in a prepared state: arguments in, result out
 *   worker.c   the forked worker process and the frames on its pipes
 *   mempool.c  the allocator's small-block cache
 */
#ifndef TP_POLICY_INT_H
#define TP_POLICY_INT_H

#include "base/base.h"
#include "base/hash.h"
#include "script/mempool.h"

#include <lua.h>

#include <signal.h>
#include <stdint.h>
#include <sys/types.h>

struct cJSON;

/* Why a call was stopped (struct policy's killed). */
enum kill_reason { KILL_NONE, KILL_INSTR, KILL_MEM, KILL_TIME };

struct policy {
	lua_State *L;
	char *origin;                      /* file path or "builtin:policy.lua" */
	char short_src[LUA_IDSIZE];        /* how Lua names the chunk in messages */
	char sha[HASH_SHA256_HEX_LEN];     /* of the source text */
	long max_instructions;             /* per call (times call_scale) */
	size_t max_memory;                 /* bytes, whole state */
	long timeout_ms;                   /* wall clock per call (times call_scale) */
	size_t max_nodes, max_text;        /* conversion budget of a result (times call_scale) */
	long call_ms;                      /* this call's wall clock, in the worker */
	long call_instructions;            /* this call's caps (call_caps): the max_ ones scaled */
	size_t call_nodes, call_text;
	int64_t call_timeout_ms;           /* timeout_ms scaled (before a deadline shortens it) */
	int in_process;                    /* measurements only: no fork, no deadline */
	int64_t hard_deadline_ms;          /* policy_set_deadline; 0: none */
	size_t mem_used;                   /* bytes Lua currently holds */
	struct mempool pool;               /* small blocks Lua freed, for reuse */
	volatile sig_atomic_t killed;      /* enum kill_reason: a cap was hit this call */
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

/* The policy that owns a Lua state (kept in its extra space). */
static inline struct policy *policy_of(lua_State *L)
{
	return *(struct policy **)lua_getextraspace(L);
}

/* ---------- the calls ----------
 * A new call (like rollout_health): its CALL_ name below, before
 * CALL_COUNT; its row in call_kinds[] (policy.c); its public wrapper in
 * policy.c and policy.h. call.c and worker.c need no change unless the
 * function answers in a new form (enum call_answer). */
enum call_kind { CALL_LOAD, CALL_PIPELINE, CALL_ROLLOUT, CALL_HEALTH, CALL_LIMIT_GROUP, CALL_COUNT };

#define CALL_MAX_ARGS 3

/* How a call's function answers. */
enum call_answer {
	ANSWER_NONE,     /* load: the chunk's trial run; no function is called */
	ANSWER_TABLE,    /* a table (or nil, "reason"), converted under the budget */
	ANSWER_VERDICT,  /* true[, "note"], "wait"[, "note"] (or nil/false, "reason") */
};

struct call_kind_info {
	const char *fn;           /* the policy table's function ("pipeline") */
	int nargs;                /* arguments it takes, ctx included */
	int ctx_arg;              /* which one is the run's ctx; -1: none */
	int item_arg;             /* which one is a DynamoDB item (AttributeValues); -1: none */
	enum call_answer answer;
	const char *result;       /* how errors name a converted table ("spec", "waves") */
};
extern const struct call_kind_info call_kinds[CALL_COUNT];

/* One call: what goes in, what comes out. */
struct call {
	enum call_kind kind;
	const struct cJSON *args[CALL_MAX_ARGS]; /* in call_kinds' order; the ctx_arg's is unused */
	const struct cJSON *set_ctx;  /* the run's ctx to store first, or NULL */
	struct cJSON *result;         /* converted return value (numbers as Raw text); a verdict
				       * as {"verdict": "healthy"|"wait", "note"?} */
	int absent;                   /* the policy does not define the function */
	int rejected;                 /* nil, "reason" */
	char reason[512];
	int rc;                       /* conversion failure, details in e */
	tp_err *e;
};

#endif
