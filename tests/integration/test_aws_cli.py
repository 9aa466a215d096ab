"""Integration tests of the AWS client through `taskpipe aws ...` against moto
behind the fault-injecting proxy (awsproxy.py): which answers are retried and
how often (counted from the proxy's log), backoff, timeouts, the retry quota,
x-amz-retry-after, bad answers (both the static binary and the sanitizer
build), bad settings and input, and the happy paths of each service checked
with boto3 directly against moto.

Retry facts asserted here (docs/commands.md "taskpipe aws", src/base/retry.h): standard mode, 3 attempts
(DynamoDB 4), AWS_MAX_ATTEMPTS overrides; a throttle of any service 8 attempts
without the retry quota; throttling backoff base 1 s,
transient 50 ms (DynamoDB 25 ms), full jitter; retry quota
TASKPIPE_RETRY_QUOTA tokens, a retry costs 5, an I/O error or timeout 10;
answers capped at 10 MiB.
"""
import hashlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Moto, ROOT, TASKPIPE, run_taskpipe  # noqa: E402
from awsproxy import FaultProxy  # noqa: E402

DEBUG_BIN = os.environ.get("TASKPIPE_DEBUG_BIN", os.path.join(ROOT, "taskpipe-debug"))
BINARIES = (("static", TASKPIPE), ("debug", DEBUG_BIN))

MAX_RESPONSE = 10 << 20      # src/aws/aws.c AWS_MAX_RESPONSE
RETRY_COST, IO_COST = 5, 10  # src/base/retry.c COST_RETRY, COST_TIMEOUT
FUNCTIONS = "/2015-03-31/functions/"


def uniq(prefix):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:10])


def http_answer(status, body, ctype="application/x-amz-json-1.0", chunked=False):
    """A hand-written HTTP/1.1 answer for the proxy's garbage action."""
    if isinstance(body, bytes):
        body = body.decode("latin-1")
    head = "HTTP/1.1 %d X\r\nContent-Type: %s\r\nConnection: close\r\n" % (status, ctype)
    if chunked:
        return head + "Transfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    return head + "Content-Length: %d\r\n\r\n%s" % (len(body), body)


def error_of(r):
    """The {"error": {...}} object taskpipe printed as the last line of stderr."""
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith('{"error"')]
    if not lines:
        raise AssertionError("no error JSON on stderr: %r" % r.stderr[-500:])
    return json.loads(lines[-1])["error"]


class AwsCliTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.moto = Moto.shared()
        cls.proxy = FaultProxy(cls.moto.endpoint).start()

    @classmethod
    def tearDownClass(cls):
        cls.proxy.stop()

    def setUp(self):
        self.proxy.reset()

    def env(self, **extra):
        return self.moto.env(AWS_ENDPOINT_URL=self.proxy.endpoint, **extra)

    def tp(self, *args, binary=None, env=None, **extra):
        r = run_taskpipe(["aws"] + list(args), env or self.env(**extra), timeout=60, binary=binary)
        # Whatever happened, never a sanitizer report or a crash.
        self.assertNotIn("runtime error", r.stderr)
        self.assertNotIn("Sanitizer", r.stderr)
        self.assertGreaterEqual(r.returncode, 0, "killed by a signal: %s" % r.stderr[-500:])
        return r

    def ok(self, *args, **kw):
        r = self.tp(*args, **kw)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r

    def fails(self, *args, code=None, status=None, rc=1, **kw):
        r = self.tp(*args, **kw)
        self.assertEqual(r.returncode, rc, "stdout=%r stderr=%r" % (r.stdout[:200], r.stderr[-500:]))
        self.assertEqual(r.stdout, "")
        if rc == 1:
            err = error_of(r)
            if code is not None:
                self.assertEqual(err["code"], code, err)
            if status is not None:
                self.assertEqual(err.get("status"), status, err)
            return err
        return r

    def requests(self, operation=None):
        """(status, fault) of each proxied request, optionally of one operation."""
        return [(e["status"], e["fault"]) for e in self.proxy.log()
                if operation is None or e["operation"] == operation]

    def gaps(self):
        """Seconds from each answer to the next request, as the proxy saw them:
        the client's backoff (plus its reconnect), no client stopwatch."""
        log = self.proxy.log()
        return [b["time"] - a["answered"] for a, b in zip(log, log[1:])]

    def closed(self, n):
        """The proxy's log once n stalled requests have their client_closed."""
        end = time.monotonic() + 30     # a hang guard, not a measure
        while time.monotonic() < end:
            log = self.proxy.log()
            if sum(1 for e in log if "client_closed" in e) >= n:
                return log
            time.sleep(0.02)
        self.fail("the proxy saw %d hang-ups, not %d: %s" % (
            sum(1 for e in self.proxy.log() if "client_closed" in e), n, self.proxy.log()))

    def rule(self, service, operation, action, times=-1, skip=0):
        self.proxy.add_rule({"match": {"service": service, "operation": operation},
                             "times": times, "skip": skip, "action": action})


