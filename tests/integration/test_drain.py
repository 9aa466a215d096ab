"""Removed pipelines drain, kept queues are a state, pipelines expire
(issue 25), through the AWS-faithful layer (awsmodel.py) with its
Approximate-count lag on: GetQueueAttributes answers the counts as they were
60 AWS seconds ago (scaled), the way SQS's counts lag behind sends and
deletes. taskpipe's settle time (TASKPIPE_DRAIN_SETTLE_S) is scaled the same.

The test plays the consumer: it receives and deletes the queue's messages
through the layer and counts them. moto's own mapping would take every
message at SendMessage (it runs the function in-process), so the items the
test consumes for carry "enabled": false (an enabled mapping is not what is
measured here: that the resources stay while tasks remain is); every check
reads moto with boto3 or the layer's record, not taskpipe's own output
alone. moto never expires TTL items: the expiry test deletes the item itself
where DynamoDB's TTL would."""
import datetime
import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Moto  # noqa: E402
from awsmodel import AwsModel  # noqa: E402
from test_pipelines import Env  # noqa: E402
from test_bootstrap import Bootstrap  # noqa: E402

SCALE = 0.05
LAG_S = 60 * SCALE              # the counts' lag, real seconds (3 s)
SETTLE = "3"                    # taskpipe's settle time, real seconds (= the lag)


class Base(unittest.TestCase):
    lag = 60              # the counts' lag, AWS seconds (SQS: "at least 1 minute")
    settle = SETTLE       # taskpipe's settle time, real seconds: lag x SCALE

    @classmethod
    def setUpClass(cls):
        cls.moto = Moto.shared()
        cls.aws = AwsModel(cls.moto.endpoint, scale=SCALE, count_lag_s=cls.lag).start()

    @classmethod
    def tearDownClass(cls):
        cls.aws.stop()

    def env(self, tag, **extra):
        e = Env(self.moto, tag, AWS_ENDPOINT_URL=self.aws.endpoint,
                TASKPIPE_DRAIN_SETTLE_S=self.settle, **extra)
        # the test's own SQS traffic goes through the layer, so it sees the sends
        e.lsqs = self.moto.client("sqs", endpoint=self.aws.endpoint)
        return e

    # -- readers (moto directly) --
    def state(self, e, name):
        return e.ddb.get_item(TableName=e.prefix + "state", ConsistentRead=True,
                              Key={"pk": {"S": "pipeline#" + name}}).get("Item") or {}

    def status(self, e, name):
        return self.state(e, name).get("status", {}).get("S")

    def true_count(self, e, url):
        """Messages in a queue as moto holds them now (no lag)."""
        a = e.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        return sum(int(a[k]) for k in ("ApproximateNumberOfMessages",
                                       "ApproximateNumberOfMessagesNotVisible",
                                       "ApproximateNumberOfMessagesDelayed"))

    def send(self, e, url, n, tag):
        for i in range(0, n, 10):
            e.lsqs.send_message_batch(QueueUrl=url, Entries=[
                {"Id": str(k), "MessageBody": "%s-%d" % (tag, i + k)} for k in range(min(10, n - i))])

    def consume(self, e, url, got, limit=10):
        """The consumer: receive up to limit messages, record and delete them."""
        msgs = e.lsqs.receive_message(QueueUrl=url, MaxNumberOfMessages=limit,
                                      WaitTimeSeconds=0).get("Messages", [])
        for m in msgs:
            got.append(m["Body"])
            e.lsqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        return len(msgs)

    def ls(self, e, *flags):
        r = e.run("ls", "--json", *flags)
        self.assertEqual(r.returncode, 0, r.stderr)
        return {row["pipeline"]: row for row in json.loads(r.stdout)}

    def drift(self, e, *flags):
        r = e.run("drift", "--json", *flags)
        return r.returncode, json.loads(r.stdout)


