"""Reconcile against AWS's documented behaviour, through the AwsModel layer
(awsmodel.py): function states and updates in progress, mapping transitions,
QueueDeletedRecently, and the order of changes that keeps a group's limit and
the visibility-timeout rule in force after every single call.

taskpipe talks to the layer; every check reads moto directly with boto3 (or
the layer's own model: limit_history, function_state, violations), never
taskpipe's own output alone. Scale 0.02: one AWS second is 20 ms here."""
import json
import os
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import REGION, Moto  # noqa: E402
from awsmodel import AwsModel  # noqa: E402
from test_pipelines import Env, changed_fields  # noqa: E402

SCALE = 0.02
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Recorder(AwsModel):
    """The layer, plus every successful request (operation, path, JSON body)
    and an optional hook run after each one, before taskpipe gets the answer:
    a snapshot there is the state between two of taskpipe's calls."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.calls = []
        self.hook = None
        self._rlock = threading.Lock()

    def _after(self, h, service, operation, body, status, reason, headers, data):
        out = super()._after(h, service, operation, body, status, reason, headers, data)
        if 200 <= status < 300:
            try:
                doc = json.loads(body) if body else {}
            except ValueError:
                doc = {}
            with self._rlock:
                self.calls.append((service, operation, h.path.split("?")[0], doc))
            if self.hook:
                self.hook(service, operation, doc)
        return out


def limit(item):
    """The group's limit an item asks for: 0 when its mapping is disabled."""
    return 0 if item.get("enabled") is False else item.get("concurrency", 2)


def state_item(e, name):
    return e.ddb.get_item(TableName=e.prefix + "state",
                          Key={"pk": {"S": "pipeline#" + name}}).get("Item")


class Base(unittest.TestCase):
    model = {}   # AwsModel options of the class (AWS seconds)

    @classmethod
    def setUpClass(cls):
        cls.moto = Moto.shared()
        cls.aws = Recorder(cls.moto.endpoint, scale=SCALE, **cls.model).start()

    @classmethod
    def tearDownClass(cls):
        cls.aws.stop()

    def env(self, tag, **extra):
        return Env(self.moto, tag, AWS_ENDPOINT_URL=self.aws.endpoint, **extra)

    def violations(self, e):
        return [v for v in self.aws.violations() if e.prefix in str(v.get("target"))]


class Limits(Base):
    """Defect 2: the new limit is in force before the old one is removed."""

    CASES = {
        # name: (old item fields, new item fields)
        "up15": ({"concurrency": 1}, {"concurrency": 5}),
        "dn51": ({"concurrency": 5}, {"concurrency": 1}),
        "up27": ({"concurrency": 2}, {"concurrency": 7}),
        "dn72": ({"concurrency": 7}, {"concurrency": 2}),
        "dis5": ({"concurrency": 5}, {"concurrency": 5, "enabled": False}),
        "dis1": ({"concurrency": 1}, {"concurrency": 1, "enabled": False}),
        "en5": ({"concurrency": 5, "enabled": False}, {"concurrency": 5}),
        "en1": ({"concurrency": 1, "enabled": False}, {"concurrency": 1}),
        "dis15": ({"concurrency": 1}, {"concurrency": 5, "enabled": False}),
        "en51": ({"concurrency": 5, "enabled": False}, {"concurrency": 1}),
        "en15": ({"concurrency": 1, "enabled": False}, {"concurrency": 5}),
        "new1": (None, {"concurrency": 1}),
        "new3": (None, {"concurrency": 3}),
    }

    def check_history(self, e, name, old, new, since):
        fn = e.prefix + name
        hist = self.aws.limit_history(fn)[since:]
        cap = max(limit(old) if old is not None else 0, limit(new))
        self.assertTrue(hist, "%s: no concurrency change recorded" % name)
        for t, bound in hist:
            self.assertIsNotNone(bound, "%s: unlimited after a call; history %s" % (name, hist))
            self.assertLessEqual(bound, cap, "%s: bound %s above %s; history %s" % (name, bound, cap, hist))
        self.assertEqual(hist[-1][1], limit(new), "%s: final bound; history %s" % (name, hist))

    def test_every_intermediate_state(self):
        e = self.env("lim")
        olds = [dict(pipeline=n, **o) for n, (o, _) in self.CASES.items() if o is not None]
        e.put(*olds)
        res, _ = e.apply()
        for it in olds:
            self.assertEqual(res[it["pipeline"]]["status"], "ok", res[it["pipeline"]])
            self.check_history(e, it["pipeline"], None, it, 0)
        marks = {n: len(self.aws.limit_history(e.prefix + n)) for n in self.CASES}
        e.put(*[dict(pipeline=n, **new) for n, (_, new) in self.CASES.items()])
        res, _ = e.apply()
        for n, (old, new) in self.CASES.items():
            with self.subTest(pipeline=n):
                self.assertEqual(res[n]["status"], "ok", res[n])
                self.check_history(e, n, old, new, marks[n])
                # boto3: the levers themselves
                fn = e.function(n)
                m = e.mapping(n)
                reserved = fn.get("Concurrency", {}).get("ReservedConcurrentExecutions")
                c = new["concurrency"]
                self.assertEqual(reserved, 1 if c == 1 else None)
                self.assertEqual(m.get("ScalingConfig", {}).get("MaximumConcurrency"), c if c >= 2 else None)
                self.assertEqual(m["State"], "Disabled" if new.get("enabled") is False else "Enabled")
        self.assertEqual(self.violations(e), [])


