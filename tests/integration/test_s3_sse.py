"""Server-side encryption through boto3 (docs/encryption.md).

SSE-S3 (x-amz-server-side-encryption: AES256) round trips: PUT/GET/HEAD
headers, small inline and chunked objects, ranges, bucket default
encryption (Put/Get/DeleteBucketEncryption and its errors), copies
encrypted->plain and plain->encrypted, multipart.  SSE-C round trips and
every error (missing key, wrong key, bad key MD5, a key for an unencrypted
object, copies from an SSE-C source, parts with the wrong key).  That no
plaintext reaches the drives or the metadata (a plain control object shows
the check can fail), that SSE-S3 objects dedup among themselves while an
SSE-C object of the same bytes stores new chunks, the sync extension's
refusal, and the key file rules (made 0600, another key refused, no key
file: SSE-S3 refused, SSE-C still works).
"""
import base64
import hashlib
import os
import random
import re
import shutil
import stat
import subprocess
import tempfile

from cairn_test import Server, bucket_maker, expect_error, raw, run_tests
from test_s3_post import multipart, post

MiB = 1 << 20
KEY_DIR = tempfile.mkdtemp(prefix="cairn-sse-key.")
KEY_FILE = os.path.join(KEY_DIR, "master.key")

new_bucket = bucket_maker("sse")


def data(n, seed):
    return random.Random(seed).randbytes(n) if hasattr(random.Random, "randbytes") else \
        bytes(random.Random(seed).getrandbits(8) for _ in range(n))


def md5q(b):
    return '"%s"' % hashlib.md5(b).hexdigest()


