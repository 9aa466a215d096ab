"""DynamoDB as real DynamoDB behaves (issue 15): a table is CREATING for a
while after CreateTable (modelled by awsmodel.AwsModel table_create_s), item
numbers are decimal text of up to 38 digits (never a C double), and the
value rules DynamoDB enforces (number digits and range, sets without
duplicates) are checked before sending, naming the field.

Checked with boto3 against moto (the independent reader)."""
import itertools
import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Moto, run_taskpipe  # noqa: E402
from awsmodel import AwsModel  # noqa: E402
from test_bootstrap import Bootstrap, code_zip, failures  # noqa: E402

_seq = itertools.count()
SCALE = 0.1          # AWS seconds -> real seconds in the layer
CREATE_S = 30        # the table stays CREATING for 3 real seconds

EXACT_ENV = {"RATE": 0.1, "BIG": 123456789012345678, "HUGE": 12345678901234567890123,
             "NEAR": 0.30000000000000004, "TINY": 1e-7, "NEG": -9223372036854775809}
# The JSON text above, as Python writes it (the numbers as written).
WANT_ENV = {"RATE": "0.1", "BIG": "123456789012345678", "HUGE": "12345678901234567890123",
            "NEAR": "0.30000000000000004", "TINY": "1e-07", "NEG": "-9223372036854775809"}


class Instance:
    def __init__(self, moto, tag, endpoint=None, **extra):
        n = next(_seq)
        self.prefix = "%s%d-" % (tag[:5], os.getpid() % 1000 + n * 1000)
        self.config, self.state = self.prefix + "config", self.prefix + "state"
        self.env = moto.env(TASKPIPE_CODE_BUCKET="code", TASKPIPE_CODE_KEY="consumer.zip",
                            TASKPIPE_ROLE_ARN=moto.role_arn(), TASKPIPE_PREFIX=self.prefix,
                            TASKPIPE_CONFIG_TABLE=self.config, TASKPIPE_STATE_TABLE=self.state,
                            **extra)
        if endpoint:
            self.env["AWS_ENDPOINT_URL"] = endpoint

    def run(self, *args, input=None):
        return run_taskpipe(list(args), self.env, input=input, timeout=300)


