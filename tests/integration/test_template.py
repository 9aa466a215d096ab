"""packaging/template.yaml: cfn-lint, an IAM least-privilege check on the
template itself, and a deployment into moto's CloudFormation whose resources
are then checked with boto3 as declared. Where moto ignores a property
(the project's AWS notes: bucket versioning and notifications, Lambda Architectures)
the test says so and checks the property in the template YAML instead."""
import io
import ast
import json
import os
import re
import subprocess
import sys
import unittest
import zipfile

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ROOT, Moto  # noqa: E402
from iameval import evaluate  # noqa: E402
from iamtemplate import Stack  # noqa: E402

TEMPLATE = os.path.join(ROOT, "packaging", "template.yaml")

# Actions allowed on Resource "*", each with the reason it cannot be scoped.
# The template's Metadata (taskpipe::IamExceptions) must list the same set.
IAM_EXCEPTIONS = {
    "lambda:ListFunctions": "list action, no resource-level permissions",
    "lambda:ListEventSourceMappings": "list action, no resource-level permissions",
    "lambda:GetAccountSettings": "account-level read, no resource",
    "lambda:CreateEventSourceMapping": "no ARN before creation; scoped by the lambda:FunctionArn condition",
    "tag:GetResources": "the tagging API has no resource-level permissions",
    "sqs:ListQueues": "list action, no resource-level permissions",
    "cloudwatch:GetMetricData": "CloudWatch metric reads have no resource-level permissions",
}

# What each role must be allowed is derived, not listed by hand: every
# permission AWS evaluated for a request taskpipe sent (or implied by one:
# iam:PassRole, lambda:GetLayerVersion, ...) while test_iam_enforced ran its
# scenarios with IAM enforcement on, recorded in iam_evaluated.json.
RECORDED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "iam_evaluated.json")

# ... plus what Lambda itself does with a function's execution role, which no
# request of taskpipe carries, so the evaluation cannot record it. Each with its page.
SERVICE_SIDE = {
    "ControllerRole": {
        # the config stream -> controller mapping polls with the execution role
        # ("Lambda needs the following permissions to manage resources related to
        # your DynamoDB stream": DescribeStream, GetRecords, GetShardIterator,
        # ListStreams; the first three are recorded by the stream-poller scenario)
        # https://docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-eventsourcemapping.html
        "dynamodb:ListStreams": "stream mapping poller",
        # the mapping's OnFailure destination (FailureQueue) is written with the
        # execution role ("the function's execution role ... sqs:SendMessage")
        # https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html
        "sqs:SendMessage": "stream mapping OnFailure destination",
        # the function's own logs (AWSLambdaBasicExecutionRole's actions)
        # https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-prereqs.html
        "logs:CreateLogStream": "function logs", "logs:PutLogEvents": "function logs",
    },
    "ConsumerRole": {
        "logs:CreateLogGroup": "function logs", "logs:CreateLogStream": "function logs",
        "logs:PutLogEvents": "function logs",
    },
}


def recorded():
    with open(RECORDED) as f:
        return json.load(f)


def evaluated_actions(role):
    return {c["action"] for c in recorded()["checks"] if c["role"] == role}


class _Tag:
    """A CloudFormation short-form intrinsic (!Ref, !Sub, ...) kept as data."""

    def __init__(self, tag, value):
        self.tag, self.value = tag, value

    def __repr__(self):
        return "%s %r" % (self.tag, self.value)


def _loader():
    class L(yaml.SafeLoader):
        pass

    def construct(loader, suffix, node):
        if isinstance(node, yaml.ScalarNode):
            v = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            v = loader.construct_sequence(node, deep=True)
        else:
            v = loader.construct_mapping(node, deep=True)
        return _Tag("!" + suffix, v)

    L.add_multi_constructor("!", construct)
    return L


def load_template():
    with open(TEMPLATE) as f:
        return yaml.load(f, Loader=_loader())


def statements(role):
    for pol in role["Properties"]["Policies"]:
        for st in pol["PolicyDocument"]["Statement"]:
            yield pol["PolicyName"], st