def ckey(seed):
    k = hashlib.sha256(b"customer key %d" % seed).digest()
    return {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": k}


def copy_ckey(seed):
    k = hashlib.sha256(b"customer key %d" % seed).digest()
    return {"CopySourceSSECustomerAlgorithm": "AES256", "CopySourceSSECustomerKey": k}


def ckey_headers(seed, md5=None):
    k = hashlib.sha256(b"customer key %d" % seed).digest()
    return {"x-amz-server-side-encryption-customer-algorithm": "AES256",
            "x-amz-server-side-encryption-customer-key": base64.b64encode(k).decode(),
            "x-amz-server-side-encryption-customer-key-MD5":
                md5 or base64.b64encode(hashlib.md5(k).digest()).decode()}


def chunk_count(srv):
    p = srv.admin("status")
    assert p.returncode == 0, p.stderr
    m = re.search(r"^chunks (\d+) \(\d+ bytes\)", p.stdout, re.M)
    assert m, p.stdout
    return int(m.group(1))


def status_of(e):
    return e.response["ResponseMetadata"]["HTTPStatusCode"]


def test_key_file_made_private(srv):
    st = os.stat(KEY_FILE)
    assert stat.S_IMODE(st.st_mode) == 0o600, oct(st.st_mode)
    assert len(open(KEY_FILE).read().strip()) == 64


def test_sse_s3_put_get_head(srv):
    c = srv.client()
    b = new_bucket(c, "rt")
    for key, body in (("small", data(3000, 1)), ("large", data(3 * MiB + 17, 2)),
                      ("empty", b"")):
        r = c.put_object(Bucket=b, Key=key, Body=body, ServerSideEncryption="AES256")
        assert r.get("ServerSideEncryption") == "AES256", r
        assert r["ETag"] == md5q(body), "an SSE-S3 ETag is the MD5 of the data, as S3"
        g = c.get_object(Bucket=b, Key=key)
        assert g.get("ServerSideEncryption") == "AES256"
        assert g["Body"].read() == body
        h = c.head_object(Bucket=b, Key=key)
        assert h.get("ServerSideEncryption") == "AES256"
        assert h["ContentLength"] == len(body)
    c.put_object(Bucket=b, Key="plain", Body=b"x" * 10)
    assert "ServerSideEncryption" not in c.head_object(Bucket=b, Key="plain")


def test_sse_s3_ranges(srv):
    c = srv.client()
    b = new_bucket(c, "rng")
    body = data(6 * MiB + 333, 3)
    c.put_object(Bucket=b, Key="k", Body=body, ServerSideEncryption="AES256")
    for first, last in ((0, 0), (1, 99), (MiB - 5, MiB + 5), (3 * MiB, 5 * MiB + 1),
                        (len(body) - 10, len(body) - 1)):
        g = c.get_object(Bucket=b, Key="k", Range="bytes=%d-%d" % (first, last))
        assert g["Body"].read() == body[first:last + 1], (first, last)
        assert g["ContentRange"] == "bytes %d-%d/%d" % (first, last, len(body))
    g = c.get_object(Bucket=b, Key="k", Range="bytes=-1000")
    assert g["Body"].read() == body[-1000:]
    small = data(5000, 4)
    c.put_object(Bucket=b, Key="s", Body=small, ServerSideEncryption="AES256")
    g = c.get_object(Bucket=b, Key="s", Range="bytes=100-199")
    assert g["Body"].read() == small[100:200]


def test_kms_and_bad_values_refused(srv):
    c = srv.client()
    b = new_bucket(c, "kms")
    e = expect_error("NotImplemented", c.put_object, Bucket=b, Key="k", Body=b"x",
                     ServerSideEncryption="aws:kms")
    assert status_of(e) == 501
    r = raw(srv, "PUT", "/%s/k" % b, {"x-amz-server-side-encryption": "AES512"}, b"x")
    assert (r.status, r.error()["Code"]) == (400, "InvalidArgument"), r
    both = dict(ckey_headers(1), **{"x-amz-server-side-encryption": "AES256"})
    r = raw(srv, "PUT", "/%s/k" % b, both, b"x")
    assert (r.status, r.error()["Code"]) == (400, "InvalidArgument"), r
    expect_error("NoSuchKey", c.get_object, Bucket=b, Key="k")


def test_bucket_default_encryption(srv):
    c = srv.client()
    b = new_bucket(c, "def")
    e = expect_error("ServerSideEncryptionConfigurationNotFoundError", c.get_bucket_encryption,
                     Bucket=b)
    assert status_of(e) == 404
    cfg = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}
    c.put_bucket_encryption(Bucket=b, ServerSideEncryptionConfiguration=cfg)
    got = c.get_bucket_encryption(Bucket=b)["ServerSideEncryptionConfiguration"]
    assert got["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    body = data(2 * MiB, 5)
    r = c.put_object(Bucket=b, Key="big", Body=body)
    assert r.get("ServerSideEncryption") == "AES256", "the bucket default applies"
    c.put_object(Bucket=b, Key="small", Body=b"hello")
    assert c.head_object(Bucket=b, Key="small").get("ServerSideEncryption") == "AES256"
    assert c.get_object(Bucket=b, Key="big")["Body"].read() == body
    mpu = c.create_multipart_upload(Bucket=b, Key="mpu")
    assert mpu.get("ServerSideEncryption") == "AES256"
    c.abort_multipart_upload(Bucket=b, Key="mpu", UploadId=mpu["UploadId"])
    # errors: KMS is not there, a bad algorithm or body is malformed
    kms = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]}
    expect_error("NotImplemented", c.put_bucket_encryption, Bucket=b,
                 ServerSideEncryptionConfiguration=kms)
    r = raw(srv, "PUT", "/%s?encryption" % b, {}, b"<ServerSideEncryptionConfiguration>"
            b"<Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>DES</SSEAlgorithm>"
            b"</ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>")
    assert (r.status, r.error()["Code"]) == (400, "MalformedXML"), r
    r = raw(srv, "PUT", "/%s?encryption" % b, {}, b"<nope/>")
    assert (r.status, r.error()["Code"]) == (400, "MalformedXML"), r
    expect_error("NoSuchBucket", c.get_bucket_encryption, Bucket="sse-no-such-bucket")
    # still AES256 after the refused writes
    got = c.get_bucket_encryption(Bucket=b)["ServerSideEncryptionConfiguration"]
    assert got["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    c.delete_bucket_encryption(Bucket=b)
    expect_error("ServerSideEncryptionConfigurationNotFoundError", c.get_bucket_encryption,
                 Bucket=b)
    c.put_object(Bucket=b, Key="after", Body=b"plain again")
    assert "ServerSideEncryption" not in c.head_object(Bucket=b, Key="after")
    assert c.head_object(Bucket=b, Key="big").get("ServerSideEncryption") == "AES256"


def test_copy_between_encrypted_and_plain(srv):
    c = srv.client()
    b = new_bucket(c, "cpy")
    enc, plain = data(3 * MiB + 5, 6), data(2 * MiB + 9, 7)
    c.put_object(Bucket=b, Key="enc", Body=enc, ServerSideEncryption="AES256")
    c.put_object(Bucket=b, Key="plain", Body=plain)
    # encrypted -> plain
    r = c.copy_object(Bucket=b, Key="enc-copy", CopySource={"Bucket": b, "Key": "enc"})
    assert "ServerSideEncryption" not in r
    h = c.head_object(Bucket=b, Key="enc-copy")
    assert "ServerSideEncryption" not in h
    assert c.get_object(Bucket=b, Key="enc-copy")["Body"].read() == enc
    # plain -> encrypted
    r = c.copy_object(Bucket=b, Key="plain-copy", CopySource={"Bucket": b, "Key": "plain"},
                      ServerSideEncryption="AES256")
    assert r.get("ServerSideEncryption") == "AES256"
    assert c.head_object(Bucket=b, Key="plain-copy").get("ServerSideEncryption") == "AES256"
    assert c.get_object(Bucket=b, Key="plain-copy")["Body"].read() == plain
    # encrypted -> encrypted shares the chunks
    before = chunk_count(srv)
    c.copy_object(Bucket=b, Key="enc-enc", CopySource={"Bucket": b, "Key": "enc"},
                  ServerSideEncryption="AES256")
    assert chunk_count(srv) == before
    assert c.get_object(Bucket=b, Key="enc-enc")["Body"].read() == enc
    # in place: plain -> encrypted is allowed (it changes the encryption)
    c.copy_object(Bucket=b, Key="plain", CopySource={"Bucket": b, "Key": "plain"},
                  ServerSideEncryption="AES256")
    assert c.head_object(Bucket=b, Key="plain").get("ServerSideEncryption") == "AES256"
    assert c.get_object(Bucket=b, Key="plain")["Body"].read() == plain
    # small inline objects both ways
    c.put_object(Bucket=b, Key="tiny", Body=b"tiny secret", ServerSideEncryption="AES256")
    c.copy_object(Bucket=b, Key="tiny-plain", CopySource={"Bucket": b, "Key": "tiny"})
    assert c.get_object(Bucket=b, Key="tiny-plain")["Body"].read() == b"tiny secret"
    assert "ServerSideEncryption" not in c.head_object(Bucket=b, Key="tiny-plain")


def test_multipart_sse_s3(srv):
    c = srv.client()
    b = new_bucket(c, "mpu")
    p1, p2 = data(5 * MiB, 8), data(MiB + 3, 9)
    u = c.create_multipart_upload(Bucket=b, Key="k", ServerSideEncryption="AES256")
    assert u.get("ServerSideEncryption") == "AES256"
    e1 = c.upload_part(Bucket=b, Key="k", UploadId=u["UploadId"], PartNumber=1, Body=p1)
    assert e1.get("ServerSideEncryption") == "AES256"
    e2 = c.upload_part(Bucket=b, Key="k", UploadId=u["UploadId"], PartNumber=2, Body=p2)
    r = c.complete_multipart_upload(
        Bucket=b, Key="k", UploadId=u["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1["ETag"]},
                                   {"PartNumber": 2, "ETag": e2["ETag"]}]})
    assert r.get("ServerSideEncryption") == "AES256"
    assert c.head_object(Bucket=b, Key="k").get("ServerSideEncryption") == "AES256"
    assert c.get_object(Bucket=b, Key="k")["Body"].read() == p1 + p2
    g = c.get_object(Bucket=b, Key="k", Range="bytes=%d-%d" % (5 * MiB - 10, 5 * MiB + 10))
    assert g["Body"].read() == (p1 + p2)[5 * MiB - 10:5 * MiB + 11]
    assert c.get_object(Bucket=b, Key="k", PartNumber=2)["Body"].read() == p2
    # a part copied from an SSE-C source into this encrypted upload
    c.put_object(Bucket=b, Key="src", Body=p2, **ckey(3))
    u = c.create_multipart_upload(Bucket=b, Key="k2", ServerSideEncryption="AES256")
    pc = c.upload_part_copy(Bucket=b, Key="k2", UploadId=u["UploadId"], PartNumber=1,
                            CopySource={"Bucket": b, "Key": "src"}, **copy_ckey(3))
    c.complete_multipart_upload(
        Bucket=b, Key="k2", UploadId=u["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": pc["CopyPartResult"]["ETag"]}]})
    assert c.get_object(Bucket=b, Key="k2")["Body"].read() == p2


