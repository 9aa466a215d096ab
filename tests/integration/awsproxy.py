"""A fault-injecting, request-counting HTTP proxy between taskpipe (or boto3)
and moto_server, for the integration tests. Python 3 standard library only.

Every request is forwarded unchanged (method, request target, headers
including Authorization and Host, body) on a fresh upstream connection, and
the answer is relayed with a Content-Length so the client side keeps its
HTTP/1.1 connection alive. Each request is classified as (service, operation)
the way moto routes it, counted as "service:operation" and logged; rules can
replace the answer with a fault (status, reset, stall, delay, truncate,
garbage) or alter the request before it goes on (corrupt_body).

    proxy = FaultProxy(moto.endpoint).start()     # proxy.endpoint = http://127.0.0.1:PORT
    proxy.add_rule({"match": {"service": "sqs", "operation": "CreateQueue"},
                    "times": 2, "skip": 0, "action": {"status": 429}})
    proxy.add_rule({"match": {"operation": "UpdateFunctionCode", "path_contains": "/functions/f1/"},
                    "times": -1, "action": {"status": 400}})   # path_contains: substring of the path
    proxy.add_rule({"action": {"corrupt_body": True}})   # one byte of the body flipped,
                                                         # log entry gets "corrupted_at"
    ... proxy.counts(), proxy.mutating_counts(), proxy.log(), proxy.reset(), proxy.stop()

The log is the server's record for timing checks (tests judge pacing and
retries from it, never from a stopwatch in the client): each entry has
"time" (request read), "answered" (answer ready to send) and, for a stall or
delay the client gave up on, "client_closed" (when it hung up meanwhile).

Control API on the same port (JSON): GET /__proxy/counts, GET /__proxy/log,
GET /__proxy/rules, GET /__proxy/mutating, POST /__proxy/reset,
POST /__proxy/rules (a rule or a list of rules, appended).

Command line: python3 awsproxy.py --upstream http://127.0.0.1:5000 --port 0
"""
import argparse
import hashlib
import http.client
import http.server
import json
import re
import select
import signal
import socket
import struct
import sys
import threading
import time
import urllib.parse

# Operations whose name starts with one of these change state in AWS.
MUTATING_PREFIXES = ("Create", "Update", "Put", "Delete", "Tag", "Untag", "Set", "Publish",
                     "Add", "Remove", "Send", "Purge", "Start")

ACTIONS = ("status", "reset", "stall", "delay", "truncate", "garbage", "corrupt_body")

# Not forwarded as received: they describe one hop, and the proxy re-frames bodies.
HOP_HEADERS = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te",
               "upgrade", "expect", "content-length", "trailer"}

THROTTLE_BODY = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"})
HTML_500 = ("<!doctype html>\n<html lang=en>\n<title>500 Internal Server Error</title>\n"
            "<h1>Internal Server Error</h1>\n<p>The server encountered an internal error "
            "and was unable to complete your request.</p>\n")


def corrupt(body):
    """(body with one byte flipped, offset) for the corrupt_body action.

    The last ASCII letter changes case, so a JSON or form body stays well formed
    (the server reaches its signature check instead of a parse error); a body
    without letters gets its last byte XOR 0x01; an empty body stays as it is
    (offset None)."""
    if not body:
        return body, None
    i = next((j for j in range(len(body) - 1, -1, -1)
              if 65 <= body[j] <= 90 or 97 <= body[j] <= 122), None)
    flip = 0x20
    if i is None:
        i, flip = len(body) - 1, 0x01
    b = bytearray(body)
    b[i] ^= flip
    return bytes(b), i


def is_mutating(operation):
    return operation.startswith(MUTATING_PREFIXES)


# ---------------------------------------------------------------- classification

_SCOPE = re.compile(r"Credential=[^/,\s]+/[^/]+/[^/]+/([^/]+)/aws4_request")
_QSCOPE = re.compile(r"^[^/]+/[^/]+/[^/]+/([^/]+)/aws4_request$")

