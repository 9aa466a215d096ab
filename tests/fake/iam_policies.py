"""Writes tests/fake/iam_policies.json: packaging/template.yaml's IAM roles
(ControllerRole, ConsumerRole) resolved by tests/integration/iamtemplate.py
into plain policy documents, for the C fake's IAM (fake_iam_template_policy)
and its agreement test (tests/unit/test_fake_iam.c); and
tests/fake/iam_vectors.json: iameval.py's verdicts on variants of every check
the Python layer recorded (tests/integration/iam_evaluated.json), which the
C evaluator must reproduce exactly: the check placed in a stack (Allow), on
another stack's names, without its context, in another region, and against
the other role's policies; and tests/fake/iam_requests.json: iamrequest.py's
checks of one request of each shape the fake maps (its operation's action
and resource, and what the service checks besides), which the C fake must
evaluate for the same request, in the same order.

The stack's names stay placeholders, as iam_evaluated.json writes them:
{InstanceName}, {Prefix}, and the roles' physical names {ControllerRole},
{ConsumerRole}; account 123456789012, region us-east-1, the stack's own code
bucket. test_template.py checks the committed file equals what this prints
now, so the two cannot drift: after changing a role, run
    python3 tests/fake/iam_policies.py
and commit the JSON with the template."""
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from iameval import evaluate  # noqa: E402
from iamrequest import Lookup, request_checks  # noqa: E402
from iamtemplate import Stack  # noqa: E402

TEMPLATE = os.path.join(ROOT, "packaging", "template.yaml")
OUT = os.path.join(ROOT, "tests", "fake", "iam_policies.json")
VECTORS = os.path.join(ROOT, "tests", "fake", "iam_vectors.json")
REQUESTS = os.path.join(ROOT, "tests", "fake", "iam_requests.json")
RECORDED = os.path.join(ROOT, "tests", "integration", "iam_evaluated.json")
# the stack the vectors are placed in (test_template.py's), and another one
STACK, OTHER = ("tplx", "tx-"), ("other", "zz-")
ROLES = ("ControllerRole", "ConsumerRole")


def resolved():
    """The file's text: the roles' policies with the stack's names as placeholders."""
    stack = Stack(TEMPLATE, {"InstanceName": "{InstanceName}", "Prefix": "{Prefix}"},
                  physical={r: "{%s}" % r for r in ROLES})
    doc = {"_generated": "by tests/fake/iam_policies.py from packaging/template.yaml; do not edit",
           "account": stack.account, "region": stack.region,
           "roles": {r: stack.role_policies(r) for r in ROLES}}
    return json.dumps(doc, indent=1, sort_keys=True) + "\n"


def place(v, inst, prefix):
    """A recorded value placed in a stack (test_template.py's place())."""
    if isinstance(v, list):
        return [place(x, inst, prefix) for x in v]
    for lid in ROLES:
        v = v.replace("{%s}" % lid, "%s-%s" % (inst, lid))
    return v.replace("{InstanceName}", inst).replace("{Prefix}", prefix).replace(
        "{uuid}", "0b5e1c2a-1111-2222-3333-444455556666").replace("{label}", "2026-01-01T00:00:00.000")