def test_sse_c_round_trips(srv):
    c = srv.client()
    b = new_bucket(c, "ssec")
    md5_1 = base64.b64encode(hashlib.md5(ckey(1)["SSECustomerKey"]).digest()).decode()
    for key, body in (("small", data(2000, 10)), ("large", data(3 * MiB + 1, 11))):
        r = c.put_object(Bucket=b, Key=key, Body=body, **ckey(1))
        assert r.get("SSECustomerAlgorithm") == "AES256", r
        assert r.get("SSECustomerKeyMD5") == md5_1
        assert "ServerSideEncryption" not in r
        g = c.get_object(Bucket=b, Key=key, **ckey(1))
        assert g["Body"].read() == body
        assert g.get("SSECustomerAlgorithm") == "AES256"
        assert g.get("SSECustomerKeyMD5") == md5_1
        h = c.head_object(Bucket=b, Key=key, **ckey(1))
        assert h["ContentLength"] == len(body)
        assert h.get("SSECustomerKeyMD5") == md5_1
        g = c.get_object(Bucket=b, Key=key, Range="bytes=10-1009", **ckey(1))
        assert g["Body"].read() == body[10:1010]
    # copy SSE-C -> SSE-C under another key, and -> plain
    c.copy_object(Bucket=b, Key="rekeyed", CopySource={"Bucket": b, "Key": "large"},
                  **dict(ckey(2), **copy_ckey(1)))
    body = data(3 * MiB + 1, 11)
    assert c.get_object(Bucket=b, Key="rekeyed", **ckey(2))["Body"].read() == body
    c.copy_object(Bucket=b, Key="decrypted", CopySource={"Bucket": b, "Key": "large"},
                  **copy_ckey(1))
    assert c.get_object(Bucket=b, Key="decrypted")["Body"].read() == body
    # multipart under SSE-C: every part with the same key
    u = c.create_multipart_upload(Bucket=b, Key="mpu", **ckey(4))
    assert u.get("SSECustomerAlgorithm") == "AES256"
    p1 = data(5 * MiB, 12)
    e1 = c.upload_part(Bucket=b, Key="mpu", UploadId=u["UploadId"], PartNumber=1, Body=p1,
                       **ckey(4))
    c.complete_multipart_upload(Bucket=b, Key="mpu", UploadId=u["UploadId"],
                                MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1["ETag"]}]})
    assert c.get_object(Bucket=b, Key="mpu", **ckey(4))["Body"].read() == p1