class TestThrottling(AwsCliTest):
    # retry-after keeps these fast; the plain throttle backoff is covered in
    # test_lambda_429_forever_backoff_bounds.
    FAST = {"x-amz-retry-after": "20"}

    def test_dynamodb_throttle_twice_then_success(self):
        self.rule("dynamodb", "ListTables", {"status": 400, "headers": self.FAST}, times=2)
        r = self.ok("dynamodb", "ListTables", "{}", AWS_MAX_ATTEMPTS=3)
        self.assertIn("TableNames", json.loads(r.stdout))
        self.assertEqual(self.requests(), [(400, "status"), (400, "status"), (200, None)])

    def test_dynamodb_throttle_forever_max_attempts_3(self):
        self.rule("dynamodb", "ListTables", {"status": 400, "headers": self.FAST})
        err = self.fails("dynamodb", "ListTables", "{}", AWS_MAX_ATTEMPTS=3,
                         code="ThrottlingException", status=400)
        self.assertEqual(err["message"], "Rate exceeded")
        self.assertEqual(self.requests(), [(400, "status")] * 3)

    def test_dynamodb_throttle_default_is_8_attempts(self):
        # A throttle of any service backs off and gets 8 tries (issue 23), not
        # the standard 4 (DynamoDB) / 3; AWS_MAX_ATTEMPTS still caps it.
        self.rule("dynamodb", "ListTables", {"status": 400, "headers": self.FAST})
        self.fails("dynamodb", "ListTables", "{}", code="ThrottlingException")
        self.assertEqual(len(self.requests()), 8)

    def test_sqs_throttle_twice_then_success_and_forever(self):
        self.rule("sqs", "ListQueues", {"status": 400, "headers": self.FAST}, times=2)
        self.ok("sqs", "ListQueues", "{}", AWS_MAX_ATTEMPTS=3)
        self.assertEqual(self.requests(), [(400, "status"), (400, "status"), (200, None)])
        self.proxy.reset()
        self.rule("sqs", "ListQueues", {"status": 400, "headers": self.FAST})
        self.fails("sqs", "ListQueues", "{}", AWS_MAX_ATTEMPTS=3, code="ThrottlingException")
        self.assertEqual(len(self.requests()), 3)
        self.proxy.reset()   # a throttle's default: 8 attempts, no retry quota (issue 23)
        self.rule("sqs", "ListQueues", {"status": 400, "headers": self.FAST})
        self.fails("sqs", "ListQueues", "{}", code="ThrottlingException", TASKPIPE_RETRY_QUOTA=5)
        self.assertEqual(len(self.requests()), 8)

    def test_lambda_429_twice_then_success(self):
        self.rule("lambda", "ListFunctions", {"status": 429, "headers": self.FAST}, times=2)
        r = self.ok("lambda", "GET", FUNCTIONS, AWS_MAX_ATTEMPTS=3)
        self.assertIn("Functions", json.loads(r.stdout))
        self.assertEqual(self.requests(), [(429, "status"), (429, "status"), (200, None)])

    def test_lambda_429_forever_backoff_bounds(self):
        # No retry-after: full-jitter backoff with the 1 s throttling base, so
        # the waits are at most 1 s and 2 s.
        # Judged from the proxy's record (answer -> next request); the 0.5 s
        # margin covers the reconnect on a loaded machine.
        self.rule("lambda", "ListFunctions", {"status": 429})
        self.fails("lambda", "GET", FUNCTIONS, AWS_MAX_ATTEMPTS=3, code="ThrottlingException",
                   status=429)
        self.assertEqual(self.requests(), [(429, "status")] * 3)
        g = self.gaps()
        self.assertLess(g[0], 1.0 + 0.5, g)
        self.assertLess(g[1], 2.0 + 0.5, g)


