"""Metrics as CloudWatch Embedded Metric Format lines (docs/operations.md "Metrics"):
every EMF line the consumer layer and the controller write is parsed and
checked against the EMF document schema (emf_check.py), and its numbers
against what happened.

The consumer layer runs as in test_consumer_rate (Runtime API emulator +
`taskpipe consume` + a handler, verdict_handler.py, whose answer each record's
body decides), with no AWS at all; the controller runs as `bootstrap`
(test_bootstrap's Env and Bootstrap) against moto, whose queues hold the
tasks the scheduled run counts."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import emf_check  # noqa: E402
import test_bootstrap as tb  # noqa: E402
from harness import BASE_ENV, TASKPIPE, Moto, run_taskpipe  # noqa: E402
from runtime_emulator import RuntimeEmulator  # noqa: E402

HANDLER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "verdict_handler.py")


def record(body, sent_ms=None):
    r = {"messageId": str(uuid.uuid4()), "body": body, "attributes": {}}
    if sent_ms is not None:
        r["attributes"]["SentTimestamp"] = str(sent_ms)
    return r


class Layer:
    """One execution environment: emulator + proxy + verdict handler."""

    def __init__(self, tmp, **env):
        self.emu = RuntimeEmulator().start()
        e = dict(BASE_ENV)
        # the proxy makes no AWS call here; if it did, it would reach nothing
        e.update(AWS_ENDPOINT_URL="http://127.0.0.1:9", AWS_LAMBDA_RUNTIME_API=self.emu.address,
                 AWS_LAMBDA_FUNCTION_NAME="tp-metrics", TASKPIPE_LOG_LEVEL="INFO")
        e.update(env)
        self.log = open(os.path.join(tmp, "layer-%s.log" % uuid.uuid4().hex[:8]), "w+")
        self.proc = subprocess.Popen([TASKPIPE, "consume", "--", sys.executable, HANDLER], env=e,
                                     stdout=subprocess.DEVNULL, stderr=self.log)

    def invoke(self, records, timeout_ms=60000):
        rid = self.emu.enqueue({"Records": records}, timeout_ms=timeout_ms)
        return rid

    def result(self, rid):
        return self.emu.wait_result(rid, 60)

    def lines(self):
        self.log.flush()
        with open(self.log.name) as f:
            return emf_check.lines(f.read())

    def wait_lines(self, n, timeout=30):
        end = time.time() + timeout
        while time.time() < end:
            got = self.lines()
            if len(got) >= n:
                return got
            time.sleep(0.05)
        self.fail_text = open(self.log.name).read()
        raise AssertionError("%d EMF lines expected, %d written:\n%s" % (n, len(self.lines()), self.fail_text))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.emu.stop()
        self.log.close()


class ConsumerLayerMetrics(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="tp-metrics-")

    def layer(self, **env):
        lay = Layer(self.tmp, **env)
        self.addCleanup(lay.stop)
        return lay

    def test_pass_through_detailed_counts_each_outcome(self):
        lay = self.layer(TASKPIPE_METRICS="detailed", TASKPIPE_METRICS_INTERVAL="0")
        sent = int(time.time() * 1000) - 2000
        r1 = lay.invoke([record("ok", sent), record("fail", sent + 500), record("limit")])
        self.assertEqual(lay.result(r1)["kind"], "response")
        first = lay.wait_lines(1)[0]
        r2 = lay.invoke([record("ok", sent), record("error")])
        self.assertEqual(lay.result(r2)["kind"], "error")
        second = lay.wait_lines(2)[1]
        # detailed: the fleet's set and the function's own
        for doc in (first, second):
            self.assertEqual(emf_check.dimension_sets(doc), [[], ["FunctionName"]])
            self.assertEqual(doc["FunctionName"], "tp-metrics")
            self.assertEqual(doc["_aws"]["CloudWatchMetrics"][0]["Namespace"], "taskpipe")
        self.assertEqual((first["TasksStarted"], first["HandlerErrors"], first["TasksRateLimited"],
                          first["TasksReturned"]), (3, 1, 1, 0))
        # the oldest record of the batch was sent 2 s before it started
        self.assertEqual(len(first["StartWait"]), 1)
        self.assertGreaterEqual(first["StartWait"][0], 2000)
        self.assertEqual((second["TasksStarted"], second["HandlerErrors"]), (2, 2))  # /error: the whole batch
        self.assertEqual(len(lay.lines()), 2)

    def test_paced_records_given_back_are_counted(self):
        # rate 1/s, burst 1, one instance: a batch of 3 reaches the runtime as
        # 3 sub-batches a second apart (a line each, interval 0); a second
        # batch of 3 would wait ~1 s, past a 2.5 s deadline less the 2 s
        # reserve, so it goes back unstarted
        lay = self.layer(TASKPIPE_RATE="1", TASKPIPE_METRICS_INTERVAL="0")
        r1 = lay.invoke([record("ok"), record("ok"), record("ok")])
        self.assertEqual(lay.result(r1)["kind"], "response")
        first = lay.wait_lines(3)
        self.assertEqual(emf_check.dimension_sets(first[0]), [[]])   # fleet: no dimension
        self.assertNotIn("FunctionName", first[0])
        self.assertEqual((sum(d["TasksStarted"] for d in first), sum(d["TasksReturned"] for d in first)), (3, 0))
        r2 = lay.invoke([record("ok"), record("ok"), record("ok")], timeout_ms=2500)
        back = lay.result(r2)
        self.assertEqual(len(back["body"]["batchItemFailures"]), 3, back)
        r3 = lay.invoke([record("ok")], timeout_ms=60000)
        self.assertEqual(lay.result(r3)["kind"], "response")
        end = time.time() + 30
        while time.time() < end and sum(d["TasksStarted"] for d in lay.lines()) < 4:
            time.sleep(0.05)
        rest = lay.lines()[len(first):]
        self.assertEqual((sum(d["TasksStarted"] for d in rest), sum(d["TasksReturned"] for d in rest),
                          sum(d["HandlerErrors"] for d in rest)), (1, 3, 0), rest)
        for d in rest:
            self.assertNotIn("StartWait", emf_check.names(d))   # no SentTimestamp: no sample

    def test_quiet_starts_held_trouble_at_once_rest_at_exit(self):
        lay = self.layer()   # default: quiet lines once a minute
        rid = lay.invoke([record("ok"), record("ok")])
        self.assertEqual(lay.result(rid)["kind"], "response")
        time.sleep(0.5)
        self.assertEqual(lay.lines(), [])          # held: nothing went wrong
        rid = lay.invoke([record("ok"), record("fail")])
        self.assertEqual(lay.result(rid)["kind"], "response")
        first = lay.wait_lines(1)[0]                # an error: written by that invocation
        self.assertEqual((first["TasksStarted"], first["HandlerErrors"]), (4, 1))
        rid = lay.invoke([record("ok")])
        self.assertEqual(lay.result(rid)["kind"], "response")
        rid = lay.invoke([record("crash")])         # the runtime exits holding it
        self.assertEqual(lay.result(rid)["kind"], "error")
        lay.proc.wait(30)
        docs = lay.lines()
        self.assertEqual(len(docs), 2)
        self.assertEqual((docs[1]["TasksStarted"], docs[1]["HandlerErrors"]), (2, 1))

    def test_off_writes_nothing(self):
        lay = self.layer(TASKPIPE_METRICS="off", TASKPIPE_METRICS_INTERVAL="0")
        rid = lay.invoke([record("fail")])
        self.assertEqual(lay.result(rid)["kind"], "response")
        rid = lay.invoke([record("crash")])
        self.assertEqual(lay.result(rid)["kind"], "error")
        lay.proc.wait(30)
        self.assertEqual(lay.lines(), [])


class DetailedItems(unittest.TestCase):
    """An item asks for per-group metrics with metrics = "detailed"."""

    def test_policy_sets_the_layer_mode(self):
        root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "policy")
        with tempfile.TemporaryDirectory() as d:
            paths = []
            for i, it in enumerate([{"pipeline": "D", "rate": 2, "metrics": "detailed"},
                                    {"pipeline": "F", "rate": 2},
                                    {"pipeline": "N", "metrics": "detailed"}]):
                paths.append(os.path.join(d, "%d.json" % i))
                with open(paths[-1], "w") as f:
                    json.dump(it, f)
            r = run_taskpipe(["policy", "check", "--ctx", "@" + os.path.join(root, "ctx.json"),
                              "--consumer-layer", "arn:aws:lambda:us-east-1:123456789012:layer:tc:1"] + paths,
                             dict(BASE_ENV))
        self.assertEqual(r.returncode, 1, r.stderr)
        det, fleet, norate = [json.loads(line) for line in r.stdout.splitlines()]
        self.assertEqual(det["spec"]["func"]["Environment"]["Variables"]["TASKPIPE_METRICS"], "detailed")
        self.assertNotIn("TASKPIPE_METRICS", fleet["spec"]["func"]["Environment"]["Variables"])
        self.assertFalse(norate["ok"])
        self.assertTrue(norate["error"].startswith("metrics: 'detailed' needs rate"), norate)


class ControllerMetrics(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.moto = Moto.shared()

    def bootstrap(self, env, **kw):
        b = tb.Bootstrap(env, **kw)
        self.addCleanup(b.stop)
        return b

    def lines(self, b, event):
        return [d for d in emf_check.lines(b.stderr()) if d.get("event") == event]

    def test_reconcile_and_scheduled_fleet_totals(self):
        env = tb.Env(self.moto, "met")
        b = self.bootstrap(env, extra={"TASKPIPE_OWNER": "inst-m", "TASKPIPE_SETTINGS_FROM_ENV": "1"})
        env.put("a")
        # b's mapping disabled, so nothing (moto's mapping included) takes its tasks
        env.ddb.put_item(TableName=env.config, Item={"pipeline": {"S": "b"}, "enabled": {"BOOL": False}})
        env.put("bad", timeout=5000)    # over 900: the policy refuses it
        res = b.invoke({"Records": env.records()})
        self.assertEqual(len(tb.failures(res)), 1)
        rec = self.lines(b, "reconcile")
        self.assertEqual(len(rec), 1, b.stderr())
        self.assertEqual(emf_check.dimension_sets(rec[0]), [["Owner"]])
        self.assertEqual(rec[0]["Owner"], "inst-m")
        self.assertEqual((rec[0]["PipelinesChanged"], rec[0]["PipelineErrors"]), (2, 1))

        # tasks the scheduled run finds: 3 dead in a's DLQ, 2 waiting in b's queue
        dlq = env.sqs.get_queue_url(QueueName=env.prefix + "a-dlq")["QueueUrl"]
        for i in range(3):
            env.sqs.send_message(QueueUrl=dlq, MessageBody="dead %d" % i)
        for i in range(2):
            env.sqs.send_message(QueueUrl=env.queue("b"), MessageBody="task %d" % i)
        env.delete("bad")
        res = b.invoke({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}},
                       timeout_ms=120000)
        self.assertEqual(res["kind"], "response", res)
        drift = self.lines(b, "drift")
        self.assertEqual(len(drift), 1, b.stderr())
        d = drift[0]
        self.assertEqual(d["Owner"], "inst-m")
        self.assertEqual((d["DriftChecked"], d["DLQTasks"], d["DLQsWithTasks"], d["BacklogTasks"]),
                         (2, 3, 1, 2), d)
        self.assertEqual((d["DriftFound"], d["PipelineErrors"]), (0, 0), d)
        self.assertEqual(d["DriftChecked"], res["body"]["drift"]["summary"]["checked"])
        # nothing to resume: no rollout line
        self.assertEqual(self.lines(b, "rollout"), [])

    def test_metrics_off(self):
        env = tb.Env(self.moto, "moff")
        b = self.bootstrap(env, extra={"TASKPIPE_METRICS": "off"})
        env.put("a")
        b.invoke({"Records": env.records()})
        b.invoke({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}})
        self.assertEqual(emf_check.lines(b.stderr()), [])


if __name__ == "__main__":
    unittest.main()
