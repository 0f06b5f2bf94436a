"""tests/fault/test_fault_kill.py - kill -9 the real server under write load.

Rounds (bounded count and time): start the server on the same data folder,
run client threads that PUT, multipart-upload (boto3 TransferConfig with a
5 MiB threshold) and DELETE objects of random sizes (1 KiB .. 12 MiB, so
inline and chunked objects both), kill -9 the server at a random moment,
restart it, and check against what the clients saw:

  * every acknowledged write is there, byte-exact (SHA-256 of the body),
    listed, with the right HEAD size;
  * nothing is half-written: every listed key's body is one of the versions
    sent for it (the last acknowledged one, or one still in flight at the
    kill), and its listed size and HEAD size match that body;
  * no request answered with an error before the kill (every error must be
    the connection dropping because of the kill).

Each thread owns its keys and works on one at a time, so for every key the
allowed states after a crash are: the state after its last acknowledged
operation, or the state after any later (unacknowledged) one.

Then: kill -9 in the middle of an UploadPart (body half sent); after restart
the upload is listed with only its acknowledged part, can be completed
(byte-exact) and another one aborted.  Then scrub finds no damaged shard,
`cairn admin gc --grace 0` collects the chunks left by interrupted uploads
(status shows 0 unreferenced chunks) and every object still reads back, also
after a restart.  Last, gc --grace 0 runs in a loop while clients delete
objects and PUT the same bytes again (chunks gc is removing get re-created):
every acknowledged PUT must stay readable.

CAIRN_TEST_SEED fixes the random choices; CAIRN_KILL_ROUNDS the round count.
"""
import hashlib
import http.client
import io
import os
import random
import re
import select
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import botocore
from boto3.s3.transfer import TransferConfig
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from cairn_test import Server, expect_error, run_tests

BUCKET = "faultkill"
KiB, MiB = 1 << 10, 1 << 20
ROUNDS = int(os.environ.get("CAIRN_KILL_ROUNDS", "5"))
THREADS = 4
KEYS_PER_THREAD = 4
SEED = int(os.environ.get("CAIRN_TEST_SEED", str(int(time.time()))))
print("CAIRN_TEST_SEED=%d" % SEED)

ABSENT = ("absent",)
XFER = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB,
                      max_concurrency=2, use_threads=True)


def digest(data):
    return (len(data), hashlib.sha256(data).hexdigest())


def client(srv):
    return srv.client(connect_timeout=5, read_timeout=30)


class Op:
    __slots__ = ("state", "acked", "error", "how")

    def __init__(self, state, how):
        self.state = state   # (size, sha256) or ABSENT
        self.how = how       # "put", "mpu", "delete"
        self.acked = False
        self.error = None


class History:
    """Per-key operations, in the order one thread sent them."""

    def __init__(self):
        self.ops = {}          # key -> [Op]
        self.lock = threading.Lock()

    def add(self, key, op):
        with self.lock:
            self.ops.setdefault(key, []).append(op)

    def allowed(self, key):
        ops = self.ops.get(key, [])
        last = max((i for i, o in enumerate(ops) if o.acked), default=None)
        if last is None:
            return {ABSENT} | {o.state for o in ops}
        return {o.state for o in ops[last:]}

    def settle(self, key, state):
        """After verifying, the state we saw is now the known, durable one."""
        op = Op(state, "observed")
        op.acked = True
        self.ops[key] = [op]


