"""Steering and trust (issue 27), end to end against moto: put reads every
item of every file and reports each (JSON lines, arrays, DynamoDB JSON) and
checks each with the policy first; rm/apply/plan of a missing name are
errors; forget clears the record of an item that can never be applied; ls
filters and shows enabled, paused, rate and concurrency; apply NAME observes
and repairs what plan shows.

Checked with boto3 (the independent reader) and the counting proxy."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Moto, run_taskpipe, BASE_ENV, TASKPIPE  # noqa: E402
from awsproxy import FaultProxy  # noqa: E402
from test_pipelines import Env  # noqa: E402
import test_drift  # noqa: E402
from test_rates import layer_zip  # noqa: E402


def config_names(e):
    items = e.ddb.scan(TableName=e.prefix + "config", ConsistentRead=True)["Items"]
    return sorted(i["pipeline"]["S"] for i in items)


def state_item(e, pk):
    return e.ddb.get_item(TableName=e.prefix + "state", Key={"pk": {"S": pk}},
                          ConsistentRead=True).get("Item")


class Put(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.moto = Moto.shared()

    def test_json_lines_every_item(self):
        e = Env(self.moto, "pl")
        r = e.run("put", "-", input='{"pipeline":"x1"}\n{"pipeline":"x2"}\n\n{"pipeline":"x3","concurrency":4}\n')
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.splitlines()[:3], ["put x1", "put x2", "put x3"])
        self.assertIn("3 items: 3 put, 0 refused", r.stdout)
        self.assertEqual(config_names(e), ["x1", "x2", "x3"])

    def test_array_ddb_json_and_several_files(self):
        e = Env(self.moto, "pa")
        d = self.id().replace(".", "_")
        os.makedirs("/tmp/" + d, exist_ok=True)
        f1, f2 = "/tmp/%s/a.json" % d, "/tmp/%s/b.json" % d
        with open(f1, "w") as f:
            json.dump([{"pipeline": "a1"}, {"pipeline": {"S": "a2"}, "concurrency": {"N": "3"}}], f, indent=2)
        with open(f2, "w") as f:
            f.write(json.dumps({"Item": {"pipeline": {"S": "b1"}}}) + "\n" + json.dumps({"pipeline": "b2"}))
        r = e.run("put", f1, f2)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(sorted(r.stdout.splitlines()[:4]), ["put a1", "put a2", "put b1", "put b2"])
        self.assertEqual(config_names(e), ["a1", "a2", "b1", "b2"])
        got = e.ddb.get_item(TableName=e.prefix + "config", Key={"pipeline": {"S": "a2"}})["Item"]
        self.assertEqual(got["concurrency"], {"N": "3"})

    def test_policy_refusals_name_the_field_and_others_go_on(self):
        e = Env(self.moto, "pr")
        lines = [{"pipeline": "good1"}, {"pipeline": "t1", "concurency": 2}, {"pipeline": "t2", "rate": 0},
                 {"pipeline": "t3", "rate": "fast"}, {"pipeline": "g h"}, {"pipeline": "good2"}]
        text = "\n".join(json.dumps(x) for x in lines) + "\nnot json at all\n" + '{"nopipeline": 1}\n'
        r = e.run("put", "-", input=text)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertEqual(r.stdout.splitlines()[:2], ["put good1", "put good2"])
        err = r.stderr
        self.assertRegex(err, r"-:2: t1: refused: .*concurency")
        self.assertRegex(err, r"-:3: t2: refused: .*rate")
        self.assertRegex(err, r"-:4: t3: refused: .*rate")
        self.assertRegex(err, r"-:5: g h: refused: BadName")
        self.assertIn("-:7: not valid JSON", err)
        self.assertRegex(err, r"-:8: the item needs a string \"pipeline\"")
        self.assertIn("8 items: 2 put, 6 refused", r.stdout)
        self.assertEqual(config_names(e), ["good1", "good2"])
        # --no-check writes what the policy would refuse; the name check of
        # DynamoDB values still holds
        r = e.run("put", "--no-check", "-", input=json.dumps({"pipeline": "t1", "concurency": 2}))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(config_names(e), ["good1", "good2", "t1"])

    def test_empty_input_is_an_error(self):
        e = Env(self.moto, "pe")
        r = e.run("put", "-", input="  \n")
        self.assertEqual(r.returncode, 1)
        self.assertIn("no items", r.stderr)


class Missing(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.moto = Moto.shared()

    def test_rm_apply_plan_of_missing_are_errors_without_mutations(self):
        e = Env(self.moto, "mi")
        e.put({"pipeline": "here"})
        with FaultProxy(self.moto.endpoint) as px:
            r = e.run("rm", "nosuch", endpoint=px.endpoint)
            self.assertEqual(r.returncode, 1)
            self.assertIn("nosuch: NotFound", r.stderr)
            self.assertNotIn("removed", r.stdout)
            self.assertEqual(px.mutating_counts(), {}, px.counts())
        self.assertEqual(config_names(e), ["here"])
        with FaultProxy(self.moto.endpoint) as px:
            r = e.run("apply", "nosuch", "--json", endpoint=px.endpoint)
            self.assertEqual(r.returncode, 1, r.stdout)
            doc = json.loads(r.stdout)
            self.assertEqual(doc["pipelines"][0]["error"]["code"], "NotFound")
            self.assertEqual(px.mutating_counts(), {}, px.counts())
        self.assertIsNone(state_item(e, "pipeline#nosuch"))
        r = e.run("plan", "nosuch")
        self.assertEqual(r.returncode, 1)
        self.assertIn("nosuch: NotFound", r.stdout)
        r = e.run("rm", "here")
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "removed here (its pipeline drains)"))

    def test_forget_a_bad_name_that_blocked_apply_all(self):
        e = Env(self.moto, "fg")
        e.put({"pipeline": "ok1"})
        r = e.run("put", "--no-check", "-", input=json.dumps({"pipeline": "g h"}))
        self.assertEqual(r.returncode, 0, r.stderr)
        r = e.run("apply", "--all")
        self.assertEqual(r.returncode, 1)
        self.assertIn("g h: BadName", r.stdout)
        r = e.run("forget", "g h")
        self.assertEqual(r.returncode, 1)
        self.assertIn("ItemExists", r.stderr)
        self.assertEqual(e.run("rm", "g h").returncode, 0)
        r = e.run("apply", "--all")
        self.assertEqual(r.returncode, 1)
        self.assertIn("taskpipe forget g h", r.stdout)
        r = e.run("ls")
        self.assertRegex(r.stdout, r"g h .*error .*\(no item\)")
        r = e.run("forget", "g h")
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "forgot g h"), r.stderr)
        self.assertIsNone(state_item(e, "pipeline#g h"))
        r = e.run("apply", "--all")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        r = e.run("forget", "g h")
        self.assertEqual(r.returncode, 1)
        self.assertIn("NotFound", r.stderr)


class Ls(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.moto = Moto.shared()

    def test_filters_and_columns(self):
        e = Env(self.moto, "ls")
        e.put({"pipeline": "tenant-a", "concurrency": 3}, {"pipeline": "tenant-b", "enabled": False},
              {"pipeline": "other"})
        r = e.run("ls", "tenant-*", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        rows = {x["pipeline"]: x for x in json.loads(r.stdout)}
        self.assertEqual(sorted(rows), ["tenant-a", "tenant-b"])
        self.assertEqual((rows["tenant-a"]["concurrency"], rows["tenant-a"]["rate"]), ("3", "-"))
        self.assertEqual((rows["tenant-a"]["enabled"], rows["tenant-b"]["enabled"]), (True, False))
        self.assertFalse(rows["tenant-a"]["paused"])
        r = e.run("ls", "other")
        lines = r.stdout.splitlines()
        self.assertEqual(len(lines), 2, r.stdout)
        self.assertEqual(lines[0].split()[:6], ["PIPELINE", "ENABLED", "PAUSED", "RATE", "CONCURRENCY", "STATUS"])
        self.assertEqual(lines[1].split()[:6], ["other", "yes", "no", "-", "-", "pending"])
        r = e.run("ls", "nosuch")
        self.assertEqual(r.returncode, 1)
        self.assertIn("nosuch: no such pipeline", r.stderr)

    def test_cli_and_repl_agree(self):
        """One ls (core/ops_ls.c): taskpipe ls (--json and text) and the REPL's
        tp.ls() list the same pipelines with the same fields, states and words,
        on a fleet with an item never applied, a paused pipeline and a
        draining one (its item removed, its queue still holding tasks)."""
        e = Env(self.moto, "lsr")
        # enabled=false: moto's in-process mapping would drain the queue at once
        e.put({"pipeline": "live", "concurrency": 2, "enabled": False}, {"pipeline": "held", "enabled": False},
              {"pipeline": "gone", "enabled": False})
        e.apply()
        r = e.run("pause", "held", "--reason", "maintenance")
        self.assertEqual(r.returncode, 0, r.stderr)
        url = e.queue_url(e.qname("gone"))
        for i in range(3):
            e.sqs.send_message(QueueUrl=url, MessageBody="t%d" % i)
        self.assertEqual(e.run("rm", "gone").returncode, 0)
        res, _ = e.apply()
        self.assertEqual(res["gone"]["state"], "draining", res["gone"])
        e.put({"pipeline": "new"})      # never applied

        r = e.run("ls", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        cli = {row["pipeline"]: row for row in json.loads(r.stdout)}
        self.assertEqual(sorted(cli), ["gone", "held", "live", "new"])
        words = {n: (row["status"], row["paused"], row["item"]) for n, row in cli.items()}
        self.assertEqual(words, {"gone": ("draining", False, False), "held": ("ok", True, True),
                                 "live": ("ok", False, True), "new": ("pending", False, True)})
        self.assertEqual(cli["held"]["pause_reason"], "maintenance")
        self.assertIn("drain_started_at", cli["gone"])

        r = e.run("ls")
        self.assertEqual(r.returncode, 0, r.stderr)
        text = {ln.split()[0]: ln.split() for ln in r.stdout.splitlines()[1:] if ln.split()[0] in cli}
        self.assertEqual({n: f[5] for n, f in text.items()}, {n: row["status"] for n, row in cli.items()})
        self.assertEqual({n: f[2] for n, f in text.items()},
                         {n: "yes" if row["paused"] else "no" for n, row in cli.items()})

        # the REPL's rows, flattened to key=value (its `item` is the item: present or not)
        code = r"""
