"""A Lambda function runtime for the consumer proxy tests: a plain Runtime API
loop (what a custom runtime or a managed runtime's interface client does),
Python standard library only. Environment:

  HANDLER_LOG       file to append one JSON line per record handled:
                    {"t": time, "id": messageId, "limited": bool, "got": time}
                    (t: when the handler took up the record; got: when it got
                    the event holding it, the start of its sub-batch)
  HANDLER_MODE      ok (default) | echo (answers {"event": <event>} ) |
                    crash (exits 3 on the first event) | crash_init (exits 4 before /next) |
                    raw (plain sockets, one keep-alive connection: the answer
                    {"event": <event>, "pad": 300 KB} goes out chunked after
                    Expect: 100-continue, as curl-based runtime clients may send it) |
                    capacity (a tenant that takes HANDLER_CAPACITY records/s, per
                    process; records over it are answered as rateLimited with
                    retryAfterSeconds HANDLER_RETRY_AFTER)
  HANDLER_TENANT    URL of a tenant API (mode tenant): each record is one GET
                    ?id=<body>; a 429 makes it rateLimited with retryAfterSeconds
                    HANDLER_RETRY_AFTER
  HANDLER_DURATION  seconds each record takes (default 0), one record after
                    another as a sequential handler does
  HANDLER_FAIL      messageIds (comma-separated) answered in batchItemFailures
  HANDLER_JITTER    each record takes HANDLER_DURATION x (1 +- this), drawn
                    uniformly (default 0)
"""
import http.client
import urllib.error
import urllib.parse
import urllib.request
import json
import os
import random
import sys
import time

PREFIX = "/2018-06-01/runtime"


def _read_answer(f):
    """Status line, headers, Content-Length body from a socket file."""
    status = f.readline()
    length = 0
    while True:
        line = f.readline()
        if line in (b"\r\n", b""):
            break
        k, _, v = line.decode().partition(":")
        if k.lower() == "content-length":
            length = int(v)
        if k.lower() == "lambda-runtime-aws-request-id":
            rid = v.strip()
    body = f.read(length) if length else b""
    return int(status.split()[1]), locals().get("rid"), body


def raw_loop():
    import socket
    host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
    s = socket.create_connection((host, int(port)))
    f = s.makefile("rb")
    while True:
        s.sendall(b"GET " + PREFIX.encode() + b"/invocation/next HTTP/1.1\r\nHost: r\r\n\r\n")
        _, rid, body = _read_answer(f)
        data = json.dumps({"event": json.loads(body), "pad": "p" * 300000}).encode()
        s.sendall(("POST %s/invocation/%s/response HTTP/1.1\r\nHost: r\r\nContent-Type: application/json\r\n"
                   "Transfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n" % (PREFIX, rid)).encode())
        cont = f.readline()
        assert cont.startswith(b"HTTP/1.1 100"), cont
        f.readline()
        for i in range(0, len(data), 65536):
            part = data[i:i + 65536]
            s.sendall(b"%x\r\n%s\r\n" % (len(part), part))
        s.sendall(b"0\r\n\r\n")
        status, _, _ = _read_answer(f)
        assert status == 202, status


def main():
    mode = os.environ.get("HANDLER_MODE", "ok")
    if mode == "crash_init":
        sys.exit(4)
    if mode == "raw":
        raw_loop()
    host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
    conn = http.client.HTTPConnection(host, int(port))
    log = open(os.environ["HANDLER_LOG"], "a") if os.environ.get("HANDLER_LOG") else None
    capacity = float(os.environ.get("HANDLER_CAPACITY", "1"))
    retry_after = float(os.environ.get("HANDLER_RETRY_AFTER", "2"))
    tokens, last = 1.0, time.time()
    duration = float(os.environ.get("HANDLER_DURATION", "0"))
    jitter = float(os.environ.get("HANDLER_JITTER", "0"))
    fail = set(filter(None, os.environ.get("HANDLER_FAIL", "").split(",")))
    while True:
        conn.request("GET", PREFIX + "/invocation/next")
        r = conn.getresponse()
        body = r.read()
        got = time.time()
        rid = r.getheader("Lambda-Runtime-Aws-Request-Id")
        event = json.loads(body)
        if mode == "crash":
            sys.exit(3)
        now = time.time()
        answer = {"batchItemFailures": []}
        limited = []
        for rec in event.get("Records", []):
            now = time.time()
            ok = True
            if mode == "tenant":
                url = os.environ["HANDLER_TENANT"] + "?id=" + urllib.parse.quote(rec.get("body", ""))
                try:
                    urllib.request.urlopen(url, timeout=10).read()
                except urllib.error.HTTPError as e:
                    ok = e.code != 429
            if mode == "capacity":
                tokens = min(1.0, tokens + (now - last) * capacity)
                last = now
                ok = tokens >= 1.0
                if ok:
                    tokens -= 1.0
            if not ok:
                limited.append({"itemIdentifier": rec["messageId"], "retryAfterSeconds": retry_after})
            if log:
                log.write(json.dumps({"t": now, "id": rec["messageId"], "body": rec.get("body"),
                                      "limited": not ok, "n": len(event["Records"]), "rid": rid,
                                      "got": got}) + "\n")
                log.flush()
            if duration > 0:
                time.sleep(duration * (1 + random.uniform(-jitter, jitter)))
            if rec["messageId"] in fail:
                answer["batchItemFailures"].append({"itemIdentifier": rec["messageId"]})
        if limited:
            answer["rateLimited"] = limited
        if mode == "echo":
            answer = {"event": event}
        data = json.dumps(answer).encode()
        conn.request("POST", PREFIX + "/invocation/%s/response" % rid, body=data,
                     headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        r.read()


if __name__ == "__main__":
    main()
