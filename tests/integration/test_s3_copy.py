"""CopyObject through boto3: same and cross bucket, metadata directives,
copy onto itself, x-amz-copy-source-if-* preconditions, errors, keys with
special characters, a 12 MiB multipart source, and that a copy shares the
source's chunks by reference count (deleting the source, even after the
collector ran, leaves the copy readable; a copy adds no chunks).
"""
import datetime
import hashlib
import os
import urllib.error
import urllib.parse
import urllib.request

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from cairn_test import Server, bucket_maker, chunk_stats, expect_error, gc_now, run_tests

MiB = 1 << 20

new_bucket = bucket_maker("cpy")


def md5q(b):
    return '"%s"' % hashlib.md5(b).hexdigest()


def get_bytes(c, b, key):
    return c.get_object(Bucket=b, Key=key)["Body"].read()


def exists(c, b, key):
    try:
        c.head_object(Bucket=b, Key=key)
        return True
    except c.exceptions.ClientError as e:
        assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 404, e.response
        return False


def raw_request(srv, method, path, headers=None, body=b""):
    """A SigV4-signed request with exactly these headers (boto3 would
    re-encode x-amz-copy-source): returns (status, body bytes)."""
    url = srv.endpoint + urllib.parse.quote(path, safe="/-_.~")
    req = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    S3SigV4Auth(Credentials(srv.key, srv.secret), "s3", "us-east-1").add_auth(req)
    ureq = urllib.request.Request(url, data=body, method=method, headers=dict(req.headers.items()))
    try:
        with urllib.request.urlopen(ureq, timeout=30) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


SRC_HEADERS = dict(ContentType="text/x-source", Metadata={"color": "blue", "shape": "round"},
                   CacheControl="max-age=60", ContentDisposition='attachment; filename="s.txt"',
                   ContentLanguage="en")


def check_source_attrs(h, what):
    assert h["ContentType"] == "text/x-source", (what, h["ContentType"])
    assert h["Metadata"] == {"color": "blue", "shape": "round"}, (what, h["Metadata"])
    assert h.get("CacheControl") == "max-age=60", (what, h.get("CacheControl"))
    assert h.get("ContentDisposition") == 'attachment; filename="s.txt"', (what, h.get("ContentDisposition"))
    assert h.get("ContentLanguage") == "en", (what, h.get("ContentLanguage"))


# ---------------------------------------------------------------------------

def test_copy_same_and_cross_bucket(srv):
    c = srv.client()
    b1 = new_bucket(c, "a")
    b2 = new_bucket(c, "b")
    data = os.urandom(300 * 1024)            # above the inline threshold
    small = b"small object body"
    c.put_object(Bucket=b1, Key="src", Body=data, **SRC_HEADERS)
    c.put_object(Bucket=b1, Key="small", Body=small, **SRC_HEADERS)
    for dst_b, dst_k, src_k, body in [(b1, "dst", "src", data), (b2, "dst", "src", data),
                                      (b1, "dst-small", "small", small), (b2, "x/y/z", "small", small)]:
        r = c.copy_object(Bucket=dst_b, Key=dst_k, CopySource={"Bucket": b1, "Key": src_k})
        res = r["CopyObjectResult"]
        assert res["ETag"] == md5q(body), (dst_b, dst_k, res["ETag"])
        assert "LastModified" in res
        # unversioned buckets: no version ids in the answer
        assert "CopySourceVersionId" not in r and "VersionId" not in r, (
            r.get("CopySourceVersionId"), r.get("VersionId"))
        g = c.get_object(Bucket=dst_b, Key=dst_k)
        assert g["Body"].read() == body, (dst_b, dst_k)
        assert g["ETag"] == md5q(body) and g["ContentLength"] == len(body)
        check_source_attrs(g, (dst_b, dst_k))
    # explicit COPY ignores metadata sent with the request
    c.copy_object(Bucket=b2, Key="dst2", CopySource={"Bucket": b1, "Key": "src"}, MetadataDirective="COPY",
                  ContentType="text/ignored", Metadata={"ignored": "yes"})
    check_source_attrs(c.head_object(Bucket=b2, Key="dst2"), "COPY")
    # copying over an existing object replaces it
    c.copy_object(Bucket=b2, Key="dst2", CopySource={"Bucket": b1, "Key": "small"})
    assert get_bytes(c, b2, "dst2") == small
    assert [o["Key"] for o in c.list_objects_v2(Bucket=b2)["Contents"]] == ["dst", "dst2", "x/y/z"]
    # source untouched
    assert get_bytes(c, b1, "src") == data
    check_source_attrs(c.head_object(Bucket=b1, Key="src"), "source")


