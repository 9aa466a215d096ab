"""The call counts of a drift check over a large fleet, through the
counting proxy: 1,000 pipelines in sync cost ListFunctions and
ListEventSourceMappings pages only, and 200 pipelines with and without the
Tagging API's fallback. The fleet is built directly with boto3
(test_drift.build_fleet); the scenarios are in test_drift.py."""
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from awsproxy import FaultProxy  # noqa: E402
from test_drift import Env, build_fleet, shared_moto  # noqa: E402


class DriftScale(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.moto = shared_moto()

    def test_1000_pipelines_lambda_calls(self):
        n = 1000
        e = Env(self.moto, "ds")
        build_fleet(self.moto, e, n)
        with FaultProxy(self.moto.endpoint) as proxy:
            code, doc = e.drift(endpoint=proxy.endpoint, expect=0)
            counts = proxy.counts()
        self.assertEqual(doc["summary"]["in_sync"], n, [p for p in doc["pipelines"] if p["status"] != "in_sync"][:3])
        lam = {k: v for k, v in counts.items() if k.startswith("lambda:")}
        total = sum(lam.values())
        print("\ndrift of %d pipelines: Lambda calls %s (total %d), all calls %d, %d ms" % (
            n, lam, total, sum(counts.values()), doc["elapsed_ms"]), file=sys.stderr)
        self.assertLess(total, n / 50 + n / 100 + 5, lam)
        self.assertEqual(set(lam) - {"lambda:GetAccountSettings"},
                         {"lambda:ListFunctions", "lambda:ListEventSourceMappings"})
        self.assertEqual(doc["lambda_calls"], total)

    def test_200_pipelines_calls_with_and_without_fallback(self):
        """The call counts of a 200-pipeline drift check, settled (the
        Tagging API and ListQueues show everything) and with every resource
        too new for them (modelled: both answer empty), which is the worst
        case of the fallback: one GetFunction per function, one ListQueueTags
        and one GetQueueUrl per queue."""
        n = 200
        e = Env(self.moto, "d2")
        build_fleet(self.moto, e, n)
        empty = [
            {"match": {"service": "tagging", "operation": "GetResources"}, "times": -1,
             "action": {"status": 200, "body": json.dumps({"ResourceTagMappingList": []}),
                        "headers": {"Content-Type": "application/x-amz-json-1.1"}}},
            {"match": {"service": "sqs", "operation": "ListQueues"}, "times": -1,
             "action": {"status": 200, "body": json.dumps({"QueueUrls": []}),
                        "headers": {"Content-Type": "application/x-amz-json-1.0"}}}]
        result = {}
        for label, rules in (("settled", []), ("all lagging", empty)):
            with FaultProxy(self.moto.endpoint) as proxy:
                proxy.add_rules(rules)
                code, doc = e.drift(endpoint=proxy.endpoint, expect=0)
                counts = proxy.counts()
            self.assertEqual(doc["summary"]["in_sync"], n)
            pick = lambda pfx: {k: v for k, v in counts.items() if k.startswith(pfx)}  # noqa: E731
            result[label] = (pick("lambda:"), pick("tagging:"), pick("sqs:"), doc["tag_fallback"])
            print("\ndrift of %d pipelines, %s: Lambda %s; tagging %s; SQS %s; fallback %s" % (
                (n, label) + result[label]), file=sys.stderr)
        lam0, lam1 = (sum(v for op, v in result[k][0].items() if op != "lambda:GetAccountSettings")
                      for k in ("settled", "all lagging"))
        self.assertLessEqual(lam0, n / 50 + n / 100 + 2)
        self.assertEqual(lam1 - lam0, n)   # one GetFunction per function
        # GetFunction (its own 100/s quota), not ListTags (the control plane's 15/s)
        self.assertEqual(result["all lagging"][0].get("lambda:GetFunction"), n)
        self.assertNotIn("lambda:ListTags", result["all lagging"][0])
        self.assertEqual(result["all lagging"][2].get("sqs:ListQueueTags"), 2 * n)
        self.assertEqual(result["all lagging"][2].get("sqs:GetQueueUrl"), 2 * n)
        self.assertNotIn("sqs:ListQueueTags", result["settled"][2])


if __name__ == "__main__":
    unittest.main()
