"""Credentials that expire during a long run are refreshed before they
expire: a REPL session (the shape of watch and long rollouts) makes calls
across the refresh point of an assumed role (moto's STS, through a
recording proxy) and of a credential_process, and every call is signed with
credentials that were fresh when it was made.

taskpipe refreshes when less than 5 minutes remain, so credentials issued
for 5 minutes and 2 seconds are due for refresh 2 seconds after they were
issued. The tests wait 4 s (a lower bound) between calls; no upper bound on
any stopwatch.
"""
import datetime
import json
import os
import re
import subprocess
import sys
import tempfile
import unittest

from credsfake import Server, forward_to, form_of, iso, utcnow
from harness import BASE_ENV, TASKPIPE, Moto

SECRET = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYSECRETKEY"
LIFETIME_S = 302   # refresh due 2 s after issue (5-minute margin)
WAIT_S = 4


def signing_key(hit):
    m = re.search(r"Credential=([A-Z0-9]+)/", hit[2].get("Authorization", ""))
    return m and m.group(1)


class RefreshTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.moto = Moto.shared()

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.answers = []
        self.proxy = Server(forward_to(self.moto.endpoint, self.answers))

    def tearDown(self):
        self.proxy.stop()
        self.tmp.cleanup()

    def file(self, name, text):
        path = os.path.join(self.tmp.name, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def env(self, **extra):
        e = dict(BASE_ENV)
        for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            e.pop(k, None)
        e.update(HOME=self.tmp.name, AWS_ENDPOINT_URL=self.proxy.url, TASKPIPE_LOG_LEVEL="DEBUG")
        e.update(extra)
        return e

    def sqs_hits(self):
        def target(h):
            return {k.lower(): v for k, v in h[2].items()}.get("x-amz-target", "")
        return [h for h in self.proxy.hits if target(h).startswith("AmazonSQS.")]

    def repl_calls(self, env, n_after):
        """One call, a pause of WAIT_S inside the same process, n_after calls."""
        call = 'tp.aws("sqs", "ListQueues")'
        args = ["repl", "-e", call, "-e", 'os.execute("sleep %d")' % WAIT_S] + ["-e", call] * n_after
        r = subprocess.run([TASKPIPE] + args, env=env, capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn(SECRET, r.stdout + r.stderr)
        self.assertEqual(len(self.sqs_hits()), 1 + n_after)
        return r.stdout, r.stderr

    def test_assumed_role_refreshed_mid_run(self):
        self.file("credentials", "[base]\naws_access_key_id = AKIDBASE\naws_secret_access_key = %s\n" % SECRET)
        self.file("config", "[profile dev]\nrole_arn = arn:aws:iam::123456789012:role/long-run\n"
                            "source_profile = base\nduration_seconds = %d\n" % LIFETIME_S)
        env = self.env(AWS_PROFILE="dev", AWS_SHARED_CREDENTIALS_FILE=os.path.join(self.tmp.name, "credentials"),
                       AWS_CONFIG_FILE=os.path.join(self.tmp.name, "config"))
        self.repl_calls(env, 2)
        assume = [(i, h) for i, h in enumerate(self.proxy.hits) if b"Action=AssumeRole" in h[3]]
        self.assertEqual(len(assume), 2)   # first use, then once at the refresh point; not per call
        self.assertEqual(form_of(assume[0][1])["DurationSeconds"], str(LIFETIME_S))
        keys = [re.search(rb"<AccessKeyId>([^<]+)</AccessKeyId>", self.answers[i]).group(1).decode()
                for i, _ in assume]
        self.assertNotEqual(keys[0], keys[1])
        # Calls made after the refresh point use the new key; the first, the old.
        self.assertEqual([signing_key(h) for h in self.sqs_hits()], [keys[0], keys[1], keys[1]])

    def test_credential_process_refreshed_mid_run(self):
        counter = os.path.join(self.tmp.name, "runs")
        helper = self.file("helper.py", (
            "import datetime, json\n"
            "with open(%r, 'a') as f: f.write('x')\n"
            "n = len(open(%r).read())\n"
            "exp = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=%d)\n"
            "print(json.dumps({'Version': 1, 'AccessKeyId': 'AKIDRUN%%d' %% n, 'SecretAccessKey': %r,\n"
            "                  'Expiration': exp.strftime('%%Y-%%m-%%dT%%H:%%M:%%SZ')}))\n")
            % (counter, counter, LIFETIME_S, SECRET))
        self.file("config", "[profile p]\ncredential_process = %s %s\n" % (sys.executable, helper))
        env = self.env(AWS_PROFILE="p", AWS_CONFIG_FILE=os.path.join(self.tmp.name, "config"))
        self.repl_calls(env, 2)
        with open(counter) as f:
            self.assertEqual(len(f.read()), 2)
        self.assertEqual([signing_key(h) for h in self.sqs_hits()], ["AKIDRUN1", "AKIDRUN2", "AKIDRUN2"])


if __name__ == "__main__":
    unittest.main()