class Transitions(Base):
    """Defect 6: function and mapping transitions are waited for, not collided with."""
    model = {"fn_update_s": 50, "esm_transition_s": 100}   # 1 s and 2 s here

    def test_function_update_in_progress_is_waited_for(self):
        e = self.env("busy")
        e.put({"pipeline": "busy"})
        res, _ = e.apply()
        self.assertEqual(res["busy"]["status"], "ok", res["busy"])
        time.sleep(100 * SCALE)         # the mapping settles
        # someone else's update is in progress (1 s) when taskpipe looks
        lam = self.moto.client("lambda", endpoint=self.aws.endpoint)
        lam.update_function_configuration(FunctionName=e.prefix + "busy", MemorySize=128)
        self.assertEqual(self.aws.function_state(e.prefix + "busy")["LastUpdateStatus"], "InProgress")
        e.put({"pipeline": "busy", "memory": 256})
        res, _ = e.apply()
        self.assertEqual(res["busy"]["status"], "ok", res["busy"])
        self.assertEqual(e.function("busy")["Configuration"]["MemorySize"], 256)
        self.assertEqual(self.violations(e), [])

    def test_each_wait_step_has_its_own_bound(self):
        """The code update and the configuration update are each waited for
        (1 s here, about 3 polls each) within their own bound: one wait
        step's polls do not count against the next one's (they shared one
        counter, so 3 + 3 polls broke a bound of 4)."""
        e = self.env("wt2", TASKPIPE_WAIT_POLLS="4")
        e.put({"pipeline": "w"})
        res, _ = e.apply()
        self.assertEqual(res["w"]["status"], "ok", res["w"])
        time.sleep(100 * SCALE)         # the mapping settles
        n = len(self.aws.calls)
        e.put({"pipeline": "w", "memory": 256, "architecture": "arm64"})
        res, _ = e.apply()
        self.assertEqual(res["w"]["status"], "ok", res["w"])
        self.assertEqual(e.function("w")["Configuration"]["MemorySize"], 256)
        ops = [op for s, op, p, d in self.aws.calls[n:] if "/functions/%sw/" % e.prefix in p]
        # both updates were made (moto ignores Architectures: the request is the evidence)
        self.assertIn("UpdateFunctionCode", ops)
        self.assertIn("UpdateFunctionConfiguration", ops)
        self.assertEqual(self.violations(e), [])

    def test_mapping_transition_is_waited_for(self):
        e = self.env("esmw")
        e.put({"pipeline": "m"})
        res, _ = e.apply()
        self.assertEqual(res["m"]["status"], "ok", res["m"])
        uuid = e.mapping("m")["UUID"]
        self.assertEqual(self.aws.mapping_state(uuid), "Creating")
        # a change while the mapping is still Creating
        e.put({"pipeline": "m", "concurrency": 5, "batch_size": 5})
        res, _ = e.apply()
        self.assertEqual(res["m"]["status"], "ok", res["m"])
        m = e.mapping("m")
        self.assertEqual((m["ScalingConfig"], m["BatchSize"]), ({"MaximumConcurrency": 5}, 5))
        self.assertEqual(self.aws.mapping_state(uuid), "Updating")
        # deleted while Updating
        e.ddb.delete_item(TableName=e.prefix + "config", Key={"pipeline": {"S": "m"}})
        res, _ = e.apply()
        self.assertEqual(res["m"]["status"], "ok", res["m"])
        self.assertIsNone(e.function("m"))
        self.assertIsNone(e.queue_url(e.qname("m")))
        self.assertEqual(self.violations(e), [])

    def test_failed_function_is_recreated(self):
        e = self.env("fail")
        fn = e.prefix + "f"
        self.aws.fail_function(fn, reason="Lambda was unable to configure access to your environment.",
                               on="create", code="EniLimitExceeded")
        e.put({"pipeline": "f"})
        res, _ = e.apply(expect=1)
        self.assertEqual(res["f"]["status"], "error", res["f"])
        self.assertEqual(res["f"]["error"]["code"], "FunctionFailed", res["f"])
        self.assertIn("unable to configure access", res["f"]["error"]["message"])
        self.assertEqual(self.aws.function_state(fn)["State"], "Failed")
        self.assertEqual(state_item(e, "f")["status"]["S"], "error")
        # the next run deletes the failed function and creates it again
        res, _ = e.apply()
        self.assertEqual(res["f"]["status"], "ok", res["f"])
        self.assertTrue(any(c["resource"] == "function" and c.get("action", "").startswith("recreate")
                            for c in res["f"]["changes"]), res["f"]["changes"])
        self.assertEqual(self.aws.function_state(fn)["State"], "Active")
        self.assertEqual(len(e.mappings("f")), 1)
        self.assertEqual(self.violations(e), [])

        # a Failed function that is not ours is reported and left alone
        fn = e.prefix + "x"
        self.aws.fail_function(fn, on="create")
        lam = self.moto.client("lambda", endpoint=self.aws.endpoint)
        lam.create_function(FunctionName=fn, Runtime="provided.al2023", Handler="bootstrap",
                            Role=self.moto.role_arn(), Code={"S3Bucket": "code", "S3Key": "consumer.zip"})
        time.sleep(10 * SCALE)
        self.assertEqual(self.aws.function_state(fn)["State"], "Failed")
        e.put({"pipeline": "x"})
        res, _ = e.apply("x", expect=1)
        self.assertEqual(res["x"]["error"]["code"], "NameCollision", res["x"])
        self.assertIsNotNone(e.function("x"))          # left alone
        self.assertIsNone(e.queue_url(e.qname("x")))