_F = r"/\d{4}-\d\d-\d\d/functions/[^/]+"
_ESM = r"/\d{4}-\d\d-\d\d/event-source-mappings"
_LAYER = r"/\d{4}-\d\d-\d\d/layers"
_LAMBDA_ROUTES = [(m, re.compile("^" + p + "/?$"), op) for m, p, op in [
    ("POST", r"/\d{4}-\d\d-\d\d/functions", "CreateFunction"),
    ("GET", r"/\d{4}-\d\d-\d\d/functions", "ListFunctions"),
    ("GET", _F, "GetFunction"),
    ("DELETE", _F, "DeleteFunction"),
    ("GET", _F + "/configuration", "GetFunctionConfiguration"),
    ("PUT", _F + "/configuration", "UpdateFunctionConfiguration"),
    ("PUT", _F + "/code", "UpdateFunctionCode"),
    ("POST", _F + "/invocations", "Invoke"),
    ("POST", _F + "/invoke-async", "InvokeAsync"),
    ("POST", _F + "/versions", "PublishVersion"),
    ("GET", _F + "/versions", "ListVersionsByFunction"),
    ("POST", _F + "/policy", "AddPermission"),
    ("GET", _F + "/policy", "GetPolicy"),
    ("DELETE", _F + "/policy/[^/]+", "RemovePermission"),
    ("POST", _F + "/aliases", "CreateAlias"),
    ("GET", _F + "/aliases", "ListAliases"),
    ("GET", _F + "/aliases/[^/]+", "GetAlias"),
    ("PUT", _F + "/aliases/[^/]+", "UpdateAlias"),
    ("DELETE", _F + "/aliases/[^/]+", "DeleteAlias"),
    ("PUT", _F + "/concurrency", "PutFunctionConcurrency"),
    ("DELETE", _F + "/concurrency", "DeleteFunctionConcurrency"),
    ("GET", _F + "/concurrency", "GetFunctionConcurrency"),
    ("POST", _F + "/url", "CreateFunctionUrlConfig"),
    ("GET", _F + "/url", "GetFunctionUrlConfig"),
    ("PUT", _F + "/url", "UpdateFunctionUrlConfig"),
    ("DELETE", _F + "/url", "DeleteFunctionUrlConfig"),
    ("PUT", _F + "/event-invoke-config", "PutFunctionEventInvokeConfig"),
    ("GET", _F + "/event-invoke-config", "GetFunctionEventInvokeConfig"),
    ("DELETE", _F + "/event-invoke-config", "DeleteFunctionEventInvokeConfig"),
    ("POST", _ESM, "CreateEventSourceMapping"),
    ("GET", _ESM, "ListEventSourceMappings"),
    ("GET", _ESM + "/[^/]+", "GetEventSourceMapping"),
    ("PUT", _ESM + "/[^/]+", "UpdateEventSourceMapping"),
    ("DELETE", _ESM + "/[^/]+", "DeleteEventSourceMapping"),
    ("GET", r"/\d{4}-\d\d-\d\d/tags/[^/]+", "ListTags"),
    ("POST", r"/\d{4}-\d\d-\d\d/tags/[^/]+", "TagResource"),
    ("DELETE", r"/\d{4}-\d\d-\d\d/tags/[^/]+", "UntagResource"),
    ("GET", r"/\d{4}-\d\d-\d\d/account-settings", "GetAccountSettings"),
    ("GET", _LAYER, "ListLayers"),
    ("POST", _LAYER + "/[^/]+/versions", "PublishLayerVersion"),
    ("GET", _LAYER + "/[^/]+/versions", "ListLayerVersions"),
    ("GET", _LAYER + "/[^/]+/versions/[^/]+", "GetLayerVersion"),
    ("DELETE", _LAYER + "/[^/]+/versions/[^/]+", "DeleteLayerVersion"),
]]

