"""`taskpipe status` against moto: a row per group from the tables, SQS and
CloudWatch. moto publishes no AWS/SQS or AWS/Lambda metrics, so the test
plays them (PutMetricData into those namespaces, which moto accepts) and
checks the rows against what it played and what boto3 put in the queues.
Also: the CloudWatch client in the REPL (tp.aws("cloudwatch", ...)), and one
status over 200 groups, its calls and wall time (printed for the record)."""
import datetime
import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Moto  # noqa: E402
from awsproxy import FaultProxy  # noqa: E402
from test_pipelines import Env  # noqa: E402


def at(ts):
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc)


class StatusTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.moto = Moto.shared()
        e = cls.e = Env(cls.moto, tag="stat")
        # paused groups keep their tasks (moto's mapping would consume them)
        e.put({"pipeline": "busy", "concurrency": 2},
              {"pipeline": "idle", "concurrency": 3, "enabled": False},
              {"pipeline": "gone", "concurrency": 2, "enabled": False},
              {"pipeline": "broken", "concurrency": 2, "enabled": False})
        e.apply()
        # the configured values are the item's, as written
        e.put_raw([{"pipeline": {"S": "busy"}, "concurrency": {"N": "2"}, "rate": {"N": "2"},
                    "burst": {"N": "4"}}])
        # an item the policy refuses, applied: state error with its message
        e.put({"pipeline": "broken", "concurrency": 0}, check=False)
        e.apply("broken", expect=1)
        e.run("rm", "gone")          # item deleted, pipeline still there: draining
        e.put({"pipeline": "new", "concurrency": 2})   # never applied: pending
        sqs = e.sqs
        idle = sqs.get_queue_url(QueueName=e.prefix + "idle")["QueueUrl"]
        dlq = sqs.get_queue_url(QueueName=e.prefix + "idle-dlq")["QueueUrl"]
        sqs.send_message_batch(QueueUrl=idle, Entries=[{"Id": str(i), "MessageBody": "t%d" % i} for i in range(7)])
        sqs.send_message(QueueUrl=idle, MessageBody="later", DelaySeconds=600)
        sqs.send_message(QueueUrl=idle, MessageBody="later2", DelaySeconds=600)
        sqs.receive_message(QueueUrl=idle, MaxNumberOfMessages=1, VisibilityTimeout=600)
        for i in range(3):
            sqs.send_message(QueueUrl=dlq, MessageBody="dead%d" % i)
        # the metrics AWS would publish, played
        cw = cls.moto.client("cloudwatch")
        m = int(time.time()) // 60 * 60
        fn = lambda name: [{"Name": "FunctionName", "Value": e.prefix + name}]  # noqa: E731
        q = lambda name: [{"Name": "QueueName", "Value": e.prefix + name}]  # noqa: E731
        data = []
        for k in range(1, 13):   # 120 starts a minute for 12 minutes: 2/s over 1 and 5 min
            data.append(("AWS/Lambda", "Invocations", fn("busy"), m - 60 * k, 120))
        data += [("AWS/Lambda", "Errors", fn("busy"), m - 120, 3),
                 ("AWS/Lambda", "Throttles", fn("busy"), m, 1),
                 ("AWS/Lambda", "Errors", fn("busy"), m - 1800, 50),    # too old to count
                 ("AWS/SQS", "ApproximateAgeOfOldestMessage", q("busy"), m - 60, 30),
                 ("AWS/SQS", "ApproximateAgeOfOldestMessage", q("idle"), m - 120, 900),
                 ("AWS/SQS", "ApproximateAgeOfOldestMessage", q("idle"), m - 240, 700),
                 ("AWS/SQS", "ApproximateAgeOfOldestMessage", q("gone"), m - 1200, 5000),  # stale
                 ("AWS/SQS", "NumberOfMessagesSent", q("idle"), m - 600, 9)]
        for ns, name, dims, ts, v in data:
            cw.put_metric_data(Namespace=ns, MetricData=[{"MetricName": name, "Dimensions": dims,
                                                          "Timestamp": at(ts + 5), "Value": v}])
        cls.m = m

    def status(self, *args, expect=0, endpoint=None):
        r = self.e.run("status", "--json", *args, endpoint=endpoint)
        self.assertEqual(r.returncode, expect, r.stderr + r.stdout[-2000:])
        return json.loads(r.stdout)

    def test_rows(self):
        doc = self.status()
        rows = {g["group"]: g for g in doc["groups"]}
        self.assertEqual(sorted(rows), ["broken", "busy", "gone", "idle", "new"])
        idle, busy = rows["idle"], rows["busy"]
        self.assertEqual((idle["state"], idle["enabled"], idle["concurrency"]), ("ok", False, 3))
        self.assertEqual((idle["visible"], idle["in_flight"], idle["delayed"], idle["dlq"]), (6, 1, 2, 3))
        self.assertEqual(idle["oldest_age_s"], 900)
        self.assertEqual(idle["last_activity"], self.m - 600 + 5 - 5)
        self.assertEqual((busy["state"], busy["enabled"], busy["rate"], busy["burst"], busy["concurrency"]),
                         ("ok", True, "2", "4", 2))
        self.assertEqual(busy["starts_per_s"], {"1m": 2, "5m": 2})
        self.assertEqual((busy["errors_5m"], busy["throttles_5m"]), (3, 1))
        self.assertEqual(busy["oldest_age_s"], 30)
        self.assertEqual((busy["visible"], busy["dlq"]), (0, 0))
        self.assertEqual(rows["broken"]["state"], "error")
        self.assertIn("concurrency", rows["broken"]["message"])
        self.assertEqual(rows["gone"]["state"], "draining")
        self.assertIsNone(rows["gone"]["oldest_age_s"])       # its only point is 20 min old
        self.assertEqual(rows["new"]["state"], "pending")
        self.assertIn("does not exist", rows["new"]["problem"])
        self.assertIsNone(rows["new"]["visible"])
        # worst first: the oldest task, then the rest
        self.assertEqual([g["group"] for g in doc["groups"]][:2], ["idle", "busy"])

    def test_sort_filters_and_names(self):
        names = lambda d: [g["group"] for g in d["groups"]]  # noqa: E731
        self.assertEqual(names(self.status("--sort", "name")), ["broken", "busy", "gone", "idle", "new"])
        self.assertEqual(names(self.status("--sort", "dlq"))[0], "idle")
        self.assertIn("idle", names(self.status("--paused")))
        self.assertNotIn("busy", names(self.status("--paused")))
        self.assertEqual(sorted(names(self.status("--failing"))), ["busy", "idle"])
        self.assertEqual(names(self.status("--state", "draining")), ["gone"])
        self.assertEqual(names(self.status("--backlog")), ["idle"])
        self.assertEqual(names(self.status("--min-age", "60")), ["idle"])
        for bad in (["--sort", "bogus"], ["--state", "bogus"], ["--min-age", "x"], ["--frobnicate"]):
            r = self.e.run("status", *bad)
            self.assertEqual(r.returncode, 2, bad)
        # named groups: one GetItem pair, two queue reads, one metrics call each
        proxy = FaultProxy(self.moto.endpoint).start()
        try:
            doc = self.status("idle", endpoint=proxy.endpoint)
            counts = proxy.counts()
        finally:
            proxy.stop()
        self.assertEqual(names(doc), ["idle"])
        self.assertEqual(doc["calls"], {"dynamodb": 3, "sqs": 2, "cloudwatch": 1, "total": 6})
        self.assertEqual(counts, {"dynamodb:GetItem": 3, "sqs:GetQueueAttributes": 2,
                                  "monitoring:GetMetricData": 1})  # the proxy names CloudWatch by its signing name
        r = self.e.run("status", "idle", "nope")
        self.assertEqual(r.returncode, 1)
        self.assertIn("nope", r.stderr)
        self.assertIn("UnknownGroup", r.stderr)

    def test_table(self):
        r = self.e.run("status")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertTrue(lines[0].startswith("GROUP"))
        self.assertTrue(lines[1].startswith("idle "))
        self.assertRegex(lines[1], r"idle\s+ok\s+paused\s+-\s+-\s+3\s+0\s+0\s+6\s+1\s+2\s+15m00s\s+3\s+0\s+0\s+\d+m\d+s ago")
        self.assertRegex(r.stdout, r"busy\s+ok\s+on\s+2\s+4\s+2\s+2\s+2\s+0\s+0\s+0\s+30s\s+0\s+3\s+1")
        self.assertIn("! broken:", r.stdout)
        self.assertRegex(lines[-1], r"5 of 5 groups; \d+ requests \(DynamoDB \d+, SQS \d+, CloudWatch 1\)")

    def test_metrics_unavailable_is_said(self):
        proxy = FaultProxy(self.moto.endpoint).start()
        try:
            proxy.add_rule({"match": {"operation": "GetMetricData"}, "times": -1, "action": {
                "status": 400, "body": json.dumps({"__type": "AccessDenied", "message": "no cloudwatch:GetMetricData"}),
                "headers": {"x-amzn-ErrorType": "AccessDenied"}}})
            doc = self.status("idle", endpoint=proxy.endpoint)
        finally:
            proxy.stop()
        self.assertIn("GetMetricData", doc["cloudwatch_problem"])
        g = doc["groups"][0]
        self.assertEqual(g["visible"], 6)              # SQS still read
        self.assertIsNone(g["oldest_age_s"])
        self.assertIsNone(g["starts_per_s"]["1m"])

    def test_repl_knows_cloudwatch(self):
        r = self.e.run("repl", "-e", "local r = tp.aws('cloudwatch', 'ListMetrics', {Namespace = 'AWS/Lambda'}); "
                       "print(#r.Metrics > 0)")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), "true")
        r = self.e.run("repl", "-e", "local s = tp.status('idle'); print(s.groups[1].visible, s.groups[1].dlq, "
                       "s.groups[1].oldest_age_s, s.calls.cloudwatch)")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.split(), ["6", "3", "900", "1"])


