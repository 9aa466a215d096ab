"""taskpipe as a Lambda custom runtime, end to end: the real binary run as
`bootstrap` against the Runtime API emulator (runtime_emulator.py), fed with
records read from moto's DynamoDB stream with boto3 GetRecords (an event
source mapping would make moto consume the stream itself), AWS calls
counted by the FaultProxy in front of moto, results checked with boto3."""
import io
import itertools
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import TASKPIPE, Moto, run_taskpipe  # noqa: E402
from awsproxy import FaultProxy, _Handler  # noqa: E402
from runtime_emulator import RuntimeEmulator, stream_records  # noqa: E402

_seq = itertools.count()


def code_zip():
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w") as z:
        z.writestr("bootstrap", "#!/bin/sh\necho consumer\n")
    return b.getvalue()


class Env:
    """One taskpipe instance: own prefix and tables, shared code bucket."""

    def __init__(self, moto, tag):
        n = next(_seq)
        self.moto = moto
        self.prefix = "%s%d-" % (tag[:5], os.getpid() % 1000 + n * 1000)
        self.config = self.prefix + "config"
        self.env = moto.env(TASKPIPE_CODE_BUCKET="code", TASKPIPE_CODE_KEY="consumer.zip",
                            TASKPIPE_ROLE_ARN=moto.role_arn(), TASKPIPE_PREFIX=self.prefix,
                            TASKPIPE_CONFIG_TABLE=self.config, TASKPIPE_STATE_TABLE=self.prefix + "state")
        r = run_taskpipe(["init"], self.env)
        assert r.returncode == 0, r.stderr
        self.s3, self.sqs = moto.client("s3"), moto.client("sqs")
        self.lam, self.ddb = moto.client("lambda"), moto.client("dynamodb")
        self.streams = moto.client("dynamodbstreams")
        try:
            self.s3.head_object(Bucket="code", Key="consumer.zip")
        except Exception:
            self.s3.put_object(Bucket="code", Key="consumer.zip", Body=code_zip())
        self.arn = self.ddb.describe_table(TableName=self.config)["Table"]["LatestStreamArn"]
        self.after = None     # last sequence number handed out by records()

    def put(self, name, **fields):
        item = {"pipeline": {"S": name}}
        for k, v in fields.items():
            item[k] = {"N": str(v)}
        self.ddb.put_item(TableName=self.config, Item=item)

    def delete(self, name):
        self.ddb.delete_item(TableName=self.config, Key={"pipeline": {"S": name}})

    def records(self):
        """Stream records written since the last call, as Lambda delivers them."""
        out, self.after = stream_records(self.streams, self.arn, self.after)
        return out

    def fn(self, name):
        try:
            return self.lam.get_function(FunctionName=self.prefix + name)["Configuration"]
        except self.lam.exceptions.ResourceNotFoundException:
            return None

    def queue(self, name):
        try:
            return self.sqs.get_queue_url(QueueName=self.prefix + name)["QueueUrl"]
        except self.sqs.exceptions.QueueDoesNotExist:
            return None

    def mappings(self, name):
        arn = "arn:aws:lambda:us-east-1:123456789012:function:" + self.prefix + name
        return [m for m in self.lam.list_event_source_mappings()["EventSourceMappings"]
                if m["FunctionArn"] == arn]


class Bootstrap:
    """The static binary as `bootstrap` (a symlink of that name), with its own emulator."""

    def __init__(self, env, endpoint=None, extra=None):
        self.emu = RuntimeEmulator().start()
        self.dir = tempfile.mkdtemp(prefix="tp-bootstrap-")
        self.path = os.path.join(self.dir, "bootstrap")
        os.symlink(os.path.abspath(TASKPIPE), self.path)
        e = dict(env.env)
        if endpoint:
            e["AWS_ENDPOINT_URL"] = endpoint
        e["AWS_LAMBDA_RUNTIME_API"] = self.emu.address
        e["AWS_LAMBDA_LOG_FORMAT"] = "JSON"
        e.update(extra or {})
        self.log = open(os.path.join(self.dir, "stderr.log"), "w+")
        self.proc = subprocess.Popen([self.path], env=e, stdout=subprocess.DEVNULL, stderr=self.log)

    def invoke(self, event, timeout_ms=120000, wait=300):
        rid = self.emu.enqueue(event, timeout_ms=timeout_ms)
        return self.emu.wait_result(rid, wait)

    def stderr(self):
        self.log.flush()
        with open(self.log.name) as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.emu.stop()
        self.log.close()


