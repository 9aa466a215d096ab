"""Limit groups, the controller's half (docs/consumer-layer.md "Limit groups"): a group's
item keyed limit#NAME and checked by the policy's limit_group(); members
get the group's rate and burst in their environment; a change of the group
reaches its members through the stream (`taskpipe watch`, which handles
records as the controller's Lambda function does); a member leaving the
group; removing the group; a member naming a group that does not exist; a
bad group; and what put, policy check, ls, plan, drift and rm say of groups.
The consumer's half (every start booked on both schedules) is
test_limit_group_rate.

taskpipe talks to the AWS-faithful layer (awsmodel.py), as test_rates does;
every check reads moto directly with boto3."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import TASKPIPE, run_taskpipe  # noqa: E402
from awsmodel import AwsModel  # noqa: E402
from test_drift import Env, shared_moto  # noqa: E402
from test_rates import layer_zip  # noqa: E402

SCALE = 0.02
GROUP_VARS = ("TASKPIPE_LIMIT_GROUP", "TASKPIPE_LIMIT_GROUP_RATE", "TASKPIPE_LIMIT_GROUP_BURST")


class LimitGroups(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.moto = shared_moto()
        cls.aws = AwsModel(cls.moto.endpoint, scale=SCALE, list_lag_s=0).start()
        lam = cls.moto.client("lambda")
        cls.layer = lam.publish_layer_version(LayerName="taskpipe-consumer", Content={"ZipFile": layer_zip()},
                                              CompatibleArchitectures=["x86_64"])["LayerVersionArn"]

    @classmethod
    def tearDownClass(cls):
        cls.aws.stop()

    def env(self, tag):
        e = Env(self.moto, tag)
        e.env["AWS_ENDPOINT_URL"] = self.aws.endpoint
        e.env["TASKPIPE_CONSUMER_LAYER"] = self.layer
        return e

    def put_file(self, e, lines, expect=0, *flags):
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            f.write("\n".join(json.dumps(x) for x in lines) + "\n")
        self.addCleanup(os.unlink, f.name)
        r = e.run("put", *flags, f.name)
        self.assertEqual(r.returncode, expect, r.stdout + r.stderr)
        return r

    def apply(self, e, *names, expect=0):
        r = e.run("apply", *(names or ("--all",)), "--json")
        self.assertEqual(r.returncode, expect, r.stderr[-3000:] + r.stdout[-3000:])
        return {p["pipeline"]: p for p in json.loads(r.stdout)["pipelines"]}

    def watch(self, e, *args):
        """The stream's records since the last call, handled as the controller does."""
        r = subprocess.run([TASKPIPE, "watch", "--once"] + list(args), env=e.env, capture_output=True,
                           text=True, timeout=600)
        return r

    def variables(self, e, name):
        cfg = e.lam.get_function(FunctionName=e.prefix + name)["Configuration"]
        return cfg.get("Environment", {}).get("Variables", {})

    def group_vars(self, e, name):
        v = self.variables(e, name)
        return {k: v[k] for k in GROUP_VARS if k in v}, v.get("TASKPIPE_RATE"), v.get("TASKPIPE_BURST")

    def test_members_follow_their_group(self):
        e = self.env("lg")
        # members first: put writes a file's groups before its pipelines
        self.put_file(e, [
            {"pipeline": "site-1", "limit_group": "acme-api", "rate": 4},
            {"pipeline": "site-2", "limit_group": "acme-api", "rate": "120/min", "burst": 2},
            {"pipeline": "site-3", "limit_group": "acme-api"},
            {"pipeline": "solo", "rate": 1},
            {"limit_group": "acme-api", "rate": "600/min", "burst": 5},
        ])
        # the group's item: keyed limit#acme-api, not a pipeline
        item = e.ddb.get_item(TableName=e.prefix + "config", Key={"pipeline": {"S": "limit#acme-api"}})["Item"]
        self.assertEqual(item["limit_group"], {"S": "acme-api"})
        r = self.watch(e, "--from-start")
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        acme = {"TASKPIPE_LIMIT_GROUP": "acme-api", "TASKPIPE_LIMIT_GROUP_RATE": "10",
                "TASKPIPE_LIMIT_GROUP_BURST": "5"}
        self.assertEqual(self.group_vars(e, "site-1"), (acme, "4", "1"))
        self.assertEqual(self.group_vars(e, "site-2"), (acme, "2", "2"))
        # no rate of its own: the group's (a member never goes faster than its group)
        self.assertEqual(self.group_vars(e, "site-3"), (acme, "10", "1"))
        self.assertEqual(self.group_vars(e, "solo"), ({}, "1", "1"))
        with self.assertRaises(e.lam.exceptions.ResourceNotFoundException):
            e.lam.get_function(FunctionName=e.prefix + "limit-acme-api")
        self.assertEqual(e.url(e.prefix + "limit#acme-api"), None)

        # ls: the group after the pipelines, with its members; rows have kinds
        r = e.run("ls", "--json")
        rows = json.loads(r.stdout)
        groups = [x for x in rows if x["kind"] == "limit_group"]
        self.assertEqual(groups, [{"kind": "limit_group", "limit_group": "acme-api", "rate": "600/min",
                                   "burst": "5", "members": ["site-1", "site-2", "site-3"]}])
        self.assertEqual(sorted(x["pipeline"] for x in rows if x["kind"] == "pipeline"),
                         ["site-1", "site-2", "site-3", "solo"])
        self.assertEqual({x["pipeline"]: x.get("limit_group") for x in rows if x["kind"] == "pipeline"},
                         {"site-1": "acme-api", "site-2": "acme-api", "site-3": "acme-api", "solo": None})
        text = e.run("ls").stdout
        self.assertIn("LIMIT GROUP", text)
        self.assertRegex(text, r"acme-api\s+600/min\s+5\s+3: site-1, site-2, site-3")
        # a group has no queue: send says what the name is
        r = e.run("send", "acme-api", "hello")
        self.assertEqual(r.returncode, 1)
        self.assertIn("it is a limit group, which has no queue: send to its members", r.stderr)
        # plan and drift: four pipelines, in sync; the group is no pipeline of theirs
        r = e.run("plan", "--json")
        self.assertEqual(r.returncode, 0, r.stdout[-2000:] + r.stderr)
        self.assertEqual(sorted(p["pipeline"] for p in json.loads(r.stdout)["pipelines"]),
                         ["site-1", "site-2", "site-3", "solo"])
        code, doc = e.drift(expect=0)
        self.assertEqual(sorted(p["pipeline"] for p in doc["pipelines"]), ["site-1", "site-2", "site-3", "solo"])

        # the group's rate changes: the stream record re-applies every member
        self.put_file(e, [{"limit_group": "acme-api", "rate": "300/min", "burst": 3}])
        r = self.watch(e)
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        acme = dict(acme, TASKPIPE_LIMIT_GROUP_RATE="5", TASKPIPE_LIMIT_GROUP_BURST="3")
        self.assertEqual(self.group_vars(e, "site-1"), (acme, "4", "1"))
        self.assertEqual(self.group_vars(e, "site-2"), (acme, "2", "2"))
        self.assertEqual(self.group_vars(e, "site-3"), (acme, "5", "1"))
        self.assertEqual(self.group_vars(e, "solo"), ({}, "1", "1"))
        code, doc = e.drift(expect=0)

        # a member leaves the group: its variables go, its own rate stays
        self.put_file(e, [{"pipeline": "site-2", "rate": "120/min", "burst": 2}])
        r = self.watch(e)
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        self.assertEqual(self.group_vars(e, "site-2"), ({}, "2", "2"))
        self.assertEqual(self.group_vars(e, "site-1"), (acme, "4", "1"))

        # removing the group removes it from its members at their next apply
        r = e.run("rm", "acme-api")
        self.assertEqual(r.returncode, 1)
        self.assertIn("a limit group has that name: taskpipe rm limit#acme-api", r.stderr)
        r = e.run("rm", "limit#acme-api")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("removed limit group acme-api (its members apply without it)", r.stdout)
        r = e.run("plan", "site-3")
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("note: limit group acme-api was removed: applied without it; the item has no rate of its "
                      "own, so its tasks are no longer paced", r.stdout)
        r = self.watch(e)
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        self.assertEqual(self.group_vars(e, "site-1"), ({}, "4", "1"))
        self.assertEqual(self.variables(e, "site-3").get("TASKPIPE_RATE"), None)
        # a new member of the removed group is refused at the door
        r = self.put_file(e, [{"pipeline": "late", "limit_group": "acme-api", "rate": 1}], 1)
        self.assertIn("late: refused: NoLimitGroup: limit_group: no limit group 'acme-api' (it was removed", r.stderr)
        # and later runs agree (no error for a group that was removed)
        res = self.apply(e)
        self.assertEqual({k: v["status"] for k, v in res.items()},
                         {"site-1": "ok", "site-2": "ok", "site-3": "ok", "solo": "ok"})
        e.drift(expect=0)
        # put back: its members join again
        self.put_file(e, [{"limit_group": "acme-api", "rate": 2, "burst": 1}])
        r = self.watch(e)
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        self.assertEqual(self.group_vars(e, "site-1")[0]["TASKPIPE_LIMIT_GROUP_RATE"], "2")
        self.assertEqual(self.group_vars(e, "site-3")[1], "2")
        self.assertEqual([v for v in self.aws.violations() if e.prefix in str(v.get("target"))], [])

    def test_bad_and_missing_groups_are_named_and_change_nothing(self):
        e = self.env("lb")
        self.put_file(e, [{"limit_group": "api", "rate": 2, "burst": 2},
                          {"pipeline": "ok-1", "limit_group": "api"},
                          {"pipeline": "moved", "limit_group": "api", "rate": 1}])
        self.apply(e)
        before = self.variables(e, "moved")
        # put refuses, each named with FILE:LINE, the rest goes in
        r = self.put_file(e, [
            {"pipeline": "typo", "limit_group": "apii", "rate": 1},
            {"limit_group": "bad", "rate": "fast"},
            {"limit_group": "bad2", "rate": 1, "burts": 2},
            {"pipeline": "wide", "limit_group": "api", "burst": 3},
            {"pipeline": "limit#api", "limit_group": "other", "rate": 1},
            {"pipeline": "fine", "limit_group": "api", "rate": 1},
        ], 1)
        err = r.stderr
        self.assertIn(":1: typo: refused: NoLimitGroup: limit_group: no limit group 'apii' (no item limit#apii in "
                      "%sconfig" % e.prefix, err)
        self.assertIn(":2: limit#bad: refused: BadLimitGroup: limit group bad: rate: 'fast' is not a rate", err)
        self.assertIn(":3: limit#bad2: refused: BadLimitGroup: limit group bad2: burts: not a field of a limit group",
                      err)
        self.assertIn(":4: wide: refused: PolicyRejected: burst: 3 is above limit group api's burst 2", err)
        self.assertIn(":5: pipeline: 'limit#api' does not match limit_group 'other'", err)
        self.assertIn("put fine", r.stdout)
        self.assertIn("6 items: 1 put, 5 refused", r.stdout)

        # written unchecked: apply names the group, changes nothing of that
        # pipeline and still applies the others
        self.put_file(e, [{"pipeline": "moved", "limit_group": "nowhere", "rate": 1},
                          {"limit_group": "broken", "rate": "fast"},
                          {"pipeline": "in-broken", "limit_group": "broken", "rate": 1}], 0, "--no-check")
        res = self.apply(e, expect=1)
        self.assertEqual(res["moved"]["error"]["code"], "NoLimitGroup")
        self.assertIn("no limit group 'nowhere'", res["moved"]["error"]["message"])
        self.assertEqual(res["in-broken"]["error"]["code"], "BadLimitGroup")
        self.assertIn("limit group broken: rate: 'fast' is not a rate", res["in-broken"]["error"]["message"])
        self.assertEqual((res["ok-1"]["status"], res["fine"]["status"]), ("ok", "ok"))
        self.assertNotIn("limit#broken", res)
        self.assertEqual(self.variables(e, "moved"), before)
        with self.assertRaises(e.lam.exceptions.ResourceNotFoundException):
            e.lam.get_function(FunctionName=e.prefix + "in-broken")
        # drift says the same, per pipeline
        code, doc = e.drift(expect=1)
        errs = {p["pipeline"]: p for p in doc["pipelines"] if p["status"] == "error"}
        self.assertEqual(sorted(errs), ["in-broken", "moved"])

    def test_policy_check_takes_groups_from_its_items(self):
        e = self.env("lp")
        d = tempfile.mkdtemp()
        member, group = os.path.join(d, "m.json"), os.path.join(d, "g.json")
        with open(member, "w") as f:
            json.dump({"pipeline": "m", "limit_group": "g", "rate": 3}, f)
        with open(group, "w") as f:
            json.dump({"limit_group": "g", "rate": "60/min", "burst": 2}, f)
        r = run_taskpipe(["policy", "check", member, group], e.env)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        lines = [json.loads(x) for x in r.stdout.splitlines()]
        self.assertEqual(lines[0], {"file": group, "ok": True, "limit_group": {"burst": 2, "rate": "1"}})
        env = lines[1]["spec"]["func"]["Environment"]["Variables"]
        self.assertEqual((env["TASKPIPE_LIMIT_GROUP"], env["TASKPIPE_LIMIT_GROUP_RATE"],
                          env["TASKPIPE_LIMIT_GROUP_BURST"], env["TASKPIPE_RATE"]), ("g", "1", "2", "3"))
        r = run_taskpipe(["policy", "check", member], e.env)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(json.loads(r.stdout)["code"], "NoLimitGroup")


if __name__ == "__main__":
    unittest.main()