class CreateQueueAnswer(Base):
    """A CreateQueue that succeeds but answers without a QueueUrl: taskpipe
    asks SQS for the URL instead of trusting or distrusting the answer."""

    def test_answer_without_url_then_get_queue_url(self):
        e = self.env("nourl")
        orig = self.aws._after

        def blank(h, service, operation, body, status, reason, headers, data):
            out = orig(h, service, operation, body, status, reason, headers, data)
            if service == "sqs" and operation == "CreateQueue" and 200 <= out[0] < 300:
                return out[0], out[1], out[2], b"{}"
            return out
        self.aws._after = blank
        try:
            e.put({"pipeline": "u"})
            res, _ = e.apply()
        finally:
            del self.aws._after
        self.assertEqual((res["u"]["status"], res["u"]["action"]), ("ok", "create"), res["u"])
        q = e.queue_attrs(e.qname("u"))
        dlq = e.queue_attrs(e.qname("u", True))
        self.assertEqual(json.loads(q["RedrivePolicy"])["deadLetterTargetArn"], dlq["QueueArn"])
        self.assertEqual(e.mapping("u")["EventSourceArn"], q["QueueArn"])

    def test_answer_without_url_and_no_queue_is_retryable(self):
        e = self.env("nourl2")
        e.put({"pipeline": "v"})
        self.aws.add_rule({"match": {"service": "sqs", "operation": "CreateQueue"}, "times": 1,
                           "action": {"status": 200, "body": "{}"}})
        try:
            res, _ = e.apply(expect=1)
        finally:
            self.aws.reset()
        r = res["v"]
        self.assertEqual((r["status"], r["error"]["code"]), ("error", "NoQueueUrl"), r)
        self.assertTrue(r["error"]["retryable"], r)
        res, _ = e.apply()
        self.assertEqual(res["v"]["status"], "ok", res["v"])