class StatusScaleTest(unittest.TestCase):
    """One status over 200 groups: requests by service and wall time."""

    def test_200_groups(self):
        moto = Moto.shared()
        e = Env(moto, tag="st200")
        sqs, ddb = e.sqs, e.ddb
        # what apply leaves behind, made directly (200 applies are slow on moto)
        for i in range(200):
            g = "g%03d" % i
            url = sqs.create_queue(QueueName=e.prefix + g)["QueueUrl"]
            dlq = sqs.create_queue(QueueName=e.prefix + g + "-dlq")["QueueUrl"]
            ddb.put_item(TableName=e.prefix + "config", Item={"pipeline": {"S": g}, "concurrency": {"N": "2"}})
            ddb.put_item(TableName=e.prefix + "state", Item={
                "pk": {"S": "pipeline#" + g}, "pipeline": {"S": g}, "status": {"S": "ok"},
                "action": {"S": "create"}, "updated_at": {"N": "1"},
                "queue_url": {"S": url}, "dlq_url": {"S": dlq}})
        proxy = FaultProxy(moto.endpoint).start()
        try:
            t0 = time.time()
            r = e.run("status", "--json", endpoint=proxy.endpoint)
            wall = time.time() - t0
            counts = proxy.counts()
        finally:
            proxy.stop()
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = json.loads(r.stdout)
        self.assertEqual(len(doc["groups"]), 200)
        self.assertEqual(counts["sqs:GetQueueAttributes"], 400)
        self.assertEqual(counts["monitoring:GetMetricData"], 2)    # 1,000 queries, 500 a call
        self.assertEqual(counts["dynamodb:Scan"], 3)    # items, states, operator pauses
        self.assertEqual(doc["calls"]["total"], sum(counts.values()))
        print("\nstatus over 200 groups: %s; %d requests; %.1f s wall (taskpipe's own: %d ms)"
              % (counts, sum(counts.values()), wall, doc["elapsed_ms"]), file=sys.stderr)


if __name__ == "__main__":
    unittest.main()