local function flat(prefix, v, out)
  if type(v) == "table" then
    for k, x in pairs(v) do flat(prefix .. "." .. tostring(k), x, out) end
  else
    out[#out + 1] = prefix .. "=" .. tostring(v)
  end
end
for _, row in ipairs(tp.ls()) do
  local out = {}
  for k, v in pairs(row) do
    if k == "item" then
      out[#out + 1] = "item=" .. tostring(v.pipeline == row.pipeline)
    else
      flat(k, v, out)
    end
  end
  table.sort(out)
  print(row.pipeline .. "\t" .. table.concat(out, "\t"))
end
print("names\t" .. table.concat(tp.names(), ","))
"""
        r = e.run("repl", "-e", code)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        lines = r.stdout.splitlines()
        self.assertEqual(lines[-1], "names\theld,live,new")     # names: the config items
        repl = {ln.split("\t")[0]: sorted(ln.split("\t")[1:]) for ln in lines[:-1]}

        def flat(prefix, v, out):
            if isinstance(v, dict):
                for k, x in v.items():
                    flat(prefix + "." + k, x, out)
            elif isinstance(v, list):
                for i, x in enumerate(v):
                    flat("%s.%d" % (prefix, i + 1), x, out)
            elif isinstance(v, bool):
                out.append("%s=%s" % (prefix, "true" if v else "false"))
            else:
                out.append("%s=%s" % (prefix, v))

        want = {}
        for n, row in cli.items():
            out = []
            for k, v in row.items():
                if k == "item":
                    if v:
                        out.append("item=true")
                else:
                    flat(k, v, out)
            want[n] = sorted(out)
        self.assertEqual(repl, want)


def fields(entry):
    """{(resource, field or action)} of a plan/apply --json pipeline entry."""
    return {(c["resource"], c.get("field") or c.get("action")) for c in entry["changes"]}


class OneTruth(unittest.TestCase):
    """apply NAME looks at the resources as plan does: each managed field
    changed behind taskpipe's back is shown by plan, repaired by apply (the
    same fields) and then in sync, although the item and its input hash never
    changed. moto's default Lambda backend (test_drift's), which knows
    published layer versions, so a rate item gets its consumer layer."""

    @classmethod
    def setUpClass(cls):
        cls.moto = test_drift.shared_moto()
        lam = cls.moto.client("lambda")
        cls.layer = lam.publish_layer_version(LayerName="taskpipe-consumer", Content={"ZipFile": layer_zip()},
                                              CompatibleArchitectures=["x86_64"])["LayerVersionArn"]

    def run_json(self, e, *args, expect):
        r = e.run(*args, "--json")
        self.assertEqual(r.returncode, expect, "%s: %s\n%s" % (args, r.stderr[-2000:], r.stdout[-3000:]))
        return {p["pipeline"]: p for p in json.loads(r.stdout)["pipelines"]}

    def test_each_field_behind_our_back(self):
        e = test_drift.Env(self.moto, "tr")
        e.env["TASKPIPE_CONSUMER_LAYER"] = self.layer
        e.put({"pipeline": "p", "concurrency": 3, "timeout": 30, "env": {"AA": "1"}, "tags": {"team": "a"}},
              {"pipeline": "r", "rate": 2, "duration": 1})
        r = e.run("apply", "--all")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        q = lambda name, dlq=False: e.url(e.prefix + name + ("-dlq" if dlq else ""))  # noqa: E731
        fn = e.prefix + "p"
        esm = lambda name: e.mappings(e.prefix + name)[0]["UUID"]  # noqa: E731

        def fn_config(name, **kw):
            e.lam.update_function_configuration(FunctionName=e.prefix + name, **kw)

        def env_of(name):
            return e.lam.get_function(FunctionName=e.prefix + name)["Configuration"]["Environment"]["Variables"]

        def rate_env():
            v = env_of("r")
            v["TASKPIPE_RATE"] = "20"
            fn_config("r", Environment={"Variables": v})

        qarn = e.attrs(e.prefix + "p-dlq")["QueueArn"]
        cases = [
            ("p", "queue VisibilityTimeout",
             lambda: e.sqs.set_queue_attributes(QueueUrl=q("p"), Attributes={"VisibilityTimeout": "999"})),
            ("p", "queue MessageRetentionPeriod",
             lambda: e.sqs.set_queue_attributes(QueueUrl=q("p"), Attributes={"MessageRetentionPeriod": "61"})),
            ("p", "queue RedrivePolicy", lambda: e.sqs.set_queue_attributes(QueueUrl=q("p"), Attributes={
                "RedrivePolicy": json.dumps({"deadLetterTargetArn": qarn, "maxReceiveCount": 9})})),
            ("p", "dlq MessageRetentionPeriod",
             lambda: e.sqs.set_queue_attributes(QueueUrl=q("p", True), Attributes={"MessageRetentionPeriod": "3600"})),
            ("p", "queue tag", lambda: e.sqs.untag_queue(QueueUrl=q("p"), TagKeys=["team"])),
            ("p", "function MemorySize", lambda: fn_config("p", MemorySize=512)),
            ("p", "function Timeout", lambda: fn_config("p", Timeout=60)),
            ("p", "function Handler", lambda: fn_config("p", Handler="other.handler")),
            ("p", "function Description", lambda: fn_config("p", Description="hand made")),
            ("p", "function item env", lambda: fn_config("p", Environment={"Variables": {"AA": "s3cr3t"}})),
            ("p", "function tag", lambda: e.lam.untag_resource(
                Resource=e.lam.get_function(FunctionName=fn)["Configuration"]["FunctionArn"], TagKeys=["team"])),
            ("p", "function reserved concurrency",
             lambda: e.lam.put_function_concurrency(FunctionName=fn, ReservedConcurrentExecutions=5)),
            ("p", "mapping BatchSize", lambda: e.lam.update_event_source_mapping(UUID=esm("p"), BatchSize=5)),
            ("p", "mapping MaximumConcurrency", lambda: e.lam.update_event_source_mapping(
                UUID=esm("p"), ScalingConfig={"MaximumConcurrency": 7})),
            ("p", "mapping Enabled", lambda: e.lam.update_event_source_mapping(UUID=esm("p"), Enabled=False)),
            ("r", "function TASKPIPE_RATE", rate_env),
        ]
        for name, what, change in cases:
            with self.subTest(what):
                change()
                planned = self.run_json(e, "plan", name, expect=2)[name]
                self.assertTrue(fields(planned), planned)
                text = e.run("apply", name)
                self.assertNotIn("in sync", text.stdout)
                self.assertEqual(text.returncode, 0, text.stdout + text.stderr)
                # the text apply repaired it already: a second apply sees nothing
                again = self.run_json(e, "apply", name, expect=0)[name]
                self.assertEqual(again["changes"], [], again)
                self.assertFalse(again["confirmed_by_hash"])
                self.assertEqual(self.run_json(e, "plan", name, expect=0)[name]["changes"], [])
                self.assertIn("%s: in sync" % name, e.run("apply", name).stdout)
                self.assertNotIn("s3cr3t", json.dumps(planned))
                if what == "function TASKPIPE_RATE":
                    ch = [c for c in planned["changes"] if c.get("field") == "Environment.Variables"]
                    self.assertEqual(len(ch), 1, planned)
                    self.assertIn("TASKPIPE_RATE=20(changed to 2)", ch[0]["from"])

        # plan and apply agree field by field: planned = applied
        for name, what, change in cases[:6]:
            with self.subTest("agree " + what):
                change()
                planned = fields(self.run_json(e, "plan", name, expect=2)[name])
                applied = fields(self.run_json(e, "apply", name, expect=0)[name])
                self.assertEqual(planned, applied)

    def test_apply_all_says_not_checked_and_drift_shows_the_rate(self):
        e = test_drift.Env(self.moto, "ta")
        e.env["TASKPIPE_CONSUMER_LAYER"] = self.layer
        e.put({"pipeline": "r", "rate": 2, "duration": 1, "env": {"TOKEN": "s3cr3t"}})
        self.assertEqual(e.run("apply", "--all").returncode, 0)
        v = e.lam.get_function(FunctionName=e.prefix + "r")["Configuration"]["Environment"]["Variables"]
        v["TASKPIPE_RATE"] = "20"
        v["TOKEN"] = "other-s3cr3t"
        e.lam.update_function_configuration(FunctionName=e.prefix + "r", Environment={"Variables": v})
        r = e.run("apply", "--all")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("1 unchanged since last apply (not checked", r.stdout)
        self.assertNotIn("in sync", r.stdout)
        rc, doc = e.drift(expect=2)
        p = test_drift.by_name(doc)["r"]
        self.assertIn(("function", "Environment.Variables.TASKPIPE_RATE", "2", "20"), test_drift.drift_set(p))
        self.assertIn(("function", "Environment.Variables.TOKEN", "(set)", "(different value)"),
                      test_drift.drift_set(p))
        self.assertNotIn("s3cr3t", json.dumps(doc))
        r = e.run("apply", "--all", "--force", "--json")
        self.assertEqual(r.returncode, 0)
        self.assertEqual(e.lam.get_function(FunctionName=e.prefix + "r")["Configuration"]["Environment"]
                         ["Variables"]["TASKPIPE_RATE"], "2")


class Lifecycle(unittest.TestCase):
    """pause/resume/redrive/purge from the CLI and the REPL, through the same
    core code; a pause is an operator's record that apply, plan and drift
    respect while the item's `enabled` stays as written."""

    @classmethod
    def setUpClass(cls):
        cls.moto = test_drift.shared_moto()

    def state(self, e, name):
        return self.moto.client("dynamodb").get_item(
            TableName=e.prefix + "state", Key={"pk": {"S": "pause#" + name}}, ConsistentRead=True).get("Item")

    def mapping_state(self, e, name):
        return e.mappings(e.prefix + name)[0]["State"]

    def ls(self, e, *names):
        r = e.run("ls", *names, "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        return {x["pipeline"]: x for x in json.loads(r.stdout)}

    def test_pause_resume_respected_by_apply_plan_drift(self):
        e = test_drift.Env(self.moto, "lp")
        e.put({"pipeline": "A", "concurrency": 3}, {"pipeline": "B", "enabled": False}, {"pipeline": "C"})
        self.assertEqual(e.run("apply", "--all").returncode, 0)
        self.assertEqual(self.mapping_state(e, "A"), "Enabled")
        r = e.run("pause", "A", "--reason", "tenant asked")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(r.stdout.strip(), "paused A; mapping updated")
        self.assertEqual(self.mapping_state(e, "A"), "Disabled")
        rec = self.state(e, "A")
        self.assertEqual(rec["reason"], {"S": "tenant asked"})
        self.assertIn("paused_by", rec)
        item = e.ddb.get_item(TableName=e.prefix + "config", Key={"pipeline": {"S": "A"}})["Item"]
        self.assertNotIn("enabled", item)   # the configuration's word is untouched
        rows = self.ls(e)
        self.assertEqual((rows["A"]["enabled"], rows["A"]["paused"]), (True, True))
        self.assertEqual((rows["B"]["enabled"], rows["B"]["paused"]), (False, False))
        self.assertEqual((rows["C"]["enabled"], rows["C"]["paused"]), (True, False))
        # status shows both too: the item's word and the operator's pause
        r = e.run("status", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        st = {x["group"]: x for x in json.loads(r.stdout)["groups"]}
        self.assertEqual((st["A"]["item_enabled"], st["A"]["operator_paused"]), (True, True))
        self.assertEqual((st["B"]["item_enabled"], st["B"]["operator_paused"]), (False, False))
        self.assertEqual((st["C"]["item_enabled"], st["C"]["operator_paused"]), (True, False))
        self.assertRegex(e.run("status", "A").stdout, r"\nA +\S+ +paused\*")
        # apply (named, --all, --all --force), plan and drift keep it paused
        for args in (["apply", "A"], ["apply", "--all"], ["apply", "--all", "--force"]):
            r = e.run(*args, "--json")
            self.assertEqual(r.returncode, 0, r.stderr)
            doc = {p["pipeline"]: p for p in json.loads(r.stdout)["pipelines"]}
            self.assertEqual(doc["A"]["changes"], [], args)
            self.assertTrue(doc["A"].get("paused"), args)
            self.assertEqual(self.mapping_state(e, "A"), "Disabled")
        self.assertEqual(e.run("plan", "A").returncode, 0)
        code, doc = e.drift(expect=0)
        self.assertEqual(test_drift.by_name(doc)["A"]["status"], "in_sync")
        # someone enables the mapping by hand: drift reports it, apply A repairs it
        e.lam.update_event_source_mapping(UUID=e.mappings(e.prefix + "A")[0]["UUID"], Enabled=True)
        code, doc = e.drift(expect=2)
        self.assertIn(("mapping", "Enabled", "false", "true"), test_drift.drift_set(test_drift.by_name(doc)["A"]))
        self.assertEqual(e.run("apply", "A").returncode, 0)
        self.assertEqual(self.mapping_state(e, "A"), "Disabled")
        # pausing twice says so
        r = e.run("pause", "A")
        self.assertIn("was paused already", r.stdout)
        # resume: the record goes, the mapping follows the item again
        r = e.run("resume", "A")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), "resumed A; mapping updated")
        self.assertIsNone(self.state(e, "A"))
        self.assertEqual(self.mapping_state(e, "A"), "Enabled")
        self.assertFalse(self.ls(e, "A")["A"]["paused"])
        # a paused item with enabled=false stays disabled after resume: the item's word
        self.assertEqual(e.run("pause", "B").returncode, 0)
        r = e.run("resume", "B")
        self.assertEqual(r.returncode, 0)
        self.assertEqual(self.mapping_state(e, "B"), "Disabled")
        r = e.run("resume", "C")
        self.assertIn("resumed C (was not paused)", r.stdout)
        r = e.run("pause", "nosuch")
        self.assertEqual(r.returncode, 1)
        self.assertIn("nosuch: NotFound", r.stderr)

    def test_repl_goes_through_the_same_code(self):
        e = test_drift.Env(self.moto, "lr")
        e.put({"pipeline": "A"})
        self.assertEqual(e.run("apply", "A").returncode, 0)
        r = e.run("repl", "-e", 'local r = tp.pause("A", "from repl"); print(r[1].pipeline, r[1].paused)')
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("A\ttrue", r.stdout)
        rec = self.state(e, "A")
        self.assertEqual(rec["reason"], {"S": "from repl"})
        self.assertIn("repl", rec["paused_by"]["S"])
        self.assertEqual(self.mapping_state(e, "A"), "Disabled")
        self.assertTrue(self.ls(e, "A")["A"]["paused"])
        r = e.run("repl", "-e", 'tp.resume("A")')
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIsNone(self.state(e, "A"))
        self.assertEqual(self.mapping_state(e, "A"), "Enabled")

    def test_redrive_and_purge(self):
        e = test_drift.Env(self.moto, "lq")
        e.put({"pipeline": "A"})
        self.assertEqual(e.run("apply", "A").returncode, 0)
        # the mapping would consume the queue: pause so messages stay countable
        self.assertEqual(e.run("pause", "A").returncode, 0)
        q, d = e.url(e.prefix + "A"), e.url(e.prefix + "A-dlq")
        for i in range(3):
            e.sqs.send_message(QueueUrl=d, MessageBody="task-%d" % i)

        def count(url):
            a = e.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
            return int(a["Attributes"]["ApproximateNumberOfMessages"])
        r = e.run("redrive", "A")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"redrive A: 3 messages")
        self.assertEqual((count(q), count(d)), (3, 0))
        r = e.run("purge", "A")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--yes", r.stderr)
        self.assertEqual(count(q), 3)
        r = e.run("purge", "A", "--yes")
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "purged A"), r.stderr)
        self.assertEqual(count(q), 0)
        r = e.run("redrive", "nosuch")
        self.assertEqual(r.returncode, 1)
        self.assertIn("NotFound", r.stderr)


