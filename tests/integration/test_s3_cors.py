#!/usr/bin/env python3
"""S3 CORS: PutBucketCors / GetBucketCors / DeleteBucketCors with boto3 and
raw requests (every validation error, the integrity header S3 requires),
the anonymous OPTIONS preflight over raw http.client (allowed and denied
origins, methods and headers, wildcard origins, max-age, expose headers,
path-style and virtual-hosted), and the Access-Control-* headers on actual
responses: GET, HEAD, PUT, presigned, and errors such as 404 and 403.
"""
import base64
import hashlib
import xml.etree.ElementTree as ET

from cairn_test import Server, captured_requests, expect_error, raw, run_tests

VARY = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"
NOT_ALLOWED = ("CORSResponse: This CORS request is not allowed. This is usually because the "
               "evalution of Origin, request method / Access-Control-Request-Method or "
               "Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.")
NOT_ENABLED = "CORSResponse: CORS is not enabled for this bucket."
NO_BUCKET = "CORSResponse: Bucket not found"
NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"

SITE = {
    "ID": "site",
    "AllowedOrigins": ["https://app.test", "http://*.example.com"],
    "AllowedMethods": ["GET", "PUT", "DELETE"],
    "AllowedHeaders": ["content-type", "x-amz-*"],
    "ExposeHeaders": ["ETag", "x-amz-request-id"],
    "MaxAgeSeconds": 600,
}
PUBLIC = {"ID": "public", "AllowedOrigins": ["*"], "AllowedMethods": ["GET", "HEAD"]}
# what the SITE rule answers https://app.test with (on a preflight, plus
# Access-Control-Allow-Headers when headers are asked for)
SITE_HEADERS = {
    "access-control-allow-origin": "https://app.test",
    "access-control-allow-methods": "GET, PUT, DELETE",
    "access-control-expose-headers": "ETag, x-amz-request-id",
    "access-control-max-age": "600",
    "access-control-allow-credentials": "true",
    "vary": VARY,
}


def cors_headers(r):
    return {k: v for k, v in r.headers.items() if k.startswith("access-control-") or k == "vary"}


def md5_b64(body):
    return base64.b64encode(hashlib.md5(body).digest()).decode()


def put_cors_raw(srv, bucket, body, headers=None, md5=True):
    h = dict(headers or {})
    if md5:
        h["Content-MD5"] = md5_b64(body)
    return raw(srv, "PUT", "/%s?cors" % bucket, headers=h, body=body)


def doc(*rules):
    return ("<CORSConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">%s"
            "</CORSConfiguration>" % "".join("<CORSRule>%s</CORSRule>" % r for r in rules)).encode()


MINIMAL = "<AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod>"


def preflight(srv, path, origin=None, method=None, headers=None, extra=None):
    h = dict(extra or {})
    if origin is not None:
        h["Origin"] = origin
    if method is not None:
        h["Access-Control-Request-Method"] = method
    if headers is not None:
        h["Access-Control-Request-Headers"] = headers
    return raw(srv, "OPTIONS", path, headers=h, sign=False)


def forbidden(r, message, method, resource_type):
    assert r.status == 403, r
    e = r.error()
    assert e["Code"] == "AccessForbidden", e
    assert e["Message"] == message, e
    assert e["Method"] == method and e["ResourceType"] == resource_type, e
    assert cors_headers(r) == {}, r.headers


def setup():
    srv = Server()
    c = srv.client()
    for b in ("cors-main", "cors-none"):
        c.create_bucket(Bucket=b)
    c.put_object(Bucket="cors-main", Key="dir/obj.txt", Body=b"cross-origin bytes")
    c.put_bucket_cors(Bucket="cors-main", CORSConfiguration={"CORSRules": [SITE, PUBLIC]})
    return srv


# ---------------------------------------------------------------------------
# the configuration calls

