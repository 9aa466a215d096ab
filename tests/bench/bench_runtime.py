"""Lambda runtime benchmarks (issue 4), each beside a baseline in the same run:

  runtime_cold_start  exec of ./taskpipe as `bootstrap` to its first GET
                      /runtime/invocation/next at the emulator, median of 100
                      starts (goal <= 5 ms); baseline: a python3 process that
                      imports boto3 and then GETs /next (the outside reference:
                      published Lambda init medians in the project's AWS notes).
  runtime_peak_rss    VmHWM of the bootstrap process, read from /proc by the
                      emulator just before it accepts the answer to a
                      1,000-record DynamoDB stream batch (100 pipelines) run
                      against moto (goal <= 10 MB); baseline: the same
                      process's VmHWM when idle after start-up.
"""
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from harness import Moto  # noqa: E402
from runtime_emulator import RuntimeEmulator, vm_hwm_kb  # noqa: E402


def _bootstrap_path(tp, d):
    p = os.path.join(d, "bootstrap")
    os.symlink(os.path.abspath(tp), p)
    return p


def _cold_starts(cmd, env, emu, runs):
    times = []
    base = len(emu.next_times)
    for i in range(base, base + runs):
        t0 = time.time()
        p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        t1 = emu.wait_next(count=i + 1, timeout=60)[i]
        times.append((t1 - t0) * 1000)
        p.kill()
        p.wait()
    return times


def _records(n, pipelines):
    out = []
    for i in range(n):
        name = "bench-%03d" % (i % pipelines)
        out.append({"eventID": "e%d" % i, "eventName": "MODIFY", "eventVersion": "1.1",
                    "eventSource": "aws:dynamodb", "awsRegion": "us-east-1",
                    "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/bench/stream/x",
                    "dynamodb": {"ApproximateCreationDateTime": 1700000000,
                                 "Keys": {"pipeline": {"S": name}},
                                 "NewImage": {"pipeline": {"S": name}, "concurrency": {"N": "2"},
                                              "timeout": {"N": "30"},
                                              "env": {"M": {"API_KEY_NAME": {"S": "key-%d" % i}}}},
                                 "SequenceNumber": str(1100000000017454423009 + i),
                                 "SizeBytes": 120, "StreamViewType": "NEW_AND_OLD_IMAGES"}})
    return out


def run(ctx):
    tp = ctx["taskpipe"]
    results = []
    moto = Moto()
    emu = RuntimeEmulator().start()
    d = tempfile.mkdtemp(prefix="tp-bench-rt-")
    try:
        env = moto.env(AWS_LAMBDA_RUNTIME_API=emu.address, TASKPIPE_CONFIG_TABLE="bench-config",
                       TASKPIPE_STATE_TABLE="bench-state", TASKPIPE_PREFIX="bench-")
        subprocess.run([tp, "init"], env={k: v for k, v in env.items() if k != "AWS_LAMBDA_RUNTIME_API"},
                       check=True, capture_output=True)
        boot = _bootstrap_path(tp, d)
        tp_ms = _cold_starts([boot], env, emu, 100)
        py = ("import boto3, urllib.request, os; urllib.request.urlopen('http://%s/2018-06-01/runtime/"
              "invocation/next')" % emu.address)
        py_ms = _cold_starts([sys.executable, "-c", py], env, emu, 20)
        med, pmed = statistics.median(tp_ms), statistics.median(py_ms)
        results.append({"name": "runtime_cold_start", "median_ms": round(med, 3),
                        "p90_ms": round(sorted(tp_ms)[89], 3),
                        "baseline": "python3: import boto3, then GET /next",
                        "baseline_median_ms": round(pmed, 1), "ratio_vs_baseline": round(med / pmed, 4),
                        "goal_ms": 5, "ok": med <= 5})

        n0 = len(emu.next_times)
        p = subprocess.Popen([boot], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        emu.wait_next(count=n0 + 1, timeout=60)
        idle_kb = vm_hwm_kb(p.pid)
        emu.watch_pid = p.pid
        rid = emu.enqueue({"Records": _records(1000, 100)}, timeout_ms=600000)
        res = emu.wait_result(rid, 600)
        p.kill()
        p.wait()
        failed = len(res["body"].get("batchItemFailures", [])) if res["kind"] == "response" else None
        kb = res["vm_hwm_kb"]
        results.append({"name": "runtime_peak_rss", "records": 1000, "pipelines": 100,
                        "peak_rss_mb": round(kb / 1024, 2), "failed_records": failed,
                        "baseline": "the same bootstrap idle after start-up",
                        "baseline_rss_mb": round(idle_kb / 1024, 2),
                        "ratio_vs_baseline": round(kb / idle_kb, 2),
                        "goal_mb": 10, "ok": kb <= 10 * 1024 and failed == 0})
    finally:
        emu.stop()
        moto.stop()
    return results


if __name__ == "__main__":
    import json
    root = os.path.abspath(os.path.join(HERE, "..", ".."))
    for r in run({"root": root, "taskpipe": os.environ.get("TASKPIPE_BIN", os.path.join(root, "taskpipe"))}):
        print(json.dumps(r))
