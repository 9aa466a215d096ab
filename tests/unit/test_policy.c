/* test_policy.c: the Lua sandbox, its caps and errors, and the default policy. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "embedded.h"
#include "log.h"
#include "policy.h"

static const char ITEM[] = "{\"pipeline\":{\"S\":\"a\"}}";

/* A policy whose pipeline function runs BODY with item and ctx in scope. */
static struct policy *load_body(const char *body, const struct policy_limits *lim)
{
	char *src = tp_xasprintf("return { pipeline = function(item, ctx)\n%s\nend }\n", body);
	struct policy *p = NULL;
	tp_err e = {0};
	int rc = policy_new(src, strlen(src), "test.lua", lim, &p, &e);
	if (rc != 0)
		fail_msg("load failed: %s", e.message);
	free(src);
	return p;
}

/* Run BODY; returns rc, fills e. */
static int run_body(const char *body, const struct policy_limits *lim, tp_err *e)
{
	struct policy *p = load_body(body, lim);
	char *spec = NULL;
	int rc = policy_pipeline(p, ITEM, "{}", &spec, e);
	free(spec);
	policy_free(p);
	return rc;
}

static void expect_error(const char *body, int want_rc, const char *code, const char *needle)
{
	tp_err e = {0};
	int rc = run_body(body, NULL, &e);
	if (rc != want_rc || strcmp(e.code, code) != 0 || !strstr(e.message, needle))
		fail_msg("body: %s\n rc %d (want %d) code %s (want %s)\n message: %s (want ...%s...)", body, rc,
			 want_rc, e.code, code, e.message, needle);
}

static void sandbox_refuses_escapes(void **state)
{
	expect_error("return io.open('/etc/passwd')", TP_EPOLICY, "PolicyError", "test.lua:2: unknown global 'io'");
	expect_error("return os.execute('true')", TP_EPOLICY, "PolicyError", "unknown global 'os'");
	expect_error("return require('io')", TP_EPOLICY, "PolicyError", "unknown global 'require'");
	expect_error("return package.loaded", TP_EPOLICY, "PolicyError", "unknown global 'package'");
	expect_error("return debug.getinfo(1)", TP_EPOLICY, "PolicyError", "unknown global 'debug'");
	expect_error("return dofile('/etc/passwd')", TP_EPOLICY, "PolicyError", "unknown global 'dofile'");
	expect_error("return loadfile('/etc/passwd')", TP_EPOLICY, "PolicyError", "unknown global 'loadfile'");
	expect_error("return collectgarbage('count')", TP_EPOLICY, "PolicyError", "unknown global 'collectgarbage'");
	expect_error("return coroutine.create(print)", TP_EPOLICY, "PolicyError", "unknown global 'coroutine'");
	expect_error("return string.dump(print)", TP_EPOLICY, "PolicyError", "attempt to call a nil value");
	expect_error("return ('').dump(print)", TP_EPOLICY, "PolicyError", "attempt to call a nil value");
	/* a binary chunk, crafted by hand since string.dump is gone */
	expect_error("local f, err = load('\\27Lua\\x54\\0\\x19\\x93\\r\\n\\x1a\\n', 'x', 'b')\n"
		     "if f then return {} end\nerror(err)",
		     TP_EPOLICY, "PolicyError", "attempt to load a binary chunk (mode is 't')");
	expect_error("local f, err = load(function() return '\\27Lua' end)\nerror(err)", TP_EPOLICY, "PolicyError",
		     "binary chunk");
	expect_error("return nosuch", TP_EPOLICY, "PolicyError", "test.lua:2: unknown global 'nosuch'");
	expect_error("newglobal = 1 return {}", TP_EPOLICY, "PolicyError", "test.lua:2: unknown global 'newglobal'");
	expect_error("return getmetatable('').__index", TP_EPOLICY, "PolicyError", "attempt to index a boolean");
	expect_error("setmetatable(_G, nil) return {}", TP_EPOLICY, "PolicyError", "protected metatable");
	/* text load works and sees the sandbox */
	tp_err e = {0};
	assert_int_equal(run_body("local f = load('return tp.null, os') local a, b = f()\n"
				  "assert(a == tp.null) return {}",
				  NULL, &e),
			 TP_EPOLICY);
	assert_non_null(strstr(e.message, "unknown global 'os'"));
	assert_int_equal(run_body("local f = assert(load('return 1 + 1')) assert(f() == 2) return {ok = true}", NULL, &e),
			 0);
}

