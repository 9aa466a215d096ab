"""Code storage (S3ObjectStorageMode) and runtime lifecycle, through the
AwsModel layer, which models what moto lacks: REFERENCE needs a version and a
versioned bucket, an UpdateFunctionCode without the field puts a function
back to COPY, a REFERENCE function whose object version is gone is Inactive.

Every check reads the layer's model (storage_of) or moto with boto3, never
taskpipe's own output alone. On the code before code_storage, every test
here fails: functions were created and updated without the field (COPY)."""
import json
import os
import sys
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Moto, run_taskpipe  # noqa: E402
from awsmodel import REF_LOST_CODE, AwsModel  # noqa: E402
from test_pipelines import Env, code_zip  # noqa: E402
from test_awsmodel import raw  # noqa: E402

SCALE = 0.02


class Base(unittest.TestCase):
    versioned = True

    @classmethod
    def setUpClass(cls):
        cls.moto = Moto.shared()
        cls.aws = AwsModel(cls.moto.endpoint, scale=SCALE).start()
        s3 = cls.moto.client("s3")
        try:   # test_pipelines.Env looks for its default object there
            s3.create_bucket(Bucket="code")
        except s3.exceptions.BucketAlreadyOwnedByYou:
            pass

    @classmethod
    def tearDownClass(cls):
        cls.aws.stop()

    def setUp(self):
        self.bucket = "cs-" + uuid.uuid4().hex[:10]
        s3 = self.moto.client("s3")
        s3.create_bucket(Bucket=self.bucket)
        if self.versioned:
            s3.put_bucket_versioning(Bucket=self.bucket,
                                     VersioningConfiguration={"Status": "Enabled"})
        self.v1 = s3.put_object(Bucket=self.bucket, Key="c.zip", Body=code_zip()).get("VersionId")
        # TASKPIPE_CANARY_PAUSE_S=0: the canary is not watched (no metrics
        # here; test_rollout_real's CanaryTest covers the health check)
        self.e = Env(self.moto, "cs", AWS_ENDPOINT_URL=self.aws.endpoint,
                     TASKPIPE_CODE_BUCKET=self.bucket, TASKPIPE_CODE_KEY="c.zip",
                     TASKPIPE_CANARY_PAUSE_S="0")
        self.s3 = s3

    def fn(self, p):
        return self.e.prefix + p

    def drift(self, *args):
        r = self.e.run("drift", "--json", *args)
        self.assertTrue(r.stdout.strip(), r.stderr)
        doc = json.loads(r.stdout)
        return r.returncode, {p["pipeline"]: p for p in doc["pipelines"]}

    def entry(self, pipe, field):
        hits = [d for d in pipe["drift"] if d["field"] == field]
        self.assertEqual(len(hits), 1, pipe["drift"])
        return hits[0]

    def upload(self):
        return self.s3.put_object(Bucket=self.bucket, Key="c.zip",
                                  Body=code_zip() + b"\n" * 3).get("VersionId")


class Create(Base):
    def test_reference_by_default_on_a_versioned_bucket(self):
        self.e.put({"pipeline": "a"}, {"pipeline": "b", "code_storage": "copy"})
        res, _ = self.e.apply()
        self.assertEqual({p: r["status"] for p, r in res.items()}, {"a": "ok", "b": "ok"})
        self.assertEqual(self.aws.storage_of(self.fn("a")),
                         ("REFERENCE", (self.bucket, "c.zip", self.v1)))
        self.assertEqual(self.aws.storage_of(self.fn("b")), ("COPY", None))
        # Converged: a second run changes nothing.
        res, _ = self.e.apply()
        self.assertEqual([r["changes"] for r in res.values()], [[], []], res)

    def test_bad_code_storage_is_a_policy_error_for_that_item_only(self):
        self.e.put({"pipeline": "bad", "code_storage": "shared"}, {"pipeline": "good"}, check=False)
        res, _ = self.e.apply(expect=1)
        self.assertEqual(res["good"]["status"], "ok")
        self.assertEqual(res["bad"]["status"], "error")
        self.assertIn("code_storage", json.dumps(res["bad"]))
        self.assertIsNone(self.aws.storage_of(self.fn("bad")))

    def test_blocked_runtime_pinned_is_refused(self):
        # go1.x: creates blocked since 2024-02-08 (a deprecated runtime Lambda
        # still accepts is allowed: Runtimes below)
        self.e.put({"pipeline": "old", "runtime": "go1.x"}, check=False)
        res, _ = self.e.apply(expect=1)
        self.assertIn("past Lambda's block date (deprecated 2024-01-08", json.dumps(res["old"]))
        self.assertIsNone(self.e.function("old"))


