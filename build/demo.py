"""The `make demo` scenario (build/demo.sh starts moto and runs this):
the CloudFormation template deployed into moto, the write-up's groups A, B
and C as config items, pipelines made by the controller running as Lambda
`bootstrap` (the packaged zip) through the Runtime API emulator fed with the
config table's stream records, plan, watch, a code rollout, a drift report
and repair, teardown. Only 127.0.0.1 is ever contacted.

    python3 build/demo.py ENDPOINT
"""
import io
import json
import os
import subprocess
import sys
import tempfile
import time
import zipfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from runtime_emulator import RuntimeEmulator, stream_records  # noqa: E402

import boto3  # noqa: E402

ENDPOINT = sys.argv[1]
REGION = "us-east-1"
TASKPIPE = os.path.join(ROOT, "taskpipe")
BASE_ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/nonexistent",
            "AWS_ACCESS_KEY_ID": "demo", "AWS_SECRET_ACCESS_KEY": "demo", "AWS_REGION": REGION,
            "AWS_ENDPOINT_URL": ENDPOINT, "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
            "TASKPIPE_LOG_LEVEL": "ERROR"}


def client(svc):
    return boto3.client(svc, region_name=REGION, endpoint_url=ENDPOINT,
                        aws_access_key_id="demo", aws_secret_access_key="demo")


def say(title):
    print("\n\033[1m== %s\033[0m" % title, flush=True)


def note(text):
    for line in text.strip().splitlines():
        print("   " + line.strip())


def tp(*args, ok=(0,), env=None, show=True):
    """Run the taskpipe CLI, echo the command and its output."""
    print("$ taskpipe " + " ".join(args), flush=True)
    r = subprocess.run([TASKPIPE] + list(args), env=env or CLI_ENV, capture_output=True, text=True, timeout=300)
    if show:
        sys.stdout.write(r.stdout)
        sys.stdout.write(r.stderr)
    if r.returncode not in ok:
        sys.exit("taskpipe %s: exit %d\n%s" % (" ".join(args), r.returncode, r.stderr))
    return r


def code_zip(version):
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w") as z:
        z.writestr(zipfile.ZipInfo("bootstrap", (1980, 1, 1, 0, 0, 0)),
                   "#!/bin/sh\necho consumer %s\n" % version)
    return b.getvalue()


class Stream:
    """Plays the event source mapping: reads new records with GetRecords and
    hands them to the controller as Lambda would ({"Records": [...]})."""

    def __init__(self, table):
        self.ddb, self.streams = client("dynamodb"), client("dynamodbstreams")
        self.arn = self.ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
        self.after = None

    def records(self):
        out, self.after = stream_records(self.streams, self.arn, self.after)
        return out


class Controller:
    """The packaged bootstrap, unpacked as Lambda does (LAMBDA_TASK_ROOT),
    with the environment CloudFormation gave the function."""

    def __init__(self, zip_path, fn_env):
        self.dir = tempfile.mkdtemp(prefix="taskpipe-task-")
        with zipfile.ZipFile(zip_path) as z:
            z.extractall(self.dir)
        os.chmod(os.path.join(self.dir, "bootstrap"), 0o755)
        self.emu = RuntimeEmulator().start()
        env = dict(BASE_ENV)
        env.update(fn_env)
        env.update({"AWS_LAMBDA_RUNTIME_API": self.emu.address, "LAMBDA_TASK_ROOT": self.dir,
                    "AWS_LAMBDA_FUNCTION_NAME": "taskpipe-controller", "AWS_LAMBDA_LOG_FORMAT": "Text",
                    "AWS_LAMBDA_LOG_LEVEL": "WARN"})
        self.log = open(os.path.join(self.dir, "controller.log"), "w+")
        self.proc = subprocess.Popen([os.path.join(self.dir, "bootstrap")], cwd=self.dir, env=env,
                                     stdout=self.log, stderr=self.log)

    def invoke(self, event, what):
        print("-> controller invoke: %s" % what, flush=True)
        rid = self.emu.enqueue(event, timeout_ms=300000)
        res = self.emu.wait_result(rid, 300)
        body = res["body"]
        if isinstance(body, dict) and isinstance(body.get("drift"), dict):
            short = dict(body, drift={"summary": body["drift"].get("summary"), "fixes": [
                {p["pipeline"]: p["fix"]} for p in body["drift"].get("pipelines", []) if p.get("fix")]})
        else:
            short = body
        print("<- %s: %s" % (res["kind"], json.dumps(short)[:1500]), flush=True)
        if res["kind"] != "response":
            self.dump_log()
            sys.exit("controller answered with an error")
        return res["body"]

    def dump_log(self):
        self.log.flush()
        self.log.seek(0)
        print("   controller log:\n" + "".join("   | " + line for line in self.log.readlines()[-15:]))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.emu.stop()
        self.log.close()
        for f in os.listdir(self.dir):
            os.unlink(os.path.join(self.dir, f))
        os.rmdir(self.dir)


