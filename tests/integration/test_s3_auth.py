#!/usr/bin/env python3
"""Authentication: SigV4 header auth with every payload mode, presigned
URLs, clock skew, bad credentials, anonymous and SigV2 requests, users
and bucket ownership, virtual-hosted-style addressing.

Where boto3 cannot produce a case (tampered bodies, aws-chunked with
chunk signatures, signed trailers, corrupted signatures) the request is
built here: headers signed with botocore's S3SigV4Auth, the body framed
by hand, sent with http.client.
"""
import base64
import contextlib
import datetime
import hashlib
import hmac
import os
import re
import socket
import subprocess
import time
import types
import urllib.error
import urllib.parse
import urllib.request
import zlib

import boto3
import botocore
import botocore.auth
from botocore import UNSIGNED
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from cairn_test import RawResponse, Server, expect_error, header_dict, raw, run_tests, sign_headers

KiB = 1024
REGION = "us-east-1"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


# ---------------------------------------------------------------------------
# raw requests (local to this file: tests/lib has no raw-request helper)

def send(srv, method, target, headers, body=b"", timeout=60):
    """A request with headers already signed (or deliberately not)."""
    return raw(srv, method, target, headers, body, sign=False, timeout=timeout)


def url_get(url, method="GET", data=None, headers=None):
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return RawResponse(r.status, header_dict(r.getheaders()), r.read())
    except urllib.error.HTTPError as e:
        return RawResponse(e.code, header_dict(e.headers.items()), e.read())


# ---------------------------------------------------------------------------
# aws-chunked encoder (botocore only sends the unsigned-trailer variant)

def signing_key(secret, date):
    k = ("AWS4" + secret).encode()
    for part in (date, REGION, "s3", "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    return k


def seed_of(headers):
    m = re.search(r"Signature=([0-9a-f]{64})", headers["Authorization"])
    assert m, headers["Authorization"]
    return m.group(1)


def crc32_b64(data):
    return base64.b64encode((zlib.crc32(data) & 0xFFFFFFFF).to_bytes(4, "big")).decode()


def flip_hex(sig):
    return ("1" if sig[0] != "1" else "2") + sig[1:]


def aws_chunked_body(data, chunk, headers, secret, signed=True, trailers=None,
                     corrupt_sig=None, corrupt_data=None, trailer_sig="good"):
    """Encode data as aws-chunked.  signed: chunk signatures chained from the
    seed (the Authorization signature).  trailers: list of (name, value).
    corrupt_sig: index of the chunk whose signature is damaged (-1 = the
    final empty chunk); corrupt_data: index of a chunk whose first byte is
    changed after signing.  trailer_sig: "good", "bad" or "none"."""
    amz_date = headers["X-Amz-Date"]
    scope = "%s/%s/s3/aws4_request" % (amz_date[:8], REGION)
    key = signing_key(secret, amz_date[:8])
    prev = seed_of(headers) if signed else None
    pieces = [data[i:i + chunk] for i in range(0, len(data), chunk)] + [b""]
    out = []
    for i, piece in enumerate(pieces):
        last = i == len(pieces) - 1
        ext = b""
        if signed:
            sts = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, prev, EMPTY_SHA256,
                             hashlib.sha256(piece).hexdigest()])
            sig = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
            prev = sig
            if corrupt_sig == i or (corrupt_sig == -1 and last):
                sig = flip_hex(sig)
            ext = b";chunk-signature=" + sig.encode()
        if corrupt_data == i and piece:
            piece = bytes([piece[0] ^ 0xFF]) + piece[1:]
        out.append(b"%x" % len(piece) + ext + b"\r\n")
        if not last:
            out.append(piece + b"\r\n")
    if trailers is None:
        out.append(b"\r\n")
    else:
        lines = "".join("%s:%s\n" % (n, v) for n, v in trailers)
        out.append("".join("%s:%s\r\n" % (n, v) for n, v in trailers).encode())
        if signed and trailer_sig != "none":
            sts = "\n".join(["AWS4-HMAC-SHA256-TRAILER", amz_date, scope, prev,
                             hashlib.sha256(lines.encode()).hexdigest()])
            tsig = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
            if trailer_sig == "bad":
                tsig = flip_hex(tsig)
            out.append(b"x-amz-trailer-signature:" + tsig.encode() + b"\r\n")
        out.append(b"\r\n")
    return b"".join(out)


def put_chunked(srv, bucket, key, data, mode, chunk=64 * KiB, trailer=None, decoded_len=None,
                send_trailer=True, **enc):
    """PUT with aws-chunked framing.  mode: "signed", "signed-trailer",
    "unsigned-trailer".  trailer: (name, value) for the trailer modes."""
    payload = {"signed": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
               "signed-trailer": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
               "unsigned-trailer": "STREAMING-UNSIGNED-PAYLOAD-TRAILER"}[mode]
    hdrs = {"Content-Encoding": "aws-chunked",
            "x-amz-decoded-content-length": str(len(data) if decoded_len is None else decoded_len)}
    if trailer:
        hdrs["x-amz-trailer"] = trailer[0]
    target = "/%s/%s" % (bucket, urllib.parse.quote(key))
    headers = sign_headers(srv, "PUT", target, hdrs, b"", payload)
    body = aws_chunked_body(data, chunk, headers, srv.secret, signed=mode != "unsigned-trailer",
                            trailers=[trailer] if trailer and send_trailer else
                            ([] if trailer else None), **enc)
    return send(srv, "PUT", target, headers, body)


