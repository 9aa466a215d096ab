"""Runs the integration modules (tests/integration/test_*.py), each in a
process of its own with its own moto_server, and ends with the line
'N passed, N failed, N skipped'. Exit status 0 only when nothing failed and
at least one test ran.

    run_all.py [--tier check|full] [-j N] [--serial-jobs N] [PATTERN...]

--tier check runs only the modules without real-time waits (FULL_ONLY below
lists the others and why); full (the default) runs every module. PATTERNs
(module names or globs, `test_drift` or `test_pipe*`) pick modules instead
of a tier. Modules that measure pacing or rates run one at a time in a
serial lane beside the parallel workers, so CPU contention never starves
the rates they check. Each module's output goes to out/test-logs/NAME.log
and is printed in full when the module fails. tests/README.md has the
tiers and the lane."""
import argparse
import fnmatch
import json
import os
import subprocess
import sys
import threading
import time
import unittest

here = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(here, "..", ".."))
LOG_DIR = os.path.join(ROOT, "out", "test-logs")

# Measure rates, pacing or overlap in real time: one at a time, beside the
# parallel workers (their checks judge server-recorded times, but a starved
# consumer could still miss a deadline it is tested to meet).
SERIAL = {
    "test_consumer_rate",   # paced starts against a recorded schedule
    "test_limit_group_rate",  # three members' starts against their group's schedule
    "test_budget",          # the shared Lambda budget, 15 calls/s across processes
    "test_rates",           # achieved rates per group
    "test_chaos",           # kills at random points under 10% throttling
}

# Only in the full tier: modules that pace, sleep or wait for leases, queue
# name windows or builds (tests/README.md says which wait each one has).
FULL_ONLY = SERIAL | {
    "test_package",         # make package, a clean rebuild of both architectures, qemu
    "test_leases",          # waits for lease expiry
    "test_reconcile_real",  # waits out QueueDeletedRecently (60 s, scaled)
    "test_rollout_real",    # canary pauses, Lambda update lags
    "test_rollout",         # kills a rollout at step k and resumes it
    "test_drift",           # fix windows of the scheduled check
    "test_drift_fleet",     # builds 1,000 and 200 pipelines in moto
    "test_watch",           # follows the stream, lease takeover
    "test_ddb_faithful",    # table CREATING/ACTIVE delays
    "test_awsmodel",        # the layer's own lags and windows
    "test_codestore",       # function state lags of the AWS-faithful layer
    "test_iam_enforced",    # 16 scenarios through the layer's lags, IAM enforced
    "test_bootstrap",       # the Runtime API loop, deadlines
    "test_creds_refresh",   # waits past credentials' refresh point (4 s pauses)
    "test_metrics",         # a paced batch given back at its deadline, a runtime run to its exit
    "test_progress",        # watches progress lines in tmux, a 6 s canary pause
    "test_drain",           # drains a settle time (3 s, scaled) apart
    "test_pool",            # the account's pool through the layer's function state lags
    "test_not_ready",       # a new queue usable after 1 s, a new role after 8 s
    "test_throttle_all",    # a quarter of every service's requests throttled, backoffs
    "test_fake_lambda_contract",   # the layer's Lambda lags (2 s, six waits) against the fake's script
    "test_fake_contract",   # the layer's 3 s transitions, both answers compared line by line
}

# A module still running after this long is killed and counts as failed.
MODULE_TIMEOUT = int(os.environ.get("TEST_MODULE_TIMEOUT", 1800))

# Rough seconds per module (from a parallel run on 2 cores); the longest
# start first so the run ends together. A missing module counts as 60.
WEIGHTS = {
    "test_drift": 120, "test_iam_enforced": 114, "test_drift_fleet": 120, "test_bootstrap": 118, "test_budget": 113,
    "test_pipelines": 109, "test_rollout": 105, "test_codestore": 103, "test_consumer_rate": 101,
    "test_limit_group_rate": 100,
    "test_chaos": 95, "test_reconcile_real": 94, "test_rollout_real": 85, "test_awsmodel": 68,
    "test_package": 60, "test_steer": 90, "test_rates": 55, "test_ddb_faithful": 37, "test_aws_cli": 26,
    "test_drain": 180, "test_throttle_all": 150,
}


def discover():
    return sorted(f[:-3] for f in os.listdir(here) if f.startswith("test_") and f.endswith(".py"))


def select(modules, tier, patterns):
    if patterns:
        pats = [p[:-3] if p.endswith(".py") else p for p in patterns]
        return [m for m in modules if any(fnmatch.fnmatch(m, p) for p in pats)]
    if tier == "check":
        return [m for m in modules if m not in FULL_ONLY]
    return list(modules)


