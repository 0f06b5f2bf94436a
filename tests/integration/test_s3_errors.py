#!/usr/bin/env python3
"""S3 errors and robustness, mostly over raw HTTP.

Every error is an XML <Error> with Code, Message (non-empty), Resource and
RequestId (the same id as the x-amz-request-id header), and every
response, success or not, carries x-amz-request-id.  Checked here: the
common error codes, bad URIs, oversized headers and metadata, bodies cut
short or stalled, and 20 concurrent clients; at the end the server is
still alive and stops cleanly on SIGTERM.
"""
import base64
import concurrent.futures
import hashlib
import http.client
import os
import random
import socket
import time
import urllib.parse
import xml.etree.ElementTree as ET


from cairn_test import (RawResponse, Server, checksum_b64, expect_error, header_dict, host_port, raw,
                        run_tests, sign_headers)

KiB = 1024
MiB = 1024 * KiB


# ---------------------------------------------------------------------------
# raw requests (local to this file: tests/lib has no raw-request helper)

def raw_bytes(srv, request, timeout=30):
    """Send request bytes as they are; parse the answer."""
    s = socket.create_connection(host_port(srv), timeout=timeout)
    try:
        s.sendall(request)
        resp = http.client.HTTPResponse(s, method=request.split(b" ", 1)[0].decode())
        resp.begin()
        data = resp.read()
        return RawResponse(resp.status, header_dict(resp.getheaders()), data)
    finally:
        s.close()


def check_error(r, status, code=None, resource=None):
    """r is a well-formed S3 error: status, XML body, ids.  Returns the fields."""
    assert r.status == status, "want %d %s, got %r" % (status, code, r)
    rid = r.headers.get("x-amz-request-id")
    assert rid, "no x-amz-request-id: %r" % r
    assert r.body, "error %d without a body" % r.status
    ctype = r.headers.get("content-type", "")
    assert "xml" in ctype, "error content-type %r" % ctype
    root = ET.fromstring(r.body)
    assert root.tag == "Error", r.body[:300]
    e = {c.tag: (c.text or "") for c in root}
    assert e.get("Code"), e
    if code is not None:
        assert e["Code"] == code, "want %s, got %s (%s)" % (code, e["Code"], e.get("Message"))
    assert e.get("Message", "").strip(), "empty Message: %r" % e
    assert "Resource" in e, "no Resource: %r" % e
    if resource is not None:
        assert e["Resource"] == resource, (e["Resource"], resource)
    assert e.get("RequestId") == rid, (e.get("RequestId"), rid)
    return e


def check_head_error(r, status):
    assert r.status == status, r
    assert r.body == b"", "HEAD answer with a body: %r" % r.body[:200]
    assert r.headers.get("x-amz-request-id"), r.headers


def md5_b64(data):
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def alive(srv):
    r = raw(srv, "GET", "/")
    assert r.status == 200, "the server no longer answers: %r" % r
    if srv.proc is not None:
        assert srv.proc.poll() is None, "the server process exited"


def absent(srv, bucket, key, settle=0.3):
    time.sleep(settle)
    r = raw(srv, "HEAD", "/%s/%s" % (bucket, urllib.parse.quote(key)))
    assert r.status == 404, "%s/%s was stored (HEAD %d)" % (bucket, key, r.status)


def make_bucket(srv, name):
    srv.client().create_bucket(Bucket=name)
    return name


# ---------------------------------------------------------------------------
# request ids and the shape of errors

