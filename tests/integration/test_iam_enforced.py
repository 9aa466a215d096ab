"""IAM as AWS enforces it (issue 22): taskpipe runs through the AWS-faithful
layer with IAM enforcement on (iamlayer.py), each process signing with the
access key of the role that runs it in production (iamlayer.TEST_KEYS):

  controller key  apply (create, update, limit 1 -> N and N -> 1, disable,
                  enable, delete), rollout, drift --fix, watch, the stream
                  handler in the bootstrap, and Lambda's stream poller
                  (the test plays it with the controller's role, as Lambda
                  polls with the function's execution role)
  consumer key    the consumer layer (`taskpipe consume`: the shared rate
                  schedule, ChangeMessageVisibility) and Lambda's SQS poller
  operator key    put/rm/init and the test's own setup (full rights)

Every request is evaluated against the template's policies for this stack
(packaging/template.yaml resolved by iamtemplate.py); a refusal would reach
taskpipe as AWS words it. The test asserts no refusal and no request the
mapping cannot place, and compares the evaluated permissions with
iam_evaluated.json, which test_template.py derives its expectations from.
TASKPIPE_IAM_RECORD=1 rewrites that file from this run (then review the diff).

The refusals themselves (wording per protocol, taskpipe's report of one)
are checked in Refusals below."""
import base64
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import time
import unittest

import boto3
import botocore.exceptions

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import REGION, ROOT, run_taskpipe  # noqa: E402
from awsmodel import AwsModel  # noqa: E402
from iameval import ALLOW  # noqa: E402
from iamlayer import CONSUMER_KEY, CONTROLLER_KEY, OPERATOR_KEY, IamEnforcer  # noqa: E402
from iamtemplate import Stack  # noqa: E402
from runtime_emulator import stream_records  # noqa: E402
from test_bootstrap import Bootstrap  # noqa: E402
from test_drift import shared_moto  # noqa: E402
from test_consumer_rate import Instance, sqs_record  # noqa: E402
from test_pipelines import code_zip  # noqa: E402

TEMPLATE = os.path.join(ROOT, "packaging", "template.yaml")
RECORDED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "iam_evaluated.json")
HANDLER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "consumer_handler.py")
SCALE = 0.02
ACCOUNT = "123456789012"

# The scenarios, in the order they run (each one's requests are recorded apart).
SCENARIOS = ["apply-create", "apply-update", "apply-limit-1-to-N", "apply-limit-N-to-1",
             "apply-disable", "apply-enable", "apply-tags", "apply-delete", "rollout",
             "rollout-rollback", "drift-fix",
             "watch", "stream-poller", "bootstrap-stream", "sqs-poller", "consumer-layer",
             "apply-code-gone"]


def normalize(text, inst, prefix):
    """A recorded resource or context value with the test stack's names as placeholders
    (the roles' physical names are Stage's: <inst>-<logical id>)."""
    for lid in ("ControllerRole", "ConsumerRole"):
        text = text.replace("%s-%s" % (inst, lid), "{%s}" % lid)
    text = text.replace(prefix, "{Prefix}").replace(inst, "{InstanceName}")
    text = re.sub(r"event-source-mapping:[0-9a-f-]{36}", "event-source-mapping:{uuid}", text)
    return re.sub(r"/stream/[0-9T:.-]+", "/stream/{label}", text)


def check_key(rec, inst, prefix):
    """A recorded check as (role, action, resource, context) with placeholders. Of the
    context only the keys the template's conditions name are kept, and
    dynamodb:LeadingKeys only where a statement conditions on it (the consumer's)."""
    ctx = {}
    for k, v in sorted(rec["context"].items()):
        if k == "dynamodb:LeadingKeys" and rec["role"] != "ConsumerRole":
            continue
        ctx[k] = [normalize(x, inst, prefix) for x in v] if isinstance(v, list) else normalize(v, inst, prefix)
    return {"role": rec["role"], "action": rec["action"],
            "resource": normalize(rec["resource"], inst, prefix), "context": ctx, "why": rec["why"]}