class Recreate(Base):
    """Defect 7: a pipeline recreated within 60 s of its deletion converges."""
    model = {"queue_deleted_recently_s": 150}   # 3 s here

    def test_recreate_within_window(self):
        e = self.env("again")
        e.put({"pipeline": "r"})
        res, _ = e.apply()
        self.assertEqual(res["r"]["status"], "ok")
        e.ddb.delete_item(TableName=e.prefix + "config", Key={"pipeline": {"S": "r"}})
        res, _ = e.apply()
        self.assertEqual((res["r"]["status"], res["r"]["action"]), ("ok", "delete"))
        deleted = time.time()
        e.put({"pipeline": "r"})
        res, _ = e.apply(expect=1)
        # The layer recorded the refusal: the re-create reached it inside the
        # window (its clock, not a stopwatch around the run).
        self.assertTrue([v for v in self.violations(e) if v["rule"] == "QueueDeletedRecently"],
                        "too slow to test the window: %s" % res["r"])
        r = res["r"]
        self.assertEqual(r["status"], "error", r)
        self.assertEqual(r["error"]["code"], "QueueDeletedRecently", r)
        self.assertTrue(r["error"]["retryable"], r)
        st = state_item(e, "r")
        self.assertNotEqual(st["status"]["S"], "ok")
        self.assertTrue(st["retryable"]["BOOL"])
        time.sleep(max(0.0, 150 * SCALE - (time.time() - deleted)) + 0.2)
        res, _ = e.apply()
        self.assertEqual((res["r"]["status"], res["r"]["action"]), ("ok", "create"), res["r"])
        self.assertEqual(state_item(e, "r")["status"]["S"], "ok")
        q = e.queue_attrs(e.qname("r"))
        dlq = e.queue_attrs(e.qname("r", True))
        self.assertEqual(json.loads(q["RedrivePolicy"])["deadLetterTargetArn"], dlq["QueueArn"])
        self.assertIsNotNone(e.function("r"))
        self.assertEqual(e.mapping("r")["EventSourceArn"], q["QueueArn"])


    def test_dying_queue_not_confirmed(self):
        # AWS: a deleted queue "might" still answer for up to 60 s. Here the
        # DeleteQueue calls are answered 200 without reaching moto, so the
        # queues taskpipe just deleted still answer: they stand for dying ones.
        e = self.env("dying")
        e.put({"pipeline": "d"})
        res, _ = e.apply()
        self.assertEqual(res["d"]["status"], "ok")
        e.ddb.delete_item(TableName=e.prefix + "config", Key={"pipeline": {"S": "d"}})
        self.aws.add_rule({"match": {"service": "sqs", "operation": "DeleteQueue"}, "times": -1,
                           "action": {"status": 200, "body": "{}"}})
        try:
            res, _ = e.apply()
        finally:
            self.aws.reset()
        self.assertEqual((res["d"]["status"], res["d"]["action"]), ("ok", "delete"))
        self.assertIsNone(e.function("d"))
        self.assertIsNotNone(e.queue_url(e.qname("d")))     # "dying"
        e.put({"pipeline": "d"})
        self.aws.reset()
        res, _ = e.apply(expect=1)
        r = res["d"]
        muts = {k for k in self.aws.mutating_counts() if not k.startswith("dynamodb:")}
        self.assertEqual(r["status"], "error", r)
        self.assertEqual(r["error"]["code"], "QueueDeletedRecently", r)
        self.assertTrue(r["error"]["retryable"], r)
        self.assertEqual(muts, set(), r)     # only its state and lease were written
        self.assertIsNone(e.function("d"))                   # nothing built on it
        self.assertNotEqual(state_item(e, "d")["status"]["S"], "ok")


