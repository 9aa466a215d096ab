"""A Lambda Runtime API emulator on 127.0.0.1, written from the AWS docs
("Using the Lambda runtime API for custom runtimes"), for running the real
taskpipe binary as `bootstrap` in tests. Python 3 standard library only.

    emu = RuntimeEmulator().start()        # emu.address = "127.0.0.1:PORT"
    env["AWS_LAMBDA_RUNTIME_API"] = emu.address
    rid = emu.enqueue({"Records": [...]}, timeout_ms=60000)
    res = emu.wait_result(rid, 60)         # {"kind": "response"|"error", "body", "headers", ...}
    emu.init_errors, emu.next_times, emu.stop()

GET  /2018-06-01/runtime/invocation/next     blocks until an event is queued;
     answers with Lambda-Runtime-Aws-Request-Id, -Deadline-Ms (epoch ms),
     -Invoked-Function-Arn, -Trace-Id.
POST /2018-06-01/runtime/invocation/{id}/response   202
POST /2018-06-01/runtime/invocation/{id}/error      202 (body {"errorMessage","errorType"})
POST /2018-06-01/runtime/init/error                 202
Unknown request ids get 400 InvalidRequestID, as Lambda does. Everything
is recorded for assertions. With watch_pid set, the VmHWM (peak RSS) of
that process is read from /proc when its answer arrives, before replying.
"""
import http.server
import json
import select
import socket
import threading
import time
import uuid

PREFIX = "/2018-06-01/runtime"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:taskpipe"


def stream_records(streams, arn, after=None):
    """Plays the event source mapping: the records of the table's stream after
    sequence number `after` (all when None), shaped as Lambda delivers them
    ({"Records": [...]} items). Returns (records, the last sequence number or
    `after` when there are none)."""
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]
    kw = {"ShardIteratorType": "TRIM_HORIZON"}
    if after:
        kw = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": after}
    it = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"], **kw)["ShardIterator"]
    out = []
    while True:
        r = streams.get_records(ShardIterator=it, Limit=1000)
        if not r["Records"]:
            break
        out += r["Records"]
        it = r["NextShardIterator"]
    for rec in out:     # boto3 parses dates; Lambda's JSON has epoch seconds
        rec["dynamodb"]["ApproximateCreationDateTime"] = int(
            rec["dynamodb"]["ApproximateCreationDateTime"].timestamp())
        rec["eventSourceARN"] = arn
    return out, (out[-1]["dynamodb"]["SequenceNumber"] if out else after)


