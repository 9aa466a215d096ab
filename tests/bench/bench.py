"""taskpipe benchmarks. Each result is a ratio against a baseline measured
in the same run on the same machine, never an absolute pass/fail on time.

  binary_size       stripped ./taskpipe bytes (goal <= 1.5 MB)
  version_exec      `taskpipe version` exec-to-exit median (goal <= 3 ms),
                    baseline `python3 -c 'import boto3'`
  sigv4             signatures per second on one core (goal >= 200,000),
                    baseline botocore's SigV4Auth in the same run
Further benchmarks are modules bench_*.py beside this file, each with a
run(ctx) -> list of result dicts.
"""
import glob
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TP = os.path.join(ROOT, "taskpipe")


def hyperfine_median(cmd, runs):
    with tempfile.NamedTemporaryFile(suffix=".json") as f:
        subprocess.run(["hyperfine", "-N", "--warmup", "5", "--runs", str(runs), "--export-json", f.name,
                        "--style", "none"] + [cmd], check=True, capture_output=True)
        data = json.load(open(f.name))
    return data["results"][0]["median"]


def bench_size():
    size = os.path.getsize(TP)
    return {"name": "binary_size", "bytes": size, "mb": round(size / 1e6, 3), "goal_mb": 1.5,
            "ok": size <= 1.5e6}


def bench_version():
    tp = hyperfine_median(TP + " version", 200)
    py = hyperfine_median("python3 -c 'import boto3'", 20)
    return {"name": "version_exec", "median_ms": round(tp * 1e3, 3), "baseline": "python3 -c 'import boto3'",
            "baseline_median_ms": round(py * 1e3, 1), "ratio_vs_baseline": round(tp / py, 4),
            "goal_ms": 3, "ok": tp * 1e3 <= 3}


def bench_sigv4():
    r = subprocess.run([TP, "debug", "bench-sigv4", "200000"], capture_output=True, text=True, check=True)
    tp = json.loads(r.stdout)
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    auth = SigV4Auth(Credentials("AKIDEXAMPLE", "secret"), "dynamodb", "us-east-1")
    body = '{"TableName":"taskpipe-config","Key":{"pipeline":{"S":"tenant-0001"}},"ConsistentRead":true}'
    n = 3000
    t0 = time.process_time()
    for _ in range(n):
        req = AWSRequest(method="POST", url="https://dynamodb.us-east-1.amazonaws.com/", data=body,
                         headers={"Content-Type": "application/x-amz-json-1.0",
                                  "X-Amz-Target": "DynamoDB_20120810.GetItem"})
        auth.add_auth(req)
    py_rate = n / (time.process_time() - t0)
    rate = tp["per_second"]
    return {"name": "sigv4", "per_second": round(rate), "baseline": "botocore SigV4Auth.add_auth",
            "baseline_per_second": round(py_rate), "ratio_vs_baseline": round(rate / py_rate, 1),
            "goal_per_second": 200000, "ok": rate >= 200000}


def main():
    if not os.path.exists(TP):
        sys.exit("bench: ./taskpipe is missing; run make")
    results = [bench_size(), bench_version(), bench_sigv4()]
    ctx = {"root": ROOT, "taskpipe": TP}
    for path in sorted(glob.glob(os.path.join(os.path.dirname(__file__), "bench_*.py"))):
        spec = importlib.util.spec_from_file_location(os.path.basename(path)[:-3], path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        results.extend(mod.run(ctx))
    for r in results:
        print(json.dumps(r))
    met = sum(1 for r in results if r.get("ok"))
    print("bench: %d results, %d meet their goal" % (len(results), met))


if __name__ == "__main__":
    main()
