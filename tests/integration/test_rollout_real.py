"""Rollout as it behaves on real AWS (issue 10).

- Big code objects: a consumer zip over 10 MiB (every buffered AWS answer
  is capped there) is streamed into SHA-256: 20 MiB and 200 MiB zips roll
  out with flat memory (the taskpipe process's peak RSS, from wait4).
- Contention and throttling through the AWS-faithful layer (awsmodel.py):
  functions busy (LastUpdateStatus InProgress) when the rollout starts, 409
  ResourceConflictException on an update meanwhile, 429 with Retry-After,
  State Failed, PackageType Image. A rollout slows down, never halts on
  these, and updates each function exactly once.

Fleets are made with boto3 as in test_rollout.py (what `taskpipe apply`
leaves behind: function, owner tags, Description code marker, state item).
"""
import base64
import hashlib
import io
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest
import uuid
import zipfile

sys.path.insert(0, os.path.dirname(__file__))
from harness import REGION, Moto, ROOT, TASKPIPE, run_taskpipe  # noqa: E402
from awsmodel import AwsModel  # noqa: E402

BUCKET = "tp-rollout-real"
STATE = "taskpipe-state"
MiB = 1 << 20


def code_zip(tag):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("bootstrap", "#!/bin/sh\necho %s\n" % tag)
    return buf.getvalue()


def big_zip(path, size, tag):
    """A zip of about size bytes: bootstrap plus incompressible filler,
    stored, written in 1 MiB pieces. Returns base64(sha256(file))."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED, allowZip64=True) as z:
        z.writestr("bootstrap", "#!/bin/sh\necho %s\n" % tag)
        with z.open("filler.bin", "w", force_zip64=True) as f:
            left = size - 4096
            while left > 0:
                n = min(MiB, left)
                f.write(os.urandom(n))
                left -= n
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(MiB), b""):
            h.update(chunk)
    return base64.b64encode(h.digest()).decode()


def sha_b64(data):
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def quick_policy():
    """The default policy with the canary's 30 s pause cut to 0."""
    with open(os.path.join(ROOT, "policies", "policy.lua")) as f:
        src = f.read()
    out = src.replace("wave(1, 1, watch)", "wave(1, 1, 0)")
    assert out != src
    f = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
    f.write(out)
    f.close()
    return f.name


def run_measured(args, env, timeout=600):
    """Run taskpipe under /usr/bin/time; returns (returncode, stdout, stderr,
    peak RSS in bytes). (wait4's ru_maxrss of a child forked from this
    Python process would count Python's pages from before the exec.)"""
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rf:
        r = subprocess.run(["/usr/bin/time", "-o", rf.name, "-f", "%M", TASKPIPE] + list(args),
                           env=env, capture_output=True, text=True, timeout=timeout)
        lines = [l for l in open(rf.name).read().split("\n") if l.strip()]
        return r.returncode, r.stdout, r.stderr, int(lines[-1]) * 1024


class Fleet:
    """Helpers shared by the test classes."""
    @classmethod
    def setup_fleet(cls, moto):
        cls.moto = moto
        cls.role = moto.role_arn()
        cls.s3 = moto.client("s3")
        cls.lam = moto.client("lambda")
        cls.ddb = moto.client("dynamodb")
        try:
            cls.s3.create_bucket(Bucket=BUCKET)
        except cls.s3.exceptions.BucketAlreadyOwnedByYou:
            pass
        cls.s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        cls.policy = quick_policy()

    def fleet(self, key, n, tag, lam=None):
        """n functions + state records on s3://BUCKET/key; sorted pipeline names."""
        lam = lam or self.lam
        names = ["%s-%03d" % (tag, i) for i in range(n)]
        marker = "taskpipe code s3://%s/%s" % (BUCKET, key)
        for p in names:
            lam.create_function(
                FunctionName="tp-" + p, Runtime="provided.al2023", Role=self.role,
                Handler="bootstrap", Code={"S3Bucket": BUCKET, "S3Key": key},
                Description=marker, Tags={"taskpipe:owner": "taskpipe", "taskpipe:pipeline": p})
            spec = {"name": p, "func": {"Code": {"S3Bucket": BUCKET, "S3Key": key},
                                        "Runtime": "provided.al2023", "Handler": "bootstrap"}}
            self.ddb.put_item(TableName=STATE, Item={
                "pk": {"S": "pipeline#" + p}, "pipeline": {"S": p}, "status": {"S": "ok"},
                "action": {"S": "create"}, "spec": {"S": json.dumps(spec)}})
        return sorted(names)

    def shas(self, names):
        return {p: self.lam.get_function(FunctionName="tp-" + p)["Configuration"]["CodeSha256"]
                for p in names}


