"""The fleet by simulation (run(ctx) -> list of result dicts, see bench.py).

out/bench/fleet_sim N (tests/bench/fleet_sim.c, built -O2 without
sanitizers by `make bench`) runs taskpipe's controller code against the
in-memory fake AWS (tests/fake/) with AWS's quotas on, for each N in
FLEET_SIZES (default "10000", 3-8 minutes here; 50,000 does not fit in real
minutes, see docs/PERFORMANCE.md: FLEET_SIZES=50000 with FLEET_SEED=1
measures the phases after the create; `make fleet-sim` runs 500 for a quick
look), one process per size. Phases: create (apply --all), change a
third of the limits, drift check, rollout of a new code upload.

The baseline, measured for the same fleet in the same run, is the floor the
quotas allow (create: 2 mutating Lambda calls per pipeline at 15/s; change:
the mutating calls the change needs at 15/s; rollout: 1 UpdateFunctionCode
per function at 15/s): each result's ratio_vs_floor is simulated time /
floor. Goals (issue 32): create and rollout within 1.1x the floor, drift of
the fleet within one 15-minute Lambda invocation, the controller under 128 MB
at 50,000 (fleet_memory: the controller's heap peak plus the program's RSS
before any work; the fake's own memory is booked apart, fleet_mem.c).
Each run's full table goes to stderr.
"""
import json
import os
import subprocess
import sys


def run_size(root, n):
    exe = os.path.join(root, "out", "bench", "fleet_sim")
    if not os.path.exists(exe):
        sys.stderr.write("bench_fleet_sim: %s is missing: make bench (or make out/bench/fleet_sim) builds it\n" % exe)
        return 1, None
    p = subprocess.run([exe, str(n)], capture_output=True, text=True)
    sys.stderr.write(p.stdout.replace("FLEET_JSON ", "") if p.returncode else
                     "".join(l + "\n" for l in p.stdout.splitlines() if not l.startswith("FLEET_JSON ")))
    sys.stderr.write(p.stderr[-4000:])
    doc = None
    for line in p.stdout.splitlines():
        if line.startswith("FLEET_JSON "):
            doc = json.loads(line[len("FLEET_JSON "):])
    return p.returncode, doc


def results_of(n, rc, doc):
    if doc is None:
        return [{"name": "fleet_sim_%d" % n, "ok": False, "error": "fleet_sim exited %d without a result" % rc}]
    out = []
    for ph in doc["phases"]:
        r = {"name": "fleet_%s_%d" % (ph["phase"], n)}
        for k in ("pipelines", "requests_per_pipeline", "lambda_per_pipeline", "sim_s", "floor_s",
                  "ratio_vs_floor", "canary_watch_s", "ratio_vs_floor_without_watch", "controller_cpu_s",
                  "fake_cpu_s", "real_s", "controller_heap_peak_mb", "outcome", "ok", "failed", "seeded", "baseline"):
            if k in ph:
                r[k] = round(ph[k], 3) if isinstance(ph[k], float) else ph[k]
        if ph["phase"] in ("create", "rollout"):
            r["goal"] = "ratio_vs_floor <= 1.1"
        elif ph["phase"] == "drift":
            r["goal"] = "sim_s <= 900 (one Lambda invocation)"
        out.append(r)
    out.append({"name": "fleet_memory_%d" % n, "controller_rss_estimate_mb": round(doc["controller_rss_estimate_mb"], 1),
                "controller_heap_peak_mb": round(doc["controller_heap_peak_mb"], 1),
                "baseline_rss_mb": round(doc["baseline_rss_mb"], 1),
                "process_peak_rss_mb": round(doc["process_peak_rss_mb"], 1),
                "fake_heap_mb": round(doc["fake_heap_mb"], 1), "goal_mb": 128,
                "ok": doc["controller_rss_estimate_mb"] < 128, "real_s": round(doc["real_s"], 1)})
    return out


def run(ctx):
    sizes = [int(s) for s in (os.environ.get("FLEET_SIZES") or "10000").split()]
    out = []
    for n in sizes:
        rc, doc = run_size(ctx["root"], n)
        out.extend(results_of(n, rc, doc))
    return out


if __name__ == "__main__":
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    for r in run({"root": root}):
        print(json.dumps(r))