def test_request_id_on_every_response(srv):
    c = srv.client()
    b = make_bucket(srv, "err-ids")
    ids = set()
    for method, target, body, want in [
            ("GET", "/", b"", 200),
            ("PUT", "/%s/k" % b, b"v", 200),
            ("GET", "/%s/k" % b, b"", 200),
            ("HEAD", "/%s/k" % b, b"", 200),
            ("GET", "/%s?list-type=2" % b, b"", 200),
            ("HEAD", "/%s" % b, b"", 200),
            ("GET", "/%s?location" % b, b"", 200),
            ("DELETE", "/%s/k" % b, b"", 204),
            ("DELETE", "/%s/k" % b, b"", 204),
            ("HEAD", "/%s/k" % b, b"", 404),
            ("GET", "/%s/k" % b, b"", 404)]:
        r = raw(srv, method, target, body=body)
        assert r.status == want, (method, target, r)
        rid = r.headers.get("x-amz-request-id")
        assert rid, (method, target, r.headers)
        ids.add(rid)
    c.put_object(Bucket=b, Key="k", Body=b"v")
    etag = c.head_object(Bucket=b, Key="k")["ETag"]
    r = raw(srv, "GET", "/%s/k" % b, headers={"If-None-Match": etag})
    assert r.status == 304 and r.headers.get("x-amz-request-id"), r
    ids.add(r.headers["x-amz-request-id"])
    r = raw(srv, "GET", "/", sign=False)  # anonymous
    check_error(r, 403, "AccessDenied", resource="/")
    ids.add(r.headers["x-amz-request-id"])
    assert len(ids) == 13, "request ids repeat: %d distinct of 13" % len(ids)
    # boto3 sees the id too
    rm = c.list_buckets()["ResponseMetadata"]
    assert rm.get("RequestId") and rm["HTTPHeaders"].get("x-amz-request-id") == rm["RequestId"]


def test_no_such_bucket_and_key(srv):
    b = make_bucket(srv, "err-nosuch")
    for method, target in [("GET", "/err-missing"), ("GET", "/err-missing?list-type=2"),
                           ("DELETE", "/err-missing"), ("GET", "/err-missing/k"),
                           ("DELETE", "/err-missing/k"), ("POST", "/err-missing/k?uploads")]:
        e = check_error(raw(srv, method, target), 404, "NoSuchBucket",
                        resource=target.split("?")[0])
        assert e.get("BucketName") == "err-missing", e
    check_error(raw(srv, "PUT", "/err-missing/k", body=b"x"), 404, "NoSuchBucket")
    check_head_error(raw(srv, "HEAD", "/err-missing"), 404)
    check_head_error(raw(srv, "HEAD", "/err-missing/k"), 404)
    e = check_error(raw(srv, "GET", "/%s/no/such/key" % b), 404, "NoSuchKey",
                    resource="/%s/no/such/key" % b)
    assert e.get("Key") == "no/such/key", e
    # HEAD of a missing key: 404 with no body
    r = raw(srv, "HEAD", "/%s/no-such-key" % b)
    check_head_error(r, 404)
    c = srv.client()
    e = expect_error("404", c.head_object, Bucket=b, Key="no-such-key")
    expect_error("NoSuchKey", c.get_object, Bucket=b, Key="no-such-key")
    expect_error("NoSuchBucket", c.list_objects_v2, Bucket="err-missing")


def test_bucket_create_conflicts(srv):
    c = srv.client()
    make_bucket(srv, "err-twice")
    e = expect_error("BucketAlreadyOwnedByYou", c.create_bucket, Bucket="err-twice")
    assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    check_error(raw(srv, "PUT", "/err-twice"), 409, "BucketAlreadyOwnedByYou", resource="/err-twice")
    # another user asking for the name
    ak, sk = srv.add_user("err-carol")
    other = srv.client(key=ak, secret=sk)
    e = expect_error("BucketAlreadyExists", other.create_bucket, Bucket="err-twice")
    assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    check_error(raw(srv, "PUT", "/err-twice", key=ak, secret=sk), 409, "BucketAlreadyExists")


def test_bucket_not_empty(srv):
    c = srv.client()
    b = make_bucket(srv, "err-notempty")
    c.put_object(Bucket=b, Key="a/b", Body=b"x")
    e = expect_error("BucketNotEmpty", c.delete_bucket, Bucket=b)
    assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    check_error(raw(srv, "DELETE", "/" + b), 409, "BucketNotEmpty", resource="/" + b)
    c.head_bucket(Bucket=b)
    assert c.get_object(Bucket=b, Key="a/b")["Body"].read() == b"x"
    c.delete_object(Bucket=b, Key="a/b")
    r = c.delete_bucket(Bucket=b)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 204
    expect_error("NoSuchBucket", c.delete_bucket, Bucket=b)


def test_invalid_bucket_names(srv):
    c = srv.client()
    bad = ["MyBucket", "ab", "a", "192.168.1.1", "a..b", "-abc", "abc-", "a" * 64,
           "bucket_name", ".abc", "abc.", "xn--abc"]
    for name in bad:
        check_error(raw(srv, "PUT", "/" + name), 400, "InvalidBucketName")
    names = [x["Name"] for x in c.list_buckets()["Buckets"]]
    assert not set(names) & set(bad), names
    # the limits themselves are fine
    for name in ["abc", "a" * 63, "my.bucket-1", "1bucket"]:
        r = raw(srv, "PUT", "/" + name)
        assert r.status == 200, (name, r)