def stream_batch(ctl, stream, what):
    recs = stream.records()
    print("   %d stream record(s): %s" % (len(recs), ", ".join(
        "%s %s" % (r["eventName"], r["dynamodb"]["Keys"]["pipeline"]["S"]) for r in recs)))
    body = ctl.invoke({"Records": recs}, what)
    if body.get("batchItemFailures"):
        sys.exit("records failed: %s" % body["batchItemFailures"])


def show_pipelines(prefix):
    lam, sqs = client("lambda"), client("sqs")
    queues = [u.rsplit("/", 1)[1] for u in sqs.list_queues(QueueNamePrefix=prefix).get("QueueUrls", [])]
    print("   queues:    " + (", ".join(sorted(queues)) or "(none)"))
    for f in sorted(lam.list_functions()["Functions"], key=lambda f: f["FunctionName"]):
        if not f["FunctionName"].startswith(prefix):
            continue
        name = f["FunctionName"]
        maps = lam.list_event_source_mappings(FunctionName=name)["EventSourceMappings"]
        conc = [m.get("ScalingConfig", {}).get("MaximumConcurrency") or "-" for m in maps]
        reserved = lam.get_function(FunctionName=name).get("Concurrency", {}).get("ReservedConcurrentExecutions")
        print("   function:  %-6s timeout %-3s code %s  mapping MaximumConcurrency %s%s" % (
            name, f["Timeout"], f["CodeSha256"][:12], conc[0] if conc else "-",
            ", reserved concurrency %s" % reserved if reserved else ""))


def put(ddb, table, name, concurrency, timeout):
    item = {"pipeline": {"S": name}, "concurrency": {"N": str(concurrency)},
            "timeout": {"N": str(timeout)}, "env": {"M": {"GROUP": {"S": name}}}}
    print("   put %s" % json.dumps({"pipeline": name, "concurrency": concurrency, "timeout": timeout,
                                   "env": {"GROUP": name}}))
    ddb.put_item(TableName=table, Item=item)


