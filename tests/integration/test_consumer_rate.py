"""`taskpipe consume`: the consumer layer's Runtime API proxy holding a
pipeline's rate (README "The consumer layer").

A test poller plays the SQS event source mapping with MaximumConcurrency =
TASKPIPE_CONCURRENCY: one thread per instance receives a batch from a moto
queue, invokes its instance (a Runtime API emulator + `taskpipe consume --
python3 consumer_handler.py`), waits for the answer and deletes the records
not in batchItemFailures, as the mapping does with ReportBatchItemFailures
("Handling errors for an SQS event source in Lambda",
services-sqs-errorhandling.html). The handler logs when it gets each record.

The groups A, B, C of the write-up run at once, each with a backlog that
takes over 60 s at its rate; the 429 group D runs beside them, and so do
E (the default policy's shape, rate 2 over 6 instances, batches of 5, on
the shared schedule in the state table) and F (the same shape with
per-instance shares, which breaks the bound: the reason for E's mode)."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from awsproxy import FaultProxy  # noqa: E402
from harness import TASKPIPE, Moto  # noqa: E402
from runtime_emulator import RuntimeEmulator  # noqa: E402

HANDLER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "consumer_handler.py")
RUN_SECONDS = 62          # backlog at the rate: over 60 s


# "Configuring a queue to use with Lambda": the queue's visibility timeout
# must be at least the function's timeout (CreateEventSourceMapping refuses
# it otherwise); the pollers below invoke with a timeout equal to it.
VISIBILITY_S = 30


class Instance:
    """One Lambda execution environment: emulator + proxy + handler."""

    def __init__(self, tmp, name, env, cmd=None):
        self.emu = RuntimeEmulator().start()
        self.err_path = os.path.join(tmp, name + ".stderr")
        self.err = open(self.err_path, "w")
        e = dict(env, AWS_LAMBDA_RUNTIME_API=self.emu.address)
        self.proc = subprocess.Popen(cmd or [TASKPIPE, "consume", "--", sys.executable, HANDLER], env=e,
                                     stdout=subprocess.DEVNULL, stderr=self.err)

    def invoke(self, event, timeout_ms=60000):
        rid = self.emu.enqueue(event, timeout_ms=timeout_ms)
        return self.emu.wait_result(rid, timeout_ms / 1000 + 30)

    def stderr(self):
        self.err.flush()
        with open(self.err_path) as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.emu.stop()
        self.err.close()


def sqs_record(msg, arn):
    """A record as Lambda's SQS poller delivers it (services-sqs.html, example event)."""
    return {"messageId": msg["MessageId"], "receiptHandle": msg["ReceiptHandle"], "body": msg["Body"],
            "attributes": msg.get("Attributes", {}), "messageAttributes": {},
            "md5OfBody": msg["MD5OfBody"], "eventSource": "aws:sqs", "eventSourceARN": arn,
            "awsRegion": "us-east-1"}