def test_metadata_replace(srv):
    c = srv.client()
    b = new_bucket(c, "repl")
    data = os.urandom(200 * 1024)
    c.put_object(Bucket=b, Key="src", Body=data, **SRC_HEADERS)
    c.copy_object(Bucket=b, Key="dst", CopySource={"Bucket": b, "Key": "src"}, MetadataDirective="REPLACE",
                  ContentType="application/x-new", Metadata={"size": "large"})
    h = c.head_object(Bucket=b, Key="dst")
    assert h["ContentType"] == "application/x-new", h["ContentType"]
    assert h["Metadata"] == {"size": "large"}, h["Metadata"]
    assert "CacheControl" not in h and "ContentDisposition" not in h and "ContentLanguage" not in h, (
        "REPLACE drops the source's headers", h.get("CacheControl"), h.get("ContentDisposition"))
    assert h["ETag"] == md5q(data) and get_bytes(c, b, "dst") == data
    # REPLACE with no content type: the default one, not the source's
    c.copy_object(Bucket=b, Key="dst3", CopySource={"Bucket": b, "Key": "src"}, MetadataDirective="REPLACE")
    h = c.head_object(Bucket=b, Key="dst3")
    assert h["Metadata"] == {}, h["Metadata"]
    assert h["ContentType"] == "binary/octet-stream", h["ContentType"]
    check_source_attrs(c.head_object(Bucket=b, Key="src"), "source")
    nv = srv.client(parameter_validation=False)
    expect_error("InvalidArgument", nv.copy_object, Bucket=b, Key="dst4", CopySource={"Bucket": b, "Key": "src"},
                 MetadataDirective="MERGE")
    assert not exists(c, b, "dst4")


def test_copy_onto_itself(srv):
    c = srv.client()
    b = new_bucket(c, "self")
    data = os.urandom(150 * 1024)
    c.put_object(Bucket=b, Key="k", Body=data, **SRC_HEADERS)
    before = c.head_object(Bucket=b, Key="k")
    e = expect_error("InvalidRequest", c.copy_object, Bucket=b, Key="k", CopySource={"Bucket": b, "Key": "k"})
    assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    expect_error("InvalidRequest", c.copy_object, Bucket=b, Key="k", CopySource={"Bucket": b, "Key": "k"},
                 MetadataDirective="COPY")
    check_source_attrs(c.head_object(Bucket=b, Key="k"), "after refused self-copy")
    r = c.copy_object(Bucket=b, Key="k", CopySource={"Bucket": b, "Key": "k"}, MetadataDirective="REPLACE",
                      ContentType="text/changed", Metadata={"rev": "2"})
    assert r["CopyObjectResult"]["ETag"] == md5q(data)
    h = c.head_object(Bucket=b, Key="k")
    assert h["ContentType"] == "text/changed" and h["Metadata"] == {"rev": "2"}, (h["ContentType"], h["Metadata"])
    assert h["LastModified"] >= before["LastModified"]
    assert get_bytes(c, b, "k") == data
    assert [o["Key"] for o in c.list_objects_v2(Bucket=b)["Contents"]] == ["k"]