static void errors_name_file_and_line(void **state)
{
	struct policy *p = NULL;
	tp_err e = {0};
	const char *bad = "return {\n pipeline = function(item)\n  return item..\n end }\n";
	assert_int_equal(policy_new(bad, strlen(bad), "policies/policy.lua", NULL, &p, &e), TP_EPOLICY);
	assert_null(p);
	assert_string_equal(e.code, "PolicyError");
	assert_true(tp_startswith(e.message, "policies/policy.lua:4:"));

	expect_error("local x = nil\nreturn x.field", TP_EPOLICY, "PolicyError", "test.lua:3: attempt to index a nil value");
	expect_error("\n\nerror('boom')", TP_EPOLICY, "PolicyError", "test.lua:4: boom");
	expect_error("error({})", TP_EPOLICY, "PolicyError", "test.lua:2: (error object is a table value)");
	expect_error("error('plain', 0)", TP_EPOLICY, "PolicyError", "test.lua:2: plain");

	/* load-time failures */
	const char *notable = "return 42";
	assert_int_equal(policy_new(notable, strlen(notable), "x.lua", NULL, &p, &e), TP_EPOLICY);
	assert_non_null(strstr(e.message, "must return a table"));
	const char *nofn = "return { rollout = function() end }";
	assert_int_equal(policy_new(nofn, strlen(nofn), "x.lua", NULL, &p, &e), TP_EPOLICY);
	assert_non_null(strstr(e.message, "no `pipeline` function"));
	const char *bytecode = "\x1bLua\x54";
	assert_int_equal(policy_new(bytecode, 5, "x.lua", NULL, &p, &e), TP_EPOLICY);
	assert_non_null(strstr(e.message, "binary chunk"));
}

static void instruction_cap_beats_pcall(void **state)
{
	struct policy_limits lim = { .max_instructions = 200000 };
	tp_err e = {0};
	int rc = run_body("while true do pcall(function() while true do end end) end", &lim, &e);
	assert_int_equal(rc, TP_ELIMIT);
	assert_string_equal(e.code, "PolicyInstructionLimit");
	assert_non_null(strstr(e.message, "test.lua:"));
	rc = run_body("local ok = pcall(function() while true do end end)\nreturn {survived = true}", &lim, &e);
	assert_int_equal(rc, TP_ELIMIT);
	rc = run_body("local n = 0 while true do n = n + 1 end", NULL, &e); /* default budget */
	assert_int_equal(rc, TP_ELIMIT);
	/* error handlers cannot resume either */
	rc = run_body("while true do xpcall(function() while true do end end, function(m) return m end) end", &lim, &e);
	assert_int_equal(rc, TP_ELIMIT);
}

static void memory_cap_beats_pcall(void **state)
{
	struct policy_limits lim = { .max_memory = 4u << 20 };
	tp_err e = {0};
	int rc = run_body("local s = 'x' while true do pcall(function() s = s .. s end) end", &lim, &e);
	assert_int_equal(rc, TP_ELIMIT);
	assert_string_equal(e.code, "PolicyMemoryLimit");
	rc = run_body("local t = {} pcall(function() for i = 1, 1e9 do t[i] = {i} end end) return {}", &lim, &e);
	assert_int_equal(rc, TP_ELIMIT);
	assert_string_equal(e.code, "PolicyMemoryLimit");
	rc = run_body("pcall(string.rep, 'x', 1 << 30) return {}", &lim, &e);
	assert_int_equal(rc, TP_ELIMIT);
	/* string.rep of an empty string returns at once instead of looping */
	rc = run_body("return { n = #string.rep('', 1 << 50) }", &lim, &e);
	assert_int_equal(rc, 0);
}

