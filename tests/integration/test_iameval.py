"""iameval.py (IAM evaluation logic), iamrequest.py (request -> what IAM
authorizes) and iamtemplate.py (the template's roles resolved), without a
server: cases that must be allowed and cases that must be denied, each
against AWS's documented rule (see the modules' page lists)."""
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ROOT  # noqa: E402
from iameval import ALLOW, EXPLICIT_DENY, IMPLICIT_DENY, PolicyError, arn_like, evaluate  # noqa: E402
from iamrequest import Lookup, request_checks  # noqa: E402
from iamtemplate import Stack  # noqa: E402

TEMPLATE = os.path.join(ROOT, "packaging", "template.yaml")
A = "123456789012"
R = "us-east-1"
FN = "arn:aws:lambda:%s:%s:function:" % (R, A)


def pol(*statements):
    return [{"Version": "2012-10-17", "Statement": list(statements)}]


def allow(action, resource, **cond):
    st = {"Effect": "Allow", "Action": action, "Resource": resource}
    if cond:
        st["Condition"] = cond
    return st


class Evaluation(unittest.TestCase):
    def test_implicit_deny_by_default(self):
        self.assertEqual(evaluate(pol(), "sqs:CreateQueue", "*").effect, IMPLICIT_DENY)
        p = pol(allow("sqs:GetQueueUrl", "*"))
        self.assertEqual(evaluate(p, "sqs:CreateQueue", "arn:aws:sqs:%s:%s:q" % (R, A)).effect, IMPLICIT_DENY)

    def test_explicit_deny_beats_allow(self):
        p = pol(allow("dynamodb:*", "*"),
                {"Effect": "Deny", "Action": "dynamodb:DeleteItem", "Resource": "*"})
        self.assertEqual(evaluate(p, "dynamodb:GetItem", "arn:aws:dynamodb:%s:%s:table/t" % (R, A)).effect, ALLOW)
        d = evaluate(p, "dynamodb:DeleteItem", "arn:aws:dynamodb:%s:%s:table/t" % (R, A))
        self.assertEqual(d.effect, EXPLICIT_DENY)
        self.assertIn("with an explicit deny in an identity-based policy", d.message("P", "dynamodb:DeleteItem", "X"))

    def test_message_wording(self):
        d = evaluate(pol(), "lambda:GetEventSourceMapping", "arn:x")
        self.assertEqual(d.message("arn:aws:sts::1:assumed-role/r/s", "lambda:GetEventSourceMapping", "arn:x"),
                         "User: arn:aws:sts::1:assumed-role/r/s is not authorized to perform: "
                         "lambda:GetEventSourceMapping on resource: arn:x because no identity-based policy "
                         "allows the lambda:GetEventSourceMapping action")

    def test_action_wildcards_and_case(self):
        p = pol(allow("lambda:Get*", "*"))
        self.assertTrue(evaluate(p, "lambda:GetFunction", "*").allowed)
        self.assertTrue(evaluate(p, "LAMBDA:getfunction", "*").allowed)
        self.assertFalse(evaluate(p, "lambda:UpdateFunctionCode", "*").allowed)
        self.assertTrue(evaluate(pol(allow("sqs:?etQueueUrl", "*")), "sqs:GetQueueUrl", "*").allowed)
        self.assertFalse(evaluate(pol(allow("sqs:?etQueueUrl", "*")), "sqs:SetQueueAttributes", "*").allowed)

    def test_not_action_and_not_resource(self):
        p = pol({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})
        self.assertTrue(evaluate(p, "sqs:ListQueues", "*").allowed)
        self.assertFalse(evaluate(p, "iam:PassRole", "arn:aws:iam::1:role/r").allowed)
        p = pol({"Effect": "Allow", "Action": "s3:GetObject", "NotResource": "arn:aws:s3:::secret/*"})
        self.assertTrue(evaluate(p, "s3:GetObject", "arn:aws:s3:::code/a.zip").allowed)
        self.assertFalse(evaluate(p, "s3:GetObject", "arn:aws:s3:::secret/a.zip").allowed)

    def test_resource_wildcards(self):
        p = pol(allow("lambda:GetFunction", FN + "tp-*"))
        self.assertTrue(evaluate(p, "lambda:GetFunction", FN + "tp-a").allowed)
        self.assertFalse(evaluate(p, "lambda:GetFunction", FN + "other").allowed)
        self.assertFalse(evaluate(p, "lambda:GetFunction", "arn:aws:lambda:eu-west-1:%s:function:tp-a" % A).allowed)
        # an action without resource-level permission ("*") needs Resource "*"
        self.assertFalse(evaluate(pol(allow("lambda:ListFunctions", FN + "*")), "lambda:ListFunctions", "*").allowed)
        # a wildcard stays within its ARN part: "*" in the region does not reach the account
        self.assertTrue(arn_like("arn:aws:sqs:*:%s:tp-*" % A, "arn:aws:sqs:eu-west-1:%s:tp-q" % A))
        self.assertFalse(arn_like("arn:aws:sqs:*:%s:tp-*" % A, "arn:aws:sqs:eu-west-1:999999999999:tp-q"))
        # the last part holds the rest, colons included (layer:name:version)
        self.assertTrue(arn_like("arn:aws:lambda:%s:%s:layer:i-consumer-*:*" % (R, A),
                                 "arn:aws:lambda:%s:%s:layer:i-consumer-x86_64:3" % (R, A)))
        # case-sensitive
        self.assertFalse(evaluate(p, "lambda:GetFunction", FN + "TP-a").allowed)

    def test_arnlike_function_arn_condition(self):
        p = pol(allow("lambda:GetEventSourceMapping", "arn:aws:lambda:%s:%s:event-source-mapping:*" % (R, A),
                      ArnLike={"lambda:FunctionArn": FN + "tp-*"}))
        esm = "arn:aws:lambda:%s:%s:event-source-mapping:u-1" % (R, A)
        self.assertTrue(evaluate(p, "lambda:GetEventSourceMapping", esm, {"lambda:FunctionArn": FN + "tp-a"}).allowed)
        self.assertFalse(evaluate(p, "lambda:GetEventSourceMapping", esm, {"lambda:FunctionArn": FN + "x"}).allowed)
        # key absent from the context: the condition is false
        self.assertFalse(evaluate(p, "lambda:GetEventSourceMapping", esm, {}).allowed)
        # condition key names are case-insensitive
        self.assertTrue(evaluate(p, "lambda:GetEventSourceMapping", esm, {"Lambda:functionarn": FN + "tp-a"}).allowed)

    def test_passrole_passed_to_service(self):
        role = "arn:aws:iam::%s:role/consumer" % A
        p = pol(allow("iam:PassRole", role, StringEquals={"iam:PassedToService": "lambda.amazonaws.com"}))
        self.assertTrue(evaluate(p, "iam:PassRole", role, {"iam:PassedToService": "lambda.amazonaws.com"}).allowed)
        self.assertFalse(evaluate(p, "iam:PassRole", role, {"iam:PassedToService": "ec2.amazonaws.com"}).allowed)
        self.assertFalse(evaluate(p, "iam:PassRole", "arn:aws:iam::%s:role/admin" % A,
                                  {"iam:PassedToService": "lambda.amazonaws.com"}).allowed)

    def test_leading_keys_for_all_values(self):
        table = "arn:aws:dynamodb:%s:%s:table/st" % (R, A)
        p = pol(allow("dynamodb:UpdateItem", table,
                      **{"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["rate#tp-*"]}}))
        self.assertTrue(evaluate(p, "dynamodb:UpdateItem", table, {"dynamodb:LeadingKeys": ["rate#tp-a"]}).allowed)
        self.assertFalse(evaluate(p, "dynamodb:UpdateItem", table, {"dynamodb:LeadingKeys": ["pipeline#tp-a"]}).allowed)
        self.assertFalse(evaluate(p, "dynamodb:UpdateItem", table,
                                  {"dynamodb:LeadingKeys": ["rate#tp-a", "budget"]}).allowed)
        # ForAllValues is true when the key is absent ([multi]): why the grant names only UpdateItem
        self.assertTrue(evaluate(p, "dynamodb:UpdateItem", table, {}).allowed)
        p2 = pol(allow("dynamodb:UpdateItem", table,
                       **{"ForAnyValue:StringLike": {"dynamodb:LeadingKeys": ["rate#*"]}}))
        self.assertFalse(evaluate(p2, "dynamodb:UpdateItem", table, {}).allowed)

    def test_string_like_bool_ifexists_null_negated(self):
        p = pol(allow("s3:GetObject", "*", Bool={"aws:SecureTransport": "true"}))
        self.assertTrue(evaluate(p, "s3:GetObject", "arn:aws:s3:::b/k", {"aws:SecureTransport": "true"}).allowed)
        self.assertFalse(evaluate(p, "s3:GetObject", "arn:aws:s3:::b/k", {"aws:SecureTransport": "false"}).allowed)
        self.assertFalse(evaluate(p, "s3:GetObject", "arn:aws:s3:::b/k", {}).allowed)
        p = pol(allow("s3:GetObject", "*", StringLikeIfExists={"aws:SourceArn": FN + "tp-*"}))
        self.assertTrue(evaluate(p, "s3:GetObject", "arn:aws:s3:::b/k", {}).allowed)
        self.assertFalse(evaluate(p, "s3:GetObject", "arn:aws:s3:::b/k", {"aws:SourceArn": FN + "x"}).allowed)
        p = pol(allow("s3:GetObject", "*", StringNotLike={"aws:SourceArn": FN + "tp-*"}))
        self.assertTrue(evaluate(p, "s3:GetObject", "arn:aws:s3:::b/k", {}).allowed)      # negated, absent: true
        self.assertFalse(evaluate(p, "s3:GetObject", "arn:aws:s3:::b/k", {"aws:SourceArn": FN + "tp-a"}).allowed)
        p = pol(allow("s3:GetObject", "*", Null={"aws:SourceArn": "false"}))
        self.assertFalse(evaluate(p, "s3:GetObject", "arn:aws:s3:::b/k", {}).allowed)
        self.assertTrue(evaluate(p, "s3:GetObject", "arn:aws:s3:::b/k", {"aws:SourceArn": "x"}).allowed)

    def test_source_arn_and_several_operators_and_values(self):
        cond = {"ArnLike": {"aws:SourceArn": [FN + "tp-*", FN + "tq-*"]},
                "StringEquals": {"aws:SourceAccount": A}}
        p = pol(allow("s3:GetObject", "arn:aws:s3:::code/*", **cond))
        ok = {"aws:SourceArn": FN + "tq-b", "aws:SourceAccount": A}
        self.assertTrue(evaluate(p, "s3:GetObject", "arn:aws:s3:::code/c.zip", ok).allowed)
        self.assertFalse(evaluate(p, "s3:GetObject", "arn:aws:s3:::code/c.zip", dict(ok, **{"aws:SourceAccount": "1"})).allowed)
        self.assertFalse(evaluate(p, "s3:GetObject", "arn:aws:s3:::code/c.zip", dict(ok, **{"aws:SourceArn": FN + "x"})).allowed)

    def test_unknown_operator_is_an_error(self):
        with self.assertRaises(PolicyError):
            evaluate(pol(allow("s3:GetObject", "*", NumericLessThan={"s3:max-keys": "10"})), "s3:GetObject", "*")
        with self.assertRaises(PolicyError):
            evaluate(pol({"Effect": "Maybe", "Action": "*", "Resource": "*"}), "s3:GetObject", "*")


class _Lookup(Lookup):
    def esm_function_arn(self, region, uuid):
        return FN + "tp-a" if uuid == "u-1" else None

    def partition_key(self, region, table):
        return {"st": "pk", "cfg": "pipeline"}.get(table)

    def function_tagged(self, region, function_arn):
        return function_arn.endswith(":tp-a")

    def object_exists(self, bucket, key, version=None):
        return key != "gone.zip"


AUTH = "AWS4-HMAC-SHA256 Credential=AKIA/20260101/us-east-1/%s/aws4_request, SignedHeaders=host, Signature=0"


def checks(service, operation, method, target, body=b"", **headers):
    h = {"authorization": AUTH % ("dynamodb" if service == "dynamodbstreams" else service)}
    h.update({k.replace("_", "-"): v for k, v in headers.items()})
    if isinstance(body, dict):
        body = json.dumps(body).encode()
    return [(c.action, c.resource, c.context, c.why)
            for c in request_checks(service, operation, method, target, h, body, _Lookup())]


class Mapping(unittest.TestCase):
    def test_lambda_event_source_mappings(self):
        esm = "arn:aws:lambda:%s:%s:event-source-mapping:u-1" % (R, A)
        for op, m in (("GetEventSourceMapping", "GET"), ("UpdateEventSourceMapping", "PUT"),
                      ("DeleteEventSourceMapping", "DELETE")):
            self.assertEqual(checks("lambda", op, m, "/2015-03-31/event-source-mappings/u-1"),
                             [("lambda:" + op, esm, {"lambda:FunctionArn": FN + "tp-a"}, "request")])
        self.assertEqual(checks("lambda", "CreateEventSourceMapping", "POST", "/2015-03-31/event-source-mappings/",
                                {"FunctionName": "tp-a", "EventSourceArn": "arn:aws:sqs:x"}),
                         [("lambda:CreateEventSourceMapping", "*", {"lambda:FunctionArn": FN + "tp-a"}, "request")])
        self.assertEqual(checks("lambda", "ListEventSourceMappings", "GET", "/2015-03-31/event-source-mappings/?X=1"),
                         [("lambda:ListEventSourceMappings", "*", {}, "request")])

    def test_lambda_create_function_implies(self):
        body = {"FunctionName": "tp-a", "Role": "arn:aws:iam::%s:role/c" % A,
                "Layers": ["arn:aws:lambda:%s:%s:layer:i-consumer-x86_64:2" % (R, A)],
                "Code": {"S3Bucket": "code", "S3Key": "dir/c.zip", "S3ObjectVersion": "v1"}}
        got = checks("lambda", "CreateFunction", "POST", "/2015-03-31/functions", body)
        self.assertEqual([g[:3] for g in got], [
            ("lambda:CreateFunction", FN + "tp-a", {}),
            ("iam:PassRole", "arn:aws:iam::%s:role/c" % A, {"iam:PassedToService": "lambda.amazonaws.com"}),
            ("lambda:GetLayerVersion", "arn:aws:lambda:%s:%s:layer:i-consumer-x86_64:2" % (R, A), {}),
            ("s3:GetObjectVersion", "arn:aws:s3:::code/dir/c.zip", {})])
        got = checks("lambda", "UpdateFunctionCode", "PUT", "/2015-03-31/functions/tp-a/code",
                     {"S3Bucket": "code", "S3Key": "c.zip"})
        self.assertEqual([g[:2] for g in got], [("lambda:UpdateFunctionCode", FN + "tp-a"),
                                                ("s3:GetObject", "arn:aws:s3:::code/c.zip")])
        got = checks("lambda", "UpdateFunctionConfiguration", "PUT", "/2015-03-31/functions/tp-a/configuration",
                     {"Timeout": 3})
        self.assertEqual([g[:2] for g in got], [("lambda:UpdateFunctionConfiguration", FN + "tp-a")])

    def test_lambda_other_paths(self):
        self.assertEqual(checks("lambda", "ListTags", "GET", "/2017-03-31/tags/" + (FN + "tp-a").replace(":", "%3A"))[0][:2],
                         ("lambda:ListTags", FN + "tp-a"))
        self.assertEqual(checks("lambda", "PutFunctionConcurrency", "PUT", "/2017-10-31/functions/tp-a/concurrency")[0][:2],
                         ("lambda:PutFunctionConcurrency", FN + "tp-a"))
        self.assertEqual(checks("lambda", "GetAccountSettings", "GET", "/2016-08-19/account-settings/")[0][:2],
                         ("lambda:GetAccountSettings", "*"))
        self.assertEqual(checks("lambda", "Invoke", "POST", "/2015-03-31/functions/tp-a/invocations")[0][:2],
                         ("lambda:InvokeFunction", FN + "tp-a"))

    def test_tags_on_create_and_get_function_of_a_tagged_function(self):
        body = {"FunctionName": "tp-b", "Role": "arn:aws:iam::%s:role/c" % A, "Code": {"ZipFile": "UEs="},
                "Tags": {"taskpipe:owner": "o"}}
        got = checks("lambda", "CreateFunction", "POST", "/2015-03-31/functions", body)
        self.assertEqual([g[:2] for g in got][-1], ("lambda:TagResource", FN + "tp-b"))
        self.assertEqual([g[:2] for g in checks("lambda", "GetFunction", "GET", "/2015-03-31/functions/tp-a")],
                         [("lambda:GetFunction", FN + "tp-a"), ("lambda:ListTags", FN + "tp-a")])
        self.assertEqual([g[:2] for g in checks("lambda", "GetFunction", "GET", "/2015-03-31/functions/tp-b")],
                         [("lambda:GetFunction", FN + "tp-b")])
        q = "arn:aws:sqs:%s:%s:tp-q" % (R, A)
        self.assertEqual([g[:2] for g in checks("sqs", "CreateQueue", "POST", "/", {"QueueName": "tp-q", "tags": {"a": "b"}},
                                                x_amz_target="AmazonSQS.CreateQueue")],
                         [("sqs:CreateQueue", q), ("sqs:TagQueue", q)])
        self.assertEqual([g[:2] for g in checks("sqs", "CreateQueue", "POST", "/", b"Action=CreateQueue&QueueName=tp-q"
                                                b"&Tag.1.Key=a&Tag.1.Value=b",
                                                content_type="application/x-www-form-urlencoded")],
                         [("sqs:CreateQueue", q), ("sqs:TagQueue", q)])

    def test_missing_object_needs_list_bucket(self):
        self.assertEqual([g[:2] for g in checks("s3", "HeadObject", "HEAD", "/code/gone.zip")],
                         [("s3:GetObject", "arn:aws:s3:::code/gone.zip"), ("s3:ListBucket", "arn:aws:s3:::code")])
        self.assertEqual(len(checks("s3", "HeadObject", "HEAD", "/code/here.zip")), 1)

    def test_dynamodb_leading_keys(self):
        t = "arn:aws:dynamodb:%s:%s:table/st" % (R, A)
        self.assertEqual(checks("dynamodb", "UpdateItem", "POST", "/",
                                {"TableName": "st", "Key": {"pk": {"S": "rate#tp-a"}}}),
                         [("dynamodb:UpdateItem", t, {"dynamodb:LeadingKeys": ["rate#tp-a"]}, "request")])
        self.assertEqual(checks("dynamodb", "PutItem", "POST", "/",
                                {"TableName": "st", "Item": {"x": {"N": "1"}, "pk": {"S": "k"}}})[0][2],
                         {"dynamodb:LeadingKeys": ["k"]})
        self.assertEqual(checks("dynamodb", "Scan", "POST", "/", {"TableName": "st"})[0][2], {})
        s = "arn:aws:dynamodb:%s:%s:table/cfg/stream/2026-01-01T00:00:00.000" % (R, A)
        self.assertEqual(checks("dynamodbstreams", "GetRecords", "POST", "/", {"ShardIterator": s + "|1|abc"})[0][:2],
                         ("dynamodb:GetRecords", s))
        self.assertEqual(checks("dynamodbstreams", "DescribeStream", "POST", "/", {"StreamArn": s})[0][:2],
                         ("dynamodb:DescribeStream", s))

    def test_sqs_json_and_query(self):
        url = "http://127.0.0.1:5/%s/tp-q" % A
        q = "arn:aws:sqs:%s:%s:tp-q" % (R, A)
        self.assertEqual(checks("sqs", "ChangeMessageVisibilityBatch", "POST", "/", {"QueueUrl": url},
                                x_amz_target="AmazonSQS.ChangeMessageVisibilityBatch")[0][:2],
                         ("sqs:ChangeMessageVisibility", q))
        self.assertEqual(checks("sqs", "CreateQueue", "POST", "/", {"QueueName": "tp-q"},
                                x_amz_target="AmazonSQS.CreateQueue")[0][:2], ("sqs:CreateQueue", q))
        self.assertEqual(checks("sqs", "ListQueues", "POST", "/", b"Action=ListQueues",
                                content_type="application/x-www-form-urlencoded")[0][:2], ("sqs:ListQueues", "*"))

    def test_s3_sns_sts_tagging(self):
        self.assertEqual(checks("s3", "GetObject", "GET", "/code/a%20b.zip?versionId=v")[0][:2],
                         ("s3:GetObjectVersion", "arn:aws:s3:::code/a b.zip"))
        self.assertEqual(checks("s3", "HeadObject", "HEAD", "/code/a.zip")[0][:2], ("s3:GetObject", "arn:aws:s3:::code/a.zip"))
        self.assertEqual(checks("s3", "ListObjectsV2", "GET", "/code?list-type=2")[0][:2], ("s3:ListBucket", "arn:aws:s3:::code"))
        self.assertEqual(checks("s3", "GetBucketVersioning", "GET", "/code?versioning")[0][:2],
                         ("s3:GetBucketVersioning", "arn:aws:s3:::code"))
        topic = "arn:aws:sns:%s:%s:t" % (R, A)
        self.assertEqual(checks("sns", "Publish", "POST", "/", ("Action=Publish&TopicArn=" + topic).encode(),
                                content_type="application/x-www-form-urlencoded")[0][:2], ("sns:Publish", topic))
        self.assertEqual(checks("sts", "GetCallerIdentity", "POST", "/"), [])
        self.assertEqual(checks("tagging", "GetResources", "POST", "/", {})[0][:2], ("tag:GetResources", "*"))
        self.assertEqual(checks("monitoring", "PutMetricData", "POST", "/", b"Action=PutMetricData&Namespace=taskpipe",
                                content_type="application/x-www-form-urlencoded")[0][:3],
                         ("cloudwatch:PutMetricData", "*", {"cloudwatch:namespace": "taskpipe"}))

    def test_unmapped_is_marked(self):
        got = request_checks("lambda", "GET /2015-03-31/weird", "GET", "/2015-03-31/weird",
                             {"authorization": AUTH % "lambda"}, b"", _Lookup())
        self.assertFalse(got[0].mapped)


class TemplateRoles(unittest.TestCase):
    """The template resolved for a stack, evaluated: the denials the issue names."""

    @classmethod
    def setUpClass(cls):
        cls.stack = Stack(TEMPLATE, {"InstanceName": "iq", "Prefix": "tq-", "ControllerCodeBucket": "art",
                                     "ConsumerLayerKey": "layer.zip"},
                          physical={"ControllerRole": "iq-ControllerRole-1", "ConsumerRole": "iq-ConsumerRole-1"})
        cls.ctl = cls.stack.role_policies("ControllerRole")
        cls.con = cls.stack.role_policies("ConsumerRole")

    def test_resolved(self):
        text = json.dumps(self.ctl)
        self.assertNotIn("${", text)
        self.assertNotIn("Fn::", text)
        self.assertIn("arn:aws:dynamodb:us-east-1:123456789012:table/iq-config/stream/*", text)
        self.assertIn("arn:aws:iam::123456789012:role/iq-ConsumerRole-1", text)
        self.assertIn("arn:aws:s3:::iq-code-123456789012-us-east-1/*", text)

    def test_controller(self):
        esm = "arn:aws:lambda:%s:%s:event-source-mapping:u" % (R, A)
        ok = {"lambda:FunctionArn": FN + "tq-a"}
        self.assertTrue(evaluate(self.ctl, "lambda:UpdateEventSourceMapping", esm, ok).allowed)
        self.assertFalse(evaluate(self.ctl, "lambda:UpdateEventSourceMapping", esm,
                                  {"lambda:FunctionArn": FN + "iq-controller"}).allowed)
        self.assertFalse(evaluate(self.ctl, "lambda:CreateFunction", FN + "other").allowed)
        self.assertFalse(evaluate(self.ctl, "iam:PassRole", "arn:aws:iam::%s:role/iq-ControllerRole-1" % A,
                                  {"iam:PassedToService": "lambda.amazonaws.com"}).allowed)
        self.assertFalse(evaluate(self.ctl, "dynamodb:PutItem", "arn:aws:dynamodb:%s:%s:table/iq-config" % (R, A)).allowed)
        self.assertTrue(evaluate(self.ctl, "lambda:GetLayerVersion",
                                 "arn:aws:lambda:%s:%s:layer:iq-consumer-x86_64:4" % (R, A)).allowed)
        self.assertFalse(evaluate(self.ctl, "lambda:GetLayerVersion",
                                  "arn:aws:lambda:%s:%s:layer:someone-else:4" % (R, A)).allowed)

    def test_what_the_issue_names(self):
        """lambda:GetEventSourceMapping and dynamodb:DeleteItem: granted since issue 22."""
        esm = "arn:aws:lambda:%s:%s:event-source-mapping:u" % (R, A)
        self.assertTrue(evaluate(self.ctl, "lambda:GetEventSourceMapping", esm,
                                 {"lambda:FunctionArn": FN + "tq-a"}).allowed)
        state = "arn:aws:dynamodb:%s:%s:table/iq-state" % (R, A)
        self.assertTrue(evaluate(self.ctl, "dynamodb:DeleteItem", state).allowed)

    def test_consumer(self):
        state = "arn:aws:dynamodb:%s:%s:table/iq-state" % (R, A)
        self.assertTrue(evaluate(self.con, "dynamodb:UpdateItem", state, {"dynamodb:LeadingKeys": ["rate#tq-a"]}).allowed)
        self.assertFalse(evaluate(self.con, "dynamodb:UpdateItem", state,
                                  {"dynamodb:LeadingKeys": ["pipeline#tq-a"]}).allowed)
        self.assertFalse(evaluate(self.con, "dynamodb:PutItem", state, {"dynamodb:LeadingKeys": ["rate#tq-a"]}).allowed)
        self.assertTrue(evaluate(self.con, "sqs:ChangeMessageVisibility", "arn:aws:sqs:%s:%s:tq-a" % (R, A)).allowed)
        self.assertFalse(evaluate(self.con, "sqs:ChangeMessageVisibility", "arn:aws:sqs:%s:%s:other" % (R, A)).allowed)
        # the pushback's re-send goes to the pipeline's own queue only
        self.assertTrue(evaluate(self.con, "sqs:SendMessage", "arn:aws:sqs:%s:%s:tq-a" % (R, A)).allowed)
        self.assertFalse(evaluate(self.con, "sqs:SendMessage", "arn:aws:sqs:%s:%s:other" % (R, A)).allowed)


if __name__ == "__main__":
    unittest.main()
