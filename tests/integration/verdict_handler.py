"""A function runtime for the metrics tests: each record's body says what
the handler does with it. "fail": listed in batchItemFailures; "limit":
listed in rateLimited (retryAfterSeconds 1); "error" anywhere in the batch:
the whole invocation is answered with /invocation/<id>/error; "crash": the
runtime exits (status 3) holding the invocation; anything else succeeds. Python standard library only."""
import http.client
import json
import os
import sys

PREFIX = "/2018-06-01/runtime"


def main():
    host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
    conn = http.client.HTTPConnection(host, int(port))
    while True:
        conn.request("GET", PREFIX + "/invocation/next")
        r = conn.getresponse()
        event = json.loads(r.read())
        rid = r.getheader("Lambda-Runtime-Aws-Request-Id")
        recs = event.get("Records", [])
        if any(x.get("body") == "crash" for x in recs):
            sys.exit(3)
        if any(x.get("body") == "error" for x in recs):
            path, data = "/invocation/%s/error" % rid, {"errorMessage": "asked to", "errorType": "Verdict"}
        else:
            path = "/invocation/%s/response" % rid
            data = {"batchItemFailures": [{"itemIdentifier": x["messageId"]} for x in recs
                                          if x.get("body") == "fail"],
                    "rateLimited": [{"itemIdentifier": x["messageId"], "retryAfterSeconds": 1} for x in recs
                                    if x.get("body") == "limit"]}
        conn.request("POST", PREFIX + path, body=json.dumps(data).encode(),
                     headers={"Content-Type": "application/json"})
        conn.getresponse().read()


if __name__ == "__main__":
    main()
