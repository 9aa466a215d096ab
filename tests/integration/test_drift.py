"""taskpipe drift against moto: drift made behind taskpipe's back with boto3,
reported field by field, repaired by --fix; a collision that is reported and
never touched; the cursor of --max-pipelines. The call counts of 1,000- and
200-pipeline fleets are in test_drift_fleet.py (their own module, so they
run beside these).

These tests run their own moto_server with moto's default Lambda backend:
the docker-less one the shared harness selects (use_docker=false) is
invisible to the Resource Groups Tagging API, which drift uses for the tags
of the whole fleet. Creating functions needs no Docker; nothing here invokes
one.

The 1,000-pipeline fleet is created directly with boto3 (queues, DLQs,
functions, mappings with the names, tags, Description marker and settings
the default policy asks for), in parallel, because apply --all against moto
takes minutes; a drift check of it must then find everything in sync."""
import concurrent.futures
import io
import itertools
import json
import os
import signal
import subprocess
import sys
import time
import unittest
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Moto, run_taskpipe, TASKPIPE  # noqa: E402
from awsproxy import FaultProxy  # noqa: E402

_seq = itertools.count()
OWNER = "taskpipe"


class DockerlessDefaultMoto(Moto):
    """moto_server with its default Lambda backend (see the module doc)."""

    def configure(self):
        pass


_moto = None


def shared_moto():
    global _moto
    if _moto is None:
        import atexit
        _moto = DockerlessDefaultMoto()
        atexit.register(_moto.stop)
    return _moto


def code_zip():
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w") as z:
        z.writestr("bootstrap", "#!/bin/sh\necho consumer\n")
    return b.getvalue()


class Env:
    """One taskpipe instance: own prefix and tables, shared code bucket."""

    def __init__(self, moto, tag="d"):
        n = next(_seq)
        self.moto = moto
        self.prefix = "%s%d-" % (tag, os.getpid() % 1000 + n * 1000)
        self.role = moto.role_arn()
        self.env = moto.env(TASKPIPE_CODE_BUCKET="code", TASKPIPE_CODE_KEY="consumer.zip",
                            TASKPIPE_ROLE_ARN=self.role, TASKPIPE_PREFIX=self.prefix,
                            TASKPIPE_CONFIG_TABLE=self.prefix + "config",
                            TASKPIPE_STATE_TABLE=self.prefix + "state")
        self.s3 = moto.client("s3")
        try:
            self.s3.create_bucket(Bucket="code")
        except self.s3.exceptions.BucketAlreadyOwnedByYou:
            pass
        self.s3.put_object(Bucket="code", Key="consumer.zip", Body=code_zip())
        r = self.run("init")
        assert r.returncode == 0, r.stderr
        self.sqs = moto.client("sqs")
        self.lam = moto.client("lambda")
        self.ddb = moto.client("dynamodb")

    def run(self, *args, endpoint=None, timeout=900):
        env = dict(self.env)
        if endpoint:
            env["AWS_ENDPOINT_URL"] = endpoint
        return run_taskpipe(list(args), env, timeout=timeout)

    def put(self, *items, check=True):
        """put, each item checked by the policy first unless check=False
        (for items a test means apply or drift to refuse)."""
        for it in items:
            r = run_taskpipe(["put"] + ([] if check else ["--no-check"]) + ["-"], self.env, input=json.dumps(it))
            assert r.returncode == 0, r.stderr

    def drift(self, *args, expect=None, endpoint=None):
        r = self.run("drift", "--json", *args, endpoint=endpoint)
        doc = json.loads(r.stdout) if r.stdout.strip() else None
        if expect is not None:
            assert r.returncode == expect, "drift %s exit %d (want %d): %s\n%s" % (
                " ".join(args), r.returncode, expect, r.stderr[-2000:], r.stdout[-3000:])
        return r.returncode, doc

    def url(self, name):
        try:
            return self.sqs.get_queue_url(QueueName=name)["QueueUrl"]
        except self.sqs.exceptions.QueueDoesNotExist:
            return None

    def attrs(self, name):
        return self.sqs.get_queue_attributes(QueueUrl=self.url(name), AttributeNames=["All"])["Attributes"]

    def mappings(self, fn):
        arn = self.lam.get_function(FunctionName=fn)["Configuration"]["FunctionArn"]
        return [m for m in self.lam.list_event_source_mappings()["EventSourceMappings"]
                if m["FunctionArn"] == arn]


