"""Rollout benchmarks (run(ctx) -> list of result dicts, see bench.py).

200 functions on one code object (created with boto3, as in
tests/integration/test_rollout.py), a new version uploaded, then
`taskpipe rollout --lambda-rps 10` with the default waves (canary pause cut
to 0) through the request-counting proxy in front of moto:

  rollout_calls_per_function  Lambda requests per function rolled out. On the
                              15/s control plane: 1 UpdateFunctionCode + ListFunctions
                              pages (goal: status reads <= 0.1); GetFunction (its own
                              100/s budget) reads State/LastUpdateStatus before each
                              update (1 per function on moto, where updates finish at
                              once); baseline: the naive GetFunction +
                              UpdateFunctionCode per function (2.0)
  rollout_update_rate         UpdateFunctionCode requests per second between the
                              first and the last (proxy timestamps); goal: within
                              10% of the configured budget; baseline: the budget
  rollout_layer               50 functions through the AWS-faithful layer
                              (awsmodel.py: states, 15 req/s account limit shared
                              with nothing else, updates InProgress for 5 AWS s
                              scaled by 0.02): Lambda calls per function (updates +
                              status reads) and wall time; goal: done, each function
                              updated once, no 429 turned into a failure
"""
import io
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

N = 200
RPS = 10.0


def _zip(tag):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("bootstrap", "#!/bin/sh\necho %s\n" % tag)
    return buf.getvalue()