def worker(srv, hist, tid, seed, stop, errors):
    rng = random.Random(seed)
    c = client(srv)
    keys = ["t%d/k%d" % (tid, i) for i in range(KEYS_PER_THREAD)]
    n = 0
    while not stop.is_set() and n < 200:
        n += 1
        key = rng.choice(keys)
        r = rng.random()
        if r < 0.1:
            op = Op(ABSENT, "delete")
            hist.add(key, op)
            fn = lambda: c.delete_object(Bucket=BUCKET, Key=key)
        else:
            # Log-uniform 1 KiB .. 12 MiB (inline below 128 KiB, chunked
            # above), plus more of 5 .. 12 MiB for multipart uploads.
            if rng.random() < 0.15:
                size = rng.randint(5 * MiB, 12 * MiB)
            else:
                size = int(KiB * (12 * 1024) ** rng.random())
            data = os.urandom(size)
            mpu = size >= 5 * MiB and rng.random() < 0.7
            op = Op(digest(data), "mpu" if mpu else "put")
            hist.add(key, op)
            if mpu:
                fn = lambda: c.upload_fileobj(io.BytesIO(data), BUCKET, key, Config=XFER)
            else:
                fn = lambda: c.put_object(Bucket=BUCKET, Key=key, Body=data)
        try:
            fn()
            op.acked = True
        except botocore.exceptions.ClientError as e:
            op.error = e
            if not stop.is_set():
                errors.append("%s %s: %s" % (op.how, key, e))
        except Exception as e:  # the connection went away with the server
            op.error = e
            if not stop.is_set():
                errors.append("%s %s before the kill: %s: %s" % (op.how, key, type(e).__name__, e))
            return


def read_state(c, key):
    """-> (size, sha256) of the body, ABSENT, or ("unreadable", why); and
    the HEAD size."""
    try:
        h = c.head_object(Bucket=BUCKET, Key=key)
    except botocore.exceptions.ClientError as e:
        if e.response["Error"]["Code"] in ("404", "NoSuchKey"):
            try:
                c.get_object(Bucket=BUCKET, Key=key)
            except botocore.exceptions.ClientError as e2:
                assert e2.response["Error"]["Code"] == "NoSuchKey", e2.response
                return ABSENT, None
            raise AssertionError("%s: HEAD says 404 but GET returns a body" % key)
        raise
    try:
        body = c.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    except Exception as e:
        return ("unreadable", "%s: %s" % (type(e).__name__, str(e)[:120])), h["ContentLength"]
    return digest(body), h["ContentLength"]


def list_all(c):
    out = {}
    token = None
    for _ in range(1000):
        kw = {"ContinuationToken": token} if token else {}
        r = c.list_objects_v2(Bucket=BUCKET, MaxKeys=100, **kw)
        for o in r.get("Contents", []):
            assert o["Key"] not in out, "key listed twice: %s" % o["Key"]
            out[o["Key"]] = o["Size"]
        if not r.get("IsTruncated"):
            return out
        token = r["NextContinuationToken"]
    raise AssertionError("listing did not end")


def verify(srv, hist, label):
    """Check every key against its allowed states; settle the history."""
    c = client(srv)
    listed = list_all(c)
    problems = []
    for key in sorted(set(hist.ops) | set(listed)):
        allowed = hist.allowed(key) if key in hist.ops else {ABSENT}
        state, head_size = read_state(c, key)
        if state[0] == "unreadable":
            problems.append("%s: listed=%s, HEAD %s bytes, GET fails: %s" % (
                key, key in listed, head_size, state[1]))
            continue
        if state not in allowed:
            acked = [o for o in hist.ops.get(key, []) if o.acked]
            problems.append("%s: found %s, allowed %s (last acknowledged: %s)" % (
                key, "absent" if state == ABSENT else "%d bytes %s" % state,
                sorted(a[0] for a in allowed if a != ABSENT) + (["absent"] if ABSENT in allowed else []),
                "%s of %s" % (acked[-1].how, acked[-1].state) if acked else "none"))
        if state == ABSENT:
            if key in listed:
                problems.append("%s: listed (%d bytes) but cannot be read" % (key, listed[key]))
        else:
            if key not in listed:
                problems.append("%s: readable (%d bytes) but not listed" % (key, state[0]))
            elif listed[key] != state[0]:
                problems.append("%s: listed size %d, body %d bytes" % (key, listed[key], state[0]))
            if head_size != state[0]:
                problems.append("%s: HEAD size %d, body %d bytes" % (key, head_size, state[0]))
        hist.settle(key, state)
    assert not problems, "[%s]\n  " % label + "\n  ".join(problems)
    return sum(1 for k in hist.ops if hist.ops[k][0].state != ABSENT)


def admin_ok(srv, *args):
    r = srv.admin(*args)
    assert r.returncode == 0, "cairn admin %s: exit %d\n%s\n%s" % (
        " ".join(args), r.returncode, r.stdout, r.stderr)
    return r.stdout