class HelpAndDriftText(unittest.TestCase):
    COMMANDS = {"put": ["--no-check"], "rm": [], "forget": [], "ls": ["GLOB"], "plan": ["--json"],
                "apply": ["--all", "--force"], "drift": ["--fix", "--verbose", "--max-pipelines"],
                "pause": ["--reason"], "resume": [], "redrive": [], "purge": ["--yes", "--dlq"],
                "watch": ["--from-start"], "init": [], "repl": ["-e"]}

    def test_each_help_shows_its_flags_and_points_to_settings(self):
        for cmd, flags in self.COMMANDS.items():
            with self.subTest(cmd):
                r = run_taskpipe([cmd, "--help"], dict(BASE_ENV))
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertTrue(r.stdout.startswith("usage: taskpipe " + cmd), r.stdout)
                for f in flags:
                    self.assertIn(f, r.stdout)
                self.assertIn("taskpipe help settings", r.stdout)
                # the shared block is not repeated in every command's help
                self.assertNotIn("TASKPIPE_LAMBDA_RPS", r.stdout)
                self.assertLess(len(r.stdout.splitlines()), 40)
                self.assertEqual(run_taskpipe(["help", cmd], dict(BASE_ENV)).stdout, r.stdout)
        r = run_taskpipe(["help", "settings"], dict(BASE_ENV))
        self.assertEqual(r.returncode, 0)
        for v in ("TASKPIPE_CONFIG_TABLE", "TASKPIPE_STATE_TABLE", "TASKPIPE_CONSUMER_LAYER", "--prefix",
                  "TASKPIPE_LAMBDA_BUDGET"):
            self.assertIn(v, r.stdout)
        r = run_taskpipe(["help", "nosuch"], dict(BASE_ENV))
        self.assertEqual(r.returncode, 2)
        self.assertIn("no command or topic 'nosuch'", r.stderr)

    def test_drift_text_lists_only_what_drifted(self):
        moto = test_drift.shared_moto()
        e = test_drift.Env(moto, "dt")
        e.put({"pipeline": "calm"}, {"pipeline": "moved"}, {"pipeline": "still"})
        self.assertEqual(e.run("apply", "--all").returncode, 0)
        e.sqs.set_queue_attributes(QueueUrl=e.url(e.prefix + "moved"), Attributes={"VisibilityTimeout": "99"})
        r = e.run("drift")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("moved", r.stdout)
        self.assertIn("queue.VisibilityTimeout: expected 180, actual 99", r.stdout)
        self.assertNotIn("calm", r.stdout)
        self.assertNotIn("still", r.stdout)
        self.assertIn("3 pipelines checked: 2 in sync, 1 drifted", r.stdout)
        r = e.run("drift", "--verbose")
        self.assertEqual(r.returncode, 2)
        for n in ("calm", "moved", "still"):
            self.assertIn(n, r.stdout)