class Stage:
    """One taskpipe instance deployed as the template would be, its roles in moto."""

    def __init__(self, moto):
        n = os.getpid() % 100000
        self.moto = moto
        self.inst, self.prefix = "iq%d" % n, "tq%d-" % n
        iam = moto.client("iam")
        trust = json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
        self.roles = {}
        for lid in ("ControllerRole", "ConsumerRole"):
            name = "%s-%s" % (self.inst, lid)
            try:
                arn = iam.get_role(RoleName=name)["Role"]["Arn"]
            except iam.exceptions.NoSuchEntityException:
                arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
            self.roles[lid] = (name, arn)
        self.stack = Stack(TEMPLATE, {"InstanceName": self.inst, "Prefix": self.prefix,
                                      "ControllerCodeBucket": "art", "ConsumerLayerKey": "layer.zip"},
                           physical={k: v[0] for k, v in self.roles.items()})
        # TASKPIPE_IAM_AUDIT=1: evaluate and record, refuse nothing (lists every
        # missing permission of a run at once instead of the first one).
        self.iam = IamEnforcer(self.stack, enforce=not os.environ.get("TASKPIPE_IAM_AUDIT"))
        self.aws = AwsModel(moto.endpoint, scale=SCALE, list_lag_s=0, iam=self.iam).start()
        self.bucket = "%s-code-%s-%s" % (self.inst, ACCOUNT, REGION)
        self.config, self.state = self.inst + "-config", self.inst + "-state"
        lam = moto.client("lambda")
        self.layer = lam.publish_layer_version(
            LayerName=self.inst + "-consumer-x86_64", Content={"ZipFile": code_zip()},
            CompatibleArchitectures=["x86_64"])["LayerVersionArn"]

    def env(self, key, **extra):
        e = self.moto.env(AWS_ENDPOINT_URL=self.aws.endpoint, AWS_ACCESS_KEY_ID=key,
                          TASKPIPE_CONFIG_TABLE=self.config, TASKPIPE_STATE_TABLE=self.state,
                          TASKPIPE_CODE_BUCKET=self.bucket, TASKPIPE_CODE_KEY="consumer.zip",
                          TASKPIPE_PREFIX=self.prefix, TASKPIPE_OWNER=self.inst,
                          TASKPIPE_ROLE_ARN=self.roles["ConsumerRole"][1],
                          TASKPIPE_CONSUMER_LAYER=self.layer, TASKPIPE_RUNTIME="provided.al2023",
                          # the canary's pauses scaled down (docs/rollouts.md "Rollouts")
                          TASKPIPE_CANARY_PAUSE_S="2", TASKPIPE_METRIC_PERIOD_S="1",
                          TASKPIPE_HEALTH_WAIT_MAX_S="0")
        e.update({k: str(v) for k, v in extra.items()})
        return e

    def client(self, service, key):
        return boto3.client(service, region_name=REGION, endpoint_url=self.aws.endpoint,
                            aws_access_key_id=key, aws_secret_access_key="testing")

    def stop(self):
        self.aws.stop()


