"""IAM enforcement for the AWS-faithful layer (awsmodel.py): every request is
authorized, as AWS does, against the policies of the role whose access key
signed it; a refused request gets AccessDeniedException in its protocol's
wording, and every evaluation is recorded.

    stack = iamtemplate.Stack(TEMPLATE, params, physical=...)
    iam = IamEnforcer(stack, TEST_KEYS)
    aws = AwsModel(moto.endpoint, iam=iam).start()
    env AWS_ACCESS_KEY_ID=CONTROLLER_KEY -> the controller's role; CONSUMER_KEY ->
    the consumer functions' role; OPERATOR_KEY ("testing", the harness's) -> full rights
    iam.scenario = "apply-create"; ...; iam.records(), iam.denials(), iam.requests()

Which key is which role: TEST_KEYS below (the one place). The signing key is
the access key id in the SigV4 Authorization header's Credential (or the
X-Amz-Credential query parameter of a presigned URL). A key not in the
mapping is refused as AWS refuses an unknown key.

Refusals, per protocol (pages: each service's API reference, "Common Errors";
the message from iameval.py [denied]):
  Lambda (REST-JSON)      403, x-amzn-ErrorType AccessDeniedException, {"Type": "User", "Message": ...}
                          https://docs.aws.amazon.com/lambda/latest/api/CommonErrors.html
  DynamoDB, Streams       400, {"__type": "com.amazon.coral.service#AccessDeniedException", "Message": ...}
                          https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/CommonErrors.html
  SQS (JSON)              400, {"__type": "com.amazon.coral.service#AccessDeniedException", "message": ...},
                          x-amzn-query-error AccessDenied;Sender; (query) 403 XML Code AccessDenied
                          https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-json-api-responses.html
  S3 (REST-XML)           403 <Error><Code>AccessDenied</Code>, the resource ARN in quotes
                          https://docs.aws.amazon.com/AmazonS3/latest/userguide/troubleshoot-403-errors.html
  SNS (query)             403 <ErrorResponse> Code AuthorizationError
                          https://docs.aws.amazon.com/sns/latest/api/CommonErrors.html
  Lambda reading S3 code  400 InvalidParameterValueException "Your access has been denied by S3, please
                          make sure your request credentials have permission to GetObject for <bucket>/<key>.
                          S3 Error Code: AccessDenied. S3 Error Message: Access Denied"
"""
import http.client
import json
import re
import threading
import time
import urllib.parse
import uuid
from xml.sax.saxutils import escape

from iameval import ALLOW, evaluate
from iamrequest import Lookup, request_checks

# The key -> role mapping of the tests: access key id -> (template role, session name).
# None as the role: the operator, with every right (the harness's boto3 key).
CONTROLLER_KEY = "AKIATPCONTROLLER0001"
CONSUMER_KEY = "AKIATPCONSUMER000001"
OPERATOR_KEY = "testing"
TEST_KEYS = {
    CONTROLLER_KEY: ("ControllerRole", "controller"),
    CONSUMER_KEY: ("ConsumerRole", "consumer"),
    OPERATOR_KEY: (None, "operator"),
}
OPERATOR_POLICY = {"Version": "2012-10-17",
                   "Statement": [{"Sid": "Operator", "Effect": "Allow", "Action": "*", "Resource": "*"}]}

_KEY = re.compile(r"Credential=([^/,\s]+)/")
_QKEY = re.compile(r"(?:^|[?&])X-Amz-Credential=([^/&%]+)(?:/|%2F)", re.I)


def access_key(headers, target):
    """The access key id that signed the request, or None (unsigned)."""
    m = _KEY.search(headers.get("authorization", ""))
    if m:
        return m.group(1)
    m = _QKEY.search("?" + target.partition("?")[2])
    return m.group(1) if m else None


class Principal:
    def __init__(self, role, arn, policies):
        self.role, self.arn, self.policies = role, arn, policies