def test_method_not_allowed(srv):
    b = make_bucket(srv, "err-method")
    srv.client().put_object(Bucket=b, Key="k", Body=b"x")
    for method, target in [("POST", "/%s/k" % b), ("DELETE", "/")]:
        check_error(raw(srv, method, target), 405, "MethodNotAllowed")
    alive(srv)


def test_not_implemented_subresources(srv):
    b = make_bucket(srv, "err-notimpl")
    srv.client().put_object(Bucket=b, Key="k", Body=b"x")
    for method, target, name in [("GET", "/%s?analytics" % b, "analytics"),
                                 ("GET", "/%s?inventory" % b, "inventory"),
                                 ("PUT", "/%s?website" % b, "website"),
                                 ("DELETE", "/%s?website" % b, "website")]:
        e = check_error(raw(srv, method, target), 501, "NotImplemented")
        assert name in e["Message"], (target, e["Message"])
    # configurations cairn does not store yet read as S3 reads them for a
    # bucket that has none: the "not found" error of each, or an empty one
    for sub, code in [("tagging", "NoSuchTagSet"), ("cors", "NoSuchCORSConfiguration"),
                      ("lifecycle", "NoSuchLifecycleConfiguration"),
                      ("policy", "NoSuchBucketPolicy"), ("website", "NoSuchWebsiteConfiguration"),
                      ("encryption", "ServerSideEncryptionConfigurationNotFoundError")]:
        check_error(raw(srv, "GET", "/%s?%s" % (b, sub)), 404, code)
    r = raw(srv, "GET", "/%s?requestPayment" % b)
    assert r.status == 200 and b"<Payer>BucketOwner</Payer>" in r.body, r
    r = raw(srv, "GET", "/%s/k?tagging" % b)
    assert r.status == 200 and b"<TagSet" in r.body and b"<Tag>" not in r.body, r
    check_error(raw(srv, "GET", "/%s/missing?tagging" % b), 404, "NoSuchKey")
    # nothing was done: the bucket and object are unchanged and still there
    c = srv.client()
    assert c.get_object(Bucket=b, Key="k")["Body"].read() == b"x"