def test_sse_c_errors(srv):
    c = srv.client()
    b = new_bucket(c, "ssecerr")
    body = data(MiB + 7, 13)
    c.put_object(Bucket=b, Key="k", Body=body, **ckey(1))
    c.put_object(Bucket=b, Key="plain", Body=b"plain")
    # no key
    e = expect_error("InvalidRequest", c.get_object, Bucket=b, Key="k")
    assert status_of(e) == 400
    r = raw(srv, "HEAD", "/%s/k" % b)
    assert r.status == 400, r
    # wrong key
    e = expect_error("AccessDenied", c.get_object, Bucket=b, Key="k", **ckey(2))
    assert status_of(e) == 403
    r = raw(srv, "HEAD", "/%s/k" % b, ckey_headers(2))
    assert r.status == 403, r
    # right key through a raw request works (the reference for the next ones)
    r = raw(srv, "GET", "/%s/k" % b, ckey_headers(1))
    assert r.status == 200 and r.body == body
    # a key MD5 that does not match the key
    bad_md5 = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    for method, target, payload in (("GET", "/%s/k" % b, b""), ("PUT", "/%s/new" % b, b"abc")):
        r = raw(srv, method, target, ckey_headers(1, md5=bad_md5), payload)
        assert (r.status, r.error()["Code"]) == (400, "InvalidArgument"), r
        assert "MD5" in r.error()["Message"], r
    # a key that is not 32 bytes
    h = ckey_headers(1)
    h["x-amz-server-side-encryption-customer-key"] = base64.b64encode(b"short").decode()
    h["x-amz-server-side-encryption-customer-key-MD5"] = \
        base64.b64encode(hashlib.md5(b"short").digest()).decode()
    r = raw(srv, "PUT", "/%s/new" % b, h, b"abc")
    assert (r.status, r.error()["Code"]) == (400, "InvalidArgument"), r
    # an algorithm other than AES256
    h = ckey_headers(1)
    h["x-amz-server-side-encryption-customer-algorithm"] = "AES128"
    r = raw(srv, "PUT", "/%s/new" % b, h, b"abc")
    assert (r.status, r.error()["Code"]) == (400, "InvalidEncryptionAlgorithmError"), r
    # key without its MD5
    h = ckey_headers(1)
    del h["x-amz-server-side-encryption-customer-key-MD5"]
    r = raw(srv, "PUT", "/%s/new" % b, h, b"abc")
    assert (r.status, r.error()["Code"]) == (400, "InvalidArgument"), r
    expect_error("NoSuchKey", c.get_object, Bucket=b, Key="new")
    # a key for an unencrypted object
    e = expect_error("InvalidRequest", c.get_object, Bucket=b, Key="plain", **ckey(1))
    assert status_of(e) == 400
    # copies from an SSE-C source need x-amz-copy-source-...-customer-*
    expect_error("InvalidRequest", c.copy_object, Bucket=b, Key="cp",
                 CopySource={"Bucket": b, "Key": "k"})
    expect_error("AccessDenied", c.copy_object, Bucket=b, Key="cp",
                 CopySource={"Bucket": b, "Key": "k"}, **copy_ckey(2))
    c.copy_object(Bucket=b, Key="cp", CopySource={"Bucket": b, "Key": "k"}, **copy_ckey(1))
    assert c.get_object(Bucket=b, Key="cp")["Body"].read() == body
    # UploadPart must carry the upload's key
    u = c.create_multipart_upload(Bucket=b, Key="m", **ckey(5))
    expect_error("InvalidRequest", c.upload_part, Bucket=b, Key="m", UploadId=u["UploadId"],
                 PartNumber=1, Body=b"x")
    expect_error("AccessDenied", c.upload_part, Bucket=b, Key="m", UploadId=u["UploadId"],
                 PartNumber=1, Body=b"x", **ckey(6))
    u2 = c.create_multipart_upload(Bucket=b, Key="m2")
    expect_error("InvalidRequest", c.upload_part, Bucket=b, Key="m2", UploadId=u2["UploadId"],
                 PartNumber=1, Body=b"x", **ckey(6))
    c.upload_part(Bucket=b, Key="m", UploadId=u["UploadId"], PartNumber=1, Body=b"x", **ckey(5))