class SharedSettings(unittest.TestCase):
    """One set of settings, stored by init in the state table
    (settings#instance): a process that leaves one unset reads it from
    there; one that sets another value refuses to write shared state,
    naming it; --settings-from-env updates the stored set."""

    @classmethod
    def setUpClass(cls):
        cls.moto = Moto.shared()

    def stored(self, e):
        return state_item(e, "settings#instance")

    def test_init_stores_and_every_process_reads(self):
        e = Env(self.moto, "ss")
        st = self.stored(e)
        self.assertEqual((st["prefix"]["S"], st["code_bucket"]["S"], st["code_key"]["S"], st["owner"]["S"],
                          st["role_arn"]["S"], st["state_table"]["S"]),
                         (e.prefix, "code", "consumer.zip", "taskpipe", self.moto.role_arn(), e.prefix + "state"))
        # a shell with only the table names: the rest comes from the stored set
        bare = {k: v for k, v in e.env.items()
                if k not in ("TASKPIPE_CODE_BUCKET", "TASKPIPE_CODE_KEY", "TASKPIPE_ROLE_ARN", "TASKPIPE_PREFIX")}
        r = run_taskpipe(["put", "-"], bare, input=json.dumps({"pipeline": "a"}))
        self.assertEqual(r.returncode, 0, r.stderr)
        r = run_taskpipe(["apply", "a"], bare)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        cfg = e.function("a")["Configuration"]
        self.assertEqual((cfg["Description"], cfg["Role"]), ("taskpipe code s3://code/consumer.zip",
                                                             self.moto.role_arn()))
        self.assertIsNotNone(e.queue_url(e.prefix + "a"))   # the stored prefix, not tp-
        r = e.run("init")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("settings: as stored", r.stdout)

    def test_a_different_value_refuses_to_write_and_names_it(self):
        e = Env(self.moto, "sd")
        e.put({"pipeline": "a"})
        self.assertEqual(e.run("apply", "a").returncode, 0)
        before = state_item(e, "pipeline#a")
        e.s3.put_object(Bucket="code", Key="other.zip", Body=b"PK\x05\x06" + b"\0" * 18)
        e.env["TASKPIPE_CODE_KEY"] = "other.zip"
        for args in (["apply", "a"], ["apply", "--all", "--force"], ["pause", "a"], ["drift", "--fix"],
                     ["init"]):
            with self.subTest(args):
                r = e.run(*args)
                self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
                self.assertIn("SettingsDiffer", r.stdout + r.stderr)
                self.assertIn('TASKPIPE_CODE_KEY is "other.zip" here but "consumer.zip" in the stored settings',
                              r.stdout + r.stderr)
        self.assertEqual(state_item(e, "pipeline#a"), before)
        self.assertIsNone(state_item(e, "pause#a"))
        # reading is allowed (with a warning naming it)
        r = e.run("plan", "a")
        self.assertIn("TASKPIPE_CODE_KEY", r.stderr)
        # deliberately: --settings-from-env stores this process's set
        r = e.run("apply", "a", "--settings-from-env")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(self.stored(e)["code_key"]["S"], "other.zip")
        del e.env["TASKPIPE_CODE_KEY"]
        r = e.run("plan", "a")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)   # the stored other.zip is in force
        self.assertEqual(e.run("init").returncode, 0)

    def test_controller_first_run_stores_when_absent(self):
        import test_bootstrap
        e = test_bootstrap.Env(self.moto, "sc")
        table = e.prefix + "state"
        ddb = self.moto.client("dynamodb")
        ddb.delete_item(TableName=table, Key={"pk": {"S": "settings#instance"}})
        b = test_bootstrap.Bootstrap(e)
        try:
            b.emu.wait_next(1)   # init done: waiting for its first invocation
            item = ddb.get_item(TableName=table, Key={"pk": {"S": "settings#instance"}},
                                ConsistentRead=True).get("Item")
            self.assertIsNotNone(item, b.stderr())
            self.assertEqual((item["prefix"]["S"], item["code_key"]["S"]), (e.prefix, "consumer.zip"))
        finally:
            b.stop()
        # present: a second controller with another code key does not overwrite it
        ddb.put_item(TableName=table, Item=dict(item, code_key={"S": "stored.zip"}))
        b = test_bootstrap.Bootstrap(e)
        try:
            b.emu.wait_next(1)
            again = ddb.get_item(TableName=table, Key={"pk": {"S": "settings#instance"}},
                                 ConsistentRead=True)["Item"]
            self.assertEqual(again["code_key"]["S"], "stored.zip")
            self.assertIn("TASKPIPE_CODE_KEY", b.stderr())   # it says why it will not write
        finally:
            b.stop()

    def test_unset_consumer_layer_is_taken_from_the_stored_set(self):
        """The issue's case: a shell without TASKPIPE_CONSUMER_LAYER applied a
        rate pipeline and wrote an error every operator saw."""
        moto = test_drift.shared_moto()
        layer = moto.client("lambda").publish_layer_version(
            LayerName="taskpipe-consumer", Content={"ZipFile": layer_zip()},
            CompatibleArchitectures=["x86_64"])["LayerVersionArn"]
        e = test_drift.Env(moto, "sl")
        e.env["TASKPIPE_CONSUMER_LAYER"] = layer
        r = e.run("init", "--settings-from-env")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(state_item(e, "settings#instance")["consumer_layer"]["S"], layer)
        e.put({"pipeline": "r", "rate": 2})
        del e.env["TASKPIPE_CONSUMER_LAYER"]
        r = e.run("apply", "r", "--force", "--json")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual([x["Arn"] for x in e.lam.get_function(FunctionName=e.prefix + "r")
                          ["Configuration"]["Layers"]], [layer])
        self.assertEqual(state_item(e, "pipeline#r")["status"]["S"], "ok")
        code, doc = e.drift(expect=0)
        self.assertEqual(test_drift.by_name(doc)["r"]["status"], "in_sync")