def test_copy_source_preconditions(srv):
    c = srv.client()
    b = new_bucket(c, "cond")
    data = b"conditional copy source"
    c.put_object(Bucket=b, Key="src", Body=data)
    h = c.head_object(Bucket=b, Key="src")
    etag, mtime = h["ETag"], h["LastModified"]
    day = datetime.timedelta(days=1)
    src = {"Bucket": b, "Key": "src"}
    n = [0]

    def copy(**kw):
        n[0] += 1
        key = "dst%d" % n[0]
        c.copy_object(Bucket=b, Key=key, CopySource=src, **kw)
        assert get_bytes(c, b, key) == data
        return key

    def refused(**kw):
        n[0] += 1
        key = "dst%d" % n[0]
        e = expect_error("PreconditionFailed", c.copy_object, Bucket=b, Key=key, CopySource=src, **kw)
        assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 412, kw
        assert not exists(c, b, key), "a refused copy created %s" % key

    copy(CopySourceIfMatch=etag)
    refused(CopySourceIfMatch='"%s"' % ("0" * 32))
    copy(CopySourceIfNoneMatch='"%s"' % ("0" * 32))
    refused(CopySourceIfNoneMatch=etag)
    copy(CopySourceIfModifiedSince=mtime - day)
    refused(CopySourceIfModifiedSince=mtime)
    copy(CopySourceIfUnmodifiedSince=mtime)
    copy(CopySourceIfUnmodifiedSince=mtime + day)
    refused(CopySourceIfUnmodifiedSince=mtime - day)
    # S3: if-match true and if-unmodified-since false -> the copy happens
    copy(CopySourceIfMatch=etag, CopySourceIfUnmodifiedSince=mtime - day)
    # S3: if-none-match false and if-modified-since true -> 412
    refused(CopySourceIfNoneMatch=etag, CopySourceIfModifiedSince=mtime - day)
    refused(CopySourceIfMatch='"%s"' % ("0" * 32), CopySourceIfUnmodifiedSince=mtime + day)


def test_copy_errors(srv):
    c = srv.client()
    b = new_bucket(c, "err")
    c.put_object(Bucket=b, Key="src", Body=b"x")
    expect_error("NoSuchKey", c.copy_object, Bucket=b, Key="dst", CopySource={"Bucket": b, "Key": "missing"})
    expect_error("NoSuchBucket", c.copy_object, Bucket=b, Key="dst",
                 CopySource={"Bucket": "cpy-no-such-bucket", "Key": "src"})
    expect_error("NoSuchBucket", c.copy_object, Bucket="cpy-no-such-bucket", Key="dst",
                 CopySource={"Bucket": b, "Key": "src"})
    expect_error("InvalidArgument", c.copy_object, Bucket=b, Key="dst", CopySource=b)
    expect_error("InvalidArgument", c.copy_object, Bucket=b, Key="dst", CopySource=b + "/")
    assert [o["Key"] for o in c.list_objects_v2(Bucket=b)["Contents"]] == ["src"]


SPECIAL = ["dir/a b+c%d&e?f#g=h;i,j:k@l$m!n'o(p)q*r~s",
           "unicode/\u00e9\u65e5\u672c\U0001F600",
           "slash//double/",
           "percent%2Fencoded%20already",
           "tab\tand\nnewline"]


def test_copy_special_keys(srv):
    c = srv.client()
    b = new_bucket(c, "spec")
    for i, key in enumerate(SPECIAL):
        body = ("body of %r" % key).encode()
        c.put_object(Bucket=b, Key=key, Body=body)
        # dict form: boto3 encodes the source
        c.copy_object(Bucket=b, Key="copy1/" + key, CopySource={"Bucket": b, "Key": key})
        assert get_bytes(c, b, "copy1/" + key) == body, key
        # string form: boto3 URL-encodes it (keeping '/')
        c.copy_object(Bucket=b, Key="copy2/%d" % i, CopySource="%s/%s" % (b, key))
        assert get_bytes(c, b, "copy2/%d" % i) == body, key
        # raw header, every byte but unreserved ones encoded, '/' as %2F
        # (what Go's url.PathEscape(bucket + "/" + key) sends; S3 takes it)
        hdr = urllib.parse.quote("%s/%s" % (b, key), safe="-_.~")
        st, out = raw_request(srv, "PUT", "/%s/copy3/%d" % (b, i), {"x-amz-copy-source": hdr})
        assert st == 200 and b"<CopyObjectResult" in out, (key, hdr, st, out)
        assert get_bytes(c, b, "copy3/%d" % i) == body, key
        # raw header with a leading slash and '/' left as is
        hdr = "/" + urllib.parse.quote("%s/%s" % (b, key), safe="/-_.~")
        st, out = raw_request(srv, "PUT", "/%s/copy4/%d" % (b, i), {"x-amz-copy-source": hdr})
        assert st == 200 and b"<CopyObjectResult" in out, (key, hdr, st, out)
        assert get_bytes(c, b, "copy4/%d" % i) == body, key
    keys = {o["Key"] for o in c.list_objects_v2(Bucket=b)["Contents"]}
    assert keys == set(SPECIAL) | {"copy1/" + k for k in SPECIAL} | \
        {"copy%d/%d" % (j, i) for j in (2, 3, 4) for i in range(len(SPECIAL))}, keys