def all_bytes(root):
    out = []
    for d, _, files in os.walk(root):
        for f in files:
            with open(os.path.join(d, f), "rb") as fh:
                out.append(fh.read())
    return b"\0".join(out)


def test_no_plaintext_on_disk(srv):
    c = srv.client()
    b = new_bucket(c, "disk")
    objs = {  # key: (body, extra args, encrypted)
        "enc-large": (data(3 * MiB, 101), {"ServerSideEncryption": "AES256"}, True),
        "enc-small": (data(6000, 102), {"ServerSideEncryption": "AES256"}, True),
        "ssec-large": (data(2 * MiB, 103), ckey(7), True),
        "ssec-small": (data(7000, 104), ckey(7), True),
        "plain-large": (data(2 * MiB, 105), {}, False),
        "plain-small": (data(5000, 106), {}, False),
    }
    for k, (body, extra, _) in objs.items():
        c.put_object(Bucket=b, Key=k, Body=body, **extra)
    # a multipart SSE-S3 object too
    mp = data(5 * MiB, 107)
    u = c.create_multipart_upload(Bucket=b, Key="enc-mpu", ServerSideEncryption="AES256")
    e = c.upload_part(Bucket=b, Key="enc-mpu", UploadId=u["UploadId"], PartNumber=1, Body=mp)
    c.complete_multipart_upload(Bucket=b, Key="enc-mpu", UploadId=u["UploadId"],
                                MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e["ETag"]}]})
    objs["enc-mpu"] = (mp, {}, True)
    disk = all_bytes(srv.data)
    for k, (body, _, encrypted) in objs.items():
        # 32 bytes well inside the first data shard of the first chunk
        for off in (4096, 1000):
            marker = body[off:off + 32]
            found = marker in disk
            assert found != encrypted, "%s: plaintext %s on disk" % (
                k, "found" if found else "not found")
    for k, (body, extra, encrypted) in objs.items():
        if k.startswith("ssec"):
            extra = ckey(7)
        elif k != "enc-mpu":
            extra = {}
        assert c.get_object(Bucket=b, Key=k, **extra)["Body"].read() == body


