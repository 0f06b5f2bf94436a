"""tests/lib/cairn_test.py - helpers for Python integration tests.

Server() starts the real binary ($CAIRN_BIN) on a free loopback port with a
fresh data folder, or uses $CAIRN_TEST_ENDPOINT (with AWS_ACCESS_KEY_ID /
AWS_SECRET_ACCESS_KEY) when set, so the same tests can check any S3 server.
client() returns a boto3 S3 client for it.  Tests use plain asserts and
call run_tests(globals()) at the end, which runs every test_* function,
then checks that the file's server lived through them and stops cleanly
(server_alive_and_stops_cleanly), and prints "N passed, M failed".
bucket_maker() gives a file its new_bucket() for fresh, numbered buckets.  Also here: raw signed requests (raw()),
pure-Python CRC32C / CRC64NVME and S3's base64 checksums (checksum_b64()),
boto3 hooks to add headers an old boto3 cannot send (extra_headers())
or to see what it sends (captured_requests()), and the chunk counts of
`cairn admin status` (chunk_stats()) and a collector run (gc_now()).
"""
import base64
import contextlib
import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.request
import zlib

import http.client
import urllib.parse
import xml.etree.ElementTree as ET

import boto3
import botocore
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

ROOT_KEY = "cairntestroot"
ROOT_SECRET = "cairn-test-root-secret"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Server:
    def __init__(self, *args, data=None, port=None):
        self.external = os.environ.get("CAIRN_TEST_ENDPOINT")
        self.tmp = tempfile.mkdtemp(prefix="cairn-pytest.")
        self.data = data or os.path.join(self.tmp, "data")
        self.port = port or free_port()
        self.args = list(args)
        self.proc = None
        self.log_path = os.path.join(self.tmp, "server.log")
        if self.external:
            self.endpoint = self.external
            self.key = os.environ["AWS_ACCESS_KEY_ID"]
            self.secret = os.environ["AWS_SECRET_ACCESS_KEY"]
        else:
            self.endpoint = "http://127.0.0.1:%d" % self.port
            self.key, self.secret = ROOT_KEY, ROOT_SECRET
            self.start()

    def start(self):
        env = dict(os.environ, CAIRN_ROOT_USER=ROOT_KEY, CAIRN_ROOT_PASSWORD=ROOT_SECRET)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [os.environ["CAIRN_BIN"], "server", "--data", self.data,
             "--listen", "127.0.0.1:%d" % self.port] + self.args,
            stdout=log, stderr=log, env=env)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                urllib.request.urlopen(self.endpoint + "/_cairn/metrics", timeout=1).read()
                return
            except Exception:
                if self.proc.poll() is not None:
                    raise RuntimeError("server exited during start-up:\n" + self.log())
                time.sleep(0.1)
        raise RuntimeError("server did not answer within 10 s")

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            rc = self.proc.wait(timeout=30)
            if sig == signal.SIGTERM:
                assert rc == 0, "server exited with %d after SIGTERM" % rc
        self.proc = None

    def kill(self):
        self.stop(signal.SIGKILL)

    def restart(self):
        self.stop()
        self.start()

    def log(self):
        try:
            with open(self.log_path, "r", errors="replace") as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    def close(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def client(self, key=None, secret=None, **cfg):
        return boto3.client(
            "s3", endpoint_url=self.endpoint, region_name="us-east-1",
            aws_access_key_id=key or self.key, aws_secret_access_key=secret or self.secret,
            config=Config(retries={"max_attempts": 1}, **cfg))

    def admin(self, *args):
        env = dict(os.environ, CAIRN_ROOT_USER=self.key, CAIRN_ROOT_PASSWORD=self.secret)
        return subprocess.run([os.environ["CAIRN_BIN"], "admin"] + list(args) +
                              ["--endpoint", self.endpoint],
                              env=env, capture_output=True, text=True, timeout=600)

    def add_user(self, name):
        """Create a user with `cairn admin user add`; its (access, secret) keys."""
        r = self.admin("user", "add", name)
        assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
        ak = re.search(r"access key:\s*(\S+)", r.stdout)
        sk = re.search(r"secret key:\s*(\S+)", r.stdout)
        assert ak and sk, r.stdout
        return ak.group(1), sk.group(1)


def chunk_stats(srv):
    """(chunks, unreferenced) from `cairn admin status`."""
    p = srv.admin("status")
    assert p.returncode == 0, p.stderr
    m = re.search(r"^chunks (\d+) \(\d+ bytes\), unreferenced (\d+)$", p.stdout, re.M)
    assert m, "cannot parse `cairn admin status`:\n" + p.stdout
    return int(m.group(1)), int(m.group(2))


def gc_now(srv):
    """Run the collector with no grace period; its report."""
    p = srv.admin("gc", "--grace", "0")
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("gc done:"), p.stdout
    return p.stdout


# ---------------------------------------------------------------------------
# Raw requests, for what boto3 will not send (bad signatures, odd headers,
# hand-built bodies).

def header_dict(pairs):
    """Lower-case names; a repeated header's values joined with ", " (as
    botocore does), so a duplicate cannot hide behind the last value."""
    d = {}
    for k, v in pairs:
        k = k.lower()
        d[k] = d[k] + ", " + v if k in d else v
    return d


class RawResponse:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def error(self):
        """The fields of an S3 error body; Code and Message must be there."""
        assert self.body, "no error body (status %d)" % self.status
        root = ET.fromstring(self.body)
        assert root.tag == "Error", self.body[:300]
        e = {c.tag: (c.text or "") for c in root}
        assert e.get("Code") and e.get("Message"), e
        return e

    def __repr__(self):
        return "<%d %r %r>" % (self.status, self.headers, self.body[:400])


class _PayloadAuth(S3SigV4Auth):
    """S3 SigV4 header signer with a chosen x-amz-content-sha256 value."""

    def __init__(self, creds, payload):
        super().__init__(creds, "s3", "us-east-1")
        self._payload = payload

    def payload(self, request):
        if self._payload is not None:
            return self._payload
        return super().payload(request)


def sign_headers(srv, method, target, headers=None, body=b"", payload=None, key=None,
                 secret=None):
    """SigV4 headers for a request to srv; payload overrides the
    x-amz-content-sha256 value (default: the body's hash)."""
    req = AWSRequest(method=method, url=srv.endpoint + target, headers=dict(headers or {}),
                     data=body)
    _PayloadAuth(Credentials(key or srv.key, secret or srv.secret), payload).add_auth(req)
    return dict(req.headers.items())


def host_port(srv):
    u = urllib.parse.urlsplit(srv.endpoint)
    return u.hostname, u.port


def raw(srv, method, target, headers=None, body=b"", payload=None, sign=True, key=None,
        secret=None, timeout=60):
    """One request over http.client; target is the already-encoded path and
    query.  Signed with SigV4 unless sign is False."""
    headers = dict(headers or {})
    if sign:
        headers = sign_headers(srv, method, target, headers, body, payload, key, secret)
    conn = http.client.HTTPConnection(*host_port(srv), timeout=timeout)
    try:
        conn.request(method, target, body=body or None, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        return RawResponse(resp.status, header_dict(resp.getheaders()), data)
    finally:
        conn.close()


def error_code(exc):
    return exc.response["Error"]["Code"]


def expect_error(code, fn, *args, **kw):
    try:
        fn(*args, **kw)
    except botocore.exceptions.ClientError as e:
        got = error_code(e)
        assert got == code, "expected %s, got %s (%s)" % (code, got, e.response["Error"].get("Message"))
        return e
    raise AssertionError("expected error %s, call succeeded" % code)


# ---------------------------------------------------------------------------
# Checksums as S3 sends them (base64 of the big-endian value), in pure
# Python so that every client variant can check the server's answers.

def _crc_table(poly):
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        table.append(c)
    return table


_CRC32C_TABLE = _crc_table(0x82F63B78)
_CRC64NVME_TABLE = _crc_table(0x9A6C9329AC4BC9B5)


def crc32c_int(data):
    c = 0xFFFFFFFF
    t = _CRC32C_TABLE
    for b in data:
        c = t[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def crc64nvme_int(data):
    m = 0xFFFFFFFFFFFFFFFF
    c = m
    t = _CRC64NVME_TABLE
    for b in data:
        c = t[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ m


# The pure-Python CRCs must be right before any server answer is judged by them.
assert crc32c_int(b"123456789") == 0xE3069283
assert crc64nvme_int(b"123456789") == 0xAE8B14860A799888


def b64(raw):
    return base64.b64encode(raw).decode()


def checksum_b64(alg, data):
    alg = alg.lower()
    if alg == "crc32":
        return b64((zlib.crc32(data) & 0xFFFFFFFF).to_bytes(4, "big"))
    if alg == "crc32c":
        return b64(crc32c_int(data).to_bytes(4, "big"))
    if alg == "crc64nvme":
        return b64(crc64nvme_int(data).to_bytes(8, "big"))
    if alg == "sha1":
        return b64(hashlib.sha1(data).digest())
    if alg == "sha256":
        return b64(hashlib.sha256(data).digest())
    raise ValueError(alg)


# ---------------------------------------------------------------------------
# boto3 request hooks

@contextlib.contextmanager
def extra_headers(client, op, headers):
    """Add headers to every `op` request (signed), for parameters an old
    boto3 does not know."""
    def add(request, **kw):
        for k, v in headers.items():
            del request.headers[k]
            request.headers[k] = v
    event = "before-sign.s3.%s" % op
    client.meta.events.register(event, add)
    try:
        yield
    finally:
        client.meta.events.unregister(event, add)


@contextlib.contextmanager
def captured_requests(client, op):
    """Collect the prepared requests boto3 sends for `op`."""
    seen = []

    def grab(request, **kw):
        seen.append(request)
    event = "before-send.s3.%s" % op
    client.meta.events.register(event, grab)
    try:
        yield seen
    finally:
        client.meta.events.unregister(event, grab)


def bucket_maker(prefix, versioning=None):
    """A test file's new_bucket(c, tag[, status], **create_bucket_args):
    creates a fresh bucket named "PREFIX-TAG-N" and returns its name; with
    a status ("Enabled", "Suspended"; default: versioning) its versioning
    is set too."""
    seq = [0]

    def new_bucket(c, tag, status=versioning, **create):
        seq[0] += 1
        name = "%s-%s-%d" % (prefix, tag, seq[0])
        c.create_bucket(Bucket=name, **create)
        if status:
            c.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": status})
        return name
    return new_bucket


def server_alive_and_stops_cleanly(srv):
    """After a file's tests: the server lived through all of them, answers,
    and exits 0 on SIGTERM with no sanitizer report in its log (an ASan
    build exits non-zero on a leak or memory error met by any test)."""
    if srv.external or srv.proc is None:
        return  # another server, or a test left it stopped on purpose
    assert srv.proc.poll() is None, "the server process exited"
    srv.client().list_buckets()
    srv.stop()
    log = open(srv.log_path, errors="replace").read()
    assert "Sanitizer" not in log and "runtime error" not in log, log[-3000:]


def run_tests(namespace, setup=None):
    """Run every test_* function in namespace, then (when setup made a
    Server) server_alive_and_stops_cleanly; print the summary line."""
    tests = sorted((n, f) for n, f in namespace.items() if n.startswith("test_") and callable(f))
    only = os.environ.get("CAIRN_TEST_ONLY")
    passed = failed = 0
    ctx = setup() if setup else None
    print("boto3 %s, botocore %s, python %s" % (boto3.__version__, botocore.__version__,
                                                sys.version.split()[0]))
    if isinstance(ctx, Server):
        tests.append(("zz_server_alive_and_stops_cleanly", server_alive_and_stops_cleanly))
    try:
        for name, fn in tests:
            if only and only not in name:
                continue
            t0 = time.time()
            try:
                fn(ctx) if ctx is not None else fn()
                passed += 1
                print("ok   %s (%.1f s)" % (name, time.time() - t0))
            except Exception:
                failed += 1
                print("FAIL " + name)
                traceback.print_exc()
                if isinstance(ctx, Server):
                    print("--- server log ---\n" + ctx.log())
    finally:
        if isinstance(ctx, Server):
            ctx.close()
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)