class TestTransient(AwsCliTest):
    def test_500_html_retried(self):
        self.rule("sqs", "ListQueues", {"status": 500}, times=2)
        self.ok("sqs", "ListQueues", "{}", AWS_MAX_ATTEMPTS=3)
        self.assertEqual(self.requests(), [(500, "status"), (500, "status"), (200, None)])
        self.proxy.reset()
        self.rule("sqs", "ListQueues", {"status": 500})
        err = self.fails("sqs", "ListQueues", "{}", AWS_MAX_ATTEMPTS=3, code="Http500", status=500)
        self.assertIn("Internal Server Error", err["message"])
        self.assertNotIn("<", err["message"])      # tags stripped from the HTML
        self.assertEqual(len(self.requests()), 3)

    def test_503_empty_body_retried(self):
        self.rule("dynamodb", "ListTables", {"status": 503}, times=2)
        self.ok("dynamodb", "ListTables", "{}", AWS_MAX_ATTEMPTS=3)
        self.assertEqual(self.requests(), [(503, "status"), (503, "status"), (200, None)])
        self.proxy.reset()
        self.rule("dynamodb", "ListTables", {"status": 503})
        self.fails("dynamodb", "ListTables", "{}", AWS_MAX_ATTEMPTS=3, code="Http503", status=503)
        self.assertEqual(len(self.requests()), 3)

    def test_connection_reset_retried(self):
        self.rule("sqs", "ListQueues", {"reset": True}, times=2)
        self.ok("sqs", "ListQueues", "{}", AWS_MAX_ATTEMPTS=3)
        self.assertEqual(self.requests(), [(None, "reset"), (None, "reset"), (200, None)])
        self.proxy.reset()
        self.rule("sqs", "ListQueues", {"reset": True})
        err = self.fails("sqs", "ListQueues", "{}", AWS_MAX_ATTEMPTS=3, code="TransportError")
        self.assertIn("reset", err["message"].lower())
        self.assertEqual(len(self.requests()), 3)

    def test_stall_times_out_and_is_retried(self):
        # Judged from the proxy's record: each stalled request was given up
        # after at least the 500 ms timeout (the proxy starts its clock once
        # the request is read, so 0.4 s) and before the 10 s stall ended, and
        # the retry arrived while that stall was still going: the client
        # timed out rather than waiting for the answer.
        stall = 10
        self.rule("sqs", "ListQueues", {"stall": stall}, times=1)
        self.ok("sqs", "ListQueues", "{}", TASKPIPE_TIMEOUT_MS=500)
        log = self.closed(1)
        self.assertEqual([(e["status"], e["fault"]) for e in log], [(None, "stall"), (200, None)])
        self.check_timeouts(log, stall)

        self.proxy.reset()
        self.rule("sqs", "ListQueues", {"stall": stall})
        err = self.fails("sqs", "ListQueues", "{}", AWS_MAX_ATTEMPTS=3, TASKPIPE_TIMEOUT_MS=500,
                         code="TransportError")
        self.assertIn("Timeout", err["message"])
        log = self.closed(3)
        self.assertEqual([e["fault"] for e in log], ["stall"] * 3)
        self.check_timeouts(log, stall)

    def check_timeouts(self, log, stall):
        for e, nxt in zip(log, log[1:] + [None]):
            if e["fault"] != "stall":
                continue
            held = e["client_closed"] - e["time"]
            self.assertGreaterEqual(held, 0.4, log)
            self.assertLess(held, stall, log)
            if nxt:
                self.assertLess(nxt["time"], e["time"] + stall, log)

    def test_plain_400_not_retried(self):
        self.rule("dynamodb", "ListTables", {"status": 400, "headers": {
            "x-amzn-ErrorType": "ValidationException"},
            "body": '{"__type":"com.amazon.coral.validate#ValidationException",'
                    '"message":"bad input"}'})
        err = self.fails("dynamodb", "ListTables", "{}", code="ValidationException", status=400)
        self.assertEqual(err["message"], "bad input")
        self.assertEqual(len(self.requests()), 1)

    def test_real_moto_errors_not_retried(self):
        err = self.fails("sqs", "GetQueueUrl", json.dumps({"QueueName": uniq("missing")}),
                         code="AWS.SimpleQueueService.NonExistentQueue", status=400)
        self.assertEqual(err["message"], "The specified queue does not exist.")
        self.assertTrue(err["requestId"])
        self.assertEqual(self.requests(), [(400, None)])
        self.proxy.reset()
        self.fails("dynamodb", "GetItem", json.dumps({"TableName": uniq("missing"),
                                                      "Key": {"pk": {"S": "a"}}}),
                   code="ResourceNotFoundException", status=400)
        self.assertEqual(self.requests(), [(400, None)])

    def test_retry_quota_stops_a_storm(self):
        quota, attempts = 10, 10
        # 503: each retry costs RETRY_COST; the quota allows quota // cost retries.
        self.rule("sqs", "ListQueues", {"status": 503})
        self.fails("sqs", "ListQueues", "{}", TASKPIPE_RETRY_QUOTA=quota,
                   AWS_MAX_ATTEMPTS=attempts, code="Http503")
        self.assertEqual(len(self.requests()), 1 + quota // RETRY_COST)   # 3
        # A connection reset is an I/O error: IO_COST per retry.
        self.proxy.reset()
        self.rule("sqs", "ListQueues", {"reset": True})
        self.fails("sqs", "ListQueues", "{}", TASKPIPE_RETRY_QUOTA=quota,
                   AWS_MAX_ATTEMPTS=attempts, code="TransportError")
        self.assertEqual(len(self.requests()), 1 + quota // IO_COST)      # 2
        # Without the quota the same storm runs to AWS_MAX_ATTEMPTS.
        self.proxy.reset()
        self.rule("sqs", "ListQueues", {"status": 503, "headers": {"x-amz-retry-after": "5"}})
        self.fails("sqs", "ListQueues", "{}", AWS_MAX_ATTEMPTS=attempts, code="Http503")
        self.assertEqual(len(self.requests()), attempts)

    def test_retry_after_honoured(self):
        self.rule("sqs", "ListQueues", {"status": 503, "headers": {"x-amz-retry-after": "300"}},
                  times=1)
        self.ok("sqs", "ListQueues", "{}")
        self.assertEqual(self.requests(), [(503, "status"), (200, None)])
        # From the proxy's record: the retry came at least the 300 ms asked
        # for after the answer. The upper bound is a wide margin: it only
        # tells milliseconds from a client that read "300" as seconds.
        gap = self.gaps()[0]
        self.assertGreaterEqual(gap, 0.29)
        self.assertLess(gap, 5.0)


class TestBadAnswers(AwsCliTest):
    """Each run with the static binary and the sanitizer build."""

    def binaries(self):
        for name, binary in BINARIES:
            self.assertTrue(os.access(binary, os.X_OK), "%s binary missing: %s (make %s)" % (
                name, binary, "taskpipe" if name == "static" else "taskpipe-debug"))
        return BINARIES

    def garbage(self, text):
        self.rule("dynamodb", "ListTables", {"garbage": text})

    def test_malformed_json_200(self):
        for name, b in self.binaries():
            with self.subTest(binary=name):
                self.proxy.reset()
                self.garbage(http_answer(200, '{"TableNames": ["a", '))
                err = self.fails("dynamodb", "ListTables", "{}", binary=b, code="BadResponse")
                self.assertIn("not valid JSON", err["message"])
                self.assertEqual(len(self.requests()), 1)

    def test_truncated_body(self):
        # The answer promises more bytes than arrive: an I/O error, retried.
        for name, b in self.binaries():
            with self.subTest(binary=name):
                self.proxy.reset()
                self.rule("dynamodb", "ListTables", {"truncate": True})
                self.fails("dynamodb", "ListTables", "{}", binary=b, AWS_MAX_ATTEMPTS=3,
                           code="TransportError")
                self.assertEqual(self.requests(), [(200, "truncate")] * 3)

    def test_body_over_10_mib(self):
        big = '{"a":"%s"}' % ("x" * (MAX_RESPONSE + 1 - 8))     # MAX_RESPONSE + 1 bytes
        self.assertEqual(len(big), MAX_RESPONSE + 1)
        for name, b in self.binaries():
            with self.subTest(binary=name):
                self.proxy.reset()
                for chunked in (False, True):    # announced length, and discovered while reading
                    self.proxy.reset()
                    self.garbage(http_answer(200, big, chunked=chunked))
                    err = self.fails("dynamodb", "ListTables", "{}", binary=b, code="ResponseTooLarge")
                    self.assertIn(str(MAX_RESPONSE), err["message"])
                    self.assertEqual(len(self.requests()), 1)     # not retried

    def test_body_of_exactly_10_mib_accepted(self):
        body = '{"a":"%s"}' % ("x" * (MAX_RESPONSE - 8))
        self.assertEqual(len(body), MAX_RESPONSE)
        self.garbage(http_answer(200, body))
        r = self.ok("dynamodb", "ListTables", "{}")
        self.assertEqual(len(json.loads(r.stdout)["a"]), MAX_RESPONSE - 8)

    def test_html_200(self):
        for name, b in self.binaries():
            with self.subTest(binary=name):
                self.proxy.reset()
                self.garbage(http_answer(200, "<html><body>Welcome to nginx!</body></html>", "text/html"))
                err = self.fails("dynamodb", "ListTables", "{}", binary=b, code="BadResponse")
                self.assertIn("not valid JSON", err["message"])

    def test_wrong_content_type(self):
        # Like the SDKs, taskpipe goes by the body, not the Content-Type: a JSON
        # body labelled text/plain is used; an XML body for a JSON service fails.
        for name, b in self.binaries():
            with self.subTest(binary=name):
                self.proxy.reset()
                self.garbage(http_answer(200, '{"TableNames":["labelled-wrong"]}', "text/plain"))
                r = self.ok("dynamodb", "ListTables", "{}", binary=b)
                self.assertEqual(json.loads(r.stdout), {"TableNames": ["labelled-wrong"]})
                self.proxy.reset()
                self.garbage(http_answer(200, "<ListTablesResponse><TableNames/></ListTablesResponse>",
                                         "application/xml"))
                self.fails("dynamodb", "ListTables", "{}", binary=b, code="BadResponse")

    def test_empty_200_is_empty_object(self):
        for name, b in self.binaries():
            with self.subTest(binary=name):
                self.proxy.reset()
                self.garbage(http_answer(200, ""))
                r = self.ok("dynamodb", "ListTables", "{}", binary=b)
                self.assertEqual(json.loads(r.stdout), {})
                self.proxy.reset()
                self.rule("lambda", "ListFunctions", {"garbage": http_answer(200, "", "application/json")})
                r = self.ok("lambda", "GET", FUNCTIONS, binary=b)
                self.assertEqual(json.loads(r.stdout), {})

    def test_missing_credentials(self):
        for name, b in self.binaries():
            with self.subTest(binary=name):
                self.proxy.reset()
                env = self.env()
                for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
                    env.pop(k, None)
                self.assertEqual(env["AWS_EC2_METADATA_DISABLED"], "true")
                env["AWS_CONFIG_FILE"] = "/nonexistent/config"
                env["AWS_SHARED_CREDENTIALS_FILE"] = "/nonexistent/credentials"
                err = self.fails("dynamodb", "ListTables", "{}", binary=b, env=env, code="NoCredentials")
                self.assertIn("AWS_ACCESS_KEY_ID", err["message"])
                self.assertEqual(self.proxy.counts(), {})

    def test_unknown_service(self):
        for name, b in self.binaries():
            with self.subTest(binary=name):
                self.proxy.reset()
                r = self.fails("ec2", "DescribeInstances", "{}", binary=b, rc=2)
                self.assertIn("unknown service 'ec2'", r.stderr)
                self.assertEqual(self.proxy.counts(), {})

    def test_unknown_operation(self):
        for name, b in self.binaries():
            with self.subTest(binary=name):
                self.proxy.reset()
                # What AWS answers: 400 UnknownOperationException, not retried.
                self.rule("dynamodb", "NoSuchOperation", {"status": 400, "headers": {
                    "x-amzn-ErrorType": "UnknownOperationException"},
                    "body": '{"__type":"com.amazon.coral.service#UnknownOperationException"}'})
                self.fails("dynamodb", "NoSuchOperation", "{}", binary=b,
                           code="UnknownOperationException", status=400)
                self.assertEqual(len(self.requests()), 1)
                # What moto answers: a Python error as an HTML 500, which is retried
                # like any 500 (SQS: 3 attempts).
                self.proxy.reset()
                self.fails("sqs", "NoSuchOperation", "{}", binary=b, code="Http500", status=500)
                self.assertEqual(self.requests(), [(500, None)] * 3)

    def test_bad_endpoint_url(self):
        for name, b in self.binaries():
            with self.subTest(binary=name):
                self.proxy.reset()
                err = self.fails("dynamodb", "ListTables", "{}", binary=b,
                                 env=self.moto.env(AWS_ENDPOINT_URL="localhost:1"), code="ConfigError")
                self.assertIn("AWS_ENDPOINT_URL", err["message"])
                self.assertIn("localhost:1", err["message"])
                err = self.fails("sqs", "ListQueues", "{}", binary=b,
                                 env=self.env(AWS_ENDPOINT_URL_SQS="127.0.0.1:1"), code="ConfigError")
                self.assertIn("AWS_ENDPOINT_URL_SQS", err["message"])
                self.assertEqual(self.proxy.counts(), {})

    def test_connection_refused(self):
        with socket.socket() as s:       # a port that was free a moment ago
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        for name, b in self.binaries():
            with self.subTest(binary=name):
                self.proxy.reset()
                r = self.tp("dynamodb", "ListTables", "{}", binary=b,
                            env=self.moto.env(AWS_ENDPOINT_URL="http://127.0.0.1:%d" % port,
                                              TASKPIPE_LOG_LEVEL="DEBUG"))
                self.assertEqual(r.returncode, 1)
                err = error_of(r)
                self.assertEqual(err["code"], "TransportError")
                self.assertIn("connect", err["message"].lower())
                # DynamoDB: 4 attempts, each logged at DEBUG, 3 of them retries.
                self.assertEqual(r.stderr.count("http POST http://127.0.0.1:%d/" % port), 4)
                self.assertEqual(r.stderr.count("retry dynamodb:ListTables"), 3)

    def test_invalid_json_input_sends_nothing(self):
        for name, b in self.binaries():
            with self.subTest(binary=name):
                self.proxy.reset()
                cases = [("dynamodb", "PutItem", '{"TableName": '),
                         ("dynamodb", "ListTables", "[1, 2]"),
                         ("sqs", "SendMessage", "{not json}"),
                         ("sns", "CreateTopic", '{"Name": '),
                         ("lambda", "POST", "/2015-03-31/functions", '{"FunctionName": ')]
                for args in cases:
                    err = self.fails(*args, binary=b, code="BadInput")
                    self.assertIn("JSON", err["message"])
                self.assertEqual(self.proxy.counts(), {})


class TestHappyPaths(AwsCliTest):
    def test_dynamodb(self):
        table = uniq("tbl")
        self.ok("dynamodb", "CreateTable", json.dumps({
            "TableName": table, "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}]}))
        item = {"pk": {"S": "a"}, "n": {"N": "42"}, "s": {"S": "héllo \"q\""}}
        self.ok("dynamodb", "PutItem", json.dumps({"TableName": table, "Item": item}))
        ddb = self.moto.client("dynamodb")
        self.assertEqual(ddb.get_item(TableName=table, Key={"pk": {"S": "a"}},
                                      ConsistentRead=True)["Item"], item)
        r = self.ok("dynamodb", "GetItem", json.dumps({"TableName": table, "Key": {"pk": {"S": "a"}}}))
        self.assertEqual(json.loads(r.stdout), {"Item": item})
        self.assertEqual(self.proxy.counts(), {"dynamodb:CreateTable": 1, "dynamodb:PutItem": 1,
                                               "dynamodb:GetItem": 1})

    def test_sqs(self):
        name = uniq("q")
        r = self.ok("sqs", "CreateQueue", json.dumps({"QueueName": name}))
        url = json.loads(r.stdout)["QueueUrl"]
        sqs = self.moto.client("sqs")
        # moto builds queue URLs from the Host header: compare the paths
        self.assertEqual(urllib.parse.urlsplit(sqs.get_queue_url(QueueName=name)["QueueUrl"]).path,
                         urllib.parse.urlsplit(url).path)
        r = self.ok("sqs", "SendMessage", json.dumps({"QueueUrl": url, "MessageBody": "hi ünï"}))
        sent = json.loads(r.stdout)
        self.assertEqual(sent["MD5OfMessageBody"], hashlib.md5("hi ünï".encode()).hexdigest())
        moto_url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        self.assertEqual(sqs.get_queue_attributes(QueueUrl=moto_url, AttributeNames=[
            "ApproximateNumberOfMessages"])["Attributes"]["ApproximateNumberOfMessages"], "1")
        r = self.ok("sqs", "ReceiveMessage", json.dumps({"QueueUrl": url, "WaitTimeSeconds": 0}))
        msgs = json.loads(r.stdout)["Messages"]
        self.assertEqual([(m["Body"], m["MessageId"]) for m in msgs], [("hi ünï", sent["MessageId"])])
        self.assertEqual(self.proxy.counts(), {"sqs:CreateQueue": 1, "sqs:SendMessage": 1,
                                               "sqs:ReceiveMessage": 1})

    def test_lambda_list(self):
        names = sorted(f["FunctionName"] for f in self.moto.client("lambda").list_functions()["Functions"])
        r = self.ok("lambda", "GET", FUNCTIONS)
        self.assertEqual(sorted(f["FunctionName"] for f in json.loads(r.stdout)["Functions"]), names)
        self.assertEqual(self.proxy.counts(), {"lambda:ListFunctions": 1})

    def test_sns(self):
        name = uniq("topic")
        r = self.ok("sns", "CreateTopic", json.dumps({"Name": name}))
        self.assertIn("<CreateTopicResponse", r.stdout)
        arn = "arn:aws:sns:us-east-1:123456789012:" + name
        self.assertIn("<TopicArn>%s</TopicArn>" % arn, r.stdout)
        arns = [t["TopicArn"] for t in self.moto.client("sns").list_topics()["Topics"]]
        self.assertIn(arn, arns)
        r = self.ok("sns", "ListTopics", "{}")
        self.assertIn("<TopicArn>%s</TopicArn>" % arn, r.stdout)
        self.assertEqual(self.proxy.counts(), {"sns:CreateTopic": 1, "sns:ListTopics": 1})

    def test_s3_binary_object(self):
        bucket, key = uniq("bkt"), "dir/obj.bin"
        s3 = self.moto.client("s3")
        s3.create_bucket(Bucket=bucket)
        data = bytes(range(256)) * 40 + b"\x00\r\n\xff"
        with tempfile.NamedTemporaryFile(suffix=".bin") as f:
            f.write(data)
            f.flush()
            self.ok("s3", "PUT", "/%s/%s" % (bucket, key), "@" + f.name)
        self.assertEqual(s3.get_object(Bucket=bucket, Key=key)["Body"].read(), data)
        # GET: the raw bytes on stdout, unchanged
        r = subprocess.run([TASKPIPE, "aws", "s3", "GET", "/%s/%s" % (bucket, key)],
                           env=self.env(), capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, data)
        self.assertEqual(self.proxy.counts(), {"s3:PutObject": 1, "s3:GetObject": 1})


if __name__ == "__main__":
    unittest.main()
