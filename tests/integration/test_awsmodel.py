"""Tests of awsmodel.py, the AWS-faithful layer over moto: boto3 through the
layer into moto sees what AWS would send (function and mapping states and the
conflicts they cause, QueueDeletedRecently, stale list and tagging answers,
the shared Lambda rate limit with Retry-After, concurrency-bound bookkeeping)
and S3 bodies stream through with flat memory. Each behaviour is also checked
against moto directly where that shows moto alone would NOT fail, so the
layer is what makes the difference."""
import hashlib
import http.client
import io
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse
import uuid
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Moto, REGION, TASKPIPE, run_taskpipe  # noqa: E402
from awsmodel import REF_LOST_CODE, AwsModel, STATE_FIELDS  # noqa: E402

import boto3  # noqa: E402
import botocore.exceptions as bce  # noqa: E402
from botocore.config import Config  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ONE_SHOT = Config(retries={"total_max_attempts": 1, "mode": "standard"})
# Times at scale 0.1: pending/update/mapping transitions 1 s (TRANSITION AWS
# seconds), lag 1 s, QueueDeletedRecently 6 s (2 s where the test sets 20).
# Several calls must land inside one transition, on a loaded 2-core machine.
SCALE = 0.1
TRANSITION = 10
FAST = 100000   # req/s for tests that are not about the rate limit
PIECE_TEST = 700 * 1024 + 7   # several of the layer's 256 KiB pieces, not a multiple
SQS_AUTH = ("AWS4-HMAC-SHA256 Credential=testing/20240101/us-east-1/sqs/aws4_request, "
            "SignedHeaders=host;x-amz-date, Signature=00")


def uniq(prefix):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:10])


def tiny_zip():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("index.py", "def handler(event, context):\n    return event\n")
    return buf.getvalue()


