"""The Lambda control-plane budget is the account's, not each process's
(issue 10, defect 4). Through the AWS-faithful layer (awsmodel.AwsModel) with
ONE account-wide limiter of 15 req/s, four taskpipe processes at once, each
over its own 15 pipelines, must converge without throttling storms and
without exhausting the retry quota (lowered to 25 tokens so that running out
is quick and deterministic): they share one schedule in the state table
(src/aws/budget_shared.c).

- three controllers (the binary as the Lambda runtime `bootstrap`, one stream
  batch each, which books at 15 - 3 req/s) and an operator's `apply`;
- four `apply` runs (their --json gives the claim writes per Lambda call).

Against the old code (every process metering itself at the whole 15/s) both
fail: processes exit 1, stream batches report failures, the retry quota runs
out. The control test runs the same load with TASKPIPE_LAMBDA_BUDGET=local
(that old behaviour, kept as an option) and checks the layer does see it
exceed the limit. Figures (peak Lambda req/s over any 1 s window at the
layer, throttles, retries, DynamoDB claim writes per Lambda call, wall time)
go to stderr."""
import json
import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import TASKPIPE, Moto, run_taskpipe  # noqa: E402
from awsmodel import AwsModel  # noqa: E402
from awsproxy import FaultProxy  # noqa: E402
from test_pipelines import Env  # noqa: E402
from test_bootstrap import Bootstrap  # noqa: E402
from runtime_emulator import stream_records  # noqa: E402

PROCS = 4            # three controllers' worth and an operator's CLI run
PER_PROC = 15        # pipelines each, disjoint
# Low enough that the old per-process buckets (4 x 15 req/s against 15)
# exhaust it; the same for the shared run.
RETRY_QUOTA = 25


def peak_per_second(times, window=1.0):
    """Most events in any `window` s window."""
    times = sorted(times)
    best, j = 0, 0
    for i, t in enumerate(times):
        while times[j] < t - window:
            j += 1
        best = max(best, i - j + 1)
    return best