# ---------------------------------------------------------------------------
# other helpers

def make_bucket(c, name):
    c.create_bucket(Bucket=name)
    return name


def stored(srv, bucket, key):
    r = raw(srv, "GET", "/%s/%s" % (bucket, urllib.parse.quote(key)))
    return r.body if r.status == 200 else None


def assert_not_stored(srv, bucket, key):
    r = raw(srv, "HEAD", "/%s/%s" % (bucket, urllib.parse.quote(key)))
    assert r.status == 404, "%s/%s exists (%d) but must not" % (bucket, key, r.status)


def status(e):
    return e.response["ResponseMetadata"]["HTTPStatusCode"]


@contextlib.contextmanager
def shifted_clock(seconds):
    """botocore signs with a clock `seconds` off: botocore.auth (newer ones
    call get_current_datetime(), older ones datetime.datetime.utcnow()) and
    botocore.crt.auth, which a boto3 with awscrt (Debian's) signs with."""
    import sys
    delta = datetime.timedelta(seconds=seconds)
    real = datetime.datetime

    class Shifted(real):
        @classmethod
        def utcnow(cls):
            return real.utcnow() + delta

        @classmethod
        def now(cls, tz=None):
            return real.now(tz) + delta
    proxy = types.SimpleNamespace(**{k: getattr(datetime, k) for k in dir(datetime)
                                     if not k.startswith("__")})
    proxy.datetime = Shifted
    saved = []
    for mod in (botocore.auth, sys.modules.get("botocore.crt.auth")):
        if mod is None:
            continue
        if hasattr(mod, "get_current_datetime"):
            orig = mod.get_current_datetime
            saved.append((mod, "get_current_datetime", orig))
            mod.get_current_datetime = lambda *a, _o=orig, **k: _o(*a, **k) + delta
        if hasattr(mod, "datetime"):
            saved.append((mod, "datetime", mod.datetime))
            mod.datetime = proxy
    try:
        yield
    finally:
        for mod, name, value in saved:
            setattr(mod, name, value)


@contextlib.contextmanager
def checksum_in_trailer(client):
    """Make boto3 send its PutObject checksum in an aws-chunked trailer, as
    it does by default over https."""
    def move(params, **kw):
        alg = params.get("context", {}).get("checksum", {}).get("request_algorithm")
        if isinstance(alg, dict):
            alg["in"] = "trailer"
    client.meta.events.register("before-call.s3.PutObject", move)
    try:
        yield
    finally:
        client.meta.events.unregister("before-call.s3.PutObject", move)


@contextlib.contextmanager
def captured_requests(client, op):
    seen = []

    def grab(request, **kw):
        seen.append(request)
    client.meta.events.register("before-send.s3.%s" % op, grab)
    try:
        yield seen
    finally:
        client.meta.events.unregister("before-send.s3.%s" % op, grab)


def header_value(headers, name):
    for k, v in headers.items():
        if k.lower() == name.lower():
            return v.decode() if isinstance(v, bytes) else v
    return None


# ---------------------------------------------------------------------------
# header auth and payload modes

def test_signed_payload(srv):
    c = srv.client()
    b = make_bucket(c, "auth-signed")
    for n in [0, 100, 200 * KiB]:
        data = os.urandom(n)
        r = raw(srv, "PUT", "/%s/k%d" % (b, n), body=data)  # x-amz-content-sha256: hex
        assert r.status == 200, r
        assert r.headers.get("etag") == '"%s"' % hashlib.md5(data).hexdigest()
        assert stored(srv, b, "k%d" % n) == data
    # the body the signature covers is the body received: a changed body is refused
    for n in [100, 200 * KiB]:
        good = os.urandom(n)
        headers = sign_headers(srv, "PUT", "/%s/t%d" % (b, n), {}, good)
        assert header_value(headers, "x-amz-content-sha256") == hashlib.sha256(good).hexdigest()
        bad = bytes([good[0] ^ 1]) + good[1:]
        r = send(srv, "PUT", "/%s/t%d" % (b, n), headers, bad)
        assert r.status == 400, r
        assert r.error()["Code"] == "XAmzContentSHA256Mismatch", r.body
        assert_not_stored(srv, b, "t%d" % n)
        # ... and does not replace an existing object
        c.put_object(Bucket=b, Key="t%d" % n, Body=b"original")
        r = send(srv, "PUT", "/%s/t%d" % (b, n), headers, bad)
        assert r.status == 400, r
        assert stored(srv, b, "t%d" % n) == b"original"


def test_unsigned_payload(srv):
    c = srv.client()
    b = make_bucket(c, "auth-unsigned")
    data = os.urandom(150 * KiB)
    r = raw(srv, "PUT", "/%s/u" % b, body=data, payload="UNSIGNED-PAYLOAD")
    assert r.status == 200, r
    assert stored(srv, b, "u") == data
    # a value that is neither a hash nor a known mode
    r = raw(srv, "PUT", "/%s/v" % b, body=b"x", payload="not-a-sha256")
    assert r.status in (400, 403), r
    r.error()
    assert_not_stored(srv, b, "v")