def main():
    global CLI_ENV
    t0 = time.time()
    cfn, s3, ddb = client("cloudformation"), client("s3"), client("dynamodb")

    say("1. the controller package")
    dist_zip = os.path.join(ROOT, "packaging", "dist", "bootstrap-x86_64.zip")
    if not os.path.exists(dist_zip) or os.path.getmtime(dist_zip) < os.path.getmtime(TASKPIPE):
        # `make package` also builds arm64; the demo needs only x86_64.
        # Same layout as build/package.sh, in a temporary file.
        tmp = tempfile.mkdtemp(prefix="taskpipe-pkg-")
        dist_zip = os.path.join(tmp, "bootstrap-x86_64.zip")
        with zipfile.ZipFile(dist_zip, "w", zipfile.ZIP_DEFLATED) as z:
            for name, src, mode in (("bootstrap", TASKPIPE, 0o755),
                                    ("policy.lua", os.path.join(ROOT, "policies", "policy.lua"), 0o644)):
                info = zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0))
                info.external_attr = (0o100000 | mode) << 16
                with open(src, "rb") as f:
                    z.writestr(info, f.read(), zipfile.ZIP_DEFLATED)
    with zipfile.ZipFile(dist_zip) as z:
        for i in z.infolist():
            print("   %s  %o  %d bytes" % (i.filename, i.external_attr >> 16 & 0o777, i.file_size))
    s3.create_bucket(Bucket="taskpipe-artifacts")
    with open(dist_zip, "rb") as f:
        s3.put_object(Bucket="taskpipe-artifacts", Key="bootstrap-x86_64.zip", Body=f.read())
    print("   uploaded to s3://taskpipe-artifacts/bootstrap-x86_64.zip")
    ctl_zip = tempfile.NamedTemporaryFile(prefix="taskpipe-controller-", suffix=".zip", delete=False)
    with open(dist_zip, "rb") as f:
        ctl_zip.write(f.read())
    ctl_zip.close()
    if not dist_zip.startswith(os.path.join(ROOT, "packaging")):
        os.unlink(dist_zip)
        os.rmdir(os.path.dirname(dist_zip))

    say("2. aws cloudformation deploy packaging/template.yaml (into moto)")
    note("""StreamMapping=false: in AWS the stream -> controller mapping hands batches to the
    function; moto would instead invoke a stand-in and drop the records, so this demo plays
    the mapping's part (GetRecords -> {"Records": [...]} -> the controller's runtime).""")
    with open(os.path.join(ROOT, "packaging", "template.yaml")) as f:
        cfn.create_stack(StackName="taskpipe", TemplateBody=f.read(), Capabilities=["CAPABILITY_IAM"],
                         Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in {
                             "ControllerCodeBucket": "taskpipe-artifacts",
                             "ControllerCodeKey": "bootstrap-x86_64.zip",
                             "StreamMapping": "false"}.items()])
    stack = cfn.describe_stacks(StackName="taskpipe")["Stacks"][0]
    print("   stack %s: %s" % (stack["StackName"], stack["StackStatus"]))
    for r in cfn.list_stack_resources(StackName="taskpipe")["StackResourceSummaries"]:
        if r["LogicalResourceId"]:     # moto lists the Topic's subscription as a nameless row
            print("   %-24s %-32s %s" % (r["LogicalResourceId"], r["ResourceType"], r["PhysicalResourceId"][:70]))
    out = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    fn = client("lambda").get_function(FunctionName=out["ControllerName"])["Configuration"]
    fn_env = {k: str(v) for k, v in fn["Environment"]["Variables"].items()}
    # moto has no code storage modes (GetFunction shows no ResolvedS3Object):
    # a REFERENCE function would look fallen back to COPY on every run
    fn_env["TASKPIPE_CODE_STORAGE"] = "copy"
    print("   controller %s (%s, handler %s), environment:" % (fn["FunctionName"], fn["Runtime"], fn["Handler"]))
    for k in sorted(fn_env):
        print("     %s=%s" % (k, fn_env[k]))
    CLI_ENV = dict(BASE_ENV)
    CLI_ENV.update(fn_env)
    config, bucket, prefix = fn_env["TASKPIPE_CONFIG_TABLE"], fn_env["TASKPIPE_CODE_BUCKET"], fn_env["TASKPIPE_PREFIX"]

    say("3. consumer code v1 into the stack's versioned code bucket")
    note("""(moto's CloudFormation ignores VersioningConfiguration, which the template sets:
    the demo turns versioning on itself)""")
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket=bucket, Key=fn_env["TASKPIPE_CODE_KEY"], Body=code_zip("v1"))
    print("   s3://%s/%s version %s" % (bucket, fn_env["TASKPIPE_CODE_KEY"], v1.get("VersionId")))

    say("4. the controller starts as bootstrap (Runtime API emulator on 127.0.0.1)")
    ctl = Controller(ctl_zip.name, fn_env)
    os.unlink(ctl_zip.name)
    try:
        ctl.emu.wait_next(1, 30)
        print("   runtime is waiting for its first event (pid %d)" % ctl.proc.pid)
        stream = Stream(config)

        say("5. the write-up's task groups: A (limit 2), B (limit 1), C (limit 2)")
        for name, conc in (("A", 2), ("B", 1), ("C", 2)):
            put(ddb, config, name, conc, 20)
        stream_batch(ctl, stream, "DynamoDB stream batch")
        show_pipelines(prefix)
        note("B's limit 1: reserved concurrency 1 (MaximumConcurrency starts at 2); see policies/policy.lua")
        tp("ls")

        say("6. change A: limit 2 -> 5, timeout 20 -> 60; plan shows the diff before the stream arrives")
        put(ddb, config, "A", 5, 60)
        tp("plan", ok=(2,))
        stream_batch(ctl, stream, "DynamoDB stream batch")
        tp("plan", "A")
        show_pipelines(prefix)

        say("7. taskpipe watch: the same flow outside Lambda (B's timeout 20 -> 40)")
        note("""watch follows the stream itself (DescribeTable -> GetShardIterator -> GetRecords) and
        reconciles; --from-start replays the whole stream: level-triggered, only B changes.""")
        put(ddb, config, "B", 1, 40)
        tp("watch", "--from-start", "--once")
        stream.records()    # the controller has seen these through watch already
        show_pipelines(prefix)

        say("8. consumer code v2 uploaded: the S3 -> SNS event rolls it out")
        v2 = s3.put_object(Bucket=bucket, Key=fn_env["TASKPIPE_CODE_KEY"], Body=code_zip("v2"))
        print("   s3://%s/%s version %s" % (bucket, fn_env["TASKPIPE_CODE_KEY"], v2.get("VersionId")))
        s3_event = {"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": REGION,
                                 "eventName": "ObjectCreated:Put",
                                 "s3": {"bucket": {"name": bucket, "arn": "arn:aws:s3:::" + bucket},
                                        "object": {"key": fn_env["TASKPIPE_CODE_KEY"],
                                                   "versionId": v2.get("VersionId") or ""}}}]}
        note("(the notification as S3 -> SNS delivers it; moto ignores the bucket's notification settings)")
        ctl.invoke({"Records": [{"EventSource": "aws:sns", "EventVersion": "1.0",
                                 "Sns": {"TopicArn": out["CodeTopicArn"], "Type": "Notification",
                                         "Subject": "Amazon S3 Notification",
                                         "Message": json.dumps(s3_event)}}]}, "SNS (S3 ObjectCreated)")
        tp("rollout", "status")
        show_pipelines(prefix)

        say("9. drift: changes behind taskpipe's back, with plain AWS calls")
        tp("aws", "lambda", "PUT", "/%s/functions/%sC/configuration" % ("2015-03-31", prefix),
           '{"Timeout": 99}', show=False)
        print("   tp-C timeout set to 99 with `taskpipe aws lambda PUT .../configuration`")
        url = client("sqs").get_queue_url(QueueName=prefix + "B-dlq")["QueueUrl"]
        client("sqs").delete_queue(QueueUrl=url)
        print("   %sB-dlq deleted with boto3" % prefix)
        tp("drift", ok=(2,))
        ctl.invoke({"version": "0", "source": "aws.events", "detail-type": "Scheduled Event",
                    "resources": ["arn:aws:events:us-east-1:123456789012:rule/taskpipe-drift"], "detail": {}},
                   "EventBridge schedule (drift --fix, rollout resume)")
        tp("drift")

        say("10. teardown: delete the items -> the pipelines drain (they go once their queues read empty a minute apart; rm --now deletes at once)")
        for name in ("A", "B", "C"):
            ddb.delete_item(TableName=config, Key={"pipeline": {"S": name}})
        stream_batch(ctl, stream, "DynamoDB stream batch")
        show_pipelines(prefix)
        tp("ls")
    finally:
        ctl.stop()
    print("   controller stopped")
    cfn.delete_stack(StackName="taskpipe")
    stacks = [s["StackName"] for s in cfn.list_stacks()["StackSummaries"] if s["StackStatus"] != "DELETE_COMPLETE"]
    tables = ddb.list_tables()["TableNames"]
    print("   stack deleted; live stacks: %s; tables: %s" % (stacks or "none", tables or "none"))
    if stacks or tables:
        sys.exit("teardown left resources behind")
    print("\n   demo finished in %.0f s" % (time.time() - t0))


CLI_ENV = dict(BASE_ENV)

if __name__ == "__main__":
    main()