class TestSharedLambdaBudget(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.moto = Moto.shared()

    def run_concurrent(self, tag, controllers=0, procs=PROCS, **extra):
        """PROCS concurrent runs through a fresh layer, each over its own
        PER_PROC pipelines: the first `controllers` are the Lambda runtime
        (`bootstrap`, one stream batch each), the rest `taskpipe apply`."""
        e = Env(self.moto, tag)
        names = [["p%d-%02d" % (p, i) for i in range(PER_PROC)] for p in range(procs)]
        streams = self.moto.client("dynamodbstreams")
        arn = e.ddb.describe_table(TableName=e.prefix + "config")["Table"]["LatestStreamArn"]
        after, batches = None, []
        for group in names:
            e.put(*({"pipeline": n} for n in group))
            recs, after = stream_records(streams, arn, after)
            batches.append(recs)
        aws = AwsModel(self.moto.endpoint, scale=0.02, lambda_rps=15, lambda_get_rps=100).start()
        boots = []
        try:
            env = dict(e.env, AWS_ENDPOINT_URL=aws.endpoint, TASKPIPE_RETRY_QUOTA=str(RETRY_QUOTA),
                       TASKPIPE_LOG_LEVEL="WARN")
            env.update({k: str(v) for k, v in extra.items()})
            benv = type("E", (), {"env": env})()
            boots = [Bootstrap(benv) for _ in range(controllers)]
            t0 = time.monotonic()
            rids = [(b, b.emu.enqueue({"Records": batches[i]}, timeout_ms=300000))
                    for i, b in enumerate(boots)]
            procs = [subprocess.Popen([TASKPIPE, "apply"] + group + ["--json"], env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                     for group in names[controllers:]]
            results = [b.emu.wait_result(rid, 300) for b, rid in rids]
            outs = [p.communicate(timeout=300) for p in procs]
            wall = time.monotonic() - t0
            log = aws.log()
            throttled = aws.lambda_throttled()
            boot_err = [b.stderr() for b in boots]
        finally:
            for b in boots:
                b.stop()
            aws.stop()
        lam = [x for x in log if x["service"] == "lambda"]
        # The layer's two buckets: GetFunction (100/s) and every other Lambda API (15/s).
        ctl = [x for x in lam if x["operation"] != "GetFunction"]
        get = [x for x in lam if x["operation"] == "GetFunction"]
        fig = {
            "wall_s": round(wall, 1),
            "codes": [p.returncode for p in procs],
            "controller_failures": [len(r["body"]["batchItemFailures"]) if r["kind"] == "response"
                                    else r["kind"] for r in results],
            "stderr": [err for _, err in outs] + boot_err,
            "docs": [],
            "lambda_requests": len(lam),
            "peak_offered_rps": peak_per_second([x["time"] for x in ctl]),
            "peak_served_rps": peak_per_second([x["time"] for x in ctl if x["status"] != 429]),
            "peak_served_3s": peak_per_second([x["time"] for x in ctl if x["status"] != 429], 3.0),
            "peak_get_rps": peak_per_second([x["time"] for x in get]),
            "throttled": throttled,
            "quota_exhausted": sum(err.count("retry quota exhausted")
                                   for err in [o[1] for o in outs] + boot_err),
        }
        for out, _ in outs:
            try:
                fig["docs"].append(json.loads(out))
            except ValueError:
                fig["docs"].append(None)
        retries = writes = calls = tokens = 0
        for d in fig["docs"]:
            if not d:
                continue
            calls += d.get("lambda_calls", 0)
            retries += d.get("lambda_budget", {}).get("retries", 0)
            writes += d.get("lambda_budget", {}).get("writes", 0)
            tokens += d.get("lambda_budget", {}).get("tokens", 0)
        fig["lambda_retries"] = retries
        fig["claim_writes"] = writes
        fig["claim_tokens"] = tokens
        fig["writes_per_lambda_call"] = round(writes / calls, 3) if calls else None
        fig["names"] = names
        fig["cli_names"] = names[controllers:]
        fig["env"] = e
        summary = {k: v for k, v in fig.items()
                   if k not in ("stderr", "docs", "names", "cli_names", "env")}
        fig["summary"] = summary
        print("\n%s: %s" % (tag, json.dumps(summary)), file=sys.stderr)
        return fig

    def check_converged(self, fig):
        """Every process succeeded, every pipeline exists, few throttles."""
        self.assertEqual(fig["quota_exhausted"], 0, fig["stderr"])
        self.assertEqual(set(fig["controller_failures"]) - {0}, set(), fig["summary"])
        for i, (code, doc) in enumerate(zip(fig["codes"], fig["docs"])):
            self.assertEqual(code, 0, "apply %d: %s" % (i, fig["stderr"][i][-2000:]))
            res = {p["pipeline"]: p for p in doc["pipelines"]}
            self.assertEqual(set(res), set(fig["cli_names"][i]))
            bad = {k: v.get("error") for k, v in res.items() if v["status"] != "ok"}
            self.assertEqual(bad, {})
            self.assertEqual(doc["lambda_budget"]["mode"], "shared")
        # Together they stay under the account's limit: a handful of throttles
        # at most (the layer's bucket and the schedule start at different moments).
        self.assertLessEqual(fig["throttled"], 3, fig["summary"])
        # Slots are 1/15 s apart account-wide; a slot may be used up to
        # BUDGET_LATE_US (0.1 s) late, and arrival times at the layer jitter:
        # 15 x 1.1 + 1 at most in any 1 s window (the control run offers ~75).
        self.assertLessEqual(fig["peak_served_rps"], 18, fig["summary"])
        # Every function and mapping exists (boto3 straight to moto).
        e = fig["env"]
        for group in fig["names"]:
            for n in group:
                self.assertIsNotNone(e.function(n), n)
                self.assertEqual(len(e.mappings(n)), 1, n)

    def test_three_controllers_and_a_cli_run(self):
        # Three controllers (the Lambda runtime, one stream batch each) and an
        # operator's apply, at once.
        fig = self.run_concurrent("shc", controllers=3)
        self.check_converged(fig)

    def test_controllers_leave_the_reserve(self):
        # Controllers alone book at TASKPIPE_LAMBDA_RPS - TASKPIPE_LAMBDA_RESERVE_RPS
        # (15 - 3): operators and other tools keep 3 req/s even while they are busy.
        fig = self.run_concurrent("shr", controllers=3, procs=3)
        self.check_converged(fig)
        # Over 3 s, so that window edges and late slots weigh little: slots
        # 1/12 s apart, each used up to 0.1 s late, plus arrival jitter: at
        # most 12 x 3.1 + 2 (without the reserve: 43-45; the old code offers
        # ~45 per second).
        self.assertLessEqual(fig["peak_served_3s"], 39, fig["summary"])

    def test_four_cli_runs(self):
        fig = self.run_concurrent("shb")
        self.check_converged(fig)
        # A claim books several tokens: well under one DynamoDB write per Lambda
        # call (measured 0.29-0.41 here; one claim per call would be >= 1).
        self.assertLess(fig["writes_per_lambda_call"], 0.75, fig["summary"])

    def test_control_per_process_buckets_exceed_the_account_limit(self):
        # The old metering, kept as TASKPIPE_LAMBDA_BUDGET=local: each process
        # assumes the whole 15/s, so together they offer far more than AWS takes.
        fig = self.run_concurrent("shl", controllers=3, TASKPIPE_LAMBDA_BUDGET="local")
        self.assertGreater(fig["peak_offered_rps"], 25, fig["summary"])
        self.assertGreater(fig["throttled"], 20, fig["summary"])
        # Even so, dozens of throttles against a 25-token quota (5 tokens a
        # retry before) neither exhaust it nor fail work: throttle retries of
        # metered Lambda calls are paced by the budget and cost no quota.
        self.assertEqual(fig["quota_exhausted"], 0, fig["stderr"])
        self.assertEqual(fig["codes"], [0], fig["stderr"])
        self.assertEqual(fig["controller_failures"], [0, 0, 0], fig["stderr"])
        for doc in fig["docs"]:
            self.assertEqual(doc["lambda_budget"]["mode"], "local")
        # lambda_retries counts the CLI run's own retries only; how many of the
        # layer's throttles land on it rather than on the three controllers
        # depends on timing (4 of 148 seen on a loaded machine), so: some.
        self.assertGreater(fig["lambda_retries"], 0, fig["summary"])


class TestScheduleItem(unittest.TestCase):
    """The state-table item itself: a schedule booked beyond the 2 s horizon
    makes a process wait (no Lambda call) until it is within reach, then book
    after the last booked slot."""

    @classmethod
    def setUpClass(cls):
        cls.moto = Moto.shared()

    def test_booked_ahead_waits_then_books_after(self):
        e = Env(self.moto, "shi")
        e.put({"pipeline": "w"})
        table = e.prefix + "state"
        ahead = int((time.time() + 4.0) * 1e6)     # booked until 4 s from now
        e.ddb.put_item(TableName=table, Item={"pk": {"S": "account#lambda-budget"},
                                              "tat": {"N": str(ahead)},
                                              "get_tat": {"N": str(ahead)}})
        with FaultProxy(self.moto.endpoint) as proxy:
            t0 = time.time()
            res, doc = e.apply("w", endpoint=proxy.endpoint)
            first = min(x["time"] for x in proxy.log() if x["service"] == "lambda")
        self.assertEqual(res["w"]["status"], "ok", res)
        # Nothing went to Lambda before the horizon (2 s) reached the booked end.
        self.assertGreaterEqual(first, ahead / 1e6 - 2.0 - 0.05)
        self.assertGreaterEqual(first - t0, 1.5)
        b = doc["lambda_budget"]
        self.assertGreaterEqual(b["refused"], 1, b)
        self.assertGreaterEqual(b["tokens"], doc["lambda_calls"], b)
        # The slots were booked after the old ones: tat moved past them.
        item = e.ddb.get_item(TableName=table, Key={"pk": {"S": "account#lambda-budget"}},
                              ConsistentRead=True)["Item"]
        self.assertGreater(int(item["tat"]["N"]), ahead)
        self.assertGreater(int(item["get_tat"]["N"]), ahead)


    def test_broken_item_falls_back_to_local_metering(self):
        # A budget item that cannot be used (here: tat is not a number) must
        # not stop work: the process warns once and meters itself alone.
        e = Env(self.moto, "shx")
        e.put({"pipeline": "x"})
        e.ddb.put_item(TableName=e.prefix + "state", Item={"pk": {"S": "account#lambda-budget"},
                                                         "tat": {"S": "garbage"},
                                                         "get_tat": {"S": "garbage"}})
        r = e.run("apply", "x", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["pipelines"][0]["status"], "ok")
        # DynamoDB fails the condition (a string is not >= a number) and the
        # claim reports BadBudgetItem; moto answers 500 instead. Either way:
        self.assertEqual(r.stderr.count("shared Lambda budget unavailable"), 1, r.stderr)


class TestThrottleRetries(unittest.TestCase):
    """A throttle (from a caller outside taskpipe's budget) slows a Lambda
    call down, never fails it: Retry-After (seconds) is honoured and paced
    throttle retries get up to 8 attempts instead of 3."""

    @classmethod
    def setUpClass(cls):
        cls.moto = Moto.shared()

    def setUp(self):
        self.proxy = FaultProxy(self.moto.endpoint).start()
        self.addCleanup(self.proxy.stop)

    def lambda_list(self, **env):
        e = self.moto.env(AWS_ENDPOINT_URL=self.proxy.endpoint, **env)
        return run_taskpipe(["aws", "lambda", "GET", "/2015-03-31/functions/"], e)

    def rule(self, headers, times):
        self.proxy.add_rule({"match": {"service": "lambda", "operation": "ListFunctions"},
                             "times": times, "action": {"status": 429, "headers": headers}})

    def test_retry_after_seconds_honoured(self):
        # Without Retry-After the first throttle backoff is at most 1 s (full
        # jitter, 1 s base); Lambda's 429 asks for 2 s: wait at least that.
        self.rule({"Retry-After": "2"}, 1)
        r = self.lambda_list()
        self.assertEqual(r.returncode, 0, r.stderr)
        t = [x["time"] for x in self.proxy.log()]
        self.assertEqual(len(t), 2)
        self.assertGreaterEqual(t[1] - t[0], 1.95)
        self.assertLess(t[1] - t[0], 4.0)

    def test_five_throttles_then_success(self):
        self.rule({"Retry-After": "0"}, 5)
        r = self.lambda_list(TASKPIPE_RETRY_QUOTA="4")   # below one retry's cost: paced retries need none
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([x["status"] for x in self.proxy.log()], [429] * 5 + [200])

    def test_throttled_forever_gives_up_after_8(self):
        self.rule({"Retry-After": "0"}, -1)
        r = self.lambda_list()
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(len(self.proxy.log()), 8)
        self.assertEqual(json.loads(r.stderr.strip().splitlines()[-1])["error"]["status"], 429)


if __name__ == "__main__":
    unittest.main()
