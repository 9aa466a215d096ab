"""Leases under reconcile (apply): after the grant the item and the state
are read again, so a change made between the first read and the grant is
what gets applied and recorded; a run longer than half its lease renews it,
so another run cannot take the pipeline over in the middle."""
import json
import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import run_taskpipe, TASKPIPE  # noqa: E402
from awsproxy import FaultProxy  # noqa: E402
from test_drift import Env, shared_moto  # noqa: E402


def result(r):
    doc = json.loads(r.stdout)
    return {p["pipeline"]: p for p in doc["pipelines"]} if isinstance(doc, dict) else \
        {p["pipeline"]: p for p in doc}


class Leases(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.moto = shared_moto()

    def ddb_item(self, e, memory):
        e.ddb.put_item(TableName=e.prefix + "config", Item={
            "pipeline": {"S": "r1"}, "memory": {"N": str(memory)}})

    def test_item_changed_between_read_and_grant_is_applied(self):
        e = Env(self.moto, "lr")
        P = e.prefix
        e.put({"pipeline": "r1", "memory": 128})
        self.assertEqual(e.run("apply", "r1").returncode, 0)
        self.ddb_item(e, 256)
        with FaultProxy(self.moto.endpoint) as proxy:
            # The lease grant (the run's first UpdateItem) is slow; meanwhile
            # the item changes again.
            proxy.add_rule({"match": {"service": "dynamodb", "operation": "UpdateItem"}, "times": 1,
                            "action": {"delay": 2.0}})
            env = dict(e.env, AWS_ENDPOINT_URL=proxy.endpoint)
            run = subprocess.Popen([TASKPIPE, "apply", "r1", "--json"], env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
            t0 = time.time()
            while time.time() - t0 < 20 and not any(x["operation"] == "UpdateItem" for x in proxy.log()):
                time.sleep(0.05)
            self.ddb_item(e, 512)
            out, err = run.communicate(timeout=120)
        self.assertEqual(run.returncode, 0, out + err)
        self.assertEqual(e.lam.get_function(FunctionName=P + "r1")["Configuration"]["MemorySize"], 512)
        # What was recorded is the current item: nothing left to do.
        r = e.run("apply", "r1", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(result(r)["r1"]["action"], "none", r.stdout)

    def test_long_run_renews_its_lease(self):
        e = Env(self.moto, "ln")
        P = e.prefix
        e.put({"pipeline": "r1", "memory": 128})
        self.assertEqual(e.run("apply", "r1").returncode, 0)
        self.ddb_item(e, 256)
        env_fast = dict(e.env, TASKPIPE_LEASE_TTL_S="2", TASKPIPE_LEASE_SKEW_S="0")
        with FaultProxy(self.moto.endpoint) as proxy:
            # Every Lambda call takes 1.5 s: the run lasts several 2 s leases.
            proxy.add_rule({"match": {"service": "lambda"}, "times": -1, "action": {"delay": 1.5}})
            env = dict(env_fast, AWS_ENDPOINT_URL=proxy.endpoint)
            run = subprocess.Popen([TASKPIPE, "apply", "r1", "--json"], env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
            time.sleep(3.5)   # past the first lease's end
            self.assertIsNone(run.poll(), "the run should still be going")
            lease = e.ddb.get_item(TableName=P + "state", Key={"pk": {"S": "lease#r1"}})["Item"]
            self.assertLessEqual(int(lease["expires_at"]["N"]), time.time() + 2 + 1)
            # Another run (no delay) cannot take the pipeline over meanwhile.
            other = run_taskpipe(["apply", "r1", "--json"], env_fast)
            self.assertEqual(other.returncode, 1, other.stdout + other.stderr)
            self.assertEqual(result(other)["r1"]["error"]["code"], "LeaseHeld")
            out, err = run.communicate(timeout=120)
        self.assertEqual(run.returncode, 0, out + err)
        res = result(subprocess.CompletedProcess([], 0, out, err))["r1"]
        self.assertGreaterEqual(res.get("lease_renewals", 0), 1, res)
        print("\nlease renewals in a %s-step run with 2 s leases: %d" % (
            "slow", res["lease_renewals"]), file=sys.stderr)
        self.assertEqual(e.lam.get_function(FunctionName=P + "r1")["Configuration"]["MemorySize"], 256)

    def test_policy_failure_never_overwrites_another_runs_state(self):
        """A pipeline whose policy fails has its error recorded fenced like
        any other state write: while another run holds its lease (and wrote
        a newer record), this run reports the error and writes nothing; with
        the lease free, the error is recorded under this run's fence."""
        e = Env(self.moto, "lp")
        P = e.prefix
        e.put({"pipeline": "pf", "concurrency": 0}, check=False)       # out of range: the policy fails
        now = int(time.time())
        e.ddb.put_item(TableName=P + "state", Item={
            "pk": {"S": "lease#pf"}, "pipeline": {"S": "pf"}, "holder": {"S": "another-run"},
            "expires_at": {"N": str(now + 600)}, "fence": {"N": "7"}})
        newer = {"pk": {"S": "pipeline#pf"}, "pipeline": {"S": "pf"}, "status": {"S": "ok"},
                 "action": {"S": "update"}, "lease_fence": {"N": "7"}, "updated_at": {"N": str(now)}}
        e.ddb.put_item(TableName=P + "state", Item=newer)
        r = e.run("apply", "pf", "--json")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(result(r)["pf"]["status"], "error", r.stdout)
        self.assertIn("concurrency", result(r)["pf"]["error"]["message"])
        st = e.ddb.get_item(TableName=P + "state", Key={"pk": {"S": "pipeline#pf"}})["Item"]
        self.assertEqual(st, newer)
        # The other run's lease expired: the error is recorded, fenced.
        e.ddb.update_item(TableName=P + "state", Key={"pk": {"S": "lease#pf"}},
                          UpdateExpression="SET expires_at = :t",
                          ExpressionAttributeValues={":t": {"N": str(now - 600)}})
        r = e.run("apply", "pf", "--json")
        self.assertEqual(r.returncode, 1, r.stderr)
        st = e.ddb.get_item(TableName=P + "state", Key={"pk": {"S": "pipeline#pf"}})["Item"]
        self.assertEqual(st["status"]["S"], "error")
        self.assertGreater(int(st["lease_fence"]["N"]), 7)


if __name__ == "__main__":
    unittest.main()
