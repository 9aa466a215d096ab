"""Consumer code rollout against moto, through the request-counting proxy.

moto ignores S3ObjectVersion (it always deploys the latest object), so every
check reads CodeSha256 with boto3 and compares it with base64(sha256(bytes)).

Fleets: most tests create their functions and state records with boto3
directly (what `taskpipe apply` leaves behind: function <prefix><pipeline>
with the owner tags and the Description code marker, state item
pipeline#<name> with the applied spec), because 200 full pipelines through
apply take long on moto; test_canary_failure_halts builds its pipelines with
the real `taskpipe put` + `apply`, so the rollout is also checked against the
records reconcile writes. Each test uses its own code key, so fleets of
different tests never mix.
"""
import base64
import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import uuid
import zipfile

sys.path.insert(0, os.path.dirname(__file__))
from harness import Moto, ROOT, TASKPIPE, run_taskpipe  # noqa: E402
from awsproxy import FaultProxy  # noqa: E402

BUCKET = "tp-rollout-code"
STATE = "taskpipe-state"
CONFIG = "taskpipe-config"


def code_zip(tag):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("bootstrap", "#!/bin/sh\necho %s\n" % tag)
    return buf.getvalue()


def sha_b64(data):
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def policy_file(transform):
    """The default policy with its text transformed; returns the path."""
    with open(os.path.join(ROOT, "policies", "policy.lua")) as f:
        src = f.read()
    out = transform(src)
    assert out != src, "policy transform changed nothing"
    f = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
    f.write(out)
    f.close()
    return f.name


# The default waves, with the canary's 30 s pause cut to 1 s so tests are quick.
def quick_canary(src):
    return src.replace("wave(1, 1, watch)", "wave(1, 1, 1)")


def unhealthy_canary(src):
    """A policy whose health hook fails the canary wave and passes others."""
    src = quick_canary(src)
    return src.replace(
        "return { pipeline = pipeline, rollout = rollout, rollout_health = rollout_health, limit_group = limit_group }",
        "local function rollout_health(wave, results, ctx)\n"
        "  if wave.index == 0 then\n"
        "    return nil, \"canary \" .. results[1][\"function\"] .. \": error rate 12% over 1%\"\n"
        "  end\n"
        "  return true\n"
        "end\n"
        "return { pipeline = pipeline, rollout = rollout, rollout_health = rollout_health, limit_group = limit_group }")


class RolloutTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.moto = Moto.shared()
        cls.proxy = FaultProxy(cls.moto.endpoint).start()
        cls.role = cls.moto.role_arn()
        cls.s3 = cls.moto.client("s3")
        cls.lam = cls.moto.client("lambda")
        cls.ddb = cls.moto.client("dynamodb")
        cls.policy = policy_file(quick_canary)
        r = run_taskpipe(["init"], cls.env_for())
        assert r.returncode == 0, r.stderr

    @classmethod
    def tearDownClass(cls):
        cls.proxy.stop()
        os.unlink(cls.policy)

    def setUp(self):
        self.proxy.reset()

    @classmethod
    def env_for(cls, **extra):
        e = cls.moto.env(AWS_ENDPOINT_URL=cls.proxy.endpoint, TASKPIPE_CODE_BUCKET=BUCKET,
                         TASKPIPE_CODE_KEY="default.zip", TASKPIPE_ROLE_ARN=cls.role,
                         TASKPIPE_POLICY=cls.policy, TASKPIPE_LAMBDA_RPS="50",
                         # moto has no Lambda traffic: the canary's health check
                         # goes on at once, without evidence (test_rollout_real's
                         # CanaryTest plays metrics and checks the verdicts)
                         TASKPIPE_HEALTH_WAIT_MAX_S="0", TASKPIPE_METRIC_PERIOD_S="1")
        e.update({k: str(v) for k, v in extra.items()})
        return e

    # ---- fleet helpers

    def upload(self, key, tag):
        data = code_zip(tag)
        v = self.s3.put_object(Bucket=BUCKET, Key=key, Body=data)["VersionId"]
        return data, v

    def fleet(self, key, n, tag):
        """n functions + state records on s3://BUCKET/key; returns sorted pipeline names."""
        names = ["%s-%03d" % (tag, i) for i in range(n)]
        marker = "taskpipe code s3://%s/%s" % (BUCKET, key)
        for p in names:
            self.lam.create_function(
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

    def updates(self, op="UpdateFunctionCode", ok_only=False):
        """[(pipeline, status)] of op at the proxy, in arrival order."""
        out = []
        for e in self.proxy.log():
            if e["operation"] == op and (not ok_only or e["status"] == 200):
                out.append((e["path"].split("/")[3][len("tp-"):], e["status"]))
        return out

    def rollout(self, args, env=None, **kw):
        return run_taskpipe(["rollout"] + args + ["--json"], env or self.env_for(), **kw)

    def status(self, uri_prefix):
        r = run_taskpipe(["rollout", "status", "--json"], self.env_for())
        self.assertEqual(r.returncode, 0, r.stderr)
        got = [x for x in json.loads(r.stdout) if x["rollout"].startswith(uri_prefix)]
        self.assertEqual(len(got), 1, got)
        return got[0]

    def wait_inflight(self):
        """Requests a killed runner left at the proxy finish before anything is judged."""
        for _ in range(200):
            if all(e["status"] is not None for e in self.proxy.log()):
                return
            time.sleep(0.05)
        self.fail("proxy requests still in flight")

    # ---- tests

    def test_waves_200_pipelines(self):
        key = "w200-%s.zip" % uuid.uuid4().hex[:6]
        self.upload(key, "v1")
        names = self.fleet(key, 200, "w" + uuid.uuid4().hex[:5])
        data2, v2 = self.upload(key, "v2")
        self.proxy.reset()
        r = self.rollout(["s3://%s/%s#%s" % (BUCKET, key, v2)])
        self.assertEqual(r.returncode, 0, r.stderr)
        out = json.loads(r.stdout)
        self.assertEqual((out["status"], out["targets"], out["waves"], out["updated"], out["failed"]),
                         ("done", 200, 3, 200, 0), out)
        # Waves in the default policy's order: canary, 10% of the rest, the rest.
        canary, second, rest = names[:1], names[1:20], names[20:]
        order = [p for p, _ in self.updates()]
        self.assertEqual(len(order), 200)
        self.assertEqual(order[:1], canary)
        self.assertEqual(sorted(order[1:20]), second)
        self.assertEqual(sorted(order[20:]), rest)
        log = [e for e in self.proxy.log() if e["operation"] == "UpdateFunctionCode"]
        self.assertGreaterEqual(log[1]["time"] - log[0]["time"], 0.9, "canary pause not kept")
        # Every function on the new code, updated exactly once.
        want = sha_b64(data2)
        self.assertEqual(set(self.shas(names).values()), {want})
        counts = self.proxy.counts()
        self.assertEqual(counts["lambda:UpdateFunctionCode"], 200)
        # The 15/s control plane: 1 update each + ListFunctions pages. Each
        # function's State is read with GetFunction (its own 100/s budget)
        # before its update: moto reports Successful at once, so no polls.
        control = sum(v for k, v in counts.items()
                      if k.startswith("lambda:") and k != "lambda:GetFunction")
        self.assertLessEqual(control, 200 + 4, counts)
        self.assertEqual(counts["lambda:GetFunction"], 200, counts)
        self.assertEqual(out["calls"]["updates"], 200)
        st = self.status("s3://%s/%s" % (BUCKET, key))
        self.assertEqual(st["status"], "done")
        self.assertEqual([w["counts"]["done"] for w in st["waves"]], [1, 19, 180])
        self.assertEqual([w["state"] for w in st["waves"]], ["done"] * 3)
        # Rerunning a finished rollout costs no Lambda call at all.
        self.proxy.reset()
        r = self.rollout(["s3://%s/%s#%s" % (BUCKET, key, v2)])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["status"], "done")
        self.assertFalse([k for k in self.proxy.counts() if k.startswith("lambda:")])

    def test_sigkill_and_resume_updates_each_once(self):
        key = "kill-%s.zip" % uuid.uuid4().hex[:6]
        self.upload(key, "v1")
        names = self.fleet(key, 60, "k" + uuid.uuid4().hex[:5])
        data2, v2 = self.upload(key, "v2")
        self.proxy.reset()
        self.proxy.add_rule({"match": {"operation": "UpdateFunctionCode"}, "times": -1,
                             "action": {"delay": 0.1}})
        uri = "s3://%s/%s#%s" % (BUCKET, key, v2)
        env = self.env_for(TASKPIPE_PARALLEL=4)
        # Kill points: in the canary's pause, inside wave 2, inside wave 3 (twice).
        for kill_at in (1, 8, 25, 45):
            p = subprocess.Popen([TASKPIPE, "rollout", uri, "--lease-ttl", "1", "--json"], env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            deadline = time.time() + 60
            while len(self.updates()) < kill_at and p.poll() is None and time.time() < deadline:
                time.sleep(0.01)
            self.assertIsNone(p.poll(), "rollout ended before the kill point %d" % kill_at)
            p.send_signal(signal.SIGKILL)
            p.communicate()
            self.wait_inflight()
            time.sleep(2.2)   # the dead runner's lease (1 s, whole seconds) runs out
        r = self.rollout([uri, "--lease-ttl", "1"], env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["status"], "done", r.stdout)
        want = sha_b64(data2)
        self.assertEqual(set(self.shas(names).values()), {want})
        per_fn = {}
        for p, _ in self.updates():
            per_fn[p] = per_fn.get(p, 0) + 1
        self.assertEqual(sorted(per_fn), names)
        twice = {p: n for p, n in per_fn.items() if n != 1}
        self.assertEqual(twice, {}, "functions updated more than once")
        self.assertEqual(self.status("s3://%s/%s" % (BUCKET, key))["status"], "done")

    def test_second_upload_supersedes(self):
        key = "sup-%s.zip" % uuid.uuid4().hex[:6]
        self.upload(key, "v1")
        names = self.fleet(key, 40, "s" + uuid.uuid4().hex[:5])
        _, v2 = self.upload(key, "v2")
        self.proxy.reset()
        self.proxy.add_rule({"match": {"operation": "UpdateFunctionCode"}, "times": -1,
                             "action": {"delay": 0.4}})
        first = subprocess.Popen([TASKPIPE, "rollout", "s3://%s/%s#%s" % (BUCKET, key, v2), "--json"],
                                 env=self.env_for(TASKPIPE_PARALLEL=4), stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 60
        while len(self.updates()) < 6 and time.time() < deadline:
            time.sleep(0.02)
        self.assertIsNone(first.poll(), "first rollout finished before the second upload")
        data3, v3 = self.upload(key, "v3")
        r = self.rollout(["s3://%s/%s" % (BUCKET, key)])        # the latest: v3
        out1, err1 = first.communicate(timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        second = json.loads(r.stdout)
        self.assertEqual((second["status"], second["gen"]), ("done", 2), second)
        self.assertTrue(second["rollout"].endswith("#" + v3))
        # The older runner stops at its next conditional write. (moto deploys the
        # latest object whatever S3ObjectVersion says, so it may instead have seen
        # v3's bytes and halted on the mismatch; real Lambda pins the version.)
        o1 = json.loads(out1)
        self.assertIn(o1["status"], ("superseded", "halted"), out1 + err1)
        if o1["status"] == "halted":
            self.assertEqual(o1["failure"]["code"], "CodeSha256Mismatch")
        self.assertEqual(set(self.shas(names).values()), {sha_b64(data3)})
        st = self.status("s3://%s/%s" % (BUCKET, key))
        self.assertEqual((st["status"], st["gen"], st["rollout"].split("#")[1]), ("done", 2, v3))

    def test_canary_failure_halts(self):
        key = "cf-%s.zip" % uuid.uuid4().hex[:6]
        data1, _ = self.upload(key, "v1")
        tag = "cf" + uuid.uuid4().hex[:5]
        names = sorted("%s-%d" % (tag, i) for i in range(4))
        env = self.env_for()
        with tempfile.TemporaryDirectory() as d:
            files = []
            for p in names:
                f = os.path.join(d, p + ".json")
                with open(f, "w") as fh:
                    json.dump({"pipeline": p, "code": key, "code_bucket": BUCKET}, fh)
                files.append(f)
            r = run_taskpipe(["put"] + files, env)
            self.assertEqual(r.returncode, 0, r.stderr)
        r = run_taskpipe(["apply"] + names, env, timeout=300)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        data2, v2 = self.upload(key, "v2")
        canary = "tp-" + names[0]
        self.proxy.reset()
        self.proxy.add_rule({
            "match": {"operation": "UpdateFunctionCode", "path_contains": "/functions/%s/" % canary},
            "times": -1, "action": {"status": 400, "headers": {
                "x-amzn-ErrorType": "InvalidParameterValueException"},
                "body": json.dumps({"__type": "InvalidParameterValueException",
                                    "message": "Unzipped size must be smaller than 262144000 bytes"})}})
        uri = "s3://%s/%s#%s" % (BUCKET, key, v2)
        r = self.rollout([uri], env)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        out = json.loads(r.stdout)
        self.assertEqual(out["status"], "halted")
        self.assertEqual(out["failure"]["function"], canary)
        self.assertEqual(out["failure"]["pipeline"], names[0])
        self.assertEqual(out["failure"]["code"], "InvalidParameterValueException")
        self.assertIn("Unzipped size", out["failure"]["message"])
        self.assertIn(canary, r.stderr)
        # Nothing beyond the canary was touched.
        self.assertEqual([p for p, _ in self.updates()], [names[0]])
        self.assertEqual(set(self.shas(names).values()), {sha_b64(data1)})
        st = self.status("s3://%s/%s" % (BUCKET, key))
        self.assertEqual(st["status"], "halted")
        self.assertEqual(st["failure"]["function"], canary)
        self.assertEqual(st["waves"][0]["functions"][0]["status"], "failed")
        self.assertEqual(st["waves"][0]["functions"][0]["error_code"], "InvalidParameterValueException")
        # Fixed: rerunning resumes at the failed wave and finishes.
        self.proxy.reset()
        r = self.rollout([uri], env)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(json.loads(r.stdout)["status"], "done")
        self.assertEqual(sorted(p for p, _ in self.updates()), names)
        self.assertEqual(set(self.shas(names).values()), {sha_b64(data2)})

    def test_health_hook_halts_after_canary(self):
        """The policy's rollout_health sees the wave and its results; nil,
        "reason" halts the rollout after the canary, naming the reason."""
        key = "hh-%s.zip" % uuid.uuid4().hex[:6]
        data1, _ = self.upload(key, "v1")
        names = self.fleet(key, 5, "hh" + uuid.uuid4().hex[:5])
        data2, v2 = self.upload(key, "v2")
        pol = policy_file(unhealthy_canary)
        self.addCleanup(os.unlink, pol)
        self.proxy.reset()
        r = self.rollout(["s3://%s/%s#%s" % (BUCKET, key, v2)], self.env_for(TASKPIPE_POLICY=pol))
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        out = json.loads(r.stdout)
        self.assertEqual(out["status"], "halted", out)
        self.assertEqual(out["failure"]["code"], "HealthCheckFailed", out)
        self.assertIn("canary tp-%s: error rate 12%% over 1%%" % names[0], out["failure"]["message"])
        # The canary got the new code, then was rolled back (moto ignores
        # S3ObjectVersion, so where it ends is checked in test_rollout_real's
        # CanaryTest); nothing after it was touched.
        self.assertEqual([p for p, _ in self.updates()], [names[0], names[0]])
        self.assertEqual(out["rollback"]["functions"], 1, out)
        shas = self.shas(names)
        self.assertEqual({shas[p] for p in names[1:]}, {sha_b64(data1)})

    def test_layer_mode_removed(self):
        """Layer mode changed nothing (the function's own zip holds bootstrap,
        which shadows /opt): --mode layer, and a policy whose waves ask for it,
        fail clearly, before any Lambda call."""
        key = "lay-%s.zip" % uuid.uuid4().hex[:6]
        self.upload(key, "v1")
        names = self.fleet(key, 2, "l" + uuid.uuid4().hex[:5])
        data2, v2 = self.upload(key, "v2")
        uri = "s3://%s/%s#%s" % (BUCKET, key, v2)
        self.proxy.reset()
        r = self.rollout([uri, "--mode", "layer"])
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("--mode layer was removed", r.stderr)
        self.assertIn("shadows", r.stderr)
        pol = policy_file(lambda src: quick_canary(src).replace(
            "return { pipeline = pipeline, rollout = rollout, rollout_health = rollout_health, limit_group = limit_group }",
            "local function layered(change, targets, ctx)\n"
            "  local waves = rollout(change, targets, ctx)\n"
            "  for _, w in ipairs(waves) do w.mode = \"layer\" end\n"
            "  return waves\n"
            "end\n"
            "return { pipeline = pipeline, rollout = layered }"))
        self.addCleanup(os.unlink, pol)
        r = self.rollout([uri], self.env_for(TASKPIPE_POLICY=pol))
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("LayerModeRemoved", r.stderr)
        self.assertNotIn("lambda:PublishLayerVersion", self.proxy.counts())
        self.assertEqual(self.updates("UpdateFunctionConfiguration"), [])
        self.assertEqual(self.updates(), [])
        # --mode code (the only mode) still works.
        r = self.rollout([uri, "--mode", "code"])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(set(self.shas(names).values()), {sha_b64(data2)})

    def test_image_function_skipped(self):
        """A PackageType Image function whose Description records the object
        is skipped with a reason naming it, and never sent zip code."""
        key = "img-%s.zip" % uuid.uuid4().hex[:6]
        self.upload(key, "v1")
        tag = "i" + uuid.uuid4().hex[:5]
        names = self.fleet(key, 2, tag)
        img = tag + "-img"
        self.lam.create_function(
            FunctionName="tp-" + img, Role=self.role, PackageType="Image",
            Code={"ImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/consumer:1"},
            Description="taskpipe code s3://%s/%s" % (BUCKET, key),
            Tags={"taskpipe:owner": "taskpipe", "taskpipe:pipeline": img})
        spec = {"name": img, "func": {"Code": {"S3Bucket": BUCKET, "S3Key": key}}}
        self.ddb.put_item(TableName=STATE, Item={
            "pk": {"S": "pipeline#" + img}, "pipeline": {"S": img}, "status": {"S": "ok"},
            "action": {"S": "create"}, "spec": {"S": json.dumps(spec)}})
        data2, v2 = self.upload(key, "v2")
        self.proxy.reset()
        r = self.rollout(["s3://%s/%s#%s" % (BUCKET, key, v2)])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        out = json.loads(r.stdout)
        self.assertEqual((out["status"], out["targets"], out["updated"]), ("done", 2, 2), out)
        skipped = {s["function"]: s["reason"] for s in out.get("skipped", [])}
        self.assertIn("tp-" + img, skipped, out)
        self.assertIn("function tp-%s has PackageType Image" % img, skipped["tp-" + img])
        self.assertEqual(sorted(p for p, _ in self.updates()), names)
        self.assertEqual(set(self.shas(names).values()), {sha_b64(data2)})

    def test_long_key_marker_same_everywhere(self):
        """A code key long enough that the Description marker hits Lambda's
        256-character limit: what apply writes is what drift and rollout
        compare with (the old code truncated it in reconcile only, so drift
        saw Code drift and rollout skipped the function as not ours)."""
        key = "long/" + "k" * 290 + "-%s.zip" % uuid.uuid4().hex[:6]
        self.upload(key, "v1")
        tag = "lk" + uuid.uuid4().hex[:5]
        env = self.env_for()
        with tempfile.TemporaryDirectory() as d:
            f = os.path.join(d, tag + ".json")
            with open(f, "w") as fh:
                json.dump({"pipeline": tag, "code": key, "code_bucket": BUCKET}, fh)
            r = run_taskpipe(["put", f], env)
            self.assertEqual(r.returncode, 0, r.stderr)
        r = run_taskpipe(["apply", tag], env, timeout=300)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        desc = self.lam.get_function(FunctionName="tp-" + tag)["Configuration"]["Description"]
        self.assertLessEqual(len(desc), 256)
        r = run_taskpipe(["drift", "--json"], env, timeout=300)
        mine = [p for p in json.loads(r.stdout)["pipelines"] if p["pipeline"] == tag]
        self.assertEqual(len(mine), 1, r.stdout[-2000:] + r.stderr)
        self.assertFalse(mine[0].get("code_behind"), mine[0])
        self.assertEqual([d for d in mine[0].get("drift", []) if d.get("field") == "Code"], [], mine[0])
        data2, v2 = self.upload(key, "v2")
        r = self.rollout(["s3://%s/%s#%s" % (BUCKET, key, v2)], env)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        out = json.loads(r.stdout)
        self.assertEqual((out["status"], out["targets"], out["updated"]), ("done", 1, 1), out)
        self.assertEqual(self.shas([tag])[tag], sha_b64(data2))

    def test_cut_download_restarts_the_hash(self):
        """The code object streams into SHA-256: a download cut off half-way
        is retried from the start, and the hash restarts with it (a hash
        that kept the first half would not match, and the rollout would
        halt on CodeSha256Mismatch)."""
        key = "cut-%s.zip" % uuid.uuid4().hex[:6]
        self.upload(key, "v1")
        names = self.fleet(key, 2, "x" + uuid.uuid4().hex[:5])
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
            z.writestr("bootstrap", "#!/bin/sh\necho v2\n")
            z.writestr("filler.bin", os.urandom(512 * 1024))
        data2 = buf.getvalue()
        v2 = self.s3.put_object(Bucket=BUCKET, Key=key, Body=data2)["VersionId"]
        self.proxy.reset()
        self.proxy.add_rule({"match": {"operation": "GetObject"}, "times": 1,
                             "action": {"truncate": True}})
        r = self.rollout(["s3://%s/%s#%s" % (BUCKET, key, v2)])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        out = json.loads(r.stdout)
        self.assertEqual((out["status"], out["updated"], out["sha256"]), ("done", 2, sha_b64(data2)), out)
        self.assertEqual(out["object_bytes"], len(data2))
        self.assertEqual(self.proxy.counts()["s3:GetObject"], 2)
        self.assertEqual(set(self.shas(names).values()), {sha_b64(data2)})

    def test_deadline_pauses_then_resume(self):
        # The Lambda-deadline path: stop starting batches, leave it resumable.
        key = "dl-%s.zip" % uuid.uuid4().hex[:6]
        self.upload(key, "v1")
        names = self.fleet(key, 30, "d" + uuid.uuid4().hex[:5])
        data2, v2 = self.upload(key, "v2")
        self.proxy.reset()
        env = self.env_for(TASKPIPE_LAMBDA_RPS=5)
        r = self.rollout(["s3://%s/%s#%s" % (BUCKET, key, v2), "--max-seconds", "2.5"], env)
        self.assertEqual(r.returncode, 3, r.stdout + r.stderr)
        self.assertEqual(json.loads(r.stdout)["status"], "paused")
        first = len(self.updates())
        self.assertTrue(0 < first < 30, first)
        self.assertEqual(self.status("s3://%s/%s" % (BUCKET, key))["status"], "paused")
        r = run_taskpipe(["rollout", "resume", "--json"], env)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        mine = [o for o in json.loads(r.stdout) if key in o["rollout"]]
        self.assertEqual([o["status"] for o in mine], ["done"])
        per_fn = {}
        for p, _ in self.updates():
            per_fn[p] = per_fn.get(p, 0) + 1
        self.assertEqual(per_fn, {p: 1 for p in names})
        self.assertEqual(set(self.shas(names).values()), {sha_b64(data2)})

    def test_failed_scan_resumes_nothing(self):
        # A scan of the rollout heads that fails on its second page (moto
        # pages at 1 MB, so fillers make a second page) must not resume the
        # heads of the first page: a partial set is not acted on.
        key = "partial-%s.zip" % uuid.uuid4().hex[:6]
        head = "rollout#%s/%s" % (BUCKET, key)
        self.ddb.put_item(TableName=STATE, Item={
            "pk": {"S": head}, "kind": {"S": "rollout"}, "bucket": {"S": BUCKET},
            "key": {"S": key}, "version": {"S": ""}, "status": {"S": "running"},
            "gen": {"N": "1"}, "wave": {"N": "0"}, "lease_until": {"N": "0"}})
        fillers = ["rollout#zz-filler-%s-%d" % (key, i) for i in range(4)]
        for pk in fillers:
            self.ddb.put_item(TableName=STATE, Item={
                "pk": {"S": pk}, "kind": {"S": "filler"}, "pad": {"S": "x" * 350000}})
        try:
            self.proxy.reset()
            self.proxy.add_rule({
                "match": {"operation": "Scan"}, "times": -1, "skip": 1,
                "action": {"status": 400, "body": json.dumps(
                    {"__type": "com.amazonaws.dynamodb.v20120810#ValidationException",
                     "message": "injected: second page refused"}),
                    "headers": {"x-amzn-ErrorType": "ValidationException"}}})
            r = run_taskpipe(["rollout", "resume", "--json"], self.env_for())
            counts = self.proxy.counts()
            # one GetItem at start: the stored settings (settings#instance) every process reads
            self.assertLessEqual(counts.get("dynamodb:GetItem", 0), 1, counts)
            acted = {k: v for k, v in counts.items() if k not in ("dynamodb:Scan", "dynamodb:GetItem")}
            self.assertEqual(acted, {}, "acted on a partial scan: %s" % acted)
            self.assertEqual(counts.get("dynamodb:Scan"), 2, counts)
            self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
            self.assertIn("ValidationException", r.stderr)
        finally:
            self.proxy.reset()
            for pk in fillers + [head]:
                self.ddb.delete_item(TableName=STATE, Key={"pk": {"S": pk}})

    def test_bad_uri_and_no_targets(self):
        r = run_taskpipe(["rollout", "s3://only-bucket"], self.env_for())
        self.assertEqual(r.returncode, 2)
        self.assertIn("BadUri", r.stderr)
        key = "none-%s.zip" % uuid.uuid4().hex[:6]
        self.upload(key, "v1")
        r = self.rollout(["s3://%s/%s" % (BUCKET, key)])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["status"], "no-targets")


if __name__ == "__main__":
    unittest.main()