def by_name(doc):
    return {p["pipeline"]: p for p in doc["pipelines"]}


def drift_set(p):
    return {(d["resource"], d["field"], d["expected"], d["actual"]) for d in p["drift"]}


def check_shape(t, doc):
    t.assertEqual(set(doc) >= {"pipelines", "orphans", "summary", "cursor", "calls", "lambda_calls",
                               "exit_code", "elapsed_ms"}, True, sorted(doc))
    for p in doc["pipelines"]:
        t.assertIn(p["status"], ("in_sync", "drifted", "missing", "collision", "error"))
        t.assertIsInstance(p["drift"], list)
        for d in p["drift"]:
            # "note": why an entry matters (fell back to COPY, deprecated runtime, ...)
            t.assertIn(sorted(set(d) - {"note"}), [["actual", "expected", "field", "resource"]])
    t.assertEqual(doc["lambda_calls"], sum(v for k, v in doc["calls"].items() if k.startswith("lambda:")))


class DriftScenarios(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.moto = shared_moto()

    def test_drift_reported_exactly_then_fixed(self):
        e = Env(self.moto, "dr")
        P = e.prefix
        e.put({"pipeline": "vis"}, {"pipeline": "envp", "env": {"API_KEY": "s3cr3t-value"}},
              {"pipeline": "fn"}, {"pipeline": "map"}, {"pipeline": "dis"})
        r = e.run("apply", "--all", "--json")
        self.assertEqual(r.returncode, 0, r.stderr + r.stdout[-2000:])
        code, doc = e.drift(expect=0)
        check_shape(self, doc)
        self.assertEqual({p: s["status"] for p, s in by_name(doc).items()},
                         {n: "in_sync" for n in ("vis", "envp", "fn", "map", "dis")})
        self.assertEqual(doc["orphans"], [])

        # Drift behind taskpipe's back.
        e.sqs.set_queue_attributes(QueueUrl=e.url(P + "vis"), Attributes={"VisibilityTimeout": "99"})
        e.lam.update_function_configuration(FunctionName=P + "envp", Environment={
            "Variables": {"API_KEY": "leaked-other", "EXTRA_KEY": "zzz-secret"}})
        e.lam.delete_function(FunctionName=P + "fn")
        for m in e.mappings(P + "map"):
            e.lam.delete_event_source_mapping(UUID=m["UUID"])
        for m in e.mappings(P + "dis"):
            e.lam.update_event_source_mapping(UUID=m["UUID"], Enabled=False)
        e.sqs.create_queue(QueueName=P + "ghost", tags={"taskpipe:owner": OWNER, "taskpipe:pipeline": "ghost"})

        r = e.run("drift", "--json")
        self.assertEqual(r.returncode, 2, r.stderr)
        doc = json.loads(r.stdout)
        check_shape(self, doc)
        self.assertNotIn("s3cr3t", r.stdout)
        self.assertNotIn("leaked-other", r.stdout)
        self.assertNotIn("zzz-secret", r.stdout)
        p = by_name(doc)
        self.assertEqual(p["vis"]["status"], "drifted")
        self.assertEqual(drift_set(p["vis"]), {("queue", "VisibilityTimeout", "180", "99")})
        self.assertEqual(p["envp"]["status"], "drifted")
        self.assertEqual(drift_set(p["envp"]), {
            ("function", "Environment.Variables.API_KEY", "(set)", "(different value)"),
            ("function", "Environment.Variables.EXTRA_KEY", "(absent)", "(set)")})
        self.assertEqual(p["fn"]["status"], "missing")
        self.assertIn(("function", "(resource)", "present", "missing"), drift_set(p["fn"]))
        self.assertEqual(p["map"]["status"], "missing")
        self.assertEqual(drift_set(p["map"]), {("mapping", "(resource)", "present", "missing")})
        self.assertEqual(p["dis"]["status"], "drifted")
        self.assertEqual(drift_set(p["dis"]), {("mapping", "Enabled", "true", "false")})
        self.assertFalse(any(x["code_behind"] for x in doc["pipelines"]))
        self.assertEqual(doc["orphans"], [{"pipeline": "ghost", "resources": [
            {"resource": "queue", "name": P + "ghost"}]}])
        self.assertEqual(doc["summary"]["drifted"], 3)
        self.assertEqual(doc["summary"]["missing"], 2)
        self.assertEqual(doc["summary"]["orphans"], 1)
        self.assertEqual(doc["exit_code"], 2)
        # Nothing was changed by looking.
        self.assertEqual(e.attrs(P + "vis")["VisibilityTimeout"], "99")
        self.assertIsNotNone(e.url(P + "ghost"))
        self.assertEqual(set(k for k in doc["calls"] if k.startswith("lambda:")) -
                         {"lambda:GetAccountSettings"},
                         {"lambda:ListFunctions", "lambda:ListEventSourceMappings"})

        # The text table says the same.
        r = e.run("drift")
        self.assertEqual(r.returncode, 2)
        self.assertIn("queue.VisibilityTimeout: expected 180, actual 99", r.stdout)
        self.assertIn("orphan: queue %sghost" % P, r.stdout)

        code, doc = e.drift("--fix", expect=0)
        p = by_name(doc)
        for n in ("vis", "envp", "fn", "map", "dis"):
            self.assertEqual(p[n]["fix"]["status"], "fixed", p[n])
        self.assertEqual(doc["orphans"][0]["fix"]["status"], "fixed")
        self.assertEqual(doc["summary"]["fixed"], 6)

        # Repaired, as boto3 sees it.
        self.assertEqual(e.attrs(P + "vis")["VisibilityTimeout"], "180")
        cfg = e.lam.get_function(FunctionName=P + "envp")["Configuration"]
        self.assertEqual(cfg["Environment"]["Variables"], {"API_KEY": "s3cr3t-value"})
        self.assertEqual(e.lam.get_function(FunctionName=P + "fn")["Configuration"]["FunctionName"], P + "fn")
        self.assertGreaterEqual(len(e.mappings(P + "map")), 1)
        self.assertTrue(all(m["State"] == "Enabled" for m in e.mappings(P + "dis")))
        self.assertIsNone(e.url(P + "ghost"))

        code, doc = e.drift(expect=0)
        self.assertEqual({s["status"] for s in doc["pipelines"]}, {"in_sync"})
        self.assertEqual(doc["orphans"], [])

    def test_collision_reported_never_touched(self):
        e = Env(self.moto, "dc")
        P = e.prefix
        url = e.sqs.create_queue(QueueName=P + "c1", Attributes={"VisibilityTimeout": "7"})["QueueUrl"]
        e.put({"pipeline": "c1"}, {"pipeline": "ok1"})
        r = e.run("apply", "--all", "--json")
        self.assertEqual(r.returncode, 1)   # c1 collides, ok1 applies
        for args in ((), ("--fix",), ()):
            code, doc = e.drift(*args, expect=2)
            check_shape(self, doc)
            p = by_name(doc)
            self.assertEqual(p["c1"]["status"], "collision")
            self.assertEqual(drift_set(p["c1"]), {
                ("queue", "owner", "taskpipe:owner=" + OWNER, "(no taskpipe:owner tag of this instance)")})
            self.assertNotIn("fix", p["c1"])
            self.assertEqual(p["ok1"]["status"], "in_sync")
            self.assertEqual(doc["summary"]["collision"], 1)
        # Untouched: attributes, no tags, no function, no DLQ made for it.
        a = e.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        self.assertEqual(a["VisibilityTimeout"], "7")
        self.assertNotIn("RedrivePolicy", a)
        self.assertEqual(e.sqs.list_queue_tags(QueueUrl=url).get("Tags", {}), {})
        with self.assertRaises(e.lam.exceptions.ResourceNotFoundException):
            e.lam.get_function(FunctionName=P + "c1")

    def test_cursor_walks_the_fleet(self):
        e = Env(self.moto, "du")
        names = ["a", "b", "c", "d", "e"]
        e.put(*({"pipeline": n} for n in names))
        seen, completes = [], []
        for _ in range(3):
            code, doc = e.drift("--max-pipelines", "2")
            self.assertEqual(code, 2)   # never applied: all missing
            seen += [p["pipeline"] for p in doc["pipelines"]]
            completes.append(doc["cursor"]["complete"])
        self.assertEqual(seen, names)
        self.assertEqual(completes, [False, False, True])
        item = e.ddb.get_item(TableName=e.prefix + "state", Key={"pk": {"S": "drift#cursor"}})["Item"]
        self.assertEqual(item["after"]["S"], "")
        code, doc = e.drift("--max-pipelines", "2")
        self.assertEqual([p["pipeline"] for p in doc["pipelines"]], ["a", "b"])

    def test_exit_1_on_policy_error(self):
        e = Env(self.moto, "de")
        e.put({"pipeline": "bad", "concurrency": 5000}, check=False)
        code, doc = e.drift(expect=1)
        p = by_name(doc)["bad"]
        self.assertEqual(p["status"], "error")
        self.assertEqual(p["error"]["code"], "PolicyRejected")


    def test_tagging_lag_is_not_a_collision(self):
        """The Tagging API does not show resources created seconds ago
        (modelled: GetResources answers an empty list). Drift must ask
        ListQueueTags / GetFunction (for its Tags) before calling our own new queues and
        functions collisions; a real collision stays one."""
        e = Env(self.moto, "dl")
        P = e.prefix
        e.put({"pipeline": "n1"}, {"pipeline": "n2"}, {"pipeline": "c9"})
        e.sqs.create_queue(QueueName=P + "c9", tags={"taskpipe:owner": "someone-else"})
        r = e.run("apply", "--all", "--json")
        self.assertEqual(r.returncode, 1, r.stderr)   # c9 collides
        with FaultProxy(self.moto.endpoint) as proxy:
            proxy.add_rule({"match": {"service": "tagging", "operation": "GetResources"}, "times": -1,
                            "action": {"status": 200, "body": json.dumps({"ResourceTagMappingList": []}),
                                       "headers": {"Content-Type": "application/x-amz-json-1.1"}}})
            code, doc = e.drift(endpoint=proxy.endpoint)
            counts = proxy.counts()
        check_shape(self, doc)
        p = by_name(doc)
        self.assertEqual(p["n1"]["status"], "in_sync", p["n1"])
        self.assertEqual(p["n2"]["status"], "in_sync", p["n2"])
        self.assertEqual(p["c9"]["status"], "collision")
        self.assertEqual(code, 2)   # only because of c9
        self.assertEqual(doc["orphans"], [])
        # Fallback per resource: 2 queues each for n1, n2, and c9's foreign queue; 2 functions.
        self.assertEqual(doc["tag_fallback"]["queues"], 5)
        self.assertEqual(doc["tag_fallback"]["functions"], 2)
        self.assertEqual(counts.get("sqs:ListQueueTags"), 5)
        self.assertEqual(counts.get("lambda:GetFunction"), 2)
        # Settled (the tagging answer is whole): no fallback at all.
        with FaultProxy(self.moto.endpoint) as proxy:
            code, doc = e.drift(endpoint=proxy.endpoint)
            counts = proxy.counts()
        self.assertEqual(doc["tag_fallback"]["queues"], 1)   # c9's foreign queue
        self.assertEqual(doc["tag_fallback"]["functions"], 0)
        self.assertNotIn("lambda:GetFunction", counts)

    def test_stale_tags_reported_and_removed_like_apply(self):
        """A user tag the item drops is removed by apply (rc_stale_tags);
        drift reports the same difference and --fix removes it."""
        e = Env(self.moto, "dt")
        P = e.prefix
        e.put({"pipeline": "tg", "tags": {"team": "a", "cost": "x1"}})
        self.assertEqual(e.run("apply", "--all").returncode, 0)
        e.drift(expect=0)
        e.put({"pipeline": "tg", "tags": {"team": "b"}})
        code, doc = e.drift(expect=2)
        p = by_name(doc)["tg"]
        self.assertEqual(p["status"], "drifted")
        want = set()
        for res in ("queue", "dead-letter queue", "function"):
            want |= {(res, "Tags.team", "b", "a"), (res, "Tags.cost", "(absent)", "x1")}
        self.assertEqual(drift_set(p), want)
        code, doc = e.drift("--fix", expect=0)
        self.assertEqual(by_name(doc)["tg"]["fix"]["status"], "fixed")
        tags = e.sqs.list_queue_tags(QueueUrl=e.url(P + "tg"))["Tags"]
        self.assertEqual({k: v for k, v in tags.items() if not k.startswith("taskpipe:")}, {"team": "b"})
        code, doc = e.drift(expect=0)
        self.assertEqual(by_name(doc)["tg"]["status"], "in_sync")


    def test_stale_taskpipe_tag_reported_and_removed(self):
        """A taskpipe:* tag taskpipe does not set (left by an older version or
        by hand) is stale in taskpipe's own namespace: drift reports it as
        apply's diff does, and --fix removes it; other tags stay."""
        e = Env(self.moto, "ds")
        P = e.prefix
        e.put({"pipeline": "st"})
        self.assertEqual(e.run("apply", "--all").returncode, 0)
        e.drift(expect=0)
        e.sqs.tag_queue(QueueUrl=e.url(P + "st"), Tags={"taskpipe:legacy": "x", "team": "theirs"})
        arn = e.lam.get_function(FunctionName=P + "st")["Configuration"]["FunctionArn"]
        e.lam.tag_resource(Resource=arn, Tags={"taskpipe:legacy": "y"})
        code, doc = e.drift(expect=2)
        p = by_name(doc)["st"]
        self.assertEqual(p["status"], "drifted", p)
        self.assertEqual(drift_set(p), {("queue", "Tags.taskpipe:legacy", "(absent)", "x"),
                                        ("function", "Tags.taskpipe:legacy", "(absent)", "y")})
        code, doc = e.drift("--fix", expect=0)
        self.assertEqual(by_name(doc)["st"]["fix"]["status"], "fixed", doc)
        tags = e.sqs.list_queue_tags(QueueUrl=e.url(P + "st"))["Tags"]
        self.assertNotIn("taskpipe:legacy", tags)
        self.assertEqual(tags.get("team"), "theirs")
        self.assertNotIn("taskpipe:legacy", e.lam.list_tags(Resource=arn)["Tags"])
        code, doc = e.drift(expect=0)
        self.assertEqual(by_name(doc)["st"]["status"], "in_sync")

    def lease_items(self, e):
        out = {}
        for it in e.ddb.scan(TableName=e.prefix + "state")["Items"]:
            if it["pk"]["S"].startswith("lease#"):
                out[it["pk"]["S"][6:]] = it
        return out

    def popen(self, e, args, endpoint, **extra):
        env = dict(e.env, AWS_ENDPOINT_URL=endpoint, **extra)
        return subprocess.Popen([TASKPIPE] + list(args), env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def test_two_concurrent_fix_runs_never_share_a_pipeline(self):
        """Two drift --fix runs at once (two scheduled invocations
        overlapping): each has its own lease holder, so every drifted
        pipeline is changed by exactly one of them; the other reports
        LeaseHeld for it."""
        e = Env(self.moto, "dx")
        P = e.prefix
        names = ["x1", "x2", "x3"]
        e.put(*({"pipeline": n} for n in names))
        self.assertEqual(e.run("apply", "--all").returncode, 0)
        for n in names:
            e.lam.update_function_configuration(FunctionName=P + n, MemorySize=256)
        with FaultProxy(self.moto.endpoint) as proxy:
            # The fix is slow: both runs see the drift before either repairs it.
            proxy.add_rule({"match": {"operation": "UpdateFunctionConfiguration"}, "times": -1,
                            "action": {"delay": 1.5}})
            runs = [self.popen(e, ["drift", "--fix", "--json"], proxy.endpoint) for _ in range(2)]
            outs = [r.communicate(timeout=300) for r in runs]
            log = proxy.log()
        docs = [json.loads(o[0]) for o in outs]
        for n in names:
            updates = [x for x in log if x["operation"] == "UpdateFunctionConfiguration"
                       and x["path"].endswith("/functions/%s%s/configuration" % (P, n))]
            self.assertEqual(len(updates), 1, (n, [d["pipelines"] for d in docs]))
            fixes = [by_name(d)[n].get("fix", {}) for d in docs]
            self.assertEqual(sorted(f.get("status", "") for f in fixes), ["failed", "fixed"], fixes)
            failed = [f for f in fixes if f.get("status") == "failed"][0]
            self.assertEqual(failed["error"]["code"], "LeaseHeld")
        for n in names:
            self.assertEqual(e.lam.get_function(FunctionName=P + n)["Configuration"]["MemorySize"], 128)
        e.drift(expect=0)

    def test_killed_fix_run_short_leases_state_of_what_it_finished(self):
        """drift --fix --deadline 20 killed (SIGKILL) in the middle of its
        repair: its leases end within the run's size (20 s + 10 s margin, not
        900 s); a pipeline that failed before the kill has its state written
        already; after the leases expire (skew margin 1 s here) a rerun
        converges."""
        e = Env(self.moto, "dk")
        P = e.prefix
        e.put({"pipeline": "k1"}, {"pipeline": "k2"})
        self.assertEqual(e.run("apply", "--all").returncode, 0)
        st0 = e.ddb.get_item(TableName=P + "state", Key={"pk": {"S": "pipeline#k1"}})["Item"]
        self.assertEqual(st0["status"]["S"], "ok")
        e.sqs.set_queue_attributes(QueueUrl=e.url(P + "k1"), Attributes={"VisibilityTimeout": "99"})
        e.lam.update_function_configuration(FunctionName=P + "k2", MemorySize=256)
        with FaultProxy(self.moto.endpoint) as proxy:
            # k1's queue repair fails for good (an early step); k2's function
            # repair hangs (a later step) until the run is killed.
            proxy.add_rule({"match": {"operation": "SetQueueAttributes"}, "times": -1, "action": {
                "status": 400, "headers": {"x-amzn-ErrorType": "InvalidAttributeValue"},
                "body": json.dumps({"__type": "com.amazonaws.sqs#InvalidAttributeValue",
                                    "message": "Invalid value for the parameter VisibilityTimeout."})}})
            proxy.add_rule({"match": {"operation": "UpdateFunctionConfiguration"}, "times": -1,
                            "action": {"stall": 60}})
            t0 = time.time()
            run = self.popen(e, ["drift", "--fix", "--deadline", "20", "--json"], proxy.endpoint)
            while time.time() - t0 < 30 and not any(
                    x["operation"] == "UpdateFunctionConfiguration" for x in proxy.log()):
                time.sleep(0.1)
            time.sleep(0.3)
            run.send_signal(signal.SIGKILL)
            run.communicate()
            self.assertTrue(any(x["operation"] == "UpdateFunctionConfiguration" for x in proxy.log()))
            # the run started before its first request reached the proxy
            started = min(x["time"] for x in proxy.log())
            leases = self.lease_items(e)
            self.assertIn("k2", leases)
            exp = int(leases["k2"]["expires_at"]["N"])
            self.assertLessEqual(exp, started + 20 + 10 + 2, "lease outlives the run: %d s" % (exp - started))
            st = e.ddb.get_item(TableName=P + "state", Key={"pk": {"S": "pipeline#k1"}})["Item"]
            self.assertEqual(st["status"]["S"], "error", st)
            self.assertEqual(st["error_code"]["S"], "InvalidAttributeValue")
        # The lease blocks others until it expires (and the skew margin
        # passes). (The stalled request reached moto when the proxy stopped,
        # as one in flight at a kill reaches AWS: k2 may be in sync by now.)
        env = dict(e.env, TASKPIPE_LEASE_SKEW_S="1")
        r = run_taskpipe(["drift", "--fix", "--json"], env)
        k2 = by_name(json.loads(r.stdout))["k2"]
        if time.time() < exp and "fix" in k2:
            self.assertEqual(k2["fix"]["error"]["code"], "LeaseHeld")
        while time.time() < exp + 2.5:
            time.sleep(0.2)
        r = run_taskpipe(["drift", "--fix", "--json"], env)
        self.assertEqual(r.returncode, 0, r.stdout[-2000:] + r.stderr[-2000:])
        e.drift(expect=0)
        self.assertEqual(e.lam.get_function(FunctionName=P + "k2")["Configuration"]["MemorySize"], 128)
        self.assertEqual(e.attrs(P + "k1")["VisibilityTimeout"], "180")


# ---- a fleet made with boto3, for the scale test and the benchmark ----

def build_fleet(moto, env, n, workers=16, endpoint=None):
    """n in-sync pipelines p00000.. for env (an Env): items, queues, DLQs,
    functions and mappings as the default policy wants them (created
    through endpoint when given, e.g. the AWS-faithful layer)."""
    P = env.prefix
    zipb = code_zip()
    sqs, lam = moto.client("sqs", endpoint), moto.client("lambda", endpoint)
    ddb = moto.client("dynamodb")
    tags = lambda name: {"taskpipe:owner": OWNER, "taskpipe:pipeline": name}  # noqa: E731
    names = ["p%05d" % i for i in range(n)]

    def one(name):
        d = sqs.create_queue(QueueName=P + name + "-dlq", Attributes={"MessageRetentionPeriod": "1209600"},
                             tags=tags(name))["QueueUrl"]
        darn = sqs.get_queue_attributes(QueueUrl=d, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        q = sqs.create_queue(QueueName=P + name, tags=tags(name), Attributes={
            "VisibilityTimeout": "180", "MessageRetentionPeriod": "345600",
            "ReceiveMessageWaitTimeSeconds": "20",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": darn, "maxReceiveCount": 5})})["QueueUrl"]
        qarn = sqs.get_queue_attributes(QueueUrl=q, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        lam.create_function(FunctionName=P + name, Runtime="provided.al2023", Role=env.role,
                            Handler="bootstrap", Code={"ZipFile": zipb}, MemorySize=128, Timeout=30,
                            Description="taskpipe code s3://code/consumer.zip",
                            Environment={"Variables": {}}, Tags=tags(name))
        lam.create_event_source_mapping(EventSourceArn=qarn, FunctionName=P + name, BatchSize=10,
                                        MaximumBatchingWindowInSeconds=0, Enabled=True,
                                        ScalingConfig={"MaximumConcurrency": 2},
                                        FunctionResponseTypes=["ReportBatchItemFailures"])

    with concurrent.futures.ThreadPoolExecutor(workers) as ex:
        list(ex.map(one, names))
    for i in range(0, n, 25):
        ddb.batch_write_item(RequestItems={P + "config": [
            {"PutRequest": {"Item": {"pipeline": {"S": nm}}}} for nm in names[i:i + 25]]})
    return names


class DriftLayer(unittest.TestCase):
    """Through the AWS-faithful layer (awsmodel): ListQueues and the Tagging
    API do not show resources created less than list_lag_s ago."""

    @classmethod
    def setUpClass(cls):
        cls.moto = shared_moto()

    def test_new_fleet_in_sync_while_lists_lag(self):
        from awsmodel import AwsModel
        e = Env(self.moto, "dm")
        aws = AwsModel(self.moto.endpoint, scale=0.02, list_lag_s=3000).start()   # 60 s real
        try:
            names = build_fleet(self.moto, e, 3, workers=3, endpoint=aws.endpoint)
            code, doc = e.drift(endpoint=aws.endpoint)
            counts = aws.counts()
        finally:
            aws.stop()
        self.assertEqual({p["pipeline"]: p["status"] for p in doc["pipelines"]},
                         {n: "in_sync" for n in names}, doc["pipelines"])
        self.assertEqual(code, 0)
        self.assertEqual(doc["orphans"], [])
        self.assertEqual(doc["tag_fallback"], {"queues": 6, "functions": 3, "queue_urls": 6})
        self.assertEqual(counts.get("lambda:GetFunction"), 3)

if __name__ == "__main__":
    unittest.main()
