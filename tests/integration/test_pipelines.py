"""Pipelines from config items, end to end against moto: every item field's
effect on create, one-field updates, delete, the write-up's example, 200
pipelines through the counting proxy, name collisions and plan.

Results are checked with boto3 (the independent reader), never with
taskpipe's own reads. Each test gets its own prefix and tables (Env), so tests
do not see each other's pipelines."""
import collections
import io
import itertools
import json
import os
import sys
import unittest
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Moto, run_taskpipe  # noqa: E402
from awsproxy import FaultProxy  # noqa: E402

_seq = itertools.count()


def code_zip(text="#!/bin/sh\necho consumer\n"):
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w") as z:
        z.writestr("bootstrap", text)
    return b.getvalue()


class Env:
    """One taskpipe instance: its own prefix, tables and (shared) code bucket."""

    def __init__(self, moto, tag=None, **extra):
        n = next(_seq)
        self.moto = moto
        self.tag = tag or "t%d" % n
        self.prefix = "%s%d-" % (self.tag[:6], os.getpid() % 1000 + n * 1000)
        settings = dict(TASKPIPE_CODE_BUCKET="code", TASKPIPE_CODE_KEY="consumer.zip",
                        TASKPIPE_ROLE_ARN=moto.role_arn(), TASKPIPE_PREFIX=self.prefix,
                        TASKPIPE_CONFIG_TABLE=self.prefix + "config",
                        TASKPIPE_STATE_TABLE=self.prefix + "state")
        settings.update(extra)
        self.env = moto.env(**settings)
        r = self.run("init")
        assert r.returncode == 0, r.stderr
        self.s3 = moto.client("s3")
        if "KeyCount" not in self.s3.list_objects_v2(Bucket="code", Prefix="consumer.zip") or \
                self.s3.list_objects_v2(Bucket="code", Prefix="consumer.zip")["KeyCount"] == 0:
            self.s3.put_object(Bucket="code", Key="consumer.zip", Body=code_zip())
        self.sqs = moto.client("sqs")
        self.lam = moto.client("lambda")
        self.ddb = moto.client("dynamodb")

    def run(self, *args, input=None, endpoint=None, timeout=600):
        env = dict(self.env)
        if endpoint:
            env["AWS_ENDPOINT_URL"] = endpoint
        return run_taskpipe(list(args), env, input=input, timeout=timeout)

    def put(self, *items, check=True):
        """put, each item checked by the policy first unless check=False
        (for items a test means apply to refuse)."""
        for it in items:
            r = self.run("put", *([] if check else ["--no-check"]), "-", input=json.dumps(it))
            assert r.returncode == 0, r.stderr

    def put_raw(self, items):
        """Write items straight into the config table (boto3), skipping put's checks."""
        for it in items:
            self.ddb.put_item(TableName=self.prefix + "config", Item=it)

    def apply(self, *names, endpoint=None, expect=0):
        args = ["apply"] + (list(names) or ["--all"]) + ["--json"]
        r = self.run(*args, endpoint=endpoint)
        assert r.returncode == expect, "apply exit %d (want %d): %s\n%s" % (
            r.returncode, expect, r.stderr, r.stdout[-2000:])
        doc = json.loads(r.stdout)
        return {p["pipeline"]: p for p in doc["pipelines"]}, doc

    def plan(self, *names, json_out=False):
        args = ["plan"] + list(names) + (["--json"] if json_out else [])
        return self.run(*args)

    # ---- boto3 views ----
    def qname(self, p, dlq=False):
        return self.prefix + p + ("-dlq" if dlq else "")

    def queue_url(self, name):
        try:
            return self.sqs.get_queue_url(QueueName=name)["QueueUrl"]
        except self.sqs.exceptions.QueueDoesNotExist:
            return None

    def queue_attrs(self, name):
        a = self.sqs.get_queue_attributes(QueueUrl=self.queue_url(name), AttributeNames=["All"])["Attributes"]
        for k in ("CreatedTimestamp", "LastModifiedTimestamp", "ApproximateNumberOfMessages",
                  "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed"):
            a.pop(k, None)
        return a

    def queue_tags(self, name):
        return self.sqs.list_queue_tags(QueueUrl=self.queue_url(name)).get("Tags", {})

    def function(self, p):
        try:
            return self.lam.get_function(FunctionName=self.prefix + p)
        except self.lam.exceptions.ResourceNotFoundException:
            return None

    def mappings(self, p):
        fn = self.function(p)
        if not fn:
            return []
        arn = fn["Configuration"]["FunctionArn"]
        return [m for m in self.lam.list_event_source_mappings()["EventSourceMappings"]
                if m["FunctionArn"] == arn]

    def mapping(self, p):
        ms = self.mappings(p)
        assert len(ms) == 1, ms
        return ms[0]

    def snapshot(self, p):
        """Everything boto3 can see of one pipeline, flattened to key -> value."""
        out = {}
        for k, v in self.queue_attrs(self.qname(p)).items():
            out["queue." + k] = v
        for k, v in self.queue_attrs(self.qname(p, True)).items():
            out["dlq." + k] = v
        out["queue.tags"] = self.queue_tags(self.qname(p))
        out["dlq.tags"] = self.queue_tags(self.qname(p, True))
        fn = self.function(p)
        cfg = fn["Configuration"]
        for k, v in cfg.items():
            if k in ("LastModified", "RevisionId", "LastUpdateStatus", "State", "Version"):
                continue
            out["function." + k] = v
        out["function.tags"] = fn.get("Tags", {})
        out["function.concurrency"] = fn.get("Concurrency", {}).get("ReservedConcurrentExecutions")
        m = self.mapping(p)
        for k, v in m.items():
            if k in ("LastModified", "StateTransitionReason"):
                continue
            out["mapping." + k] = v
        return out


