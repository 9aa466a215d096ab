"""The fake AWS in C (tests/fake/) against the AWS-faithful layer
(awsmodel.py over moto): the same requests (tests/fake/contract/steps.json,
the shapes taskpipe sends) go to both through taskpipe's own client, and the
answers must agree line by line (status, error code, the fields each step
checks: states, conflicts, the concurrency pool, QueueDeletedRecently,
conditional writes). awsmodel.py stays the reference: it is what the
integration tier runs against, and this keeps the fake to it."""
import os
import subprocess
import sys
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Moto, ROOT  # noqa: E402
from awsmodel import AwsModel  # noqa: E402

CONTRACT = os.path.join(ROOT, "out", "debug", "fake_contract")
STEPS = os.path.join(ROOT, "tests", "fake", "contract", "steps.json")
# Transitions of 30 AWS seconds at scale 0.1: 3 s real for the layer; the
# steps that must land inside one are sent back to back.
SCALE = 0.1
TRANSITION = 30


class TestFakeContract(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.access(CONTRACT, os.X_OK):
            raise AssertionError("%s missing: `make unit` builds it" % CONTRACT)
        cls.moto = Moto.shared()
        cls.role = cls.moto.role_arn()

    def run_contract(self, mode, env):
        r = subprocess.run([CONTRACT, mode, STEPS], env=env, capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout.splitlines()

    def test_fake_answers_as_the_layer(self):
        uniq = uuid.uuid4().hex[:8]
        layer = AwsModel(self.moto.endpoint, scale=SCALE, lambda_rps=100000, lambda_get_rps=100000,
                         lambda_policy_rps=100000, fn_pending_s=TRANSITION, fn_update_s=TRANSITION,
                         esm_transition_s=TRANSITION).start()
        try:
            env = self.moto.env(AWS_ENDPOINT_URL=layer.endpoint, CONTRACT_UNIQ=uniq,
                                CONTRACT_ROLE=self.role, CONTRACT_SCALE=str(SCALE))
            want = self.run_contract("net", env)
        finally:
            layer.stop()
        env = self.moto.env(CONTRACT_UNIQ=uniq, CONTRACT_ROLE=self.role, CONTRACT_LAG_S=str(TRANSITION))
        got = self.run_contract("fake", env)
        self.assertFalse([l for l in want if l.startswith("BADSTEP")], want)
        self.assertEqual(len(got), len(want))
        print("\n".join(want))   # kept in the log: what was compared
        diffs = ["layer: %s\n fake: %s" % (w, g) for w, g in zip(want, got) if w != g]
        self.assertEqual(diffs, [], "\n" + "\n".join(diffs))
        # the layer's answers are the ones AWS gives (tests/integration/test_awsmodel.py):
        # a few, so a step that stopped testing anything shows
        by_name = {l.split(" ")[0]: l for l in want}
        self.assertIn(" 409 ResourceConflictException", by_name["fn_update_while_pending"])
        self.assertIn("Configuration.State=\"Active\"", by_name["fn_get_active"])
        self.assertIn("QueueDeletedRecently", by_name["q_recreate_soon"])
        self.assertIn("ConditionalCheckFailedException", by_name["ddb_put_exists"])
        self.assertIn("ResourceInUseException", by_name["esm_update_creating"])


if __name__ == "__main__":
    unittest.main()