def test_aws_chunked_signed(srv):
    c = srv.client()
    b = make_bucket(c, "auth-chunked")
    for n, chunk in [(0, 64 * KiB), (1000, 64 * KiB), (200 * KiB + 17, 64 * KiB),
                     (100 * KiB, 8 * KiB)]:
        data = os.urandom(n)
        r = put_chunked(srv, b, "ok-%d" % n, data, "signed", chunk=chunk)
        assert r.status == 200, (n, r)
        assert r.headers.get("etag") == '"%s"' % hashlib.md5(data).hexdigest(), r.headers
        assert stored(srv, b, "ok-%d" % n) == data, "aws-chunked body of %d bytes differs" % n
        h = c.head_object(Bucket=b, Key="ok-%d" % n)
        assert h["ContentLength"] == n
        assert "ContentEncoding" not in h, h.get("ContentEncoding")
    data = os.urandom(200 * KiB)
    # a damaged chunk signature (first, middle, final empty chunk), or data
    # changed under a valid signature: 403 SignatureDoesNotMatch, nothing stored
    for what in [{"corrupt_sig": 0}, {"corrupt_sig": 2}, {"corrupt_sig": -1},
                 {"corrupt_data": 1}]:
        key = "bad-%s" % "-".join("%s%s" % kv for kv in what.items())
        r = put_chunked(srv, b, key, data, "signed", **what)
        assert r.status == 403, (what, r)
        assert r.error()["Code"] == "SignatureDoesNotMatch", (what, r.body)
        assert_not_stored(srv, b, key)
    # and an existing object is not replaced
    c.put_object(Bucket=b, Key="keep", Body=b"keep")
    r = put_chunked(srv, b, "keep", data, "signed", corrupt_sig=1)
    assert r.status == 403, r
    assert stored(srv, b, "keep") == b"keep"
    # decoded length announced wrong: an error, nothing stored
    r = put_chunked(srv, b, "badlen", data, "signed", decoded_len=len(data) + 1)
    assert 400 <= r.status < 500, r
    r.error()
    assert_not_stored(srv, b, "badlen")


def test_aws_chunked_unsigned_trailer(srv):
    c = srv.client()
    b = make_bucket(c, "auth-trailer")
    for n in [0, 5000, 300 * KiB + 3]:
        data = os.urandom(n)
        r = put_chunked(srv, b, "ok-%d" % n, data, "unsigned-trailer",
                        trailer=("x-amz-checksum-crc32", crc32_b64(data)))
        assert r.status == 200, (n, r)
        assert r.headers.get("x-amz-checksum-crc32") == crc32_b64(data), r.headers
        assert stored(srv, b, "ok-%d" % n) == data
        g = c.head_object(Bucket=b, Key="ok-%d" % n, ChecksumMode="ENABLED")
        assert g.get("ChecksumCRC32") == crc32_b64(data), g.get("ChecksumCRC32")
    data = os.urandom(100 * KiB)
    r = put_chunked(srv, b, "wrong", data, "unsigned-trailer",
                    trailer=("x-amz-checksum-crc32", crc32_b64(data + b"x")))
    assert r.status == 400, r
    assert r.error()["Code"] == "BadDigest", r.body
    assert_not_stored(srv, b, "wrong")
    # a trailer announced in x-amz-trailer but never sent
    r = put_chunked(srv, b, "missing", data, "unsigned-trailer",
                    trailer=("x-amz-checksum-crc32", crc32_b64(data)), send_trailer=False)
    assert r.status == 400, r
    r.error()
    assert_not_stored(srv, b, "missing")


def test_boto3_trailer_checksum(srv):
    """boto3's own aws-chunked upload (STREAMING-UNSIGNED-PAYLOAD-TRAILER with
    an x-amz-checksum-crc32 trailer and HTTP chunked transfer), which it
    uses by default over https."""
    c = srv.client()
    b = make_bucket(c, "auth-boto-trailer")
    for n in [10, 300 * KiB]:
        data = os.urandom(n)
        with captured_requests(c, "PutObject") as sent, checksum_in_trailer(c):
            p = c.put_object(Bucket=b, Key="k%d" % n, Body=data, ChecksumAlgorithm="CRC32")
        h = sent[-1].headers
        assert header_value(h, "x-amz-content-sha256") == "STREAMING-UNSIGNED-PAYLOAD-TRAILER", h
        assert header_value(h, "x-amz-trailer") == "x-amz-checksum-crc32", h
        assert p.get("ChecksumCRC32") == crc32_b64(data), p.get("ChecksumCRC32")
        g = c.get_object(Bucket=b, Key="k%d" % n, ChecksumMode="ENABLED")
        assert g["Body"].read() == data
        assert g.get("ChecksumCRC32") == crc32_b64(data)


def test_aws_chunked_signed_trailer(srv):
    c = srv.client()
    b = make_bucket(c, "auth-signed-trailer")
    for n in [0, 70 * KiB + 1]:
        data = os.urandom(n)
        r = put_chunked(srv, b, "ok-%d" % n, data, "signed-trailer",
                        trailer=("x-amz-checksum-crc32", crc32_b64(data)))
        assert r.status == 200, (n, r)
        assert stored(srv, b, "ok-%d" % n) == data
        g = c.head_object(Bucket=b, Key="ok-%d" % n, ChecksumMode="ENABLED")
        assert g.get("ChecksumCRC32") == crc32_b64(data)
    data = os.urandom(100 * KiB)
    good = ("x-amz-checksum-crc32", crc32_b64(data))
    for key, kw, want in [
            ("badtrailersig", {"trailer_sig": "bad"}, (403, "SignatureDoesNotMatch")),
            ("notrailersig", {"trailer_sig": "none"}, (403, "SignatureDoesNotMatch")),
            ("badchunksig", {"corrupt_sig": 1}, (403, "SignatureDoesNotMatch"))]:
        r = put_chunked(srv, b, key, data, "signed-trailer", trailer=good, **kw)
        assert (r.status, r.error()["Code"]) == want, (key, r)
        assert_not_stored(srv, b, key)
    # a correctly signed but wrong checksum
    r = put_chunked(srv, b, "badsum", data, "signed-trailer",
                    trailer=("x-amz-checksum-crc32", crc32_b64(b"other")))
    assert r.status == 400 and r.error()["Code"] == "BadDigest", r
    assert_not_stored(srv, b, "badsum")