def wait_for(pred, timeout=10.0, step=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    raise AssertionError("condition not met within %.1fs" % timeout)


def client(service, endpoint, config=ONE_SHOT):
    return boto3.client(service, region_name=REGION, endpoint_url=endpoint,
                        aws_access_key_id="testing", aws_secret_access_key="testing",
                        config=config)


_warm = None


def setUpModule():
    # moto's first tagging call loads every backend (~8 s): do it while other tests run.
    global _warm
    moto = Moto.shared()

    def warm():
        try:
            client("resourcegroupstaggingapi", moto.endpoint).get_resources(
                ResourceTypeFilters=["sqs"])
        except Exception:   # noqa: BLE001 (moto stopped: a run of other tests only)
            pass
    _warm = threading.Thread(target=warm, daemon=True)
    _warm.start()


class LayerTest(unittest.TestCase):
    rps = FAST

    @classmethod
    def setUpClass(cls):
        cls.moto = Moto.shared()
        cls.role = cls.moto.role_arn()

    def setUp(self):
        self.aws = AwsModel(self.moto.endpoint, scale=SCALE, lambda_rps=self.rps,
                            lambda_get_rps=self.rps, lambda_policy_rps=self.rps,
                            fn_pending_s=TRANSITION, fn_update_s=TRANSITION,
                            esm_transition_s=TRANSITION).start()
        self.lam = client("lambda", self.aws.endpoint)
        self.sqs = client("sqs", self.aws.endpoint)

    def tearDown(self):
        self.aws.stop()

    def create_function(self, name=None):
        name = name or uniq("fn")
        out = self.lam.create_function(FunctionName=name, Runtime="python3.12", Role=self.role,
                                       Handler="index.handler", Code={"ZipFile": tiny_zip()})
        return name, out

    def active(self, name):
        def done():
            c = self.lam.get_function(FunctionName=name)["Configuration"]
            return c if c["State"] != "Pending" else None
        return wait_for(done)

    def settled(self, name):
        def done():
            c = self.lam.get_function_configuration(FunctionName=name)
            return c if c.get("LastUpdateStatus") != "InProgress" else None
        return wait_for(done)

    def assertError(self, cm, code, status):
        err = cm.exception.response
        self.assertEqual(err["Error"]["Code"], code)
        self.assertEqual(err["ResponseMetadata"]["HTTPStatusCode"], status)
        return err


class TestFunctionStates(LayerTest):
    def test_create_pending_then_active(self):
        name, out = self.create_function()
        self.assertEqual(out["State"], "Pending")
        self.assertEqual(out["StateReasonCode"], "Creating")
        # Not set until creation completes (API_FunctionConfiguration).
        self.assertNotIn("LastUpdateStatus", out)
        cfg = self.lam.get_function(FunctionName=name)["Configuration"]
        self.assertEqual(cfg["State"], "Pending")
        cfg = self.active(name)
        self.assertEqual((cfg["State"], cfg["LastUpdateStatus"]), ("Active", "Successful"))
        cfg = self.lam.get_function_configuration(FunctionName=name)
        self.assertEqual((cfg["State"], cfg["LastUpdateStatus"]), ("Active", "Successful"))
        # moto alone says Active at once: the layer is what models Pending.
        direct = client("lambda", self.moto.endpoint)
        other = uniq("fn")
        self.assertEqual(direct.create_function(
            FunctionName=other, Runtime="python3.12", Role=self.role,
            Handler="index.handler", Code={"ZipFile": tiny_zip()})["State"], "Active")

    def test_update_during_pending_and_in_progress_conflicts(self):
        name, _ = self.create_function()
        with self.assertRaises(bce.ClientError) as cm:
            self.lam.update_function_configuration(FunctionName=name, Timeout=5)
        err = self.assertError(cm, "ResourceConflictException", 409)
        self.assertEqual(err["ResponseMetadata"]["HTTPHeaders"]["x-amzn-errortype"],
                         "ResourceConflictException")
        self.assertIn("Pending", err["Error"]["Message"])
        with self.assertRaises(self.lam.exceptions.ResourceConflictException):
            self.lam.publish_version(FunctionName=name)
        self.active(name)
        out = self.lam.update_function_configuration(FunctionName=name, Timeout=5)
        self.assertEqual((out["State"], out["LastUpdateStatus"]), ("Active", "InProgress"))
        cfg = self.lam.get_function(FunctionName=name)["Configuration"]
        self.assertEqual(cfg["LastUpdateStatus"], "InProgress")
        for call in (lambda: self.lam.update_function_code(FunctionName=name, ZipFile=tiny_zip()),
                     lambda: self.lam.update_function_configuration(FunctionName=name, Timeout=6),
                     lambda: self.lam.publish_version(FunctionName=name)):
            with self.assertRaises(bce.ClientError) as cm:
                call()
            self.assertError(cm, "ResourceConflictException", 409)
            self.assertIn("An update is in progress", cm.exception.response["Error"]["Message"])
        rules = [v["rule"] for v in self.aws.violations()]
        self.assertEqual(rules, ["function Pending", "function Pending", "update InProgress",
                                 "update InProgress", "update InProgress"])
        self.assertEqual(self.settled(name)["LastUpdateStatus"], "Successful")
        out = self.lam.update_function_code(FunctionName=name, ZipFile=tiny_zip())
        self.assertEqual(out["LastUpdateStatus"], "InProgress")
        self.settled(name)
        self.assertEqual(self.lam.get_function_configuration(FunctionName=name)["Timeout"], 5)
        self.lam.publish_version(FunctionName=name)

    def test_refused_update_releases_the_slot(self):
        # An update moto rejects (bad value) must not leave the function InProgress.
        name, _ = self.create_function()
        self.active(name)
        with self.assertRaises(bce.ClientError) as cm:   # moto: 500 for a missing bucket
            self.lam.update_function_code(FunctionName=name, S3Bucket=uniq("nobucket"),
                                          S3Key="k")
        self.assertNotEqual(cm.exception.response["Error"]["Code"], "ResourceConflictException")
        self.assertEqual(self.aws.function_state(name)["LastUpdateStatus"], "Successful")
        self.lam.update_function_configuration(FunctionName=name, Timeout=7)

    def test_invoke_during_pending_conflicts(self):
        name, _ = self.create_function()
        with self.assertRaises(bce.ClientError) as cm:
            self.lam.invoke(FunctionName=name, Payload=b"{}")
        self.assertError(cm, "ResourceConflictException", 409)

    def test_fail_function_on_create(self):
        name = uniq("fn")
        self.aws.fail_function(name, reason="ENI limit reached", on="create",
                               code="EniLimitExceeded")
        _, out = self.create_function(name)
        self.assertEqual(out["State"], "Pending")
        cfg = self.active(name)
        self.assertEqual((cfg["State"], cfg["StateReason"], cfg["StateReasonCode"]),
                         ("Failed", "ENI limit reached", "EniLimitExceeded"))
        with self.assertRaises(bce.ClientError) as cm:   # must be deleted and re-created
            self.lam.update_function_configuration(FunctionName=name, Timeout=5)
        self.assertError(cm, "ResourceConflictException", 409)
        self.lam.delete_function(FunctionName=name)
        _, out = self.create_function(name)             # the failure was used up
        self.assertEqual(self.active(name)["State"], "Active")

    def test_fail_function_on_update(self):
        name, _ = self.create_function()
        self.active(name)
        self.aws.fail_function(name, reason="Subnet out of IPs", on="update",
                               code="SubnetOutOfIPAddresses")
        self.lam.update_function_configuration(FunctionName=name, Timeout=5)
        cfg = self.settled(name)
        self.assertEqual((cfg["State"], cfg["LastUpdateStatus"], cfg["LastUpdateStatusReason"],
                          cfg["LastUpdateStatusReasonCode"]),
                         ("Active", "Failed", "Subnet out of IPs", "SubnetOutOfIPAddresses"))
        self.lam.update_function_configuration(FunctionName=name, Timeout=6)
        self.assertEqual(self.settled(name)["LastUpdateStatus"], "Successful")

    def test_list_functions_lacks_state_fields(self):
        name, _ = self.create_function()
        self.active(name)
        direct = [f for f in client("lambda", self.moto.endpoint).list_functions()["Functions"]
                  if f["FunctionName"] == name]
        self.assertIn("State", direct[0])       # moto alone returns them
        listed = [f for f in self.lam.list_functions()["Functions"] if f["FunctionName"] == name]
        self.assertEqual(len(listed), 1)
        for k in STATE_FIELDS:
            self.assertNotIn(k, listed[0])
        self.assertEqual(self.lam.get_function(FunctionName=name)["Configuration"]["State"],
                         "Active")

    def test_no_layers_member_without_layers(self):
        name, out = self.create_function()
        self.assertNotIn("Layers", out)
        self.active(name)
        direct = client("lambda", self.moto.endpoint).get_function(FunctionName=name)["Configuration"]
        self.assertEqual(direct["Layers"], [])      # moto alone: an empty list
        self.assertNotIn("Layers", self.lam.get_function(FunctionName=name)["Configuration"])
        self.assertNotIn("Layers", self.lam.get_function_configuration(FunctionName=name))
        listed = [f for f in self.lam.list_functions()["Functions"] if f["FunctionName"] == name]
        self.assertNotIn("Layers", listed[0])
        # (a function with layers keeps them: test_rates, on moto's default Lambda backend;
        # the docker-less one used here cannot find published layer versions)


def with_storage_mode(lam, mode, where):
    """boto3 does not know S3ObjectStorageMode yet: put it into the JSON body
    (inside Code for CreateFunction, top level for UpdateFunctionCode)."""
    def add(request, **_):
        body = json.loads(request.data or b"{}")
        (body.setdefault("Code", {}) if where == "Code" else body)["S3ObjectStorageMode"] = mode
        request.data = json.dumps(body).encode()
        request.headers["Content-Length"] = str(len(request.data))
    lam.meta.events.register_first("before-sign.lambda.*", add)
    return lambda: lam.meta.events.unregister("before-sign.lambda.*", add)


def raw(lam, call, **kw):
    """The JSON body AWS (the layer) sent for one call: boto3 drops the fields its
    model lacks, such as S3ObjectStorageMode."""
    got = {}

    def keep(http_response, **_):
        got["body"] = json.loads(http_response.content or b"{}")
    lam.meta.events.register("after-call.lambda.*", keep)
    try:
        getattr(lam, call)(**kw)
    finally:
        lam.meta.events.unregister("after-call.lambda.*", keep)
    return got["body"]


class TestServiceThrottle(unittest.TestCase):
    """[throttle] SQS, DynamoDB and S3 throttle too; one DynamoDB key takes only
    so many writes a second (boto3 with one attempt: the raw answers)."""

    @classmethod
    def setUpClass(cls):
        cls.moto = Moto.shared()

    def test_hot_key_and_each_service(self):
        aws = AwsModel(self.moto.endpoint, scale=SCALE, hot_key_wps=2).start()
        self.addCleanup(aws.stop)
        ddb = client("dynamodb", aws.endpoint)
        t = uniq("hot")
        ddb.create_table(TableName=t, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                         BillingMode="PAY_PER_REQUEST")
        codes = []
        for i in range(6):      # one key, faster than 2 writes/s
            try:
                ddb.put_item(TableName=t, Item={"pk": {"S": "account#lambda-budget"}, "n": {"N": str(i)}})
                codes.append("ok")
            except bce.ClientError as e:
                codes.append(e.response["Error"]["Code"])
        self.assertIn("ThrottlingException", codes)
        for i in range(6):      # other keys are not hot
            ddb.put_item(TableName=t, Item={"pk": {"S": "k%d" % i}})
        with aws._mlock:
            aws.throttles.force.update({"sqs": 1, "s3": 1})
        with self.assertRaises(bce.ClientError) as cm:
            client("sqs", aws.endpoint).list_queues()
        self.assertIn(cm.exception.response["Error"]["Code"], ("RequestThrottled", "ThrottlingException"))
        with self.assertRaises(bce.ClientError) as cm:
            client("s3", aws.endpoint).list_buckets()
        self.assertEqual((cm.exception.response["Error"]["Code"],
                          cm.exception.response["ResponseMetadata"]["HTTPStatusCode"]), ("SlowDown", 503))


class TestConcurrencyPool(LayerTest):
    """[pool] The account's concurrency: GetAccountSettings and the refusal."""

    def test_account_settings_and_refusal_naming_the_minimum(self):
        self.aws.stop()
        self.aws = AwsModel(self.moto.endpoint, scale=SCALE, account_concurrency=103,
                            unreserved_min=100).start()
        self.lam = client("lambda", self.aws.endpoint)
        lim = self.lam.get_account_settings()["AccountLimit"]
        self.assertEqual((lim["ConcurrentExecutions"], lim["UnreservedConcurrentExecutions"]), (103, 103))
        a, _ = self.create_function()
        b, _ = self.create_function()
        self.active(a)
        self.active(b)
        self.lam.put_function_concurrency(FunctionName=a, ReservedConcurrentExecutions=2)
        self.lam.put_function_concurrency(FunctionName=a, ReservedConcurrentExecutions=3)   # its own
        self.assertEqual(self.lam.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"], 100)
        with self.assertRaises(bce.ClientError) as cm:
            self.lam.put_function_concurrency(FunctionName=b, ReservedConcurrentExecutions=1)
        err = self.assertError(cm, "InvalidParameterValueException", 400)
        self.assertEqual(err["Error"]["Message"],
                         "Specified ReservedConcurrentExecutions for function decreases account's "
                         "UnreservedConcurrentExecution below its minimum value of [100].")
        self.assertEqual(self.aws.pool.refused, [(b, 1)])
        # Deleting the reservation (or the function) gives it back.
        self.lam.delete_function_concurrency(FunctionName=a)
        self.lam.put_function_concurrency(FunctionName=b, ReservedConcurrentExecutions=3)
        self.lam.delete_function(FunctionName=b)
        self.assertEqual(self.aws.pool.unreserved(), 103)


class TestStorageMode(LayerTest):
    """[selfref] S3ObjectStorageMode, which moto does not know."""

    def setUp(self):
        super().setUp()
        self.s3 = client("s3", self.moto.endpoint)
        self.bucket = uniq("code")
        self.s3.create_bucket(Bucket=self.bucket)
        self.s3.put_bucket_versioning(Bucket=self.bucket,
                                      VersioningConfiguration={"Status": "Enabled"})
        self.v1 = self.s3.put_object(Bucket=self.bucket, Key="c.zip", Body=tiny_zip())["VersionId"]

    def create_reference(self, version=None, bucket=None):
        name = uniq("fn")
        code = {"S3Bucket": bucket or self.bucket, "S3Key": "c.zip"}
        if version:
            code["S3ObjectVersion"] = version
        undo = with_storage_mode(self.lam, "REFERENCE", "Code")
        try:
            self.lam.create_function(FunctionName=name, Runtime="python3.12", Role=self.role,
                                     Handler="index.handler", Code=code)
        finally:
            undo()
        return name

    def test_reference_reported_and_update_without_field_falls_back(self):
        name = self.create_reference(self.v1)
        self.active(name)
        got = raw(self.lam, "get_function", FunctionName=name)
        cfg = got["Configuration"]
        # No storage-mode field in FunctionConfiguration; GetFunction's Code
        # carries ResolvedS3Object for REFERENCE (API_ResolvedS3Object).
        self.assertNotIn("S3ObjectStorageMode", cfg)
        self.assertEqual(got["Code"]["ResolvedS3Object"],
                         {"S3Bucket": self.bucket, "S3Key": "c.zip", "S3ObjectVersion": self.v1})
        self.assertGreater(cfg["CodeSize"], 0)      # the package's size, as for COPY
        for f in raw(self.lam, "list_functions")["Functions"]:     # a page of them: none has it
            self.assertNotIn("S3ObjectStorageMode", f)
        undo = with_storage_mode(self.lam, "REFERENCE", "top")
        try:
            out = raw(self.lam, "update_function_code", FunctionName=name, S3Bucket=self.bucket,
                      S3Key="c.zip", S3ObjectVersion=self.v1)
        finally:
            undo()
        self.assertNotIn("S3ObjectStorageMode", out)
        self.assertEqual(self.aws.storage_of(name), ("REFERENCE", (self.bucket, "c.zip", self.v1)))
        self.settled(name)
        # The field omitted: back to COPY, and GetFunction resolves no object.
        out = raw(self.lam, "update_function_code", FunctionName=name, S3Bucket=self.bucket,
                  S3Key="c.zip", S3ObjectVersion=self.v1)
        self.assertNotIn("S3ObjectStorageMode", out)
        self.assertEqual(self.aws.storage_of(name), ("COPY", None))
        self.settled(name)
        self.assertNotIn("ResolvedS3Object", raw(self.lam, "get_function", FunctionName=name)["Code"])
        # A plain create is COPY.
        plain = uniq("fn")
        raw(self.lam, "create_function", FunctionName=plain, Runtime="python3.12",
            Role=self.role, Handler="index.handler", Code={"ZipFile": tiny_zip()})
        self.assertEqual(self.aws.storage_of(plain), ("COPY", None))

    def test_reference_needs_version_and_versioned_bucket(self):
        with self.assertRaises(bce.ClientError) as cm:
            self.create_reference(None)
        self.assertError(cm, "InvalidParameterValueException", 400)
        plain = uniq("plain")
        self.s3.create_bucket(Bucket=plain)
        v = self.s3.put_object(Bucket=plain, Key="c.zip", Body=tiny_zip()).get("VersionId") or "null"
        with self.assertRaises(bce.ClientError) as cm:
            self.create_reference(v, bucket=plain)
        err = self.assertError(cm, "InvalidParameterValueException", 400)
        self.assertIn("versioning", err["Error"]["Message"])

    def test_deleted_object_version_makes_the_function_inactive(self):
        name = self.create_reference(self.v1)
        self.active(name)
        self.s3.delete_object(Bucket=self.bucket, Key="c.zip", VersionId=self.v1)
        cfg = self.lam.get_function(FunctionName=name)["Configuration"]
        # AWS documents no code for it: a documented one stands in (REF_LOST_CODE)
        self.assertEqual((cfg["State"], cfg["StateReasonCode"]), ("Inactive", REF_LOST_CODE))
        self.assertIn(self.v1, cfg["StateReason"])
        # A new REFERENCE update to a readable version brings it back.
        v2 = self.s3.put_object(Bucket=self.bucket, Key="c.zip", Body=tiny_zip())["VersionId"]
        undo = with_storage_mode(self.lam, "REFERENCE", "top")
        try:
            self.lam.update_function_code(FunctionName=name, S3Bucket=self.bucket,
                                          S3Key="c.zip", S3ObjectVersion=v2)
        finally:
            undo()
        self.assertEqual(self.aws.storage_of(name), ("REFERENCE", (self.bucket, "c.zip", v2)))
        self.assertEqual(self.settled(name)["State"], "Active")

    def test_lost_access_makes_the_function_inactive(self):
        """A bucket-policy or KMS change: Inactive with that code, the object still there."""
        name = self.create_reference(self.v1)
        self.active(name)
        self.aws.lose_reference(name, code="KMSKeyAccessDenied", reason="denied")
        cfg = self.lam.get_function(FunctionName=name)["Configuration"]
        self.assertEqual((cfg["State"], cfg["StateReasonCode"], cfg["StateReason"]),
                         ("Inactive", "KMSKeyAccessDenied", "denied"))


class TestMappings(LayerTest):
    def setUp(self):
        super().setUp()
        self.fn, _ = self.create_function()
        url = self.sqs.create_queue(QueueName=uniq("q"))["QueueUrl"]
        self.qarn = self.sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.active(self.fn)

    def state(self, u):
        return self.lam.get_event_source_mapping(UUID=u)["State"]

    def in_use(self, call):
        with self.assertRaises(bce.ClientError) as cm:
            call()
        err = self.assertError(cm, "ResourceInUseException", 400)
        self.assertEqual(err["ResponseMetadata"]["HTTPHeaders"]["x-amzn-errortype"],
                         "ResourceInUseException")

    def test_states_and_resource_in_use(self):
        m = self.lam.create_event_source_mapping(FunctionName=self.fn, EventSourceArn=self.qarn,
                                                 BatchSize=5)
        u = m["UUID"]
        self.assertEqual(m["State"], "Creating")
        self.assertEqual(self.state(u), "Creating")
        self.in_use(lambda: self.lam.update_event_source_mapping(UUID=u, BatchSize=6))
        self.in_use(lambda: self.lam.delete_event_source_mapping(UUID=u))
        wait_for(lambda: self.state(u) == "Enabled")
        self.assertEqual(self.lam.update_event_source_mapping(UUID=u, Enabled=False)["State"],
                         "Disabling")
        self.in_use(lambda: self.lam.update_event_source_mapping(UUID=u, BatchSize=6))
        wait_for(lambda: self.state(u) == "Disabled")
        self.assertEqual(self.lam.update_event_source_mapping(UUID=u, Enabled=True)["State"],
                         "Enabling")
        wait_for(lambda: self.state(u) == "Enabled")
        self.assertEqual(self.lam.update_event_source_mapping(UUID=u, BatchSize=7)["State"],
                         "Updating")
        self.in_use(lambda: self.lam.delete_event_source_mapping(UUID=u))
        wait_for(lambda: self.state(u) == "Enabled")
        self.assertEqual(self.lam.delete_event_source_mapping(UUID=u)["State"], "Deleting")
        # moto has forgotten it already; AWS still shows it as Deleting.
        self.assertEqual(self.state(u), "Deleting")
        listed = self.lam.list_event_source_mappings(FunctionName=self.fn)["EventSourceMappings"]
        self.assertEqual([(x["UUID"], x["State"]) for x in listed], [(u, "Deleting")])
        self.in_use(lambda: self.lam.delete_event_source_mapping(UUID=u))

        def gone():
            try:
                self.lam.get_event_source_mapping(UUID=u)
                return False
            except self.lam.exceptions.ResourceNotFoundException:
                return True
        wait_for(gone)
        self.assertEqual(
            self.lam.list_event_source_mappings(FunctionName=self.fn)["EventSourceMappings"], [])
        self.assertEqual([v["rule"] for v in self.aws.violations()],
                         ["mapping Creating", "mapping Creating", "mapping Disabling",
                          "mapping Updating", "mapping Deleting"])

    def test_limit_history(self):
        self.lam.put_function_concurrency(FunctionName=self.fn, ReservedConcurrentExecutions=1)
        self.assertEqual(self.aws.limit_history(self.fn)[-1][1], 0)   # no mapping yet
        u = self.lam.create_event_source_mapping(
            FunctionName=self.fn, EventSourceArn=self.qarn,
            ScalingConfig={"MaximumConcurrency": 5})["UUID"]
        wait_for(lambda: self.state(u) == "Enabled")
        self.assertEqual(self.aws.limit_history(self.fn)[-1][1], 1)
        self.lam.delete_function_concurrency(FunctionName=self.fn)
        self.assertEqual(self.aws.limit_history(self.fn)[-1][1], 5)
        self.lam.update_event_source_mapping(UUID=u, Enabled=False)
        # While Disabling the mapping may still poll: the bound stays 5 until it settles.
        self.assertEqual(self.aws.limit_history(self.fn)[-1][1], 5)
        wait_for(lambda: self.state(u) == "Disabled")
        h = self.aws.limit_history(self.fn)
        self.assertEqual([b for _, b in h], [0, 1, 1, 5, 5, 0])
        self.assertEqual([t for t, _ in h], sorted(t for t, _ in h))
        self.assertEqual(self.aws.max_bound(self.fn), 5)
        # No cap at all on an enabled mapping: unlimited (None) shows in max_bound.
        self.lam.update_event_source_mapping(UUID=u, Enabled=True, ScalingConfig={})
        wait_for(lambda: self.state(u) == "Enabled")
        self.assertIsNone(self.aws.limit_history(self.fn)[-1][1])
        self.assertIsNone(self.aws.max_bound(self.fn))


class TestQueues(LayerTest):
    def test_queue_deleted_recently(self):
        self.aws.stop()     # a 2 s window instead of 6 s
        self.aws = AwsModel(self.moto.endpoint, scale=SCALE, queue_deleted_recently_s=20).start()
        self.sqs = client("sqs", self.aws.endpoint)
        name = uniq("q")
        url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        self.sqs.delete_queue(QueueUrl=url)
        with self.assertRaises(self.sqs.exceptions.QueueDeletedRecently) as cm:
            self.sqs.create_queue(QueueName=name)
        err = cm.exception.response
        self.assertEqual(err["Error"]["Code"], "AWS.SimpleQueueService.QueueDeletedRecently")
        self.assertEqual(err["ResponseMetadata"]["HTTPStatusCode"], 400)
        self.assertEqual(err["ResponseMetadata"]["HTTPHeaders"]["x-amzn-query-error"],
                         "AWS.SimpleQueueService.QueueDeletedRecently;Sender")
        self.assertEqual(self.aws.violations()[-1]["rule"], "QueueDeletedRecently")
        # The query (XML) protocol gets the same error in its own format.
        conn = http.client.HTTPConnection("127.0.0.1", self.aws.port, timeout=10)
        conn.request("POST", "/", body=urllib.parse.urlencode(
            {"Action": "CreateQueue", "QueueName": name, "Version": "2012-11-05"}),
            headers={"Authorization": SQS_AUTH,
                     "Content-Type": "application/x-www-form-urlencoded"})
        r = conn.getresponse()
        xml = r.read().decode()
        conn.close()
        self.assertEqual(r.status, 400)
        self.assertIn("<Code>AWS.SimpleQueueService.QueueDeletedRecently</Code>", xml)
        # moto alone would have re-created it at once.
        deleted = self.aws.violations()[0]["time"]
        with self.assertRaises(self.sqs.exceptions.QueueDeletedRecently):
            self.sqs.create_queue(QueueName=name)   # still inside the window
        # inside it by the layer's own record, not a client stopwatch
        self.assertLess(self.aws.violations()[-1]["time"] - deleted, 20 * SCALE)
        time.sleep(max(0.0, 20 * SCALE - (time.time() - deleted)) + 0.2)
        self.sqs.create_queue(QueueName=name)
        other = uniq("q")
        direct = client("sqs", self.moto.endpoint)
        direct.delete_queue(QueueUrl=direct.create_queue(QueueName=other)["QueueUrl"])
        direct.create_queue(QueueName=other)

    def test_list_queues_lag(self):
        prefix = uniq("lag")
        old = self.sqs.create_queue(QueueName=prefix + "-old")["QueueUrl"]
        time.sleep(10 * SCALE + 0.1)
        new = self.sqs.create_queue(QueueName=prefix + "-new")["QueueUrl"]

        def names(endpoint=self.aws.endpoint):   # moto puts the Host it was asked in URLs
            urls = client("sqs", endpoint).list_queues(QueueNamePrefix=prefix).get("QueueUrls")
            return sorted(u.rsplit("/", 1)[1] for u in urls or [])
        old, new = old.rsplit("/", 1)[1], new.rsplit("/", 1)[1]
        self.assertEqual(names(), [old])
        self.assertEqual(names(self.moto.endpoint), sorted([old, new]))
        wait_for(lambda: names() == sorted([old, new]))

    def test_get_resources_lag(self):
        # moto's tagging API lists SQS queues (not Lambda functions), so queues show it:
        # one created with the tag, one created earlier and tagged now.
        tag = uniq("tag")
        _warm.join()
        url = self.sqs.create_queue(QueueName=uniq("q"), tags={"lagtest": tag})["QueueUrl"]
        arn1 = self.sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

        def listed(endpoint=self.aws.endpoint):
            t = client("resourcegroupstaggingapi", endpoint)
            return sorted(r["ResourceARN"] for r in t.get_resources(
                ResourceTypeFilters=["sqs"],     # unfiltered, moto's first call takes ~8 s
                TagFilters=[{"Key": "lagtest", "Values": [tag]}])["ResourceTagMappingList"])
        self.assertEqual(listed(), [])
        self.assertEqual(listed(self.moto.endpoint), [arn1])
        wait_for(lambda: listed() == [arn1])
        url2 = self.sqs.create_queue(QueueName=uniq("q"))["QueueUrl"]
        arn2 = self.sqs.get_queue_attributes(
            QueueUrl=url2, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        time.sleep(10 * SCALE + 0.1)
        self.sqs.tag_queue(QueueUrl=url2, Tags={"lagtest": tag})
        self.assertEqual(listed(self.moto.endpoint), sorted([arn1, arn2]))
        self.assertEqual(listed(), [arn1])
        wait_for(lambda: listed() == sorted([arn1, arn2]))


class TestPagination(LayerTest):
    """AWS pages list answers (moto never does): ListFunctions at most 50 a page,
    ListEventSourceMappings 100, ListQueues 1000 with NextToken only for MaxResults."""

    def test_list_functions_pages(self):
        mine = sorted(self.create_function()[0] for _ in range(3))
        direct = client("lambda", self.moto.endpoint).list_functions()
        self.assertNotIn("NextMarker", direct)          # moto: everything at once
        every = [f["FunctionName"] for f in direct["Functions"]]
        first = self.lam.list_functions(MaxItems=2)
        self.assertEqual(len(first["Functions"]), 2)
        self.assertIn("NextMarker", first)
        paged = [f["FunctionName"] for p in self.lam.get_paginator("list_functions").paginate(
            PaginationConfig={"PageSize": 2}) for f in p["Functions"]]
        self.assertEqual(paged, every)
        self.assertTrue(set(mine) <= set(paged))
        self.assertNotIn("NextMarker", self.lam.list_functions(MaxItems=len(every)))
        with self.assertRaises(bce.ClientError) as cm:
            self.lam.list_functions(Marker="not-a-marker")
        self.assertError(cm, "InvalidParameterValueException", 400)

    def test_mappings_and_queues_page(self):
        fn, _ = self.create_function()
        prefix = uniq("pg")
        urls = [self.sqs.create_queue(QueueName="%s-%d" % (prefix, i))["QueueUrl"]
                for i in range(3)]
        arns = [self.sqs.get_queue_attributes(QueueUrl=u, AttributeNames=["QueueArn"])
                ["Attributes"]["QueueArn"] for u in urls[:2]]
        self.active(fn)
        uuids = [self.lam.create_event_source_mapping(FunctionName=fn, EventSourceArn=a)["UUID"]
                 for a in arns]
        first = self.lam.list_event_source_mappings(FunctionName=fn, MaxItems=1)
        self.assertEqual(len(first["EventSourceMappings"]), 1)
        second = self.lam.list_event_source_mappings(FunctionName=fn, MaxItems=1,
                                                     Marker=first["NextMarker"])
        self.assertNotIn("NextMarker", second)
        self.assertEqual(sorted(m["UUID"] for m in first["EventSourceMappings"] +
                                second["EventSourceMappings"]), sorted(uuids))
        time.sleep(10 * SCALE + 0.1)     # past the list lag
        names = []
        token = None
        while True:
            kw = {"NextToken": token} if token else {}
            out = self.sqs.list_queues(QueueNamePrefix=prefix, MaxResults=2, **kw)
            names += [u.rsplit("/", 1)[1] for u in out["QueueUrls"]]
            self.assertLessEqual(len(out["QueueUrls"]), 2)
            token = out.get("NextToken")
            if not token:
                break
        self.assertEqual(sorted(names), ["%s-%d" % (prefix, i) for i in range(3)])
        self.assertNotIn("NextToken", self.sqs.list_queues(QueueNamePrefix=prefix))
        with self.assertRaises(bce.ClientError) as cm:
            self.sqs.list_queues(MaxResults=2, NextToken="bogus")
        self.assertEqual(cm.exception.response["ResponseMetadata"]["HTTPStatusCode"], 400)


class TestRateLimit(LayerTest):
    def setUp(self):
        self.aws = None

    def tearDown(self):
        if self.aws:
            self.aws.stop()

    def burst(self, rps):
        """30 ListFunctions from 3 threads at once through a layer limited to rps/s:
        (accepted, [(code, Retry-After header, retryAfterSeconds)], elapsed)."""
        self.aws = AwsModel(self.moto.endpoint, scale=SCALE, lambda_rps=rps).start()
        results = []
        lock = threading.Lock()
        clients = [client("lambda", self.aws.endpoint) for _ in range(3)]
        go = threading.Barrier(4)

        def worker(lam):
            go.wait()
            for _ in range(10):
                try:
                    lam.list_functions(MaxItems=1)
                    r = ("ok", None, None)
                except bce.ClientError as e:
                    resp = e.response
                    r = (resp["Error"]["Code"], resp["ResponseMetadata"]["HTTPHeaders"].get(
                        "retry-after"), resp.get("retryAfterSeconds"))
                with lock:
                    results.append(r)
        threads = [threading.Thread(target=worker, args=(c,)) for c in clients]
        for t in threads:
            t.start()
        go.wait()
        t0 = time.monotonic()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - t0
        self.assertEqual(len(results), 30)
        ok = sum(1 for r in results if r[0] == "ok")
        throttled = [r for r in results if r[0] != "ok"]
        # A token bucket with burst = rate never lets more through than this.
        # (elapsed, the client's, encloses the layer's: a longer one only
        # loosens the bound, so a slow machine cannot fail it.)
        self.assertLessEqual(ok, rps * elapsed + rps, "%d accepted in %.2fs" % (ok, elapsed))
        for code, header, parsed in throttled:
            self.assertEqual(code, "TooManyRequestsException")
            self.assertTrue(header.isdigit() and int(header) >= 1, header)
            self.assertEqual(parsed, header)
        self.assertEqual(self.aws.lambda_throttled(), len(throttled))
        # The 429s were the layer's own answers: they never reached moto.
        model = [e for e in self.aws.log() if e["fault"] == "model"]
        self.assertEqual([e["status"] for e in model], [429] * len(throttled))
        return ok, throttled, elapsed

    def test_shared_limit_across_threads(self):
        # 5/s so that 30 calls are over the limit however slow a loaded machine
        # makes moto (they would need 5 s); the AWS default is checked below.
        ok, throttled, elapsed = self.burst(5)
        self.assertGreater(len(throttled), 0, "30 calls in %.2fs all passed" % elapsed)
        # GetFunction has its own 100/s bucket: not starved by the shared one.
        fns = self.moto.client("lambda").list_functions()["Functions"]
        if fns:
            client("lambda", self.aws.endpoint).get_function(
                FunctionName=fns[0]["FunctionName"])

    def test_default_limit_is_15(self):
        self.aws = AwsModel(self.moto.endpoint)
        self.assertEqual([(b.rate, b.burst) for b in (
            self.aws._buckets["control"], self.aws._buckets["GetFunction"],
            self.aws._buckets["GetPolicy"])], [(15, 15), (100, 100), (15, 15)])
        self.aws = None
        self.burst(15)      # bound and answers checked inside; 429s depend on the speed

    def test_chaos_throttles(self):
        aws = AwsModel(self.moto.endpoint, scale=SCALE, throttle_fraction=1.0).start()
        try:
            with self.assertRaises(bce.ClientError) as cm:
                client("lambda", aws.endpoint).list_functions()
            self.assertEqual(cm.exception.response["Error"]["Code"], "TooManyRequestsException")
            self.assertEqual(aws.lambda_throttled(), 1)
            aws.reset_model()
            self.assertEqual(aws.lambda_throttled(), 0)
        finally:
            aws.stop()


class TestS3Streaming(unittest.TestCase):
    SIZE = 200 * 1024 * 1024

    @classmethod
    def setUpClass(cls):
        cls.moto = Moto.shared()

    @staticmethod
    def hwm_kib(pid):
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        raise AssertionError("no VmHWM")

    def test_200mib_put_get_flat_memory(self):
        proc = subprocess.Popen([sys.executable, os.path.join(HERE, "awsmodel.py"),
                                 "--upstream", self.moto.endpoint],
                                stdout=subprocess.PIPE, text=True)
        try:
            endpoint = proc.stdout.readline().strip()
            # No flexible checksums: moto checking a CRC32 of 200 MiB adds seconds.
            s3 = client("s3", endpoint, Config(retries={"total_max_attempts": 1},
                                               request_checksum_calculation="when_required",
                                               response_checksum_validation="when_required"))
            bucket = uniq("big")
            s3.create_bucket(Bucket=bucket)
            s3.put_object(Bucket=bucket, Key="warm", Body=b"x" * 1024)
            s3.get_object(Bucket=bucket, Key="warm")["Body"].read()
            before = self.hwm_kib(proc.pid)
            block = os.urandom(1024 * 1024)
            want = hashlib.sha256()
            with tempfile.TemporaryFile() as f:
                for _ in range(self.SIZE // len(block)):
                    f.write(block)
                    want.update(block)
                f.seek(0)
                s3.put_object(Bucket=bucket, Key="big", Body=f)
            got = hashlib.sha256()
            n = 0
            for piece in s3.get_object(Bucket=bucket, Key="big")["Body"].iter_chunks(1 << 20):
                got.update(piece)
                n += len(piece)
            after = self.hwm_kib(proc.pid)
            self.assertEqual(n, self.SIZE)
            self.assertEqual(got.hexdigest(), want.hexdigest())
            self.assertLess(after - before, 64 * 1024,
                            "layer peak RSS grew %d KiB" % (after - before))
            s3.delete_object(Bucket=bucket, Key="big")
        finally:
            proc.terminate()
            proc.wait(10)

    def test_chunked_bodies_both_ways(self):
        # boto3 sends Content-Length; other clients (and servers) use chunked
        # transfer coding. A stand-in upstream records what arrives and answers
        # GetObject chunked.
        import http.server
        seen = {}

        class Up(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_PUT(self):
                body = b""
                while True:
                    n = int(self.rfile.readline().strip() or b"0", 16)
                    if n == 0:
                        self.rfile.readline()
                        break
                    body += self.rfile.read(n)
                    self.rfile.readline()
                seen["te"] = self.headers.get("Transfer-Encoding")
                seen["body"] = body
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_GET(self):
                self.send_response(200)
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for piece in (b"hello ", b"chunked ", b"world"):
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                self.wfile.write(b"0\r\n\r\n")

        up = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Up)
        threading.Thread(target=up.serve_forever, daemon=True).start()
        aws = AwsModel("http://127.0.0.1:%d" % up.server_address[1]).start()
        try:
            conn = http.client.HTTPConnection("127.0.0.1", aws.port, timeout=10)
            data = os.urandom(PIECE_TEST)
            conn.putrequest("PUT", "/bucket/key")
            conn.putheader("Transfer-Encoding", "chunked")
            conn.endheaders()
            for i in range(0, len(data), 100000):
                part = data[i:i + 100000]
                conn.send(b"%x\r\n%s\r\n" % (len(part), part))
            conn.send(b"0\r\n\r\n")
            r = conn.getresponse()
            r.read()
            self.assertEqual(r.status, 200)
            self.assertEqual((seen["te"], seen["body"]), ("chunked", data))
            conn.request("GET", "/bucket/key")
            r = conn.getresponse()
            self.assertEqual(r.getheader("Transfer-Encoding"), "chunked")
            self.assertEqual(r.read(), b"hello chunked world")
            conn.close()
            self.assertEqual([(e["operation"], e["status"]) for e in aws.log()],
                             [("PutObject", 200), ("GetObject", 200)])
        finally:
            aws.stop()
            up.shutdown()
            up.server_close()

    def test_faults_still_apply_to_streamed_operations(self):
        aws = AwsModel(self.moto.endpoint).start()
        try:
            s3 = client("s3", aws.endpoint)
            bucket = uniq("flt")
            s3.create_bucket(Bucket=bucket)
            s3.put_object(Bucket=bucket, Key="k", Body=b"hello")
            aws.add_rule({"match": {"operation": "GetObject"}, "action": {"status": 500}})
            with self.assertRaises(bce.ClientError) as cm:
                s3.get_object(Bucket=bucket, Key="k")
            self.assertEqual(cm.exception.response["ResponseMetadata"]["HTTPStatusCode"], 500)
            self.assertEqual(s3.get_object(Bucket=bucket, Key="k")["Body"].read(), b"hello")
            self.assertEqual([(e["operation"], e["status"]) for e in aws.log()[-3:]],
                             [("PutObject", 200), ("GetObject", 500), ("GetObject", 200)])
        finally:
            aws.stop()


class TestTaskpipeSeesAwsErrors(LayerTest):
    """taskpipe's error parser (src/aws/awserr.c) reads the codes the layer sends."""

    def tp_error(self, *args, **env):
        self.assertTrue(os.access(TASKPIPE, os.X_OK), "taskpipe missing: %s (make)" % TASKPIPE)
        r = run_taskpipe(["aws"] + list(args), self.moto.env(
            AWS_ENDPOINT_URL=self.aws.endpoint, AWS_MAX_ATTEMPTS=1, **env), timeout=60)
        self.assertEqual(r.returncode, 1, r.stderr[-500:])
        lines = [ln for ln in r.stderr.splitlines() if ln.startswith('{"error"')]
        self.assertTrue(lines, r.stderr[-500:])
        return json.loads(lines[-1])["error"]

    def test_codes(self):
        name = uniq("q")
        self.sqs.delete_queue(QueueUrl=self.sqs.create_queue(QueueName=name)["QueueUrl"])
        err = self.tp_error("sqs", "CreateQueue", json.dumps({"QueueName": name}))
        self.assertEqual((err["code"], err["status"]),
                         ("AWS.SimpleQueueService.QueueDeletedRecently", 400))
        fn, _ = self.create_function()
        err = self.tp_error("lambda", "PUT", "/2015-03-31/functions/%s/configuration" % fn,
                            '{"Timeout": 5}')
        self.assertEqual((err["code"], err["status"]), ("ResourceConflictException", 409))
        self.assertIn("Pending", err["message"])
        self.aws.throttle_fraction = 1.0
        err = self.tp_error("lambda", "GET", "/2015-03-31/functions/")
        self.assertEqual((err["code"], err["status"]), ("TooManyRequestsException", 429))


class TestControl(LayerTest):
    def test_control_api_and_reset(self):
        name = uniq("q")
        self.sqs.delete_queue(QueueUrl=self.sqs.create_queue(QueueName=name)["QueueUrl"])
        with self.assertRaises(bce.ClientError):
            self.sqs.create_queue(QueueName=name)
        conn = http.client.HTTPConnection("127.0.0.1", self.aws.port, timeout=5)
        conn.request("GET", "/__proxy/model")
        out = json.loads(conn.getresponse().read())
        self.assertEqual([v["rule"] for v in out["violations"]], ["QueueDeletedRecently"])
        conn.request("POST", "/__proxy/model/reset", body=b"")
        conn.getresponse().read()
        conn.close()
        self.assertEqual(self.aws.violations(), [])
        self.sqs.create_queue(QueueName=name)      # the deletion was forgotten too


if __name__ == "__main__":
    unittest.main()