def diff_keys(a, b):
    return {k for k in set(a) | set(b) if a.get(k) != b.get(k)}


def changed_fields(result):
    """{(resource, field or action)} from an apply/plan --json pipeline entry."""
    return {(c["resource"], c.get("field") or c.get("action")) for c in result["changes"]}


class Pipelines(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.moto = Moto.shared()

    def test_create_each_field(self):
        e = Env(self.moto, "cr")
        e.s3.put_object(Bucket="code", Key="other.zip", Body=code_zip("#!/bin/sh\necho other\n"))
        e.put({"pipeline": "dflt"},
              {"pipeline": "one", "concurrency": 1},
              {"pipeline": "full", "concurrency": 7, "timeout": 20, "memory": 256, "batch_size": 20,
               "batch_window": 3, "max_receive_count": 7, "retention": 86400, "dlq_retention": 172800,
               "env": {"API_KEY_NAME": "a", "NN": 3, "FLAG": True}, "code": "other.zip",
               "runtime": "python3.12", "handler": "my.handler", "enabled": False,
               "tags": {"team": "blue", "cost": "42"}},
              {"pipeline": "vis", "timeout": 10, "visibility_timeout": 15})
        res, doc = e.apply()
        for name in ("dflt", "one", "full", "vis"):
            self.assertEqual(res[name]["status"], "ok", res[name])
            self.assertEqual(res[name]["action"], "create")
        role = e.moto.role_arn()

        # defaults: concurrency 2 on the mapping, nothing reserved, visibility 6 x 30
        q = e.queue_attrs(e.qname("dflt"))
        dlq_arn = e.queue_attrs(e.qname("dflt", True))["QueueArn"]
        self.assertEqual(q["VisibilityTimeout"], "180")
        self.assertEqual(q["MessageRetentionPeriod"], "345600")
        self.assertEqual(json.loads(q["RedrivePolicy"]), {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 5})
        self.assertEqual(e.queue_attrs(e.qname("dflt", True))["MessageRetentionPeriod"], "1209600")
        fn = e.function("dflt")
        self.assertNotIn("ReservedConcurrentExecutions", fn.get("Concurrency", {}))
        cfg = fn["Configuration"]
        self.assertEqual((cfg["Timeout"], cfg["MemorySize"], cfg["Runtime"], cfg["Handler"], cfg["Role"]),
                         (30, 128, "provided.al2023", "bootstrap", role))
        self.assertEqual(cfg["Description"], "taskpipe code s3://code/consumer.zip")
        m = e.mapping("dflt")
        self.assertEqual(m["ScalingConfig"], {"MaximumConcurrency": 2})
        self.assertEqual((m["BatchSize"], m["MaximumBatchingWindowInSeconds"], m["State"]), (10, 0, "Enabled"))
        self.assertEqual(m["EventSourceArn"], q["QueueArn"])
        self.assertEqual(m["FunctionResponseTypes"], ["ReportBatchItemFailures"])
        for tags in (e.queue_tags(e.qname("dflt")), e.queue_tags(e.qname("dflt", True)), fn["Tags"]):
            self.assertEqual(tags, {"taskpipe:owner": "taskpipe", "taskpipe:pipeline": "dflt"})

        # concurrency 1: reserved concurrency 1, no ScalingConfig, maxReceiveCount 10
        fn = e.function("one")
        self.assertEqual(fn["Concurrency"]["ReservedConcurrentExecutions"], 1)
        self.assertNotIn("ScalingConfig", e.mapping("one"))
        self.assertEqual(json.loads(e.queue_attrs(e.qname("one"))["RedrivePolicy"])["maxReceiveCount"], 10)

        # every field set
        q = e.queue_attrs(e.qname("full"))
        d = e.queue_attrs(e.qname("full", True))
        self.assertEqual(q["VisibilityTimeout"], "120")  # 6 x 20
        self.assertEqual(q["MessageRetentionPeriod"], "86400")
        self.assertEqual(d["MessageRetentionPeriod"], "172800")
        self.assertEqual(json.loads(q["RedrivePolicy"]), {"deadLetterTargetArn": d["QueueArn"], "maxReceiveCount": 7})
        fn = e.function("full")
        cfg = fn["Configuration"]
        self.assertEqual((cfg["Timeout"], cfg["MemorySize"], cfg["Runtime"], cfg["Handler"]),
                         (20, 256, "python3.12", "my.handler"))
        self.assertEqual(cfg["Environment"]["Variables"], {"API_KEY_NAME": "a", "NN": "3", "FLAG": "true"})
        self.assertEqual(cfg["Description"], "taskpipe code s3://code/other.zip")
        self.assertNotEqual(cfg["CodeSha256"], e.function("dflt")["Configuration"]["CodeSha256"])
        self.assertNotIn("ReservedConcurrentExecutions", fn.get("Concurrency", {}))
        m = e.mapping("full")
        self.assertEqual(m["ScalingConfig"], {"MaximumConcurrency": 7})
        self.assertEqual((m["BatchSize"], m["MaximumBatchingWindowInSeconds"], m["State"]), (20, 3, "Disabled"))
        want_tags = {"taskpipe:owner": "taskpipe", "taskpipe:pipeline": "full", "team": "blue", "cost": "42"}
        for tags in (e.queue_tags(e.qname("full")), e.queue_tags(e.qname("full", True)), fn["Tags"]):
            self.assertEqual(tags, want_tags)

        # explicit visibility timeout wins over 6 x timeout
        self.assertEqual(e.queue_attrs(e.qname("vis"))["VisibilityTimeout"], "15")

    def test_change_each_field(self):
        e = Env(self.moto, "ch")
        e.s3.put_object(Bucket="code", Key="v2.zip", Body=code_zip("#!/bin/sh\necho v2\n"))
        item = {"pipeline": "p", "concurrency": 3, "timeout": 30, "env": {"AA": "1"}, "tags": {"team": "a"}}
        e.put(item)
        res, _ = e.apply("p")
        self.assertEqual(res["p"]["status"], "ok")
        # (item change, snapshot keys that must differ, (resource, field) the apply reports)
        cases = [
            ({"concurrency": 5}, {"mapping.ScalingConfig"}, {("mapping", "ScalingConfig.MaximumConcurrency")}),
            ({"memory": 512}, {"function.MemorySize"}, {("function", "MemorySize")}),
            # visibility_timeout defaults to 6 x timeout: both change
            ({"timeout": 40}, {"function.Timeout", "queue.VisibilityTimeout"},
             {("function", "Timeout"), ("queue", "VisibilityTimeout")}),
            ({"visibility_timeout": 200}, {"queue.VisibilityTimeout"}, {("queue", "VisibilityTimeout")}),
            ({"timeout": 33}, {"function.Timeout"}, {("function", "Timeout")}),
            ({"batch_size": 5}, {"mapping.BatchSize"}, {("mapping", "BatchSize")}),
            ({"batch_window": 4}, {"mapping.MaximumBatchingWindowInSeconds"},
             {("mapping", "MaximumBatchingWindowInSeconds")}),
            ({"max_receive_count": 9}, {"queue.RedrivePolicy"}, {("queue", "RedrivePolicy.maxReceiveCount")}),
            ({"retention": 7200}, {"queue.MessageRetentionPeriod"}, {("queue", "MessageRetentionPeriod")}),
            ({"dlq_retention": 86400}, {"dlq.MessageRetentionPeriod"},
             {("dead-letter queue", "MessageRetentionPeriod")}),
            ({"env": {"AA": "2", "BB": "x"}}, {"function.Environment"}, {("function", "Environment.Variables")}),
            ({"code": "v2.zip"}, {"function.Description", "function.CodeSha256", "function.CodeSize"},
             {("function", "Code")}),
            ({"runtime": "python3.12"}, {"function.Runtime"}, {("function", "Runtime")}),
            ({"handler": "other"}, {"function.Handler"}, {("function", "Handler")}),
            ({"enabled": False}, {"mapping.State"}, {("mapping", "Enabled")}),
            ({"enabled": True}, {"mapping.State"}, {("mapping", "Enabled")}),
            ({"tags": {"team": "b"}}, {"queue.tags", "dlq.tags", "function.tags"},
             {("queue", "Tags.team"), ("dead-letter queue", "Tags.team"), ("function", "Tags.team")}),
            ({"tags": {"team": "b", "Env": "x"}}, {"queue.tags", "dlq.tags", "function.tags"},
             {("queue", "Tags.Env"), ("dead-letter queue", "Tags.Env"), ("function", "Tags.Env")}),
            ({"tags": {}}, {"queue.tags", "dlq.tags", "function.tags"},
             {(r, "Tags." + k) for r in ("queue", "dead-letter queue", "function") for k in ("team", "Env")}),
            ({"concurrency": 1}, {"mapping.ScalingConfig", "function.concurrency"},
             {("mapping", "ScalingConfig.MaximumConcurrency"), ("function", "ReservedConcurrentExecutions")}),
            ({"concurrency": 4}, {"mapping.ScalingConfig", "function.concurrency"},
             {("mapping", "ScalingConfig.MaximumConcurrency"), ("function", "ReservedConcurrentExecutions")}),
            # concurrency 1 raises max_receive_count's default to 10
            ({"concurrency": 1, "max_receive_count": None},
             {"mapping.ScalingConfig", "function.concurrency", "queue.RedrivePolicy"},
             {("mapping", "ScalingConfig.MaximumConcurrency"), ("function", "ReservedConcurrentExecutions"),
              ("queue", "RedrivePolicy.maxReceiveCount")}),
            ({"concurrency": 4, "max_receive_count": 10}, {"mapping.ScalingConfig", "function.concurrency"},
             {("mapping", "ScalingConfig.MaximumConcurrency"), ("function", "ReservedConcurrentExecutions")}),
        ]
        for change, keys, fields in cases:
            with self.subTest(change=change):
                before = e.snapshot("p")
                item.update(change)
                item = {k: v for k, v in item.items() if v is not None}
                e.put(item)
                res, _ = e.apply("p")
                self.assertEqual(res["p"]["status"], "ok", res["p"])
                self.assertEqual(res["p"]["action"], "update")
                after = e.snapshot("p")
                self.assertEqual(diff_keys(before, after), keys,
                                 {k: (before.get(k), after.get(k)) for k in diff_keys(before, after) | keys})
                self.assertEqual(changed_fields(res["p"]), fields, res["p"]["changes"])
                # applied again: nothing left to do
                res, _ = e.apply("p")
                self.assertEqual(res["p"]["changes"], [])
                self.assertEqual(e.plan("p").returncode, 0)
        # the final state, read with boto3
        snap = e.snapshot("p")
        self.assertEqual(snap["function.concurrency"], None)
        self.assertEqual(snap["mapping.ScalingConfig"], {"MaximumConcurrency": 4})
        self.assertEqual(snap["function.MemorySize"], 512)
        self.assertEqual(snap["function.Environment"], {"Variables": {"AA": "2", "BB": "x"}})
        for k in ("queue.tags", "dlq.tags", "function.tags"):
            self.assertEqual(snap[k], {"taskpipe:owner": "taskpipe", "taskpipe:pipeline": "p"})
        self.assertEqual(json.loads(snap["queue.RedrivePolicy"])["maxReceiveCount"], 10)

    def test_delete(self):
        e = Env(self.moto, "del")
        e.put({"pipeline": "gone"}, {"pipeline": "keep"}, {"pipeline": "stay"})
        res, _ = e.apply()
        self.assertTrue(all(r["status"] == "ok" for r in res.values()), res)
        # rm + apply NAME: mapping, function, queue and the empty DLQ go
        gone_fn_arn = e.function("gone")["Configuration"]["FunctionArn"]
        self.assertEqual(e.run("rm", "gone").returncode, 0)
        res, _ = e.apply("gone")
        self.assertEqual(res["gone"]["status"], "ok", res["gone"])
        self.assertEqual(res["gone"]["action"], "delete")
        self.assertEqual(changed_fields(res["gone"]), {("mapping", "delete"), ("function", "delete"),
                                                        ("queue", "delete"), ("dead-letter queue", "delete")})
        self.assertIsNone(e.function("gone"))
        self.assertIsNone(e.queue_url(e.qname("gone")))
        self.assertIsNone(e.queue_url(e.qname("gone", True)))
        self.assertEqual([m for m in e.lam.list_event_source_mappings()["EventSourceMappings"]
                          if m["FunctionArn"] == gone_fn_arn], [])
        # rm + apply --all: a DLQ holding a message is kept and reported
        dlq = e.queue_url(e.qname("keep", True))
        e.sqs.send_message(QueueUrl=dlq, MessageBody="evidence")
        keep_fn_arn = e.function("keep")["Configuration"]["FunctionArn"]
        self.assertEqual(e.run("rm", "keep").returncode, 0)
        res, _ = e.apply()
        self.assertEqual(set(res), {"keep", "stay"})
        self.assertEqual(res["keep"]["status"], "ok", res["keep"])
        self.assertEqual(res["keep"]["action"], "delete")
        self.assertIn(("dead-letter queue", "kept: 1 messages"), changed_fields(res["keep"]))
        self.assertNotIn(("dead-letter queue", "delete"), changed_fields(res["keep"]))
        self.assertIsNone(e.function("keep"))
        self.assertIsNone(e.queue_url(e.qname("keep")))
        self.assertEqual(e.queue_url(e.qname("keep", True)), dlq)
        msgs = e.sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10).get("Messages", [])
        self.assertEqual([m["Body"] for m in msgs], ["evidence"])
        self.assertEqual([m for m in e.lam.list_event_source_mappings()["EventSourceMappings"]
                          if m["FunctionArn"] == keep_fn_arn], [])
        # the untouched pipeline is intact
        self.assertEqual(res["stay"]["changes"], [])
        self.assertIsNotNone(e.function("stay"))
        self.assertEqual(len(e.mappings("stay")), 1)
        # deleted pipelines drop out of later runs
        res, _ = e.apply()
        self.assertEqual(set(res), {"stay"})

    def test_writeup_example(self):
        e = Env(self.moto, "ex")
        e.put({"pipeline": "A", "concurrency": 2}, {"pipeline": "B", "concurrency": 1},
              {"pipeline": "C", "concurrency": 2})
        res, _ = e.apply()
        self.assertEqual({k: v["status"] for k, v in res.items()}, {"A": "ok", "B": "ok", "C": "ok"})
        for name, limit in (("A", 2), ("C", 2)):
            self.assertEqual(e.mapping(name)["ScalingConfig"], {"MaximumConcurrency": limit})
            self.assertNotIn("ReservedConcurrentExecutions", e.function(name).get("Concurrency", {}))
        self.assertNotIn("ScalingConfig", e.mapping("B"))
        self.assertEqual(e.function("B")["Concurrency"]["ReservedConcurrentExecutions"], 1)
        # each mapping reads its own queue
        for name in "ABC":
            self.assertEqual(e.mapping(name)["EventSourceArn"], e.queue_attrs(e.qname(name))["QueueArn"])

    def test_200_pipelines_then_zero_mutations(self):
        e = Env(self.moto, "big")
        n = 200
        table = e.prefix + "config"
        for start in range(0, n, 25):
            e.ddb.batch_write_item(RequestItems={table: [
                {"PutRequest": {"Item": {"pipeline": {"S": "g%03d" % i}, "concurrency": {"N": str(2 + i % 5)}}}}
                for i in range(start, min(n, start + 25))]})
        proxy = FaultProxy(self.moto.endpoint).start()
        try:
            res, _ = e.apply(endpoint=proxy.endpoint)
            self.assertEqual(len(res), n)
            bad = {k: v for k, v in res.items() if v["status"] != "ok" or v["action"] != "create"}
            self.assertEqual(bad, {})
            # answered creates, as the proxy saw them (a transient fault may add a retry)
            ok = collections.Counter("%s:%s" % (x["service"], x["operation"]) for x in proxy.log()
                                     if x["status"] and 200 <= x["status"] < 300)
            self.assertEqual(ok["lambda:CreateFunction"], n)
            self.assertEqual(ok["lambda:CreateEventSourceMapping"], n)
            self.assertGreaterEqual(ok["sqs:CreateQueue"], 2 * n)
            self.assertLessEqual(proxy.counts()["sqs:CreateQueue"], 2 * n + 5)
            # boto3: every function and mapping is there with its limit
            names = set()
            for page in e.lam.get_paginator("list_functions").paginate():
                names |= {f["FunctionName"] for f in page["Functions"] if f["FunctionName"].startswith(e.prefix)}
            self.assertEqual(len(names), n)
            esm = {m["FunctionArn"].rsplit(":", 1)[1]: m for m in
                   e.lam.list_event_source_mappings()["EventSourceMappings"]}
            for i in (0, 1, 77, 199):
                self.assertEqual(esm[e.prefix + "g%03d" % i]["ScalingConfig"]["MaximumConcurrency"], 2 + i % 5)

            proxy.reset()
            res, _ = e.apply(endpoint=proxy.endpoint)
            self.assertEqual(len(res), n)
            self.assertTrue(all(v["status"] == "ok" and v["changes"] == [] for v in res.values()))
            self.assertEqual(proxy.mutating_counts(), {})
            counts = proxy.counts()
            self.assertEqual({k: v for k, v in counts.items() if k.startswith("lambda:")}, {}, counts)

            r = e.run("plan", endpoint=proxy.endpoint)
            self.assertEqual(r.returncode, 0, r.stdout[-2000:] + r.stderr)
        finally:
            proxy.stop()

    def test_name_collision(self):
        e = Env(self.moto, "col")
        foreign = e.sqs.create_queue(QueueName=e.qname("taken"),
                                     Attributes={"VisibilityTimeout": "77", "MessageRetentionPeriod": "3600"},
                                     tags={"team": "someone-else"})["QueueUrl"]
        before_attrs = e.queue_attrs(e.qname("taken"))
        before_tags = e.queue_tags(e.qname("taken"))
        e.put({"pipeline": "taken"}, {"pipeline": "free"})
        res, _ = e.apply(expect=1)
        self.assertEqual(res["taken"]["status"], "error")
        self.assertEqual(res["taken"]["error"]["code"], "NameCollision")
        self.assertIn(e.qname("taken"), res["taken"]["error"]["message"])
        self.assertEqual(res["free"]["status"], "ok")
        self.assertEqual(len(e.mappings("free")), 1)
        # nothing of the colliding pipeline was created, the foreign queue is as it was
        self.assertIsNone(e.function("taken"))
        self.assertIsNone(e.queue_url(e.qname("taken", True)))
        self.assertEqual(e.queue_attrs(e.qname("taken")), before_attrs)
        self.assertEqual(e.queue_tags(e.qname("taken")), before_tags)
        # removing the item must not delete someone else's queue either
        self.assertEqual(e.run("rm", "taken").returncode, 0)
        res, _ = e.apply("taken", expect=1)
        self.assertEqual(res["taken"]["error"]["code"], "NameCollision")
        self.assertEqual(e.queue_url(e.qname("taken")), foreign)
        self.assertEqual(e.queue_attrs(e.qname("taken")), before_attrs)
        self.assertEqual(e.queue_tags(e.qname("taken")), before_tags)
        res, _ = e.apply(expect=1)
        self.assertEqual(e.queue_url(e.qname("taken")), foreign)
        self.assertEqual(e.queue_attrs(e.qname("taken")), before_attrs)

    def test_plan_field_diffs(self):
        e = Env(self.moto, "pl")
        e.put({"pipeline": "p", "memory": 128})
        r = e.plan()
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("would create", r.stdout)
        self.assertIsNone(e.function("p"))  # plan changes nothing
        self.assertIsNone(e.queue_url(e.qname("p")))
        e.apply()
        r = e.plan()
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        e.put({"pipeline": "p", "memory": 256, "batch_size": 4})
        before = e.snapshot("p")
        r = e.plan()
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("function.MemorySize: 128 -> 256", r.stdout)
        self.assertIn("mapping.BatchSize: 10 -> 4", r.stdout)
        r = e.plan(json_out=True)
        self.assertEqual(r.returncode, 2)
        doc = json.loads(r.stdout)
        ch = doc["pipelines"][0]["changes"]
        self.assertEqual(sorted((c["resource"], c["field"], c["from"], c["to"]) for c in ch),
                         [("function", "MemorySize", "128", "256"), ("mapping", "BatchSize", "10", "4")])
        self.assertEqual(e.snapshot("p"), before)
        e.apply()
        self.assertEqual(e.function("p")["Configuration"]["MemorySize"], 256)
        r = e.plan()
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        # Architectures are diffed too (applied with UpdateFunctionCode)
        e.put({"pipeline": "p", "memory": 256, "batch_size": 4, "architecture": "arm64"})
        r = e.plan()
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("function.Architectures: x86_64 -> arm64", r.stdout)