def admin_post(srv, path, query):
    """A SigV4-signed POST to the admin API (as `cairn admin` does)."""
    url = srv.endpoint + path + ("?" + query if query else "")
    req = AWSRequest(method="POST", url=url, data=b"",
                     headers={"x-amz-content-sha256": hashlib.sha256(b"").hexdigest()})
    SigV4Auth(Credentials(srv.key, srv.secret), "s3", "us-east-1").add_auth(req)
    r = urllib.request.Request(url, data=b"", method="POST", headers=dict(req.headers.items()))
    try:
        with urllib.request.urlopen(r, timeout=60) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def unreferenced_chunks(srv):
    out = admin_ok(srv, "status")
    m = re.search(r"chunks (\d+) \((\d+) bytes\), unreferenced (\d+)", out)
    assert m, "unexpected status output: %r" % out
    return int(m.group(1)), int(m.group(3))


class Ctx(Server):
    """The server all three tests share (run_tests prints its log on a
    failure and removes it at the end), plus the clients' history."""

    def __init__(self):
        super().__init__()
        self.srv = self
        self.hist = History()
        client(self).create_bucket(Bucket=BUCKET)


def test_1_kill_during_writes(ctx):
    srv, hist = ctx.srv, ctx.hist
    rng = random.Random(SEED)
    totals = {"acked": 0, "unacked": 0}
    t_all = time.time()
    for rnd in range(ROUNDS):
        t0 = time.time()
        stop = threading.Event()
        errors = []
        threads = [threading.Thread(target=worker, args=(srv, hist, t, rng.getrandbits(32), stop, errors),
                                    daemon=True) for t in range(THREADS)]
        before = {k: len(v) for k, v in hist.ops.items()}
        for t in threads:
            t.start()
        time.sleep(rng.uniform(0.4, 3.0))
        assert srv.proc.poll() is None, "server died on its own:\n" + srv.log()
        stop.set()
        srv.kill()
        for t in threads:
            t.join(timeout=30)
            assert not t.is_alive(), "a client thread hangs after the kill"
        assert not errors, "requests failed before the kill:\n  " + "\n  ".join(errors)
        new_ops = [o for k, v in hist.ops.items() for o in v[before.get(k, 0):]]
        acked = sum(o.acked for o in new_ops)
        totals["acked"] += acked
        totals["unacked"] += len(new_ops) - acked
        srv.start()
        live = verify(srv, hist, "round %d" % rnd)
        kinds = ", ".join("%d %s" % (sum(o.how == h and o.acked for o in new_ops), h)
                          for h in ("put", "mpu", "delete"))
        print("     round %d: %d ops (%d acknowledged: %s; %d cut by the kill), %d objects live, "
              "%.1f s" % (rnd, len(new_ops), acked, kinds, len(new_ops) - acked, live,
                          time.time() - t0))
        if time.time() - t_all > 60 and rnd >= 1:
            print("     stopping after %d rounds (time bound)" % (rnd + 1))
            break
    assert totals["acked"] > 0, "no write was acknowledged in %d rounds" % ROUNDS