class Unversioned(Base):
    versioned = False

    def test_copy_by_default_and_reference_refused_clearly(self):
        self.e.put({"pipeline": "a"}, {"pipeline": "r", "code_storage": "reference"})
        res, _ = self.e.apply(expect=1)
        self.assertEqual(res["a"]["status"], "ok")
        self.assertEqual(self.aws.storage_of(self.fn("a")), ("COPY", None))
        self.assertEqual(res["r"]["status"], "error")
        self.assertIn("ReferenceNeedsVersioning", json.dumps(res["r"]))
        self.assertIsNone(self.e.function("r"))


class Rollout(Base):
    def test_every_update_keeps_reference(self):
        self.e.put({"pipeline": "a"}, {"pipeline": "b"}, {"pipeline": "c", "code_storage": "copy"})
        self.e.apply()
        for n in range(2):   # every rollout, not only the first
            v = self.upload()
            r = self.e.run("rollout", "s3://%s/c.zip#%s" % (self.bucket, v), "--json")
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertEqual(json.loads(r.stdout)["updated"], 3, r.stdout)
            for p in ("a", "b"):
                self.assertEqual(self.aws.storage_of(self.fn(p)),
                                 ("REFERENCE", (self.bucket, "c.zip", v)), (n, p))
            self.assertEqual(self.aws.storage_of(self.fn("c")), ("COPY", None))
        # Nothing for reconcile or drift to repair afterwards.
        rc, pipes = self.drift()
        self.assertEqual(rc, 0, pipes)


class Drift(Base):
    def test_fallback_to_copy_reported_and_fixed(self):
        self.e.put({"pipeline": "a"})
        self.e.apply()
        # Someone updates the code without S3ObjectStorageMode: back to COPY.
        lam = self.moto.client("lambda", endpoint=self.aws.endpoint)
        lam.update_function_code(FunctionName=self.fn("a"), S3Bucket=self.bucket, S3Key="c.zip",
                                 S3ObjectVersion=self.v1)
        self.assertEqual(self.aws.storage_of(self.fn("a"))[0], "COPY")
        rc, pipes = self.drift()
        self.assertEqual(rc, 2, pipes)      # drift found
        d = self.entry(pipes["a"], "Code.S3ObjectStorageMode")
        self.assertEqual((d["expected"], d["actual"]), ("REFERENCE", "COPY"))
        self.assertIn("fell back to COPY", d["note"])
        rc, pipes = self.drift("--fix")
        self.assertEqual(pipes["a"]["fix"]["status"], "fixed", pipes["a"])
        self.assertEqual(self.aws.storage_of(self.fn("a")),
                         ("REFERENCE", (self.bucket, "c.zip", self.v1)))
        rc, pipes = self.drift()
        self.assertEqual((rc, pipes["a"]["status"]), (0, "in_sync"), pipes)

    def test_inactive_object_gone_reported_not_fixed_then_fixed_once_uploaded(self):
        self.e.put({"pipeline": "a"})
        self.e.apply()
        self.s3.delete_object(Bucket=self.bucket, Key="c.zip", VersionId=self.v1)
        rc, pipes = self.drift()
        d = self.entry(pipes["a"], "State")
        self.assertEqual((d["expected"], d["actual"]), ("Active", "Inactive"))
        # AWS documents no reason code for it: the model's stand-in, and its message
        self.assertIn(REF_LOST_CODE, d["note"])
        self.assertIn("cannot read", d["note"])
        # The object is gone altogether: reported, never "fixed" with a guess.
        rc, pipes = self.drift("--fix")
        self.assertEqual(pipes["a"]["fix"]["status"], "failed", pipes["a"])
        self.assertIn("CodeObjectGone", json.dumps(pipes["a"]["fix"]))
        self.assertEqual(self.aws.storage_of(self.fn("a")),
                         ("REFERENCE", (self.bucket, "c.zip", self.v1)))
        # Uploaded again: the fix points the function at the current version.
        v2 = self.upload()
        rc, pipes = self.drift("--fix")
        self.assertEqual(pipes["a"]["fix"]["status"], "fixed", pipes["a"])
        self.assertEqual(self.aws.storage_of(self.fn("a")),
                         ("REFERENCE", (self.bucket, "c.zip", v2)))
        rc, pipes = self.drift()
        self.assertEqual((rc, pipes["a"]["status"]), (0, "in_sync"), pipes)

    def test_mode_read_from_resolved_s3_object(self):
        """Issue 23, defect 2: FunctionConfiguration has no storage-mode field;
        GetFunction's Code.ResolvedS3Object shows REFERENCE, its absence COPY."""
        self.e.put({"pipeline": "a"}, {"pipeline": "c", "code_storage": "copy"})
        self.e.apply()
        lam = self.moto.client("lambda", endpoint=self.aws.endpoint)
        got = raw(lam, "get_function", FunctionName=self.fn("a"))   # boto3 may drop new fields
        self.assertNotIn("S3ObjectStorageMode", got["Configuration"])
        self.assertEqual(got["Code"]["ResolvedS3Object"],
                         {"S3Bucket": self.bucket, "S3Key": "c.zip", "S3ObjectVersion": self.v1})
        self.assertNotIn("ResolvedS3Object", raw(lam, "get_function", FunctionName=self.fn("c"))["Code"])
        for f in raw(lam, "list_functions")["Functions"]:
            self.assertNotIn("S3ObjectStorageMode", f)
        # Nothing to repair: the modes match what the items ask.
        rc, pipes = self.drift()
        self.assertEqual(rc, 0, pipes)
        res, _ = self.e.apply("a", "--force")
        self.assertEqual(res["a"]["changes"], [], res["a"])

    def test_inactive_from_lost_access_reported_and_fixed(self):
        """Issue 23, defect 2: Inactive also comes from a bucket-policy or KMS
        change, with other reason codes: any Inactive but Idle counts."""
        self.e.put({"pipeline": "a"})
        self.e.apply()
        self.aws.lose_reference(self.fn("a"), code="KMSKeyAccessDenied",
                                reason="Lambda was unable to decrypt the code object.")
        rc, pipes = self.drift()
        self.assertEqual(rc, 2, pipes)
        d = self.entry(pipes["a"], "State")
        self.assertEqual((d["expected"], d["actual"]), ("Active", "Inactive"))
        self.assertIn("KMSKeyAccessDenied", d["note"])
        rc, pipes = self.drift("--fix")      # access back: the update re-references it
        self.assertEqual(pipes["a"]["fix"]["status"], "fixed", pipes["a"])
        self.assertEqual(self.aws.function_state(self.fn("a"))["State"], "Active")

    def test_deprecated_runtime_reported_with_date_and_moved(self):
        self.e.put({"pipeline": "a"})
        self.e.apply()
        lam = self.moto.client("lambda", endpoint=self.aws.endpoint)
        lam.update_function_configuration(FunctionName=self.fn("a"), Runtime="provided.al2")
        rc, pipes = self.drift()
        d = self.entry(pipes["a"], "Runtime")
        self.assertEqual((d["expected"], d["actual"]), ("provided.al2023", "provided.al2"))
        self.assertIn("deprecated since 2026-07-31", d["note"])
        rc, pipes = self.drift("--fix")
        self.assertEqual(pipes["a"]["fix"]["status"], "fixed", pipes["a"])
        cfg = self.moto.client("lambda").get_function(FunctionName=self.fn("a"))["Configuration"]
        self.assertEqual(cfg["Runtime"], "provided.al2023")
        # The fix is a configuration update: the code (and its mode) stayed.
        self.assertEqual(self.aws.storage_of(self.fn("a"))[0], "REFERENCE")