def test_dedup_within_domain_only(srv):
    c = srv.client()
    b = new_bucket(c, "dedup")
    body = data(4 * MiB, 200)
    c.put_object(Bucket=b, Key="a", Body=body, ServerSideEncryption="AES256")
    n = chunk_count(srv)
    c.put_object(Bucket=b, Key="b", Body=body, ServerSideEncryption="AES256")
    assert chunk_count(srv) == n, "two SSE-S3 objects of the same bytes share their chunks"
    c.put_object(Bucket=b, Key="c", Body=body, **ckey(8))
    n_c = chunk_count(srv)
    assert n_c > n, "an SSE-C object stores its own chunks"
    c.put_object(Bucket=b, Key="d", Body=body, **ckey(8))
    assert chunk_count(srv) == n_c, "the same customer key dedups"
    c.put_object(Bucket=b, Key="e", Body=body, **ckey(9))
    assert chunk_count(srv) > n_c, "another customer key is another domain"
    c.put_object(Bucket=b, Key="p", Body=body)
    assert chunk_count(srv) > n_c, "plaintext chunks are another domain too"
    for k, extra in (("a", {}), ("b", {}), ("c", ckey(8)), ("d", ckey(8)), ("e", ckey(9))):
        assert c.get_object(Bucket=b, Key=k, **extra)["Body"].read() == body


def test_sync_refused_on_encrypted_bucket(srv):
    c = srv.client()
    b = new_bucket(c, "sync")
    cfg = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}
    c.put_bucket_encryption(Bucket=b, ServerSideEncryptionConfiguration=cfg)
    c.put_object(Bucket=b, Key="k", Body=b"x" * 300000)
    for method, target in (("GET", "/%s?cairn-changes" % b), ("POST", "/%s?cairn-missing" % b),
                           ("GET", "/%s/k?cairn-chunks" % b)):
        r = raw(srv, method, target, {}, b'{"chunks": []}' if method == "POST" else b"")
        assert (r.status, r.error()["Code"]) == (400, "InvalidRequest"), (target, r)
        assert "encrypt" in r.error()["Message"], r
    # an encrypted object in a plain bucket: its chunk list is not handed out
    b2 = new_bucket(c, "sync2")
    c.put_object(Bucket=b2, Key="k", Body=b"y" * 300000, ServerSideEncryption="AES256")
    r = raw(srv, "GET", "/%s/k?cairn-chunks" % b2)
    assert (r.status, r.error()["Code"]) == (400, "InvalidRequest"), r
    c.put_object(Bucket=b2, Key="p", Body=b"z" * 300000)
    r = raw(srv, "GET", "/%s/p?cairn-chunks" % b2)
    assert r.status == 200, r


def test_post_object_encrypted(srv):
    """Browser form uploads: the bucket default, the SSE-S3 form field and
    SSE-C form fields apply."""
    c = srv.client()
    b = new_bucket(c, "form")
    body = data(200000, 300)
    p = c.generate_presigned_post(b, "f/${filename}", ExpiresIn=300,
                                  Fields={"x-amz-server-side-encryption": "AES256"},
                                  Conditions=[{"x-amz-server-side-encryption": "AES256"}])
    form, ct = multipart(sorted(p["fields"].items()), ("file", "a.bin", None, body))
    r = post(srv, form, ct, path="/" + b)
    assert r.status == 204, r
    assert r.headers.get("x-amz-server-side-encryption") == "AES256", r
    assert c.head_object(Bucket=b, Key="f/a.bin").get("ServerSideEncryption") == "AES256"
    assert c.get_object(Bucket=b, Key="f/a.bin")["Body"].read() == body
    cfg = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}
    c.put_bucket_encryption(Bucket=b, ServerSideEncryptionConfiguration=cfg)
    p = c.generate_presigned_post(b, "g/${filename}", ExpiresIn=300)
    form, ct = multipart(sorted(p["fields"].items()), ("file", "b.bin", None, body))
    r = post(srv, form, ct, path="/" + b)
    assert r.status == 204, r
    assert c.head_object(Bucket=b, Key="g/b.bin").get("ServerSideEncryption") == "AES256"
    assert c.get_object(Bucket=b, Key="g/b.bin")["Body"].read() == body
    # SSE-C form fields (signed by the policy like any field): the object
    # opens only with that key, and the bucket default does not apply
    fields = ckey_headers(7)
    p = c.generate_presigned_post(b, "c/${filename}", ExpiresIn=300, Fields=fields,
                                  Conditions=[{k: v} for k, v in fields.items()])
    form, ct = multipart(sorted(p["fields"].items()), ("file", "c.bin", None, body))
    r = post(srv, form, ct, path="/" + b)
    assert r.status == 204, r
    assert r.headers.get("x-amz-server-side-encryption-customer-algorithm") == "AES256", r
    assert r.headers.get("x-amz-server-side-encryption-customer-key-md5") == \
        fields["x-amz-server-side-encryption-customer-key-MD5"], r
    assert "x-amz-server-side-encryption" not in r.headers, r
    assert c.get_object(Bucket=b, Key="c/c.bin", **ckey(7))["Body"].read() == body
    expect_error("InvalidRequest", c.get_object, Bucket=b, Key="c/c.bin")
    expect_error("AccessDenied", c.get_object, Bucket=b, Key="c/c.bin", **ckey(8))
    # a key MD5 that does not match the key: refused, nothing stored
    fields = ckey_headers(7, md5=base64.b64encode(b"\0" * 16).decode())
    p = c.generate_presigned_post(b, "d/${filename}", ExpiresIn=300, Fields=fields,
                                  Conditions=[{k: v} for k, v in fields.items()])
    form, ct = multipart(sorted(p["fields"].items()), ("file", "d.bin", None, body))
    r = post(srv, form, ct, path="/" + b)
    assert (r.status, r.error()["Code"]) == (400, "InvalidArgument"), r
    assert "MD5" in r.error()["Message"], r.error()
    assert c.list_objects_v2(Bucket=b, Prefix="d/").get("KeyCount") == 0