def vm_hwm_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True   # headers and body go out in two writes: no 40 ms delayed-ACK stall
    emu = None

    def log_message(self, fmt, *args):
        pass

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _send(self, status, body=b"", headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def do_GET(self):
        if self.path != PREFIX + "/invocation/next":
            self._send(404, b'{"errorType":"NotFound"}')
            return
        inv = self.emu._next(self.connection)
        if inv is None:     # stopping, or the client is gone
            self._send(500, b'{"errorType":"Shutdown"}')
            self.close_connection = True
            return
        headers = [("Content-Type", "application/json"),
                   ("Lambda-Runtime-Aws-Request-Id", inv["id"]),
                   ("Lambda-Runtime-Deadline-Ms", str(inv["deadline_ms"])),
                   ("Lambda-Runtime-Invoked-Function-Arn", FUNCTION_ARN),
                   ("Lambda-Runtime-Trace-Id", inv["trace_id"])]
        self._send(200, inv["payload"], headers)

    def do_POST(self):
        body = self._body()
        hdrs = {k.lower(): v for k, v in self.headers.items()}
        if self.path == PREFIX + "/init/error":
            self.emu._record_init_error(body, hdrs)
            self._send(202, b'{"status":"OK"}')
            return
        parts = self.path[len(PREFIX):].strip("/").split("/")
        if (self.path.startswith(PREFIX + "/invocation/") and len(parts) == 3
                and parts[2] in ("response", "error")):
            if self.emu._record_result(parts[1], parts[2], body, hdrs):
                self._send(202, b'{"status":"OK"}')
            else:
                self._send(400, b'{"errorMessage":"unknown request id","errorType":"InvalidRequestID"}')
            return
        self._send(404, b'{"errorType":"NotFound"}')


class RuntimeEmulator:
    def __init__(self, port=0):
        self.port = port
        self.address = None
        self.watch_pid = None
        self.init_errors = []        # [{"body", "headers", "time"}]
        self.next_times = []         # time.time() of every /next arrival
        self.results = {}            # id -> {"kind","body","raw","headers","time","vm_hwm_kb",
        #                                     "delivered","deadline_ms"}: the server's record
        #                                     (time: answer received, delivered: /next handed
        #                                     it out, deadline_ms: the one announced)
        self.invocations = {}        # id -> the queued invocation
        self._queue = []
        self._cv = threading.Condition()
        self._stopping = False
        self._server = None

    def start(self):
        handler = type("H", (_Handler,), {"emu": self})
        # A client gone mid-answer (a killed bootstrap) is normal here: no traceback.
        cls = type("S", (http.server.ThreadingHTTPServer,),
                   {"daemon_threads": True, "handle_error": lambda self, request, addr: None})
        self._server = cls(("127.0.0.1", self.port), handler)
        self.port = self._server.server_address[1]
        self.address = "127.0.0.1:%d" % self.port
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        with self._cv:
            self._stopping = True
            self._cv.notify_all()
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # -- test side
    def enqueue(self, event, timeout_ms=60000, trace_id=None, request_id=None):
        rid = request_id or str(uuid.uuid4())
        payload = event if isinstance(event, bytes) else json.dumps(event).encode()
        inv = {"id": rid, "payload": payload, "deadline_ms": int(time.time() * 1000) + timeout_ms,
               "trace_id": trace_id or "Root=1-%08x-%s;Parent=%s;Sampled=0" % (
                   int(time.time()), uuid.uuid4().hex[:24], uuid.uuid4().hex[:16]),
               "queued": time.time(), "delivered": None}
        with self._cv:
            self.invocations[rid] = inv
            self._queue.append(inv)
            self._cv.notify_all()
        return rid

    def wait_result(self, rid, timeout=120):
        deadline = time.time() + timeout
        with self._cv:
            while rid not in self.results:
                left = deadline - time.time()
                if left <= 0:
                    raise TimeoutError("no answer for invocation %s after %ss" % (rid, timeout))
                self._cv.wait(left)
            return self.results[rid]

    def wait_next(self, count=1, timeout=30):
        """Wait until /next was requested count times; returns next_times."""
        deadline = time.time() + timeout
        with self._cv:
            while len(self.next_times) < count:
                left = deadline - time.time()
                if left <= 0:
                    raise TimeoutError("bootstrap did not ask for /next %d times" % count)
                self._cv.wait(left)
            return list(self.next_times)

    def wait_init_error(self, timeout=30):
        deadline = time.time() + timeout
        with self._cv:
            while not self.init_errors:
                left = deadline - time.time()
                if left <= 0:
                    raise TimeoutError("no /runtime/init/error")
                self._cv.wait(left)
            return self.init_errors[0]

    # -- server side
    def _next(self, conn=None):
        with self._cv:
            self.next_times.append(time.time())
            self._cv.notify_all()
            while not self._queue and not self._stopping:
                self._cv.wait(0.2)
                if conn is not None and _closed(conn):
                    return None     # a killed runtime must not swallow the next event
            if self._stopping:
                return None
            inv = self._queue.pop(0)
            inv["delivered"] = time.time()
            return inv

    def _record_init_error(self, body, headers):
        with self._cv:
            self.init_errors.append({"body": _parse(body), "headers": headers, "time": time.time()})
            self._cv.notify_all()

    def _record_result(self, rid, kind, body, headers):
        hwm = vm_hwm_kb(self.watch_pid) if self.watch_pid else None
        with self._cv:
            if rid not in self.invocations or rid in self.results:
                return False
            inv = self.invocations[rid]
            self.results[rid] = {"kind": kind, "body": _parse(body), "raw": body, "headers": headers,
                                 "time": time.time(), "vm_hwm_kb": hwm, "delivered": inv["delivered"],
                                 "deadline_ms": inv["deadline_ms"]}
            self._cv.notify_all()
            return True


def _closed(conn):
    """True when the peer has closed (or reset) the connection."""
    try:
        r, _, _ = select.select([conn], [], [], 0)
        return bool(r) and conn.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


def _parse(body):
    try:
        return json.loads(body.decode("utf-8"))
    except ValueError:
        return None