class Runtimes(Base):
    """Issue 23, defect 6: one runtime table with dates. Through the layer,
    Lambda refuses a runtime past its block date ([runtime]); taskpipe refuses
    it before anything is made, allows a deprecated one, and drift flags it.
    The date is fixed on both sides (TASKPIPE_TODAY, RuntimeLifecycle.today)."""
    TODAY = "2026-12-07"

    def setUp(self):
        super().setUp()
        self.aws.runtimes.today = self.TODAY
        self.e.env["TASKPIPE_TODAY"] = self.TODAY

    def test_blocked_refused_before_anything_deprecated_allowed_and_flagged(self):
        # put's policy check refuses n18 too (issue 27): written unchecked, as
        # an item made by another tool would be, so apply's refusal is seen
        self.e.put({"pipeline": "n18", "runtime": "nodejs18.x", "handler": "h.main"}, check=False)
        self.e.put({"pipeline": "al2", "runtime": "provided.al2"})
        res, _ = self.e.apply(expect=1)
        self.assertEqual(res["n18"]["status"], "error", res["n18"])
        self.assertIn("past Lambda's block date", res["n18"]["error"]["message"])
        self.assertIsNone(self.e.queue_url(self.e.qname("n18")))     # nothing half made
        self.assertIsNone(self.e.function("n18"))
        self.assertEqual(self.aws.runtimes.refused, [])                # Lambda never had to
        self.assertEqual(res["al2"]["status"], "ok", res["al2"])      # deprecated: allowed
        self.assertEqual(self.e.function("al2")["Configuration"]["Runtime"], "provided.al2")
        rc, pipes = self.drift()
        d = self.entry(pipes["al2"], "Runtime")
        self.assertEqual(d["actual"], "provided.al2")
        self.assertIn("deprecated since 2026-07-31", d["note"])
        self.assertIn("creates from 2027-02-01, updates from 2027-03-03", d["note"])


if __name__ == "__main__":
    unittest.main()
