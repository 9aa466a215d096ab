"""`make package`: packaging/dist/bootstrap-{x86_64,arm64}.zip,
taskpipe-consumer-{x86_64,arm64}.zip (the consumer layer) and SHA256SUMS.
The zips hold exactly `bootstrap` (static, 0755) and `policy.lua`; the
x86_64 bootstrap runs as a Lambda runtime against the Runtime API emulator
and moto, the arm64 one too, under qemu-aarch64-static; a clean rebuild of
both binaries in another directory gives the same zip bytes as `make
package` (which reuses the tree's build: one rebuild per run, not three)."""
import hashlib
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import unittest
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ROOT, Moto, run_taskpipe  # noqa: E402
from runtime_emulator import RuntimeEmulator  # noqa: E402

DIST = os.path.join(ROOT, "packaging", "dist")
ZIPS = {"x86_64": "bootstrap-x86_64.zip", "arm64": "bootstrap-arm64.zip"}
LAYERS = {"x86_64": "taskpipe-consumer-x86_64.zip", "arm64": "taskpipe-consumer-arm64.zip"}
LAYER_FILES = ["bootstrap", "taskpipe", "taskpipe-wrapper"]
HANDLER = os.path.join(ROOT, "tests", "integration", "consumer_handler.py")
QEMU = shutil.which("qemu-aarch64-static") or shutil.which("qemu-aarch64")


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def make_package():
    r = subprocess.run(["make", "-s", "package"], cwd=ROOT, capture_output=True, text=True, timeout=1800)
    if r.returncode != 0:
        raise AssertionError("make package failed:\n" + r.stdout[-3000:] + r.stderr[-3000:])


class PackageTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        make_package()
        cls.tmp = tempfile.mkdtemp(prefix="tp-package-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        cls.roots = {}
        for arch, name in ZIPS.items():
            d = os.path.join(cls.tmp, arch)
            with zipfile.ZipFile(os.path.join(DIST, name)) as z:
                z.extractall(d)
            os.chmod(os.path.join(d, "bootstrap"), 0o755)   # extractall drops modes
            cls.roots[arch] = d

    def test_zip_layout(self):
        with open(os.path.join(ROOT, "policies", "policy.lua"), "rb") as f:
            policy = f.read()
        for arch, name in ZIPS.items():
            with zipfile.ZipFile(os.path.join(DIST, name)) as z:
                infos = z.infolist()
                self.assertEqual([i.filename for i in infos], ["bootstrap", "policy.lua"], name)
                modes = {i.filename: (i.external_attr >> 16) for i in infos}
                self.assertEqual(stat.S_IMODE(modes["bootstrap"]), 0o755, name)
                self.assertTrue(stat.S_ISREG(modes["bootstrap"]), name)
                self.assertEqual(stat.S_IMODE(modes["policy.lua"]), 0o644, name)
                self.assertEqual(z.read("policy.lua"), policy)
                for i in infos:
                    self.assertEqual(i.date_time, (1980, 1, 1, 0, 0, 0), i.filename)
                    self.assertEqual(i.extra, b"", i.filename)
        with open(os.path.join(DIST, "SHA256SUMS")) as f:
            sums = dict(reversed(line.split()) for line in f if line.strip())
        self.assertEqual(set(sums), set(ZIPS.values()) | set(LAYERS.values()))
        for name, h in sums.items():
            self.assertEqual(sha256(os.path.join(DIST, name)), h, name)

    def test_layer_layout(self):
        """The consumer layer: the static binary and the two scripts, all
        0755 (Lambda unpacks layers under /opt keeping the modes)."""
        for arch, name in LAYERS.items():
            with zipfile.ZipFile(os.path.join(DIST, name)) as z:
                infos = z.infolist()
                self.assertEqual([i.filename for i in infos], LAYER_FILES, name)
                for i in infos:
                    mode = i.external_attr >> 16
                    self.assertTrue(stat.S_ISREG(mode), i.filename)
                    self.assertEqual(stat.S_IMODE(mode), 0o755, "%s %s" % (name, i.filename))
                    self.assertEqual(i.date_time, (1980, 1, 1, 0, 0, 0), i.filename)
                    self.assertEqual(i.extra, b"", i.filename)
                with zipfile.ZipFile(os.path.join(DIST, ZIPS[arch])) as b:
                    self.assertEqual(z.read("taskpipe"), b.read("bootstrap"), "one binary for both")
                boot = z.read("bootstrap").decode()
                self.assertTrue(boot.startswith("#!/bin/sh\n"))
                self.assertIn('exec /opt/taskpipe consume "$LAMBDA_TASK_ROOT/$_HANDLER"', boot)
                wrap = z.read("taskpipe-wrapper").decode()
                self.assertTrue(wrap.startswith("#!/bin/sh\n"))
                self.assertIn('exec /opt/taskpipe consume -- "$@"', wrap)

    def unpack_layer(self, arch):
        """The layer in a directory of its own, /opt in its scripts pointed there."""
        d = os.path.join(self.tmp, "opt-" + arch)
        if not os.path.exists(d):
            with zipfile.ZipFile(os.path.join(DIST, LAYERS[arch])) as z:
                z.extractall(d)
            for f in LAYER_FILES:
                path = os.path.join(d, f)
                if f != "taskpipe":
                    with open(path) as fh:
                        text = fh.read().replace("/opt/", d + "/")
                    with open(path, "w") as fh:
                        fh.write(text)
                os.chmod(path, 0o755)
        return d

    def layer_invoke(self, cmd, env):
        emu = RuntimeEmulator().start()
        self.addCleanup(emu.stop)
        log = os.path.join(self.tmp, "layer-%d.log" % len(os.listdir(self.tmp)))
        env = dict(env, PATH=os.environ["PATH"], AWS_LAMBDA_RUNTIME_API=emu.address, TASKPIPE_RATE="10",
                   HANDLER_LOG=log)
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def stop():
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        self.addCleanup(stop)
        ev = {"Records": [{"messageId": "m1", "receiptHandle": "r1", "eventSourceARN": "arn:aws:sqs:us-east-1:1:q"}]}
        res = emu.wait_result(emu.enqueue(ev), 30)
        self.assertEqual(res["kind"], "response")
        self.assertEqual(res["body"], {"batchItemFailures": []})
        with open(log) as f:
            self.assertIn('"m1"', f.read())

    def test_layer_bootstrap_starts_the_handler(self):
        """provided.*: /opt/bootstrap starts $LAMBDA_TASK_ROOT/$_HANDLER behind the proxy."""
        d = self.unpack_layer("x86_64")
        task = os.path.join(self.tmp, "task")
        os.makedirs(task, exist_ok=True)
        handler = os.path.join(task, "handler")
        with open(HANDLER) as f:
            code = f.read()
        with open(handler, "w") as f:
            f.write("#!%s\n%s" % (sys.executable, code))
        os.chmod(handler, 0o755)
        self.layer_invoke([os.path.join(d, "bootstrap")], {"LAMBDA_TASK_ROOT": task, "_HANDLER": "handler"})

    def test_layer_wrapper_wraps_a_runtime_command(self):
        """Managed runtimes: Lambda runs the wrapper with the runtime's command line."""
        d = self.unpack_layer("x86_64")
        self.layer_invoke([os.path.join(d, "taskpipe-wrapper"), sys.executable, HANDLER], {})

    def test_static_executables(self):
        want = {"x86_64": "x86-64", "arm64": "ARM aarch64"}
        for arch, d in self.roots.items():
            path = os.path.join(d, "bootstrap")
            desc = subprocess.run(["file", "-b", path], capture_output=True, text=True).stdout
            self.assertIn("statically linked", desc, arch)
            self.assertIn(want[arch], desc, arch)
            self.assertNotIn("interpreter", desc, arch)
            self.assertTrue(os.access(path, os.X_OK))

    def test_arm64_version_under_qemu(self):
        self.assertIsNotNone(QEMU, "qemu-aarch64-static missing (make deps installs it)")
        d = self.roots["arm64"]
        env = {"PATH": os.environ["PATH"], "LAMBDA_TASK_ROOT": d}
        # Named bootstrap it is always the runtime: run it under its CLI name.
        cli = os.path.join(self.tmp, "taskpipe-arm64")
        if not os.path.exists(cli):
            os.symlink(os.path.join(d, "bootstrap"), cli)
        r = subprocess.run([QEMU, cli, "version"], env=env,
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"^taskpipe \d+\.\d+\.\d+")
        # The policy.lua shipped next to bootstrap is the one in force.
        self.assertIn(os.path.join(d, "policy.lua"), r.stdout)
        self.assertIn(sha256(os.path.join(d, "policy.lua")), r.stdout)

    def runtime_plan(self, arch, prefix, runner=()):
        """Run the zip's bootstrap as the runtime (LAMBDA_TASK_ROOT = the
        unpacked zip) and answer one direct invoke {"taskpipe":"plan"}."""
        moto = Moto.shared()
        env = moto.env(TASKPIPE_PREFIX=prefix, TASKPIPE_CONFIG_TABLE=prefix + "config",
                       TASKPIPE_STATE_TABLE=prefix + "state", TASKPIPE_CODE_BUCKET="code",
                       TASKPIPE_CODE_KEY="consumer.zip", TASKPIPE_ROLE_ARN=moto.role_arn())
        r = run_taskpipe(["init"], env)
        self.assertEqual(r.returncode, 0, r.stderr)
        moto.client("dynamodb").put_item(TableName=prefix + "config", Item={
            "pipeline": {"S": "p1"}, "concurrency": {"N": "3"}})
        emu = RuntimeEmulator().start()
        self.addCleanup(emu.stop)
        d = self.roots[arch]
        env.update({"AWS_LAMBDA_RUNTIME_API": emu.address, "LAMBDA_TASK_ROOT": d,
                    "AWS_LAMBDA_LOG_FORMAT": "JSON"})
        log = open(os.path.join(self.tmp, arch + "-stderr.log"), "w+")
        self.addCleanup(log.close)
        proc = subprocess.Popen(list(runner) + [os.path.join(d, "bootstrap")], cwd=d, env=env,
                                stdout=subprocess.DEVNULL, stderr=log)

        def stop():
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        self.addCleanup(stop)
        rid = emu.enqueue({"taskpipe": "plan"}, timeout_ms=120000)
        res = emu.wait_result(rid, 120)
        log.seek(0)
        self.assertEqual(res["kind"], "response", log.read())
        self.assertEqual([(p["pipeline"], p["action"]) for p in res["body"]["pipelines"]], [("p1", "create")])
        self.assertEqual(emu.init_errors, [])
        self.assertIsNone(proc.poll(), "the runtime must wait for the next event")
        # plan changes nothing.
        self.assertEqual(moto.client("sqs").list_queues(QueueNamePrefix=prefix).get("QueueUrls", []), [])

    def test_x86_64_bootstrap_runs_as_runtime(self):
        self.runtime_plan("x86_64", "pkx%d-" % (os.getpid() % 10000))

    def test_arm64_bootstrap_runs_as_runtime_under_qemu(self):
        self.assertIsNotNone(QEMU, "qemu-aarch64-static missing (make deps installs it)")
        self.runtime_plan("arm64", "pka%d-" % (os.getpid() % 10000), runner=(QEMU,))

    def test_reproducible(self):
        """One clean rebuild of both binaries from a snapshot of the sources,
        in another directory and packed at another time, gives the same zip
        bytes as `make package` gave in setUpClass."""
        snap = os.path.join(self.tmp, "snapshot")
        os.makedirs(os.path.join(snap, "tests"))
        for d in ("src", "lua", "policies", "build", "packaging"):
            shutil.copytree(os.path.join(ROOT, d), os.path.join(snap, d), ignore=shutil.ignore_patterns("dist"))
        shutil.copytree(os.path.join(ROOT, "tests", "fuzz"), os.path.join(snap, "tests", "fuzz"))
        shutil.copy(os.path.join(ROOT, "Makefile"), snap)
        os.symlink(os.path.join(ROOT, ".deps"), os.path.join(snap, ".deps"))
        build = os.path.join(snap, "rebuild")
        for arch in ("x86_64", "aarch64"):
            r = subprocess.run(["make", "-s", "-j%d" % (os.cpu_count() or 2), "OUT=" + build, "ARCH=" + arch,
                                os.path.join(build, arch, "taskpipe")],
                               cwd=snap, capture_output=True, text=True, timeout=1200)
            self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        dist = os.path.join(snap, "dist-rebuild")
        r = subprocess.run(["sh", "build/package.sh", dist, build], cwd=snap,
                           capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(os.path.join(dist, "SHA256SUMS")) as f:
            rebuilt = f.read()
        with open(os.path.join(DIST, "SHA256SUMS")) as f:
            packaged = f.read()
        self.assertEqual(len(rebuilt.splitlines()), 4)
        for name in list(ZIPS.values()) + list(LAYERS.values()):
            self.assertIn(sha256(os.path.join(dist, name)), rebuilt)
        self.assertEqual(rebuilt, packaged)

if __name__ == "__main__":
    unittest.main()