def vectors():
    """The vectors file's text: [[policy role, action, resource, context, iameval's effect], ...]."""
    inst, prefix = STACK
    stack = Stack(TEMPLATE, {"InstanceName": inst, "Prefix": prefix},
                  physical={r: "%s-%s" % (inst, r) for r in ROLES})
    pols = {r: stack.role_policies(r) for r in ROLES}
    with open(RECORDED) as f:
        checks = json.load(f)["checks"]
    out, seen = [], set()
    for c in checks:
        mine, other_role = c["role"], [r for r in ROLES if r != c["role"]][0]
        ctx = {k: place(v, inst, prefix) for k, v in c["context"].items()}
        res = place(c["resource"], inst, prefix)
        variants = [
            (mine, res, ctx),
            (mine, place(c["resource"], *OTHER), {k: place(v, *OTHER) for k, v in c["context"].items()}),
            (mine, res, {}),
            (mine, res.replace(":us-east-1:", ":eu-west-1:"), ctx),
            (other_role, res, ctx),
        ]
        for role, r, x in variants:
            v = [role, c["action"], r, x]
            key = json.dumps(v, sort_keys=True)
            if key in seen:
                continue
            seen.add(key)
            out.append(v + [evaluate(pols[role], c["action"], r, x).effect])
    doc = {"_generated": "by tests/fake/iam_policies.py from iam_evaluated.json and iameval.py; do not edit",
           "stack": {"InstanceName": inst, "Prefix": prefix}, "vectors": out}
    return "{\n" + ",\n".join(
        " %s: %s" % (json.dumps(k), json.dumps(doc[k], sort_keys=True)) for k in ("_generated", "stack")) + \
        ',\n "vectors": [\n' + ",\n".join("  " + json.dumps(v, sort_keys=True) for v in out) + "\n ]\n}\n"


# The state the requests meet (test_fake_iam.c makes the same in the fake):
# functions tp-a (tagged) and tp-untagged; mapping {uuid} of tp-a; table
# tplx-state (key pk, sk); bucket code with consumer.zip (one version, not "v1").
FN = "arn:aws:lambda:us-east-1:123456789012:function:"
LAYER = "arn:aws:lambda:us-east-1:123456789012:layer:tplx-consumer-x86_64:1"
ROLE = "arn:aws:iam::123456789012:role/tplx-ConsumerRole"
QURL = "https://sqs.us-east-1.amazonaws.com/123456789012/tp-q"
STREAM = "arn:aws:dynamodb:us-east-1:123456789012:table/tplx-config/stream/2026-01-01T00:00:00.000"


class _State(Lookup):
    def esm_function_arn(self, region, uuid):
        return FN + "tp-a" if uuid == "{uuid}" else None

    def partition_key(self, region, table):
        return "pk" if table.rsplit("/", 1)[-1] == "tplx-state" else None

    def function_tagged(self, region, function_arn):
        return function_arn.split(":")[6] == "tp-a"

    def object_exists(self, bucket, key, version=None):
        return bucket == "code" and key == "consumer.zip" and version is None    # no version "v1"


