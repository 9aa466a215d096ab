"""Local stand-ins for the credential tests: a recording HTTP server, a
forwarding proxy in front of moto's STS, the IAM Identity Center portal
(GetRoleCredentials) with its OIDC CreateToken, and botocore's own resolver
run on the same files for comparison.

The SSO portal stand-in hands out keys it gets from moto's AssumeRole for a
role named after the account and role, so GetCallerIdentity through moto
tells which identity taskpipe ended up with.
"""
import datetime
import hashlib
import http.client
import http.server
import json
import os
import threading
import urllib.parse
from unittest import mock

# botocore's method names -> taskpipe's `debug creds` source names.
BOTOCORE_TO_TASKPIPE = {
    "env": "env",
    "assume-role": "assume-role",
    "assume-role-with-web-identity": "assume-role-with-web-identity",
    "sso": "sso",
    "shared-credentials-file": "profile",
    "config-file": "profile",
    "custom-process": "custom-process",
    "container-role": "container",
    "iam-role": "imds",
}


def iso(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


class Server:
    """ThreadingHTTPServer on 127.0.0.1; handler(req, body) -> (status, headers dict, body bytes)."""

    def __init__(self, handler):
        self.hits = []
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def _any(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                outer.hits.append((self.command, self.path, dict(self.headers), body))
                status, headers, out = handler(self, body)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(out)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(out)

            do_GET = do_PUT = do_POST = _any

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def forward_to(endpoint, answers=None):
    """A handler passing every request on to endpoint (moto) unchanged;
    answers (a list), when given, gets every answer body in order."""
    u = urllib.parse.urlparse(endpoint)

    def handle(req, body):
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
        headers = {k: v for k, v in req.headers.items() if k.lower() not in ("host", "connection")}
        c.request(req.command, req.path, body=body or None, headers=headers)
        r = c.getresponse()
        out = r.read()
        ct = r.getheader("Content-Type") or "text/xml"
        c.close()
        if answers is not None:
            answers.append(out)
        return r.status, {"Content-Type": ct}, out
    return handle


def form_of(hit):
    return {k: v[0] for k, v in urllib.parse.parse_qs(hit[3].decode()).items()}


class SsoPortal:
    """GetRoleCredentials (GET /federation/credentials) and OIDC CreateToken
    (POST /token). valid_tokens: access tokens the portal accepts;
    refresh: refresh token -> (new access token, expiresIn)."""

    def __init__(self, sts_client, account="111122223333"):
        self.sts = sts_client
        self.valid_tokens = set()
        self.refresh = {}
        self.account = account

    def __call__(self, req, body):
        u = urllib.parse.urlparse(req.path)
        if req.command == "GET" and u.path == "/federation/credentials":
            q = dict(urllib.parse.parse_qsl(u.query))
            if req.headers.get("x-amz-sso_bearer_token") not in self.valid_tokens:
                return 401, {}, b'{"message":"Session token not found or invalid"}'
            role = "arn:aws:iam::%s:role/%s" % (q["account_id"], q["role_name"])
            c = self.sts.assume_role(RoleArn=role, RoleSessionName="sso-" + q["role_name"])["Credentials"]
            exp = int(c["Expiration"].timestamp() * 1000)
            return 200, {"Content-Type": "application/json"}, json.dumps({"roleCredentials": {
                "accessKeyId": c["AccessKeyId"], "secretAccessKey": c["SecretAccessKey"],
                "sessionToken": c["SessionToken"], "expiration": exp}}).encode()
        if req.command == "POST" and u.path == "/token":
            j = json.loads(body)
            if j.get("grantType") != "refresh_token" or j.get("refreshToken") not in self.refresh:
                return 400, {}, b'{"error":"invalid_grant"}'
            tok, expires_in = self.refresh[j["refreshToken"]]
            self.valid_tokens.add(tok)
            return 200, {"Content-Type": "application/json"}, json.dumps({
                "accessToken": tok, "expiresIn": expires_in, "tokenType": "Bearer",
                "refreshToken": j["refreshToken"] + "-next"}).encode()
        return 404, {}, b"{}"


def sso_cache_file(home, key):
    """Where `aws sso login` caches the token: sha1 of the session name
    (sso_session) or of the start URL (legacy)."""
    d = os.path.join(home, ".aws", "sso", "cache")
    os.makedirs(d, exist_ok=True)
    return os.path.join(d, hashlib.sha1(key.encode()).hexdigest() + ".json")


def botocore_choice(env):
    """The source botocore's default resolver picks with env as the whole
    environment: a taskpipe source name, or "error: <exception class>"."""
    import botocore.credentials
    import botocore.session
    with mock.patch.dict(os.environ, env, clear=True):
        try:
            s = botocore.session.Session()
            c = botocore.credentials.create_credential_resolver(s).load_credentials()
        except Exception as ex:  # noqa: BLE001 - the class is the answer
            return "error: " + type(ex).__name__
    if c is None:
        return "none"
    return BOTOCORE_TO_TASKPIPE.get(c.method, c.method)
