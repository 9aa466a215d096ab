"""Drift check at fleet scale: Lambda control-plane calls and wall time of
`taskpipe drift` for 1,000 and 5,000 pipelines against moto (fleets built
directly with boto3, see tests/integration/test_drift.py), counted by the
FaultProxy; and a projection for 10,000 pipelines at AWS's published limits.

Baseline, in the same run: the per-resource approach (GetFunction +
ListEventSourceMappings per function), which is what `taskpipe plan --all`
does; measured through the proxy at 1,000 pipelines (Lambda budget lifted so
the measurement does not take minutes) and computed as 2 calls/pipeline.

Projection for 10,000 (goal < 120 s), from AWS's limits and assumed latencies:
  Lambda: ListFunctions 50/page + ListEventSourceMappings 100/page at 15 req/s
          (the shared control-plane limit; Lambda quotas page);
  Tagging API GetResources, 100 resources/page, two listings side by side,
          TAG_PAGE_S per page; overlaps the Lambda listing;
  SQS GetQueueAttributes, 2 per pipeline, PARALLEL in flight at SQS_CALL_S;
  taskpipe CPU measured at 5,000 and scaled linearly.
"""
import json
import math
import os
import resource
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

LAMBDA_RPS = 15.0
TAG_PAGE_S = 0.10     # assumed GetResources latency per page
SQS_CALL_S = 0.025    # assumed GetQueueAttributes latency
PARALLEL = 16         # taskpipe's default requests in flight
GOAL_S = 120.0


def lambda_calls_for(n):
    return math.ceil(n / 50) + math.ceil(n / 100) + 1   # + GetAccountSettings (cached hourly)


def project(n, cpu_per_pipeline_s):
    lam = lambda_calls_for(n) / LAMBDA_RPS
    tag = max(math.ceil(n / 100), math.ceil(2 * n / 100)) * TAG_PAGE_S
    sqs = 2 * n / PARALLEL * SQS_CALL_S
    cpu = cpu_per_pipeline_s * n
    return {"lambda_s": round(lam, 1), "tagging_s": round(tag, 1), "sqs_attrs_s": round(sqs, 1),
            "cpu_s": round(cpu, 1), "total_s": round(max(lam, tag) + sqs + cpu, 1)}


def child_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run(ctx):
    os.environ.setdefault("TASKPIPE_BIN", ctx["taskpipe"])   # read by harness at import
    import test_drift as td
    from awsproxy import FaultProxy
    results = []
    moto = td.DockerlessDefaultMoto()
    try:
        cpu_per = None
        for n in (1000, 5000):
            e = td.Env(moto, "bd")
            t0 = time.time()
            td.build_fleet(moto, e, n)
            build_s = time.time() - t0
            with FaultProxy(moto.endpoint) as proxy:
                c0 = child_cpu()
                t0 = time.time()
                r = e.run("drift", "--json", endpoint=proxy.endpoint)
                wall = time.time() - t0
                cpu = child_cpu() - c0
                counts = proxy.counts()
            doc = json.loads(r.stdout)
            lam = {k: v for k, v in counts.items() if k.startswith("lambda:")}
            total = sum(lam.values())
            cpu_per = cpu / n
            res = {"name": "drift_%d" % n, "pipelines": n, "exit_code": r.returncode,
                   "in_sync": doc["summary"]["in_sync"], "lambda_calls": total, "lambda_by_op": lam,
                   "all_calls": sum(counts.values()), "wall_s_vs_moto": round(wall, 2),
                   "taskpipe_cpu_s": round(cpu, 2), "fleet_build_s": round(build_s, 1),
                   "baseline": "per-resource GetFunction + ListEventSourceMappings",
                   "baseline_lambda_calls": 2 * n,
                   "ratio_vs_baseline": round(total / (2 * n), 4),
                   "goal_lambda_calls_below": n / 50 + n / 100 + 5,
                   "ok": r.returncode == 0 and total < n / 50 + n / 100 + 5}
            if n == 1000:
                # The per-resource approach measured: plan --all observes each pipeline.
                with FaultProxy(moto.endpoint) as proxy:
                    t0 = time.time()
                    e.run("plan", "--json", "--lambda-rps", "100000", endpoint=proxy.endpoint)
                    res["baseline_measured_wall_s_vs_moto"] = round(time.time() - t0, 2)
                    res["baseline_measured_lambda_calls"] = sum(
                        v for k, v in proxy.counts().items() if k.startswith("lambda:"))
            results.append(res)
            moto.reset()
        p = project(10000, cpu_per)
        base_s = max(10000 / 100.0, 10000 / LAMBDA_RPS)   # GetFunction 100/s, ListESM 15/s
        results.append({"name": "drift_10000_projected", "pipelines": 10000,
                        "lambda_calls": lambda_calls_for(10000), "projection": p,
                        "projected_s": p["total_s"], "goal_s": GOAL_S,
                        "baseline": "per-resource: 10,000 GetFunction at 100/s and 10,000 "
                                    "ListEventSourceMappings at 15/s",
                        "baseline_lambda_calls": 20000, "baseline_projected_s": round(base_s, 1),
                        "ratio_vs_baseline": round(p["total_s"] / base_s, 3),
                        "ok": p["total_s"] < GOAL_S})
    finally:
        moto.stop()
    return results


if __name__ == "__main__":
    root = os.path.abspath(os.path.join(HERE, "..", ".."))
    for r in run({"root": root, "taskpipe": os.environ.get("TASKPIPE_BIN", os.path.join(root, "taskpipe"))}):
        print(json.dumps(r))
