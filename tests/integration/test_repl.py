"""taskpipe repl and taskpipe run against moto. The prompt is driven through
tmux as a person would type: a multi-line function, an error then a working
line, tp calls, Ctrl-D. Then the scripted forms: repl -e and run FILE."""
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Moto, run_taskpipe, TASKPIPE  # noqa: E402

PREFIX = "rp%d-" % (os.getpid() % 10000)


def code_zip():
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w") as z:
        z.writestr("bootstrap", "#!/bin/sh\n")
    return b.getvalue()


class Repl(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.moto = Moto.shared()
        s3 = cls.moto.client("s3")
        try:
            s3.create_bucket(Bucket="code")
        except s3.exceptions.BucketAlreadyOwnedByYou:
            pass
        s3.put_object(Bucket="code", Key="consumer.zip", Body=code_zip())
        cls.env = cls.moto.env(TASKPIPE_CODE_BUCKET="code", TASKPIPE_CODE_KEY="consumer.zip",
                               TASKPIPE_ROLE_ARN=cls.moto.role_arn(), TASKPIPE_PREFIX=PREFIX,
                               TASKPIPE_CONFIG_TABLE=PREFIX + "config", TASKPIPE_STATE_TABLE=PREFIX + "state")
        for args, inp in ((["init"], None), (["put", "-"], json.dumps({"pipeline": "alpha", "enabled": False})),
                          (["apply", "alpha"], None)):
            r = run_taskpipe(args, cls.env, input=inp)
            assert r.returncode == 0, (args, r.stdout, r.stderr)
        # enabled=false: the mapping is off, so moto's docker-less Lambda does not drain the queue.
        sqs = cls.moto.client("sqs")
        url = sqs.get_queue_url(QueueName=PREFIX + "alpha")["QueueUrl"]
        for i in range(3):
            sqs.send_message(QueueUrl=url, MessageBody="m%d" % i)
        dlq = sqs.get_queue_url(QueueName=PREFIX + "alpha-dlq")["QueueUrl"]
        for i in range(12):
            sqs.send_message(QueueUrl=dlq, MessageBody="dead%d" % i)
        cls.sqs = sqs

    def run_tp(self, *args, input=None):
        return run_taskpipe(list(args), self.env, input=input)

    # ---- through tmux ----
    @unittest.skipIf(shutil.which("tmux") is None, "tmux is not installed")
    def test_interactive_session(self):
        sock = "tp-repl-%d" % os.getpid()
        tmux = ["tmux", "-L", sock]
        env = dict(self.env)
        env["TERM"] = "xterm"
        subprocess.run(tmux + ["new-session", "-d", "-s", "r", "-x", "160", "-y", "60", TASKPIPE, "repl"],
                       env=env, check=True)
        try:
            def screen():
                return subprocess.run(tmux + ["capture-pane", "-p", "-J", "-t", "r", "-S", "-400"],
                                      capture_output=True, text=True).stdout

            def wait_for(text, timeout=20):
                deadline = time.time() + timeout
                while time.time() < deadline:
                    s = screen()
                    if text in s:
                        return s
                    time.sleep(0.1)
                self.fail("%r not on screen:\n%s" % (text, screen()))

            def type_line(line):
                subprocess.run(tmux + ["send-keys", "-t", "r", "-l", line], check=True)
                subprocess.run(tmux + ["send-keys", "-t", "r", "Enter"], check=True)

            wait_for("> ")
            type_line("function double(x)")
            wait_for(">> ")
            type_line("  return x * 2")
            type_line("end")
            type_line("double(21)")
            wait_for("\n42\n")
            type_line("error('boom here')")
            s = wait_for("stack traceback")
            self.assertIn("boom here", s)
            type_line("1 + 1")
            wait_for("\n2\n")
            type_line("tp.ls()[1].pipeline")
            wait_for('"alpha"')
            type_line("tp.depth('alpha')")
            s = wait_for("visible = 3")
            self.assertIn("dlq = 12", s)
            self.assertIn("in_flight = 0", s)
            type_line("{b = {1, 2}, a = 'x'}")
            wait_for('{ a = "x", b = { 1, 2 } }')
            subprocess.run(tmux + ["send-keys", "-t", "r", "C-d"], check=True)
            deadline = time.time() + 10
            while time.time() < deadline:
                if subprocess.run(tmux + ["has-session", "-t", "r"], capture_output=True).returncode != 0:
                    break
                time.sleep(0.1)
            else:
                self.fail("repl still running after Ctrl-D:\n" + screen())
        finally:
            subprocess.run(tmux + ["kill-server"], capture_output=True)

    # ---- scripted ----
    def test_e_prints_values_and_fails_on_error(self):
        r = self.run_tp("repl", "-e", "1 + 2", "-e", "tp.get('alpha').pipeline")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, '3\n"alpha"\n')
        r = self.run_tp("repl", "-e", "error('nope')")
        self.assertEqual(r.returncode, 1)
        self.assertIn("nope", r.stderr)
        self.assertIn("stack traceback", r.stderr)
        r = self.run_tp("repl", "-e", "#tp.rollout('status')")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "0\n")
        r = self.run_tp("repl", "-e", "tp.rollout('not-a-uri')")
        self.assertEqual(r.returncode, 1)
        self.assertIn("BadUri", r.stderr)
        self.assertIn("s3://BUCKET/KEY", r.stderr)

    def test_piped_stdin_session(self):
        r = self.run_tp("repl", input="x = 5\nfor i = 1, 2 do\n x = x + i\nend\nx\nsyntax error here\nx * 2\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "8\n16\n")
        self.assertIn("syntax error", r.stderr)

    def test_tp_functions(self):
        code = r"""
local spec = assert(tp.policy({pipeline = "zeta", concurrency = 3}))
assert(spec.mapping.ScalingConfig.MaximumConcurrency == 3, tp.pretty(spec.mapping))
local none, why = tp.policy({pipeline = "zeta", concurrency = 0})
assert(none == nil and why:find("PolicyRejected"), why)
tp.put({pipeline = "beta", timeout = 10, env = {API_KEY = "k1"}})
assert(tp.get("beta").timeout == 10)
local plan = tp.plan({"beta"})
assert(plan[1].action == "create", tp.pretty(plan))
local res = tp.apply("beta")
assert(res[1].status == "ok", tp.pretty(res))
local paused = tp.pause("beta")
assert(paused[1].paused == true and paused[1].status == "ok", tp.pretty(paused))
assert(tp.get("beta").enabled == nil)   -- a pause is the operator's record, not the item's
for _, row in ipairs(tp.ls()) do
  if row.pipeline == "beta" then assert(row.paused == true, tp.pretty(row)) end
end
local q = tp.aws("sqs", "ListQueues", {QueueNamePrefix = "PFX"})
assert(#q.QueueUrls == 4, tp.pretty(q))
local fns = tp.aws("lambda", "GET /2015-03-31/functions/")
assert(type(fns.Functions) == "table")
local resumed = tp.resume("beta")
assert(resumed[1].paused == false and resumed[1].status == "ok", tp.pretty(resumed))
assert(tp.get("beta").enabled == nil)
tp.delete("beta")
assert(tp.get("beta") == nil)
tp.apply("beta")
print("ok", tp.reload_policy() ~= nil)
""".replace("PFX", PREFIX)
        r = self.run_tp("repl", "-e", code)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(r.stdout, "ok\ttrue\n")
        lam = self.moto.client("lambda")
        with self.assertRaises(lam.exceptions.ResourceNotFoundException):
            lam.get_function(FunctionName=PREFIX + "beta")

    def test_redrive(self):
        r = self.run_tp("repl", "-e", "tp.redrive('alpha')")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.startswith("12\t"), r.stdout)
        a = self.sqs.get_queue_attributes(QueueUrl=self.sqs.get_queue_url(QueueName=PREFIX + "alpha")["QueueUrl"],
                                          AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
        self.assertEqual(a["ApproximateNumberOfMessages"], "15")
        d = self.sqs.get_queue_attributes(
            QueueUrl=self.sqs.get_queue_url(QueueName=PREFIX + "alpha-dlq")["QueueUrl"],
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        self.assertEqual((d["ApproximateNumberOfMessages"], d["ApproximateNumberOfMessagesNotVisible"]), ("0", "0"))
        # Move them back so the interactive test's counts hold in any order.
        url = self.sqs.get_queue_url(QueueName=PREFIX + "alpha")["QueueUrl"]
        dlq = self.sqs.get_queue_url(QueueName=PREFIX + "alpha-dlq")["QueueUrl"]
        self.sqs.purge_queue(QueueUrl=url)
        for i in range(3):
            self.sqs.send_message(QueueUrl=url, MessageBody="m%d" % i)
        for i in range(12):
            self.sqs.send_message(QueueUrl=dlq, MessageBody="dead%d" % i)

    def test_depth_agrees_with_status(self):
        """tp.depth (core/ops_queue.c) counts what taskpipe status --json counts;
        a pipeline never applied has no queue, and says so."""
        r = self.run_tp("status", "alpha", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        row = [g for g in json.loads(r.stdout)["groups"] if g["group"] == "alpha"][0]
        r = self.run_tp("repl", "-e", "local d = tp.depth('alpha'); print(d.visible, d.in_flight, d.delayed, d.dlq)")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.split(), [str(row[k]) for k in ("visible", "in_flight", "delayed", "dlq")])
        r = self.run_tp("repl", "-e", "tp.depth('neverapplied')")
        self.assertEqual(r.returncode, 1)
        self.assertIn("tp.depth: queue %sneverapplied does not exist" % PREFIX, r.stderr)

    def test_run_file_with_args(self):
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
            f.write("local a, b = ...\nprint(arg[0] ~= nil, arg[1], arg[2], a, b, #tp.ls())\n")
            path = f.name
        try:
            r = self.run_tp("run", path, "one", "--two")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout, "true\tone\t--two\tone\t--two\t1\n")
            with open(path, "w") as f:
                f.write("local x = nil\nreturn x.field\n")
            r = self.run_tp("run", path)
            self.assertEqual(r.returncode, 1)
            self.assertIn("attempt to index", r.stderr)
            r = self.run_tp("run", "/nonexistent/file.lua")
            self.assertEqual(r.returncode, 1)
        finally:
            os.unlink(path)


if __name__ == "__main__":
    unittest.main()
