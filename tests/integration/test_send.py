"""The producer path: `taskpipe send` and `taskpipe url` against moto, checked
with boto3 (what arrived in the queue), and the queue URL and ARN in the state
record (`ls --json`). Failures are forced through the counting proxy: a batch
answer with a Failed entry, and a whole call refused."""
import hashlib
import json
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Moto  # noqa: E402
from awsproxy import FaultProxy  # noqa: E402
from test_pipelines import Env  # noqa: E402


def producer_queue_name(prefix, group, limit=80):
    """The naming rule (docs/pipelines.md "Sending tasks"), as a producer that computes the name would."""
    if len(prefix) + len(group) <= limit:
        return prefix + group
    keep = limit - len(prefix) - 9
    return "%s%s-%s" % (prefix, group[:keep], hashlib.sha256(group.encode()).hexdigest()[:8])


def drain(sqs, url):
    """Every message in the queue (bodies), received until it is empty."""
    bodies = []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                  VisibilityTimeout=600).get("Messages", [])
        if not got:
            return bodies
        bodies += [m["Body"] for m in got]


class SendTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.moto = Moto.shared()
        cls.e = Env(cls.moto, tag="send")
        cls.long = "tenant-" + "x" * 150
        # paused (enabled false): moto's event source mapping would consume the tasks
        cls.e.put({"pipeline": "a", "concurrency": 2, "enabled": False},
                  {"pipeline": cls.long, "concurrency": 2, "enabled": False})
        cls.e.apply()
        cls.sqs = cls.e.sqs

    def url_of(self, group):
        r = self.e.run("url", group)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout.strip()

    def test_url_matches_sqs_and_the_naming_rule(self):
        for g in ("a", self.long):
            name = producer_queue_name(self.e.prefix, g)
            self.assertEqual(self.url_of(g), self.sqs.get_queue_url(QueueName=name)["QueueUrl"])
        # the long name really was shortened with the hash
        self.assertLessEqual(len(producer_queue_name(self.e.prefix, self.long)), 80)
        self.assertNotIn(self.long, producer_queue_name(self.e.prefix, self.long))

    def test_url_json_and_ls_carry_url_and_arn(self):
        r = self.e.run("url", "a", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = json.loads(r.stdout)
        url = self.sqs.get_queue_url(QueueName=self.e.prefix + "a")["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        dlq = self.sqs.get_queue_url(QueueName=self.e.prefix + "a-dlq")["QueueUrl"]
        self.assertEqual((doc["queue_url"], doc["queue_arn"], doc["dlq_url"]), (url, arn, dlq))
        r = self.e.run("ls", "--json")
        rows = {x["pipeline"]: x for x in json.loads(r.stdout)}
        self.assertEqual((rows["a"]["queue_url"], rows["a"]["queue_arn"]), (url, arn))

    def test_url_of_a_record_without_url_asks_sqs(self):
        # a state record written before queue_url existed
        ddb = self.e.ddb
        ddb.put_item(TableName=self.e.prefix + "state", Item={
            "pk": {"S": "pipeline#old"}, "pipeline": {"S": "old"}, "status": {"S": "ok"},
            "action": {"S": "create"}, "updated_at": {"N": "1"}})
        url = self.sqs.create_queue(QueueName=self.e.prefix + "old")["QueueUrl"]
        self.assertEqual(self.url_of("old"), url)
        # a record whose queue never came to be
        ddb.put_item(TableName=self.e.prefix + "state", Item={
            "pk": {"S": "pipeline#noq"}, "pipeline": {"S": "noq"}, "status": {"S": "error"},
            "message": {"S": "policy said no"}, "action": {"S": "create"}, "updated_at": {"N": "1"}})
        r = self.e.run("url", "noq")
        self.assertEqual(r.returncode, 1)
        self.assertIn("NoQueue", r.stderr)
        self.assertIn("policy said no", r.stderr)

    def test_unknown_group_is_a_clear_error(self):
        for args in (("url", "nope"), ("send", "nope", "hi")):
            r = self.e.run(*args)
            self.assertEqual(r.returncode, 1, r.stdout)
            self.assertIn("UnknownGroup", r.stderr)
            self.assertIn("'nope'", r.stderr)
        r = self.e.run("send", "bad/name", "hi")
        self.assertEqual(r.returncode, 1)
        self.assertIn("BadName", r.stderr)

    def test_stdin_one_task_per_line_in_batches_of_ten(self):
        url = self.url_of(self.long)
        drain(self.sqs, url)
        lines = ["task-%d {\"n\": %d}" % (i, i) for i in range(95)]
        proxy = FaultProxy(self.moto.endpoint).start()
        try:
            r = self.e.run("send", self.long, "-", "--json", input="\n".join(lines) + "\n\n",
                           endpoint=proxy.endpoint)
            counts = proxy.counts()
        finally:
            proxy.stop()
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = json.loads(r.stdout)
        self.assertEqual((doc["sent"], doc["failed"], doc["blank_lines"], doc["calls"]), (95, [], 1, 10))
        self.assertEqual(counts.get("sqs:SendMessageBatch"), 10)
        self.assertNotIn("sqs:SendMessage", counts)
        self.assertEqual(sorted(drain(self.sqs, url)), sorted(lines))

    def test_body_argument_and_file(self):
        url = self.url_of("a")
        drain(self.sqs, url)
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            f.write('{\n  "multi": "line"\n}\n')
        try:
            r1 = self.e.run("send", "a", '{"one": 1}')
            r2 = self.e.run("send", "a", "@" + f.name)
            r3 = self.e.run("send", "a", "@/nonexistent/file")
        finally:
            os.unlink(f.name)
        self.assertEqual((r1.returncode, r2.returncode), (0, 0), r1.stderr + r2.stderr)
        self.assertIn("sent 1 of 1", r1.stdout)
        self.assertEqual(r3.returncode, 1)
        self.assertIn("/nonexistent/file", r3.stderr)
        self.assertEqual(sorted(drain(self.sqs, url)), sorted(['{"one": 1}', '{\n  "multi": "line"\n}\n']))

    def test_bad_lines_are_named_and_the_rest_sent(self):
        url = self.url_of("a")
        drain(self.sqs, url)
        big = "b" * (1048576 + 1)
        text = "ok1\nbad\x01char\nok2\n%s\nok3\r\n" % big
        r = self.e.run("send", "a", input=text)
        self.assertEqual(r.returncode, 1)
        self.assertIn("line 2: InvalidTask", r.stderr)
        self.assertIn("line 4: InvalidTask", r.stderr)
        self.assertIn("2 of 5 tasks failed", r.stderr)
        self.assertNotIn("line 1:", r.stderr)
        self.assertEqual(sorted(drain(self.sqs, url)), ["ok1", "ok2", "ok3"])

    def test_failed_entries_and_failed_calls_name_their_lines(self):
        url = self.url_of("a")
        drain(self.sqs, url)
        proxy = FaultProxy(self.moto.endpoint).start()
        try:
            # the first call's answer: entry t0 sent, t1 failed, the rest not mentioned
            answer = {"Successful": [{"Id": "t0", "MessageId": "m", "MD5OfMessageBody": "x"}],
                      "Failed": [{"Id": "t1", "SenderFault": False, "Code": "InternalError",
                                  "Message": "try again"}]}
            proxy.add_rule({"match": {"operation": "SendMessageBatch"}, "times": 1, "action": {
                "status": 200, "body": json.dumps(answer),
                "headers": {"Content-Type": "application/x-amz-json-1.0"}}})
            # the second: refused as a whole, not retryable
            proxy.add_rule({"match": {"operation": "SendMessageBatch"}, "times": 1, "action": {
                "status": 400, "body": json.dumps({"__type": "com.amazonaws.sqs#AccessDenied",
                                                   "message": "not allowed"}),
                "headers": {"x-amzn-ErrorType": "AccessDenied"}}})
            lines = ["t%d" % i for i in range(20)]
            r = self.e.run("send", "a", "--json", input="\n".join(lines) + "\n", endpoint=proxy.endpoint)
        finally:
            proxy.stop()
        self.assertEqual(r.returncode, 1)
        doc = json.loads(r.stdout)
        failed = {f["line"]: f["code"] for f in doc["failed"]}
        # one call had t0 ok, t1 failed, t2..t9 unconfirmed; the other lost all ten
        self.assertEqual(len(failed), 19, failed)
        self.assertEqual(doc["sent"], 1)
        self.assertIn("InternalError", failed.values())
        self.assertIn("NotConfirmed", failed.values())
        self.assertIn("AccessDenied", "".join(failed.values()))
        for line in failed:
            self.assertIn("line %d:" % line, r.stderr)

    def test_delay(self):
        url = self.url_of("a")
        drain(self.sqs, url)
        r = self.e.run("send", "a", "later", "--delay", "600")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(drain(self.sqs, url), [])
        a = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        self.assertEqual(a["ApproximateNumberOfMessagesDelayed"], "1")
        for bad in ("901", "-1", "x", ""):
            r = self.e.run("send", "a", "x", "--delay", bad)
            self.assertEqual(r.returncode, 2)
            self.assertIn("--delay", r.stderr)


if __name__ == "__main__":
    unittest.main()