def run(ctx):
    from harness import Moto, run_taskpipe
    from awsproxy import FaultProxy
    tp = os.environ.get("TASKPIPE_BIN", ctx["taskpipe"])
    moto = Moto()
    proxy = FaultProxy(moto.endpoint).start()
    pol = None
    try:
        bucket, key = "tp-bench-code", "consumer.zip"
        src = open(os.path.join(ctx["root"], "policies", "policy.lua")).read()
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
            f.write(src.replace("wave(1, 1, 30)", "wave(1, 1, 0)"))
            pol = f.name
        env = moto.env(AWS_ENDPOINT_URL=proxy.endpoint, TASKPIPE_CODE_BUCKET=bucket,
                       TASKPIPE_POLICY=pol, TASKPIPE_LAMBDA_RPS=str(RPS))
        r = run_taskpipe(["init"], env, binary=tp)
        if r.returncode:
            raise RuntimeError(r.stderr)
        s3, lam, ddb = moto.client("s3"), moto.client("lambda"), moto.client("dynamodb")
        role = moto.role_arn()
        s3.put_object(Bucket=bucket, Key=key, Body=_zip("v1"))
        for i in range(N):
            p = "bench-%03d" % i
            lam.create_function(FunctionName="tp-" + p, Runtime="provided.al2023", Role=role,
                                Handler="bootstrap", Code={"S3Bucket": bucket, "S3Key": key},
                                Description="taskpipe code s3://%s/%s" % (bucket, key),
                                Tags={"taskpipe:owner": "taskpipe", "taskpipe:pipeline": p})
            spec = {"func": {"Code": {"S3Bucket": bucket, "S3Key": key}}}
            ddb.put_item(TableName="taskpipe-state", Item={
                "pk": {"S": "pipeline#" + p}, "pipeline": {"S": p}, "status": {"S": "ok"},
                "spec": {"S": json.dumps(spec)}})
        v2 = s3.put_object(Bucket=bucket, Key=key, Body=_zip("v2-" + uuid.uuid4().hex))["VersionId"]
        # The account settings are cached in the state table: ask once before measuring.
        run_taskpipe(["rollout", "status"], env, binary=tp)
        proxy.reset()
        t0 = time.monotonic()
        r = run_taskpipe(["rollout", "s3://%s/%s#%s" % (bucket, key, v2), "--json"], env,
                         timeout=600, binary=tp)
        wall = time.monotonic() - t0
        if r.returncode:
            raise RuntimeError("rollout failed: %s %s" % (r.stdout, r.stderr))
        out = json.loads(r.stdout)
        counts = proxy.counts()
        lam_calls = sum(v for k, v in counts.items() if k.startswith("lambda:"))
        updates = counts.get("lambda:UpdateFunctionCode", 0)
        gets = counts.get("lambda:GetFunction", 0)
        status_reads = lam_calls - updates - gets   # on the 15/s control plane
        times = [e["time"] for e in proxy.log() if e["operation"] == "UpdateFunctionCode"]
        # The bucket starts full (1 s of burst): rate over the steady part after it.
        burst = int(RPS)
        span = times[-1] - times[burst - 1] if len(times) > burst else 0
        rate = (len(times) - burst) / span if span > 0 else float("inf")
        gaps = [round(b - a, 3) for a, b in zip(times, times[1:]) if b - a > 0.25]
        if os.environ.get("BENCH_DEBUG"):
            iv = sorted(round(b - a, 3) for a, b in zip(times, times[1:]))
            sys.stderr.write("intervals: median %s p90 %s max %s gaps %s\n" % (
                iv[len(iv) // 2], iv[int(len(iv) * .9)], iv[-1], gaps))
        per_fn = lam_calls / N
        return [
            {"name": "rollout_calls_per_function", "functions": N, "lambda_calls": lam_calls,
             "updates": updates, "status_reads": status_reads, "get_function": gets,
             "per_function": round(per_fn, 3), "status_reads_per_function": round(status_reads / N, 3),
             "get_function_per_function": round(gets / N, 3),
             "baseline": "naive GetFunction + UpdateFunctionCode per function",
             "baseline_per_function": 2.0, "ratio_vs_baseline": round(per_fn / 2.0, 3),
             "goal": "1 update + <= 0.1 control-plane status reads per function "
                     "(GetFunction, its own budget, <= 1)",
             "ok": updates == N and status_reads / N <= 0.1 and gets <= N,
             "rollout_status": out["status"]},
            {"name": "rollout_update_rate", "functions": N, "budget_rps": RPS,
             "achieved_rps": round(rate, 2), "wall_s": round(wall, 2), "gaps_over_250ms": len(gaps),
             "baseline": "the configured --lambda-rps budget", "baseline_rps": RPS,
             "ratio_vs_baseline": round(rate / RPS, 3), "goal": "within 10% of the budget",
             "ok": abs(rate - RPS) <= 0.1 * RPS},
            layer_run(moto, tp, pol, bucket, role),
        ]
    finally:
        proxy.stop()
        moto.stop()
        if pol:
            os.unlink(pol)


LAYER_N = 50


def layer_run(moto, tp, pol, bucket, role):
    """LAYER_N functions through the AWS-faithful layer at 15 req/s."""
    import boto3
    from botocore.config import Config
    from awsmodel import AwsModel
    from harness import REGION, run_taskpipe
    aws = AwsModel(moto.endpoint, lambda_rps=15).start()
    try:
        lam = boto3.client("lambda", region_name=REGION, endpoint_url=aws.endpoint,
                           aws_access_key_id="testing", aws_secret_access_key="testing",
                           config=Config(retries={"mode": "standard", "max_attempts": 20}))
        s3, ddb = moto.client("s3"), moto.client("dynamodb")
        key = "layer-%s.zip" % uuid.uuid4().hex[:6]
        s3.put_object(Bucket=bucket, Key=key, Body=_zip("v1"))
        names = ["lay-%03d" % i for i in range(LAYER_N)]
        for p in names:
            lam.create_function(FunctionName="tp-" + p, Runtime="provided.al2023", Role=role,
                                Handler="bootstrap", Code={"S3Bucket": bucket, "S3Key": key},
                                Description="taskpipe code s3://%s/%s" % (bucket, key),
                                Tags={"taskpipe:owner": "taskpipe", "taskpipe:pipeline": p})
            spec = {"func": {"Code": {"S3Bucket": bucket, "S3Key": key}}}
            ddb.put_item(TableName="taskpipe-state", Item={
                "pk": {"S": "pipeline#" + p}, "pipeline": {"S": p}, "status": {"S": "ok"},
                "spec": {"S": json.dumps(spec)}})
        time.sleep(1.5)   # Pending -> Active, and the limiter's bucket full again
        v2 = s3.put_object(Bucket=bucket, Key=key, Body=_zip("v2-" + uuid.uuid4().hex))["VersionId"]
        env = moto.env(AWS_ENDPOINT_URL=aws.endpoint, TASKPIPE_CODE_BUCKET=bucket,
                       TASKPIPE_POLICY=pol)
        aws.reset()
        t0 = time.monotonic()
        r = run_taskpipe(["rollout", "s3://%s/%s#%s" % (bucket, key, v2), "--json"], env,
                         timeout=600, binary=tp)
        wall = time.monotonic() - t0
        out = json.loads(r.stdout) if r.stdout else {}
        counts = aws.counts()
        updates = counts.get("lambda:UpdateFunctionCode", 0)
        ok_updates = {}
        for e in aws.log():
            if e["operation"] == "UpdateFunctionCode" and e["status"] == 200:
                ok_updates[e["path"]] = ok_updates.get(e["path"], 0) + 1
        gets = counts.get("lambda:GetFunction", 0)
        lists = counts.get("lambda:ListFunctions", 0)
        lam_calls = sum(v for k, v in counts.items() if k.startswith("lambda:"))
        return {"name": "rollout_layer", "functions": LAYER_N, "lambda_rps": 15,
                "rollout_status": out.get("status"), "wall_s": round(wall, 2),
                "lambda_calls": lam_calls, "per_function": round(lam_calls / LAYER_N, 3),
                "updates_per_function": round(updates / LAYER_N, 3),
                "get_function_per_function": round(gets / LAYER_N, 3),
                "list_functions": lists, "throttled_429": aws.lambda_throttled(),
                "violations": len(aws.violations()),
                "goal": "done; each function updated once; no update into a busy function",
                "ok": out.get("status") == "done" and len(ok_updates) == LAYER_N
                and set(ok_updates.values()) == {1} and not aws.violations()}
    finally:
        aws.stop()


if __name__ == "__main__":
    root = os.path.abspath(os.path.join(HERE, "..", ".."))
    for res in run({"root": root, "taskpipe": os.path.join(root, "taskpipe")}):
        print(json.dumps(res))