def test_tampered_request_parts(srv):
    c = srv.client()
    b = make_bucket(c, "auth-tamper")
    c.put_object(Bucket=b, Key="k", Body=b"x")
    # a query parameter changed after signing
    h = sign_headers(srv, "GET", "/%s?list-type=2&prefix=a" % b)
    r = send(srv, "GET", "/%s?list-type=2&prefix=b" % b, h)
    assert r.status == 403 and r.error()["Code"] == "SignatureDoesNotMatch", r
    # a signed header changed after signing
    h = sign_headers(srv, "PUT", "/%s/m" % b, {"x-amz-meta-a": "1"}, b"v")
    h["x-amz-meta-a"] = "2"
    r = send(srv, "PUT", "/%s/m" % b, h, b"v")
    assert r.status == 403 and r.error()["Code"] == "SignatureDoesNotMatch", r
    assert_not_stored(srv, b, "m")
    # a signed header left out
    h = sign_headers(srv, "PUT", "/%s/m" % b, {"x-amz-meta-a": "1"}, b"v")
    del h["x-amz-meta-a"]
    r = send(srv, "PUT", "/%s/m" % b, h, b"v")
    assert r.status == 403 and r.error()["Code"] == "SignatureDoesNotMatch", r
    assert_not_stored(srv, b, "m")
    # another method with the same signature
    h = sign_headers(srv, "GET", "/%s/k" % b)
    r = send(srv, "DELETE", "/%s/k" % b, h)
    assert r.status == 403 and r.error()["Code"] == "SignatureDoesNotMatch", r
    assert stored(srv, b, "k") == b"x"
    # presigned query and an Authorization header at once
    url = srv.client(signature_version="s3v4").generate_presigned_url(
        "get_object", Params={"Bucket": b, "Key": "k"})
    target = url[len(srv.endpoint):]
    r = send(srv, "GET", target, sign_headers(srv, "GET", target))
    assert r.status == 400 and r.error()["Code"] == "InvalidArgument", r


def test_unsigned_amz_headers(srv):
    """Every x-amz-* header must be among the signed ones: one added after
    signing is refused with AccessDenied naming it in HeadersNotSigned
    (S3's answer), and nothing is stored; signed, the same header works."""
    c = srv.client()
    b = make_bucket(c, "auth-unsigned-hdr")
    target = "/%s/m" % b
    h = sign_headers(srv, "PUT", target, {}, b"v")
    h["x-amz-meta-foo"] = "bar"
    r = send(srv, "PUT", target, h, b"v")
    e = r.error()
    assert r.status == 403 and e["Code"] == "AccessDenied", r
    assert e["Message"] == "There were headers present in the request which were not signed", e
    assert e.get("HeadersNotSigned") == "x-amz-meta-foo", e
    assert_not_stored(srv, b, "m")
    # two of them, in any case
    h = sign_headers(srv, "PUT", target, {}, b"v")
    h["X-Amz-Copy-Source"] = "%s/other" % b
    h["x-amz-tagging"] = "a=b"
    r = send(srv, "PUT", target, h, b"v")
    assert r.status == 403 and r.error().get("HeadersNotSigned") == "x-amz-copy-source, x-amz-tagging", r
    assert_not_stored(srv, b, "m")
    # HEAD: the status alone
    c.put_object(Bucket=b, Key="k", Body=b"x")
    h = sign_headers(srv, "HEAD", "/%s/k" % b)
    h["x-amz-checksum-mode"] = "ENABLED"
    r = send(srv, "HEAD", "/%s/k" % b, h)
    assert r.status == 403 and not r.body, r
    # signed (whatever the case of the name), the same headers are fine
    h = sign_headers(srv, "PUT", target, {"X-Amz-Meta-Foo": "bar"}, b"v")
    r = send(srv, "PUT", target, h, b"v")
    assert r.status == 200, r
    assert c.head_object(Bucket=b, Key="m")["Metadata"] == {"foo": "bar"}
    # a long signed name is matched whole
    long_name = "x-amz-meta-" + "n" * 200
    h = sign_headers(srv, "PUT", target, {long_name: "1"}, b"w")
    assert send(srv, "PUT", target, h, b"w").status == 200
    # other headers may go unsigned (as on S3)
    h = sign_headers(srv, "PUT", target, {}, b"v")
    h["X-Custom-Header"] = "1"
    h["x-amzn-trace-id"] = "Root=1-00000000-000000000000000000000000"
    assert send(srv, "PUT", target, h, b"v").status == 200


