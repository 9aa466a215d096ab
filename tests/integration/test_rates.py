"""Rates (item fields rate and duration), the policy and reconcile side:
what the default policy derives, how apply creates, updates and removes the
consumer layer and the TASKPIPE_* variables, drift of Layers, and the bad
items, each with its message and never in the way of the others.

taskpipe talks to the AWS-faithful layer (awsmodel.py: function states,
updates in progress, the 15/s Lambda budget, no Layers member on a function
without layers); every check reads moto directly with boto3. The consumer
layer is a real layer version in moto (PublishLayerVersion), because moto,
like AWS, refuses a function whose layer version does not exist. moto here is
the one test_drift uses: its default Lambda backend, which the Tagging API
that drift reads can see, and which finds published layer versions (the
docker-less backend of the shared harness answers ResourceNotFoundException
for them)."""
import io
import json
import os
import sys
import tempfile
import unittest
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import run_taskpipe  # noqa: E402
from awsmodel import AwsModel  # noqa: E402
from test_drift import Env, by_name, drift_set, shared_moto  # noqa: E402

SCALE = 0.02

# The write-up's groups as rates: 2/s, 1/s and 2/s, with how long a task takes.
WRITEUP = [{"pipeline": "A", "rate": 2, "duration": 1},
           {"pipeline": "B", "rate": 1, "duration": 0.5},
           {"pipeline": "C", "rate": 2, "duration": 3}]
# max(2, ceil(rate x duration x 1.25)); the deadline reserve ceil(duration x
# 1.25 s) + 1 s; the batch size min(10, floor(timeout x rate / (2 x concurrency)))
DERIVED = {"A": 3, "B": 2, "C": 8}
RESERVE = {"A": "2250", "B": "1625", "C": "4750"}
BATCH = {"A": 10, "B": 7, "C": 3}


def layer_zip():
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w") as z:
        z.writestr("bootstrap", "#!/bin/sh\nexec /opt/taskpipe consume \"$LAMBDA_TASK_ROOT/$_HANDLER\"\n")
    return b.getvalue()