def test_2_kill_during_upload_part(ctx):
    srv = ctx.srv
    c = client(srv)
    rng = random.Random(SEED + 1)
    p1 = os.urandom(5 * MiB)
    p2 = os.urandom(8 * MiB + 12345)
    up = c.create_multipart_upload(Bucket=BUCKET, Key="mpu/complete-me")["UploadId"]
    up2 = c.create_multipart_upload(Bucket=BUCKET, Key="mpu/abort-me")["UploadId"]
    e1 = c.upload_part(Bucket=BUCKET, Key="mpu/complete-me", UploadId=up, PartNumber=1, Body=p1)["ETag"]
    e21 = c.upload_part(Bucket=BUCKET, Key="mpu/abort-me", UploadId=up2, PartNumber=1, Body=p1)["ETag"]
    assert e1.strip('"') == hashlib.md5(p1).hexdigest(), e1

    # Send part 2 through a presigned URL by hand: headers and the first
    # 5 MiB of its body, then kill -9 while the server waits for the rest
    # (it has chunked and stored some of it by then).
    signer = srv.client(signature_version="s3v4")

    def start_part(key, upload_id, nbytes):
        url = signer.generate_presigned_url("upload_part", ExpiresIn=600, Params={
            "Bucket": BUCKET, "Key": key, "UploadId": upload_id, "PartNumber": 2})
        u = urllib.parse.urlsplit(url)
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        conn.putrequest("PUT", u.path + "?" + u.query, skip_accept_encoding=True)
        conn.putheader("Content-Length", str(len(p2)))
        conn.endheaders()
        conn.send(p2[:nbytes])
        return conn

    # The same request sent whole works (so the one we cut is a valid one).
    conn = start_part("mpu/abort-me", up2, len(p2))
    resp = conn.getresponse()
    assert resp.status == 200, (resp.status, resp.read())
    assert resp.getheader("ETag").strip('"') == hashlib.md5(p2).hexdigest()
    conn.close()

    conn = start_part("mpu/complete-me", up, 5 * MiB)
    time.sleep(rng.uniform(0.2, 0.6))
    assert srv.proc.poll() is None, "server died on its own:\n" + srv.log()
    assert not select.select([conn.sock], [], [], 0)[0], \
        "the server answered a part whose body is not all there: %r" % conn.sock.recv(500)
    srv.kill()
    conn.close()
    srv.start()

    uploads = {u["UploadId"]: u["Key"] for u in
               c.list_multipart_uploads(Bucket=BUCKET).get("Uploads", [])}
    assert uploads.get(up) == "mpu/complete-me", "upload lost by the kill: %s" % uploads
    assert uploads.get(up2) == "mpu/abort-me", "upload lost by the kill: %s" % uploads
    parts = c.list_parts(Bucket=BUCKET, Key="mpu/complete-me", UploadId=up).get("Parts", [])
    by_no = {p["PartNumber"]: p for p in parts}
    assert 1 in by_no, "acknowledged part 1 lost: %s" % parts
    assert by_no[1]["ETag"] == e1 and by_no[1]["Size"] == len(p1), by_no[1]
    assert 2 not in by_no, "half-received part 2 is listed: %s" % by_no[2]
    assert set(by_no) == {1}, parts

    e2 = c.upload_part(Bucket=BUCKET, Key="mpu/complete-me", UploadId=up, PartNumber=2, Body=p2)["ETag"]
    c.complete_multipart_upload(Bucket=BUCKET, Key="mpu/complete-me", UploadId=up,
                                MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1},
                                                           {"PartNumber": 2, "ETag": e2}]})
    body = c.get_object(Bucket=BUCKET, Key="mpu/complete-me")["Body"].read()
    assert body == p1 + p2, "completed upload reads back wrong (%d bytes)" % len(body)
    op = Op(digest(p1 + p2), "mpu")
    op.acked = True
    ctx.hist.add("mpu/complete-me", op)

    c.abort_multipart_upload(Bucket=BUCKET, Key="mpu/abort-me", UploadId=up2)
    expect_error("NoSuchUpload", c.list_parts, Bucket=BUCKET, Key="mpu/abort-me", UploadId=up2)
    left = [u["UploadId"] for u in c.list_multipart_uploads(Bucket=BUCKET).get("Uploads", [])]
    assert up not in left and up2 not in left, left
    expect_error("NoSuchKey", c.get_object, Bucket=BUCKET, Key="mpu/abort-me")
    assert e21


