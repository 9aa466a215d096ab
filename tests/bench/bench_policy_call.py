"""Policy call cost: each call in the sandbox's worker process (the isolation
that holds the wall-clock limit, src/script/worker.c) against the same call run in
this process, 1,000 default-policy calls each, same run (tests/bench/bench_policy.c,
built by `make bench-policy`)."""
import json
import os
import subprocess


def run(ctx):
    root = ctx["root"]
    subprocess.run(["make", "-s", "-C", root, "out/x86_64/bench_policy"], check=True, capture_output=True)
    r = subprocess.run([os.path.join(root, "out", "x86_64", "bench_policy"), "1000"],
                       capture_output=True, text=True, check=True)
    out = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    for o in out:
        o["baseline"] = "the same call in-process (no wall-clock limit)"
        o["ratio_vs_baseline"] = round(o["isolated_us"] / o["in_process_us"], 2)
    return out