static void rejection_and_recovery(void **state)
{
	struct policy_limits lim = { .max_instructions = 100000 };
	const char *src = "return { pipeline = function(item, ctx)\n"
			  "  if item.mode == 'reject' then return nil, 'concurrency: 0 is out of range (1..1000)' end\n"
			  "  if item.mode == 'spin' then while true do end end\n"
			  "  if item.mode == 'err' then error('bad') end\n"
			  "  if item.mode == 'clobber' then string.upper = nil tp.null = 1 end\n"
			  "  return { name = item.pipeline, up = string.upper('x'), null_ok = tp.type(tp.null) == 'null',"
			  "           region = ctx.region }\n"
			  "end }\n";
	struct policy *p = NULL;
	tp_err e = {0};
	assert_int_equal(policy_new(src, strlen(src), "r.lua", &lim, &p, &e), 0);
	char *spec = NULL;
	assert_int_equal(policy_pipeline(p, "{\"pipeline\":{\"S\":\"a\"},\"mode\":{\"S\":\"reject\"}}", "{}", &spec, &e),
			 TP_EPOLICY);
	assert_string_equal(e.code, "PolicyRejected");
	assert_string_equal(e.message, "concurrency: 0 is out of range (1..1000)");
	assert_null(spec);
	assert_int_equal(policy_pipeline(p, "{\"pipeline\":{\"S\":\"a\"},\"mode\":{\"S\":\"spin\"}}", "{}", &spec, &e),
			 TP_ELIMIT);
	assert_int_equal(policy_pipeline(p, "{\"pipeline\":{\"S\":\"a\"},\"mode\":{\"S\":\"err\"}}", "{}", &spec, &e),
			 TP_EPOLICY);
	assert_string_equal(e.message, "r.lua:4: bad");
	assert_int_equal(policy_pipeline(p, "{\"pipeline\":{\"S\":\"a\"},\"mode\":{\"S\":\"clobber\"}}", "{}", &spec, &e),
			 TP_EPOLICY);
	/* the next call still works, with a clean library */
	assert_int_equal(policy_pipeline(p, ITEM, "{\"region\":\"eu-west-1\"}", &spec, &e), 0);
	assert_string_equal(spec, "{\"name\":\"a\",\"null_ok\":true,\"region\":\"eu-west-1\",\"up\":\"X\"}");
	free(spec);
	/* rollout absent: one wave of everything */
	char *waves = NULL;
	assert_int_equal(policy_rollout(p, "{}", "[{\"pipeline\":\"b\"},{\"pipeline\":\"a\"}]", "{}", &waves, &e), 0);
	assert_string_equal(waves, "[{\"targets\":[\"b\",\"a\"],\"pause_seconds\":0,\"halt_on_failure\":true}]");
	free(waves);
	assert_string_equal(policy_origin(p), "r.lua");
	assert_int_equal(strlen(policy_sha256(p)), 64);
	policy_free(p);
	policy_free(NULL);
}

static struct policy *default_policy(void)
{
	struct policy *p = NULL;
	tp_err e = {0};
	unsetenv("TASKPIPE_POLICY");
	unsetenv("LAMBDA_TASK_ROOT");
	if (policy_load(NULL, NULL, &p, &e) != 0)
		fail_msg("default policy: %s", e.message);
	assert_string_equal(policy_origin(p), "builtin:policy.lua");
	return p;
}