def test_3_gc_after_crashes(ctx):
    srv, hist = ctx.srv, ctx.hist
    c = client(srv)
    # Uploads interrupted by the kills (boto3 could not abort them) are
    # listed; abort them so their parts become garbage too.
    aborted = 0
    for _ in range(20):
        ups = c.list_multipart_uploads(Bucket=BUCKET).get("Uploads", [])
        if not ups:
            break
        for u in ups:
            c.abort_multipart_upload(Bucket=BUCKET, Key=u["Key"], UploadId=u["UploadId"])
            aborted += 1
    assert not c.list_multipart_uploads(Bucket=BUCKET).get("Uploads"), "uploads left after aborting"
    # kill -9 loses no page cache: every chunk the metadata knows must have
    # all its shards, whole (a torn record would show up here).
    out = admin_ok(srv, "scrub")
    checked = re.search(r"(\d+) shards checked", out)
    bad = re.search(r"(\d+) bad", out)
    lost = re.search(r"(\d+) chunks unrecoverable", out)
    assert checked and bad and lost, "unexpected scrub output: %r" % out
    assert int(checked.group(1)) > 0 and int(bad.group(1)) == 0 and int(lost.group(1)) == 0, \
        "scrub after the kills: %s" % out.strip()
    chunks_before, unref_before = unreferenced_chunks(srv)
    out = admin_ok(srv, "gc", "--grace", "0")
    m = re.search(r"gc done: (\d+) chunks removed \((\d+) bytes\), (\d+) orphan shards removed", out)
    assert m, "unexpected gc output: %r" % out
    removed = int(m.group(1))
    chunks_after, unref_after = unreferenced_chunks(srv)
    print("     aborted %d interrupted uploads; before gc %d chunks (%d unreferenced); %s; after %d chunks" % (
        aborted, chunks_before, unref_before, out.strip(), chunks_after))
    assert unref_after == 0, "status still shows %d unreferenced chunks after gc --grace 0" % unref_after
    assert removed >= unref_before, "gc removed %d chunks, %d were unreferenced" % (removed, unref_before)
    assert chunks_after == chunks_before - removed, (chunks_before, removed, chunks_after)
    verify(srv, hist, "after gc")
    # And after a clean restart, everything is still there.
    srv.restart()
    verify(srv, hist, "after gc and restart")
    assert unreferenced_chunks(srv)[1] == 0


def test_4_gc_races_writes_of_the_same_content(ctx):
    """gc --grace 0 in a loop while clients delete objects and PUT the same
    bytes again: a chunk gc is removing is re-created by a PUT at the same
    moment.  Every acknowledged PUT must stay readable."""
    srv, hist = ctx.srv, ctx.hist
    blobs = [os.urandom(600 * KiB + i) for i in range(2)]
    stop = threading.Event()
    unreadable, errors = [], []

    def writer(tid):
        c = client(srv)
        key = "race/t%d" % tid
        for i in range(10000):
            if stop.is_set() or unreadable:
                return
            data = blobs[(i + tid) % 2]
            for op in (Op(ABSENT, "delete"), Op(digest(data), "put")):
                hist.add(key, op)
                try:
                    if op.how == "delete":
                        c.delete_object(Bucket=BUCKET, Key=key)
                    else:
                        c.put_object(Bucket=BUCKET, Key=key, Body=data)
                    op.acked = True
                except botocore.exceptions.ClientError as e:
                    # A clean refusal (e.g. 503 SlowDown when gc took the
                    # chunk first) is allowed; the key is then absent.
                    if e.response["ResponseMetadata"]["HTTPStatusCode"] < 500:
                        errors.append("%s %s: %s" % (op.how, key, e))
                    break
            if not op.acked or op.how != "put":
                continue
            try:
                body = c.get_object(Bucket=BUCKET, Key=key)["Body"].read()
                ok = body == data
                why = "wrong bytes"
            except Exception as e:
                ok, why = False, "%s: %s" % (type(e).__name__, str(e)[:100])
            if not ok:
                unreadable.append("%s: acknowledged PUT, GET right after: %s" % (key, why))

    threads = [threading.Thread(target=writer, args=(t,), daemon=True) for t in range(6)]
    for t in threads:
        t.start()
    t0, runs = time.time(), 0
    while time.time() - t0 < 10 and not unreadable and not errors:
        # The admin API straight (what `cairn admin gc --grace 0` sends),
        # to run gc as often as possible.
        status, body = admin_post(srv, "/_cairn/admin/gc", "grace=0")
        assert status == 200 and b"chunks_removed" in body, "gc failed: %s %r" % (status, body)
        runs += 1
    stop.set()
    for t in threads:
        t.join(timeout=60)
        assert not t.is_alive(), "a client thread hangs"
    print("     %d gc runs during the writes" % runs)
    assert not errors, errors
    lost = list(unreadable)
    try:
        verify(srv, hist, "after gc raced writes")
    except AssertionError as e:
        lost.append(str(e))
    assert not lost, "ACKNOWLEDGED WRITES LOST (gc deleted shards of a chunk a PUT had " \
                     "just stored):\n  " + "\n  ".join(lost)


run_tests(globals(), setup=Ctx)