def run_child(module, result_path):
    """In the worker process: one module, its counts to result_path."""
    sys.path.insert(0, here)
    suite = unittest.defaultTestLoader.loadTestsFromName(module)
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    skipped = len(result.skipped)
    with open(result_path, "w") as f:
        json.dump({"run": result.testsRun, "failed": failed, "skipped": skipped}, f)
    return 0 if failed == 0 else 1


class Runner:
    def __init__(self, modules, jobs, serial_jobs):
        self.lock = threading.Lock()
        self.parallel = [m for m in modules if m not in SERIAL]
        self.serial = [m for m in modules if m in SERIAL]
        for lane in (self.parallel, self.serial):
            lane.sort(key=lambda m: -WEIGHTS.get(m, 60))
        self.jobs, self.serial_jobs = max(1, jobs), max(1, serial_jobs)
        self.results = {}   # module -> (counts, seconds, log path)

    def take(self, lane):
        with self.lock:
            return lane.pop(0) if lane else None

    def run_one(self, module):
        log = os.path.join(LOG_DIR, module + ".log")
        res = os.path.join(LOG_DIR, module + ".result")
        if os.path.exists(res):
            os.unlink(res)
        t0 = time.monotonic()
        with open(log, "w") as out:
            p = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--child", module, res],
                                 stdout=out, stderr=subprocess.STDOUT, cwd=here, start_new_session=True)
            try:
                rc = p.wait(MODULE_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, 9)     # the module and the moto it started
                p.wait()
                out.write("\nrun_all: %s killed after %d s\n" % (module, MODULE_TIMEOUT))
                rc = -9
        took = time.monotonic() - t0
        try:
            with open(res) as f:
                counts = json.load(f)
        except (OSError, ValueError):
            # died before unittest could count (import error, crash): one failure
            counts = {"run": 1, "failed": 1, "skipped": 0}
        if rc != 0 and counts["failed"] == 0:
            counts["failed"] = 1
        with self.lock:
            self.results[module] = (counts, took, log)
            bad = counts["failed"] > 0
            print("%-22s %4d tests %3d failed %3d skipped %6.0f s%s" % (
                module, counts["run"], counts["failed"], counts["skipped"], took,
                "   FAILED, log: " + os.path.relpath(log, ROOT) if bad else ""), flush=True)

    def worker(self, lane):
        while True:
            m = self.take(lane)
            if m is None:
                return
            self.run_one(m)

    def run(self):
        threads = [threading.Thread(target=self.worker, args=(self.parallel,)) for _ in range(self.jobs)]
        threads += [threading.Thread(target=self.worker, args=(self.serial,)) for _ in range(self.serial_jobs)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()


def main():
    ap = argparse.ArgumentParser(description="taskpipe's integration modules, in parallel")
    ap.add_argument("--tier", choices=("check", "full"), default="full")
    ap.add_argument("-j", "--jobs", type=int, default=int(os.environ.get("TEST_JOBS", os.cpu_count() or 2)),
                    help="parallel workers (default: TEST_JOBS or the number of cores)")
    ap.add_argument("--serial-jobs", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--child", nargs=2, metavar=("MODULE", "RESULT"), help=argparse.SUPPRESS)
    ap.add_argument("patterns", nargs="*")
    a = ap.parse_args()
    if a.child:
        sys.exit(run_child(*a.child))

    modules = select(discover(), a.tier, a.patterns)
    if not modules:
        print("run_all: no module matches %s" % (" ".join(a.patterns) or a.tier), file=sys.stderr)
        print("0 passed, 0 failed, 0 skipped")
        sys.exit(1)
    os.makedirs(LOG_DIR, exist_ok=True)
    t0 = time.monotonic()
    runner = Runner(modules, a.jobs, a.serial_jobs)
    print("%d modules, %d parallel workers and a serial lane (tier %s)" % (
        len(modules), runner.jobs, a.tier if not a.patterns else "by name"), flush=True)
    runner.run()
    wall = time.monotonic() - t0

    failed_mods = [m for m, (c, _, _) in sorted(runner.results.items()) if c["failed"]]
    for m in failed_mods:
        print("\n======== %s (failed) ========" % m)
        with open(runner.results[m][2], errors="replace") as f:
            sys.stdout.write(f.read())
    slowest = sorted(runner.results.items(), key=lambda kv: -kv[1][1])[:10]
    print("\nslowest: " + ", ".join("%s %.0f s" % (m, r[1]) for m, r in slowest))
    print("wall: %.0f s for %d modules" % (wall, len(modules)))
    run = sum(c["run"] for c, _, _ in runner.results.values())
    failed = sum(c["failed"] for c, _, _ in runner.results.values())
    skipped = sum(c["skipped"] for c, _, _ in runner.results.values())
    print("%d passed, %d failed, %d skipped" % (run - failed - skipped, failed, skipped))
    sys.exit(0 if failed == 0 and run > 0 else 1)


if __name__ == "__main__":
    main()