static const char CTX[] = "{\"instance\":\"taskpipe\",\"region\":\"us-east-1\",\"prefix\":\"tp-\","
			  "\"account_concurrency\":1000,\"unreserved_min\":100,"
			  "\"defaults\":{\"code_bucket\":\"code\",\"code_key\":\"consumer.zip\",\"role_arn\":\"arn:aws:iam::123456789012:role/c\"},"
			  "\"now\":1700000000}";

static void default_policy_spec(void **state)
{
	struct policy *p = default_policy();
	tp_err e = {0};
	char *spec = NULL;
	assert_int_equal(policy_pipeline(p, "{\"pipeline\":{\"S\":\"a\"},\"concurrency\":{\"N\":\"1\"},"
					    "\"env\":{\"M\":{\"N1\":{\"N\":\"5\"}}}}",
					 CTX, &spec, &e),
			 0);
	assert_non_null(strstr(spec, "\"ReservedConcurrentExecutions\":1"));
	assert_non_null(strstr(spec, "\"maxReceiveCount\":10"));
	assert_null(strstr(spec, "ScalingConfig"));
	assert_non_null(strstr(spec, "\"Variables\":{\"N1\":\"5\"}"));
	free(spec);
	assert_int_equal(policy_pipeline(p, "{\"pipeline\":{\"S\":\"a\"},\"concurrency\":{\"N\":\"0\"}}", CTX, &spec, &e),
			 TP_EPOLICY);
	assert_string_equal(e.code, "PolicyRejected");
	assert_string_equal(e.message, "concurrency: 0 is out of range (1..1000)");

	char *waves = NULL;
	assert_int_equal(policy_rollout(p, "{\"bucket\":\"code\",\"key\":\"k\",\"version\":\"v\"}",
					"[{\"pipeline\":\"c\"},{\"pipeline\":\"a\"},{\"pipeline\":\"b\"}]", CTX, &waves, &e),
			 0);
	assert_string_equal(waves, "[{\"halt_on_failure\":true,\"pause_seconds\":30,\"targets\":[\"a\"]},"
				   "{\"halt_on_failure\":true,\"pause_seconds\":0,\"targets\":[\"b\"]},"
				   "{\"halt_on_failure\":true,\"pause_seconds\":0,\"targets\":[\"c\"]}]");
	free(waves);
	assert_int_equal(policy_rollout(p, "{}", "[]", CTX, &waves, &e), 0);
	assert_string_equal(waves, "[]");
	free(waves);
	assert_int_equal(policy_rollout(p, "{}", "[{\"pipeline\":\"x\"}]", CTX, &waves, &e), 0);
	assert_string_equal(waves, "[{\"halt_on_failure\":true,\"pause_seconds\":0,\"targets\":[\"x\"]}]");
	free(waves);
	assert_int_equal(policy_rollout(p, "{}", "[{\"pipeline\":\"y\"},{\"pipeline\":\"x\"}]", CTX, &waves, &e), 0);
	assert_string_equal(waves, "[{\"halt_on_failure\":true,\"pause_seconds\":30,\"targets\":[\"x\"]},"
				   "{\"halt_on_failure\":true,\"pause_seconds\":0,\"targets\":[\"y\"]}]");
	free(waves);
	/* 25 targets: 1 canary, 10% of the other 24 = 2, then 22 */
	buf t = {0};
	buf_addc(&t, '[');
	for (int i = 25; i >= 1; i--)
		buf_addf(&t, "%s{\"pipeline\":\"p%02d\",\"function\":\"tp-p%02d\"}", i < 25 ? "," : "", i, i);
	buf_addc(&t, ']');
	assert_int_equal(policy_rollout(p, "{}", buf_str(&t), CTX, &waves, &e), 0);
	buf_free(&t);
	assert_true(tp_startswith(waves, "[{\"halt_on_failure\":true,\"pause_seconds\":30,\"targets\":[\"p01\"]},"
					 "{\"halt_on_failure\":true,\"pause_seconds\":0,\"targets\":[\"p02\",\"p03\"]},"
					 "{\"halt_on_failure\":true,\"pause_seconds\":0,\"targets\":[\"p04\",\"p05\","));
	assert_non_null(strstr(waves, "\"p25\"]}]"));
	free(waves);
	policy_free(p);
}