class Order(Base):
    """Defect 11: visibility timeout vs function timeout, Architectures, QueueArn, images."""

    def test_visibility_timeout_never_below_function_timeout(self):
        e = self.env("vis")
        sqs, lam = self.moto.client("sqs"), self.moto.client("lambda")
        snaps = []

        def snap(service, operation, body):
            if operation not in ("SetQueueAttributes", "UpdateFunctionConfiguration", "CreateFunction",
                                 "UpdateEventSourceMapping", "CreateEventSourceMapping"):
                return
            try:
                url = sqs.get_queue_url(QueueName=e.qname("v"))["QueueUrl"]
                vis = int(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])
                          ["Attributes"]["VisibilityTimeout"])
                to = lam.get_function_configuration(FunctionName=e.prefix + "v")["Timeout"]
            except Exception:   # not both there yet
                return
            snaps.append((operation, vis, to))

        e.put({"pipeline": "v", "timeout": 60, "visibility_timeout": 60})
        res, _ = e.apply()
        self.assertEqual(res["v"]["status"], "ok")
        self.aws.hook = snap
        try:
            for timeout, vis in ((20, 20), (90, 90), (30, 45)):
                del snaps[:]
                e.put({"pipeline": "v", "timeout": timeout, "visibility_timeout": vis})
                res, _ = e.apply()
                self.assertEqual(res["v"]["status"], "ok", res["v"])
                ops = [s[0] for s in snaps]
                self.assertIn("SetQueueAttributes", ops)
                self.assertIn("UpdateFunctionConfiguration", ops)
                for op, v, t in snaps:
                    self.assertGreaterEqual(v, t, "after %s: visibility %d < timeout %d (%s)" % (op, v, t, snaps))
                self.assertEqual(snaps[-1][1:], (vis, timeout))
        finally:
            self.aws.hook = None

    def test_architecture_change_applied(self):
        e = self.env("arch")
        e.put({"pipeline": "a"})
        res, _ = e.apply()
        self.assertEqual(e.function("a")["Configuration"]["Architectures"], ["x86_64"])
        n = len(self.aws.calls)
        e.put({"pipeline": "a", "architecture": "arm64"})
        plan = json.loads(e.plan("a", json_out=True).stdout)
        self.assertIn(("function", "Architectures"), changed_fields(plan["pipelines"][0]))
        res, _ = e.apply()
        self.assertEqual(res["a"]["status"], "ok", res["a"])
        self.assertIn(("function", "Architectures"), changed_fields(res["a"]))
        codes = [d for s, op, p, d in self.aws.calls[n:]
                 if op == "UpdateFunctionCode" and "/functions/%sa/" % e.prefix in p]
        # moto ignores Architectures on UpdateFunctionCode: the request is the evidence
        self.assertEqual(len(codes), 1, self.aws.calls[n:])
        self.assertEqual(codes[0]["Architectures"], ["arm64"])
        self.assertEqual(codes[0]["S3Key"], "consumer.zip")
        self.assertEqual(self.violations(e), [])

    def test_queue_arn_from_attributes(self):
        # A partition other than "aws": an ARN built from the URL and region is wrong.
        region = "us-iso-east-1"
        import boto3
        kw = dict(region_name=region, endpoint_url=self.moto.endpoint,
                  aws_access_key_id="testing", aws_secret_access_key="testing")
        sqs, lam, iam = boto3.client("sqs", **kw), boto3.client("lambda", **kw), boto3.client("iam", **kw)
        doc = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {
            "Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
        try:
            role = iam.get_role(RoleName="iso-consumer")["Role"]["Arn"]
        except iam.exceptions.NoSuchEntityException:
            role = iam.create_role(RoleName="iso-consumer", AssumeRolePolicyDocument=json.dumps(doc))["Role"]["Arn"]
        e = Env(self.moto, "iso", AWS_ENDPOINT_URL=self.aws.endpoint, AWS_REGION=region,
                TASKPIPE_ROLE_ARN=role)
        e.put({"pipeline": "q"})
        res, _ = e.apply()
        self.assertEqual(res["q"]["status"], "ok", res["q"])
        q = sqs.get_queue_attributes(QueueUrl=sqs.get_queue_url(QueueName=e.qname("q"))["QueueUrl"],
                                     AttributeNames=["All"])["Attributes"]
        dlq = sqs.get_queue_attributes(QueueUrl=sqs.get_queue_url(QueueName=e.qname("q", True))["QueueUrl"],
                                       AttributeNames=["QueueArn"])["Attributes"]
        self.assertTrue(q["QueueArn"].startswith("arn:aws-iso:sqs:"), q["QueueArn"])
        self.assertEqual(json.loads(q["RedrivePolicy"])["deadLetterTargetArn"], dlq["QueueArn"])
        ms = lam.list_event_source_mappings(FunctionName=e.prefix + "q")["EventSourceMappings"]
        self.assertEqual([m["EventSourceArn"] for m in ms], [q["QueueArn"]])
        # and the next run finds that mapping as its own: nothing to change
        r = self.run_force(e, "q")
        self.assertEqual((r["status"], r["changes"]), ("ok", []), r)

    def run_force(self, e, name):
        r = e.run("apply", name, "--force", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)["pipelines"][0]

    def test_image_package_type_rejected(self):
        d = tempfile.mkdtemp()
        src = open(os.path.join(ROOT, "policies", "policy.lua")).read()
        tail = "return { pipeline = pipeline, rollout = rollout, rollout_health = rollout_health, limit_group = limit_group }"
        self.assertIn(tail, src)
        src = src.replace(tail, "return { pipeline = function(item, ctx)\n"
                          "  local s, err = pipeline(item, ctx)\n"
                          "  if s and item.pipeline == 'img' then s.func.PackageType = 'Image' end\n"
                          "  return s, err\nend, rollout = rollout, rollout_health = rollout_health, limit_group = limit_group }")
        path = os.path.join(d, "image.lua")
        with open(path, "w") as f:
            f.write(src)
        e = self.env("img", TASKPIPE_POLICY=path)
        e.put({"pipeline": "img"}, {"pipeline": "zip"})
        res, _ = e.apply(expect=1)
        self.assertEqual(res["img"]["status"], "error", res["img"])
        self.assertEqual(res["img"]["error"]["code"], "PackageTypeNotSupported")
        self.assertIn("pipeline img", res["img"]["error"]["message"])
        self.assertIn("zip", res["img"]["error"]["message"])
        self.assertIsNone(e.function("img"))
        self.assertIsNone(e.queue_url(e.qname("img")))
        self.assertIsNone(e.queue_url(e.qname("img", True)))
        self.assertEqual(res["zip"]["status"], "ok", res["zip"])

    def test_observed_image_function_reported(self):
        e = self.env("oimg")
        fn = e.prefix + "i"
        self.moto.client("lambda").create_function(
            FunctionName=fn, PackageType="Image", Code={"ImageUri": "123456789012.dkr.ecr.%s.amazonaws.com/x:1" % REGION},
            Role=self.moto.role_arn(), MemorySize=512, Tags={"taskpipe:owner": "taskpipe", "taskpipe:pipeline": "i"})
        before = e.function("i")["Configuration"]
        e.put({"pipeline": "i"})
        res, _ = e.apply(expect=1)
        self.assertEqual(res["i"]["error"]["code"], "FunctionIsImage", res["i"])
        self.assertIn(fn, res["i"]["error"]["message"])
        after = e.function("i")["Configuration"]
        self.assertEqual((after["MemorySize"], after["CodeSha256"], after.get("PackageType")),
                         (before["MemorySize"], before["CodeSha256"], "Image"))
        self.assertIsNone(e.queue_url(e.qname("i")))
        # deleting the item does not delete it either
        e.ddb.delete_item(TableName=e.prefix + "config", Key={"pipeline": {"S": "i"}})
        res, _ = e.apply(expect=1)
        self.assertEqual(res["i"]["error"]["code"], "FunctionIsImage", res["i"])
        self.assertIsNotNone(e.function("i"))


class Calls(Base):
    """Calls per pipeline through the layer: create, a 1 -> 5 change, delete;
    the limit stays in force for every pipeline of the batch throughout."""

    def test_calls_per_pipeline(self):
        e = self.env("calls")
        n = 5
        out = {}

        def measure(what, fn):
            self.aws.reset()
            fn()
            counts = self.aws.counts()
            sys.stderr.write("\n%s: %s\n" % (what, json.dumps(counts, sort_keys=True)))
            lam = sum(v for k, v in counts.items() if k.startswith("lambda:"))
            sqs = sum(v for k, v in counts.items() if k.startswith("sqs:"))
            out[what] = (lam / n, sqs / n)
            return counts

        names = ["c%d" % i for i in range(n)]
        e.put(*[{"pipeline": p, "concurrency": 1} for p in names])
        measure("create", lambda: e.apply())
        e.put(*[{"pipeline": p, "concurrency": 5} for p in names])
        measure("1->5", lambda: e.apply())
        for p in names:
            e.ddb.delete_item(TableName=e.prefix + "config", Key={"pipeline": {"S": p}})
        measure("delete", lambda: e.apply())
        sys.stderr.write("\ncalls per pipeline (lambda, sqs): %s\n" % json.dumps(out))
        for p in names:
            hist = self.aws.limit_history(e.prefix + p)
            self.assertTrue(hist)
            self.assertTrue(all(b is not None and b <= 5 for _, b in hist), (p, hist))
        self.assertEqual(self.violations(e), [])
        # ceilings: observation plus only the calls the change needs
        self.assertLessEqual(out["create"][0], 8)
        self.assertLessEqual(out["1->5"][0], 6)
        self.assertLessEqual(out["delete"][0], 5)


if __name__ == "__main__":
    unittest.main()
