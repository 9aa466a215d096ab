"""Tests of awsproxy.py, the fault-injecting counting proxy: exact per-operation
counts for the services taskpipe uses (boto3 through the proxy into moto),
every fault action as a client sees it, times/skip rule semantics, reset,
the JSON control API, keep-alive towards the client and the classifier."""
import io
import json
import os
import socket
import subprocess
import sys
import time
import unittest
import urllib.error
import urllib.request
import uuid
import zipfile
import http.client

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Moto, REGION  # noqa: E402
import awsproxy  # noqa: E402
from awsproxy import FaultProxy, classify  # noqa: E402

import boto3  # noqa: E402
import botocore.exceptions as bce  # noqa: E402
from botocore.config import Config  # noqa: E402

# One attempt only: botocore's "max_attempts" counts retries (1 -> 2 attempts),
# "total_max_attempts" counts attempts. The read timeout is long: on a loaded
# machine moto can take seconds to answer, and a counting test must not fail
# for that; only the stall test needs a short one (STALL_CLIENT).
ONE_SHOT = Config(retries={"total_max_attempts": 1, "mode": "standard"},
                  read_timeout=60, connect_timeout=10)
STALL_CLIENT = Config(retries={"total_max_attempts": 1, "mode": "standard"},
                      read_timeout=1, connect_timeout=10)
AUTH = ("AWS4-HMAC-SHA256 Credential=testing/20240101/us-east-1/%s/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=00")


