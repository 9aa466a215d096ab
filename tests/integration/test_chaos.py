"""A small run of the chaos trials (tests/chaos/chaos.py) in every `make test`:
two apply and two rollout trials over 12 pipelines, SIGKILL at a random
point, 10% Lambda throttling through the AWS-faithful layer. `make chaos`
runs the full 20 trials over 200 pipelines."""
import io
import json
import os
import sys
import unittest
from contextlib import redirect_stdout

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "chaos"))
import chaos  # noqa: E402


class ChaosSmoke(unittest.TestCase):
    def run_kind(self, kind):
        out = io.StringIO()
        with redirect_stdout(out):
            rc = chaos.main(["--kind", kind, "--trials", "2", "--pipelines", "12", "--lambda-rps", "30"])
        lines = [json.loads(x) for x in out.getvalue().splitlines() if x.startswith("{")]
        summary = lines[-1]
        self.assertEqual((summary["trials"], summary["held"]), (2, 2), out.getvalue()[-4000:])
        self.assertEqual(rc, 0)
        self.assertTrue(any(x.get("killed") for x in lines[:-1]), "no trial was killed mid-run")

    def test_apply_killed_converges(self):
        self.run_kind("apply")

    def test_rollout_killed_updates_each_once(self):
        self.run_kind("rollout")


if __name__ == "__main__":
    unittest.main()
