"""Issue 23, defect 7: throttling of any service never fails a pipeline
while the run has time.

Through the AWS-faithful layer a quarter of all requests are throttled:
Lambda (429 TooManyRequestsException, throttle_fraction) and SQS, DynamoDB
and S3 (ServiceThrottle, [throttle]: ThrottlingException / RequestThrottled,
503 SlowDown). Before, SQS, DynamoDB and S3 throttles failed a request after
the standard three (DynamoDB four) attempts and took from the retry quota,
so a 20-pipeline apply usually left a pipeline failed. The checks read moto
with boto3 and the layer's own counts."""
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Moto  # noqa: E402
from awsmodel import AwsModel  # noqa: E402
from test_pipelines import Env  # noqa: E402

FRACTION = 0.25
N = 20


class ThrottleAll(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.moto = Moto.shared()
        cls.aws = AwsModel(cls.moto.endpoint, scale=0.02, throttle_fraction=FRACTION, seed=7,
                           other_throttle_fraction={"sqs": FRACTION, "dynamodb": FRACTION,
                                                    "s3": FRACTION}).start()

    @classmethod
    def tearDownClass(cls):
        cls.aws.stop()

    def test_quarter_of_all_requests_throttled_two_applies(self):
        e = Env(self.moto, "thr", AWS_ENDPOINT_URL=self.aws.endpoint)
        names = ["t%02d" % i for i in range(N)]
        e.put(*[{"pipeline": n, "concurrency": 2} for n in names])
        before = dict(self.aws.throttles.count)
        res, doc = e.apply()
        self.assertEqual([n for n in names if res[n]["status"] != "ok"], [], doc)
        e.put(*[{"pipeline": n, "concurrency": 3, "timeout": 20} for n in names])
        # S3 is asked little (GetBucketVersioning, one HeadObject per code object):
        # its next four requests are throttled in a row, one more than 3 attempts
        with self.aws._mlock:
            self.aws.throttles.force["s3"] = 4
        res, doc = e.apply()
        self.assertEqual([n for n in names if res[n]["status"] != "ok"], [], doc)
        for n in names:
            self.assertEqual(e.mapping(n)["ScalingConfig"]["MaximumConcurrency"], 3, n)
            self.assertEqual(e.function(n)["Configuration"]["Timeout"], 20, n)
        # every service was throttled, and taskpipe counted what it retried
        got = {k: v - before.get(k, 0) for k, v in self.aws.throttles.count.items()}
        for svc in ("sqs", "dynamodb", "s3"):
            self.assertGreater(got.get(svc, 0), 0, got)
        self.assertGreater(self.aws.lambda_throttled(), 0)
        self.assertGreater(doc["throttled_other"], 0, json.dumps(doc)[-500:])
        # nothing fell back to a guess: the code stayed REFERENCE at the version S3 named
        for n in names:
            self.assertEqual(self.aws.storage_of(e.prefix + n)[0], "REFERENCE", n)


if __name__ == "__main__":
    unittest.main()