def test_round_trip_replace_delete(srv):
    c = srv.client()
    c.create_bucket(Bucket="cors-rt")
    expect_error("NoSuchCORSConfiguration", c.get_bucket_cors, Bucket="cors-rt")
    with captured_requests(c, "PutBucketCors") as sent:
        c.put_bucket_cors(Bucket="cors-rt", CORSConfiguration={"CORSRules": [SITE, PUBLIC]})
    # the integrity header S3 requires is what boto3 sends (MD5 or a checksum)
    names = {k.lower() for k in sent[0].headers.keys()}
    assert "content-md5" in names or any(n.startswith("x-amz-checksum-") for n in names) or \
        "x-amz-trailer" in names, names
    got = c.get_bucket_cors(Bucket="cors-rt")["CORSRules"]
    assert got == [SITE, PUBLIC], got
    # the document: S3's namespace, elements in S3's order
    r = raw(srv, "GET", "/cors-rt?cors")
    assert r.status == 200, r
    root = ET.fromstring(r.body)
    assert root.tag == NS + "CORSConfiguration", root.tag
    order = [e.tag[len(NS):] for e in root.find(NS + "CORSRule")]
    assert order == ["ID", "AllowedMethod", "AllowedMethod", "AllowedMethod", "AllowedOrigin",
                     "AllowedOrigin", "AllowedHeader", "AllowedHeader", "MaxAgeSeconds",
                     "ExposeHeader", "ExposeHeader"], order
    # a second PUT replaces the rules
    c.put_bucket_cors(Bucket="cors-rt", CORSConfiguration={"CORSRules": [PUBLIC]})
    assert c.get_bucket_cors(Bucket="cors-rt")["CORSRules"] == [PUBLIC]
    # the rules survive a restart
    if not srv.external:
        srv.restart()
        assert c.get_bucket_cors(Bucket="cors-rt")["CORSRules"] == [PUBLIC]
    c.delete_bucket_cors(Bucket="cors-rt")
    expect_error("NoSuchCORSConfiguration", c.get_bucket_cors, Bucket="cors-rt")
    r = raw(srv, "DELETE", "/cors-rt?cors")  # deleting what is not there: 204 as S3
    assert r.status == 204, r
    # deleting the bucket deletes its rules: a new bucket of that name has none
    c.put_bucket_cors(Bucket="cors-rt", CORSConfiguration={"CORSRules": [PUBLIC]})
    c.delete_bucket(Bucket="cors-rt")
    c.create_bucket(Bucket="cors-rt")
    expect_error("NoSuchCORSConfiguration", c.get_bucket_cors, Bucket="cors-rt")
    r = preflight(srv, "/cors-rt/k", "https://x.test", "GET")
    forbidden(r, NOT_ENABLED, "GET", "OBJECT")


def test_owner_only_and_missing_bucket(srv):
    c = srv.client()
    if not srv.external:
        ak, sk = srv.add_user("cors-other")
        other = srv.client(ak, sk)
        expect_error("AccessDenied", other.get_bucket_cors, Bucket="cors-main")
        expect_error("AccessDenied", other.put_bucket_cors, Bucket="cors-main",
                     CORSConfiguration={"CORSRules": [PUBLIC]})
        expect_error("AccessDenied", other.delete_bucket_cors, Bucket="cors-main")
        assert len(c.get_bucket_cors(Bucket="cors-main")["CORSRules"]) == 2
    for fn, kw in ((c.get_bucket_cors, {}), (c.delete_bucket_cors, {}),
                   (c.put_bucket_cors, {"CORSConfiguration": {"CORSRules": [PUBLIC]}})):
        expect_error("NoSuchBucket", fn, Bucket="cors-no-such-bucket", **kw)


