"""Shared test harness: a moto_server on a free 127.0.0.1 port, boto3 clients
pointed at it (the independent checker), and a runner for the taskpipe binary.

Every test module uses it the same way:

    from harness import Moto, run_taskpipe
    class T(unittest.TestCase):
        @classmethod
        def setUpClass(cls): cls.moto = Moto.shared()
        def test_x(self):
            r = run_taskpipe(["aws", "sqs", "ListQueues", "{}"], self.moto.env())
            sqs = self.moto.client("sqs")

Moto.shared() starts one server per test process and stops it at exit.
Nothing here ever talks to a real AWS endpoint: credentials are fake, the
instance-metadata source is disabled, and every endpoint is 127.0.0.1.
"""
import atexit
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TASKPIPE = os.environ.get("TASKPIPE_BIN", os.path.join(ROOT, "taskpipe"))
REGION = "us-east-1"

# What every child process gets: no real credentials, no metadata service,
# no proxy, no shared config files from the developer's home.
BASE_ENV = {
    "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    "HOME": "/nonexistent",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_REGION": REGION,
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": "/nonexistent/config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/credentials",
    "TASKPIPE_LOG_LEVEL": os.environ.get("TASKPIPE_LOG_LEVEL", "WARN"),
    # A removed pipeline's queue counts as empty on one read (no 60 s settle):
    # suites about deletion finish in one run; test_drain sets its own.
    "TASKPIPE_DRAIN_SETTLE_S": "0",
}
for _k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
    if _k in os.environ:
        BASE_ENV[_k] = os.environ[_k]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=30.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("nothing listening on 127.0.0.1:%d after %.0fs" % (port, timeout))


class Moto:
    """A moto_server process on a free port."""

    _shared = None

    def __init__(self, extra_env=None):
        self.port = free_port()
        self.endpoint = "http://127.0.0.1:%d" % self.port
        env = dict(os.environ)
        env.update(extra_env or {})
        self.log = open(os.path.join(os.environ.get("TMPDIR", "/tmp"), "moto-%d.log" % self.port), "w")
        self.proc = subprocess.Popen(
            ["moto_server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=self.log, stderr=subprocess.STDOUT, env=env)
        wait_port(self.port)
        self.configure()

    def configure(self):
        # Docker is absent: Lambda must not try to run functions in containers.
        self.post("/moto-api/config", {"lambda": {"use_docker": False}})

    @classmethod
    def shared(cls):
        if cls._shared is None:
            cls._shared = cls()
            atexit.register(cls._shared.stop)
        return cls._shared

    def post(self, path, body):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        req = urllib.request.Request(self.endpoint + path, data=data, method="POST")
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.read()

    def reset(self):
        self.post("/moto-api/reset", b"")
        self.configure()

    def env(self, **extra):
        e = dict(BASE_ENV)
        e["AWS_ENDPOINT_URL"] = self.endpoint
        if "AWS_ENDPOINT_URL" not in extra:
            # moto has no S3ObjectStorageMode: it stores a copy whatever it is asked,
            # and its GetFunction never shows Code.ResolvedS3Object, so a REFERENCE
            # function would look fallen back to COPY. Straight to moto, items
            # default to copy; reference is tested through the layer (test_codestore).
            e["TASKPIPE_CODE_STORAGE"] = "copy"
        e.update({k: str(v) for k, v in extra.items()})
        return e

    def client(self, service, endpoint=None):
        import boto3
        return boto3.client(service, region_name=REGION, endpoint_url=endpoint or self.endpoint,
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    def role_arn(self, name="taskpipe-consumer"):
        """An IAM role in moto (Lambda functions need one)."""
        iam = self.client("iam")
        try:
            return iam.get_role(RoleName=name)["Role"]["Arn"]
        except iam.exceptions.NoSuchEntityException:
            doc = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {
                "Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
            return iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(doc))["Role"]["Arn"]

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        self.log.close()


def run_taskpipe(args, env, input=None, timeout=120, binary=None):
    """Run taskpipe; returns CompletedProcess with text stdout/stderr."""
    return subprocess.run([binary or TASKPIPE] + list(args), env=env, input=input,
                          capture_output=True, text=True, timeout=timeout)


def run_json(args, env, **kw):
    r = run_taskpipe(args, env, **kw)
    if r.returncode != 0:
        raise AssertionError("taskpipe %s failed (%d): %s" % (" ".join(args), r.returncode, r.stderr))
    return json.loads(r.stdout)


if __name__ == "__main__":
    m = Moto()
    print(m.endpoint)
    m.stop()
    sys.exit(0)
