"""The progress line on a terminal, through tmux (capture-pane), for apply, drift,
rollout (with the canary pause's countdown) and send; and nothing of it when
stderr is not a terminal or with --json. Log lines printed while the line is
up (DEBUG retries forced by the proxy) must each start their own row: the
progress text never shares a row with a log line."""
import io
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Moto, TASKPIPE  # noqa: E402
from awsproxy import FaultProxy  # noqa: E402
from test_pipelines import Env  # noqa: E402
from test_rollout import policy_file  # noqa: E402

PROGRESS = re.compile(r"(apply|rollout|send|drift) \| ")


def slow_canary(src):
    return src.replace("wave(1, 1, watch)", "wave(1, 1, 6)")


@unittest.skipIf(shutil.which("tmux") is None, "tmux is not installed")
class ProgressTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.moto = Moto.shared()
        cls.policy = policy_file(slow_canary)
        cls.sock = "tp-progress-%d" % os.getpid()
        cls.tmux = ["tmux", "-L", cls.sock]

    @classmethod
    def tearDownClass(cls):
        subprocess.run(cls.tmux + ["kill-server"], capture_output=True)
        os.unlink(cls.policy)

    def in_tmux(self, env, args, stdin=None):
        """Run taskpipe in a tmux pane; returns (snapshots, final screen)."""
        script = tempfile.NamedTemporaryFile("w", suffix=".sh", delete=False)
        for k, v in env.items():
            script.write("export %s=%s\n" % (k, shlex.quote(v)))
        cmd = " ".join(shlex.quote(a) for a in [TASKPIPE] + args)
        if stdin:
            cmd += " < " + shlex.quote(stdin)
        script.write("%s\necho TASKPIPE-EXIT=$?\nsleep 600\n" % cmd)
        script.close()
        name = "p%d" % int(time.time() * 1000)
        subprocess.run(self.tmux + ["new-session", "-d", "-s", name, "-x", "200", "-y", "50",
                                    "sh", script.name], check=True)
        shots = []
        try:
            deadline = time.time() + 300
            while time.time() < deadline:
                shot = subprocess.run(self.tmux + ["capture-pane", "-p", "-t", name],
                                      capture_output=True, text=True).stdout
                shots.append(shot)
                if "TASKPIPE-EXIT=" in shot:
                    break
                time.sleep(0.1)
            else:
                self.fail("taskpipe did not finish in the pane")
        finally:
            subprocess.run(self.tmux + ["kill-session", "-t", name], capture_output=True)
            os.unlink(script.name)
        return shots, shots[-1]

    def assert_rows_clean(self, shots):
        """No row holds both progress text and a log line; log lines start their row."""
        for shot in shots:
            for row in shot.splitlines():
                if '"timestamp"' in row:
                    self.assertTrue(row.startswith('{"timestamp"'), "garbled row: %r" % row)
                    self.assertIsNone(PROGRESS.search(row), "garbled row: %r" % row)

    def test_apply_progress_and_log_lines(self):
        e = Env(self.moto, tag="prog")
        e.put(*[{"pipeline": "p%02d" % i, "concurrency": 2, "enabled": False} for i in range(24)])
        proxy = FaultProxy(self.moto.endpoint).start()
        try:
            # slow enough to watch; a few 500s make DEBUG retry lines meanwhile
            proxy.add_rule({"match": {"operation": "CreateFunction"}, "times": -1, "action": {"delay": 0.25}})
            proxy.add_rule({"match": {"operation": "CreateQueue"}, "times": 4, "action": {"status": 500}})
            env = dict(e.env, AWS_ENDPOINT_URL=proxy.endpoint, TASKPIPE_LOG_LEVEL="DEBUG",
                       TASKPIPE_PARALLEL="4")
            shots, final = self.in_tmux(env, ["apply", "--all"])
        finally:
            proxy.stop()
        self.assertIn("TASKPIPE-EXIT=0", final)
        lines = [row for s in shots for row in s.splitlines() if PROGRESS.search(row)]
        self.assertTrue(any(re.search(r"apply \| step \d+/\d+ \w", r) for r in lines), lines[-5:])
        self.assertTrue(any(re.search(r"\d+/\d+ calls \| [\d.]+/s \| ETA \d", r) for r in lines), lines[-20:])
        self.assertTrue(any("retry" in s for s in shots), "no log line was printed during the run")
        self.assert_rows_clean(shots)
        # the line is gone at the end; the summary stands
        self.assertIsNone(PROGRESS.search(final), final)
        self.assertIn("24 pipelines: 24 changed", final)

        # drift: its phases, on a terminal (slowed down so a 0.1 s poll sees them)
        proxy = FaultProxy(self.moto.endpoint).start()
        try:
            proxy.add_rule({"match": {"operation": "GetQueueAttributes"}, "times": -1, "action": {"delay": 0.2}})
            env = dict(e.env, AWS_ENDPOINT_URL=proxy.endpoint, TASKPIPE_LOG_LEVEL="WARN", TASKPIPE_PARALLEL="4")
            shots, final = self.in_tmux(env, ["drift"])
        finally:
            proxy.stop()
        self.assertIn("TASKPIPE-EXIT=0", final)
        self.assertTrue(any(re.search(r"drift \| 24 pipelines: queues \| \d+/\d+ calls", s) for s in shots),
                        [r for s in shots for r in s.splitlines() if "drift" in r][-5:])
        self.assertIsNone(PROGRESS.search(final), final)

        # not a terminal: stderr carries no progress (nor its escape codes)
        r = e.run("apply", "--all", "--force")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("\r", r.stderr)
        self.assertNotIn("\x1b[", r.stderr)
        self.assertIsNone(PROGRESS.search(r.stderr), r.stderr)
        # a terminal, but --json: nothing either
        shots, final = self.in_tmux(dict(e.env, TASKPIPE_LOG_LEVEL="WARN"), ["apply", "--all", "--force", "--json"])
        self.assertIn("TASKPIPE-EXIT=0", final)
        self.assertFalse([s for s in shots if PROGRESS.search(s)])

    def test_rollout_canary_countdown(self):
        e = Env(self.moto, tag="progro", TASKPIPE_POLICY=self.policy)
        e.put(*[{"pipeline": "r%d" % i, "concurrency": 2, "enabled": False} for i in range(4)])
        e.apply()
        b = io.BytesIO()
        with zipfile.ZipFile(b, "w") as z:
            z.writestr("bootstrap", "#!/bin/sh\necho v2\n")
        e.s3.put_object(Bucket="code", Key="consumer.zip", Body=b.getvalue())
        # moto has no Lambda traffic: the health check goes on at once, without
        # evidence (as test_rollout sets it)
        shots, final = self.in_tmux(dict(e.env, TASKPIPE_LOG_LEVEL="WARN", TASKPIPE_HEALTH_WAIT_MAX_S="0",
                                         TASKPIPE_METRIC_PERIOD_S="1"),
                                    ["rollout", "s3://code/consumer.zip"])
        self.assertIn("TASKPIPE-EXIT=0", final)
        left = [int(m.group(1)) for s in shots
                for m in re.finditer(r"rollout \| wave 1/3: 1 functions \| canary pause after wave 1/3: (\d+)s left", s)]
        self.assertTrue(left, "no countdown seen")
        self.assertGreaterEqual(max(left), 4)
        self.assertLess(min(left), max(left), "the countdown did not move: %s" % sorted(set(left)))
        self.assertTrue(any(re.search(r"rollout \| wave [23]/3", s) for s in shots))
        self.assertIsNone(PROGRESS.search(final), final)

    def test_send_progress_and_json(self):
        e = Env(self.moto, tag="progsd")
        e.put({"pipeline": "s", "concurrency": 2, "enabled": False})
        e.apply()
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
            for i in range(300):
                f.write("task %d\n" % i)
        proxy = FaultProxy(self.moto.endpoint).start()
        try:
            proxy.add_rule({"match": {"operation": "SendMessageBatch"}, "times": -1, "action": {"delay": 0.1}})
            env = dict(e.env, AWS_ENDPOINT_URL=proxy.endpoint, TASKPIPE_PARALLEL="4", TASKPIPE_LOG_LEVEL="WARN")
            shots, final = self.in_tmux(env, ["send", "s", "-"], stdin=f.name)
            self.assertIn("TASKPIPE-EXIT=0", final)
            self.assertIn("sent 300 of 300 tasks", final)
            self.assertTrue(any(re.search(r"send \| to s \| \d+/300 tasks", s) for s in shots))
            self.assertIsNone(PROGRESS.search(final), final)
            shots, final = self.in_tmux(env, ["send", "s", "-", "--json"], stdin=f.name)
            self.assertIn("TASKPIPE-EXIT=0", final)
            self.assertFalse([s for s in shots if PROGRESS.search(s)])
        finally:
            proxy.stop()
            os.unlink(f.name)


if __name__ == "__main__":
    unittest.main()