class Enforced(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.moto = shared_moto()   # moto's default Lambda backend: the only one that knows layers
        cls.s = Stage(cls.moto)
        cls.addClassCleanup(cls.s.stop)
        cls.tmp = tempfile.mkdtemp(prefix="tp-iam-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)

    def run_as(self, key, *args, input=None, expect=0, **extra):
        r = run_taskpipe(list(args), self.s.env(key, **extra), input=input, timeout=600)
        self.assertEqual(r.returncode, expect, "taskpipe %s: %s\n%s" % (" ".join(args), r.stderr, r.stdout[-3000:]))
        return r

    def put(self, *items):
        for it in items:
            self.run_as(OPERATOR_KEY, "put", "-", input=json.dumps(it))

    def apply(self):
        r = self.run_as(CONTROLLER_KEY, "apply", "--all", "--json")
        doc = json.loads(r.stdout)
        for p in doc["pipelines"]:
            self.assertEqual(p["status"], "ok", p)
        return {p["pipeline"]: p for p in doc["pipelines"]}

    def scenario(self, name):
        self.s.iam.scenario = name

    def test_every_scenario_passes_the_template_policies(self):
        s, iam = self.s, self.s.iam
        lam, ddb = self.moto.client("lambda"), self.moto.client("dynamodb")
        # --- setup, as an operator would: tables, versioned code bucket, items
        self.scenario("setup")
        self.run_as(OPERATOR_KEY, "init")
        s3 = self.moto.client("s3")
        s3.put_bucket_versioning(Bucket=s.bucket, VersioningConfiguration={"Status": "Enabled"})
        s3.put_object(Bucket=s.bucket, Key="consumer.zip", Body=code_zip())
        self.put({"pipeline": "a", "concurrency": 1}, {"pipeline": "b", "concurrency": 3},
                 {"pipeline": "r", "rate": 2, "concurrency": 2})

        self.scenario("apply-create")
        res = self.apply()
        self.assertEqual({p: res[p]["action"] for p in "abr"}, {"a": "create", "b": "create", "r": "create"})
        fa = lam.get_function(FunctionName=s.prefix + "r")["Configuration"]
        self.assertEqual([x["Arn"] for x in fa["Layers"]], [s.layer])

        self.scenario("apply-update")
        self.put({"pipeline": "a", "concurrency": 1, "timeout": 20})
        self.assertEqual(self.apply()["a"]["action"], "update")
        self.assertEqual(lam.get_function(FunctionName=s.prefix + "a")["Configuration"]["Timeout"], 20)

        self.scenario("apply-limit-1-to-N")
        self.put({"pipeline": "a", "concurrency": 4, "timeout": 20})
        self.apply()
        self.assertEqual(s.aws.limit_history(s.prefix + "a")[-1][1], 4)

        self.scenario("apply-limit-N-to-1")
        self.put({"pipeline": "b", "concurrency": 1})
        self.apply()
        self.assertEqual(s.aws.limit_history(s.prefix + "b")[-1][1], 1)

        self.scenario("apply-disable")
        self.put({"pipeline": "a", "concurrency": 4, "timeout": 20, "enabled": False})
        self.apply()
        self.assertEqual(s.aws.limit_history(s.prefix + "a")[-1][1], 0)

        self.scenario("apply-enable")
        self.put({"pipeline": "a", "concurrency": 4, "timeout": 20})
        self.apply()
        self.assertEqual(s.aws.limit_history(s.prefix + "a")[-1][1], 4)

        # the item's own tags: added (TagQueue, TagResource), then removed (Untag*)
        self.scenario("apply-tags")
        self.put({"pipeline": "a", "concurrency": 4, "timeout": 20, "tags": {"team": "blue"}})
        self.apply()
        self.assertEqual(lam.list_tags(Resource="arn:aws:lambda:%s:%s:function:%sa" % (REGION, ACCOUNT, s.prefix))["Tags"].get("team"), "blue")
        self.put({"pipeline": "a", "concurrency": 4, "timeout": 20})
        self.apply()
        self.assertNotIn("team", lam.list_tags(Resource="arn:aws:lambda:%s:%s:function:%sa" % (REGION, ACCOUNT, s.prefix))["Tags"])

        self.scenario("apply-delete")
        self.run_as(OPERATOR_KEY, "rm", "b")
        self.assertEqual(self.apply()["b"]["action"], "delete")
        self.assertEqual([f for f in lam.list_functions()["Functions"] if f["FunctionName"] == s.prefix + "b"], [])

        # two versions of the same key, another pipeline in between: the second
        # rollout's plan differs and replaces the first's record, whose plan
        # parts are deleted (DeleteItem on the state table)
        for text in ("v2", "v3"):
            if text == "v3":
                self.scenario("setup")
                self.put({"pipeline": "d", "concurrency": 2})
                self.apply()
            self.scenario("rollout")
            self.wait_settled()
            v = s3.put_object(Bucket=s.bucket, Key="consumer.zip",
                              Body=code_zip("#!/bin/sh\necho %s\n" % text))["VersionId"]
            r = self.run_as(CONTROLLER_KEY, "rollout", "s3://%s/consumer.zip#%s" % (s.bucket, v), "--json")
            out = json.loads(r.stdout)
            self.assertEqual((out["status"], out["failed"]), ("done", 0), out)
            self.assertGreaterEqual(out["updated"], 2, out)
        self.assertIn("DeleteItem", {r["operation"] for r in iam.requests("rollout")})

        # a broken upload: the canary's health check (CloudWatch metrics the
        # layer plays) halts it and the canary is rolled back to the version
        # found among the object's versions (ListBucketVersions)
        self.scenario("rollout-rollback")
        self.wait_settled()
        broken = code_zip("#!/bin/sh\nexit 1\n")
        v = s3.put_object(Bucket=s.bucket, Key="consumer.zip", Body=broken)["VersionId"]
        s.aws.mark_broken(base64.b64encode(hashlib.sha256(broken).digest()).decode())
        s.aws.play_traffic(period_s=1.0, per_period=20, delay_s=1.0)
        try:
            r = self.run_as(CONTROLLER_KEY, "rollout", "s3://%s/consumer.zip#%s" % (s.bucket, v), "--json",
                            expect=1)
        finally:
            s.aws.stop_traffic()
        out = json.loads(r.stdout)
        self.assertEqual((out["status"], out["rollback"]["rolled_back"]), ("halted", 1), out)
        self.assertIn("GetMetricData", {r["operation"] for r in iam.requests("rollout-rollback")})

        self.scenario("drift-fix")
        self.wait_settled()
        lam.update_function_configuration(FunctionName=s.prefix + "a", MemorySize=1024)
        self.wait_settled()
        r = run_taskpipe(["drift", "--fix", "--json"], s.env(CONTROLLER_KEY), timeout=600)
        self.assertIn(r.returncode, (0, 2), r.stderr)
        self.assertNotEqual(lam.get_function(FunctionName=s.prefix + "a")["Configuration"]["MemorySize"], 1024)

        self.scenario("watch")
        self.put({"pipeline": "a", "concurrency": 4, "timeout": 25})
        r = run_taskpipe(["watch", "--from-start", "--once"], s.env(CONTROLLER_KEY), timeout=600)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(lam.get_function(FunctionName=s.prefix + "a")["Configuration"]["Timeout"], 25)

        self.scenario("stream-poller")     # Lambda's poller, with the controller's execution role
        streams = s.client("dynamodbstreams", CONTROLLER_KEY)
        arn = ddb.describe_table(TableName=s.config)["Table"]["LatestStreamArn"]
        _, after = stream_records(streams, arn)
        self.put({"pipeline": "a", "concurrency": 4, "timeout": 30})
        self.put({"pipeline": "c", "concurrency": 2})
        records, _ = stream_records(streams, arn, after)
        self.assertEqual(len(records), 2)

        self.scenario("bootstrap-stream")
        boot = Bootstrap(type("E", (), {"env": s.env(CONTROLLER_KEY)})())
        self.addCleanup(boot.stop)
        res = boot.invoke({"Records": records})
        self.assertEqual(res["kind"], "response", boot.stderr())
        self.assertEqual(res["body"]["batchItemFailures"], [], boot.stderr())
        self.assertEqual(lam.get_function(FunctionName=s.prefix + "a")["Configuration"]["Timeout"], 30)
        self.assertIsNotNone(lam.get_function(FunctionName=s.prefix + "c"))

        self.consumer_layer()

        # an item whose code object does not exist: HeadObject answers 404 (the
        # controller may s3:ListBucket), so the error names the object
        self.scenario("apply-code-gone")
        self.put({"pipeline": "m", "concurrency": 2, "code": "missing.zip"})
        r = run_taskpipe(["apply", "m", "--json"], s.env(CONTROLLER_KEY), timeout=600)
        self.assertEqual(r.returncode, 1, r.stderr)
        err = json.loads(r.stdout)["pipelines"][0]["error"]
        self.assertNotIn("AccessDenied", json.dumps(err))
        self.assertIn("missing.zip", err["message"])
        self.report()

    def wait_settled(self):
        deadline = time.time() + 30
        while time.time() < deadline:
            st = [self.s.aws.function_state(self.s.prefix + p) for p in ("a", "r", "d")
                  if self.s.aws.function_state(self.s.prefix + p)]
            if all(x and x.get("LastUpdateStatus") == "Successful" for x in st):
                return
            time.sleep(0.05)

    def consumer_layer(self):
        """The consumer layer in pipeline r's function, a member of limit group
        acme-api: its shared schedule items rate#<function> and limit#acme-api
        in the state table, and the re-send (SendMessage to
        its own queue) of records the handler reports rate-limited; Lambda's SQS poller with the
        consumer role."""
        s = self.s
        fn = s.prefix + "r"
        self.scenario("sqs-poller")
        sqs = s.client("sqs", CONSUMER_KEY)
        url = self.moto.client("sqs").get_queue_url(QueueName=fn)["QueueUrl"]
        qarn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.moto.client("sqs").send_message_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "MessageBody": "m%d" % i} for i in range(3)])
        got = []
        deadline = time.time() + 30
        while len(got) < 3 and time.time() < deadline:
            got += sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"],
                                       VisibilityTimeout=60).get("Messages", [])
        self.assertEqual(len(got), 3)

        self.scenario("consumer-layer")
        env = s.env(CONSUMER_KEY, TASKPIPE_RATE="100", TASKPIPE_RATE_TABLE=s.state, AWS_LAMBDA_FUNCTION_NAME=fn,
                    TASKPIPE_LIMIT_GROUP="acme-api", TASKPIPE_LIMIT_GROUP_RATE="100", TASKPIPE_LIMIT_GROUP_BURST="2",
                    HANDLER_LOG=os.path.join(self.tmp, "r.log"), HANDLER_MODE="capacity", HANDLER_CAPACITY="0.001")
        inst = Instance(self.tmp, "r", env)
        self.addCleanup(inst.stop)
        first = inst.invoke({"Records": [sqs_record(got[0], qarn)]}, timeout_ms=20000)
        self.assertEqual(first["body"], {"batchItemFailures": []}, inst.stderr())
        second = inst.invoke({"Records": [sqs_record(m, qarn) for m in got[1:]]}, timeout_ms=20000)
        # pushed back by re-sending to its own queue (no receive counted), so
        # reported done to the mapping (docs/consumer-layer.md "Pushback loses nothing")
        self.assertEqual(second["body"]["batchItemFailures"], [], inst.stderr())
        self.assertNotIn("failed", inst.stderr())
        self.assertNotIn("unavailable", inst.stderr())
        item = self.moto.client("dynamodb").get_item(TableName=s.state, Key={"pk": {"S": "rate#" + fn}}).get("Item")
        self.assertIsNotNone(item, "the shared schedule was not written")
        item = self.moto.client("dynamodb").get_item(TableName=s.state, Key={"pk": {"S": "limit#acme-api"}}).get("Item")
        self.assertIsNotNone(item, "the limit group's schedule was not written")
        ops = {r["operation"] for r in s.iam.requests("consumer-layer")}
        self.assertIn("SendMessage", ops)
        # a pushback longer than SQS's 900 s delay cannot be a re-send: the
        # record's visibility is moved instead (ChangeMessageVisibility)
        env2 = dict(env, HANDLER_RETRY_AFTER="1200", HANDLER_LOG=os.path.join(self.tmp, "r2.log"))
        inst2 = Instance(self.tmp, "r2", env2)
        self.addCleanup(inst2.stop)
        inst2.invoke({"Records": [sqs_record(got[0], qarn)]}, timeout_ms=20000)
        third = inst2.invoke({"Records": [sqs_record(got[1], qarn)]}, timeout_ms=20000)
        self.assertEqual(len(third["body"]["batchItemFailures"]), 1, inst2.stderr())
        ops = {r["operation"] for r in s.iam.requests("consumer-layer")}
        self.assertTrue(any(o.startswith("ChangeMessageVisibility") for o in ops), ops)
        self.assertIn("UpdateItem", ops)

        self.scenario("sqs-poller")
        sqs.delete_message(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"])

    def report(self):
        s, iam = self.s, self.s.iam
        per = {}
        for sc in SCENARIOS:
            reqs = iam.requests(sc)
            roles = {}
            for r in reqs:
                roles[r["role"] or "operator"] = roles.get(r["role"] or "operator", 0) + 1
            acts = {}
            for r in iam.records(sc):
                acts.setdefault(r["role"] or "operator", set()).add(r["action"])
            per[sc] = {"requests": roles, "actions": {k: sorted(v) for k, v in acts.items()}}
        checks = {}
        for r in iam.records():
            if r["role"] is None or r["scenario"] == "setup":
                continue
            k = check_key(r, s.inst, s.prefix)
            checks[json.dumps(k, sort_keys=True)] = k
        got = {"checks": [checks[k] for k in sorted(checks)], "scenarios": per}
        sys.stderr.write("\nIAM: requests evaluated per scenario: %s\n" % json.dumps(
            {k: v["requests"] for k, v in per.items()}))
        for sc in SCENARIOS:
            self.assertTrue(per[sc]["requests"], "no request evaluated in %s" % sc)
        denied = [r for r in iam.records() if r["effect"] != ALLOW]
        self.assertEqual(denied, [], "refused:\n" + "\n".join(
            "%(scenario)s %(role)s %(action)s %(resource)s %(context)s (%(why)s)" % r for r in denied))
        unmapped = [r for r in iam.records() if not r["mapped"]]
        self.assertEqual(unmapped, [])
        if os.environ.get("TASKPIPE_IAM_RECORD"):
            with open(RECORDED, "w") as f:
                json.dump(got, f, indent=1, sort_keys=True)
                f.write("\n")
        with open(RECORDED) as f:
            want = json.load(f)
        have = {json.dumps(c, sort_keys=True) for c in got["checks"]}
        was = {json.dumps(c, sort_keys=True) for c in want["checks"]}
        self.assertEqual(sorted(have - was), [], "evaluated now but not in iam_evaluated.json "
                                                 "(TASKPIPE_IAM_RECORD=1 rewrites it)")
        self.assertEqual(sorted(was - have), [], "in iam_evaluated.json but no longer evaluated")


class Refusals(unittest.TestCase):
    """What a refused request gets, per protocol, and taskpipe's report of one."""

    @classmethod
    def setUpClass(cls):
        cls.moto = shared_moto()   # moto's default Lambda backend: the only one that knows layers
        cls.s = Stage(cls.moto)
        cls.addClassCleanup(cls.s.stop)
        # a second stage in the same account and names, with its own layer
        # version: storing its settings is deliberate (docs/deploy.md "One set of settings")
        r = run_taskpipe(["init", "--settings-from-env"], cls.s.env(OPERATOR_KEY))
        assert r.returncode == 0, r.stderr
        cls.ctl = "arn:aws:sts::%s:assumed-role/%s/controller" % (ACCOUNT, cls.s.roles["ControllerRole"][0])
        cls.con = "arn:aws:sts::%s:assumed-role/%s/consumer" % (ACCOUNT, cls.s.roles["ConsumerRole"][0])

    def refused(self, call):
        with self.assertRaises(botocore.exceptions.ClientError) as cm:
            call()
        return cm.exception.response

    def test_lambda_json(self):
        lam = self.s.client("lambda", CONTROLLER_KEY)
        r = self.refused(lambda: lam.get_function(FunctionName="not-ours"))
        self.assertEqual(r["ResponseMetadata"]["HTTPStatusCode"], 403)
        self.assertEqual(r["Error"]["Code"], "AccessDeniedException")
        fn = "arn:aws:lambda:%s:%s:function:not-ours" % (REGION, ACCOUNT)
        self.assertEqual(r["Error"]["Message"],
                         "User: %s is not authorized to perform: lambda:GetFunction on resource: %s because no "
                         "identity-based policy allows the lambda:GetFunction action" % (self.ctl, fn))

    def test_dynamodb_and_sqs_json(self):
        ddb = self.s.client("dynamodb", CONTROLLER_KEY)
        r = self.refused(lambda: ddb.put_item(TableName=self.s.config, Item={"pipeline": {"S": "x"}}))
        self.assertEqual(r["ResponseMetadata"]["HTTPStatusCode"], 400)
        self.assertEqual(r["Error"]["Code"], "AccessDeniedException")
        self.assertIn("dynamodb:PutItem on resource: arn:aws:dynamodb:%s:%s:table/%s because" % (
            REGION, ACCOUNT, self.s.config), r["Error"]["Message"])
        # the consumer's schedule grant is for rate#<Prefix>* and limit#* items only (dynamodb:LeadingKeys)
        ddb = self.s.client("dynamodb", CONSUMER_KEY)
        r = self.refused(lambda: ddb.update_item(TableName=self.s.state, Key={"pk": {"S": "pipeline#a"}},
                                                 UpdateExpression="SET x = :x",
                                                 ExpressionAttributeValues={":x": {"N": "1"}}))
        self.assertIn("User: %s is not authorized to perform: dynamodb:UpdateItem" % self.con, r["Error"]["Message"])
        ddb.update_item(TableName=self.s.state, Key={"pk": {"S": "rate#%sa" % self.s.prefix}},
                        UpdateExpression="SET x = :x", ExpressionAttributeValues={":x": {"N": "1"}})
        ddb.update_item(TableName=self.s.state, Key={"pk": {"S": "limit#acme-api"}},
                        UpdateExpression="SET x = :x", ExpressionAttributeValues={":x": {"N": "1"}})
        sqs = self.s.client("sqs", CONSUMER_KEY)
        r = self.refused(lambda: sqs.create_queue(QueueName=self.s.prefix + "x"))
        self.assertEqual(r["Error"]["Code"], "AccessDenied")   # botocore maps the query code
        self.assertIn("sqs:CreateQueue", r["Error"]["Message"])

    def test_s3_and_sns_xml(self):
        s3 = self.s.client("s3", CONSUMER_KEY)
        r = self.refused(lambda: s3.put_object(Bucket=self.s.bucket, Key="x.zip", Body=b"x"))
        self.assertEqual((r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Code"]), (403, "AccessDenied"))
        self.assertIn('s3:PutObject on resource: "arn:aws:s3:::%s/x.zip"' % self.s.bucket, r["Error"]["Message"])
        sns = self.s.client("sns", CONTROLLER_KEY)
        r = self.refused(lambda: sns.publish(TopicArn="arn:aws:sns:%s:%s:t" % (REGION, ACCOUNT), Message="m"))
        self.assertEqual((r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Code"]), (403, "AuthorizationError"))

    def test_unknown_key(self):
        c = boto3.client("lambda", region_name=REGION, endpoint_url=self.s.aws.endpoint,
                         aws_access_key_id="AKIANOBODY", aws_secret_access_key="x")
        r = self.refused(lambda: c.list_functions())
        self.assertEqual(r["Error"]["Code"], "UnrecognizedClientException")

    def test_without_get_event_source_mapping_a_limit_change_stops_half_way(self):
        """The template before issue 22 (the controller without
        lambda:GetEventSourceMapping): a 1 -> 4 change sets MaximumConcurrency,
        is refused while waiting for the mapping's transition, and leaves
        reserved concurrency 1 in place; the layer shows it, moto alone did not."""
        s = self.s
        ctl = s.iam.principals[CONTROLLER_KEY]
        saved = ctl.policies
        self.addCleanup(setattr, ctl, "policies", saved)
        ctl.policies = json.loads(json.dumps(saved).replace('"lambda:GetEventSourceMapping", ', ""))
        self.assertNotIn("lambda:GetEventSourceMapping", json.dumps(ctl.policies))
        s3 = self.moto.client("s3")
        s3.put_object(Bucket=s.bucket, Key="consumer.zip", Body=code_zip())
        put = run_taskpipe(["put", "-"], s.env(OPERATOR_KEY), input=json.dumps({"pipeline": "h", "concurrency": 1}))
        self.assertEqual(put.returncode, 0, put.stderr)
        r = run_taskpipe(["apply", "h", "--json"], s.env(CONTROLLER_KEY), timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr + r.stdout[-2000:])
        put = run_taskpipe(["put", "-"], s.env(OPERATOR_KEY), input=json.dumps({"pipeline": "h", "concurrency": 4}))
        self.assertEqual(put.returncode, 0, put.stderr)
        s.iam.scenario = "old-template-1-to-4"
        r = run_taskpipe(["apply", "h", "--json"], s.env(CONTROLLER_KEY), timeout=300)
        self.assertEqual(r.returncode, 1, r.stderr)
        err = json.loads(r.stdout)["pipelines"][0]["error"]
        self.assertEqual(err["code"], "AccessDeniedException")
        self.assertIn("lambda:GetEventSourceMapping on resource: arn:aws:lambda:%s:%s:event-source-mapping:" % (
            REGION, ACCOUNT), err["message"])
        ops = [q["operation"] for q in s.iam.requests("old-template-1-to-4") if q["role"] == "ControllerRole"]
        self.assertLess(ops.index("UpdateEventSourceMapping"), ops.index("GetEventSourceMapping"), ops)
        self.assertNotIn("DeleteFunctionConcurrency", ops)
        fn = s.prefix + "h"
        self.assertEqual(self.moto.client("lambda").get_function_concurrency(FunctionName=fn)
                         .get("ReservedConcurrentExecutions"), 1)
        self.assertEqual(s.aws.limit_history(fn)[-1][1], 1, "the group stays at 1, not 4")

    def test_taskpipe_reports_a_refusal(self):
        """put with the controller's key: refused (the config table is read-only
        for the controller); taskpipe names the action and resource."""
        r = run_taskpipe(["put", "-"], self.s.env(CONTROLLER_KEY), input=json.dumps({"pipeline": "x"}))
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("AccessDeniedException", r.stderr)
        self.assertIn("is not authorized to perform: dynamodb:PutItem", r.stderr)


if __name__ == "__main__":
    unittest.main()
