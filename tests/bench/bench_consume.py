"""Consumer layer proxy benchmarks (issue 13), against the plain handler in
the same run:

  consume_invoke_overhead  median round trip of an invocation (a 10-record SQS
                           event, enqueue at the Runtime API emulator to the
                           answer) through `taskpipe consume` minus the same
                           handler talking to the emulator directly, in us;
                           pass-through and pacing (TASKPIPE_RATE high enough
                           never to wait) measured alternately, 400 each;
                           and pacing on the shared schedule (TASKPIPE_RATE_TABLE,
                           burst 10 so the claim is all that differs: one
                           conditional UpdateItem per batch, against moto on
                           127.0.0.1, so the DynamoDB round trip is moto's, not AWS's).
  consume_overhead_per_record  the paced proxy at batch 10 and burst 1 (the
                           default: the runtime gets 10 sub-batches of 1 record,
                           10 round trips proxy <-> runtime, answers merged),
                           minus the handler alone on the whole batch, per
                           record; and with TASKPIPE_BURST=10 (one sub-batch:
                           the event as it came), both in the same run.
  consume_cold_start       process start to the first /next at the emulator,
                           median of 30 interleaved: `taskpipe consume -- python3 handler`
                           vs `python3 handler`; and the same for next_probe.c (the
                           smallest runtime start: connect, GET /next), where
                           the proxy's own start-up is most of what is measured.
"""
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from runtime_emulator import RuntimeEmulator  # noqa: E402
from harness import Moto  # noqa: E402

HANDLER = os.path.join(HERE, "..", "integration", "consumer_handler.py")
RUNS = 400
COLD = 30


def _event(n):
    return {"Records": [{"messageId": "m%d" % i, "receiptHandle": "rh%d" % i, "body": "x" * 200,
                         "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q",
                         "awsRegion": "us-east-1"} for i in range(n)]}


def _start(cmd, extra):
    emu = RuntimeEmulator().start()
    env = dict(os.environ, AWS_LAMBDA_RUNTIME_API=emu.address, **extra)
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return emu, p


def _round_trip(emu, event):
    rid = emu.enqueue(event)
    res = emu.wait_result(rid, 30)
    return (res["time"] - emu.invocations[rid]["queued"]) * 1e6


def _cold(cmds, runs):
    """Start each command in turn, runs times (interleaved: load on the
    machine hits both alike); ms from exec to the first /next."""
    emu = RuntimeEmulator().start()
    env = dict(os.environ, AWS_LAMBDA_RUNTIME_API=emu.address)
    times = [[] for _ in cmds]
    n = 0
    for _ in range(runs):
        for k, cmd in enumerate(cmds):
            t0 = time.time()
            p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            n += 1
            t1 = emu.wait_next(count=n, timeout=60)[n - 1]
            times[k].append((t1 - t0) * 1000)
            p.kill()
            p.wait()
    emu.stop()
    return times


def run(ctx):
    tp = ctx["taskpipe"]
    plain = [sys.executable, HANDLER]
    moto = Moto.shared()
    table = "bench-consume-state-%d" % os.getpid()
    moto.client("dynamodb").create_table(
        TableName=table, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    variants = {"plain": _start(plain, {}),
                "proxy": _start([tp, "consume", "--"] + plain, {}),
                "paced": _start([tp, "consume", "--"] + plain, {"TASKPIPE_RATE": "1000000"}),
                "paced_burst10": _start([tp, "consume", "--"] + plain,
                                        {"TASKPIPE_RATE": "1000000", "TASKPIPE_BURST": "10"}),
                "shared": _start([tp, "consume", "--"] + plain,
                                 moto.env(TASKPIPE_RATE="1000000", TASKPIPE_RATE_TABLE=table, TASKPIPE_BURST="10",
                                          AWS_LAMBDA_FUNCTION_NAME="bench-consume"))}
    ev = _event(10)
    times = {k: [] for k in variants}
    try:
        for k, (emu, _) in variants.items():     # warm-up
            for _ in range(20):
                _round_trip(emu, ev)
        for _ in range(RUNS):
            for k, (emu, _) in variants.items():
                times[k].append(_round_trip(emu, ev))
    finally:
        for emu, p in variants.values():
            p.kill()
            p.wait()
            emu.stop()
    med = {k: statistics.median(v) for k, v in times.items()}
    cold = _cold([plain, [tp, "consume", "--"] + plain], COLD)
    cold_plain, cold_proxy = statistics.median(cold[0]), statistics.median(cold[1])
    added = statistics.median(b - a for a, b in zip(cold[0], cold[1]))
    with tempfile.TemporaryDirectory() as d:
        probe = os.path.join(d, "next_probe")
        subprocess.run(["cc", "-O2", "-o", probe, os.path.join(HERE, "next_probe.c")], check=True)
        pc = _cold([[probe], [tp, "consume", "--", probe]], COLD * 3)
    probe_plain, probe_proxy = statistics.median(pc[0]), statistics.median(pc[1])
    probe_added = statistics.median(b - a for a, b in zip(pc[0], pc[1]))
    return [
        {"name": "consume_invoke_overhead", "records_per_event": 10,
         "baseline": "the handler on the emulator directly", "baseline_median_us": round(med["plain"]),
         "proxy_median_us": round(med["proxy"]), "paced_median_us": round(med["paced"]),
         "overhead_us": round(med["proxy"] - med["plain"]), "paced_overhead_us": round(med["paced"] - med["plain"]),
         "ratio_vs_baseline": round(med["paced"] / med["plain"], 3)},
        {"name": "consume_overhead_per_record", "records_per_event": 10, "burst": 1,
         "baseline": "the handler on the emulator directly, the whole batch, same run",
         "baseline_median_us": round(med["plain"]), "paced_median_us": round(med["paced"]),
         "overhead_us_per_record": round((med["paced"] - med["plain"]) / 10),
         "ratio_vs_baseline": round(med["paced"] / med["plain"], 3),
         "burst10_median_us": round(med["paced_burst10"]),
         "burst10_overhead_us_per_record": round((med["paced_burst10"] - med["plain"]) / 10),
         "burst10_ratio_vs_baseline": round(med["paced_burst10"] / med["plain"], 3)},
        {"name": "consume_invoke_overhead_shared", "records_per_event": 10,
         "baseline": "pacing at the instance's share (no table), burst 10, same run", "burst": 10,
         "baseline_median_us": round(med["paced_burst10"]), "shared_median_us": round(med["shared"]),
         "added_us": round(med["shared"] - med["paced_burst10"]),
         "ratio_vs_baseline": round(med["shared"] / med["paced_burst10"], 3)},
        {"name": "consume_cold_start", "baseline": "python3 handler started directly",
         "baseline_median_ms": round(cold_plain, 2), "proxy_median_ms": round(cold_proxy, 2),
         "added_ms_paired_median": round(added, 2), "ratio_vs_baseline": round(cold_proxy / cold_plain, 3)},
        {"name": "consume_cold_start_minimal", "baseline": "next_probe (C: connect, GET /next)",
         "baseline_median_ms": round(probe_plain, 3), "proxy_median_ms": round(probe_proxy, 3),
         "added_ms_paired_median": round(probe_added, 3), "ratio_vs_baseline": round(probe_proxy / probe_plain, 3)},
    ]


if __name__ == "__main__":
    import json
    for r in run({"taskpipe": os.path.join(HERE, "..", "..", "taskpipe")}):
        print(json.dumps(r))