# (service, operation, method, path, query, body): a request of each shape.
_TAGS = {"taskpipe:owner": "t"}
_REQUESTS = [
    ("lambda", "ListFunctions", "GET", "/2015-03-31/functions/", "", None),
    ("lambda", "GetAccountSettings", "GET", "/2016-08-19/account-settings/", "", None),
    ("lambda", "ListEventSourceMappings", "GET", "/2015-03-31/event-source-mappings/", "FunctionName=tp-a", None),
    ("lambda", "CreateEventSourceMapping", "POST", "/2015-03-31/event-source-mappings/", "",
     {"FunctionName": "tp-a", "EventSourceArn": "arn:aws:sqs:us-east-1:123456789012:tp-q"}),
    ("lambda", "CreateEventSourceMapping", "POST", "/2015-03-31/event-source-mappings/", "",
     {"FunctionName": FN + "other", "EventSourceArn": "arn:aws:sqs:us-east-1:123456789012:tp-q"}),
    ("lambda", "GetEventSourceMapping", "GET", "/2015-03-31/event-source-mappings/{uuid}", "", None),
    ("lambda", "UpdateEventSourceMapping", "PUT", "/2015-03-31/event-source-mappings/{uuid}", "", {"BatchSize": 5}),
    ("lambda", "GetEventSourceMapping", "GET",
     "/2015-03-31/event-source-mappings/00000000-0000-0000-0000-000000000000", "", None),
    ("lambda", "CreateFunction", "POST", "/2015-03-31/functions", "",
     {"FunctionName": "tp-new", "Role": ROLE, "Runtime": "python3.12", "Handler": "app.handler",
      "Layers": [LAYER], "Code": {"S3Bucket": "code", "S3Key": "consumer.zip", "S3ObjectVersion": "v1"},
      "Tags": _TAGS}),
    ("lambda", "CreateFunction", "POST", "/2015-03-31/functions", "",
     {"FunctionName": "tp-new2", "Role": ROLE, "Runtime": "python3.12", "Handler": "app.handler",
      "Code": {"ZipFile": "emlw"}}),
    ("lambda", "GetFunction", "GET", "/2015-03-31/functions/tp-a", "", None),
    ("lambda", "GetFunction", "GET", "/2015-03-31/functions/tp-untagged", "", None),
    ("lambda", "GetFunction", "GET", "/2015-03-31/functions/tp-a", "Qualifier=7", None),
    ("lambda", "GetFunction", "GET", "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Atp-a",
     "", None),
    ("lambda", "GetFunction", "GET", "/2015-03-31/functions/123456789012%3Afunction%3Atp-untagged", "", None),
    ("lambda", "GetFunctionConfiguration", "GET", "/2015-03-31/functions/tp-a/configuration", "", None),
    ("lambda", "UpdateFunctionConfiguration", "PUT", "/2015-03-31/functions/tp-a/configuration", "",
     {"Role": ROLE, "Layers": [LAYER], "MemorySize": 256}),
    ("lambda", "UpdateFunctionCode", "PUT", "/2015-03-31/functions/tp-a/code", "",
     {"S3Bucket": "code", "S3Key": "consumer.zip"}),
    ("lambda", "PutFunctionConcurrency", "PUT", "/2017-10-31/functions/tp-a/concurrency", "",
     {"ReservedConcurrentExecutions": 2}),
    ("lambda", "DeleteFunctionConcurrency", "DELETE", "/2017-10-31/functions/tp-a/concurrency", "", None),
    ("lambda", "ListTags", "GET", "/2017-03-31/tags/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Atp-a",
     "", None),
    ("lambda", "TagResource", "POST", "/2017-03-31/tags/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Atp-a",
     "", {"Tags": {"k": "v"}}),
    ("lambda", "UntagResource", "DELETE",
     "/2017-03-31/tags/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Atp-a", "tagKeys=k", None),
    ("lambda", "DeleteFunction", "DELETE", "/2015-03-31/functions/tp-untagged", "", None),
    ("dynamodb", "GetItem", "POST", "/", "", {"TableName": "tplx-state", "Key": {"sk": {"S": "x"}, "pk": {"S": "rate#tp-a"}}}),
    ("dynamodb", "PutItem", "POST", "/", "",
     {"TableName": "tplx-state", "Item": {"pk": {"S": "limit#g"}, "sk": {"S": "1"}, "n": {"N": "1"}}}),
    ("dynamodb", "UpdateItem", "POST", "/", "",
     {"TableName": "tplx-state", "Key": {"pk": {"S": "rate#tp-a"}, "sk": {"S": "1"}},
      "UpdateExpression": "SET n = :one", "ExpressionAttributeValues": {":one": {"N": "1"}}}),
    ("dynamodb", "DeleteItem", "POST", "/", "",
     {"TableName": "tplx-state", "Key": {"pk": {"S": "rollout#g#plan#1"}, "sk": {"S": "1"}}}),
    ("dynamodb", "GetItem", "POST", "/", "", {"TableName": "nosuch", "Key": {"pk": {"S": "a"}}}),
    ("dynamodb", "Scan", "POST", "/", "", {"TableName": "tplx-state"}),
    ("dynamodb", "Query", "POST", "/", "",
     {"TableName": "tplx-state", "KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "a"}}}),
    ("dynamodb", "DescribeTable", "POST", "/", "", {"TableName": "arn:aws:dynamodb:us-east-1:123456789012:table/tplx-state"}),
    ("dynamodbstreams", "DescribeStream", "POST", "/", "", {"StreamArn": STREAM}),
    ("dynamodbstreams", "GetShardIterator", "POST", "/", "",
     {"StreamArn": STREAM, "ShardId": "shardId-1", "ShardIteratorType": "TRIM_HORIZON"}),
    ("sqs", "CreateQueue", "POST", "/", "", {"QueueName": "tp-b", "tags": _TAGS}),
    ("sqs", "CreateQueue", "POST", "/", "", {"QueueName": "tp-c", "Attributes": {"DelaySeconds": "0"}}),
    ("sqs", "GetQueueUrl", "POST", "/", "", {"QueueName": "tp-q"}),
    ("sqs", "GetQueueUrl", "POST", "/", "", {"QueueName": "tp-q", "QueueOwnerAWSAccountId": "123456789012"}),
    ("sqs", "GetQueueAttributes", "POST", "/", "", {"QueueUrl": QURL, "AttributeNames": ["All"]}),
    ("sqs", "SendMessageBatch", "POST", "/", "", {"QueueUrl": QURL, "Entries": [{"Id": "1", "MessageBody": "m"}]}),
    ("sqs", "ReceiveMessage", "POST", "/", "", {"QueueUrl": QURL, "MaxNumberOfMessages": 1}),
    ("sqs", "ListQueues", "POST", "/", "", {"QueueNamePrefix": "tp-"}),
    ("sqs", "StartMessageMoveTask", "POST", "/", "", {"SourceArn": "arn:aws:sqs:us-east-1:123456789012:tp-q-dlq"}),
    ("s3", "GetBucketVersioning", "GET", "/code", "versioning=", None),
    ("s3", "ListObjectVersions", "GET", "/code", "prefix=consumer.zip&versions=", None),
    ("s3", "GetObject", "GET", "/code/consumer.zip", "", None),
    ("s3", "GetObject", "GET", "/code/consumer.zip", "versionId=v1", None),
    ("s3", "HeadObject", "HEAD", "/code/missing.zip", "", None),
    ("s3", "PutObject", "PUT", "/code/new.zip", "", "zip"),
    ("tagging", "GetResources", "POST", "/", "", {"ResourceTypeFilters": ["lambda:function"]}),
    ("monitoring", "GetMetricData", "POST", "/", "", {"MetricDataQueries": [], "StartTime": 0, "EndTime": 60}),
    ("monitoring", "PutMetricData", "POST", "/", "",
     {"Namespace": "taskpipe", "MetricData": [{"MetricName": "m", "Value": 1}]}),
]
_JSON_TARGET = {"dynamodb": "DynamoDB_20120810", "dynamodbstreams": "DynamoDBStreams_20120810",
                "sqs": "AmazonSQS", "tagging": "ResourceGroupsTaggingAPI_20170126",
                "monitoring": "GraniteServiceVersion20100801"}


def requests():
    """The requests file's text: each request with iamrequest.py's checks of it."""
    out = []
    for service, op, method, path, query, body in _REQUESTS:
        raw = body if isinstance(body, str) else json.dumps(body) if body is not None else None
        headers = {"authorization": "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/%s/aws4_request, "
                                    "SignedHeaders=host, Signature=0" % service}
        if service in _JSON_TARGET:
            headers["x-amz-target"] = "%s.%s" % (_JSON_TARGET[service], op)
            headers["content-type"] = "application/x-amz-json-1.0"
        checks = request_checks(service, op, method, path + ("?" + query if query else ""), headers,
                                raw.encode() if raw is not None else None, _State())
        out.append({"service": service, "op": op, "method": method, "path": path, "query": query, "body": raw,
                    "checks": [[c.action, c.resource, c.context, c.why] for c in checks]})
    return "{\n" + ' "_generated": "by tests/fake/iam_policies.py with iamrequest.py; do not edit",\n' + \
        ' "requests": [\n' + ",\n".join("  " + json.dumps(r, sort_keys=True) for r in out) + "\n ]\n}\n"


if __name__ == "__main__":
    for path, text in ((OUT, resolved()), (VECTORS, vectors()), (REQUESTS, requests())):
        with open(path, "w") as f:
            f.write(text)
        print("wrote", os.path.relpath(path, ROOT))