@unittest.skipIf(shutil.which("tmux") is None, "tmux is not installed")
class ReplEditing(unittest.TestCase):
    """The REPL's own line editor, typed through tmux as a person would:
    arrows, Ctrl-A/E/K/U/W, Ctrl-C, history across sessions in a file,
    multi-line chunks; no rlwrap."""

    @classmethod
    def setUpClass(cls):
        cls.moto = Moto.shared()

    def setUp(self):
        self.env_obj = Env(self.moto, "re")
        self.dir = tempfile.mkdtemp()
        self.hist = os.path.join(self.dir, "history")
        self.sock = "tp-steer-%d-%d" % (os.getpid(), id(self))
        self.tmux = ["tmux", "-L", self.sock]

    def tearDown(self):
        subprocess.run(self.tmux + ["kill-server"], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)

    def start(self):
        env = dict(self.env_obj.env, TERM="xterm", TASKPIPE_REPL_HISTORY=self.hist)
        subprocess.run(self.tmux + ["new-session", "-d", "-s", "r", "-x", "120", "-y", "50", TASKPIPE, "repl"],
                       env=env, check=True)
        self.wait_for("> ")

    def screen(self):
        return subprocess.run(self.tmux + ["capture-pane", "-p", "-J", "-t", "r", "-S", "-400"],
                              capture_output=True, text=True).stdout

    def wait_for(self, text, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            s = self.screen()
            if text in s:
                return s
            time.sleep(0.1)
        self.fail("%r not on screen:\n%s" % (text, self.screen()))

    def keys(self, *keys):
        subprocess.run(self.tmux + ["send-keys", "-t", "r"] + list(keys), check=True)

    def text(self, t):
        subprocess.run(self.tmux + ["send-keys", "-t", "r", "-l", t], check=True)

    def quit(self):
        self.keys("C-d")
        deadline = time.time() + 10
        while time.time() < deadline:
            if subprocess.run(self.tmux + ["has-session", "-t", "r"], capture_output=True).returncode != 0:
                return
            time.sleep(0.1)
        self.fail("repl still running after Ctrl-D:\n" + self.screen())

    def test_editing_keys_history_and_multiline(self):
        self.start()
        self.text("1 + 2"); self.keys("Enter")
        self.wait_for("\n3\n")
        # Ctrl-A: insert at the start
        self.text("5"); self.keys("C-a"); self.text("10 + "); self.keys("Enter")
        self.wait_for("\n15\n")
        # Up: the last line back; Ctrl-E: append at the end
        self.keys("Up", "C-e"); self.text(" + 1"); self.keys("Enter")
        self.wait_for("\n16\n")
        # Ctrl-K: kill to the end of the line (from after "10 + 20")
        self.text("10 + 20 + 999"); self.keys("C-a")
        self.keys(*["Right"] * 7)
        self.keys("C-k", "Enter")
        self.wait_for("\n30\n")
        # Ctrl-U: kill to the start; Ctrl-W: the word before the cursor
        self.text("garbage"); self.keys("C-u"); self.text("7 * 6"); self.keys("Enter")
        self.wait_for("\n42\n")
        self.text("5 + 6 oops"); self.keys("C-w", "Enter")
        self.wait_for("\n11\n")
        # Left and Backspace in the middle: 2 * 1 -> 2 * 21
        self.text("2 * 1"); self.keys("Left"); self.text("2"); self.keys("Right", "BSpace"); self.text("1")
        self.keys("Enter")
        self.wait_for("\n42\n")
        # a multi-line chunk, line by line
        self.text("function g(a)"); self.keys("Enter")
        self.wait_for(">> ")
        self.text("return a * 3"); self.keys("Enter")
        self.text("end"); self.keys("Enter")
        self.text("g(111)"); self.keys("Enter")
        self.wait_for("\n333\n")
        # Down after Up gives back what was being typed
        self.text("100"); self.keys("Up", "Down", "Enter")
        self.wait_for("\n100\n")
        # Ctrl-C drops the line; nothing runs
        self.text("this is not lua"); self.keys("C-c")
        self.text("2 * 2"); self.keys("Enter")
        s = self.wait_for("\n4\n")
        self.assertNotIn("syntax error", s)
        self.assertNotIn("bad binary format", s)
        self.quit()
        with open(self.hist) as f:
            lines = f.read().splitlines()
        for want in ("1 + 2", "10 + 5", "function g(a)", "return a * 3", "end", "g(111)", "2 * 2"):
            self.assertIn(want, lines)
        self.assertNotIn("this is not lua", lines)
        # a new session starts with that history
        self.start()
        self.keys("Up", "Up")
        self.keys("Enter")
        self.wait_for("\n100\n")
        self.quit()

    def test_escape_bytes_without_a_terminal_are_not_a_binary_chunk(self):
        r = run_taskpipe(["repl"], self.env_obj.env, input="\x1b[A\n1 + 1\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("binary", r.stderr)
        self.assertIn("a terminal key sequence (ESC ...), not Lua", r.stderr)
        self.assertEqual(r.stdout.strip(), "2")


if __name__ == "__main__":
    unittest.main()