def failures(res):
    assert res["kind"] == "response", res
    return [f["itemIdentifier"] for f in res["body"]["batchItemFailures"]]


class _TraceHandler(_Handler):
    def _forward(self, body, replace=None):
        self.proxy.seen.append((self.path, self.headers.get("X-Amzn-Trace-Id"),
                                self.headers.get("Authorization", "")))
        return super()._forward(body, replace)


class TraceRecorder(FaultProxy):
    """The counting proxy, keeping each request's X-Amzn-Trace-Id and Authorization."""
    handler_class = _TraceHandler

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.seen = []


class TraceIdTest(unittest.TestCase):
    """Lambda's recursive loop detection follows X-Amzn-Trace-Id through the
    AWS calls a function makes: every call made while handling an invocation
    carries that invocation's Lambda-Runtime-Trace-Id, unsigned (as botocore
    sends it), and nothing outside Lambda sends one."""

    def test_every_call_of_an_invocation_carries_its_trace_id(self):
        moto = Moto.shared()
        env = Env(moto, "trc")
        proxy = TraceRecorder(moto.endpoint).start()
        b = Bootstrap(env, endpoint=proxy.endpoint,
                      extra={"AWS_LAMBDA_FUNCTION_NAME": env.prefix + "controller"})
        try:
            for n, trace in enumerate(["Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1",
                                       "Root=1-67891233-abcdef012345678912345678;Parent=53995c3f42cd8ad8;Sampled=0"]):
                env.put("t%d" % n, timeout=20)
                recs = env.records()
                proxy.seen.clear()
                rid = b.emu.enqueue({"Records": recs}, trace_id=trace)
                res = b.emu.wait_result(rid, 300)
                self.assertEqual(failures(res), [], b.stderr())
                self.assertIsNotNone(env.fn("t%d" % n))
                self.assertGreater(len(proxy.seen), 5)
                for path, got, auth in proxy.seen:
                    self.assertEqual(got, trace, path)
                    self.assertNotIn("x-amzn-trace-id", auth.lower(), path)
        finally:
            b.stop()
        # A CLI run is not inside Lambda: no header, even with the variable set.
        proxy.seen.clear()
        e = dict(env.env, AWS_ENDPOINT_URL=proxy.endpoint, _X_AMZN_TRACE_ID="Root=1-x")
        r = run_taskpipe(["apply", "--all"], e)
        proxy.stop()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(proxy.seen)
        self.assertEqual({got for _, got, _ in proxy.seen}, {None})


class BootstrapTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.moto = Moto.shared()

    def setUp(self):
        self.procs = []

    def tearDown(self):
        for p in self.procs:
            p.stop()

    def bootstrap(self, env, **kw):
        b = Bootstrap(env, **kw)
        self.procs.append(b)
        return b

    def test_create_change_delete(self):
        env = Env(self.moto, "ccd")
        b = self.bootstrap(env)
        env.put("a", concurrency=2, timeout=30)
        env.put("b", concurrency=3)
        res = b.invoke({"Records": env.records()})
        self.assertEqual(failures(res), [], b.stderr())
        self.assertEqual(env.fn("a")["Timeout"], 30)
        self.assertIsNotNone(env.queue("b"))
        self.assertIsNotNone(env.queue("b-dlq"))
        self.assertEqual(len(env.mappings("b")), 1)
        self.assertEqual(env.mappings("b")[0]["ScalingConfig"]["MaximumConcurrency"], 3)

        env.put("a", concurrency=2, timeout=45)
        env.delete("b")
        res = b.invoke({"Records": env.records()})
        self.assertEqual(failures(res), [], b.stderr())
        self.assertEqual(env.fn("a")["Timeout"], 45)
        self.assertIsNone(env.fn("b"))
        self.assertIsNone(env.queue("b"))
        self.assertEqual(env.mappings("b"), [])
        # Log lines are JSON and carry the request id.
        lines = [json.loads(line) for line in b.stderr().splitlines() if line.startswith("{")]
        self.assertTrue(any(line.get("requestId") or line.get("request_id") for line in lines), lines[:3])

    def test_replays_and_reordering_converge_without_extra_mutations(self):
        env = Env(self.moto, "rep")
        proxy = FaultProxy(self.moto.endpoint).start()
        self.addCleanup(proxy.stop)
        b = self.bootstrap(env, endpoint=proxy.endpoint)
        env.put("r1", timeout=20)
        env.put("r2", concurrency=4)
        env.put("r1", timeout=25)
        env.delete("r2")
        env.put("r3")
        recs = env.records()
        self.assertGreaterEqual(len(recs), 5)
        self.assertEqual(failures(b.invoke({"Records": recs})), [], b.stderr())
        self.assertEqual(env.fn("r1")["Timeout"], 25)
        self.assertIsNone(env.fn("r2"))
        self.assertIsNone(env.queue("r2"))
        self.assertIsNotNone(env.fn("r3"))
        first = proxy.mutating_counts()
        self.assertTrue(any(k.startswith("lambda:") for k in first), first)
        proxy.reset()
        for batch in [recs] * 4 + [list(reversed(recs)), recs[2:] + recs[:2]]:
            self.assertEqual(failures(b.invoke({"Records": batch})), [], b.stderr())
        extra = {k: v for k, v in proxy.mutating_counts().items() if not k.startswith("dynamodb:")}
        self.assertEqual(extra, {}, "mutating SQS/Lambda calls on replays")
        self.assertEqual(env.fn("r1")["Timeout"], 25)
        self.assertIsNone(env.fn("r2"))
        self.assertIsNotNone(env.queue("r3"))

    def test_poison_record_fails_alone(self):
        env = Env(self.moto, "poi")
        b = self.bootstrap(env)
        env.put("g1")
        env.put("bad", concurrency=0)
        env.put("g2", concurrency=5)
        env.put("bad", concurrency=0, timeout=10)
        recs = env.records()
        bad = [r["dynamodb"]["SequenceNumber"] for r in recs
               if r["dynamodb"]["Keys"]["pipeline"]["S"] == "bad"]
        self.assertEqual(len(bad), 2)
        res = b.invoke({"Records": recs})
        self.assertEqual(sorted(failures(res)), sorted(bad), b.stderr())
        self.assertIsNotNone(env.fn("g1"))
        self.assertEqual(env.mappings("g2")[0]["ScalingConfig"]["MaximumConcurrency"], 5)
        self.assertIsNone(env.fn("bad"))
        self.assertIsNone(env.queue("bad"))
        # A record without a usable key fails alone, with a logged reason.
        broken = json.loads(json.dumps(recs[0]))
        broken["dynamodb"]["Keys"] = {"other": {"S": "x"}}
        broken["dynamodb"]["SequenceNumber"] = "999"
        res = b.invoke({"Records": [recs[0], broken]})
        self.assertEqual(failures(res), ["999"])
        self.assertIn("no string key", b.stderr())

    def test_hostile_key_gives_parseable_log_lines(self):
        """A pipeline key holding a quote, a backslash and a newline is
        refused as a name, and every JSON log line still parses and names it."""
        env = Env(self.moto, "hos")
        b = self.bootstrap(env)
        key = 'a"b\\c\nd'
        env.put(key)
        recs = env.records()
        res = b.invoke({"Records": recs})
        self.assertEqual(failures(res), [r["dynamodb"]["SequenceNumber"] for r in recs])
        lines = [ln for ln in b.stderr().splitlines() if ln.strip()]
        docs = [json.loads(ln) for ln in lines]
        self.assertIn(key, [d.get("pipeline") for d in docs], lines)

    def test_scheduled_repair_has_a_deadline_and_its_own_holder(self):
        """The EventBridge-scheduled drift repair runs within the
        invocation's deadline and under the invocation's own lease holder:
        its leases name the request, last at most the time left + 10 s
        (not 15 minutes), and are released when it ends."""
        env = Env(self.moto, "sch")
        env.put("s1")
        env.put("s2")
        r = run_taskpipe(["apply", "--all"], env.env)
        self.assertEqual(r.returncode, 0, r.stderr)
        for n in ("s1", "s2"):
            env.lam.update_function_configuration(FunctionName=env.prefix + n, MemorySize=256)
        with FaultProxy(self.moto.endpoint) as proxy:
            proxy.add_rule({"match": {"operation": "UpdateFunctionConfiguration"}, "times": -1,
                            "action": {"delay": 2.0}})
            b = self.bootstrap(env, endpoint=proxy.endpoint)
            seen, done = {}, threading.Event()

            def poll():
                while not done.is_set():
                    for it in env.ddb.scan(TableName=env.prefix + "state")["Items"]:
                        if it["pk"]["S"].startswith("lease#") and "holder" in it:
                            seen[(it["pk"]["S"], it["holder"]["S"])] = (
                                int(it["expires_at"]["N"]), time.time())
                    time.sleep(0.05)
            t = threading.Thread(target=poll, daemon=True)
            t.start()
            res = b.invoke({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}},
                           timeout_ms=20000)
            done.set()
            t.join(5)
        self.assertEqual(res["kind"], "response", res)
        fixes = {p["pipeline"]: p.get("fix", {}).get("status") for p in res["body"]["drift"]["pipelines"]}
        self.assertEqual(fixes, {"s1": "fixed", "s2": "fixed"}, res["body"]["drift"])
        self.assertEqual({k[0] for k in seen}, {"lease#s1", "lease#s2"}, seen)
        for (pk, holder), (exp, at) in seen.items():
            self.assertNotEqual(holder, "taskpipe")
            self.assertIn(":lambda", holder)
            # the deadline the emulator announced + 10 s (+1: whole seconds)
            end = res["deadline_ms"] / 1000.0
            self.assertLessEqual(exp, end + 10 + 1, "%s lasts %d s past the deadline" % (pk, exp - end))
        # Released at the end: nobody holds them.
        for n in ("s1", "s2"):
            it = env.ddb.get_item(TableName=env.prefix + "state", Key={"pk": {"S": "lease#" + n}})["Item"]
            self.assertNotIn("holder", it)
        self.assertEqual(env.fn("s1")["MemorySize"], 128)

    def test_direct_invoke_and_unrecognized(self):
        env = Env(self.moto, "dir")
        b = self.bootstrap(env)
        env.put("d1", timeout=12)
        res = b.invoke({"taskpipe": "plan", "pipelines": ["d1"]})
        self.assertEqual(res["kind"], "response")
        self.assertEqual(res["body"]["pipelines"][0]["action"], "create")
        self.assertIsNone(env.fn("d1"))
        res = b.invoke({"taskpipe": "apply", "pipelines": ["d1"]})
        self.assertEqual(res["body"]["pipelines"][0]["status"], "ok", res)
        self.assertEqual(env.fn("d1")["Timeout"], 12)
        res = b.invoke({"taskpipe": "apply-all"})
        self.assertEqual([p["pipeline"] for p in res["body"]["pipelines"]], ["d1"])
        self.assertEqual(res["body"]["errors"], 0)
        res = b.invoke({"hello": 1, "world": [2]})
        self.assertEqual(res["kind"], "error")
        self.assertEqual(res["body"]["errorType"], "UnrecognizedEvent")
        self.assertIn("hello, world", res["body"]["errorMessage"])
        self.assertEqual(res["headers"].get("lambda-runtime-function-error-type"), "UnrecognizedEvent")
        # SNS-wrapped S3 ObjectCreated: handed to the rollout, whose outcome is
        # the answer (here the object does not exist: reported, not retried).
        s3msg = {"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
                              "s3": {"bucket": {"name": "code"},
                                     "object": {"key": "consumer+v2.zip", "versionId": "v2"}}}]}
        res = b.invoke({"Records": [{"EventSource": "aws:sns", "Sns": {"Message": json.dumps(s3msg)}}]})
        self.assertEqual(res["kind"], "response", res)
        self.assertEqual(res["body"]["code_changes"], 1, res)
        outcome = res["body"]["rollouts"][0]
        self.assertTrue(outcome["rollout"].startswith("s3://code/consumer v2.zip"), outcome)
        self.assertEqual(outcome["error"]["code"], "NoSuchKey", outcome)
        self.assertIn("s3://code/consumer v2.zip#v2", outcome["error"]["message"])
        # The trace header reaches the environment; the deadline is honoured:
        # an event arriving inside the reserve is not started, only reported.
        env.put("late")
        recs = env.records()
        res = b.invoke({"Records": recs}, timeout_ms=1000)
        self.assertEqual(failures(res), [r["dynamodb"]["SequenceNumber"] for r in recs])
        self.assertIsNone(env.fn("late"))
        self.assertIn("DeadlineNear", b.stderr())
        res = b.invoke({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}})
        self.assertEqual(res["kind"], "response", res)
        self.assertIsNotNone(env.fn("late"))

    def test_broken_policy_posts_init_error(self):
        env = Env(self.moto, "ini")
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
            f.write("return { pipeline = function(item, ctx) return {  end }\n")
        self.addCleanup(os.unlink, f.name)
        b = self.bootstrap(env, extra={"TASKPIPE_POLICY": f.name})
        err = b.emu.wait_init_error()
        self.assertNotEqual(b.proc.wait(30), 0)
        self.assertIn("errorType", err["body"])
        self.assertIn("Policy", err["body"]["errorType"])
        self.assertIn(os.path.basename(f.name), err["body"]["errorMessage"])
        self.assertEqual(err["headers"].get("lambda-runtime-function-error-type"), err["body"]["errorType"])
        self.assertEqual(b.emu.next_times, [])

    def test_s3_keys_that_do_not_decode_are_refused_alone(self):
        """An S3 record whose key holds %00 or a '%' without two hex digits is
        refused by name (BadRecord); the good record in the same message
        still goes to the rollout."""
        env = Env(self.moto, "s3k")
        b = self.bootstrap(env)
        keys = ["bad%00key.zip", "bad%zzkey.zip", "bad%4", "consumer+v3.zip"]
        recs = [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
                 "s3": {"bucket": {"name": "code"}, "object": {"key": k, "versionId": "v1"}}} for k in keys]
        res = b.invoke({"Records": [{"EventSource": "aws:sns", "Sns": {"Message": json.dumps({"Records": recs})}}]})
        self.assertEqual(res["kind"], "response", res)
        outs = res["body"]["rollouts"]
        self.assertEqual(len(outs), 4, outs)
        for k, o in zip(keys[:3], outs[:3]):
            self.assertEqual(o["rollout"], "s3://code/" + k, o)
            self.assertEqual(o["error"]["code"], "BadRecord", o)
        self.assertIn("%00 (a NUL byte)", outs[0]["error"]["message"])
        self.assertIn("not followed by two hex digits", outs[1]["error"]["message"])
        self.assertIn("not followed by two hex digits", outs[2]["error"]["message"])
        # the good one was decoded and handed on (the object does not exist)
        self.assertTrue(outs[3]["rollout"].startswith("s3://code/consumer v3.zip"), outs[3])
        self.assertEqual(outs[3]["error"]["code"], "NoSuchKey", outs[3])
        self.assertIn("record refused", b.stderr())

    def hostile_policy(self):
        """A policy that hangs in C (string.find backtracking, >30 s) for the
        item "evil" and returns a good spec for any other."""
        with open(os.path.join(os.path.dirname(__file__), "..", "..", "policies", "policy.lua")) as f:
            default = f.read()
        with tempfile.NamedTemporaryFile("w", suffix="_hostile.lua", delete=False) as f:
            f.write("local default = (function()\n%s\nend)()\n"
                    "return { rollout = default.rollout, pipeline = function(item, ctx)\n"
                    "  if item.pipeline == 'evil' then\n"
                    "    return { x = string.rep('a', 5e4):find('.-.-.-.-.-.-b') }\n"
                    "  end\n  return default.pipeline(item, ctx)\nend }\n" % default)
        self.addCleanup(os.unlink, f.name)
        return f.name

    def assert_before_deadline(self, res, b):
        """The emulator (the server) received the answer before the deadline it
        announced: the behaviour under test, judged on the server's clock."""
        self.assertLess(res["time"] * 1000, res["deadline_ms"], b.stderr())

    def test_hostile_policy_answers_before_the_deadline(self):
        """A hostile item in a stream batch: the runtime answers before the
        invocation's deadline, the hostile record fails alone and the good
        pipeline beside it is created; with a per-call limit longer than the
        invocation, the invocation's deadline still stops the call."""
        env = Env(self.moto, "hos")
        pol = self.hostile_policy()
        b = self.bootstrap(env, extra={"TASKPIPE_POLICY": pol, "TASKPIPE_DEADLINE_RESERVE_MS": "500"})
        env.put("good")
        env.put("evil")
        recs = env.records()
        evil = [r["dynamodb"]["SequenceNumber"] for r in recs if r["dynamodb"]["Keys"]["pipeline"]["S"] == "evil"]
        res = b.invoke({"Records": recs}, timeout_ms=8000)
        took = res["time"] - res["delivered"]
        print("\nhostile item, 1 s policy limit, 8 s invocation: answered after %.2f s" % took)
        self.assert_before_deadline(res, b)
        self.assertEqual(failures(res), evil, b.stderr())
        self.assertIsNotNone(env.fn("good"))
        self.assertIsNone(env.fn("evil"))
        self.assertIn("PolicyTimeLimit", b.stderr())

        # a per-call limit of 10 minutes: the invocation's 4 s deadline wins
        # (a 2 s reserve: the margin the answer has to arrive in)
        b2 = self.bootstrap(env, extra={"TASKPIPE_POLICY": pol, "TASKPIPE_DEADLINE_RESERVE_MS": "2000",
                                        "TASKPIPE_POLICY_TIMEOUT_MS": "600000"})
        env.put("evil", concurrency=2)
        recs = env.records()
        res = b2.invoke({"Records": recs}, timeout_ms=4000)
        took = res["time"] - res["delivered"]
        print("hostile item, 600 s policy limit, 4 s invocation: answered after %.2f s" % took)
        self.assert_before_deadline(res, b2)
        self.assertEqual(failures(res), [r["dynamodb"]["SequenceNumber"] for r in recs])
        self.assertIn("wall-clock limit", b2.stderr())
        self.assertIsNone(env.fn("evil"))
        # the runtime lives on and serves the next invocation
        res = b2.invoke({"taskpipe": "plan", "pipelines": ["good"]}, timeout_ms=30000)
        self.assertEqual(res["kind"], "response", res)

    def converge(self, cli_apply_all):
        """Two runtimes get the same 100-pipeline batch (one reversed) while a
        third party applies all: through the CLI (`taskpipe apply --all`) or as
        a direct invoke {"taskpipe":"apply-all"} of a third runtime. Losers
        of a lease report failures to retry; rerun until none is left."""
        env = Env(self.moto, "con")
        names = ["c%03d" % i for i in range(100)]
        for i, n in enumerate(names):
            env.put(n, concurrency=2 + i % 3)
        recs = env.records()
        b1, b2, b3 = self.bootstrap(env), self.bootstrap(env), self.bootstrap(env)
        out = {"errors": []}

        def runtime(key, b, batch):
            rounds = []
            while batch and len(rounds) < 30:
                res = b.invoke({"Records": batch})
                failed = set(failures(res))
                rounds.append(len(failed))
                batch = [r for r in batch if r["dynamodb"]["SequenceNumber"] in failed]
            out[key] = rounds
            out["errors"].append(b.stderr())

        def apply_all():
            rounds = []
            for _ in range(30):
                if cli_apply_all:
                    r = run_taskpipe(["apply", "--all", "--json"], env.env, timeout=900)
                    out["errors"].append(r.stdout + r.stderr)
                    ok = r.returncode == 0
                else:
                    res = b3.invoke({"taskpipe": "apply-all"})
                    out["errors"].append(json.dumps(res["body"]))
                    ok = res["kind"] == "response" and res["body"]["errors"] == 0
                rounds.append(ok)
                if ok:
                    break
            out["apply"] = rounds

        threads = [threading.Thread(target=runtime, args=("b1", b1, recs)),
                   threading.Thread(target=runtime, args=("b2", b2, list(reversed(recs)))),
                   threading.Thread(target=apply_all)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(1200)
        # Every pipeline exactly once: function, queue and DLQ, one mapping.
        fns = [f["FunctionName"] for f in env.lam.list_functions()["Functions"]
               if f["FunctionName"].startswith(env.prefix)]
        self.assertEqual(sorted(fns), sorted(env.prefix + n for n in names))
        qs = env.sqs.list_queues(QueueNamePrefix=env.prefix).get("QueueUrls", [])
        self.assertEqual(len(qs), 200)
        maps = [m for m in env.lam.list_event_source_mappings()["EventSourceMappings"]
                if m["FunctionArn"].split(":")[-1].startswith(env.prefix)]
        self.assertEqual(len(maps), 100, "duplicate or missing event source mappings")
        self.assertEqual(len({m["FunctionArn"] for m in maps}), 100)
        for i, n in enumerate(names[:10]):
            self.assertEqual(env.mappings(n)[0]["ScalingConfig"]["MaximumConcurrency"], 2 + i % 3)
        self.assertEqual(out["b1"][-1], 0, out["b1"])
        self.assertEqual(out["b2"][-1], 0, out["b2"])
        self.assertTrue(out["apply"][-1], out["apply"])
        # Losers saw leases held, never a Lambda conflict.
        text = "".join(out["errors"])
        self.assertIn("LeaseHeld", text)
        self.assertEqual(text.count("ResourceConflictException"), 0, "ResourceConflictException surfaced")

    def test_two_runtimes_and_direct_apply_all_converge(self):
        self.converge(cli_apply_all=False)

    def test_two_runtimes_and_cli_apply_all_converge(self):
        # Needs the leases inside reconcile_run (lead's integration; see report).
        self.converge(cli_apply_all=True)

if __name__ == "__main__":
    unittest.main()