# S3 sub-resources on a bucket: query key -> {method: operation}.
_S3_BUCKET_SUB = {
    "versioning": {"GET": "GetBucketVersioning", "PUT": "PutBucketVersioning"},
    "notification": {"GET": "GetBucketNotificationConfiguration",
                     "PUT": "PutBucketNotificationConfiguration"},
    "policy": {"GET": "GetBucketPolicy", "PUT": "PutBucketPolicy", "DELETE": "DeleteBucketPolicy"},
    "tagging": {"GET": "GetBucketTagging", "PUT": "PutBucketTagging", "DELETE": "DeleteBucketTagging"},
    "acl": {"GET": "GetBucketAcl", "PUT": "PutBucketAcl"},
    "cors": {"GET": "GetBucketCors", "PUT": "PutBucketCors", "DELETE": "DeleteBucketCors"},
    "lifecycle": {"GET": "GetBucketLifecycleConfiguration",
                  "PUT": "PutBucketLifecycleConfiguration", "DELETE": "DeleteBucketLifecycle"},
    "encryption": {"GET": "GetBucketEncryption", "PUT": "PutBucketEncryption",
                   "DELETE": "DeleteBucketEncryption"},
    "location": {"GET": "GetBucketLocation"},
    "uploads": {"GET": "ListMultipartUploads"},
    "versions": {"GET": "ListObjectVersions"},
    "delete": {"POST": "DeleteObjects"},
    "website": {"GET": "GetBucketWebsite", "PUT": "PutBucketWebsite", "DELETE": "DeleteBucketWebsite"},
    "publicAccessBlock": {"GET": "GetPublicAccessBlock", "PUT": "PutPublicAccessBlock",
                          "DELETE": "DeletePublicAccessBlock"},
    "ownershipControls": {"GET": "GetBucketOwnershipControls", "PUT": "PutBucketOwnershipControls",
                          "DELETE": "DeleteBucketOwnershipControls"},
}
_S3_OBJECT_SUB = {
    "tagging": {"GET": "GetObjectTagging", "PUT": "PutObjectTagging", "DELETE": "DeleteObjectTagging"},
    "acl": {"GET": "GetObjectAcl", "PUT": "PutObjectAcl"},
    "retention": {"GET": "GetObjectRetention", "PUT": "PutObjectRetention"},
    "legal-hold": {"GET": "GetObjectLegalHold", "PUT": "PutObjectLegalHold"},
    "attributes": {"GET": "GetObjectAttributes"},
}


def _lambda_operation(method, path):
    for m, rx, op in _LAMBDA_ROUTES:
        if m == method and rx.match(path):
            return op
    # "<METHOD> <path template>": the resource name after the collection is generic.
    seg = path.split("/")
    if len(seg) > 3 and seg[3]:
        seg[3] = "{}"
    return "%s %s" % (method, "/".join(seg))


def _s3_operation(method, path, query, headers):
    parts = path.lstrip("/").split("/", 1)
    bucket = parts[0]
    key = parts[1] if len(parts) > 1 else ""
    if not bucket:
        return "ListBuckets" if method == "GET" else "%s s3" % method
    if not key:
        for sub, ops in _S3_BUCKET_SUB.items():
            if sub in query:
                return ops.get(method, "%s s3 ?%s" % (method, sub))
        if method == "GET":
            return "ListObjectsV2" if query.get("list-type") == ["2"] else "ListObjects"
        return {"PUT": "CreateBucket", "HEAD": "HeadBucket",
                "DELETE": "DeleteBucket"}.get(method, "%s s3" % method)
    if "uploads" in query and method == "POST":
        return "CreateMultipartUpload"
    if "uploadId" in query:
        if method == "PUT":
            return "UploadPartCopy" if "x-amz-copy-source" in headers else "UploadPart"
        return {"POST": "CompleteMultipartUpload", "DELETE": "AbortMultipartUpload",
                "GET": "ListParts"}.get(method, "%s s3" % method)
    for sub, ops in _S3_OBJECT_SUB.items():
        if sub in query:
            return ops.get(method, "%s s3 ?%s" % (method, sub))
    if method == "PUT":
        return "CopyObject" if "x-amz-copy-source" in headers else "PutObject"
    return {"GET": "GetObject", "HEAD": "HeadObject", "DELETE": "DeleteObject",
            "POST": "PostObject"}.get(method, "%s s3" % method)