def as_list(v):
    return v if isinstance(v, list) else [v]


def policy_doc(doc):
    """moto answers a role's inline policy as a dict, JSON, or a Python repr."""
    if isinstance(doc, dict):
        return doc
    try:
        return json.loads(doc)
    except ValueError:
        return ast.literal_eval(doc)


def controller_zip():
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w") as z:
        z.writestr("bootstrap", "#!/bin/sh\n")
    return b.getvalue()


class TemplateStatic(unittest.TestCase):
    def test_cfn_lint(self):
        r = subprocess.run(["cfn-lint", TEMPLATE], capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(r.stdout.strip(), "")

    def test_controller_concurrency_optional(self):
        """Issue 23: every reservation shrinks the account's one pool; an account
        without room deploys with ControllerConcurrency empty, which leaves the
        property out (0 would throttle the controller completely)."""
        t = load_template()
        p = t["Parameters"]["ControllerConcurrency"]
        pat = re.compile(p["AllowedPattern"])
        for ok in ("", "1", "3", "10"):
            self.assertTrue(pat.match(ok), ok)
        for bad in ("0", "11", "-1", "x"):
            self.assertFalse(pat.match(bad), bad)
        rc = t["Resources"]["Controller"]["Properties"]["ReservedConcurrentExecutions"]
        self.assertEqual(rc.tag, "!If")
        cond, yes, no = rc.value
        self.assertEqual((yes.tag, yes.value, no.tag, no.value),
                         ("!Ref", "ControllerConcurrency", "!Ref", "AWS::NoValue"))
        c = t["Conditions"][cond]
        self.assertEqual(c.tag, "!Not")
        self.assertEqual((c.value[0].tag, c.value[0].value[0].value, c.value[0].value[1]),
                         ("!Equals", "ControllerConcurrency", ""))

    def test_iam_least_privilege(self):
        t = load_template()
        documented = {e["Action"] for e in t["Metadata"]["taskpipe::IamExceptions"]}
        self.assertEqual(documented, set(IAM_EXCEPTIONS))
        for e in t["Metadata"]["taskpipe::IamExceptions"]:
            self.assertGreater(len(e["Reason"]), 20, e)
        roles = {k: v for k, v in t["Resources"].items() if v["Type"] == "AWS::IAM::Role"}
        self.assertEqual(set(roles), {"ControllerRole", "ConsumerRole"})
        star_actions = set()
        for name, role in roles.items():
            for pol, st in statements(role):
                self.assertEqual(st["Effect"], "Allow")
                self.assertNotIn("NotAction", st)
                self.assertNotIn("NotResource", st)
                for a in as_list(st["Action"]):
                    self.assertNotIn("*", a, "wildcard action %s in %s" % (a, name))
                    self.assertRegex(a, r"^[a-z0-9-]+:[A-Za-z]+$")
                if "*" in as_list(st["Resource"]):
                    self.assertEqual(name, "ControllerRole", st)
                    star_actions |= set(as_list(st["Action"]))
                for res in as_list(st["Resource"]):
                    # Scoped: a literal "*" only as above; ARNs come from the
                    # stack or carry the prefix / a stack-made name.
                    if isinstance(res, str):
                        self.assertEqual(res, "*")
        self.assertEqual(star_actions, set(IAM_EXCEPTIONS))
        # CreateEventSourceMapping on "*" is fenced by a condition on the prefix.
        for _, st in statements(roles["ControllerRole"]):
            if "lambda:CreateEventSourceMapping" in as_list(st["Action"]):
                arn = st["Condition"]["ArnLike"]["lambda:FunctionArn"]
                self.assertIn(":function:${Prefix}*", arn.value)

    def test_each_role_grants_exactly_what_was_evaluated(self):
        """Granted = evaluated in the enforced scenarios + Lambda's own use of
        the role: a permission taskpipe needs but the template lacks fails
        test_iam_enforced; one the template grants but nothing needs fails here."""
        t = load_template()
        for role in ("ControllerRole", "ConsumerRole"):
            granted = {a for _, st in statements(t["Resources"][role]) for a in as_list(st["Action"])}
            want = evaluated_actions(role) | set(SERVICE_SIDE[role])
            self.assertEqual(sorted(granted - want), [], "%s grants what nothing needs" % role)
            self.assertEqual(sorted(want - granted), [], "%s lacks what was evaluated" % role)
            self.assertFalse(evaluated_actions(role) & set(SERVICE_SIDE[role]),
                             "a service-side entry is evaluated now: drop it from SERVICE_SIDE")

    def test_recorded_requests_pass_and_foreign_ones_do_not(self):
        """Every recorded check, placed in a stack of other names, is allowed by
        that stack's policies; the same check on another instance's resources
        (another InstanceName and Prefix) is refused unless it is one of the
        IamExceptions on "*" without a condition naming the stack."""
        names = {"InstanceName": "tplx", "Prefix": "tx-"}
        stack = Stack(TEMPLATE, dict(names, ControllerCodeBucket="art"),
                      physical={"ControllerRole": "tplx-ControllerRole", "ConsumerRole": "tplx-ConsumerRole"})
        pols = {r: stack.role_policies(r) for r in ("ControllerRole", "ConsumerRole")}

        def place(v, inst, prefix):
            if isinstance(v, list):
                return [place(x, inst, prefix) for x in v]
            for lid in ("ControllerRole", "ConsumerRole"):
                v = v.replace("{%s}" % lid, "%s-%s" % (inst, lid))
            return v.replace("{InstanceName}", inst).replace("{Prefix}", prefix).replace(
                "{uuid}", "0b5e1c2a-1111-2222-3333-444455556666").replace("{label}", "2026-01-01T00:00:00.000")

        checks = recorded()["checks"]
        self.assertGreater(len(checks), 50)
        for c in checks:
            ctx = {k: place(v, "tplx", "tx-") for k, v in c["context"].items()}
            d = evaluate(pols[c["role"]], c["action"], place(c["resource"], "tplx", "tx-"), ctx)
            self.assertTrue(d.allowed, c)
            names_stack = "{" in c["resource"] or any("{" in json.dumps(v) for v in c["context"].values())
            ctx = {k: place(v, "other", "zz-") for k, v in c["context"].items()}
            d = evaluate(pols[c["role"]], c["action"], place(c["resource"], "other", "zz-"), ctx)
            if names_stack:
                self.assertFalse(d.allowed, "foreign resource allowed: %s" % c)
            else:
                self.assertIn(c["action"], IAM_EXCEPTIONS, c)

    def test_fake_iam_policies_match_the_template(self):
        """tests/fake/iam_policies.json (the C fake's IAM and its agreement
        test, tests/unit/test_fake_iam.c, read it) is what iamtemplate.py
        resolves from the template now, and tests/fake/iam_vectors.json is
        iameval.py's verdicts on the recorded checks now, and
        tests/fake/iam_requests.json iamrequest.py's checks now: a role, a record or a mapping
        changed without running tests/fake/iam_policies.py fails here."""
        sys.path.insert(0, os.path.join(ROOT, "tests", "fake"))
        import iam_policies  # noqa: E402
        for path, now in ((iam_policies.OUT, iam_policies.resolved()), (iam_policies.VECTORS, iam_policies.vectors()),
                          (iam_policies.REQUESTS, iam_policies.requests())):
            with open(path) as f:
                committed = f.read()
            self.assertEqual(committed, now, "%s is stale: run python3 tests/fake/iam_policies.py" % path)

    def test_controller_policy_scoping(self):
        t = load_template()
        scoped = {}
        for _, st in statements(t["Resources"]["ControllerRole"]):
            for a in as_list(st["Action"]):
                scoped.setdefault(a, []).extend(as_list(st["Resource"]))
        # The config table is read-only for the controller (a write would fire the stream).
        for _, st in statements(t["Resources"]["ControllerRole"]):
            res = as_list(st["Resource"])
            if any(isinstance(r, _Tag) and r.value == "ConfigTable.Arn" for r in res):
                self.assertEqual(set(st["Action"]), {"dynamodb:GetItem", "dynamodb:Scan",
                                                      "dynamodb:DescribeTable"})
        # Prefix scoping of what the controller creates and changes.
        for a in ("sqs:CreateQueue", "sqs:DeleteQueue", "lambda:CreateFunction",
                  "lambda:DeleteFunction", "lambda:UpdateFunctionCode"):
            for r in scoped[a]:
                self.assertRegex(r.value, r":(function|\$\{AWS::AccountId\}):\$\{Prefix\}\*$", a)
        for a in ("lambda:GetEventSourceMapping", "lambda:UpdateEventSourceMapping",
                  "lambda:DeleteEventSourceMapping"):
            for r in scoped[a]:
                self.assertTrue(r.value.endswith(":event-source-mapping:*"), r)
        for _, st in statements(t["Resources"]["ControllerRole"]):
            if "lambda:GetEventSourceMapping" in as_list(st["Action"]):
                self.assertIn(":function:${Prefix}*", st["Condition"]["ArnLike"]["lambda:FunctionArn"].value)
            # the state table's deletes: an old rollout's plan parts only
            if "dynamodb:DeleteItem" in as_list(st["Action"]):
                self.assertEqual(as_list(st["Action"]), ["dynamodb:DeleteItem"])
                self.assertEqual(st["Resource"].value, "StateTable.Arn")
                self.assertEqual(st["Condition"], {"ForAllValues:StringLike": {
                    "dynamodb:LeadingKeys": ["rollout#*#plan#*"]}})
        # the stack's consumer layers only
        self.assertEqual([r.value for r in scoped["lambda:GetLayerVersion"]],
                         ["arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:layer:${InstanceName}-consumer-*:*"])
        # PassRole: only the consumer role, only to Lambda.
        for _, st in statements(t["Resources"]["ControllerRole"]):
            if st["Action"] == ["iam:PassRole"]:
                self.assertEqual(st["Resource"].value, "ConsumerRole.Arn")
                self.assertEqual(st["Condition"], {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}})
        # the consumer layer's shared schedules: the state table, its rate#<Prefix> and limit# items only
        for _, st in statements(t["Resources"]["ConsumerRole"]):
            if "dynamodb:UpdateItem" in as_list(st["Action"]):
                self.assertEqual(as_list(st["Action"]), ["dynamodb:UpdateItem"])
                self.assertEqual(st["Resource"].value, "StateTable.Arn")
                keys = st["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]
                self.assertEqual([k.value if hasattr(k, "value") else k for k in keys],
                                 ["rate#${Prefix}*", "limit#*"])

    def test_operator_policies(self):
        """Producers may send and find their queue; status readers read; neither
        is the controller's (it never sends tasks)."""
        t = load_template()
        r = t["Resources"]

        def actions(lid):
            out = {}
            for st in r[lid]["Properties"]["PolicyDocument"]["Statement"]:
                self.assertEqual(st["Effect"], "Allow")
                for a in as_list(st["Action"]):
                    out[a] = as_list(st["Resource"])
            return out

        prod = actions("ProducerPolicy")
        self.assertEqual(set(prod), {"sqs:SendMessage", "sqs:GetQueueUrl", "dynamodb:GetItem"})
        self.assertTrue(prod["sqs:SendMessage"][0].value.endswith(":${Prefix}*"))
        self.assertEqual(prod["dynamodb:GetItem"][0].value, "StateTable.Arn")
        stat = actions("StatusPolicy")
        self.assertEqual(set(stat), {"dynamodb:GetItem", "dynamodb:Scan", "sqs:GetQueueAttributes",
                                     "sqs:GetQueueUrl", "cloudwatch:GetMetricData"})
        self.assertEqual(stat["cloudwatch:GetMetricData"], ["*"])   # no resource-level permissions
        for a, res in stat.items():
            if a != "cloudwatch:GetMetricData":
                self.assertNotIn("*", res, a)
        for _, st in statements(r["ControllerRole"]):
            if "sqs:SendMessage" in as_list(st["Action"]):
                # only the stack's own failure queue, never a group's
                self.assertEqual(st["Resource"].value, "FailureQueue.Arn")

    def test_properties_moto_ignores(self):
        r = load_template()["Resources"]
        # moto's CloudFormation ignores bucket versioning and notifications.
        b = r["CodeBucket"]["Properties"]
        self.assertEqual(b["VersioningConfiguration"], {"Status": "Enabled"})
        tc = b["NotificationConfiguration"]["TopicConfigurations"]
        self.assertEqual(len(tc), 1)
        self.assertEqual(tc[0]["Event"], "s3:ObjectCreated:*")
        self.assertEqual(tc[0]["Topic"].tag, "!Ref")
        self.assertEqual(tc[0]["Topic"].value, "CodeTopic")
        self.assertEqual(r["CodeBucket"]["DependsOn"], "CodeTopicPolicy")
        # ... and skips AWS::SNS::TopicPolicy: S3 may publish, only from the code bucket.
        st = r["CodeTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
        self.assertEqual(st["Principal"], {"Service": "s3.amazonaws.com"})
        self.assertEqual(st["Action"], "sns:Publish")
        self.assertIn("aws:SourceArn", st["Condition"]["ArnLike"])
        # moto ignores Lambda Architectures: it comes from the parameter.
        f = r["Controller"]["Properties"]
        self.assertEqual(f["Architectures"][0].value, "Architecture")
        self.assertEqual(f["Handler"], "bootstrap")
        # The runtime is a parameter: provided.al2023 by default, never a
        # deprecated one (provided.al2, "Runtime deprecation").
        self.assertEqual(f["Runtime"].value, "Runtime")
        rt = load_template()["Parameters"]["Runtime"]
        self.assertEqual(rt["Default"], "provided.al2023")
        pat = re.compile(rt["AllowedPattern"])
        self.assertTrue(pat.match("provided.al2023"))
        for bad in ("provided.al2", "provided", "go1.x", "python3.8"):
            self.assertFalse(pat.match(bad), bad)
        # Lambda reads REFERENCE code from the stack's bucket, for the prefix's functions only.
        bp = r["CodeBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
        self.assertEqual(bp["Principal"], {"Service": "lambda.amazonaws.com"})
        self.assertEqual(sorted(bp["Action"]), ["s3:GetObject", "s3:GetObjectVersion"])
        self.assertIn("${Prefix}*", bp["Condition"]["ArnLike"]["aws:SourceArn"].value)

    def test_consumer_layers(self):
        # moto's CloudFormation cannot deploy AWS::Lambda::LayerVersion (it ignores
        # LayerName, and Ref gives the Python object, which then breaks ListFunctions),
        # so the deployed stacks run without the layer keys and this checks the template.
        t = load_template()
        r, cond = t["Resources"], t["Conditions"]
        for lid, arch, key, var in (("ConsumerLayer", "x86_64", "ConsumerLayerKey", "TASKPIPE_CONSUMER_LAYER"),
                                    ("ConsumerLayerArm64", "arm64", "ConsumerLayerArm64Key",
                                     "TASKPIPE_CONSUMER_LAYER_ARM64")):
            layer = r[lid]
            self.assertEqual(layer["Type"], "AWS::Lambda::LayerVersion")
            self.assertEqual((layer["DeletionPolicy"], layer["UpdateReplacePolicy"]), ("Retain", "Retain"))
            p = layer["Properties"]
            self.assertEqual(p["LayerName"].value, "${InstanceName}-consumer-" + arch)
            self.assertEqual(p["CompatibleArchitectures"], [arch])
            self.assertEqual(p["Content"]["S3Bucket"].value, "ControllerCodeBucket")
            self.assertEqual(p["Content"]["S3Key"].value, key)
            c = cond[layer["Condition"]]
            self.assertEqual(c.tag, "!Not")
            self.assertEqual(c.value[0].value[0].value, key)
            self.assertEqual(t["Parameters"][key]["Default"], "")
            # the controller gets the version ARN (Ref of a LayerVersion), or nothing
            v = r["Controller"]["Properties"]["Environment"]["Variables"][var]
            self.assertEqual(v.tag, "!If")
            self.assertEqual(v.value[0], layer["Condition"])
            self.assertEqual((v.value[1].tag, v.value[1].value), ("!Ref", lid))
            self.assertEqual((v.value[2].tag, v.value[2].value), ("!Ref", "AWS::NoValue"))
            # the GetLayerVersion grant (layer:${InstanceName}-consumer-*:*) covers it
            self.assertTrue(p["LayerName"].value.startswith("${InstanceName}-consumer-"))


class CfnMoto(Moto):
    """moto without the docker-less Lambda switch (see TemplateDeploy)."""

    def configure(self):
        pass


class TemplateDeploy(unittest.TestCase):
    """Deployed into a moto of its own: CloudFormation creates Lambda
    functions in moto's Docker backend, which the docker-less Lambda API of
    the shared server (use_docker false) does not see. Nothing is invoked
    here, so Docker is never needed."""

    @classmethod
    def setUpClass(cls):
        cls.moto = CfnMoto()
        cls.addClassCleanup(cls.moto.stop)
        s3 = cls.moto.client("s3")
        s3.create_bucket(Bucket="artifacts")
        s3.put_object(Bucket="artifacts", Key="bootstrap-arm64.zip", Body=controller_zip())
        cls.cfn = cls.moto.client("cloudformation")
        with open(TEMPLATE) as f:
            body = f.read()
        params = {"InstanceName": "tpl", "Prefix": "tq-", "ControllerCodeBucket": "artifacts",
                  "ControllerCodeKey": "bootstrap-arm64.zip", "Architecture": "arm64",
                  "LambdaRps": "7", "DriftSchedule": "rate(5 minutes)", "LogRetentionDays": "14",
                  "DefaultCodeKey": "code/consumer.zip"}
        cls.cfn.create_stack(StackName="tpl", TemplateBody=body, Capabilities=["CAPABILITY_IAM"],
                             Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()])
        cls.stack = cls.cfn.describe_stacks(StackName="tpl")["Stacks"][0]
        cls.outputs = {o["OutputKey"]: o["OutputValue"] for o in cls.stack["Outputs"]}
        cls.resources = {r["LogicalResourceId"]: r for r in
                         cls.cfn.list_stack_resources(StackName="tpl")["StackResourceSummaries"]}

    def test_stack_complete(self):
        self.assertEqual(self.stack["StackStatus"], "CREATE_COMPLETE", self.stack.get("StackStatusReason"))
        for lid in ("ConfigTable", "StateTable", "CodeBucket", "CodeTopic", "FailureQueue",
                    "ControllerLogGroup", "ConsumerRole", "ControllerRole", "Controller",
                    "StreamToController", "SnsInvokesController", "DriftScheduleRule",
                    "EventsInvokesController", "ProducerPolicy", "StatusPolicy"):
            self.assertEqual(self.resources[lid]["ResourceStatus"], "CREATE_COMPLETE", lid)

    def test_tables(self):
        ddb = self.moto.client("dynamodb")
        c = ddb.describe_table(TableName="tpl-config")["Table"]
        self.assertEqual(c["KeySchema"], [{"AttributeName": "pipeline", "KeyType": "HASH"}])
        self.assertEqual(c["AttributeDefinitions"], [{"AttributeName": "pipeline", "AttributeType": "S"}])
        self.assertEqual(c["StreamSpecification"], {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
        self.assertEqual(self.outputs["ConfigStreamArn"], c["LatestStreamArn"])
        s = ddb.describe_table(TableName="tpl-state")["Table"]
        self.assertEqual(s["KeySchema"], [{"AttributeName": "pk", "KeyType": "HASH"}])

    def test_bucket_topic_subscription(self):
        bucket = self.outputs["CodeBucketName"]
        self.assertEqual(bucket, "tpl-code-123456789012-us-east-1")
        self.moto.client("s3").head_bucket(Bucket=bucket)
        topic = self.outputs["CodeTopicArn"]
        self.assertTrue(topic.endswith(":tpl-code-uploads"), topic)
        subs = self.moto.client("sns").list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
        self.assertEqual([(s["Protocol"], s["Endpoint"]) for s in subs],
                         [("lambda", "arn:aws:lambda:us-east-1:123456789012:function:tpl-controller")])

    def test_controller_function(self):
        lam = self.moto.client("lambda")
        f = lam.get_function(FunctionName="tpl-controller")["Configuration"]
        self.assertEqual(f["Runtime"], "provided.al2023")
        self.assertEqual(f["Handler"], "bootstrap")
        self.assertEqual(f["Timeout"], 900)
        role = self.moto.client("iam").get_role(RoleName=self.resources["ControllerRole"]["PhysicalResourceId"])
        self.assertEqual(f["Role"], role["Role"]["Arn"])
        env = {k: str(v) for k, v in f["Environment"]["Variables"].items()}
        self.assertEqual(env, {
            "TASKPIPE_CONFIG_TABLE": "tpl-config", "TASKPIPE_STATE_TABLE": "tpl-state",
            "TASKPIPE_CODE_BUCKET": "tpl-code-123456789012-us-east-1",
            "TASKPIPE_CODE_KEY": "code/consumer.zip", "TASKPIPE_PREFIX": "tq-",
            "TASKPIPE_OWNER": "tpl", "TASKPIPE_ROLE_ARN": self.outputs["ConsumerRoleArn"],
            "TASKPIPE_LAMBDA_RPS": "7", "AWS_LAMBDA_LOG_FORMAT": "JSON",
            "TASKPIPE_RUNTIME": "provided.al2023"})
        # Architectures: moto ignores the property (reports its default);
        # TemplateStatic.test_properties_moto_ignores checks the template.
        # Invoke permissions for SNS (from the topic) and EventBridge (from the rule).
        pol = json.loads(lam.get_policy(FunctionName="tpl-controller")["Policy"])
        grants = {(s["Principal"]["Service"], s["Condition"]["ArnLike"]["AWS:SourceArn"])
                  for s in pol["Statement"] if s["Action"] == "lambda:InvokeFunction"}
        self.assertEqual(grants, {("sns.amazonaws.com", self.outputs["CodeTopicArn"]),
                                  ("events.amazonaws.com", "arn:aws:events:us-east-1:123456789012:rule/tpl-drift")})

    def test_controller_concurrency_reserved(self):
        # Stream, upload and schedule invocations share one Lambda budget:
        # a few controllers at once (ControllerConcurrency, default 3), not dozens.
        c = self.moto.client("lambda").get_function_concurrency(FunctionName="tpl-controller")
        self.assertEqual(c.get("ReservedConcurrentExecutions"), 3)

    def test_stream_mapping(self):
        maps = self.moto.client("lambda").list_event_source_mappings(FunctionName="tpl-controller")["EventSourceMappings"]
        self.assertEqual(len(maps), 1)
        m = maps[0]
        self.assertEqual(m["EventSourceArn"], self.outputs["ConfigStreamArn"])
        self.assertEqual(m["FunctionResponseTypes"], ["ReportBatchItemFailures"])
        self.assertIs(m["BisectBatchOnFunctionError"], True)
        self.assertEqual(m["MaximumRetryAttempts"], 10)
        self.assertEqual(m["StartingPosition"], "TRIM_HORIZON")
        q = self.moto.client("sqs").get_queue_attributes(QueueUrl=self.outputs["FailureQueueUrl"],
                                                         AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.assertTrue(q.endswith(":tpl-controller-failures"))
        self.assertEqual(m["DestinationConfig"], {"OnFailure": {"Destination": q}})

    def test_schedule_and_logs(self):
        ev = self.moto.client("events")
        rule = ev.describe_rule(Name="tpl-drift")
        self.assertEqual(rule["ScheduleExpression"], "rate(5 minutes)")
        self.assertEqual(rule["State"], "ENABLED")
        targets = ev.list_targets_by_rule(Rule="tpl-drift")["Targets"]
        self.assertEqual([t["Arn"] for t in targets],
                         ["arn:aws:lambda:us-east-1:123456789012:function:tpl-controller"])
        groups = self.moto.client("logs").describe_log_groups(logGroupNamePrefix="/aws/lambda/tpl-")["logGroups"]
        self.assertEqual([(g["logGroupName"], g["retentionInDays"]) for g in groups],
                         [("/aws/lambda/tpl-controller", 14)])

    def test_roles(self):
        iam = self.moto.client("iam")
        for lid in ("ControllerRole", "ConsumerRole"):
            name = self.resources[lid]["PhysicalResourceId"]
            role = iam.get_role(RoleName=name)["Role"]
            trust = role["AssumeRolePolicyDocument"]
            if isinstance(trust, str):
                trust = json.loads(trust)
            self.assertEqual(trust["Statement"][0]["Principal"], {"Service": "lambda.amazonaws.com"})
            pols = iam.list_role_policies(RoleName=name)["PolicyNames"]
            self.assertEqual(len(pols), 1, pols)
            doc = policy_doc(iam.get_role_policy(RoleName=name, PolicyName=pols[0])["PolicyDocument"])
            text = json.dumps(doc)
            # Parameters were substituted: the prefix scopes, the stack's names appear.
            self.assertIn(":tq-*", text)
            self.assertNotIn("${", text)
        ctl = policy_doc(iam.get_role_policy(RoleName=self.resources["ControllerRole"]["PhysicalResourceId"],
                                             PolicyName="controller")["PolicyDocument"])
        pass_role = [s for s in ctl["Statement"] if s.get("Sid") == "PassConsumerRole"][0]
        self.assertEqual(pass_role["Resource"], self.outputs["ConsumerRoleArn"])

    def test_second_stack_without_mapping_then_deleted(self):
        # A stack of its own, so deleting it leaves the others' checks alone.
        with open(TEMPLATE) as f:
            body = f.read()
        self.cfn.create_stack(StackName="tpl2", TemplateBody=body, Capabilities=["CAPABILITY_IAM"],
                              Parameters=[{"ParameterKey": "InstanceName", "ParameterValue": "tpl2"},
                                          {"ParameterKey": "ControllerCodeBucket", "ParameterValue": "artifacts"},
                                          {"ParameterKey": "ControllerCodeKey", "ParameterValue": "bootstrap-arm64.zip"},
                                          {"ParameterKey": "StreamMapping", "ParameterValue": "false"},
                                          {"ParameterKey": "ControllerConcurrency", "ParameterValue": ""}])
        # Empty ControllerConcurrency: the controller reserves nothing of the account's pool.
        self.assertNotIn("ReservedConcurrentExecutions", self.moto.client("lambda").get_function_concurrency(
            FunctionName="tpl2-controller"))
        ids = {r["LogicalResourceId"] for r in
               self.cfn.list_stack_resources(StackName="tpl2")["StackResourceSummaries"]}
        self.assertNotIn("StreamToController", ids)
        self.assertIn("Controller", ids)
        self.assertEqual(self.moto.client("lambda").list_event_source_mappings(
            FunctionName="tpl2-controller")["EventSourceMappings"], [])
        self.cfn.delete_stack(StackName="tpl2")
        ddb = self.moto.client("dynamodb")
        names = ddb.list_tables()["TableNames"]
        self.assertNotIn("tpl2-config", names)
        self.assertIn("tpl-config", names)
        fns = [f["FunctionName"] for f in self.moto.client("lambda").list_functions()["Functions"]]
        self.assertNotIn("tpl2-controller", fns)


if __name__ == "__main__":
    unittest.main()