def test_malformed_xml(srv):
    c = srv.client()
    b = make_bucket(srv, "err-xml")
    c.put_object(Bucket=b, Key="keep", Body=b"keep")
    for body in [b"this is not xml", b"<Delete><Object><Key>keep</Key></Object>",
                 b"<Delete></Delete>", b"<NotDelete><Object><Key>keep</Key></Object></NotDelete>",
                 b"<Delete><Object></Object></Delete>", b"\x00\xff\xfe garbage"]:
        r = raw(srv, "POST", "/%s?delete" % b, body=body, headers={"Content-MD5": md5_b64(body)})
        check_error(r, 400, "MalformedXML")
    assert c.get_object(Bucket=b, Key="keep")["Body"].read() == b"keep"
    # a well-formed request whose Content-MD5 is wrong: BadDigest, nothing deleted
    body = b"<Delete><Object><Key>keep</Key></Object></Delete>"
    r = raw(srv, "POST", "/%s?delete" % b, body=body, headers={"Content-MD5": md5_b64(body + b" ")})
    check_error(r, 400, "BadDigest")
    assert c.get_object(Bucket=b, Key="keep")["Body"].read() == b"keep"
    # every configuration body checks what is sent with it: a Content-MD5
    # that is not one is InvalidDigest, a wrong x-amz-checksum-* BadDigest
    r = raw(srv, "POST", "/%s?delete" % b, body=body, headers={"Content-MD5": "not-base64-md5"})
    check_error(r, 400, "InvalidDigest")
    tags = b"<Tagging><TagSet><Tag><Key>a</Key><Value>b</Value></Tag></TagSet></Tagging>"
    policy = (b'{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*",'
              b'"Action":"s3:GetObject","Resource":"arn:aws:s3:::%s/*"}]}' % b.encode())
    for target, doc in [("/%s?tagging" % b, tags), ("/%s/keep?tagging" % b, tags),
                        ("/%s?policy" % b, policy)]:
        r = raw(srv, "PUT", target, body=doc,
                headers={"x-amz-checksum-crc32": checksum_b64("crc32", doc + b" ")})
        check_error(r, 400, "BadDigest")
        r = raw(srv, "PUT", target, body=doc, headers={"Content-MD5": md5_b64(doc + b" ")})
        check_error(r, 400, "BadDigest")
    expect_error("NoSuchTagSet", c.get_bucket_tagging, Bucket=b)
    assert c.get_object_tagging(Bucket=b, Key="keep")["TagSet"] == []
    expect_error("NoSuchBucketPolicy", c.get_bucket_policy, Bucket=b)
    # CompleteMultipartUpload with garbage
    up = c.create_multipart_upload(Bucket=b, Key="mpu")["UploadId"]
    part = c.upload_part(Bucket=b, Key="mpu", UploadId=up, PartNumber=1, Body=b"p" * 100)
    target = "/%s/mpu?uploadId=%s" % (b, urllib.parse.quote(up, safe=""))
    for body in [b"garbage", b"<CompleteMultipartUpload><Part>",
                 b"<Other><Part><PartNumber>1</PartNumber></Part></Other>"]:
        check_error(raw(srv, "POST", target, body=body), 400, "MalformedXML")
    # the upload is still there and completes
    r = c.complete_multipart_upload(Bucket=b, Key="mpu", UploadId=up, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    assert c.get_object(Bucket=b, Key="mpu")["Body"].read() == b"p" * 100


def test_key_too_long(srv):
    b = make_bucket(srv, "err-keylen")
    long_key = "k" * 1025
    check_error(raw(srv, "PUT", "/%s/%s" % (b, long_key), body=b"x"), 400, "KeyTooLongError")
    check_error(raw(srv, "PUT", "/%s/%s" % (b, urllib.parse.quote("é" * 513)), body=b"x"), 400,
                "KeyTooLongError")
    r = raw(srv, "PUT", "/%s/%s" % (b, "k" * 1024), body=b"x")
    assert r.status == 200, r
    expect_error("KeyTooLongError", srv.client().put_object, Bucket=b, Key="x" * 2000, Body=b"x")


def test_invalid_uri(srv):
    b = make_bucket(srv, "err-uri")
    # bad %-escapes and %-encoded bytes that are not UTF-8
    for path in ["/%s/a%%zz" % b, "/%s/a%%2" % b, "/%s/%%FF%%FE" % b, "/%s/%%C0%%AF" % b,
                 "/%s/ok%%00nul" % b, "/%s/%%ED%%A0%%80" % b]:
        check_error(raw(srv, "GET", path), 400, "InvalidURI")
        check_error(raw(srv, "PUT", path, body=b"x"), 400, "InvalidURI")
    # raw bytes that are not UTF-8 in the request line
    host = "%s:%d" % host_port(srv)
    r = raw_bytes(srv, b"GET /" + b.encode() + b"/\xff\xfe HTTP/1.1\r\nHost: " + host.encode() +
                  b"\r\nConnection: close\r\n\r\n")
    check_error(r, 400, "InvalidURI")
    assert srv.client().list_objects_v2(Bucket=b).get("KeyCount") == 0
    alive(srv)


def test_oversized_headers(srv):
    c = srv.client()
    b = make_bucket(srv, "err-headers")
    # one 20 KiB metadata header
    r = raw(srv, "PUT", "/%s/big1" % b, headers={"x-amz-meta-big": "v" * (20 * KiB)}, body=b"x")
    e = check_error(r, 400)
    assert e["Code"] in ("RequestHeaderSectionTooLarge", "MetadataTooLarge"), e
    alive(srv)
    absent(srv, b, "big1", settle=0)
    # 100 headers of 500 bytes
    many = {"x-test-h%03d" % i: "h" * 500 for i in range(100)}
    r = raw(srv, "PUT", "/%s/big2" % b, headers=many, body=b"x")
    e = check_error(r, 400)
    assert e["Code"] == "RequestHeaderSectionTooLarge", e
    alive(srv)
    absent(srv, b, "big2", settle=0)
    # a header section beyond the HTTP layer's buffer (300 KiB): refused one
    # way or another (an error or a closed connection), never a crash or a hang
    host = "%s:%d" % host_port(srv)
    req = (b"GET /%s/k HTTP/1.1\r\nHost: %s\r\nX-Huge: " % (b.encode(), host.encode()) +
           b"z" * (300 * KiB) + b"\r\nConnection: close\r\n\r\n")
    try:
        r = raw_bytes(srv, req, timeout=20)
        assert 400 <= r.status < 500, r
    except (ConnectionError, http.client.HTTPException) as ex:
        print("     (300 KiB header: connection closed: %s)" % type(ex).__name__)
    alive(srv)
    c.put_object(Bucket=b, Key="after", Body=b"fine")
    assert c.get_object(Bucket=b, Key="after")["Body"].read() == b"fine"


def test_user_metadata_limit(srv):
    c = srv.client()
    b = make_bucket(srv, "err-meta")
    # S3 counts the UTF-8 bytes of names and values: 2 KB in all
    c.put_object(Bucket=b, Key="ok", Body=b"x", Metadata={"a": "v" * 2000})
    assert c.head_object(Bucket=b, Key="ok")["Metadata"] == {"a": "v" * 2000}
    e = expect_error("MetadataTooLarge", c.put_object, Bucket=b, Key="over", Body=b"x",
                     Metadata={"a": "v" * 2100})
    assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    absent(srv, b, "over", settle=0)
    many = {"k%02d" % i: "v" * 100 for i in range(25)}  # 25 * 103 bytes
    e = expect_error("MetadataTooLarge", c.put_object, Bucket=b, Key="over2", Body=b"x",
                     Metadata=many)
    absent(srv, b, "over2", settle=0)
    r = raw(srv, "PUT", "/%s/over3" % b, headers={"x-amz-meta-x": "v" * 3000}, body=b"x")
    check_error(r, 400, "MetadataTooLarge")


# ---------------------------------------------------------------------------
# bodies cut short

def partial_request(srv, target, declared, sent, payload, body_hash=None, wait=0.0,
                    headers=None):
    """Send a PUT whose Content-Length says `declared` bytes, send only
    `sent` bytes of body, optionally wait, then close the socket."""
    hdrs = dict(headers or {})
    full = os.urandom(declared)
    hdrs = sign_headers(srv, "PUT", target, hdrs, full, payload)
    host = "%s:%d" % host_port(srv)
    head = "PUT %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n" % (target, host, declared)
    head += "".join("%s: %s\r\n" % (k, v.decode() if isinstance(v, bytes) else v)
                    for k, v in hdrs.items() if k.lower() != "host")
    s = socket.create_connection(host_port(srv), timeout=10)
    try:
        s.sendall(head.encode() + b"\r\n" + full[:sent])
        if wait:
            time.sleep(wait)
    finally:
        s.close()


def test_content_length_mismatch(srv):
    b = make_bucket(srv, "err-short")
    srv.client().put_object(Bucket=b, Key="existing", Body=b"original")
    cases = [("inline-unsigned", 1000, 500, "UNSIGNED-PAYLOAD"),
             ("big-unsigned", 1 * MiB, 300 * KiB, "UNSIGNED-PAYLOAD"),
             ("big-signed", 1 * MiB, 600 * KiB, None),
             ("headers-only", 5000, 0, "UNSIGNED-PAYLOAD")]
    for key, declared, sent, payload in cases:
        partial_request(srv, "/%s/%s" % (b, key), declared, sent, payload)
    for key, *_ in cases:
        absent(srv, b, key)
    partial_request(srv, "/%s/existing" % b, 400 * KiB, 200 * KiB, "UNSIGNED-PAYLOAD")
    time.sleep(0.3)
    assert srv.client().get_object(Bucket=b, Key="existing")["Body"].read() == b"original"
    alive(srv)


def test_missing_content_length(srv):
    """A PUT with HTTP chunked transfer and no aws-chunked framing: S3
    answers 411 MissingContentLength."""
    b = make_bucket(srv, "err-nolength")
    for payload in ["UNSIGNED-PAYLOAD", None]:
        h = sign_headers(srv, "PUT", "/%s/te" % b, {}, b"hello", payload)
        conn = http.client.HTTPConnection(*host_port(srv), timeout=30)
        try:
            conn.putrequest("PUT", "/%s/te" % b, skip_host=True, skip_accept_encoding=True)
            conn.putheader("Host", "%s:%d" % host_port(srv))
            for k, v in h.items():
                conn.putheader(k, v)
            conn.putheader("Transfer-Encoding", "chunked")
            conn.endheaders()
            conn.send(b"5\r\nhello\r\n0\r\n\r\n")
            resp = conn.getresponse()
            r = RawResponse(resp.status, header_dict(resp.getheaders()), resp.read())
        finally:
            conn.close()
        check_error(r, 411, "MissingContentLength")
    absent(srv, b, "te", settle=0)


def test_stalled_body(srv):
    b = make_bucket(srv, "err-stall")
    for key, declared, payload in [("stall-small", 2000, "UNSIGNED-PAYLOAD"),
                                   ("stall-big", 2 * MiB, "UNSIGNED-PAYLOAD"),
                                   ("stall-signed", 600 * KiB, None)]:
        partial_request(srv, "/%s/%s" % (b, key), declared, declared // 2, payload, wait=2.0)
        alive(srv)
        absent(srv, b, key)
    assert srv.client().list_objects_v2(Bucket=b).get("KeyCount") == 0


def test_concurrent_clients(srv):
    b = make_bucket(srv, "err-concurrent")
    clients = [srv.client() for _ in range(20)]
    iterations = 8

    def work(i):
        c = clients[i]
        rnd = random.Random(i)
        for j in range(iterations):
            n = rnd.choice([0, 1, 1000, 64 * KiB, 128 * KiB + 1, 300 * KiB])
            data = rnd.randbytes(n)
            key = "c%02d/%d" % (i, j)
            c.put_object(Bucket=b, Key=key, Body=data)
            got = c.get_object(Bucket=b, Key=key)["Body"].read()
            assert got == data, "client %d iteration %d: body differs" % (i, j)
            # everyone also reads a shared object
            if j % 3 == 0:
                assert c.get_object(Bucket=b, Key="shared")["Body"].read() == shared
        return i

    shared = os.urandom(200 * KiB)
    clients[0].put_object(Bucket=b, Key="shared", Body=shared)
    with concurrent.futures.ThreadPoolExecutor(max_workers=20) as pool:
        futures = [pool.submit(work, i) for i in range(20)]
        done, not_done = concurrent.futures.wait(futures, timeout=240)
        assert not not_done, "%d clients did not finish in 240 s" % len(not_done)
        for f in done:
            f.result()  # re-raise a client's failure
    resp = clients[0].list_objects_v2(Bucket=b, MaxKeys=1000)
    assert resp["KeyCount"] == 20 * iterations + 1, resp["KeyCount"]
    alive(srv)


def test_concurrent_same_key(srv):
    """Writers overwrite one multi-chunk key while readers read it: every
    read is one whole version (body matches its ETag and is one of the
    bodies written), never a mix."""
    import threading
    b = make_bucket(srv, "err-samekey")
    writers, readers, rounds = 6, 4, 3
    bodies = [os.urandom(700 * KiB + i) for i in range(writers)]
    by_md5 = {hashlib.md5(x).hexdigest(): x for x in bodies}
    clients = [srv.client() for _ in range(writers + readers)]
    clients[0].put_object(Bucket=b, Key="k", Body=bodies[0])
    stop = threading.Event()
    errors = []

    def write(i):
        try:
            for _ in range(rounds):
                clients[i].put_object(Bucket=b, Key="k", Body=bodies[i])
        except Exception as e:  # reported below
            errors.append("writer %d: %r" % (i, e))

    def read(i):
        n = 0
        try:
            while not stop.is_set() and n < 200:
                n += 1
                r = clients[writers + i].get_object(Bucket=b, Key="k")
                data = r["Body"].read()
                md5 = hashlib.md5(data).hexdigest()
                if md5 not in by_md5 or r["ETag"] != '"%s"' % md5:
                    errors.append("reader %d: a body of %d bytes that no writer wrote "
                                  "(ETag %s)" % (i, len(data), r["ETag"]))
                    return
        except Exception as e:
            errors.append("reader %d: %r" % (i, e))
    threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
    rthreads = [threading.Thread(target=read, args=(i,)) for i in range(readers)]
    for t in threads + rthreads:
        t.start()
    for t in threads:
        t.join(180)
    stop.set()
    for t in rthreads:
        t.join(60)
    assert not any(t.is_alive() for t in threads + rthreads), "a client hung"
    assert not errors, errors[:5]
    final = clients[0].get_object(Bucket=b, Key="k")["Body"].read()
    assert hashlib.md5(final).hexdigest() in by_md5
    alive(srv)


if __name__ == "__main__":
    run_tests(globals(), setup=Server)