class InitWaitsForActive(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.moto = Moto.shared()

    def setUp(self):
        self.aws = AwsModel(self.moto.endpoint, scale=SCALE, table_create_s=CREATE_S).start()
        self.addCleanup(self.aws.stop)

    def test_put_right_after_init_succeeds(self):
        inst = Instance(self.moto, "iact", self.aws.endpoint)
        t0 = time.time()
        r = inst.run("init")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertGreaterEqual(time.time() - t0, CREATE_S * SCALE * 0.9, "init returned while CREATING")
        self.assertIn("table %s: created, waiting until ACTIVE" % inst.config, r.stdout)
        self.assertIn("table %s: active" % inst.config, r.stdout)
        r = inst.run("put", "-", input=json.dumps({"pipeline": "p1", "concurrency": 2}))
        self.assertEqual(r.returncode, 0, r.stderr)
        item = self.moto.client("dynamodb").get_item(TableName=inst.config, Key={"pipeline": {"S": "p1"}})
        self.assertEqual(item["Item"]["concurrency"], {"N": "2"})
        self.assertEqual([v for v in self.aws.violations() if v["rule"] == "table CREATING"], [])

    def test_table_found_creating_is_waited_for_not_exists(self):
        inst = Instance(self.moto, "icre", self.aws.endpoint)
        ddb = self.moto.client("dynamodb", endpoint=self.aws.endpoint)
        ddb.create_table(TableName=inst.config, KeySchema=[{"AttributeName": "pipeline", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "pipeline", "AttributeType": "S"}],
                         BillingMode="PAY_PER_REQUEST",
                         StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
        self.assertEqual(ddb.describe_table(TableName=inst.config)["Table"]["TableStatus"], "CREATING")
        r = inst.run("init")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("table %s: exists\n" % inst.config, r.stdout)
        self.assertIn("table %s: exists, CREATING" % inst.config, r.stdout)
        self.assertIn("table %s: active" % inst.config, r.stdout)
        self.assertEqual(ddb.describe_table(TableName=inst.config)["Table"]["TableStatus"], "ACTIVE")
        r = inst.run("put", "-", input=json.dumps({"pipeline": "p2"}))
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_timeout_names_the_table_and_setting(self):
        inst = Instance(self.moto, "itmo", self.aws.endpoint, TASKPIPE_INIT_TIMEOUT_S=1)
        r = inst.run("init")
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("TableNotActive", r.stderr)
        self.assertIn("table %s is still CREATING" % inst.config, r.stderr)
        self.assertIn("TASKPIPE_INIT_TIMEOUT_S", r.stderr)
        # A second init, once the table is ACTIVE, finishes the job without creating twice.
        time.sleep(CREATE_S * SCALE)
        inst.env["TASKPIPE_INIT_TIMEOUT_S"] = "60"
        r = inst.run("init")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("table %s: exists" % inst.config, r.stdout)

    def test_bad_timeout_setting_is_named(self):
        inst = Instance(self.moto, "ibad", self.aws.endpoint, TASKPIPE_INIT_TIMEOUT_S="soon")
        r = inst.run("init")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("TASKPIPE_INIT_TIMEOUT_S='soon' is not an integer in 0..86400; using 300", r.stderr)
        self.assertEqual(r.stderr.count("TASKPIPE_INIT_TIMEOUT_S='soon'"), 1, r.stderr)


class ExactNumbers(unittest.TestCase):
    """Numbers keep their value to the last digit: put, policy check and the
    stream path (Lambda runtime)."""

    @classmethod
    def setUpClass(cls):
        cls.moto = Moto.shared()
        s3 = cls.moto.client("s3")
        try:
            s3.head_object(Bucket="code", Key="consumer.zip")
        except Exception:
            try:
                s3.create_bucket(Bucket="code")
            except Exception:
                pass
            s3.put_object(Bucket="code", Key="consumer.zip", Body=code_zip())

    def test_put_stores_number_text_exactly(self):
        inst = Instance(self.moto, "nput")
        self.assertEqual(inst.run("init").returncode, 0)
        text = '{"pipeline":"n1","env":{"RATE":0.1,"BIG":123456789012345678,"HUGE":1234567890123456789012345678901234567,' \
               '"NEG":-9223372036854775809,"NEAR":0.30000000000000004}}'
        r = inst.run("put", "-", input=text)
        self.assertEqual(r.returncode, 0, r.stderr)
        item = self.moto.client("dynamodb").get_item(TableName=inst.config, Key={"pipeline": {"S": "n1"}})["Item"]
        env = item["env"]["M"]
        self.assertEqual(env["RATE"], {"N": "0.1"})
        self.assertEqual(env["BIG"], {"N": "123456789012345678"})
        self.assertEqual(env["HUGE"], {"N": "1234567890123456789012345678901234567"})
        self.assertEqual(env["NEG"], {"N": "-9223372036854775809"})
        self.assertEqual(env["NEAR"], {"N": "0.30000000000000004"})
        # ... and the function's environment after apply
        r = inst.run("apply", "n1")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        fn = self.moto.client("lambda").get_function_configuration(FunctionName=inst.prefix + "n1")
        v = fn["Environment"]["Variables"]
        self.assertEqual(v["RATE"], "0.1")
        self.assertEqual(v["BIG"], "123456789012345678")
        self.assertEqual(v["HUGE"], "1234567890123456789012345678901234567")
        self.assertEqual(v["NEG"], "-9223372036854775809")
        self.assertEqual(v["NEAR"], "0.30000000000000004")

    def test_policy_check_keeps_numbers(self):
        inst = Instance(self.moto, "npol")
        r = inst.run("policy", "check", "-", input=json.dumps({"pipeline": "n2", "env": EXACT_ENV}))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        out = json.loads(r.stdout)
        self.assertEqual(out["spec"]["func"]["Environment"]["Variables"], WANT_ENV)

    def test_stream_path_keeps_numbers(self):
        inst = Instance(self.moto, "nstr")
        self.assertEqual(inst.run("init").returncode, 0)
        ddb = self.moto.client("dynamodb")
        streams = self.moto.client("dynamodbstreams")
        arn = ddb.describe_table(TableName=inst.config)["Table"]["LatestStreamArn"]
        ddb.put_item(TableName=inst.config, Item={"pipeline": {"S": "s1"}, "env": {"M": {
            "RATE": {"N": "0.1"}, "BIG": {"N": "123456789012345678"},
            "NEAR": {"N": "0.30000000000000004"}, "HUGE": {"N": "12345678901234567890123"}}}})
        from runtime_emulator import stream_records
        recs, _ = stream_records(streams, arn, None)
        self.assertEqual(recs[-1]["dynamodb"]["NewImage"]["env"]["M"]["NEAR"], {"N": "0.30000000000000004"})

        class E:
            pass
        e = E()
        e.env = inst.env
        b = Bootstrap(e)
        self.addCleanup(b.stop)
        res = b.invoke({"Records": recs})
        self.assertEqual(failures(res), [], b.stderr())
        fn = self.moto.client("lambda").get_function_configuration(FunctionName=inst.prefix + "s1")
        self.assertEqual(fn["Environment"]["Variables"], {
            "RATE": "0.1", "BIG": "123456789012345678", "NEAR": "0.30000000000000004",
            "HUGE": "12345678901234567890123"})


class NumberAndSetLimits(unittest.TestCase):
    """DynamoDB's rules, refused before sending with the field named."""

    @classmethod
    def setUpClass(cls):
        cls.moto = Moto.shared()
        cls.inst = Instance(cls.moto, "nlim")
        cls.proxy_calls = None
        assert cls.inst.run("init").returncode == 0

    CASES = [
        ('{"pipeline":"x","env":{"BIG":1234567890123456789012345678901234567891}}',
         "env.BIG: number has 40 significant digits; DynamoDB allows 38"),
        ('{"pipeline":"x","env":{"BIG":"ok","SMALL":1e-131}}', "env.SMALL: number 1e-131 is out of DynamoDB's range"),
        ('{"pipeline":"x","limits":[1, 2, 1e126]}', "limits[2]: number 1e126 is out of DynamoDB's range"),
        ('{"pipeline":{"S":"x"},"ids":{"NS":["1","2","1.0"]}}', "ids: NS holds a duplicate value"),
        ('{"pipeline":{"S":"x"},"tags":{"SS":["a","a"]}}', "tags: SS holds a duplicate value"),
        ('{"pipeline":{"S":"x"},"tags":{"SS":[]}}', "tags: SS must be a non-empty array"),
        ('{"pipeline":{"S":"x"},"m":{"M":{"n":{"N":"12.5e"}}}}', 'm.n: "12.5e" is not a number'),
        ('{"pipeline":{"S":"x"},"ids":{"NS":["1","123456789012345678901234567890123456789"]}}',
         "ids[1]: number has 39 significant digits; DynamoDB allows 38"),
    ]

    def test_put_refuses_naming_the_field_and_writes_nothing(self):
        for text, want in self.CASES:
            with self.subTest(text=text):
                r = self.inst.run("put", "-", input=text)
                self.assertEqual(r.returncode, 1, r.stdout)
                self.assertIn(want, r.stderr)
        items = self.moto.client("dynamodb").scan(TableName=self.inst.config)["Items"]
        self.assertEqual([i for i in items if i["pipeline"]["S"] == "x"], [])

    def test_policy_check_refuses_the_same(self):
        for text, want in self.CASES:
            with self.subTest(text=text):
                r = self.inst.run("policy", "check", "-", input=text)
                self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
                self.assertIn(want, json.loads(r.stdout)["error"])

    def test_repl_put_refuses_the_same(self):
        code = ('tp.put({pipeline = "rx", env = {BIG = tp.number("1234567890123456789012345678901234567891")}})')
        r = self.inst.run("repl", "-e", code)
        self.assertNotEqual(r.returncode, 0, r.stdout)
        self.assertIn("item.env.BIG: number has 40 significant digits; DynamoDB allows 38", r.stdout + r.stderr)
        r = self.inst.run("repl", "-e", 'tp.put({pipeline = "ry", x = 1e200})')
        self.assertIn("item.x: number 1e+200 is out of DynamoDB's range", r.stdout + r.stderr)
        items = self.moto.client("dynamodb").scan(TableName=self.inst.config)["Items"]
        self.assertEqual([i for i in items if i["pipeline"]["S"] in ("rx", "ry")], [])

    def test_limits_themselves_are_accepted(self):
        ok = ('{"pipeline":"lim","a":12345678901234567890123456789012345678,"b":1e-130,'
              '"c":9.9999999999999999999999999999999999999e125,"d":0,"e":100000000000000000000000000000000000000000,'
              '"f":-1e-130}')
        # --no-check: DynamoDB's limits are the point here, not the policy's fields
        r = self.inst.run("put", "--no-check", "-", input=ok)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.inst.run("put", "--no-check", "-", input=json.dumps({"pipeline": {"S": "lim2"}, "ids": {"NS": ["1", "1.5", "10"]}}))
        self.assertEqual(r.returncode, 0, r.stderr)
        item = self.moto.client("dynamodb").get_item(TableName=self.inst.config, Key={"pipeline": {"S": "lim"}})["Item"]
        self.assertEqual(item["a"], {"N": "12345678901234567890123456789012345678"})


class InitTableWithoutStream(unittest.TestCase):
    """Issue 23, defect 5: a config table made without a stream (by hand or by
    another tool) gets one from init, at once, not a 300 s wait ending in
    "still ACTIVE". The layer keeps the table UPDATING and its new stream
    ENABLING for stream_enable_s after UpdateTable ([tblupd])."""
    ENABLE_S = 20        # 2 real seconds

    @classmethod
    def setUpClass(cls):
        cls.moto = Moto.shared()

    def setUp(self):
        self.aws = AwsModel(self.moto.endpoint, scale=SCALE, stream_enable_s=self.ENABLE_S).start()
        self.addCleanup(self.aws.stop)

    def make_table(self, inst):
        ddb = self.moto.client("dynamodb", endpoint=self.aws.endpoint)
        ddb.create_table(TableName=inst.config, KeySchema=[{"AttributeName": "pipeline", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "pipeline", "AttributeType": "S"}],
                         BillingMode="PAY_PER_REQUEST")
        return ddb

    def test_stream_enabled_and_waited_for(self):
        inst = Instance(self.moto, "inos", self.aws.endpoint, TASKPIPE_INIT_TIMEOUT_S="60")
        ddb = self.make_table(inst)
        t0 = time.time()
        r = inst.run("init")
        took = time.time() - t0
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("table %s: exists without a stream; enabling it (NEW_AND_OLD_IMAGES)" % inst.config,
                      r.stdout)
        self.assertIn("table %s: stream enabled" % inst.config, r.stdout)
        self.assertLess(took, 30, "init waited for a stream nobody enabled")
        self.assertGreaterEqual(took, self.ENABLE_S * SCALE * 0.9, "init returned while ENABLING")
        t = ddb.describe_table(TableName=inst.config)["Table"]
        self.assertEqual((t["TableStatus"], t["StreamSpecification"]["StreamViewType"]),
                         ("ACTIVE", "NEW_AND_OLD_IMAGES"))
        # and it is a working stream: a put shows up in it
        inst.run("put", "-", input=json.dumps({"pipeline": "p1"}))
        st = self.moto.client("dynamodbstreams")
        sh = st.describe_stream(StreamArn=t["LatestStreamArn"])["StreamDescription"]["Shards"][0]
        it = st.get_shard_iterator(StreamArn=t["LatestStreamArn"], ShardId=sh["ShardId"],
                                   ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        self.assertEqual(len(st.get_records(ShardIterator=it)["Records"]), 1)

    def test_refused_enable_fails_at_once_naming_the_stream(self):
        inst = Instance(self.moto, "inor", self.aws.endpoint, TASKPIPE_INIT_TIMEOUT_S="60")
        self.make_table(inst)
        denied = json.dumps({"__type": "com.amazon.coral.service#AccessDeniedException",
                             "message": "User is not authorized to perform: dynamodb:UpdateTable"})
        self.aws.add_rule({"match": {"service": "dynamodb", "operation": "UpdateTable"}, "times": -1,
                           "action": {"status": 400, "body": denied,
                                      "headers": {"x-amzn-ErrorType": "AccessDeniedException"}}})
        t0 = time.time()
        r = inst.run("init")
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertLess(time.time() - t0, 20)
        self.assertIn("NoStream", r.stderr)
        self.assertIn("table %s has no stream" % inst.config, r.stderr)
        self.assertIn("AccessDeniedException", r.stderr)


if __name__ == "__main__":
    unittest.main()


class RolloutRecordAtSize(unittest.TestCase):
    """The rollout plan of 50,000 targets with 40-character pipeline names
    (about 2.2 MB of names) through the real record code (rolloutrec, via
    `taskpipe debug rollout-plan`) against moto, which enforces DynamoDB's
    400 KB item size. 50,000 real functions would take moto hours, so the
    targets are synthetic: the record path is what this tests."""

    N = 50000

    @classmethod
    def setUpClass(cls):
        cls.moto = Moto.shared()
        cls.inst = Instance(cls.moto, "rrec")
        assert cls.inst.run("init").returncode == 0
        names = ["p%039d" % i for i in range(cls.N)]           # 40 characters each
        cls.plan = [{"targets": names[:500], "pause_seconds": 60, "halt_on_failure": True},
                    {"targets": names[500:10000], "pause_seconds": 0, "halt_on_failure": True},
                    {"targets": names[10000:], "pause_seconds": 0, "halt_on_failure": False}]
        cls.text = json.dumps(cls.plan, separators=(",", ":"))
        cls.ddb = cls.moto.client("dynamodb")

    def test_one_item_cannot_hold_it(self):
        # What the old layout wrote: the whole plan in the head item. moto refuses it
        # as DynamoDB does (ValidationException, item size over 400 KB).
        self.assertGreater(len(self.text), 2 * 1000 * 1000)
        with self.assertRaises(Exception) as cm:
            self.ddb.put_item(TableName=self.inst.state, Item={
                "pk": {"S": "rollout#old/layout"}, "kind": {"S": "rollout"}, "plan": {"S": self.text}})
        self.assertIn("Item size has exceeded the maximum allowed size", str(cm.exception))

    def test_plan_over_400kb_round_trips_in_parts(self):
        r = self.inst.run("debug", "rollout-plan", "write", "code/big.zip", input=self.text)
        self.assertEqual(r.returncode, 0, r.stderr)
        stats = json.loads(r.stdout)
        self.assertEqual(stats["bytes"], len(self.text))
        self.assertEqual(stats["parts"], -(-len(self.text) // 300000))
        self.assertEqual(stats["writes"], stats["parts"] + 1)
        print("\n  rollout record, %d targets x 40 chars: %d bytes of plan, %d parts, %d PutItem"
              % (self.N, stats["bytes"], stats["parts"], stats["writes"]), file=sys.stderr)
        parts = [it for page in self.ddb.get_paginator("scan").paginate(
            TableName=self.inst.state, FilterExpression="begins_with(pk, :p)",
            ExpressionAttributeValues={":p": {"S": "rollout#code/big.zip#plan#"}}) for it in page["Items"]]
        self.assertEqual(len(parts), stats["parts"])
        for p in parts:
            self.assertLess(len(p["text"]["S"].encode()) + len(p["pk"]["S"]) + 64, 400 * 1024)
        r = self.inst.run("debug", "rollout-plan", "read", "code/big.zip")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout), self.plan)

    def test_missing_or_changed_part_is_an_error_not_a_shorter_plan(self):
        small = [{"targets": ["p%039d" % i for i in range(8000)], "pause_seconds": 0, "halt_on_failure": True}]
        r = self.inst.run("debug", "rollout-plan", "write", "code/dmg.zip", input=json.dumps(small))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["parts"], 2)
        parts = sorted(self.ddb.scan(TableName=self.inst.state, FilterExpression="begins_with(pk, :p)",
                                     ExpressionAttributeValues={":p": {"S": "rollout#code/dmg.zip#plan#"}})["Items"],
                       key=lambda p: int(p["part"]["N"]))
        last = parts[-1]
        bad = dict(last, text={"S": last["text"]["S"].replace("p0", "q0", 1)})
        self.ddb.put_item(TableName=self.inst.state, Item=bad)
        r = self.inst.run("debug", "rollout-plan", "read", "code/dmg.zip")
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("RolloutPlanDamaged", r.stderr)
        self.ddb.delete_item(TableName=self.inst.state, Key={"pk": last["pk"]})
        r = self.inst.run("debug", "rollout-plan", "read", "code/dmg.zip")
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("RolloutPlanMissing", r.stderr)

    def test_old_single_item_record_stays_readable(self):
        plan = [{"targets": ["a", "b"], "pause_seconds": 0, "halt_on_failure": True}]
        self.ddb.put_item(TableName=self.inst.state, Item={
            "pk": {"S": "rollout#code/old.zip#debug"}, "kind": {"S": "rollout-debug"},
            "plan": {"S": json.dumps(plan)}})
        r = self.inst.run("debug", "rollout-plan", "read", "code/old.zip")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout), plan)
