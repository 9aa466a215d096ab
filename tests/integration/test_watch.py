"""`taskpipe watch`, the stream follower, against moto's DynamoDB stream:
changes become pipelines; killed with SIGKILL and restarted it resumes from
its checkpoint (state table, pk checkpoint#<shard>) and misses nothing;
SIGTERM stops it cleanly; --once stops when caught up."""
import json
import os
import signal
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import TASKPIPE, Moto  # noqa: E402
from test_bootstrap import Env  # noqa: E402
from awsmodel import AwsModel  # noqa: E402


class Watch:
    """A running `taskpipe watch`; its stdout (one JSON line per batch) is collected."""

    def __init__(self, env, *args):
        self.proc = subprocess.Popen([TASKPIPE, "watch", "--interval-ms", "100"] + list(args),
                                     env=env.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.batches = []
        self.lock = threading.Lock()
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self):
        for line in self.proc.stdout:
            with self.lock:
                self.batches.append(json.loads(line))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.t.join(5)
        self.proc.stdout.close()
        self.proc.stderr.close()

    def keys(self):
        with self.lock:
            return [k for b in self.batches for k in b["keys"]]


def wait_for(cond, timeout=120, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return
        time.sleep(0.2)
    raise AssertionError("timed out waiting for " + what)


class WatchTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.moto = Moto.shared()

    def start(self, env, *args):
        w = Watch(env, *args)
        self.addCleanup(w.stop)
        return w

    def test_follow_kill_resume(self):
        env = Env(self.moto, "wat")
        env.put("w1", timeout=20)
        env.put("w2", concurrency=3)
        w = self.start(env, "--from-start")
        wait_for(lambda: env.fn("w1") and env.fn("w2") and env.mappings("w2"), what="w1, w2 created")
        wait_for(lambda: "checkpoint" in (w.batches[-1] if w.batches else {}), 30, "a checkpoint")
        self.assertEqual(sorted(set(w.keys())), ["w1", "w2"])
        self.assertEqual(env.fn("w1")["Timeout"], 20)
        cp = env.ddb.scan(TableName=env.prefix + "state", FilterExpression="begins_with(pk, :p)",
                          ExpressionAttributeValues={":p": {"S": "checkpoint#"}})["Items"]
        self.assertEqual(len(cp), 1)
        self.assertEqual(cp[0]["sequence_number"]["S"], w.batches[-1]["checkpoint"])
        w.proc.send_signal(signal.SIGKILL)
        w.proc.wait()

        # Changes while nobody watches.
        env.put("w3")
        env.put("w1", timeout=40)
        env.delete("w2")
        w2 = self.start(env)      # no --from-start: the checkpoint decides
        wait_for(lambda: env.fn("w3") and env.fn("w1")["Timeout"] == 40 and env.fn("w2") is None,
                 what="changes made while stopped")
        self.assertIsNone(env.queue("w2"))
        # The batch's line is printed after its pipelines are reconciled and
        # its checkpoint written: wait for it rather than race it.
        wait_for(lambda: len(w2.keys()) >= 3, 30, "the resumed batch's line")
        # Resumed after the checkpoint: only the new records, none of the first run's.
        self.assertEqual(w2.keys(), ["w3", "w1", "w2"])
        w2.proc.send_signal(signal.SIGTERM)
        self.assertEqual(w2.proc.wait(30), 0)   # a clean stop after the current batch

    def test_once_and_transient_failure_is_retried_not_skipped(self):
        """A transient failure (another run holds the pipeline's lease) is
        never skipped: --once leaves it for the next run (exit 1), the
        checkpoint stops before it, and the next run reconciles it."""
        env = Env(self.moto, "won")
        env.ddb.put_item(TableName=env.prefix + "state", Item={
            "pk": {"S": "lease#obusy"}, "holder": {"S": "someone-else"}, "pipeline": {"S": "obusy"},
            "expires_at": {"N": str(int(time.time()) + 600)}, "fence": {"N": "1"}})
        env.put("o1")
        env.put("obusy")
        env.put("o2")
        r = subprocess.run([TASKPIPE, "watch", "--from-start", "--once"], env=env.env,
                           capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 1, r.stderr)   # a record left for a retry
        self.assertIsNotNone(env.fn("o1"))
        self.assertIsNotNone(env.fn("o2"))
        self.assertIsNone(env.fn("obusy"))
        batches = [json.loads(line) for line in r.stdout.splitlines()]
        self.assertEqual(len(batches), 1)
        self.assertEqual(len(batches[0]["failed"]), 1)
        self.assertEqual(batches[0]["skipped"], [])
        self.assertEqual(self.skipped(env), [])
        # The checkpoint stops before the failed record, so it comes again.
        env.ddb.delete_item(TableName=env.prefix + "state", Key={"pk": {"S": "lease#obusy"}})
        r = subprocess.run([TASKPIPE, "watch", "--once"], env=env.env,
                           capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr)
        batches = [json.loads(line) for line in r.stdout.splitlines()]
        self.assertEqual(batches[0]["keys"], ["obusy", "o2"])
        self.assertEqual(batches[0]["failed"], [])
        self.assertIsNotNone(env.fn("obusy"))

    def skipped(self, env):
        return env.ddb.scan(TableName=env.prefix + "state", FilterExpression="begins_with(pk, :p)",
                            ExpressionAttributeValues={":p": {"S": "skipped#"}})["Items"]

    def test_poison_record_is_skipped_after_attempts(self):
        """A record that fails for good (the policy refuses the item) is
        tried TASKPIPE_WATCH_MAX_ATTEMPTS times, recorded as skipped with
        its error and sequence number, and the shard moves on: the good
        records behind it are reconciled and the checkpoint passes it."""
        env = Env(self.moto, "wpo")
        env.env["TASKPIPE_WATCH_MAX_ATTEMPTS"] = "3"
        env.put("p1")
        env.put("pbad", concurrency=0)
        env.put("p2")
        env.put("p3")
        w = self.start(env, "--from-start")
        wait_for(lambda: self.skipped(env), 60, "the poison record recorded as skipped")
        wait_for(lambda: env.fn("p1") and env.fn("p2") and env.fn("p3"), 60, "p1..p3 created")
        sk = self.skipped(env)
        self.assertEqual(len(sk), 1, sk)
        sk = sk[0]
        self.assertEqual(sk["pipeline"]["S"], "pbad")
        self.assertEqual(sk["error_code"]["S"], "PolicyRejected")
        self.assertIn("concurrency", sk["message"]["S"])
        self.assertEqual(sk["attempts"]["N"], "3")
        seq = sk["sequence_number"]["S"]
        self.assertEqual(sk["pk"]["S"], "skipped#%s#%s" % (sk["shard"]["S"], seq))
        with w.lock:
            tried = sum(1 for b in w.batches if seq in b["failed"])
            skipped_lines = [b for b in w.batches if seq in b["skipped"]]
        self.assertEqual(tried, 3)
        self.assertEqual(len(skipped_lines), 1)
        self.assertIsNone(env.fn("pbad"))
        # Not blocked: a later record is reconciled and the checkpoint passes the poison.
        env.put("p4")
        wait_for(lambda: env.fn("p4"), 60, "p4 created")
        wait_for(lambda: int(self.checkpoint(env) or 0) > int(seq), 30, "the checkpoint past the poison")

    def checkpoint(self, env):
        cp = env.ddb.scan(TableName=env.prefix + "state", FilterExpression="begins_with(pk, :p)",
                          ExpressionAttributeValues={":p": {"S": "checkpoint#"}})["Items"]
        return cp[0]["sequence_number"]["S"] if cp else None


class WatchLineage(unittest.TestCase):
    """Issue 23, defect 3: a restart across shard rollovers loses nothing.
    The layer splits moto's one shard into a lineage (awsmodel.ShardLineage,
    [lineage]): roll_stream closes the open shard at the last record and
    opens a child (ParentShardId) that takes what is written after."""

    @classmethod
    def setUpClass(cls):
        cls.moto = Moto.shared()
        cls.aws = AwsModel(cls.moto.endpoint, scale=0.02).start()

    @classmethod
    def tearDownClass(cls):
        cls.aws.stop()

    def once(self, env, *args):
        e = dict(env.env, AWS_ENDPOINT_URL=self.aws.endpoint)
        r = subprocess.run([TASKPIPE, "watch", "--once"] + list(args), env=e,
                           capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr)
        return [k for line in r.stdout.splitlines() for k in json.loads(line)["keys"]], r.stderr

    def test_restart_across_two_rollovers_loses_nothing(self):
        env = Env(self.moto, "wlin")
        env.put("l1")
        keys, _ = self.once(env, "--from-start")
        self.assertEqual(keys, ["l1"])
        # watch is down: the shard rolls over twice, records land in both children
        self.aws.roll_stream(env.arn)
        env.put("l2")
        self.aws.roll_stream(env.arn)
        env.put("l3")
        streams = self.moto.client("dynamodbstreams", endpoint=self.aws.endpoint)
        shards = streams.describe_stream(StreamArn=env.arn)["StreamDescription"]["Shards"]
        self.assertEqual(len(shards), 3)
        self.assertEqual([s.get("ParentShardId") for s in shards[1:]],
                         [shards[0]["ShardId"], shards[1]["ShardId"]])
        keys, err = self.once(env)      # no --from-start: a restart
        self.assertEqual(keys, ["l2", "l3"], err)
        for n in ("l2", "l3"):
            self.assertIsNotNone(env.fn(n), n)
        # each shard checkpointed where its records end
        cps = env.ddb.scan(TableName=env.prefix + "state", FilterExpression="begins_with(pk, :p)",
                           ExpressionAttributeValues={":p": {"S": "checkpoint#"}})["Items"]
        self.assertEqual(sorted(c["pk"]["S"].split("#", 1)[1] for c in cps),
                         sorted(s["ShardId"] for s in shards))

    def test_first_start_without_lineage_still_starts_at_latest(self):
        env = Env(self.moto, "wlat")
        env.put("old")
        self.aws.roll_stream(env.arn)
        keys, _ = self.once(env)        # never ran: nothing read, nothing checkpointed
        self.assertEqual(keys, [])
        self.assertIsNone(env.fn("old"))


if __name__ == "__main__":
    unittest.main()