static void load_order(void **state)
{
	char dir[] = "/tmp/tp-policy-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char *root_file = tp_xasprintf("%s/policy.lua", dir), *env_file = tp_xasprintf("%s/env.lua", dir);
	const char *src = "return { pipeline = function() return {} end }";
	FILE *f = fopen(root_file, "w");
	fputs(src, f);
	fclose(f);
	f = fopen(env_file, "w");
	fputs(src, f);
	fclose(f);
	struct policy *p = NULL;
	tp_err e = {0};
	setenv("LAMBDA_TASK_ROOT", dir, 1);
	unsetenv("TASKPIPE_POLICY");
	assert_int_equal(policy_load(NULL, NULL, &p, &e), 0);
	assert_string_equal(policy_origin(p), root_file);
	policy_free(p);
	setenv("TASKPIPE_POLICY", env_file, 1);
	assert_int_equal(policy_load(NULL, NULL, &p, &e), 0);
	assert_string_equal(policy_origin(p), env_file);
	policy_free(p);
	assert_int_equal(policy_load(root_file, NULL, &p, &e), 0); /* the flag wins */
	assert_string_equal(policy_origin(p), root_file);
	policy_free(p);
	assert_int_equal(policy_load("/nonexistent/p.lua", NULL, &p, &e), TP_EINVAL);
	assert_null(p);
	unsetenv("TASKPIPE_POLICY");
	unsetenv("LAMBDA_TASK_ROOT");
	remove(root_file);
	remove(env_file);
	rmdir(dir);
	free(root_file);
	free(env_file);
}

static double cost_per_call(int in_process, int n)
{
	struct policy_limits lim = { .in_process = in_process };
	struct policy *p = NULL;
	tp_err e = {0};
	unsetenv("TASKPIPE_POLICY");
	unsetenv("LAMBDA_TASK_ROOT");
	assert_int_equal(policy_load(NULL, &lim, &p, &e), 0);
	const char *item = "{\"pipeline\":{\"S\":\"tenant-42\"},\"concurrency\":{\"N\":\"4\"},\"timeout\":{\"N\":\"60\"},"
			   "\"env\":{\"M\":{\"API_URL\":{\"S\":\"https://example.test\"},\"LIMIT\":{\"N\":\"4\"}}},"
			   "\"tags\":{\"M\":{\"team\":{\"S\":\"core\"}}}}";
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < n; i++) {
		char *spec = NULL;
		assert_int_equal(policy_pipeline(p, item, CTX, &spec, &e), 0);
		free(spec);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	policy_free(p);
	return ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / 1e3 / n;
}

/* The isolated call (worker process, pipes, JSON both ways) against the
 * same call in this process, in the same run. The release numbers come
 * from `make bench-policy`; this build runs under sanitizers. */
static void default_policy_cost(void **state)
{
	enum { N = 1000 };
	double in = cost_per_call(1, N), iso = cost_per_call(0, N);
	printf("policy_pipeline (default policy, %d calls): in-process %.1f us, isolated %.1f us, overhead %.1f us per call\n",
	       N, in, iso, iso - in);
	assert_true(in < 3000);   /* generous: sanitizers and a shared 2-core VM */
	assert_true(iso < 20000); /* a fork per call costs ~50,000 us in this build */
}

int main(void)
{
	log_set_level(LOG_WARN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sandbox_refuses_escapes),
		cmocka_unit_test(errors_name_file_and_line),
		cmocka_unit_test(instruction_cap_beats_pcall),
		cmocka_unit_test(memory_cap_beats_pcall),
		cmocka_unit_test(rejection_and_recovery),
		cmocka_unit_test(default_policy_spec),
		cmocka_unit_test(load_order),
		cmocka_unit_test(default_policy_cost),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
