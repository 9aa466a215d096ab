"""Chaos trials: SIGKILL taskpipe at a random point of a large apply or
rollout, through the AWS-faithful layer (tests/integration/awsmodel.py) with
random throttling, then let later runs converge and check the fleet with
boto3 straight against moto.

    python3 tests/chaos/chaos.py [--trials 20] [--pipelines 200] [--kind apply|rollout|both]
                                 [--throttle 0.1] [--seed 1]

One JSON line per trial, then a summary line {"kind", "trials", "held", ...}.
Exit 0 only when every trial held.

apply trial: N new config items (even trials, in a fresh world), or the fleet
the trial before left converged with a third of its limits changed 1 <-> N
and a third of its items deleted (odd trials); `apply --all` killed after a
random number of AWS requests, then `apply --all` until every pipeline is ok. Held when every desired pipeline has
its queue, DLQ, function and one mapping with the spec's limit, nothing with
the prefix is left that no item wants (0 orphans), and `plan` shows no change.

rollout trial: N functions on code v1 (as apply leaves them), an upload of v2,
`rollout` killed after a random number of successful UpdateFunctionCode calls,
then `rollout` until it is done. Held when every function runs v2 and each got
exactly one successful UpdateFunctionCode.
"""
import argparse
import base64
import hashlib
import io
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from harness import Moto, ROOT, TASKPIPE, run_taskpipe  # noqa: E402
from awsmodel import AwsModel  # noqa: E402

BUCKET = "chaos-code"
KEY = "consumer.zip"
CONVERGE_RUNS = 8


def code_zip(tag):
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w") as z:
        z.writestr("bootstrap", "#!/bin/sh\necho %s\n" % tag)
    return b.getvalue()


def sha_b64(data):
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def quick_policy():
    """The default policy with the canary's 30 s pause cut to 1 s."""
    with open(os.path.join(ROOT, "policies", "policy.lua")) as f:
        src = f.read()
    out = src.replace("wave(1, 1, watch)", "wave(1, 1, 1)")
    assert out != src
    f = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
    f.write(out)
    f.close()
    return f.name