class Drain100(Base):
    # A longer lag (10 s) than the others: the first look must come within
    # it of the sends however loaded the machine is.
    lag = 200
    settle = "10"

    def test_drain_of_100_messages_loses_none(self):
        e = self.env("drn")
        e.put({"pipeline": "d", "enabled": False})
        res, _ = e.apply()
        self.assertEqual(res["d"]["status"], "ok", res["d"])
        url = e.queue_url(e.qname("d"))
        dlq = e.queue_url(e.qname("d", True))
        # Sent just before the item goes: the lagged counts still read zero
        # at the first look, so a drain trusting one read would lose them all.
        self.send(e, url, 100, "task")
        self.assertEqual(e.run("rm", "d").returncode, 0)
        res, _ = e.apply()
        self.assertEqual(res["d"]["state"], "draining", res["d"])
        self.assertEqual(res["d"]["changes"], [])
        st = self.state(e, "d")
        self.assertEqual(st["status"]["S"], "draining")
        self.assertEqual(st["drain_timeout"]["N"], "86400")     # the default
        self.assertIn("drain_empty_at", st, "the first (lagged) read saw an empty queue")
        self.assertEqual(self.true_count(e, url), 100)
        self.assertEqual(self.ls(e)["d"]["status"], "draining")
        rc, doc = self.drift(e)
        self.assertEqual(rc, 0, doc)
        self.assertEqual([(o["pipeline"], o.get("state")) for o in doc["orphans"]], [("d", "draining")])
        self.assertEqual(doc["summary"]["orphans"], 0)
        r = e.run("plan")
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertIn("d: draining", r.stdout)

        got, runs, deleted_at = [], 0, None
        deadline = time.time() + 180
        while time.time() < deadline:
            if len(got) < 100:
                self.consume(e, url, got, limit=7)
            res, _ = e.apply()
            runs += 1
            if e.queue_url(e.qname("d")) is None:
                deleted_at = len(got)
                break
            # while it drains, the consumers are all there
            self.assertIsNotNone(e.function("d"), "function gone while %d tasks left" % (100 - len(got)))
            self.assertEqual(len(e.mappings("d")), 1)
            time.sleep(0.3)
        self.assertEqual(deleted_at, 100, "the queue went with %s of 100 tasks consumed" % deleted_at)
        self.assertEqual(sorted(got), sorted("task-%d" % i for i in range(100)))   # 0 lost, none twice
        self.assertGreater(runs, 2)
        self.assertIsNone(e.function("d"))
        self.assertEqual(e.mappings("d"), [])
        # The DLQ waits for counts read a settle time after the consumers went.
        self.assertIsNotNone(e.queue_url(e.qname("d", True)))
        self.assertEqual(self.status(e, "d"), "draining")
        time.sleep(float(self.settle) + 0.5)
        rc, doc = self.drift(e, "--fix")      # the scheduled run's repair finishes it
        self.assertEqual(rc, 0, doc)
        self.assertIsNone(e.queue_url(e.qname("d", True)), dlq)
        self.assertEqual(self.status(e, "d"), "deleted")
        self.assertNotIn("drain_started_at", self.state(e, "d"))
        self.assertNotIn("d", self.ls(e))


