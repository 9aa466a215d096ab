"""Bad config items and bad policies: each is reported with a message that
names the field (or the policy's file:line, or the cap), the good pipelines
in the same apply still apply, and nothing is created, changed or deleted
because of the bad input. Checked with boto3."""
import json
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Moto  # noqa: E402
from test_pipelines import Env  # noqa: E402


def S(v):
    return {"S": v}


def N(v):
    return {"N": str(v)}


class BadItems(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.moto = Moto.shared()

    def assert_untouched(self, e, name):
        """No resource of the pipeline exists."""
        self.assertIsNone(e.function(name))
        self.assertIsNone(e.queue_url(e.qname(name)))
        self.assertIsNone(e.queue_url(e.qname(name, True)))

    def test_bad_items_reported_good_ones_apply(self):
        e = Env(self.moto, "bad")
        # a pipeline that was good, then its item goes bad: kept as it is
        e.put({"pipeline": "wasgood", "memory": 256})
        res, _ = e.apply()
        self.assertEqual(res["wasgood"]["status"], "ok")
        before = e.snapshot("wasgood")
        long_name = "L" * 200
        bad = {
            # name -> (item attributes, words the message must contain)
            "type": ({"concurrency": S("two")}, ["concurrency", "expected an integer"]),
            "zero": ({"concurrency": N(0)}, ["concurrency", "out of range"]),
            "neg": ({"concurrency": N(-1)}, ["concurrency", "out of range"]),
            "over": ({"concurrency": N(1001)}, ["concurrency", "out of range"]),
            "frac": ({"memory": N(200.5)}, ["memory", "not an integer"]),
            "boolmem": ({"memory": {"BOOL": True}}, ["memory", "expected an integer"]),
            "envtype": ({"env": S("A=1")}, ["env", "expected a map"]),
            "vis": ({"timeout": N(30), "visibility_timeout": N(10)}, ["visibility_timeout", "below timeout"]),
            "bigenv": ({"env": {"M": {"BIG": S("x" * 4100)}}}, ["env", "4096"]),
            "typo": ({"concurency": N(3)}, ["concurency", "unknown field"]),
            "wasgood": ({"concurrency": N(0), "memory": N(256)}, ["concurrency", "out of range"]),
            "a b": ({}, ["pipeline name", "a b"]),
            "caf\u00e9": ({}, ["pipeline name", "caf\u00e9"]),
            "x" * 201: ({}, ["pipeline name", "201"]),
            "foo-dlq": ({}, ["pipeline name", "-dlq"]),
        }
        items = [dict(pipeline=S(k), **v[0]) for k, v in bad.items()]
        items += [{"pipeline": S("good1")}, {"pipeline": S("good2"), "concurrency": N(3)},
                  {"pipeline": S(long_name)}]
        e.put_raw(items)
        res, _ = e.apply(expect=1)
        for name, (_, words) in bad.items():
            with self.subTest(name=name):
                r = res[name]
                self.assertEqual(r["status"], "error", r)
                for w in words:
                    self.assertIn(w, r["error"]["message"])
                self.assertEqual(r["changes"], [])
        for name in ("good1", "good2", long_name):
            self.assertEqual(res[name]["status"], "ok", res[name])
        self.assertEqual(e.mapping("good2")["ScalingConfig"], {"MaximumConcurrency": 3})
        # boto3 inventory: only the good pipelines (and the one that went bad) exist
        qs = sorted(u.rsplit("/", 1)[1] for u in e.sqs.list_queues(QueueNamePrefix=e.prefix).get("QueueUrls", []))
        fns = sorted(f["FunctionName"] for f in e.lam.list_functions()["Functions"]
                     if f["FunctionName"].startswith(e.prefix))
        short = [q for q in qs if q.startswith(e.prefix + "LLLL")]
        self.assertEqual([q for q in qs if q not in short],
                         sorted(e.qname(n, d) for n in ("wasgood", "good1", "good2") for d in (False, True)))
        self.assertEqual([f for f in fns if not f.startswith(e.prefix + "LLLL")],
                         sorted(e.prefix + n for n in ("wasgood", "good1", "good2")))
        # the 200-character name is shortened stably within AWS's limits
        fns = [f["FunctionName"] for f in e.lam.list_functions()["Functions"]
               if f["FunctionName"].startswith(e.prefix + "LLLL")]
        self.assertEqual(len(fns), 1)
        self.assertLessEqual(len(fns[0]), 64)
        qs = [u.rsplit("/", 1)[1] for u in e.sqs.list_queues(QueueNamePrefix=e.prefix + "LLLL")["QueueUrls"]]
        self.assertEqual(len(qs), 2)
        self.assertTrue(all(len(q) <= 80 for q in qs))
        self.assertTrue(any(q.endswith("-dlq") for q in qs))
        # the pipeline whose item went bad is exactly as it was
        self.assertEqual(e.snapshot("wasgood"), before)
        # and stays so on the next run; the state table remembers the error
        res, _ = e.apply(expect=1)
        self.assertEqual(res["wasgood"]["status"], "error")
        self.assertEqual(e.snapshot("wasgood"), before)
        ls = json.loads(e.run("ls", "--json").stdout)
        st = {x["pipeline"]: x for x in ls}
        self.assertEqual(st["wasgood"]["status"], "error")
        self.assertIn("concurrency", st["wasgood"]["message"])
        self.assertEqual(st["good1"]["status"], "ok")

    def test_missing_code_and_role(self):
        # no code key anywhere: neither here nor in the stored settings init wrote
        e = Env(self.moto, "mis", TASKPIPE_CODE_KEY="")
        e.put({"pipeline": "nocode"}, {"pipeline": "withcode", "code": "consumer.zip"}, check=False)
        res, _ = e.apply(expect=1)
        self.assertEqual(res["nocode"]["status"], "error")
        self.assertIn("code: missing", res["nocode"]["error"]["message"])
        self.assert_untouched(e, "nocode")
        self.assertEqual(res["withcode"]["status"], "ok")
        self.assertEqual(e.function("withcode")["Configuration"]["Description"],
                         "taskpipe code s3://code/consumer.zip")

        e2 = Env(self.moto, "nor", TASKPIPE_ROLE_ARN="")
        role = self.moto.role_arn()
        e2.put({"pipeline": "norole"}, {"pipeline": "withrole", "role": role}, check=False)
        res, _ = e2.apply(expect=1)
        self.assertEqual(res["norole"]["status"], "error")
        self.assertIn("role", res["norole"]["error"]["message"])
        # refused before any call: not even the queues exist
        self.assert_untouched(e2, "norole")
        self.assertEqual(res["withrole"]["status"], "ok")
        self.assertEqual(e2.function("withrole")["Configuration"]["Role"], role)


BAD_POLICIES = {
    # name -> (source, what the message must contain besides the file name)
    "syntax": ("return {\n  pipeline = function(item, ctx)\n    return {\n  end,\n}\n", ":4:"),
    "runtime": ("return {\n  pipeline = function(item, ctx)\n    local t = nil\n    return t.x\n  end,\n"
                "  rollout = function() return {} end,\n}\n", ":4:"),
    "loop": ("return {\n  pipeline = function(item, ctx)\n    while true do end\n  end,\n"
             "  rollout = function() return {} end,\n}\n", "instruction limit"),
    "membomb": ("return {\n  pipeline = function(item, ctx)\n    local t, s = {}, 'x'\n"
                "    while true do s = s .. s .. tostring(#t); t[#t + 1] = s end\n  end,\n"
                "  rollout = function() return {} end,\n}\n", "memory limit"),
    "io": ("return {\n  pipeline = function(item, ctx)\n    local f = io.open('/etc/passwd')\n"
           "    return { queue = {} }\n  end,\n  rollout = function() return {} end,\n}\n", ":3:"),
    "os": ("return {\n  pipeline = function(item, ctx)\n    os.execute('touch /tmp/tp-pwned')\n"
           "    return { queue = {} }\n  end,\n  rollout = function() return {} end,\n}\n", ":3:"),
    "require": ("return {\n  pipeline = function(item, ctx)\n    local x = require('os')\n"
                "    return { queue = {} }\n  end,\n  rollout = function() return {} end,\n}\n", ":3:"),
    "toplevel_io": ("local f = io.open('/etc/passwd')\nreturn { pipeline = function() end }\n", ":1:"),
}


class BadPolicies(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.moto = Moto.shared()
        cls.dir = tempfile.mkdtemp(prefix="tp-policies-")

    def test_bad_policies_fail_every_pipeline_and_change_nothing(self):
        e = Env(self.moto, "pol")
        e.put({"pipeline": "old1"}, {"pipeline": "old2", "concurrency": 1})
        res, _ = e.apply()
        self.assertTrue(all(r["status"] == "ok" for r in res.values()))
        # items that would change, create and (with a good policy) keep
        e.put({"pipeline": "old1", "memory": 512}, {"pipeline": "new1"})
        snaps = {n: e.snapshot(n) for n in ("old1", "old2")}
        for name, (src, marker) in BAD_POLICIES.items():
            with self.subTest(policy=name):
                path = os.path.join(self.dir, "bad_%s.lua" % name)
                with open(path, "w") as f:
                    f.write(src)
                r = e.run("apply", "--all", "--json", "--policy", path)
                self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
                try:
                    doc = json.loads(r.stdout)
                except ValueError:
                    doc = None
                if doc is None:
                    # refused at load: the command as a whole fails, naming file:line
                    self.assertIn("bad_%s.lua" % name, r.stderr)
                    self.assertIn(marker, r.stderr)
                else:
                    got = {p["pipeline"]: p for p in doc["pipelines"]}
                    self.assertEqual(set(got), {"old1", "old2", "new1"})
                    for p in got.values():
                        self.assertEqual(p["status"], "error", p)
                        self.assertIn("bad_%s.lua" % name, p["error"]["message"])
                        self.assertIn(marker, p["error"]["message"])
                        self.assertEqual(p["requests"]["mutating"] - min(p["requests"]["mutating"], 1), 0)
                    # the status records only, each fenced under its lease (grant, record, release)
                    self.assertEqual(doc["mutating_calls"], 3 * len(got))
                self.assertIsNone(e.function("new1"))
                self.assertIsNone(e.queue_url(e.qname("new1")))
                self.assertIsNone(e.queue_url(e.qname("new1", True)))
                for n in ("old1", "old2"):
                    self.assertEqual(e.snapshot(n), snaps[n])
                self.assertFalse(os.path.exists("/tmp/tp-pwned"))
        # the default policy still works afterwards and applies what waited
        res, _ = e.apply()
        self.assertEqual({k: v["status"] for k, v in res.items()}, {"old1": "ok", "old2": "ok", "new1": "ok"})
        self.assertEqual(e.function("old1")["Configuration"]["MemorySize"], 512)
        self.assertIsNotNone(e.function("new1"))


# Hostile only for the item "evil"; every other item gets the default
# policy's spec. name -> (Lua run for "evil", error code, words).
HOSTILE = {
    "find_backtracking": ("return { x = string.rep('a', 5e4):find('.-.-.-.-.-.-b') }", "PolicyTimeLimit",
                          ["hostile_find_backtracking.lua", "wall-clock limit of 1000 ms"]),
    "xpcall_handler_loop": ("xpcall(function() while true do end end, function() while true do end end)",
                            "PolicyInstructionLimit", ["hostile_xpcall_handler_loop.lua:", "instruction limit"]),
    "gc_finalizer_loop": ("setmetatable({}, {__gc = function() while true do end end})", "PolicyError",
                          ["hostile_gc_finalizer_loop.lua:", "__gc finalizers are not allowed"]),
    "spec_dag_2p40_leaves": ("local t = {'leaf'} for i = 1, 40 do t = {t, t} end return { v = t }",
                             "PolicyOutputLimit", ["hostile_spec_dag_2p40_leaves.lua:", "more than 10000 values"]),
}


class HostilePolicy(unittest.TestCase):
    """A batch with one hostile item and good ones: the hostile item fails by
    name, the good pipeline is created, nothing that exists is changed or
    deleted, and the apply ends: the error code names the limit that stopped
    the item, and the run's 120 s timeout is only a hang guard (the wall
    time is printed, not bounded)."""

    @classmethod
    def setUpClass(cls):
        cls.moto = Moto.shared()
        cls.dir = tempfile.mkdtemp(prefix="tp-hostile-")

    def test_one_hostile_item_does_not_stop_the_batch(self):
        import time
        with open(os.path.join(os.path.dirname(__file__), "..", "..", "policies", "policy.lua")) as f:
            default = f.read()
        e = Env(self.moto, "hos")
        e.put({"pipeline": "kept"})
        res, _ = e.apply()
        self.assertEqual(res["kept"]["status"], "ok")
        kept = e.snapshot("kept")
        for name, (attack, code, words) in HOSTILE.items():
            with self.subTest(attack=name):
                good = "good-" + name.replace("_", "-")[:20]
                e.put({"pipeline": "evil"}, {"pipeline": good})
                path = os.path.join(self.dir, "hostile_%s.lua" % name)
                with open(path, "w") as f:
                    f.write("local default = (function()\n%s\nend)()\n"
                            "return { rollout = default.rollout, pipeline = function(item, ctx)\n"
                            "  if item.pipeline == 'evil' then\n    %s\n  end\n"
                            "  return default.pipeline(item, ctx)\nend }\n" % (default, attack))
                t0 = time.monotonic()
                r = e.run("apply", "--all", "--json", "--policy", path, timeout=120)
                wall = time.monotonic() - t0
                print("\nhostile batch %-22s apply took %.1f s" % (name, wall))
                self.assertEqual(r.returncode, 1, r.stdout + r.stderr[-2000:])
                got = {p["pipeline"]: p for p in json.loads(r.stdout)["pipelines"]}
                self.assertEqual(got["evil"]["status"], "error", got["evil"])
                self.assertEqual(got["evil"]["error"]["code"], code, got["evil"])
                for w in words:
                    self.assertIn(w, got["evil"]["error"]["message"])
                self.assertEqual(got["evil"]["changes"], [])
                self.assertEqual(got[good]["status"], "ok", got[good])
                self.assertIsNotNone(e.function(good))
                self.assertIsNone(e.function("evil"))
                self.assertIsNone(e.queue_url(e.qname("evil")))
                self.assertEqual(e.snapshot("kept"), kept)


if __name__ == "__main__":
    unittest.main()
