"""A Lambda function runtime for the consumer proxy tests: a plain Runtime API
loop (what a custom runtime or a managed runtime's interface client does),
Python standard library only. Environment:

  HANDLER_LOG       file to append one JSON line per record handled:
                    {"t": time, "id": messageId, "limited": bool}
  HANDLER_MODE      ok (default) | echo (answers {"event": <event>} ) |
                    crash (exits 3 on the first event) | crash_init (exits 4 before /next) |
                    capacity (a tenant that takes HANDLER_CAPACITY records/s, per
                    process; records over it are answered as rateLimited with
                    retryAfterSeconds HANDLER_RETRY_AFTER)
"""
import http.client
import json
import os
import sys
import time

PREFIX = "/2018-06-01/runtime"


def main():
    mode = os.environ.get("HANDLER_MODE", "ok")
    if mode == "crash_init":
        sys.exit(4)
    host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
    conn = http.client.HTTPConnection(host, int(port))
    log = open(os.environ["HANDLER_LOG"], "a") if os.environ.get("HANDLER_LOG") else None
    capacity = float(os.environ.get("HANDLER_CAPACITY", "1"))
    retry_after = float(os.environ.get("HANDLER_RETRY_AFTER", "2"))
    tokens, last = 1.0, time.time()
    while True:
        conn.request("GET", PREFIX + "/invocation/next")
        r = conn.getresponse()
        body = r.read()
        rid = r.getheader("Lambda-Runtime-Aws-Request-Id")
        event = json.loads(body)
        if mode == "crash":
            sys.exit(3)
        now = time.time()
        answer = {"batchItemFailures": []}
        limited = []
        for rec in event.get("Records", []):
            ok = True
            if mode == "capacity":
                tokens = min(1.0, tokens + (now - last) * capacity)
                last = now
                ok = tokens >= 1.0
                if ok:
                    tokens -= 1.0
            if not ok:
                limited.append({"itemIdentifier": rec["messageId"], "retryAfterSeconds": retry_after})
            if log:
                log.write(json.dumps({"t": now, "id": rec["messageId"], "limited": not ok}) + "\n")
                log.flush()
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
