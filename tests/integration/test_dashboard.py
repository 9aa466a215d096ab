"""The dashboard and alarms of packaging/template.yaml (docs/operations.md "Metrics"),
checked without AWS: the DashboardBody is valid JSON once its ${...} are
substituted (each naming a parameter, resource or attribute of the
template), every widget fits the 24-column grid without overlapping another
and has the properties its type needs, and every metric a widget, a Metrics
Insights query or an alarm names exists: taskpipe's own as the C sources
emit them (names and dimensions), AWS's from the service documentation
("Lambda function metrics", "Available CloudWatch metrics for Amazon SQS").
"""
import json
import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_template as tt  # noqa: E402

ROOT = tt.ROOT
SAMPLE = {"AWS::Region": "us-east-1", "AWS::Partition": "aws", "AWS::AccountId": "123456789012",
          "InstanceName": "inst", "Controller": "inst-controller",
          "FailureQueue.QueueName": "inst-controller-failures", "OldestTaskAgeSeconds": "3600"}

# AWS-published metrics the template may use, with the dimension sets they
# carry (frozenset of dimension names).
AWS_METRICS = {
    ("AWS/Lambda", "Invocations"): {frozenset(), frozenset({"FunctionName"})},
    ("AWS/Lambda", "Errors"): {frozenset(), frozenset({"FunctionName"})},
    ("AWS/Lambda", "Throttles"): {frozenset(), frozenset({"FunctionName"})},
    ("AWS/Lambda", "Duration"): {frozenset(), frozenset({"FunctionName"})},
    ("AWS/Lambda", "IteratorAge"): {frozenset({"FunctionName"})},
    ("AWS/Lambda", "ConcurrentExecutions"): {frozenset(), frozenset({"FunctionName"})},
    ("AWS/SQS", "ApproximateAgeOfOldestMessage"): {frozenset({"QueueName"})},
    ("AWS/SQS", "ApproximateNumberOfMessagesVisible"): {frozenset({"QueueName"})},
    ("AWS/SQS", "ApproximateNumberOfMessagesNotVisible"): {frozenset({"QueueName"})},
    ("AWS/SQS", "NumberOfMessagesSent"): {frozenset({"QueueName"})},
}
STAT = re.compile(r"^(Sum|Maximum|Minimum|Average|SampleCount|p\d{1,2}(\.\d+)?)$")
QUERY = re.compile(r'^SELECT (AVG|COUNT|MAX|MIN|SUM)\((\w+)\) FROM SCHEMA\("([^"]+)", (\w+)\)'
                   r'( GROUP BY (\w+))?( ORDER BY (AVG|COUNT|MAX|MIN|SUM)\(\) (DESC|ASC))?( LIMIT (\d+))?$')


def taskpipe_metrics():
    """(namespace, name) -> dimension sets, read from the emitters' sources:
    the controller's lines carry Owner, the consumer layer's none or
    FunctionName (consume_metrics.h)."""
    out = {}
    for path, dims in (("src/runtime/ctl_metrics.c", {frozenset({"Owner"})}),
                       ("src/runtime/consume_metrics.c", {frozenset(), frozenset({"FunctionName"})})):
        with open(os.path.join(ROOT, path)) as f:
            for name in re.findall(r'\{ "([A-Z]\w+)", "(?:Count|Milliseconds)"', f.read()):
                out[("taskpipe", name)] = dims
    return out


def substitute(text, resources, params):
    def one(m):
        ref = m.group(1)
        base = ref.split(".")[0]
        assert ref.startswith("AWS::") or base in resources or base in params, "${%s}: not in the template" % ref
        assert ref in SAMPLE, "${%s}: no sample value in this test" % ref
        return SAMPLE[ref]
    return re.sub(r"\$\{([^}!]+)\}", one, text)