def test_unsigned_amz_headers_presigned(srv):
    """A presigned URL carries no header signature: x-amz-* headers sent
    with it are refused as well, except x-amz-content-sha256."""
    c = srv.client(signature_version="s3v4")
    b = make_bucket(c, "auth-unsigned-pre")
    put = c.generate_presigned_url("put_object", Params={"Bucket": b, "Key": "p"}, ExpiresIn=300)
    r = url_get(put, method="PUT", data=b"body", headers={"x-amz-meta-foo": "bar"})
    assert r.status == 403 and r.error().get("HeadersNotSigned") == "x-amz-meta-foo", r
    assert_not_stored(srv, b, "p")
    r = url_get(put, method="PUT", data=b"body", headers={"x-amz-content-sha256": "UNSIGNED-PAYLOAD"})
    assert r.status == 200, r
    assert stored(srv, b, "p") == b"body"
    get = c.generate_presigned_url("get_object", Params={"Bucket": b, "Key": "p"}, ExpiresIn=300)
    r = url_get(get, headers={"x-amz-checksum-mode": "ENABLED"})
    assert r.status == 403 and r.error()["Code"] == "AccessDenied", r
    assert url_get(get).body == b"body"


def test_credential_scope(srv):
    """The scope in Credential= must name this server's region and s3:
    S3 answers 400 AuthorizationHeaderMalformed ("the region 'eu-west-1'
    is wrong; expecting 'us-east-1'")."""
    c = srv.client()
    b = make_bucket(c, "auth-scope")
    c.put_object(Bucket=b, Key="k", Body=b"x")
    for region, service in [("eu-west-1", "s3"), ("us-east-1", "iam")]:
        req = AWSRequest(method="GET", url=srv.endpoint + "/%s/k" % b, headers={}, data=b"")
        S3SigV4Auth(Credentials(srv.key, srv.secret), service, region).add_auth(req)
        r = send(srv, "GET", "/%s/k" % b, dict(req.headers.items()))
        assert r.status in (400, 403), (region, service, r)
        assert r.error()["Code"] in ("AuthorizationHeaderMalformed", "SignatureDoesNotMatch"), r
    other = boto3.client("s3", endpoint_url=srv.endpoint, region_name="eu-west-1",
                         aws_access_key_id=srv.key, aws_secret_access_key=srv.secret,
                         config=Config(retries={"max_attempts": 1}))
    e = expect_error("AuthorizationHeaderMalformed", other.list_objects_v2, Bucket=b)
    assert status(e) == 400


# ---------------------------------------------------------------------------
# presigned URLs

def test_presigned_get_put(srv):
    # boto3 presigns with SigV2 unless told otherwise (see test_presigned_sigv2)
    c = srv.client(signature_version="s3v4")
    b = make_bucket(c, "auth-presign")
    data = os.urandom(1000)
    key = "dir/ünï cödé+1 (2).bin"
    c.put_object(Bucket=b, Key=key, Body=data)
    url = c.generate_presigned_url("get_object", Params={"Bucket": b, "Key": key}, ExpiresIn=300)
    assert "X-Amz-Signature=" in url, url
    r = url_get(url)
    assert r.status == 200 and r.body == data, r
    # a HEAD with the GET URL's signature does not match
    r = url_get(url, method="HEAD")
    assert r.status == 403, r
    # presigned PUT
    put = c.generate_presigned_url("put_object", Params={"Bucket": b, "Key": "up.bin"}, ExpiresIn=300)
    body = os.urandom(200 * KiB)
    r = url_get(put, method="PUT", data=body, headers={"Content-Type": "application/octet-stream"})
    assert r.status == 200, r
    assert stored(srv, b, "up.bin") == body
    # tampering with the signed query (another key) breaks the signature
    bad = url.replace("%20%28", "%20%29")
    assert bad != url
    r = url_get(bad)
    assert r.status == 403 and r.error()["Code"] == "SignatureDoesNotMatch", r
    # a presigned URL of an unknown key
    r = url_get(c.generate_presigned_url("get_object", Params={"Bucket": b, "Key": "nope"}))
    assert r.status == 404 and r.error()["Code"] == "NoSuchKey", r
    # response-* overrides are signed query parameters (download under a name);
    # the override replaces the stored (or default) header, it is not added
    disp = 'attachment; filename="report 2024.bin"'
    url2 = c.generate_presigned_url("get_object", ExpiresIn=300, Params={
        "Bucket": b, "Key": key, "ResponseContentDisposition": disp,
        "ResponseContentType": "application/x-download"})
    r = url_get(url2)
    assert r.status == 200 and r.body == data, r
    assert r.headers.get("content-disposition") == disp, r.headers
    assert r.headers.get("content-type") == "application/x-download", r.headers