class _MotoLookup(Lookup):
    """Reads what the mapping needs from moto (cached per table)."""

    def __init__(self, enforcer):
        self.e = enforcer
        self.keys = {}

    def _call(self, method, path, headers, body=b""):
        p = self.e.proxy
        if p is None:
            return None, None
        conn = http.client.HTTPConnection(p.upstream_host, p.upstream_port, timeout=30)
        try:
            conn.request(method, path, body=body or None, headers=headers)
            r = conn.getresponse()
            return r.status, r.read()
        finally:
            conn.close()

    def esm_function_arn(self, region, mapping_uuid):
        """The mapping's function: from the layer's model while it knows the mapping
        (Deleting included), else from moto; None when neither does (AWS then has no
        lambda:FunctionArn to match, so a condition on it refuses)."""
        p = self.e.proxy
        model = getattr(p, "_esms", None)
        if model is not None:
            with p._mlock:
                m = model.get(mapping_uuid)
                if m is not None and m.config and m.config.get("FunctionArn"):
                    return m.config["FunctionArn"]
        auth = ("AWS4-HMAC-SHA256 Credential=testing/20240101/%s/lambda/aws4_request, "
                "SignedHeaders=host, Signature=00" % region)
        st, data = self._call("GET", "/2015-03-31/event-source-mappings/" + mapping_uuid,
                              {"Authorization": auth})
        if st == 200:
            return json.loads(data).get("FunctionArn")
        return None

    def function_tagged(self, region, function_arn):
        auth = ("AWS4-HMAC-SHA256 Credential=testing/20240101/%s/lambda/aws4_request, "
                "SignedHeaders=host, Signature=00" % region)
        st, data = self._call("GET", "/2017-03-31/tags/" + urllib.parse.quote(function_arn, safe=""),
                              {"Authorization": auth})
        return st == 200 and bool(json.loads(data).get("Tags"))

    def object_exists(self, bucket, key, version=None):
        path = "/%s/%s" % (urllib.parse.quote(bucket), urllib.parse.quote(key))
        if version:
            path += "?versionId=" + urllib.parse.quote(version)
        auth = ("AWS4-HMAC-SHA256 Credential=testing/20240101/us-east-1/s3/aws4_request, "
                "SignedHeaders=host, Signature=00")
        st, _ = self._call("HEAD", path, {"Authorization": auth})
        return st != 404

    def partition_key(self, region, table):
        name = table.rsplit("/", 1)[-1] if table.startswith("arn:") else table
        if name in self.keys:
            return self.keys[name]
        auth = ("AWS4-HMAC-SHA256 Credential=testing/20240101/%s/dynamodb/aws4_request, "
                "SignedHeaders=host, Signature=00" % region)
        st, data = self._call("POST", "/", {"Authorization": auth, "X-Amz-Target": "DynamoDB_20120810.DescribeTable",
                                            "Content-Type": "application/x-amz-json-1.0"},
                              json.dumps({"TableName": name}).encode())
        pk = None
        if st == 200:
            for k in json.loads(data)["Table"]["KeySchema"]:
                if k["KeyType"] == "HASH":
                    pk = k["AttributeName"]
            self.keys[name] = pk
        return pk


class IamEnforcer:
    def __init__(self, stack, keys=None, enforce=True):
        self.stack = stack
        self.enforce = enforce              # False: evaluate and record, refuse nothing
        self.proxy = None                   # set by AwsModel
        self.scenario = None
        self.lookup = _MotoLookup(self)
        self._lock = threading.Lock()
        self._records = []                  # one per evaluated check
        self._requests = []                 # one per authorized request
        self.principals = {}
        for key, (role, session) in (keys or TEST_KEYS).items():
            if role is None:
                arn = "arn:aws:iam::%s:user/%s" % (stack.account, session)
                self.principals[key] = Principal(None, arn, [OPERATOR_POLICY])
            else:
                role_name = stack.ref(role)
                arn = "arn:%s:sts::%s:assumed-role/%s/%s" % (stack.partition, stack.account, role_name, session)
                self.principals[key] = Principal(role, arn, stack.role_policies(role))

    # -- results
    def records(self, scenario=None, role=None):
        with self._lock:
            return [dict(r) for r in self._records
                    if (scenario is None or r["scenario"] == scenario) and (role is None or r["role"] == role)]

    def requests(self, scenario=None):
        with self._lock:
            return [dict(r) for r in self._requests if scenario is None or r["scenario"] == scenario]

    def denials(self, scenario=None):
        return [r for r in self.records(scenario) if r["effect"] != ALLOW]

    def clear(self):
        with self._lock:
            self._records.clear()
            self._requests.clear()

    # -- the check
    def authorize(self, service, operation, method, target, headers, body):
        """None when the request may go on, else (status, headers, body) to answer."""
        if service == "moto-api":
            return None
        h = {k.lower(): v for k, v in headers.items()}
        key = access_key(h, target)
        principal = self.principals.get(key)
        if principal is None:
            self._note_request(service, operation, None, key, "UnknownKey")
            return _unknown_key(service, h) if self.enforce else None
        checks = request_checks(service, operation, method, target, h, body, self.lookup)
        refused = None
        for c in checks:
            d = evaluate(principal.policies, c.action, c.resource, c.context)
            with self._lock:
                self._records.append({"time": time.time(), "scenario": self.scenario, "role": principal.role,
                                      "service": service, "operation": operation, "action": c.action,
                                      "resource": c.resource, "context": dict(c.context), "why": c.why,
                                      "mapped": c.mapped, "effect": d.effect, "sid": d.sid})
            if refused is None and not d.allowed:
                refused = (c, d)
        self._note_request(service, operation, principal.role, key, refused[1].effect if refused else ALLOW)
        if refused is None or not self.enforce:
            return None
        c, d = refused
        resource = '"%s"' % c.resource if service == "s3" else c.resource
        return _refusal(service, h, c, d.message(principal.arn, c.action, resource))

    def _note_request(self, service, operation, role, key, effect):
        with self._lock:
            self._requests.append({"time": time.time(), "scenario": self.scenario, "role": role,
                                   "service": service, "operation": operation, "effect": effect})