class Dashboard(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.t = tt.load_template()
        cls.res = cls.t["Resources"]
        cls.known = dict(AWS_METRICS)
        cls.known.update(taskpipe_metrics())
        body = cls.res["Dashboard"]["Properties"]["DashboardBody"]
        assert body.tag == "!Sub", body
        cls.body = json.loads(substitute(body.value, cls.res, cls.t["Parameters"]))
        cls.alarms = {k: v for k, v in cls.res.items() if v["Type"] == "AWS::CloudWatch::Alarm"}

    def assert_metric(self, ns, name, dims, where):
        self.assertIn((ns, name), self.known, "%s: %s %s is neither taskpipe's nor AWS's" % (where, ns, name))
        self.assertIn(frozenset(dims), self.known[(ns, name)],
                      "%s: %s %s has no dimension set %s" % (where, ns, name, sorted(dims)))

    def test_the_emitters_are_read(self):
        names = {n for ns, n in self.known if ns == "taskpipe"}
        self.assertTrue({"DLQTasks", "StartWait", "PipelineErrors", "StreamRecordsSkipped",
                         "TasksStarted", "HandlerErrors"} <= names, names)

    def test_widgets_fit_the_grid(self):
        self.assertEqual(list(self.body), ["widgets"])
        cells = set()
        for i, w in enumerate(self.body["widgets"]):
            self.assertIn(w["type"], ("metric", "text", "alarm"), w)
            for k in ("x", "y", "width", "height"):
                self.assertIsInstance(w[k], int, (i, k))
            self.assertTrue(1 <= w["width"] <= 24 and w["x"] >= 0 and w["x"] + w["width"] <= 24, w)
            self.assertTrue(w["height"] >= 1 and w["y"] >= 0, w)
            mine = {(x, y) for x in range(w["x"], w["x"] + w["width"]) for y in range(w["y"], w["y"] + w["height"])}
            self.assertFalse(mine & cells, "widget %d overlaps another" % i)
            cells |= mine
            p = w["properties"]
            if w["type"] == "text":
                self.assertIsInstance(p["markdown"], str)
            else:
                self.assertIsInstance(p["title"], str)

    def test_metric_widgets_name_metrics_that_exist(self):
        n = 0
        for w in self.body["widgets"]:
            if w["type"] != "metric":
                continue
            p = w["properties"]
            self.assertEqual(p["region"], "us-east-1")
            self.assertTrue(p.get("stat") is None or STAT.match(p["stat"]), p)
            prev = None
            for row in p["metrics"]:
                opts = row[-1] if row and isinstance(row[-1], dict) else {}
                plain = row[:-1] if opts else row
                if "expression" in opts:
                    self.assertEqual(plain, [])
                    m = QUERY.match(opts["expression"])
                    self.assertIsNotNone(m, "not a Metrics Insights query this test reads: %s" % opts["expression"])
                    self.assertEqual(m.group(6), m.group(4), "GROUP BY the schema's dimension")
                    self.assertLessEqual(int(m.group(11) or 0), 500)
                    self.assert_metric(m.group(3), m.group(2), {m.group(4)}, p["title"])
                    n += 1
                    continue
                # "." repeats the row above at that position
                full = [prev[i] if v == "." and prev else v for i, v in enumerate(plain)]
                self.assertTrue(len(full) >= 2 and len(full) % 2 == 0, full)
                dims = dict(zip(full[2::2], full[3::2]))
                self.assert_metric(full[0], full[1], dims, p["title"])
                self.assertTrue(set(opts) <= {"stat", "yAxis", "label", "period", "color", "visible"}, opts)
                self.assertTrue("stat" not in opts or STAT.match(opts["stat"]), opts)
                self.assertTrue(opts.get("stat") or p.get("stat"), "%s: no statistic" % full)
                prev = full
                n += 1
        self.assertGreaterEqual(n, 20)

    def test_worst_groups_and_controller_health_shown(self):
        text = json.dumps(self.body)
        for needle in ("ApproximateAgeOfOldestMessage", "SUM(Errors)", '"DLQTasks"', '"BacklogTasks"',
                       '"PipelineErrors"', '"IteratorAge"', '"ConcurrentExecutions"', '"TasksStarted"'):
            self.assertIn(needle, text)

    def test_alarm_widget_lists_every_alarm(self):
        names = {substitute(a["Properties"]["AlarmName"].value, self.res, self.t["Parameters"])
                 for a in self.alarms.values()}
        listed = [w for w in self.body["widgets"] if w["type"] == "alarm"][0]["properties"]["alarms"]
        prefix = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:"
        self.assertTrue(all(a.startswith(prefix) for a in listed), listed)
        self.assertEqual({a[len(prefix):] for a in listed}, names)

    def test_alarms_watch_fleet_series_that_exist(self):
        watched = set()
        for key, a in self.alarms.items():
            p = a["Properties"]
            stats = []
            if "Metrics" in p:
                ids = {m["Id"] for m in p["Metrics"]}
                for m in p["Metrics"]:
                    if "Expression" in m:
                        self.assertTrue(set(re.findall(r"\b[a-z]\w*\b", m["Expression"])) - {"FILL"} <= ids,
                                        m["Expression"])
                    else:
                        self.assertIs(m["ReturnData"], False)
                        st = m["MetricStat"]
                        stats.append((st["Metric"], st["Stat"]))
            else:
                stats.append((p, p["Statistic"]))
            for metric, stat in stats:
                dims = {d["Name"] for d in metric.get("Dimensions", [])}
                self.assert_metric(metric["Namespace"], metric["MetricName"], dims, key)
                self.assertTrue(STAT.match(stat))
                watched.add(metric["MetricName"])
                # fleet-level: never a per-pipeline dimension
                self.assertFalse(dims & {"QueueName", "FunctionName"} and metric["Namespace"] == "taskpipe")
            self.assertEqual(p["TreatMissingData"], "notBreaching")
            for k in ("AlarmActions", "OKActions"):
                self.assertEqual(p[k].tag, "!If")
                self.assertEqual(p[k].value[0], "HasAlarmTopic")
        # the five: DLQ tasks, oldest task, controller errors,
        # records on the stream mapping's failure queue, skipped records
        self.assertEqual(watched, {"DLQTasks", "StartWait", "Errors", "PipelineErrors",
                                   "ApproximateNumberOfMessagesVisible", "StreamRecordsSkipped"})
        fq = self.alarms["FailureQueueAlarm"]["Properties"]["Dimensions"][0]["Value"]
        self.assertEqual((fq.tag, fq.value), ("!GetAtt", "FailureQueue.QueueName"))


if __name__ == "__main__":
    unittest.main()