class BigObjectTest(Fleet, unittest.TestCase):
    """Straight to moto: the S3 path is what is measured."""
    @classmethod
    def setUpClass(cls):
        cls.setup_fleet(Moto.shared())
        cls.env = cls.moto.env(TASKPIPE_POLICY=cls.policy, TASKPIPE_ROLE_ARN=cls.role,
                               TASKPIPE_CODE_BUCKET=BUCKET, TASKPIPE_CODE_KEY="default.zip")
        r = run_taskpipe(["init"], cls.env)
        assert r.returncode == 0, r.stderr

    @classmethod
    def tearDownClass(cls):
        os.unlink(cls.policy)

    def roll_big(self, size, n_functions):
        key = "big-%d-%s.zip" % (size // MiB, uuid.uuid4().hex[:6])
        self.s3.put_object(Bucket=BUCKET, Key=key, Body=code_zip("v1"))
        names = self.fleet(key, n_functions, "b" + uuid.uuid4().hex[:5])
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "big.zip")
            want = big_zip(path, size, "v2")
            with open(path, "rb") as f:
                v2 = self.s3.put_object(Bucket=BUCKET, Key=key, Body=f)["VersionId"]
        uri = "s3://%s/%s#%s" % (BUCKET, key, v2)
        rc, out, err, rss = run_measured(["rollout", uri, "--json"], self.env)
        self.addCleanup(self.s3.delete_object, Bucket=BUCKET, Key=key, VersionId=v2)
        return names, want, rc, out, err, rss

    def test_20_and_200_mib_flat_memory(self):
        """Both sizes roll out (the old code failed on anything over 10 MiB:
        ResponseTooLarge), the expected CodeSha256 is the streamed one, and
        the process's peak RSS stays below 16 MiB (a 20 MiB buffer cannot fit) and does not grow with
        the object (200 MiB within 4 MiB of 20 MiB)."""
        peaks = {}
        for size, n in ((20 * MiB, 3), (200 * MiB, 1)):
            names, want, rc, out, err, rss = self.roll_big(size, n)
            peaks[size // MiB] = rss
            print("\n  rollout of a %d MiB zip to %d functions: peak RSS %.1f MiB"
                  % (size // MiB, n, rss / MiB), file=sys.stderr)
            self.assertEqual(rc, 0, out + err)
            o = json.loads(out)
            self.assertEqual((o["status"], o["updated"], o["sha256"]), ("done", n, want), o)
            self.assertGreaterEqual(o["object_bytes"], size - 8192)
            self.assertEqual(set(self.shas(names).values()), {want})
            self.assertLess(rss, 16 * MiB, "peak RSS %d for a %d MiB object" % (rss, size // MiB))
        self.assertLess(peaks[200], peaks[20] + 4 * MiB, peaks)


class ConflictModel(AwsModel):
    """The layer, plus another client's update landing on chosen functions
    just before taskpipe's UpdateFunctionCode reaches them (the race a
    pre-read cannot close): that update then finds LastUpdateStatus
    InProgress and gets 409 ResourceConflictException, as on AWS."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.race = set()       # function names whose next code update loses the race

    def _lambda_before(self, h, operation, path, body, now):
        if operation == "UpdateFunctionCode":
            for name in list(self.race):
                fn = self._fns.get(name)
                if fn is not None and "/functions/%s/" % name in path:
                    self.race.discard(name)
                    fn.updated = True
                    fn.update_until = now + self._d(self.fn_update_s)
        return super()._lambda_before(h, operation, path, body, now)


class ContentionTest(Fleet, unittest.TestCase):
    """Through the AWS-faithful layer: states, 409s, 429s with Retry-After."""

    @classmethod
    def setUpClass(cls):
        cls.setup_fleet(Moto.shared())
        env = cls.moto.env(TASKPIPE_POLICY=cls.policy, TASKPIPE_ROLE_ARN=cls.role,
                           TASKPIPE_CODE_BUCKET=BUCKET, TASKPIPE_CODE_KEY="default.zip")
        r = run_taskpipe(["init"], env)
        assert r.returncode == 0, r.stderr

    @classmethod
    def tearDownClass(cls):
        os.unlink(cls.policy)

    def layer(self, cls=AwsModel, **kw):
        aws = cls(self.moto.endpoint, **kw).start()
        self.addCleanup(aws.stop)
        import boto3
        from botocore.config import Config
        lam = boto3.client("lambda", region_name=REGION, endpoint_url=aws.endpoint,
                           aws_access_key_id="testing", aws_secret_access_key="testing",
                           config=Config(retries={"mode": "standard", "max_attempts": 20}))
        env = self.moto.env(AWS_ENDPOINT_URL=aws.endpoint, TASKPIPE_POLICY=self.policy,
                            TASKPIPE_ROLE_ARN=self.role, TASKPIPE_CODE_BUCKET=BUCKET,
                            TASKPIPE_CODE_KEY="default.zip")
        return aws, lam, env

    def wait_settled(self, aws, names):
        """Until the layer reports every function Active and not updating."""
        for _ in range(500):
            st = [aws.function_state("tp-" + p) or {} for p in names]
            if all(s.get("State") in ("Active", "Failed") and s.get("LastUpdateStatus") != "InProgress"
                   for s in st):
                return
            time.sleep(0.02)
        self.fail("functions never settled: %s" % st)

    def code_updates(self, aws, ok_only=False):
        """{pipeline: [(time, status)]} of UpdateFunctionCode at the layer."""
        out = {}
        for e in aws.log():
            if e["operation"] == "UpdateFunctionCode" and (not ok_only or e["status"] == 200):
                p = e["path"].split("/")[3][len("tp-"):]
                out.setdefault(p, []).append((e["time"], e["status"]))
        return out

    def new_version(self, key):
        data = code_zip("v2-" + uuid.uuid4().hex[:6])
        v = self.s3.put_object(Bucket=BUCKET, Key=key, Body=data)["VersionId"]
        return data, "s3://%s/%s#%s" % (BUCKET, key, v)

    def test_busy_and_throttled_rollout_finishes(self):
        """10 functions, 4 of them mid-update for 4 s (UpdateFunctionConfiguration by
        another client) when the rollout starts, under a 5 req/s account
        limit plus 15% random 429s: the rollout waits for the busy ones
        (read with GetFunction: ListFunctions never shows LastUpdateStatus),
        requeues throttled calls, finishes, and each function is updated
        exactly once. The old code sent updates into InProgress functions,
        got 409, never resent them, and halted."""
        aws, lam, env = self.layer(fn_update_s=200, lambda_rps=5, throttle_fraction=0.15, seed=7)
        key = "busy-%s.zip" % uuid.uuid4().hex[:6]
        self.s3.put_object(Bucket=BUCKET, Key=key, Body=code_zip("v1"))
        names = self.fleet(key, 10, "c" + uuid.uuid4().hex[:5], lam=lam)
        self.wait_settled(aws, names)
        data2, uri = self.new_version(key)
        busy = names[0:1] + names[5:8]           # the canary among them
        for p in busy:
            lam.update_function_configuration(FunctionName="tp-" + p, Timeout=7)
        self.assertEqual(aws.function_state("tp-" + names[0])["LastUpdateStatus"], "InProgress")
        aws.reset()
        t0 = time.time()
        r = run_taskpipe(["rollout", uri, "--json"], env, timeout=300)
        took = time.time() - t0
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        out = json.loads(r.stdout)
        self.assertEqual((out["status"], out["updated"], out["failed"]), ("done", 10, 0), out)
        ok = self.code_updates(aws, ok_only=True)
        self.assertEqual({p: len(v) for p, v in ok.items()}, {p: 1 for p in names})
        self.assertEqual(set(self.shas(names).values()), {sha_b64(data2)})
        self.assertGreater(aws.lambda_throttled(), 0, "the test did not throttle anything")
        # Nothing was sent into a busy function: every update waited its turn.
        self.assertEqual([v for v in aws.violations() if v["operation"] == "UpdateFunctionCode"], [])
        print("\n  busy+throttled rollout of 10: %.1f s, %d throttled, calls %s"
              % (took, aws.lambda_throttled(), out["calls"]), file=sys.stderr)

    def test_conflict_is_resent_after_the_update_settles(self):
        """Another client's update lands between taskpipe's status read and
        its UpdateFunctionCode: 409 ResourceConflictException. taskpipe
        waits for that update to finish and resends; each function ends
        updated exactly once. (The old code re-read, saw InProgress, dropped
        the function and halted with FunctionNotUpdated.)"""
        aws, lam, env = self.layer(cls=ConflictModel, fn_update_s=50)
        key = "race-%s.zip" % uuid.uuid4().hex[:6]
        self.s3.put_object(Bucket=BUCKET, Key=key, Body=code_zip("v1"))
        names = self.fleet(key, 4, "r" + uuid.uuid4().hex[:5], lam=lam)
        self.wait_settled(aws, names)
        data2, uri = self.new_version(key)
        aws.race = {"tp-" + names[0], "tp-" + names[3]}
        aws.reset()
        r = run_taskpipe(["rollout", uri, "--json"], env, timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        out = json.loads(r.stdout)
        self.assertEqual((out["status"], out["updated"]), ("done", 4), out)
        ups = self.code_updates(aws)
        for p in (names[0], names[3]):
            self.assertEqual([s for _, s in ups[p]], [409, 200], ups[p])
            # resent only once the racing update (1 s) was over
            self.assertGreaterEqual(ups[p][1][0] - ups[p][0][0], 0.9, ups[p])
        for p in names[1:3]:
            self.assertEqual([s for _, s in ups[p]], [200], ups[p])
        self.assertEqual(set(self.shas(names).values()), {sha_b64(data2)})

    def test_retry_after_is_honoured(self):
        """Lambda's 429 carries the standard Retry-After header (seconds), not
        x-amz-retry-after. Three 429s with Retry-After: 2 in a row (more than
        the transport's 3 attempts): every resend waits 2 s, and the throttled
        function is requeued, not failed. (The old code retried after its own
        sub-second backoff and halted the wave on the third 429.)"""
        aws, lam, env = self.layer()
        key = "ra-%s.zip" % uuid.uuid4().hex[:6]
        self.s3.put_object(Bucket=BUCKET, Key=key, Body=code_zip("v1"))
        names = self.fleet(key, 2, "t" + uuid.uuid4().hex[:5], lam=lam)
        self.wait_settled(aws, names)
        data2, uri = self.new_version(key)
        aws.reset()
        aws.add_rule({"match": {"operation": "UpdateFunctionCode",
                                "path_contains": "/functions/tp-%s/" % names[0]},
                      "times": 3, "action": {"status": 429, "headers": {
                          "x-amzn-ErrorType": "TooManyRequestsException", "Retry-After": "2"},
                          "body": json.dumps({"Type": "User", "message": "Rate exceeded",
                                              "Reason": "CallerRateLimitExceeded"})}})
        r = run_taskpipe(["rollout", uri, "--json"], env, timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        out = json.loads(r.stdout)
        self.assertEqual((out["status"], out["updated"], out["failed"]), ("done", 2, 0), out)
        ups = self.code_updates(aws)[names[0]]
        self.assertEqual([s for _, s in ups], [429, 429, 429, 200], ups)
        gaps = [b[0] - a[0] for a, b in zip(ups, ups[1:])]
        self.assertTrue(all(g >= 1.9 for g in gaps), gaps)
        self.assertEqual(set(self.shas(names).values()), {sha_b64(data2)})

    def test_failed_function_is_reported_not_updated(self):
        """A function in State Failed (its create failed) is read before the
        update and reported in the results with Lambda's reason; no update
        is sent to it, the others of its wave are updated, and the run is
        not counted done."""
        aws, lam, env = self.layer()
        key = "sf-%s.zip" % uuid.uuid4().hex[:6]
        self.s3.put_object(Bucket=BUCKET, Key=key, Body=code_zip("v1"))
        tag = "f" + uuid.uuid4().hex[:5]
        bad = "%s-%03d" % (tag, 2)               # the last wave: canary f0, then f1, then f2
        aws.fail_function("tp-" + bad, reason="ENI limit reached for the VPC.",
                          code="EniLimitExceeded", on="create")
        names = self.fleet(key, 3, tag, lam=lam)
        self.wait_settled(aws, names)
        self.assertEqual(aws.function_state("tp-" + bad)["State"], "Failed")
        data2, uri = self.new_version(key)
        aws.reset()
        r = run_taskpipe(["rollout", uri, "--json"], env, timeout=120)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        out = json.loads(r.stdout)
        self.assertEqual((out["status"], out["updated"], out["failed"]), ("halted", 2, 1), out)
        self.assertEqual([(f["function"], f["code"]) for f in out["failures"]],
                         [("tp-" + bad, "EniLimitExceeded")])
        self.assertIn("State Failed: ENI limit reached", out["failures"][0]["message"])
        self.assertEqual(out["failure"]["function"], "tp-" + bad)
        self.assertNotIn(bad, self.code_updates(aws))
        self.assertEqual(aws.violations(), [])
        shas = self.shas(names)
        self.assertEqual({shas[p] for p in names if p != bad}, {sha_b64(data2)})
        # A rerun does not loop on it: read once more, reported again.
        aws.reset()
        r = run_taskpipe(["rollout", uri, "--json"], env, timeout=120)
        self.assertEqual(json.loads(r.stdout)["status"], "halted", r.stdout)
        self.assertNotIn(bad, self.code_updates(aws))


class CanaryTest(Fleet, unittest.TestCase):
    """Issue 24: the default rollout_health judges the canary after its pause
    on Lambda's metrics (CloudWatch GetMetricData) and its DLQ's growth; an
    unhealthy canary halts the rollout and goes back to its old code, and
    the rejected version stays out through drift --fix and new pipelines.
    Metrics are played into moto's CloudWatch by the layer (play_traffic:
    1 s periods, published 1 s late), pauses scaled down by the settings
    (canary 4 s, metric period 1 s, longest wait for traffic 6 s). The
    policy is the embedded default, unchanged."""

    PAUSE, WAIT_MAX = 4, 6

    @classmethod
    def setUpClass(cls):
        cls.setup_fleet(Moto.shared())
        r = run_taskpipe(["init"], cls.moto.env(TASKPIPE_CODE_BUCKET=BUCKET, TASKPIPE_CODE_KEY="default.zip"))
        assert r.returncode == 0, r.stderr

    @classmethod
    def tearDownClass(cls):
        os.unlink(cls.policy)

    def setUp(self):
        self.aws = AwsModel(self.moto.endpoint).start()
        self.addCleanup(self.aws.stop)
        self.addCleanup(self.aws.stop_traffic)
        self.env = self.moto.env(AWS_ENDPOINT_URL=self.aws.endpoint, TASKPIPE_ROLE_ARN=self.role,
                                 TASKPIPE_CODE_BUCKET=BUCKET, TASKPIPE_CODE_KEY="default.zip",
                                 TASKPIPE_CANARY_PAUSE_S=str(self.PAUSE), TASKPIPE_METRIC_PERIOD_S="1",
                                 TASKPIPE_HEALTH_WAIT_MAX_S=str(self.WAIT_MAX))
        self.key = "can-%s.zip" % uuid.uuid4().hex[:6]
        self.tag = "k" + uuid.uuid4().hex[:5]

    def upload(self, tag):
        data = code_zip(tag)
        v = self.s3.put_object(Bucket=BUCKET, Key=self.key, Body=data)["VersionId"]
        return data, v

    def pipelines(self, names):
        """Config items + taskpipe apply (through the layer)."""
        with tempfile.TemporaryDirectory() as d:
            files = []
            for p in names:
                f = os.path.join(d, p + ".json")
                with open(f, "w") as fh:
                    json.dump({"pipeline": p, "code": self.key, "code_bucket": BUCKET}, fh)
                files.append(f)
            r = run_taskpipe(["put"] + files, self.env)
            self.assertEqual(r.returncode, 0, r.stderr)
        r = run_taskpipe(["apply"] + names, self.env, timeout=300)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def shas(self, names):
        return {p: self.aws.code_sha_of("tp-" + p) for p in names}

    def updates(self):
        """[(time, pipeline, status)] of UpdateFunctionCode at the layer."""
        return [(e["time"], e["path"].split("/")[3][len("tp-"):], e["status"])
                for e in self.aws.log() if e["operation"] == "UpdateFunctionCode"]

    def metric_calls(self):
        return [e for e in self.aws.log() if e["operation"] == "GetMetricData"]

    def traffic(self):
        self.aws.play_traffic(period_s=1.0, per_period=20, delay_s=1.0, dlq_of=lambda fn: fn + "-dlq")

    def test_broken_consumer_halts_at_canary_rolls_back_and_stays(self):
        names = ["%s-%d" % (self.tag, i) for i in range(4)]
        data1, v1 = self.upload("good")
        self.pipelines(names)
        self.assertEqual(set(self.shas(names).values()), {sha_b64(data1)})
        data2, v2 = self.upload("broken: exit 1")
        self.aws.mark_broken(sha_b64(data2))
        self.traffic()
        self.aws.reset()
        uri = "s3://%s/%s#%s" % (BUCKET, self.key, v2)
        r = run_taskpipe(["rollout", uri, "--json"], self.env, timeout=300)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        out = json.loads(r.stdout)
        self.assertEqual(out["status"], "halted", out)
        self.assertEqual(out["failure"]["code"], "HealthCheckFailed", out)
        self.assertIn("error rate 100.0%", out["failure"]["message"])
        rb = out["rollback"]
        self.assertEqual((rb["functions"], rb["rolled_back"], rb["failed"], rb["to_version"]), (1, 1, 0, v1), rb)
        self.assertGreaterEqual(out["calls"]["cloudwatch"], 1)
        # Only the canary was touched: its update, then its rollback.
        ups = self.updates()
        self.assertEqual([(p, st) for _, p, st in ups], [(names[0], 200), (names[0], 200)], ups)
        # The verdict came after the pause: the rollback is at least PAUSE after the update.
        self.assertGreaterEqual(ups[1][0] - ups[0][0], self.PAUSE - 0.5, ups)
        self.assertEqual(set(self.shas(names).values()), {sha_b64(data1)})
        print("\n  broken canary: %d function touched, rollback %d Lambda calls (%d updates); calls %s"
              % (rb["functions"], rb["lambda_calls"], rb["updates"], out["calls"]), file=sys.stderr)
        # rollout status shows the halt and the rollback.
        st = [x for x in json.loads(run_taskpipe(["rollout", "status", "--json"], self.env).stdout)
              if x["rollout"].startswith("s3://%s/%s" % (BUCKET, self.key))][0]
        self.assertEqual(st["status"], "halted")
        self.assertEqual(st["waves"][0]["state"], "halted")
        self.assertEqual(st["waves"][0]["functions"][0]["status"], "rolled-back")
        self.assertEqual(st["rollback"]["rolled_back"], 1)
        # The rejected version is not rolled out again.
        self.aws.reset()
        r = run_taskpipe(["rollout", uri, "--json"], self.env, timeout=120)
        self.assertNotEqual(r.returncode, 0, r.stdout)
        self.assertIn("VersionRejected", r.stderr)
        self.assertEqual(self.updates(), [])
        # drift --fix recreates a deleted function on the last good code, and
        # leaves the others on it; a new pipeline gets it too.
        boto_lam = self.moto.client("lambda", endpoint=self.aws.endpoint)
        boto_lam.delete_function(FunctionName="tp-" + names[0])
        r = run_taskpipe(["drift", "--fix", "--json"], self.env, timeout=300)
        self.assertIn(r.returncode, (0, 1), r.stdout + r.stderr)
        new = "%s-new" % self.tag
        self.pipelines([new])
        self.assertEqual(set(self.shas(names + [new]).values()), {sha_b64(data1)})
        # A newer upload is deployed again.
        data3, _ = self.upload("fixed")
        self.pipelines(["%s-newer" % self.tag])
        self.assertEqual(self.shas(["%s-newer" % self.tag])["%s-newer" % self.tag], sha_b64(data3))

    def test_healthy_consumer_reaches_every_function(self):
        names = ["%s-%d" % (self.tag, i) for i in range(4)]
        self.upload("v1")
        self.pipelines(names)
        data2, v2 = self.upload("v2 good")
        self.traffic()
        self.aws.reset()
        r = run_taskpipe(["rollout", "s3://%s/%s#%s" % (BUCKET, self.key, v2), "--json"], self.env, timeout=300)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        out = json.loads(r.stdout)
        self.assertEqual((out["status"], out["updated"]), ("done", 4), out)
        self.assertNotIn("rollback", out)
        self.assertNotIn("health_note", out)   # there was traffic: evidence, no note
        self.assertEqual(set(self.shas(names).values()), {sha_b64(data2)})
        ups = self.updates()
        self.assertEqual(ups[0][1], names[0])
        self.assertGreaterEqual(ups[1][0] - ups[0][0], self.PAUSE - 0.5, ups)
        self.assertGreaterEqual(len(self.metric_calls()), 1)

    def test_no_traffic_waits_up_to_the_maximum_then_goes_on(self):
        names = ["%s-%d" % (self.tag, i) for i in range(3)]
        self.upload("v1")
        self.pipelines(names)
        data2, v2 = self.upload("v2")
        self.aws.idle(*["tp-" + p for p in names])
        self.traffic()
        self.aws.reset()
        r = run_taskpipe(["rollout", "s3://%s/%s#%s" % (BUCKET, self.key, v2), "--json"], self.env, timeout=300)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        out = json.loads(r.stdout)
        self.assertEqual(out["status"], "done", out)
        self.assertIn("no invocations in", out["health_note"])
        self.assertIn("went on without evidence", out["health_note"])
        self.assertEqual(set(self.shas(names).values()), {sha_b64(data2)})
        ups = self.updates()
        # kept waiting past the pause, up to the maximum, asking again meanwhile
        self.assertGreaterEqual(ups[1][0] - ups[0][0], self.WAIT_MAX - 0.5, ups)
        self.assertGreater(len(self.metric_calls()), 2)


if __name__ == "__main__":
    unittest.main()