def test_copy_large_multipart_shares_chunks(srv):
    c = srv.client()
    b = new_bucket(c, "big")
    b2 = new_bucket(c, "big2")
    internal = not srv.external
    if internal:
        gc_now(srv)
        base, _ = chunk_stats(srv)
    parts = [os.urandom(5 * MiB), os.urandom(5 * MiB), os.urandom(2 * MiB)]
    data = b"".join(parts)
    uid = c.create_multipart_upload(Bucket=b, Key="src", ContentType="video/x-test",
                                    Metadata={"origin": "mpu"})["UploadId"]
    done = []
    for i, p in enumerate(parts, 1):
        done.append({"PartNumber": i, "ETag": c.upload_part(Bucket=b, Key="src", UploadId=uid, PartNumber=i,
                                                            Body=p)["ETag"]})
    c.complete_multipart_upload(Bucket=b, Key="src", UploadId=uid, MultipartUpload={"Parts": done})
    if internal:
        gc_now(srv)
        with_src, unref = chunk_stats(srv)
        assert with_src > base and unref == 0, (base, with_src, unref)
    c.copy_object(Bucket=b2, Key="copy", CopySource={"Bucket": b, "Key": "src"})
    c.copy_object(Bucket=b, Key="copy-same-bucket", CopySource={"Bucket": b, "Key": "src"})
    g = c.get_object(Bucket=b2, Key="copy")
    got = g["Body"].read()
    assert len(got) == len(data) and got == data, "12 MiB copy differs"
    assert g["ContentType"] == "video/x-test" and g["Metadata"] == {"origin": "mpu"}
    assert g["ContentLength"] == len(data)
    r = c.get_object(Bucket=b2, Key="copy", Range="bytes=%d-%d" % (5 * MiB - 3, 5 * MiB + 2))
    assert r["Body"].read() == data[5 * MiB - 3:5 * MiB + 3]
    if internal:
        assert chunk_stats(srv)[0] == with_src, "a copy must not store new chunks"
    c.delete_object(Bucket=b, Key="src")
    expect_error("NoSuchKey", c.get_object, Bucket=b, Key="src")
    assert get_bytes(c, b2, "copy") == data, "copy unreadable after deleting the source"
    if internal:
        gc_now(srv)
        assert chunk_stats(srv) == (with_src, 0), "chunks still referenced by the copies must stay"
        assert get_bytes(c, b2, "copy") == data, "copy unreadable after deleting the source and collecting"
        c.delete_object(Bucket=b2, Key="copy")
        gc_now(srv)
        assert chunk_stats(srv)[0] == with_src, "one copy is left"
        assert get_bytes(c, b, "copy-same-bucket") == data
        c.delete_object(Bucket=b, Key="copy-same-bucket")
        gc_now(srv)
        assert chunk_stats(srv) == (base, 0), "all copies deleted: the chunks are collected"


def test_delete_source_keeps_small_copy(srv):
    c = srv.client()
    b = new_bucket(c, "smalldel")
    for key, body in [("inline", b"tiny"), ("chunked", os.urandom(400 * 1024))]:
        c.put_object(Bucket=b, Key=key, Body=body)
        c.copy_object(Bucket=b, Key=key + "-copy", CopySource={"Bucket": b, "Key": key})
        c.delete_object(Bucket=b, Key=key)
        if not srv.external:
            gc_now(srv)
        assert get_bytes(c, b, key + "-copy") == body, key
        # overwriting the copy's source key does not change the copy
        c.put_object(Bucket=b, Key=key, Body=b"new content")
        assert get_bytes(c, b, key + "-copy") == body, key


if __name__ == "__main__":
    run_tests(globals(), setup=lambda: Server())