def test_validation_malformed_xml(srv):
    c = srv.client()
    c.create_bucket(Bucket="cors-bad")
    long_id = "<ID>%s</ID>" % ("a" * 256)
    cases = {
        "not xml": b"<CORSConfiguration><CORSRule>",
        "other root": b"<Cors><CORSRule>" + MINIMAL.encode() + b"</CORSRule></Cors>",
        "no rule": doc(),
        "101 rules": doc(*([MINIMAL] * 101)),
        "no AllowedMethod": doc("<AllowedOrigin>*</AllowedOrigin>"),
        "no AllowedOrigin": doc("<AllowedMethod>GET</AllowedMethod>"),
        "second rule without AllowedOrigin": doc(MINIMAL, "<AllowedMethod>GET</AllowedMethod>"),
        "unknown element": doc(MINIMAL + "<AllowedHeaders>*</AllowedHeaders>"),
        "element in a value": doc("<AllowedOrigin><O>x</O></AllowedOrigin><AllowedMethod>GET</AllowedMethod>"),
        "MaxAgeSeconds a word": doc(MINIMAL + "<MaxAgeSeconds>hour</MaxAgeSeconds>"),
        "MaxAgeSeconds negative": doc(MINIMAL + "<MaxAgeSeconds>-1</MaxAgeSeconds>"),
        "MaxAgeSeconds above int32": doc(MINIMAL + "<MaxAgeSeconds>2147483648</MaxAgeSeconds>"),
        "two MaxAgeSeconds": doc(MINIMAL + "<MaxAgeSeconds>1</MaxAgeSeconds><MaxAgeSeconds>2</MaxAgeSeconds>"),
        "ID of 256": doc(MINIMAL + long_id),
        "two IDs": doc(MINIMAL + "<ID>a</ID><ID>b</ID>"),
        # structure wins over a bad value elsewhere
        "bad method and unknown element": doc("<AllowedOrigin>*</AllowedOrigin><AllowedMethod>PATCH</AllowedMethod>",
                                              MINIMAL + "<Status/>"),
    }
    for name, body in cases.items():
        r = put_cors_raw(srv, "cors-bad", body)
        assert r.status == 400, (name, r)
        e = r.error()
        assert e["Code"] == "MalformedXML", (name, e)
    expect_error("NoSuchCORSConfiguration", c.get_bucket_cors, Bucket="cors-bad")
    # 100 rules are accepted
    r = put_cors_raw(srv, "cors-bad", doc(*([MINIMAL] * 100)))
    assert r.status == 200, r
    assert len(c.get_bucket_cors(Bucket="cors-bad")["CORSRules"]) == 100
    # an ID of 255 characters too
    r = put_cors_raw(srv, "cors-bad", doc(MINIMAL + "<ID>%s</ID>" % ("b" * 255)))
    assert r.status == 200, r
    c.delete_bucket_cors(Bucket="cors-bad")


def test_validation_invalid_request(srv):
    c = srv.client()
    c.create_bucket(Bucket="cors-inv")
    cases = [
        ("<AllowedOrigin>*</AllowedOrigin><AllowedMethod>PATCH</AllowedMethod>",
         "Found unsupported HTTP method in CORS config. Unsupported method is PATCH"),
        ("<AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod><AllowedMethod>OPTIONS</AllowedMethod>",
         "Found unsupported HTTP method in CORS config. Unsupported method is OPTIONS"),
        ("<AllowedOrigin>*</AllowedOrigin><AllowedMethod>get</AllowedMethod>",
         "Found unsupported HTTP method in CORS config. Unsupported method is get"),
        ("<AllowedOrigin>http://*.*.example.com</AllowedOrigin><AllowedMethod>GET</AllowedMethod>",
         'AllowedOrigin "http://*.*.example.com" can not have more than one wildcard.'),
        (MINIMAL + "<AllowedHeader>x-*-*</AllowedHeader>",
         'AllowedHeader "x-*-*" can not have more than one wildcard.'),
        (MINIMAL + "<ExposeHeader>x-amz-*</ExposeHeader>",
         'ExposeHeader "x-amz-*" contains wildcard. We currently do not support wildcard for ExposeHeader.'),
    ]
    for rule, message in cases:
        r = put_cors_raw(srv, "cors-inv", doc(MINIMAL, rule))
        assert r.status == 400, (rule, r)
        e = r.error()
        assert (e["Code"], e["Message"]) == ("InvalidRequest", message), (rule, e)
    # and through boto3, as users meet it
    e = expect_error("InvalidRequest", c.put_bucket_cors, Bucket="cors-inv", CORSConfiguration={
        "CORSRules": [{"AllowedOrigins": ["*"], "AllowedMethods": ["GET", "PATCH"]}]})
    assert "Unsupported method is PATCH" in e.response["Error"]["Message"], e.response
    expect_error("MalformedXML", c.put_bucket_cors, Bucket="cors-inv",
                 CORSConfiguration={"CORSRules": []})
    expect_error("NoSuchCORSConfiguration", c.get_bucket_cors, Bucket="cors-inv")