def test_presigned_sigv2(srv):
    """boto3's generate_presigned_url gives a SigV2 URL (AWSAccessKeyId,
    Signature, Expires) unless the client is configured for s3v4.  People
    share such URLs, so cairn accepts SigV2 in presigned URLs (only)."""
    c = srv.client()
    b = make_bucket(c, "auth-presign-v2")
    key = "dir/a b+c (1).txt"
    c.put_object(Bucket=b, Key=key, Body=b"v2 body", ContentType="text/plain")
    v2 = srv.client(signature_version="s3")  # what the default is in both boto3s tested
    url = v2.generate_presigned_url("get_object", Params={"Bucket": b, "Key": key}, ExpiresIn=60)
    assert "Signature=" in url and "AWSAccessKeyId=" in url, url
    r = url_get(url)
    assert r.status == 200 and r.body == b"v2 body", r
    # response-* overrides are part of the SigV2 resource
    u2 = v2.generate_presigned_url("get_object", Params={"Bucket": b, "Key": key,
                                        "ResponseContentType": "application/x-shared"}, ExpiresIn=60)
    r = url_get(u2)
    assert r.status == 200 and r.headers.get("content-type") == "application/x-shared", r
    # tampering: another key, a changed signature, a changed expiry
    r = url_get(url.replace("%281%29", "%282%29"))
    assert r.status == 403 and r.error()["Code"] == "SignatureDoesNotMatch", r
    r = url_get(re.sub(r"Expires=(\d+)", lambda m: "Expires=%d" % (int(m.group(1)) + 1), url))
    assert r.status == 403 and r.error()["Code"] == "SignatureDoesNotMatch", r
    # presigned PUT (curl -T sends no Content-Type, as the URL was signed)
    put = v2.generate_presigned_url("put_object", Params={"Bucket": b, "Key": "up.txt"}, ExpiresIn=60)
    path = os.path.join(srv.tmp, "upload.bin")
    with open(path, "wb") as f:
        f.write(b"put through a v2 url")
    out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-T", path, put],
                         capture_output=True, text=True, timeout=60).stdout
    assert out == "200", out
    assert stored(srv, b, "up.txt") == b"put through a v2 url"
    # expired
    old = v2.generate_presigned_url("get_object", Params={"Bucket": b, "Key": key}, ExpiresIn=1)
    time.sleep(2)
    r = url_get(old)
    assert r.status == 403 and r.error()["Code"] == "AccessDenied", r
    # unknown access key
    r = url_get(re.sub(r"AWSAccessKeyId=[^&]+", "AWSAccessKeyId=NOSUCHKEY", url))
    assert r.status == 403 and r.error()["Code"] == "InvalidAccessKeyId", r

def test_presigned_cairn_cli(srv):
    if not os.environ.get("CAIRN_BIN"):
        print("     (skipped: no CAIRN_BIN for `cairn presign`)")
        return
    c = srv.client()
    b = make_bucket(c, "auth-presign-cli")
    env = dict(os.environ, AWS_ACCESS_KEY_ID=srv.key, AWS_SECRET_ACCESS_KEY=srv.secret)
    cairn = os.environ["CAIRN_BIN"]
    p = subprocess.run([cairn, "presign", "s3://%s/shared file.txt" % b, "--method", "PUT",
                        "--expires", "5m", "--endpoint", srv.endpoint],
                       env=env, capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    r = url_get(p.stdout.strip(), method="PUT", data=b"shared via cli",
                headers={"Content-Type": "text/plain"})
    assert r.status == 200, r
    p = subprocess.run([cairn, "presign", "s3://%s/shared file.txt" % b, "--endpoint", srv.endpoint],
                       env=env, capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    r = url_get(p.stdout.strip())
    assert r.status == 200 and r.body == b"shared via cli", r
    p = subprocess.run([cairn, "presign", "s3://%s/x" % b, "--expires", "8d",
                        "--endpoint", srv.endpoint], env=env, capture_output=True, text=True,
                       timeout=30)
    assert p.returncode != 0, "an 8-day presign was accepted"


def test_presigned_expired(srv):
    c = srv.client(signature_version="s3v4")
    b = make_bucket(c, "auth-expired")
    c.put_object(Bucket=b, Key="k", Body=b"x")
    url = c.generate_presigned_url("get_object", Params={"Bucket": b, "Key": "k"}, ExpiresIn=1)
    put = c.generate_presigned_url("put_object", Params={"Bucket": b, "Key": "p"}, ExpiresIn=1)
    time.sleep(2.2)
    r = url_get(url)
    assert r.status == 403, r
    e = r.error()
    assert e["Code"] == "AccessDenied" and "expired" in e["Message"].lower(), e
    r = url_get(put, method="PUT", data=b"late")
    assert r.status == 403 and r.error()["Code"] == "AccessDenied", r
    assert_not_stored(srv, b, "p")


def test_presigned_expires_limit(srv):
    c = srv.client(signature_version="s3v4")
    b = make_bucket(c, "auth-expires-max")
    c.put_object(Bucket=b, Key="k", Body=b"week")
    ok = c.generate_presigned_url("get_object", Params={"Bucket": b, "Key": "k"}, ExpiresIn=604800)
    r = url_get(ok)
    assert r.status == 200 and r.body == b"week", r
    url = c.generate_presigned_url("get_object", Params={"Bucket": b, "Key": "k"}, ExpiresIn=604801)
    assert "X-Amz-Expires=604801" in url, url
    r = url_get(url)
    assert r.status in (400, 403), r
    e = r.error()
    # AWS: 400 AuthorizationQueryParametersError "X-Amz-Expires must be less
    # than a week (in seconds) that is 604800"
    assert e["Code"] in ("AuthorizationQueryParametersError", "AuthorizationHeaderMalformed"), e
    assert "604800" in e["Message"], e


# ---------------------------------------------------------------------------
# credentials and clock

def test_wrong_secret(srv):
    c = srv.client()
    b = make_bucket(c, "auth-wrong-secret")
    bad = srv.client(secret=srv.secret + "x")
    e = expect_error("SignatureDoesNotMatch", bad.list_buckets)
    assert status(e) == 403
    expect_error("SignatureDoesNotMatch", bad.put_object, Bucket=b, Key="k", Body=b"x")
    assert_not_stored(srv, b, "k")
    expect_error("SignatureDoesNotMatch", bad.list_objects_v2, Bucket=b)


def test_unknown_access_key(srv):
    bad = srv.client(key="AKIANOSUCHKEY0000000", secret="whatever-secret")
    e = expect_error("InvalidAccessKeyId", bad.list_buckets)
    assert status(e) == 403
    expect_error("InvalidAccessKeyId", bad.create_bucket, Bucket="auth-unknown-key")
    r = raw(srv, "HEAD", "/auth-unknown-key")
    assert r.status == 404, r


def test_clock_skew(srv):
    c = srv.client()
    b = make_bucket(c, "auth-skew")
    for minutes in [20, -20]:
        with shifted_clock(minutes * 60):
            skewed = srv.client()
            e = expect_error("RequestTimeTooSkewed", skewed.put_object, Bucket=b, Key="k",
                             Body=b"x")
            assert status(e) == 403
            expect_error("RequestTimeTooSkewed", skewed.list_buckets)
        assert_not_stored(srv, b, "k")
    # within S3's 15 minutes: accepted
    with shifted_clock(5 * 60):
        srv.client().put_object(Bucket=b, Key="ok", Body=b"ok")
    assert stored(srv, b, "ok") == b"ok"


def test_anonymous(srv):
    c = srv.client()
    b = make_bucket(c, "auth-anon")
    c.put_object(Bucket=b, Key="k", Body=b"private")
    base = srv.endpoint
    for method, path, data in [("GET", "/%s/k" % b, None), ("PUT", "/%s/new" % b, b"anon"),
                               ("GET", "/%s" % b, None), ("GET", "/", None),
                               ("DELETE", "/%s/k" % b, None), ("PUT", "/auth-anon-new", None)]:
        r = url_get(base + path, method=method, data=data)
        assert r.status == 403, (method, path, r)
        e = r.error()
        assert e["Code"] == "AccessDenied", (method, path, e)
    assert_not_stored(srv, b, "new")
    assert stored(srv, b, "k") == b"private"
    anon = boto3.client("s3", endpoint_url=srv.endpoint, region_name=REGION,
                        config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1}))
    expect_error("AccessDenied", anon.get_object, Bucket=b, Key="k")
    expect_error("AccessDenied", anon.put_object, Bucket=b, Key="new", Body=b"x")
    assert_not_stored(srv, b, "new")
    r = url_get(base + "/%s/k?response-content-type=text/plain" % b)
    assert r.status in (400, 403), r