class Drain(Base):
    def test_reput_cancels_the_drain(self):
        e = self.env("cnl")
        e.put({"pipeline": "c", "concurrency": 3, "enabled": False})
        e.apply()
        url = e.queue_url(e.qname("c"))
        fn_arn = e.function("c")["Configuration"]["FunctionArn"]
        self.send(e, url, 5, "c")
        self.assertEqual(e.run("rm", "c").returncode, 0)
        res, _ = e.apply()
        self.assertEqual(res["c"]["state"], "draining")
        e.put({"pipeline": "c", "concurrency": 3, "enabled": False})
        res, _ = e.apply()
        self.assertEqual(res["c"]["status"], "ok", res["c"])
        self.assertNotIn("state", res["c"])
        st = self.state(e, "c")
        self.assertEqual(st["status"]["S"], "ok")
        self.assertNotIn("drain_started_at", st)
        # the same resources, tasks still in the queue
        self.assertEqual(e.queue_url(e.qname("c")), url)
        self.assertEqual(e.function("c")["Configuration"]["FunctionArn"], fn_arn)
        self.assertEqual(self.true_count(e, url), 5)
        time.sleep(float(SETTLE) + 0.5)
        res, _ = e.apply("c", "--force")
        self.assertEqual(res["c"]["changes"], [], res["c"])
        self.assertEqual(self.ls(e)["c"]["status"], "ok")

    def test_rm_now_drops_and_says_how_many(self):
        e = self.env("now")
        e.put({"pipeline": "n", "enabled": False}, {"pipeline": "other"})
        e.apply()
        self.send(e, e.queue_url(e.qname("n")), 7, "n")
        self.send(e, e.queue_url(e.qname("n", True)), 2, "dead")
        time.sleep(LAG_S + 0.5)     # the counts it reports are the lagged ones
        r = e.run("rm", "--now", "n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("deleted n now: 9 messages dropped", r.stdout)
        self.assertIsNone(e.function("n"))
        self.assertIsNone(e.queue_url(e.qname("n")))
        self.assertIsNone(e.queue_url(e.qname("n", True)))
        self.assertEqual(self.status(e, "n"), "deleted")
        self.assertIsNotNone(e.function("other"))

    def test_timeout_keeps_the_queue_with_its_tasks(self):
        e = self.env("tmo")
        e.put({"pipeline": "t", "drain_timeout": 2, "enabled": False})
        e.apply()
        url = e.queue_url(e.qname("t"))
        self.send(e, url, 3, "t")
        self.assertEqual(e.run("rm", "t").returncode, 0)
        res, _ = e.apply()
        self.assertEqual(self.state(e, "t")["drain_timeout"]["N"], "2")
        time.sleep(2.5)
        res, _ = e.apply()
        # out of time: consumers go, the queue with its 3 tasks stays
        self.assertEqual({(c["resource"], c["action"]) for c in res["t"]["changes"]},
                         {("mapping", "delete"), ("function", "delete")})
        self.assertIsNone(e.function("t"))
        self.assertEqual(e.queue_url(e.qname("t")), url)
        time.sleep(float(SETTLE) + 0.5)
        res, _ = e.apply()
        self.assertEqual(res["t"]["state"], "kept", res["t"])
        self.assertEqual(self.true_count(e, url), 3)
        self.assertIsNone(e.queue_url(e.qname("t", True)), "the empty DLQ goes")
        kept = self.ls(e, "--kept")
        self.assertEqual(kept["t"]["kept"], [{"resource": "queue", "queue": e.qname("t"), "messages": 3}])


class Kept(Base):
    def drain_to_kept(self, e, names):
        """rm, then runs a settle time apart until each pipeline is kept."""
        for n in names:
            self.assertEqual(e.run("rm", n).returncode, 0)
        for _ in range(3):
            res, _ = e.apply()
            time.sleep(float(SETTLE) + 0.5)
        res, _ = e.apply()
        for n in names:
            self.assertEqual(self.status(e, n), "kept", self.state(e, n))

    def test_kept_dlq_listed_redriven_purged_drift_green(self):
        e = self.env("kpt")
        e.put({"pipeline": "k", "enabled": False}, {"pipeline": "p", "enabled": False},
              {"pipeline": "live", "enabled": False})
        e.apply()
        # failed tasks in the dead-letter queues
        self.send(e, e.queue_url(e.qname("k", True)), 4, "failed")
        self.send(e, e.queue_url(e.qname("p", True)), 3, "junk")
        self.drain_to_kept(e, ["k", "p"])
        self.assertIsNone(e.function("k"))
        self.assertIsNone(e.queue_url(e.qname("k")))
        kdlq = e.queue_url(e.qname("k", True))
        self.assertIsNotNone(kdlq)

        # listed
        kept = self.ls(e, "--kept")
        self.assertEqual(set(kept), {"k", "p"})
        self.assertEqual(kept["k"]["kept"], [{"resource": "dead-letter queue", "queue": e.qname("k", True),
                                              "messages": 4}])
        r = e.run("kept", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual({row["pipeline"] for row in json.loads(r.stdout)}, {"k", "p"})
        self.assertEqual(self.ls(e)["k"]["status"], "kept")

        # drift: a state, not drift; the repair leaves kept queues alone
        for flags in ((), ("--fix",)):
            rc, doc = self.drift(e, *flags)
            self.assertEqual(rc, 0, doc)
            self.assertEqual(sorted((o["pipeline"], o.get("state")) for o in doc["orphans"]),
                             [("k", "kept"), ("p", "kept")])
            self.assertEqual((doc["summary"]["orphans"], doc["summary"]["kept"]), (0, 2))
            self.assertTrue(all("fix" not in o or o["fix"]["status"] == "none" for o in doc["orphans"]), doc)
        self.assertEqual(self.true_count(e, kdlq), 4)

        # redrive into the live pipeline's queue
        r = e.run("kept", "redrive", "k", "--to", "nosuch")
        self.assertEqual(r.returncode, 1)
        self.assertIn("NotLive", r.stderr)
        r = e.run("kept", "redrive", "k", "--to", "live")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("k: 4 messages moved to live's queue", r.stdout)
        live = e.queue_url(e.qname("live"))
        got = []
        while self.consume(e, live, got):
            pass
        self.assertEqual(sorted(got), ["failed-%d" % i for i in range(4)])
        self.assertIsNone(e.queue_url(e.qname("k", True)))
        self.assertEqual(self.status(e, "k"), "deleted")

        # purge: only with --yes
        pdlq = e.queue_url(e.qname("p", True))
        r = e.run("kept", "purge", "p")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--yes", r.stderr)
        self.assertEqual(self.true_count(e, pdlq), 3)
        r = e.run("kept", "purge", "p", "--yes")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("about 3 messages dropped", r.stdout)
        self.assertIsNone(e.queue_url(e.qname("p", True)))
        self.assertEqual(self.status(e, "p"), "deleted")
        r = e.run("kept", "purge", "p", "--yes")
        self.assertEqual(r.returncode, 1)
        self.assertIn("NotKept", r.stderr)

        self.assertEqual(self.ls(e, "--kept"), {})
        rc, doc = self.drift(e)
        self.assertEqual(rc, 0, doc)
        self.assertEqual(doc["orphans"], [])


class Expiry(Base):
    def test_expiring_pipeline_whole_life(self):
        e = self.env("exp")
        cfg = e.prefix + "config"
        ttl = e.ddb.describe_time_to_live(TableName=cfg)["TimeToLiveDescription"]
        self.assertEqual((ttl["TimeToLiveStatus"], ttl["AttributeName"]), ("ENABLED", "expires_at"))
        r = e.run("init")      # again: nothing to do
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("TTL on expires_at", r.stdout)

        # refused, naming the field
        for bad, why in (("tomorrow", "not ISO 8601"), (1700000000000, "milliseconds"), (1.5, "not whole epoch"), (-5, "not whole epoch")):
            r = e.run("put", "-", input=json.dumps({"pipeline": "bad", "expires_at": bad}))
            self.assertEqual(r.returncode, 1, r.stdout)
            self.assertIn("expires_at", r.stderr)
            self.assertIn(why, r.stderr)

        # set up right before use: ISO 8601 in, epoch seconds stored
        at = int(time.time()) + 8
        iso = datetime.datetime.fromtimestamp(at, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        e.put({"pipeline": "x", "enabled": False, "expires_at": iso}, {"pipeline": "stay"})
        item = e.ddb.get_item(TableName=cfg, Key={"pipeline": {"S": "x"}})["Item"]
        self.assertEqual(item["expires_at"], {"N": str(at)})
        res, _ = e.apply()
        self.assertEqual(res["x"]["status"], "ok", res["x"])
        self.assertEqual(self.ls(e)["x"]["expires_at"], at)
        # use it
        url = e.queue_url(e.qname("x"))
        self.send(e, url, 5, "job")
        got = []
        while len(got) < 5:
            self.consume(e, url, got)
        # past expires_at the item still exists (TTL deletes it within days),
        # and the scheduled run drains the pipeline anyway
        while time.time() <= at + 1:
            time.sleep(0.5)
        self.assertIn("Item", e.ddb.get_item(TableName=cfg, Key={"pipeline": {"S": "x"}}))
        rc, doc = self.drift(e, "--fix")
        self.assertEqual(rc, 0, doc)
        self.assertEqual([(o["pipeline"], o.get("state")) for o in doc["orphans"]], [("x", "draining")])
        self.assertEqual(self.status(e, "x"), "draining")
        self.assertIsNotNone(e.function("x"))     # it drains: consumers stay a while
        self.assertEqual(self.ls(e)["x"]["status"], "draining")
        for _ in range(4):
            time.sleep(float(SETTLE) + 0.5)
            rc, doc = self.drift(e, "--fix")
            self.assertEqual(rc, 0, doc)
        self.assertEqual(self.status(e, "x"), "deleted")
        self.assertIsNone(e.function("x"))
        self.assertIsNone(e.queue_url(e.qname("x")))
        self.assertIsNone(e.queue_url(e.qname("x", True)))
        self.assertEqual(sorted(got), ["job-%d" % i for i in range(5)])
        self.assertIsNotNone(e.function("stay"))
        # every reconcile agrees (a stream record of the item, apply)
        res, _ = e.apply("x")
        # nothing left to do: "delete" or, observed as plan does, "none"; never a create
        self.assertIn(res["x"]["action"], ("delete", "none"), res["x"])
        self.assertEqual(res["x"]["changes"], [], res["x"])
        self.assertIsNone(e.function("x"))
        # DynamoDB's TTL deletes the item at last (moto never does: played here)
        e.ddb.delete_item(TableName=cfg, Key={"pipeline": {"S": "x"}})
        res, _ = e.apply()
        self.assertEqual(set(res), {"stay"})
        rc, doc = self.drift(e)
        self.assertEqual((rc, doc["orphans"]), (0, []), doc)


class Scheduled(Base):
    def test_scheduled_event_finishes_drains(self):
        """The EventBridge-scheduled run (bootstrap) is what re-visits a
        draining pipeline when nothing else touches it."""
        e = self.env("sch")
        e.put({"pipeline": "s", "enabled": False}, {"pipeline": "live"})
        e.apply()
        self.assertEqual(e.run("rm", "s").returncode, 0)
        b = Bootstrap(e)
        self.addCleanup(b.stop)
        event = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}
        seen = []
        for _ in range(5):
            res = b.invoke(event)
            self.assertEqual(res["kind"], "response", res)
            drift = res["body"]["drift"]
            self.assertEqual(drift["exit_code"], 0, drift)
            seen.append(self.status(e, "s"))
            if seen[-1] == "deleted":
                break
            self.assertEqual([(o["pipeline"], o.get("state")) for o in drift["orphans"]], [("s", "draining")])
            time.sleep(float(SETTLE) + 0.5)
        self.assertEqual(seen[0], "draining")
        self.assertEqual(seen[-1], "deleted", seen)
        self.assertIsNone(e.function("s"))
        self.assertIsNone(e.queue_url(e.qname("s")))
        self.assertIsNone(e.queue_url(e.qname("s", True)))
        self.assertIsNotNone(e.function("live"))


if __name__ == "__main__":
    unittest.main()