def read_log(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


class Group:
    """A pipeline: queue + DLQ (maxReceiveCount 10), N instances, a poller
    thread per instance."""

    def __init__(self, test, moto, tmp, name, rate, concurrency, batch, messages, **handler_env):
        self.name, self.rate, self.n, self.batch, self.count = name, rate, concurrency, batch, messages
        self.sqs = moto.client("sqs")
        q = "tpc-%s-%d" % (name, os.getpid())
        dlq_url = self.sqs.create_queue(QueueName=q + "-dlq")["QueueUrl"]
        dlq_arn = self.sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        self.dlq_url = dlq_url
        self.url = self.sqs.create_queue(QueueName=q, Attributes={
            "VisibilityTimeout": str(VISIBILITY_S),
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "10"})})["QueueUrl"]
        self.arn = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        self.ids = set()
        for i in range(0, messages, 10):
            r = self.sqs.send_message_batch(QueueUrl=self.url, Entries=[
                {"Id": str(j), "MessageBody": "%s-%d" % (name, j)} for j in range(i, min(i + 10, messages))])
            self.ids |= {m["MessageId"] for m in r["Successful"]}
        self.log = os.path.join(tmp, name + ".log")
        env = moto.env(TASKPIPE_RATE=str(rate), TASKPIPE_CONCURRENCY=str(concurrency), HANDLER_LOG=self.log,
                       **handler_env)
        self.instances = [Instance(tmp, "%s%d" % (name, i), env) for i in range(concurrency)]
        for inst in self.instances:
            test.addCleanup(inst.stop)
        self.receives = {}        # messageId -> [receive times]
        self.results = []         # (time, event ids, answer body)
        self.lock = threading.Lock()
        self.stop_at = None
        self.threads = []

    def accepted(self):
        return {r["id"] for r in read_log(self.log) if not r["limited"]}

    def poll(self, inst, until):
        sqs = self.sqs
        while time.time() < until and self.accepted() != self.ids:
            got = sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=self.batch, WaitTimeSeconds=1,
                                      AttributeNames=["All"]).get("Messages", [])
            if not got:
                continue
            now = time.time()
            with self.lock:
                for m in got:
                    self.receives.setdefault(m["MessageId"], []).append(now)
            # As the mapping would: Lambda refuses a mapping whose function
            # timeout exceeds the queue's visibility timeout, so a held batch
            # never outlives its receive.
            res = inst.invoke({"Records": [sqs_record(m, self.arn) for m in got]}, timeout_ms=VISIBILITY_S * 1000)
            body = res["body"] if res["kind"] == "response" else {}
            failed = {f["itemIdentifier"] for f in body.get("batchItemFailures", [])}
            with self.lock:
                self.results.append((res["time"], [m["MessageId"] for m in got], body, res["raw"]))
            done = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)
                    if m["MessageId"] not in failed]
            if done:
                sqs.delete_message_batch(QueueUrl=self.url, Entries=done)

    def start(self, seconds):
        until = time.time() + seconds
        self.threads = [threading.Thread(target=self.poll, args=(inst, until), daemon=True)
                        for inst in self.instances]
        for t in self.threads:
            t.start()

    def join(self):
        for t in self.threads:
            t.join()


class ConsumerRateTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.moto = Moto.shared()
        cls.tmp = tempfile.mkdtemp(prefix="tp-consume-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)

    def assert_rate_held(self, g, burst_batches=None):
        times = sorted(r["t"] for r in read_log(g.log))
        self.assertEqual({r["id"] for r in read_log(g.log)}, g.ids, g.name + ": every message handled")
        self.assertEqual(len(times), len(g.ids), g.name + ": none handled twice")
        limit = g.rate + g.batch
        j = 0
        for i, t in enumerate(times):     # every 1 s window [t, t+1) starting at a record
            while j < len(times) and times[j] < t + 1.0:
                j += 1
            self.assertLessEqual(j - i, limit, "%s: %d records in the 1 s window from %.2f" % (g.name, j - i, t))
        span = times[-1] - times[0]
        self.assertGreater(span, 60, g.name)
        # the burst: the first batch of each instance (per-instance shares), one batch (shared)
        sustained = (len(times) - (burst_batches or g.n) * g.batch) / span
        self.assertGreaterEqual(sustained, 0.95 * g.rate, "%s: %.3f/s sustained" % (g.name, sustained))
        return sustained

    def test_groups_hold_their_rates_and_429_backs_off(self):
        """A 2/s, B 1/s, C 2/s (over 3 instances) for over 60 s each: never
        above the rate in any 1 s window (+ one batch), at least 95% of it
        sustained. D: a tenant that takes 1/s behind a 4/s rate answers
        rateLimited: the records wait out their retry-after in the queue,
        are retried, the proxy backs off, nothing is lost."""
        m = self.moto
        groups = [
            Group(self, m, self.tmp, "a", 2, 2, 2, 2 * RUN_SECONDS + 4),
            Group(self, m, self.tmp, "b", 1, 2, 1, 1 * RUN_SECONDS + 2),
            Group(self, m, self.tmp, "c", 2, 3, 1, 2 * RUN_SECONDS + 3),
        ]
        d = Group(self, m, self.tmp, "d", 4, 2, 1, 30, HANDLER_MODE="capacity", HANDLER_CAPACITY="0.5",
                  HANDLER_RETRY_AFTER="2")
        table = self.state_table()
        e = Group(self, m, self.tmp, "e", 2, 6, 5, 2 * RUN_SECONDS + 5, TASKPIPE_RATE_TABLE=table,
                  AWS_LAMBDA_FUNCTION_NAME="tpc-e-%d" % os.getpid(), TASKPIPE_LOG_LEVEL="DEBUG")
        f = Group(self, m, self.tmp, "f", 2, 6, 5, 40)
        for g in groups + [d, e, f]:
            g.start(RUN_SECONDS + 25)
        for g in groups + [d, e, f]:
            g.join()
        for g in groups:
            s = self.assert_rate_held(g)
            print("group %s: rate %s, %.3f/s sustained" % (g.name, g.rate, s), file=sys.stderr)
        self.check_backpressure(d)
        self.check_shared(e, f, table)

    def state_table(self):
        name = "tpc-state-%d-%s" % (os.getpid(), self._testMethodName[-20:])
        ddb = self.moto.client("dynamodb")
        ddb.create_table(TableName=name, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                         BillingMode="PAY_PER_REQUEST")
        self.addCleanup(ddb.delete_table, TableName=name)
        return name

    def check_shared(self, e, f, table):
        """E holds rate + one batch in every 1 s window across its 6
        instances; F, per-instance, goes above it (6 full buckets at once)."""
        logs = "".join(i.stderr() for i in e.instances)
        self.assertNotIn("shared rate schedule unavailable", logs)
        s = self.assert_rate_held(e, burst_batches=1)
        item = self.moto.client("dynamodb").get_item(TableName=table, Key={
            "pk": {"S": "rate#tpc-e-%d" % os.getpid()}}).get("Item")
        self.assertIn("tat", item or {}, "no shared schedule item")
        # Cost: the last "N batches booked, M UpdateItem writes" of each instance.
        batches = writes = 0
        for inst in e.instances:
            last = [ln for ln in inst.stderr().splitlines() if "shared schedule:" in ln]
            if last:
                words = last[-1].split("shared schedule:")[1].split()
                batches, writes = batches + int(words[0]), writes + int(words[3])
        self.assertGreater(batches, 0)
        print("group e: rate 2 over 6 instances, shared: %.3f/s sustained, %.2f UpdateItem writes per batch "
              "(%d batches)" % (s, writes / batches, batches), file=sys.stderr)
        times = sorted(r["t"] for r in read_log(f.log))
        worst = max(sum(1 for u in times if t <= u < t + 1.0) for t in times)
        self.assertGreater(worst, f.rate + f.batch, "per-instance shares held the bound: F proves nothing")
        print("group f: rate 2 over 6 instances, per-instance: %d records in the worst 1 s window (bound %d)"
              % (worst, f.rate + f.batch), file=sys.stderr)

    def check_backpressure(self, d):
        log = read_log(d.log)
        limited = [r for r in log if r["limited"]]
        self.assertGreater(len(limited), 0, "the tenant never rate-limited: the scenario did not happen")
        # Nothing lost: every message accepted, the queue and the DLQ empty.
        self.assertEqual(d.accepted(), d.ids)
        for url in (d.url, d.dlq_url):
            attrs = d.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
                "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
            self.assertEqual(attrs["ApproximateNumberOfMessages"], "0", url)
        # Rate-limited records are failures upstream, the proxy's own field is gone.
        limited_ids = {r["id"] for r in limited}
        failed = set()
        for _, ids, body, raw in d.results:
            self.assertNotIn(b"rateLimited", raw)
            failed |= {f["itemIdentifier"] for f in body.get("batchItemFailures", [])}
        self.assertEqual(limited_ids, failed)
        # Their visibility was moved to the retry-after (2 s), not the queue's 30 s.
        for r in limited:
            later = [t for t in d.receives[r["id"]] if t > r["t"]]
            self.assertTrue(later, "%s never came back" % r["id"])
            back = later[0] - r["t"]
            self.assertGreaterEqual(back, 1.5, "%s came back after %.2f s" % (r["id"], back))
            # a wide margin: anything well under the queue's 30 s shows the
            # visibility was changed, whatever keeps the pollers busy
            self.assertLess(back, VISIBILITY_S / 2,
                            "%s came back after %.2f s: visibility not changed" % (r["id"], back))
        # AIMD: the shares dropped, and deliveries ran well below the configured 4/s.
        logs = "".join(i.stderr() for i in d.instances)
        self.assertIn("rate-limited by the handler: share now", logs)
        self.assertNotIn("ChangeMessageVisibility of", logs)
        times = sorted(r["t"] for r in log)
        delivered = len(times) / (times[-1] - times[0])
        self.assertLess(delivered, 2.0, "%.2f deliveries/s: the proxy did not slow down" % delivered)
        print("group d: %d deliveries, %d rate-limited, %.2f/s delivered (rate 4, capacity 1)"
              % (len(times), len(limited), delivered), file=sys.stderr)

    # -- the edges, one instance each

    def one(self, name, **env):
        e = self.moto.env(HANDLER_LOG=os.path.join(self.tmp, name + ".log"), **env)
        inst = Instance(self.tmp, name, e)
        self.addCleanup(inst.stop)
        return inst

    @staticmethod
    def event(ids, arn="arn:aws:sqs:us-east-1:123456789012:tpc-none"):
        return {"Records": [{"messageId": i, "receiptHandle": "rh-" + i, "body": "x", "eventSource": "aws:sqs",
                             "eventSourceARN": arn, "awsRegion": "us-east-1"} for i in ids]}

    def test_deadline_too_close_returns_the_records(self):
        inst = self.one("dl", TASKPIPE_RATE="1", TASKPIPE_DEADLINE_RESERVE_MS="500")
        self.assertEqual(inst.invoke(self.event(["x1"]))["body"], {"batchItemFailures": []})
        ys = ["y%d" % i for i in range(10)]
        res = inst.invoke(self.event(ys), timeout_ms=4000)   # needs ~10 s of tokens, 3.5 s left
        # Returned at once, not after a wait: judged from the emulator's
        # record. A wait could last until the deadline less the reserve
        # (~3.5 s after delivery); the answer came in under half of that.
        latest = res["deadline_ms"] / 1000.0 - 0.5
        self.assertLess(res["time"] - res["delivered"], (latest - res["delivered"]) / 2,
                        "returned after a wait: %s" % res)
        self.assertEqual(res["kind"], "response")
        self.assertEqual(sorted(f["itemIdentifier"] for f in res["body"]["batchItemFailures"]), ys)
        self.assertEqual([r["id"] for r in read_log(os.path.join(self.tmp, "dl.log"))], ["x1"])
        self.assertIn("returned to the queue", inst.stderr())
        # the proxy goes on: the next batch waits for its tokens, then runs
        res = inst.invoke(self.event(["z1"]), timeout_ms=20000)
        self.assertEqual(res["body"], {"batchItemFailures": []})
        self.assertEqual([r["id"] for r in read_log(os.path.join(self.tmp, "dl.log"))], ["x1", "z1"])

    def test_schedule_unavailable_falls_back_to_the_share(self):
        """TASKPIPE_RATE_TABLE names a table that does not exist: every batch
        is paced at the instance's share (1/s here: one record a second after
        the first), never unpaced, and the failure is logged once a minute."""
        name = "fallback"
        inst = self.one(name, TASKPIPE_RATE="1", TASKPIPE_RATE_TABLE="tpc-no-such-table",
                        AWS_LAMBDA_FUNCTION_NAME="tpc-fallback")
        for n in range(4):
            res = inst.invoke(self.event(["fb%d" % n]), timeout_ms=20000)
            self.assertEqual(res["body"], {"batchItemFailures": []}, inst.stderr())
        times = [r["t"] for r in read_log(os.path.join(self.tmp, name + ".log"))]
        self.assertEqual(len(times), 4)
        for a, b in zip(times, times[1:]):
            self.assertGreater(b - a, 0.8, "unpaced: %s" % times)
        self.assertEqual(inst.stderr().count("shared rate schedule unavailable"), 1, inst.stderr())

    def test_access_denied_falls_back_then_recovers(self):
        """The role may not UpdateItem (AccessDeniedException, DynamoDB's 400,
        through a fault proxy) for two batches: both are paced at the share;
        the third books on the shared schedule again (the item appears), and
        the fourth waits its slot there."""
        proxy = FaultProxy(self.moto.endpoint).start()
        self.addCleanup(proxy.stop)
        denied = json.dumps({"__type": "com.amazon.coral.service#AccessDeniedException",
                             "message": "not authorized to perform: dynamodb:UpdateItem"})
        proxy.add_rule({"match": {"service": "dynamodb", "operation": "UpdateItem"}, "times": 2,
                        "action": {"status": 400, "body": denied,
                                   "headers": {"x-amzn-ErrorType": "AccessDeniedException"}}})
        table = self.state_table()
        name = "denied"
        inst = self.one(name, TASKPIPE_RATE="1", TASKPIPE_RATE_TABLE=table, AWS_ENDPOINT_URL=proxy.endpoint,
                        AWS_LAMBDA_FUNCTION_NAME="tpc-denied-%d" % os.getpid())
        for n in range(4):
            res = inst.invoke(self.event(["ad%d" % n]), timeout_ms=20000)
            self.assertEqual(res["body"], {"batchItemFailures": []}, inst.stderr())
        times = [r["t"] for r in read_log(os.path.join(self.tmp, name + ".log"))]
        self.assertEqual(len(times), 4)
        self.assertGreater(times[1] - times[0], 0.8, "fallback unpaced: %s" % times)
        self.assertGreater(times[3] - times[2], 0.8, "shared schedule unpaced: %s" % times)
        err = inst.stderr()
        self.assertEqual(err.count("shared rate schedule unavailable"), 1, err)
        self.assertIn("AccessDenied", err)
        item = self.moto.client("dynamodb").get_item(TableName=table, Key={
            "pk": {"S": "rate#tpc-denied-%d" % os.getpid()}}).get("Item")
        self.assertIn("tat", item or {}, "the schedule was not used again after the fault")
        # denied twice; then the first claim on the new item cannot fail
        self.assertEqual([x["status"] for x in proxy.log() if x["operation"] == "UpdateItem"][:3],
                         [400, 400, 200])

    def test_child_crash_is_reported(self):
        inst = self.one("crash", TASKPIPE_RATE="5", HANDLER_MODE="crash")
        res = inst.invoke(self.event(["c1"]))
        self.assertEqual(res["kind"], "error")
        self.assertEqual(res["body"]["errorType"], "Runtime.ExitError")
        self.assertIn("exit status 3", res["body"]["errorMessage"])
        self.assertEqual(res["headers"].get("lambda-runtime-function-error-type"), "Runtime.ExitError")
        self.assertEqual(inst.proc.wait(10), 3)

    def test_child_crash_at_init_is_an_init_error(self):
        inst = self.one("crashinit", TASKPIPE_RATE="5", HANDLER_MODE="crash_init")
        err = inst.emu.wait_init_error(10)
        self.assertEqual(err["body"]["errorType"], "Runtime.ExitError")
        self.assertIn("exit status 4", err["body"]["errorMessage"])
        self.assertEqual(inst.proc.wait(10), 4)

    def test_bad_rate_is_an_init_error(self):
        inst = self.one("badrate", TASKPIPE_RATE="fast")
        err = inst.emu.wait_init_error(10)
        self.assertEqual(err["body"]["errorType"], "Runtime.InitError")
        self.assertIn("TASKPIPE_RATE", err["body"]["errorMessage"])
        self.assertEqual(inst.proc.wait(10), 1)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "badrate.log")))

    def test_missing_runtime_is_an_init_error(self):
        e = self.moto.env(TASKPIPE_RATE="1", LAMBDA_TASK_ROOT=self.tmp, _HANDLER="no-such-handler")
        inst = Instance(self.tmp, "missing", e, cmd=[TASKPIPE, "consume"])
        self.addCleanup(inst.stop)
        err = inst.emu.wait_init_error(10)
        self.assertIn("no-such-handler", err["body"]["errorMessage"])
        self.assertIn(err["body"]["errorType"], ("Runtime.InitError", "Runtime.ExitError"))
        self.assertNotEqual(inst.proc.wait(10), 0)

    def test_no_rate_is_a_pass_through(self):
        """Without TASKPIPE_RATE nothing waits and nothing is rewritten, not
        even a rateLimited field."""
        inst = self.one("pass", HANDLER_MODE="echo")
        held = 0.0
        for n in range(5):
            ev = self.event(["p%d-%d" % (n, i) for i in range(10)])
            res = inst.invoke(ev)
            self.assertEqual(res["body"], {"event": ev})
            # from the records: the emulator handing the batch out -> the handler getting it
            got = min(r["t"] for r in read_log(os.path.join(self.tmp, "pass.log")) if r["id"].startswith("p%d-" % n))
            held += got - res["delivered"]
        # pacing at 10/s or less would hold batches 2-5 (40 records) ~4 s
        self.assertLess(held, 2.0, "the proxy held the batches %.2f s in all" % held)
        inst2 = self.one("pass2", HANDLER_MODE="capacity", HANDLER_CAPACITY="0.001")
        inst2.invoke(self.event(["q1"]))
        res = inst2.invoke(self.event(["q2"]))
        self.assertEqual(res["body"]["rateLimited"], [{"itemIdentifier": "q2", "retryAfterSeconds": 2.0}])

    def test_chunked_answer_after_expect_continue(self):
        """A runtime that keeps one connection, asks for 100-continue and
        sends its 300 KB answer chunked: answered 100, decoded, forwarded whole."""
        inst = self.one("raw", TASKPIPE_RATE="50", HANDLER_MODE="raw")
        for n in range(3):
            ev = self.event(["r%d" % n])
            res = inst.invoke(ev)
            self.assertEqual(res["kind"], "response", inst.stderr())
            self.assertEqual(res["body"]["event"], ev)
            self.assertEqual(len(res["body"]["pad"]), 300000)
        self.assertIsNone(inst.proc.poll())

    def test_failed_visibility_change_still_fails_the_record(self):
        """The queue of the record does not exist: ChangeMessageVisibility
        fails, the record is still in batchItemFailures (it comes back after
        the queue's own visibility timeout) and the failure is logged."""
        inst = self.one("cmvfail", TASKPIPE_RATE="100", HANDLER_MODE="capacity", HANDLER_CAPACITY="0.001")
        inst.invoke(self.event(["f1"]))
        res = inst.invoke(self.event(["f2", "f3"]))
        self.assertEqual(res["body"], {"batchItemFailures": [{"itemIdentifier": "f2"}, {"itemIdentifier": "f3"}]})
        self.assertIn("ChangeMessageVisibility of f2 failed", inst.stderr())


if __name__ == "__main__":
    unittest.main()