def classify(method, target, headers, body=b""):
    """(service, operation) of one request. headers: any mapping (case ignored)."""
    h = {k.lower(): v for k, v in headers.items()}
    path, _, qs = target.partition("?")
    query = urllib.parse.parse_qs(qs, keep_blank_values=True)
    m = _SCOPE.search(h.get("authorization", ""))
    if m:
        service = m.group(1)
    elif query.get("X-Amz-Credential") and _QSCOPE.match(query["X-Amz-Credential"][0]):
        service = _QSCOPE.match(query["X-Amz-Credential"][0]).group(1)
    elif path.startswith("/moto-api"):
        service = "moto-api"
    else:
        service = "s3"      # moto sends unsigned requests to S3
    amz_target = h.get("x-amz-target", "")
    if service == "dynamodb" and amz_target.startswith("DynamoDBStreams_"):
        service = "dynamodbstreams"
    if amz_target:
        return service, amz_target.rpartition(".")[2]
    action = query.get("Action")
    if not action and "application/x-www-form-urlencoded" in h.get("content-type", "") and body:
        action = urllib.parse.parse_qs(body.decode("utf-8", "replace")).get("Action")
    if action:
        return service, action[0]
    if service == "lambda":
        return service, _lambda_operation(method, path)
    if service == "s3":
        return service, _s3_operation(method, path, query, h)
    return service, "%s %s" % (method, path)


# ---------------------------------------------------------------- rules

def check_rule(rule):
    """A validated copy of a rule dict with defaults filled in; ValueError if malformed."""
    if not isinstance(rule, dict):
        raise ValueError("rule must be an object")
    unknown = set(rule) - {"match", "times", "skip", "action"}
    if unknown:
        raise ValueError("unknown rule keys: %s" % sorted(unknown))
    match = rule.get("match") or {}
    if not isinstance(match, dict) or set(match) - {"service", "operation", "path_contains"}:
        raise ValueError("match may only hold service, operation and path_contains")
    if not isinstance(match.get("path_contains", ""), str):
        raise ValueError("path_contains must be a string")
    times = rule.get("times", 1)
    skip = rule.get("skip", 0)
    if not isinstance(times, int) or times < -1:
        raise ValueError("times must be an integer >= -1")
    if not isinstance(skip, int) or skip < 0:
        raise ValueError("skip must be an integer >= 0")
    action = rule.get("action")
    if not isinstance(action, dict):
        raise ValueError("action must be an object")
    kinds = [k for k in ACTIONS if k in action]
    if len(kinds) != 1:
        raise ValueError("action needs exactly one of %s" % (ACTIONS,))
    kind = kinds[0]
    allowed = {"status": {"body", "headers"}, "corrupt_body": {"rehash"}}.get(kind, set())
    extra = set(action) - {kind} - allowed
    if extra:
        raise ValueError("unexpected keys in %s action: %s" % (kind, sorted(extra)))
    if kind == "status" and not (isinstance(action["status"], int) and 100 <= action["status"] <= 599):
        raise ValueError("status must be an HTTP status code")
    if kind in ("stall", "delay") and not (isinstance(action[kind], (int, float)) and action[kind] >= 0):
        raise ValueError("%s must be a number of seconds" % kind)
    if kind == "corrupt_body" and (action["corrupt_body"] is not True
                                   or not isinstance(action.get("rehash", False), bool)):
        raise ValueError("corrupt_body must be true (rehash: optional boolean)")
    if kind == "garbage" and not isinstance(action["garbage"], str):
        raise ValueError("garbage must be a string")
    return {"match": dict(match), "times": times, "skip": skip, "action": dict(action),
            "kind": kind, "seen": 0, "fired": 0}