def test_integrity_header_and_body_limits(srv):
    body = doc(MINIMAL)
    r = put_cors_raw(srv, "cors-main", body, md5=False)
    assert r.status == 400, r
    e = r.error()
    assert e["Code"] == "InvalidRequest", e
    assert e["Message"] == "Missing required header for this request: Content-MD5 OR x-amz-checksum-*", e
    r = put_cors_raw(srv, "cors-main", body, {"Content-MD5": md5_b64(b"other")}, md5=False)
    assert r.status == 400 and r.error()["Code"] == "BadDigest", r
    r = put_cors_raw(srv, "cors-main", body, {"Content-MD5": "not base64!"}, md5=False)
    assert r.status == 400 and r.error()["Code"] == "InvalidDigest", r
    sha = base64.b64encode(hashlib.sha256(body).digest()).decode()
    r = put_cors_raw(srv, "cors-main", body, {"x-amz-checksum-sha256": base64.b64encode(b"x" * 32).decode()},
                     md5=False)
    assert r.status == 400 and r.error()["Code"] == "BadDigest", r
    r = raw(srv, "PUT", "/cors-main?cors", body=b"", headers={"Content-MD5": md5_b64(b"")})
    assert r.status == 400 and r.error()["Code"] == "MissingRequestBodyError", r
    big = doc(MINIMAL + "<ID>%s</ID>" % ("c" * 200), *([MINIMAL + "<AllowedHeader>%s</AllowedHeader>" % ("h" * 700)] * 99))
    assert len(big) > 64 * 1024
    r = put_cors_raw(srv, "cors-main", big)
    assert r.status == 400 and r.error()["Code"] == "MaxMessageLengthExceeded", r
    # none of that touched the rules
    assert len(srv.client().get_bucket_cors(Bucket="cors-main")["CORSRules"]) == 2
    # a correct checksum header alone is enough (what current SDKs send)
    c = srv.client()
    before = c.get_bucket_cors(Bucket="cors-main")["CORSRules"]
    r = put_cors_raw(srv, "cors-main", body, {"x-amz-checksum-sha256": sha}, md5=False)
    assert r.status == 200, r
    assert c.get_bucket_cors(Bucket="cors-main")["CORSRules"] == [
        {"AllowedOrigins": ["*"], "AllowedMethods": ["GET"]}]
    c.put_bucket_cors(Bucket="cors-main", CORSConfiguration={"CORSRules": before})
    assert c.get_bucket_cors(Bucket="cors-main")["CORSRules"] == [SITE, PUBLIC]


# ---------------------------------------------------------------------------
# preflight

