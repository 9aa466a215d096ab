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
from harness import Moto, ROOT, TASKPIPE, run_taskpipe  # noqa: E402

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
    out = src.replace("wave(1, 1, 30)", "wave(1, 1, 0)")
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

    def fleet(self, key, n, tag, lam=None, image=()):
        """n functions + state records on s3://BUCKET/key; sorted pipeline names."""
        lam = lam or self.lam
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


if __name__ == "__main__":
    unittest.main()
