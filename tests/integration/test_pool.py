"""Issue 23, defect 1: the account's concurrency is one pool.

Through the AWS-faithful layer (awsmodel.ConcurrencyPool, [pool]): Lambda
answers GetAccountSettings with the account's limit and its unreserved
executions, and refuses a PutFunctionConcurrency that would leave fewer
unreserved executions than the account's minimum, naming it ("below its
minimum value of [N]"). Every check reads moto with boto3 or the layer's
own pool, never taskpipe's output alone. Scale 0.02: one AWS second is
20 ms here."""
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Moto  # noqa: E402
from awsmodel import AwsModel  # noqa: E402
from test_pipelines import Env  # noqa: E402

SCALE = 0.02


class PoolBase(unittest.TestCase):
    model = {}

    @classmethod
    def setUpClass(cls):
        cls.moto = Moto.shared()
        cls.aws = AwsModel(cls.moto.endpoint, scale=SCALE, **cls.model).start()

    @classmethod
    def tearDownClass(cls):
        cls.aws.stop()

    def setUp(self):
        with self.aws._mlock:
            self.aws.pool.reserved.clear()
            self.aws.pool.refused.clear()

    def env(self, tag):
        return Env(self.moto, tag, AWS_ENDPOINT_URL=self.aws.endpoint)

    def nothing_of(self, e, name):
        """No queue, DLQ or function of this pipeline exists (moto, via boto3)."""
        self.assertIsNone(e.queue_url(e.qname(name)), name)
        self.assertIsNone(e.queue_url(e.qname(name, True)), name)
        self.assertIsNone(e.function(name), name)


class Pool(PoolBase):
    # room for 10 reservations: 110 executions, at least 100 kept unreserved
    model = {"account_concurrency": 110, "unreserved_min": 100}

    def test_twelve_reservations_in_room_for_ten(self):
        e = self.env("pool")
        names = ["g%02d" % i for i in range(12)]
        e.put(*[{"pipeline": n, "concurrency": 1} for n in names])
        res, _ = e.apply(expect=1)
        ok = [n for n in names if res[n]["status"] == "ok"]
        refused = [n for n in names if res[n]["status"] != "ok"]
        self.assertEqual(ok, names[:10], res)
        self.assertEqual(refused, names[10:])
        for n in refused:
            err = res[n]["error"]
            self.assertEqual(err["code"], "ConcurrencyPoolExhausted", err)
            # the numbers: minimum 100, limit 110, 100 unreserved left by the ten
            for part in ("minimum of 100", "account limit 110", "nothing of this pipeline was created"):
                self.assertIn(part, err["message"])
            self.nothing_of(e, n)       # nothing half made
        # Lambda itself never had to refuse: taskpipe checked first.
        self.assertEqual(self.aws.pool.refused, [])
        for n in ok:
            self.assertEqual(e.function(n)["Concurrency"]["ReservedConcurrentExecutions"], 1)
            self.assertEqual(len(e.mappings(n)), 1, n)
        self.assertEqual(self.aws.pool.unreserved(), 100)

        # plan, ls and drift report the fleet's demand against the account.
        r = e.plan("--json", json_out=False)
        pool = json.loads(r.stdout)["pool"]
        self.assertEqual((pool["pipelines"], pool["reserved"], pool["max_concurrency"]), (12, 12, 0), pool)
        self.assertEqual((pool["account_limit"], pool["unreserved"], pool["unreserved_min"],
                          pool["reservable"]), (110, 100, 100, 0), pool)
        r = e.run("plan")
        self.assertIn("concurrency pool: 12 pipelines ask 12 (MaximumConcurrency 0 + reserved 12) "
                      "of the account's 110", r.stdout)
        ls = json.loads(e.run("ls", "--json").stdout)
        self.assertEqual(len(ls), 12)
        # ls counts the specs in force: the ten applied
        self.assertRegex(e.run("ls").stdout, r"concurrency pool: .*reserved 10\b.*of the account's 110")
        r = e.run("drift", "--json")
        pool = json.loads(r.stdout)["pool"]
        self.assertEqual((pool["pipelines"], pool["reserved"], pool["account_limit"]), (12, 12, 110), pool)

        # Freeing two reservations (items deleted) makes room on the next run.
        for n in names[:2]:
            e.ddb.delete_item(TableName=e.prefix + "config", Key={"pipeline": {"S": n}})
        e.apply(expect=1)                # deletes free room only once applied
        res, _ = e.apply()
        for n in names[10:]:
            self.assertEqual(res[n]["status"], "ok", res[n])
            self.assertEqual(len(e.mappings(n)), 1, n)
        self.assertEqual(self.aws.pool.unreserved(), 100)
        self.assertEqual(self.aws.pool.refused, [])

    def test_mixed_fleet_demand(self):
        """MaximumConcurrency reserves nothing, but counts in the fleet's demand."""
        e = self.env("poolmix")
        e.put({"pipeline": "wide", "concurrency": 150}, {"pipeline": "one", "concurrency": 1},
              {"pipeline": "off", "concurrency": 40, "enabled": False})
        res, _ = e.apply()
        self.assertEqual({n: p["status"] for n, p in res.items()},
                         {"wide": "ok", "one": "ok", "off": "ok"})
        pool = json.loads(e.run("plan", "--json").stdout)["pool"]
        # a disabled mapping asks nothing; 150 + 1 exceeds the account's 110
        self.assertEqual((pool["max_concurrency"], pool["reserved"], pool["demand"], pool["over_limit"]),
                         (150, 1, 151, True), pool)
        self.assertIn("OVER the limit", e.run("plan").stdout)


class LearnedMinimum(PoolBase):
    # the account keeps 105 unreserved, not the documented default of 100
    model = {"account_concurrency": 110, "unreserved_min": 105}

    def test_minimum_learned_from_the_refusal(self):
        e = self.env("poolmin")
        names = ["m%d" % i for i in range(7)]
        e.put(*[{"pipeline": n, "concurrency": 1} for n in names])
        res, _ = e.apply(expect=1)
        # taskpipe assumed 100 (room 10); Lambda refused the sixth and seventh
        self.assertEqual([n for n in names if res[n]["status"] == "ok"], names[:5], res)
        for n in names[5:]:
            self.assertEqual(res[n]["error"]["code"], "ConcurrencyPoolExhausted", res[n])
            self.assertIn("at least 105", res[n]["error"]["message"])
        self.assertEqual(len(self.aws.pool.refused), 2)
        st = e.ddb.get_item(TableName=e.prefix + "state", Key={"pk": {"S": "account#settings"}})["Item"]
        self.assertEqual(st["unreserved_min"], {"N": "105"})
        # The next run knows: a new pipeline is refused before anything is made,
        # and Lambda is not asked again.
        e.put({"pipeline": "late", "concurrency": 1})
        res, _ = e.apply("late", expect=1)
        self.assertEqual(res["late"]["error"]["code"], "ConcurrencyPoolExhausted")
        self.assertIn("minimum of 105, as Lambda named it", res["late"]["error"]["message"])
        self.nothing_of(e, "late")
        self.assertEqual(len(self.aws.pool.refused), 2)
        pool = json.loads(e.run("plan", "--json").stdout)["pool"]
        self.assertEqual((pool["unreserved_min"], pool["unreserved_min_learned"]), (105, True), pool)


if __name__ == "__main__":
    unittest.main()