def test_preflight_allowed(srv):
    # exact origin, object URL, headers asked in any case and spacing
    r = preflight(srv, "/cors-main/dir/obj.txt", "https://app.test", "PUT",
                  "Content-Type, X-Amz-Date,x-amz-meta-owner")
    assert r.status == 200 and r.body == b"", r
    assert cors_headers(r) == dict(SITE_HEADERS, **{
        "access-control-allow-headers": "content-type, x-amz-date, x-amz-meta-owner"}), r.headers
    # wildcard origin, bucket URL, a key that does not exist (no lookup of it)
    for path in ("/cors-main", "/cors-main/", "/cors-main/no/such/key"):
        r = preflight(srv, path, "http://a.b.example.com", "DELETE")
        assert r.status == 200, (path, r)
        assert r.headers["access-control-allow-origin"] == "http://a.b.example.com", r.headers
        assert "access-control-allow-headers" not in r.headers
    # the "*" rule: no echo, no credentials, only its own methods
    r = preflight(srv, "/cors-main/dir/obj.txt", "https://elsewhere.test", "HEAD")
    assert cors_headers(r) == {"access-control-allow-origin": "*",
                               "access-control-allow-methods": "GET, HEAD", "vary": VARY}, r
    # first matching rule wins: GET from a site origin is the site rule
    r = preflight(srv, "/cors-main/dir/obj.txt", "https://app.test", "GET")
    assert r.headers["access-control-max-age"] == "600", r.headers
    # no credentials needed, and none looked at: a bad Authorization changes nothing
    r = preflight(srv, "/cors-main/dir/obj.txt", "https://app.test", "GET",
                  extra={"Authorization": "AWS4-HMAC-SHA256 garbage"})
    assert r.status == 200, r
    # a query string is the actual request's business
    r = preflight(srv, "/cors-main/dir/obj.txt?uploads", "https://app.test", "PUT")
    assert r.status == 200, r


def test_preflight_denied(srv):
    obj = "/cors-main/dir/obj.txt"
    cases = [
        (obj, "https://evil.test", "PUT", None, "OBJECT"),          # origin not listed
        (obj, "https://APP.test", "PUT", None, "OBJECT"),           # origins are case-sensitive
        (obj, "http://example.com", "PUT", None, "OBJECT"),         # *.example.com needs a dot
        (obj, "https://a.example.com", "PUT", None, "OBJECT"),      # scheme differs
        (obj, "https://app.test", "POST", None, "OBJECT"),          # method not listed
        ("/cors-main", "https://app.test", "POST", None, "BUCKET"),
        (obj, "https://app.test", "PUT", "content-type, authorization", "OBJECT"),  # one header not allowed
        (obj, "https://elsewhere.test", "GET", "content-type", "OBJECT"),  # "*" rule allows no header
    ]
    for path, origin, method, headers, rtype in cases:
        forbidden(preflight(srv, path, origin, method, headers), NOT_ALLOWED, method, rtype)
    forbidden(preflight(srv, "/cors-none/k", "https://app.test", "GET"), NOT_ENABLED, "GET", "OBJECT")
    forbidden(preflight(srv, "/cors-none", "https://app.test", "PUT"), NOT_ENABLED, "PUT", "BUCKET")
    forbidden(preflight(srv, "/cors-missing-bkt/k", "https://app.test", "GET"), NO_BUCKET, "GET", "OBJECT")


def test_preflight_bad_requests(srv):
    for origin, method, message in (
            (None, "GET", "Insufficient information. Origin request header needed."),
            ("", "GET", "Insufficient information. Origin request header needed."),
            ("https://app.test", None, "Invalid Access-Control-Request-Method: null"),
            ("https://app.test", "PATCH", "Invalid Access-Control-Request-Method: PATCH"),
            ("https://app.test", "get", "Invalid Access-Control-Request-Method: get")):
        r = preflight(srv, "/cors-main/dir/obj.txt", origin, method)
        assert r.status == 400, (origin, method, r)
        e = r.error()
        assert (e["Code"], e["Message"]) == ("BadRequest", message), e
        assert cors_headers(r) == {}, r.headers
    # the same checks come before the bucket's: no bucket, no rules
    r = preflight(srv, "/cors-none/k", None, "GET")
    assert r.status == 400, r
    # OPTIONS outside a bucket is not a preflight of anything
    r = preflight(srv, "/", "https://app.test", "GET")
    assert r.status == 405, r


def test_preflight_virtual_hosted(srv):
    if srv.external:
        print("     (skipped: needs its own server started with --domain)")
        return
    vs = Server("--domain", "localhost")
    try:
        c = vs.client()
        c.create_bucket(Bucket="vcors")
        c.put_bucket_cors(Bucket="vcors", CORSConfiguration={"CORSRules": [SITE]})
        host = "vcors.localhost:%d" % vs.port
        r = preflight(vs, "/some/key", "https://app.test", "PUT", "content-type",
                      extra={"Host": host})
        assert r.status == 200, r
        assert r.headers["access-control-allow-origin"] == "https://app.test", r.headers
        assert r.headers["access-control-allow-headers"] == "content-type", r.headers
        r = preflight(vs, "/", "https://evil.test", "GET", extra={"Host": host})
        forbidden(r, NOT_ALLOWED, "GET", "BUCKET")
    finally:
        vs.close()


