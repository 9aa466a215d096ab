"""Issue 23, defect 4: fresh resources are transient refusals, not failures.

Through the AWS-faithful layer (awsmodel.FreshResources, [fresh]): a queue
answers NonExistentQueue for a while after CreateQueue ("you must wait at
least one second after the queue is created to be able to use the queue"),
and CreateFunction refuses a new execution role ("The role defined for the
function cannot be assumed by Lambda") until it has propagated. taskpipe
retries both with backoff within the run. The checks read moto (boto3) and
the layer's own record (refusals, request log with server timestamps)."""
import json
import os
import sys
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Moto  # noqa: E402
from awsmodel import AwsModel  # noqa: E402
from test_pipelines import Env  # noqa: E402

SCALE = 0.02
QUEUE_READY_S = 50     # AWS seconds: 1 s here
ROLE_READY_S = 400     # 8 s here: longer than everything before CreateFunction


class NotReady(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.moto = Moto.shared()
        cls.aws = AwsModel(cls.moto.endpoint, scale=SCALE, queue_ready_s=QUEUE_READY_S,
                           role_ready_s=ROLE_READY_S).start()

    @classmethod
    def tearDownClass(cls):
        cls.aws.stop()

    def setUp(self):
        self.aws.reset()    # the request log: this test's only

    def test_new_queues_are_waited_for(self):
        e = Env(self.moto, "nrq", AWS_ENDPOINT_URL=self.aws.endpoint)
        names = ["q1", "q2", "q3"]
        e.put(*[{"pipeline": n} for n in names])
        res, _ = e.apply()
        for n in names:
            self.assertEqual(res[n]["status"], "ok", res[n])
            self.assertEqual(len(e.mappings(n)), 1, n)
        refused = [r for r in self.aws.fresh.refused if r[1] and e.prefix in r[1]]
        # the layer did refuse (the transient was met) ...
        self.assertTrue(refused, self.aws.fresh.refused)
        # ... and every queue was finally used only once it was a second old (server times)
        log = self.aws.log()
        first_create = min(x["time"] for x in log if x["operation"] == "CreateQueue")
        used = [x["time"] for x in log if x["operation"] == "GetQueueAttributes" and x["status"] == 200]
        self.assertTrue(used)
        self.assertGreaterEqual(min(used) - first_create, QUEUE_READY_S * SCALE)

    def test_new_role_is_retried_until_assumable(self):
        iam = self.moto.client("iam", endpoint=self.aws.endpoint)
        doc = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {
            "Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
        role = iam.create_role(RoleName="fresh-" + uuid.uuid4().hex[:8],
                               AssumeRolePolicyDocument=json.dumps(doc))["Role"]["Arn"]
        e = Env(self.moto, "nrr", AWS_ENDPOINT_URL=self.aws.endpoint, TASKPIPE_ROLE_ARN=role)
        e.put({"pipeline": "r1"})
        res, _ = e.apply()
        self.assertEqual(res["r1"]["status"], "ok", res["r1"])
        self.assertEqual(e.function("r1")["Configuration"]["Role"], role)
        self.assertIn(("CreateFunction", role), self.aws.fresh.refused)
        # several attempts, the last one accepted, spaced out (a lower bound only)
        fn_creates = [x for x in self.aws.log() if x["operation"] == "CreateFunction"]
        ok = [x for x in fn_creates if 200 <= (x["status"] or 0) < 300]
        self.assertTrue(ok)
        refusals = [x for x in fn_creates if x["status"] == 400]
        self.assertGreaterEqual(len(refusals), 2)
        made = [x["time"] for x in self.aws.log() if x["operation"] == "CreateRole"][0]
        self.assertGreaterEqual(ok[-1]["time"] - made, ROLE_READY_S * SCALE)


if __name__ == "__main__":
    unittest.main()
