"""taskpipe's SigV4 signatures as moto checks them: a separate moto_server
started with INITIAL_NO_AUTH_ACTION_COUNT, so that after the first N requests
every request must carry a valid signature of a known IAM access key whose
policies allow the action (moto/core/authorization.py,
moto/iam/access_control.py).

The first N_SETUP unauthenticated requests (boto3) create an IAM user, an
access key, an allow-all policy and attach it. With that key taskpipe's calls
to DynamoDB, SQS, Lambda, SNS and S3 succeed; with one byte of the secret
changed they get 403 SignatureDoesNotMatch; with an unknown key id 403
InvalidClientTokenId (S3: InvalidAccessKeyId).

Body integrity: moto recomputes the signature from the request it received
but takes the payload hash from the signed x-amz-content-sha256 header, not
from the body (botocore's canonical_request does so), so a body changed in
flight alone goes unnoticed by moto (test_corrupted_body_moto_gap shows it).
Real AWS hashes the body it received (S3: XAmzContentSHA256Mismatch). The
proxy's corrupt_body action with rehash=true sends the corrupted body's own
hash, which is what such a server computes: then every call with a body fails
with SignatureDoesNotMatch, proving the body hash is part of the signature.

Session tokens: moto verifies them for temporary credentials from
sts:AssumeRole (AssumedRoleAccessKey compares X-Amz-Security-Token); a wrong
or missing token is refused with 403 InvalidClientTokenId (S3: InvalidToken /
InvalidAccessKeyId).
"""
import base64
import hashlib
import io
import json
import os
import sys
import tempfile
import unittest
import uuid
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Moto, REGION, run_taskpipe  # noqa: E402
from awsproxy import FaultProxy  # noqa: E402

import boto3  # noqa: E402
import botocore.exceptions as bce  # noqa: E402

# Unauthenticated requests moto lets through: exactly the four setup calls.
N_SETUP = 4
ACCOUNT = "123456789012"
ALLOW_ALL = json.dumps({"Version": "2012-10-17",
                        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})

SIG_MSG = ("The request signature we calculated does not match the signature you provided. "
           "Check your AWS Secret Access Key and signing method. Consult the service "
           "documentation for details.")
S3_SIG_MSG = ("The request signature we calculated does not match the signature you provided. "
              "Check your key and signing method.")
TOKEN_MSG = "The security token included in the request is invalid."


def uniq(prefix):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:10])


def flip_one(secret):
    """The secret with its last character changed."""
    return secret[:-1] + ("A" if secret[-1] != "A" else "B")


def _sign_payload_hash(request, **kwargs):
    if "X-Amz-Content-SHA256" not in request.headers:
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        if isinstance(body, bytes):
            request.headers["X-Amz-Content-SHA256"] = hashlib.sha256(body).hexdigest()


def tiny_zip():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("bootstrap", "#!/bin/sh\n")
    return buf.getvalue()


_MOTO = None


def setUpModule():
    global _MOTO
    _MOTO = Moto(extra_env={"INITIAL_NO_AUTH_ACTION_COUNT": str(N_SETUP)})
    try:
        SigCheck.moto = _MOTO
        SigCheck.setup_identities()
    except Exception:
        _MOTO.stop()
        raise


def tearDownModule():
    _MOTO.stop()