# ---------------------------------------------------------------------------
# actual requests

def test_headers_on_actual_responses(srv):
    obj = "/cors-main/dir/obj.txt"
    site = {"Origin": "https://app.test"}
    # signed GET: the rule's headers, ETag exposed
    r = raw(srv, "GET", obj, headers=site)
    assert r.status == 200 and r.body == b"cross-origin bytes", r
    assert cors_headers(r) == SITE_HEADERS, r.headers
    assert r.headers["etag"], r.headers
    # no Origin: no CORS headers at all
    r = raw(srv, "GET", obj)
    assert r.status == 200 and cors_headers(r) == {}, r.headers
    # an origin no rule allows for GET except "*": the public rule
    r = raw(srv, "GET", obj, headers={"Origin": "https://elsewhere.test"})
    assert cors_headers(r) == {"access-control-allow-origin": "*",
                               "access-control-allow-methods": "GET, HEAD", "vary": VARY}, r
    # HEAD from a site origin: only the public rule lists HEAD
    r = raw(srv, "HEAD", obj, headers=site)
    assert r.status == 200 and r.headers["access-control-allow-origin"] == "*", r.headers
    # a method no rule allows for the origin: nothing
    r = raw(srv, "POST", obj + "?uploads", headers={"Origin": "https://elsewhere.test"})
    assert r.status == 200 and cors_headers(r) == {}, r
    raw(srv, "DELETE", obj + "?uploadId=" + ET.fromstring(r.body).find(NS + "UploadId").text)
    # errors carry them too: 404, anonymous 403, presigned
    r = raw(srv, "GET", "/cors-main/no-such-key", headers=site)
    assert r.status == 404 and r.error()["Code"] == "NoSuchKey", r
    assert r.headers["access-control-allow-origin"] == "https://app.test", r.headers
    assert r.headers["access-control-expose-headers"] == "ETag, x-amz-request-id", r.headers
    r = raw(srv, "GET", obj, headers=site, sign=False)
    assert r.status == 403, r
    assert r.headers["access-control-allow-origin"] == "https://app.test", r.headers
    # PUT (signed) and DELETE
    r = raw(srv, "PUT", "/cors-main/put.txt", headers=dict(site, **{"Content-Type": "text/plain"}),
            body=b"put from a page")
    assert r.status == 200, r
    assert r.headers["access-control-allow-origin"] == "https://app.test", r.headers
    r = raw(srv, "DELETE", "/cors-main/put.txt", headers={"Origin": "http://x.example.com"})
    assert r.status == 204 and r.headers["access-control-allow-origin"] == "http://x.example.com", r
    # a presigned URL, as a browser uses it
    c = srv.client()
    url = c.generate_presigned_url("get_object", Params={"Bucket": "cors-main", "Key": "dir/obj.txt"},
                                   ExpiresIn=300)
    target = url[url.index("/", len("http://")):]
    r = raw(srv, "GET", target, headers=site, sign=False)
    assert r.status == 200 and r.body == b"cross-origin bytes", r
    assert r.headers["access-control-allow-origin"] == "https://app.test", r.headers
    # a bucket without rules: nothing, even with an Origin
    r = raw(srv, "GET", "/cors-none", headers=site)
    assert r.status == 200 and cors_headers(r) == {}, r.headers
    # S3 takes the method from Access-Control-Request-Method when one is sent
    r = raw(srv, "GET", obj, headers={"Origin": "https://elsewhere.test",
                                      "Access-Control-Request-Method": "PUT"})
    assert r.status == 200 and cors_headers(r) == {}, r.headers


if __name__ == "__main__":
    run_tests(globals(), setup=setup)