def test_sigv2_and_malformed_authorization(srv):
    c = srv.client()
    b = make_bucket(c, "auth-sigv2")
    c.put_object(Bucket=b, Key="k", Body=b"v2")
    date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime())
    sts = "GET\n\n\n%s\n/%s/k" % (date, b)
    sig = base64.b64encode(hmac.new(srv.secret.encode(), sts.encode(), hashlib.sha1).digest()).decode()
    cases = [
        {"Authorization": "AWS %s:%s" % (srv.key, sig), "Date": date},
        {"Authorization": "AWS4-HMAC-SHA256", "x-amz-date": time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())},
        {"Authorization": "AWS4-HMAC-SHA256 Credential=%s/20200101/us-east-1/s3/aws4_request" % srv.key,
         "x-amz-date": time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()),
         "x-amz-content-sha256": EMPTY_SHA256},
        {"Authorization": "Bearer abc"},
        {"Authorization": "AWS4-HMAC-SHA256 " + "x" * 8000},
    ]
    for h in cases:
        r = send(srv, "GET", "/%s/k" % b, h)
        assert r.status in (400, 403), (h, r)
        e = r.error()
        assert e["Code"] != "InternalError", e
        assert r.headers.get("x-amz-request-id"), r.headers
    # the server still answers
    assert stored(srv, b, "k") == b"v2"


# ---------------------------------------------------------------------------
# users and ownership

