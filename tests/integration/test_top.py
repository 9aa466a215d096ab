"""`taskpipe top` through tmux, as a person watches it: the status rows
redrawn in place, keys that sort and filter them, the fleet line, a refresh
that shows tasks sent meanwhile, and q giving the terminal back. Groups and
queues are real (moto); the AWS metrics are played into moto with
PutMetricData, as in test_status."""
import datetime
import os
import shutil
import subprocess
import sys
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import TASKPIPE, Moto  # noqa: E402
from test_pipelines import Env  # noqa: E402


def at(ts):
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc)


@unittest.skipIf(shutil.which("tmux") is None, "tmux is not installed")
class TopTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.moto = Moto.shared()
        e = cls.e = Env(cls.moto, tag="top")
        # paused groups keep their tasks (moto's mapping would consume them)
        e.put({"pipeline": "alpha", "concurrency": 2, "enabled": False},
              {"pipeline": "bravo", "concurrency": 3, "enabled": False},
              {"pipeline": "charlie", "concurrency": 2, "enabled": False},
              {"pipeline": "delta", "concurrency": 2})
        e.apply()
        sqs = e.sqs
        cls.url = {g: sqs.get_queue_url(QueueName=e.prefix + g)["QueueUrl"] for g in ("alpha", "bravo", "charlie")}
        sqs.send_message_batch(QueueUrl=cls.url["bravo"],
                               Entries=[{"Id": str(i), "MessageBody": "t%d" % i} for i in range(5)])
        sqs.send_message(QueueUrl=cls.url["alpha"], MessageBody="one")
        dlq = sqs.get_queue_url(QueueName=e.prefix + "charlie-dlq")["QueueUrl"]
        for i in range(2):
            sqs.send_message(QueueUrl=dlq, MessageBody="dead%d" % i)
        cw = cls.moto.client("cloudwatch")
        m = int(time.time()) // 60 * 60
        fn = lambda name: [{"Name": "FunctionName", "Value": e.prefix + name}]  # noqa: E731
        q = lambda name: [{"Name": "QueueName", "Value": e.prefix + name}]  # noqa: E731
        # every minute from 6 before to 2 after this one: the "last complete
        # minute" has its point even when the clock moves on during the test
        data = [("AWS/Lambda", "Invocations", fn("delta"), m - 60 * k, 180) for k in range(-2, 7)]
        data += [("AWS/Lambda", "ConcurrentExecutions", [], m - 60 * k, 7) for k in range(-2, 2)]
        data += [("AWS/Lambda", "Errors", fn("delta"), m - 120, 4),
                 ("AWS/SQS", "ApproximateAgeOfOldestMessage", q("alpha"), m - 60, 40),
                 ("AWS/SQS", "ApproximateAgeOfOldestMessage", q("bravo"), m - 60, 600)]
        for ns, name, dims, ts, v in data:
            cw.put_metric_data(Namespace=ns, MetricData=[{"MetricName": name, "Dimensions": dims,
                                                          "Timestamp": at(ts + 5), "Value": v}])

    def setUp(self):
        self.sock = "tp-top-%s" % uuid.uuid4().hex[:8]
        self.tmux = ["tmux", "-L", self.sock]
        env = ["env"] + ["%s=%s" % kv for kv in sorted(self.e.env.items())]
        subprocess.run(self.tmux + ["new-session", "-d", "-s", "t", "-x", "150", "-y", "30"] + env +
                       [TASKPIPE, "top", "--interval", "5"], check=True)
        self.addCleanup(subprocess.run, self.tmux + ["kill-server"], capture_output=True)

    def screen(self):
        return subprocess.run(self.tmux + ["capture-pane", "-p", "-t", "t"], capture_output=True,
                              text=True).stdout

    def keys(self, *keys):
        subprocess.run(self.tmux + ["send-keys", "-t", "t"] + list(keys), check=True)

    def wait_for(self, pred, what, timeout=60):
        end = time.time() + timeout
        while time.time() < end:
            s = self.screen()
            if pred(s):
                return s
            time.sleep(0.2)
        self.fail("%s never showed; the screen:\n%s" % (what, self.screen()))

    def order(self, screen):
        """The groups in the order of their rows."""
        names = ("alpha", "bravo", "charlie", "delta")
        return [ln.split()[0] for ln in screen.splitlines() if ln.split() and ln.split()[0] in names]

    def test_rows_keys_refresh_and_quit(self):
        s = self.wait_for(lambda s: "fleet: 4 groups" in s and "delta" in s, "the first screen")
        fleet = [ln for ln in s.splitlines() if ln.startswith("fleet:")][0]
        self.assertIn("backlog 6 ", fleet)
        self.assertIn("DLQ 2 ", fleet)
        self.assertIn("starts 3/s", fleet)            # 180 a minute
        self.assertIn("errors 4 (5m)", fleet)
        self.assertIn("concurrency in use 7 of 1000", fleet)   # the limit the controller cached
        self.assertEqual(self.order(s)[:2], ["bravo", "alpha"])  # worst first: the oldest task
        row = [ln for ln in s.splitlines() if ln.startswith("bravo")][0].split()
        self.assertEqual((row[1], row[2], row[6]), ("ok", "paused", "5"))
        self.assertIn("10m00s", row)

        self.keys("n")
        s = self.wait_for(lambda s: "sort name" in s, "sort by name")
        self.assertEqual(self.order(s), ["alpha", "bravo", "charlie", "delta"])
        self.keys("d")
        s = self.wait_for(lambda s: "sort dlq" in s, "sort by DLQ")
        self.assertEqual(self.order(s)[0], "charlie")

        self.keys("/")
        self.keys("-l", "ha")
        s = self.wait_for(lambda s: "filter /ha" in s, "the filter typed")
        self.keys("Enter")
        s = self.wait_for(lambda s: "2 of 4 groups" in s and "filter:" not in s, "the filter kept")
        self.assertEqual(sorted(self.order(s)), ["alpha", "charlie"])
        self.keys("Escape")
        s = self.wait_for(lambda s: "4 of 4 groups" in s, "the filter cleared")
        self.keys("p")
        s = self.wait_for(lambda s: "problems only" in s, "problems only")
        self.assertEqual(sorted(self.order(s)), ["charlie", "delta"])   # a dead task; errors
        self.keys("p")

        # tasks sent meanwhile appear after a refresh, in place
        self.e.sqs.send_message_batch(QueueUrl=self.url["alpha"],
                                      Entries=[{"Id": str(i), "MessageBody": "n%d" % i} for i in range(4)])
        self.keys("Space")
        s = self.wait_for(lambda s: "backlog 10 " in s, "the refreshed backlog")
        self.assertEqual(sum(1 for ln in s.splitlines() if ln.startswith("fleet:")), 1)

        self.keys("q")
        end = time.time() + 20
        while time.time() < end:
            if subprocess.run(self.tmux + ["has-session", "-t", "t"], capture_output=True).returncode != 0:
                break
            time.sleep(0.2)
        else:
            self.fail("top did not quit on q:\n" + self.screen())

    def test_bad_flags_and_no_terminal(self):
        r = subprocess.run([TASKPIPE, "top", "--sort", "size"], env=self.e.env, capture_output=True, text=True,
                           stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown --sort key 'size'", r.stderr)
        r = subprocess.run([TASKPIPE, "top", "--interval", "1"], env=self.e.env, capture_output=True, text=True,
                           stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--interval wants whole seconds, 5 to 86400", r.stderr)
        r = subprocess.run([TASKPIPE, "top"], env=self.e.env, capture_output=True, text=True,
                           stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 2)
        self.assertIn("needs a terminal", r.stderr)


if __name__ == "__main__":
    unittest.main()