class World:
    """moto, the layer in front of it, and the settings of one taskpipe instance."""

    def __init__(self, throttle, seed, lambda_rps):
        self.moto = Moto()
        self.throttle, self.seed, self.lambda_rps = throttle, seed, lambda_rps
        self.policy = quick_policy()
        self.layer = None

    def fresh(self, trial):
        """An empty world for one trial: moto reset, a new layer, tables and code."""
        if self.layer:
            self.layer.stop()
        self.moto.reset()
        self.layer = AwsModel(self.moto.endpoint, scale=0.02, throttle_fraction=self.throttle,
                              seed=self.seed * 1000 + trial, lambda_rps=self.lambda_rps).start()
        self.role = self.moto.role_arn()
        self.env = self.moto.env(
            AWS_ENDPOINT_URL=self.layer.endpoint, TASKPIPE_CODE_BUCKET=BUCKET, TASKPIPE_CODE_KEY=KEY,
            TASKPIPE_ROLE_ARN=self.role, TASKPIPE_POLICY=self.policy, TASKPIPE_PREFIX="cx-",
            TASKPIPE_LAMBDA_RPS=str(self.lambda_rps), TASKPIPE_LEASE_TTL_S="4",
            TASKPIPE_LEASE_SKEW_S="1",
            # no Lambda traffic here: the canary's health check goes on at once
            TASKPIPE_HEALTH_WAIT_MAX_S="0", TASKPIPE_METRIC_PERIOD_S="1")
        r = run_taskpipe(["init"], self.env)
        assert r.returncode == 0, r.stderr
        self.s3 = self.moto.client("s3")
        self.lam = self.moto.client("lambda")
        self.sqs = self.moto.client("sqs")
        self.ddb = self.moto.client("dynamodb")
        self.v1 = code_zip("v1")
        self.s3.put_object(Bucket=BUCKET, Key=KEY, Body=self.v1)

    def stop(self):
        if self.layer:
            self.layer.stop()
        self.moto.stop()
        os.unlink(self.policy)

    def wait_inflight(self, timeout=60):
        """Requests a killed process left at the layer end before anything is judged."""
        end = time.time() + timeout
        while time.time() < end:
            if all(e["status"] is not None or e.get("fault") for e in self.layer.log()):
                return
            time.sleep(0.05)

    def kill_after(self, args, count):
        """Start taskpipe ARGS; SIGKILL it once count(layer log) reaches the kill
        point. Returns (killed?, seconds it ran)."""
        t0 = time.time()
        p = subprocess.Popen([TASKPIPE] + args, env=self.env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        while p.poll() is None and not count():
            time.sleep(0.005)
        killed = p.poll() is None
        if killed:
            p.send_signal(signal.SIGKILL)
        p.wait()
        self.wait_inflight()
        return killed, time.time() - t0

    def until_ok(self, args, ok):
        """Run taskpipe ARGS until ok(CompletedProcess); returns the runs needed."""
        for n in range(1, CONVERGE_RUNS + 1):
            r = run_taskpipe(args, self.env, timeout=1800)
            if ok(r):
                return n
            time.sleep(5.5)   # leases of the killed run (TASKPIPE_LEASE_TTL_S + skew) run out
        raise AssertionError("not converged after %d runs: %s\n%s" % (
            CONVERGE_RUNS, r.stderr[-2000:], r.stdout[-2000:]))


# ------------------------------------------------------------------ apply

def limit_of(i):
    return 1 if i % 4 == 0 else 2 + i % 5


def apply_ok(r):
    if r.returncode != 0:
        return False
    doc = json.loads(r.stdout)
    return all(p["status"] == "ok" for p in doc["pipelines"])


def put_items(w, items):
    """All items with one `taskpipe put` (a file per item)."""
    with tempfile.TemporaryDirectory() as d:
        paths = []
        for i, it in enumerate(items):
            paths.append(os.path.join(d, "%d.json" % i))
            with open(paths[-1], "w") as f:
                json.dump(it, f)
        r = run_taskpipe(["put"] + paths, w.env)
        assert r.returncode == 0, r.stderr


def apply_trial(w, trial, n, rnd, desired):
    """Even trials create a fleet of n in a fresh world; odd trials change the
    fleet the trial before left converged: a third changes its limit 1 <-> N,
    a third is deleted. desired {pipeline: limit} is updated in place."""
    if trial % 2 == 0:
        desired.clear()
        desired.update({"p%03d" % i: limit_of(i) for i in range(n)})
        put_items(w, [{"pipeline": p, "concurrency": c} for p, c in desired.items()])
    else:
        changed, gone = [], []
        for i, p in enumerate(sorted(desired)):
            if i % 3 == 1:
                desired[p] = 1 if desired[p] > 1 else 4
                changed.append({"pipeline": p, "concurrency": desired[p]})
            elif i % 3 == 2:
                gone.append(p)
        put_items(w, changed)
        r = run_taskpipe(["rm"] + gone, w.env)
        assert r.returncode == 0, r.stderr
        for p in gone:
            del desired[p]
    w.layer.reset()
    expect = 6 * n if trial % 2 else 10 * n
    kill_at = rnd.randint(1, expect)
    killed, ran = w.kill_after(["apply", "--all", "--json"], lambda: len(w.layer.log()) >= kill_at)
    runs = w.until_ok(["apply", "--all", "--json"], apply_ok)
    problems = check_fleet(w, desired)
    r = run_taskpipe(["plan", "--json"], w.env)
    if r.returncode != 0:
        problems.append("plan after convergence: exit %d %s" % (r.returncode, r.stdout[-500:]))
    return {"kill_at_request": kill_at, "killed": killed, "killed_after_s": round(ran, 2),
            "converge_runs": runs, "throttled": w.layer.lambda_throttled(), "problems": problems}


def check_fleet(w, desired):
    """Problems with the fleet against desired {pipeline: limit}: missing parts,
    wrong limits, orphans (anything with the prefix nobody wants)."""
    problems = []
    queues = [u.rsplit("/", 1)[1] for u in w.sqs.list_queues(QueueNamePrefix="cx-").get("QueueUrls", [])]
    fns = {f["FunctionName"]: f for f in w.lam.list_functions()["Functions"]
           if f["FunctionName"].startswith("cx-")}
    maps = {}
    for m in w.lam.list_event_source_mappings()["EventSourceMappings"]:
        maps.setdefault(m["FunctionArn"].rsplit(":", 1)[1], []).append(m)
    want_q = set()
    for p, limit in desired.items():
        fn = "cx-" + p
        want_q |= {fn, fn + "-dlq"}
        for q in (fn, fn + "-dlq"):
            if q not in queues:
                problems.append("%s: queue %s missing" % (p, q))
        if fn not in fns:
            problems.append("%s: function missing" % p)
            continue
        ms = maps.get(fn, [])
        if len(ms) != 1:
            problems.append("%s: %d mappings" % (p, len(ms)))
            continue
        mc = (ms[0].get("ScalingConfig") or {}).get("MaximumConcurrency")
        reserved = w.lam.get_function(FunctionName=fn).get("Concurrency", {}).get(
            "ReservedConcurrentExecutions")
        got = reserved if limit == 1 else mc
        if got != limit or (limit == 1 and mc is not None) or (limit > 1 and reserved is not None):
            problems.append("%s: limit %s, reserved %s, MaximumConcurrency %s" % (p, limit, reserved, mc))
    for q in queues:
        if q not in want_q:
            problems.append("orphan queue %s" % q)
    for f in fns:
        if f[3:] not in desired:
            problems.append("orphan function %s" % f)
    for f, ms in maps.items():
        if f.startswith("cx-") and f[3:] not in desired:
            problems.append("orphan mapping of %s" % f)
    return problems


# ------------------------------------------------------------------ rollout

def fleet(w, n):
    """n functions + state records on s3://BUCKET/KEY, as apply leaves them."""
    names = ["r%03d" % i for i in range(n)]
    marker = "taskpipe code s3://%s/%s" % (BUCKET, KEY)
    for p in names:
        w.lam.create_function(
            FunctionName="cx-" + p, Runtime="provided.al2023", Role=w.role, Handler="bootstrap",
            Code={"S3Bucket": BUCKET, "S3Key": KEY}, Description=marker,
            Tags={"taskpipe:owner": "taskpipe", "taskpipe:pipeline": p})
        spec = {"name": p, "func": {"Code": {"S3Bucket": BUCKET, "S3Key": KEY},
                                    "Runtime": "provided.al2023", "Handler": "bootstrap"}}
        w.ddb.put_item(TableName="taskpipe-state", Item={
            "pk": {"S": "pipeline#" + p}, "pipeline": {"S": p}, "status": {"S": "ok"},
            "action": {"S": "create"}, "spec": {"S": json.dumps(spec)}})
    return names


def updates_ok(w):
    out = {}
    for e in w.layer.log():
        if e["operation"] == "UpdateFunctionCode" and e["status"] == 200:
            fn = e["path"].split("/")[3]
            out[fn] = out.get(fn, 0) + 1
    return out


def rollout_trial(w, trial, n, rnd):
    names = fleet(w, n)
    time.sleep(0.2)   # the layer's Pending window for the new functions
    v2 = code_zip("v2-%d" % trial)
    ver = w.s3.put_object(Bucket=BUCKET, Key=KEY, Body=v2)["VersionId"]
    uri = "s3://%s/%s#%s" % (BUCKET, KEY, ver)
    w.layer.reset()
    kill_at = rnd.randint(0, n)
    args = ["rollout", uri, "--lease-ttl", "1", "--json"]
    killed, ran = w.kill_after(args, lambda: sum(updates_ok(w).values()) >= kill_at)
    time.sleep(2.2)    # the dead runner's lease (1 s, whole seconds) runs out
    runs = w.until_ok(args, lambda r: r.returncode == 0 and json.loads(r.stdout)["status"] == "done")
    problems = []
    want = sha_b64(v2)
    for p in names:
        sha = w.lam.get_function(FunctionName="cx-" + p)["Configuration"]["CodeSha256"]
        if sha != want:
            problems.append("%s: not on the new code" % p)
    per_fn = updates_ok(w)
    for p in names:
        if per_fn.get("cx-" + p, 0) != 1:
            problems.append("%s: %d successful updates" % (p, per_fn.get("cx-" + p, 0)))
    return {"kill_at_update": kill_at, "killed": killed, "killed_after_s": round(ran, 2),
            "converge_runs": runs, "throttled": w.layer.lambda_throttled(), "problems": problems}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trials", type=int, default=int(os.environ.get("CHAOS_TRIALS", "20")))
    ap.add_argument("--pipelines", type=int, default=int(os.environ.get("CHAOS_PIPELINES", "200")))
    ap.add_argument("--kind", choices=("apply", "rollout", "both"), default="both")
    ap.add_argument("--throttle", type=float, default=0.1)
    ap.add_argument("--lambda-rps", type=float, default=15)
    ap.add_argument("--seed", type=int, default=int(os.environ.get("CHAOS_SEED", "1")))
    a = ap.parse_args(argv)
    kinds = ["apply", "rollout"] if a.kind == "both" else [a.kind]
    w = World(a.throttle, a.seed, a.lambda_rps)
    summary = []
    try:
        for kind in kinds:
            held, t0 = 0, time.time()
            desired = {}
            for trial in range(a.trials):
                rnd = random.Random(a.seed * 7919 + trial)
                if kind == "rollout" or trial % 2 == 0:
                    w.fresh(trial)
                t = time.time()
                try:
                    if kind == "apply":
                        res = apply_trial(w, trial, a.pipelines, rnd, desired)
                    else:
                        res = rollout_trial(w, trial, a.pipelines, rnd)
                except AssertionError as ex:
                    res = {"problems": [str(ex)[:2000]]}
                res.update({"kind": kind, "trial": trial, "seconds": round(time.time() - t, 1),
                            "held": not res["problems"]})
                held += res["held"]
                print(json.dumps(res), flush=True)
            s = {"kind": kind, "trials": a.trials, "held": held, "pipelines": a.pipelines,
                 "throttle": a.throttle, "seconds": round(time.time() - t0, 1)}
            summary.append(s)
            print(json.dumps(s), flush=True)
    finally:
        w.stop()
    return 0 if all(s["held"] == s["trials"] for s in summary) else 1


if __name__ == "__main__":
    sys.exit(main())
