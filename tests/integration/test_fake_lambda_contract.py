"""The fake Lambda (tests/fake/fake_lambda*.c) and the AWS-faithful layer
(awsmodel.py over moto) answer the same requests alike.

tests/fake/contract_lambda.json holds a script of raw Lambda requests (the
shapes src/aws/lambda.c sends) and, under "expect", what the layer answered
each: status, error code and the fields the step names. This module plays
the script through the layer and checks it still answers "expect"; the C
test test_contract_with_awsmodel (tests/unit/test_fake_lambda.c) plays it
through the fake and checks the same "expect". So neither can drift from the
recorded answers without a test failing. TASKPIPE_CONTRACT_RECORD=1 writes
"expect" anew from the layer (review the diff: the fake must then follow).
"""
import http.client
import json
import os
import sys
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Moto, REGION  # noqa: E402
from awsmodel import AwsModel  # noqa: E402

import boto3  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "..", "fake", "contract_lambda.json")
SCALE = 0.1
# A wait in the script is in transitions: here 20 AWS s at scale 0.1 (2 s, room
# for the requests that must land inside one on a loaded machine); the
# fake's are lag_ms 1000 of simulated time.
TRANSITION = 20
AUTH = ("AWS4-HMAC-SHA256 Credential=testing/20240101/%s/lambda/aws4_request, "
        "SignedHeaders=host, Signature=00")


def field(doc, path):
    """The value at a dotted path (list indexes as numbers), None when absent."""
    cur = doc
    for part in path.split("."):
        if isinstance(cur, list) and part.isdigit() and int(part) < len(cur):
            cur = cur[int(part)]
        elif isinstance(cur, dict) and part in cur:
            cur = cur[part]
        else:
            return None
    return cur


def play(endpoint, script):
    """Each step's answer as {"status", "code", "fields"} (waits: None)."""
    host = urllib.parse.urlparse(endpoint)
    out, captured = [], {}
    for step in script["steps"]:
        if "wait" in step:
            time.sleep(step["wait"] * TRANSITION * SCALE)
            out.append(None)
            continue
        path = step["path"].replace("$UUID", captured.get("UUID", "none"))
        if step.get("query"):
            path += "?" + step["query"]
        body = json.dumps(step["body"]).encode() if "body" in step else b""
        conn = http.client.HTTPConnection(host.hostname, host.port, timeout=30)
        try:
            conn.request(step["method"], path, body=body, headers={
                "Authorization": AUTH % script["region"], "Content-Type": "application/json"})
            resp = conn.getresponse()
            data = resp.read()
            etype = resp.getheader("x-amzn-ErrorType") or ""
        finally:
            conn.close()
        doc = json.loads(data) if data.strip() else {}
        if step.get("capture") and isinstance(doc, dict) and doc.get(step["capture"]):
            captured[step["capture"]] = doc[step["capture"]]
        code = etype.split(":")[0] if resp.status >= 300 else None
        out.append({"status": resp.status, "code": code,
                    "fields": {p: field(doc, p) for p in step.get("check", [])}})
    return out


class TestLayerAnswersTheContract(unittest.TestCase):
    def test_layer_answers_as_recorded(self):
        with open(SCRIPT) as fh:
            script = json.load(fh)
        self.assertEqual(script["region"], REGION)
        moto = Moto.shared()
        moto.role_arn()     # arn:aws:iam::123456789012:role/taskpipe-consumer, the script's Role
        boto3.client("sqs", region_name=REGION, endpoint_url=moto.endpoint,
                     aws_access_key_id="testing", aws_secret_access_key="testing"
                     ).create_queue(QueueName=script["queue"])
        aws = AwsModel(moto.endpoint, scale=SCALE, fn_pending_s=TRANSITION, fn_update_s=TRANSITION,
                       esm_transition_s=TRANSITION, lambda_rps=10000, lambda_get_rps=10000).start()
        try:
            got = play(aws.endpoint, script)
        finally:
            aws.stop()
        if os.environ.get("TASKPIPE_CONTRACT_RECORD") == "1":
            script["expect"] = got
            with open(SCRIPT, "w") as fh:
                fh.write(json.dumps(script, indent=1) + "\n")
            return
        self.assertEqual(len(script["expect"]), len(script["steps"]),
                         "contract_lambda.json: steps and expect differ in length; record it anew")
        for i, (step, want, have) in enumerate(zip(script["steps"], script["expect"], got)):
            self.assertEqual(have, want, "step %d (%s)" % (i, step.get("note", "wait")))


if __name__ == "__main__":
    unittest.main()