def test_without_key_file(_srv):
    srv = Server()
    try:
        c = srv.client()
        b = new_bucket(c, "nokey")
        e = expect_error("NotImplemented", c.put_object, Bucket=b, Key="k", Body=b"x",
                         ServerSideEncryption="AES256")
        assert "sse-key-file" in e.response["Error"]["Message"]
        cfg = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}
        expect_error("NotImplemented", c.put_bucket_encryption, Bucket=b,
                     ServerSideEncryptionConfiguration=cfg)
        c.put_object(Bucket=b, Key="c", Body=b"customer", **ckey(1))
        assert c.get_object(Bucket=b, Key="c", **ckey(1))["Body"].read() == b"customer"
    finally:
        srv.close()


def test_key_file_mismatch_refused(_srv):
    d = tempfile.mkdtemp(prefix="cairn-sse-key2.")
    try:
        k1, k2 = os.path.join(d, "one.key"), os.path.join(d, "two.key")
        srv = Server("--sse-key-file", k1)
        try:
            c = srv.client()
            b = new_bucket(c, "mm")
            c.put_object(Bucket=b, Key="k", Body=b"secret", ServerSideEncryption="AES256")
            srv.stop()
            env = dict(os.environ, CAIRN_ROOT_USER=srv.key, CAIRN_ROOT_PASSWORD=srv.secret)
            cmd = [os.environ["CAIRN_BIN"], "server", "--data", srv.data,
                   "--listen", "127.0.0.1:%d" % srv.port, "--sse-key-file"]
            # a key file that is not there: not made anew, refused
            p = subprocess.run(cmd + [k2], capture_output=True, text=True, timeout=30, env=env)
            assert p.returncode != 0 and "used a master key before" in p.stderr, p.stderr
            # another valid key: refused
            fd = os.open(k2, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.write(fd, (hashlib.sha256(b"other").hexdigest() + "\n").encode())
            os.close(fd)
            p = subprocess.run(cmd + [k2], capture_output=True, text=True, timeout=30, env=env)
            assert p.returncode != 0 and "not the master key" in p.stderr, p.stderr
            os.unlink(k2)
            # a key file readable by others is refused
            os.chmod(k1, 0o644)
            p = subprocess.run(cmd + [k1], capture_output=True, text=True, timeout=30, env=env)
            assert p.returncode != 0 and "group or others" in p.stderr, p.stderr
            os.chmod(k1, 0o600)
            srv.start()
            assert c.get_object(Bucket=b, Key="k")["Body"].read() == b"secret"
        finally:
            srv.close()
    finally:
        shutil.rmtree(d, ignore_errors=True)


def setup():
    return Server("--sse-key-file", KEY_FILE)


if __name__ == "__main__":
    try:
        run_tests(globals(), setup)
    finally:
        shutil.rmtree(KEY_DIR, ignore_errors=True)