def _rid():
    return str(uuid.uuid4())


def _xml_error(status, code, message, ns=None, sender=True):
    body = ('<ErrorResponse%s><Error><Type>%s</Type><Code>%s</Code><Message>%s</Message></Error>'
            '<RequestId>%s</RequestId></ErrorResponse>') % (
        ' xmlns="%s"' % ns if ns else "", "Sender" if sender else "Receiver", code, escape(message), _rid())
    return status, [("Content-Type", "text/xml"), ("x-amzn-RequestId", _rid())], body.encode()


def _refusal(service, h, check, message):
    if check.why.endswith("reads code from S3"):
        obj = check.resource.split(":::", 1)[1]
        msg = ("Your access has been denied by S3, please make sure your request credentials have "
               "permission to GetObject for %s. S3 Error Code: AccessDenied. S3 Error Message: "
               "Access Denied" % obj)
        return 400, [("Content-Type", "application/json"), ("x-amzn-ErrorType", "InvalidParameterValueException"),
                     ("x-amzn-RequestId", _rid())], json.dumps({"Type": "User", "message": msg}).encode()
    if service == "lambda":
        return 403, [("Content-Type", "application/json"), ("x-amzn-ErrorType", "AccessDeniedException"),
                     ("x-amzn-RequestId", _rid())], json.dumps({"Type": "User", "Message": message}).encode()
    if service in ("dynamodb", "dynamodbstreams"):
        return 400, [("Content-Type", "application/x-amz-json-1.0"), ("x-amzn-RequestId", _rid())], json.dumps(
            {"__type": "com.amazon.coral.service#AccessDeniedException", "Message": message}).encode()
    if service == "sqs" and h.get("x-amz-target"):
        return 400, [("Content-Type", "application/x-amz-json-1.0"), ("x-amzn-RequestId", _rid()),
                     ("x-amzn-query-error", "AccessDenied;Sender")], json.dumps(
            {"__type": "com.amazon.coral.service#AccessDeniedException", "message": message}).encode()
    if service == "s3":
        body = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code>"
                "<Message>%s</Message><RequestId>%s</RequestId><HostId>%s</HostId></Error>") % (
            escape(message), _rid()[:16].upper(), _rid())
        return 403, [("Content-Type", "application/xml")], body.encode()
    if service == "sns":
        return _xml_error(403, "AuthorizationError", message, "http://sns.amazonaws.com/doc/2010-03-31/")
    if h.get("x-amz-target"):
        return 400, [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-RequestId", _rid())], json.dumps(
            {"__type": "AccessDeniedException", "Message": message}).encode()
    return _xml_error(403, "AccessDenied", message)


def _unknown_key(service, h):
    msg = "The security token included in the request is invalid."
    if service == "s3":
        body = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>InvalidAccessKeyId</Code><Message>"
                "The AWS Access Key Id you provided does not exist in our records.</Message></Error>")
        return 403, [("Content-Type", "application/xml")], body.encode()
    if service == "lambda":
        return 403, [("Content-Type", "application/json"), ("x-amzn-ErrorType", "UnrecognizedClientException")], \
            json.dumps({"Type": "User", "message": msg}).encode()
    if h.get("x-amz-target"):
        return 400, [("Content-Type", "application/x-amz-json-1.0")], json.dumps(
            {"__type": "com.amazon.coral.service#UnrecognizedClientException", "message": msg}).encode()
    return _xml_error(403, "InvalidClientTokenId", msg)