def wait_for(pred, timeout=30.0):
    """pred()'s first true value, polled until timeout (a hang guard); else None."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.02)
    return None


def uniq(prefix):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:10])


def tiny_zip():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("index.py", "def handler(event, context):\n    return event\n")
    return buf.getvalue()


class ProxyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.moto = Moto.shared()
        cls.proxy = FaultProxy(cls.moto.endpoint).start()

    @classmethod
    def tearDownClass(cls):
        cls.proxy.stop()

    def setUp(self):
        self.proxy.reset()

    def client(self, service, config=ONE_SHOT):
        return boto3.client(service, region_name=REGION, endpoint_url=self.proxy.endpoint,
                            aws_access_key_id="testing", aws_secret_access_key="testing",
                            config=config)

    def control(self, method, what, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.proxy.endpoint + "/__proxy/" + what, data=data,
                                     method=method)
        with urllib.request.urlopen(req, timeout=5) as r:
            return json.loads(r.read())


class TestCounting(ProxyTest):
    def test_dynamodb_and_streams(self):
        ddb = self.client("dynamodb")
        name = uniq("tbl")
        ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                         KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                         StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})
        for i in range(3):
            ddb.put_item(TableName=name, Item={"pk": {"S": "k%d" % i}})
        ddb.get_item(TableName=name, Key={"pk": {"S": "k0"}})
        ddb.get_item(TableName=name, Key={"pk": {"S": "k1"}})
        ddb.update_item(TableName=name, Key={"pk": {"S": "k2"}},
                        UpdateExpression="SET v = :v", ExpressionAttributeValues={":v": {"N": "1"}})
        arn = ddb.describe_table(TableName=name)["Table"]["LatestStreamArn"]
        streams = self.client("dynamodbstreams")
        streams.list_streams(TableName=name)
        streams.describe_stream(StreamArn=arn)
        self.assertEqual(self.proxy.counts(), {
            "dynamodb:CreateTable": 1, "dynamodb:PutItem": 3, "dynamodb:GetItem": 2,
            "dynamodb:UpdateItem": 1, "dynamodb:DescribeTable": 1,
            "dynamodbstreams:ListStreams": 1, "dynamodbstreams:DescribeStream": 1})
        self.assertEqual(self.proxy.mutating_counts(), {
            "dynamodb:CreateTable": 1, "dynamodb:PutItem": 3, "dynamodb:UpdateItem": 1})

    def test_sqs(self):
        sqs = self.client("sqs")
        url = sqs.create_queue(QueueName=uniq("q"))["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody="a")
        sqs.send_message(QueueUrl=url, MessageBody="b")
        sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "40"})
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
        sqs.list_queues()
        sqs.purge_queue(QueueUrl=url)
        sqs.delete_queue(QueueUrl=url)
        self.assertEqual(self.proxy.counts(), {
            "sqs:CreateQueue": 1, "sqs:SendMessage": 2, "sqs:ReceiveMessage": 1,
            "sqs:SetQueueAttributes": 1, "sqs:GetQueueAttributes": 1, "sqs:ListQueues": 1,
            "sqs:PurgeQueue": 1, "sqs:DeleteQueue": 1})
        self.assertEqual(self.proxy.mutating_counts(), {
            "sqs:CreateQueue": 1, "sqs:SendMessage": 2, "sqs:SetQueueAttributes": 1,
            "sqs:PurgeQueue": 1, "sqs:DeleteQueue": 1})
        log = self.proxy.log()
        self.assertEqual([(e["service"], e["operation"], e["status"], e["fault"]) for e in log[:2]],
                         [("sqs", "CreateQueue", 200, None), ("sqs", "SendMessage", 200, None)])
        self.assertTrue(all(isinstance(e["time"], float) for e in log))

    def test_lambda(self):
        role = self.moto.role_arn()
        queue_arn = self.moto.client("sqs").get_queue_attributes(   # direct: not counted
            QueueUrl=self.moto.client("sqs").create_queue(QueueName=uniq("lq"))["QueueUrl"],
            AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        lam = self.client("lambda")
        name = uniq("fn")
        fn_arn = lam.create_function(FunctionName=name, Runtime="python3.12", Role=role,
                                     Handler="index.handler", Code={"ZipFile": tiny_zip()})["FunctionArn"]
        lam.get_function(FunctionName=name)
        lam.get_function_configuration(FunctionName=name)
        lam.list_functions()
        lam.update_function_configuration(FunctionName=name, Timeout=10)
        lam.update_function_code(FunctionName=name, ZipFile=tiny_zip())
        lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=2)
        lam.get_function_concurrency(FunctionName=name)
        lam.delete_function_concurrency(FunctionName=name)
        uuid_ = lam.create_event_source_mapping(EventSourceArn=queue_arn, FunctionName=name,
                                                BatchSize=5)["UUID"]
        lam.list_event_source_mappings(FunctionName=name)
        lam.get_event_source_mapping(UUID=uuid_)
        lam.update_event_source_mapping(UUID=uuid_, BatchSize=6)
        lam.delete_event_source_mapping(UUID=uuid_)
        lam.tag_resource(Resource=fn_arn, Tags={"team": "a"})
        lam.list_tags(Resource=fn_arn)
        lam.untag_resource(Resource=fn_arn, TagKeys=["team"])
        with self.assertRaises(bce.ClientError) as cm:    # moto 5.2.1 lacks this route: 404
            lam.get_account_settings()
        self.assertEqual(cm.exception.response["ResponseMetadata"]["HTTPStatusCode"], 404)
        lam.publish_layer_version(LayerName=uniq("layer"), Content={"ZipFile": tiny_zip()})
        lam.delete_function(FunctionName=name)
        self.assertEqual(self.proxy.counts(), {
            "lambda:CreateFunction": 1, "lambda:GetFunction": 1,
            "lambda:GetFunctionConfiguration": 1, "lambda:ListFunctions": 1,
            "lambda:UpdateFunctionConfiguration": 1, "lambda:UpdateFunctionCode": 1,
            "lambda:PutFunctionConcurrency": 1, "lambda:GetFunctionConcurrency": 1,
            "lambda:DeleteFunctionConcurrency": 1, "lambda:CreateEventSourceMapping": 1,
            "lambda:ListEventSourceMappings": 1, "lambda:GetEventSourceMapping": 1,
            "lambda:UpdateEventSourceMapping": 1, "lambda:DeleteEventSourceMapping": 1,
            "lambda:TagResource": 1, "lambda:ListTags": 1, "lambda:UntagResource": 1,
            "lambda:GetAccountSettings": 1, "lambda:PublishLayerVersion": 1,
            "lambda:DeleteFunction": 1})
        self.assertEqual(sum(self.proxy.mutating_counts().values()), 12)
        self.assertTrue(all(e["status"] in (200, 201, 202, 204) for e in self.proxy.log()
                            if e["operation"] != "GetAccountSettings"), self.proxy.log())

    def test_s3(self):
        s3 = self.client("s3")
        bucket = uniq("bkt")
        s3.create_bucket(Bucket=bucket)
        s3.head_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key="dir/a.txt", Body=b"hello")
        head = s3.head_object(Bucket=bucket, Key="dir/a.txt")
        self.assertEqual(head["ContentLength"], 5)   # HEAD keeps the upstream length
        self.assertEqual(s3.get_object(Bucket=bucket, Key="dir/a.txt")["Body"].read(), b"hello")
        s3.copy_object(Bucket=bucket, Key="dir/b.txt", CopySource={"Bucket": bucket, "Key": "dir/a.txt"})
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
        self.assertEqual(keys, ["dir/a.txt", "dir/b.txt"])
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        s3.delete_object(Bucket=bucket, Key="dir/b.txt")
        s3.list_buckets()
        self.assertEqual(self.proxy.counts(), {
            "s3:CreateBucket": 1, "s3:HeadBucket": 1, "s3:PutObject": 1, "s3:HeadObject": 1,
            "s3:GetObject": 1, "s3:CopyObject": 1, "s3:ListObjectsV2": 1,
            "s3:PutBucketVersioning": 1, "s3:DeleteObject": 1, "s3:ListBuckets": 1})

    def test_sns(self):
        sns = self.client("sns")
        arn = sns.create_topic(Name=uniq("t"))["TopicArn"]
        sns.publish(TopicArn=arn, Message="one")
        sns.publish(TopicArn=arn, Message="two")
        sns.list_topics()
        sns.get_topic_attributes(TopicArn=arn)
        sns.delete_topic(TopicArn=arn)
        self.assertEqual(self.proxy.counts(), {
            "sns:CreateTopic": 1, "sns:Publish": 2, "sns:ListTopics": 1,
            "sns:GetTopicAttributes": 1, "sns:DeleteTopic": 1})
        self.assertEqual(self.proxy.mutating_counts(), {
            "sns:CreateTopic": 1, "sns:Publish": 2, "sns:DeleteTopic": 1})


class TestFaults(ProxyTest):
    def setUp(self):
        super().setUp()
        self.sqs = self.client("sqs")
        self.url = self.moto.client("sqs").create_queue(QueueName=uniq("fq"))["QueueUrl"]

    def attrs(self):
        return self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["All"])

    def test_status_429_throttle_not_forwarded(self):
        ddb = self.client("dynamodb")
        name = uniq("ft")
        self.moto.client("dynamodb").create_table(
            TableName=name, BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
        self.proxy.add_rule({"match": {"service": "dynamodb", "operation": "PutItem"},
                             "action": {"status": 429}})
        with self.assertRaises(bce.ClientError) as cm:
            ddb.put_item(TableName=name, Item={"pk": {"S": "a"}})
        err = cm.exception.response
        self.assertEqual(err["Error"]["Code"], "ThrottlingException")
        self.assertEqual(err["ResponseMetadata"]["HTTPStatusCode"], 429)
        # answered by the proxy: moto never saw the item
        self.assertNotIn("Item", self.moto.client("dynamodb").get_item(
            TableName=name, Key={"pk": {"S": "a"}}))
        ddb.put_item(TableName=name, Item={"pk": {"S": "a"}})   # times=1: next one passes
        self.assertEqual(self.proxy.counts(), {"dynamodb:PutItem": 2})
        self.assertEqual([(e["status"], e["fault"]) for e in self.proxy.log()],
                         [(429, "status"), (200, None)])

    def test_status_400_lambda_error_type_header(self):
        self.proxy.add_rule({"match": {"service": "lambda"}, "action": {"status": 400}})
        with self.assertRaises(bce.ClientError) as cm:
            self.client("lambda").list_functions()
        self.assertEqual(cm.exception.response["Error"]["Code"], "ThrottlingException")
        self.assertEqual(cm.exception.response["ResponseMetadata"]["HTTPStatusCode"], 400)

    def test_status_500_503_and_custom(self):
        self.proxy.add_rules([
            {"action": {"status": 500}},
            {"action": {"status": 503}},
            {"action": {"status": 400, "headers": {"x-amzn-ErrorType": "ResourceConflictException"},
                        "body": '{"__type":"ResourceConflictException","message":"busy"}'}}])
        for status, code in ((500, "500"), (503, "503"), (400, "ResourceConflictException")):
            with self.assertRaises(bce.ClientError) as cm:
                self.attrs()
            self.assertEqual(cm.exception.response["ResponseMetadata"]["HTTPStatusCode"], status)
            self.assertEqual(cm.exception.response["Error"]["Code"], code)
        self.attrs()
        self.assertEqual([e["status"] for e in self.proxy.log()], [500, 503, 400, 200])

    def test_reset_boto3(self):
        self.proxy.add_rule({"action": {"reset": True}})
        with self.assertRaises(bce.ConnectionClosedError):
            self.attrs()
        self.attrs()
        self.assertEqual([(e["status"], e["fault"]) for e in self.proxy.log()],
                         [(None, "reset"), (200, None)])

    def test_reset_sends_rst(self):
        self.proxy.add_rule({"action": {"reset": True}})
        with socket.create_connection(("127.0.0.1", self.proxy.port), timeout=5) as s:
            s.sendall(b"GET /x HTTP/1.1\r\nHost: a\r\nAuthorization: " + (AUTH % "sqs").encode()
                      + b"\r\n\r\n")
            with self.assertRaises(ConnectionResetError):
                s.recv(100)

    def test_stall_hits_read_timeout(self):
        # Judged from the proxy's record: the client (read_timeout 1 s) hung
        # up after at least its timeout and well before the 10 s stall ended.
        self.proxy.add_rule({"match": {"operation": "GetQueueAttributes"}, "action": {"stall": 10}})
        with self.assertRaises(bce.ReadTimeoutError):
            self.client("sqs", STALL_CLIENT).get_queue_attributes(QueueUrl=self.url, AttributeNames=["All"])
        entry = wait_for(lambda: next((e for e in self.proxy.log() if "client_closed" in e), None))
        self.assertIsNotNone(entry, self.proxy.log())
        held = entry["client_closed"] - entry["time"]
        self.assertGreaterEqual(held, 0.9)
        self.assertLess(held, 10)
        self.assertEqual((entry["fault"], entry["status"]), ("stall", None))

    def test_delay_still_answers(self):
        self.proxy.add_rule({"action": {"delay": 0.4}})
        t0 = time.monotonic()
        self.attrs()
        self.assertGreaterEqual(time.monotonic() - t0, 0.4)
        entry = self.proxy.log()[0]
        self.assertEqual((entry["fault"], entry["status"]), ("delay", 200))
        self.assertGreaterEqual(entry["answered"] - entry["time"], 0.4)
        self.assertNotIn("client_closed", entry)     # the client waited for it

    def test_truncate(self):
        self.proxy.add_rule({"action": {"truncate": True}})
        with self.assertRaises(bce.HTTPClientError):
            self.attrs()
        # raw view: the promised length is longer than what arrives before EOF
        self.proxy.add_rule({"action": {"truncate": True}})
        conn = http.client.HTTPConnection("127.0.0.1", self.proxy.port, timeout=5)
        conn.request("POST", "/", body=b"Action=ListQueues",
                     headers={"Authorization": AUTH % "sqs",
                              "Content-Type": "application/x-www-form-urlencoded"})
        resp = conn.getresponse()
        self.assertEqual(resp.status, 200)
        with self.assertRaises(http.client.IncompleteRead):
            resp.read()
        conn.close()

    def test_garbage(self):
        self.proxy.add_rule({"action": {"garbage": "\x00\x01 not http\r\n\r\n"}})
        with self.assertRaises(bce.HTTPClientError):
            self.attrs()
        self.proxy.add_rule({"action": {"garbage": "XYZ"}})
        with socket.create_connection(("127.0.0.1", self.proxy.port), timeout=5) as s:
            s.sendall(b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n")
            got = b""
            while True:
                chunk = s.recv(100)
                if not chunk:
                    break
                got += chunk
        self.assertEqual(got, b"XYZ")

    def test_times_and_skip(self):
        self.proxy.add_rule({"match": {"service": "sqs", "operation": "GetQueueAttributes"},
                             "skip": 1, "times": 2, "action": {"status": 503}})
        outcome = []
        for _ in range(5):
            try:
                self.attrs()
                outcome.append("ok")
            except bce.ClientError:
                outcome.append("fail")
        self.assertEqual(outcome, ["ok", "fail", "fail", "ok", "ok"])
        self.assertEqual(self.proxy.counts(), {"sqs:GetQueueAttributes": 5})
        rule = self.proxy.rules()[0]
        self.assertEqual((rule["seen"], rule["fired"]), (5, 2))

    def test_match_filters_and_forever(self):
        self.proxy.add_rule({"match": {"operation": "SendMessage"}, "times": -1,
                             "action": {"status": 500}})
        for _ in range(3):
            with self.assertRaises(bce.ClientError):
                self.sqs.send_message(QueueUrl=self.url, MessageBody="x")
        self.attrs()   # other operations pass
        self.proxy.reset()
        self.assertEqual(self.proxy.counts(), {})
        self.assertEqual(self.proxy.log(), [])
        self.assertEqual(self.proxy.rules(), [])
        self.sqs.send_message(QueueUrl=self.url, MessageBody="x")   # rule gone
        self.assertEqual(self.proxy.counts(), {"sqs:SendMessage": 1})

    def test_match_path_contains(self):
        # path_contains narrows a rule to one resource; other paths pass untouched.
        s3 = self.client("s3")
        bucket = uniq("pbkt")
        s3.create_bucket(Bucket=bucket)
        for k in ("fa/code.zip", "fb/code.zip"):
            s3.put_object(Bucket=bucket, Key=k, Body=b"x")
        self.proxy.add_rule({"match": {"operation": "GetObject", "path_contains": "/fa/"},
                             "times": -1, "action": {"status": 503}})
        with self.assertRaises(bce.ClientError) as cm:
            s3.get_object(Bucket=bucket, Key="fa/code.zip")
        self.assertEqual(cm.exception.response["ResponseMetadata"]["HTTPStatusCode"], 503)
        self.assertEqual(s3.get_object(Bucket=bucket, Key="fb/code.zip")["Body"].read(), b"x")
        rule = self.proxy.rules()[0]
        self.assertEqual((rule["seen"], rule["fired"]), (1, 1))
        with self.assertRaises(ValueError):
            self.proxy.add_rule({"match": {"path_contains": 3}, "action": {"status": 500}})

    def test_first_active_rule_wins(self):
        self.proxy.add_rules([{"match": {"service": "sqs"}, "action": {"status": 503}},
                              {"match": {"service": "sqs"}, "action": {"status": 500}}])
        codes = []
        for _ in range(3):
            try:
                self.attrs()
                codes.append(200)
            except bce.ClientError as e:
                codes.append(e.response["ResponseMetadata"]["HTTPStatusCode"])
        self.assertEqual(codes, [503, 500, 200])

    def test_bad_rules_rejected(self):
        for bad in ({"action": {}}, {"action": {"status": 429, "reset": True}},
                    {"match": {"svc": "sqs"}, "action": {"reset": True}},
                    {"times": -2, "action": {"reset": True}}, {"action": {"stall": "x"}},
                    {"action": {"corrupt_body": False}},
                    {"action": {"corrupt_body": True, "rehash": 1}},
                    {"action": {"reset": True, "rehash": True}}):
            with self.assertRaises(ValueError, msg=bad):
                self.proxy.add_rule(bad)
        self.assertEqual(self.proxy.rules(), [])

    def test_corrupt_body_s3(self):
        # moto trusts the signed x-amz-content-sha256 header and stores what
        # arrives: the stored object shows exactly which byte the proxy flipped.
        bucket = uniq("cb")
        self.moto.client("s3").create_bucket(Bucket=bucket)
        data = b"\x00\x01binary-Data\xff\x10"
        self.proxy.add_rule({"match": {"operation": "PutObject"}, "action": {"corrupt_body": True}})
        self.client("s3").put_object(Bucket=bucket, Key="k", Body=data)
        # boto3 would check the CRC it sent along and refuse the corrupted object
        s3 = boto3.client("s3", region_name=REGION, endpoint_url=self.moto.endpoint,
                          aws_access_key_id="testing", aws_secret_access_key="testing",
                          config=Config(response_checksum_validation="when_required"))
        got = s3.get_object(Bucket=bucket, Key="k")["Body"].read()
        at = data.rindex(b"a")           # the last ASCII letter changes case
        self.assertEqual(got, data[:at] + b"A" + data[at + 1:])
        entry = self.proxy.log()[0]
        self.assertEqual((entry["fault"], entry["corrupted_at"], entry["status"]),
                         ("corrupt_body", at, 200))

    def test_corrupt_function(self):
        self.assertEqual(awsproxy.corrupt(b""), (b"", None))
        self.assertEqual(awsproxy.corrupt(b"{}"), (b"{|", 1))          # no letter: last byte ^ 1
        self.assertEqual(awsproxy.corrupt(b'{"a":"xyz"}'), (b'{"a":"xyZ"}', 8))
        self.assertEqual(awsproxy.corrupt(b"Action=ListQueues&V=2012-11-05"),
                         (b"Action=ListQueues&v=2012-11-05", 18))

    def test_corrupt_body_rehash(self):
        # An upstream that reports what it received shows the re-computed header.
        import hashlib
        import http.server
        import threading

        class Echo(http.server.BaseHTTPRequestHandler):
            def do_PUT(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                out = json.dumps({"body": body.decode("latin-1"),
                                  "sha": self.headers.get("x-amz-content-sha256")}).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *a):
                pass

        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Echo)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        proxy = FaultProxy("http://127.0.0.1:%d" % srv.server_address[1]).start()
        try:
            sent = b"hello world"
            sha = hashlib.sha256(sent).hexdigest()
            seen = []
            for action in ({"corrupt_body": True}, {"corrupt_body": True, "rehash": True}):
                proxy.add_rule({"action": action})
                conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=5)
                conn.request("PUT", "/b/k", body=sent, headers={
                    "Authorization": AUTH % "s3", "x-amz-content-sha256": sha})
                seen.append(json.loads(conn.getresponse().read()))
                conn.close()
            self.assertEqual(seen[0], {"body": "hello worlD", "sha": sha})
            self.assertEqual(seen[1], {"body": "hello worlD",
                                       "sha": hashlib.sha256(b"hello worlD").hexdigest()})
        finally:
            proxy.stop()
            srv.shutdown()
            srv.server_close()


class TestControlApi(ProxyTest):
    def test_http_control(self):
        self.assertEqual(self.control("POST", "rules", [{"match": {"service": "sqs"},
                                                        "action": {"status": 429}}])["rules"], 1)
        self.control("POST", "rules", {"action": {"delay": 0}})   # a single rule is accepted
        self.assertEqual(len(self.control("GET", "rules")), 2)
        sqs = self.client("sqs")
        with self.assertRaises(bce.ClientError):
            sqs.list_queues()
        sqs.list_queues()
        self.assertEqual(self.control("GET", "counts"), {"sqs:ListQueues": 2})
        self.assertEqual(self.control("GET", "mutating"), {})
        log = self.control("GET", "log")
        self.assertEqual([(e["operation"], e["status"], e["fault"]) for e in log],
                         [("ListQueues", 429, "status"), ("ListQueues", 200, "delay")])
        with self.assertRaises(urllib.error.HTTPError) as cm:
            self.control("POST", "rules", [{"action": {"bogus": 1}}])
        self.assertEqual(cm.exception.code, 400)
        with self.assertRaises(urllib.error.HTTPError) as cm:
            self.control("GET", "nope")
        self.assertEqual(cm.exception.code, 404)
        self.control("POST", "reset")
        self.assertEqual(self.control("GET", "counts"), {})
        self.assertEqual(self.control("GET", "rules"), [])

    def test_keepalive_and_verbatim_forwarding(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.proxy.port, timeout=5)
        socks = []
        for _ in range(3):
            # moto routes by the credential scope, so a DynamoDB answer proves the
            # Authorization header and X-Amz-Target went through unchanged.
            conn.request("POST", "/", body=b"{}", headers={
                "Authorization": AUTH % "dynamodb", "X-Amz-Target": "DynamoDB_20120810.ListTables",
                "Content-Type": "application/x-amz-json-1.0"})
            resp = conn.getresponse()
            self.assertEqual(resp.status, 200)
            self.assertIn("TableNames", json.loads(resp.read()))
            self.assertIsNone(resp.getheader("Connection"))
            socks.append(conn.sock)
        self.assertIs(socks[0], socks[2])   # one TCP connection for all three
        conn.close()
        self.assertEqual(self.proxy.counts(), {"dynamodb:ListTables": 3})

    def test_cli(self):
        here = os.path.dirname(os.path.abspath(__file__))
        p = subprocess.Popen([sys.executable, os.path.join(here, "awsproxy.py"),
                              "--upstream", self.moto.endpoint, "--port", "0"],
                             stdout=subprocess.PIPE, text=True)
        try:
            endpoint = p.stdout.readline().strip()
            self.assertRegex(endpoint, r"^http://127\.0\.0\.1:\d+$")
            sqs = boto3.client("sqs", region_name=REGION, endpoint_url=endpoint,
                               aws_access_key_id="testing", aws_secret_access_key="testing",
                               config=ONE_SHOT)
            sqs.list_queues()
            with urllib.request.urlopen(endpoint + "/__proxy/counts", timeout=5) as r:
                self.assertEqual(json.loads(r.read()), {"sqs:ListQueues": 1})
        finally:
            p.terminate()
            self.assertEqual(p.wait(10), 0)
            p.stdout.close()


class TestClassify(unittest.TestCase):
    def lam(self, method, path):
        return classify(method, path, {"Authorization": AUTH % "lambda"})

    def test_lambda_routes(self):
        cases = [
            ("POST", "/2015-03-31/functions", "CreateFunction"),
            ("GET", "/2015-03-31/functions/", "ListFunctions"),
            ("GET", "/2015-03-31/functions/?MaxItems=50", "ListFunctions"),
            ("GET", "/2015-03-31/functions/fn-a", "GetFunction"),
            ("GET", "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A1%3Afunction%3Afn",
             "GetFunction"),
            ("GET", "/2015-03-31/functions/fn-a/configuration", "GetFunctionConfiguration"),
            ("PUT", "/2015-03-31/functions/fn-a/configuration", "UpdateFunctionConfiguration"),
            ("PUT", "/2015-03-31/functions/fn-a/code", "UpdateFunctionCode"),
            ("DELETE", "/2015-03-31/functions/fn-a", "DeleteFunction"),
            ("PUT", "/2017-10-31/functions/fn-a/concurrency", "PutFunctionConcurrency"),
            ("DELETE", "/2017-10-31/functions/fn-a/concurrency", "DeleteFunctionConcurrency"),
            ("GET", "/2019-09-30/functions/fn-a/concurrency", "GetFunctionConcurrency"),
            ("POST", "/2015-03-31/event-source-mappings/", "CreateEventSourceMapping"),
            ("GET", "/2015-03-31/event-source-mappings/?FunctionName=fn", "ListEventSourceMappings"),
            ("GET", "/2015-03-31/event-source-mappings/1234-ab", "GetEventSourceMapping"),
            ("PUT", "/2015-03-31/event-source-mappings/1234-ab", "UpdateEventSourceMapping"),
            ("DELETE", "/2015-03-31/event-source-mappings/1234-ab", "DeleteEventSourceMapping"),
            ("GET", "/2017-03-31/tags/arn:aws:lambda:us-east-1:1:function:fn", "ListTags"),
            ("POST", "/2017-03-31/tags/arn:aws:lambda:us-east-1:1:function:fn", "TagResource"),
            ("DELETE", "/2017-03-31/tags/arn:aws:lambda:us-east-1:1:function:fn?tagKeys=a",
             "UntagResource"),
            ("GET", "/2016-08-19/account-settings/", "GetAccountSettings"),
            ("POST", "/2018-10-31/layers/lay/versions", "PublishLayerVersion"),
            ("POST", "/2015-03-31/functions/fn-a/invocations", "Invoke"),
            ("GET", "/2020-01-01/functions/fn-a/odd", "GET /2020-01-01/functions/{}/odd"),
        ]
        for method, path, op in cases:
            self.assertEqual(self.lam(method, path), ("lambda", op), (method, path))

    def test_s3_names(self):
        h = {"Authorization": AUTH % "s3"}
        cases = [("GET", "/", "ListBuckets"), ("PUT", "/b", "CreateBucket"),
                 ("HEAD", "/b", "HeadBucket"), ("DELETE", "/b", "DeleteBucket"),
                 ("GET", "/b?list-type=2&prefix=a", "ListObjectsV2"), ("GET", "/b", "ListObjects"),
                 ("PUT", "/b?versioning", "PutBucketVersioning"),
                 ("PUT", "/b?notification", "PutBucketNotificationConfiguration"),
                 ("POST", "/b?delete", "DeleteObjects"),
                 ("GET", "/b/k/x.txt", "GetObject"), ("PUT", "/b/k", "PutObject"),
                 ("HEAD", "/b/k", "HeadObject"), ("DELETE", "/b/k", "DeleteObject"),
                 ("POST", "/b/k?uploads", "CreateMultipartUpload"),
                 ("PUT", "/b/k?partNumber=1&uploadId=u", "UploadPart"),
                 ("POST", "/b/k?uploadId=u", "CompleteMultipartUpload"),
                 ("GET", "/b/k?tagging", "GetObjectTagging")]
        for method, path, op in cases:
            self.assertEqual(classify(method, path, h), ("s3", op), (method, path))
        self.assertEqual(classify("PUT", "/b/k", dict(h, **{"X-Amz-Copy-Source": "/b/j"})),
                         ("s3", "CopyObject"))
        self.assertEqual(classify("GET", "/b/k", {}), ("s3", "GetObject"))   # unsigned -> s3

    def test_targets_and_actions(self):
        self.assertEqual(classify("POST", "/", {"authorization": AUTH % "dynamodb",
                                                "x-amz-target": "DynamoDBStreams_20120810.GetRecords"}),
                         ("dynamodbstreams", "GetRecords"))
        self.assertEqual(classify("POST", "/", {"Authorization": AUTH % "dynamodb",
                                                "X-Amz-Target": "DynamoDB_20120810.Query"}),
                         ("dynamodb", "Query"))
        self.assertEqual(classify("POST", "/", {"Authorization": AUTH % "sns",
                                                "Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
                                  b"Action=Publish&Version=2010-03-31"), ("sns", "Publish"))
        self.assertEqual(classify("GET", "/?Action=GetCallerIdentity&Version=2011-06-15",
                                  {"Authorization": AUTH % "sts"}), ("sts", "GetCallerIdentity"))
        self.assertEqual(classify("POST", "/", {"Authorization": AUTH % "iam"}), ("iam", "POST /"))

    def test_mutating_prefixes(self):
        for op in ("CreateQueue", "UpdateItem", "PutItem", "DeleteTable", "TagResource",
                   "UntagResource", "SetQueueAttributes", "PublishLayerVersion", "AddPermission",
                   "RemovePermission", "SendMessage", "PurgeQueue", "StartExecution"):
            self.assertTrue(awsproxy.is_mutating(op), op)
        for op in ("GetItem", "ListQueues", "DescribeTable", "ReceiveMessage", "Invoke", "PUT s3"):
            self.assertFalse(awsproxy.is_mutating(op), op)


if __name__ == "__main__":
    unittest.main()
