"""TLS through the real (static, BearSSL) binary: `taskpipe debug http`.

A throw-away CA and a server certificate for "localhost" are made with the
openssl CLI in a temp dir (no key is ever committed); `openssl s_server -WWW`
serves a file over TLS 1.2. BearSSL cannot verify IP-address host names, so
every URL uses https://localhost:PORT.
"""
import os
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, HTTPServer
from socketserver import ThreadingMixIn

from harness import BASE_ENV, TASKPIPE, free_port, run_taskpipe, wait_port

FILE_TEXT = "taskpipe tls test file\n"


def openssl(*args, cwd):
    r = subprocess.run(["openssl"] + list(args), cwd=cwd, capture_output=True, text=True)
    if r.returncode != 0:
        raise AssertionError("openssl %s failed: %s" % (" ".join(args), r.stderr))


def make_ca(d, name):
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "2",
            "-keyout", name + ".key", "-out", name + ".pem", "-subj", "/CN=taskpipe test " + name,
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    return os.path.join(d, name + ".pem")


def make_server_cert(d, ca, name, host):
    with open(os.path.join(d, name + ".ext"), "w") as f:
        f.write("subjectAltName=DNS:%s\nbasicConstraints=CA:FALSE\n"
                "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n" % host)
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", name + ".key", "-out", name + ".csr",
            "-subj", "/CN=" + host, cwd=d)
    openssl("x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem", "-CAkey", ca + ".key",
            "-CAcreateserial", "-sha256", "-days", "2", "-extfile", name + ".ext",
            "-out", name + ".pem", cwd=d)
    return os.path.join(d, name + ".pem"), os.path.join(d, name + ".key")


