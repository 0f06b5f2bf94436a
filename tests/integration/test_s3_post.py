#!/usr/bin/env python3
"""Browser POST uploads (POST Object with a POST policy): forms made by
boto3's generate_presigned_post (its default SigV2 form and the SigV4 one)
and by hand, sent as multipart/form-data bodies built here over
http.client, and once with curl -F.  Checks the stored bytes, metadata and
Content-Type, every success_action_* answer, ${filename}, and every way a
policy or a form can fail, with S3's codes and messages.
"""
import base64
import datetime
import hashlib
import hmac
import http.client
import json
import os
import random
import shutil
import subprocess
import tempfile
import urllib.parse
import xml.etree.ElementTree as ET

from botocore.config import Config

from cairn_test import RawResponse, Server, header_dict, host_port, run_tests

REGION = "us-east-1"
BUCKET = "post-bkt"


# ---------------------------------------------------------------------------
# forms

def multipart(fields, file=None, after=(), boundary="----cairnTestBoundaryX7y"):
    """A multipart/form-data body: fields (name, value) in order, then the
    file part (name, filename, content type or None, bytes), then after."""
    out = []
    for name, value in fields:
        out.append(("--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n"
                    % (boundary, name)).encode() + value.encode() + b"\r\n")
    if file is not None:
        fname, filename, ctype, content = file
        head = "--%s\r\nContent-Disposition: form-data; name=\"%s\"" % (boundary, fname)
        if filename is not None:
            head += "; filename=\"%s\"" % filename
        head += "\r\n"
        if ctype:
            head += "Content-Type: %s\r\n" % ctype
        out.append(head.encode() + b"\r\n" + content + b"\r\n")
    for name, value in after:
        out.append(("--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n"
                    % (boundary, name, value)).encode())
    out.append(("--%s--\r\n" % boundary).encode())
    return b"".join(out), "multipart/form-data; boundary=%s" % boundary


def post(srv, body, content_type, path="/" + BUCKET, headers=None):
    h = {"Content-Type": content_type}
    h.update(headers or {})
    conn = http.client.HTTPConnection(*host_port(srv), timeout=120)
    try:
        conn.request("POST", path, body=body, headers=h)
        resp = conn.getresponse()
        return RawResponse(resp.status, header_dict(resp.getheaders()), resp.read())
    finally:
        conn.close()