def test_users_and_bucket_ownership(srv):
    root = srv.client()
    ak_a, sk_a = srv.add_user("alice")
    ak_b, sk_b = srv.add_user("bob")
    a = srv.client(key=ak_a, secret=sk_a)
    bo = srv.client(key=ak_b, secret=sk_b)
    a.create_bucket(Bucket="alice-bkt")
    bo.create_bucket(Bucket="bob-bkt")
    root.create_bucket(Bucket="root-bkt")
    bo.put_object(Bucket="bob-bkt", Key="secret.txt", Body=b"bob's")
    a.put_object(Bucket="alice-bkt", Key="mine.txt", Body=b"alice's")

    def names(client):
        return sorted(x["Name"] for x in client.list_buckets()["Buckets"])
    assert names(a) == ["alice-bkt"], names(a)
    assert names(bo) == ["bob-bkt"], names(bo)
    assert {"alice-bkt", "bob-bkt", "root-bkt"} <= set(names(root)), names(root)

    # alice cannot touch bob's bucket
    expect_error("AccessDenied", a.list_objects_v2, Bucket="bob-bkt")
    expect_error("AccessDenied", a.list_objects, Bucket="bob-bkt")
    expect_error("AccessDenied", a.get_object, Bucket="bob-bkt", Key="secret.txt")
    e = expect_error("403", a.head_object, Bucket="bob-bkt", Key="secret.txt")
    assert status(e) == 403
    e = expect_error("403", a.head_bucket, Bucket="bob-bkt")
    assert status(e) == 403
    expect_error("AccessDenied", a.put_object, Bucket="bob-bkt", Key="planted", Body=b"x")
    expect_error("AccessDenied", a.put_object, Bucket="bob-bkt", Key="secret.txt", Body=b"x")
    expect_error("AccessDenied", a.delete_object, Bucket="bob-bkt", Key="secret.txt")
    expect_error("AccessDenied", a.delete_objects, Bucket="bob-bkt",
                 Delete={"Objects": [{"Key": "secret.txt"}]})
    expect_error("AccessDenied", a.delete_bucket, Bucket="bob-bkt")
    expect_error("AccessDenied", a.create_multipart_upload, Bucket="bob-bkt", Key="mpu")
    expect_error("AccessDenied", a.copy_object, Bucket="alice-bkt", Key="stolen",
                 CopySource={"Bucket": "bob-bkt", "Key": "secret.txt"})
    expect_error("AccessDenied", a.copy_object, Bucket="bob-bkt", Key="pushed",
                 CopySource={"Bucket": "alice-bkt", "Key": "mine.txt"})
    e = expect_error("BucketAlreadyExists", a.create_bucket, Bucket="bob-bkt")
    assert status(e) == 409
    # nothing changed in bob's bucket
    keys = [o["Key"] for o in bo.list_objects_v2(Bucket="bob-bkt")["Contents"]]
    assert keys == ["secret.txt"], keys
    assert bo.get_object(Bucket="bob-bkt", Key="secret.txt")["Body"].read() == b"bob's"
    assert_not_stored(srv, "alice-bkt", "stolen")
    # root sees and reads everything
    assert root.get_object(Bucket="bob-bkt", Key="secret.txt")["Body"].read() == b"bob's"
    assert root.get_object(Bucket="alice-bkt", Key="mine.txt")["Body"].read() == b"alice's"
    # a user cannot use the admin API
    r = raw(srv, "GET", "/_cairn/admin/users", key=ak_a, secret=sk_a)
    assert r.status == 403, r

    # a removed user's key is unknown from then on
    rm = srv.admin("user", "remove", "alice")
    assert rm.returncode == 0, (rm.stdout, rm.stderr)
    expect_error("InvalidAccessKeyId", a.list_buckets)
    expect_error("InvalidAccessKeyId", a.get_object, Bucket="alice-bkt", Key="mine.txt")
    # bob is unaffected
    assert names(bo) == ["bob-bkt"]


# ---------------------------------------------------------------------------
# virtual-hosted style

@contextlib.contextmanager
def localhost_subdomains():
    """Resolve NAME.localhost to 127.0.0.1 in this process when the system
    resolver does not (glibc without systemd-resolved)."""
    try:
        socket.getaddrinfo("probe-bucket.localhost", 80)
        yield
        return
    except socket.gaierror:
        pass
    orig = socket.getaddrinfo

    def patched(host, *a, **k):
        if isinstance(host, str) and host.endswith(".localhost"):
            host = "127.0.0.1"
        return orig(host, *a, **k)
    socket.getaddrinfo = patched
    try:
        yield
    finally:
        socket.getaddrinfo = orig


def test_virtual_hosted_style(srv):
    if srv.external:
        print("     (skipped: needs its own server started with --domain)")
        return
    vs = Server("--domain", "localhost")
    try:
        with localhost_subdomains():
            vc = boto3.client("s3", endpoint_url="http://localhost:%d" % vs.port,
                              region_name=REGION, aws_access_key_id=vs.key,
                              aws_secret_access_key=vs.secret,
                              config=Config(s3={"addressing_style": "virtual"},
                                            retries={"max_attempts": 1}))
            with captured_requests(vc, "PutObject") as sent:
                vc.create_bucket(Bucket="vhost-bkt")
                vc.put_object(Bucket="vhost-bkt", Key="dir/v.txt", Body=b"virtual")
            url = urllib.parse.urlsplit(sent[-1].url)
            assert url.hostname == "vhost-bkt.localhost", sent[-1].url
            assert url.path == "/dir/v.txt", sent[-1].url
            assert vc.get_object(Bucket="vhost-bkt", Key="dir/v.txt")["Body"].read() == b"virtual"
            keys = [o["Key"] for o in vc.list_objects_v2(Bucket="vhost-bkt")["Contents"]]
            assert keys == ["dir/v.txt"], keys
            vc.head_bucket(Bucket="vhost-bkt")
        # the same bucket and object, path-style
        pc = vs.client()
        assert pc.get_object(Bucket="vhost-bkt", Key="dir/v.txt")["Body"].read() == b"virtual"
        # a raw request to 127.0.0.1 with a virtual Host header
        host = "vhost-bkt.localhost:%d" % vs.port
        r = raw(vs, "GET", "/dir/v.txt", headers={"Host": host})
        assert r.status == 200 and r.body == b"virtual", r
        r = raw(vs, "PUT", "/raw.txt", headers={"Host": host}, body=b"raw vhost")
        assert r.status == 200, r
        assert pc.get_object(Bucket="vhost-bkt", Key="raw.txt")["Body"].read() == b"raw vhost"
        r = raw(vs, "GET", "/nope.txt", headers={"Host": host})
        assert r.status == 404 and r.error()["Code"] == "NoSuchKey", r
        r = raw(vs, "GET", "/", headers={"Host": "vhost-missing.localhost:%d" % vs.port})
        assert r.status == 404 and r.error()["Code"] == "NoSuchBucket", r
        # without --domain the Host header does not pick a bucket
        r = raw(srv, "GET", "/", headers={"Host": "vhost-bkt.localhost:%d" % srv.port})
        assert r.status == 200 and b"ListAllMyBucketsResult" in r.body, r
        vs.stop()
    finally:
        vs.close()


if __name__ == "__main__":
    run_tests(globals(), setup=Server)