def start_s_server(cert, key, www, log):
    port = free_port()
    proc = subprocess.Popen(
        ["openssl", "s_server", "-accept", "127.0.0.1:%d" % port, "-cert", cert,
         "-key", key, "-WWW", "-quiet"],
        cwd=www, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    wait_port(port, 15)
    return proc, port


class KeepAliveServer(ThreadingMixIn, HTTPServer):
    """HTTP/1.1 over TLS with keep-alive; counts accepted connections."""
    daemon_threads = True
    connections = 0

    def get_request(self):
        conn, addr = super().get_request()
        # Without this, Nagle + the client's delayed ACK add 40 ms per answer.
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        KeepAliveServer.connections += 1
        return conn, addr


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        body = FILE_TEXT.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


class TLSTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # Missing tools are a failure, not a skip.
        if shutil.which("openssl") is None:
            raise AssertionError("openssl CLI not found")
        if not os.access(TASKPIPE, os.X_OK):
            raise AssertionError("taskpipe binary not found at %s (build it or set TASKPIPE_BIN)" % TASKPIPE)
        cls.tmp = tempfile.TemporaryDirectory(prefix="tp-tls-")
        d = cls.tmp.name
        cls.ca = make_ca(d, "ca")
        cls.other_ca = make_ca(d, "other")
        cls.cert, cls.key = make_server_cert(d, os.path.join(d, "ca"), "server", "localhost")
        wrong_cert, wrong_key = make_server_cert(d, os.path.join(d, "ca"), "wrong", "example.invalid")
        cls.www = os.path.join(d, "www")
        os.mkdir(cls.www)
        with open(os.path.join(cls.www, "file.txt"), "w") as f:
            f.write(FILE_TEXT)

        cls.log = open(os.path.join(d, "s_server.log"), "w")
        cls.servers = []
        cls.server, cls.port = start_s_server(cls.cert, cls.key, cls.www, cls.log)
        cls.servers.append(cls.server)
        # Signed by the trusted CA, but for another name.
        srv, cls.wrong_port = start_s_server(wrong_cert, wrong_key, cls.www, cls.log)
        cls.servers.append(srv)
        cls.url = "https://localhost:%d/file.txt" % cls.port

    @classmethod
    def tearDownClass(cls):
        for srv in getattr(cls, "servers", []):
            srv.terminate()
            srv.wait(10)
        if getattr(cls, "log", None):
            cls.log.close()
        if getattr(cls, "tmp", None):
            cls.tmp.cleanup()

    def run_tp(self, args, ca_env):
        env = dict(BASE_ENV)
        if ca_env is not None:
            env["SSL_CERT_FILE"] = ca_env
        return run_taskpipe(["debug", "http"] + args, env, timeout=60)

    def test_trusted_ca(self):
        r = self.run_tp([self.url], self.ca)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("HTTP 200", r.stdout)
        self.assertIn(FILE_TEXT.strip(), r.stdout)

    def test_ca_flag_beats_env(self):
        r = self.run_tp(["--ca", self.ca, self.url], "/nonexistent/ca.pem")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(FILE_TEXT.strip(), r.stdout)

    def test_untrusted_ca(self):
        print()
        for bundle in (self.other_ca, "/etc/ssl/certs/ca-certificates.crt"):
            if not os.path.exists(bundle):
                continue
            r = self.run_tp([self.url], bundle)
            self.assertEqual(r.returncode, 1, "%s: %s" % (bundle, r.stdout))
            self.assertNotIn(FILE_TEXT.strip(), r.stdout)
            self.assertRegex(r.stderr, re.compile(r"certif|X\.?509|trust", re.I))
            print("  untrusted (%s): %s" % (os.path.basename(bundle), r.stderr.strip()))

    def test_wrong_host_name(self):
        # A trusted chain for example.invalid, reached as localhost.
        r = self.run_tp(["https://localhost:%d/file.txt" % self.wrong_port], self.ca)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertNotIn(FILE_TEXT.strip(), r.stdout)
        self.assertRegex(r.stderr, re.compile(r"name|host|subject", re.I))
        print("\n  wrong name: %s" % r.stderr.strip())
        # An IP address: the certificate names localhost only (and BearSSL
        # cannot match IP addresses at all).
        r = self.run_tp(["https://127.0.0.1:%d/file.txt" % self.port], self.ca)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertNotIn(FILE_TEXT.strip(), r.stdout)
        print("  IP address: %s" % r.stderr.strip())

    def test_missing_ca_file(self):
        r = self.run_tp(["--ca", "/nonexistent/ca.pem", self.url], self.ca)
        self.assertEqual(r.returncode, 1)
        self.assertIn("/nonexistent/ca.pem", r.stderr)
        self.assertEqual(r.stdout, "")

    def test_repeat_timing(self):
        # s_server -WWW answers HTTP/1.0 and closes: 10 full handshakes.
        t0 = time.monotonic()
        r = self.run_tp(["--repeat", "10", self.url], self.ca)
        wall = time.monotonic() - t0
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.count("HTTP 200"), 10)
        ms = [int(m) for m in re.findall(r"request \d+/10: HTTP 200, \d+ bytes, (\d+) ms", r.stderr)]
        self.assertEqual(len(ms), 10, r.stderr)
        print("\n  TLS, new connection each time (s_server -WWW), 1-cert CA file: per request %s ms,"
              " total %.0f ms" % (ms, wall * 1000))
        # The same with a system-sized bundle: every new connection parses it.
        system = "/etc/ssl/certs/ca-certificates.crt"
        if os.path.exists(system):
            big = os.path.join(self.tmp.name, "big-bundle.pem")
            with open(big, "w") as out, open(system) as a, open(self.ca) as b:
                out.write(a.read() + b.read())
            t0 = time.monotonic()
            r = self.run_tp(["--repeat", "10", self.url], big)
            wall = time.monotonic() - t0
            self.assertEqual(r.returncode, 0, r.stderr)
            ms = [int(m) for m in re.findall(r"request \d+/10: HTTP 200, \d+ bytes, (\d+) ms", r.stderr)]
            self.assertEqual(len(ms), 10, r.stderr)
            print("  same with the system bundle + test CA: per request %s ms, total %.0f ms"
                  % (ms, wall * 1000))

    def test_keepalive_over_tls(self):
        # An HTTP/1.1 server that keeps connections: 10 requests, 1 handshake.
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, self.key)
        srv = KeepAliveServer(("127.0.0.1", 0), Handler)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
        KeepAliveServer.connections = 0
        th = threading.Thread(target=srv.serve_forever, daemon=True)
        th.start()
        try:
            url = "https://localhost:%d/x" % srv.server_address[1]
            r = self.run_tp(["--repeat", "10", url], self.ca)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout.count(FILE_TEXT.strip()), 10)
            self.assertEqual(KeepAliveServer.connections, 1)
            ms = [int(m) for m in re.findall(r"request \d+/10: HTTP 200, \d+ bytes, (\d+) ms", r.stderr)]
            print("\n  TLS keep-alive: first request (handshake) %s ms, next nine %s ms"
                  % (ms[:1], ms[1:]))
        finally:
            srv.shutdown()
            srv.server_close()


if __name__ == "__main__":
    unittest.main()