class Rates(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.moto = shared_moto()
        cls.aws = AwsModel(cls.moto.endpoint, scale=SCALE, list_lag_s=0).start()
        lam = cls.moto.client("lambda")
        cls.layer = [lam.publish_layer_version(LayerName="taskpipe-consumer", Content={"ZipFile": layer_zip()},
                                               CompatibleArchitectures=["x86_64"])["LayerVersionArn"]
                     for _ in range(2)]
        cls.layer_arm64 = lam.publish_layer_version(LayerName="taskpipe-consumer-arm64",
                                                    Content={"ZipFile": layer_zip()},
                                                    CompatibleArchitectures=["arm64"])["LayerVersionArn"]

    @classmethod
    def tearDownClass(cls):
        cls.aws.stop()

    def env(self, tag, layer=0):
        e = Env(self.moto, tag)
        e.env["AWS_ENDPOINT_URL"] = self.aws.endpoint
        if layer is not None:
            e.env["TASKPIPE_CONSUMER_LAYER"] = self.layer[layer]
        return e

    def apply(self, e, expect=0):
        r = e.run("apply", "--all", "--json")
        self.assertEqual(r.returncode, expect, r.stderr + r.stdout[-3000:])
        doc = json.loads(r.stdout)
        return {p["pipeline"]: p for p in doc["pipelines"]}, doc

    def config(self, e, name):
        return e.lam.get_function(FunctionName=e.prefix + name)

    def mapping(self, e, name):
        ms = e.mappings(e.prefix + name)
        self.assertEqual(len(ms), 1, ms)
        return ms[0]

    def layers(self, e, name):
        return [x["Arn"] for x in self.config(e, name)["Configuration"].get("Layers") or []]

    def variables(self, e, name):
        return self.config(e, name)["Configuration"].get("Environment", {}).get("Variables", {})

    def test_writeup_rates_converge(self):
        e = self.env("rw")
        e.put(*WRITEUP)
        res, _ = self.apply(e)
        self.assertEqual({k: v["status"] for k, v in res.items()}, {"A": "ok", "B": "ok", "C": "ok"})
        for name, rate in (("A", "2"), ("B", "1"), ("C", "2")):
            fn = self.config(e, name)
            cfg = fn["Configuration"]
            self.assertEqual(cfg["Environment"]["Variables"],
                             {"TASKPIPE_RATE": rate, "TASKPIPE_CONCURRENCY": str(DERIVED[name]),
                              "TASKPIPE_BURST": "1", "TASKPIPE_DEADLINE_RESERVE_MS": RESERVE[name],
                              "TASKPIPE_RATE_TABLE": e.env["TASKPIPE_STATE_TABLE"]})
            self.assertEqual(self.mapping(e, name)["BatchSize"], BATCH[name])
            self.assertEqual(self.layers(e, name), [self.layer[0]])
            self.assertEqual(cfg["Handler"], "handler")
            self.assertEqual(self.mapping(e, name)["ScalingConfig"], {"MaximumConcurrency": DERIVED[name]})
            # B's 1/s needs no reserved concurrency 1 (and none of its DLQ risk)
            self.assertNotIn("ReservedConcurrentExecutions", fn.get("Concurrency", {}))
        self.assertEqual([v for v in self.aws.violations() if e.prefix in str(v.get("target"))], [])

        # converged: the next run and plan change nothing
        self.aws.reset()
        res, _ = self.apply(e)
        self.assertTrue(all(v["changes"] == [] for v in res.values()), res)
        self.assertEqual(self.aws.mutating_counts(), {})
        r = e.run("plan", "--json")
        self.assertEqual(r.returncode, 0, r.stdout[-2000:] + r.stderr)

    def test_rate_change_layer_bump_and_removal(self):
        e = self.env("rc")
        e.put({"pipeline": "r", "rate": 2},
              {"pipeline": "py", "rate": 0.5, "runtime": "python3.12", "handler": "app.handler",
               "env": {"MODE": "fast"}})
        res, _ = self.apply(e)
        self.assertEqual(res["r"]["status"], "ok", res["r"])
        self.assertEqual(res["py"]["status"], "ok", res["py"])
        self.assertEqual(self.variables(e, "py"), {
            "MODE": "fast", "TASKPIPE_RATE": "0.5", "TASKPIPE_CONCURRENCY": "2",
            "TASKPIPE_BURST": "1", "TASKPIPE_DEADLINE_RESERVE_MS": "2250",
            "TASKPIPE_RATE_TABLE": e.env["TASKPIPE_STATE_TABLE"],
            "AWS_LAMBDA_EXEC_WRAPPER": "/opt/taskpipe-wrapper"})
        self.assertEqual(self.config(e, "py")["Configuration"]["Handler"], "app.handler")
        self.assertEqual(self.layers(e, "py"), [self.layer[0]])

        # a higher rate: new variables and the derived concurrency follows
        e.put({"pipeline": "r", "rate": 5, "duration": 2})
        res, _ = self.apply(e)
        self.assertEqual(res["r"]["status"], "ok", res["r"])
        self.assertEqual(self.variables(e, "r"), {"TASKPIPE_RATE": "5", "TASKPIPE_CONCURRENCY": "13",
                                                  "TASKPIPE_BURST": "1", "TASKPIPE_DEADLINE_RESERVE_MS": "3500",
                                                  "TASKPIPE_RATE_TABLE": e.env["TASKPIPE_STATE_TABLE"]})
        self.assertEqual(self.mapping(e, "r")["ScalingConfig"], {"MaximumConcurrency": 13})
        self.assertEqual(res["py"]["changes"], [])

        # a new consumer layer version: plan names it, apply puts it on every rate pipeline
        e.env["TASKPIPE_CONSUMER_LAYER"] = self.layer[1]
        r = e.run("plan", "--json")
        self.assertEqual(r.returncode, 2, r.stderr)
        plan = {p["pipeline"]: p for p in json.loads(r.stdout)["pipelines"]}
        for name in ("r", "py"):
            self.assertIn({"resource": "function", "field": "Layers", "from": self.layer[0], "to": self.layer[1]},
                          plan[name]["changes"])
        self.assertEqual(self.layers(e, "r"), [self.layer[0]])   # plan changed nothing
        self.apply(e)
        self.assertEqual(self.layers(e, "r"), [self.layer[1]])
        self.assertEqual(self.layers(e, "py"), [self.layer[1]])

        # rate removed: the layer, the variables and the wrapper go; the rest stays
        e.put({"pipeline": "r"},
              {"pipeline": "py", "runtime": "python3.12", "handler": "app.handler", "env": {"MODE": "fast"}})
        res, _ = self.apply(e)
        self.assertIn({"resource": "function", "field": "Layers", "from": self.layer[1], "to": "(none)"},
                      res["r"]["changes"])
        for name in ("r", "py"):
            self.assertEqual(res[name]["status"], "ok", res[name])
            self.assertEqual(self.layers(e, name), [])
            self.assertFalse([k for k in self.variables(e, name)
                              if k.startswith("TASKPIPE_") or k == "AWS_LAMBDA_EXEC_WRAPPER"])
        self.assertEqual(self.variables(e, "py"), {"MODE": "fast"})
        self.assertEqual(self.config(e, "r")["Configuration"]["Handler"], "bootstrap")
        self.assertEqual(self.mapping(e, "r")["ScalingConfig"], {"MaximumConcurrency": 2})
        self.assertEqual([v for v in self.aws.violations() if e.prefix in str(v.get("target"))], [])
        res, _ = self.apply(e)
        self.assertTrue(all(v["changes"] == [] for v in res.values()), res)

    def test_bad_items_each_named_others_go_on(self):
        e = self.env("rb")
        bad = {
            "zero": ({"rate": 0}, "rate: 0 is out of range"),
            "neg": ({"rate": -2}, "rate: -2 is out of range"),
            "text": ({"rate": "2/fortnight"}, "rate: '2/fortnight' is not a rate"),
            "huge": ({"rate": 20000}, "rate: 20000 is out of range"),
            "much": ({"rate": 100, "duration": 10}, "rate: 100 tasks/s x duration 10 s x 1.25 needs concurrency 1250, over 1000"),
            "short": ({"rate": 1, "duration": 20}, "timeout: 30 s is too short for burst 1 x duration 20 s"),
            "burst": ({"burst": 2}, "burst: set without rate"),
            "long": ({"rate": 1, "duration": 31}, "duration: 31 is over timeout 30"),
            "dur0": ({"rate": 1, "duration": 0}, "duration: 0 is out of range"),
            "lone": ({"duration": 2}, "duration: set without rate"),
            "tpenv": ({"rate": 1, "env": {"TASKPIPE_RATE": "9"}}, "env: TASKPIPE_RATE: TASKPIPE_* names are taskpipe's own"),
            "wrap": ({"rate": 1, "runtime": "nodejs22.x", "handler": "index.handler",
                      "env": {"AWS_LAMBDA_EXEC_WRAPPER": "/opt/mine"}},
                     "env: AWS_LAMBDA_EXEC_WRAPPER is taskpipe's own when rate is set"),
            "boot": ({"rate": 1, "handler": "bootstrap"},
                     "handler: 'bootstrap' cannot be used with rate on provided.al2023: /var/task/bootstrap would run instead"),
        }
        e.put(*[dict(v[0], pipeline=k) for k, v in bad.items()], {"pipeline": "good", "rate": 2}, check=False)
        res, _ = self.apply(e, expect=1)
        self.assertEqual(res["good"]["status"], "ok", res["good"])
        self.assertEqual(self.layers(e, "good"), [self.layer[0]])
        for name, (_, msg) in bad.items():
            self.assertEqual(res[name]["status"], "error", res[name])
            self.assertIn(msg, res[name]["error"]["message"], name)
            self.assertIsNone(e.url(e.prefix + name))   # nothing created for a bad item

        # a running rate pipeline whose item goes bad is left as it is, never deleted
        e.put({"pipeline": "good", "rate": 0}, check=False)
        res, _ = self.apply(e, expect=1)
        self.assertIn("rate: 0 is out of range", res["good"]["error"]["message"])
        self.assertEqual(self.layers(e, "good"), [self.layer[0]])
        self.assertEqual(self.variables(e, "good")["TASKPIPE_RATE"], "2")
        self.assertIsNotNone(e.url(e.prefix + "good"))

    def test_rate_without_consumer_layer(self):
        e = self.env("rn", layer=None)
        e.put({"pipeline": "rated", "rate": 2}, {"pipeline": "plain", "concurrency": 3}, check=False)
        res, _ = self.apply(e, expect=1)
        self.assertEqual(res["plain"]["status"], "ok")
        self.assertEqual(res["rated"]["status"], "error")
        self.assertIn("rate: no x86_64 consumer layer configured (set TASKPIPE_CONSUMER_LAYER or --consumer-layer",
                      res["rated"]["error"]["message"])
        self.assertIsNone(e.url(e.prefix + "rated"))
        # a layer that is not a layer version ARN is refused by the policy, before AWS
        e.env["TASKPIPE_CONSUMER_LAYER"] = "taskpipe-consumer"
        res, _ = self.apply(e, expect=1)
        self.assertIn("rate: consumer layer 'taskpipe-consumer' is not a layer version ARN",
                      res["rated"]["error"]["message"])
        # the flag works as the variable does
        del e.env["TASKPIPE_CONSUMER_LAYER"]
        r = e.run("apply", "rated", "--json", "--consumer-layer", self.layer[0])
        self.assertEqual(r.returncode, 0, r.stderr + r.stdout[-2000:])
        self.assertEqual(self.layers(e, "rated"), [self.layer[0]])

    def test_arm64_gets_the_arm64_layer(self):
        # The layer holds a static binary: an arm64 function needs the arm64 build.
        e = self.env("ra")
        e.put({"pipeline": "arm", "rate": 1, "architecture": "arm64"}, {"pipeline": "x86", "rate": 1}, check=False)
        res, _ = self.apply(e, expect=1)
        self.assertEqual(res["x86"]["status"], "ok", res["x86"])
        self.assertIn("rate: no arm64 consumer layer configured (set TASKPIPE_CONSUMER_LAYER_ARM64 or "
                      "--consumer-layer-arm64", res["arm"]["error"]["message"])
        self.assertIsNone(e.url(e.prefix + "arm"))
        e.env["TASKPIPE_CONSUMER_LAYER_ARM64"] = self.layer_arm64
        res, _ = self.apply(e)
        self.assertEqual(self.layers(e, "arm"), [self.layer_arm64])
        self.assertEqual(self.config(e, "arm")["Configuration"]["Architectures"], ["arm64"])
        self.assertEqual(self.layers(e, "x86"), [self.layer[0]])
        self.assertEqual(res["x86"]["changes"], [])

    def test_layers_drift_reported_and_fixed(self):
        e = self.env("rd")
        e.put({"pipeline": "gone", "rate": 2}, {"pipeline": "extra"}, {"pipeline": "ok", "rate": 1})
        self.apply(e)
        code, doc = e.drift(expect=0)
        self.assertEqual({p: s["status"] for p, s in by_name(doc).items()},
                         {"gone": "in_sync", "extra": "in_sync", "ok": "in_sync"})
        # behind taskpipe's back: the consumer layer removed (the rate no longer held),
        # a layer added to a pipeline without rate
        e.lam.update_function_configuration(FunctionName=e.prefix + "gone", Layers=[])
        e.lam.update_function_configuration(FunctionName=e.prefix + "extra", Layers=[self.layer[1]])
        code, doc = e.drift(expect=2)
        p = by_name(doc)
        self.assertEqual(drift_set(p["gone"]), {("function", "Layers", self.layer[0], "(none)")})
        self.assertEqual(drift_set(p["extra"]), {("function", "Layers", "(none)", self.layer[1])})
        self.assertEqual(p["ok"]["status"], "in_sync")
        code, doc = e.drift("--fix", expect=0)
        p = by_name(doc)
        self.assertEqual(p["gone"]["fix"]["status"], "fixed", p["gone"])
        self.assertEqual(p["extra"]["fix"]["status"], "fixed", p["extra"])
        self.assertEqual(self.layers(e, "gone"), [self.layer[0]])
        self.assertEqual(self.layers(e, "extra"), [])
        code, doc = e.drift(expect=0)
        self.assertEqual({s["status"] for s in doc["pipelines"]}, {"in_sync"})

    def test_policy_layers_not_a_list_is_bad_spec(self):
        # A policy of one's own that gets func.Layers wrong fails that pipeline only.
        policy = """return { pipeline = function(item, ctx)
          local func = { Runtime = "provided.al2023", Handler = "bootstrap", MemorySize = 128, Timeout = 30,
                         Code = { S3Bucket = ctx.defaults.code_bucket, S3Key = ctx.defaults.code_key } }
          if item.pipeline == "str" then func.Layers = "%s" end
          if item.pipeline == "num" then func.Layers = { 7 } end
          return { name = item.pipeline, func = func, tags = {},
                   queue = { VisibilityTimeout = 180, MessageRetentionPeriod = 345600,
                             ReceiveMessageWaitTimeSeconds = 20, maxReceiveCount = 5 },
                   dlq = { MessageRetentionPeriod = 1209600, keep_if_not_empty = true },
                   mapping = { BatchSize = 10, MaximumBatchingWindowInSeconds = 0, Enabled = true,
                               ScalingConfig = { MaximumConcurrency = 2 } } }
        end, rollout = function() return tp.list() end }
        """ % self.layer[0]
        e = self.env("rp")
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
            f.write(policy)
        self.addCleanup(os.unlink, f.name)
        e.env["TASKPIPE_POLICY"] = f.name
        e.put({"pipeline": "str"}, {"pipeline": "num"}, {"pipeline": "fine"})
        res, _ = self.apply(e, expect=1)
        self.assertEqual(res["fine"]["status"], "ok", res["fine"])
        for name in ("str", "num"):
            self.assertEqual(res[name]["error"]["code"], "BadSpec", res[name])
            self.assertIn("func.Layers must be a list of layer version ARNs", res[name]["error"]["message"])
            self.assertIsNone(e.url(e.prefix + name))

    def test_policy_check_rate_item(self):
        env = self.moto.env(TASKPIPE_CODE_BUCKET="code", TASKPIPE_CODE_KEY="consumer.zip",
                            TASKPIPE_STATE_TABLE="tp-rates-state")
        with tempfile.TemporaryDirectory() as d:
            paths = []
            for i, it in enumerate([{"pipeline": "A", "rate": 0.5, "duration": 10},
                                    {"pipeline": "B", "rate": 2, "concurrency": 1},
                                    {"pipeline": "C", "rate": 0},
                                    {"pipeline": "D", "rate": "100/min", "burst": 2}]):
                paths.append(os.path.join(d, "%d.json" % i))
                with open(paths[-1], "w") as f:
                    json.dump(it, f)
            r = run_taskpipe(["policy", "check", "--consumer-layer", self.layer[0]] + paths, env)
        self.assertEqual(r.returncode, 1, r.stderr)
        out = [json.loads(line) for line in r.stdout.splitlines()]
        a, b, c, d = out
        self.assertTrue(a["ok"], a)
        self.assertEqual(a["spec"]["func"]["Layers"], [self.layer[0]])
        self.assertEqual(a["spec"]["func"]["Environment"]["Variables"],
                         {"TASKPIPE_RATE": "0.5", "TASKPIPE_CONCURRENCY": "7", "TASKPIPE_BURST": "1",
                          "TASKPIPE_DEADLINE_RESERVE_MS": "13500", "TASKPIPE_RATE_TABLE": "tp-rates-state"})
        self.assertEqual(a["spec"]["mapping"]["ScalingConfig"], {"MaximumConcurrency": 7})
        self.assertEqual(a["spec"]["mapping"]["BatchSize"], 1)
        # a rate per period: the parsed tasks/s is what the layer gets
        self.assertTrue(d["ok"], d)
        self.assertEqual(d["spec"]["func"]["Environment"]["Variables"]["TASKPIPE_RATE"], "1.6666666666666667")
        self.assertEqual(d["spec"]["func"]["Environment"]["Variables"]["TASKPIPE_BURST"], "2")
        self.assertEqual(a["spec"]["func"]["Handler"], "handler")
        # both given: concurrency 1 (reserved) bounds the copies, the rate the throughput
        self.assertTrue(b["ok"], b)
        self.assertEqual(b["spec"]["func"]["ReservedConcurrentExecutions"], 1)
        self.assertNotIn("ScalingConfig", b["spec"]["mapping"])
        self.assertEqual(b["spec"]["func"]["Environment"]["Variables"],
                         {"TASKPIPE_RATE": "2", "TASKPIPE_CONCURRENCY": "1", "TASKPIPE_BURST": "1",
                          "TASKPIPE_DEADLINE_RESERVE_MS": "2250", "TASKPIPE_RATE_TABLE": "tp-rates-state"})
        self.assertFalse(c["ok"])
        self.assertEqual(c["error"], 'rate: 0 is out of range (tasks per second, over 0 and at most 10000; '
                                     'or "N/s", "N/min", "N/h", "N/d")')


if __name__ == "__main__":
    unittest.main()