def iso(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def signing_key(secret, day):
    k = ("AWS4" + secret).encode()
    for part in (day, REGION, "s3", "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    return k


def v4_form(srv, conditions, fields, expires_in=300, key=None, secret=None, now=None,
            policy_json=None, tamper=False):
    """The fields of a SigV4-signed form: fields plus the policy (conditions
    plus those of the signature fields) and the signature fields."""
    now = now or datetime.datetime.utcnow()
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    cred = "%s/%s/%s/s3/aws4_request" % (key or srv.key, amz_date[:8], REGION)
    sig_fields = [("x-amz-algorithm", "AWS4-HMAC-SHA256"), ("x-amz-credential", cred),
                  ("x-amz-date", amz_date)]
    conds = list(conditions) + [{k: v} for k, v in sig_fields]
    doc = policy_json if policy_json is not None else json.dumps(
        {"expiration": iso(now + datetime.timedelta(seconds=expires_in)), "conditions": conds})
    policy = base64.b64encode(doc.encode()).decode()
    sig = hmac.new(signing_key(secret or srv.secret, amz_date[:8]), policy.encode(),
                   hashlib.sha256).hexdigest()
    if tamper:
        sig = ("0" if sig[0] != "0" else "1") + sig[1:]
    return list(fields) + sig_fields + [("policy", policy), ("x-amz-signature", sig)]


def std_conditions(prefix="up/"):
    return [{"bucket": BUCKET}, ["starts-with", "$key", prefix]]


def expect_error(resp, status, code, message=None):
    assert resp.status == status, resp
    e = resp.error()
    assert e["Code"] == code, e
    if message is not None:
        assert e["Message"] == message, e
    return e


def get(srv, key):
    return srv.client().get_object(Bucket=BUCKET, Key=key)


def setup():
    srv = Server()
    srv.client().create_bucket(Bucket=BUCKET)
    return srv


# ---------------------------------------------------------------------------
# successful uploads

def test_boto3_default_form(srv):
    """generate_presigned_post as users call it (boto3 signs it with SigV2)."""
    c = srv.client()
    p = c.generate_presigned_post(BUCKET, "boto/${filename}", ExpiresIn=300)
    data = os.urandom(70000) + b"\r\n--" + b"\r\n"
    body, ct = multipart(sorted(p["fields"].items()), ("file", "photo.jpg", "image/jpeg", data))
    r = post(srv, body, ct)
    assert r.status == 204 and r.body == b"", r
    assert r.headers["etag"] == '"%s"' % hashlib.md5(data).hexdigest(), r
    assert get(srv, "boto/photo.jpg")["Body"].read() == data


def test_boto3_v4_form_metadata(srv):
    c = srv.client(signature_version="s3v4")
    fields = {"Content-Type": "text/plain; charset=utf-8", "x-amz-meta-owner": "alice",
              "Cache-Control": "max-age=60", "Content-Disposition": "attachment; filename=n.txt",
              "success_action_status": "201"}
    conds = [{k: v} for k, v in fields.items()]
    p = c.generate_presigned_post(BUCKET, "v4/notes.txt", Fields=fields, Conditions=conds,
                                  ExpiresIn=300)
    assert "x-amz-signature" in p["fields"], p["fields"]
    data = b"".join(bytes([i % 251]) for i in range(5000))
    body, ct = multipart(list(p["fields"].items()), ("file", "ignored.bin", "application/x-a", data))
    r = post(srv, body, ct)
    assert r.status == 201, r
    root = ET.fromstring(r.body)
    assert root.tag == "PostResponse", r.body
    doc = {c.tag: c.text for c in root}
    etag = '"%s"' % hashlib.md5(data).hexdigest()
    assert doc["Bucket"] == BUCKET and doc["Key"] == "v4/notes.txt" and doc["ETag"] == etag, doc
    assert doc["Location"].endswith("/%s/v4/notes.txt" % BUCKET), doc
    o = get(srv, "v4/notes.txt")
    assert o["Body"].read() == data
    assert o["ContentType"] == "text/plain; charset=utf-8", o["ContentType"]
    assert o["Metadata"] == {"owner": "alice"}, o["Metadata"]
    assert o["CacheControl"] == "max-age=60" and o["ContentDisposition"] == "attachment; filename=n.txt"


def test_hand_made_statuses_and_redirect(srv):
    data = b"hello form"
    for status, want in (("200", 200), ("204", 204), ("999", 204)):
        key = "up/status-%s" % status
        f = v4_form(srv, std_conditions() + [{"success_action_status": status}],
                    [("key", key), ("success_action_status", status)])
        r = post(srv, *multipart(f, ("file", "a.txt", None, data)))
        assert r.status == want and r.body == b"", (status, r)
        assert get(srv, key)["Body"].read() == data
    redirect = "https://example.com/done?x=1"
    f = v4_form(srv, std_conditions() + [["starts-with", "$success_action_redirect", "https://"]],
                [("key", "up/r k+1.txt"), ("success_action_redirect", redirect)])
    r = post(srv, *multipart(f, ("file", "a.txt", None, data)))
    assert r.status == 303, r
    loc = urllib.parse.urlsplit(r.headers["location"])
    assert loc.netloc == "example.com" and loc.path == "/done", r.headers
    q = urllib.parse.parse_qs(loc.query)
    assert q == {"x": ["1"], "bucket": [BUCKET], "key": ["up/r k+1.txt"],
                 "etag": ['"%s"' % hashlib.md5(data).hexdigest()]}, q
    # the older field name works too
    f = v4_form(srv, std_conditions() + [{"redirect": "http://example.com/ok"}],
                [("key", "up/r2"), ("redirect", "http://example.com/ok")])
    r = post(srv, *multipart(f, ("file", "a.txt", None, data)))
    assert r.status == 303 and r.headers["location"].startswith("http://example.com/ok?bucket="), r


def test_filename_substitution(srv):
    f = v4_form(srv, std_conditions("up/"), [("key", "up/${filename}.d/${filename}")])
    r = post(srv, *multipart(f, ("file", "C:\\\\Users\\\\me\\\\pic.png", None, b"png")))
    assert r.status == 204, r
    assert get(srv, "up/pic.png.d/pic.png")["Body"].read() == b"png"
    # the policy sees the key after the substitution
    f = v4_form(srv, [{"bucket": BUCKET}, ["eq", "$key", "up/exact.txt"]], [("key", "up/${filename}")])
    r = post(srv, *multipart(f, ("file", "exact.txt", None, b"x")))
    assert r.status == 204, r


def test_boundary_lookalikes_and_ignored_fields(srv):
    boundary = "xYz-bound"
    # the boundary without its CRLF, the delimiter cut short, CRs and dashes
    data = (b"--xYz-bound\r\n" + b"\r\n--xYz-boun" + b"q\r\r\n-\r\n--" + b"\n--xYz-bound--" +
            os.urandom(3000)) * 3
    f = v4_form(srv, std_conditions() + [["starts-with", "$x-amz-meta-tag", ""]],
                [("key", "up/look"), ("x-amz-meta-tag", "t1"), ("x-ignore-anything", "free")])
    body, ct = multipart(f, ("file", "f", None, data), after=[("not-in-policy", "v")],
                         boundary=boundary)
    r = post(srv, body, ct)
    assert r.status == 204, r
    o = get(srv, "up/look")
    assert o["Body"].read() == data and o["Metadata"] == {"tag": "t1"}


def test_twenty_mib_streams(srv):
    rnd = random.Random(7)
    data = bytes(rnd.getrandbits(8) for _ in range(1 << 16)) * 320  # 20 MiB
    f = v4_form(srv, std_conditions() + [["content-length-range", 1, 30 << 20]],
                [("key", "up/big.bin")])
    body, ct = multipart(f, ("file", "big.bin", "application/octet-stream", data))
    r = post(srv, body, ct)
    assert r.status == 204, r
    got = get(srv, "up/big.bin")["Body"].read()
    assert len(got) == len(data) and hashlib.sha256(got).digest() == hashlib.sha256(data).digest()


def test_curl_form(srv):
    curl = shutil.which("curl")
    if not curl:
        print("     (skipped: no curl)")
        return
    tmp = tempfile.mkdtemp()
    try:
        path = os.path.join(tmp, "report.csv")
        data = b"a,b\r\n1,2\r\n" * 1000
        with open(path, "wb") as fh:
            fh.write(data)
        f = v4_form(srv, std_conditions() + [{"Content-Type": "text/csv"},
                                             {"success_action_status": "201"}],
                    [("key", "up/curl/${filename}"), ("Content-Type", "text/csv"),
                     ("success_action_status", "201")])
        args = [curl, "-sS", "-o", "-", "-w", "\n%{http_code}"]
        for k, v in f:
            args += ["--form-string", "%s=%s" % (k, v)]
        args += ["-F", "file=@%s" % path, srv.endpoint + "/" + BUCKET]
        out = subprocess.run(args, capture_output=True, timeout=120)
        assert out.returncode == 0, out
        body, code = out.stdout.rsplit(b"\n", 1)
        assert code == b"201" and b"<Key>up/curl/report.csv</Key>" in body, out.stdout
        o = get(srv, "up/curl/report.csv")
        assert o["Body"].read() == data and o["ContentType"] == "text/csv"
    finally:
        shutil.rmtree(tmp)


def test_virtual_hosted(srv):
    if srv.external:
        return
    vs = Server("--domain", "localhost")
    try:
        vs.client().create_bucket(Bucket=BUCKET)
        f = v4_form(vs, std_conditions() + [{"success_action_status": "201"}],
                    [("key", "up/v.txt"), ("success_action_status", "201")])
        body, ct = multipart(f, ("file", "v.txt", None, b"vhost"))
        r = post(vs, body, ct, path="/", headers={"Host": "%s.localhost:%d" % (BUCKET, vs.port)})
        assert r.status == 201 and b"<Location>http://%s.localhost:%d/up/v.txt</Location>" % (
            BUCKET.encode(), vs.port) in r.body, r
        assert vs.client().get_object(Bucket=BUCKET, Key="up/v.txt")["Body"].read() == b"vhost"
        vs.stop()
    finally:
        vs.close()


# ---------------------------------------------------------------------------
# refusals

def test_policy_failures(srv):
    d = b"data"

    def send(conds, fields, file=("file", "f.txt", None, d), **kw):
        return post(srv, *multipart(v4_form(srv, conds, fields, **kw), file))

    r = send(std_conditions(), [("key", "up/x")], expires_in=-10)
    expect_error(r, 403, "AccessDenied", "Invalid according to Policy: Policy expired.")
    r = send(std_conditions("up/"), [("key", "other/x")])
    expect_error(r, 403, "AccessDenied",
                 'Invalid according to Policy: Policy Condition failed: ["starts-with", "$key", "up/"]')
    r = send([{"bucket": "another"}, ["starts-with", "$key", ""]], [("key", "k")])
    expect_error(r, 403, "AccessDenied",
                 'Invalid according to Policy: Policy Condition failed: ["eq", "$bucket", "another"]')
    r = send(std_conditions() + [["eq", "$Content-Type", "image/png"]],
             [("key", "up/x"), ("Content-Type", "image/gif")])
    expect_error(r, 403, "AccessDenied", 'Invalid according to Policy: Policy Condition failed: '
                                         '["eq", "$Content-Type", "image/png"]')
    r = send(std_conditions() + [["content-length-range", 10, 100]], [("key", "up/small")])
    e = expect_error(r, 400, "EntityTooSmall")
    assert e["ProposedSize"] == "4" and e["MinSizeAllowed"] == "10", e
    r = send(std_conditions() + [["content-length-range", 0, 3000]], [("key", "up/large")],
             file=("file", "f", None, os.urandom(200000)))
    e = expect_error(r, 400, "EntityTooLarge")
    assert e["ProposedSize"] == "200000" and e["MaxSizeAllowed"] == "3000", e
    r = send(std_conditions(), [("key", "up/x"), ("x-amz-meta-extra", "1"), ("acl", "private")])
    expect_error(r, 403, "AccessDenied",
                 "Invalid according to Policy: Extra input fields: x-amz-meta-extra, acl")
    r = send(std_conditions(), [("key", "up/x")], tamper=True)
    expect_error(r, 403, "SignatureDoesNotMatch")
    r = send(std_conditions(), [("key", "up/x")], secret="wrong-secret")
    expect_error(r, 403, "SignatureDoesNotMatch")
    r = send(std_conditions(), [("key", "up/x")], key="NOSUCHKEY")
    expect_error(r, 403, "InvalidAccessKeyId")
    r = send(std_conditions(), [("key", "up/x")], file=None)
    e = expect_error(r, 400, "InvalidArgument", "POST requires exactly one file upload per request.")
    assert e["ArgumentName"] == "file", e
    r = send(std_conditions(), [])
    e = expect_error(r, 400, "InvalidArgument")
    assert e["ArgumentName"] == "key" and "field named 'key'" in e["Message"], e
    r = send([], [("key", "up/x")], policy_json="{not json")
    expect_error(r, 400, "InvalidPolicyDocument", "Invalid Policy: Invalid JSON.")
    r = send([], [("key", "up/x")], policy_json='{"conditions": []}')
    expect_error(r, 400, "InvalidPolicyDocument", "Invalid Policy: Policy missing expiration.")
    r = send([["bogus", "$key", "x"]], [("key", "up/x")])
    expect_error(r, 403, "AccessDenied",
                 'Invalid according to Policy: Policy Condition failed: ["bogus", "$key", "x"]')
    # nothing was stored by any of these
    listed = srv.client().list_objects_v2(Bucket=BUCKET, Prefix="up/x").get("Contents", [])
    assert listed == [], listed


def test_form_failures(srv):
    # anonymous, without a policy
    body, ct = multipart([("key", "up/anon")], ("file", "f", None, b"x"))
    expect_error(post(srv, body, ct), 403, "AccessDenied")
    # a signature without its policy
    body, ct = multipart([("key", "up/x"), ("x-amz-signature", "0" * 64)], ("file", "f", None, b"x"))
    e = expect_error(post(srv, body, ct), 400, "InvalidArgument")
    assert e["ArgumentName"] == "policy", e
    # not a form
    r = post(srv, b"key=x", "application/x-www-form-urlencoded")
    e = expect_error(r, 412, "PreconditionFailed")
    assert "multipart/form-data" in e["Condition"], e
    r = post(srv, body, "multipart/form-data")
    expect_error(r, 400, "MalformedPOSTRequest")
    # the body ends inside the file, or never closes
    f = v4_form(srv, std_conditions(), [("key", "up/trunc")])
    body, ct = multipart(f, ("file", "f", None, b"abc"))
    cut = body[:body.rindex(b"\r\n--")]
    expect_error(post(srv, cut, ct), 400, "MalformedPOSTRequest")
    body, ct = multipart(f)
    expect_error(post(srv, body[:-30], ct), 400, "MalformedPOSTRequest")
    # fields before the file over 20 KB
    f = v4_form(srv, std_conditions() + [["starts-with", "$x-amz-meta-big", ""]],
                [("key", "up/big"), ("x-amz-meta-big", "b" * 21000)])
    r = post(srv, *multipart(f, ("file", "f", None, b"x")))
    expect_error(r, 400, "MaxPostPreDataLengthExceededError")
    # a bucket that does not exist
    f = v4_form(srv, [["starts-with", "$key", ""]], [("key", "k")])
    r = post(srv, *multipart(f, ("file", "f", None, b"x")), path="/no-such-bucket-here")
    expect_error(r, 404, "NoSuchBucket")


def test_other_users_bucket(srv):
    if srv.external:
        return
    ak, sk = srv.add_user("poster")
    f = v4_form(srv, std_conditions(), [("key", "up/not-mine")], key=ak, secret=sk)
    expect_error(post(srv, *multipart(f, ("file", "f", None, b"x"))), 403, "AccessDenied")
    uc = srv.client(ak, sk)
    uc.create_bucket(Bucket="poster-bkt")
    f = v4_form(srv, [{"bucket": "poster-bkt"}, ["starts-with", "$key", ""]], [("key", "mine")],
                key=ak, secret=sk)
    r = post(srv, *multipart(f, ("file", "f", None, b"mine")), path="/poster-bkt")
    assert r.status == 204, r
    assert uc.get_object(Bucket="poster-bkt", Key="mine")["Body"].read() == b"mine"


if __name__ == "__main__":
    run_tests(globals(), setup=setup)
