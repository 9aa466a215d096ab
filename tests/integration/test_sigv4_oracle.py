"""SigV4 against botocore, the oracle: hundreds of generated requests (paths
with spaces, unicode, reserved characters, dot segments and double slashes;
repeated and empty query keys and values; repeated headers and whitespace
runs; bodies; session tokens; S3 and other services) are signed by one
`taskpipe debug sigv4` process and by botocore's SigV4Auth / S3SigV4Auth, and
must agree byte for byte: canonical request, signature, Authorization, and
the URL-encoded path and query taskpipe would send.

No network: botocore only computes; nothing is sent anywhere.
"""
import hashlib
import json
import os
import random
import subprocess
import sys
import unittest
from urllib.parse import quote

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BASE_ENV, TASKPIPE  # noqa: E402

from botocore.auth import SigV4Auth, S3SigV4Auth  # noqa: E402
from botocore.awsrequest import AWSRequest  # noqa: E402
from botocore.credentials import Credentials  # noqa: E402

SEED = 20240517
N_CASES = 320

METHODS = ["GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "get", "Post"]
SERVICES = ["dynamodb", "sqs", "lambda", "sns", "iam", "execute-api", "s3", "s3", "s3"]
REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2", "us-gov-west-1"]
HOSTS = ["example.amazonaws.com", "127.0.0.1:5000", "localhost", "bucket.s3.amazonaws.com"]
RESERVED = "!*'();:@&=+$,/?#[]%"
SEGMENTS = ["a", "b", "photos", "b c", "two  spaces", "\u00fc", "\u65e5\u672c", "\U0001F600",
            "..", ".", "", "", "~user", "x%20y", "100%", "-_.~", "a+b", "q?x=1", "frag#1",
            "semi;colon", "col:on", "at@", "[br]", "star*", "it's", "(p)", "$d,", "e=f&g"]
QUERY_KEYS = ["", "a", "b", "A", "a-", "Action", "Version", "key with space", "\u00e9",
              "k=eq", "amp&", "plus+", "slash/", "pct%", "~t", "x.y", "MessageAttribute.1.Name"]
QUERY_VALUES = ["", "", "1", "2", "value", "a b", "x=y", "&", "\u2603", "%41", "+", "/path/",
                "'\"", "\U0001F600", "-_.~", "~", "[]"]
HEADER_NAMES = ["Content-Type", "X-Amz-Target", "X-Custom", "x-amz-meta-Thing", "Accept",
                "Content-Length", "X-Amz-Acl", "Cache-Control", "X-Multi"]
HEADER_VALUES = ["application/x-amz-json-1.0", "  leading", "trailing   ", "  both  ends  ",
                 "inner   runs\t\tof \t space", "\t", "", "a,b", "DynamoDB_20120810.GetItem",
                 "\u00fcnicode  value", "\"quoted   string\"", "123", "x" * 40]


def gen_path(rnd):
    n = rnd.randint(0, 5)
    parts = [rnd.choice(SEGMENTS) for _ in range(n)]
    if rnd.random() < 0.2:
        parts.append("".join(rnd.choice(RESERVED) for _ in range(rnd.randint(1, 6))))
    path = "/" + "/".join(parts)
    if rnd.random() < 0.25:
        path += "/"
    if rnd.random() < 0.1:
        path = "/" + path  # a leading double slash
    return path


def gen_case(rnd, i):
    service = rnd.choice(SERVICES)
    query = []
    for _ in range(rnd.choice([0, 0, 1, 2, 3, 5, 8])):
        if query and rnd.random() < 0.3:
            k = rnd.choice(query)[0]  # a repeated key
        else:
            k = rnd.choice(QUERY_KEYS)
        if rnd.random() < 0.15:
            k = "".join(rnd.choice(RESERVED) for _ in range(3))
        query.append([k, rnd.choice(QUERY_VALUES)])
    headers = [["Host" if rnd.random() < 0.5 else "host", rnd.choice(HOSTS)]]
    for _ in range(rnd.randint(0, 5)):
        if len(headers) > 1 and rnd.random() < 0.35:
            name = rnd.choice(headers)[0]  # the same header again
            name = rnd.choice([name, name.lower(), name.upper()])
        else:
            name = rnd.choice(HEADER_NAMES)
        headers.append([name, rnd.choice(HEADER_VALUES)])
    rnd.shuffle(headers)
    body = rnd.choice(["", "", "{}", "Action=ListUsers&Version=2010-05-08",
                       json.dumps({"TableName": "t", "Key": {"pipeline": {"S": "p%d" % i}}}),
                       "\u00fc\u00f1\u00ee\u00e7\u00f8d\u00e9 body " * rnd.randint(1, 20)])
    token = None
    if rnd.random() < 0.4:
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
        token = "".join(rnd.choice(alphabet) for _ in range(rnd.choice([16, 356, 1100])))
    return {
        "method": rnd.choice(METHODS),
        "path": gen_path(rnd),
        "query": query,
        "headers": headers,
        "body": body,
        "service": service,
        "region": rnd.choice(REGIONS),
        "access_key": rnd.choice(["AKIDEXAMPLE", "ASIA%012d" % rnd.randint(0, 10**12), "testing"]),
        "secret_key": rnd.choice(["wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "testing",
                                  "s" * 80, "k%dx" % rnd.randint(0, 10**9)]),
        "session_token": token,
        "time": rnd.randint(0, 4102444799),
        "s3": service == "s3",
    }


def botocore_expected(case):
    """What botocore signs for this case, built the way an SDK request is."""
    import datetime
    amz_date = datetime.datetime.fromtimestamp(case["time"], datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    url_path = quote(case["path"], safe="/~")
    url_query = "&".join(quote(k, safe="-_.~") + "=" + quote(v, safe="-_.~") for k, v in case["query"])
    # every case carries its own Host header(s), which botocore signs instead
    # of the URL's host; a fixed host keeps the URL well formed
    url = "http://example.amazonaws.com" + url_path + ("?" + url_query if case["query"] else "")
    body = case["body"].encode("utf-8")
    req = AWSRequest(method=case["method"], url=url, data=body)
    for name, value in case["headers"]:
        req.headers[name] = value  # HTTPHeaders: assigning twice keeps both values
    req.headers["X-Amz-Date"] = amz_date
    req.headers["X-Amz-Content-SHA256"] = hashlib.sha256(body).hexdigest()
    if case["session_token"] is not None:
        req.headers["X-Amz-Security-Token"] = case["session_token"]
    req.context["timestamp"] = amz_date
    creds = Credentials(case["access_key"], case["secret_key"], case["session_token"])
    cls = S3SigV4Auth if case["s3"] else SigV4Auth
    auth = cls(creds, case["service"], case["region"])
    cr = auth.canonical_request(req)
    sts = auth.string_to_sign(req, cr)
    sig = auth.signature(sts, req)
    auth._inject_signature_to_request(req, sig)
    return {"canonical_request": cr, "signature": sig, "authorization": req.headers["Authorization"],
            "url_path": url_path, "url_query": url_query}


class SigV4Oracle(unittest.TestCase):
    def test_generated_cases_match_botocore(self):
        if not os.access(TASKPIPE, os.X_OK):
            self.fail("taskpipe binary not found at %s (build it, or set TASKPIPE_BIN)" % TASKPIPE)
        rnd = random.Random(SEED)
        cases = [gen_case(rnd, i) for i in range(N_CASES)]
        # coverage the generator must reach, or the test proves little
        self.assertTrue(any(c["s3"] for c in cases) and any(not c["s3"] for c in cases))
        self.assertTrue(any(c["session_token"] for c in cases))
        self.assertTrue(any("/../" in c["path"] or c["path"].endswith("/..") for c in cases))
        self.assertTrue(any("//" in c["path"] for c in cases))
        self.assertTrue(any(len({k.lower() for k, _ in c["headers"]}) < len(c["headers"]) for c in cases))
        self.assertTrue(any(len({k for k, _ in c["query"]}) < len(c["query"]) for c in cases))
        self.assertTrue(any(["", ""] in c["query"] or any(k == "" for k, _ in c["query"]) for c in cases))

        stdin = "".join(json.dumps(c) + "\n" for c in cases)
        r = subprocess.run([TASKPIPE, "debug", "sigv4"], input=stdin, env=dict(BASE_ENV),
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, "taskpipe debug sigv4 failed: %s" % r.stderr[-2000:])
        lines = r.stdout.splitlines()
        self.assertEqual(len(lines), len(cases), "one output line per case expected")

        mismatches = []
        for case, line in zip(cases, lines):
            got = json.loads(line)
            want = botocore_expected(case)
            for field in ("url_path", "url_query", "canonical_request", "signature", "authorization"):
                if got.get(field) != want[field]:
                    mismatches.append("case %s\n  field %s\n  taskpipe: %r\n  botocore: %r" % (
                        json.dumps(case), field, got.get(field), want[field]))
                    break
        if mismatches:
            self.fail("%d of %d cases differ from botocore; first ones:\n%s" % (
                len(mismatches), len(cases), "\n".join(mismatches[:5])))

    def test_bad_case_is_reported(self):
        if not os.access(TASKPIPE, os.X_OK):
            self.fail("taskpipe binary not found at %s (build it, or set TASKPIPE_BIN)" % TASKPIPE)
        r = subprocess.run([TASKPIPE, "debug", "sigv4"], input='{"method": "GET"}\nnot json\n',
                           env=dict(BASE_ENV), capture_output=True, text=True, timeout=60)
        self.assertNotEqual(r.returncode, 0)
        lines = [json.loads(x) for x in r.stdout.splitlines()]
        self.assertEqual(len(lines), 2)
        self.assertTrue(all("error" in x for x in lines))


if __name__ == "__main__":
    unittest.main()