class PolicySkip(unittest.TestCase):
    """A policy is a function of item and ctx: an unchanged pipeline whose
    inputs (item, policy source, ctx but its "now") are what its record's
    input_hash says is confirmed without calling the policy; any change to
    one of them, --force, plan and drift call it."""

    @classmethod
    def setUpClass(cls):
        cls.moto = Moto.shared()

    def setUp(self):
        import tempfile
        self.dir = tempfile.mkdtemp()
        self.pol = os.path.join(self.dir, "policy.lua")
        self.write_policy("")
        self.e = Env(self.moto, "ps", TASKPIPE_POLICY=self.pol, TASKPIPE_LOG_LEVEL="INFO")

    def write_policy(self, extra):
        # the default policy, printing a marker at every call
        with open(os.path.join(os.path.dirname(__file__), "..", "..", "policies", "policy.lua")) as f:
            src = f.read()
        last = "return { pipeline = pipeline, rollout = rollout, rollout_health = rollout_health, limit_group = limit_group }"
        self.assertIn(last, src)
        src = src.replace(last, "return { pipeline = function(item, ctx) print('policy-call', item.pipeline) "
                          "return pipeline(item, ctx) end, rollout = rollout, rollout_health = rollout_health, limit_group = limit_group }\n" + extra)
        with open(self.pol, "w") as f:
            f.write(src)

    def calls(self, r):
        """Pipelines the policy was called for, from the log (stderr)."""
        out = collections.Counter()
        for line in r.stderr.splitlines():
            try:
                msg = json.loads(line).get("message", "")
            except ValueError:
                continue
            if msg.startswith("policy: policy-call\t"):
                out[msg.split("\t", 1)[1]] += 1
        return out

    def apply(self, *args, **env):
        e = self.e
        saved = dict(e.env)
        e.env.update(env)
        try:
            r = e.run("apply", "--all", "--json", *args)
        finally:
            e.env = saved
        self.assertEqual(r.returncode, 0, r.stderr[-2000:] + r.stdout[-2000:])
        doc = json.loads(r.stdout)
        res = {p["pipeline"]: p for p in doc["pipelines"]}
        for name, p in res.items():
            self.assertEqual(p["status"], "ok", p)
        return res, self.calls(r)

    def state(self, name):
        return self.e.ddb.get_item(TableName=self.e.prefix + "state", Key={"pk": {"S": "pipeline#" + name}},
                                   ConsistentRead=True)["Item"]

    def test_unchanged_inputs_skip_the_call(self):
        e = self.e
        e.put({"pipeline": "a"}, {"pipeline": "b"})
        res, calls = self.apply()
        self.assertEqual({k: v["action"] for k, v in res.items()}, {"a": "create", "b": "create"})
        # once each: the re-read after the lease finds the same item
        self.assertEqual(calls, {"a": 1, "b": 1})
        self.assertIn("input_hash", self.state("a"))
        # unchanged: confirmed, not one policy call
        res, calls = self.apply()
        self.assertEqual({k: v["action"] for k, v in res.items()}, {"a": "none", "b": "none"})
        self.assertEqual(calls, {})
        self.assertEqual(res["a"]["spec_hash"], self.state("a")["hash"]["S"])
        # --force calls it
        res, calls = self.apply("--force")
        self.assertEqual(set(calls), {"a", "b"})
        # the item changed: called for that one, converges
        e.put({"pipeline": "a", "memory": 256})
        res, calls = self.apply()
        self.assertEqual(res["a"]["action"], "update")
        self.assertEqual(res["b"]["action"], "none")
        self.assertEqual(calls, {"a": 1})
        self.assertEqual(e.function("a")["Configuration"]["MemorySize"], 256)
        self.assertEqual(self.apply()[1], {})
        # the policy changed: called for all, nothing to change
        self.write_policy("-- v2\n")
        res, calls = self.apply()
        self.assertEqual(set(calls), {"a", "b"})
        self.assertEqual({k: v["action"] for k, v in res.items()}, {"a": "none", "b": "none"})
        # a confirm writes nothing, so the old input_hash stays: called again
        # until the next write, which --force makes (it observes and records)
        before = self.state("a")
        self.assertEqual(set(self.apply()[1]), {"a", "b"})
        self.assertEqual(self.state("a"), before)
        self.apply("--force")
        self.assertNotEqual(self.state("a")["input_hash"], before["input_hash"])
        self.assertEqual(self.apply()[1], {})
        # a setting in ctx changed (the code key): called, converges
        e.s3.put_object(Bucket="code", Key="consumer-ps2.zip", Body=code_zip("#!/bin/sh\necho two\n"))
        e.env["TASKPIPE_CODE_KEY"] = "consumer-ps2.zip"
        e.env["TASKPIPE_SETTINGS_FROM_ENV"] = "1"   # deliberately, for every process (settings#instance)
        res, calls = self.apply()
        self.assertEqual(set(calls), {"a", "b"})
        self.assertEqual({k: v["action"] for k, v in res.items()}, {"a": "update", "b": "update"})
        self.assertIn("consumer-ps2.zip", e.function("b")["Configuration"]["Description"])
        self.assertEqual(self.apply()[1], {})

    def test_old_record_without_input_hash(self):
        e = self.e
        e.put({"pipeline": "a"})
        self.apply()
        # as written before input_hash existed
        e.ddb.update_item(TableName=e.prefix + "state", Key={"pk": {"S": "pipeline#a"}},
                          UpdateExpression="REMOVE input_hash")
        before = self.state("a")
        res, calls = self.apply()
        self.assertEqual(res["a"]["action"], "none")
        self.assertEqual(calls["a"], 1)  # today's path: the policy, then the spec hash
        self.assertEqual(self.state("a"), before)  # a confirm writes nothing
        # the next write adds it
        e.put({"pipeline": "a", "memory": 256})
        res, calls = self.apply()
        self.assertEqual(res["a"]["action"], "update")
        self.assertIn("input_hash", self.state("a"))
        self.assertEqual(self.apply()[1], {})

    def test_plan_and_drift_call_the_policy(self):
        e = self.e
        e.put({"pipeline": "a"})
        self.apply()
        self.assertEqual(self.apply()[1], {})
        r = e.run("plan")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(self.calls(r)["a"], 1)
        r = e.run("drift", "--json")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(self.calls(r)["a"], 1)


if __name__ == "__main__":
    unittest.main()