class SigCheck(unittest.TestCase):
    """One moto (started by setUpModule: moto counts unauthenticated requests
    per process, so it cannot be shared with other modules), a proxy per class."""
    moto = None

    @classmethod
    def setUpClass(cls):
        cls.proxy = FaultProxy(cls.moto.endpoint).start()

    @classmethod
    def setup_identities(cls):
        iam = cls.moto.client("iam")        # fake credentials: unauthenticated
        iam.create_user(UserName="tp")                                          # 1
        key = iam.create_access_key(UserName="tp")["AccessKey"]                 # 2
        arn = iam.create_policy(PolicyName="allow-all",
                                PolicyDocument=ALLOW_ALL)["Policy"]["Arn"]      # 3
        iam.attach_user_policy(UserName="tp", PolicyArn=arn)                    # 4
        cls.key_id, cls.secret = key["AccessKeyId"], key["SecretAccessKey"]
        cls.policy_arn = arn
        # The 5th unauthenticated request is refused: N_SETUP is exact.
        try:
            cls.moto.client("sqs").list_queues()
            raise AssertionError("moto accepted unauthenticated request %d" % (N_SETUP + 1))
        except bce.ClientError as e:
            # botocore reads SQS's JSON protocol and cannot parse moto's XML
            # refusal: the code is only in the raw text
            if "<Code>InvalidClientTokenId</Code>" not in str(e):
                raise
        # From here on boto3 signs with the user's key.
        cls.bucket = uniq("sig")
        cls.signed("s3").create_bucket(Bucket=cls.bucket)
        siam = cls.signed("iam")
        trust = json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": "sts:AssumeRole",
            # moto matches the caller's ARN literally (an account root principal is not expanded)
            "Principal": {"AWS": "arn:aws:iam::%s:user/tp" % ACCOUNT,
                          "Service": "lambda.amazonaws.com"}}]})
        role = siam.create_role(RoleName="tp-role", AssumeRolePolicyDocument=trust)["Role"]
        siam.attach_role_policy(RoleName="tp-role", PolicyArn=arn)
        cls.role_arn = role["Arn"]
        cr = cls.signed("sts").assume_role(RoleArn=cls.role_arn, RoleSessionName="tp")["Credentials"]
        cls.session = (cr["AccessKeyId"], cr["SecretAccessKey"], cr["SessionToken"])

    @classmethod
    def signed(cls, service):
        c = boto3.client(service, region_name=REGION, endpoint_url=cls.moto.endpoint,
                         aws_access_key_id=cls.key_id, aws_secret_access_key=cls.secret)
        # moto bug (the project's AWS notes): a body-less request verifies only when
        # x-amz-content-sha256 is signed, which botocore does not do for Lambda.
        c.meta.events.register("before-sign.*.*", _sign_payload_hash)
        return c

    @classmethod
    def tearDownClass(cls):
        cls.proxy.stop()

    def setUp(self):
        self.proxy.reset()

    def env(self, key_id=None, secret=None, token=None):
        e = self.moto.env(AWS_ENDPOINT_URL=self.proxy.endpoint,
                          AWS_ACCESS_KEY_ID=key_id or self.key_id,
                          AWS_SECRET_ACCESS_KEY=secret or self.secret)
        if token:
            e["AWS_SESSION_TOKEN"] = token
        return e

    def tp(self, args, env):
        return run_taskpipe(["aws"] + list(args), env, timeout=60)

    def reads(self):
        """Calls without a body: (args, proxy operation)."""
        return [(["dynamodb", "ListTables", "{}"], "dynamodb:ListTables"),
                (["sqs", "ListQueues", "{}"], "sqs:ListQueues"),
                (["lambda", "GET", "/2015-03-31/functions/"], "lambda:ListFunctions"),
                (["sns", "ListTopics", "{}"], "sns:ListTopics"),
                (["s3", "GET", "/" + self.bucket], "s3:ListObjects")]

    def writes(self, body_file):
        """Calls with a body, each creating something new: (args, proxy operation, check)
        where check() tells whether the write reached moto's state."""
        table, queue, topic, fn, key = (uniq("t"), uniq("q"), uniq("topic"), uniq("f"), uniq("k"))
        s = self.signed
        self.last_key = key
        self.signed("dynamodb").create_table(
            TableName=table, BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
        fn_body = json.dumps({"FunctionName": fn, "Runtime": "provided.al2023", "Role": self.role_arn,
                              "Handler": "bootstrap",
                              "Code": {"ZipFile": base64.b64encode(tiny_zip()).decode()}})
        return [
            (["dynamodb", "PutItem", json.dumps({"TableName": table, "Item": {"pk": {"S": "item"}}})],
             "dynamodb:PutItem",
             lambda: "Item" in s("dynamodb").get_item(TableName=table, Key={"pk": {"S": "item"}})),
            (["sqs", "CreateQueue", json.dumps({"QueueName": queue})], "sqs:CreateQueue",
             lambda: any(u.endswith("/" + queue) for u in
                         s("sqs").list_queues(QueueNamePrefix=queue).get("QueueUrls", []))),
            (["sns", "CreateTopic", json.dumps({"Name": topic})], "sns:CreateTopic",
             lambda: any(t["TopicArn"].endswith(":" + topic) for t in s("sns").list_topics()["Topics"])),
            (["lambda", "POST", "/2015-03-31/functions", fn_body], "lambda:CreateFunction",
             lambda: any(f["FunctionName"] == fn for f in s("lambda").list_functions()["Functions"])),
            (["s3", "PUT", "/%s/%s" % (self.bucket, key), "@" + body_file], "s3:PutObject",
             lambda: key in [o["Key"] for o in
                             s("s3").list_objects_v2(Bucket=self.bucket).get("Contents", [])]),
        ]

    def assert_refused(self, r, status, code, message):
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(r.stdout, "")
        err = json.loads(r.stderr.strip().splitlines()[-1])["error"]
        self.assertEqual((err.get("status"), err["code"], err["message"]), (status, code, message))

    def body_file(self):
        f = tempfile.NamedTemporaryFile(suffix=".bin")
        f.write(bytes(range(256)) * 4)
        f.flush()
        self.addCleanup(f.close)
        return f.name


class TestSignatures(SigCheck):
    def test_good_key_reads_and_writes(self):
        for args, op in self.reads():
            with self.subTest(op=op):
                r = self.tp(args, self.env())
                self.assertEqual(r.returncode, 0, r.stderr)
        path = self.body_file()
        for args, op, check in self.writes(path):
            with self.subTest(op=op):
                r = self.tp(args, self.env())
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertTrue(check())
        self.assertEqual(set(e["status"] for e in self.proxy.log()), {200, 201})
        # the body landed intact
        got = self.signed("s3").get_object(Bucket=self.bucket, Key=self.last_key)["Body"].read()
        self.assertEqual(got, bytes(range(256)) * 4)

    def test_wrong_secret_signature_does_not_match(self):
        env = self.env(secret=flip_one(self.secret))
        path = self.body_file()
        calls = [(a, op, None) for a, op in self.reads()] + self.writes(path)
        for args, op, check in calls:
            with self.subTest(op=op):
                r = self.tp(args, env)
                s3 = op.startswith("s3:")
                self.assert_refused(r, 403, "SignatureDoesNotMatch", S3_SIG_MSG if s3 else SIG_MSG)
                if check:
                    self.assertFalse(check())
        # a 403 is not retried: one request per call
        self.assertEqual(self.proxy.counts(), {op: 1 for _, op, _ in calls})

    def test_unknown_key_id(self):
        env = self.env(key_id="AKIA" + "X" * 16)
        for args, op in self.reads():
            with self.subTest(op=op):
                r = self.tp(args, env)
                if op.startswith("s3:"):
                    self.assert_refused(r, 403, "InvalidAccessKeyId",
                                        "The AWS Access Key Id you provided does not exist in our records.")
                else:
                    self.assert_refused(r, 403, "InvalidClientTokenId", TOKEN_MSG)

    def test_corrupted_body_refused(self):
        # The body changed in flight and hashed as received (what AWS does).
        self.proxy.add_rule({"times": -1, "action": {"corrupt_body": True, "rehash": True}})
        path = self.body_file()
        for args, op, check in self.writes(path):
            with self.subTest(op=op):
                r = self.tp(args, self.env())
                s3 = op.startswith("s3:")
                self.assert_refused(r, 403, "SignatureDoesNotMatch", S3_SIG_MSG if s3 else SIG_MSG)
                self.assertFalse(check())
        log = self.proxy.log()
        self.assertEqual(len(log), 5)
        self.assertTrue(all(e["fault"] == "corrupt_body" and e["corrupted_at"] is not None
                            for e in log))

    def test_corrupted_body_moto_gap(self):
        # moto takes the payload hash from the signed header, so the corrupted
        # body passes and is stored: one byte differs from what taskpipe sent.
        data = bytes(range(256)) * 4
        path = self.body_file()
        key = uniq("gap")
        self.proxy.add_rule({"action": {"corrupt_body": True}})
        r = self.tp(["s3", "PUT", "/%s/%s" % (self.bucket, key), "@" + path], self.env())
        self.assertEqual(r.returncode, 0, r.stderr)
        at = self.proxy.log()[0]["corrupted_at"]
        self.assertEqual(at, data.rindex(b"z"))      # the last ASCII letter
        got = self.signed("s3").get_object(Bucket=self.bucket, Key=key)["Body"].read()
        self.assertEqual(got, data[:at] + b"Z" + data[at + 1:])


class TestSessionToken(SigCheck):
    def test_assumed_role_credentials(self):
        key_id, secret, token = self.session
        self.assertTrue(key_id.startswith("ASIA"))
        for args, op in self.reads():
            with self.subTest(op=op, token="right"):
                r = self.tp(args, self.env(key_id, secret, token))
                self.assertEqual(r.returncode, 0, r.stderr)

    def test_wrong_or_missing_token(self):
        key_id, secret, token = self.session
        for label, tok in (("wrong", flip_one(token)), ("missing", None)):
            for args, op in self.reads():
                with self.subTest(op=op, token=label):
                    r = self.tp(args, self.env(key_id, secret, tok))
                    if not op.startswith("s3:"):
                        self.assert_refused(r, 403, "InvalidClientTokenId", TOKEN_MSG)
                    elif tok:
                        self.assert_refused(r, 400, "InvalidToken",
                                            "The provided token is malformed or otherwise invalid.")
                    else:
                        self.assert_refused(r, 403, "InvalidAccessKeyId",
                                            "The AWS Access Key Id you provided does not exist in our records.")


if __name__ == "__main__":
    unittest.main()
