"""Credentials chain end to end: `taskpipe debug creds` against local fake
container-credentials and IMDSv2 servers on 127.0.0.1.

Nothing here may reach 169.254.169.254 or 169.254.170.2: every case either
sets AWS_EC2_METADATA_DISABLED=true or points AWS_EC2_METADATA_SERVICE_ENDPOINT
at a local server, and never sets AWS_CONTAINER_CREDENTIALS_RELATIVE_URI.
"""
import datetime
import http.server
import json
import os
import tempfile
import threading
import unittest
import urllib.error
import urllib.request

from harness import BASE_ENV, run_taskpipe

SECRET = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYSECRETKEY"
TOKEN = "IQoJb3JpZ2luX2VjEXAMPLESESSIONTOKEN"


def expiration(hours=6):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=hours)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ"), int(t.replace(microsecond=0).timestamp() * 1000)


def creds_json(key_id):
    exp, _ = expiration()
    return json.dumps({"Code": "Success", "AccessKeyId": key_id, "SecretAccessKey": SECRET,
                       "Token": TOKEN, "Expiration": exp}).encode()


class FakeServer:
    """A ThreadingHTTPServer on a free 127.0.0.1 port; handler(req) -> (status, body)."""

    def __init__(self, handler):
        self.hits = []
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def _any(self):
                outer.hits.append((self.command, self.path, dict(self.headers)))
                status, body = handler(self)
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_PUT = _any

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.httpd.server_address[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def container_handler(want_auth):
    def handle(req):
        if req.command != "GET" or req.path != "/creds":
            return 404, b"{}"
        if req.headers.get("Authorization") != want_auth:
            return 401, b'{"message":"bad token"}'
        return 200, creds_json("AKIDCONTAINER")
    return handle


class Imds:
    """IMDSv2: PUT a token (TTL header required), then GETs carrying it."""
    IMDS_TOKEN = "imds-session-token-123"

    def __call__(self, req):
        if req.command == "PUT":
            if req.path != "/latest/api/token" or \
                    req.headers.get("X-aws-ec2-metadata-token-ttl-seconds") != "21600":
                return 400, b""
            return 200, self.IMDS_TOKEN.encode()
        if req.headers.get("X-aws-ec2-metadata-token") != self.IMDS_TOKEN:
            return 401, b""
        if req.path == "/latest/meta-data/iam/security-credentials/":
            return 200, b"test-role\n"
        if req.path == "/latest/meta-data/iam/security-credentials/test-role":
            return 200, creds_json("AKIDIMDS")
        return 404, b""


class CredsTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.servers = []

    def tearDown(self):
        for s in self.servers:
            s.stop()
        self.tmp.cleanup()

    def server(self, handler):
        s = FakeServer(handler)
        self.servers.append(s)
        return s

    def file(self, name, text):
        path = os.path.join(self.tmp.name, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def env(self, **extra):
        """No credentials anywhere, IMDS off, debug logging on (to catch leaks)."""
        e = dict(BASE_ENV)
        for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            e.pop(k, None)
        e["HOME"] = self.tmp.name
        e["AWS_EC2_METADATA_DISABLED"] = "true"
        e["TASKPIPE_LOG_LEVEL"] = "TRACE"
        e.update(extra)
        return e

    def run_creds(self, env, ok=True):
        r = run_taskpipe(["debug", "creds"], env, timeout=30)
        for secret in (SECRET, TOKEN, "tok-abc", "file-tok", Imds.IMDS_TOKEN):
            self.assertNotIn(secret, r.stdout)
            self.assertNotIn(secret, r.stderr)
        if ok:
            self.assertEqual(r.returncode, 0, r.stderr)
            return json.loads(r.stdout)
        self.assertNotEqual(r.returncode, 0, r.stdout)
        return r

    def test_env_beats_profile(self):
        creds = self.file("credentials", "[default]\naws_access_key_id = AKIDPROFILE\n"
                                         "aws_secret_access_key = %s\n" % SECRET)
        out = self.run_creds(self.env(AWS_SHARED_CREDENTIALS_FILE=creds, AWS_ACCESS_KEY_ID="AKIDENV",
                                      AWS_SECRET_ACCESS_KEY=SECRET, AWS_SESSION_TOKEN=TOKEN))
        self.assertEqual(out, {"source": "env", "chain": "env", "access_key_id": "AKIDENV", "expires_ms": 0,
                               "has_session_token": True})

    def test_profile_from_files(self):
        creds = self.file("credentials", "# comment\n[default]\naws_access_key_id=AKIDDEFAULT\n"
                                         "aws_secret_access_key=%s\n"
                                         "[ci]\naws_access_key_id = AKIDCI\naws_secret_access_key = %s\n"
                                         "aws_session_token = %s\n" % (SECRET, SECRET, TOKEN))
        config = self.file("config", "[profile conf]\nregion = eu-west-1\n"
                                     "aws_access_key_id = AKIDCONF\naws_secret_access_key = %s\n" % SECRET)
        env = self.env(AWS_SHARED_CREDENTIALS_FILE=creds, AWS_CONFIG_FILE=config)
        out = self.run_creds(env)
        self.assertEqual((out["source"], out["access_key_id"], out["has_session_token"]),
                         ("profile", "AKIDDEFAULT", False))
        out = self.run_creds(dict(env, AWS_PROFILE="ci"))
        self.assertEqual((out["source"], out["access_key_id"], out["has_session_token"]),
                         ("profile", "AKIDCI", True))
        out = self.run_creds(dict(env, AWS_PROFILE="conf"))
        self.assertEqual((out["source"], out["access_key_id"]), ("profile", "AKIDCONF"))
        r = self.run_creds(dict(env, AWS_PROFILE="absent"), ok=False)
        self.assertIn("profile absent: not found in %s or %s" % (creds, config), r.stderr)

    def test_container_token(self):
        srv = self.server(container_handler("tok-abc"))
        env = self.env(AWS_CONTAINER_CREDENTIALS_FULL_URI=srv.url + "/creds",
                       AWS_CONTAINER_AUTHORIZATION_TOKEN="tok-abc")
        out = self.run_creds(env)
        _, exp_ms = expiration()
        self.assertEqual((out["source"], out["access_key_id"], out["has_session_token"]),
                         ("container", "AKIDCONTAINER", True))
        self.assertLess(abs(out["expires_ms"] - exp_ms), 120000)
        self.assertEqual(len(srv.hits), 1)
        self.assertEqual(srv.hits[0][0], "GET")

        # A wrong token: the endpoint answers 401, taskpipe fails clearly.
        r = self.run_creds(dict(env, AWS_CONTAINER_AUTHORIZATION_TOKEN="bad"), ok=False)
        self.assertIn("container: GET %s/creds: HTTP 401" % srv.url, r.stderr)
        self.assertEqual(len(srv.hits), 2)

    def test_container_token_file(self):
        srv = self.server(container_handler("file-tok"))
        tok = self.file("token", "file-tok\n")
        env = self.env(AWS_CONTAINER_CREDENTIALS_FULL_URI=srv.url + "/creds",
                       AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=tok,
                       AWS_CONTAINER_AUTHORIZATION_TOKEN="ignored-when-file-set")
        out = self.run_creds(env)
        self.assertEqual((out["source"], out["access_key_id"]), ("container", "AKIDCONTAINER"))
        self.assertEqual(len(srv.hits), 1)

    def test_container_refuses_remote_http(self):
        r = self.run_creds(self.env(AWS_CONTAINER_CREDENTIALS_FULL_URI="http://10.11.12.13/creds"), ok=False)
        self.assertIn('host "10.11.12.13" not allowed', r.stderr)

    def test_imds_v2(self):
        imds = Imds()
        srv = self.server(imds)
        env = self.env(AWS_EC2_METADATA_SERVICE_ENDPOINT=srv.url + "/")
        del env["AWS_EC2_METADATA_DISABLED"]
        out = self.run_creds(env)
        self.assertEqual((out["source"], out["access_key_id"], out["has_session_token"]),
                         ("imds", "AKIDIMDS", True))
        self.assertGreater(out["expires_ms"], 0)
        calls = [(m, p) for m, p, _ in srv.hits]
        self.assertEqual(calls, [("PUT", "/latest/api/token"),
                                 ("GET", "/latest/meta-data/iam/security-credentials/"),
                                 ("GET", "/latest/meta-data/iam/security-credentials/test-role")])
        for _, _, headers in srv.hits[1:]:
            self.assertEqual(headers.get("X-aws-ec2-metadata-token"), Imds.IMDS_TOKEN)
        # The fake really insists on the token (so the test above means something).
        with self.assertRaises(urllib.error.HTTPError) as cm:
            urllib.request.urlopen(srv.url + "/latest/meta-data/iam/security-credentials/", timeout=5)
        self.assertEqual(cm.exception.code, 401)

    def test_imds_unreachable_is_reported(self):
        srv = self.server(lambda req: (500, b""))
        env = self.env(AWS_EC2_METADATA_SERVICE_ENDPOINT=srv.url)
        del env["AWS_EC2_METADATA_DISABLED"]
        r = self.run_creds(env, ok=False)
        self.assertIn("imds: PUT %s/latest/api/token: HTTP 500" % srv.url, r.stderr)

    def test_nothing_configured(self):
        r = self.run_creds(self.env(), ok=False)
        self.assertIn("no AWS credentials: env: AWS_ACCESS_KEY_ID not set; profile default: not found in "
                      "/nonexistent/credentials or /nonexistent/config; container: not configured; "
                      "imds: disabled", r.stderr)
        self.assertEqual(r.stdout, "")


if __name__ == "__main__":
    unittest.main()
