"""`taskpipe policy check|show` with the default policy: fixtures in
tests/policy/, every validation message, and each item field's effect on the
spec. No AWS involved (no moto needed)."""
import glob
import json
import os
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import BASE_ENV, ROOT, TASKPIPE, run_taskpipe  # noqa: E402

POLICY_DIR = os.path.join(ROOT, "tests", "policy")
CTX_FILE = os.path.join(POLICY_DIR, "ctx.json")
ROLE = "arn:aws:iam::123456789012:role/tp-consumer"


def env(**extra):
    e = dict(BASE_ENV)
    e["TASKPIPE_TODAY"] = "2026-12-07"    # the runtime phases in ctx.runtimes: not the calendar's
    for k in ("TASKPIPE_POLICY", "LAMBDA_TASK_ROOT", "TASKPIPE_CODE_BUCKET", "TASKPIPE_CODE_KEY",
              "TASKPIPE_ROLE_ARN"):
        e.pop(k, None)
    e.update(extra)
    return e


class PolicyCli(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="tp-policy-")

    def tearDown(self):
        shutil.rmtree(self.dir)

    def check(self, items, ctx_file=CTX_FILE, extra=(), environ=None):
        """items: list of (name, item dict or raw text). Returns (rc, results)."""
        paths = []
        for name, item in items:
            p = os.path.join(self.dir, name + ".json")
            with open(p, "w") as f:
                f.write(item if isinstance(item, str) else json.dumps(item))
            paths.append(p)
        args = ["policy", "check"] + (["--ctx", "@" + ctx_file] if ctx_file else []) + list(extra) + paths
        r = run_taskpipe(args, environ or env())
        lines = [json.loads(l) for l in r.stdout.splitlines() if l.strip()]
        self.assertEqual(len(lines), len(items), r.stdout + r.stderr)
        for line, p in zip(lines, paths):
            self.assertEqual(line["file"], p)
        return r.returncode, lines

    def spec(self, item):
        rc, out = self.check([("item", item)])
        self.assertTrue(out[0]["ok"], out[0])
        self.assertEqual(rc, 0)
        return out[0]["spec"]

    def error(self, item):
        rc, out = self.check([("item", item)])
        self.assertFalse(out[0]["ok"], out[0])
        self.assertEqual(rc, 1)
        return out[0]["error"]

    # ---- fixtures -------------------------------------------------------

    def test_fixtures(self):
        items = sorted(glob.glob(os.path.join(POLICY_DIR, "items", "*.json")))
        self.assertGreaterEqual(len(items), 8)
        r = run_taskpipe(["policy", "check", "--ctx", "@" + CTX_FILE] + items, env())
        lines = [json.loads(l) for l in r.stdout.splitlines()]
        self.assertEqual(len(lines), len(items), r.stderr)
        self.assertEqual(r.returncode, 1)  # the bad-* fixtures fail, the rest still run
        for path, got in zip(items, lines):
            name = os.path.basename(path)
            with open(os.path.join(POLICY_DIR, "expected", name)) as f:
                want = json.load(f)
            self.assertEqual(got["file"], path)
            self.assertEqual(got["ok"], want["ok"], name)
            if want["ok"]:
                self.assertEqual(got["spec"], want["spec"], name)
            else:
                self.assertEqual(got["error"], want["error"], name)
                self.assertEqual(got["code"], "PolicyRejected")

    def test_write_up_groups(self):
        rc, out = self.check([("A", {"pipeline": "A", "concurrency": 2}),
                              ("B", {"pipeline": "B", "concurrency": 1}),
                              ("C", {"pipeline": "C", "concurrency": 2})])
        self.assertEqual(rc, 0)
        a, b, c = (o["spec"] for o in out)
        for s in (a, c):
            self.assertEqual(s["mapping"]["ScalingConfig"], {"MaximumConcurrency": 2})
            self.assertNotIn("ReservedConcurrentExecutions", s["func"])
            self.assertEqual(s["queue"]["maxReceiveCount"], 5)
        self.assertNotIn("ScalingConfig", b["mapping"])
        self.assertEqual(b["func"]["ReservedConcurrentExecutions"], 1)
        self.assertEqual(b["queue"]["maxReceiveCount"], 10)
        self.assertEqual([a["name"], b["name"], c["name"]], ["A", "B", "C"])

    # ---- each field's effect --------------------------------------------

    def test_defaults(self):
        s = self.spec({"pipeline": "p"})
        self.assertEqual(s["mapping"]["ScalingConfig"], {"MaximumConcurrency": 2})  # default concurrency 2
        self.assertEqual(s["func"]["Timeout"], 30)
        self.assertEqual(s["func"]["MemorySize"], 128)
        self.assertEqual(s["queue"], {"VisibilityTimeout": 180, "MessageRetentionPeriod": 345600,
                                      "ReceiveMessageWaitTimeSeconds": 20, "maxReceiveCount": 5})
        self.assertEqual(s["dlq"], {"MessageRetentionPeriod": 1209600, "keep_if_not_empty": True})
        self.assertEqual(s["mapping"]["BatchSize"], 10)
        self.assertEqual(s["mapping"]["MaximumBatchingWindowInSeconds"], 0)
        self.assertIs(s["mapping"]["Enabled"], True)
        self.assertEqual(s["mapping"]["FunctionResponseTypes"], ["ReportBatchItemFailures"])
        self.assertEqual(s["func"]["Runtime"], "provided.al2023")
        self.assertEqual(s["func"]["Handler"], "bootstrap")
        self.assertEqual(s["func"]["Architectures"], ["x86_64"])
        self.assertEqual(s["func"]["Code"], {"S3Bucket": "code-bucket", "S3Key": "consumer/v1.zip"})
        self.assertEqual(s["func"]["Role"], ROLE)
        self.assertEqual(s["func"]["Environment"], {"Variables": {}})
        self.assertEqual(s["tags"], {})

    def test_fields(self):
        cases = [
            ({"concurrency": 7}, lambda s: s["mapping"]["ScalingConfig"]["MaximumConcurrency"], 7),
            ({"concurrency": 1000}, lambda s: s["mapping"]["ScalingConfig"]["MaximumConcurrency"], 1000),
            ({"timeout": 900}, lambda s: (s["func"]["Timeout"], s["queue"]["VisibilityTimeout"]), (900, 5400)),
            ({"timeout": 10000 // 1000}, lambda s: s["queue"]["VisibilityTimeout"], 60),
            ({"memory": 10240}, lambda s: s["func"]["MemorySize"], 10240),
            ({"visibility_timeout": 30}, lambda s: s["queue"]["VisibilityTimeout"], 30),
            ({"visibility_timeout": 43200}, lambda s: s["queue"]["VisibilityTimeout"], 43200),
            ({"batch_size": 10000}, lambda s: (s["mapping"]["BatchSize"], s["mapping"]["MaximumBatchingWindowInSeconds"]),
             (10000, 1)),
            ({"batch_size": 500, "batch_window": 300},
             lambda s: s["mapping"]["MaximumBatchingWindowInSeconds"], 300),
            ({"batch_window": 20}, lambda s: s["mapping"]["MaximumBatchingWindowInSeconds"], 20),
            ({"max_receive_count": 1}, lambda s: s["queue"]["maxReceiveCount"], 1),
            ({"concurrency": 1, "max_receive_count": 3}, lambda s: s["queue"]["maxReceiveCount"], 3),
            ({"retention": 60, "dlq_retention": 60},
             lambda s: (s["queue"]["MessageRetentionPeriod"], s["dlq"]["MessageRetentionPeriod"]), (60, 60)),
            ({"dlq_retention": 345600}, lambda s: s["dlq"]["MessageRetentionPeriod"], 345600),
            ({"keep_dlq": False}, lambda s: s["dlq"]["keep_if_not_empty"], False),
            ({"drain_timeout": 3600}, lambda s: s["drain_timeout"], 3600),
            ({}, lambda s: "drain_timeout" in s, False),   # absent: taskpipe's 24 h, hashes unchanged
            ({"expires_at": 1800000000}, lambda s: "expires_at" in s, False),   # accepted, not in the spec
            ({"env": {"A_B": "x", "N1": 42, "F1": 1.5, "T1": True}},
             lambda s: s["func"]["Environment"]["Variables"], {"A_B": "x", "N1": "42", "F1": "1.5", "T1": "true"}),
            ({"code": "other.zip"}, lambda s: s["func"]["Code"], {"S3Bucket": "code-bucket", "S3Key": "other.zip"}),
            ({"code_bucket": "b2"}, lambda s: s["func"]["Code"]["S3Bucket"], "b2"),
            ({"runtime": "python3.12"}, lambda s: s["func"]["Runtime"], "python3.12"),
            ({"code_storage": "reference"}, lambda s: s["func"]["Code"],
             {"S3Bucket": "code-bucket", "S3Key": "consumer/v1.zip", "S3ObjectStorageMode": "REFERENCE"}),
            ({"code_storage": "copy"}, lambda s: s["func"]["Code"],
             {"S3Bucket": "code-bucket", "S3Key": "consumer/v1.zip"}),
            ({"handler": "run"}, lambda s: s["func"]["Handler"], "run"),
            ({"architecture": "arm64"}, lambda s: s["func"]["Architectures"], ["arm64"]),
            ({"enabled": False}, lambda s: s["mapping"]["Enabled"], False),
            ({"tags": {"team": "core", "cost-center": "42"}}, lambda s: s["tags"], {"team": "core", "cost-center": "42"}),
            ({"role": "arn:aws:iam::1:role/r"}, lambda s: s["func"]["Role"], "arn:aws:iam::1:role/r"),
            ({"x_comment": "anything", "timeout": None}, lambda s: s["func"]["Timeout"], 30),
        ]
        items = [("c%d" % i, dict({"pipeline": "p%d" % i}, **fields)) for i, (fields, _, _) in enumerate(cases)]
        rc, out = self.check(items)
        self.assertEqual(rc, 0, out)
        for (fields, get, want), got in zip(cases, out):
            self.assertTrue(got["ok"], (fields, got))
            self.assertEqual(get(got["spec"]), want, fields)

    def test_dynamodb_json_same_as_plain(self):
        plain = {"pipeline": "p", "concurrency": 3, "enabled": False, "env": {"K1": "v"}}
        av = {"pipeline": {"S": "p"}, "concurrency": {"N": "3"}, "enabled": {"BOOL": False},
              "env": {"M": {"K1": {"S": "v"}}}}
        rc, out = self.check([("plain", plain), ("av", av), ("getitem", {"Item": av})])
        self.assertEqual(rc, 0)
        self.assertEqual(out[0]["spec"], out[1]["spec"])
        self.assertEqual(out[1]["spec"], out[2]["spec"])

    # ---- every validation message ----------------------------------------

    def test_validation_messages(self):
        big_env = {"V%03d" % i: "x" * 47 for i in range(100)}  # 100 * (4 + 47) = 5100 bytes
        cases = [
            ({"concurrency": 0}, "concurrency: 0 is out of range (1..1000)"),
            ({"concurrency": 1001}, "concurrency: 1001 is out of range (1..1000)"),
            ({"concurrency": 2.5}, "concurrency: 2.5 is not an integer (1..1000)"),
            ({"concurrency": "2"}, "concurrency: expected an integer, found string (1..1000)"),
            ({"concurrency": [2]}, "concurrency: expected an integer, found list (1..1000)"),
            ({"timeout": 0}, "timeout: 0 is out of range (1..900)"),
            ({"timeout": 901}, "timeout: 901 is out of range (1..900)"),
            ({"memory": 127}, "memory: 127 is out of range (128..10240)"),
            ({"memory": 10241}, "memory: 10241 is out of range (128..10240)"),
            ({"visibility_timeout": 10}, "visibility_timeout: 10 is below timeout 30 "
                                         "(AWS requires visibility timeout >= function timeout)"),
            ({"visibility_timeout": 43201}, "visibility_timeout: 43201 is out of range (0..43200)"),
            ({"batch_size": 0}, "batch_size: 0 is out of range (1..10000)"),
            ({"batch_size": 10001}, "batch_size: 10001 is out of range (1..10000)"),
            ({"batch_size": 11, "batch_window": 0},
             "batch_window: 0 with batch_size 11 (AWS requires a batching window of at least 1 second "
             "when batch_size > 10)"),
            ({"batch_window": 301}, "batch_window: 301 is out of range (0..300)"),
            ({"max_receive_count": 0}, "max_receive_count: 0 is out of range (1..1000)"),
            ({"retention": 59}, "retention: 59 is out of range (60..1209600)"),
            ({"retention": 1209601}, "retention: 1209601 is out of range (60..1209600)"),
            ({"dlq_retention": 59}, "dlq_retention: 59 is out of range (60..1209600)"),
            ({"dlq_retention": 3600}, "dlq_retention: 3600 is below retention 345600 "
                                      "(a message's age counts from its first enqueue)"),
            ({"keep_dlq": "yes"}, "keep_dlq: expected a boolean, found string (true or false)"),
            ({"drain_timeout": 0}, "drain_timeout: 0 is out of range (1..1209600)"),
            ({"drain_timeout": "1h"}, "drain_timeout: expected an integer, found string (1..1209600)"),
            ({"expires_at": "2026-12-07T18:00:00Z"}, "expires_at: expected an integer, found string (0..99999999999)"),
            ({"enabled": 1}, "enabled: expected a boolean, found number (true or false)"),
            ({"env": big_env}, "env: 5100 bytes, over Lambda's 4096-byte limit for all variables"),
            ({"env": {"bad-name": "x"}}, "env: 'bad-name' is not a valid variable name "
                                         "([A-Za-z][A-Za-z0-9_]+, at least 2 characters)"),
            ({"env": {"F": "x"}}, "env: 'F' is not a valid variable name ([A-Za-z][A-Za-z0-9_]+, at least 2 characters)"),
            ({"env": {"AWS_REGION": "x"}}, "env: AWS_REGION is reserved by Lambda and cannot be set"),
            ({"env": {"K1": {"a": 1}}}, "env: K1 is a map (string, number or boolean)"),
            ({"env": "A=1"}, "env: expected a map, found string"),
            ({"env": []}, "env: expected a map, found list"),
            ({"runtime": 3}, "runtime: expected a string, found number"),
            ({"runtime": "go1.x"}, "runtime: 'go1.x' is past Lambda's block date (deprecated 2024-01-08, "
                                   "creates blocked 2024-02-08, updates blocked 2025-11-01; use provided.al2023)"),
            ({"runtime": "python3.8"}, "runtime: 'python3.8' is past Lambda's block date (deprecated 2024-10-14, "
                                       "creates blocked 2025-10-01, updates blocked 2025-11-01; use provided.al2023)"),
            ({"code_storage": "shared"}, "code_storage: 'shared' is not supported (reference or copy)"),
            ({"code_storage": True}, "code_storage: expected a string, found boolean"),
            ({"handler": ""}, "handler: empty string"),
            ({"architecture": "x86"}, "architecture: 'x86' is not supported (x86_64 or arm64)"),
            ({"tags": {"taskpipe:owner": "me"}},
             "tags: key 'taskpipe:owner' uses a reserved prefix (taskpipe: and aws: are not allowed)"),
            ({"tags": {"AWS:x": "y"}}, "tags: key 'AWS:x' uses a reserved prefix (taskpipe: and aws: are not allowed)"),
            ({"tags": {"t": 1}}, "tags: t is a number (string)"),
            ({"tags": {"t": "v" * 257}}, "tags: value of t is 257 characters (0..256)"),
            ({"concurency": 2}, None),  # typo: unknown field, checked by prefix below
        ]
        items = [("v%d" % i, dict({"pipeline": "p"}, **fields)) for i, (fields, _) in enumerate(cases)]
        rc, out = self.check(items)
        self.assertEqual(rc, 1)
        for (fields, want), got in zip(cases, out):
            self.assertFalse(got["ok"], fields)
            self.assertEqual(got["code"], "PolicyRejected", got)
            if want is None:
                self.assertTrue(got["error"].startswith("concurency: unknown field (known: architecture, "),
                                got["error"])
            else:
                self.assertEqual(got["error"], want, fields)

    def test_pipeline_name_messages(self):
        cases = [
            ({}, "pipeline: missing"),
            ({"pipeline": None}, "pipeline: missing"),
            ({"pipeline": 5}, "pipeline: expected a string, found number"),
            ({"pipeline": ""}, "pipeline: 0 characters (1..200)"),
            ({"pipeline": "a b"}, "pipeline: 'a b' has characters outside A-Za-z0-9_- (AWS queue and function names)"),
            ({"pipeline": "x-dlq"}, "pipeline: 'x-dlq' ends in -dlq, which names another pipeline's dead-letter queue"),
        ]
        rc, out = self.check([("n%d" % i, f) for i, (f, _) in enumerate(cases)])
        self.assertEqual(rc, 1)
        for (fields, want), got in zip(cases, out):
            self.assertEqual(got["error"], want, fields)

    def test_code_storage_default_follows_bucket_versioning(self):
        """reference by default only for the default bucket, and only when it is
        versioned (S3ObjectStorageMode REFERENCE needs S3 versioning)."""
        with open(CTX_FILE) as f:
            ctx = json.load(f)
        ctx["defaults"]["code_bucket_versioned"] = True
        ctx["defaults"]["runtime"] = "provided.al2023"
        path = os.path.join(self.dir, "ctx-versioned.json")
        with open(path, "w") as f:
            json.dump(ctx, f)
        rc, out = self.check([("d", {"pipeline": "d"}), ("o", {"pipeline": "o", "code_bucket": "other"}),
                              ("c", {"pipeline": "c", "code_storage": "copy"})], ctx_file=path)
        self.assertEqual(rc, 0, out)
        modes = [o["spec"]["func"]["Code"].get("S3ObjectStorageMode") for o in out]
        self.assertEqual(modes, ["REFERENCE", None, None])
        rc, out = self.check([("d", {"pipeline": "d"})])      # unversioned (or unknown): copy
        self.assertNotIn("S3ObjectStorageMode", out[0]["spec"]["func"]["Code"])
 
    def test_runtime_lifecycle_from_ctx(self):
        """Issue 23, defect 6: one table (ctx.runtimes, src/core/runtimes.c) with
        dates; a runtime past its create block is refused, a deprecated one is
        allowed (drift flags it). The date comes from TASKPIPE_TODAY here."""
        def on(day, items):
            return self.check(items, environ=dict(env(), TASKPIPE_TODAY=day))
        items = [("al2", {"pipeline": "a", "runtime": "provided.al2"}),
                 ("py39", {"pipeline": "p", "runtime": "python3.9", "handler": "h.main"}),
                 ("node18", {"pipeline": "n", "runtime": "nodejs18.x", "handler": "h.main"})]
        rc, out = on("2026-12-07", items)
        self.assertTrue(out[0]["ok"], out[0])          # deprecated 2026-07-31: allowed
        self.assertEqual(out[0]["spec"]["func"]["Runtime"], "provided.al2")
        self.assertTrue(out[1]["ok"], out[1])          # deprecated, no published block date
        self.assertEqual(out[2]["error"],
                         "runtime: 'nodejs18.x' is past Lambda's block date (deprecated 2025-09-01, "
                         "creates blocked 2025-10-01, updates blocked 2025-11-01; use provided.al2023)")
        rc, out = on("2026-07-30", items[:1])
        self.assertTrue(out[0]["ok"], out[0])
        rc, out = on("2027-02-01", items[:1])          # provided.al2's create block
        self.assertEqual(out[0]["error"],
                         "runtime: 'provided.al2' is past Lambda's block date (deprecated 2026-07-31, "
                         "creates blocked 2027-02-01, updates blocked 2027-03-03; use provided.al2023)")

    def test_code_and_account_from_ctx(self):
        ctx = os.path.join(self.dir, "ctx-empty.json")
        with open(ctx, "w") as f:
            json.dump({"account_concurrency": 100, "unreserved_min": 100}, f)
        rc, out = self.check([("nocode", {"pipeline": "p"}),
                              ("nobucket", {"pipeline": "p", "code": "k.zip"}),
                              ("reserved", {"pipeline": "p", "concurrency": 1, "code": "k", "code_bucket": "b"}),
                              ("scaled", {"pipeline": "p", "concurrency": 2, "code": "k", "code_bucket": "b"})],
                             ctx_file=ctx)
        self.assertEqual(rc, 1)
        self.assertEqual(out[0]["error"],
                         "code: missing (no item code and no default code key in ctx.defaults.code_key)")
        self.assertEqual(out[1]["error"],
                         "code_bucket: missing (no item code_bucket and no default in ctx.defaults.code_bucket)")
        self.assertEqual(out[2]["error"], "concurrency: reserving 1 would leave fewer than 100 unreserved "
                                          "executions (account limit 100)")
        self.assertTrue(out[3]["ok"])
        self.assertNotIn("Role", out[3]["spec"]["func"])

    def test_ctx_from_environment_and_flag(self):
        e = env(TASKPIPE_CODE_BUCKET="env-bucket", TASKPIPE_CODE_KEY="env.zip", TASKPIPE_ROLE_ARN="arn:r")
        rc, out = self.check([("p", {"pipeline": "p"})], ctx_file=None, environ=e)
        self.assertEqual(rc, 0)
        self.assertEqual(out[0]["spec"]["func"]["Code"], {"S3Bucket": "env-bucket", "S3Key": "env.zip"})
        self.assertEqual(out[0]["spec"]["func"]["Role"], "arn:r")
        rc, out = self.check([("p", {"pipeline": "p"})], ctx_file=None, environ=e,
                             extra=["--ctx", '{"defaults":{"code_key":"flag.zip"}}'])
        self.assertEqual(out[0]["spec"]["func"]["Code"], {"S3Bucket": "env-bucket", "S3Key": "flag.zip"})

    # ---- the command itself ----------------------------------------------

    def test_bad_inputs_do_not_stop_the_rest(self):
        rc, out = self.check([("broken", "{not json"), ("ok", {"pipeline": "p"}), ("array", "[1]")])
        self.assertEqual(rc, 1)
        self.assertEqual([o["ok"] for o in out], [False, True, False])
        self.assertIn("not a JSON object", out[0]["error"])

    def test_policy_file_flag_and_errors(self):
        pol = os.path.join(self.dir, "my-policy.lua")
        with open(pol, "w") as f:
            f.write("return { pipeline = function(item, ctx) print('to the log', 1) tp.log('also')\n"
                    "  if item.pipeline == 'boom' then local x = nil; return x.y end\n"
                    "  return { name = item.pipeline, region = ctx.region }\nend }\n")
        rc, out = self.check([("a", {"pipeline": "a"}), ("boom", {"pipeline": "boom"})],
                             extra=["--policy", pol])
        self.assertEqual(rc, 1)
        self.assertEqual(out[0]["spec"], {"name": "a", "region": "us-east-1"})
        r = run_taskpipe(["policy", "check", "--policy", pol, os.path.join(POLICY_DIR, "items", "group-a.json")],
                         env(TASKPIPE_LOG_LEVEL="INFO"))
        self.assertEqual(len(r.stdout.splitlines()), 1)  # print goes to the log (stderr), never stdout
        logged = [json.loads(l)["message"] for l in r.stderr.splitlines()]
        self.assertEqual(logged, ["policy: to the log\t1", "policy: also"])
        self.assertEqual(out[1]["code"], "PolicyError")
        self.assertTrue(out[1]["error"].startswith(pol + ":2: attempt to index a nil value"), out[1]["error"])
        r = run_taskpipe(["policy", "show", "--policy", pol], env())
        self.assertEqual(r.returncode, 0, r.stderr)
        shown = json.loads(r.stdout)
        self.assertEqual(shown["origin"], pol)
        import hashlib
        with open(pol, "rb") as f:
            self.assertEqual(shown["sha256"], hashlib.sha256(f.read()).hexdigest())
        # TASKPIPE_POLICY works the same
        r = run_taskpipe(["policy", "show"], env(TASKPIPE_POLICY=pol))
        self.assertEqual(json.loads(r.stdout)["origin"], pol)
        # a policy that does not load: exit 2 with the file and line
        with open(pol, "w") as f:
            f.write("return {\n pipeline = function(\n")
        r = run_taskpipe(["policy", "check", "--policy", pol, os.path.join(POLICY_DIR, "items", "group-a.json")],
                         env())
        self.assertEqual(r.returncode, 2)
        self.assertIn(pol + ":3:", r.stderr)

    def test_show_builtin_and_help(self):
        r = run_taskpipe(["policy", "show"], env())
        self.assertEqual(r.returncode, 0, r.stderr)
        shown = json.loads(r.stdout)
        self.assertEqual(shown["origin"], "builtin:policy.lua")
        import hashlib
        with open(os.path.join(ROOT, "policies", "policy.lua"), "rb") as f:
            self.assertEqual(shown["sha256"], hashlib.sha256(f.read()).hexdigest())
        r = run_taskpipe(["policy", "--help"], env())
        self.assertEqual(r.returncode, 0)
        self.assertIn("taskpipe policy check", r.stdout)
        r = run_taskpipe(["policy", "check"], env())
        self.assertEqual(r.returncode, 2)
        r = run_taskpipe(["policy", "frobnicate"], env())
        self.assertEqual(r.returncode, 2)


# Attacks on the sandbox (issue 11): the pipeline function of a policy that
# is hostile only for the item "evil". name -> (Lua for "evil", error code,
# words the message must hold, extra environment).
ATTACKS = {
    "xpcall_handler_loop": ("xpcall(function() while true do end end, function() while true do end end)",
                            "PolicyInstructionLimit", ["hostile.lua:", "instruction limit"], {}),
    "gc_finalizer_loop": ("setmetatable({}, {__gc = function() while true do end end}) return {}",
                          "PolicyError", ["hostile.lua:3:", "__gc finalizers are not allowed"], {}),
    "find_backtracking": ("return { x = string.rep('a', 5e4):find('.-.-.-.-.-.-b') }",
                          "PolicyTimeLimit", ["hostile.lua", "wall-clock limit of 1000 ms"], {}),
    "table_move_2p50": ("table.move({}, 1, 2^50, 1, {}) return {}", "PolicyTimeLimit",
                        ["hostile.lua", "wall-clock limit of 400 ms"], {"TASKPIPE_POLICY_TIMEOUT_MS": "400"}),
    "sort_huge_strings": ("local s = string.rep('a', 1e6) local t = {} for i = 1, 3000 do t[i] = s end "
                          "table.sort(t) return {}", "PolicyTimeLimit", ["wall-clock limit"],
                          {"TASKPIPE_POLICY_TIMEOUT_MS": "400"}),
    "concat_loop": ("local s = string.rep('x', 1e6) for i = 1, 1e9 do s = s .. 'x' end", None, ["limit"],
                    {"TASKPIPE_POLICY_TIMEOUT_MS": "400"}),
    "gsub_passes": ("local s = string.rep('a', 4e6) for i = 1, 1e9 do s = s:gsub('a', 'a') end", None, ["limit"],
                    {"TASKPIPE_POLICY_TIMEOUT_MS": "400"}),
    "eq_large_strings": ("local a, b = string.rep('a', 8e6), string.rep('a', 8e6) local n = 0 "
                         "for i = 1, 1e9 do if a == b then n = n + 1 end end", None, ["limit"],
                         {"TASKPIPE_POLICY_TIMEOUT_MS": "400"}),
    "spec_repeats_1mib_1000x": ("local s = string.rep('x', 1 << 20) local t = {} for i = 1, 1000 do t[i] = s end "
                                "return { v = t }", "PolicyOutputLimit",
                                ["hostile.lua:1: pipeline returned spec.v[1]", "1048576 bytes"], {}),
    "spec_dag_2p40_leaves": ("local t = {'leaf'} for i = 1, 40 do t = {t, t} end return { v = t }",
                             "PolicyOutputLimit", ["hostile.lua:1:", "more than 10000 values"], {}),
    "tostring_key_error": ("return { [setmetatable({}, {__tostring = function() error('boom') end})] = 1 }",
                           "BadValue", ["hostile.lua:1:", "a table key is not a string"], {}),
    "memory_bomb": ("local t = {} for i = 1, 1e9 do t[i] = string.rep('x', 100000) .. i end", "PolicyMemoryLimit",
                    ["hostile.lua:3:", "memory limit"], {"TASKPIPE_POLICY_TIMEOUT_MS": "20000"}),
    "ns_text_injection": ("local n = tp.number('5') n.text = '5,\"evil\":1' return { s = tp.set('NS', {n}) }",
                          "BadValue", ["spec.s[1]: number object without valid `text`"], {}),
    "tp_number_plus": ("return { n = tp.number('+5') }", "PolicyError", ["hostile.lua:3:", "not a DynamoDB number"],
                       {}),
    "nul_in_env_key": ("return { env = { ['A\\0B'] = 'x' } }", "BadValue", ["a key holds a NUL byte"], {}),
    "log_flood": ("local s = string.rep('x', 1 << 20) for i = 1, 4000 do print(s, s) tp.log(s) end "
                  "error('flooded')", "PolicyError", ["hostile.lua:3: flooded"], {"TASKPIPE_LOG_LEVEL": "info"}),
}


def run_measured(args, environ, timeout=60):
    """Run taskpipe; returns (CompletedProcess, wall seconds, peak RSS in KiB
    of the process and of its policy worker, from wait4)."""
    import subprocess
    import threading
    import time
    out, err = tempfile.TemporaryFile("w+"), tempfile.TemporaryFile("w+")
    t0 = time.monotonic()
    p = subprocess.Popen([TASKPIPE] + list(args), env=environ, stdout=out, stderr=err, text=True)
    timer = threading.Timer(timeout, p.kill)
    timer.start()
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    timer.cancel()
    p.returncode = os.waitstatus_to_exitcode(status)
    if wall >= timeout:
        raise AssertionError("taskpipe %s did not end within %ss" % (" ".join(args), timeout))
    out.seek(0)
    err.seek(0)
    r = subprocess.CompletedProcess(args, p.returncode, out.read(), err.read())
    out.close()
    err.close()
    return r, wall, ru.ru_maxrss


# A time limit's upper bound is a hang guard, not a measure: an attack no
# limit stops runs for minutes (1e9 loops, 2^50 moves), so its limit + 20 s
# tells the two apart on any loaded machine. The lower bound is the worker's
# soft deadline (it stops Lua at 90% of the limit).
HANG_MARGIN_S = 20
SOFT_DEADLINE = 0.85


class PolicySandbox(unittest.TestCase):
    """Each attack fails its own item by name (code, file:line where there is
    one; the code names the limit that stopped it) and the good item beside
    it gets its spec. Time is checked only against the time limit itself."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="tp-sandbox-")

    def tearDown(self):
        shutil.rmtree(self.dir)

    def test_attacks_are_contained(self):
        evil, good = os.path.join(self.dir, "evil.json"), os.path.join(self.dir, "good.json")
        with open(evil, "w") as f:
            json.dump({"pipeline": {"S": "evil"}}, f)
        with open(good, "w") as f:
            json.dump({"pipeline": {"S": "good"}}, f)
        rows = []
        for name, (body, code, words, extra) in ATTACKS.items():
            with self.subTest(attack=name):
                pol = os.path.join(self.dir, "hostile.lua")
                with open(pol, "w") as f:
                    f.write("return { pipeline = function(item, ctx)\n"
                            "  if item.pipeline ~= 'evil' then return { ok = true } end\n"
                            "  %s\nend }\n" % body)
                r, wall, rss = run_measured(["policy", "check", "--policy", pol, evil, good], env(**extra))
                lines = [json.loads(l) for l in r.stdout.splitlines() if l.strip()]
                self.assertEqual(len(lines), 2, r.stdout + r.stderr[-2000:])
                bad, ok = lines
                rows.append((name, wall * 1000, rss, bad.get("code"), bad.get("error", "").replace(pol, "hostile.lua")[:90]))
                self.assertEqual(r.returncode, 1)
                self.assertFalse(bad["ok"], bad)
                if code:
                    self.assertEqual(bad["code"], code, bad)
                else:
                    self.assertIn(bad["code"], ("PolicyTimeLimit", "PolicyMemoryLimit",
                                                "PolicyInstructionLimit"), bad)
                for w in words:
                    self.assertIn(w, bad["error"])
                self.assertEqual(ok, {"file": good, "ok": True, "spec": {"ok": True}})
                limit = int(extra.get("TASKPIPE_POLICY_TIMEOUT_MS", "1000")) / 1000.0
                if bad["code"] == "PolicyTimeLimit":
                    self.assertGreaterEqual(wall, SOFT_DEADLINE * limit, name)
                self.assertLess(wall, limit + HANG_MARGIN_S, name)
                if name == "log_flood":
                    # 12,000 lines of 1-2 MiB: cut at 2000 bytes each, 64 KiB per call
                    self.assertLess(len(r.stderr), 128 * 1024)
                    self.assertIn("line cut at 2000 bytes", r.stderr)
                    self.assertIn("further log lines of this call dropped", r.stderr)
        print("\n%-26s %9s %12s  %s" % ("attack", "wall ms", "max RSS KiB", "error"))
        for row in rows:
            print("%-26s %9.1f %12d  %s: %s" % row)

    def test_nul_in_item_or_ctx_is_refused(self):
        rc, out = self._check_raw('{"pipeline":{"S":"a\\u0000b"}}')
        self.assertEqual(out["code"], "BadItem")
        self.assertIn("a string holds a NUL character", out["error"])
        rc, out = self._check_raw('{"pipeline":"a","env":{"K":"x\\u0000y"}}')
        self.assertIn("NUL", out["error"])
        # an escaped backslash followed by u0000 is text, not a NUL
        rc, out = self._check_raw('{"pipeline":"a","env":{"K":"x\\\\u0000y"}}')
        self.assertNotIn("NUL", out.get("error", ""))

    def _check_raw(self, text):
        p = os.path.join(self.dir, "item.json")
        with open(p, "w") as f:
            f.write(text)
        r = run_taskpipe(["policy", "check", "--ctx", "@" + CTX_FILE, p], env())
        return r.returncode, json.loads(r.stdout.splitlines()[0])

    def test_load_time_hang_fails_the_load(self):
        pol = os.path.join(self.dir, "loadhang.lua")
        with open(pol, "w") as f:
            f.write("local x = string.rep('a', 5e4):find('.-.-.-.-.-.-b')\n"
                    "return { pipeline = function() return {} end }\n")
        r, wall, _ = run_measured(["policy", "check", "--policy", pol, os.path.join(POLICY_DIR, "items",
                                                                                "group-a.json")], env())
        self.assertEqual(r.returncode, 2)
        self.assertIn("PolicyTimeLimit", r.stderr)
        self.assertIn("loadhang.lua", r.stderr)
        self.assertGreaterEqual(wall, SOFT_DEADLINE * 1.0)     # the 1 s default limit
        self.assertLess(wall, 1.0 + HANG_MARGIN_S)             # a hang guard only


if __name__ == "__main__":
    unittest.main()