def _status_answer(action):
    """(status, headers list, body bytes) for a status action."""
    status = action["status"]
    headers = []
    if status in (400, 429):
        body = THROTTLE_BODY
        headers = [("Content-Type", "application/x-amz-json-1.0"),
                   ("x-amzn-ErrorType", "ThrottlingException"),
                   ("x-amzn-RequestId", "00000000-0000-0000-0000-000000000000")]
    elif status == 500:
        body = HTML_500
        headers = [("Content-Type", "text/html; charset=utf-8")]
    else:
        body = ""
    if "body" in action:
        body = action["body"]
    given = action.get("headers") or {}
    headers = [(k, v) for k, v in headers if k.lower() not in {g.lower() for g in given}]
    headers += [(k, str(v)) for k, v in given.items()]
    return status, headers, body.encode("utf-8")


# ---------------------------------------------------------------- server

class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "awsproxy"
    proxy = None  # set per server subclass

    def log_message(self, fmt, *args):
        if self.proxy.verbose:
            sys.stderr.write("awsproxy: " + (fmt % args) + "\n")

    def setup(self):
        super().setup()
        self.proxy._track(self.connection, True)

    def finish(self):
        try:
            super().finish()
        finally:
            self.proxy._track(self.connection, False)

    def _read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass    # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def _send(self, status, headers, body, reason=None, content_length=None):
        self.send_response_only(status, reason)
        for k, v in headers:
            if k.lower() not in HOP_HEADERS:
                self.send_header(k, v)
        if not (status < 200 or status in (204, 304)):
            self.send_header("Content-Length", str(len(body) if content_length is None
                                                   else content_length))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)
        self.wfile.flush()

    def _dispatch(self):
        try:
            body = self._read_body()
            if self.path.startswith("/__proxy/"):
                self._control(body)
            else:
                self._proxy(body)
        except (BrokenPipeError, ConnectionResetError, socket.timeout, OSError):
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _dispatch

    def _control(self, body):
        p = self.proxy
        what = self.path[len("/__proxy/"):].split("?")[0].strip("/")
        status, out = 200, None
        if self.command == "GET" and what == "counts":
            out = p.counts()
        elif self.command == "GET" and what == "mutating":
            out = p.mutating_counts()
        elif self.command == "GET" and what == "log":
            out = p.log()
        elif self.command == "GET" and what == "rules":
            out = p.rules()
        elif self.command == "POST" and what == "reset":
            p.reset()
            out = {"ok": True}
        elif self.command == "POST" and what == "rules":
            try:
                rules = json.loads(body or b"null")
                p.add_rules(rules if isinstance(rules, list) else [rules])
                out = {"ok": True, "rules": len(p.rules())}
            except ValueError as e:
                status, out = 400, {"error": str(e)}
        else:
            status, out = 404, {"error": "unknown control request %s %s" % (self.command, self.path)}
        self._send(status, [("Content-Type", "application/json")], json.dumps(out).encode())

    def _forward(self, body, replace=None):
        """Send the request upstream on a fresh connection: (status, reason, headers, body).
        replace: {lower-case header name: new value} for headers sent changed."""
        replace = replace or {}
        conn = http.client.HTTPConnection(self.proxy.upstream_host, self.proxy.upstream_port,
                                          timeout=self.proxy.upstream_timeout)
        try:
            conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for k, v in self.headers.items():
                if k.lower() not in HOP_HEADERS:
                    conn.putheader(k, replace.get(k.lower(), v))
            if body or self.command in ("POST", "PUT", "PATCH"):
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body or None)
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, resp.reason, resp.getheaders(), data
        finally:
            conn.close()

    def _hold(self, seconds, entry):
        """Wait `seconds` (less if the proxy stops) before forwarding; note in
        entry["client_closed"] when the client hangs up meanwhile (its timeout,
        as the server sees it)."""
        p = self.proxy
        end = time.monotonic() + seconds
        while not p._stopping.is_set():
            left = end - time.monotonic()
            if left <= 0:
                return
            ready = []
            try:
                ready, _, _ = select.select([self.connection], [], [], min(left, 0.25))
                gone = bool(ready) and self.connection.recv(1, socket.MSG_PEEK) == b""
            except (OSError, ValueError):
                gone = True
            if gone:
                with p._lock:
                    entry["client_closed"] = time.time()
            if ready or gone:     # closed, or bytes we do not read now: just wait
                p._stopping.wait(max(0.0, end - time.monotonic()))
                return

    def _proxy(self, body):
        service, operation = classify(self.command, self.path, self.headers, body)
        entry, rule = self.proxy._record(self.command, self.path, service, operation)
        self._proxy_recorded(body, service, operation, entry, rule)

    def _answer(self, service, operation, body, status, reason, headers, data):
        """Hook for subclasses (awsmodel.py): the upstream answer as relayed."""
        return status, reason, headers, data

    def _proxy_recorded(self, body, service, operation, entry, rule):
        """Apply the rule that fired (or none), forward, relay the answer."""
        p = self.proxy
        kind = rule["kind"] if rule else None
        action = rule["action"] if rule else {}
        if kind == "status":
            status, headers, data = _status_answer(action)
            p._finish(entry, status)
            self._send(status, headers, data)
            return
        if kind == "reset":
            p._finish(entry, None)
            self.close_connection = True
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.rfile.close()      # the makefile holds a reference; both must go for close()
            self.connection.close()
            return
        if kind == "garbage":
            p._finish(entry, None)
            self.close_connection = True
            raw = action["garbage"]
            try:
                raw = raw.encode("latin-1")
            except UnicodeEncodeError:
                raw = raw.encode("utf-8")
            self.wfile.write(raw)
            self.wfile.flush()
            return
        if kind in ("stall", "delay"):
            self._hold(action[kind], entry)
        replace = {}
        if kind == "corrupt_body":
            body, at = corrupt(body)
            with p._lock:
                entry["corrupted_at"] = at
            # rehash: send the corrupted body's SHA-256 as x-amz-content-sha256, as a
            # server hashing what it received would see it (moto trusts the header).
            sent = self.headers.get("x-amz-content-sha256")
            if action.get("rehash") and at is not None and sent \
                    and re.fullmatch(r"[0-9a-f]{64}", sent):
                replace["x-amz-content-sha256"] = hashlib.sha256(body).hexdigest()
        try:
            status, reason, headers, data = self._forward(body, replace)
            status, reason, headers, data = self._answer(service, operation, body, status,
                                                         reason, headers, data)
        except (OSError, http.client.HTTPException) as e:
            p._finish(entry, 502)
            self._send(502, [("Content-Type", "text/plain")], ("awsproxy: upstream: %s\n" % e).encode())
            return
        p._finish(entry, status)
        length = None
        if self.command == "HEAD":  # a HEAD answer announces the GET body's length
            length = next((v for k, v in headers if k.lower() == "content-length"), "0")
        if kind == "truncate":
            self.close_connection = True
            promised = len(data) + max(len(data), 64)
            self._send(status, headers, data[:len(data) // 2], reason, content_length=promised)
            return
        self._send(status, headers, data, reason, content_length=length)


class FaultProxy:
    """A proxy on 127.0.0.1 in front of upstream_endpoint (e.g. moto's http://127.0.0.1:PORT)."""

    handler_class = _Handler    # awsmodel.py substitutes its own

    def __init__(self, upstream_endpoint, port=0, host="127.0.0.1", upstream_timeout=120.0,
                 verbose=False):
        u = urllib.parse.urlsplit(upstream_endpoint)
        if u.scheme != "http" or not u.hostname:
            raise ValueError("upstream must be http://host:port, got %r" % upstream_endpoint)
        self.upstream_host = u.hostname
        self.upstream_port = u.port or 80
        self.upstream_timeout = upstream_timeout
        self.host = host
        self.port = port
        self.verbose = verbose
        self.endpoint = None
        self._lock = threading.Lock()
        self._counts = {}
        self._log = []
        self._rules = []
        self._conns = set()
        self._stopping = threading.Event()
        self._server = None
        self._thread = None

    # -- lifecycle
    def start(self):
        handler = type("Handler", (self.handler_class,), {"proxy": self})
        server_cls = type("Server", (http.server.ThreadingHTTPServer,),
                          {"request_queue_size": 128, "daemon_threads": True})
        self._server = server_cls((self.host, self.port), handler)
        self.port = self._server.server_address[1]
        self.endpoint = "http://%s:%d" % (self.host, self.port)
        self._stopping.clear()
        self._thread = threading.Thread(target=self._server.serve_forever, name="awsproxy",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._server is None:
            return
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            conns = list(self._conns)
        for c in conns:     # wake handler threads idling on keep-alive connections
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(5)
        self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def serve_forever(self):
        self.start()
        self._thread.join()

    # -- state
    def counts(self):
        """{"service:operation": n} for every proxied request since the last reset."""
        with self._lock:
            return dict(self._counts)

    def mutating_counts(self):
        """counts() restricted to operations named with a MUTATING_PREFIXES prefix."""
        return {k: v for k, v in self.counts().items() if is_mutating(k.partition(":")[2])}

    def log(self):
        """[{time, service, operation, method, path, status, fault, answered,
        client_closed}] in arrival order; status is None for reset/garbage and
        while a request is in flight; answered (when the answer was ready, or
        the reset/garbage sent) is missing while in flight; client_closed only
        when the client hung up during a stall or delay."""
        with self._lock:
            return [dict(e) for e in self._log]

    def rules(self):
        with self._lock:
            return [{k: r[k] for k in ("match", "times", "skip", "action", "seen", "fired")}
                    for r in self._rules]

    def reset(self):
        """Forget counts, log and rules."""
        with self._lock:
            self._counts.clear()
            self._log.clear()
            self._rules.clear()

    def add_rule(self, rule):
        self.add_rules([rule])

    def add_rules(self, rules):
        checked = [check_rule(r) for r in rules]   # all or nothing
        with self._lock:
            self._rules.extend(checked)

    # -- used by the handler
    def _track(self, conn, add):
        with self._lock:
            (self._conns.add if add else self._conns.discard)(conn)

    def _record(self, method, path, service, operation):
        """Count and log a request; returns (log entry, the rule that fires or None)."""
        with self._lock:
            key = "%s:%s" % (service, operation)
            self._counts[key] = self._counts.get(key, 0) + 1
            fired = None
            for r in self._rules:
                m = r["match"]
                if m.get("service", service) != service or m.get("operation", operation) != operation:
                    continue
                if m.get("path_contains", "") not in path.split("?")[0]:
                    continue
                r["seen"] += 1
                if r["seen"] <= r["skip"]:
                    continue
                if r["times"] == -1 or r["fired"] < r["times"]:
                    r["fired"] += 1
                    fired = r
                    break
            entry = {"time": time.time(), "service": service, "operation": operation,
                     "method": method, "path": path.split("?")[0], "status": None,
                     "fault": fired["kind"] if fired else None}
            self._log.append(entry)
            return entry, fired

    def _finish(self, entry, status):
        with self._lock:
            entry["status"] = status
            entry["answered"] = time.time()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--upstream", required=True, help="e.g. http://127.0.0.1:5000 (moto_server)")
    ap.add_argument("--port", type=int, default=0, help="listening port on 127.0.0.1 (0: any free)")
    ap.add_argument("--verbose", action="store_true", help="log each request to stderr")
    args = ap.parse_args(argv)
    proxy = FaultProxy(args.upstream, port=args.port, verbose=args.verbose).start()
    print(proxy.endpoint, flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    while not done.wait(1):
        pass
    proxy.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
